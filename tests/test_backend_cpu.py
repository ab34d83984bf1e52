"""The C backend (device "cpu") against the numpy reference backend, kernel by kernel.

Every function of the backend interface is called on both backends with identical inputs
(random data, odd and empty sizes, sizes above the OpenMP threshold, NaN/inf) and the
results are compared: exactly where both compute the same correctly rounded IEEE
operation, within a few ulps where they call different libm/SIMD code (exp, pow, ...) or
add in a different order (sum, matmul).

Bad input must give a clean Python exception. Those tests run in a subprocess, so that a
kernel that crashes fails the test instead of killing pytest.
"""

from __future__ import annotations

import gc
import math
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from adam_reference import adam_reference
from hypothesis import given, settings
from hypothesis import strategies as hs

from tinytorch.ndarray import backend_numpy as ref
from tinytorch.ndarray import interface
from tinytorch.ndarray.devices import unavailable_reason

if unavailable_reason("cpu"):
    pytest.skip(f"the C backend is not available: {unavailable_reason('cpu')}", allow_module_level=True)

import tinytorch.backend_cpu as cpu  # noqa: E402

DTYPES = [np.float32, np.float64, np.int64, np.bool_]
DTYPE_IDS = ["float32", "float64", "int64", "bool"]
# empty, one element, odd, and above the OpenMP threshold (tt_par_min: at most 2^21 elements,
# see THRESHOLDS_SLEEPING in backend_cpu/__init__.py) so that the threaded path runs
BIG = (1 << 21) + 3
SIZES = [0, 1, 7, 1001, BIG]
ARITH = (np.float32, np.float64, np.int64)

# the functions the tests below cover; test_every_interface_function_is_covered keeps it honest
COVERED: set[str] = {"alloc", "from_numpy", "to_numpy", "fill", "compact", "ewise_setitem", "scalar_setitem",
                     "cast", "where", "matmul", "gather", "scatter", "scatter_add", "matmul_strided",
                     "scatter_mul", "scatter_max", "scatter_min",
                     "reduce_axis_sum", "reduce_axis_max", "reduce_axis_min", "adam_step", "fold_windows",
                     "ewise_strided", "softmax_rows", "softmax_rows_backward", "gelu", "gelu_backward",
                     # these are tested in test_backend_interface.py
                     "conv2d", "conv2d_backward_input", "conv2d_backward_weight", "max_pool2d",
                     "max_pool2d_backward", "layer_norm_rows", "layer_norm_rows_backward", "cross_entropy_rows",
                     "cross_entropy_rows_backward"}
COVERED |= {f"ewise_{op}" for op in interface.BINARY_OPS} | {f"scalar_{op}" for op in interface.BINARY_OPS}
COVERED |= {f"scalar_r{op}" for op in interface.REVERSED_SCALAR_OPS}
COVERED |= {f"ewise_{fn}" for fn in interface.UNARY_OPS} | {f"reduce_{op}" for op in interface.REDUCE_OPS}


def test_every_interface_function_is_covered():
    names = set(interface.interface_functions())
    assert names <= COVERED, f"not tested: {sorted(names - COVERED)}"
    missing = [n for n in names if not callable(getattr(cpu, n, None))]
    assert not missing, f"the cpu backend lacks {missing}"


# --- helpers -----------------------------------------------------------------------------------
def data(rng, n, dtype, kind="normal"):
    """n random values of dtype; kind picks a range that suits the op."""
    dtype = np.dtype(dtype)
    if dtype == np.bool_:
        return rng.random(n) < 0.5
    if dtype == np.int64:
        lo, hi = {"normal": (-50, 50), "positive": (1, 10), "exponent": (0, 6)}[kind]
        return rng.integers(lo, hi, n, dtype=np.int64)
    x = {"normal": lambda: rng.standard_normal(n) * 3, "positive": lambda: rng.random(n) * 4 + 0.1,
         "exponent": lambda: rng.random(n) * 4 - 2}[kind]()
    return x.astype(dtype)


