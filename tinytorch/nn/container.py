"""Containers: ``Sequential`` (a pipeline of modules), and registered lists and dicts of modules
and parameters (``ModuleList``, ``ModuleDict``, ``ParameterList``, ``ParameterDict``)."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from .module import Module
from .parameter import Parameter


class Sequential(Module):
    """Modules applied one after the other; ``Sequential(a, b)(x) == b(a(x))``.

    Submodules are named ``"0"``, ``"1"``, ... (or by the keys of an ``OrderedDict``), so a
    state dict has keys like ``"0.weight"``, as in PyTorch.

    Examples::

        >>> from tinytorch import nn
        >>> model = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10))
        >>> [name for name, _ in model.named_parameters()]
        ['0.weight', '0.bias', '2.weight', '2.bias']
    """

    def __init__(self, *args: Any):
        super().__init__()
        if len(args) == 1 and isinstance(args[0], OrderedDict):
            for name, module in args[0].items():
                self.add_module(name, module)
        else:
            for i, module in enumerate(args):
                self.add_module(str(i), module)

    def __getitem__(self, idx: int | slice) -> Any:
        if isinstance(idx, slice):
            return Sequential(OrderedDict(list(self._modules.items())[idx]))
        return list(self._modules.values())[self._index(idx)]

    def _index(self, idx: int) -> int:
        n = len(self)
        if not -n <= idx < n:
            raise IndexError(f"index {idx} is out of range")
        return idx % n

    def __setitem__(self, idx: int, module: Module) -> None:
        self.add_module(list(self._modules)[self._index(idx)], module)

    def __delitem__(self, idx: int) -> None:
        del self._modules[list(self._modules)[self._index(idx)]]

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def append(self, module: Module) -> "Sequential":
        self.add_module(str(len(self)), module)
        return self

    def forward(self, input: Any) -> Any:
        for module in self:
            input = module(input)
        return input


class ModuleList(Module):
    """A list of modules whose parameters are registered (a plain Python list would hide them).

    Examples::

        >>> from tinytorch import nn
        >>> layers = nn.ModuleList([nn.Linear(4, 4) for _ in range(3)])
        >>> len(list(layers.parameters()))
        6
    """

    def __init__(self, modules: Iterable[Module] | None = None):
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def _index(self, idx: int) -> int:
        n = len(self)
        if not -n <= idx < n:
            raise IndexError(f"index {idx} is out of range")
        return idx % n

    def __getitem__(self, idx: int | slice) -> Any:
        if isinstance(idx, slice):
            return ModuleList(list(self._modules.values())[idx])
        return self._modules[str(self._index(idx))]

    def __setitem__(self, idx: int, module: Module) -> None:
        self.add_module(str(self._index(idx)), module)

    def __delitem__(self, idx: int) -> None:
        modules = list(self._modules.values())
        del modules[self._index(idx)]
        self._modules.clear()
        self.extend(modules)

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def __iadd__(self, modules: Iterable[Module]) -> "ModuleList":
        return self.extend(modules)

    def append(self, module: Module) -> "ModuleList":
        self.add_module(str(len(self)), module)
        return self

    def extend(self, modules: Iterable[Module]) -> "ModuleList":
        for module in modules:
            self.append(module)
        return self

    def insert(self, index: int, module: Module) -> None:
        modules = list(self._modules.values())
        modules.insert(index, module)
        self._modules.clear()
        self.extend(modules)

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("ModuleList has no forward; iterate over it in your own module's forward")


class _RegistryDict:
    """The dict interface of ``ModuleDict`` and ``ParameterDict``: a view of one of the module's
    own registries (``_modules`` or ``_parameters``, named by ``_registry``), so what they hold
    is registered as their attributes would be. ``__setitem__`` is each container's own."""

    _registry: str

    def _items(self) -> dict[str, Any]:
        return self.__dict__[self._registry]

    def __getitem__(self, key: str) -> Any:
        return self._items()[key]

    def __delitem__(self, key: str) -> None:
        del self._items()[key]

    def __len__(self) -> int:
        return len(self._items())

    def __iter__(self) -> Iterator[str]:
        return iter(self._items())

    def __contains__(self, key: object) -> bool:
        return key in self._items()

    def keys(self) -> Iterable[str]:
        return self._items().keys()

    def values(self) -> Iterable[Any]:
        return self._items().values()

    def items(self) -> Iterable[tuple[str, Any]]:
        return self._items().items()

    def update(self, entries: Any) -> None:
        """Add ``entries``: a mapping or an iterable of ``(key, value)`` pairs, in order."""
        for key, value in (entries.items() if isinstance(entries, Mapping) else entries):
            self[key] = value  # type: ignore[index]


class ModuleDict(_RegistryDict, Module):
    """A dict of modules whose parameters are registered; keys are strings, order is insertion order.

    Examples::

        >>> from tinytorch import nn
        >>> heads = nn.ModuleDict({"cls": nn.Linear(4, 3), "box": nn.Linear(4, 4)})
        >>> list(heads.keys()), len(list(heads.parameters()))
        (['cls', 'box'], 4)
    """

    _registry = "_modules"

    def __init__(self, modules: Any = None):
        super().__init__()
        if modules is not None:
            self.update(modules)

    def __setitem__(self, key: str, module: Module) -> None:
        self.add_module(key, module)

    def pop(self, key: str) -> Module:
        return self._modules.pop(key)

    def clear(self) -> None:
        self._modules.clear()

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("ModuleDict has no forward; index it in your own module's forward")


class ParameterList(Module):
    """A list of parameters, registered as ``"0"``, ``"1"``, ... (tensors are wrapped as Parameters)."""

    def __init__(self, values: Iterable[Any] | None = None):
        super().__init__()
        for value in values or ():
            self.append(value)

    def __getitem__(self, idx: int) -> Parameter:
        n = len(self)
        if not -n <= idx < n:
            raise IndexError(f"index {idx} is out of range")
        return self._parameters[str(idx % n)]

    def __setitem__(self, idx: int, value: Any) -> None:
        self.register_parameter(str(idx % len(self)), _as_parameter(value))

    def __len__(self) -> int:
        return len(self._parameters)

    def __iter__(self) -> Iterator[Parameter]:
        return iter(self._parameters.values())

    def append(self, value: Any) -> "ParameterList":
        self.register_parameter(str(len(self)), _as_parameter(value))
        return self

    def extend(self, values: Iterable[Any]) -> "ParameterList":
        for value in values:
            self.append(value)
        return self


class ParameterDict(_RegistryDict, Module):
    """A dict of parameters with string keys (tensors are wrapped as Parameters)."""

    _registry = "_parameters"

    def __init__(self, parameters: Any = None):
        super().__init__()
        if parameters is not None:
            self.update(parameters)

    def __setitem__(self, key: str, value: Any) -> None:
        self.register_parameter(key, _as_parameter(value))


def _as_parameter(value: Any) -> Parameter:
    return value if isinstance(value, Parameter) else Parameter(value)
