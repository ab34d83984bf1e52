"""The autograd engine: higher-order gradients, accumulation, graph freeing, grad mode,
detach, ``tt.autograd.grad``, in-place rules, custom Functions and deep graphs."""

from __future__ import annotations

import copy
import math
import weakref

import numpy as np
import pytest

import tinytorch as tt
from tinytorch.autograd import Function


def t64(values, device, requires_grad=True):
    return tt.tensor(values, dtype=tt.float64, device=device, requires_grad=requires_grad)


# --- higher-order gradients -----------------------------------------------------------------------
def nth_derivative(f, x, n):
    """d^n/dx^n of sum(f(x)) elementwise, by differentiating the gradient again."""
    g = f(x).sum()
    for i in range(n):
        (g,) = tt.autograd.grad(g.sum() if i else g, x, create_graph=True)
    return g


@pytest.mark.parametrize("name,f,d2", [
    ("cube", lambda x: x ** 3, lambda x: 6 * x),
    ("tanh", lambda x: x.tanh(), lambda x: -2 * np.tanh(x) * (1 - np.tanh(x) ** 2)),
    ("sigmoid", lambda x: x.sigmoid(), lambda x: (s := 1 / (1 + np.exp(-x))) * (1 - s) * (1 - 2 * s)),
    ("exp", lambda x: tt.exp(x), np.exp),
    ("log", lambda x: tt.log(x), lambda x: -1 / x ** 2),
    ("sqrt", lambda x: x.sqrt(), lambda x: -0.25 * x ** -1.5),
    ("sin", lambda x: x.sin(), lambda x: -np.sin(x)),
    ("div", lambda x: 1 / x, lambda x: 2 / x ** 3),
    ("erf", lambda x: x.erf(), lambda x: -4 * x / math.sqrt(math.pi) * np.exp(-x ** 2)),
])
def test_second_derivatives(name, f, d2, device):
    values = np.array([0.3, 0.9, 1.7])
    x = t64(values, device)
    np.testing.assert_allclose(nth_derivative(f, x, 2).detach().numpy(), d2(values), rtol=1e-10)


def test_third_derivative_of_cube(device):
    x = t64([1.0, -2.0], device)
    np.testing.assert_allclose(nth_derivative(lambda v: v ** 3, x, 3).detach().numpy(), [6.0, 6.0])


def test_softmax_hessian_vector_product_matches_finite_differences(device):
    rng = np.random.default_rng(0)
    x0, v, w = rng.normal(size=4), rng.normal(size=4), rng.normal(size=4)

    def grad_at(values):
        x = t64(values, device)
        (g,) = tt.autograd.grad((tt.softmax(x, 0) * t64(w, device, False)).sum(), x, create_graph=True)
        return x, g

    x, g = grad_at(x0)
    (hv,) = tt.autograd.grad((g * t64(v, device, False)).sum(), x)
    eps = 1e-6
    fd = (grad_at(x0 + eps * v)[1].detach().numpy() - grad_at(x0 - eps * v)[1].detach().numpy()) / (2 * eps)
    np.testing.assert_allclose(hv.numpy(), fd, rtol=1e-6, atol=1e-8)


def test_double_backward_through_backward(device):
    """``backward(create_graph=True)`` leaves a differentiable ``.grad``."""
    x = t64([2.0], device)
    (x ** 4).sum().backward(create_graph=True)
    assert x.grad.requires_grad
    (g2,) = tt.autograd.grad(x.grad.sum(), x)
    np.testing.assert_allclose(g2.numpy(), [12 * 4.0])


def test_second_order_vs_torch(device):
    torch = pytest.importorskip("torch")
    values = np.array([[0.2, -1.3, 0.7], [1.1, 0.4, -0.6]])
    results = []
    for lib, make in ((tt, lambda v: t64(v, device)), (torch, lambda v: torch.tensor(v, requires_grad=True))):
        x = make(values)
        y = (lib.log_softmax(x, 1) * x.tanh()).sum() + (x.sigmoid() ** 2).mean()
        (g,) = lib.autograd.grad(y, x, create_graph=True)
        (h,) = lib.autograd.grad((g * g).sum(), x)
        results.append(h.detach().numpy())
    np.testing.assert_allclose(*results, rtol=1e-10)


