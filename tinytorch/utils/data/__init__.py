"""``tinytorch.utils.data`` is :mod:`tinytorch.data` under PyTorch's name.

``from tinytorch.utils.data import DataLoader`` works like ``from torch.utils.data import DataLoader``,
and the submodules ``sampler``, ``dataset`` and ``dataloader`` answer PyTorch's longer imports.
"""

from tinytorch.data import *  # noqa: F403  (the same names, listed once, in tinytorch.data)
from tinytorch.data import __all__  # noqa: F401
