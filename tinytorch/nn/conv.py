"""Convolutions: ``Conv1d``, ``Conv2d`` (cross-correlation, computed as im2col + one matmul) and
their adjoints ``ConvTranspose1d``, ``ConvTranspose2d``. The computation lives in
``nn.functional``; the modules hold the weights and PyTorch's argument handling."""

from __future__ import annotations

import math
from typing import Any

from ..ops import empty
from . import functional as F
from . import init
from .module import Module
from .parameter import Parameter

_PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


class _ConvNd(Module):
    """What every convolution shares: argument checks, the weight of shape
    (out, in / groups, *kernel) -- (in, out / groups, *kernel) when ``transposed`` -- and
    PyTorch's initialisation (kaiming_uniform_ with a = sqrt(5): U(-k, k), k = 1 / sqrt(fan_in))."""

    _nd = 2
    _transposed = False

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Any, stride: Any, padding: Any,
                 dilation: Any, groups: int, bias: bool, padding_mode: str, output_padding: Any = 0,
                 device: Any = None, dtype: Any = None):
        super().__init__()
        nd, name = self._nd, type(self).__name__
        if groups <= 0:
            raise ValueError("groups must be a positive integer")
        if in_channels % groups:
            raise ValueError("in_channels must be divisible by groups")
        if out_channels % groups:
            raise ValueError("out_channels must be divisible by groups")
        if padding_mode not in _PADDING_MODES:
            raise ValueError(f"padding_mode must be one of {list(_PADDING_MODES)}, "
                             f"but got padding_mode='{padding_mode}'")
        if self._transposed and padding_mode != "zeros":
            raise ValueError(f'Only "zeros" padding mode is supported for {name}')
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size = F._ntuple(kernel_size, nd, "kernel_size")
        self.stride = F._ntuple(stride, nd, "stride")
        self.dilation = F._ntuple(dilation, nd, "dilation")
        if isinstance(padding, str):
            if padding not in ("valid", "same"):
                raise ValueError(f"Invalid padding string {padding!r}, should be one of {{'valid', 'same'}}")
            if padding == "same" and any(s != 1 for s in self.stride):
                raise ValueError("padding='same' is not supported for strided convolutions")
            self.padding: Any = padding
            amounts = F._same_padding(self.kernel_size, self.dilation) if padding == "same" else [(0, 0)] * nd
        else:
            self.padding = F._ntuple(padding, nd, "padding")
            amounts = [(p, p) for p in self.padding]
        # F.pad's order (last dim first) for the non-zeros padding modes, as PyTorch names it
        self._reversed_padding_repeated_twice = [v for pair in reversed(amounts) for v in pair]
        self.output_padding = F._ntuple(output_padding, nd, "output_padding")
        self.transposed = self._transposed
        self.groups = groups
        self.padding_mode = padding_mode
        shape = (in_channels, out_channels // groups) if self._transposed else (out_channels, in_channels // groups)
        self.weight = Parameter(empty(*shape, *self.kernel_size, device=device, dtype=dtype))
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

    def extra_repr(self) -> str:
        nd = self._nd
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0,) * nd:
            s += f", padding={self.padding}"
        if self.dilation != (1,) * nd:
            s += f", dilation={self.dilation}"
        if self.output_padding != (0,) * nd:
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s


class _Conv(_ConvNd):
    def __init__(self, in_channels: int, out_channels: int, kernel_size: Any, stride: Any = 1, padding: Any = 0,
                 dilation: Any = 1, groups: int = 1, bias: bool = True, padding_mode: str = "zeros",
                 device: Any = None, dtype: Any = None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                         padding_mode, 0, device, dtype)

    def _conv_forward(self, input: Any, weight: Any, bias: Any) -> Any:
        conv = (F.conv1d, F.conv2d, F.conv3d)[self._nd - 1]
        if self.padding_mode != "zeros":
            padded = F.pad(input, self._reversed_padding_repeated_twice, mode=self.padding_mode)
            return conv(padded, weight, bias, self.stride, 0, self.dilation, self.groups)
        return conv(input, weight, bias, self.stride, self.padding, self.dilation, self.groups)

    def forward(self, input: Any) -> Any:
        return self._conv_forward(input, self.weight, self.bias)


