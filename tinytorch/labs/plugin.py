"""The pytest plugin that grades the labs (``labs/conftest.py`` switches it on).

A lab is a folder ``labs/chNN/`` holding

* ``chNN_source.py`` — the one source of truth: a jupytext notebook with the reference
  solutions between ``### BEGIN SOLUTION`` and ``### END SOLUTION``;
* ``chNN.ipynb`` — the student edition generated from it (``make labs-release``);
* ``test_chNN.py`` — the graded tests. Module constants ``TITLE`` ("flat buffers") and
  ``EXERCISES`` (``{"1.1": "row_major_strides", ...}``) name the lab and its exercises; each
  test carries ``@pytest.mark.points(n, exercise="1.1")`` and uses the ``lab`` fixture.

``pytest labs/chNN`` grades the student edition (``--solutions``: the source edition,
``--notebook PATH``: any notebook). Each failed test prints a short message (exercise, what
was expected, a hint) instead of a traceback; the run ends with a per-exercise table and the
line ``chNN <title>: P/T points``, and writes the scores as JSON (``chNN/scores.json``, or
into ``--scores-dir``).
"""

from __future__ import annotations

import json
import traceback
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pytest

from .checks import Lab, LabFailure
from .notebook import load_notebook

RESULTS = pytest.StashKey[dict]()
LABS = pytest.StashKey[dict]()


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


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "points(n, exercise, hint=None): a graded test worth n points")
    config.stash[RESULTS] = {}
    config.stash[LABS] = {}


# --- the fixture ----------------------------------------------------------------------------
@pytest.fixture(scope="session")
def _lab_cache() -> dict[Path, Lab]:
    return {}


@pytest.fixture
def lab(request: pytest.FixtureRequest, _lab_cache: dict[Path, Lab]) -> Lab:
    """The learner's notebook of this test's lab, executed once per session."""
    lab_dir = Path(request.path).parent
    cfg = request.config
    source, student = lab_files(lab_dir)
    edition = "solutions" if cfg.getoption("solutions") else "student"
    path = Path(cfg.getoption("notebook")) if cfg.getoption("notebook") else (source if edition == "solutions"
                                                                              else student)
    if path not in _lab_cache:
        if not path.exists():
            raise LabFailure(f"the notebook {path} does not exist",
                             hint="run `make labs-release` to generate student editions", kind="error")
        loaded = load_notebook(path, f"tinytorch_lab_{lab_dir.name}")
        _lab_cache[path] = Lab(lab_dir.name, loaded, edition)
        info = cfg.stash[LABS].setdefault(lab_dir.name, LabInfo(lab_dir.name))
        info.notebook = _relative(path, cfg.rootpath)
        info.cell_errors = [f"cell {e.cell}: {e.error}" for e in loaded.cell_errors]
    return _lab_cache[path]


def _relative(path: Path, root: Path) -> str:
    try:
        return str(path.resolve().relative_to(root))
    except ValueError:
        return str(path)


# --- collection: register every graded test -----------------------------------------------------
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


# --- each test: score it and shorten its failure -------------------------------------------------
def _chain(exc: BaseException | None) -> list[BaseException]:
    seen: list[BaseException] = []
    while exc is not None and exc not in seen:
        seen.append(exc)
        exc = exc.__cause__ or exc.__context__
    return seen


def _learner_frame(exc: BaseException) -> str:
    """'ch02.ipynb[cell 4], line 7: return x' for the innermost frame in the learner's notebook."""
    where = ""
    for frame in traceback.extract_tb(exc.__traceback__):
        if "[cell " in frame.filename:
            where = f"{frame.filename}, line {frame.lineno}" + (f": {frame.line.strip()}" if frame.line else "")
    return where


