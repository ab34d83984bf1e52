"""The numpy backend (device ``"numpy"``): the readable reference for every backend.

Buffers are flat 1-D numpy arrays. Each function is the plainest numpy expression of
the contract written in :mod:`tinytorch.ndarray.interface`; the C and CUDA backends are
tested against these results. Speed is not a goal here, clarity is.
"""

from __future__ import annotations

import operator
from typing import Any, Callable

import numpy as np
from numpy.lib.stride_tricks import as_strided

from .dtypes import DType
from .interface import Shape, Strides, prod, softmax_options
from .strides import check_view, conv_geometry

name = "numpy"


# --- checks shared by every kernel ------------------------------------------------------
def _check_same_size(*bufs: np.ndarray) -> None:
    if any(b.size != bufs[0].size for b in bufs):
        raise ValueError(f"buffer sizes differ: {[b.size for b in bufs]}")


def _check_same_dtype(*bufs: np.ndarray) -> None:
    if any(b.dtype != bufs[0].dtype for b in bufs):
        raise TypeError(f"buffer dtypes differ: {[str(b.dtype) for b in bufs]}")


def _view(buf: np.ndarray, shape: Shape, strides: Strides, offset: int) -> np.ndarray:
    if check_view(buf.size, shape, strides, offset) == 0:
        return np.empty(shape, dtype=buf.dtype)
    # an axis of length 1 is never stepped along: its stride may be any int, even one too big for numpy
    byte_strides = tuple(s * buf.itemsize if n > 1 else 0 for n, s in zip(shape, strides))
    return as_strided(buf[offset:], shape=shape, strides=byte_strides)


# --- memory -------------------------------------------------------------------------------
def alloc(size: int, dtype: DType) -> np.ndarray:
    if size < 0:
        raise ValueError(f"cannot allocate a buffer of negative size {size}")
    return np.empty(size, dtype=dtype.np_dtype)


def from_numpy(a: np.ndarray) -> np.ndarray:
    return np.array(a, copy=True).reshape(-1)


def to_numpy(buf: np.ndarray, shape: Shape, strides: Strides, offset: int) -> np.ndarray:
    return np.array(_view(buf, shape, strides, offset), copy=True)


def fill(out: np.ndarray, value: Any) -> None:
    out.fill(value)


# --- strided copies -----------------------------------------------------------------------
def compact(a: np.ndarray, out: np.ndarray, shape: Shape, strides: Strides, offset: int) -> None:
    _check_same_dtype(a, out)
    if out.size != prod(shape):
        raise ValueError(f"out has {out.size} elements, the view {shape} has {prod(shape)}")
    out[:] = _view(a, shape, strides, offset).reshape(-1)


def ewise_setitem(a: np.ndarray, out: np.ndarray, shape: Shape, strides: Strides, offset: int) -> None:
    _check_same_dtype(a, out)
    if a.size != prod(shape):
        raise ValueError(f"source has {a.size} elements, the view {shape} has {prod(shape)}")
    view = _view(out, shape, strides, offset)
    view[...] = a.reshape(shape)


def scalar_setitem(value: Any, out: np.ndarray, shape: Shape, strides: Strides, offset: int) -> None:
    view = _view(out, shape, strides, offset)
    view[...] = value


# --- elementwise ----------------------------------------------------------------------------
def cast(a: np.ndarray, out: np.ndarray) -> None:
    _check_same_size(a, out)
    out[:] = a.astype(out.dtype)


def where(cond: np.ndarray, a: np.ndarray, b: np.ndarray, out: np.ndarray) -> None:
    _check_same_size(cond, a, b, out)
    _check_same_dtype(a, b, out)
    out[:] = np.where(cond, a, b)


def _int_pow(a: np.ndarray, b: Any) -> np.ndarray:
    if np.any(np.asarray(b) < 0):
        raise ValueError("integers to negative integer powers are not allowed")
    return np.power(a, b)


def _pow(a: Any, b: Any) -> np.ndarray:
    if np.asarray(a).dtype.kind == "i":
        return _int_pow(a, b)
    if np.ndim(b) == 0 and b == -0.5:  # PyTorch's rsqrt: (-0) ** -0.5 is -inf, (-inf) ** -0.5 NaN
        return 1 / np.sqrt(a)
    return np.power(a, b)


def _div(a: Any, b: Any) -> np.ndarray:
    if np.asarray(a).dtype.kind != "f":
        raise TypeError("div needs a floating-point dtype (NDArray promotes integers first)")
    return np.divide(a, b)


def _erfc(a: np.ndarray) -> np.ndarray:
    from math import erfc

    return np.vectorize(erfc, otypes=[a.dtype])(a) if a.size else a.copy()


#: erfinv's first guess: a rational approximation on |y| <= 0.7 and one in sqrt(-log((1-|y|)/2))
#: for the tails (about 6 correct digits), then polished by Newton steps on erf.
_ERFINV_CENTRAL = ((0.886226899, -1.645349621, 0.914624893, -0.140543331),
                   (-2.118377725, 1.442710462, -0.329097515, 0.012229801))
_ERFINV_TAIL = ((-1.970840454, -1.624906493, 3.429567803, 1.641345311), (3.543889200, 1.637067800))


