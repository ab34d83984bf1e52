"""``nn.utils.prune``: zero out chosen weights of a layer, as ``torch.nn.utils.prune``.

Pruning ``module.weight`` moves the parameter to ``weight_orig`` and keeps a 0/1 buffer
``weight_mask``; a forward pre-hook sets the plain attribute ``weight = weight_orig *
weight_mask`` before every call, so the pruned entries stay zero while training updates the
others. Pruning the same tensor again prunes among the entries (or, for structured pruning,
the channels) still standing: ``amount`` -- an int count, or a fraction in [0, 1] rounded to a
count -- refers to those. :func:`remove` makes the pruning permanent.

The methods: :func:`random_unstructured` and :func:`l1_unstructured` (the smallest
``|w|``) choose entries; :func:`random_structured` and :func:`ln_structured` (the smallest
``n``-norm) choose whole slices along ``dim``; :func:`custom_from_mask` takes a mask;
:func:`global_unstructured` ranks entries across several tensors at once.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable
from typing import Any

import numpy as np

from ...ops import ones_like, rand, tensor
from ...tensor import Tensor, no_grad
from ..module import Module
from .hook_norms import find_hook, settle


class _Pruning:
    """The forward pre-hook that recomputes ``module.<name>`` from its original and its mask."""

    def __init__(self, name: str) -> None:
        self.name = name

    def compute(self, module: Module) -> Tensor:
        return getattr(module, self.name + "_orig") * getattr(module, self.name + "_mask")

    def __call__(self, module: Module, inputs: Any) -> None:
        setattr(module, self.name, self.compute(module))


def is_pruned(module: Module) -> bool:
    """Whether any tensor of ``module`` or of its submodules is pruned."""
    return any(isinstance(h, _Pruning) for m in module.modules() for h in m._forward_pre_hooks.values())


def _count(amount: Any, n: int) -> int:
    """``amount`` (a count, or a fraction of ``n``) as a number of entries, checked as PyTorch."""
    if isinstance(amount, bool) or not isinstance(amount, numbers.Real) or amount < 0:
        raise ValueError(f"amount={amount} should either be a float in the range [0, 1] or a non-negative integer")
    if isinstance(amount, numbers.Integral):
        if amount > n:
            raise ValueError(f"amount={amount} should be smaller than the number of parameters to prune={n}")
        return int(amount)
    if amount > 1:
        raise ValueError(f"amount={amount} should either be a float in the range [0, 1] or a non-negative integer")
    return int(round(amount * n))


def _apply(module: Module, name: str, choose: Any) -> Module:
    """Prune ``module.<name>``: ``choose(values, mask)`` returns the new 0/1 mask (numpy) given
    the current values and mask; the first pruning sets up ``<name>_orig``, the mask and the hook."""
    if find_hook(module, _Pruning, name) is None:
        if name not in module._parameters:
            raise AttributeError(f"Parameter '{name}' of module {module} has to be pruned but it is not a parameter")
        original = module._parameters.pop(name)
        module.register_parameter(name + "_orig", original)
        module.register_buffer(name + "_mask", ones_like(original.detach()))
        module.register_forward_pre_hook(_Pruning(name))
    original, mask = getattr(module, name + "_orig"), getattr(module, name + "_mask")
    values = original.detach().numpy()
    new = choose(values, mask.numpy())
    with no_grad():
        mask.copy_(tensor(new, dtype=mask.dtype, device=mask.device))
    _Pruning(name)(module, ())
    return module


def _unstructured(pick: Any, amount: Any) -> Any:
    """A chooser that prunes ``amount`` of the standing entries, the ones ``pick`` ranks first."""
    def choose(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
        standing = np.flatnonzero(mask.reshape(-1))
        k = _count(amount, standing.size)
        out = mask.reshape(-1).copy()
        if k:
            out[standing[pick(values.reshape(-1)[standing])[:k]]] = 0
        return out.reshape(mask.shape)
    return choose


def _structured(pick: Any, amount: Any, dim: int) -> Any:
    """A chooser that prunes ``amount`` of the standing slices along ``dim`` (a slice stands while
    any of its entries does), ranked by ``pick`` of the slices' values."""
    def choose(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
        d = dim % values.ndim
        others = tuple(i for i in range(values.ndim) if i != d)
        standing = np.flatnonzero(mask.any(axis=others))
        k = _count(amount, standing.size)
        out = mask.copy()
        if k:
            chosen = standing[pick(np.moveaxis(values, d, 0)[standing])[:k]]
            index = [slice(None)] * values.ndim
            index[d] = chosen
            out[tuple(index)] = 0
        return out
    return choose


def _random_order(n: int) -> np.ndarray:
    """A random permutation of ``range(n)`` from tinytorch's generator (``tt.manual_seed`` repeats it)."""
    return np.argsort(rand(n).numpy(), kind="stable") if n else np.zeros(0, np.int64)


def identity(module: Module, name: str) -> Module:
    """Prune nothing (the mask is all ones), so that ``<name>_orig`` and ``<name>_mask`` exist."""
    return _apply(module, name, lambda values, mask: mask)


def random_unstructured(module: Module, name: str, amount: Any) -> Module:
    """Prune ``amount`` of the standing entries of ``module.<name>``, chosen at random
    (tinytorch's generator: ``tt.manual_seed`` repeats the choice)."""
    return _apply(module, name, _unstructured(lambda v: _random_order(v.size), amount))


def l1_unstructured(module: Module, name: str, amount: Any, importance_scores: Tensor | None = None) -> Module:
    """Prune ``amount`` of the standing entries with the smallest magnitude (of
    ``importance_scores`` when given, else of the weight itself)."""
    scores = None if importance_scores is None else importance_scores.detach().numpy()
    choose = _unstructured(lambda v: np.argsort(np.abs(v), kind="stable"), amount)
    return _apply(module, name, lambda values, mask: choose(values if scores is None else scores, mask))


def random_structured(module: Module, name: str, amount: Any, dim: int) -> Module:
    """Prune ``amount`` of the standing slices along ``dim`` (e.g. output channels), at random."""
    return _apply(module, name, _structured(lambda v: _random_order(v.shape[0]), amount, dim))


def ln_structured(module: Module, name: str, amount: Any, n: Any, dim: int,
                  importance_scores: Tensor | None = None) -> Module:
    """Prune ``amount`` of the standing slices along ``dim`` with the smallest ``n``-norm
    (``n`` a number, ``inf``, ``-inf`` or ``"fro"``), of ``importance_scores`` when given."""
    order = 2 if n == "fro" else n
    scores = None if importance_scores is None else importance_scores.detach().numpy()

    def pick(slices: np.ndarray) -> np.ndarray:
        norms = np.linalg.norm(slices.reshape(slices.shape[0], -1), ord=order, axis=1)
        return np.argsort(norms, kind="stable")

    choose = _structured(pick, amount, dim)
    return _apply(module, name, lambda values, mask: choose(values if scores is None else scores, mask))


def custom_from_mask(module: Module, name: str, mask: Tensor) -> Module:
    """Prune the entries where ``mask`` is 0 (on top of any earlier pruning)."""
    given = mask.detach().numpy()
    return _apply(module, name, lambda values, current: current * (given != 0))


def global_unstructured(parameters: Iterable[tuple[Module, str]], pruning_method: Any,
                        importance_scores: dict | None = None, **kwargs: Any) -> None:
    """Prune ``amount`` (a keyword) of the standing entries of all the ``(module, name)``
    tensors together, as if they were one: with ``pruning_method=l1_unstructured``, the
    smallest magnitudes across every tensor (``random_unstructured``: at random)."""
    pairs = list(parameters)
    pruning_method = {L1Unstructured: l1_unstructured, RandomUnstructured: random_unstructured}.get(
        pruning_method, pruning_method)
    if pruning_method not in (l1_unstructured, random_unstructured):
        raise TypeError("global_unstructured takes l1_unstructured or random_unstructured as pruning_method")
    for module, name in pairs:
        if find_hook(module, _Pruning, name) is None:
            identity(module, name)
    tensors = [getattr(m, name + "_orig") for m, name in pairs]
    masks = [getattr(m, name + "_mask") for m, name in pairs]
    scores = [(importance_scores or {}).get((m, name), t) for (m, name), t in zip(pairs, tensors)]
    values = np.concatenate([s.detach().numpy().reshape(-1) for s in scores])
    flat_mask = np.concatenate([m.numpy().reshape(-1) for m in masks])
    def pick(v: np.ndarray) -> np.ndarray:
        return np.argsort(np.abs(v), kind="stable") if pruning_method is l1_unstructured else _random_order(v.size)

    new = _unstructured(pick, kwargs.get("amount", 0))(values, flat_mask)
    start = 0
    for (module, name), mask in zip(pairs, masks):
        size = mask.numel()
        part = new[start:start + size].reshape(tuple(mask.shape))
        _apply(module, name, lambda values, current, part=part: part)
        start += size


#: the names PyTorch's programs pass as ``global_unstructured``'s ``pruning_method`` (classes there)
L1Unstructured = l1_unstructured
RandomUnstructured = random_unstructured


def remove(module: Module, name: str) -> Module:
    """Make the pruning of ``module.<name>`` permanent: ``<name>`` is one parameter again
    (``orig * mask``), the original, the mask and the hook are gone."""
    key = find_hook(module, _Pruning, name)
    if key is None:
        raise ValueError(f"Parameter '{name}' of module {module} has to be pruned before pruning can be removed")
    hook = module._forward_pre_hooks.pop(key)
    with no_grad():
        pruned = hook.compute(module)
    return settle(module, name, pruned, name + "_orig", name + "_mask")


__all__ = ["identity", "random_unstructured", "l1_unstructured", "random_structured", "ln_structured",
           "custom_from_mask", "global_unstructured", "remove", "is_pruned", "L1Unstructured", "RandomUnstructured"]
