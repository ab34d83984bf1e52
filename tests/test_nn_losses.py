"""Losses vs PyTorch for every reduction, and vs finite differences."""

import numpy as np
import pytest

import tinytorch as tt

if not hasattr(tt, "Tensor"):
    pytest.skip("the Tensor layer (tinytorch.Tensor) is missing", allow_module_level=True)

from nn_helpers import gradcheck, needs_torch, to_torch, to_tt, torch  # noqa: E402

from tinytorch import nn  # noqa: E402
from tinytorch.nn import functional as F  # noqa: E402

REDUCTIONS = ["mean", "sum", "none"]


def compare(loss_tt, loss_ref, inputs_tt, inputs_ref):
    np.testing.assert_allclose(loss_tt.detach().numpy(), loss_ref.detach().numpy(), rtol=1e-10, atol=1e-12)
    (loss_tt.sum() if loss_tt.ndim else loss_tt).backward()
    (loss_ref.sum() if loss_ref.ndim else loss_ref).backward()
    for a, b in zip(inputs_tt, inputs_ref):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-9, atol=1e-12)


CE_CASES = [
    ("plain", {}, (6, 5)),
    ("weight", {"weight": [0.5, 1.0, 2.0, 1.5, 0.1]}, (6, 5)),
    ("ignore", {"ignore_index": 2}, (6, 5)),
    ("smoothing", {"label_smoothing": 0.1, "weight": [0.5, 1.0, 2.0, 1.5, 0.1]}, (6, 5)),
    ("spatial", {}, (2, 5, 3, 2)),
    ("single", {}, (5,)),
]


@needs_torch
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("case,kwargs,shape", CE_CASES, ids=[c[0] for c in CE_CASES])
def test_cross_entropy_and_nll_match_torch(case, kwargs, shape, reduction, device, rng):
    x = rng.standard_normal(shape)
    target_shape = shape[:1] + shape[2:] if len(shape) > 1 else ()
    target = rng.integers(0, 5, target_shape)
    if case == "ignore":
        target[:2] = 2
    kw_tt = {k: to_tt(v, device, tt.float64) if k == "weight" else v for k, v in kwargs.items()}
    kw_ref = {k: to_torch(np.array(v, dtype=np.float64)) if k == "weight" else v for k, v in kwargs.items()}
    xt, xr = to_tt(x, device, requires_grad=True), to_torch(x, requires_grad=True)
    compare(nn.CrossEntropyLoss(reduction=reduction, **kw_tt)(xt, to_tt(target, device)),
            torch.nn.CrossEntropyLoss(reduction=reduction, **kw_ref)(xr, torch.tensor(target)), [xt], [xr])
    if "label_smoothing" in kwargs:
        return
    logp = rng.standard_normal(shape)
    xt, xr = to_tt(logp, device, requires_grad=True), to_torch(logp, requires_grad=True)
    compare(F.nll_loss(xt, to_tt(target, device), reduction=reduction, **kw_tt),
            torch.nn.functional.nll_loss(xr, torch.tensor(target), reduction=reduction, **kw_ref), [xt], [xr])


