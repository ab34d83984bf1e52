"""``tinytorch.linalg`` against ``torch.linalg``: values, batched inputs, gradients (vs PyTorch
and vs float64 finite differences), the norms, and PyTorch's errors (``LinAlgError`` for a
singular or non-positive-definite matrix, ``RuntimeError`` for bad shapes)."""

from __future__ import annotations

import math

import numpy as np
import pytest

import tinytorch as tt

torch = pytest.importorskip("torch")


def rng(seed=0):
    return np.random.default_rng(seed)


def invertible(shape, seed=0):
    """Random matrices shifted to be well away from singular."""
    a = rng(seed).standard_normal(shape)
    return a + 3 * np.eye(shape[-1])


def positive_definite(shape, seed=0):
    a = rng(seed).standard_normal(shape)
    return a @ np.swapaxes(a, -1, -2) + shape[-1] * np.eye(shape[-1])


def pair(a, device, grad=True):
    return (tt.tensor(a, dtype=tt.float64, device=device, requires_grad=grad),
            torch.tensor(a, dtype=torch.float64, requires_grad=grad))


def close(t, ref, tol=1e-10):
    got = t.detach().numpy()
    want = ref.detach().numpy()
    assert got.shape == want.shape and got.dtype == want.dtype
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol)


def check_grad(fn, arrays, device):
    """fn(L, *tensors) -> list of outputs: tinytorch's gradient equals torch's and finite differences."""
    ours = [tt.tensor(a, dtype=tt.float64, device=device, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in arrays]
    outs_t, outs_p = fn(tt, *ours), fn(torch, *theirs)
    weights = [rng(9).standard_normal(tuple(o.shape)) for o in outs_p]
    loss_t = sum((o * tt.tensor(w, device=device)).sum() for o, w in zip(outs_t, weights))
    loss_p = sum((o * torch.tensor(w)).sum() for o, w in zip(outs_p, weights))
    grads_t = tt.autograd.grad(loss_t, ours)
    grads_p = torch.autograd.grad(loss_p, theirs)
    for g, h in zip(grads_t, grads_p):
        close(g, h, 1e-9)

    def loss(values):
        with tt.no_grad():
            outs = fn(tt, *[tt.tensor(v, dtype=tt.float64, device=device) for v in values])
        return sum(float((o.numpy() * w).sum()) for o, w in zip(outs, weights))

    eps = 1e-6
    for i, a in enumerate(arrays):
        for idx in list(np.ndindex(a.shape))[:12]:
            plus = [v.copy() for v in arrays]
            minus = [v.copy() for v in arrays]
            plus[i][idx] += eps
            minus[i][idx] -= eps
            numeric = (loss(plus) - loss(minus)) / (2 * eps)
            np.testing.assert_allclose(grads_t[i].numpy()[idx], numeric, rtol=1e-5, atol=1e-6)


# --- values -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(3, 3), (2, 4, 4), (2, 1, 2, 2)])
def test_inv_det_slogdet_values(device, shape):
    a = invertible(shape)
    a[..., 0, :] *= -1  # some negative determinants
    x, y = pair(a, device, grad=False)
    close(tt.linalg.inv(x), torch.linalg.inv(y))
    close(tt.inverse(x), torch.inverse(y))
    close(x.inverse(), y.inverse())
    close(tt.linalg.det(x), torch.linalg.det(y))
    close(x.det(), y.det())
    sign, logabs = tt.linalg.slogdet(x)
    tsign, tlogabs = torch.linalg.slogdet(y)
    close(sign, tsign)
    close(logabs, tlogabs)
    close(tt.slogdet(x).logabsdet, torch.slogdet(y).logabsdet)


def test_det_of_a_singular_matrix_is_zero(device):
    a = np.array([[1.0, 2.0], [2.0, 4.0]])
    x, y = pair(a, device, grad=False)
    close(tt.linalg.det(x), torch.linalg.det(y))


@pytest.mark.parametrize("a_shape,b_shape", [((3, 3), (3,)), ((3, 3), (3, 2)), ((2, 3, 3), (2, 3)),
                                             ((2, 3, 3), (3, 4)), ((3, 3), (2, 3, 1)), ((1, 3, 3), (2, 3, 2))])
def test_solve_shapes(device, a_shape, b_shape):
    a, b = invertible(a_shape), rng(1).standard_normal(b_shape)
    (xa, ya), (xb, yb) = pair(a, device, False), pair(b, device, False)
    close(tt.linalg.solve(xa, xb), torch.linalg.solve(ya, yb))


def test_solve_on_the_right(device):
    (xa, ya), (xb, yb) = pair(invertible((2, 3, 3)), device), pair(rng(3).standard_normal((4, 3)), device)
    close(tt.linalg.solve(xa, xb, left=False), torch.linalg.solve(ya, yb, left=False))
    arrays = [invertible((2, 3, 3)), rng(3).standard_normal((4, 3))]
    check_grad(lambda L, a, b: [L.linalg.solve(a, b, left=False)], arrays, device)


def test_cholesky_and_qr_values(device):
    for shape in [(3, 3), (2, 4, 4)]:
        x, y = pair(positive_definite(shape), device, False)
        close(tt.linalg.cholesky(x), torch.linalg.cholesky(y))
        close(tt.linalg.cholesky(x, upper=True), torch.linalg.cholesky(y, upper=True))
    for shape in [(5, 3), (3, 3), (2, 4, 2), (3, 5)]:
        x, y = pair(rng(2).standard_normal(shape), device, False)
        for mode in ["reduced", "complete"]:
            q, r = tt.linalg.qr(x, mode=mode)
            tq, tr = torch.linalg.qr(y, mode=mode)
            close(q, tq)
            close(r, tr)
        close(tt.linalg.qr(x, mode="r").R, torch.linalg.qr(y, mode="r").R)


# --- gradients -----------------------------------------------------------------------------------------------
def test_gradients_of_inverse_det_slogdet(device):
    a = invertible((2, 3, 3), seed=3)
    check_grad(lambda L, x: [L.linalg.inv(x)], [a], device)
    check_grad(lambda L, x: [L.linalg.det(x)], [a], device)
    check_grad(lambda L, x: [L.linalg.slogdet(x).logabsdet], [a], device)


def test_gradient_of_solve_broadcast(device):
    check_grad(lambda L, a, b: [L.linalg.solve(a, b)], [invertible((2, 3, 3), 4), rng(5).standard_normal((3, 2))],
               device)
    check_grad(lambda L, a, b: [L.linalg.solve(a, b)], [invertible((3, 3), 6), rng(7).standard_normal((3,))], device)


def test_gradient_of_cholesky(device):
    """Through a symmetric input, as torch's gradcheck does (the factorization reads one triangle)."""
    base = rng(8).standard_normal((2, 3, 3))
    check_grad(lambda L, a: [L.linalg.cholesky(a @ a.mT + 3 * L.eye(3, dtype=a.dtype, device=a.device))],
               [base], device)
    check_grad(lambda L, a: [L.linalg.cholesky(a @ a.mT + 3 * L.eye(3, dtype=a.dtype, device=a.device),
                                               upper=True)], [base[0]], device)


def test_gradient_of_qr(device):
    check_grad(lambda L, a: list(L.linalg.qr(a)), [rng(10).standard_normal((5, 3))], device)
    check_grad(lambda L, a: list(L.linalg.qr(a, mode="complete")), [rng(11).standard_normal((2, 3, 3))], device)
    check_grad(lambda L, a: [L.linalg.qr(a).R], [rng(12).standard_normal((4, 4))], device)


def test_qr_gradient_limits(device):
    x = tt.tensor(rng(13).standard_normal((3, 5)), dtype=tt.float64, device=device, requires_grad=True)
    with pytest.raises(NotImplementedError):
        tt.linalg.qr(x).Q.sum().backward()
    with pytest.raises(RuntimeError, match="mode='r'"):
        tt.linalg.qr(x[:, :3], mode="r").R.sum().backward()


# --- norms ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("ord", ["fro", "nuc", 2, -2, 1, -1, math.inf, -math.inf])
def test_matrix_norm(device, ord):
    a = rng(14).standard_normal((2, 3, 4))
    for dim, keepdim in [((-2, -1), False), ((0, 2), True), ((2, 1), False)]:
        check_grad(lambda L, x, dim=dim, keepdim=keepdim: [L.linalg.matrix_norm(x, ord, dim, keepdim)], [a], device)


def test_matrix_norm_errors(device):
    for bad in [lambda L: L.linalg.matrix_norm(L.ones(3, 3), 3), lambda L: L.linalg.matrix_norm(L.ones(3)),
                lambda L: L.linalg.matrix_norm(L.ones(3, 3), "max"), lambda L: L.linalg.svdvals(L.ones(3)),
                lambda L: L.linalg.matrix_norm(L.ones(2, 3), dim=(1, 1))]:
        with pytest.raises(RuntimeError):
            bad(torch)
        with pytest.raises(RuntimeError):
            bad(tt)


@pytest.mark.parametrize("shape", [(4, 3), (3, 3), (3, 5), (2, 2, 4, 3), (2, 3, 6)])
def test_svdvals(device, shape):
    x, y = pair(rng(17).standard_normal(shape), device, False)
    close(tt.linalg.svdvals(x), torch.linalg.svdvals(y))
    check_grad(lambda L, a: [L.linalg.svdvals(a)], [rng(18).standard_normal(shape)], device)


def test_svdvals_second_order_as_torch(device):
    """The backward runs through U and V as differentiable factors: its own gradient is PyTorch's."""
    a = rng(19).standard_normal((2, 4, 3))
    x, y = pair(a, device)
    w, r = rng(20).standard_normal((2, 3)), rng(21).standard_normal((2, 4, 3))
    (gx,) = tt.autograd.grad((tt.linalg.svdvals(x) * tt.tensor(w, device=device)).sum(), x, create_graph=True)
    (gy,) = torch.autograd.grad((torch.linalg.svdvals(y) * torch.tensor(w)).sum(), y, create_graph=True)
    close(gx, gy, 1e-9)
    (hx,) = tt.autograd.grad((gx * tt.tensor(r, device=device)).sum(), x)
    (hy,) = torch.autograd.grad((gy * torch.tensor(r)).sum(), y)
    close(hx, hy, 1e-9)


@pytest.mark.parametrize("ord,dim", [(None, None), (None, 1), (None, (0, 1)), (2, -1), (math.inf, None),
                                     (1, None), (-math.inf, (1, 0)), ("fro", None), (0.5, 0), ("nuc", None),
                                     (2, None), (-2, (1, 0))])
def test_linalg_norm(device, ord, dim):
    a = rng(15).standard_normal((3, 4))
    check_grad(lambda L, x: [L.linalg.norm(x, ord, dim)], [a], device)


@pytest.mark.parametrize("ord", [2, 1, 3, 0.5, math.inf, -math.inf, 0])
def test_vector_norm(device, ord):
    a = rng(16).standard_normal((2, 3, 4))
    for dim, keepdim in [(None, False), (-1, True), ((0, 2), False)]:
        x, y = pair(a, device, False)
        close(tt.linalg.vector_norm(x, ord, dim, keepdim), torch.linalg.vector_norm(y, ord, dim, keepdim))


# --- errors ----------------------------------------------------------------------------------------------------
def test_lin_alg_error_is_a_runtime_error():
    assert issubclass(tt.linalg.LinAlgError, RuntimeError)
    assert issubclass(torch.linalg.LinAlgError, RuntimeError)


def test_singular_matrices_raise_lin_alg_error(device):
    singular = np.array([[[1.0, 2.0], [2.0, 4.0]], [[1.0, 0.0], [0.0, 1.0]]])
    x, y = pair(singular, device, False)
    for call in [lambda L, t: L.linalg.inv(t), lambda L, t: L.linalg.solve(t, t[..., 0])]:
        with pytest.raises(torch.linalg.LinAlgError):
            call(torch, y)
        with pytest.raises(tt.linalg.LinAlgError):
            call(tt, x)


def test_cholesky_of_a_matrix_that_is_not_positive_definite(device):
    a = np.array([[4.0, 2.0, 0.0], [2.0, 1.0, 0.0], [0.0, 0.0, 1.0]])  # the 2x2 leading minor is singular
    x, y = pair(a, device, False)
    with pytest.raises(torch.linalg.LinAlgError) as theirs:
        torch.linalg.cholesky(y)
    with pytest.raises(tt.linalg.LinAlgError) as ours:
        tt.linalg.cholesky(x)
    assert "order 2" in str(theirs.value) and "order 2" in str(ours.value)


def test_bad_shapes_raise_runtime_error(device):
    for call in [lambda L: L.linalg.inv(L.ones(2, 3)), lambda L: L.linalg.det(L.ones(3)),
                 lambda L: L.linalg.cholesky(L.ones(2, 3)), lambda L: L.linalg.solve(L.eye(3), L.ones(2)),
                 lambda L: L.linalg.inv(L.ones(3, 3, dtype=L.int64)),
                 lambda L: L.linalg.solve(L.eye(2), L.ones(2, dtype=L.float64))]:
        with pytest.raises(RuntimeError):
            call(torch)
        with pytest.raises(RuntimeError):
            call(tt)


def test_linalg_is_a_module_of_the_front_door():
    assert tt.linalg.inv is tt.inverse and tt.linalg.det is tt.det
    assert "linalg" in tt.__all__
