"""Loss modules: each stores its options and calls the matching ``nn.functional`` function."""

from __future__ import annotations

from typing import Any

from . import functional as F
from .module import Module


def _reduction(size_average: bool | None, reduce: bool | None, reduction: str) -> str:
    """PyTorch's deprecated ``size_average`` / ``reduce`` pair, when given, overrides ``reduction``."""
    return F._legacy_reduction(size_average, reduce, reduction)


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
        size_average, reduce: PyTorch's deprecated pair; when given they override ``reduction``.

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

    def __init__(self, weight: Any = None, size_average: bool | None = None, ignore_index: int = -100,
                 reduce: bool | None = None, reduction: str = "mean", label_smoothing: float = 0.0):
        super().__init__(weight, _reduction(size_average, reduce, reduction))
        self.ignore_index = ignore_index
        self.label_smoothing = label_smoothing

    def forward(self, input: Any, target: Any) -> Any:
        return F.cross_entropy(input, target, self.weight, ignore_index=self.ignore_index, reduction=self.reduction,
                               label_smoothing=self.label_smoothing)


class NLLLoss(_WeightedLoss):
    r"""Negative log likelihood of log-probabilities: :math:`\ell_n = -w_{y_n} x_{n, y_n}`.

    Args:
        weight: a manual rescaling weight per class, shape (C). Default: None.
        ignore_index: a target value that is ignored. Default: -100.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``. ``'mean'`` divides by the total weight of
            the counted targets. Default: ``'mean'``.
        size_average, reduce: PyTorch's deprecated pair; when given they override ``reduction``.

    Shape:
        - Input: :math:`(N, C)`, :math:`(C)` or :math:`(N, C, d_1, ...)` log-probabilities.
        - Target: :math:`(N)` / :math:`()` / :math:`(N, d_1, ...)` int64 class indices.
        - Output: a scalar, or the target's shape with ``reduction='none'``.

    Examples::

        >>> import tinytorch as tt
        >>> NLLLoss()(tt.tensor([[-1.0, -2.0]]), tt.tensor([1])).item()
        2.0
    """

    def __init__(self, weight: Any = None, size_average: bool | None = None, ignore_index: int = -100,
                 reduce: bool | None = None, reduction: str = "mean"):
        super().__init__(weight, _reduction(size_average, reduce, reduction))
        self.ignore_index = ignore_index

    def forward(self, input: Any, target: Any) -> Any:
        return F.nll_loss(input, target, self.weight, ignore_index=self.ignore_index, reduction=self.reduction)


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


# ---------------------------------------------------------------------- more losses (issue 12)
# Each takes PyTorch's arguments in PyTorch's order, the deprecated ``size_average`` / ``reduce``
# included (when given they override ``reduction``, as PyTorch's do).
class PoissonNLLLoss(_Loss):
    r"""Poisson negative log likelihood: :math:`e^{x} - y x` (``log_input``) or :math:`x - y \log(x + eps)`.

    Args:
        log_input: the input is the log of the rate. Default: True.
        full: add Stirling's term for ``log(y!)`` (where ``y > 1``). Default: False.
        eps: keeps ``log`` away from 0 when ``log_input=False``. Default: 1e-8.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``. Default: ``'mean'``.

    Shape: input and target of one (any) shape; output scalar, or that shape with ``'none'``.
    """

    def __init__(self, log_input: bool = True, full: bool = False, size_average: bool | None = None,
                 eps: float = 1e-8, reduce: bool | None = None, reduction: str = "mean"):
        super().__init__(_reduction(size_average, reduce, reduction))
        self.log_input, self.full, self.eps = log_input, full, eps

    def forward(self, log_input: Any, target: Any) -> Any:
        return F.poisson_nll_loss(log_input, target, self.log_input, self.full, eps=self.eps,
                                  reduction=self.reduction)


class GaussianNLLLoss(_Loss):
    r"""Gaussian negative log likelihood :math:`\frac12 (\log \max(v, eps) + (x - y)^2 / \max(v, eps))`.

    Args:
        full: add the constant :math:`\frac12 \log 2\pi`. Default: False.
        eps: the smallest variance used. Default: 1e-6.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``. Default: ``'mean'``.

    Shape: input (N, *) or (*); target the same; var the same, or without the last dim, or with
    size 1 in one dim (one variance shared along it), or a float.
    """

    def __init__(self, *, full: bool = False, eps: float = 1e-6, reduction: str = "mean"):
        super().__init__(reduction)
        self.full, self.eps = full, eps

    def forward(self, input: Any, target: Any, var: Any) -> Any:
        return F.gaussian_nll_loss(input, target, var, full=self.full, eps=self.eps, reduction=self.reduction)


