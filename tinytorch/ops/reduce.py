"""Reductions: two primitives (``Sum`` and ``Amax``) and everything composed from them, but
``log_softmax``, a primitive too for speed (see :class:`LogSoftmax`).

``dim`` may be None (all dims), an int or a tuple, and may be negative. Softmax,
log-softmax and logsumexp subtract the row maximum as a *constant* first, so they are exact
for inputs like 1000.0 without a fused kernel: the constant cancels out of the gradient.
"""

from __future__ import annotations

import builtins
import collections
import functools
import math
from typing import Any

import numpy as np

from ..ndarray import NDArray, as_dtype
from ..ndarray import array as nd_array
from ..ndarray import full as nd_full
from ..ndarray import where as nd_where
from ..ndarray.dtypes import float32, int64
from ..tensor import Function, Tensor, is_grad_enabled
from .dims import normalize_dim, normalize_dims, size_arg
from .elementwise import Cast, exp, log, maximum, minimum, sign, sqrt, where
from .elementwise import abs as abs_
from .linalg import svdvals
from .movement import expand, gather, permute, reshape, squeeze, unsqueeze
from .scan import Cumprod, flip_along, shifted
from .table import exports, op


def _kept_shape(shape: tuple[int, ...], dims: tuple[int, ...]) -> tuple[int, ...]:
    """``shape`` with each reduced dim replaced by 1 (the ``keepdim=True`` shape)."""
    return tuple(1 if i in dims else n for i, n in enumerate(shape))


class Sum(Function):
    def forward(self, a: NDArray, dims: tuple[int, ...], keepdim: bool) -> NDArray:
        self.shape, self.dims, self.keepdim = a.shape, dims, keepdim
        return a.sum(dims, keepdims=keepdim)

    def backward(self, g: Tensor) -> Tensor:
        if not self.keepdim:
            g = reshape(g, _kept_shape(self.shape, self.dims))
        return expand(g, self.shape)


class Amax(Function):
    """Max (``op="max"``) or min (``op="min"``) over ``dims``, each computed by its own kernel
    (never as ``-max(-x)``, which wraps at INT64_MIN and turns bools into ints).

    The gradient is shared equally by the elements equal to the result (``amax``'s rule: a NaN
    result equals nothing, so its gradient is NaN, as PyTorch's). With ``nan_wins=True``
    (``max(x)``/``min(x)``, PyTorch's "evenly distribute" rule) a NaN result belongs to the
    NaN inputs instead."""

    def forward(self, a: NDArray, dims: tuple[int, ...], keepdim: bool, op: str = "max",
                nan_wins: bool = False) -> NDArray:
        self.dims, self.keepdim, self.nan_wins = dims, keepdim, nan_wins
        self.kept = getattr(a, op)(dims, keepdims=True)
        return self.kept if keepdim else self.kept.reshape(tuple(n for i, n in enumerate(a.shape) if i not in dims))

    def backward(self, g: Tensor) -> Tensor:
        x = self.inputs[0]._data
        chosen = x == self.kept
        if self.nan_wins:
            chosen = chosen | ((x != x) & (self.kept != self.kept))
        is_max = chosen.astype(x.dtype)
        share = Tensor._make(is_max / is_max.sum(self.dims, keepdims=True), False, None)
        return (g if self.keepdim else reshape(g, self.kept.shape)) * share


@op
def sum(x: Tensor, dim: Any = None, keepdim: bool = False, *, dtype: Any = None) -> Tensor:  # noqa: A001
    """The sum over ``dim`` (all dims when None); with ``dtype``, ``x`` is cast to it first."""
    if dtype is not None and as_dtype(dtype) is not x.dtype:
        x = Cast.apply(x, dtype=as_dtype(dtype))
    return Sum.apply(x, dims=normalize_dims(dim, x.ndim), keepdim=keepdim)


