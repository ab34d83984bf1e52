"""Lazy mode: ``with tt.lazy():`` records elementwise work as a graph and runs it on demand.

Inside the block an elementwise op on floating-point tensors (one of the fusible ops of
:mod:`.fusion`) does not run: it returns a :class:`LazyTensor`, a Tensor that knows its
shape, dtype and device (from broadcasting, which is all an elementwise op does to them) and
the op that will make it. Any other op runs at once, as in eager mode -- and to read its
inputs it realises them first.

A lazy tensor is *realised* the first time anything needs its values: ``.numpy()``,
``.item()``, ``print``, ``.backward()`` (its ``grad_fn``), an op that is not deferred, or the
end of the ``with`` block. Realising builds a trace of the pending nodes it depends on,
lets the scheduler group them (:func:`.fusion.plan_groups`: one kernel per chain of
elementwise nodes of one shape) and runs that plan (:class:`.runtime.Plan`), each group as
one generated C kernel. :func:`schedule` shows the plan without running it.

The ``_data`` of a lazy tensor is a property that realises it: the layers below never see an
unfinished array (nothing above the NDArray layer touches buffers; imports still point
down). ``TINYTORCH_LAZY=1`` in the environment makes the main thread start in lazy mode.

A ``sum`` of a pending tensor is deferred too, so that the scheduler can fuse a sum over the
trailing axes into the chain that makes its input (one kernel writes one value per row).
What is not lazy: other reductions, matmul, movement and every op outside the fusible table
run when called; a value read from a lazy tensor inside the block realises it then.
"""

from __future__ import annotations

import weakref
from typing import Any, Callable

from ..ndarray.strides import broadcast_shapes
from ..ops.reduce import Sum
from ..tensor import DispatchMode, Function, Tensor, is_grad_enabled, postorder
from . import codegen
from .capture import Step, Trace
from .fusion import EXPRESSIONS, FLOATS, describe, plan_groups
from .runtime import Plan

# the slot descriptors of the base class, which a LazyTensor fills when it is realised
_data_slot: Any = Tensor.__dict__["_data"]
_ctx_slot: Any = Tensor.__dict__["_ctx"]


class LazyTensor(Tensor):
    """A Tensor whose values are computed when first needed (see the module docstring)."""

    def __init__(self, op: type[Function], args: tuple[Any, ...], shape: tuple[int, ...], dtype: Any, device: Any,
                 requires_grad: bool, params: dict[str, Any] | None = None):
        self.op, self.args, self.meta, self.params = op, args, (shape, dtype, device), params or {}
        self.realised = False
        self.requires_grad, self.grad = requires_grad, None

    @property  # type: ignore[override,misc]
    def _data(self) -> Any:
        if not self.realised:
            realise(self)
        return _data_slot.__get__(self)

    @_data.setter
    def _data(self, value: Any) -> None:
        _data_slot.__set__(self, value)

    @property  # type: ignore[override,misc]
    def _ctx(self) -> Any:
        if not self.realised:
            realise(self)
        return _ctx_slot.__get__(self)

    @_ctx.setter
    def _ctx(self, value: Any) -> None:
        _ctx_slot.__set__(self, value)

    @property
    def shape(self) -> tuple[int, ...]:
        return self.meta[0]

    @property
    def dtype(self) -> Any:
        return self.meta[1]

    @property
    def device(self) -> Any:
        return self.meta[2]

    @property
    def ndim(self) -> int:
        return len(self.meta[0])

    def dim(self) -> int:
        return len(self.meta[0])


def _pending(t: Tensor) -> bool:
    return isinstance(t, LazyTensor) and not t.realised


def build_trace(root: LazyTensor) -> tuple[Trace, list[Tensor]]:
    """The trace of the pending nodes ``root`` depends on: its arguments are the realised
    tensors those nodes read, its steps the nodes in an order where each follows its inputs."""
    order: list[LazyTensor] = postorder([root], lambda node: [a for a in node.args if _pending(a)])
    leaves: list[Tensor] = []
    slot: dict[int, int] = {}
    for node in order:
        for a in node.args:
            if isinstance(a, Tensor) and not _pending(a) and id(a) not in slot:
                slot[id(a)] = len(leaves)
                leaves.append(a)
    trace = Trace(n_args=len(leaves))
    trace.meta = [(a.shape, a.dtype, a.device) for a in leaves]
    for node in order:
        slot[id(node)] = len(trace.meta)
        trace.meta.append(node.meta)
        if node.requires_grad:
            trace.grad_slots.add(slot[id(node)])
        args = tuple(("slot", slot[id(a)]) if isinstance(a, Tensor) else ("value", a) for a in node.args)
        trace.steps.append(Step(node.op, args, dict(node.params), slot[id(node)]))
    trace.outputs = ("slot", slot[id(root)])
    return trace, leaves


