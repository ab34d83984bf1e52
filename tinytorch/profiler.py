"""The profiler: where a step's time goes, op by op -- ``torch.profiler``'s shape.

>>> import tinytorch as tt
>>> from tinytorch.profiler import profile, record_function
>>> x = tt.ones(4, 3, device="numpy")
>>> with profile(with_flops=True) as prof:
...     with record_function("step"):
...         y = (x @ x.T).relu()
>>> [(e.key, e.count, e.flops) for e in prof.key_averages()]
[('step', 1, 0), ('Permute', 1, 0), ('Matmul', 1, 96), ('Relu', 1, 0)]

How it sees ops: :class:`profile` is a :class:`~tinytorch.tensor.DispatchMode`, so every op
that runs through ``Function.apply`` while it is active -- in the forward pass *and* in the
backward pass, which runs ops too -- reaches :meth:`profile.dispatch`, which times it. An
event is named after the op's :class:`~tinytorch.tensor.Function` class (``Matmul``, ``Mul``:
``grad_fn``'s name without ``Backward0``). What does *not* go through ``apply`` is not seen:
in-place updates (``+=``, ``add_``, an optimizer's step: see ``tinytorch/ops/inplace.py``)
and creation ops (``zeros``, ``randn``), which build arrays directly. Wrap them in
:class:`record_function` to see their time.

Counted per event:

* **time**: wall-clock time (``time.perf_counter_ns``) in microseconds; *self* time is the
  time minus that of the events nested inside (ops inside a ``record_function`` range);
* **FLOPs** (``with_flops=True``): ``2 * batch * n * k * m`` for each matrix product
  ``(…, n, k) @ (…, k, m)``: ``Matmul``, ``Linear`` (a linear layer's ``x @ w.T + b`` as
  one node), ``Attention`` (its two products) and ``Convolution`` (the product of the im2col
  matrix: ``2 * N * O * OH * OW * C / groups * kh * kw``) with its backward products
  ``ConvolutionGradInput`` and ``ConvolutionGradWeight`` (as many FLOPs each), so their FLOPs
  are those of the textbook formulas. Like ``torch.profiler``
  the other ops count no FLOPs: their cost is the memory they move;
* **bytes moved**: the bytes of the op's tensor inputs plus those of its output, the
  traffic an op that reads each input once and writes its output once has to pay; a view
  (an output that shares an input's buffer: ``Permute``, most reshapes) moves none;
* **memory** (``profile_memory=True``): the bytes of the new output the op allocated
  (none for a view); a range counts what the ops inside it allocated.

With no profiler active an op pays the dispatch hook's one empty-list check, and a
``record_function`` one thread-local lookup. The profiler records only the thread that
entered it (dispatch modes are per thread).
"""

from __future__ import annotations

import enum
import functools
import json
import math
import os
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from .tensor import DispatchMode, Function, Tensor

__all__ = ["ProfilerActivity", "profile", "record_function", "FunctionEvent", "FunctionEventAvg", "EventList",
           "matmul_flops"]


class ProfilerActivity(enum.Enum):
    """What to profile. tinytorch times everything on the host (its CUDA backend's kernels are
    timed as the host calls that launch them), so both activities record the same events."""

    CPU = "CPU"
    CUDA = "CUDA"


# --- events -----------------------------------------------------------------------------------------
@dataclass(eq=False, slots=True)
class FunctionEvent:
    """One op call or ``record_function`` range: name, start and end in microseconds since the
    profile started, and what was counted for it."""

    name: str
    start_us: float
    end_us: float = 0.0
    kind: str = "cpu_op"  # or "user_annotation" (a record_function range)
    thread: int = 0
    depth: int = 0  # how many events enclose it
    input_shapes: list[list[int]] = field(default_factory=list)
    flops: int = 0
    bytes_moved: int = 0
    cpu_memory_usage: int = 0
    children: list["FunctionEvent"] = field(default_factory=list)

    @property
    def key(self) -> str:
        return self.name

    @property
    def count(self) -> int:
        return 1

    @property
    def cpu_time_total(self) -> float:
        """Microseconds from start to end, the nested events included."""
        return self.end_us - self.start_us

    @property
    def self_cpu_time_total(self) -> float:
        """Microseconds spent in this event itself, the nested events' time taken out."""
        return self.cpu_time_total - sum(c.cpu_time_total for c in self.children)

    @property
    def self_cpu_memory_usage(self) -> int:
        return self.cpu_memory_usage - sum(c.cpu_memory_usage for c in self.children)


