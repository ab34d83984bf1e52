"""Layer 4d: ``tinytorch.distributed`` -- PyTorch's ``torch.distributed`` names, on MPI.

Data-parallel training runs one process per worker (a *rank*); the processes start together
(``mpiexec -n 2 python train.py`` or ``python -m tinytorch.distributed.run --nproc-per-node 2
train.py``), call :func:`init_process_group`, and combine tensors with collectives
(:func:`all_reduce`, :func:`broadcast`, :func:`all_gather`, :func:`reduce_scatter`,
:func:`barrier`). ``tinytorch.nn.parallel.DistributedDataParallel`` and
``tinytorch.data.distributed.DistributedSampler`` build on them.

The engine is MPI through mpi4py, an optional dependency (``pip install
'tinytorch[distributed]'``): this module imports without it, and the first call that needs
MPI raises an ``ImportError`` naming the extra. See :mod:`.collectives` for how tensors travel
(host copies) and :mod:`.mpi` for the guard that aborts the job when a rank fails.
"""

from .collectives import (
    ProcessGroup,
    ReduceOp,
    Work,
    all_gather,
    all_gather_into_tensor,
    all_reduce,
    barrier,
    broadcast,
    destroy_process_group,
    get_rank,
    get_world_size,
    init_process_group,
    is_available,
    is_initialized,
    reduce_scatter,
    reduce_scatter_tensor,
)

__all__ = ["ProcessGroup", "ReduceOp", "Work", "init_process_group", "destroy_process_group", "is_available",
           "is_initialized", "get_rank", "get_world_size", "all_reduce", "broadcast", "all_gather",
           "all_gather_into_tensor", "reduce_scatter", "reduce_scatter_tensor", "barrier"]
