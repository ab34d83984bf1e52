"""Creation functions, random numbers and ``manual_seed``, and the device default."""

from __future__ import annotations

import numpy as np
import pytest

import tinytorch as tt


def test_tensor_infers_dtypes(device):
    assert tt.tensor([1.0, 2], device=device).dtype is tt.float32
    assert tt.tensor([1, 2], device=device).dtype is tt.int64
    assert tt.tensor([True, False], device=device).dtype is tt.bool
    assert tt.tensor(np.ones(2), device=device).dtype is tt.float64  # numpy arrays keep their dtype
    assert tt.tensor(np.ones(2, np.float32), device=device).dtype is tt.float32
    assert tt.tensor(3.5, device=device).shape == ()
    assert tt.tensor([[1, 2]], dtype=tt.float64, device=device).dtype is tt.float64


def test_tensor_copies_its_data(device):
    data = np.array([1.0, 2.0])
    t = tt.tensor(data, device=device)
    data[0] = 9
    assert t.tolist() == [1.0, 2.0]
    u = tt.tensor(t)
    u[0] = 5.0
    assert t.tolist() == [1.0, 2.0] and u.device == device


def test_tensor_from_list_of_tensors(device):
    parts = [tt.tensor(1.0, device=device), tt.tensor(2.0, device=device)]
    assert tt.tensor(parts, device=device).tolist() == [1.0, 2.0]


def test_from_numpy_keeps_dtype_and_values():
    a = np.arange(6, dtype=np.int64).reshape(2, 3)
    t = tt.from_numpy(a)
    assert t.dtype is tt.int64 and t.shape == (2, 3)
    np.testing.assert_array_equal(t.numpy(), a)
    with pytest.raises(TypeError):
        tt.from_numpy([1, 2])


def test_constant_constructors(device):
    for f, v in ((tt.zeros, 0.0), (tt.ones, 1.0)):
        for t in (f(2, 3, device=device), f((2, 3), device=device), f([2, 3], device=device)):
            assert t.shape == (2, 3) and t.dtype is tt.float32 and set(t.numpy().ravel()) == {v}
    assert tt.zeros((), device=device).shape == ()
    assert tt.empty(4, dtype=tt.int64, device=device).shape == (4,)
    assert tt.full((2,), 7, device=device).dtype is tt.int64
    assert tt.full((2,), 1.5, device=device).tolist() == [1.5, 1.5]
    assert tt.full([2], True, device=device).dtype is tt.bool
    assert tt.eye(3, device=device).tolist() == np.eye(3).tolist()
    assert tt.eye(2, 3, dtype=tt.float64, device=device).numpy().tolist() == np.eye(2, 3).tolist()
    x = tt.ones(2, 3, dtype=tt.float64, device=device)
    assert tt.zeros_like(x).dtype is tt.float64 and tt.ones_like(x, dtype=tt.int64).dtype is tt.int64
    assert tt.full_like(x, 3.0).tolist() == [[3.0] * 3] * 2 and tt.empty_like(x).shape == (2, 3)
    w = tt.zeros(2, device=device, requires_grad=True)
    assert w.requires_grad and w.is_leaf


@pytest.mark.parametrize("args", [(5,), (1, 4), (0, 1, 0.1), (1, 2.5, 0.5), (10, 0, -3), (0.0, 1.0, 0.3)])
def test_arange(args, device):
    out = tt.arange(*args, device=device)
    expected = np.arange(*args)
    assert out.dtype is (tt.int64 if expected.dtype.kind == "i" else tt.float32)
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-6)


@pytest.mark.parametrize("args", [(0, 1, 5), (-1, 1, 4), (0, 10, 1), (3, 3, 0), (-3.3, 7.1, 50)])
def test_linspace(args, device):
    out = tt.linspace(*args, device=device, dtype=tt.float64)
    np.testing.assert_allclose(out.numpy(), np.linspace(*args), rtol=1e-12, atol=1e-15)
    torch = pytest.importorskip("torch")
    np.testing.assert_allclose(tt.linspace(*args, device=device).numpy(), torch.linspace(*args).numpy(),
                               rtol=1e-6, atol=1e-7)


