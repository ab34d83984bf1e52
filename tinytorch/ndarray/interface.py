"""The backend interface: the one small, flat set of functions every device provides.

A backend owns *flat* buffers of one element type and knows nothing about shapes
beyond what each call passes in. :class:`~tinytorch.ndarray.NDArray` does all the
shape/stride/broadcast/dtype bookkeeping in Python and then calls these functions on
**compact** (row-major, contiguous) buffers. Only ``compact``, ``ewise_setitem`` and
``scalar_setitem`` ever see strides.

Conventions that hold for every function below:

* A *buffer* is whatever the backend allocates. It exposes ``.size`` (elements) and
  ``.dtype`` (a numpy dtype) so that callers and tests can inspect it.
* Inputs of a binary/ternary kernel share one dtype (NDArray casts first). Outputs are
  preallocated by the caller with ``alloc``; kernels never allocate results.
* ``out`` of a comparison is bool; ``out`` of ``reduce_argmax``/``reduce_argmin`` is int64.
* Every function checks the sizes and dtypes it is given against the buffers and raises
  ``ValueError``/``TypeError``/``IndexError`` instead of touching memory out of range.
  A backend written in C or CUDA does this *before* launching the kernel.

The numpy backend (``tinytorch.ndarray.backend_numpy``) is the readable reference for
every function; ``tests/test_backend_interface.py`` checks every backend against this
Protocol.
"""

from __future__ import annotations

from typing import Any, Iterable, Protocol

import numpy as np

from .dtypes import DType

Shape = tuple[int, ...]
Strides = tuple[int, ...]

#: ``ewise_<op>(a, b, out)`` and ``scalar_<op>(a, s, out)`` exist for each of these.
#: Arithmetic ops take float32/float64/int64; comparisons take any dtype and write bool.
ARITHMETIC_OPS = ("add", "sub", "mul", "div", "pow", "maximum", "minimum")
COMPARISON_OPS = ("eq", "ne", "lt", "le", "gt", "ge")
BINARY_OPS = ARITHMETIC_OPS + COMPARISON_OPS
#: ``scalar_r<op>(a, s, out)`` computes ``s <op> a`` for the non-commutative ops.
REVERSED_SCALAR_OPS = ("sub", "div", "pow")
#: ``ewise_<fn>(a, out)``. The first group takes float32/float64/int64; the rest float only.
UNARY_OPS_ANY = ("neg", "abs", "sign", "relu")
UNARY_OPS_FLOAT = ("exp", "log", "sqrt", "sin", "cos", "tanh", "sigmoid", "erf")
UNARY_OPS = UNARY_OPS_ANY + UNARY_OPS_FLOAT
#: ``reduce_<op>(a, out, reduce_size)`` over the last axis of a compact array.
REDUCE_OPS = ("sum", "max", "min", "argmax", "argmin")

Buffer = Any


