"""Kernel programs: record the backend calls some code makes, then replay them with no Python above.

Every op ends in calls of backend functions (:mod:`.interface`) on buffers: ``matmul(a, b, out,
m, n, p, batch)``, ``ewise_add(a, b, out)``, ``fill(out, 0.0)``. While a :class:`KernelRecorder`
is active, each device's ``backend`` is a recording proxy: the calls run as usual and are written
down, each buffer argument replaced by a *slot* number. A :class:`KernelProgram` made from the
recording calls the same backend functions in the same order on the buffers of a new call: no
op function, no Function node, no NDArray is made in between. This is what ``tt.compile``
replays, and what CUDA graphs and tinygrad's JIT do with GPU kernels.

A slot is one of:

* **bound** -- the buffer of an array the caller passes to every run (an input, a weight, an
  output's gradient), in the same layout as at recording (checked: :class:`GuardFailed`);
* **fixed** -- a buffer that existed before the recording and is not bound (a module's cached
  constant): the same object at every run;
* **carried** -- made by an earlier phase of the same run (a value a forward pass saved for its
  backward pass), handed over in the run's ``state``;
* **fresh** -- made by this phase and still needed after it (an output, a value a later phase
  reads): allocated anew at every run, so what a run returns is never overwritten by the next;
* **scratch** -- made and last used inside one phase: the memory plan (:func:`plan_memory`)
  gives it an *arena*, a buffer allocated once per program that slots whose lifetimes do not
  overlap share, and that the next run uses again;
* **constant** -- made from host data (``from_numpy``, a ``tt.tensor([...])`` inside the
  code): made again from the recorded host copy at every run.

A recording is replayable only if the code's kernels do not depend on the values: reading
values back to the host (``to_numpy``) makes it non-replayable (:attr:`KernelRecorder.host_reads`),
except inside a check (:func:`.checks.check`), which is recorded as a step and run again at
every replay. The caller decides what else to verify (``tt.compile`` compares two op-level
captures first).
Phases split one recording into parts run at different times (a forward pass, and later its
backward pass).

Buffers are told apart by their ``id`` while recording, and the recorder keeps none of the
buffers it saw made alive (a recording costs no more memory than a run): a buffer made through
the proxy always gets a new slot, one made where nothing is recorded (paused, another thread)
makes its id name no slot, and between phases only the buffers an earlier phase left for a
later one (:meth:`KernelRecorder.keep`) keep their slots.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np

from .devices import Device, loaded_devices
from .dtypes import DType, float32
from .interface import OPTIONAL_FUNCTIONS, Pointer, interface_functions
from .ndarray import NDArray

#: The backend functions recorded as kernels (every other attribute of a backend passes through).
KERNELS = frozenset(interface_functions() + list(OPTIONAL_FUNCTIONS)) - {"alloc", "from_numpy", "to_numpy",
                                                                         "lower_call", "buffer_address"}


#: Held while a recorder's proxies are installed: a second thread's recorder waits, so that each
#: recorder puts back exactly the backends it replaced (the same thread may nest recorders).
_installing = threading.RLock()


class Slot(int):
    """A buffer argument of a recorded call, by slot number."""


class GuardFailed(RuntimeError):
    """A run's bound arrays are not laid out as at recording (the caller records again)."""


@dataclass
class _Made:
    """How a slot came to be during the recording: ``alloc`` (``size``, ``dtype``) or
    ``const`` (``host``), at call position ``at``, on ``backend``."""

    kind: str
    at: int
    backend: Any
    size: int = 0
    dtype: DType | None = None
    host: np.ndarray | None = None