@dataclass(eq=False)
class FunctionEventAvg:
    """The events of one name (and, if grouped so, one list of input shapes), summed."""

    key: str
    input_shapes: list[list[int]] = field(default_factory=list)
    count: int = 0
    cpu_time_total: float = 0.0
    self_cpu_time_total: float = 0.0
    flops: int = 0
    bytes_moved: int = 0
    cpu_memory_usage: int = 0
    self_cpu_memory_usage: int = 0

    @property
    def cpu_time(self) -> float:
        """The average time of one call, in microseconds."""
        return self.cpu_time_total / max(self.count, 1)

    def add(self, e: "FunctionEvent | FunctionEventAvg") -> None:
        self.count += e.count
        self.cpu_time_total += e.cpu_time_total
        self.self_cpu_time_total += e.self_cpu_time_total
        self.flops += e.flops
        self.bytes_moved += e.bytes_moved
        self.cpu_memory_usage += e.cpu_memory_usage
        self.self_cpu_memory_usage += e.self_cpu_memory_usage


_SORT_KEYS = ("cpu_time_total", "self_cpu_time_total", "cpu_time", "count", "flops", "bytes_moved",
              "cpu_memory_usage", "self_cpu_memory_usage")


class EventList(list):
    """A list of events (or of averages) that prints as a table."""

    def __init__(self, items: Iterable[Any] = (), with_flops: bool = False, profile_memory: bool = False,
                 with_shapes: bool = False):
        super().__init__(items)
        self._with_flops, self._profile_memory, self._with_shapes = with_flops, profile_memory, with_shapes

    def table(self, sort_by: str | None = None, row_limit: int = 100, max_name_column_width: int = 55,
              header: str | None = None, top_level_events_only: bool = False) -> str:
        """The events as a text table, one row each: self and total time (and their share of the
        total), average time, calls, and FLOPs / bytes / memory when recorded. ``sort_by`` names
        a column attribute (``"self_cpu_time_total"``, ``"cpu_time_total"``, ``"count"``,
        ``"flops"``…), largest first; ``row_limit`` rows are shown (-1: all)."""
        if sort_by is not None and sort_by not in _SORT_KEYS:
            raise AttributeError(f"sort_by={sort_by!r} is not a column; choose one of {', '.join(_SORT_KEYS)}")
        rows = [e for e in self if not top_level_events_only or getattr(e, "depth", 0) == 0]
        if sort_by is not None:
            rows.sort(key=lambda e: getattr(e, sort_by), reverse=True)
        return _format_table(self, rows if row_limit < 0 else rows[:row_limit], max_name_column_width, header,
                             self._with_flops, self._profile_memory, self._with_shapes)


def _format_time(us: float) -> str:
    if us >= 1e6:
        return f"{us / 1e6:.3f}s"
    if us >= 1e3:
        return f"{us / 1e3:.3f}ms"
    return f"{us:.3f}us"


def _format_bytes(n: float) -> str:
    for unit, size in (("Gb", 1 << 30), ("Mb", 1 << 20), ("Kb", 1 << 10)):
        if abs(n) >= size:
            return f"{n / size:.2f} {unit}"
    return f"{int(n)} b"