def test_creation_errors(device):
    with pytest.raises(RuntimeError, match="step must be nonzero"):
        tt.arange(0, 3, 0, device=device)
    with pytest.raises(RuntimeError, match="inconsistent with step sign"):
        tt.arange(0, 3, -1, device=device)
    with pytest.raises((TypeError, ValueError)):
        tt.zeros("a", device=device)
    with pytest.raises(ValueError):
        tt.zeros(-1, device=device)


def test_random_shapes_dtypes_and_ranges(device):
    tt.manual_seed(0)
    u = tt.rand(2, 500, device=device)
    assert u.shape == (2, 500) and u.dtype is tt.float32 and 0 <= u.min().item() and u.max().item() < 1
    n = tt.randn((4000,), dtype=tt.float64, device=device)
    assert n.dtype is tt.float64 and abs(n.mean().item()) < 0.1 and abs(n.std().item() - 1) < 0.1
    i = tt.randint(3, 7, (1000,), device=device)
    assert i.dtype is tt.int64 and set(i.tolist()) == {3, 4, 5, 6}
    assert set(tt.randint(2, (50,), device=device).tolist()) <= {0, 1}
    assert sorted(tt.randperm(10, device=device).tolist()) == list(range(10))
    assert tt.rand_like(n).dtype is tt.float64 and tt.randn_like(u).shape == u.shape
    assert tt.randn(3, device=device, requires_grad=True).requires_grad
    with pytest.raises(TypeError):
        tt.rand(2, dtype=tt.int64, device=device)


def test_manual_seed_reproduces_on_every_device(device):
    tt.manual_seed(1234)
    a = [tt.rand(3, device=device), tt.randn(2, 2, device=device), tt.randint(0, 100, (5,), device=device),
         tt.randperm(6, device=device)]
    tt.manual_seed(1234)
    b = [tt.rand(3, device="numpy"), tt.randn(2, 2, device="numpy"), tt.randint(0, 100, (5,), device="numpy"),
         tt.randperm(6, device="numpy")]
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x.numpy(), y.numpy())
    tt.manual_seed(1234)
    w = tt.empty(3, device=device).uniform_(-1, 1)
    tt.manual_seed(1234)
    assert tt.empty(3, device=device).uniform_(-1, 1).tolist() == w.tolist()


def test_generators_are_independent_streams(device):
    g1, g2 = tt.Generator().manual_seed(7), tt.Generator().manual_seed(7)
    tt.manual_seed(0)
    x = tt.rand(4, generator=g1, device=device)
    tt.rand(10, device=device)  # the default stream does not disturb g2
    assert tt.rand(4, generator=g2, device=device).tolist() == x.tolist()
    assert g1.initial_seed() == 7


def test_normal_and_uniform_in_place(device):
    tt.manual_seed(0)
    w = tt.empty(2000, dtype=tt.float64, device=device).normal_(3.0, 0.5)
    assert abs(w.mean().item() - 3.0) < 0.05 and abs(w.std().item() - 0.5) < 0.05
    u = tt.zeros(2000, device=device).uniform_(2, 4)
    assert 2 <= u.min().item() and u.max().item() < 4


def test_default_device(device):
    previous = tt.get_default_device()
    try:
        tt.set_default_device(device)
        assert tt.zeros(1).device == device and tt.tensor([1.0]).device == device and tt.rand(1).device == device
    finally:
        tt.set_default_device(previous)


def test_cuda_is_available_is_a_bool():
    assert tt.cuda.is_available() in (True, False)
    assert tt.cuda.is_available() == ("cuda" in tt.backends.available())
    assert tt.cuda.device_count() == int(tt.cuda.is_available())


