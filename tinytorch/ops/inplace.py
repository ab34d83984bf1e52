"""In-place updates: ``+= -= *= /=``, ``add_``…, ``x[key] = value``, ``copy_``/``fill_``/``zero_``,
and the fused optimizer step.

tinytorch does not record in-place operations in the graph. As in PyTorch they are allowed
on tensors that do not require grad, and on any tensor inside ``no_grad()`` (that is how
optimizers update parameters). Writing into a leaf that requires grad raises PyTorch's
error; writing into a non-leaf that requires grad (PyTorch would rewrite the graph), or
writing a value that requires grad, raises too: use the out-of-place op instead.

The arithmetic updates go to the NDArray's own in-place methods (``NDArray.add_``…), which
write straight into the array's buffer with one kernel when they can. Every other in-place
form of an op (``exp_``, ``pow_``, ``lt_``, ``addcmul_``, ``tril_``…) computes the out-of-place
op on ``t.detach()`` and writes the result into ``t`` (:func:`_inplace`), with PyTorch's checks:
the result must have ``t``'s shape and must not need a wider dtype category (``int.exp_()``
raises). The view ops' in-place forms (``t_``, ``transpose_``, ``squeeze_``, ``unsqueeze_``)
make ``t`` itself the new view of the same storage.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from ..ndarray import NDArray, array
from ..ndarray.dtypes import bool_, float64, int64, scalar_category
from ..ndarray.strides import broadcast_shapes
from ..tensor import Tensor, announce_inplace, is_grad_enabled
from . import composite, matmul, scan
from . import elementwise as ew
from .elementwise import _category, clamp
from .movement import _nd_key, split_ints_first, squeeze, to, transpose, tril, triu, unsqueeze
from .movement import t as transpose_2d
from .table import exports, op


def check_inplace(t: Tensor, values: tuple = (), view: bool = False) -> None:
    """Raise ``RuntimeError`` if writing into ``t`` (from ``values``) would escape autograd (or
    an active dispatch mode refuses the write: ``vmap`` does for batched tensors)."""
    announce_inplace(t, values)
    if not is_grad_enabled():
        return
    if t.requires_grad:
        if t.grad_fn is None:
            what = "a view of a leaf Variable" if view else "a leaf Variable"
            raise RuntimeError(f"{what} that requires grad is being used in an in-place operation.")
        raise RuntimeError("tinytorch does not record in-place operations on a tensor that requires grad "
                           f"(shape {t.shape}, grad_fn={t.grad_fn.name()}); use the out-of-place op instead")
    for v in values:
        if isinstance(v, Tensor) and v.requires_grad:
            raise RuntimeError("tinytorch does not record in-place operations: the value written requires grad; "
                               "use an out-of-place op (torch.where, torch.cat, ...) to keep it in the graph")


def _update(t: Tensor, name: str, other: Any, alpha: Any = 1) -> Tensor:
    """``t = t <name> other * alpha`` written into ``t``'s storage, with PyTorch's checks: the
    result must keep ``t``'s shape and must not need a wider dtype category (``int += float``)."""
    check_inplace(t, (other,))
    o = other._data if isinstance(other, Tensor) else other
    if isinstance(o, NDArray):
        if o.device != t.device:
            raise RuntimeError(f"Expected all tensors to be on the same device, but found at least two devices, "
                               f"{t.device} and {o.device}!")
        if o.shape != t.shape and broadcast_shapes(t.shape, o.shape) != t.shape:
            raise RuntimeError(f"output with shape {list(t.shape)} doesn't match the broadcast shape "
                               f"{list(broadcast_shapes(t.shape, o.shape))}")
        kind = _category(o.dtype)
    else:  # a number (a TypeError names anything else)
        kind = _category(scalar_category(o))
    kind = max(kind, 2 if name == "div" else 0)  # true division makes floats
    if kind > _category(t.dtype):
        raise RuntimeError(f"result type {('int64', 'float32')[kind - 1]} can't be cast to the desired output type "
                           f"{t.dtype.name}")
    if alpha != 1:
        o = o * alpha
    getattr(t._data, name + "_")(o)
    return t


