"""``python -m tinytorch.viz run [-o PATH] [--no-open] SCRIPT.py [args…]``: run a script, then save (and open) the
explorer of what it built.

What is explored, in this order of preference:

1. the explorers the script made itself with ``tinytorch.viz.explore`` (each call's snapshot,
   taken when it was called; several are saved next to each other in one page);
2. otherwise, the tensors left in the script's global variables that have a ``grad_fn``,
   explored together (e.g. ``loss`` after a training loop); every tensor in a global variable
   is labelled with its name. The script runs under :class:`~tinytorch.viz.keep_graphs`, so a graph that
   ``backward()`` freed can still be drawn; its gradients are then the leaves' ``.grad``.

The page is written to ``-o PATH`` (default: ``SCRIPT.explorer.html`` next to the script) and
opened in the default browser unless ``--no-open`` is given. Options go before the script;
everything after it is the script's own argv.
"""

from __future__ import annotations

import argparse
import runpy
import sys
import webbrowser
from pathlib import Path

from ..tensor import Tensor
from .explorer import Explorer, collecting, explore, keep_graphs


def _page(explorers: list[Explorer], title: str) -> str:
    body = "\n".join(f"<h3>{i + 1}</h3>\n{e.html()}" if len(explorers) > 1 else e.html()
                     for i, e in enumerate(explorers))
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{title}</title></head>'
            f'<body style="margin:12px">\n{body}\n</body></html>\n')


def run(script: str, args: list[str], out: str | None, open_browser: bool) -> Path:
    """Run ``script`` with ``args`` as its argv and write the page; returns its path."""
    sys.argv = [script, *args]
    with keep_graphs(), collecting() as found:
        env = runpy.run_path(script, run_name="__main__")
        if not found:
            named = {k: v for k, v in env.items() if isinstance(v, Tensor) and not k.startswith("_")}
            graphs = {k: v for k, v in named.items() if v.grad_fn is not None}
            if not graphs:
                raise SystemExit(f"{script} made no explorer and left no tensor with a grad_fn in its globals")
            print(f"exploring the globals {', '.join(graphs)} (tensors with a grad_fn)")
            found.append(explore(*graphs.values(), names=named, title=script))
        else:
            print(f"exploring the {len(found)} explorer(s) made by {script}")
    path = Path(out) if out else Path(script).with_suffix(".explorer.html")
    path.write_text(_page(found, Path(script).name), encoding="utf-8")
    print(f"wrote {path} ({path.stat().st_size / 1024:.0f} KiB)")
    if open_browser:
        webbrowser.open(path.resolve().as_uri())
    return path


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tinytorch.viz", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("run", help="run a script and explore the tensors it built")
    p.add_argument("script")
    p.add_argument("args", nargs=argparse.REMAINDER, help="passed to the script")
    p.add_argument("-o", "--output", help="where to write the page (default SCRIPT.explorer.html)")
    p.add_argument("--no-open", action="store_true", help="do not open a browser")
    ns = parser.parse_args(argv)
    run(ns.script, ns.args, ns.output, not ns.no_open)


if __name__ == "__main__":
    main()
