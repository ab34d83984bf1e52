"""``functional_call``: run a module with parameters and buffers given in a dict, not its own.

A module becomes a pure function of its weights: ``functional_call(model, params, (x,))``
computes what ``model(x)`` would with ``params`` in place of the module's tensors, and leaves
the module as it was. This is what lets ``tinytorch.func.grad`` differentiate a model with
respect to a dict of weights, and ``vmap`` map over many sets of weights or examples.
"""

from __future__ import annotations

from typing import Any

from ...tensor import Tensor
from ..module import Module


def functional_call(module: Module, parameter_and_buffer_dicts: Any, args: Any = None, kwargs: Any = None, *,
                    tie_weights: bool = True, strict: bool = False) -> Any:
    """``module(*args, **kwargs)`` with the tensors of ``parameter_and_buffer_dicts`` (a dict of
    dotted names such as ``"0.weight"``, or a tuple of such dicts) standing in for the
    module's parameters and buffers of those names, for this call only.

    ``strict=True`` requires the dicts to name every parameter and buffer exactly (RuntimeError
    listing the missing and unexpected keys). With ``tie_weights`` (the default) a tensor that
    the module holds under two names is replaced under both when one of them is given.

    >>> import tinytorch as tt
    >>> lin = tt.nn.Linear(2, 1, device="numpy")
    >>> w = {"weight": tt.ones(1, 2, device="numpy"), "bias": tt.zeros(1, device="numpy")}
    >>> functional_call(lin, w, (tt.tensor([[1.0, 2.0]], device="numpy"),)).item()
    3.0
    """
    dicts = parameter_and_buffer_dicts if isinstance(parameter_and_buffer_dicts, (tuple, list)) \
        else (parameter_and_buffer_dicts,)
    given: dict[str, Any] = {}
    for d in dicts:
        for name, value in d.items():
            if name in given:
                raise ValueError(f"{name} appeared in multiple dictionaries; behavior of functional call is "
                                 "ambiguous")
            given[name] = value
    if tie_weights:
        given = _tied(module, given)
    if strict:
        _check_strict(module, given)
    args = () if args is None else args if isinstance(args, tuple) else (args,)
    saved = [_swap(module, name, value) for name, value in given.items()]
    try:
        return module(*args, **(kwargs or {}))
    finally:
        for owner, registry, leaf, old in reversed(saved):
            _put(owner, registry, leaf, old)


def _tied(module: Module, given: dict[str, Any]) -> dict[str, Any]:
    """``given`` plus, for each given name, the other names under which the module holds the
    same tensor (PyTorch's ``tie_weights``)."""
    names_of: dict[int, list[str]] = {}
    for name, t in list(module.named_parameters(remove_duplicate=False)) + \
            list(module.named_buffers(remove_duplicate=False)):
        names_of.setdefault(id(t), []).append(name)
    out = dict(given)
    for names in names_of.values():
        chosen = [n for n in names if n in given]
        if len(chosen) > 1 and any(given[n] is not given[chosen[0]] for n in chosen):
            raise ValueError(f"functional_call got multiple values for keys {chosen}, which are tied. Consider "
                             "using tie_weights=False")
        if chosen:
            for n in names:
                out.setdefault(n, given[chosen[0]])
    return out


def _check_strict(module: Module, given: dict[str, Any]) -> None:
    expected = {n for n, _ in module.named_parameters(remove_duplicate=False)} | \
        {n for n, _ in module.named_buffers(remove_duplicate=False)}
    missing, unexpected = sorted(expected - set(given)), sorted(set(given) - expected)
    if missing or unexpected:
        raise RuntimeError(f"Error(s) in reparametrizing for {type(module).__name__}:\n"
                           f"\tUnexpected key(s): {', '.join(map(repr, unexpected))}.\n"
                           f"\tMissing key(s): {', '.join(map(repr, missing))}.")


def _swap(module: Module, name: str, value: Any) -> tuple[Module, str, str, Any]:
    """Put ``value`` where the module holds ``name``; returns what is needed to put the old one back."""
    *path, leaf = name.split(".")
    owner = module.get_submodule(".".join(path)) if path else module
    for registry in ("_parameters", "_buffers"):
        store = owner.__dict__[registry]
        if leaf in store:
            old = store[leaf]
            _put(owner, registry, leaf, value)
            return owner, registry, leaf, old
    if leaf in owner.__dict__ and not isinstance(owner.__dict__[leaf], Module):
        old = owner.__dict__[leaf]
        owner.__dict__[leaf] = value
        return owner, "__dict__", leaf, old
    raise AttributeError(f"{type(owner).__name__} has no parameter or buffer named {leaf!r} (from {name!r})")


def _put(owner: Module, registry: str, leaf: str, value: Any) -> None:
    if registry == "__dict__":
        owner.__dict__[leaf] = value
    elif value is not None and not isinstance(value, Tensor):
        raise TypeError(f"functional_call: the value for {leaf!r} must be a Tensor, got {type(value).__name__}")
    else:
        owner.__dict__[registry][leaf] = value