def _explain(exc: BaseException, result: TestResult, item: pytest.Item) -> tuple[str, str]:
    """``(kind, message)`` for a failed graded test."""
    marker = item.get_closest_marker("points")
    hint = marker.kwargs.get("hint") if marker else None
    doc = (getattr(item, "function", None).__doc__ or "").strip().splitlines()  # type: ignore[union-attr]
    checks = doc[0] if doc else item.name
    chain = _chain(exc)
    head = f"Exercise {result.exercise}"
    if any(isinstance(e, NotImplementedError) for e in chain):
        where = next((_learner_frame(e) for e in chain if isinstance(e, NotImplementedError)), "")
        stub = "`return TT_NOT_IMPLEMENTED;` in the C source" if any(
            "TT_NOT_IMPLEMENTED" in str(e) for e in chain) else "`raise NotImplementedError()` in the exercise cell"
        lines = [f"{head} is not implemented yet.",
                 f"  this test checks: {checks}",
                 f"  replace {stub} with your code, re-run the cell, save, and grade again"]
        if where:
            lines.insert(1, f"  raised at {where}")
        return "not_implemented", "\n".join(lines)
    failure = next((e for e in chain if isinstance(e, LabFailure)), None)
    if failure is not None:
        kind, message, hint = failure.kind, failure.message, failure.hint or hint
    elif isinstance(exc, AssertionError):
        kind, message = "wrong", (str(exc).strip() or "an assertion failed").splitlines()[0]
    else:
        kind = "error"
        who = "your code" if _learner_frame(exc) else "the check (not in your notebook)"
        message = f"{who} raised {type(exc).__name__}: {str(exc).strip()[:300]}"
        if isinstance(exc, RecursionError):
            hint = hint or ("while grading, the library uses YOUR function; if it calls the library's "
                            "version it calls itself")
    lines = [f"{head} failed: {checks}", f"  {message}".replace("\n", "\n  ")]
    where = _learner_frame(exc)
    if where and kind == "error":
        lines.append(f"  at {where}")
    if hint:
        lines.append(f"  hint: {hint}")
    return kind, "\n".join(lines)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Any:
    outcome = yield
    report = outcome.get_result()
    result = item.config.stash[RESULTS].get(item.nodeid)
    if result is None:
        return
    if report.skipped:
        result.outcome, result.earned = "skipped", 0
        skip = report.longrepr
        result.message = skip[2] if isinstance(skip, tuple) else str(skip)
        return
    if report.failed:
        result.outcome, result.earned = "failed", 0
        if call.excinfo is not None:
            result.kind, result.message = _explain(call.excinfo.value, result, item)
            if not item.config.getoption("lab_traceback"):
                report.longrepr = result.message
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
        lab = out.setdefault(result.lab, {
            "lab": result.lab, "title": info.title, "edition": edition, "notebook": info.notebook,
            "points": 0, "total": 0, "skipped_points": 0, "exercises": {}, "tests": [],
            "cell_errors": info.cell_errors})
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


def _write_json(config: pytest.Config, scores: dict[str, dict[str, Any]]) -> list[Path]:
    written = []
    scores_dir = config.getoption("scores_dir")
    for name, lab in scores.items():
        if scores_dir:
            path = Path(scores_dir) / f"{name}.json"
            path.parent.mkdir(parents=True, exist_ok=True)
        else:
            path = Path(config.rootpath) / "labs" / name / "scores.json"
            if not path.parent.is_dir():
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
        for row in lab["exercises"]:
            label = f"{row['exercise']:>5} {row['title']}"
            score = f"{row['points']}/{row['total']}" if row["total"] else "skipped"
            status = "" if row["points"] == row["total"] and row["total"] else row["status"]
            write(f"  {label:<52} {score:>7}  {status}")
    if written:
        write(f"scores written to {', '.join(str(p) for p in written)}")
    for lab in scores.values():
        skipped = f" ({lab['skipped_points']} points skipped)" if lab["skipped_points"] else ""
        write(f"{lab['lab']} {lab['title']}: {lab['points']}/{lab['total']} points{skipped}")
    if len(scores) > 1:
        points, total = sum(s["points"] for s in scores.values()), sum(s["total"] for s in scores.values())
        write(f"all labs: {points}/{total} points")