class _Proxy:
    """A device's backend while a recorder is active: kernels are recorded, then run."""

    def __init__(self, backend: Any, recorder: "KernelRecorder"):
        self._backend = backend
        self.recorder = recorder

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._backend, name)
        rec = self.recorder
        if attr is None or not callable(attr):
            return attr
        if rec.paused or threading.get_ident() != rec.thread:
            if name in ("alloc", "from_numpy"):  # not recorded, but its id must not name a dead slot
                return lambda *args: rec.forget(attr(*args))
            return attr
        if name == "alloc":
            return lambda size, dtype: rec._made(attr(size, dtype), _Made("alloc", len(rec.calls), self._backend,
                                                                         size, dtype))
        if name == "from_numpy":
            return lambda a: rec._made(attr(a), _Made("const", len(rec.calls), self._backend,
                                                       host=np.array(a, copy=True)))
        if name == "to_numpy":
            def read(*args: Any) -> Any:
                rec.host_reads += 1
                return attr(*args)
            return read
        if not rec.record:
            return attr
        if name in KERNELS:
            lower = self._backend.lower_call

            def kernel(*args: Any) -> Any:
                if lower is None:
                    rec.calls.append((attr, name, rec.template(args), None))
                    return attr(*args)
                result, lowered = lower(attr, args)
                rec.calls.append((attr, name, rec.template(args), lowered and (lowered, self._backend.buffer_address)))
                return result
            return kernel
        return attr


class KernelRecorder:
    """Record the backend calls this thread makes inside ``with KernelRecorder() as rec:``, on
    every device in use (other threads' calls pass through unrecorded).

    ``calls`` holds ``(function, name, args, lowered)`` with buffers as :class:`Slot` and
    ``lowered`` the C calls the backend made for it (its optional ``lower_call``), or None;
    ``buffers[k]`` is
    the buffer of slot ``k`` when it came from outside the recording (None for one it made:
    ``made[k]`` says how); ``phases`` the call positions where each phase starts
    (:meth:`next_phase`); ``host_reads`` counts values read back to the host. With
    ``record=False`` it only counts the host reads."""

    def __init__(self, record: bool = True) -> None:
        self.record = record
        self.calls: list[tuple[Callable[..., Any], str, tuple[Any, ...], Any]] = []
        self.buffers: list[Any] = []
        self.made: dict[int, _Made] = {}
        self.kept: set[int] = set()
        self.phase_seen: dict[int, int] = {}  # the phase in which a buffer from outside was first seen
        self.phases: list[int] = [0]
        self.host_reads = 0
        self._slot: dict[int, int] = {}
        self._buffer_types: tuple[type, ...] = ()
        self._saved: list[tuple[Device, Any]] = []
        self.paused = False
        self.thread = threading.get_ident()

    def __enter__(self) -> "KernelRecorder":
        _installing.acquire()  # one thread's recorders at a time: each restores what it replaced
        for dev in loaded_devices():
            self._saved.append((dev, dev.backend))
            self._buffer_types += (type(dev.backend.alloc(0, float32)),)
            dev.backend = _Proxy(dev.backend, self)
        return self

    def __exit__(self, *exc: Any) -> None:
        for dev, backend in self._saved:
            dev.backend = backend
        self._saved.clear()
        _installing.release()

    def pause(self) -> "_Paused":
        """``with rec.pause():`` -- calls made inside are not recorded (what the caller prepares)."""
        return _Paused(self)

    def next_phase(self) -> None:
        """Start the next phase: the calls from here on run separately (``run(phase=...)``).
        The buffers made so far and not kept may be dead by the time the next phase is recorded
        (the recorder may be left between phases), so their ids stop naming slots."""
        for i, k in list(self._slot.items()):
            if k in self.made and k not in self.kept:
                del self._slot[i]
        self.phases.append(len(self.calls))

    def slot_of(self, buf: Any) -> int:
        """The slot of a buffer, numbering it when first seen (kept alive: a buffer from before
        the recording -- an input, a weight -- is alive anyway)."""
        k = self._slot.get(id(buf))
        if k is None:
            k = self._slot[id(buf)] = len(self.buffers)
            self.buffers.append(buf)
            self.phase_seen[k] = len(self.phases) - 1
        return k

    def _made(self, buf: Any, how: _Made) -> Any:
        """A buffer made while recording gets a new slot. The recorder does not keep it alive:
        it dies when its code drops it, as it would without a recorder, so recording costs no
        more memory than running. What the first phase leaves for the later ones is kept with
        :meth:`keep`."""
        k = self._slot[id(buf)] = len(self.buffers)
        self.buffers.append(None)
        self.made[k] = how
        return buf

    def forget(self, buf: Any) -> Any:
        """A buffer made where the recorder does not record (paused, another thread): its id may
        be that of a dead recorded buffer, so the id no longer names a slot."""
        self._slot.pop(id(buf), None)
        return buf

    def keep(self, arrays: Sequence[NDArray]) -> None:
        """Keep naming the recorded buffers under ``arrays`` after :meth:`next_phase` (the values
        the first phase saved for the next, alive in an autograd graph until the next phase reads
        them). The recorder holds no reference to them: they die when the graph drops them."""
        for a in arrays:
            k = self._slot.get(id(a._buf))
            if k is not None and k in self.made:
                self.kept.add(k)

    def template(self, args: Any) -> Any:
        """``args`` with each buffer replaced by its :class:`Slot` (inside tuples and lists too)."""
        if isinstance(args, self._buffer_types):
            return Slot(self.slot_of(args))
        if isinstance(args, (tuple, list)):
            return type(args)(self.template(a) for a in args)
        return args

    def program(self, binds: Sequence[Sequence[NDArray | None]],
                outputs: Sequence[Sequence[NDArray | None]]) -> "KernelProgram":
        """The program of this recording: phase ``p`` binds the buffers of ``binds[p]`` (the
        arrays the caller will pass to ``run(p, ...)``, in this order) and returns arrays laid out
        as ``outputs[p]`` (``None`` stays ``None``). Raises ``ValueError`` if it read values on
        the host or an output lies in a buffer no phase can give back."""
        if self.host_reads:
            raise ValueError(f"the recorded code read values back to the host {self.host_reads} time(s): "
                             "its kernels may depend on the data")
        return KernelProgram(self, binds, outputs)