def _erfinv(a: np.ndarray) -> np.ndarray:
    """The inverse of erf on [-1, 1] (±inf at ±1, NaN outside), computed in float64: the
    first guess of ``_ERFINV_CENTRAL``/``_ERFINV_TAIL``, then three Newton steps, on
    ``erf(x) = |y|`` in the centre and on ``erfc(x) = 1 - |y|`` in the tails (where 1 - |y| is
    exact and erf(x) would have lost the digits that matter)."""
    from math import erf, erfc

    y = a.astype(np.float64)
    v = np.abs(y)
    (a0, a1, a2, a3), (b0, b1, b2, b3) = _ERFINV_CENTRAL
    (c0, c1, c2, c3), (d0, d1) = _ERFINV_TAIL
    z = v * v
    central = v * (((a3 * z + a2) * z + a1) * z + a0) / ((((b3 * z + b2) * z + b1) * z + b0) * z + 1)
    w = 1 - v
    t = np.sqrt(-np.log(np.clip(w / 2, 1e-300, 1.0)))
    tail = (((c3 * t + c2) * t + c1) * t + c0) / ((d1 * t + d0) * t + 1)
    in_tail = v > 0.7
    x = np.where(in_tail, tail, central)
    verf, verfc = np.vectorize(erf, otypes=[np.float64]), np.vectorize(erfc, otypes=[np.float64])
    for _ in range(3):
        gap = np.where(in_tail, w - verfc(x), verf(x) - v)  # f(x) - target, both increasing in x
        x = x - gap / (2 / np.sqrt(np.pi) * np.exp(-x * x))
    x = np.where(v == 1, np.inf, np.where(v > 1, np.nan, x))
    return np.copysign(x, y).astype(a.dtype)


# --- the division family and bitwise ops, as PyTorch computes each element --------------------
def _nonzero_divisor(b: Any) -> None:
    """Integer division by zero raises ZeroDivisionError (float division gives inf or NaN)."""
    b = np.asarray(b)
    if b.dtype.kind == "i" and np.any(b == 0):
        raise ZeroDivisionError("integer division by zero")


def _fmod(a: Any, b: Any) -> np.ndarray:
    _nonzero_divisor(b)
    return np.fmod(a, b)  # numpy's integer fmod of INT64_MIN by -1 is 0


def _remainder(a: Any, b: Any) -> np.ndarray:
    m = _fmod(a, b)
    return np.where((m != 0) & ((b < 0) != (m < 0)), m + b, m)


def _floor_divide(a: Any, b: Any) -> np.ndarray:
    _nonzero_divisor(b)
    if np.asarray(a).dtype.kind == "i":
        return np.floor_divide(a, b)  # Python's floor division; INT64_MIN // -1 wraps around
    m = np.fmod(a, b)
    d = (a - m) / b
    d = np.where((m != 0) & ((b < 0) != (m < 0)), d - 1, d)
    f = np.floor(d)
    f = np.where(d - f > 0.5, f + 1, f)  # (a - m) / b may fall just below a whole number
    f = np.where(d == 0, np.copysign(0, a / b), f)
    return np.where(b == 0, a / b, f)


def _trunc_divide(a: Any, b: Any) -> np.ndarray:
    _nonzero_divisor(b)
    if np.asarray(a).dtype.kind != "i":
        return np.trunc(a / b)
    q = np.floor_divide(a, b)
    return q + ((np.remainder(a, b) != 0) & ((a < 0) != (b < 0)))  # the floor is one below


_KIND_NAMES = {"f": "float32/float64", "i": "int64", "b": "bool"}


def _typed(fn: Callable[[Any, Any], np.ndarray], name: str, kinds: str) -> Callable[[Any, Any], np.ndarray]:
    """``fn`` for the dtype kinds ``kinds`` ('f', 'i', 'b') only: TypeError for the others."""
    def checked(a: Any, b: Any) -> np.ndarray:
        dtype = np.asarray(a).dtype
        if dtype.kind not in kinds:
            raise TypeError(f"{name} takes {' or '.join(_KIND_NAMES[k] for k in kinds)}, got {dtype}")
        return fn(a, b)
    return checked


def _left_shift(a: Any, b: Any) -> np.ndarray:
    out_of_range = (b < 0) | (b >= 64)
    return np.where(out_of_range, 0, np.left_shift(a, np.where(out_of_range, 0, b)))


def _right_shift(a: Any, b: Any) -> np.ndarray:
    return np.right_shift(a, np.where((b < 0) | (b >= 64), 63, b))


def _bitwise_not(a: np.ndarray) -> np.ndarray:
    if a.dtype.kind not in "ib":
        raise TypeError(f"bitwise_not needs int64 or bool, got {a.dtype}")
    return np.invert(a)


def _named(fn: Callable[..., None], name: str, doc: str) -> Callable[..., None]:
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = doc
    return fn


# The kernels below are made by these factories from numpy functions. ``out`` may be ``a``
# itself (the interface guarantees it): numpy computes the whole result before ``out[:] =``.
def _ewise(op: str, fn: Callable[[Any, Any], np.ndarray]) -> Callable[..., None]:
    def ewise(a: np.ndarray, b: np.ndarray, out: np.ndarray) -> None:
        _check_same_size(a, b, out)
        _check_same_dtype(a, b)
        with np.errstate(all="ignore"):
            out[:] = fn(a, b)

    return _named(ewise, f"ewise_{op}", f"``out[i] = {op}(a[i], b[i])``.")


def _scalar(op: str, fn: Callable[[Any, Any], np.ndarray]) -> Callable[..., None]:
    def scalar(a: np.ndarray, s: Any, out: np.ndarray) -> None:
        _check_same_size(a, out)
        with np.errstate(all="ignore"):
            out[:] = fn(a, np.asarray(s, dtype=a.dtype))

    return _named(scalar, f"scalar_{op}", f"``out[i] = {op}(a[i], s)``, ``s`` converted to the dtype of ``a``.")


def _scalar_r(op: str, fn: Callable[[Any, Any], np.ndarray]) -> Callable[..., None]:
    def scalar_r(a: np.ndarray, s: Any, out: np.ndarray) -> None:
        _check_same_size(a, out)
        with np.errstate(all="ignore"):
            out[:] = fn(np.asarray(s, dtype=a.dtype), a)

    return _named(scalar_r, f"scalar_r{op}", f"``out[i] = {op}(s, a[i])``: the scalar on the left.")


def _unary(fn_name: str, fn: Callable[[np.ndarray], np.ndarray], floats_only: bool = False) -> Callable[..., None]:
    def ewise(a: np.ndarray, out: np.ndarray) -> None:
        _check_same_size(a, out)
        if floats_only and a.dtype.kind != "f":
            raise TypeError(f"{fn_name} needs a floating-point dtype, got {a.dtype}")
        with np.errstate(all="ignore"):
            out[:] = fn(a)

    return _named(ewise, f"ewise_{fn_name}", f"``out[i] = {fn_name}(a[i])``.")


