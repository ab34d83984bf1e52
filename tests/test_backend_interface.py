"""Every backend in the registry implements the whole interface, and the registry behaves."""

import importlib

import pytest

import tinytorch
from tinytorch.ndarray import BACKEND_MODULES, available, get_backend, interface
from tinytorch.ndarray.devices import device as as_device


def test_every_backend_implements_the_interface(device):
    backend = get_backend(device)
    missing = [n for n in interface.interface_functions() if not callable(getattr(backend, n, None))]
    assert not missing, f"backend {device!r} lacks {missing}"
    assert backend.name == device


def test_numpy_backend_is_always_available():
    assert "numpy" in available()
    assert tinytorch.backends.available() == available()


def test_registry_is_explicit_and_lazy():
    assert set(BACKEND_MODULES) == {"numpy", "cpu", "cuda"}
    for module in BACKEND_MODULES.values():
        assert module.startswith("tinytorch.")


def test_unknown_device_is_a_value_error():
    with pytest.raises(ValueError, match="unknown device 'tpu'"):
        get_backend("tpu")


def test_device_object_compares_with_strings():
    d = as_device("numpy")
    assert d == "numpy" and str(d) == "numpy" and repr(d) == "device(type='numpy')"
    assert as_device(d) is d


def test_set_default_device_rejects_unavailable(monkeypatch):
    from tinytorch.ndarray import devices
    monkeypatch.setattr(devices, "_default", devices._default)
    tinytorch.set_default_device("numpy")
    assert tinytorch.get_default_device() == "numpy"
    with pytest.raises(ValueError):
        tinytorch.set_default_device("tpu")


def test_import_needs_no_compiled_backend():
    # importing tinytorch must not import any backend as a side effect
    import subprocess
    import sys
    code = ("import sys, tinytorch; "
            "assert 'tinytorch.backend_cpu' not in sys.modules, 'cpu backend imported eagerly'; "
            "assert 'tinytorch.backend_cuda' not in sys.modules, 'cuda backend imported eagerly'")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_default_device_from_environment():
    import subprocess
    import sys
    out = subprocess.run([sys.executable, "-c", "import tinytorch; print(tinytorch.get_default_device())"],
                         env={**__import__("os").environ, "TINYTORCH_DEVICE": "numpy"},
                         capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "numpy"


def test_interface_module_imports():
    importlib.import_module("tinytorch.ndarray.interface")
