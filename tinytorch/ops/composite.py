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

from ..ndarray.dtypes import DType, bool_, float32, float64, int64
from ..tensor import Tensor
from .creation import eye, ones_like, tensor, zeros, zeros_like
from .dims import normalize_dim, torch_type_name
from .elementwise import abs as abs_
from .elementwise import (
    ceil,
    clamp,
    copysign,
    cos,
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
from .movement import cat, diagonal, flip, gather, narrow, reshape, roll, split, stack, tensor_split
from .reduce import amax, amin, norm, vector_norm
from .reduce import sum as sum_
from .scan import cumprod, cumsum
from .sort import sort
from .table import exports, op

_aminmax_result = collections.namedtuple("aminmax", ["min", "max"])  # type: ignore[name-match]  # PyTorch's name
_histogram_result = collections.namedtuple("histogram", ["hist", "bin_edges"])  # type: ignore[name-match]


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


# --- the gamma family: compositions evaluated in float64, so float32 inputs lose nothing ----------------
#: Lanczos's approximation with g = 7 and nine terms (relative error below 1e-15 for x >= 1/2)
_LANCZOS_G = 7.0
_LANCZOS = (0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313,
            -176.61502916214059, 12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6,
            1.5056327351493116e-7)
_HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)


def _lanczos_lgamma(x: Tensor) -> Tensor:
    """``log Gamma(x)`` for ``x >= 1/2`` (float64), by Lanczos's formula."""
    z = x - 1.0
    series = _LANCZOS[0] + sum_(stack([c / (z + i) for i, c in enumerate(_LANCZOS[1:], 1)]), 0)
    t = z + (_LANCZOS_G + 0.5)
    return _HALF_LOG_2PI + (z + 0.5) * log(t) - t + log(series)


def _float_result(input: Tensor) -> DType:
    """The dtype a float-valued function of ``input`` returns: its own float dtype, or float32
    for integers and bools (the gamma family computes in float64 in between)."""
    return input.dtype if input.dtype.is_floating_point else float32


def _pole(x: Tensor) -> Tensor:
    """True at the poles of Gamma: 0 and the negative integers."""
    return (x <= 0) & eq(x, floor(x))


@op
def lgamma(input: Tensor) -> Tensor:
    """``log |Gamma(x)|``: Lanczos's approximation for ``x >= 1/2`` and the reflection formula
    ``log(pi / |sin(pi x)|) - lgamma(1 - x)`` below; ``inf`` at 0 and the negative integers.
    Computed in float64 (returned in the input's float dtype); the gradient is :func:`digamma`'s
    value, by differentiating the same formulas."""
    x = input.to(float64)
    reflect = x < 0.5
    upper = where(reflect, 1.0 - x, x)  # >= 1/2: each branch sees only arguments it is accurate for
    main = _lanczos_lgamma(upper)
    sine = abs_(sin(math.pi * where(reflect, x, 0.5)))
    safe_sine = where(_pole(x), 1.0, sine)
    out = where(reflect, math.log(math.pi) - log(safe_sine) - main, main)
    out = where(_pole(x), math.inf, out)
    return out.to(_float_result(input))


_DIGAMMA_SHIFT = 10  # digamma(x) = digamma(x + 10) - sum 1/(x + k): the asymptotic series is exact there


