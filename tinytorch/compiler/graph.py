"""Whole-call replay: a plan's forward pass *and its backward pass* as two recorded kernel programs.

A :class:`~.runtime.Plan` still runs one Function per op, and its backward pass is the eager
engine's, node by node. A :class:`GraphProgram` goes one level lower: it runs the plan once while
a :class:`~tinytorch.ndarray.program.KernelRecorder` writes down every backend call, then (when a
gradient is needed) runs the backward pass of that call with ``autograd.grad`` as a second
*phase* of the same recording. From then on a call replays phase 0, the kernels of the forward
pass, and returns its outputs wired to **one** autograd node, :class:`CompiledGraph`; when the
engine reaches that node it replays phase 1, the kernels of the backward pass, on the output
gradients it was given. This is what ``torch.compile``'s AOTAutograd does: the backward pass is
captured ahead of time, so neither pass runs Python per op.

What a forward pass saves for its backward pass (phase 1 reads buffers that phase 0 made) is
allocated fresh at every call and held by that call's node, so two forward passes before one
backward pass each keep their own. Values used only inside a phase share the program's arenas
(the memory plan of :func:`~tinytorch.ndarray.program.plan_memory`).

The recording starts from detached copies of the inputs, so the captured backward pass ends at
the compiled call's inputs and weights; the engine carries the gradients on from there.
"""

from __future__ import annotations

from typing import Any

from ..autograd import grad as autograd_grad
from ..ndarray import NDArray, full
from ..ndarray.program import GuardFailed, KernelProgram, KernelRecorder
from ..tensor import Function, Tensor, is_grad_enabled
from .runtime import Plan


class NotReplayable(Exception):
    """The recorded call cannot be replayed at the kernel level (the plan is used instead)."""


class CompiledGraph(Function):
    """The autograd node of one replayed call: ``inputs`` are the call's tensors that require
    grad; ``backward`` replays the backward program on the outputs' gradients."""

    graph: "GraphProgram"
    state: dict[int, Any]  # what this call's forward replay saved for the backward replay
    arrays: list[NDArray]  # this call's inputs
    grads: list[Tensor | None]  # the outputs' gradients, gathered by _Output nodes (several outputs)

    def backward(self, g: Tensor) -> tuple[Tensor | None, ...]:
        if is_grad_enabled():
            raise RuntimeError("tt.compile: a compiled call's backward pass is a recorded kernel program and is not "
                               "differentiable again (create_graph=True); run that code without tt.compile")
        gs = [g] if len(self.graph.diff) == 1 else self.grads
        return self.graph.backward(self.state, self.arrays, gs)

    def name(self) -> str:
        return "CompiledFunctionBackward"


class _Output(Function):
    """Output ``i`` of a call with several differentiable outputs: its ``backward`` hands the
    gradient to the call's node (which runs after every output's node) and gives its anchor a
    zero."""

    node: CompiledGraph
    i: int

    def backward(self, g: Tensor) -> Tensor:
        self.node.grads[self.i] = g
        return Tensor._make(full((), 0.0, g.dtype, g.device), False, None)

    def name(self) -> str:
        return "CompiledFunctionBackward"