# --- accumulation, retain_graph, freeing ----------------------------------------------------------------
def test_gradients_accumulate_across_backward_calls(device):
    x = t64([1.0, 2.0], device)
    (x * 3).sum().backward()
    first = x.grad
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [3 + 2, 3 + 4])
    assert x.grad is first, "accumulation is in place, as in PyTorch"


def test_gradient_sums_over_every_use(device):
    x = t64([1.5], device)
    y = x * x + x.exp() * x - 2 * x  # x used five times, diamond-shaped graph
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * 1.5 + math.exp(1.5) * 2.5 - 2)


def test_leaf_gradients_do_not_alias(device):
    a, b = t64([1.0, 2.0], device), t64([3.0, 4.0], device)
    (a + b).sum().backward()
    with tt.no_grad():
        b.grad.mul_(10)
    np.testing.assert_allclose(a.grad.numpy(), [1.0, 1.0])


def test_user_gradient_is_not_modified(device):
    x = t64([1.0, 2.0], device)
    g = t64([1.0, 1.0], device, requires_grad=False)
    (x + 0).backward(g)
    (x + 0).backward(g)
    np.testing.assert_allclose(g.numpy(), [1.0, 1.0])
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 2.0])


def test_a_fresh_gradient_is_stored_as_grad_without_a_copy(device):
    made = []

    class Doubled(Function):  # 2x; its backward shows the test the gradient it returns
        def forward(self, a):
            return a * 2.0

        def backward(self, g):
            made.append(g * 2.0)
            return made[-1]

    class FreshDoubled(Doubled):
        fresh_grads = True

    for cls, stored in ((FreshDoubled, True), (Doubled, False)):
        x = t64([1.0, 2.0], device)
        cls.apply(x).sum().backward()
        np.testing.assert_allclose(x.grad.numpy(), [2.0, 2.0])
        assert (x.grad._data._buf is made[-1]._data._buf) == stored


def test_gradients_summed_into_a_leaf_are_freed_during_backward(device):
    """A weight used many times: each use's gradient is added into the one collected so far and
    must be freed then, not held until backward ends (an LSTM's 64 time steps would otherwise
    keep 64 weight gradients alive)."""
    made, alive_at_end = [], []

    class Scale(Function):  # x * w, whose backward returns new arrays
        fresh_grads = True

        def forward(self, x, w):
            return x * w

        def backward(self, g):
            x, w = self.inputs
            dw = g * x
            made.append(weakref.ref(dw))
            if len(made) == 6:  # the innermost use, reached last
                alive_at_end.append(sum(r() is not None for r in made[:-1]))
            return g * w, dw

    w = t64([0.5, 2.0, 1.0], device)
    y = t64([1.0, 1.0, 1.0], device)
    for _ in range(6):
        y = Scale.apply(y, w)
    y.sum().backward()
    # the sum collected so far, and at most the previous use's gradient that the engine's loop
    # still names; not all five
    assert alive_at_end[0] <= 2, alive_at_end
    np.testing.assert_allclose(w.grad.numpy(), 6 * w.detach().numpy() ** 5, rtol=1e-12)


def test_a_hook_keeps_the_gradient_it_was_shown(device):
    tt.manual_seed(0)
    lin = tt.nn.Linear(3, 2).to(device)  # its backward's gradients are fresh (stored without a copy)
    kept = []
    lin.weight.register_hook(lambda g: kept.append(g))
    x = tt.randn(4, 3, device=device)
    lin(x).sum().backward()
    first = kept[0].numpy().copy()
    lin(x).sum().backward()  # accumulates into .grad in place: the kept gradient must not change
    np.testing.assert_allclose(kept[0].numpy(), first)
    np.testing.assert_allclose(lin.weight.grad.numpy(), 2 * first)


