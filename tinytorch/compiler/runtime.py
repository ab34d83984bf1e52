"""Replay: run a validated trace again on new inputs, fused groups as generated kernels.

A :class:`Plan` is a list of instructions over value slots. An instruction is one step of
the trace -- a fresh node of its Function class whose ``forward`` gets the NDArrays of its
input slots -- or one fused group (a :class:`FusedKernel` node). No op function, no
argument parsing, no dispatch and no shape checks run again: the capture did them. When grad
mode is on and an input requires grad, each result is wired into the autograd graph exactly
as ``Function.apply`` would wire it, so ``backward()`` works on what a replay returns.

Memory: each slot is dropped right after its last reader, so its buffer goes back to the C
backend's pool (``backend_cpu._Pool``) and the next kernel of that size takes it; a step's
arrays are only kept longer when autograd saved them for backward.
"""

from __future__ import annotations

from typing import Any

from ..autograd import grad as autograd_grad
from ..ndarray import NDArray
from ..ndarray.fused import call_fused
from ..tensor import Function, Tensor, enable_grad, is_grad_enabled
from .capture import Trace, fill_slots, slots_in
from .fusion import Group, consumers, describe, output_slots


class FusedKernel(Function):
    """One generated kernel standing for a group of elementwise steps.

    ``forward`` runs the kernel. ``backward`` recomputes the group's steps eagerly from its
    saved inputs (cheap elementwise work, and the intermediates were never stored) and
    differentiates through them, so the gradient is exactly the eager one."""

    group: Group
    kernel: Any
    shape: tuple[int, ...]
    reads: list[int]

    def forward(self, *arrays: NDArray) -> NDArray:
        a = arrays[0]
        return call_fused(self.kernel, self.shape, a.dtype, a.device, arrays, self.reads)

    def backward(self, g: Tensor) -> tuple[Tensor | None, ...]:
        create_graph = is_grad_enabled()
        inputs = list(self.inputs)
        if not create_graph:  # a graph of its own, cut from the one the engine is walking
            inputs = [t.detach().requires_grad_(n) for t, n in zip(inputs, self.needs_input_grad)]
        leaves = inputs
        with enable_grad():
            env = dict(zip(self.group.leaves, leaves))
            for s in self.group.steps:
                # ``_run``, not ``apply``: the recomputation is this node's own business, and under a
                # lazy mode ``apply`` would defer it into another fused kernel (whose backward
                # would recompute again, without end)
                env[s.out] = s.op._run(*[env[v] if kind == "slot" else v for kind, v in s.args], **s.params)
            wanted = [t for t, n in zip(leaves, self.needs_input_grad) if n]
            grads = iter(autograd_grad([env[self.group.out]], wanted, [g], create_graph=create_graph,
                                       allow_unused=True))
        return tuple(next(grads) if n else None for n in self.needs_input_grad)

    def name(self) -> str:
        return "FusedKernelBackward0"


class Plan:
    """What a replay runs (see the module docstring)."""

    def __init__(self, trace: Trace, groups: list[Group], kernels: list[Any]):
        self.trace = trace
        self.groups = groups
        self.input_slots = list(range(trace.n_args)) + trace.outside_slots
        fused_out = {g.out: (g, k) for g, k in zip(groups, kernels)}
        inside = {s.out for g in groups for s in g.steps if s.out != g.out}
        self.instructions: list[tuple[Any, ...]] = []
        for s in trace.steps:
            if s.out in inside:
                continue
            if s.out in fused_out:
                g, k = fused_out[s.out]
                shape = trace.meta[g.out][0]
                reads = [_size(trace.meta[v][0]) for v in g.leaves]
                self.instructions.append((FusedKernel, tuple(("slot", v) for v in g.leaves),
                                          {"group": g, "kernel": k, "shape": shape, "reads": reads}, g.out, False))
            else:
                refs = [k for v in s.params.values() for k in slots_in(v)]
                self.instructions.append((s.op, s.args + tuple(("param", k) for k in refs), s.params, s.out,
                                          bool(refs)))
        self._frees = self._last_uses()

    def _last_uses(self) -> list[list[int]]:
        """For each instruction, the slots no later instruction or output reads."""
        keep = set(output_slots(self.trace.outputs))
        last: dict[int, int] = {}
        for i, (_, args, _, _, _) in enumerate(self.instructions):
            for kind, v in args:
                if kind in ("slot", "param"):
                    last[v] = i
        frees: list[list[int]] = [[] for _ in self.instructions]
        for v, i in last.items():
            if v not in keep:
                frees[i].append(v)
        return frees

    def run(self, inputs: list[Tensor]) -> Any:
        """Replay on ``inputs`` (the call's tensor arguments, then the outside tensors)."""
        env: dict[int, Any] = dict(zip(self.input_slots, inputs))
        record = is_grad_enabled()
        for (op, args, params, out, special), frees in zip(self.instructions, self._frees):
            xs = [env[v] if kind == "slot" else v for kind, v in args if kind != "param"]
            node = op()
            if op is FusedKernel:
                node.__dict__.update(params)
                data = node.forward(*[x._data for x in xs])
            else:
                if special:  # params that hold arrays of this call (an index key)
                    params = {k: fill_slots(v, env) for k, v in params.items()}
                data = node.forward(*[x._data if isinstance(x, Tensor) else x for x in xs], **params)
            if record and data.dtype.is_floating_point:
                needs = tuple([isinstance(x, Tensor) and x.requires_grad for x in xs])
                if True in needs:
                    node.inputs, node.needs_input_grad = tuple(xs), needs
                    env[out] = Tensor._make(data, True, node)
                else:
                    env[out] = Tensor._make(data, False, None)
            else:
                env[out] = Tensor._make(data, False, None)
            for v in frees:
                del env[v]
        return rebuild(self.trace.outputs, env)

    def describe(self) -> str:
        """The schedule: one line per kernel (see :func:`fusion.describe`)."""
        return describe(self.trace, self.groups)


def _size(shape: tuple[int, ...]) -> int:
    n = 1
    for s in shape:
        n *= s
    return n


def rebuild(outputs: Any, env: dict[int, Any]) -> Any:
    """A function's result from its recorded structure (``("slot", k)`` for a tensor, ``("value",
    v)``, ``(tuple or list type, [...])``, ``(dict, {...})``) with each slot's tensor from ``env``."""
    kind, v = outputs
    if kind == "slot":
        return env[v]
    if isinstance(kind, type) and issubclass(kind, (tuple, list)):
        items = [rebuild(o, env) for o in v]
        return kind(*items) if hasattr(kind, "_fields") else kind(items)  # a named tuple takes fields
    if kind is dict:
        return {k: rebuild(o, env) for k, o in v.items()}
    return v


__all__ = ["Plan", "FusedKernel", "consumers", "rebuild"]
