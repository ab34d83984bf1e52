"""``Beta(concentration1, concentration0)``: density ``x^(a-1) (1-x)^(b-1) / B(a, b)`` on ``[0, 1]``,
the first coordinate of ``Dirichlet([a, b])`` (as in PyTorch, which it is built on).

``rsample`` is the Dirichlet's: ``G_a / (G_a + G_b)`` of two standard gamma draws, with exact
gradients of that ratio composed with the gammas' implicit-reparameterisation gradients w.r.t.
the concentrations (see :mod:`tinytorch.distributions.dirichlet`).
"""

from __future__ import annotations

from typing import Any

from ..ndarray.dtypes import get_default_dtype
from ..ops.creation import tensor
from ..ops.movement import stack
from ..tensor import Tensor
from . import constraints
from .dirichlet import Dirichlet
from .distribution import Distribution
from .utils import _is_number, broadcast_all


class Beta(Distribution):
    """The beta distribution of ``concentration1 > 0`` (alpha) and ``concentration0 > 0`` (beta),
    numbers or tensors broadcast together; mean ``concentration1 / (concentration1 + concentration0)``."""

    arg_constraints = {"concentration1": constraints.positive, "concentration0": constraints.positive}
    support = constraints.unit_interval
    has_rsample = True

    def __init__(self, concentration1: Tensor | float, concentration0: Tensor | float,
                 validate_args: bool | None = None) -> None:
        if _is_number(concentration1) and _is_number(concentration0):
            both = tensor([float(concentration1), float(concentration0)], dtype=get_default_dtype())
        else:
            c1, c0 = broadcast_all(concentration1, concentration0)
            both = stack([c1, c0], -1)
        self._dirichlet = Dirichlet(both, validate_args=validate_args)
        super().__init__(self._dirichlet.batch_shape, validate_args=validate_args)

    def expand(self, batch_shape: tuple[int, ...], _instance: Any = None) -> Beta:
        new = self._get_checked_instance(Beta, _instance)
        batch_shape = tuple(batch_shape)
        new._dirichlet = self._dirichlet.expand(batch_shape)
        return self._finish_expand(new, batch_shape)

    @property
    def concentration1(self) -> Tensor:
        return self._dirichlet.concentration[..., 0]

    @property
    def concentration0(self) -> Tensor:
        return self._dirichlet.concentration[..., 1]

    @property
    def mean(self) -> Tensor:
        return self.concentration1 / (self.concentration1 + self.concentration0)

    @property
    def mode(self) -> Tensor:
        return self._dirichlet.mode[..., 0]

    @property
    def variance(self) -> Tensor:
        total = self.concentration1 + self.concentration0
        return self.concentration1 * self.concentration0 / (total.pow(2) * (total + 1))

    def rsample(self, sample_shape: tuple[int, ...] = ()) -> Tensor:
        return self._dirichlet.rsample(sample_shape).select(-1, 0)

    def log_prob(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        return self._dirichlet.log_prob(stack([value, 1.0 - value], -1))

    def entropy(self) -> Tensor:
        return self._dirichlet.entropy()


__all__ = ["Beta"]
