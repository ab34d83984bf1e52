"""Elementwise ops: one small class per differentiable primitive, forward and backward together.

Binary ops take Tensors or Python scalars and broadcast; their ``backward`` may return
gradients of the broadcast (output) shape, which the engine sums back to each input's shape.
Comparisons, ``sign`` and the logical ops have no gradient and are plain functions.
"""

from __future__ import annotations

import functools
import math
import operator
from typing import Any, Callable

import numpy as np

from ..ndarray import NDArray
from ..ndarray import array as nd_array
from ..ndarray import full as nd_full
from ..ndarray import where as nd_where
from ..ndarray.dtypes import DType, bool_, float64, int64, promote_types, result_type_with_scalar, scalar_category
from ..tensor import Function, Tensor
from .table import exports, op


def _category(dtype: DType) -> int:
    """0 for bool, 1 for integers, 2 for floating point: PyTorch promotes scalars by category."""
    return 2 if dtype.is_floating_point else 0 if dtype is bool_ else 1


def _promote_0d(a: Any, b: Any) -> tuple[Any, Any]:
    """PyTorch's rule for a 0-d tensor next to a tensor with dims: like a Python scalar, it may
    lift the result to a higher category (bool → int → float) but not to a wider dtype.

    ``ones(3) + tensor(1.0, dtype=float64)`` is float32; ``tensor([1, 2]) + tensor(1.5)`` is float32.
    """
    if isinstance(a, Tensor) and isinstance(b, Tensor):
        da, db = a, b  # shape and dtype through the Tensor (a lazy tensor knows them before its values)
        if da.dtype is not db.dtype and (not da.shape) != (not db.shape):
            if not da.shape and _category(da.dtype) <= _category(db.dtype):
                a = Cast.apply(a, dtype=db.dtype)
            elif not db.shape and _category(db.dtype) <= _category(da.dtype):
                b = Cast.apply(b, dtype=da.dtype)
    return a, b


def _keep_bool(out: NDArray, a: Any, b: Any) -> NDArray:
    """PyTorch keeps ``bool + bool`` and ``bool * bool`` bool (logical or / and); NDArray
    computes arithmetic on bools in int64."""
    if out.dtype is int64 and _is_bool(a) and _is_bool(b):
        return out != 0
    return out


def _is_bool(v: Any) -> bool:
    return v.dtype is bool_ if isinstance(v, NDArray) else isinstance(v, bool)


# --- binary primitives ------------------------------------------------------------------------------
class Add(Function):
    def forward(self, a: Any, b: Any) -> NDArray: return _keep_bool(a + b, a, b)
    def backward(self, g: Tensor) -> tuple: return g, g


class Sub(Function):
    def forward(self, a: Any, b: Any) -> NDArray: return a - b
    def backward(self, g: Tensor) -> tuple: return g, (-g if self.needs_input_grad[1] else None)


class Mul(Function):
    def forward(self, a: Any, b: Any) -> NDArray: return _keep_bool(a * b, a, b)

    def backward(self, g: Tensor) -> tuple:
        a, b = self.inputs
        return (g * b if self.needs_input_grad[0] else None,
                g * a if self.needs_input_grad[1] else None)


class Div(Function):
    def forward(self, a: Any, b: Any) -> NDArray: return a / b

    def backward(self, g: Tensor) -> tuple:
        a, b = self.inputs
        return (g / b if self.needs_input_grad[0] else None,
                -g * (a / b) / b if self.needs_input_grad[1] else None)


class Pow(Function):
    """``a ** b``. d/da = b·a^(b-1) (0 where b == 0); d/db = a^b·log(a) (0 where a == 0 and b >= 0).

    A negative base gives NaN for d/db (its log is NaN), as PyTorch, never an exception."""

    def forward(self, a: Any, b: Any) -> NDArray:
        self.out = a ** b
        return self.out

    def backward(self, g: Tensor) -> tuple:
        a, b = self.inputs
        ga = gb = None
        if self.needs_input_grad[0]:
            if isinstance(b, Tensor):
                ga = where(b == 0, 0.0, g * b * a ** (b - 1))
            else:
                ga = g * b * a ** (b - 1) if b != 0 else g * 0.0
        if self.needs_input_grad[1]:
            if isinstance(a, Tensor):
                gb = where((a == 0) & (b >= 0), 0.0, g * self.output() * a.log())
            else:
                gb = g * self.output() * _scalar_log(a)
                gb = where(b >= 0, 0.0, gb) if a == 0 else gb
        return ga, gb


def _scalar_log(a: float) -> float:
    """``log(a)`` with IEEE's answers where :func:`math.log` raises: -inf at 0, NaN below."""
    return math.log(a) if a > 0 else (-math.inf if a == 0 else math.nan)


class Maximum(Function):
    """Elementwise max; on ties each side gets half the gradient, and where either side is NaN
    (no order) both get all of it (as PyTorch)."""

    def forward(self, a: Any, b: Any) -> NDArray: return a.maximum(b) if isinstance(a, NDArray) else b.maximum(a)

    def backward(self, g: Tensor) -> tuple:
        a, b = self.inputs
        return (g * _share(a, b, a < b) if self.needs_input_grad[0] else None,
                g * _share(a, b, a > b) if self.needs_input_grad[1] else None)


class Minimum(Function):
    """Elementwise min; gradients shared as :class:`Maximum`'s."""

    def forward(self, a: Any, b: Any) -> NDArray: return a.minimum(b) if isinstance(a, NDArray) else b.minimum(a)

    def backward(self, g: Tensor) -> tuple:
        a, b = self.inputs
        return (g * _share(a, b, a > b) if self.needs_input_grad[0] else None,
                g * _share(a, b, a < b) if self.needs_input_grad[1] else None)


def _share(a: Any, b: Any, loses: Tensor) -> Tensor:
    """The share of the gradient one side of maximum/minimum gets: 0 where it ``loses``, 1/2
    on a tie, else 1 (so also 1 where a NaN makes every comparison false)."""
    return where(loses, 0.0, where(a == b, 0.5, 1.0))