@op(function=False)
def sum_to_size(x: Tensor, *size: Any) -> Tensor:
    """``x`` summed to ``size``, which must broadcast to ``x``'s shape: the leading dims ``size``
    lacks and the dims where it has 1 are summed (the gradient of a broadcast, reversed)."""
    shape = tuple(size_arg(size))
    lead = x.ndim - len(shape)
    if lead < 0 or builtins.any(n not in (1, m) for n, m in zip(shape, x.shape[lead:])):
        raise RuntimeError(f"size {{{list(shape)}}} is not expandable to size {{{list(x.shape)}}}.")
    dims = tuple(range(lead)) + tuple(lead + i for i, n in enumerate(shape) if n == 1 and x.shape[lead + i] != 1)
    return reshape(Sum.apply(x, dims=dims, keepdim=False), shape) if dims else x


@op
def amax(x: Tensor, dim: Any = (), keepdim: bool = False) -> Tensor:
    dims = normalize_dims(dim, x.ndim)
    _check_nonempty(x, dims, "amax", all_dims=dim is None or dim == ())
    return Amax.apply(x, dims=dims, keepdim=keepdim)


@op
def amin(x: Tensor, dim: Any = (), keepdim: bool = False) -> Tensor:
    dims = normalize_dims(dim, x.ndim)
    _check_nonempty(x, dims, "amin", all_dims=dim is None or dim == ())
    return Amax.apply(x, dims=dims, keepdim=keepdim, op="min")


def _check_nonempty(x: Tensor, dims: tuple[int, ...], name: str, all_dims: bool = False) -> None:
    """PyTorch's errors for reducing nothing: RuntimeError when every dim of an empty tensor is
    reduced (``all_dims``: no dim was given), IndexError for an empty dim that was named."""
    if all_dims and x.numel() == 0:
        raise RuntimeError(f"{name}(): Expected reduction dim to be specified for input.numel() == 0. "
                           "Specify the reduction dim with the 'dim' argument.")
    if builtins.any(x.shape[d] == 0 for d in dims if d < x.ndim):
        raise IndexError(f"{name}(): Expected reduction dim to have non-zero size, got shape {x.shape}")


@op
def mean(x: Tensor, dim: Any = None, keepdim: bool = False, *, dtype: Any = None) -> Tensor:
    """The mean over ``dim`` (all dims when None), of a float ``x`` or of ``x`` cast to ``dtype``."""
    if dtype is not None and as_dtype(dtype) is not x.dtype:
        x = Cast.apply(x, dtype=as_dtype(dtype))
    if not x.dtype.is_floating_point:
        raise RuntimeError(f"mean(): could not infer output dtype. Input dtype must be either a floating point "
                           f"or complex dtype. Got: {x.dtype.name}")
    dims = normalize_dims(dim, x.ndim)
    return sum(x, dims, keepdim) / math.prod(x.shape[d] for d in dims)


@op
def var(x: Tensor, dim: Any = None, unbiased: Any = None, keepdim: bool = False, *, correction: Any = None) -> Tensor:
    """Variance over ``dim`` with Bessel's ``correction`` (default 1; ``unbiased=False`` means 0)."""
    if isinstance(dim, bool):  # var(unbiased) overload
        dim, unbiased = None, dim
    if correction is None:
        correction = 0 if unbiased is False else 1
    elif unbiased is not None:
        raise TypeError("var(): pass either unbiased or correction, not both")
    if not x.dtype.is_floating_point:
        raise RuntimeError(f"var(): expected a floating point input, got {x.dtype.name}")
    dims = normalize_dims(dim, x.ndim)
    n = math.prod(x.shape[d] for d in dims)
    centered = x - mean(x, dims, keepdim=True)
    return sum(centered * centered, dims, keepdim) / builtins.max(n - correction, 0)


@op
def std(x: Tensor, dim: Any = None, unbiased: Any = None, keepdim: bool = False, *, correction: Any = None) -> Tensor:
    """``sqrt(var(...))`` computed on ``x`` divided by its largest magnitude, so that neither the
    sum for the mean nor the squares can overflow: float32 ``std([1e20, -1e20])`` is 1.414e20
    (as PyTorch), where the variance itself (2e40) is inf. The scale is a constant: it cancels
    from the gradient."""
    if isinstance(dim, bool):  # std(unbiased) overload
        dim, unbiased = None, dim
    if not x.dtype.is_floating_point:
        raise RuntimeError(f"std(): expected a floating point input, got {x.dtype.name}")
    dims = normalize_dims(dim, x.ndim)
    if builtins.any(x.shape[d] == 0 for d in dims):
        return sqrt(var(x, dims, unbiased, keepdim, correction=correction))
    scale = ReducedConstant.apply(x, fn=_scale_of, dims=dims, keepdim=True).detach()
    scaled = sqrt(var(x / scale, dims, unbiased, keepdim, correction=correction))
    return scaled * (scale if keepdim else reshape(scale, scaled.shape))



