"""The process group and its collectives, PyTorch's ``torch.distributed`` names on MPI.

A *process group* is the set of processes (ranks ``0 .. world_size - 1``) that compute
together; a *collective* is a call that every rank of the group makes, in the same order,
and that combines what each one holds:

========================================  ===================================================
``all_reduce(t, op)``                     every rank's ``t`` becomes ``op`` over all ranks' ``t``
``broadcast(t, src)``                     every rank's ``t`` becomes rank ``src``'s ``t``
``all_gather(ts, t)``                     ``ts[r]`` becomes rank ``r``'s ``t``, on every rank
``reduce_scatter(out, ins, op)``          rank ``r``'s ``out`` becomes ``op`` over all ranks' ``ins[r]``
``barrier()``                             returns once every rank has called it
========================================  ===================================================

The communication engine is MPI (through mpi4py, imported on first use: :mod:`.mpi`); the
group is a duplicate of ``MPI.COMM_WORLD``, so a program's own MPI messages never mix with
ours. Rank and world size come from MPI; when ``RANK``/``WORLD_SIZE`` are set (as ``torchrun``
and :mod:`tinytorch.distributed.run` set them) they must agree with MPI's.

**Host copies.** Every collective reads a tensor's values with ``Tensor.numpy()`` (a host
copy), hands that numpy array to MPI, and writes the result back with the library's in-place
``copy_``. That is the only road this layer has to a tensor's memory (it never touches buffers
or backends), and it works for every device: CPU tensors and the CUDA backend's tensors alike
travel through host memory. A CUDA-aware MPI, or NCCL, would read device memory directly;
tinytorch does not use them.

**Agreement.** Before moving any data, each collective exchanges a few bytes of metadata
(which collective, the shape, the dtype, the operation, the root) so that mismatched calls
raise the same ``RuntimeError`` on every rank instead of corrupting memory or hanging.
That costs one small message per call; PyTorch leaves these checks to a debug mode.

Values are combined in dtype arithmetic: ``bool`` tensors reduce logically (``SUM`` and
``MAX`` are "or", ``PRODUCT`` and ``MIN`` are "and"), ``AVG`` needs a floating-point tensor.
With ``async_op=True`` a collective starts a non-blocking MPI request and returns a
:class:`Work` whose ``wait()`` finishes it and writes the result back.
"""

from __future__ import annotations

import enum
import os
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from ..ndarray.dtypes import DType
from ..ops.creation import tensor as _from_host
from ..ops.inplace import copy_
from ..tensor import Tensor, no_grad
from .mpi import available, install_abort_on_error, mpi

_NOT_INITIALIZED = "Default process group has not been initialized, please make sure to call init_process_group."


class ReduceOp(enum.Enum):
    """How ``all_reduce`` and ``reduce_scatter`` combine the ranks' values."""

    SUM = 0
    AVG = 1
    PRODUCT = 2
    MIN = 3
    MAX = 4
    BAND = 5
    BOR = 6
    BXOR = 7


@dataclass
class ProcessGroup:
    """The ranks that run collectives together: an MPI communicator, this process's rank and
    the number of ranks."""

    comm: Any  # an mpi4py Intracomm
    rank: int
    size: int


class _Default:
    """Holds the default process group (``None`` before ``init_process_group``), as PyTorch's
    ``torch.distributed`` module holds its ``WORLD``."""

    group: ProcessGroup | None = None


_DEFAULT = _Default()


class Work:
    """A collective started with ``async_op=True``: ``wait()`` blocks until it is done and writes
    its result into the tensors (it must be called before they are read)."""

    def __init__(self, request: Any, finish: Callable[[], None]):
        self._request = request
        self._finish: Callable[[], None] | None = finish

    def is_completed(self) -> bool:
        """True once the data has arrived (it is then written back at once); never blocks. Asking
        also gives MPI a chance to move the data along (MPICH progresses inside MPI calls)."""
        if self._finish is not None and (self._request is None or self._request.Test()):
            self.wait()
        return self._finish is None

    def wait(self, timeout: Any = None) -> bool:
        """Block until the data has arrived, write it into the tensors; returns True."""
        if self._finish is not None:
            if self._request is not None:
                self._request.Wait()
            finish, self._finish = self._finish, None
            finish()
        return True


# --- the process group -----------------------------------------------------------------------------
def is_available() -> bool:
    """True when the MPI engine (mpi4py) is installed; ``tinytorch.distributed`` works only then."""
    return available()


def is_initialized() -> bool:
    """True between ``init_process_group`` and ``destroy_process_group``."""
    return _DEFAULT.group is not None


def _env_int(name: str) -> int | None:
    value = os.environ.get(name)
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"environment variable {name}={value!r} is not an integer") from None