def _format_table(events: list, rows: list, width: int, header: str | None, with_flops: bool,
                  profile_memory: bool, with_shapes: bool) -> str:
    total_self = sum(e.self_cpu_time_total for e in events) or 1.0
    name_w = min(max([len(e.key) for e in rows] + [4]) + 2, width)
    cols: list[tuple[str, Callable[[Any], str]]] = [
        ("Self CPU %", lambda e: f"{100 * e.self_cpu_time_total / total_self:.2f}%"),
        ("Self CPU", lambda e: _format_time(e.self_cpu_time_total)),
        ("CPU total %", lambda e: f"{100 * e.cpu_time_total / total_self:.2f}%"),
        ("CPU total", lambda e: _format_time(e.cpu_time_total)),
        ("CPU time avg", lambda e: _format_time(e.cpu_time_total / max(e.count, 1))),
        ("# of Calls", lambda e: str(e.count)),
        ("Bytes moved", lambda e: _format_bytes(e.bytes_moved) if e.bytes_moved else "--"),
    ]
    if profile_memory:
        cols += [("CPU Mem", lambda e: _format_bytes(e.cpu_memory_usage)),
                 ("Self CPU Mem", lambda e: _format_bytes(e.self_cpu_memory_usage))]
    if with_flops:
        cols.append(("Total MFLOPs", lambda e: f"{e.flops / 1e6:.3f}" if e.flops else "--"))
    if with_shapes:
        cols.append(("Input Shapes", lambda e: str(e.input_shapes)))
    widths = [name_w] + [max(12, len(c)) for c, _ in cols]
    rule = "  ".join("-" * w for w in widths)

    def line(cells: list[str]) -> str:
        return "  ".join(c.rjust(w) for c, w in zip(cells, widths))

    out = ([header] if header else []) + [rule, line(["Name"] + [c for c, _ in cols]), rule]
    for e in rows:
        name = e.key if len(e.key) <= name_w else e.key[:name_w - 3] + "..."
        out.append(line([name] + [f(e) for _, f in cols]))
    out += [rule, f"Self CPU time total: {_format_time(sum(e.self_cpu_time_total for e in events))}", ""]
    return "\n".join(out)


# --- FLOPs and bytes ----------------------------------------------------------------------------------
def matmul_flops(a_shape: tuple[int, ...], b_shape: tuple[int, ...]) -> int:
    """The FLOPs of ``(…, n, k) @ (…, k, m)`` (batch dims broadcast): one multiply and one add
    per term, ``2 * batch * n * k * m``."""
    n, k = a_shape[-2:]
    m = b_shape[-1]
    batch = 1
    for i in range(1, max(len(a_shape), len(b_shape)) - 1):
        da = a_shape[-2 - i] if i + 2 <= len(a_shape) else 1
        db = b_shape[-2 - i] if i + 2 <= len(b_shape) else 1
        batch *= max(da, db)
    return 2 * batch * n * k * m


def _op_flops(op: type[Function], args: tuple[Any, ...], out: Tensor) -> int:
    """The FLOPs of the matrix products: ``Matmul``, ``Linear`` (``x @ w.T``, ``w`` stored
    as ``(out, in)``), the two products inside ``Attention`` (the one-node
    ``scaled_dot_product_attention``) and ``Convolution`` (each output element a dot product of
    length ``C / groups * kh * kw``, read from the weight's shape) with its two gradient
    products, which cost as much; bias adds are not counted, as profilers count products only."""
    if op.__name__ == "Matmul":
        return matmul_flops(args[0].shape, args[1].shape)
    if op.__name__ == "Linear":
        return matmul_flops(args[0].shape, tuple(args[1].shape)[::-1])
    if op.__name__ in ("Convolution", "ConvolutionGradInput"):  # w (O, C/G, kh, kw) is args[1]
        return 2 * math.prod((out if op.__name__ == "Convolution" else args[0]).shape) * math.prod(args[1].shape[1:])
    if op.__name__ == "ConvolutionGradWeight":  # the result has the weight's shape
        return 2 * math.prod(args[0].shape) * math.prod(out.shape[1:])
    if op.__name__ == "Attention":  # softmax(q k^T) v: the scores' product and the weighted sum
        q, k, v = (tuple(a.shape) for a in args[:3])
        return matmul_flops(q, k[:-2] + (k[-1], k[-2])) + matmul_flops(q[:-1] + (k[-2],), v)
    return 0


