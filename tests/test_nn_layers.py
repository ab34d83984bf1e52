"""nn layers vs PyTorch (same weights, float64) and vs finite differences, on every device."""

import numpy as np
import pytest

import tinytorch as tt

if not hasattr(tt, "Tensor"):
    pytest.skip("the Tensor layer (tinytorch.Tensor) is missing", allow_module_level=True)

from nn_helpers import copy_torch_weights, gradcheck, needs_torch, to_torch, to_tt, torch  # noqa: E402

from tinytorch import nn  # noqa: E402
from tinytorch.nn import functional as F  # noqa: E402

# (name, tinytorch constructor, torch constructor name and args, input shape)
LAYERS = [
    ("linear", lambda m: m.Linear(5, 3), (2, 5)),
    ("linear_nobias_3d", lambda m: m.Linear(5, 3, bias=False), (2, 3, 5)),
    ("conv", lambda m: m.Conv2d(3, 4, 3), (2, 3, 7, 6)),
    ("conv_stride_pad", lambda m: m.Conv2d(3, 4, 3, stride=2, padding=1), (2, 3, 7, 6)),
    ("conv_rect", lambda m: m.Conv2d(2, 3, (3, 2), stride=(2, 1), padding=(1, 0), bias=False), (1, 2, 6, 5)),
    ("conv_dilation", lambda m: m.Conv2d(1, 2, 3, dilation=2), (1, 1, 8, 9)),
    ("maxpool", lambda m: m.MaxPool2d(2), (2, 3, 8, 7)),
    ("maxpool_overlap_pad", lambda m: m.MaxPool2d(3, stride=2, padding=1), (2, 2, 7, 7)),
    ("maxpool_3d_input", lambda m: m.MaxPool2d(2), (3, 6, 6)),
    ("avgpool", lambda m: m.AvgPool2d(2), (2, 3, 8, 8)),
    ("avgpool_overlap_pad", lambda m: m.AvgPool2d(3, stride=2, padding=1), (1, 2, 7, 6)),
    ("layernorm", lambda m: m.LayerNorm(5), (3, 5)),
    ("layernorm_2d", lambda m: m.LayerNorm((4, 5)), (2, 4, 5)),
    ("relu", lambda m: m.ReLU(), (3, 4)),
    ("sigmoid", lambda m: m.Sigmoid(), (3, 4)),
    ("tanh", lambda m: m.Tanh(), (3, 4)),
    ("gelu", lambda m: m.GELU(), (3, 4)),
    ("gelu_tanh", lambda m: m.GELU(approximate="tanh"), (3, 4)),
    ("softmax", lambda m: m.Softmax(dim=1), (3, 4)),
    ("logsoftmax", lambda m: m.LogSoftmax(dim=-1), (2, 3, 4)),
    ("flatten", lambda m: m.Flatten(), (2, 3, 2, 2)),
    ("identity", lambda m: m.Identity(), (2, 3)),
    ("batchnorm1d", lambda m: m.BatchNorm1d(4), (8, 4)),
    ("batchnorm1d_3d", lambda m: m.BatchNorm1d(3), (4, 3, 5)),
    ("batchnorm2d", lambda m: m.BatchNorm2d(3), (4, 3, 5, 5)),
    ("mlp", lambda m: m.Sequential(m.Linear(6, 8), m.ReLU(), m.Linear(8, 3)), (4, 6)),
    ("cnn", lambda m: m.Sequential(m.Conv2d(1, 2, 3, padding=1), m.ReLU(), m.MaxPool2d(2), m.Flatten(),
                                   m.Linear(2 * 3 * 3, 4)), (2, 1, 6, 6)),
]


@needs_torch
@pytest.mark.parametrize("name,make,shape", LAYERS, ids=[spec[0] for spec in LAYERS])
def test_layer_matches_torch(name, make, shape, device, rng):
    torch.manual_seed(0)
    ref = make(torch.nn).double()
    mod = make(nn).to(device, tt.float64)
    copy_torch_weights(mod, ref)
    x = rng.standard_normal(shape)
    xt, xr = to_tt(x, device, requires_grad=True), to_torch(x, requires_grad=True)
    out, out_ref = mod(xt), ref(xr)
    assert tuple(out.shape) == tuple(out_ref.shape)
    np.testing.assert_allclose(out.detach().numpy(), out_ref.detach().numpy(), rtol=1e-9, atol=1e-10)
    g = rng.standard_normal(out_ref.shape)
    (out * to_tt(g, device)).sum().backward()
    (out_ref * to_torch(g)).sum().backward()
    np.testing.assert_allclose(xt.grad.numpy(), xr.grad.numpy(), rtol=1e-9, atol=1e-10)
    ref_grads = dict(ref.named_parameters())
    for pname, p in mod.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), ref_grads[pname].grad.numpy(), rtol=1e-9, atol=1e-10,
                                   err_msg=pname)
    for bname, b in ref.named_buffers():  # BatchNorm running statistics after one training step
        np.testing.assert_allclose(dict(mod.named_buffers())[bname].numpy(), b.numpy(), rtol=1e-12, atol=1e-12)


