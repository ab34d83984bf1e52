"""Running (prefix) ops along one dim: ``cumsum``, ``cumprod``, ``logcumsumexp``, ``cummax``, ``cummin``.

The forwards are the NDArray scans (:func:`~tinytorch.ndarray.ndarray.prefix_scan`: ceil(log2 n)
array ops over shifted slices, on every backend). The backwards are Tensor ops, so they are
differentiable again:

* ``cumsum``: the reversed running sum of the gradient.
* ``cumprod``: ``dx[i] = prod(x[:i]) * s[i]`` with ``s[i] = g[i] + x[i+1] * s[i+1]``, a linear
  recurrence scanned in log steps too (:func:`linear_recurrence`). No division by ``x``, so the
  gradient is exact with zeros in the input (one zero, two zeros, anywhere).
* ``logcumsumexp``: PyTorch's stable formula, which splits the gradient by sign and runs the
  reversed ``logcumsumexp`` of ``log|g| - out`` (no ``exp`` of a large number).
* ``cummax`` / ``cummin``: the values are a ``gather`` at the indices, so the gradient is the
  scatter-add of ``gather``.
"""

from __future__ import annotations

import collections
import functools
from typing import Any

import numpy as np

from ..ndarray import NDArray
from ..ndarray import full as nd_full
from ..tensor import Function, Tensor
from .dims import normalize_dim
from .elementwise import Cast, abs, exp, gt, log, lt, where
from .movement import Flip, cat, clone, gather, reshape
from .table import exports, op


def _slice(dim: int, start: int, stop: int) -> tuple:
    """The key of ``x[start:stop]`` along ``dim``."""
    return (slice(None),) * dim + (slice(start, stop),)


def flip_along(x: Tensor, dim: int) -> Tensor:
    """``x`` reversed along ``dim`` (a view)."""
    return Flip.apply(x, dims=(dim,))


def _ones_slice(x: Tensor, dim: int) -> Tensor:
    """A constant tensor of ones shaped like ``x`` with length 1 along ``dim``."""
    shape = tuple(1 if i == dim else n for i, n in enumerate(x.shape))
    return Tensor._make(nd_full(shape, 1, dtype=x.dtype, device=x.device), False, None)


def shifted(x: Tensor, dim: int) -> Tensor:
    """``[1, x[0], ..., x[n-2]]`` along ``dim``: the sequence moved one step on, a one in front."""
    return cat([_ones_slice(x, dim), x[_slice(dim, 0, x.shape[dim] - 1)]], dim)


def linear_recurrence(a: Tensor, b: Tensor, dim: int) -> Tensor:
    """``r[k] = b[k] + a[k] * r[k-1]`` along ``dim`` (``r[-1] = 0``; ``a[0]`` is not used), for
    ``a`` and ``b`` of one shape: a Hillis-Steele scan of affine maps in Tensor ops.

    After the step with shift s, ``(a[k], b[k])`` is the composition of the maps in the window
    ``(k - 2s, k]``, so ceil(log2 n) steps give ``r``; each step is differentiable, and so is ``r``.
    """
    n, shift = b.shape[dim], 1
    while shift < n:
        head, tail, prev = _slice(dim, 0, shift), _slice(dim, shift, n), _slice(dim, 0, n - shift)
        b = cat([b[head], b[tail] + a[tail] * b[prev]], dim)
        a = cat([a[head], a[tail] * a[prev]], dim)
        shift *= 2
    return b


class Cumsum(Function):
    def forward(self, a: NDArray, dim: int) -> NDArray:
        self.dim = dim
        return a.cumsum(dim)

    def backward(self, g: Tensor) -> Tensor:
        return flip_along(Cumsum.apply(flip_along(g, self.dim), dim=self.dim), self.dim)


class Cumprod(Function):
    def forward(self, a: NDArray, dim: int) -> NDArray:
        self.dim = dim
        return a.cumprod(dim)

    def backward(self, g: Tensor) -> Tensor:
        x, d = self.inputs[0], self.dim
        if x.shape[d] == 0:
            return g
        before = Cumprod.apply(shifted(x, d), dim=d)  # prod(x[:i]), exact with zeros
        after = flip_along(linear_recurrence(shifted(flip_along(x, d), d), flip_along(g, d), d), d)  # s[i] above
        return before * after


