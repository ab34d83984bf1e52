"""``DistributedDataParallel``: one model replica per rank, gradients averaged in buckets.

Data parallelism keeps a full copy of the model on every rank and gives each rank a different
slice of every batch. If the replicas start equal and every rank applies the *same* update,
they stay equal; the update is the same when every rank uses the gradient of the whole batch,
which is the average of the ranks' gradients (each rank's loss being the mean over its equal
share). So the wrapper does two things:

1. at construction, **broadcast** rank 0's parameters and buffers, so the replicas start equal;
2. during ``backward``, **all-reduce (average)** the gradients, so ``optimizer.step()`` sees the
   same gradient on every rank.

**Buckets.** One all-reduce per parameter pays the per-message latency hundreds of times;
one for the whole model must wait for the last gradient. The wrapper groups parameters (in
reverse order, the order backward produces their gradients) into buckets of about
``bucket_cap_mb`` megabytes, one dtype and device per bucket, and starts a non-blocking
all-reduce for a bucket as soon as the gradients of all its parameters are known; the end of
backward waits for the outstanding ones and writes the averages into ``.grad``. Buckets are
started strictly in order, so every rank issues the same sequence of collectives even when
gradients arrive in a different order.

The wrapper reaches the engine through gradient hooks (``Tensor.register_hook`` on every
parameter). The engine runs a leaf's hooks as soon as the last node that uses the leaf has run
backward, as PyTorch's does, so a bucket's all-reduce starts while backward is still computing
the gradients of earlier layers. Each later hook also polls the started requests, because MPICH
moves data mostly inside MPI calls: how much of the transfer really overlaps the computation
depends on the MPI library (an MPI with an asynchronous progress thread overlaps more).

``no_sync()`` skips the averaging for the backward passes of forwards run inside it: the
gradients accumulate locally, and the first synchronised backward afterwards averages the
accumulated sums (gradient accumulation with one all-reduce per optimizer step).
"""

from __future__ import annotations

import contextlib
from typing import Any, Iterator

from ...autograd import topo_order
from ...distributed import ReduceOp, Work, all_reduce, broadcast, get_world_size, is_initialized
from ...ops.creation import zeros_like
from ...ops.inplace import copy_
from ...ops.movement import cat, reshape
from ...tensor import Tensor, is_grad_enabled, no_grad
from ..module import Module
from ..parameter import Parameter


def _tensors_in(value: Any) -> Iterator[Tensor]:
    """Every tensor inside a forward's output (a tensor, or lists, tuples and dicts of them)."""
    if isinstance(value, Tensor):
        yield value
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from _tensors_in(v)
    elif isinstance(value, dict):
        for v in value.values():
            yield from _tensors_in(v)


def plan_buckets(params: list[Parameter], cap_bytes: int) -> list[list[int]]:
    """Indices of ``params`` grouped into buckets: reverse order, one dtype and device per bucket, a
    bucket closed once it holds ``cap_bytes`` or more (a parameter larger than the cap gets its own)."""
    buckets: list[list[int]] = []
    open_by_kind: dict[tuple[str, str], tuple[list[int], int]] = {}
    for i in reversed(range(len(params))):
        p = params[i]
        kind = (p.dtype.name, str(p.device))
        bucket, size = open_by_kind.get(kind, ([], 0))
        if not bucket:
            buckets.append(bucket)
        bucket.append(i)
        size += p.numel() * p.dtype.itemsize
        open_by_kind[kind] = ([], 0) if size >= cap_bytes else (bucket, size)
    return buckets


class _Bucket:
    """The parameters of one bucket, the gradients that have arrived, and its running all-reduce."""

    def __init__(self, members: list[int]):
        self.members = members
        self.grads: dict[int, Tensor | None] = {}  # index -> this backward's gradient (None: unused)
        self.flat: Tensor | None = None
        self.work: Work | None = None

    @property
    def ready(self) -> bool:
        return len(self.grads) == len(self.members)