def _tensor_bytes(t: Tensor) -> int:
    a = t._data
    return a.size * a.dtype.itemsize


# --- recording ----------------------------------------------------------------------------------------
class _Active(threading.local):
    """The profile recording in this thread (``None``: none), as explicit context."""

    profile: "profile | None" = None


_active = _Active()


class profile(DispatchMode):
    """Record every op (and :class:`record_function` range) run in this thread while active.

    Use as ``with profile(...) as prof:``; then ``prof.key_averages().table(...)`` and
    ``prof.export_chrome_trace(path)``. Arguments as ``torch.profiler.profile``: ``activities``
    (:class:`ProfilerActivity` values; all are timed on the host), ``record_shapes`` (keep the
    input shapes of each op), ``profile_memory`` (bytes each op allocated), ``with_flops``
    (FLOPs of matrix products), ``on_trace_ready`` (called with the profile when it stops).
    ``schedule`` is not supported (a profile records everything between enter and exit);
    ``with_stack``, ``with_modules`` and torch's other options are accepted and ignored.
    """

    def __init__(self, *, activities: Iterable[ProfilerActivity] | None = None, schedule: Any = None,
                 on_trace_ready: Callable[["profile"], Any] | None = None, record_shapes: bool = False,
                 profile_memory: bool = False, with_stack: bool = False, with_flops: bool = False,
                 with_modules: bool = False, **unused: Any):
        if schedule is not None:
            raise NotImplementedError("tinytorch's profiler has no schedule: it records from enter to exit")
        for a in activities or ():
            if not isinstance(a, ProfilerActivity):
                raise TypeError(f"activities must be ProfilerActivity values, got {a!r}")
        self.activities = set(activities or (ProfilerActivity.CPU,))
        self.record_shapes, self.profile_memory, self.with_flops = record_shapes, profile_memory, with_flops
        self.on_trace_ready = on_trace_ready
        self._events: list[FunctionEvent] = []
        self._open: list[FunctionEvent] = []  # the events running now, outermost first
        self._t0 = 0
        self._thread = 0
        self._step: FunctionEvent | None = None
        self._steps = 0

    # --- the context ---
    def start(self) -> None:
        self.__enter__()

    def stop(self) -> None:
        self.__exit__(None, None, None)

    def __enter__(self) -> "profile":
        if _active.profile is not None:
            raise RuntimeError("a profiler is already recording in this thread")
        self._t0 = time.perf_counter_ns()
        self._thread = threading.get_ident()
        _active.profile = self
        super().__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        super().__exit__(*exc)
        if self._step is not None:
            self._end(self._step)
            self._step = None
        _active.profile = None
        if self.on_trace_ready is not None:
            self.on_trace_ready(self)

    def step(self) -> None:
        """Mark the start of the next training step: a ``ProfilerStep#N`` range."""
        if self._step is not None:
            self._end(self._step)
        self._step = self._begin(f"ProfilerStep#{self._steps}", "user_annotation")
        self._steps += 1

    # --- events ---
    def _now_us(self) -> float:
        return (time.perf_counter_ns() - self._t0) / 1e3

    def _begin(self, name: str, kind: str) -> FunctionEvent:
        e = FunctionEvent(name, self._now_us(), kind=kind, thread=self._thread, depth=len(self._open))
        (self._open[-1].children if self._open else self._events).append(e)
        self._open.append(e)
        return e

    def _end(self, e: FunctionEvent) -> None:
        e.end_us = self._now_us()
        if e.kind == "user_annotation":  # a range allocated what the ops inside it allocated
            e.cpu_memory_usage = sum(c.cpu_memory_usage for c in e.children)
        while self._open and self._open[-1] is not e:  # a range left open inside e (an error) ends with it
            self._open.pop().end_us = e.end_us
        if self._open:
            self._open.pop()

    def dispatch(self, op: type[Function], args: tuple[Any, ...], params: dict[str, Any],
                 run: Callable[[tuple[Any, ...], dict[str, Any]], Tensor]) -> Tensor:
        """Time one op call and count its FLOPs, bytes and memory."""
        e = self._begin(op.__name__, "cpu_op")
        try:
            out = run(args, params)
        finally:
            self._end(e)
        if self.record_shapes:
            e.input_shapes = [list(a.shape) if isinstance(a, Tensor) else [] for a in args]
        if self.with_flops:
            e.flops = _op_flops(op, args, out)
        key, moved = out._data.buffer_key(), _tensor_bytes(out)
        for a in args:
            if isinstance(a, Tensor):
                if a._data.buffer_key() == key:  # a view moves nothing
                    return out
                moved += _tensor_bytes(a)
        e.bytes_moved = moved
        if self.profile_memory:
            e.cpu_memory_usage = _tensor_bytes(out)
        return out

    # --- results ---
    def events(self) -> EventList:
        """Every recorded event, in the order they started (nested ones after their parent)."""
        flat: list[FunctionEvent] = []
        stack = list(reversed(self._events))
        while stack:
            e = stack.pop()
            flat.append(e)
            stack.extend(reversed(e.children))
        return EventList(flat, self.with_flops, self.profile_memory, self.record_shapes)

    def key_averages(self, group_by_input_shape: bool = False) -> EventList:
        """The events summed per name (and per input shapes with ``group_by_input_shape``,
        which needs ``record_shapes=True``), in the order each name first ran."""
        if group_by_input_shape and not self.record_shapes:
            raise RuntimeError("group_by_input_shape needs profile(record_shapes=True)")
        groups: dict[tuple[str, str], FunctionEventAvg] = {}
        for e in self.events():
            key = (e.name, repr(e.input_shapes) if group_by_input_shape else "")
            avg = groups.setdefault(key, FunctionEventAvg(e.name, e.input_shapes if group_by_input_shape else []))
            avg.add(e)
        return EventList(groups.values(), self.with_flops, self.profile_memory, group_by_input_shape)

    def export_chrome_trace(self, path: str | os.PathLike) -> None:
        """Write the events in the Chrome trace format (open it in https://ui.perfetto.dev or
        chrome://tracing): one complete event (``"ph": "X"``) per op and range, ``ts`` and
        ``dur`` in microseconds."""
        pid = os.getpid()
        trace = [{"name": e.name, "cat": e.kind, "ph": "X", "ts": e.start_us, "dur": e.cpu_time_total,
                  "pid": pid, "tid": e.thread,
                  "args": {"Input Dims": e.input_shapes, "flops": e.flops, "bytes moved": e.bytes_moved}}
                 for e in self.events()]
        with open(path, "w", encoding="utf-8") as f:
            json.dump({"traceEvents": trace, "displayTimeUnit": "ms"}, f)


class record_function:
    """Mark a range of code as one event in the active profile (as a context manager, or as a
    decorator naming each call). Costs one thread-local lookup when no profile is active."""

    def __init__(self, name: str, args: str | None = None):
        self.name = name
        self._event: FunctionEvent | None = None
        self._profile: profile | None = None

    def __enter__(self) -> "record_function":
        self._profile = _active.profile
        if self._profile is not None:
            self._event = self._profile._begin(self.name, "user_annotation")
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._profile is not None and self._event is not None:
            self._profile._end(self._event)
        self._profile = self._event = None

    def __call__(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        name = self.name

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with record_function(name):
                return fn(*args, **kwargs)
        return wrapper