def test_linear_and_matmul_gradients_do_not_alias(device):
    tt.manual_seed(0)
    w = tt.randn(3, 3, device=device, requires_grad=True)
    b = tt.randn(3, device=device, requires_grad=True)
    x = tt.randn(2, 3, device=device, requires_grad=True)
    (tt.nn.functional.linear(x, w, b).sum() + (w @ w).sum()).backward()
    grads = [t.grad for t in (w, b, x)]
    before = [g.numpy().copy() for g in grads]
    with tt.no_grad():
        w.grad.mul_(10)
    np.testing.assert_allclose(b.grad.numpy(), before[1])
    np.testing.assert_allclose(x.grad.numpy(), before[2])
    ones = np.ones((3, 3))
    wv = w.detach().numpy()
    np.testing.assert_allclose(before[0], np.ones((3, 2)) @ x.detach().numpy() + ones @ wv.T + wv.T @ ones,
                               rtol=1e-5)


def test_second_backward_through_freed_graph_raises(device):
    x = t64([1.0, 2.0], device)
    y = (x * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        y.backward()


def test_retain_graph_allows_a_second_backward(device):
    x = t64([1.0, 2.0], device)
    y = (x.exp() * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * (np.exp([1, 2]) * np.array([2, 3])))


def test_deep_chain_needs_no_recursion(device):
    x = t64([1.0], device)
    y = x
    for _ in range(10_000):
        y = y * 1.0001
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [1.0001 ** 10_000], rtol=1e-9)
    del y  # freeing a deep graph must not overflow the stack either


def test_backward_on_non_scalar_needs_gradient(device):
    x = t64([1.0, 2.0], device)
    with pytest.raises(RuntimeError, match="implicitly created only for scalar outputs"):
        (x * 2).backward()
    (x * 2).backward(t64([1.0, 10.0], device, False))
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 20.0])
    with pytest.raises(RuntimeError, match=r"Mismatch in shape.*\(3,\).*\(2,\)"):
        (x * 2).backward(t64([1.0, 1.0, 1.0], device, False))


def test_backward_on_tensor_without_grad_raises(device):
    with pytest.raises(RuntimeError, match="does not require grad"):
        t64([1.0], device, False).sum().backward()


def test_backward_inputs_restricts_accumulation(device):
    a, b = t64([1.0], device), t64([2.0], device)
    h = a * b
    (h * h).sum().backward(inputs=[a, h])
    assert b.grad is None
    np.testing.assert_allclose(a.grad.numpy(), [2 * 2.0 * 2.0])
    np.testing.assert_allclose(h.grad.numpy(), [4.0])


def test_gradient_dtype_follows_input_dtype(device):
    a = tt.tensor([1.0, 2.0], dtype=tt.float32, device=device, requires_grad=True)
    b = t64([3.0, 4.0], device)
    y = a * b
    assert y.dtype is tt.float64
    y.sum().backward()
    assert a.grad.dtype is tt.float32 and b.grad.dtype is tt.float64


# --- grad mode and detach -----------------------------------------------------------------------------
def test_no_grad_context_and_decorator(device):
    x = t64([1.0], device)
    with tt.no_grad():
        assert not (x * 2).requires_grad
        with tt.enable_grad():
            assert (x * 2).requires_grad
        assert not tt.is_grad_enabled()
    assert tt.is_grad_enabled()

    @tt.no_grad()
    def f(v):
        return v * 2

    assert not f(x).requires_grad
    assert (x * 2).requires_grad


def test_grad_mode_is_restored_after_an_exception(device):
    with pytest.raises(ValueError):
        with tt.no_grad():
            raise ValueError
    assert tt.is_grad_enabled()


def test_set_grad_enabled(device):
    x = t64([1.0], device)
    with tt.set_grad_enabled(False):
        assert not (x * 2).requires_grad
    assert (x * 2).requires_grad
    tt.set_grad_enabled(False)
    assert not tt.is_grad_enabled()
    tt.set_grad_enabled(True)