def _sigmoid(a: np.ndarray) -> np.ndarray:
    # exp(-|x|) never overflows; pick the branch that keeps precision on each side.
    e = np.exp(-np.abs(a))
    return np.where(a >= 0, 1 / (1 + e), e / (1 + e)).astype(a.dtype)


def _erf(a: np.ndarray) -> np.ndarray:
    from math import erf

    return np.vectorize(erf, otypes=[a.dtype])(a) if a.size else a.copy()


ewise_add = _ewise("add", np.add)
ewise_sub = _ewise("sub", np.subtract)
ewise_mul = _ewise("mul", np.multiply)
ewise_div = _ewise("div", _div)
ewise_pow = _ewise("pow", _pow)
ewise_maximum = _ewise("maximum", np.maximum)
ewise_minimum = _ewise("minimum", np.minimum)
ewise_eq = _ewise("eq", np.equal)
ewise_ne = _ewise("ne", np.not_equal)
ewise_lt = _ewise("lt", np.less)
ewise_le = _ewise("le", np.less_equal)
ewise_gt = _ewise("gt", np.greater)
ewise_ge = _ewise("ge", np.greater_equal)

scalar_add = _scalar("add", np.add)
scalar_sub = _scalar("sub", np.subtract)
scalar_mul = _scalar("mul", np.multiply)
scalar_div = _scalar("div", _div)
scalar_pow = _scalar("pow", _pow)
scalar_maximum = _scalar("maximum", np.maximum)
scalar_minimum = _scalar("minimum", np.minimum)
scalar_eq = _scalar("eq", np.equal)
scalar_ne = _scalar("ne", np.not_equal)
scalar_lt = _scalar("lt", np.less)
scalar_le = _scalar("le", np.less_equal)
scalar_gt = _scalar("gt", np.greater)
scalar_ge = _scalar("ge", np.greater_equal)

scalar_rsub = _scalar_r("sub", np.subtract)
scalar_rdiv = _scalar_r("div", _div)
scalar_rpow = _scalar_r("pow", _pow)

ewise_neg = _unary("neg", np.negative)
ewise_abs = _unary("abs", np.abs)
ewise_sign = _unary("sign", np.sign)
ewise_relu = _unary("relu", lambda a: np.maximum(a, 0))
ewise_exp = _unary("exp", np.exp, floats_only=True)
ewise_log = _unary("log", np.log, floats_only=True)
ewise_sqrt = _unary("sqrt", np.sqrt, floats_only=True)
ewise_sin = _unary("sin", np.sin, floats_only=True)
ewise_cos = _unary("cos", np.cos, floats_only=True)
ewise_tanh = _unary("tanh", np.tanh, floats_only=True)
ewise_sigmoid = _unary("sigmoid", _sigmoid, floats_only=True)
ewise_erf = _unary("erf", _erf, floats_only=True)
ewise_floor = _unary("floor", np.floor, floats_only=True)
ewise_ceil = _unary("ceil", np.ceil, floats_only=True)
ewise_trunc = _unary("trunc", np.trunc, floats_only=True)
ewise_round = _unary("round", np.rint, floats_only=True)
ewise_log1p = _unary("log1p", np.log1p, floats_only=True)
ewise_expm1 = _unary("expm1", np.expm1, floats_only=True)
ewise_asin = _unary("asin", np.arcsin, floats_only=True)
ewise_acos = _unary("acos", np.arccos, floats_only=True)
ewise_atan = _unary("atan", np.arctan, floats_only=True)
ewise_sinh = _unary("sinh", np.sinh, floats_only=True)
ewise_cosh = _unary("cosh", np.cosh, floats_only=True)
ewise_asinh = _unary("asinh", np.arcsinh, floats_only=True)
ewise_acosh = _unary("acosh", np.arccosh, floats_only=True)
ewise_atanh = _unary("atanh", np.arctanh, floats_only=True)
ewise_erfc = _unary("erfc", _erfc, floats_only=True)
ewise_erfinv = _unary("erfinv", _erfinv, floats_only=True)
ewise_bitwise_not = _unary("bitwise_not", _bitwise_not)

_atan2 = _typed(np.arctan2, "atan2", "f")
_copysign = _typed(np.copysign, "copysign", "f")
_and = _typed(np.bitwise_and, "bitwise_and", "ib")
_or = _typed(np.bitwise_or, "bitwise_or", "ib")
_xor = _typed(np.bitwise_xor, "bitwise_xor", "ib")
_lshift = _typed(_left_shift, "left_shift", "i")
_rshift = _typed(_right_shift, "right_shift", "i")
_fmod_ = _typed(_fmod, "fmod", "fi")
_remainder_ = _typed(_remainder, "remainder", "fi")
_floor_divide_ = _typed(_floor_divide, "floor_divide", "fi")
_trunc_divide_ = _typed(_trunc_divide, "trunc_divide", "fi")