def _scale_of(a: NDArray, dims: tuple[int, ...], keepdim: bool) -> NDArray:
    """The power of two :func:`std` divides by: at or below the largest magnitude over ``dims``."""
    return _power_of_two_above(a.abs().max(dims, keepdims=keepdim))


def _power_of_two_above(a: NDArray) -> NDArray:
    """The largest power of two <= each element of ``a`` (>= 0), 1 for 0, NaN and inf kept:
    dividing by a power of two is exact, so scaling costs no precision. Computed on the host
    (``frexp``), for the few numbers a reduction leaves."""
    host = a.numpy()
    mantissa, exponent = np.frexp(host)
    powers = np.where(np.isfinite(host) & (host > 0), np.ldexp(np.ones_like(host), exponent - 1), host)
    powers = np.where(host == 0, 1, powers).astype(host.dtype)
    return nd_array(powers, device=a.device)


@op(grad=False)
def count_nonzero(x: Tensor, dim: Any = None) -> Tensor:
    """The number of nonzero elements over ``dim`` (all dims when None), as int64."""
    return ReducedConstant.apply(x, fn=_count_nonzero_of, dims=normalize_dims(dim, x.ndim), keepdim=False)


def _count_nonzero_of(a: NDArray, dims: tuple[int, ...], keepdim: bool) -> NDArray:
    return (a != 0).sum(dims, keepdims=keepdim)


@op(method=False)
def var_mean(x: Tensor, dim: Any = None, unbiased: Any = None, keepdim: bool = False, *,
             correction: Any = None) -> tuple[Tensor, Tensor]:
    """``(var(x, dim), mean(x, dim))`` with :func:`var`'s arguments."""
    return var(x, dim, unbiased, keepdim, correction=correction), mean(x, None if isinstance(dim, bool) else dim,
                                                                       keepdim)


@op(method=False)
def std_mean(x: Tensor, dim: Any = None, unbiased: Any = None, keepdim: bool = False, *,
             correction: Any = None) -> tuple[Tensor, Tensor]:
    """``(std(x, dim), mean(x, dim))`` with :func:`std`'s arguments."""
    return std(x, dim, unbiased, keepdim, correction=correction), mean(x, None if isinstance(dim, bool) else dim,
                                                                       keepdim)


class Prod(Function):
    """The product along ``dim``. The gradient of each element is the product of the others,
    ``prod(x[:i]) * prod(x[i+1:])`` from two running products: exact with zeros in ``x`` (no
    division), and differentiable again."""

    def forward(self, a: NDArray, dim: int, keepdim: bool) -> NDArray:
        self.dim, self.keepdim = dim, keepdim
        kept = _kept_shape(a.shape, (dim,))
        if a.shape[dim] == 0:
            out = nd_full(kept, 1, dtype=a.dtype, device=a.device)
        else:  # the last running product (ceil(log2 n) array ops, every backend)
            out = a.cumprod(dim)[(slice(None),) * dim + (slice(a.shape[dim] - 1, None),)]
        return out if keepdim else out.reshape(tuple(n for i, n in enumerate(a.shape) if i != dim))

    def backward(self, g: Tensor) -> Tensor:
        x, d = self.inputs[0], self.dim
        if not self.keepdim:
            g = unsqueeze(g, d)
        if x.shape[d] == 0:
            return expand(g, x.shape)
        before = Cumprod.apply(shifted(x, d), dim=d)
        after = flip_along(Cumprod.apply(shifted(flip_along(x, d), d), dim=d), d)
        return g * (before * after)


