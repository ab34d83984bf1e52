"""The grading worker: runs a learner's notebook and the graded checks, in its own process.

The grader (:mod:`.plugin`, in the pytest process) starts ``python -m tinytorch.labs.worker``
and talks to it over a private pair of pipes, one JSON object per line:

* ``{"cmd": "load", ...}`` — import the lab's test modules and the library, take a snapshot
  of the library's, numpy's and the grader's module and class attributes, then run the
  notebook's code cells (reporting ``{"event": "cell", "n": k}`` before each, so the grader
  can tell which cell hangs) and answer ``{"event": "loaded", "cell_errors": [...],
  "restored": [...]}``: anything the notebook rebound in those modules is put back first;
* ``{"cmd": "run", "file": ..., "function": ..., "exercise": ...}`` — run one graded test and
  answer ``{"event": "result", "outcome": "passed" | "failed" | "skipped", "kind", "message",
  "traceback"}``. Before each test the global state is reset (grad mode on, the default
  device, every seed, the snapshot restored); while it runs, the library's reference
  implementation of the exercise and the helpers it forbids are guarded (see
  :mod:`.provenance`); afterwards, any attribute the learner's code rebound fails the test.

Only plain data crosses the pipe; the grader computes and prints the score and writes the
score files, and kills this process when a test runs past its time limit. The notebook's
``print``s and anything written to file descriptors 0-2 go nowhere: the channel uses
descriptors of its own, duplicated at start-up.
"""

from __future__ import annotations

import importlib.util
import inspect
import json
import os
import random
import sys
import traceback
import types
from pathlib import Path
from typing import Any

WATCHED = ("tinytorch", "numpy", "builtins", "math", "functools", "operator", "inspect", "copy", "labtest_")


# --- the snapshot: what the notebook must not change --------------------------------------------------
def _watched(name: str) -> bool:
    return name.split(".")[0] in WATCHED or name.startswith("labtest_")


def _interesting(value: Any) -> bool:
    return callable(value) and not isinstance(value, types.ModuleType)


class Snapshot:
    """The callables bound in the watched modules and the attributes of the library's classes,
    and the code of every such function (``f.__code__ = ...`` changes a function in place)."""

    def __init__(self) -> None:
        self.modules: dict[str, tuple[types.ModuleType, dict[str, Any]]] = {}
        self.classes: dict[int, tuple[type, dict[str, Any]]] = {}
        self.codes: dict[int, tuple[types.FunctionType, types.CodeType, str]] = {}
        for name, module in list(sys.modules.items()):
            if module is None or not _watched(name):
                continue
            values = {k: v for k, v in vars(module).items() if _interesting(v)}
            self.modules[name] = (module, values)
            for k, v in values.items():
                self._code(v, f"{name}.{k}")
                if isinstance(v, type) and str(getattr(v, "__module__", "")).split(".")[0] in (
                        "tinytorch",) and id(v) not in self.classes:
                    self.classes[id(v)] = (v, dict(vars(v)))
                    for a, f in vars(v).items():
                        self._code(f, f"{v.__module__}.{v.__qualname__}.{a}")

    def _code(self, value: Any, label: str) -> None:
        if type(value) is types.FunctionType and id(value) not in self.codes:
            self.codes[id(value)] = (value, value.__code__, label)

    def changes(self) -> list[tuple[str, Any, str, Any]]:
        """``(label, owner, attribute, original)`` for every binding that differs from the snapshot;
        ``original`` is ``_MISSING`` for an attribute that was added; for a function whose code
        was replaced, ``owner`` is the function and ``attribute`` is ``__code__``."""
        out = []
        for name, (module, values) in self.modules.items():
            current = vars(module)
            for k, v in values.items():
                if current.get(k, _MISSING) is not v:
                    out.append((f"{name}.{k}", module, k, v))
        for cls, values in self.classes.values():
            current = dict(vars(cls))
            for k, v in values.items():
                if current.get(k, _MISSING) is not v:
                    out.append((f"{cls.__module__}.{cls.__qualname__}.{k}", cls, k, v))
            for k in current.keys() - values.keys():
                out.append((f"{cls.__module__}.{cls.__qualname__}.{k}", cls, k, _MISSING))
        for fn, code, label in self.codes.values():
            if fn.__code__ is not code:
                out.append((f"{label}.__code__", fn, "__code__", code))
        return out

    def restore(self) -> list[str]:
        """Put every changed binding (and function code) back; return their names."""
        labels = []
        for label, owner, attr, original in self.changes():
            labels.append(label)
            try:
                if original is _MISSING:
                    delattr(owner, attr)
                else:
                    setattr(owner, attr, original)
            except (AttributeError, TypeError, ValueError):
                pass
        return labels

