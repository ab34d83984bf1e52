"""``tinytorch.utils``: the home PyTorch gives to ``utils.data``, so ``torch.utils.data`` imports port."""

from . import data

__all__ = ["data"]
