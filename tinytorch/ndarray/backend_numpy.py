"""The numpy backend (device ``"numpy"``): the readable reference for every backend.

Buffers are flat 1-D numpy arrays. Each function is the plainest numpy expression of
the contract written in :mod:`tinytorch.ndarray.interface`; the C and CUDA backends are
tested against these results. Speed is not a goal here, clarity is.
"""

from __future__ import annotations

import operator
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import as_strided

from .dtypes import DType
from .interface import Shape, Strides, prod

name = "numpy"


# --- checks shared by every kernel ------------------------------------------------------
def _check_same_size(*bufs: np.ndarray) -> None:
    if any(b.size != bufs[0].size for b in bufs):
        raise ValueError(f"buffer sizes differ: {[b.size for b in bufs]}")


def _check_same_dtype(*bufs: np.ndarray) -> None:
    if any(b.dtype != bufs[0].dtype for b in bufs):
        raise TypeError(f"buffer dtypes differ: {[str(b.dtype) for b in bufs]}")


def check_view(buf_size: int, shape: Shape, strides: Strides, offset: int) -> None:
    """Raise ``IndexError`` unless every element of the view lies inside ``[0, buf_size)``."""
    if len(shape) != len(strides):
        raise ValueError(f"shape {shape} and strides {strides} have different lengths")
    # exact Python ints: numpy integers would wrap silently and let a bad view through
    shape, strides = tuple(map(operator.index, shape)), tuple(map(operator.index, strides))
    offset = operator.index(offset)
    if any(s < 0 for s in shape):
        raise ValueError(f"negative dimension in shape {shape}")
    if prod(shape) == 0:
        return
    lo = hi = offset
    for n, st in zip(shape, strides):
        if st > 0:
            hi += (n - 1) * st
        else:
            lo += (n - 1) * st
    if lo < 0 or hi >= buf_size:
        raise IndexError(
            f"view (shape={shape}, strides={strides}, offset={offset}) reaches elements "
            f"[{lo}, {hi}] outside a buffer of {buf_size}")


def _view(buf: np.ndarray, shape: Shape, strides: Strides, offset: int) -> np.ndarray:
    check_view(buf.size, shape, strides, offset)
    if prod(shape) == 0:
        return np.empty(shape, dtype=buf.dtype)
    item = buf.itemsize
    return as_strided(buf[offset:], shape=shape, strides=tuple(s * item for s in strides))


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
    return np.power(a, b)


def _div(a: Any, b: Any) -> np.ndarray:
    if np.asarray(a).dtype.kind != "f":
        raise TypeError("div needs a floating-point dtype (NDArray promotes integers first)")
    return np.divide(a, b)


_BINARY = {
    "add": np.add, "sub": np.subtract, "mul": np.multiply, "div": _div, "pow": _pow,
    "maximum": np.maximum, "minimum": np.minimum,
    "eq": np.equal, "ne": np.not_equal, "lt": np.less, "le": np.less_equal,
    "gt": np.greater, "ge": np.greater_equal,
}


def _binary(fn: Any):
    def ewise(a: np.ndarray, b: np.ndarray, out: np.ndarray) -> None:
        _check_same_size(a, b, out)
        _check_same_dtype(a, b)
        with np.errstate(all="ignore"):
            out[:] = fn(a, b)

    def scalar(a: np.ndarray, s: Any, out: np.ndarray) -> None:
        _check_same_size(a, out)
        with np.errstate(all="ignore"):
            out[:] = fn(a, np.asarray(s, dtype=a.dtype))

    return ewise, scalar


def _reversed(fn: Any):
    def scalar_r(a: np.ndarray, s: Any, out: np.ndarray) -> None:
        _check_same_size(a, out)
        with np.errstate(all="ignore"):
            out[:] = fn(np.asarray(s, dtype=a.dtype), a)

    return scalar_r


for _op, _fn in _BINARY.items():
    globals()[f"ewise_{_op}"], globals()[f"scalar_{_op}"] = _binary(_fn)
for _op in ("sub", "div", "pow"):
    globals()[f"scalar_r{_op}"] = _reversed(_BINARY[_op])


def _sigmoid(a: np.ndarray) -> np.ndarray:
    # exp(-|x|) never overflows; pick the branch that keeps precision on each side.
    e = np.exp(-np.abs(a))
    return np.where(a >= 0, 1 / (1 + e), e / (1 + e)).astype(a.dtype)


def _erf(a: np.ndarray) -> np.ndarray:
    from math import erf

    return np.vectorize(erf, otypes=[a.dtype])(a) if a.size else a.copy()


_UNARY: dict[str, Any] = {
    "neg": np.negative, "abs": np.abs, "sign": np.sign, "relu": lambda a: np.maximum(a, 0),
    "exp": np.exp, "log": np.log, "sqrt": np.sqrt, "sin": np.sin, "cos": np.cos,
    "tanh": np.tanh, "sigmoid": _sigmoid, "erf": _erf,
}
_FLOAT_ONLY = {"exp", "log", "sqrt", "sin", "cos", "tanh", "sigmoid", "erf"}


def _unary(fn_name: str):
    fn = _UNARY[fn_name]

    def ewise(a: np.ndarray, out: np.ndarray) -> None:
        _check_same_size(a, out)
        if fn_name in _FLOAT_ONLY and a.dtype.kind != "f":
            raise TypeError(f"{fn_name} needs a floating-point dtype, got {a.dtype}")
        with np.errstate(all="ignore"):
            out[:] = fn(a)

    return ewise


for _fn_name in _UNARY:
    globals()[f"ewise_{_fn_name}"] = _unary(_fn_name)


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


# --- matmul and indexing ----------------------------------------------------------------------
def matmul(a: np.ndarray, b: np.ndarray, out: np.ndarray, m: int, n: int, p: int, batch: int) -> None:
    _check_same_dtype(a, b, out)
    if (a.size, b.size, out.size) != (batch * m * n, batch * n * p, batch * m * p):
        raise ValueError(f"matmul sizes {a.size}, {b.size}, {out.size} do not fit batch={batch} m={m} n={n} p={p}")
    out[:] = np.matmul(a.reshape(batch, m, n), b.reshape(batch, n, p)).reshape(-1)


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
