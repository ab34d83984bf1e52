"""Movement and indexing ops: views in forward, the inverse view (or a scatter) in backward.

Primitives: ``Reshape``, ``Permute``, ``Expand``, ``Flip`` (views: no copy), ``Index`` and its
adjoint ``IndexBackward`` (gather and scatter-add), ``Cat``, and the copies ``Clone`` and
``ToDevice``. ``squeeze``, ``unsqueeze``, ``flatten``, ``transpose``, ``stack``,
``split``, ``gather``… are compositions of these.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import numbers
import operator
import threading
from typing import Any, Iterator, Sequence

import numpy as np

from ..ndarray import NDArray, array, as_dtype, empty, index_in_range, promote_types, zeros
from ..ndarray import device as as_device
from ..ndarray import full as nd_full
from ..ndarray.dtypes import DType, bool_, float32, float64, int64
from ..ndarray.strides import broadcast_shapes, expand_key, infer_shape, reshape_view
from ..tensor import Function, Tensor, announce_masks, is_grad_enabled
from .dims import normalize_dim, normalize_dims, size_arg
from .elementwise import Cast, where
from .table import exports, op


# --- views ---------------------------------------------------------------------------------------
class Reshape(Function):
    def forward(self, a: NDArray, shape: tuple[int, ...]) -> NDArray:
        self.in_shape = a.shape
        return a.reshape(shape)

    def backward(self, g: Tensor) -> Tensor: return Reshape.apply(g, shape=self.in_shape)


class Permute(Function):
    def forward(self, a: NDArray, dims: tuple[int, ...]) -> NDArray:
        self.dims = dims
        return a.permute(dims)

    def backward(self, g: Tensor) -> Tensor:  # the inverse permutation: where each axis went
        return Permute.apply(g, dims=tuple(sorted(range(len(self.dims)), key=self.dims.__getitem__)))


class Expand(Function):
    """Broadcast to a larger shape (stride 0: no copy)."""

    def forward(self, a: NDArray, shape: tuple[int, ...]) -> NDArray: return a.broadcast_to(shape)
    def backward(self, g: Tensor) -> Tensor: return g  # the engine sums it back to the input's shape


class Flip(Function):
    def forward(self, a: NDArray, dims: tuple[int, ...]) -> NDArray:
        self.dims = dims
        return a.flip(dims)

    def backward(self, g: Tensor) -> Tensor: return Flip.apply(g, dims=self.dims)


# --- indexing ----------------------------------------------------------------------------------------
class Index(Function):
    """``a[key]``: a view for basic keys, a gather for integer/boolean ones."""

    def forward(self, a: NDArray, key: Any) -> NDArray:
        self.shape, self.key = a.shape, key
        return a[key]

    def backward(self, g: Tensor) -> Any:  # a Tensor, or a PlacedGrad for the library's engine
        if _placing.on and not is_grad_enabled() and _is_basic(self.key):  # the engine places it
            return PlacedGrad(g, self.shape, self.key)
        return IndexBackward.apply(g, shape=self.shape, key=self.key)


class _Placing(threading.local):
    """Whether the backward pass now running takes :class:`PlacedGrad` results: only the
    library's engine does (``autograd._run_backward``, through :func:`placed_gradients`), so
    any other caller of ``node.backward`` -- a hand-written engine, as in lab 5 -- gets the
    Tensors the Function contract promises."""

    on = False


_placing = _Placing()


@contextlib.contextmanager
def placed_gradients(on: bool) -> Iterator[None]:
    """Let the backward of basic indexing return :class:`PlacedGrad` (``on``) inside the block."""
    prev, _placing.on = _placing.on, on
    try:
        yield
    finally:
        _placing.on = prev


class PlacedGrad:
    """The gradient "zeros of ``shape`` with ``grad`` written at the basic ``key``", not yet made:
    what the backward of a basic index (a slice, a row, a piece of ``split``) returns to the
    library's engine when the backward pass is not recorded. The engine writes it into the
    gradient it collects
    for the indexed tensor: when the pieces of a split come back, the first is written into
    zeros and the others are added into their slices -- one zero-filled array in all, instead
    of one per piece and the additions of those mostly-zero arrays."""

    __slots__ = ("grad", "shape", "key")

    def __init__(self, grad: Tensor, shape: tuple[int, ...], key: Any):
        self.grad, self.shape, self.key = grad, shape, key

    def dense(self) -> NDArray:
        """The gradient as an array: zeros with ``grad`` at ``key``."""
        out = zeros(self.shape, dtype=self.grad._data.dtype, device=self.grad._data.device)
        out[self.key] = self.grad._data
        return out

    def add_into(self, acc: NDArray) -> None:
        """Add the gradient into ``acc`` (of ``shape``) in place: only the slice at ``key`` changes."""
        acc[self.key].add_(self.grad._data)


class IndexBackward(Function):
    """The adjoint of ``Index``: zeros of the input's shape with ``g`` added at ``key``
    (scatter-add, so an element read twice gets both gradients)."""

    def forward(self, g: NDArray, shape: tuple[int, ...], key: Any) -> NDArray:
        self.key = key
        out = zeros(shape, dtype=g.dtype, device=g.device)
        if _is_basic(key):
            out[key] = g  # basic keys never select an element twice: a strided write is enough
        else:
            out.index_add_(key, g)
        return out

    def backward(self, gg: Tensor) -> Tensor: return Index.apply(gg, key=self.key)


def _is_basic(key: Any) -> bool:
    """A key of ints, slices, None, ... and at most one bool (two bools are two 0-d masks, which
    broadcast together as advanced indices do)."""
    keys = key if isinstance(key, tuple) else (key,)
    return (all(k is None or k is Ellipsis or isinstance(k, (slice, numbers.Integral)) for k in keys)
            and sum(isinstance(k, bool) for k in keys) <= 1)


def _nd_key(key: Any) -> Any:
    """An indexing key with every Tensor replaced by its NDArray. A slice's step must be
    positive, as PyTorch's (``ValueError``; the NDArray layer below allows negative steps, but
    a Tensor reverses with :func:`flip`)."""
    parts = key if isinstance(key, tuple) else (key,)
    for k in parts:
        if isinstance(k, slice) and k.step is not None and k.step <= 0:
            raise ValueError("step must be greater than zero")
    if isinstance(key, tuple):
        return tuple(k._data if isinstance(k, Tensor) else k for k in key)
    return key._data if isinstance(key, Tensor) else key


@op(function=False, method=False, operators=("__getitem__",))
def getitem(x: Tensor, key: Any) -> Tensor:
    """``x[key]`` with ints, slices (any step), None, ``...``, integer and boolean tensors."""
    masks = tuple(k for k in (key if isinstance(key, tuple) else (key,))
                  if isinstance(k, Tensor) and k.dtype is bool_ and k.ndim)
    if masks:
        announce_masks("indexing with a boolean mask", masks)
    key = _nd_key(key)
    split = split_ints_first(key, x.ndim)
    if split is not None:
        return Index.apply(Index.apply(x, key=split[0]), key=split[1])
    return Index.apply(x, key=key)


def split_ints_first(key: Any, ndim: int) -> tuple[tuple, tuple] | None:
    """PyTorch applies the plain ints of a key before its integer/boolean arrays; numpy (and
    NDArray) treat ints as arrays too, which moves dims differently: for ``x`` of shape
    (2, 3, 4), ``x[1, :, [0, 3]]`` has shape (3, 2) in PyTorch but (2, 3) in numpy.

    For a key that mixes both, returns the two keys to apply one after the other (ints
    first, as a view); otherwise None.
    """
    if _is_basic(key):
        return None
    entries = expand_key(key, ndim)
    ints = [isinstance(k, numbers.Integral) and not isinstance(k, bool) for k in entries]
    if not any(ints):
        return None
    first: list[Any] = []
    for k, is_int in zip(entries, ints):
        if is_int:
            first.append(k)
        elif k is not None and not isinstance(k, bool):  # an array consumes one dim, a mask one per mask dim
            first.extend([slice(None)] * _dims_consumed(k))
    return tuple(first), tuple(k for k, is_int in zip(entries, ints) if not is_int)


def _dims_consumed(k: Any) -> int:
    if isinstance(k, slice):
        return 1
    arr = k if isinstance(k, NDArray) else np.asarray(k)
    return max(arr.ndim, 1) if arr.dtype in (bool_, np.bool_) else 1


class Cat(Function):
    def forward(self, *arrays: NDArray, dim: int) -> NDArray:
        shape = list(arrays[0].shape)
        shape[dim] = sum(a.shape[dim] for a in arrays)
        dtype = arrays[0].dtype
        for a in arrays[1:]:
            dtype = promote_types(dtype, a.dtype)
        out = empty(shape, dtype=dtype, device=arrays[0].device)
        self.keys, start = [], 0
        for a in arrays:
            key = (slice(None),) * dim + (slice(start, start + a.shape[dim]),)
            out[key] = a
            self.keys.append(key)
            start += a.shape[dim]
        return out

    def backward(self, g: Tensor) -> tuple:
        return tuple(Index.apply(g, key=k) if need else None for k, need in zip(self.keys, self.needs_input_grad))


@op(method=False)
def cat(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    """Join tensors along an existing dim; all other sizes must match."""
    if isinstance(tensors, (list, tuple)) and not tensors:  # PyTorch's one ValueError of the family
        raise ValueError("cat(): expected a non-empty list of Tensors")
    tensors = _tensor_list(tensors, "cat")
    d = normalize_dim(dim, tensors[0].ndim)
    if tensors[0].ndim == 0:
        raise RuntimeError("zero-dimensional tensor (at position 0) cannot be concatenated")
    first = tensors[0].shape
    for i, t in enumerate(tensors[1:], 1):
        if t.device != tensors[0].device:
            raise RuntimeError(f"Expected all tensors to be on the same device, but found at least two devices, "
                               f"{tensors[0].device} and {t.device}!")
        if t.ndim != len(first):
            raise RuntimeError(f"Tensors must have same number of dimensions: got {len(first)} and {t.ndim}")
        for k, (n, m) in enumerate(zip(first, t.shape)):
            if k != d and n != m:
                raise RuntimeError(f"Sizes of tensors must match except in dimension {d}. Expected size {n} but got "
                                   f"size {m} for tensor number {i} in the list.")
    return Cat.apply(*tensors, dim=d)


@op(method=False)
def stack(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    """Join equal-shaped tensors along a new dim."""
    tensors = _tensor_list(tensors, "stack")
    for i, t in enumerate(tensors[1:], 1):
        if t.shape != tensors[0].shape:
            raise RuntimeError(f"stack expects each tensor to be equal size, but got {list(tensors[0].shape)} at "
                               f"entry 0 and {list(t.shape)} at entry {i}")
    d = normalize_dim(dim, tensors[0].ndim + 1)
    return cat([unsqueeze(t, d) for t in tensors], d)


def _tensor_list(tensors: Any, name: str) -> list[Tensor]:
    if isinstance(tensors, Tensor) or not isinstance(tensors, (list, tuple)):
        raise TypeError(f"{name}(): argument 'tensors' must be a tuple or list of Tensors, "
                        f"got {type(tensors).__name__}")
    if not tensors:
        raise RuntimeError(f"{name}(): expected a non-empty list of Tensors")
    for i, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise TypeError(f"{name}(): expected Tensor as element {i} in argument 0, but got {type(t).__name__}")
    return list(tensors)


# --- copies -------------------------------------------------------------------------------------------
class Clone(Function):
    def forward(self, a: NDArray) -> NDArray: return a.copy()
    def backward(self, g: Tensor) -> Tensor: return g


class ToDevice(Function):
    def forward(self, a: NDArray, device: Any) -> NDArray:
        self.source = a.device
        return a.to(device)

    def backward(self, g: Tensor) -> Tensor: return ToDevice.apply(g, device=self.source)


@op
def clone(x: Tensor) -> Tensor: return Clone.apply(x)


@op(function=False)
def contiguous(x: Tensor) -> Tensor:
    """``x`` itself if its elements lie in row-major order with no gaps, else a compact copy."""
    return x if x.is_contiguous() else Clone.apply(x)


@op(function=False)
def to(x: Tensor, *args: Any, dtype: Any = None, device: Any = None, non_blocking: bool = False,
       copy: bool = False) -> Tensor:
    """``x`` on another device and/or with another dtype (``x`` itself when nothing changes, unless
    ``copy``): ``x.to("cpu")``, ``x.to(tt.float64)``, ``x.to("cpu", tt.float64)``, ``x.to(other)``.
    ``non_blocking`` is accepted for PyTorch's signature: every copy here completes before it returns."""
    start = x
    for a in args:
        if isinstance(a, Tensor):
            device, dtype = a.device, a.dtype
        elif isinstance(a, DType) or a in (float, int, bool):
            dtype = a
        else:
            device = a
    if dtype is not None and as_dtype(dtype) is not x.dtype:
        x = Cast.apply(x, dtype=as_dtype(dtype))
    if device is not None and as_device(device) != x.device:
        x = ToDevice.apply(x, device=as_device(device))
    elif copy and x is start:
        x = Clone.apply(x)
    return x


