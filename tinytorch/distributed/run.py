"""``python -m tinytorch.distributed.run --nproc-per-node N script.py args``: the role of ``torchrun``.

It starts ``N`` copies of ``script.py`` through ``mpiexec`` (MPI's own launcher, which the
``mpich`` package from PyPI installs next to Python, or any MPI on ``PATH``). Each copy first
runs this module again as a small *rank bootstrap*, which

* sets ``RANK``, ``LOCAL_RANK``, ``WORLD_SIZE``, ``LOCAL_WORLD_SIZE`` (as ``torchrun`` does, so
  scripts written for it find them) from what MPI tells the process,
* installs the guard that aborts the whole job when this rank raises (a failing rank must not
  leave the others waiting in a collective forever), and
* runs ``script.py`` as ``__main__`` with ``args``.

Like ``torchrun``, it sets ``OMP_NUM_THREADS=1`` for the ranks unless it is already set:
ranks that share a machine's cores should not each start a thread per core. The exit status is
``mpiexec``'s: non-zero when any rank failed. ``mpiexec -n N python script.py`` works as well;
then ``init_process_group`` installs the same guard. Only one machine: for several, call
``mpiexec`` with a host file yourself.
"""

from __future__ import annotations

import argparse
import os
import runpy
import shutil
import signal
import subprocess
import sys
from pathlib import Path

from .mpi import install_abort_on_error, mpi

_WORKER_FLAG = "--rank-bootstrap"


def find_mpiexec(explicit: str | None = None) -> str:
    """The ``mpiexec`` to use: ``explicit``, else the one next to this Python (where ``pip install
    mpich`` puts it), else the first on ``PATH``. ``FileNotFoundError`` naming the fix otherwise."""
    if explicit:
        if shutil.which(explicit) is None:
            raise FileNotFoundError(f"--mpiexec {explicit!r} is not an executable")
        return explicit
    beside = Path(sys.executable).with_name("mpiexec")
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    found = shutil.which("mpiexec")
    if found is None:
        raise FileNotFoundError("mpiexec was not found next to Python or on PATH; install an MPI: "
                                "pip install 'tinytorch[distributed]' (mpi4py and mpich)")
    return found


def command(nproc: int, script: str, args: list[str], mpiexec: str) -> list[str]:
    """The ``mpiexec`` command line that starts ``nproc`` ranks of ``script``."""
    return [mpiexec, "-n", str(nproc), sys.executable, "-m", "tinytorch.distributed.run", _WORKER_FLAG, script, *args]


def run_job(args: list[str], timeout: float, env: dict[str, str] | None = None,
            cwd: str | os.PathLike[str] | None = None) -> subprocess.CompletedProcess:
    """Run the command line ``args`` (an ``mpiexec`` job), capturing its text output; if it runs past
    ``timeout`` seconds, kill it together with every process it started (the ranks, which would
    otherwise go on waiting in a collective) and raise ``subprocess.TimeoutExpired``."""
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=cwd,
                            start_new_session=True)  # its own process group: one signal reaches every rank
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired as e:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        raise subprocess.TimeoutExpired(args, timeout, out, err) from e
    return subprocess.CompletedProcess(args, proc.returncode, out, err)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m tinytorch.distributed.run",
                                description="Start N processes of a training script through mpiexec (like torchrun).")
    p.add_argument("--nproc-per-node", "--nproc_per_node", type=int, default=1, dest="nproc",
                   help="the number of processes (ranks) to start on this machine (default 1)")
    p.add_argument("--nnodes", type=str, default="1", help="must be 1: one machine (use mpiexec with a host file "
                                                            "for more)")
    p.add_argument("--standalone", action="store_true", help="accepted for torchrun compatibility (always true)")
    p.add_argument("--mpiexec", default=None, help="the mpiexec executable (default: next to Python, else on PATH)")
    p.add_argument("script", help="the training script")
    p.add_argument("args", nargs=argparse.REMAINDER, help="the script's arguments")
    return p


def _bootstrap(script: str, args: list[str]) -> None:
    """Inside one rank: torchrun's environment variables, the abort guard, then the script as ``__main__``."""
    world = mpi().COMM_WORLD
    rank, size = str(world.Get_rank()), str(world.Get_size())
    os.environ.update(RANK=rank, WORLD_SIZE=size, LOCAL_RANK=rank, LOCAL_WORLD_SIZE=size, GROUP_RANK="0")
    install_abort_on_error()
    sys.argv = [script, *args]
    sys.path.insert(0, str(Path(script).resolve().parent))
    runpy.run_path(script, run_name="__main__")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == [_WORKER_FLAG]:
        _bootstrap(argv[1], argv[2:])
        return 0
    opts = _parser().parse_args(argv)
    if opts.nproc < 1:
        raise SystemExit(f"--nproc-per-node must be at least 1, got {opts.nproc}")
    if opts.nnodes not in ("1", "1:1"):
        raise SystemExit(f"--nnodes {opts.nnodes}: this launcher starts processes on one machine only; "
                         f"for several, run mpiexec with a host file")
    if not Path(opts.script).is_file():
        raise SystemExit(f"no such script: {opts.script}")
    try:
        exe = find_mpiexec(opts.mpiexec)
    except FileNotFoundError as e:
        raise SystemExit(str(e)) from None
    env = dict(os.environ)
    if opts.nproc > 1:  # as torchrun: ranks sharing a machine's cores should not each start one thread per core
        env.setdefault("OMP_NUM_THREADS", "1")
    return subprocess.call(command(opts.nproc, opts.script, opts.args, exe), env=env)


if __name__ == "__main__":
    sys.exit(main())
