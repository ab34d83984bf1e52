"""Reverse-mode automatic differentiation: the engine that runs the graph backwards.

The graph is made of :class:`~tinytorch.tensor.Function` nodes (see :mod:`tinytorch.tensor`);
each result remembers the node that made it, and each node its inputs. ``backward`` is two
steps, as in micrograd:

1. :func:`topo_order`, a topological sort of the nodes reachable from the output (iterative,
   so a chain of 100,000 ops needs no recursion), and
2. one pass over the nodes from the output back to the leaves, calling each node's
   ``backward`` (the chain rule) and summing the gradients that reach the same tensor.

A node's ``backward`` is written with Tensor ops, so with ``create_graph=True`` the backward
pass is itself recorded and can be differentiated again (higher-order gradients).

Gradients of broadcast inputs are reduced back to the input's shape in exactly one place,
:func:`unbroadcast`, called by the engine: no op's ``backward`` has to think about it.

This module sits above the ops (it sums, reshapes, casts and adds gradients with them) and
gives ``Tensor`` its ``backward`` method through the op table.

>>> import tinytorch as tt
>>> x = tt.tensor([1.0, 2.0, 3.0], requires_grad=True, device="numpy")
>>> (x * x).sum().backward()
>>> x.grad
tensor([2., 4., 6.], device='numpy')
"""

from __future__ import annotations

import weakref
from collections import OrderedDict
from typing import Any, Callable, Sequence

from ..hooks import RemovableHandle
from ..ops.creation import full_like, ones_like
from ..ops.elementwise import add
from ..ops.inplace import add_
from ..ops.movement import PlacedGrad, placed_gradients, reshape, to
from ..ops.reduce import sum as sum_
from ..ops.table import op
from ..tensor import Function as Node
from ..tensor import (
    Tensor,
    _set_grad_enabled,
    enable_grad,
    inference_mode,
    is_grad_enabled,
    is_inference_mode_enabled,
    no_grad,
    postorder,
    set_grad_enabled,
)

# --- the backward pass -----------------------------------------------------------------------------
_FREED = ("Trying to backward through the graph a second time (or directly access saved tensors after they "
          "have already been freed). Saved intermediate values of the graph are freed when you call .backward() "
          "or autograd.grad(). Specify retain_graph=True if you need to backward through the graph a second time "
          "or if you need to access saved tensors after calling backward.")


def topo_order(roots: list[Node]) -> list[Node]:
    """Every node reachable from ``roots``, each after all the nodes that made its inputs.

    A depth-first search (:func:`~tinytorch.tensor.postorder`) over the nodes that made each
    node's inputs.

    Which input is expanded first does not change what backward computes, but it changes
    *when* a parameter's gradient is complete. Backward walks the order reversed, so inputs
    made by a node of leaves only -- a weight's transpose or reshape, as in ``x @ w.t()`` or
    a convolution -- are expanded last: backward reaches them right after the node that uses
    them, before the earlier layers behind its other inputs. Each layer's parameters then get
    their complete gradients (and run their hooks) as early as they can, which lets
    data-parallel training start averaging them during backward. (PyTorch gets the same
    effect by running the most recently created node first.) Otherwise the first input is
    expanded first.
    """
    def inputs_made_by(node: Node) -> list[Node]:
        if node.inputs is None:
            raise RuntimeError(_FREED)
        made = [t._ctx for t in reversed(node.inputs) if isinstance(t, Tensor) and t._ctx is not None]
        if len(made) > 1:  # listed first, expanded last: the nodes made of leaves only
            made.sort(key=_made_of_other_nodes)
        return made

    return postorder(roots, inputs_made_by)


def _made_of_other_nodes(node: Node) -> bool:
    """False for a node whose tensor inputs are all leaves (a weight's transpose, say)."""
    return node.inputs is None or any(isinstance(t, Tensor) and t._ctx is not None for t in node.inputs)


def _check_grad_shape(grad: Tensor, shape: tuple[int, ...], node: Node, index: int) -> None:
    """Raise PyTorch's error when a backward returned a gradient that does not broadcast to ``shape``."""
    lead = grad.ndim - len(shape)
    if lead < 0 or any(n not in (1, m) for n, m in zip(shape, grad.shape[lead:])):
        raise RuntimeError(f"Function {node.name()} returned an invalid gradient at index {index} - got "
                           f"{list(grad.shape)} but expected shape compatible with {list(shape)}")


