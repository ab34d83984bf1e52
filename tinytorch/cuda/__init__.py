"""``tt.cuda``: is the CUDA device usable here (never raises, even without pycuda or a GPU), and
the device queries and ``tt.cuda.amp`` names a PyTorch training script calls.

>>> import tinytorch as tt
>>> isinstance(tt.cuda.is_available(), bool)
True
"""

from __future__ import annotations

from typing import Any

from ..ndarray.devices import get_backend
from ..ops.random import manual_seed as _manual_seed
from . import amp as amp  # tt.cuda.amp: the older spelling of tt.amp with device "cuda"


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


def _require() -> None:
    if not is_available():
        raise RuntimeError("CUDA is not available: tinytorch's CUDA backend needs pycuda, a GPU and its driver "
                           "(pip install 'tinytorch[cuda]')")


def synchronize(device: Any = None) -> None:
    """Wait for the GPU's queued work (``RuntimeError`` without CUDA). tinytorch's CUDA calls
    return when their kernels are done, so there is nothing left to wait for."""
    _require()


def current_device() -> int:
    """0, the one GPU tinytorch uses (``RuntimeError`` without CUDA)."""
    _require()
    return 0


def set_device(device: Any) -> None:
    """Select the GPU: only the first (``RuntimeError`` for another, or without CUDA)."""
    _require()
    index = device if isinstance(device, int) else int(str(device).partition(":")[2] or 0)
    if index != 0:
        raise RuntimeError(f"tinytorch uses one GPU; device {device!r} is not available")


def get_device_name(device: Any = None) -> str:
    """The GPU's name, as its driver reports it (``RuntimeError`` without CUDA)."""
    _require()
    return str(get_backend("cuda").device_name())


def is_bf16_supported() -> bool:
    """False: tinytorch has no bfloat16."""
    return False


def empty_cache() -> None:
    """Accepted for PyTorch's scripts: tinytorch's CUDA buffers are freed when their arrays are."""


def _no_memory_statistics() -> None:
    if is_available():
        raise NotImplementedError("tinytorch does not track its CUDA memory use")


def memory_allocated(device: Any = None) -> int:
    """0 without CUDA, as PyTorch reports (tinytorch does not count its GPU memory: with CUDA this
    raises ``NotImplementedError``)."""
    _no_memory_statistics()
    return 0


max_memory_allocated = memory_allocated


def reset_peak_memory_stats(device: Any = None) -> None:
    """Accepted without CUDA (there are no statistics to reset); ``NotImplementedError`` with it."""
    _no_memory_statistics()
