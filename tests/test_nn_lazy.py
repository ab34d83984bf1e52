"""Lazy layers (``nn.LazyLinear``...), ``nn.Buffer``, ``nn.DataParallel`` and ``nn.SyncBatchNorm``
in one process: shapes learned from the first batch, the same parameter objects, PyTorch's
module types and state_dict names."""

from __future__ import annotations

import numpy as np
import pytest
from nn_helpers import needs_torch, torch

import tinytorch as tt
from tinytorch import nn

X = np.random.default_rng(0).standard_normal((2, 3, 8, 8)).astype(np.float32)


def test_lazy_layers_learn_their_input_size_and_become_ordinary_layers():
    net = nn.Sequential(nn.LazyConv2d(4, 3, padding=1), nn.LazyBatchNorm2d(), nn.ReLU(),
                        nn.LazyConvTranspose2d(2, 2, stride=2), nn.Flatten(), nn.LazyLinear(5))
    params = list(net.parameters())
    assert all(p.numel() == 0 for p in params) and isinstance(params[0], nn.UninitializedParameter)
    opt = tt.optim.SGD(net.parameters(), lr=0.1)  # built before the shapes are known
    y = net(tt.tensor(X))
    assert y.shape == (2, 5)
    assert [type(m) for m in net] == [nn.Conv2d, nn.BatchNorm2d, nn.ReLU, nn.ConvTranspose2d, nn.Flatten, nn.Linear]
    assert [tuple(p.shape) for p in net.parameters()] == [(4, 3, 3, 3), (4,), (4,), (4,), (4, 2, 2, 2), (2,),
                                                          (5, 512), (5,)]
    assert all(a is b for a, b in zip(params, net.parameters()))  # the same objects, now with shapes
    assert all(type(p) is nn.Parameter for p in params)
    assert net[0].in_channels == 3 and net[5].in_features == 512 and net[1].num_features == 4
    bound = 1 / np.sqrt(512)  # Linear's initialisation, from the learned fan-in
    assert np.abs(net[5].weight.detach().numpy()).max() <= bound and net[5].weight.detach().numpy().std() > bound / 4
    before = net[5].weight.detach().numpy().copy()
    (y ** 2).mean().backward()
    opt.step()
    assert not np.array_equal(net[5].weight.detach().numpy(), before)  # the optimizer held the real weight
    assert net[1].running_mean.shape == (4,) and net[1].num_batches_tracked.item() == 1
    unbatched = nn.LazyConv1d(2, 3)
    assert unbatched(tt.ones(5, 7)).shape == (2, 5) and unbatched.in_channels == 5
    with pytest.raises(ValueError, match="divisible by groups"):
        nn.LazyConv2d(4, 3, groups=2)(tt.ones(1, 3, 5, 5))


def test_buffer_data_parallel_and_sync_batch_norm():
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.mean = nn.Buffer(tt.ones(2))
            self.scratch = nn.Buffer(tt.zeros(1), persistent=False)

    m = M()
    assert list(m.state_dict()) == ["mean"] and [n for n, _ in m.named_buffers()] == ["mean", "scratch"]
    assert type(m.mean) is tt.Tensor and not m.mean.requires_grad
    inner = nn.Linear(2, 2)
    dp = nn.DataParallel(inner, device_ids=[0])
    assert dp.module is inner and list(dp.state_dict()) == ["module.weight", "module.bias"]
    x = tt.ones(3, 2)
    np.testing.assert_array_equal(dp(x).detach().numpy(), inner(x).detach().numpy())
    tt.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3))
    reference = model(x).detach().numpy()
    synced = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    assert type(synced[1]) is nn.SyncBatchNorm and synced[1].running_mean is not None
    np.testing.assert_allclose(synced(x).detach().numpy(), reference, atol=1e-6)
    assert nn.SyncBatchNorm(3)(tt.tensor(X)).shape == X.shape  # any number of dims
    with pytest.raises(ValueError, match="2D"):
        nn.SyncBatchNorm(3)(tt.ones(3))


def _program(L):
    nn_ = L.nn
    net = nn_.Sequential(nn_.LazyConv2d(4, 3, padding=1), nn_.LazyBatchNorm2d(), nn_.ReLU(),
                         nn_.LazyConvTranspose2d(2, 2, stride=2), nn_.Flatten(), nn_.LazyLinear(5))
    net(L.tensor(X))
    return [type(m).__name__ for m in net], [tuple(p.shape) for p in net.parameters()], list(net.state_dict())


@needs_torch
def test_lazy_layers_match_pytorchs():
    assert _program(tt) == _program(torch)