class Where(Function):
    """``a`` where ``cond`` else ``b``: the gradient goes to the side that was chosen."""

    def forward(self, a: Any, b: Any, cond: NDArray) -> NDArray:
        return nd_where(cond, a, b)

    def backward(self, g: Tensor) -> tuple:
        cond = self.inputs[2]
        return (where(cond, g, 0.0) if self.needs_input_grad[0] else None,
                where(cond, 0.0, g) if self.needs_input_grad[1] else None, None)


# --- unary primitives --------------------------------------------------------------------------------
class Cast(Function):
    """A copy with another dtype."""

    def forward(self, a: NDArray, dtype: DType) -> NDArray: return a.astype(dtype)
    def backward(self, g: Tensor) -> Tensor: return g  # the engine casts gradients to each input's dtype


class Neg(Function):
    def forward(self, a: NDArray) -> NDArray: return -a
    def backward(self, g: Tensor) -> Tensor: return -g


class Exp(Function):
    def forward(self, a: NDArray) -> NDArray:
        self.out = a.exp()
        return self.out

    def backward(self, g: Tensor) -> Tensor: return g * self.output()


class Log(Function):
    def forward(self, a: NDArray) -> NDArray: return a.log()
    def backward(self, g: Tensor) -> Tensor: return g / self.inputs[0]


class Sqrt(Function):
    def forward(self, a: NDArray) -> NDArray:
        self.out = a.sqrt()
        return self.out

    def backward(self, g: Tensor) -> Tensor: return g / (self.output() * 2)


class Rsqrt(Function):
    """``1 / sqrt(x)``, not ``x ** -0.5``: pow says ``(-inf) ** -0.5 = 0`` and ``(-0.) ** -0.5 = inf``,
    PyTorch's rsqrt NaN and -inf, which are ``1 / sqrt`` of them."""

    def forward(self, a: NDArray) -> NDArray:
        self.out = 1.0 / a.sqrt()
        return self.out

    def backward(self, g: Tensor) -> Tensor:
        out = self.output()
        return g * (out * out * out) * -0.5


class Abs(Function):
    def forward(self, a: NDArray) -> NDArray: return a.abs()
    def backward(self, g: Tensor) -> Tensor: return g * sign(self.inputs[0])


class Sin(Function):
    def forward(self, a: NDArray) -> NDArray: return a.sin()
    def backward(self, g: Tensor) -> Tensor: return g * self.inputs[0].cos()


class Cos(Function):
    def forward(self, a: NDArray) -> NDArray: return a.cos()
    def backward(self, g: Tensor) -> Tensor: return -g * self.inputs[0].sin()


class Tanh(Function):
    def forward(self, a: NDArray) -> NDArray:
        self.out = a.tanh()
        return self.out

    def backward(self, g: Tensor) -> Tensor:
        t = self.output()
        return g * (1 - t * t)


class Sigmoid(Function):
    def forward(self, a: NDArray) -> NDArray:
        self.out = a.sigmoid()
        return self.out

    def backward(self, g: Tensor) -> Tensor:
        s = self.output()
        return g * s * (1 - s)


class Relu(Function):
    """max(x, 0); the gradient is 0 where x <= 0 and passes elsewhere, so at 0 it is 0 and at a
    NaN it passes (PyTorch's threshold rule)."""

    def forward(self, a: NDArray) -> NDArray:
        self.out = a.relu()
        return self.out

    def backward(self, g: Tensor) -> Tensor: return g * Tensor._make(~(self.out <= 0), False, None)


class Erf(Function):
    def forward(self, a: NDArray) -> NDArray: return a.erf()

    def backward(self, g: Tensor) -> Tensor:
        x = self.inputs[0]
        return g * (2 / math.sqrt(math.pi)) * (-(x * x)).exp()



class Rounding(Function):
    """``floor``, ``ceil``, ``trunc`` or ``round`` (half to even): the backend kernel named
    ``fn``. The result is a step function of the input, so the gradient is zero."""

    def forward(self, a: NDArray, fn: str) -> NDArray: return getattr(a, fn)()
    def backward(self, g: Tensor) -> Tensor: return Tensor._make(nd_full(g.shape, 0, g.dtype, g.device), False, None)


class Log1p(Function):
    """``log(1 + x)``, exact for small x."""

    def forward(self, a: NDArray) -> NDArray: return a.log1p()
    def backward(self, g: Tensor) -> Tensor: return g / (self.inputs[0] + 1)


class Expm1(Function):
    """``exp(x) - 1``, exact for small x."""

    def forward(self, a: NDArray) -> NDArray:
        self.out = a.expm1()
        return self.out

    def backward(self, g: Tensor) -> Tensor: return g * (self.output() + 1)


class Asin(Function):
    def forward(self, a: NDArray) -> NDArray: return a.asin()
    def backward(self, g: Tensor) -> Tensor: return g / sqrt(1 - self.inputs[0] * self.inputs[0])


class Acos(Function):
    def forward(self, a: NDArray) -> NDArray: return a.acos()
    def backward(self, g: Tensor) -> Tensor: return -g / sqrt(1 - self.inputs[0] * self.inputs[0])


class Atan(Function):
    def forward(self, a: NDArray) -> NDArray: return a.atan()
    def backward(self, g: Tensor) -> Tensor: return g / (self.inputs[0] * self.inputs[0] + 1)


class Sinh(Function):
    def forward(self, a: NDArray) -> NDArray: return a.sinh()
    def backward(self, g: Tensor) -> Tensor: return g * cosh(self.inputs[0])


class Cosh(Function):
    def forward(self, a: NDArray) -> NDArray: return a.cosh()
    def backward(self, g: Tensor) -> Tensor: return g * sinh(self.inputs[0])


class Asinh(Function):
    def forward(self, a: NDArray) -> NDArray: return a.asinh()
    def backward(self, g: Tensor) -> Tensor: return g / sqrt(self.inputs[0] * self.inputs[0] + 1)


class Acosh(Function):
    def forward(self, a: NDArray) -> NDArray: return a.acosh()
    def backward(self, g: Tensor) -> Tensor: return g / sqrt((self.inputs[0] - 1) * (self.inputs[0] + 1))


class Atanh(Function):
    def forward(self, a: NDArray) -> NDArray: return a.atanh()
    def backward(self, g: Tensor) -> Tensor: return g / (1 - self.inputs[0] * self.inputs[0])

