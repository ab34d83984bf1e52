"""Is the graded code the learner's own? Checks that run inside the grading worker.

Three rules, each named in the message a learner sees:

* **defined in your notebook** — a graded function, and every method of a graded class, must
  run code compiled from one of the notebook's code cells. The worker keeps every code object
  it compiled from a cell; a function whose code is anything else (imported, built with
  ``exec(inspect.getsource(...))``, copied with ``types.FunctionType(lib.__code__, ...)``) breaks
  the rule. Decorators such as ``@tt.no_grad()`` are looked through (``__wrapped__``).
* **no inheriting from the library** — every class in a graded class's MRO is either defined in
  the notebook or one of the lab's sanctioned bases (``Function``, ``nn.Module``,
  ``optim.Optimizer``, ``object``), never the library's own version of the exercise.
* **no delegation** / **forbidden helper** — while an exercise is graded, the library's
  reference implementation of it (``REFERENCES`` in the lab's test module) and the helpers the
  exercise forbids (``FORBIDDEN``) are *guarded*: their code is swapped, in place, for code
  that raises whenever a notebook frame is on the call stack. Swapping the code object (not the
  module attribute) also catches references the notebook grabbed at load time
  (``_orig = S.permute_view``). The library and the test itself still run the real code.
"""

from __future__ import annotations

import importlib
import sys
import types
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..tensor import Function  # its location tells the library's files from the notebook's
from .failure import LabFailure

#: classes a graded class may inherit from (the bases the exercises give)
SANCTIONED_BASES = {"builtins.object", "tinytorch.tensor.Function", "tinytorch.autograd.function.Function",
                    "tinytorch.nn.module.Module",
                    "tinytorch.optim.optimizer.Optimizer",
                    "tinytorch.tensor.DispatchMode"}  # lab 16: the op recorder


@dataclass
class Violation:
    rule: str  # "no delegation" | "forbidden helper" | ...
    message: str


@dataclass
class NotebookCode:
    """Every code object compiled from the notebook's cells, and the cells' file names."""

    filenames: set[str] = field(default_factory=set)
    codes: set[int] = field(default_factory=set)  # id()s; the code objects are kept alive below
    _keep: list[types.CodeType] = field(default_factory=list)

    def add(self, filename: str, code: types.CodeType) -> None:
        self.filenames.add(filename)
        stack = [code]
        while stack:
            c = stack.pop()
            self.codes.add(id(c))
            self._keep.append(c)
            stack.extend(k for k in c.co_consts if isinstance(k, types.CodeType))

    def owns(self, code: types.CodeType) -> bool:
        return id(code) in self.codes


def _qualname(obj: Any) -> str:
    return f"{getattr(obj, '__module__', '?')}.{getattr(obj, '__qualname__', getattr(obj, '__name__', '?'))}"


def _function_problem(fn: Any, nb: NotebookCode, what: str) -> str | None:
    """Why ``fn`` does not count as notebook code (None when it does)."""
    seen = 0
    while fn is not None and seen < 20:
        seen += 1
        if isinstance(fn, (staticmethod, classmethod)):
            fn = fn.__func__
            continue
        if isinstance(fn, types.MethodType):
            fn = fn.__func__
            continue
        code = _ORIGINAL_CODE.get(id(fn), getattr(fn, "__code__", None))  # a guarded function: judge its own code
        if code is None:
            return (f"{what} is `{_qualname(fn)}`, which is not a function written in your notebook "
                    "(rule: graded code is defined in your notebook)")
        if nb.owns(code):
            return None
        wrapped = getattr(fn, "__wrapped__", None)
        if wrapped is not None and code.co_filename not in nb.filenames and _is_library_file(code.co_filename):
            fn = wrapped  # a library decorator (e.g. @tt.no_grad()): judge what it wraps
            continue
        where = code.co_filename
        if _is_library_file(where):
            return (f"{what} runs the library's code `{_qualname(fn)}` ({_short(where)}) "
                    "(rule: graded code is defined in your notebook, not taken from tinytorch)")
        return (f"{what} was not compiled from a cell of your notebook (its code comes from {where!r}, "
                "e.g. exec() of copied source) (rule: graded code is defined in your notebook)")
    return f"{what} could not be checked (rule: graded code is defined in your notebook)"


_LIBRARY_ROOTS = (str(Path(sys.modules[Function.__module__].__file__ or "").resolve().parent),
                  str(Path(np.__file__).resolve().parent))


def _is_library_file(filename: str) -> bool:
    """True for the source files of tinytorch, numpy and installed packages."""
    try:
        path = str(Path(filename).resolve())
    except (OSError, ValueError):
        return False
    return path.startswith(_LIBRARY_ROOTS) or "site-packages" in path or "dist-packages" in path


