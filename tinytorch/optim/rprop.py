"""Rprop and ASGD: two older optimizers PyTorch keeps.

* Rprop (resilient backpropagation, Riedmiller & Braun, 1993) ignores the gradient's size: each
  weight moves by its own step in the direction of the gradient's sign, and the step grows
  while the sign holds and shrinks when it flips (a flip means the last step overshot).
* ASGD (averaged SGD, Polyak & Juditsky, 1992) is SGD with a decaying learning rate that also
  keeps the running average of the iterates from step ``t0`` on (``state["ax"]``), the
  estimate with the better convergence guarantees.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from ..ops import ones_like, where
from ..tensor import no_grad
from .optimizer import Optimizer


def _scalar(x: float) -> float:
    """``x`` rounded to float32, the default dtype in which PyTorch keeps ASGD's ``eta`` and ``mu``
    (as 0-d tensors), so the steps are PyTorch's."""
    return float(np.float32(x))


class Rprop(Optimizer):
    r"""Resilient backpropagation, step for step as ``torch.optim.Rprop``:

    .. code-block:: text

        s = sign(grad * prev)                 (prev: the last gradient used, 0 at first)
        step = clamp(step * (etaplus if s > 0, etaminus if s < 0, 1 if s == 0), *step_sizes)
        g = 0 where s < 0, else grad          (after a flip, wait one step)
        p = p - sign(g) * step;  prev = g

    Args:
        params: parameters or parameter groups.
        lr: the initial step of every weight. Default: 1e-2.
        etas: (etaminus, etaplus), the factors that shrink and grow a step. Default: (0.5, 1.2).
        step_sizes: (min, max) of a step. Default: (1e-6, 50).
        maximize: ascend instead. Default: False.
    """

    def __init__(self, params: Iterable[Any], lr: float = 1e-2, etas: tuple[float, float] = (0.5, 1.2),
                 step_sizes: tuple[float, float] = (1e-6, 50), *, maximize: bool = False):
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 < etas[0] < 1.0 < etas[1]:
            raise ValueError(f"Invalid eta values: {etas[0]}, {etas[1]}")
        super().__init__(params, dict(lr=lr, etas=tuple(etas), step_sizes=tuple(step_sizes), maximize=maximize))

    @no_grad()
    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """One update of every parameter that has a gradient; returns ``closure()`` if given."""
        loss = self._closure_loss(closure)
        for group in self.param_groups:
            etaminus, etaplus = group["etas"]
            low, high = group["step_sizes"]
            for p, state in self._stepped(group, prev=0.0, step_size=group["lr"]):
                g = -p.grad if group["maximize"] else p.grad
                s = (g * state["prev"]).sign()
                factor = where(s > 0, etaplus, where(s < 0, etaminus, ones_like(s)))  # in the step's dtype
                state["step_size"].mul_(factor).clamp_(low, high)
                g = where(s < 0, 0.0, g)
                p.addcmul_(g.sign(), state["step_size"], value=-1)
                state["prev"].copy_(g)
        return loss


class ASGD(Optimizer):
    r"""Averaged SGD, step for step as ``torch.optim.ASGD``:

    .. code-block:: text

        g = grad + weight_decay * p
        p = p * (1 - lambd * eta) - eta * g
        ax = p if mu == 1 else ax + mu * (p - ax)       (the averaged iterate)
        eta = lr / (1 + lambd * lr * t) ** alpha;  mu = 1 / max(1, t - t0)

    Args:
        params: parameters or parameter groups.
        lr: learning rate. Default: 1e-2.
        lambd: decay term. Default: 1e-4.
        alpha: power of the learning-rate decay. Default: 0.75.
        t0: the step averaging starts at. Default: 1e6.
        weight_decay: L2 penalty. Default: 0.
        maximize: ascend instead. Default: False.
    """

    def __init__(self, params: Iterable[Any], lr: float = 1e-2, lambd: float = 1e-4, alpha: float = 0.75,
                 t0: float = 1e6, weight_decay: float = 0.0, *, maximize: bool = False):
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        super().__init__(params, dict(lr=lr, lambd=lambd, alpha=alpha, t0=t0, weight_decay=weight_decay,
                                      maximize=maximize))

    @no_grad()
    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """One update of every parameter that has a gradient; returns ``closure()`` if given."""
        loss = self._closure_loss(closure)
        for group in self.param_groups:
            for p, state in self._stepped(group, ax=0.0):
                state.setdefault("eta", _scalar(group["lr"]))
                state.setdefault("mu", 1.0)
                g = -p.grad if group["maximize"] else p.grad
                if group["weight_decay"] != 0:
                    g = g + group["weight_decay"] * p
                eta = state["eta"]
                p.mul_(1 - group["lambd"] * eta).add_(g, alpha=-eta)
                if state["mu"] != 1:
                    state["ax"].add_((p - state["ax"]) * state["mu"])
                else:
                    state["ax"].copy_(p)
                t = state["step"]
                state["eta"] = _scalar(group["lr"] / (1 + group["lambd"] * group["lr"] * t) ** group["alpha"])
                state["mu"] = _scalar(1 / max(1, t - group["t0"]))
        return loss


__all__ = ["Rprop", "ASGD"]
