"""Lab 6 grader: modules, initialisation and losses."""

import math

import numpy as np
import pytest

import tinytorch as tt
import tinytorch.nn.functional as F
from tinytorch import nn, optim
from tinytorch.labs import check, check_close, check_equal

TITLE = "nn modules"
EXERCISES = {"6.1": "Linear", "6.2": "LayerNorm", "6.3": "cross_entropy"}
#: the library's own version of each exercise: it raises if the notebook's code calls it while graded
REFERENCES = {
    "6.1": ["tinytorch.nn.linear:Linear", "tinytorch.nn.functional:linear"],
    "6.2": ["tinytorch.nn.normalization:LayerNorm", "tinytorch.nn.functional:layer_norm"],
    "6.3": ["tinytorch.nn.functional:cross_entropy", "tinytorch.nn.functional:nll_loss",
            "tinytorch.nn.functional:log_softmax", "tinytorch.ops.reduce:log_softmax",
            "tinytorch.ops.reduce:LogSoftmax",
            "tinytorch.ops.reduce:logsumexp", "tinytorch.nn.loss:CrossEntropyLoss"],
}


def grads_of(module):
    return {name: p.grad.detach().numpy() for name, p in module.named_parameters()}


# --- 6.1 Linear ------------------------------------------------------------------------------------
@pytest.mark.points(2, exercise="6.1", hint="assign nn.Parameter attributes named weight and bias")
def test_linear_parameters(lab):
    """Linear registers weight (out, in) and bias (out,) as parameters; bias=False has none"""
    Linear = lab.defined("Linear")
    layer = Linear(5, 3)
    shapes = {name: tuple(p.shape) for name, p in layer.named_parameters()}
    check_equal(shapes, {"weight": (3, 5), "bias": (3,)}, "{name: shape} of Linear(5, 3).named_parameters()")
    check_equal([n for n, _ in Linear(5, 3, bias=False).named_parameters()], ["weight"],
                "parameter names of Linear(5, 3, bias=False)")


@pytest.mark.points(2, exercise="6.1", hint="uniform in [-1/sqrt(in_features), 1/sqrt(in_features)]")
def test_linear_init(lab):
    """weights and biases are uniform on [-1/sqrt(in), 1/sqrt(in)], like PyTorch"""
    Linear = lab.defined("Linear")
    tt.manual_seed(0)
    layer = Linear(400, 300)
    w, b = layer.weight.detach().numpy(), layer.bias.detach().numpy()
    k = 1 / math.sqrt(400)
    check(np.abs(w).max() <= k and np.abs(b).max() <= k, f"values outside [-{k}, {k}]: max |w| = {np.abs(w).max():.4f}")
    check(abs(w.std() - k / math.sqrt(3)) < 0.05 * k,
          f"weight std {w.std():.4f}; a uniform on [-k, k] has {k / math.sqrt(3):.4f}")
    check(abs(w.mean()) < 0.01 * k, f"weight mean {w.mean():.5f} should be about 0")


@pytest.mark.points(3, exercise="6.1")
def test_linear_in_a_model(lab):
    """your Linear inside nn.Sequential: loads a library Linear's state_dict, same outputs and gradients"""
    Linear = lab.defined("Linear")
    tt.manual_seed(1)
    ref = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    mine = nn.Sequential(Linear(4, 8), nn.ReLU(), Linear(8, 2))
    mine.load_state_dict(ref.state_dict())
    x = tt.randn(5, 4)
    check_close(mine(x), ref(x), "model(x) with your Linear layers", rtol=1e-5)
    (mine(x) ** 2).sum().backward()
    (ref(x) ** 2).sum().backward()
    g_mine, g_ref = grads_of(mine), grads_of(ref)
    for name in g_ref:
        check_close(g_mine.get(name), g_ref[name], f"gradient of {name}", rtol=1e-4, atol=1e-5)


