"""Whole-call replay: a plan's forward pass *and its backward pass* as two recorded kernel programs.

A :class:`~.runtime.Plan` still runs one Function per op, and its backward pass is the eager
engine's, node by node. A :class:`GraphProgram` goes one level lower. On the first call after
the plan is built it runs the plan while a :class:`~tinytorch.ndarray.program.KernelRecorder`
writes down every backend call: phase 0, the forward kernels. When the engine later asks for
that call's gradients, it runs the backward pass of the recorded forward with
``autograd.grad`` under the same recorder: phase 1, the backward kernels. From then on a call
replays phase 0 and returns its outputs wired to **one** autograd node, :class:`CompiledGraph`;
when the engine reaches that node it replays phase 1 on the gradients it was handed. This is
what ``torch.compile``'s AOTAutograd does: the backward pass is captured (here: on first use),
so neither pass runs Python per op. Recording the backward pass when it is needed, on the
real gradients, costs no extra pass and no extra memory.

What a forward pass saves for its backward pass (phase 1 reads buffers that phase 0 made) is
allocated fresh at every call and held by that call's node, so two forward passes before one
backward pass each keep their own. Values used only inside a phase share the program's arenas
(the memory plan of :func:`~tinytorch.ndarray.program.plan_memory`).

The recording starts from detached copies of the inputs, so the captured backward pass ends at
the compiled call's inputs and weights; the engine carries the gradients on from there.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..autograd import grad as autograd_grad
from ..ndarray import NDArray, full
from ..ndarray.program import GuardFailed, KernelProgram, KernelRecorder
from ..tensor import Function, Tensor, is_grad_enabled, postorder
from .runtime import Plan, rebuild


class NotReplayable(Exception):
    """The recorded call cannot be replayed at the kernel level (the plan is used instead)."""


class CompiledGraph(Function):
    """The autograd node of one compiled call: ``inputs`` are the call's tensors that require
    grad; ``backward`` replays the backward program on the outputs' gradients (or, for the
    call being recorded, records it)."""

    fresh_grads = True  # GraphProgram.backward returns arrays made by the replay (or copies)
    graph: "GraphProgram"
    state: dict[int, Any] | None  # what this call's forward replay saved for the backward replay
    arrays: list[NDArray]  # this call's inputs
    grads: list[Tensor | None]  # the outputs' gradients, gathered by _Output nodes (several outputs)

    def backward(self, g: Tensor) -> tuple[Tensor | None, ...]:
        if is_grad_enabled():
            raise RuntimeError("tt.compile: a compiled call's backward pass is a recorded kernel program and is not "
                               "differentiable again (create_graph=True); run that code without tt.compile")
        gs = [g] if len(self.graph.diff) == 1 else self.grads
        if self.graph.recording is not None and self.graph.recording.node is self:
            return self.graph.finish(gs)
        if self.state is None:  # the recorded call: its forward values went with its one backward pass
            raise RuntimeError("tt.compile: the call whose backward pass was recorded cannot go backward a second "
                               "time (retain_graph=True); every later call can")
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


@dataclass
class _Recording:
    """A recording between its two phases: what :meth:`GraphProgram.finish` needs."""

    rec: KernelRecorder
    leaves: list[Tensor]
    flat: list[Tensor]
    node: CompiledGraph | None = None


class GraphProgram:
    """The kernel programs of one plan (see the module docstring). Made by :meth:`record`;
    ``program`` is None until the backward phase is recorded too, and ``failed`` says why a
    recording could not be made into a program."""

    def __init__(self, skeleton: Any, diff: list[int], wrt: list[int]):
        self.program: KernelProgram | None = None
        self.recording: _Recording | None = None
        self.failed: str | None = None
        self.skeleton = skeleton
        self.diff = diff  # the outputs that require grad
        self.wrt = wrt  # the inputs that require grad
        self.out_meta: list[tuple[Any, Any, Any]] = []  # (shape, dtype, device) of each differentiable output
        self.replays = 0

    @staticmethod
    def record(plan: Plan, inputs: list[Tensor]) -> tuple["GraphProgram", Any]:
        """Run ``plan`` on ``inputs`` while recording its kernels; returns the GraphProgram and
        this call's result. Without gradients the program is made at once; with them, when the
        engine reaches the result's node (:meth:`finish`). Raises :class:`NotReplayable` when
        the recording cannot be replayed."""
        leaves = [t.detach().requires_grad_() if t.requires_grad else t.detach() for t in inputs]
        wrt = [i for i, t in enumerate(inputs) if t.requires_grad] if is_grad_enabled() else []
        rec = KernelRecorder()
        with rec:
            result = plan.run(leaves)
        flat: list[Tensor] = []
        skeleton = _flatten(result, flat)
        if any(t._data is a._data for t in flat for a in leaves):  # a view of an input is fine: it is replayed
            raise NotReplayable("it returns an input itself")
        diff = [i for i, t in enumerate(flat) if t.requires_grad] if wrt else []
        graph = GraphProgram(skeleton, diff, wrt)
        graph.out_meta = [(flat[i].shape, flat[i].dtype, flat[i].device) for i in diff]
        arrays = [t._data for t in leaves]
        if not diff:
            try:
                graph.program = rec.program([arrays], [[t._data for t in flat]])
            except ValueError as e:
                raise NotReplayable(str(e)) from None
            return graph, graph._wrap(inputs, [t._data for t in flat], {})
        if rec.host_reads:
            raise NotReplayable(f"the recorded code read values back to the host {rec.host_reads} time(s)")
        rec.keep(_graph_arrays(flat))  # what the backward phase may read
        rec.next_phase()
        graph.recording = _Recording(rec, leaves, flat)
        return graph, graph._wrap(inputs, [t._data for t in flat], None)

    def finish(self, gs: list[Tensor | None]) -> tuple[Tensor | None, ...]:
        """The recorded call's backward pass: run it on the recorded forward pass's graph under
        the recorder (phase 1), make the program, and return the gradients."""
        r = self.recording
        assert r is not None
        self.recording = None
        grads_in = [self._conformed(j, g) for j, g in enumerate(gs)]
        with r.rec:
            grads = autograd_grad([r.flat[i] for i in self.diff], [r.leaves[i] for i in self.wrt],
                                  [Tensor._make(a, False, None) for a in grads_in], allow_unused=True)
        arrays, outs = [t._data for t in r.leaves], [None if g is None else g._data for g in grads]
        try:
            self.program = r.rec.program([arrays, arrays + grads_in], [[t._data for t in r.flat], outs])
        except ValueError as e:
            self.failed = str(e)
        return self._fresh(outs)

    def _conformed(self, j: int, g: Tensor | None) -> NDArray:
        """Output ``j``'s gradient as a compact array (zeros where it got none): the layout the
        backward phase is recorded with and replayed on."""
        shape, dtype, device = self.out_meta[j]
        if g is None:
            return full(shape, 0.0, dtype, device)
        a = g._data
        return a if a.is_compact() else a.copy()

    def run(self, inputs: list[Tensor]) -> Any:
        """Replay the forward program on ``inputs`` (:class:`GuardFailed` if they are laid out
        otherwise than at recording)."""
        assert self.program is not None
        outs, state = self.program.run(0, [t._data for t in inputs])
        self.replays += 1
        return self._wrap(inputs, outs, state)

    def _wrap(self, inputs: list[Tensor], outs: list[Any], state: dict[int, Any] | None) -> Any:
        """The call's result: the output arrays as tensors, the differentiable ones wired to one
        :class:`CompiledGraph` node holding this call's saved state."""
        tensors = [Tensor._make(a, False, None) for a in outs]
        if self.diff and is_grad_enabled():
            node = CompiledGraph()
            node.inputs = tuple(inputs[i] for i in self.wrt)
            node.needs_input_grad = (True,) * len(self.wrt)
            node.graph, node.state, node.arrays = self, state, [t._data for t in inputs]
            if self.recording is not None and self.recording.node is None:
                self.recording.node = node
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
        return rebuild(self.skeleton, dict(enumerate(tensors)))

    def backward(self, state: dict[int, Any], arrays: list[NDArray], gs: list[Tensor | None]
                 ) -> tuple[Tensor | None, ...]:
        """Replay the backward program for the call whose inputs were ``arrays`` and whose
        forward replay left ``state``: the gradients of the inputs in ``wrt`` from the outputs'
        gradients ``gs`` (``None`` for an output that got none: zeros)."""
        assert self.program is not None
        grads_in = [self._conformed(j, g) for j, g in enumerate(gs)]
        try:
            grads, _ = self.program.run(1, arrays + grads_in, state)
        except GuardFailed as e:  # the inputs were checked at the forward replay
            raise RuntimeError(f"tt.compile: the backward replay's arguments changed: {e}") from None
        return self._fresh(grads)

    def _fresh(self, grads: list[NDArray | None]) -> tuple[Tensor | None, ...]:
        """The backward phase's gradients as the new arrays :class:`CompiledGraph` promises
        (``fresh_grads``): one that is an argument's buffer (an output gradient passed through)
        or that another gradient shares is copied; all are copied when no program was made."""
        own = self.program.exclusive_outputs(1) if self.program is not None else (False,) * len(grads)
        return tuple(None if g is None else Tensor._make(g if o else g.copy(), False, None)
                     for g, o in zip(grads, own))


