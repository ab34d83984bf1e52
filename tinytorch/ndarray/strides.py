"""Stride arithmetic: pure functions from (shape, strides, offset) to a new view.

These are the heart of chapter 2. None of them touches memory: each takes the metadata
of a view and returns the metadata of another view of the *same* buffer, or says that no
such view exists. Strides and offsets are counted in **elements**, not bytes.

Contract shared by every function: arguments are tuples of Python ints; results are new
tuples; invalid requests raise ``ValueError``/``IndexError``/``RuntimeError`` with the
values named, never return a wrong view.
"""

from __future__ import annotations

import functools
import operator
from typing import Any, Sequence

from .interface import Shape, Strides, prod

Index = tuple[int, ...]


def row_major_strides(shape: Shape) -> Strides:
    """Strides of a compact row-major array: the last axis moves by 1.

    >>> row_major_strides((2, 3, 4))
    (12, 4, 1)
    """
    return _row_major(tuple(shape))


@functools.lru_cache(maxsize=4096)  # a program's arrays have a few hundred shapes, each asked for often
def _row_major(shape: Shape) -> Strides:
    strides = []
    step = 1
    for n in reversed(shape):
        strides.append(step)
        step *= max(n, 1)
    return tuple(reversed(strides))


def is_compact(shape: Shape, strides: Strides) -> bool:
    """True when a view with ``strides`` walks its elements in row-major order with no gaps.

    Axes of length 1 may have any stride (they are never stepped over), and an empty array
    is always compact.
    """
    if prod(shape) == 0:
        return True
    expected = 1
    for n, st in zip(reversed(shape), reversed(strides)):
        if n != 1 and st != expected:
            return False
        expected *= n
    return True


def flat_offset(index: Index, strides: Strides, offset: int = 0) -> int:
    """The buffer position of element ``index``: ``offset + sum(i * s)``.

    >>> flat_offset((1, 2), (3, 1))
    5
    """
    return offset + sum(i * s for i, s in zip(index, strides))


def normalize_axis(axis: int, ndim: int) -> int:
    """Turn a possibly negative axis into ``0 <= axis < ndim`` or raise ``IndexError``."""
    try:
        axis = operator.index(axis)
    except TypeError:
        raise TypeError(f"axis must be an int, got {type(axis).__name__}") from None
    if not -ndim <= axis < ndim:
        raise IndexError(f"axis {axis} is out of range for an array of {ndim} dimensions "
                         f"(expected to be in range [{-ndim}, {ndim - 1}])")
    return axis + ndim if axis < 0 else axis


def normalize_axes(axis: int | Sequence[int] | None, ndim: int) -> tuple[int, ...]:
    """``None`` → all axes; an int or a sequence → sorted, normalised, duplicates rejected."""
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, (list, tuple)):
        axes = tuple(normalize_axis(a, ndim) for a in axis)
    else:
        axes = (normalize_axis(axis, ndim),)  # type: ignore[arg-type]
    if len(set(axes)) != len(axes):
        raise ValueError(f"repeated axis in {axis}")
    return tuple(sorted(axes))


# --- broadcasting --------------------------------------------------------------------------
def broadcast_shapes(*shapes: Shape) -> Shape:
    """The shape every input broadcasts to (numpy/PyTorch rules), or ``RuntimeError``.

    Shapes are aligned on the right; two sizes match when equal or when one of them is 1.

    >>> broadcast_shapes((3, 1), (4,))
    (3, 4)
    """
    ndim = max((len(s) for s in shapes), default=0)
    result = []
    for i in range(-ndim, 0):
        size = 1
        for s in shapes:
            n = s[i] if -i <= len(s) else 1
            if n != 1:
                if size not in (1, n):
                    raise RuntimeError(f"shapes {' and '.join(map(str, shapes))} cannot be broadcast together")
                size = n
        result.append(size)
    return tuple(result)


