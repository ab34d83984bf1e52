"""The one-node layer ops (tinytorch/ops/fused.py, and Softmax in ops/reduce.py) give PyTorch's
values, first-order gradients and second-order gradients, on every device.

Each case runs a function on both libraries with the same inputs, then backward with a random
upstream gradient, then differentiates the sum of (input gradient * a random tensor) again:
the second pass goes through each Function's recorded (Tensor-op) backward, the first through
its array backward.
"""

from __future__ import annotations

import numpy as np
import pytest

import tinytorch as tt

torch = pytest.importorskip("torch")

CASES = {
    "linear 2-D with bias": (lambda F, x, w, b: F.linear(x, w, b), [(5, 4), (3, 4), (3,)]),
    "linear 3-D no bias": (lambda F, x, w: F.linear(x, w), [(2, 5, 4), (3, 4)]),
    "linear 4-D with bias": (lambda F, x, w, b: F.linear(x, w, b), [(2, 2, 3, 4), (6, 4), (6,)]),
    "layer_norm affine": (lambda F, x, w, b: F.layer_norm(x, (4,), w, b), [(3, 5, 4), (4,), (4,)]),
    "layer_norm two dims": (lambda F, x, w, b: F.layer_norm(x, (3, 4), w, b, eps=1e-3), [(2, 3, 4), (3, 4), (3, 4)]),
    "layer_norm plain": (lambda F, x: F.layer_norm(x, (6,)), [(4, 6)]),
    "gelu": (lambda F, x: F.gelu(x), [(3, 7)]),
    "softmax last": (lambda F, x: F.softmax(x, -1), [(2, 3, 5)]),
    "softmax middle": (lambda F, x: F.softmax(x, 1), [(2, 3, 5)]),
    # --- one-node attention (scaled_dot_product_attention without mask or dropout) ---
    "attention": (lambda F, q, k, v: F.scaled_dot_product_attention(q, k, v), [(2, 4, 5), (2, 6, 5), (2, 6, 3)]),
    "attention causal": (lambda F, q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True, scale=0.3),
                         [(2, 3, 4, 5), (2, 3, 6, 5), (2, 3, 6, 2)]),
}


def _run(lib, F, fn, arrays, upstream, probes, device=None):
    """Output, first-order gradients and second-order gradients of ``fn`` on ``lib``."""
    kw = {} if device is None else {"device": device}
    xs = [lib.tensor(a, requires_grad=True, **kw) for a in arrays]
    out = fn(F, *xs)
    grads = lib.autograd.grad(out, xs, lib.tensor(upstream, **kw), create_graph=True)
    probe = sum((g * lib.tensor(p, **kw)).sum() for g, p in zip(grads, probes))
    second = lib.autograd.grad(probe, xs, allow_unused=True)
    as_np = lambda t: None if t is None else t.detach().cpu().numpy() if lib is torch else t.detach().numpy()  # noqa: E731
    return as_np(out), [as_np(g) for g in grads], [as_np(g) for g in second]


@pytest.mark.parametrize("name", list(CASES))
@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_matches_pytorch_to_second_order(device, name, dt):
    fn, shapes = CASES[name]
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(s).astype(dt) for s in shapes]
    out_shape = fn(torch.nn.functional, *[torch.from_numpy(a) for a in arrays]).shape
    upstream = rng.standard_normal(tuple(out_shape)).astype(dt)
    probes = [rng.standard_normal(s).astype(dt) for s in shapes]
    ours = _run(tt, tt.nn.functional, fn, arrays, upstream, probes, device)
    ref = _run(torch, torch.nn.functional, fn, arrays, upstream, probes)
    tol = dict(rtol=2e-4, atol=2e-5) if dt is np.float32 else dict(rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(ours[0], ref[0], **tol)
    for a, b in zip(ours[1], ref[1]):
        np.testing.assert_allclose(a, b, **tol)
    for a, b in zip(ours[2], ref[2]):
        if b is None:
            assert a is None or not np.any(a)
        else:
            np.testing.assert_allclose(a if a is not None else np.zeros_like(b), b, **tol)


def test_first_order_gradients_need_no_graph(device):
    """Without create_graph the gradients are plain values (no node recorded behind them)."""
    x = tt.randn(4, 6, device=device, requires_grad=True)
    w = tt.randn(3, 6, device=device, requires_grad=True)
    tt.nn.functional.gelu(tt.nn.functional.layer_norm(tt.nn.functional.linear(x, w.T.T), (3,))).sum().backward()
    assert x.grad.grad_fn is None and w.grad.grad_fn is None
    assert x.grad.shape == (4, 6) and w.grad.shape == (3, 6)


def test_layer_norm_without_the_backend_kernels_gives_the_same_numbers(monkeypatch):
    """NDArray.layer_norm_rows / _backward fall back to array passes on a backend without the
    optional kernels (as the CUDA one): the same output and gradients as with them."""
    import tinytorch.backend_cpu as cpu

    rng = np.random.default_rng(1)
    x, w, g = rng.standard_normal((4, 3, 6)), rng.standard_normal((3, 6)), rng.standard_normal((4, 3, 6))

    def run():
        xs, ws = tt.tensor(x, requires_grad=True), tt.tensor(w, requires_grad=True)
        out = tt.nn.functional.layer_norm(xs, (3, 6), ws, eps=1e-3)
        out.backward(tt.tensor(g))
        return [t.detach().numpy() for t in (out, xs.grad, ws.grad)]

    with_kernels = run()
    monkeypatch.setattr(cpu, "layer_norm_rows", None)
    monkeypatch.setattr(cpu, "layer_norm_rows_backward", None)
    for a, b in zip(run(), with_kernels):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-13)
