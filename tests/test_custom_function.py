"""PyTorch's custom autograd Function (``forward(ctx, ...)`` / ``backward(ctx, ...)``) and
``inference_mode``, run the same way on tinytorch and, when it is installed, on PyTorch.

Each test takes ``L``, the library under test, so one program checks both: PyTorch's run shows
the test encodes PyTorch's behaviour, tinytorch's run checks ours.
"""

from __future__ import annotations

import importlib.util
from types import ModuleType

import numpy as np
import pytest

import tinytorch as tt

LIBS = [pytest.param(tt, id="tinytorch"),
        pytest.param("torch", id="torch", marks=pytest.mark.skipif(importlib.util.find_spec("torch") is None,
                                                                    reason="torch is not installed"))]
X = np.array([[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]])


@pytest.fixture(params=LIBS)
def L(request: pytest.FixtureRequest) -> ModuleType:
    return __import__("torch") if request.param == "torch" else request.param


def leaf(L: ModuleType, a: np.ndarray = X) -> object:
    return L.tensor(a, requires_grad=True)


def square(L: ModuleType) -> type:
    class Square(L.autograd.Function):
        @staticmethod
        def forward(ctx, x):  # type: ignore[no-untyped-def]
            ctx.save_for_backward(x)
            ctx.grad_was_on = L.is_grad_enabled()
            return x * x

        @staticmethod
        def backward(ctx, g):  # type: ignore[no-untyped-def]
            (x,) = ctx.saved_tensors
            return 2 * x * g
    return Square


def test_one_output_gradient_and_node(L: ModuleType) -> None:
    Square = square(L)
    x = leaf(L)
    y = Square.apply(x)
    assert y.requires_grad and type(y.grad_fn).__name__ != "NoneType"
    assert "SquareBackward" in y.grad_fn.name()
    assert y.grad_fn.grad_was_on is False, "forward runs with grad mode off"
    assert y.grad_fn.needs_input_grad == (True,)
    (y * 3).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 6 * X)


def test_inputs_that_need_no_grad_make_no_node(L: ModuleType) -> None:
    Square = square(L)
    y = Square.apply(L.tensor(X))
    assert not y.requires_grad and y.grad_fn is None
    with L.no_grad():
        assert Square.apply(leaf(L)).grad_fn is None
    np.testing.assert_allclose(y.numpy(), X * X)


def test_numbers_among_the_inputs_get_none(L: ModuleType) -> None:
    class Scale(L.autograd.Function):
        @staticmethod
        def forward(ctx, x, k, y):  # type: ignore[no-untyped-def]
            ctx.k = k
            return x * k + y

        @staticmethod
        def backward(ctx, g):  # type: ignore[no-untyped-def]
            assert ctx.needs_input_grad == (True, False, False)
            return g * ctx.k, None, None

    x = leaf(L)
    Scale.apply(x, 2.5, L.ones(3)).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), np.full(X.shape, 2.5))


def two_outputs(L: ModuleType) -> type:
    class ProdSum(L.autograd.Function):
        @staticmethod
        def forward(ctx, a, b):  # type: ignore[no-untyped-def]
            ctx.save_for_backward(a, b)
            return a * b, a + b

        @staticmethod
        def backward(ctx, g_prod, g_sum):  # type: ignore[no-untyped-def]
            a, b = ctx.saved_tensors
            return g_prod * b + g_sum, g_prod * a + g_sum
    return ProdSum


def test_two_outputs_both_used(L: ModuleType) -> None:
    a, b = leaf(L), leaf(L, X[::-1].copy())
    p, s = two_outputs(L).apply(a, b)
    assert p.shape == s.shape == X.shape and p.requires_grad and s.requires_grad
    np.testing.assert_allclose(p.detach().numpy(), X * X[::-1])
    (p * 2 + s * 5).sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), 2 * X[::-1] + 5)
    np.testing.assert_allclose(b.grad.numpy(), 2 * X + 5)


def test_an_unused_output_gets_zeros(L: ModuleType) -> None:
    a, b = leaf(L), leaf(L, X[::-1].copy())
    p, _ = two_outputs(L).apply(a, b)
    p.sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), X[::-1])
    np.testing.assert_allclose(b.grad.numpy(), X)


def test_integer_and_marked_outputs_are_not_differentiable(L: ModuleType) -> None:
    class SortIt(L.autograd.Function):
        @staticmethod
        def forward(ctx, x):  # type: ignore[no-untyped-def]
            values, indices = x.sort(dim=1)
            flag = (values > 0).to(x.dtype)
            ctx.mark_non_differentiable(indices, flag)
            ctx.save_for_backward(indices)
            return values, indices, flag

        @staticmethod
        def backward(ctx, g, g_indices, g_flag):  # type: ignore[no-untyped-def]
            (indices,) = ctx.saved_tensors
            return L.zeros_like(g).scatter(1, indices, g)

    x = leaf(L)
    values, indices, flag = SortIt.apply(x)
    assert values.requires_grad and not indices.requires_grad and not flag.requires_grad
    (values * L.arange(3.0)).sum().backward()
    expected = np.zeros_like(X)
    np.put_along_axis(expected, np.argsort(X, axis=1), np.arange(3.0)[None].repeat(2, 0), axis=1)
    np.testing.assert_allclose(x.grad.numpy(), expected)