def _expected(what: str, given: int, env_name: str, actual: int) -> None:
    """Raise ``ValueError`` if the ``given`` argument or the environment disagrees with MPI's ``actual``."""
    env = _env_int(env_name)
    for source, value in ((f"{what}={given}", given if given >= 0 else None), (f"{env_name}={env}", env)):
        if value is not None and value != actual:
            raise ValueError(f"init_process_group: {source} but MPI started this process with {what} {actual}; "
                             f"launch with `mpiexec -n N` or `python -m tinytorch.distributed.run "
                             f"--nproc-per-node N`, which set both consistently")


def init_process_group(backend: str | None = None, init_method: str | None = None, timeout: Any = None,
                       world_size: int = -1, rank: int = -1, store: Any = None, group_name: str = "",
                       pg_options: Any = None, device_id: Any = None) -> None:
    """Join the default process group: every rank started by ``mpiexec`` calls this once.

    ``backend`` must be ``"mpi"`` (or ``None``). As for PyTorch's MPI backend, MPI itself
    discovers the peers, so ``init_method``, ``store`` and ``timeout`` are accepted and not
    used; ``rank``/``world_size`` (and the ``RANK``/``WORLD_SIZE`` environment variables), when
    given, must agree with MPI's. Also installs the guard that turns an uncaught exception on
    any rank into an abort of the whole job (:func:`~tinytorch.distributed.mpi.install_abort_on_error`).
    """
    if backend is not None and str(backend).lower() != "mpi":
        raise ValueError(f"tinytorch.distributed runs on MPI only: backend must be 'mpi' (or None), got {backend!r} "
                         f"(there is no NCCL or Gloo here)")
    if _DEFAULT.group is not None:
        raise ValueError("trying to initialize the default process group twice!")
    MPI = mpi()
    comm = MPI.COMM_WORLD.Dup()
    _expected("rank", rank, "RANK", comm.Get_rank())
    _expected("world_size", world_size, "WORLD_SIZE", comm.Get_size())
    install_abort_on_error()
    _DEFAULT.group = ProcessGroup(comm, comm.Get_rank(), comm.Get_size())


def destroy_process_group(group: ProcessGroup | None = None) -> None:
    """Leave the default process group (MPI itself stays up until the process exits)."""
    world = _world(group)
    world.comm.Free()
    _DEFAULT.group = None


def _world(group: ProcessGroup | None) -> ProcessGroup:
    """The group a call runs on: ``group`` or the default one (``ValueError`` before initialisation)."""
    if group is not None:
        if not isinstance(group, ProcessGroup):
            raise TypeError(f"group must be a ProcessGroup or None, got {type(group).__name__}")
        return group
    if _DEFAULT.group is None:
        raise ValueError(_NOT_INITIALIZED)
    return _DEFAULT.group


def get_rank(group: ProcessGroup | None = None) -> int:
    """This process's rank in the group, ``0 .. world_size - 1``."""
    return _world(group).rank


def get_world_size(group: ProcessGroup | None = None) -> int:
    """The number of processes in the group."""
    return _world(group).size


# --- helpers shared by the collectives ---------------------------------------------------------------
def _check_tensor(name: str, value: Any) -> Tensor:
    if not isinstance(value, Tensor):
        raise TypeError(f"Invalid function argument. Expected parameter `{name}` of type Tensor "
                        f"but got {type(value)} instead.")
    return value


def _check_list(name: str, values: Any, like: Tensor, world: ProcessGroup, call: str) -> list[Tensor]:
    """``values`` as a list of ``world.size`` tensors of ``like``'s shape and dtype."""
    if not isinstance(values, (list, tuple)):
        raise TypeError(f"Invalid function argument. Expected parameter `{name}` of type List[Tensor] "
                        f"but got {type(values)} instead.")
    tensors = [_check_tensor(f"{name}[{i}]", t) for i, t in enumerate(values)]
    if len(tensors) != world.size:
        raise ValueError(f"{call}: `{name}` has {len(tensors)} tensors but the group has {world.size} ranks "
                         f"(one tensor per rank is needed)")
    for i, t in enumerate(tensors):
        if t.shape != like.shape or t.dtype is not like.dtype:
            raise ValueError(f"{call}: `{name}[{i}]` has shape {list(t.shape)} and dtype {t.dtype.name} but the "
                             f"tensor has shape {list(like.shape)} and dtype {like.dtype.name}")
    return tensors


def _agree(world: ProcessGroup, call: str, *facts: Any) -> None:
    """Raise the same ``RuntimeError`` on every rank unless all ranks called ``call`` with equal ``facts``."""
    if world.size == 1:
        return
    everyone = world.comm.allgather((call,) + facts)
    if any(f != everyone[0] for f in everyone):
        lines = "; ".join(f"rank {r}: {f}" for r, f in enumerate(everyone))
        raise RuntimeError(f"{call}: the ranks disagree about the collective they are running ({lines})")


