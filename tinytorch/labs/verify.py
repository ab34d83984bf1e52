"""Prove the graders are not vacuous: ``python -m tinytorch.labs.verify``.

Grades every lab twice, each time in a fresh pytest process:

* the source edition (``--solutions``) must score T/T, every test passing;
* the generated student edition must score 0/T, and every one of its failures must be
  "Exercise N.M is not implemented yet" — not a wrong answer, not an error of the harness.

A test that passes on the student edition is a test that cannot fail: a bug in the lab.
Tests skipped on this machine (no C compiler, no GPU) are listed and count for neither side.
Exits non-zero if any lab breaks a rule; the last line reads ``labs: N passed, M failed``.

``--planted`` grades the planted notebooks of ``labs/planted`` instead: each is a lab's source
edition (the reference solutions) with a few cells appended that replace one exercise by a
cheat or a plausible wrong answer. Its header says what must happen::

    # planted: ch05                 the lab
    # expect: 5.1 inherits          exercise 5.1 loses points, and a failure message of 5.1
                                    contains "inherits" (the rule it broke)
    # expect: full                  (instead) the notebook keeps full marks: an honest variant
    # lab-timeout: 10               (optional) the per-test time limit for this notebook

The last line reads ``planted: N caught, M missed``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any


def grade(labs_dir: Path, solutions: bool, scores_dir: Path, labs: list[str]) -> dict[str, dict[str, Any]]:
    targets = [str(labs_dir / name) for name in labs] if labs else [str(labs_dir)]
    cmd = [sys.executable, "-m", "pytest", *targets, "-q", "-p", "no:cacheprovider",
           "--scores-dir", str(scores_dir)] + (["--solutions"] if solutions else [])
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode not in (0, 1):  # 1 = some tests failed, which the student edition must
        sys.stdout.write(proc.stdout[-5000:] + proc.stderr[-5000:])
        raise SystemExit(f"pytest could not grade the labs (exit code {proc.returncode}): {' '.join(cmd)}")
    return {p.stem: json.loads(p.read_text()) for p in sorted(scores_dir.glob("ch*.json"))}


def problems(solution: dict[str, Any] | None, student: dict[str, Any] | None) -> list[str]:
    """What is wrong with one lab's pair of score reports (empty list: the lab is sound)."""
    if solution is None or student is None:
        return ["no score report (did its tests run at all?)"]
    out = []
    if solution["total"] == 0:
        out.append("no graded test ran")
    if solution["points"] != solution["total"]:
        failed = [t["nodeid"].split("::")[-1] for t in solution["tests"] if t["outcome"] == "failed"]
        out.append(f"solutions score {solution['points']}/{solution['total']}; failing: {', '.join(failed)}")
    if solution["cell_errors"]:
        out.append(f"the source edition raised while loading: {'; '.join(solution['cell_errors'])}")
    if student["total"] != solution["total"]:
        out.append(f"the editions have different totals ({student['total']} vs {solution['total']})")
    for t in student["tests"]:
        name = t["nodeid"].split("::")[-1]
        if t["outcome"] == "passed":
            out.append(f"{name} passes on the student edition: it cannot fail (vacuous test)")
        elif t["outcome"] == "failed" and t["kind"] != "not_implemented":
            out.append(f"{name} fails on the student edition with '{t['kind']}', not 'not implemented yet': "
                       f"{t['message'].splitlines()[0] if t['message'] else ''}")
    return out


@dataclass
class Planted:
    path: Path
    lab: str
    expect: list[tuple[str, str]]  # (exercise, word in the message); empty: full marks expected
    timeout: float | None = None  # "# lab-timeout: S": the per-test limit for this notebook


def read_planted(path: Path) -> Planted:
    lab, expect, full, timeout = "", [], False, None
    for line in path.read_text().splitlines():
        if line.startswith("# lab-timeout:"):
            timeout = float(line.split(":", 1)[1])
        elif line.startswith("# planted:"):
            lab = line.split(":", 1)[1].strip()
        elif line.startswith("# expect:"):
            rest = line.split(":", 1)[1].strip()
            if rest == "full":
                full = True
            else:
                exercise, _, word = rest.partition(" ")
                expect.append((exercise, word.strip()))
    if not lab or (not expect and not full):
        raise SystemExit(f"{path}: needs a '# planted: chNN' line and '# expect: ...' lines")
    return Planted(path, lab, expect, timeout)


def planted_notebook(labs_dir: Path, planted: Planted, out: Path) -> Path:
    """The lab's source edition with the planted cells appended, written as a notebook."""
    import jupytext

    nb = jupytext.read(str(labs_dir / planted.lab / f"{planted.lab}_source.py"))
    extra = jupytext.read(str(planted.path))
    nb.cells.extend(c for c in extra.cells if c.cell_type == "code" and c.source.strip())
    target = out / f"{planted.path.stem}.ipynb"
    jupytext.write(nb, str(target))
    return target


