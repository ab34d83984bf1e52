"""RMSprop: divide the gradient by a running root-mean-square of its recent values."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from ..tensor import no_grad
from .optimizer import Optimizer


class RMSprop(Optimizer):
    r"""RMSprop (Hinton), step for step as ``torch.optim.RMSprop``:

    .. code-block:: text

        g = grad + weight_decay * p
        v = alpha * v + (1 - alpha) * g^2
        avg = sqrt(v) + eps                         (centered: sqrt(v - mean_g^2) + eps,
                                                     mean_g = alpha * mean_g + (1 - alpha) * g)
        if momentum > 0:  b = momentum * b + g / avg;  p = p - lr * b
        else:             p = p - lr * g / avg

    Args:
        params: parameters or parameter groups.
        lr: learning rate. Default: 1e-2.
        alpha: smoothing constant. Default: 0.99.
        eps: added to the denominator. Default: 1e-8.
        weight_decay: L2 penalty. Default: 0.
        momentum: momentum factor. Default: 0.
        centered: normalise by an estimate of the gradient's variance. Default: False.
    """

    def __init__(self, params: Iterable[Any], lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0.0, momentum: float = 0.0, centered: bool = False):
        for name, value in (("learning rate", lr), ("epsilon value", eps), ("momentum value", momentum),
                            ("weight_decay value", weight_decay), ("alpha value", alpha)):
            if value < 0.0:
                raise ValueError(f"Invalid {name}: {value}")
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                                      momentum=momentum, centered=centered))

    @no_grad()
    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """One update of every parameter that has a gradient; returns ``closure()`` if given."""
        loss = self._closure_loss(closure)
        for group in self.param_groups:
            lr, alpha, eps, momentum = group["lr"], group["alpha"], group["eps"], group["momentum"]
            extra = {"momentum_buffer": 0.0} if momentum > 0 else {}
            if group["centered"]:
                extra["grad_avg"] = 0.0
            for p, state in self._stepped(group, square_avg=0.0, **extra):
                g = p.grad
                if group["weight_decay"] != 0:
                    g = g + group["weight_decay"] * p
                v = state["square_avg"]
                v.mul_(alpha).add_(g * g, alpha=1 - alpha)
                if group["centered"]:
                    mean_g = state["grad_avg"]
                    mean_g.mul_(alpha).add_(g, alpha=1 - alpha)
                    avg = (v - mean_g * mean_g).sqrt() + eps
                else:
                    avg = v.sqrt() + eps
                if momentum > 0:
                    buf = state["momentum_buffer"]
                    buf.mul_(momentum).add_(g / avg)
                    p.add_(buf, alpha=-lr)
                else:
                    p.add_(g / avg, alpha=-lr)
        return loss
