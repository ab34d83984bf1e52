"""``repr(tensor)`` in PyTorch's format: ``tensor([1.0000, 2.5000], requires_grad=True)``.

Floats are printed with 4 decimals, or as ``1.`` when every value is an integer, or in
scientific notation when the magnitudes span more than 1000x (or exceed 1e8, or go below
1e-4); all values are padded to one width. Tensors over 1000 elements are summarised.
:func:`set_printoptions` changes these numbers, as in PyTorch.
"""

from __future__ import annotations

import math
import sys
from typing import Any, Callable

import numpy as np

from .ndarray.dtypes import DType, bool_, float32, int64

#: (precision, threshold, edgeitems, linewidth) of each ``set_printoptions`` profile
_PROFILES = {"default": (4, 1000, 3, 80), "short": (2, 1000, 2, 80), "full": (4, sys.maxsize, 3, 80)}


class _PrintOptions:
    """What :func:`set_printoptions` sets (PyTorch's defaults); one setting for the process."""

    precision, threshold, edgeitems, linewidth = _PROFILES["default"]
    sci_mode: bool | None = None  # None: decide from the values (see the module docstring)


_options = _PrintOptions()


def set_printoptions(precision: int | None = None, threshold: float | None = None, edgeitems: int | None = None,
                     linewidth: int | None = None, profile: str | None = None, sci_mode: bool | None = None) -> None:
    """``torch.set_printoptions``: digits after the point, the element count above which a tensor
    is summarised, how many items each end of a summarised dimension shows, the line width, a
    ``profile`` (``"default"``, ``"short"``, ``"full"``) setting all four, and ``sci_mode``
    (True / False forces scientific / fixed notation; None decides from the values)."""
    if profile is not None:
        if profile not in _PROFILES:
            raise ValueError(f"unknown print profile {profile!r}; expected one of {sorted(_PROFILES)}")
        _options.precision, _options.threshold, _options.edgeitems, _options.linewidth = _PROFILES[profile]
    for name, value in (("precision", precision), ("threshold", threshold), ("edgeitems", edgeitems),
                        ("linewidth", linewidth)):
        if value is not None:
            setattr(_options, name, value)
    _options.sci_mode = sci_mode


def _float_formatter(values: np.ndarray) -> Callable[[Any], str]:
    finite = values[np.isfinite(values) & (values != 0)]
    sci, int_mode = False, True
    if finite.size:
        magnitudes = np.abs(finite).astype(np.float64)
        lo, hi = magnitudes.min(), magnitudes.max()
        int_mode = bool(np.all(np.ceil(finite) == finite))
        sci = hi / lo > 1000.0 or hi > 1.0e8 or (not int_mode and lo < 1.0e-4)
    if _options.sci_mode is not None:
        sci = _options.sci_mode
    digits = _options.precision

    def text(v: float) -> str:
        if sci:
            return f"{v:.{digits}e}"
        if int_mode:
            return f"{v:.0f}" + ("" if math.isinf(v) or math.isnan(v) else ".")
        return f"{v:.{digits}f}"

    width = max((len(text(float(v))) for v in finite), default=1)

    def fmt(v: Any) -> str:
        return text(float(v)).rjust(width)

    return fmt


def _plain_formatter(values: np.ndarray) -> Callable[[Any], str]:
    width = max((len(str(v)) for v in values.reshape(-1).tolist()), default=1)
    return lambda v: str(v.item() if hasattr(v, "item") else v).rjust(width)


def format_tensor(values: np.ndarray, device: str, dtype: DType, grad_fn: str | None, requires_grad: bool) -> str:
    """PyTorch's ``repr`` of a tensor holding ``values`` (a numpy array), made on ``device`` with
    ``dtype``; ``grad_fn`` is the name of the node that made it (None for a leaf)."""
    prefix = "tensor("
    if values.size == 0:
        body = "[]"
    else:
        fmt = _float_formatter(values) if dtype.is_floating_point else _plain_formatter(values)
        body = np.array2string(values, separator=", ", prefix=prefix, formatter={"all": fmt},
                               threshold=_options.threshold, edgeitems=_options.edgeitems,
                               max_line_width=_options.linewidth + 1)
    extras = []
    if values.size == 0 and values.shape != (0,):
        extras.append(f"size={values.shape}")
    if device != "cpu":
        extras.append(f"device='{device}'")
    if dtype not in (float32, int64, bool_) or (values.size == 0 and dtype is not float32):
        extras.append(f"dtype=tinytorch.{dtype.name}")
    if grad_fn is not None:
        extras.append(f"grad_fn=<{grad_fn}>")
    elif requires_grad:
        extras.append("requires_grad=True")
    return prefix + ", ".join([body] + extras) + ")"
