"""The pytest plugin that grades the labs (``labs/conftest.py`` switches it on).

A lab is a folder ``labs/chNN/`` holding

* ``chNN_source.py`` — the one source of truth: a jupytext notebook with the reference
  solutions between ``### BEGIN SOLUTION`` and ``### END SOLUTION``;
* ``chNN.ipynb`` — the student edition generated from it (``make labs-release``);
* ``test_chNN.py`` — the graded tests. Module constants ``TITLE`` ("flat buffers") and
  ``EXERCISES`` (``{"1.1": "row_major_strides", ...}``) name the lab and its exercises; each
  test carries ``@pytest.mark.points(n, exercise="1.1")`` and uses the ``lab`` fixture.

``pytest labs/chNN`` grades the student edition (``--solutions``: the source edition,
``--notebook PATH``: any notebook). The notebook never runs in this process: each lab gets a
grading worker (:mod:`.worker`) that executes the notebook and runs each test's body there,
answering with plain data (passed or failed, a message, a traceback). This process only
counts: it keeps the score table, applies the time limit (``--lab-timeout`` seconds per test,
or the test's ``timeout=``), and writes the score files.

Each failed test prints a short message (exercise, what was expected, a hint) instead of a
traceback; the run ends with a per-exercise table and the line ``chNN <title>: P/T points``.
A full run writes ``labs/chNN/scores.json`` (``--scores-dir``: ``DIR/chNN.json``); a run of only
some tests (``-k``, a node id) writes ``scores.partial.json`` (``chNN.partial.json``), marked
``"partial": true``, and leaves the full score file alone. ``--solutions`` runs write
``scores.solutions.json`` so they never replace the learner's score.
"""

from __future__ import annotations

import json
import os
import secrets
import select
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pytest

RESULTS = pytest.StashKey[dict]()
LABS = pytest.StashKey[dict]()
WORKERS = pytest.StashKey[dict]()
DEFAULT_TIMEOUT = 60.0  # seconds per graded test


def lab_files(lab_dir: Path) -> tuple[Path, Path]:
    """``(source, student)`` notebook paths of the lab in ``lab_dir`` (``labs/chNN``)."""
    return lab_dir / f"{lab_dir.name}_source.py", lab_dir / f"{lab_dir.name}.ipynb"


@dataclass
class TestResult:
    nodeid: str
    lab: str
    exercise: str
    points: int
    earned: int = 0
    outcome: str = "not run"  # passed | failed | skipped | not run
    kind: str = ""  # for failures: not_implemented | undefined | imported | wrong | error
    message: str = ""


@dataclass
class LabInfo:
    name: str
    title: str = ""
    exercises: dict[str, str] = field(default_factory=dict)
    notebook: str = ""
    cell_errors: list[str] = field(default_factory=list)
    restored: list[str] = field(default_factory=list)  # bindings the notebook changed, put back
    graded: set[str] = field(default_factory=set)  # every graded test of the lab ("file::name")
    ran: set[str] = field(default_factory=set)  # those this run executed


# --- options and markers --------------------------------------------------------------------
def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("tinytorch labs")
    group.addoption("--solutions", action="store_true",
                    help="grade the source edition (reference solutions) instead of the student edition")
    group.addoption("--notebook", default=None,
                    help="grade this notebook (.ipynb or jupytext .py) instead of labs/chNN/chNN.ipynb")
    group.addoption("--scores-dir", default=None,
                    help="write chNN.json score files here (default: labs/chNN/scores.json)")
    group.addoption("--lab-traceback", action="store_true",
                    help="show full tracebacks for failed exercises, not just the short message")
    group.addoption("--lab-timeout", default=DEFAULT_TIMEOUT, type=float,
                    help="seconds one graded test may run before it fails as timed out (default: %(default)s)")
    group.addoption("--lab-load-timeout", default=DEFAULT_TIMEOUT, type=float,
                    help="seconds one notebook cell may run while the notebook loads (default: %(default)s)")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "points(n, exercise, hint=None, timeout=None): a graded test worth n points")
    config.stash[RESULTS] = {}
    config.stash[LABS] = {}
    config.stash[WORKERS] = {}


def pytest_sessionfinish(session: pytest.Session) -> None:
    for worker in session.config.stash.get(WORKERS, {}).values():
        worker.close()


# --- the worker: the learner's notebook runs in a process of its own ------------------------------------
class WorkerDied(Exception):
    pass


