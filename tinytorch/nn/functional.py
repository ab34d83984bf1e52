"""``nn.functional``: the stateless forms of the layers, composed from Tensor ops.

Every function here is built from the differentiable ops of ``tinytorch`` (matmul, broadcasting
arithmetic, reductions, views), so autograd differentiates it without a line of backward code.
The layers in ``tinytorch.nn`` hold parameters and call these.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from .. import ops
from ..ndarray import float32, float64, int64
from ..ndarray.windows import out_size
from ..ops import arange, cat, erf, full, where
from ..ops.movement import check_index_range
from ..ops.random import rand
from ..ops.windows import Fold, Unfold
from ..tensor import Tensor, no_grad

_size_2 = int | tuple[int, int]


def _pair(x: _size_2, name: str) -> tuple[int, int]:
    pair = (x, x) if isinstance(x, int) else tuple(x)
    if len(pair) != 2 or not all(isinstance(v, int) for v in pair):
        raise TypeError(f"{name} must be an int or a pair of ints, got {x!r}")
    return pair  # type: ignore[return-value]


def _reduce(loss: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    if reduction == "none":
        return loss
    raise ValueError(f"{reduction} is not a valid value for reduction")


# ---------------------------------------------------------------------- activations
def relu(input: Tensor, inplace: bool = False) -> Tensor:
    """max(x, 0) elementwise."""
    return input.relu()


def sigmoid(input: Tensor) -> Tensor:
    return input.sigmoid()


def tanh(input: Tensor) -> Tensor:
    return input.tanh()


def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    """x * Phi(x), Phi the standard normal CDF; ``approximate="tanh"`` uses
    0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))."""
    if approximate == "tanh":
        return 0.5 * input * (1.0 + (math.sqrt(2.0 / math.pi) * (input + 0.044715 * input ** 3)).tanh())
    if approximate != "none":
        raise ValueError(f"approximate argument must be either none or tanh, got {approximate!r}")
    return 0.5 * input * (1.0 + erf(input * (1.0 / math.sqrt(2.0))))


def leaky_relu(input: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    """x where x > 0, ``negative_slope * x`` elsewhere."""
    return where(input > 0, input, input * negative_slope)


def _exp_minus_one(x: Tensor) -> Tensor:
    """``exp(x) - 1`` for the negative side of ELU-like functions: ``x`` is clipped at 0 first, so
    the unused side of a ``where`` cannot overflow (an inf there would make its zero gradient NaN)."""
    return x.clamp(max=0.0).exp() - 1.0


def elu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """x where x > 0, ``alpha * (exp(x) - 1)`` elsewhere."""
    return where(input > 0, input, _exp_minus_one(input) * alpha)


_SELU_ALPHA, _SELU_SCALE = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946


def selu(input: Tensor, inplace: bool = False) -> Tensor:
    """``scale * elu(x, alpha)`` with the self-normalising constants of Klambauer et al. (2017)."""
    return elu(input, _SELU_ALPHA) * _SELU_SCALE


def celu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """x where x > 0, ``alpha * (exp(x / alpha) - 1)`` elsewhere."""
    return where(input > 0, input, _exp_minus_one(input / alpha) * alpha)


def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """``log(1 + exp(beta * x)) / beta``, and x itself where ``beta * x > threshold``."""
    bx = input * beta
    return where(bx > threshold, input, (bx.clamp(max=threshold).exp() + 1.0).log() / beta)


def silu(input: Tensor, inplace: bool = False) -> Tensor:
    """``x * sigmoid(x)`` (also called swish)."""
    return input * input.sigmoid()


def mish(input: Tensor, inplace: bool = False) -> Tensor:
    """``x * tanh(softplus(x))``."""
    return input * softplus(input).tanh()


def hardtanh(input: Tensor, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False) -> Tensor:
    """x clipped into ``[min_val, max_val]``."""
    if min_val > max_val:
        raise ValueError(f"min_val cannot be greater than max_val, got {min_val} and {max_val}")
    return input.clamp(min_val, max_val)


def relu6(input: Tensor, inplace: bool = False) -> Tensor:
    """x clipped into ``[0, 6]``."""
    return input.clamp(0.0, 6.0)


def hardsigmoid(input: Tensor, inplace: bool = False) -> Tensor:
    """``relu6(x + 3) / 6``: 0 below -3, 1 above 3, a line in between."""
    return relu6(input + 3.0) / 6.0


def hardswish(input: Tensor, inplace: bool = False) -> Tensor:
    """``x * relu6(x + 3) / 6``."""
    return input * hardsigmoid(input)


def logsigmoid(input: Tensor) -> Tensor:
    """``log(sigmoid(x))``, computed as ``min(x, 0) - log(1 + exp(-|x|))`` so it never overflows."""
    return input.clamp(max=0.0) - ((-input.abs()).exp() + 1.0).log()


def softsign(input: Tensor) -> Tensor:
    """``x / (1 + |x|)``."""
    return input / (input.abs() + 1.0)


def tanhshrink(input: Tensor) -> Tensor:
    """``x - tanh(x)``."""
    return input - input.tanh()


def glu(input: Tensor, dim: int = -1) -> Tensor:
    """The gated linear unit: the first half of ``input`` along ``dim`` times the sigmoid of the second."""
    n = input.shape[dim] if input.ndim else 0
    if input.ndim == 0 or n % 2:
        raise RuntimeError(f"glu: Halving dimension must be even, but dimension {dim} is size {n}")
    a, b = input.chunk(2, dim)
    return a * b.sigmoid()


def softmax(input: Tensor, dim: int | None = None) -> Tensor:
    return ops.softmax(input, _softmax_dim(input, dim))


def log_softmax(input: Tensor, dim: int | None = None) -> Tensor:
    return ops.log_softmax(input, _softmax_dim(input, dim))


def _softmax_dim(input: Tensor, dim: int | None) -> int:
    # PyTorch's legacy rule when dim is omitted: 0 for 0-D, 1-D and 3-D inputs, else 1.
    return dim if dim is not None else (0 if input.ndim in (0, 1, 3) else 1)


# ---------------------------------------------------------------------- linear, dropout, embedding
def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """y = x W^T + b, for ``input`` of shape (*, in_features) and ``weight`` (out_features, in_features)."""
    out = input @ weight.T
    return out if bias is None else out + bias


def dropout(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zero each element with probability ``p`` and scale the survivors by 1 / (1 - p), so the
    expected value is unchanged; the identity when not ``training``."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if not training or p == 0.0:
        return input
    if p == 1.0:
        return input * 0.0
    keep = rand(*input.shape, dtype=input.dtype, device=input.device) < (1.0 - p)
    return input * keep.to(input.dtype) * (1.0 / (1.0 - p))


def embedding(input: Tensor, weight: Tensor, padding_idx: int | None = None) -> Tensor:
    """Rows of ``weight`` picked by the integer tensor ``input``: output shape ``(*input.shape, dim)``.
    Positions equal to ``padding_idx`` get no gradient. Indices must be integers in
    ``[0, num_embeddings)``: a bool tensor (a mask, not indices) raises ``RuntimeError`` and a
    negative or too large index ``IndexError``, as PyTorch (``weight[input]`` would read a bool
    as a mask and count a negative index from the end)."""
    if not isinstance(input, Tensor) or input.dtype is not int64:
        raise RuntimeError(f"Expected tensor for argument #1 'indices' to have one of the following scalar types: "
                           f"Long, Int; but got {getattr(input, 'dtype', type(input).__name__)} instead")
    check_index_range(input, weight.shape[0], "embedding(): num_embeddings", IndexError)
    out = weight[input]
    if padding_idx is None:
        return out
    if padding_idx < 0:
        padding_idx += weight.shape[0]
    keep = (input != padding_idx).unsqueeze(-1)
    return where(keep, out, out.detach())


def one_hot(tensor: Tensor, num_classes: int = -1) -> Tensor:
    """int64 tensor of shape ``(*tensor.shape, num_classes)`` with a 1 at each value's index."""
    if tensor.dtype != int64:
        raise RuntimeError("one_hot is only applicable to index tensor of type LongTensor.")
    if tensor.numel() and tensor.min().item() < 0:
        raise RuntimeError("Class values must be non-negative.")
    if num_classes == -1:
        if not tensor.numel():
            raise RuntimeError("Can not infer total number of classes from empty tensor.")
        num_classes = int(tensor.max().item()) + 1
    elif tensor.numel() and tensor.max().item() >= num_classes:
        raise RuntimeError(f"Class values must be smaller than num_classes ({num_classes}); "
                           f"got {tensor.max().item()}.")
    classes = arange(num_classes, device=tensor.device)
    return (tensor.unsqueeze(-1) == classes).long()


