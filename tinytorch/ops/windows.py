"""Sliding windows: ``Unfold`` (im2col) and ``Fold`` (col2im), the primitives behind pooling, and
``Convolution``, a 2-D convolution as one node. The array work -- the windows as a strided view,
made compact, and its adjoint; the convolution's three products -- is
:mod:`tinytorch.ndarray.windows`; here each becomes a graph node. Unfold and Fold are each
other's backward, so gradients of every order come for free; Convolution's recorded backward
is written with them.
"""

from __future__ import annotations

from typing import Any

from ..ndarray import NDArray, zeros
from ..ndarray.windows import (
    ConvGeometry,
    Pair,
    conv2d,
    conv2d_backward_input,
    conv2d_backward_weight,
    fold,
    max_pool2d,
    max_pool2d_backward,
    unfold,
)
from ..tensor import Function, Tensor, is_grad_enabled
from .matmul import Matmul
from .movement import Index, reshape, transpose
from .reduce import sum as sum_
from .scatter import scatter_add


class Unfold(Function):
    """(N, C, H, W) -> its windows, compact, (N, C, kh, kw, OH, OW). Padding uses ``pad_value``
    (-inf for max pooling); the backward is :class:`Fold`."""

    def forward(self, a: NDArray, kernel: Pair, stride: Pair, padding: Pair, dilation: Pair,
                pad_value: Any = 0) -> NDArray:
        self.params = (a.shape[2:], kernel, stride, padding, dilation)
        return unfold(a, kernel, stride, padding, dilation, pad_value)

    def backward(self, g: Tensor) -> Tensor:
        hw, kernel, stride, padding, dilation = self.params
        return Fold.apply(g, out_hw=hw, kernel=kernel, stride=stride, padding=padding, dilation=dilation)


class Fold(Function):
    """Windows -> the (N, C, H, W) array they sum back into (the adjoint of :class:`Unfold`,
    its backward)."""

    def forward(self, cols: NDArray, out_hw: Pair, kernel: Pair, stride: Pair, padding: Pair,
                dilation: Pair) -> NDArray:
        self.params = (kernel, stride, padding, dilation)
        return fold(cols, out_hw, kernel, stride, padding, dilation)

    def backward(self, g: Tensor) -> Tensor:
        kernel, stride, padding, dilation = self.params
        return Unfold.apply(g, kernel=kernel, stride=stride, padding=padding, dilation=dilation)


class Unpool(Function):
    """Zeros of ``shape`` with ``values`` written at the integer-array ``key`` (max-unpooling: each
    pooled maximum put back where it was read). A write, not an add: two windows that chose the
    same element put its value there once, as PyTorch's ``max_unpool``. The backward reads each
    value's gradient back from its position (a gather), so both windows get it."""

    def forward(self, values: NDArray, key: Any, shape: tuple[int, ...]) -> NDArray:
        self.key = key
        out = zeros(shape, dtype=values.dtype, device=values.device)
        out[key] = values
        return out

    def backward(self, g: Tensor) -> Tensor:
        return Index.apply(g, key=self.key)