_TYPE_NAMES = {float32: "torch.FloatTensor", float64: "torch.DoubleTensor", int64: "torch.LongTensor",
               bool_: "torch.BoolTensor"}  # PyTorch's legacy names for the CPU tensor types


@op(name="type", function=False)
def type_(x: Tensor, dtype: Any = None, non_blocking: bool = False) -> Any:
    """With no ``dtype``, PyTorch's name of ``x``'s type (``"torch.FloatTensor"`` for float32…);
    with one (a dtype or such a name), ``x`` converted to it, as ``x.to(dtype)``."""
    if dtype is None:
        return _TYPE_NAMES[x.dtype]
    if isinstance(dtype, str):
        by_name = {name: dt for dt, name in _TYPE_NAMES.items()}
        if dtype not in by_name:
            raise ValueError(f"invalid type: '{dtype}'")
        dtype = by_name[dtype]
    return to(x, dtype=dtype)


@op(function=False, grad=False)
def pin_memory(x: Tensor) -> Tensor:
    """``x`` itself: pinned host memory only speeds up copies to a GPU through CUDA's own
    allocator, which tinytorch's host buffers do not use (accepted so PyTorch programs run)."""
    return x


@op(name="float", function=False)
def to_float32(x: Tensor) -> Tensor: return to(x, dtype=float32)
@op(name="double", function=False)
def to_float64(x: Tensor) -> Tensor: return to(x, dtype=float64)
@op(name="long", function=False, grad=False)
def to_int64(x: Tensor) -> Tensor: return to(x, dtype=int64)
@op(name="bool", function=False, grad=False)
def to_bool(x: Tensor) -> Tensor: return to(x, dtype=bool_)
@op(function=False)
def cpu(x: Tensor) -> Tensor: return to(x, device="cpu")
@op(function=False)
def cuda(x: Tensor) -> Tensor: return to(x, device="cuda")
@op(function=False)
def type_as(x: Tensor, other: Tensor) -> Tensor: return to(x, dtype=other.dtype)


