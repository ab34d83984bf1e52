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
from .elementwise import _category
from .movement import _nd_key, split_ints_first


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