ewise_atan2 = _ewise("atan2", _atan2)
ewise_copysign = _ewise("copysign", _copysign)
ewise_fmod = _ewise("fmod", _fmod_)
ewise_remainder = _ewise("remainder", _remainder_)
ewise_floor_divide = _ewise("floor_divide", _floor_divide_)
ewise_trunc_divide = _ewise("trunc_divide", _trunc_divide_)
ewise_bitwise_and = _ewise("bitwise_and", _and)
ewise_bitwise_or = _ewise("bitwise_or", _or)
ewise_bitwise_xor = _ewise("bitwise_xor", _xor)
ewise_left_shift = _ewise("left_shift", _lshift)
ewise_right_shift = _ewise("right_shift", _rshift)
scalar_atan2 = _scalar("atan2", _atan2)
scalar_copysign = _scalar("copysign", _copysign)
scalar_fmod = _scalar("fmod", _fmod_)
scalar_remainder = _scalar("remainder", _remainder_)
scalar_floor_divide = _scalar("floor_divide", _floor_divide_)
scalar_trunc_divide = _scalar("trunc_divide", _trunc_divide_)
scalar_bitwise_and = _scalar("bitwise_and", _and)
scalar_bitwise_or = _scalar("bitwise_or", _or)
scalar_bitwise_xor = _scalar("bitwise_xor", _xor)
scalar_left_shift = _scalar("left_shift", _lshift)
scalar_right_shift = _scalar("right_shift", _rshift)
scalar_ratan2 = _scalar_r("atan2", _atan2)
scalar_rcopysign = _scalar_r("copysign", _copysign)
scalar_rfmod = _scalar_r("fmod", _fmod_)
scalar_rremainder = _scalar_r("remainder", _remainder_)
scalar_rfloor_divide = _scalar_r("floor_divide", _floor_divide_)
scalar_rtrunc_divide = _scalar_r("trunc_divide", _trunc_divide_)
scalar_rbitwise_and = _scalar_r("bitwise_and", _and)
scalar_rbitwise_or = _scalar_r("bitwise_or", _or)
scalar_rbitwise_xor = _scalar_r("bitwise_xor", _xor)
scalar_rleft_shift = _scalar_r("left_shift", _lshift)
scalar_rright_shift = _scalar_r("right_shift", _rshift)


# --- reductions over the last axis ------------------------------------------------------------
def _rows(a: np.ndarray, out: np.ndarray, reduce_size: int) -> np.ndarray:
    if reduce_size < 0 or a.size != out.size * reduce_size:
        raise ValueError(f"a has {a.size} elements, expected out.size * reduce_size = {out.size} * {reduce_size}")
    return a.reshape(out.size, reduce_size)


def reduce_sum(a: np.ndarray, out: np.ndarray, reduce_size: int) -> None:
    out[:] = _rows(a, out, reduce_size).sum(axis=1, dtype=out.dtype)


def _nonempty(reduce_size: int, op: str) -> None:
    if reduce_size < 1:
        raise ValueError(f"reduce_{op} over an empty axis has no identity")


def reduce_max(a: np.ndarray, out: np.ndarray, reduce_size: int) -> None:
    _nonempty(reduce_size, "max")
    out[:] = _rows(a, out, reduce_size).max(axis=1)


def reduce_min(a: np.ndarray, out: np.ndarray, reduce_size: int) -> None:
    _nonempty(reduce_size, "min")
    out[:] = _rows(a, out, reduce_size).min(axis=1)


def reduce_argmax(a: np.ndarray, out: np.ndarray, reduce_size: int) -> None:
    _nonempty(reduce_size, "argmax")
    out[:] = _rows(a, out, reduce_size).argmax(axis=1)


def reduce_argmin(a: np.ndarray, out: np.ndarray, reduce_size: int) -> None:
    _nonempty(reduce_size, "argmin")
    out[:] = _rows(a, out, reduce_size).argmin(axis=1)


