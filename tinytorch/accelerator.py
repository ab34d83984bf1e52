"""``tt.accelerator``: PyTorch's device-neutral questions about the accelerator, answered for
tinytorch's one GPU device (``"cuda"``). Never raises, even without pycuda or a GPU.

>>> import tinytorch as tt
>>> tt.accelerator.is_available() == tt.cuda.is_available()
True
"""

from __future__ import annotations

from . import cuda
from .ndarray.devices import Device
from .ndarray.devices import device as as_device


def is_available() -> bool:
    """True when an accelerator (here: the CUDA device) can be used."""
    return cuda.is_available()


def current_accelerator() -> Device | None:
    """The accelerator device (``device(type='cuda')``), or None when there is none."""
    return as_device("cuda") if cuda.is_available() else None


def device_count() -> int:
    """The number of accelerators: 1 with a usable GPU, else 0."""
    return cuda.device_count()