class _Missing:
    def __repr__(self) -> str:
        return "<missing>"


_MISSING = _Missing()


def reset_global_state(default_device: str) -> None:
    """Grad mode on, the default device, fixed seeds, numpy's error settings: every test starts equal."""
    import numpy as np

    from tinytorch.ndarray import devices
    from tinytorch.ops.random import manual_seed
    from tinytorch.tensor import _set_grad_enabled

    _set_grad_enabled(True)
    devices.set_default_device(default_device)  # this thread's default device (per thread, as PyTorch)
    manual_seed(0)
    np.random.seed(0)
    random.seed(0)
    np.seterr(all="warn", under="ignore")


# --- frames: the notebook's code must not read the grader's local variables -------------------------------
class FrameGuard:
    """``sys._getframe`` (and so ``inspect.currentframe``/``inspect.stack``) for the notebook's code
    while a test runs: calling it records a violation and raises. Installed before the notebook
    loads, so the notebook never sees the real one. (A frame reached through an exception's
    ``__traceback__`` is not covered; the tests compute expected values after the learner's code
    runs, so no frame holds them while it runs.)"""

    def __init__(self, files: set[str]):
        self.files = files
        self.active = False
        self.violations: list[Any] = []
        self.real = sys._getframe

    def install(self) -> None:
        real, guard = self.real, self

        def _getframe(depth: int = 0) -> types.FrameType:
            frame = real(depth + 1)
            if guard.active:
                caller = real(1)
                callers = [caller]
                if caller.f_code.co_filename.endswith("inspect.py"):  # inspect.currentframe(), inspect.stack()
                    callers += [caller.f_back, caller.f_back.f_back if caller.f_back else None]
                if any(f is not None and f.f_code.co_filename in guard.files for f in callers):
                    from .checks import LabFailure
                    from .provenance import Violation

                    text = ("your code called sys._getframe / inspect.currentframe while it was graded "
                            "(rule: graded code must not read the grader's frames)")
                    guard.violations.append(Violation("frames", text))
                    raise LabFailure(text, kind="frames")
            return frame

        sys._getframe = _getframe


# --- explaining a failure -----------------------------------------------------------------------------
def _chain(exc: BaseException | None) -> list[BaseException]:
    seen: list[BaseException] = []
    while exc is not None and exc not in seen:
        seen.append(exc)
        exc = exc.__cause__ or exc.__context__
    return seen


def learner_frames(exc: BaseException, files: set[str]) -> list[str]:
    """``"ch05.ipynb Cell In[7], line 12, in backward: return ..."`` for the notebook's frames, outermost first."""
    out = []
    for frame in traceback.extract_tb(exc.__traceback__):
        if frame.filename in files:
            line = f"{frame.filename}, line {frame.lineno}, in {frame.name}"
            out.append(line + (f": {frame.line.strip()}" if frame.line else ""))
    return out


def _where(exc: BaseException, files: set[str]) -> str:
    frames = learner_frames(exc, files)
    if not frames:
        return ""
    if len(frames) > 3:
        frames = frames[:1] + ["..."] + frames[-2:]
    return "\n      ".join(frames)


