"""Every backend in the registry implements the whole interface, and the registry behaves.

Every backend defines every optional function (as a function or None); each one a backend
has is checked against the numpy reference and against the same result composed from the
mandatory functions. Elementwise kernels may write over their input on every backend.
"""

import doctest
import importlib
import math
import typing

import numpy as np
import pytest
from adam_reference import adam_reference

import tinytorch
from tinytorch.ndarray import BACKEND_MODULES, available, get_backend, interface
from tinytorch.ndarray import backend_numpy as ref
from tinytorch.ndarray.devices import device as as_device
from tinytorch.ndarray.dtypes import from_numpy_dtype
from tinytorch.ndarray.strides import check_view


def test_every_backend_implements_the_interface(device):
    backend = get_backend(device)
    missing = [n for n in interface.interface_functions() if not callable(getattr(backend, n, None))]
    assert not missing, f"backend {device!r} lacks {missing}"
    assert backend.name == device


def test_numpy_backend_is_always_available():
    assert "numpy" in available()
    assert tinytorch.backends.available() == available()


def test_registry_is_explicit_and_lazy():
    assert set(BACKEND_MODULES) == {"numpy", "cpu", "cuda"}
    for module in BACKEND_MODULES.values():
        assert module.startswith("tinytorch.")


def test_unknown_device_is_a_value_error():
    with pytest.raises(ValueError, match="unknown device 'tpu'"):
        get_backend("tpu")


def test_device_object_compares_with_strings():
    d = as_device("numpy")
    assert d == "numpy" and str(d) == "numpy" and repr(d) == "device(type='numpy')"
    assert as_device(d) is d


def test_set_default_device_rejects_unavailable(monkeypatch):
    from tinytorch.ndarray import devices
    monkeypatch.setattr(devices, "_default", devices._DefaultDevice())  # the default is restored afterwards
    tinytorch.set_default_device("numpy")
    assert tinytorch.get_default_device() == "numpy"
    with pytest.raises(ValueError):
        tinytorch.set_default_device("tpu")


