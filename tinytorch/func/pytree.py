"""Nested containers of tensors ("pytrees"): flatten to a list of leaves and build back.

The transforms take and return tuples, lists and dicts of tensors, as ``torch.func`` does; they
work on the flat list of leaves and rebuild the structure at the end.

>>> leaves, spec = tree_flatten((1, [2, {"a": 3}]))
>>> leaves
[1, 2, 3]
>>> tree_unflatten([4, 5, 6], spec)
(4, [5, {'a': 6}])
"""

from __future__ import annotations

from typing import Any, Callable

# a spec is None for a leaf, or (container type, keys or length, child specs)
Spec = Any


def tree_flatten(tree: Any) -> tuple[list[Any], Spec]:
    """The leaves of ``tree`` (in order: tuples and lists by position, dicts by key order) and a
    spec that :func:`tree_unflatten` rebuilds the same structure from."""
    leaves: list[Any] = []
    return leaves, _flatten(tree, leaves)


def _flatten(tree: Any, leaves: list[Any]) -> Spec:
    if isinstance(tree, dict):
        return (dict, tuple(tree), tuple(_flatten(v, leaves) for v in tree.values()))
    if isinstance(tree, (tuple, list)):
        kind = type(tree) if type(tree) in (tuple, list) else tuple  # a namedtuple comes back as its class
        return (type(tree) if hasattr(tree, "_fields") else kind, len(tree), tuple(_flatten(v, leaves) for v in tree))
    leaves.append(tree)
    return None


def tree_unflatten(leaves: list[Any], spec: Spec) -> Any:
    """The structure ``spec`` describes, filled with ``leaves`` in order."""
    it = iter(leaves)
    return _unflatten(it, spec)


def _unflatten(it: Any, spec: Spec) -> Any:
    if spec is None:
        return next(it)
    kind, keys, children = spec
    if kind is dict:
        return {k: _unflatten(it, c) for k, c in zip(keys, children)}
    values = [_unflatten(it, c) for c in children]
    if kind in (tuple, list):
        return kind(values)
    return kind(*values)  # a namedtuple


def tree_map(fn: Callable[[Any], Any], tree: Any) -> Any:
    """``tree`` with every leaf replaced by ``fn(leaf)``."""
    leaves, spec = tree_flatten(tree)
    return tree_unflatten([fn(x) for x in leaves], spec)


def broadcast_prefix(prefix: Any, tree: Any, what: str) -> list[Any]:
    """One value of ``prefix`` per leaf of ``tree``: ``prefix`` is a leaf (applied to a whole
    subtree) or a container of the same kind and length as ``tree``'s, recursively (how
    ``in_dims`` and ``out_dims`` match the inputs and outputs). ValueError when they do not fit."""
    out: list[Any] = []
    _broadcast(prefix, tree, what, out)
    return out


def _broadcast(prefix: Any, tree: Any, what: str, out: list[Any]) -> None:
    if not isinstance(prefix, (tuple, list, dict)):
        out.extend([prefix] * len(tree_flatten(tree)[0]))
        return
    if isinstance(prefix, dict) != isinstance(tree, dict) or not isinstance(tree, (tuple, list, dict)) \
            or len(prefix) != len(tree):
        raise ValueError(f"{what} is not compatible with the structure of the inputs/outputs: "
                         f"{what} has structure {_describe(prefix)} but the values have {_describe(tree)}")
    if isinstance(prefix, dict):
        if set(prefix) != set(tree):
            raise ValueError(f"{what} has keys {sorted(prefix)} but the values have keys {sorted(tree)}")
        for k in tree:
            _broadcast(prefix[k], tree[k], what, out)
    else:
        for p, t in zip(prefix, tree):
            _broadcast(p, t, what, out)


def _describe(x: Any) -> str:
    if isinstance(x, dict):
        return "{" + ", ".join(f"{k!r}: {_describe(v)}" for k, v in x.items()) + "}"
    if isinstance(x, (tuple, list)):
        return f"{type(x).__name__}({', '.join(_describe(v) for v in x)})"
    return type(x).__name__
