"""Transforms: small callables applied to each example as the dataset hands it out.

The same four names as ``torchvision.transforms``, so MNIST scripts port unchanged::

    transform = Compose([ToTensor(), Normalize((0.1307,), (0.3081,))])
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..ops import from_numpy, tensor


class Compose:
    """Apply ``transforms`` one after the other.

    Examples::

        >>> Compose([Lambda(lambda x: x + 1), Lambda(lambda x: 2 * x)])(3)
        8
    """

    def __init__(self, transforms: Sequence[Callable[[Any], Any]]):
        self.transforms = list(transforms)

    def __call__(self, x: Any) -> Any:
        for t in self.transforms:
            x = t(x)
        return x

    def __repr__(self) -> str:
        lines = "".join(f"\n    {t}" for t in self.transforms)
        return f"{type(self).__name__}({lines}\n)"


class ToTensor:
    """Convert an image (``H x W`` or ``H x W x C`` numpy array, or a PIL image) to a float32
    tensor of shape ``C x H x W``. uint8 pixels are scaled from 0..255 to [0.0, 1.0]; other
    dtypes keep their values (as torchvision does).

    Examples::

        >>> ToTensor()(np.full((2, 2), 255, dtype=np.uint8)).tolist()
        [[[1.0, 1.0], [1.0, 1.0]]]
    """

    def __call__(self, pic: Any) -> Any:
        a = np.asarray(pic)
        if a.ndim == 2:
            a = a[:, :, None]
        if a.ndim != 3:
            raise ValueError(f"ToTensor expects an H x W or H x W x C image, got shape {a.shape}")
        a = a.transpose(2, 0, 1)
        a = a.astype(np.float32) / 255.0 if a.dtype == np.uint8 else a.astype(np.float32)
        return from_numpy(np.ascontiguousarray(a))

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class Normalize:
    """Per-channel ``(x - mean[c]) / std[c]`` on a ``C x H x W`` (or ``... x C x H x W``) tensor.

    Args:
        mean: one mean per channel.
        std: one standard deviation per channel.

    Examples::

        >>> Normalize((0.5,), (0.5,))(tt.ones(1, 1, 2)).tolist()
        [[[1.0, 1.0]]]
    """

    def __init__(self, mean: Sequence[float], std: Sequence[float]):
        self.mean = [float(m) for m in mean]
        self.std = [float(s) for s in std]
        if any(s == 0 for s in self.std):
            raise ValueError(f"std evaluated to zero after conversion to float, leading to division by zero: {std}")

    def __call__(self, x: Any) -> Any:
        if x.ndim < 3:
            raise ValueError(f"Normalize expects a tensor of shape (..., C, H, W), got {x.shape}")
        mean = tensor(self.mean, dtype=x.dtype, device=x.device).reshape(-1, 1, 1)
        std = tensor(self.std, dtype=x.dtype, device=x.device).reshape(-1, 1, 1)
        return (x - mean) / std

    def __repr__(self) -> str:
        return f"{type(self).__name__}(mean={self.mean}, std={self.std})"


class Lambda:
    """Wrap any function as a transform: ``Lambda(lambda x: x.flatten())``."""

    def __init__(self, fn: Callable[[Any], Any]):
        if not callable(fn):
            raise TypeError(f"Argument lambd should be callable, got {type(fn).__name__}")
        self.fn = fn

    def __call__(self, x: Any) -> Any:
        return self.fn(x)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"