class Backend(Protocol):
    """What a device module provides. Every function is module-level; no state."""

    name: str

    # --- memory -----------------------------------------------------------------------
    def alloc(self, size: int, dtype: DType) -> Buffer:
        """A new uninitialised flat buffer of ``size`` elements (``size`` may be 0)."""

    def from_numpy(self, a: np.ndarray) -> Buffer:
        """A new buffer holding a copy of the 1-D numpy array ``a`` (float32, float64, int64 or
        bool; other dtypes raise ``TypeError``)."""

    def to_numpy(self, buf: Buffer, shape: Shape, strides: Strides, offset: int) -> np.ndarray:
        """A fresh compact numpy array of the strided view ``(shape, strides, offset)`` of ``buf``."""

    def fill(self, out: Buffer, value: Any) -> None:
        """Set every element of ``out`` to the Python scalar ``value``."""

    # --- the only stride-aware kernels -----------------------------------------------
    # NDArray never passes one buffer as both source and destination (it copies first).
    def compact(self, a: Buffer, out: Buffer, shape: Shape, strides: Strides, offset: int) -> None:
        """Copy the strided view of ``a`` into the compact buffer ``out`` (row-major).

        Strides may be zero (broadcast) or negative (flip). ``out.size`` must equal
        ``prod(shape)``; every element the view reaches must lie inside ``a``.
        """

    def ewise_setitem(self, a: Buffer, out: Buffer, shape: Shape, strides: Strides, offset: int) -> None:
        """Write the compact ``a`` into the strided view ``(shape, strides, offset)`` of ``out``."""

    def scalar_setitem(self, value: Any, out: Buffer, shape: Shape, strides: Strides, offset: int) -> None:
        """Write the scalar ``value`` into every element of the strided view of ``out``."""

    # --- elementwise (compact, equal sizes) --------------------------------------------
    def cast(self, a: Buffer, out: Buffer) -> None:
        """Convert every element of ``a`` to the dtype of ``out`` (C conversion rules;
        float → bool is ``x != 0``; float → int64 truncates toward zero; NaN/inf → int64 is
        unspecified, as in C and numpy)."""

    def where(self, cond: Buffer, a: Buffer, b: Buffer, out: Buffer) -> None:
        """``out[i] = a[i] if cond[i] else b[i]``; ``cond`` is bool, ``a``/``b``/``out`` share a dtype."""

    # ewise_<op>(a, b, out), scalar_<op>(a, s, out), scalar_r<op>(a, s, out) and
    # ewise_<fn>(a, out) for the names in BINARY_OPS / REVERSED_SCALAR_OPS / UNARY_OPS.
    # Integer ``div`` does not exist (NDArray promotes to float first, as PyTorch does).
    # Integer ``pow`` with a negative exponent raises ValueError.

    # --- reductions ----------------------------------------------------------------------
    # reduce_<op>(a, out, reduce_size) on float32/float64/int64 (NDArray casts bools to int64
    # first): a is compact with a.size == out.size * reduce_size;
    # out[i] reduces a[i*reduce_size : (i+1)*reduce_size]. reduce_size >= 1 for max/min/arg*;
    # sum over reduce_size == 0 writes zeros. argmax/argmin return the first index on ties.
    # NaN propagates through max/min and is the arg* answer, as in numpy and PyTorch.
    #
    # Optional: ``reduce_axis_<op>(a, out, reduce_size, inner)`` for sum/max/min reduces the
    # middle axis of a compact ``a`` seen as ``(outer, reduce_size, inner)`` into ``out``
    # ``(outer, inner)``. NDArray calls it, when a backend has it, for a run of axes that is not
    # last (a sum over the batch axis) instead of transposing first. The C backend has it.

    # --- matmul --------------------------------------------------------------------------
    def matmul(self, a: Buffer, b: Buffer, out: Buffer, m: int, n: int, p: int, batch: int) -> None:
        """Batched product of compact ``(batch, m, n) @ (batch, n, p) -> (batch, m, p)``."""

    # Optional: ``matmul_strided(a, a_strides, a_offset, b, b_strides, b_offset, out, m, n, p,
    # batch)``, the same product of two strided views (3 strides each: batch, row, column) into
    # a compact ``out``. NDArray calls it, when a backend has it, instead of compacting the
    # operands first: a transposed weight (``x @ w.T``) then costs no copy. The C backend has it.

    # --- indexing --------------------------------------------------------------------------
    def gather(self, a: Buffer, index: Buffer, out: Buffer) -> None:
        """``out[i] = a[index[i]]``; ``index`` is int64, every entry in ``[0, a.size)``."""

    def scatter(self, src: Buffer, index: Buffer, out: Buffer) -> None:
        """``out[index[i]] = src[i]`` (with repeated indices, one of the writes wins)."""

    def scatter_add(self, src: Buffer, index: Buffer, out: Buffer) -> None:
        """``out[index[i]] += src[i]`` for each i (repeated indices accumulate)."""

    # --- optimizers ------------------------------------------------------------------------
    # Optional: ``adam_step(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, *, step_size,
    # beta1, beta2, eps, bias2_sqrt, decay, l2)``, a whole Adam/AdamW update of compact float
    # buffers, in place, in one pass. ``optim.Adam`` calls it, when a backend has it, instead
    # of the ~10 elementwise tensor ops of its step. The C backend has it.


def interface_functions() -> list[str]:
    """The full list of function names a backend must define (used by the tests)."""
    names = ["alloc", "from_numpy", "to_numpy", "fill", "compact", "ewise_setitem", "scalar_setitem",
             "cast", "where", "matmul", "gather", "scatter", "scatter_add"]
    names += [f"ewise_{op}" for op in BINARY_OPS]
    names += [f"scalar_{op}" for op in BINARY_OPS]
    names += [f"scalar_r{op}" for op in REVERSED_SCALAR_OPS]
    names += [f"ewise_{fn}" for fn in UNARY_OPS]
    names += [f"reduce_{op}" for op in REDUCE_OPS]
    return names


def prod(shape: Iterable[int]) -> int:
    """The number of elements of ``shape`` (1 for the empty shape)."""
    n = 1
    for s in shape:
        n *= s
    return n
