"""Lab 7 grader: SGD with momentum and Adam, step for step."""

import numpy as np
import pytest

import tinytorch as tt
from tinytorch import nn, optim
from tinytorch.labs import check, check_close

TITLE = "optimizers"
EXERCISES = {"7.1": "SGD with momentum", "7.2": "Adam"}
#: the library's own version of each exercise: it raises if the notebook's code calls it while graded
REFERENCES = {
    "7.1": ["tinytorch.optim.sgd:SGD"],
    "7.2": ["tinytorch.optim.adam:Adam", "tinytorch.optim.adam:AdamW", "tinytorch.ops.inplace:_fused_adam_"],
}


def _params(seed):
    rng = np.random.default_rng(seed)
    return [nn.Parameter(tt.tensor(rng.standard_normal(s), dtype=tt.float64)) for s in [(3, 4), (4,), (2,)]]


def _loss(params, step):
    """A different smooth loss each step, so the gradients change."""
    w, b, c = params
    return ((w.sum(0) * (1 + 0.1 * step) + b) ** 2).sum() + (c ** 4).sum() + (w * w).mean()


def _run(make_opt, steps, skip_grad=None, groups=None, scheduler=None):
    """Parameter values after each of ``steps`` steps of the optimizer ``make_opt`` builds."""
    params = _params(0)
    opt = make_opt(params if groups is None else groups(params))
    sched = scheduler(opt) if scheduler is not None else None
    history = []
    for step in range(steps):
        opt.zero_grad()
        _loss(params, step).backward()
        if skip_grad is not None:
            params[skip_grad].grad = None  # a parameter without a gradient this step
        opt.step()
        if sched is not None:
            sched.step()
        history.append([p.detach().numpy().copy() for p in params])
    return history


def compare(make_mine, make_ref, steps, what, skip_grad=None, hint=None, groups=None, scheduler=None):
    """The learner's optimizer runs all its steps first; the library's runs afterwards, so nothing
    the learner's code can see holds the expected values."""
    mine = _run(make_mine, steps, skip_grad, groups, scheduler)
    ref = _run(make_ref, steps, skip_grad, groups, scheduler)
    for step, (got, expected) in enumerate(zip(mine, ref)):
        for i, (a, b) in enumerate(zip(got, expected)):
            check_close(a, b, f"{what}: parameter {i} after step {step + 1}", hint, rtol=1e-9, atol=1e-12)


def _two_groups(first, second):
    """Parameter groups: the first two parameters with the settings ``first``, the last with ``second``."""
    return lambda params: [dict(params=params[:2], **first), dict(params=params[2:], **second)]


def _step_lr(opt):
    return optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)


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


@pytest.mark.points(2, exercise="7.1", hint="read lr, momentum and weight_decay from each group "
                                             "(`for group in self.param_groups: ... group['lr']`), every step")
def test_sgd_param_groups_and_scheduler(lab):
    """parameter groups with their own lr, momentum and weight decay, and an lr scheduler changing lr"""
    SGD = lab.defined("SGD")
    groups = _two_groups(dict(lr=0.1, momentum=0.5), dict(weight_decay=0.2))
    compare(lambda p: SGD(p, lr=0.03, momentum=0.9), lambda p: optim.SGD(p, lr=0.03, momentum=0.9), 6,
            "SGD with two parameter groups and StepLR", groups=groups, scheduler=_step_lr)


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


@pytest.mark.points(2, exercise="7.2", hint="read lr, betas, eps and weight_decay from each group, every step")
def test_adam_param_groups_and_scheduler(lab):
    """parameter groups with their own lr, betas, eps and weight decay, and an lr scheduler changing lr"""
    Adam = lab.defined("Adam")
    groups = _two_groups(dict(lr=0.05, betas=(0.5, 0.9)), dict(eps=1e-3, weight_decay=0.1))
    compare(lambda p: Adam(p, lr=0.01), lambda p: optim.Adam(p, lr=0.01), 6,
            "Adam with two parameter groups and StepLR", groups=groups, scheduler=_step_lr)


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
