"""The op catalogue: every differentiable operation, one small :class:`~tinytorch.tensor.Function`
per primitive, and the functional forms (``tt.exp``, ``tt.sum``, ``tt.cat``…) built on them.

========================  ================================================================
module                    primitives (the rest of each module composes them)
========================  ================================================================
:mod:`.elementwise`       Add Sub Mul Div Pow Maximum Minimum Where, Cast Neg Exp Log Sqrt
                          Abs Sin Cos Tanh Sigmoid Relu Erf
:mod:`.reduce`            Sum Amax LogSoftmax
:mod:`.movement`          Reshape Permute Expand Flip Index IndexBackward Cat Clone ToDevice
:mod:`.matmul`            Matmul
:mod:`.windows`           Unfold Fold Unpool
========================  ================================================================

:mod:`.creation` and :mod:`.random` make new leaf tensors, :mod:`.inplace` writes into
existing ones. Each module registers its public functions in the op table
(:mod:`.table`); this package exports exactly the table's names.
"""

from .creation import *  # noqa: F403  (each op module's __all__ is its op-table names)
from .elementwise import *  # noqa: F403
from .inplace import *  # noqa: F403
from .matmul import *  # noqa: F403
from .movement import *  # noqa: F403
from .random import *  # noqa: F403
from .reduce import *  # noqa: F403
from .table import exports

__all__ = exports()
