"""``nn.functional``: the stateless forms of the layers, composed from Tensor ops.

Every function here is built from the differentiable ops of ``tinytorch`` (matmul, broadcasting
arithmetic, reductions, views), so autograd differentiates it without a line of backward code.
The layers in ``tinytorch.nn`` hold parameters and call these.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import tinytorch as tt

Tensor = Any  # a tinytorch.Tensor
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
    return 0.5 * input * (1.0 + tt.erf(input * (1.0 / math.sqrt(2.0))))


def softmax(input: Tensor, dim: int | None = None) -> Tensor:
    return tt.softmax(input, _softmax_dim(input, dim))


def log_softmax(input: Tensor, dim: int | None = None) -> Tensor:
    return tt.log_softmax(input, _softmax_dim(input, dim))


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
    keep = tt.rand(*input.shape, dtype=input.dtype, device=input.device) < (1.0 - p)
    return input * keep.to(input.dtype) * (1.0 / (1.0 - p))


def embedding(input: Tensor, weight: Tensor, padding_idx: int | None = None) -> Tensor:
    """Rows of ``weight`` picked by the integer tensor ``input``: output shape ``(*input.shape, dim)``.
    Positions equal to ``padding_idx`` get no gradient."""
    out = weight[input]
    if padding_idx is None:
        return out
    if padding_idx < 0:
        padding_idx += weight.shape[0]
    keep = (input != padding_idx).unsqueeze(-1)
    return tt.where(keep, out, out.detach())


def one_hot(tensor: Tensor, num_classes: int = -1) -> Tensor:
    """int64 tensor of shape ``(*tensor.shape, num_classes)`` with a 1 at each value's index."""
    if tensor.dtype != tt.int64:
        raise RuntimeError("one_hot is only applicable to index tensor of type LongTensor.")
    if num_classes == -1:
        num_classes = int(tensor.max().item()) + 1
    classes = tt.arange(num_classes, device=tensor.device)
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
            with tt.no_grad():
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
            pieces.append(tt.full(tuple(shape), value, dtype=out.dtype, device=out.device))
        if before > 0 or after > 0:
            out = tt.cat([pieces[0], out, pieces[1]], dim)
    return out


def _out_size(size: int, kernel: int, stride: int, padding: int, dilation: int = 1) -> int:
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def _patches(x: Tensor, kernel: tuple[int, int], stride: tuple[int, int], dilation: tuple[int, int],
             out_hw: tuple[int, int]) -> list[Tensor]:
    """The receptive fields of ``x`` (N, C, H, W), one strided view per kernel offset.

    View number ``i * kw + j`` has shape (N, C, OH, OW) and holds
    ``x[n, c, oh * sh + i * dh, ow * sw + j * dw]``: it is ``x`` sliced with a start, a stop and a
    step in each spatial dim -- stride arithmetic only, no copy. Stacking the ``kh * kw`` views
    (one copy) gives the im2col matrix."""
    (kh, kw), (sh, sw), (dh, dw), (oh, ow) = kernel, stride, dilation, out_hw
    return [x[:, :, i * dh: i * dh + sh * (oh - 1) + 1: sh, j * dw: j * dw + sw * (ow - 1) + 1: sw]
            for i in range(kh) for j in range(kw)]


