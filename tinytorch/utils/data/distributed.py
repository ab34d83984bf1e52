"""``tinytorch.utils.data.distributed`` is :mod:`tinytorch.data.distributed` under PyTorch's name."""

from tinytorch.data.distributed import DistributedSampler

__all__ = ["DistributedSampler"]
