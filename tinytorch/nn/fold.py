"""``Unfold`` (im2col) and ``Fold`` (col2im) as modules: the sliding windows of a batch of
images as columns, and the columns summed back into images (``F.unfold`` / ``F.fold``)."""

from __future__ import annotations

from typing import Any

from . import functional as F
from .module import Module


class Unfold(Module):
    """(N, C, H, W) -> (N, C * kh * kw, L): every ``kernel_size`` window, a column.

    Examples::

        >>> import tinytorch as tt
        >>> Unfold(kernel_size=(2, 3))(tt.randn(2, 5, 3, 4)).shape
        (2, 30, 4)
    """

    def __init__(self, kernel_size: Any, dilation: Any = 1, padding: Any = 0, stride: Any = 1):
        super().__init__()
        self.kernel_size = kernel_size
        self.dilation = dilation
        self.padding = padding
        self.stride = stride

    def forward(self, input: Any) -> Any:
        return F.unfold(input, self.kernel_size, self.dilation, self.padding, self.stride)

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, dilation={self.dilation}, padding={self.padding}, "
                f"stride={self.stride}")


class Fold(Module):
    """(N, C * kh * kw, L) -> (N, C, *output_size): the columns added back where their windows
    were (overlaps sum), the adjoint of :class:`Unfold`.

    Examples::

        >>> import tinytorch as tt
        >>> Fold(output_size=(4, 5), kernel_size=(2, 2))(tt.randn(1, 12, 12)).shape
        (1, 3, 4, 5)
    """

    def __init__(self, output_size: Any, kernel_size: Any, dilation: Any = 1, padding: Any = 0, stride: Any = 1):
        super().__init__()
        self.output_size = output_size
        self.kernel_size = kernel_size
        self.dilation = dilation
        self.padding = padding
        self.stride = stride

    def forward(self, input: Any) -> Any:
        return F.fold(input, self.output_size, self.kernel_size, self.dilation, self.padding, self.stride)

    def extra_repr(self) -> str:
        return (f"output_size={self.output_size}, kernel_size={self.kernel_size}, dilation={self.dilation}, "
                f"padding={self.padding}, stride={self.stride}")
