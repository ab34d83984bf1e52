"""``StudentT(df, loc=0, scale=1)``: Student's t of ``df`` degrees of freedom, shifted and scaled.

``rsample`` draws ``loc + scale * X / sqrt(Z / df)`` with ``X`` standard normal and ``Z ~
Chi2(df)``: the gradients w.r.t. ``loc`` and ``scale`` are exact, the one w.r.t. ``df`` comes
through ``Z``'s implicit reparameterisation (see :mod:`tinytorch.distributions.gamma`).
"""

from __future__ import annotations

import math
from typing import Any

from ..ops.composite import digamma, lgamma
from ..ops.elementwise import log, log1p, rsqrt, where
from ..ops.random import randn
from ..tensor import Tensor
from . import constraints
from .distribution import Distribution
from .gamma import Chi2
from .utils import broadcast_all


class StudentT(Distribution):
    """Student's t-distribution of ``df > 0`` degrees of freedom, location ``loc`` and ``scale > 0``
    (numbers or tensors, broadcast together). The mean is NaN for ``df <= 1``; the variance is
    ``inf`` for ``1 < df <= 2`` and NaN for ``df <= 1``."""

    arg_constraints = {"df": constraints.positive, "loc": constraints.real, "scale": constraints.positive}
    support = constraints.real
    has_rsample = True

    def __init__(self, df: Tensor | float, loc: Tensor | float = 0.0, scale: Tensor | float = 1.0,
                 validate_args: bool | None = None) -> None:
        self.df, self.loc, self.scale = broadcast_all(df, loc, scale)
        self._chi2 = Chi2(self.df)
        super().__init__(self.df.shape, validate_args=validate_args)

    def expand(self, batch_shape: tuple[int, ...], _instance: Any = None) -> StudentT:
        new = self._get_checked_instance(StudentT, _instance)
        batch_shape = tuple(batch_shape)
        new.df, new.loc, new.scale = (t.expand(batch_shape) for t in (self.df, self.loc, self.scale))
        new._chi2 = self._chi2.expand(batch_shape)
        return self._finish_expand(new, batch_shape)

    @property
    def mean(self) -> Tensor:
        return where(self.df <= 1, math.nan, self.loc)

    @property
    def mode(self) -> Tensor:
        return self.loc

    @property
    def variance(self) -> Tensor:
        finite = self.df > 2
        df = where(finite, self.df, 3.0)  # the unused branch at a safe point: a zero gradient, not NaN
        return where(finite, self.scale.pow(2) * df / (df - 2), where(self.df > 1, math.inf, math.nan))

    def rsample(self, sample_shape: tuple[int, ...] = ()) -> Tensor:
        x = randn(self._extended_shape(sample_shape), dtype=self.df.dtype, device=self.df.device)
        z = self._chi2.rsample(sample_shape)
        return self.loc + self.scale * (x * rsqrt(z / self.df))

    def log_prob(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        y = (value - self.loc) / self.scale
        norm = (log(self.scale) + 0.5 * log(self.df) + 0.5 * math.log(math.pi) + lgamma(0.5 * self.df)
                - lgamma(0.5 * (self.df + 1.0)))
        return -0.5 * (self.df + 1.0) * log1p(y ** 2.0 / self.df) - norm

    def entropy(self) -> Tensor:
        half = 0.5 * self.df
        lbeta = lgamma(half) + math.lgamma(0.5) - lgamma(half + 0.5)
        return (log(self.scale) + (half + 0.5) * (digamma(half + 0.5) - digamma(half)) + 0.5 * log(self.df)
                + lbeta)


__all__ = ["StudentT"]
