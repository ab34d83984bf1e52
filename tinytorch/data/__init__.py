"""Layer 4c: datasets, loaders and transforms (also importable as ``tinytorch.utils.data``)."""

from . import datasets, transforms
from .dataloader import DataLoader, default_collate
from .dataset import Dataset, Subset, TensorDataset, random_split

__all__ = ["Dataset", "TensorDataset", "Subset", "random_split", "DataLoader", "default_collate",
           "datasets", "transforms"]