class WorkerTimeout(Exception):
    def __init__(self, cell: int | None = None):
        super().__init__(cell)
        self.cell = cell  # the code cell that was running (while loading), if known


class WorkerProcess:
    """One grading worker (``python -m tinytorch.labs.worker``) for one lab's notebook.

    Only JSON lines cross its pipes; nothing the notebook does can reach this process. A test
    that runs past its limit gets the worker killed (with everything it started); the next test
    starts a fresh one. A notebook cell that never finishes while loading is skipped on the
    next start (it counts as a cell that raised).
    """

    def __init__(self, lab: str, tests: list[str], notebook: Path, edition: str, load_timeout: float):
        self.lab, self.tests, self.notebook, self.edition = lab, tests, notebook, edition
        self.load_timeout = load_timeout
        self.skip: list[int] = []
        self.proc: subprocess.Popen[bytes] | None = None
        self.loaded: dict[str, Any] = {}
        self._pending = b""
        self._log: Any = None

    # process plumbing
    def _spawn(self) -> None:
        root = str(Path(__file__).resolve().parents[2])
        env = dict(os.environ)
        env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        env.setdefault("MPLBACKEND", "Agg")
        self._log = tempfile.TemporaryFile()
        self.proc = subprocess.Popen([sys.executable, "-m", "tinytorch.labs.worker"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self._log, env=env, start_new_session=True)
        self._pending = b""

    def _send(self, obj: dict[str, Any]) -> None:
        assert self.proc is not None and self.proc.stdin is not None
        try:
            self.proc.stdin.write((json.dumps(obj) + "\n").encode())
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError) as e:
            raise WorkerDied(self._stderr_tail()) from e

    def _recv(self, deadline: float) -> dict[str, Any]:
        assert self.proc is not None and self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        while b"\n" not in self._pending:
            left = deadline - time.monotonic()
            if left <= 0:
                raise WorkerTimeout()
            ready, _, _ = select.select([fd], [], [], left)
            if not ready:
                continue
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                raise WorkerDied(self._stderr_tail())
            self._pending += chunk
        line, self._pending = self._pending.split(b"\n", 1)
        try:
            msg = json.loads(line)
        except ValueError as e:
            raise WorkerDied(f"the worker sent something that is not a message: {line[:200]!r}") from e
        if not isinstance(msg, dict):
            raise WorkerDied(f"the worker sent something that is not a message: {line[:200]!r}")
        return msg

    def _stderr_tail(self) -> str:
        if self._log is None:
            return ""
        self._log.seek(0)
        return self._log.read()[-2000:].decode(errors="replace")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                self.proc.kill()
            self.proc.wait()
        self.proc = None

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            try:
                self._send({"cmd": "exit"})
                self.proc.wait(timeout=5)
            except (WorkerDied, subprocess.TimeoutExpired):
                pass
        self.kill()

    # the protocol
    def ensure_started(self) -> None:
        """Start the worker and load the notebook (skipping cells that hang), unless running."""
        if self.proc is not None and self.proc.poll() is None:
            return
        for _ in range(8):
            self._spawn()
            self._send({"cmd": "load", "lab": self.lab, "tests": self.tests, "notebook": str(self.notebook),
                        "module": f"tinytorch_lab_{self.lab}", "edition": self.edition, "skip": self.skip})
            deadline = time.monotonic() + self.load_timeout
            cell = None
            try:
                while True:
                    msg = self._recv(deadline)
                    if msg.get("event") == "cell":
                        cell = int(msg["n"])
                        deadline = time.monotonic() + self.load_timeout  # the limit is per cell
                    elif msg.get("event") == "loaded":
                        self.loaded = msg
                        return
                    elif msg.get("event") == "crash":
                        raise WorkerDied(f"{msg.get('error')}\n{msg.get('traceback', '')}")
            except WorkerTimeout:
                self.kill()
                if cell is None or cell in self.skip:
                    raise
                self.skip.append(cell)
        raise WorkerDied("the notebook could not be loaded")

    def run(self, request: dict[str, Any], timeout: float) -> dict[str, Any]:
        """Run one test; its reply must carry this request's nonce, be the only reply, and be
        followed by the worker's answer to a ping (see :class:`ForgedResult`)."""
        self.ensure_started()
        nonce = secrets.token_hex(16)
        self._send({**request, "nonce": nonce})
        deadline = time.monotonic() + timeout
        try:
            reply = self._await("result", nonce, deadline)
            ping = secrets.token_hex(16)
            self._send({"cmd": "ping", "nonce": ping})
            self._await("pong", ping, time.monotonic() + timeout, after=nonce)
            return reply
        except (WorkerTimeout, WorkerDied):
            self.kill()
            raise

    def _await(self, event: str, nonce: str, deadline: float, after: str | None = None) -> dict[str, Any]:
        while True:
            msg = self._recv(deadline)
            kind = msg.get("event")
            if kind == "crash":
                raise WorkerDied(f"{msg.get('error')}\n{msg.get('traceback', '')}")
            if kind == event and msg.get("nonce") == nonce:
                return msg
            if kind in ("result", "pong"):
                self.kill()
                raise ForgedResult("the grading worker sent a second or unexpected reply while this test ran: "
                                   "something in the notebook wrote to the grader's channel")


