"""The named compositions with no gradient or with options the op table's rows do not cover,
against PyTorch: unique, bincount, histc, heaviside, the predicates, equal, quantile's modes and
NaNs, matrix_power, splits, and the errors."""

from __future__ import annotations

import math

import numpy as np
import pytest

import tinytorch as tt

torch = pytest.importorskip("torch")


def both(fn):
    """``fn(lib)`` on tinytorch and on torch, as lists of numpy arrays (or Python values)."""
    def as_list(out):
        out = list(out) if isinstance(out, (tuple, list)) else [out]
        return [o.numpy() if hasattr(o, "numpy") else o for o in out]
    return as_list(fn(tt)), as_list(fn(torch))


def same(fn):
    ours, theirs = both(fn)
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        if isinstance(b, np.ndarray):
            assert a.dtype == b.dtype and a.shape == b.shape, (a, b)
            np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-9, equal_nan=True)
        else:
            assert a == b


X = [[3.0, 1.0, 3.0, -2.0], [1.0, 1.0, 0.0, 7.0]]


@pytest.mark.parametrize("kwargs", [{}, {"return_inverse": True}, {"return_counts": True},
                                    {"return_inverse": True, "return_counts": True}, {"dim": 0}, {"dim": 1}])
def test_unique(kwargs):
    same(lambda L: L.unique(L.tensor(X), **kwargs))
    same(lambda L: L.tensor([[1, 2], [1, 2], [0, 5]]).unique(dim=0, return_inverse=True))


def test_bincount_and_histc():
    same(lambda L: L.bincount(L.tensor([0, 3, 3, 1, 3])))
    same(lambda L: L.tensor([2, 0, 2]).bincount(minlength=5))
    same(lambda L: L.bincount(L.tensor([1, 1, 4]), weights=L.tensor([0.5, 0.25, 2.0], dtype=L.float64)))
    same(lambda L: L.bincount(L.tensor([], dtype=L.int64)))
    same(lambda L: L.histc(L.tensor([1.0, 2.0, 1.0, 4.0, 9.0]), bins=4, min=0, max=4))
    same(lambda L: L.tensor([0.5, -3.0, 2.5, 2.5, 7.0]).histc(bins=5))
    for bad in (lambda L: L.bincount(L.tensor([-1, 2])), lambda L: L.bincount(L.tensor([1.0])),
                lambda L: L.histc(L.tensor([1, 2])), lambda L: L.histc(L.tensor([1.0]), bins=0)):
        with pytest.raises(RuntimeError):
            bad(tt)
        with pytest.raises(RuntimeError):
            bad(torch)


def test_predicates_and_heaviside():
    vals = [0.0, -0.0, 1.5, -2.0, math.inf, -math.inf, math.nan]
    for name in ("signbit", "isposinf", "isneginf", "isreal"):
        same(lambda L, name=name: getattr(L, name)(L.tensor(vals)))
        same(lambda L, name=name: getattr(L, name)(L.tensor([3, -1, 0])))
    same(lambda L: L.heaviside(L.tensor([-1.0, 0.0, 2.0]), L.tensor([0.5, 0.5, 0.5])))
    same(lambda L: L.tensor([-1.0, 0.0, 2.0]).heaviside(L.tensor(7.0)))


def test_equal_and_tensor_predicates():
    assert tt.equal(tt.tensor([1, 2]), tt.tensor([1, 2])) is True
    assert tt.equal(tt.tensor([1, 2]), tt.tensor([[1, 2]])) is False
    assert tt.tensor([1.0, 2.0]).equal(tt.tensor([1.0, 3.0])) is False
    with pytest.raises(RuntimeError, match="more than one value"):
        tt.ones(2).is_nonzero()


@pytest.mark.parametrize("interpolation", ["linear", "lower", "higher", "nearest", "midpoint"])
def test_quantile_modes_and_nans(interpolation):
    data = [[0.3, 5.0, -1.0, 2.5, 9.0], [1.0, math.nan, 4.0, 2.0, -3.0]]
    for q in (0.0, 0.37, 0.5, 1.0):
        same(lambda L, q=q: L.quantile(L.tensor(data, dtype=L.float64), q, dim=1, keepdim=True,
                                       interpolation=interpolation))
        same(lambda L, q=q: L.nanquantile(L.tensor(data, dtype=L.float64), q, dim=1, interpolation=interpolation))
    same(lambda L: L.quantile(L.tensor(data[0]), L.tensor([0.25, 0.75]), interpolation=interpolation))
    same(lambda L: L.quantile(L.tensor(data[0]), 0.25, keepdim=True))
    same(lambda L: L.nanquantile(L.tensor([math.nan, math.nan]), 0.5))
    for bad in (lambda L: L.quantile(L.tensor([1.0]), 1.5), lambda L: L.quantile(L.tensor([1, 2]), 0.5),
                lambda L: L.quantile(L.tensor([1.0]), 0.5, interpolation="cubic")):
        with pytest.raises(RuntimeError):
            bad(tt)
        with pytest.raises(RuntimeError):
            bad(torch)


