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

import numpy as np

from ..ndarray import NDArray, array
from ..ndarray import full as nd_full
from ..ndarray import where as nd_where
from ..tensor import Function, Tensor
from .creation import tensor
from .dims import normalize_dim
from .movement import along_dim_key, clone, gather, squeeze
from .scan import indices_along
from .table import exports, op

_sort_result = collections.namedtuple("sort", ["values", "indices"])  # type: ignore[name-match]  # PyTorch's names
_topk_result = collections.namedtuple("topk", ["values", "indices"])  # type: ignore[name-match]
_kthvalue_result = collections.namedtuple("kthvalue", ["values", "indices"])  # type: ignore[name-match]
_median_result = collections.namedtuple("median", ["values", "indices"])  # type: ignore[name-match]
_nanmedian_result = collections.namedtuple("nanmedian", ["values", "indices"])  # type: ignore[name-match]
_mode_result = collections.namedtuple("mode", ["values", "indices"])  # type: ignore[name-match]


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
    """The lower median of all elements (with ``ignore_nan``, of those that are not NaN). As
    PyTorch, the gradient is shared equally by the elements equal to it (by the NaNs when it
    is NaN), and an empty input gives NaN."""

    def forward(self, a: NDArray, ignore_nan: bool = False) -> NDArray:
        flat = a.reshape(-1)
        if flat.size == 0:
            return nd_full((), math.nan, dtype=a.dtype, device=a.device)
        pick = _median_position(flat.reshape((1, -1)), 1, ignore_nan)
        self.value = flat[flat.argsort(0)[pick.reshape(-1)]].reshape(())
        return self.value.copy()

    def backward(self, g: Tensor) -> Tensor:
        x, v = self.inputs[0]._data, self.value
        chosen = (x != x) if v.item() != v.item() else (x == v)
        share = chosen.astype(x.dtype)
        return g * _constant(share / share.sum())


def _pick_along(x: Tensor, dim: int, keepdim: bool, index_of: Any, result: Any, name: str) -> Any:
    """``result(values, indices)`` of the element ``index_of(array, dim)`` picks in each row along
    ``dim`` (median, nanmedian, mode); the values are gathered there, so the gradient goes to
    that index. A 0-d ``x`` is its own pick; an empty ``dim`` is PyTorch's ``IndexError``."""
    d = normalize_dim(dim, x.ndim)
    if x.ndim == 0:
        return result(clone(x), _order(x, 0))
    if x.shape[d] == 0:
        raise IndexError(f"{name}(): Expected reduction dim {d} to have non-zero size.")
    indices = indices_along(x, index_of, d)
    values = gather(x, d, indices)
    return result(values, indices) if keepdim else result(squeeze(values, d), squeeze(indices, d))