def conv2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride: _size_2 = 1,
           padding: _size_2 = 0, dilation: _size_2 = 1) -> Tensor:
    """2-D cross-correlation of ``input`` (N, C, H, W) with ``weight`` (O, C, kh, kw), plus ``bias`` (O,).

    im2col: gather every receptive field into a row of a (N * OH * OW, C * kh * kw) matrix, then a
    single matmul with the (C * kh * kw, O) weight matrix computes all outputs at once.
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
    (sh, sw), (ph, pw), (dh, dw) = _pair(stride, "stride"), _pair(padding, "padding"), _pair(dilation, "dilation")
    oh, ow = _out_size(h, kh, sh, ph, dh), _out_size(w, kw, sw, pw, dw)
    if oh < 1 or ow < 1:
        raise RuntimeError(f"Kernel size ({kh}x{kw}) can't be greater than actual input size "
                           f"({h + 2 * ph}x{w + 2 * pw})")
    x = pad(input, (pw, pw, ph, ph)) if ph or pw else input
    views = [v.permute(0, 2, 3, 1) for v in _patches(x, (kh, kw), (sh, sw), (dh, dw), (oh, ow))]  # (N, OH, OW, C)
    cols = tt.stack(views, 4).reshape(n * oh * ow, c * kh * kw)             # one row per output pixel (no copy)
    out = cols @ weight.reshape(o, c * kh * kw).T                            # (N*OH*OW, O)
    if bias is not None:
        out = out + bias
    return out.reshape(n, oh, ow, o).permute(0, 3, 1, 2)


def _pool_patches(input: Tensor, kernel_size: _size_2, stride: _size_2 | None, padding: _size_2,
                  pad_value: float) -> tuple[Tensor, tuple[int, int]]:
    if input.ndim not in (3, 4):
        raise RuntimeError(f"pooling expects a 3D or 4D input, got {tuple(input.shape)}")
    x = input if input.ndim == 4 else input.unsqueeze(0)
    (kh, kw) = _pair(kernel_size, "kernel_size")
    (sh, sw) = (kh, kw) if stride is None or stride == [] else _pair(stride, "stride")
    (ph, pw) = _pair(padding, "padding")
    if ph > kh // 2 or pw > kw // 2:
        raise RuntimeError(f"pad should be at most half of effective kernel size, but got pad={padding}, "
                           f"kernel_size={kernel_size}")
    oh, ow = _out_size(x.shape[2], kh, sh, ph), _out_size(x.shape[3], kw, sw, pw)
    if ph or pw:
        x = pad(x, (pw, pw, ph, ph), value=pad_value)
    return tt.stack(_patches(x, (kh, kw), (sh, sw), (1, 1), (oh, ow)), 2), (kh, kw)    # (N, C, kh*kw, OH, OW)


def max_pool2d(input: Tensor, kernel_size: _size_2, stride: _size_2 | None = None, padding: _size_2 = 0) -> Tensor:
    """Maximum over each ``kernel_size`` window, moved by ``stride`` (default: ``kernel_size``).
    The gradient goes to the window's (first) maximum, as PyTorch."""
    cols, _ = _pool_patches(input, kernel_size, stride, padding, -math.inf)
    out = cols.max(2)[0]
    return out if input.ndim == 4 else out.squeeze(0)


def avg_pool2d(input: Tensor, kernel_size: _size_2, stride: _size_2 | None = None, padding: _size_2 = 0) -> Tensor:
    """Mean over each ``kernel_size`` window (zero padding counts in the mean, as PyTorch's default)."""
    cols, _ = _pool_patches(input, kernel_size, stride, padding, 0.0)
    out = cols.mean(2)
    return out if input.ndim == 4 else out.squeeze(0)


# ---------------------------------------------------------------------- losses
def _class_mask(input: Tensor, target: Tensor, ignore_index: int) -> tuple[Tensor, int, tuple[int, ...]]:
    """The one-hot of ``target`` along ``input``'s class dim (dim 1, or 0 for a single (C,) example),
    in ``input``'s dtype; rows whose target is ``ignore_index`` are all zero. Also returns the
    class dim and the shape that broadcasts a per-class vector along it."""
    if target.dtype != tt.int64:
        raise RuntimeError(f"expected target of dtype int64 (class indices), got {target.dtype}")
    class_dim = 0 if input.ndim == 1 else 1
    c = input.shape[class_dim]
    expected = tuple(input.shape[:class_dim]) + tuple(input.shape[class_dim + 1:])
    if tuple(target.shape) != expected:
        raise ValueError(f"Expected target of shape {expected} for input of shape {tuple(input.shape)}, "
                         f"got {tuple(target.shape)}")
    class_shape = (c,) + (1,) * (input.ndim - class_dim - 1)
    classes = tt.arange(c, device=input.device).reshape(*class_shape)
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
    logp = tt.log_softmax(input, class_dim)
    class_shape = (c,) + (1,) * (input.ndim - class_dim - 1)
    w = None if weight is None else weight.reshape(*class_shape)
    if target.dtype in (tt.float32, tt.float64):  # class probabilities
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
