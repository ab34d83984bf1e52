"""Fusion: group chains of elementwise steps of a trace into one kernel each.

A step is *fusible* when its op has a C expression in :data:`EXPRESSIONS`, its inputs are
slots of its own float dtype (float32 or float64) or Python numbers, and every input slot
broadcasts to its output's shape. The pass walks the steps in order and merges a fusible
step with the group that produced each of its inputs when that input is used by this step
only (so the group's intermediate values need never be stored) and has the same shape. A
group is then a small expression tree over its *leaves* (slots computed elsewhere) with one
result, written by one generated loop (:mod:`.codegen`). Matmul, convolution, reductions and
movement ops stay library kernels.

The group of a step that merged nothing is dropped: one op alone gains nothing from a
kernel of its own.

Steps whose results require grad are not fused. A fused kernel stores none of the values its
nodes' ``backward`` needs, so differentiating it means computing the chain again op by op
(:class:`~.runtime.FusedKernel`), which costs more than it saved: measured on the GPT training
step, fusing under grad made the compiled step twice as slow as eager, not fusing made it
faster. Generating the backward kernels too is what ``torch.compile`` does (an exercise of
chapter 13). Inference, ``no_grad`` code and values that need no gradient are fused.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from ..ndarray.dtypes import float32, float64
from ..ndarray.fused import can_call_fused
from ..ops import elementwise as ew
from ..ops import reduce as rd
from .capture import Step, Trace, slots_in

#: The C expression of each fusible op, over its positional inputs ``{0}``, ``{1}``; ``{f}`` is
#: the libm suffix of the dtype ("f" for float32), ``{v}`` the vmath.h prefix (float32 only).
EXPRESSIONS: dict[type, str] = {
    ew.Add: "({0} + {1})", ew.Sub: "({0} - {1})", ew.Mul: "({0} * {1})", ew.Div: "({0} / {1})",
    ew.Neg: "(-{0})", ew.Exp: "EXP({0})", ew.Log: "LOG({0})", ew.Sqrt: "sqrt{f}({0})",
    ew.Rsqrt: "((T)1 / sqrt{f}({0}))", ew.Abs: "fabs{f}({0})", ew.Sin: "sin{f}({0})", ew.Cos: "cos{f}({0})",
    ew.Tanh: "TANH({0})", ew.Sigmoid: "SIGMOID({0})", ew.Relu: "(({0}) < 0 ? (T)0 : ({0}))",
    ew.Erf: "ERF({0})", ew.Log1p: "log1p{f}({0})", ew.Expm1: "EXPM1({0})",
    ew.Asin: "asin{f}({0})", ew.Acos: "acos{f}({0})", ew.Atan: "atan{f}({0})", ew.Sinh: "sinh{f}({0})",
    ew.Cosh: "cosh{f}({0})", ew.Asinh: "asinh{f}({0})", ew.Acosh: "acosh{f}({0})", ew.Atanh: "atanh{f}({0})",
    ew.Maximum: "MAXIMUM({0}, {1})", ew.Minimum: "MINIMUM({0}, {1})", ew.Pow: "pow{f}({0}, {1})",
}
FLOATS = (float32, float64)


@dataclass
class Group:
    """A fused kernel: ``steps`` (in trace order) computing slot ``out`` from ``leaves``.

    ``reduce`` is ``(rows, m)`` when the last step is a sum over the trailing axes of the
    elementwise chain before it (``m`` elements per row): the kernel then writes one value per
    row and the chain's values never leave registers either."""

    steps: list[Step] = field(default_factory=list)
    leaves: list[int] = field(default_factory=list)
    reduce: tuple[int, int] | None = None

    @property
    def out(self) -> int:
        return self.steps[-1].out


def consumers(trace: Trace) -> dict[int, int]:
    """How many times each slot is read: by steps, and once more for each output of the function."""
    count: dict[int, int] = {}
    for s in trace.steps:
        for kind, v in s.args:
            if kind == "slot":
                count[v] = count.get(v, 0) + 1
        for k in [k for p in s.params.values() for k in slots_in(p)]:
            count[k] = count.get(k, 0) + 1
    for k in output_slots(trace.outputs):
        count[k] = count.get(k, 0) + 1
    return count


def output_slots(outputs: Any) -> list[int]:
    """Every slot named in a recorded function result."""
    if outputs[0] == "slot":
        return [outputs[1]]
    if outputs[0] in (tuple, list):
        return [k for o in outputs[1] for k in output_slots(o)]
    if outputs[0] is dict:
        return [k for o in outputs[1].values() for k in output_slots(o)]
    return []


