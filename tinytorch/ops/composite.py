"""Named compositions: ops PyTorch gives a name of their own that are a few lines of other ops.

Nothing here is a primitive (there is no ``Function`` in this module): each op is written with
the ops of the modules below, so its gradient comes from theirs and it runs on every device.
Where a formula has a removable singularity (``sinc`` at 0, ``xlogy`` at ``x == 0``) the
unused branch is evaluated at a safe point, so that its gradient is 0, not ``0 * inf = NaN``.
The few ops here with no gradient (``unique``, ``bincount``, ``histc``, the predicates) say so
in the table.
"""

from __future__ import annotations

import collections
import math
from typing import Any

import numpy as np

from ..ndarray.dtypes import bool_, float32, float64, int64
from ..tensor import Tensor
from .creation import eye, ones_like, tensor, zeros, zeros_like
from .dims import normalize_dim
from .elementwise import (
    ceil,
    clamp,
    copysign,
    eq,
    floor,
    isnan,
    log,
    logical_not,
    logical_or,
    mul,
    pow,
    sin,
    sqrt,
    where,
)
from .linalg import inverse, slogdet
from .matmul import matmul
from .movement import cat, diagonal, gather, narrow, reshape, roll, split, stack, tensor_split
from .reduce import amax, amin, norm
from .reduce import sum as sum_
from .sort import sort
from .table import exports, op

_aminmax_result = collections.namedtuple("aminmax", ["min", "max"])  # type: ignore[name-match]  # PyTorch's name


# --- elementwise ----------------------------------------------------------------------------------------
@op
def addcmul(input: Tensor, tensor1: Tensor, tensor2: Tensor, *, value: Any = 1) -> Tensor:
    """``input + value * tensor1 * tensor2`` (broadcasting)."""
    return input + value * tensor1 * tensor2


@op
def addcdiv(input: Tensor, tensor1: Tensor, tensor2: Tensor, *, value: Any = 1) -> Tensor:
    """``input + value * tensor1 / tensor2`` (broadcasting)."""
    return input + value * tensor1 / tensor2


@op
def xlogy(input: Any, other: Any) -> Tensor:
    """``input * log(other)``, defined as 0 where ``input == 0`` (unless ``other`` is NaN)."""
    x, y = _as_tensors(input, other)
    zero = eq(x, 0) & logical_not(isnan(y))
    return where(zero, 0.0, mul(x, log(where(zero, 1.0, y))))


@op
def logit(input: Tensor, eps: float | None = None) -> Tensor:
    """``log(p / (1 - p))``; with ``eps``, ``p`` is first clamped to ``[eps, 1 - eps]``."""
    p = input if eps is None else clamp(input, eps, 1 - eps)
    return log(p / (1 - p))


@op
def sinc(input: Tensor) -> Tensor:
    """The normalised sinc, ``sin(pi x) / (pi x)``, with ``sinc(0) = 1``."""
    zero = eq(input, 0)
    scaled = where(zero, 1.0, input) * math.pi
    return where(zero, 1.0, sin(scaled) / scaled)


@op
def deg2rad(input: Tensor) -> Tensor:
    """Degrees to radians (integers become float32, as PyTorch)."""
    return input * (math.pi / 180.0)


@op
def rad2deg(input: Tensor) -> Tensor:
    """Radians to degrees (integers become float32, as PyTorch)."""
    return input * (180.0 / math.pi)


@op
def float_power(input: Any, exponent: Any) -> Tensor:
    """``input ** exponent`` computed in float64, whatever the inputs' dtypes."""
    base = input.to(float64) if isinstance(input, Tensor) else float(input)
    exp = exponent.to(float64) if isinstance(exponent, Tensor) else float(exponent)
    return pow(base, exp)


@op
def fmax(input: Tensor, other: Tensor) -> Tensor:
    """Elementwise maximum that ignores NaN (NaN only where both are NaN); ties go to ``input``."""
    return where(logical_or(input >= other, isnan(other)), input, other)


@op
def fmin(input: Tensor, other: Tensor) -> Tensor:
    """Elementwise minimum that ignores NaN (NaN only where both are NaN); ties go to ``input``."""
    return where(logical_or(input <= other, isnan(other)), input, other)


@op(grad=False)
def heaviside(input: Tensor, values: Any) -> Tensor:
    """The step function: 0 where ``input < 0``, 1 where ``input > 0``, ``values`` where it is 0."""
    return where(eq(input, 0), values, (input > 0).to(input.dtype))