class Conv1d(_Conv):
    r"""1-D convolution (cross-correlation) over an input of ``in_channels`` signals.

    Args:
        in_channels, out_channels: channels in and out.
        kernel_size: the kernel length (int or 1-tuple).
        stride: step of the kernel. Default: 1.
        padding: an int, ``'valid'`` (none) or ``'same'`` (output as long as the input; stride 1).
            Default: 0.
        dilation: spacing between kernel elements. Default: 1.
        groups: split the channels into this many independent convolutions. Default: 1.
        bias: learn an additive bias. Default: True.
        padding_mode: ``'zeros'``, ``'reflect'``, ``'replicate'`` or ``'circular'``. Default: ``'zeros'``.

    Shape:
        - Input: :math:`(N, C_{in}, L_{in})` or :math:`(C_{in}, L_{in})`.
        - Output: :math:`(N, C_{out}, L_{out})`,
          :math:`L_{out} = \lfloor (L_{in} + 2 p - d (k - 1) - 1) / s + 1 \rfloor`.

    Attributes:
        weight: (out_channels, in_channels / groups, k), from U(-b, b), b = 1 / sqrt(in_channels / groups * k).
        bias: (out_channels), from the same U(-b, b).

    Examples::

        >>> m = Conv1d(16, 33, 3, stride=2)
        >>> m(tt.randn(20, 16, 50)).shape
        (20, 33, 24)
    """

    _nd = 1


class Conv2d(_Conv):
    r"""2-D convolution over an input of ``in_channels`` planes.

    :math:`out(n, o) = bias(o) + \sum_c weight(o, c) \star input(n, c)`, with :math:`\star` the
    2-D cross-correlation. ``nn.functional.conv2d`` explains the im2col computation.

    Args:
        in_channels: channels of the input image.
        out_channels: channels produced.
        kernel_size: size of the kernel (int or pair).
        stride: step of the kernel (int or pair). Default: 1.
        padding: int or pair, ``'valid'`` or ``'same'`` (an even extent pads one more on the
            bottom/right, as PyTorch). Default: 0.
        dilation: spacing between kernel elements (int or pair). Default: 1.
        groups: split the channels into this many independent convolutions. Default: 1.
        bias: if True, adds a learnable bias. Default: True.
        padding_mode: ``'zeros'``, ``'reflect'``, ``'replicate'`` or ``'circular'``. Default: ``'zeros'``.

    Shape:
        - Input: :math:`(N, C_{in}, H_{in}, W_{in})` or :math:`(C_{in}, H_{in}, W_{in})`.
        - Output: :math:`(N, C_{out}, H_{out}, W_{out})` with
          :math:`H_{out} = \lfloor (H_{in} + 2 \cdot padding - dilation \cdot (k - 1) - 1) / stride + 1 \rfloor`.

    Attributes:
        weight: shape (out_channels, in_channels / groups, kH, kW), from U(-k, k),
            k = 1 / sqrt(in_channels / groups * kH * kW).
        bias: shape (out_channels), from the same U(-k, k).

    Examples::

        >>> m = Conv2d(16, 33, 3, stride=2, padding=1)
        >>> m(tt.randn(2, 16, 10, 10)).shape
        (2, 33, 5, 5)
    """

    _nd = 2


class Conv3d(_Conv):
    r"""3-D convolution over an input of ``in_channels`` volumes, (N, C, D, H, W) or (C, D, H, W);
    the arguments are :class:`Conv2d`'s, with triples (see :func:`F.conv3d` for how it is computed).

    Examples::

        >>> import tinytorch as tt
        >>> Conv3d(2, 4, 3, padding=1)(tt.randn(1, 2, 5, 6, 7)).shape
        (1, 4, 5, 6, 7)
    """

    _nd = 3