def _plan(trace: Trace) -> Plan:
    """The trace's plan, with generated kernels where a compiler exists (else op by op)."""
    groups = plan_groups(trace)
    try:
        kernels = [codegen.build(codegen.c_source(g, trace)) for g in groups]
    except codegen.CompilerUnavailable:
        groups, kernels = [], []
    return Plan(trace, groups, kernels)


def realise(t: LazyTensor) -> None:
    """Compute ``t`` (and nothing else that is pending): schedule, then run the plan."""
    trace, leaves = build_trace(t)
    out = _plan(trace).run(leaves)
    _data_slot.__set__(t, out._data)
    _ctx_slot.__set__(t, _ctx_slot.__get__(out))
    t.requires_grad = out.requires_grad
    t.realised = True
    t.args = ()  # the inputs are no longer needed (autograd keeps what backward needs)


def schedule(t: Tensor) -> str:
    """The kernels that realising ``t`` would run, one line each, without running them."""
    if not _pending(t):
        return "(nothing pending: the tensor is realised)"
    trace, _ = build_trace(t)  # type: ignore[arg-type]
    return describe(trace, plan_groups(trace))


class lazy(DispatchMode):
    """``with tt.lazy():`` -- defer elementwise ops (see the module docstring); ``tt.lazy.schedule(t)``
    prints what realising ``t`` would run."""

    schedule = staticmethod(schedule)

    def __init__(self) -> None:
        self.created: list[weakref.ref[LazyTensor]] = []

    def dispatch(self, op: type[Function], args: tuple[Any, ...], params: dict[str, Any],
                 run: Callable[[tuple[Any, ...], dict[str, Any]], Tensor]) -> Tensor:
        if op is Sum:
            meta = _sum_meta(args, params)
        else:
            meta = None if params or op not in EXPRESSIONS else _elementwise_meta(args)
        if meta is None:
            return run(args, params)
        needs = is_grad_enabled() and any(isinstance(a, Tensor) and a.requires_grad for a in args)
        t = LazyTensor(op, args, *meta, requires_grad=needs, params=params)
        self.created.append(weakref.ref(t))
        return t

    def __exit__(self, *exc: Any) -> None:
        super().__exit__(*exc)
        for ref in self.created:  # leaving the block realises what is still pending
            t = ref()
            if t is not None and not t.realised:
                realise(t)
        self.created.clear()


def _sum_meta(args: tuple[Any, ...], params: dict[str, Any]) -> tuple[tuple[int, ...], Any, Any] | None:
    """The (shape, dtype, device) of a sum of a pending lazy tensor (deferred so that the
    scheduler can fuse it into the chain that makes its input), or None: run it now."""
    x = args[0]
    if not _pending(x) or x.dtype not in FLOATS or "dims" not in params or "keepdim" not in params:
        return None
    dims, keep = tuple(params["dims"]), params["keepdim"]
    shape = tuple(1 if d in dims else n for d, n in enumerate(x.shape) if keep or d not in dims)
    return shape, x.dtype, x.device


def _elementwise_meta(args: tuple[Any, ...]) -> tuple[tuple[int, ...], Any, Any] | None:
    """The (shape, dtype, device) of an elementwise op on ``args``, or None when the op should
    not be deferred (tensors of different or non-float dtypes or devices, non-number scalars)."""
    tensors = [a for a in args if isinstance(a, Tensor)]
    if not tensors:
        return None
    dtype, device = tensors[0].dtype, tensors[0].device
    if dtype not in FLOATS or any(t.dtype is not dtype or t.device != device for t in tensors):
        return None
    if any(not isinstance(a, Tensor) and (isinstance(a, bool) or not isinstance(a, (int, float))) for a in args):
        return None
    try:
        shape = broadcast_shapes(*[t.shape for t in tensors])
    except (ValueError, RuntimeError):
        return None
    return tuple(shape), dtype, device
