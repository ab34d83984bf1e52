"""``Dirichlet(concentration)``: probability vectors over the last dim, density
``Gamma(a_0) / prod Gamma(a_i) * prod x_i^(a_i - 1)`` with ``a_0 = sum a_i``.

``rsample`` normalises independent standard gamma draws, ``x = G / sum G`` with ``G_i ~
Gamma(a_i, 1)``: the gradient w.r.t. the concentration is the exact derivative of that
normalisation composed with each ``G_i``'s implicit-reparameterisation gradient (see
:mod:`tinytorch.distributions.gamma`). It is a valid reparameterisation with the same expected
gradient as PyTorch's, which differentiates each coordinate's marginal CDF instead: the gradients
of one draw differ between the two, their expectations agree.
"""

from __future__ import annotations

from typing import Any

from ..ndarray.dtypes import finfo
from ..nn.functional import one_hot
from ..ops.composite import digamma, lgamma, xlogy
from ..ops.elementwise import where
from ..tensor import Tensor
from . import constraints
from .distribution import Distribution
from .gamma_draws import _standard_gamma


def _sample_dirichlet(concentration: Tensor) -> Tensor:
    """A Dirichlet draw per row (last dim) of ``concentration``, differentiable w.r.t. it. As in
    PyTorch each coordinate is kept in ``[tiny, the float below 1]``, so that a Beta draw is never
    exactly 0 or 1 (in float32 one within 6e-8 of 1 would round to 1); the clamp moves a value by at
    most a rounding error and is left out of the gradient."""
    g = _standard_gamma(concentration)
    x = g / g.sum(-1, keepdim=True)
    info = finfo(x.dtype)
    return x + (x.detach().clamp(min=info.tiny, max=1 - info.eps / 2) - x.detach())


class Dirichlet(Distribution):
    """The Dirichlet distribution of the positive ``concentration`` (at least 1-D: the last dim
    is the event, the leading dims the batch). ``rsample`` has gradients w.r.t. the
    concentration (see the module's docstring)."""

    arg_constraints = {"concentration": constraints.independent(constraints.positive, 1)}
    support = constraints.simplex
    has_rsample = True

    def __init__(self, concentration: Tensor, validate_args: bool | None = None) -> None:
        if concentration.dim() < 1:
            raise ValueError("`concentration` parameter must be at least one-dimensional.")
        self.concentration = concentration
        super().__init__(tuple(concentration.shape[:-1]), tuple(concentration.shape[-1:]),
                         validate_args=validate_args)

    def expand(self, batch_shape: tuple[int, ...], _instance: Any = None) -> Dirichlet:
        new = self._get_checked_instance(Dirichlet, _instance)
        batch_shape = tuple(batch_shape)
        new.concentration = self.concentration.expand(batch_shape + self.event_shape)
        return self._finish_expand(new, batch_shape)

    def rsample(self, sample_shape: tuple[int, ...] = ()) -> Tensor:
        return _sample_dirichlet(self.concentration.expand(self._extended_shape(sample_shape)))

    def log_prob(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        c = self.concentration
        return xlogy(c - 1.0, value).sum(-1) + lgamma(c.sum(-1)) - lgamma(c).sum(-1)

    @property
    def mean(self) -> Tensor:
        return self.concentration / self.concentration.sum(-1, True)

    @property
    def mode(self) -> Tensor:
        """``(a - 1)^+ / sum (a - 1)^+``; where every ``a_i < 1`` (a density unbounded at each
        vertex) PyTorch's choice, the first vertex ``one_hot(0)``."""
        cm1 = (self.concentration - 1).clamp(min=0.0)
        all_below = (self.concentration < 1).all(dim=-1, keepdim=True)
        mode = cm1 / where(all_below, 1.0, cm1.sum(-1, True))
        vertex = one_hot(mode.argmax(dim=-1), cm1.shape[-1]).to(mode.dtype)
        return where(all_below, vertex, mode)

    @property
    def variance(self) -> Tensor:
        con0 = self.concentration.sum(-1, True)
        return self.concentration * (con0 - self.concentration) / (con0.pow(2) * (con0 + 1))

    def entropy(self) -> Tensor:
        c = self.concentration
        k = c.shape[-1]
        a0 = c.sum(-1)
        return lgamma(c).sum(-1) - lgamma(a0) - (k - a0) * digamma(a0) - ((c - 1.0) * digamma(c)).sum(-1)


__all__ = ["Dirichlet"]
