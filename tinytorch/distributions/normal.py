"""``Normal(loc, scale)``: the Gaussian, reparameterised as ``loc + scale * eps``."""

from __future__ import annotations

import math

from ..ops.elementwise import erf, erfinv, log
from ..ops.random import randn
from ..tensor import Tensor
from .distribution import LocScale

_LOG_SQRT_2PI = math.log(math.sqrt(2 * math.pi))


class Normal(LocScale):
    """The normal distribution of mean ``loc`` and standard deviation ``scale`` (numbers or
    tensors, broadcast together; ``scale > 0``)."""

    @property
    def stddev(self) -> Tensor:
        return self.scale

    @property
    def variance(self) -> Tensor:
        return self.scale.pow(2)

    def rsample(self, sample_shape: tuple[int, ...] = ()) -> Tensor:
        eps = randn(self._extended_shape(sample_shape), dtype=self.loc.dtype, device=self.loc.device)
        return self.loc + eps * self.scale

    def log_prob(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        return -((value - self.loc) ** 2) / (2 * self.scale ** 2) - log(self.scale) - _LOG_SQRT_2PI

    def cdf(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        return 0.5 * (1 + erf((value - self.loc) * self.scale.reciprocal() / math.sqrt(2)))

    def icdf(self, value: Tensor) -> Tensor:
        return self.loc + self.scale * erfinv(2 * value - 1) * math.sqrt(2)

    def entropy(self) -> Tensor:
        return 0.5 + 0.5 * math.log(2 * math.pi) + log(self.scale)


__all__ = ["Normal"]
