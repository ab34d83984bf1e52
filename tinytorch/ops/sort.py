"""Sorting and order statistics: ``sort``, ``argsort``, ``msort``, ``topk``, ``kthvalue``, ``median``.

Each op finds indices with :meth:`NDArray.argsort <tinytorch.ndarray.NDArray.argsort>` (a stable
sort on the host through numpy, for every backend; NaN is the largest value, as in PyTorch)
and reads the values with ``gather``, so the gradient of the values is ``gather``'s: the
incoming gradient scattered back to the indices. The indices are int64 and have no gradient.
Equal values keep their original order (PyTorch's stable order; for ``topk`` PyTorch leaves
the order of ties unspecified).
"""

from __future__ import annotations

import collections
import functools
import math
from typing import Any

from ..ndarray import NDArray
from ..ndarray import full as nd_full
from ..ndarray import where as nd_where
from ..tensor import Function, Tensor
from .dims import normalize_dim
from .movement import along_dim_key, clone, gather, squeeze
from .scan import indices_along
from .table import exports, op

_sort_result = collections.namedtuple("sort", ["values", "indices"])  # type: ignore[name-match]  # PyTorch's names
_topk_result = collections.namedtuple("topk", ["values", "indices"])  # type: ignore[name-match]
_kthvalue_result = collections.namedtuple("kthvalue", ["values", "indices"])  # type: ignore[name-match]
_median_result = collections.namedtuple("median", ["values", "indices"])  # type: ignore[name-match]


def _constant(a: NDArray) -> Tensor:
    return Tensor._make(a, False, None)


def _take(x: Tensor, dim: int, indices: Tensor) -> Tensor:
    """``x`` gathered at ``indices`` along ``dim`` (a 0-d tensor: a copy of itself)."""
    return clone(x) if x.ndim == 0 else gather(x, dim, indices)


def _argsort_of(descending: bool, a: NDArray, dim: int) -> NDArray:
    return a.argsort(dim, descending=descending)


def _order(x: Tensor, dim: int, descending: bool = False) -> Tensor:
    """The stable sort order of ``x`` along ``dim`` (int64, no gradient), through an op that
    dispatch modes see (:class:`~tinytorch.ops.scan.IndicesAlong`)."""
    return indices_along(x, functools.partial(_argsort_of, descending), dim)


def _first(indices: Tensor, dim: int, k: int) -> Tensor:
    """The first ``k`` entries of ``indices`` along ``dim``."""
    return indices[(slice(None),) * dim + (slice(0, k),)] if indices.ndim else indices


@op
def sort(x: Tensor, dim: int = -1, descending: bool = False, *, stable: bool = False) -> Any:
    """``(values, indices)`` sorted along ``dim``; equal values keep their order, NaN counts as
    the largest value. ``stable`` is accepted for PyTorch's signature: the sort is always stable."""
    d = normalize_dim(dim, x.ndim)
    indices = _order(x, d, descending)
    return _sort_result(_take(x, d, indices), indices)


@op(grad=False)
def argsort(x: Tensor, dim: int = -1, descending: bool = False, *, stable: bool = False) -> Tensor:
    """The indices of :func:`sort` (int64)."""
    return _order(x, normalize_dim(dim, x.ndim), descending)


@op
def msort(x: Tensor) -> Tensor:
    """The values of ``sort(x, dim=0)``."""
    return sort(x, 0).values


@op
def topk(x: Tensor, k: int, dim: int = -1, largest: bool = True, sorted: bool = True) -> Any:  # noqa: A002
    """``(values, indices)`` of the ``k`` largest (``largest=False``: smallest) elements along
    ``dim``, largest first (smallest first). The result is always sorted, so ``sorted=False``
    gives one of the orders PyTorch allows."""
    d = normalize_dim(dim, x.ndim)
    n = x.shape[d] if x.ndim else 1
    if not 0 <= k <= n:
        raise RuntimeError(f"selected index k out of range (k={k}, size of dim {d} is {n})")
    indices = _first(_order(x, d, descending=largest), d, k)
    return _topk_result(_take(x, d, indices), indices)


@op
def kthvalue(x: Tensor, k: int, dim: int = -1, keepdim: bool = False) -> Any:
    """``(values, indices)`` of the ``k``-th smallest element along ``dim`` (k counts from 1)."""
    d = normalize_dim(dim, x.ndim)
    n = x.shape[d] if x.ndim else 1
    if not 1 <= k <= n:
        raise RuntimeError(f"kthvalue(): selected number k out of range for dimension {d} (k={k}, size {n})")
    if x.ndim == 0:
        return _kthvalue_result(clone(x), _order(x, 0))
    indices = _order(x, d)[(slice(None),) * d + (slice(k - 1, k),)]
    values = gather(x, d, indices)
    return _kthvalue_result(values, indices) if keepdim else _kthvalue_result(squeeze(values, d), squeeze(indices, d))


class MedianAll(Function):
    """The lower median of all elements. As PyTorch, the gradient is shared equally by the
    elements equal to it (by the NaNs when it is NaN), and an empty input gives NaN."""

    def forward(self, a: NDArray) -> NDArray:
        flat = a.reshape(-1)
        if flat.size == 0:
            return nd_full((), math.nan, dtype=a.dtype, device=a.device)
        pick = _median_position(flat.reshape((1, -1)), 1)
        self.value = flat[flat.argsort(0)[pick.reshape(-1)]].reshape(())
        return self.value.copy()

    def backward(self, g: Tensor) -> Tensor:
        x, v = self.inputs[0]._data, self.value
        chosen = (x != x) if v.item() != v.item() else (x == v)
        share = chosen.astype(x.dtype)
        return g * _constant(share / share.sum())


def _median_position(a: NDArray, dim: int) -> NDArray:
    """Per row of ``a`` along ``dim`` (kept as length 1): the sorted position of the lower
    median, or of the first NaN when the row has one (the median is then NaN, as in PyTorch)."""
    n = a.shape[dim]
    nans = (a != a).sum(dim, keepdims=True)
    return nd_where(nans > 0, n - nans, (n - 1) // 2)


def _median_index(a: NDArray, dim: int) -> NDArray:
    """The index of the lower median of ``a`` along ``dim`` (kept as length 1; the first NaN's
    index when the row has one)."""
    return a.argsort(dim)[along_dim_key(_median_position(a, dim), dim)]


@op
def median(x: Tensor, dim: Any = None, keepdim: bool = False) -> Any:
    """``median(x)``: the lower median of all elements (NaN if there is a NaN). ``median(x, dim)``:
    ``(values, indices)`` of the lower median along ``dim``; the gradient goes to the index."""
    if dim is None:
        return MedianAll.apply(x)
    d = normalize_dim(dim, x.ndim)
    if x.ndim == 0:
        return _median_result(clone(x), _order(x, 0))
    if x.shape[d] == 0:
        raise IndexError(f"median(): Expected reduction dim {d} to have non-zero size.")
    indices = indices_along(x, _median_index, d)
    values = gather(x, d, indices)
    return _median_result(values, indices) if keepdim else _median_result(squeeze(values, d), squeeze(indices, d))


__all__ = exports(__name__)
