"""Optimizers and schedulers: hand-computed updates, step-for-step agreement with PyTorch, state dicts."""

import math

import numpy as np
import pytest

import tinytorch as tt

if not hasattr(tt, "Tensor"):
    pytest.skip("the Tensor layer (tinytorch.Tensor) is missing", allow_module_level=True)

from nn_helpers import needs_torch, torch  # noqa: E402

from tinytorch import nn, optim  # noqa: E402
from tinytorch.optim import lr_scheduler  # noqa: E402

START = [np.array([[0.5, -1.5, 2.0], [1.0, 0.0, -0.25]]), np.array([0.3, -0.7])]


def loss_fn(lib, params):
    """A smooth non-quadratic loss so that every step sees a different gradient."""
    w, b = params
    return ((w ** 2).sum() * 0.5 + (w * 3.0).sin().sum() + (b - 1.0).exp().sum() + (w.sum() * b).sum())


def run(lib, opt_cls, kwargs, steps, groups=False, device=None, dtype="float64"):
    if lib is tt:
        params = [nn.Parameter(tt.tensor(a, dtype=getattr(tt, dtype), device=device)) for a in START]
        make_opt = getattr(optim, opt_cls)
    else:
        params = [torch.tensor(a, dtype=getattr(torch, dtype), requires_grad=True) for a in START]
        make_opt = getattr(torch.optim, opt_cls)
    if groups:
        opt = make_opt([{"params": [params[0]]}, {"params": [params[1]], "lr": 0.003}], **kwargs)
    else:
        opt = make_opt(params, **kwargs)
    for _ in range(steps):
        opt.zero_grad()
        loss_fn(lib, params).backward()
        opt.step()
    return [p.detach().numpy() for p in params], opt


CONFIGS = [
    ("SGD", {"lr": 0.1}),
    ("SGD", {"lr": 0.05, "momentum": 0.9}),
    ("SGD", {"lr": 0.05, "momentum": 0.9, "dampening": 0.3, "weight_decay": 0.01}),
    ("SGD", {"lr": 0.05, "momentum": 0.8, "nesterov": True, "weight_decay": 0.1}),
    ("Adam", {}),
    ("Adam", {"lr": 0.01, "betas": (0.8, 0.99), "eps": 1e-6, "weight_decay": 0.1}),
    ("Adam", {"lr": 0.01, "amsgrad": True}),
    ("AdamW", {"lr": 0.01}),
    ("AdamW", {"lr": 0.01, "weight_decay": 0.5, "amsgrad": True}),
    ("RMSprop", {}),
    ("RMSprop", {"lr": 0.01, "alpha": 0.9, "momentum": 0.5, "centered": True, "weight_decay": 0.1}),
    ("Adadelta", {}),
    ("Adadelta", {"lr": 0.5, "rho": 0.8, "eps": 1e-5, "weight_decay": 0.1}),
    ("Adagrad", {}),
    ("Adagrad", {"lr": 0.05, "lr_decay": 0.01, "weight_decay": 0.1, "initial_accumulator_value": 0.2}),
    ("Adamax", {}),
    ("Adamax", {"lr": 0.01, "betas": (0.8, 0.99), "weight_decay": 0.1}),
    ("NAdam", {}),
    ("NAdam", {"lr": 0.01, "betas": (0.8, 0.99), "weight_decay": 0.1, "momentum_decay": 0.01}),
    ("RAdam", {}),
    ("RAdam", {"lr": 0.01, "betas": (0.8, 0.9), "weight_decay": 0.1}),
    ("Rprop", {}),
    ("Rprop", {"lr": 0.05, "etas": (0.3, 1.5), "step_sizes": (1e-3, 0.2), "maximize": True}),
    ("ASGD", {}),
    ("ASGD", {"lr": 0.05, "t0": 3, "lambd": 0.01, "alpha": 0.5, "weight_decay": 0.1}),
]


@needs_torch
@pytest.mark.parametrize("groups", [False, True])
@pytest.mark.parametrize("name,kwargs", CONFIGS, ids=[f"{c[0]}-{i}" for i, c in enumerate(CONFIGS)])
def test_trajectory_matches_torch(name, kwargs, groups, device):
    """25 steps on each device (on "cpu" Adam/AdamW take the fused adam_step kernel, on "numpy"
    the tensor-op path) equal PyTorch's in float64."""
    ours, _ = run(tt, name, kwargs, 25, groups, device)
    ref, _ = run(torch, name, kwargs, 25, groups)
    for a, b in zip(ours, ref):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


