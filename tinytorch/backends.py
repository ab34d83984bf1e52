"""Which compute backends (devices) this machine can use.

>>> import tinytorch as tt
>>> "numpy" in tt.backends.available()
True
"""

from .ndarray.devices import BACKEND_MODULES, available, is_available, unavailable_reason

__all__ = ["available", "is_available", "unavailable_reason", "BACKEND_MODULES"]
