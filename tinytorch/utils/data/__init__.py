"""``tinytorch.utils.data`` is :mod:`tinytorch.data` under PyTorch's name.

``from tinytorch.utils.data import DataLoader`` works like ``from torch.utils.data import DataLoader``,
and the submodules ``sampler``, ``dataset`` and ``dataloader`` answer PyTorch's longer imports.
"""

from tinytorch.data import (
    BatchSampler,
    ConcatDataset,
    DataLoader,
    Dataset,
    RandomSampler,
    Sampler,
    SequentialSampler,
    Subset,
    SubsetRandomSampler,
    TensorDataset,
    WeightedRandomSampler,
    WorkerInfo,
    datasets,
    default_collate,
    default_convert,
    get_worker_info,
    random_split,
    transforms,
)

__all__ = ["Dataset", "TensorDataset", "Subset", "ConcatDataset", "random_split", "DataLoader", "default_collate",
           "default_convert", "Sampler", "SequentialSampler", "RandomSampler", "SubsetRandomSampler",
           "WeightedRandomSampler", "BatchSampler", "get_worker_info", "WorkerInfo", "datasets", "transforms"]