class Convolution(Function):
    """2-D cross-correlation of ``x`` (N, C, H, W) with ``w`` (O, C / groups, kh, kw), plus ``b``
    (O,) or None: (N, O, OH, OW), one node. Its forward and, when the backward pass is not
    recorded, its two gradient products are single calls of :mod:`tinytorch.ndarray.windows`
    (a backend's direct convolution kernels, or im2col and a matmul); a recorded backward
    (``create_graph=True``) is written with Unfold, Fold and Matmul, so it can be
    differentiated again.

    Gradients, per group, with ``cols`` the (C/G * kh * kw, OH * OW) windows of an image:
    ``dx = fold(w^T @ g)``, ``dw = sum over images of g @ cols^T``, ``db = sum of g over N, OH, OW``."""

    def forward(self, x: NDArray, w: NDArray, b: NDArray | None, stride: Pair, padding: Pair, dilation: Pair,
                groups: int) -> NDArray:
        self.geom = ConvGeometry.of(x.shape, w.shape, stride, padding, dilation, groups)
        return conv2d(x, w, b, self.geom)

    def backward(self, g: Tensor) -> tuple:
        x, w, _ = self.inputs
        need_x, need_w, need_b = self.needs_input_grad
        geom = self.geom
        if is_grad_enabled():
            return self._recorded_backward(g, x, w)
        ga = g._data
        return (Tensor._make(conv2d_backward_input(ga, w._data, geom), False, None) if need_x else None,
                Tensor._make(conv2d_backward_weight(ga, x._data, geom), False, None) if need_w else None,
                Tensor._make(ga.sum((0, 2, 3)), False, None) if need_b else None)

    def _recorded_backward(self, g: Tensor, x: Tensor, w: Tensor) -> tuple:
        need_x, need_w, need_b = self.needs_input_grad
        n, c, h, wd, o, kh, kw, oh, ow = self.geom[:9]
        groups = self.geom[15]
        kernel, stride, padding, dilation = self.geom.windows
        windows = dict(kernel=kernel, stride=stride, padding=padding, dilation=dilation)
        k = c // groups * kh * kw
        gg = reshape(g, (n, groups, o // groups, oh * ow))
        gx = gw = None
        if need_x:
            w_t = transpose(reshape(w, (groups, o // groups, k)), 1, 2)             # (G, K, O/G)
            gx = Fold.apply(reshape(Matmul.apply(w_t, gg), (n, c, kh, kw, oh, ow)), out_hw=(h, wd), **windows)
        if need_w:
            cols = reshape(Unfold.apply(x, **windows), (n, groups, k, oh * ow))
            gw = reshape(sum_(Matmul.apply(gg, transpose(cols, 2, 3)), 0), tuple(w.shape))
        return gx, gw, sum_(g, (0, 2, 3)) if need_b else None


class MaxPool(Function):
    """2-D max pooling of ``x`` (N, C, H, W): the maximum of each window (``kernel``, ``stride``,
    ``padding`` -- read as -inf --, ``dilation``; ``out_hw`` positions, so a ceil_mode window may
    reach past the padding), (N, C, OH, OW), as one node. The gradient goes to each window's
    first maximum (its first NaN if it holds one), as PyTorch's: the forward keeps those
    positions, and the backward adds each gradient there, in one pass
    (:func:`~tinytorch.ndarray.windows.max_pool2d_backward`) or, recorded, as a differentiable
    ``scatter_add``."""

    def forward(self, x: NDArray, kernel: Pair, stride: Pair, padding: Pair, dilation: Pair,
                out_hw: Pair) -> NDArray:
        values, self.positions = max_pool2d(x, kernel, stride, padding, dilation, out_hw)
        self.hw: Pair = (x.shape[2], x.shape[3])
        return values

    def backward(self, g: Tensor) -> Tensor:
        (h, w), (n, c) = self.hw, self.positions.shape[:2]
        if is_grad_enabled():  # recorded: a scatter_add, differentiable in g
            base = Tensor._make(zeros((n, c, h * w), dtype=g.dtype, device=g.device), False, None)
            where_to = Tensor._make(self.positions.reshape((n, c, -1)), False, None)
            return reshape(scatter_add(base, 2, where_to, reshape(g, (n, c, -1))), (n, c, h, w))
        return Tensor._make(max_pool2d_backward(g._data, self.positions, self.hw), False, None)


class MaxPoolIndices(Function):
    """The flat position ``row * W + column`` of each window's first maximum that
    :class:`MaxPool` (same parameters) takes, int64 (``return_indices``); no gradient."""

    def forward(self, x: NDArray, kernel: Pair, stride: Pair, padding: Pair, dilation: Pair,
                out_hw: Pair) -> NDArray:
        return max_pool2d(x, kernel, stride, padding, dilation, out_hw)[1]

    def backward(self, g: Tensor) -> None: return None