@op
def prod(x: Tensor, dim: Any = None, keepdim: bool = False, *, dtype: Any = None) -> Tensor:
    """The product of all elements, or along the int ``dim`` (bools and integers give int64).
    The gradient is exact with zeros in the input."""
    if isinstance(dim, (tuple, list)):
        raise TypeError(f"prod(): argument 'dim' must be int, not {type(dim).__name__}")
    if dtype is not None:
        x = Cast.apply(x, dtype=dtype)
    elif not x.dtype.is_floating_point and x.dtype is not int64:
        x = Cast.apply(x, dtype=int64)
    if dim is None:
        return reshape(Prod.apply(reshape(x, (-1,)), dim=0, keepdim=False), ())
    d = normalize_dim(dim, x.ndim)
    if x.ndim == 0:
        return x * 1
    return Prod.apply(x, dim=d, keepdim=keepdim)


class VectorNorm(Function):
    """``sum(|x|**p, dims) ** (1/p)`` with PyTorch's special cases (``p = inf``: max |x|, ``-inf``:
    min |x|, ``0``: the count of nonzeros) and PyTorch's gradient, which is 0 (a subgradient)
    where the norm is 0 and has no 0/0 anywhere."""

    def forward(self, a: NDArray, p: float, dims: tuple[int, ...], keepdim: bool) -> NDArray:
        self.p, self.dims, self.keepdim = p, dims, keepdim
        size = a.abs()
        if p == math.inf:
            out = size.max(dims, keepdims=True)
        elif p == -math.inf:
            out = size.min(dims, keepdims=True)
        elif p == 0:
            out = (a != 0).astype(a.dtype).sum(dims, keepdims=True)
        elif p == 1:
            out = size.sum(dims, keepdims=True)
        elif p == 2:
            out = (a * a).sum(dims, keepdims=True).sqrt()
        else:
            out = (size ** p).sum(dims, keepdims=True) ** (1.0 / p)
        self.out = out if keepdim else out.reshape(tuple(n for i, n in enumerate(a.shape) if i not in dims))
        return self.out

    def backward(self, g: Tensor) -> Tensor:
        x, norm, p = self.inputs[0], self.output(), self.p
        if not self.keepdim:
            kept = _kept_shape(x.shape, self.dims)
            g, norm = reshape(g, kept), reshape(norm, kept)
        if p == 0:
            return Tensor._make(nd_full(x.shape, 0, dtype=x.dtype, device=x.device), False, None)
        if p == 1:
            return sign(x) * g
        if abs(p) == math.inf:  # shared by the elements at the max (min), or by the NaNs
            size = x._data.abs()
            chosen = ((size == norm._data) | (size != size)).astype(x.dtype)
            share = Tensor._make(chosen / chosen.sum(self.dims, keepdims=True), False, None)
            return sign(x) * g * share
        zero = Tensor._make(norm._data == 0, False, None)
        scale = where(zero, 0.0, g / where(zero, 1.0, norm) ** (p - 1))  # 0 where the norm is 0
        if p == 2:
            return x * scale
        size = abs_(x)
        if p < 1:  # |x|**(p-1) is infinite at 0: those elements get 0, as in PyTorch
            at_zero = Tensor._make(x._data == 0, False, None)
            scaled = sign(x) * where(at_zero, 0.0, where(at_zero, 1.0, size) ** (p - 1))
            return scaled * g * norm ** (1 - p)
        if p < 2:
            return sign(x) * size ** (p - 1) * scale
        return x * size ** (p - 2) * scale