def broadcast_strides(shape: Shape, strides: Strides, new_shape: Shape) -> Strides:
    """Strides that show a view of ``shape`` as ``new_shape``: stride 0 along broadcast axes.

    Raises ``RuntimeError`` if ``shape`` cannot broadcast to ``new_shape``.

    >>> broadcast_strides((3, 1), (1, 1), (2, 3, 4))
    (0, 1, 0)
    """
    if len(new_shape) < len(shape):
        raise RuntimeError(f"cannot broadcast shape {shape} to {new_shape}: target has fewer dimensions")
    lead = len(new_shape) - len(shape)
    out = [0] * lead
    for n, st, target in zip(shape, strides, new_shape[lead:]):
        if n == target:
            out.append(st)
        elif n == 1:
            out.append(0)
        else:
            raise RuntimeError(f"cannot broadcast shape {shape} to {new_shape}")
    return tuple(out)


# --- permute, reshape, flip -------------------------------------------------------------------
def permute_view(shape: Shape, strides: Strides, axes: Sequence[int]) -> tuple[Shape, Strides]:
    """Reorder the axes: new axis ``i`` is old axis ``axes[i]``.

    >>> permute_view((2, 3), (3, 1), (1, 0))
    ((3, 2), (1, 3))
    """
    ndim = len(shape)
    if len(axes) != ndim:
        raise ValueError(f"permute needs {ndim} axes for shape {shape}, got {tuple(axes)}")
    axes = [normalize_axis(a, ndim) for a in axes]
    if sorted(axes) != list(range(ndim)):
        raise ValueError(f"axes {tuple(axes)} are not a permutation of {tuple(range(ndim))}")
    return tuple(shape[a] for a in axes), tuple(strides[a] for a in axes)


