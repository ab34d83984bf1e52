"""The op catalogue: every differentiable operation, one small :class:`~tinytorch.tensor.Function`
per primitive, and the functional forms (``tt.exp``, ``tt.sum``, ``tt.cat``…) built on them.

========================  ================================================================
module                    primitives (the rest of each module composes them)
========================  ================================================================
:mod:`.elementwise`       Add Sub Mul Div Pow Maximum Minimum Where, Cast Neg Exp Log Sqrt
                          Abs Sin Cos Tanh Sigmoid Relu Erf
:mod:`.reduce`            Sum Amax LogSoftmax Prod VectorNorm
:mod:`.scan`              Cumsum Cumprod Logcumsumexp (running ops; cummax/cummin gather)
:mod:`.sort`              MedianAll (sort, topk, kthvalue, median(dim) gather at sorted indices)
:mod:`.movement`          Reshape Permute Expand Flip Index IndexBackward Cat Clone ToDevice
:mod:`.matmul`            Matmul (:mod:`.einsum` plans einsum as views, sums and Matmul)
:mod:`.scatter`           ScatterPut ScatterReduce
:mod:`.linalg`            Inverse Det LogAbsDet Solve Cholesky QrQ QrR SvdFactor (host LAPACK)
:mod:`.windows`           Unfold Fold Unpool Convolution MaxPool MaxPoolIndices
:mod:`.composite`         (none: named compositions such as addcmul, xlogy, diff, quantile, kron)
========================  ================================================================

:mod:`.creation` and :mod:`.random` make new leaf tensors, :mod:`.inplace` writes into
existing ones. Each module registers its public functions in the op table
(:mod:`.table`); this package exports exactly the table's names.
"""

from .composite import *  # noqa: F403  (each op module's __all__ is its op-table names)
from .creation import *  # noqa: F403
from .einsum import *  # noqa: F403
from .elementwise import *  # noqa: F403
from .inplace import *  # noqa: F403
from .linalg import *  # noqa: F403
from .matmul import *  # noqa: F403
from .movement import *  # noqa: F403
from .random import *  # noqa: F403
from .reduce import *  # noqa: F403
from .scan import *  # noqa: F403
from .scatter import *  # noqa: F403
from .sort import *  # noqa: F403
from .table import exports

__all__ = exports()