def test_cov_corrcoef_aminmax_and_friends():
    same(lambda L: L.cov(L.tensor([1.0, 3.0, 2.0, 7.0])))
    same(lambda L: L.cov(L.tensor([[1, 3, 2], [4, 0, 1]])))
    same(lambda L: L.corrcoef(L.tensor([[1.0, 3.0, 2.0], [4.0, 0.0, 1.0], [2.0, 2.0, 5.0]])))
    same(lambda L: tuple(L.aminmax(L.tensor(X))))
    same(lambda L: L.aminmax(L.tensor(X), dim=1, keepdim=True).max)
    same(lambda L: L.tensor([[1.0, 2.0], [3.0, 4.0]]).matrix_power(0))
    same(lambda L: L.trace(L.arange(9.0).reshape(3, 3)))
    same(lambda L: L.kron(L.tensor([1, 2]), L.tensor([[1, 0], [0, 3]])))
    same(lambda L: L.inner(L.tensor(2.0), L.tensor([1.0, 3.0])))
    same(lambda L: L.logdet(L.tensor([[0.0, 1.0], [1.0, 0.0]])))  # det -1: NaN
    same(lambda L: L.logdet(L.tensor([[1.0, 2.0], [2.0, 4.0]])))  # singular: -inf
    same(lambda L: L.deg2rad(L.tensor([180, 90])))
    same(lambda L: L.xlogy(L.tensor([0.0, 0.0, 2.0]), L.tensor([0.0, math.nan, 3.0])))
    same(lambda L: L.xlogy(2, L.tensor([3.0, 4.0])))
    same(lambda L: L.sinc(L.tensor([0.0, 0.5, -1.0])))
    same(lambda L: L.fmax(L.tensor([1.0, math.nan, math.nan]), L.tensor([math.nan, 2.0, math.nan])))
    same(lambda L: L.diff(L.tensor([[1, 4, 9, 16]]), n=3))
    same(lambda L: L.float_power(L.tensor([2, 3]), 2))
    same(lambda L: L.nanmean(L.tensor([math.nan, math.nan])))


def test_splits_and_their_errors():
    same(lambda L: L.hsplit(L.arange(6), 3))
    same(lambda L: L.arange(12).reshape(2, 3, 2).dsplit([1]))
    same(lambda L: L.arange(10).split_with_sizes([3, 7]))
    for bad in (lambda L: L.hsplit(L.arange(6), 4), lambda L: L.vsplit(L.arange(6), 2),
                lambda L: L.arange(10).split_with_sizes([3, 3]), lambda L: L.trace(L.ones(3)),
                lambda L: L.diff(L.tensor(1.0)), lambda L: L.inner(L.ones(2), L.ones(3)),
                lambda L: L.cross(L.ones(2, 4), L.ones(2, 4))):
        with pytest.raises(RuntimeError):
            bad(tt)
        with pytest.raises(RuntimeError):
            bad(torch)


def test_aliases_are_pytorchs():
    x = tt.tensor([[1.0, -2.0], [3.0, 0.5]])
    assert tt.greater(x, 0).tolist() == (x > 0).tolist() and tt.less_equal(x, 1).tolist() == (x <= 1).tolist()
    assert tt.not_equal(x, 1).tolist() == (x != 1).tolist() and x.greater_equal(1).tolist() == (x >= 1).tolist()
    assert x.absolute().tolist() == x.abs().tolist() and tt.true_divide(x, 2).tolist() == (x / 2).tolist()
    assert x.ravel().tolist() == [1.0, -2.0, 3.0, 0.5] and x.nelement() == 4 and x.ndimension() == 2
    assert x.new_empty((3,)).shape == (3,) and x.is_same_size(tt.zeros(2, 2))
    assert tt.linalg.cross(tt.eye(3), tt.eye(3)[[1, 2, 0]]).tolist() == tt.eye(3)[[2, 0, 1]].tolist()
