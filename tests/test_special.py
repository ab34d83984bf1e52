"""``tt.special``: the aliases are the op table's functions; the compositions (entr, ndtr,
ndtri, log_ndtr, xlog1py) against their definitions in float64 numpy/math (always) and against
``torch.special`` in float32, gradients included, when PyTorch is installed."""

from __future__ import annotations

import math

import numpy as np
import pytest
from nn_helpers import needs_torch, torch

import tinytorch as tt

X = np.array([-40.0, -15.0, -10.5, -9.9, -3.0, -0.5, 0.0, 0.7, 4.0, 12.0])


def exact_ndtr(v: float) -> float:
    return 0.5 * math.erfc(-v / math.sqrt(2))


def test_aliases_are_the_ops():
    for name in ("erf", "erfc", "erfinv", "expm1", "log1p", "logsumexp", "softmax", "log_softmax", "xlogy", "sinc"):
        assert getattr(tt.special, name) is getattr(tt, name), name
    assert tt.special.expit is tt.sigmoid


def test_normal_distribution_functions_against_their_definitions():
    x = tt.tensor(X, dtype=tt.float64)
    np.testing.assert_allclose(tt.special.ndtr(x).numpy(), [exact_ndtr(v) for v in X], rtol=1e-13, atol=0)
    # log_ndtr keeps its digits in both tails, where log(ndtr) would lose them or give -inf
    np.testing.assert_allclose(tt.special.log_ndtr(x).numpy()[1:], [math.log(exact_ndtr(v)) if v < 5
                                                                   else math.log1p(-exact_ndtr(-v)) for v in X[1:]],
                               rtol=1e-9)
    # at -40, ndtr underflows float64: the tail series to twelve terms, (2k-1)!! / x^2k
    series = sum((-1) ** k * math.prod(range(1, 2 * k, 2)) / 40.0 ** (2 * k) for k in range(12))
    far = -800.0 - math.log(40.0) - 0.5 * math.log(2 * math.pi) + math.log(series)
    assert abs(tt.special.log_ndtr(tt.tensor([-40.0], dtype=tt.float64)).item() - far) < 1e-10
    assert tt.special.log_ndtr(tt.tensor([12.0])).item() < 0  # float32: -1.8e-33, not log(1.0) = 0
    assert math.isfinite(tt.special.log_ndtr(tt.tensor([-60.0])).item())
    p = tt.tensor([1e-6, 0.025, 0.5, 0.975], dtype=tt.float64)
    np.testing.assert_allclose(tt.special.ndtr(tt.special.ndtri(p)).numpy(), p.numpy(), rtol=1e-10)
    assert abs(tt.special.ndtri(tt.tensor([0.975], dtype=tt.float64)).item() - 1.959963984540054) < 1e-12


def test_entr_and_xlog1py():
    np.testing.assert_allclose(tt.special.entr(tt.tensor([-1.0, 0.0, 0.5, 2.0])).numpy(),
                               [-np.inf, 0.0, -0.5 * np.log(0.5), -2 * np.log(2.0)], rtol=1e-6)
    x = tt.tensor([0.0, 0.5], requires_grad=True)
    tt.special.entr(x).sum().backward()
    assert x.grad[0].item() == 0.0 and abs(x.grad[1].item() - (-math.log(0.5) - 1)) < 1e-6
    out = tt.special.xlog1py(tt.tensor([0.0, 2.0, 0.0]), tt.tensor([float("nan"), 1.0, -1.0]))
    assert math.isnan(out[0].item()) and abs(out[1].item() - 2 * math.log(2)) < 1e-6 and out[2].item() == 0.0


@needs_torch
@pytest.mark.parametrize("name,values", [("ndtr", X), ("log_ndtr", X), ("ndtri", [0.001, 0.2, 0.5, 0.9, 0.999]),
                                         ("entr", [0.1, 0.5, 2.0]), ("expit", X)])
def test_against_torch_special(name, values):
    ours = tt.tensor(np.asarray(values, np.float32), requires_grad=True)
    ref = torch.tensor(np.asarray(values, np.float32), requires_grad=True)
    a, b = getattr(tt.special, name)(ours), getattr(torch.special, name)(ref)
    np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=2e-5, atol=1e-7)
    a.sum().backward()
    b.sum().backward()
    np.testing.assert_allclose(ours.grad.numpy(), ref.grad.numpy(), rtol=2e-5, atol=1e-7)
