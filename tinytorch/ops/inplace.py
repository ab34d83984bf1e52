"""In-place updates: ``+= -= *= /=``, ``add_``…, ``x[key] = value``, ``copy_``/``fill_``/``zero_``,
and the fused optimizer step.

tinytorch does not record in-place operations in the graph. As in PyTorch they are allowed
on tensors that do not require grad, and on any tensor inside ``no_grad()`` (that is how
optimizers update parameters). Writing into a leaf that requires grad raises PyTorch's
error; writing into a non-leaf that requires grad (PyTorch would rewrite the graph), or
writing a value that requires grad, raises too: use the out-of-place op instead.

The arithmetic updates go to the NDArray's own in-place methods (``NDArray.add_``…), which
write straight into the array's buffer with one kernel when they can.
"""

from __future__ import annotations

from typing import Any

from ..ndarray import NDArray
from ..ndarray.dtypes import scalar_category
from ..ndarray.strides import broadcast_shapes
from ..tensor import Tensor, announce_inplace, is_grad_enabled
from .elementwise import _category, clamp
from .movement import _nd_key, split_ints_first, to
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
def div_(t: Tensor, other: Any) -> Tensor: return _update(t, "div", other)


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
