"""Lab 14 grader: grad and vjp on the autograd engine, and batching rules plugged into vmap."""

import warnings

import numpy as np
import pytest

import tinytorch as tt
import tinytorch.nn.functional as F
from tinytorch import func
from tinytorch.func import batching
from tinytorch.labs import check, check_close, check_equal, check_raises
from tinytorch.ops.elementwise import Mul
from tinytorch.ops.movement import Reshape
from tinytorch.ops.reduce import Sum

TITLE = "functional transforms"
EXERCISES = {"14.1": "grad", "14.2": "vjp", "14.3": "mul_rule"}
#: the library's own version of each exercise: it raises if the notebook's code calls it while graded
REFERENCES = {
    "14.1": ["tinytorch.func.transforms:grad", "tinytorch.func.transforms:grad_and_value",
             "tinytorch.func.transforms:vjp"],
    "14.2": ["tinytorch.func.transforms:vjp", "tinytorch.func.transforms:grad_and_value",
             "tinytorch.func.transforms:jacrev"],
    "14.3": ["tinytorch.func.batching:pointwise_rule", "tinytorch.func.batching:dims_rule",
             "tinytorch.func.batching:reshape_rule", "tinytorch.func.batching:fallback"],
}


def t(a):
    return tt.tensor(np.asarray(a, dtype=np.float64))


def functions():
    """Scalar functions of one tensor, with inputs where they are smooth."""
    rng = np.random.default_rng(0)
    x = t(rng.uniform(0.5, 1.5, (3, 4)))
    return [
        ("sum(sin(x) * x)", lambda x: (x.sin() * x).sum(), x),
        ("log-softmax of a product", lambda x: F.log_softmax(x @ x.T, dim=1)[0, 1], x),
        ("sqrt(sum(x^2)) * mean(exp(x))", lambda x: (x ** 2).sum().sqrt() * x.exp().mean(), x),
        ("tanh then a quadratic", lambda x: (x.tanh() ** 2 - 0.5 * x).sum(), x[0]),
    ]


# --- 14.1 grad ------------------------------------------------------------------------------------------
@pytest.mark.points(2, exercise="14.1", hint="tt.autograd.grad(out, x) on a fresh leaf made from x")
def test_grad_values(lab):
    """grad(f)(x) equals the library's gradient for four functions; x is left as it was"""
    grad = lab.defined("grad")
    for name, f, x in functions():
        got = grad(f)(x)
        check_close(got, func.grad(f)(x), f"grad(f)(x) for f(x) = {name}", rtol=1e-8, atol=1e-10)
        check(not x.requires_grad and x.grad is None, f"grad changed its input x (for {name})")


@pytest.mark.points(2, exercise="14.1", hint="create_graph=True, and use x itself when it already requires grad")
def test_grad_of_grad(lab):
    """grad(grad(f)) is the second derivative (x^3 -> 6x, sin -> -sin, exp(2x) -> 4 exp(2x)); grad passes
    further arguments on; it records even under no_grad"""
    grad = lab.defined("grad")
    for name, f, second in (("x ** 3", lambda x: x ** 3, lambda x: 6 * x), ("sin", tt.sin, lambda x: -tt.sin(x)),
                            ("exp(2x)", lambda x: (2 * x).exp(), lambda x: 4 * (2 * x).exp())):
        for v in (-1.3, 0.4, 2.0):
            x = t(v)
            check_close(grad(grad(f))(x), second(x), f"grad(grad(f))({v}) for f = {name}", rtol=1e-8)
    w = t([1.0, -2.0, 0.5])
    check_close(grad(lambda x, w: (x * w).sum() ** 2)(t([1.0, 1.0, 1.0]), w), 2 * (-0.5) * w,
                "grad(f)(x, w) with a second argument")
    with tt.no_grad():
        check_close(grad(lambda x: (x ** 2).sum())(t([3.0])), t([6.0]), "grad(f)(x) inside tt.no_grad()")


