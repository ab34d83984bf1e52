"""``Gamma(concentration, rate)`` and ``Chi2(df)``: density ``rate^a x^(a-1) e^(-rate x) / Gamma(a)``
on ``x >= 0`` (``Chi2(df)`` is ``Gamma(df / 2, 1 / 2)``).

``rsample`` is reparameterised: a standard gamma draw ``G ~ Gamma(a, 1)`` divided by ``rate``.
The gradient w.r.t. ``rate`` is the exact one of ``G / rate``; the gradient w.r.t. the
concentration is the implicit reparameterisation ``dG/da = -(dF/da) / (dF/dG)`` of the CDF
``F(G; a)`` (the regularised incomplete gamma), whose ``dF/da`` is differentiated term by term
through its series and continued fraction, exact to float64 rounding (PyTorch uses a fitted
approximation of the same quantity, good to about 1e-4 relative). It is a first derivative only:
a gradient of that gradient w.r.t. the concentration is not computed.
"""

from __future__ import annotations

from typing import Any

from ..ops.composite import digamma, lgamma, xlogy
from ..ops.creation import tensor
from ..ops.elementwise import log
from ..tensor import Tensor
from . import constraints
from .distribution import Distribution
from .gamma_draws import _standard_gamma
from .utils import _is_number, broadcast_all


def _as_value(value: Any, like: Tensor) -> Tensor:
    """A number given to ``log_prob`` as a tensor of ``like``'s dtype and device (PyTorch's ``as_tensor``)."""
    return tensor(value, dtype=like.dtype, device=like.device) if _is_number(value) else value


class Gamma(Distribution):
    """The gamma distribution of shape ``concentration > 0`` and ``rate > 0`` (numbers or tensors,
    broadcast together): mean ``concentration / rate``. ``rsample`` has gradients w.r.t. both
    parameters (see the module's docstring); ``cdf`` is not implemented (tinytorch has no
    incomplete gamma function)."""

    arg_constraints = {"concentration": constraints.positive, "rate": constraints.positive}
    support = constraints.nonnegative
    has_rsample = True
    concentration: Tensor
    rate: Tensor

    def __init__(self, concentration: Tensor | float, rate: Tensor | float, validate_args: bool | None = None) -> None:
        self.concentration, self.rate = broadcast_all(concentration, rate)
        batch_shape = () if _is_number(concentration) and _is_number(rate) else self.concentration.shape
        super().__init__(batch_shape, validate_args=validate_args)

    def expand(self, batch_shape: tuple[int, ...], _instance: Any = None) -> Gamma:
        new = self._get_checked_instance(Gamma, _instance)
        batch_shape = tuple(batch_shape)
        new.concentration = self.concentration.expand(batch_shape)
        new.rate = self.rate.expand(batch_shape)
        return self._finish_expand(new, batch_shape)

    @property
    def mean(self) -> Tensor:
        return self.concentration / self.rate

    @property
    def mode(self) -> Tensor:
        return ((self.concentration - 1) / self.rate).clamp(min=0)

    @property
    def variance(self) -> Tensor:
        return self.concentration / self.rate.pow(2)

    def rsample(self, sample_shape: tuple[int, ...] = ()) -> Tensor:
        """``G / rate`` with ``G ~ Gamma(concentration, 1)`` (at least the dtype's smallest normal
        number, so that ``log_prob`` of a draw is finite)."""
        shape = self._extended_shape(sample_shape)
        return _standard_gamma(self.concentration.expand(shape)) / self.rate.expand(shape)

    def log_prob(self, value: Tensor) -> Tensor:
        value = _as_value(value, self.rate)
        if self._validate_args:
            self._validate_sample(value)
        return (xlogy(self.concentration, self.rate) + xlogy(self.concentration - 1, value) - self.rate * value
                - lgamma(self.concentration))

    def entropy(self) -> Tensor:
        c = self.concentration
        return c - log(self.rate) + lgamma(c) + (1.0 - c) * digamma(c)


class Chi2(Gamma):
    """The chi-squared distribution of ``df > 0`` degrees of freedom: ``Gamma(df / 2, 1 / 2)``."""

    arg_constraints = {"df": constraints.positive}  # type: ignore[assignment]

    def __init__(self, df: Tensor | float, validate_args: bool | None = None) -> None:
        super().__init__(0.5 * df, 0.5, validate_args=validate_args)

    def expand(self, batch_shape: tuple[int, ...], _instance: Any = None) -> Chi2:
        new = self._get_checked_instance(Chi2, _instance)
        return super().expand(batch_shape, new)  # type: ignore[return-value]

    @property
    def df(self) -> Tensor:
        return self.concentration * 2


__all__ = ["Chi2", "Gamma"]
