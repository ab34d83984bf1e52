"""Padding layers, the module forms of ``F.pad``: ``ConstantPad``, ``ZeroPad``, ``ReflectionPad``,
``ReplicationPad``, ``CircularPad`` for 1, 2 or 3 spatial dims. ``padding`` is an int (every
side) or a tuple in ``F.pad``'s order: (left, right[, top, bottom[, front, back]])."""

from __future__ import annotations

from typing import Any

from . import functional as F
from .module import Module


class _PadNd(Module):
    _nd = 1
    _mode = "constant"

    def __init__(self, padding: Any, value: float = 0.0):
        super().__init__()
        self.padding = (padding,) * (2 * self._nd) if isinstance(padding, int) else tuple(padding)
        if len(self.padding) != 2 * self._nd:
            raise ValueError(f"{type(self).__name__} expects an int or a tuple of {2 * self._nd} ints, "
                             f"got {padding!r}")
        self.value = value

    def forward(self, input: Any) -> Any:
        if self._mode == "constant":
            return F.pad(input, self.padding, "constant", self.value)
        return F.pad(input, self.padding, self._mode)

    def extra_repr(self) -> str:
        return f"{self.padding}"


class _ConstantPadNd(_PadNd):
    def __init__(self, padding: Any, value: float):
        super().__init__(padding, value)

    def extra_repr(self) -> str:
        return f"padding={self.padding}, value={self.value}"


class ConstantPad1d(_ConstantPadNd):
    """Pad the last dim with ``value``. Example: ``ConstantPad1d(2, 3.5)(x)``."""

    _nd = 1


class ConstantPad2d(_ConstantPadNd):
    """Pad the last two dims with ``value``."""

    _nd = 2


class ConstantPad3d(_ConstantPadNd):
    """Pad the last three dims with ``value``."""

    _nd = 3


class _ZeroPadNd(_PadNd):
    def __init__(self, padding: Any):
        super().__init__(padding, 0.0)


class ZeroPad1d(_ZeroPadNd):
    """Pad the last dim with zeros."""

    _nd = 1


class ZeroPad2d(_ZeroPadNd):
    """Pad the last two dims with zeros.

    Examples::

        >>> import tinytorch as tt
        >>> ZeroPad2d((1, 0, 0, 1))(tt.ones(1, 1, 1, 1)).tolist()
        [[[[0.0, 1.0], [0.0, 0.0]]]]
    """

    _nd = 2


class ZeroPad3d(_ZeroPadNd):
    """Pad the last three dims with zeros."""

    _nd = 3


class ReflectionPad1d(_ZeroPadNd):
    """Pad the last dim with its reflection about the edge elements (each amount below the size).

    Examples::

        >>> import tinytorch as tt
        >>> ReflectionPad1d(2)(tt.tensor([[[1., 2., 3.]]])).tolist()
        [[[3.0, 2.0, 1.0, 2.0, 3.0, 2.0, 1.0]]]
    """

    _nd, _mode = 1, "reflect"


class ReflectionPad2d(_ZeroPadNd):
    """Pad the last two dims with their reflection about the edges."""

    _nd, _mode = 2, "reflect"


class ReflectionPad3d(_ZeroPadNd):
    """Pad the last three dims with their reflection about the edges."""

    _nd, _mode = 3, "reflect"


class ReplicationPad1d(_ZeroPadNd):
    """Pad the last dim by repeating its edge elements.

    Examples::

        >>> import tinytorch as tt
        >>> ReplicationPad1d((1, 2))(tt.tensor([[[1., 2.]]])).tolist()
        [[[1.0, 1.0, 2.0, 2.0, 2.0]]]
    """

    _nd, _mode = 1, "replicate"


class ReplicationPad2d(_ZeroPadNd):
    """Pad the last two dims by repeating their edge elements."""

    _nd, _mode = 2, "replicate"


class ReplicationPad3d(_ZeroPadNd):
    """Pad the last three dims by repeating their edge elements."""

    _nd, _mode = 3, "replicate"


class CircularPad1d(_ZeroPadNd):
    """Pad the last dim by wrapping around (the end before the start, the start after the end).

    Examples::

        >>> import tinytorch as tt
        >>> CircularPad1d(1)(tt.tensor([[[1., 2., 3.]]])).tolist()
        [[[3.0, 1.0, 2.0, 3.0, 1.0]]]
    """

    _nd, _mode = 1, "circular"


class CircularPad2d(_ZeroPadNd):
    """Pad the last two dims by wrapping around."""

    _nd, _mode = 2, "circular"


class CircularPad3d(_ZeroPadNd):
    """Pad the last three dims by wrapping around."""

    _nd, _mode = 3, "circular"
