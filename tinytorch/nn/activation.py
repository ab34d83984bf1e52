"""Activation layers: thin modules around the elementwise functions of ``nn.functional``."""

from __future__ import annotations

from typing import Any

from ..ops import full
from . import functional as F
from .module import Module
from .parameter import Parameter


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


class _Pointwise(Module):
    """An activation without parameters: ``forward`` applies ``fn`` (a function of
    ``nn.functional``). ``inplace`` is accepted for PyTorch's signature and shown in the repr;
    tinytorch always returns a new tensor. Shape: any, unchanged."""

    fn: Any = None

    def __init__(self, inplace: bool = False):
        super().__init__()
        self.inplace = inplace

    def forward(self, input: Any) -> Any:
        return type(self).fn(input)

    def extra_repr(self) -> str:
        return "inplace=True" if self.inplace else ""


class SiLU(_Pointwise):
    """``x * sigmoid(x)``."""

    fn = staticmethod(F.silu)


class Mish(_Pointwise):
    """``x * tanh(softplus(x))``."""

    fn = staticmethod(F.mish)


class SELU(_Pointwise):
    """The self-normalising ELU: ``scale * elu(x, alpha)`` with fixed constants."""

    fn = staticmethod(F.selu)


class ReLU6(_Pointwise):
    """x clipped into ``[0, 6]``."""

    fn = staticmethod(F.relu6)


class Hardsigmoid(_Pointwise):
    """``relu6(x + 3) / 6``."""

    fn = staticmethod(F.hardsigmoid)


class Hardswish(_Pointwise):
    """``x * relu6(x + 3) / 6``."""

    fn = staticmethod(F.hardswish)


class LogSigmoid(Module):
    """``log(sigmoid(x))``, computed stably. Shape: any, unchanged."""

    def forward(self, input: Any) -> Any:
        return F.logsigmoid(input)


class Softsign(Module):
    """``x / (1 + |x|)``. Shape: any, unchanged."""

    def forward(self, input: Any) -> Any:
        return F.softsign(input)


class Tanhshrink(Module):
    """``x - tanh(x)``. Shape: any, unchanged."""

    def forward(self, input: Any) -> Any:
        return F.tanhshrink(input)


def _with_inplace(text: str, inplace: bool) -> str:
    return text + (", inplace=True" if inplace else "")


class LeakyReLU(Module):
    """x where x > 0, ``negative_slope * x`` elsewhere. Shape: any, unchanged.

    Examples::

        >>> import tinytorch as tt
        >>> LeakyReLU(0.1)(tt.tensor([-2.0, 3.0])).tolist()
        [-0.20000000298023224, 3.0]
    """

    def __init__(self, negative_slope: float = 1e-2, inplace: bool = False):
        super().__init__()
        self.negative_slope, self.inplace = negative_slope, inplace

    def forward(self, input: Any) -> Any:
        return F.leaky_relu(input, self.negative_slope)

    def extra_repr(self) -> str:
        return _with_inplace(f"negative_slope={self.negative_slope}", self.inplace)


class RReLU(Module):
    """Randomized leaky ReLU: negative elements scaled by a slope drawn from U(lower, upper) per
    element in training, by ``(lower + upper) / 2`` in evaluation. Shape: any, unchanged."""

    def __init__(self, lower: float = 1.0 / 8, upper: float = 1.0 / 3, inplace: bool = False):
        super().__init__()
        self.lower, self.upper, self.inplace = lower, upper, inplace

    def forward(self, input: Any) -> Any:
        return F.rrelu(input, self.lower, self.upper, self.training)

    def extra_repr(self) -> str:
        return _with_inplace(f"lower={self.lower}, upper={self.upper}", self.inplace)


class ELU(Module):
    """x where x > 0, ``alpha * (exp(x) - 1)`` elsewhere. Shape: any, unchanged."""

    def __init__(self, alpha: float = 1.0, inplace: bool = False):
        super().__init__()
        self.alpha, self.inplace = alpha, inplace

    def forward(self, input: Any) -> Any:
        return F.elu(input, self.alpha)

    def extra_repr(self) -> str:
        return _with_inplace(f"alpha={self.alpha}", self.inplace)


