"""Distances between pairs of vectors: ``CosineSimilarity`` and ``PairwiseDistance``."""

from __future__ import annotations

from typing import Any

from . import functional as F
from .module import Module


class CosineSimilarity(Module):
    """The cosine of the angle between ``x1`` and ``x2`` along ``dim``:
    ``x1 . x2 / (max(||x1||, eps) max(||x2||, eps))``, the inputs broadcast.

    Examples::

        >>> import tinytorch as tt
        >>> CosineSimilarity(dim=1)(tt.tensor([[1., 0.]]), tt.tensor([[0., 2.]])).tolist()
        [0.0]
    """

    def __init__(self, dim: int = 1, eps: float = 1e-8):
        super().__init__()
        self.dim = dim
        self.eps = eps

    def forward(self, x1: Any, x2: Any) -> Any:
        return F.cosine_similarity(x1, x2, self.dim, self.eps)


class PairwiseDistance(Module):
    """The ``p``-norm of ``x1 - x2 + eps`` along the last dim.

    Examples::

        >>> import tinytorch as tt
        >>> PairwiseDistance(eps=0.0)(tt.tensor([[3., 0.]]), tt.tensor([[0., 4.]])).tolist()
        [5.0]
    """

    def __init__(self, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False):
        super().__init__()
        self.norm = p
        self.eps = eps
        self.keepdim = keepdim

    def forward(self, x1: Any, x2: Any) -> Any:
        return F.pairwise_distance(x1, x2, self.norm, self.eps, self.keepdim)