def explain(exc: BaseException, exercise: str, checks: str, hint: str | None, files: set[str]) -> tuple[str, str]:
    """``(kind, message)`` for a failed graded test."""
    from .checks import LabFailure

    chain = _chain(exc)
    head = f"Exercise {exercise}"
    failure = next((e for e in chain if isinstance(e, LabFailure)), None)
    guard = failure is not None and failure.kind in ("no_delegation", "forbidden_helper", "provenance", "tampering")
    if not guard and any(isinstance(e, NotImplementedError) for e in chain):
        where = next((_where(e, files) for e in chain if isinstance(e, NotImplementedError)), "")
        stub = "`return TT_NOT_IMPLEMENTED;` in the C source" if any(
            "TT_NOT_IMPLEMENTED" in str(e) for e in chain) else "`raise NotImplementedError()` in the exercise cell"
        lines = [f"{head} is not implemented yet.",
                 f"  this test checks: {checks}",
                 f"  replace {stub} with your code, re-run the cell, save, and grade again"]
        if where:
            lines.insert(1, f"  raised at {where}")
        return "not_implemented", "\n".join(lines)
    if failure is not None:
        kind, message, hint = failure.kind, failure.message, failure.hint or hint
    elif isinstance(exc, AssertionError):
        kind, message = "wrong", (str(exc).strip() or "an assertion failed").splitlines()[0]
    else:
        kind = "error"
        who = "your code" if learner_frames(exc, files) else "the check (not in your notebook)"
        message = f"{who} raised {type(exc).__name__}: {str(exc).strip()[:300]}"
        if isinstance(exc, RecursionError):
            hint = hint or ("while grading, the library uses YOUR function; if it calls the library's "
                            "version it calls itself")
    lines = [f"{head} failed: {checks}", f"  {message}".replace("\n", "\n  ")]
    where = _where(exc, files)
    if where and kind in ("error", "wrong"):
        lines.append(f"  at {where}")
    if hint:
        lines.append(f"  hint: {hint}")
    return kind, "\n".join(lines)