@op
def digamma(input: Tensor) -> Tensor:
    """``d/dx log Gamma(x)``: shifted up by the recurrence ``psi(x) = psi(x + 1) - 1/x`` until the
    asymptotic series ``log z - 1/(2z) - sum B_2k / (2k z^2k)`` is exact to float64, and the
    reflection formula ``psi(1 - x) - pi / tan(pi x)`` below 1/2; ``-inf`` at 0 and NaN at the
    negative integers, as PyTorch. Computed in float64."""
    x = input.to(float64)
    reflect = x < 0.5
    y = where(reflect, 1.0 - x, x)
    shifted = sum_(stack([1.0 / (y + k) for k in range(_DIGAMMA_SHIFT)]), 0)
    z = y + float(_DIGAMMA_SHIFT)
    inv2 = 1.0 / (z * z)
    series = inv2 * (1 / 12 - inv2 * (1 / 120 - inv2 * (1 / 252 - inv2 * (1 / 240 - inv2 * (1 / 132)))))
    upper = log(z) - 0.5 / z - series - shifted
    angle = math.pi * where(reflect & logical_not(_pole(x)), x, 0.5)
    out = where(reflect, upper - math.pi * cos(angle) / sin(angle), upper)
    out = where(_pole(x), where(eq(x, 0.0), -math.inf, math.nan), out)
    return out.to(_float_result(input))


@op
def mvlgamma(input: Tensor, p: int) -> Tensor:
    """The log of the multivariate gamma function of dimension ``p``:
    ``p (p - 1) / 4 log(pi) + sum_i lgamma(x - i / 2)``, i = 0..p-1 (every element must exceed
    ``(p - 1) / 2``, ``RuntimeError`` otherwise)."""
    if p < 1:
        raise RuntimeError(f"p has to be greater than or equal to 1, got {p}")
    # PyTorch's domain check reads the values; done on the array, so that it is not an op (vmap
    # checks its whole batch at once, as PyTorch's does)
    if input.numel() and not input._data.min().item() > (p - 1) / 2:
        raise RuntimeError(f"All elements must be greater than (p-1)/2 = {(p - 1) / 2}")
    terms = sum_(stack([lgamma(input - i / 2) for i in range(p)]), 0)
    return terms + p * (p - 1) / 4 * math.log(math.pi)


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


@op(grad=False)
def unique_consecutive(input: Tensor, return_inverse: bool = False, return_counts: bool = False,
                       dim: int | None = None) -> Any:
    """``input`` (flattened, or its slices along ``dim``) with each run of equal neighbours kept
    once, in order; optionally the run each element belongs to (``inverse``, shaped like
    ``input``, or ``(size of dim,)``) and the run lengths. Computed on the host."""
    a = input.numpy()
    if dim is None:
        rows = a.reshape(-1, 1)
    else:
        axis = normalize_dim(dim, input.ndim)
        rows = np.moveaxis(a, axis, 0).reshape(a.shape[axis] if a.ndim else 1, -1)
    n = rows.shape[0]
    starts = np.ones(n, dtype=bool)
    if n > 1:
        starts[1:] = (rows[1:] != rows[:-1]).any(axis=1)
    if dim is None:
        values = a.reshape(-1)[starts]
    else:
        values = np.compress(starts, a, axis=normalize_dim(dim, input.ndim))
    out = [tensor(values, dtype=input.dtype, device=input.device)]
    if return_inverse:
        inverse_idx = np.cumsum(starts) - 1
        out.append(tensor(inverse_idx.reshape(a.shape if dim is None else (n,)).astype(np.int64),
                          device=input.device))
    if return_counts:
        out.append(tensor(np.diff(np.append(np.flatnonzero(starts), n)).astype(np.int64), device=input.device))
    return out[0] if len(out) == 1 else tuple(out)


@op(method=False, grad=False)
def isin(elements: Any, test_elements: Any, *, assume_unique: bool = False, invert: bool = False) -> Tensor:
    """True where an element of ``elements`` occurs in ``test_elements`` (False with ``invert``);
    either may be a number, not both. The result has ``elements``' shape (bool)."""
    if not isinstance(elements, Tensor) and not isinstance(test_elements, Tensor):
        raise TypeError(f"isin() received an invalid combination of arguments - got "
                        f"({type(elements).__name__}, {type(test_elements).__name__}): one must be a Tensor")
    like = elements if isinstance(elements, Tensor) else test_elements
    a = elements.numpy() if isinstance(elements, Tensor) else np.asarray(elements)
    b = test_elements.numpy() if isinstance(test_elements, Tensor) else np.asarray(test_elements)
    return tensor(np.isin(a, b, assume_unique=assume_unique, invert=invert), dtype=bool_, device=like.device)


