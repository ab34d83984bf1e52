"""``tinytorch.utils.data.dataloader`` is :mod:`tinytorch.data.dataloader` under PyTorch's name."""

from tinytorch.data.dataloader import DataLoader, default_collate, default_convert
from tinytorch.data.worker import get_worker_info

__all__ = ["DataLoader", "default_collate", "default_convert", "get_worker_info"]
