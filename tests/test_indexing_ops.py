"""Writing by index (scatter family, index_* family, masked_scatter, take_along_dim), Tensor.unfold,
rot90 and the addmm family: the cases the op table's generated tests do not reach -- repeated
indices, integer inputs, NaN, ties and zeros in the gradients, errors, in-place forms -- on
every device. References are numpy (computed here) or PyTorch where the test needs its
gradients (skipped without it).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import tinytorch as tt


def np_scatter_reduce(a: np.ndarray, axis: int, index: np.ndarray, src: np.ndarray, ufunc: np.ufunc) -> np.ndarray:
    """``out[pos] = ufunc(out[pos], src[j])`` over every j, repeated positions combining."""
    out = a.copy()
    pos = list(np.indices(index.shape))
    pos[axis] = index
    ufunc.at(out, tuple(pos), src[tuple(slice(0, n) for n in index.shape)])
    return out


def tensors(device: str, *arrays: Any, grad: bool = False) -> list:
    return [tt.tensor(a, device=device, requires_grad=grad and np.asarray(a).dtype.kind == "f") for a in arrays]


# --- repeated indices accumulate ---------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float64, np.int64])
def test_scatter_add_accumulates_repeated_indices(device: str, dtype: Any) -> None:
    rng = np.random.default_rng(0)
    a = rng.integers(-5, 5, (3, 5)).astype(dtype)
    index = rng.integers(0, 3, (6, 5))  # every column writes ~2 times to each row
    src = rng.integers(-5, 5, (7, 6)).astype(dtype)  # larger than index: only the leading block is read
    x, i, s = tensors(device, a, index, src)
    out = tt.scatter_add(x, 0, i, s)
    assert out.dtype is x.dtype
    np.testing.assert_array_equal(out.numpy(), np_scatter_reduce(a, 0, index, src, np.add))
    # a negative dim counts from the end
    index1 = rng.integers(0, 5, (3, 9))
    src1 = rng.integers(-5, 5, (3, 9)).astype(dtype)
    out1 = x.scatter_add(-1, tt.tensor(index1, device=device), tt.tensor(src1, device=device))
    np.testing.assert_array_equal(out1.numpy(), np_scatter_reduce(a, 1, index1, src1, np.add))


@pytest.mark.parametrize("dtype", [np.float64, np.int64])
def test_index_add_accumulates_repeated_indices(device: str, dtype: Any) -> None:
    a = np.arange(12).reshape(3, 4).astype(dtype)
    src = np.arange(30).reshape(3, 10).astype(dtype)
    index = np.array([0, 3, 3, 1, 0, 0, 2, 3, 3, 3])
    x, i, s = tensors(device, a, index, src)
    expected = a.copy()
    np.add.at(expected.T, index, 2 * src.T)
    np.testing.assert_array_equal(x.index_add(-1, i, s, alpha=2).numpy(), expected)


def test_index_add_gradients_with_repeated_indices(device: str) -> None:
    """Each source slice gets the gradient of the slice it was added to, repeated or not."""
    x, s = tensors(device, np.zeros((4, 2)), np.ones((5, 2)), grad=True)
    w = np.arange(8.0).reshape(4, 2)
    index = np.array([3, 3, 0, 1, 3])
    (tt.index_add(x, 0, tt.tensor(index, device=device), s, alpha=3.0) * tt.tensor(w, device=device)).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), w)
    np.testing.assert_allclose(s.grad.numpy(), 3 * w[index])


# --- scatter_reduce: integers, NaN, ties, zeros ------------------------------------------------------------
@pytest.mark.parametrize("reduce", ["sum", "prod", "mean", "amax", "amin"])
@pytest.mark.parametrize("include_self", [True, False])
def test_scatter_reduce_int64_matches_torch(device: str, reduce: str, include_self: bool) -> None:
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    a, src = rng.integers(-9, 9, (4, 3)), rng.integers(-9, 9, (5, 3))
    index = rng.integers(0, 4, (5, 3))
    x, i, s = tensors(device, a, index, src)
    out = x.scatter_reduce(0, i, s, reduce, include_self=include_self)  # integer mean rounds down
    ref = torch.from_numpy(a).scatter_reduce(0, torch.from_numpy(index), torch.from_numpy(src), reduce,
                                             include_self=include_self)
    assert out.dtype is tt.int64
    np.testing.assert_array_equal(out.numpy(), ref.numpy())


@pytest.mark.parametrize("reduce", ["amax", "amin"])
def test_scatter_reduce_max_min_propagate_nan(device: str, reduce: str) -> None:
    x, s = tensors(device, np.array([1.0, 2.0, 3.0]), np.array([np.nan, 5.0, -4.0, 0.5]))
    out = tt.scatter_reduce(x, 0, tt.tensor([0, 0, 1, 2], device=device), s, reduce)
    expected = [np.nan, 2.0, 3.0] if reduce == "amax" else [np.nan, -4.0, 0.5]
    np.testing.assert_array_equal(out.numpy(), expected)
    # "max" and "min" are accepted as PyTorch accepts them
    np.testing.assert_array_equal(tt.scatter_reduce(x, 0, tt.tensor([0, 0, 1, 2], device=device), s,
                                                    reduce[1:]).numpy(), expected)


@pytest.mark.parametrize("reduce", ["amax", "amin", "prod", "mean"])
@pytest.mark.parametrize("include_self", [True, False])
def test_scatter_reduce_gradients_with_ties_and_zeros(device: str, reduce: str, include_self: bool) -> None:
    """amax/amin share the gradient evenly among every value equal to the result (the input's
    element included, when it takes part); a product's gradient is the product of the other
    factors, also when some of them are zero (PyTorch's gradients, compared)."""
    torch = pytest.importorskip("torch")
    if reduce in ("amax", "amin"):
        a = np.array([[2.0, 1.0, 7.0], [3.0, 3.0, 0.0]])
        src = np.array([[2.0, 5.0, 7.0], [2.0, 5.0, 7.0], [1.0, 3.0, -1.0]])
    else:
        a = np.array([[2.0, 0.0, 7.0], [3.0, 1.5, 0.0]])
        src = np.array([[0.0, 5.0, 0.0], [2.0, 0.0, 0.0], [1.0, 3.0, -1.0]])
    index = np.array([[0, 0, 1], [0, 0, 1], [1, 0, 0]])
    w = np.arange(6.0).reshape(2, 3) - 2
    grads = []
    for lib, make in ((tt, lambda v, g=False: tt.tensor(v, device=device, requires_grad=g)),
                      (torch, lambda v, g=False: torch.tensor(v, requires_grad=g))):
        x, s = make(a, True), make(src, True)
        out = lib.scatter_reduce(x, 0, make(index), s, reduce, include_self=include_self)
        (out * make(w)).sum().backward()
        grads.append((out.detach().numpy(), x.grad.numpy(), s.grad.numpy()))
    for ours, theirs in zip(*grads):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12)


