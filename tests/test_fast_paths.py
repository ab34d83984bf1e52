"""The fast paths of the NDArray layer give the same results as their generic fallbacks.

Each optional backend function (``interface.OPTIONAL_FUNCTIONS``) is reached through an NDArray
method that falls back to mandatory functions when a backend lacks it. Every test here runs
on every device twice: with the backend as it is, and with the optional function removed
(set to ``None``, as a backend without it declares), and compares the two with numpy.
"""

from __future__ import annotations

import numpy as np
import pytest
from adam_reference import adam_reference

from tinytorch.ndarray import array, get_backend
from tinytorch.ndarray.interface import OPTIONAL_FUNCTIONS


@pytest.fixture(params=["as is", "without"])
def variant(request, device, monkeypatch):
    """The backend as it is, or with every optional function removed."""
    if request.param == "without":
        backend = get_backend(device)
        for name in OPTIONAL_FUNCTIONS:
            monkeypatch.setattr(backend, name, None)
    return request.param


@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_matmul_of_views(device, variant, rng, dt):
    a = rng.standard_normal((6, 5)).astype(dt)
    w = rng.standard_normal((4, 5)).astype(dt)
    b = rng.standard_normal((3, 5, 2)).astype(dt)
    na, nw, nb = (array(x, device=device) for x in (a, w, b))
    tol = dict(rtol=1e-5 if dt is np.float32 else 1e-12, atol=1e-5 if dt is np.float32 else 1e-12)
    np.testing.assert_allclose((na @ nw.T).numpy(), a @ w.T, **tol)  # a transposed operand
    np.testing.assert_allclose((na[::2, 1:] @ nb[0][1:]).numpy(), a[::2, 1:] @ b[0][1:], **tol)  # steps, offsets
    np.testing.assert_allclose((na[:5] @ nb).numpy(), a[:5] @ b, **tol)  # a batch broadcast from one matrix


@pytest.mark.parametrize("op", ["sum", "max", "min"])
def test_reductions_over_middle_axes(device, variant, rng, op):
    x = rng.standard_normal((3, 4, 5, 2))
    nx = array(x, device=device)
    for axis in [0, 1, (1, 2), (0, 1, 2)]:
        np.testing.assert_allclose(getattr(nx, op)(axis).numpy(), getattr(x, op)(axis), rtol=1e-12)
        np.testing.assert_allclose(getattr(nx, op)(axis, keepdims=True).numpy(),
                                   getattr(x, op)(axis, keepdims=True), rtol=1e-12)


@pytest.mark.parametrize("amsgrad", [False, True])
@pytest.mark.parametrize("decoupled", [False, True])
def test_adam_step(device, variant, rng, amsgrad, decoupled):
    p, g, m, v = (rng.standard_normal((7, 3)) for _ in range(4))
    v, vmax = np.abs(v), (np.abs(rng.standard_normal((7, 3))) if amsgrad else None)
    hyper = dict(step_size=0.01, beta1=0.9, beta2=0.999, eps=1e-8, bias2_sqrt=0.3,
                 decay=0.99 if decoupled else 1.0, l2=0.0 if decoupled else 0.1)
    arrays = [array(x, device=device) for x in (p, m, v)]
    nvmax = None if vmax is None else array(vmax, device=device)
    ng = array(g.T.copy(), device=device).T  # a non-compact gradient
    arrays[0].adam_step_(ng, arrays[1], arrays[2], nvmax, **hyper)
    expected = adam_reference(p, g, m, v, vmax, **hyper)
    for got, want in zip(arrays + ([nvmax] if amsgrad else []), expected):
        np.testing.assert_allclose(got.numpy(), want, rtol=1e-12, atol=1e-15)


def test_adam_step_checks_shapes(device, variant):
    p = array(np.zeros(3), device=device)
    with pytest.raises(ValueError, match=r"\(3,\)"):
        p.adam_step_(array(np.zeros(4), device=device), p.copy(), p.copy(), None, step_size=0.1, beta1=0.9,
                     beta2=0.99, eps=1e-8, bias2_sqrt=1.0)