@pytest.mark.points(2, exercise="14.1", hint="check out.ndim == 0 before differentiating")
def test_grad_of_a_non_scalar_raises(lab):
    """a function returning a tensor with dims (several numbers, or one number of shape (1,)):
    RuntimeError, as torch.func.grad; a 0-d result works"""
    grad = lab.defined("grad")
    check_raises(RuntimeError, grad(lambda x: x * 2), t([1.0, 2.0]))
    check_raises(RuntimeError, grad(lambda x: (x * 2).sum().reshape(1)), t([1.0, 2.0]))
    check_close(grad(lambda x: (x * 2).sum())(t([1.0, 2.0])), t([2.0, 2.0]), "grad of sum(2x)")


# --- 14.2 vjp ---------------------------------------------------------------------------------------------
def vector_functions():
    rng = np.random.default_rng(1)
    x = t(rng.uniform(-1, 1, (5,)))
    return [
        ("cumsum(tanh(x)) * sum(x)", lambda x: x.tanh().cumsum(0) * x.sum(), x),
        ("a 5 -> (2, 3) map", lambda x: (x[:, None] * t([[1.0, 2.0, 3.0]])).exp()[:2] + x[0], x),
        ("softmax", lambda x: F.softmax(x, dim=0), x),
    ]


@pytest.mark.points(3, exercise="14.2", hint="vjp_fn(v) = tt.autograd.grad(out, x, grad_outputs=v, retain_graph=True)")
def test_vjp_builds_the_jacobian(lab):
    """the output equals f(x); vjp_fn of each basis vector is a row of the Jacobian (jacrev's); vjp_fn
    can be called again and again"""
    vjp = lab.defined("vjp")
    for name, f, x in vector_functions():
        out, vjp_fn = vjp(f, x)
        check_close(out, f(x), f"the output of vjp for f(x) = {name}")
        check(not out.requires_grad, f"vjp's output carries a graph (for {name}): return it detached")
        jac = func.jacrev(f)(x).reshape(-1, x.shape[0])
        for i in range(jac.shape[0]):
            v = tt.zeros(jac.shape[0], dtype=tt.float64)
            v[i] = 1.0
            result = vjp_fn(v.reshape(out.shape))
            check(isinstance(result, tuple) and len(result) == 1, "vjp_fn must return a tuple with one gradient")
            check_close(result[0], jac[i], f"vjp_fn(e_{i}) for f(x) = {name} (row {i} of the Jacobian)", rtol=1e-8)


@pytest.mark.points(2, exercise="14.2", hint="compare v's shape with out's; allow_unused=True for a constant f")
def test_vjp_shapes_and_constants(lab):
    """a cotangent of the wrong shape raises RuntimeError; a function that ignores x gives zeros"""
    vjp = lab.defined("vjp")
    out, vjp_fn = vjp(lambda x: x * 3, t([1.0, 2.0]))
    check_raises(RuntimeError, vjp_fn, t([1.0, 2.0, 3.0]))
    _, const_fn = vjp(lambda x: x.sum() * 0 + t([1.0, 2.0]), t([1.0, 2.0, 3.0]))
    (g,) = const_fn(t([1.0, 1.0]))
    check_close(g, tt.zeros(3, dtype=tt.float64), "the vjp of a function that ignores x")


# --- 14.3 batching rules --------------------------------------------------------------------------------------
class Rules:
    """The learner's rules installed in vmap in place of the library's, for one test (a context
    manager); on the way out it checks that vmap never looped over the batch for those ops."""

    def __init__(self, lab, monkeypatch):
        mine = {Mul: lab.defined("mul_rule"), Sum: lab.defined("sum_rule"), Reshape: lab.defined("reshape_rule")}
        monkeypatch.setattr(batching, "RULES", {**batching.RULES, **mine})

    def __enter__(self):
        batching.reset_fallback_ops()
        self.quiet = warnings.catch_warnings()
        self.quiet.__enter__()
        warnings.simplefilter("ignore")

    def __exit__(self, *exc):
        self.quiet.__exit__(*exc)
        if exc[0] is None:
            looped_ops = set(batching.fallback_ops()) & {"Mul", "Sum", "Reshape"}
            check(not looped_ops, f"vmap looped over the batch for {sorted(looped_ops)}: your rule must batch "
                  "the op itself")


def looped(f, xs, in_dims):
    outs = [f(*[x if d is None else x.select(d, b) for x, d in zip(xs, in_dims)])
            for b in range(next(x.shape[d] for x, d in zip(xs, in_dims) if d is not None))]
    return tt.stack(outs)


