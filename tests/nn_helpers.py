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


# --- sequence models: compare a tinytorch callable with a torch one, outputs and gradients ---
def _as_torch(a):
    return torch.tensor(a) if isinstance(a, np.ndarray) else a


def _as_tt(a, device, dtype):
    if not isinstance(a, np.ndarray):
        return a
    return to_tt(a, device, dtype=dtype if a.dtype.kind == "f" else None)


def compare_with_torch(run_tt, run_torch, arrays, device, params=None, kwargs=None, dtype=tt.float64,
                       rtol=1e-9, atol=1e-10):
    """Run ``run_tt`` and ``run_torch`` on the float ``arrays`` (as leaf inputs requiring grad) and
    ``kwargs`` (numpy arrays become tensors, others pass as they are); compare the outputs (a tensor
    or a tuple, Nones allowed), then, after a backward of the outputs weighted by fixed random numbers,
    the inputs' gradients and those of the parameters ``params = (tinytorch module, torch module)``."""
    rng = np.random.default_rng(1)
    kwargs = kwargs or {}
    np_dtype = np.float64 if dtype is tt.float64 else np.float32
    xs = [to_tt(a, device, dtype=dtype, requires_grad=True) for a in arrays]
    rs = [to_torch(a.astype(np_dtype), requires_grad=True) for a in arrays]
    outs = run_tt(*xs, **{k: _as_tt(v, device, dtype) for k, v in kwargs.items()})
    refs = run_torch(*rs, **{k: _as_torch(v.astype(np_dtype) if isinstance(v, np.ndarray) and v.dtype.kind == "f"
                                          else v) for k, v in kwargs.items()})
    outs, refs = (outs if isinstance(outs, tuple) else (outs,)), (refs if isinstance(refs, tuple) else (refs,))
    loss, loss_ref = 0.0, 0.0
    for o, r in zip(outs, refs):
        assert (o is None) == (r is None)
        if r is None:
            continue
        assert tuple(o.shape) == tuple(r.shape)
        np.testing.assert_allclose(o.detach().numpy(), r.detach().numpy(), rtol=rtol, atol=atol)
        w = rng.standard_normal(tuple(r.shape))
        loss = loss + (o * to_tt(w, device, dtype=dtype)).sum()
        loss_ref = loss_ref + (r * to_torch(w).to(r.dtype)).sum()
    loss.backward()
    loss_ref.backward()
    for i, (a, b) in enumerate(zip(xs, rs)):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=rtol, atol=atol, err_msg=f"input {i}")
    if params is not None:
        ref_params = dict(params[1].named_parameters())
        for name, p in params[0].named_parameters():
            np.testing.assert_allclose(p.grad.numpy(), ref_params[name].grad.numpy(), rtol=rtol, atol=atol,
                                       err_msg=name)
