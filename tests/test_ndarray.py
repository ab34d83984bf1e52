"""The NDArray suite: every op on every available device and dtype, compared with numpy.

Each test builds the same data as a numpy array and as an NDArray, applies the same
operation to both, and compares values, shapes and dtypes. Views are also checked for
their exact metadata (shape, strides, offset) and for sharing the buffer (no copy).
"""

import itertools

import numpy as np
import pytest

from tinytorch.ndarray import (
    ALL_DTYPES,
    NDArray,
    array,
    bool_,
    empty,
    float32,
    float64,
    full,
    int64,
    matmul,
    ones,
    where,
    zeros,
)

NUMERIC = [float32, float64, int64]


def make(rng, shape, dtype):
    """Random numpy data of a tinytorch dtype: floats in [-2, 2], ints in [-5, 5], random bools."""
    if dtype is bool_:
        return rng.random(shape) > 0.5
    if dtype is int64:
        return rng.integers(-5, 6, size=shape).astype(np.int64)
    return rng.uniform(-2, 2, size=shape).astype(dtype.np_dtype)


def check(nd: NDArray, expected: np.ndarray, rtol=None):
    got = nd.numpy()
    assert got.shape == expected.shape, f"shape {got.shape} != {expected.shape}"
    assert got.dtype == expected.dtype, f"dtype {got.dtype} != {expected.dtype}"
    if expected.dtype.kind == "f":
        tol = rtol if rtol is not None else (1e-5 if expected.dtype == np.float32 else 1e-12)
        np.testing.assert_allclose(got, expected, rtol=tol, atol=tol)
    else:
        np.testing.assert_array_equal(got, expected)


def shares_buffer(a: NDArray, b: NDArray) -> bool:
    return a._buf is b._buf


# --- construction and conversion --------------------------------------------------------------
def test_array_roundtrip(device, dtype, rng):
    x = make(rng, (3, 4), dtype)
    a = array(x, device=device)
    assert a.dtype is dtype and a.device == device
    assert a.shape == (3, 4) and a.strides == (4, 1) and a.offset == 0 and a.is_compact()
    check(a, x)


def test_constructors(device, dtype):
    check(zeros((2, 3), dtype=dtype, device=device), np.zeros((2, 3), dtype.np_dtype))
    check(ones((4,), dtype=dtype, device=device), np.ones(4, dtype.np_dtype))
    check(full((2, 2), 1, dtype=dtype, device=device), np.full((2, 2), 1, dtype.np_dtype))
    e = empty((0, 3), dtype=dtype, device=device)
    assert e.shape == (0, 3) and e.size == 0
    check(array(7, dtype=dtype, device=device), np.array(7, dtype.np_dtype))


def test_dtype_inference(device):
    assert array([1.5, 2], device=device).dtype is float32
    assert array([1, 2], device=device).dtype is int64
    assert array([True], device=device).dtype is bool_
    assert array(np.zeros(2, np.float64), device=device).dtype is float64
    assert full((2,), 2.5, device=device).dtype is float32


@pytest.mark.parametrize("target", ALL_DTYPES, ids=lambda d: d.name)
def test_astype(device, dtype, target, rng):
    x = make(rng, (5, 3), dtype)
    check(array(x, device=device).astype(target), x.astype(target.np_dtype))


def test_to_device_copies_values(device, rng):
    x = make(rng, (3, 5), float32)
    a = array(x, device="numpy")
    b = a[:, ::2].to(device)
    check(b, x[:, ::2])
    check(b.to("numpy"), x[:, ::2])


# --- views: exact metadata, shared buffer --------------------------------------------------------
def test_reshape_is_a_view(device, dtype, rng):
    x = make(rng, (2, 3, 4), dtype)
    a = array(x, device=device)
    b = a.reshape((4, 6))
    assert shares_buffer(a, b) and b.strides == (6, 1) and b.offset == 0
    check(b, x.reshape(4, 6))
    check(a.reshape((-1,)), x.reshape(-1))
    check(a.reshape((2, -1, 2)), x.reshape(2, -1, 2))