def test_grad_mode_is_per_thread(device):
    """As in PyTorch: no_grad in one thread does not turn recording off in another, and a new
    thread starts with grad enabled."""
    import threading

    x = t64([1.0], device)
    seen = {}
    inside, release = threading.Event(), threading.Event()

    def worker() -> None:
        seen["start"] = tt.is_grad_enabled()
        with tt.no_grad():
            inside.set()
            release.wait(10)
            seen["inside"] = (x * 2).requires_grad

    with tt.no_grad():
        thread = threading.Thread(target=worker)
        thread.start()
        inside.wait(10)
    seen["main"] = (x * 2).requires_grad  # the worker is still inside its no_grad
    release.set()
    thread.join(10)
    assert seen == {"start": True, "inside": False, "main": True}


def test_detach_shares_storage_and_stops_gradients(device):
    x = t64([1.0, 2.0], device)
    d = x.detach()
    assert not d.requires_grad and d.is_leaf and d.grad_fn is None
    d[0] = 5.0
    assert x[0].item() == 5.0
    y = (x * x.detach()).sum()
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), [5.0, 2.0])


def test_data_attribute_is_detached_and_assignable(device):
    x = t64([1.0, 2.0], device)
    assert not x.data.requires_grad
    x.data = t64([3.0, 4.0], device, False)
    assert x.requires_grad and x.tolist() == [3.0, 4.0]


def test_leaves_and_grad_fn(device):
    x = t64([1.0], device)
    c = t64([1.0], device, requires_grad=False)
    y = x * 2 + c
    assert x.is_leaf and c.is_leaf and not y.is_leaf
    assert y.grad_fn.name() == "AddBackward0" and repr(y.grad_fn).startswith("<AddBackward0 object at 0x")
    assert (c * 2).grad_fn is None and not (c * 2).requires_grad
    assert not (x > 0).requires_grad, "comparisons have no gradient"
    assert not x.argmax().requires_grad


def test_requires_grad_rules(device):
    with pytest.raises(RuntimeError, match="floating point"):
        tt.tensor([1, 2], device=device, requires_grad=True)
    x = t64([1.0], device)
    with pytest.raises(RuntimeError, match="leaf variables"):
        (x * 2).requires_grad_(False)
    c = tt.ones(2, device=device).requires_grad_()
    assert c.requires_grad and c.is_leaf


# --- tt.autograd.grad ------------------------------------------------------------------------------------
def test_autograd_grad_returns_without_accumulating(device):
    x, w = t64([1.0, 2.0], device), t64([3.0, 4.0], device)
    gx, gw = tt.autograd.grad((x * w).sum(), [x, w])
    np.testing.assert_allclose(gx.numpy(), [3.0, 4.0])
    np.testing.assert_allclose(gw.numpy(), [1.0, 2.0])
    assert x.grad is None and w.grad is None


def test_autograd_grad_non_leaf_inputs_and_grad_outputs(device):
    x = t64([1.0, 2.0], device)
    h = x * 3
    y = h * h
    (gh,) = tt.autograd.grad(y, h, grad_outputs=t64([1.0, 0.5], device, False))
    np.testing.assert_allclose(gh.numpy(), [6.0, 6.0])


def test_autograd_grad_several_outputs(device):
    x = t64([2.0], device)
    (g,) = tt.autograd.grad([x * x, x * 3], x, grad_outputs=[t64([1.0], device, False), t64([1.0], device, False)])
    np.testing.assert_allclose(g.numpy(), [7.0])


def test_autograd_grad_unused_input(device):
    x, unused = t64([1.0], device), t64([1.0], device)
    with pytest.raises(RuntimeError, match="not have been used in the graph"):
        tt.autograd.grad((x * 2).sum(), [x, unused])
    gx, gu = tt.autograd.grad((x * 2).sum(), [x, unused], allow_unused=True)
    assert gu is None and gx.item() == 2.0


def test_autograd_grad_input_without_grad_raises(device):
    x = t64([1.0], device)
    with pytest.raises(RuntimeError, match="does not require grad"):
        tt.autograd.grad((x * 2).sum(), t64([1.0], device, False))


