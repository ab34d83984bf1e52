"""``Flatten``: collapse a range of dims into one (typically between conv layers and Linear)."""

from __future__ import annotations

from typing import Any

from .module import Module


class Flatten(Module):
    """Flattens dims ``start_dim`` .. ``end_dim`` into one.

    Args:
        start_dim: first dim to flatten. Default: 1 (keep the batch dim).
        end_dim: last dim to flatten. Default: -1.

    Shape:
        - Input: :math:`(*, S_{start}, ..., S_{end}, *)`.
        - Output: :math:`(*, \\prod S_{start..end}, *)`.

    Examples::

        >>> import tinytorch as tt
        >>> Flatten()(tt.zeros(32, 1, 5, 5)).shape
        (32, 25)
    """

    def __init__(self, start_dim: int = 1, end_dim: int = -1):
        super().__init__()
        self.start_dim = start_dim
        self.end_dim = end_dim

    def forward(self, input: Any) -> Any:
        return input.flatten(self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"
