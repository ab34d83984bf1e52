"""Capture: run a function once, eagerly, and record every op it runs as a :class:`Trace`.

The recorder is a :class:`~tinytorch.tensor.DispatchMode`: each ``Function.apply`` call made
while it is active reaches :meth:`Recorder.dispatch`, which runs the op as usual and writes
down one :class:`Step` -- the Function class, where each input came from (a *slot*) and the
keyword params. Values are named by slots: the call's tensor arguments first, then each
tensor the function used that it neither received nor computed through an op (a module's
weight, a constant, a mask made by an op that does not go through ``apply``), then one slot
per step's result. Slots are found by the identity of the tensor's NDArray, so a
``detach()``-ed or ``.data`` view of a known value is still that value.

A trace alone cannot tell a weight (the same object every call, read afresh each time) from
a value computed outside ``apply`` (a comparison, a random mask): both are tensors the ops
received from outside. :func:`compare` decides with a second capture of the same signature:
an outside tensor that is the same object both times is *persistent* (read at replay); one
that is new but has equal values is a *constant*; one whose values differ depends on the
data or on randomness, and the function is not replayable (the caller falls back to eager).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from ..ndarray import NDArray
from ..ndarray.program import KernelRecorder
from ..tensor import DispatchMode, Function, Tensor


@dataclass(frozen=True)
class SlotRef:
    """An array inside an op's params (an index key, say) that is the value of slot ``k``:
    a replay passes that slot's new array in its place."""

    k: int


def mark_slots(value: Any, slot_of: Callable[[NDArray], int | None]) -> Any:
    """``value`` (a param) with each NDArray that is a known slot replaced by its SlotRef."""
    if isinstance(value, NDArray):
        k = slot_of(value)
        return value if k is None else SlotRef(k)
    if isinstance(value, (tuple, list)):
        return type(value)(mark_slots(v, slot_of) for v in value)
    return value


def fill_slots(value: Any, env: dict[int, Any]) -> Any:
    """The inverse of :func:`mark_slots` at replay: each SlotRef becomes its slot's array."""
    if isinstance(value, SlotRef):
        return env[value.k]._data
    if isinstance(value, (tuple, list)):
        return type(value)(fill_slots(v, env) for v in value)
    return value


def slots_in(value: Any) -> list[int]:
    """The slots a param refers to."""
    if isinstance(value, SlotRef):
        return [value.k]
    if isinstance(value, (tuple, list)):
        return [k for v in value for k in slots_in(v)]
    return []


@dataclass(frozen=True)
class Step:
    """One op of a trace: ``op.apply(*args, **params)`` whose result is slot ``out``.

    ``args`` holds, per positional input, ``("slot", k)`` or ``("value", python_object)``."""

    op: type[Function]
    args: tuple[tuple[str, Any], ...]
    params: dict[str, Any]
    out: int

    def same_as(self, other: "Step") -> bool:
        """True when ``other`` is the same op on the same slots with equal params."""
        return (self.op is other.op and self.out == other.out and len(self.args) == len(other.args)
                and all(a[0] == b[0] and _equal(a[1], b[1]) for a, b in zip(self.args, other.args))
                and self.params.keys() == other.params.keys()
                and all(_equal(self.params[k], other.params[k]) for k in self.params))


@dataclass
class Trace:
    """What one capture recorded.

    Slots ``0..n_args-1`` are the call's tensor arguments; ``outside[i]`` is slot
    ``outside_slots[i]`` (numbered when first seen, between the steps' results).
    ``meta[k]`` is ``(shape, dtype, device)`` of slot ``k``.
    ``outputs`` is the function's result with each tensor replaced by ``("slot", k)``.
    ``side_effect`` names what the function did that replay would not repeat (or is None);
    ``grad_slots`` are the steps whose results require grad."""

    n_args: int
    outside: list[Tensor] = field(default_factory=list)
    outside_slots: list[int] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)
    meta: list[tuple[Any, Any, Any]] = field(default_factory=list)
    outputs: Any = None
    side_effect: str | None = None
    grad_slots: set[int] = field(default_factory=set)


