"""The older, hook-based forms of weight and spectral normalisation: ``nn.utils.weight_norm`` /
``remove_weight_norm`` and ``nn.utils.spectral_norm`` / ``remove_spectral_norm``.

PyTorch keeps them for the many programs (and checkpoints) written before parametrizations:
the weight's parameter is replaced by new ones (``weight_g`` and ``weight_v``; ``weight_orig``
with buffers ``weight_u`` and ``weight_v``) and a forward pre-hook recomputes ``module.weight``,
a plain attribute, before every call. The arithmetic is :mod:`.parametrizations`'.
"""

from __future__ import annotations

from typing import Any

from ...ops import randn
from ...tensor import Tensor, no_grad
from ..functional import normalize
from ..module import Module
from ..parameter import Parameter
from .parametrizations import _default_dim, as_matrix, norm_except_dim, power_iteration_, spectrally_normalized
from .parametrizations import weight_from as _weight_from


def find_hook(module: Module, kind: type, name: str) -> Any:
    """The key of ``module``'s forward pre-hook of type ``kind`` for the tensor ``name``, or None."""
    for key, hook in module._forward_pre_hooks.items():
        if isinstance(hook, kind) and hook.name == name:
            return key
    return None


def settle(module: Module, name: str, weight: Tensor, *entries: str) -> Module:
    """Undo a hook-based reparametrization: ``module.<name>`` becomes one parameter holding
    ``weight``, and the parameters and buffers named ``entries`` (its pieces) are dropped."""
    delattr(module, name)
    for entry in entries:
        registry = module._parameters if entry in module._parameters else module._buffers
        del registry[entry]
    module.register_parameter(name, Parameter(weight.detach()))
    return module


class WeightNorm:
    """The pre-hook of :func:`weight_norm`: ``module.<name> = g * v / ||v||`` before each call."""

    def __init__(self, name: str, dim: int) -> None:
        self.name, self.dim = name, dim

    def compute_weight(self, module: Module) -> Tensor:
        return _weight_from(getattr(module, self.name + "_g"), getattr(module, self.name + "_v"), self.dim)

    def __call__(self, module: Module, inputs: Any) -> None:
        setattr(module, self.name, self.compute_weight(module))


def weight_norm(module: Module, name: str = "weight", dim: int | None = 0) -> Module:
    """Split ``module.<name>`` into a magnitude ``<name>_g`` (the norm over every dim but
    ``dim``; ``None``: one scalar) and a direction ``<name>_v``, recombined before each forward.
    Returns ``module``."""
    if find_hook(module, WeightNorm, name) is not None:
        raise RuntimeError(f"Cannot register two weight_norm hooks on the same parameter {name}")
    weight = module._parameters[name]
    fn = WeightNorm(name, -1 if dim is None else dim)
    del module._parameters[name]
    module.register_parameter(name + "_g", Parameter(norm_except_dim(weight, fn.dim).detach()))
    module.register_parameter(name + "_v", Parameter(weight.detach()))
    setattr(module, name, fn.compute_weight(module))
    module.register_forward_pre_hook(fn)
    return module


def remove_weight_norm(module: Module, name: str = "weight") -> Module:
    """Undo :func:`weight_norm`: ``<name>`` is one parameter again, of the current value."""
    key = find_hook(module, WeightNorm, name)
    if key is None:
        raise ValueError(f"weight_norm of '{name}' not found in {module}")
    hook = module._forward_pre_hooks.pop(key)
    with no_grad():
        weight = hook.compute_weight(module)
    return settle(module, name, weight, name + "_g", name + "_v")


class SpectralNorm:
    """The pre-hook of :func:`spectral_norm`: ``module.<name> = <name>_orig / sigma`` before each
    call, refining the power-iteration vectors first in training mode."""

    def __init__(self, name: str, n_power_iterations: int, dim: int, eps: float) -> None:
        if n_power_iterations <= 0:
            raise ValueError(f"Expected n_power_iterations to be positive, but got n_power_iterations="
                             f"{n_power_iterations}")
        self.name, self.n_power_iterations, self.dim, self.eps = name, n_power_iterations, dim, eps

    def compute_weight(self, module: Module, do_power_iteration: bool) -> Tensor:
        weight = getattr(module, self.name + "_orig")
        u, v = getattr(module, self.name + "_u"), getattr(module, self.name + "_v")
        w = as_matrix(weight, self.dim)
        if do_power_iteration:
            power_iteration_(w.detach(), u, v, self.n_power_iterations, self.eps, v_first=True)
        return spectrally_normalized(weight, w, u.clone(), v.clone())

    def __call__(self, module: Module, inputs: Any) -> None:
        setattr(module, self.name, self.compute_weight(module, do_power_iteration=module.training))


def spectral_norm(module: Module, name: str = "weight", n_power_iterations: int = 1, eps: float = 1e-12,
                  dim: int | None = None) -> Module:
    """Divide ``module.<name>`` by its largest singular value before each forward: the weight
    moves to ``<name>_orig``, the power-iteration vectors to buffers ``<name>_u`` / ``<name>_v``
    (random unit vectors at first; ``dim`` defaults to 0, 1 for transposed convolutions).
    Returns ``module``."""
    if find_hook(module, SpectralNorm, name) is not None:
        raise RuntimeError(f"Cannot register two spectral_norm hooks on the same parameter {name}")
    fn = SpectralNorm(name, n_power_iterations, _default_dim(module) if dim is None else dim, eps)
    weight = module._parameters[name]
    with no_grad():
        w = as_matrix(weight, fn.dim)
        u = normalize(randn(w.shape[0], dtype=w.dtype, device=w.device), dim=0, eps=eps)
        v = normalize(randn(w.shape[1], dtype=w.dtype, device=w.device), dim=0, eps=eps)
    del module._parameters[name]
    module.register_parameter(name + "_orig", weight)
    setattr(module, name, weight.detach())
    module.register_buffer(name + "_u", u)
    module.register_buffer(name + "_v", v)
    module.register_forward_pre_hook(fn)
    return module


def remove_spectral_norm(module: Module, name: str = "weight") -> Module:
    """Undo :func:`spectral_norm`: ``<name>`` is one parameter again, of the normalised value."""
    key = find_hook(module, SpectralNorm, name)
    if key is None:
        raise ValueError(f"spectral_norm of '{name}' not found in {module}")
    hook = module._forward_pre_hooks.pop(key)
    with no_grad():
        weight = hook.compute_weight(module, do_power_iteration=False)
    return settle(module, name, weight, name + "_orig", name + "_u", name + "_v")


__all__ = ["weight_norm", "remove_weight_norm", "spectral_norm", "remove_spectral_norm"]