def infer_shape(size: int, shape: Sequence[int]) -> Shape:
    """Resolve a single ``-1`` in a reshape target so that the sizes match.

    >>> infer_shape(12, (3, -1))
    (3, 4)
    """
    shape = tuple(operator.index(s) for s in shape)
    if -1 not in shape and prod(shape) == size and all(s >= 0 for s in shape):  # the usual case
        return shape
    unknown = [i for i, s in enumerate(shape) if s == -1]
    if len(unknown) > 1:
        raise RuntimeError(f"only one dimension can be inferred, got shape {shape}")
    if any(s < -1 for s in shape):
        raise RuntimeError(f"invalid shape dimension in {shape}")
    known = prod(s for s in shape if s != -1)
    if unknown:
        if known == 0 or size % known:
            raise RuntimeError(f"shape {shape} is invalid for input of size {size}")
        shape = shape[: unknown[0]] + (size // known,) + shape[unknown[0] + 1:]
    if prod(shape) != size:
        raise RuntimeError(f"shape {shape} is invalid for input of size {size}")
    return shape


def reshape_view(shape: Shape, strides: Strides, new_shape: Shape) -> Strides | None:
    """Strides that show the same elements (in row-major order) with ``new_shape``, or None.

    A view exists when each group of old axes that merges into (or splits into) new axes is
    itself contiguous: inside the group, each axis steps over exactly the next one. Axes of
    size 1 are ignored. None means the caller must ``compact()`` first.

    >>> reshape_view((2, 6), (6, 1), (3, 4))
    (4, 1)
    >>> reshape_view((3, 2), (1, 3), (6,)) is None   # a transpose cannot be flattened
    True
    """
    size = prod(shape)
    if size != prod(new_shape):
        raise RuntimeError(f"cannot reshape {shape} into {new_shape}: sizes differ")
    if size == 0 or row_major_strides(shape) == tuple(strides):  # a compact array: any shape is a view
        return row_major_strides(new_shape)
    old = [(n, s) for n, s in zip(shape, strides) if n != 1]
    new_strides = [0] * len(new_shape)
    new_dims = [i for i, n in enumerate(new_shape) if n != 1]
    oi = ni = 0
    while oi < len(old) and ni < len(new_dims):
        # grow one group of old axes and one of new axes until their sizes agree
        o_end, n_end = oi + 1, ni + 1
        o_size, n_size = old[oi][0], new_shape[new_dims[ni]]
        while o_size != n_size:
            if o_size < n_size:
                o_size *= old[o_end][0]
                o_end += 1
            else:
                n_size *= new_shape[new_dims[n_end]]
                n_end += 1
        for k in range(oi, o_end - 1):  # the old group must be contiguous within itself
            if old[k][1] != old[k + 1][1] * old[k + 1][0]:
                return None
        step = old[o_end - 1][1]
        for k in range(n_end - 1, ni - 1, -1):
            new_strides[new_dims[k]] = step
            step *= new_shape[new_dims[k]]
        oi, ni = o_end, n_end
    for i in reversed(range(len(new_shape))):  # size-1 axes: any stride works; use row-major's
        if new_shape[i] == 1:
            new_strides[i] = new_strides[i + 1] * new_shape[i + 1] if i + 1 < len(new_shape) else 1
    return tuple(new_strides)


def flip_view(shape: Shape, strides: Strides, offset: int, axes: Sequence[int]) -> tuple[Strides, int]:
    """Reverse the given axes: negate their strides and start at their last element.

    >>> flip_view((4,), (1,), 0, (0,))
    ((-1,), 3)
    """
    new_strides = list(strides)
    for a in normalize_axes(tuple(axes), len(shape)):
        if shape[a] > 0:
            offset += (shape[a] - 1) * strides[a]
        new_strides[a] = -strides[a]
    return tuple(new_strides), offset


# --- basic indexing ------------------------------------------------------------------------------
def slice_view(n: int, stride: int, s: slice) -> tuple[int, int, int]:
    """Apply one slice to an axis of length ``n``: returns (new length, new stride, offset shift).

    >>> slice_view(10, 1, slice(8, 2, -2))   # elements 8, 6, 4
    (3, -2, 8)
    """
    start, stop, step = s.indices(n)
    length = len(range(start, stop, step))
    return length, stride * step, (start * stride if length else 0)


def expand_key(key: Any, ndim: int) -> list[Any]:
    """Normalise an indexing key to a list with ``...`` expanded and one entry per axis
    (plus ``None`` entries, which add axes). Missing trailing axes become ``slice(None)``."""
    if not isinstance(key, tuple):
        key = (key,)
    n_ellipsis = sum(1 for k in key if k is Ellipsis)
    if n_ellipsis > 1:
        raise IndexError("an index can only have a single ellipsis ('...')")
    consumed = sum(_axes_consumed(k) for k in key)
    if consumed > ndim:
        raise IndexError(f"too many indices for an array of {ndim} dimensions: {consumed} were given")
    out: list[Any] = []
    for k in key:
        if k is Ellipsis:
            out.extend([slice(None)] * (ndim - consumed))
        else:
            out.append(k)
    if not n_ellipsis:
        out.extend([slice(None)] * (ndim - consumed))
    return out


def _axes_consumed(k: Any) -> int:
    if k is None or k is Ellipsis or isinstance(k, bool):
        return 0
    ndim = getattr(k, "ndim", None)
    dtype = getattr(k, "dtype", None)
    if ndim is not None and str(dtype).endswith("bool"):
        return max(ndim, 1)  # a boolean mask consumes as many axes as it has
    return 1


def index_view(shape: Shape, strides: Strides, offset: int, key: Sequence[Any]) -> tuple[Shape, Strides, int]:
    """Apply an expanded basic key (ints, slices, None) to a view; never copies.

    Ints drop their axis (negative ints count from the end); slices keep it; ``None``
    and ``True`` insert a new axis of length 1, ``False`` one of length 0 (a 0-d mask, as
    numpy and PyTorch read a bool: ``x[True]`` is ``x[None]``, ``x[False]`` selects nothing).

    >>> index_view((4, 5), (5, 1), 0, [1, slice(None, None, 2)])
    ((3,), (2,), 5)
    """
    new_shape: list[int] = []
    new_strides: list[int] = []
    axis = 0
    for k in key:
        if k is None or isinstance(k, bool):
            new_shape.append(0 if k is False else 1)
            new_strides.append(0)
            continue
        n, st = shape[axis], strides[axis]
        if isinstance(k, slice):
            if k.step == 0:
                raise ValueError("slice step cannot be zero")
            length, new_st, shift = slice_view(n, st, k)
            new_shape.append(length)
            new_strides.append(new_st)
            offset += shift
        else:
            i = operator.index(k)
            if not -n <= i < n:
                raise IndexError(f"index {i} is out of bounds for axis {axis} with size {n}")
            offset += (i + n if i < 0 else i) * st
        axis += 1
    return tuple(new_shape), tuple(new_strides), offset


# --- bounds ------------------------------------------------------------------------------------------
def check_view(buf_size: int, shape: Shape, strides: Strides, offset: int) -> int:
    """Check that every element of the view lies inside a buffer of ``buf_size`` elements and
    return the number of elements of the view. Every backend calls this before it reads or
    writes through a view.

    Raises ``ValueError`` for a malformed view (shape and strides of different lengths, a
    negative dimension) and ``IndexError`` for one that reaches outside ``[0, buf_size)``. An
    empty view reaches nothing and always passes. The arithmetic is exact: numpy integers are
    turned into Python ints first, so a huge stride cannot wrap around into range. An axis of
    length 1 is never stepped along, so its stride may be anything.

    >>> check_view(12, (3, 4), (4, 1), 0)
    12
    >>> check_view(12, (3, 4), (1, 3), 1)   # a transpose that starts one element too late
    Traceback (most recent call last):
    ...
    IndexError: view (shape=(3, 4), strides=(1, 3), offset=1) reaches elements [1, 12] outside a buffer of 12
    """
    if len(shape) != len(strides):
        raise ValueError(f"shape {tuple(shape)} and strides {tuple(strides)} have different lengths")
    if type(offset) is not int:
        offset = operator.index(offset)
    size, lo, hi = 1, offset, offset
    for n, s in zip(shape, strides):
        if type(n) is not int or type(s) is not int:  # the fast path takes plain ints only
            n, s = operator.index(n), operator.index(s)
        if n < 0:
            raise ValueError(f"negative dimension in shape {tuple(map(operator.index, shape))}")
        size *= n
        if s > 0:
            hi += (n - 1) * s
        else:
            lo += (n - 1) * s
    if size and (lo < 0 or hi >= buf_size):
        shape, strides = tuple(map(operator.index, shape)), tuple(map(operator.index, strides))
        raise IndexError(f"view (shape={shape}, strides={strides}, offset={offset}) reaches elements "
                         f"[{lo}, {hi}] outside a buffer of {buf_size}")
    return size


def conv_geometry(name: str, geometry: Any) -> tuple[int, ...]:
    """The 16 ints of a convolution's geometry ``(n, c, h, w, o, kh, kw, oh, ow, sh, sw, ph, pw,
    dh, dw, groups)`` (see the backend interface's ``conv2d``), checked the same way by every
    backend: positive sizes, strides, dilations and groups, paddings >= 0, channels divisible by
    the groups, and the output size PyTorch's formula gives (ValueError naming them otherwise)."""
    geom = tuple(operator.index(v) for v in geometry)
    if len(geom) != 16:
        raise ValueError(f"{name}: the geometry has 16 entries, got {len(geom)}")
    n, c, h, w, o, kh, kw, oh, ow, sh, sw, ph, pw, dh, dw, groups = geom
    if min(n, c, h, w, o, kh, kw, sh, sw, dh, dw, groups) < 1 or min(ph, pw) < 0 or c % groups or o % groups:
        raise ValueError(f"{name}: sizes, strides, dilations and groups must be >= 1, padding >= 0 and the "
                         f"channels divisible by the groups, got {geom}")
    if (oh, ow) != ((h + 2 * ph - dh * (kh - 1) - 1) // sh + 1, (w + 2 * pw - dw * (kw - 1) - 1) // sw + 1) \
            or min(oh, ow) < 1:
        raise ValueError(f"{name}: output size {(oh, ow)} does not fit the geometry {geom}")
    return geom
