"""Adadelta: a step size from running averages of squared gradients and squared updates."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from ..tensor import no_grad
from .optimizer import Optimizer


class Adadelta(Optimizer):
    r"""Adadelta (Zeiler, 2012), step for step as ``torch.optim.Adadelta``:

    .. code-block:: text

        g = grad + weight_decay * p
        v = rho * v + (1 - rho) * g^2                        (square_avg)
        delta = sqrt(u + eps) / sqrt(v + eps) * g            (u: acc_delta)
        u = rho * u + (1 - rho) * delta^2
        p = p - lr * delta

    The ratio of the two root-mean-squares gives each weight a step in the units of the weight,
    so ``lr`` (default 1.0) only scales it.

    Args:
        params: parameters or parameter groups.
        lr: scale of the update. Default: 1.0.
        rho: smoothing constant of both running averages. Default: 0.9.
        eps: added inside both square roots. Default: 1e-6.
        weight_decay: L2 penalty. Default: 0.
    """

    def __init__(self, params: Iterable[Any], lr: float = 1.0, rho: float = 0.9, eps: float = 1e-6,
                 weight_decay: float = 0.0):
        for name, value in (("learning rate", lr), ("epsilon value", eps), ("weight_decay value", weight_decay)):
            if value < 0.0:
                raise ValueError(f"Invalid {name}: {value}")
        if not 0.0 <= rho <= 1.0:
            raise ValueError(f"Invalid rho value: {rho}")
        super().__init__(params, dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay))

    @no_grad()
    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """One update of every parameter that has a gradient; returns ``closure()`` if given."""
        loss = self._closure_loss(closure)
        for group in self.param_groups:
            lr, rho, eps = group["lr"], group["rho"], group["eps"]
            for p, state in self._stepped(group, square_avg=0.0, acc_delta=0.0):
                g = p.grad
                if group["weight_decay"] != 0:
                    g = g + group["weight_decay"] * p
                v, u = state["square_avg"], state["acc_delta"]
                v.mul_(rho).add_(g * g, alpha=1 - rho)
                delta = (u + eps).sqrt() / (v + eps).sqrt() * g
                u.mul_(rho).add_(delta * delta, alpha=1 - rho)
                p.add_(delta, alpha=-lr)
        return loss
