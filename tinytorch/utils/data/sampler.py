"""``tinytorch.utils.data.sampler`` is :mod:`tinytorch.data.sampler` under PyTorch's name
(``from torch.utils.data.sampler import SubsetRandomSampler`` ports)."""

from tinytorch.data.sampler import (
    BatchSampler,
    RandomSampler,
    Sampler,
    SequentialSampler,
    SubsetRandomSampler,
    WeightedRandomSampler,
)

__all__ = ["Sampler", "SequentialSampler", "RandomSampler", "SubsetRandomSampler", "WeightedRandomSampler",
           "BatchSampler"]
