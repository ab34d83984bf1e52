"""The architecture of DESIGN.md, checked from source: imports point down only.

The import graph is computed with :mod:`ast` from every ``.py`` file under ``tinytorch/``; nothing
is imported. An edge ``a -> b`` means module ``a`` has an import statement naming module ``b``
anywhere in its code -- at the top, inside a function, under ``if TYPE_CHECKING:`` or in a
``try``. Only what is not code is left out: string annotations and docstrings (doctests are the
user's code), and imports by name at run time (``importlib.import_module``, e.g. the device
registry's lazy backend imports).

How a statement becomes edges:

* ``import a.b.c`` -> ``a.b.c``.
* ``from a.b import n`` -> ``a.b.n`` when that is a submodule (a file or a package exists), else
  ``a.b`` itself; relative imports are resolved first, exactly as Python does.
* No implicit edges to the parent packages' ``__init__``: Python runs them, but they are not a
  dependency the code chose (``from ..ops import cat`` depends on ``tinytorch.ops``, not on
  ``tinytorch``).

The checks: (a) no import cycles; (b) no library module imports the front door
``tinytorch/__init__.py``; (c) only the NDArray layer and the backends touch ``._buf``,
``._backend`` or ``.backend``; (d) no ``globals()`` calls. Each lists every offender with
``file:line``. The tests at the bottom run the graph builder on small fake packages, so the
checks cannot pass because the builder sees nothing.
"""

from __future__ import annotations

import ast
from collections import deque
from dataclasses import dataclass
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "tinytorch"
#: The layers that own buffers: the NDArray and the backends (paths relative to the package).
BUFFER_LAYERS = ("ndarray", "backend_cpu", "backend_cuda")
BUFFER_ATTRS = frozenset({"_buf", "_backend", "backend"})


@dataclass(frozen=True)
class Edge:
    """One import: ``source`` imports ``target`` at ``where`` (``path:line``) by ``statement``."""

    source: str
    target: str
    where: str
    statement: str


@dataclass(frozen=True)
class SourceModule:
    """One parsed ``.py`` file of the package."""

    name: str  # dotted: "tinytorch.nn.functional"
    path: Path
    is_package: bool  # an __init__.py
    tree: ast.Module

    def where(self, node: ast.stmt | ast.expr, column: bool = False) -> str:
        """``path:line`` (``path:line:column`` with ``column``) of ``node``, the path relative
        to the directory that holds the package."""
        place = f"{self.path.relative_to(self.path_root)}:{node.lineno}"
        return f"{place}:{node.col_offset + 1}" if column else place

    @property
    def path_root(self) -> Path:
        """The directory that holds the top-level package (paths are printed relative to it)."""
        return self.path.parents[len(self.name.split(".")) - (0 if self.is_package else 1)]


def load_package(root: Path) -> dict[str, SourceModule]:
    """Parse every ``.py`` file under the package directory ``root``, by dotted module name."""
    modules = {}
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root.parent).with_suffix("").parts
        is_package = parts[-1] == "__init__"
        name = ".".join(parts[:-1] if is_package else parts)
        modules[name] = SourceModule(name, path, is_package, ast.parse(path.read_text(), filename=str(path)))
    return modules


def _resolve(module: SourceModule, node: ast.ImportFrom) -> str:
    """The absolute name of the module that ``from <node.module> import ...`` imports from."""
    if node.level == 0:
        return node.module or ""
    package = module.name.split(".") if module.is_package else module.name.split(".")[:-1]
    if node.level - 1 >= len(package):
        raise ValueError(f"{module.where(node)}: relative import beyond the top-level package")
    base = ".".join(package[:len(package) - (node.level - 1)])
    return f"{base}.{node.module}" if node.module else base


def import_edges(modules: dict[str, SourceModule]) -> list[Edge]:
    """Every import of a module of the package by a module of the package, in file order."""
    top = next(iter(modules)).split(".")[0]
    edges = []
    for module in modules.values():
        for node in ast.walk(module.tree):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = _resolve(module, node)
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
            else:
                continue
            statement = ast.unparse(node)
            statement = statement if len(statement) <= 100 else statement[:97] + "..."
            for target in dict.fromkeys(targets):
                if (target == top or target.startswith(top + ".")) and target != module.name:
                    edges.append(Edge(module.name, target, module.where(node), statement))
    return sorted(edges, key=lambda e: (e.source, int(e.where.rsplit(":", 1)[1])))


def _graph(edges: list[Edge]) -> dict[str, dict[str, Edge]]:
    """``source -> target -> the first edge between them``."""
    graph: dict[str, dict[str, Edge]] = {}
    for e in edges:
        graph.setdefault(e.source, {}).setdefault(e.target, e)
    return graph