# --- the functional forms ----------------------------------------------------------------------------
@op(operators=("__add__",), reflected=("__radd__",))
def add(a: Any, b: Any, alpha: Any = 1) -> Tensor:
    if _is_bool_operand(a) and _is_bool_operand(b) and alpha == 1:
        return _logical(a, b, "or")  # bool + bool stays bool (as PyTorch): a logical or
    return Add.apply(*_promote_0d(a, b if alpha == 1 else b * alpha))


@op(operators=("__sub__",), reflected=("__rsub__",))
def sub(a: Any, b: Any, alpha: Any = 1) -> Tensor:
    """``a - alpha * b``; a bool operand raises ``RuntimeError`` (as PyTorch: ``~mask`` inverts a mask)."""
    if _is_bool_operand(a) or _is_bool_operand(b):
        raise RuntimeError("Subtraction, the `-` operator, with a bool tensor is not supported. If you are trying "
                           "to invert a mask, use the `~` or `logical_not()` operator instead.")
    return Sub.apply(*_promote_0d(a, b if alpha == 1 else b * alpha))


def _no_bool(x: Tensor, message: str, error: type[Exception] = RuntimeError) -> None:
    """Refuse a bool tensor where PyTorch has no kernel for bools (a mask is not a number)."""
    if x.dtype is bool_:
        raise error(message)


def _logical(a: Any, b: Any, how: str) -> Tensor:
    """``a or b`` / ``a and b`` elementwise for two bools (tensors or Python bools), no gradient."""
    x, y = (v._data if isinstance(v, Tensor) else bool(v) for v in (a, b))
    if not isinstance(x, NDArray):
        x, y = y, x  # the tensor first: the operators are symmetric
    return _constant(x | y if how == "or" else x & y)  # type: ignore[operator]


def _is_bool_operand(v: Any) -> bool:
    """A bool tensor or a Python/numpy bool (the operands PyTorch's bool rules are about)."""
    return isinstance(v, (bool, np.bool_)) or (isinstance(v, Tensor) and v.dtype is bool_)


@op(operators=("__mul__",), reflected=("__rmul__",))
def mul(a: Any, b: Any) -> Tensor:
    if _is_bool_operand(a) and _is_bool_operand(b):
        return _logical(a, b, "and")  # bool * bool stays bool (as PyTorch): a logical and
    return Mul.apply(*_promote_0d(a, b))
@op(operators=("__truediv__",), reflected=("__rtruediv__",))
def div(a: Any, b: Any, *, rounding_mode: str | None = None) -> Tensor:
    """``a / b`` (integers give floats); with ``rounding_mode="trunc"`` the quotient rounded
    toward zero, with ``"floor"`` rounded down (both keep integer dtypes, exactly; an integer
    division by zero raises ``RuntimeError("ZeroDivisionError")``, as PyTorch). The rounded
    quotients have a zero gradient."""
    if rounding_mode is None:
        return Div.apply(*_promote_0d(a, b))
    return _rounded_div(a, b, rounding_mode)
@op(operators=("__pow__",), reflected=("__rpow__",))
def pow(a: Any, b: Any) -> Tensor:  # noqa: A001
    if isinstance(a, Tensor) and isinstance(b, Tensor) and a.dtype is bool_ and b.dtype is bool_:
        raise NotImplementedError('"pow" not implemented for \'Bool\'')
    return Pow.apply(*_promote_0d(a, b))
@op
def maximum(a: Tensor, b: Tensor) -> Tensor: return Maximum.apply(*_promote_0d(a, b))
@op
def minimum(a: Tensor, b: Tensor) -> Tensor: return Minimum.apply(*_promote_0d(a, b))
@op(operators=("__neg__",))
def neg(x: Tensor) -> Tensor:
    if x.dtype is bool_:
        raise RuntimeError("Negation, the `-` operator, on a bool tensor is not supported. If you are trying to "
                           "invert a mask, use the `~` or `logical_not()` operator instead.")
    return Neg.apply(x)
@op
def exp(x: Tensor) -> Tensor: return Exp.apply(x)
@op
def log(x: Tensor) -> Tensor: return Log.apply(x)
@op
def sqrt(x: Tensor) -> Tensor: return Sqrt.apply(x)
@op(operators=("__abs__",))
def abs(x: Tensor) -> Tensor:  # noqa: A001
    _no_bool(x, '"abs_cpu" not implemented for \'Bool\'', NotImplementedError)
    return Abs.apply(x)
@op
def sin(x: Tensor) -> Tensor: return Sin.apply(x)
@op
def cos(x: Tensor) -> Tensor: return Cos.apply(x)
@op
def tanh(x: Tensor) -> Tensor: return Tanh.apply(x)
@op
def sigmoid(x: Tensor) -> Tensor: return Sigmoid.apply(x)
@op
def relu(x: Tensor) -> Tensor:
    _no_bool(x, "Boolean inputs not supported for relu")
    return Relu.apply(x)
@op
def erf(x: Tensor) -> Tensor: return Erf.apply(x)
@op
def rsqrt(x: Tensor) -> Tensor: return Rsqrt.apply(x)
@op
def square(x: Tensor) -> Tensor:
    """``x * x``; bools are squared as int64 (as PyTorch, where square is ``pow(x, 2)``)."""
    if x.dtype is bool_:
        x = Cast.apply(x, dtype=int64)
    return Mul.apply(x, x)



def _rounded(x: Tensor, fn: str) -> Tensor:
    """Integers are already whole: they come back as a copy of their own dtype (as PyTorch,
    which refuses bools)."""
    _no_bool(x, f'"{fn}" not implemented for \'Bool\'', NotImplementedError)
    if not x.dtype.is_floating_point:
        return Tensor._make(x._data.copy(), False, None)
    return Rounding.apply(x, fn=fn)


@op
def floor(x: Tensor) -> Tensor: return _rounded(x, "floor")
@op
def ceil(x: Tensor) -> Tensor: return _rounded(x, "ceil")
@op
def trunc(x: Tensor) -> Tensor: return _rounded(x, "trunc")


@op
def round(x: Tensor, decimals: int = 0) -> Tensor:  # noqa: A001
    """The nearest integer, halves to even (``round(2.5) == 2``); with ``decimals``, the nearest
    multiple of ``10 ** -decimals`` (computed as ``round(x * 10**d) / 10**d``, as PyTorch)."""
    if decimals == 0 or not x.dtype.is_floating_point:
        return _rounded(x, "round")
    scale = 10.0 ** decimals
    return div(_rounded(mul(x, scale), "round"), scale)


