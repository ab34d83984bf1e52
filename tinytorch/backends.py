"""Which compute backends (devices) this machine can use.

>>> import tinytorch as tt
>>> "numpy" in tt.backends.available()
True
"""

import operator
import os
import warnings

from .ndarray.devices import BACKEND_MODULES, available, get_backend, is_available, unavailable_reason

__all__ = ["available", "is_available", "unavailable_reason", "BACKEND_MODULES", "mps", "set_num_threads",
           "get_num_threads", "use_deterministic_algorithms", "are_deterministic_algorithms_enabled",
           "is_deterministic_algorithms_warn_only_enabled", "set_float32_matmul_precision",
           "get_float32_matmul_precision"]


def set_num_threads(n: int) -> None:
    """``torch.set_num_threads``: the C backend's kernels use ``n`` threads from now on
    (``RuntimeError``, as PyTorch's, unless ``n`` is an int >= 1). Where the C backend is not
    built, ``n`` is only checked: the numpy backend's threads are numpy's own
    (``OMP_NUM_THREADS`` before Python starts)."""
    if isinstance(n, bool) or not hasattr(n, "__index__"):
        raise RuntimeError(f"set_num_threads expects an int, but got {type(n).__name__}")
    n = operator.index(n)
    if n < 1:
        raise RuntimeError(f"set_num_threads expects a positive integer, got {n}")
    if is_available("cpu"):
        get_backend("cpu").set_num_threads(n)


def get_num_threads() -> int:
    """``torch.get_num_threads``: the number of threads the C backend's kernels use (without the C
    backend, the number of cores this process may run on)."""
    if is_available("cpu"):
        return get_backend("cpu").get_num_threads()
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


class mps:  # noqa: N801  (PyTorch's name: torch.backends.mps)
    """Apple's Metal backend, which tinytorch does not have: a program that asks gets False."""

    @staticmethod
    def is_available() -> bool:
        return False

    @staticmethod
    def is_built() -> bool:
        return False


class _Flags:
    """Settings PyTorch programs make that do not change what tinytorch computes (see each setter)."""

    deterministic = False
    deterministic_warn_only = False
    matmul_precision = "highest"


_flags = _Flags()


def use_deterministic_algorithms(mode: bool, *, warn_only: bool = False) -> None:
    """``torch.use_deterministic_algorithms``: recorded (and reported by
    :func:`are_deterministic_algorithms_enabled`). tinytorch's CPU kernels are deterministic
    already: for a given thread count each splits its work the same way on every run."""
    if not isinstance(mode, bool):
        raise TypeError(f"use_deterministic_algorithms expects a bool, but got {type(mode).__name__}")
    _flags.deterministic, _flags.deterministic_warn_only = mode, warn_only


def are_deterministic_algorithms_enabled() -> bool:
    return _flags.deterministic


def is_deterministic_algorithms_warn_only_enabled() -> bool:
    return _flags.deterministic_warn_only


def set_float32_matmul_precision(precision: str) -> None:
    """``torch.set_float32_matmul_precision`` (``"highest"``, ``"high"`` or ``"medium"``): recorded.
    PyTorch may then use TF32 or bfloat16 products on GPUs; tinytorch's float32 matmul always
    computes in full float32, which is what "highest" means."""
    if precision not in ("highest", "high", "medium"):  # PyTorch warns and keeps the setting
        warnings.warn(f"{precision!r} is not one of 'highest', 'high', or 'medium'; the call has no effect",
                      stacklevel=2)
        return
    _flags.matmul_precision = precision


def get_float32_matmul_precision() -> str:
    return _flags.matmul_precision
