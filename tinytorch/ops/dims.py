"""Argument normalisation shared by the ops: dims in PyTorch's dialect, sizes given as varargs.

PyTorch says ``dim``/``keepdim`` and accepts ``x.reshape(2, 3)`` as well as ``x.reshape((2, 3))``;
these helpers turn both into the tuples the NDArray layer takes, with PyTorch's errors
(:func:`torch_type_name` spells a dtype as PyTorch's messages do).
"""

from __future__ import annotations

import operator
from typing import Any

Shape = tuple[int, ...]


def normalize_dim(dim: Any, ndim: int) -> int:
    """``dim`` as an index in ``[0, ndim)``; a 0-d tensor accepts -1 and 0 (as in PyTorch).

    Raises ``IndexError`` naming the valid range, ``TypeError`` for a non-integer.
    """
    try:
        d = operator.index(dim)
    except TypeError:
        raise TypeError(f"dim must be an int, got {type(dim).__name__}") from None
    n = max(ndim, 1)
    if not -n <= d < n:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-n}, {n - 1}], but got {d})")
    return d + n if d < 0 else d


def normalize_dims(dim: Any, ndim: int, empty_means_all: bool = True) -> tuple[int, ...]:
    """``None`` → every dim; an int or a sequence → sorted dims, repeats rejected.

    An empty sequence means every dim for the reductions (``sum(x, dim=())``, as PyTorch) and
    no dim at all for the ops that pass ``empty_means_all=False`` (``flip(x, [])`` and
    ``squeeze(x, ())`` change nothing, as PyTorch)."""
    if dim is None or (empty_means_all and isinstance(dim, (tuple, list)) and len(dim) == 0):
        return tuple(range(ndim))
    dims = [dim] if not isinstance(dim, (tuple, list)) else list(dim)
    out = sorted({normalize_dim(d, ndim) for d in dims})
    if len(out) != len(dims):
        raise RuntimeError(f"dim {dims} appears multiple times in the list of dims")
    return tuple(d for d in out if d < ndim)  # a 0-d tensor has no dim to reduce


def size_arg(size: tuple) -> Shape:
    """A shape from varargs: ``f(2, 3)``, ``f((2, 3))`` and ``f([2, 3])`` all give ``(2, 3)``."""
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    try:
        return tuple(operator.index(s) for s in size)
    except TypeError:
        raise TypeError(f"size must be a sequence of ints, got {size!r}") from None


_TORCH_TYPE_NAMES = {"float32": "Float", "float64": "Double", "int64": "Long", "bool": "Bool"}


def torch_type_name(dtype: Any) -> str:
    """The name PyTorch's error messages give ``dtype`` (``Long`` for int64, ``Float`` for float32)."""
    return _TORCH_TYPE_NAMES.get(dtype.name, dtype.name)