def with_specials(x):
    """A copy of x with NaN, +inf, -inf and -0.0 spread through it (float arrays of 4 or more)."""
    if x.dtype.kind == "f" and x.size >= 4:
        x = x.copy()
        x[np.arange(4) * (x.size // 4)] = [np.nan, np.inf, -np.inf, -0.0]
    return x


def both(x):
    """The numpy array x as a buffer on each backend: (numpy backend, cpu backend)."""
    return ref.from_numpy(x), cpu.from_numpy(x)


def out_pair(n, dtype):
    return ref.alloc(n, _dt(dtype)), cpu.alloc(n, _dt(dtype))


def _dt(dtype):
    from tinytorch.ndarray.dtypes import from_numpy_dtype
    return from_numpy_dtype(np.dtype(dtype))


def result(buf):
    return cpu.to_numpy(buf, (buf.size,), (1,), 0)


def assert_same(got, want, rtol=0.0):
    """Equal, NaN where the reference has NaN; within rtol (relative, float only) if given."""
    assert got.dtype == want.dtype, (got.dtype, want.dtype)
    if rtol and got.dtype.kind == "f":
        np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol * 1e-3, equal_nan=True)
    else:
        np.testing.assert_array_equal(got, want)


def ulps(dtype):
    return {np.dtype(np.float32): 4e-6, np.dtype(np.float64): 1e-13}.get(np.dtype(dtype), 0.0)


# --- memory -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("n", SIZES)
def test_alloc_from_numpy_to_numpy(rng, dtype, n):
    x = data(rng, n, dtype)
    buf = cpu.from_numpy(x)
    assert buf.size == n and buf.dtype == np.dtype(dtype)
    back = cpu.to_numpy(buf, (n,), (1,), 0)
    assert_same(back, x)
    back[...] = 0  # a copy: writing it leaves the buffer alone
    assert_same(cpu.to_numpy(buf, (n,), (1,), 0), x)
    empty = cpu.alloc(n, _dt(dtype))
    assert empty.size == n and empty.dtype == np.dtype(dtype)


def test_large_buffers_are_cache_line_aligned():
    for dtype in DTYPES:
        assert cpu.alloc(100_000, _dt(dtype)).ptr % 64 == 0


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("value", [0, 1, -3, 2.75, True, np.float64(-1.5), np.int64(7), np.array(4.0)])
def test_fill(dtype, value):
    (r, c) = out_pair(BIG, dtype)
    ref.fill(r, value)
    cpu.fill(c, value)
    assert_same(result(c), r)


# --- strided views --------------------------------------------------------------------------------
# (buffer size, shape, strides, offset): transposes, broadcasts, flips, steps, offsets, 0-d, empty
VIEWS = [
    (12, (3, 4), (4, 1), 0),
    (12, (4, 3), (1, 4), 0),
    (12, (2, 3, 2), (6, 1, 3), 0),
    (5, (3, 5), (0, 1), 0),
    (5, (5, 3), (1, 0), 0),
    (1, (4, 1, 3), (0, 7, 0), 0),
    (10, (10,), (-1,), 9),
    (20, (2, 5), (-10, -2), 19),
    (30, (2, 2, 3), (15, 5, 2), 3),
    (7, (), (), 4),
    (7, (0,), (1,), 0),
    (7, (3, 0, 2), (5, 100, -4), 2),
    (240, (2, 3, 4, 5), (120, 40, 10, 2), 0),
    (240, (5, 4, 3, 2), (1, 5, 20, 60), 0),
    (100_000, (250, 200), (1, 250), 0),
    (100_000, (400, 125), (250, 2), 1),
    (2_200_000, (1100, 2000), (1, 1100), 0),  # above the OpenMP threshold: threaded (and tiled)
    (4_400_001, (2000, 1100), (2200, 2), 1),
    (1, (300, 300), (0, 0), 0),
]


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("view", VIEWS, ids=[str(v[1:]) for v in VIEWS])
def test_compact_and_to_numpy(rng, dtype, view):
    size, shape, strides, offset = view
    x = data(rng, size, dtype)
    (ra, ca), (ro, co) = both(x), out_pair(interface.prod(shape), dtype)
    ref.compact(ra, ro, shape, strides, offset)
    cpu.compact(ca, co, shape, strides, offset)
    assert_same(result(co), ro)
    assert_same(cpu.to_numpy(ca, shape, strides, offset), ref.to_numpy(ra, shape, strides, offset))


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("view", [v for v in VIEWS if 0 not in v[2] or interface.prod(v[1]) <= 1],
                         ids=lambda v: str(v[1:]))
def test_ewise_and_scalar_setitem(rng, dtype, view):
    size, shape, strides, offset = view
    src = data(rng, interface.prod(shape), dtype)
    (ro, co), (rs, cs) = both(data(rng, size, dtype)), both(src)
    ref.ewise_setitem(rs, ro, shape, strides, offset)
    cpu.ewise_setitem(cs, co, shape, strides, offset)
    assert_same(result(co), ro)
    ref.scalar_setitem(5, ro, shape, strides, offset)
    cpu.scalar_setitem(5, co, shape, strides, offset)
    assert_same(result(co), ro)


@settings(max_examples=200, deadline=None)
@given(hs.data())
def test_compact_and_setitem_random_views(draw):
    """Any in-bounds view (random shape, signed strides, offset) copies as numpy's does."""
    ndim = draw.draw(hs.integers(0, 4))
    shape = tuple(draw.draw(hs.lists(hs.integers(0, 5), min_size=ndim, max_size=ndim)))
    strides = tuple(draw.draw(hs.lists(hs.integers(-7, 7), min_size=ndim, max_size=ndim)))
    lo = sum((n - 1) * s for n, s in zip(shape, strides) if s < 0 and n > 0)
    hi = sum((n - 1) * s for n, s in zip(shape, strides) if s > 0 and n > 0)
    offset = -lo + draw.draw(hs.integers(0, 3))
    size = offset + hi + 1 + draw.draw(hs.integers(0, 3))
    x = np.arange(size, dtype=np.float64)
    (ra, ca), (ro, co) = both(x), out_pair(interface.prod(shape), np.float64)
    ref.compact(ra, ro, shape, strides, offset)
    cpu.compact(ca, co, shape, strides, offset)
    assert_same(result(co), ro)
    positions = offset + sum(np.arange(n).reshape((-1,) + (1,) * (ndim - 1 - d)) * s
                             for d, (n, s) in enumerate(zip(shape, strides)))
    if np.unique(positions).size == np.size(positions):  # writing one element twice has no defined winner
        src = -np.arange(interface.prod(shape), dtype=np.float64)
        (rs, cs) = both(src)
        ref.ewise_setitem(rs, ra, shape, strides, offset)
        cpu.ewise_setitem(cs, ca, shape, strides, offset)
        assert_same(result(ca), ra)


def test_compact_and_setitem_on_one_buffer():
    """Reading and writing one buffer behaves as if the source were copied first."""
    x = np.arange(10, dtype=np.float32)
    (r, c) = both(x)
    ref.ewise_setitem(r.copy(), r, (10,), (-1,), 9)
    cpu.ewise_setitem(c, c, (10,), (-1,), 9)
    assert_same(result(c), r)
    (r, c) = both(x)
    ref.compact(r.copy(), r, (10,), (-1,), 9)
    cpu.compact(c, c, (10,), (-1,), 9)
    assert_same(result(c), r)


# --- elementwise ----------------------------------------------------------------------------------
def _binary_inputs(rng, op, dtype, n):
    kind_a = "positive" if op == "pow" else "normal"
    a = data(rng, n, dtype, kind_a)
    b = data(rng, n, dtype, "exponent" if op == "pow" else "normal")
    if op in ("maximum", "minimum") or op in interface.COMPARISON_OPS:
        a, b = with_specials(a), with_specials(b[::-1].copy())
        if n:
            b[: n // 3] = a[: n // 3]  # ties
    if op == "div" and np.dtype(dtype).kind == "f":
        a = with_specials(a)
    return a, b


def _applies(op, dtype):
    dtype = np.dtype(dtype)
    if op in interface.COMPARISON_OPS:
        return True
    if op == "div":
        return dtype.kind == "f"
    return dtype != np.bool_


def _tolerance(op, dtype):
    return ulps(dtype) if op in ("pow",) else 0.0


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("op", interface.BINARY_OPS)
def test_ewise_binary(rng, op, dtype, n):
    a, b = _binary_inputs(rng, op, dtype, n)
    out_dtype = np.bool_ if op in interface.COMPARISON_OPS else dtype
    (ra, ca), (rb, cb), (ro, co) = both(a), both(b), out_pair(n, out_dtype)
    if not _applies(op, dtype):
        with pytest.raises(TypeError):
            getattr(cpu, f"ewise_{op}")(ca, cb, co)
        return
    getattr(ref, f"ewise_{op}")(ra, rb, ro)
    getattr(cpu, f"ewise_{op}")(ca, cb, co)
    assert_same(result(co), ro, _tolerance(op, dtype))


SCALARS = {np.dtype(np.float32): [2.5, -0.1, 0, np.float64(1e-3)], np.dtype(np.float64): [2.5, -1e-7, 3],
           np.dtype(np.int64): [3, -2, 0, np.int64(5)], np.dtype(np.bool_): [True, False]}


@pytest.mark.parametrize("n", [0, 1, 1001, BIG])
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("op", interface.BINARY_OPS)
def test_scalar_binary(rng, op, dtype, n):
    a, _ = _binary_inputs(rng, op, dtype, n)
    out_dtype = np.bool_ if op in interface.COMPARISON_OPS else dtype
    (ra, ca), (ro, co) = both(a), out_pair(n, out_dtype)
    if not _applies(op, dtype):
        with pytest.raises(TypeError):
            getattr(cpu, f"scalar_{op}")(ca, 1, co)
        return
    for s in SCALARS[np.dtype(dtype)]:
        if op == "pow" and np.dtype(dtype) == np.int64 and s < 0:
            continue
        getattr(ref, f"scalar_{op}")(ra, s, ro)
        getattr(cpu, f"scalar_{op}")(ca, s, co)
        assert_same(result(co), ro, _tolerance(op, dtype))


@pytest.mark.parametrize("n", [0, 1, 1001, BIG])
@pytest.mark.parametrize("dtype", ARITH, ids=DTYPE_IDS[:3])
@pytest.mark.parametrize("op", interface.REVERSED_SCALAR_OPS)
def test_scalar_reversed(rng, op, dtype, n):
    a = data(rng, n, dtype, "exponent" if op == "pow" else "positive")
    (ra, ca), (ro, co) = both(a), out_pair(n, dtype)
    if not _applies(op, dtype):
        with pytest.raises(TypeError):
            getattr(cpu, f"scalar_r{op}")(ca, 2, co)
        return
    for s in (2, 0.5, 3) if np.dtype(dtype).kind == "f" else (2, -3, 0):
        getattr(ref, f"scalar_r{op}")(ra, s, ro)
        getattr(cpu, f"scalar_r{op}")(ca, s, co)
        assert_same(result(co), ro, _tolerance(op, dtype))


def test_integer_arithmetic_wraps_like_numpy():
    big = np.array([2**62, -(2**63), 2**63 - 1, 3], dtype=np.int64)
    (ra, ca), (ro, co) = both(big), out_pair(4, np.int64)
    for op in ("add", "sub", "mul", "pow"):
        getattr(ref, f"scalar_{op}")(ra, 3, ro)
        getattr(cpu, f"scalar_{op}")(ca, 3, co)
        assert_same(result(co), ro)
    for fn in ("neg", "abs"):
        getattr(ref, f"ewise_{fn}")(ra, ro)
        getattr(cpu, f"ewise_{fn}")(ca, co)
        assert_same(result(co), ro)


def _unary_input(rng, fn, dtype, n):
    kind = "positive" if fn in ("log", "sqrt") else "normal"
    x = data(rng, n, dtype, kind)
    if np.dtype(dtype).kind == "f":
        x = with_specials(x)
        if fn == "sigmoid" and n > 10:
            x[-4:] = [-1000, 1000, -89, 89]  # exp(-x) overflows in the naive formula
    return x


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("fn", interface.UNARY_OPS)
def test_ewise_unary(rng, fn, dtype, n):
    x = _unary_input(rng, fn, dtype, n)
    (ra, ca), (ro, co) = both(x), out_pair(n, dtype)
    if np.dtype(dtype) == np.bool_ or (fn in interface.UNARY_OPS_FLOAT and np.dtype(dtype).kind != "f"):
        with pytest.raises(TypeError):
            getattr(cpu, f"ewise_{fn}")(ca, co)
        return
    getattr(ref, f"ewise_{fn}")(ra, ro)
    getattr(cpu, f"ewise_{fn}")(ca, co)
    exact = fn in interface.UNARY_OPS_ANY or fn == "sqrt"
    assert_same(result(co), ro, 0.0 if exact else ulps(dtype))


def test_sigmoid_keeps_precision_where_exp_of_minus_x_overflows():
    """1/(1+exp(-x)) gives 0 once exp(-x) overflows (x < -88 in float32); the stable form
    still gives the tiny true value."""
    x = np.array([-89.0, -92.0, -95.0, 95.0], np.float32)
    out = cpu.alloc(4, _dt(np.float32))
    cpu.ewise_sigmoid(cpu.from_numpy(x), out)
    want = (1 / (1 + np.exp(-x.astype(np.float64)))).astype(np.float32)
    np.testing.assert_allclose(result(out), want, rtol=1e-2)
    assert np.all(result(out)[:3] > 0)


# The vectorized float32 functions of vmath.h and the error bounds it states, in ulps of the
# float32 result, against the exact value (computed in float64).
VMATH_ULPS = {"exp": 1.0, "log": 1.0, "tanh": 2.5, "sigmoid": 2.5, "erf": 2.5}


def _float64_reference(fn, x):
    with np.errstate(all="ignore"):  # signalling NaNs among the bit patterns warn when converted
        x = x.astype(np.float64)
        if fn == "sigmoid":
            return 1 / (1 + np.exp(-x))
        if fn == "erf":
            import math
            return np.array([math.erf(v) if np.isfinite(v) else np.sign(v) if not np.isnan(v) else v for v in x])
        return getattr(np, fn)(x)


def _ulp_errors(got, want):
    """|got - want| in ulps of the float32 nearest to want (denormal spacing 2^-149 at most)."""
    with np.errstate(invalid="ignore", over="ignore"):  # inf - inf: such entries are compared exactly
        spacing = np.spacing(np.abs(want.astype(np.float32))).astype(np.float64)
        return np.abs(got.astype(np.float64) - want) / np.maximum(spacing, 2.0**-149)


def _vmath_run(fn, x):
    """ewise_<fn> of the float32 array x, with the exact value (float64) and its float32
    rounding; NaN must come out exactly where the rounded exact value is NaN."""
    out = cpu.alloc(x.size, _dt(np.float32))
    getattr(cpu, f"ewise_{fn}")(cpu.from_numpy(x), out)
    got, want = result(out), _float64_reference(fn, x)
    with np.errstate(over="ignore"):
        want32 = want.astype(np.float32)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want32))
    return got, want, want32