def judge_planted(planted: Planted, score: dict[str, Any] | None) -> tuple[bool, str]:
    """(caught, a one-line account) for one planted notebook's score report."""
    if score is None:
        return False, "no score report"
    total = f"{score['points']}/{score['total']}"
    if not planted.expect:
        ok = score["points"] == score["total"] and score["total"] > 0
        return ok, f"{total} (expected full marks)"
    notes = []
    ok = True
    for exercise, word in planted.expect:
        row = next((r for r in score["exercises"] if r["exercise"] == exercise), None)
        tests = [t for t in score["tests"] if t["exercise"] == exercise and t["outcome"] == "failed"]
        hit = next((t for t in tests if word.lower() in t["message"].lower()
                    and f"exercise {exercise}".lower() in t["message"].lower()), None)
        lost = row is not None and row["points"] < row["total"]
        ok = ok and lost and hit is not None
        shown = f"{row['points']}/{row['total']}" if row else "-"
        message = hit["message"] if hit else (tests[0]["message"] if tests else "")
        first = next((ln.strip() for ln in message.splitlines()[1:] if ln.strip()), "")
        notes.append(f"{exercise} {shown}" + ("" if hit else f" (no message with '{word}')") + f": {first[:150]}")
    return ok, f"{total}; " + "; ".join(notes)


def check_planted(labs_dir: Path, planted_dir: Path, names: list[str], timeout: float) -> int:
    files = sorted(p for p in planted_dir.glob("*.py") if not names or p.stem in names)
    if not files:
        print(f"no planted notebooks in {planted_dir}", file=sys.stderr)
        return 1
    missed = 0
    print(f"{'planted notebook':<34} {'lab':<5} {'time':>6}  verdict")
    with tempfile.TemporaryDirectory() as tmp:
        for path in files:
            planted = read_planted(path)
            notebook = planted_notebook(labs_dir, planted, Path(tmp))
            scores_dir = Path(tmp, path.stem)
            start = time.monotonic()
            cmd = [sys.executable, "-m", "pytest", str(labs_dir / planted.lab), "-q", "-p", "no:cacheprovider",
                   "--notebook", str(notebook), "--scores-dir", str(scores_dir),
                   "--lab-timeout", str(planted.timeout or timeout)]
            subprocess.run(cmd, capture_output=True, text=True)
            elapsed = time.monotonic() - start
            report = scores_dir / f"{planted.lab}.json"
            caught, account = judge_planted(planted, json.loads(report.read_text()) if report.exists() else None)
            missed += not caught
            print(f"{path.stem:<34} {planted.lab:<5} {elapsed:>5.0f}s  {'caught' if caught else 'MISSED'}  {account}")
    print(f"planted: {len(files) - missed} caught, {missed} missed")
    return 1 if missed else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("labs", nargs="*", help="lab folders to check, e.g. ch01 ch02 (default: all); "
                                                "with --planted: planted notebook names")
    parser.add_argument("--labs-dir", default="labs", type=Path)
    parser.add_argument("--planted", action="store_true",
                        help="grade the planted cheats and wrong answers in LABS_DIR/planted: each must lose points")
    parser.add_argument("--timeout", default=30.0, type=float, help="--lab-timeout for the planted runs")
    args = parser.parse_args(argv)
    if args.planted:
        return check_planted(args.labs_dir, args.labs_dir / "planted", args.labs, args.timeout)
    with tempfile.TemporaryDirectory() as tmp:
        solutions = grade(args.labs_dir, True, Path(tmp, "solutions"), args.labs)
        students = grade(args.labs_dir, False, Path(tmp, "student"), args.labs)
    names = sorted(set(solutions) | set(students))
    if not names:
        print("no lab was graded", file=sys.stderr)
        return 1
    bad = 0
    print(f"{'lab':<6} {'title':<40} {'solutions':>10} {'student':>9}  verdict")
    for name in names:
        sol, stu = solutions.get(name), students.get(name)
        issues = problems(sol, stu)
        bad += bool(issues)
        title = (sol or stu or {}).get("title", "")
        s1 = f"{sol['points']}/{sol['total']}" if sol else "-"
        s2 = f"{stu['points']}/{stu['total']}" if stu else "-"
        print(f"{name:<6} {title:<40} {s1:>10} {s2:>9}  {'ok' if not issues else 'FAIL'}")
        for issue in issues:
            print(f"         - {issue}")
        skipped = [t for t in (sol or {}).get("tests", []) if t["outcome"] == "skipped"]
        for t in skipped:
            print(f"         (skipped here: {t['nodeid'].split('::')[-1]} — {t['message']})")
    print(f"labs: {len(names) - bad} passed, {bad} failed")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
