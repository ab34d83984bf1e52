"""Run one snippet with tinytorch and with PyTorch and compare what comes out: values, dtypes
and shapes of tensors, or the class of the exception raised. The edge-case tests of issue 13
and the differential fuzzer (tests/fuzz_api.py) share it.

A snippet is ``fn(lib, F, device)``: ``lib`` is ``tinytorch`` or ``torch``, ``F`` its
``nn.functional`` and ``device`` the device to create tensors on (PyTorch always gets "cpu").
"""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np

import tinytorch as tt
import tinytorch.nn.functional as ttF

Snippet = Callable[[Any, Any, str], Any]


def outcome(value: Any) -> Any:
    """A comparable picture of a result: tensors become ("tensor", dtype name, shape, values
    with NaN and the sign of zero spelled out), containers are walked, exceptions are their class."""
    if isinstance(value, BaseException):
        return ("raises", _exception_name(value))
    if hasattr(value, "detach") and hasattr(value, "dtype") and hasattr(value, "shape"):
        arr = np.asarray(value.detach().cpu().numpy() if hasattr(value, "cpu") else value.detach().numpy())
        return ("tensor", str(value.dtype).split(".")[-1], tuple(value.shape), _values(arr))
    if isinstance(value, (list, tuple)):
        return tuple(outcome(v) for v in value)
    if isinstance(value, float):
        return _values(np.asarray(value))
    if hasattr(value, "name") and hasattr(value, "is_floating_point"):  # a dtype
        return str(value).split(".")[-1]
    return value


def _values(arr: np.ndarray) -> Any:
    if arr.dtype.kind == "f":
        return tuple("nan" if math.isnan(v) else (v, math.copysign(1.0, v)) for v in arr.astype(np.float64).ravel())
    return tuple(arr.ravel().tolist())


def _exception_name(e: BaseException) -> str:
    return type(e).__name__


def run(fn: Snippet, lib: Any, F: Any, device: str) -> Any:
    try:
        return outcome(fn(lib, F, device))
    except Exception as e:  # noqa: BLE001  (the class is part of the outcome)
        return outcome(e)


def both(fn: Snippet, device: str = "cpu") -> tuple[Any, Any]:
    """(tinytorch's outcome on ``device``, PyTorch's outcome on its CPU)."""
    import torch
    import torch.nn.functional as torchF

    return run(fn, tt, ttF, device), run(fn, torch, torchF, "cpu")


def close(a: Any, b: Any, rtol: float = 1e-5, atol: float = 1e-6) -> bool:
    """Outcomes equal, but floats compared with a tolerance (NaN equals NaN; the sign of a zero
    counts only when ``atol`` is 0, since a tolerance admits values on both sides of 0)."""
    if isinstance(a, tuple) and isinstance(b, tuple):
        if len(a) == 2 and all(isinstance(v, float) for v in a) and all(isinstance(v, float) for v in b):
            x, y = a[0], b[0]
            if x == y == 0 and atol == 0:
                return a[1] == b[1]
            return x == y or abs(x - y) <= atol + rtol * abs(y)
        return len(a) == len(b) and all(close(x, y, rtol, atol) for x, y in zip(a, b))
    return a == b