class Recorder(DispatchMode):
    """Run ops as usual and record them (see the module docstring)."""

    def __init__(self, args: list[Tensor], reads: KernelRecorder | None = None):
        self.trace = Trace(n_args=len(args))
        self.own_reads = reads.pause() if reads is not None else contextlib.nullcontext()
        self._slot: dict[int, int] = {}  # id(NDArray) -> slot
        self._alive: list[NDArray] = []  # keeps every recorded array alive, so ids stay unique
        # outside tensors: (t, grad, digest of the values at first sight)
        self._seen: list[tuple[Tensor, Any, bytes]] = []
        for t in args:
            self._new_slot(t._data)
        self.args = args

    def _new_slot(self, a: NDArray) -> int:
        k = len(self.trace.meta)
        self._slot[id(a)] = k
        self._alive.append(a)
        self.trace.meta.append((a.shape, a.dtype, a.device))
        return k

    def slot_of(self, t: Tensor) -> int:
        """The slot of ``t``'s values, making an outside slot for a tensor seen the first time."""
        k = self._slot.get(id(t._data))
        if k is None:
            k = self._new_slot(t._data)
            self.trace.outside.append(t)
            self.trace.outside_slots.append(k)
            with self.own_reads:  # the recorder's own look at the values is not the function's
                self._seen.append((t, t.grad, _digest(t._data)))
        return k

    def dispatch(self, op: type[Function], args: tuple[Any, ...], params: dict[str, Any],
                 run: Callable[[tuple[Any, ...], dict[str, Any]], Tensor]) -> Tensor:
        refs = tuple(("slot", self.slot_of(a)) if isinstance(a, Tensor) else ("value", a) for a in args)
        marked = {k: mark_slots(v, lambda a: self._slot.get(id(a))) for k, v in params.items()}
        out = run(args, params)
        k = self._new_slot(out._data)
        self.trace.steps.append(Step(op, refs, marked, k))
        if out.requires_grad:
            self.trace.grad_slots.add(k)
        return out

    def read_values(self, t: Tensor) -> None:
        """Python read a tensor's values (``item()``, ``bool()``...): what follows may depend on
        the data, which a replay would not see."""
        if self.trace.side_effect is None:
            self.trace.side_effect = (f"it reads the values of a tensor of shape {tuple(t.shape)} in Python "
                                      "(.item(), bool(), .tolist(), .numpy(): control flow on data?)")

    def finish(self, result: Any) -> Trace:
        """Record the function's ``result`` and check for side effects; return the trace."""
        self.trace.outputs = self._outputs(result)
        if self.trace.side_effect is not None:
            return self.trace
        for i, t in enumerate(self.args):
            if self._first_values[i] != _digest(t._data):
                self.trace.side_effect = f"it changed its argument {i} in place"
        for t, grad, values in self._seen:
            if t.grad is not grad:
                self.trace.side_effect = "it changed a tensor's .grad (backward() inside the function)"
            elif values != _digest(t._data):
                self.trace.side_effect = f"it changed a tensor of shape {tuple(t.shape)} in place (an optimizer " \
                                         "step or a running statistic)"
        return self.trace

    def _outputs(self, result: Any) -> Any:
        if isinstance(result, Tensor):
            return ("slot", self.slot_of(result))
        if isinstance(result, (tuple, list)):
            return (type(result), [self._outputs(r) for r in result])
        if isinstance(result, dict):
            return (dict, {k: self._outputs(v) for k, v in result.items()})
        return ("value", result)

    def __enter__(self) -> "Recorder":
        self._first_values = [_digest(t._data) for t in self.args]
        super().__enter__()
        return self


def _digest(a: NDArray) -> bytes:
    """A digest of ``a``'s shape, dtype and values, to tell later whether they were changed in
    place: kept instead of a copy, so that a capture does not hold a second copy of every weight
    it sees. A write of the same bits is not seen (nor needs to be); any other change is, but for
    a collision of the 128-bit hash."""
    h = hashlib.blake2b(repr((a.shape, str(a.dtype))).encode(), digest_size=16)
    h.update(np.ascontiguousarray(a.numpy()))
    return h.digest()


def _equal(a: Any, b: Any) -> bool:
    """Equality of recorded Python values (params, scalars) that never raises. An array
    param (an index, a mask) is equal when it is the same array or has equal values: a
    constant; one that differs depends on the data, and the trace is not replayable."""
    if isinstance(a, Tensor) and isinstance(b, Tensor):
        a, b = a._data, b._data
    if isinstance(a, NDArray) and isinstance(b, NDArray):
        return a is b or (a.shape == b.shape and a.dtype is b.dtype
                          and np.array_equal(a.numpy(), b.numpy(), equal_nan=True))
    if isinstance(a, (NDArray, Tensor)) or isinstance(b, (NDArray, Tensor)):
        return a is b
    if isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)):
        return type(a) is type(b) and len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b))
    if isinstance(a, functools.partial) and isinstance(b, functools.partial):  # an op's kernel choice
        return a.func is b.func and _equal(a.args, b.args) and _equal(sorted(a.keywords.items()),
                                                                       sorted(b.keywords.items()))
    if isinstance(a, np.ndarray) and isinstance(b, np.ndarray):
        return a.shape == b.shape and a.dtype == b.dtype and np.array_equal(a, b, equal_nan=a.dtype.kind == "f")
    try:
        return bool(a == b) and type(a) is type(b)
    except Exception:
        return a is b


def compare(first: Trace, second: Trace) -> str | None:
    """Why the two captures of one signature differ so that replay would be wrong (None if
    replay is safe). Fills ``second.outside`` consts: an outside tensor that is a new object
    with equal values stays as the second capture's tensor (a constant)."""
    for trace in (first, second):
        if trace.side_effect:
            return trace.side_effect
    if len(first.steps) != len(second.steps) or len(first.outside) != len(second.outside):
        return "the two calls ran different ops (Python control flow that depends on the data?)"
    for s, t in zip(first.steps, second.steps):
        if not s.same_as(t):
            return f"the two calls ran different ops or params at {t.op.__name__} (control flow or Python " \
                   "values that depend on the data?)"
    for a, b in zip(first.outside, second.outside):
        if a is b or a._data is b._data:
            continue
        if a.shape != b.shape or a.dtype is not b.dtype or \
                not np.array_equal(a._data.numpy(), b._data.numpy(), equal_nan=True):
            return f"a tensor of shape {tuple(b.shape)} made outside the op table differs between calls " \
                   "(random numbers, or a comparison or mask computed from the data)"
    if not _same_outputs(first.outputs, second.outputs):
        return "the function returned different Python values on the two calls"
    return None


def _same_outputs(a: Any, b: Any) -> bool:
    if isinstance(a, tuple) and len(a) == 2 and a[0] in (tuple, list, dict) and isinstance(b, tuple):
        if a[0] is dict:
            return b[0] is dict and a[1].keys() == b[1].keys() and all(_same_outputs(a[1][k], b[1][k]) for k in a[1])
        return b[0] is a[0] and len(a[1]) == len(b[1]) and all(_same_outputs(x, y) for x, y in zip(a[1], b[1]))
    return a[0] == b[0] and _equal(a[1], b[1])
