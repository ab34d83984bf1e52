"""Grade a learner's function on several MPI ranks (lab 17, data-parallel training).

A collective such as ``all_reduce`` only means something when several processes call it, so
a grader cannot run the learner's gradient averaging inside the grading worker alone. Instead
a test:

1. takes the learner's function from the notebook with :meth:`Lab.defined` (so the provenance
   rules hold) and its source with :func:`learner_source` -- the function's own lines, plus
   those of the notebook functions it calls;
2. calls :func:`run_ranks`, which writes that source to a temporary directory and starts
   ``mpiexec -n N python -m tinytorch.labs.ranks ...``: every rank joins the process group,
   replaces the library's reference implementations of the exercise by stubs that raise
   (the same ``REFERENCES`` the in-process guards use), runs the learner's source in a fresh
   namespace (with ``tt``, ``dist``, ``nn``, ``F``, ``np`` and ``math`` already imported, as in
   the notebook), then runs the named check functions of a checks file and pickles what each
   returned, or the exception it raised;
3. compares the ranks' results (with :func:`rank_values`, which re-raises a learner's
   ``NotImplementedError`` and turns any other error into a :class:`LabFailure` with the rank's
   traceback).

The job is bounded by a timeout (a learner's rank that never calls the collective its peer
waits in would otherwise hang), and a rank that raises outside the checks aborts the job.
"""

from __future__ import annotations

import inspect
import os
import pickle
import subprocess
import sys
import tempfile
import traceback
import types
from pathlib import Path
from typing import Any

from .failure import LabFailure

LEARNER_FILE = "learner.py"


# --- the grader's side (inside the grading worker) ------------------------------------------------------
def _names_used(code: types.CodeType) -> set[str]:
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _names_used(const)
    return names


def learner_source(namespace: dict[str, Any], names: list[str], module_name: str) -> str:
    """The source of the notebook functions ``names`` and of every notebook function they call
    (found through the names their code uses), each once, callees first."""
    seen: dict[str, str] = {}

    def add(name: str) -> None:
        fn = namespace.get(name)
        if name in seen or not isinstance(fn, types.FunctionType) or fn.__module__ != module_name:
            return
        seen[name] = ""  # mark first: recursion ends here
        for callee in sorted(_names_used(fn.__code__)):
            add(callee)
        seen.pop(name)
        seen[name] = inspect.getsource(fn)

    for name in names:
        add(name)
    return "\n\n".join(seen.values())


def run_ranks(source: str, checks_file: str | os.PathLike[str], checks: list[str], references: list[str] = (),
              nproc: int = 2, timeout: float = 45.0) -> list[dict[str, Any]]:
    """Run ``source`` and then each of ``checks`` (functions of ``checks_file``, called as
    ``check(namespace, rank, world_size)``) on ``nproc`` MPI ranks; return each rank's
    ``{check: ("ok", value) | ("error", type_name, message, traceback)}``.

    ``references`` (``"module:attribute"``) are replaced on every rank by stubs that raise.
    ``LabFailure`` if the job fails as a whole or runs past ``timeout`` seconds."""
    from tinytorch.distributed.run import find_mpiexec, run_job

    with tempfile.TemporaryDirectory(prefix="tinytorch-ranks-") as tmp:
        Path(tmp, LEARNER_FILE).write_text(source)
        args = [find_mpiexec(), "-n", str(nproc), sys.executable, "-m", "tinytorch.labs.ranks", tmp,
                str(Path(checks_file).resolve()), ",".join(checks), ",".join(references)]
        env = dict(os.environ, OMP_NUM_THREADS="1")
        for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
            env.pop(name, None)
        try:
            proc = run_job(args, timeout, env=env)
        except subprocess.TimeoutExpired:
            raise LabFailure(f"the {nproc} MPI ranks did not finish within {timeout:g} s: does every rank make "
                             f"the same collective calls in the same order?", kind="timeout") from None
        if proc.returncode != 0:
            tail = (proc.stderr or proc.stdout).strip()[-1500:]
            raise LabFailure(f"the {nproc}-rank MPI job failed (exit code {proc.returncode}):\n{tail}", kind="error")
        return [pickle.loads(Path(tmp, f"rank{r}.pkl").read_bytes()) for r in range(nproc)]


def rank_values(results: list[dict[str, Any]], check: str, what: str) -> list[Any]:
    """The value ``check`` returned on each rank; a rank's ``NotImplementedError`` is raised again
    (the exercise is not written yet), any other error becomes a :class:`LabFailure`."""
    values = []
    for rank, result in enumerate(results):
        outcome = result[check]
        if outcome[0] == "error":
            _, kind, message, text = outcome
            if kind == "NotImplementedError":
                raise NotImplementedError(message)
            raise LabFailure(f"{what}: on rank {rank} your code raised {kind}: {message}\n"
                             + "\n".join(text.strip().splitlines()[-6:]), kind="error")
        values.append(outcome[1])
    return values


# --- the ranks' side (python -m tinytorch.labs.ranks DIR CHECKS_FILE CHECKS REFERENCES) -------------------
def _forbid(references: list[str]) -> None:
    """Replace each ``module:attribute`` -- and every other module's binding of the same object --
    by a stub that raises: the library's own version of the exercise is off limits."""
    import importlib

    for spec in references:
        module_name, attr = spec.split(":")
        original = getattr(importlib.import_module(module_name), attr)

        def stub(*args: Any, _name: str = spec, **kwargs: Any) -> Any:
            raise RuntimeError(f"your code called {_name}, the library's implementation of this exercise "
                               f"(rule: no delegation — write it yourself; the reference is switched off while "
                               f"it is graded)")

        for module in list(sys.modules.values()):
            for key, value in list(vars(module).items() if module is not None else ()):
                if value is original:
                    setattr(module, key, stub)


#: what the learner's source finds already imported on every rank, as in the lab's notebook
PRELUDE = """import math
import numpy as np
import tinytorch as tt
import tinytorch.distributed as dist
import tinytorch.nn.functional as F
from tinytorch import nn
"""


def _main(directory: str, checks_file: str, checks: str, references: str) -> None:
    import importlib.util

    import tinytorch.distributed as dist

    dist.init_process_group(backend="mpi")
    rank, world = dist.get_rank(), dist.get_world_size()
    spec = importlib.util.spec_from_file_location("lab_rank_checks", checks_file)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    _forbid([r for r in references.split(",") if r])
    namespace: dict[str, Any] = {"__name__": "learner"}
    exec(compile(PRELUDE, "the lab's imports", "exec"), namespace)
    path = str(Path(directory, LEARNER_FILE))
    results: dict[str, Any] = {}
    try:
        exec(compile(Path(path).read_text(), path, "exec"), namespace)
    except Exception as e:  # noqa: BLE001 -- reported as every check's error
        failure = ("error", type(e).__name__, str(e), traceback.format_exc())
        results = {name: failure for name in checks.split(",")}
    for name in checks.split(","):
        if name in results:
            continue
        try:
            results[name] = ("ok", getattr(module, name)(namespace, rank, world))
        except Exception as e:  # noqa: BLE001 -- the grader reports it
            results[name] = ("error", type(e).__name__, str(e), traceback.format_exc())
        dist.barrier()
    Path(directory, f"rank{rank}.pkl").write_bytes(pickle.dumps(results))
    dist.destroy_process_group()


if __name__ == "__main__":
    _main(*sys.argv[1:5])
