"""``tinytorch.jit``: PyTorch's TorchScript entry points, for programs that use them.

tinytorch has no TorchScript compiler or serialized script format. :func:`script` and
:func:`trace` return the function or module they are given, unchanged, so decorated code runs
eagerly with the same results (warning once per process that nothing was compiled); use
:func:`tinytorch.compile` for compiled training steps. ``jit.save`` / ``jit.load`` raise, as a
TorchScript archive cannot be written or read here.
"""

from __future__ import annotations

import warnings
from typing import Any, Callable, TypeVar

F = TypeVar("F")


class _Warned:
    done = False


def _warn_once(what: str) -> None:
    if not _Warned.done:
        warnings.warn(f"tinytorch has no TorchScript: torch.jit.{what} returns its argument unchanged, which runs "
                      f"eagerly (see tinytorch.compile for compiled steps)", stacklevel=3)
        _Warned.done = True


def script(obj: F, optimize: Any = None, _frames_up: int = 0, _rcb: Any = None, example_inputs: Any = None) -> F:
    """``obj`` (a function, module or class) itself, unchanged (see the module docstring)."""
    _warn_once("script")
    return obj


def trace(func: F, example_inputs: Any = None, *args: Any, **kwargs: Any) -> F:
    """``func`` itself, unchanged (see the module docstring); ``example_inputs`` are not run."""
    _warn_once("trace")
    return func


def ignore(drop: Any = False, **kwargs: Any) -> Any:
    """A decorator that leaves a function as it is (``@jit.ignore`` or ``@jit.ignore(drop=True)``)."""
    if callable(drop):
        return drop
    return lambda fn: fn


def unused(fn: Callable[..., Any]) -> Callable[..., Any]:
    return fn


def export(fn: Callable[..., Any]) -> Callable[..., Any]:
    return fn


def annotate(the_type: Any, the_value: Any) -> Any:
    """``the_value`` (TorchScript's type hint for a value)."""
    return the_value


def is_scripting() -> bool:
    """False: code here never runs as TorchScript."""
    return False


def is_tracing() -> bool:
    return False


def save(m: Any, f: Any, _extra_files: Any = None) -> None:
    raise RuntimeError("tinytorch has no TorchScript archives: save the state_dict with tinytorch.save, or export "
                       "the model with tinytorch.onnx.export")


def load(f: Any, map_location: Any = None, _extra_files: Any = None) -> Any:
    raise RuntimeError("tinytorch cannot load a TorchScript archive; tinytorch.load reads tinytorch.save files and "
                       "tinytorch.onnx.load reads ONNX models")


__all__ = ["script", "trace", "ignore", "unused", "export", "annotate", "is_scripting", "is_tracing", "save", "load"]