@needs_torch
@pytest.mark.parametrize("make,shape", [(lambda m: m.BatchNorm1d(4, momentum=None), (6, 4)),
                                        (lambda m: m.BatchNorm2d(3, momentum=0.3), (4, 3, 3, 3)),
                                        (lambda m: m.BatchNorm1d(4, affine=False), (6, 4))])
def test_batchnorm_running_stats_and_eval(make, shape, device, rng):
    ref = make(torch.nn).double()
    mod = make(nn).to(device, tt.float64)
    for _ in range(3):
        x = rng.standard_normal(shape) * 3 + 1
        mod(to_tt(x, device))
        ref(to_torch(x))
    for name, b in ref.named_buffers():
        np.testing.assert_allclose(dict(mod.named_buffers())[name].numpy(), b.numpy(), rtol=1e-12)
    assert int(mod.num_batches_tracked.item()) == 3
    mod.eval()
    ref.eval()
    x = rng.standard_normal(shape)
    np.testing.assert_allclose(mod(to_tt(x, device)).detach().numpy(), ref(to_torch(x)).detach().numpy(), rtol=1e-10)


@needs_torch
def test_embedding_matches_torch(device, rng):
    for padding_idx in (None, 0):
        ref = torch.nn.Embedding(10, 4, padding_idx=padding_idx).double()
        mod = nn.Embedding(10, 4, padding_idx=padding_idx).to(device, tt.float64)
        copy_torch_weights(mod, ref)
        idx = rng.integers(0, 10, (3, 5))
        idx[0, :2] = 0
        out, out_ref = mod(to_tt(idx, device)), ref(torch.tensor(idx))
        np.testing.assert_allclose(out.detach().numpy(), out_ref.detach().numpy())
        g = rng.standard_normal(out_ref.shape)
        (out * to_tt(g, device)).sum().backward()
        (out_ref * to_torch(g)).sum().backward()
        np.testing.assert_allclose(mod.weight.grad.numpy(), ref.weight.grad.numpy(), rtol=1e-12)


def test_dropout(device):
    tt.manual_seed(0)
    m = nn.Dropout(p=0.25)
    x = tt.ones(200, 50, device=device)
    y = m(x).numpy()
    kept = y != 0
    assert abs(kept.mean() - 0.75) < 0.02
    np.testing.assert_allclose(y[kept], 1 / 0.75, rtol=1e-6)
    m.eval()
    assert m(x) is x
    assert (nn.Dropout(1.0)(x).numpy() == 0).all()
    xg = tt.ones(4, 4, device=device, requires_grad=True)
    out = nn.Dropout(0.5)(xg)
    out.sum().backward()
    np.testing.assert_allclose(xg.grad.numpy(), out.detach().numpy())  # gradient = the same mask and scale
    with pytest.raises(ValueError):
        nn.Dropout(1.5)


# ---------------------------------------------------------------- finite differences (no torch needed)
FD_CASES = [
    ("conv2d", lambda x, w, b: F.conv2d(x, w, b, stride=2, padding=1), [(1, 2, 5, 4), (3, 2, 3, 3), (3,)]),
    ("conv2d_dilated", lambda x, w: F.conv2d(x, w, dilation=2), [(1, 1, 6, 6), (2, 1, 2, 2)]),
    ("max_pool2d", lambda x: F.max_pool2d(x, 2), [(1, 2, 4, 6)]),
    ("avg_pool2d", lambda x: F.avg_pool2d(x, 3, 2, 1), [(1, 1, 5, 5)]),
    ("linear", F.linear, [(3, 4), (2, 4), (2,)]),
    ("layer_norm", lambda x, w, b: F.layer_norm(x, (4,), w, b), [(3, 4), (4,), (4,)]),
    ("batch_norm", lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True), [(5, 3, 2), (3,), (3,)]),
    ("gelu", F.gelu, [(3, 5)]),
    ("pad", lambda x: F.pad(x, (1, 2, 0, 1), value=0.5), [(2, 3, 3)]),
    ("log_softmax", lambda x: F.log_softmax(x, 1), [(3, 5)]),
]