def _short(filename: str) -> str:
    parts = filename.replace("\\", "/").split("/")
    return "/".join(parts[-3:])


def _class_problem(cls: type, nb: NotebookCode, name: str, module_name: str) -> str | None:
    for base in cls.__mro__:
        key = f"{base.__module__}.{base.__qualname__}"
        if key in SANCTIONED_BASES:
            continue
        if base.__module__ != module_name:
            return (f"`{name}` inherits from `{key}`, which is not defined in your notebook "
                    f"(rule: no inheriting from the library's implementation; derive only from "
                    f"{_bases_text()})")
        for attr, value in vars(base).items():
            if attr.startswith("__") and attr.endswith("__") and not callable(value) and not isinstance(
                    value, (staticmethod, classmethod, property)):
                continue
            if isinstance(value, property):
                for part in (value.fget, value.fset):
                    if part is not None:
                        problem = _function_problem(part, nb, f"the property `{name}.{attr}`")
                        if problem:
                            return problem
                continue
            if isinstance(value, (types.FunctionType, staticmethod, classmethod, types.MethodType,
                                  types.BuiltinFunctionType)) or (callable(value) and not isinstance(value, type)):
                if attr in ("__init_subclass__", "__class_getitem__", "__subclasshook__") and not isinstance(
                        value, types.FunctionType):
                    continue
                problem = _function_problem(value, nb, f"the method `{base.__qualname__}.{attr}` of `{name}`")
                if problem:
                    return problem
    return None


def _bases_text() -> str:
    return ", ".join(k.rsplit(".", 1)[1] for k in sorted(SANCTIONED_BASES) if not k.startswith("builtins"))


def provenance_problem(obj: Any, name: str, nb: NotebookCode, module_name: str) -> str | None:
    """Why the notebook's ``obj`` (bound to ``name``) is not the learner's own code, or None."""
    if isinstance(obj, type):
        return _class_problem(obj, nb, name, module_name)
    if isinstance(obj, (types.FunctionType, types.MethodType, staticmethod, classmethod)):
        return _function_problem(obj, nb, f"`{name}`")
    if callable(obj):
        return (f"`{name}` is a `{type(obj).__name__}` object ({_qualname(obj)}), not a function or class "
                "written in your notebook (rule: graded code is defined in your notebook)")
    return None


# --- guards: the library's reference implementation raises when the notebook calls it ----------------
def resolve(spec: str) -> tuple[Any, str, Any]:
    """``"pkg.module:Class.attr"`` -> (owner, attribute name, function)."""
    module_name, _, path = spec.partition(":")
    owner: Any = importlib.import_module(module_name)
    parts = path.split(".")
    for p in parts[:-1]:
        owner = getattr(owner, p)
    return owner, parts[-1], inspect_attr(owner, parts[-1])


def inspect_attr(owner: Any, attr: str) -> Any:
    value = owner.__dict__[attr] if isinstance(owner, type) and attr in owner.__dict__ else getattr(owner, attr)
    if isinstance(value, (staticmethod, classmethod)):
        value = value.__func__
    return value


def _functions_of(spec: str) -> list[tuple[str, types.FunctionType]]:
    """The plain Python functions behind ``spec``: a function, or every method a class defines."""
    _, attr, value = resolve(spec)
    out = []
    if isinstance(value, type):
        for k, v in vars(value).items():
            if isinstance(v, (staticmethod, classmethod)):
                v = v.__func__
            if isinstance(v, property):
                v = v.fget
            if isinstance(v, types.FunctionType):
                out.append((f"{spec}.{k}", _innermost(v)))
    elif isinstance(value, types.FunctionType):
        out.append((spec, _innermost(value)))
    return out


def _innermost(fn: types.FunctionType) -> types.FunctionType:
    """The function a decorator (``@no_grad()``, ``functools.wraps``) wraps: its code is the
    implementation; the wrapper's code is shared by every function the decorator wraps."""
    for _ in range(10):
        inner = getattr(fn, "__wrapped__", None)
        if not isinstance(inner, types.FunctionType):
            break
        fn = inner
    return fn


_getframe = sys._getframe  # the real one: the worker later hides it from the notebook's code
_ORIGINAL_CODE: dict[int, types.CodeType] = {}  # id(guarded function) -> its own code, while guarded


