"""Lab 3 grader: numpy-backend kernels and a C kernel."""

import ctypes

import numpy as np
import pytest

import tinytorch.ndarray.backend_numpy as backend_numpy
from tinytorch.labs import check, check_close, check_raises
from tinytorch.labs.cbuild import c_compiler, call_status, compile_c
from tinytorch.ndarray import array

TITLE = "backends"
EXERCISES = {
    "3.1": "ewise_mul and scalar_add",
    "3.2": "reduce_sum and reduce_argmax",
    "3.3": "matmul (numpy backend)",
    "3.4": "matmul_f32 in C",
}
#: the library's own version of each exercise: it raises if the notebook's code calls it while graded
REFERENCES = {
    "3.1": ["tinytorch.ndarray.backend_numpy:ewise_mul", "tinytorch.ndarray.backend_numpy:scalar_add"],
    "3.2": ["tinytorch.ndarray.backend_numpy:reduce_sum", "tinytorch.ndarray.backend_numpy:reduce_argmax"],
    "3.3": ["tinytorch.ndarray.backend_numpy:matmul", "tinytorch.ndarray.backend_numpy:matmul_strided"],
}
needs_cc = pytest.mark.skipif(c_compiler() is None, reason="no C compiler (cc, gcc or clang) on this machine")
RNG = np.random.default_rng(3)


def rand(shape, dtype=np.float64):
    x = RNG.standard_normal(shape) * 5
    return x.astype(dtype)


# --- 3.1 ------------------------------------------------------------------------------------------
@pytest.mark.points(2, exercise="3.1",
                    hint="write into the caller's buffer: out[:] = ... or np.multiply(a, b, out=out)")
def test_elementwise_kernels(lab):
    """ewise_mul and scalar_add write the right values into out, for every arithmetic dtype"""
    ewise_mul, scalar_add = lab.defined("ewise_mul"), lab.defined("scalar_add")
    for dtype in (np.float32, np.float64, np.int64):
        a, b = rand(50, dtype), rand(50, dtype)
        out = np.zeros(50, dtype)
        check(ewise_mul(a, b, out) is None, "ewise_mul returned a value; kernels write into out and return None")
        check_close(out, a * b, f"out after ewise_mul [{np.dtype(dtype).name}]")
        scalar_add(a, 3, out)
        check_close(out, a + 3, f"out after scalar_add(a, 3, out) [{np.dtype(dtype).name}]")


@pytest.mark.points(1, exercise="3.1")
def test_elementwise_checks_sizes(lab):
    """ewise_mul and scalar_add raise ValueError for buffers of different sizes"""
    ewise_mul, scalar_add = lab.defined("ewise_mul"), lab.defined("scalar_add")
    check_raises(ValueError, ewise_mul, np.ones(3), np.ones(4), np.ones(3))
    check_raises(ValueError, scalar_add, np.ones(3), 1.0, np.ones(2))


@pytest.mark.points(2, exercise="3.1")
def test_elementwise_in_the_library(lab, monkeypatch):
    """NDArray * and + on device numpy run your kernels (broadcast and strided inputs too)"""
    lab.plug(monkeypatch, backend_numpy, "ewise_mul")
    lab.plug(monkeypatch, backend_numpy, "scalar_add")
    x, y = rand((3, 4)), rand((4,))
    a, b = array(x, device="numpy"), array(y, device="numpy")
    check_close((a * b).numpy(), x * y, "a * b with a (3, 4) and b (4,)")
    check_close((a.T * a.T).numpy(), x.T * x.T, "a.T * a.T")
    check_close((a + 2.5).numpy(), x + 2.5, "a + 2.5")


# --- 3.2 ------------------------------------------------------------------------------------------
@pytest.mark.points(2, exercise="3.2", hint="view a as (out.size, reduce_size) rows")
def test_reduce_sum(lab):
    """reduce_sum sums each row of reduce_size elements (0 for empty rows)"""
    reduce_sum = lab.defined("reduce_sum")
    for rows, size in [(4, 5), (1, 7), (6, 1), (3, 0)]:
        a = rand(rows * size)
        out = np.full(rows, np.nan)
        reduce_sum(a, out, size)
        check_close(out, a.reshape(rows, size).sum(axis=1), f"reduce_sum over {rows} rows of {size}")


@pytest.mark.points(2, exercise="3.2", hint="argmax returns the first position of the maximum")
def test_reduce_argmax(lab):
    """reduce_argmax finds the first position of each row's maximum"""
    reduce_argmax = lab.defined("reduce_argmax")
    a = np.array([1, 5, 5, 0, 7, 2, 7, 7, -1, -3, -2, -9], dtype=np.float32)
    out = np.zeros(3, np.int64)
    reduce_argmax(a, out, 4)
    check_close(out, np.array([1, 0, 0]), "reduce_argmax of rows [1 5 5 0], [7 2 7 7], [-1 -3 -2 -9]")
    b = rand(60)
    out = np.zeros(10, np.int64)
    reduce_argmax(b, out, 6)
    check_close(out, b.reshape(10, 6).argmax(axis=1), "reduce_argmax over 10 rows of 6")


