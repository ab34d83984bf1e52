"""Creation functions: new leaf tensors from data, constants and ranges.

Every function takes ``dtype=``, ``device=`` (default: ``tt.get_default_device()``) and
``requires_grad=`` where PyTorch does. Sizes may be varargs or one sequence.
Random creation (``rand``, ``randn``…) lives in :mod:`tinytorch.ops.random`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..ndarray import NDArray, array, as_dtype
from ..ndarray import device as as_device
from ..ndarray import full as nd_full
from ..ndarray.dtypes import DType, float32, int64, scalar_category
from ..tensor import Tensor
from .dims import size_arg
from .table import exports, op


def _leaf(data: NDArray, requires_grad: bool) -> Tensor:
    t = Tensor._make(data, False, None)
    return t.requires_grad_() if requires_grad else t


def _host(data: Any) -> Any:
    """Nested lists that may hold tensors → numpy, so ``tensor([t1, t2])`` works as in PyTorch."""
    if isinstance(data, Tensor):
        return data._data.numpy()
    if isinstance(data, (list, tuple)) and any(isinstance(d, (Tensor, list, tuple)) for d in data):
        return [_host(d) for d in data]
    return data


@op(method=False, grad=False)
def tensor(data: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """A new leaf tensor holding a copy of ``data`` (nested lists, numpy array, scalar or tensor).

    Python floats become float32, ints int64, bools bool; a numpy array keeps its dtype
    (mapped onto float32/float64/int64/bool).
    """
    if isinstance(data, (Tensor, NDArray)):
        nd = data._data if isinstance(data, Tensor) else data
        return _leaf(array(nd, dtype=dtype, device=device if device is not None else nd.device), requires_grad)
    return _leaf(array(_host(data), dtype=dtype, device=device), requires_grad)


@op(method=False, grad=False)
def as_tensor(data: Any, dtype: Any = None, device: Any = None) -> Tensor:
    """``data`` as a tensor without a copy where none is needed: a tensor of the asked dtype and
    device is returned itself (another dtype or device gives a converted copy, keeping the graph,
    as ``Tensor.to``); anything else is copied as by :func:`tensor`."""
    if isinstance(data, Tensor):
        dt = data.dtype if dtype is None else as_dtype(dtype)
        dev = data.device if device is None else as_device(device)
        if dt is data.dtype and dev == data.device:
            return data
        return data.to(device=dev, dtype=dt)
    return tensor(data, dtype=dtype, device=device)


@op(method=False, grad=False)
def asarray(obj: Any, *, dtype: Any = None, device: Any = None, copy: bool | None = None,
            requires_grad: bool | None = None) -> Tensor:
    """``obj`` as a tensor. A tensor is returned itself unless another dtype or device is asked
    for (then converted, keeping the graph, as ``Tensor.to``) or ``copy=True`` (a clone);
    ``requires_grad`` None keeps the tensor's, False detaches it. Other data is copied, and
    ``copy=False`` for it raises ``ValueError`` (tinytorch cannot alias a list's or a numpy
    array's memory)."""
    if not isinstance(obj, Tensor):
        if copy is False:
            raise ValueError(f"asarray(): can't alias a {type(obj).__name__} into a tensor (copy=False); "
                             f"tinytorch copies data that is not a tensor")
        return tensor(obj, dtype=dtype, device=device, requires_grad=bool(requires_grad))
    out = as_tensor(obj, dtype, device)
    if out is not obj and copy is False:
        raise ValueError("asarray(): can't satisfy copy=False: the dtype or device differs")
    if copy and out is obj:
        out = obj.clone()
    if requires_grad is False:
        return out.detach()
    return out.requires_grad_(True) if requires_grad and not out.requires_grad else out


@op(method=False, grad=False)
def from_numpy(a: np.ndarray) -> Tensor:
    """A tensor with the values and dtype of the numpy array ``a`` (a copy: PyTorch shares memory)."""
    if not isinstance(a, np.ndarray):
        raise TypeError(f"expected np.ndarray (got {type(a).__name__})")
    return _leaf(array(a), False)


@op(method=False, grad=False)
def full(size: Any, fill_value: Any, *, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """A tensor of ``size`` filled with ``fill_value`` (dtype from the value: bool, int64 or float32)."""
    dt = as_dtype(dtype) if dtype is not None else scalar_category(fill_value)
    return _leaf(nd_full(size_arg((size,)), fill_value, dtype=dt, device=device), requires_grad)


def _filled(size: tuple, value: Any, dtype: Any, device: Any, requires_grad: bool) -> Tensor:
    dt = float32 if dtype is None else as_dtype(dtype)
    return _leaf(nd_full(size_arg(size), value, dtype=dt, device=device), requires_grad)


@op(method=False, grad=False)
def zeros(*size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    return _filled(size, 0, dtype, device, requires_grad)


@op(method=False, grad=False)
def ones(*size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    return _filled(size, 1, dtype, device, requires_grad)


@op(method=False, grad=False)
def empty(*size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """A tensor of ``size`` whose values are unspecified (here: zeros)."""
    return _filled(size, 0, dtype, device, requires_grad)


def _like(x: Tensor, value: Any, dtype: Any, device: Any, requires_grad: bool) -> Tensor:
    dt = x.dtype if dtype is None else as_dtype(dtype)
    return _leaf(nd_full(x.shape, value, dtype=dt, device=x.device if device is None else device), requires_grad)


@op(method=False, grad=False)
def zeros_like(x: Tensor, *, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    return _like(x, 0, dtype, device, requires_grad)


@op(method=False, grad=False)
def ones_like(x: Tensor, *, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    return _like(x, 1, dtype, device, requires_grad)


@op(method=False, grad=False)
def empty_like(x: Tensor, *, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    return _like(x, 0, dtype, device, requires_grad)


@op(method=False, grad=False)
def full_like(x: Tensor, fill_value: Any, *, dtype: Any = None, device: Any = None,
              requires_grad: bool = False) -> Tensor:
    return _like(x, fill_value, dtype, device, requires_grad)


@op(method=False, grad=False)
def arange(start: Any, end: Any = None, step: Any = 1, *, dtype: Any = None, device: Any = None,
           requires_grad: bool = False) -> Tensor:
    """``start, start + step, …`` up to but excluding ``end`` (int64 if all arguments are ints)."""
    if end is None:
        start, end = 0, start
    if step == 0:
        raise RuntimeError("step must be nonzero")
    if (end - start) * step < 0:
        raise RuntimeError(f"upper bound and larger bound inconsistent with step sign (start={start}, end={end}, "
                           f"step={step})")
    all_ints = all(isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_)) for v in (start, end, step))
    dt: DType = as_dtype(dtype) if dtype is not None else (int64 if all_ints else float32)
    if all_ints and dt is int64:  # exact integer arithmetic: 10**17 + 1 has no float64
        start, end, step = int(start), int(end), int(step)
        if not -(2**63) <= start < 2**63 or not -(2**63) <= end <= 2**63:
            raise RuntimeError(f"arange: start={start} and end={end} must lie in the int64 range")
        return _leaf(array(np.arange(start, end, step, dtype=np.int64), dtype=dt, device=device), requires_grad)
    n = max(math.ceil((end - start) / step), 0)
    return _leaf(array(start + np.arange(n, dtype=np.float64) * step, dtype=dt, device=device), requires_grad)


@op(method=False, grad=False)
def linspace(start: float, end: float, steps: int, *, dtype: Any = None, device: Any = None,
             requires_grad: bool = False) -> Tensor:
    """``steps`` evenly spaced values from ``start`` to ``end`` inclusive (float32 by default)."""
    if steps < 0:
        raise RuntimeError("number of steps must be non-negative")
    dt = float32 if dtype is None else as_dtype(dtype)
    work = dt.np_dtype if dt.is_floating_point else np.dtype(np.float64)
    i = np.arange(steps).astype(work)
    first, last = work.type(start), work.type(end)
    step = (last - first) / work.type(steps - 1) if steps > 1 else work.type(0)
    # as PyTorch, in the result's precision: the first half counts up from start, the second down from end
    values = np.where(i < max(steps // 2, 1), first + i * step, last - (work.type(steps - 1) - i) * step)
    return _leaf(array(values, dtype=dt, device=device), requires_grad)


@op(method=False, grad=False)
def logspace(start: float, end: float, steps: int, base: float = 10.0, *, dtype: Any = None, device: Any = None,
             requires_grad: bool = False) -> Tensor:
    """``steps`` numbers from ``base ** start`` to ``base ** end``, evenly spaced in the exponent."""
    if steps < 0:
        raise RuntimeError("number of steps must be non-negative")
    dt = float32 if dtype is None else as_dtype(dtype)
    return _leaf(array(np.power(base, np.linspace(start, end, steps)), dtype=dt, device=device), requires_grad)

@op(method=False, grad=False)
def eye(n: int, m: int | None = None, *, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """The ``n x m`` identity matrix (``m`` defaults to ``n``)."""
    dt = float32 if dtype is None else as_dtype(dtype)
    return _leaf(array(np.eye(n, m), dtype=dt, device=device), requires_grad)


def _triangle_indices(row: int, col: int, offset: int, lower: bool, dtype: Any, device: Any) -> Tensor:
    if row < 0 or col < 0:
        raise RuntimeError(f"row must be non-negative, got {row}" if row < 0 else
                           f"col must be non-negative, got {col}")
    dt = int64 if dtype is None else as_dtype(dtype)
    if dt.is_floating_point or dt.name == "bool":
        raise RuntimeError(f"\"{'tril' if lower else 'triu'}_indices\" not implemented for '{dt.name}'")
    r, c = np.tril_indices(row, offset, col) if lower else np.triu_indices(row, offset, col)
    return _leaf(array(np.stack([r, c]).astype(np.int64).reshape(2, -1), dtype=dt, device=device), False)


@op(method=False, grad=False)
def tril_indices(row: int, col: int, offset: int = 0, *, dtype: Any = None, device: Any = None,
                 layout: Any = None) -> Tensor:
    """The coordinates of the lower triangle (on and below the ``offset``-th diagonal) of a
    ``row x col`` matrix, row by row: a ``(2, N)`` tensor of rows then columns (int64)."""
    return _triangle_indices(row, col, offset, True, dtype, device)


@op(method=False, grad=False)
def triu_indices(row: int, col: int, offset: int = 0, *, dtype: Any = None, device: Any = None,
                 layout: Any = None) -> Tensor:
    """The coordinates of the upper triangle (on and above the ``offset``-th diagonal) of a
    ``row x col`` matrix, row by row: a ``(2, N)`` tensor of rows then columns (int64)."""
    return _triangle_indices(row, col, offset, False, dtype, device)


__all__ = exports(__name__)
