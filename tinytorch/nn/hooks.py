"""Module hooks: the handle that removes one, and the two graph nodes that run a module's
full backward hooks.

``register_full_backward_hook(hook)`` asks for ``hook(module, grad_input, grad_output)`` once per
backward pass through a call of the module: ``grad_output`` the gradients of its outputs,
``grad_input`` one per positional argument (``None`` for a non-tensor or one that needs none), and
the hook may return replacements for ``grad_input``. Two identity nodes make that happen:

- every output passes through an :class:`OutputGate`, whose backward records the output's
  gradient (it runs before anything below the module in the graph);
- the inputs that require grad go in through one :class:`InputGate` -- the flattened inputs
  concatenated when there are several, so that all their gradients arrive in one backward
  call -- whose backward calls the hooks with everything the output gates recorded and
  passes on what they return.
"""

from __future__ import annotations

import warnings
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from ..hooks import RemovableHandle
from ..ndarray import NDArray
from ..ops import cat
from ..tensor import Function, Tensor, is_grad_enabled


class BackwardHookState:
    """One module call's bookkeeping for its full backward hooks."""

    def __init__(self, module: Any, hooks: "OrderedDict[RemovableHandle, Callable]",
                 pre_hooks: "OrderedDict[RemovableHandle, Callable] | None" = None):
        self.module = module
        self.hooks = list(hooks.values())
        self.pre_hooks = list(pre_hooks.values()) if pre_hooks else []
        self.n_inputs = 0            # positional arguments (grad_input has one entry for each)
        self.input_slots: list[int] = []   # which of them went through the input gate
        self.input_shapes: list[tuple[int, ...]] = []
        self.grad_outputs: list[Tensor | None] = []
        self.outputs_seen = 0
        self.has_input_gate = False

    def run_hooks(self, grads: list[Tensor | None]) -> list[Tensor | None]:
        """Call every hook with ``grads`` (one per tensor argument); a hook's non-None result
        replaces them for the hooks after it and for the graph."""
        grad_input = tuple(grads)
        for hook in self.hooks:
            result = hook(self.module, grad_input, tuple(self.grad_outputs))
            if result is None:
                continue
            result = tuple(result) if isinstance(result, (tuple, list)) else (result,)
            if len(result) != len(grad_input):
                raise RuntimeError(f"Backward hook returned an invalid number of grad_input, got {len(result)}, "
                                   f"but expected {len(grad_input)}")
            grad_input = result
        return list(grad_input)


class InputGate(Function):
    """Identity on the (packed) inputs; its backward calls the module's backward hooks."""

    def forward(self, a: NDArray, state: BackwardHookState) -> NDArray:
        self.state = state
        return a

    def backward(self, g: Tensor) -> Tensor:
        s = self.state
        pieces, offset = [], 0
        for shape in s.input_shapes:
            n = 1
            for d in shape:
                n *= d
            pieces.append(g[offset:offset + n].reshape(*shape) if len(s.input_shapes) > 1 else g)
            offset += n
        grads: list[Tensor | None] = [None] * s.n_inputs
        for slot, piece in zip(s.input_slots, pieces):
            grads[slot] = piece
        grads = s.run_hooks(grads)
        new = [grads[slot] if grads[slot] is not None else piece * 0.0 for slot, piece in zip(s.input_slots, pieces)]
        return new[0] if len(new) == 1 else cat([p.reshape(-1) for p in new])


class OutputGate(Function):
    """Identity on one output; its backward records the output's gradient (and, for a module
    none of whose inputs needs a gradient, calls the hooks once every output has reported)."""

    def forward(self, a: NDArray, state: BackwardHookState, index: int) -> NDArray:
        self.state, self.index = state, index
        return a

    def backward(self, g: Tensor) -> Tensor:
        s = self.state
        for pre_hook in s.pre_hooks:  # one gated output (gate_outputs checks): it is all of grad_output
            result = pre_hook(s.module, (g,))
            if result is not None:
                g = result[0] if isinstance(result, (tuple, list)) else result
        s.grad_outputs[self.index] = g
        s.outputs_seen += 1
        if not s.has_input_gate and s.outputs_seen == len(s.grad_outputs):
            warnings.warn("Full backward hook is firing when gradients are computed with respect to module outputs "
                          "since no inputs require gradients.", stacklevel=2)
            result = s.run_hooks([None] * s.n_inputs)
            if any(r is not None for r in result):
                raise RuntimeError("Backward hook for Modules where no input requires gradient should always "
                                   "return None or None for all gradients.")
        return g


def gate_inputs(state: BackwardHookState, args: tuple) -> tuple:
    """``args`` with its tensors that require grad replaced by views of one :class:`InputGate`."""
    state.n_inputs = len(args)
    wanted = [(i, i) for i, a in enumerate(args) if isinstance(a, Tensor) and a.requires_grad]
    if not wanted or not is_grad_enabled():
        return args
    state.has_input_gate = True
    state.input_slots = [slot for slot, _ in wanted]
    tensors = [args[i] for _, i in wanted]
    state.input_shapes = [tuple(t.shape) for t in tensors]
    out = list(args)
    if len(tensors) == 1:
        out[wanted[0][1]] = InputGate.apply(tensors[0], state=state)
        return tuple(out)
    packed = InputGate.apply(cat([t.reshape(-1) for t in tensors]), state=state)
    offset = 0
    for (_, i), t in zip(wanted, tensors):
        n = t.numel()
        out[i] = packed[offset:offset + n].reshape(*t.shape)
        offset += n
    return tuple(out)


def _too_many_outputs_for_pre_hooks(state: BackwardHookState) -> bool:
    """Backward pre-hooks see (and may replace) every output gradient at once, before any goes
    on; with one identity gate per output that is only possible for a single output."""
    return bool(state.pre_hooks) and len(state.grad_outputs) > 1


def gate_outputs(state: BackwardHookState, result: Any) -> Any:
    """``result`` (a tensor or a tuple/list of them) with each tensor that requires grad passed
    through an :class:`OutputGate`."""
    single = isinstance(result, Tensor)
    items = [result] if single else list(result) if isinstance(result, (tuple, list)) else None
    if items is None or not is_grad_enabled():
        return result
    gated = []
    for item in items:
        if isinstance(item, Tensor) and item.requires_grad:
            state.grad_outputs.append(None)
            item = OutputGate.apply(item, state=state, index=len(state.grad_outputs) - 1)
        gated.append(item)
    if _too_many_outputs_for_pre_hooks(state):
        raise NotImplementedError("register_full_backward_pre_hook is supported for modules with one output "
                                  f"that requires grad; this call of {type(state.module).__name__} has "
                                  f"{len(state.grad_outputs)}")
    if single:
        return gated[0]
    return type(result)(gated)