def test_reshape_of_permuted_copies_only_when_needed(device, rng):
    x = make(rng, (2, 3, 4), float32)
    a = array(x, device=device).permute((1, 0, 2))  # (3, 2, 4), strides (4, 12, 1)
    merged_last = a.reshape((3, 2, 2, 2))  # splitting a contiguous axis: still a view
    assert shares_buffer(a, merged_last)
    check(merged_last, x.transpose(1, 0, 2).reshape(3, 2, 2, 2))
    flat = a.reshape((24,))  # needs a copy
    assert not shares_buffer(a, flat)
    check(flat, x.transpose(1, 0, 2).reshape(24))


def test_permute_and_transpose(device, dtype, rng):
    x = make(rng, (2, 3, 4), dtype)
    a = array(x, device=device)
    p = a.permute((2, 0, 1))
    assert shares_buffer(a, p) and p.shape == (4, 2, 3) and p.strides == (1, 12, 4)
    assert not p.is_compact()
    check(p, x.transpose(2, 0, 1))
    check(a.T, x.T)
    check(a.swapaxes(0, 2), x.swapaxes(0, 2))


def test_broadcast_to_has_zero_strides(device, dtype, rng):
    x = make(rng, (3, 1), dtype)
    a = array(x, device=device)
    b = a.broadcast_to((2, 3, 4))
    assert shares_buffer(a, b) and b.strides == (0, 1, 0)
    check(b, np.broadcast_to(x, (2, 3, 4)))
    check(b.compact(), np.broadcast_to(x, (2, 3, 4)).copy())