def unbroadcast(grad: Tensor, shape: tuple[int, ...]) -> Tensor:
    """Sum ``grad`` (the gradient of a broadcast result) down to ``shape``, the input's shape.

    Broadcasting copied the input along the leading axes it lacked and along its size-1 axes,
    so its gradient is the sum over those axes. This is the one place where that happens.
    (Lab 5 asks for exactly this function, with this signature, and plugs it into the engine.)
    """
    lead = grad.ndim - len(shape)
    ones = tuple(lead + i for i, n in enumerate(shape) if n == 1 and grad.shape[lead + i] != 1)
    if not ones:  # only leading axes were added (a bias, say): one sum gives the shape
        return sum_(grad, tuple(range(lead))) if lead else grad
    grad = sum_(grad, tuple(range(lead)) + ones, keepdim=True)
    return reshape(grad, shape) if lead else grad


def _run_backward(roots: Sequence[Tensor], root_grads: Sequence[Tensor], retain_graph: bool, create_graph: bool,
                  targets: Sequence[Tensor] | None = None, owned: dict[int, Tensor] | None = None
                  ) -> dict[int, tuple[Tensor, Tensor]]:
    """The engine. Propagates ``root_grads`` from ``roots`` back through the graph.

    Returns ``{id(t): (t, gradient)}`` for every leaf that received a gradient and, when
    ``targets`` is given, for each target (leaf or not). With ``targets``, nodes from which
    no target can be reached are skipped. ``owned``, when given, is filled with the returned
    gradients that no one but the engine holds (see :func:`_summed`): ``.grad`` may keep those
    without a copy.
    """
    order = topo_order([r._ctx for r in roots if r._ctx is not None])
    node_grads: dict[int, Tensor] = {}  # id(node) -> gradient of that node's output
    leaf_grads: dict[int, tuple[Tensor, Tensor]] = {}  # id(leaf) -> (leaf, its gradient)
    wanted = None if targets is None else _nodes_reaching(order, targets)
    seen_grads: dict[int, Tensor] = {}
    uses = _hooked_leaf_uses(order)  # a leaf's hooks run once the last node using it is done
    owned = {} if owned is None else owned  # gradients that nothing but the engine sees (see _summed)
    prev = _set_grad_enabled(create_graph)
    try:
        with placed_gradients(not create_graph):  # slices' gradients may come back as PlacedGrad
            for r, g in zip(roots, root_grads):
                _accumulate(node_grads, leaf_grads, r, g, owned)
            for node in reversed(order):  # the chain rule, from the output back to the leaves
                inputs = node.inputs
                if id(node) in node_grads and (wanted is None or id(node) in wanted):
                    g = node_grads.pop(id(node))
                    owned.pop(id(g), None)  # handed to a backward now: it may return it, or keep it
                    g = seen_grads[id(node)] = _tensor_hooks_applied(node, g, create_graph)
                    fresh = node.fresh_grads and not create_graph
                    for t, tg in _input_grads(node, node.backward(g)):
                        if fresh and type(tg) is Tensor:  # a new array, no one else's
                            owned[id(tg)] = tg
                        _accumulate(node_grads, leaf_grads, t, tg, owned)
                    if not retain_graph:
                        node.release()
                _leaf_hooks_when_final(inputs, uses, leaf_grads, owned)
            for key in list(leaf_grads):  # leaves that no node used (a root that is a leaf)
                if key not in uses:
                    _run_leaf_hooks(leaf_grads, key, owned)
    finally:
        _set_grad_enabled(prev)
    for t in targets or ():  # a non-leaf target's gradient is the one its node received
        if t._ctx is not None and id(t._ctx) in seen_grads:
            leaf_grads[id(t)] = (t, seen_grads[id(t._ctx)])
    return leaf_grads


def _hooked_leaf_uses(order: list[Node]) -> dict[int, int]:
    """``{id(leaf): number of inputs of the nodes in order that are that leaf}`` for the leaves
    that have hooks: when the count reaches zero, the leaf's gradient is complete."""
    uses: dict[int, int] = {}
    for node in order:
        for t in node.inputs:  # type: ignore[union-attr]
            if isinstance(t, Tensor) and t._ctx is None and _leaf_hooks(t):
                uses[id(t)] = uses.get(id(t), 0) + 1
    return uses


