"""Loss modules: each stores its options and calls the matching ``nn.functional`` function."""

from __future__ import annotations

from typing import Any

from . import functional as F
from .module import Module


class _Loss(Module):
    def __init__(self, reduction: str = "mean"):
        super().__init__()
        if reduction not in ("mean", "sum", "none"):
            raise ValueError(f"{reduction} is not a valid value for reduction")
        self.reduction = reduction


class _WeightedLoss(_Loss):
    def __init__(self, weight: Any = None, reduction: str = "mean"):
        super().__init__(reduction)
        self.register_buffer("weight", weight)


class CrossEntropyLoss(_WeightedLoss):
    r"""Cross entropy between logits and class targets: ``log_softmax`` then ``NLLLoss``.

    For class index :math:`y_n`: :math:`\ell_n = -w_{y_n} \log \frac{e^{x_{n, y_n}}}{\sum_c e^{x_{n,c}}}`.

    Args:
        weight: a manual rescaling weight per class, shape (C). Default: None.
        ignore_index: a target value that is ignored (no loss, no gradient). Default: -100.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``. ``'mean'`` divides by the total weight of
            the counted targets. Default: ``'mean'``.
        label_smoothing: eps in [0, 1]; the target becomes ``(1 - eps) * one_hot + eps / C``. Default: 0.

    Shape:
        - Input: :math:`(N, C)`, :math:`(C)` or :math:`(N, C, d_1, ...)` logits.
        - Target: class indices :math:`(N)` / :math:`()` / :math:`(N, d_1, ...)` (int64), or class
          probabilities of the input's shape.
        - Output: a scalar, or the target's shape with ``reduction='none'``.

    Examples::

        >>> import tinytorch as tt
        >>> loss = CrossEntropyLoss()
        >>> loss(tt.zeros(3, 5), tt.tensor([1, 0, 4])).item()  # log(5)
        1.6094379425048828
    """

    def __init__(self, weight: Any = None, ignore_index: int = -100, reduction: str = "mean",
                 label_smoothing: float = 0.0):
        super().__init__(weight, reduction)
        self.ignore_index = ignore_index
        self.label_smoothing = label_smoothing

    def forward(self, input: Any, target: Any) -> Any:
        return F.cross_entropy(input, target, self.weight, self.ignore_index, self.reduction, self.label_smoothing)


class NLLLoss(_WeightedLoss):
    r"""Negative log likelihood of log-probabilities: :math:`\ell_n = -w_{y_n} x_{n, y_n}`.

    Args:
        weight: a manual rescaling weight per class, shape (C). Default: None.
        ignore_index: a target value that is ignored. Default: -100.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``. Default: ``'mean'``.

    Shape:
        - Input: :math:`(N, C)`, :math:`(C)` or :math:`(N, C, d_1, ...)` log-probabilities.
        - Target: :math:`(N)` / :math:`()` / :math:`(N, d_1, ...)` int64 class indices.
        - Output: a scalar, or the target's shape with ``reduction='none'``.

    Examples::

        >>> import tinytorch as tt
        >>> NLLLoss()(tt.tensor([[-1.0, -2.0]]), tt.tensor([1])).item()
        2.0
    """

    def __init__(self, weight: Any = None, ignore_index: int = -100, reduction: str = "mean"):
        super().__init__(weight, reduction)
        self.ignore_index = ignore_index

    def forward(self, input: Any, target: Any) -> Any:
        return F.nll_loss(input, target, self.weight, self.ignore_index, self.reduction)


class MSELoss(_Loss):
    r"""Mean squared error: :math:`\ell_n = (x_n - y_n)^2`, reduced.

    Args:
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``. Default: ``'mean'``.

    Shape: input and target of the same (any) shape; output scalar, or that shape with ``'none'``.

    Examples::

        >>> import tinytorch as tt
        >>> MSELoss()(tt.tensor([1.0, 2.0]), tt.tensor([1.0, 4.0])).item()
        2.0
    """

    def forward(self, input: Any, target: Any) -> Any:
        return F.mse_loss(input, target, self.reduction)


