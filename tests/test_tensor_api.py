"""Tensor attributes and methods: shape/size/ndim, conversions, devices and dtypes, repr,
and every name in the Tensor section of API.md existing as a method and/or ``tt.`` function."""

from __future__ import annotations

import math

import numpy as np
import pytest

import tinytorch as tt

METHODS = """size dim numel requires_grad_ numpy item tolist detach clone to float double long contiguous backward
add sub mul div pow neg exp log sqrt rsqrt abs sin cos tanh sigmoid relu clamp maximum minimum
sum mean var std max min amax amin argmax argmin logsumexp softmax log_softmax
reshape view permute transpose expand broadcast_to flip squeeze unsqueeze flatten matmul
add_ sub_ mul_ div_ zero_ fill_ copy_ uniform_ normal_ eq ne lt le gt ge where masked_fill gather split chunk
square sign isnan isinf isclose allclose all any erf logical_not logical_and logical_or t swapaxes""".split()
FUNCTIONS = """tensor from_numpy zeros ones full empty zeros_like ones_like arange linspace eye rand randn randint
manual_seed exp log sqrt rsqrt abs sin cos tanh sigmoid relu clamp pow maximum minimum where
sum mean var std max min amax amin argmax argmin logsumexp softmax log_softmax
reshape permute transpose broadcast_to flip squeeze unsqueeze flatten cat stack matmul no_grad enable_grad
numel detach full_like empty_like rand_like randn_like randperm split chunk gather tril triu square sign
isclose allclose""".split()


def test_every_api_name_exists():
    missing = [m for m in METHODS if not hasattr(tt.Tensor, m)] + [f"tt.{f}" for f in FUNCTIONS if not hasattr(tt, f)]
    assert not missing
    for attr in ("shape", "ndim", "dtype", "device", "grad", "is_leaf", "grad_fn", "data", "T", "requires_grad"):
        assert hasattr(tt.ones(2, 2, device="numpy"), attr)
    assert callable(tt.autograd.grad)


def test_names_torch_has_as_function_and_method_exist_here_too():
    torch = pytest.importorskip("torch")
    missing = [f"tt.{n}" for n in METHODS + FUNCTIONS if hasattr(torch, n) and not hasattr(tt, n)
               and not n.endswith("_")]  # torch.zero_(x) and friends: in-place methods suffice
    missing += [f"Tensor.{n}" for n in METHODS + FUNCTIONS if hasattr(torch.Tensor, n) and not hasattr(tt.Tensor, n)]
    assert not missing


def test_shape_and_size(device):
    x = tt.zeros(2, 3, 4, device=device)
    assert x.shape == (2, 3, 4) and x.size() == (2, 3, 4) and x.size(-1) == 4 and x.size(1) == 3
    assert x.ndim == 3 == x.dim() and x.numel() == 24 and len(x) == 2
    assert x.dtype is tt.float32 and x.device == device and str(x.device) == device
    with pytest.raises(IndexError, match="Dimension out of range"):
        x.size(3)


def test_conversions(device):
    x = tt.tensor([[1.5, 2.0]], device=device)
    assert x.tolist() == [[1.5, 2.0]] and x[0, 1].item() == 2.0 and isinstance(x.numpy(), np.ndarray)
    assert float(x[0, 0]) == 1.5 and int(x[0, 1]) == 2 and bool(x[0, 0] > 1)
    assert np.asarray(x).shape == (1, 2)
    assert f"{x.sum():.2f}" == "3.50"
    with pytest.raises(RuntimeError, match="cannot be converted to Scalar"):
        x.item()
    with pytest.raises(RuntimeError, match="ambiguous"):
        bool(x)
    with pytest.raises(RuntimeError, match="detach"):
        tt.ones(1, device=device, requires_grad=True).numpy()
    with pytest.raises(TypeError):
        len(tt.tensor(1.0, device=device))
    assert [r.tolist() for r in tt.tensor([[1, 2], [3, 4]], device=device)] == [[1, 2], [3, 4]]
    idx = tt.tensor(1, device=device)
    assert [10, 20, 30][idx] == 20