class _Paused:
    def __init__(self, rec: KernelRecorder):
        self.rec = rec

    def __enter__(self) -> None:
        self.rec.paused = True

    def __exit__(self, *exc: Any) -> None:
        self.rec.paused = False


@dataclass
class _Phase:
    calls: list[tuple[Callable[..., Any], tuple[Any, ...], bool, Any]] = field(default_factory=list)
    binds: list[tuple[int, tuple[Any, ...]] | None] = field(default_factory=list)  # (slot, layout) per array
    fixed: dict[int, Any] = field(default_factory=dict)
    fresh: list[tuple[int, Any, int, DType]] = field(default_factory=list)  # (slot, backend, size, dtype)
    consts: list[tuple[int, Any, np.ndarray]] = field(default_factory=list)
    scratch: list[tuple[int, int]] = field(default_factory=list)  # (slot, arena)
    carry_in: list[int] = field(default_factory=list)
    carry_out: list[int] = field(default_factory=list)
    outputs: list[tuple[int, tuple[Any, ...], DType, Device] | None] = field(default_factory=list)
    exclusive: tuple[bool, ...] = ()  # per output: see KernelProgram.exclusive_outputs


def _layout(a: NDArray) -> tuple[Any, ...]:
    return a.shape, a.strides, a.offset, a.dtype, a.device, _size(a._buf)


def _size(buf: Any) -> int:
    return int(buf.size)


def _slots(args: Any) -> list[int]:
    if isinstance(args, Slot):
        return [int(args)]
    if isinstance(args, (tuple, list)):
        return [k for a in args for k in _slots(a)]
    return []


