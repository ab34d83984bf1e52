"""``repr(tensor)`` in PyTorch's format: ``tensor([1.0000, 2.5000], requires_grad=True)``.

Floats are printed with 4 decimals, or as ``1.`` when every value is an integer, or in
scientific notation when the magnitudes span more than 1000x (or exceed 1e8, or go below
1e-4); all values are padded to one width. Tensors over 1000 elements are summarised.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np

from .ndarray.dtypes import DType, bool_, float32, int64


def _float_formatter(values: np.ndarray) -> Callable[[Any], str]:
    finite = values[np.isfinite(values) & (values != 0)]
    sci, int_mode, width = False, True, 1
    if finite.size:
        magnitudes = np.abs(finite).astype(np.float64)
        lo, hi = magnitudes.min(), magnitudes.max()
        int_mode = bool(np.all(np.ceil(finite) == finite))
        sci = hi / lo > 1000.0 or hi > 1.0e8 or (not int_mode and lo < 1.0e-4)
        if sci:
            width = max(len(f"{v:.4e}") for v in finite)
        elif int_mode:
            width = max(len(f"{v:.0f}") + 1 for v in finite)
        else:
            width = max(len(f"{v:.4f}") for v in finite)

    def fmt(v: Any) -> str:
        v = float(v)
        if sci:
            s = f"{v:.4e}"
        elif int_mode:
            s = f"{v:.0f}" + ("" if math.isinf(v) or math.isnan(v) else ".")
        else:
            s = f"{v:.4f}"
        return s.rjust(width)

    return fmt


def _plain_formatter(values: np.ndarray) -> Callable[[Any], str]:
    width = max((len(str(v)) for v in values.reshape(-1).tolist()), default=1)
    return lambda v: str(v.item() if hasattr(v, "item") else v).rjust(width)


def format_tensor(values: np.ndarray, device: str, dtype: DType, grad_fn: str | None, requires_grad: bool) -> str:
    """PyTorch's ``repr`` of a tensor holding ``values`` (a numpy array), made on ``device`` with
    ``dtype``; ``grad_fn`` is the name of the node that made it (None for a leaf)."""
    prefix = "tensor("
    if values.size == 0:
        body = "[]"
    else:
        fmt = _float_formatter(values) if dtype.is_floating_point else _plain_formatter(values)
        body = np.array2string(values, separator=", ", prefix=prefix, formatter={"all": fmt},
                               threshold=1000, edgeitems=3, max_line_width=81)
    extras = []
    if values.size == 0 and values.shape != (0,):
        extras.append(f"size={values.shape}")
    if device != "cpu":
        extras.append(f"device='{device}'")
    if dtype not in (float32, int64, bool_) or (values.size == 0 and dtype is not float32):
        extras.append(f"dtype=tinytorch.{dtype.name}")
    if grad_fn is not None:
        extras.append(f"grad_fn=<{grad_fn}>")
    elif requires_grad:
        extras.append("requires_grad=True")
    return prefix + ", ".join([body] + extras) + ")"