@op
def frac(x: Tensor) -> Tensor:
    """``x - trunc(x)``: the fractional part, with x's sign."""
    return sub(x, trunc(x))


@op
def log1p(x: Tensor) -> Tensor: return Log1p.apply(x)
@op
def expm1(x: Tensor) -> Tensor: return Expm1.apply(x)
@op
def asin(x: Tensor) -> Tensor: return Asin.apply(x)
@op
def acos(x: Tensor) -> Tensor: return Acos.apply(x)
@op
def atan(x: Tensor) -> Tensor: return Atan.apply(x)
@op
def sinh(x: Tensor) -> Tensor: return Sinh.apply(x)
@op
def cosh(x: Tensor) -> Tensor: return Cosh.apply(x)
@op
def asinh(x: Tensor) -> Tensor: return Asinh.apply(x)
@op
def acosh(x: Tensor) -> Tensor: return Acosh.apply(x)
@op
def atanh(x: Tensor) -> Tensor: return Atanh.apply(x)


fix = op(trunc, name="fix")
arcsin = op(asin, name="arcsin")
arccos = op(acos, name="arccos")
arctan = op(atan, name="arctan")
arcsinh = op(asinh, name="arcsinh")
arccosh = op(acosh, name="arccosh")
arctanh = op(atanh, name="arctanh")

subtract = op(sub, name="subtract")  # PyTorch's aliases
multiply = op(mul, name="multiply")
divide = op(div, name="divide")
negative = op(neg, name="negative")


@op(method=False)
def where(cond: Any, a: Any = None, b: Any = None) -> Any:
    """``a`` where ``cond`` is true, else ``b`` (broadcast together; either may be a scalar).
    ``where(cond)`` alone is ``nonzero(cond, as_tuple=True)``."""
    if a is None and b is None:
        return nonzero(cond, as_tuple=True)
    c = cond._data if isinstance(cond, Tensor) else cond
    if not isinstance(c, NDArray) or c.dtype is not bool_:
        raise TypeError(f"where expected condition to be a boolean tensor, got {getattr(c, 'dtype', type(c))}")
    return Where.apply(*_promote_0d(a, b), cond if isinstance(cond, Tensor) else Tensor._make(c, False, None))


@op
def clamp(x: Tensor, min: Any = None, max: Any = None) -> Tensor:  # noqa: A002
    """Clip into ``[min, max]`` (bounds are scalars or tensors). Gradient flows where
    ``min <= x <= max``, bounds included, as in PyTorch: not at a NaN, which stays NaN."""
    if min is None and max is None:
        raise RuntimeError("torch.clamp: At least one of 'min' or 'max' must not be None")
    if x.requires_grad:  # a NaN is in no range: its value passes, its gradient does not
        x = where(x != x, x.detach(), x)
    if min is not None:
        x = where(x < min, min, x)
    if max is not None:
        x = where(x > max, max, x)
    return x


clip = op(clamp, name="clip")


@op
def clamp_min(x: Tensor, min: Any) -> Tensor:  # noqa: A002
    """``clamp(x, min=min)``."""
    return clamp(x, min=min)


@op
def clamp_max(x: Tensor, max: Any) -> Tensor:  # noqa: A002
    """``clamp(x, max=max)``."""
    return clamp(x, max=max)


@op
def reciprocal(x: Tensor) -> Tensor:
    """``1 / x`` (integers give floats)."""
    return div(1.0, x)


@op
def tan(x: Tensor) -> Tensor:
    """``sin(x) / cos(x)``."""
    return div(sin(x), cos(x))


@op
def log2(x: Tensor) -> Tensor:
    """The base-2 logarithm: ``log(x) / log(2)``."""
    return mul(log(x), 1 / math.log(2))


@op
def log10(x: Tensor) -> Tensor:
    """The base-10 logarithm: ``log(x) / log(10)``."""
    return mul(log(x), 1 / math.log(10))


@op
def lerp(start: Tensor, end: Tensor, weight: Any) -> Tensor:
    """``start + weight * (end - start)``, computed as PyTorch does: from ``end`` backwards where
    ``weight >= 0.5``, so that ``weight = 1`` gives ``end`` exactly."""
    diff = sub(end, start)
    if not isinstance(weight, Tensor):
        return add(start, mul(diff, weight)) if math.fabs(weight) < 0.5 else sub(end, mul(diff, 1 - weight))
    return where(lt(abs(weight), 0.5), add(start, mul(diff, weight)), sub(end, mul(diff, sub(1, weight))))


@op
def logaddexp(a: Tensor, b: Tensor) -> Tensor:
    """``log(exp(a) + exp(b))`` without overflow: ``max(a, b) + log(1 + exp(-|a - b|))`` (equal
    infinities give themselves)."""
    gap = where(eq(a, b), 0.0, neg(abs(sub(a, b))))
    return add(maximum(a, b), log(add(exp(gap), 1.0)))


_LN2 = math.log(2.0)


@op
def logaddexp2(a: Tensor, b: Tensor) -> Tensor:
    """``log2(2 ** a + 2 ** b)`` without overflow: :func:`logaddexp` in base 2."""
    return div(logaddexp(mul(a, _LN2), mul(b, _LN2)), _LN2)


@op
def exp2(x: Tensor) -> Tensor:
    """``2 ** x`` elementwise."""
    return pow(2.0, x)


@op
def nan_to_num(x: Tensor, nan: float = 0.0, posinf: float | None = None, neginf: float | None = None) -> Tensor:
    """``x`` with NaN replaced by ``nan`` and infinities by ``posinf`` / ``neginf`` (default: the
    largest / lowest finite number of ``x``'s dtype). Integers and bools come back unchanged."""
    if not x.dtype.is_floating_point:
        return x
    info = np.finfo(x.dtype.np_dtype)
    x = where(isnan(x), nan, x)
    x = where(eq(x, math.inf), float(info.max) if posinf is None else posinf, x)
    return where(eq(x, -math.inf), float(info.min) if neginf is None else neginf, x)