class _ConvTranspose(_ConvNd):
    _transposed = True

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Any, stride: Any = 1, padding: Any = 0,
                 output_padding: Any = 0, groups: int = 1, bias: bool = True, dilation: Any = 1,
                 padding_mode: str = "zeros", device: Any = None, dtype: Any = None):
        if isinstance(padding, str):
            raise ValueError(f"padding={padding!r} is not supported for {type(self).__name__}")
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                         padding_mode, output_padding, device, dtype)

    def _output_padding(self, input: Any, output_size: Any) -> tuple[int, ...]:
        """The output_padding that makes the output ``output_size`` (its last ``nd`` entries count),
        checked against the sizes this layer can produce, as PyTorch."""
        if output_size is None:
            return self.output_padding
        nd = self._nd
        sizes = tuple(output_size)[-nd:]
        extra = []
        for a in range(nd):
            n = input.shape[input.ndim - nd + a]
            smallest = ((n - 1) * self.stride[a] - 2 * self.padding[a]
                        + self.dilation[a] * (self.kernel_size[a] - 1) + 1)
            if not smallest <= sizes[a] < smallest + self.stride[a]:
                raise ValueError(f"requested an output size of {list(sizes)}, but valid sizes range from "
                                 f"{smallest} to {smallest + self.stride[a] - 1} (for an input of "
                                 f"{list(input.shape[input.ndim - nd:])})")
            extra.append(sizes[a] - smallest)
        return tuple(extra)

    def forward(self, input: Any, output_size: Any = None) -> Any:
        conv = (F.conv_transpose1d, F.conv_transpose2d, F.conv_transpose3d)[self._nd - 1]
        return conv(input, self.weight, self.bias, self.stride, self.padding,
                    self._output_padding(input, output_size), self.groups, self.dilation)


class ConvTranspose1d(_ConvTranspose):
    r"""Transposed 1-D convolution: the gradient of :class:`Conv1d` with respect to its input,
    used to upsample. :math:`L_{out} = (L_{in} - 1) s - 2 p + d (k - 1) + output\_padding + 1`.

    Args: as :class:`Conv1d` (``padding`` an int, ``padding_mode`` only ``'zeros'``), plus
        ``output_padding``: extra length on one side (smaller than stride or dilation). Default: 0.

    Attributes:
        weight: (in_channels, out_channels / groups, k), from U(-b, b), b = 1 / sqrt(out_channels / groups * k).
        bias: (out_channels), from the same U(-b, b).

    Examples::

        >>> m = ConvTranspose1d(16, 8, 3, stride=2)
        >>> m(tt.randn(2, 16, 10)).shape
        (2, 8, 21)
    """

    _nd = 1


class ConvTranspose2d(_ConvTranspose):
    r"""Transposed 2-D convolution ("deconvolution"), the gradient of :class:`Conv2d` with respect
    to its input: :math:`H_{out} = (H_{in} - 1) s - 2 p + d (k_H - 1) + output\_padding + 1`.
    ``forward(input, output_size=None)`` may ask for a size in that range instead.

    Args: as :class:`Conv2d` (int/pair ``padding``, ``padding_mode`` only ``'zeros'``), plus
        ``output_padding``: extra rows/columns on the bottom/right (smaller than stride or dilation).

    Attributes:
        weight: (in_channels, out_channels / groups, kH, kW), from U(-b, b),
            b = 1 / sqrt(out_channels / groups * kH * kW).
        bias: (out_channels), from the same U(-b, b).

    Examples::

        >>> m = ConvTranspose2d(16, 33, 3, stride=2)
        >>> m(tt.randn(2, 16, 12, 12)).shape
        (2, 33, 25, 25)
    """

    _nd = 2


class ConvTranspose3d(_ConvTranspose):
    r"""Transposed 3-D convolution over (N, C, D, H, W) or (C, D, H, W) volumes; the arguments are
    :class:`ConvTranspose2d`'s, with triples (see :func:`F.conv_transpose3d`)."""

    _nd = 3

