"""Layer ops as single graph nodes: the linear map, layer normalisation and GELU.

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

These Functions have no ``tt.`` names of their own: ``nn.functional.linear``, ``layer_norm``
and ``gelu`` call them (and the op-table rows of those functions test them).
"""

from __future__ import annotations

import math

from ..ndarray import NDArray
from ..tensor import Function, Tensor, is_grad_enabled
from .elementwise import erf, exp, rsqrt
from .matmul import Matmul
from .movement import reshape, transpose
from .reduce import mean
from .reduce import sum as sum_
from .table import exports

_SQRT_HALF = 1.0 / math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


def _constant(a: NDArray) -> Tensor:
    """An NDArray as a Tensor outside the graph (a gradient that is not recorded)."""
    return Tensor._make(a, False, None)


class Linear(Function):
    """``x @ w^T + b`` for ``x`` (N, in), ``w`` (out, in), ``b`` (out,) or None: one node in place of
    a transpose, a matmul and a broadcast add. The weight's gradient ``g^T @ x`` comes out in the
    weight's own (out, in) layout and the bias's is one sum over the rows."""

    def forward(self, x: NDArray, w: NDArray, b: NDArray | None) -> NDArray:
        out = x @ w.permute((1, 0))  # a strided matmul: the transposed weight is not copied
        return out if b is None else out + b

    def backward(self, g: Tensor) -> tuple:
        x, w, _ = self.inputs
        need_x, need_w, need_b = self.needs_input_grad
        return (Matmul.apply(g, w) if need_x else None,
                Matmul.apply(transpose(g, 0, 1), x) if need_w else None,
                sum_(g, 0) if need_b else None)


class LayerNorm(Function):
    """``(x - mean) / sqrt(var + eps) * w + b`` over the last ``n`` dims (biased variance); ``w`` and
    ``b`` have the normalised shape or are None.

    Backward, with ``xhat`` the standardised input, ``r = 1 / sqrt(var + eps)`` and ``h = g * w``:
    ``dx = r * (h - mean(h) - xhat * mean(h * xhat))``, ``dw = sum(g * xhat)``, ``db = sum(g)``
    (means over the normalised dims, sums over the others)."""

    def forward(self, x: NDArray, w: NDArray | None, b: NDArray | None, n: int, eps: float) -> NDArray:
        dims = tuple(range(x.ndim - n, x.ndim))
        count = math.prod(x.shape[x.ndim - n:])
        centered = x - x.sum(dims, keepdims=True) * (1.0 / count)
        rstd = ((centered * centered).sum(dims, keepdims=True) * (1.0 / count) + eps) ** -0.5
        xhat = centered * rstd
        self.dims, self.eps, self.xhat, self.rstd = dims, eps, xhat, rstd
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
        ga, xhat, count = g._data, self.xhat, 1.0 / math.prod(x.shape[x.ndim - len(dims):])
        h = ga if w is None else ga * w._data
        dx = None
        if need_x:
            dx = (h - h.sum(dims, keepdims=True) * count
                  - xhat * ((h * xhat).sum(dims, keepdims=True) * count)) * self.rstd
        return (None if dx is None else _constant(dx),
                _constant((ga * xhat).sum(lead)) if need_w else None,
                _constant(ga.sum(lead)) if need_b else None)


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


def linear(x: Tensor, w: Tensor, b: Tensor | None) -> Tensor:
    """:class:`Linear` for any number of leading dims of ``x`` (flattened into one row dim, so the
    weight's gradient is one product, not a batch of products summed afterwards)."""
    if x.ndim == 2:
        return Linear.apply(x, w, b)
    rows = reshape(x, (-1, x.shape[-1]))
    return reshape(Linear.apply(rows, w, b), (*x.shape[:-1], w.shape[0]))


def layer_norm(x: Tensor, w: Tensor | None, b: Tensor | None, n: int, eps: float) -> Tensor:
    """:class:`LayerNorm` of ``x`` over its last ``n`` dims (shapes checked by the caller)."""
    return LayerNorm.apply(x, w, b, n=n, eps=eps)


def gelu(x: Tensor) -> Tensor:
    """:class:`Gelu`, the exact (erf) form."""
    return Gelu.apply(x)


__all__ = exports(__name__)