def test_scatter_overwrites_and_zeros_the_overwritten_gradient(device: str) -> None:
    x, s = tensors(device, np.ones((2, 3)), np.arange(6.0).reshape(2, 3) + 10, grad=True)
    index = tt.tensor([[2, 0, 1]], device=device)
    out = x.scatter(1, index, s)
    np.testing.assert_array_equal(out.detach().numpy(), [[11, 12, 10], [1, 1, 1]])
    out.backward(tt.tensor(np.arange(6.0).reshape(2, 3) + 1, device=device))
    np.testing.assert_array_equal(x.grad.numpy(), [[0, 0, 0], [4, 5, 6]])
    np.testing.assert_array_equal(s.grad.numpy(), [[3, 1, 2], [0, 0, 0]])  # gathered at index; the rest unread


def test_scatter_value_and_reduce_forms(device: str) -> None:
    x = tt.tensor([[1.0, 2.0], [3.0, 4.0]], device=device)
    index = tt.tensor([[1, 1], [0, 1]], device=device)
    np.testing.assert_array_equal(x.scatter(1, index, 0.5).numpy(), [[1, 0.5], [0.5, 0.5]])
    np.testing.assert_array_equal(tt.scatter(x, 1, index, value=-1.0).numpy(), [[1, -1], [-1, -1]])
    s = tt.tensor([[10.0, 20.0], [30.0, 40.0]], device=device)
    np.testing.assert_array_equal(x.scatter(1, index, s, reduce="add").numpy(), [[1, 32], [33, 44]])
    np.testing.assert_array_equal(x.scatter(1, index, s, reduce="multiply").numpy(), [[1, 400], [90, 160]])
    with pytest.raises(RuntimeError, match="add or multiply"):
        x.scatter(1, index, s, reduce="mean")
    with pytest.raises(RuntimeError, match="sum, prod, mean, amax or amin"):
        x.scatter_reduce(1, index, s, "add")


