"""Reductions, scans and sorting against PyTorch on the cases the op table's smooth random
inputs do not reach: ties, NaN, empty dims, integer and bool inputs, ``dim=-1`` / ``keepdim``,
zeros in products, norms at zero, huge inputs to ``logcumsumexp``, and bad arguments.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import tinytorch as tt

torch = pytest.importorskip("torch")

NAN = math.nan


def ours(a, device, dtype=None, grad=False):
    return tt.tensor(np.asarray(a), dtype=dtype, device=device, requires_grad=grad)


def theirs(a, dtype=None, grad=False):
    return torch.tensor(np.asarray(a), dtype=dtype, requires_grad=grad)


def same(t, ref, exact=False):
    """``t`` (tinytorch) has ``ref``'s (torch) shape, dtype and values (NaN where NaN)."""
    got, want = t.detach().numpy(), ref.detach().numpy()
    assert got.shape == want.shape, (got.shape, want.shape)
    assert got.dtype == want.dtype, (got.dtype, want.dtype)
    if exact:
        np.testing.assert_array_equal(got, want)
    else:
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7, equal_nan=True)


def same_pair(result, ref):
    """A (values, indices) result equals torch's, field by field and by position."""
    same(result.values, ref.values)
    same(result.indices, ref.indices, exact=True)
    same(result[0], ref[0])
    same(result[1], ref[1], exact=True)


TIES = [[3.0, 1.0, 3.0, 2.0, 1.0, 3.0], [0.0, 0.0, -1.0, 0.0, 5.0, -1.0]]
WITH_NAN = [[1.0, NAN, 3.0, -2.0, NAN, 0.5], [2.0, 2.0, -1.0, NAN, 7.0, -3.0]]
INTS = [[4, -2, 4, 0, 9, -2], [1, 1, 1, 0, 3, 3]]


# --- sort, argsort, msort ---------------------------------------------------------------------------
@pytest.mark.parametrize("data", [TIES, WITH_NAN, INTS], ids=["ties", "nan", "int64"])
@pytest.mark.parametrize("descending", [False, True])
@pytest.mark.parametrize("dim", [-1, 0, 1])
def test_sort_is_torchs_stable_sort(device, data, descending, dim):
    got = tt.sort(ours(data, device), dim=dim, descending=descending, stable=True)
    want = torch.sort(theirs(data), dim=dim, descending=descending, stable=True)
    same_pair(got, want)
    same(ours(data, device).argsort(dim=dim, descending=descending, stable=True),
         torch.argsort(theirs(data), dim=dim, descending=descending, stable=True), exact=True)


def test_sort_edge_shapes(device):
    for shape in [(0,), (0, 3), (3, 0)]:
        x = np.zeros(shape)
        same_pair(tt.sort(ours(x, device)), torch.sort(theirs(x)))
    same_pair(tt.sort(ours(2.5, device)), torch.sort(theirs(2.5)))
    same(tt.msort(ours(TIES, device)), torch.msort(theirs(TIES)))
    with pytest.raises(IndexError):
        tt.sort(ours(TIES, device), dim=2)


def test_sort_of_bools(device):
    x = [True, False, True, False]
    same_pair(tt.sort(ours(x, device), descending=True, stable=True), torch.sort(theirs(x), descending=True,
                                                                                   stable=True))


# --- topk, kthvalue, median ---------------------------------------------------------------------------
@pytest.mark.parametrize("data", [WITH_NAN, INTS, TIES], ids=["nan", "int64", "ties"])
@pytest.mark.parametrize("largest", [True, False])
def test_topk_values_as_torch(device, data, largest):
    for k in [0, 1, 3, 6]:
        got = tt.topk(ours(data, device), k, largest=largest)
        want = torch.topk(theirs(data), k, largest=largest)
        same(got.values, want.values)
        # PyTorch leaves the order of tied indices unspecified: check they point at the values
        np.testing.assert_array_equal(np.take_along_axis(np.asarray(data), got.indices.numpy(), 1),
                                      want.values.numpy())


