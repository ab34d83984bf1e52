"""Load a lab notebook as a Python module — inside the grading worker process.

The grader never runs a notebook in its own process: :mod:`.worker` calls
:func:`load_notebook` in a separate process, where the learner's objects can be plugged into
the library under test (their ``compact`` replaces the numpy backend's, their ``Exp`` runs
inside a real graph), and sends back only plain data. The loader reads the notebook with
jupytext (a student ``.ipynb`` or the jupytext source ``.py``) and executes its code cells,
in order, in a fresh module namespace — the same thing "Run all" does in Jupyter. Cell *n*
(counting code cells from 1) is compiled under the file name ``chNN.ipynb Cell In[n]``, the
number Jupyter shows after "Run All" on a fresh kernel, so tracebacks point at the learner's
cell and line as Jupyter numbers them.

A cell that raises does not stop the load: the error is recorded and the next cell runs, as
if the learner had pressed "Run all" and ignored the error. A demo cell that calls an
unfinished exercise therefore costs nothing, and graded names defined in later cells still
exist. IPython syntax (``%timeit``, ``!pip``) is translated by IPython's own transformer;
line magics and shell commands are skipped (they only time or install things), the bodies of
the ``%%time``/``%%timeit``/``%%capture`` cell magics are run as plain code.
"""

from __future__ import annotations

import contextlib
import io
import linecache
import os
import sys
import traceback
import types
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from .provenance import NotebookCode

_PASSTHROUGH_CELL_MAGICS = {"time", "timeit", "capture"}


@dataclass
class CellError:
    """An exception raised by one code cell while the notebook was loaded."""

    cell: int  # 1-based number among the code cells
    error: str  # "NotImplementedError: ..." one line
    traceback: str

    @property
    def not_implemented(self) -> bool:
        return self.error.startswith("NotImplementedError")


@dataclass
class LoadedNotebook:
    """A notebook executed as a module: its namespace and the errors its cells raised."""

    path: Path
    module: types.ModuleType
    cell_errors: list[CellError] = field(default_factory=list)
    code: NotebookCode = field(default_factory=NotebookCode)

    @property
    def namespace(self) -> dict[str, Any]:
        return self.module.__dict__


def read_code_cells(path: Path) -> list[str]:
    """The source of every code cell of a notebook (``.ipynb``) or jupytext file (``.py``/``.md``)."""
    import jupytext  # reads .ipynb natively and every jupytext text format

    nb = jupytext.read(str(path))
    return [c.source for c in nb.cells if c.cell_type == "code"]


class _IPythonShim:
    """Enough of ``get_ipython()`` for the code IPython's transformer produces."""

    def __init__(self, namespace: dict[str, Any], filename: str, code: NotebookCode):
        self._ns = namespace
        self._filename = filename
        self._code = code

    def run_line_magic(self, name: str, line: str, _stack_depth: int = 1) -> None:
        return None  # %timeit, %matplotlib, %load_ext ...: nothing a grader needs

    def run_cell_magic(self, name: str, line: str, cell: str) -> None:
        if name in _PASSTHROUGH_CELL_MAGICS:
            compiled = compile(cell, self._filename, "exec")
            self._code.add(self._filename, compiled)
            exec(compiled, self._ns)

    def system(self, cmd: str) -> None:
        return None  # !pip install ...: never run shell commands while grading

    getoutput = system


def _transform(source: str) -> str:
    if not any(line.lstrip().startswith(("%", "!")) for line in source.splitlines()):
        return source
    from IPython.core.inputtransformer2 import TransformerManager

    return TransformerManager().transform_cell(source)


def cell_filename(path: Path, number: int) -> str:
    """The file name cell ``number`` is compiled under: ``ch05.ipynb Cell In[7]``."""
    return f"{path.name} Cell In[{number}]"


def load_notebook(path: str | os.PathLike[str], module_name: str, skip: set[int] | frozenset[int] = frozenset(),
                  on_cell: Callable[[int], None] | None = None) -> LoadedNotebook:
    """Execute the code cells of ``path`` in a new module called ``module_name``.

    The module is registered in ``sys.modules`` (so classes defined in the notebook pickle and
    report ``__module__ == module_name``). Each cell is compiled under :func:`cell_filename`,
    its lines put in :mod:`linecache` (tracebacks show the learner's own code) and its code
    objects recorded in ``LoadedNotebook.code`` (the provenance checks use them). Cells whose
    numbers are in ``skip`` are not run (the grader skips a cell that never finished);
    ``on_cell(n)`` is called before cell ``n`` runs. Printed output is swallowed; figures go to
    the Agg backend.
    """
    path = Path(path)
    os.environ.setdefault("MPLBACKEND", "Agg")
    module = types.ModuleType(module_name, f"the code cells of {path.name}")
    module.__file__ = str(path)
    sys.modules[module_name] = module
    ns = module.__dict__
    loaded = LoadedNotebook(path, module)
    for number, source in enumerate(read_code_cells(path), start=1):
        filename = cell_filename(path, number)
        code = _transform(source)
        linecache.cache[filename] = (len(code), None, code.splitlines(True), filename)
        if number in skip:
            loaded.cell_errors.append(CellError(number, "TimeoutError: the cell did not finish; the grader skipped it",
                                                ""))
            continue
        if on_cell is not None:
            on_cell(number)
        ns["get_ipython"] = lambda fn=filename: _IPythonShim(ns, fn, loaded.code)
        try:
            compiled = compile(code, filename, "exec")
            loaded.code.add(filename, compiled)
            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                exec(compiled, ns)
        except BaseException as e:  # noqa: B036 — a learner's cell may raise anything, even SystemExit
            if isinstance(e, KeyboardInterrupt):
                raise
            tb = "".join(traceback.format_exception(type(e), e, e.__traceback__))
            first = traceback.format_exception_only(type(e), e)[-1].strip()
            loaded.cell_errors.append(CellError(number, first, tb))
    ns.pop("get_ipython", None)
    _close_figures()
    return loaded


def _close_figures() -> None:
    plt = sys.modules.get("matplotlib.pyplot")
    if plt is not None:
        plt.close("all")
