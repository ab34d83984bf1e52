"""Lab 5 grader: tensors and reverse-mode autograd."""

import importlib

import numpy as np
import pytest

import tinytorch as tt
import tinytorch.autograd.engine as autograd  # the engine module, where the exercises plug in
import tinytorch.ops.elementwise as elementwise
import tinytorch.ops.reduce as reduce_module
from tinytorch.labs import check, check_close

matmul_module = importlib.import_module("tinytorch.ops.matmul")  # tinytorch.ops.matmul is also a function

TITLE = "autograd"
EXERCISES = {
    "5.1": "Exp",
    "5.2": "Mul",
    "5.3": "Sum",
    "5.4": "Matmul",
    "5.5": "unbroadcast",
    "5.6": "topo_order",
    "5.7": "backward",
}
#: the library's own version of each exercise: it raises if the notebook's code calls it while graded
REFERENCES = {
    "5.1": ["tinytorch.ops.elementwise:Exp"],
    "5.2": ["tinytorch.ops.elementwise:Mul"],
    "5.3": ["tinytorch.ops.reduce:Sum"],
    "5.4": ["tinytorch.ops.matmul:Matmul"],
    "5.5": ["tinytorch.autograd.engine:unbroadcast"],
    "5.6": ["tinytorch.autograd.engine:topo_order"],
    "5.7": ["tinytorch.autograd.engine:backward", "tinytorch.autograd.engine:grad",
            "tinytorch.autograd.engine:_run_backward", "tinytorch.autograd.engine:tensor_backward"],
}
RNG = np.random.default_rng(5)


def leaf(*shape, positive=False):
    x = RNG.standard_normal(shape)
    return tt.tensor(np.abs(x) + 0.5 if positive else x, dtype=tt.float64, requires_grad=True)


def numeric_grads(f, inputs, eps=1e-6):
    """Central finite differences of the scalar f(*inputs) with respect to each input."""
    grads = []
    values = [t.detach().numpy() for t in inputs]
    for k, v in enumerate(values):
        g = np.zeros_like(v)
        for idx in np.ndindex(*v.shape):
            for sign in (1, -1):
                shifted = [x.copy() for x in values]
                shifted[k][idx] += sign * eps
                with tt.no_grad():
                    out = f(*[tt.tensor(x, dtype=tt.float64) for x in shifted]).item()
                g[idx] += sign * out / (2 * eps)
        grads.append(g)
    return grads


def gradcheck(f, inputs, what, hint=None):
    """backward() through the library (running the learner's pieces) agrees with finite differences."""
    for t in inputs:
        t.grad = None
    out = f(*inputs)
    check(out.requires_grad, f"{what}: the result does not require grad (was the op recorded?)")
    out.backward()
    for i, (t, expected) in enumerate(zip(inputs, numeric_grads(f, inputs))):
        check(t.grad is not None, f"{what}: input {i} got no gradient", hint)
        check_close(t.grad, expected, f"{what}: gradient of input {i}", hint, rtol=1e-4, atol=1e-6)


def second_derivative_check(f, x, what):
    """d/dx of sum(d f / dx) through create_graph=True equals finite differences of the first derivative."""
    (g,) = tt.autograd.grad(f(x), x, create_graph=True)

    def first(z):
        with tt.enable_grad():
            z = z.detach().requires_grad_()
            (gz,) = tt.autograd.grad(f(z), z)
        return gz.sum()

    check(g.requires_grad, f"{what}: the gradient is not differentiable (write backward with Tensor ops)")
    (gg,) = tt.autograd.grad(g.sum(), x)
    check_close(gg, numeric_grads(first, [x])[0], f"{what}: second derivative", rtol=1e-3, atol=1e-5)


# --- 5.1 Exp -----------------------------------------------------------------------------------------------
@pytest.mark.points(2, exercise="5.1", hint="forward: a.exp(); backward: grad * self.output()")
def test_exp_forward_backward(lab):
    """Exp.apply computes e^x and its gradient"""
    Exp = lab.defined("Exp")
    x = leaf(3, 4)
    y = Exp.apply(x)
    check_close(y, np.exp(x.detach().numpy()), "Exp.apply(x)")
    gradcheck(lambda t: (Exp.apply(t) * tt.arange(12, dtype=tt.float64).reshape(3, 4)).sum(), [x], "sum(Exp(x) * w)")