def test_setup_context_style(L: ModuleType) -> None:
    class Cube(L.autograd.Function):
        @staticmethod
        def forward(x):  # type: ignore[no-untyped-def]
            return x ** 3

        @staticmethod
        def setup_context(ctx, inputs, output):  # type: ignore[no-untyped-def]
            (x,) = inputs
            ctx.save_for_backward(x)

        @staticmethod
        def backward(ctx, g):  # type: ignore[no-untyped-def]
            (x,) = ctx.saved_tensors
            return 3 * x ** 2 * g

    x = leaf(L)
    Cube.apply(x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 3 * X ** 2)


def test_a_saved_output_gives_exact_second_derivatives(L: ModuleType) -> None:
    class Exp(L.autograd.Function):
        @staticmethod
        def forward(ctx, x):  # type: ignore[no-untyped-def]
            y = x.exp()
            ctx.save_for_backward(y)
            return y

        @staticmethod
        def backward(ctx, g):  # type: ignore[no-untyped-def]
            (y,) = ctx.saved_tensors
            return g * y

    x = leaf(L)
    (g,) = L.autograd.grad(Exp.apply(x).sum(), x, create_graph=True)
    (h,) = L.autograd.grad((g * g).sum(), x)
    np.testing.assert_allclose(g.detach().numpy(), np.exp(X), rtol=1e-6)
    np.testing.assert_allclose(h.numpy(), 2 * np.exp(2 * X), rtol=1e-6)


def test_once_differentiable_refuses_a_second_derivative(L: ModuleType) -> None:
    once = tt.autograd.once_differentiable if L is tt else L.autograd.function.once_differentiable

    class Sq(L.autograd.Function):
        @staticmethod
        def forward(ctx, x):  # type: ignore[no-untyped-def]
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        @once
        def backward(ctx, g):  # type: ignore[no-untyped-def]
            (x,) = ctx.saved_tensors
            return 2 * x * g

    x = leaf(L)
    (g,) = L.autograd.grad(Sq.apply(x).sum(), x, create_graph=True)
    np.testing.assert_allclose(g.detach().numpy(), 2 * X)
    with pytest.raises(RuntimeError):
        L.autograd.grad(g.sum(), x)


def test_errors(L: ModuleType) -> None:
    Square = square(L)
    y = Square.apply(leaf(L))
    y.sum().backward()
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        y.grad_fn.saved_tensors  # noqa: B018  (freed after backward)

    class TooMany(L.autograd.Function):
        @staticmethod
        def forward(ctx, x):  # type: ignore[no-untyped-def]
            return x + 1

        @staticmethod
        def backward(ctx, g):  # type: ignore[no-untyped-def]
            return g, g

    with pytest.raises(RuntimeError, match="incorrect number of gradients"):
        TooMany.apply(leaf(L)).sum().backward()

    class ExtraNone(L.autograd.Function):
        @staticmethod
        def forward(ctx, x):  # type: ignore[no-untyped-def]
            return x + 1

        @staticmethod
        def backward(ctx, g):  # type: ignore[no-untyped-def]
            return g, None

    x = leaf(L)
    ExtraNone.apply(x).sum().backward()  # PyTorch accepts surplus Nones
    np.testing.assert_allclose(x.grad.numpy(), np.ones_like(X))


def test_mark_dirty_is_refused_clearly() -> None:
    class AddOne(tt.autograd.Function):
        @staticmethod
        def forward(ctx, x):  # type: ignore[no-untyped-def]
            x.add_(1)
            ctx.mark_dirty(x)
            return x

        @staticmethod
        def backward(ctx, g):  # type: ignore[no-untyped-def]
            return g

    with pytest.raises(NotImplementedError, match="in-place"):
        AddOne.apply(tt.tensor(X) * 1)


def test_the_books_kind_of_function_still_works() -> None:
    """Chapter 5's Function (an instance method ``forward`` on NDArrays) through the same class."""
    class Double(tt.autograd.Function):
        def forward(self, a):  # type: ignore[no-untyped-def]
            return a * 2

        def backward(self, g):  # type: ignore[no-untyped-def]
            return g * 2

    x = leaf(tt)
    y = Double.apply(x)
    assert isinstance(y.grad_fn, Double)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), np.full(X.shape, 2.0))


def test_inference_mode(L: ModuleType) -> None:
    x = leaf(L)
    assert not L.is_inference_mode_enabled()
    with L.inference_mode():
        assert L.is_inference_mode_enabled() and not L.is_grad_enabled()
        assert not (x * 2).requires_grad
        with L.inference_mode(False):
            assert not L.is_inference_mode_enabled()
    assert L.is_grad_enabled() and not L.is_inference_mode_enabled()

    @L.inference_mode()
    def called(t):  # type: ignore[no-untyped-def]
        return t * 2

    @L.inference_mode
    def bare(t):  # type: ignore[no-untyped-def]
        return t * 2

    @L.no_grad
    def bare_no_grad(t):  # type: ignore[no-untyped-def]
        return t * 2

    assert not called(x).requires_grad and not bare(x).requires_grad and not bare_no_grad(x).requires_grad
    assert (x * 2).requires_grad
