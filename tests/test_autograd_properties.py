"""Property tests (hypothesis): gradients of broadcast inputs, of movement chains and of
indexing agree with numpy for shapes and keys drawn at random."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinytorch as tt

SETTINGS = settings(max_examples=40, deadline=None)


def unbroadcast(g: np.ndarray, shape: tuple) -> np.ndarray:
    """The numpy reference: sum over the axes broadcasting added or stretched."""
    while g.ndim > len(shape):
        g = g.sum(0)
    for i, n in enumerate(shape):
        if n == 1:
            g = g.sum(i, keepdims=True)
    return g


@SETTINGS
@given(shapes=hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=4, max_side=3),
       seed=st.integers(0, 2**16))
def test_broadcast_gradients(device, shapes, seed):
    rng = np.random.default_rng(seed)
    a_np, b_np = (rng.normal(size=s) for s in shapes.input_shapes)
    w = rng.normal(size=shapes.result_shape)
    a = tt.tensor(a_np, device=device, requires_grad=True)
    b = tt.tensor(b_np, device=device, requires_grad=True)
    ((a * b + a) * tt.tensor(w, device=device)).sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), unbroadcast(w * b_np + w, a_np.shape), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(b.grad.numpy(), unbroadcast(w * a_np, b_np.shape), rtol=1e-10, atol=1e-12)


@SETTINGS
@given(data=st.data())
def test_gradient_of_random_basic_index(device, data):
    shape = data.draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4))
    key = data.draw(hnp.basic_indices(shape, allow_newaxis=True, allow_ellipsis=True))
    x_np = np.arange(np.prod(shape), dtype=np.float64).reshape(shape)
    x = tt.tensor(x_np, device=device, requires_grad=True)
    parts = key if isinstance(key, tuple) else (key,)
    if any(isinstance(k, slice) and k.step is not None and k.step < 0 for k in parts):
        with pytest.raises(ValueError, match="step must be greater than zero"):  # as PyTorch
            x[key]
        return
    out = x[key]
    np.testing.assert_array_equal(out.detach().numpy(), x_np[key])
    w = np.random.default_rng(0).normal(size=out.shape)
    (out * tt.tensor(w, device=device)).sum().backward()
    expected = np.zeros(shape)
    expected[key] += w  # basic indices never select an element twice
    np.testing.assert_allclose(x.grad.numpy(), expected)


@SETTINGS
@given(shape=hnp.array_shapes(min_dims=1, max_dims=3, max_side=4), seed=st.integers(0, 2**16))
def test_gradient_of_integer_index_with_repeats(device, shape, seed):
    rng = np.random.default_rng(seed)
    idx = rng.integers(-shape[0], shape[0], size=rng.integers(1, 6))
    x_np = rng.normal(size=shape)
    x = tt.tensor(x_np, device=device, requires_grad=True)
    out = x[tt.tensor(idx, device=device)]
    w = rng.normal(size=out.shape)
    (out * tt.tensor(w, device=device)).sum().backward()
    expected = np.zeros(shape)
    np.add.at(expected, idx, w)  # every read of a row sends its gradient back there
    np.testing.assert_allclose(x.grad.numpy(), expected, rtol=1e-12)


@SETTINGS
@given(shape=hnp.array_shapes(min_dims=2, max_dims=4, max_side=4), seed=st.integers(0, 2**16))
def test_gradient_through_movement_chain(device, shape, seed):
    rng = np.random.default_rng(seed)
    perm = tuple(rng.permutation(len(shape)).tolist())
    x_np = rng.normal(size=shape)
    x = tt.tensor(x_np, device=device, requires_grad=True)
    y = x.permute(*perm).flip(0).reshape(-1)[::2]
    ref = np.flip(x_np.transpose(perm), 0).reshape(-1)[::2]
    np.testing.assert_array_equal(y.detach().numpy(), ref)
    w = rng.normal(size=y.shape)
    (y * tt.tensor(w, device=device)).sum().backward()
    source = np.flip(np.arange(x_np.size).reshape(shape).transpose(perm), 0).reshape(-1)[::2]  # where each came from
    expected = np.zeros(x_np.size)
    np.add.at(expected, source, w)
    np.testing.assert_allclose(x.grad.numpy(), expected.reshape(shape))