@pytest.mark.points(3, exercise="5.1")
def test_exp_inside_softmax(lab, monkeypatch):
    """your Exp runs inside tt.exp and tt.softmax, with first and second derivatives right"""
    Exp = lab.plug(monkeypatch, elementwise, "Exp")
    x = leaf(2, 5)
    check(isinstance(tt.exp(x).grad_fn, Exp), "tt.exp did not use your Exp")
    w = tt.tensor(RNG.standard_normal((2, 5)), dtype=tt.float64)
    gradcheck(lambda t: (tt.softmax(t, dim=1) * w).sum(), [x], "sum(softmax(x) * w)")
    second_derivative_check(lambda t: tt.exp(t * 0.5).sum(), leaf(4), "exp(x / 2)")


# --- 5.2 Mul -----------------------------------------------------------------------------------------------
@pytest.mark.points(3, exercise="5.2", hint="each input's gradient is grad times the *other* input")
def test_mul_gradients(lab, monkeypatch):
    """your Mul (through *) has the right gradients, with broadcasting and scalars"""
    lab.plug(monkeypatch, elementwise, "Mul")
    a, b = leaf(3, 1), leaf(4)
    gradcheck(lambda x, y: (x * y).sum(), [a, b], "sum(a * b) with shapes (3, 1) and (4,)")
    gradcheck(lambda x: (x * 2.5).sum(), [leaf(3)], "sum(a * 2.5)")


@pytest.mark.points(2, exercise="5.2")
def test_mul_same_input_twice(lab, monkeypatch):
    """x * x (both inputs the same tensor) and a second derivative through Mul"""
    lab.plug(monkeypatch, elementwise, "Mul")
    gradcheck(lambda x: (x * x * x).sum(), [leaf(5)], "sum(x * x * x)")
    second_derivative_check(lambda x: (x * x * x).sum(), leaf(3), "x³")


# --- 5.3 Sum -----------------------------------------------------------------------------------------------
@pytest.mark.points(3, exercise="5.3", hint="reshape grad to the kept shape (1 on summed dims), then broadcast_to")
def test_sum_gradients(lab, monkeypatch):
    """your Sum (through tt.sum) over various dims, with and without keepdim"""
    lab.plug(monkeypatch, reduce_module, "Sum")
    x = leaf(2, 3, 4)
    w = tt.tensor(RNG.standard_normal((3,)), dtype=tt.float64)
    check_close(tt.sum(x, (0, 2)), x.detach().numpy().sum(axis=(0, 2)), "tt.sum(x, (0, 2))")
    gradcheck(lambda t: (tt.sum(t, (0, 2)) * w).sum(), [x], "sum(x, dims=(0, 2)) * w")
    gradcheck(lambda t: (tt.sum(t, 1, keepdim=True) * t).sum(), [x], "sum(x, 1, keepdim=True) * x")


@pytest.mark.points(2, exercise="5.3")
def test_sum_inside_mean_and_var(lab, monkeypatch):
    """mean and var, built on your Sum"""
    lab.plug(monkeypatch, reduce_module, "Sum")
    gradcheck(lambda t: tt.var(t, 0).sum() + tt.mean(t), [leaf(4, 3)], "var(x, 0).sum() + mean(x)")


# --- 5.4 Matmul -----------------------------------------------------------------------------------------------
@pytest.mark.points(3, exercise="5.4", hint="dA = G @ Bᵀ and dB = Aᵀ @ G, transposing the last two dims")
def test_matmul_gradients(lab, monkeypatch):
    """your Matmul through @: matrices and broadcast batches"""
    lab.plug(monkeypatch, matmul_module, "Matmul")
    gradcheck(lambda a, b: ((a @ b) ** 2).sum(), [leaf(3, 4), leaf(4, 2)], "sum((A @ B)²), (3, 4) @ (4, 2)")
    gradcheck(lambda a, b: (a @ b).sum(), [leaf(2, 3, 4), leaf(4, 5)], "sum(A @ B), (2, 3, 4) @ (4, 5)")


@pytest.mark.points(2, exercise="5.4")
def test_matmul_vectors(lab, monkeypatch):
    """matrix-vector products and a linear layer built on your Matmul"""
    lab.plug(monkeypatch, matmul_module, "Matmul")
    gradcheck(lambda a, v: tt.tanh(a @ v).sum(), [leaf(3, 4), leaf(4)], "sum(tanh(A @ v))")
    gradcheck(lambda x, w, b: tt.relu(x @ w.T + b).sum(), [leaf(5, 3), leaf(2, 3), leaf(2)], "a linear layer")