def _host(t: Tensor) -> np.ndarray:
    """A contiguous host copy of ``t``'s values, for MPI to read and write."""
    return np.ascontiguousarray(t.detach().numpy())


def _store(t: Tensor, values: np.ndarray) -> None:
    """Write ``values`` into ``t`` in place (on ``t``'s device, in ``t``'s dtype)."""
    with no_grad():
        copy_(t, _from_host(values.reshape(t.shape), dtype=t.dtype, device=t.device))


def _reduction(op: Any, dtype: DType, call: str) -> tuple[Any, bool]:
    """The MPI operation for ``op`` on ``dtype``, and whether the result is divided by the world size."""
    if not isinstance(op, ReduceOp):
        raise TypeError(f"{call}: op must be a ReduceOp (ReduceOp.SUM, AVG, PRODUCT, MIN, MAX, BAND, BOR, BXOR), "
                        f"got {op!r}")
    MPI = mpi()
    if op is ReduceOp.AVG and not dtype.is_floating_point:
        raise RuntimeError(f"{call}: ReduceOp.AVG needs a floating-point tensor, got dtype {dtype.name}")
    if op in (ReduceOp.BAND, ReduceOp.BOR, ReduceOp.BXOR) and dtype.is_floating_point:
        raise RuntimeError(f"{call}: {op} needs an integer or bool tensor, got dtype {dtype.name}")
    if dtype.name == "bool":  # MPI reduces C booleans with the logical operations only
        logical = {ReduceOp.SUM: MPI.LOR, ReduceOp.MAX: MPI.LOR, ReduceOp.BOR: MPI.LOR, ReduceOp.PRODUCT: MPI.LAND,
                   ReduceOp.MIN: MPI.LAND, ReduceOp.BAND: MPI.LAND, ReduceOp.BXOR: MPI.LXOR}
        return logical[op], False
    table = {ReduceOp.SUM: MPI.SUM, ReduceOp.AVG: MPI.SUM, ReduceOp.PRODUCT: MPI.PROD, ReduceOp.MIN: MPI.MIN,
             ReduceOp.MAX: MPI.MAX, ReduceOp.BAND: MPI.BAND, ReduceOp.BOR: MPI.BOR, ReduceOp.BXOR: MPI.BXOR}
    return table[op], op is ReduceOp.AVG


def _finish(request: Any, finish: Callable[[], None], async_op: bool) -> Work | None:
    """Run a started collective to the end now, or hand it back as a :class:`Work`."""
    work = Work(request, finish)
    if async_op:
        return work
    work.wait()
    return None


# --- the collectives -----------------------------------------------------------------------------------
def all_reduce(tensor: Tensor, op: ReduceOp = ReduceOp.SUM, group: ProcessGroup | None = None,
               async_op: bool = False) -> Work | None:
    """Combine ``tensor`` over all ranks with ``op``, in place on every rank.

    >>> # on 2 ranks, rank r holding tensor([r + 1.0]):
    >>> # all_reduce(t)                 -> tensor([3.]) on both
    >>> # all_reduce(t, ReduceOp.AVG)   -> tensor([1.5]) on both
    """
    world = _world(group)
    _check_tensor("tensor", tensor)
    mpi_op, average = _reduction(op, tensor.dtype, "all_reduce")
    _agree(world, "all_reduce", tuple(tensor.shape), tensor.dtype.name, op.name)
    buf = _host(tensor)
    request = world.comm.Iallreduce(mpi().IN_PLACE, buf, op=mpi_op) if world.size > 1 else None
    return _finish(request, lambda: _store(tensor, buf / world.size if average else buf), async_op)


def broadcast(tensor: Tensor, src: int | None = None, group: ProcessGroup | None = None, async_op: bool = False,
              group_src: int | None = None) -> Work | None:
    """Copy rank ``src``'s ``tensor`` into ``tensor`` on every other rank."""
    world = _world(group)
    _check_tensor("tensor", tensor)
    root = group_src if src is None else src
    if root is None:
        raise ValueError("broadcast: give the source rank, src=")
    if not isinstance(root, int) or not 0 <= root < world.size:
        raise ValueError(f"broadcast: src={root} is not a rank of a group of {world.size}")
    _agree(world, "broadcast", tuple(tensor.shape), tensor.dtype.name, root)
    buf = _host(tensor)
    request = world.comm.Ibcast(buf, root=root) if world.size > 1 else None
    return _finish(request, lambda: world.rank == root or _store(tensor, buf), async_op)