@pytest.mark.parametrize("op", ["add", "sub", "mul", "div"])
def test_in_place_updates(device, variant, rng, op):
    """Compact float arrays take one kernel writing into themselves; views, broadcasts and other
    dtypes take the general path. Both agree with numpy, and only the target changes."""
    x, y = rng.uniform(0.5, 2.0, (4, 3)), rng.uniform(0.5, 2.0, (4, 3))
    ufunc = {"add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.divide}[op]
    cases = [(lambda a: a, y), (lambda a: a, 2.5), (lambda a: a[:, ::2], y[:, ::2]), (lambda a: a, y[0]),
             (lambda a: a.T, y.T), (lambda a: a, y.astype(np.float32))]
    for pick, other in cases:
        target = array(x, device=device)
        view = pick(target)
        arg = array(other, device=device) if isinstance(other, np.ndarray) else other
        kept = arg.numpy() if isinstance(arg, type(target)) else None
        assert getattr(view, op + "_")(arg) is view
        expected = x.copy()
        ufunc(pick(expected), other, out=pick(expected), casting="unsafe")
        np.testing.assert_allclose(target.numpy(), expected, rtol=1e-6)
        if kept is not None:
            np.testing.assert_array_equal(arg.numpy(), kept)


def test_in_place_update_of_itself(device, variant):
    x = array(np.arange(6.0), device=device)
    x.add_(x)
    np.testing.assert_array_equal(x.numpy(), 2 * np.arange(6.0))


def test_in_place_update_must_keep_the_shape(device, variant):
    x = array(np.zeros(3), device=device)
    with pytest.raises(ValueError, match=r"\(2, 3\)"):
        x.add_(array(np.zeros((2, 3)), device=device))


# --- eager speed work: kernels with special cases ------------------------------------------------------
@pytest.mark.parametrize("dt", [np.float32, np.float64])
@pytest.mark.parametrize("e", [2, 3, 0.5, -0.5, -1, -2, 1, 1.5, 0, -3])
def test_scalar_pow_special_exponents(device, dt, e):
    """The C backend computes x ** 2, x ** 0.5, x ** -1... without libm's pow; the values (signs,
    zeros, infinities, NaN included) must be PyTorch's (which takes sqrt for 0.5, as numpy)."""
    torch = pytest.importorskip("torch")
    x = np.array([-2.5, -1.0, -0.0, 0.0, 0.3, 1.0, 2.0, 7.5, np.inf, -np.inf, np.nan], dtype=dt)
    expected = (torch.from_numpy(x) ** e).numpy()
    got = (array(x, device=device) ** e).numpy()
    np.testing.assert_allclose(got, expected, rtol=2e-7 if dt is np.float32 else 1e-15, equal_nan=True)
    assert got.dtype == dt


@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_broadcast_arithmetic_of_views(device, variant, rng, dt):
    """Broadcasting add/sub/mul/div (ewise_strided where the backend has it) equal numpy's, for
    rows, columns, transposed and reversed views, scalars-as-arrays and mixed dtypes."""
    a = rng.standard_normal((4, 6, 5)).astype(dt)
    b = rng.standard_normal((6, 1)).astype(dt)
    c = rng.standard_normal(5).astype(np.float32)
    na, nb, nc = (array(x, device=device) for x in (a, b, c))
    tol = dict(rtol=1e-6 if dt is np.float32 else 1e-14)
    for f in (np.add, np.subtract, np.multiply, np.divide):
        nd = {np.add: "__add__", np.subtract: "__sub__", np.multiply: "__mul__", np.divide: "__truediv__"}[f]
        np.testing.assert_allclose(getattr(na, nd)(nb).numpy(), f(a, b), **tol)
        np.testing.assert_allclose(getattr(nb, nd)(na).numpy(), f(b, a), **tol)
        np.testing.assert_allclose(getattr(na, nd)(nc).numpy(), f(a, c), rtol=1e-6)  # promotes c
        view = na.permute((2, 0, 1))[::-1, :, ::2]
        np.testing.assert_allclose(getattr(view, nd)(nb[::2].permute((1, 0))).numpy(),
                                   f(a.transpose(2, 0, 1)[::-1, :, ::2], b[::2].T), **tol)


@pytest.mark.parametrize("axis", [-1, 0, 1])
def test_softmax_and_its_backward(device, variant, rng, axis):
    """NDArray.softmax / softmax_backward (softmax_rows[_backward] along the last axis where the
    backend has them) equal the formula, on a transposed view too."""
    x = rng.standard_normal((4, 6, 5)).astype(np.float32) * 3
    g = rng.standard_normal((4, 6, 5)).astype(np.float32)
    e = np.exp(x - x.max(axis, keepdims=True))
    y = e / e.sum(axis, keepdims=True)
    got = array(x, device=device).softmax(axis)
    np.testing.assert_allclose(got.numpy(), y, rtol=1e-5, atol=1e-7)
    back = got.softmax_backward(array(g, device=device), axis)
    np.testing.assert_allclose(back.numpy(), y * (g - (g * y).sum(axis, keepdims=True)), rtol=1e-4, atol=1e-6)
    xt = array(x, device=device).permute((2, 0, 1))
    et = np.exp(x.transpose(2, 0, 1) - x.transpose(2, 0, 1).max(-1, keepdims=True))
    np.testing.assert_allclose(xt.softmax(-1).numpy(), et / et.sum(-1, keepdims=True), rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("shape", [(2, 3, 5, 5), (2, 7, 4), (4, 6)], ids=str)  # square, more queries than keys, fewer
@pytest.mark.parametrize("scale", [1.0, 0.35, -2.0])
def test_scaled_causal_softmax_and_its_backward(device, variant, rng, shape, scale):
    """softmax(-1, scale, causal=True): query i (second-last axis) sees keys j <= i, the others
    get 0; the backward's scale is the chain rule's. Equal to the formula with a -inf mask."""
    x = rng.standard_normal(shape) * 3
    g = rng.standard_normal(shape)
    queries, keys = shape[-2:]
    s = np.where(np.arange(keys) <= np.arange(queries)[:, None], x * scale, -np.inf)
    e = np.exp(s - s.max(-1, keepdims=True))
    y = e / e.sum(-1, keepdims=True)
    got = array(x, device=device).softmax(-1, scale, causal=True)
    np.testing.assert_allclose(got.numpy(), y, rtol=1e-12, atol=1e-15)
    assert np.all(got.numpy()[..., np.arange(keys) > np.arange(queries)[:, None]] == 0)
    back = got.softmax_backward(array(g, device=device), -1, scale)
    np.testing.assert_allclose(back.numpy(), scale * y * (g - (g * y).sum(-1, keepdims=True)), rtol=1e-10,
                               atol=1e-12)
    plain = array(x, device=device).softmax(-1, scale)  # the scale alone
    e = np.exp(x * scale - (x * scale).max(-1, keepdims=True))
    np.testing.assert_allclose(plain.numpy(), e / e.sum(-1, keepdims=True), rtol=1e-12, atol=1e-15)
    with pytest.raises(ValueError, match="causal"):
        array(x, device=device).softmax(0, scale, causal=True)


@pytest.mark.parametrize("dt", [np.float32, np.float64])
@pytest.mark.parametrize("case", [((2, 4, 7, 6), (6, 2, 3, 3), (1, 1), (1, 1), (1, 1), 2),
                                  ((3, 3, 9, 8), (5, 3, 3, 2), (2, 1), (1, 0), (2, 1), 1),
                                  ((1, 2, 5, 5), (4, 2, 1, 1), (1, 1), (0, 0), (1, 1), 1)], ids=str)
def test_conv2d_and_its_gradients(device, variant, rng, dt, case):
    """ndarray.windows' conv2d and gradients: the backend's kernels or im2col + matmul (+ fold)."""
    torch = pytest.importorskip("torch")
    from tinytorch.ndarray.windows import ConvGeometry, conv2d, conv2d_backward_input, conv2d_backward_weight

    x_shape, w_shape, stride, padding, dilation, groups = case
    x, w, b = (rng.standard_normal(s).astype(dt) for s in (x_shape, w_shape, w_shape[:1]))
    geom = ConvGeometry.of(x_shape, w_shape, stride, padding, dilation, groups)
    g = rng.standard_normal((x_shape[0], w_shape[0], geom[7], geom[8])).astype(dt)
    tx, tw = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    ref = torch.nn.functional.conv2d(tx, tw, torch.tensor(b), stride, padding, dilation, groups)
    ref.backward(torch.tensor(g))
    nx, nw, nb, ng = (array(a, device=device) for a in (x, w, b, g))
    tol = dict(rtol=1e-4, atol=1e-4) if dt is np.float32 else dict(rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(conv2d(nx, nw, nb, geom).numpy(), ref.detach().numpy(), **tol)
    np.testing.assert_allclose(conv2d(nx, nw, None, geom).numpy(), ref.detach().numpy() - b.reshape(-1, 1, 1), **tol)
    np.testing.assert_allclose(conv2d_backward_input(ng, nw, geom).numpy(), tx.grad.numpy(), **tol)
    np.testing.assert_allclose(conv2d_backward_weight(ng, nx, geom).numpy(), tw.grad.numpy(), **tol)
    # a non-compact input (every other column of a wider array) gives the same
    wide = array(np.repeat(x, 2, axis=3), device=device)[:, :, :, ::2]
    np.testing.assert_allclose(conv2d(wide, nw, nb, geom).numpy(), ref.detach().numpy(), **tol)


@pytest.mark.parametrize("dt", [np.float32, np.float64])
@pytest.mark.parametrize("case", [((2, 3, 8, 8), (2, 2), (2, 2), (0, 0), (1, 1), False),
                                  ((1, 2, 9, 7), (3, 3), (2, 2), (1, 1), (1, 1), True),
                                  ((2, 1, 7, 9), (2, 3), (1, 2), (1, 0), (2, 1), False)], ids=str)
def test_max_pool2d_and_its_gradient(device, variant, rng, dt, case):
    """ndarray.windows' max_pool2d (values, positions) and its backward: the backend's kernels
    or the unfolded windows with a one-hot mask of each first maximum."""
    torch = pytest.importorskip("torch")
    from tinytorch.ndarray.windows import max_pool2d, max_pool2d_backward

    shape, kernel, stride, padding, dilation, ceil_mode = case
    x = rng.standard_normal(shape).astype(dt)
    x[0, 0, 2, 3] = np.nan
    tx = torch.tensor(x, requires_grad=True)
    ref, ref_at = torch.nn.functional.max_pool2d(tx, kernel, stride, padding, dilation, ceil_mode, True)
    g = rng.standard_normal(ref.shape).astype(dt)
    ref.backward(torch.tensor(g))
    values, positions = max_pool2d(array(x, device=device), kernel, stride, padding, dilation, tuple(ref.shape[2:]))
    np.testing.assert_array_equal(values.numpy(), ref.detach().numpy())
    np.testing.assert_array_equal(positions.numpy(), ref_at.numpy())
    gx = max_pool2d_backward(array(g, device=device), positions, shape[2:])
    np.testing.assert_allclose(gx.numpy(), tx.grad.numpy(), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_cross_entropy_rows_and_its_backward(device, variant, rng, dt):
    """NDArray.cross_entropy_rows[_backward] (one pass each where the backend has them) equal
    log-softmax and its gradient computed here, ignored rows included; a bad target raises."""
    x = (rng.standard_normal((9, 6)) * 3).astype(dt)
    t = rng.integers(0, 6, 9)
    t[[2, 5]] = 4
    loss, lse, count = array(x, device=device).cross_entropy_rows(array(t, device=device), 4)
    m = x.max(1, keepdims=True)
    want_lse = (m + np.log(np.exp(x - m).sum(1, keepdims=True)))[:, 0]
    counted = t != 4
    np.testing.assert_allclose(lse.numpy(), want_lse, rtol=1e-5)
    np.testing.assert_allclose(loss.numpy(), np.where(counted, want_lse - x[np.arange(9), t], 0), rtol=1e-5,
                               atol=1e-6)
    assert count.numpy() == counted.sum()
    scale = rng.standard_normal(9).astype(dt)
    g = array(x, device=device).cross_entropy_rows_backward(array(t, device=device), lse, array(scale, device=device),
                                                           4)
    want = np.exp(x - want_lse[:, None])
    want[np.arange(9), t] -= 1
    np.testing.assert_allclose(g.numpy(), np.where(counted[:, None], want * scale[:, None], 0), rtol=1e-5,
                               atol=1e-6)
    with pytest.raises(IndexError, match="Target 6"):
        array(x, device=device).cross_entropy_rows(array(np.full(9, 6), device=device), -100)
