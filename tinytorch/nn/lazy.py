"""Lazy layers: ``nn.LazyLinear(out_features)`` and friends learn their input size from the first
batch they see, so a model can be written without computing every layer's fan-in (the style of
the "Dive into Deep Learning" book).

Until that first call the weights are :class:`~tinytorch.nn.parameter.UninitializedParameter`
placeholders with no elements. The call gives them their shapes in place -- the same parameter
objects, so an optimizer built earlier holds the real weights -- initialises them as the
ordinary layer would, and turns the module into that ordinary layer (``LazyLinear`` becomes
``Linear``), as PyTorch does. As in PyTorch, build the optimizer after a first (dry-run) call
if it needs the shapes, and load a ``state_dict`` after it.
"""

from __future__ import annotations

from typing import Any

from ..ops import ones, zeros
from .conv import Conv1d, Conv2d, ConvTranspose1d, ConvTranspose2d
from .linear import Linear
from .normalization import BatchNorm1d, BatchNorm2d
from .parameter import UninitializedParameter


class LazyModuleMixin:
    """Runs ``initialize_parameters(*inputs)`` before the first call, then becomes
    ``cls_to_become``."""

    cls_to_become: type | None = None

    def has_uninitialized_params(self) -> bool:
        return any(isinstance(p, UninitializedParameter) for p in self._parameters.values())  # type: ignore[attr-defined]

    def initialize_parameters(self, *args: Any, **kwargs: Any) -> None:
        raise NotImplementedError

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self.has_uninitialized_params():
            self.initialize_parameters(*args, **kwargs)
            if self.cls_to_become is not None:
                self.__class__ = self.cls_to_become
                return self(*args, **kwargs)  # the ordinary layer's call, hooks included
        return super().__call__(*args, **kwargs)  # type: ignore[misc]


def _placeholders(module: Any, names: tuple[str, ...]) -> None:
    """Replace the module's parameters ``names`` (those it has) by uninitialised ones."""
    for name in names:
        p = module._parameters.get(name)
        if p is not None:
            setattr(module, name, UninitializedParameter(p.requires_grad, p.device, p.dtype))


class LazyLinear(LazyModuleMixin, Linear):
    """``Linear`` whose ``in_features`` is the last dim of its first input."""

    cls_to_become = Linear

    def __init__(self, out_features: int, bias: bool = True, device: Any = None, dtype: Any = None):
        super().__init__(1, out_features, bias, device, dtype)
        self.in_features = 0
        _placeholders(self, ("weight", "bias"))

    def initialize_parameters(self, input: Any) -> None:
        self.in_features = input.shape[-1]
        self.weight.materialize((self.out_features, self.in_features))
        if self.bias is not None:
            self.bias.materialize((self.out_features,))
        self.reset_parameters()


class _LazyConv(LazyModuleMixin):
    """The shared part of the lazy convolutions: ``in_channels`` from the input's channel dim."""

    _nd: int
    _transposed: bool

    def _lazy_start(self) -> None:
        self.in_channels = 0
        _placeholders(self, ("weight", "bias"))

    def initialize_parameters(self, input: Any, *args: Any) -> None:
        channels = input.shape[0 if input.ndim == self._nd + 1 else 1]  # unbatched input: (C, *spatial)
        groups, out = self.groups, self.out_channels  # type: ignore[attr-defined]
        if channels % groups:
            raise ValueError("in_channels must be divisible by groups")
        self.in_channels = channels
        shape = (channels, out // groups) if self._transposed else (out, channels // groups)
        self.weight.materialize(shape + tuple(self.kernel_size))  # type: ignore[attr-defined]
        if self.bias is not None:  # type: ignore[attr-defined]
            self.bias.materialize((out,))  # type: ignore[attr-defined]
        self.reset_parameters()  # type: ignore[attr-defined]


class _LazyPlainConv(_LazyConv):
    def __init__(self, out_channels: int, kernel_size: Any, stride: Any = 1, padding: Any = 0, dilation: Any = 1,
                 groups: int = 1, bias: bool = True, padding_mode: str = "zeros", device: Any = None,
                 dtype: Any = None):
        super().__init__(groups, out_channels, kernel_size, stride, padding, dilation, groups, bias,  # type: ignore[call-arg]
                         padding_mode, device=device, dtype=dtype)
        self._lazy_start()


class _LazyTransposedConv(_LazyConv):
    def __init__(self, out_channels: int, kernel_size: Any, stride: Any = 1, padding: Any = 0,
                 output_padding: Any = 0, groups: int = 1, bias: bool = True, dilation: Any = 1,
                 padding_mode: str = "zeros", device: Any = None, dtype: Any = None):
        super().__init__(groups, out_channels, kernel_size, stride, padding, output_padding,  # type: ignore[call-arg]
                         groups, bias, dilation, padding_mode, device=device, dtype=dtype)
        self._lazy_start()


class LazyConv1d(_LazyPlainConv, Conv1d):
    """``Conv1d`` whose ``in_channels`` comes from its first input."""

    cls_to_become = Conv1d


class LazyConv2d(_LazyPlainConv, Conv2d):
    """``Conv2d`` whose ``in_channels`` comes from its first input."""

    cls_to_become = Conv2d


class LazyConvTranspose1d(_LazyTransposedConv, ConvTranspose1d):
    """``ConvTranspose1d`` whose ``in_channels`` comes from its first input."""

    cls_to_become = ConvTranspose1d


class LazyConvTranspose2d(_LazyTransposedConv, ConvTranspose2d):
    """``ConvTranspose2d`` whose ``in_channels`` comes from its first input."""

    cls_to_become = ConvTranspose2d


class _LazyNorm(LazyModuleMixin):
    """The shared part of the lazy batch norms: ``num_features`` from the input's dim 1."""

    def __init__(self, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = True,
                 track_running_stats: bool = True, device: Any = None, dtype: Any = None):
        super().__init__(0, eps, momentum, affine, track_running_stats, device, dtype)  # type: ignore[call-arg]
        self.num_features = 0
        _placeholders(self, ("weight", "bias"))

    def has_uninitialized_params(self) -> bool:
        return self.num_features == 0

    def initialize_parameters(self, input: Any) -> None:
        n = input.shape[1]
        self.num_features = n
        for name in ("weight", "bias"):
            p = self._parameters.get(name)  # type: ignore[attr-defined]
            if p is not None:
                p.materialize((n,))
        if self.track_running_stats:  # type: ignore[attr-defined]
            like = {"device": input.device, "dtype": input.dtype}
            self.running_mean = zeros(n, **like)
            self.running_var = ones(n, **like)
        self.reset_parameters()  # type: ignore[attr-defined]


class LazyBatchNorm1d(_LazyNorm, BatchNorm1d):
    """``BatchNorm1d`` whose ``num_features`` comes from its first input."""

    cls_to_become = BatchNorm1d


class LazyBatchNorm2d(_LazyNorm, BatchNorm2d):
    """``BatchNorm2d`` whose ``num_features`` comes from its first input."""

    cls_to_become = BatchNorm2d


__all__ = ["LazyModuleMixin", "LazyLinear", "LazyConv1d", "LazyConv2d", "LazyConvTranspose1d", "LazyConvTranspose2d",
           "LazyBatchNorm1d", "LazyBatchNorm2d"]
