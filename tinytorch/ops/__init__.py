"""The op catalogue: every differentiable operation, one small :class:`~tinytorch.autograd.Function`
per primitive, and the functional forms (``tt.exp``, ``tt.sum``, ``tt.cat``…) built on them.

========================  ================================================================
module                    primitives (the rest of each module composes them)
========================  ================================================================
:mod:`.elementwise`       Add Sub Mul Div Pow Maximum Minimum Where, Cast Neg Exp Log Sqrt
                          Abs Sin Cos Tanh Sigmoid Relu Erf
:mod:`.reduce`            Sum Amax LogSoftmax
:mod:`.movement`          Reshape Permute Expand Flip Index IndexBackward Cat Clone ToDevice
:mod:`.matmul`            Matmul
:mod:`.windows`           Unfold Fold
========================  ================================================================
"""

from .creation import (
                       arange,
                       empty,
                       empty_like,
                       eye,
                       from_numpy,
                       full,
                       full_like,
                       linspace,
                       ones,
                       ones_like,
                       tensor,
                       zeros,
                       zeros_like,
)
from .dims import normalize_dim, normalize_dims
from .elementwise import (
                       Abs,
                       Add,
                       Cast,
                       Cos,
                       Div,
                       Erf,
                       Exp,
                       Log,
                       Maximum,
                       Minimum,
                       Mul,
                       Neg,
                       Pow,
                       Relu,
                       Sigmoid,
                       Sin,
                       Sqrt,
                       Sub,
                       Tanh,
                       Where,
                       abs,
                       add,
                       allclose,
                       clamp,
                       clip,
                       cos,
                       div,
                       eq,
                       erf,
                       exp,
                       ge,
                       gt,
                       isclose,
                       isinf,
                       isnan,
                       le,
                       log,
                       logical_and,
                       logical_not,
                       logical_or,
                       lt,
                       masked_fill,
                       maximum,
                       minimum,
                       mul,
                       ne,
                       neg,
                       pow,
                       relu,
                       rsqrt,
                       sigmoid,
                       sign,
                       sin,
                       sqrt,
                       square,
                       sub,
                       tanh,
                       where,
)
from .inplace import check_inplace, inplace, replace, setitem
from .matmul import Matmul, matmul
from .movement import (
                       Cat,
                       Clone,
                       Expand,
                       Flip,
                       Index,
                       IndexBackward,
                       Permute,
                       Reshape,
                       ToDevice,
                       broadcast_to,
                       cat,
                       chunk,
                       clone,
                       contiguous,
                       expand,
                       flatten,
                       flip,
                       gather,
                       getitem,
                       permute,
                       reshape,
                       split,
                       squeeze,
                       stack,
                       swapaxes,
                       t,
                       to,
                       transpose,
                       tril,
                       triu,
                       unsqueeze,
                       view,
)
from .printing import tensor_repr
from .reduce import (
                       Amax,
                       LogSoftmax,
                       Sum,
                       all,
                       amax,
                       amin,
                       any,
                       argmax,
                       argmin,
                       log_softmax,
                       logsumexp,
                       max,
                       mean,
                       min,
                       softmax,
                       std,
                       sum,
                       var,
)
from .windows import Fold, Unfold

#: every differentiable primitive, in the order of the table above
PRIMITIVES = (Add, Sub, Mul, Div, Pow, Maximum, Minimum, Where, Cast, Neg, Exp, Log, Sqrt, Abs, Sin, Cos, Tanh,
              Sigmoid, Relu, Erf, Sum, Amax, LogSoftmax, Reshape, Permute, Expand, Flip, Index, IndexBackward, Cat,
              Clone, ToDevice, Matmul, Unfold, Fold)

__all__ = [
    "PRIMITIVES", "normalize_dim", "normalize_dims", "tensor_repr", "check_inplace", "inplace", "replace",
    "setitem", "getitem",
    # creation
    "tensor", "from_numpy", "zeros", "ones", "full", "empty", "zeros_like", "ones_like", "full_like", "empty_like",
    "arange", "linspace", "eye",
    # elementwise
    "add", "sub", "mul", "div", "pow", "neg", "exp", "log", "sqrt", "rsqrt", "square", "abs", "sign", "sin", "cos",
    "tanh", "sigmoid", "relu", "erf", "clamp", "clip", "maximum", "minimum", "where", "masked_fill",
    "eq", "ne", "lt", "le", "gt", "ge", "isnan", "isinf", "isclose", "allclose", "logical_not", "logical_and",
    "logical_or",
    # reductions
    "sum", "mean", "var", "std", "max", "min", "amax", "amin", "argmax", "argmin", "all", "any", "logsumexp",
    "softmax", "log_softmax",
    # movement
    "reshape", "view", "permute", "transpose", "swapaxes", "t", "expand", "broadcast_to", "flip", "squeeze",
    "unsqueeze", "flatten", "split", "chunk", "gather", "cat", "stack", "tril", "triu", "clone", "contiguous", "to",
    "matmul",
]