@op
def hypot(a: Tensor, b: Tensor) -> Tensor:
    """``sqrt(a**2 + b**2)`` elementwise, computed in the result dtype (both inputs are cast first).

    As C's ``hypot``: no overflow where ``a**2`` would overflow (the larger magnitude ``m`` is
    factored out: ``m * sqrt(1 + (small / m)**2)``), and ``inf`` where either input is infinite,
    even next to a NaN. The gradient at ``(0, 0)`` is NaN, as PyTorch's.
    """
    a, b = _promote_0d(a, b)
    if a.dtype is not b.dtype:
        common = promote_types(a.dtype, b.dtype)
        a, b = Cast.apply(a, dtype=common), Cast.apply(b, dtype=common)
    big, small = maximum(abs(a), abs(b)), minimum(abs(a), abs(b))
    ratio = div(small, big)
    out = where(eq(big, 0.0), 0.0, mul(big, sqrt(add(mul(ratio, ratio), 1.0))))
    return where(logical_or(isinf(a), isinf(b)), math.inf, out)


@op
def masked_fill(x: Tensor, mask: Tensor, value: Any) -> Tensor:
    """``value`` where ``mask`` is true, else ``x`` (the result keeps ``x``'s dtype)."""
    if isinstance(value, Tensor):
        if value.ndim != 0:
            raise RuntimeError(f"masked_fill only supports a 0-dimensional value tensor, "
                               f"but got tensor with {value.ndim} dimension(s).")
        value = Cast.apply(value, dtype=x.dtype) if value.dtype is not x.dtype else value
    else:  # a Python number takes x's dtype first (2.7 fills an int tensor with 2), as PyTorch
        value = Tensor._make(nd_full((), _as_scalar_of(value, x.dtype), dtype=x.dtype, device=x.device), False, None)
    return where(mask, value, x)


def _as_scalar_of(value: Any, dtype: DType) -> Any:
    """The Python number ``value`` converted to ``dtype`` as PyTorch's fill converts it: toward
    zero into int64 (``RuntimeError`` for NaN, inf or out of range), nonzero → True for bool."""
    if dtype is bool_:
        return bool(value)
    if dtype is int64:
        if not (isinstance(value, (int, np.integer)) or math.isfinite(value)) or not -2**63 <= int(value) < 2**63:
            raise RuntimeError(f"value {value!r} cannot be converted to type int64 without overflow")
        return int(value)
    return float(value)


# --- no gradient: comparisons, sign, logic ------------------------------------------------------------
def _constant(data: Any) -> Any:
    """Wrap an NDArray result as a tensor outside the graph (NotImplemented passes through)."""
    return Tensor._make(data, False, None) if isinstance(data, NDArray) else data


class Untracked(Function):
    """An op without a gradient, ``fn`` applied to the arrays (comparisons, logic, bit
    operations). It runs through ``apply`` so that dispatch modes see it: ``vmap`` batches
    it like any elementwise op. Its results carry no gradient (``sign``'s floats have a zero one)."""

    def forward(self, *arrays: Any, fn: Callable[..., NDArray]) -> NDArray:
        self.kind = getattr(fn, "__name__", "untracked").strip("_").removesuffix("_of")
        return fn(*arrays)

    def backward(self, g: Tensor) -> tuple[None, ...]:
        return (None,) * len(self.inputs)  # sign's floats: a zero gradient, as PyTorch's

    def name(self) -> str:
        return f"{self.kind.capitalize()}Backward0"  # SignBackward0, as PyTorch names it


def _untracked(fn: Callable[..., Any], *args: Any) -> Any:
    """``fn`` of the arrays of ``args`` (tensors or numbers) through :class:`Untracked`;
    anything else (NotImplemented from ``fn``) the way ``fn`` answers it directly."""
    if all(isinstance(a, (Tensor, bool, int, float)) for a in args):
        return Untracked.apply(*args, fn=fn)
    return _constant(fn(*(a._data if isinstance(a, Tensor) else a for a in args)))


def _compare(fn: Any) -> Any:
    def compare(a: Any, b: Any) -> Tensor:
        a, b = _promote_0d(a, b)
        return _untracked(fn, a, b)
    compare.__name__ = compare.__qualname__ = fn.__name__
    compare.__doc__ = f"Elementwise ``{fn.__name__}`` with broadcasting: a bool tensor, no gradient."
    return compare


eq = op(_compare(operator.eq), operators=("__eq__",), grad=False)
ne = op(_compare(operator.ne), operators=("__ne__",), grad=False)
lt = op(_compare(operator.lt), operators=("__lt__",), grad=False)
le = op(_compare(operator.le), operators=("__le__",), grad=False)
gt = op(_compare(operator.gt), operators=("__gt__",), grad=False)
ge = op(_compare(operator.ge), operators=("__ge__",), grad=False)


@op(grad=False)
def sign(x: Tensor) -> Tensor:
    """-1, 0 or 1 elementwise (no gradient: it is zero almost everywhere); as PyTorch, NaN and
    -0.0 give 0 (numpy's sign, the NDArray kernel, keeps NaN and -0.0); bools stay bools."""
    return _untracked(_sign_of, x)


def _sign_of(a: NDArray) -> NDArray:
    if a.dtype is bool_:
        return a.copy()
    return (a > 0).astype(a.dtype) - (a < 0).astype(a.dtype)


sgn = op(sign, name="sgn", grad=False)  # sign for real numbers


@op(grad=False)
def isnan(x: Tensor) -> Tensor: return _untracked(_isnan_of, x)
@op(grad=False)
def isinf(x: Tensor) -> Tensor: return _untracked(_isinf_of, x)
@op(grad=False)
def isfinite(x: Tensor) -> Tensor: return _untracked(_isfinite_of, x)
@op(grad=False)
def logical_not(x: Tensor) -> Tensor: return _untracked(_logical_not_of, _need_tensor(x))
@op(grad=False)
def logical_and(a: Tensor, b: Tensor) -> Tensor:
    return _untracked(_logical_and_of, _need_tensor(a), _need_tensor(b))
@op(grad=False)
def logical_or(a: Tensor, b: Tensor) -> Tensor:
    return _untracked(_logical_or_of, _need_tensor(a), _need_tensor(b))
