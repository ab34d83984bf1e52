"""Sliding windows: ``Unfold`` (im2col) and ``Fold`` (col2im), the primitives behind convolution
and pooling. The array work -- the windows as a strided view, made compact, and its adjoint --
is :mod:`tinytorch.ndarray.windows`; here each becomes a graph node, and each is the other's
backward, so gradients of every order come for free.
"""

from __future__ import annotations

from typing import Any

from ..ndarray import NDArray
from ..ndarray.windows import Pair, fold, unfold
from ..tensor import Function, Tensor


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