@op(grad=False)
def histogram(input: Tensor, bins: Any, *, range: Any = None, weight: Tensor | None = None,  # noqa: A002
              density: bool = False) -> Any:
    """``(hist, bin_edges)``: the counts of ``input``'s elements in ``bins`` equal-width bins over
    ``range`` (default: the data's min and max; widened by 0.5 each way when they are equal), or
    in the bins a 1-D tensor of edges gives. The last bin includes its right edge; elements
    outside are ignored. ``weight`` (``input``'s shape) counts each element by its weight;
    ``density`` divides by the total and the bin widths. Computed on the host."""
    if not input.dtype.is_floating_point:
        raise NotImplementedError(f"\"histogramdd\" not implemented for '{torch_type_name(input.dtype)}'")
    a = input.detach().numpy().reshape(-1)
    w = None
    if weight is not None:
        if tuple(weight.shape) != tuple(input.shape):
            raise RuntimeError(f"torch.histogramdd: expected weight to have the same shape as input, but got "
                               f"{list(weight.shape)} and {list(input.shape)}")
        w = weight.detach().numpy().reshape(-1)
    if isinstance(bins, Tensor):
        if bins.ndim != 1 or bins.shape[0] < 1:
            raise RuntimeError(f"torch.histogramdd: bins tensor should have one dimension and at least 1 entry, "
                               f"but got {bins.ndim} dimensions and {bins.numel()} entries")
        if bins.dtype is not input.dtype:
            raise RuntimeError(f"torch.histogramdd: input tensor and bins tensors should have the same dtype, but got "
                               f"input with dtype {input.dtype.name} and bins with dtype {bins.dtype.name}")
        edges = bins.detach().numpy()
        if (np.diff(edges) < 0).any():
            raise RuntimeError("torch.histogramdd: bin edges must be non-decreasing")
    else:
        if int(bins) <= 0:
            raise RuntimeError(f"torch.histogramdd(): bins must be > 0, but got {bins} for dimension 0")
        lo, hi = (float(a.min()), float(a.max())) if range is None and a.size else \
            (float(range[0]), float(range[1])) if range is not None else (0.0, 0.0)
        if not (math.isfinite(lo) and math.isfinite(hi)):
            raise RuntimeError(f"torch.histogramdd: dimension 0's range [{lo}, {hi}] is not finite")
        if lo > hi:
            raise RuntimeError(f"torch.histogramdd: min should not exceed max, but got min {lo:g} max {hi:g} "
                               f"for dimension 0")
        if lo == hi:
            lo, hi = lo - 0.5, hi + 0.5
        edges = np.linspace(lo, hi, int(bins) + 1).astype(a.dtype)  # PyTorch's edges, to a rounding
    hist, _ = np.histogram(a, edges, weights=w)
    if density:
        total = hist.sum()
        hist = hist / (total * np.diff(edges)) if total else hist * np.nan
    return _histogram_result(tensor(hist, dtype=input.dtype, device=input.device),
                             tensor(edges, dtype=input.dtype, device=input.device))


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


# --- integration and polynomials --------------------------------------------------------------------------
def _trapezoids(name: str, y: Tensor, x: Tensor | None, dx: Any, dim: int) -> tuple[Tensor, int]:
    """The areas of the trapezoids between neighbouring samples of ``y`` along ``dim`` (that dim
    one shorter), and the dim; ``y`` of an integer dtype is taken as float32."""
    if x is not None and dx is not None:
        raise RuntimeError(f"{name}: received both x and dx; pass only one of them")
    y = y if y.dtype.is_floating_point else y.to(float32)
    d = normalize_dim(dim, y.ndim)
    n = y.shape[d]
    pairs = narrow(y, d, 1, n - 1) + narrow(y, d, 0, n - 1) if n else narrow(y, d, 0, 0)
    if x is None:
        return pairs * ((1.0 if dx is None else dx) / 2), d
    if x.ndim == 1:
        if x.shape[0] != n:
            raise RuntimeError(f"{name}: There must be one `x` value for each sample point")
        x = reshape(x, tuple(n if k == d else 1 for k in range(y.ndim)))
        widths = diff(x, dim=d)
    else:
        widths = diff(x, dim=dim)
    return pairs * widths / 2, d