@needs_torch
@pytest.mark.parametrize("name,kwargs", [c for c in CONFIGS if c[0].startswith("Adam")], ids=str)
def test_adam_float32_trajectory_matches_torch(name, kwargs, device):
    """In float32 the update is computed in float32, as PyTorch does: 25 steps agree to float32 rounding."""
    ours, _ = run(tt, name, kwargs, 25, device=device, dtype="float32")
    ref, _ = run(torch, name, kwargs, 25, dtype="float32")
    for a, b in zip(ours, ref):
        assert a.dtype == np.float32
        np.testing.assert_allclose(a, b, rtol=2e-5, atol=2e-6)


@pytest.mark.parametrize("amsgrad", [False, True])
def test_adam_uses_the_fused_kernel_when_the_backend_has_one(monkeypatch, amsgrad):
    """On "cpu" each parameter's step is one adam_step call (not ten tensor ops), and it moves
    the parameters exactly as the tensor-op path does on "numpy"; a non-compact gradient is
    compacted first."""
    from tinytorch.ndarray.devices import unavailable_reason
    if unavailable_reason("cpu"):
        pytest.skip(unavailable_reason("cpu"))
    import tinytorch.backend_cpu as cpu
    calls = []
    real = cpu.adam_step
    monkeypatch.setattr(cpu, "adam_step", lambda *a, **k: (calls.append(a[4] is not None), real(*a, **k)))
    results = {}
    for device in ("numpy", "cpu"):
        w = nn.Parameter(tt.tensor(START[0], dtype=tt.float64, device=device))
        opt = optim.Adam([w], lr=0.05, weight_decay=0.1, amsgrad=amsgrad)
        for _ in range(3):
            opt.zero_grad()
            ((w * 3.0).sin().sum() + (w * w).sum()).backward()
            w.grad = w.grad.t().contiguous().t()  # a transposed view: not compact
            opt.step()
        results[device] = w.detach().numpy()
    assert calls == [amsgrad] * 3
    np.testing.assert_allclose(results["cpu"], results["numpy"], rtol=1e-13)


def test_sgd_momentum_by_hand():
    p = nn.Parameter(tt.tensor([1.0, -2.0], dtype=tt.float64))
    opt = optim.SGD([p], lr=0.1, momentum=0.9, dampening=0.5, weight_decay=0.2)
    x, buf = np.array([1.0, -2.0]), None
    for _ in range(4):
        opt.zero_grad()
        (p ** 3).sum().backward()
        g = 3 * x ** 2 + 0.2 * x
        buf = g.copy() if buf is None else 0.9 * buf + 0.5 * g
        x = x - 0.1 * buf
        opt.step()
        np.testing.assert_allclose(p.detach().numpy(), x, rtol=1e-12)


def test_adam_by_hand():
    p = nn.Parameter(tt.tensor([0.5, -1.0, 3.0], dtype=tt.float64))
    opt = optim.Adam([p], lr=0.1, betas=(0.9, 0.99), eps=1e-8)
    x, m, v = np.array([0.5, -1.0, 3.0]), np.zeros(3), np.zeros(3)
    for t in range(1, 6):
        opt.zero_grad()
        (p * p * p.sin()).sum().backward()
        g = 2 * x * np.sin(x) + x * x * np.cos(x)
        m = 0.9 * m + 0.1 * g
        v = 0.99 * v + 0.01 * g * g
        x = x - 0.1 * (m / (1 - 0.9 ** t)) / (np.sqrt(v / (1 - 0.99 ** t)) + 1e-8)
        opt.step()
        np.testing.assert_allclose(p.detach().numpy(), x, rtol=1e-12)


def test_adamw_decays_without_gradient_signal():
    p = nn.Parameter(tt.tensor([2.0], dtype=tt.float64))
    opt = optim.AdamW([p], lr=0.1, weight_decay=0.5)
    p.grad = tt.zeros(1, dtype=tt.float64)
    opt.step()
    assert p.item() == pytest.approx(2.0 * (1 - 0.1 * 0.5))