class ForgedResult(Exception):
    """A reply that the worker did not send for this request: written by the notebook's code.

    Each request carries a fresh random nonce that the reply must echo, and each reply is
    followed by a ping whose pong must come next: a reply written by the notebook before the
    real one (with a guessed or a stolen nonce) shows up as a second reply, and fails the test.
    """


class LabTestFailed(Exception):
    """A graded test failed in the worker; the message is what the learner sees."""


# --- the fixture ----------------------------------------------------------------------------
@dataclass
class LabHandle:
    """What the ``lab`` fixture is in the grader's process: a name, never the notebook."""

    name: str


@pytest.fixture
def lab(request: pytest.FixtureRequest) -> LabHandle:
    """Stands for the learner's notebook; the test body itself runs in the grading worker."""
    return LabHandle(Path(request.path).parent.name)


def _notebook_path(config: pytest.Config, lab_dir: Path) -> Path:
    source, student = lab_files(lab_dir)
    if config.getoption("notebook"):
        return Path(config.getoption("notebook"))
    return source if config.getoption("solutions") else student


def _worker_for(config: pytest.Config, item: pytest.Item) -> WorkerProcess:
    workers = config.stash[WORKERS]
    lab_dir = Path(item.path).parent
    if lab_dir.name not in workers:
        for other in workers.values():  # tests run lab by lab: one worker alive at a time
            other.close()
        path = _notebook_path(config, lab_dir)
        if not path.exists():
            raise LabTestFailed(f"Exercise ? failed: the notebook {path} does not exist\n"
                                "  hint: run `make labs-release` to generate student editions")
        tests = sorted(str(p) for p in lab_dir.glob("test_*.py"))
        edition = "solutions" if config.getoption("solutions") else "student"
        workers[lab_dir.name] = WorkerProcess(lab_dir.name, tests, path, edition,
                                              float(config.getoption("lab_load_timeout")))
        info = config.stash[LABS].setdefault(lab_dir.name, LabInfo(lab_dir.name))
        info.notebook = _relative(path, config.rootpath)
    return workers[lab_dir.name]


def _relative(path: Path, root: Path) -> str:
    try:
        return str(path.resolve().relative_to(root))
    except ValueError:
        return str(path)


# --- collection: register every graded test -----------------------------------------------------
def _graded_functions(module: Any) -> list[str]:
    """The names of every graded test function a test module defines."""
    out = []
    for name, fn in vars(module).items():
        if name.startswith("test_") and callable(fn) and any(
                getattr(m, "name", "") == "points" for m in getattr(fn, "pytestmark", [])):
            out.append(name)
    return out


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        marker = item.get_closest_marker("points")
        if marker is None:
            continue
        lab_name = Path(item.path).parent.name
        points = marker.args[0] if marker.args else marker.kwargs["n"]
        exercise = str(marker.kwargs.get("exercise", "?"))
        config.stash[RESULTS][item.nodeid] = TestResult(item.nodeid, lab_name, exercise, points)
        info = config.stash[LABS].setdefault(lab_name, LabInfo(lab_name))
        module = getattr(item, "module", None)
        info.title = getattr(module, "TITLE", lab_name)
        info.exercises = dict(getattr(module, "EXERCISES", {}))
        for name in _graded_functions(module):
            info.graded.add(f"{Path(item.path).name}::{name}")


