"""``tt.autograd.functional`` (vjp, jvp, jacobian, hessian, vhp, hvp) and ``gradcheck`` /
``gradgradcheck``: by their definitions (always) and against PyTorch's (when installed)."""

from __future__ import annotations

import numpy as np
import pytest
from nn_helpers import needs_torch, torch

import tinytorch as tt

AF = tt.autograd.functional
X = np.array([0.3, -1.2, 2.0])
Y = np.array([[0.5, 1.5], [-0.7, 0.2]])


def f(x):
    return (x ** 2).sin() * x.sum()


def g(x, y):
    return (x[:2, None] * y).exp().sum(0), (y ** 3).sum()


def test_jacobian_of_one_function_by_its_definition():
    x = tt.tensor(X)
    jac = AF.jacobian(f, x)
    # d/dx_j [sin(x_i^2) * S] = cos(x_i^2) 2 x_i S [i == j] + sin(x_i^2)
    s = X.sum()
    expected = np.diag(np.cos(X ** 2) * 2 * X * s) + np.sin(X ** 2)[:, None]
    np.testing.assert_allclose(jac.numpy(), expected, rtol=1e-12)
    assert not jac.requires_grad and x.grad is None  # the caller's tensors are untouched


def test_vjp_jvp_and_hessian_agree_with_the_jacobian():
    x, v = tt.tensor(X), tt.tensor([1.0, -2.0, 0.5], dtype=tt.float64)
    jac = AF.jacobian(f, x).numpy()
    out, vj = AF.vjp(f, x, v)
    np.testing.assert_allclose(vj.numpy(), v.numpy() @ jac, rtol=1e-12)
    np.testing.assert_allclose(out.numpy(), f(x).numpy())
    _, jv = AF.jvp(f, x, v)
    np.testing.assert_allclose(jv.numpy(), jac @ v.numpy(), rtol=1e-12)
    scalar = lambda x: (x ** 3).sum() * x[0]  # noqa: E731
    hess = AF.hessian(scalar, x).numpy()
    expected = np.diag(6 * X * X[0])
    expected[0, :] += 3 * X ** 2
    expected[:, 0] += 3 * X ** 2
    np.testing.assert_allclose(hess, expected, rtol=1e-12)
    np.testing.assert_allclose(AF.hvp(scalar, x, v)[1].numpy(), hess @ v.numpy(), rtol=1e-12)
    np.testing.assert_allclose(AF.vhp(scalar, x, v)[1].numpy(), v.numpy() @ hess, rtol=1e-12)


def test_tuples_shapes_and_strict():
    x, y = tt.tensor(X), tt.tensor(Y)
    jac = AF.jacobian(g, (x, y))
    assert isinstance(jac, tuple) and len(jac) == 2 and len(jac[0]) == 2
    assert jac[0][0].shape == (2, 3) and jac[0][1].shape == (2, 2, 2) and jac[1][1].shape == (2, 2)
    np.testing.assert_allclose(jac[1][0].numpy(), np.zeros(3))  # the second output ignores x
    with pytest.raises(RuntimeError, match="independent of input 0"):
        AF.jacobian(lambda x, y: (y ** 2).sum(), (x, y), strict=True)
    with pytest.raises(RuntimeError, match="v can only be None"):
        AF.vjp(f, x)
    with pytest.raises(RuntimeError, match="single element"):
        AF.hessian(f, x)


def test_create_graph_keeps_derivatives_differentiable():
    x = tt.tensor(X, requires_grad=True)
    jac = AF.jacobian(f, x, create_graph=True)
    assert jac.requires_grad
    jac.trace().backward()
    assert x.grad is not None and np.all(np.isfinite(x.grad.numpy()))


def test_gradcheck_passes_a_correct_backward_and_catches_a_wrong_one():
    class Cube(tt.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x ** 3

        @staticmethod
        def backward(ctx, grad):
            (x,) = ctx.saved_tensors
            return 3 * x ** 2 * grad

    class WrongCube(Cube):
        @staticmethod
        def backward(ctx, grad):
            (x,) = ctx.saved_tensors
            return 2 * x ** 2 * grad

    x = tt.tensor(X, requires_grad=True)
    assert tt.autograd.gradcheck(Cube.apply, (x,))
    assert tt.autograd.gradgradcheck(Cube.apply, (x,))
    with pytest.raises(tt.autograd.GradcheckError, match="Jacobian mismatch"):
        tt.autograd.gradcheck(WrongCube.apply, (x,))
    assert tt.autograd.gradcheck(WrongCube.apply, (x,), raise_exception=False) is False
    assert tt.autograd.gradcheck(lambda a, b: (a @ b).tanh(), (tt.tensor(Y, requires_grad=True),
                                                                 tt.tensor(Y.T, requires_grad=True)))
    with pytest.warns(UserWarning, match="double precision"):
        tt.autograd.gradcheck(lambda a: a * 2, (tt.ones(2, requires_grad=True),), eps=1e-2, atol=1e-3)


@needs_torch
@pytest.mark.parametrize("name", ["jacobian", "hessian", "vjp", "jvp", "vhp"])
def test_against_pytorch(name):
    def run(L):
        F = L.autograd.functional
        x, y, v = L.tensor(X), L.tensor(Y), L.tensor([1.0, -2.0, 0.5])
        if name == "jacobian":
            return F.jacobian(g, (x, y))
        if name == "hessian":
            return F.hessian(lambda a, b: (a[:2] * b.sum(0)).exp().sum() * (a ** 2).sum(), (x, y))
        if name == "vjp":
            return F.vjp(g, (x, y), (L.ones(2), L.tensor(2.0)))
        if name == "jvp":
            return F.jvp(g, (x, y), (v, L.ones(2, 2)))
        return F.vhp(lambda a: (a.exp() * a).sum() * a[0], x, v)

    def flat(r):
        return [t.detach().numpy() for t in _leaves(r)]

    for ours, ref in zip(flat(run(tt)), flat(run(torch))):
        np.testing.assert_allclose(ours, ref, rtol=1e-10, atol=1e-12)


def _leaves(r):
    if isinstance(r, (tuple, list)):
        return [x for item in r for x in _leaves(item)]
    return [r]