@op(function=False, operators=("__iadd__",), grad=False)
def add_(t: Tensor, other: Any, alpha: Any = 1) -> Tensor: return _update(t, "add", other, alpha)
@op(function=False, operators=("__isub__",), grad=False)
def sub_(t: Tensor, other: Any, alpha: Any = 1) -> Tensor: return _update(t, "sub", other, alpha)
@op(function=False, operators=("__imul__",), grad=False)
def mul_(t: Tensor, other: Any) -> Tensor: return _update(t, "mul", other)
@op(function=False, operators=("__itruediv__",), grad=False)
def div_(t: Tensor, other: Any, *, rounding_mode: str | None = None) -> Tensor:
    """``t / other`` in place (``rounding_mode`` ``"trunc"`` or ``"floor"`` rounds the quotient,
    as :func:`~tinytorch.div`; then an integer ``t`` may be divided)."""
    if rounding_mode is None:
        return _update(t, "div", other)
    check_inplace(t, (other,))
    return _assign(t, ew.div(t.detach(), other, rounding_mode=rounding_mode))


subtract_ = op(sub_, name="subtract_", function=False, grad=False)  # PyTorch's aliases
multiply_ = op(mul_, name="multiply_", function=False, grad=False)
divide_ = op(div_, name="divide_", function=False, grad=False)
true_divide_ = op(div_, name="true_divide_", function=False, grad=False)


def _write(t: Tensor, value: Any) -> Tensor:
    """Write ``value`` (a tensor of another device is copied over; broadcast) into all of ``t``."""
    check_inplace(t, (value,))
    if isinstance(value, (list, tuple)):
        raise TypeError(f"expected a Tensor or a number, got {type(value).__name__}")
    t._data[...] = to(value, device=t.device)._data if isinstance(value, Tensor) else value
    return t


@op(function=False, grad=False)
def copy_(t: Tensor, src: Tensor) -> Tensor: return _write(t, src)
@op(function=False, grad=False)
def fill_(t: Tensor, value: Any) -> Tensor: return _write(t, value)
@op(function=False, grad=False)
def zero_(t: Tensor) -> Tensor: return _write(t, 0)


@op(function=False, grad=False)
def clamp_(t: Tensor, min: Any = None, max: Any = None) -> Tensor:  # noqa: A002
    """Clip ``t`` into ``[min, max]`` in place."""
    check_inplace(t, (min, max))
    t._data[...] = clamp(t.detach(), min, max)._data
    return t


clip_ = op(clamp_, name="clip_", function=False, grad=False)


# --- the in-place form of an out-of-place op ---------------------------------------------------------
def _assign(t: Tensor, result: Tensor) -> Tensor:
    """Write ``result`` (an op computed from ``t``) into ``t``'s storage; returns ``t``. As PyTorch:
    ``RuntimeError`` if the result has another shape (``t`` broadcast against a bigger operand)
    or needs a wider dtype category than ``t``'s (a float result for an integer ``t``); a result
    of ``t``'s category or a narrower one (bool into float) is cast to ``t``'s dtype."""
    if result.shape != t.shape:
        raise RuntimeError(f"output with shape {list(t.shape)} doesn't match the broadcast shape "
                           f"{list(result.shape)}")
    if _category(result.dtype) > _category(t.dtype):
        raise RuntimeError(f"result type {result.dtype.name} can't be cast to the desired output type "
                           f"{t.dtype.name}")
    t._data[...] = result._data  # the NDArray copies a source that shares t's buffer first
    return t


def _inplace(fn: Callable[..., Tensor]) -> Callable[..., Tensor]:
    """The in-place form of the op ``fn``, named ``fn.__name__ + "_"``: ``t.exp_()`` writes
    ``exp(t)`` into ``t`` (see :func:`_assign`) and returns ``t``; the arguments after ``t`` are
    ``fn``'s. Not recorded in the graph (see the module docstring)."""
    name = fn.__name__ + "_"

    def method(t: Tensor, *args: Any, **kwargs: Any) -> Tensor:
        check_inplace(t, args + tuple(kwargs.values()))
        return _assign(t, fn(t.detach(), *args, **kwargs))

    method.__name__ = method.__qualname__ = name
    method.__doc__ = f"``{fn.__name__}(self, ...)`` written into ``self``; returns ``self``."
    return method


