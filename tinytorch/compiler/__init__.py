"""``tt.compile``: capture a function or model once, then replay it with fused generated kernels.

How a call goes (:class:`Compiled`):

1. The call's *signature* -- each tensor argument's shape, dtype, device and
   ``requires_grad``, which arguments are the same tensor, the other arguments' values, grad
   mode, the ``training`` flag and the parameter and buffer objects of every module involved,
   and the tensors the function names -- picks an entry of a cache.
2. The first two calls of a signature run eagerly while a :class:`~.capture.Recorder` (a
   ``DispatchMode``) writes down every op. :func:`~.capture.compare` checks that the two
   traces agree (same ops, same params, outside tensors that are weights or constants, no
   side effects); if they do not, that signature runs eagerly from then on, with one warning
   saying why (``fullgraph=True`` raises instead).
3. The trace is fused (:mod:`.fusion`), each fused group becomes a C kernel
   (:mod:`.codegen`, compiled once and cached on disk), and the next call runs the
   :class:`~.runtime.Plan` on the new tensors.
4. That run is recorded at the kernel level, with its backward pass when a gradient is needed
   (:class:`~.graph.GraphProgram`), and every later call of the signature replays the
   recorded kernels: the forward pass at the call, the backward pass when the engine reaches
   the call's one autograd node. A recording that cannot be replayed (it read values on the
   host) leaves the signature on its plan.

A function that calls ``backward()`` or steps an optimizer (a training step) has side effects
that a replay of its ops would not repeat. For such a function ``compile`` compiles the
modules it calls instead (those found in its closure and globals) and runs the rest --
``backward``, the optimizer -- eagerly, as ``torch.compile`` does around a graph break.

Without a C compiler, everything runs eagerly after one warning.
"""

from __future__ import annotations

import functools
import os
import types
import warnings
from typing import Any, Callable

from ..ndarray.program import KernelRecorder
from ..nn.module import Module
from ..tensor import Tensor, is_grad_enabled
from . import codegen
from .capture import Recorder, Trace, compare
from .fusion import plan_groups
from .graph import GraphProgram, GuardFailed, NotReplayable
from .lazy import LazyTensor, lazy
from .runtime import Plan

BACKENDS = (None, "inductor", "tinytorch", "eager")
MODES = (None, "default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")
_warned_no_compiler = False


def _debug_level(debug: Any) -> int:
    if debug is not None:
        return 2 if debug is True else int(debug)
    try:
        return int(os.environ.get("TINYTORCH_DEBUG", "0"))
    except ValueError:
        return 0


def _flatten(obj: Any, out: list[Tensor]) -> Any:
    """The tensors of a nest of tuples/lists/dicts into ``out``; returns a hashable skeleton."""
    if isinstance(obj, Tensor):
        for j, t in enumerate(out):
            if t is obj:
                return ("same", j)
        out.append(obj)
        d = obj._data
        return ("T", d.shape, d.dtype.name, d.device.type, obj.requires_grad)
    if isinstance(obj, (tuple, list)):
        return (type(obj).__name__, tuple(_flatten(o, out) for o in obj))
    if isinstance(obj, dict):
        return ("dict", tuple((k, _flatten(v, out)) for k, v in obj.items()))
    try:
        hash(obj)
        return ("V", type(obj).__name__, obj)
    except TypeError:
        return ("id", id(obj))


def modules_used(fn: Callable[..., Any], depth: int = 3) -> list[Module]:
    """The modules a function can reach by name: in its closure and the globals it names, and
    in the closures of the functions in its closure (``loss_of = lambda x, y: net(x, y)``),
    outermost only: a module inside another one found is left to it."""
    code = getattr(fn, "__code__", None)
    found: list[Module] = []
    if code is not None:
        cells = [c.cell_contents for c in (fn.__closure__ or ()) if _has_contents(c)]
        names = [fn.__globals__.get(n) for n in code.co_names]
        found = [m for m in cells + names if isinstance(m, Module)]
        if depth > 1:
            found += [m for f in cells if isinstance(f, types.FunctionType) for m in modules_used(f, depth - 1)]
    inner = {id(s) for m in found for s in m.modules() if s is not m}
    unique: dict[int, Module] = {}
    for m in found:
        if id(m) not in inner:
            unique.setdefault(id(m), m)
    return list(unique.values())


def _named_tensors(fn: Callable[..., Any]) -> list[Tensor]:
    """The tensors a function reaches by name (closure and globals): a name rebound to
    another tensor is a new signature."""
    code = getattr(fn, "__code__", None)
    if code is None:
        return []
    cells = [c.cell_contents for c in (fn.__closure__ or ()) if _has_contents(c)]
    return [t for t in cells + [fn.__globals__.get(n) for n in code.co_names] if isinstance(t, Tensor)]


def _calls_backward(fn: Callable[..., Any]) -> bool:
    """True when the function's own code calls a method named ``backward``."""
    code = getattr(fn, "__code__", None)
    return code is not None and "backward" in code.co_names


def _has_contents(cell: Any) -> bool:
    try:
        return cell.cell_contents is not cell  # reading an empty cell raises
    except ValueError:
        return False