class MarginRankingLoss(_Loss):
    r"""Ranking hinge :math:`\max(0, -y (x_1 - x_2) + \text{margin})` for ``y`` in {1, -1}.

    Args:
        margin: Default: 0. reduction: ``'none'`` | ``'mean'`` | ``'sum'``. Default: ``'mean'``.
    """

    def __init__(self, margin: float = 0.0, size_average: bool | None = None, reduce: bool | None = None,
                 reduction: str = "mean"):
        super().__init__(_reduction(size_average, reduce, reduction))
        self.margin = margin

    def forward(self, input1: Any, input2: Any, target: Any) -> Any:
        return F.margin_ranking_loss(input1, input2, target, margin=self.margin, reduction=self.reduction)


class HingeEmbeddingLoss(_Loss):
    r""":math:`x` where ``y = 1``, :math:`\max(0, \text{margin} - x)` where ``y = -1``.

    Args:
        margin: Default: 1.0. reduction: ``'none'`` | ``'mean'`` | ``'sum'``. Default: ``'mean'``.
    """

    def __init__(self, margin: float = 1.0, size_average: bool | None = None, reduce: bool | None = None,
                 reduction: str = "mean"):
        super().__init__(_reduction(size_average, reduce, reduction))
        self.margin = margin

    def forward(self, input: Any, target: Any) -> Any:
        return F.hinge_embedding_loss(input, target, margin=self.margin, reduction=self.reduction)


class CosineEmbeddingLoss(_Loss):
    r""":math:`1 - \cos(x_1, x_2)` where ``y = 1``, :math:`\max(0, \cos(x_1, x_2) - \text{margin})` where ``y = -1``.

    Args:
        margin: in [-1, 1]. Default: 0. reduction: ``'none'`` | ``'mean'`` | ``'sum'``. Default: ``'mean'``.

    Shape: inputs (N, D) or (D); target (N) or ().
    """

    def __init__(self, margin: float = 0.0, size_average: bool | None = None, reduce: bool | None = None,
                 reduction: str = "mean"):
        super().__init__(_reduction(size_average, reduce, reduction))
        self.margin = margin

    def forward(self, input1: Any, input2: Any, target: Any) -> Any:
        return F.cosine_embedding_loss(input1, input2, target, margin=self.margin, reduction=self.reduction)


class TripletMarginLoss(_Loss):
    r""":math:`\max(0, d(a, p) - d(a, n) + \text{margin})` with :math:`d` the p-norm distance.

    Args:
        margin: Default: 1.0. p: the norm degree. Default: 2. eps: added to the differences. Default: 1e-6.
        swap: use the smaller of ``d(a, n)`` and ``d(p, n)``. Default: False.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``. Default: ``'mean'``.

    Shape: anchor, positive, negative (N, D) or (D); output (N) or () with ``'none'``.
    """

    def __init__(self, margin: float = 1.0, p: float = 2.0, eps: float = 1e-6, swap: bool = False,
                 size_average: bool | None = None, reduce: bool | None = None, reduction: str = "mean"):
        super().__init__(_reduction(size_average, reduce, reduction))
        if margin <= 0:
            raise ValueError(f"TripletMarginLoss: expected margin to be greater than 0, got {margin} instead")
        self.margin, self.p, self.eps, self.swap = margin, p, eps, swap

    def forward(self, anchor: Any, positive: Any, negative: Any) -> Any:
        return F.triplet_margin_loss(anchor, positive, negative, margin=self.margin, p=self.p, eps=self.eps,
                                     swap=self.swap, reduction=self.reduction)


class CTCLoss(_Loss):
    """The connectionist temporal classification loss of :func:`F.ctc_loss`: ``forward(log_probs,
    targets, input_lengths, target_lengths)`` with ``log_probs`` (T, N, C) from ``log_softmax``.

    Args:
        blank: the blank class. Default: 0.
        reduction: ``'none'`` | ``'mean'`` (each loss over its target length, then the batch
            mean) | ``'sum'``. Default: ``'mean'``.
        zero_infinity: an impossible alignment costs 0 instead of ``inf``. Default: False.
    """

    def __init__(self, blank: int = 0, reduction: str = "mean", zero_infinity: bool = False):
        super().__init__(reduction)
        self.blank, self.zero_infinity = blank, zero_infinity

    def forward(self, log_probs: Any, targets: Any, input_lengths: Any, target_lengths: Any) -> Any:
        return F.ctc_loss(log_probs, targets, input_lengths, target_lengths, self.blank, self.reduction,
                          self.zero_infinity)


