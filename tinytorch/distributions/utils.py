"""``torch.distributions.utils``: broadcasting parameters, probabilities <-> logits, lazy properties."""

from __future__ import annotations

from collections.abc import Callable
from functools import update_wrapper
from typing import Any

from ..ndarray.dtypes import finfo, get_default_dtype
from ..ops.creation import tensor
from ..ops.elementwise import log, log1p, sigmoid
from ..ops.movement import broadcast_tensors
from ..ops.reduce import softmax
from ..tensor import Tensor, enable_grad

euler_constant = 0.57721566490153286060  # the Euler-Mascheroni constant


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, Tensor)


def broadcast_all(*values: Tensor | float) -> tuple[Tensor, ...]:
    """The ``values`` as tensors broadcast together. Numbers become tensors of the first tensor's
    dtype and device (the default dtype when all are numbers). ``ValueError`` for anything else."""
    if not all(isinstance(v, Tensor) or _is_number(v) for v in values):
        raise ValueError("Input arguments must all be instances of Number, "
                         "torch.Tensor or objects implementing __torch_function__.")
    first = next((v for v in values if isinstance(v, Tensor)), None)
    if first is None:
        tensors = [tensor(float(v), dtype=get_default_dtype()) for v in values]
    else:
        tensors = [v if isinstance(v, Tensor) else tensor(v, dtype=first.dtype, device=first.device) for v in values]
    return tuple(broadcast_tensors(*tensors))


def _sum_rightmost(value: Tensor, dim: int) -> Tensor:
    """``value`` summed over its ``dim`` rightmost dims (itself for ``dim == 0``)."""
    if dim == 0:
        return value
    return value.reshape(value.shape[:-dim] + (-1,)).sum(-1)


def logits_to_probs(logits: Tensor, is_binary: bool = False) -> Tensor:
    """Probabilities from logits: the sigmoid of log-odds (``is_binary``), else the softmax over the last dim."""
    return sigmoid(logits) if is_binary else softmax(logits, dim=-1)


def clamp_probs(probs: Tensor) -> Tensor:
    """``probs`` clamped to ``[eps, 1 - eps]`` with ``eps`` the dtype's machine epsilon."""
    eps = finfo(probs.dtype).eps
    return probs.clamp(min=eps, max=1 - eps)


def probs_to_logits(probs: Tensor, is_binary: bool = False) -> Tensor:
    """Logits from (clamped) probabilities: the log-odds ``log p - log(1 - p)`` (``is_binary``), else ``log p``."""
    clamped = clamp_probs(probs)
    return log(clamped) - log1p(-clamped) if is_binary else log(clamped)


class lazy_property:  # noqa: N801  (PyTorch's name)
    """A property computed (with gradients enabled) on first access, then stored on the instance
    under the same name, so later reads are plain attribute reads."""

    def __init__(self, wrapped: Callable[[Any], Any]) -> None:
        self.wrapped = wrapped
        update_wrapper(self, wrapped)  # type: ignore[arg-type]

    def __get__(self, instance: Any, obj_type: Any = None) -> Any:
        if instance is None:
            return self
        with enable_grad():
            value = self.wrapped(instance)
        setattr(instance, self.wrapped.__name__, value)
        return value


__all__ = ["broadcast_all", "clamp_probs", "lazy_property", "logits_to_probs", "probs_to_logits"]
