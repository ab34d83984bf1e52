"""``nn.init``: fill a tensor in place from the distributions PyTorch uses.

Why the scales matter: a layer with ``fan_in`` inputs sums ``fan_in`` products, so weights of
variance ``1 / fan_in`` keep the activations' variance roughly constant from layer to layer
(LeCun); ReLU halves it, hence He/Kaiming's ``2 / fan_in``; Glorot/Xavier averages fan-in and
fan-out so that gradients are kept in scale too.

Every function writes into ``tensor`` (without recording a graph) and returns it. The random
numbers come from ``tt.rand``/``tt.randn``, so ``tt.manual_seed`` makes them reproducible.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..ops import clamp, diagonal, erfinv, eye, full, ones
from ..ops import tensor as tensor_
from ..ops.linalg import qr
from ..ops.random import rand, randn, randperm
from ..tensor import no_grad


def _fill(tensor: Any, values: Any) -> Any:
    with no_grad():
        tensor.data[...] = values.to(tensor.device).to(tensor.dtype)
    return tensor


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The recommended scale for weights followed by ``nonlinearity``
    (``linear``/``conv*``/``sigmoid``: 1, ``tanh``: 5/3, ``relu``: sqrt(2),
    ``leaky_relu``: sqrt(2 / (1 + slope^2)) with slope ``param`` (default 0.01), ``selu``: 3/4)."""
    if nonlinearity in ("linear", "conv1d", "conv2d", "conv3d", "sigmoid",
                        "conv_transpose1d", "conv_transpose2d", "conv_transpose3d"):
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else param
        if isinstance(slope, bool) or not isinstance(slope, (int, float)):
            raise ValueError(f"negative_slope {slope} not a valid number")
        return math.sqrt(2.0 / (1 + slope**2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"Unsupported nonlinearity {nonlinearity}")


def _calculate_fan_in_and_fan_out(tensor: Any) -> tuple[int, int]:
    """For a weight of shape ``(out, in, *kernel)``: fan_in = in * prod(kernel), fan_out = out * prod(kernel)."""
    if tensor.ndim < 2:
        raise ValueError("Fan in and fan out can not be computed for tensor with fewer than 2 dimensions")
    receptive = math.prod(tensor.shape[2:])
    return tensor.shape[1] * receptive, tensor.shape[0] * receptive


def _fan(tensor: Any, mode: str) -> int:
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"Mode {mode} not supported, please use one of fan_in, fan_out")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


def uniform_(tensor: Any, a: float = 0.0, b: float = 1.0) -> Any:
    """Fill with U(a, b)."""
    return _fill(tensor, rand(*tensor.shape, dtype=tensor.dtype, device=tensor.device) * (b - a) + a)


def normal_(tensor: Any, mean: float = 0.0, std: float = 1.0) -> Any:
    """Fill with N(mean, std^2)."""
    return _fill(tensor, randn(*tensor.shape, dtype=tensor.dtype, device=tensor.device) * std + mean)


def constant_(tensor: Any, val: float) -> Any:
    """Fill with ``val``."""
    return _fill(tensor, full(tensor.shape, val, dtype=tensor.dtype, device=tensor.device))


def zeros_(tensor: Any) -> Any:
    return constant_(tensor, 0.0)


def ones_(tensor: Any) -> Any:
    return constant_(tensor, 1.0)


def xavier_uniform_(tensor: Any, gain: float = 1.0) -> Any:
    """Glorot: U(-a, a) with a = gain * sqrt(6 / (fan_in + fan_out))."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(tensor, -bound, bound)


def xavier_normal_(tensor: Any, gain: float = 1.0) -> Any:
    """Glorot: N(0, std^2) with std = gain * sqrt(2 / (fan_in + fan_out))."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return normal_(tensor, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)))