# --- 5.5 unbroadcast -------------------------------------------------------------------------------------------
@pytest.mark.points(2, exercise="5.5", hint="sum the leading dims and the dims where shape has a 1")
def test_unbroadcast(lab):
    """unbroadcast sums a gradient back to the input's shape"""
    unbroadcast = lab.defined("unbroadcast")
    g = tt.tensor(RNG.standard_normal((2, 3, 4)), dtype=tt.float64)
    for shape in [(2, 3, 4), (3, 4), (4,), (3, 1), (1, 3, 1), (1,), ()]:
        expected = g.numpy().sum(axis=tuple(range(3 - len(shape)))) if len(shape) < 3 else g.numpy()
        expected = expected.sum(axis=tuple(i for i, n in enumerate(shape) if n == 1), keepdims=True)
        expected = expected.reshape(shape)
        got = unbroadcast(g, shape)
        check_close(got, expected, f"unbroadcast(grad of shape (2, 3, 4), {shape})")


@pytest.mark.points(3, exercise="5.5")
def test_unbroadcast_in_the_engine(lab, monkeypatch):
    """every backward() uses your unbroadcast: bias-like and column broadcasts get the right gradients"""
    lab.plug(monkeypatch, autograd, "unbroadcast", "unbroadcast")
    gradcheck(lambda x, b, c: ((x + b) * c).sum(), [leaf(4, 3), leaf(3), leaf(4, 1)], "sum((x + b) * c)")


# --- 5.6 topo_order ---------------------------------------------------------------------------------------
def _diamond():
    x = leaf(3)
    a = tt.exp(x)
    b, c = a * 2.0, tt.sin(a)
    return x, (b * c + a).sum()


def _check_topo(order, roots, what):
    """``order`` lists every node reachable from ``roots`` once, each after the nodes of its inputs."""
    order = list(order)
    expected = autograd.topo_order(roots)  # computed after the learner's call, on purpose
    check(len(order) == len(expected) and {id(n) for n in order} == {id(n) for n in expected},
          f"{what}: topo_order returned {len(order)} nodes ({len({id(n) for n in order})} distinct); "
          f"the graph has {len(expected)}", hint="start from every root, not just the first")
    position = {id(n): i for i, n in enumerate(order)}
    for node in order:
        for t in node.inputs:
            if isinstance(t, tt.Tensor) and t.grad_fn is not None:
                check(position[id(t.grad_fn)] < position[id(node)],
                      f"{what}: {node.name()} comes before {t.grad_fn.name()}, which made its input")


@pytest.mark.points(2, exercise="5.6", hint="push a node once to expand its inputs and once more to emit it")
def test_topo_order(lab):
    """topo_order lists every node once, each after the nodes of its inputs"""
    topo_order = lab.defined("topo_order")
    _, loss = _diamond()
    _check_topo(topo_order([loss.grad_fn]), [loss.grad_fn], "a diamond")


@pytest.mark.points(1, exercise="5.6",
                    hint="every root starts a search; a node seen from an earlier root is not repeated")
def test_topo_order_several_roots(lab):
    """several roots that share part of their graphs: every node of every root, once"""
    topo_order = lab.defined("topo_order")
    x = leaf(3)
    shared = tt.exp(x) * 2.0
    first, second = (shared * shared).sum(), (tt.sin(shared) + x).sum()
    roots = [first.grad_fn, second.grad_fn]
    _check_topo(topo_order(roots), roots, "two roots sharing a subgraph")
    _check_topo(topo_order(roots[::-1]), roots[::-1], "the same two roots, the other way round")


@pytest.mark.points(3, exercise="5.6")
def test_topo_order_in_the_engine(lab, monkeypatch):
    """loss.backward() ordered by your topo_order: a diamond and a chain of 5,000 ops"""
    lab.plug(monkeypatch, autograd, "topo_order", "topo_order")
    x, loss = _diamond()
    loss.backward()
    xv = x.detach().numpy()
    a = np.exp(xv)
    check_close(x.grad, (2 * np.sin(a) + 2 * a * np.cos(a) + 1) * a, "d/dx of sum(2e^x sin(e^x) + e^x)")
    y = leaf(2)
    z = y
    for _ in range(5000):
        z = z * 1.0001
    z.sum().backward()
    check_close(y.grad, np.full(2, 1.0001 ** 5000), "gradient through 5,000 multiplications", rtol=1e-6)


