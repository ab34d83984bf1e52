"""Sliding windows: ``Unfold`` (im2col) and ``Fold`` (col2im), the primitives behind pooling, and
``Convolution``, a 2-D convolution as one node, with its two gradients, and ``MaxPool``. The
array work -- the windows as a strided view, made compact, and its adjoint; the convolution's
three products; the pooling -- is :mod:`tinytorch.ndarray.windows`; here each becomes a graph
node. Unfold and Fold are each other's backward, and so are the three convolution nodes, so
gradients of every order come for free.
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
from .movement import Index, reshape
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
    (O,) or None: (N, O, OH, OW), one node whose forward is one call of
    :func:`~tinytorch.ndarray.windows.conv2d` (a backend's direct convolution kernel, or im2col
    and a matmul). Its backward is two nodes of the same kind, :class:`ConvolutionGradInput`
    and :class:`ConvolutionGradWeight`, and the bias's sum of ``g`` over N, OH, OW; the three
    are each other's gradients, so gradients of every order stay single kernel calls."""

    def forward(self, x: NDArray, w: NDArray, b: NDArray | None, stride: Pair, padding: Pair, dilation: Pair,
                groups: int) -> NDArray:
        self.conv = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
        return conv2d(x, w, b, ConvGeometry.of(x.shape, w.shape, stride, padding, dilation, groups))

    def backward(self, g: Tensor) -> tuple:
        x, w, _ = self.inputs
        need_x, need_w, need_b = self.needs_input_grad
        common = self.conv
        return (ConvolutionGradInput.apply(g, w, input_hw=tuple(x.shape[2:]), **common) if need_x else None,
                ConvolutionGradWeight.apply(g, x, kernel=tuple(w.shape[2:]), **common) if need_w else None,
                sum_(sum_(g, 0), (1, 2)) if need_b else None)  # two contiguous passes: ~2x one over (0, 2, 3)


def _checked(geom: ConvGeometry, g_shape: tuple[int, ...]) -> ConvGeometry:
    """``geom``, after checking that the output gradient ``g`` has its output's shape."""
    if tuple(g_shape) != (geom[0], geom[4], geom[7], geom[8]):
        raise RuntimeError(f"convolution gradient: the output gradient has shape {tuple(g_shape)}, the "
                           f"convolution's output is {(geom[0], geom[4], geom[7], geom[8])}")
    return geom


class ConvolutionGradInput(Function):
    """The gradient of :class:`Convolution`'s input for the output gradient ``g`` (N, O, OH, OW)
    and the weight ``w``: (N, C, H, W), ``(H, W) = input_hw`` (a strided convolution's output
    size does not tell it). Linear in ``g`` and in ``w``; its gradients are a convolution of the
    incoming gradient with ``w`` (for ``g``) and a weight gradient (for ``w``)."""

    def forward(self, g: NDArray, w: NDArray, input_hw: Pair, stride: Pair, padding: Pair, dilation: Pair,
                groups: int) -> NDArray:
        self.conv = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
        x_shape = (g.shape[0], w.shape[1] * groups, *input_hw)
        return conv2d_backward_input(g, w, _checked(ConvGeometry.of(x_shape, w.shape, stride, padding, dilation,
                                                                    groups), g.shape))

    def backward(self, u: Tensor) -> tuple:
        g, w = self.inputs
        common = self.conv
        need_g, need_w = self.needs_input_grad
        return (Convolution.apply(u, w, None, **common) if need_g else None,
                ConvolutionGradWeight.apply(g, u, kernel=tuple(w.shape[2:]), **common) if need_w else None)


class ConvolutionGradWeight(Function):
    """The gradient of :class:`Convolution`'s weight for the output gradient ``g`` (N, O, OH, OW)
    and the input ``x``: (O, C / groups, kh, kw), ``(kh, kw) = kernel``. Linear in ``g`` and in
    ``x``; its gradients are a convolution of ``x`` with the incoming gradient (for ``g``) and
    an input gradient (for ``x``)."""

    def forward(self, g: NDArray, x: NDArray, kernel: Pair, stride: Pair, padding: Pair, dilation: Pair,
                groups: int) -> NDArray:
        self.conv = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
        w_shape = (g.shape[1], x.shape[1] // groups, *kernel)
        return conv2d_backward_weight(g, x, _checked(ConvGeometry.of(x.shape, w_shape, stride, padding, dilation,
                                                                     groups), g.shape))

    def backward(self, v: Tensor) -> tuple:
        g, x = self.inputs
        common = self.conv
        need_g, need_x = self.needs_input_grad
        return (Convolution.apply(x, v, None, **common) if need_g else None,
                ConvolutionGradInput.apply(g, v, input_hw=tuple(x.shape[2:]), **common) if need_x else None)


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
