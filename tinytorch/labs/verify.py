"""Prove the graders are not vacuous: ``python -m tinytorch.labs.verify``.

Grades every lab twice, each time in a fresh pytest process:

* the source edition (``--solutions``) must score T/T, every test passing;
* the generated student edition must score 0/T, and every one of its failures must be
  "Exercise N.M is not implemented yet" — not a wrong answer, not an error of the harness.

A test that passes on the student edition is a test that cannot fail: a bug in the lab.
Tests skipped on this machine (no C compiler, no GPU) are listed and count for neither side.
Exits non-zero if any lab breaks a rule; the last line reads ``labs: N passed, M failed``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("labs", nargs="*", help="lab folders to check, e.g. ch01 ch02 (default: all)")
    parser.add_argument("--labs-dir", default="labs", type=Path)
    args = parser.parse_args(argv)
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