def check_vmap(f, xs, in_dims, what):
    check_close(func.vmap(f, in_dims=in_dims)(*xs), looped(f, xs, in_dims), what, rtol=1e-10, atol=1e-12)


@pytest.mark.points(3, exercise="14.3", hint="pad a batched operand with size-1 dims right after the batch dim")
def test_mul_rule(lab, monkeypatch):
    """x * y under vmap: both batched, one unbatched of lower or higher rank, batch dims elsewhere, scalars"""
    with Rules(lab, monkeypatch):
        mul_cases()


def mul_cases():
    rng = np.random.default_rng(2)
    a, b, c = t(rng.normal(size=(4, 3))), t(rng.normal(size=(4, 2, 3))), t(rng.normal(size=(3, 4)))
    check_vmap(lambda x, y: x * y, [a, b], (0, 0), "vmap(x * y): x (3,), y (2, 3) per example")
    check_vmap(lambda x, y: x * y, [b, a[0]], (0, None), "vmap(x * y) with y unbatched")
    check_vmap(lambda x, y: x * y, [a, b[0]], (0, None), "vmap(x * y): x (3,) batched, y (2, 3) unbatched")
    check_vmap(lambda x, y: y * x, [c, a], (1, 0), "vmap(y * x) with x batched along dim 1")
    check_vmap(lambda x: x * 2.5, [a], (0,), "vmap(x * 2.5)")
    check_vmap(lambda x, y: x * y, [a[:, 0], b], (0, 0), "vmap(x * y): x a number per example, y (2, 3)")


@pytest.mark.points(3, exercise="14.3", hint="dims move one place right: d -> d + 1")
def test_sum_and_reshape_rules(lab, monkeypatch):
    """sums over each dim, several dims, all dims, keepdim; reshapes with -1; a batch not in front"""
    with Rules(lab, monkeypatch):
        sum_reshape_cases()


def sum_reshape_cases():
    rng = np.random.default_rng(3)
    x = t(rng.normal(size=(5, 2, 3, 4)))
    for dim in (0, 1, 2, -1, (0, 2), None):
        for keep in (False, True):
            f = (lambda v, d=dim, k=keep: v.sum(d, keepdim=k)) if dim is not None else (lambda v: v.sum())
            check_vmap(f, [x], (0,), f"vmap(x.sum({dim}, keepdim={keep})) over (2, 3, 4) examples")
    check_vmap(lambda v: v.sum(0), [x], (2,), "vmap(x.sum(0)) mapping dim 2")
    check_vmap(lambda v: v.reshape(6, 4), [x], (0,), "vmap(x.reshape(6, 4))")
    check_vmap(lambda v: v.reshape(-1), [x], (1,), "vmap(x.reshape(-1)) mapping dim 1")
    check_vmap(lambda v: v.reshape(3, 2, 2, 2).sum((1, 3)), [x], (0,), "a reshape then a sum")


@pytest.mark.points(3, exercise="14.3", hint="every op the loss and its backward run must batch correctly")
def test_per_sample_gradients_with_your_rules(lab, monkeypatch):
    """vmap(grad(loss), in_dims=(None, 0, 0)) of a linear model's squared error equals a loop of
    gradients; the backward of every op runs through your rules too"""
    with Rules(lab, monkeypatch):
        per_sample_case()


def per_sample_case():
    rng = np.random.default_rng(4)
    w, xs, ys = t(rng.normal(size=(3, 2))), t(rng.normal(size=(6, 3))), t(rng.normal(size=(6, 2)))

    def loss(w, x, y):
        pred = (x.reshape(3, 1) * w).sum(0)
        return ((pred - y) * (pred - y)).sum()

    per_sample = func.vmap(func.grad(loss), in_dims=(None, 0, 0))(w, xs, ys)
    want = tt.stack([func.grad(loss)(w, xs[i], ys[i]) for i in range(6)])
    check_close(per_sample, want, "per-sample gradients of a linear model", rtol=1e-10, atol=1e-12)
    check_equal(tuple(per_sample.shape), (6, 3, 2), "the shape of the per-sample gradients")