def test_index_copy_and_index_fill(device: str) -> None:
    a = np.arange(12.0).reshape(3, 4)
    x = tt.tensor(a, device=device)
    src = tt.tensor([[-1.0, -2.0, -3.0, -4.0], [-5.0, -6.0, -7.0, -8.0]], dtype=tt.float64, device=device)
    expected = a.copy()
    expected[[2, 0]] = src.numpy()
    np.testing.assert_array_equal(x.index_copy(0, tt.tensor([2, 0], device=device), src).numpy(), expected)
    filled = a.copy()
    filled[:, [3, 1]] = 9.0
    # index_fill wraps negative indices (PyTorch does, unlike index_copy)
    np.testing.assert_array_equal(tt.index_fill(x, -1, tt.tensor([-1, 1], device=device), 9.0).numpy(), filled)
    xi = tt.tensor(a.astype(np.int64), device=device)
    out = xi.index_fill(0, tt.tensor([1], device=device), 7.9)  # the value takes the tensor's dtype
    assert out.dtype is tt.int64 and out.numpy()[1].tolist() == [7, 7, 7, 7]


def test_index_fill_with_a_tensor_value_gets_its_gradient(device: str) -> None:
    x, v = tensors(device, np.ones((3, 4)), np.array(2.5), grad=True)
    out = x.index_fill(1, tt.tensor([0, 2], device=device), v)
    (out * tt.tensor(np.arange(12.0).reshape(3, 4), device=device)).sum().backward()
    assert v.grad.item() == sum(np.arange(12.0).reshape(3, 4)[:, [0, 2]].ravel())
    np.testing.assert_array_equal(x.grad.numpy()[:, [0, 2]], 0)


def test_masked_scatter_fills_in_row_major_order(device: str) -> None:
    a = np.zeros((2, 3))
    mask = np.array([[True, False, True], [False, True, True]])
    src = np.arange(1.0, 8.0)
    x, m, s = tensors(device, a, mask, src)
    expected = a.copy()
    expected[mask] = src[:4]
    np.testing.assert_array_equal(x.masked_scatter(m, s).numpy(), expected)
    with pytest.raises(RuntimeError, match="at least as many elements"):
        x.masked_scatter(m, s[:3])


def test_take_along_dim_matches_numpy(device: str) -> None:
    rng = np.random.default_rng(2)
    a = rng.normal(size=(3, 4, 5))
    idx = rng.integers(0, 4, (3, 2, 1))  # broadcast along the last dim
    x, i = tensors(device, a, idx)
    np.testing.assert_array_equal(tt.take_along_dim(x, i, 1).numpy(),
                                  np.take_along_axis(a, np.broadcast_to(idx, (3, 2, 5)), 1))
    flat = rng.integers(-60, 60, (7,)) % 60
    np.testing.assert_array_equal(x.take_along_dim(tt.tensor(flat, device=device)).numpy(), a.reshape(-1)[flat])


class OnDevice:
    """tinytorch's namespace with the creation functions making tensors on ``device``."""

    def __init__(self, device: str):
        self.device = device

    def __getattr__(self, name: str) -> Any:
        fn = getattr(tt, name)
        if name in ("ones", "zeros", "arange"):
            return lambda *args, **kw: fn(*args, device=self.device, **kw)
        return fn


def test_zero_dim_and_empty_cases_match_torch(device: str) -> None:
    torch = pytest.importorskip("torch")
    cases = [
        lambda L, T: T(1.0).scatter(0, T(0), T(5.0)),
        lambda L, T: L.ones(2, 3).scatter_add(1, L.zeros(2, 0, dtype=L.int64), L.ones(2, 0)),
        lambda L, T: L.ones(2, 3).scatter_reduce(1, L.zeros(2, 0, dtype=L.int64), L.ones(2, 0), "amax"),
        lambda L, T: L.ones(2, 3).index_add(1, T([], dtype=L.int64), L.ones(2, 0)),
        lambda L, T: L.ones(3).index_copy(0, T(1), T(5.0)),
        lambda L, T: T(2.0).index_fill(0, T([0]), 7.0),
        lambda L, T: L.ones(2, 3).masked_scatter(L.zeros(2, 3, dtype=L.bool), L.ones(0)),
        lambda L, T: L.zeros(3).masked_scatter(T([[True, False, True], [False, True, True]]), L.arange(6.0)),
    ]
    for case in cases:
        ours = case(OnDevice(device), lambda v, **kw: tt.tensor(v, device=device, **kw))
        theirs = case(torch, torch.tensor)
        assert ours.shape == tuple(theirs.shape)
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


