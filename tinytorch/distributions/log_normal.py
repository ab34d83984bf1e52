"""``LogNormal(loc, scale)``: ``exp(X)`` for ``X ~ Normal(loc, scale)``, reparameterised as ``exp`` of
the normal's reparameterised draw.

PyTorch builds it as a ``TransformedDistribution`` of a ``Normal`` by ``ExpTransform``; tinytorch
has no transforms, so it is written out here, with the same ``base_dist``, values and gradients.
"""

from __future__ import annotations

from typing import Any

from ..ops.elementwise import exp, log
from ..tensor import Tensor
from . import constraints
from .distribution import Distribution
from .normal import Normal


class LogNormal(Distribution):
    """The log-normal distribution: ``log`` of a draw is normal of mean ``loc`` and standard deviation
    ``scale > 0`` (numbers or tensors, broadcast together)."""

    arg_constraints = {"loc": constraints.real, "scale": constraints.positive}
    support = constraints.positive
    has_rsample = True
    base_dist: Normal

    def __init__(self, loc: Tensor | float, scale: Tensor | float, validate_args: bool | None = None) -> None:
        self.base_dist = Normal(loc, scale, validate_args=validate_args)
        super().__init__(self.base_dist.batch_shape, validate_args=validate_args)

    def expand(self, batch_shape: tuple[int, ...], _instance: Any = None) -> LogNormal:
        new = self._get_checked_instance(LogNormal, _instance)
        batch_shape = tuple(batch_shape)
        new.base_dist = self.base_dist.expand(batch_shape)
        return self._finish_expand(new, batch_shape)

    @property
    def loc(self) -> Tensor:
        return self.base_dist.loc

    @property
    def scale(self) -> Tensor:
        return self.base_dist.scale

    @property
    def mean(self) -> Tensor:
        return exp(self.loc + self.scale.pow(2) / 2)

    @property
    def mode(self) -> Tensor:
        return exp(self.loc - self.scale.square())

    @property
    def variance(self) -> Tensor:
        scale_sq = self.scale.pow(2)
        return scale_sq.expm1() * exp(2 * self.loc + scale_sq)

    def rsample(self, sample_shape: tuple[int, ...] = ()) -> Tensor:
        return exp(self.base_dist.rsample(sample_shape))

    def log_prob(self, value: Tensor) -> Tensor:
        """The normal's log density at ``log(value)`` less ``log(value)`` (the Jacobian of ``exp``)."""
        if self._validate_args:
            self._validate_sample(value)
        x = log(value)
        return self.base_dist.log_prob(x) - x

    def cdf(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        return self.base_dist.cdf(log(value))

    def icdf(self, value: Tensor) -> Tensor:
        return exp(self.base_dist.icdf(value))

    def entropy(self) -> Tensor:
        return self.base_dist.entropy() + self.loc


__all__ = ["LogNormal"]
