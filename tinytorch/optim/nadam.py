"""NAdam and RAdam: Adam with Nesterov momentum, and Adam with a rectified warm-up."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from ..tensor import no_grad
from .adam import check_adam_args
from .optimizer import Optimizer


class NAdam(Optimizer):
    r"""NAdam (Dozat, 2016), step for step as ``torch.optim.NAdam``:

    .. code-block:: text

        g = grad + weight_decay * p
        mu_t = beta1 * (1 - 0.96^(t * momentum_decay) / 2);  P_t = mu_1 * ... * mu_t
        m = m + (1 - beta1) * (g - m);  v = beta2 * v + (1 - beta2) * g^2
        d = sqrt(v / (1 - beta2^t)) + eps
        p = p - lr * (1 - mu_t) / (1 - P_t) * g / d - lr * mu_{t+1} / (1 - P_t * mu_{t+1}) * m / d

    Args:
        params: parameters or parameter groups.
        lr: learning rate. Default: 2e-3.
        betas: decay rates of the moments. Default: (0.9, 0.999).
        eps: added to the denominator. Default: 1e-8.
        weight_decay: L2 penalty. Default: 0.
        momentum_decay: the schedule of the momentum mu_t. Default: 4e-3.
    """

    def __init__(self, params: Iterable[Any], lr: float = 2e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0, momentum_decay: float = 4e-3):
        check_adam_args(lr, betas, eps, weight_decay)
        if momentum_decay < 0.0:
            raise ValueError(f"Invalid momentum_decay value: {momentum_decay}")
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                                      momentum_decay=momentum_decay))

    @no_grad()
    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """One update of every parameter that has a gradient; returns ``closure()`` if given."""
        loss = self._closure_loss(closure)
        for group in self.param_groups:
            lr, (beta1, beta2), eps, psi = group["lr"], group["betas"], group["eps"], group["momentum_decay"]
            for p, state in self._stepped(group, exp_avg=0.0, exp_avg_sq=0.0):
                t = state["step"]
                state.setdefault("mu_product", 1.0)
                g = p.grad
                if group["weight_decay"] != 0:
                    g = g + group["weight_decay"] * p
                mu = beta1 * (1.0 - 0.5 * 0.96 ** (t * psi))
                mu_next = beta1 * (1.0 - 0.5 * 0.96 ** ((t + 1) * psi))
                # PyTorch keeps this product in a float32 scalar tensor: rounded the same way, the
                # trajectories agree to float64 precision
                state["mu_product"] = float(np.float32(state["mu_product"]) * np.float32(mu))
                m, v = state["exp_avg"], state["exp_avg_sq"]
                m.add_((g - m) * (1 - beta1))
                v.mul_(beta2).add_(g * g, alpha=1 - beta2)
                denom = (v / (1 - beta2 ** t)).sqrt() + eps
                p.add_(g / denom, alpha=-lr * (1.0 - mu) / (1.0 - state["mu_product"]))
                p.add_(m / denom, alpha=-lr * mu_next / (1.0 - state["mu_product"] * mu_next))
        return loss


class RAdam(Optimizer):
    r"""RAdam (Liu et al., 2020), step for step as ``torch.optim.RAdam``: Adam whose adaptive step
    is switched on only once the variance of its estimate is tractable (rho_t > 5), and scaled
    by the rectification term r_t until then fully:

    .. code-block:: text

        g = grad + weight_decay * p
        m = m + (1 - beta1) * (g - m);  v = beta2 * v + (1 - beta2) * g^2
        rho_inf = 2 / (1 - beta2) - 1;  rho_t = rho_inf - 2 t beta2^t / (1 - beta2^t)
        if rho_t > 5:  p = p - lr * m / (1 - beta1^t) * r_t * sqrt(1 - beta2^t) / (sqrt(v) + eps)
        else:          p = p - lr * m / (1 - beta1^t)

    Args: as :class:`~tinytorch.optim.Adam` (lr default 1e-3), without ``amsgrad``.
    """

    def __init__(self, params: Iterable[Any], lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0):
        check_adam_args(lr, betas, eps, weight_decay)
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay))

    @no_grad()
    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """One update of every parameter that has a gradient; returns ``closure()`` if given."""
        loss = self._closure_loss(closure)
        for group in self.param_groups:
            lr, (beta1, beta2), eps = group["lr"], group["betas"], group["eps"]
            rho_inf = 2 / (1 - beta2) - 1
            for p, state in self._stepped(group, exp_avg=0.0, exp_avg_sq=0.0):
                t = state["step"]
                g = p.grad
                if group["weight_decay"] != 0:
                    g = g + group["weight_decay"] * p
                m, v = state["exp_avg"], state["exp_avg_sq"]
                m.add_((g - m) * (1 - beta1))
                v.mul_(beta2).add_(g * g, alpha=1 - beta2)
                bias2 = 1 - beta2 ** t
                m_hat = m / (1 - beta1 ** t)
                rho_t = rho_inf - 2 * t * beta2 ** t / bias2
                if rho_t > 5.0:
                    rect = math.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
                    p.add_(m_hat * lr * (math.sqrt(bias2) / (v.sqrt() + eps)) * rect, alpha=-1.0)
                else:
                    p.add_(m_hat * lr, alpha=-1.0)
        return loss
