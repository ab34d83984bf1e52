"""Pooling layers: summarise each window of a feature map by its maximum or its mean (fixed
windows, or ``Adaptive`` ones that tile the input into a given output size), and
``MaxUnpool``, which puts pooled maxima back where they came from. The arithmetic is in
``nn.functional``; the modules keep PyTorch's arguments (and its way of printing them)."""

from __future__ import annotations

from typing import Any

from . import functional as F
from .module import Module


class _MaxPoolNd(Module):
    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0, dilation: Any = 1,
                 return_indices: bool = False, ceil_mode: bool = False):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding
        self.dilation = dilation
        self.return_indices = return_indices
        self.ceil_mode = ceil_mode

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")


class MaxPool1d(_MaxPoolNd):
    r"""1-D max pooling over an (N, C, L) or (C, L) input; the arguments are :class:`MaxPool2d`'s.

    Examples::

        >>> import tinytorch as tt
        >>> MaxPool1d(3, stride=2)(tt.randn(20, 16, 50)).shape
        (20, 16, 24)
    """

    def forward(self, input: Any) -> Any:
        return F.max_pool1d(input, self.kernel_size, self.stride, self.padding, self.dilation,
                            self.ceil_mode, self.return_indices)


class MaxPool2d(_MaxPoolNd):
    r"""2-D max pooling: each output is the maximum of a ``kernel_size`` window.

    Args:
        kernel_size: the window size (int or pair).
        stride: the window step. Default: ``kernel_size``.
        padding: implicit -inf padding on both sides (at most half the effective kernel). Default: 0.
        dilation: spacing between the window's elements. Default: 1.
        return_indices: also return each maximum's flat index in its plane (for :class:`MaxUnpool2d`).
        ceil_mode: round the output size up (a last partial window). Default: False.

    Shape:
        - Input: :math:`(N, C, H_{in}, W_{in})` or :math:`(C, H_{in}, W_{in})`.
        - Output: :math:`(N, C, H_{out}, W_{out})` with
          :math:`H_{out} = \lfloor (H_{in} + 2 p - d (k - 1) - 1) / s + 1 \rfloor` (ceil with ``ceil_mode``).

    Examples::

        >>> import tinytorch as tt
        >>> MaxPool2d(2)(tt.randn(1, 3, 28, 28)).shape
        (1, 3, 14, 14)
    """

    def forward(self, input: Any) -> Any:
        return F.max_pool2d(input, self.kernel_size, self.stride, self.padding, self.dilation,
                            self.ceil_mode, self.return_indices)


class MaxPool3d(_MaxPoolNd):
    r"""3-D max pooling over an (N, C, D, H, W) or (C, D, H, W) input; the arguments are
    :class:`MaxPool2d`'s, with triples (no ``return_indices``)."""

    def forward(self, input: Any) -> Any:
        return F.max_pool3d(input, self.kernel_size, self.stride, self.padding, self.dilation,
                            self.ceil_mode, self.return_indices)


class AvgPool1d(Module):
    r"""1-D average pooling over an (N, C, L) or (C, L) input; the arguments are :class:`AvgPool2d`'s
    (without ``divisor_override``).

    Examples::

        >>> import tinytorch as tt
        >>> AvgPool1d(3, stride=2)(tt.randn(20, 16, 50)).shape
        (20, 16, 24)
    """

    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0, ceil_mode: bool = False,
                 count_include_pad: bool = True):
        super().__init__()
        self.kernel_size = F._ntuple(kernel_size, 1, "kernel_size")
        self.stride = F._ntuple(stride if stride is not None else kernel_size, 1, "stride")
        self.padding = F._ntuple(padding, 1, "padding")
        self.ceil_mode = ceil_mode
        self.count_include_pad = count_include_pad

    def forward(self, input: Any) -> Any:
        return F.avg_pool1d(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                            self.count_include_pad)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AvgPool2d(Module):
    r"""2-D average pooling: each output is the mean of a ``kernel_size`` window.

    Args:
        kernel_size: the window size (int or pair).
        stride: the window step. Default: ``kernel_size``.
        padding: implicit zero padding on both sides (at most half the kernel). Default: 0.
        ceil_mode: round the output size up (a last partial window). Default: False.
        count_include_pad: count the zero padding in the divisor. Default: True.
        divisor_override: divide every window's sum by this instead. Default: None.

    Shape: as :class:`MaxPool2d`.

    Examples::

        >>> import tinytorch as tt
        >>> AvgPool2d(2)(tt.ones(1, 1, 4, 4)).tolist()
        [[[[1.0, 1.0], [1.0, 1.0]]]]
    """

    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0, ceil_mode: bool = False,
                 count_include_pad: bool = True, divisor_override: int | None = None):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding
        self.ceil_mode = ceil_mode
        self.count_include_pad = count_include_pad
        self.divisor_override = divisor_override

    def forward(self, input: Any) -> Any:
        return F.avg_pool2d(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                            self.count_include_pad, self.divisor_override)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AvgPool3d(AvgPool2d):
    r"""3-D average pooling over an (N, C, D, H, W) or (C, D, H, W) input; the arguments are
    :class:`AvgPool2d`'s, with triples."""

    def forward(self, input: Any) -> Any:
        return F.avg_pool3d(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                            self.count_include_pad, self.divisor_override)


class _LPPool(Module):
    def __init__(self, norm_type: float, kernel_size: Any, stride: Any = None, ceil_mode: bool = False):
        super().__init__()
        self.norm_type = norm_type
        self.kernel_size = kernel_size
        self.stride = stride
        self.ceil_mode = ceil_mode

    def extra_repr(self) -> str:
        return (f"norm_type={self.norm_type}, kernel_size={self.kernel_size}, stride={self.stride}, "
                f"ceil_mode={self.ceil_mode}")