def all_gather(tensor_list: list[Tensor], tensor: Tensor, group: ProcessGroup | None = None,
               async_op: bool = False) -> Work | None:
    """``tensor_list[r]`` becomes rank ``r``'s ``tensor``, on every rank."""
    world = _world(group)
    _check_tensor("tensor", tensor)
    outputs = _check_list("tensor_list", tensor_list, tensor, world, "all_gather")
    _agree(world, "all_gather", tuple(tensor.shape), tensor.dtype.name)
    send = _host(tensor)
    recv = np.empty((world.size,) + send.shape, send.dtype)
    request = world.comm.Iallgather(send, recv) if world.size > 1 else None
    if request is None:
        recv[0] = send

    def finish() -> None:
        for out, values in zip(outputs, recv):
            _store(out, values)

    return _finish(request, finish, async_op)


def all_gather_into_tensor(output_tensor: Tensor, input_tensor: Tensor, group: ProcessGroup | None = None,
                           async_op: bool = False) -> Work | None:
    """Rank ``r``'s ``input_tensor`` becomes block ``r`` of ``output_tensor`` (concatenated along the
    first dimension, or stacked: ``output_tensor`` holds ``world_size`` times as many elements)."""
    world = _world(group)
    _check_tensor("output_tensor", output_tensor)
    _check_tensor("input_tensor", input_tensor)
    if output_tensor.numel() != world.size * input_tensor.numel() or output_tensor.dtype is not input_tensor.dtype:
        raise ValueError(f"all_gather_into_tensor: output_tensor {list(output_tensor.shape)} "
                         f"({output_tensor.dtype.name}) must hold {world.size} x input_tensor "
                         f"{list(input_tensor.shape)} ({input_tensor.dtype.name})")
    _agree(world, "all_gather_into_tensor", tuple(input_tensor.shape), input_tensor.dtype.name)
    send = _host(input_tensor).ravel()
    recv = np.empty(world.size * send.size, send.dtype)
    request = world.comm.Iallgather(send, recv) if world.size > 1 else None
    if request is None:
        recv[:] = send
    return _finish(request, lambda: _store(output_tensor, recv), async_op)


def reduce_scatter(output: Tensor, input_list: list[Tensor], op: ReduceOp = ReduceOp.SUM,
                   group: ProcessGroup | None = None, async_op: bool = False) -> Work | None:
    """Rank ``r``'s ``output`` becomes ``op`` over every rank's ``input_list[r]``."""
    world = _world(group)
    _check_tensor("output", output)
    inputs = _check_list("input_list", input_list, output, world, "reduce_scatter")
    mpi_op, average = _reduction(op, output.dtype, "reduce_scatter")
    _agree(world, "reduce_scatter", tuple(output.shape), output.dtype.name, op.name)
    send = np.stack([_host(t) for t in inputs])
    recv = np.empty(send.shape[1:], send.dtype)
    request = world.comm.Ireduce_scatter_block(send, recv, op=mpi_op) if world.size > 1 else None
    if request is None:
        recv[...] = send[0]
    return _finish(request, lambda: _store(output, recv / world.size if average else recv), async_op)


def reduce_scatter_tensor(output: Tensor, input: Tensor, op: ReduceOp = ReduceOp.SUM,  # noqa: A002
                          group: ProcessGroup | None = None, async_op: bool = False) -> Work | None:
    """``reduce_scatter`` with the inputs as the ``world_size`` blocks of one tensor (along its first
    dimension, or stacked): rank ``r``'s ``output`` becomes ``op`` over every rank's block ``r``."""
    world = _world(group)
    _check_tensor("output", output)
    _check_tensor("input", input)
    if input.numel() != world.size * output.numel() or output.dtype is not input.dtype:
        raise ValueError(f"reduce_scatter_tensor: input {list(input.shape)} ({input.dtype.name}) must hold "
                         f"{world.size} x output {list(output.shape)} ({output.dtype.name})")
    mpi_op, average = _reduction(op, output.dtype, "reduce_scatter_tensor")
    _agree(world, "reduce_scatter_tensor", tuple(output.shape), output.dtype.name, op.name)
    send = _host(input).reshape(world.size, -1)
    recv = np.empty(send.shape[1], send.dtype)
    request = world.comm.Ireduce_scatter_block(send, recv, op=mpi_op) if world.size > 1 else None
    if request is None:
        recv[...] = send[0]
    return _finish(request, lambda: _store(output, recv / world.size if average else recv), async_op)


def barrier(group: ProcessGroup | None = None, async_op: bool = False, device_ids: Sequence[int] | None = None,
            timeout: Any = None) -> Work | None:
    """Return once every rank of the group has called ``barrier``."""
    world = _world(group)
    request = world.comm.Ibarrier() if world.size > 1 else None
    return _finish(request, lambda: None, async_op)