# --- in-place rules -------------------------------------------------------------------------------------------
def test_inplace_on_plain_tensors(device):
    a = tt.tensor([1.0, 2.0], device=device)
    view = a[:]
    a += 1
    a *= tt.tensor([2.0, 3.0], device=device)
    a -= 1
    a /= 2
    np.testing.assert_allclose(a.numpy(), [1.5, 4.0])
    np.testing.assert_allclose(view.numpy(), [1.5, 4.0])  # in-place ops write into the shared storage
    a.add_(tt.ones(2, device=device), alpha=2).mul_(2).sub_(1).div_(2)
    np.testing.assert_allclose(a.numpy(), [3.0, 5.5])
    a.zero_()
    assert a.tolist() == [0.0, 0.0]
    a.fill_(7).clamp_(max=3)
    assert a.tolist() == [3.0, 3.0]
    a.copy_(tt.tensor([1.0, 9.0], device=device))
    assert a.tolist() == [1.0, 9.0]


def test_inplace_on_leaf_that_requires_grad_raises(device):
    w = t64([1.0, 2.0], device)
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad is being used in an in-place"):
        w += 1
    with pytest.raises(RuntimeError, match="a view of a leaf Variable that requires grad"):
        w[0] = 3.0
    with pytest.raises(RuntimeError, match="in-place"):
        (w * 2).mul_(2)
    with pytest.raises(RuntimeError, match="value written requires grad"):
        tt.zeros(2, device=device)[0] = w[0]


def test_inplace_inside_no_grad_updates_parameters(device):
    w = t64([1.0, 2.0], device)
    (w * w).sum().backward()
    with tt.no_grad():
        w -= 0.5 * w.grad
        w[1] = 7.0
    assert w.requires_grad and w.is_leaf
    np.testing.assert_allclose(w.detach().numpy(), [0.0, 7.0])


def test_inplace_dtype_and_shape_rules(device):
    i = tt.tensor([1, 2], device=device)
    with pytest.raises(RuntimeError, match="can't be cast"):
        i += 1.5
    i += 2
    assert i.tolist() == [3, 4] and i.dtype is tt.int64
    f = tt.zeros(3, device=device)
    with pytest.raises(RuntimeError, match=r"output with shape \[3\] doesn't match the broadcast shape \[2, 3\]"):
        f += tt.ones(2, 3, device=device)


def test_setitem_forms(device):
    a = tt.zeros(3, 4, device=device)
    a[0] = 1.0
    a[1, 1:3] = tt.tensor([2.0, 3.0], device=device)
    a[:, -1] = tt.tensor([4.0, 5.0, 6.0], device=device)
    a[a == 0] = -1.0
    a[tt.tensor([2, 2], device=device), tt.tensor([0, 1], device=device)] = 9.0
    expected = np.array([[1, 1, 1, 4], [-1, 2, 3, 5], [9, 9, -1, 6]], dtype=np.float32)
    np.testing.assert_array_equal(a.numpy(), expected)
    b = tt.zeros(2, 3, 4, device=device)
    b[1, :, tt.tensor([0, 3], device=device)] = tt.arange(6.0, device=device).reshape(3, 2)  # ints first
    assert b[1, 2].tolist() == [4.0, 0.0, 0.0, 5.0] and b.sum().item() == 15.0


# --- custom Functions ---------------------------------------------------------------------------------------
class Cube(Function):
    """x**3 with a backward written in Tensor ops: differentiable twice over."""

    def forward(self, a):
        return a * a * a

    def backward(self, g):
        (x,) = self.inputs
        return g * 3 * x * x


class SoftplusSaved(Function):
    """log(1 + exp(x)); backward uses the saved output."""

    def forward(self, a):
        self.out = (a.exp() + 1).log()
        return self.out

    def backward(self, g):
        return g * (1 - (-self.output()).exp())


def test_custom_function_runs_inside_the_graph(device):
    x = t64([1.0, -2.0], device)
    y = Cube.apply(x)
    assert y.grad_fn.name() == "CubeBackward0"
    (g,) = tt.autograd.grad(y.sum(), x, create_graph=True)
    (h,) = tt.autograd.grad(g.sum(), x)
    np.testing.assert_allclose(g.detach().numpy(), [3.0, 12.0])
    np.testing.assert_allclose(h.numpy(), [6.0, -12.0])
    z = SoftplusSaved.apply(x)
    z.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 1 / (1 + np.exp(-np.array([1.0, -2.0]))))