class CELU(ELU):
    """x where x > 0, ``alpha * (exp(x / alpha) - 1)`` elsewhere. Shape: any, unchanged."""

    def forward(self, input: Any) -> Any:
        return F.celu(input, self.alpha)


class Softplus(Module):
    """``log(1 + exp(beta * x)) / beta`` (x itself where ``beta * x > threshold``). Shape: any."""

    def __init__(self, beta: float = 1.0, threshold: float = 20.0):
        super().__init__()
        self.beta, self.threshold = beta, threshold

    def forward(self, input: Any) -> Any:
        return F.softplus(input, self.beta, self.threshold)

    def extra_repr(self) -> str:
        return f"beta={self.beta}, threshold={self.threshold}"


class Hardtanh(Module):
    """x clipped into ``[min_val, max_val]``. Shape: any, unchanged."""

    def __init__(self, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False):
        super().__init__()
        if min_val > max_val:
            raise ValueError(f"min_val cannot be greater than max_val, got {min_val} and {max_val}")
        self.min_val, self.max_val, self.inplace = min_val, max_val, inplace

    def forward(self, input: Any) -> Any:
        return F.hardtanh(input, self.min_val, self.max_val)

    def extra_repr(self) -> str:
        return _with_inplace(f"min_val={self.min_val}, max_val={self.max_val}", self.inplace)


class GLU(Module):
    """The gated linear unit along ``dim``: the first half times the sigmoid of the second.

    Shape: ``(*, 2N, *)`` -> ``(*, N, *)`` along ``dim``.
    """

    def __init__(self, dim: int = -1):
        super().__init__()
        self.dim = dim

    def forward(self, input: Any) -> Any:
        return F.glu(input, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class Hardshrink(Module):
    """x where ``|x| > lambd``, 0 elsewhere. Shape: any, unchanged."""

    def __init__(self, lambd: float = 0.5):
        super().__init__()
        self.lambd = lambd

    def forward(self, input: Any) -> Any:
        return F.hardshrink(input, self.lambd)

    def extra_repr(self) -> str:
        return f"{self.lambd}"


class Softshrink(Hardshrink):
    """x moved towards 0 by ``lambd``, 0 where ``|x| <= lambd``. Shape: any, unchanged."""

    def forward(self, input: Any) -> Any:
        return F.softshrink(input, self.lambd)


class Threshold(Module):
    """x where ``x > threshold``, ``value`` elsewhere. Shape: any, unchanged."""

    def __init__(self, threshold: float, value: float, inplace: bool = False):
        super().__init__()
        self.threshold, self.value, self.inplace = threshold, value, inplace

    def forward(self, input: Any) -> Any:
        return F.threshold(input, self.threshold, self.value)

    def extra_repr(self) -> str:
        return _with_inplace(f"threshold={self.threshold}, value={self.value}", self.inplace)


class PReLU(Module):
    """LeakyReLU with a learned slope: ``num_parameters`` slopes (1 shared, or one per channel),
    each initialised to ``init``. Shape: any; channels are dim 1."""

    def __init__(self, num_parameters: int = 1, init: float = 0.25, device: Any = None, dtype: Any = None):
        super().__init__()
        self.num_parameters = num_parameters
        self.weight = Parameter(full((num_parameters,), init, dtype=dtype, device=device))

    def forward(self, input: Any) -> Any:
        return F.prelu(input, self.weight)

    def extra_repr(self) -> str:
        return f"num_parameters={self.num_parameters}"


class Softmin(Module):
    """``softmax(-x)`` along ``dim``."""

    def __init__(self, dim: int | None = None):
        super().__init__()
        self.dim = dim

    def forward(self, input: Any) -> Any:
        return F.softmin(input, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class Softmax2d(Module):
    """Softmax over the channels of each position: dim -3 of a ``(C, H, W)`` or ``(N, C, H, W)`` input."""

    def forward(self, input: Any) -> Any:
        if input.ndim not in (3, 4):
            raise ValueError(f"Softmax2d: expected input to be 3D or 4D, got {input.ndim}D instead")
        return F.softmax(input, -3)