class _Entry:
    """The state of one signature: the first capture, then the plan (or eager)."""

    def __init__(self) -> None:
        self.first: Trace | None = None
        self.plan: Plan | None = None
        self.graph: GraphProgram | None = None
        self.graph_failed: str | None = None  # why the plan's kernels cannot be replayed
        self.outside_meta: list[tuple[Any, ...]] = []
        self.eager = False


class Compiled:
    """A compiled callable (what :func:`compile` returns for a function). See the module docstring.

    ``captures`` counts the eager captures made, ``compiles`` the plans built (a new
    signature, or a guard that failed, makes another), ``replays`` the calls served by a plan
    or its recorded kernels, ``recordings`` the kernel recordings made."""

    def __init__(self, fn: Callable[..., Any], *, modules: list[Module] | None = None, fullgraph: bool = False,
                 debug: Any = None, eager: bool = False):
        self.fn = fn
        self.modules = modules
        self.fullgraph = fullgraph
        self.debug = debug
        self.eager = eager
        self.cache: dict[Any, _Entry] = {}
        self.captures = self.compiles = self.replays = self.recordings = 0
        self.fallback: list[Compiled] | None = None  # the compiled modules of a function with side effects
        functools.update_wrapper(self, fn)  # type: ignore[arg-type]

    def _modules(self) -> list[Module]:
        return self.modules if self.modules is not None else modules_used(self.fn)

    def signature(self, args: tuple, kwargs: dict, tensors: list[Tensor]) -> Any:
        """The cache key of a call (filling ``tensors`` with its tensor arguments)."""
        skeleton = _flatten((args, kwargs), tensors)
        state = tuple((m.training, tuple(map(id, m._parameters.values())), tuple(map(id, m._buffers.values())))
                      for top in self._modules() for m in top.modules())
        return skeleton, is_grad_enabled(), state, tuple(map(id, _named_tensors(self.fn)))

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self.eager:
            return self.fn(*args, **kwargs)
        if self.fallback is not None:
            return self._call_with_compiled_modules(args, kwargs)
        tensors: list[Tensor] = []
        key = self.signature(args, kwargs, tensors)
        entry = self.cache.get(key)
        if entry is None:
            entry = self.cache[key] = _Entry()
        if entry.eager:
            return self.fn(*args, **kwargs)
        if self.modules is None and entry.first is None and entry.plan is None and _calls_backward(self.fn):
            # a training step: recording it whole would keep every array of forward, backward and
            # optimizer alive only to find the side effects; compile its modules straight away
            self._give_up(entry, "it calls backward() (a training step)", side_effect=True)
            if self.fallback is not None:
                return self._call_with_compiled_modules(args, kwargs)
            return self.fn(*args, **kwargs)
        if entry.plan is not None:
            outside = entry.plan.trace.outside
            if all(_meta(t) == m for t, m in zip(outside, entry.outside_meta)):
                self.replays += 1
                return self._replay(entry, tensors + outside)
            # a weight changed shape, dtype or requires_grad: capture (and record) again
            entry.plan = entry.graph = entry.graph_failed = None
        reads = KernelRecorder(record=False)
        recorder = Recorder(tensors, reads)
        with recorder, reads:
            result = self.fn(*args, **kwargs)
        trace = recorder.finish(result)
        if reads.host_reads and trace.side_effect is None:
            trace.side_effect = ("it reads tensor values on the host (a check or a count inside an op), so what it "
                                 "computes may depend on the data")
        self.captures += 1
        if trace.side_effect is not None:
            self._give_up(entry, trace.side_effect, side_effect=True)
            return result
        if entry.first is None:
            entry.first = trace
            return result
        reason = compare(entry.first, trace)
        entry.first = None
        if reason is not None:
            self._give_up(entry, reason)
            return result
        try:
            entry.plan = self._make_plan(trace)
        except codegen.CompilerUnavailable as e:
            global _warned_no_compiler
            if self.fullgraph:
                raise
            if not _warned_no_compiler:
                _warned_no_compiler = True
                warnings.warn(f"tt.compile runs eagerly: {e}", RuntimeWarning, stacklevel=2)
            self.eager = True
            return result
        entry.outside_meta = [_meta(t) for t in trace.outside]
        self.compiles += 1
        return result

    def _replay(self, entry: _Entry, inputs: list[Tensor]) -> Any:
        """Serve a call from the signature's recorded kernels, recording them on the first call
        after the plan was built (see the module docstring, step 4)."""
        assert entry.plan is not None
        graph = entry.graph
        if graph is not None and graph.program is not None:
            try:
                return graph.run(inputs)
            except GuardFailed:  # an argument is a view laid out otherwise: record this layout
                entry.graph = None
        elif graph is not None:  # its backward phase failed, or was never recorded (no backward() came)
            entry.graph_failed, entry.graph = graph.failed, None
            if graph.failed and _debug_level(self.debug):
                print(f"tt.compile: the plan runs op by op: {graph.failed}")
        if entry.graph_failed is None:
            try:
                entry.graph, result = GraphProgram.record(entry.plan, inputs)
                self.recordings += 1
                return result
            except NotReplayable as e:
                entry.graph_failed = str(e)
                if _debug_level(self.debug):
                    print(f"tt.compile: the plan runs op by op: {e}")
        return entry.plan.run(inputs)

    def _give_up(self, entry: _Entry, reason: str, side_effect: bool = False) -> None:
        """Stop capturing this signature: compile the modules a function with side effects
        calls, or run it eagerly with one warning (``fullgraph=True`` raises)."""
        name = getattr(self.fn, "__qualname__", repr(self.fn))
        if self.fullgraph:
            raise RuntimeError(f"tt.compile(fullgraph=True): {name} cannot be captured whole: {reason}")
        if side_effect and self.modules is None:
            mods = modules_used(self.fn)
            if mods:
                self.fallback = [Compiled(m.forward, modules=[m], debug=self.debug) for m in mods]
                self._fallback_modules = mods
                if _debug_level(self.debug):
                    print(f"tt.compile: {name}: {reason}; compiling the modules it calls "
                          f"({', '.join(type(m).__name__ for m in mods)}) and running the rest eagerly")
                return
        entry.eager = True
        warnings.warn(f"tt.compile: {name} runs eagerly for this input signature: {reason}",
                      RuntimeWarning, stacklevel=3)

    def _call_with_compiled_modules(self, args: tuple, kwargs: dict) -> Any:
        """Run the function with each module it uses calling its compiled forward."""
        mods = self._fallback_modules
        assert self.fallback is not None
        for m, c in zip(mods, self.fallback):
            m.__dict__["forward"] = c
        try:
            return self.fn(*args, **kwargs)
        finally:
            for m in mods:
                m.__dict__.pop("forward", None)

    def _make_plan(self, trace: Trace) -> Plan:
        groups = plan_groups(trace)
        level = _debug_level(self.debug)
        kernels = []
        for g in groups:
            source = codegen.c_source(g, trace)
            if level >= 2:
                print(f"// tt.compile: fused kernel for {' -> '.join(s.op.__name__ for s in g.steps)}\n{source}")
            kernels.append(codegen.build(source))
        plan = Plan(trace, groups, kernels)
        if level >= 1:
            print(plan.describe())
        return plan

    def plans(self) -> list[Plan]:
        """The plans built so far, one per signature that compiled."""
        return [e.plan for e in self.cache.values() if e.plan is not None]