def test_to_dtype_and_device(device):
    x = tt.tensor([1.7, -2.2], device=device, requires_grad=True)
    assert x.to(tt.float32) is x and x.to(device) is x
    assert x.double().dtype is tt.float64 and x.long().tolist() == [1, -2] and not x.long().requires_grad
    assert x.to(dtype=tt.float64).requires_grad
    y = x.to("numpy", tt.float64)
    assert y.device == "numpy" and y.dtype is tt.float64
    y.sum().backward()
    assert x.grad.device == device and x.grad.dtype is tt.float32 and x.grad.tolist() == [1.0, 1.0]
    assert x.to(tt.zeros(1, dtype=tt.float64, device="numpy")).dtype is tt.float64


def test_contiguous_and_clone(device):
    x = tt.arange(6, device=device).reshape(2, 3)
    assert x.contiguous() is x and x.is_contiguous()
    t = x.T
    assert not t.is_contiguous() and t.contiguous().is_contiguous()
    assert x[1:].is_contiguous() and not x[:, 1:].is_contiguous()  # PyTorch's meaning: strides, not offset
    np.testing.assert_array_equal(t.contiguous().numpy(), x.numpy().T)
    c = x.clone()
    c[0, 0] = 100
    assert x[0, 0].item() == 0


def test_views_share_storage(device):
    x = tt.zeros(2, 3, device=device)
    x.reshape(6)[4] = 1.0
    x.T[0, 1] = 2.0
    x[:, ::2][0, 1] = 3.0
    assert x.tolist() == [[0, 0, 3], [2, 1, 0]]


REPR_CASES = [
    lambda L: L.tensor([1.5, -2.25, 3.0]),
    lambda L: L.tensor([[1e-5, 1.0], [2.0, 3.0]]),
    lambda L: L.tensor(3.5),
    lambda L: L.tensor([True, False]),
    lambda L: L.tensor([1, -20, 300]),
    lambda L: L.zeros(2, 0),
    lambda L: L.tensor([], dtype=L.int64),
    lambda L: L.tensor([float("nan"), 1.5, float("-inf")]),
    lambda L: L.tensor([[0.1234567, 100.5]] * 3, dtype=L.float64),
    lambda L: L.arange(30.0).reshape(3, 10) / 7,
    lambda L: L.ones(2, 3, 2),
    lambda L: L.tensor([1.0, 2.0], requires_grad=True),
    lambda L: L.tensor([1.0, 2.0], requires_grad=True) * 2,
    lambda L: L.tensor([1.0, 2.0], requires_grad=True).sum(),
]


@pytest.mark.parametrize("case", range(len(REPR_CASES)))
def test_repr_like_torch(case):
    torch = pytest.importorskip("torch")
    ours = repr(REPR_CASES[case](tt)).replace(", device='numpy'", "").replace(", device='cpu'", "")
    assert ours.replace("tinytorch.", "torch.") == repr(REPR_CASES[case](torch))


def test_repr_names_device_dtype_and_grad():
    x = tt.tensor([1.0, 2.0], dtype=tt.float64, device="numpy", requires_grad=True)
    assert repr(x) == "tensor([1., 2.], device='numpy', dtype=tinytorch.float64, requires_grad=True)"
    assert repr(x * 2).endswith("grad_fn=<MulBackward0>)")
    assert repr(x.sum()) == "tensor(3., device='numpy', dtype=tinytorch.float64, grad_fn=<SumBackward0>)"


def test_max_with_dim_returns_values_and_indices(device):
    x = tt.tensor([[1.0, 3.0, 3.0], [2.0, 0.0, -1.0]], device=device)
    values, indices = x.max(1)
    assert values.tolist() == [3.0, 2.0] and indices.tolist() == [1, 0]
    r = tt.min(x, dim=0, keepdim=True)
    assert r.values.tolist() == [[1.0, 0.0, -1.0]] and r.indices.tolist() == [[0, 1, 1]]
    assert x.argmax().item() == 1 and x.argmin(1).tolist() == [0, 2]


def test_max_gradient_goes_to_one_index_with_dim_and_is_shared_without(device):
    x = tt.tensor([[1.0, 3.0, 3.0]], dtype=tt.float64, device=device, requires_grad=True)
    x.max(1).values.sum().backward()
    assert x.grad.tolist() == [[0.0, 1.0, 0.0]]
    x.grad = None
    x.max().backward()
    assert x.grad.tolist() == [[0.0, 0.5, 0.5]]
    x.grad = None
    x.amax(1).sum().backward()
    assert x.grad.tolist() == [[0.0, 0.5, 0.5]]


