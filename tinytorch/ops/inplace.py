"""In-place updates: ``+= -= *= /=``, ``x[key] = value``, ``copy_``/``fill_``/``zero_``.

tinytorch does not record in-place operations in the graph. As in PyTorch they are allowed
on tensors that do not require grad, and on any tensor inside ``no_grad()`` (that is how
optimizers update parameters). Writing into a leaf that requires grad raises PyTorch's
error; writing into a non-leaf that requires grad (PyTorch would rewrite the graph), or
writing a value that requires grad, raises too: use the out-of-place op instead.
"""

from __future__ import annotations

from typing import Any, Callable

from .. import autograd
from ..autograd import Tensor, no_grad
from ..ndarray import NDArray
from .elementwise import _category, add, div, mul, sub
from .movement import _nd_key, split_ints_first

_KERNEL_NAMES = {add: "add", sub: "sub", mul: "mul", div: "div"}


def check_inplace(t: Tensor, values: tuple = (), view: bool = False) -> None:
    """Raise ``RuntimeError`` if writing into ``t`` (from ``values``) would escape autograd."""
    if not autograd.is_grad_enabled():
        return
    if t.requires_grad:
        if t._ctx is None:
            what = "a view of a leaf Variable" if view else "a leaf Variable"
            raise RuntimeError(f"{what} that requires grad is being used in an in-place operation.")
        raise RuntimeError("tinytorch does not record in-place operations on a tensor that requires grad "
                           f"(shape {t.shape}, grad_fn={t._ctx.name()}); use the out-of-place op instead")
    for v in values:
        if isinstance(v, Tensor) and v.requires_grad:
            raise RuntimeError("tinytorch does not record in-place operations: the value written requires grad; "
                               "use an out-of-place op (torch.where, torch.cat, ...) to keep it in the graph")


def inplace(t: Tensor, op: Callable, *args: Any) -> Tensor:
    """``t = op(t, *args)`` computed without recording, then written into ``t``'s own storage."""
    check_inplace(t, args)
    if _inplace_kernel(t, op, args):
        return t
    with no_grad():
        result = op(t, *args)
    if op is not replace:
        if result.shape != t.shape:
            raise RuntimeError(f"output with shape {list(t.shape)} doesn't match the broadcast shape "
                               f"{list(result.shape)}")
        if _category(result.dtype) > _category(t.dtype):
            raise RuntimeError(f"result type {result.dtype.name} can't be cast to the desired output type "
                               f"{t.dtype.name}")
    t._data[...] = result if not isinstance(result, Tensor) else result._data
    return t


def _inplace_kernel(t: Tensor, op: Callable, args: tuple) -> bool:
    """The fast path of ``+= -= *= /=`` and ``add_/sub_/mul_/div_`` (an optimizer's whole step):
    when ``t`` is a compact float array and the other operand a Python number or a tensor of
    ``t``'s shape and dtype, one elementwise kernel writes straight into ``t``'s buffer (its
    ``out`` is its input: each element is read before it is written). Returns False, having
    done nothing, when the general path is needed (broadcasting, casts, views)."""
    name = _KERNEL_NAMES.get(op)
    d = t._data
    if name is None or not d.dtype.is_floating_point or not d.is_compact():
        return False
    other, alpha = args[0], (args[1] if len(args) > 1 else 1)
    backend = d.device.backend
    if type(other) in (int, float) and type(alpha) in (int, float):
        getattr(backend, f"scalar_{name}")(d._buf, other * alpha if alpha != 1 else other, d._buf)
        return True
    if isinstance(other, Tensor):
        od = other._data
        if od.shape != d.shape or od.dtype is not d.dtype or od.device is not d.device:
            return False
        if alpha != 1:
            od = od * alpha
        getattr(backend, f"ewise_{name}")(d._buf, od.compact()._buf, d._buf)
        return True
    return False


def replace(t: Tensor, value: Any) -> Any:
    """The "op" of ``copy_``/``fill_``: the new value itself (broadcast when written)."""
    if isinstance(value, Tensor):
        if value.device != t.device:  # copy_ moves across devices
            return value._data.to(t.device)
        return value._data
    if isinstance(value, NDArray):
        return value
    if isinstance(value, (list, tuple)):
        raise TypeError(f"expected a Tensor or a number, got {type(value).__name__}")
    return value


def setitem(t: Tensor, key: Any, value: Any) -> None:
    """``t[key] = value`` written into ``t``'s storage (value: tensor, array or scalar, broadcast)."""
    check_inplace(t, (value,), view=True)
    key = _nd_key(key)
    target = t._data
    split = split_ints_first(key, t.ndim)
    if split is not None:  # PyTorch's order: the ints select a view first
        target, key = target[split[0]], split[1]
    target[key] = value._data if isinstance(value, Tensor) else value