@op(grad=False)
def signbit(input: Tensor) -> Tensor:
    """True where the sign bit is set: negative numbers, ``-0.0`` and NaNs with the sign bit."""
    if not input.dtype.is_floating_point:
        return input < 0
    return copysign(ones_like(input), input) < 0


@op(grad=False)
def isposinf(input: Tensor) -> Tensor:
    """True where ``input`` is ``+inf``."""
    return eq(input, math.inf) if input.dtype.is_floating_point else zeros_like(input, dtype=bool_)


@op(grad=False)
def isneginf(input: Tensor) -> Tensor:
    """True where ``input`` is ``-inf``."""
    return eq(input, -math.inf) if input.dtype.is_floating_point else zeros_like(input, dtype=bool_)


@op(grad=False)
def isreal(input: Tensor) -> Tensor:
    """True everywhere: tinytorch has no complex dtypes."""
    return ones_like(input, dtype=bool_)


# --- along a dimension ------------------------------------------------------------------------------------
@op
def diff(input: Tensor, n: int = 1, dim: int = -1, prepend: Tensor | None = None,
         append: Tensor | None = None) -> Tensor:
    """The ``n``-th forward difference along ``dim``: ``x[i + 1] - x[i]``, applied ``n`` times
    (after concatenating ``prepend`` and ``append`` along ``dim``)."""
    if input.ndim == 0:
        raise RuntimeError("diff expects input to be at least one-dimensional")
    d = normalize_dim(dim, input.ndim)
    x = cat([t for t in (prepend, input, append) if t is not None], d)
    for _ in range(n):
        if x.shape[d] == 0:
            break
        x = narrow(x, d, 1, x.shape[d] - 1) - narrow(x, d, 0, x.shape[d] - 1)
    return x


@op
def cross(input: Tensor, other: Tensor, dim: int | None = None) -> Tensor:
    """The cross product of 3-vectors along ``dim`` (default: the first dimension of size 3)."""
    shape = tuple(np.broadcast_shapes(input.shape, other.shape))
    a, b = input.expand(*shape), other.expand(*shape)
    if dim is None:
        dim = next((i for i, s in enumerate(shape) if s == 3), None)
        if dim is None:
            raise RuntimeError(f"no dimension of size 3 in input of shape {shape}")
    d = normalize_dim(dim, len(shape))
    if shape[d] != 3:
        raise RuntimeError(f"linalg.cross: inputs dimension {dim} must have length 3. Got {shape[d]} and {shape[d]}")
    return roll(a, -1, d) * roll(b, -2, d) - roll(a, -2, d) * roll(b, -1, d)


@op
def inner(input: Tensor, other: Tensor) -> Tensor:
    """Sum of products over the last dimension of each: shape ``input.shape[:-1] + other.shape[:-1]``."""
    if input.ndim == 0 or other.ndim == 0:
        return input * other
    if input.shape[-1] != other.shape[-1]:
        raise RuntimeError(f"inner() the last dimension must match on both input tensors but got shapes "
                           f"{tuple(input.shape)} and {tuple(other.shape)}")
    k = input.shape[-1]
    flat = matmul(reshape(input, (-1, k)), reshape(other, (-1, k)).transpose(0, 1))
    return reshape(flat, tuple(input.shape[:-1]) + tuple(other.shape[:-1]))


@op
def kron(input: Tensor, other: Tensor) -> Tensor:
    """The Kronecker product: block ``(i, j, ...)`` of the result is ``input[i, j, ...] * other``."""
    n = max(input.ndim, other.ndim)
    a = reshape(input, (1,) * (n - input.ndim) + tuple(input.shape))
    b = reshape(other, (1,) * (n - other.ndim) + tuple(other.shape))
    interleaved_a = reshape(a, tuple(v for s in a.shape for v in (s, 1)))
    interleaved_b = reshape(b, tuple(v for s in b.shape for v in (1, s)))
    return reshape(interleaved_a * interleaved_b, tuple(x * y for x, y in zip(a.shape, b.shape)))


@op
def trace(input: Tensor) -> Tensor:
    """The sum of the main diagonal of a 2-D tensor."""
    if input.ndim != 2:
        raise RuntimeError(f"trace: expected a matrix, but got tensor with dim {input.ndim}")
    return sum_(diagonal(input))


# --- reductions -----------------------------------------------------------------------------------------------
@op
def nansum(input: Tensor, dim: Any = None, keepdim: bool = False, *, dtype: Any = None) -> Tensor:
    """``sum`` treating NaN as 0."""
    x = where(isnan(input), 0.0, input) if input.dtype.is_floating_point else input
    return (x if dtype is None else x.to(dtype)).sum(dim=() if dim is None else dim, keepdim=keepdim)


