"""tinytorch: a small, real deep-learning library that a textbook builds layer by layer.

>>> import tinytorch as tt
>>> x = tt.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True, device="numpy")
>>> tt.softmax(x, dim=1).sum().item()
2.0
"""

from . import autograd, backends, cuda, ops, random
from .autograd import Function, Tensor, enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from .ndarray import bool_ as bool  # noqa: A001  (PyTorch spells it tt.bool)
from .ndarray import float32, float64, get_default_device, int64, set_default_device
from .ndarray.devices import device
from .ndarray.dtypes import DType as dtype
from .ndarray.dtypes import promote_types
from .ops import (
    abs,
    add,
    all,
    allclose,
    amax,
    amin,
    any,
    arange,
    argmax,
    argmin,
    broadcast_to,
    cat,
    chunk,
    clamp,
    clip,
    clone,
    cos,
    div,
    empty,
    empty_like,
    eq,
    erf,
    exp,
    eye,
    flatten,
    flip,
    from_numpy,
    full,
    full_like,
    gather,
    ge,
    gt,
    isclose,
    isinf,
    isnan,
    le,
    linspace,
    log,
    log_softmax,
    logical_and,
    logical_not,
    logical_or,
    logsumexp,
    lt,
    masked_fill,
    matmul,
    max,
    maximum,
    mean,
    min,
    minimum,
    mul,
    ne,
    neg,
    ones,
    ones_like,
    permute,
    pow,
    relu,
    reshape,
    rsqrt,
    sigmoid,
    sign,
    sin,
    softmax,
    split,
    sqrt,
    square,
    squeeze,
    stack,
    std,
    sub,
    sum,
    swapaxes,
    t,
    tanh,
    tensor,
    transpose,
    tril,
    triu,
    unsqueeze,
    var,
    where,
    zeros,
    zeros_like,
)
from .random import (
    Generator,
    default_generator,
    initial_seed,
    manual_seed,
    rand,
    rand_like,
    randint,
    randn,
    randn_like,
    randperm,
    seed,
)
from .serialization import load, save

# isort: split
# The layers above the Tensor, importable as attributes like torch.nn / torch.optim / torch.utils.
# They must come last: they use the names imported above.
from . import data, nn, optim, utils


def numel(x: Tensor) -> int:
    """The number of elements of ``x``."""
    return x.numel()


def detach(x: Tensor) -> Tensor:
    """``x`` cut from the graph (shares its storage)."""
    return x.detach()


float = float32  # noqa: A001
double = float64
long = int64
subtract, multiply, divide, negative = sub, mul, div, neg  # PyTorch's aliases

__version__ = "0.1.0"

__all__ = [
    "autograd", "backends", "cuda", "ops", "random", "Tensor", "Function", "no_grad", "enable_grad",
    "set_grad_enabled", "is_grad_enabled", "dtype", "bool", "float32", "float64", "int64", "float", "double", "long",
    "device", "get_default_device", "set_default_device", "promote_types",
    "tensor", "from_numpy", "zeros", "ones", "full", "empty", "zeros_like", "ones_like", "full_like", "empty_like",
    "arange", "linspace", "eye", "Generator", "default_generator", "manual_seed", "seed", "initial_seed", "rand",
    "randn", "randint", "randperm", "rand_like", "randn_like",
    "add", "sub", "mul", "div", "pow", "neg", "subtract", "multiply", "divide", "negative",
    "numel", "detach", "exp", "log", "sqrt", "rsqrt", "square", "abs", "sign", "sin", "cos", "tanh", "sigmoid", "relu",
    "erf",
    "clamp", "clip", "maximum", "minimum", "where", "masked_fill", "eq", "ne", "lt", "le", "gt", "ge",
    "isnan", "isinf", "isclose", "allclose", "logical_not", "logical_and", "logical_or",
    "sum", "mean", "var", "std", "max", "min", "amax", "amin", "argmax", "argmin", "all", "any", "logsumexp",
    "softmax", "log_softmax",
    "reshape", "permute", "transpose", "swapaxes", "t", "broadcast_to", "flip", "squeeze", "unsqueeze",
    "flatten", "split", "chunk", "gather", "cat", "stack", "tril", "triu", "clone", "matmul",
    "save", "load", "nn", "optim", "data", "utils",
]
