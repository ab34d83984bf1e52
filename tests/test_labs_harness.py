"""The lab grader's own parts: provenance, guards on reference code, the snapshot, partial runs.

(The labs themselves are checked end to end by ``make labs-check``: solutions T/T, student
editions 0/T, every planted cheat in ``labs/planted`` caught.)
"""

from __future__ import annotations

import json
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest

import tinytorch.ndarray.backend_numpy as backend_numpy
import tinytorch.ndarray.strides as strides_module
import tinytorch.ops.elementwise as elementwise
from tinytorch.autograd import Function
from tinytorch.labs import LabFailure
from tinytorch.labs.provenance import Guards, NotebookCode, function_ids, provenance_problem
from tinytorch.labs.worker import Snapshot
from tinytorch.tensor import no_grad

ROOT = Path(__file__).resolve().parents[1]
CELL = "lab.ipynb Cell In[1]"


def notebook(source: str, extra: dict | None = None) -> tuple[dict, NotebookCode]:
    """Run ``source`` as notebook cell 1; return its namespace and recorded code."""
    code = NotebookCode()
    compiled = compile(source, CELL, "exec")
    code.add(CELL, compiled)
    ns: dict = {"__name__": "lab_nb", "Function": Function, "elementwise": elementwise, "no_grad": no_grad,
                "strides_module": strides_module, **(extra or {})}
    exec(compiled, ns)
    return ns, code


def problem(ns: dict, code: NotebookCode, name: str) -> str | None:
    return provenance_problem(ns[name], name, code, "lab_nb")


def test_own_function_and_class_pass():
    ns, code = notebook(
        "def f(x):\n    return x\n"
        "class Exp(Function):\n    def forward(self, a):\n        return a.exp()\n"
        "    @no_grad()\n    def backward(self, grad):\n        return grad\n")
    assert problem(ns, code, "f") is None
    assert problem(ns, code, "Exp") is None  # a library decorator is looked through


def test_imported_function_breaks_the_notebook_rule():
    ns, code = notebook("from tinytorch.ndarray.strides import permute_view\n")
    message = problem(ns, code, "permute_view")
    assert message is not None and "defined in your notebook" in message and "strides.permute_view" in message


def test_exec_of_copied_source_breaks_the_notebook_rule():
    ns, code = notebook("import inspect\nexec(inspect.getsource(strides_module.permute_view))\n")
    message = problem(ns, code, "permute_view")
    assert message is not None and "not compiled from a cell" in message


def test_subclass_of_the_library_class_breaks_the_inheritance_rule():
    ns, code = notebook("class Exp(elementwise.Exp):\n    pass\n")
    message = problem(ns, code, "Exp")
    assert message is not None and "inherits from `tinytorch.ops.elementwise.Exp`" in message


def test_method_taken_from_the_library_breaks_the_notebook_rule():
    ns, code = notebook("class Exp(Function):\n    forward = elementwise.Exp.forward\n"
                        "    def backward(self, grad):\n        return grad\n")
    message = problem(ns, code, "Exp")
    assert message is not None and "Exp.forward" in message and "library" in message


@pytest.mark.parametrize("target", [strides_module.permute_view, backend_numpy.ewise_mul])
def test_guard_raises_for_notebook_callers_only(target):
    """Plain functions and closures (the numpy backend's kernels are closures) are both guarded."""
    ns, code = notebook("def call(fn, *a):\n    return fn(*a)\n")
    violations: list = []
    guards = Guards(code, violations)
    spec = f"{target.__module__}:{target.__name__}"
    original_code = target.__code__
    args = ((2, 3), (3, 1), (1, 0)) if target is strides_module.permute_view else (
        np.ones(3), np.ones(3), np.empty(3))
    expected = target(*args)
    guards.install([spec], "no delegation", "9.9")
    try:
        assert target(*args) == expected  # the library and the tests still run the real code
        with pytest.raises(LabFailure, match="rule: no delegation"):
            ns["call"](target, *args)
        assert violations and "exercise 9.9" in violations[0].message
    finally:
        guards.remove()
    assert target.__code__ is original_code
    ns["call"](target, *args)


def test_snapshot_sees_and_undoes_a_rebinding():
    snapshot = Snapshot()
    original = np.allclose
    np.allclose = lambda *a, **k: True
    try:
        assert any(label == "numpy.allclose" for label, *_ in snapshot.changes())
    finally:
        restored = snapshot.restore()
    assert np.allclose is original and "numpy.allclose" in restored
    assert snapshot.changes() == []


def test_snapshot_sees_a_method_added_to_a_library_class():
    snapshot = Snapshot()
    elementwise.Exp.cheat = lambda self: 0
    assert any(label.endswith("Exp.cheat") for label, *_ in snapshot.changes())
    snapshot.restore()
    assert not hasattr(elementwise.Exp, "cheat")


def test_partial_run_writes_a_partial_score_file(tmp_path):
    """`-k` grades some tests: the scores go to chNN.partial.json, marked partial, never chNN.json."""
    cmd = [sys.executable, "-m", "pytest", "labs/ch01", "-q", "-p", "no:cacheprovider", "--solutions",
           "-k", "flat_offset", "--scores-dir", str(tmp_path)]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert not (tmp_path / "ch01.json").exists()
    scores = json.loads((tmp_path / "ch01.partial.json").read_text())
    assert scores["partial"] and scores["points"] == scores["total"] == 5
    assert any("row_major_strides" in name for name in scores["not_run"])
    assert "(partial run)" in proc.stdout


def test_a_copy_of_the_reference_code_is_a_violation():
    """A function made from the reference's code object at load time would escape the guard."""
    baseline = function_ids()
    ns, code = notebook("import types\n_clone = types.FunctionType(strides_module.reshape_view.__code__, {})\n",
                        {"types": types})
    violations: list = []
    guards = Guards(code, violations, baseline)
    guards.install(["tinytorch.ndarray.strides:reshape_view"], "no delegation", "2.4", ns)
    guards.remove()
    assert violations and "copy of the code" in violations[0].message


def test_library_functions_sharing_code_are_not_copies():
    """The numpy backend's kernels share one code object (made by one factory): no violation."""
    ns, code = notebook("x = 1\n")
    violations: list = []
    guards = Guards(code, violations, function_ids())
    guards.install(["tinytorch.ndarray.backend_numpy:ewise_mul"], "no delegation", "3.1", ns)
    guards.remove()
    assert violations == []


def test_snapshot_sees_and_undoes_a_code_swap():
    """``f.__code__ = ...`` changes a library function without rebinding it."""
    snapshot = Snapshot()
    original = strides_module.permute_view.__code__
    strides_module.permute_view.__code__ = (lambda shape, strides, axes: None).__code__
    try:
        assert any(label.endswith("permute_view.__code__") for label, *_ in snapshot.changes())
    finally:
        snapshot.restore()
    assert strides_module.permute_view.__code__ is original
