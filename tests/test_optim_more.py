"""LBFGS (fixed step and strong-Wolfe line search) and the cycling / composite learning-rate
schedulers (OneCycleLR, CosineAnnealingWarmRestarts, SequentialLR, ChainedScheduler): float64
trajectories and lr sequences equal PyTorch's."""

import importlib

import numpy as np
import pytest
from nn_helpers import needs_torch, torch

import tinytorch as tt
from tinytorch import nn, optim
from tinytorch.optim import lr_scheduler

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

START = [np.array([[0.5, -1.5, 2.0], [1.0, 0.0, -0.25]]), np.array([0.3, -0.7])]


def smooth_loss(params):
    """Bounded below and not quadratic: every iteration sees new curvature."""
    w, b = params
    return ((w ** 2).sum() * 0.5 + (w * 3.0).sin().sum() + (b - 1.0).exp().sum() + (b * b).sum()
            + (w.sum() * b).sum() * 0.1)


def rosenbrock(params):
    w, b = params
    x = w.reshape(-1)
    return (100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2).sum() + (b * b).sum()


def run_lbfgs(lib, kwargs, steps, loss_fn, device=None):
    if lib is tt:
        params = [nn.Parameter(tt.tensor(a, dtype=tt.float64, device=device)) for a in START]
        opt = optim.LBFGS(params, **kwargs)
    else:
        params = [torch.tensor(a, requires_grad=True) for a in START]
        opt = torch.optim.LBFGS(params, **kwargs)

    def closure():
        opt.zero_grad()
        loss = loss_fn(params)
        loss.backward()
        return loss

    losses = [float(opt.step(closure)) for _ in range(steps)]
    state = opt.state[params[0]]
    return losses, [p.detach().numpy().copy() for p in params], (state["func_evals"], state["n_iter"])


LBFGS_CONFIGS = [
    ({}, smooth_loss, 4),
    ({"line_search_fn": "strong_wolfe"}, smooth_loss, 4),
    ({"history_size": 3, "max_iter": 7, "lr": 0.5}, smooth_loss, 4),
    ({"history_size": 2, "line_search_fn": "strong_wolfe", "max_iter": 30, "max_eval": 40}, smooth_loss, 3),
    ({"line_search_fn": "strong_wolfe", "max_iter": 8}, rosenbrock, 1),
    ({"max_iter": 5, "lr": 0.1}, rosenbrock, 2),
]


@needs_torch
@pytest.mark.parametrize("kwargs,loss_fn,steps", LBFGS_CONFIGS, ids=[str(i) for i in range(len(LBFGS_CONFIGS))])
def test_lbfgs_trajectory_matches_torch(kwargs, loss_fn, steps, device):
    """Every ``step(closure)``'s loss, the parameters after it, and the numbers of loss
    evaluations and iterations agree with PyTorch's (the line search takes the same branches)."""
    ours = run_lbfgs(tt, kwargs, steps, loss_fn, device)
    ref = run_lbfgs(torch, kwargs, steps, loss_fn)
    np.testing.assert_allclose(ours[0], ref[0], rtol=1e-9)
    for a, b in zip(ours[1], ref[1]):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)
    assert ours[2] == ref[2]


