"""Tensor.register_hook, retain_grad and retains_grad, against PyTorch."""

from __future__ import annotations

import numpy as np
import pytest

import tinytorch as tt

torch = pytest.importorskip("torch")


def run(lib, program):
    """Run ``program(lib, log)`` on one library; return what it logged and returned, as numpy."""
    log: list = []
    out = program(lib, log)
    as_np = lambda v: v.detach().numpy() if hasattr(v, "detach") else v  # noqa: E731
    return [as_np(v) for v in log], [as_np(v) for v in out]


def same(program, device="cpu"):
    ours, theirs = run(tt, program), run(torch, program)
    for a, b in zip(ours[0] + ours[1], theirs[0] + theirs[1], strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


def leaf(lib, values):
    return lib.tensor(values, dtype=lib.float64, requires_grad=True)


def test_a_leaf_hook_sees_the_whole_gradient_once_and_may_replace_it() -> None:
    def program(lib, log):
        x = leaf(lib, [1.0, -2.0, 3.0])
        x.register_hook(lambda g: log.append(g.clone()))
        x.register_hook(lambda g: g * 10)
        (x * x + 2 * x).sum().backward()  # x is used twice: one hook call with the sum
        return [x.grad]
    same(program)


def test_a_hook_on_an_intermediate_changes_what_flows_to_the_leaves() -> None:
    def program(lib, log):
        x = leaf(lib, [[1.0, 2.0], [3.0, 4.0]])
        y = x.exp()
        y.register_hook(lambda g: log.append(g.clone()))
        y.register_hook(lambda g: g.clamp(max=0.5))
        (y * lib.tensor([[1.0, -1.0], [2.0, 0.25]], dtype=lib.float64)).sum().backward()
        return [x.grad]
    same(program)


def test_retain_grad_keeps_the_gradient_of_intermediates_and_the_root() -> None:
    def program(lib, log):
        x = leaf(lib, [0.5, 1.5])
        h = x.sin()
        h.retain_grad()
        loss = (h ** 3).sum()
        loss.retain_grad()
        log.append(h.retains_grad)
        log.append(x.retains_grad)
        loss.backward(retain_graph=True)
        loss.backward()  # retained gradients accumulate, like leaves'
        return [h.grad, loss.grad, x.grad]
    same(program)


def test_removed_hooks_are_not_called_and_hooks_run_in_autograd_grad() -> None:
    def program(lib, log):
        x = leaf(lib, [2.0, 3.0])
        handle = x.register_hook(lambda g: g * 100)
        handle.remove()
        x.register_hook(lambda g: g + 1)
        (gx,) = lib.autograd.grad((x ** 2).sum(), x)
        return [gx]
    same(program)


def test_hook_errors() -> None:
    with pytest.raises(RuntimeError, match="doesn't require gradient"):
        tt.ones(2).register_hook(lambda g: g)
    with pytest.raises(RuntimeError, match="requires_grad=False"):
        tt.ones(2).retain_grad()
    x = tt.ones(3, requires_grad=True)
    x.register_hook(lambda g: g[:2])
    with pytest.raises(RuntimeError, match="gradient's shape"):
        (x * 2).sum().backward()


def test_hooks_in_the_hook_handle_work_as_context_managers() -> None:
    x = tt.ones(2, requires_grad=True)
    calls = []
    with x.register_hook(lambda g: calls.append(1)):
        (x * 2).sum().backward()
    (x * 2).sum().backward()
    assert calls == [1]


# --- when a leaf's hooks run (data-parallel training starts communicating there) ---
def test_a_leaf_hook_runs_as_soon_as_its_gradient_is_final() -> None:
    """The last layer's weight hook fires before the gradient reaches the first layer, as in
    PyTorch; a leaf used twice (the bias) fires once, after its last use (the first layer's add,
    which runs before the first layer's matmul gives w1 its gradient)."""
    def events(lib):
        order = []
        w1, w2 = leaf(lib, [[0.5, -1.0], [2.0, 0.3]]), leaf(lib, [[1.0], [-0.5]])
        bias = leaf(lib, [0.1, 0.2])
        for name, t in (("w1", w1), ("w2", w2), ("bias", bias)):
            t.register_hook(lambda g, name=name: order.append(name))
        h = lib.tensor([[1.0, 2.0]], dtype=lib.float64) @ w1 + bias
        h.register_hook(lambda g: order.append("h"))
        (((h.tanh() + bias) @ w2).sum()).backward()  # bias: used in both layers
        return order

    assert events(tt) == events(torch) == ["w2", "h", "bias", "w1"]
