"""``Dropout`` and its channel-wise (``Dropout1d``, ``Dropout2d``) and SELU (``AlphaDropout``)
forms: randomly zero activations during training (a regulariser)."""

from __future__ import annotations

from typing import Any

from . import functional as F
from .module import Module


class Dropout(Module):
    """During training, zero each element with probability ``p`` and scale the rest by
    ``1 / (1 - p)``; in ``eval()`` mode, the identity.

    Args:
        p: probability of an element to be zeroed. Default: 0.5.
        inplace: accepted for compatibility (tinytorch returns a new tensor).

    Shape: any, unchanged.

    Examples::

        >>> import tinytorch as tt
        >>> m = Dropout(p=0.2)
        >>> m(tt.ones(4, 5)).shape
        (4, 5)
    """

    def __init__(self, p: float = 0.5, inplace: bool = False):
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
        self.p = p
        self.inplace = inplace

    def forward(self, input: Any) -> Any:
        return F.dropout(input, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"


class _DropoutNd(Module):
    def __init__(self, p: float = 0.5, inplace: bool = False):
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
        self.p = p
        self.inplace = inplace

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"


class Dropout1d(_DropoutNd):
    """During training, zero whole channels of an (N, C, L) or (C, L) input, each with probability
    ``p``, and scale the rest by ``1 / (1 - p)``; in ``eval()`` mode, the identity.

    Examples::

        >>> import tinytorch as tt
        >>> Dropout1d(0.2)(tt.ones(4, 5, 6)).shape
        (4, 5, 6)
    """

    def forward(self, input: Any) -> Any:
        return F.dropout1d(input, self.p, self.training)


class Dropout2d(_DropoutNd):
    """During training, zero whole channels (planes) of an (N, C, H, W) input, each with
    probability ``p``, and scale the rest by ``1 / (1 - p)``; in ``eval()`` mode, the identity.

    Examples::

        >>> import tinytorch as tt
        >>> Dropout2d(0.2)(tt.ones(4, 5, 6, 6)).shape
        (4, 5, 6, 6)
    """

    def forward(self, input: Any) -> Any:
        return F.dropout2d(input, self.p, self.training)


class Dropout3d(_DropoutNd):
    """During training, zero whole channels (volumes) of an (N, C, D, H, W) or (C, D, H, W) input,
    each with probability ``p``, and scale the rest by ``1 / (1 - p)``; in ``eval()``, the identity."""

    def forward(self, input: Any) -> Any:
        return F.dropout3d(input, self.p, self.training)


class AlphaDropout(_DropoutNd):
    """Dropout that keeps SELU activations' mean and variance: dropped elements take SELU's
    saturation value and an affine map corrects the moments; the identity in ``eval()`` mode.

    Examples::

        >>> import tinytorch as tt
        >>> AlphaDropout(0.2)(tt.ones(4, 5)).shape
        (4, 5)
    """

    def forward(self, input: Any) -> Any:
        return F.alpha_dropout(input, self.p, self.training)