# unary: elementwise functions
abs_ = op(_inplace(ew.abs), function=False, grad=False)
absolute_ = op(abs_, name="absolute_", function=False, grad=False)
acos_ = op(_inplace(ew.acos), function=False, grad=False)
arccos_ = op(acos_, name="arccos_", function=False, grad=False)
acosh_ = op(_inplace(ew.acosh), function=False, grad=False)
arccosh_ = op(acosh_, name="arccosh_", function=False, grad=False)
asin_ = op(_inplace(ew.asin), function=False, grad=False)
arcsin_ = op(asin_, name="arcsin_", function=False, grad=False)
asinh_ = op(_inplace(ew.asinh), function=False, grad=False)
arcsinh_ = op(asinh_, name="arcsinh_", function=False, grad=False)
atan_ = op(_inplace(ew.atan), function=False, grad=False)
arctan_ = op(atan_, name="arctan_", function=False, grad=False)
atanh_ = op(_inplace(ew.atanh), function=False, grad=False)
arctanh_ = op(atanh_, name="arctanh_", function=False, grad=False)
bitwise_not_ = op(_inplace(ew.bitwise_not), function=False, grad=False)
ceil_ = op(_inplace(ew.ceil), function=False, grad=False)
cos_ = op(_inplace(ew.cos), function=False, grad=False)
cosh_ = op(_inplace(ew.cosh), function=False, grad=False)
erf_ = op(_inplace(ew.erf), function=False, grad=False)
erfc_ = op(_inplace(ew.erfc), function=False, grad=False)
erfinv_ = op(_inplace(ew.erfinv), function=False, grad=False)
exp_ = op(_inplace(ew.exp), function=False, grad=False)
exp2_ = op(_inplace(ew.exp2), function=False, grad=False)
expm1_ = op(_inplace(ew.expm1), function=False, grad=False)
floor_ = op(_inplace(ew.floor), function=False, grad=False)
frac_ = op(_inplace(ew.frac), function=False, grad=False)
log_ = op(_inplace(ew.log), function=False, grad=False)
log10_ = op(_inplace(ew.log10), function=False, grad=False)
log1p_ = op(_inplace(ew.log1p), function=False, grad=False)
log2_ = op(_inplace(ew.log2), function=False, grad=False)
logical_not_ = op(_inplace(ew.logical_not), function=False, grad=False)
nan_to_num_ = op(_inplace(ew.nan_to_num), function=False, grad=False)
neg_ = op(_inplace(ew.neg), function=False, grad=False)
negative_ = op(neg_, name="negative_", function=False, grad=False)
reciprocal_ = op(_inplace(ew.reciprocal), function=False, grad=False)
relu_ = op(_inplace(ew.relu), function=False, grad=False)
round_ = op(_inplace(ew.round), function=False, grad=False)
rsqrt_ = op(_inplace(ew.rsqrt), function=False, grad=False)
sigmoid_ = op(_inplace(ew.sigmoid), function=False, grad=False)
sign_ = op(_inplace(ew.sign), function=False, grad=False)
sgn_ = op(sign_, name="sgn_", function=False, grad=False)
sin_ = op(_inplace(ew.sin), function=False, grad=False)
sinh_ = op(_inplace(ew.sinh), function=False, grad=False)
sqrt_ = op(_inplace(ew.sqrt), function=False, grad=False)
square_ = op(_inplace(ew.square), function=False, grad=False)
tan_ = op(_inplace(ew.tan), function=False, grad=False)
tanh_ = op(_inplace(ew.tanh), function=False, grad=False)
trunc_ = op(_inplace(ew.trunc), function=False, grad=False)
fix_ = op(trunc_, name="fix_", function=False, grad=False)
# unary: compositions
deg2rad_ = op(_inplace(composite.deg2rad), function=False, grad=False)
logit_ = op(_inplace(composite.logit), function=False, grad=False)
rad2deg_ = op(_inplace(composite.rad2deg), function=False, grad=False)
sinc_ = op(_inplace(composite.sinc), function=False, grad=False)
renorm_ = op(_inplace(composite.renorm), function=False, grad=False)
lgamma_ = op(_inplace(composite.lgamma), function=False, grad=False)
digamma_ = op(_inplace(composite.digamma), function=False, grad=False)
mvlgamma_ = op(_inplace(composite.mvlgamma), function=False, grad=False)
# binary and ternary (comparisons write 1 / 0 in t's dtype)
atan2_ = op(_inplace(ew.atan2), function=False, grad=False)
arctan2_ = op(atan2_, name="arctan2_", function=False, grad=False)
bitwise_and_ = op(_inplace(ew.bitwise_and), function=False, operators=("__iand__",), grad=False)
bitwise_or_ = op(_inplace(ew.bitwise_or), function=False, operators=("__ior__",), grad=False)
bitwise_xor_ = op(_inplace(ew.bitwise_xor), function=False, operators=("__ixor__",), grad=False)
bitwise_left_shift_ = op(_inplace(ew.bitwise_left_shift), function=False, operators=("__ilshift__",), grad=False)
bitwise_right_shift_ = op(_inplace(ew.bitwise_right_shift), function=False, operators=("__irshift__",), grad=False)
clamp_max_ = op(_inplace(ew.clamp_max), function=False, grad=False)
clamp_min_ = op(_inplace(ew.clamp_min), function=False, grad=False)
copysign_ = op(_inplace(ew.copysign), function=False, grad=False)
eq_ = op(_inplace(ew.eq), function=False, grad=False)
floor_divide_ = op(_inplace(ew.floor_divide), function=False, operators=("__ifloordiv__",), grad=False)
fmod_ = op(_inplace(ew.fmod), function=False, grad=False)
ge_ = op(_inplace(ew.ge), function=False, grad=False)
greater_equal_ = op(ge_, name="greater_equal_", function=False, grad=False)
gt_ = op(_inplace(ew.gt), function=False, grad=False)
greater_ = op(gt_, name="greater_", function=False, grad=False)
hypot_ = op(_inplace(ew.hypot), function=False, grad=False)
le_ = op(_inplace(ew.le), function=False, grad=False)
less_equal_ = op(le_, name="less_equal_", function=False, grad=False)
lerp_ = op(_inplace(ew.lerp), function=False, grad=False)
logical_and_ = op(_inplace(ew.logical_and), function=False, grad=False)
logical_or_ = op(_inplace(ew.logical_or), function=False, grad=False)
logical_xor_ = op(_inplace(ew.logical_xor), function=False, grad=False)
lt_ = op(_inplace(ew.lt), function=False, grad=False)
less_ = op(lt_, name="less_", function=False, grad=False)
ne_ = op(_inplace(ew.ne), function=False, grad=False)
not_equal_ = op(ne_, name="not_equal_", function=False, grad=False)
pow_ = op(_inplace(ew.pow), function=False, operators=("__ipow__",), grad=False)
remainder_ = op(_inplace(ew.remainder), function=False, operators=("__imod__",), grad=False)
addcdiv_ = op(_inplace(composite.addcdiv), function=False, grad=False)
addcmul_ = op(_inplace(composite.addcmul), function=False, grad=False)
heaviside_ = op(_inplace(composite.heaviside), function=False, grad=False)
xlogy_ = op(_inplace(composite.xlogy), function=False, grad=False)
# products (``t`` is the added term: it must have the result's shape)
addbmm_ = op(_inplace(matmul.addbmm), function=False, grad=False)
addmm_ = op(_inplace(matmul.addmm), function=False, grad=False)
addmv_ = op(_inplace(matmul.addmv), function=False, grad=False)
addr_ = op(_inplace(matmul.addr), function=False, grad=False)
baddbmm_ = op(_inplace(matmul.baddbmm), function=False, grad=False)
# running ops and triangles
cumprod_ = op(_inplace(scan.cumprod), function=False, grad=False)
cumsum_ = op(_inplace(scan.cumsum), function=False, grad=False)
tril_ = op(_inplace(tril), function=False, grad=False)
triu_ = op(_inplace(triu), function=False, grad=False)