@pytest.mark.parametrize("name,fn,shapes", FD_CASES, ids=[c[0] for c in FD_CASES])
def test_functional_finite_differences(name, fn, shapes, device, rng):
    gradcheck(fn, [rng.standard_normal(s) for s in shapes], device, rng)


def test_conv2d_shapes_and_errors(device):
    x = tt.zeros(2, 3, 10, 10, device=device)
    assert nn.Conv2d(3, 5, 3, stride=2, padding=1).to(device)(x).shape == (2, 5, 5, 5)
    assert nn.Conv2d(3, 5, (1, 3), padding=(0, 1)).to(device)(x).shape == (2, 5, 10, 10)
    with pytest.raises(RuntimeError, match="channels"):
        nn.Conv2d(4, 5, 3).to(device)(x)
    with pytest.raises(RuntimeError, match="Kernel size"):
        nn.Conv2d(3, 5, 11).to(device)(x)


def test_unfold_fold_shapes_adjoint_and_errors(device, rng):
    """unfold gives (N, C*kh*kw, L); fold is its adjoint: <unfold(x), y> == <x, fold(y)>."""
    x = rng.standard_normal((2, 3, 7, 6))
    cols = F.unfold(tt.tensor(x, device=device), (3, 2), padding=1, stride=2)
    assert cols.shape == (2, 3 * 6, 4 * 4)
    y = rng.standard_normal(cols.shape)
    back = F.fold(tt.tensor(y, device=device), (7, 6), (3, 2), padding=1, stride=2)
    assert back.shape == (2, 3, 7, 6)
    assert np.isclose((cols.numpy() * y).sum(), (x * back.numpy()).sum(), rtol=1e-12)
    with pytest.raises(RuntimeError, match=r"fold expects an input of shape \(N, C \* 6, 16\)"):
        F.fold(tt.zeros(2, 18, 15, device=device), (7, 6), (3, 2), padding=1, stride=2)
    with pytest.raises(RuntimeError, match="Kernel size"):
        F.unfold(tt.zeros(1, 1, 2, 2, device=device), 3)
    with pytest.raises(RuntimeError, match="must be positive"):
        F.unfold(tt.zeros(1, 1, 4, 4, device=device), 2, stride=0)
    with pytest.raises(NotImplementedError, match="4D"):
        F.unfold(tt.zeros(4, 4, device=device), 2)


def test_pad_crops_with_negative_amounts(device):
    x = tt.arange(12, dtype=tt.float32, device=device).reshape(3, 4)
    expected = np.pad(np.arange(12.0).reshape(3, 4)[:, 1:], ((0, 0), (0, 1)))
    np.testing.assert_array_equal(F.pad(x, (-1, 1)).numpy(), expected)


def test_one_hot(device):
    t = tt.tensor([0, 2, 1], device=device)
    out = F.one_hot(t)
    assert out.dtype == tt.int64 and out.tolist() == [[1, 0, 0], [0, 0, 1], [0, 1, 0]]
    assert F.one_hot(t, 5).shape == (3, 5)


@needs_torch
@pytest.mark.parametrize("kernel,stride", [(2, None), (3, 2)])
def test_max_pool_ties_route_gradient_like_torch(kernel, stride, device, rng):
    x = rng.integers(0, 3, (2, 2, 6, 6)).astype(np.float64)  # many equal maxima in a window
    xt, xr = to_tt(x, device, requires_grad=True), to_torch(x, requires_grad=True)
    out, out_ref = F.max_pool2d(xt, kernel, stride), torch.nn.functional.max_pool2d(xr, kernel, stride)
    g = rng.standard_normal(out_ref.shape)
    (out * to_tt(g, device)).sum().backward()
    (out_ref * to_torch(g)).sum().backward()
    np.testing.assert_allclose(xt.grad.numpy(), xr.grad.numpy(), atol=1e-12)


@needs_torch
def test_max_pool_with_nan_and_padding_like_torch(device, rng):
    """A NaN is its window's maximum (and takes the gradient); -inf padding never wins."""
    x = -np.abs(rng.standard_normal((1, 2, 5, 5)))  # all negative: padding must not give 0
    x[0, 0, 1, 1] = x[0, 1, 4, 3] = np.nan
    xt, xr = to_tt(x, device, requires_grad=True), to_torch(x, requires_grad=True)
    out, out_ref = F.max_pool2d(xt, 3, 2, 1), torch.nn.functional.max_pool2d(xr, 3, 2, 1)
    np.testing.assert_array_equal(out.detach().numpy(), out_ref.detach().numpy())  # NaN where torch has NaN
    out.sum().backward()
    out_ref.sum().backward()
    np.testing.assert_array_equal(xt.grad.numpy(), xr.grad.numpy())
