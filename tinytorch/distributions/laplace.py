"""``Laplace(loc, scale)``: density ``exp(-|x - loc| / scale) / (2 scale)``, reparameterised by
the inverse CDF of a uniform draw."""

from __future__ import annotations

from ..ndarray.dtypes import finfo
from ..ops.creation import empty
from ..ops.elementwise import expm1, log, log1p
from ..tensor import Tensor
from .distribution import LocScale


class Laplace(LocScale):
    """The Laplace distribution of location ``loc`` and ``scale > 0`` (broadcast together)."""

    @property
    def variance(self) -> Tensor:
        return 2 * self.scale.pow(2)

    @property
    def stddev(self) -> Tensor:
        return (2 ** 0.5) * self.scale

    def rsample(self, sample_shape: tuple[int, ...] = ()) -> Tensor:
        eps = finfo(self.loc.dtype).eps
        u = empty(self._extended_shape(sample_shape), dtype=self.loc.dtype, device=self.loc.device)
        u = u.uniform_(eps - 1, 1)  # in (-1, 1): log1p(-|u|) stays finite
        return self.loc - self.scale * u.sign() * log1p(-u.abs())

    def log_prob(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        return -log(2 * self.scale) - (value - self.loc).abs() / self.scale

    def cdf(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        return 0.5 - 0.5 * (value - self.loc).sign() * expm1(-(value - self.loc).abs() / self.scale)

    def icdf(self, value: Tensor) -> Tensor:
        term = value - 0.5
        return self.loc - self.scale * term.sign() * log1p(-2 * term.abs())

    def entropy(self) -> Tensor:
        return 1 + log(2 * self.scale)


__all__ = ["Laplace"]