# --- 6.2 LayerNorm ------------------------------------------------------------------------------------
@pytest.mark.points(3, exercise="6.2", hint="mean and biased variance over the last len(normalized_shape) dims")
def test_layernorm_forward(lab):
    """LayerNorm normalises over the trailing dims, like nn.LayerNorm"""
    LayerNorm = lab.defined("LayerNorm")
    tt.manual_seed(2)
    x = tt.randn(3, 4, 6) * 5 + 2
    for shape in (6, (6,), (4, 6)):
        mine, ref = LayerNorm(shape), nn.LayerNorm(shape)
        check_equal(sorted(n for n, _ in mine.named_parameters()), ["bias", "weight"], "LayerNorm parameter names")
        check_close(mine(x), ref(x), f"LayerNorm({shape})(x)", rtol=1e-4, atol=1e-5)


@pytest.mark.points(3, exercise="6.2")
def test_layernorm_gradients(lab):
    """LayerNorm with non-trivial weight and bias: gradients for input and parameters"""
    LayerNorm = lab.defined("LayerNorm")
    tt.manual_seed(3)
    mine, ref = LayerNorm(5), nn.LayerNorm(5)
    state = {"weight": tt.randn(5), "bias": tt.randn(5)}
    mine.load_state_dict(state)
    ref.load_state_dict(state)
    x1 = tt.randn(4, 5, requires_grad=True)
    x2 = x1.detach().clone().requires_grad_()
    w = tt.randn(4, 5)
    (mine(x1) * w).sum().backward()
    (ref(x2) * w).sum().backward()
    check_close(x1.grad, x2.grad, "gradient of the input", rtol=1e-4, atol=1e-5)
    for name, p in ref.named_parameters():
        check_close(dict(mine.named_parameters())[name].grad, p.grad, f"gradient of {name}", rtol=1e-4, atol=1e-5)


# --- 6.3 cross-entropy ------------------------------------------------------------------------------------
@pytest.mark.points(3, exercise="6.3", hint="log-softmax = (z - max) - log(sum(exp(z - max)))")
def test_cross_entropy_values_and_grads(lab):
    """cross_entropy equals F.cross_entropy, with the same gradient"""
    cross_entropy = lab.defined("cross_entropy")
    tt.manual_seed(4)
    z1 = tt.randn(6, 4, requires_grad=True)
    z2 = z1.detach().clone().requires_grad_()
    y = tt.tensor([0, 3, 1, 1, 2, 0])
    mine, ref = cross_entropy(z1, y), F.cross_entropy(z2, y)
    check_close(mine, ref, "cross_entropy(logits, target)", rtol=1e-5)
    mine.backward()
    ref.backward()
    check_close(z1.grad, z2.grad, "gradient of the logits", rtol=1e-4, atol=1e-6)


@pytest.mark.points(3, exercise="6.3", hint="subtract each row's max before exp")
def test_cross_entropy_is_stable(lab):
    """huge logits give a finite loss and gradient, and a model trains with your loss"""
    cross_entropy = lab.defined("cross_entropy")
    z = tt.tensor([[1000.0, 0.0, -1000.0], [0.0, 0.0, 0.0]], requires_grad=True)
    loss = cross_entropy(z, tt.tensor([0, 2]))
    check_close(loss, math.log(3) / 2, "cross_entropy of logits ±1000", rtol=1e-5)
    loss.backward()
    check(np.isfinite(z.grad.detach().numpy()).all(), "the gradient of huge logits is not finite")
    tt.manual_seed(5)
    x = tt.randn(64, 2)
    y = (x[:, 0] * x[:, 1] > 0).long()
    model = nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 2))
    opt = optim.Adam(model.parameters(), lr=0.05)
    for _ in range(150):
        opt.zero_grad()
        cross_entropy(model(x), y).backward()
        opt.step()
    acc = (model(x).argmax(1) == y).float().mean().item()
    check(acc >= 0.9, f"a small MLP trained with your loss reached {acc:.2f} accuracy on XOR-like data, "
          "expected >= 0.9")
