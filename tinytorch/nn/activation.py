"""Activation layers: thin modules around the elementwise functions of ``nn.functional``."""

from __future__ import annotations

from typing import Any

from . import functional as F
from .module import Module


class ReLU(Module):
    """:math:`\\max(0, x)` elementwise.

    Shape: input and output have the same (any) shape.

    Examples::

        >>> import tinytorch as tt
        >>> ReLU()(tt.tensor([-1.0, 2.0])).tolist()
        [0.0, 2.0]
    """

    def __init__(self, inplace: bool = False):
        super().__init__()
        self.inplace = inplace  # accepted for compatibility; tinytorch always returns a new tensor

    def forward(self, input: Any) -> Any:
        return F.relu(input)

    def extra_repr(self) -> str:
        return "inplace=True" if self.inplace else ""


class Sigmoid(Module):
    """:math:`1 / (1 + e^{-x})` elementwise. Shape: any, unchanged."""

    def forward(self, input: Any) -> Any:
        return F.sigmoid(input)


class Tanh(Module):
    """:math:`\\tanh(x)` elementwise. Shape: any, unchanged."""

    def forward(self, input: Any) -> Any:
        return F.tanh(input)


class GELU(Module):
    """Gaussian Error Linear Unit, :math:`x \\Phi(x)`; ``approximate="tanh"`` uses the tanh formula.

    Args:
        approximate: ``"none"`` (exact, with erf) or ``"tanh"``. Default: ``"none"``.

    Shape: any, unchanged.
    """

    def __init__(self, approximate: str = "none"):
        super().__init__()
        self.approximate = approximate

    def forward(self, input: Any) -> Any:
        return F.gelu(input, approximate=self.approximate)

    def extra_repr(self) -> str:
        return f"approximate='{self.approximate}'"


class Softmax(Module):
    """:math:`e^{x_i} / \\sum_j e^{x_j}` along ``dim``, so each slice sums to 1.

    Args:
        dim: the dim to normalise over.

    Shape: any, unchanged.

    Examples::

        >>> import tinytorch as tt
        >>> Softmax(dim=1)(tt.zeros(2, 4)).tolist()[0]
        [0.25, 0.25, 0.25, 0.25]
    """

    def __init__(self, dim: int | None = None):
        super().__init__()
        self.dim = dim

    def forward(self, input: Any) -> Any:
        return F.softmax(input, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class LogSoftmax(Module):
    """:math:`\\log(\\mathrm{softmax}(x))` along ``dim``, computed stably (log-sum-exp).

    Args:
        dim: the dim to normalise over.

    Shape: any, unchanged.
    """

    def __init__(self, dim: int | None = None):
        super().__init__()
        self.dim = dim

    def forward(self, input: Any) -> Any:
        return F.log_softmax(input, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"