@op(method=False, grad=False)
def detach(x: Tensor) -> Tensor:
    """``x`` cut from the graph (shares its storage)."""
    return x.detach()


@op(method=False, grad=False)
def numel(x: Tensor) -> int:
    """The number of elements of ``x``."""
    return x.numel()


@op(function=False, grad=False)
def size(x: Tensor, dim: int | None = None) -> tuple[int, ...] | int:
    """The shape, or the length of dimension ``dim``."""
    if dim is None:
        return x.shape
    if not x.shape:
        raise IndexError(f"dimension specified as {dim} but tensor has no dimensions")
    return x.shape[normalize_dim(dim, x.ndim)]


@op(function=False, method=False, operators=("__iter__",), grad=False)
def iterate(x: Tensor) -> Iterator[Tensor]:
    """``iter(x)``: the sub-tensors along dim 0."""
    if not x.shape:
        raise TypeError("iteration over a 0-d tensor")
    return (getitem(x, i) for i in range(x.shape[0]))


# --- compositions of the views -----------------------------------------------------------------------
@op
def reshape(x: Tensor, *shape: Any) -> Tensor:
    """The same elements in a new shape (one size may be -1); a view when strides allow."""
    return Reshape.apply(x, shape=infer_shape(x.numel(), size_arg(shape)))


@op(function=False)
def view(x: Tensor, *shape: Any) -> Tensor:
    """Like :func:`reshape`, but raises instead of copying when no view can express it."""
    new_shape = infer_shape(x.numel(), size_arg(shape))
    if reshape_view(x.shape, x.stride(), new_shape) is None:  # stride(): one example's, inside vmap
        raise RuntimeError("view size is not compatible with input tensor's size and stride (at least one dimension "
                           "spans across two contiguous subspaces). Use .reshape(...) instead.")
    return Reshape.apply(x, shape=new_shape)


@op
def permute(x: Tensor, *dims: Any) -> Tensor:
    dims = size_arg(dims)
    if len(dims) != x.ndim:
        raise RuntimeError(f"permute(): number of dimensions in the tensor input does not match the length of the "
                           f"desired ordering of dimensions i.e. input.dim() = {x.ndim} is not equal to "
                           f"len(dims) = {len(dims)}")
    dims = tuple(normalize_dim(d, x.ndim) for d in dims)
    if len(set(dims)) != len(dims):
        raise RuntimeError("permute(): duplicate dims are not allowed.")
    return Permute.apply(x, dims=dims)


@op
def transpose(x: Tensor, dim0: int, dim1: int) -> Tensor:
    """Swap two dims (a view)."""
    if x.ndim == 0:
        normalize_dim(dim0, 0), normalize_dim(dim1, 0)
        return x
    dims = list(range(x.ndim))
    a, b = normalize_dim(dim0, x.ndim), normalize_dim(dim1, x.ndim)
    dims[a], dims[b] = dims[b], dims[a]
    return Permute.apply(x, dims=tuple(dims))


swapaxes = op(transpose, name="swapaxes")
swapdims = op(transpose, name="swapdims")


@op
def t(x: Tensor) -> Tensor:
    """Transpose a 2-D tensor (0-D and 1-D are returned as they are)."""
    if x.ndim > 2:
        raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is {x.ndim}D")
    return transpose(x, 0, 1) if x.ndim == 2 else x


@op(function=False)
def expand(x: Tensor, *sizes: Any) -> Tensor:
    """Broadcast to ``sizes`` without copying; -1 keeps a size; new dims go in front."""
    if not sizes:
        raise TypeError('expand() missing 1 required positional arguments: "size"')
    sizes = size_arg(sizes)
    lead = len(sizes) - x.ndim
    if lead < 0:
        raise RuntimeError(f"expand: the number of sizes provided ({len(sizes)}) must be greater or equal to the "
                           f"number of dimensions in the tensor ({x.ndim})")
    shape = list(sizes)
    for i, n in enumerate(sizes):
        old = x.shape[i - lead] if i >= lead else None
        if n < -1:
            raise RuntimeError(f"expand: invalid size {n} at dimension {i} (only -1, which keeps the existing "
                               f"size, may be negative); target sizes: {list(sizes)}")
        if n == -1:
            if old is None:
                raise RuntimeError(f"expand: -1 is not allowed in a leading, non-existing dimension {i}")
            shape[i] = old
        elif old is not None and old != 1 and old != n:
            raise RuntimeError(f"The expanded size of the tensor ({n}) must match the existing size ({old}) at "
                               f"non-singleton dimension {i}.  Target sizes: {list(sizes)}.  "
                               f"Tensor sizes: {list(x.shape)}")
    shape_t = tuple(shape)
    return x if shape_t == x.shape else Expand.apply(x, shape=shape_t)


@op
def broadcast_to(x: Tensor, shape: Sequence[int]) -> Tensor:
    return expand(x, tuple(shape))


@op
def flip(x: Tensor, *dims: Any) -> Tensor:
    """Reverse the order of elements along ``dims`` (a view with negative strides)."""
    dims_t = normalize_dims(size_arg(dims), x.ndim, empty_means_all=False)
    return Flip.apply(x, dims=dims_t) if dims_t else x