@op(function=False, grad=False)
def float_power_(t: Tensor, exponent: Any) -> Tensor:
    """``float_power(t, exponent)`` in place: the result is float64, so ``t`` must be float64."""
    if t.dtype is not float64:
        raise RuntimeError(f"the base given to float_power_ has dtype {t.dtype.name} but the operation's result "
                           "requires dtype float64")
    check_inplace(t, (exponent,))
    return _assign(t, composite.float_power(t.detach(), exponent))


@op(function=False, grad=False)
def masked_fill_(t: Tensor, mask: Tensor, value: Any) -> Tensor:
    """``value`` written where the bool ``mask`` (broadcast to ``t``'s shape) is true."""
    if not isinstance(mask, Tensor) or mask.dtype is not bool_:
        raise RuntimeError(f"masked_fill_ only supports boolean masks, but got mask with dtype "
                           f"{getattr(mask, 'dtype', type(mask).__name__)}")
    check_inplace(t, (mask, value))
    return _assign(t, ew.masked_fill(t.detach(), mask, value))


# --- the view ops' in-place forms: t becomes the new view of its storage -------------------------------
def _restride(t: Tensor, view: Tensor) -> Tensor:
    """Make ``t`` the view ``view`` (a view op's result on ``t.detach()``: the same storage with
    another shape and strides); returns ``t``."""
    t._data = view._data
    return t