@pytest.mark.points(2, exercise="3.2")
def test_reductions_in_the_library(lab, monkeypatch):
    """NDArray.sum and argmax over any axes run on your kernels"""
    lab.plug(monkeypatch, backend_numpy, "reduce_sum")
    lab.plug(monkeypatch, backend_numpy, "reduce_argmax")
    x = rand((3, 4, 5))
    a = array(x, device="numpy")
    check_close(a.sum(axis=1).numpy(), x.sum(axis=1), "a.sum(axis=1)")
    check_close(a.sum(axis=(0, 2), keepdims=True).numpy(), x.sum(axis=(0, 2), keepdims=True),
                "a.sum(axis=(0, 2), keepdims=True)")
    check_close(a.sum().numpy(), x.sum(), "a.sum()")
    check_close(a.argmax(axis=0).numpy(), x.argmax(axis=0), "a.argmax(axis=0)")


# --- 3.3 ------------------------------------------------------------------------------------------
@pytest.mark.points(2, exercise="3.3")
def test_matmul_kernel(lab):
    """matmul computes batch products of compact matrices"""
    matmul = lab.defined("matmul")
    for batch, m, n, p in [(1, 2, 3, 4), (3, 5, 1, 2), (2, 4, 4, 4), (1, 1, 7, 1)]:
        a, b = rand((batch, m, n)), rand((batch, n, p))
        out = np.zeros(batch * m * p)
        matmul(a.reshape(-1), b.reshape(-1), out, m, n, p, batch)
        check_close(out, (a @ b).reshape(-1), f"matmul with batch={batch} m={m} n={n} p={p}", rtol=1e-10)
    check_raises(ValueError, matmul, np.ones(6), np.ones(6), np.ones(4), 2, 3, 3, 1)


@pytest.mark.points(3, exercise="3.3")
def test_matmul_in_the_library(lab, monkeypatch):
    """@ on NDArrays (2-D, batched with broadcasting, vectors) runs on your matmul"""
    lab.plug(monkeypatch, backend_numpy, "matmul")
    for sa, sb in [((3, 4), (4, 2)), ((2, 3, 4), (4, 5)), ((2, 1, 3, 4), (5, 4, 2)), ((4,), (4, 3)), ((3, 4), (4,))]:
        x, y = rand(sa), rand(sb)
        check_close((array(x, device="numpy") @ array(y, device="numpy")).numpy(), x @ y,
                    f"array of shape {sa} @ array of shape {sb}", rtol=1e-10)


# --- 3.4 ------------------------------------------------------------------------------------------
def _c_matmul(lab):
    lib = compile_c(lab.defined("MATMUL_C"), "matmul")
    fn = lib.matmul_f32
    fn.restype = ctypes.c_int
    fn.argtypes = [ctypes.c_void_p] * 3 + [ctypes.c_int64] * 3

    def matmul_f32(a, b, out, m, n, p):
        call_status(fn(a.ctypes.data, b.ctypes.data, out.ctypes.data, m, n, p), "matmul_f32")

    return matmul_f32


@needs_cc
@pytest.mark.points(3, exercise="3.4", hint="out[i*p + j] = sum over k of a[i*n + k] * b[k*p + j]; start from zero")
def test_c_matmul(lab):
    """your C matmul_f32 compiles and multiplies square and non-square matrices"""
    matmul_f32 = _c_matmul(lab)
    for m, n, p in [(2, 3, 2), (1, 1, 1), (7, 5, 3), (16, 33, 9), (64, 64, 64)]:
        a, b = rand((m, n), np.float32), rand((n, p), np.float32)
        out = np.full((m, p), np.nan, dtype=np.float32)
        matmul_f32(a, b, out, m, n, p)
        check_close(out, a @ b, f"matmul_f32 with m={m} n={n} p={p}", rtol=1e-4, atol=1e-3)


@needs_cc
@pytest.mark.points(3, exercise="3.4")
def test_c_matmul_in_the_library(lab, monkeypatch):
    """float32 @ on device numpy, batched, runs on your C kernel"""
    matmul_f32 = _c_matmul(lab)

    def matmul(a, b, out, m, n, p, batch):
        check(a.dtype == np.float32, "this test only multiplies float32")
        for k in range(batch):
            matmul_f32(a[k * m * n:], b[k * n * p:], out[k * m * p:], m, n, p)

    monkeypatch.setattr(backend_numpy, "matmul", matmul)
    x, y = rand((3, 8, 5), np.float32), rand((5, 6), np.float32)
    got = (array(x, device="numpy") @ array(y, device="numpy")).numpy()
    check_close(got, x @ y, "float32 (3, 8, 5) @ (5, 6) through your C kernel", rtol=1e-4, atol=1e-3)
