"""Random numbers that are the same on every device.

Values are drawn on the host with a numpy ``Generator`` (PCG64) and then copied to the
device, so ``tt.manual_seed(0); tt.rand(3, device=d)`` gives the same numbers for every
``d``. They are *not* PyTorch's numbers (PyTorch uses a Mersenne Twister and its own
transforms): seeds make tinytorch reproducible, not bit-equal to PyTorch.

The default generator is the one piece of global state here, as in PyTorch; pass
``generator=tt.Generator().manual_seed(s)`` to keep a stream of your own.
"""

from __future__ import annotations

import operator
import os
from typing import Any

import numpy as np

from ..ndarray import NDArray, array, as_dtype
from ..ndarray.dtypes import DType, bool_, float32, int64
from ..ndarray.strides import broadcast_shapes
from ..tensor import Tensor, announce_random
from .dims import size_arg, torch_type_name
from .inplace import _write
from .table import exports, op


class Generator:
    """A stream of random numbers (``tt.Generator().manual_seed(42)``)."""

    def __init__(self, device: Any = None):
        self.device = device  # accepted for PyTorch compatibility: numbers are made on the host
        self.seed()

    def manual_seed(self, seed: int) -> "Generator":
        """Restart the stream from ``seed``; returns the generator."""
        self._seed = int(seed) & 0xFFFF_FFFF_FFFF_FFFF
        self.rng = np.random.default_rng(self._seed)
        return self

    def seed(self) -> int:
        """Restart from a fresh, non-deterministic seed; returns it."""
        return self.manual_seed(int.from_bytes(os.urandom(8), "little"))._seed

    def initial_seed(self) -> int:
        return self._seed

    def get_state(self) -> Any:
        return self.rng.bit_generator.state

    def set_state(self, state: dict) -> None:
        self.rng.bit_generator.state = state


default_generator = Generator()


@op(method=False, grad=False)
def manual_seed(seed: int) -> Generator:
    """Seed the default generator: every random function becomes reproducible."""
    return default_generator.manual_seed(seed)


@op(method=False, grad=False)
def seed() -> int:
    return default_generator.seed()


@op(method=False, grad=False)
def initial_seed() -> int:
    return default_generator.initial_seed()


def _rng(generator: Generator | None, name: str) -> np.random.Generator:
    """The numpy generator random op ``name`` draws from; the active dispatch modes hear of the
    draw first (``vmap`` refuses random ops under ``randomness='error'``)."""
    announce_random(name)
    return (generator if generator is not None else default_generator).rng


def _float_dtype(dtype: Any) -> DType:
    dt = float32 if dtype is None else as_dtype(dtype)
    if not dt.is_floating_point:
        raise TypeError(f"expected a floating point dtype, got {dt.name}")
    return dt


def _leaf(host: np.ndarray, dtype: DType, device: Any, requires_grad: bool) -> Tensor:
    t = Tensor._make(array(host, dtype=dtype, device=device), False, None)
    return t.requires_grad_() if requires_grad else t


# --- host draws as NDArrays (used by the in-place ``uniform_`` / ``normal_``) ----------------------------
def _uniform_array(shape: tuple[int, ...], low: float, high: float, dtype: DType, generator: Any = None,
            device: Any = None) -> NDArray:
    """Uniform numbers in ``[low, high)`` of ``shape``."""
    u = _rng(generator, "uniform_").random(shape, dtype=_float_dtype(dtype).np_dtype)
    return array(low + (high - low) * u, dtype=dtype, device=device)


def _normal_array(shape: tuple[int, ...], mean: float, std: float, dtype: DType, generator: Any = None,
           device: Any = None) -> NDArray:
    """Normal numbers with ``mean`` and ``std`` of ``shape``."""
    z = _rng(generator, "normal_").standard_normal(shape, dtype=_float_dtype(dtype).np_dtype)
    return array(mean + std * z, dtype=dtype, device=device)


# --- the tt.* random functions ------------------------------------------------------------------------
@op(method=False, grad=False)
def rand(*size: Any, generator: Generator | None = None, dtype: Any = None, device: Any = None,
         requires_grad: bool = False) -> Tensor:
    """Uniform numbers in ``[0, 1)``."""
    dt = _float_dtype(dtype)
    return _leaf(_rng(generator, "rand").random(size_arg(size), dtype=dt.np_dtype), dt, device, requires_grad)


@op(method=False, grad=False)
def randn(*size: Any, generator: Generator | None = None, dtype: Any = None, device: Any = None,
          requires_grad: bool = False) -> Tensor:
    """Standard normal numbers."""
    dt = _float_dtype(dtype)
    return _leaf(_rng(generator, "randn").standard_normal(size_arg(size), dtype=dt.np_dtype), dt, device, requires_grad)


