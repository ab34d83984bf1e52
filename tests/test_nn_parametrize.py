"""``nn.utils.parametrize`` and the weight / spectral normalisations, both as parametrizations
and in the older hook-based form: behaviour by definition (always), and outputs, gradients and
state_dict names against PyTorch's when it is installed."""

from __future__ import annotations

import numpy as np
import pytest
from nn_helpers import needs_torch, torch

import tinytorch as tt
from tinytorch import nn
from tinytorch.nn.utils import parametrize

rng = np.random.default_rng(0)
W = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
X = rng.standard_normal((2, 3, 6, 6)).astype(np.float32)


class Symmetric(nn.Module):
    def forward(self, x):
        return x.triu() + x.triu(1).mT

    def right_inverse(self, a):
        return a.triu()


def test_a_parametrization_replaces_the_parameter_by_a_property():
    layer = nn.Linear(3, 3)
    parametrize.register_parametrization(layer, "weight", Symmetric())
    assert parametrize.is_parametrized(layer) and parametrize.is_parametrized(layer, "weight")
    assert type(layer).__name__ == "ParametrizedLinear" and isinstance(layer, nn.Linear)
    w = layer.weight.detach().numpy()
    np.testing.assert_array_equal(w, w.T)
    assert sorted(layer.state_dict()) == ["bias", "parametrizations.weight.original"]
    assert [n for n, _ in layer.named_parameters()] == ["bias", "parametrizations.weight.original"]
    layer(tt.ones(2, 3)).sum().backward()  # the gradient reaches the original
    assert layer.parametrizations.weight.original.grad is not None
    target = tt.tensor([[1.0, 2.0, 3.0], [2.0, 4.0, 5.0], [3.0, 5.0, 6.0]])
    layer.weight = target  # through right_inverse into the original
    np.testing.assert_array_equal(layer.weight.detach().numpy(), target.numpy())
    with parametrize.cached():
        assert layer.weight is layer.weight
    assert layer.weight is not layer.weight
    parametrize.remove_parametrizations(layer, "weight")
    assert type(layer) is nn.Linear and isinstance(layer.weight, nn.Parameter)
    np.testing.assert_array_equal(layer.weight.detach().numpy(), target.numpy())
    assert sorted(layer.state_dict()) == ["bias", "weight"]
    with pytest.raises(ValueError, match="does not have a parameter"):
        parametrize.register_parametrization(layer, "nothing", Symmetric())
    with pytest.raises(ValueError, match="parametrization on weight"):
        parametrize.remove_parametrizations(layer, "weight")


def test_weight_norm_splits_magnitude_and_direction():
    for register in (nn.utils.weight_norm, nn.utils.parametrizations.weight_norm):
        conv = nn.Conv2d(3, 4, 3)
        with tt.no_grad():
            conv.weight.copy_(tt.tensor(W))
        register(conv)
        np.testing.assert_allclose(conv.weight.detach().numpy(), W, rtol=1e-5)
        g = conv.weight_g if register is nn.utils.weight_norm else conv.parametrizations.weight.original0
        assert g.shape == (4, 1, 1, 1)
        np.testing.assert_allclose(g.detach().numpy().reshape(-1), np.sqrt((W ** 2).sum((1, 2, 3))), rtol=1e-5)
        with tt.no_grad():
            g.mul_(2.0)
        conv(tt.tensor(X))
        np.testing.assert_allclose(conv.weight.detach().numpy(), 2 * W, rtol=1e-5)  # the magnitude doubled
    whole = nn.utils.weight_norm(nn.Linear(3, 2), dim=None)
    assert whole.weight_g.shape == ()
    with pytest.raises(RuntimeError, match="two weight_norm"):
        nn.utils.weight_norm(whole, dim=None)
    nn.utils.remove_weight_norm(whole)
    assert sorted(whole.state_dict()) == ["bias", "weight"]


@pytest.mark.parametrize("register", ["hooks", "parametrization"])
def test_spectral_norm_makes_the_largest_singular_value_one(register):
    tt.manual_seed(0)
    layer = nn.Linear(6, 5)
    with tt.no_grad():
        layer.weight.mul_(10.0)
    fn = nn.utils.spectral_norm if register == "hooks" else nn.utils.parametrizations.spectral_norm
    fn(layer, n_power_iterations=3)
    for _ in range(30):  # training-mode calls refine the power iteration
        layer(tt.ones(1, 6))
    top = np.linalg.svd(layer.weight.detach().numpy().astype(np.float64), compute_uv=False)[0]
    assert abs(top - 1.0) < 1e-3
    layer.eval()
    before = layer.weight.detach().numpy().copy()
    layer(tt.ones(1, 6))
    np.testing.assert_array_equal(layer.weight.detach().numpy(), before)  # eval: no iteration
    with pytest.raises(ValueError, match="n_power_iterations"):
        fn(nn.Linear(2, 2), n_power_iterations=0)


def _run(L, style):
    U = L.nn.utils
    m = L.nn.Conv2d(3, 4, 3)
    with L.no_grad():
        m.weight.copy_(L.tensor(W))
        m.bias.zero_()
    {"old_wn": lambda: U.weight_norm(m, dim=0), "old_wn_none": lambda: U.weight_norm(m, dim=None),
     "new_wn": lambda: U.parametrizations.weight_norm(m), "old_sn": lambda: U.spectral_norm(m),
     "new_sn": lambda: U.parametrizations.spectral_norm(m)}[style]()
    keys = sorted(m.state_dict())
    with L.no_grad():  # the same power-iteration start in both libraries
        for _, b in m.named_buffers():
            b.copy_(L.tensor(np.linspace(0.1, 1, b.numel(), dtype=np.float32)))
    outs = []
    for _ in range(2):
        y = m(L.tensor(X))
        (y ** 2).sum().backward()
        outs.append(y.detach().numpy())
    grads = {n: p.grad.numpy() for n, p in m.named_parameters()}
    if style.startswith("old"):
        (U.remove_weight_norm if "wn" in style else U.remove_spectral_norm)(m)
    else:
        U.parametrize.remove_parametrizations(m, "weight")
    return keys, outs, grads, sorted(m.state_dict()), m.weight.detach().numpy()


@needs_torch
@pytest.mark.parametrize("style", ["old_wn", "old_wn_none", "new_wn", "old_sn", "new_sn"])
def test_outputs_gradients_and_names_match_pytorch(style):
    ours, ref = _run(tt, style), _run(torch, style)
    assert ours[0] == ref[0] and ours[3] == ref[3]  # state_dict names, registered and removed
    for a, b in zip(ours[1], ref[1]):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    assert set(ours[2]) == set(ref[2])
    for name in ref[2]:
        np.testing.assert_allclose(ours[2][name], ref[2][name], rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(ours[4], ref[4], atol=1e-5)
