"""Helpers shared by the nn/optim tests: a torch oracle (optional) and a finite-difference check."""

from __future__ import annotations

import numpy as np
import pytest

import tinytorch as tt

try:
    import torch
except ImportError:  # torch is a test oracle only
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="torch is not installed (pip install torch==2.13.0)")


def to_tt(a, device, dtype=None, requires_grad=False):
    a = np.asarray(a)
    t = tt.tensor(a, dtype=dtype, device=device)
    return t.requires_grad_(True) if requires_grad else t


def to_torch(a, requires_grad=False):
    t = torch.tensor(np.asarray(a))
    return t.requires_grad_(True) if requires_grad else t


def copy_torch_weights(tt_module, torch_module):
    """Load ``torch_module``'s state dict into ``tt_module`` -- which also checks the key names match."""
    state = {k: tt.tensor(v.detach().numpy()) for k, v in torch_module.state_dict().items()}
    tt_module.load_state_dict(state)


def numeric_grad(f, x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """Central differences of the scalar function ``f`` (numpy array -> float) at ``x`` (float64)."""
    grad = np.zeros_like(x)
    flat, gflat = x.reshape(-1), grad.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + eps
        hi = f(x)
        flat[i] = old - eps
        lo = f(x)
        flat[i] = old
        gflat[i] = (hi - lo) / (2 * eps)
    return grad


def gradcheck(fn, inputs: list[np.ndarray], device, rng, atol=1e-6, rtol=1e-5):
    """Compare autograd gradients of ``sum(fn(*tensors) * w)`` (w a fixed random weighting) with
    finite differences, in float64 on ``device``."""
    inputs = [np.array(a, dtype=np.float64) for a in inputs]
    out0 = fn(*[to_tt(a, device) for a in inputs])
    w = rng.standard_normal(out0.shape)

    def scalar(*arrays):
        return float((fn(*[to_tt(a, device) for a in arrays]).numpy() * w).sum())

    tensors = [to_tt(a, device, requires_grad=True) for a in inputs]
    (fn(*tensors) * to_tt(w, device)).sum().backward()
    for i, (a, t) in enumerate(zip(inputs, tensors)):
        def f(x, i=i):
            args = list(inputs)
            args[i] = x
            return scalar(*args)
        expected = numeric_grad(f, a.copy())
        assert t.grad is not None, f"input {i} got no gradient"
        np.testing.assert_allclose(t.grad.numpy(), expected, atol=atol, rtol=rtol, err_msg=f"input {i}")