@op(method=False, grad=False)
def randint(low: int = 0, high: Any = None, size: Any = None, *, generator: Generator | None = None,
            dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """Integers in ``[low, high)``, as PyTorch's overloads: ``randint(high, size)``,
    ``randint(low, high, size)``, ``randint(high, size=s)``, ``randint(high=h, size=s)``."""
    if size is None:
        if high is None:
            raise TypeError("randint() missing required argument 'size'")
        low, high, size = 0, low, high
    elif high is None:  # randint(high, size=...)
        low, high = 0, low
    if high <= low:
        raise RuntimeError(f"random_ expects 'from' to be less than 'to', but got from={low} >= to={high}")
    dt = int64 if dtype is None else as_dtype(dtype)
    draw = _rng(generator, "randint").integers(low, high, size=size_arg((size,)), dtype=np.int64)
    return _leaf(draw, dt, device, requires_grad)


@op(method=False, grad=False)
def randperm(n: int, *, generator: Generator | None = None, dtype: Any = None, device: Any = None,
             requires_grad: bool = False) -> Tensor:
    """A random permutation of ``0 .. n-1``."""
    dt = int64 if dtype is None else as_dtype(dtype)
    return _leaf(_rng(generator, "randperm").permutation(int(n)), dt, device, requires_grad)


@op(method=False, grad=False)
def rand_like(x: Tensor, *, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    return rand(x.shape, dtype=dtype or x.dtype, device=device or x.device, requires_grad=requires_grad)


@op(method=False, grad=False)
def randn_like(x: Tensor, *, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    return randn(x.shape, dtype=dtype or x.dtype, device=device or x.device, requires_grad=requires_grad)



@op(method=False, grad=False)
def randint_like(x: Tensor, low: int = 0, high: int | None = None, *, generator: Generator | None = None,
                 dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """Integers in ``[low, high)`` (or ``[0, low)`` given one bound) of ``x``'s shape, dtype and device."""
    low, high = (0, low) if high is None else (low, high)
    if high <= low:
        raise RuntimeError(f"random_ expects 'from' to be less than 'to', but got from={low} >= to={high}")
    dt = x.dtype if dtype is None else as_dtype(dtype)
    draw = _rng(generator, "randint_like").integers(low, high, size=x.shape, dtype=np.int64)
    return _leaf(draw, dt, device or x.device, requires_grad)


@op(method=False, grad=False)
def normal(mean: Any, std: Any = 1.0, size: Any = None, *, generator: Generator | None = None, dtype: Any = None,
           device: Any = None, requires_grad: bool = False) -> Tensor:
    """Normal numbers of ``mean`` and ``std``: tensors (broadcast together, one draw per element)
    or numbers with a ``size``. Not differentiable in ``mean`` or ``std``."""
    tensors = [t for t in (mean, std) if isinstance(t, Tensor)]
    if tensors:
        if any(not t.dtype.is_floating_point for t in tensors):
            raise RuntimeError("normal expects floating point mean and std tensors")
        shape = broadcast_shapes(*(t.shape for t in tensors))
        m = mean.detach().numpy() if isinstance(mean, Tensor) else mean
        sd = std.detach().numpy() if isinstance(std, Tensor) else std
        if np.any(np.asarray(sd) < 0):
            raise RuntimeError(f"normal expects all elements of std >= 0.0, got {std}")
        dt, dev = tensors[0].dtype, tensors[0].device
    else:
        if size is None:
            raise TypeError("normal() with number arguments needs a size")
        if std < 0:
            raise RuntimeError(f"normal expects std >= 0.0, but found std {std}")
        shape, m, sd, dt, dev = size_arg((size,)), mean, std, _float_dtype(dtype), device
    z = _rng(generator, "normal").standard_normal(shape)
    return _leaf(m + sd * z, dt if dtype is None else as_dtype(dtype), dev, requires_grad)


@op(grad=False)
def bernoulli(p: Tensor, *, generator: Generator | None = None) -> Tensor:
    """1 with probability ``p`` (elementwise, in [0, 1]), else 0, in ``p``'s dtype."""
    probs = p.detach().numpy()
    if probs.size and (probs.min() < 0 or probs.max() > 1):
        raise RuntimeError("Expected p_in >= 0 && p_in <= 1 to be true, but got false")
    draw = _rng(generator, "bernoulli").random(probs.shape)
    return _leaf((draw < probs).astype(np.float64), p.dtype, p.device, False)


@op(grad=False)
def multinomial(weights: Tensor, num_samples: int, replacement: bool = False, *,
                generator: Generator | None = None) -> Tensor:
    """Indices drawn in proportion to the non-negative ``weights`` (1-D, or one row per draw set):
    ``num_samples`` of them per row, without repeats unless ``replacement``. int64."""
    w = weights.detach().numpy().astype(np.float64)
    if w.ndim not in (1, 2):
        raise RuntimeError(f"prob_dist must be 1 or 2 dim, got {w.ndim}")
    rows = w.reshape(-1, w.shape[-1])
    if (rows < 0).any() or not np.isfinite(rows).all():
        raise RuntimeError("probability tensor contains either `inf`, `nan` or element < 0")
    if (rows.sum(1) <= 0).any():
        raise RuntimeError("invalid multinomial distribution (sum of probabilities <= 0)")
    if not replacement and num_samples > int((rows > 0).sum(1).min()):
        raise RuntimeError("cannot sample n_sample > prob_dist.size(-1) samples without replacement")
    rng = _rng(generator, "multinomial")
    out = np.stack([rng.choice(len(r), num_samples, replace=replacement, p=r / r.sum()) for r in rows])
    return _leaf(out.reshape(w.shape[:-1] + (num_samples,)), int64, weights.device, False)

@op(function=False, grad=False)
def uniform_(t: Tensor, a: float = 0.0, b: float = 1.0, generator: Generator | None = None) -> Tensor:
    """Fill ``t`` with uniform numbers in ``[a, b)``."""
    return _write(t, _uniform_array(t.shape, a, b, t.dtype, generator, t.device))


@op(function=False, grad=False)
def normal_(t: Tensor, mean: float = 0.0, std: float = 1.0, generator: Generator | None = None) -> Tensor:
    """Fill ``t`` with normal numbers of ``mean`` and ``std``."""
    return _write(t, _normal_array(t.shape, mean, std, t.dtype, generator, t.device))


def _continuous(t: Tensor, what: str) -> None:
    """Refuse to fill a bool or integer ``t`` with a continuous distribution ``what``."""
    if not t.dtype.is_floating_point:
        raise RuntimeError(f"{what} distribution is a continuous probability distribution. dtype must be a "
                           f"floating point but you specified {t.dtype.name}")


@op(function=False, grad=False)
def exponential_(t: Tensor, lambd: float = 1.0, *, generator: Generator | None = None) -> Tensor:
    """Fill ``t`` with exponential numbers of rate ``lambd`` (mean ``1 / lambd``)."""
    if not lambd > 0:
        raise RuntimeError(f"exponential_ expects lambda > 0.0, but found lambda={lambd}")
    _continuous(t, "Exponential")
    draw = _rng(generator, "exponential_").standard_exponential(t.shape, dtype=t.dtype.np_dtype)
    return _write(t, array(draw / lambd, dtype=t.dtype, device=t.device))


@op(function=False, grad=False)
def log_normal_(t: Tensor, mean: float = 1.0, std: float = 2.0, *, generator: Generator | None = None) -> Tensor:
    """Fill ``t`` with log-normal numbers: ``exp`` of normal numbers of ``mean`` and ``std``."""
    if not std > 0:
        raise RuntimeError(f"log_normal_ expects std > 0.0, but found std={std}")
    if not t.dtype.is_floating_point:
        raise NotImplementedError(f'"log_normal_" not implemented for {t.dtype.name}')
    z = _rng(generator, "log_normal_").standard_normal(t.shape)
    return _write(t, array(np.exp(mean + std * z), dtype=t.dtype, device=t.device))


@op(function=False, grad=False)
def cauchy_(t: Tensor, median: float = 0.0, sigma: float = 1.0, *, generator: Generator | None = None) -> Tensor:
    """Fill ``t`` with Cauchy numbers of ``median`` and scale ``sigma``."""
    if not sigma > 0:
        raise RuntimeError(f"cauchy_ expects sigma > 0.0, but found sigma={sigma}")
    _continuous(t, "Cauchy")
    z = _rng(generator, "cauchy_").standard_cauchy(t.shape)
    return _write(t, array(median + sigma * z, dtype=t.dtype, device=t.device))


@op(function=False, grad=False)
def geometric_(t: Tensor, p: float, *, generator: Generator | None = None) -> Tensor:
    """Fill ``t`` with the number of Bernoulli(``p``) trials up to the first success: 1, 2, 3, ..."""
    if not 0 < p < 1:
        raise RuntimeError(f"geometric_ expects p to be in (0, 1), but got p={p}")
    draw = _rng(generator, "geometric_").geometric(p, t.shape)
    return _write(t, array(draw, dtype=int64, device=t.device))


@op(function=False, grad=False)
def bernoulli_(t: Tensor, p: Any = 0.5, *, generator: Generator | None = None) -> Tensor:
    """Fill ``t`` with 1 (probability ``p``) or 0, in ``t``'s dtype; ``p`` is a number or a
    tensor of probabilities broadcast to ``t``'s shape."""
    if isinstance(p, Tensor):
        if broadcast_shapes(p.shape, t.shape) != t.shape:
            raise RuntimeError(f"bernoulli_: the probabilities of shape {list(p.shape)} do not broadcast to the "
                               f"tensor's shape {list(t.shape)}")
        probs = np.broadcast_to(p.detach().numpy(), t.shape)
        if probs.size and (probs.min() < 0 or probs.max() > 1):
            raise RuntimeError("Expected p_in >= 0 && p_in <= 1 to be true, but got false")
    elif not 0 <= p <= 1:
        raise RuntimeError(f"bernoulli_ expects p to be in [0, 1], but got p={p}")
    else:
        probs = p
    draw = _rng(generator, "bernoulli_").random(t.shape) < probs
    return _write(t, array(draw, dtype=bool_, device=t.device))


_UNSET: Any = object()  # random_'s "bound not given" (``to=None`` means "up to the dtype's largest")


def _largest(dtype: DType) -> int:
    """The largest integer ``random_`` draws for ``dtype`` with no upper bound: every integer up to
    it is exact (2**24 for float32, 2**53 for float64)."""
    if dtype is bool_:
        return 1
    if dtype.is_floating_point:
        return 2 ** int(np.finfo(dtype.np_dtype).nmant + 1)
    return int(np.iinfo(np.int64).max)


@op(function=False, grad=False)
def random_(t: Tensor, from_: Any = _UNSET, to: Any = _UNSET, *, generator: Generator | None = None) -> Tensor:
    """Fill ``t`` with integers drawn uniformly from ``[from_, to)``, as PyTorch's overloads:
    ``random_(to)`` is ``[0, to)``; ``random_()`` and ``random_(from_, None)`` go up to the
    largest integer ``t``'s dtype holds exactly (``2**24`` for float32, ``2**53`` for float64,
    ``2**63 - 1`` for int64, 1 for bool), that bound included."""
    if to is _UNSET:  # random_() or random_(to)
        low, to = 0, (None if from_ is _UNSET else from_)
    else:
        low = 0 if from_ is _UNSET else from_
    low = operator.index(low)
    if to is None:
        high = _largest(t.dtype)  # included
    else:
        to = operator.index(to)
        if low >= to:
            raise RuntimeError(f"random_ expects 'from' to be less than 'to', but got from={low} >= to={to}")
        high = to - 1
    if low > high:  # random_(from_, None) with from_ above the dtype's largest
        raise RuntimeError(f"random_ expects 'from' to be less than 'to', but got from={low} >= to={high + 1}")
    # the values must fit the dtype (floats: int64, whose draws round beyond 2**24 / 2**53 as in PyTorch)
    smallest, largest = (0, 1) if t.dtype is bool_ else (-(2 ** 63), 2 ** 63 - 1)
    if low < smallest:
        raise RuntimeError(f"from is out of bounds for {t.dtype.name}")
    if high > largest:
        raise RuntimeError(f"to - 1 is out of bounds for {t.dtype.name}")
    draw = _rng(generator, "random_").integers(low, high, size=t.shape, dtype=np.int64, endpoint=True)
    return _write(t, array(draw, dtype=int64, device=t.device))


# --- Poisson counts ----------------------------------------------------------------------------------------
_POISSON_NORMAL = 1e15  # above this rate numpy's Poisson sampler refuses; the normal approximation is exact


@op(method=False, grad=False)
def poisson(input: Tensor, generator: Generator | None = None) -> Tensor:
    """Poisson counts with the (non-negative) rates ``input``, elementwise, in ``input``'s
    floating dtype. Not differentiable."""
    if not input.dtype.is_floating_point:
        raise NotImplementedError(f'"poisson_cpu" not implemented for \'{torch_type_name(input.dtype)}\'')
    lam = input.detach().numpy().astype(np.float64)
    if lam.size and not (lam >= 0).all():  # NaN too
        raise RuntimeError("invalid Poisson rate, expected rate to be non-negative")
    rng = _rng(generator, "poisson")
    big = lam > _POISSON_NORMAL
    draw = rng.poisson(np.where(big, 0.0, lam)).astype(np.float64)
    if big.any():  # rates beyond the sampler's range (inf included): the rounded normal approximation
        with np.errstate(invalid="ignore"):
            approx = np.round(lam + np.sqrt(lam) * rng.standard_normal(lam.shape))
        draw = np.where(big, np.where(np.isinf(lam), np.inf, approx), draw)
    return _leaf(draw, input.dtype, input.device, False)


__all__ = exports(__name__) + ["Generator", "default_generator"]