# --- errors: out-of-range indices, shapes, dtypes -----------------------------------------------------------
def test_out_of_range_indices_raise_pytorchs_errors_before_writing(device: str) -> None:
    x = tt.tensor([1.0, 2.0, 3.0], device=device)
    s = tt.tensor([5.0, 6.0], device=device)
    scatter_family = (lambda i: x.scatter(0, i, s), lambda i: x.scatter_add(0, i, s),
                      lambda i: x.scatter_reduce(0, i, s, "amax"), lambda i: x.scatter_(0, i, s),
                      lambda i: tt.take_along_dim(x, i, 0), lambda i: tt.take_along_dim(x, i),
                      lambda i: tt.gather(x, 0, i))
    index_family = (lambda i: x.index_add(0, i, s), lambda i: x.index_copy(0, i, s),
                    lambda i: x.index_add_(0, i, s))
    for bad in ([0, 3], [-1, 0]):  # the scatter family does not wrap negative indices
        i = tt.tensor(bad, device=device)
        for call in scatter_family:
            with pytest.raises(RuntimeError, match="out of bounds"):
                call(i)
        for call in index_family:
            with pytest.raises(IndexError, match="out of bounds"):
                call(i)
    with pytest.raises(IndexError, match="out of bounds"):
        x.index_fill(0, tt.tensor([-4], device=device), 0.0)
    assert x.tolist() == [1.0, 2.0, 3.0], "nothing may be written when an index is bad"


def test_shape_and_dtype_mismatches_raise(device: str) -> None:
    x = tt.zeros(3, 4, device=device)
    with pytest.raises(RuntimeError, match="same number of dimensions"):
        x.scatter(0, tt.tensor([0, 1], device=device), tt.ones(2, device=device))
    with pytest.raises(RuntimeError, match="no larger"):
        x.scatter_add(0, tt.zeros(2, 5, dtype=tt.int64, device=device), tt.ones(2, 5, device=device))
    with pytest.raises(RuntimeError, match="no larger"):
        x.scatter(1, tt.zeros(3, 3, dtype=tt.int64, device=device), tt.ones(3, 2, device=device))
    with pytest.raises(RuntimeError, match="int64"):
        x.scatter(0, tt.zeros(1, 4, device=device), tt.ones(1, 4, device=device))
    with pytest.raises(RuntimeError, match="dtype"):
        x.scatter(0, tt.zeros(1, 4, dtype=tt.int64, device=device), tt.ones(1, 4, dtype=tt.float64, device=device))
    with pytest.raises(RuntimeError, match="Number of indices"):
        x.index_add(1, tt.tensor([0, 1], device=device), tt.ones(3, 3, device=device))
    with pytest.raises(IndexError, match="vector"):
        x.index_copy(0, tt.zeros(1, 1, dtype=tt.int64, device=device), tt.ones(1, 4, device=device))
    with pytest.raises(RuntimeError, match="same number of dimensions"):
        tt.take_along_dim(x, tt.tensor([0], device=device), 0)
    with pytest.raises(IndexError, match="Dimension out of range"):
        x.scatter(2, tt.zeros(1, 1, dtype=tt.int64, device=device), 1.0)