@op
def nanmean(input: Tensor, dim: Any = None, keepdim: bool = False, *, dtype: Any = None) -> Tensor:
    """``mean`` over the elements that are not NaN (NaN where there are none)."""
    if not input.dtype.is_floating_point:
        raise RuntimeError(f"nanmean(): expected input to have floating point dtype but got {input.dtype}")
    count = logical_not(isnan(input)).to(input.dtype).sum(dim=() if dim is None else dim, keepdim=keepdim)
    return nansum(input, dim, keepdim, dtype=dtype) / count


@op
def aminmax(input: Tensor, *, dim: int | None = None, keepdim: bool = False) -> Any:
    """``(min, max)`` of ``input`` (over ``dim``, or all of it), as a named tuple."""
    if input.numel() == 0 and dim is None:
        raise RuntimeError("aminmax(): cannot compute aminmax over an empty dimension as the operation has no identity")
    dims = () if dim is None else dim
    return _aminmax_result(amin(input, dims, keepdim), amax(input, dims, keepdim))


@op
def dist(input: Tensor, other: Tensor, p: float = 2) -> Tensor:
    """The ``p``-norm of ``input - other`` (broadcasting), over all elements."""
    return norm(input - other, p)


@op
def quantile(input: Tensor, q: Any, dim: int | None = None, keepdim: bool = False, *,
             interpolation: str = "linear") -> Tensor:
    """The ``q``-th quantiles of ``input`` along ``dim`` (all elements when None): NaN if a slice
    holds a NaN. A 1-D ``q`` puts its values along a new first dimension of the result.

    ``interpolation`` between the two nearest ranks: ``linear``, ``lower``, ``higher``,
    ``nearest`` (ties to the even rank) or ``midpoint``."""
    return _quantile(input, q, dim, keepdim, interpolation, ignore_nan=False)


@op
def nanquantile(input: Tensor, q: Any, dim: int | None = None, keepdim: bool = False, *,
                interpolation: str = "linear") -> Tensor:
    """:func:`quantile` of the elements that are not NaN (NaN for a slice with none)."""
    return _quantile(input, q, dim, keepdim, interpolation, ignore_nan=True)


def _quantile(x: Tensor, q: Any, dim: int | None, keepdim: bool, interpolation: str, ignore_nan: bool) -> Tensor:
    name = "nanquantile" if ignore_nan else "quantile"
    if interpolation not in ("linear", "lower", "higher", "nearest", "midpoint"):
        raise RuntimeError(f"{name}() interpolation must be one of linear, lower, higher, midpoint or nearest. "
                           f"Got {interpolation}")
    if not x.dtype.is_floating_point:
        raise RuntimeError(f"{name}() input tensor must be either float or double dtype")
    qs = q if isinstance(q, Tensor) else tensor(q, dtype=x.dtype, device=x.device)
    if qs.ndim > 1 or ((qs < 0) | (qs > 1)).any().item():
        raise RuntimeError(f"{name}() q must be a scalar or 1D tensor with values in [0, 1]")
    flat = dim is None
    src = reshape(x, (-1,)) if flat else x
    d = 0 if flat else normalize_dim(dim, x.ndim)
    if src.shape[d] == 0:
        raise IndexError(f"{name}() input tensor must be non-empty")
    values = sort(src, dim=d).values  # NaN sorts last
    nan = isnan(src)
    n = (logical_not(nan).to(x.dtype) if ignore_nan else ones_like(src)).sum(d, keepdim=True)
    out = []
    for qi in (qs.reshape(-1).tolist()):
        pos = (n - 1).clamp(min=0) * qi
        lo, hi = floor(pos), ceil(pos)
        if interpolation == "lower":
            hi = lo
        elif interpolation == "higher":
            lo = hi
        elif interpolation == "nearest":
            lo = hi = pos.round()
        v_lo = gather(values, d, lo.to(int64))
        v_hi = gather(values, d, hi.to(int64))
        weight = 0.5 if interpolation == "midpoint" else (pos - lo)
        v = v_lo + (v_hi - v_lo) * weight
        missing = eq(n, 0) if ignore_nan else nan.any(d, keepdim=True)
        v = where(missing, math.nan, v)
        out.append(v if keepdim and not flat else v.squeeze(d))
    result = stack(out, 0) if qs.ndim == 1 else out[0]
    if flat and keepdim:
        result = reshape(result, tuple(result.shape[:qs.ndim]) + (1,) * x.ndim)
    return result


