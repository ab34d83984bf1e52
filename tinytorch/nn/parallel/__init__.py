"""``tinytorch.nn.parallel``: data-parallel training over the ranks of ``tinytorch.distributed``
(and PyTorch's single-process ``DataParallel``, which here calls the module as it is)."""

from .data_parallel import DataParallel
from .distributed import DistributedDataParallel

__all__ = ["DataParallel", "DistributedDataParallel"]
