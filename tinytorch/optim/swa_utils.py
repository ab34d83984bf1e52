"""``optim.swa_utils``: weight averaging, as ``torch.optim.swa_utils``.

* :class:`AveragedModel` keeps a copy of a model whose parameters are an average of the
  model's over training: by default the plain running mean of stochastic weight averaging
  (Izmailov et al., 2018), or an exponential moving average with
  ``multi_avg_fn=get_ema_multi_avg_fn(decay)`` (the "EMA model" of many recipes).
* :class:`SWALR` anneals each group's learning rate to a constant ``swa_lr`` over
  ``anneal_epochs`` steps, for the averaging phase.
* :func:`update_bn` recomputes the batch-norm statistics of an averaged model with one pass
  over the data (its averaged weights never saw the running statistics they need).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Iterable
from typing import Any

from ..nn.module import Module
from ..nn.normalization import _BatchNorm
from ..ops import tensor
from ..tensor import Tensor, no_grad
from .lr_scheduler import LRScheduler, _per_group
from .optimizer import Optimizer


def _count(num_averaged: Any) -> float:
    """The number of models averaged so far (a 0-d tensor, as ``n_averaged``, or a number)."""
    return float(num_averaged.item() if isinstance(num_averaged, Tensor) else num_averaged)


def get_ema_multi_avg_fn(decay: float = 0.999) -> Callable[[list, list, Any], None]:
    """An averaging function for :class:`AveragedModel`: ``avg = decay * avg + (1 - decay) * p``,
    in place, for every parameter at once."""
    def ema_update(averaged: list, current: list, num_averaged: Any) -> None:
        for a, p in zip(averaged, current):
            a.lerp_(p, 1 - decay)
    return ema_update


def get_swa_multi_avg_fn() -> Callable[[list, list, Any], None]:
    """The running mean ``avg += (p - avg) / (n + 1)``, in place, for every parameter at once."""
    def swa_update(averaged: list, current: list, num_averaged: Any) -> None:
        n = _count(num_averaged)
        for a, p in zip(averaged, current):
            a.add_((p - a) / (n + 1))
    return swa_update


def get_ema_avg_fn(decay: float = 0.999) -> Callable[[Tensor, Tensor, Any], Tensor]:
    """Per parameter: the new EMA value ``decay * avg + (1 - decay) * p``."""
    return lambda averaged, current, num_averaged: decay * averaged + (1 - decay) * current


def get_swa_avg_fn() -> Callable[[Tensor, Tensor, Any], Tensor]:
    """Per parameter: the new running mean ``avg + (p - avg) / (n + 1)``."""
    return lambda averaged, current, num_averaged: averaged + (current - averaged) / (_count(num_averaged) + 1)


class AveragedModel(Module):
    """A copy of ``model`` (``.module``) whose parameters :meth:`update_parameters` averages with
    the model's: the first call copies them, later ones apply ``multi_avg_fn`` (all at once),
    ``avg_fn`` (one parameter at a time) or the running mean. ``n_averaged`` counts the calls.
    With ``use_buffers`` the buffers (batch-norm statistics) are averaged too; otherwise they
    are copied from the model at every update."""

    def __init__(self, model: Module, device: Any = None, avg_fn: Callable[..., Tensor] | None = None,
                 multi_avg_fn: Callable[..., None] | None = None, use_buffers: bool = False):
        super().__init__()
        if avg_fn is not None and multi_avg_fn is not None:
            raise AssertionError("Only one of avg_fn and multi_avg_fn should be provided")
        self.module = copy.deepcopy(model)
        if device is not None:
            self.module = self.module.to(device)
        self.register_buffer("n_averaged", tensor(0, device=device))
        self.avg_fn, self.multi_avg_fn, self.use_buffers = avg_fn, multi_avg_fn, use_buffers

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        return self.module(*args, **kwargs)

    def _tensors(self, model: Module) -> list[Tensor]:
        return list(model.parameters()) + (list(model.buffers()) if self.use_buffers else [])

    @no_grad()
    def update_parameters(self, model: Module) -> None:
        """Average ``model``'s parameters (and with ``use_buffers`` its buffers) into this copy."""
        mine, theirs = self._tensors(self.module), [t.detach() for t in self._tensors(model)]
        if self.n_averaged.item() == 0:
            for a, p in zip(mine, theirs):
                a.copy_(p)
        elif self.multi_avg_fn is not None:
            floats = [(a, p) for a, p in zip(mine, theirs) if a.dtype.is_floating_point]
            self.multi_avg_fn([a for a, _ in floats], [p for _, p in floats], self.n_averaged)
        else:
            fn = self.avg_fn if self.avg_fn is not None else get_swa_avg_fn()
            for a, p in zip(mine, theirs):
                if a.dtype.is_floating_point:
                    a.copy_(fn(a, p, self.n_averaged))
        if not self.use_buffers:  # the running statistics follow the model they were measured on
            for b, m in zip(self.module.buffers(), model.buffers()):
                b.copy_(m.detach())
        self.n_averaged += 1