# --- the worker -------------------------------------------------------------------------------------------
class Worker:
    def __init__(self, send: Any):
        self.send = send
        self.tests: dict[str, types.ModuleType] = {}
        self.lab: Any = None
        self.snapshot: Snapshot | None = None
        self.default_device = "cpu"
        self.frames: FrameGuard | None = None
        self.functions: set[int] = set()

    def _import_test(self, path: str, lab: str) -> types.ModuleType:
        name = f"labtest_{lab}_{Path(path).stem}"
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        return module

    def load(self, req: dict[str, Any]) -> dict[str, Any]:
        from tinytorch.ndarray import devices

        from . import provenance  # imported before the notebook, like everything it uses
        from .checks import Lab
        from .notebook import load_notebook

        for path in req["tests"]:
            self.tests[path] = self._import_test(path, req["lab"])
        self.default_device = devices.get_default_device()
        self.frames = FrameGuard(set())
        self.frames.install()
        self.snapshot = Snapshot()
        self.functions = provenance.function_ids()
        loaded = load_notebook(req["notebook"], req["module"], set(req.get("skip", ())),
                               on_cell=lambda n: self.send({"event": "cell", "n": n}))
        restored = self.snapshot.restore()
        self.lab = Lab(req["lab"], loaded, req["edition"])
        self.frames.files.update(loaded.code.filenames)
        return {"event": "loaded", "restored": restored,
                "cell_errors": [{"cell": e.cell, "error": e.error} for e in loaded.cell_errors]}

    def run(self, req: dict[str, Any]) -> dict[str, Any]:
        import pytest

        from .checks import LabFailure
        from .provenance import Guards, Violation, guard_specs

        assert self.snapshot is not None and self.lab is not None
        module = self.tests[req["file"]]
        fn = getattr(module, req["function"])
        exercise = req["exercise"]
        marker = next((m for m in getattr(fn, "pytestmark", []) if m.name == "points"), None)
        hint = marker.kwargs.get("hint") if marker else None
        doc = (fn.__doc__ or "").strip().splitlines()
        checks = doc[0] if doc else req["function"]
        files = self.lab.notebook.code.filenames

        self.snapshot.restore()
        reset_global_state(self.default_device)
        violations: list[Violation] = []
        guards = Guards(self.lab.notebook.code, violations, self.functions)
        refs, forbidden = guard_specs(module, exercise)
        mp = pytest.MonkeyPatch()
        error: BaseException | None = None
        skipped = ""
        assert self.frames is not None
        self.frames.violations = violations
        self.frames.active = True
        try:
            guards.install(refs, "no delegation", exercise, self.lab.notebook.namespace)
            guards.install(forbidden, "forbidden helper", exercise)
            kwargs = {}
            for p in inspect.signature(fn).parameters:
                if p == "lab":
                    kwargs[p] = self.lab
                elif p == "monkeypatch":
                    kwargs[p] = mp
                else:
                    raise RuntimeError(f"the grading worker has no fixture {p!r}")
            fn(**kwargs)
        except pytest.skip.Exception as e:
            skipped = str(e)
        except BaseException as e:  # noqa: B036 — the learner's code may raise anything
            if isinstance(e, KeyboardInterrupt):
                raise
            error = e
        finally:
            self.frames.active = False
            guards.remove()
            mp.undo()
        tampered = self.snapshot.restore()
        if skipped:
            return {"event": "result", "outcome": "skipped", "kind": "", "message": skipped, "traceback": ""}
        if violations:
            error = LabFailure(violations[0].message, kind=violations[0].rule.replace(" ", "_"))
        elif tampered:
            shown = ", ".join(f"`{t}`" for t in tampered[:4]) + (" ..." if len(tampered) > 4 else "")
            error = LabFailure(f"while this test ran, your code rebound {shown} (rule: graded code must not "
                               "change the library, numpy or the grader; the grader restored them)",
                               kind="tampering")
        if error is None:
            return {"event": "result", "outcome": "passed", "kind": "", "message": "", "traceback": ""}
        kind, message = explain(error, exercise, checks, hint, files)
        tb = "".join(traceback.format_exception(type(error), error, error.__traceback__))
        return {"event": "result", "outcome": "failed", "kind": kind, "message": message, "traceback": tb[-6000:]}


def main() -> int:
    cmd_fd, res_fd = os.dup(0), os.dup(1)
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(devnull, 1)
    commands = os.fdopen(cmd_fd, "r", encoding="utf-8")
    results = os.fdopen(res_fd, "w", encoding="utf-8")
    sys.stdout = open(os.devnull, "w")  # noqa: SIM115 — the notebook's prints go nowhere

    def send(obj: dict[str, Any]) -> None:
        results.write(json.dumps(obj, default=str) + "\n")
        results.flush()

    os.environ.setdefault("MPLBACKEND", "Agg")
    worker = Worker(send)
    for line in commands:
        req = json.loads(line)
        try:
            if req["cmd"] == "load":
                send(worker.load(req))
            elif req["cmd"] == "run":
                send({**worker.run(req), "nonce": req["nonce"]})
            elif req["cmd"] == "ping":
                send({"event": "pong", "nonce": req["nonce"]})
            elif req["cmd"] == "exit":
                break
        except BaseException as e:  # noqa: B036 — report anything to the grader, then go on
            if isinstance(e, KeyboardInterrupt):
                raise
            send({"event": "crash", "error": f"{type(e).__name__}: {e}",
                  "traceback": "".join(traceback.format_exception(type(e), e, e.__traceback__))[-6000:]})
    return 0


if __name__ == "__main__":
    sys.exit(main())