# --- each test: run it in the worker, score it, shorten its failure --------------------------------------
@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    marker = pyfuncitem.get_closest_marker("points")
    if marker is None:
        return None
    config = pyfuncitem.config
    result = config.stash[RESULTS][pyfuncitem.nodeid]
    info = config.stash[LABS][result.lab]
    timeout = float(marker.kwargs.get("timeout", config.getoption("lab_timeout")))
    request = {"cmd": "run", "file": str(pyfuncitem.path), "function": pyfuncitem.name,
               "exercise": result.exercise}
    worker = _worker_for(config, pyfuncitem)
    try:
        reply = worker.run(request, timeout)
    except WorkerTimeout:
        result.kind = "timeout"
        raise LabTestFailed(f"Exercise {result.exercise} failed: {_doc(pyfuncitem)}\n"
                            f"  your code did not finish within {timeout:g} s (an endless loop?); the grader "
                            "stopped it and went on with a fresh process") from None
    except ForgedResult as e:
        result.kind = "tampering"
        raise LabTestFailed(f"Exercise {result.exercise} failed: {_doc(pyfuncitem)}\n  {e} (rule: graded code "
                            "must not touch the grader)") from None
    except WorkerDied as e:
        result.kind = "crash"
        raise LabTestFailed(f"Exercise {result.exercise} failed: {_doc(pyfuncitem)}\n"
                            "  the process running your notebook died during this test (os._exit, a crash in C "
                            f"code, out of memory?); the grader went on with a fresh process\n"
                            f"  {str(e).strip()[-500:]}") from None
    finally:
        _record_load(info, worker)
    if reply.get("outcome") == "skipped":
        pytest.skip(str(reply.get("message", "")))
    if reply.get("outcome") != "passed":
        result.kind = str(reply.get("kind", "error"))
        error = LabTestFailed(str(reply.get("message", "")))
        error.worker_traceback = str(reply.get("traceback", ""))  # type: ignore[attr-defined]
        raise error
    return True


def _doc(item: pytest.Item) -> str:
    doc = (getattr(item, "function", None).__doc__ or "").strip().splitlines()  # type: ignore[union-attr]
    return doc[0] if doc else item.name


def _record_load(info: LabInfo, worker: WorkerProcess) -> None:
    loaded = worker.loaded
    if not loaded:
        return
    info.cell_errors = [f"cell {e['cell']}: {e['error']}" for e in loaded.get("cell_errors", [])]
    info.restored = list(loaded.get("restored", []))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Any:
    outcome = yield
    report = outcome.get_result()
    result = item.config.stash[RESULTS].get(item.nodeid)
    if result is None:
        return
    if report.when == "call" or report.skipped:
        item.config.stash[LABS][result.lab].ran.add(f"{Path(item.path).name}::{item.name}")
    if report.skipped:
        result.outcome, result.earned = "skipped", 0
        skip = report.longrepr
        result.message = skip[2] if isinstance(skip, tuple) else str(skip)
        return
    if report.failed:
        result.outcome, result.earned = "failed", 0
        if call.excinfo is not None:
            exc = call.excinfo.value
            if isinstance(exc, LabTestFailed):
                result.message = str(exc)
                result.kind = result.kind or "error"
                if item.config.getoption("lab_traceback"):
                    report.longrepr = result.message + "\n\n" + getattr(exc, "worker_traceback", "")
                else:
                    report.longrepr = result.message
            else:
                result.kind = "error"
                result.message = f"the grader failed: {type(exc).__name__}: {exc}"
        return
    if report.when == "call" and result.outcome != "failed":
        result.outcome, result.earned = "passed", result.points


