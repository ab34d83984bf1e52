"""Hypothesis properties of the stride arithmetic.

The central property: any chain of movement ops (reshape, permute, broadcast, slicing with
steps, flip, indexing) applied to an NDArray and to a numpy array gives the same values,
and all but reshape-of-a-non-viewable-layout are views of the original buffer.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as hs

from tinytorch.ndarray import array
from tinytorch.ndarray import strides as st
from tinytorch.ndarray.backend_numpy import check_view

shapes = hs.lists(hs.integers(1, 4), min_size=1, max_size=4).map(tuple)


@hs.composite
def movement(draw, shape):
    """One random movement op valid for ``shape``: returns (name, argument)."""
    ndim = len(shape)
    kind = draw(hs.sampled_from(["permute", "slice", "flip", "reshape", "broadcast", "index", "newaxis"]))
    if kind == "permute":
        return kind, tuple(draw(hs.permutations(range(ndim))))
    if kind == "slice":
        key = []
        for n in shape:
            start = draw(hs.integers(-n, n))
            stop = draw(hs.integers(-n - 1, n + 1))
            step = draw(hs.sampled_from([1, 2, 3, -1, -2]))
            key.append(slice(start, stop, step))
        return kind, tuple(key)
    if kind == "flip":
        return kind, tuple(draw(hs.sets(hs.integers(0, ndim - 1), min_size=1)))
    if kind == "reshape":
        size = int(np.prod(shape))
        divisors = [d for d in range(1, size + 1) if size % d == 0]
        first = draw(hs.sampled_from(divisors))
        return kind, (first, -1)
    if kind == "broadcast":
        return kind, (draw(hs.integers(1, 3)),) + tuple(n if n != 1 else draw(hs.integers(1, 3)) for n in shape)
    if kind == "index":
        axis = draw(hs.integers(0, ndim - 1))
        if shape[axis] == 0 or ndim == 1:
            return "newaxis", 0
        return kind, (axis, draw(hs.integers(-shape[axis], shape[axis] - 1)))
    return "newaxis", draw(hs.integers(0, ndim))


def apply(op, a, is_numpy):
    kind, arg = op
    if kind == "permute":
        return a.transpose(arg) if is_numpy else a.permute(arg)
    if kind == "slice":
        return a[arg]
    if kind == "flip":
        return np.flip(a, arg) if is_numpy else a.flip(arg)
    if kind == "reshape":
        return a.reshape(arg)
    if kind == "broadcast":
        return np.broadcast_to(a, arg) if is_numpy else a.broadcast_to(arg)
    if kind == "index":
        axis, i = arg
        return a[(slice(None),) * axis + (i,)]
    return a[(slice(None),) * arg + (None,)]


@settings(max_examples=200, deadline=None)
@given(data=hs.data(), shape=shapes)
def test_any_chain_of_movement_ops_matches_numpy(data, shape):
    x = np.arange(int(np.prod(shape))).reshape(shape)
    a = array(x, device="numpy")
    for _ in range(data.draw(hs.integers(1, 5))):
        if x.size == 0:
            break
        op = data.draw(movement(x.shape))
        x, a = apply(op, x, True), apply(op, a, False)
        assert a.shape == x.shape
        check_view(a._buf.size, a.shape, a.strides, a.offset)  # every view stays inside its buffer
        if op[0] != "reshape":
            assert a.strides == tuple(s // x.itemsize for s in x.strides) or x.size == 0 \
                or any(n == 1 for n in x.shape)
    np.testing.assert_array_equal(a.compact().numpy(), np.ascontiguousarray(x))


@settings(max_examples=200, deadline=None)
@given(shape=shapes, data=hs.data())
def test_reshape_view_is_exact_when_it_exists(shape, data):
    x = np.arange(int(np.prod(shape))).reshape(shape)
    perm = data.draw(hs.permutations(range(len(shape))))
    v = x.transpose(perm)
    vshape = v.shape
    vstrides = tuple(s // x.itemsize for s in v.strides)
    size = v.size
    new_shape = data.draw(hs.sampled_from([(size,), (1, size), (size, 1)] + [
        (d, size // d) for d in range(1, size + 1) if size % d == 0]))
    strides = st.reshape_view(vshape, vstrides, new_shape)
    if strides is None:
        # numpy agrees that no view exists: reshaping would copy
        assert not np.shares_memory(v.reshape(new_shape), x)
    else:
        from numpy.lib.stride_tricks import as_strided
        view = as_strided(x, shape=new_shape, strides=tuple(s * x.itemsize for s in strides))
        np.testing.assert_array_equal(view, v.reshape(new_shape))


@given(shapes, shapes)
def test_broadcast_shapes_agrees_with_numpy(s1, s2):
    try:
        expected = np.broadcast_shapes(s1, s2)
    except ValueError:
        with pytest.raises(RuntimeError, match="cannot be broadcast"):
            st.broadcast_shapes(s1, s2)
    else:
        assert st.broadcast_shapes(s1, s2) == expected


@given(shapes)
def test_row_major_strides_are_compact(shape):
    strides = st.row_major_strides(shape)
    assert st.is_compact(shape, strides)
    assert strides == tuple(s // 8 for s in np.zeros(shape, np.int64).strides)