def test_topk_without_ties_matches_indices(device):
    x = np.random.default_rng(0).standard_normal((3, 7))
    for dim in [0, 1, -1]:
        same_pair(tt.topk(ours(x, device), 3, dim=dim), torch.topk(theirs(x), 3, dim=dim))
        same_pair(ours(x, device).topk(2, dim, largest=False, sorted=False),
                  torch.topk(theirs(x), 2, dim, largest=False, sorted=True))


@pytest.mark.parametrize("data", [TIES, WITH_NAN, INTS], ids=["ties", "nan", "int64"])
@pytest.mark.parametrize("keepdim", [False, True])
def test_kthvalue_as_torch(device, data, keepdim):
    """Values as torch's; among equal values torch's quickselect picks an index of its own (ours
    is the stable sort's), so the index is checked to point at the value."""
    for k, dim in [(k, -1) for k in range(1, 7)] + [(1, 0), (2, 0)]:
        got = tt.kthvalue(ours(data, device), k, dim, keepdim)
        want = torch.kthvalue(theirs(data), k, dim, keepdim)
        same(got.values, want.values)
        assert got.indices.dtype is tt.int64 and got.indices.shape == tuple(want.indices.shape)
        index = got.indices.numpy() if keepdim else np.expand_dims(got.indices.numpy(), dim)
        picked = np.take_along_axis(np.asarray(data, dtype=float), index, dim)
        np.testing.assert_array_equal(picked.reshape(want.values.shape), want.values.numpy().astype(float))


def test_kthvalue_without_ties_matches_indices(device):
    x = np.random.default_rng(5).standard_normal((4, 6))
    for k, dim in [(1, 0), (4, 0), (3, 1), (6, -1)]:
        same_pair(tt.kthvalue(ours(x, device), k, dim), torch.kthvalue(theirs(x), k, dim))


def test_out_of_range_k_raises_as_torch(device):
    x = ours(TIES, device)
    for call in [lambda L, t: L.topk(t, 7), lambda L, t: L.topk(t, -1), lambda L, t: L.kthvalue(t, 0),
                 lambda L, t: L.kthvalue(t, 7), lambda L, t: L.kthvalue(t, 3, 0)]:
        with pytest.raises(RuntimeError):
            call(torch, theirs(TIES))
        with pytest.raises(RuntimeError, match="out of range"):
            call(tt, x)


@pytest.mark.parametrize("data", [TIES, WITH_NAN, INTS, [[2.0, 1.0, 4.0, 3.0]]], ids=["ties", "nan", "int64", "even"])
def test_median_as_torch(device, data):
    same(tt.median(ours(data, device)), torch.median(theirs(data)))
    for dim in [0, 1, -1]:
        for keepdim in [False, True]:
            got, want = tt.median(ours(data, device), dim, keepdim), torch.median(theirs(data), dim, keepdim)
            same(got.values, want.values)
            # torch's index among equal medians is its own; it must point at the median
            picked = np.take_along_axis(np.asarray(data, dtype=float),
                                        got.indices.numpy().reshape(want.values.shape if keepdim else
                                                                    np.expand_dims(want.values.numpy(), dim).shape),
                                        dim)
            np.testing.assert_array_equal(picked.reshape(want.values.shape), want.values.numpy())


def test_median_without_ties_matches_indices_and_gradient(device):
    x = np.random.default_rng(1).standard_normal((4, 5))
    a, b = ours(x, device, grad=True), theirs(x, grad=True)
    same_pair(a.median(1), b.median(1))
    (a.median(0).values * ours(np.arange(5.0), device)).sum().backward()
    (b.median(0).values * torch.arange(5.0, dtype=torch.float64)).sum().backward()
    same(a.grad, b.grad)


def test_median_of_everything_shares_the_gradient_among_ties(device):
    a, b = ours(TIES, device, grad=True), theirs(TIES, grad=True)
    same(tt.median(a), torch.median(b))
    (tt.median(a) * 3).backward()
    (torch.median(b) * 3).backward()
    same(a.grad, b.grad)


def test_median_empty(device):
    same(tt.median(ours(np.zeros((0,)), device)), torch.median(theirs(np.zeros((0,)))))
    with pytest.raises(IndexError):
        tt.median(ours(np.zeros((0, 3)), device), 0)