def vector_norm(x: Tensor, ord: Any = 2, dim: Any = None, keepdim: bool = False, *,  # noqa: A002
                dtype: Any = None) -> Tensor:
    """``torch.linalg.vector_norm``: the ``ord``-norm of ``x`` over ``dim`` (all dims when None)
    as a flat vector. ``ord`` is any float, ``inf`` or ``-inf``; ``0`` counts the nonzeros."""
    if dtype is not None:
        x = Cast.apply(x, dtype=dtype)
    if not x.dtype.is_floating_point:
        raise RuntimeError(f"linalg.vector_norm: Expected a floating point or complex tensor as input. "
                           f"Got {x.dtype.name}")
    if isinstance(ord, str):
        raise RuntimeError(f"linalg.vector_norm: ord must be a number, got {ord!r}")
    dims = normalize_dims(dim, x.ndim)
    if ord < 0 and builtins.any(x.shape[d] == 0 for d in dims):
        raise RuntimeError(f"linalg.vector_norm cannot compute the {ord} norm on an empty tensor because the "
                           f"operation does not have an identity")
    if abs(ord) == math.inf and builtins.any(x.shape[d] == 0 for d in dims):
        raise RuntimeError("linalg.vector_norm cannot compute the inf norm on an empty tensor because the "
                           "operation does not have an identity")
    return VectorNorm.apply(x, p=float(ord), dims=dims, keepdim=keepdim)


def singular_value_norm(x: Tensor, ord: Any, rows: int, cols: int, keepdim: bool) -> Tensor:  # noqa: A002
    """The matrix norms made of singular values, of the matrices over dims ``(rows, cols)``:
    ``'nuc'`` their sum, ``2`` the largest, ``-2`` the smallest (host SVD, see ``svdvals``)."""
    rest = [i for i in range(x.ndim) if i not in (rows, cols)]
    values = svdvals(permute(x, rest + [rows, cols]))
    out = sum(values, -1) if ord == "nuc" else amax(values, -1) if ord == 2 else amin(values, -1)
    return reshape(out, _kept_shape(x.shape, (rows, cols))) if keepdim else out


@op
def norm(x: Tensor, p: Any = "fro", dim: Any = None, keepdim: bool = False, dtype: Any = None) -> Tensor:
    """``torch.norm``: ``p='fro'`` (default) is the 2-norm of the elements over ``dim`` (all dims
    when None), a number ``p`` is :func:`vector_norm` with that order, ``p='nuc'`` the nuclear
    norm (the sum of the singular values) of the matrices over the two dims ``dim`` (``x`` 2-D
    when None)."""
    if p == "fro" or p is None:
        p = 2
    elif p == "nuc":
        if dtype is not None:
            x = Cast.apply(x, dtype=dtype)
        if dim is None and x.ndim != 2:
            raise RuntimeError(f"linalg.matrix_norm: The input tensor A must have 2 dimensions when dim is None, "
                               f"got {x.ndim}")
        rows, cols = (0, 1) if dim is None else (normalize_dim(dim[0], x.ndim), normalize_dim(dim[1], x.ndim))
        return singular_value_norm(x, "nuc", rows, cols, keepdim)
    elif isinstance(p, str):
        raise RuntimeError(f"norm(): p={p!r} is not a norm PyTorch knows (use 'fro', 'nuc' or a number)")
    return vector_norm(x, p, dim, keepdim, dtype=dtype)


_max_result = collections.namedtuple("max", ["values", "indices"])  # type: ignore[name-match]  # PyTorch's name
_min_result = collections.namedtuple("min", ["values", "indices"])  # type: ignore[name-match]


@op
def max(x: Tensor, dim: Any = None, keepdim: bool = False) -> Any:  # noqa: A001  (a Tensor or (values, indices))
    """``max(x)`` → the largest value (ties share the gradient); ``max(x, dim)`` → ``(values,
    indices)`` with the gradient going to the index chosen; ``max(x, other)`` → ``maximum``."""
    if isinstance(dim, Tensor):
        return maximum(x, dim)
    if dim is None:
        if x.numel() == 0:
            raise RuntimeError("max(): Expected reduction dim to be specified for input.numel() == 0.")
        return Amax.apply(x, dims=tuple(range(x.ndim)), keepdim=False, op="max", nan_wins=True)
    return _select(x, dim, keepdim, argmax, _max_result)


@op
def min(x: Tensor, dim: Any = None, keepdim: bool = False) -> Any:  # noqa: A001  (a Tensor or (values, indices))
    """Like :func:`max`, for the smallest value."""
    if isinstance(dim, Tensor):
        return minimum(x, dim)
    if dim is None:
        if x.numel() == 0:
            raise RuntimeError("min(): Expected reduction dim to be specified for input.numel() == 0.")
        return Amax.apply(x, dims=tuple(range(x.ndim)), keepdim=False, op="min", nan_wins=True)
    return _select(x, dim, keepdim, argmin, _min_result)