class L1Loss(_Loss):
    r"""Mean absolute error: :math:`\ell_n = |x_n - y_n|`, reduced.

    Args:
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``. Default: ``'mean'``.

    Shape: input and target of the same (any) shape; output scalar, or that shape with ``'none'``.
    """

    def forward(self, input: Any, target: Any) -> Any:
        return F.l1_loss(input, target, self.reduction)


class SmoothL1Loss(_Loss):
    r"""Squared error below ``beta`` (scaled by ``1 / beta``), absolute error above it, reduced.

    Args:
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``. Default: ``'mean'``.
        beta: where the loss turns from squared to absolute. Default: 1.0.
    """

    def __init__(self, reduction: str = "mean", beta: float = 1.0):
        super().__init__(reduction)
        self.beta = beta

    def forward(self, input: Any, target: Any) -> Any:
        return F.smooth_l1_loss(input, target, self.reduction, self.beta)


class HuberLoss(_Loss):
    r"""Squared error below ``delta``, ``delta`` times the absolute error above it, reduced.

    Args:
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``. Default: ``'mean'``.
        delta: where the loss turns from squared to linear. Default: 1.0.
    """

    def __init__(self, reduction: str = "mean", delta: float = 1.0):
        super().__init__(reduction)
        self.delta = delta

    def forward(self, input: Any, target: Any) -> Any:
        return F.huber_loss(input, target, self.reduction, self.delta)


class KLDivLoss(Module):
    r"""Kullback-Leibler divergence :math:`\ell_n = y_n (\log y_n - x_n)` of log-probabilities ``x``.

    Args:
        reduction: ``'none'`` | ``'batchmean'`` | ``'sum'`` | ``'mean'``. Default: ``'mean'``
            (as PyTorch; ``'batchmean'`` is the true divergence per sample).
        log_target: the target is given as log-probabilities too. Default: False.
    """

    def __init__(self, reduction: str = "mean", log_target: bool = False):
        super().__init__()
        if reduction not in ("mean", "sum", "none", "batchmean"):
            raise ValueError(f"{reduction} is not a valid value for reduction")
        self.reduction, self.log_target = reduction, log_target

    def forward(self, input: Any, target: Any) -> Any:
        return F.kl_div(input, target, self.reduction, self.log_target)


class BCELoss(_Loss):
    r"""Binary cross entropy on probabilities: :math:`\ell_n = -w_n [y_n \log x_n + (1 - y_n) \log(1 - x_n)]`,
    each log clipped at -100 (as PyTorch). Prefer :class:`BCEWithLogitsLoss` on logits: it is stable.

    Args:
        weight: a rescaling weight broadcast over the elements. Default: None.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``. Default: ``'mean'``.

    Shape: input and target of the same shape; output scalar, or that shape with ``'none'``.

    Examples::

        >>> import tinytorch as tt
        >>> round(BCELoss()(tt.full((4,), 0.5), tt.ones(4)).item(), 4)  # log(2)
        0.6931
    """

    def __init__(self, weight: Any = None, reduction: str = "mean"):
        super().__init__(reduction)
        self.register_buffer("weight", weight)

    def forward(self, input: Any, target: Any) -> Any:
        return F.binary_cross_entropy(input, target, self.weight, self.reduction)


class BCEWithLogitsLoss(_Loss):
    r"""Binary cross entropy on logits (sigmoid and BCE in one numerically stable step):
    :math:`\ell_n = -w_n [p\, y_n \log \sigma(x_n) + (1 - y_n) \log(1 - \sigma(x_n))]`.

    Args:
        weight: a rescaling weight broadcast over the elements. Default: None.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``. Default: ``'mean'``.
        pos_weight: weight p of positive examples, broadcast over the class dim. Default: None.

    Shape: input and target of the same shape; output scalar, or that shape with ``'none'``.

    Examples::

        >>> import tinytorch as tt
        >>> round(BCEWithLogitsLoss()(tt.zeros(4), tt.ones(4)).item(), 4)  # log(2)
        0.6931
    """

    def __init__(self, weight: Any = None, reduction: str = "mean", pos_weight: Any = None):
        super().__init__(reduction)
        self.register_buffer("weight", weight)
        self.register_buffer("pos_weight", pos_weight)

    def forward(self, input: Any, target: Any) -> Any:
        return F.binary_cross_entropy_with_logits(input, target, self.weight, self.reduction, self.pos_weight)
