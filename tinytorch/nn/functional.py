"""``nn.functional``: the stateless forms of the layers, composed from Tensor ops.

Every function here is built from the differentiable ops of ``tinytorch`` (matmul, broadcasting
arithmetic, reductions, views), so autograd differentiates it without a line of backward code.
The layers in ``tinytorch.nn`` hold parameters and call these.
"""

from __future__ import annotations

import functools
import math
import warnings
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from .. import ops
from ..ndarray import NDArray, bool_, float32, float64, int64
from ..ndarray import array as nd_array
from ..ndarray import full as nd_full
from ..ndarray import where as nd_where
from ..ndarray import zeros as nd_zeros
from ..ndarray.checks import check
from ..ndarray.ndarray import check_class_targets, class_hits
from ..ndarray.windows import first_max_mask, out_size
from ..ndarray.windows import unfold as nd_unfold
from ..ops import arange, cat, erf, full, fused, tensor, where
from ..ops import cosine_similarity as cosine_similarity  # F's names for these ops-layer ops
from ..ops import pairwise_distance as pairwise_distance
from ..ops.movement import checked_indices
from ..ops.random import rand
from ..ops.scan import IndicesAlong
from ..ops.windows import Convolution, ConvolutionGradInput, Fold, MaxPool, MaxPoolIndices, Unfold, Unpool
from ..tensor import Function, Tensor, is_grad_enabled, no_grad

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
    if input.dtype.is_floating_point:
        return fused.gelu(input)  # one graph node (ops/fused.py)
    return 0.5 * input * (1.0 + erf(input * (1.0 / math.sqrt(2.0))))


