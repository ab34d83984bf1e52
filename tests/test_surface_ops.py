"""PyTorch's surface functions with no gradient table row of their own: searching, counting,
index builders and the argument handling of the joining ops (their gradients are rows of
tests/test_tensor_ops.py). Each is checked against a numpy reference and, where ``torch`` is
installed, against PyTorch itself, errors (type and message) included."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

import tinytorch as tt

try:
    import torch
except ImportError:  # the PyTorch comparisons are skipped without it
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="torch is not installed")
NAN = math.nan


def same(ours: Any, theirs: Any) -> None:
    """Equal values, shapes and dtypes (tinytorch vs torch or numpy), element by element of tuples."""
    if isinstance(ours, tuple):
        assert isinstance(theirs, tuple) and len(ours) == len(theirs)
        for a, b in zip(ours, theirs):
            same(a, b)
        return
    expected = theirs.numpy() if torch is not None and isinstance(theirs, torch.Tensor) else np.asarray(theirs)
    assert ours.shape == expected.shape
    assert ours.numpy().dtype == expected.dtype, (ours.dtype, expected.dtype)
    np.testing.assert_allclose(ours.numpy(), expected, rtol=1e-6, atol=1e-12)


def raises_like_torch(ours: Any, theirs: Any) -> None:
    """Both calls fail with the same exception type and message."""
    with pytest.raises(Exception) as expected:
        theirs()
    with pytest.raises(type(expected.value)) as got:
        ours()
    assert str(got.value).split("\n")[0] == str(expected.value).split("\n")[0]


# --- searching and counting ------------------------------------------------------------------------------
SEQ = np.array([1.0, 3.0, 5.0, 7.0, 9.0])
VALS = np.array([[0.0, 3.0, 6.0], [9.0, 10.0, 5.0]])


@pytest.mark.parametrize("side", ["left", "right"])
def test_searchsorted_and_bucketize(device: str, side: str) -> None:
    seq, vals = tt.tensor(SEQ, device=device), tt.tensor(VALS, device=device)
    expected = np.searchsorted(SEQ, VALS, side=side)
    got = tt.searchsorted(seq, vals, side=side)
    assert got.device == device and got.dtype is tt.int64 and got.tolist() == expected.tolist()
    assert tt.searchsorted(seq, vals, right=side == "right").tolist() == expected.tolist()
    assert tt.bucketize(vals, seq, right=side == "right").tolist() == expected.tolist()
    scalar = tt.searchsorted(seq, 5.0, side=side)
    assert scalar.shape == () and scalar.item() == np.searchsorted(SEQ, 5.0, side=side)
    rows = np.stack([SEQ, SEQ + 1])
    got_rows = tt.searchsorted(tt.tensor(rows, device=device), vals, side=side)
    assert got_rows.tolist() == [np.searchsorted(r, v, side=side).tolist() for r, v in zip(rows, VALS)]
    unsorted = np.array([5.0, 1.0, 9.0, 3.0, 7.0])
    order = tt.argsort(tt.tensor(unsorted, device=device))
    assert tt.searchsorted(tt.tensor(unsorted, device=device), vals, side=side, sorter=order).tolist() == \
        expected.tolist()


@needs_torch
def test_searchsorted_and_bucketize_match_torch() -> None:
    seq, vals = tt.tensor(SEQ), tt.tensor(VALS)
    tseq, tvals = torch.tensor(SEQ), torch.tensor(VALS)
    same(tt.searchsorted(seq, vals, right=True), torch.searchsorted(tseq, tvals, right=True))
    same(tt.bucketize(vals, seq), torch.bucketize(tvals, tseq))
    same(tt.bucketize(4.0, seq), torch.bucketize(4.0, tseq))
    raises_like_torch(lambda: tt.searchsorted(tt.ones(2, 3), tt.ones(3, 4)),
                      lambda: torch.searchsorted(torch.ones(2, 3), torch.ones(3, 4)))
    raises_like_torch(lambda: tt.searchsorted(seq, vals, right=True, side="left"),
                      lambda: torch.searchsorted(tseq, tvals, right=True, side="left"))
    raises_like_torch(lambda: tt.searchsorted(seq, vals, side="middle"),
                      lambda: torch.searchsorted(tseq, tvals, side="middle"))
    raises_like_torch(lambda: tt.bucketize(vals, tt.ones(2, 2)), lambda: torch.bucketize(tvals, torch.ones(2, 2)))


def test_isin(device: str) -> None:
    a = np.array([[1, 2, 3], [4, 5, 6]])
    got = tt.isin(tt.tensor(a, device=device), tt.tensor([2, 6, 9], device=device))
    assert got.dtype is tt.bool and got.tolist() == np.isin(a, [2, 6, 9]).tolist()
    assert tt.isin(tt.tensor(a, device=device), 5, invert=True).tolist() == (a != 5).tolist()
    assert tt.isin(3, tt.tensor(a, device=device)).item() is True
    with pytest.raises(TypeError):
        tt.isin(1, 2)
    if torch is not None:
        same(tt.isin(tt.tensor(a), tt.tensor([2, 6])), torch.isin(torch.tensor(a), torch.tensor([2, 6])))


UC = np.array([1, 1, 2, 2, 3, 1, 1, 2])


@pytest.mark.parametrize("inverse,counts", [(False, False), (True, False), (False, True), (True, True)])
def test_unique_consecutive(device: str, inverse: bool, counts: bool) -> None:
    got = tt.unique_consecutive(tt.tensor(UC.reshape(2, 4), device=device), return_inverse=inverse,
                                return_counts=counts)
    parts = got if isinstance(got, tuple) else (got,)
    assert len(parts) == 1 + inverse + counts
    assert parts[0].tolist() == [1, 2, 3, 1, 2]
    if inverse:
        assert parts[1].shape == (2, 4) and parts[1].reshape(-1).tolist() == [0, 0, 1, 1, 2, 3, 3, 4]
    if counts:
        assert parts[-1].tolist() == [2, 2, 1, 2, 1]
    if torch is not None:
        theirs = torch.unique_consecutive(torch.tensor(UC.reshape(2, 4)), return_inverse=inverse,
                                          return_counts=counts)
        same(got, theirs)


def test_unique_consecutive_along_a_dim() -> None:
    rows = np.array([[1, 2], [1, 2], [3, 4], [1, 2]])
    values, inverse, counts = tt.unique_consecutive(tt.tensor(rows), True, True, dim=0)
    assert values.tolist() == [[1, 2], [3, 4], [1, 2]] and inverse.tolist() == [0, 0, 1, 2]
    assert counts.tolist() == [2, 1, 1]
    assert tt.unique_consecutive(tt.tensor(rows), dim=1).tolist() == rows.tolist()
    assert tt.unique_consecutive(tt.tensor([], dtype=tt.float32)).shape == (0,)
    with pytest.raises(IndexError, match="Dimension out of range"):
        tt.unique_consecutive(tt.tensor(rows), dim=2)
    if torch is not None:
        same(tt.unique_consecutive(tt.tensor(rows), True, True, dim=0),
             torch.unique_consecutive(torch.tensor(rows), True, True, dim=0))


@pytest.mark.parametrize("kwargs", [dict(bins=5), dict(bins=4, range=(0.0, 1.0)), dict(bins=3, density=True),
                                    dict(bins=6, weighted=True), dict(bins=[-1.0, 0.0, 0.0, 0.5, 2.0])])
def test_histogram(device: str, kwargs: dict) -> None:
    x = np.random.default_rng(0).standard_normal(50)
    w = np.random.default_rng(1).uniform(size=50)
    bins = kwargs["bins"]
    ours_bins = tt.tensor(bins, dtype=tt.float64, device=device) if isinstance(bins, list) else bins
    weighted = kwargs.get("weighted", False)
    got = tt.histogram(tt.tensor(x, device=device), ours_bins, range=kwargs.get("range"),
                       weight=tt.tensor(w, device=device) if weighted else None, density=kwargs.get("density", False))
    hist, edges = np.histogram(x, np.asarray(bins) if isinstance(bins, list) else bins, range=kwargs.get("range"),
                               weights=w if weighted else None, density=kwargs.get("density", False))
    assert got.hist.dtype is tt.float64 and got.bin_edges.dtype is tt.float64
    np.testing.assert_allclose(got.hist.numpy(), hist, rtol=1e-12)
    np.testing.assert_allclose(got.bin_edges.numpy(), edges, rtol=1e-12)
    if torch is not None:
        extra = {"range": kwargs["range"]} if "range" in kwargs else {}
        theirs = torch.histogram(torch.tensor(x), torch.tensor(bins, dtype=torch.float64) if isinstance(bins, list)
                                 else bins, weight=torch.tensor(w) if weighted else None,
                                 density=kwargs.get("density", False), **extra)
        same(tuple(got), tuple(theirs))


@needs_torch
def test_histogram_edges_and_errors_match_torch() -> None:
    same(tuple(tt.histogram(tt.tensor([1.0, 1.0, 1.0]), 3)), tuple(torch.histogram(torch.tensor([1.0, 1, 1]), 3)))
    same(tuple(tt.tensor([0.5, 2.5, 1.0]).histogram(4, range=(0.0, 3.0))),
         tuple(torch.tensor([0.5, 2.5, 1.0]).histogram(4, range=(0.0, 3.0))))
    raises_like_torch(lambda: tt.histogram(tt.ones(3), 2, range=(2.0, 1.0)),
                      lambda: torch.histogram(torch.ones(3), 2, range=(2.0, 1.0)))
    raises_like_torch(lambda: tt.histogram(tt.tensor([NAN]), 2), lambda: torch.histogram(torch.tensor([NAN]), 2))
    raises_like_torch(lambda: tt.histogram(tt.arange(3), 2), lambda: torch.histogram(torch.arange(3), 2))


def test_tril_and_triu_indices(device: str) -> None:
    for row, col, offset in [(3, 4, 1), (3, 2, -1), (4, 4, 0), (0, 3, 0), (2, 5, -3)]:
        lower = tt.tril_indices(row, col, offset, device=device)
        upper = tt.triu_indices(row, col, offset, device=device)
        assert lower.dtype is tt.int64 and lower.device == device
        assert lower.tolist() == np.stack(np.tril_indices(row, offset, col)).reshape(2, -1).tolist()
        assert upper.tolist() == np.stack(np.triu_indices(row, offset, col)).reshape(2, -1).tolist()
        if torch is not None:
            same(lower, torch.tril_indices(row, col, offset))
            same(upper, torch.triu_indices(row, col, offset))


# --- order statistics with indices -------------------------------------------------------------------------
@needs_torch
def test_mode_matches_torch(device: str) -> None:
    """The smallest of the most frequent values, at the last index where it occurs."""
    rng = np.random.default_rng(0)
    for a in [np.array([3.0, 1, 3, 1, 2]), np.array([[1.0, 1, 2, 2], [5, 4, 4, 5]]), rng.integers(0, 4, (3, 7, 2))]:
        for dim in range(-1, a.ndim - 1):
            for keepdim in (False, True):
                got = tt.tensor(a, device=device).mode(dim, keepdim)
                same(tuple(got), tuple(torch.tensor(a).mode(dim, keepdim)))
    got = tt.mode(tt.tensor(2.5))
    assert got.values.item() == 2.5 and got.indices.item() == 0
    raises_like_torch(lambda: tt.mode(tt.ones(2, 0), 1), lambda: torch.mode(torch.ones(2, 0), 1))
    raises_like_torch(lambda: tt.mode(tt.ones(3), 1), lambda: torch.mode(torch.ones(3), 1))


def test_nanmedian(device: str) -> None:
    x = tt.tensor([[NAN, 1.0, 2.0, 3.0], [4.0, NAN, NAN, 0.0], [NAN] * 4], device=device)
    values, indices = x.nanmedian(1)
    assert values.tolist()[:2] == [2.0, 0.0] and math.isnan(values.tolist()[2])
    assert indices.tolist() == [2, 3, 0]  # all NaN: the first NaN (PyTorch leaves it unspecified)
    assert tt.nanmedian(x).item() == 2.0 and math.isnan(tt.nanmedian(tt.tensor([NAN, NAN])).item())
    assert tt.nanmedian(x, 0, keepdim=True).values.shape == (1, 4)
    if torch is not None:
        t = torch.tensor(x.numpy())
        same(tt.nanmedian(x), torch.nanmedian(t))
        same(tuple(tt.nanmedian(x[:2], 1)), tuple(torch.nanmedian(t[:2], 1)))
    with pytest.raises(IndexError, match="non-zero size"):
        tt.nanmedian(tt.ones(2, 0), 1)


def test_nanmedian_gradient_is_shared_by_ties() -> None:
    x = tt.tensor([NAN, 2.0, 1.0, 2.0, 3.0], requires_grad=True)
    tt.nanmedian(x).backward()
    assert x.grad.tolist() == [0.0, 0.5, 0.0, 0.5, 0.0]


# --- argument handling of the joining and building ops ---------------------------------------------------
def test_atleast_returns_a_tensor_for_one_and_a_tuple_otherwise() -> None:
    x = tt.ones(3)
    assert tt.atleast_1d(x) is x and tt.atleast_1d(tt.tensor(1.0)).shape == (1,)
    assert isinstance(tt.atleast_2d(x, x), tuple) and isinstance(tt.atleast_3d([x]), tuple)
    assert [t.shape for t in tt.atleast_3d(tt.tensor(1.0), x, tt.ones(2, 3))] == [(1, 1, 1), (1, 3, 1), (2, 3, 1)]
    assert tt.atleast_2d(x).shape == (1, 3)
    with pytest.raises(TypeError, match="tuple or list of Tensors"):
        tt.hstack(x)


@needs_torch
def test_building_ops_match_torch() -> None:
    a, b = np.arange(6.0).reshape(2, 3), np.array([1, 2])
    same(tt.block_diag(tt.tensor(b), tt.tensor(a), tt.tensor(7)), torch.block_diag(torch.tensor(b), torch.tensor(a),
                                                                                    torch.tensor(7)))
    same(tt.block_diag(), torch.block_diag())
    same(tt.cartesian_prod(tt.tensor(b), tt.tensor([3, 4, 5])), torch.cartesian_prod(torch.tensor(b),
                                                                                     torch.tensor([3, 4, 5])))
    same(tt.combinations(tt.tensor([1, 2, 3]), 0), torch.combinations(torch.tensor([1, 2, 3]), 0))
    same(tt.combinations(tt.tensor([1, 2]), 3), torch.combinations(torch.tensor([1, 2]), 3))
    same(tt.vander(tt.tensor([1, 2, 3])), torch.vander(torch.tensor([1, 2, 3])))
    same(tt.vander(tt.tensor([1.5, 2.0]), N=0), torch.vander(torch.tensor([1.5, 2.0]), N=0))
    same(tt.vander(tt.tensor([0.0, 2.0, -1.0]), N=4), torch.vander(torch.tensor([0.0, 2.0, -1.0]), N=4))
    same(tt.trapezoid(tt.tensor([1, 2, 3])), torch.trapezoid(torch.tensor([1, 2, 3])))
    same(tt.trapz(tt.ones(3, 0)), torch.trapz(torch.ones(3, 0)))
    same(tt.cumulative_trapezoid(tt.ones(3, 1)), torch.cumulative_trapezoid(torch.ones(3, 1)))
    same(tt.diag_embed(tt.tensor(a), 1, 0, 2), torch.diag_embed(torch.tensor(a), 1, 0, 2))
    same(tt.tensor(a).diagflat(2), torch.tensor(a).diagflat(2))
    same(tt.hstack([tt.tensor(1.0), tt.tensor(2.0)]), torch.hstack([torch.tensor(1.0), torch.tensor(2.0)]))
    same(tt.column_stack([tt.tensor(b), tt.tensor(b)]), torch.column_stack([torch.tensor(b), torch.tensor(b)]))
    same(tt.dstack([tt.tensor(b), tt.tensor(b)]), torch.dstack([torch.tensor(b), torch.tensor(b)]))
    same(tt.tensordot(tt.tensor(a), tt.tensor(a), dims=tt.tensor([[0, 1], [0, 1]])),
         torch.tensordot(torch.tensor(a), torch.tensor(a), dims=torch.tensor([[0, 1], [0, 1]])))
    same(tt.ones(2, 3, 4).sum_to_size(3, 1), torch.ones(2, 3, 4).sum_to_size(3, 1))
    same(tt.logaddexp2(tt.tensor([1.0, 100.0]), tt.tensor([1.0, -3.0])),
         torch.logaddexp2(torch.tensor([1.0, 100.0]), torch.tensor([1.0, -3.0])))


@needs_torch
def test_index_put_matches_torch() -> None:
    x = np.arange(12.0).reshape(4, 3)
    mask = x > 6
    for indices, values, accumulate in [((np.array([0, -1]),), np.array([7.0, 8.0, 9.0]), False),
                                        ((np.array([1, 1, 2]), np.array([0, 0, 2])), np.array(5.0), True),
                                        ((mask,), np.array([1.0]), False)]:
        ours = tt.tensor(x).index_put(tuple(None if i is None else tt.tensor(i) for i in indices), tt.tensor(values),
                                      accumulate)
        theirs = torch.tensor(x).index_put(tuple(None if i is None else torch.tensor(i) for i in indices),
                                           torch.tensor(values), accumulate)
        same(ours, theirs)
    whole_rows = tt.tensor(x).index_put((None, tt.tensor([2])), tt.ones(4, 1, dtype=tt.float64),
                                                accumulate=True)  # None: all of dim 0
    assert whole_rows.numpy().tolist() == (x + np.array([0.0, 0.0, 1.0])).tolist()
    y, ty = tt.ones(3), torch.ones(3)
    bad = [((tt.tensor([5]),), tt.tensor(1.0)), ((tt.tensor([1]),), tt.ones(2)), ((tt.tensor([1.0]),), tt.ones(1)),
           ((tt.tensor([1]), tt.tensor([1])), tt.ones(1)), ((tt.tensor([1]),), tt.ones(1, dtype=tt.float64))]
    for indices, values in bad:
        tindices, tvalues = tuple(torch.tensor(i.numpy()) for i in indices), torch.tensor(values.numpy())
        raises_like_torch(lambda: y.index_put(indices, values),  # noqa: B023  (called at once, in this iteration)
                          lambda: ty.index_put(tindices, tvalues))  # noqa: B023


@needs_torch
def test_cdist_values_and_gradients_match_torch() -> None:
    """Against torch.cdist itself (the op table compares the gradients of the second order with
    a composition, as torch.cdist has none)."""
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((2, 4, 3)), rng.standard_normal((2, 30, 3))  # 30 rows: torch's matmul mode
    b[0, 0] = a[0, 0]  # a zero distance: gradient 0, as torch
    for p in [0.0, 1.0, 2.0, 3.0, math.inf]:
        x1, x2 = tt.tensor(a, requires_grad=True), tt.tensor(b, requires_grad=True)
        t1, t2 = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
        out, tout = tt.cdist(x1, x2, p), torch.cdist(t1, t2, p)
        np.testing.assert_allclose(out.detach().numpy(), tout.detach().numpy(), rtol=1e-7, atol=1e-7)
        w = rng.standard_normal(tuple(out.shape))
        (out * tt.tensor(w)).sum().backward()
        (tout * torch.tensor(w)).sum().backward()
        np.testing.assert_allclose(x1.grad.numpy(), t1.grad.numpy(), rtol=1e-6, atol=1e-7, err_msg=str(p))
        np.testing.assert_allclose(x2.grad.numpy(), t2.grad.numpy(), rtol=1e-6, atol=1e-7, err_msg=str(p))


@needs_torch
def test_vander_gradient_matches_torch_composition_at_zero() -> None:
    x = tt.tensor([0.0, 2.0, -1.0], dtype=tt.float64, requires_grad=True)
    tt.vander(x, 4).sum().backward()
    assert x.grad.tolist() == [1.0, 1 + 2 * 2 + 3 * 4, 1 - 2 + 3]


@needs_torch
@pytest.mark.parametrize("call", [
    lambda L: L.tensordot(L.ones(2, 3), L.ones(4, 5), -1),
    lambda L: L.tensordot(L.ones(2, 3), L.ones(4, 5), 1),
    lambda L: L.tensordot(L.ones(2, 3), L.ones(3, 5), ([1], [0, 1])),
    lambda L: L.block_diag(L.ones(2, 2, 2)),
    lambda L: L.cartesian_prod(L.ones(2, 2)),
    lambda L: L.combinations(L.ones(2, 2)),
    lambda L: L.broadcast_tensors(L.ones(3), L.ones(4)),
    lambda L: L.vander(L.ones(2, 2)),
    lambda L: L.vander(L.ones(2), N=-1),
    lambda L: L.trapezoid(L.ones(3, 4), L.arange(3.0)),
    lambda L: L.trapezoid(L.ones(2, 3), dim=2),
    lambda L: L.renorm(L.ones(3), 2, 0, 1.0),
    lambda L: L.renorm(L.ones(3, 2), -1, 0, 1.0),
    lambda L: L.renorm(L.ones(3, 2), 2, 0, -1.0),
    lambda L: L.cdist(L.ones(3), L.ones(3)),
    lambda L: L.cdist(L.ones(2, 3), L.ones(2, 4)),
    lambda L: L.cdist(L.ones(2, 3), L.ones(2, 3), -1),
    lambda L: L.cdist(L.ones(2, 3, dtype=L.int64), L.ones(2, 3, dtype=L.int64)),
    lambda L: L.diag_embed(L.ones(2, 3), 0, 1, 1),
    lambda L: L.ones(2, 3).sum_to_size(2, 1, 1),
    lambda L: L.chain_matmul(L.ones(2, 3), L.ones(3)),
], ids=lambda c: str(c.__code__.co_firstlineno))
def test_errors_match_torch(call: Any) -> None:
    raises_like_torch(lambda: call(tt), lambda: call(torch))