def test_deepcopy_of_leaves(device):
    x = t64([1.0, 2.0], device)
    y = copy.deepcopy(x)
    assert y is not x and y.requires_grad and y.tolist() == x.tolist()
    y.data[0] = 5.0
    assert x[0].item() == 1.0
    with pytest.raises(RuntimeError, match="graph leaves"):
        copy.deepcopy(x * 2)


def test_hash_by_identity(device):
    a, b = t64([1.0], device), t64([1.0], device)
    assert len({a: 1, b: 2}) == 2


class WrongCount(Function):
    def forward(self, a, b):
        return a + b

    def backward(self, g):
        return g


class WrongShape(Function):
    def forward(self, a):
        return a * 2

    def backward(self, g):
        return g.sum(0)


def test_a_broken_backward_is_reported_clearly(device):
    x, y = t64([[1.0, 2.0]] * 3, device), t64([[1.0, 2.0]] * 3, device)
    with pytest.raises(RuntimeError, match=r"WrongCountBackward0 returned an incorrect number of gradients "
                                           r"\(expected 2, got 1\)"):
        WrongCount.apply(x, y).sum().backward()
    with pytest.raises(RuntimeError, match=r"WrongShapeBackward0 returned an invalid gradient at index 0 - "
                                           r"got \[2\] but expected shape compatible with \[3, 2\]"):
        WrongShape.apply(x).sum().backward()


def test_gradient_of_a_transposed_matmul_operand_keeps_its_layout(device):
    """In x @ w.T the gradient of w is computed as (g.T @ x), so w.grad comes out compact
    (no transposing copy), with the same values as the textbook (x.T @ g).T."""
    rng = np.random.default_rng(0)
    x = t64(rng.standard_normal((5, 7)), device)
    w = t64(rng.standard_normal((3, 7)), device)
    g = rng.standard_normal((5, 3))
    (x @ w.T).backward(t64(g, device, requires_grad=False))
    assert w.grad.is_contiguous() and w.grad.shape == (3, 7)
    np.testing.assert_allclose(w.grad.numpy(), (x.detach().numpy().T @ g).T, rtol=1e-12)
    np.testing.assert_allclose(x.grad.numpy(), g @ w.detach().numpy(), rtol=1e-12)
    # and a transposed left operand: (w.T).T @ ...
    a = t64(rng.standard_normal((7, 5)), device)
    (a.T @ w.T).sum().backward()
    assert a.grad.is_contiguous()
    np.testing.assert_allclose(a.grad.numpy(), (np.ones((5, 3)) @ w.detach().numpy()).T, rtol=1e-12)


# --- issue 13: gradients at special points are PyTorch's ------------------------------------------------
NAN, INF = math.nan, math.inf
SPECIAL_GRADIENTS = {
    # max()/min() over everything give a NaN input the gradient (ties share it); amax gives NaN
    "max() with a NaN": (lambda t, x: x.max(), [1.0, NAN, 2.0]),
    "min() with two NaNs": (lambda t, x: x.min(), [NAN, 1.0, NAN]),
    "max() with ties": (lambda t, x: x.max(), [3.0, 1.0, 3.0]),
    "amax with a NaN": (lambda t, x: x.amax(), [1.0, NAN, 2.0]),
    "amin along a dim with a NaN": (lambda t, x: x.reshape(2, 2).amin(1).sum(), [1.0, NAN, 2.0, 0.5]),
    "max along a dim with a NaN": (lambda t, x: x.reshape(2, 2).max(1)[0].sum(), [NAN, 1.0, 2.0, 3.0]),
    "maximum with NaNs": (lambda t, x: t.maximum(x[:2], x[2:]).sum(), [NAN, 1.0, 1.0, NAN]),
    "minimum with ties": (lambda t, x: t.minimum(x[:2], x[2:]).sum(), [2.0, 1.0, 2.0, 3.0]),
    "clamp at NaN": (lambda t, x: x.clamp(0.0, 1.0).sum(), [0.5, NAN, 2.0, 0.0, 1.0]),
    "clamp_min at NaN": (lambda t, x: x.clamp(min=0.0).sum(), [NAN, -1.0, 3.0]),
    "negative base ** x": (lambda t, x: ((-2.0) ** x).sum(), [0.5, 2.0, 3.0]),
    "zero base ** x": (lambda t, x: (0.0 ** x).sum(), [0.0, 2.0, -1.0]),
    "x ** 0.5 below zero": (lambda t, x: (x ** 0.5).sum(), [-1.0, 4.0]),
    "rsqrt at -0, -inf, 4": (lambda t, x: t.rsqrt(x).sum(), [-0.0, -INF, 4.0]),
    "std of huge values": (lambda t, x: x.std(), [3e18, -3e18, 1e18]),
    "relu at NaN and 0": (lambda t, x: t.relu(x).sum(), [NAN, 0.0, -1.0, 2.0]),
}