class KernelProgram:
    """A recording made replayable (see the module docstring). ``run(phase, arrays, state)``."""

    def __init__(self, rec: KernelRecorder, binds: Sequence[Sequence[NDArray | None]],
                 outputs: Sequence[Sequence[NDArray | None]]):
        ends = rec.phases[1:] + [len(rec.calls)]
        born = {k: m.at for k, m in rec.made.items()}
        phase_of_birth = {k: _phase_at(rec.phases, at) for k, at in born.items()}
        last_use: dict[int, int] = {}
        for i, (_, _, args, _) in enumerate(rec.calls):
            for k in _slots(args):
                last_use[k] = i
        out_slots = [{rec.slot_of(a._buf) for a in outs if a is not None} for outs in outputs]
        self.phases: list[_Phase] = []
        self.arenas: list[Any] = []  # allocated at the first run, when the recording's memory is free again
        self._arena_specs: list[tuple[Any, int, DType]] = []
        arena_keys: list[tuple[int, int, str]] = []
        for p, (start, end) in enumerate(zip(rec.phases, ends)):
            ph = _Phase()
            bound: dict[int, int] = {}
            for a in binds[p]:
                if a is None or id(a._buf) not in rec._slot:
                    ph.binds.append(None)
                    continue
                k = rec.slot_of(a._buf)
                ph.binds.append((k, _layout(a)))
                bound.setdefault(k, len(ph.binds) - 1)
            used = sorted({k for _, _, args, _ in rec.calls[start:end] for k in _slots(args)} | out_slots[p])
            later = {k for _, _, args, _ in rec.calls[end:] for k in _slots(args)} | \
                {k for q in range(p + 1, len(outputs)) for k in out_slots[q]}
            for k in used:
                m = rec.made.get(k)
                if k in bound:
                    continue
                if m is None:
                    if p and rec.phase_seen.get(k) == p:  # first seen after the forward phase: made by it?
                        raise ValueError("a later phase reads a buffer from outside that no earlier phase used "
                                         "and nothing binds (a value the first phase saved outside its graph?)")
                    ph.fixed[k] = rec.buffers[k]
                elif phase_of_birth[k] < p:
                    ph.carry_in.append(k)
                elif m.kind == "const":
                    assert m.host is not None
                    ph.consts.append((k, m.backend, m.host))
                    if k in later:
                        ph.carry_out.append(k)
                elif k in out_slots[p] or k in later:
                    assert m.dtype is not None
                    ph.fresh.append((k, m.backend, m.size, m.dtype))
                    if k in later:
                        ph.carry_out.append(k)
            scratch = [k for k in used if k not in bound and k in rec.made and phase_of_birth[k] == p
                       and rec.made[k].kind == "alloc" and k not in out_slots[p] and k not in later]
            for k, arena in plan_memory(scratch, born, last_use, rec.made, arena_keys):
                if arena == len(self._arena_specs):
                    m = rec.made[k]
                    assert m.dtype is not None
                    self._arena_specs.append((m.backend, m.size, m.dtype))
                ph.scratch.append((k, arena))
            for fn, _, args, lowered in rec.calls[start:end]:
                # a tuple argument holding no slot (a shape) is passed as it is, not rebuilt per run
                nested = any(isinstance(a, (tuple, list)) and _slots(a) for a in args)
                ph.calls.append((fn, args, nested, _lowered_steps(lowered, args)))
            for a in outputs[p]:
                ph.outputs.append(None if a is None else
                                  (rec.slot_of(a._buf), (a.shape, a.strides, a.offset), a.dtype, a.device))
            out_ks = [o[0] for o in ph.outputs if o is not None]
            made_here = {k for k, *_ in ph.fresh} | {k for k, *_ in ph.consts}
            ph.exclusive = tuple(o is not None and o[0] in made_here and out_ks.count(o[0]) == 1
                                 and o[0] not in ph.carry_out for o in ph.outputs)
            self.phases.append(ph)

    def run(self, phase: int, arrays: Sequence[NDArray | None], state: dict[int, Any] | None = None
            ) -> tuple[list[NDArray | None], dict[int, Any]]:
        """Run ``phase`` on ``arrays`` (laid out as the recording's ``binds[phase]``; else
        :class:`GuardFailed`) with ``state`` from the earlier phases of this run; returns the
        phase's outputs and the state later phases need."""
        ph = self.phases[phase]
        env: dict[int, Any] = dict(ph.fixed)
        for b, a in zip(ph.binds, arrays):
            if b is None:
                continue
            k, layout = b
            if a is None or _layout(a) != layout or env.get(k, a._buf) is not a._buf:
                raise GuardFailed(f"argument laid out as {None if a is None else _layout(a)[:3]}, "
                                  f"recorded as {layout[:3]}")
            env[k] = a._buf
        if state:
            for k in ph.carry_in:
                env[k] = state[k]
        for k, backend, size, dtype in ph.fresh:
            env[k] = backend.alloc(size, dtype)
        for k, backend, host in ph.consts:
            env[k] = backend.from_numpy(host)
        arenas = self.arenas
        if len(arenas) < len(self._arena_specs):
            arenas[:] = [backend.alloc(size, dtype) for backend, size, dtype in self._arena_specs]
        for k, i in ph.scratch:
            env[k] = arenas[i]
        for fn, args, nested, lowered in ph.calls:
            if lowered is not None:
                address, steps = lowered
                for cfn, base, pointers, expected in steps:
                    cargs = list(base)
                    for j, k, offset in pointers:
                        cargs[j] = address(env[k]) + offset
                    if cfn(*cargs) != expected:  # C refused (a bad index): the call itself raises the error
                        fn(*[env[a] if type(a) is Slot else a for a in args])
                        break
                continue
            if nested:
                fn(*[_fill(a, env) if isinstance(a, (tuple, list)) else env[a] if type(a) is Slot else a
                     for a in args])
            else:
                fn(*[env[a] if type(a) is Slot else a for a in args])
        outs: list[NDArray | None] = []
        for o in ph.outputs:
            if o is None:
                outs.append(None)
            else:
                k, (shape, strides, offset), dtype, device = o
                outs.append(NDArray(env[k], shape, strides, offset, dtype, device))
        carried = {k: env[k] for k in ph.carry_out}
        if state:
            carried.update(state)
        return outs, carried

    def exclusive_outputs(self, phase: int) -> tuple[bool, ...]:
        """For each output of ``phase``: True when a run returns it in a buffer made by that run
        that nothing else holds -- not a bound argument, not a value carried to a later phase,
        not another output's buffer."""
        return self.phases[phase].exclusive

    def describe(self) -> str:
        """One line per phase: its kernels and its memory (fresh and scratch buffers)."""
        lines = []
        for p, ph in enumerate(self.phases):
            names: dict[str, int] = {}
            for fn, _, _, _ in ph.calls:
                n = getattr(fn, "__name__", "kernel")
                names[n] = names.get(n, 0) + 1
            top = ", ".join(f"{n} x{c}" for n, c in sorted(names.items(), key=lambda x: -x[1])[:6])
            lines.append(f"phase {p}: {len(ph.calls)} kernel calls ({top}); {len(ph.fresh)} fresh buffers, "
                         f"{len(ph.scratch)} scratch values in {len({a for _, a in ph.scratch})} arenas")
        return "\n".join(lines)