@op(function=False, grad=False)
def t_(t: Tensor) -> Tensor:
    """``t`` becomes its transpose (0-D and 1-D stay as they are)."""
    check_inplace(t)
    return _restride(t, transpose_2d(t.detach()))


@op(function=False, grad=False)
def transpose_(t: Tensor, dim0: int, dim1: int) -> Tensor:
    """``t`` becomes its view with ``dim0`` and ``dim1`` swapped."""
    check_inplace(t)
    return _restride(t, transpose(t.detach(), dim0, dim1))


swapaxes_ = op(transpose_, name="swapaxes_", function=False, grad=False)
swapdims_ = op(transpose_, name="swapdims_", function=False, grad=False)


@op(function=False, grad=False)
def squeeze_(t: Tensor, dim: Any = None) -> Tensor:
    """``t`` loses its dims of size 1 (all, or those of ``dim`` that have size 1)."""
    check_inplace(t)
    return _restride(t, squeeze(t.detach(), dim))


@op(function=False, grad=False)
def unsqueeze_(t: Tensor, dim: int) -> Tensor:
    """``t`` gains a dim of size 1 at position ``dim``."""
    check_inplace(t)
    return _restride(t, unsqueeze(t.detach(), dim))


@op(function=False, grad=False)
def detach_(t: Tensor) -> Tensor:
    """``t`` leaves the graph: it becomes a leaf that does not require grad; returns ``t``. As
    PyTorch, a view (its storage is its graph parent's) of a tensor that requires grad is
    refused: detaching it would cut its base's graph too."""
    node = t.grad_fn
    if node is not None and any(isinstance(x, Tensor) and x._data.buffer_key() == t._data.buffer_key()
                                for x in node.inputs or ()):
        raise RuntimeError("Can't detach views in-place. Use detach() instead.")
    t._ctx, t.requires_grad = None, False
    return t


# --- index writes -----------------------------------------------------------------------------------------
@op(function=False, grad=False)
def index_put_(t: Tensor, indices: Any, values: Tensor, accumulate: bool = False) -> Tensor:
    """``t[indices] = values`` (``indices``: a tuple of integer or bool tensors, indexing the
    first dims; ``values`` of ``t``'s dtype, broadcast); with ``accumulate`` the values are
    added, repeated indices adding up."""
    if not isinstance(indices, (tuple, list)):
        raise TypeError(f"index_put_(): argument 'indices' must be a tuple of Tensors, not {type(indices).__name__}")
    for i, k in enumerate(indices):
        if not isinstance(k, Tensor):
            raise TypeError(f"expected Tensor as element {i} in argument 0, but got {type(k).__name__}")
    if not isinstance(values, Tensor):
        raise TypeError(f"index_put_(): argument 'values' must be Tensor, not {type(values).__name__}")
    if values.dtype is not t.dtype:
        raise RuntimeError(f"Index put requires the source and destination dtypes match, got {t.dtype.name} for "
                           f"the destination and {values.dtype.name} for the source.")
    check_inplace(t, (values,))
    key = _nd_key(tuple(indices))
    if accumulate:
        t._data.index_add_(key, values._data)
    else:
        t._data[key] = values._data
    return t


