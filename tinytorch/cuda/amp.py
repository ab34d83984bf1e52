"""``tt.cuda.amp``: PyTorch's older names for mixed precision on CUDA, ``torch.cuda.amp.autocast``
and ``torch.cuda.amp.GradScaler``: :mod:`tinytorch.amp`'s, with the device fixed to ``"cuda"``
(so without CUDA the scaler disables itself with PyTorch's warning and passes calls through)."""

from __future__ import annotations

from typing import Any

from .. import amp as _amp


class autocast(_amp.autocast):  # noqa: N801  (PyTorch's name)
    """``torch.cuda.amp.autocast(enabled=True, dtype=torch.float16, cache_enabled=True)``."""

    def __init__(self, enabled: bool = True, dtype: Any = None, cache_enabled: bool | None = None):
        super().__init__("cuda", dtype, enabled, cache_enabled)


class GradScaler(_amp.GradScaler):
    """``torch.cuda.amp.GradScaler(init_scale=65536.0, growth_factor=2.0, backoff_factor=0.5,
    growth_interval=2000, enabled=True)``."""

    def __init__(self, init_scale: float = 2.0**16, growth_factor: float = 2.0, backoff_factor: float = 0.5,
                 growth_interval: int = 2000, enabled: bool = True):
        super().__init__("cuda", init_scale, growth_factor, backoff_factor, growth_interval, enabled)


__all__ = ["autocast", "GradScaler"]