# --- in place -----------------------------------------------------------------------------------------------
def test_in_place_forms_write_into_the_tensor(device: str) -> None:
    a = np.arange(6.0).reshape(2, 3)
    src = np.full((2, 3), 10.0)
    index = np.array([[1, 0, 2], [0, 0, 1]])
    cases = [
        (lambda t, i, s: t.scatter_(1, i, s), lambda t, i, s: t.scatter(1, i, s)),
        (lambda t, i, s: t.scatter_add_(1, i, s), lambda t, i, s: t.scatter_add(1, i, s)),
        (lambda t, i, s: t.scatter_reduce_(1, i, s, "prod", include_self=False),
         lambda t, i, s: t.scatter_reduce(1, i, s, "prod", include_self=False)),
        (lambda t, i, s: t.index_add_(0, i[0, :2], s[:2], alpha=-1),
         lambda t, i, s: t.index_add(0, i[0, :2], s[:2], alpha=-1)),
        (lambda t, i, s: t.index_copy_(1, i[1, 1:], s[:, :2]), lambda t, i, s: t.index_copy(1, i[1, 1:], s[:, :2])),
        (lambda t, i, s: t.index_fill_(1, i[0], -3.0), lambda t, i, s: t.index_fill(1, i[0], -3.0)),
        (lambda t, i, s: t.masked_scatter_(i > 0, s), lambda t, i, s: t.masked_scatter(i > 0, s)),
    ]
    for in_place, out_of_place in cases:
        x, i, s = tensors(device, a, index, src)
        expected = out_of_place(x, i, s).numpy()
        assert in_place(x, i, s) is x
        np.testing.assert_array_equal(x.numpy(), expected)
    leaf = tt.tensor(a, device=device, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable"):
        leaf.scatter_add_(1, tt.tensor(index, device=device), tt.tensor(src, device=device))


# --- Tensor.unfold, rot90 and the small movement aliases -------------------------------------------------------
def test_tensor_unfold_is_a_view(device: str) -> None:
    x = tt.arange(10.0, device=device).reshape(2, 5)
    windows = x.unfold(1, 3, 2)
    assert windows.shape == (2, 2, 3)
    np.testing.assert_array_equal(windows.numpy(), [[[0, 1, 2], [2, 3, 4]], [[5, 6, 7], [7, 8, 9]]])
    x[0, 2] = -1.0  # the view sees writes into its base
    assert windows[0, 0, 2].item() == -1.0 and windows[0, 1, 0].item() == -1.0
    assert tt.tensor(3.0, device=device).unfold(0, 1, 1).shape == (1,)
    with pytest.raises(RuntimeError, match="maximum size"):
        x.unfold(1, 6, 1)
    with pytest.raises(RuntimeError, match="step"):
        x.unfold(1, 2, 0)


def test_rot90_errors_and_identities(device: str) -> None:
    x = tt.arange(6.0, device=device).reshape(2, 3)
    np.testing.assert_array_equal(tt.rot90(x, 4).numpy(), x.numpy())
    np.testing.assert_array_equal(tt.rot90(tt.rot90(x, 1), -1).numpy(), x.numpy())
    with pytest.raises(RuntimeError, match="rotation dims == 2"):
        tt.rot90(x, 1, [0])
    with pytest.raises(RuntimeError, match="different"):
        tt.rot90(x, 1, [1, -1])
    with pytest.raises(RuntimeError, match="dims >= 2"):
        tt.rot90(tt.ones(3, device=device))


def test_movement_aliases_match_torch(device: str) -> None:
    torch = pytest.importorskip("torch")
    a = np.arange(24.0).reshape(2, 3, 4)
    x, t = tt.tensor(a, device=device), torch.tensor(a)
    assert x.swapdims(0, -1).shape == tuple(t.swapdims(0, -1).shape)
    np.testing.assert_array_equal(tt.swapaxes(x, 1, 2).numpy(), torch.swapaxes(t, 1, 2).numpy())
    other = np.zeros((6, 4))
    np.testing.assert_array_equal(x.view_as(tt.tensor(other)).numpy(), t.view_as(torch.tensor(other)).numpy())
    np.testing.assert_array_equal(x.reshape_as(tt.tensor(other)).numpy(), t.reshape_as(torch.tensor(other)).numpy())
    big = np.zeros((5, 2, 3, 4))
    assert x.expand_as(tt.tensor(big)).shape == tuple(t.expand_as(torch.tensor(big)).shape)
    assert x.type_as(tt.tensor([1])).dtype is tt.int64 and t.type_as(torch.tensor([1])).dtype == torch.int64


# --- the addmm family ---------------------------------------------------------------------------------------
def test_addmm_family_checks_shapes_and_ignores_input_when_beta_is_zero(device: str) -> None:
    nan = tt.full((2, 2), float("nan"), device=device)
    a = tt.ones(2, 3, device=device)
    b = tt.ones(3, 2, device=device)
    np.testing.assert_array_equal(tt.addmm(nan, a, b, beta=0).numpy(), np.full((2, 2), 3.0))
    np.testing.assert_array_equal(tt.baddbmm(nan, a[None], b[None], beta=0, alpha=2).numpy(), np.full((1, 2, 2), 6.0))
    with pytest.raises(RuntimeError):
        tt.addmm(tt.ones(3, device=device), a, b)  # (3,) does not broadcast to (2, 2)
    with pytest.raises(RuntimeError):
        tt.addmm(nan, a, a)
    with pytest.raises(RuntimeError):
        tt.addbmm(nan, a[None], b[None].expand(2, 3, 2))
    with pytest.raises(RuntimeError):
        tt.vdot(a, a)
