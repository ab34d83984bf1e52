"""``nn.utils``: gradient clipping, parameters as one vector, weight and spectral normalisation
(hook-based here, as parametrizations in ``nn.utils.parametrizations``), and (in
``nn.utils.rnn``) padded and packed batches of sequences."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from ...ops import cat, reshape, stack, tensor
from ...ops.reduce import vector_norm
from ...tensor import Tensor, no_grad
from . import parametrizations as parametrizations  # nn.utils.parametrizations.weight_norm, spectral_norm
from . import parametrize as parametrize  # nn.utils.parametrize.register_parametrization
from . import prune as prune  # nn.utils.prune: masks kept beside the weights
from . import rnn as rnn  # nn.utils.rnn, as PyTorch's
from . import stateless as stateless  # nn.utils.stateless.functional_call
from .hook_norms import remove_spectral_norm as remove_spectral_norm
from .hook_norms import remove_weight_norm as remove_weight_norm
from .hook_norms import spectral_norm as spectral_norm
from .hook_norms import weight_norm as weight_norm


def clip_grad_norm_(parameters: Any, max_norm: float, norm_type: float = 2.0,
                    error_if_nonfinite: bool = False, foreach: bool | None = None) -> Any:
    """Scale the gradients of ``parameters`` in place so that their total norm (the norm of all
    gradients concatenated into one vector) is at most ``max_norm``.

    As PyTorch: the scale is ``min(1, max_norm / (total_norm + 1e-6))`` and it is always applied;
    the two steps are :func:`get_total_norm` and :func:`clip_grads_with_norm_`.

    Args:
        parameters: a tensor or an iterable of tensors with gradients.
        max_norm: the largest allowed norm.
        norm_type: the p of the p-norm; ``float('inf')`` for the largest absolute value. Default: 2.
        error_if_nonfinite: raise if the total norm is nan or inf. Default: False.
        foreach: accepted for PyTorch's signature (one code path here).

    Returns:
        The total norm before clipping, a scalar tensor.
    """
    params = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    grads = [p.grad for p in params if p.grad is not None]
    total = get_total_norm(grads, norm_type, error_if_nonfinite)
    if grads:
        clip_grads_with_norm_(params, max_norm, total)
    return total


def get_total_norm(tensors: Any, norm_type: float = 2.0, error_if_nonfinite: bool = False,
                   foreach: bool | None = None) -> Tensor:
    """The ``norm_type``-norm of ``tensors`` (usually gradients) taken together as one vector: a
    scalar tensor (0 for no tensors). ``error_if_nonfinite`` raises ``RuntimeError`` on an inf or
    NaN total."""
    tensors = [tensors] if isinstance(tensors, Tensor) else [t for t in tensors if t is not None]
    if not tensors:
        return tensor(0.0)
    norm_type = float(norm_type)
    with no_grad():
        if norm_type == 2.0 and _one_dtype_and_device(tensors):
            total = _total_2_norm(tensors)
        else:  # as PyTorch: the norm of each tensor (one pass each), then the norm of those norms
            norms = [vector_norm(g, norm_type) for g in tensors]
            total = norms[0] if len(norms) == 1 else vector_norm(stack(norms), norm_type)
    if error_if_nonfinite and not math.isfinite(total.item()):
        raise RuntimeError(f"The total norm of order {norm_type} for gradients from `parameters` is non-finite, "
                           "so it cannot be clipped. To disable this error and scale the gradients by the "
                           "non-finite norm anyway, set `error_if_nonfinite=False`")
    return total


def clip_grads_with_norm_(parameters: Any, max_norm: float, total_norm: Tensor, foreach: bool | None = None) -> None:
    """Multiply the gradients of ``parameters`` in place by ``min(1, max_norm / (total_norm +
    1e-6))``, ``total_norm`` being their norm as :func:`get_total_norm` gives it."""
    params = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    with no_grad():
        # one read of the coefficient (in the norm's dtype, so the products are PyTorch's), then
        # one scalar multiply per gradient, in place
        coef = (max_norm / (total_norm + 1e-6)).clamp(max=1.0).item()
        for p in params:
            if p.grad is not None:
                p.grad *= coef


def _one_dtype_and_device(tensors: list[Tensor]) -> bool:
    first = tensors[0]
    return first.dtype.is_floating_point and all(t.dtype == first.dtype and t.device == first.device
                                                 for t in tensors)


def _total_2_norm(grads: list[Tensor]) -> Tensor:
    """The 2-norm of all of ``grads`` (floats of one dtype and device) as one vector: the square
    root of the sum of each gradient's sum of squares. The same number as the norm of the
    per-gradient norms (up to rounding), computed on the arrays: two kernel calls per gradient
    and no op or graph node, where the norms of a model's few dozen gradients would otherwise
    cost more in Python than in arithmetic."""
    total = None
    for g in grads:
        squares = (g._data * g._data).sum()
        total = squares if total is None else total + squares
    return Tensor(total.sqrt())


def clip_grad_value_(parameters: Iterable[Any] | Any, clip_value: float) -> None:
    """Clamp every gradient element to ``[-clip_value, clip_value]`` in place."""
    params = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    with no_grad():
        for p in params:
            if p.grad is not None:
                p.grad.clamp_(-clip_value, clip_value)


def parameters_to_vector(parameters: Iterable[Tensor]) -> Tensor:
    """Every parameter flattened and concatenated into one 1-D tensor (a copy, in the graph)."""
    params = list(parameters)
    if not params:
        raise RuntimeError("parameters_to_vector: expected at least one parameter")
    return cat([reshape(p, -1) for p in params])


def vector_to_parameters(vec: Tensor, parameters: Iterable[Tensor]) -> None:
    """Copy consecutive pieces of the 1-D ``vec`` into ``parameters`` (the inverse of
    :func:`parameters_to_vector`)."""
    if not isinstance(vec, Tensor):
        raise TypeError(f"expected torch.Tensor, but got: {type(vec).__name__}")
    params = list(parameters)
    total = sum(p.numel() for p in params)
    if vec.ndim != 1 or vec.numel() != total:
        raise RuntimeError(f"vector_to_parameters: the vector has shape {list(vec.shape)}, the parameters "
                           f"{total} elements")
    start = 0
    with no_grad():
        for p in params:
            p.copy_(reshape(vec[start:start + p.numel()], p.shape))
            start += p.numel()
