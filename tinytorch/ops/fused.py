"""Layer ops as single graph nodes: the linear map, layer normalisation, GELU, attention and
an LSTM step's gates (two nodes: the new cell state, then the new hidden state).

Written from primitives, each of these is a chain of five to fifteen nodes, and in an eager
training step the Python cost of a node (making it, recording it, running its backward,
summing its gradients) is larger than its arithmetic on a batch; the GPT of
``examples/train_gpt.py`` spent more time in the nodes of its layer norms and GELUs than in
their kernels (``benchmarks/measurements.md``). Here each is one :class:`Function` whose
forward runs on NDArrays and whose backward is the hand-derived gradient.

Every backward has two paths with the same arithmetic. When the backward pass is not itself
recorded (``create_graph=False``, grad mode off inside the engine) it computes on NDArrays and
returns constants; when it is recorded, it computes with Tensor ops from the node's inputs, so
the gradient can be differentiated again (second-order gradients stay exact).

These Functions have no ``tt.`` names of their own: ``nn.functional.linear``, ``layer_norm``,
``gelu`` and ``scaled_dot_product_attention`` call them, and ``nn.LSTM``'s step the LSTM gates
(the op-table rows of those functions, and the ``lstm_gates`` row, test them).
"""

from __future__ import annotations

import math

from ..ndarray import NDArray, causal_bias, zeros
from ..tensor import Function, Tensor, is_grad_enabled
from .creation import zeros_like
from .elementwise import erf, exp, rsqrt, sigmoid, tanh
from .matmul import Matmul
from .movement import cat, reshape, transpose
from .reduce import mean, softmax
from .reduce import sum as sum_
from .table import exports

_SQRT_HALF = 1.0 / math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


def _constant(a: NDArray) -> Tensor:
    """An NDArray as a Tensor outside the graph (a gradient that is not recorded)."""
    return Tensor._make(a, False, None)


class Linear(Function):
    """``x @ w^T + b`` for ``x`` (..., in), ``w`` (out, in), ``b`` (out,) or None: one node in place
    of a reshape, a transpose, a matmul, a broadcast add and a reshape back. The leading dims of
    ``x`` are flattened into one row dim (a view for a compact ``x``), so the weight's gradient
    ``g^T @ x`` is one product, in the weight's own (out, in) layout, and the bias's is one sum
    over the rows. Unless the backward is recorded, its reshapes and the bias's sum are array
    operations (no ops of their own); the two products are Matmul ops either way."""

    fresh_grads = True  # two products and a sum (or a reshaped view of one)

    def forward(self, x: NDArray, w: NDArray, b: NDArray | None) -> NDArray:
        out = _rows(x) @ w.permute((1, 0))  # a strided matmul: the transposed weight is not copied
        if b is not None:
            out = out + b
        return out if x.ndim == 2 else out.reshape(x.shape[:-1] + (w.shape[0],))

    def backward(self, g: Tensor) -> tuple:
        x, w, _ = self.inputs
        need_x, need_w, need_b = self.needs_input_grad
        if is_grad_enabled():  # recorded: Tensor ops, differentiable again
            g2 = g if g.ndim == 2 else reshape(g, _rows_shape(g.shape))
            dx = Matmul.apply(g2, w) if need_x else None
            return (dx if dx is None or x.ndim == 2 else reshape(dx, x.shape),
                    Matmul.apply(transpose(g2, 0, 1), x if x.ndim == 2 else reshape(x, _rows_shape(x.shape)))
                    if need_w else None,
                    sum_(g2, 0) if need_b else None)
        # not recorded: the rows as constants (no reshape ops), the products still through
        # Matmul.apply, so that dispatch modes (the profiler) see the backward's big kernels
        ga = _rows(g._data)
        dx = Matmul.apply(_constant(ga), w) if need_x else None
        return (dx if dx is None or x.ndim == 2 else _constant(dx._data.reshape(x.shape)),
                Matmul.apply(_constant(ga.permute((1, 0))), _constant(_rows(x._data))) if need_w else None,
                _constant(ga.sum((0,))) if need_b else None)


def _rows_shape(shape: tuple[int, ...]) -> tuple[int, int]:
    """The shape of an array of ``shape`` seen as a matrix of rows: its leading dims flattened."""
    return (math.prod(shape[:-1]), shape[-1])


def _rows(a: NDArray) -> NDArray:
    """``a`` seen as a matrix of rows (a view when compact)."""
    return a if a.ndim == 2 else a.reshape(_rows_shape(a.shape))