@pytest.mark.parametrize("fn", VMATH_ULPS)
def test_float32_math_accuracy(fn):
    """Every 997th float32 bit pattern (all signs and exponents, denormals included; 4.3M values,
    430K for erf whose reference is slow) is within the stated ulps of the exact value."""
    step = 9973 if fn == "erf" else 997
    x = np.arange(0, 2**32, step, dtype=np.uint64).astype(np.uint32).view(np.float32)
    got, want, want32 = _vmath_run(fn, x)
    finite = np.isfinite(want32)
    np.testing.assert_array_equal(got[~finite & ~np.isnan(want32)], want32[~finite & ~np.isnan(want32)])
    err = _ulp_errors(got[finite], want[finite])
    worst = int(np.argmax(err))
    assert err[worst] <= VMATH_ULPS[fn], f"{fn}({x[finite][worst]!r}) = {got[finite][worst]!r}: {err[worst]:.2f} ulp"


@pytest.mark.parametrize("fn", VMATH_ULPS)
def test_float32_math_special_values(fn):
    """IEEE limits, signed zeros, the edges of each formula's range (overflow, the denormals,
    the cut between two pieces), as numpy computes them in float64 and rounds."""
    x = np.array([np.nan, -np.nan, np.inf, -np.inf, 0.0, -0.0, 1.0, -1.0, 2.0**-149, -(2.0**-149), 2.0**-126,
                  1e-30, -1e-30, 3.4028235e38, -3.4028235e38, 88.72, 88.7228, 88.73, 89.0, -87.33, -103.9,
                  -103.98, -104.0, -150.0, 8.99, 9.0, 9.01, -9.0, 0.99999994, 1.0000001, 3.999, 4.0, 4.01, 0.5,
                  0.6931472, 1.4142135, 0.70710677, 20.0, -20.0], np.float32)
    got, want, want32 = _vmath_run(fn, x)
    same = ~np.isnan(want32)
    close = _ulp_errors(got[same], want[same]) <= VMATH_ULPS[fn]
    assert np.all(close | (got[same] == want32[same])), list(zip(x[same][~close], got[same][~close]))
    zeros = same & (want32 == 0)
    np.testing.assert_array_equal(np.signbit(got[zeros]), np.signbit(want32[zeros]))