# ---------------------------------------------------------------------- normalisation
def layer_norm(input: Tensor, normalized_shape: Sequence[int] | int, weight: Tensor | None = None,
               bias: Tensor | None = None, eps: float = 1e-5) -> Tensor:
    """Normalise over the last ``len(normalized_shape)`` dims: (x - mean) / sqrt(var + eps) * w + b,
    with the biased variance."""
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    if tuple(input.shape[input.ndim - len(shape):]) != shape:
        raise RuntimeError(f"Given normalized_shape={list(shape)}, expected input with shape [*, "
                           f"{', '.join(map(str, shape))}], but got input of size {list(input.shape)}")
    for name, p in (("weight", weight), ("bias", bias)):
        if p is not None and tuple(p.shape) != shape:
            raise RuntimeError(f"Expected {name} to be of same shape as normalized_shape, but got {name} of shape "
                               f"{list(p.shape)} and normalized_shape = {list(shape)}")
    dims = tuple(range(-len(shape), 0))
    mean = input.mean(dims, keepdim=True)
    centered = input - mean
    var = (centered * centered).mean(dims, keepdim=True)
    out = centered * (var + eps).rsqrt()
    if weight is not None:
        out = out * weight
    if bias is not None:
        out = out + bias
    return out


def batch_norm(input: Tensor, running_mean: Tensor | None, running_var: Tensor | None,
               weight: Tensor | None = None, bias: Tensor | None = None, training: bool = False,
               momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """Normalise each channel (dim 1) with the batch's statistics when ``training`` (and update
    the running ones in place: ``running = (1 - momentum) * running + momentum * batch``, the
    variance *unbiased* there but biased in the normalisation, as PyTorch), or with the running
    statistics otherwise."""
    if input.ndim < 2:
        raise ValueError(f"expected at least 2D input (got {input.ndim}D input)")
    dims = (0,) + tuple(range(2, input.ndim))
    shape = (1, input.shape[1]) + (1,) * (input.ndim - 2)
    if training:
        n = input.numel() // input.shape[1]
        if n <= 1:
            raise ValueError("Expected more than 1 value per channel when training, "
                             f"got input size {list(input.shape)}")
        mean = input.mean(dims, keepdim=True)
        centered = input - mean
        var = (centered * centered).mean(dims, keepdim=True)
        if running_mean is not None and running_var is not None:
            with no_grad():
                running_mean *= 1.0 - momentum
                running_mean += momentum * mean.detach().reshape(-1)
                running_var *= 1.0 - momentum
                running_var += (momentum * n / (n - 1)) * var.detach().reshape(-1)
        out = centered * (var + eps).rsqrt()
    else:
        if running_mean is None or running_var is None:
            raise ValueError("batch_norm in eval mode needs running_mean and running_var")
        out = (input - running_mean.reshape(*shape)) * (running_var.reshape(*shape) + eps).rsqrt()
    if weight is not None:
        out = out * weight.reshape(*shape)
    if bias is not None:
        out = out + bias.reshape(*shape)
    return out


# ---------------------------------------------------------------------- padding, convolution, pooling
def pad(input: Tensor, pad: Sequence[int], mode: str = "constant", value: float = 0.0) -> Tensor:
    """Pad the last ``len(pad) // 2`` dims: ``pad = (left, right, top, bottom, ...)`` starting from
    the last dim, as PyTorch. Negative amounts crop. Only ``mode="constant"``."""
    if mode != "constant":
        raise NotImplementedError(f"pad mode {mode!r} is not implemented (only 'constant')")
    if len(pad) % 2 or len(pad) // 2 > input.ndim:
        raise ValueError("Padding length must be divisible by 2 and at most 2 * ndim, "
                         f"got {len(pad)} for {input.ndim}D")
    out = input
    for i in range(len(pad) // 2):
        dim = input.ndim - 1 - i
        before, after = pad[2 * i], pad[2 * i + 1]
        if before < 0 or after < 0:  # crop first
            index = [slice(None)] * out.ndim
            index[dim] = slice(max(-before, 0), out.shape[dim] - max(-after, 0))
            out = out[tuple(index)]
        pieces = []
        for amount in (before, after):
            shape = list(out.shape)
            shape[dim] = max(amount, 0)
            pieces.append(full(tuple(shape), value, dtype=out.dtype, device=out.device))
        if before > 0 or after > 0:
            out = cat([pieces[0], out, pieces[1]], dim)
    return out


def _window_args(kernel_size: _size_2, dilation: _size_2, padding: _size_2, stride: _size_2) -> dict:
    return dict(kernel=_pair(kernel_size, "kernel_size"), dilation=_pair(dilation, "dilation"),
                padding=_pair(padding, "padding"), stride=_pair(stride, "stride"))


def _check_windows(hw: tuple[int, ...], kernel: tuple[int, int], stride: tuple[int, int], padding: tuple[int, int],
                   dilation: tuple[int, int]) -> tuple[int, int]:
    """The output size (OH, OW), after checking that at least one window fits."""
    if min(kernel) < 1 or min(stride) < 1 or min(dilation) < 1 or min(padding) < 0:
        raise RuntimeError(f"kernel_size, stride and dilation must be positive and padding non-negative, got "
                           f"kernel_size={kernel}, stride={stride}, dilation={dilation}, padding={padding}")
    oh, ow = (out_size(hw[a], kernel[a], stride[a], padding[a], dilation[a]) for a in (0, 1))
    if oh < 1 or ow < 1:
        raise RuntimeError(f"Kernel size ({kernel[0]}x{kernel[1]}) can't be greater than actual input size "
                           f"({hw[0] + 2 * padding[0]}x{hw[1] + 2 * padding[1]})")
    return oh, ow


def unfold(input: Tensor, kernel_size: _size_2, dilation: _size_2 = 1, padding: _size_2 = 0,
           stride: _size_2 = 1) -> Tensor:
    """im2col: the sliding windows of ``input`` (N, C, H, W) as columns, (N, C * kh * kw, L) with
    L = OH * OW windows (PyTorch's ``F.unfold``). One strided view, made compact by one copy."""
    if input.ndim != 4:
        raise NotImplementedError(f"unfold expects a 4D (N, C, H, W) input, got {tuple(input.shape)}")
    args = _window_args(kernel_size, dilation, padding, stride)
    _check_windows(input.shape[2:], **args)
    cols = Unfold.apply(input, **args)                                  # (N, C, kh, kw, OH, OW)
    n, c, kh, kw, oh, ow = cols.shape
    return cols.reshape(n, c * kh * kw, oh * ow)


def fold(input: Tensor, output_size: _size_2, kernel_size: _size_2, dilation: _size_2 = 1, padding: _size_2 = 0,
         stride: _size_2 = 1) -> Tensor:
    """col2im, the adjoint of :func:`unfold`: columns (N, C * kh * kw, L) summed back into an
    (N, C, H, W) array of ``output_size`` (PyTorch's ``F.fold``); overlapping windows add up."""
    args = _window_args(kernel_size, dilation, padding, stride)
    hw = _pair(output_size, "output_size")
    oh, ow = _check_windows(hw, **args)
    (kh, kw) = args["kernel"]
    if input.ndim != 3 or input.shape[1] % (kh * kw) or input.shape[2] != oh * ow:
        raise RuntimeError(f"fold expects an input of shape (N, C * {kh * kw}, {oh * ow}) for output_size {hw} "
                           f"and kernel {kh}x{kw}, got {tuple(input.shape)}")
    n, ck = input.shape[:2]
    return Fold.apply(input.reshape(n, ck // (kh * kw), kh, kw, oh, ow), out_hw=hw, **args)


def conv2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride: _size_2 = 1,
           padding: _size_2 = 0, dilation: _size_2 = 1) -> Tensor:
    """2-D cross-correlation of ``input`` (N, C, H, W) with ``weight`` (O, C, kh, kw), plus ``bias`` (O,).

    im2col: :func:`unfold` lays every receptive field out as a column of a (C * kh * kw, OH * OW)
    matrix per image; one batched matmul with the (O, C * kh * kw) weight matrix then computes
    all outputs at once, already in (N, O, OH * OW) order.
    Output shape: (N, O, OH, OW) with OH = (H + 2 * padding - dilation * (kh - 1) - 1) // stride + 1.
    """
    if input.ndim != 4 or weight.ndim != 4:
        raise RuntimeError(f"conv2d expects a 4D input and weight, got input {tuple(input.shape)} "
                           f"and weight {tuple(weight.shape)}")
    n, c, h, w = input.shape
    o, c_w, kh, kw = weight.shape
    if c != c_w:
        raise RuntimeError(f"Given weight of size {list(weight.shape)}, expected input{list(input.shape)} "
                           f"to have {c_w} channels, but got {c} channels instead")
    args = _window_args((kh, kw), dilation, padding, stride)
    oh, ow = _check_windows((h, w), **args)
    cols = Unfold.apply(input, **args).reshape(n, c * kh * kw, oh * ow)  # (N, C*kh*kw, OH*OW)
    out = weight.reshape(o, c * kh * kw) @ cols                          # (N, O, OH*OW): weight broadcast
    out = out.reshape(n, o, oh, ow)
    return out if bias is None else out + bias.reshape(o, 1, 1)


def _pool_windows(input: Tensor, kernel_size: _size_2, stride: _size_2 | None, padding: _size_2,
                  pad_value: float) -> Tensor:
    """The pooling windows of ``input`` (N, C, H, W) or (C, H, W) as (N, C, kh * kw, OH, OW)."""
    if input.ndim not in (3, 4):
        raise RuntimeError(f"pooling expects a 3D or 4D input, got {tuple(input.shape)}")
    x = input if input.ndim == 4 else input.unsqueeze(0)
    (kh, kw) = _pair(kernel_size, "kernel_size")
    stride = (kh, kw) if stride is None or stride == [] else stride
    args = _window_args((kh, kw), 1, padding, stride)
    (ph, pw) = args["padding"]
    if ph > kh // 2 or pw > kw // 2:
        raise RuntimeError(f"pad should be at most half of effective kernel size, but got pad={padding}, "
                           f"kernel_size={kernel_size}")
    oh, ow = _check_windows(x.shape[2:], **args)
    cols = Unfold.apply(x, pad_value=pad_value, **args)                 # (N, C, kh, kw, OH, OW)
    return cols.reshape(x.shape[0], x.shape[1], kh * kw, oh, ow)


def _first_max_mask(cols: Any) -> Any:
    """A bool NDArray of ``cols``' shape (N, C, K, OH, OW): True at the first maximum along axis 2
    of each window (a NaN counts as the maximum), False elsewhere. Built from K slabs with
    elementwise ops: a reduction over rows of K = 4 elements costs far more per element."""
    hit = (cols == cols.max(2, keepdims=True)) | (cols != cols)
    mask, taken = hit.copy(), hit[:, :, 0]
    for k in range(1, cols.shape[2]):
        mask[:, :, k] = hit[:, :, k] & ~taken
        taken = taken | hit[:, :, k]
    return mask


def max_pool2d(input: Tensor, kernel_size: _size_2, stride: _size_2 | None = None, padding: _size_2 = 0) -> Tensor:
    """Maximum over each ``kernel_size`` window, moved by ``stride`` (default: ``kernel_size``).
    The gradient goes to the window's first maximum, as PyTorch's: a one-hot mask of it picks
    the values (``where`` + ``sum``, both fast elementwise kernels; no gather)."""
    cols = _pool_windows(input, kernel_size, stride, padding, -math.inf)
    out = where(Tensor._make(_first_max_mask(cols._data), False, None), cols, 0.0).sum(2)
    return out if input.ndim == 4 else out.squeeze(0)


def avg_pool2d(input: Tensor, kernel_size: _size_2, stride: _size_2 | None = None, padding: _size_2 = 0) -> Tensor:
    """Mean over each ``kernel_size`` window (zero padding counts in the mean, as PyTorch's default)."""
    out = _pool_windows(input, kernel_size, stride, padding, 0.0).mean(2)
    return out if input.ndim == 4 else out.squeeze(0)


# ---------------------------------------------------------------------- losses
def _class_mask(input: Tensor, target: Tensor, ignore_index: int) -> tuple[Tensor, int, tuple[int, ...]]:
    """The one-hot of ``target`` along ``input``'s class dim (dim 1, or 0 for a single (C,) example),
    in ``input``'s dtype; rows whose target is ``ignore_index`` are all zero. Also returns the
    class dim and the shape that broadcasts a per-class vector along it."""
    if target.dtype != int64:
        raise RuntimeError(f"expected target of dtype int64 (class indices), got {target.dtype}")
    class_dim = 0 if input.ndim == 1 else 1
    c = input.shape[class_dim]
    expected = tuple(input.shape[:class_dim]) + tuple(input.shape[class_dim + 1:])
    if tuple(target.shape) != expected:
        raise ValueError(f"Expected target of shape {expected} for input of shape {tuple(input.shape)}, "
                         f"got {tuple(target.shape)}")
    class_shape = (c,) + (1,) * (input.ndim - class_dim - 1)
    classes = arange(c, device=input.device).reshape(*class_shape)
    mask = (target.unsqueeze(class_dim) == classes).to(input.dtype)
    if 0 <= ignore_index < c:  # negative ignore_index (default -100) already matches no class
        mask = mask * (target != ignore_index).unsqueeze(class_dim).to(input.dtype)
    return mask, class_dim, class_shape


def nll_loss(input: Tensor, target: Tensor, weight: Tensor | None = None, ignore_index: int = -100,
             reduction: str = "mean") -> Tensor:
    """Negative log likelihood: ``-input[n, target[n]]`` for log-probabilities ``input`` of shape
    (C), (N, C) or (N, C, d1, ...) and class indices ``target`` of shape (), (N) or (N, d1, ...).

    With ``weight`` each term is scaled by ``weight[target[n]]`` and ``mean`` divides by the sum of
    those weights; targets equal to ``ignore_index`` contribute nothing.
    (Picking ``input[n, target[n]]`` is a multiply by a one-hot mask and a sum: no gather needed.)"""
    mask, class_dim, class_shape = _class_mask(input, target, ignore_index)
    if weight is not None:
        mask = mask * weight.reshape(*class_shape)
    losses = -(input * mask).sum(class_dim)
    if reduction == "mean":
        return losses.sum() / mask.sum()
    return _reduce(losses, reduction)


def cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None, ignore_index: int = -100,
                  reduction: str = "mean", label_smoothing: float = 0.0) -> Tensor:
    """``nll_loss(log_softmax(input, 1), target)`` for class indices; for float ``target`` of
    ``input``'s shape (class probabilities) ``-sum(target * log_softmax(input, 1), 1)``.

    ``label_smoothing`` eps replaces the one-hot target by ``(1 - eps) * one_hot + eps / C``.
    Shape: input (N, C) or (C) or (N, C, d1, ...); target (N) / () / (N, d1, ...) class indices."""
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"label_smoothing must be between 0.0 and 1.0, got {label_smoothing}")
    class_dim = 0 if input.ndim == 1 else 1
    c = input.shape[class_dim]
    logp = ops.log_softmax(input, class_dim)
    class_shape = (c,) + (1,) * (input.ndim - class_dim - 1)
    w = None if weight is None else weight.reshape(*class_shape)
    if target.dtype in (float32, float64):  # class probabilities
        if tuple(target.shape) != tuple(input.shape):
            raise ValueError(f"soft targets must have the input's shape {tuple(input.shape)}, "
                             f"got {tuple(target.shape)}")
        q = target * (1.0 - label_smoothing) + label_smoothing / c if label_smoothing else target
        losses = -(logp * (q if w is None else q * w)).sum(class_dim)
        return _reduce(losses, reduction)
    mask, _, _ = _class_mask(input, target, ignore_index)
    q = mask
    if label_smoothing:  # mask.sum(class_dim) is 1 for a counted target, 0 for an ignored one
        q = mask * (1.0 - label_smoothing) + mask.sum(class_dim, keepdim=True) * (label_smoothing / c)
    if w is not None:
        q, mask = q * w, mask * w
    if reduction == "mean":
        count = mask._data.sum(tuple(range(mask.ndim))).item()  # the number of counted targets (or weights)
        if count:  # the usual case in three graph nodes rather than six (the loss runs every step)
            return (logp * q).sum() * (-1.0 / count)
        return (logp * q).sum() * 0.0 + math.nan  # nothing counted: nan with a zero gradient, as PyTorch
    return _reduce(-(logp * q).sum(class_dim), reduction)


def mse_loss(input: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    """Squared error ``(input - target)^2`` (broadcast), reduced."""
    diff = input - target
    return _reduce(diff * diff, reduction)


def l1_loss(input: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    """Absolute error ``|input - target|`` (broadcast), reduced."""
    return _reduce((input - target).abs(), reduction)


def smooth_l1_loss(input: Tensor, target: Tensor, reduction: str = "mean", beta: float = 1.0) -> Tensor:
    """``0.5 d^2 / beta`` where the absolute error ``d < beta``, ``d - 0.5 beta`` elsewhere (L1 for beta 0)."""
    if beta < 0:
        raise RuntimeError(f"smooth_l1_loss does not support negative values for beta, got {beta}")
    d = (input - target).abs()
    if beta == 0:
        return _reduce(d, reduction)
    return _reduce(where(d < beta, d * d * (0.5 / beta), d - 0.5 * beta), reduction)


def huber_loss(input: Tensor, target: Tensor, reduction: str = "mean", delta: float = 1.0) -> Tensor:
    """``0.5 d^2`` where the absolute error ``d < delta``, ``delta (d - 0.5 delta)`` elsewhere."""
    if delta <= 0:
        raise RuntimeError(f"huber_loss does not support non-positive values for delta, got {delta}")
    d = (input - target).abs()
    return _reduce(where(d < delta, d * d * 0.5, (d - 0.5 * delta) * delta), reduction)


def kl_div(input: Tensor, target: Tensor, reduction: str = "mean", log_target: bool = False) -> Tensor:
    """``target * (log(target) - input)`` with ``input`` log-probabilities (0 where ``target`` is 0);
    ``log_target=True`` takes log-probabilities as target too. ``reduction="batchmean"`` divides the
    sum by the batch size (the mathematically right KL divergence); ``"mean"`` by every element."""
    if log_target:
        loss = target.exp() * (target - input)
    else:
        positive = target > 0
        loss = where(positive, target * (where(positive, target, 1.0).log() - input), 0.0)
    if reduction == "batchmean":
        return loss.sum() / (input.shape[0] if input.ndim else 1)
    return _reduce(loss, reduction)


def _log_clipped(p: Tensor) -> Tensor:
    """``log(p)`` clipped below at -100, as PyTorch's BCE does, with a zero gradient (not NaN) where
    ``p`` is 0: the log only ever sees positive numbers."""
    positive = p > 0
    return where(positive, where(positive, p, 1.0).log().clamp(min=-100.0), -100.0)


def binary_cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None,
                         reduction: str = "mean") -> Tensor:
    """``-w [t log x + (1 - t) log(1 - x)]`` for probabilities ``x`` in [0, 1]; each log is clipped
    at -100 (PyTorch's rule), so a probability of exactly 0 or 1 gives a finite loss."""
    if tuple(target.shape) != tuple(input.shape):
        raise ValueError(f"Using a target size ({list(target.shape)}) that is different to the input size "
                         f"({list(input.shape)}) is deprecated. Please ensure they have the same size.")
    if ((input < 0) | (input > 1)).any():
        raise RuntimeError("all elements of input should be between 0 and 1")
    loss = -(target * _log_clipped(input) + (1.0 - target) * _log_clipped(1.0 - input))
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


def binary_cross_entropy_with_logits(input: Tensor, target: Tensor, weight: Tensor | None = None,
                                     reduction: str = "mean", pos_weight: Tensor | None = None) -> Tensor:
    """``-[p t log s(x) + (1 - t) log(1 - s(x))]`` with s the sigmoid and p = ``pos_weight`` (default 1),
    computed stably as ``(1 - t) x + (1 + (p - 1) t) (log(1 + exp(-|x|)) + max(-x, 0))``."""
    if tuple(target.shape) != tuple(input.shape):
        raise ValueError(f"Target size ({list(target.shape)}) must be the same as input size ({list(input.shape)})")
    log_sigmoid_neg = (1.0 + (-input.abs()).exp()).log() + (-input).relu()  # = -log(sigmoid(x))
    if pos_weight is None:
        loss = (1.0 - target) * input + log_sigmoid_neg
    else:
        loss = (1.0 - target) * input + (1.0 + (pos_weight - 1.0) * target) * log_sigmoid_neg
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)