@op
def cov(input: Tensor, *, correction: int = 1, fweights: Tensor | None = None,
        aweights: Tensor | None = None) -> Tensor:
    """The covariance matrix of the variables in the rows of ``input`` (observations in the
    columns; a 1-D input is one variable), with ``correction`` as the degrees of freedom removed."""
    if input.ndim > 2:
        raise RuntimeError(f"cov(): expected input to have two or fewer dimensions but got an input with "
                           f"{input.ndim} dimensions")
    if fweights is not None or aweights is not None:
        raise NotImplementedError("cov(): fweights and aweights are not supported by tinytorch")
    x = input if input.ndim == 2 else reshape(input, (1, -1))
    x = x if x.dtype.is_floating_point else x.to(float32)  # integers: the default float dtype
    centred = x - x.mean(1, keepdim=True)
    c = matmul(centred, centred.transpose(0, 1)) / (x.shape[1] - correction)
    return c.squeeze() if input.ndim < 2 else c


@op
def corrcoef(input: Tensor) -> Tensor:
    """Pearson correlation coefficients of the rows of ``input``, clipped to ``[-1, 1]``."""
    c = cov(input)
    if c.ndim == 0:
        return c / c
    std = sqrt(diagonal(c))
    return clamp(c / std.unsqueeze(1) / std.unsqueeze(0), -1.0, 1.0)


# --- linear algebra -------------------------------------------------------------------------------------------
@op
def logdet(input: Tensor) -> Tensor:
    """``log(det(A))``: NaN for a negative determinant, ``-inf`` for a singular matrix."""
    sign, logabs = slogdet(input)
    return where(sign < 0, math.nan, where(eq(sign, 0), -math.inf, logabs))


@op
def matrix_power(input: Tensor, n: int) -> Tensor:
    """``A`` multiplied by itself ``n`` times (the identity for 0, powers of the inverse for
    ``n < 0``), by repeated squaring: about ``2 log2(n)`` matrix products."""
    if input.ndim < 2 or input.shape[-1] != input.shape[-2]:
        raise RuntimeError(f"linalg.matrix_power: A must be batches of square matrices, but they are "
                           f"{input.shape[-2] if input.ndim >= 2 else 1} by {input.shape[-1] if input.ndim else 1} "
                           f"matrices")
    if n == 0:
        return eye(input.shape[-1], dtype=input.dtype, device=input.device).expand(*input.shape).clone()
    base = inverse(input) if n < 0 else input
    result: Tensor | None = None
    k = -n if n < 0 else n
    while k:
        if k & 1:
            result = base if result is None else matmul(result, base)
        k >>= 1
        if k:
            base = matmul(base, base)
    assert result is not None
    return result


# --- counting (no gradient) -------------------------------------------------------------------------------
@op(grad=False)
def unique(input: Tensor, sorted: bool = True, return_inverse: bool = False, return_counts: bool = False,
           dim: int | None = None) -> Any:
    """The distinct values of ``input`` (distinct slices along ``dim``), sorted; optionally the
    index of each element's value (``inverse``, shaped like ``input``) and the counts.
    Computed on the host with numpy (the result's size depends on the data)."""
    a = input.numpy()
    axis = None if dim is None else normalize_dim(dim, input.ndim)
    values, inverse_idx, counts = np.unique(a, return_inverse=True, return_counts=True, axis=axis)
    out = [tensor(values, dtype=input.dtype, device=input.device)]
    if return_inverse:
        shape = a.shape if axis is None else (a.shape[axis],)
        out.append(tensor(inverse_idx.reshape(shape).astype(np.int64), device=input.device))
    if return_counts:
        out.append(tensor(counts.astype(np.int64), device=input.device))
    return out[0] if len(out) == 1 else tuple(out)


@op(grad=False)
def bincount(input: Tensor, weights: Tensor | None = None, minlength: int = 0) -> Tensor:
    """How often each value ``0 .. max(input)`` occurs in the 1-D non-negative int ``input``
    (the sum of ``weights`` at those positions, if given); at least ``minlength`` bins."""
    if input.ndim != 1 or input.dtype.is_floating_point or input.dtype is bool_:
        raise RuntimeError(f"bincount only supports 1-d non-negative integral inputs, got {input.dtype} "
                           f"of shape {tuple(input.shape)}")
    if minlength < 0:
        raise RuntimeError("minlength should be >= 0")
    if input.numel() and input.min().item() < 0:
        raise RuntimeError("bincount only supports 1-d non-negative integral inputs.")
    size = max(minlength, int(input.max().item()) + 1 if input.numel() else 0)
    if weights is None:
        return zeros(size, dtype=int64, device=input.device).index_add(0, input, ones_like(input))
    if weights.shape != input.shape:
        raise RuntimeError("weights should be 1-d and have the same length as input")
    w = weights if weights.dtype.is_floating_point else weights.to(float64)
    return zeros(size, dtype=w.dtype, device=input.device).index_add(0, input, w.detach())


