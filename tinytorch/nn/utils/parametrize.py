"""``nn.utils.parametrize``: a tensor of a module computed from other tensors on every access.

``register_parametrization(module, "weight", P())`` replaces the parameter ``weight`` by a
property: reading ``module.weight`` returns ``P()(original)``, where ``original`` is the
parameter as it was (or what ``P().right_inverse`` made of it), now stored at
``module.parametrizations.weight.original`` -- the name ``state_dict`` uses, as PyTorch's. A
``right_inverse`` that returns several tensors stores ``original0``, ``original1``...; the
parametrization's ``forward`` then takes them all. Assigning ``module.weight = value`` writes
``right_inverse(value)`` into the originals.

A property is a class attribute, so the module's class is swapped for a subclass made for it
(``ParametrizedLinear``), as PyTorch does; removing the last parametrization restores it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from ...tensor import Tensor, no_grad
from ..container import ModuleDict, ModuleList
from ..module import Module
from ..parameter import Parameter


class _Cache:
    """While :func:`cached` is active, each parametrized tensor is computed once."""

    depth = 0
    values: dict[tuple[int, str], Tensor] = {}


_cache = _Cache()


@contextlib.contextmanager
def cached() -> Iterator[None]:
    """Compute each parametrized tensor once inside the block (e.g. a recurrent layer's weight
    read at every time step), instead of on every access."""
    _cache.depth += 1
    try:
        yield
    finally:
        _cache.depth -= 1
        if not _cache.depth:
            _cache.values = {}


class ParametrizationList(ModuleList):
    """The parametrizations of one tensor (applied in order) and the original tensor(s) they
    start from: ``original``, or ``original0``, ``original1``... when the first
    parametrization's ``right_inverse`` returns several."""

    def __init__(self, modules: list[Module], original: Tensor, unsafe: bool = False) -> None:
        super().__init__(modules)
        self.unsafe = unsafe
        with no_grad():
            new = self._pulled_back(original)
        self.is_tensor = isinstance(new, Tensor)
        self.ntensors = 1 if self.is_tensor else len(new)
        if self.is_tensor:
            if new.shape == original.shape and new.dtype == original.dtype:
                with no_grad():
                    original.copy_(new)  # keep the very tensor: an optimizer may hold it
                new = original
            self._store("original", new, original)
        else:
            for i, t in enumerate(new):
                self._store(f"original{i}", t, original)

    def _store(self, name: str, value: Tensor, like: Tensor) -> None:
        if isinstance(like, Parameter):
            self.register_parameter(name, value if isinstance(value, Parameter) else _kept_as(value, like))
        else:
            self.register_buffer(name, value)

    def _pulled_back(self, value: Any) -> Any:
        """``value`` run back through the parametrizations' ``right_inverse`` (last first; one
        without it passes the value on)."""
        for m in reversed(list(self)):
            if hasattr(m, "right_inverse"):
                value = m.right_inverse(value)
        return value

    def right_inverse(self, value: Tensor) -> None:
        """Store ``value`` as the parametrized tensor: pull it back through the parametrizations
        and write the result into the originals."""
        with no_grad():
            value = self._pulled_back(value)
            if self.is_tensor:
                self.original.copy_(value)
            else:
                for i, t in enumerate(value):
                    getattr(self, f"original{i}").copy_(t)

    def forward(self) -> Tensor:  # type: ignore[override]
        first, *rest = list(self)
        x = first(self.original) if self.is_tensor else first(*(getattr(self, f"original{i}")
                                                                 for i in range(self.ntensors)))
        for m in rest:
            x = m(x)
        return x


def _kept_as(value: Tensor, like: Tensor) -> Tensor:
    """``value`` detached, as a Parameter (of ``like``'s ``requires_grad``) when ``like`` is one."""
    return Parameter(value.detach(), requires_grad=like.requires_grad) if isinstance(like, Parameter) \
        else value.detach()