@pytest.mark.parametrize("row", list(SPECIAL_GRADIENTS))
def test_gradients_at_special_points_match_pytorch(row, device):
    torch = pytest.importorskip("torch")
    from torch_compare import close, outcome

    fn, values = SPECIAL_GRADIENTS[row]
    grads = []
    for lib, kw in ((tt, {"device": device}), (torch, {})):
        x = lib.tensor(values, requires_grad=True, **kw)
        fn(lib, x).backward()
        grads.append(outcome(x.grad))
    assert close(grads[0], grads[1]), grads


# --- gradients of slices written in place (autograd._summed, ops.movement.PlacedGrad) ------------
def _slices_case(lib, x_np, hooked):
    """Pieces of a split (some used twice, one unused), overlapping slices, a row and a step
    slice of one tensor, summed with weights: every way slice gradients meet in the engine."""
    x = lib.tensor(x_np, requires_grad=True)
    seen = []
    y = x * 1.5
    if hooked:
        y.register_hook(lambda g: seen.append(g.sum().item()))
    a, b, _unused = y.split(2, dim=1)
    w = lib.tensor(np.arange(x_np.size // x_np.shape[1] * 2, dtype=np.float64).reshape(-1, 2))
    out = (a * w).sum() + (a * b).sum() + (y[:, 1:4] ** 2).sum() + y[1].sum() * 3 + y[:, ::2].sum()
    out.backward()
    return x.grad.numpy(), seen


@pytest.mark.parametrize("hooked", [False, True])
def test_slice_gradients_are_placed_and_summed_like_torch(hooked):
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(0).standard_normal((3, 6))
    ours, seen = _slices_case(tt, x, hooked)
    ref, seen_ref = _slices_case(torch, x, hooked)
    np.testing.assert_allclose(ours, ref, rtol=1e-12)
    np.testing.assert_allclose(seen, seen_ref, rtol=1e-12)


def test_slice_gradients_leave_user_tensors_alone():
    """A gradient that reaches a slice's input unchanged (x + x, a returned upstream gradient) is
    never the array the engine adds the slices into."""
    x = tt.tensor(np.ones((2, 4)), requires_grad=True)
    g = tt.tensor(np.full((2, 4), 2.0))
    y = x + 0.0
    z = y + y[:, :2].sum() + y[:, 2:].sum()
    z.backward(g)
    np.testing.assert_array_equal(g.numpy(), np.full((2, 4), 2.0))
    # 2 from y itself, and each slice's sum was added to all 8 elements: 8 * 2 more
    np.testing.assert_array_equal(x.grad.numpy(), np.full((2, 4), 2.0 + 16.0))


def test_index_backward_gives_tensors_outside_the_engine():
    """Only the library's engine takes placed gradients: a node's backward called by other code
    (a hand-written engine, as in lab 5, under no_grad) returns a Tensor, per the Function contract."""
    x = tt.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    y = x[:, 1:]
    with tt.no_grad():
        g = y.grad_fn.backward(tt.ones(2, 2, dtype=tt.float64))
    assert isinstance(g, tt.Tensor)
    np.testing.assert_array_equal(g.numpy(), [[0, 1, 1], [0, 1, 1]])