def kaiming_uniform_(tensor: Any, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu") -> Any:
    """He: U(-bound, bound) with bound = gain * sqrt(3 / fan), gain = calculate_gain(nonlinearity, a).

    ``nn.Linear`` and ``nn.Conv2d`` use ``a=sqrt(5)``, which gives bound = 1 / sqrt(fan_in)."""
    bound = calculate_gain(nonlinearity, a) * math.sqrt(3.0 / _fan(tensor, mode))
    return uniform_(tensor, -bound, bound)


def kaiming_normal_(tensor: Any, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu") -> Any:
    """He: N(0, std^2) with std = gain / sqrt(fan)."""
    return normal_(tensor, 0.0, calculate_gain(nonlinearity, a) / math.sqrt(_fan(tensor, mode)))


def trunc_normal_(tensor: Any, mean: float = 0.0, std: float = 1.0, a: float = -2.0, b: float = 2.0) -> Any:
    """Fill with N(mean, std^2) truncated to ``[a, b]`` (absolute bounds, as PyTorch's).

    Inverse-CDF sampling: draw u uniformly between the normal CDF's values at the standardised
    bounds, then map it back through the inverse CDF, ``sqrt(2) * erfinv(2u - 1)``; every
    sample lands inside the bounds without rejection. The final clamp only absorbs rounding."""
    def cdf(x: float) -> float:
        return (1.0 + math.erf(x / math.sqrt(2.0))) / 2.0

    lo, hi = cdf((a - mean) / std), cdf((b - mean) / std)
    u = rand(*tensor.shape, dtype=tensor.dtype, device=tensor.device) * (hi - lo) + lo
    z = erfinv(u * 2 - 1) * (std * math.sqrt(2.0)) + mean
    return _fill(tensor, clamp(z, a, b))


def orthogonal_(tensor: Any, gain: float = 1.0) -> Any:
    """Fill with a (semi-)orthogonal matrix times ``gain`` (Saxe et al.): the tensor is seen as
    ``(shape[0], rest)``; its rows (or columns, whichever are fewer) are orthonormal. It is the Q
    of a Gaussian matrix's QR factorisation, with signs fixed by R's diagonal so that Q is
    uniformly distributed."""
    if tensor.ndim < 2:
        raise ValueError("Only tensors with 2 or more dimensions are supported")
    if tensor.numel() == 0:
        return tensor
    rows, cols = tensor.shape[0], tensor.numel() // tensor.shape[0]
    flat = randn(rows, cols, dtype=tensor.dtype, device=tensor.device)
    if rows < cols:
        flat = flat.T
    q, r = qr(flat)
    q = q * diagonal(r).sign()
    if rows < cols:
        q = q.T
    return _fill(tensor, (q * gain).reshape(tensor.shape))


def eye_(tensor: Any) -> Any:
    """Fill a 2-D tensor with the identity (ones on the diagonal of a non-square one too)."""
    if tensor.ndim != 2:
        raise ValueError("Only tensors with 2 dimensions are supported")
    return _fill(tensor, eye(*tensor.shape, dtype=tensor.dtype, device=tensor.device))


def dirac_(tensor: Any, groups: int = 1) -> Any:
    """Fill a 3-, 4- or 5-D convolution weight with the Dirac delta: in each of ``groups``,
    output channel ``i`` copies input channel ``i`` through the kernel's centre, so the
    convolution is the identity on as many channels as both sides have."""
    if tensor.ndim not in (3, 4, 5):
        raise ValueError("Only tensors with 3, 4, or 5 dimensions are supported")
    if tensor.shape[0] % groups != 0:
        raise ValueError("dim 0 must be divisible by groups")
    per_group = tensor.shape[0] // groups
    values = np.zeros(tensor.shape, dtype=tensor.dtype.np_dtype)
    centre = tuple(k // 2 for k in tensor.shape[2:])
    for g in range(groups):
        for i in range(min(per_group, tensor.shape[1])):
            values[(g * per_group + i, i) + centre] = 1
    return _fill(tensor, tensor_(values))


def sparse_(tensor: Any, sparsity: float, std: float = 0.01) -> Any:
    """Fill a 2-D tensor with N(0, std^2) values, then zero ``ceil(sparsity * rows)`` randomly
    chosen entries of every column (Martens 2010)."""
    if tensor.ndim != 2:
        raise ValueError("Only tensors with 2 dimensions are supported")
    rows, cols = tensor.shape
    zeros_per_column = math.ceil(sparsity * rows)
    values = randn(rows, cols, dtype=tensor.dtype, device=tensor.device) * std
    keep = ones(rows, cols, dtype=tensor.dtype, device=tensor.device)
    for c in range(cols):
        keep[randperm(rows)[:zeros_per_column], c] = 0
    return _fill(tensor, values * keep)
