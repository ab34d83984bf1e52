"""Many models as one: :func:`stack_module_state` for ensembles run under ``vmap``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..nn.module import Module
from ..ops.movement import stack


def stack_module_state(models: Sequence[Module]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(params, buffers)``: each parameter and buffer of ``models`` (all of one architecture)
    stacked along a new dimension 0, by name (``torch.func.stack_module_state``). The stacked
    parameters are new leaves that require grad where the models' do. With
    ``functional_call`` and ``vmap(..., in_dims=(0, 0, None))`` an ensemble runs as one model.

    >>> import tinytorch as tt
    >>> params, _ = stack_module_state([tt.nn.Linear(2, 3, device="numpy") for _ in range(4)])
    >>> tuple(params["weight"].shape)
    (4, 3, 2)
    """
    models = list(models)
    if not models:
        raise RuntimeError("stack_module_state: Expected at least one model, got 0.")
    if not all(m.training for m in models) and any(m.training for m in models):
        raise RuntimeError("stack_module_state: Expected all models to have the same training/eval mode.")
    kinds = {type(m) for m in models}
    if len(kinds) > 1:
        raise RuntimeError(f"stack_module_state: Expected all models to be of the same class, got "
                           f"{sorted(k.__name__ for k in kinds)}")
    names = [name for name, _ in models[0].named_parameters()]
    params = {}
    for name in names:
        ps = [m.get_parameter(name) for m in models]
        params[name] = stack([p.detach() for p in ps]).requires_grad_(ps[0].requires_grad)
    buffers = {name: stack([m.get_buffer(name) for m in models]) for name, _ in models[0].named_buffers()}
    return params, buffers