def _lowered_steps(lowered: Any, args: tuple[Any, ...]) -> Any:
    """A recorded call's C calls as a replay runs them: ``(address, [(c_function, args,
    [(position, slot, byte offset) of each pointer], expected result)])``, or None."""
    if not lowered:
        return None
    calls, address = lowered
    steps = []
    for cfn, cargs, expected in calls:
        pointers = [(j, int(args[a.arg]), a.offset) for j, a in enumerate(cargs) if type(a) is Pointer]
        steps.append((cfn, cargs, pointers, expected))
    return address, steps


def _fill(args: Any, env: dict[int, Any]) -> Any:
    if type(args) is Slot:
        return env[args]
    if isinstance(args, (tuple, list)):
        return type(args)(_fill(a, env) for a in args)
    return args


def _phase_at(starts: list[int], at: int) -> int:
    p = 0
    for i, s in enumerate(starts):
        if at >= s:
            p = i
    return p


def plan_memory(slots: list[int], born: dict[int, int], last_use: dict[int, int], made: dict[int, _Made],
                arena_keys: list[tuple[int, int, str]]) -> list[tuple[int, int]]:
    """Give each scratch slot an arena: in order of birth, a slot takes a free arena of its
    backend, size and dtype (one whose last slot's last use came before this birth), else a new
    one (numbered ``len(arena_keys)``, appended). Returns ``(slot, arena)`` pairs.

    This is interval colouring with exact sizes: simple, and the same (dtype, size) recurs
    throughout a network (each layer's activations and their gradients)."""
    free_at: dict[int, int] = {}  # arena -> the call after which it is free
    result = []
    for k in sorted(slots, key=lambda s: born[s]):
        m = made[k]
        key = (id(m.backend), m.size, m.dtype.name if m.dtype is not None else "")
        arena = next((i for i, ak in enumerate(arena_keys) if ak == key and free_at.get(i, -1) < born[k]), None)
        if arena is None:
            arena = len(arena_keys)
            arena_keys.append(key)
        free_at[arena] = last_use.get(k, born[k])
        result.append((k, arena))
    return result


__all__ = ["KernelRecorder", "KernelProgram", "GuardFailed", "Slot", "KERNELS", "plan_memory"]
