"""Smaller nn pieces PyTorch programs use: RReLU, gumbel_softmax, channel_shuffle /
ChannelShuffle, TripletMarginWithDistanceLoss -- by definition, and against PyTorch."""

from __future__ import annotations

import numpy as np
import pytest
from nn_helpers import needs_torch, torch

import tinytorch as tt
from tinytorch import nn

rng = np.random.default_rng(0)
X = rng.standard_normal((2, 6, 3, 3))
A = rng.standard_normal((4, 5))


def test_rrelu_slopes():
    r = nn.RReLU(0.1, 0.3)
    y = r(-tt.ones(20000)).numpy()
    assert -0.3 <= y.min() and y.max() <= -0.1 and abs(y.mean() + 0.2) < 0.005  # U(0.1, 0.3) slopes
    assert r(tt.tensor([2.0])).item() == 2.0
    r.eval()
    np.testing.assert_allclose(r(tt.tensor([-1.0, 3.0])).numpy(), [-0.2, 3.0], rtol=1e-6)  # the mean slope


def test_gumbel_softmax_samples_the_categorical():
    tt.manual_seed(0)
    logits = tt.log(tt.tensor([0.2, 0.3, 0.5])).expand(30000, 3)
    hard = tt.nn.functional.gumbel_softmax(logits, tau=0.7, hard=True)
    assert set(hard.sum(1).tolist()) == {1.0} and set(hard.unique().tolist()) == {0.0, 1.0}
    np.testing.assert_allclose(hard.mean(0).numpy(), [0.2, 0.3, 0.5], atol=0.01)  # Gumbel-max: exact frequencies
    soft = tt.nn.functional.gumbel_softmax(logits[:5], tau=0.7)
    np.testing.assert_allclose(soft.sum(1).numpy(), np.ones(5), rtol=1e-6)
    x = tt.zeros(2, 3, requires_grad=True)
    (tt.nn.functional.gumbel_softmax(x, hard=True) * tt.tensor([1.0, 2.0, 3.0])).sum().backward()
    assert x.grad.abs().sum().item() > 0  # straight through: the soft sample's gradient


def test_channel_shuffle_interleaves_groups():
    x = tt.arange(6.0).reshape(1, 6, 1, 1)
    assert tt.nn.functional.channel_shuffle(x, 2).reshape(-1).tolist() == [0, 3, 1, 4, 2, 5]
    assert nn.ChannelShuffle(3)(x).reshape(-1).tolist() == [0, 2, 4, 1, 3, 5]
    with pytest.raises(RuntimeError, match="divisible"):
        tt.nn.functional.channel_shuffle(x, 4)


def test_triplet_with_distance_is_the_triplet_loss_for_its_default():
    a, p, n = (tt.tensor(A * s, requires_grad=True) for s in (1.0, 0.9, 0.5))
    ours = tt.nn.functional.triplet_margin_with_distance_loss(a, p, n, margin=2.0)
    ref = tt.nn.functional.triplet_margin_loss(a, p, n, margin=2.0)
    np.testing.assert_allclose(ours.item(), ref.item(), rtol=1e-6)
    assert ours.item() > 0
    with pytest.raises(ValueError, match="margin"):
        nn.TripletMarginWithDistanceLoss(margin=0.0)


@needs_torch
def test_against_pytorch():
    results = []
    for L in (torch, tt):
        F = L.nn.functional
        x = L.tensor(X, requires_grad=True)
        y = L.nn.ChannelShuffle(3)(x)
        (y * L.arange(float(y.numel()), dtype=L.float64).reshape(y.shape)).sum().backward()
        a, p, n = (L.tensor(A * s, requires_grad=True) for s in (1.0, 0.9, 0.5))
        loss = F.triplet_margin_with_distance_loss(a, p, n, margin=2.0) + L.nn.TripletMarginWithDistanceLoss(
            distance_function=lambda u, v: (u - v).abs().sum(-1), swap=True, margin=3.0, reduction="sum")(a, p, n)
        loss.backward()
        r = L.nn.RReLU(0.1, 0.3)
        r.eval()
        results.append([y.detach().numpy(), x.grad.numpy(), loss.item(), a.grad.numpy(), n.grad.numpy(),
                        r(L.tensor(A)).numpy()])
    for ours, ref in zip(results[1], results[0]):
        np.testing.assert_allclose(ours, ref, rtol=1e-6, atol=1e-12)


# --- spatial transformers: affine_grid and grid_sample -----------------------------------------
IMG = rng.standard_normal((2, 3, 5, 6))
THETA = rng.standard_normal((2, 2, 3)) * 0.6
GRID = rng.uniform(-1.4, 1.4, (2, 4, 7, 2))