class LayerNorm(Function):
    """``(x - mean) / sqrt(var + eps) * w + b`` over the last ``n`` dims (biased variance); ``w`` and
    ``b`` have the normalised shape or are None.

    Backward, with ``xhat`` the standardised input, ``r = 1 / sqrt(var + eps)`` and ``h = g * w``:
    ``dx = r * (h - mean(h) - xhat * mean(h * xhat))``, ``dw = sum(g * xhat)``, ``db = sum(g)``
    (means over the normalised dims, sums over the others)."""

    def forward(self, x: NDArray, w: NDArray | None, b: NDArray | None, n: int, eps: float) -> NDArray:
        xhat, rstd = x.layer_norm_rows(n, eps)  # one backend pass per row where it has the kernel
        self.dims, self.eps, self.xhat, self.rstd = tuple(range(x.ndim - n, x.ndim)), eps, xhat, rstd
        out = xhat if w is None else xhat * w
        return out if b is None else out + b

    def backward(self, g: Tensor) -> tuple:
        x, w, _ = self.inputs
        need_x, need_w, need_b = self.needs_input_grad
        dims, lead = self.dims, tuple(range(len(x.shape) - len(self.dims)))
        if is_grad_enabled():  # recorded: Tensor ops from the input, differentiable again
            centered = x - mean(x, dims, keepdim=True)
            rstd = rsqrt(mean(centered * centered, dims, keepdim=True) + self.eps)
            xhat = centered * rstd
            h = g if w is None else g * w
            dx = rstd * (h - mean(h, dims, keepdim=True) - xhat * mean(h * xhat, dims, keepdim=True))
            return (dx if need_x else None, sum_(g * xhat, lead) if need_w else None,
                    sum_(g, lead) if need_b else None)
        ga, xhat = g._data, self.xhat
        h = ga if w is None else ga * w._data
        return (_constant(xhat.layer_norm_rows_backward(self.rstd, h, len(dims))) if need_x else None,
                _constant((ga * xhat).sum(lead)) if need_w else None,
                _constant(ga.sum(lead)) if need_b else None)


class LstmCell(Function):
    """One LSTM step's new cell state ``c' = sigmoid(f) * c + sigmoid(i) * tanh(g)`` from the
    gates' pre-activations ``z = (i | f | g | o)`` (last dim 4H) and the cell state ``c`` (last
    dim H); :class:`LstmHidden` then makes ``h'``. With the step's matmul, two nodes per time
    step in place of four views of ``z`` and ten elementwise ops (``nn.LSTM`` runs them once per
    step, and its cost in Python is per node). With ``gc`` the gradient of ``c'``:
    ``dz = (gc g i (1 - i) | gc c f (1 - f) | gc i (1 - g^2) | 0)`` and ``dc = gc f``."""

    fresh_grads = True  # products, and dz assembled in a new array

    def forward(self, z: NDArray, c: NDArray) -> NDArray:
        h = c.shape[-1]
        self.i, self.f, self.g = z[..., :h].sigmoid(), z[..., h:2 * h].sigmoid(), z[..., 2 * h:3 * h].tanh()
        return self.f * c + self.i * self.g

    def backward(self, gc: Tensor) -> tuple:
        z, c = self.inputs
        h = c.shape[-1]
        if is_grad_enabled():  # recorded: Tensor ops from the inputs, differentiable again
            i, f, g = sigmoid(z[..., :h]), sigmoid(z[..., h:2 * h]), tanh(z[..., 2 * h:3 * h])
            dz = cat([gc * g * i * (1 - i), gc * c * f * (1 - f), gc * i * (1 - g * g), zeros_like(gc)], -1)
            return dz, gc * f
        ga, i, f, g = gc._data, self.i, self.f, self.g
        return (_constant(_gates([ga * g * (i - i * i), ga * c._data * (f - f * f), ga * i * (1 - g * g), None])),
                _constant(ga * f))


class LstmHidden(Function):
    """One LSTM step's new hidden state ``h' = sigmoid(o) * tanh(c')`` from the gates'
    pre-activations ``z`` and the new cell state ``c'`` (see :class:`LstmCell`). With ``gh``
    the gradient of ``h'`` and ``t = tanh(c')``: ``dz = (0 | 0 | 0 | gh t o (1 - o))`` and
    ``dc' = gh o (1 - t^2)``."""

    fresh_grads = True

    def forward(self, z: NDArray, c: NDArray) -> NDArray:
        self.o, self.t = z[..., 3 * c.shape[-1]:].sigmoid(), c.tanh()
        return self.o * self.t

    def backward(self, gh: Tensor) -> tuple:
        z, c = self.inputs
        if is_grad_enabled():
            o, t = sigmoid(z[..., 3 * c.shape[-1]:]), tanh(c)
            zero = zeros_like(gh)
            return cat([zero, zero, zero, gh * t * (o - o * o)], -1), gh * o * (1 - t * t)
        ga, o, t = gh._data, self.o, self.t
        return _constant(_gates([None, None, None, ga * t * (o - o * o)])), _constant(ga * o * (1 - t * t))