def test_maximum_and_clamp_at_ties_as_torch(device):
    a = tt.tensor([1.0, 2.0, 3.0], dtype=tt.float64, device=device, requires_grad=True)
    b = tt.tensor([1.0, 1.0, 4.0], dtype=tt.float64, device=device, requires_grad=True)
    tt.maximum(a, b).sum().backward()
    assert a.grad.tolist() == [0.5, 1.0, 0.0] and b.grad.tolist() == [0.5, 0.0, 1.0]
    a.grad = None
    a.clamp(1.0, 2.0).sum().backward()  # bounds are inclusive
    assert a.grad.tolist() == [1.0, 1.0, 0.0]
    a.grad = None
    a.relu().sum().backward()
    z = tt.tensor([0.0], device=device, requires_grad=True)
    z.relu().sum().backward()
    assert z.grad.tolist() == [0.0]


def test_softmax_and_logsumexp_are_exact_for_large_inputs(device):
    x = tt.tensor([[1000.0, 1000.0, -1000.0], [-1000.0, 0.0, 1000.0]], device=device, requires_grad=True)
    np.testing.assert_allclose(tt.softmax(x, 1).detach().numpy(), [[0.5, 0.5, 0.0], [0.0, 0.0, 1.0]])
    np.testing.assert_allclose(tt.logsumexp(x, 1).detach().numpy(), [1000 + np.log(2), 1000.0], rtol=1e-7)
    np.testing.assert_allclose(tt.log_softmax(x, 1).detach().numpy()[0, :2], [-np.log(2)] * 2, rtol=1e-6)
    tt.log_softmax(x, 1)[:, 0].sum().backward()
    assert np.isfinite(x.grad.numpy()).all()
    inf = tt.tensor([float("-inf"), float("-inf")], device=device)
    assert tt.logsumexp(inf, 0).item() == float("-inf")
    assert tt.logsumexp(tt.tensor([float("inf"), 1.0], device=device), 0).item() == float("inf")


def test_var_signatures(device):
    x = tt.tensor([[1.0, 2.0, 4.0], [0.0, 0.0, 3.0]], dtype=tt.float64, device=device)
    v = x.numpy()
    np.testing.assert_allclose(x.var().item(), v.var(ddof=1))
    np.testing.assert_allclose(x.var(False).item(), v.var())
    np.testing.assert_allclose(x.var(1, False).numpy(), v.var(1))
    np.testing.assert_allclose(tt.var(x, 0, correction=0, keepdim=True).numpy(), v.var(0, keepdims=True))
    np.testing.assert_allclose(x.std(dim=1, unbiased=True).numpy(), v.std(1, ddof=1))
    assert x.var(dim=1, keepdim=True).shape == (2, 1)


ISCLOSE_CASES = [  # (a, b, kwargs): NaN, infinities, tolerances, broadcasting, integers, a number as b
    ([1.0, np.inf, -np.inf, np.nan, 2.0, 0.0], [1.0 + 1e-9, np.inf, np.inf, np.nan, 2.1, 1e-9], {}),
    ([1.0, np.inf, -np.inf, np.nan, 2.0, 0.0], [1.0 + 1e-9, np.inf, np.inf, np.nan, 2.1, 1e-9], {"equal_nan": True}),
    ([[1.0, 2.0], [3.0, 4.0]], [1.05, 4.1], {"rtol": 0.03, "atol": 0.0}),
    ([1, 2, 3], [1, 2, 5], {"atol": 1.5}),
    ([1.0, np.nan, 3.0], np.nan, {"equal_nan": True}),
    ([1.0, 2.0, 3.0], 2.0, {"atol": 0.5}),
]


@pytest.mark.parametrize("a,b,kwargs", ISCLOSE_CASES)
def test_isclose_and_allclose_match_torch(a, b, kwargs, device):
    torch = pytest.importorskip("torch")
    ta = tt.tensor(a, device=device)
    tb = b if np.isscalar(b) else tt.tensor(b, device=device)
    ra = torch.tensor(a)
    rb = torch.tensor(b, dtype=ra.dtype) if np.isscalar(b) else torch.tensor(b)
    got = tt.isclose(ta, tb, **kwargs)
    assert got.dtype is tt.bool
    np.testing.assert_array_equal(got.numpy(), torch.isclose(ra, rb.expand_as(ra) if rb.ndim == 0 else rb,
                                                             **kwargs).numpy())
    assert ta.allclose(tb, **kwargs) == bool(torch.isclose(ra, rb, **kwargs).all())