@pytest.mark.parametrize("align_corners", [False, True])
def test_the_identity_grid_reproduces_the_image(align_corners):
    F = tt.nn.functional
    x = tt.tensor(IMG)
    identity = tt.tensor([[[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]] * 2, dtype=tt.float64)
    grid = F.affine_grid(identity, (2, 3, 5, 6), align_corners=align_corners)
    assert grid.shape == (2, 5, 6, 2)
    for mode in ("bilinear", "nearest"):
        np.testing.assert_allclose(F.grid_sample(x, grid, mode=mode, align_corners=align_corners).numpy(), IMG,
                                   atol=1e-12)
    # a shift of one pixel to the right reads the next column; the last column reads zeros outside
    step = 2.0 / (6 - 1) if align_corners else 2.0 / 6
    shifted = identity.clone()
    shifted[:, 0, 2] = step
    out = F.grid_sample(x, F.affine_grid(shifted, (2, 3, 5, 6), align_corners=align_corners),
                        align_corners=align_corners).numpy()
    np.testing.assert_allclose(out[..., :-1], IMG[..., 1:], atol=1e-12)
    edge = F.grid_sample(x, F.affine_grid(shifted, (2, 3, 5, 6), align_corners=align_corners),
                         padding_mode="border", align_corners=align_corners).numpy()
    np.testing.assert_allclose(edge[..., -1], IMG[..., -1], atol=1e-12)
    with pytest.raises(ValueError, match="padding_mode"):
        F.grid_sample(x, grid, padding_mode="wrap")


@needs_torch
@pytest.mark.parametrize("padding_mode", ["zeros", "border", "reflection"])
@pytest.mark.parametrize("align_corners", [False, True])
@pytest.mark.parametrize("mode", ["bilinear", "nearest"])
def test_grid_sample_matches_pytorch(mode, padding_mode, align_corners):
    results = []
    for L in (torch, tt):
        F = L.nn.functional
        x = L.tensor(IMG, requires_grad=True)
        th = L.tensor(THETA, requires_grad=True)
        g = L.tensor(GRID, requires_grad=True)
        grid = F.affine_grid(th, (2, 3, 4, 7), align_corners=align_corners)
        y = (F.grid_sample(x, grid, mode=mode, padding_mode=padding_mode, align_corners=align_corners)
             + F.grid_sample(x, g, mode=mode, padding_mode=padding_mode, align_corners=align_corners))
        (y * L.tensor(np.cos(np.arange(y.numel())).reshape(tuple(y.shape)))).sum().backward()
        results.append([y.detach().numpy(), x.grad.numpy()]
                       + ([th.grad.numpy(), g.grad.numpy()] if mode == "bilinear" else []))
    for ours, ref in zip(results[1], results[0]):
        np.testing.assert_allclose(ours, ref, rtol=1e-10, atol=1e-12)


def test_conv3d_and_pool3d_by_their_definitions():
    """Without PyTorch: a direct loop over output positions."""
    x = rng.standard_normal((1, 2, 4, 5, 3))
    w = rng.standard_normal((3, 2, 2, 3, 2))
    out = tt.nn.functional.conv3d(tt.tensor(x), tt.tensor(w), stride=(1, 2, 1)).numpy()
    assert out.shape == (1, 3, 3, 2, 2)
    for o in range(3):
        for d in range(3):
            for h in range(2):
                for k in range(2):
                    window = x[0, :, d:d + 2, 2 * h:2 * h + 3, k:k + 2]
                    np.testing.assert_allclose(out[0, o, d, h, k], (window * w[o]).sum(), rtol=1e-12)
    pooled = tt.nn.functional.max_pool3d(tt.tensor(x), 2).numpy()
    np.testing.assert_allclose(pooled[0, 1, 1, 0, 0], x[0, 1, 2:4, 0:2, 0:2].max())
    mean = tt.nn.functional.avg_pool3d(tt.tensor(x), (2, 2, 3)).numpy()
    np.testing.assert_allclose(mean[0, 0, 1, 1, 0], x[0, 0, 2:4, 2:4, 0:3].mean(), rtol=1e-12)
    with pytest.raises(RuntimeError, match="5D"):
        tt.nn.functional.conv3d(tt.ones(2, 3), tt.ones(1, 1, 1, 1, 1))


# --- CTC ----------------------------------------------------------------------------------------
CTC_X = rng.standard_normal((12, 4, 5))
CTC_TARGETS = np.array([[2, 3, 1, 4, 4, 1], [1, 1, 2, 2, 3, 4], [3, 2, 1, 1, 2, 3], [4, 4, 2, 1, 3, 2]])
CTC_TARGET_LENGTHS = np.array([3, 5, 0, 2])


def test_ctc_by_enumerating_alignments():
    """Two frames, one label: the alignments of "a" are (a, a), (a, _), (_, a)."""
    logits = rng.standard_normal((2, 1, 3))
    p = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    a = 2
    expected = -np.log(p[0, 0, a] * p[1, 0, a] + p[0, 0, a] * p[1, 0, 0] + p[0, 0, 0] * p[1, 0, a])
    lp = tt.tensor(logits).log_softmax(2)
    got = tt.nn.functional.ctc_loss(lp, tt.tensor([[a]]), [2], [1], reduction="sum")
    np.testing.assert_allclose(got.item(), expected, rtol=1e-12)
    # a target that needs more frames than there are is impossible: inf, or 0 with zero_infinity
    twice = tt.nn.functional.ctc_loss(lp, tt.tensor([[a, a]]), [2], [2], reduction="none")
    assert twice.item() == float("inf")
    assert nn.CTCLoss(zero_infinity=True)(lp, tt.tensor([[a, a]]), [2], [2]).item() == 0.0


@needs_torch
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
@pytest.mark.parametrize("padded", [True, False])
def test_ctc_matches_pytorch(reduction, padded):
    input_lengths = np.array([12, 10, 7, 3])
    flat = np.concatenate([CTC_TARGETS[b, :k] for b, k in enumerate(CTC_TARGET_LENGTHS)])
    results = []
    for L in (torch, tt):
        x = L.tensor(CTC_X, requires_grad=True)
        targets = L.tensor(CTC_TARGETS if padded else flat)
        loss = L.nn.CTCLoss(reduction=reduction)(x.log_softmax(2), targets, L.tensor(input_lengths),
                                                  L.tensor(CTC_TARGET_LENGTHS))
        loss.sum().backward()
        results.append((loss.detach().numpy(), x.grad.numpy()))
    np.testing.assert_allclose(results[1][0], results[0][0], rtol=1e-12)
    np.testing.assert_allclose(results[1][1], results[0][1], atol=1e-12)
