"""``Poisson(rate)``: counts ``k = 0, 1, 2, ...`` with mass ``rate^k e^(-rate) / k!``."""

from __future__ import annotations

from typing import Any

from ..ops.composite import lgamma, xlogy
from ..ops.random import poisson
from ..tensor import Tensor, no_grad
from . import constraints
from .distribution import Distribution
from .utils import _is_number, broadcast_all


class Poisson(Distribution):
    """The Poisson distribution of ``rate >= 0``; samples are counts in the rate's float dtype.
    No ``rsample`` (it is discrete) and, as in PyTorch, no ``entropy``."""

    arg_constraints = {"rate": constraints.nonnegative}
    support = constraints.nonnegative_integer

    def __init__(self, rate: Tensor | float, validate_args: bool | None = None) -> None:
        (self.rate,) = broadcast_all(rate)
        super().__init__(() if _is_number(rate) else self.rate.shape, validate_args=validate_args)

    def expand(self, batch_shape: tuple[int, ...], _instance: Any = None) -> Poisson:
        new = self._get_checked_instance(Poisson, _instance)
        batch_shape = tuple(batch_shape)
        new.rate = self.rate.expand(batch_shape)
        return self._finish_expand(new, batch_shape)

    @property
    def mean(self) -> Tensor:
        return self.rate

    @property
    def mode(self) -> Tensor:
        return self.rate.floor()

    @property
    def variance(self) -> Tensor:
        return self.rate

    def sample(self, sample_shape: tuple[int, ...] = ()) -> Tensor:
        with no_grad():
            return poisson(self.rate.expand(self._extended_shape(sample_shape)))

    def log_prob(self, value: Tensor) -> Tensor:
        """``value log(rate) - rate - log(value!)`` (``0 log 0 = 0``: mass 1 at 0 for rate 0)."""
        if self._validate_args:
            self._validate_sample(value)
        rate, value = broadcast_all(self.rate, value)
        return xlogy(value, rate) - rate - lgamma(value + 1)


__all__ = ["Poisson"]
