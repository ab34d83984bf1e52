"""tinytorch: a small, real deep-learning library that a textbook builds layer by layer.

>>> import tinytorch as tt
>>> x = tt.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True, device="numpy")
>>> tt.softmax(x, dim=1).sum().item()
2.0

The package front door only gathers names: the layers below it never import it. Every op
function (``tt.exp``, ``tt.cat``…) comes from the op table through ``tinytorch.ops``; the rest
is imported by name from the module that defines it.
"""

import math

from . import (
    accelerator,
    amp,
    autograd,
    backends,
    cuda,
    data,
    distributed,
    distributions,
    func,
    jit,
    linalg,
    nn,
    onnx,
    ops,
    optim,
    profiler,
    special,
    utils,
    viz,
)
from .amp import autocast, is_autocast_enabled
from .backends import (
    are_deterministic_algorithms_enabled,
    get_float32_matmul_precision,
    get_num_threads,
    is_deterministic_algorithms_warn_only_enabled,
    set_float32_matmul_precision,
    set_num_threads,
    use_deterministic_algorithms,
)
from .compiler import compile, lazy  # noqa: A004  (PyTorch spells it torch.compile)
from .func import vmap
from .ndarray import bool_ as bool  # noqa: A001  (PyTorch spells it tt.bool)
from .ndarray import float32, float64, get_default_device, int64, set_default_device
from .ndarray.devices import device
from .ndarray.dtypes import DType as dtype
from .ndarray.dtypes import can_cast, finfo, get_default_dtype, iinfo, promote_types, set_default_dtype
from .ops import *  # noqa: F403  (exactly the op table's function names: ops.__all__)
from .ops import random
from .ops.random import Generator, default_generator
from .printing import set_printoptions
from .serialization import load, save
from .tensor import (
    Function,
    Size,
    Tensor,
    enable_grad,
    inference_mode,
    is_grad_enabled,
    is_inference_mode_enabled,
    is_tensor,
    no_grad,
    set_grad_enabled,
)

float = float32  # noqa: A001
double = float64
long = int64
is_floating_point = Tensor.is_floating_point  # PyTorch's functions of the same Tensor methods
is_nonzero = Tensor.is_nonzero
is_complex = Tensor.is_complex
conj = resolve_conj = resolve_neg = Tensor.conj
pi, e, inf, nan = math.pi, math.e, math.inf, math.nan
newaxis = None

__version__ = "0.1.0"

__all__ = [
    "accelerator", "autograd", "backends", "cuda", "data", "linalg", "nn", "ops", "optim", "random", "special",
    "utils",
    "Tensor", "Function", "no_grad", "enable_grad", "set_grad_enabled", "is_grad_enabled", "inference_mode",
    "is_inference_mode_enabled",
    "dtype", "bool", "float32", "float64", "int64", "float", "double", "long",
    "device", "get_default_device", "set_default_device", "promote_types", "Generator", "default_generator",
    "save", "load", "is_tensor", "is_floating_point", "is_nonzero", "finfo", "iinfo", "get_default_dtype",
    "set_default_dtype", "set_printoptions", "use_deterministic_algorithms", "are_deterministic_algorithms_enabled",
    "is_deterministic_algorithms_warn_only_enabled", "set_float32_matmul_precision", "get_float32_matmul_precision",
    "pi", "e", "inf", "nan", "newaxis", "can_cast", "is_complex", "conj", "resolve_conj", "resolve_neg",
    "amp", "autocast", "is_autocast_enabled", "Size",
    "profiler", "viz", "onnx", "distributed", "distributions", "func", "jit", "vmap", "compile", "lazy",
    "set_num_threads", "get_num_threads",
] + ops.exports()
