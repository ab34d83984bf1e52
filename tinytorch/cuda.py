"""``tt.cuda``: is the CUDA device usable here? Never raises, even without pycuda or a GPU.

>>> import tinytorch as tt
>>> isinstance(tt.cuda.is_available(), bool)
True
"""

from __future__ import annotations

from .ndarray.devices import get_backend
from .ops.random import manual_seed as _manual_seed


def is_available() -> bool:
    """True when device ``"cuda"`` works: pycuda is installed and a GPU and driver are present."""
    try:
        get_backend("cuda")
        return True
    except Exception:  # ImportError turned RuntimeError, or a driver error from pycuda itself
        return False


def device_count() -> int:
    """1 when CUDA is available (tinytorch uses one GPU), else 0."""
    return 1 if is_available() else 0


def manual_seed(seed: int) -> None:
    """Seed the random numbers (one generator serves every device, see :mod:`tinytorch.ops.random`)."""
    _manual_seed(seed)


manual_seed_all = manual_seed
