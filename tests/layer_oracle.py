"""Run a tinytorch layer and the same PyTorch layer (weights copied through ``load_state_dict``,
so the state_dict keys must match) on the same inputs; compare outputs, input gradients and
parameter gradients. Used by the nn layer test files."""

from __future__ import annotations

import numpy as np
from nn_helpers import copy_torch_weights, torch

import tinytorch as tt

TOLERANCE = {"float64": dict(rtol=1e-9, atol=1e-10), "float32": dict(rtol=2e-4, atol=2e-5)}


def _leaves(outputs):
    return list(outputs) if isinstance(outputs, (tuple, list)) else [outputs]


def check_layer(make, inputs, device, dtype_name="float64", call=None, rng=None, train=True):
    """``make(nn_namespace)`` builds the layer; ``inputs`` are numpy arrays (floating ones get
    gradients) or other values passed unchanged; ``call(module, *inputs)`` runs it (default
    ``module(*inputs)``). Float outputs are compared, and the gradients of a random weighting of
    them. Returns the two modules for further checks."""
    rng = rng or np.random.default_rng(1)
    tol = TOLERANCE[dtype_name]
    torch.manual_seed(0)
    ref = make(torch.nn)
    ref = ref.double() if dtype_name == "float64" else ref.float()
    mod = make(tt.nn).to(device, getattr(tt, dtype_name))
    copy_torch_weights(mod, ref)
    assert list(mod.state_dict()) == list(ref.state_dict())
    assert repr(mod) == repr(ref)
    ref.train(train)
    mod.train(train)
    call = call or (lambda m, *a: m(*a))

    def convert(a, lib):
        if isinstance(a, np.ndarray) and a.dtype.kind == "f":
            if lib is tt:
                return tt.tensor(a, dtype=getattr(tt, dtype_name), device=device, requires_grad=True)
            return torch.tensor(a, dtype=getattr(torch, dtype_name), requires_grad=True)
        if isinstance(a, np.ndarray):
            return tt.tensor(a, device=device) if lib is tt else torch.tensor(a)
        return a

    xs, xr = [convert(a, tt) for a in inputs], [convert(a, torch) for a in inputs]
    outs, outs_ref = _leaves(call(mod, *xs)), _leaves(call(ref, *xr))
    assert len(outs) == len(outs_ref)
    loss, loss_ref = 0.0, 0.0
    for o, r in zip(outs, outs_ref):
        assert tuple(o.shape) == tuple(r.shape), (o.shape, r.shape)
        if r.dtype in (torch.float32, torch.float64):
            np.testing.assert_allclose(o.detach().numpy(), r.detach().numpy(), **tol)
            if r.requires_grad:
                w = rng.standard_normal(tuple(r.shape))
                loss = loss + (o * tt.tensor(w, dtype=o.dtype, device=device)).sum()
                loss_ref = loss_ref + (r * torch.tensor(w, dtype=r.dtype)).sum()
        else:
            np.testing.assert_array_equal(o.numpy(), r.numpy())
    if isinstance(loss_ref, float):
        return mod, ref
    loss.backward()
    loss_ref.backward()
    for a, b in zip(xs, xr):
        if isinstance(b, torch.Tensor) and b.requires_grad:
            assert (a.grad is None) == (b.grad is None)
            if b.grad is not None:
                np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), **tol)
    ref_params = dict(ref.named_parameters())
    for name, p in mod.named_parameters():
        g, gr = p.grad, ref_params[name].grad
        assert (g is None) == (gr is None), name
        if gr is not None:
            gr = gr.to_dense() if gr.is_sparse else gr  # PyTorch's sparse=True gradient; ours is dense
            np.testing.assert_allclose(g.numpy(), gr.numpy(), err_msg=name, **tol)
    return mod, ref
