"""The rest of PyTorch's losses (issue 12) and the loss rows of issue 13 (masked -inf logits,
out-of-range class targets, BCEWithLogits' gradient at logit 0): values and gradients against
PyTorch in float64, for every reduction, on every device."""

import math

import numpy as np
import pytest
from nn_helpers import gradcheck, needs_torch, to_torch, to_tt, torch  # noqa: E402

import tinytorch as tt
from tinytorch import nn  # noqa: E402
from tinytorch.nn import functional as F  # noqa: E402

REDUCTIONS = ["mean", "sum", "none"]
pytestmark = pytest.mark.filterwarnings("ignore:size_average and reduce args")


def run_both(make_tt, make_ref, arrays, grads, device):
    """Call ``make_tt(*tensors)`` and ``make_ref(*torch_tensors)`` on the float64 ``arrays``; the
    positions in ``grads`` require grad. Values and those gradients must agree."""
    xs_tt = [to_tt(a, device, requires_grad=i in grads) if np.asarray(a).dtype.kind == "f" else to_tt(a, device)
             for i, a in enumerate(arrays)]
    xs_ref = [to_torch(a, requires_grad=i in grads) for i, a in enumerate(arrays)]
    out_tt, out_ref = make_tt(*xs_tt), make_ref(*xs_ref)
    assert tuple(out_tt.shape) == tuple(out_ref.shape)
    np.testing.assert_allclose(out_tt.detach().numpy(), out_ref.detach().numpy(), rtol=1e-10, atol=1e-12)
    (out_tt.sum() if out_tt.ndim else out_tt).backward()
    (out_ref.sum() if out_ref.ndim else out_ref).backward()
    for i in grads:
        np.testing.assert_allclose(xs_tt[i].grad.numpy(), xs_ref[i].grad.numpy(), rtol=1e-9, atol=1e-12,
                                   err_msg=f"gradient of input {i}")


def signs(rng, shape):
    return np.where(rng.random(shape) < 0.5, -1.0, 1.0)


# (name, module kwargs, function making the float64 inputs from rng, positions needing grad)
CASES = [
    ("poisson_log", "PoissonNLLLoss", {}, lambda r: [r.standard_normal((4, 3)), r.poisson(2.0, (4, 3)) * 1.0], [0]),
    ("poisson_full", "PoissonNLLLoss", {"full": True},
     lambda r: [r.standard_normal((4, 3)), r.poisson(2.0, (4, 3)) * 1.0], [0]),
    ("poisson_rate", "PoissonNLLLoss", {"log_input": False, "full": True, "eps": 1e-3},
     lambda r: [r.random((4, 3)) * 3, r.poisson(2.0, (4, 3)) * 1.0], [0]),
    ("gaussian_same", "GaussianNLLLoss", {},
     lambda r: [r.standard_normal((4, 3)), r.standard_normal((4, 3)), r.random((4, 3)) + 0.1], [0, 1, 2]),
    ("gaussian_row_var", "GaussianNLLLoss", {"full": True},
     lambda r: [r.standard_normal((4, 3)), r.standard_normal((4, 3)), r.random(4) + 0.1], [0, 2]),
    ("gaussian_one_dim", "GaussianNLLLoss", {"eps": 0.05},  # some variances below eps: clamped
     lambda r: [r.standard_normal((2, 3, 4)), r.standard_normal((2, 3, 4)), r.random((2, 1, 4)) * [0.01, 1, 1, 1]],
     [0, 2]),
    ("margin_ranking", "MarginRankingLoss", {"margin": 0.3},
     lambda r: [r.standard_normal(6), r.standard_normal(6), signs(r, 6)], [0, 1]),
    ("hinge_embedding", "HingeEmbeddingLoss", {"margin": 1.5},
     lambda r: [r.standard_normal((3, 4)) + 0.5, signs(r, (3, 4))], [0]),
    ("cosine_embedding", "CosineEmbeddingLoss", {"margin": 0.2},
     lambda r: [r.standard_normal((5, 4)), r.standard_normal((5, 4)), signs(r, 5)], [0, 1]),
    ("cosine_embedding_1d", "CosineEmbeddingLoss", {},
     lambda r: [r.standard_normal(4), r.standard_normal(4), np.array(-1.0)], [0, 1]),
    ("triplet", "TripletMarginLoss", {},
     lambda r: [r.standard_normal((5, 4)), r.standard_normal((5, 4)), r.standard_normal((5, 4))], [0, 1, 2]),
    ("triplet_p1_swap", "TripletMarginLoss", {"p": 1.0, "swap": True, "margin": 2.0},
     lambda r: [r.standard_normal((5, 4)), r.standard_normal((5, 4)), r.standard_normal((5, 4))], [0, 1, 2]),
    ("triplet_p3", "TripletMarginLoss", {"p": 3.0, "margin": 2.0},
     lambda r: [r.standard_normal((5, 4)), r.standard_normal((5, 4)), r.standard_normal((5, 4))], [0, 1, 2]),
    ("soft_margin", "SoftMarginLoss", {}, lambda r: [r.standard_normal((3, 4)) * 5, signs(r, (3, 4))], [0]),
    ("multilabel_soft_margin", "MultiLabelSoftMarginLoss", {},
     lambda r: [r.standard_normal((4, 5)) * 3, (r.random((4, 5)) < 0.4) * 1.0], [0]),
    ("multi_margin", "MultiMarginLoss", {}, lambda r: [r.standard_normal((5, 4)), r.integers(0, 4, 5)], [0]),
    ("multi_margin_p2", "MultiMarginLoss", {"p": 2, "margin": 0.7},
     lambda r: [r.standard_normal((5, 4)), r.integers(0, 4, 5)], [0]),
    ("multi_margin_1d", "MultiMarginLoss", {}, lambda r: [r.standard_normal(4), np.array(2)], [0]),
    ("multilabel_margin", "MultiLabelMarginLoss", {},
     lambda r: [r.standard_normal((4, 4)), np.array([[3, 0, -1, 1], [0, 1, 2, 3], [-1, 2, 0, 0], [2, 2, -1, 0]])],
     [0]),
    ("multilabel_margin_1d", "MultiLabelMarginLoss", {},
     lambda r: [r.standard_normal(4), np.array([1, 1, -1, 2])], [0]),
]


