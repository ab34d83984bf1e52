"""The backend interface: the one small, flat set of functions every device provides.

A backend owns *flat* buffers of one element type and knows nothing about shapes
beyond what each call passes in. :class:`~tinytorch.ndarray.NDArray` does all the
shape/stride/broadcast/dtype bookkeeping in Python and then calls these functions on
**compact** (row-major, contiguous) buffers. Only ``compact``, ``ewise_setitem``,
``scalar_setitem`` and the optional ``matmul_strided`` ever see strides.

Conventions that hold for every function below:

* A *buffer* is whatever the backend allocates. It exposes ``.size`` (elements) and
  ``.dtype`` (a numpy dtype) so that callers and tests can inspect it.
* Inputs of a binary/ternary kernel share one dtype (NDArray casts first). Outputs are
  preallocated by the caller with ``alloc``; kernels never allocate results.
* ``out`` of a comparison is bool; ``out`` of ``reduce_argmax``/``reduce_argmin`` is int64.
* Every function checks the sizes and dtypes it is given against the buffers and raises
  ``ValueError``/``TypeError``/``IndexError`` instead of touching memory out of range.
  A backend written in C or CUDA does this *before* launching the kernel.

Besides these, :data:`OPTIONAL_FUNCTIONS` names fast paths (a matmul of strided views, a
reduction over a middle axis, a fused Adam step) that every backend defines either as a
function or as ``None``; NDArray falls back to the mandatory functions for ``None``.

The numpy backend (``tinytorch.ndarray.backend_numpy``) is the readable reference for
every function, the optional ones included; ``tests/test_backend_interface.py`` checks every
backend against this Protocol.
"""

from __future__ import annotations

import numbers
import operator
from typing import Any, Callable, Iterable, Protocol

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
UNARY_OPS_FLOAT = ("exp", "log", "sqrt", "sin", "cos", "tanh", "sigmoid", "erf", "floor", "ceil", "trunc", "round",
                   "log1p", "expm1", "asin", "acos", "atan", "sinh", "cosh", "asinh", "acosh", "atanh",
                   "erfc", "erfinv")
UNARY_OPS = UNARY_OPS_ANY + UNARY_OPS_FLOAT
#: ``ewise_bitwise_not(a, out)`` on int64 (``~x``) and bool (``not x``).
UNARY_OPS_BITWISE = ("bitwise_not",)