def _leaf_hooks_when_final(inputs: Any, uses: dict[int, int], leaf_grads: dict, owned: dict[int, Tensor]) -> None:
    """Count down the uses of the hooked leaves among a finished node's ``inputs``; a leaf whose
    last use this was has its whole gradient: run its hooks now, while backward goes on (so that,
    say, data-parallel training can start communicating that gradient early)."""
    for t in inputs or ():
        if isinstance(t, Tensor) and id(t) in uses:
            uses[id(t)] -= 1
            if uses[id(t)] == 0 and id(t) in leaf_grads:
                _run_leaf_hooks(leaf_grads, id(t), owned)


def _run_leaf_hooks(leaf_grads: dict, key: int, owned: dict[int, Tensor]) -> None:
    t, g = leaf_grads[key]
    if (hooks := _leaf_hooks(t)):
        owned.pop(id(g), None)  # a hook may keep the gradient it is shown
        leaf_grads[key] = (t, _call_hooks(hooks, g))


def _input_grads(node: Node, grads: Any) -> "list[tuple[Tensor, Tensor | PlacedGrad]]":
    """``(input, gradient)`` for each input of ``node`` that wants one, from what its ``backward``
    returned: checked (PyTorch's errors), summed down to the input's shape and cast to its dtype."""
    grads = grads if isinstance(grads, tuple) else (grads,)
    if len(grads) != len(node.inputs):
        raise RuntimeError(f"function {node.name()} returned an incorrect number of gradients "
                           f"(expected {len(node.inputs)}, got {len(grads)})")
    out: "list[tuple[Tensor, Tensor | PlacedGrad]]" = []
    for i, (t, need, tg) in enumerate(zip(node.inputs, node.needs_input_grad, grads)):
        if not need or tg is None:
            continue
        if isinstance(tg, PlacedGrad):  # made by an index's backward: the input's shape and dtype
            out.append((t, tg))
            continue
        if not isinstance(tg, Tensor):
            raise TypeError(f"function {node.name()} returned a {type(tg).__name__} as gradient {i}; "
                            f"backward must return Tensors (or None)")
        if tg.shape != t.shape:  # shapes, not arrays': under vmap a gradient is one example's
            _check_grad_shape(tg, t.shape, node, i)
            tg = unbroadcast(tg, t.shape)
        out.append((t, tg if tg._data.dtype is t._data.dtype else to(tg, dtype=t._data.dtype)))
    return out


def _accumulate(node_grads: dict, leaf_grads: dict, t: Tensor, g: "Tensor | PlacedGrad",
                owned: dict[int, Tensor]) -> None:
    """Add ``g`` to the gradient collected for ``t``: per node for results, per tensor for leaves."""
    if t._ctx is not None:
        key = id(t._ctx)
        node_grads[key] = _summed(node_grads.get(key), g, owned)
    else:
        key = id(t)
        leaf_grads[key] = (t, _summed(leaf_grads[key][1] if key in leaf_grads else None, g, owned))


def _summed(acc: Tensor | None, g: "Tensor | PlacedGrad", owned: dict[int, Tensor]) -> Tensor:
    """``acc + g`` (``g`` alone when nothing was collected yet).

    A :class:`~tinytorch.ops.movement.PlacedGrad` (the gradient of a slice: zeros but at its
    key) is written, not added as a whole array: into fresh zeros, or in place into ``acc``
    when no one but the engine holds ``acc`` (``owned``: a sum or placed zeros the engine made,
    or a new gradient of a ``fresh_grads`` op, that no backward has seen yet); an ordinary ``g``
    is added into such an ``acc`` in place too. Only when the backward pass is not recorded: a
    recorded sum must stay a graph node."""
    if isinstance(g, PlacedGrad):
        if acc is not None and id(acc) in owned:
            g.add_into(acc._data)
            return acc
        placed = Tensor._make(g.dense(), False, None)
        if acc is not None:
            owned.pop(id(acc), None)
            placed = add(acc, placed)
        owned[id(placed)] = placed
        return placed
    if acc is None:
        return g
    owned.pop(id(g), None)  # it lives on only inside the sum: let it go when the sum is made
    if id(acc) in owned and not is_grad_enabled() and g.shape == acc.shape and g.dtype == acc.dtype:
        acc._data.add_(g._data)
        return acc
    owned.pop(id(acc), None)
    total = add(acc, g)
    owned[id(total)] = total
    return total


def _nodes_reaching(order: list[Node], targets: Sequence[Tensor]) -> set[int]:
    """The ids of the nodes in ``order`` from which some target tensor can be reached."""
    target_ids = {id(t) for t in targets}
    wanted = {id(t._ctx) for t in targets if t._ctx is not None}
    for node in order:  # inputs come before the nodes that use them
        for t in node.inputs:  # type: ignore[union-attr]
            if isinstance(t, Tensor) and (id(t) in target_ids or id(t._ctx) in wanted):
                wanted.add(id(node))
                break
    return wanted


