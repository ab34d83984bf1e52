"""What a lab test uses: the learner's names, plugging them into the library, and checks
that fail with a message a learner can act on.

A test receives the ``lab`` fixture (a :class:`Lab`) and asks it for graded names::

    @pytest.mark.points(2, exercise="1.1")
    def test_row_major_strides(lab):
        row_major_strides = lab.defined("row_major_strides")
        check_equal(row_major_strides((2, 3, 4)), (12, 4, 1), "row_major_strides((2, 3, 4))",
                    hint="the last axis moves by one element")

:meth:`Lab.defined` fails the test unless the name was defined *by the notebook itself*:
the object, and every method of a class, must run code compiled from the notebook's cells, and
a class may inherit only from the lab's sanctioned bases (see :mod:`.provenance`).
:meth:`Lab.plug` also puts the learner's object in place of the library's for the duration of
the test, so the real library runs on the learner's code.

Tests run inside the grading worker, in the same process as the learner's code; the numpy
functions the checks compare with are bound here, when the grader imports this module,
before any notebook runs, so a notebook that rebinds ``np.allclose`` changes nothing here
(and the worker restores and reports such changes anyway).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from .failure import LabFailure
from .provenance import provenance_problem

if TYPE_CHECKING:
    from .notebook import LoadedNotebook

__all__ = ["Lab", "LabFailure", "check", "check_close", "check_equal", "check_exact", "check_raises"]

# bound once, before any notebook runs (see the module docstring)
_allclose, _isclose, _argwhere, _asarray = np.allclose, np.isclose, np.argwhere, np.asarray
_array2string = np.array2string
_array_equal, _ndarray, _integer = np.array_equal, np.ndarray, np.integer


class Lab:
    """The learner's notebook, as a graded test sees it."""

    def __init__(self, name: str, notebook: "LoadedNotebook", edition: str):
        self.name = name
        self.notebook = notebook
        self.edition = edition  # "student" or "solutions"

    @property
    def module_name(self) -> str:
        return self.notebook.module.__name__

    def defined(self, name: str) -> Any:
        """The object the notebook bound to ``name``; it must be the notebook's own.

        Raises :class:`LabFailure` if the name is missing or if it is a function/class (or a
        class with a method) that was not written in the notebook's cells — imported from
        tinytorch, inherited from the library's version, built with ``exec`` of copied source.
        """

        ns = self.notebook.namespace
        if name not in ns:
            raise LabFailure(
                f"`{name}` is not defined in your notebook ({self.notebook.path.name})",
                hint=f"run the cell that defines `{name}` and keep its name as given; "
                     "a cell that fails to run defines nothing",
                kind="undefined")
        obj = ns[name]
        problem = provenance_problem(obj, name, self.notebook.code, self.module_name)
        if problem:
            raise LabFailure(problem, hint="the lab grades your own code: write it in the exercise cell",
                             kind="provenance")
        return obj

    def plug(self, monkeypatch: Any, target: Any, attr: str, name: str | None = None) -> Any:
        """Replace ``target.attr`` (a library module or class) by the learner's ``name``
        (default: ``attr``) for this test, and return the learner's object.

        Because the library's own version is gone while the test runs, a learner function
        that merely calls the library's version calls itself and fails.
        """
        obj = self.defined(name or attr)
        monkeypatch.setattr(target, attr, obj)
        return obj


def _fmt(x: Any) -> str:
    if isinstance(x, _ndarray):
        return _array2string(x, separator=", ", threshold=20, precision=4)
    text = repr(x)
    return text if len(text) < 200 else text[:197] + "..."


def _as_numpy(x: Any) -> np.ndarray:
    """A numpy copy of an array, a Tensor (detached: comparing values needs no graph) or a scalar."""
    if hasattr(x, "detach") and hasattr(x, "numpy"):
        x = x.detach().numpy()
    elif hasattr(x, "numpy") and not isinstance(x, _ndarray):
        x = x.numpy()
    return _asarray(x)


def check(condition: Any, message: str, hint: str | None = None) -> None:
    """Fail with ``message`` (and ``hint``) unless ``condition`` holds."""
    if not condition:
        raise LabFailure(message, hint)


def check_equal(got: Any, expected: Any, what: str, hint: str | None = None) -> None:
    """Fail unless ``got == expected`` (compared as tuples when both are sequences)."""
    g, e = got, expected
    if isinstance(g, list):
        g = tuple(g)
    if isinstance(e, list):
        e = tuple(e)
    if type(g) is not type(e) and not (isinstance(g, (int, _integer)) and isinstance(e, (int, _integer))):
        raise LabFailure(f"{what} returned {_fmt(got)} (a {type(got).__name__}), "
                         f"expected {_fmt(expected)} (a {type(expected).__name__})", hint)
    if g != e:
        raise LabFailure(f"{what} returned {_fmt(got)}, expected {_fmt(expected)}", hint)


def check_raises(exception: type[BaseException], fn: Any, *args: Any, hint: str | None = None) -> None:
    """Fail unless ``fn(*args)`` raises ``exception``.

    ``NotImplementedError`` always propagates — even where ``exception`` is ``RuntimeError``, its
    base class — so an unfinished exercise is reported as such and never passes this check.
    """
    what = f"{getattr(fn, '__name__', 'the function')}({', '.join(_fmt(a) for a in args)})"
    try:
        fn(*args)
    except NotImplementedError:
        raise
    except exception:
        return
    except Exception as e:  # noqa: BLE001 — report the wrong exception by name
        raise LabFailure(f"{what} raised {type(e).__name__}: {e}, expected {exception.__name__}", hint) from e
    raise LabFailure(f"{what} did not raise {exception.__name__}", hint)


def check_close(got: Any, expected: Any, what: str, hint: str | None = None,
                rtol: float = 1e-5, atol: float = 1e-6) -> None:
    """Fail unless the arrays have the same shape and values within the tolerances."""
    g, e = _as_numpy(got), _as_numpy(expected)
    if g.shape != e.shape:
        raise LabFailure(f"{what} has shape {g.shape}, expected {e.shape}", hint)
    if not _allclose(g, e, rtol=rtol, atol=atol, equal_nan=True):
        bad = _argwhere(~_isclose(g, e, rtol=rtol, atol=atol, equal_nan=True))
        where = tuple(int(i) for i in bad[0]) if bad.size else ()
        raise LabFailure(f"{what} differs from the expected values at {len(bad)} position(s); "
                         f"first at index {where}: got {g[where]!r}, expected {e[where]!r}\n"
                         f"    got      {_fmt(g)}\n    expected {_fmt(e)}", hint)


def check_exact(got: Any, expected: Any, what: str, hint: str | None = None) -> None:
    """Fail unless the arrays have the same shape, dtype and bit-for-bit equal values (a copy is exact)."""
    g, e = _as_numpy(got), _as_numpy(expected)
    if g.shape != e.shape:
        raise LabFailure(f"{what} has shape {g.shape}, expected {e.shape}", hint)
    if g.dtype != e.dtype:
        raise LabFailure(f"{what} has dtype {g.dtype}, expected {e.dtype}", hint)
    if not _array_equal(g, e):
        bad = _argwhere(g != e)
        where = tuple(int(i) for i in bad[0]) if bad.size else ()
        raise LabFailure(f"{what} is not an exact copy: {len(bad)} element(s) differ; first at index {where}: "
                         f"got {g[where]!r}, expected {e[where]!r} (copying must not change any bit)", hint)