@op(method=False)
def trapezoid(y: Tensor, x: Tensor | None = None, *, dx: Any = None, dim: int = -1) -> Tensor:
    """The trapezoidal rule along ``dim``: the area under the samples ``y``, spaced by ``dx``
    (default 1) or at the points ``x`` (1-D, one per sample, or shaped like ``y``); an empty
    ``dim`` gives 0."""
    areas, d = _trapezoids("trapezoid", y, x, dx, dim)
    return sum_(areas, d)


trapz = op(trapezoid, name="trapz")


@op(method=False)
def cumulative_trapezoid(y: Tensor, x: Tensor | None = None, *, dx: Any = None, dim: int = -1) -> Tensor:
    """The running :func:`trapezoid` along ``dim``: entry ``i`` is the area up to sample
    ``i + 1``, so ``dim`` is one shorter than ``y``'s."""
    areas, d = _trapezoids("cumulative_trapezoid", y, x, dx, dim)
    return cumsum(areas, d)


@op(method=False)
def vander(x: Tensor, N: int | None = None, increasing: bool = False) -> Tensor:  # noqa: N803  (PyTorch's name)
    """The Vandermonde matrix of the 1-D ``x``: column ``j`` is ``x ** (N - 1 - j)`` (``x ** j``
    when ``increasing``), ``N`` columns (default ``len(x)``); integers give int64. Built as a
    running product, so the gradient is exact at ``x == 0``."""
    if x.ndim != 1:
        raise RuntimeError("x must be a one-dimensional tensor.")
    n = x.shape[0] if N is None else N
    if n < 0:
        raise RuntimeError("N must be non-negative.")
    base = x if x.dtype.is_floating_point else x.to(int64)
    columns = [ones_like(base).unsqueeze(1)[:, :min(n, 1)], base.unsqueeze(1).expand(x.shape[0], max(n - 1, 0))]
    powers = cumprod(cat(columns, 1), 1)
    return powers if increasing else flip(powers, 1)


# --- norms and distances ---------------------------------------------------------------------------------
@op
def renorm(input: Tensor, p: float, dim: int, maxnorm: float) -> Tensor:
    """``input`` with each slice along ``dim`` whose ``p``-norm exceeds ``maxnorm`` scaled down
    to norm ``maxnorm`` (by ``maxnorm / (norm + 1e-7)``, as PyTorch); the others unchanged."""
    if input.ndim < 2:
        raise RuntimeError(f"renorm: input needs at least 2 dimensions, got {input.ndim} dimensions")
    if p <= 0:
        raise RuntimeError("renorm: non-positive-norm not supported")
    if maxnorm < 0:
        raise RuntimeError(f"renorm: expected maxnorm to be >= 0 but got {maxnorm:g}")
    d = normalize_dim(dim, input.ndim)
    norms = vector_norm(input, p, tuple(k for k in range(input.ndim) if k != d), keepdim=True)
    return input * where(norms > maxnorm, maxnorm / (norms + 1e-7), 1.0)


def _norm_clamped(x: Tensor, dim: int, eps: float) -> Tensor:
    """``max(||x||, eps)`` along ``dim`` (kept), with a zero gradient where the norm is below ``eps``
    (the square root only sees sums above ``eps^2``, so a zero vector gives no NaN)."""
    sq = (x * x).sum(dim, keepdim=True)
    big = sq > eps * eps
    return where(big, sqrt(where(big, sq, 1.0)), eps)