@pytest.mark.parametrize("key", [
    1, -1, (slice(None), 2), (slice(1, None), slice(None, None, 2)), (slice(None, None, -1),),
    (slice(-2, 0, -1), slice(3, 0, -2)), (None, 1), (Ellipsis, 0), (0, Ellipsis, None),
    (slice(5, 10),), (1, 2),
], ids=str)
def test_getitem_basic_is_a_view(device, dtype, key, rng):
    x = make(rng, (3, 4), dtype)
    a = array(x, device=device)
    v = a[key]
    assert shares_buffer(a, v)
    key = key if isinstance(key, tuple) else (key,)
    expected = x[key if Ellipsis in key else key + (Ellipsis,)]  # always a numpy view, even 0-d
    check(v, expected.copy())
    if expected.size:  # numpy's byte strides and data pointer give the exact element metadata
        assert v.strides == tuple(s // x.itemsize for s in expected.strides)
        assert v.offset == (expected.__array_interface__["data"][0] - x.__array_interface__["data"][0]) // x.itemsize


def test_flip(device, dtype, rng):
    x = make(rng, (3, 4), dtype)
    a = array(x, device=device)
    f = a.flip((0,))
    assert shares_buffer(a, f) and f.strides == (-4, 1) and f.offset == 8
    check(f, np.flip(x, 0))
    check(a.flip(), np.flip(x))
    check(a.flip((1,))[1:, ::2], np.flip(x, 1)[1:, ::2])


def test_squeeze_expand_dims(device, rng):
    x = make(rng, (1, 3, 1, 2), float32)
    a = array(x, device=device)
    check(a.squeeze(), x.squeeze())
    check(a.squeeze(2), x.squeeze(2))
    check(a.expand_dims(-1), np.expand_dims(x, -1))


def test_compact_of_every_view_kind(device, dtype, rng):
    x = make(rng, (4, 5, 6), dtype)
    a = array(x, device=device)
    views = [
        (a.permute((2, 0, 1)), x.transpose(2, 0, 1)),
        (a[1:3, ::-2, 1::3], x[1:3, ::-2, 1::3]),
        (a[:, 2].broadcast_to((3, 4, 6)), np.broadcast_to(x[:, 2], (3, 4, 6))),
        (a.flip((0, 2))[::2], np.flip(x, (0, 2))[::2]),
    ]
    for view, expected in views:
        c = view.compact()
        assert c.is_compact() and c.strides == tuple(s // x.itemsize for s in np.ascontiguousarray(expected).strides)
        check(c, np.ascontiguousarray(expected))


# --- setitem ------------------------------------------------------------------------------------
def test_setitem_through_views(device, dtype, rng):
    x = make(rng, (4, 6), dtype)
    y = make(rng, (2, 3), dtype)
    a = array(x, device=device)
    a[1:3, ::2] = array(y, device=device)
    x[1:3, ::2] = y
    check(a, x)
    v = a.T  # write through a transposed view lands in the shared buffer
    v[0, :] = array(make(rng, (4,), dtype), device=device)
    assert shares_buffer(a, v)
    check(a[:, 0], v[0].numpy())


def test_setitem_scalar_and_broadcast(device, dtype, rng):
    x = make(rng, (3, 4), dtype)
    a = array(x, device=device)
    a[:, 1] = 1
    x[:, 1] = 1
    row = make(rng, (4,), dtype)
    a[2] = array(row, device=device)
    x[2] = row
    col = make(rng, (3, 1), dtype)
    a[:, 2:] = array(col, device=device)  # broadcast (3, 1) into (3, 2)
    x[:, 2:] = col
    check(a, x)


def test_setitem_advanced(device, rng):
    x = make(rng, (4, 5), float32)
    a = array(x, device=device)
    a[[0, 3], [1, 4]] = 9.0
    x[[0, 3], [1, 4]] = 9.0
    a[array(x > 1, device=device)] = 0.0
    x[x > 1] = 0.0
    check(a, x)


# --- elementwise ----------------------------------------------------------------------------------
BINARY = {
    "add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.true_divide,
    "maximum": np.maximum, "minimum": np.minimum,
    "eq": np.equal, "ne": np.not_equal, "lt": np.less, "le": np.less_equal, "gt": np.greater,
    "ge": np.greater_equal,
}
OPERATOR = {"add": "__add__", "sub": "__sub__", "mul": "__mul__", "div": "__truediv__", "eq": "__eq__",
            "ne": "__ne__", "lt": "__lt__", "le": "__le__", "gt": "__gt__", "ge": "__ge__",
            "maximum": "maximum", "minimum": "minimum"}


# bool arithmetic runs in int64 (PyTorch-like, see NDArray._op_dtype): tested in test_bool_arithmetic
BINARY_CASES = [(op, d) for op in BINARY for d in ALL_DTYPES
                if d is not bool_ or op in ("eq", "ne", "lt", "le", "gt", "ge")]


@pytest.mark.parametrize("op,dtype", BINARY_CASES, ids=[f"{o}-{d.name}" for o, d in BINARY_CASES])
def test_binary_ops(device, dtype, op, rng):
    x, y = make(rng, (4, 5), dtype), make(rng, (4, 5), dtype)
    if op == "div" and dtype is int64:
        y[y == 0] = 1
    a, b = array(x, device=device), array(y, device=device)
    expected = BINARY[op](x, y)
    if op == "div" and dtype is int64:
        expected = expected.astype(np.float32)  # true division of ints gives the default float
    check(getattr(a, OPERATOR[op])(b), expected)


@pytest.mark.parametrize("op", ["add", "sub", "mul", "div", "maximum", "lt", "eq", "ge"])
def test_broadcast_binary(device, op, rng):
    x, y = make(rng, (3, 1, 5), float32), make(rng, (4, 1), float32)
    a, b = array(x, device=device), array(y, device=device)
    check(getattr(a, OPERATOR[op])(b), BINARY[op](x, y))
    # non-contiguous operands
    z = make(rng, (6, 5), float32)
    c = array(z, device=device)
    check(getattr(a.permute((2, 1, 0)), OPERATOR[op])(c[::-2].T),
          BINARY[op](x.transpose(2, 1, 0), z[::-2].T))


SCALAR_CASES = [(op, d) for op in ["add", "sub", "mul", "div", "pow", "lt", "eq", "maximum"] for d in ALL_DTYPES
                if d is not bool_ or op in ("lt", "eq")]


def scalar_result_dtype(dtype, scalar):
    """PyTorch's rule: a Python scalar raises the category only (int tensor * 0.5 -> float32)."""
    if isinstance(scalar, float) and not dtype.is_floating_point:
        return np.float32
    if isinstance(scalar, int) and not isinstance(scalar, bool) and dtype is bool_:
        return np.int64
    return dtype.np_dtype


@pytest.mark.parametrize("scalar", [2, 0.5, -3, True])
@pytest.mark.parametrize("op,dtype", SCALAR_CASES, ids=[f"{o}-{d.name}" for o, d in SCALAR_CASES])
def test_scalar_ops_and_promotion(device, dtype, op, scalar, rng):
    x = make(rng, (3, 4), dtype)
    if op == "pow" and dtype is not bool_:
        x = np.abs(x) + (1 if dtype is int64 else 0.5)
    a = array(x, device=device)
    npop = {"pow": np.power, **BINARY}[op]
    meth = {"pow": "__pow__", **OPERATOR}[op]
    if op == "pow" and dtype is int64 and isinstance(scalar, int) and scalar < 0:
        with pytest.raises(ValueError, match="negative"):
            a ** scalar
        return
    res_dtype = scalar_result_dtype(dtype, scalar)
    if op == "div" and dtype is int64:
        res_dtype = np.float32
    with np.errstate(all="ignore"):
        expected = npop(x.astype(res_dtype), np.asarray(scalar, dtype=res_dtype))
    check(getattr(a, meth)(scalar), expected)
    if op in ("add", "sub", "mul", "div", "pow"):
        rmeth = meth.replace("__", "__r", 1)
        with np.errstate(all="ignore"):
            r_expected = npop(np.asarray(scalar, dtype=res_dtype), x.astype(res_dtype))
        if op == "pow" and dtype is int64:
            return  # scalar ** int array: covered by test_rpow
        check(getattr(a, rmeth)(scalar), r_expected.astype(res_dtype))


def test_rpow(device, rng):
    x = make(rng, (5,), float64)
    check(2.0 ** array(x, device=device), 2.0 ** x)
    check(2 ** array(np.arange(5), device=device), 2 ** np.arange(5))


def test_bool_arithmetic(device):
    a = array([True, False, True], device=device)
    check(a + a, np.array([2, 0, 2]))
    check(a * 3, np.array([3, 0, 3]))
    check(~a, np.array([False, True, False]))
    check(a & array([True, True, False], device=device), np.array([True, False, False]))
    check(a | array([False, True, False], device=device), np.array([True, True, True]))
    col = array([[True], [False]], device=device)  # & and | broadcast, and stay bool
    check(col & a, np.array([[True, False, True], [False, False, False]]))
    check(col | a, np.array([[True, True, True], [True, False, True]]))
    assert (col & a).dtype is bool_ and (col | a).dtype is bool_
    with pytest.raises(TypeError, match="between bool arrays"):
        a & array([1, 0, 1], device=device)


def test_mixed_dtype_promotion(device, rng):
    f32, f64 = array(make(rng, (3,), float32), device=device), array(make(rng, (3,), float64), device=device)
    i, b = array([1, 2, 3], device=device), array([True, False, True], device=device)
    assert (f32 + f64).dtype is float64
    assert (i + f32).dtype is float32
    assert (b + i).dtype is int64
    assert (i / i).dtype is float32
    assert (f64 * 2).dtype is float64
    assert (i < f32).dtype is bool_


UNARY = {"neg": np.negative, "abs": np.abs, "sign": np.sign, "relu": lambda x: np.maximum(x, 0),
         "exp": np.exp, "log": np.log, "sqrt": np.sqrt, "sin": np.sin, "cos": np.cos, "tanh": np.tanh,
         "sigmoid": lambda x: 1 / (1 + np.exp(-x))}


@pytest.mark.parametrize("fn", UNARY)
def test_unary(device, dtype, fn, rng):
    x = make(rng, (4, 7), dtype)
    if fn in ("log", "sqrt"):
        x = np.abs(x) + (1 if dtype is not float32 else 0.1)
        x = x.astype(dtype.np_dtype) if dtype is not bool_ else x
    a = array(x, device=device)
    got = getattr(a, fn)() if fn != "neg" else -a
    xin = x.astype(np.int64) if dtype is bool_ else x
    if fn in ("exp", "log", "sqrt", "sin", "cos", "tanh", "sigmoid") and not dtype.is_floating_point:
        xin = x.astype(np.float32)  # exp(int) is float32, as in PyTorch
    with np.errstate(all="ignore"):
        expected = UNARY[fn](xin).astype(xin.dtype)
    check(got, expected)


def test_erf(device):
    from math import erf
    x = np.linspace(-3, 3, 13)
    check(array(x, device=device).erf(), np.array([erf(v) for v in x]))


def test_sigmoid_is_stable_at_extremes(device):
    a = array([-1000.0, -50.0, 0.0, 50.0, 1000.0], dtype=float64, device=device).sigmoid().numpy()
    assert np.all(np.isfinite(a)) and a[0] == 0.0 and a[2] == 0.5 and a[-1] == 1.0


# --- reductions ---------------------------------------------------------------------------------------
def all_axis_combinations(ndim):
    yield None
    for r in range(1, ndim + 1):
        for combo in itertools.combinations(range(ndim), r):
            yield combo
    yield -1


@pytest.mark.parametrize("op", ["sum", "max", "min"])
def test_reductions_every_axis_combination(device, dtype, op, rng):
    x = make(rng, (2, 3, 4), dtype)
    a = array(x, device=device)
    for axis in all_axis_combinations(3):
        for keepdims in (False, True):
            expected = getattr(x, op)(axis=axis, keepdims=keepdims)
            if op == "sum" and dtype is bool_:
                expected = expected.astype(np.int64)
            check(getattr(a, op)(axis=axis, keepdims=keepdims), np.asarray(expected))


@pytest.mark.parametrize("op", ["argmax", "argmin"])
def test_argmax_argmin(device, dtype, op, rng):
    x = make(rng, (3, 4, 5), dtype)
    a = array(x, device=device)
    check(getattr(a, op)(), np.asarray(getattr(x, op)()))
    for axis in (0, 1, 2, -1):
        check(getattr(a, op)(axis=axis), getattr(x, op)(axis=axis))
        check(getattr(a, op)(axis=axis, keepdims=True), getattr(x, op)(axis=axis, keepdims=True))


def test_reductions_of_views_and_long_rows(device, rng):
    x = make(rng, (3, 5000), float64)
    a = array(x, device=device)
    check(a.sum(axis=1), x.sum(axis=1))
    check(a.T.sum(axis=0), x.T.sum(axis=0))
    check(a[:, ::7].max(axis=1), x[:, ::7].max(axis=1))
    check(a.T.argmax(axis=0), x.T.argmax(axis=0))


def test_sum_of_empty_axis_is_zero(device):
    check(zeros((3, 0), device=device).sum(axis=1), np.zeros(3, np.float32))


def test_nan_propagates_through_max(device):
    x = np.array([[1.0, np.nan, 3.0], [4.0, 5.0, 6.0]])
    a = array(x, device=device)
    check(a.max(axis=1), x.max(axis=1))
    check(a.argmax(axis=1), x.argmax(axis=1))


# --- matmul -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("shapes", [
    ((1, 1), (1, 1)), ((3, 4), (4, 5)), ((17, 33), (33, 9)), ((64, 64), (64, 64)), ((2, 3, 4), (2, 4, 5)),
    ((5, 1, 3, 4), (2, 4, 6)), ((4,), (4, 3)), ((3, 4), (4,)), ((4,), (4,)), ((2, 3, 4), (4,)),
    ((130, 70), (70, 129)),
], ids=str)
def test_matmul_shapes(device, shapes, rng):
    for dtype in NUMERIC:
        x, y = make(rng, shapes[0], dtype), make(rng, shapes[1], dtype)
        expected = np.matmul(x, y)
        check(array(x, device=device) @ array(y, device=device), np.asarray(expected), rtol=1e-4)


