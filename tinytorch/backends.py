"""Which compute backends (devices) this machine can use.

>>> import tinytorch as tt
>>> "numpy" in tt.backends.available()
True
"""

import operator
import os

from .ndarray.devices import BACKEND_MODULES, available, get_backend, is_available, unavailable_reason

__all__ = ["available", "is_available", "unavailable_reason", "BACKEND_MODULES", "mps", "set_num_threads",
           "get_num_threads"]


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