# --- gradients of the sorting ops go to the chosen elements ---------------------------------------
@pytest.mark.parametrize("name", ["sort", "topk", "kthvalue", "msort", "cummax", "cummin"])
def test_gradients_of_sorting_ops(device, name):
    x = np.random.default_rng(2).standard_normal((3, 6))
    calls = {"sort": lambda L, t: L.sort(t, 0, descending=True).values, "topk": lambda L, t: L.topk(t, 4).values,
             "kthvalue": lambda L, t: L.kthvalue(t, 3, 1, True).values, "msort": lambda L, t: L.msort(t),
             "cummax": lambda L, t: L.cummax(t, 1).values, "cummin": lambda L, t: L.cummin(t, -1).values}
    a, b = ours(x, device, grad=True), theirs(x, grad=True)
    got, want = calls[name](tt, a), calls[name](torch, b)
    w = np.random.default_rng(3).standard_normal(tuple(want.shape))
    (got * ours(w, device)).sum().backward()
    (want * theirs(w)).sum().backward()
    same(got, want)
    same(a.grad, b.grad)


# --- scans ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("data", [TIES, WITH_NAN, INTS, [[True, False, True], [False, False, True]]],
                         ids=["ties", "nan", "int64", "bool"])
@pytest.mark.parametrize("dim", [0, -1])
def test_scans_as_torch(device, data, dim):
    x, y = ours(data, device), theirs(data)
    same(tt.cumsum(x, dim), torch.cumsum(y, dim))
    same(x.cumprod(dim), y.cumprod(dim))
    same_pair(tt.cummax(x, dim), torch.cummax(y, dim))
    same_pair(x.cummin(dim), y.cummin(dim))
    if x.dtype.is_floating_point:
        same(tt.logcumsumexp(x, dim), torch.logcumsumexp(y, dim))


def test_scans_of_empty_and_0d(device):
    for shape in [(0,), (2, 0), (0, 3)]:
        x = np.zeros(shape)
        same(tt.cumsum(ours(x, device), -1), torch.cumsum(theirs(x), -1))
        same(tt.cumprod(ours(x, device), 0), torch.cumprod(theirs(x), 0))
        same(tt.logcumsumexp(ours(x, device), 0), torch.logcumsumexp(theirs(x), 0))
        same_pair(tt.cummax(ours(x, device), 0), torch.cummax(theirs(x), 0))
    same(tt.cumsum(ours(3.0, device), 0), torch.cumsum(theirs(3.0), 0))
    same_pair(tt.cummin(ours(3.0, device), -1), torch.cummin(theirs(3.0), -1))
    with pytest.raises(IndexError):
        tt.cumsum(ours(TIES, device), 2)


def test_scan_dtype_argument(device):
    same(tt.cumsum(ours(INTS, device), 1, dtype=tt.float64), torch.cumsum(theirs(INTS), 1, dtype=torch.float64))
    same(tt.cumprod(ours(TIES, device, tt.float32), 0, dtype=tt.float64),
         torch.cumprod(theirs(TIES, torch.float32), 0, dtype=torch.float64))


def test_logcumsumexp_is_stable(device):
    data = [[1000.0, -1000.0, 999.0, -math.inf, 1000.0], [-math.inf, -math.inf, -800.0, -1000.0, math.inf]]
    a, b = ours(data, device, grad=True), theirs(data, grad=True)
    got, want = tt.logcumsumexp(a, 1), torch.logcumsumexp(b, 1)
    same(got, want)
    finite = [[1000.0, -1000.0, 999.0, 1001.0, 1000.0], [-5.0, -800.0, 300.0, -1000.0, 0.0]]
    a, b = ours(finite, device, grad=True), theirs(finite, grad=True)
    w = [[1.0, -2.0, 0.5, 3.0, -1.0], [0.0, 1.0, -1.0, 2.0, 0.5]]
    (tt.logcumsumexp(a, 1) * ours(w, device)).sum().backward()
    (torch.logcumsumexp(b, 1) * theirs(w)).sum().backward()
    same(a.grad, b.grad)


ZERO_PATTERNS = [[2.0, 3.0, 0.0, 4.0, -1.5], [0.0, 2.0, 3.0, 0.0, 5.0], [0.0, 0.0, 0.0, 1.0, 2.0],
                 [1.5, -2.0, 3.0, 0.5, 4.0], [7.0, 1.0, 2.0, 3.0, 0.0]]


