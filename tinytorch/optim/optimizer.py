"""``Optimizer``: parameter groups, per-parameter state, and saving both.

An optimizer holds ``param_groups`` -- a list of dicts, each with its ``"params"`` and its own
hyper-parameters (so e.g. biases can get no weight decay) -- and ``state``, a dict from each
parameter to what the update rule remembers about it (momentum buffers, moment estimates, ...).
``step()`` walks the groups and updates every parameter that has a gradient, in place.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from ..ndarray import float32, float64
from ..ops import full_like, zeros_like
from ..tensor import Tensor, enable_grad


class Optimizer:
    """Base class: subclasses set ``defaults`` and implement ``step()``.

    Args:
        params: an iterable of tensors, or of dicts (parameter groups) with a ``"params"`` key and
            hyper-parameters that override ``defaults`` for that group.
        defaults: the default hyper-parameters.
    """

    def __init__(self, params: Iterable[Any], defaults: dict[str, Any]):
        if isinstance(params, Tensor):
            raise TypeError("params argument given to the optimizer should be an iterable of Tensors or dicts, "
                            "but got a Tensor")
        self.defaults = defaults
        self.state: dict[Any, dict[str, Any]] = {}
        self.param_groups: list[dict[str, Any]] = []
        groups = list(params)
        if not groups:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group of parameters with its own hyper-parameters (missing ones from ``defaults``)."""
        group = dict(param_group)
        params = group["params"]
        group["params"] = [params] if isinstance(params, Tensor) else list(params)
        for p in group["params"]:
            if not isinstance(p, Tensor):
                raise TypeError(f"optimizer can only optimize Tensors, but one of the params is {type(p).__name__}")
            if not p.is_leaf:
                raise ValueError("can't optimize a non-leaf Tensor")
        for name, default in self.defaults.items():
            group.setdefault(name, default)
        existing = {id(p) for g in self.param_groups for p in g["params"]}
        if any(id(p) in existing for p in group["params"]):
            raise ValueError("some parameters appear in more than one parameter group")
        self.param_groups.append(group)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset every parameter's gradient: to None (the default, saving memory), or to zeros."""
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    p.grad = None if set_to_none else zeros_like(p.grad)

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        raise NotImplementedError

    def _stepped(self, group: dict[str, Any], **buffers: float) -> Iterator[tuple[Tensor, dict[str, Any]]]:
        """Each parameter of ``group`` that has a gradient, with its state, ``step`` advanced. A
        parameter seen for the first time starts at step 0 with one tensor of its shape per
        keyword, filled with that value (``exp_avg=0.0``), in the keywords' order."""
        for p in group["params"]:
            if p.grad is None:
                continue
            state = self.state.setdefault(p, {})
            if not state:
                state["step"] = 0
                state.update((name, full_like(p, value)) for name, value in buffers.items())
            state["step"] += 1
            yield p, state

    def _closure_loss(self, closure: Callable[[], Any] | None) -> Any:
        if closure is None:
            return None
        with enable_grad():
            return closure()

    # ------------------------------------------------------------------ saving
    def state_dict(self) -> dict[str, Any]:
        """``{"state": {index: {...}}, "param_groups": [{..., "params": [index, ...]}]}``, where
        parameters are numbered in order across the groups, as PyTorch does (so the dict can be
        saved and loaded into an optimizer over a freshly built model)."""
        index: dict[int, int] = {}
        groups = []
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            packed["params"] = []
            for p in group["params"]:
                index.setdefault(id(p), len(index))
                packed["params"].append(index[id(p)])
            groups.append(packed)
        state = {index[id(p)]: dict(s) for p, s in self.state.items() if id(p) in index}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore hyper-parameters and state saved by :meth:`state_dict` (copies the tensors,
        moving them to each parameter's device and floating state to its dtype)."""
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups):
            raise ValueError("loaded state dict has a different number of parameter groups")
        if any(len(s["params"]) != len(g["params"]) for s, g in zip(saved_groups, self.param_groups)):
            raise ValueError("loaded state dict contains a parameter group that doesn't match the size of "
                             "optimizer's group")
        params = {i: p for s, g in zip(saved_groups, self.param_groups) for i, p in zip(s["params"], g["params"])}
        self.state = {}
        for i, s in state_dict["state"].items():
            i = int(i)
            if i not in params:
                continue
            p = params[i]
            self.state[p] = {k: _to_param(v, p) for k, v in s.items()}
        for saved, group in zip(saved_groups, self.param_groups):
            for k, v in saved.items():
                if k != "params":
                    group[k] = copy.deepcopy(v)

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines += [f"    {k}: {group[k]}" for k in sorted(group) if k != "params"]
        return "\n".join(lines) + "\n)"


def _to_param(value: Any, p: Any) -> Any:
    if not isinstance(value, Tensor):
        return copy.deepcopy(value)
    value = value.detach().to(p.device)
    if value.dtype in (float32, float64):
        value = value.to(p.dtype)
    return value.clone()