def test_state_dict_roundtrip_continues_the_trajectory():
    straight, _ = run(tt, "Adam", {"lr": 0.01}, 6)
    params = [nn.Parameter(tt.tensor(a, dtype=tt.float64)) for a in START]
    opt = optim.Adam(params, lr=0.01)
    for _ in range(3):
        opt.zero_grad()
        loss_fn(tt, params).backward()
        opt.step()
    saved = opt.state_dict()
    assert list(saved["state"]) == [0, 1] and saved["state"][0]["step"] == 3
    assert saved["param_groups"][0]["params"] == [0, 1] and saved["param_groups"][0]["lr"] == 0.01
    fresh = optim.Adam(params, lr=0.5)
    fresh.load_state_dict(saved)
    assert fresh.param_groups[0]["lr"] == 0.01
    for _ in range(3):
        fresh.zero_grad()
        loss_fn(tt, params).backward()
        fresh.step()
    for a, b in zip(params, straight):
        np.testing.assert_allclose(a.detach().numpy(), b, rtol=1e-12)


def test_zero_grad_and_param_group_errors():
    p = nn.Parameter(tt.ones(2))
    opt = optim.SGD([p], lr=0.1)
    (p * 2).sum().backward()
    opt.zero_grad(set_to_none=False)
    assert p.grad.tolist() == [0.0, 0.0]
    opt.zero_grad()
    assert p.grad is None
    opt.step()                                    # no gradient: nothing happens
    assert p.tolist() == [1.0, 1.0]
    with pytest.raises(ValueError, match="empty"):
        optim.SGD([], lr=0.1)
    with pytest.raises(ValueError, match="more than one"):
        optim.SGD([{"params": [p]}, {"params": [p]}], lr=0.1)
    with pytest.raises(ValueError, match="Nesterov"):
        optim.SGD([p], lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="learning rate"):
        optim.Adam([p], lr=-1)
    q = nn.Parameter(tt.ones(1))
    opt.add_param_group({"params": q, "lr": 0.5, "momentum": 0.9})
    assert opt.param_groups[1]["lr"] == 0.5 and opt.param_groups[1]["dampening"] == 0.0


# ---------------------------------------------------------------- schedulers
SCHEDULERS = [
    ("StepLR", {"step_size": 3, "gamma": 0.5}),
    ("CosineAnnealingLR", {"T_max": 7, "eta_min": 0.001}),
    ("CosineAnnealingLR", {"T_max": 4}),
    ("LambdaLR", {"lr_lambda": lambda epoch: 0.9 ** epoch}),
    ("MultiStepLR", {"milestones": [2, 5, 5, 9], "gamma": 0.5}),
    ("ExponentialLR", {"gamma": 0.8}),
    ("LinearLR", {}),
    ("LinearLR", {"start_factor": 0.5, "end_factor": 0.1, "total_iters": 7}),
    ("ConstantLR", {}),
    ("ConstantLR", {"factor": 0.25, "total_iters": 3}),
]


@needs_torch
@pytest.mark.parametrize("name,kwargs", SCHEDULERS, ids=[s[0] + str(i) for i, s in enumerate(SCHEDULERS)])
def test_schedulers_match_torch(name, kwargs):
    ours_opt = optim.SGD([nn.Parameter(tt.ones(1))], lr=0.1)
    ref_opt = torch.optim.SGD([torch.ones(1, requires_grad=True)], lr=0.1)
    ours = getattr(lr_scheduler, name)(ours_opt, **kwargs)
    ref = getattr(torch.optim.lr_scheduler, name)(ref_opt, **kwargs)
    for _ in range(20):
        assert ours.get_last_lr() == pytest.approx(ref.get_last_lr(), rel=1e-12, abs=1e-15)
        assert ours_opt.param_groups[0]["lr"] == pytest.approx(ref_opt.param_groups[0]["lr"], rel=1e-12, abs=1e-15)
        ours_opt.step()
        ref_opt.step()
        ours.step()
        ref.step()