@op(function=False, grad=False)
def put_(t: Tensor, index: Tensor, source: Tensor, accumulate: bool = False) -> Tensor:
    """``source``'s elements written at the positions ``index`` names in ``t`` read as 1-D, in
    row-major order (whatever ``t``'s strides; negative indices count from the end); with
    ``accumulate`` they are added, repeated positions adding up."""
    if index.dtype is not int64:
        raise RuntimeError(f"put_(): Expected a long tensor for index, but got {index.dtype.name}")
    if source.dtype is not t.dtype:
        raise RuntimeError(f"put_(): self and source expected to have the same dtype, but got self.dtype = "
                           f"{t.dtype.name} and source.dtype = {source.dtype.name}")
    if index.numel() != source.numel():
        raise IndexError(f"put_(): Expected source and index to have the same number of elements, but got "
                         f"source.numel() = {source.numel()}, index.numel() = {index.numel()}")
    check_inplace(t, (source,))
    n, flat = t.numel(), index.detach().numpy().reshape(-1)
    outside = (flat >= n) | (flat < -n)
    if outside.any():
        raise IndexError(f"out of range: tried to access index {flat[outside][0]} on a tensor of {n} elements.")
    if flat.size == 0:
        return t
    target = t._data if t.ndim else t._data.expand_dims(0)  # a 0-d t is read as its 1 element
    key = tuple(array(k, device=t.device) for k in np.unravel_index(flat % n, target.shape))
    values = source._data.reshape((-1,))
    if accumulate:
        target.index_add_(key, values)
    else:
        target[key] = values
    return t


@op(function=False, grad=False)
def fill_diagonal_(t: Tensor, fill_value: Any, wrap: bool = False) -> Tensor:
    """``fill_value`` written on the main diagonal: the elements ``(i, i, ..., i)`` (``t`` has
    2 dims, or more all of one length). With ``wrap``, a matrix more than one row taller than
    wide restarts its diagonal below: every ``(cols + 1)``-th element in row-major order (as
    PyTorch does for a contiguous ``t``)."""
    if t.ndim < 2:
        raise RuntimeError("dimensions must larger than 1")
    if t.ndim > 2 and len(set(t.shape)) != 1:
        raise RuntimeError("all dimensions of input must be of equal length")
    if isinstance(fill_value, Tensor) and fill_value.ndim != 0:
        raise RuntimeError(f"fill_diagonal_ only supports a 0-dimensional value tensor, but got tensor with "
                           f"{fill_value.ndim} dimension(s).")
    check_inplace(t, (fill_value,))
    rows, cols = t.shape[0], t.shape[1]
    if t.ndim == 2 and wrap and rows > cols + 1:
        positions = np.unravel_index(np.arange(0, t.numel(), cols + 1), (rows, cols))
    else:
        positions = (np.arange(min(rows, cols)),) * t.ndim
    key = tuple(array(p, device=t.device) for p in positions)
    t._data[key] = to(fill_value, device=t.device)._data if isinstance(fill_value, Tensor) else fill_value
    return t


@op(function=False, method=False, operators=("__setitem__",), grad=False)
def setitem(t: Tensor, key: Any, value: Any) -> None:
    """``t[key] = value`` written into ``t``'s storage (value: tensor, array or scalar, broadcast)."""
    check_inplace(t, (value,), view=True)
    key = _nd_key(key)
    target = t._data
    split = split_ints_first(key, t.ndim)
    if split is not None:  # PyTorch's order: the ints select a view first
        target, key = target[split[0]], split[1]
    target[key] = value._data if isinstance(value, Tensor) else value


@op(method=False, grad=False)
def _fused_adam_(param: Tensor, grad: Tensor, exp_avg: Tensor, exp_avg_sq: Tensor, max_exp_avg_sq: Tensor | None,
                *, step_size: float, beta1: float, beta2: float, eps: float, bias2_sqrt: float, decay: float = 1.0,
                l2: float = 0.0) -> None:
    """One Adam/AdamW update of ``param`` and its moment estimates, in place (see
    :meth:`tinytorch.ndarray.NDArray.adam_step_` for the arithmetic): one fused pass on a
    backend with an ``adam_step`` kernel, NDArray arithmetic on the others."""
    check_inplace(param, (grad,))
    param._data.adam_step_(grad._data, exp_avg._data, exp_avg_sq._data,
                           None if max_exp_avg_sq is None else max_exp_avg_sq._data, step_size=step_size,
                           beta1=beta1, beta2=beta2, eps=eps, bias2_sqrt=bias2_sqrt, decay=decay, l2=l2)


__all__ = exports(__name__)
