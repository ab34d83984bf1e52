"""Names a CPU PyTorch program touches on its way to the model: device questions, copies that
are no-ops here, parameters as one vector. Each behaves as PyTorch's on a machine without a GPU."""

import numpy as np
import pytest

import tinytorch as tt
from tinytorch import nn
from tinytorch.nn.utils import parameters_to_vector, vector_to_parameters


def test_to_accepts_non_blocking_and_copies_only_when_asked(device):
    x = tt.ones(3, device=device)
    assert x.to(device, non_blocking=True) is x
    y = x.to(copy=True)
    assert y is not x and y.tolist() == x.tolist()
    y[0] = 5.0
    assert x[0].item() == 1.0  # a real copy
    assert x.to(tt.float64, copy=True).dtype is tt.float64


def test_pin_memory_is_the_tensor_itself():
    x = tt.arange(4)
    assert x.pin_memory() is x


def test_no_mps_backend():
    assert tt.backends.mps.is_available() is False and tt.backends.mps.is_built() is False


def test_parameters_round_trip_through_one_vector(device):
    tt.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2)).to(device)
    vec = parameters_to_vector(model.parameters())
    assert vec.shape == (3 * 4 + 4 + 4 * 2 + 2,)
    np.testing.assert_array_equal(vec[:12].detach().numpy(), model[0].weight.detach().numpy().reshape(-1))
    vector_to_parameters(tt.arange(26, dtype=tt.float32, device=device), model.parameters())
    assert model[2].bias.tolist() == [24.0, 25.0] and model[0].weight[1, 0].item() == 3.0
    with pytest.raises(RuntimeError, match=r"shape \[25\], the parameters 26 elements"):
        vector_to_parameters(tt.zeros(25, device=device), model.parameters())


def test_parameters_to_vector_is_differentiable(device):
    w = nn.Parameter(tt.ones(2, 2, device=device))
    (parameters_to_vector([w]) * tt.arange(4, dtype=tt.float32, device=device)).sum().backward()
    assert w.grad.tolist() == [[0.0, 1.0], [2.0, 3.0]]
