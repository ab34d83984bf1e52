"""Transforms and ``TransformedDistribution``: the change-of-variables density by its
definition (always) and against torch.distributions (values and gradients) when installed."""

from __future__ import annotations

import math

import numpy as np
import pytest
from nn_helpers import needs_torch, torch

import tinytorch as tt
import tinytorch.distributions as D

rng = np.random.default_rng(0)
LOC = rng.standard_normal((3, 2))
SCALE = rng.uniform(0.5, 1.5, (3, 2))
V = rng.uniform(-0.9, 0.9, (3, 2))


def normal_logpdf(x, mu, s):
    return -((x - mu) ** 2) / (2 * s * s) - np.log(s) - 0.5 * math.log(2 * math.pi)


def test_tanh_squashed_gaussian_by_change_of_variables():
    d = D.TransformedDistribution(D.Normal(tt.tensor(LOC), tt.tensor(SCALE)), [D.TanhTransform()])
    x = np.arctanh(V)
    expected = normal_logpdf(x, LOC, SCALE) - np.log(1 - V ** 2)
    np.testing.assert_allclose(d.log_prob(tt.tensor(V)).numpy(), expected, rtol=1e-10)
    tt.manual_seed(0)
    draws = d.rsample((1000,))
    assert draws.shape == (1000, 3, 2) and bool((draws.abs() < 1).all()) and d.has_rsample
    # an affine map after it: the Jacobian's log |scale| is subtracted too
    squashed = D.TransformedDistribution(D.Normal(tt.tensor(LOC), tt.tensor(SCALE)),
                                         [D.TanhTransform(), D.AffineTransform(1.0, 2.0)])
    np.testing.assert_allclose(squashed.log_prob(tt.tensor(2 * V + 1)).numpy(), expected - math.log(2.0), rtol=1e-10)


def test_inverse_and_compose():
    t = D.ComposeTransform([D.ExpTransform(), D.AffineTransform(0.5, 3.0)])
    x = tt.tensor(V)
    y = t(x)
    np.testing.assert_allclose(y.numpy(), 0.5 + 3.0 * np.exp(V))
    np.testing.assert_allclose(t.inv(y).numpy(), V, atol=1e-12)
    np.testing.assert_allclose(t.log_abs_det_jacobian(x, y).numpy(), V + math.log(3.0), rtol=1e-12)
    np.testing.assert_allclose(t.inv.log_abs_det_jacobian(y, x).numpy(), -(V + math.log(3.0)), rtol=1e-12)
    log_normal = D.TransformedDistribution(D.Normal(tt.tensor(LOC), tt.tensor(SCALE)), D.ExpTransform())
    value = tt.tensor(np.abs(V) + 0.1)
    np.testing.assert_allclose(log_normal.log_prob(value).numpy(),
                               D.LogNormal(tt.tensor(LOC), tt.tensor(SCALE)).log_prob(value).numpy(), rtol=1e-12)


CASES = ["tanh", "tanh_affine", "exp", "sigmoid", "independent_affine", "power"]


def _run(L, kind):
    Dl = L.distributions
    T = Dl.transforms if L is torch else Dl
    loc, scale = L.tensor(LOC, requires_grad=True), L.tensor(SCALE, requires_grad=True)
    base = Dl.Normal(loc, scale)
    if kind == "tanh":
        d, v = Dl.TransformedDistribution(base, [T.TanhTransform()]), V
    elif kind == "tanh_affine":
        shift, stretch = L.tensor([1.0, 2.0], dtype=L.float64), L.tensor([2.0, 3.0], dtype=L.float64)
        d = Dl.TransformedDistribution(base, [T.TanhTransform(), T.AffineTransform(shift, stretch)])
        v = V * np.array([2.0, 3.0]) + np.array([1.0, 2.0])
    elif kind == "exp":
        d, v = Dl.TransformedDistribution(base, T.ExpTransform()), np.abs(V) + 0.1
    elif kind == "sigmoid":
        d, v = Dl.TransformedDistribution(base, T.SigmoidTransform()), np.abs(V)
    elif kind == "independent_affine":
        d = Dl.TransformedDistribution(Dl.Independent(base, 1), T.AffineTransform(0.5, -2.0, event_dim=1))
        v = V
    else:
        d, v = Dl.TransformedDistribution(Dl.Exponential(scale), T.PowerTransform(0.5)), np.abs(V) + 0.1
    lp = d.log_prob(L.tensor(v))
    lp.sum().backward()
    grads = [t.grad.numpy() for t in (loc, scale) if t.grad is not None]
    return [lp.detach().numpy()] + grads, (tuple(d.batch_shape), tuple(d.event_shape))


@needs_torch
@pytest.mark.parametrize("kind", CASES)
def test_against_torch(kind):
    (ours, ours_shapes), (ref, ref_shapes) = _run(tt, kind), _run(torch, kind)
    assert ours_shapes == ref_shapes and len(ours) == len(ref)
    for a, b in zip(ours, ref):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
