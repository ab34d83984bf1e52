"""Adam and AdamW: adaptive moment estimation, with L2 or decoupled weight decay."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

from ..autograd import no_grad
from ..ops import maximum, zeros_like
from .optimizer import Optimizer


class Adam(Optimizer):
    r"""Adam (Kingma & Ba, 2015), step for step as ``torch.optim.Adam``:

    .. code-block:: text

        t = t + 1
        g = grad + weight_decay * p                  (L2 penalty; see AdamW for decoupled decay)
        m = beta1 * m + (1 - beta1) * g              (first moment)
        v = beta2 * v + (1 - beta2) * g^2            (second moment)
        p = p - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)

    On a backend with an ``adam_step`` kernel (the C backend) each parameter's update is one
    fused pass over memory instead of about ten elementwise ops; the arithmetic is the same.

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
        if lr < 0.0:
            raise ValueError(f"Invalid learning rate: {lr}")
        if eps < 0.0:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if not (0.0 <= betas[0] < 1.0 and 0.0 <= betas[1] < 1.0):
            raise ValueError(f"Invalid beta parameters: {betas}")
        if weight_decay < 0.0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay, amsgrad=amsgrad))

    @no_grad()
    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """One update of every parameter that has a gradient; returns ``closure()`` if given."""
        loss = self._closure_loss(closure)
        for group in self.param_groups:
            lr, (beta1, beta2), eps, wd = group["lr"], group["betas"], group["eps"], group["weight_decay"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = p.grad
                state = self.state.setdefault(p, {})
                if not state:
                    state["step"] = 0
                    state["exp_avg"] = zeros_like(p)
                    state["exp_avg_sq"] = zeros_like(p)
                    if group["amsgrad"]:
                        state["max_exp_avg_sq"] = zeros_like(p)
                state["step"] += 1
                t = state["step"]
                step_size = lr / (1 - beta1 ** t)
                bias2_sqrt = math.sqrt(1 - beta2 ** t)
                if _fused_step(p, g, state, step_size, beta1, beta2, eps, bias2_sqrt,
                               decay=1 - lr * wd if self._decoupled else 1.0, l2=0.0 if self._decoupled else wd):
                    continue
                if wd != 0:
                    if self._decoupled:
                        p.mul_(1 - lr * wd)           # AdamW: shrink the weights directly
                    else:
                        g = g + wd * p                # Adam: L2 penalty through the gradient
                m, v = state["exp_avg"], state["exp_avg_sq"]
                m.mul_(beta1).add_(g, alpha=1 - beta1)
                v.mul_(beta2).add_(g * g, alpha=1 - beta2)
                if group["amsgrad"]:
                    state["max_exp_avg_sq"] = v_hat = maximum(state["max_exp_avg_sq"], v)
                else:
                    v_hat = v
                denom = v_hat.sqrt() / bias2_sqrt + eps
                p.add_(m / denom, alpha=-step_size)
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


def _fused_step(p: Any, g: Any, state: dict, step_size: float, beta1: float, beta2: float, eps: float,
                bias2_sqrt: float, decay: float, l2: float) -> bool:
    """The whole update of ``p`` in one pass by the backend's ``adam_step`` kernel, when the
    backend has one (the C backend does) and the parameter and its state are compact arrays
    of one float dtype that the kernel can write in place. Returns False, having done
    nothing, otherwise: the step above then runs as tensor ops (about ten passes)."""
    kernel = getattr(p._data.device.backend, "adam_step", None)
    if kernel is None:
        return False
    arrays = [p._data, state["exp_avg"]._data, state["exp_avg_sq"]._data]
    if "max_exp_avg_sq" in state:
        arrays.append(state["max_exp_avg_sq"]._data)
    gd = g._data
    if (not p.dtype.is_floating_point or gd.dtype is not p.dtype or gd.device is not p._data.device
            or gd.shape != p._data.shape or not all(a.is_compact() and a.dtype is p.dtype for a in arrays)):
        return False
    param, exp_avg, exp_avg_sq = (a._buf for a in arrays[:3])
    kernel(param, gd.compact()._buf, exp_avg, exp_avg_sq, arrays[3]._buf if len(arrays) > 3 else None,
           step_size=step_size, beta1=beta1, beta2=beta2, eps=eps, bias2_sqrt=bias2_sqrt, decay=decay, l2=l2)
    return True
