"""Adam and AdamW: adaptive moment estimation, with L2 or decoupled weight decay."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

from ..ops.inplace import _fused_adam_
from ..tensor import no_grad
from .optimizer import Optimizer


def check_adam_args(lr: float, betas: tuple[float, float], eps: float, weight_decay: float) -> None:
    """PyTorch's errors for the arguments the Adam family shares."""
    if lr < 0.0:
        raise ValueError(f"Invalid learning rate: {lr}")
    if eps < 0.0:
        raise ValueError(f"Invalid epsilon value: {eps}")
    if not (0.0 <= betas[0] < 1.0 and 0.0 <= betas[1] < 1.0):
        raise ValueError(f"Invalid beta parameters: {betas}")
    if weight_decay < 0.0:
        raise ValueError(f"Invalid weight_decay value: {weight_decay}")


class Adam(Optimizer):
    r"""Adam (Kingma & Ba, 2015), step for step as ``torch.optim.Adam``:

    .. code-block:: text

        t = t + 1
        g = grad + weight_decay * p                  (L2 penalty; see AdamW for decoupled decay)
        m = beta1 * m + (1 - beta1) * g              (first moment)
        v = beta2 * v + (1 - beta2) * g^2            (second moment)
        p = p - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)

    Each parameter's update is one call of the ``_fused_adam_`` op: one pass over memory on a
    backend with an ``adam_step`` kernel (the C backend), about ten array ops on the others;
    the arithmetic is the same.

    Args:
        params: parameters or parameter groups.
        lr: learning rate. Default: 1e-3.
        betas: decay rates of the two moments. Default: (0.9, 0.999).
        eps: added to the denominator. Default: 1e-8.
        weight_decay: L2 penalty added to the gradient. Default: 0.
        amsgrad: use the running maximum of v (AMSGrad). Default: False.

    Examples::

        >>> from tinytorch import nn
        >>> model = nn.Linear(3, 1)
        >>> opt = Adam(model.parameters(), lr=1e-3)
        >>> model(tt.ones(2, 3)).sum().backward()
        >>> opt.step()
    """

    _decoupled = False

    def __init__(self, params: Iterable[Any], lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0, amsgrad: bool = False):
        check_adam_args(lr, betas, eps, weight_decay)
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay, amsgrad=amsgrad))

    @no_grad()
    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """One update of every parameter that has a gradient; returns ``closure()`` if given."""
        loss = self._closure_loss(closure)
        for group in self.param_groups:
            lr, (beta1, beta2), eps, wd = group["lr"], group["betas"], group["eps"], group["weight_decay"]
            amsgrad = {"max_exp_avg_sq": 0.0} if group["amsgrad"] else {}
            for p, state in self._stepped(group, exp_avg=0.0, exp_avg_sq=0.0, **amsgrad):
                g, t = p.grad, state["step"]
                step_size = lr / (1 - beta1 ** t)
                bias2_sqrt = math.sqrt(1 - beta2 ** t)
                _fused_adam_(p, g, state["exp_avg"], state["exp_avg_sq"], state.get("max_exp_avg_sq"),
                             step_size=step_size, beta1=beta1, beta2=beta2, eps=eps, bias2_sqrt=bias2_sqrt,
                             decay=1 - lr * wd if self._decoupled else 1.0, l2=0.0 if self._decoupled else wd)
        return loss


class AdamW(Adam):
    r"""Adam with decoupled weight decay (Loshchilov & Hutter, 2019), as ``torch.optim.AdamW``:
    each step first shrinks ``p = p * (1 - lr * weight_decay)``, then applies the Adam update
    without the L2 term.

    Args: as :class:`Adam`, but ``weight_decay`` defaults to 1e-2.
    """

    _decoupled = True

    def __init__(self, params: Iterable[Any], lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 1e-2, amsgrad: bool = False):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad)