# --- 5.7 backward --------------------------------------------------------------------------------------------------
# The learner's backward always runs before the reference gradients exist, so it cannot find
# them by looking at the test's frames.
def _learner_backward(lab, monkeypatch):
    backward = lab.defined("backward")
    monkeypatch.setitem(lab.notebook.namespace, "topo_order", autograd.topo_order)
    monkeypatch.setitem(lab.notebook.namespace, "unbroadcast", autograd.unbroadcast)
    return backward


def _reference_grads(build, times=1):
    for _ in range(times):
        leaves, loss = build()
        loss.backward()
    return [t.grad.detach().numpy().copy() for t in leaves]


def _mlp(seed=7):
    def build():
        rng = np.random.default_rng(seed)
        x = tt.tensor(rng.standard_normal((4, 3)), dtype=tt.float64)
        w1 = tt.tensor(rng.standard_normal((3, 5)), dtype=tt.float64, requires_grad=True)
        b1 = tt.tensor(rng.standard_normal(5), dtype=tt.float64, requires_grad=True)
        w2 = tt.tensor(rng.standard_normal((5, 2)), dtype=tt.float64, requires_grad=True)
        logits = tt.tanh(x @ w1 + b1) @ w2
        loss = -tt.log_softmax(logits, dim=1)[:, 0].mean()
        build.leaves = [w1, b1, w2]
        return build.leaves, loss
    return build


def _shared():
    rng = np.random.default_rng(8)
    x = tt.tensor(rng.standard_normal(4), dtype=tt.float64, requires_grad=True)
    y = x * x
    return [x], (y * y + y.exp() + x).sum()


def _check_grads(got, expected, what):
    for i, (g, e) in enumerate(zip(got, expected)):
        check(g is not None, f"{what}: parameter {i} has no .grad after your backward")
        check_close(g, e, f"{what}: gradient of parameter {i}", rtol=1e-6)


@pytest.mark.points(2, exercise="5.7", hint="visit nodes in reverse topological order; add, never overwrite")
def test_backward_mlp(lab, monkeypatch):
    """your backward gives a small MLP's loss the library's gradients"""
    backward = _learner_backward(lab, monkeypatch)
    leaves, loss = _mlp()()
    backward(loss)
    _check_grads([t.grad for t in leaves], _reference_grads(_mlp()), "MLP")


@pytest.mark.points(2, exercise="5.7")
def test_backward_shared_subexpressions(lab, monkeypatch):
    """a tensor used on several paths gets the sum of their gradients"""
    backward = _learner_backward(lab, monkeypatch)
    (x,), loss = _shared()
    backward(loss)
    check(x.grad is not None, "x has no .grad after your backward")
    check_close(x.grad, _reference_grads(_shared)[0], "d/dx of sum(x⁴ + e^(x²) + x)", rtol=1e-6)


@pytest.mark.points(1, exercise="5.7", hint="a leaf's .grad is set the first time and added to afterwards: "
                                             "leaf.grad = g if leaf.grad is None else leaf.grad + g")
def test_backward_accumulates(lab, monkeypatch):
    """two backward calls (two graphs on the same leaves) add up in .grad, as loss.backward() does"""
    backward = _learner_backward(lab, monkeypatch)
    build = _mlp(11)
    leaves = None
    for _ in range(2):
        _, loss = build()
        if leaves is not None:  # the second graph reuses the first graph's leaves
            for old, new in zip(leaves, build.leaves):
                new.grad = old.grad
        leaves = build.leaves
        backward(loss)
    got = [t.grad for t in leaves]
    _check_grads(got, [2 * g for g in _reference_grads(_mlp(11))], "after two backward calls")


@pytest.mark.points(1, exercise="5.7", hint="run the whole pass under `with tt.no_grad():`")
def test_backward_grads_have_no_graph(lab, monkeypatch):
    """with grad mode on, the .grad your backward stores is a plain tensor: no graph, no requires_grad"""
    backward = _learner_backward(lab, monkeypatch)
    check(tt.is_grad_enabled(), "the grader expected grad mode on at the start of this test")
    leaves, loss = _mlp(12)()
    backward(loss)
    for i, t in enumerate(leaves):
        check(t.grad is not None, f"parameter {i} has no .grad after your backward")
        check(t.grad.grad_fn is None and not t.grad.requires_grad,
              f"the .grad of parameter {i} carries a graph (grad_fn="
              f"{t.grad.grad_fn.name() if t.grad.grad_fn else None}, requires_grad={t.grad.requires_grad}): "
              "the backward pass was recorded")
    check(tt.is_grad_enabled(), "your backward left grad mode off (use `with tt.no_grad():`, which restores it)")