def test_isclose_checks_tolerances():
    with pytest.raises(ValueError, match="rtol=-1"):
        tt.isclose(tt.ones(2), tt.ones(2), rtol=-1)


def test_stride_storage_offset_and_sizes_match_pytorch() -> None:
    torch = pytest.importorskip("torch")
    views = [lambda L: L.arange(24.0).reshape(2, 3, 4).permute(2, 0, 1)[1:],
             lambda L: L.arange(24.0).reshape(4, 6)[1:, ::2],
             lambda L: L.arange(6.0).reshape(2, 3).t()[:, 1],
             lambda L: L.zeros(3, 1).expand(3, 5),
             lambda L: L.tensor(2.0)]
    for make in views:
        ours, theirs = make(tt), make(torch)
        assert ours.stride() == theirs.stride()
        assert [ours.stride(d) for d in range(-ours.dim(), ours.dim())] == \
               [theirs.stride(d) for d in range(-theirs.dim(), theirs.dim())]
        assert ours.storage_offset() == theirs.storage_offset()
        assert (ours.element_size(), ours.itemsize, ours.nbytes) == \
               (theirs.element_size(), theirs.itemsize, theirs.nbytes)
    for bad in (3, -4):
        with pytest.raises(IndexError, match="Dimension out of range"):
            tt.zeros(2, 3, 4).stride(bad)
    with pytest.raises(IndexError, match="no dimensions"):
        tt.tensor(1.0).stride(0)


