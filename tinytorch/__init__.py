"""tinytorch: a small, real deep-learning library that a textbook builds layer by layer."""

from . import backends
from .ndarray import bool_ as bool  # noqa: A001  (PyTorch spells it tt.bool)
from .ndarray import float32, float64, get_default_device, int64, set_default_device
from .ndarray.dtypes import DType as dtype

float = float32  # noqa: A001
double = float64
long = int64

__version__ = "0.1.0"