def _strongly_connected(graph: dict[str, dict[str, Edge]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative: the groups of modules that all reach one another."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph.get(start, {}))))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    group = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        group.append(member)
                        if member == node:
                            break
                    groups.append(sorted(group))
            elif child not in index:
                index[child] = low[child] = len(index)
                stack.append(child)
                on_stack.add(child)
                work.append((child, iter(sorted(graph.get(child, {})))))
            elif child in on_stack:
                low[node] = min(low[node], index[child])
    return groups


def _shortest_cycle(graph: dict[str, dict[str, Edge]], members: set[str], start: str) -> list[str]:
    """A shortest path ``start -> ... -> start`` inside ``members`` (breadth first)."""
    parent: dict[str, str] = {}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        if start in graph[node]:
            path = [start]
            while node != start:
                path.append(node)
                node = parent[node]
            return [start] + path[:0:-1] + [start]
        for child in sorted(graph[node]):
            if child in members and child not in parent and child != start:
                parent[child] = node
                queue.append(child)
    raise AssertionError(f"{start} is on no cycle inside {sorted(members)}")


def find_cycles(edges: list[Edge]) -> list[list[Edge]]:
    """Import cycles, each as its list of edges: for every module that lies on a cycle, one
    shortest cycle through it (rotated to start at its smallest name; duplicates dropped). So
    every module on a cycle shows up, without listing the exponentially many longer ones."""
    graph = _graph(edges)
    cycles: dict[tuple[str, ...], list[Edge]] = {}
    for group in _strongly_connected(graph):
        if len(group) < 2:
            continue
        for start in group:
            nodes = _shortest_cycle(graph, set(group), start)[:-1]
            i = nodes.index(min(nodes))
            path = nodes[i:] + nodes[:i] + [nodes[i]]
            cycles.setdefault(tuple(path), [graph[a][b] for a, b in zip(path, path[1:])])
    return [cycles[k] for k in sorted(cycles)]


def format_cycle(cycle: list[Edge]) -> str:
    names = " -> ".join([cycle[0].source] + [e.target for e in cycle])
    return names + "".join(f"\n      {e.where}: {e.statement}" for e in cycle)


def front_door_imports(modules: dict[str, SourceModule]) -> list[str]:
    """Modules other than the package's ``__init__`` that import the package itself."""
    top = next(iter(modules)).split(".")[0]
    return [f"{e.where}: {e.statement}" for e in import_edges(modules) if e.target == top]


def _in_layers(module: SourceModule, layers: tuple[str, ...]) -> bool:
    """Whether ``module`` lies in one of the top-level subpackages ``layers``."""
    parts = module.name.split(".")
    return len(parts) > 1 and parts[1] in layers


def buffer_reaches(modules: dict[str, SourceModule], allowed: tuple[str, ...] = BUFFER_LAYERS) -> list[str]:
    """``x._buf`` / ``x._backend`` / ``x.backend`` outside the layers that own buffers."""
    found = []
    for module in modules.values():
        if _in_layers(module, allowed):
            continue
        for node in ast.walk(module.tree):
            if isinstance(node, ast.Attribute) and node.attr in BUFFER_ATTRS:
                found.append((module.where(node, column=True), ast.unparse(node)))
    return [f"{where}: {text}" for where, text in sorted(found, key=_by_place)]


def globals_calls(modules: dict[str, SourceModule]) -> list[str]:
    """Every call of ``globals()``."""
    found = []
    for module in modules.values():
        for node in ast.walk(module.tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "globals":
                found.append((module.where(node, column=True), ast.unparse(node)))
    return [f"{where}: {text}" for where, text in sorted(found, key=_by_place)]


def _by_place(item: tuple[str, str]) -> tuple[str, int, int]:
    path, line, column = item[0].rsplit(":", 2)
    return path, int(line), int(column)


def _fail_on(offenders: list[str], title: str) -> None:
    """Fail with every offender on its own line (and no traceback that repeats them)."""
    if offenders:
        pytest.fail(f"{len(offenders)} {title}:\n  " + "\n  ".join(offenders), pytrace=False)


# ---------------------------------------------------------------------- the checks on tinytorch
@pytest.fixture(scope="module")
def tinytorch_modules() -> dict[str, SourceModule]:
    return load_package(PACKAGE)


def test_no_import_cycles(tinytorch_modules):
    cycles = find_cycles(import_edges(tinytorch_modules))
    _fail_on([format_cycle(c) for c in cycles], "import cycle(s); imports must point down the layers")


def test_no_module_imports_the_front_door(tinytorch_modules):
    _fail_on(front_door_imports(tinytorch_modules), "import(s) of the package front door tinytorch/__init__.py "
             "from inside the library; import each name from the module that defines it")


def test_only_ndarray_and_backends_touch_buffers(tinytorch_modules):
    _fail_on(buffer_reaches(tinytorch_modules), f"reach(es) into buffers outside {', '.join(BUFFER_LAYERS)}; "
             "go through an NDArray method")


def test_no_globals_calls(tinytorch_modules):
    _fail_on(globals_calls(tinytorch_modules), "globals() call(s); define or assign each name on its own line")


def test_graph_of_tinytorch_is_not_empty(tinytorch_modules):
    edges = {(e.source, e.target) for e in import_edges(tinytorch_modules)}
    modules = {"tinytorch.nn", "tinytorch.autograd", "tinytorch.tensor", "tinytorch.ops.elementwise"}
    assert modules <= set(tinytorch_modules)
    assert ("tinytorch.ops.elementwise", "tinytorch.tensor") in edges
    assert ("tinytorch.autograd.engine", "tinytorch.ops.reduce") in edges
    assert ("tinytorch", "tinytorch.nn") in edges


# ---------------------------------------------------------------------- the graph builder itself
def _write(root: Path, files: dict[str, str]) -> dict[str, SourceModule]:
    for name, text in files.items():
        path = root / "pkg" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return load_package(root / "pkg")


def _pairs(modules: dict[str, SourceModule]) -> set[tuple[str, str]]:
    return {(e.source, e.target) for e in import_edges(modules)}


def test_builder_finds_a_two_module_cycle(tmp_path):
    modules = _write(tmp_path, {"__init__.py": "", "a.py": "from . import b\n", "b.py": "from .a import f\n"})
    cycles = find_cycles(import_edges(modules))
    assert [format_cycle(c).splitlines()[0] for c in cycles] == ["pkg.a -> pkg.b -> pkg.a"]
    assert "pkg/b.py:1: from .a import f" in format_cycle(cycles[0])


def test_builder_counts_imports_in_functions_and_type_checking(tmp_path):
    modules = _write(tmp_path, {
        "__init__.py": "",
        "a.py": "def f():\n    from .b import g\n    return g\n",
        "b.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .c import C\n",
        "c.py": "import pkg.a\n",
    })
    assert _pairs(modules) == {("pkg.a", "pkg.b"), ("pkg.b", "pkg.c"), ("pkg.c", "pkg.a")}
    assert [format_cycle(c).splitlines()[0] for c in find_cycles(import_edges(modules))] == [
        "pkg.a -> pkg.b -> pkg.c -> pkg.a"]


def test_builder_resolves_submodules_and_relative_imports(tmp_path):
    modules = _write(tmp_path, {
        "__init__.py": "from . import sub\nfrom .a import f\n",
        "a.py": "def f(): pass\n",
        "sub/__init__.py": "from . import mod\nfrom .mod import g\n",
        "sub/mod.py": "import os\nfrom .. import a\nfrom ..a import f\ndef g(): pass\n",
    })
    assert _pairs(modules) == {("pkg", "pkg.sub"), ("pkg", "pkg.a"), ("pkg.sub", "pkg.sub.mod"),
                               ("pkg.sub.mod", "pkg.a")}  # no implicit edges to parent packages
    assert find_cycles(import_edges(modules)) == []
    assert front_door_imports(modules) == []


def test_builder_finds_front_door_imports(tmp_path):
    modules = _write(tmp_path, {
        "__init__.py": "from .a import f\n",
        "a.py": "def f(): pass\n",
        "b.py": "import pkg\n",
        "c.py": "from pkg import f\n",
        "sub/__init__.py": "",
        "sub/d.py": "from .. import f\nfrom .. import a\n",
    })
    assert front_door_imports(modules) == [
        "pkg/b.py:1: import pkg", "pkg/c.py:1: from pkg import f", "pkg/sub/d.py:1: from .. import f"]


def test_builder_ignores_docstrings_and_string_annotations(tmp_path):
    modules = _write(tmp_path, {
        "__init__.py": '"""\n>>> import pkg\n>>> from pkg import a\n"""\n',
        "a.py": '"""Doctest.\n\n>>> from pkg.b import g\n"""\n\ndef f(x: "pkg.b.B") -> "pkg.b.B":\n'
                '    """>>> import pkg.b"""\n    return x\n',
        "b.py": "class B: pass\n",
    })
    assert _pairs(modules) == set()


def test_buffer_and_globals_checks_see_their_offenders(tmp_path):
    modules = _write(tmp_path, {
        "__init__.py": "",
        "ndarray/__init__.py": "def f(a): return a._buf\n",
        "optim.py": "def step(p):\n    k = p._data.device.backend\n    return k(p._data._buf, p._backend)\n",
        "ops.py": "for n in 'ab':\n    globals()[n] = n\nbackend_name = 'cpu'\n",
    })
    assert buffer_reaches(modules) == [
        "pkg/optim.py:2:9: p._data.device.backend", "pkg/optim.py:3:14: p._data._buf", "pkg/optim.py:3:28: p._backend"]
    assert globals_calls(modules) == ["pkg/ops.py:2:5: globals()"]
