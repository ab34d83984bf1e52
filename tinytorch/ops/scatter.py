"""Writing by index: ``scatter`` and its reductions, ``index_add/copy/fill``, ``masked_scatter``,
``take_along_dim``, and the in-place forms (``x.scatter_(...)``…).

Every op here turns its ``(dim, index)`` into one advanced-indexing key of the input -- the key
of :func:`~tinytorch.ops.movement.gather` for the scatter family (``index`` along ``dim``, the
position itself along every other dim), ``index`` along ``dim`` and whole slices elsewhere for
the ``index_*`` family -- and then writes through that key. Two primitives do the writing:

* ``ScatterPut``: overwrite (``scatter``, ``index_copy``). Its backward gathers the gradient of
  ``src`` at the key and zeros the input's gradient where it was overwritten.
* ``ScatterReduce``: combine with ``prod``, ``amax`` or ``amin`` (the backend's
  ``scatter_mul/max/min`` kernels). Its backward is PyTorch's: the product without the
  element itself (zeros counted explicitly), and for amax/amin the gradient shared evenly
  among the elements equal to the result.

Sums (``scatter_add``, ``index_add``, ``scatter_reduce`` sum/mean) are compositions: the
input plus :class:`~tinytorch.ops.movement.IndexBackward` of the source, which scatter-adds
and whose backward is the gather. Indices are checked before any memory is touched, with
PyTorch's exception types: ``RuntimeError`` for the scatter family (negative indices are out
of range there), ``IndexError`` for the ``index_*`` family.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

from ..ndarray import NDArray, array, full, zeros
from ..ndarray import where as nd_where
from ..ndarray.dtypes import bool_, float64, int64
from ..ndarray.strides import broadcast_shapes
from ..tensor import Function, Tensor, no_grad
from .dims import normalize_dim, torch_type_name
from .elementwise import floor, where
from .inplace import check_inplace
from .movement import Index, IndexBackward, _along, along_dim_key, checked_indices, expand, gather, getitem, reshape, to
from .table import exports, op

Key = tuple  # an advanced-indexing key of NDArrays, one entry per dim (see along_dim_key, _along)


# --- the two primitives ------------------------------------------------------------------------------
class ScatterPut(Function):
    """``a`` with ``a[key] = src`` (``src`` has the key's shape; with repeated positions one
    write wins, as in PyTorch, which leaves it unspecified)."""

    def forward(self, a: NDArray, src: NDArray, key: Key) -> NDArray:
        self.key, self.shape = key, a.shape
        out = a.copy()
        out[key] = src
        return out

    def backward(self, g: Tensor) -> tuple:
        grad_a = where(_written(self.shape, self.key, g._data.device), 0.0, g) if self.needs_input_grad[0] else None
        return grad_a, Index.apply(g, key=self.key) if self.needs_input_grad[1] else None


#: the backend's scatter kernel (``scatter_<op>``) of each reduction
_KERNEL = {"prod": "mul", "amax": "max", "amin": "min"}


class ScatterReduce(Function):
    """``a`` with ``src`` combined into ``a[key]`` by ``reduce`` (prod, amax, amin); without
    ``include_self`` the elements of ``a`` that ``key`` reaches do not take part."""

    def forward(self, a: NDArray, src: NDArray, key: Key, reduce: str, include_self: bool) -> NDArray:
        self.key, self.reduce, self.include_self = key, reduce, include_self
        out = a.copy()
        if not include_self:
            out[key] = _identity(reduce, a.dtype)
        out.index_reduce_(key, src, _KERNEL[reduce])
        self.out = out
        return out

    def backward(self, g: Tensor) -> tuple:
        a, src = self.inputs
        key = self.key
        written = _written(a.shape, key, g._data.device)
        if self.reduce == "prod":
            grad_a, grad_src = self._prod_grads(g, a, src)
        else:  # amax/amin: each element equal to the result gets an equal share of its gradient
            result = self.output()
            value = Index.apply(result, key=key)
            self_is = _constant((a._data == result._data).astype(g.dtype))
            src_is = _constant((src._data == value._data).astype(g.dtype))
            shared = g / (self_is + IndexBackward.apply(src_is, shape=a.shape, key=key))
            grad_a = self_is * shared
            grad_src = src_is * Index.apply(shared, key=key)
        if not self.include_self:
            grad_a = where(written, 0.0, grad_a)
        return (grad_a if self.needs_input_grad[0] else None, grad_src if self.needs_input_grad[1] else None)

    def _prod_grads(self, g: Tensor, a: Tensor, src: Tensor) -> tuple[Tensor, Tensor]:
        """The gradient of a product with respect to one factor is the product of the others.
        Dividing the result by the factor fails for a zero factor, so zeros are replaced by
        ones and the product taken again (PyTorch's formula): a zero that is the only zero of
        its product gets the product of the others, a zero among several gets 0."""
        key, reduce, include = self.key, self.reduce, self.include_self
        result = self.output()
        self_zero = _constant(a._data == 0)
        masked_self = where(self_zero, 1.0, a)
        grad_a = g * ScatterReduce.apply(masked_self, src, key=key, reduce=reduce, include_self=include) / masked_self
        src_zero = src._data == 0
        zeros_here = zeros(a.shape, dtype=int64, device=src_zero.device).index_add_(key, src_zero.astype(int64))
        single_zero = _constant(src_zero & (zeros_here[key] == 1))
        masked_src = where(single_zero, 1.0, src)
        without_zero = ScatterReduce.apply(a, masked_src, key=key, reduce=reduce, include_self=include)
        grad_src = where(single_zero, Index.apply(g * without_zero, key=key),
                         Index.apply(g * result, key=key) / where(_constant(src_zero), 1.0, src))
        return grad_a, grad_src


def _identity(reduce: str, dtype: Any) -> Any:
    """The value that leaves an element unchanged by ``reduce`` (written first where the
    input's own elements do not take part)."""
    if reduce == "prod":
        return 1
    if dtype.is_floating_point:
        return float("-inf") if reduce == "amax" else float("inf")
    return -(2 ** 63) if reduce == "amax" else 2 ** 63 - 1


def _constant(a: NDArray) -> Tensor:
    return Tensor._make(a, False, None)


def _written(shape: tuple[int, ...], key: Key, device: Any) -> Tensor:
    """A bool tensor of ``shape``, true where ``key`` selects."""
    mask = zeros(shape, dtype=bool_, device=device)
    mask[key] = True
    return _constant(mask)


# --- argument checks --------------------------------------------------------------------------------------
def _index_tensor(index: Any, name: str) -> Tensor:
    if not isinstance(index, Tensor) or index.dtype.is_floating_point or index.dtype is bool_:
        raise RuntimeError(f"{name}(): Expected dtype int32/int64 for index, got "
                           f"{getattr(index, 'dtype', type(index).__name__)}")
    return index


def _scatter_key(x: Tensor, dim: int, index: Any, src: Tensor | None, name: str) -> tuple[int, Key]:
    """The dim and the advanced key through which ``x.scatter*(dim, index, src)`` writes."""
    index = _index_tensor(index, name)
    d = normalize_dim(dim, x.ndim)
    if index.ndim != x.ndim and not (index.ndim <= 1 and x.ndim <= 1):
        raise RuntimeError(f"Index tensor must have the same number of dimensions as self tensor "
                           f"(index shape {list(index.shape)}, self shape {list(x.shape)})")
    x_shape, i_shape = x.shape or (1,), index.shape or (1,)
    too_big = any(n > x_shape[k] for k, n in enumerate(i_shape) if k != d)
    if src is not None:
        s_shape = src.shape or (1,)
        too_big = too_big or len(s_shape) != len(i_shape) or any(n > m for n, m in zip(i_shape, s_shape))
    if too_big:
        raise RuntimeError(f"Expected index {list(index.shape)} to be no larger than self {list(x.shape)} apart from "
                           f"dimension {d}" + (f" and to be no larger size than src {list(src.shape)}"
                                               if src is not None else ""))
    idx = checked_indices(index, x_shape[d], d, RuntimeError)
    return d, along_dim_key(idx.reshape(i_shape), d)


def _src_part(src: Tensor, key: Key) -> Tensor:
    """The leading block of ``src`` that the key's shape covers (PyTorch reads only that)."""
    shape = broadcast_shapes(*(k.shape for k in key))
    src = reshape(src, (1,) * (len(shape) - src.ndim) + src.shape) if src.ndim < len(shape) else src
    return src if src.shape == shape else getitem(src, tuple(slice(0, n) for n in shape))


def _same_dtype(x: Tensor, src: Tensor, name: str, what: str = "src") -> None:
    if not isinstance(src, Tensor):
        raise TypeError(f"{name}(): argument '{what}' must be Tensor, not {type(src).__name__}")
    if src.dtype is not x.dtype:
        raise RuntimeError(f"{name}(): Expected self.dtype to be equal to src.dtype ({x.dtype.name} and "
                           f"{src.dtype.name})")
    if src.device != x.device:
        raise RuntimeError(f"Expected all tensors to be on the same device, but found at least two devices, "
                           f"{x.device} and {src.device}!")


def _as_flat_result(x: Tensor, out: Tensor) -> Tensor:
    """A 0-d ``x`` was written as a 1-element tensor: give the result ``x``'s shape back."""
    return reshape(out, x.shape) if out.shape != x.shape else out


def _view_1d(x: Tensor) -> Tensor:
    return reshape(x, (1,)) if x.ndim == 0 else x


# --- scatter and its reductions -------------------------------------------------------------------------
@op
def scatter(x: Tensor, dim: int, index: Tensor, src: Any = None, value: Any = None, *,
            reduce: str | None = None) -> Tensor:
    """``x`` with ``out[i][index[i][j]] = src[i][j]`` for ``dim=1`` (likewise any dim); ``src``
    may be a number (or pass ``value=``). ``reduce="add"`` / ``"multiply"`` combine instead of
    overwriting (as :func:`scatter_reduce` with ``"sum"`` / ``"prod"``). Of repeated indices
    one write wins. The gradient of ``src`` is the output's gathered at ``index``; the input's
    is zero where it was overwritten."""
    src = value if src is None else src
    if src is None:
        raise TypeError("scatter() missing 1 required argument: 'src' or 'value'")
    if reduce is not None and reduce not in ("add", "multiply"):
        raise RuntimeError(f"reduce argument must be either add or multiply, got {reduce}")
    if not isinstance(src, Tensor):
        src = Tensor(full(index.shape, src, dtype=x.dtype, device=x.device)) if isinstance(index, Tensor) else src
    else:
        _same_dtype(x, src, "scatter")
    if reduce is not None:
        return scatter_reduce(x, dim, index, src, "sum" if reduce == "add" else "prod")
    d, key = _scatter_key(x, dim, index, src, "scatter")
    return _as_flat_result(x, ScatterPut.apply(_view_1d(x), _src_part(_view_1d(src), key), key=key))


@op
def scatter_add(x: Tensor, dim: int, index: Tensor, src: Tensor) -> Tensor:
    """``x`` with ``out[i][index[i][j]] += src[i][j]`` for ``dim=1`` (likewise any dim);
    repeated indices accumulate."""
    return scatter_reduce(x, dim, index, src, "sum")


_REDUCTIONS = ("sum", "prod", "mean", "amax", "amin")


@op
def scatter_reduce(x: Tensor, dim: int, index: Tensor, src: Tensor, reduce: str, *,
                   include_self: bool = True) -> Tensor:
    """``x`` with every ``src[i][j]`` combined into ``out[i][index[i][j]]`` (``dim=1``) by
    ``reduce``: ``"sum"``, ``"prod"``, ``"mean"``, ``"amax"``, ``"amin"`` (``"max"``/``"min"``
    are accepted as PyTorch accepts them). With ``include_self=False`` the elements of ``x``
    that receive values are left out of their reduction. An integer mean rounds down, as
    PyTorch's. Gradients are PyTorch's: amax/amin share an element's gradient evenly among
    the values equal to the result."""
    reduce = {"max": "amax", "min": "amin"}.get(reduce, reduce)
    if reduce not in _REDUCTIONS:
        raise RuntimeError(f"reduce argument must be either sum, prod, mean, amax or amin, got {reduce}")
    _same_dtype(x, src, "scatter_reduce")
    d, key = _scatter_key(x, dim, index, src, "scatter_reduce")
    x1, src1 = _view_1d(x), _src_part(_view_1d(src), key)
    if reduce in ("sum", "mean"):
        base = x1 if include_self else where(_written(x1.shape, key, x.device), 0, x1)
        out = base + IndexBackward.apply(src1, shape=x1.shape, key=key)
        if reduce == "mean":
            out = _mean(out, key, include_self)
    else:
        out = ScatterReduce.apply(x1, src1, key=key, reduce=reduce, include_self=include_self)
    return _as_flat_result(x, out)


def _mean(total: Tensor, key: Key, include_self: bool) -> Tensor:
    """``total`` divided by how many values went into each element (1 where none did)."""
    counts = zeros(total.shape, dtype=total.dtype, device=total.device)
    counts.index_add_(key, 1)
    counts = counts + 1 if include_self else nd_where(counts == 0, 1, counts)
    if total.dtype.is_floating_point:
        return total / _constant(counts)
    return to(floor(to(total, dtype=float64) / _constant(counts.astype(float64))), dtype=total.dtype)


# --- the index_* family: whole slices along one dim ----------------------------------------------------------
def _slices_key(x: Tensor, dim: int, index: Any, source: Tensor | None, name: str,
                wrap: bool = False) -> tuple[int, Key]:
    """The dim and the key ``(:, ..., index, :, ...)`` of ``x.index_*(dim, index, source)``."""
    if not isinstance(index, Tensor) or index.dtype.is_floating_point or index.dtype is bool_ or index.ndim > 1:
        raise IndexError(f"{name}(): Index is supposed to be a vector of int64, got "
                         f"{getattr(index, 'dtype', type(index).__name__)} of shape {getattr(index, 'shape', ())}")
    d = normalize_dim(dim, x.ndim)
    size = x.shape[d] if x.ndim else 1
    n = index.numel()
    if source is not None:
        expected = x.shape[:d] + (n,) + x.shape[d + 1:] if x.ndim else (n,)
        if source.shape != expected and not (source.ndim == 0 and math.prod(expected) == 1):  # a scalar fits one
            raise RuntimeError(f"{name}(): Number of indices ({n}) should be equal to source.size(dim) and source "
                               f"should have the shape {list(expected)}, got {list(source.shape)} (dim {d})")
    idx = checked_indices(index, size, d, IndexError, wrap)
    return d, _along(d, max(x.ndim, 1), idx.reshape((n,)))


@op
def index_add(x: Tensor, dim: int, index: Tensor, source: Tensor, *, alpha: Any = 1) -> Tensor:
    """``x`` with ``alpha * source[..., i, ...]`` added to ``x[..., index[i], ...]`` along
    ``dim``; repeated indices accumulate."""
    _same_dtype(x, source, "index_add", "source")
    d, key = _slices_key(x, dim, index, source, "index_add")
    src = reshape(source, getitem(_view_1d(x), key).shape)
    added = IndexBackward.apply(src if alpha == 1 else src * alpha, shape=_view_1d(x).shape, key=key)
    return _as_flat_result(x, _view_1d(x) + added)


def _index_put_key(x: Tensor, indices: Any) -> tuple[Key, tuple[int, ...]]:
    """The advanced key of ``x[indices]`` (tensors of ints, negatives counted from the end, or
    bool masks; ``None`` for a whole dim) as device arrays, and the shape it selects."""
    if not isinstance(indices, (list, tuple)):
        raise TypeError(f"index_put(): argument 'indices' must be tuple of Tensors, not {type(indices).__name__}")
    host: list[Any] = []
    for idx in indices:
        if idx is None:
            host.append(slice(None))
            continue
        if not isinstance(idx, Tensor) or idx.dtype.is_floating_point:
            raise IndexError("tensors used as indices must be long, int, byte or bool tensors")
        if idx.dtype is bool_:
            at = len(host)
            mask_dims = x.shape[at:at + idx.ndim]
            for k, (m, n) in enumerate(zip(idx.shape, mask_dims)):
                if m != n:
                    raise IndexError(f"The shape of the mask {list(idx.shape)} at index {k} does not match the shape "
                                     f"of the indexed tensor {list(x.shape)} at index {at + k}")
            host.extend(np.nonzero(idx.numpy()) if idx.ndim else [np.zeros(int(idx.item()), np.int64)])
            continue
        dim = len(host)
        if dim >= x.ndim:
            raise IndexError(f"too many indices for tensor of dimension {x.ndim} (got {len(indices)})")
        a = idx.numpy().astype(np.int64)
        size = x.shape[dim]
        bad = a[(a < -size) | (a >= size)]
        if bad.size:
            raise IndexError(f"index {bad.reshape(-1)[0]} is out of bounds for dimension {dim} with size {size}")
        host.append(np.where(a < 0, a + size, a))
    if len(host) > x.ndim:
        raise IndexError(f"too many indices for tensor of dimension {x.ndim} (got {len(host)})")
    host += [slice(None)] * (x.ndim - len(host))
    shape = np.broadcast_to(np.zeros((), bool), x.shape)[tuple(host)].shape
    key = tuple(k if isinstance(k, slice) else array(k, device=x.device) for k in host)
    return key, tuple(shape)


@op
def index_put(x: Tensor, indices: Any, values: Tensor, accumulate: bool = False) -> Tensor:
    """``x`` with ``x[indices] = values`` (``values`` broadcast to the indexed shape), out of
    place; with ``accumulate`` the values are added instead, repeated positions adding up
    (without it, of repeated positions one write wins). ``indices`` is a tuple with one
    tensor per leading dim (ints or bool masks, as in ``x[i, j]``). The gradient of ``values``
    is the output's gradient read at ``indices``; ``x``'s is zero where it was overwritten."""
    if not isinstance(values, Tensor):
        raise TypeError(f"index_put(): argument 'values' must be Tensor, not {type(values).__name__}")
    if values.dtype is not x.dtype:
        raise RuntimeError(f"Index put requires the source and destination dtypes match, got "
                           f"{torch_type_name(x.dtype)} for the destination and {torch_type_name(values.dtype)} for "
                           f"the source.")
    key, shape = _index_put_key(x, indices)
    try:
        fits = tuple(broadcast_shapes(tuple(values.shape), shape)) == shape
    except RuntimeError:
        fits = False
    if not fits:
        raise RuntimeError(f"shape mismatch: value tensor of shape {list(values.shape)} cannot be broadcast to "
                           f"indexing result of shape {list(shape)}")
    v = expand(values, shape)
    if accumulate:
        return x + IndexBackward.apply(v, shape=x.shape, key=key)
    return ScatterPut.apply(x, v, key=key)


@op
def index_copy(x: Tensor, dim: int, index: Tensor, source: Tensor) -> Tensor:
    """``x`` with ``x[..., index[i], ...] = source[..., i, ...]`` along ``dim``."""
    _same_dtype(x, source, "index_copy", "source")
    d, key = _slices_key(x, dim, index, source, "index_copy")
    src = reshape(source, getitem(_view_1d(x), key).shape)
    return _as_flat_result(x, ScatterPut.apply(_view_1d(x), src, key=key))


@op
def index_fill(x: Tensor, dim: int, index: Tensor, value: Any) -> Tensor:
    """``x`` with the slices ``index`` along ``dim`` set to ``value`` (a number or a 0-d tensor,
    which then gets the gradient of every element it filled). Negative indices count from the
    end, as in PyTorch."""
    if isinstance(value, Tensor):
        if value.ndim:
            raise RuntimeError(f"index_fill_ only supports a 0-dimensional value tensor, but got tensor with "
                               f"{value.ndim} dimension(s).")
        value = to(value, dtype=x.dtype)
    elif not isinstance(value, (numbers.Real,)):
        raise TypeError(f"index_fill(): argument 'value' must be Number or Tensor, not {type(value).__name__}")
    elif not x.dtype.is_floating_point and x.dtype is not bool_:
        value = math.trunc(value)  # PyTorch converts the value to the tensor's dtype
    d, key = _slices_key(x, dim, index, None, "index_fill", wrap=True)
    return _as_flat_result(x, where(_written(_view_1d(x).shape, key, x.device), value, _view_1d(x)))


# --- masks and gathers ----------------------------------------------------------------------------------------
@op
def masked_scatter(x: Tensor, mask: Tensor, source: Tensor) -> Tensor:
    """``x`` (broadcast with ``mask``) with the elements where ``mask`` is true replaced, in
    row-major order, by the first elements of ``source``."""
    if not isinstance(mask, Tensor) or mask.dtype is not bool_:
        raise RuntimeError(f"masked_scatter_: expected BoolTensor for mask, got {getattr(mask, 'dtype', mask)}")
    _same_dtype(x, source, "masked_scatter", "source")
    shape = broadcast_shapes(x.shape, mask.shape)
    m = mask._data.broadcast_to(shape)
    k = int(m.sum().item())
    if source.numel() < k:
        raise RuntimeError(f"masked_scatter: expected source to have at least as many elements as ones in mask "
                           f"({k}), got {source.numel()}")
    values = getitem(reshape(source, -1), slice(0, k))
    placed = IndexBackward.apply(values, shape=shape, key=m.compact())
    return where(_constant(m), placed, expand(x, shape))


@op
def take_along_dim(x: Tensor, indices: Tensor, dim: int | None = None) -> Tensor:
    """The values of ``x`` at ``indices`` along ``dim`` (``gather``, with ``x`` and ``indices``
    broadcast against each other except along ``dim``); over the flattened ``x`` when ``dim``
    is None. Out-of-range indices raise ``RuntimeError`` (PyTorch reads out of bounds there)."""
    if not isinstance(indices, Tensor) or indices.dtype.is_floating_point or indices.dtype is bool_:
        raise RuntimeError(f"torch.take_along_dim(): dtype of indices should be int64 but got "
                           f"{getattr(indices, 'dtype', type(indices).__name__)}")
    if dim is None:
        flat = reshape(x, -1)
        return gather(flat, 0, Tensor(checked_indices(indices, flat.shape[0], 0, RuntimeError).reshape(-1)))
    if x.ndim != indices.ndim:
        raise RuntimeError(f"torch.take_along_dim(): input and indices should have the same number of dimensions, "
                           f"but got {x.ndim} dimensions for input, and {indices.ndim} dimensions for indices")
    d = normalize_dim(dim, x.ndim)
    idx = Tensor(checked_indices(indices, x.shape[d], d, RuntimeError))
    outer = broadcast_shapes(x.shape[:d] + (1,) + x.shape[d + 1:], idx.shape[:d] + (1,) + idx.shape[d + 1:])
    x = expand(x, outer[:d] + (x.shape[d],) + outer[d + 1:])
    return gather(x, d, expand(idx, outer[:d] + (idx.shape[d],) + outer[d + 1:]))


# --- in place ---------------------------------------------------------------------------------------------------
def _write_back(t: Tensor, values: tuple, result: Any) -> Tensor:
    """Write the out-of-place ``result(t)`` into ``t``'s storage (not recorded, as every
    in-place op here: see :mod:`tinytorch.ops.inplace`)."""
    check_inplace(t, values)
    with no_grad():
        out = result(t.detach())
    if out.shape != t.shape:
        raise RuntimeError(f"output with shape {list(t.shape)} doesn't match the broadcast shape {list(out.shape)}")
    t._data[...] = out._data
    return t


@op(function=False, grad=False)
def scatter_(t: Tensor, dim: int, index: Tensor, src: Any = None, value: Any = None, *,
             reduce: str | None = None) -> Tensor:
    """:func:`scatter` into ``t`` itself."""
    return _write_back(t, (src,), lambda x: scatter(x, dim, index, src, value, reduce=reduce))


@op(function=False, grad=False)
def scatter_add_(t: Tensor, dim: int, index: Tensor, src: Tensor) -> Tensor:
    """:func:`scatter_add` into ``t`` itself."""
    return _write_back(t, (src,), lambda x: scatter_add(x, dim, index, src))


@op(function=False, grad=False)
def scatter_reduce_(t: Tensor, dim: int, index: Tensor, src: Tensor, reduce: str, *,
                    include_self: bool = True) -> Tensor:
    """:func:`scatter_reduce` into ``t`` itself."""
    return _write_back(t, (src,), lambda x: scatter_reduce(x, dim, index, src, reduce, include_self=include_self))


@op(function=False, grad=False)
def index_add_(t: Tensor, dim: int, index: Tensor, source: Tensor, *, alpha: Any = 1) -> Tensor:
    """:func:`index_add` into ``t`` itself."""
    return _write_back(t, (source,), lambda x: index_add(x, dim, index, source, alpha=alpha))


@op(function=False, grad=False)
def index_copy_(t: Tensor, dim: int, index: Tensor, source: Tensor) -> Tensor:
    """:func:`index_copy` into ``t`` itself."""
    return _write_back(t, (source,), lambda x: index_copy(x, dim, index, source))


@op(function=False, grad=False)
def index_fill_(t: Tensor, dim: int, index: Tensor, value: Any) -> Tensor:
    """:func:`index_fill` into ``t`` itself."""
    return _write_back(t, (value,), lambda x: index_fill(x, dim, index, value))


@op(function=False, grad=False)
def masked_scatter_(t: Tensor, mask: Tensor, source: Tensor) -> Tensor:
    """:func:`masked_scatter` into ``t`` itself (``mask`` must broadcast to ``t``'s shape)."""
    return _write_back(t, (source,), lambda x: masked_scatter(x, mask, source))


__all__ = exports(__name__)