#: Further binary ops, each with ``ewise_<op>(a, b, out)``, ``scalar_<op>(a, s, out)`` and
#: ``scalar_r<op>(a, s, out)`` (``op(s, a[i])``), ``out`` of the inputs' dtype, with PyTorch's
#: element rules:
#:
#: * ``atan2``, ``copysign``: float32/float64.
#: * ``fmod`` (C's, the sign of ``a``), ``remainder`` (the sign of ``b``: ``fmod`` plus ``b`` where
#:   the two signs differ), ``floor_divide`` (PyTorch's float algorithm: ``(a - fmod(a, b)) / b``
#:   corrected to the floor, so ``7.0 // 0.7`` is 9 like ``fmod`` says; ``a / b`` when ``b == 0``)
#:   and ``trunc_divide`` (``trunc(a / b)``): float32/float64/int64. For int64 every result is
#:   exact, ``INT64_MIN`` by -1 wraps around (to ``INT64_MIN``, remainder 0), and a zero divisor
#:   raises ``ZeroDivisionError`` before anything is written.
#: * ``bitwise_and/or/xor``: int64 and bool; ``left_shift``, ``right_shift``: int64, a shift by
#:   a count outside ``[0, 64)`` gives 0 (left) or the sign (right), as PyTorch.
FLOAT_BINARY_OPS = ("atan2", "copysign")
DIVISION_OPS = ("fmod", "remainder", "floor_divide", "trunc_divide")
BITWISE_OPS = ("bitwise_and", "bitwise_or", "bitwise_xor")
SHIFT_OPS = ("left_shift", "right_shift")
MORE_BINARY_OPS = FLOAT_BINARY_OPS + DIVISION_OPS + BITWISE_OPS + SHIFT_OPS
#: ``reduce_<op>(a, out, reduce_size)`` over the last axis of a compact array.
REDUCE_OPS = ("sum", "max", "min", "argmax", "argmin")
#: ``scatter_<op>(src, index, out)``: ``out[index[i]] = op(out[index[i]], src[i])``, repeated
#: indices combining every value; float32/float64/int64 (``scatter_add`` also takes bool).
SCATTER_OPS = ("add", "mul", "max", "min")

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
    # ewise_<fn>(a, out) for the names in BINARY_OPS / REVERSED_SCALAR_OPS / UNARY_OPS, and all
    # three forms for MORE_BINARY_OPS (dtypes and element rules at their definition above).
    # Integer ``div`` does not exist (NDArray promotes to float first, as PyTorch does).
    # Integer ``pow`` with a negative exponent raises ValueError; an integer fmod, remainder,
    # floor_divide or trunc_divide by zero raises ZeroDivisionError, before anything is written.
    # Guaranteed: ``out`` may be the very buffer ``a`` (or ``b``). ``out[i]`` depends on element i
    # of the inputs only, and that element is read before ``out[i]`` is written. In-place updates
    # (``x += y``, ``x.relu_()``, the generic optimizer steps) rely on this.

    def ewise_bitwise_not(self, a: Buffer, out: Buffer) -> None:
        """``out[i] = ~a[i]`` for int64, ``not a[i]`` for bool (TypeError for floats)."""

    # --- reductions ----------------------------------------------------------------------
    # reduce_<op>(a, out, reduce_size) on float32/float64/int64 (NDArray casts bools to int64
    # first): a is compact with a.size == out.size * reduce_size;
    # out[i] reduces a[i*reduce_size : (i+1)*reduce_size]. reduce_size >= 1 for max/min/arg*;
    # sum over reduce_size == 0 writes zeros. argmax/argmin return the first index on ties.
    # NaN propagates through max/min and is the arg* answer, as in numpy and PyTorch.

    # --- matmul --------------------------------------------------------------------------
    def matmul(self, a: Buffer, b: Buffer, out: Buffer, m: int, n: int, p: int, batch: int) -> None:
        """Batched product of compact ``(batch, m, n) @ (batch, n, p) -> (batch, m, p)``."""

    # --- indexing --------------------------------------------------------------------------
    def gather(self, a: Buffer, index: Buffer, out: Buffer) -> None:
        """``out[i] = a[index[i]]``; ``index`` is int64, every entry in ``[0, a.size)``."""

    def scatter(self, src: Buffer, index: Buffer, out: Buffer) -> None:
        """``out[index[i]] = src[i]`` (with repeated indices, one of the writes wins)."""

    def scatter_add(self, src: Buffer, index: Buffer, out: Buffer) -> None:
        """``out[index[i]] += src[i]`` for each i (repeated indices accumulate)."""

    def scatter_mul(self, src: Buffer, index: Buffer, out: Buffer) -> None:
        """``out[index[i]] *= src[i]`` for each i (float32/float64/int64; int64 wraps around)."""

    def scatter_max(self, src: Buffer, index: Buffer, out: Buffer) -> None:
        """``out[index[i]] = max(out[index[i]], src[i])`` for each i (float32/float64/int64); a
        NaN on either side gives NaN, as ``torch.scatter_reduce(..., "amax")``."""

    def scatter_min(self, src: Buffer, index: Buffer, out: Buffer) -> None:
        """``out[index[i]] = min(out[index[i]], src[i])``, NaN as in ``scatter_max``."""

    # Every scatter checks all of ``index`` against ``[0, out.size)`` and raises IndexError
    # before writing anything; ``src`` and ``index`` have one size, ``src`` and ``out`` one dtype.

    # --- optional fast paths (OPTIONAL_FUNCTIONS) ---------------------------------------------
    # Every backend defines each of these names: as a function with the contract below, or as
    # ``None`` when it has no such kernel. NDArray calls the function when it is
    # not None and otherwise compose the same result from the functions above, so a new backend
    # may start with all of them None.

    reduce_axis_sum: Callable[..., None] | None
    """``reduce_axis_sum(a, out, reduce_size, inner)``, likewise ``reduce_axis_max`` and
    ``reduce_axis_min``: reduce the middle axis of the compact ``a`` seen as ``(outer,
    reduce_size, inner)`` into the compact ``out`` ``(outer, inner)``, with ``outer = out.size //
    inner``: ``out[o, j] = op(a[o, :, j])``. ``a`` and ``out`` share a dtype out of float32,
    float64, int64 (TypeError otherwise); ``inner >= 1``, ``out.size`` a multiple of it and
    ``a.size == out.size * reduce_size`` (ValueError otherwise). ``reduce_size >= 1`` for max/min;
    a sum over ``reduce_size == 0`` writes zeros. The results are those of ``reduce_<op>`` on the
    transposed copy ``(outer, inner, reduce_size)``: NaN propagates through max/min, int64 sums
    wrap around. ``a`` is only read and must not be ``out``. NDArray calls it when it reduces
    a run of adjacent axes that is not the last of a compact array (a sum over the batch axis),
    instead of transposing and compacting first."""

    reduce_axis_max: Callable[..., None] | None
    """See ``reduce_axis_sum``."""

    reduce_axis_min: Callable[..., None] | None
    """See ``reduce_axis_sum``."""

    call_fused: Callable[..., None] | None
    """``call_fused(kernel, n, bufs, offsets)``: call ``kernel``, a ctypes function of C type
    ``void kernel(int64_t n, void **ptrs)`` compiled at run time by :mod:`tinytorch.compiler`,
    with ``ptrs[i]`` the address of element ``offsets[i]`` of ``bufs[i]``. The caller (``ndarray.fused``) checks
    that every buffer holds the elements the kernel reads and writes; the backend only turns
    buffers into addresses. ``None`` on a backend whose memory the host cannot address (CUDA):
    compiled code then runs the ops one by one."""

    matmul_strided: Callable[..., None] | None
    """``matmul_strided(a, a_strides, a_offset, b, b_strides, b_offset, out, m, n, p, batch)``:
    the product ``matmul`` computes, of two strided views straight from their buffers. ``a`` is
    seen as ``(batch, m, n)`` with the 3 strides ``a_strides`` (in elements; 0 broadcasts,
    negative steps backwards) from ``a_offset``, ``b`` as ``(batch, n, p)`` likewise; the result
    goes to the compact ``out`` ``(batch, m, p)``. ``a``, ``b`` and ``out`` share a dtype out of
    float32, float64, int64 (TypeError otherwise); ``out.size == batch * m * p`` (ValueError
    otherwise); each view must lie inside its buffer (IndexError otherwise, see
    ``strides.check_view``), all checked before anything is read. ``out`` may be ``a`` or ``b``:
    the result is as if the inputs were read first. NDArray calls it, instead of compacting
    its operands and calling ``matmul``, whenever each operand's batch axes merge into one: a
    transposed weight (``x @ w.T``) or a batch broadcast from one matrix then costs no copy.
    ``batch`` may also be a pair ``(outer, inner)``: two batch axes, each operand with 4
    strides (outer, inner, row, column) and ``out`` compact ``(outer * inner, m, p)``; NDArray
    passes two when the batch axes do not merge into one but form two (attention's batch and
    heads, split off one wider row)."""

    adam_step: Callable[..., None] | None
    """``adam_step(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, *, step_size, beta1,
    beta2, eps, bias2_sqrt, decay=1.0, l2=0.0)``: one Adam/AdamW update of every element, in
    place. The buffers are compact, of one size (ValueError otherwise) and one dtype, float32 or
    float64 (TypeError otherwise); ``max_exp_avg_sq`` is None unless AMSGrad. Per element, in
    the parameter's dtype and in torch.optim.Adam's order::

        g = grad + l2 * param
        exp_avg = exp_avg + (1 - beta1) * (g - exp_avg)
        exp_avg_sq = exp_avg_sq * beta2 + (1 - beta2) * g * g
        max_exp_avg_sq = max(max_exp_avg_sq, exp_avg_sq)    (AMSGrad only; used as v below)
        param = param * decay + (-step_size) * (exp_avg / (sqrt(v) / bias2_sqrt + eps))

    with ``step_size = lr / (1 - beta1**t)``, ``bias2_sqrt = sqrt(1 - beta2**t)``, and either
    ``l2 = weight_decay`` (Adam) or ``decay = 1 - lr * weight_decay`` (AdamW). ``grad`` is only
    read and may be ``param`` itself. ``NDArray.adam_step_`` (which optim.Adam reaches through the
    ``_fused_adam_`` op) calls it when the parameter and its state are compact arrays of one
    float dtype (the gradient is compacted first), instead of ~10 elementwise array ops."""


    fold_windows: Callable[..., None] | None
    """``fold_windows(cols, out, nc, out_h, out_w, kh, kw, oh, ow, sh, sw, dh, dw)``: col2im, the
    adjoint of the window view of ``ndarray/windows.py``. Adds every element of the compact
    ``cols`` seen as ``(nc, kh, kw, oh, ow)`` into the compact ``out`` seen as ``(nc, out_h,
    out_w)``, at the position it was read from::

        out[p, y * sh + i * dh, x * sw + j * dw] += cols[p, i, j, y, x]

    (windows that overlap add up). ``cols`` and ``out`` share a dtype, float32 or float64
    (TypeError otherwise); ``cols.size == nc * kh * kw * oh * ow``, ``out.size == nc * out_h *
    out_w``, strides and dilations >= 1, and every window inside the plane (``(kh - 1) * dh +
    (oh - 1) * sh < out_h``, likewise for the width, when there are windows): ValueError
    otherwise, checked before anything is written. ``cols`` is only read and must not be
    ``out``. NDArray's ``fold`` (the gradient of a convolution's input, of an average pooling)
    calls it instead of ``kh * kw`` strided additions."""


    ewise_strided: Callable[..., None] | None
    """``ewise_strided(op, a, a_strides, a_offset, b, b_strides, b_offset, out, shape)``: ``out =
    a <op> b`` for two strided views of one ``shape`` (strides in elements; 0 where an operand
    is broadcast, negative steps backwards) into the compact ``out``; ``op`` is ``"add"``,
    ``"sub"``, ``"mul"`` or ``"div"`` (ValueError otherwise). ``a``, ``b`` and ``out`` share a
    dtype, float32 or float64 (TypeError otherwise); ``out.size`` is the shape's size
    (ValueError otherwise); each view must lie inside its buffer (IndexError, see
    ``strides.check_view``), all checked before anything is read. The values are those of
    ``ewise_<op>`` on the compacted views. NDArray calls it for float arithmetic whose operands
    broadcast (a bias added to every row) or are not compact (a slice, a transpose), instead of
    compacting them first."""


    softmax_rows: Callable[..., None] | None
    """``softmax_rows(a, out, rows, cols, scale=1.0, causal=0)``: for each row ``r`` of the
    compact ``a`` seen as ``(rows, cols)``, with ``x = scale * a[r, :]``, ``out[r, j] = exp(x[j]
    - m) / sum_k exp(x[k] - m)`` with ``m`` the max, over the row's visible columns: all of
    them, or with ``causal > 0`` (the number of query rows per attention matrix) the columns ``j
    <= r % causal``; hidden columns get 0. A row of -inf, or one holding +inf or NaN, gives NaN
    throughout, as PyTorch's softmax with a mask of -inf. ``a`` and the compact ``out`` share a
    dtype, float32 or float64 (TypeError otherwise), and have ``rows * cols`` elements
    (ValueError otherwise); ``scale`` is a real number (TypeError), ``causal`` an int >= 0
    (ValueError). ``NDArray.softmax`` calls it along the last axis instead of five array passes
    (seven with a scale and a mask)."""

    softmax_rows_backward: Callable[..., None] | None
    """``softmax_rows_backward(y, g, out, rows, cols, scale=1.0)``: the gradient of
    ``softmax_rows``' input from its output ``y`` and that output's gradient ``g``, row by row:
    ``out[r, j] = scale * y[r, j] * (g[r, j] - sum_k g[r, k] * y[r, k])`` (hidden columns, where
    ``y`` is 0, get 0). Three compact buffers of one dtype (float32 or float64) and ``rows *
    cols`` elements, checked as for ``softmax_rows``."""

    cross_entropy_rows: Callable[..., None] | None
    """``cross_entropy_rows(x, target, loss, lse, count, rows, cols, ignore_index)``: for each row
    ``r`` of the compact logits ``x`` seen as ``(rows, cols)`` and its int64 class index
    ``target[r]``: ``lse[r] = log sum_j exp(x[r, j])`` (computed from the row's max, as a
    log-softmax is), ``loss[r] = lse[r] - x[r, target[r]]``, or 0 where ``target[r] ==
    ignore_index``; ``count[0]`` = the number of rows counted. ``x``, ``loss``, ``lse``, ``count``
    share a dtype, float32 or float64, ``target`` is int64 (TypeError otherwise); ``x`` has
    ``rows * cols`` elements, ``target``, ``loss`` and ``lse`` ``rows``, ``count`` 1 (ValueError
    otherwise); a target that is neither in ``[0, cols)`` nor ``ignore_index`` raises
    ``IndexError`` naming it, before anything is written. ``NDArray.cross_entropy_rows`` calls it
    for the classifier's loss instead of a log-softmax and a pick."""

    cross_entropy_rows_backward: Callable[..., None] | None
    """``cross_entropy_rows_backward(x, target, lse, scale, out, rows, cols, ignore_index)``:
    ``out[r, j] = s_r * (exp(x[r, j] - lse[r]) - [j == target[r]])``, 0 on rows whose target is
    ``ignore_index``, with ``s_r = scale[r]`` (``scale`` of ``rows`` elements) or ``scale[0]``
    (one element): the gradient of ``sum_r s_r * loss[r]``. Checked as ``cross_entropy_rows``;
    ``out`` is compact with ``rows * cols`` elements."""


    gelu: Callable[..., None] | None
    """``gelu(a, out)``: ``out[i] = x * (1 + erf(x / sqrt 2)) / 2`` with ``x = a[i]``, the exact GELU;
    ``gelu_backward(a, g, out)``: ``out[i] = g[i] * (Phi(x) + x * exp(-x^2 / 2) / sqrt(2 pi))``,
    ``Phi(x) = (1 + erf(x / sqrt 2)) / 2``. Compact buffers of one size (ValueError otherwise) and
    one dtype, float32 or float64 (TypeError otherwise). ``NDArray.gelu`` / ``gelu_backward``
    call them instead of five and seven array passes."""

    gelu_backward: Callable[..., None] | None
    """See ``gelu``."""

    lower_call: Callable[..., tuple[Any, Any]] | None
    """``lower_call(fn, args)``: run the interface function ``fn(*args)`` and return ``(result,
    calls)``, ``calls`` being the native calls it made, in order, as ``(function, native_args,
    result)`` with each pointer argument a :class:`Pointer` into one of ``args``' buffers -- or
    ``None`` where the call cannot be replayed that way (its work was not all native calls on
    its own buffers). A recorded kernel program (:mod:`tinytorch.ndarray.program`) then replays
    the native calls on other buffers of the same sizes, with addresses from ``buffer_address(buf)``,
    skipping the checks and packing the interface function did once; a native call that returns
    something else than it did when recorded (a bad index) is replayed as the interface call,
    which raises the error."""

    buffer_address: Callable[[Buffer], int] | None
    """See ``lower_call``."""


    conv2d: Callable[..., None] | None
    """``conv2d(x, w, bias, out, geom)``: a 2-D convolution (cross-correlation) in one call.
    ``geom`` is 16 ints ``(n, c, h, w, o, kh, kw, oh, ow, sh, sw, ph, pw, dh, dw, groups)``; the
    compact ``x`` is seen as ``(n, c, h, w)``, ``w`` as ``(o, c / groups, kh, kw)``, ``bias`` as
    ``(o,)`` (or None: no bias) and ``out`` as ``(n, o, oh, ow)``::

        out[b, q, y, x] = bias[q] + sum over c', i, j of
                          w[q, c', i, j] * x[b, g * c / groups + c', y * sh + i * dh - ph, x * sw + j * dw - pw]

    with ``g = q // (o / groups)`` and ``x`` read as 0 outside the image. Sizes, strides,
    dilations and groups >= 1, paddings >= 0, ``c`` and ``o`` divisible by ``groups`` and
    ``(oh, ow)`` PyTorch's output size ``(h + 2 ph - dh (kh - 1) - 1) // sh + 1`` (likewise
    ``ow``), at least 1; each buffer holds exactly its shape's elements: ValueError otherwise.
    One float dtype, float32 or float64, for all: TypeError otherwise. All checked before
    anything is written; ``out`` is not an input. ``ndarray.windows.conv2d`` calls it instead
    of building the ``(c / groups * kh * kw, oh * ow)`` im2col matrix of every image and
    multiplying it with the weights."""

    conv2d_backward_input: Callable[..., None] | None
    """``conv2d_backward_input(g, w, gx, geom)``: the gradient of ``conv2d``'s ``x`` (the
    adjoint of the map ``x -> conv2d(x, w)``) for the output gradient ``g`` ``(n, o, oh, ow)``,
    written into ``gx`` ``(n, c, h, w)``: every ``g[b, q, y, x] * w[q, c', i, j]`` is added at
    the position of ``x`` it multiplied. Geometry, sizes and dtypes checked as for ``conv2d``."""

    conv2d_backward_weight: Callable[..., None] | None
    """``conv2d_backward_weight(g, x, gw, geom)``: the gradient of ``conv2d``'s ``w`` for the
    output gradient ``g`` ``(n, o, oh, ow)`` and input ``x``, written into ``gw`` ``(o, c /
    groups, kh, kw)``: ``gw[q, c', i, j] = sum over b, y, x of g[b, q, y, x] * (the x element
    that w[q, c', i, j] met there)``. Checked as for ``conv2d``."""

    max_pool2d: Callable[..., None] | None
    """``max_pool2d(x, values, positions, geom)``: 2-D max pooling with the position of each
    maximum. ``geom`` is 13 ints ``(planes, h, w, oh, ow, kh, kw, sh, sw, ph, pw, dh, dw)``; the
    compact ``x`` is seen as ``(planes, h, w)``, ``values`` (x's float dtype) and ``positions``
    (int64) as ``(planes, oh, ow)``. Window ``(y, x)`` holds the elements at rows ``y * sh - ph +
    i * dh`` and columns ``x * sw - pw + j * dw`` (``i < kh``, ``j < kw``) that lie in the plane
    (the rest is padding, -inf). ``values`` gets its maximum and ``positions`` the flat index
    ``row * w + column`` of the first maximum in row-major window order -- or of its first NaN,
    if it holds one (NaN is the maximum) -- and -inf / -1 for a window of padding only. Sizes >=
    0, kernel, stride, dilation >= 1, padding >= 0, planes (``h * w``) of fewer than 2**31
    elements and buffer sizes: ValueError; dtypes: TypeError; checked before anything is
    written."""

    max_pool2d_backward: Callable[..., None] | None
    """``max_pool2d_backward(g, positions, gx, geom)``: the gradient of ``max_pool2d``'s input:
    ``gx`` (``(planes, h, w)``) is zero except that each ``g[p, y, x]`` is added at
    ``positions[p, y, x]`` of plane ``p`` (windows that chose the same element add up; -1 adds
    nothing). Geometry, sizes and dtypes as for ``max_pool2d``; a position outside ``[-1, h *
    w)`` is an IndexError; all checked before anything is written."""

    layer_norm_rows: Callable[..., None] | None
    """``layer_norm_rows(a, xhat, rstd, rows, cols, eps)``: each row of the compact ``a`` seen as
    ``(rows, cols)`` standardised: ``xhat[r, j] = (a[r, j] - mean_r) * rstd[r]`` with ``rstd[r] =
    1 / sqrt(var_r + eps)``, ``mean_r`` and the biased ``var_r`` over the row. ``a``, ``xhat``
    (``rows * cols`` elements) and ``rstd`` (``rows``) share a dtype, float32 or float64
    (TypeError otherwise; ValueError for other sizes). ``NDArray.layer_norm_rows`` calls it
    instead of eight array passes."""

    layer_norm_rows_backward: Callable[..., None] | None
    """``layer_norm_rows_backward(xhat, rstd, h, out, rows, cols)``: the gradient of the input of
    ``layer_norm_rows`` from its results and ``h`` (the gradient of ``xhat``), row by row:
    ``out[r, j] = rstd[r] * (h[r, j] - mean_r(h) - xhat[r, j] * mean_r(h * xhat))``. Buffers
    checked as for ``layer_norm_rows``."""