def fusible(step: Step, meta: list[tuple[Any, Any, Any]], grad_slots: frozenset[int] | set[int] = frozenset()) -> bool:
    """True when ``step`` can be part of a generated kernel (see the module docstring)."""
    if step.op not in EXPRESSIONS or step.params or step.out in grad_slots:
        return False
    shape, dtype, device = meta[step.out]
    if dtype not in FLOATS or not can_call_fused(device):
        return False
    for kind, v in step.args:
        if kind == "slot":
            s, d, dev = meta[v]
            if d is not dtype or dev != device or not broadcasts(s, shape):
                return False
        elif isinstance(v, bool) or not isinstance(v, (int, float)):
            return False
    return True


def broadcasts(shape: tuple[int, ...], to: tuple[int, ...]) -> bool:
    """True when an input of ``shape`` broadcasts to ``to`` without changing ``to``."""
    if len(shape) > len(to):
        return False
    return all(n in (1, m) for n, m in zip(shape[::-1], to[::-1]))


def plan_groups(trace: Trace) -> list[Group]:
    """The fused groups of ``trace`` (of two or more steps), each listed once."""
    used = consumers(trace)
    position = {s.out: i for i, s in enumerate(trace.steps)}
    group_of: dict[int, Group] = {}  # slot -> the group computing it
    groups: list[Group] = []
    for step in trace.steps:
        if not fusible(step, trace.meta, trace.grad_slots):
            continue
        shape = trace.meta[step.out][0]
        g = Group()
        for kind, v in step.args:
            if kind != "slot":
                continue
            producer = group_of.get(v)
            if producer is not None and used.get(v) == 1 and trace.meta[v][0] == shape and producer in groups:
                groups.remove(producer)
                g.steps += producer.steps
        g.steps.append(step)
        g.steps.sort(key=lambda x: position[x.out])
        group_of[step.out] = g
        groups.append(g)
    groups = _merge_shared(groups, used, position, trace)
    _fuse_sums(groups, used, trace)
    result = [g for g in groups if len(g.steps) > 1]
    for g in result:
        inside = {s.out for s in g.steps}
        for s in g.steps:
            for kind, v in s.args:
                if kind == "slot" and v not in inside and v not in g.leaves:
                    g.leaves.append(v)
    return result


def _fuse_sums(groups: list[Group], used: dict[int, int], trace: Trace) -> None:
    """Append to a group a ``Sum`` over the trailing axes of its result when that sum is the
    result's only reader (a reduction fused into its producer)."""
    by_out = {g.out: g for g in groups}
    for step in trace.steps:
        if step.op is not rd.Sum or step.out in trace.grad_slots or step.args[0][0] != "slot":
            continue
        v = step.args[0][1]
        g = by_out.get(v)
        shape = trace.meta[v][0]
        dims = step.params.get("dims")
        if g is None or g.reduce is not None or used.get(v) != 1 or not shape or dims is None:
            continue
        if tuple(sorted(dims)) != tuple(range(len(shape) - len(dims), len(shape))):
            continue
        m = math.prod(shape[len(shape) - len(dims):])
        if m == 0:
            continue
        g.steps.append(step)
        g.reduce = (math.prod(shape) // m, m)


def _merge_shared(groups: list[Group], used: dict[int, int], position: dict[int, int], trace: Trace) -> list[Group]:
    """Merge a group into the group that reads its result when *every* read is there (a value
    used twice by one chain, ``y * tanh(y)``): it then never needs storing either."""
    changed = True
    while changed:
        changed = False
        for g in groups:
            reads = {id(h): sum(1 for s in h.steps for kind, v in s.args if kind == "slot" and v == g.out)
                     for h in groups if h is not g}
            for h in groups:
                if h is not g and reads[id(h)] == used.get(g.out) and \
                        trace.meta[h.out][0] == trace.meta[g.out][0]:
                    h.steps = sorted(g.steps + h.steps, key=lambda x: position[x.out])
                    groups.remove(g)
                    changed = True
                    break
            if changed:
                break
    return groups


def describe(trace: Trace, groups: list[Group]) -> str:
    """A readable schedule: one line per kernel, fused groups with their ops."""
    fused = {s.out: g for g in groups for s in g.steps}
    lines: list[str] = []
    names = {k: f"in{k}" for k in range(trace.n_args)}
    names.update({k: f"w{i}" for i, k in enumerate(trace.outside_slots)})
    for s in trace.steps:
        names[s.out] = f"t{s.out}"
    for s in trace.steps:
        g = fused.get(s.out)
        shape = tuple(trace.meta[s.out][0])
        if g is None:
            ins = ", ".join(names[v] if k == "slot" else repr(v) for k, v in s.args)
            lines.append(f"kernel {len(lines):3d}: {names[s.out]} = {s.op.__name__}({ins})  {list(shape)}")
        elif s.out == g.out:  # a group runs where its last step was
            ops = " -> ".join(x.op.__name__ for x in g.steps)
            ins = ", ".join(names[v] for v in g.leaves)
            lines.append(f"kernel {len(lines):3d}: {names[g.out]} = fused[{ops}]({ins})  {list(shape)}")
    return "\n".join(lines)