@op(method=False)
def cosine_similarity(x1: Tensor, x2: Tensor, dim: int = 1, eps: float = 1e-8) -> Tensor:
    """``sum(x1 / max(||x1||, eps) * x2 / max(||x2||, eps))`` along ``dim``, the inputs broadcast.
    (PyTorch clamps the norms in place outside the graph, so where a norm is below ``eps`` its
    gradient differs from this one, which treats the clamped norm as the constant ``eps``.)"""
    shape = tuple(np.broadcast_shapes(tuple(x1.shape), tuple(x2.shape)))
    x1, x2 = x1.broadcast_to(shape), x2.broadcast_to(shape)
    return ((x1 / _norm_clamped(x1, dim, eps)) * (x2 / _norm_clamped(x2, dim, eps))).sum(dim)


def _p_norm_last(d: Tensor, p: float, keepdim: bool, guard_zero: bool) -> Tensor:
    """The ``p``-norm of ``d`` over its last dim: ``inf``/``-inf`` the largest/smallest absolute
    value, ``0`` the count of non-zeros (a zero gradient, but part of the graph). With
    ``guard_zero`` a zero vector's norm has gradient 0, not ``0 * inf``."""
    if p == 1:
        return d.abs().sum(-1, keepdim=keepdim)
    if p == math.inf:
        return d.abs().amax(-1, keepdim=keepdim)
    if p == -math.inf:
        return d.abs().amin(-1, keepdim=keepdim)
    if p == 0:
        return (d != 0).to(d.dtype).sum(-1, keepdim=keepdim) + (d * 0.0).sum(-1, keepdim=keepdim)
    total = (d * d).sum(-1, keepdim=keepdim) if p == 2 else (d.abs() ** p).sum(-1, keepdim=keepdim)
    if not guard_zero:
        return sqrt(total) if p == 2 else total ** (1.0 / p)
    positive = total > 0
    safe = where(positive, total, 1.0)
    return where(positive, sqrt(safe) if p == 2 else safe ** (1.0 / p), 0.0)


@op(method=False)
def pairwise_distance(x1: Tensor, x2: Tensor, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False) -> Tensor:
    """The p-norm of ``x1 - x2 + eps`` along the last dim (``eps`` keeps the gradient finite when
    the two are equal); p may be ``inf`` (largest difference) or 0 (count of non-zeros)."""
    d = x1 - x2 + eps
    if d.ndim == 0:
        d = d.reshape(1)
    return _p_norm_last(d, p, keepdim, guard_zero=False)


@op(method=False)
def cdist(x1: Tensor, x2: Tensor, p: float = 2.0, compute_mode: str = "use_mm_for_euclid_dist_if_necessary") -> Tensor:
    """The ``p``-norm distance between each row of ``x1`` (``(..., P, M)``) and each row of
    ``x2`` (``(..., R, M)``): shape ``(..., P, R)``, the batch dims broadcast. ``p`` is any
    non-negative number or ``inf``; a zero distance has gradient 0, as PyTorch's.
    ``compute_mode`` is accepted for PyTorch's signature: the distances are always computed
    from the differences (exact, where PyTorch's matrix-product mode rounds)."""
    for name, x in (("X1", x1), ("X2", x2)):
        if x.ndim < 2:
            raise RuntimeError(f"cdist only supports at least 2D tensors, {name} got: {x.ndim}D")
        if not x.dtype.is_floating_point:
            raise RuntimeError(f"cdist only supports floating-point dtypes, {name} got: "
                               f"{torch_type_name(x.dtype)}")
    if x1.shape[-1] != x2.shape[-1]:
        raise RuntimeError(f"X1 and X2 must have the same number of columns. X1: {x1.shape[-1]} X2: {x2.shape[-1]}")
    if p < 0:
        raise RuntimeError("cdist only supports non-negative p values")
    return _p_norm_last(x1.unsqueeze(-2) - x2.unsqueeze(-3), p, False, guard_zero=True)


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