def _meta(t: Tensor) -> tuple[Any, ...]:
    d = t._data
    return d.shape, d.dtype, d.device, t.requires_grad


class CompiledModule(Module):
    """What :func:`compile` returns for a module: a module whose call runs the compiled
    ``__call__`` of the original (``_orig_mod``, as PyTorch names it; its parameters and
    state dict are the original's, under the ``_orig_mod.`` prefix as in PyTorch)."""

    def __init__(self, module: Module, **options: Any):
        super().__init__()
        self._orig_mod = module
        object.__setattr__(self, "_compiled", Compiled(module.__call__, modules=[module], **options))

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        return self._compiled(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        try:
            return super().__getattr__(name)  # type: ignore[misc]
        except AttributeError:
            return getattr(self.__dict__["_modules"]["_orig_mod"], name)


def compile(model: Any = None, *, fullgraph: bool = False, dynamic: bool | None = None, backend: Any = None,
            mode: str | None = None, options: dict | None = None, disable: bool = False, debug: Any = None) -> Any:
    """Compile a function or a module, as ``torch.compile``: see the module docstring.

    ``backend`` may be None, ``"inductor"`` or ``"tinytorch"`` (generated C kernels) or
    ``"eager"`` (no compilation); ``mode`` is accepted and changes nothing; ``dynamic`` is
    accepted, but every new shape is a new signature (compiled for that shape);
    ``debug=True`` (or ``TINYTORCH_DEBUG=2``) prints each generated kernel's source and the
    schedule, ``debug=1`` (``TINYTORCH_DEBUG=1``) only the schedule. Without ``model`` it
    returns a decorator.
    """
    if backend not in BACKENDS and not callable(backend):
        raise ValueError(f"tt.compile: unknown backend {backend!r}; expected one of {BACKENDS[1:]}")
    if mode not in MODES:
        raise RuntimeError(f"Unrecognized mode={mode}, should be one of: {', '.join(m for m in MODES if m)}")
    if model is None:
        return functools.partial(compile, fullgraph=fullgraph, dynamic=dynamic, backend=backend, mode=mode,
                                 options=options, disable=disable, debug=debug)
    if not callable(model):
        raise RuntimeError(f"tt.compile expects a callable or a Module, got {type(model).__name__}")
    eager = disable or backend == "eager"
    if isinstance(model, Module):
        return CompiledModule(model, fullgraph=fullgraph, debug=debug, eager=eager)
    return Compiled(model, fullgraph=fullgraph, debug=debug, eager=eager)


if os.environ.get("TINYTORCH_LAZY") == "1":  # the main thread starts in lazy mode
    lazy().__enter__()

__all__ = ["compile", "Compiled", "CompiledModule", "lazy", "LazyTensor"]