@needs_torch
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("case,cls,kwargs,make,grads", CASES, ids=[c[0] for c in CASES])
def test_loss_module_matches_torch(case, cls, kwargs, make, grads, reduction, device, rng):
    arrays = make(rng)
    run_both(getattr(nn, cls)(reduction=reduction, **kwargs), getattr(torch.nn, cls)(reduction=reduction, **kwargs),
             arrays, grads, device)


FUNCTIONAL = [("PoissonNLLLoss", "poisson_nll_loss"), ("GaussianNLLLoss", "gaussian_nll_loss"),
              ("MarginRankingLoss", "margin_ranking_loss"), ("HingeEmbeddingLoss", "hinge_embedding_loss"),
              ("CosineEmbeddingLoss", "cosine_embedding_loss"), ("TripletMarginLoss", "triplet_margin_loss"),
              ("SoftMarginLoss", "soft_margin_loss"), ("MultiLabelSoftMarginLoss", "multilabel_soft_margin_loss"),
              ("MultiMarginLoss", "multi_margin_loss"), ("MultiLabelMarginLoss", "multilabel_margin_loss")]


@needs_torch
@pytest.mark.parametrize("cls,fn", FUNCTIONAL, ids=[f for _, f in FUNCTIONAL])
def test_functional_forms_match_torch(cls, fn, device, rng):
    """The ``F.`` form with PyTorch's positional arguments (and the deprecated ``reduce=False``)."""
    case = next(c for c in CASES if c[1] == cls)
    arrays = case[3](rng)
    legacy = {} if fn == "gaussian_nll_loss" else {"reduce": False}
    run_both(lambda *xs: getattr(F, fn)(*xs, **legacy), lambda *xs: getattr(torch.nn.functional, fn)(*xs, **legacy),
             arrays, case[4], device)


@needs_torch
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_multilabel_soft_margin_with_weight(reduction, device, rng):
    x, y, w = rng.standard_normal((4, 5)), (rng.random((4, 5)) < 0.5) * 1.0, rng.random(5)
    run_both(lambda a, b: nn.MultiLabelSoftMarginLoss(to_tt(w, device), reduction=reduction)(a, b),
             lambda a, b: torch.nn.MultiLabelSoftMarginLoss(to_torch(w), reduction=reduction)(a, b),
             [x, y], [0], device)


@needs_torch
def test_multi_margin_with_weight(device, rng):
    x, y, w = rng.standard_normal((6, 4)), rng.integers(0, 4, 6), rng.random(4)
    run_both(lambda a, b: F.multi_margin_loss(a, b, weight=to_tt(w, device)),
             lambda a, b: torch.nn.functional.multi_margin_loss(a, b, weight=to_torch(w)), [x, y], [0], device)