def test_lbfgs_converges_on_a_quadratic_and_checks_arguments(device):
    w = nn.Parameter(tt.tensor([1.5, -0.5, 4.0], dtype=tt.float64, device=device))
    opt = optim.LBFGS([w], line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = ((w - 3.0) ** 2 * tt.tensor([1.0, 10.0, 0.1], dtype=tt.float64, device=device)).sum()
        loss.backward()
        return loss

    opt.step(closure)
    np.testing.assert_allclose(w.detach().numpy(), [3.0, 3.0, 3.0], atol=1e-4)
    with pytest.raises(ValueError, match="parameter groups"):
        optim.LBFGS([{"params": [w]}, {"params": [nn.Parameter(tt.zeros(2))]}])
    with pytest.raises(ValueError, match="learning rate"):
        optim.LBFGS([w], lr=-1.0)
    with pytest.raises(RuntimeError, match="strong_wolfe"):
        optim.LBFGS([w], line_search_fn="armijo").step(closure)


@needs_torch
def test_lbfgs_state_dict_resumes(device):
    """Saving after one step and loading into a fresh optimizer continues as the original does."""
    ours = run_lbfgs(tt, {"history_size": 4, "max_iter": 3}, 3, smooth_loss, device)
    params = [nn.Parameter(tt.tensor(a, dtype=tt.float64, device=device)) for a in START]
    opt = optim.LBFGS(params, history_size=4, max_iter=3)

    def closure(o, ps):
        def f():
            o.zero_grad()
            loss = smooth_loss(ps)
            loss.backward()
            return loss
        return f

    opt.step(closure(opt, params))
    saved = opt.state_dict()
    opt2 = optim.LBFGS(params, history_size=4, max_iter=3)
    opt2.load_state_dict(saved)
    for _ in range(2):
        opt2.step(closure(opt2, params))
    for a, b in zip(params, ours[1]):
        np.testing.assert_allclose(a.detach().numpy(), b, rtol=1e-12)


# ---------------------------------------------------------------------- schedulers
def make_opt(lib, kind, groups=2):
    ps = ([nn.Parameter(tt.zeros(2)) for _ in range(groups)] if lib is tt else
          [torch.zeros(2, requires_grad=True) for _ in range(groups)])
    o = optim if lib is tt else torch.optim
    pg = [{"params": [p], "lr": 0.1 * (i + 1)} for i, p in enumerate(ps)]
    if kind == "sgd":
        return o.SGD(pg, lr=0.1, momentum=0.9)
    return o.Adam(pg, lr=0.1, betas=(0.9, 0.99))


def trace(lib, opt_kind, build, steps, step_arg=None):
    """The (lr, momentum or beta1) of every group before each of ``steps`` scheduler steps."""
    opt = make_opt(lib, opt_kind)
    sched = build(lib.optim.lr_scheduler if lib is torch else lr_scheduler, opt)
    out = []
    for i in range(steps):
        out.append([(g["lr"], g.get("momentum", g.get("betas", (None,))[0])) for g in opt.param_groups])
        assert sched.get_last_lr() == [g["lr"] for g in opt.param_groups]
        opt.step()
        sched.step() if step_arg is None else sched.step(step_arg(i))
    return out


SCHEDULES = [
    ("onecycle_cos_sgd", "sgd", lambda m, o: m.OneCycleLR(o, max_lr=[1.0, 0.5], total_steps=20), 20),
    ("onecycle_linear_adam", "adam", lambda m, o: m.OneCycleLR(o, max_lr=1.0, epochs=3, steps_per_epoch=5,
                                                              anneal_strategy="linear", pct_start=0.4), 15),
    ("onecycle_three_phase", "sgd", lambda m, o: m.OneCycleLR(o, max_lr=0.8, total_steps=17, three_phase=True,
                                                             div_factor=10.0, final_div_factor=100.0,
                                                             base_momentum=0.8, max_momentum=0.9), 17),
    ("onecycle_no_momentum", "adam", lambda m, o: m.OneCycleLR(o, max_lr=0.3, total_steps=9,
                                                              cycle_momentum=False), 9),
    ("warm_restarts", "sgd", lambda m, o: m.CosineAnnealingWarmRestarts(o, T_0=4, eta_min=0.01), 14),
    ("warm_restarts_mult", "sgd", lambda m, o: m.CosineAnnealingWarmRestarts(o, T_0=2, T_mult=3), 25),
    ("sequential_warmup", "sgd", lambda m, o: m.SequentialLR(o, [m.LinearLR(o, start_factor=0.2, total_iters=4),
                                                                 m.ExponentialLR(o, gamma=0.7)], milestones=[4]), 12),
    ("sequential_three", "adam", lambda m, o: m.SequentialLR(
        o, [m.ConstantLR(o, factor=0.5, total_iters=2), m.StepLR(o, step_size=2, gamma=0.5),
            m.CosineAnnealingLR(o, T_max=5, eta_min=0.001)], milestones=[3, 7]), 16),
    ("sequential_multistep", "sgd", lambda m, o: m.SequentialLR(
        o, [m.ExponentialLR(o, gamma=0.9), m.MultiStepLR(o, milestones=[1, 3], gamma=0.5)], milestones=[3]), 9),
    ("chained", "sgd", lambda m, o: m.ChainedScheduler([m.ConstantLR(o, factor=0.5, total_iters=3),
                                                         m.ExponentialLR(o, gamma=0.9)]), 8),
    ("chained_with_sequential", "adam", lambda m, o: m.ChainedScheduler(
        [m.SequentialLR(o, [m.LinearLR(o, start_factor=0.5, total_iters=2), m.ExponentialLR(o, gamma=0.8)],
                        milestones=[2]), m.StepLR(o, step_size=3, gamma=0.5)], optimizer=o), 9),
    ("multiplicative", "sgd", lambda m, o: m.MultiplicativeLR(o, lambda epoch: 0.95 - 0.01 * epoch), 10),
    ("polynomial", "adam", lambda m, o: m.PolynomialLR(o, total_iters=6, power=2.0), 10),
    ("cyclic_triangular", "sgd", lambda m, o: m.CyclicLR(o, base_lr=0.01, max_lr=[0.1, 0.2], step_size_up=4), 20),
    ("cyclic_triangular2_adam", "adam", lambda m, o: m.CyclicLR(o, 0.01, 0.1, step_size_up=3, step_size_down=5,
                                                                 mode="triangular2"), 30),
    ("cyclic_exp_range", "sgd", lambda m, o: m.CyclicLR(o, 0.01, 0.1, step_size_up=3, mode="exp_range",
                                                         gamma=0.9, base_momentum=0.7, max_momentum=0.95), 20),
]


@needs_torch
@pytest.mark.parametrize("name,opt_kind,build,steps", SCHEDULES, ids=[s[0] for s in SCHEDULES])
def test_schedule_matches_torch(name, opt_kind, build, steps):
    np.testing.assert_allclose(np.array(trace(tt, opt_kind, build, steps), dtype=float),
                               np.array(trace(torch, opt_kind, build, steps), dtype=float), rtol=1e-13, atol=1e-15)


@needs_torch
def test_warm_restarts_with_fractional_epochs():
    """``step(epoch + i / iters)``, the documented per-batch use, for T_mult 1 and 2."""
    for t_mult in (1, 2):
        def build(m, o, t_mult=t_mult):
            return m.CosineAnnealingWarmRestarts(o, T_0=3, T_mult=t_mult, eta_min=0.005)
        ours = trace(tt, "sgd", build, 40, step_arg=lambda i: i / 4)
        ref = trace(torch, "sgd", build, 40, step_arg=lambda i: i / 4)
        np.testing.assert_allclose(np.array(ours, dtype=float), np.array(ref, dtype=float), rtol=1e-13)


@needs_torch
def test_onecycle_past_total_steps_and_bad_arguments():
    opt = make_opt(tt, "sgd")
    sched = lr_scheduler.OneCycleLR(opt, max_lr=1.0, total_steps=3)
    for _ in range(3):
        sched.step()
    with pytest.raises(ValueError, match="Tried to step 4 times"):
        sched.step()
    with pytest.raises(ValueError, match="total_steps OR"):
        lr_scheduler.OneCycleLR(make_opt(tt, "sgd"), max_lr=1.0)
    with pytest.raises(ValueError, match="anneal_strategy"):
        lr_scheduler.OneCycleLR(make_opt(tt, "sgd"), max_lr=1.0, total_steps=3, anneal_strategy="exp")
    with pytest.raises(ValueError, match="momentum"):
        lr_scheduler.OneCycleLR(optim.Adagrad([nn.Parameter(tt.zeros(1))]), max_lr=1.0, total_steps=3)
    with pytest.raises(ValueError, match="T_0"):
        lr_scheduler.CosineAnnealingWarmRestarts(make_opt(tt, "sgd"), T_0=0)
    o = make_opt(tt, "sgd")
    with pytest.raises(ValueError, match="milestone"):
        lr_scheduler.SequentialLR(o, [lr_scheduler.ExponentialLR(o, 0.9)], milestones=[2])
    with pytest.raises(ValueError, match="ReduceLROnPlateau"):
        lr_scheduler.ChainedScheduler([lr_scheduler.ReduceLROnPlateau(o)])
    with pytest.raises(ValueError, match="same optimizer"):
        lr_scheduler.ChainedScheduler([lr_scheduler.ExponentialLR(o, 0.9),
                                       lr_scheduler.ExponentialLR(make_opt(tt, "sgd"), 0.9)])


@pytest.mark.parametrize("name,opt_kind,build,steps", SCHEDULES, ids=[s[0] for s in SCHEDULES])
def test_schedule_state_dict_resumes(name, opt_kind, build, steps):
    """Save a schedule half-way, load it into a freshly built one (over an optimizer loaded the
    same way), and the rest of the sequence is the uninterrupted one's."""
    full = trace(tt, opt_kind, build, steps)
    opt = make_opt(tt, opt_kind)
    sched = build(lr_scheduler, opt)
    for _ in range(steps // 2):
        opt.step()
        sched.step()
    saved_sched, saved_opt = sched.state_dict(), opt.state_dict()
    opt2 = make_opt(tt, opt_kind)
    sched2 = build(lr_scheduler, opt2)
    opt2.load_state_dict(saved_opt)
    sched2.load_state_dict(saved_sched)
    rest = []
    for _ in range(steps - steps // 2):
        rest.append([(g["lr"], g.get("momentum", g.get("betas", (None,))[0])) for g in opt2.param_groups])
        opt2.step()
        sched2.step()
    assert sched2.get_last_lr() == [g["lr"] for g in opt2.param_groups]
    np.testing.assert_allclose(np.array(rest, dtype=float), np.array(full[steps // 2:], dtype=float), rtol=1e-13)


def test_new_schedules_follow_their_formulas():
    """Without PyTorch: PolynomialLR's closed form and CyclicLR's triangle, step by step."""
    opt = make_opt(tt, "sgd")
    sched = lr_scheduler.PolynomialLR(opt, total_iters=4, power=2.0)
    base = opt.param_groups[0]["initial_lr"]
    for epoch in range(1, 7):
        opt.step()
        sched.step()
        expected = base * (1 - min(epoch, 4) / 4) ** 2
        assert abs(opt.param_groups[0]["lr"] - expected) < 1e-12, epoch
    opt = make_opt(tt, "sgd")
    sched = lr_scheduler.CyclicLR(opt, base_lr=0.1, max_lr=0.5, step_size_up=2, cycle_momentum=False)
    lrs = [opt.param_groups[0]["lr"]]
    for _ in range(6):
        opt.step()
        sched.step()
        lrs.append(opt.param_groups[0]["lr"])
    np.testing.assert_allclose(lrs, [0.1, 0.3, 0.5, 0.3, 0.1, 0.3, 0.5])
    with pytest.raises(ValueError, match="mode"):
        lr_scheduler.CyclicLR(make_opt(tt, "sgd"), 0.1, 0.5, mode="sawtooth")
    with pytest.raises(ValueError, match="momentum"):
        lr_scheduler.CyclicLR(optim.Adagrad([nn.Parameter(tt.zeros(1))]), 0.1, 0.5)


# --- optim.swa_utils -------------------------------------------------------------------------------
def _swa_run(L, kind):
    L.manual_seed(0)
    net = L.nn.Sequential(L.nn.Linear(3, 4), L.nn.BatchNorm1d(4), L.nn.Linear(4, 1)).double()
    with L.no_grad():
        for i, p in enumerate(net.parameters()):
            p.copy_(L.tensor(np.cos(np.arange(p.numel()) * 0.4 + i).reshape(tuple(p.shape))))
    S = L.optim.swa_utils
    avg = {"swa": lambda: S.AveragedModel(net),
           "ema": lambda: S.AveragedModel(net, multi_avg_fn=S.get_ema_multi_avg_fn(0.9)),
           "ema_buffers": lambda: S.AveragedModel(net, avg_fn=S.get_ema_avg_fn(0.8), use_buffers=True)}[kind]()
    opt = L.optim.SGD(net.parameters(), lr=0.5, momentum=0.9)
    sched = S.SWALR(opt, swa_lr=0.05, anneal_epochs=3, anneal_strategy="cos" if kind != "ema" else "linear")
    x = L.tensor(np.sin(np.arange(30.0)).reshape(10, 3))
    snapshots, lrs = [], []
    for _ in range(6):
        opt.zero_grad()
        (net(x) ** 2).mean().backward()
        opt.step()
        avg.update_parameters(net)
        sched.step()
        snapshots.append([p.detach().numpy().copy() for p in net.parameters()])
        lrs.append(opt.param_groups[0]["lr"])
    S.update_bn([(x[:5], 0), (x[5:], 1)], avg)
    state = [p.detach().numpy() for p in avg.parameters()] + [b.numpy().astype(float) for b in avg.buffers()]
    return state + [np.array(lrs), avg(x).detach().numpy()], snapshots, avg


def test_averaged_model_by_definition():
    state, snapshots, avg = _swa_run(tt, "swa")
    assert avg.n_averaged.item() == 6
    for k in range(len(snapshots[0])):  # the running mean of the six snapshots
        np.testing.assert_allclose(state[k], np.mean([s[k] for s in snapshots], axis=0), rtol=1e-12)
    state, snapshots, _ = _swa_run(tt, "ema")
    expected = snapshots[0][0]
    for s in snapshots[1:]:
        expected = 0.9 * expected + 0.1 * s[0]
    np.testing.assert_allclose(state[0], expected, rtol=1e-12)
    lrs = state[-2]
    np.testing.assert_allclose(lrs[2:], 0.05)  # linear anneal to swa_lr in 3 steps, then constant
    with pytest.raises(ValueError, match="anneal_strategy"):
        tt.optim.swa_utils.SWALR(make_opt(tt, "sgd"), swa_lr=0.1, anneal_strategy="step")


@needs_torch
@pytest.mark.parametrize("kind", ["swa", "ema", "ema_buffers"])
def test_swa_utils_match_pytorch(kind):
    importlib.import_module("torch.optim.swa_utils")
    ours, ref = _swa_run(tt, kind)[0], _swa_run(torch, kind)[0]
    assert len(ours) == len(ref)
    for a, b in zip(ours, ref):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)
