"""Layer 4c: datasets, loaders and transforms (also importable as ``tinytorch.utils.data``)."""

from . import datasets, text, transforms
from . import distributed as distributed  # DistributedSampler: one rank's share (tinytorch.distributed)
from .dataloader import DataLoader, default_collate, default_convert
from .dataset import (
    ChainDataset,
    ConcatDataset,
    Dataset,
    IterableDataset,
    StackDataset,
    Subset,
    TensorDataset,
    random_split,
)
from .distributed import DistributedSampler
from .sampler import (
    BatchSampler,
    RandomSampler,
    Sampler,
    SequentialSampler,
    SubsetRandomSampler,
    WeightedRandomSampler,
)
from .worker import WorkerInfo, get_worker_info

__all__ = ["Dataset", "IterableDataset", "ChainDataset", "StackDataset",
           "TensorDataset", "Subset", "ConcatDataset", "random_split", "DataLoader", "default_collate",
           "default_convert", "Sampler", "SequentialSampler", "RandomSampler", "SubsetRandomSampler",
           "WeightedRandomSampler", "BatchSampler", "get_worker_info", "WorkerInfo", "datasets", "text", "transforms"]
__all__ += ["distributed", "DistributedSampler"]  # data-parallel training