# --- reductions over a middle axis (optional in the interface) --------------------------------------
# The optional functions below are the compositions their contracts state, written with this
# module's own kernels (looked up when called): a lab that swaps in a learner's compact, matmul
# or reduce_sum still runs it, whichever path NDArray takes.
def _middle_axis_last(op: str, a: np.ndarray, out: np.ndarray, reduce_size: int, inner: int) -> np.ndarray:
    """``a`` seen as ``(outer, reduce_size, inner)``, copied compact as ``(outer, inner, reduce_size)``."""
    reduce_size, inner = operator.index(reduce_size), operator.index(inner)
    if reduce_size < 0 or inner < 1 or out.size % inner or a.size != out.size * reduce_size:
        raise ValueError(f"reduce_axis_{op}: a has {a.size} elements, out {out.size}; they do not fit "
                         f"(outer, {reduce_size}, {inner}) -> (outer, {inner})")
    if op != "sum" and reduce_size < 1:
        raise ValueError(f"reduce_axis_{op} over an empty axis has no identity")
    if a.dtype != out.dtype or a.dtype.kind not in "fi":
        raise TypeError(f"reduce_axis_{op} takes float32, float64 or int64 and writes the same dtype, "
                        f"got {a.dtype} and {out.dtype}")
    moved = np.empty_like(a)
    compact(a, moved, (out.size // inner, inner, reduce_size), (reduce_size * inner, 1, inner), 0)
    return moved


def reduce_axis_sum(a: np.ndarray, out: np.ndarray, reduce_size: int, inner: int) -> None:
    reduce_sum(_middle_axis_last("sum", a, out, reduce_size, inner), out, reduce_size)


def reduce_axis_max(a: np.ndarray, out: np.ndarray, reduce_size: int, inner: int) -> None:
    reduce_max(_middle_axis_last("max", a, out, reduce_size, inner), out, reduce_size)


def reduce_axis_min(a: np.ndarray, out: np.ndarray, reduce_size: int, inner: int) -> None:
    reduce_min(_middle_axis_last("min", a, out, reduce_size, inner), out, reduce_size)


# --- matmul and indexing ----------------------------------------------------------------------
def matmul(a: np.ndarray, b: np.ndarray, out: np.ndarray, m: int, n: int, p: int, batch: int) -> None:
    _check_same_dtype(a, b, out)
    if (a.size, b.size, out.size) != (batch * m * n, batch * n * p, batch * m * p):
        raise ValueError(f"matmul sizes {a.size}, {b.size}, {out.size} do not fit batch={batch} m={m} n={n} p={p}")
    out[:] = np.matmul(a.reshape(batch, m, n), b.reshape(batch, n, p)).reshape(-1)


def matmul_strided(a: np.ndarray, a_strides: Strides, a_offset: int, b: np.ndarray, b_strides: Strides,
                   b_offset: int, out: np.ndarray, m: int, n: int, p: int, batch: int | tuple[int, int]) -> None:
    _check_same_dtype(a, b, out)
    if a.dtype == np.bool_:
        raise TypeError("matmul_strided takes float32, float64 or int64, got bool")
    batch_shape = tuple(batch) if isinstance(batch, tuple) else (batch,)
    count = prod(batch_shape)
    if len(batch_shape) > 2 or min(m, n, p, *batch_shape) < 0 or out.size != count * m * p:
        raise ValueError(f"matmul: out has {out.size} elements, batch={batch} m={m} p={p} need {count * m * p}")
    ca, cb = np.empty(count * m * n, a.dtype), np.empty(count * n * p, b.dtype)
    compact(a, ca, batch_shape + (m, n), a_strides, a_offset)  # each view is checked before anything is read
    compact(b, cb, batch_shape + (n, p), b_strides, b_offset)
    matmul(ca, cb, out, m, n, p, count)


def ewise_strided(op: str, a: np.ndarray, a_strides: Strides, a_offset: int, b: np.ndarray, b_strides: Strides,
                  b_offset: int, out: np.ndarray, shape: Shape) -> None:
    if op not in ("add", "sub", "mul", "div"):
        raise ValueError(f"ewise_strided: op must be add, sub, mul or div, got {op!r}")
    _check_same_dtype(a, b, out)
    if a.dtype.kind != "f":
        raise TypeError(f"ewise_strided takes float32 or float64, got {a.dtype}")
    size = prod(shape)
    if out.size != size:
        raise ValueError(f"ewise_strided: out has {out.size} elements, the shape {tuple(shape)} has {size}")
    ca, cb = np.empty(size, a.dtype), np.empty(size, b.dtype)
    compact(a, ca, shape, a_strides, a_offset)  # each view is checked before anything is read
    compact(b, cb, shape, b_strides, b_offset)
    {"add": ewise_add, "sub": ewise_sub, "mul": ewise_mul, "div": ewise_div}[op](ca, cb, out)


def _check_rows(name: str, rows: int, cols: int, *bufs: np.ndarray) -> None:
    if rows < 0 or cols < 0 or any(b.size != rows * cols for b in bufs):
        raise ValueError(f"{name}: buffers of {[b.size for b in bufs]} elements do not fit ({rows}, {cols})")
    if len({b.dtype for b in bufs}) != 1 or bufs[0].dtype.kind != "f":
        raise TypeError(f"{name}: buffers must be all float32 or all float64, got {[str(b.dtype) for b in bufs]}")


def softmax_rows(a: np.ndarray, out: np.ndarray, rows: int, cols: int, scale: float = 1.0, causal: int = 0) -> None:
    _check_rows("softmax_rows", rows, cols, a, out)
    scale, causal = softmax_options("softmax_rows", scale, causal)
    x = a.reshape(rows, cols) * a.dtype.type(scale)
    if causal:  # row r sees columns j <= r % causal
        x = np.where(np.arange(cols) <= (np.arange(rows) % causal)[:, None], x, -np.inf)
    with np.errstate(all="ignore"):
        m = x.max(axis=1, keepdims=True) if cols else np.zeros((rows, 1), x.dtype)
        e = np.exp(x - m)
        out[:] = (e / e.sum(axis=1, keepdims=True)).reshape(-1)


def softmax_rows_backward(y: np.ndarray, g: np.ndarray, out: np.ndarray, rows: int, cols: int,
                          scale: float = 1.0) -> None:
    _check_rows("softmax_rows_backward", rows, cols, y, g, out)
    scale, _ = softmax_options("softmax_rows_backward", scale)
    yr, gr = y.reshape(rows, cols), g.reshape(rows, cols)
    out[:] = (y.dtype.type(scale) * yr * (gr - (gr * yr).sum(axis=1, keepdims=True))).reshape(-1)


def _cross_entropy_check(name: str, x: np.ndarray, target: np.ndarray, rows: int, cols: int, ignore_index: int,
                         *row_bufs: np.ndarray) -> np.ndarray:
    """The checks of ``cross_entropy_rows[_backward]``; returns the targets as (rows,)."""
    if rows < 0 or cols < 0 or x.size != rows * cols or target.size != rows:
        raise ValueError(f"{name}: logits of {x.size} and targets of {target.size} elements do not fit "
                         f"({rows}, {cols})")
    if target.dtype != np.int64:
        raise TypeError(f"{name}: targets must be int64, got {target.dtype}")
    if x.dtype.kind != "f" or any(b.dtype != x.dtype for b in row_bufs):
        raise TypeError(f"{name}: buffers must be one float dtype, got {[str(b.dtype) for b in (x,) + row_bufs]}")
    bad = (target != ignore_index) & ((target < 0) | (target >= cols))
    if bad.any():
        raise IndexError(f"Target {int(target[np.argmax(bad)])} is out of bounds (input has {cols} classes).")
    return target


def cross_entropy_rows(x: np.ndarray, target: np.ndarray, loss: np.ndarray, lse: np.ndarray, count: np.ndarray,
                       rows: int, cols: int, ignore_index: int) -> None:
    t = _cross_entropy_check("cross_entropy_rows", x, target, rows, cols, ignore_index, loss, lse, count)
    if loss.size != rows or lse.size != rows or count.size != 1:
        raise ValueError(f"cross_entropy_rows: loss and lse need {rows} elements and count 1, "
                         f"got {loss.size}, {lse.size}, {count.size}")
    xr = x.reshape(rows, cols)
    counted = t != ignore_index
    with np.errstate(all="ignore"):
        m = xr.max(axis=1) if cols else np.full(rows, -np.inf, x.dtype)
        lse[:] = m + np.log(np.exp(xr - m[:, None]).sum(axis=1))
        picked = xr[np.arange(rows), np.where(counted, t, 0)] if cols else np.zeros(rows, x.dtype)
        loss[:] = np.where(counted, lse - picked, 0)
    count[0] = counted.sum()


def cross_entropy_rows_backward(x: np.ndarray, target: np.ndarray, lse: np.ndarray, scale: np.ndarray,
                                out: np.ndarray, rows: int, cols: int, ignore_index: int) -> None:
    t = _cross_entropy_check("cross_entropy_rows_backward", x, target, rows, cols, ignore_index, lse, scale, out)
    if lse.size != rows or out.size != rows * cols or scale.size not in (1, rows):
        raise ValueError(f"cross_entropy_rows_backward: lse needs {rows} elements, scale 1 or {rows}, out "
                         f"{rows * cols}; got {lse.size}, {scale.size}, {out.size}")
    counted = t != ignore_index
    with np.errstate(all="ignore"):
        g = np.exp(x.reshape(rows, cols) - lse[:, None])
        g[np.arange(rows)[counted], t[counted]] -= 1
        s = scale if scale.size == rows else np.full(rows, scale[0], scale.dtype)
        out[:] = np.where(counted[:, None], g * s[:, None], 0).reshape(-1)
def layer_norm_rows(a: np.ndarray, xhat: np.ndarray, rstd: np.ndarray, rows: int, cols: int, eps: float) -> None:
    _check_rows("layer_norm_rows", rows, cols, a, xhat)
    _check_stats("layer_norm_rows", rows, rstd, a)
    x = a.reshape(rows, cols)
    centered = x - x.sum(axis=1, keepdims=True) * x.dtype.type(1 / cols if cols else 0)
    r = 1 / np.sqrt((centered * centered).sum(axis=1, keepdims=True) * x.dtype.type(1 / cols if cols else 0)
                    + x.dtype.type(eps))
    rstd[:] = r.reshape(-1)
    xhat[:] = (centered * r).reshape(-1)


def layer_norm_rows_backward(xhat: np.ndarray, rstd: np.ndarray, h: np.ndarray, out: np.ndarray, rows: int,
                             cols: int) -> None:
    _check_rows("layer_norm_rows_backward", rows, cols, xhat, h, out)
    _check_stats("layer_norm_rows_backward", rows, rstd, xhat)
    xr, hr, inv = xhat.reshape(rows, cols), h.reshape(rows, cols), xhat.dtype.type(1 / cols if cols else 0)
    out[:] = ((hr - hr.sum(axis=1, keepdims=True) * inv - xr * ((hr * xr).sum(axis=1, keepdims=True) * inv))
              * rstd.reshape(rows, 1)).reshape(-1)


def _check_stats(name: str, rows: int, stats: np.ndarray, like: np.ndarray) -> None:
    if stats.size != rows:
        raise ValueError(f"{name}: the per-row buffer has {stats.size} elements, not {rows}")
    if stats.dtype != like.dtype:
        raise TypeError(f"{name}: buffers must be all float32 or all float64, got {stats.dtype} and {like.dtype}")


def _check_floats(name: str, *bufs: np.ndarray) -> None:
    if len({b.size for b in bufs}) != 1:
        raise ValueError(f"{name}: buffer sizes differ: {[b.size for b in bufs]}")
    if len({b.dtype for b in bufs}) != 1 or bufs[0].dtype.kind != "f":
        raise TypeError(f"{name}: buffers must be all float32 or all float64, got {[str(b.dtype) for b in bufs]}")


def gelu(a: np.ndarray, out: np.ndarray) -> None:
    _check_floats("gelu", a, out)
    out[:] = a * ((_erf(a * a.dtype.type(0.7071067811865476)) + 1) * a.dtype.type(0.5))


def gelu_backward(a: np.ndarray, g: np.ndarray, out: np.ndarray) -> None:
    _check_floats("gelu_backward", a, g, out)
    t = a.dtype.type
    cdf = (_erf(a * t(0.7071067811865476)) + 1) * t(0.5)
    with np.errstate(over="ignore", under="ignore"):
        out[:] = g * (cdf + a * (np.exp(a * a * t(-0.5)) * t(0.3989422804014327)))


def _check_index(index: np.ndarray, size: int) -> None:
    if index.dtype != np.int64:
        raise TypeError(f"index buffer must be int64, got {index.dtype}")
    if index.size and (index.min() < 0 or index.max() >= size):
        raise IndexError(f"index out of range [0, {size}): min {index.min()}, max {index.max()}")


def gather(a: np.ndarray, index: np.ndarray, out: np.ndarray) -> None:
    _check_same_size(index, out)
    _check_same_dtype(a, out)
    _check_index(index, a.size)
    out[:] = a[index]


def scatter(src: np.ndarray, index: np.ndarray, out: np.ndarray) -> None:
    _check_same_size(index, src)
    _check_same_dtype(src, out)
    _check_index(index, out.size)
    out[index] = src


def scatter_add(src: np.ndarray, index: np.ndarray, out: np.ndarray) -> None:
    _check_same_size(index, src)
    _check_same_dtype(src, out)
    _check_index(index, out.size)
    np.add.at(out, index, src)


def _scatter_combine(ufunc: np.ufunc, src: np.ndarray, index: np.ndarray, out: np.ndarray) -> None:
    """``out[index[i]] = ufunc(out[index[i]], src[i])`` for each i, repeated indices included."""
    _check_same_size(index, src)
    _check_same_dtype(src, out)
    if out.dtype == np.bool_:
        raise TypeError("scatter_mul/max/min take float32, float64 or int64, got bool")
    _check_index(index, out.size)
    with np.errstate(invalid="ignore"):  # a NaN is a value here, not an accident
        ufunc.at(out, index, src)


def scatter_mul(src: np.ndarray, index: np.ndarray, out: np.ndarray) -> None:
    _scatter_combine(np.multiply, src, index, out)


def scatter_max(src: np.ndarray, index: np.ndarray, out: np.ndarray) -> None:
    _scatter_combine(np.maximum, src, index, out)  # np.maximum propagates NaN


def scatter_min(src: np.ndarray, index: np.ndarray, out: np.ndarray) -> None:
    _scatter_combine(np.minimum, src, index, out)


# --- sliding windows (optional in the interface) ---------------------------------------------------------
def fold_windows(cols: np.ndarray, out: np.ndarray, nc: int, out_h: int, out_w: int, kh: int, kw: int, oh: int,
                 ow: int, sh: int, sw: int, dh: int, dw: int) -> None:
    if min(nc, out_h, out_w, kh, kw, oh, ow) < 0 or min(sh, sw, dh, dw) < 1:
        raise ValueError("fold_windows: sizes must be >= 0 and strides, dilations >= 1")
    if cols.size != nc * kh * kw * oh * ow or out.size != nc * out_h * out_w:
        raise ValueError(f"fold_windows: cols has {cols.size} elements and out {out.size}, which do not fit "
                         f"{(nc, kh, kw, oh, ow)} and {(nc, out_h, out_w)}")
    if cols.dtype != out.dtype or cols.dtype.kind != "f":
        raise TypeError(f"fold_windows: cols and out must both be float32 or both float64, got {cols.dtype}, "
                        f"{out.dtype}")
    if not (nc and kh and kw and oh and ow):
        return
    if (kh - 1) * dh + (oh - 1) * sh >= out_h or (kw - 1) * dw + (ow - 1) * sw >= out_w:
        raise ValueError("fold_windows: the windows reach past the output plane")
    windows, planes = cols.reshape(nc, kh, kw, oh, ow), out.reshape(nc, out_h, out_w)
    for i in range(kh):  # each kernel offset's values, an (nc, oh, ow) slab, added where they were read
        for j in range(kw):
            planes[:, i * dh:i * dh + (oh - 1) * sh + 1:sh, j * dw:j * dw + (ow - 1) * sw + 1:sw] += windows[:, i, j]


# --- convolution (optional in the interface) -------------------------------------------------------------
def _conv_geometry(name: str, geometry: Any, **named: tuple[np.ndarray | None, str]) -> tuple[int, ...]:
    """The 16 ints of ``geometry``, checked (:func:`~.strides.conv_geometry`), and every named
    buffer checked against the shape (``"x"``, ``"w"``, ``"bias"`` or ``"out"``) it must hold,
    all of one float dtype."""
    geom = conv_geometry(name, geometry)
    n, c, h, w, o, kh, kw, oh, ow, sh, sw, ph, pw, dh, dw, groups = geom
    sizes = {"x": n * c * h * w, "w": o * (c // groups) * kh * kw, "bias": o, "out": n * o * oh * ow}
    bufs = [b for b, _ in named.values() if b is not None]
    for what, (b, kind) in named.items():
        if b is not None and b.size != sizes[kind]:
            raise ValueError(f"{name}: {what} has {b.size} elements, the geometry {geom} needs {sizes[kind]}")
    if len({b.dtype for b in bufs}) != 1 or bufs[0].dtype.kind != "f":
        raise TypeError(f"{name}: all buffers must be float32 or all float64, got {[str(b.dtype) for b in bufs]}")
    return geom


def _conv_windows(x: np.ndarray, geom: tuple[int, ...]) -> np.ndarray:
    """The windows of the padded input as a (n, groups, c / groups, kh, kw, oh, ow) view."""
    n, c, h, w, _, kh, kw, oh, ow, sh, sw, ph, pw, dh, dw, groups = geom
    xp = np.pad(x.reshape(n, c, h, w), ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    s_n, s_c, s_y, s_x = xp.strides
    view = np.lib.stride_tricks.as_strided(xp, (n, c, kh, kw, oh, ow),
                                           (s_n, s_c, s_y * dh, s_x * dw, s_y * sh, s_x * sw), writeable=False)
    return view.reshape(n, groups, c // groups, kh, kw, oh, ow)


def conv2d(x: np.ndarray, w: np.ndarray, bias: np.ndarray | None, out: np.ndarray, geometry: Any) -> None:
    geom = _conv_geometry("conv2d", geometry, x=(x, "x"), w=(w, "w"), bias=(bias, "bias"), out=(out, "out"))
    n, c, _, _, o, kh, kw, oh, ow = geom[:9]
    groups = geom[15]
    wg = w.reshape(groups, o // groups, c // groups, kh, kw)
    res = np.einsum("gqcij,ngcijyx->ngqyx", wg, _conv_windows(x, geom), optimize=True).reshape(n, o, oh, ow)
    if bias is not None:
        res = res + bias.reshape(o, 1, 1)
    out[...] = res.reshape(-1)


def conv2d_backward_input(g: np.ndarray, w: np.ndarray, gx: np.ndarray, geometry: Any) -> None:
    geom = _conv_geometry("conv2d_backward_input", geometry, g=(g, "out"), w=(w, "w"), gx=(gx, "x"))
    n, c, h, wd, o, kh, kw, oh, ow, sh, sw, ph, pw, dh, dw, groups = geom
    wg = w.reshape(groups, o // groups, c // groups, kh, kw)
    gcols = np.einsum("gqcij,ngqyx->ngcijyx", wg, g.reshape(n, groups, o // groups, oh, ow), optimize=True)
    gcols = gcols.reshape(n, c, kh, kw, oh, ow)
    padded = np.zeros((n, c, h + 2 * ph, wd + 2 * pw), dtype=g.dtype)
    for i in range(kh):  # each kernel offset's values added where they were read (windows overlap)
        for j in range(kw):
            rows, cols = slice(i * dh, i * dh + (oh - 1) * sh + 1, sh), slice(j * dw, j * dw + (ow - 1) * sw + 1, sw)
            padded[:, :, rows, cols] += gcols[:, :, i, j]
    gx[...] = padded[:, :, ph:ph + h, pw:pw + wd].reshape(-1)


def conv2d_backward_weight(g: np.ndarray, x: np.ndarray, gw: np.ndarray, geometry: Any) -> None:
    geom = _conv_geometry("conv2d_backward_weight", geometry, g=(g, "out"), x=(x, "x"), gw=(gw, "w"))
    n, _, _, _, o, _, _, oh, ow = geom[:9]
    groups = geom[15]
    gg = g.reshape(n, groups, o // groups, oh, ow)
    gw[...] = np.einsum("ngqyx,ngcijyx->gqcij", gg, _conv_windows(x, geom), optimize=True).reshape(-1)


# --- max pooling (optional in the interface) -------------------------------------------------------------
def _pool_check(name: str, geometry: Any, x_or_gx: np.ndarray, outs: tuple[np.ndarray, np.ndarray]) -> tuple:
    geom = tuple(int(v) for v in geometry)
    if len(geom) != 13 or min(geom[:9]) < 0 or min(geom[5:9]) < 1 or min(geom[9:11]) < 0 or min(geom[11:]) < 1:
        raise ValueError(f"{name}: 13 ints, sizes >= 0, kernel, strides, dilations >= 1, padding >= 0; got {geom}")
    planes, h, w, oh, ow = geom[:5]
    if x_or_gx.size != planes * h * w or any(a.size != planes * oh * ow for a in outs):
        raise ValueError(f"{name}: the buffers' sizes do not fit the geometry {geom}")
    floats, positions = (outs[0], x_or_gx), outs[1]
    if floats[0].dtype != floats[1].dtype or floats[0].dtype.kind != "f" or positions.dtype != np.int64:
        raise TypeError(f"{name}: values float32 or float64 of one dtype and int64 positions, got "
                        f"{[str(a.dtype) for a in (x_or_gx, *outs)]}")
    return geom


def max_pool2d(x: np.ndarray, values: np.ndarray, positions: np.ndarray, geometry: Any) -> None:
    planes, h, w, oh, ow, kh, kw, sh, sw, ph, pw, dh, dw = _pool_check("max_pool2d", geometry, x, (values, positions))
    if not values.size:
        return
    planes_x = x.reshape(planes, h * w)
    best = np.full((planes, oh, ow), -np.inf, x.dtype)
    best_at = np.full((planes, oh, ow), -1, np.int64)
    rows, cols = np.arange(oh)[:, None] * sh - ph, np.arange(ow)[None, :] * sw - pw
    for i in range(kh):  # the window elements in row-major order; the first maximum (or NaN) stays
        for j in range(kw):
            r, c = rows + i * dh, cols + j * dw
            inside = (r >= 0) & (r < h) & (c >= 0) & (c < w)
            at = np.where(inside, np.clip(r, 0, h - 1) * w + np.clip(c, 0, w - 1), -1)
            v = planes_x[:, at.reshape(-1)].reshape(planes, oh, ow)
            take = inside & ((best_at < 0) | (v > best) | (np.isnan(v) & ~np.isnan(best)))
            best, best_at = np.where(take, v, best), np.where(take, at, best_at)
    values[...], positions[...] = best.reshape(-1), best_at.reshape(-1)


def max_pool2d_backward(g: np.ndarray, positions: np.ndarray, gx: np.ndarray, geometry: Any) -> None:
    planes, h, w = _pool_check("max_pool2d_backward", geometry, gx, (g, positions))[:3]
    bad = np.flatnonzero((positions < -1) | (positions >= h * w))
    if bad.size:
        raise IndexError(f"max_pool2d_backward: position {positions[bad[0]]} at element {bad[0]} is outside its "
                         f"{h} x {w} plane")
    out = np.zeros((planes, h * w + 1), gx.dtype)  # column h * w collects the -1 positions, then is dropped
    pos = positions.reshape(planes, -1)
    np.add.at(out, (np.arange(planes)[:, None], np.where(pos < 0, h * w, pos)), g.reshape(planes, -1))
    gx[...] = out[:, :-1].reshape(-1)


# --- optimizers (optional in the interface) --------------------------------------------------------------
def adam_step(param: np.ndarray, grad: np.ndarray, exp_avg: np.ndarray, exp_avg_sq: np.ndarray,
              max_exp_avg_sq: np.ndarray | None, *, step_size: float, beta1: float, beta2: float, eps: float,
              bias2_sqrt: float, decay: float = 1.0, l2: float = 0.0) -> None:
    bufs = [param, grad, exp_avg, exp_avg_sq] + ([] if max_exp_avg_sq is None else [max_exp_avg_sq])
    if len({b.size for b in bufs}) != 1:
        raise ValueError(f"adam_step: buffer sizes differ: {[b.size for b in bufs]}")
    if len({b.dtype for b in bufs}) != 1 or param.dtype.kind != "f":
        raise TypeError(f"adam_step: unsupported buffer dtypes {[str(b.dtype) for b in bufs]}; "
                        "all float32 or all float64")
    t = param.dtype.type  # every step in the parameter's dtype, in the order of torch (and optim.c)
    g = grad + t(l2) * param
    m = exp_avg + t(1.0 - beta1) * (g - exp_avg)
    v = exp_avg_sq * t(beta2) + t(1.0 - beta2) * g * g
    if max_exp_avg_sq is not None:  # AMSGrad: the largest v so far takes v's place
        max_exp_avg_sq[:] = np.where(max_exp_avg_sq > v, max_exp_avg_sq, v)
    vh = v if max_exp_avg_sq is None else max_exp_avg_sq
    param[:] = param * t(decay) + t(-step_size) * (m / (np.sqrt(vh) / t(bias2_sqrt) + t(eps)))
    exp_avg[:] = m
    exp_avg_sq[:] = v


# --- generated kernels (optional in the interface) -----------------------------------------------------------
def call_fused(kernel: Any, n: int, bufs: list[np.ndarray], offsets: list[int]) -> None:
    """Call a generated kernel ``void kernel(int64_t n, void **ptrs)`` on these buffers from
    their offsets (numpy owns host memory, so its address is the buffer's ``ctypes.data``)."""
    import ctypes
    ptrs = (ctypes.c_void_p * len(bufs))(*[b.ctypes.data + o * b.itemsize for b, o in zip(bufs, offsets)])
    kernel(n, ptrs)


def lower_call(fn: Any, args: tuple[Any, ...]) -> tuple[Any, None]:
    """Run ``fn(*args)``; nothing to lower (``None``): numpy does the work, and a recorded
    program replays the interface call itself."""
    return fn(*args), None


def buffer_address(buf: np.ndarray) -> int:
    return int(buf.ctypes.data)