def _root_grads(outputs: Sequence[Tensor], grad_outputs: Sequence[Any] | None) -> list[Tensor]:
    grads = []
    for i, out in enumerate(outputs):
        if not isinstance(out, Tensor):
            raise TypeError(f"expected a Tensor as output {i}, got {type(out).__name__}")
        if not out.requires_grad:
            raise RuntimeError(f"element {i} of tensors does not require grad and does not have a grad_fn")
        g = None if grad_outputs is None else grad_outputs[i]
        if g is None:
            if out.numel() != 1:
                raise RuntimeError(f"grad can be implicitly created only for scalar outputs "
                                   f"(output {i} has shape {out.shape})")
            g = ones_like(out)
        elif not isinstance(g, Tensor):
            g = full_like(out, g)
        elif g.shape != out.shape:
            raise RuntimeError(f"Mismatch in shape: grad_output[{i}] has a shape of {g.shape} and output[{i}] "
                               f"has a shape of {out.shape}.")
        grads.append(g)
    return grads


def _as_list(x: Any) -> list:
    return list(x) if isinstance(x, (list, tuple)) else [x]


def backward(tensors: Any, grad_tensors: Any = None, retain_graph: bool | None = None, create_graph: bool = False,
             inputs: Any = None) -> None:
    """Accumulate the gradients of ``tensors`` into ``.grad`` of the leaves (``tt.autograd.backward``).

    Like PyTorch: the first gradient is stored, later ones are added in place; with
    ``inputs`` only those tensors (leaves or not) receive ``.grad``.
    """
    tensors = _as_list(tensors)
    root_grads = _root_grads(tensors, None if grad_tensors is None else _as_list(grad_tensors))
    targets = None if inputs is None else _as_list(inputs)
    if retain_graph is None:
        retain_graph = create_graph
    owned: dict[int, Tensor] = {}
    found = _run_backward(tensors, root_grads, retain_graph, create_graph, targets, owned)
    if targets is not None:
        found = {id(t): found[id(t)] for t in targets if id(t) in found}
    for t, g in found.values():
        _store_grad(t, g, create_graph, id(g) in owned)


def _store_grad(t: Tensor, g: Tensor, create_graph: bool, owned: bool = False) -> None:
    """Accumulate ``g`` into ``t.grad``: the first gradient is stored, later ones are added.
    An ``owned`` gradient (an array that nothing but the engine holds) is stored as it is when
    compact; any other is copied, so that ``.grad`` never shares memory with anything."""
    if create_graph:
        t.grad = g if t.grad is None else add(t.grad, g)
    elif t.grad is None:  # .grad owns its memory, detached from any graph
        t.grad = Tensor._make(g._data if owned and g._data.is_compact() else g._data.copy(), False, None)
    else:
        with no_grad():
            add_(t.grad, g)


# --- tensor hooks and retained gradients ------------------------------------------------------------
#: hooks of leaf tensors, by id (a leaf has no node to hold them; a non-leaf's hooks live on its
#: node). Keyed by identity, not equality (``==`` on tensors is elementwise); an entry goes away
#: with its tensor through the weak reference's callback.
_LEAF_HOOKS: "dict[int, tuple[weakref.ref, OrderedDict]]" = {}


def _leaf_hooks(t: Tensor) -> "OrderedDict | None":
    entry = _LEAF_HOOKS.get(id(t))
    return entry[1] if entry is not None and entry[0]() is t else None


def _call_hooks(hooks: "OrderedDict[RemovableHandle, Callable]", g: Tensor) -> Tensor:
    """Run ``hooks`` in order on the gradient ``g``; a hook that returns a Tensor replaces it."""
    for hook in list(hooks.values()):
        out = hook(g)
        if out is not None:
            if not isinstance(out, Tensor) or out.shape != g.shape:
                raise RuntimeError(f"hook {getattr(hook, '__name__', hook)!r} returned "
                                   f"{type(out).__name__ if not isinstance(out, Tensor) else tuple(out.shape)}; "
                                   f"a hook must return None or a Tensor of the gradient's shape {tuple(g.shape)}")
            g = out
    return g


