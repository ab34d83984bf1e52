"""Pooling layers: summarise each window of a feature map by its maximum or its mean."""

from __future__ import annotations

from typing import Any

from . import functional as F
from .module import Module


class _Pool2d(Module):
    def __init__(self, kernel_size: F._size_2, stride: F._size_2 | None = None, padding: F._size_2 = 0):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class MaxPool2d(_Pool2d):
    r"""2-D max pooling: each output is the maximum of a ``kernel_size`` window.

    Args:
        kernel_size: the window size (int or pair).
        stride: the window step. Default: ``kernel_size``.
        padding: implicit -inf padding on both sides (at most half the kernel). Default: 0.

    Shape:
        - Input: :math:`(N, C, H_{in}, W_{in})` or :math:`(C, H_{in}, W_{in})`.
        - Output: :math:`(N, C, H_{out}, W_{out})` with
          :math:`H_{out} = \lfloor (H_{in} + 2 \cdot padding - kernel\_size) / stride + 1 \rfloor`.

    Examples::

        >>> import tinytorch as tt
        >>> MaxPool2d(2)(tt.randn(1, 3, 28, 28)).shape
        (1, 3, 14, 14)
    """

    def forward(self, input: Any) -> Any:
        return F.max_pool2d(input, self.kernel_size, self.stride, self.padding)

    def extra_repr(self) -> str:
        return super().extra_repr() + ", dilation=1, ceil_mode=False"


class AvgPool2d(_Pool2d):
    r"""2-D average pooling: each output is the mean of a ``kernel_size`` window (zero padding
    counted in the mean).

    Args:
        kernel_size: the window size (int or pair).
        stride: the window step. Default: ``kernel_size``.
        padding: implicit zero padding on both sides (at most half the kernel). Default: 0.

    Shape: as :class:`MaxPool2d`.

    Examples::

        >>> import tinytorch as tt
        >>> AvgPool2d(2)(tt.ones(1, 1, 4, 4)).tolist()
        [[[[1.0, 1.0], [1.0, 1.0]]]]
    """

    def forward(self, input: Any) -> Any:
        return F.avg_pool2d(input, self.kernel_size, self.stride, self.padding)
