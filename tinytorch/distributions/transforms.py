"""Invertible maps of random variables, and the distribution of a transformed variable.

A :class:`Transform` ``f`` maps ``x`` to ``y = f(x)``, inverts it (:meth:`Transform.inv`) and
gives ``log |det df/dx|`` (:meth:`Transform.log_abs_det_jacobian`). Then
:class:`TransformedDistribution` of a base distribution ``p`` draws ``y = f(x)`` with ``x ~ p``
and has the density ``log q(y) = log p(f^-1(y)) - log |det df/dx|`` -- how a tanh-squashed
Gaussian policy (soft actor-critic) or a log-normal is written. Transforms act elementwise
here (``event_dim = 0``), except :class:`AffineTransform` and :class:`ComposeTransform` with an
``event_dim``, whose Jacobian terms are summed over those dims.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from ..nn.functional import softplus
from ..ops.composite import logit
from ..ops.creation import zeros_like
from ..ops.elementwise import atanh, log, sigmoid, tanh
from ..tensor import Tensor
from . import constraints
from .distribution import Distribution
from .utils import _sum_rightmost, clamp_probs


class Transform:
    """The base class: ``y = t(x)``, ``x = t.inv(y)``, ``t.log_abs_det_jacobian(x, y)``."""

    bijective = True
    event_dim = 0
    domain: Any = constraints.real
    codomain: Any = constraints.real
    sign: int = 1

    def __call__(self, x: Tensor) -> Tensor:
        return self._call(x)

    def _call(self, x: Tensor) -> Tensor:
        raise NotImplementedError

    def _inverse(self, y: Tensor) -> Tensor:
        raise NotImplementedError

    @property
    def inv(self) -> "Transform":
        """The inverse transform (``t.inv(y)`` maps back)."""
        return _Inverse(self)

    def log_abs_det_jacobian(self, x: Tensor, y: Tensor) -> Tensor:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class _Inverse(Transform):
    def __init__(self, base: Transform) -> None:
        self.base = base
        self.event_dim, self.sign = base.event_dim, base.sign
        self.domain, self.codomain = base.codomain, base.domain

    def _call(self, x: Tensor) -> Tensor:
        return self.base._inverse(x)

    def _inverse(self, y: Tensor) -> Tensor:
        return self.base._call(y)

    @property
    def inv(self) -> Transform:
        return self.base

    def log_abs_det_jacobian(self, x: Tensor, y: Tensor) -> Tensor:
        return -self.base.log_abs_det_jacobian(y, x)


class ExpTransform(Transform):
    """``y = exp(x)``."""

    codomain = constraints.positive

    def _call(self, x: Tensor) -> Tensor:
        return x.exp()

    def _inverse(self, y: Tensor) -> Tensor:
        return log(y)

    def log_abs_det_jacobian(self, x: Tensor, y: Tensor) -> Tensor:
        return x


class SigmoidTransform(Transform):
    """``y = sigmoid(x)``; the inverse is ``logit`` (of ``y`` clamped inside (0, 1) by the dtype's eps)."""

    codomain = constraints.unit_interval

    def _call(self, x: Tensor) -> Tensor:
        return sigmoid(x)

    def _inverse(self, y: Tensor) -> Tensor:
        return logit(clamp_probs(y))

    def log_abs_det_jacobian(self, x: Tensor, y: Tensor) -> Tensor:
        return -softplus(-x) - softplus(x)


class TanhTransform(Transform):
    """``y = tanh(x)``, with ``log |dy/dx| = 2 (log 2 - x - softplus(-2x))`` (stable for large |x|)."""

    codomain = constraints.interval(-1.0, 1.0)

    def __init__(self, cache_size: int = 0) -> None:
        self.cache_size = cache_size

    def _call(self, x: Tensor) -> Tensor:
        return tanh(x)

    def _inverse(self, y: Tensor) -> Tensor:
        return atanh(y)

    def log_abs_det_jacobian(self, x: Tensor, y: Tensor) -> Tensor:
        return 2.0 * (math.log(2.0) - x - softplus(-2.0 * x))


class AffineTransform(Transform):
    """``y = loc + scale * x`` (numbers or tensors, broadcast); ``event_dim`` dims of the
    Jacobian term are summed (its log-determinant over an event)."""

    def __init__(self, loc: Any, scale: Any, event_dim: int = 0, cache_size: int = 0) -> None:
        self.loc, self.scale, self.event_dim = loc, scale, event_dim

    @property
    def sign(self) -> int:  # type: ignore[override]
        if isinstance(self.scale, Tensor):
            return 1 if bool((self.scale > 0).all().item()) else -1
        return 1 if self.scale > 0 else -1

    def _call(self, x: Tensor) -> Tensor:
        return self.loc + self.scale * x

    def _inverse(self, y: Tensor) -> Tensor:
        return (y - self.loc) / self.scale

    def log_abs_det_jacobian(self, x: Tensor, y: Tensor) -> Tensor:
        log_scale = self.scale.abs().log() if isinstance(self.scale, Tensor) else math.log(abs(self.scale))
        return _sum_rightmost(zeros_like(x) + log_scale, self.event_dim)


class PowerTransform(Transform):
    """``y = x ** exponent`` on positive ``x``."""

    domain = constraints.positive
    codomain = constraints.positive

    def __init__(self, exponent: Any, cache_size: int = 0) -> None:
        self.exponent = exponent

    def _call(self, x: Tensor) -> Tensor:
        return x.pow(self.exponent)

    def _inverse(self, y: Tensor) -> Tensor:
        return y.pow(1 / self.exponent)

    def log_abs_det_jacobian(self, x: Tensor, y: Tensor) -> Tensor:
        return (self.exponent * y / x).abs().log()


class ComposeTransform(Transform):
    """The transforms applied in order: ``y = parts[-1](...parts[0](x))``."""

    def __init__(self, parts: Sequence[Transform], cache_size: int = 0) -> None:
        self.parts = list(parts)
        self.event_dim = max((p.event_dim for p in self.parts), default=0)

    def _call(self, x: Tensor) -> Tensor:
        for part in self.parts:
            x = part(x)
        return x

    def _inverse(self, y: Tensor) -> Tensor:
        for part in reversed(self.parts):
            y = part.inv(y)
        return y

    def log_abs_det_jacobian(self, x: Tensor, y: Tensor) -> Tensor:
        total: Any = 0.0
        for part in self.parts:
            nxt = part(x)
            total = total + _sum_rightmost(part.log_abs_det_jacobian(x, nxt), self.event_dim - part.event_dim)
            x = nxt
        return total


class TransformedDistribution(Distribution):
    """The distribution of ``transforms(x)`` with ``x ~ base_distribution``: ``sample`` /
    ``rsample`` push the base's draws through, ``log_prob`` pulls the value back and subtracts
    each transform's log-Jacobian (summed over the event dims)."""

    arg_constraints: dict = {}

    def __init__(self, base_distribution: Distribution, transforms: Transform | Sequence[Transform],
                 validate_args: bool | None = None) -> None:
        self.base_dist = base_distribution
        self.transforms = [transforms] if isinstance(transforms, Transform) else list(transforms)
        event_dim = max([len(base_distribution.event_shape)] + [t.event_dim for t in self.transforms])
        shape = tuple(base_distribution.batch_shape) + tuple(base_distribution.event_shape)
        cut = len(shape) - event_dim
        super().__init__(shape[:cut], shape[cut:], validate_args=validate_args)

    @property
    def has_rsample(self) -> bool:  # type: ignore[override]
        return self.base_dist.has_rsample

    @property
    def support(self) -> Any:
        return self.transforms[-1].codomain if self.transforms else self.base_dist.support

    def sample(self, sample_shape: tuple[int, ...] = ()) -> Tensor:
        x = self.base_dist.sample(sample_shape)
        for t in self.transforms:
            x = t(x)
        return x.detach()

    def rsample(self, sample_shape: tuple[int, ...] = ()) -> Tensor:
        x = self.base_dist.rsample(sample_shape)
        for t in self.transforms:
            x = t(x)
        return x

    def log_prob(self, value: Tensor) -> Tensor:
        event_dim = len(self.event_shape)
        total: Any = 0.0
        y = value
        for t in reversed(self.transforms):
            x = t.inv(y)
            total = total - _sum_rightmost(t.log_abs_det_jacobian(x, y), event_dim - t.event_dim)
            y = x
        base = _sum_rightmost(self.base_dist.log_prob(y), event_dim - len(self.base_dist.event_shape))
        return total + base


__all__ = ["Transform", "ExpTransform", "SigmoidTransform", "TanhTransform", "AffineTransform", "PowerTransform",
           "ComposeTransform", "TransformedDistribution"]
