"""``tinytorch.utils.data`` is :mod:`tinytorch.data` under PyTorch's name.

``from tinytorch.utils.data import DataLoader`` works like ``from torch.utils.data import DataLoader``.
"""

from tinytorch.data import (
                            DataLoader,
                            Dataset,
                            Subset,
                            TensorDataset,
                            datasets,
                            default_collate,
                            random_split,
                            transforms,
)

__all__ = ["Dataset", "TensorDataset", "Subset", "random_split", "DataLoader", "default_collate",
           "datasets", "transforms"]