def leaky_relu(input: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    """x where x > 0, ``negative_slope * x`` elsewhere."""
    return where(input > 0, input, input * negative_slope)


def rrelu(input: Tensor, lower: float = 1.0 / 8, upper: float = 1.0 / 3, training: bool = False,
          inplace: bool = False) -> Tensor:
    """Randomized leaky ReLU (Xu et al., 2015): in training each negative element is scaled by its
    own slope drawn from U(lower, upper); otherwise by the mean slope ``(lower + upper) / 2``."""
    if not training:
        return leaky_relu(input, (lower + upper) / 2)
    slopes = rand(*input.shape, dtype=input.dtype, device=input.device) * (upper - lower) + lower
    return where(input >= 0, input, input * slopes)


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


def _softplus_neg(x: Tensor) -> Tensor:
    """``-log(sigmoid(x)) = log(1 + exp(-x))``, as ``max(-x, 0) + log1p(exp(-|x|))`` so it never
    overflows. ``|x|`` is written as a ``where`` that takes the ``x`` branch at 0, so the gradient
    at 0 is the true ``sigmoid(0) - 1 = -0.5`` (``abs`` and ``relu`` would both give 0 there)."""
    return (-x).relu() + (-where(x >= 0, x, -x)).exp().log1p()


def logsigmoid(input: Tensor) -> Tensor:
    """``log(sigmoid(x))``, computed so that it never overflows (gradient ``1 - sigmoid(x)``, also at 0)."""
    return -_softplus_neg(input)


def softsign(input: Tensor) -> Tensor:
    """``x / (1 + |x|)``."""
    return input / (input.abs() + 1.0)


def tanhshrink(input: Tensor) -> Tensor:
    """``x - tanh(x)``."""
    return input - input.tanh()


def hardshrink(input: Tensor, lambd: float = 0.5) -> Tensor:
    """x where ``|x| > lambd``, 0 elsewhere."""
    return where(input.abs() > lambd, input, 0.0)


def softshrink(input: Tensor, lambd: float = 0.5) -> Tensor:
    """x moved towards 0 by ``lambd`` (``x - lambd`` above it, ``x + lambd`` below ``-lambd``), 0 between."""
    if lambd < 0:
        raise RuntimeError(f"lambda must be greater or equal to 0, but found to be {lambd}.")
    return where(input > lambd, input - lambd, where(input < -lambd, input + lambd, 0.0))


def threshold(input: Tensor, threshold: float, value: float, inplace: bool = False) -> Tensor:
    """x where ``x > threshold``, ``value`` elsewhere."""
    return where(input > threshold, input, value)


def prelu(input: Tensor, weight: Tensor) -> Tensor:
    """x where x > 0, ``weight * x`` elsewhere; a 1-element weight is shared, otherwise there is
    one per channel (dim 1 of the input, or dim 0 of a 1-D input)."""
    if weight.numel() != 1:
        channels = input.shape[1] if input.ndim >= 2 else input.shape[0] if input.ndim else 1
        if weight.ndim != 1 or weight.numel() != channels:
            raise RuntimeError(f"Mismatch of parameter numbers and input channel size. Found parameter numbers = "
                               f"{weight.numel()} and channel size = {channels}.")
        if input.ndim >= 2:
            weight = weight.reshape((channels,) + (1,) * (input.ndim - 2))
    return where(input > 0, input, weight * input)


def softmin(input: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype: Any = None) -> Tensor:
    """``softmax(-input)`` along ``dim``."""
    x = -input if dtype is None else -input.to(dtype)
    return ops.softmax(x, _softmax_dim(input, dim))


def normalize(input: Tensor, p: float = 2.0, dim: int = 1, eps: float = 1e-12, out: Any = None) -> Tensor:
    """``input`` divided by its ``p``-norm along ``dim`` (at least ``eps``): unit vectors along ``dim``."""
    if out is not None:
        raise TypeError("normalize(): out= is not supported")
    return input / input.norm(p, dim, keepdim=True).clamp(min=eps).expand_as(input)


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
    if _fused_linear_applies(input, weight, bias):  # one graph node (ops/fused.py)
        return fused.linear(input, weight, bias)
    if input.ndim > 2:  # one (rows, in) @ (in, out) product: the weight's gradient is then one matmul too,
        # not a batch of per-row-block products summed afterwards (sequence inputs are (T, N, in))
        return linear(input.reshape(-1, input.shape[-1]), weight, bias).reshape(*input.shape[:-1], weight.shape[0])
    out = input @ weight.T
    return out if bias is None else out + bias


def _fused_linear_applies(input: Tensor, weight: Tensor, bias: Tensor | None) -> bool:
    """True for the common case the one-node :func:`ops.fused.linear` takes: a float input with at
    least 2 dims, a matching (out, in) weight and a (out,) bias of one dtype and device. Anything
    else (1-D inputs, broadcasting biases, mixed dtypes, bad shapes) takes the general path,
    which raises PyTorch's errors."""
    return (isinstance(input, Tensor) and isinstance(weight, Tensor) and input.ndim >= 2 and weight.ndim == 2
            and input.shape[-1] == weight.shape[1] and input.dtype == weight.dtype
            and input.dtype.is_floating_point and input.device == weight.device
            and (bias is None or (isinstance(bias, Tensor) and bias.shape == (weight.shape[0],)
                                  and bias.dtype == input.dtype and bias.device == input.device)))


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


def padding_index(padding_idx: int | None, num_embeddings: int, what: str = "Padding_idx") -> int | None:
    """``padding_idx`` counted from 0 (a negative one from the end), or None; ``ValueError`` naming
    ``what`` (PyTorch's capitalisation differs between its callers) when it is out of range."""
    if padding_idx is None:
        return None
    if not -num_embeddings <= padding_idx < num_embeddings:
        raise ValueError(f"{what} must be within num_embeddings")
    return padding_idx % num_embeddings


def embedding(input: Tensor, weight: Tensor, padding_idx: int | None = None, max_norm: float | None = None,
              norm_type: float = 2.0, scale_grad_by_freq: bool = False, sparse: bool = False) -> Tensor:
    """Rows of ``weight`` picked by the integer tensor ``input``: output shape ``(*input.shape, dim)``.

    Positions equal to ``padding_idx`` give no gradient. Indices must be integers in
    ``[0, num_embeddings)``: a bool tensor (a mask, not indices) raises ``RuntimeError`` and a
    negative or too large index ``IndexError``, as PyTorch (``weight[input]`` would read a bool
    as a mask and count a negative index from the end). With ``max_norm``, every row looked up
    whose ``norm_type``-norm exceeds it is first rescaled *in place* to norm ``max_norm`` (as
    PyTorch, which divides by ``norm + 1e-7``). ``scale_grad_by_freq`` divides each row's gradient
    by how often it occurs in ``input``. ``sparse`` is accepted; the gradient is always dense."""
    if not isinstance(input, Tensor) or input.dtype is not int64:
        raise RuntimeError(f"Expected tensor for argument #1 'indices' to have one of the following scalar types: "
                           f"Long, Int; but got {getattr(input, 'dtype', type(input).__name__)} instead")
    checked_indices(input, weight.shape[0], "embedding(): num_embeddings", IndexError)
    padding_idx = padding_index(padding_idx, weight.shape[0])
    if max_norm is not None:
        _renorm_rows_(weight, input, max_norm, norm_type)
    out = weight[input]
    if padding_idx is None and not scale_grad_by_freq:
        return out
    factor = None
    if scale_grad_by_freq:  # 1 / (the count of each position's index in input), from a scatter-add
        ids = input._data.reshape((-1,))
        counts = nd_zeros((weight.shape[0],), dtype=weight.dtype, device=weight.device)
        counts.index_add_((ids,), nd_full(ids.shape, 1.0, dtype=weight.dtype, device=weight.device))
        factor = Tensor._make((1.0 / counts[(ids,)]).reshape(tuple(input.shape) + (1,)), False, None)
    if padding_idx is not None:
        keep = (input != padding_idx).unsqueeze(-1).to(weight.dtype)
        factor = keep if factor is None else factor * keep
    # the value of ``out``, the gradient of ``out`` times ``factor``
    return out.detach() + (out - out.detach()) * factor


def _renorm_rows_(weight: Tensor, input: Tensor, max_norm: float, norm_type: float) -> None:
    """Scale, in place and outside the graph, each row of ``weight`` indexed by ``input`` whose
    ``norm_type``-norm exceeds ``max_norm`` by ``max_norm / (norm + 1e-7)``. (A row indexed twice
    is written twice with the same value.)"""
    key = (input._data.reshape((-1,)),)
    w = weight._data
    rows = abs(w[key])
    if norm_type == math.inf:
        norms = rows.max(1, keepdims=True)
    elif norm_type == 1:
        norms = rows.sum(1, keepdims=True)
    else:
        norms = (rows ** norm_type).sum(1, keepdims=True) ** (1.0 / norm_type)
    scale = nd_where(norms > max_norm, max_norm / (norms + 1e-7), 1.0)
    w[key] = w[key] * scale


def _bags(input: Tensor, offsets: Tensor | None, include_last_offset: bool) -> tuple[Tensor, np.ndarray, int]:
    """The indices of ``embedding_bag`` as one flat vector, the bag of each position (-1 for a
    position after the last bag) and the number of bags. A 2-D input is one bag per row."""
    if input.ndim == 2:
        if offsets is not None:
            raise ValueError("if input is 2D, then offsets has to be None, as input is treated is a mini-batch of "
                             "fixed length sequences.")
        b, n = input.shape
        return input.reshape(-1), np.repeat(np.arange(b), n), b
    if input.ndim != 1:
        raise ValueError(f"input has to be 1D or 2D Tensor, but got Tensor of dimension {input.ndim}")
    if offsets is None or offsets.ndim != 1:
        raise ValueError(f"offsets has to be a 1D Tensor but got {None if offsets is None else offsets.ndim}")
    starts = offsets.numpy().astype(np.int64)
    n = input.shape[0]
    if starts.size and starts[0] != 0:
        raise RuntimeError(f"offsets[0] has to be 0, i.e., the first sequence in the mini-batch has to start from "
                           f"position 0. However, got {starts[0]}")
    if include_last_offset:
        starts, ends = starts[:-1], starts[1:]
    else:
        ends = np.append(starts[1:], n)
    if (ends < starts).any() or (ends > n).any():
        raise RuntimeError(f"offsets must be non-decreasing and at most the input length {n}, got {starts.tolist()}")
    bag = np.full(n, -1)
    bag[:ends[-1] if ends.size else 0] = np.repeat(np.arange(starts.size), ends - starts)
    return input, bag, int(starts.size)


def embedding_bag(input: Tensor, weight: Tensor, offsets: Tensor | None = None, max_norm: float | None = None,
                  norm_type: float = 2, scale_grad_by_freq: bool = False, mode: str = "mean", sparse: bool = False,
                  per_sample_weights: Tensor | None = None, include_last_offset: bool = False,
                  padding_idx: int | None = None) -> Tensor:
    """The sum, mean or max of each bag of embeddings, without building the (bags, length, dim)
    tensor for sum and mean: a (bags, positions) matrix of 0/1 (or 1 / bag size) times the looked-up
    rows. Bags are the rows of a 2-D ``input``, or the runs of a 1-D one starting at ``offsets``;
    ``padding_idx`` entries are left out (and not counted); an empty bag gives zeros.
    ``per_sample_weights`` (``mode='sum'`` only) scales each looked-up row."""
    if mode not in ("sum", "mean", "max"):
        raise ValueError(f"mode has to be one of sum, mean or max, got {mode!r}")
    if per_sample_weights is not None and mode != "sum":
        raise NotImplementedError(f"embedding_bag: per_sample_weights was not None. per_sample_weights is only "
                                  f"supported for mode='sum' (got mode='{mode}').")
    flat, bag, n_bags = _bags(input, offsets, include_last_offset)
    ids = flat.numpy()
    if padding_idx is not None:
        padding_idx %= weight.shape[0]
        bag = np.where(ids == padding_idx, -1, bag)
    rows = embedding(flat, weight, None, max_norm, norm_type, scale_grad_by_freq)        # (L, D)
    if per_sample_weights is not None:
        rows = rows * per_sample_weights.reshape(-1, 1)
    counts = np.bincount(bag[bag >= 0], minlength=n_bags)
    if mode != "max":
        select = (bag[None, :] == np.arange(n_bags)[:, None]).astype(np.float64)
        if mode == "mean":
            select /= np.maximum(counts, 1)[:, None]
        return tensor(select, dtype=weight.dtype, device=weight.device) @ rows
    # max: each bag's positions padded to the longest bag (the padding masked to -inf)
    k = max(int(counts.max()) if counts.size else 0, 1)
    order = np.argsort(np.where(bag >= 0, bag, n_bags), kind="stable")[:int(counts.sum())]
    slot = np.arange(order.size) - np.repeat(np.cumsum(counts) - counts, counts)
    index, valid = np.zeros((n_bags, k), dtype=np.int64), np.zeros((n_bags, k), dtype=bool)
    index[bag[order], slot], valid[bag[order], slot] = order, True
    gathered = rows[tensor(index, dtype=int64, device=weight.device)]                    # (B, K, D)
    mask = tensor(valid[:, :, None], device=weight.device)
    cols = where(mask, gathered, -math.inf).unsqueeze(1).unsqueeze(-1)                  # (B, 1, K, D, 1)
    out, _ = _max_of_windows(cols, None)
    return where(tensor((counts > 0)[:, None], device=weight.device), out.reshape(n_bags, -1), 0.0)


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
    if input.dtype.is_floating_point and all(p is None or (p.dtype == input.dtype and p.device == input.device)
                                             for p in (weight, bias)):
        return fused.layer_norm(input, weight, bias, len(shape), eps)  # one graph node (ops/fused.py)
    out, _, _ = _standardized(input, tuple(range(-len(shape), 0)), eps)
    return _affine(out, weight, bias, tuple(shape))


def _standardized(x: Tensor, dims: tuple[int, ...], eps: float) -> tuple[Tensor, Tensor, Tensor]:
    """``(x - mean) / sqrt(var + eps)`` over ``dims`` with the *biased* variance, and the mean and
    variance themselves (dims kept): the core of every normalisation layer."""
    mean = x.mean(dims, keepdim=True)
    centered = x - mean
    var = (centered * centered).mean(dims, keepdim=True)
    return centered * (var + eps).rsqrt(), mean, var


def _affine(out: Tensor, weight: Tensor | None, bias: Tensor | None, shape: tuple[int, ...]) -> Tensor:
    """``out * weight + bias``, each (when given) reshaped to ``shape`` to broadcast."""
    if weight is not None:
        out = out * weight.reshape(*shape)
    if bias is not None:
        out = out + bias.reshape(*shape)
    return out


def _update_running(running_mean: Tensor | None, running_var: Tensor | None, mean: Tensor, var: Tensor,
                    n: int, momentum: float) -> None:
    """``running = (1 - momentum) * running + momentum * batch``, in place and outside the graph; the
    variance made *unbiased* on the way (``n / (n - 1)``, ``n`` values per statistic), as PyTorch."""
    if running_mean is None or running_var is None:
        return
    with no_grad():
        running_mean *= 1.0 - momentum
        running_mean += momentum * mean.detach()
        running_var *= 1.0 - momentum
        running_var += (momentum * n / (n - 1)) * var.detach()


def _normalized_by_running(input: Tensor, running_mean: Tensor | None, running_var: Tensor | None,
                           shape: tuple[int, ...], eps: float, missing: str) -> Tensor:
    """``input`` standardised with running statistics (evaluation mode)."""
    if running_mean is None or running_var is None:
        raise ValueError(missing)
    return (input - running_mean.reshape(*shape)) * (running_var.reshape(*shape) + eps).rsqrt()


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
        out, mean, var = _standardized(input, dims, eps)
        _update_running(running_mean, running_var, mean.reshape(-1), var.reshape(-1), n, momentum)
    else:
        out = _normalized_by_running(input, running_mean, running_var, shape, eps,
                                     "batch_norm in eval mode needs running_mean and running_var")
    return _affine(out, weight, bias, shape)


# ---------------------------------------------------------------------- padding, convolution, pooling
_size_any = int | Sequence[int]


def _ntuple(x: Any, n: int, name: str) -> tuple[int, ...]:
    """``x`` as an n-tuple of ints: an int is repeated, a sequence must have n ints."""
    t = (x,) * n if isinstance(x, int) else tuple(x)
    if len(t) == 1 and n > 1:
        t = t * n
    if len(t) != n or not all(isinstance(v, int) for v in t):
        raise TypeError(f"{name} must be an int or a tuple of {n} ints, got {x!r}")
    return t


def _pad_index(n: int, before: int, after: int, mode: str) -> np.ndarray:
    """The source index of each position of an axis of length ``n`` padded by ``before`` /
    ``after`` (negative amounts crop) under ``mode``: reflect mirrors about the edge elements,
    replicate repeats them, circular wraps around."""
    j = np.arange(-before, n + after)
    if mode == "replicate":
        return np.clip(j, 0, n - 1)
    if mode == "circular":
        return j % n
    period = 2 * (n - 1)  # reflect: ... 2 1 [0 1 2 ... n-1] n-2 n-3 ...
    j = np.abs(j) % period if period else np.zeros_like(j)
    return np.where(j >= n, period - j, j)


def pad(input: Tensor, pad: Sequence[int], mode: str = "constant", value: float | None = None) -> Tensor:
    """Pad the last ``len(pad) // 2`` dims: ``pad = (left, right, top, bottom, ...)`` starting from
    the last dim, as PyTorch. ``mode`` is ``"constant"`` (``value``, default 0; negative amounts
    crop, any number of dims), or ``"reflect"``, ``"replicate"``, ``"circular"`` for the last 1, 2
    or 3 dims of an input with one or two more dims (each a gather with one index vector per
    padded dim: an element read twice gets both gradients)."""
    if len(pad) % 2 or len(pad) // 2 > input.ndim:
        raise ValueError("Padding length must be divisible by 2 and at most 2 * ndim, "
                         f"got {len(pad)} for {input.ndim}D")
    if mode == "constant":
        return _pad_constant(input, pad, 0.0 if value is None else value)
    if mode not in ("reflect", "replicate", "circular"):
        raise NotImplementedError(f"Unrecognised padding mode {mode}")
    if value:
        raise ValueError(f'Padding mode "{mode}" doesn\'t take in value argument.')
    k = len(pad) // 2
    if not 1 <= k <= 3 or input.ndim not in (k + 1, k + 2):
        raise NotImplementedError(f"Only 2D, 3D, 4D, 5D padding with non-constant padding are supported for now; "
                                  f"got a {input.ndim}D input and a pad of length {len(pad)} in mode {mode!r}")
    out = input
    for i in range(k):
        dim = input.ndim - 1 - i
        before, after, n = pad[2 * i], pad[2 * i + 1], input.shape[dim]
        if mode == "reflect" and (before >= n or after >= n):
            raise RuntimeError(f"Argument #4: Padding size should be less than the corresponding input dimension, "
                               f"but got: padding ({before}, {after}) at dimension {dim} of input {list(input.shape)}")
        if mode == "circular" and (before > n or after > n):
            raise RuntimeError("Padding value causes wrapping around more than once.")
        if mode == "replicate" and n == 0:
            raise RuntimeError(f"padding of dimension {dim} needs a non-empty input, got {list(input.shape)}")
        if before or after:
            index = tensor(_pad_index(n, before, after, mode), dtype=int64, device=input.device)
            out = out.index_select(dim, index)
    return out


def _pad_constant(input: Tensor, pad: Sequence[int], value: float) -> Tensor:
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


def _as_2d(input: Tensor, nd: int, name: str) -> tuple[Tensor, bool]:
    """An (N, C, *spatial) input with ``nd`` spatial dims (or an unbatched (C, *spatial) one) as
    (N, C, H, W): a 1-D signal becomes an image of height 1. Also says whether it was batched."""
    if input.ndim not in (nd + 1, nd + 2):
        raise RuntimeError(f"{name}: Expected {nd + 1}D (unbatched) or {nd + 2}D (batched) input, "
                           f"but got input of size: {list(input.shape)}")
    batched = input.ndim == nd + 2
    x = input if batched else input.unsqueeze(0)
    return (x.unsqueeze(2) if nd == 1 else x), batched


def _from_2d(out: Tensor, nd: int, batched: bool) -> Tensor:
    """The inverse of :func:`_as_2d` for a result."""
    out = out.squeeze(2) if nd == 1 else out
    return out if batched else out.squeeze(0)


def _lift(x: Any, nd: int, name: str, one: int) -> tuple[int, ...]:
    """A window argument with one entry per axis the code runs on: ``(one, x)`` for 1-D (which
    runs as 2-D), else ``nd`` entries."""
    t = _ntuple(x, nd, name)
    return (one, t[0]) if nd == 1 else t


def _same_padding(kernel: tuple[int, ...], dilation: tuple[int, ...]) -> list[tuple[int, int]]:
    """``padding='same'``: d * (k - 1) zeros per dim, the odd one on the right, as PyTorch."""
    return [(d * (k - 1) // 2, d * (k - 1) - d * (k - 1) // 2) for k, d in zip(kernel, dilation)]


def _conv_padding(input: Tensor, padding: Any, kernel: tuple[int, ...], stride: tuple[int, ...],
                  dilation: tuple[int, ...]) -> tuple[Tensor, tuple[int, ...]]:
    """Resolve ``padding`` (ints, ``'valid'`` or ``'same'``) to symmetric amounts; an asymmetric
    ``'same'`` (even extent) pads the input explicitly and returns zero padding."""
    nd = len(kernel)
    if isinstance(padding, str):
        if padding == "valid":
            return input, (0,) * nd
        if padding != "same":
            raise ValueError(f"Invalid padding string {padding!r}, should be one of {{'valid', 'same'}}")
        if any(s != 1 for s in stride):
            raise RuntimeError("padding='same' is not supported for strided convolutions")
        amounts = _same_padding(kernel, dilation)
        if all(a == b for a, b in amounts):
            return input, tuple(a for a, _ in amounts)
        return pad(input, [v for pair in reversed(amounts) for v in pair]), (0,) * nd
    return input, _ntuple(padding, nd, "padding")


def _conv(input: Tensor, weight: Tensor, bias: Tensor | None, stride: Any, padding: Any, dilation: Any,
          groups: int, nd: int) -> Tensor:
    """N-d (1 or 2) convolution as one 2-D :class:`~tinytorch.ops.windows.Convolution` node:
    ``groups`` split the channels into independent convolutions (arguments checked here, with
    PyTorch's messages)."""
    name = f"conv{nd}d"
    if weight.ndim != nd + 2:
        raise RuntimeError(f"{name}: Expected {nd + 2}D weight, got weight of size {list(weight.shape)}")
    kernel = tuple(weight.shape[2:])
    stride_t, dilation_t = _ntuple(stride, nd, "stride"), _ntuple(dilation, nd, "dilation")
    input, padding_t = _conv_padding(input, padding, kernel, stride_t, dilation_t)
    x, batched = _as_2d(input, nd, name)
    n, c, h, w = x.shape
    o, cg = weight.shape[:2]
    if groups < 1 or o % groups:
        raise RuntimeError(f"Given groups={groups}, expected weight to be divisible by {groups} at dimension 0, "
                           f"but got weight of size {list(weight.shape)} instead")
    if c != cg * groups:
        raise RuntimeError(f"Given groups={groups}, weight of size {list(weight.shape)}, expected input"
                           f"{list(input.shape)} to have {cg * groups} channels, but got {c} channels instead")
    args = dict(kernel=_lift(kernel, nd, "kernel_size", 1), stride=_lift(stride_t, nd, "stride", 1),
                padding=_lift(padding_t, nd, "padding", 0), dilation=_lift(dilation_t, nd, "dilation", 1))
    _check_windows((h, w), **args)
    if nd == 1:
        weight = weight.unsqueeze(2)  # (O, C/G, 1, k): a signal is an image of height 1
    out = Convolution.apply(x, weight, bias, stride=args["stride"], padding=args["padding"],
                            dilation=args["dilation"], groups=groups)
    return _from_2d(out, nd, batched)


def conv1d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride: _size_any = 1,
           padding: _size_any | str = 0, dilation: _size_any = 1, groups: int = 1) -> Tensor:
    """1-D cross-correlation of ``input`` (N, C, L) or (C, L) with ``weight`` (O, C / groups, k),
    plus ``bias`` (O,); ``padding`` an int, ``'valid'`` or ``'same'``. A signal is an image of
    height 1, so this is :func:`conv2d`'s computation."""
    return _conv(input, weight, bias, stride, padding, dilation, groups, 1)


def conv2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride: _size_any = 1,
           padding: _size_any | str = 0, dilation: _size_any = 1, groups: int = 1) -> Tensor:
    """2-D cross-correlation of ``input`` (N, C, H, W) or (C, H, W) with ``weight``
    (O, C / groups, kh, kw), plus ``bias`` (O,).

    The computation is a matrix product with the im2col matrix: :func:`unfold` lays every receptive
    field out as a column of a (C * kh * kw, OH * OW) matrix per image, and the (O, C * kh * kw)
    weight matrix times it gives all outputs, already in (N, O, OH * OW) order. One
    :class:`~tinytorch.ops.windows.Convolution` node computes it; on the C backend without
    building that matrix (``backend_cpu/conv.c`` packs small panels of it at a time).
    Output shape: (N, O, OH, OW) with OH = (H + 2 * padding - dilation * (kh - 1) - 1) // stride + 1.
    ``padding='same'`` keeps H and W (stride 1; an even extent puts the extra zero on the right).
    """
    return _conv(input, weight, bias, stride, padding, dilation, groups, 2)


# ---------------------------------------------------------------------- 3-D: windows as views
def _batched_5d(input: Tensor, name: str) -> tuple[Tensor, bool]:
    """``input`` as (N, C, D, H, W), and whether it had the batch dim."""
    if input.ndim not in (4, 5):
        raise RuntimeError(f"{name}: Expected 4D (unbatched) or 5D (batched) input, but got input of size: "
                           f"{list(input.shape)}")
    return (input, True) if input.ndim == 5 else (input.unsqueeze(0), False)


def _windows_3d(x: Tensor, kernel: tuple[int, ...], stride: tuple[int, ...], dilation: tuple[int, ...]) -> Tensor:
    """Every 3-D window of ``x`` (N, C, D, H, W), as a view (N, C, OD, OH, OW, kd, kh, kw): one
    ``Tensor.unfold`` per spatial dim (each appends its window dim last), dilated windows by a
    strided slice of that dim."""
    for i in range(3):
        x = x.unfold(2 + i, dilation[i] * (kernel[i] - 1) + 1, stride[i])
        if dilation[i] > 1:
            x = x[..., ::dilation[i]]
    return x


def conv3d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride: _size_any = 1,
           padding: _size_any | str = 0, dilation: _size_any = 1, groups: int = 1) -> Tensor:
    """3-D cross-correlation of ``input`` (N, C, D, H, W) or (C, D, H, W) with ``weight``
    (O, C / groups, kd, kh, kw), plus ``bias`` (O,): the zero-padded input's windows as a view,
    contracted with the weight in one ``einsum`` per call (an im2col matrix is materialised:
    fine for the small volumes this library meets; the 2-D convolutions have direct kernels)."""
    x, batched = _batched_5d(input, "conv3d")
    if weight.ndim != 5:
        raise RuntimeError(f"conv3d: Expected a 5-D weight (O, C / groups, kd, kh, kw), got {list(weight.shape)}")
    n, c = x.shape[0], x.shape[1]
    o, k = weight.shape[0], tuple(weight.shape[2:])
    if c != weight.shape[1] * groups or o % groups:
        raise RuntimeError(f"Given groups={groups}, weight of size {list(weight.shape)}, expected input"
                           f"{list(input.shape)} to have {weight.shape[1] * groups} channels, but got {c} channels "
                           f"instead")
    s, d = _ntuple(stride, 3, "stride"), _ntuple(dilation, 3, "dilation")
    x, symmetric = _conv_padding(x, padding, k, s, d)
    x = pad(x, [v for v in reversed(symmetric) for _ in range(2)])
    cols = _windows_3d(x, k, s, d)  # (N, C, OD, OH, OW, kd, kh, kw)
    od, oh, ow = cols.shape[2:5]
    cols = cols.reshape(n, groups, c // groups, od, oh, ow, *k)
    w = weight.reshape(groups, o // groups, c // groups, *k)
    out = ops.einsum("ngcdhwxyz,gocxyz->ngodhw", cols, w).reshape(n, o, od, oh, ow)
    if bias is not None:
        out = out + bias.reshape(1, o, 1, 1, 1)
    return out if batched else out.squeeze(0)


def _pool_3d(input: Tensor, kernel_size: Any, stride: Any, padding: Any, dilation: Any, ceil_mode: bool,
             fill: float, name: str) -> tuple[Tensor, "_PoolGeometry", bool]:
    """The windows of the padded input for a 3-D pooling: ``(windows, geometry, batched)``, the
    input padded with ``fill`` (and on the right for ``ceil_mode``'s last windows)."""
    x, batched = _batched_5d(input, name)
    g = _pool_geometry(x.shape[2:], kernel_size, stride, padding, dilation, ceil_mode, 3, name)
    amounts = [(p, p + e) for p, e in zip(g.padding, g.extra)]
    x = pad(x, [v for pair in reversed(amounts) for v in pair], value=fill)
    windows = _windows_3d(x, g.kernel, g.stride, g.dilation)[:, :, :g.out[0], :g.out[1], :g.out[2]]
    return windows, g, batched


def max_pool3d(input: Tensor, kernel_size: _size_any, stride: _size_any | None = None, padding: _size_any = 0,
               dilation: _size_any = 1, ceil_mode: bool = False, return_indices: bool = False) -> Tensor:
    """The maximum over each 3-D window of ``input`` (N, C, D, H, W) or (C, D, H, W); padding
    reads as -inf. The gradient goes to the maxima (shared between tied elements)."""
    if return_indices:
        raise NotImplementedError("max_pool3d: return_indices=True is not implemented")
    windows, _, batched = _pool_3d(input, kernel_size, stride, padding, dilation, ceil_mode, -math.inf,
                                         "max_pool3d")
    out = windows.amax((-3, -2, -1))
    return out if batched else out.squeeze(0)


def avg_pool3d(input: Tensor, kernel_size: _size_any, stride: _size_any | None = None, padding: _size_any = 0,
               ceil_mode: bool = False, count_include_pad: bool = True, divisor_override: int | None = None) -> Tensor:
    """The mean over each 3-D window of ``input`` (N, C, D, H, W) or (C, D, H, W). The divisor is
    ``divisor_override`` if given, else the window's elements inside the input and (with
    ``count_include_pad``) its zero padding -- never ``ceil_mode``'s extra -- as PyTorch's: a
    product of per-axis counts, computed on the host."""
    windows, g, batched = _pool_3d(input, kernel_size, stride, padding, 1, ceil_mode, 0.0, "avg_pool3d")
    total = windows.sum((-3, -2, -1))
    if divisor_override is not None:
        if divisor_override == 0:
            raise RuntimeError("divisor must be not zero")
        out = total / divisor_override
    else:
        counts = np.ones(())
        for i in range(3):
            n = input.shape[input.ndim - 3 + i]
            first = np.arange(g.out[i]) * g.stride[i] - g.padding[i]  # each window's first cell, in input indices
            if count_include_pad:
                along = np.minimum(first + g.kernel[i], n + g.padding[i]) - first
            else:
                along = np.minimum(first + g.kernel[i], n) - np.maximum(first, 0)
            counts = np.multiply.outer(counts, along)
        out = total / tensor(counts, dtype=total.dtype, device=total.device)
    return out if batched else out.squeeze(0)


def adaptive_avg_pool3d(input: Tensor, output_size: Any) -> Tensor:
    """Mean over an ``output_size`` (int, triple, ``None`` keeps a size) grid of adaptive windows
    of ``input`` (N, C, D, H, W) or (C, D, H, W): one averaging matrix per axis."""
    x, batched = _batched_5d(input, "adaptive_avg_pool3d")
    sizes = (output_size,) * 3 if output_size is None or isinstance(output_size, int) else tuple(output_size)
    for axis in range(3):
        dim = 2 + axis
        n_in = x.shape[dim]
        n_out = n_in if sizes[axis] is None else sizes[axis]
        if n_in == n_out:
            continue
        x = (x.movedim(dim, -1) @ _averaging_matrix(n_in, n_out, x).T).movedim(-1, dim)
    return x if batched else x.squeeze(0)


def _conv_transpose(input: Tensor, weight: Tensor, bias: Tensor | None, stride: Any, padding: Any,
                    output_padding: Any, groups: int, dilation: Any, nd: int) -> Tensor:
    """The adjoint of :func:`_conv` (its gradient with respect to the input): every input pixel
    scatters ``weight`` times itself into a window of the output. With ``output_padding`` below
    the stride (always, unless the dilation is larger) that is exactly one
    :class:`~tinytorch.ops.windows.ConvolutionGradInput` node; otherwise one batched matmul makes
    the (N, C_out, kh, kw, H, W) columns, :class:`Fold` sums them into the full output, which is
    then cropped by ``padding`` and extended by ``output_padding`` on the bottom/right."""
    name = f"conv_transpose{nd}d"
    if weight.ndim != nd + 2:
        raise RuntimeError(f"{name}: Expected {nd + 2}D weight, got weight of size {list(weight.shape)}")
    x, batched = _as_2d(input, nd, name)
    n, c, h, w = x.shape
    cin, og = weight.shape[:2]
    kernel = tuple(weight.shape[2:])
    if groups < 1 or cin % groups or c != cin:
        raise RuntimeError(f"Given transposed=1, weight of size {list(weight.shape)}, expected input"
                           f"{list(input.shape)} to have {cin} channels, but got {c} channels instead "
                           f"(groups={groups})")
    (kh, kw) = _lift(kernel, nd, "kernel_size", 1)
    (sh, sw), (ph, pw) = _lift(stride, nd, "stride", 1), _lift(padding, nd, "padding", 0)
    (oph, opw), (dh, dw) = _lift(output_padding, nd, "output_padding", 0), _lift(dilation, nd, "dilation", 1)
    if min(sh, sw, dh, dw) < 1 or min(ph, pw, oph, opw) < 0:
        raise RuntimeError(f"{name}: stride and dilation must be positive, padding and output_padding "
                           f"non-negative, got stride={stride}, dilation={dilation}, padding={padding}, "
                           f"output_padding={output_padding}")
    if not (oph < max(sh, dh) and opw < max(sw, dw)):
        raise RuntimeError(f"output padding must be smaller than either stride or dilation, but got "
                           f"output_padding={output_padding}, stride={stride}, dilation={dilation}")
    full_hw = ((h - 1) * sh + dh * (kh - 1) + 1, (w - 1) * sw + dw * (kw - 1) + 1)
    if full_hw[0] + oph - 2 * ph < 1 or full_hw[1] + opw - 2 * pw < 1:
        raise RuntimeError(f"{name}: the padding {padding} leaves no output for input {list(input.shape)}")
    if oph < sh and opw < sw:
        # the gradient of the convolution with this weight whose input is the (H_out, W_out)
        # result: one ConvolutionGradInput node (output_padding's rows and columns get no window)
        out_hw = (full_hw[0] + oph - 2 * ph, full_hw[1] + opw - 2 * pw)
        weight4 = weight.unsqueeze(2) if nd == 1 else weight
        out = ConvolutionGradInput.apply(x, weight4, input_hw=out_hw, stride=(sh, sw), padding=(ph, pw),
                                         dilation=(dh, dw), groups=groups)
        if bias is not None:
            out = out + bias.reshape(groups * og, 1, 1)
        return _from_2d(out, nd, batched)
    k = og * kh * kw
    w_t = weight.reshape(groups, cin // groups, k).transpose(1, 2)        # (G, C_out/G * K, C_in/G)
    cols = (w_t @ x.reshape(n, groups, cin // groups, h * w)).reshape(n, groups * og, kh, kw, h, w)
    out = Fold.apply(cols, out_hw=full_hw, kernel=(kh, kw), stride=(sh, sw), padding=(0, 0), dilation=(dh, dw))
    if ph or pw or oph or opw:
        out = pad(out, (-pw, opw - pw, -ph, oph - ph))
    if bias is not None:
        out = out + bias.reshape(groups * og, 1, 1)
    return _from_2d(out, nd, batched)


def conv_transpose1d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride: _size_any = 1,
                     padding: _size_any = 0, output_padding: _size_any = 0, groups: int = 1,
                     dilation: _size_any = 1) -> Tensor:
    """Transposed 1-D convolution of ``input`` (N, C_in, L) with ``weight`` (C_in, C_out / groups, k):
    L_out = (L - 1) * stride - 2 * padding + dilation * (k - 1) + output_padding + 1."""
    return _conv_transpose(input, weight, bias, stride, padding, output_padding, groups, dilation, 1)


def conv_transpose2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride: _size_any = 1,
                     padding: _size_any = 0, output_padding: _size_any = 0, groups: int = 1,
                     dilation: _size_any = 1) -> Tensor:
    """Transposed 2-D convolution ("deconvolution") of ``input`` (N, C_in, H, W) with ``weight``
    (C_in, C_out / groups, kh, kw); the gradient of :func:`conv2d` with respect to its input.
    H_out = (H - 1) * stride - 2 * padding + dilation * (kh - 1) + output_padding + 1."""
    return _conv_transpose(input, weight, bias, stride, padding, output_padding, groups, dilation, 2)


def _insert_zeros(x: Tensor, dim: int, stride: int) -> Tensor:
    """``x`` with ``stride - 1`` zeros between neighbours along ``dim`` (length (n - 1) * stride + 1):
    each element paired with a block of zeros, the pairs flattened, the trailing zeros cut."""
    if stride == 1:
        return x
    shape = list(x.shape)
    zeros_ = ops.zeros(shape[:dim + 1] + [stride - 1] + shape[dim + 1:], dtype=x.dtype, device=x.device)
    spread = cat([x.unsqueeze(dim + 1), zeros_], dim + 1).reshape(shape[:dim] + [shape[dim] * stride]
                                                                  + shape[dim + 1:])
    return spread.narrow(dim, 0, (shape[dim] - 1) * stride + 1)


def conv_transpose3d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride: _size_any = 1,
                     padding: _size_any = 0, output_padding: _size_any = 0, groups: int = 1,
                     dilation: _size_any = 1) -> Tensor:
    """Transposed 3-D convolution of ``input`` (N, C_in, D, H, W) with ``weight``
    (C_in, C_out / groups, kd, kh, kw): the gradient of :func:`conv3d` with respect to its input,
    computed as a :func:`conv3d` -- the input spread by ``stride - 1`` zeros, padded by
    ``dilation * (k - 1) - padding`` (plus ``output_padding`` on the far side; a negative amount
    crops), convolved with the spatially flipped kernel, input and output channels swapped in
    each group. D_out = (D - 1) * stride - 2 * padding + dilation * (kd - 1) + output_padding + 1."""
    x, batched = _batched_5d(input, "conv_transpose3d")
    if weight.ndim != 5 or weight.shape[0] != x.shape[1]:
        raise RuntimeError(f"conv_transpose3d: expected a weight (C_in={x.shape[1]}, C_out / groups, kd, kh, kw), "
                           f"got {list(weight.shape)}")
    s, p = _ntuple(stride, 3, "stride"), _ntuple(padding, 3, "padding")
    op_, d = _ntuple(output_padding, 3, "output_padding"), _ntuple(dilation, 3, "dilation")
    if any(o >= max(si, di) for o, si, di in zip(op_, s, d)):
        raise RuntimeError(f"output padding must be smaller than either stride or dilation, but got "
                           f"output_padding={list(op_)}, stride={list(s)}, dilation={list(d)}")
    k = tuple(weight.shape[2:])
    for i in range(3):
        x = _insert_zeros(x, 2 + i, s[i])
    amounts = [(d[i] * (k[i] - 1) - p[i], d[i] * (k[i] - 1) - p[i] + op_[i]) for i in range(3)]
    x = pad(x, [v for pair in reversed(amounts) for v in pair])
    c_in, per_group = weight.shape[0], weight.shape[1]
    w = weight.reshape(groups, c_in // groups, per_group, *k).transpose(1, 2)
    w = w.reshape(groups * per_group, c_in // groups, *k).flip((2, 3, 4))
    out = conv3d(x, w, bias, 1, 0, d, groups)
    return out if batched else out.squeeze(0)


def _pool_size(size: int, k: int, s: int, p: int, d: int, ceil_mode: bool) -> int:
    """PyTorch's pooling output length: with ``ceil_mode`` a last, partial window counts when it
    starts inside the input or its left padding."""
    out = (size + 2 * p - d * (k - 1) - 1 + (s - 1 if ceil_mode else 0)) // s + 1
    if ceil_mode and (out - 1) * s >= size + p:
        out -= 1
    return out


class _PoolGeometry(NamedTuple):
    """A pooling's arguments, checked, one entry per spatial axis (two for the 1-D and 2-D
    pools, which run as 2-D; three for the 3-D ones)."""

    kernel: tuple[int, ...]
    stride: tuple[int, ...]
    padding: tuple[int, ...]
    dilation: tuple[int, ...]
    out: tuple[int, ...]
    extra: tuple[int, ...]  # positions beyond the right padding that ceil_mode's last window reads


def _pool_geometry(hw: tuple[int, ...], kernel: Any, stride: Any, padding: Any, dilation: Any, ceil_mode: bool,
                   nd: int, name: str) -> _PoolGeometry:
    k = _lift(kernel, nd, "kernel_size", 1)
    s = k if stride is None or (not isinstance(stride, int) and len(stride) == 0) else _lift(stride, nd, "stride", 1)
    p, d = _lift(padding, nd, "padding", 0), _lift(dilation, nd, "dilation", 1)
    if min(k) < 1 or min(s) < 1 or min(d) < 1 or min(p) < 0:
        raise RuntimeError(f"{name}: kernel_size, stride and dilation must be positive and padding non-negative, "
                           f"got kernel_size={kernel}, stride={stride}, dilation={dilation}, padding={padding}")
    axes = range(len(k))
    if any(p[a] > ((k[a] - 1) * d[a] + 1) // 2 for a in axes):
        raise RuntimeError(f"{name}: pad should be at most half of effective kernel size, but got pad={padding}, "
                           f"kernel_size={kernel} and dilation={dilation}")
    out = tuple(_pool_size(hw[a], k[a], s[a], p[a], d[a], ceil_mode) for a in axes)
    if min(out) < 1:
        raise RuntimeError(f"{name}: Given input size {hw}, the calculated output size {out} is too small")
    extra = tuple(max((out[a] - 1) * s[a] + d[a] * (k[a] - 1) + 1 - (hw[a] + 2 * p[a]), 0) for a in axes)
    return _PoolGeometry(k, s, p, d, out, extra)


def _pad_amounts(g: _PoolGeometry) -> tuple[tuple[int, int], tuple[int, int]]:
    """(before, after) per spatial axis: the padding, plus ceil_mode's extra on the far side."""
    return ((g.padding[0], g.padding[0] + g.extra[0]), (g.padding[1], g.padding[1] + g.extra[1]))


def _window_cols(x: Tensor, g: _PoolGeometry, pad_value: float) -> Tensor:
    """The pooling windows of ``x`` (N, C, H, W) as (N, C, K, OH, OW), padded with ``pad_value``."""
    (pt, pb), (pl, pr) = _pad_amounts(g)
    if pt or pb or pl or pr:
        x = _pad_constant(x, (pl, pr, pt, pb), pad_value)
    cols = Unfold.apply(x, kernel=g.kernel, stride=g.stride, padding=(0, 0), dilation=g.dilation)
    return cols.reshape(x.shape[0], x.shape[1], g.kernel[0] * g.kernel[1], *g.out)


def _max_of_windows(cols: Tensor, positions: NDArray | None) -> tuple[Tensor, Tensor | None]:
    """The maximum of each window of ``cols`` (N, C, K, OH, OW) and, given the windows'
    ``positions``, where it was. The gradient goes to the window's first maximum, as PyTorch's:
    a one-hot mask of it picks the values (``where`` + ``sum``, both fast elementwise kernels)."""
    mask = IndicesAlong.apply(cols, fn=first_max_mask, dim=2)  # an op: dispatch modes (vmap) see it
    values = where(mask, cols, 0.0).sum(2)
    if positions is None:
        return values, None
    return values, (mask.to(int64) * Tensor._make(positions, False, None)).sum(2)


def _max_pool(input: Tensor, kernel_size: Any, stride: Any, padding: Any, dilation: Any, ceil_mode: bool,
              return_indices: bool, nd: int) -> Any:
    name = f"max_pool{nd}d"
    x, batched = _as_2d(input, nd, name)
    g = _pool_geometry(x.shape[2:], kernel_size, stride, padding, dilation, ceil_mode, nd, name)
    params = dict(kernel=g.kernel, stride=g.stride, padding=g.padding, dilation=g.dilation, out_hw=g.out)
    out = _from_2d(MaxPool.apply(x, **params), nd, batched)
    if not return_indices:
        return out
    return out, _from_2d(MaxPoolIndices.apply(x, **params), nd, batched)


def max_pool1d(input: Tensor, kernel_size: _size_any, stride: _size_any | None = None, padding: _size_any = 0,
               dilation: _size_any = 1, ceil_mode: bool = False, return_indices: bool = False) -> Any:
    """Maximum over each window of ``input`` (N, C, L) or (C, L); see :func:`max_pool2d`."""
    return _max_pool(input, kernel_size, stride, padding, dilation, ceil_mode, return_indices, 1)


def max_pool2d(input: Tensor, kernel_size: _size_any, stride: _size_any | None = None, padding: _size_any = 0,
               dilation: _size_any = 1, ceil_mode: bool = False, return_indices: bool = False) -> Any:
    """Maximum over each ``kernel_size`` window (elements ``dilation`` apart), moved by ``stride``
    (default: ``kernel_size``), of ``input`` (N, C, H, W) or (C, H, W) padded with -inf;
    ``ceil_mode`` keeps a last partial window. With ``return_indices`` also the flat index
    ``h * W + w`` of each maximum in its plane (what :func:`max_unpool2d` takes)."""
    return _max_pool(input, kernel_size, stride, padding, dilation, ceil_mode, return_indices, 2)


def _avg_pool(input: Tensor, kernel_size: Any, stride: Any, padding: Any, ceil_mode: bool, count_include_pad: bool,
              divisor_override: int | None, nd: int) -> Tensor:
    name = f"avg_pool{nd}d"
    x, batched = _as_2d(input, nd, name)
    g = _pool_geometry(x.shape[2:], kernel_size, stride, padding, 1, ceil_mode, nd, name)
    total = _window_cols(x, g, 0.0).sum(2)
    if divisor_override is not None:
        if divisor_override == 0:
            raise RuntimeError("divisor must be not zero")
        return _from_2d(total / divisor_override, nd, batched)
    # each window's divisor: the elements it covers of the input (and of the padding when
    # count_include_pad), never ceil_mode's extra -- the sum of a window over a 0/1 mask
    (ph, pw), (eh, ew) = g.padding, g.extra
    inside = nd_full((1, 1) + tuple(x.shape[2:]), 1.0, dtype=x.dtype, device=x.device)
    if count_include_pad:
        inside = inside.pad(((0, 0), (0, 0), (ph, ph), (pw, pw)), 1.0).pad(((0, 0), (0, 0), (0, eh), (0, ew)), 0.0)
    else:
        inside = inside.pad(((0, 0), (0, 0)) + _pad_amounts(g), 0.0)
    counts = nd_unfold(inside, g.kernel, g.stride, (0, 0), g.dilation).reshape((1, 1, -1) + g.out).sum(2)
    return _from_2d(total / Tensor._make(counts, False, None), nd, batched)


def avg_pool1d(input: Tensor, kernel_size: _size_any, stride: _size_any | None = None, padding: _size_any = 0,
               ceil_mode: bool = False, count_include_pad: bool = True) -> Tensor:
    """Mean over each window of ``input`` (N, C, L) or (C, L); see :func:`avg_pool2d`."""
    return _avg_pool(input, kernel_size, stride, padding, ceil_mode, count_include_pad, None, 1)


def avg_pool2d(input: Tensor, kernel_size: _size_any, stride: _size_any | None = None, padding: _size_any = 0,
               ceil_mode: bool = False, count_include_pad: bool = True, divisor_override: int | None = None) -> Tensor:
    """Mean over each ``kernel_size`` window of ``input`` (N, C, H, W) or (C, H, W). The divisor
    counts the zero padding when ``count_include_pad`` (the default) but never the part of a
    ``ceil_mode`` window past the padding; ``divisor_override`` replaces it."""
    return _avg_pool(input, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override, 2)


def lp_pool1d(input: Tensor, norm_type: float, kernel_size: int, stride: int | None = None,
              ceil_mode: bool = False) -> Tensor:
    """The ``norm_type``-norm of each window of ``input`` (N, C, L): ``(sum x^p)^(1/p)``, an average
    pool of ``x^p`` times the window size (PyTorch's composition; no padding)."""
    (k,) = _ntuple(kernel_size, 1, "kernel_size")
    return (avg_pool1d(input ** norm_type, k, stride, 0, ceil_mode) * k) ** (1.0 / norm_type)


def lp_pool2d(input: Tensor, norm_type: float, kernel_size: _size_any, stride: _size_any | None = None,
              ceil_mode: bool = False) -> Tensor:
    """The ``norm_type``-norm of each window of ``input`` (N, C, H, W), as :func:`lp_pool1d`."""
    kh, kw = _ntuple(kernel_size, 2, "kernel_size")
    return (avg_pool2d(input ** norm_type, (kh, kw), stride, 0, ceil_mode) * (kh * kw)) ** (1.0 / norm_type)


def local_response_norm(input: Tensor, size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 1.0) -> Tensor:
    """Divide each element of ``input`` (N, C, *) by ``(k + alpha * mean of x^2 over the size
    neighbouring channels)^beta`` (AlexNet's normalisation; the window centred, zero-padded, as
    PyTorch): the mean is an average pool of height ``size`` over the channel axis."""
    if input.ndim < 3:
        raise ValueError(f"Expected 3D or higher dimensionality input (got {input.ndim} dimensions)")
    if input.numel() == 0:
        return input
    n, c = input.shape[:2]
    sq = (input * input).reshape(n, 1, c, -1)
    sq = _pad_constant(sq, (0, 0, size // 2, (size - 1) // 2), 0.0)
    div = avg_pool2d(sq, (size, 1), stride=1).reshape(*input.shape)
    return input / (div * alpha + k) ** beta


def _adaptive_bounds(n_in: int, n_out: int) -> tuple[np.ndarray, np.ndarray]:
    """PyTorch's adaptive windows: output i covers [floor(i * n_in / n_out), ceil((i + 1) * n_in / n_out))."""
    i = np.arange(n_out)
    return (i * n_in) // n_out, ((i + 1) * n_in + n_out - 1) // n_out


def _averaging_matrix(n_in: int, n_out: int, like: Tensor) -> Tensor:
    """The (n_out, n_in) matrix whose row i averages adaptive window i (1 / |window| over it),
    in ``like``'s dtype and device."""
    start, end = _adaptive_bounds(n_in, n_out)
    j = np.arange(n_in)
    weights = ((j >= start[:, None]) & (j < end[:, None])) / (end - start)[:, None]
    return tensor(weights, dtype=like.dtype, device=like.device)


def _adaptive_sizes(output_size: Any, hw: tuple[int, ...], nd: int) -> tuple[int, ...]:
    """``output_size`` with each ``None`` replaced by the input's size there."""
    t = (output_size,) * nd if output_size is None or isinstance(output_size, int) else tuple(output_size)
    if len(t) == 1 and nd > 1:
        t = t * nd
    if len(t) != nd:
        raise ValueError(f"adaptive pooling expects an output_size of {nd} values, got {output_size!r}")
    sizes = tuple(hw[a] if v is None else v for a, v in enumerate(t))
    if min(sizes) < 0 or (min(sizes) == 0 and min(hw) > 0):
        raise RuntimeError(f"adaptive pooling: output_size must be positive, got {output_size!r}")
    return sizes


def _adaptive_input(input: Tensor, nd: int, name: str) -> tuple[Tensor, bool]:
    if input.ndim not in (nd + 1, nd + 2) or 0 in input.shape[-nd:]:
        raise RuntimeError(f"{name}: Expected {nd + 1}D or {nd + 2}D tensor with non-zero spatial sizes, "
                           f"got {list(input.shape)}")
    return _as_2d(input, nd, name)


def _adaptive_avg(input: Tensor, output_size: Any, nd: int) -> Tensor:
    """Mean over each adaptive window: windows differ in size, so each axis is one matmul with an
    (out, in) averaging matrix (row i holds 1 / |window i| over window i)."""
    x, batched = _adaptive_input(input, nd, f"adaptive_avg_pool{nd}d")
    out_hw = _adaptive_sizes(output_size, tuple(x.shape[2:])[2 - nd:], nd)
    out_hw = (1,) + out_hw if nd == 1 else out_hw
    for axis in (0, 1):
        n_in, n_out = x.shape[2 + axis], out_hw[axis]
        if n_in == n_out:
            continue
        m = _averaging_matrix(n_in, n_out, x)
        x = m @ x if axis == 0 else x @ m.T
    return _from_2d(x, nd, batched)


def adaptive_avg_pool1d(input: Tensor, output_size: int) -> Tensor:
    """Mean over ``output_size`` windows of ``input`` (N, C, L) or (C, L) that tile it as evenly as
    possible (PyTorch's adaptive windows, which may overlap by one)."""
    return _adaptive_avg(input, output_size, 1)


def adaptive_avg_pool2d(input: Tensor, output_size: Any) -> Tensor:
    """Mean over an ``output_size`` (int, pair, ``None`` keeps a size) grid of adaptive windows of
    ``input`` (N, C, H, W) or (C, H, W)."""
    return _adaptive_avg(input, output_size, 2)


def _adaptive_max(input: Tensor, output_size: Any, return_indices: bool, nd: int) -> Any:
    """Maximum over each adaptive window: every window is read as a window of the largest size,
    its index list padded by repeating its last element (a repeat never changes the maximum,
    and the first occurrence keeps the gradient), then reduced as a pooling."""
    x, batched = _adaptive_input(input, nd, f"adaptive_max_pool{nd}d")
    h, w = x.shape[2:]
    out_hw = _adaptive_sizes(output_size, (h, w)[2 - nd:], nd)
    oh, ow = (1,) + out_hw if nd == 1 else out_hw
    index = []
    for n_in, n_out in ((h, oh), (w, ow)):
        start, end = _adaptive_bounds(n_in, n_out)
        k = int((end - start).max())
        index.append(np.minimum(start[:, None] + np.arange(k), end[:, None] - 1))   # (out, K)
    ih, iw = index[0][:, :, None, None], index[1][None, None, :, :]                  # (OH, KH, OW, KW)
    key = (slice(None), slice(None), tensor(ih, dtype=int64, device=x.device), tensor(iw, dtype=int64, device=x.device))
    kh, kw = index[0].shape[1], index[1].shape[1]
    cols = x[key].permute(0, 1, 3, 5, 2, 4).reshape(x.shape[0], x.shape[1], kh * kw, oh, ow)
    positions = None
    if return_indices:
        flat = np.broadcast_to(ih * w + iw, (oh, kh, ow, kw)).transpose(1, 3, 0, 2).reshape(1, 1, kh * kw, oh, ow)
        positions = nd_array(np.ascontiguousarray(flat), dtype=int64, device=x.device)
    out, idx = _max_of_windows(cols, positions)
    out = _from_2d(out, nd, batched)
    return (out, _from_2d(idx, nd, batched)) if idx is not None else out


def adaptive_max_pool1d(input: Tensor, output_size: int, return_indices: bool = False) -> Any:
    """Maximum over ``output_size`` adaptive windows of ``input`` (N, C, L) or (C, L)."""
    return _adaptive_max(input, output_size, return_indices, 1)


def adaptive_max_pool2d(input: Tensor, output_size: Any, return_indices: bool = False) -> Any:
    """Maximum over an ``output_size`` grid of adaptive windows of ``input`` (N, C, H, W) or
    (C, H, W); with ``return_indices`` also each maximum's flat index ``h * W + w``."""
    return _adaptive_max(input, output_size, return_indices, 2)


def _max_unpool(input: Tensor, indices: Tensor, kernel_size: Any, stride: Any, padding: Any, output_size: Any,
                nd: int) -> Tensor:
    name = f"max_unpool{nd}d"
    x, batched = _as_2d(input, nd, name)
    idx, _ = _as_2d(indices, nd, name)
    if tuple(idx.shape) != tuple(x.shape) or idx.dtype != int64:
        raise RuntimeError(f"{name}: Expected shape of indices to be same as that of the input tensor "
                           f"({list(input.shape)}) and of dtype int64, got {list(indices.shape)} ({indices.dtype})")
    k = _lift(kernel_size, nd, "kernel_size", 1)
    s = k if stride is None else _lift(stride, nd, "stride", 1)
    p = _lift(padding, nd, "padding", 0)
    n, c, h, w = x.shape
    size = tuple((x.shape[2 + a] - 1) * s[a] - 2 * p[a] + k[a] for a in (0, 1))
    if output_size is not None:
        given = tuple(output_size)[-nd:]
        size = (1, given[0]) if nd == 1 else (given[0], given[1])
    plane = size[0] * size[1]
    flat = idx.reshape(n, c, h * w)  # an op, so that under vmap the key's array is known as batched
    if flat.numel() and (int(flat._data.min().item()) < 0 or int(flat._data.max().item()) >= plane):
        raise RuntimeError(f"{name}: Found an invalid max index {int(flat._data.max().item())} "
                           f"(output volumes are of size {size[0]}x{size[1]})")
    rows = nd_array(np.arange(n).reshape(n, 1, 1), dtype=int64, device=x.device)
    chans = nd_array(np.arange(c).reshape(1, c, 1), dtype=int64, device=x.device)
    out = Unpool.apply(x.reshape(n, c, h * w), key=(rows, chans, flat._data), shape=(n, c, plane))
    return _from_2d(out.reshape(n, c, *size), nd, batched)


def max_unpool1d(input: Tensor, indices: Tensor, kernel_size: _size_any, stride: _size_any | None = None,
                 padding: _size_any = 0, output_size: Sequence[int] | None = None) -> Tensor:
    """The partial inverse of :func:`max_pool1d`: each value put back at its index, zeros elsewhere."""
    return _max_unpool(input, indices, kernel_size, stride, padding, output_size, 1)


def max_unpool2d(input: Tensor, indices: Tensor, kernel_size: _size_any, stride: _size_any | None = None,
                 padding: _size_any = 0, output_size: Sequence[int] | None = None) -> Tensor:
    """The partial inverse of :func:`max_pool2d`: an (N, C, H_out, W_out) map of zeros with each
    input value written at its flat index ``h * W_out + w``; H_out = (H - 1) * stride - 2 * padding
    + kernel_size unless ``output_size`` says otherwise."""
    return _max_unpool(input, indices, kernel_size, stride, padding, output_size, 2)


# ---------------------------------------------------------------------- resampling: interpolate, pixel shuffle
def _nearest_index(n_in: int, n_out: int, scale: float | None, exact: bool) -> np.ndarray:
    """PyTorch's nearest source index per output position, in float32 arithmetic as its kernel:
    ``min(floor(j * s), n_in - 1)`` (``nearest``) or ``floor((j + 0.5) * s)`` (``nearest-exact``)
    with s = 1 / scale_factor when one was given, else n_in / n_out."""
    s = np.float32(1.0 / scale) if scale is not None and scale > 0 else np.float32(n_in) / np.float32(n_out)
    j = np.arange(n_out, dtype=np.float32)
    if exact:
        j = j + np.float32(0.5)
    elif n_out in (n_in, 2 * n_in):  # PyTorch's integer shortcuts (copy, halve)
        return np.arange(n_out) * n_in // n_out
    return np.minimum(np.floor(j * s).astype(np.int64), n_in - 1)


def _source_positions(n_in: int, n_out: int, scale: float | None, align_corners: bool, ft: Any) -> np.ndarray:
    """Where each of ``n_out`` outputs samples an axis of ``n_in`` inputs, in input-index units
    (PyTorch's rule, in the float type ``ft``): with ``align_corners`` the end samples' centres
    meet; otherwise pixel centres are scaled by ``1 / scale`` (a given scale factor) or
    ``n_in / n_out``, which can fall below 0 at the first output."""
    if align_corners:
        step = ft((n_in - 1) / (n_out - 1)) if n_out > 1 else ft(0.0)
        return np.arange(n_out, dtype=ft) * step
    step = ft(1.0 / scale) if scale is not None and scale > 0 else ft(n_in) / ft(n_out)
    return step * (np.arange(n_out, dtype=ft) + ft(0.5)) - ft(0.5)


def _linear_weights(n_in: int, n_out: int, scale: float | None, align_corners: bool,
                    dtype: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For linear interpolation along one axis: each output's two source indices and the weight
    of the second (PyTorch's source-index rule, computed in the input's float type)."""
    ft = np.float32 if dtype == float32 else np.float64
    src = _source_positions(n_in, n_out, scale, align_corners, ft)
    if not align_corners:
        src = np.maximum(src, ft(0.0))
    i0 = src.astype(np.int64)
    i1 = i0 + (i0 < n_in - 1)
    return i0, i1, (src - i0.astype(ft)).astype(ft)


_CUBIC_A = -0.75  # the cubic convolution kernel's parameter (Keys' kernel with PyTorch's choice of A)


def _cubic_weights(n_in: int, n_out: int, scale: float | None, align_corners: bool,
                   dtype: Any) -> tuple[np.ndarray, np.ndarray]:
    """For bicubic interpolation along one axis: each output's four source indices (``i - 1`` to
    ``i + 2`` around the source position, clamped to the edges) and their weights from the
    cubic convolution kernel. The source position is PyTorch's, not clamped at 0 as the linear
    modes' is."""
    ft = np.float32 if dtype == float32 else np.float64
    src = _source_positions(n_in, n_out, scale, align_corners, ft)
    base = np.floor(src)
    t = (src - base).astype(ft)
    a = ft(_CUBIC_A)

    def near(d: np.ndarray) -> np.ndarray:  # |d| <= 1
        return ((a + 2) * d - (a + 3)) * d * d + 1

    def far(d: np.ndarray) -> np.ndarray:  # 1 < |d| < 2
        return ((a * d - 5 * a) * d + 8 * a) * d - 4 * a

    weights = np.stack([far(t + 1), near(t), near(1 - t), far(2 - t)], axis=1).astype(ft)
    index = np.clip(base.astype(np.int64)[:, None] + np.arange(-1, 3), 0, n_in - 1)
    return index, weights


def _interp_axis(x: Tensor, dim: int, n_out: int, scale: float | None, mode: str, align_corners: bool) -> Tensor:
    """Resample ``x`` along ``dim`` to ``n_out`` positions: a gather (nearest), or gathers blended
    by per-position weights (two for linear, four for cubic); all differentiable through
    ``index_select``."""
    n_in = x.shape[dim]
    if mode.startswith("nearest"):
        index = _nearest_index(n_in, n_out, scale, mode == "nearest-exact")
        return x.index_select(dim, tensor(index, dtype=int64, device=x.device))
    shape = (n_out,) + (1,) * (x.ndim - 1 - dim)
    if mode == "bicubic":
        index, weights = _cubic_weights(n_in, n_out, scale, align_corners, x.dtype)
        terms = [x.index_select(dim, tensor(index[:, k], dtype=int64, device=x.device))
                 * tensor(weights[:, k], dtype=x.dtype, device=x.device).reshape(*shape) for k in range(4)]
        return terms[0] + terms[1] + terms[2] + terms[3]
    i0, i1, lam = _linear_weights(n_in, n_out, scale, align_corners, x.dtype)
    lam1 = tensor(lam, dtype=x.dtype, device=x.device).reshape(*shape)
    lam0 = tensor(1 - lam, dtype=x.dtype, device=x.device).reshape(*shape)
    return (x.index_select(dim, tensor(i0, dtype=int64, device=x.device)) * lam0
            + x.index_select(dim, tensor(i1, dtype=int64, device=x.device)) * lam1)


_LINEAR_MODES = {"linear": 1, "bilinear": 2, "bicubic": 2, "trilinear": 3}  # the interpolating modes' dims


def interpolate(input: Tensor, size: Any = None, scale_factor: Any = None, mode: str = "nearest",
                align_corners: bool | None = None, recompute_scale_factor: bool | None = None,
                antialias: bool = False) -> Tensor:
    """Resize ``input`` (N, C, L), (N, C, H, W) or (N, C, D, H, W) to ``size``, or by
    ``scale_factor`` (output size floor(in * factor)), with ``mode`` ``"nearest"``,
    ``"nearest-exact"``, ``"linear"`` (3-D), ``"bilinear"`` or ``"bicubic"`` (4-D),
    ``"trilinear"`` (5-D) or ``"area"`` (adaptive average pooling; 3-D and 4-D).
    ``align_corners`` maps the corner pixels' centres onto each other (interpolating modes
    only). A given ``scale_factor`` also sets the source-index step unless
    ``recompute_scale_factor`` (PyTorch's rule). Each spatial axis is resampled in turn."""
    nd = input.ndim - 2
    if mode in ("nearest", "nearest-exact", "area"):
        if align_corners is not None:
            raise ValueError("align_corners option can only be set with the interpolating modes: "
                             "linear | bilinear | bicubic | trilinear")
    elif mode in _LINEAR_MODES:
        if _LINEAR_MODES[mode] != nd:
            raise NotImplementedError(f"Got {input.ndim}D input, but {mode} mode needs "
                                      f"{_LINEAR_MODES[mode] + 2}D input")
    else:
        raise NotImplementedError(f"interpolate: mode {mode!r} is not implemented (nearest, nearest-exact, "
                                  "linear, bilinear, bicubic, trilinear, area are)")
    if nd not in (1, 2, 3) or (mode == "area" and nd == 3):
        raise NotImplementedError(f"Input Error: Only 3D, 4D and 5D input Tensors supported (got {input.ndim}D) "
                                  f"for the modes: nearest | nearest-exact | linear | bilinear | trilinear | area "
                                  f"(area: 3D and 4D) (got {mode})")
    if antialias:
        raise NotImplementedError("interpolate: antialias=True is not implemented")
    if size is not None and scale_factor is not None:
        raise ValueError("only one of size or scale_factor should be defined")
    in_sizes = tuple(input.shape[2:])
    if size is not None:
        sizes = (size,) * nd if isinstance(size, int) else tuple(size)
        if len(sizes) != nd:
            raise ValueError(f"Input and output must have the same number of spatial dimensions, but got input "
                             f"with spatial dimensions of {list(in_sizes)} and output size of {size}.")
        scales: tuple[float | None, ...] = (None,) * nd
    elif scale_factor is not None:
        factors = (scale_factor,) * nd if isinstance(scale_factor, (int, float)) else tuple(scale_factor)
        if len(factors) != nd:
            raise ValueError(f"Input and scale_factor must have the same number of spatial dimensions, but got "
                             f"input with spatial dimensions of {list(in_sizes)} and scale_factor of {scale_factor}.")
        sizes = tuple(math.floor(n * float(f)) for n, f in zip(in_sizes, factors))
        scales = (None,) * nd if recompute_scale_factor else tuple(float(f) for f in factors)
    else:
        raise ValueError("either size or scale_factor should be defined")
    if min(sizes) < 1:
        raise RuntimeError(f"interpolate: output size {sizes} must be positive (input {list(input.shape)})")
    if mode == "area":  # the mean over each adaptive window
        return _adaptive_avg(input, sizes, nd)
    out = input
    for a in range(nd):
        out = _interp_axis(out, 2 + a, sizes[a], scales[a], mode, bool(align_corners))
    return out


def affine_grid(theta: Tensor, size: Any, align_corners: bool | None = None) -> Tensor:
    """The sampling grid of the 2-D affine maps ``theta`` (N, 2, 3) for an output of ``size``
    (N, C, H, W): ``grid[n, i, j] = theta[n] @ (x_j, y_i, 1)``, with ``x``, ``y`` the output
    pixels' normalised coordinates in [-1, 1] (pixel centres, or the corner pixels' centres at
    +-1 with ``align_corners``); shape (N, H, W, 2), for :func:`grid_sample`."""
    if len(size) != 4:
        raise NotImplementedError("affine_grid only supports 4D sizes, for 2D affine transformations")
    n, _, h, w = size
    if theta.ndim != 3 or tuple(theta.shape) != (n, 2, 3):
        raise ValueError(f"Expected a batch of 2D affine matrices of shape Nx2x3 for size {list(size)}. "
                         f"Got {list(theta.shape)}.")

    def coords(k: int) -> np.ndarray:
        if k == 1:
            return np.zeros(1)
        points = np.linspace(-1.0, 1.0, k)
        return points if align_corners else points * (k - 1) / k

    xs, ys = np.meshgrid(coords(w), coords(h))
    base = np.stack([xs, ys, np.ones_like(xs)], -1).reshape(1, h * w, 3)
    grid = tensor(base, dtype=theta.dtype, device=theta.device) @ theta.transpose(1, 2)
    return grid.reshape(n, h, w, 2)


def _reflect(x: Tensor, low: float, high: float) -> Tensor:
    """``x`` folded back into [low, high] by reflecting at the ends (repeatedly)."""
    span = high - low
    if span <= 0:
        return x * 0.0 + low
    d = (x - low).abs()
    flips = (d / span).floor()
    extra = d - flips * span
    return ops.where(ops.remainder(flips, 2.0) == 0, low + extra, high - extra)


def _source_coordinate(v: Tensor, size: int, align_corners: bool, padding_mode: str) -> Tensor:
    """A normalised coordinate in [-1, 1] as a pixel index of an axis of ``size`` pixels, with
    ``padding_mode``'s rule for points outside: ``border`` clamps, ``reflection`` mirrors."""
    pixel = (v + 1) / 2 * (size - 1) if align_corners else ((v + 1) * size - 1) / 2
    if padding_mode == "reflection":
        pixel = _reflect(pixel, 0.0, size - 1.0) if align_corners else _reflect(pixel, -0.5, size - 0.5)
    if padding_mode in ("border", "reflection"):
        pixel = pixel.clamp(0, size - 1)
    return pixel


def grid_sample(input: Tensor, grid: Tensor, mode: str = "bilinear", padding_mode: str = "zeros",
                align_corners: bool | None = None) -> Tensor:
    """Sample ``input`` (N, C, H, W) at the points ``grid`` (N, Ho, Wo, 2) gives in normalised
    coordinates (x then y, -1 and 1 the edges' pixels as in :func:`affine_grid`): bilinearly
    between the four neighbouring pixels, or at the nearest one (``mode="nearest"``, ties to
    even). Points outside read zeros (``padding_mode="zeros"``), the edge (``"border"``) or the
    mirrored image (``"reflection"``). Differentiable w.r.t. ``input`` and ``grid`` (the grid's
    gradient through the bilinear weights). Output (N, C, Ho, Wo)."""
    if mode not in ("bilinear", "nearest"):
        raise NotImplementedError(f"grid_sample: mode {mode!r} is not implemented (bilinear, nearest are)")
    if padding_mode not in ("zeros", "border", "reflection"):
        raise ValueError(f"nn.functional.grid_sample(): expected padding_mode to be 'zeros', 'border', or "
                         f"'reflection', but got: '{padding_mode}'")
    if input.ndim != 4 or grid.ndim != 4 or grid.shape[-1] != 2 or grid.shape[0] != input.shape[0]:
        raise RuntimeError(f"grid_sample: expected a 4-D input (N, C, H, W) and a grid (N, Ho, Wo, 2) with the same "
                           f"N, got input {list(input.shape)} and grid {list(grid.shape)}")
    n, c, h, w = input.shape
    ho, wo = grid.shape[1], grid.shape[2]
    ix = _source_coordinate(grid[..., 0], w, bool(align_corners), padding_mode)
    iy = _source_coordinate(grid[..., 1], h, bool(align_corners), padding_mode)
    flat = input.reshape(n, c, h * w)

    def read(x: Tensor, y: Tensor) -> Tensor:
        """input at integer pixels (x, y) of shape (N, Ho, Wo), zeros outside."""
        inside = (x >= 0) & (x <= w - 1) & (y >= 0) & (y <= h - 1)
        index = (y.clamp(0, h - 1) * w + x.clamp(0, w - 1)).to(int64).reshape(n, 1, ho * wo).expand(n, c, ho * wo)
        values = flat.gather(2, index).reshape(n, c, ho, wo)
        return values * inside.unsqueeze(1).to(input.dtype)

    if mode == "nearest":
        return read(ix.round().detach(), iy.round().detach())
    x0, y0 = ix.floor().detach(), iy.floor().detach()
    wx1, wy1 = (ix - x0).unsqueeze(1), (iy - y0).unsqueeze(1)
    wx0, wy0 = 1 - wx1, 1 - wy1
    return (read(x0, y0) * wx0 * wy0 + read(x0 + 1, y0) * wx1 * wy0
            + read(x0, y0 + 1) * wx0 * wy1 + read(x0 + 1, y0 + 1) * wx1 * wy1)


def upsample(input: Tensor, size: Any = None, scale_factor: Any = None, mode: str = "nearest",
             align_corners: bool | None = None) -> Tensor:
    """The older name of :func:`interpolate`."""
    warnings.warn("`nn.functional.upsample` is deprecated. Use `nn.functional.interpolate` instead.",
                  stacklevel=2)
    return interpolate(input, size, scale_factor, mode, align_corners)


def upsample_nearest(input: Tensor, size: Any = None, scale_factor: Any = None) -> Tensor:
    """The older name of ``interpolate(..., mode="nearest")``."""
    warnings.warn("`nn.functional.upsample_nearest` is deprecated. Use `nn.functional.interpolate` instead.",
                  stacklevel=2)
    return interpolate(input, size, scale_factor, mode="nearest")


def upsample_bilinear(input: Tensor, size: Any = None, scale_factor: Any = None) -> Tensor:
    """The older name of ``interpolate(..., mode="bilinear", align_corners=True)``."""
    warnings.warn("`nn.functional.upsample_bilinear` is deprecated. Use `nn.functional.interpolate` instead.",
                  stacklevel=2)
    return interpolate(input, size, scale_factor, mode="bilinear", align_corners=True)


def pixel_shuffle(input: Tensor, upscale_factor: int) -> Tensor:
    """(*, C * r^2, H, W) -> (*, C, H * r, W * r): each group of r^2 channels becomes an r x r
    block of pixels (a reshape, a permute, a reshape)."""
    r = upscale_factor
    if input.ndim < 3 or r < 1 or input.shape[-3] % (r * r):
        raise RuntimeError(f"pixel_shuffle expects a 3D or higher input whose 'channel' dimension is divisible by "
                           f"the square of upscale_factor={r}, got input of size {list(input.shape)}")
    *lead, c, h, w = input.shape
    x = input.reshape(*lead, c // (r * r), r, r, h, w)
    k = len(lead)
    x = x.permute(*range(k), k, k + 3, k + 1, k + 4, k + 2)           # (*, C, H, r, W, r)
    return x.reshape(*lead, c // (r * r), h * r, w * r)


def pixel_unshuffle(input: Tensor, downscale_factor: int) -> Tensor:
    """The inverse of :func:`pixel_shuffle`: (*, C, H * r, W * r) -> (*, C * r^2, H, W)."""
    r = downscale_factor
    if input.ndim < 3 or r < 1 or input.shape[-2] % r or input.shape[-1] % r:
        raise RuntimeError(f"pixel_unshuffle expects a 3D or higher input whose height and width are divisible by "
                           f"downscale_factor={r}, got input of size {list(input.shape)}")
    *lead, c, h, w = input.shape
    x = input.reshape(*lead, c, h // r, r, w // r, r)
    k = len(lead)
    x = x.permute(*range(k), k, k + 2, k + 4, k + 1, k + 3)           # (*, C, r, r, H, W)
    return x.reshape(*lead, c * r * r, h // r, w // r)


# ---------------------------------------------------------------------- group, instance and RMS normalisation
def group_norm(input: Tensor, num_groups: int, weight: Tensor | None = None, bias: Tensor | None = None,
               eps: float = 1e-5) -> Tensor:
    """Normalise each group of ``C / num_groups`` channels of each example of ``input`` (N, C, *)
    by its own mean and biased variance, then scale and shift per channel."""
    if input.ndim < 2 or num_groups < 1 or input.shape[1] % num_groups:
        raise RuntimeError(f"Expected number of channels in input to be divisible by num_groups, but got input "
                           f"of shape {list(input.shape)} and num_groups={num_groups}")
    n, c = input.shape[:2]
    out, _, _ = _standardized(input.reshape(n, num_groups, -1), (2,), eps)
    return _affine(out.reshape(*input.shape), weight, bias, (c,) + (1,) * (input.ndim - 2))


def instance_norm(input: Tensor, running_mean: Tensor | None = None, running_var: Tensor | None = None,
                  weight: Tensor | None = None, bias: Tensor | None = None, use_input_stats: bool = True,
                  momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """Normalise each channel of each example of ``input`` (N, C, *) over its spatial dims. With
    ``use_input_stats`` those statistics are the example's own, and given running buffers are
    updated (in place) with their mean over the batch -- the variance unbiased there, as
    PyTorch; otherwise the running statistics are used."""
    if input.ndim < 3:
        raise ValueError(f"instance_norm expects an input with a batch, a channel and a spatial dim, "
                         f"got input of size {list(input.shape)}")
    c = input.shape[1]
    dims = tuple(range(2, input.ndim))
    shape = (1, c) + (1,) * (input.ndim - 2)
    if use_input_stats:
        n = math.prod(input.shape[2:])
        if n <= 1:
            raise ValueError(f"Expected more than 1 spatial element when training, got input size {list(input.shape)}")
        out, mean, var = _standardized(input, dims, eps)
        _update_running(running_mean, running_var, mean.reshape(-1, c).mean(0), var.reshape(-1, c).mean(0), n,
                        momentum)
    else:
        out = _normalized_by_running(input, running_mean, running_var, shape, eps, "Expected running_mean and "
                                     "running_var to be defined when use_input_stats is false")
    return _affine(out, weight, bias, shape)


_EPS = {float32: 1.1920928955078125e-07, float64: 2.220446049250313e-16}  # each dtype's machine epsilon


def rms_norm(input: Tensor, normalized_shape: Sequence[int] | int, weight: Tensor | None = None,
             eps: float | None = None) -> Tensor:
    """``x / sqrt(mean(x^2) + eps) * weight`` over the last ``len(normalized_shape)`` dims; ``eps``
    None means the machine epsilon of ``input``'s dtype (PyTorch's default)."""
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    if tuple(input.shape[input.ndim - len(shape):]) != shape:
        raise RuntimeError(f"Given normalized_shape={list(shape)}, expected input with shape [*, "
                           f"{', '.join(map(str, shape))}], but got input of size {list(input.shape)}")
    dims = tuple(range(-len(shape), 0))
    eps = _EPS.get(input.dtype, _EPS[float32]) if eps is None else eps
    out = input * ((input * input).mean(dims, keepdim=True) + eps).rsqrt()
    return out if weight is None else out * weight


# ---------------------------------------------------------------------- channel dropout, alpha dropout
def _feature_dropout(input: Tensor, p: float, training: bool) -> Tensor:
    """Zero whole channels: one keep/drop draw per (example, channel), the survivors scaled by
    1 / (1 - p)."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if not training or p == 0.0:
        return input
    if p == 1.0:
        return input * 0.0
    shape = tuple(input.shape[:2]) + (1,) * (input.ndim - 2)
    keep = rand(*shape, dtype=input.dtype, device=input.device) < (1.0 - p)
    return input * (keep.to(input.dtype) * (1.0 / (1.0 - p)))


def dropout1d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Channel-wise dropout of ``input`` (N, C, L) or (C, L): each channel is zeroed whole with
    probability ``p``; the rest are scaled by 1 / (1 - p)."""
    if input.ndim not in (2, 3):
        raise RuntimeError(f"dropout1d: Expected 2D or 3D input, but received a {input.ndim}D input. Note that "
                           "dropout1d exists to provide channel-wise dropout on inputs with 1 spatial dimension, a "
                           "channel dimension, and an optional batch dimension (i.e. 2D or 3D inputs).")
    if input.ndim == 2 and training and p != 0.0:
        return _feature_dropout(input.unsqueeze(0), p, training).squeeze(0)
    return _feature_dropout(input, p, training)


def dropout3d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Channel-wise dropout of ``input`` (N, C, D, H, W) or (C, D, H, W): each volume is zeroed
    whole with probability ``p``; the rest are scaled by 1 / (1 - p)."""
    if input.ndim not in (4, 5):
        raise RuntimeError(f"dropout3d: Expected 4D or 5D input, got a {input.ndim}D input")
    if input.ndim == 4 and training and p != 0.0:
        return _feature_dropout(input.unsqueeze(0), p, training).squeeze(0)
    return _feature_dropout(input, p, training)


def dropout2d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Channel-wise dropout of ``input`` (N, C, H, W): each (example, channel) plane is zeroed whole
    with probability ``p``. A 3-D input is taken as (N, C, L), as PyTorch does (with its warning)."""
    if input.ndim not in (3, 4):
        warnings.warn(f"dropout2d: Received a {input.ndim}-D input to dropout2d, which is deprecated and will "
                      "result in an error in a future release.", stacklevel=2)
    elif input.ndim == 3:
        warnings.warn("dropout2d: Received a 3D input to dropout2d and assuming that channel-wise 1D dropout "
                      "behavior is desired - input is interpreted as shape (N, C, L).", stacklevel=2)
    return _feature_dropout(input, p, training)


_ALPHA = 1.7580993408473766  # -SELU's negative saturation value: scale * alpha of SELU


def gumbel_softmax(logits: Tensor, tau: float = 1.0, hard: bool = False, eps: float = 1e-10, dim: int = -1) -> Tensor:
    """A differentiable sample of a categorical distribution (Jang et al., 2017): the softmax of
    ``(logits + g) / tau`` with Gumbel noise ``g = -log(E)``, ``E`` exponential. With ``hard`` the
    result is the one-hot argmax in the forward pass, with the soft sample's gradient (the
    straight-through estimator)."""
    uniform = rand(*logits.shape, dtype=logits.dtype, device=logits.device)
    exponential = -(-uniform).log1p()  # -log(1 - U) is Exp(1)
    soft = softmax((logits - exponential.log()) / tau, dim)
    if not hard:
        return soft
    index = soft.argmax(dim, keepdim=True)
    one_hot_ = ops.zeros_like(soft).scatter(dim, index, 1.0)
    return one_hot_ - soft.detach() + soft


def channel_shuffle(input: Tensor, groups: int) -> Tensor:
    """Interleave the channels of ``groups`` groups (ShuffleNet): (N, C, *) with C = g * k is
    seen as (N, g, k, *), its two channel dims swapped, and flattened back."""
    n, c = input.shape[0], input.shape[1]
    if groups <= 0 or c % groups:
        raise RuntimeError(f"Number of channels must be divisible by groups. Got {c} channels and {groups} groups.")
    rest = tuple(input.shape[2:])
    return input.reshape(n, groups, c // groups, *rest).transpose(1, 2).reshape(n, c, *rest)


def alpha_dropout(input: Tensor, p: float = 0.5, training: bool = False, inplace: bool = False) -> Tensor:
    """Dropout for SELU networks: dropped elements are set to SELU's saturation value -alpha', then
    an affine map ``a x + b`` restores zero mean and unit variance (Klambauer et al., 2017)."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if not training or p == 0.0:
        return input
    if p == 1.0:
        return input * 0.0
    keep = (rand(*input.shape, dtype=input.dtype, device=input.device) < (1.0 - p)).to(input.dtype)
    a = 1.0 / math.sqrt((_ALPHA * _ALPHA * p + 1) * (1 - p))
    return input * (keep * a) + ((keep - 1.0) * (_ALPHA * a) + _ALPHA * a * p)


# ---------------------------------------------------------------------- bilinear, distances
def bilinear(input1: Tensor, input2: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """``y_o = x1^T W_o x2 + b_o`` for ``input1`` (*, in1), ``input2`` (*, in2), ``weight``
    (out, in1, in2): one matmul gives ``x1 W`` for every o at once, (*, out, in2), and a
    product with ``x2`` summed over in2 finishes it."""
    if weight.ndim != 3 or input1.shape[-1] != weight.shape[1] or input2.shape[-1] != weight.shape[2] \
            or tuple(input1.shape[:-1]) != tuple(input2.shape[:-1]):
        raise RuntimeError(f"bilinear: expected input1 (*, {weight.shape[1] if weight.ndim == 3 else '?'}) and "
                           f"input2 (*, {weight.shape[2] if weight.ndim == 3 else '?'}) with the same leading dims "
                           f"for weight {list(weight.shape)}, got {list(input1.shape)} and {list(input2.shape)}")
    o, i1, i2 = weight.shape
    u = input1 @ weight.permute(1, 0, 2).reshape(i1, o * i2)               # (*, out * in2)
    out = (u.reshape(*input1.shape[:-1], o, i2) * input2.unsqueeze(-2)).sum(-1)
    return out if bias is None else out + bias


# ---------------------------------------------------------------------- losses
class CheckedTargets(Function):
    """The class indices ``target``, unchanged, after checking each is in ``[0, classes)`` or is
    ``ignore_index`` (``IndexError`` naming the first that is not, as PyTorch). An op rather
    than a check in Python, so that a replay of a recorded loss (``tt.compile``) checks too."""

    def forward(self, target: NDArray, classes: int, ignore_index: int) -> NDArray:
        check(functools.partial(check_class_targets, classes=classes, ignore_index=ignore_index), target)
        return target


class NllLoss(Function):
    """``-input[n, target[n]]`` over the class dim of log-probabilities (dim 1, or 0 for one
    (C,) example), targets equal to ``ignore_index`` left out, then reduced (``"mean"`` over the
    targets counted, ``"sum"`` or ``"none"``): the loss of ``nll_loss`` and ``cross_entropy`` as
    one graph node (PyTorch's ``NllLossBackward0``), whose backward puts ``-grad`` (over the
    count) at each target's position and zero elsewhere. Counting no target gives a mean of
    0 / 0 = nan and a zero gradient, as PyTorch."""

    def forward(self, logp: NDArray, target: NDArray, ignore_index: int, reduction: str) -> NDArray:
        class_dim = 0 if logp.ndim == 1 else 1
        c = logp.shape[class_dim]
        classes = nd_array(np.arange(c).reshape((c,) + (1,) * (logp.ndim - class_dim - 1)), device=logp.device)
        counted = (target != ignore_index).expand_dims(class_dim)  # ignore_index in [0, C) matches no class
        self.hit = (target.expand_dims(class_dim) == classes) & counted
        self.class_dim, self.reduction = class_dim, reduction
        losses = -nd_where(self.hit, logp, 0.0).sum(class_dim)
        if reduction == "none":
            return losses
        total = losses.sum(tuple(range(losses.ndim)))
        if reduction == "sum":
            return total
        self.count = counted.astype(logp.dtype).sum(tuple(range(counted.ndim)))
        return total / self.count

    def backward(self, grad: Tensor) -> tuple[Tensor, None]:
        hit = Tensor._make(self.hit, False, None)
        if self.reduction == "none":
            per_target = -grad.unsqueeze(self.class_dim)
        elif self.reduction == "sum":
            per_target = -grad
        else:
            per_target = -grad / Tensor._make(self.count, False, None)
        return where(hit, per_target, 0.0), None

    def name(self) -> str:
        return "NllLossBackward0"


class CrossEntropy(Function):
    """Class-index cross entropy of (N, C) logits as one graph node: per row the log-sum-exp
    minus the target's logit (0 for ``ignore_index``), reduced as ``reduction`` says (``"mean"``
    over the rows counted). Forward and backward are one pass each where the backend has
    ``cross_entropy_rows[_backward]``; the backward is ``s_r * (softmax(x)[r] - onehot(t[r]))``,
    written as differentiable ops when a graph of the gradient is wanted (``create_graph``).
    The node is named as PyTorch's (``NllLossBackward0``), whose cross entropy ends in an NLL."""

    def forward(self, x: NDArray, target: NDArray, ignore_index: int, reduction: str) -> NDArray:
        loss, self.lse, count = x.cross_entropy_rows(target, ignore_index)
        self.target, self.ignore_index, self.reduction = target, ignore_index, reduction
        if reduction == "none":
            return loss
        total = loss.sum((0,))
        if reduction == "sum":
            return total
        self.count = count
        return total / count

    def backward(self, grad: Tensor) -> tuple[Tensor, None]:
        x = self.inputs[0]
        if self.reduction == "mean":
            scale = grad / Tensor._make(self.count, False, None)
        else:
            scale = grad
        if not is_grad_enabled():  # one pass
            s = scale._data.reshape((-1,))
            return Tensor._make(x._data.cross_entropy_rows_backward(self.target, self.lse, s, self.ignore_index),
                                False, None), None
        rows, cols = x.shape
        rows_counted, hits = class_hits(self.target, cols, self.ignore_index)
        counted = Tensor._make(rows_counted.reshape((rows, 1)), False, None)
        hit = Tensor._make(hits.astype(x._data.dtype), False, None)
        per_row = scale.unsqueeze(1) if self.reduction == "none" else scale
        return where(counted, (ops.softmax(x, 1) - hit) * per_row, 0.0), None

    def name(self) -> str:
        return "NllLossBackward0"


def _check_class_target(input: Tensor, target: Tensor, ignore_index: int, values: bool = True) -> Tensor:
    """``target`` checked against ``input`` for a class-index loss: int64, the shape of
    ``input`` without its class dim, and (``values``) every entry a class or ``ignore_index``
    (``CheckedTargets``)."""
    if target.dtype != int64:
        raise RuntimeError(f"expected target of dtype int64 (class indices), got {target.dtype}")
    class_dim = 0 if input.ndim == 1 else 1
    expected = tuple(input.shape[:class_dim]) + tuple(input.shape[class_dim + 1:])
    if tuple(target.shape) != expected:
        raise ValueError(f"Expected target of shape {expected} for input of shape {tuple(input.shape)}, "
                         f"got {tuple(target.shape)}")
    if not values:
        return target
    return CheckedTargets.apply(target, classes=input.shape[class_dim], ignore_index=ignore_index)


def _plain(*tensors: Tensor) -> bool:
    """True for plain tensors: under vmap (batched tensors) or lazy mode the losses keep their
    composition of ops, which those modes know how to batch and defer."""
    return all(type(t) is Tensor for t in tensors)


def _class_mask(input: Tensor, target: Tensor, ignore_index: int) -> tuple[Tensor, int, tuple[int, ...]]:
    """The one-hot of ``target`` along ``input``'s class dim (dim 1, or 0 for a single (C,) example),
    as a bool tensor; rows whose target is ``ignore_index`` are all False. Also returns the class
    dim and the shape that broadcasts a per-class vector along it.

    A target outside ``[0, C)`` that is not ``ignore_index`` raises ``IndexError``, as PyTorch."""
    target = _check_class_target(input, target, ignore_index)
    class_dim = 0 if input.ndim == 1 else 1
    c = input.shape[class_dim]
    class_shape = (c,) + (1,) * (input.ndim - class_dim - 1)
    classes = arange(c, device=input.device).reshape(*class_shape)
    # ignore_index in [0, C) must match no class; any other value already matches none
    return target.unsqueeze(class_dim) == classes, class_dim, class_shape


def nll_loss(input: Tensor, target: Tensor, weight: Tensor | None = None, size_average: bool | None = None,
             ignore_index: int = -100, reduce: bool | None = None, reduction: str = "mean") -> Tensor:
    """Negative log likelihood: ``-input[n, target[n]]`` for log-probabilities ``input`` of shape
    (C), (N, C) or (N, C, d1, ...) and class indices ``target`` of shape (), (N) or (N, d1, ...).

    With ``weight`` each term is scaled by ``weight[target[n]]`` and ``mean`` divides by the sum of
    those weights; targets equal to ``ignore_index`` contribute nothing.
    (Picking ``input[n, target[n]]`` is a ``where`` on a one-hot mask and a sum: no gather needed,
    and a -inf log-probability of a class that is not the target never enters the sum.)"""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    if weight is None and _plain(input, target):
        return NllLoss.apply(input, _check_class_target(input, target, ignore_index), ignore_index=ignore_index,
                             reduction=reduction)
    hit, class_dim, class_shape = _class_mask(input, target, ignore_index)
    hit = hit & (target != ignore_index).unsqueeze(class_dim)
    mask = hit.to(input.dtype)
    if weight is not None:
        mask = mask * weight.reshape(*class_shape)
    losses = -(where(hit, input, 0.0) * mask).sum(class_dim)
    if reduction == "mean":
        return losses.sum() / mask.sum()
    return _reduce(losses, reduction)


def cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None, size_average: bool | None = None,
                  ignore_index: int = -100, reduce: bool | None = None, reduction: str = "mean",
                  label_smoothing: float = 0.0) -> Tensor:
    """``nll_loss(log_softmax(input, 1), target)`` for class indices; for float ``target`` of
    ``input``'s shape (class probabilities) ``-sum(target * log_softmax(input, 1), 1)``.

    ``label_smoothing`` eps replaces the one-hot target by ``(1 - eps) * one_hot + eps / C``.
    Shape: input (N, C) or (C) or (N, C, d1, ...); target (N) / () / (N, d1, ...) class indices.
    A -inf logit (a masked class) gives a finite loss and gradient unless it is the target."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"label_smoothing must be between 0.0 and 1.0, got {label_smoothing}")
    class_dim = 0 if input.ndim == 1 else 1
    c = input.shape[class_dim]
    if input.ndim == 2 and weight is None and not label_smoothing and target.dtype not in (float32, float64) \
            and _plain(input, target) and input.dtype in (float32, float64):
        _check_class_target(input, target, ignore_index, values=False)  # the kernel checks the values
        return CrossEntropy.apply(input, target, ignore_index=ignore_index, reduction=reduction)
    logp = ops.log_softmax(input, class_dim)
    if weight is None and not label_smoothing and target.dtype not in (float32, float64) and _plain(input, target):
        return NllLoss.apply(logp, _check_class_target(input, target, ignore_index), ignore_index=ignore_index,
                             reduction=reduction)
    class_shape = (c,) + (1,) * (input.ndim - class_dim - 1)
    w = None if weight is None else weight.reshape(*class_shape)
    if target.dtype in (float32, float64):  # class probabilities
        if tuple(target.shape) != tuple(input.shape):
            raise ValueError(f"soft targets must have the input's shape {tuple(input.shape)}, "
                             f"got {tuple(target.shape)}")
        q = target * (1.0 - label_smoothing) + label_smoothing / c if label_smoothing else target
        losses = -(logp * (q if w is None else q * w)).sum(class_dim)
        return _reduce(losses, reduction)
    hit, _, _ = _class_mask(input, target, ignore_index)
    hit = hit & (target != ignore_index).unsqueeze(class_dim)
    mask = hit.to(input.dtype)
    if label_smoothing:  # mask.sum(class_dim) is 1 for a counted target, 0 for an ignored one
        q = mask * (1.0 - label_smoothing) + mask.sum(class_dim, keepdim=True) * (label_smoothing / c)
        picked = logp * q
    else:  # only the target's log-probability: a -inf elsewhere must not make 0 * -inf = nan
        picked = where(hit, logp, 0.0)
    if w is not None:
        picked, mask = picked * w, mask * w
    if reduction == "mean":
        if type(mask) is not Tensor or not label_smoothing:
            # the count stays on the device (nothing read on the host, so tt.compile can replay it;
            # under vmap each example has its own). Counting nothing gives 0 / -0 = nan, and a zero
            # gradient still: ``where`` passes none to the masked-out entries, as in PyTorch
            return picked.sum() / -mask.sum()
        count = mask._data.sum(tuple(range(mask.ndim))).item()  # the number of counted targets (or weights)
        if count:  # the usual case in three graph nodes rather than six (the loss runs every step)
            return picked.sum() * (-1.0 / count)
        return picked.sum() * 0.0 + math.nan  # nothing counted: nan with a zero gradient, as PyTorch
    return _reduce(-picked.sum(class_dim), reduction)


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
    computed stably as ``(1 - t) x + (1 + (p - 1) t) (log(1 + exp(-|x|)) + max(-x, 0))``; the gradient
    is ``sigmoid(x) - t`` (scaled by p on the positive part) everywhere, at x = 0 too."""
    if tuple(target.shape) != tuple(input.shape):
        raise ValueError(f"Target size ({list(target.shape)}) must be the same as input size ({list(input.shape)})")
    log_sigmoid_neg = _softplus_neg(input)  # = -log(sigmoid(x)), with the right gradient at x = 0
    if pos_weight is None:
        loss = (1.0 - target) * input + log_sigmoid_neg
    else:
        loss = (1.0 - target) * input + (1.0 + (pos_weight - 1.0) * target) * log_sigmoid_neg
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


# ---------------------------------------------------------------------- attention (sequence models)
def _attention_bias(mask: Tensor | None, like: Tensor, name: str, true_means_keep: bool) -> Tensor | None:
    """A mask as an additive float bias of ``like``'s dtype: a bool mask becomes 0 where a position
    may be attended and -inf where it may not (``true_means_keep`` says which way round the bool
    mask reads: True = attend for scaled_dot_product_attention, True = ignore for the masks of
    MultiheadAttention); a float mask is added as it is."""
    if mask is None:
        return None
    if mask.dtype == bool_:
        keep = mask if true_means_keep else mask.logical_not()
        return where(keep, 0.0, -math.inf).to(like.dtype)
    if mask.dtype not in (float32, float64):
        raise AssertionError(f"only bool and floating types of {name} are supported")
    return mask.to(like.dtype)


def _safe_softmax(scores: Tensor) -> Tensor:
    """Softmax over the last dim, with rows that are -inf throughout (nothing may be attended)
    giving zeros rather than NaN, in the forward and the gradient, as PyTorch's attention does."""
    dead = (scores == -math.inf).all(-1, keepdim=True)
    if not dead.any().item():
        return ops.softmax(scores, -1)
    return where(dead, 0.0, ops.softmax(where(dead, 0.0, scores), -1))


def scaled_dot_product_attention(query: Tensor, key: Tensor, value: Tensor, attn_mask: Tensor | None = None,
                                 dropout_p: float = 0.0, is_causal: bool = False, scale: float | None = None,
                                 enable_gqa: bool = False) -> Tensor:
    r"""Attention as a soft dictionary lookup: ``softmax(Q K^T * scale + bias) V``.

    Args:
        query: ``(..., L, E)``; key: ``(..., S, E)``; value: ``(..., S, Ev)``; leading dims broadcast.
        attn_mask: bool (True = may attend) or float (added to the scores), broadcastable to ``(..., L, S)``.
        dropout_p: dropout on the attention weights (always applied when > 0, as PyTorch's).
        is_causal: query i attends to keys ``j <= i`` only (the upper-left triangle when L != S);
            combined with ``attn_mask`` when both are given.
        scale: the factor of the scores; default ``1 / sqrt(E)``.
        enable_gqa: grouped-query attention: ``key``/``value`` with fewer heads (dim -3) than ``query``
            are repeated to match (Hq must be a multiple of Hk).

    Returns ``(..., L, Ev)``. A query row that may attend to nothing gives zeros.
    """
    if not (query.dtype == key.dtype == value.dtype):
        raise RuntimeError("Expected query, key, and value to have the same dtype, but got query.dtype: "
                           f"{query.dtype} key.dtype: {key.dtype} and value.dtype: {value.dtype} instead.")
    if enable_gqa and key.ndim >= 3 and query.ndim >= 3 and key.shape[-3] != query.shape[-3]:
        if query.shape[-3] % key.shape[-3]:
            raise RuntimeError(f"number of heads in key/value ({key.shape[-3]}) must divide the number of heads "
                               f"in query ({query.shape[-3]})")
        groups = query.shape[-3] // key.shape[-3]
        key, value = key.repeat_interleave(groups, -3), value.repeat_interleave(groups, -3)
    scale = 1.0 / math.sqrt(query.shape[-1]) if scale is None else scale
    if attn_mask is None and dropout_p == 0.0 and _fused_attention_applies(query, key, value):
        return fused.attention(query, key, value, scale, is_causal)  # one graph node (ops/fused.py)
    scores = (query * scale) @ key.transpose(-2, -1)
    bias = _attention_bias(attn_mask, scores, "attn_mask", true_means_keep=True)
    if is_causal:
        rows = arange(query.shape[-2], device=query.device).unsqueeze(-1)
        causal = rows >= arange(key.shape[-2], device=query.device)  # key j <= query i: the lower triangle
        causal_bias = _attention_bias(causal, scores, "attn_mask", true_means_keep=True)
        bias = causal_bias if bias is None else bias + causal_bias
    if bias is not None:
        scores = scores + bias
    # only a given mask can leave a query with nothing to attend (a causal row always has its own key)
    weights = ops.softmax(scores, -1) if attn_mask is None else _safe_softmax(scores)
    if dropout_p > 0.0:
        weights = dropout(weights, dropout_p, True)
    return weights @ value


def _fused_attention_applies(query: Tensor, key: Tensor, value: Tensor) -> bool:
    """True for the case the one-node :func:`ops.fused.attention` takes (with no mask and no
    dropout): float tensors of one dtype and device with at least 2 dims and the same leading
    dims, ``(..., L, E)``, ``(..., S, E)``, ``(..., S, Ev)``, none of them empty. Anything else
    (broadcast batch dims, bad shapes) takes the written-out path, which raises PyTorch's errors."""
    return (isinstance(query, Tensor) and isinstance(key, Tensor) and isinstance(value, Tensor)
            and query.dtype.is_floating_point and query.ndim >= 2
            and query.ndim == key.ndim == value.ndim and query.device == key.device == value.device
            and query.shape[:-2] == key.shape[:-2] == value.shape[:-2]
            and query.shape[-1] == key.shape[-1] and key.shape[-2] == value.shape[-2]
            and query.numel() > 0 and key.numel() > 0 and value.numel() > 0)


def _check_attention_mask(mask: Tensor, expected: tuple[int, ...]) -> None:
    if tuple(mask.shape) != expected:
        raise RuntimeError(f"The shape of the {mask.ndim}D attn_mask is {tuple(mask.shape)}, but should be "
                           f"{expected}.")


def multi_head_attention_forward(query: Tensor, key: Tensor, value: Tensor, embed_dim_to_check: int, num_heads: int,
                                 in_proj_weight: Tensor | None, in_proj_bias: Tensor | None, bias_k: Tensor | None,
                                 bias_v: Tensor | None, add_zero_attn: bool, dropout_p: float,
                                 out_proj_weight: Tensor, out_proj_bias: Tensor | None, training: bool = True,
                                 key_padding_mask: Tensor | None = None, need_weights: bool = True,
                                 attn_mask: Tensor | None = None, use_separate_proj_weight: bool = False,
                                 q_proj_weight: Tensor | None = None, k_proj_weight: Tensor | None = None,
                                 v_proj_weight: Tensor | None = None, static_k: Tensor | None = None,
                                 static_v: Tensor | None = None, average_attn_weights: bool = True,
                                 is_causal: bool = False) -> tuple[Tensor, Tensor | None]:
    """Multi-head attention on time-major ``(L, N, E)`` inputs (or unbatched ``(L, E)``), as
    ``nn.MultiheadAttention`` computes it: project q, k, v, split ``E`` into ``num_heads`` heads
    of ``E / num_heads`` (a reshape), attend per head, merge the heads (a reshape) and project out.

    Masks: ``key_padding_mask`` ``(N, S)`` and ``attn_mask`` ``(L, S)`` or ``(N * num_heads, L, S)``;
    bool True means *not* allowed to attend, a float mask is added to the scores. ``is_causal`` is
    a hint that ``attn_mask`` is the causal mask (it must then be given). Returns ``(output,
    weights)``: weights ``(N, L, S)`` averaged over heads (``(N, num_heads, L, S)`` if not
    ``average_attn_weights``) when ``need_weights``, else None.
    """
    batched = query.ndim == 3
    if not batched:
        query, key, value = (t.unsqueeze(1) for t in (query, key, value))
        if key_padding_mask is not None:
            key_padding_mask = key_padding_mask.unsqueeze(0)
    tgt_len, bsz, embed_dim = query.shape
    if embed_dim != embed_dim_to_check:
        raise AssertionError(f"was expecting embedding dimension of {embed_dim_to_check}, but got {embed_dim}")
    head_dim = embed_dim // num_heads
    if is_causal and attn_mask is None:
        raise RuntimeError("Need attn_mask if specifying the is_causal hint. You may use the Transformer module "
                           "method `generate_square_subsequent_mask` to create this mask.")
    if is_causal and key_padding_mask is None and not need_weights:
        attn_mask = None  # the scaled-dot-product path builds the causal mask itself
    else:
        is_causal = False  # attn_mask is the causal mask
    attn_bias = _attention_bias(attn_mask, query, "attn_mask", true_means_keep=False)
    padding_bias = _attention_bias(key_padding_mask, query, "key_padding_mask", true_means_keep=False)

    # ---- projections: self-attention (one tensor for q, k, v) takes one matmul for all three
    if not use_separate_proj_weight:
        assert in_proj_weight is not None
        if query is key and key is value:
            q, k, v = linear(query, in_proj_weight, in_proj_bias).chunk(3, -1)
        else:
            w_q, w_kv = in_proj_weight.split([embed_dim, 2 * embed_dim])
            b_q, b_kv = (None, None) if in_proj_bias is None else in_proj_bias.split([embed_dim, 2 * embed_dim])
            q = linear(query, w_q, b_q)
            if key is value:
                k, v = linear(key, w_kv, b_kv).chunk(2, -1)
            else:
                w_k, w_v = w_kv.chunk(2)
                b_k, b_v = (None, None) if b_kv is None else b_kv.chunk(2)
                k, v = linear(key, w_k, b_k), linear(value, w_v, b_v)
    else:
        assert q_proj_weight is not None and k_proj_weight is not None and v_proj_weight is not None
        biases = (None, None, None) if in_proj_bias is None else in_proj_bias.chunk(3)
        q, k, v = (linear(x, w, b) for x, w, b in zip((query, key, value),
                                                       (q_proj_weight, k_proj_weight, v_proj_weight), biases))
    if attn_bias is not None:
        expected = (tgt_len, key.shape[0]) if attn_bias.ndim == 2 else (bsz * num_heads, tgt_len, key.shape[0])
        if attn_bias.ndim not in (2, 3):
            raise RuntimeError(f"attn_mask's dimension {attn_bias.ndim} is not supported")
        _check_attention_mask(attn_bias, expected)
        attn_bias = attn_bias.unsqueeze(0) if attn_bias.ndim == 2 else attn_bias
    if bias_k is not None and bias_v is not None:  # one learned key/value appended to every sequence
        k = cat([k, bias_k.expand(1, bsz, embed_dim)])
        v = cat([v, bias_v.expand(1, bsz, embed_dim)])
        attn_bias = None if attn_bias is None else pad(attn_bias, (0, 1))
        padding_bias = None if padding_bias is None else pad(padding_bias, (0, 1))

    # ---- split the heads: (L, N, E) -> (N * heads, L, head_dim)
    q = q.reshape(tgt_len, bsz * num_heads, head_dim).transpose(0, 1)
    k = (k.reshape(k.shape[0], bsz * num_heads, head_dim).transpose(0, 1) if static_k is None else static_k)
    v = (v.reshape(v.shape[0], bsz * num_heads, head_dim).transpose(0, 1) if static_v is None else static_v)
    if add_zero_attn:  # a key and value of zeros appended: a query may attend to "nothing"
        k = cat([k, ops.zeros(k.shape[0], 1, head_dim, dtype=k.dtype, device=k.device)], 1)
        v = cat([v, ops.zeros(v.shape[0], 1, head_dim, dtype=v.dtype, device=v.device)], 1)
        attn_bias = None if attn_bias is None else pad(attn_bias, (0, 1))
        padding_bias = None if padding_bias is None else pad(padding_bias, (0, 1))
    src_len = k.shape[1]
    if padding_bias is not None:
        if tuple(padding_bias.shape) != (bsz, src_len):
            raise AssertionError(f"expecting key_padding_mask shape of {(bsz, src_len)}, but got "
                                 f"{tuple(padding_bias.shape)}")
        padding_bias = padding_bias.reshape(bsz, 1, 1, src_len).expand(bsz, num_heads, 1, src_len)
        padding_bias = padding_bias.reshape(bsz * num_heads, 1, src_len)
        attn_bias = padding_bias if attn_bias is None else attn_bias + padding_bias
    if not training:
        dropout_p = 0.0

    if need_weights:  # the weights are wanted: softmax written out (a fully masked row gives NaN, as PyTorch)
        scores = (q * math.sqrt(1.0 / head_dim)) @ k.transpose(-2, -1)
        weights = ops.softmax(scores if attn_bias is None else scores + attn_bias, -1)
        if dropout_p > 0.0:
            weights = dropout(weights, dropout_p)
        heads = weights @ v  # (N * heads, L, head_dim)
    else:
        bias4 = attn_bias  # (1, L, S) broadcasts as it is; (N * heads, ., S) becomes (N, heads, ., S)
        if attn_bias is not None and attn_bias.shape[0] != 1:
            bias4 = attn_bias.reshape(bsz, num_heads, -1, src_len)
        heads = scaled_dot_product_attention(q.reshape(bsz, num_heads, tgt_len, head_dim),
                                             k.reshape(bsz, num_heads, src_len, head_dim),
                                             v.reshape(bsz, num_heads, src_len, head_dim),
                                             bias4, dropout_p, is_causal).reshape(bsz * num_heads, tgt_len, head_dim)
    # ---- merge the heads: (N * heads, L, head_dim) -> (L, N, E), then the output projection
    out = linear(heads.transpose(0, 1).reshape(tgt_len, bsz, embed_dim), out_proj_weight, out_proj_bias)
    attention: Tensor | None = None
    if need_weights:
        attention = weights.reshape(bsz, num_heads, tgt_len, src_len)
        if average_attn_weights:
            attention = attention.mean(1)
        if not batched:
            attention = attention.squeeze(0)
    return (out if batched else out.squeeze(1)), attention


# ---------------------------------------------------------------------- more losses (issue 12)
def _legacy_reduction(size_average: bool | None, reduce: bool | None, reduction: str) -> str:
    """PyTorch's deprecated ``size_average`` / ``reduce`` pair, when either is given, overrides
    ``reduction``: ``reduce=False`` is 'none', else ``size_average=False`` is 'sum', else 'mean'."""
    if size_average is None and reduce is None:
        return reduction
    if reduce is False:
        return "none"
    return "sum" if size_average is False else "mean"


def poisson_nll_loss(input: Tensor, target: Tensor, log_input: bool = True, full: bool = False,
                     size_average: bool | None = None, eps: float = 1e-8, reduce: bool | None = None,
                     reduction: str = "mean") -> Tensor:
    """Negative log likelihood of ``target`` under a Poisson distribution of rate ``input``:
    ``exp(x) - t x`` when ``log_input`` (``x`` is the log-rate), else ``x - t log(x + eps)``.
    ``full`` adds Stirling's approximation of ``log(t!)``, ``t log t - t + log(2 pi t) / 2``, where
    ``t > 1`` (0 elsewhere, as PyTorch)."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    loss = input.exp() - target * input if log_input else input - target * (input + eps).log()
    if full:
        big = target > 1
        t = where(big, target, 1.0)  # the log only sees t > 1; the masked entries are dropped anyway
        loss = loss + where(big, t * t.log() - t + 0.5 * (t * (2 * math.pi)).log(), 0.0)
    return _reduce(loss, reduction)


def _gaussian_var(input: Tensor, var: Tensor | float) -> Tensor:
    """``var`` made broadcastable to ``input`` by PyTorch's rules: the same shape; or ``input``'s
    shape without its last dim (one variance per row: a trailing 1 is added); or the same number of
    dims with exactly one dim of size 1 where ``input``'s differs. A float is one variance for all."""
    if not isinstance(var, Tensor):
        if var < 0:
            raise ValueError("var has negative entry/entries")
        return full(tuple(input.shape), float(var), dtype=input.dtype, device=input.device)
    if (var < 0).any().item():
        raise ValueError("var has negative entry/entries")
    vs, xs = tuple(var.shape), tuple(input.shape)
    if vs == xs:
        return var
    if xs[:-1] == vs:
        return var.unsqueeze(-1)
    if len(vs) == len(xs) and sum(v for x, v in zip(xs, vs) if x != v) == 1:
        return var
    raise ValueError(f"var is of incorrect size: {vs} for input of size {xs}")


def gaussian_nll_loss(input: Tensor, target: Tensor, var: Tensor | float, full: bool = False,
                      eps: float = 1e-6, reduction: str = "mean") -> Tensor:
    """Negative log likelihood of ``target`` under Gaussians of mean ``input`` and variance ``var``:
    ``(log(max(var, eps)) + (input - target)^2 / max(var, eps)) / 2`` (+ ``log(2 pi) / 2`` if ``full``).

    ``var`` may have ``input``'s shape, lack its last dim, or have size 1 in one dim (see
    :func:`_gaussian_var`). As PyTorch, the clamp at ``eps`` changes the value but not the gradient
    path: the gradient flows to ``var`` as if it were not clamped."""
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"{reduction} is not valid")
    var = _gaussian_var(input, var)
    with no_grad():
        lift = var.clamp(min=eps) - var
    var = var + lift  # the clamped value, with d/dvar = 1 (PyTorch clamps in place under no_grad)
    diff = input - target
    loss = 0.5 * (var.log() + diff * diff / var)
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return _reduce(loss, reduction)


def _same_ndim(name: str, **tensors: Tensor) -> None:
    dims = {k: tuple(t.shape) for k, t in tensors.items()}
    if len({len(s) for s in dims.values()}) > 1:
        sizes = ", ".join(f"{k}: {list(s)}" for k, s in dims.items())
        raise RuntimeError(f"{name}: All input tensors should have same dimension but got sizes: {sizes}")


def margin_ranking_loss(input1: Tensor, input2: Tensor, target: Tensor, margin: float = 0.0,
                        size_average: bool | None = None, reduce: bool | None = None,
                        reduction: str = "mean") -> Tensor:
    """``max(0, -y (x1 - x2) + margin)``: ``y = 1`` asks for ``x1`` ranked above ``x2``, ``-1`` below."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _same_ndim("margin_ranking_loss", input1=input1, input2=input2, target=target)
    return _reduce((-target * (input1 - input2) + margin).clamp(min=0.0), reduction)


def hinge_embedding_loss(input: Tensor, target: Tensor, margin: float = 1.0, size_average: bool | None = None,
                         reduce: bool | None = None, reduction: str = "mean") -> Tensor:
    """``x`` where ``y = 1``, ``max(0, margin - x)`` where ``y = -1`` (``x`` is usually a distance).
    As PyTorch, a target that is neither gets both terms."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    hinge = where(target != 1, (margin - input).clamp(min=0.0), 0.0)
    return _reduce(hinge + where(target != -1, input, 0.0), reduction)


def cosine_embedding_loss(input1: Tensor, input2: Tensor, target: Tensor, margin: float = 0.0,
                          size_average: bool | None = None, reduce: bool | None = None,
                          reduction: str = "mean") -> Tensor:
    """``1 - cos(x1, x2)`` where ``y = 1``, ``max(0, cos(x1, x2) - margin)`` where ``y = -1``; the
    cosine is over the last dim, each squared norm lifted by 1e-12 (PyTorch's guard against 0/0)."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    if input1.ndim not in (1, 2) or input1.ndim != input2.ndim or target.ndim != input1.ndim - 1:
        raise RuntimeError(f"cosine_embedding_loss: expected 1D or 2D inputs of one shape and a target with one "
                           f"dim less, got input1 {list(input1.shape)}, input2 {list(input2.shape)}, "
                           f"target {list(target.shape)}")
    eps = 1e-12
    cos = (input1 * input2).sum(-1) / (((input1 * input1).sum(-1) + eps) * ((input2 * input2).sum(-1) + eps)).sqrt()
    loss = where(target == 1, 1.0 - cos, 0.0) + where(target == -1, (cos - margin).clamp(min=0.0), 0.0)
    return _reduce(loss, reduction)


def _p_distance(x1: Tensor, x2: Tensor, p: float, eps: float) -> Tensor:
    """``||x1 - x2 + eps||_p`` over the last dim (PyTorch's ``pairwise_distance``)."""
    d = x1 - x2 + eps
    if p == 2:
        return (d * d).sum(-1).sqrt()
    if p == 1:
        return d.abs().sum(-1)
    return (d.abs() ** p).sum(-1) ** (1.0 / p)


def triplet_margin_loss(anchor: Tensor, positive: Tensor, negative: Tensor, margin: float = 1.0, p: float = 2,
                        eps: float = 1e-6, swap: bool = False, size_average: bool | None = None,
                        reduce: bool | None = None, reduction: str = "mean") -> Tensor:
    """``max(0, d(a, pos) - d(a, neg) + margin)`` with ``d`` the p-norm distance over the last dim;
    ``swap`` uses ``min(d(a, neg), d(pos, neg))`` as the negative distance (Balntas et al., 2016)."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    if margin <= 0:
        raise ValueError(f"TripletMarginLoss: expected margin to be greater than 0, got {margin} instead")
    _same_ndim("triplet_margin_loss", anchor=anchor, positive=positive, negative=negative)
    d_pos = _p_distance(anchor, positive, p, eps)
    d_neg = _p_distance(anchor, negative, p, eps)
    if swap:
        d_neg = ops.minimum(d_neg, _p_distance(positive, negative, p, eps))
    return _reduce((d_pos - d_neg + margin).clamp(min=0.0), reduction)


def triplet_margin_with_distance_loss(anchor: Tensor, positive: Tensor, negative: Tensor, *,
                                      distance_function: Any = None, margin: float = 1.0, swap: bool = False,
                                      reduction: str = "mean") -> Tensor:
    """:func:`triplet_margin_loss` with any ``distance_function(x, y)`` (default
    :func:`pairwise_distance`), which returns one non-negative distance per example."""
    if margin <= 0:
        raise ValueError(f"TripletMarginWithDistanceLoss: expected margin to be greater than 0, got {margin} "
                         f"instead")
    _same_ndim("triplet_margin_with_distance_loss", anchor=anchor, positive=positive, negative=negative)
    distance = pairwise_distance if distance_function is None else distance_function
    d_pos, d_neg = distance(anchor, positive), distance(anchor, negative)
    if swap:
        d_neg = ops.minimum(d_neg, distance(positive, negative))
    return _reduce((d_pos - d_neg + margin).clamp(min=0.0), reduction)


_CTC_IMPOSSIBLE = -1e30  # log(0) in the forward recursion: finite, so that logsumexp's gradient stays 0, not NaN


def ctc_loss(log_probs: Tensor, targets: Tensor, input_lengths: Any, target_lengths: Any, blank: int = 0,
             reduction: str = "mean", zero_infinity: bool = False) -> Tensor:
    """The connectionist temporal classification loss (Graves et al., 2006): ``-log`` of the
    total probability of every alignment of ``targets`` to the ``log_probs`` frames, (T, N, C)
    or (T, C), ``log_softmax`` output, ``blank`` the blank class.

    ``targets`` are (N, S) padded rows or one 1-D concatenation of all targets;
    ``input_lengths`` / ``target_lengths`` say how much of each is used. The forward
    recursion over the label sequence with blanks interleaved (length ``2 S + 1``) runs once
    per frame for the whole batch, in log space, with Tensor ops, so the gradient is autograd's.
    An impossible alignment (a target longer than its input allows) costs ``inf`` (0 with
    ``zero_infinity``) and sends no gradient (PyTorch's gradient there is NaN unless
    ``zero_infinity``). ``reduction="mean"`` divides each loss by its target length, then
    averages, as PyTorch."""
    batched = log_probs.ndim == 3
    lp = log_probs if batched else log_probs.unsqueeze(1)
    t_max, n = lp.shape[0], lp.shape[1]
    in_len = np.asarray(input_lengths.tolist() if isinstance(input_lengths, Tensor) else input_lengths).reshape(-1)
    tg_len = np.asarray(target_lengths.tolist() if isinstance(target_lengths, Tensor) else target_lengths).reshape(-1)
    if in_len.size != n or tg_len.size != n:
        raise RuntimeError(f"ctc_loss: expected input_lengths and target_lengths of size {n} (the batch), got "
                           f"{in_len.size} and {tg_len.size}")
    if (in_len > t_max).any():
        raise RuntimeError(f"Expected input_lengths to have value at most {t_max}, but got value "
                           f"{int(in_len.max())}")
    flat = targets.detach().numpy().astype(np.int64)
    if flat.ndim == 1:  # one concatenation of every target (always so for an unbatched input)
        starts = np.concatenate([[0], np.cumsum(tg_len)[:-1]])
        rows = [flat.reshape(-1)[a:a + k] for a, k in zip(starts, tg_len)]
    else:
        rows = [flat[b, :k] for b, k in enumerate(tg_len)]
    width = 2 * int(tg_len.max(initial=0)) + 1
    ext = np.full((n, width), blank, dtype=np.int64)  # labels with blanks interleaved: _ a _ b _
    skip = np.zeros((n, width), dtype=bool)  # state s may come from s - 2: a label unlike the one before
    for b, row in enumerate(rows):
        ext[b, 1:2 * len(row):2] = row
        skip[b, 3:2 * len(row):2] = row[1:] != row[:-1]
    ext_t = tensor(ext, device=lp.device)
    skip_t = tensor(skip, device=lp.device)
    neg = full((n, 1), _CTC_IMPOSSIBLE, dtype=lp.dtype, device=lp.device)
    emit = lp.gather(2, ext_t.unsqueeze(0).expand(t_max, n, width))  # (T, N, 2S + 1): each state's frame scores
    start = np.full((n, width), _CTC_IMPOSSIBLE)
    start[:, 0] = 0.0
    start[tg_len > 0, 1] = 0.0
    alpha = emit[0] + tensor(start, dtype=lp.dtype, device=lp.device)
    running = tensor(in_len, device=lp.device)
    for t in range(1, t_max):
        one_back = cat([neg, alpha[:, :-1]], 1)
        two_back = where(skip_t, cat([neg, neg, alpha[:, :-2]], 1), _CTC_IMPOSSIBLE) if width > 2 else neg
        step = ops.logsumexp(ops.stack([alpha, one_back, two_back.expand(n, width)]), 0) + emit[t]
        alpha = where((running > t).unsqueeze(1), step, alpha)  # a finished sequence keeps its last frame
    last = tensor(2 * tg_len, device=lp.device).unsqueeze(1)
    ends = ops.cat([alpha.gather(1, last), alpha.gather(1, (last - 1).clamp(min=0))], 1)
    ends = where(tensor(tg_len > 0, device=lp.device).unsqueeze(1) | (ops.arange(2, device=lp.device) == 0), ends,
                 _CTC_IMPOSSIBLE)
    total = ops.logsumexp(ends, 1)
    impossible = total < _CTC_IMPOSSIBLE / 2
    loss = where(impossible, 0.0 if zero_infinity else math.inf, -total)
    if reduction == "mean":
        lengths = tensor(np.maximum(tg_len, 1), dtype=lp.dtype, device=lp.device)
        return (loss / lengths).mean()
    out = _reduce(loss, reduction)
    return out if batched or reduction != "none" else out.squeeze(0)


def soft_margin_loss(input: Tensor, target: Tensor, size_average: bool | None = None, reduce: bool | None = None,
                     reduction: str = "mean") -> Tensor:
    """The two-class logistic loss ``log(1 + exp(-y x))`` for targets ``y`` in {1, -1}."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    return _reduce(_softplus_neg(target * input), reduction)


def multilabel_soft_margin_loss(input: Tensor, target: Tensor, weight: Tensor | None = None,
                                size_average: bool | None = None, reduce: bool | None = None,
                                reduction: str = "mean") -> Tensor:
    """Per-class binary cross entropy on logits (``target`` 0/1 of ``input``'s shape (N, C)),
    averaged over the C classes: one loss per example, then reduced over the examples."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    loss = target * _softplus_neg(input) + (1.0 - target) * _softplus_neg(-input)
    if weight is not None:
        loss = loss * weight
    return _reduce(loss.sum(-1) / input.shape[-1], reduction)


def multi_margin_loss(input: Tensor, target: Tensor, p: int = 1, margin: float = 1.0, weight: Tensor | None = None,
                      size_average: bool | None = None, reduce: bool | None = None,
                      reduction: str = "mean") -> Tensor:
    """The multi-class hinge loss of scores (N, C) or (C) and class indices ``y``:
    ``sum_{i != y} w_y max(0, margin - x_y + x_i)^p / C`` for ``p`` 1 or 2."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    if p not in (1, 2):
        raise ValueError("only p == 1 and p == 2 supported")
    hit, class_dim, _ = _class_mask(input, target, -100)
    x_y = where(hit, input, 0.0).sum(class_dim, keepdim=True)
    z = (input - x_y + margin).clamp(min=0.0)
    z = where(hit, 0.0, z if p == 1 else z * z)
    if weight is not None:
        z = z * weight[target].unsqueeze(class_dim)
    return _reduce(z.sum(class_dim) / input.shape[class_dim], reduction)


def multilabel_margin_loss(input: Tensor, target: Tensor, size_average: bool | None = None,
                           reduce: bool | None = None, reduction: str = "mean") -> Tensor:
    """The multi-label hinge loss: ``target`` (N, C) or (C) lists each example's classes, padded
    after the first -1; the loss is ``sum over listed j, unlisted i of max(0, 1 - (x_j - x_i)) / C``."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    if tuple(target.shape) != tuple(input.shape) or input.ndim not in (1, 2):
        raise RuntimeError(f"multilabel_margin_loss: inconsistent target size: {list(target.shape)} for input of "
                           f"size: {list(input.shape)}")
    x, t = (input.unsqueeze(0), target.unsqueeze(0)) if input.ndim == 1 else (input, target)
    c = x.shape[1]
    if ((t < -1) | (t >= c)).any().item():
        raise IndexError(f"multilabel_margin_loss: target values must lie in [-1, {c}), got {t.tolist()}")
    k = t.shape[1]
    upto = ops.triu(ops.ones(k, k, dtype=x.dtype, device=x.device))       # upto[k', k] = k' <= k
    listed = ((t == -1).to(x.dtype) @ upto) == 0                           # (N, K): before the first -1
    onehot = (t.unsqueeze(2) == arange(c, device=x.device)) & listed.unsqueeze(2)  # (N, K, C)
    count = onehot.to(x.dtype).sum(1)                                       # (N, C): times j is listed
    unlisted = (count == 0).to(x.dtype)
    pair = (1.0 - x.unsqueeze(2) + x.unsqueeze(1)).clamp(min=0.0)           # [n, j, i] = hinge of j over i
    loss = (pair * count.unsqueeze(2) * unlisted.unsqueeze(1)).sum((1, 2)) / c
    return _reduce(loss if input.ndim == 2 else loss.squeeze(0), reduction)