class Guards:
    """Swap the code of reference functions for a guard while one exercise is graded."""

    def __init__(self, nb: NotebookCode, violations: list[Violation], baseline: set[int] | None = None):
        self.nb = nb
        self.violations = violations
        self.baseline = baseline or set()  # ids of the functions that existed before the notebook ran
        self._installed: list[tuple[types.FunctionType, types.CodeType]] = []
        self._handlers: dict[str, tuple[types.FunctionType, str, str]] = {}

    def _from_notebook(self) -> bool:
        f = _getframe(2)
        files = self.nb.filenames
        while f is not None:
            if f.f_code.co_filename in files:
                return True
            f = f.f_back
        return False

    def _handle(self, key: str, args: tuple, kwargs: dict) -> Any:
        original, rule, label = self._handlers[key]
        if self._from_notebook():
            v = Violation(rule, label)
            self.violations.append(v)
            raise LabFailure(v.message, kind=rule.replace(" ", "_"))
        return original(*args, **kwargs)

    def install(self, specs: list[str], rule: str, exercise: str, namespace: dict[str, Any] | None = None) -> None:
        for spec in specs:
            for label, fn in _functions_of(spec):
                self._guard(fn, label, rule, exercise)
        if namespace is not None:
            self._find_copies(namespace, exercise)

    def _find_copies(self, namespace: dict[str, Any], exercise: str) -> None:
        """Copies of a guarded function's code (``types.FunctionType(ref.__code__, ...)``, or the code
        object itself kept by the notebook) would run without the guard: their existence is a violation."""
        import gc

        # garbage first: a stale copy kept only by an unreachable cycle (the traceback of an earlier
        # test's failure holds the guard frame whose local is the reference's original) is not the
        # notebook's; whether it was still around depended on when the collector last ran
        gc.collect()
        ours = {id(h[0]) for h in self._handlers.values()}
        for fn, code in self._installed:
            for holder in gc.get_referrers(code):
                copy = (type(holder) is types.FunctionType and id(holder) not in ours and holder is not fn
                        and id(holder) not in self.baseline)
                kept = holder is namespace or (isinstance(holder, types.CellType) and any(
                    isinstance(v, types.FunctionType) and v.__closure__ and holder in v.__closure__
                    for v in namespace.values()))
                if copy or kept:
                    text = (f"your notebook holds a copy of the code of `{_qualname(fn)}`, the library's own "
                            f"implementation of exercise {exercise} (rule: no delegation)")
                    self.violations.append(Violation("no delegation", text))
                    return

    def _guard(self, fn: types.FunctionType, label: str, rule: str, exercise: str) -> None:
        original = types.FunctionType(fn.__code__, fn.__globals__, fn.__name__, fn.__defaults__, fn.__closure__)
        original.__kwdefaults__ = fn.__kwdefaults__
        key = f"__tinytorch_lab_guard_{id(fn)}"
        name = label.replace(":", ".")
        if rule == "no delegation":
            text = (f"your code called `{name}`, the library's own implementation of exercise {exercise} "
                    "(rule: no delegation — write it yourself; the reference is switched off while it is graded)")
        else:
            text = f"your code called `{name}`, which exercise {exercise} forbids (rule: forbidden helper)"
        self._handlers[key] = (original, rule, text)
        fn.__globals__[key] = lambda args, kwargs, _k=key: self._handle(_k, args, kwargs)
        self._installed.append((fn, fn.__code__))
        _ORIGINAL_CODE[id(fn)] = fn.__code__
        fn.__code__ = _guard_code(key, fn.__code__.co_freevars)

    def remove(self) -> None:
        while self._installed:
            fn, code = self._installed.pop()
            fn.__code__ = code
            _ORIGINAL_CODE.pop(id(fn), None)
            fn.__globals__.pop(f"__tinytorch_lab_guard_{id(fn)}", None)
        self._handlers.clear()


def function_ids() -> set[int]:
    """The ids of every function alive now (taken before the notebook runs: later ones are its own)."""
    import gc

    return {id(o) for o in gc.get_objects() if type(o) is types.FunctionType}


def _guard_code(key: str, freevars: tuple[str, ...]) -> types.CodeType:
    """A code object ``(*args, **kwargs) -> key(args, kwargs)`` with the given free variables."""
    names = [f"_fv{i}" for i in range(len(freevars))]
    lines = ["def _outer():"]
    if names:
        lines.append(f"    {' = '.join(names)} = None")
    lines.append("    def _guarded(*args, **kwargs):")
    if names:
        lines.append(f"        ({', '.join(names)},)")
    lines.append(f"        return {key}(args, kwargs)")
    lines.append("    return _guarded")
    ns: dict[str, Any] = {}
    exec(compile("\n".join(lines), "<tinytorch lab guard>", "exec"), ns)
    return ns["_outer"]().__code__


def guard_specs(test_module: Any, exercise: str) -> tuple[list[str], list[str]]:
    """``(references, forbidden)`` named by the test module for ``exercise``."""
    refs = list(getattr(test_module, "REFERENCES", {}).get(exercise, ()))
    forbidden = list(getattr(test_module, "FORBIDDEN", {}).get(exercise, ()))
    return refs, forbidden


Check = Callable[[], None]
