"""``Distribution``: the base class of every distribution, with PyTorch's shapes and validation.

A distribution has a ``batch_shape`` (independent, differently parameterised copies) and an
``event_shape`` (the shape of one draw): ``sample(sample_shape)`` has shape ``sample_shape +
batch_shape + event_shape`` and ``log_prob`` of such a value has shape ``sample_shape +
batch_shape``. Everything is written with tinytorch ops, so gradients reach the parameters;
samples come from tinytorch's generator, so ``tt.manual_seed`` reproduces them.
"""

from __future__ import annotations

import warnings
from typing import Any

from ..ops.elementwise import exp
from ..tensor import Tensor, no_grad
from . import constraints
from .utils import _is_number, broadcast_all, lazy_property


def _shape(size: Any) -> tuple[int, ...]:
    """A shape argument as a tuple (an int ``n`` is ``(n,)``)."""
    return (int(size),) if isinstance(size, int) else tuple(int(s) for s in size)


class Distribution:
    """The abstract base: subclasses set ``arg_constraints``, ``support`` and the methods they have.

    ``validate_args`` (default: :meth:`set_default_validate_args`, on unless ``python -O``) checks
    the parameters against ``arg_constraints`` at construction and values against ``support`` in
    ``log_prob``/``cdf``; a violation raises ``ValueError``."""

    has_rsample = False
    has_enumerate_support = False
    _validate_args = __debug__

    @staticmethod
    def set_default_validate_args(value: bool) -> None:
        """Turn validation on or off for every distribution built without ``validate_args``."""
        if value not in [True, False]:
            raise ValueError
        Distribution._validate_args = value

    def __init__(self, batch_shape: tuple[int, ...] = (), event_shape: tuple[int, ...] = (),
                 validate_args: bool | None = None) -> None:
        self._batch_shape = _shape(batch_shape)
        self._event_shape = _shape(event_shape)
        if validate_args is not None:
            self._validate_args = validate_args
        if self._validate_args:
            try:
                arg_constraints = self.arg_constraints
            except NotImplementedError:
                arg_constraints = {}
                warnings.warn(f"{self.__class__} does not define `arg_constraints`. Please set `arg_constraints = "
                              "{}` or initialize the distribution with `validate_args=False` to turn off validation.",
                              stacklevel=2)
            for param, constraint in arg_constraints.items():
                if constraints.is_dependent(constraint):
                    continue  # cannot be checked
                if param not in self.__dict__ and isinstance(getattr(type(self), param), lazy_property):
                    continue  # not given: computed lazily from the parameter that was
                value = getattr(self, param)
                if not bool(constraint.check(value).all()):
                    raise ValueError(f"Expected parameter {param} ({type(value).__name__} of shape "
                                     f"{tuple(value.shape)}) of distribution {self!r} to satisfy the constraint "
                                     f"{constraint!r}, but found invalid values:\n{value}")
        super().__init__()

    def expand(self, batch_shape: tuple[int, ...], _instance: Any = None) -> Distribution:
        """A distribution of the same kind with its parameters expanded to ``batch_shape`` (no
        copy, no new validation)."""
        raise NotImplementedError

    def _finish_expand(self, new: Any, batch_shape: tuple[int, ...]) -> Any:
        """The end of every ``expand``: ``new`` (parameters already expanded) gets ``batch_shape``
        and this distribution's event shape, unvalidated, and keeps this one's validation setting."""
        Distribution.__init__(new, batch_shape, self._event_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    @property
    def batch_shape(self) -> tuple[int, ...]:
        """The shape over which the parameters are batched."""
        return self._batch_shape

    @property
    def event_shape(self) -> tuple[int, ...]:
        """The shape of a single draw."""
        return self._event_shape

    @property
    def arg_constraints(self) -> dict[str, constraints.Constraint]:
        """The constraint each tensor parameter must satisfy, by parameter name."""
        raise NotImplementedError

    @property
    def support(self) -> constraints.Constraint:
        """The constraint the distribution's values satisfy."""
        raise NotImplementedError

    @property
    def mean(self) -> Tensor:
        raise NotImplementedError

    @property
    def mode(self) -> Tensor:
        raise NotImplementedError(f"{self.__class__} does not implement mode")

    @property
    def variance(self) -> Tensor:
        raise NotImplementedError

    @property
    def stddev(self) -> Tensor:
        """The square root of the variance."""
        return self.variance.sqrt()

    def sample(self, sample_shape: tuple[int, ...] = ()) -> Tensor:
        """A draw of shape ``sample_shape + batch_shape + event_shape``, without gradient."""
        with no_grad():
            return self.rsample(sample_shape)

    def rsample(self, sample_shape: tuple[int, ...] = ()) -> Tensor:
        """A reparameterised draw (gradients flow to the parameters), for ``has_rsample`` distributions."""
        raise NotImplementedError

    def sample_n(self, n: int) -> Tensor:
        """``sample((n,))`` (deprecated in PyTorch)."""
        return self.sample((n,))

    def log_prob(self, value: Tensor) -> Tensor:
        """The log density (or mass) at ``value``: shape ``value``'s leading dims broadcast with
        ``batch_shape`` (the event dims are consumed)."""
        raise NotImplementedError

    def cdf(self, value: Tensor) -> Tensor:
        """The cumulative distribution function at ``value``."""
        raise NotImplementedError

    def icdf(self, value: Tensor) -> Tensor:
        """The inverse of :meth:`cdf` at the probabilities ``value``."""
        raise NotImplementedError

    def enumerate_support(self, expand: bool = True) -> Tensor:
        """Every value of a discrete distribution along dim 0: ``(cardinality,) + batch_shape +
        event_shape`` (``expand=False``: the batch dims as singletons)."""
        raise NotImplementedError

    def entropy(self) -> Tensor:
        """The entropy, of shape ``batch_shape``."""
        raise NotImplementedError

    def perplexity(self) -> Tensor:
        """``exp(entropy())``."""
        return exp(self.entropy())

    def _extended_shape(self, sample_shape: tuple[int, ...] = ()) -> tuple[int, ...]:
        """``sample_shape + batch_shape + event_shape``."""
        return _shape(sample_shape) + self._batch_shape + self._event_shape

    def _validate_sample(self, value: Tensor) -> None:
        """``ValueError`` unless ``value`` is a tensor whose rightmost dims are ``event_shape``, that
        broadcasts with ``batch_shape + event_shape`` and lies in ``support``."""
        if not isinstance(value, Tensor):
            raise ValueError("The value argument to log_prob must be a Tensor")
        actual = tuple(value.shape)
        start = len(actual) - len(self._event_shape)
        if actual[start:] != self._event_shape:
            raise ValueError(f"The right-most size of value must match event_shape: {actual} vs {self._event_shape}.")
        expected = self._batch_shape + self._event_shape
        for i, j in zip(reversed(actual), reversed(expected)):
            if i != 1 and j != 1 and i != j:
                raise ValueError(f"Value is not broadcastable with batch_shape+event_shape: {actual} vs {expected}.")
        try:
            support = self.support
        except NotImplementedError:
            warnings.warn(f"{self.__class__} does not define `support` to enable sample validation. Please "
                          "initialize the distribution with `validate_args=False` to turn off validation.",
                          stacklevel=2)
            return
        if not bool(support.check(value).all()):
            raise ValueError(f"Expected value argument ({type(value).__name__} of shape {actual}) to be within the "
                             f"support ({support!r}) of the distribution {self!r}, but found invalid values:\n{value}")

    def _get_checked_instance(self, cls: type, _instance: Any = None) -> Any:
        """A bare instance of ``type(self)`` for :meth:`expand` (or ``_instance``)."""
        if _instance is None and type(self).__init__ is not cls.__init__:  # type: ignore[misc]
            raise NotImplementedError(f"Subclass {self.__class__.__name__} of {cls.__name__} that defines a custom "
                                      "__init__ method must also define a custom .expand() method.")
        return self.__new__(type(self)) if _instance is None else _instance

    def __repr__(self) -> str:
        names = [k for k in self.arg_constraints if k in self.__dict__]
        args = ", ".join(f"{p}: {self.__dict__[p] if self.__dict__[p].numel() == 1 else tuple(self.__dict__[p].shape)}"
                         for p in names)
        return f"{self.__class__.__name__}({args})"


__all__ = ["Distribution"]


class LocScale(Distribution):
    """A distribution of a location ``loc`` and a ``scale > 0`` (numbers or tensors, broadcast
    together) that is symmetric about ``loc``: what ``Normal`` and ``Laplace`` share -- the
    parameters, ``expand``, and ``mean = mode = loc``."""

    arg_constraints = {"loc": constraints.real, "scale": constraints.positive}
    support = constraints.real
    has_rsample = True
    loc: Tensor
    scale: Tensor

    def __init__(self, loc: Tensor | float, scale: Tensor | float, validate_args: bool | None = None) -> None:
        self.loc, self.scale = broadcast_all(loc, scale)
        batch_shape = () if _is_number(loc) and _is_number(scale) else self.loc.shape
        super().__init__(batch_shape, validate_args=validate_args)

    def expand(self, batch_shape: tuple[int, ...], _instance: Any = None) -> "LocScale":
        new = self._get_checked_instance(type(self), _instance)
        batch_shape = tuple(batch_shape)
        new.loc, new.scale = self.loc.expand(batch_shape), self.scale.expand(batch_shape)
        return self._finish_expand(new, batch_shape)

    @property
    def mean(self) -> Tensor:
        return self.loc

    @property
    def mode(self) -> Tensor:
        return self.loc