def _select(x: Tensor, dim: Any, keepdim: bool, arg: Any, result: Any) -> Any:
    d = normalize_dim(dim, x.ndim)
    if x.ndim == 0:
        return result(x, _arg(x, d, False, arg.__name__, bools=True))
    indices = _arg(x, d, True, arg.__name__, bools=True)
    values = gather(x, d, indices)
    if not keepdim:
        values, indices = squeeze(values, d), squeeze(indices, d)
    return result(values, indices)


@op(grad=False)
def argmax(x: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
    """The index of the largest value (over the flattened tensor when ``dim`` is None)."""
    return _arg(x, dim, keepdim, "argmax")


@op(grad=False)
def argmin(x: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
    return _arg(x, dim, keepdim, "argmin")


def _arg(x: Tensor, dim: Any, keepdim: bool, op: str, bools: bool = False) -> Tensor:
    """argmax/argmin; bools only when ``bools`` (``max(x, dim)`` takes them, ``argmax`` not: PyTorch's rules)."""
    if x.dtype.name == "bool" and not bools:
        raise RuntimeError(f"{op}(): does not support bool input")
    axis = None if dim is None else normalize_dim(dim, x.ndim)
    if axis is None and x.numel() == 0:
        raise IndexError(f"{op}(): Expected reduction dim to be specified for input.numel() == 0.")
    _check_nonempty(x, () if axis is None else (axis,), op)
    if x.ndim == 0:  # index 0, found by the op on the one element as a 1-d tensor
        return reshape(_arg(reshape(x, (1,)), 0, False, op, bools), ())
    pick = functools.partial(_arg_of, op)
    if axis is None:  # over the flattened tensor; keepdim keeps every dim, of size 1
        flat = ReducedConstant.apply(reshape(x, (-1,)), fn=pick, dims=(0,), keepdim=False)
        return reshape(flat, (1,) * x.ndim) if keepdim else flat
    return ReducedConstant.apply(x, fn=pick, dims=(axis,), keepdim=keepdim)


def _arg_of(op: str, a: NDArray, dims: tuple[int, ...], keepdim: bool) -> NDArray:
    return getattr(a, op)(dims[0], keepdims=keepdim)


@op(grad=False)
def all(x: Tensor, dim: Any = None, keepdim: bool = False) -> Tensor:  # noqa: A001
    """True where every element along ``dim`` is nonzero."""
    dims = normalize_dims(dim, x.ndim, empty_means_all=False)  # all(x, dim=()) reduces nothing, as PyTorch's
    return ReducedConstant.apply(x, fn=_all_of, dims=dims, keepdim=keepdim)


def _all_of(a: NDArray, dims: tuple[int, ...], keepdim: bool) -> NDArray:
    return (a == 0).sum(dims, keepdims=keepdim) == 0


def _any_of(a: NDArray, dims: tuple[int, ...], keepdim: bool) -> NDArray:
    return (a != 0).sum(dims, keepdims=keepdim) > 0


@op(grad=False)
def any(x: Tensor, dim: Any = None, keepdim: bool = False) -> Tensor:  # noqa: A001
    """True where some element along ``dim`` is nonzero."""
    dims = normalize_dims(dim, x.ndim, empty_means_all=False)
    return ReducedConstant.apply(x, fn=_any_of, dims=dims, keepdim=keepdim)


def _finite_max(a: NDArray, dims: tuple[int, ...]) -> NDArray:
    """The max of ``a`` over ``dims`` (kept), with ±inf replaced by 0 so that ``a - max``
    never computes ``inf - inf``."""
    m = a.max(dims, keepdims=True)
    return nd_where(m.abs() == math.inf, 0.0, m)


class ReducedConstant(Function):
    """``fn(a, dims, keepdim)``: a reduction over ``dims`` whose result carries no gradient
    (indices, counts, truth values, a scale). An op rather than arithmetic on ``x._data`` so that
    dispatch modes see it (``vmap`` shifts its ``dims``)."""

    def forward(self, a: NDArray, fn: Any, dims: tuple[int, ...], keepdim: bool) -> NDArray:
        return fn(a, dims, keepdim)

    def backward(self, g: Tensor) -> None: return None


class FiniteMax(Function):
    """:func:`_finite_max` over ``dims`` (kept): the shift that keeps ``exp`` from overflowing.
    It is a constant of the graph (no gradient flows through it), but an op, so that dispatch
    modes see it (``vmap`` shifts its ``dims``)."""

    def forward(self, a: NDArray, dims: tuple[int, ...]) -> NDArray: return _finite_max(a, dims)
    def backward(self, g: Tensor) -> None: return None


def _row_max(x: Tensor, dims: tuple[int, ...]) -> Tensor:
    """:func:`_finite_max` of ``x`` as a constant tensor."""
    return FiniteMax.apply(x, dims=dims).detach()


@op
def logsumexp(x: Tensor, dim: Any, keepdim: bool = False) -> Tensor:
    """``log(sum(exp(x), dim))`` computed as ``m + log(sum(exp(x - m)))`` with ``m`` the max;
    integers and bools are read as float32 first (as PyTorch)."""
    if not x.dtype.is_floating_point:
        x = x.to(float32)
    dims = normalize_dims(dim, x.ndim)
    if x.numel() == 0:
        return log(sum(exp(x), dims, keepdim))
    m = _row_max(x, dims)
    out = log(sum(exp(x - m), dims, keepdim=True)) + m
    return out if keepdim else squeeze(out, dims)


class Softmax(Function):
    """``softmax`` as one node (attention computes one per head and layer; as a composite it was
    five nodes and their backward passes). Forward ``e / sum(e)`` with ``e = exp(x - m)``, ``m``
    the max over ``dim`` (``NDArray.softmax``, one backend pass per row along the last dim);
    backward ``y * (g - sum(g * y))`` with ``y`` the output, computed on arrays unless the
    backward pass is recorded (then with ``y`` kept differentiable)."""

    def forward(self, a: NDArray, dim: int) -> NDArray:
        self.dim = dim
        self.out = a.softmax(dim)
        return self.out

    def backward(self, g: Tensor) -> Tensor:
        if is_grad_enabled():
            y = self.output()
            return y * (g - sum(g * y, self.dim, keepdim=True))
        return Tensor._make(self.out.softmax_backward(g._data, self.dim), False, None)


@op
def softmax(x: Tensor, dim: int) -> Tensor:
    """``exp(x) / sum(exp(x), dim)``, with the max subtracted first so large inputs cannot overflow."""
    d = normalize_dims(normalize_dim(dim, x.ndim), x.ndim)
    if x.numel() == 0:
        return exp(x)
    if not x.dtype.is_floating_point:
        x = x.to(float32)
    return Softmax.apply(x, dim=d[0])


class LogSoftmax(Function):
    """``log_softmax`` as one node, because every classifier's loss calls it: as a composite it
    was six nodes (the cost of an op in Python is larger than its arithmetic on a batch of
    logits). Forward ``(x - m) - log(sum(exp(x - m)))`` with ``m`` the max over ``dim``;
    backward ``g - softmax(x) * sum(g)``, with ``softmax(x) = exp(output)`` kept differentiable."""

    def forward(self, a: NDArray, dims: tuple[int, ...]) -> NDArray:
        self.dims = dims
        shifted = a - _finite_max(a, dims)
        self.out = shifted - shifted.exp().sum(dims, keepdims=True).log()
        return self.out

    def backward(self, g: Tensor) -> Tensor:
        return g - exp(self.output()) * sum(g, self.dims, keepdim=True)


@op
def log_softmax(x: Tensor, dim: int) -> Tensor:
    """``x - logsumexp(x, dim)``, computed as ``(x - m) - log(sum(exp(x - m)))`` to keep precision."""
    d = normalize_dims(normalize_dim(dim, x.ndim), x.ndim)
    if x.numel() == 0:
        return exp(x)
    return LogSoftmax.apply(x, dims=d)


__all__ = exports(__name__)