@needs_torch
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", [(6, 5), (2, 5, 3), (5,)], ids=str)
def test_cross_entropy_is_one_node_with_torchs_second_order_gradient(reduction, shape, device, rng):
    """Class-index cross entropy (no weight, no smoothing) is log_softmax and one NllLoss node,
    named as PyTorch's; its backward is made of ops, so a gradient of the gradient matches too."""
    x = rng.standard_normal(shape)
    target = rng.integers(0, 5, shape[:1] + shape[2:] if len(shape) > 1 else ())
    if len(shape) > 1:
        target.reshape(-1)[0] = 3  # one ignored target
    xt, xr = to_tt(x, device, requires_grad=True), to_torch(x, requires_grad=True)
    lt = F.cross_entropy(xt, to_tt(target, device), reduction=reduction, ignore_index=3)
    lr = torch.nn.functional.cross_entropy(xr, torch.tensor(target), reduction=reduction, ignore_index=3)
    assert lt.grad_fn.name() == "NllLossBackward0"
    w = rng.standard_normal(tuple(lr.shape))
    (gt,) = tt.autograd.grad((lt * to_tt(w, device)).sum(), xt, create_graph=True)
    (gr,) = torch.autograd.grad((lr * to_torch(w)).sum(), xr, create_graph=True)
    v = rng.standard_normal(shape)
    (ht,) = tt.autograd.grad((gt * to_tt(v, device)).sum(), xt)
    (hr,) = torch.autograd.grad((gr * to_torch(v)).sum(), xr)
    np.testing.assert_allclose(gt.detach().numpy(), gr.detach().numpy(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(ht.numpy(), hr.numpy(), rtol=1e-8, atol=1e-11)


def test_cross_entropy_mean_with_every_target_ignored_is_nan(device):
    """The mean over no counted targets is nan with a zero gradient (as PyTorch), not a ZeroDivisionError."""
    x = to_tt(np.ones((3, 4)), device, requires_grad=True)
    loss = F.cross_entropy(x, to_tt(np.array([1, 1, 1]), device), ignore_index=1)
    assert np.isnan(loss.item())
    loss.backward()
    assert np.array_equal(x.grad.numpy(), np.zeros((3, 4)))


@needs_torch
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_soft_targets(reduction, device, rng):
    x = rng.standard_normal((4, 3))
    p = rng.dirichlet(np.ones(3), 4)
    xt, xr = to_tt(x, device, requires_grad=True), to_torch(x, requires_grad=True)
    compare(F.cross_entropy(xt, to_tt(p, device), reduction=reduction, label_smoothing=0.2),
            torch.nn.functional.cross_entropy(xr, to_torch(p), reduction=reduction, label_smoothing=0.2), [xt], [xr])


@needs_torch
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("make", [lambda m: m.L1Loss, lambda m: m.SmoothL1Loss, lambda m: (lambda **k: m.SmoothL1Loss(
    beta=0.3, **k)), lambda m: (lambda **k: m.SmoothL1Loss(beta=0.0, **k)), lambda m: m.HuberLoss,
    lambda m: (lambda **k: m.HuberLoss(delta=0.4, **k))], ids=["l1", "smooth_l1", "smooth_l1_beta", "smooth_l1_beta0",
                                                              "huber", "huber_delta"])
def test_regression_losses_match_torch(make, reduction, device, rng):
    """Errors on both sides of the kink (standard normal differences, kinks at 0.3-1)."""
    x, y = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    xt, xr = to_tt(x, device, requires_grad=True), to_torch(x, requires_grad=True)
    yt, yr = to_tt(y, device, requires_grad=True), to_torch(y, requires_grad=True)
    compare(make(nn)(reduction=reduction)(xt, yt), make(torch.nn)(reduction=reduction)(xr, yr), [xt, yt], [xr, yr])


@needs_torch
@pytest.mark.parametrize("reduction", ["mean", "sum", "none", "batchmean"])
@pytest.mark.parametrize("log_target", [False, True])
def test_kl_div_matches_torch(reduction, log_target, device, rng):
    x = np.log(rng.dirichlet(np.ones(5), 4))
    y = rng.dirichlet(np.ones(5), 4)
    y[0, 1] = 0.0  # a zero target contributes nothing (and no NaN)
    y = np.log(y + 1e-3) if log_target else y
    xt, xr = to_tt(x, device, requires_grad=True), to_torch(x, requires_grad=True)
    yt, yr = to_tt(y, device, requires_grad=True), to_torch(y, requires_grad=True)
    compare(nn.KLDivLoss(reduction, log_target)(xt, yt), torch.nn.KLDivLoss(reduction=reduction,
            log_target=log_target)(xr, yr), [xt], [xr])
    # the target's gradient: PyTorch's is NaN at a zero target (log 0), tinytorch's 0; equal elsewhere
    finite = np.isfinite(yr.grad.numpy())
    assert finite.sum() >= y.size - 1 and np.isfinite(yt.grad.numpy()).all()
    np.testing.assert_allclose(yt.grad.numpy()[finite], yr.grad.numpy()[finite], rtol=1e-9, atol=1e-12)


@needs_torch
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_mse_matches_torch(reduction, device, rng):
    x, y = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    xt, xr = to_tt(x, device, requires_grad=True), to_torch(x, requires_grad=True)
    yt, yr = to_tt(y, device, requires_grad=True), to_torch(y, requires_grad=True)
    compare(nn.MSELoss(reduction=reduction)(xt, yt), torch.nn.MSELoss(reduction=reduction)(xr, yr), [xt, yt], [xr, yr])


@needs_torch
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
def test_bce_with_logits_matches_torch(reduction, weighted, device, rng):
    x = rng.standard_normal((5, 3)) * 10  # large logits: the stable formula matters
    y = rng.random((5, 3))
    kw_tt, kw_ref = {}, {}
    if weighted:
        w, pw = rng.random((5, 3)), rng.random(3) * 3
        kw_tt = {"weight": to_tt(w, device), "pos_weight": to_tt(pw, device)}
        kw_ref = {"weight": to_torch(w), "pos_weight": to_torch(pw)}
    xt, xr = to_tt(x, device, requires_grad=True), to_torch(x, requires_grad=True)
    compare(nn.BCEWithLogitsLoss(reduction=reduction, **kw_tt)(xt, to_tt(y, device)),
            torch.nn.BCEWithLogitsLoss(reduction=reduction, **kw_ref)(xr, to_torch(y)), [xt], [xr])


@needs_torch
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
def test_bce_matches_torch(reduction, weighted, device, rng):
    x, y = rng.uniform(0.02, 0.98, (5, 3)), rng.random((5, 3))
    w = rng.random((5, 3)) if weighted else None
    xt, xr = to_tt(x, device, requires_grad=True), to_torch(x, requires_grad=True)
    compare(nn.BCELoss(None if w is None else to_tt(w, device), reduction)(xt, to_tt(y, device)),
            torch.nn.BCELoss(None if w is None else to_torch(w), reduction=reduction)(xr, to_torch(y)), [xt], [xr])


@needs_torch
def test_bce_of_certain_probabilities_is_clipped_as_torch(device):
    """Probabilities of exactly 0 and 1: each log is clipped at -100, so the loss is finite, and the
    gradient is finite too (PyTorch's is finite there as well, though not the same number)."""
    x, y = np.array([0.0, 1.0, 0.0, 1.0, 0.3]), np.array([0.0, 1.0, 1.0, 0.0, 0.5])
    xt = to_tt(x, device, requires_grad=True)
    loss = F.binary_cross_entropy(xt, to_tt(y, device), reduction="none")
    ref = torch.nn.functional.binary_cross_entropy(to_torch(x), to_torch(y), reduction="none")
    np.testing.assert_allclose(loss.detach().numpy(), ref.numpy(), rtol=1e-12)
    loss.sum().backward()
    assert np.isfinite(xt.grad.numpy()).all()


def test_bce_checks_its_input(device):
    with pytest.raises(RuntimeError, match="between 0 and 1"):
        F.binary_cross_entropy(to_tt(np.array([1.5]), device), to_tt(np.array([1.0]), device))
    with pytest.raises(ValueError, match=r"\[3\].*\[2\]"):
        F.binary_cross_entropy(to_tt(np.full(2, 0.5), device), to_tt(np.ones(3), device))


def test_cross_entropy_value_and_finite_differences(device, rng):
    loss = F.cross_entropy(tt.zeros(3, 5, device=device), tt.tensor([1, 0, 4], device=device))
    assert abs(loss.item() - np.log(5)) < 1e-6
    target = to_tt(rng.integers(0, 4, 3), device)
    gradcheck(lambda x: F.cross_entropy(x, target), [rng.standard_normal((3, 4))], device, rng)
    y = rng.random((2, 3))
    gradcheck(lambda x: F.binary_cross_entropy_with_logits(x, to_tt(y, device)), [rng.standard_normal((2, 3))],
              device, rng)


def test_loss_argument_errors(device):
    with pytest.raises(ValueError, match="reduction"):
        nn.MSELoss(reduction="avg")
    with pytest.raises(ValueError, match="target"):
        F.cross_entropy(tt.zeros(3, 5, device=device), tt.tensor([1, 0], device=device))
    with pytest.raises(RuntimeError, match="int64"):
        F.nll_loss(tt.zeros(2, 5, device=device), tt.zeros(2, device=device))
    with pytest.raises(ValueError, match="size"):
        F.binary_cross_entropy_with_logits(tt.zeros(3, device=device), tt.zeros(4, device=device))