# --- the score table ---------------------------------------------------------------------------------
def lab_scores(config: pytest.Config) -> dict[str, dict[str, Any]]:
    """Per lab: title, points, total, per-exercise rows and per-test results."""
    out: dict[str, dict[str, Any]] = {}
    edition = "solutions" if config.getoption("solutions") else "student"
    for result in config.stash[RESULTS].values():
        info = config.stash[LABS][result.lab]
        missing = sorted(info.graded - info.ran)
        lab = out.setdefault(result.lab, {
            "lab": result.lab, "title": info.title, "edition": edition, "notebook": info.notebook,
            "partial": bool(missing), "not_run": missing,
            "points": 0, "total": 0, "skipped_points": 0, "exercises": {}, "tests": [],
            "cell_errors": info.cell_errors, "restored": info.restored,
            "graded_at": time.strftime("%Y-%m-%d %H:%M:%S")})
        ex = lab["exercises"].setdefault(result.exercise, {
            "exercise": result.exercise, "title": info.exercises.get(result.exercise, ""),
            "points": 0, "total": 0, "status": set()})
        lab["tests"].append(asdict(result))
        if result.outcome == "skipped":
            lab["skipped_points"] += result.points
            ex["status"].add("skipped: " + result.message)
            continue
        if result.outcome == "not run":
            continue
        lab["points"] += result.earned
        lab["total"] += result.points
        ex["points"] += result.earned
        ex["total"] += result.points
        if result.kind:
            ex["status"].add(result.kind.replace("_", " "))
    for lab in out.values():
        rows = sorted(lab["exercises"].values(), key=lambda e: [int(p) if p.isdigit() else p
                                                                 for p in e["exercise"].split(".")])
        for row in rows:
            row["status"] = ", ".join(sorted(row["status"]))
        lab["exercises"] = rows
    return dict(sorted(out.items()))


def score_file(config: pytest.Config, name: str, lab: dict[str, Any]) -> Path:
    """Where this run's scores of lab ``name`` go (see the module docstring)."""
    partial = ".partial" if lab["partial"] else ""
    scores_dir = config.getoption("scores_dir")
    if scores_dir:
        return Path(scores_dir) / f"{name}{partial}.json"
    edition = ".solutions" if config.getoption("solutions") else ""
    return Path(config.rootpath) / "labs" / name / f"scores{edition}{partial}.json"


def _write_json(config: pytest.Config, scores: dict[str, dict[str, Any]]) -> list[Path]:
    written = []
    for name, lab in scores.items():
        path = score_file(config, name, lab)
        if config.getoption("scores_dir"):
            path.parent.mkdir(parents=True, exist_ok=True)
        elif not path.parent.is_dir():
            continue
        path.write_text(json.dumps(lab, indent=2) + "\n")
        written.append(path)
    return written


def pytest_unconfigure(config: pytest.Config) -> None:
    """Print the score table last, after pytest's own summary, and write the JSON files."""
    if RESULTS not in config.stash or not config.stash[RESULTS]:
        return
    scores = lab_scores(config)
    if not any(lab["total"] or lab["skipped_points"] for lab in scores.values()):
        return  # collection only (--collect-only) or interrupted before any test ran
    written = _write_json(config, scores)
    tr = config.pluginmanager.get_plugin("terminalreporter")
    write = tr.write_line if tr is not None else print
    write("")
    for lab in scores.values():
        write(f"{lab['lab']} {lab['title']} — {lab['edition']} edition ({lab['notebook']})")
        unfinished = [e.split(":")[0].removeprefix("cell ") for e in lab["cell_errors"]
                      if e.endswith("NotImplementedError") or "NotImplementedError:" in e]
        if unfinished:
            write(f"  note: cells {', '.join(unfinished)} raised NotImplementedError while loading "
                  "(expected until their exercises are done)")
        for err in lab["cell_errors"]:
            if err.split(":")[0].removeprefix("cell ") not in unfinished:
                write(f"  note: {err} (the cells after it still ran)")
        if lab["restored"]:
            write(f"  note: your notebook rebound {', '.join(lab['restored'][:5])}; the grader put the library's "
                  "back before grading")
        if lab["partial"]:
            write(f"  partial run: {len(lab['not_run'])} graded test(s) not run; the full score file is left as it "
                  "was")
        for row in lab["exercises"]:
            label = f"{row['exercise']:>5} {row['title']}"
            score = f"{row['points']}/{row['total']}" if row["total"] else ("skipped" if row["status"] else "not run")
            status = "" if row["points"] == row["total"] and row["total"] else row["status"]
            write(f"  {label:<52} {score:>7}  {status}")
    if written:
        write(f"scores written to {', '.join(str(p) for p in written)}")
    for lab in scores.values():
        skipped = f" ({lab['skipped_points']} points skipped)" if lab["skipped_points"] else ""
        partial = " (partial run)" if lab["partial"] else ""
        write(f"{lab['lab']} {lab['title']}: {lab['points']}/{lab['total']} points{skipped}{partial}")
    if len(scores) > 1:
        points, total = sum(s["points"] for s in scores.values()), sum(s["total"] for s in scores.values())
        write(f"all labs: {points}/{total} points")