def test_matmul_non_contiguous(device, rng):
    x, y = make(rng, (6, 5), float32), make(rng, (7, 6), float32)
    a, b = array(x, device=device), array(y, device=device)
    check(a.T @ b.T, x.T @ y.T, rtol=1e-5)
    check(a[::2, 1:] @ b[1:5, ::-1][:, :4].T, x[::2, 1:] @ y[1:5, ::-1][:, :4].T, rtol=1e-5)
    assert matmul(a.T, b.T).shape == (5, 7)


def test_matmul_promotes(device):
    a = array([[1, 2]], device=device)
    b = array([[0.5], [0.25]], device=device)
    check(a @ b, np.array([[1.0]], np.float32))


# --- where, gather/scatter, pad --------------------------------------------------------------------
def test_where(device, dtype, rng):
    c = rng.random((3, 4)) > 0.5
    x, y = make(rng, (3, 4), dtype), make(rng, (1, 4), dtype)
    check(where(array(c, device=device), array(x, device=device), array(y, device=device)), np.where(c, x, y))
    # a scalar next to a tensor promotes as in PyTorch: bool tensor with 0 -> int64
    expected = np.where(c, x, 0).astype(scalar_result_dtype(dtype, 0))
    check(where(array(c, device=device), array(x, device=device), 0), expected)


