"""``nn.DataParallel``: PyTorch's single-process, multi-GPU wrapper, for programs that use it.

It splits each batch across the GPUs of ``device_ids`` and gathers the outputs. tinytorch runs
on one device, where PyTorch's wrapper simply calls the module, and so does this one; the
wrapped model is ``.module`` (so a ``state_dict`` has PyTorch's ``module.`` prefix).
"""

from __future__ import annotations

from typing import Any

from ..module import Module


class DataParallel(Module):
    """Call ``module`` on the whole batch (see the module docstring). ``device_ids``,
    ``output_device`` and ``dim`` are accepted for PyTorch's signature."""

    def __init__(self, module: Module, device_ids: Any = None, output_device: Any = None, dim: int = 0):
        super().__init__()
        self.module = module
        self.device_ids = [] if device_ids is None else list(device_ids)
        self.output_device, self.dim = output_device, dim

    def forward(self, *inputs: Any, **kwargs: Any) -> Any:
        return self.module(*inputs, **kwargs)


__all__ = ["DataParallel"]
