"""The activation functions and modules vs PyTorch: values and gradients (float64, every device),
reprs, and inputs far out on both sides (no overflow into inf or NaN where PyTorch has none)."""

import numpy as np
import pytest
from nn_helpers import needs_torch, to_torch, to_tt, torch

from tinytorch import nn
from tinytorch.nn import functional as F

# (name, the module for a library namespace ``m``, the functional form for ``F``)
ACTIVATIONS = [
    ("leaky_relu", lambda m: m.LeakyReLU(0.1), lambda F, x: F.leaky_relu(x, 0.1)),
    ("leaky_relu_default", lambda m: m.LeakyReLU(), lambda F, x: F.leaky_relu(x)),
    ("elu", lambda m: m.ELU(0.7), lambda F, x: F.elu(x, alpha=0.7)),
    ("celu", lambda m: m.CELU(0.5), lambda F, x: F.celu(x, 0.5)),
    ("selu", lambda m: m.SELU(), lambda F, x: F.selu(x)),
    ("silu", lambda m: m.SiLU(), lambda F, x: F.silu(x)),
    ("mish", lambda m: m.Mish(), lambda F, x: F.mish(x)),
    ("softplus", lambda m: m.Softplus(), lambda F, x: F.softplus(x)),
    ("softplus_beta_threshold", lambda m: m.Softplus(beta=2.0, threshold=3.0),
     lambda F, x: F.softplus(x, beta=2.0, threshold=3.0)),
    ("hardtanh", lambda m: m.Hardtanh(-2.0, 3.0), lambda F, x: F.hardtanh(x, -2.0, 3.0)),
    ("relu6", lambda m: m.ReLU6(), lambda F, x: F.relu6(x)),
    ("hardsigmoid", lambda m: m.Hardsigmoid(), lambda F, x: F.hardsigmoid(x)),
    ("hardswish", lambda m: m.Hardswish(), lambda F, x: F.hardswish(x)),
    ("logsigmoid", lambda m: m.LogSigmoid(), lambda F, x: F.logsigmoid(x)),
    ("softsign", lambda m: m.Softsign(), lambda F, x: F.softsign(x)),
    ("tanhshrink", lambda m: m.Tanhshrink(), lambda F, x: F.tanhshrink(x)),
    ("glu", lambda m: m.GLU(dim=1), lambda F, x: F.glu(x, dim=1)),
    ("glu_last", lambda m: m.GLU(), lambda F, x: F.glu(x)),
    ("hardshrink", lambda m: m.Hardshrink(1.5), lambda F, x: F.hardshrink(x, 1.5)),
    ("softshrink", lambda m: m.Softshrink(), lambda F, x: F.softshrink(x)),
    ("threshold", lambda m: m.Threshold(0.7, -3.0), lambda F, x: F.threshold(x, 0.7, -3.0)),
    ("softmin", lambda m: m.Softmin(dim=1), lambda F, x: F.softmin(x, dim=-1)),
    ("softmax2d", lambda m: m.Softmax2d(), lambda F, x: F.softmax(x, 0)),  # dim 0 is -3 for 3-D inputs
    ("normalize", lambda m: m.Identity(), lambda F, x: F.normalize(x, p=3.0, dim=-1)),
]
IDS = [a[0] for a in ACTIVATIONS]
# PyTorch's backward of these multiplies by 1/6 rounded to float32, even in float64 (3e-8 relative);
# tinytorch's gradient is the exact 1/6
FLOAT32_SLOPE = {"hardsigmoid", "hardswish"}