class Logcumsumexp(Function):
    def forward(self, a: NDArray, dim: int) -> NDArray:
        self.dim = dim
        self.out = a.logcumsumexp(dim)
        return self.out

    def backward(self, g: Tensor) -> Tensor:
        x, out, d = self.inputs[0], self.output(), self.dim
        lowest = float(np.finfo(x.dtype.np_dtype).min)  # log(0), kept finite as PyTorch does
        log_g = log(abs(g))
        pos, neg = where(gt(g, 0), log_g, lowest), where(lt(g, 0), log_g, lowest)

        def reversed_scan(t: Tensor) -> Tensor:
            return flip_along(Logcumsumexp.apply(flip_along(t, d), dim=d), d)

        return exp(reversed_scan(pos - out) + x) - exp(reversed_scan(neg - out) + x)


def _scan(fn: Any, x: Tensor, dim: Any, dtype: Any) -> Tensor:
    """Run the scan Function ``fn`` along ``dim`` (a 0-d tensor is its own one-element sequence)."""
    if dtype is not None:
        x = Cast.apply(x, dtype=dtype)
    d = normalize_dim(dim, x.ndim)
    if x.ndim == 0:
        return reshape(fn.apply(reshape(x, (1,)), dim=0), ())
    return fn.apply(x, dim=d)


@op
def cumsum(x: Tensor, dim: int, *, dtype: Any = None) -> Tensor:
    """Running sums along ``dim``: ``out[i] = x[0] + ... + x[i]`` (bools and integers give int64)."""
    return _scan(Cumsum, x, dim, dtype)


@op
def cumprod(x: Tensor, dim: int, *, dtype: Any = None) -> Tensor:
    """Running products along ``dim``; the gradient is exact with zeros in ``x``."""
    return _scan(Cumprod, x, dim, dtype)


@op
def logcumsumexp(x: Tensor, dim: int) -> Tensor:
    """``log(cumsum(exp(x), dim))`` computed stably (exact for inputs like 1000 or -1000)."""
    if not x.dtype.is_floating_point:
        raise RuntimeError(f"\"logcumsumexp_out_cpu\" not implemented for '{x.dtype.name}'")
    return _scan(Logcumsumexp, x, dim, None)


_cummax_result = collections.namedtuple("cummax", ["values", "indices"])  # type: ignore[name-match]
_cummin_result = collections.namedtuple("cummin", ["values", "indices"])  # type: ignore[name-match]


class IndicesAlong(Function):
    """``fn(a, dim)``: where along ``dim`` something is, found from the values: int64 positions
    (the sort order, where a running maximum was seen, the median's place) or a bool mask
    (each pooling window's first maximum). They carry no gradient; the op
    exists so that dispatch modes see the computation (``vmap`` shifts ``dim``, the profiler
    counts it) instead of it running on the arrays behind their back."""

    def forward(self, a: NDArray, fn: Any, dim: int) -> NDArray:
        return fn(a, dim)

    def backward(self, g: Tensor) -> None: return None


def indices_along(x: Tensor, fn: Any, dim: int) -> Tensor:
    """:class:`IndicesAlong` of ``x`` (``dim`` normalized); a 0-d ``x`` is read as one element
    along dim 0 and gives a 0-d result."""
    if x.ndim == 0:
        return reshape(IndicesAlong.apply(reshape(x, (1,)), fn=fn, dim=0), ())
    return IndicesAlong.apply(x, fn=fn, dim=dim)


def _running_arg(which: str, a: NDArray, dim: int) -> NDArray:
    return getattr(a, which)(dim)[1]  # type: ignore[no-any-return]


def _running_extreme(x: Tensor, dim: Any, which: str, result: Any) -> Any:
    d = normalize_dim(dim, x.ndim)
    indices = indices_along(x, functools.partial(_running_arg, which), d)
    return result(clone(x) if x.ndim == 0 else gather(x, d, indices), indices)


@op
def cummax(x: Tensor, dim: int) -> Any:
    """``(values, indices)``: the running maximum along ``dim`` and the index where it was last
    seen (a tie moves the index on; a NaN wins and stays). The gradient goes to those indices."""
    return _running_extreme(x, dim, "cummax", _cummax_result)


@op
def cummin(x: Tensor, dim: int) -> Any:
    """``(values, indices)``: the running minimum, with :func:`cummax`'s rules."""
    return _running_extreme(x, dim, "cummin", _cummin_result)


__all__ = exports(__name__)