def _graph_arrays(outputs: list[Tensor]) -> list[NDArray]:
    """Every array the autograd graph behind ``outputs`` holds: its nodes' inputs and what their
    forward passes saved on them (attributes, or tuples and lists of them). A recording keeps
    these for the backward phase (anything else the backward pass reads from the forward pass
    makes the recording unreplayable, and the plan is used)."""
    roots = [t._ctx for t in outputs if t._ctx is not None]
    nodes = postorder(roots, lambda n: [t._ctx for t in (n.inputs or ())
                                        if isinstance(t, Tensor) and t._ctx is not None])
    found: list[NDArray] = [t._data for t in outputs]
    for node in nodes:
        for v in list(node.__dict__.values()) + list(node.inputs or ()):
            for item in (v if isinstance(v, (tuple, list)) else (v,)):
                if isinstance(item, Tensor):
                    found.append(item._data)
                elif isinstance(item, NDArray):
                    found.append(item)
    return found


def _flatten(obj: Any, out: list[Tensor]) -> Any:
    """The tensors of a result (nested tuples, lists, dicts) into ``out``; returns its structure
    in the form :func:`~.runtime.rebuild` takes, each tensor as ``("slot", its index in out)``."""
    if isinstance(obj, Tensor):
        out.append(obj)
        return ("slot", len(out) - 1)
    if isinstance(obj, (tuple, list)):
        return (type(obj), [_flatten(o, out) for o in obj])
    if isinstance(obj, dict):
        return (dict, {k: _flatten(v, out) for k, v in obj.items()})
    return ("value", obj)


__all__ = ["GraphProgram", "CompiledGraph", "NotReplayable", "GuardFailed"]