@op(grad=False)
def logical_xor(a: Tensor, b: Tensor) -> Tensor:
    return _untracked(_logical_xor_of, _need_tensor(a), _need_tensor(b))


@op(grad=False)
def isclose(a: Tensor, b: Any, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False) -> Tensor:
    """``|a - b| <= atol + rtol * |b|`` elementwise, broadcasting (PyTorch's ``isclose``): equal
    infinities are close, and NaN is close to NaN only with ``equal_nan``. A bool tensor, no
    gradient. Integers are compared as float64."""
    if rtol < 0 or atol < 0:
        raise ValueError(f"rtol and atol must be non-negative, got rtol={rtol} and atol={atol}")
    if not isinstance(a, Tensor):
        raise TypeError(f"isclose(): expected a Tensor as the first argument, got {type(a).__name__}")
    close = functools.partial(_isclose_of, rtol, atol, equal_nan)
    close.__name__ = "isclose"  # type: ignore[attr-defined]  # Untracked's node name
    return _untracked(close, a, b)  # an op, so that dispatch modes (vmap) see it


def _isclose_of(rtol: float, atol: float, equal_nan: bool, x: NDArray, y: Any) -> NDArray:
    """:func:`isclose` on an array ``x`` and an array or number ``y``."""
    if not x.dtype.is_floating_point:
        x = x.astype(float64)
    if isinstance(y, NDArray) and not y.dtype.is_floating_point:
        y = y.astype(float64)
    size = y.abs() if isinstance(y, NDArray) else math.fabs(y)
    diff = (x - y).abs()
    # within tolerance (an infinite difference never is, even against an infinite tolerance),
    # or equal (which is how infinities are close)
    close = ((diff <= size * rtol + atol) & (diff != math.inf)) | (x == y)
    if equal_nan:
        y_nan = y != y  # an array, or a Python bool for a number
        if isinstance(y_nan, NDArray):
            close = close | ((x != x) & y_nan)
        elif y_nan:
            close = close | (x != x)
    return close  # type: ignore[no-any-return]


@op(grad=False)
def allclose(a: Tensor, b: Any, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False) -> bool:
    """True when every element of ``a`` is :func:`isclose` to ``b`` (a Python bool)."""
    return bool(isclose(a, b, rtol, atol, equal_nan).all())


# what the no-gradient ops compute on the arrays (named, so that a tool seeing an Untracked op
# can tell which one it is from ``fn.__name__``)
def _isnan_of(a: NDArray) -> NDArray: return a != a
def _isinf_of(a: NDArray) -> NDArray: return a.abs() == math.inf
def _isfinite_of(a: NDArray) -> NDArray: return (a == a) & (a.abs() != math.inf)
def _logical_not_of(a: NDArray) -> NDArray: return a.astype(bool_) == False  # noqa: E712
def _logical_and_of(a: NDArray, b: NDArray) -> NDArray: return a.astype(bool_) & b.astype(bool_)
def _logical_or_of(a: NDArray, b: NDArray) -> NDArray: return a.astype(bool_) | b.astype(bool_)
def _logical_xor_of(a: NDArray, b: NDArray) -> NDArray: return a.astype(bool_) != b.astype(bool_)


def _need_tensor(x: Any) -> Tensor:
    if not isinstance(x, Tensor):
        raise TypeError(f"expected a Tensor, got {type(x).__name__}")
    return x


@op(name="where", function=False)
def where_method(x: Tensor, condition: Tensor, other: Any) -> Tensor:
    """``Tensor.where(condition, other)``: ``x`` where ``condition``, else ``other``."""
    return where(condition, x, other)


@op(operators=("__pos__",))
def positive(x: Tensor) -> Tensor:
    """``+x``: ``x`` itself."""
    return x


class Nonzero(Function):
    """The ``(count, ndim)`` int64 indices of the nonzero elements of ``a`` (at least 1-D), found
    on the host: the count, a value, decides the result's shape. No gradient. An op so that
    dispatch modes see it (``vmap`` refuses it, as PyTorch's: each example has its own count)."""

    def forward(self, a: NDArray) -> NDArray:
        found = np.argwhere(a.numpy())
        return nd_array(found.astype(np.int64).reshape(len(found), a.ndim), device=a.device)

    def backward(self, g: Tensor) -> None: return None


@op(grad=False)
def nonzero(x: Tensor, *, as_tuple: bool = False) -> Any:
    """The indices of the nonzero elements: an int64 ``(count, ndim)`` tensor, or with ``as_tuple``
    one 1-D tensor per dim (the columns; a 0-d ``x`` gives one column of zeros, as PyTorch)."""
    found = Nonzero.apply(x if x.ndim else x.reshape(1))
    if as_tuple:
        return tuple(found[:, i] for i in range(found.shape[1]))
    return found if x.ndim else found[:, :0]


@op(grad=False)
def argwhere(x: Tensor) -> Tensor:
    """``nonzero(x)``: the ``(count, ndim)`` indices of the nonzero elements."""
    return nonzero(x)


# --- elementwise math (h-math): atan2, copysign, erfc, erfinv, the division family, bitwise ops -----------
# Each is one backend kernel (see interface.MORE_BINARY_OPS): fmod, remainder and the rounded
# quotients are exact for int64 and follow PyTorch's float rules (signed zeros, infinities).
def _nd_binary(a: Any, b: Any, kernel: str) -> NDArray:
    """The NDArray method ``kernel`` of ``a`` and ``b`` (one may be a Python scalar, either side).
    An integer division by zero raises ``RuntimeError("ZeroDivisionError")``, as PyTorch's."""
    try:
        return getattr(a, kernel)(b) if isinstance(a, NDArray) else getattr(b, kernel)(a, reverse=True)
    except ZeroDivisionError:
        raise RuntimeError("ZeroDivisionError") from None


def _result_dtype(a: Any, b: Any) -> DType:
    """The dtype PyTorch gives ``op(a, b)`` (at least one of the two is a Tensor)."""
    if isinstance(a, Tensor) and isinstance(b, Tensor):
        return promote_types(a.dtype, b.dtype)
    if not isinstance(a, Tensor) and not isinstance(b, Tensor):
        raise TypeError(f"expected a Tensor, got {type(a).__name__} and {type(b).__name__}")
    t, other = (a, b) if isinstance(a, Tensor) else (b, a)
    return result_type_with_scalar(t.dtype, other)


