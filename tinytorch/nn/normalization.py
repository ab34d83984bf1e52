"""Normalisation layers: BatchNorm (statistics over the batch), LayerNorm and RMSNorm (over
features), GroupNorm (over groups of channels), InstanceNorm (over each example's own planes)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..distributed import get_world_size, is_initialized
from ..ndarray import int64
from ..ops import ones, tensor, zeros
from ..tensor import no_grad
from . import functional as F
from . import init
from .module import Module
from .parameter import Parameter


class _BatchNorm(Module):
    _expected_dims: tuple[int, ...] = ()

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = True,
                 track_running_stats: bool = True, device: Any = None, dtype: Any = None, *, bias: bool = True):
        super().__init__()
        self.num_features = num_features
        self.eps = eps
        self.momentum = momentum
        self.affine = affine
        self.track_running_stats = track_running_stats
        if affine:
            self.weight = Parameter(ones(num_features, device=device, dtype=dtype))
        else:
            self.register_parameter("weight", None)
        if affine and bias:
            self.bias = Parameter(zeros(num_features, device=device, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        if track_running_stats:
            self.register_buffer("running_mean", zeros(num_features, device=device, dtype=dtype))
            self.register_buffer("running_var", ones(num_features, device=device, dtype=dtype))
            self.register_buffer("num_batches_tracked", tensor(0, dtype=int64, device=device))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)

    def reset_running_stats(self) -> None:
        if self.track_running_stats:
            init.zeros_(self.running_mean)
            init.ones_(self.running_var)
            with no_grad():
                self.num_batches_tracked.data[...] = 0

    def reset_parameters(self) -> None:
        self.reset_running_stats()
        if self.weight is not None:
            init.ones_(self.weight)
        if self.bias is not None:
            init.zeros_(self.bias)

    def _check_input_dim(self, input: Any) -> None:
        if input.ndim not in self._expected_dims:
            raise ValueError(f"expected {' or '.join(f'{d}D' for d in self._expected_dims)} input "
                             f"(got {input.ndim}D input)")

    def forward(self, input: Any) -> Any:
        self._check_input_dim(input)
        if input.shape[1] != self.num_features:
            raise ValueError(f"expected {self.num_features} channels in dim 1, got input of shape {tuple(input.shape)}")
        momentum = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats:
            self.num_batches_tracked += 1
            if self.momentum is None:  # cumulative moving average
                momentum = 1.0 / float(self.num_batches_tracked.item())
        # Batch statistics while training, or whenever there are no running ones to use; the
        # running buffers are updated in training and read in evaluation.
        use_batch_stats = self.training or self.running_mean is None
        return F.batch_norm(input, self.running_mean, self.running_var, self.weight, self.bias,
                            use_batch_stats, momentum, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"bias={self.bias is not None}, track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    r"""Batch normalisation over a 2-D (N, C) or 3-D (N, C, L) input.

    .. math:: y = \frac{x - E[x]}{\sqrt{Var[x] + \epsilon}} * \gamma + \beta

    In training the mean and (biased) variance are those of the batch, per channel, and the
    running estimates are updated as ``running = (1 - momentum) * running + momentum * batch``
    with the *unbiased* batch variance; in ``eval()`` mode the running estimates are used.

    Args:
        num_features: C, the number of channels.
        eps: added to the variance for stability. Default: 1e-5.
        momentum: weight of the new batch in the running estimates; None for a cumulative
            average. Default: 0.1.
        affine: learnable ``weight`` (gamma, init 1) and ``bias`` (beta, init 0). Default: True.
        bias: (keyword only) with ``affine``, whether to learn the bias too. Default: True.
        track_running_stats: keep running estimates (else batch statistics are used in eval too).
            Default: True.

    Shape:
        - Input: :math:`(N, C)` or :math:`(N, C, L)`; output: the same.

    Examples::

        >>> m = BatchNorm1d(100)
        >>> m(tt.randn(20, 100)).shape
        (20, 100)
    """

    _expected_dims = (2, 3)


class BatchNorm2d(_BatchNorm):
    r"""Batch normalisation over a 4-D (N, C, H, W) input: statistics per channel over N, H and W.

    Arguments, running statistics and modes are as in :class:`BatchNorm1d`.

    Shape:
        - Input: :math:`(N, C, H, W)`; output: the same.

    Examples::

        >>> m = BatchNorm2d(3)
        >>> m(tt.randn(4, 3, 5, 5)).shape
        (4, 3, 5, 5)
    """

    _expected_dims = (4,)


class BatchNorm3d(_BatchNorm):
    r"""Batch normalisation over a 5-D (N, C, D, H, W) input: statistics per channel over N, D, H
    and W; arguments, running statistics and modes as in :class:`BatchNorm1d`."""

    _expected_dims = (5,)


class LayerNorm(Module):
    r"""Layer normalisation over the last dims given by ``normalized_shape``, per example:

    .. math:: y = \frac{x - E[x]}{\sqrt{Var[x] + \epsilon}} * \gamma + \beta

    (biased variance; the same computation in training and evaluation).

    Args:
        normalized_shape: the trailing shape to normalise over (int or tuple).
        eps: added to the variance for stability. Default: 1e-5.
        elementwise_affine: learnable ``weight`` (init 1) and ``bias`` (init 0) of that shape.
            Default: True.
        bias: if False (with ``elementwise_affine``), no bias. Default: True.

    Shape:
        - Input: :math:`(N, *)`; output: the same.

    Examples::

        >>> m = LayerNorm(10)
        >>> m(tt.randn(20, 5, 10)).shape
        (20, 5, 10)
    """

    def __init__(self, normalized_shape: int | Sequence[int], eps: float = 1e-5, elementwise_affine: bool = True,
                 bias: bool = True, device: Any = None, dtype: Any = None):
        super().__init__()
        shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
        self.normalized_shape = shape
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        if elementwise_affine:
            self.weight = Parameter(ones(*shape, device=device, dtype=dtype))
            if bias:
                self.bias = Parameter(zeros(*shape, device=device, dtype=dtype))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)

    def forward(self, input: Any) -> Any:
        return F.layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}, "
                f"bias={self.bias is not None}")


class GroupNorm(Module):
    r"""Group normalisation: the channels of each example are split into ``num_groups`` groups,
    each normalised by its own mean and (biased) variance; then a per-channel affine map.
    The same computation in training and evaluation.

    Args:
        num_groups: number of groups (must divide ``num_channels``).
        num_channels: C.
        eps: added to the variance. Default: 1e-5.
        affine: learnable per-channel ``weight`` (init 1) and ``bias`` (init 0). Default: True.
        bias: (keyword only) with ``affine``, whether to learn the bias. Default: True.

    Shape:
        - Input: :math:`(N, C, *)`; output: the same.

    Examples::

        >>> m = GroupNorm(3, 6)
        >>> m(tt.randn(20, 6, 10, 10)).shape
        (20, 6, 10, 10)
    """

    def __init__(self, num_groups: int, num_channels: int, eps: float = 1e-5, affine: bool = True,
                 device: Any = None, dtype: Any = None, *, bias: bool = True):
        super().__init__()
        if num_channels % num_groups:
            raise ValueError("num_channels must be divisible by num_groups")
        self.num_groups = num_groups
        self.num_channels = num_channels
        self.eps = eps
        self.affine = affine
        if affine:
            self.weight = Parameter(ones(num_channels, device=device, dtype=dtype))
        else:
            self.register_parameter("weight", None)
        if affine and bias:
            self.bias = Parameter(zeros(num_channels, device=device, dtype=dtype))
        else:
            self.register_parameter("bias", None)

    def reset_parameters(self) -> None:
        if self.weight is not None:
            init.ones_(self.weight)
        if self.bias is not None:
            init.zeros_(self.bias)

    def forward(self, input: Any) -> Any:
        return F.group_norm(input, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}, "
                f"bias={self.bias is not None}")


class _InstanceNorm(_BatchNorm):
    """Instance normalisation: each channel of each example normalised over its spatial dims.
    Parameters and buffers as :class:`_BatchNorm`'s (PyTorch's state_dict keys), other defaults."""

    _batched_dims = 3

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = False,
                 track_running_stats: bool = False, device: Any = None, dtype: Any = None, *, bias: bool = True):
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device, dtype, bias=bias)

    def forward(self, input: Any) -> Any:
        batched = self._batched_dims
        if input.ndim not in (batched - 1, batched):
            raise ValueError(f"expected {batched - 1}D or {batched}D input (got {input.ndim}D input)")
        channel = 1 if input.ndim == batched else 0
        if self.affine and input.shape[channel] != self.num_features:
            raise ValueError(f"expected input's size at dim={channel} to match num_features ({self.num_features}), "
                             f"but got: {input.shape[channel]}.")
        x = input if input.ndim == batched else input.unsqueeze(0)
        # the example's own statistics while training, or always when no running ones are kept
        use_input_stats = self.training or not self.track_running_stats
        out = F.instance_norm(x, self.running_mean, self.running_var, self.weight, self.bias, use_input_stats,
                              self.momentum if self.momentum is not None else 0.0, self.eps)
        return out if input.ndim == batched else out.squeeze(0)


class InstanceNorm1d(_InstanceNorm):
    r"""Instance normalisation of an (N, C, L) or (C, L) input: every (example, channel) signal
    normalised by its own mean and biased variance.

    Args:
        num_features: C.
        eps: added to the variance. Default: 1e-5.
        momentum: for the running estimates (with ``track_running_stats``). Default: 0.1.
        affine: learnable per-channel ``weight`` and ``bias``. Default: False.
        track_running_stats: keep running mean/variance (the batch average of each example's,
            variance unbiased) and use them in ``eval()`` mode. Default: False.

    Examples::

        >>> m = InstanceNorm1d(100)
        >>> m(tt.randn(20, 100, 40)).shape
        (20, 100, 40)
    """

    _batched_dims = 3


class InstanceNorm2d(_InstanceNorm):
    r"""Instance normalisation of an (N, C, H, W) or (C, H, W) input: every (example, channel)
    plane normalised by its own mean and biased variance. Arguments as :class:`InstanceNorm1d`.

    Examples::

        >>> m = InstanceNorm2d(3, affine=True)
        >>> m(tt.randn(2, 3, 5, 5)).shape
        (2, 3, 5, 5)
    """

    _batched_dims = 4


class InstanceNorm3d(_InstanceNorm):
    r"""Instance normalisation of an (N, C, D, H, W) or (C, D, H, W) input, per (example, channel)
    volume. Arguments as :class:`InstanceNorm1d`."""

    _batched_dims = 5


class RMSNorm(Module):
    r"""Root-mean-square normalisation over the trailing ``normalized_shape``:
    :math:`y = x / \sqrt{mean(x^2) + \epsilon} * \gamma` (no centring, no bias).

    Args:
        normalized_shape: the trailing shape to normalise over (int or tuple).
        eps: added to the mean square; None means the machine epsilon of the input's dtype.
        elementwise_affine: a learnable ``weight`` of that shape (init 1). Default: True.

    Examples::

        >>> m = RMSNorm([2, 3])
        >>> m(tt.randn(2, 2, 3)).shape
        (2, 2, 3)
    """

    def __init__(self, normalized_shape: int | Sequence[int], eps: float | None = None,
                 elementwise_affine: bool = True, device: Any = None, dtype: Any = None):
        super().__init__()
        self.normalized_shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        if elementwise_affine:
            self.weight = Parameter(ones(*self.normalized_shape, device=device, dtype=dtype))
        else:
            self.register_parameter("weight", None)

    def reset_parameters(self) -> None:
        if self.weight is not None:
            init.ones_(self.weight)

    def forward(self, x: Any) -> Any:
        return F.rms_norm(x, self.normalized_shape, self.weight, self.eps)

    def extra_repr(self) -> str:
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"


class LocalResponseNorm(Module):
    r"""Local response normalisation across channels (AlexNet):
    :math:`b_c = a_c / (k + \frac{\alpha}{n} \sum_{c'} a_{c'}^2)^{\beta}`, the sum over the
    ``size`` channels around c.

    Examples::

        >>> LocalResponseNorm(2)(tt.randn(32, 5, 24, 24)).shape
        (32, 5, 24, 24)
    """

    def __init__(self, size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 1.0):
        super().__init__()
        self.size = size
        self.alpha = alpha
        self.beta = beta
        self.k = k

    def forward(self, input: Any) -> Any:
        return F.local_response_norm(input, self.size, self.alpha, self.beta, self.k)

    def extra_repr(self) -> str:
        return f"{self.size}, alpha={self.alpha}, beta={self.beta}, k={self.k}"


class SyncBatchNorm(_BatchNorm):
    """Batch normalisation over any input of 2 or more dims, ``(N, C, ...)``, with the statistics
    of the batch across all processes in PyTorch. tinytorch computes them on this process's
    batch only, so it is exactly ``BatchNorm*d`` in a single process; training with it in a
    process group of more than one process raises ``NotImplementedError`` rather than silently
    use per-process statistics. :meth:`convert_sync_batchnorm` swaps a model's batch norms for it.
    """

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = True,
                 track_running_stats: bool = True, process_group: Any = None, device: Any = None, dtype: Any = None):
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device, dtype)
        self.process_group = process_group

    def _check_input_dim(self, input: Any) -> None:
        if input.ndim < 2:
            raise ValueError(f"expected at least 2D input (got {input.ndim}D input)")
        if self.training and is_initialized() and get_world_size(self.process_group) > 1:
            raise NotImplementedError("tinytorch's SyncBatchNorm does not synchronise statistics across processes; "
                                      "use BatchNorm (per-process statistics) or one process")

    @classmethod
    def convert_sync_batchnorm(cls, module: Module, process_group: Any = None) -> Module:
        """``module`` with every ``BatchNorm1d``/``BatchNorm2d`` inside it (or itself) replaced by a
        SyncBatchNorm holding the same parameters and running statistics."""
        if isinstance(module, (BatchNorm1d, BatchNorm2d)):
            sync = cls(module.num_features, module.eps, module.momentum, module.affine, module.track_running_stats,
                       process_group)
            sync._parameters.update(module._parameters)
            sync._buffers.update(module._buffers)
            sync.train(module.training)
            return sync
        for name, child in list(module.named_children()):
            module.add_module(name, cls.convert_sync_batchnorm(child, process_group))
        return module