@pytest.mark.parametrize("args, kwargs, low, high, shape", [
    ((10, (3,)), {}, 0, 10, (3,)),
    ((2, 5, (4,)), {}, 2, 5, (4,)),
    ((5,), {"size": (2, 3)}, 0, 5, (2, 3)),
    ((), {"high": 7, "size": (50,)}, 0, 7, (50,)),
    ((), {"low": 3, "high": 7, "size": (50,)}, 3, 7, (50,)),
])
def test_randint_takes_pytorchs_overloads(args, kwargs, low, high, shape):
    x = tt.randint(*args, **kwargs)
    assert x.shape == shape and x.dtype is tt.int64
    assert low <= x.min().item() and x.max().item() < high


def test_randint_needs_a_size():
    with pytest.raises(TypeError, match="size"):
        tt.randint(5)


def test_accelerator_answers_without_raising():
    """PyTorch's device-neutral shim: the accelerator is the CUDA device when there is one."""
    assert tt.accelerator.is_available() is tt.cuda.is_available()
    assert tt.accelerator.device_count() == (1 if tt.cuda.is_available() else 0)
    expected = tt.device("cuda") if tt.cuda.is_available() else None
    assert tt.accelerator.current_accelerator() == expected


def test_logspace_matches_numpy():
    np.testing.assert_allclose(tt.logspace(-1, 2, 7).numpy(), np.logspace(-1, 2, 7).astype(np.float32), rtol=1e-6)
    np.testing.assert_allclose(tt.logspace(0, 4, 5, base=2, dtype=tt.float64).numpy(), [1, 2, 4, 8, 16])


def test_normal_overloads(device):
    tt.manual_seed(0)
    x = tt.normal(tt.full((20000,), 3.0, device=device), tt.full((20000,), 2.0, device=device))
    assert x.shape == (20000,) and x.device == device and x.dtype is tt.float32
    assert abs(x.mean().item() - 3.0) < 0.05 and abs(x.std().item() - 2.0) < 0.05
    y = tt.normal(tt.tensor([[0.0], [100.0]], device=device), 0.5)  # a tensor mean, a number std
    assert y.shape == (2, 1) and abs(y[1, 0].item() - 100.0) < 5
    z = tt.normal(-1.0, 0.1, (3, 4), dtype=tt.float64)
    assert z.shape == (3, 4) and z.dtype is tt.float64 and (z < 0).all().item()
    with pytest.raises(RuntimeError, match="std >= 0.0"):
        tt.normal(0.0, -1.0, (2,))


def test_bernoulli_draws_ones_with_probability_p(device):
    tt.manual_seed(1)
    p = tt.tensor([0.0, 0.3, 1.0], device=device).expand(20000, 3)
    b = tt.bernoulli(p)
    assert b.dtype is tt.float32 and set(np.unique(b.numpy()).tolist()) <= {0.0, 1.0}
    means = b.mean(0).tolist()
    assert means[0] == 0.0 and means[2] == 1.0 and abs(means[1] - 0.3) < 0.02
    with pytest.raises(RuntimeError, match="p_in"):
        tt.bernoulli(tt.tensor([1.5]))


def test_multinomial(device):
    tt.manual_seed(2)
    w = tt.tensor([0.0, 1.0, 3.0], device=device)
    draws = tt.multinomial(w, 8000, replacement=True).numpy()
    counts = np.bincount(draws, minlength=3) / draws.size
    assert counts[0] == 0 and abs(counts[2] - 0.75) < 0.02
    rows = tt.multinomial(tt.tensor([[1.0, 1.0, 1.0, 0.0], [0.0, 2.0, 1.0, 1.0]], device=device), 3).numpy()
    assert rows.shape == (2, 3) and all(len(set(r)) == 3 for r in rows)  # no repeats without replacement
    assert 3 not in rows[0] and 0 not in rows[1]  # zero weights are never drawn
    with pytest.raises(RuntimeError, match="without replacement"):
        tt.multinomial(w, 3)
    with pytest.raises(RuntimeError, match="element < 0"):
        tt.multinomial(tt.tensor([1.0, -1.0]), 1)