def _median_position(a: NDArray, dim: int, ignore_nan: bool = False) -> NDArray:
    """Per row of ``a`` along ``dim`` (kept as length 1): the sorted position of the lower
    median, or of the first NaN when the row has one (the median is then NaN, as in PyTorch).
    With ``ignore_nan`` the lower median of the row's other values (NaNs sort last), and the
    first NaN only when the row is all NaN."""
    n = a.shape[dim]
    nans = (a != a).sum(dim, keepdims=True)
    if ignore_nan:
        valid = n - nans.numpy().astype(np.int64)  # small (one per row): halved on the host
        return array(np.where(valid > 0, (valid - 1) // 2, 0), device=a.device)
    return nd_where(nans > 0, n - nans, (n - 1) // 2)


def _median_index(a: NDArray, dim: int, ignore_nan: bool = False) -> NDArray:
    """The index of the lower median of ``a`` along ``dim`` (kept as length 1; the first NaN's
    index when the row has one, or with ``ignore_nan`` when the row is all NaN)."""
    return a.argsort(dim)[along_dim_key(_median_position(a, dim, ignore_nan), dim)]


@op
def median(x: Tensor, dim: Any = None, keepdim: bool = False) -> Any:
    """``median(x)``: the lower median of all elements (NaN if there is a NaN). ``median(x, dim)``:
    ``(values, indices)`` of the lower median along ``dim``; the gradient goes to the index."""
    if dim is None:
        return MedianAll.apply(x)
    return _pick_along(x, dim, keepdim, _median_index, _median_result, "median")


@op
def nanmedian(x: Tensor, dim: Any = None, keepdim: bool = False) -> Any:
    """:func:`median` of the elements that are not NaN (NaN only where all are NaN; the index is
    then that of the row's first NaN, where PyTorch's is unspecified)."""
    if dim is None:
        return MedianAll.apply(x, ignore_nan=True)
    return _pick_along(x, dim, keepdim, _nan_median_index, _nanmedian_result, "median")


def _nan_median_index(a: NDArray, dim: int) -> NDArray:
    return _median_index(a, dim, ignore_nan=True)


def _mode_index(a: NDArray, dim: int) -> NDArray:
    """Per row of ``a`` along ``dim`` (kept as length 1): the last index of the row's most
    frequent value, the smallest of them on a tie in frequency (PyTorch's choice)."""
    host = np.moveaxis(a.numpy(), dim, -1)
    rows = host.reshape(-1, host.shape[-1])
    out = np.empty(rows.shape[0], dtype=np.int64)
    for r, row in enumerate(rows):
        _, inverse, counts = np.unique(row, return_inverse=True, return_counts=True)
        out[r] = np.flatnonzero(inverse.reshape(-1) == np.argmax(counts))[-1]
    return array(np.moveaxis(out.reshape(host.shape[:-1] + (1,)), -1, dim), device=a.device)


@op
def mode(x: Tensor, dim: int = -1, keepdim: bool = False) -> Any:
    """``(values, indices)``: the most frequent value along ``dim`` (the smallest of them on a
    tie) and the last index where it occurs; the gradient goes to that index. Counted on the
    host."""
    return _pick_along(x, dim, keepdim, _mode_index, _mode_result, "mode")


def _side(right: bool, side: str | None) -> str:
    if side is None:
        return "right" if right else "left"
    if side not in ("left", "right"):
        raise RuntimeError(f"torch.searchsorted(): side can only be 'left' or 'right' but got {side}")
    if right and side == "left":
        raise RuntimeError("torch.searchsorted(): side and right can't be set to opposites, got side of left while "
                           "right was True")
    return side


@op(method=False, grad=False)
def searchsorted(sorted_sequence: Tensor, values: Any, *, out_int32: bool = False, right: bool = False,
                 side: str | None = None, sorter: Tensor | None = None) -> Tensor:
    """For each of ``values``, the index in ``sorted_sequence`` (sorted along its last dim) where
    it would be inserted to keep the order: before equal elements (``side="left"``, the
    default) or after them (``right=True`` / ``side="right"``). An N-D sequence is searched row
    by row: its leading dims must equal ``values``' leading dims. ``sorter`` holds the indices
    that sort an unsorted sequence. A number gives a 0-d result. The indices are int64 (there
    is no int32 in tinytorch, so ``out_int32`` changes nothing). Searched on the host."""
    how: Any = _side(right, side)  # numpy's stubs want a Literal
    seq = sorted_sequence.numpy()
    scalar = not isinstance(values, Tensor)
    vals = np.asarray(values) if scalar else values.numpy()
    device = sorted_sequence.device if scalar else values.device
    if scalar and seq.ndim != 1:
        raise RuntimeError(f"torch.searchsorted(): input value can be a scalar only when boundaries tensor dimension "
                           f"is 1, but we got boundaries tensor dim({seq.ndim}) and input value's dim(0) numel(1)")
    if seq.ndim > 1 and seq.shape[:-1] != vals.shape[:-1]:
        raise RuntimeError(f"torch.searchsorted(): boundaries tensor should be 1 dimension or the first N-1 "
                           f"dimensions of boundaries tensor and input value tensor must match, but we got "
                           f"boundaries tensor {list(seq.shape)} and input value tensor {list(vals.shape)}")
    order = None
    if sorter is not None:
        if tuple(sorter.shape) != seq.shape or sorter.dtype.is_floating_point:
            raise RuntimeError(f"torch.searchsorted(): boundary and sorter must have the same size and sorter must "
                               f"be int64, but got boundary tensor {list(seq.shape)} and sorter tensor "
                               f"{list(sorter.shape)} of dtype {sorter.dtype.name}")
        order = sorter.numpy().astype(np.int64)
    if seq.ndim <= 1:
        out = np.searchsorted(seq.reshape(-1), vals, side=how, sorter=order)
    else:
        rows, vrows = seq.reshape(-1, seq.shape[-1]), vals.reshape(-1, vals.shape[-1])
        orders = None if order is None else order.reshape(rows.shape)
        out = np.stack([np.searchsorted(r, v, side=how, sorter=None if orders is None else orders[k])
                        for k, (r, v) in enumerate(zip(rows, vrows))]).reshape(vals.shape)
    return tensor(np.asarray(out, dtype=np.int64), device=device)


@op(method=False, grad=False)
def bucketize(input: Any, boundaries: Tensor, *, out_int32: bool = False, right: bool = False) -> Tensor:
    """For each element, the index of its bucket among the sorted 1-D ``boundaries``: ``i`` with
    ``boundaries[i - 1] < x <= boundaries[i]`` (``boundaries[i - 1] <= x < boundaries[i]`` when
    ``right``), so values past the last boundary get ``len(boundaries)``. The same shape as
    ``input`` (0-d for a number), int64 (``out_int32`` changes nothing: tinytorch has no int32)."""
    if boundaries.ndim != 1:
        raise RuntimeError(f"boundaries tensor must be 1 dimension, but got dim({boundaries.ndim})")
    return searchsorted(boundaries, input, right=right)


__all__ = exports(__name__)