@pytest.mark.parametrize("row", ZERO_PATTERNS, ids=["one_zero", "two_zeros", "three_zeros", "none", "last_zero"])
def test_product_gradients_with_zeros(device, row):
    w = np.array([0.5, -1.0, 2.0, 1.5, -0.5])
    for fn in [lambda L, t: L.prod(t), lambda L, t: L.prod(t.reshape(1, 5), 1, keepdim=True).sum(),
               lambda L, t: (L.cumprod(t, 0) * t.new_tensor(w)).sum()]:
        a, b = ours(row, device, grad=True), theirs(row, grad=True)
        fn(tt, a).backward()
        fn(torch, b).backward()
        same(a.grad, b.grad)


def test_second_order_of_prod_with_zeros(device):
    row = [2.0, 0.0, 3.0, 0.0, 5.0, 1.0]
    a, b = ours(row, device, grad=True), theirs(row, grad=True)
    (ga,) = tt.autograd.grad(tt.prod(a), a, create_graph=True)
    (gb,) = torch.autograd.grad(torch.prod(b), b, create_graph=True)
    same(ga, gb)
    (hva,) = tt.autograd.grad((ga * ours(np.arange(6.0), device)).sum(), a)
    (hvb,) = torch.autograd.grad((gb * torch.arange(6.0, dtype=torch.float64)).sum(), b)
    same(hva, hvb)


def test_prod_dtypes_and_shapes(device):
    same(tt.prod(ours(INTS, device)), torch.prod(theirs(INTS)))
    same(tt.prod(ours(INTS, device), 1, keepdim=True), torch.prod(theirs(INTS), 1, keepdim=True))
    flags = [[True, True], [True, False]]
    same(tt.prod(ours(flags, device), -1), torch.prod(theirs(flags), -1))
    same(tt.prod(ours(INTS, device), 0, dtype=tt.float64), torch.prod(theirs(INTS), 0, dtype=torch.float64))
    same(tt.prod(ours(np.zeros((2, 0)), device), 1), torch.prod(theirs(np.zeros((2, 0))), 1))
    same(tt.prod(ours(np.zeros((0,)), device)), torch.prod(theirs(np.zeros((0,)))))
    same(tt.prod(ours(4.0, device), 0), torch.prod(theirs(4.0), 0))
    with pytest.raises(TypeError):
        tt.prod(ours(INTS, device), (0, 1))


# --- norms ------------------------------------------------------------------------------------------------
ORDS = [2, 1, 3, 1.5, 0.5, math.inf, -math.inf, 0, -1.0]


@pytest.mark.parametrize("p", ORDS)
def test_norm_values_and_gradients(device, p):
    x = [[0.5, -2.0, 0.0, 1.5], [0.0, 0.0, 0.0, 0.0], [3.0, -3.0, 1.0, 0.25]]  # zeros, and a row of zeros
    for dim, keepdim in [(None, False), (1, False), (-1, True), ((0, 1), True), (0, False)]:
        a, b = ours(x, device, grad=True), theirs(x, grad=True)
        got, want = tt.norm(a, p, dim, keepdim), torch.norm(b, p, dim, keepdim)
        same(got, want)
        if p == 0:
            continue
        w = np.linspace(-1, 1, want.numel()).reshape(tuple(want.shape))
        (got * ours(w, device)).sum().backward()
        (want * theirs(w)).sum().backward()
        same(a.grad, b.grad)


@pytest.mark.parametrize("p", [2, 1, 3, 0.5, 1.5, math.inf])
def test_norm_gradient_at_zero_is_torchs_subgradient(device, p):
    a, b = ours(np.zeros(4), device, grad=True), theirs(np.zeros(4), grad=True)
    tt.linalg.vector_norm(a, p).backward()
    torch.linalg.vector_norm(b, p).backward()
    same(a.grad, b.grad)
    assert not np.isnan(a.grad.numpy()).any()