@pytest.mark.parametrize("src", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("dst", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("n", [0, 1, 1001, BIG])
def test_cast(rng, src, dst, n):
    x = data(rng, n, src)
    if np.dtype(src).kind == "f":
        x = x * 1e3 + 0.5
        if n > 4:
            x[:4] = [-0.0, 2.9999, -2.9999, 1e-30]
            if dst == np.bool_:
                x[4:7] = [np.nan, np.inf, -np.inf][: n - 4]
    (ra, ca), (ro, co) = both(x), out_pair(n, dst)
    ref.cast(ra, ro)
    cpu.cast(ca, co)
    assert_same(result(co), ro)


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("n", SIZES)
def test_where(rng, dtype, n):
    cond = rng.random(n) < 0.3
    (rc, cc), (ra, ca), (rb, cb), (ro, co) = both(cond), both(data(rng, n, dtype)), both(data(rng, n, dtype)), \
        out_pair(n, dtype)
    ref.where(rc, ra, rb, ro)
    cpu.where(cc, ca, cb, co)
    assert_same(result(co), ro)


# --- reductions --------------------------------------------------------------------------------------
# (rows, reduce_size): empty, single, odd, many short rows, few long rows (threaded both ways)
REDUCE_SHAPES = [(0, 5), (1, 1), (3, 7), (1, 4096), (50_000, 3), (10_000, 10), (2, 100_003), (1, 1_000_003),
                 (7, 9000), (33, 2048), (700_001, 3), (1, BIG), (2, BIG // 2)]


@pytest.mark.parametrize("shape", REDUCE_SHAPES, ids=str)
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("op", interface.REDUCE_OPS)
def test_reduce(rng, op, dtype, shape):
    rows, k = shape
    x = data(rng, rows * k, dtype)
    if np.dtype(dtype) == np.int64 and op == "sum":
        x = x * 1000
    (ra, ca) = both(x)
    out_dtype = np.int64 if op.startswith("arg") else dtype
    (ro, co) = out_pair(rows, out_dtype)
    if op == "sum" and np.dtype(dtype) == np.bool_:
        with pytest.raises(TypeError):
            cpu.reduce_sum(ca, co, k)
        return
    getattr(ref, f"reduce_{op}")(ra, ro, k)
    getattr(cpu, f"reduce_{op}")(ca, co, k)
    if op == "sum" and np.dtype(dtype).kind == "f":
        assert_sum_close(result(co), ro, x.reshape(rows, k))
    else:
        assert_same(result(co), ro)


def assert_sum_close(got, want, rows):
    """Float sums: numpy adds pairwise in the element type, the C backend in blocks (float32
    in double), so they differ by rounding error, which is relative to the sum of |x|."""
    assert got.dtype == want.dtype
    finite = np.isfinite(want)
    np.testing.assert_array_equal(got[~finite], want[~finite])
    scale = np.abs(rows[finite].astype(np.float64)).sum(axis=1)
    tol = 2e-6 if got.dtype == np.float32 else 1e-13
    assert np.all(np.abs(got[finite].astype(np.float64) - want[finite]) <= tol * scale + 1e-30)


@pytest.mark.parametrize("shape", [(1, 1, 1), (1, 5, 3), (2, 7, 300), (1, 4096, 1024), (3, 0, 5), (70, 3, 600),
                                   (1, 20_000, 4), (5, 1, 257), (3, 1000, 1100), (1, 2100, 1000)], ids=str)
@pytest.mark.parametrize("dtype", ARITH, ids=DTYPE_IDS[:3])
@pytest.mark.parametrize("op", ["sum", "max", "min"])
def test_reduce_axis(rng, op, dtype, shape):
    """reduce_axis_<op> (outer, n, inner) -> (outer, inner) equals numpy over axis 1, NaN and inf included."""
    outer, n, inner = shape
    if op != "sum" and n == 0:
        return
    x = with_specials(data(rng, outer * n * inner, dtype)) if outer * n * inner > 40 else data(rng, outer * n * inner,
                                                                                                dtype)
    out = cpu.alloc(outer * inner, _dt(dtype))
    getattr(cpu, f"reduce_axis_{op}")(cpu.from_numpy(x), out, n, inner)
    with np.errstate(invalid="ignore"):
        want = getattr(np, op)(x.reshape(outer, n, inner), axis=1).reshape(-1)
    if op == "sum" and np.dtype(dtype).kind == "f":
        assert_sum_close(result(out), want, x.reshape(outer, n, inner).transpose(0, 2, 1).reshape(outer * inner, n))
    else:
        assert_same(result(out), want)


def test_reduce_axis_checks_sizes():
    f = lambda n: cpu.from_numpy(np.ones(n, np.float32))  # noqa: E731
    with pytest.raises(ValueError):
        cpu.reduce_axis_sum(f(12), f(4), 4, 2)  # 12 != 4 * 4
    with pytest.raises(ValueError):
        cpu.reduce_axis_sum(f(12), f(4), 3, 3)  # out (4) is not a whole number of rows of 3
    with pytest.raises(ValueError):
        cpu.reduce_axis_max(f(0), f(4), 0, 2)  # max over nothing
    with pytest.raises(TypeError):
        cpu.reduce_axis_sum(f(12), cpu.from_numpy(np.ones(4)), 3, 2)
    with pytest.raises(TypeError):
        cpu.reduce_axis_max(cpu.from_numpy(np.ones(12, bool)), cpu.from_numpy(np.ones(4, bool)), 3, 2)


@pytest.mark.parametrize("n", [8191, 8192, 8195, 10001])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64], ids=DTYPE_IDS[:3])
def test_max_min_of_long_rows_find_the_extreme_in_every_quarter_and_the_tail(rng, n, dtype):
    """Rows of 8192+ elements are reduced as four interleaved quarters plus a tail: the extreme
    (and a NaN) must be found wherever it is, and argmax/argmin must give its first index."""
    q = n // 4
    for pos in (0, q - 1, q, 2 * q + 3, 3 * q, 4 * q - 1, n - 1):
        x = data(rng, n, dtype, "positive")
        for op, arg, value in (("max", "argmax", 100), ("min", "argmin", -100)):
            y = x.copy()
            y[pos] = value
            out, idx = cpu.alloc(1, _dt(dtype)), cpu.alloc(1, _dt(np.int64))
            getattr(cpu, f"reduce_{op}")(cpu.from_numpy(y), out, n)
            getattr(cpu, f"reduce_{arg}")(cpu.from_numpy(y), idx, n)
            assert result(out)[0] == value and result(idx)[0] == pos, (op, pos)
        if np.dtype(dtype).kind == "f":
            y = x.copy()
            y[pos] = np.nan
            out = cpu.alloc(1, _dt(dtype))
            cpu.reduce_min(cpu.from_numpy(y), out, n)
            assert np.isnan(result(out)[0]), pos


def test_reduce_sum_over_empty_axis_writes_zeros():
    for dtype in ARITH:
        co = cpu.alloc(6, _dt(dtype))
        cpu.reduce_sum(cpu.alloc(0, _dt(dtype)), co, 0)
        assert_same(result(co), np.zeros(6, dtype))


@pytest.mark.parametrize("shape", [(4, 5), (3, BIG // 3 + 1), (1, 1_000_003), (20_000, 4), (600_001, 4)], ids=str)
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=DTYPE_IDS[:2])
@pytest.mark.parametrize("op", ["max", "min", "argmax", "argmin", "sum"])
def test_reduce_nan_propagates(rng, op, dtype, shape):
    """NaN wins max/min, argmax/argmin return the first NaN's index, inf stays inf (like numpy)."""
    rows, k = shape
    x = data(rng, rows * k, dtype).reshape(rows, k)
    x[0, k // 2] = np.nan
    x[0, k - 1] = np.nan
    x[-1, 0] = np.inf
    x[-1, k // 3] = -np.inf
    (ra, ca) = both(x.reshape(-1))
    (ro, co) = out_pair(rows, np.int64 if op.startswith("arg") else dtype)
    getattr(ref, f"reduce_{op}")(ra, ro, k)
    getattr(cpu, f"reduce_{op}")(ca, co, k)
    if op == "sum":
        assert_sum_close(result(co), ro, x)
    else:
        assert_same(result(co), ro)


def test_argmax_first_of_ties():
    x = np.array([1, 3, 3, 0, 3, -1, -1, 2], dtype=np.float32)
    out = cpu.alloc(2, _dt(np.int64))
    cpu.reduce_argmax(cpu.from_numpy(x), out, 4)
    assert result(out).tolist() == [1, 0]
    cpu.reduce_argmin(cpu.from_numpy(x), out, 4)
    assert result(out).tolist() == [3, 1]


@pytest.fixture
def pool():
    """The CPU backend's buffer pool, emptied before and after the test (and no stray garbage
    collection adding buffers to it in between)."""
    gc.collect()
    gc.disable()
    cpu.empty_cache()
    yield cpu._pool
    cpu.empty_cache()
    gc.enable()


F32 = cpu.F32
MIB_F32 = (1 << 20) // 4  # the float32 elements of 1 MiB


def test_freed_large_buffers_memory_is_reused(pool):
    n = 1 << 16  # 256 KiB of float32
    b = cpu.alloc(n, _dt(np.float32))
    ptr = b.ptr
    del b
    assert pool.held() == [(F32, n)]
    c = cpu.alloc(n, _dt(np.float32))
    assert c.ptr == ptr and pool.held() == []  # the same memory, out of the pool
    d = cpu.alloc(n, _dt(np.float32))
    assert d.ptr != ptr  # nothing left to reuse: fresh memory
    del c
    other = cpu.alloc(n, _dt(np.float64)), cpu.alloc(n + 1, _dt(np.float32))
    assert ptr not in [o.ptr for o in other]  # another (dtype, size) never gets it
    assert pool.held() == [(F32, n)]


def test_small_buffers_are_not_pooled(pool):
    for nbytes in (4, 4096, (64 << 10) - 4):  # numpy's memory, aligned memory, just below the pool's minimum
        b = cpu.alloc(nbytes // 4, _dt(np.float32))
        del b
        assert pool.held() == [], nbytes


def test_values_are_never_shared_between_live_buffers(pool):
    n = 1 << 16
    a, b = cpu.alloc(n, _dt(np.float32)), cpu.alloc(n, _dt(np.float32))
    cpu.fill(a, 1.0)
    cpu.fill(b, 2.0)
    copy = cpu.to_numpy(b, (n,), (1,), 0)
    del b
    c = cpu.alloc(n, _dt(np.float32))  # b's memory
    cpu.fill(c, 3.0)
    assert np.all(copy == 2.0)  # what to_numpy returned is a copy, untouched by the reuse
    assert np.all(cpu.to_numpy(a, (n,), (1,), 0) == 1.0)
    assert np.all(cpu.to_numpy(c, (n,), (1,), 0) == 3.0)
    assert not hasattr(c, "array")  # the memory itself is never handed out


def test_pool_keeps_at_most_its_limit_evicting_the_least_recently_freed(pool):
    size = pool.LIMIT // 16 - MIB_F32  # float32 elements: a quarter of the limit less 1 MiB; four fit, five do not
    bufs = [cpu.alloc(size + k, _dt(np.float32)) for k in range(6)]
    for k in range(6):
        bufs[k] = None  # free them in order 0, 1, ..., 5
        assert pool.nbytes <= pool.LIMIT
    assert pool.held() == [(F32, size + k) for k in (2, 3, 4, 5)]
    taken = cpu.alloc(size + 3, _dt(np.float32))  # taking one out leaves the order of the rest alone
    assert pool.held() == [(F32, size + k) for k in (2, 4, 5)]
    big = cpu.alloc(pool.LIMIT // 4 + 1, _dt(np.float32))
    del big  # larger than the whole pool: never kept, and nothing evicted for it
    assert pool.held() == [(F32, size + k) for k in (2, 4, 5)]
    del taken  # freed last: evicted last
    assert pool.held() == [(F32, size + k) for k in (2, 4, 5, 3)]
    cpu.empty_cache()
    assert pool.held() == [] and pool.nbytes == 0


def test_pool_keeps_at_most_a_few_buffers_per_size(pool):
    n = 1 << 16
    bufs = [cpu.alloc(n, _dt(np.float32)) for _ in range(pool.PER_KEY + 3)]
    ptrs = [b.ptr for b in bufs]
    for k in range(len(bufs)):
        bufs[k] = None  # free them in order
    assert pool.held() == [(F32, n)] * pool.PER_KEY
    again = [cpu.alloc(n, _dt(np.float32)) for _ in range(pool.PER_KEY)]  # the most recently freed first
    assert [b.ptr for b in again] == ptrs[3:][::-1]


# --- matmul ---------------------------------------------------------------------------------------------
MATMUL_SHAPES = [(1, 1, 1, 1), (1, 17, 33, 9), (3, 4, 5, 6), (2, 1, 64, 1), (1, 0, 3, 4), (2, 3, 0, 4),
                 (1, 65, 128, 70), (5, 31, 7, 63), (1, 200, 150, 100)]


@pytest.mark.parametrize("dtype", ARITH, ids=DTYPE_IDS[:3])
@pytest.mark.parametrize("bmnp", MATMUL_SHAPES, ids=str)
def test_matmul(rng, dtype, bmnp):
    batch, m, n, p = bmnp
    a, b = data(rng, batch * m * n, dtype), data(rng, batch * n * p, dtype)
    (ra, ca), (rb, cb), (ro, co) = both(a), both(b), out_pair(batch * m * p, dtype)
    ref.matmul(ra, rb, ro, m, n, p, batch)
    cpu.matmul(ca, cb, co, m, n, p, batch)
    rtol = {np.dtype(np.float32): 1e-5, np.dtype(np.float64): 1e-12}.get(np.dtype(dtype), 0.0)
    np.testing.assert_allclose(result(co), ro, rtol=rtol, atol=rtol * np.sqrt(n + 1) * 10)
    # the naive triple loop is the reference of the fast one
    naive = cpu.alloc(batch * m * p, _dt(dtype))
    cpu.matmul_naive(ca, cb, naive, m, n, p, batch)
    np.testing.assert_allclose(result(co), result(naive), rtol=rtol, atol=rtol * np.sqrt(n + 1) * 10)


def test_matmul_integers_are_exact():
    rng = np.random.default_rng(1)
    a, b = rng.integers(-1000, 1000, (3, 40, 50)), rng.integers(-1000, 1000, (3, 50, 30))
    out = cpu.alloc(3 * 40 * 30, _dt(np.int64))
    cpu.matmul(cpu.from_numpy(a), cpu.from_numpy(b), out, 40, 50, 30, 3)
    assert_same(result(out), (a @ b).reshape(-1))


def test_matmul_out_aliasing_an_input():
    x = np.arange(9, dtype=np.float64).reshape(3, 3)
    c = cpu.from_numpy(x)
    cpu.matmul(c, c, c, 3, 3, 3, 1)
    np.testing.assert_allclose(result(c).reshape(3, 3), x @ x)


# The shapes cross every block edge of matmul_steps.h (micro-tile MR = 6 rows x NR = 16 (f32) or
# 8 (f64) columns; blocks KC = 256, MC = 72, NC = 3072), take both ways of reading a (packed, and
# in place when p <= 4 NR: convolution-like products), and include empty products.
STEP_SHAPES = [(1, 1, 1, 1), (2, 7, 5, 3), (3, 13, 40, 17), (1, 73, 257, 35), (1, 5, 300, 3100),
               (2, 3, 0, 4), (1, 0, 3, 4), (4, 6, 513, 16), (1, 100, 9, 16), (1, 77, 144, 33), (2, 151, 300, 64),
               (1, 150, 30, 65)]
FLOATS = (np.float32, np.float64)


def _matmul_check(got, a, b, dtype, n):
    """got vs a @ b computed in float64, within float32/float64 rounding of an n-term sum."""
    want = (a.astype(np.float64) @ b.astype(np.float64)).reshape(-1)
    rtol = 1e-5 if np.dtype(dtype) == np.float32 else 1e-12
    np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol * np.sqrt(n + 1) * 10)


@pytest.mark.parametrize("step", cpu.MATMUL_STEPS)
@pytest.mark.parametrize("dtype", FLOATS, ids=DTYPE_IDS[:2])
@pytest.mark.parametrize("bmnp", STEP_SHAPES, ids=str)
def test_matmul_steps(rng, step, dtype, bmnp):
    """Every optimization step the book times computes the same product as numpy and matmul_naive."""
    batch, m, n, p = bmnp
    a, b = data(rng, batch * m * n, dtype), data(rng, batch * n * p, dtype)
    out, naive = cpu.alloc(batch * m * p, _dt(dtype)), cpu.alloc(batch * m * p, _dt(dtype))
    cpu.fill(out, np.nan)  # every element must be written, also for n == 0
    cpu.matmul_step(step, cpu.from_numpy(a), cpu.from_numpy(b), out, m, n, p, batch)
    _matmul_check(result(out), a.reshape(batch, m, n), b.reshape(batch, n, p), dtype, n)
    cpu.matmul_naive(cpu.from_numpy(a), cpu.from_numpy(b), naive, m, n, p, batch)
    np.testing.assert_allclose(result(out), result(naive), rtol=1e-4 if dtype == np.float32 else 1e-11,
                               atol=1e-4 * np.sqrt(n + 1))


def test_matmul_step_names_and_dtypes():
    assert cpu.MATMUL_STEPS == ("naive", "reordered", "blocked", "packed", "threads")
    f, i = cpu.from_numpy(np.ones(4, np.float32)), cpu.from_numpy(np.ones(4, np.int64))
    with pytest.raises(ValueError, match="unknown matmul step"):
        cpu.matmul_step("fastest", f, f, cpu.alloc(4, _dt(np.float32)), 2, 2, 2, 1)
    with pytest.raises(TypeError, match="float32 or float64"):
        cpu.matmul_step("packed", i, i, cpu.alloc(4, _dt(np.int64)), 2, 2, 2, 1)
    with pytest.raises(ValueError):
        cpu.matmul_step("packed", f, f, cpu.alloc(4, _dt(np.float32)), 2, 3, 2, 1)


@pytest.mark.parametrize("threads", [1, 2, 3, 4])
@pytest.mark.parametrize("bmnp", [(1, 210, 200, 211), (1, 64, 784, 256), (5, 100, 100, 170), (1, 7, 2000, 700),
                                  (3, 300, 5000, 2), (1, 3000, 400, 9), (2, 64, 40, 30)], ids=str)
def test_matmul_any_thread_count(rng, threads, bmnp):
    """Each thread count splits out differently (by batch, by rows, by columns, a grid); all but
    the last shape have more than tt_matmul_par_min (at most 200^3) multiply-adds, so threads run."""
    batch, m, n, p = bmnp
    before = cpu.get_num_threads()
    try:
        cpu.set_num_threads(threads)
        for dtype in FLOATS:
            a, b = data(rng, batch * m * n, dtype), data(rng, batch * n * p, dtype)
            out = cpu.alloc(batch * m * p, _dt(dtype))
            cpu.matmul(cpu.from_numpy(a), cpu.from_numpy(b), out, m, n, p, batch)
            _matmul_check(result(out), a.reshape(batch, m, n), b.reshape(batch, n, p), dtype, n)
    finally:
        cpu.set_num_threads(before)


def _strided_case(rng, dtype, shape, kind):
    """A buffer and a strided (batch, rows, cols) view of it: (buffer values, strides, offset)."""
    batch, r, c = shape
    if kind == "compact":
        return data(rng, batch * r * c, dtype), (r * c, c, 1), 0
    if kind == "transposed":  # each matrix stored column by column
        return data(rng, batch * r * c, dtype), (r * c, 1, r), 0
    if kind == "broadcast":  # one matrix for the whole batch (stride 0)
        return data(rng, r * c, dtype), (0, c, 1), 0
    if kind == "flipped_sliced":  # every other row, columns reversed, inside a bigger buffer
        x = data(rng, batch * 2 * r * (c + 3) + 5, dtype)
        return x, (2 * r * (c + 3), 2 * (c + 3), -1), 5 + c - 1
    raise ValueError(kind)


def _as_view(x, strides, offset, shape):
    """The elements of the view, by the definition: element (b, i, j) is x[offset + b*s0 + i*s1 + j*s2]."""
    index = offset
    for axis, (n, s) in enumerate(zip(shape, strides)):
        index = index + np.arange(n).reshape([n if d == axis else 1 for d in range(3)]) * s
    return x[index]


KINDS = ["compact", "transposed", "broadcast", "flipped_sliced"]


@pytest.mark.parametrize("dtype", ARITH, ids=DTYPE_IDS[:3])
@pytest.mark.parametrize("kind_a", KINDS)
@pytest.mark.parametrize("kind_b", KINDS)
def test_matmul_strided(rng, dtype, kind_a, kind_b):
    """Strided operands are read in place (packing takes any layout): transposed, broadcast
    over the batch, stepped and reversed views give numpy's product."""
    batch, m, n, p = 3, 9, 21, 18
    xa, sa, oa = _strided_case(rng, dtype, (batch, m, n), kind_a)
    xb, sb, ob = _strided_case(rng, dtype, (batch, n, p), kind_b)
    out = cpu.alloc(batch * m * p, _dt(dtype))
    cpu.matmul_strided(cpu.from_numpy(xa), sa, oa, cpu.from_numpy(xb), sb, ob, out, m, n, p, batch)
    va, vb = _as_view(xa, sa, oa, (batch, m, n)), _as_view(xb, sb, ob, (batch, n, p))
    if dtype == np.int64:
        assert_same(result(out), (va @ vb).reshape(-1))
    else:
        _matmul_check(result(out), va, vb, dtype, n)


@pytest.mark.parametrize("threads", [1, 2, 3, 4])
@pytest.mark.parametrize("case", [
    ("row", "col", 1, 64, 784, 256),  # x @ w.T of a linear layer: computed as (w @ x.T).T, threads split w's rows
    ("row", "col", 1, 5, 300, 11),     # the same, fewer micro-tiles of w than threads
    ("row", "col", 1, 300, 200, 500),  # many rows: threads split w, each packs all of x.T
    ("col", "row", 48, 64, 64, 32),    # attention's p^T @ g: a column-major a read in place (narrow b)
    ("col", "col", 2, 100, 300, 40),   # both transposed, a read in place
    ("col", "row", 1, 130, 70, 200),   # a column-major a with a wide b: packed
], ids=str)
def test_matmul_transposed_operands_any_thread_count(rng, threads, case):
    """The layouts that take matmul's special paths (a product computed the other way round; a
    column-major a read without packing) give numpy's product for every thread count."""
    layout_a, layout_b, batch, m, n, p = case
    before = cpu.get_num_threads()
    try:
        cpu.set_num_threads(threads)
        for dtype in FLOATS:
            xa, xb = data(rng, batch * m * n, dtype), data(rng, batch * n * p, dtype)
            sa = (m * n, n, 1) if layout_a == "row" else (m * n, 1, m)
            sb = (n * p, p, 1) if layout_b == "row" else (n * p, 1, n)
            out = cpu.alloc(batch * m * p, _dt(dtype))
            cpu.matmul_strided(cpu.from_numpy(xa), sa, 0, cpu.from_numpy(xb), sb, 0, out, m, n, p, batch)
            va, vb = _as_view(xa, sa, 0, (batch, m, n)), _as_view(xb, sb, 0, (batch, n, p))
            _matmul_check(result(out), va, vb, dtype, n)
    finally:
        cpu.set_num_threads(before)


def test_matmul_strided_checks_views_before_reading():
    f = lambda n: cpu.from_numpy(np.ones(n, np.float32))  # noqa: E731
    out = cpu.alloc(4, _dt(np.float32))
    with pytest.raises(IndexError):  # the last row of a lies past the buffer
        cpu.matmul_strided(f(4), (0, 3, 1), 0, f(4), (0, 2, 1), 0, out, 2, 2, 2, 1)
    with pytest.raises(IndexError):  # negative reach
        cpu.matmul_strided(f(4), (0, 2, -1), 0, f(4), (0, 2, 1), 0, out, 2, 2, 2, 1)
    with pytest.raises(ValueError):  # out of the wrong size
        cpu.matmul_strided(f(4), (0, 2, 1), 0, f(4), (0, 2, 1), 0, cpu.alloc(3, _dt(np.float32)), 2, 2, 2, 1)
    with pytest.raises(TypeError):
        cpu.matmul_strided(f(4), (0, 2, 1), 0, cpu.from_numpy(np.ones(4)), (0, 2, 1), 0, out, 2, 2, 2, 1)
    # a length-1 axis may carry any stride: it is never stepped along
    cpu.matmul_strided(f(4), (2**70, 2, 1), 0, f(4), (-2**70, 2, 1), 0, out, 2, 2, 2, 1)
    assert result(out).tolist() == [2.0] * 4
    x = np.arange(4, dtype=np.float32)
    c = cpu.from_numpy(x)  # out aliasing an input: the input is copied first
    cpu.matmul_strided(c, (0, 1, 2), 0, c, (0, 2, 1), 0, c, 2, 2, 2, 1)
    np.testing.assert_allclose(result(c).reshape(2, 2), x.reshape(2, 2).T @ x.reshape(2, 2))


# --- indexing --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("n", SIZES)
def test_gather_scatter_scatter_add(rng, dtype, n):
    size = max(n // 3, 1)
    idx = rng.integers(0, size, n)  # with repeats
    (ri, ci) = both(idx)
    (ra, ca) = both(data(rng, size, dtype))
    (ro, co) = out_pair(n, dtype)
    ref.gather(ra, ri, ro)
    cpu.gather(ca, ci, co)
    assert_same(result(co), ro)

    src = data(rng, n, dtype)
    (rs, cs) = both(src)
    unique = rng.permutation(size)[: min(n, size)]
    (ru, cu) = both(unique)
    (rsu, csu) = both(src[: unique.size])
    ref.scatter(rsu, ru, ra)
    cpu.scatter(csu, cu, ca)
    assert_same(result(ca), ra)

    if np.dtype(dtype) == np.int64:
        src = src * 10**15  # scatter_add wraps like numpy on int64 overflow too
        (rs, cs) = both(src)
    ref.scatter_add(rs, ri, ra)
    cpu.scatter_add(cs, ci, ca)
    assert_same(result(ca), ra, 1e-5 if np.dtype(dtype) == np.float32 else 1e-12)


@pytest.mark.parametrize("op", ["mul", "max", "min"])
@pytest.mark.parametrize("dtype", ARITH, ids=DTYPE_IDS[:3])
@pytest.mark.parametrize("n", [0, 1, 1001])
def test_scatter_mul_max_min(rng, op, dtype, n):
    """Repeated indices combine every value, as numpy's ufunc.at; a NaN wins in max/min."""
    size = max(n // 3, 1)
    idx = rng.integers(0, size, n)
    src = data(rng, n, dtype, "positive")
    if np.dtype(dtype).kind == "f":
        src = (src / 4 + 0.5).astype(dtype)
        if op != "mul" and n > 1:
            src[rng.integers(0, n, 3)] = np.nan
    (ra, ca) = both(data(rng, size, dtype, "positive"))
    getattr(ref, f"scatter_{op}")(ref.from_numpy(src), ref.from_numpy(idx), ra)
    getattr(cpu, f"scatter_{op}")(cpu.from_numpy(src), cpu.from_numpy(idx), ca)
    assert_same(result(ca), ra)
    for be, buf in ((ref, ref.alloc(2, _dt(np.bool_))), (cpu, cpu.alloc(2, _dt(np.bool_)))):
        with pytest.raises(TypeError):
            getattr(be, f"scatter_{op}")(buf, be.from_numpy(np.zeros(2, np.int64)), buf)
    before = result(ca).copy()
    with pytest.raises(IndexError):
        getattr(cpu, f"scatter_{op}")(cpu.from_numpy(data(rng, 2, dtype)), cpu.from_numpy(np.array([0, size])), ca)
    assert_same(result(ca), before)  # nothing is written when an index is bad


def test_scatter_repeated_index_writes_one_of_the_values():
    out = cpu.from_numpy(np.zeros(3, np.float32))
    cpu.scatter(cpu.from_numpy(np.array([1.0, 2.0, 3.0], np.float32)), cpu.from_numpy(np.array([2, 2, 2])), out)
    assert result(out)[2] in (1.0, 2.0, 3.0) and result(out)[:2].tolist() == [0, 0]


def test_scatter_with_its_own_output_as_index():
    """out is also the index buffer: indices are read from a copy, never from values just written."""
    x = cpu.from_numpy(np.array([1, 0, 2], np.int64))
    cpu.scatter(cpu.from_numpy(np.array([100, 200, 300], np.int64)), x, x)
    assert result(x).tolist() == [200, 100, 300]


# --- bad input: clean exceptions, never a crash ----------------------------------------------------------
def run_isolated(body: str, timeout: float = 120) -> None:
    """Run ``body`` in a fresh interpreter; a crash (segfault) or failure fails the test."""
    code = textwrap.dedent("""
        import numpy as np
        import tinytorch.backend_cpu as cpu
        from tinytorch.ndarray import float32, float64, int64, bool_

        def expect(exc, fn, *args):
            try:
                fn(*args)
            except exc as e:
                assert str(e), "the message must say what is wrong"
                print("ok", exc.__name__, e, flush=True)
                return
            raise AssertionError(f"{fn.__name__}{args!r} did not raise {exc.__name__}")
    """) + textwrap.dedent(body)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"exit {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"


def test_wrong_sizes_raise_value_error():
    run_isolated("""
        f = lambda n, dt=float32: cpu.alloc(n, dt)
        for op in ("add", "sub", "mul", "div", "pow", "maximum", "minimum", "eq", "lt"):
            out = f(5, bool_ if op in ("eq", "lt") else float32)
            expect(ValueError, getattr(cpu, f"ewise_{op}"), f(5), f(4), out)
            expect(ValueError, getattr(cpu, f"ewise_{op}"), f(5), f(5), f(6, out.dtype))
            expect(ValueError, getattr(cpu, f"scalar_{op}"), f(5), 1.0, f(3, out.dtype))
        for fn in ("exp", "neg", "relu", "sigmoid"):
            expect(ValueError, getattr(cpu, f"ewise_{fn}"), f(5), f(50))
        expect(ValueError, cpu.scalar_rpow, f(5), 2.0, f(500))
        expect(ValueError, cpu.cast, f(5), f(6, int64))
        expect(ValueError, cpu.where, f(5, bool_), f(5), f(5), f(4))
        expect(ValueError, cpu.reduce_sum, f(10), f(3), 3)
        expect(ValueError, cpu.reduce_max, f(10), f(2), 4)
        expect(ValueError, cpu.reduce_argmax, f(0), f(3, int64), 0)
        expect(ValueError, cpu.reduce_sum, f(10), f(5), -2)
        expect(ValueError, cpu.matmul, f(6), f(6), f(4), 2, 3, 2, 2)
        expect(ValueError, cpu.matmul, f(6), f(6), f(4), 2, 3, 2, -1)
        expect(ValueError, cpu.matmul, f(0), f(0), f(0), 2**64, 0, 0, 1)
        cpu.matmul(f(0), f(0), f(0), 2**62, 0, 0, 1)  # empty: returns at once
        expect(ValueError, cpu.matmul_naive, f(6), f(5), f(4), 2, 3, 2, 1)
        expect(ValueError, cpu.compact, f(10), f(3), (2, 2), (2, 1), 0)
        expect(ValueError, cpu.ewise_setitem, f(3), f(10), (2, 2), (2, 1), 0)
        expect(ValueError, cpu.compact, f(10), f(4), (2, 2), (1,), 0)
        expect(ValueError, cpu.compact, f(10), f(0), (-1, 2), (1, 1), 0)
        expect(ValueError, cpu.gather, f(10), f(3, int64), f(4))
        expect(ValueError, cpu.scatter, f(4), f(3, int64), f(10))
        expect(ValueError, cpu.scatter_add, f(4), f(3, int64), f(10))
        expect(ValueError, cpu.alloc, -1, float32)
    """)


def test_wrong_dtypes_raise_type_error():
    run_isolated("""
        f = lambda n, dt=float32: cpu.alloc(n, dt)
        expect(TypeError, cpu.ewise_add, f(5), f(5, float64), f(5))
        expect(TypeError, cpu.ewise_add, f(5), f(5), f(5, float64))
        expect(TypeError, cpu.ewise_add, f(5, bool_), f(5, bool_), f(5, bool_))
        expect(TypeError, cpu.ewise_div, f(5, int64), f(5, int64), f(5, int64))
        expect(TypeError, cpu.scalar_div, f(5, int64), 2, f(5, int64))
        expect(TypeError, cpu.scalar_rdiv, f(5, int64), 2, f(5, int64))
        expect(TypeError, cpu.ewise_eq, f(5), f(5), f(5))
        expect(TypeError, cpu.ewise_exp, f(5, int64), f(5, int64))
        expect(TypeError, cpu.ewise_neg, f(5, bool_), f(5, bool_))
        expect(TypeError, cpu.ewise_exp, f(5), f(5, float64))
        expect(TypeError, cpu.where, f(5), f(5), f(5), f(5))
        expect(TypeError, cpu.where, f(5, bool_), f(5), f(5, int64), f(5))
        expect(TypeError, cpu.reduce_sum, f(6), f(2, float64), 3)
        expect(TypeError, cpu.reduce_argmax, f(6), f(2), 3)
        expect(TypeError, cpu.reduce_sum, f(6, bool_), f(2, bool_), 3)
        expect(TypeError, cpu.matmul, f(4), f(4, float64), f(4), 2, 2, 2, 1)
        expect(TypeError, cpu.matmul, f(4, bool_), f(4, bool_), f(4, bool_), 2, 2, 2, 1)
        expect(TypeError, cpu.compact, f(4), f(4, int64), (4,), (1,), 0)
        expect(TypeError, cpu.gather, f(4), f(2, float32), f(2))
        expect(TypeError, cpu.gather, f(4), f(2, int64), f(2, float64))
        expect(TypeError, cpu.scatter_add, f(2, float64), f(2, int64), f(4))
        expect(TypeError, cpu.fill, f(4), "3")
        expect(TypeError, cpu.scalar_add, f(4), None, f(4))
        expect(TypeError, cpu.ewise_add, np.zeros(4, np.float32), f(4), f(4))
        expect(TypeError, cpu.alloc, 4, np.int32)
        expect(TypeError, cpu.from_numpy, np.zeros(3, np.complex64))
        expect(OverflowError, cpu.fill, f(4, int64), 2**70)
        expect(ValueError, cpu.fill, f(4, int64), float("nan"))
    """)


def test_views_outside_the_buffer_raise_index_error():
    run_isolated("""
        a, out = cpu.alloc(10, float32), cpu.alloc(4, float32)
        expect(IndexError, cpu.compact, a, out, (4,), (3,), 1)                   # reaches element 10
        expect(IndexError, cpu.compact, a, out, (2, 2), (9, 1), 0)               # reaches element 10
        expect(IndexError, cpu.compact, a, out, (4,), (-1,), 2)                  # negative stride below 0
        expect(IndexError, cpu.compact, a, out, (4,), (1,), -1)                  # negative offset
        expect(IndexError, cpu.compact, a, out, (4,), (0,), 10)                  # zero stride, offset past the end
        expect(IndexError, cpu.compact, a, out, (2, 2), (2**62, 1), 0)           # would overflow int64
        expect(IndexError, cpu.compact, a, out, (2, 2), (2**63 + 1, 1), 0)       # does not even fit int64
        expect(IndexError, cpu.compact, a, out, (2, 2), (-(2**64), 1), 0)
        big = np.int64(2**62)  # numpy int arithmetic would wrap (n - 1) * stride to a negative
        expect(IndexError, cpu.compact, a, out, (np.int64(3), 1), (big, 1), np.int64(0))
        expect(IndexError, cpu.scalar_setitem, 1.0, a, (np.int64(5),), (np.int64(2**62),), 0)
        expect(IndexError, cpu.to_numpy, a, (11,), (1,), 0)
        expect(IndexError, cpu.to_numpy, a, (3, 3), (4, 1), 0)
        expect(IndexError, cpu.ewise_setitem, out, a, (2, 2), (5, 5), 0)
        expect(IndexError, cpu.scalar_setitem, 1.0, a, (3, 3), (-4, 1), 5)
        expect(IndexError, cpu.scalar_setitem, 1.0, a, (1,), (1,), 10)
        expect(ValueError, cpu.compact, a, cpu.alloc(1, float32), (1,) * 33, (1,) * 33, 0)
        expect(ValueError, cpu.scalar_setitem, 1.0, a, (2**64 + 3,), (0,), 0)    # would truncate to 3
        expect(TypeError, cpu.compact, a, out, (2.0, 2), (2, 1), 0)
        # an axis of length 1 may carry any stride: it is never stepped
        cpu.compact(a, out, (4, 1), (1, 2**80), 0)
        cpu.compact(a, cpu.alloc(0, float32), (0, 5), (2**70, 2**70), 2**70)  # empty: nothing is read
    """)


def test_bad_indices_raise_index_error_before_writing():
    run_isolated("""
        for dt in (float32, float64, int64, bool_):
            a, out = cpu.alloc(10, dt), cpu.alloc(3, dt)
            cpu.fill(a, 1)
            for bad in ([0, 10, 1], [-1, 0, 0], [0, 1, 2**62], [0, 1, -(2**63)]):
                idx = cpu.from_numpy(np.array(bad, np.int64))
                expect(IndexError, cpu.gather, a, idx, out)
                expect(IndexError, cpu.scatter, out, idx, a)
                expect(IndexError, cpu.scatter_add, out, idx, a)
                assert np.all(cpu.to_numpy(a, (10,), (1,), 0) == 1), "nothing may be written when an index is bad"
        idx = cpu.from_numpy(np.array([0, 3, 99], np.int64))
        try:
            cpu.gather(cpu.alloc(10, float32), idx, cpu.alloc(3, float32))
        except IndexError as e:
            assert "99" in str(e) and "position 2" in str(e), e
    """)


def test_integer_pow_with_negative_exponent_raises_value_error():
    run_isolated("""
        a, out = cpu.from_numpy(np.array([1, 2, 3], np.int64)), cpu.alloc(3, int64)
        expect(ValueError, cpu.ewise_pow, a, cpu.from_numpy(np.array([1, -2, 0], np.int64)), out)
        expect(ValueError, cpu.scalar_pow, a, -1, out)
        expect(ValueError, cpu.scalar_rpow, cpu.from_numpy(np.array([1, -2, 0], np.int64)), 2, out)
        cpu.scalar_pow(a, -1.0 * 0, out)  # 0 is fine
    """)


def test_threads_can_be_set():
    n = cpu.get_num_threads()
    try:
        cpu.set_num_threads(1)
        assert cpu.get_num_threads() == 1
        x = np.arange(100_000, dtype=np.float64)
        out = cpu.alloc(1, _dt(np.float64))
        cpu.reduce_sum(cpu.from_numpy(x), out, x.size)
        assert result(out)[0] == x.sum()
    finally:
        cpu.set_num_threads(n)
    with pytest.raises(ValueError):
        cpu.set_num_threads(0)


@pytest.mark.parametrize("environ, expected", [
    ({}, ({"GOMP_SPINCOUNT": cpu.SPIN_ROUNDS}, cpu.THRESHOLDS_AWAKE)),
    ({"OMP_WAIT_POLICY": "passive"}, ({}, cpu.THRESHOLDS_SLEEPING)),
    ({"OMP_WAIT_POLICY": "PASSIVE "}, ({}, cpu.THRESHOLDS_SLEEPING)),
    ({"OMP_WAIT_POLICY": "active"}, ({}, cpu.THRESHOLDS_AWAKE)),
    ({"GOMP_SPINCOUNT": "0"}, ({}, cpu.THRESHOLDS_SLEEPING)),
    ({"GOMP_SPINCOUNT": "300000"}, ({}, cpu.THRESHOLDS_AWAKE)),
    ({"OMP_WAIT_POLICY": "active", "GOMP_SPINCOUNT": "0"}, ({}, cpu.THRESHOLDS_AWAKE)),
])
def test_wait_settings_keep_the_users_choice_and_match_thresholds_to_it(environ, expected):
    """Threads spin briefly between kernels unless the user chose how they wait; threads that
    sleep at once get the high thresholds (waking them costs more than a small loop)."""
    assert cpu.wait_settings(environ) == expected
    sleeping, awake = cpu.THRESHOLDS_SLEEPING, cpu.THRESHOLDS_AWAKE
    assert all(s > a > 0 for s, a in zip(sleeping, awake))


@pytest.mark.parametrize("environ", [{}, {"OMP_WAIT_POLICY": "passive"}, {"GOMP_SPINCOUNT": "0"}])
def test_loading_applies_the_thresholds_and_leaves_no_trace(environ):
    """Loading the library sets the C thresholds that ``wait_settings`` chose and leaves the
    process environment as it was (the spin count is only read by libgomp as it loads)."""
    import os
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
    env.update(environ)
    code = ("import ctypes, os, tinytorch.backend_cpu as c\n"
            "print([os.environ.get(v) for v in ('OMP_WAIT_POLICY', 'GOMP_SPINCOUNT')])\n"
            "print([ctypes.c_int64.in_dll(c._lib, n).value for n in "
            "('tt_par_min', 'tt_par_min_math', 'tt_matmul_par_min')])")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    seen_env, seen_thresholds = out.stdout.strip().splitlines()
    assert seen_env == str([environ.get("OMP_WAIT_POLICY"), environ.get("GOMP_SPINCOUNT")])
    assert seen_thresholds == str(list(cpu.wait_settings(environ)[1]))


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="needs os.fork")
def test_kernels_work_in_a_forked_child():
    """GCC's OpenMP runtime hangs a forked child that uses a parallel region: the binding
    makes children single-threaded. (A hang fails through the timeout.)"""
    run_isolated("""
        import os
        x, out = cpu.from_numpy(np.ones(1 << 20, np.float32)), cpu.alloc(1 << 20, float32)
        cpu.ewise_add(x, x, out)  # starts the OpenMP thread pool in the parent
        pid = os.fork()
        if pid == 0:
            cpu.ewise_add(x, x, out)
            os._exit(0 if cpu.to_numpy(out, (1,), (1,), 0)[0] == 2 else 1)
        _, status = os.waitpid(pid, 0)
        assert status == 0, status
        cpu.ewise_add(x, x, out)
    """, timeout=60)


def test_import_without_library_says_how_to_build(tmp_path):
    """A checkout without the compiled library: ImportError naming the fix; tinytorch still imports."""
    import shutil
    from pathlib import Path

    import tinytorch
    src = Path(tinytorch.__file__).parent
    shutil.copytree(src, tmp_path / "tinytorch", ignore=shutil.ignore_patterns("*.so", "*.pyd", "__pycache__"))
    code = textwrap.dedent("""
        import tinytorch
        from tinytorch.ndarray.devices import unavailable_reason
        try:
            import tinytorch.backend_cpu
        except ImportError as e:
            assert "not built" in str(e) and "make build" in str(e) and "pip install -e ." in str(e), e
        else:
            raise AssertionError("imported without the library")
        reason = unavailable_reason("cpu")
        assert reason and "not built" in reason, reason
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=60,
                          env={"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0, proc.stderr


# --- optimizers (the optional fused adam_step) ------------------------------------------------------------
@pytest.mark.parametrize("n", [0, 1, 1001, BIG])
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=DTYPE_IDS[:2])
@pytest.mark.parametrize("amsgrad", [False, True])
@pytest.mark.parametrize("decay,l2", [(1.0, 0.0), (1.0, 0.1), (0.995, 0.0)], ids=["plain", "l2", "decoupled"])
def test_adam_step(rng, n, dtype, amsgrad, decay, l2):
    p, g, m = (data(rng, n, dtype) for _ in range(3))
    v = data(rng, n, dtype, "positive")
    vmax = data(rng, n, dtype, "positive") if amsgrad else None
    scalars = dict(step_size=0.01 / (1 - 0.9 ** 3), beta1=0.9, beta2=0.999, eps=1e-8,
                   bias2_sqrt=math.sqrt(1 - 0.999 ** 3), decay=decay, l2=l2)
    bufs = [cpu.from_numpy(x) for x in (p, g, m, v)] + [None if vmax is None else cpu.from_numpy(vmax)]
    cpu.adam_step(*bufs, **scalars)
    want = adam_reference(p, g, m, v, vmax, **scalars)
    tol = 2e-6 if dtype == np.float32 else 1e-14  # the compiler may fuse a multiply-add
    for got, w in zip(bufs[:1] + bufs[2:], want):  # p, m, v, vmax
        if w is not None:
            np.testing.assert_allclose(result(got), w, rtol=tol, atol=tol)
    assert np.array_equal(result(bufs[1]), g)  # the gradient is only read
    if n:
        assert not np.array_equal(result(bufs[0]), p)  # the parameter moved


def test_adam_step_with_the_gradient_in_the_parameter_buffer(rng):
    """p and g may be one buffer: each element is read before it is written."""
    p, m, v = data(rng, 100, np.float64), data(rng, 100, np.float64), data(rng, 100, np.float64, "positive")
    scalars = dict(step_size=0.1, beta1=0.9, beta2=0.99, eps=1e-8, bias2_sqrt=0.5)
    pb = cpu.from_numpy(p)
    cpu.adam_step(pb, pb, cpu.from_numpy(m), cpu.from_numpy(v), None, **scalars)
    want = adam_reference(p, p, m, v, None, decay=1.0, l2=0.0, **scalars)[0]
    np.testing.assert_allclose(result(pb), want, rtol=1e-14)


def test_adam_step_checks_its_buffers():
    f32, f64, i64 = (cpu.alloc(10, _dt(t)) for t in (np.float32, np.float64, np.int64))
    s = dict(step_size=0.1, beta1=0.9, beta2=0.99, eps=1e-8, bias2_sqrt=0.5)
    with pytest.raises(ValueError, match=r"sizes differ: \[10, 10, 10, 11\]"):
        cpu.adam_step(f32, f32, f32, cpu.alloc(11, _dt(np.float32)), None, **s)
    with pytest.raises(TypeError, match="float32.*float64"):
        cpu.adam_step(f32, f64, f32, f32, None, **s)
    with pytest.raises(TypeError, match="all float32 or all float64"):
        cpu.adam_step(i64, i64, i64, i64, None, **s)
    with pytest.raises(TypeError, match="expected a backend_cpu Buffer"):
        cpu.adam_step(f32, np.zeros(10, np.float32), f32, f32, None, **s)
    with pytest.raises(ValueError, match="sizes differ"):
        cpu.adam_step(f32, f32, f32, f32, cpu.alloc(3, _dt(np.float32)), **s)


# --- the further binary ops (interface.MORE_BINARY_OPS) and bitwise_not -------------------------------
from more_binary_cases import KINDS_NOT, applies, binary_inputs, nonzero, scalars  # noqa: E402

COVERED |= {f"{k}{op}" for op in interface.MORE_BINARY_OPS for k in ("ewise_", "scalar_", "scalar_r")}
COVERED |= {"ewise_bitwise_not"}


@pytest.mark.parametrize("n", [0, 1, 1001, 140_000])  # 140_000: above tt_par_min_math (2^17 at most), threaded
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("op", interface.MORE_BINARY_OPS)
def test_more_binary_ops(rng, op, dtype, n):
    a, b = binary_inputs(rng, op, dtype, n)
    (ra, ca), (rb, cb), (ro, co) = both(a), both(b), out_pair(n, dtype)
    if not applies(op, dtype):
        for call in (lambda: getattr(cpu, f"ewise_{op}")(ca, cb, co), lambda: getattr(cpu, f"scalar_{op}")(ca, 1, co),
                     lambda: getattr(cpu, f"scalar_r{op}")(ca, 1, co)):
            with pytest.raises(TypeError):
                call()
        return
    tol = ulps(dtype) if op == "atan2" else 0.0  # libm's atan2f and numpy's may differ in the last bit
    getattr(ref, f"ewise_{op}")(ra, rb, ro)
    getattr(cpu, f"ewise_{op}")(ca, cb, co)
    assert_same(result(co), ro, tol)
    (rd, cd) = both(nonzero(a))
    for s in scalars(op, dtype):
        getattr(ref, f"scalar_{op}")(ra, s, ro)
        getattr(cpu, f"scalar_{op}")(ca, s, co)
        assert_same(result(co), ro, tol)
        getattr(ref, f"scalar_r{op}")(rd, s, ro)
        getattr(cpu, f"scalar_r{op}")(cd, s, co)
        assert_same(result(co), ro, tol)


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_bitwise_not(rng, dtype):
    x = data(rng, 1001, dtype)
    (rx, cx), (ro, co) = both(x), out_pair(1001, dtype)
    if np.dtype(dtype).kind not in KINDS_NOT:
        with pytest.raises(TypeError):
            cpu.ewise_bitwise_not(cx, co)
        return
    ref.ewise_bitwise_not(rx, ro)
    cpu.ewise_bitwise_not(cx, co)
    assert_same(result(co), ro)
    np.testing.assert_array_equal(result(co), ~x)


def test_integer_division_by_zero_raises_before_writing():
    a, zero_at_2 = cpu.from_numpy(np.array([7, -7, 5], np.int64)), cpu.from_numpy(np.array([2, 3, 0], np.int64))
    out = cpu.from_numpy(np.array([11, 11, 11], np.int64))
    for op in interface.DIVISION_OPS:
        with pytest.raises(ZeroDivisionError, match="position 2"):
            getattr(cpu, f"ewise_{op}")(a, zero_at_2, out)
        with pytest.raises(ZeroDivisionError):
            getattr(cpu, f"scalar_{op}")(a, 0, out)
        with pytest.raises(ZeroDivisionError, match="position 2"):
            getattr(cpu, f"scalar_r{op}")(zero_at_2, 5, out)
        assert result(out).tolist() == [11, 11, 11]


# --- issue 13: a Buffer's fields cannot be changed from Python --------------------------------------
@pytest.mark.parametrize("field", ["ptr", "size", "dtype", "code", "_array", "_raw"])
def test_buffer_fields_are_read_only(field):
    """The kernels trust ``ptr``/``size``/``code`` to describe one block of memory: assigning
    ``size = 10**9`` used to let the next kernel write out of bounds."""
    buf = cpu.alloc(8, np.float32)
    before = getattr(buf, field)
    for assign in (lambda: setattr(buf, field, 10**9), lambda: object.__setattr__(buf, field, 10**9),
                   lambda: delattr(buf, field)):
        with pytest.raises(AttributeError):
            assign()
    assert getattr(buf, field) is before
    with pytest.raises(AttributeError):
        buf.extra = 1  # no new attributes either
    with pytest.raises(TypeError):
        import copy
        copy.copy(buf)


def test_buffers_are_equal_only_to_themselves():
    a, b = cpu.alloc(4, np.float64), cpu.alloc(4, np.float64)
    assert a == a and a != b and len({a, b}) == 2


def test_set_num_threads_at_the_front_door():
    """``tt.set_num_threads`` / ``tt.get_num_threads`` (PyTorch's names) drive the C kernels'
    thread count; a count below 1 or not an int raises RuntimeError, as PyTorch's does."""
    import tinytorch as tt
    before = tt.get_num_threads()
    try:
        tt.set_num_threads(1)
        assert tt.get_num_threads() == 1 == cpu.get_num_threads()
        tt.set_num_threads(3)
        assert tt.get_num_threads() == 3 == cpu.get_num_threads()
        for bad in (0, -2, 1.5, "2"):
            with pytest.raises(RuntimeError):
                tt.set_num_threads(bad)
        assert tt.get_num_threads() == 3
    finally:
        tt.set_num_threads(before)
