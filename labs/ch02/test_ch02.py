"""Lab 2 grader: strides, offsets and zero-copy views."""

import numpy as np
import pytest

import tinytorch.ndarray.backend_numpy as backend_numpy
import tinytorch.ndarray.strides as strides_module
from tinytorch.labs import check, check_close, check_equal, check_exact, check_raises
from tinytorch.ndarray import array

TITLE = "strides and views"
EXERCISES = {
    "2.1": "permute_view",
    "2.2": "broadcast_strides",
    "2.3": "slice_view",
    "2.4": "reshape_view",
    "2.5": "compact (numpy backend kernel)",
}
#: the library's own version of each exercise: it raises if the notebook's code calls it while graded
REFERENCES = {
    "2.1": ["tinytorch.ndarray.strides:permute_view"],
    "2.2": ["tinytorch.ndarray.strides:broadcast_strides"],
    "2.3": ["tinytorch.ndarray.strides:slice_view"],
    "2.4": ["tinytorch.ndarray.strides:reshape_view"],
    "2.5": ["tinytorch.ndarray.backend_numpy:compact"],
}
#: helpers an exercise forbids (the exercise text says so)
FORBIDDEN = {"2.5": ["numpy.lib.stride_tricks:as_strided"]}


def np_strides(x):
    return tuple(s // x.itemsize for s in x.strides)


def positions(shape, strides, offset=0):
    """Buffer positions a view reads, in row-major order of the view (its whole meaning)."""
    return [offset + sum(i * s for i, s in zip(idx, strides)) for idx in np.ndindex(*shape)]


def data(shape, dtype=np.float64):
    return np.arange(int(np.prod(shape)), dtype=dtype).reshape(shape)


# --- 2.1 permute ------------------------------------------------------------------------------
@pytest.mark.points(2, exercise="2.1", hint="reorder both the shape and the strides by axes")
def test_permute_view(lab):
    """permute_view reorders shape and strides like np.transpose"""
    permute_view = lab.defined("permute_view")
    for shape, axes in [((2, 3), (1, 0)), ((2, 3, 4), (2, 0, 1)), ((2, 3, 4), (0, 1, 2)), ((5, 1, 2, 3), (3, 1, 0, 2))]:
        x = data(shape)
        new_shape, new_strides = permute_view(shape, np_strides(x), axes)
        expected = np.transpose(x, axes)
        check_equal(tuple(new_shape), expected.shape, f"permute_view({shape}, ..., {axes}) shape")
        check_equal(tuple(new_strides), np_strides(expected), f"permute_view({shape}, {np_strides(x)}, {axes}) strides")
    check_raises(ValueError, permute_view, (2, 3), (3, 1), (0, 0), hint="axes must be a permutation")


@pytest.mark.points(2, exercise="2.1")
def test_permute_drives_ndarray(lab, monkeypatch):
    """NDArray.permute and .T use your permute_view and read the right values"""
    lab.plug(monkeypatch, strides_module, "permute_view")
    x = data((2, 3, 4))
    a = array(x, device="numpy")
    check_close(a.permute((1, 2, 0)).numpy(), x.transpose(1, 2, 0), "a.permute((1, 2, 0))")
    m = array(data((3, 5)), device="numpy")
    check_close(m.T.numpy(), data((3, 5)).T, "m.T")
    check_close((m.T @ m).numpy(), data((3, 5)).T @ data((3, 5)), "m.T @ m")


# --- 2.2 broadcast ------------------------------------------------------------------------------
@pytest.mark.points(2, exercise="2.2", hint="align on the right; new leading axes and stretched 1s get stride 0")
def test_broadcast_strides(lab):
    """broadcast_strides gives stride 0 exactly on broadcast axes"""
    broadcast_strides = lab.defined("broadcast_strides")
    for shape, target in [((3, 1), (2, 3, 4)), ((4,), (3, 4)), ((1,), (5,)), ((2, 3), (2, 3)),
                          ((1, 3, 1), (2, 3, 5)), ((), (2, 2))]:
        x = data(shape)
        expected = np.broadcast_to(x, target)
        check_equal(tuple(broadcast_strides(shape, np_strides(x), target)), np_strides(expected),
                    f"broadcast_strides({shape}, {np_strides(x)}, {target})")


@pytest.mark.points(1, exercise="2.2")
def test_broadcast_strides_rejects(lab):
    """broadcast_strides raises RuntimeError for shapes that do not broadcast"""
    broadcast_strides = lab.defined("broadcast_strides")
    for shape, strides, target in [((3,), (1,), (4,)), ((2, 3), (3, 1), (3,)), ((2, 1), (1, 1), (3, 4))]:
        check_raises(RuntimeError, broadcast_strides, shape, strides, target)


@pytest.mark.points(2, exercise="2.2")
def test_broadcast_drives_arithmetic(lab, monkeypatch):
    """arithmetic on NDArrays of different shapes broadcasts through your function"""
    lab.plug(monkeypatch, strides_module, "broadcast_strides")
    col, row = data((3, 1)), data((4,)) * 10
    a, b = array(col, device="numpy"), array(row, device="numpy")
    check_close((a + b).numpy(), col + row, "array((3, 1)) + array((4,))")
    check_close(a.broadcast_to((2, 3, 4)).numpy(), np.broadcast_to(col, (2, 3, 4)), "broadcast_to((2, 3, 4))")


# --- 2.3 slicing ----------------------------------------------------------------------------------
SLICES = [slice(None), slice(2, 7), slice(None, None, 2), slice(8, 2, -2), slice(None, None, -1),
          slice(-3, None), slice(5, 5), slice(100, 200), slice(-100, 3), slice(1, None, 3), slice(None, -2, -3)]


@pytest.mark.points(3, exercise="2.3", hint="s.indices(n) clips start/stop/step; len(range(start, stop, step)) counts")
def test_slice_view(lab):
    """slice_view agrees with numpy slicing for steps, negatives and empty slices"""
    slice_view = lab.defined("slice_view")
    for n in (10, 1, 7):
        for stride in (1, 3, -2):
            for s in SLICES:
                length, new_stride, shift = slice_view(n, stride, s)
                got = positions((length,), (new_stride,), shift) if length else []
                expected = [i * stride for i in range(n)][s]
                check_equal(list(got), expected, f"the positions selected by slice_view({n}, {stride}, {s})")
                check_equal(int(length), len(expected), f"slice_view({n}, {stride}, {s}) length")
                if not expected:
                    check_equal(int(shift), 0, f"slice_view({n}, {stride}, {s}) offset shift of an empty slice",
                                hint="an empty slice selects nothing: its shift is 0, as the exercise says")


@pytest.mark.points(2, exercise="2.3")
def test_slicing_drives_getitem(lab, monkeypatch):
    """a[...] with slices on real NDArrays uses your slice_view"""
    lab.plug(monkeypatch, strides_module, "slice_view")
    x = data((5, 6))
    a = array(x, device="numpy")
    for key in [(slice(1, 4), slice(None, None, 2)), (slice(None, None, -1), 3), (slice(-2, None), slice(5, 0, -2))]:
        check_close(a[key].numpy(), x[key], f"a[{key}]")


# --- 2.4 reshape ---------------------------------------------------------------------------------------
def _reshape_check(reshape_view, shape, strides, offset, new_shape):
    got = reshape_view(shape, strides, new_shape)
    what = f"reshape_view({shape}, {strides}, {new_shape})"
    check(got is not None, f"{what} returned None, but a view exists", "see the grouping rule in the exercise")
    check_equal(positions(new_shape, tuple(got), offset), positions(shape, strides, offset),
                f"the elements read by {what} (in order)")


@pytest.mark.points(3, exercise="2.4", hint="a compact input: just the row-major strides of new_shape")
def test_reshape_compact(lab):
    """reshape_view of compact arrays"""
    reshape_view = lab.defined("reshape_view")
    for shape, new in [((2, 6), (3, 4)), ((24,), (2, 3, 4)), ((2, 3, 4), (24,)), ((2, 3, 4), (6, 1, 4)),
                       ((1, 5), (5,)), ((5,), (5, 1, 1))]:
        _reshape_check(reshape_view, shape, np_strides(data(shape)), 0, new)


@pytest.mark.points(3, exercise="2.4")
def test_reshape_non_compact(lab):
    """reshape_view finds views of transposed, sliced and flipped arrays when they exist"""
    reshape_view = lab.defined("reshape_view")
    x = data((4, 6))
    cases = [(x.T, (2, 3, 4)), (x[:, ::2], (4, 3, 1)), (data((2, 3, 4)).transpose(2, 0, 1), (4, 6)),
             (data((6, 4))[::-1], (3, 2, 4)), (data((3, 8))[:, :4], (3, 2, 2))]
    for v, new in cases:
        offset = (v.__array_interface__["data"][0] - v.base.__array_interface__["data"][0]) // 8
        _reshape_check(reshape_view, v.shape, np_strides(v), offset, new)


@pytest.mark.points(2, exercise="2.4", hint="a group of old axes that is not contiguous within itself cannot merge")
def test_reshape_needs_copy(lab, monkeypatch):
    """reshape_view returns None when no view exists, and NDArray.reshape still gets it right"""
    reshape_view = lab.defined("reshape_view")
    for v, new in [(data((3, 2)).T, (6,)), (data((4, 6))[:, :3], (12,)), (data((2, 3, 4)).transpose(1, 0, 2), (6, 4))]:
        got = reshape_view(v.shape, np_strides(v), new)
        check(got is None, f"reshape_view({v.shape}, {np_strides(v)}, {new}) returned {got}, expected None "
              "(no strides can read these elements in row-major order)")
    lab.plug(monkeypatch, strides_module, "reshape_view")
    a = array(data((4, 6)), device="numpy")
    check_close(a.T.reshape((3, 8)).numpy(), data((4, 6)).T.reshape(3, 8), "a.T.reshape((3, 8)) with your reshape_view")


# --- 2.5 compact ------------------------------------------------------------------------------------------
@pytest.mark.points(4, exercise="2.5", hint="out[k] is the k-th element of the view in row-major order")
def test_compact_kernel(lab):
    """compact copies transposed, sliced, flipped and broadcast views of every dtype"""
    compact = lab.defined("compact")
    rng = np.random.default_rng(0)
    for dtype in (np.float32, np.float64, np.int64, np.bool_):
        if dtype == np.int64:  # beyond 2**53: a trip through float64 would change them
            x = rng.integers(-2 ** 62, 2 ** 62, size=(4, 5, 6), dtype=np.int64)
        else:  # float64 values that float32 cannot hold: a trip through float32 would change them
            x = (rng.standard_normal((4, 5, 6)) * 10).astype(dtype)
        buf = x.reshape(-1)
        views = [x, x.transpose(2, 0, 1), x[1:3, ::-2, 1::3], x[::-1, 2, :], x[:, :1, :],
                 np.broadcast_to(x[:, :1, 2:3], (4, 5, 6)), x[3, 4, 5, ...], x[:, :0]]
        for v in views:
            offset = (v.__array_interface__["data"][0] - x.__array_interface__["data"][0]) // x.itemsize
            out = np.zeros(v.size, dtype=dtype)
            result = compact(buf, out, v.shape, np_strides(v), offset)
            check(result is None, "compact returned a value; it must write into `out` and return None")
            check_exact(out, np.ascontiguousarray(v).reshape(-1),
                        f"out after compact(buf, out, {v.shape}, {np_strides(v)}, {offset}) [{np.dtype(dtype).name}]",
                        hint="gather with a[positions] straight into out; never convert to another dtype")


@pytest.mark.points(1, exercise="2.5")
def test_compact_checks_size(lab):
    """compact raises ValueError when out has the wrong size"""
    compact = lab.defined("compact")
    check_raises(ValueError, compact, np.arange(6.0), np.empty(5), (2, 3), (3, 1), 0)


@pytest.mark.points(3, exercise="2.5")
def test_compact_drives_the_numpy_backend(lab, monkeypatch):
    """the numpy backend runs on your compact: copies, broadcast arithmetic, reductions, matmul"""
    lab.plug(monkeypatch, backend_numpy, "compact")
    x, y = data((3, 4)), data((4,)) + 1
    a, b = array(x, device="numpy"), array(y, device="numpy")
    t = a.T.compact()
    check(t.is_compact(), "a.T.compact() is not compact")
    check_close(t.numpy(), x.T, "a.T.compact()")
    check_close((a[:, ::-1] * b).numpy(), x[:, ::-1] * y, "a[:, ::-1] * b")
    check_close(a.T.sum(axis=1).numpy(), x.T.sum(axis=1), "a.T.sum(axis=1)")
    check_close((a.T @ a).numpy(), x.T @ x, "a.T @ a")
