"""``tinytorch.utils.data.dataset`` is :mod:`tinytorch.data.dataset` under PyTorch's name."""

from tinytorch.data.dataset import ConcatDataset, Dataset, Subset, TensorDataset, random_split

__all__ = ["Dataset", "TensorDataset", "Subset", "ConcatDataset", "random_split"]
