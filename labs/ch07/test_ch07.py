"""Lab 7 grader: SGD with momentum and Adam, step for step."""

import numpy as np
import pytest

import tinytorch as tt
from tinytorch import nn, optim
from tinytorch.labs import check, check_close

TITLE = "optimizers"
EXERCISES = {"7.1": "SGD with momentum", "7.2": "Adam"}


def _params(seed):
    rng = np.random.default_rng(seed)
    return [nn.Parameter(tt.tensor(rng.standard_normal(s), dtype=tt.float64)) for s in [(3, 4), (4,), (2,)]]


def _loss(params, step):
    """A different smooth loss each step, so the gradients change."""
    w, b, c = params
    return ((w.sum(0) * (1 + 0.1 * step) + b) ** 2).sum() + (c ** 4).sum() + (w * w).mean()


def compare(make_mine, make_ref, steps, what, skip_grad=None, hint=None):
    mine_params, ref_params = _params(0), _params(0)
    mine, ref = make_mine(mine_params), make_ref(ref_params)
    for step in range(steps):
        for params, opt in ((mine_params, mine), (ref_params, ref)):
            opt.zero_grad()
            _loss(params, step).backward()
            if skip_grad is not None:
                params[skip_grad].grad = None  # a parameter without a gradient this step
            opt.step()
        for i, (a, b) in enumerate(zip(mine_params, ref_params)):
            check_close(a, b, f"{what}: parameter {i} after step {step + 1}", hint, rtol=1e-9, atol=1e-12)


# --- 7.1 SGD -------------------------------------------------------------------------------------------
@pytest.mark.points(3, exercise="7.1", hint="p <- p - lr * g, in place (p.add_(g, alpha=-lr))")
def test_sgd_plain(lab):
    """SGD without momentum matches the library step for step"""
    SGD = lab.defined("SGD")
    compare(lambda p: SGD(p, lr=0.05), lambda p: optim.SGD(p, lr=0.05), 4, "SGD(lr=0.05)")


@pytest.mark.points(3, exercise="7.1", hint="the first step stores a clone of g as the buffer; later b <- mu * b + g")
def test_sgd_momentum(lab):
    """SGD with momentum and weight decay matches the library over 6 steps"""
    SGD = lab.defined("SGD")
    compare(lambda p: SGD(p, lr=0.05, momentum=0.9), lambda p: optim.SGD(p, lr=0.05, momentum=0.9), 6,
            "SGD(lr=0.05, momentum=0.9)")
    compare(lambda p: SGD(p, lr=0.02, momentum=0.5, weight_decay=0.1),
            lambda p: optim.SGD(p, lr=0.02, momentum=0.5, weight_decay=0.1), 6, "SGD with weight_decay=0.1")


@pytest.mark.points(2, exercise="7.1")
def test_sgd_skips_params_without_grad(lab):
    """parameters whose .grad is None are left alone"""
    SGD = lab.defined("SGD")
    compare(lambda p: SGD(p, lr=0.05, momentum=0.9), lambda p: optim.SGD(p, lr=0.05, momentum=0.9), 3,
            "SGD with a parameter that has no gradient", skip_grad=2)


# --- 7.2 Adam -------------------------------------------------------------------------------------------
@pytest.mark.points(4, exercise="7.2", hint="count steps per parameter; bias-correct m and v with 1 - beta**t")
def test_adam_matches(lab):
    """Adam matches the library step for step, with and without weight decay"""
    Adam = lab.defined("Adam")
    compare(lambda p: Adam(p, lr=0.01), lambda p: optim.Adam(p, lr=0.01), 6, "Adam(lr=0.01)")
    compare(lambda p: Adam(p, lr=0.003, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.05),
            lambda p: optim.Adam(p, lr=0.003, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.05), 6,
            "Adam(betas=(0.8, 0.99), eps=1e-6, weight_decay=0.05)")


@pytest.mark.points(2, exercise="7.2")
def test_adam_skips_params_without_grad(lab):
    """Adam leaves parameters without a gradient (and their step count) alone"""
    Adam = lab.defined("Adam")
    compare(lambda p: Adam(p, lr=0.01), lambda p: optim.Adam(p, lr=0.01), 3,
            "Adam with a parameter that has no gradient", skip_grad=1)


@pytest.mark.points(2, exercise="7.2")
def test_adam_trains_a_model(lab):
    """your Adam fits a small regression network"""
    Adam = lab.defined("Adam")
    tt.manual_seed(0)
    x = tt.linspace(-2, 2, 64).reshape(64, 1)
    y = tt.sin(x * 2)
    model = nn.Sequential(nn.Linear(1, 32), nn.Tanh(), nn.Linear(32, 1))
    opt = Adam(model.parameters(), lr=0.02)
    for _ in range(300):
        opt.zero_grad()
        loss = ((model(x) - y) ** 2).mean()
        loss.backward()
        opt.step()
    check(loss.item() < 0.02, f"the mean squared error after 300 Adam steps is {loss.item():.4f}, expected < 0.02")