@no_grad()
def update_bn(loader: Iterable[Any], model: Module, device: Any = None) -> None:
    """Recompute the running statistics of ``model``'s batch norms as the plain average over one
    pass of ``loader`` (a batch, or the first element of a tuple/list batch, is the input)."""
    norms = [m for m in model.modules() if isinstance(m, _BatchNorm)]
    if not norms:
        return
    momenta = {}
    for m in norms:
        m.reset_running_stats()
        momenta[m] = m.momentum
        m.momentum = None  # a cumulative average
    was_training = model.training
    model.train()
    for batch in loader:
        x = batch[0] if isinstance(batch, (list, tuple)) else batch
        model(x if device is None else x.to(device))
    for m in norms:
        m.momentum = momenta[m]
    model.train(was_training)


class SWALR(LRScheduler):
    """Anneal each group's learning rate from its value to ``swa_lr`` over ``anneal_epochs``
    steps (``"cos"``: along a half cosine; ``"linear"``), then keep it there."""

    def __init__(self, optimizer: Optimizer, swa_lr: float | list[float], anneal_epochs: int = 10,
                 anneal_strategy: str = "cos", last_epoch: int = -1):
        for lr, group in zip(_per_group("swa_lr", optimizer, swa_lr), optimizer.param_groups):
            group["swa_lr"] = lr
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(f"anneal_strategy must by one of 'cos' or 'linear', instead got {anneal_strategy}")
        if not isinstance(anneal_epochs, int) or anneal_epochs < 0:
            raise ValueError(f"anneal_epochs must be equal or greater than 0, got {anneal_epochs}")
        self.anneal_strategy, self.anneal_epochs = anneal_strategy, anneal_epochs
        super().__init__(optimizer, last_epoch)

    def _anneal(self, t: float) -> float:
        return (1 - math.cos(math.pi * t)) / 2 if self.anneal_strategy == "cos" else t

    def get_lr(self) -> list[float]:
        step = self._step_count - 1
        if self.anneal_epochs == 0:
            step = max(1, step)
        prev_alpha = self._anneal(max(0.0, min(1.0, (step - 1) / max(1, self.anneal_epochs))))
        alpha = self._anneal(max(0.0, min(1.0, step / max(1, self.anneal_epochs))))
        lrs = []
        for group in self.optimizer.param_groups:
            swa = group["swa_lr"]
            # the schedule's own previous value, undone from the current lr, so the anneal is exact
            start = swa if prev_alpha == 1 else (group["lr"] - prev_alpha * swa) / (1 - prev_alpha)
            lrs.append(swa * alpha + start * (1 - alpha))
        return lrs


__all__ = ["AveragedModel", "SWALR", "update_bn", "get_ema_multi_avg_fn", "get_swa_multi_avg_fn",
           "get_ema_avg_fn", "get_swa_avg_fn"]
