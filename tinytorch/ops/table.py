"""The op table: one entry per public op, from which its ``tt.`` function, its ``Tensor``
methods and the public name lists all come.

An op module defines the op once -- a :class:`~tinytorch.tensor.Function` with ``forward`` and
``backward`` side by side, and its functional form -- and marks the functional form with
:func:`op`::

    class Exp(Function):
        def forward(self, a): ...
        def backward(self, g): ...

    @op
    def exp(x: Tensor) -> Tensor: return Exp.apply(x)

The decorator records the entry in :data:`TABLE` and binds the function as the ``Tensor``
method(s) the entry names (a Tensor method is the function with ``self`` as its first
argument). ``tinytorch.ops`` and the package front door export exactly the table's
function names (each op module's ``__all__`` is :func:`exports` of that module), so adding an
op is one class and one decorated function. ``tests/test_op_table.py`` checks every entry
has its ``tt.`` function, its method where PyTorch's Tensor has one, and a gradient test.

Why methods are bound here and not written in ``Tensor``'s class body: ``Tensor`` lives in
the layer *below* the ops (:mod:`tinytorch.tensor`) so that the ops can build on it; a method
that called an op from there would be an import pointing up. The ops layer owns the ops, so
it gives ``Tensor`` the methods that run them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, TypeVar

from ..tensor import Tensor

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class Entry:
    """One op. ``fn`` is the functional form; ``functions`` are its ``tt.`` names (empty for a
    method-only entry), ``methods`` the ``Tensor`` attributes bound to it (operators included),
    ``reflected`` the operators bound with the operands swapped (``2 - x`` is ``sub(2, x)``).
    ``grad`` says whether the op is differentiable (the op-table test then requires a
    gradient test for it)."""

    fn: Callable[..., Any]
    module: str
    functions: tuple[str, ...]
    methods: tuple[str, ...]
    reflected: tuple[str, ...]
    grad: bool


#: every entry, in the order the op modules define them
TABLE: list[Entry] = []


def op(fn: F | None = None, *, name: str | None = None, function: bool = True, method: bool = True,
       operators: tuple[str, ...] = (), reflected: tuple[str, ...] = (), prop: bool = False, grad: bool = True) -> Any:
    """Record ``fn`` in the op table and bind its ``Tensor`` methods; returns ``fn`` unchanged.

    ``name`` (default ``fn.__name__``) becomes a ``tt.`` function when ``function`` and a
    ``Tensor`` method when ``method``; ``operators`` are further ``Tensor``
    attributes bound to ``fn`` (``"__add__"``, ``"__iadd__"``); ``reflected`` are operators
    called with the operands swapped (``"__radd__"``). ``prop`` binds the methods as
    read-only properties (``Tensor.T``). ``grad=False`` marks an op with no gradient
    (comparisons, creation, in-place updates). An alias is an entry of its own, one line in
    the module that defines the op: ``subtract = op(sub, name="subtract")``.
    """
    def record(f: F) -> F:
        names = (name or f.__name__,)
        methods = (names if method else ()) + operators
        TABLE.append(Entry(f, f.__module__, names if function else (), methods, reflected, grad))
        for m in methods:
            setattr(Tensor, m, property(f) if prop else f)
        for m in reflected:
            setattr(Tensor, m, _swapped(f, m))
        return f

    return record if fn is None else record(fn)


def _swapped(f: Callable[..., Any], name: str) -> Callable[..., Any]:
    def method(self: Tensor, other: Any) -> Any:
        return f(other, self)

    method.__name__ = method.__qualname__ = name
    method.__doc__ = f"``other {name}`` ``self``: {f.__name__}(other, self)."
    return method


def exports(module: str | None = None) -> list[str]:
    """The ``tt.`` function names of the entries defined in ``module`` (all entries when None),
    for that module's ``__all__``."""
    return [n for e in TABLE if module is None or e.module == module for n in e.functions]