@op(method=False, grad=False)
def result_type(tensor1: Any, tensor2: Any) -> DType:
    """The dtype of an arithmetic op on ``tensor1`` and ``tensor2`` (tensors or Python numbers),
    by PyTorch's rules: tensors with dims promote to the wider dtype; a 0-d tensor or a number
    next to them may only raise the category (bool, integer, float), taking its own dtype (the
    default float32 for a Python float) when it does."""
    def rank(v: Any) -> int:  # tensors with dims first, then 0-d tensors, then numbers
        return (2 if v.ndim else 1) if isinstance(v, Tensor) else 0

    def dtype_of(v: Any) -> DType:
        return v.dtype if isinstance(v, Tensor) else scalar_category(v)

    hi, lo = (tensor1, tensor2) if rank(tensor1) >= rank(tensor2) else (tensor2, tensor1)
    if rank(hi) == rank(lo):
        return promote_types(dtype_of(hi), dtype_of(lo))
    if _category(dtype_of(lo)) > _category(dtype_of(hi)):
        return dtype_of(lo)
    return dtype_of(hi)


def _no_bool_division(name: str, a: Any, b: Any) -> None:
    """PyTorch has no bool kernel for the division family (``bool // 2`` is fine: int64)."""
    if _result_dtype(a, b) is bool_:
        raise NotImplementedError(f"{name} is not implemented for bool tensors")


def _tensor_arg(fn: str, x: Any, position: int) -> None:
    if not isinstance(x, Tensor):
        name = "input" if position == 1 else "other"
        raise TypeError(f"{fn}(): argument '{name}' (position {position}) must be Tensor, not {type(x).__name__}")


def _zero_grad(g: Tensor) -> Tensor:
    return Tensor._make(nd_full(g.shape, 0, g.dtype, g.device), False, None)


class Atan2(Function):
    """The angle of the point (b, a). d/da = b / (a² + b²); d/db = -a / (a² + b²); both 0 at the
    origin (as PyTorch)."""

    def forward(self, a: Any, b: Any) -> NDArray: return _nd_binary(a, b, "atan2")

    def backward(self, g: Tensor) -> tuple:
        a, b = self.inputs
        r2 = a * a + b * b
        r2 = where(r2 == 0, 1.0, r2)  # at the origin both numerators are 0
        return (g * b / r2 if self.needs_input_grad[0] else None,
                -g * a / r2 if self.needs_input_grad[1] else None)


class Copysign(Function):
    """``|a|`` with the sign of ``b``. d/da = copysign(a, b) / a (0 where a == 0, as PyTorch);
    d/db = 0."""

    def forward(self, a: Any, b: Any) -> NDArray:
        self.out = _nd_binary(a, b, "copysign")
        return self.out

    def backward(self, g: Tensor) -> tuple:
        ga = None
        if self.needs_input_grad[0]:
            a = self.inputs[0]._data
            ga = g * Tensor._make(nd_where(a == 0, 0.0, self.out / a), False, None)  # ±1, a constant
        return ga, (_zero_grad(g) if self.needs_input_grad[1] else None)


class Fmod(Function):
    """``a - trunc(a / b) * b`` (``kernel="fmod"``, the sign of a) or ``a - floor(a / b) * b``
    (``kernel="remainder"``, the sign of b). d/da = 1; d/db = -trunc(a / b) or -floor(a / b)."""

    def forward(self, a: Any, b: Any, kernel: str) -> NDArray:
        self.kernel = kernel
        return _nd_binary(a, b, kernel)

    def backward(self, g: Tensor) -> tuple:
        a, b = self.inputs
        gb = None
        if self.needs_input_grad[1]:
            gb = -g * div(a, b, rounding_mode="trunc" if self.kernel == "fmod" else "floor")
        return (g if self.needs_input_grad[0] else None), gb


class RoundedDiv(Function):
    """``a / b`` rounded toward zero (``kernel="trunc_divide"``) or down (``"floor_divide"``):
    a step function of the inputs, so both gradients are zero (as PyTorch's ``div``)."""

    def forward(self, a: Any, b: Any, kernel: str) -> NDArray: return _nd_binary(a, b, kernel)

    def backward(self, g: Tensor) -> tuple:
        return tuple(_zero_grad(g) if need else None for need in self.needs_input_grad)


class Erfc(Function):
    """``1 - erf(x)``, computed without the cancellation (exact where erf(x) rounds to 1)."""

    def forward(self, a: NDArray) -> NDArray: return a.erfc()

    def backward(self, g: Tensor) -> Tensor:
        x = self.inputs[0]
        return g * (-2 / math.sqrt(math.pi)) * (-(x * x)).exp()


class Erfinv(Function):
    """The inverse of erf on [-1, 1]. d/dy = sqrt(pi) / 2 * exp(erfinv(y)²)."""

    def forward(self, a: NDArray) -> NDArray:
        self.out = a.erfinv()
        return self.out

    def backward(self, g: Tensor) -> Tensor:
        x = self.output()
        return g * (math.sqrt(math.pi) / 2) * (x * x).exp()


_ROUNDING_KERNELS = {"trunc": "trunc_divide", "floor": "floor_divide"}


def _rounded_div(a: Any, b: Any, rounding_mode: Any) -> Tensor:
    kernel = _ROUNDING_KERNELS.get(rounding_mode) if isinstance(rounding_mode, str) else None
    if kernel is None:
        raise RuntimeError(f"div expected rounding_mode to be one of None, 'trunc', or 'floor' but found "
                           f"{rounding_mode!r}")
    _no_bool_division(f"div(rounding_mode={rounding_mode!r})", a, b)
    return RoundedDiv.apply(*_promote_0d(a, b), kernel=kernel)


@op
def atan2(input: Tensor, other: Tensor) -> Tensor:  # noqa: A002
    """The angle of the point (other, input) in (-pi, pi], elementwise with broadcasting
    (integers give floats). Both arguments are tensors, as in PyTorch."""
    _tensor_arg("atan2", input, 1)
    _tensor_arg("atan2", other, 2)
    return Atan2.apply(*_promote_0d(input, other))


arctan2 = op(atan2, name="arctan2")


