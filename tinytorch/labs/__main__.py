"""The learner's command for the labs: ``python -m tinytorch.labs COMMAND``.

    python -m tinytorch.labs status            every lab's last score, and whether it is out of date
    python -m tinytorch.labs grade ch05        grade labs/ch05/ch05.ipynb (same as `pytest labs/ch05`)
    python -m tinytorch.labs reset ch05        a fresh student edition; your notebook is kept as a backup
    python -m tinytorch.labs hint ch05 5.3     the hints of exercise 5.3 (they are also in the notebook)

Run it from the repository root (or pass ``--labs-dir``).
"""

from __future__ import annotations

import argparse
import html
import json
import re
import subprocess
import sys
import time
from pathlib import Path


def _labs(labs_dir: Path) -> list[Path]:
    return sorted(p for p in labs_dir.glob("ch[0-9]*") if (p / f"{p.name}_source.py").exists())


def _lab_dir(labs_dir: Path, name: str) -> Path:
    name = name if name.startswith("ch") else f"ch{int(name):02d}"
    lab = labs_dir / name
    if not (lab / f"{name}_source.py").exists():
        known = ", ".join(p.name for p in _labs(labs_dir)) or "none"
        raise SystemExit(f"no lab {name!r} in {labs_dir} (labs: {known})")
    return lab


def status(labs_dir: Path) -> int:
    """One line per lab: its score from the last full grade, or why there is none."""
    print(f"{'lab':<5} {'title':<28} {'score':>8}  last graded")
    for lab in _labs(labs_dir):
        notebook, scores = lab / f"{lab.name}.ipynb", lab / "scores.json"
        if not scores.exists():
            print(f"{lab.name:<5} {'':<28} {'-':>8}  not graded yet (python -m tinytorch.labs grade {lab.name})")
            continue
        data = json.loads(scores.read_text())
        when = data.get("graded_at") or time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(scores.stat().st_mtime))
        stale = notebook.exists() and notebook.stat().st_mtime > scores.stat().st_mtime
        note = "  (the notebook changed since: grade again)" if stale else ""
        score = f"{data['points']}/{data['total']}"
        print(f"{lab.name:<5} {data.get('title', ''):<28} {score:>8}  {when}{note}")
    return 0


def grade(labs_dir: Path, name: str, extra: list[str]) -> int:
    lab = _lab_dir(labs_dir, name)
    cmd = [sys.executable, "-m", "pytest", str(lab), "-q", "-p", "no:cacheprovider", *extra]
    return subprocess.call(cmd)


def reset(labs_dir: Path, name: str) -> int:
    """Write a fresh student edition; the current notebook is renamed to a timestamped backup."""
    from .release import render, student_edition

    lab = _lab_dir(labs_dir, name)
    notebook = lab / f"{lab.name}.ipynb"
    if notebook.exists():
        stamp = time.strftime("%Y%m%d-%H%M%S")
        backup = lab / f"{lab.name}.backup-{stamp}.ipynb"
        n = 1
        while backup.exists():  # never overwrite an earlier backup
            n += 1
            backup = lab / f"{lab.name}.backup-{stamp}-{n}.ipynb"
        notebook.rename(backup)
        print(f"your notebook is kept as {backup}")
    notebook.write_text(render(student_edition(lab / f"{lab.name}_source.py")))
    print(f"{notebook}: a fresh student edition")
    return 0


_DETAILS = re.compile(r"<details><summary>(Hint (\d+\.\d+)[^<]*)</summary>(.*?)</details>", re.S)


def hints(source: Path) -> dict[str, list[str]]:
    """``{exercise: [hint text, ...]}`` from the collapsed hint cells of a lab's source."""
    import jupytext

    out: dict[str, list[str]] = {}
    for cell in jupytext.read(str(source)).cells:
        if cell.cell_type != "markdown":
            continue
        for _, exercise, body in _DETAILS.findall(cell.source):
            out.setdefault(exercise, []).append(html.unescape(" ".join(body.split())))
    return out


def hint(labs_dir: Path, name: str, exercise: str) -> int:
    lab = _lab_dir(labs_dir, name)
    found = hints(lab / f"{lab.name}_source.py")
    if exercise not in found:
        print(f"no hints for exercise {exercise!r} in {lab.name}; exercises with hints: {', '.join(found)}",
              file=sys.stderr)
        return 1
    for i, text in enumerate(found[exercise], 1):
        print(f"Hint {exercise} ({i} of {len(found[exercise])}): {text}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tinytorch.labs", description=__doc__.splitlines()[0])
    parser.add_argument("--labs-dir", default="labs", type=Path, help="the labs folder (default: ./labs)")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("status", help="every lab's last score")
    g = sub.add_parser("grade", help="grade one lab (extra arguments go to pytest, e.g. -k exp)")
    g.add_argument("lab")
    r = sub.add_parser("reset", help="a fresh student edition; the current notebook is kept as a backup")
    r.add_argument("lab")
    h = sub.add_parser("hint", help="the hints of one exercise")
    h.add_argument("lab")
    h.add_argument("exercise")
    args, extra = parser.parse_known_args(argv)
    if extra and args.command != "grade":
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    if args.command == "status":
        return status(args.labs_dir)
    if args.command == "grade":
        return grade(args.labs_dir, args.lab, extra)
    if args.command == "reset":
        return reset(args.labs_dir, args.lab)
    return hint(args.labs_dir, args.lab, args.exercise)


if __name__ == "__main__":
    sys.exit(main())