def _gates(parts: list[NDArray | None]) -> NDArray:
    """The four gates' gradients side by side along the last dim, zeros for a None."""
    first = next(p for p in parts if p is not None)
    h = first.shape[-1]
    out = zeros(first.shape[:-1] + (4 * h,), first.dtype, first.device)
    for k, p in enumerate(parts):
        if p is not None:
            out[..., k * h:(k + 1) * h] = p
    return out


class Gelu(Function):
    """``x * Phi(x)``, ``Phi`` the standard normal CDF ``(1 + erf(x / sqrt 2)) / 2``; backward
    ``g * (Phi(x) + x * phi(x))`` with ``phi(x) = exp(-x^2 / 2) / sqrt(2 pi)``."""

    def forward(self, x: NDArray) -> NDArray:
        return x.gelu()  # one backend pass where the backend has a gelu kernel

    def backward(self, g: Tensor) -> Tensor:
        (x,) = self.inputs
        if is_grad_enabled():
            cdf = (erf(x * _SQRT_HALF) + 1.0) * 0.5
            return g * (cdf + x * (exp(x * x * -0.5) * _INV_SQRT_2PI))
        return _constant(x._data.gelu_backward(g._data))


class Attention(Function):
    """``softmax(q k^T * scale + causal bias) v`` for ``q`` (..., L, E), ``k`` (..., S, E) and ``v``
    (..., S, Ev) with the same leading dims: one node in place of the ten or so of the written-out
    attention (a scale, a transpose, two products, the causal mask built and added, a softmax).
    With ``causal``, query ``i`` sees keys ``j <= i`` (a bias of -inf above the diagonal).

    Forward: ``softmax(q k^T)`` with the scale and the causal mask applied inside the softmax
    (``NDArray.softmax``: one pass over the scores). Backward, with ``p`` the attention weights
    (saved): ``dv = p^T g``, ``ds = scale * p * (dp - sum(dp * p))`` with ``dp = g v^T``
    (softmax's gradient, scaled in the same pass), ``dq = ds k``, ``dk = ds^T q``. On NDArrays
    unless the backward is recorded; then with Tensor ops from the inputs, so second-order
    gradients stay exact."""

    def forward(self, q: NDArray, k: NDArray, v: NDArray, scale: float, causal: bool) -> NDArray:
        k, v = k.compact(), v.compact()  # copied once here, read by the products of both passes
        p = (q @ _swap_last(k)).softmax(q.ndim - 1, scale, causal)  # the scale and mask inside the softmax
        self.k, self.v, self.p, self.scale, self.causal = k, v, p, scale, causal
        return p @ v

    def backward(self, g: Tensor) -> tuple:
        q, k, v = self.inputs
        need_q, need_k, need_v = self.needs_input_grad
        scale, causal = self.scale, self.causal
        if is_grad_enabled():  # recorded: the forward again in Tensor ops, then the same formulas
            qs = q * scale
            scores = qs @ transpose(k, -2, -1)
            if causal:
                scores = scores + _constant(causal_bias(q.shape[-2], k.shape[-2], q._data))
            p = softmax(scores, -1)
            dp = g @ transpose(v, -2, -1)
            ds = p * (dp - sum_(dp * p, -1, keepdim=True))
            return ((ds @ k) * scale if need_q else None, transpose(ds, -2, -1) @ qs if need_k else None,
                    transpose(p, -2, -1) @ g if need_v else None)
        ga, p = g._data, self.p
        dq = dk = None
        if need_q or need_k:  # the scores' gradient, scaled: ds = scale * softmax'(dp)
            ds = p.softmax_backward(ga @ _swap_last(self.v), p.ndim - 1, scale)
            dq = _constant(ds @ self.k) if need_q else None
            dk = _constant(_swap_last(ds) @ q._data) if need_k else None
        return dq, dk, (_constant(_swap_last(p) @ ga) if need_v else None)


def _swap_last(a: NDArray) -> NDArray:
    """``a`` with its last two axes swapped (a view)."""
    return a.swapaxes(a.ndim - 2, a.ndim - 1)


def linear(x: Tensor, w: Tensor, b: Tensor | None) -> Tensor:
    """:class:`Linear` for ``x`` with at least 2 dims (shapes checked by the caller)."""
    return Linear.apply(x, w, b)


def layer_norm(x: Tensor, w: Tensor | None, b: Tensor | None, n: int, eps: float) -> Tensor:
    """:class:`LayerNorm` of ``x`` over its last ``n`` dims (shapes checked by the caller)."""
    return LayerNorm.apply(x, w, b, n=n, eps=eps)


def gelu(x: Tensor) -> Tensor:
    """:class:`Gelu`, the exact (erf) form."""
    return Gelu.apply(x)


def attention(q: Tensor, k: Tensor, v: Tensor, scale: float, causal: bool) -> Tensor:
    """:class:`Attention` (shapes, dtypes and devices checked by the caller)."""
    return Attention.apply(q, k, v, scale=scale, causal=causal)


__all__ = exports(__name__)