@pytest.mark.parametrize("key", [
    ([0, 2],), ([[1], [2]], [0, 3]), (slice(None), [3, 0, 0]), ([1, 2], slice(1, None), [0, 2]),
    (Ellipsis, [-1, 1]), (1, slice(None), [0, 1]), ([0, 1], 2),
], ids=str)
def test_getitem_integer_arrays(device, dtype, key, rng):
    x = make(rng, (3, 4, 5), dtype)
    a = array(x, device=device)
    check(a[key], x[key])


def test_getitem_boolean_mask(device, rng):
    x = make(rng, (3, 4), float32)
    a = array(x, device=device)
    check(a[array(x > 0, device=device)], x[x > 0])
    check(a[:, array(np.array([True, False, True, True]), device=device)], x[:, [True, False, True, True]])


def test_index_add_accumulates(device):
    z = zeros((5,), dtype=float64, device=device)
    z.index_add_(array([0, 0, 3, 4, 0], device=device), array([1.0, 2, 3, 4, 5], dtype=float64, device=device))
    check(z, np.array([8.0, 0, 0, 3, 4]))
    m = zeros((3, 2), dtype=float64, device=device)
    m.index_add_((array([2, 2], device=device),), array([[1.0, 2], [3, 4]], dtype=float64, device=device))
    check(m, np.array([[0.0, 0], [0, 0], [4, 6]]))