@needs_torch
def test_gaussian_nll_float_var_and_errors(device, rng):
    x, y = rng.standard_normal((3, 2)), rng.standard_normal((3, 2))
    run_both(lambda a, b: F.gaussian_nll_loss(a, b, 0.5), lambda a, b: torch.nn.functional.gaussian_nll_loss(a, b, 0.5),
             [x, y], [0], device)
    xt, yt = to_tt(x, device), to_tt(y, device)
    for bad in (rng.random((2, 2)), rng.random((3, 2, 1))):
        with pytest.raises(ValueError, match="var is of incorrect size"):
            F.gaussian_nll_loss(xt, yt, to_tt(bad, device))
        with pytest.raises(ValueError, match="var is of incorrect size"):
            torch.nn.functional.gaussian_nll_loss(to_torch(x), to_torch(y), to_torch(bad))
    with pytest.raises(ValueError, match="negative"):
        F.gaussian_nll_loss(xt, yt, to_tt(-np.ones((3, 2)), device))


def test_margin_and_triplet_argument_errors(device):
    with pytest.raises(RuntimeError, match="same dimension"):
        F.margin_ranking_loss(tt.zeros(3, device=device), tt.zeros(3, device=device), tt.ones(1, 3, device=device))
    with pytest.raises(ValueError, match="margin"):
        nn.TripletMarginLoss(margin=0.0)
    with pytest.raises(ValueError, match="p == 1"):
        nn.MultiMarginLoss(p=3)


@needs_torch
@pytest.mark.parametrize("fn", ["soft_margin_loss", "multilabel_soft_margin_loss", "triplet_margin_loss"])
def test_more_losses_finite_differences(fn, device, rng):
    if fn == "triplet_margin_loss":
        arrays = [rng.standard_normal((3, 4)) for _ in range(3)]
        gradcheck(lambda a, p, n: F.triplet_margin_loss(a, p, n, swap=True, reduction="none"), arrays, device, rng)
        return
    y = to_tt(signs(rng, (3, 4)) if fn == "soft_margin_loss" else (rng.random((3, 4)) < 0.5) * 1.0, device)
    gradcheck(lambda x: getattr(F, fn)(x, y, reduction="none"), [rng.standard_normal((3, 4))], device, rng)


# ---------------------------------------------------------------------- cross entropy / NLL in full
@needs_torch
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("smoothing", [0.0, 0.25])
def test_cross_entropy_k_dim_weight_ignore_smoothing(reduction, smoothing, device, rng):
    """(N, C, d1, d2) logits with class weights, an ignored class and label smoothing together."""
    x, t, w = rng.standard_normal((2, 4, 3, 2)), rng.integers(0, 4, (2, 3, 2)), rng.random(4) + 0.2
    t[0, 0] = 1
    kw = {"ignore_index": 1, "label_smoothing": smoothing, "reduction": reduction}
    run_both(lambda a, b: F.cross_entropy(a, b, to_tt(w, device), **kw),
             lambda a, b: torch.nn.functional.cross_entropy(a, b, to_torch(w), **kw), [x, t], [0], device)


@needs_torch
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_k_dim_class_probabilities_with_weight(reduction, device, rng):
    x = rng.standard_normal((2, 3, 4))
    p = rng.dirichlet(np.ones(3), (2, 4)).transpose(0, 2, 1).copy()
    w = rng.random(3) + 0.5
    run_both(lambda a, b: nn.CrossEntropyLoss(to_tt(w, device), reduction=reduction, label_smoothing=0.1)(a, b),
             lambda a, b: torch.nn.CrossEntropyLoss(to_torch(w), reduction=reduction, label_smoothing=0.1)(a, b),
             [x, p], [0, 1], device)


@needs_torch
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_nll_weighted_mean_rule(reduction, device, rng):
    """``mean`` divides by the sum of the weights of the counted targets, not by N."""
    x, t, w = rng.standard_normal((7, 5)), rng.integers(0, 5, 7), rng.random(5) * 3
    t[:2] = 4
    run_both(lambda a, b: nn.NLLLoss(to_tt(w, device), ignore_index=4, reduction=reduction)(a, b),
             lambda a, b: torch.nn.NLLLoss(to_torch(w), ignore_index=4, reduction=reduction)(a, b), [x, t], [0], device)