@op(grad=False)
def histc(input: Tensor, bins: int = 100, min: float = 0, max: float = 0) -> Tensor:
    """A histogram of ``bins`` equal-width bins over ``[min, max]`` (the data's range when both are
    0); elements outside are ignored, and ``max`` itself falls in the last bin."""
    if not input.dtype.is_floating_point:
        raise RuntimeError(f"\"histogram_cpu\" not implemented for '{input.dtype}'")
    if bins <= 0:
        raise RuntimeError(f"torch.histc: bins must be > 0, but got {bins} for bins")
    x = input.detach().reshape(-1)
    lo, hi = float(min), float(max)
    if lo == hi == 0 and x.numel():
        lo, hi = x.min().item(), x.max().item()
    if lo == hi:
        lo, hi = lo - 1, hi + 1
    if lo > hi:
        raise RuntimeError(f"torch.histc: max must be larger than min, but got min {lo} max {hi}")
    inside = (x >= lo) & (x <= hi)
    idx = floor((x - lo) * (bins / (hi - lo))).clamp(0, bins - 1).to(int64)
    counts = zeros(bins, dtype=input.dtype, device=input.device)
    return counts.index_add(0, idx[inside], ones_like(x[inside]))


# --- splitting ------------------------------------------------------------------------------------------------
@op
def split_with_sizes(input: Tensor, split_sizes: Any, dim: int = 0) -> tuple[Tensor, ...]:
    """Pieces of the given sizes along ``dim`` (they must add up to its size)."""
    sizes = [int(s) for s in split_sizes]
    d = normalize_dim(dim, input.ndim)
    if np.sum(sizes, dtype=np.int64) != input.shape[d]:
        raise RuntimeError(f"split_with_sizes expects split_sizes to sum exactly to {input.shape[d]} (input tensor's "
                           f"size at dimension {dim}), but got split_sizes={sizes}")
    return split(input, sizes, d)


def _split_along(name: str, x: Tensor, sections: Any, dim: int, min_ndim: int) -> tuple[Tensor, ...]:
    if x.ndim < min_ndim:
        raise RuntimeError(f"torch.{name} requires a tensor with at least {min_ndim} dimension, but got a tensor "
                           f"with {x.ndim} dimensions!")
    if isinstance(sections, int) and (sections == 0 or x.shape[dim] % sections):
        raise RuntimeError(f"torch.{name} attempted to split along dimension {dim}, but the size of the dimension "
                           f"{x.shape[dim]} is not divisible by the split_size {sections}!")
    return tensor_split(x, sections, dim)


@op
def hsplit(input: Tensor, sections: Any) -> tuple[Tensor, ...]:
    """``tensor_split`` along dim 1 (dim 0 for 1-D tensors); an int must divide the size."""
    return _split_along("hsplit", input, sections, 1 if input.ndim > 1 else 0, 1)


@op
def vsplit(input: Tensor, sections: Any) -> tuple[Tensor, ...]:
    """``tensor_split`` along dim 0 of a tensor of at least 2 dims; an int must divide the size."""
    return _split_along("vsplit", input, sections, 0, 2)


@op
def dsplit(input: Tensor, sections: Any) -> tuple[Tensor, ...]:
    """``tensor_split`` along dim 2 of a tensor of at least 3 dims; an int must divide the size."""
    return _split_along("dsplit", input, sections, 2, 3)


@op(grad=False)
def equal(input: Tensor, other: Tensor) -> bool:
    """True if the two tensors have the same shape and the same elements."""
    return tuple(input.shape) == tuple(other.shape) and bool(eq(input, other).all().item())


def _as_tensors(a: Any, b: Any) -> tuple[Tensor, Tensor]:
    """Both operands as tensors of one dtype (a Python number takes the other's dtype)."""
    if not isinstance(a, Tensor):
        a = tensor(a, dtype=b.dtype, device=b.device)
    if not isinstance(b, Tensor):
        b = tensor(b, dtype=a.dtype, device=a.device)
    x = a + zeros_like(b)  # promotion and broadcasting as for any binary op
    y = b + zeros_like(a)
    return x.to(y.dtype) if x.dtype is not y.dtype else x, y


__all__ = exports(__name__)
