"""Which compute backends (devices) this machine can use.

>>> import tinytorch as tt
>>> "numpy" in tt.backends.available()
True
"""

from .ndarray.devices import BACKEND_MODULES, available, is_available, unavailable_reason

__all__ = ["available", "is_available", "unavailable_reason", "BACKEND_MODULES", "mps"]


class mps:  # noqa: N801  (PyTorch's name: torch.backends.mps)
    """Apple's Metal backend, which tinytorch does not have: a program that asks gets False."""

    @staticmethod
    def is_available() -> bool:
        return False

    @staticmethod
    def is_built() -> bool:
        return False