def test_norm_defaults_and_errors(device):
    x = np.random.default_rng(4).standard_normal((2, 3, 4))
    same(ours(x, device).norm(), theirs(x).norm())
    same(tt.norm(ours(x, device), "fro", (0, 2), True), torch.norm(theirs(x), "fro", (0, 2), True))
    same(tt.norm(ours(x, device, tt.float32), dtype=tt.float64), torch.norm(theirs(x, torch.float32),
                                                                           dtype=torch.float64))
    same(tt.norm(ours(x[0], device), "nuc"), torch.norm(theirs(x[0]), "nuc"))
    same(tt.norm(ours(x, device), "nuc", (2, 0), True), torch.norm(theirs(x), "nuc", (2, 0), True))
    for bad in [lambda L, t: L.linalg.vector_norm(t.long()), lambda L, t: L.norm(t, "nuc"),
                lambda L, t: L.norm(t, "max")]:
        with pytest.raises(RuntimeError):
            bad(torch, theirs(x))
        with pytest.raises(RuntimeError):
            bad(tt, ours(x, device))


# --- all / any -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("data", [[[1.0, 0.0, 2.0], [3.0, 4.0, 5.0]], [[True, False], [True, True]], [[0, 0], [0, 0]]])
def test_all_any_take_dim_and_keepdim(device, data):
    x, y = ours(data, device), theirs(data)
    for fn in ["all", "any"]:
        same(getattr(tt, fn)(x), getattr(torch, fn)(y), exact=True)
        for dim in [0, 1, -1, (0, 1)]:
            for keepdim in [False, True]:
                same(getattr(x, fn)(dim, keepdim), getattr(y, fn)(dim, keepdim), exact=True)
                same(getattr(tt, fn)(x, dim=dim, keepdim=keepdim), getattr(torch, fn)(y, dim=dim, keepdim=keepdim),
                     exact=True)


def test_result_names_are_pytorchs(device):
    x = ours(TIES, device)
    for name, r in [("sort", tt.sort(x)), ("topk", tt.topk(x, 2)), ("kthvalue", tt.kthvalue(x, 2)),
                    ("median", tt.median(x, 1)), ("cummax", tt.cummax(x, 1)), ("cummin", tt.cummin(x, 1))]:
        assert type(r).__name__ == name and r._fields == ("values", "indices")
        values, indices = r
        assert indices.dtype is tt.int64 and values.dtype is tt.float64


# --- the NDArray layer underneath: scans and argsort ---------------------------------------------------
@pytest.mark.parametrize("n", [1, 2, 3, 7, 8, 9, 17])
def test_ndarray_scans_match_numpy_for_every_length(device, n):
    """Hillis-Steele steps at and around powers of two, on a non-contiguous view, along each axis."""
    from tinytorch.ndarray import array

    x = np.random.default_rng(n).standard_normal((n, 3))
    view = array(np.ascontiguousarray(x.T), device=device).T  # a transposed (non-compact) view of x
    for axis in [0, 1, -1]:
        np.testing.assert_allclose(view.cumsum(axis).numpy(), np.cumsum(x, axis), rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(view.cumprod(axis).numpy(), np.cumprod(x, axis), rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(view.logcumsumexp(axis).numpy(), np.logaddexp.accumulate(x, axis), rtol=1e-12)
        np.testing.assert_array_equal(view.cummax(axis)[0].numpy(), np.maximum.accumulate(x, axis))
        np.testing.assert_array_equal(view.argsort(axis).numpy(), np.argsort(x, axis, kind="stable"))


def test_prefix_scan_keeps_the_order_of_a_non_commutative_combine(device):
    """Composition of affine maps is associative but not commutative: the scan must combine
    earlier with later, never the other way round."""
    from tinytorch.ndarray import array
    from tinytorch.ndarray.ndarray import prefix_scan

    rng = np.random.default_rng(7)
    a, b = rng.uniform(0.5, 1.5, (2, 11)), rng.standard_normal((2, 11))
    # (a1, b1) then (a2, b2): r -> a2 * (a1 * r + b1) + b2
    out = prefix_scan((array(a, device=device), array(b, device=device)), 1,
                      lambda e, l: (l[0] * e[0], l[0] * e[1] + l[1]))[1].numpy()
    expected = np.zeros_like(b)
    r = np.zeros(2)
    for k in range(11):
        r = a[:, k] * r + b[:, k]
        expected[:, k] = r
    np.testing.assert_allclose(out, expected, rtol=1e-12)