# --- issue 13: PyTorch's answer at the edges (each row a reproduction that used to differ) -------------
EDGE_ROWS = {
    # a Python bool (or a 0-d bool) as an index is a 0-d mask: a new axis of length 1 or 0
    "x[True]": lambda t, F, d: t.arange(6, device=d).reshape(2, 3)[True],
    "x[False]": lambda t, F, d: t.arange(6, device=d).reshape(2, 3)[False],
    "x[True, 1]": lambda t, F, d: t.arange(6, device=d).reshape(2, 3)[True, 1],
    "x[1, False, ::2]": lambda t, F, d: t.arange(6, device=d).reshape(2, 3)[1, False, ::2],
    "x[tensor(True)]": lambda t, F, d: t.arange(3, device=d)[t.tensor(True, device=d)],
    "x[True, [0, 1]]": lambda t, F, d: t.arange(6, device=d).reshape(2, 3)[True, [0, 1]],
    "y[True] = 5": lambda t, F, d: _assigned(t.arange(3, device=d), True, 5),
    "y[False] = 5": lambda t, F, d: _assigned(t.arange(3, device=d), False, 5),
    "x[[]]": lambda t, F, d: t.arange(3, device=d)[[]],
    "x2d[[]]": lambda t, F, d: t.zeros(3, 2, device=d)[[]],
    "x2d[:, []]": lambda t, F, d: t.zeros(3, 2, device=d)[:, []],
    # empty dim lists change nothing
    "flip([])": lambda t, F, d: t.arange(4, device=d).reshape(2, 2).flip([]),
    "flip(())": lambda t, F, d: t.arange(4, device=d).flip(()),
    "squeeze(())": lambda t, F, d: t.zeros(1, 2, 1, device=d).squeeze(()),
    "squeeze(dim=[])": lambda t, F, d: t.zeros(1, 2, 1, device=d).squeeze([]),
    # bools stay bools, ints stay ints
    "triu(bool)": lambda t, F, d: t.ones(3, 3, dtype=t.bool, device=d).triu(),
    "tril(bool, -1)": lambda t, F, d: t.ones(3, 3, dtype=t.bool, device=d).tril(-1),
    "min(bool)": lambda t, F, d: t.tensor([True, False], device=d).min(),
    "max(bool)": lambda t, F, d: t.tensor([True, False], device=d).max(),
    "amin(bool)": lambda t, F, d: t.tensor([[True, False]], device=d).amin(1),
    "maximum(bool)": lambda t, F, d: t.maximum(t.tensor([True, False], device=d), t.tensor([False, False], device=d)),
    "minimum(bool)": lambda t, F, d: t.minimum(t.tensor([True, False], device=d), t.tensor([True, True], device=d)),
    "masked_fill(int, 0.5)": lambda t, F, d: t.tensor([1, 2], device=d).masked_fill(_mask(t, d, True, False), 0.5),
    "masked_fill(int, -2.7)": lambda t, F, d: t.tensor([1, 2], device=d).masked_fill(_mask(t, d, True, False), -2.7),
    "masked_fill(bool, 2)": lambda t, F, d: _mask(t, d, True, False).masked_fill(_mask(t, d, False, True), 2),
    # INT64_MIN is exact
    "min(INT64_MIN)": lambda t, F, d: t.tensor([-2**63, 5], device=d).min(),
    "amin(INT64_MIN)": lambda t, F, d: t.tensor([[-2**63, 5, -2**63 + 1]], device=d).amin(1),
    "min(INT64_MIN, dim)": lambda t, F, d: t.tensor([[5, -2**63]], device=d).min(1),
    "max(INT64_MAX)": lambda t, F, d: t.tensor([2**63 - 1, -2**63], device=d).max(),
    # empty pieces
    "chunk(empty, 3)": lambda t, F, d: t.zeros(0, device=d).chunk(3),
    "chunk(empty 2-d, 2, dim=1)": lambda t, F, d: t.zeros(2, 0, device=d).chunk(2, 1),
    "split(empty, 0)": lambda t, F, d: t.zeros(0, device=d).split(0),
    "chunk(5, 3)": lambda t, F, d: t.arange(5, device=d).chunk(3),
    "chunk(2, 3)": lambda t, F, d: t.arange(2, device=d).chunk(3),
    # special values
    "rsqrt": lambda t, F, d: t.rsqrt(t.tensor([-math.inf, -0.0, 0.0, -1.0, 4.0, math.inf, math.nan], device=d)),
    "rsqrt(int)": lambda t, F, d: t.rsqrt(t.tensor([4, 0], device=d)),
    "sign": lambda t, F, d: t.sign(t.tensor([math.nan, -0.0, 0.0, -2.0, 3.0, -math.inf], device=d)),
    "sign(int)": lambda t, F, d: t.sign(t.tensor([-5, 0, 7], device=d)),
    "sign(bool)": lambda t, F, d: t.sign(t.tensor([True, False], device=d)),
    "std of huge float32": lambda t, F, d: t.tensor([1e20, -1e20], device=d).std(),
    "std of huge float32 along a dim": lambda t, F, d: t.tensor([[3e19, -3e19, 1e19], [1., 2., 3.]], device=d).std(1),
    "std of equal values": lambda t, F, d: t.tensor([2.5, 2.5, 2.5], device=d).std(),
    "var of huge float32 (inf, as PyTorch)": lambda t, F, d: t.tensor([1e20, -1e20], device=d).var(),
    "logsumexp(bool)": lambda t, F, d: t.logsumexp(t.tensor([[True, False], [True, True]], device=d), 1),
    "logsumexp(int)": lambda t, F, d: t.logsumexp(t.tensor([1, 2, 3], device=d), 0),
    # 0-d tensors take dim 0 and -1
    "argmax(0-d, 0)": lambda t, F, d: t.tensor(3.0, device=d).argmax(0),
    "argmin(0-d, -1, keepdim)": lambda t, F, d: t.tensor(3.0, device=d).argmin(-1, keepdim=True),
    "max(0-d, 0)": lambda t, F, d: tuple(t.tensor(3.0, device=d).max(0)),
}


def _mask(t, d, *values):
    return t.tensor(values, device=d)


def _assigned(y, key, value):
    y[key] = value
    return y


@pytest.mark.parametrize("row", list(EDGE_ROWS))
def test_edge_rows_match_pytorch(row, device):
    pytest.importorskip("torch")
    from torch_compare import both, close

    ours, theirs = both(EDGE_ROWS[row], device)
    assert close(ours, theirs, rtol=1e-6, atol=0.0), (ours, theirs)  # floats to 1e-6 (std rounds), the rest exact