def is_parametrized(module: Module, tensor_name: str | None = None) -> bool:
    """Whether ``module`` has parametrized tensors (``tensor_name`` among them, when given)."""
    found = module.__dict__.get("_modules", {}).get("parametrizations")
    if not isinstance(found, ModuleDict):
        return False
    return len(found) > 0 if tensor_name is None else tensor_name in found


def _getter(name: str) -> Any:
    def get(self: Module) -> Tensor:
        if _cache.depth:
            key = (id(self), name)
            if key not in _cache.values:
                _cache.values[key] = self.parametrizations[name]()
            return _cache.values[key]
        return self.parametrizations[name]()
    return get


def _setter(name: str) -> Any:
    def set_(self: Module, value: Tensor) -> None:
        self.parametrizations[name].right_inverse(value)
    return set_


def register_parametrization(module: Module, tensor_name: str, parametrization: Module, *,
                             unsafe: bool = False) -> Module:
    """Make ``module.<tensor_name>`` be ``parametrization(original)`` from now on (see the module
    docstring); a second call for the same name appends to its list. Returns ``module``.
    Unless ``unsafe``, the parametrization must keep the tensor's shape and dtype."""
    parametrization.train(module.training)
    if is_parametrized(module, tensor_name):
        plist = module.parametrizations[tensor_name]
        if not unsafe:
            current = getattr(module, tensor_name)
            out = parametrization(current)
            if out.shape != current.shape or out.dtype != current.dtype:
                raise ValueError(f"Registering a parametrization may not change the shape or dtype of the tensor: "
                                 f"{tuple(current.shape)} {current.dtype} became {tuple(out.shape)} {out.dtype}")
        plist.append(parametrization)
        return module
    if tensor_name not in module._parameters and tensor_name not in module._buffers:
        raise ValueError(f"Module '{module}' does not have a parameter, a buffer, or a parametrized element with "
                         f"name '{tensor_name}'")
    original = getattr(module, tensor_name)
    plist = ParametrizationList([parametrization], original, unsafe=unsafe)
    if not unsafe:
        out = plist()
        if out.shape != original.shape or out.dtype != original.dtype:
            raise ValueError(f"A parametrization must return a tensor of the original's shape and dtype: "
                             f"{tuple(original.shape)} {original.dtype} became {tuple(out.shape)} {out.dtype}")
    delattr(module, tensor_name)
    if not is_parametrized(module):
        cls = type(module)
        module.__class__ = type(f"Parametrized{cls.__name__}", (cls,), {"_unparametrized_class": cls})
        module.parametrizations = ModuleDict()
    module.parametrizations[tensor_name] = plist
    setattr(type(module), tensor_name, property(_getter(tensor_name), _setter(tensor_name)))
    return module


def remove_parametrizations(module: Module, tensor_name: str, leave_parametrized: bool = True) -> Module:
    """Undo :func:`register_parametrization` for ``tensor_name``: it becomes a plain parameter
    (or buffer) again, holding the parametrized value (``leave_parametrized``) or the original."""
    if not is_parametrized(module, tensor_name):
        raise ValueError(f"Module {module} does not have a parametrization on {tensor_name}")
    plist = module.parametrizations[tensor_name]
    if plist.is_tensor:
        original = plist.original
        if leave_parametrized:
            with no_grad():
                value = getattr(module, tensor_name)
                if value.shape == original.shape and value.dtype == original.dtype:
                    original.copy_(value)
                else:
                    original = _kept_as(value, original)
    else:
        if not leave_parametrized:
            raise ValueError("Cannot leave unparametrized (`leave_parametrized=False`) a tensor that is parametrized "
                             "in terms of a sequence of tensors.")
        with no_grad():
            value = getattr(module, tensor_name)
        original = _kept_as(value, plist.original0)
    delattr(type(module), tensor_name)
    del module.parametrizations[tensor_name]
    if isinstance(original, Parameter):
        module.register_parameter(tensor_name, original)
    else:
        module.register_buffer(tensor_name, original)
    if not is_parametrized(module):
        delattr(module, "parametrizations")
        module.__class__ = type(module)._unparametrized_class
    return module


__all__ = ["register_parametrization", "remove_parametrizations", "is_parametrized", "cached",
           "ParametrizationList"]