@needs_torch
def test_cross_entropy_with_masked_minus_inf_logits(device):
    """Issue 13: a -inf logit (a masked class) that is not the target gives PyTorch's finite loss
    and finite gradient (0 at the masked logit), for F.cross_entropy and F.nll_loss of a log."""
    x = np.array([[0.0, -np.inf, 1.0], [-np.inf, 2.0, 0.5]])
    t = np.array([2, 1])
    for reduction in REDUCTIONS:
        run_both(lambda a, b, r=reduction: F.cross_entropy(a, b, reduction=r),
                 lambda a, b, r=reduction: torch.nn.functional.cross_entropy(a, b, reduction=r), [x, t], [0], device)
    mine = F.cross_entropy(tt.tensor([[0, -math.inf, 1.0]], device=device), tt.tensor([2], device=device))
    ref = torch.nn.functional.cross_entropy(torch.tensor([[0, -math.inf, 1.0]]), torch.tensor([2]))
    assert abs(mine.item() - ref.item()) < 1e-6
    p = np.array([[0.5, 0.5, 0.0]])
    pt, pr = to_tt(p, device, requires_grad=True), to_torch(p, requires_grad=True)
    mine, ref = F.nll_loss(pt.log(), tt.tensor([0], device=device)), torch.nn.functional.nll_loss(pr.log(),
                                                                                                torch.tensor([0]))
    assert abs(mine.item() - ref.item()) < 1e-12
    mine.backward()
    ref.backward()
    np.testing.assert_allclose(pt.grad.numpy(), pr.grad.numpy())


@needs_torch
@pytest.mark.parametrize("fn", ["cross_entropy", "nll_loss"])
@pytest.mark.parametrize("bad", [3, -1, 7])
def test_class_target_out_of_range_raises_index_error(fn, bad, device):
    """Issue 13: a class target outside [0, C) that is not ``ignore_index`` is an IndexError (as
    PyTorch), not silently ignored -- for 2-D, K-dim and single-example inputs."""
    for shape, target in [((2, 3), [0, bad]), ((2, 3, 2), [[0, 1], [bad, 2]]), ((3,), bad)]:
        with pytest.raises(IndexError):
            getattr(torch.nn.functional, fn)(torch.zeros(shape), torch.tensor(target))
        with pytest.raises(IndexError, match=f"Target {bad} is out of bounds"):
            getattr(F, fn)(tt.zeros(*shape, device=device), tt.tensor(target, device=device))
    # ignore_index may be any value, inside the class range or outside it
    for ignore in (bad, 1):
        ref = getattr(torch.nn.functional, fn)(torch.zeros(2, 3), torch.tensor([0, bad]) if ignore == bad else
                                               torch.tensor([0, 1]), ignore_index=ignore)
        mine = getattr(F, fn)(tt.zeros(2, 3, device=device), tt.tensor([0, bad] if ignore == bad else [0, 1],
                                                                         device=device), ignore_index=ignore)
        assert abs(mine.item() - ref.item()) < 1e-6


@needs_torch
@pytest.mark.parametrize("pos_weight", [None, [2.0, 0.5, 3.0]])
def test_bce_with_logits_gradient_at_zero_logit(pos_weight, device):
    """Issue 13: at logit 0 the gradient is sigmoid(0) - y = 0.5 - y (scaled by pos_weight on the
    positive part), not 0; and logsigmoid's gradient at 0 is 0.5."""
    x, y = np.zeros((2, 3)), np.array([[1.0, 0.0, 1.0], [0.0, 1.0, 0.5]])
    pw_tt = None if pos_weight is None else to_tt(pos_weight, device, tt.float64)
    pw_ref = None if pos_weight is None else torch.tensor(pos_weight, dtype=torch.float64)
    ref = torch.nn.functional.binary_cross_entropy_with_logits
    run_both(lambda a, b: F.binary_cross_entropy_with_logits(a, b, pos_weight=pw_tt, reduction="sum"),
             lambda a, b: ref(a, b, pos_weight=pw_ref, reduction="sum"), [x, y], [0], device)
    run_both(F.logsigmoid, torch.nn.functional.logsigmoid, [np.array([0.0, -3.0, 40.0, -40.0])], [0], device)


@needs_torch
def test_cross_entropy_and_nll_take_torch_positional_arguments(device, rng):
    """PyTorch's argument order, deprecated ``size_average`` / ``reduce`` included:
    ``CrossEntropyLoss(weight, size_average, ignore_index, reduce, reduction, label_smoothing)``."""
    x, t, w = rng.standard_normal((5, 4)), rng.integers(0, 4, 5), rng.random(4) + 0.5
    t[0] = 2
    for args in [(None, 2), (None, 2, False), (False, -100, None, "mean", 0.2)]:
        run_both(lambda a, b, args=args: nn.CrossEntropyLoss(to_tt(w, device), *args)(a, b),
                 lambda a, b, args=args: torch.nn.CrossEntropyLoss(to_torch(w), *args)(a, b), [x, t], [0], device)
    run_both(lambda a, b: F.nll_loss(a, b, to_tt(w, device), None, 2, False),
             lambda a, b: torch.nn.functional.nll_loss(a, b, to_torch(w), None, 2, False), [x, t], [0], device)