def test_pad(device, dtype, rng):
    x = make(rng, (2, 3), dtype)
    check(array(x, device=device).pad(((1, 2), (0, 1))), np.pad(x, ((1, 2), (0, 1))))


# --- errors --------------------------------------------------------------------------------------------------
def test_error_shape_mismatch_names_both_shapes(device):
    with pytest.raises(RuntimeError, match=r"\(3, 4\).*\(5,\)"):
        zeros((3, 4), device=device) + zeros((5,), device=device)
    with pytest.raises(RuntimeError, match="cannot be multiplied"):
        zeros((3, 4), device=device) @ zeros((3, 4), device=device)
    with pytest.raises(RuntimeError, match="invalid for input of size 12"):
        zeros((3, 4), device=device).reshape((5, -1))


def test_error_bad_axes_and_indices(device):
    a = zeros((3, 4), device=device)
    with pytest.raises(IndexError, match="axis 2"):
        a.sum(axis=2)
    with pytest.raises(IndexError, match="out of bounds"):
        a[3]
    with pytest.raises(IndexError, match="out of bounds"):
        a[array([0, 7], device=device)]
    with pytest.raises(IndexError, match="too many indices"):
        a[0, 0, 0]
    with pytest.raises(ValueError, match="permutation"):
        a.permute((0, 0))
    with pytest.raises(ValueError, match="repeated axis"):
        a.sum(axis=(1, 1))


def test_error_wrong_dtypes(device):
    with pytest.raises(TypeError):
        array(["a", "b"], device=device)
    with pytest.raises(IndexError, match="long, int or bool"):
        zeros((3,), device=device)[array([0.5], device=device)]
    with pytest.raises(TypeError):
        zeros((3,), dtype=float32, device=device).astype("complex64")


def test_mixing_devices_raises():
    from tinytorch.ndarray import available
    devs = available()
    if len(devs) < 2:
        pytest.skip("needs two devices")
    with pytest.raises(RuntimeError, match="same device"):
        zeros((2,), device=devs[0]) + zeros((2,), device=devs[1])


def test_unknown_and_unavailable_device():
    with pytest.raises(ValueError, match="unknown device"):
        zeros((2,), device="tpu")
    from tinytorch.ndarray import unavailable_reason
    if unavailable_reason("cuda"):
        with pytest.raises(RuntimeError, match="not available"):
            zeros((2,), device="cuda")


def test_setitem_from_itself_through_a_view(device):
    x = np.arange(6.0, dtype=np.float32)
    a = array(x, device=device)
    a[::-1] = a  # source and destination share one buffer
    check(a, x[::-1].copy())
    b = array(np.arange(4), device=device)
    b[b] = b * 10
    check(b, np.arange(4) * 10)


def test_check_view_uses_exact_integers():
    from tinytorch.ndarray.backend_numpy import check_view
    with pytest.raises(IndexError):
        check_view(10, (np.int64(3),), (np.int64(2**62),), 0)  # would wrap in int64 arithmetic
