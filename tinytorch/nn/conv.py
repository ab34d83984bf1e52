"""``Conv2d``: 2-D convolution (cross-correlation), computed as im2col + one matmul."""

from __future__ import annotations

import math
from typing import Any

from ..ops import empty
from . import functional as F
from . import init
from .module import Module
from .parameter import Parameter


class Conv2d(Module):
    r"""2-D convolution over an input of ``in_channels`` planes.

    :math:`out(n, o) = bias(o) + \sum_c weight(o, c) \star input(n, c)`, with :math:`\star` the
    2-D cross-correlation. ``nn.functional.conv2d`` explains the im2col computation.

    Args:
        in_channels: channels of the input image.
        out_channels: channels produced.
        kernel_size: size of the kernel (int or pair).
        stride: step of the kernel (int or pair). Default: 1.
        padding: zeros added on both sides of each spatial dim (int or pair). Default: 0.
        dilation: spacing between kernel elements (int or pair). Default: 1.
        bias: if True, adds a learnable bias. Default: True.

    Shape:
        - Input: :math:`(N, C_{in}, H_{in}, W_{in})`.
        - Output: :math:`(N, C_{out}, H_{out}, W_{out})` with
          :math:`H_{out} = \lfloor (H_{in} + 2 \cdot padding - dilation \cdot (k - 1) - 1) / stride + 1 \rfloor`.

    Attributes:
        weight: shape (out_channels, in_channels, kH, kW), from U(-k, k), k = 1 / sqrt(in_channels * kH * kW).
        bias: shape (out_channels), from the same U(-k, k).

    Examples::

        >>> m = Conv2d(16, 33, 3, stride=2, padding=1)
        >>> m(tt.randn(2, 16, 10, 10)).shape
        (2, 33, 5, 5)
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: F._size_2, stride: F._size_2 = 1,
                 padding: F._size_2 = 0, dilation: F._size_2 = 1, bias: bool = True,
                 device: Any = None, dtype: Any = None):
        super().__init__()
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = F._pair(kernel_size, "kernel_size")
        self.stride = F._pair(stride, "stride")
        self.padding = F._pair(padding, "padding")
        self.dilation = F._pair(dilation, "dilation")
        self.weight = Parameter(empty(out_channels, in_channels, *self.kernel_size, device=device, dtype=dtype))
        if bias:
            self.bias = Parameter(empty(out_channels, device=device, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in, _ = init._calculate_fan_in_and_fan_out(self.weight)
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input: Any) -> Any:
        return F.conv2d(input, self.weight, self.bias, self.stride, self.padding, self.dilation)

    def extra_repr(self) -> str:
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0, 0):
            s += f", padding={self.padding}"
        if self.dilation != (1, 1):
            s += f", dilation={self.dilation}"
        if self.bias is None:
            s += ", bias=False"
        return s
