"""Inputs for the kernel tests of the further binary ops (``interface.MORE_BINARY_OPS``) and
``bitwise_not``, shared by the C and CUDA backend tests: which dtypes each op takes, and data
that reaches the cases PyTorch defines with care (signed zeros, infinities, NaN, a zero float
divisor, ``INT64_MIN`` by -1, shift counts outside [0, 64))."""

from __future__ import annotations

import numpy as np

from tinytorch.ndarray import interface

#: the dtype kinds each op takes ('f' float32/float64, 'i' int64, 'b' bool)
KINDS = {**{op: "f" for op in interface.FLOAT_BINARY_OPS}, **{op: "fi" for op in interface.DIVISION_OPS},
         **{op: "ib" for op in interface.BITWISE_OPS}, **{op: "i" for op in interface.SHIFT_OPS}}
KINDS_NOT = "ib"  # bitwise_not

INT64_MIN = np.iinfo(np.int64).min


def applies(op: str, dtype) -> bool:
    return np.dtype(dtype).kind in KINDS[op]


def binary_inputs(rng, op: str, dtype, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Two arrays of ``n`` elements for ``ewise_<op>``; int64 divisors are never 0."""
    dtype = np.dtype(dtype)
    if dtype == np.bool_:
        return rng.random(n) < 0.5, rng.random(n) < 0.5
    if dtype == np.int64:
        a = rng.integers(-1000, 1000, n, dtype=np.int64)
        if op in interface.SHIFT_OPS:
            b = rng.integers(-3, 70, n, dtype=np.int64)
        else:
            b = rng.integers(1, 40, n, dtype=np.int64) * rng.choice(np.array([-1, 1]), n)
        if n >= 4:
            a[:2], b[:2] = [INT64_MIN, INT64_MIN], [-1, 1]  # the one overflowing quotient
        return a, b
    a = (rng.standard_normal(n) * 10).astype(dtype)
    b = (rng.standard_normal(n) * 3).astype(dtype)
    if n >= 16:
        specials = np.array([np.nan, np.inf, -np.inf, -0.0, 0.0, 7.0, 1.0, -1.0], dtype)
        a[:8], b[8:16] = specials, specials
        a[8:16], b[:8] = specials[::-1], specials
        a[-3:], b[-3:] = [7.0, 0.3, -5.0], [0.7, 0.1, 2.5]  # quotients that round onto a whole number
    return a, b


def scalars(op: str, dtype) -> list:
    """Scalars for ``scalar_<op>`` and ``scalar_r<op>`` (no 0 for integer division)."""
    kind = np.dtype(dtype).kind
    if kind == "b":
        return [True, False]
    if kind == "i":
        return [3, -1, 64, -2] if op in interface.SHIFT_OPS else [3, -1, -7] if op in interface.DIVISION_OPS \
            else [3, -1, 0, 255]
    return [2.5, -0.75, 0.0, -0.0, float("inf")]


def nonzero(a: np.ndarray) -> np.ndarray:
    """``a`` with its zeros replaced by 1 (a divisor for scalar_r of integer division)."""
    return np.where(a == 0, 1, a) if a.dtype.kind == "i" else a