class TripletMarginWithDistanceLoss(_Loss):
    r""":math:`\max(0, d(a, p) - d(a, n) + \text{margin})` with any distance function ``d``
    (default: the pairwise 2-norm distance); ``swap`` as :class:`TripletMarginLoss`."""

    def __init__(self, *, distance_function: Any = None, margin: float = 1.0, swap: bool = False,
                 reduction: str = "mean"):
        super().__init__(reduction)
        if margin <= 0:
            raise ValueError(f"TripletMarginWithDistanceLoss: expected margin to be greater than 0, got {margin} "
                             f"instead")
        self.distance_function, self.margin, self.swap = distance_function, margin, swap

    def forward(self, anchor: Any, positive: Any, negative: Any) -> Any:
        return F.triplet_margin_with_distance_loss(anchor, positive, negative, distance_function=self.distance_function,
                                                   margin=self.margin, swap=self.swap, reduction=self.reduction)


class SoftMarginLoss(_Loss):
    r"""The two-class logistic loss :math:`\log(1 + e^{-y x})` for ``y`` in {1, -1}.

    Args:
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``. Default: ``'mean'``.
    """

    def __init__(self, size_average: bool | None = None, reduce: bool | None = None, reduction: str = "mean"):
        super().__init__(_reduction(size_average, reduce, reduction))

    def forward(self, input: Any, target: Any) -> Any:
        return F.soft_margin_loss(input, target, reduction=self.reduction)


class MultiLabelSoftMarginLoss(_Loss):
    r"""One-versus-all logistic loss averaged over the classes:
    :math:`-\frac1C \sum_i w_i [y_i \log \sigma(x_i) + (1 - y_i) \log \sigma(-x_i)]`.

    Args:
        weight: a rescaling weight per class, shape (C). Default: None.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``. Default: ``'mean'``.

    Shape: input and target (N, C) or (C); output (N) or () with ``'none'``.
    """

    def __init__(self, weight: Any = None, size_average: bool | None = None, reduce: bool | None = None,
                 reduction: str = "mean"):
        super().__init__(_reduction(size_average, reduce, reduction))
        self.register_buffer("weight", weight)

    def forward(self, input: Any, target: Any) -> Any:
        return F.multilabel_soft_margin_loss(input, target, weight=self.weight, reduction=self.reduction)


class MultiMarginLoss(_Loss):
    r"""Multi-class hinge :math:`\frac1C \sum_{i \ne y} w_y \max(0, \text{margin} - x_y + x_i)^p`.

    Args:
        p: 1 or 2. Default: 1. margin: Default: 1.0. weight: per class, shape (C). Default: None.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``. Default: ``'mean'``.
    """

    def __init__(self, p: int = 1, margin: float = 1.0, weight: Any = None, size_average: bool | None = None,
                 reduce: bool | None = None, reduction: str = "mean"):
        super().__init__(_reduction(size_average, reduce, reduction))
        if p not in (1, 2):
            raise ValueError("only p == 1 and p == 2 supported")
        self.p, self.margin = p, margin
        self.register_buffer("weight", weight)

    def forward(self, input: Any, target: Any) -> Any:
        return F.multi_margin_loss(input, target, p=self.p, margin=self.margin, weight=self.weight,
                                   reduction=self.reduction)


class MultiLabelMarginLoss(_Loss):
    r"""Multi-label hinge: :math:`\frac1C \sum_{j \in y} \sum_{i \notin y} \max(0, 1 - (x_j - x_i))`; the
    target lists the classes of each example, padded after the first -1.

    Args:
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``. Default: ``'mean'``.
    """

    def __init__(self, size_average: bool | None = None, reduce: bool | None = None, reduction: str = "mean"):
        super().__init__(_reduction(size_average, reduce, reduction))

    def forward(self, input: Any, target: Any) -> Any:
        return F.multilabel_margin_loss(input, target, reduction=self.reduction)