@op
def copysign(input: Tensor, other: Any) -> Tensor:  # noqa: A002
    """``|input|`` with the sign of ``other`` (a tensor or a number; the sign of -0.0 counts).
    Integers give floats."""
    _tensor_arg("copysign", input, 1)
    return Copysign.apply(*_promote_0d(input, other))


@op
def fmod(input: Tensor, other: Any) -> Tensor:  # noqa: A002
    """C's remainder: ``input - trunc(input / other) * other``, with the sign of ``input``.
    Exact for int64 (a zero divisor raises ``RuntimeError("ZeroDivisionError")``); for floats a
    zero divisor gives NaN."""
    _tensor_arg("fmod", input, 1)
    _no_bool_division("fmod", input, other)
    return Fmod.apply(*_promote_0d(input, other), kernel="fmod")


@op(operators=("__mod__",), reflected=("__rmod__",))
def remainder(input: Any, other: Any) -> Tensor:  # noqa: A002
    """Python's ``%``: ``input - floor(input / other) * other``, with the sign of ``other``
    (computed as PyTorch does: ``fmod`` plus ``other`` where the two signs differ, so ``-0.0``
    stays ``-0.0``). Either argument may be a number. Exact for int64; an integer zero divisor
    raises ``RuntimeError("ZeroDivisionError")``."""
    _no_bool_division("remainder", input, other)
    return Fmod.apply(*_promote_0d(input, other), kernel="remainder")


@op(operators=("__floordiv__",), reflected=("__rfloordiv__",), grad=False)
def floor_divide(input: Any, other: Any) -> Tensor:  # noqa: A002
    """``div(input, other, rounding_mode="floor")``: the quotient rounded down (``//``), exact for
    int64. Its gradient is zero (PyTorch's raises "derivative not implemented")."""
    return _rounded_div(input, other, "floor")


@op
def erfc(x: Tensor) -> Tensor: return Erfc.apply(x)
@op
def erfinv(x: Tensor) -> Tensor: return Erfinv.apply(x)


def _bitwise(name: str, kernel: str, a: Any, b: Any) -> Tensor:
    dtype = _result_dtype(a, b)
    if dtype.is_floating_point or (dtype is bool_ and kernel.endswith("shift")):
        raise NotImplementedError(f"{name} is not implemented for {dtype.name} tensors (it takes integers"
                                  + (")" if kernel.endswith("shift") else " and bools)"))
    a, b = _promote_0d(a, b)
    return _untracked(functools.partial(_nd_binary, kernel=kernel), a, b)


@op(operators=("__and__",), grad=False)
def bitwise_and(input: Any, other: Any) -> Tensor:  # noqa: A002
    """``&`` of integers (int64) or bools (bool stays bool); either side may be a number."""
    return _bitwise("bitwise_and", "bitwise_and", input, other)


@op(operators=("__or__",), grad=False)
def bitwise_or(input: Any, other: Any) -> Tensor:  # noqa: A002
    """``|`` of integers (int64) or bools (bool stays bool); either side may be a number."""
    return _bitwise("bitwise_or", "bitwise_or", input, other)


@op(operators=("__xor__",), grad=False)
def bitwise_xor(input: Any, other: Any) -> Tensor:  # noqa: A002
    """``^`` of integers (int64) or bools (bool stays bool); either side may be a number."""
    return _bitwise("bitwise_xor", "bitwise_xor", input, other)


@op(operators=("__lshift__",), grad=False)
def bitwise_left_shift(input: Any, other: Any) -> Tensor:  # noqa: A002
    """``input << other`` on int64 (wrapping around); a count outside [0, 64) gives 0, as PyTorch."""
    return _bitwise("bitwise_left_shift", "left_shift", input, other)


@op(operators=("__rshift__",), grad=False)
def bitwise_right_shift(input: Any, other: Any) -> Tensor:  # noqa: A002
    """``input >> other`` on int64 (arithmetic: the sign fills in); a count outside [0, 64)
    gives 0 or -1 (the sign), as PyTorch."""
    return _bitwise("bitwise_right_shift", "right_shift", input, other)


@op(grad=False)
def bitwise_not(x: Tensor) -> Tensor:
    """``~x`` of int64, ``not x`` of bool (NotImplementedError for floats, as PyTorch)."""
    if x.dtype.is_floating_point:
        raise NotImplementedError(f"bitwise_not is not implemented for {x.dtype.name} tensors (it takes integers "
                                  "and bools)")
    return _untracked(NDArray.bitwise_not, x)


def _invert(x: Tensor) -> Tensor:
    """``~x``: :func:`bitwise_not`, with PyTorch's TypeError for floats."""
    if x.dtype.is_floating_point:
        raise TypeError("~ (operator.invert) is only implemented on integer and Boolean-type tensors")
    return bitwise_not(x)


def _reflected(fn: Any, name: str) -> Any:
    """``Tensor.<name>(self, other)`` = ``fn(other, self)``: the operator with a number on the left.
    An entry of its own, not a ``reflected=`` operator of ``fn``'s entry, because these ops take
    no floats (the table's test of reflected operators runs them on floats)."""
    def method(x: Tensor, other: Any) -> Tensor:
        return fn(other, x)
    method.__name__ = method.__qualname__ = name
    method.__doc__ = f"``other {name}`` ``self``: {fn.__name__}(other, self)."
    return method


op(_invert, name="__invert__", function=False, grad=False)
op(_reflected(bitwise_and, "__rand__"), name="__rand__", function=False, grad=False)
op(_reflected(bitwise_or, "__ror__"), name="__ror__", function=False, grad=False)
op(_reflected(bitwise_xor, "__rxor__"), name="__rxor__", function=False, grad=False)
op(_reflected(bitwise_left_shift, "__rlshift__"), name="__rlshift__", function=False, grad=False)
op(_reflected(bitwise_right_shift, "__rrshift__"), name="__rrshift__", function=False, grad=False)


# PyTorch's other names for the comparisons, abs and true division
greater = op(gt, name="greater", grad=False)
greater_equal = op(ge, name="greater_equal", grad=False)
less = op(lt, name="less", grad=False)
less_equal = op(le, name="less_equal", grad=False)
not_equal = op(ne, name="not_equal", grad=False)
absolute = op(abs, name="absolute")
true_divide = op(div, name="true_divide")

__all__ = exports(__name__)
