"""Adagrad and Adamax: per-weight step sizes from the history of gradient magnitudes."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from ..ops import maximum
from ..tensor import no_grad
from .adam import check_adam_args
from .optimizer import Optimizer


def _check(**values: float) -> None:
    for name, value in values.items():
        if value < 0.0:
            raise ValueError(f"Invalid {name.replace('_', ' ')} value: {value}")


class Adagrad(Optimizer):
    r"""Adagrad (Duchi et al., 2011), step for step as ``torch.optim.Adagrad``:

    .. code-block:: text

        g = grad + weight_decay * p
        s = s + g^2                                   (starts at initial_accumulator_value)
        p = p - lr / (1 + (t - 1) * lr_decay) * g / (sqrt(s) + eps)

    Args:
        params: parameters or parameter groups.
        lr: learning rate. Default: 1e-2.
        lr_decay: learning-rate decay per step. Default: 0.
        weight_decay: L2 penalty. Default: 0.
        initial_accumulator_value: the starting value of s. Default: 0.
        eps: added to the denominator. Default: 1e-10.
    """

    def __init__(self, params: Iterable[Any], lr: float = 1e-2, lr_decay: float = 0.0, weight_decay: float = 0.0,
                 initial_accumulator_value: float = 0.0, eps: float = 1e-10):
        _check(learning_rate=lr, lr_decay=lr_decay, weight_decay=weight_decay,
               initial_accumulator=initial_accumulator_value, epsilon=eps)
        super().__init__(params, dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                                      initial_accumulator_value=initial_accumulator_value, eps=eps))

    @no_grad()
    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """One update of every parameter that has a gradient; returns ``closure()`` if given."""
        loss = self._closure_loss(closure)
        for group in self.param_groups:
            for p, state in self._stepped(group, sum=group["initial_accumulator_value"]):
                g = p.grad
                if group["weight_decay"] != 0:
                    g = g + group["weight_decay"] * p
                clr = group["lr"] / (1 + (state["step"] - 1) * group["lr_decay"])
                state["sum"].add_(g * g)
                p.add_(g / (state["sum"].sqrt() + group["eps"]), alpha=-clr)
        return loss


class Adamax(Optimizer):
    r"""Adamax (Kingma & Ba, 2015): Adam with the infinity norm, step for step as ``torch.optim.Adamax``:

    .. code-block:: text

        g = grad + weight_decay * p
        m = m + (1 - beta1) * (g - m)
        u = max(beta2 * u, |g| + eps)
        p = p - lr / (1 - beta1^t) * m / u

    Args:
        params: parameters or parameter groups.
        lr: learning rate. Default: 2e-3.
        betas: decay rates of m and u. Default: (0.9, 0.999).
        eps: added to |g|. Default: 1e-8.
        weight_decay: L2 penalty. Default: 0.
    """

    def __init__(self, params: Iterable[Any], lr: float = 2e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0):
        check_adam_args(lr, betas, eps, weight_decay)
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay))

    @no_grad()
    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """One update of every parameter that has a gradient; returns ``closure()`` if given."""
        loss = self._closure_loss(closure)
        for group in self.param_groups:
            (beta1, beta2), eps = group["betas"], group["eps"]
            for p, state in self._stepped(group, exp_avg=0.0, exp_inf=0.0):
                g = p.grad
                if group["weight_decay"] != 0:
                    g = g + group["weight_decay"] * p
                m = state["exp_avg"]
                m.add_((g - m) * (1 - beta1))
                state["exp_inf"] = u = maximum(state["exp_inf"] * beta2, g.abs() + eps)
                p.add_(m / u, alpha=-group["lr"] / (1 - beta1 ** state["step"]))
        return loss