def test_import_needs_no_compiled_backend():
    # importing tinytorch must not import any backend as a side effect
    import subprocess
    import sys
    code = ("import sys, tinytorch; "
            "assert 'tinytorch.backend_cpu' not in sys.modules, 'cpu backend imported eagerly'; "
            "assert 'tinytorch.backend_cuda' not in sys.modules, 'cuda backend imported eagerly'")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_default_device_from_environment():
    import subprocess
    import sys
    out = subprocess.run([sys.executable, "-c", "import tinytorch; print(tinytorch.get_default_device())"],
                         env={**__import__("os").environ, "TINYTORCH_DEVICE": "numpy"},
                         capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "numpy"


def test_interface_module_imports():
    importlib.import_module("tinytorch.ndarray.interface")


# --- the optional fast paths ---------------------------------------------------------------------------
def test_optional_functions_are_declared_in_the_protocol():
    optional = interface.optional_functions()
    assert optional == ["matmul_strided", "reduce_axis_sum", "reduce_axis_max", "reduce_axis_min", "adam_step",
                        "call_fused", "fold_windows", "ewise_strided", "softmax_rows", "softmax_rows_backward",
                        "gelu", "gelu_backward", "conv2d", "conv2d_backward_input", "conv2d_backward_weight",
                        "max_pool2d", "max_pool2d_backward", "layer_norm_rows", "layer_norm_rows_backward",
                        "cross_entropy_rows", "cross_entropy_rows_backward", "lower_call", "buffer_address"]
    assert not set(optional) & set(interface.interface_functions())
    hints = typing.get_type_hints(interface.Backend)
    for name in optional:
        if name in ("lower_call", "buffer_address"):  # they return what a recorded program replays
            assert type(None) in typing.get_args(hints[name]), name
        else:
            assert hints[name] == typing.Optional[typing.Callable[..., None]], name


def test_every_backend_defines_every_optional_function(device):
    backend = get_backend(device)
    for name in interface.optional_functions():
        assert hasattr(backend, name), f"backend {device!r} does not define {name} (a function or None)"
        fn = getattr(backend, name)
        assert fn is None or callable(fn), f"{device}.{name} is {fn!r}"


def test_the_numpy_backend_implements_every_optional_function():
    assert all(callable(getattr(ref, name)) for name in interface.optional_functions())


def _optional(device, name):
    """The backend of ``device`` and its optional function ``name`` (the test skips, saying why, if it is None)."""
    backend = get_backend(device)
    fn = getattr(backend, name)
    if fn is None:
        pytest.skip(f"backend {device!r} has no {name} (None): NDArray takes its generic path there")
    return backend, fn


def _buf(backend, x):
    return backend.from_numpy(np.ascontiguousarray(x).reshape(-1))


def _get(backend, buf):
    return backend.to_numpy(buf, (buf.size,), (1,), 0)


def _alloc(backend, n, dtype):
    return backend.alloc(n, from_numpy_dtype(np.dtype(dtype)))


def _random(rng, n, dtype, nans=False):
    dtype = np.dtype(dtype)
    if dtype == np.int64:
        return rng.integers(-50, 50, n, dtype=np.int64)
    x = (rng.standard_normal(n) * 3).astype(dtype)
    if nans and n >= 8:
        x[rng.choice(n, n // 8, replace=False)] = np.nan
    return x


def _close(got, want, dtype, scale=1.0):
    if np.dtype(dtype).kind == "f":
        tol = {np.dtype(np.float32): 1e-5, np.dtype(np.float64): 1e-12}[np.dtype(dtype)]
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol * scale, equal_nan=True)
    else:
        np.testing.assert_array_equal(got, want)


ARITH = [np.float32, np.float64, np.int64]
ARITH_IDS = ["float32", "float64", "int64"]
AXIS_SHAPES = [(1, 5, 3), (4, 7, 1), (3, 1, 6), (0, 4, 2), (2, 0, 3), (5, 300, 37)]


@pytest.mark.parametrize("op", ["sum", "max", "min"])
@pytest.mark.parametrize("dtype", ARITH, ids=ARITH_IDS)
@pytest.mark.parametrize("shape", AXIS_SHAPES, ids=str)
def test_reduce_axis_matches_the_reference_and_transpose_plus_reduce(device, rng, op, dtype, shape):
    backend, reduce_axis = _optional(device, f"reduce_axis_{op}")
    outer, r, inner = shape
    if r == 0 and op != "sum":
        pytest.skip("max/min over an empty axis has no identity (tested below)")
    x = _random(rng, outer * r * inner, dtype, nans=op != "sum")
    out = _alloc(backend, outer * inner, dtype)
    reduce_axis(_buf(backend, x), out, r, inner)
    got = _get(backend, out)
    want = ref.alloc(outer * inner, from_numpy_dtype(np.dtype(dtype)))
    getattr(ref, f"reduce_axis_{op}")(ref.from_numpy(x), want, r, inner)
    _close(got, want, dtype, scale=r)
    # the same from the mandatory functions: move the reduced axis last, compact, reduce_<op>
    moved = _alloc(backend, x.size, dtype)
    backend.compact(_buf(backend, x), moved, (outer, inner, r), (r * inner, 1, inner), 0)
    composed = _alloc(backend, outer * inner, dtype)
    getattr(backend, f"reduce_{op}")(moved, composed, r)
    _close(got, _get(backend, composed), dtype, scale=r)


def test_reduce_axis_checks_sizes_and_dtypes(device):
    backend = get_backend(device)
    f32 = lambda n: _alloc(backend, n, np.float32)  # noqa: E731
    for op in ("sum", "max", "min"):
        fn = _optional(device, f"reduce_axis_{op}")[1]
        with pytest.raises(ValueError, match="a has 10 elements, out 4"):
            fn(f32(10), f32(4), 3, 2)
        with pytest.raises(ValueError, match=r"\(outer, 3, 0\)"):
            fn(f32(12), f32(4), 3, 0)
        with pytest.raises(TypeError, match="float32.*float64"):
            fn(f32(12), _alloc(backend, 4, np.float64), 3, 2)
        with pytest.raises(TypeError, match="bool"):
            fn(_alloc(backend, 12, np.bool_), _alloc(backend, 4, np.bool_), 3, 2)
        if op != "sum":
            with pytest.raises(ValueError, match="empty axis"):
                fn(f32(0), f32(4), 0, 2)


def _strided_operand(rng, dtype, shape, kind):
    """A buffer's contents, strides and offset holding a (batch, rows, cols) operand laid out as ``kind``."""
    batch, rows, cols = shape
    if kind == "compact":
        return _random(rng, batch * rows * cols, dtype), (rows * cols, cols, 1), 0
    if kind == "transposed":  # stored as (batch, cols, rows)
        return _random(rng, batch * rows * cols, dtype), (rows * cols, 1, rows), 0
    if kind == "broadcast":  # one matrix for the whole batch
        return _random(rng, rows * cols, dtype), (0, cols, 1), 0
    # rows reversed and every other column of a (batch, rows, 2 * cols) array
    return _random(rng, batch * rows * cols * 2, dtype), (2 * rows * cols, -2 * cols, 2), max(rows - 1, 0) * 2 * cols


KINDS = ["compact", "transposed", "broadcast", "flipped"]


@pytest.mark.parametrize("dtype", ARITH, ids=ARITH_IDS)
@pytest.mark.parametrize("shape", [(2, 3, 5, 4, 6), (3, 1, 4, 7, 2), (1, 4, 1, 3, 5), (2, 2, 6, 0, 3)], ids=str)
def test_matmul_strided_with_two_batch_axes_reads_heads_in_place(device, rng, dtype, shape):
    """``batch=(outer, inner)``: q @ k^T of heads split off one (B, T, 3 * H * D) array, as
    attention makes them (strides that no single batch axis describes), against compact + matmul."""
    backend, matmul_strided = _optional(device, "matmul_strided")
    bsz, heads, t, d, _ = shape
    qkv = _random(rng, bsz * t * 3 * heads * d, dtype)  # (B, T, 3, H, D)
    row = 3 * heads * d
    sq, oq = (t * row, d, row, 1), 0  # q as (B, H, T, D)
    sk, ok = (t * row, d, 1, row), heads * d  # k^T as (B, H, D, T)
    buf = _buf(backend, qkv)
    count = bsz * heads
    out = _alloc(backend, count * t * t, dtype)
    matmul_strided(buf, sq, oq, buf, sk, ok, out, t, d, t, (bsz, heads))
    cq, ck = _alloc(backend, count * t * d, dtype), _alloc(backend, count * d * t, dtype)
    backend.compact(buf, cq, (bsz, heads, t, d), sq, oq)
    backend.compact(buf, ck, (bsz, heads, d, t), sk, ok)
    composed = _alloc(backend, count * t * t, dtype)
    backend.matmul(cq, ck, composed, t, d, t, count)
    _close(_get(backend, out), _get(backend, composed), dtype, scale=3 * max(d, 1))
    if bsz > 1 and d:  # the views are checked as two batch axes, before anything is read
        with pytest.raises(IndexError):
            matmul_strided(buf, (t * row * 100, d, row, 1), oq, buf, sk, ok, out, t, d, t, (bsz, heads))


@pytest.mark.parametrize("dtype", ARITH, ids=ARITH_IDS)
@pytest.mark.parametrize("kinds", [(ka, kb) for ka in KINDS for kb in KINDS], ids="-".join)
@pytest.mark.parametrize("bmnp", [(3, 9, 21, 18), (1, 1, 1, 1), (2, 5, 0, 4), (1, 70, 65, 33), (1, 5, 300, 37)],
                         ids=str)
def test_matmul_strided_matches_the_reference_and_compact_plus_matmul(device, rng, dtype, kinds, bmnp):
    backend, matmul_strided = _optional(device, "matmul_strided")
    batch, m, n, p = bmnp
    xa, sa, oa = _strided_operand(rng, dtype, (batch, m, n), kinds[0])
    xb, sb, ob = _strided_operand(rng, dtype, (batch, n, p), kinds[1])
    out = _alloc(backend, batch * m * p, dtype)
    matmul_strided(_buf(backend, xa), sa, oa, _buf(backend, xb), sb, ob, out, m, n, p, batch)
    got = _get(backend, out)
    want = ref.alloc(batch * m * p, from_numpy_dtype(np.dtype(dtype)))
    ref.matmul_strided(ref.from_numpy(xa), sa, oa, ref.from_numpy(xb), sb, ob, want, m, n, p, batch)
    _close(got, want, dtype, scale=3 * n)
    # the same from the mandatory functions: compact both views, then matmul
    ca, cb = _alloc(backend, batch * m * n, dtype), _alloc(backend, batch * n * p, dtype)
    backend.compact(_buf(backend, xa), ca, (batch, m, n), sa, oa)
    backend.compact(_buf(backend, xb), cb, (batch, n, p), sb, ob)
    composed = _alloc(backend, batch * m * p, dtype)
    backend.matmul(ca, cb, composed, m, n, p, batch)
    _close(got, _get(backend, composed), dtype, scale=3 * n)


def test_matmul_strided_checks_before_reading(device):
    backend, matmul_strided = _optional(device, "matmul_strided")
    f32 = lambda n: _buf(backend, np.ones(n, np.float32))  # noqa: E731
    ok = (0, 2, 1)
    with pytest.raises(ValueError, match="out has 3 elements.*need 4"):
        matmul_strided(f32(4), ok, 0, f32(4), ok, 0, _alloc(backend, 3, np.float32), 2, 2, 2, 1)
    with pytest.raises(IndexError, match=r"strides=\(0, 3, 1\).*\[0, 4\] outside a buffer of 4"):
        matmul_strided(f32(4), (0, 3, 1), 0, f32(4), ok, 0, f32(4), 2, 2, 2, 1)
    with pytest.raises(IndexError, match=r"offset=2.*outside a buffer of 4"):
        matmul_strided(f32(4), ok, 0, f32(4), ok, 2, f32(4), 2, 2, 2, 1)
    with pytest.raises(ValueError, match="different lengths"):
        matmul_strided(f32(4), (2, 1), 0, f32(4), ok, 0, f32(4), 2, 2, 2, 1)
    with pytest.raises(TypeError, match="float32.*float64"):
        matmul_strided(f32(4), ok, 0, _buf(backend, np.ones(4)), ok, 0, f32(4), 2, 2, 2, 1)
    b8 = _buf(backend, np.ones(4, np.bool_))
    with pytest.raises(TypeError, match="bool"):
        matmul_strided(b8, ok, 0, b8, ok, 0, _alloc(backend, 4, np.bool_), 2, 2, 2, 1)
    # numpy integers are taken exactly, like Python ints
    out = _alloc(backend, 4, np.float32)
    matmul_strided(f32(4), tuple(np.int64(s) for s in ok), np.int64(0), f32(4), ok, np.int64(0), out, 2, 2, 2, 1)
    assert _get(backend, out).tolist() == [2.0] * 4
    # out may be an input: the result is that of reading the inputs first
    x = np.arange(4, dtype=np.float32)
    c = _buf(backend, x)
    matmul_strided(c, (0, 1, 2), 0, c, ok, 0, c, 2, 2, 2, 1)
    np.testing.assert_allclose(_get(backend, c).reshape(2, 2), x.reshape(2, 2).T @ x.reshape(2, 2))


@pytest.mark.parametrize("n", [0, 1, 1001])
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=ARITH_IDS[:2])
@pytest.mark.parametrize("amsgrad", [False, True])
@pytest.mark.parametrize("decay,l2", [(1.0, 0.0), (1.0, 0.1), (0.995, 0.0)], ids=["plain", "l2", "decoupled"])
def test_adam_step_matches_the_reference_and_numpy_arithmetic(device, rng, n, dtype, amsgrad, decay, l2):
    backend, adam_step = _optional(device, "adam_step")
    p, g, m = (_random(rng, n, dtype) for _ in range(3))
    v = np.abs(_random(rng, n, dtype)) + dtype(0.1)
    vmax = v + dtype(0.5) * (rng.random(n) < 0.5).astype(dtype) if amsgrad else None
    scalars = dict(step_size=0.01 / (1 - 0.9 ** 3), beta1=0.9, beta2=0.999, eps=1e-8,
                   bias2_sqrt=math.sqrt(1 - 0.999 ** 3), decay=decay, l2=l2)
    arrays = [p, g, m, v, vmax]
    bufs = [None if x is None else _buf(backend, x) for x in arrays]
    refs = [None if x is None else ref.from_numpy(x) for x in arrays]
    adam_step(*bufs, **scalars)
    ref.adam_step(*refs, **scalars)
    want = adam_reference(*arrays, **scalars)
    tol = 2e-6 if dtype == np.float32 else 1e-14  # a compiler may fuse a multiply-add
    for k, w in zip((0, 2, 3, 4), want):  # p, m, v, vmax
        if w is not None:
            np.testing.assert_allclose(_get(backend, bufs[k]), w, rtol=tol, atol=tol)
            np.testing.assert_allclose(refs[k], w, rtol=tol, atol=tol)
    np.testing.assert_array_equal(_get(backend, bufs[1]), g)  # the gradient is only read
    if n:
        assert not np.array_equal(_get(backend, bufs[0]), p)  # the parameter moved


def test_adam_step_with_the_gradient_in_the_parameter_buffer(device, rng):
    backend, adam_step = _optional(device, "adam_step")
    p, m, v = _random(rng, 100, np.float64), _random(rng, 100, np.float64), np.abs(_random(rng, 100, np.float64))
    scalars = dict(step_size=0.1, beta1=0.9, beta2=0.99, eps=1e-8, bias2_sqrt=0.5)
    pb = _buf(backend, p)
    adam_step(pb, pb, _buf(backend, m), _buf(backend, v), None, **scalars)
    np.testing.assert_allclose(_get(backend, pb), adam_reference(p, p, m, v, None, decay=1.0, l2=0.0, **scalars)[0],
                               rtol=1e-14)


def test_adam_step_checks_sizes_and_dtypes(device):
    backend, adam_step = _optional(device, "adam_step")
    f32, f64, i64 = (_alloc(backend, 10, t) for t in (np.float32, np.float64, np.int64))
    s = dict(step_size=0.1, beta1=0.9, beta2=0.99, eps=1e-8, bias2_sqrt=0.5)
    with pytest.raises(ValueError, match=r"sizes differ: \[10, 10, 10, 11\]"):
        adam_step(f32, f32, f32, _alloc(backend, 11, np.float32), None, **s)
    with pytest.raises(ValueError, match=r"sizes differ: \[10, 10, 10, 10, 3\]"):
        adam_step(f32, f32, f32, f32, _alloc(backend, 3, np.float32), **s)
    with pytest.raises(TypeError, match="float32.*float64"):
        adam_step(f32, f64, f32, f32, None, **s)
    with pytest.raises(TypeError, match="int64"):
        adam_step(i64, i64, i64, i64, None, **s)


# --- elementwise kernels may write over their input -----------------------------------------------------
def _inplace_cases():
    cases = []
    for op in interface.BINARY_OPS:
        dtypes = ["bool"] if op in interface.COMPARISON_OPS else ["float32", "float64"] + ["int64"] * (op != "div")
        cases += [(f"{kind}_{op}", dt) for kind in ("ewise", "scalar") for dt in dtypes]
    cases += [(f"scalar_r{op}", dt) for op in interface.REVERSED_SCALAR_OPS
              for dt in ["float32", "float64"] + ["int64"] * (op != "div")]
    cases += [(f"ewise_{fn}", dt) for fn in interface.UNARY_OPS
              for dt in ["float32", "float64"] + ["int64"] * (fn in interface.UNARY_OPS_ANY)]
    return cases


@pytest.mark.parametrize("name,dtype", _inplace_cases(), ids="-".join)
def test_elementwise_out_may_be_an_input(device, rng, name, dtype):
    """``fn(a, ..., out=a)`` (and ``out=b``) gives what a separate ``out`` gets: each element is
    read before it is written, as the interface guarantees."""
    backend = get_backend(device)
    fn = getattr(backend, name)
    n = 1001
    if dtype == "bool":
        a, b, s = rng.random(n) < 0.5, rng.random(n) < 0.5, True
    elif dtype == "int64":  # small non-negative integers: fine as exponents too
        a, b, s = rng.integers(0, 6, n), rng.integers(0, 4, n), 3
    else:
        a, b, s = (rng.random(n) * 2 + 0.5).astype(dtype), (rng.random(n) * 4 - 2).astype(dtype), 1.5
    if name.startswith("ewise_") and name[6:] in interface.BINARY_OPS:
        separate = _alloc(backend, n, a.dtype)
        fn(_buf(backend, a), _buf(backend, b), separate)
        for target in ("a", "b"):
            x, y = _buf(backend, a), _buf(backend, b)
            fn(x, y, x if target == "a" else y)
            np.testing.assert_array_equal(_get(backend, x if target == "a" else y), _get(backend, separate), target)
        return
    args = (s,) if name.startswith("scalar") else ()
    separate = _alloc(backend, n, a.dtype)
    fn(_buf(backend, a), *args, separate)
    x = _buf(backend, a)
    fn(x, *args, x)
    np.testing.assert_array_equal(_get(backend, x), _get(backend, separate))


# --- the further binary ops and bitwise_not: every backend against the reference, in place too ----------
def _more_cases():
    from more_binary_cases import KINDS
    kinds = {"f": ["float32", "float64"], "i": ["int64"], "b": ["bool"]}
    cases = [(kind, op, dt) for op in interface.MORE_BINARY_OPS for kind in ("ewise_", "scalar_", "scalar_r")
             for k in KINDS[op] for dt in kinds[k]]
    return cases + [("ewise_", "bitwise_not", "int64"), ("ewise_", "bitwise_not", "bool")]


@pytest.mark.parametrize("kind,op,dtype", [pytest.param(*c, id=f"{c[0]}{c[1]}-{c[2]}") for c in _more_cases()])
def test_more_elementwise_kernels_match_the_reference_and_may_write_over_an_input(device, rng, kind, op, dtype):
    from more_binary_cases import binary_inputs, nonzero, scalars
    backend = get_backend(device)
    fn, want_fn = getattr(backend, kind + op), getattr(ref, kind + op)
    a, b = binary_inputs(rng, "bitwise_and" if op == "bitwise_not" else op, dtype, 1001)
    if kind == "scalar_r":
        a = nonzero(a)  # the divisor of an integer division
    args = [()] if op == "bitwise_not" else [(b,)] if kind == "ewise_" else [(s,) for s in scalars(op, dtype)]
    for arg in args:
        want = np.empty(a.size, a.dtype)
        want_fn(a.copy(), *arg, want)
        x = _buf(backend, a)
        bufs = [_buf(backend, v) if isinstance(v, np.ndarray) else v for v in arg]
        separate = _alloc(backend, a.size, a.dtype)
        fn(x, *bufs, separate)
        got = _get(backend, separate)
        if op == "atan2":  # libm's (or the GPU's) atan2 may differ from numpy's in the last bit
            np.testing.assert_allclose(got, want, rtol=4e-6 if dtype == "float32" else 1e-14, equal_nan=True)
        else:
            np.testing.assert_array_equal(got, want)
        fn(x, *bufs, x)  # out is the first input itself
        np.testing.assert_array_equal(_get(backend, x), got)
        if kind == "ewise_" and bufs:
            y = bufs[0]
            fn(_buf(backend, a), y, y)  # out is the second input
            np.testing.assert_array_equal(_get(backend, y), got)


# --- the one bounds check every backend uses ------------------------------------------------------------
def test_check_view_examples_run():
    runner = doctest.DocTestRunner()
    for test in doctest.DocTestFinder().find(check_view, globs={"check_view": check_view}):
        runner.run(test)
    assert runner.tries >= 2 and runner.failures == 0


def test_check_view_errors_name_the_values():
    assert check_view(6, (2, 3), (3, 1), 0) == 6
    assert check_view(6, (2, 3), (-3, -1), 5) == 6  # flipped both ways: reaches [0, 5]
    assert check_view(1, (4, 1), (0, 2**70), 0) == 4  # broadcast; a length-1 axis is never stepped along
    assert check_view(0, (0, 5), (2**70, -(2**70)), 2**70) == 0  # empty: reaches nothing
    with pytest.raises(ValueError, match=r"shape \(2, 3\) and strides \(1,\) have different lengths"):
        check_view(6, (2, 3), (1,), 0)
    with pytest.raises(ValueError, match=r"negative dimension in shape \(2, -1\)"):
        check_view(6, (2, -1), (1, 1), 0)
    with pytest.raises(IndexError, match=r"view \(shape=\(2, 3\), strides=\(3, 1\), offset=1\) reaches elements "
                                         r"\[1, 6\] outside a buffer of 6"):
        check_view(6, (2, 3), (3, 1), 1)
    with pytest.raises(IndexError, match=r"reaches elements \[-1, 1\]"):
        check_view(6, (3,), (-1,), 1)
    # numpy integers are made exact Python ints first: 3 * 2**62 would wrap around in int64
    with pytest.raises(IndexError, match=r"shape=\(3,\), strides=\(4611686018427387904,\)"):
        check_view(10, (np.int64(3),), (np.int64(2**62),), np.int64(0))
    with pytest.raises(TypeError):
        check_view(10, (2,), (1.0,), 0)


# --- fold_windows (col2im) ----------------------------------------------------------------------------------
FOLD_CASES = [  # (nc, out_h, out_w, kh, kw, oh, ow, sh, sw, dh, dw)
    (3, 5, 6, 3, 3, 3, 4, 1, 1, 1, 1),   # overlapping 3x3 windows
    (2, 7, 9, 3, 2, 3, 3, 2, 3, 1, 2),   # strides and dilation
    (4, 4, 4, 2, 2, 2, 2, 2, 2, 1, 1),   # no overlap (2x2 pooling)
    (1, 9, 4, 1, 1, 5, 4, 2, 1, 1, 1),   # 1x1 kernel, positions skipped
    (0, 3, 3, 2, 2, 2, 2, 1, 1, 1, 1),   # nothing to fold
    (70, 30, 30, 3, 3, 28, 28, 1, 1, 1, 1),  # large enough to split across threads
]


def _fold_reference(cols, nc, out_h, out_w, kh, kw, oh, ow, sh, sw, dh, dw):
    """The sum of every window element at its position, one element at a time (numpy)."""
    out = np.zeros((nc, out_h, out_w), cols.dtype)
    c = cols.reshape(nc, kh, kw, oh, ow)
    for i in range(kh):
        for j in range(kw):
            for y in range(oh):
                for x in range(ow):
                    out[:, y * sh + i * dh, x * sw + j * dw] += c[:, i, j, y, x]
    return out.reshape(-1)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("case", FOLD_CASES, ids=str)
def test_fold_windows_adds_each_window_element_where_it_was_read(device, rng, dtype, case):
    backend, fold = _optional(device, "fold_windows")
    nc, out_h, out_w, kh, kw, oh, ow = case[:7]
    cols = _random(rng, nc * kh * kw * oh * ow, dtype)
    start = _random(rng, nc * out_h * out_w, dtype)  # fold adds into what out holds
    out = _buf(backend, start)
    fold(_buf(backend, cols), out, *case)
    want = start + _fold_reference(cols, *case)
    np.testing.assert_allclose(_get(backend, out), want, rtol=1e-5 if dtype is np.float32 else 1e-12, atol=1e-5)


def test_fold_windows_checks_before_writing(device):
    backend, fold = _optional(device, "fold_windows")
    f32 = lambda n: _alloc(backend, n, np.float32)  # noqa: E731
    with pytest.raises(ValueError):  # cols size does not fit
        fold(f32(10), f32(25), 1, 5, 5, 3, 3, 3, 3, 1, 1, 1, 1)
    with pytest.raises(ValueError):  # out size does not fit
        fold(f32(81), f32(24), 1, 5, 5, 3, 3, 3, 3, 1, 1, 1, 1)
    with pytest.raises(ValueError):  # windows reach past the plane: 3 positions of a 3-window need 5 rows
        fold(f32(81), f32(20), 1, 4, 5, 3, 3, 3, 3, 1, 1, 1, 1)
    with pytest.raises(ValueError):  # stride 0
        fold(f32(81), f32(25), 1, 5, 5, 3, 3, 3, 3, 0, 1, 1, 1)
    with pytest.raises(TypeError):
        fold(f32(81), _alloc(backend, 25, np.float64), 1, 5, 5, 3, 3, 3, 3, 1, 1, 1, 1)
    with pytest.raises(TypeError):
        fold(_alloc(backend, 81, np.int64), _alloc(backend, 25, np.int64), 1, 5, 5, 3, 3, 3, 3, 1, 1, 1, 1)
    out = _buf(backend, np.arange(25, dtype=np.float32))
    with pytest.raises(ValueError):
        fold(f32(81), out, 1, 4, 5, 3, 3, 3, 3, 1, 1, 1, 1)
    np.testing.assert_array_equal(_get(backend, out), np.arange(25, dtype=np.float32))  # untouched


# --- ewise_strided (broadcasting arithmetic of two views) ---------------------------------------------------
STRIDED_CASES = [  # (shape, a's (buffer size, strides, offset), b's)
    ((4, 5), (20, (5, 1), 0), (5, (0, 1), 0)),              # a bias added to every row
    ((4, 5), (20, (5, 1), 0), (4, (1, 0), 0)),              # a per-row statistic
    ((3, 4, 5), (60, (20, 5, 1), 0), (60, (1, 3, 12), 0)),  # a transposed operand
    ((2, 3, 4), (30, (12, -4, 1), 9), (1, (0, 0, 0), 0)),   # a negative step, a constant
    ((6, 1, 7), (7, (0, 0, 1), 0), (6, (1, 0, 0), 0)),      # an outer sum, length-1 axis
    ((0, 3), (0, (3, 1), 0), (3, (0, 1), 0)),               # empty
    ((1100, 2048), (2048, (0, 1), 0), (1100, (1, 0), 0)),   # large enough to split across threads
]


@pytest.mark.parametrize("op", ["add", "sub", "mul", "div"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("case", STRIDED_CASES, ids=lambda c: str(c[0]))
def test_ewise_strided_is_the_op_of_the_compacted_views(device, rng, op, dtype, case):
    backend, strided = _optional(device, "ewise_strided")
    shape, (na, sa, oa), (nb, sb, ob) = case
    xa, xb = _random(rng, na, dtype), _random(rng, nb, dtype) + 3.0
    out = _alloc(backend, int(np.prod(shape)), dtype)
    strided(op, _buf(backend, xa), sa, oa, _buf(backend, xb), sb, ob, out, shape)
    item = np.dtype(dtype).itemsize
    va = np.lib.stride_tricks.as_strided(xa[oa:], shape, [s * item for s in sa]) if na else np.zeros(shape, dtype)
    vb = np.lib.stride_tricks.as_strided(xb[ob:], shape, [s * item for s in sb])
    want = {"add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.divide}[op](va, vb).reshape(-1)
    np.testing.assert_allclose(_get(backend, out), want, rtol=1e-6 if dtype is np.float32 else 1e-14)


def test_ewise_strided_checks_before_reading(device):
    backend, strided = _optional(device, "ewise_strided")
    f32 = lambda n: _alloc(backend, n, np.float32)  # noqa: E731
    with pytest.raises(ValueError):  # no such op
        strided("pow", f32(4), (1,), 0, f32(4), (1,), 0, f32(4), (4,))
    with pytest.raises(IndexError):  # a's view reaches past its buffer
        strided("add", f32(4), (2,), 0, f32(4), (1,), 0, f32(4), (4,))
    with pytest.raises(IndexError):  # b's offset
        strided("add", f32(4), (1,), 0, f32(4), (1,), 1, f32(4), (4,))
    with pytest.raises(ValueError):  # out's size
        strided("add", f32(4), (1,), 0, f32(4), (1,), 0, f32(3), (4,))
    with pytest.raises(TypeError):
        strided("add", f32(4), (1,), 0, _alloc(backend, 4, np.float64), (1,), 0, f32(4), (4,))
    with pytest.raises(TypeError):
        i64 = lambda n: _alloc(backend, n, np.int64)  # noqa: E731
        strided("add", i64(4), (1,), 0, i64(4), (1,), 0, i64(4), (4,))


# --- softmax_rows, softmax_rows_backward ------------------------------------------------------------------
def _softmax_reference(x):
    """PyTorch's softmax along the last axis (the oracle), or numpy's formula without it."""
    try:
        import torch
        return torch.softmax(torch.from_numpy(x), -1).numpy()
    except ImportError:
        m = x.max(-1, keepdims=True)
        e = np.exp(x - np.where(np.isinf(m), 0, m))
        return e / e.sum(-1, keepdims=True)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("shape", [(1, 1), (3, 7), (5, 64), (2, 1000), (600, 300)], ids=str)
def test_softmax_rows_forward_and_backward(device, rng, dtype, shape):
    backend, softmax = _optional(device, "softmax_rows")
    _, backward = _optional(device, "softmax_rows_backward")
    rows, cols = shape
    x = (rng.standard_normal(shape) * 5).astype(dtype)
    out = _alloc(backend, x.size, dtype)
    softmax(_buf(backend, x.reshape(-1)), out, rows, cols)
    y = _get(backend, out).reshape(shape)
    tol = dict(rtol=2e-6 if dtype is np.float32 else 1e-13, atol=1e-7 if dtype is np.float32 else 1e-15)
    np.testing.assert_allclose(y, _softmax_reference(x), **tol)
    g = rng.standard_normal(shape).astype(dtype)
    gout = _alloc(backend, x.size, dtype)
    backward(_buf(backend, y.reshape(-1)), _buf(backend, g.reshape(-1)), gout, rows, cols)
    want = y * (g - (g * y).sum(-1, keepdims=True))
    np.testing.assert_allclose(_get(backend, gout).reshape(shape), want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("case", [(2, 5, 5, 0.125), (3, 8, 5, 1.0), (4, 3, 9, -1.5), (1, 300, 300, 0.1)], ids=str)
def test_softmax_rows_scaled_and_causal(device, rng, dtype, case):
    """With ``scale`` and ``causal`` (query rows per matrix): row r sees columns j <= r % causal
    of scale * a, the rest are 0; the backward scales its result."""
    backend, softmax = _optional(device, "softmax_rows")
    _, backward = _optional(device, "softmax_rows_backward")
    mats, queries, keys, scale = case
    x = (rng.standard_normal((mats * queries, keys)) * 4).astype(dtype)
    visible = np.arange(keys) <= (np.arange(mats * queries) % queries)[:, None]
    out = _alloc(backend, x.size, dtype)
    softmax(_buf(backend, x.reshape(-1)), out, mats * queries, keys, scale, queries)
    y = _get(backend, out).reshape(x.shape)
    x64 = np.where(visible, x.astype(np.float64) * scale, -np.inf)
    want = np.exp(x64 - x64.max(-1, keepdims=True))
    want /= want.sum(-1, keepdims=True)
    tol = dict(rtol=2e-6 if dtype is np.float32 else 1e-13, atol=1e-7 if dtype is np.float32 else 1e-15)
    np.testing.assert_allclose(y, want, **tol)
    assert np.all(y[~visible] == 0)
    g = rng.standard_normal(x.shape).astype(dtype)
    gout = _alloc(backend, x.size, dtype)
    backward(_buf(backend, y.reshape(-1)), _buf(backend, g.reshape(-1)), gout, *x.shape, scale)
    np.testing.assert_allclose(_get(backend, gout).reshape(x.shape), scale * y * (g - (g * y).sum(-1, keepdims=True)),
                               rtol=1e-5, atol=1e-6)
    nan_row = x.copy()
    nan_row[queries - 1, 0] = np.nan  # a NaN poisons its whole row, hidden columns too (PyTorch's -inf mask)
    softmax(_buf(backend, nan_row.reshape(-1)), out, mats * queries, keys, scale, queries)
    got = _get(backend, out).reshape(x.shape)
    assert np.all(np.isnan(got[queries - 1])) and not np.any(np.isnan(got[queries:]))


def test_softmax_rows_special_values(device):
    """Rows of -inf, with +inf, with NaN give NaN; a -inf entry beside finite ones gives 0."""
    backend, softmax = _optional(device, "softmax_rows")
    inf, nan = np.inf, np.nan
    x = np.array([[-inf, -inf, -inf], [1.0, inf, 0.0], [1.0, nan, 2.0], [-inf, 0.0, 0.0], [1e30, 1e30, -1e30]],
                 np.float32)
    out = _alloc(backend, x.size, np.float32)
    softmax(_buf(backend, x.reshape(-1)), out, 5, 3)
    np.testing.assert_allclose(_get(backend, out).reshape(5, 3), _softmax_reference(x), equal_nan=True)


def test_softmax_rows_checks_sizes_and_dtypes(device):
    backend, softmax = _optional(device, "softmax_rows")
    _, backward = _optional(device, "softmax_rows_backward")
    f32 = lambda n: _alloc(backend, n, np.float32)  # noqa: E731
    with pytest.raises(ValueError):
        softmax(f32(6), f32(5), 2, 3)
    with pytest.raises(ValueError):
        softmax(f32(6), f32(6), 2, 4)
    with pytest.raises(TypeError):
        softmax(f32(6), _alloc(backend, 6, np.float64), 2, 3)
    with pytest.raises(TypeError):
        softmax(_alloc(backend, 6, np.int64), _alloc(backend, 6, np.int64), 2, 3)
    with pytest.raises(ValueError):
        backward(f32(6), f32(6), f32(5), 2, 3)
    with pytest.raises(ValueError, match="causal"):
        softmax(f32(6), f32(6), 2, 3, 1.0, -1)
    with pytest.raises(TypeError, match="scale"):
        softmax(f32(6), f32(6), 2, 3, "0.5")
    with pytest.raises(TypeError, match="scale"):
        backward(f32(6), f32(6), f32(6), 2, 3, None)


# --- gelu, gelu_backward -------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("n", [0, 1, 7, 1001, (1 << 17) + 5], ids=str)
def test_gelu_and_its_derivative(device, rng, dtype, n):
    backend, gelu = _optional(device, "gelu")
    _, gelu_backward = _optional(device, "gelu_backward")
    x = (rng.standard_normal(n) * 4).astype(dtype)
    if n >= 7:
        x[:7] = [0.0, -0.0, 40.0, -40.0, 1e-30, np.inf, -np.inf]
    g = rng.standard_normal(n).astype(dtype)
    erf = np.vectorize(math.erf, otypes=[np.float64])
    x64 = x.astype(np.float64)
    cdf = (erf(x64 / math.sqrt(2)) + 1) / 2
    with np.errstate(all="ignore"):  # PyTorch's values at +-inf too: gelu(-inf) and both slopes there are NaN
        want = x64 * cdf
        dwant = g * (cdf + x64 * np.exp(-x64 * x64 / 2) / math.sqrt(2 * math.pi))
    out, dout = _alloc(backend, n, dtype), _alloc(backend, n, dtype)
    gelu(_buf(backend, x), out)
    gelu_backward(_buf(backend, x), _buf(backend, g), dout)
    tol = dict(rtol=1e-5, atol=1e-6) if dtype is np.float32 else dict(rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(_get(backend, out), want, equal_nan=True, **tol)
    np.testing.assert_allclose(_get(backend, dout), dwant, equal_nan=True, **tol)


def test_gelu_checks_sizes_and_dtypes(device):
    backend, gelu = _optional(device, "gelu")
    _, gelu_backward = _optional(device, "gelu_backward")
    f32 = lambda n: _alloc(backend, n, np.float32)  # noqa: E731
    with pytest.raises(ValueError):
        gelu(f32(4), f32(5))
    with pytest.raises(TypeError):
        gelu(f32(4), _alloc(backend, 4, np.float64))
    with pytest.raises(TypeError):
        gelu(_alloc(backend, 4, np.int64), _alloc(backend, 4, np.int64))
    with pytest.raises(ValueError):
        gelu_backward(f32(4), f32(4), f32(3))


# --- conv2d and its two gradients ---------------------------------------------------------------------------
CONV_CASES = [  # (n, c, h, w, o, kh, kw, sh, sw, ph, pw, dh, dw, groups)
    (2, 3, 7, 6, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1),     # the common 3x3, padding 1
    (3, 4, 9, 8, 6, 3, 2, 2, 1, 1, 0, 1, 1, 2),     # strides, groups, a rectangular kernel
    (2, 2, 9, 8, 3, 3, 3, 2, 2, 1, 1, 2, 1, 1),     # dilation with strides
    (1, 6, 5, 5, 6, 2, 2, 1, 3, 0, 1, 1, 2, 3),     # depthwise-like groups, odd strides
    (2, 5, 1, 1, 7, 1, 1, 1, 1, 0, 0, 1, 1, 1),     # 1x1 image, 1x1 kernel
    (2, 3, 4, 30, 5, 1, 5, 1, 2, 0, 2, 1, 3, 1),    # wide image, padding beyond the kernel's reach
    (5, 8, 11, 13, 8, 5, 3, 3, 2, 2, 1, 1, 2, 4),   # odd sizes everywhere
    (3, 2, 6, 7, 5, 2, 3, 1, 1, 3, 4, 1, 1, 1),     # stride 1 with padding larger than the kernel
    (8, 16, 14, 14, 32, 3, 3, 1, 1, 1, 1, 1, 1, 1),  # large enough to split across threads
    (2, 64, 9, 9, 10, 3, 3, 1, 1, 1, 1, 1, 1, 1),    # a long reduction (576), output channels not a multiple of 4
    (3, 32, 10, 10, 32, 3, 3, 2, 2, 1, 1, 1, 1, 32),  # depthwise, strided, across threads
    (1, 8, 33, 35, 16, 5, 5, 1, 1, 2, 2, 1, 1, 1),    # one large image (no split by images)
]


def _conv_geom(case):
    n, c, h, w, o, kh, kw, sh, sw, ph, pw, dh, dw, groups = case
    oh, ow = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1, (w + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    return (n, c, h, w, o, kh, kw, oh, ow, sh, sw, ph, pw, dh, dw, groups)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "no-bias"])
@pytest.mark.parametrize("case", CONV_CASES, ids=str)
def test_conv2d_and_its_gradients_match_torch(device, rng, dtype, bias, case):
    torch = pytest.importorskip("torch")
    backend, conv = _optional(device, "conv2d")
    geom = _conv_geom(case)
    n, c, h, w, o, kh, kw, oh, ow, sh, sw, ph, pw, dh, dw, groups = geom
    x = rng.standard_normal((n, c, h, w)).astype(dtype)
    wt = rng.standard_normal((o, c // groups, kh, kw)).astype(dtype)
    b = rng.standard_normal(o).astype(dtype) if bias else None
    g = rng.standard_normal((n, o, oh, ow)).astype(dtype)
    tx, tw = torch.tensor(x, requires_grad=True), torch.tensor(wt, requires_grad=True)
    ref = torch.nn.functional.conv2d(tx, tw, None if b is None else torch.tensor(b), (sh, sw), (ph, pw), (dh, dw),
                                     groups)
    ref.backward(torch.tensor(g))
    out, gx, gw = (_alloc(backend, size, dtype) for size in (g.size, x.size, wt.size))
    conv(_buf(backend, x), _buf(backend, wt), None if b is None else _buf(backend, b), out, geom)
    backend.conv2d_backward_input(_buf(backend, g), _buf(backend, wt), gx, geom)
    backend.conv2d_backward_weight(_buf(backend, g), _buf(backend, x), gw, geom)
    tol = dict(rtol=1e-4, atol=1e-4) if dtype is np.float32 else dict(rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(_get(backend, out), ref.detach().numpy().reshape(-1), **tol)
    np.testing.assert_allclose(_get(backend, gx), tx.grad.numpy().reshape(-1), **tol)
    np.testing.assert_allclose(_get(backend, gw), tw.grad.numpy().reshape(-1), **tol)


def test_conv2d_gradients_with_inf_and_nan_where_few_windows_read(device, rng):
    """x holds a NaN and an inf that only one kernel offset each reads (the last column, the last
    row) without padding: only the weight gradient's entries of those offsets are NaN / inf, as
    in PyTorch (a kernel that reads pixels which are no output's must not spread them); with
    padding every offset reads them."""
    torch = pytest.importorskip("torch")
    backend, _ = _optional(device, "conv2d_backward_weight")
    for pad in (0, 1):
        x = rng.standard_normal((1, 1, 4, 6)).astype(np.float32)
        x[0, 0, 0, 5], x[0, 0, 3, 0] = np.nan, np.inf
        g = rng.standard_normal((1, 2, 3 + 2 * pad, 5 + 2 * pad)).astype(np.float32)
        wt = rng.standard_normal((2, 1, 2, 2)).astype(np.float32)
        geom = (1, 1, 4, 6, 2, 2, 2, 3 + 2 * pad, 5 + 2 * pad, 1, 1, pad, pad, 1, 1, 1)
        tx, tw = torch.tensor(x, requires_grad=True), torch.tensor(wt, requires_grad=True)
        torch.nn.functional.conv2d(tx, tw, padding=pad).backward(torch.tensor(g))
        gw = _alloc(backend, wt.size, np.float32)
        backend.conv2d_backward_weight(_buf(backend, g), _buf(backend, x), gw, geom)
        np.testing.assert_allclose(_get(backend, gw), tw.grad.numpy().reshape(-1), rtol=1e-4, atol=1e-4)
        assert np.isfinite(_get(backend, gw)).sum() == np.isfinite(tw.grad.numpy()).sum() == (2 * 2 if pad == 0 else 0)


def test_conv2d_checks_before_writing(device):
    backend, conv = _optional(device, "conv2d")
    f32 = lambda k: _alloc(backend, k, np.float32)  # noqa: E731
    geom = (1, 2, 5, 5, 3, 3, 3, 3, 3, 1, 1, 0, 0, 1, 1, 1)   # x 50, w 54, out 27
    out = _buf(backend, np.arange(27, dtype=np.float32))
    with pytest.raises(ValueError):  # x does not fit
        conv(f32(49), f32(54), None, out, geom)
    with pytest.raises(ValueError):  # w does not fit
        conv(f32(50), f32(53), None, out, geom)
    with pytest.raises(ValueError):  # bias does not fit
        conv(f32(50), f32(54), f32(2), out, geom)
    with pytest.raises(ValueError):  # the output size is not the geometry's
        conv(f32(50), f32(54), None, out, geom[:7] + (4, 3) + geom[9:])
    with pytest.raises(ValueError):  # groups do not divide the channels
        conv(f32(50), f32(54), None, out, geom[:15] + (2,))
    with pytest.raises(ValueError):  # stride 0
        conv(f32(50), f32(54), None, out, geom[:9] + (0,) + geom[10:])
    with pytest.raises(ValueError):  # 15 entries
        conv(f32(50), f32(54), None, out, geom[:15])
    with pytest.raises(TypeError):
        conv(f32(50), _alloc(backend, 54, np.float64), None, out, geom)
    with pytest.raises(TypeError):
        conv(_alloc(backend, 50, np.int64), _alloc(backend, 54, np.int64), None, _alloc(backend, 27, np.int64), geom)
    with pytest.raises(ValueError):  # gx does not fit
        backend.conv2d_backward_input(f32(27), f32(54), f32(49), geom)
    with pytest.raises(ValueError):  # gw does not fit
        backend.conv2d_backward_weight(f32(27), f32(50), f32(53), geom)
    np.testing.assert_array_equal(_get(backend, out), np.arange(27, dtype=np.float32))  # nothing written


# --- max_pool2d and its gradient ----------------------------------------------------------------------------
POOL_CASES = [  # (n, c, h, w, kernel, stride, padding, dilation, ceil_mode)
    (2, 3, 8, 8, (2, 2), (2, 2), (0, 0), (1, 1), False),   # the common 2x2 pooling
    (1, 2, 9, 7, (3, 3), (2, 2), (1, 1), (1, 1), True),    # padding, overlap, a ceil_mode window
    (2, 1, 7, 9, (2, 3), (1, 2), (1, 0), (2, 1), False),   # dilation, rectangular
    (1, 1, 5, 5, (3, 3), (3, 3), (1, 1), (1, 1), True),    # the last window past the right padding
    (70, 32, 28, 28, (2, 2), (2, 2), (0, 0), (1, 1), False),  # large enough to split across threads
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("case", POOL_CASES, ids=str)
def test_max_pool2d_and_its_gradient_match_torch(device, rng, dtype, case):
    torch = pytest.importorskip("torch")
    backend, pool = _optional(device, "max_pool2d")
    n, c, h, w, kernel, stride, padding, dilation, ceil_mode = case
    x = rng.standard_normal((n, c, h, w)).astype(dtype)
    x[0, 0, 1, 1] = np.nan                                   # the maximum of its windows
    x[-1, -1, :2, :2] = 0.5                                  # ties: the first one wins
    x[-1, 0] = -np.inf                                       # a plane of -inf: each window's first element
    tx = torch.tensor(x, requires_grad=True)
    ref, ref_at = torch.nn.functional.max_pool2d(tx, kernel, stride, padding, dilation, ceil_mode, True)
    oh, ow = ref.shape[2:]
    g = rng.standard_normal(ref.shape).astype(dtype)
    ref.backward(torch.tensor(g))
    geom = (n * c, h, w, oh, ow, *kernel, *stride, *padding, *dilation)
    values, positions = _alloc(backend, g.size, dtype), _alloc(backend, g.size, np.int64)
    gx = _alloc(backend, x.size, dtype)
    pool(_buf(backend, x), values, positions, geom)
    np.testing.assert_array_equal(_get(backend, values), ref.detach().numpy().reshape(-1))  # NaN where NaN
    np.testing.assert_array_equal(_get(backend, positions), ref_at.numpy().reshape(-1))
    backend.max_pool2d_backward(_buf(backend, g), positions, gx, geom)
    np.testing.assert_allclose(_get(backend, gx), tx.grad.numpy().reshape(-1), rtol=1e-6, atol=1e-6)


def test_max_pool2d_checks_before_writing(device):
    backend, pool = _optional(device, "max_pool2d")
    f32, i64 = (lambda k: _alloc(backend, k, np.float32)), (lambda k: _alloc(backend, k, np.int64))  # noqa: E731
    geom = (2, 4, 4, 2, 2, 2, 2, 2, 2, 0, 0, 1, 1)  # x 32, values 8
    with pytest.raises(ValueError):
        pool(f32(31), f32(8), i64(8), geom)
    with pytest.raises(ValueError):
        pool(f32(32), f32(8), i64(7), geom)
    with pytest.raises(ValueError):  # stride 0
        pool(f32(32), f32(8), i64(8), geom[:7] + (0,) + geom[8:])
    with pytest.raises(TypeError):  # positions must be int64
        pool(f32(32), f32(8), f32(8), geom)
    with pytest.raises(TypeError):
        pool(f32(32), _alloc(backend, 8, np.float64), i64(8), geom)
    gx = _buf(backend, np.arange(32, dtype=np.float32))
    with pytest.raises(IndexError, match="16"):  # a position outside the 4 x 4 plane, found before writing
        backend.max_pool2d_backward(f32(8), _buf(backend, np.array([0, 1, 2, 3, 4, 5, 16, 7])), gx, geom)
    with pytest.raises(ValueError):
        backend.max_pool2d_backward(f32(8), i64(8), f32(31), geom)
    np.testing.assert_array_equal(_get(backend, gx), np.arange(32, dtype=np.float32))


# --- cross_entropy_rows, cross_entropy_rows_backward ----------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("shape", [(1, 1), (4, 7), (64, 10), (3, 1000)], ids=str)
def test_cross_entropy_rows_forward_and_backward(device, rng, dtype, shape):
    """Per-row losses, log-sum-exp and count, and the gradient, against log-softmax computed here."""
    backend, forward = _optional(device, "cross_entropy_rows")
    _, backward = _optional(device, "cross_entropy_rows_backward")
    rows, cols = shape
    x = (rng.standard_normal(shape) * 4).astype(dtype)
    t = rng.integers(0, cols, rows)
    t[::3] = -7  # ignored rows
    loss, lse, count = _alloc(backend, rows, dtype), _alloc(backend, rows, dtype), _alloc(backend, 1, dtype)
    forward(_buf(backend, x.reshape(-1)), _buf(backend, t), loss, lse, count, rows, cols, -7)
    m = x.max(1, keepdims=True)
    want_lse = (m + np.log(np.exp(x - m).sum(1, keepdims=True)))[:, 0]
    counted = t != -7
    picked = x[np.arange(rows), np.where(counted, t, 0)]
    tol = dict(rtol=2e-6 if dtype is np.float32 else 1e-13, atol=2e-6 if dtype is np.float32 else 1e-13)
    np.testing.assert_allclose(_get(backend, lse), want_lse, **tol)
    np.testing.assert_allclose(_get(backend, loss), np.where(counted, want_lse - picked, 0), **tol)
    assert _get(backend, count)[0] == counted.sum()
    for scale in (rng.standard_normal(rows).astype(dtype), np.array([0.25], dtype)):
        out = _alloc(backend, x.size, dtype)
        backward(_buf(backend, x.reshape(-1)), _buf(backend, t), _buf(backend, want_lse.astype(dtype)),
                 _buf(backend, scale), out, rows, cols, -7)
        want = np.exp(x - want_lse[:, None])
        want[np.arange(rows)[counted], t[counted]] -= 1
        s = scale if scale.size == rows else np.full(rows, scale[0], dtype)
        want = np.where(counted[:, None], want * s[:, None], 0)
        np.testing.assert_allclose(_get(backend, out).reshape(shape), want, **tol)


def test_cross_entropy_rows_checks_targets_sizes_and_dtypes(device):
    backend, forward = _optional(device, "cross_entropy_rows")
    _, backward = _optional(device, "cross_entropy_rows_backward")
    f32 = lambda n: _alloc(backend, n, np.float32)  # noqa: E731
    x, loss, lse, count = f32(6), f32(2), f32(2), f32(1)
    loss_values = _get(backend, loss).copy()
    with pytest.raises(IndexError, match="Target 3 is out of bounds"):  # before anything is written
        forward(x, _buf(backend, np.array([0, 3])), loss, lse, count, 2, 3, -100)
    np.testing.assert_array_equal(_get(backend, loss), loss_values)
    with pytest.raises(IndexError, match="Target -1"):
        backward(x, _buf(backend, np.array([-1, 0])), lse, f32(1), f32(6), 2, 3, -100)
    forward(x, _buf(backend, np.array([-1, 0])), loss, lse, count, 2, 3, -1)  # -1 is ignore_index: fine
    with pytest.raises(ValueError):
        forward(f32(5), _buf(backend, np.array([0, 1])), loss, lse, count, 2, 3, -100)
    with pytest.raises(ValueError):
        forward(x, _buf(backend, np.array([0, 1, 2])), loss, lse, count, 2, 3, -100)
    with pytest.raises(TypeError):
        forward(x, _buf(backend, np.array([0.0, 1.0], np.float32)), loss, lse, count, 2, 3, -100)
    with pytest.raises(TypeError):
        forward(x, _buf(backend, np.array([0, 1])), _alloc(backend, 2, np.float64), lse, count, 2, 3, -100)
    with pytest.raises(ValueError):
        backward(x, _buf(backend, np.array([0, 1])), lse, f32(2), f32(5), 2, 3, -100)


# --- layer_norm_rows, layer_norm_rows_backward ------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("shape", [(1, 1), (3, 7), (768, 128), (2, 1000), (5000, 500)], ids=str)
def test_layer_norm_rows_forward_and_backward(device, rng, dtype, shape):
    """Against float64 numpy formulas: the standardised rows, 1 / sqrt(var + eps) per row, and
    the input gradient rstd * (h - mean(h) - xhat * mean(h * xhat)) (the big case is threaded)."""
    backend, layer_norm = _optional(device, "layer_norm_rows")
    _, backward = _optional(device, "layer_norm_rows_backward")
    rows, cols = shape
    x = (rng.standard_normal(shape) * 3 + 1).astype(dtype)
    h = rng.standard_normal(shape).astype(dtype)
    x64, h64 = x.astype(np.float64), h.astype(np.float64)
    centered = x64 - x64.mean(1, keepdims=True)
    rstd_want = 1 / np.sqrt((centered ** 2).mean(1, keepdims=True) + 1e-5)
    xhat_want = centered * rstd_want
    xhat, rstd = _alloc(backend, x.size, dtype), _alloc(backend, rows, dtype)
    layer_norm(_buf(backend, x.reshape(-1)), xhat, rstd, rows, cols, 1e-5)
    tol = dict(rtol=1e-5, atol=1e-5) if dtype is np.float32 else dict(rtol=1e-11, atol=1e-12)
    np.testing.assert_allclose(_get(backend, rstd), rstd_want.reshape(-1), **tol)
    np.testing.assert_allclose(_get(backend, xhat).reshape(shape), xhat_want, **tol)
    out = _alloc(backend, x.size, dtype)
    backward(xhat, rstd, _buf(backend, h.reshape(-1)), out, rows, cols)
    xh = _get(backend, xhat).reshape(shape).astype(np.float64)
    want = rstd_want * (h64 - h64.mean(1, keepdims=True) - xh * (h64 * xh).mean(1, keepdims=True))
    np.testing.assert_allclose(_get(backend, out).reshape(shape), want, **tol)


def test_layer_norm_rows_checks_sizes_and_dtypes(device):
    backend, layer_norm = _optional(device, "layer_norm_rows")
    _, backward = _optional(device, "layer_norm_rows_backward")
    f32 = lambda n: _alloc(backend, n, np.float32)  # noqa: E731
    with pytest.raises(ValueError):
        layer_norm(f32(6), f32(6), f32(3), 2, 3, 1e-5)  # rstd has one element per row
    with pytest.raises(ValueError):
        layer_norm(f32(6), f32(5), f32(2), 2, 3, 1e-5)
    with pytest.raises(TypeError):
        layer_norm(f32(6), f32(6), _alloc(backend, 2, np.float64), 2, 3, 1e-5)
    with pytest.raises(TypeError):
        layer_norm(_alloc(backend, 6, np.int64), _alloc(backend, 6, np.int64), _alloc(backend, 2, np.int64), 2, 3,
                   1e-5)
    with pytest.raises(ValueError):
        backward(f32(6), f32(2), f32(6), f32(4), 2, 3)