class GraphProgram:
    """The kernel programs of one plan (see the module docstring). Build with :meth:`record`."""

    def __init__(self, program: KernelProgram, skeleton: Any, n_out: int, diff: list[int], wrt: list[int],
                 placeholders: list[NDArray]):
        self.program = program
        self.skeleton = skeleton
        self.n_out = n_out
        self.diff = diff  # the outputs that require grad
        self.wrt = wrt  # the inputs that require grad
        self.placeholders = placeholders
        self.replays = 0

    @staticmethod
    def record(plan: Plan, inputs: list[Tensor]) -> tuple["GraphProgram", Any]:
        """Run ``plan`` on ``inputs`` while recording its kernels (and, in grad mode, those of its
        backward pass); returns the programs and this call's result. Raises
        :class:`NotReplayable` when the recording cannot be replayed."""
        leaves = [t.detach().requires_grad_() if t.requires_grad else t.detach() for t in inputs]
        wrt = [i for i, t in enumerate(inputs) if t.requires_grad] if is_grad_enabled() else []
        rec = KernelRecorder()
        with rec:
            result = plan.run(leaves)
            flat: list[Tensor] = []
            skeleton = _flatten(result, flat)
            diff = [i for i, t in enumerate(flat) if t.requires_grad] if wrt else []
            placeholders: list[NDArray] = []
            grads: tuple[Tensor | None, ...] = ()
            if diff:
                with rec.pause():
                    placeholders = [full(flat[i].shape, 1.0, flat[i].dtype, flat[i].device) for i in diff]
                rec.next_phase()
                grads = autograd_grad([flat[i] for i in diff], [leaves[i] for i in wrt],
                                      [Tensor._make(p, False, None) for p in placeholders], allow_unused=True)
        mine = {t._data.buffer_key() for t in leaves}
        if any(t._data.buffer_key() in mine for t in flat):
            raise NotReplayable("an output shares memory with an input")
        arrays = [t._data for t in leaves]
        binds = [arrays] + ([arrays + placeholders] if diff else [])
        outputs = [[t._data for t in flat]] + ([[None if g is None else g._data for g in grads]] if diff else [])
        try:
            program = rec.program(binds, outputs)
        except ValueError as e:
            raise NotReplayable(str(e)) from None
        graph = GraphProgram(program, skeleton, len(flat), diff, wrt, placeholders)
        state = program.take_recorded_state()
        return graph, graph._wrap(inputs, [t._data for t in flat], state)

    def run(self, inputs: list[Tensor]) -> Any:
        """Replay the forward program on ``inputs`` (:class:`GuardFailed` if they are laid out
        otherwise than at recording)."""
        outs, state = self.program.run(0, [t._data for t in inputs])
        self.replays += 1
        return self._wrap(inputs, outs, state)

    def _wrap(self, inputs: list[Tensor], outs: list[Any], state: dict[int, Any]) -> Any:
        """The call's result: the output arrays as tensors, the differentiable ones wired to one
        :class:`CompiledGraph` node holding this call's saved state."""
        tensors = [Tensor._make(a, False, None) for a in outs]
        if self.diff and is_grad_enabled():
            node = CompiledGraph()
            node.inputs = tuple(inputs[i] for i in self.wrt)
            node.needs_input_grad = (True,) * len(self.wrt)
            node.graph, node.state, node.arrays = self, state, [t._data for t in inputs]
            if len(self.diff) == 1:
                tensors[self.diff[0]] = Tensor._make(outs[self.diff[0]], True, node)
            else:
                node.grads = [None] * len(self.diff)
                anchor = Tensor._make(full((), 0.0, outs[self.diff[0]].dtype, outs[self.diff[0]].device),
                                      True, node)
                for j, i in enumerate(self.diff):
                    pick = _Output()
                    pick.inputs, pick.needs_input_grad, pick.node, pick.i = (anchor,), (True,), node, j
                    tensors[i] = Tensor._make(outs[i], True, pick)
        return _rebuild(self.skeleton, iter(tensors))

    def backward(self, state: dict[int, Any], arrays: list[NDArray], gs: list[Tensor | None]
                 ) -> tuple[Tensor | None, ...]:
        """Replay the backward program for the call whose inputs were ``arrays`` and whose
        forward replay left ``state``: the gradients of the inputs in ``wrt`` from the outputs'
        gradients ``gs`` (``None`` for an output that got none: zeros)."""
        n = len(arrays)
        grads_in = []
        for j, (g, p) in enumerate(zip(gs, self.placeholders)):
            if g is None:
                a = full(p.shape, 0.0, p.dtype, p.device)
            else:
                a = self.program.conform(1, n + j, g._data)
            grads_in.append(a)
        try:
            grads, _ = self.program.run(1, arrays + grads_in, state)
        except GuardFailed as e:  # the inputs were checked at the forward replay
            raise RuntimeError(f"tt.compile: the backward replay's arguments changed: {e}") from None
        return tuple(None if g is None else Tensor._make(g, False, None) for g in grads)


def _flatten(obj: Any, out: list[Tensor]) -> Any:
    """The tensors of a result (nested tuples, lists, dicts) into ``out``; returns its skeleton."""
    if isinstance(obj, Tensor):
        out.append(obj)
        return ("T",)
    if isinstance(obj, (tuple, list)):
        return (type(obj), [_flatten(o, out) for o in obj])
    if isinstance(obj, dict):
        return (dict, {k: _flatten(v, out) for k, v in obj.items()})
    return ("V", obj)


def _rebuild(skeleton: Any, tensors: Any) -> Any:
    kind = skeleton[0]
    if kind == "T":
        return next(tensors)
    if kind == "V":
        return skeleton[1]
    if kind is dict:
        return {k: _rebuild(v, tensors) for k, v in skeleton[1].items()}
    items = [_rebuild(o, tensors) for o in skeleton[1]]
    return kind(*items) if hasattr(kind, "_fields") else kind(items)


__all__ = ["GraphProgram", "CompiledGraph", "NotReplayable", "GuardFailed"]