class LPPool1d(_LPPool):
    """Power-average pooling over an (N, C, L) input: each window's ``(sum x^p)^(1/p)``
    (p = ``norm_type``; 1 is sum pooling, large p approaches max pooling).

    Examples::

        >>> import tinytorch as tt
        >>> LPPool1d(2, 3, stride=2)(tt.randn(20, 16, 50)).shape
        (20, 16, 24)
    """

    def forward(self, input: Any) -> Any:
        return F.lp_pool1d(input, self.norm_type, self.kernel_size, self.stride, self.ceil_mode)


class LPPool2d(_LPPool):
    """Power-average pooling over an (N, C, H, W) input (see :class:`LPPool1d`).

    Examples::

        >>> import tinytorch as tt
        >>> LPPool2d(1.5, (3, 2), stride=(2, 1))(tt.rand(2, 3, 9, 8)).shape
        (2, 3, 4, 7)
    """

    def forward(self, input: Any) -> Any:
        return F.lp_pool2d(input, self.norm_type, self.kernel_size, self.stride, self.ceil_mode)


class _AdaptivePool(Module):
    def __init__(self, output_size: Any):
        super().__init__()
        self.output_size = output_size

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class AdaptiveAvgPool1d(_AdaptivePool):
    """Mean over ``output_size`` adaptive windows of an (N, C, L) or (C, L) input.

    Examples::

        >>> import tinytorch as tt
        >>> AdaptiveAvgPool1d(5)(tt.randn(1, 64, 8)).shape
        (1, 64, 5)
    """

    def forward(self, input: Any) -> Any:
        return F.adaptive_avg_pool1d(input, self.output_size)


class AdaptiveAvgPool2d(_AdaptivePool):
    """Mean over an ``output_size`` grid (int, pair, ``None`` keeps that size) of adaptive windows:
    output i along an axis of length n covers [floor(i n / out), ceil((i + 1) n / out)).

    Examples::

        >>> import tinytorch as tt
        >>> AdaptiveAvgPool2d((5, 7))(tt.randn(1, 64, 8, 9)).shape
        (1, 64, 5, 7)
    """

    def forward(self, input: Any) -> Any:
        return F.adaptive_avg_pool2d(input, self.output_size)


class AdaptiveAvgPool3d(_AdaptivePool):
    """Mean over an ``output_size`` grid of adaptive windows of an (N, C, D, H, W) or
    (C, D, H, W) input."""

    def forward(self, input: Any) -> Any:
        return F.adaptive_avg_pool3d(input, self.output_size)


class _AdaptiveMaxPool(_AdaptivePool):
    def __init__(self, output_size: Any, return_indices: bool = False):
        super().__init__(output_size)
        self.return_indices = return_indices


class AdaptiveMaxPool1d(_AdaptiveMaxPool):
    """Maximum over ``output_size`` adaptive windows of an (N, C, L) or (C, L) input (with
    ``return_indices``, also where each maximum was).

    Examples::

        >>> import tinytorch as tt
        >>> AdaptiveMaxPool1d(5)(tt.randn(1, 64, 8)).shape
        (1, 64, 5)
    """

    def forward(self, input: Any) -> Any:
        return F.adaptive_max_pool1d(input, self.output_size, self.return_indices)


class AdaptiveMaxPool2d(_AdaptiveMaxPool):
    """Maximum over an ``output_size`` grid of adaptive windows (see :class:`AdaptiveAvgPool2d`).

    Examples::

        >>> import tinytorch as tt
        >>> AdaptiveMaxPool2d(3)(tt.randn(1, 64, 8, 9)).shape
        (1, 64, 3, 3)
    """

    def forward(self, input: Any) -> Any:
        return F.adaptive_max_pool2d(input, self.output_size, self.return_indices)


class _MaxUnpool(Module):
    _nd = 2

    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0):
        super().__init__()
        self.kernel_size = F._ntuple(kernel_size, self._nd, "kernel_size")
        self.stride = F._ntuple(stride if stride is not None else kernel_size, self._nd, "stride")
        self.padding = F._ntuple(padding, self._nd, "padding")

    def forward(self, input: Any, indices: Any, output_size: Any = None) -> Any:
        unpool = F.max_unpool1d if self._nd == 1 else F.max_unpool2d
        return unpool(input, indices, self.kernel_size, self.stride, self.padding, output_size)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class MaxUnpool1d(_MaxUnpool):
    """The partial inverse of :class:`MaxPool1d`: ``forward(input, indices, output_size=None)``
    writes each value at its index in zeros of length (L - 1) * stride - 2 * padding + kernel_size.

    Examples::

        >>> import tinytorch as tt
        >>> out, idx = MaxPool1d(2, return_indices=True)(tt.tensor([[[1., 2, 3, 4]]]))
        >>> MaxUnpool1d(2)(out, idx).tolist()
        [[[0.0, 2.0, 0.0, 4.0]]]
    """

    _nd = 1


class MaxUnpool2d(_MaxUnpool):
    """The partial inverse of :class:`MaxPool2d`: ``forward(input, indices, output_size=None)``
    writes each value at its flat index in an (N, C, H_out, W_out) map of zeros.

    Examples::

        >>> import tinytorch as tt
        >>> out, idx = MaxPool2d(2, return_indices=True)(tt.arange(16.).reshape(1, 1, 4, 4))
        >>> MaxUnpool2d(2)(out, idx).shape
        (1, 1, 4, 4)
    """

    _nd = 2