def test_schedulers_by_hand():
    opt = optim.SGD([nn.Parameter(tt.ones(1))], lr=1.0)
    sched = lr_scheduler.StepLR(opt, step_size=2, gamma=0.1)
    lrs = []
    for _ in range(6):
        lrs.append(opt.param_groups[0]["lr"])
        sched.step()
    assert lrs == pytest.approx([1.0, 1.0, 0.1, 0.1, 0.01, 0.01])
    opt = optim.SGD([nn.Parameter(tt.ones(1))], lr=1.0)
    sched = lr_scheduler.CosineAnnealingLR(opt, T_max=10)
    for epoch in range(11):
        assert opt.param_groups[0]["lr"] == pytest.approx((1 + math.cos(math.pi * epoch / 10)) / 2, abs=1e-12)
        sched.step()
    opt = optim.SGD([{"params": [nn.Parameter(tt.ones(1))]}, {"params": [nn.Parameter(tt.ones(1))], "lr": 2.0}],
                    lr=1.0)
    sched = lr_scheduler.LambdaLR(opt, [lambda e: 1.0 / (e + 1), lambda e: 0.5])
    sched.step()
    assert sched.get_last_lr() == [0.5, 1.0]


@needs_torch
@pytest.mark.parametrize("kwargs", [{}, {"mode": "max", "factor": 0.5, "patience": 2, "cooldown": 1},
                                    {"threshold_mode": "abs", "threshold": 0.05, "patience": 1, "min_lr": 0.02}])
def test_reduce_lr_on_plateau_matches_torch(kwargs):
    """A metric that improves, stalls, wobbles and improves again: the same reductions as PyTorch."""
    metrics = [1.0, 0.9, 0.85, 0.85, 0.86, 0.84, 0.84, 0.84, 0.9, 0.7, 0.7, 0.7, 0.7] * 2
    ours_opt = optim.SGD([nn.Parameter(tt.ones(1))], lr=0.1)
    ref_opt = torch.optim.SGD([torch.ones(1, requires_grad=True)], lr=0.1)
    ours = lr_scheduler.ReduceLROnPlateau(ours_opt, **kwargs)
    ref = torch.optim.lr_scheduler.ReduceLROnPlateau(ref_opt, **kwargs)
    for m in metrics * 2:
        ours.step(m)
        ref.step(m)
        assert ours.get_last_lr() == pytest.approx(ref.get_last_lr(), rel=1e-12)
    assert ours.get_last_lr()[0] < 0.1  # it did reduce


def test_scheduler_argument_errors():
    opt = optim.SGD([nn.Parameter(tt.ones(1))], lr=0.1)
    with pytest.raises(ValueError, match="greater than 0"):
        lr_scheduler.LinearLR(opt, start_factor=0.0)
    with pytest.raises(ValueError, match="between 0 and 1"):
        lr_scheduler.ConstantLR(opt, factor=2.0)
    with pytest.raises(ValueError, match="Factor should be < 1.0"):
        lr_scheduler.ReduceLROnPlateau(opt, factor=1.5)


def test_rprop_steps_by_sign_and_asgd_averages():
    """Without PyTorch: Rprop's step grows by etaplus while the gradient's sign holds and the
    weight moves by exactly that step; ASGD's average is the iterate until t0, then a mean."""
    w = nn.Parameter(tt.tensor([3.0], dtype=tt.float64))
    opt = optim.Rprop([w], lr=0.1, etas=(0.5, 2.0))
    positions = []
    for _ in range(3):
        opt.zero_grad()
        (w * 5.0).sum().backward()  # a constant positive gradient
        opt.step()
        positions.append(w.item())
    np.testing.assert_allclose(positions, [2.9, 2.7, 2.3])  # steps 0.1, 0.2, 0.4
    v = nn.Parameter(tt.tensor([1.0], dtype=tt.float64))
    avg = optim.ASGD([v], lr=0.1, lambd=0.0, t0=2)
    iterates = []
    for _ in range(5):
        avg.zero_grad()
        (v * v).sum().backward()
        avg.step()
        iterates.append(v.item())
    ax = avg.state[v]["ax"].item()
    # mu = 1 / (t - t0) is set after step t and used at step t + 1: the mean of steps t0 + 2 on
    assert abs(ax - np.mean(iterates[3:])) < 1e-6 and iterates[3] != iterates[4]
    with pytest.raises(ValueError, match="eta"):
        optim.Rprop([w], etas=(1.5, 1.2))