@op
def squeeze(x: Tensor, dim: Any = None) -> Tensor:
    """Remove dims of size 1 (all of them, or those in ``dim`` that have size 1)."""
    dims = range(x.ndim) if dim is None else normalize_dims(dim, x.ndim, empty_means_all=False)
    drop = {d for d in dims if x.shape[d] == 1}
    return Reshape.apply(x, shape=tuple(n for i, n in enumerate(x.shape) if i not in drop)) if drop else x


@op
def unsqueeze(x: Tensor, dim: int) -> Tensor:
    """Insert a dim of size 1 at position ``dim`` (in ``[-ndim-1, ndim]``)."""
    d = normalize_dim(dim, x.ndim + 1)
    return Reshape.apply(x, shape=x.shape[:d] + (1,) + x.shape[d:])


@op
def flatten(x: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """Merge dims ``start_dim..end_dim`` into one."""
    if x.ndim == 0:
        return Reshape.apply(x, shape=(1,))
    s, e = normalize_dim(start_dim, x.ndim), normalize_dim(end_dim, x.ndim)
    if s > e:
        raise RuntimeError("flatten() has invalid args: start_dim cannot come after end_dim")
    if s == e:
        return x
    return Reshape.apply(x, shape=x.shape[:s] + (math.prod(x.shape[s:e + 1]),) + x.shape[e + 1:])


@op
def split(x: Tensor, split_size_or_sections: Any, dim: int = 0) -> tuple[Tensor, ...]:
    """Pieces along ``dim``: of ``split_size`` each (the last may be smaller) or of the given sizes."""
    if x.ndim == 0:
        raise RuntimeError("split expects at least a 1-dimensional tensor")
    if isinstance(split_size_or_sections, numbers.Integral):
        step = int(split_size_or_sections)
        if step < 0:  # checked before the dim, as PyTorch
            raise RuntimeError(f"split expects split_size be non-negative, but got split_size={step}")
        d = normalize_dim(dim, x.ndim)
        n = x.shape[d]
        if step == 0 and n:
            raise RuntimeError(f"split_size can only be 0 if dimension size is 0, but got dimension size of {n}")
        sizes = [min(step, n - i) for i in range(0, n, step)] if n else [0]  # an empty dim: one empty piece
    else:
        d = normalize_dim(dim, x.ndim)
        n = x.shape[d]
        sizes = [operator.index(s) for s in split_size_or_sections]
        if any(s < 0 for s in sizes):
            raise RuntimeError(f"split_with_sizes expects split_sizes have only non-negative entries, but got "
                               f"split_sizes={sizes}")
        if sum(sizes) != n:
            raise RuntimeError(f"split_with_sizes expects split_sizes to sum exactly to {n} (input tensor's size at "
                               f"dimension {d}), but got split_sizes={sizes}")
    pieces, start = [], 0
    for size in sizes:
        pieces.append(getitem(x, (slice(None),) * d + (slice(start, start + size),)))
        start += size
    return tuple(pieces)


@op
def chunk(x: Tensor, chunks: int, dim: int = 0) -> tuple[Tensor, ...]:
    """At most ``chunks`` pieces of equal size (the last may be smaller) along ``dim``."""
    if chunks <= 0:
        raise RuntimeError(f"chunk expects `chunks` to be greater than 0, got: {chunks}")
    if x.ndim == 0:
        raise RuntimeError("chunk expects at least a 1-dimensional tensor")
    d = normalize_dim(dim, x.ndim)
    n = x.shape[d]
    if n == 0:  # PyTorch gives `chunks` empty pieces (the general rule below would give one)
        return split(x, [0] * chunks, d)
    return split(x, -(-n // chunks), dim)


@op
def gather(x: Tensor, dim: int, index: Tensor) -> Tensor:
    """``out[i][j][k] = x[i][index[i][j][k]][k]`` for ``dim=1`` (and likewise for any dim).
    An index outside ``[0, x.size(dim))`` raises ``RuntimeError``; negative ones do not wrap."""
    d = normalize_dim(dim, x.ndim)
    if not isinstance(index, Tensor) or index.dtype.is_floating_point:
        raise RuntimeError("gather(): Expected dtype int64 for index")
    if index.ndim != x.ndim:
        raise RuntimeError(f"Index tensor must have the same number of dimensions as input tensor: "
                           f"index shape {index.shape}, input shape {x.shape}")
    idx = checked_indices(index, x.shape[d] if x.ndim else 1, d, RuntimeError)
    # the key is built for index's logical shape and keeps index's own array (checked_indices
    # returns it unchanged when it is int64 without negatives): under vmap a batched index is
    # then recognised in the key and the Index rule reads each example with its own indices
    return Index.apply(x, key=along_dim_key(idx, d, index.shape))


def checked_indices(index: Tensor, size: int, dim: int | str, error: type, wrap: bool = False) -> NDArray:
    """The entries of ``index`` as int64, checked against ``[0, size)`` -- ``[-size, size)``,
    negatives counted from the end, when ``wrap`` -- before anything reads or writes with
    them; ``error`` (PyTorch's type for the op) names the first bad one and ``dim`` (a dim, or
    a description such as ``"embedding(): num_embeddings"``). ``x[i]`` counts a negative index
    from the end, but ``gather``, ``index_select``, ``embedding`` and the scatter family take
    none: PyTorch refuses one, and so does tinytorch rather than wrap it."""
    where_ = f"dimension {dim}" if isinstance(dim, int) else dim
    return index_in_range(index._data.astype(int64), -size if wrap else 0, size,
                          lambda v: error(f"index {v} is out of bounds for {where_} with size {size}"))


def along_dim_key(index: NDArray, dim: int, shape: tuple[int, ...] | None = None) -> tuple:
    """An advanced-indexing key that picks ``index`` along ``dim`` and the matching position
    along every other dim: the key of ``gather``. ``shape`` is the index's shape (default: the
    array's; gather passes its index tensor's, which inside vmap is one example's)."""
    key: list[Any] = []
    sizes = index.shape if shape is None else tuple(shape)
    for i, n in enumerate(sizes):
        if i == dim:
            key.append(index)
        else:
            ones = [1] * len(sizes)
            ones[i] = n
            key.append(array(np.arange(n).reshape(ones), device=index.device))
    return tuple(key)


def _triangle(x: Tensor, diagonal: int, lower: bool) -> Tensor:
    if x.ndim < 2:
        raise RuntimeError(f"tril/triu: input tensor must have at least 2 dimensions, got shape {x.shape}")
    rows, cols = x.shape[-2:]
    offset = np.arange(cols)[None, :] - np.arange(rows)[:, None]
    keep = offset <= diagonal if lower else offset >= diagonal
    zero = Tensor._make(zeros((), dtype=x.dtype, device=x.device), False, None)  # keeps x's dtype (bool too)
    return where(Tensor._make(array(keep, device=x.device), False, None), x, zero)


@op
def tril(x: Tensor, diagonal: int = 0) -> Tensor:
    """Zero the elements above the ``diagonal``-th diagonal of the last two dims."""
    return _triangle(x, diagonal, lower=True)


@op
def triu(x: Tensor, diagonal: int = 0) -> Tensor:
    """Zero the elements below the ``diagonal``-th diagonal of the last two dims."""
    return _triangle(x, diagonal, lower=False)


def _along(dim: int, ndim: int, key: Any) -> tuple:
    """An indexing key that applies ``key`` to dim ``dim`` of an ``ndim``-dim tensor."""
    return (slice(None),) * dim + (key,) + (slice(None),) * (ndim - dim - 1)


@op
def narrow(x: Tensor, dim: int, start: int, length: int) -> Tensor:
    """``length`` elements of ``dim`` from ``start`` (a view)."""
    d = normalize_dim(dim, x.ndim)
    n = x.shape[d]
    begin = start + n if start < 0 else start
    if not (0 <= begin <= n and 0 <= length and begin + length <= n):
        raise IndexError(f"start ({start}) + length ({length}) exceeds dimension size ({n}).")
    return getitem(x, _along(d, x.ndim, slice(begin, begin + length)))


@op
def select(x: Tensor, dim: int, index: int) -> Tensor:
    """Element ``index`` of ``dim``, which is removed (a view): ``select(x, 1, 2)`` is ``x[:, 2]``."""
    d = normalize_dim(dim, x.ndim)
    if not -x.shape[d] <= index < x.shape[d]:
        raise IndexError(f"select(): index {index} out of range for tensor of size {list(x.shape)} at dimension {d}")
    return getitem(x, _along(d, x.ndim, index))


@op
def unbind(x: Tensor, dim: int = 0) -> tuple[Tensor, ...]:
    """Every slice along ``dim``, each with ``dim`` removed."""
    d = normalize_dim(dim, x.ndim)
    return tuple(select(x, d, i) for i in range(x.shape[d]))


@op
def movedim(x: Tensor, source: Any, destination: Any) -> Tensor:
    """Move dims ``source`` to positions ``destination`` (ints or sequences); the others keep their order."""
    src = [source] if isinstance(source, int) else list(source)
    dst = [destination] if isinstance(destination, int) else list(destination)
    if len(src) != len(dst):
        raise RuntimeError(f"movedim: Invalid source or destination dims: source ({src} dims) should contain the "
                           f"same number of dims as destination ({dst} dims)")
    src, dst = [normalize_dim(d, x.ndim) for d in src], [normalize_dim(d, x.ndim) for d in dst]
    if len(set(src)) != len(src) or len(set(dst)) != len(dst):
        raise RuntimeError(f"movedim: repeated dim in source ({src}) or destination ({dst})")
    rest = iter(d for d in range(x.ndim) if d not in src)
    placed = dict(zip(dst, src))
    return permute(x, tuple(placed[i] if i in placed else next(rest) for i in range(x.ndim)))


@op
def roll(x: Tensor, shifts: Any, dims: Any = None) -> Tensor:
    """Shift elements along ``dims`` by ``shifts``, wrapping around (over the flattened tensor when
    ``dims`` is None)."""
    if dims is None:
        return reshape(roll(flatten(x), shifts, 0), x.shape)
    shifts_t = (shifts,) if isinstance(shifts, int) else tuple(shifts)
    dims_t = (dims,) if isinstance(dims, int) else tuple(dims)
    if len(shifts_t) != len(dims_t):
        raise RuntimeError(f"shifts and dimensions must align. shifts: {len(shifts_t)}, dims:{len(dims_t)}")
    for shift, dim in zip(shifts_t, dims_t):
        d = normalize_dim(dim, x.ndim)
        n = x.shape[d]
        k = shift % n if n else 0
        if k:
            x = cat([getitem(x, _along(d, x.ndim, slice(n - k, None))),
                     getitem(x, _along(d, x.ndim, slice(0, n - k)))], d)
    return x


@op
def fliplr(x: Tensor) -> Tensor:
    """Reverse dim 1 (left-right); needs at least 2 dims."""
    if x.ndim < 2:
        raise RuntimeError("Input must be >= 2-d.")
    return flip(x, 1)


@op
def flipud(x: Tensor) -> Tensor:
    """Reverse dim 0 (up-down); needs at least 1 dim."""
    if x.ndim < 1:
        raise RuntimeError("Input must be >= 1-d.")
    return flip(x, 0)


@op
def unflatten(x: Tensor, dim: int, sizes: Sequence[int]) -> Tensor:
    """Split dim ``dim`` into ``sizes`` (one may be -1)."""
    d = normalize_dim(dim, x.ndim)
    inner = infer_shape(x.shape[d], tuple(sizes))
    return reshape(x, x.shape[:d] + inner + x.shape[d + 1:])


def _index_vector(index: Any, name: str) -> Tensor:
    if not isinstance(index, Tensor) or index.dtype.is_floating_point or index.dtype is bool_ or index.ndim > 1:
        raise IndexError(f"{name}(): index must be a 0-D or 1-D int64 tensor, got "
                         f"{getattr(index, 'dtype', type(index).__name__)} of shape {getattr(index, 'shape', ())}")
    return index


@op
def index_select(x: Tensor, dim: int, index: Tensor) -> Tensor:
    """The slices of ``dim`` at ``index`` (a 1-D int64 tensor), in that order (a gather)."""
    d = normalize_dim(dim, x.ndim)
    idx = reshape(_index_vector(index, "index_select"), -1)
    checked_indices(idx, x.shape[d] if x.ndim else 1, d, IndexError)  # no negatives either
    return getitem(x, _along(d, x.ndim, idx)) if x.ndim else getitem(reshape(x, 1), idx)


@op
def masked_select(x: Tensor, mask: Tensor) -> Tensor:
    """The elements of ``x`` where ``mask`` (broadcast with ``x``) is true, as a 1-D tensor."""
    if not isinstance(mask, Tensor) or mask.dtype is not bool_:
        raise RuntimeError(f"masked_select: expected BoolTensor for mask, got {getattr(mask, 'dtype', mask)}")
    shape = broadcast_shapes(x.shape, mask.shape)
    return getitem(expand(x, shape), expand(mask, shape))


@op
def take(x: Tensor, index: Tensor) -> Tensor:
    """The elements of the flattened ``x`` at ``index``; the result has ``index``'s shape."""
    if not isinstance(index, Tensor) or index.dtype.is_floating_point or index.dtype is bool_:
        raise RuntimeError(f"take(): Expected a long tensor for index, but got {getattr(index, 'dtype', index)}")
    return getitem(reshape(x, -1), index)


@op(function=False)
def repeat(x: Tensor, *sizes: Any) -> Tensor:
    """``x`` tiled ``sizes[i]`` times along dim i (``sizes`` may add leading dims): a broadcast
    view of ``x`` between copies, made compact by one reshape."""
    reps = size_arg(sizes)
    if len(reps) < x.ndim:
        raise RuntimeError("Number of dimensions of repeat dims can not be smaller than number of dimensions of "
                           f"tensor ({len(reps)} < {x.ndim})")
    shape = (1,) * (len(reps) - x.ndim) + x.shape
    apart = tuple(d for n in shape for d in (1, n))
    spread = tuple(d for r, n in zip(reps, shape) for d in (r, n))
    return reshape(expand(reshape(x, apart), spread), tuple(r * n for r, n in zip(reps, shape)))


@op
def tile(x: Tensor, dims: Sequence[int]) -> Tensor:
    """``x.repeat(dims)``, with ``dims`` padded with leading 1s when it is shorter than ``x.ndim``."""
    dims = tuple(dims)
    return repeat(x, (1,) * (x.ndim - len(dims)) + dims)


@op
def repeat_interleave(x: Tensor, repeats: Any, dim: int | None = None) -> Tensor:
    """Each element (each slice along ``dim``; of the flattened ``x`` when None) repeated
    ``repeats`` times in place: ``[a, b] -> [a, a, b, b]``. ``repeats`` is an int or a 1-D tensor
    of one count per element."""
    if dim is None:
        x, dim = flatten(x), 0
    d = normalize_dim(dim, x.ndim)
    if isinstance(repeats, Tensor) and repeats.ndim > 0:
        counts = repeats.numpy()
        if counts.shape != (x.shape[d],) and counts.size != 1:
            raise RuntimeError(f"repeats must have the same size as input along dim {d}, but got repeats.size(0) "
                               f"= {counts.size} and input.size({d}) = {x.shape[d]}")
        if (counts < 0).any():
            raise RuntimeError("repeats can not be negative")
        index = np.repeat(np.arange(x.shape[d]), counts)
        return index_select(x, d, Tensor(array(index, device=x.device)))
    n = int(repeats)
    if n < 0:
        raise RuntimeError("repeats can not be negative")
    grown = expand(unsqueeze(x, d + 1), x.shape[:d + 1] + (n,) + x.shape[d + 1:])
    return reshape(grown, x.shape[:d] + (x.shape[d] * n,) + x.shape[d + 1:])


@op
def tensor_split(x: Tensor, indices_or_sections: Any, dim: int = 0) -> tuple[Tensor, ...]:
    """Views of ``x`` split along ``dim``: into ``n`` nearly equal parts (the first ``size % n``
    one longer) for an int, or at the given indices for a sequence."""
    d = normalize_dim(dim, x.ndim)
    size = x.shape[d]
    if isinstance(indices_or_sections, int):
        n = indices_or_sections
        if n <= 0:
            raise RuntimeError(f"number of sections must be larger than 0, got {n}")
        q, r = divmod(size, n)
        bounds = [i * q + min(i, r) for i in range(n + 1)]
    else:
        bounds = [0] + [min(max(int(i), 0), size) for i in indices_or_sections] + [size]
    return tuple(getitem(x, _along(d, x.ndim, slice(a, max(a, b)))) for a, b in zip(bounds, bounds[1:]))


@op
def diagonal(x: Tensor, offset: int = 0, dim1: int = 0, dim2: int = 1) -> Tensor:
    """The elements ``x[..., i, i + offset]`` of dims ``dim1`` and ``dim2``, as a last dim."""
    d1, d2 = normalize_dim(dim1, x.ndim), normalize_dim(dim2, x.ndim)
    if d1 == d2:
        raise RuntimeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
    m = movedim(x, (d1, d2), (-2, -1))
    rows, cols = m.shape[-2:]
    first_row, first_col = max(-offset, 0), max(offset, 0)
    n = max(min(rows - first_row, cols - first_col), 0)
    i = np.arange(n)
    return getitem(m, (Ellipsis, Tensor(array(i + first_row, device=x.device)),
                       Tensor(array(i + first_col, device=x.device))))


_diagonal_of = diagonal  # diag's argument is named diagonal, as PyTorch's


@op
def diag(x: Tensor, diagonal: int = 0) -> Tensor:
    """A 1-D ``x`` -> the square matrix with ``x`` on its ``diagonal``-th diagonal; a 2-D ``x`` ->
    that diagonal of it."""
    if x.ndim == 2:
        return _diagonal_of(x, diagonal)
    if x.ndim != 1:
        raise RuntimeError(f"diag(): Supports 1D or 2D tensors. Got {x.ndim}D")
    n = x.shape[0] + abs(diagonal)
    i = np.arange(x.shape[0])
    key = (array(i + max(-diagonal, 0), device=x.device), array(i + max(diagonal, 0), device=x.device))
    return IndexBackward.apply(x, shape=(n, n), key=key)


@op
def meshgrid(*tensors: Any, indexing: str = "ij") -> tuple[Tensor, ...]:
    """Coordinate grids from 1-D tensors, as broadcast views: with ``"ij"`` output k varies along
    dim k; with ``"xy"`` the first two dims are swapped (Cartesian, as numpy's default)."""
    ts = list(tensors[0]) if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)) else list(tensors)
    if indexing not in ("ij", "xy"):
        raise RuntimeError(f"torch.meshgrid: indexing must be one of \"xy\" or \"ij\", but received: {indexing}")
    if any(t.ndim > 1 for t in ts):
        raise RuntimeError("torch.meshgrid: Expected 0D or 1D tensor in the tensor list")
    ts = [reshape(t, -1) for t in ts]
    order = list(range(len(ts)))
    if indexing == "xy" and len(ts) >= 2:
        order[0], order[1] = 1, 0
    shape = tuple(ts[k].shape[0] for k in order)
    grids = []
    for k, t in enumerate(ts):
        axis = order.index(k)
        grids.append(expand(reshape(t, tuple(-1 if a == axis else 1 for a in range(len(ts)))), shape))
    return tuple(grids)


@op(function=False, grad=False)
def new_tensor(x: Tensor, data: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """A new leaf holding ``data``, with ``x``'s dtype and device unless given."""
    out = Tensor(array(data._data if isinstance(data, Tensor) else data, dtype=dtype or x.dtype,
                       device=device or x.device))
    return out.requires_grad_() if requires_grad else out


def _new_filled(x: Tensor, size: tuple, value: Any, dtype: Any, device: Any, requires_grad: bool) -> Tensor:
    out = Tensor(nd_full(size_arg(size), value, dtype=as_dtype(dtype) if dtype is not None else x.dtype,
                         device=device or x.device))
    return out.requires_grad_() if requires_grad else out


@op(function=False, grad=False)
def new_zeros(x: Tensor, *size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """Zeros of ``size`` with ``x``'s dtype and device unless given."""
    return _new_filled(x, size, 0, dtype, device, requires_grad)


@op(function=False, grad=False)
def new_ones(x: Tensor, *size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """Ones of ``size`` with ``x``'s dtype and device unless given."""
    return _new_filled(x, size, 1, dtype, device, requires_grad)


@op(function=False, grad=False)
def new_full(x: Tensor, size: Any, fill_value: Any, *, dtype: Any = None, device: Any = None,
             requires_grad: bool = False) -> Tensor:
    """``fill_value`` everywhere in ``size``, with ``x``'s dtype and device unless given."""
    return _new_filled(x, (size,), fill_value, dtype, device, requires_grad)

class UnfoldDim(Function):
    """The windows of ``size`` elements every ``step`` along ``dim``, as a strided view: dim
    ``dim`` becomes the window number and a last dim the position in the window,
    ``out[..., w, ..., k] = a[..., w * step + k, ...]``. The backward adds each window
    element back where it was read (windows may overlap)."""

    def forward(self, a: NDArray, dim: int, size: int, step: int) -> NDArray:
        self.shape, self.dim = a.shape, dim
        windows = (a.shape[dim] - size) // step + 1
        self.positions = np.arange(windows)[:, None] * step + np.arange(size)[None, :]
        shape = a.shape[:dim] + (windows,) + a.shape[dim + 1:] + (size,)
        strides = a.strides[:dim] + (a.strides[dim] * step,) + a.strides[dim + 1:] + (a.strides[dim],)
        return a.as_strided(shape, strides)

    def backward(self, g: Tensor) -> Tensor:
        d = self.dim
        key = _along(d, len(self.shape), array(self.positions, device=g.device))
        return IndexBackward.apply(movedim(g, -1, d + 1), shape=self.shape, key=key)


@op(name="unfold", function=False)
def unfold_dim(x: Tensor, dimension: int, size: int, step: int) -> Tensor:
    """``Tensor.unfold``: every window of ``size`` elements, ``step`` apart, along
    ``dimension`` (a view; the window elements become a new last dim)."""
    d = normalize_dim(dimension, x.ndim)
    if x.ndim == 0:  # PyTorch: a 0-d tensor is one window of its one element
        if size > 1:
            raise RuntimeError(f"maximum size for tensor at dimension 0 is 1 but size is {size}")
        return reshape(x, (1,))
    if size > x.shape[d]:
        raise RuntimeError(f"maximum size for tensor at dimension {d} is {x.shape[d]} but size is {size}")
    if size < 0:
        raise RuntimeError(f"size is {size} but must be >= 0")
    if step <= 0:
        raise RuntimeError(f"step is {step} but must be > 0")
    return UnfoldDim.apply(x, dim=d, size=size, step=step)


@op
def rot90(x: Tensor, k: int = 1, dims: Sequence[int] = (0, 1)) -> Tensor:
    """``x`` rotated by ``k`` quarter turns in the plane of ``dims``, from the first dim towards
    the second (a view: flips and a transpose)."""
    dims = tuple(dims)
    if len(dims) != 2:
        raise RuntimeError(f"expected total rotation dims == 2, but got dims = {len(dims)}")
    if x.ndim < 2:
        raise RuntimeError(f"expected total dims >= 2, but got total dims = {x.ndim}")
    d0, d1 = normalize_dim(dims[0], x.ndim), normalize_dim(dims[1], x.ndim)
    if d0 == d1:
        raise RuntimeError(f"expected rotation dims to be different, but got dim0 = {dims[0]} and dim1 = {dims[1]}")
    turns = k % 4
    if turns == 1:
        return transpose(flip(x, d1), d0, d1)
    if turns == 2:
        return flip(x, (d0, d1))
    if turns == 3:
        return transpose(flip(x, d0), d0, d1)
    return x


@op(function=False)
def view_as(x: Tensor, other: Tensor) -> Tensor: return view(x, other.shape)
@op(function=False)
def reshape_as(x: Tensor, other: Tensor) -> Tensor: return reshape(x, other.shape)
@op(function=False)
def expand_as(x: Tensor, other: Tensor) -> Tensor: return expand(x, other.shape)


@op(function=False, prop=True)
def T(x: Tensor) -> Tensor:  # noqa: N802  (PyTorch's name)
    """The dims reversed (the transpose of a matrix)."""
    if x.ndim == 2:  # the common case (a weight in F.linear): straight to the op
        return Permute.apply(x, dims=(1, 0))
    return permute(x, tuple(reversed(range(x.ndim))))


@op(function=False, prop=True)
def mT(x: Tensor) -> Tensor:  # noqa: N802
    """The last two dims swapped (a batch of transposed matrices)."""
    return transpose(x, -2, -1)


moveaxis = op(movedim, name="moveaxis")


@op
def ravel(x: Tensor) -> Tensor:
    """``x`` flattened to 1-D: a view when its elements are in row-major order, else a copy."""
    return reshape(x, (-1,))
new_empty = op(new_zeros, name="new_empty", function=False, grad=False)  # "uninitialised": zeros here


# --- joining and reshaping many tensors ------------------------------------------------------------------
def _tensor_args(tensors: tuple, name: str) -> tuple[list[Tensor], bool]:
    """The tensors of ``f(t)``, ``f(t1, t2, ...)`` or ``f([t1, t2])``, and whether there was one
    bare tensor (then ``f`` returns a tensor, else a tuple, as PyTorch's ``atleast_*d``)."""
    if len(tensors) == 1 and isinstance(tensors[0], Tensor):
        return [tensors[0]], True
    items = list(tensors[0]) if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)) else list(tensors)
    for i, t in enumerate(items):
        if not isinstance(t, Tensor):
            raise TypeError(f"{name}(): expected Tensor as element {i}, but got {type(t).__name__}")
    return items, False


def _at_least(tensors: tuple, name: str, lift: Any) -> Any:
    items, single = _tensor_args(tensors, name)
    out = tuple(lift(t) for t in items)
    return out[0] if single else out


def _lift_1d(t: Tensor) -> Tensor:
    return reshape(t, (1,)) if t.ndim == 0 else t


def _lift_2d(t: Tensor) -> Tensor:
    return reshape(t, (1,) * (2 - t.ndim) + t.shape) if t.ndim < 2 else t


def _lift_3d(t: Tensor) -> Tensor:
    if t.ndim == 0:
        return reshape(t, (1, 1, 1))
    if t.ndim == 1:
        return reshape(t, (1, t.shape[0], 1))
    return unsqueeze(t, 2) if t.ndim == 2 else t


@op(method=False)
def atleast_1d(*tensors: Any) -> Any:
    """Each tensor with at least 1 dim (a 0-d one becomes shape ``(1,)``): one tensor for one
    tensor, a tuple for several or for a list."""
    return _at_least(tensors, "atleast_1d", _lift_1d)


@op(method=False)
def atleast_2d(*tensors: Any) -> Any:
    """Each tensor with at least 2 dims (``()`` -> ``(1, 1)``, ``(n,)`` -> ``(1, n)``): one tensor
    for one tensor, a tuple for several or for a list."""
    return _at_least(tensors, "atleast_2d", _lift_2d)


@op(method=False)
def atleast_3d(*tensors: Any) -> Any:
    """Each tensor with at least 3 dims (``()`` -> ``(1, 1, 1)``, ``(n,)`` -> ``(1, n, 1)``,
    ``(m, n)`` -> ``(m, n, 1)``): one tensor for one tensor, a tuple for several or for a list."""
    return _at_least(tensors, "atleast_3d", _lift_3d)


@op(method=False)
def hstack(tensors: Sequence[Tensor]) -> Tensor:
    """Join along dim 1 (dim 0 when the tensors are 1-D), 0-d tensors taken as 1-D."""
    ts = [_lift_1d(t) for t in _tensor_list(tensors, "hstack")]
    return cat(ts, 0 if ts[0].ndim == 1 else 1)


@op(method=False)
def vstack(tensors: Sequence[Tensor]) -> Tensor:
    """Join along dim 0 after :func:`atleast_2d` (1-D tensors become rows)."""
    return cat([_lift_2d(t) for t in _tensor_list(tensors, "vstack")], 0)


row_stack = op(vstack, name="row_stack")


@op(method=False)
def dstack(tensors: Sequence[Tensor]) -> Tensor:
    """Join along dim 2 after :func:`atleast_3d`."""
    return cat([_lift_3d(t) for t in _tensor_list(tensors, "dstack")], 2)


@op(method=False)
def column_stack(tensors: Sequence[Tensor]) -> Tensor:
    """Join along dim 1, 0-d and 1-D tensors taken as columns (shape ``(n, 1)``)."""
    ts = _tensor_list(tensors, "column_stack")
    return cat([reshape(t, (t.numel(), 1)) if t.ndim <= 1 else t for t in ts], 1)


@op(method=False)
def broadcast_tensors(*tensors: Any) -> tuple[Tensor, ...]:
    """The tensors expanded (as views) to their common broadcast shape; ``RuntimeError`` when
    the shapes do not broadcast."""
    items, _ = _tensor_args(tensors, "broadcast_tensors")
    shape: tuple[int, ...] = ()
    for t in items:
        ndim = max(len(shape), t.ndim)
        a = (1,) * (ndim - len(shape)) + shape
        b = (1,) * (ndim - t.ndim) + tuple(t.shape)
        for k, (m, n) in enumerate(zip(a, b)):
            if m != n and m != 1 and n != 1:
                raise RuntimeError(f"The size of tensor a ({m}) must match the size of tensor b ({n}) at "
                                   f"non-singleton dimension {k}")
        shape = tuple(n if m == 1 else m for m, n in zip(a, b))
    return tuple(expand(t, shape) for t in items)


@op(method=False)
def block_diag(*tensors: Tensor) -> Tensor:
    """The tensors (0-d, 1-D as one row, or 2-D) as blocks along the diagonal of a matrix, zeros
    elsewhere; the dtype is their promoted dtype."""
    blocks = []
    for i, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise TypeError(f"block_diag(): expected Tensor as element {i}, but got {type(t).__name__}")
        if t.ndim > 2:
            raise RuntimeError(f"torch.block_diag: Input tensors must have 2 or fewer dimensions. Input {i} has "
                               f"{t.ndim} dimensions")
        blocks.append(_lift_2d(t))
    if not blocks:
        return Tensor._make(zeros((1, 0), dtype=float32), False, None)
    width = sum(b.shape[1] for b in blocks)
    rows, col = [], 0
    for b in blocks:
        h, w = b.shape
        parts = [Tensor._make(zeros((h, col), dtype=b.dtype, device=b.device), False, None), b,
                 Tensor._make(zeros((h, width - col - w), dtype=b.dtype, device=b.device), False, None)]
        rows.append(cat(parts, 1))
        col += w
    return cat(rows, 0)


@op(method=False)
def cartesian_prod(*tensors: Tensor) -> Tensor:
    """All tuples of one element from each 1-D tensor, in row-major order, as the rows of a
    ``(product of sizes, len(tensors))`` tensor (one tensor: itself)."""
    for t in tensors:
        if t.ndim != 1:
            raise RuntimeError(f"Expect a 1D vector, but got shape {list(t.shape)}")
    if len(tensors) == 1:
        return tensors[0]
    return stack([reshape(g, (-1,)) for g in meshgrid(*tensors, indexing="ij")], 1)


@op(method=False)
def combinations(input: Tensor, r: int = 2, with_replacement: bool = False) -> Tensor:
    """The length-``r`` combinations of the elements of the 1-D ``input`` (with repeats when
    ``with_replacement``), in lexicographic order of positions, as rows of shape ``(k, r)``;
    ``r == 0`` gives an empty 1-D tensor."""
    if input.ndim != 1:
        raise RuntimeError(f"Expect a 1D vector, but got shape {list(input.shape)}")
    if r < 0:
        raise RuntimeError(f"Expect a non-negative number, but got {r}")
    if r == 0:
        return getitem(input, slice(0, 0))
    pick = itertools.combinations_with_replacement if with_replacement else itertools.combinations
    rows = np.array(list(pick(range(input.shape[0]), r)), dtype=np.int64).reshape(-1, r)
    return getitem(input, Tensor._make(array(rows, device=input.device), False, None))


@op
def diag_embed(input: Tensor, offset: int = 0, dim1: int = -2, dim2: int = -1) -> Tensor:
    """Tensors whose ``offset``-th diagonal, in the plane of dims ``dim1`` and ``dim2`` of the
    result (which has one more dim than ``input``), is ``input``'s last dim; zeros elsewhere."""
    ndim = input.ndim + 1
    d1, d2 = normalize_dim(dim1, ndim), normalize_dim(dim2, ndim)
    if d1 == d2:
        raise RuntimeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
    x = reshape(input, (1,)) if input.ndim == 0 else input
    k = x.shape[-1]
    n = k + abs(offset)
    i = np.arange(k)
    key = (slice(None),) * (x.ndim - 1) + (array(i + max(-offset, 0), device=x.device),
                                           array(i + max(offset, 0), device=x.device))
    square = IndexBackward.apply(x, shape=x.shape[:-1] + (n, n), key=key)
    return movedim(square, (-2, -1), (d1, d2))


@op
def diagflat(input: Tensor, offset: int = 0) -> Tensor:
    """The square matrix with the elements of ``input`` (flattened) on its ``offset``-th diagonal."""
    return diag(reshape(input, (-1,)), offset)

__all__ = exports(__name__)
