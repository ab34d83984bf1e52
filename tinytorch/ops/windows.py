"""Sliding windows: ``Unfold`` (im2col) and ``Fold`` (col2im), the primitives behind convolution
and pooling. The array work -- the windows as a strided view, made compact, and its adjoint --
is :mod:`tinytorch.ndarray.windows`; here each becomes a graph node, and each is the other's
backward, so gradients of every order come for free.
"""

from __future__ import annotations

from typing import Any

from ..ndarray import NDArray, zeros
from ..ndarray.windows import Pair, fold, unfold
from ..tensor import Function, Tensor
from .movement import Index


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
