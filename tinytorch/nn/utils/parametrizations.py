"""``nn.utils.parametrizations``: weight normalisation and spectral normalisation written as
parametrizations (see :mod:`.parametrize`), plus the arithmetic the older hook-based forms
(``nn.utils.weight_norm``, ``nn.utils.spectral_norm``) share with them.

* Weight normalisation (Salimans & Kingma, 2016) writes a weight as ``g * v / ||v||``: a
  direction ``v`` and a magnitude ``g`` learned separately. The norm is taken over every dim
  but ``dim`` (``dim=None``: over the whole tensor, ``g`` a scalar).
* Spectral normalisation (Miyato et al., 2018) divides a weight by its largest singular value
  ``sigma``, estimated by power iteration: vectors ``u``, ``v`` kept between calls are refined
  by ``n_power_iterations`` steps per training-mode forward, and ``sigma = u^T W v``.
"""

from __future__ import annotations

from ...ops import dot, mv, randn
from ...tensor import Tensor, no_grad
from ..conv import ConvTranspose1d, ConvTranspose2d
from ..functional import normalize
from ..module import Module
from .parametrize import register_parametrization


# --- weight normalisation ------------------------------------------------------------------------
def norm_except_dim(v: Tensor, dim: int) -> Tensor:
    """The 2-norm of ``v`` over every dim except ``dim``, shaped to broadcast against ``v``
    (``dim=-1``, PyTorch's code for "none": the norm of the whole tensor, a scalar)."""
    if dim == -1:
        return v.norm()
    others = tuple(d for d in range(v.ndim) if d != dim)
    return v.norm(dim=others, keepdim=True) if others else v.abs()


def weight_from(g: Tensor, v: Tensor, dim: int) -> Tensor:
    """``v * (g / ||v||)``, the norm as :func:`norm_except_dim` takes it."""
    return v * (g / norm_except_dim(v, dim))


class _WeightNorm(Module):
    def __init__(self, dim: int | None) -> None:
        super().__init__()
        self.dim = -1 if dim is None else dim

    def forward(self, weight_g: Tensor, weight_v: Tensor) -> Tensor:  # type: ignore[override]
        return weight_from(weight_g, weight_v, self.dim)

    def right_inverse(self, weight: Tensor) -> tuple[Tensor, Tensor]:
        return norm_except_dim(weight, self.dim), weight


def weight_norm(module: Module, name: str = "weight", dim: int | None = 0) -> Module:
    """Reparametrize ``module.<name>`` as ``g * v / ||v||`` (originals ``original0`` = g,
    ``original1`` = v, as PyTorch's state_dict names them). Returns ``module``."""
    dim = dim if dim is None or dim >= -1 else dim + getattr(module, name).ndim
    return register_parametrization(module, name, _WeightNorm(dim), unsafe=True)


# --- spectral normalisation ----------------------------------------------------------------------
def as_matrix(weight: Tensor, dim: int) -> Tensor:
    """``weight`` as a matrix whose rows run along ``dim`` (moved first, the rest flattened)."""
    if dim != 0:
        weight = weight.movedim(dim, 0)
    return weight.reshape(weight.shape[0], -1)


def power_iteration_(w: Tensor, u: Tensor, v: Tensor, steps: int, eps: float, v_first: bool = False) -> None:
    """Refine the estimates ``u``, ``v`` of ``w``'s top singular vectors in place (no graph):
    ``u = normalize(w v)`` then ``v = normalize(w^T u)`` each step, or ``v`` first (the order
    of PyTorch's hook-based form, which this must match to give its numbers)."""
    with no_grad():
        for _ in range(steps):
            if v_first:
                v.copy_(normalize(mv(w.mT, u), dim=0, eps=eps))
            u.copy_(normalize(mv(w, v), dim=0, eps=eps))
            if not v_first:
                v.copy_(normalize(mv(w.mT, u), dim=0, eps=eps))


def spectrally_normalized(weight: Tensor, w: Tensor, u: Tensor, v: Tensor) -> Tensor:
    """``weight / sigma`` with ``sigma = u^T w v`` (``w``: ``weight`` as a matrix; ``u`` and
    ``v`` are constants, so the gradient flows through ``w`` only, as PyTorch's)."""
    return weight / dot(u, mv(w, v))


def _default_dim(module: Module) -> int:
    return 1 if isinstance(module, (ConvTranspose1d, ConvTranspose2d)) else 0


class _SpectralNorm(Module):
    def __init__(self, weight: Tensor, n_power_iterations: int, dim: int, eps: float) -> None:
        super().__init__()
        if n_power_iterations <= 0:
            raise ValueError(f"Expected n_power_iterations to be positive, but got n_power_iterations="
                             f"{n_power_iterations}")
        self.dim = dim if dim >= 0 else dim + weight.ndim
        self.eps, self.n_power_iterations = eps, n_power_iterations
        if weight.ndim > 1:
            w = as_matrix(weight.detach(), self.dim)
            self.register_buffer("_u", normalize(randn(w.shape[0], dtype=w.dtype, device=w.device), dim=0, eps=eps))
            self.register_buffer("_v", normalize(randn(w.shape[1], dtype=w.dtype, device=w.device), dim=0, eps=eps))
            power_iteration_(w, self._u, self._v, 15, eps)  # start near the answer, as PyTorch

    def forward(self, weight: Tensor) -> Tensor:  # type: ignore[override]
        if weight.ndim == 1:
            return normalize(weight, dim=0, eps=self.eps)
        w = as_matrix(weight, self.dim)
        if self.training:
            power_iteration_(w.detach(), self._u, self._v, self.n_power_iterations, self.eps)
        return spectrally_normalized(weight, w, self._u.clone(), self._v.clone())

    def right_inverse(self, value: Tensor) -> Tensor:
        return value


def spectral_norm(module: Module, name: str = "weight", n_power_iterations: int = 1, eps: float = 1e-12,
                  dim: int | None = None) -> Module:
    """Reparametrize ``module.<name>`` as itself divided by its spectral norm, estimated by
    power iteration (see the module docstring); ``dim`` (default 0, 1 for transposed
    convolutions) is the output-channel dim. Returns ``module``."""
    weight = getattr(module, name)
    sn = _SpectralNorm(weight, n_power_iterations, _default_dim(module) if dim is None else dim, eps)
    return register_parametrization(module, name, sn)


__all__ = ["weight_norm", "spectral_norm"]