def _tensor_hooks_applied(node: Node, g: Tensor, create_graph: bool) -> Tensor:
    """The gradient of ``node``'s output after the output tensor's hooks, also stored in its
    ``.grad`` if ``retain_grad()`` asked for that."""
    hooks = node.__dict__.get("_tensor_hooks")
    if hooks:
        g = _call_hooks(hooks, g)
    retained = node.__dict__.get("_retained")
    if retained is not None and (t := retained()) is not None:
        _store_grad(t, g, create_graph)
    return g


def _forget_leaf(key: int) -> Callable[[Any], None]:
    """The callback that drops a leaf's hooks when the leaf is garbage-collected."""
    return lambda _ref: _LEAF_HOOKS.pop(key, None) and None


@op(function=False, grad=False)
def register_hook(self: Tensor, hook: Callable[[Tensor], Tensor | None]) -> RemovableHandle:
    """Call ``hook(grad)`` each time the gradient with respect to this tensor is computed
    (once per backward pass, with the whole gradient); if it returns a Tensor, that replaces the
    gradient from there on. Returns a handle whose ``remove()`` unregisters the hook."""
    if not self.requires_grad:
        raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
    if self._ctx is None:
        hooks = _leaf_hooks(self)
        if hooks is None:
            hooks = OrderedDict()
            _LEAF_HOOKS[id(self)] = (weakref.ref(self, _forget_leaf(id(self))), hooks)
    else:
        hooks = self._ctx.__dict__.setdefault("_tensor_hooks", OrderedDict())
    handle = RemovableHandle(hooks)
    hooks[handle] = hook
    return handle


@op(function=False, grad=False)
def retain_grad(self: Tensor) -> None:
    """Make a non-leaf tensor keep its gradient in ``.grad`` after backward (leaves always do)."""
    if not self.requires_grad:
        raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
    if self._ctx is not None:
        self._ctx.__dict__["_retained"] = weakref.ref(self)


@op(function=False, prop=True, grad=False)
def retains_grad(self: Tensor) -> bool:
    """True for a non-leaf tensor whose ``retain_grad()`` was called."""
    retained = None if self._ctx is None else self._ctx.__dict__.get("_retained")
    return retained is not None and retained() is self


def grad(outputs: Any, inputs: Any, grad_outputs: Any = None, retain_graph: bool | None = None,
         create_graph: bool = False, allow_unused: bool | None = None) -> tuple[Tensor | None, ...]:
    """The gradients of ``outputs`` with respect to each of ``inputs``, returned (not accumulated).

    With ``create_graph=True`` the returned gradients are themselves differentiable.

    >>> import tinytorch as tt
    >>> x = tt.tensor(2.0, requires_grad=True, device="numpy")
    >>> (dy,) = tt.autograd.grad(x ** 3, x, create_graph=True)
    >>> tt.autograd.grad(dy, x)[0].item()
    12.0
    """
    outputs, inputs = _as_list(outputs), _as_list(inputs)
    for i, t in enumerate(inputs):
        if not isinstance(t, Tensor):
            raise TypeError(f"expected a Tensor as input {i}, got {type(t).__name__}")
        if not t.requires_grad:
            raise RuntimeError("One of the differentiated Tensors does not require grad")
    root_grads = _root_grads(outputs, None if grad_outputs is None else _as_list(grad_outputs))
    if retain_graph is None:
        retain_graph = create_graph
    found = _run_backward(outputs, root_grads, retain_graph, create_graph, inputs)
    result = []
    for t in inputs:
        g = found[id(t)][1] if id(t) in found else None
        if g is None and not allow_unused:
            raise RuntimeError("One of the differentiated Tensors appears to not have been used in the graph. "
                               "Set allow_unused=True if this is the desired behavior.")
        result.append(g if g is None or create_graph else g.detach())
    return tuple(result)


@op(name="backward", function=False, grad=False)
def tensor_backward(self: Tensor, gradient: Tensor | None = None, retain_graph: bool | None = None,
                    create_graph: bool = False, inputs: Sequence[Tensor] | None = None) -> None:
    """``Tensor.backward``: accumulate d(self)/d(leaf) into ``leaf.grad`` for every leaf that
    requires grad. ``gradient`` is d(something)/d(self); it may be omitted for a one-element
    tensor. The graph is freed afterwards unless ``retain_graph`` (default: ``create_graph``)."""
    backward([self], None if gradient is None else [gradient], retain_graph, create_graph, inputs)


__all__ = ["Tensor", "no_grad", "enable_grad", "set_grad_enabled",
           "is_grad_enabled", "inference_mode", "is_inference_mode_enabled", "grad", "backward", "topo_order",
           "unbroadcast"]
