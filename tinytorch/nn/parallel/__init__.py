"""``tinytorch.nn.parallel``: data-parallel training over the ranks of ``tinytorch.distributed``."""

from .distributed import DistributedDataParallel

__all__ = ["DistributedDataParallel"]