@needs_torch
@pytest.mark.parametrize("name,module,functional", ACTIVATIONS, ids=IDS)
def test_matches_torch(name, module, functional, device, rng):
    """Module and functional form, values and input gradients, on inputs that cross every kink
    (standard normal times 4: past -3, 3 and 6)."""
    x = rng.standard_normal((3, 4, 6)) * 4
    g = None
    for run in (lambda L, t: module(L.nn)(t), lambda L, t: functional(L.nn.functional, t)):
        xt, xr = to_tt(x, device, requires_grad=True), to_torch(x, requires_grad=True)
        out, ref = run(__import__("tinytorch"), xt), run(torch, xr)
        assert tuple(out.shape) == tuple(ref.shape)
        np.testing.assert_allclose(out.detach().numpy(), ref.detach().numpy(), rtol=1e-10, atol=1e-12)
        g = rng.standard_normal(ref.shape) if g is None else g
        (out * to_tt(g, device)).sum().backward()
        (ref * to_torch(g)).sum().backward()
        rtol = 1e-7 if name in FLOAT32_SLOPE else 1e-9
        np.testing.assert_allclose(xt.grad.numpy(), xr.grad.numpy(), rtol=rtol, atol=1e-12)


@needs_torch
@pytest.mark.parametrize("name,module,functional", ACTIVATIONS, ids=IDS)
def test_far_out_inputs_stay_finite(name, module, functional, device):
    """float32 inputs of -1000 .. 1000: values and gradients are finite where PyTorch's are, and
    close to PyTorch's."""
    x = np.array([-1000.0, -100.0, -30.0, -1e-3, 0.5, 30.0, 100.0, 1000.0], dtype=np.float32).reshape(2, 4)
    xt, xr = to_tt(x, device, requires_grad=True), to_torch(x, requires_grad=True)
    out, ref = functional(F, xt), functional(torch.nn.functional, xr)
    out.sum().backward()
    ref.sum().backward()
    for ours, theirs in ((out.detach().numpy(), ref.detach().numpy()), (xt.grad.numpy(), xr.grad.numpy())):
        np.testing.assert_array_equal(np.isfinite(ours), np.isfinite(theirs))
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)


@needs_torch
@pytest.mark.parametrize("name,module,functional", ACTIVATIONS, ids=IDS)
def test_repr_matches_torch(name, module, functional):
    assert repr(module(nn)) == repr(module(torch.nn))


@needs_torch
def test_inplace_flags_show_in_the_repr():
    for make in (lambda m: m.LeakyReLU(0.2, inplace=True), lambda m: m.ELU(inplace=True),
                 lambda m: m.SiLU(inplace=True), lambda m: m.Hardtanh(inplace=True), lambda m: m.ReLU6(inplace=True)):
        assert repr(make(nn)) == repr(make(torch.nn))


def test_glu_needs_an_even_dimension(device):
    with pytest.raises(RuntimeError, match="dimension 1 is size 3"):
        F.glu(to_tt(np.zeros((2, 3)), device), dim=1)


def test_hardtanh_rejects_inverted_bounds():
    with pytest.raises(ValueError, match="2.0 and 1.0"):
        nn.Hardtanh(2.0, 1.0)



@needs_torch
def test_prelu_learns_its_slopes_like_pytorch(device, rng):
    """PReLU with one shared slope and with one per channel: outputs, input and weight gradients."""
    import tinytorch as tt
    x = rng.standard_normal((2, 3, 4)) * 3
    for n in (1, 3):
        ours, theirs = nn.PReLU(n).double(), torch.nn.PReLU(n).double()
        assert [k for k in ours.state_dict()] == [k for k in theirs.state_dict()] == ["weight"]
        assert ours.weight.tolist() == theirs.weight.tolist() == [0.25] * n
        w = rng.uniform(-1, 1, n)
        ours.load_state_dict({"weight": tt.tensor(w)})
        theirs.load_state_dict({"weight": torch.tensor(w)})
        ours.to(device)
        xt, xr = to_tt(x, device, requires_grad=True), to_torch(x, requires_grad=True)
        out, ref = ours(xt), theirs(xr)
        np.testing.assert_allclose(out.detach().numpy(), ref.detach().numpy(), rtol=1e-12)
        (out ** 2).sum().backward()
        (ref ** 2).sum().backward()
        np.testing.assert_allclose(xt.grad.numpy(), xr.grad.numpy(), rtol=1e-12)
        np.testing.assert_allclose(ours.weight.grad.numpy(), theirs.weight.grad.numpy(), rtol=1e-12)
        assert repr(ours) == repr(theirs)
    with pytest.raises(RuntimeError, match="Mismatch"):
        nn.PReLU(2)(tt.ones(2, 3))