class Pointer(tuple):
    """A pointer argument of a lowered native call (see ``Backend.lower_call``): byte ``offset``
    into the buffer that was argument ``arg`` of the interface call."""

    __slots__ = ()

    @property
    def arg(self) -> int:
        return int(self[0])

    @property
    def offset(self) -> int:
        return int(self[1])


def interface_functions() -> list[str]:
    """The full list of function names a backend must define (used by the tests)."""
    names = ["alloc", "from_numpy", "to_numpy", "fill", "compact", "ewise_setitem", "scalar_setitem",
             "cast", "where", "matmul", "gather", "scatter"]
    names += [f"scatter_{op}" for op in SCATTER_OPS]
    names += [f"ewise_{op}" for op in BINARY_OPS]
    names += [f"scalar_{op}" for op in BINARY_OPS]
    names += [f"scalar_r{op}" for op in REVERSED_SCALAR_OPS]
    names += [f"ewise_{fn}" for fn in UNARY_OPS + UNARY_OPS_BITWISE]
    names += [f"{kind}{op}" for op in MORE_BINARY_OPS for kind in ("ewise_", "scalar_", "scalar_r")]
    names += [f"reduce_{op}" for op in REDUCE_OPS]
    return names


#: The optional fast paths (see "optional fast paths" in :class:`Backend`).
OPTIONAL_FUNCTIONS = ("matmul_strided", "reduce_axis_sum", "reduce_axis_max", "reduce_axis_min", "adam_step",
                      "call_fused", "fold_windows", "ewise_strided", "softmax_rows", "softmax_rows_backward",
                      "gelu", "gelu_backward", "conv2d", "conv2d_backward_input", "conv2d_backward_weight",
                      "max_pool2d", "max_pool2d_backward", "layer_norm_rows", "layer_norm_rows_backward",
                      "cross_entropy_rows", "cross_entropy_rows_backward", "lower_call", "buffer_address")


def optional_functions() -> list[str]:
    """The names every backend defines as a function or as ``None`` (used by the tests)."""
    return list(OPTIONAL_FUNCTIONS)


def prod(shape: Iterable[int]) -> int:
    """The number of elements of ``shape`` (1 for the empty shape)."""
    n = 1
    for s in shape:
        n *= s
    return n


def softmax_options(name: str, scale: Any, causal: Any = 0) -> tuple[float, int]:
    """The checked ``(scale, causal)`` of ``softmax_rows[_backward]`` (the backend function
    ``name``): ``scale`` a real number (TypeError for anything else: a bool, a string, a complex
    number), ``causal`` an int >= 0 (ValueError)."""
    if isinstance(scale, bool) or not isinstance(scale, numbers.Real):
        raise TypeError(f"{name}: scale must be a real number, got {scale!r}")
    causal = operator.index(causal)
    if causal < 0:
        raise ValueError(f"{name}: causal must be >= 0 (rows per matrix, 0 for none), got {causal}")
    return float(scale), causal
