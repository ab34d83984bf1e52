"""The device registry: an explicit table of backends, imported lazily.

A device is named by a string (``"numpy"``, ``"cpu"``, ``"cuda"``). The table below maps
each name to the module that implements the backend interface. Nothing is imported until
a device is first used, so ``import tinytorch`` needs no compiler, GPU or network. A
backend module that cannot work on this machine raises ``ImportError`` with the reason
and the fix; :func:`get_backend` turns that into a ``RuntimeError`` for the user.
"""

from __future__ import annotations

import importlib
import os
import threading
from types import ModuleType
from typing import Any

#: device name -> module implementing :class:`tinytorch.ndarray.interface.Backend`
BACKEND_MODULES: dict[str, str] = {
    "numpy": "tinytorch.ndarray.backend_numpy",
    "cpu": "tinytorch.backend_cpu",
    "cuda": "tinytorch.backend_cuda",
}

_loaded: dict[str, ModuleType] = {}
_failed: dict[str, str] = {}


class Device:
    """A device: its name and backend module; ``tt.device``, as ``torch.device``. There is one
    Device per name: ``Device("cpu") is Device("cpu")``. It compares equal to its name string.

    ``Device(name)`` accepts a name (``"cpu"``, ``"numpy"``, ``"cuda"`` or PyTorch's
    ``"cuda:0"``), a Device (returned as it is) or None (the default device); ``index`` may
    only name the first device. Raises ``RuntimeError`` if the device cannot work here.

    >>> Device("numpy") == "numpy"
    True
    """

    __slots__ = ("type", "backend")
    type: str
    backend: Any  # the backend module; while a kernel recorder (:mod:`.program`) is active, its proxy of it

    def __new__(cls, name: Any = None, index: int | None = None) -> "Device":
        if isinstance(name, Device):
            return name
        if name is None:
            name = _default.name
        if not isinstance(name, str):
            raise TypeError(f"device must be a string such as 'cpu', got {type(name).__name__}")
        if index is not None:
            name = f"{name}:{index}"
        if ":" in name:  # PyTorch's spelling with an index: only the first device exists here
            base, _, number = name.partition(":")
            if number != "0" or base not in ("cuda", "cpu"):
                raise RuntimeError(f"tinytorch uses one device of each kind; {name!r} is not supported, "
                                   f"use {base!r}")
            name = base
        dev = _devices.get(name)
        if dev is None:
            dev = object.__new__(cls)
            dev.type, dev.backend = name, get_backend(name)
            _devices[name] = dev
        return dev

    @property
    def index(self) -> None:
        return None

    @property
    def name(self) -> str:
        return self.type

    def __eq__(self, other: Any) -> bool:
        if isinstance(other, Device):
            return self.type == other.type
        if isinstance(other, str):
            return self.type == other
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.type)

    def __str__(self) -> str:
        return self.type

    def __repr__(self) -> str:
        return f"device(type='{self.type}')"


_devices: dict[str, Device] = {}


def get_backend(name: str) -> ModuleType:
    """The backend module for device ``name``, importing it on first use.

    Raises ``RuntimeError`` naming the reason and the fix when the device cannot work
    here, and ``ValueError`` for a name that is not a device at all.
    """
    if name in _loaded:
        return _loaded[name]
    if name not in BACKEND_MODULES:
        raise ValueError(f"unknown device {name!r}; expected one of {sorted(BACKEND_MODULES)}")
    if name not in _failed:
        try:
            module = importlib.import_module(BACKEND_MODULES[name])
            if not hasattr(module, "alloc"):  # e.g. an empty folder imported as a namespace package
                raise ImportError(f"{BACKEND_MODULES[name]} does not implement the backend interface")
            _loaded[name] = module
            return module
        except ImportError as e:
            _failed[name] = str(e)
    raise RuntimeError(f"device {name!r} is not available: {_failed[name]}")


device = Device  # the name the library and PyTorch use: device("cpu")


def loaded_devices() -> list[Device]:
    """The Device objects made so far (there is one per name)."""
    return list(_devices.values())


def is_available(name: str) -> bool:
    """True when device ``name`` can be used on this machine (never raises for known names)."""
    try:
        get_backend(name)
        return True
    except RuntimeError:
        return False


def available() -> list[str]:
    """The devices usable on this machine, in the registry's order."""
    return [name for name in BACKEND_MODULES if is_available(name)]


def unavailable_reason(name: str) -> str | None:
    """Why device ``name`` cannot be used here, or None if it can."""
    try:
        get_backend(name)
        return None
    except RuntimeError as e:
        return str(e)


class _DefaultDevice(threading.local):
    """The default-device context: one per thread, as PyTorch's. Every thread starts with the
    device ``TINYTORCH_DEVICE`` names (or "cpu"), whatever the thread that started it chose."""

    name = os.environ.get("TINYTORCH_DEVICE", "cpu")


_default = _DefaultDevice()


def get_default_device() -> Device:
    """The device new arrays and tensors go to when none is given, in this thread
    (``TINYTORCH_DEVICE`` or "cpu" until :func:`set_default_device`); it compares equal to its
    name."""
    return device(_default.name)


def set_default_device(name: Any) -> None:
    """Make ``name`` the default device of this thread; raises ``RuntimeError`` if it is not available."""
    _default.name = device(name).type
