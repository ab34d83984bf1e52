"""The one door to MPI: mpi4py imported on first use, and the guard that stops a job when a rank fails.

``tinytorch.distributed`` runs its collectives on MPI through `mpi4py`_, an optional
dependency (``pip install tinytorch[distributed]`` installs mpi4py and MPICH from PyPI).
Importing ``tinytorch.distributed`` never imports mpi4py: :func:`mpi` does, the first time a
collective or the launcher needs it, and raises an ``ImportError`` naming the extra when it
is missing. (Importing ``mpi4py.MPI`` initialises MPI; a process started without ``mpiexec``
becomes a world of one.)

Why a guard: an MPI job is a set of processes that wait for each other inside collectives.
If one rank raises and simply exits, the others wait forever in their next ``Allreduce``.
:func:`install_abort_on_error` replaces ``sys.excepthook`` so that an uncaught exception
first prints its traceback (the rank's own error text) and then calls ``MPI_Abort``, which
makes ``mpiexec`` end every rank and exit with a failure status.

.. _mpi4py: https://mpi4py.readthedocs.io
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import traceback
from types import ModuleType, TracebackType

EXTRA_HINT = ("tinytorch.distributed needs mpi4py and an MPI library: pip install 'tinytorch[distributed]' "
              "(mpi4py and mpich from PyPI)")


def available() -> bool:
    """True when mpi4py can be imported (checked without importing it, so MPI is not started)."""
    return importlib.util.find_spec("mpi4py") is not None


def mpi() -> ModuleType:
    """``mpi4py.MPI``, imported on first use; ``ImportError`` naming the extra when it is missing."""
    try:
        return importlib.import_module("mpi4py.MPI")
    except ImportError as e:
        raise ImportError(f"{EXTRA_HINT} ({e})") from e


def install_abort_on_error() -> None:
    """Make an uncaught exception in this process abort the whole MPI job (after printing it).

    Idempotent. The traceback goes to stderr first, prefixed with the rank, so the job's
    output shows which rank failed and why."""
    if getattr(sys.excepthook, "_tinytorch_abort", False):
        return
    previous = sys.excepthook

    def abort_job(kind: type[BaseException], value: BaseException, tb: TracebackType | None) -> None:
        MPI = mpi()
        world = MPI.COMM_WORLD
        if world.Get_size() == 1:  # nobody is waiting for this process: the usual report
            previous(kind, value, tb)
            return
        rank = world.Get_rank()
        text = "".join(traceback.format_exception(kind, value, tb))
        sys.stderr.write(f"[rank {rank}] {text}[rank {rank}] aborting the MPI job: an uncaught "
                         f"{kind.__name__} on rank {rank}\n")
        sys.stderr.flush()
        world.Abort(1)

    abort_job._tinytorch_abort = True  # type: ignore[attr-defined]
    sys.excepthook = abort_job