def test_randint_like(device):
    x = tt.zeros(50, 2, dtype=tt.float64, device=device)
    r = tt.randint_like(x, 3, 6)
    assert r.shape == (50, 2) and r.dtype is tt.float64 and r.device == device
    assert 3 <= r.min().item() and r.max().item() < 6
    assert tt.randint_like(x, 2).max().item() < 2


# --- issue 13: int64 exactness and numpy's dtypes --------------------------------------------------------
@pytest.mark.parametrize("args", [(10**17, 10**17 + 3), (2**62, 2**62 + 10, 3), (-2**63, -2**63 + 3),
                                  (2**63 - 4, 2**63 - 1), (5, -5, -3), (0,), (7,)])
def test_arange_of_large_ints_is_exact(args, device):
    torch = pytest.importorskip("torch")
    got = tt.arange(*args, device=device)
    assert got.dtype == tt.int64 and got.tolist() == torch.arange(*args).tolist()


@pytest.mark.parametrize("value,dtype", [(np.float64(0.1), tt.float64), (np.float32(0.1), tt.float32),
                                         (np.float16(0.1), tt.float32), (np.int8(-3), tt.int64),
                                         (np.uint32(2**32 - 1), tt.int64), (np.bool_(True), tt.bool),
                                         ([np.float64(0.1), 2.0], tt.float64), ([np.float32(1.5), 2], tt.float32),
                                         ([np.int64(3), 2.5], tt.float32), ([], tt.float32)])
def test_numpy_scalars_keep_their_dtype(value, dtype, device):
    """As PyTorch (which also has int8/uint32/float16: tinytorch widens them to a dtype it has,
    values unchanged)."""
    t = tt.tensor(value, device=device)
    assert t.dtype == dtype
    np.testing.assert_array_equal(t.numpy(), np.asarray(value, dtype=dtype.np_dtype))
    assert t.numpy().astype(np.asarray(value).dtype).tolist() == np.asarray(value).tolist()  # nothing rounded


@pytest.mark.parametrize("np_dtype", [np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64,
                                      np.float16, np.float32, np.float64, np.bool_])
def test_numpy_arrays_of_every_width_keep_their_values(np_dtype, device):
    info = np.iinfo(np_dtype) if np.dtype(np_dtype).kind in "iu" else None
    if info is not None:
        a = np.array([info.min, 0, 1, min(info.max, 2**63 - 1)], dtype=np_dtype)
    elif np_dtype is np.bool_:
        a = np.array([True, False])
    else:
        a = np.array([np.finfo(np_dtype).max, -0.5, np.finfo(np_dtype).tiny, np.inf], dtype=np_dtype)
    for make in (tt.tensor, tt.from_numpy):
        t = make(a) if make is tt.from_numpy else make(a, device=device)
        assert t.numpy().tolist() == a.tolist()


def test_values_that_do_not_fit_raise_instead_of_wrapping(device):
    torch = pytest.importorskip("torch")
    for data in ([-1, 2**63 + 1], [2**64], 2**63):
        with pytest.raises(ValueError):
            torch.tensor(data)
        with pytest.raises(ValueError, match="does not fit in int64"):
            tt.tensor(data, device=device)
    with pytest.raises(ValueError, match="18446744073709551615"):
        tt.tensor(np.array([2**64 - 1], dtype=np.uint64), device=device)
    with pytest.raises(ValueError):
        tt.from_numpy(np.array([2**63], dtype=np.uint64))
    assert tt.tensor([1.5, 2**70], device=device).dtype == tt.float32  # a float list may hold big ints
    if hasattr(np, "longdouble") and np.dtype(np.longdouble).itemsize > 8:
        with pytest.raises(TypeError, match="longdouble|float128"):
            tt.tensor(np.array([1.0], dtype=np.longdouble), device=device)
