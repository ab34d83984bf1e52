"""``tinytorch.utils``: the home PyTorch gives to ``utils.data`` and ``utils.checkpoint``, so
``torch.utils...`` imports port."""

from . import checkpoint, data

__all__ = ["checkpoint", "data"]