#: PyTorch's keyword arguments that only tune its implementation: accepted, not used here
_HINTS = frozenset({"check_reduction", "gradient_as_bucket_view", "static_graph"})


class DistributedDataParallel(Module):
    """Wrap ``module`` so that training it on every rank of the process group is data-parallel.

    Args:
        module: the model (its parameters are overwritten by rank 0's at construction).
        device_ids: accepted for PyTorch compatibility (one process per device: the module's own).
        broadcast_buffers: copy rank 0's buffers (batch norm's running statistics) to every rank
            at the start of each forward, as PyTorch does.
        bucket_cap_mb: the size of a gradient bucket, in megabytes.
        find_unused_parameters: look through each forward's graph for parameters that will get no
            gradient, and count them as ready (contributing zeros) instead of waiting for them.

    ``ddp.module`` is the wrapped model; ``ddp.state_dict()`` keys start with ``module.``.
    ``output_device``, ``dim`` and PyTorch's tuning flags ``gradient_as_bucket_view``,
    ``static_graph``, ``check_reduction`` are accepted and change nothing here.
    """

    def __init__(self, module: Module, device_ids: Any = None, output_device: Any = None, dim: int = 0,
                 broadcast_buffers: bool = True, init_sync: bool = True, process_group: Any = None,
                 bucket_cap_mb: float | None = None, find_unused_parameters: bool = False, **kwargs: Any):
        super().__init__()
        unknown = sorted(set(kwargs) - _HINTS)
        if unknown:
            raise TypeError(f"DistributedDataParallel got unexpected keyword argument(s) {unknown}")
        if not is_initialized():
            raise ValueError("DistributedDataParallel needs the default process group: call "
                             "tinytorch.distributed.init_process_group() first")
        if not isinstance(module, Module):
            raise TypeError(f"DistributedDataParallel wraps an nn.Module, got {type(module).__name__}")
        if device_ids is not None and (not isinstance(device_ids, (list, tuple)) or len(device_ids) != 1):
            raise ValueError(f"device_ids must be None or a list of one device (one process per device), "
                             f"got {device_ids!r}")
        cap_mb = 25.0 if bucket_cap_mb is None else float(bucket_cap_mb)
        if cap_mb <= 0:
            raise ValueError(f"bucket_cap_mb must be positive, got {bucket_cap_mb}")
        self.module = module
        self.process_group = process_group
        self.broadcast_buffers = broadcast_buffers
        self.find_unused_parameters = find_unused_parameters
        self.require_backward_grad_sync = True
        self.bucket_bytes_cap = int(cap_mb * 1024 * 1024)
        self._params = [p for p in module.parameters() if p.requires_grad]
        self._buckets = [_Bucket(m) for m in plan_buckets(self._params, self.bucket_bytes_cap)]
        self._bucket_of = {i: b for b in self._buckets for i in b.members}
        self._placeholders: dict[int, Tensor] = {}
        self._next = 0  # the next bucket to start (buckets start in order on every rank)
        self._pending = False  # a synchronised backward is expected
        if init_sync:
            with no_grad():
                for t in list(module.parameters()) + list(module.buffers()):
                    broadcast(t, src=0, group=process_group)
        self._hook_handles = [p.register_hook(self._hook_for(i)) for i, p in enumerate(self._params)]

    # --- forward: prepare the reduction of the backward that follows --------------------------------
    def forward(self, *inputs: Any, **kwargs: Any) -> Any:
        if self._pending and any(b.grads for b in self._buckets):
            raise RuntimeError(
                "Expected to have finished reduction in the prior iteration before starting a new one. This "
                "error indicates that your module has parameters that were not used in producing loss: pass "
                "find_unused_parameters=True to DistributedDataParallel, or make sure all forward outputs "
                "take part in the loss. Parameters that got no gradient: "
                + ", ".join(self._unreduced_names()))
        if self.broadcast_buffers:
            with no_grad():
                for b in self.module.buffers():
                    broadcast(b, src=0, group=self.process_group)
        out = self.module(*inputs, **kwargs)
        self._reset()
        self._pending = is_grad_enabled() and self.require_backward_grad_sync
        if self._pending and self.find_unused_parameters:
            self._mark_unused(out)
        return out

    def _reset(self) -> None:
        for b in self._buckets:
            b.grads, b.flat, b.work = {}, None, None
        self._placeholders = {}
        self._next = 0

    def _unreduced_names(self) -> list[str]:
        names = {id(p): n for n, p in self.module.named_parameters()}
        return [names[id(self._params[i])] for b in self._buckets for i in b.members if i not in b.grads]

    def _mark_unused(self, out: Any) -> None:
        """Count every parameter that the forward's graph does not reach as ready, with no gradient."""
        roots = [t._ctx for t in _tensors_in(out) if t._ctx is not None]
        reached = {id(t) for node in topo_order(roots) for t in node.inputs if isinstance(t, Tensor)}
        for i, p in enumerate(self._params):
            if id(p) not in reached:
                self._arrived(i, None)

    # --- backward: the hooks, the buckets, the end of the reduction ---------------------------------
    def _hook_for(self, index: int) -> Any:
        def hook(grad: Tensor) -> Tensor | None:
            if not self._pending:
                return None
            placeholder = self._placeholders[index] = zeros_like(grad)
            self._arrived(index, grad)
            return placeholder  # filled in with the average before the engine stores .grad
        return hook

    def _arrived(self, index: int, grad: Tensor | None) -> None:
        bucket = self._bucket_of[index]
        bucket.grads[index] = grad
        while self._next < len(self._buckets) and self._buckets[self._next].ready:
            self._start(self._buckets[self._next])
            self._next += 1
        for started in self._buckets[:self._next]:  # let MPI move the started buckets along
            assert started.work is not None
            started.work.is_completed()
        if self._next == len(self._buckets):
            self._finish()

    def _start(self, bucket: _Bucket) -> None:
        """Flatten the bucket's summed gradients (this backward's plus what ``.grad`` accumulated
        under ``no_sync``) into one tensor and start averaging it over the ranks."""
        parts = []
        for i in bucket.members:
            p, g = self._params[i], bucket.grads[i]
            total = g if p.grad is None else (p.grad if g is None else p.grad + g)
            parts.append(reshape(zeros_like(p) if total is None else total, (-1,)))
        bucket.flat = cat(parts) if len(parts) > 1 else parts[0].clone()
        bucket.work = all_reduce(bucket.flat, op=ReduceOp.AVG, group=self.process_group, async_op=True)

    def _finish(self) -> None:
        """Wait for every bucket and write each parameter's averaged gradient where the engine will
        leave it: into ``.grad`` when one exists (the engine then adds the placeholder's zeros),
        else into the placeholder the hook returned (which the engine stores as ``.grad``)."""
        with no_grad():
            for bucket in self._buckets:
                assert bucket.work is not None and bucket.flat is not None
                bucket.work.wait()
                offset = 0
                for i in bucket.members:
                    p = self._params[i]
                    average = reshape(bucket.flat[offset:offset + p.numel()], p.shape)
                    offset += p.numel()
                    if p.grad is not None:
                        copy_(p.grad, average)
                    elif i in self._placeholders:
                        copy_(self._placeholders[i], average)
                    else:  # unused here, used elsewhere: its gradient is the others' average
                        p.grad = average.clone()
        self._pending = False
        self._reset()

    # --- gradient accumulation ----------------------------------------------------------------------
    @contextlib.contextmanager
    def no_sync(self) -> Iterator[None]:
        """Inside, forwards are followed by backwards that do not average: gradients accumulate
        locally until the first backward of a forward run outside."""
        previous = self.require_backward_grad_sync
        self.require_backward_grad_sync = False
        try:
            yield
        finally:
            self.require_backward_grad_sync = previous

    def extra_repr(self) -> str:
        return f"world_size={get_world_size(self.process_group)}, buckets={len(self._buckets)}"
