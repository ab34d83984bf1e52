"""The in-place forms of the ops (``exp_``, ``pow_``, ``lt_``, ``addcmul_``, ``t_``, ``put_``,
``exponential_``…): each writes the out-of-place op's value into ``self`` and returns ``self``.

Every case is checked against a numpy reference (always) and against PyTorch (when it is
installed): the values written, that ``self`` is returned, that a view's base sees the
write, and PyTorch's errors (a leaf that requires grad; a float result for an integer
tensor; a result of another shape). The random samplers are checked for their support and
moments on 20k draws, and for reproducibility under ``manual_seed`` and ``generator=``.
"""

from __future__ import annotations

import math
from typing import Any, Callable, NamedTuple

import numpy as np
import pytest

import tinytorch as tt

try:
    import torch
except ImportError:  # the PyTorch comparisons are skipped without it
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="torch is not installed")

F32, F64, I64 = np.float32, np.float64, np.int64
X = np.array([[-1.7, -0.5, 0.0, 0.3], [0.5, 1.2, 2.5, 3.9]], dtype=F32)  # halves: round_ goes to even
POS = np.array([[0.2, 0.5, 1.0, 1.5], [2.0, 3.0, 4.5, 9.0]], dtype=F32)
UNIT = np.array([[-0.9, -0.5, -0.1, 0.0], [0.2, 0.4, 0.7, 0.95]], dtype=F32)
PROB = np.array([[0.05, 0.2, 0.3, 0.45], [0.5, 0.6, 0.8, 0.95]], dtype=F32)
Y = np.array([[0.7, -1.1, 2.0, -0.4], [1.5, 0.9, -2.2, 0.6]], dtype=F32)
Z = np.array([[1.3, 0.8, -0.6, 2.1], [-1.4, 0.35, 1.9, -0.75]], dtype=F32)
INTS = np.array([[-7, -2, 0, 3], [5, 6, 12, 255]], dtype=I64)
SMALL = np.array([[1, 0, 2, 3], [1, 2, 0, 4]], dtype=I64)
NONFINITE = np.array([[np.nan, np.inf, -np.inf, 1.5], [-2.0, np.nan, 0.0, np.inf]], dtype=F32)
MASK = np.array([True, False, True, False])
MAT = np.arange(12, dtype=F32).reshape(3, 4) / 7 - 0.5

verf = np.vectorize(math.erf, otypes=[F64])


def erfinv(y: np.ndarray) -> np.ndarray:
    """Newton's method on erf (the reference; numpy has no erfinv)."""
    x = np.zeros_like(y, dtype=F64)
    for _ in range(60):
        x -= (verf(x) - y) / (2 / math.sqrt(math.pi) * np.exp(-x * x))
    return x


class Case(NamedTuple):
    """``self_.<method>(*args, **kwargs)`` should write ``ref(self_, *arrays)``, ``arrays`` the
    numpy arrays among ``args`` (they become tensors; the numbers are ``ref``'s own)."""

    method: str
    self_: np.ndarray
    args: tuple
    kwargs: dict
    ref: Callable[..., Any]


def case(method: str, self_: np.ndarray, ref: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    return pytest.param(Case(method, self_, args, kwargs, ref), id=method + ("-" + "-".join(
        f"{k}={v}" for k, v in kwargs.items()) if kwargs else "") + f"-{self_.dtype}")


UNARY = [
    case("abs_", X, np.abs), case("absolute_", X, np.abs), case("abs_", INTS, np.abs),
    case("neg_", X, np.negative), case("negative_", INTS, np.negative),
    case("exp_", X, np.exp), case("exp2_", X, np.exp2), case("expm1_", X, np.expm1),
    case("log_", POS, np.log), case("log2_", POS, np.log2), case("log10_", POS, np.log10),
    case("log1p_", POS, np.log1p), case("sqrt_", POS, np.sqrt), case("rsqrt_", POS, lambda a: 1 / np.sqrt(a)),
    case("reciprocal_", POS, lambda a: 1 / a), case("square_", X, np.square), case("square_", INTS, np.square),
    case("sigmoid_", X, lambda a: 1 / (1 + np.exp(-a))), case("relu_", X, lambda a: np.maximum(a, 0)),
    case("lgamma_", POS, np.vectorize(math.lgamma)),
    case("mvlgamma_", POS + 1, lambda a: np.vectorize(math.lgamma)(a) + np.vectorize(math.lgamma)(a - 0.5)
         + 0.5 * math.log(math.pi), 2),
    case("digamma_", POS, lambda a: tt.digamma(tt.tensor(a)).numpy()),  # digamma's values: the op table's rows
    case("relu_", INTS, lambda a: np.maximum(a, 0)), case("tanh_", X, np.tanh),
    case("sin_", X, np.sin), case("cos_", X, np.cos), case("tan_", UNIT, np.tan),
    case("sinh_", X, np.sinh), case("cosh_", X, np.cosh), case("asinh_", X, np.arcsinh),
    case("arcsinh_", X, np.arcsinh), case("acosh_", POS + 1, np.arccosh), case("arccosh_", POS + 1, np.arccosh),
    case("asin_", UNIT, np.arcsin), case("arcsin_", UNIT, np.arcsin), case("acos_", UNIT, np.arccos),
    case("arccos_", UNIT, np.arccos), case("atan_", X, np.arctan), case("arctan_", X, np.arctan),
    case("atanh_", UNIT, np.arctanh), case("arctanh_", UNIT, np.arctanh),
    case("erf_", X, verf), case("erfc_", X, lambda a: 1 - verf(a)), case("erfinv_", UNIT, erfinv),
    case("floor_", X, np.floor), case("ceil_", X, np.ceil), case("trunc_", X, np.trunc), case("fix_", X, np.trunc),
    case("floor_", INTS, np.floor), case("frac_", X, lambda a: a - np.trunc(a)),
    case("round_", X, np.round), case("round_", X * 1.37, lambda a: np.round(a.astype(F64), 1), decimals=1),
    case("sign_", X, np.sign), case("sgn_", X, np.sign), case("sign_", INTS, np.sign),
    case("deg2rad_", X * 100, np.deg2rad), case("rad2deg_", X, np.rad2deg), case("sinc_", X, np.sinc),
    case("logit_", PROB, lambda a: np.log(a / (1 - a))),
    case("logit_", PROB, lambda a: np.log(np.clip(a, 0.1, 0.9) / (1 - np.clip(a, 0.1, 0.9))), eps=0.1),
    case("nan_to_num_", NONFINITE, lambda a: np.nan_to_num(a.astype(F32))),  # float32's largest
    case("nan_to_num_", NONFINITE, lambda a: np.nan_to_num(a, nan=1.0, posinf=2.0, neginf=-3.0),
         nan=1.0, posinf=2.0, neginf=-3.0),
    case("logical_not_", X, lambda a: a == 0), case("logical_not_", INTS, lambda a: a == 0),
    case("bitwise_not_", INTS, np.invert),
    case("tril_", MAT, np.tril), case("tril_", MAT, lambda a: np.tril(a, 1), 1),
    case("triu_", MAT, np.triu), case("triu_", MAT, lambda a: np.triu(a, -1), diagonal=-1),
    case("cumsum_", X, lambda a: np.cumsum(a, 1), 1), case("cumsum_", INTS, lambda a: np.cumsum(a, 0), 0),
    case("cumprod_", X, lambda a: np.cumprod(a, 1), dim=1),
    case("clamp_min_", X, lambda a: np.maximum(a, 0.4), 0.4), case("clamp_max_", X, lambda a: np.minimum(a, 0.4), 0.4),
    case("clip_", X, lambda a: np.clip(a, -1, 1), -1, 1), case("clip_", X, lambda a: np.minimum(a, 2), max=2),
]
BINARY = [
    case("pow_", X, lambda a: a ** 2, 2), case("pow_", POS, lambda a, b: a ** b, Y),
    case("pow_", INTS, lambda a: a ** 2, 2), case("float_power_", X.astype(F64), lambda a: a ** 3, 3),
    case("fmod_", X, lambda a: np.fmod(a, 0.7), 0.7), case("fmod_", INTS, lambda a: np.fmod(a, 4), 4),
    case("remainder_", X, lambda a, b: np.mod(a, b), Y), case("remainder_", INTS, lambda a: np.mod(a, 4), 4),
    case("floor_divide_", X, lambda a, b: np.floor_divide(a, b), Y),
    case("floor_divide_", INTS, lambda a: np.floor_divide(a, 4), 4),
    case("div_", INTS, lambda a: np.floor_divide(a, 4), 4, rounding_mode="floor"),
    case("div_", INTS, lambda a: np.trunc(a / 4), 4, rounding_mode="trunc"),
    case("divide_", X, lambda a, b: a / b, Y), case("true_divide_", X, lambda a: a / 4, 4),
    case("multiply_", X, lambda a, b: a * b, Y), case("subtract_", X, lambda a, b: a - 2 * b, Y, alpha=2),
    case("atan2_", X, np.arctan2, Y), case("arctan2_", X, np.arctan2, Y), case("copysign_", X, np.copysign, Y),
    case("hypot_", X, np.hypot, Y), case("heaviside_", X, np.heaviside, np.array(0.5, F32)),
    case("xlogy_", X, lambda a, b: np.where(a == 0, 0, a * np.log(b)), POS),
    case("lerp_", X, lambda a, b: a + 0.3 * (b - a), Y, 0.3),
    case("lerp_", X, lambda a, b, w: a + w * (b - a), Y, PROB),
    case("addcmul_", X, lambda a, b, c: a + b * c, Y, Z),
    case("addcmul_", X, lambda a, b, c: a - 0.5 * b * c, Y, Z, value=-0.5),
    case("addcdiv_", X, lambda a, b, c: a + 2 * b / c, Y, Z, value=2),
    case("eq_", X, lambda a, b: a == b, np.where(MASK, X, Y)), case("eq_", INTS, lambda a: a == 0, 0),
    case("ne_", X, lambda a: a != 0.5, 0.5), case("not_equal_", X, lambda a: a != 0.5, 0.5),
    case("lt_", X, lambda a, b: a < b, Y), case("less_", X, lambda a, b: a < b, Y),
    case("le_", X, lambda a: a <= 0.5, 0.5), case("less_equal_", X, lambda a: a <= 0.5, 0.5),
    case("gt_", X, lambda a, b: a > b, Y), case("greater_", X, lambda a, b: a > b, Y),
    case("ge_", INTS, lambda a: a >= 3, 3), case("greater_equal_", X, lambda a: a >= 0.5, 0.5),
    case("lt_", X, lambda a, b: a < b, Y[0]),  # the other operand broadcasts to self's shape
    case("logical_and_", X, np.logical_and, Y * (X > 0)), case("logical_or_", X, np.logical_or, Y * (X > 0)),
    case("logical_xor_", X, np.logical_xor, Y * (X > 0)),
    case("bitwise_and_", INTS, np.bitwise_and, SMALL * 3), case("bitwise_or_", INTS, np.bitwise_or, SMALL * 3),
    case("bitwise_xor_", INTS, np.bitwise_xor, SMALL * 3),
    case("bitwise_left_shift_", INTS, np.left_shift, SMALL), case("bitwise_right_shift_", INTS, np.right_shift, SMALL),
    case("masked_fill_", X, lambda a, m: np.where(m, 9.5, a), MASK, 9.5),
    case("masked_fill_", INTS, lambda a, m: np.where(m, 1, a), MASK, 1.5),  # the value is cast to self's dtype
    case("masked_fill_", X, lambda a, m, v: np.where(m, v, a), MASK, np.array(-2.0, F32)),
    case("addmm_", X[:, :3], lambda a, b, c: 0.5 * a + 2 * b @ c, Y[:, :2], Z[:, :3], beta=0.5, alpha=2),
    case("addmv_", X[0], lambda a, b, c: a + b @ c, MAT.T, MAT[:, 0]),
    case("addr_", X, lambda a, b, c: a - np.outer(b, c), Y[:, 0], Z[0], alpha=-1),
    case("baddbmm_", np.stack([X, Y]), lambda a, b, c: a + b @ c, np.stack([MAT.T[:2]] * 2)[:, :, :2],
         np.stack([Z] * 2)),
    case("addbmm_", X, lambda a, b, c: 2 * a + (b @ c).sum(0), np.stack([MAT.T[:2]] * 3)[:, :, :2],
         np.stack([Z] * 3), beta=2),
]
CASES = UNARY + BINARY


def as_tt(v: Any, device: str) -> Any:
    return tt.tensor(v, device=device) if isinstance(v, np.ndarray) else v


def as_torch(v: Any) -> Any:
    return torch.from_numpy(np.array(v)) if isinstance(v, np.ndarray) else v


def expected(c: Case) -> np.ndarray:
    """The reference value, in self's dtype (comparisons give bools: 1 / 0)."""
    arrays = [a for a in c.args if isinstance(a, np.ndarray)]
    return np.asarray(c.ref(c.self_.astype(F64) if c.self_.dtype == F32 else c.self_, *arrays)).astype(c.self_.dtype)


def check_close(got: np.ndarray, want: np.ndarray) -> None:
    assert got.dtype == want.dtype
    if got.dtype.kind == "f":
        np.testing.assert_allclose(got, want, rtol=2e-5, atol=2e-6)
    else:
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("c", CASES)
def test_writes_the_reference_value_and_returns_self(c: Case, device: str) -> None:
    t = tt.tensor(c.self_, device=device)
    out = getattr(t, c.method)(*(as_tt(a, device) for a in c.args), **c.kwargs)
    assert out is t
    check_close(t.numpy(), expected(c))


@pytest.mark.parametrize("c", CASES)
def test_a_views_base_sees_the_write(c: Case, device: str) -> None:
    base = tt.tensor(np.stack([c.self_, c.self_]), device=device)
    view = base[1]
    assert getattr(view, c.method)(*(as_tt(a, device) for a in c.args), **c.kwargs) is view
    check_close(base.numpy()[1], expected(c))
    check_close(base.numpy()[0], c.self_)  # only the view's elements were written


@needs_torch
@pytest.mark.parametrize("c", CASES)
def test_matches_torch(c: Case) -> None:
    t, ref = tt.tensor(c.self_, device="numpy"), torch.from_numpy(c.self_.copy())
    getattr(t, c.method)(*(as_tt(a, "numpy") for a in c.args), **c.kwargs)
    getattr(ref, c.method)(*(as_torch(a) for a in c.args), **c.kwargs)
    check_close(t.numpy(), ref.numpy())


@pytest.mark.parametrize("c", [p for p in CASES if p.values[0].self_.dtype.kind == "f"])
def test_a_leaf_that_requires_grad_is_refused_outside_no_grad(c: Case) -> None:
    w = tt.tensor(c.self_, requires_grad=True, device="numpy")
    args = [as_tt(a, "numpy") for a in c.args]
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        getattr(w, c.method)(*args, **c.kwargs)
    with tt.no_grad():  # how optimizers and init code write into parameters
        assert getattr(w, c.method)(*args, **c.kwargs) is w
    assert w.requires_grad and w.grad_fn is None  # not recorded in the graph
    check_close(w.detach().numpy(), expected(c))


def test_a_non_leaf_and_a_value_that_require_grad_are_refused() -> None:
    w = tt.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="in-place"):
        (w * 2).exp_()
    with pytest.raises(RuntimeError, match="requires grad"):
        tt.ones(3).pow_(w)
    with pytest.raises(RuntimeError, match="requires grad"):
        tt.ones(3).addcmul_(tt.ones(3), w)


INT_TO_FLOAT = [("exp_", ()), ("sqrt_", ()), ("log_", ()), ("sigmoid_", ()), ("sin_", ()), ("rsqrt_", ()),
                ("reciprocal_", ()), ("pow_", (0.5,)), ("true_divide_", (2,)), ("divide_", (2,)),
                ("atan2_", (tt.tensor([1.0, 1.0]),)), ("xlogy_", (2,)), ("lerp_", (tt.tensor([1.0, 2.0]), 0.5)),
                ("erf_", ()),
                ("clamp_min_", (0.5,)), ("deg2rad_", ())]


@pytest.mark.parametrize("method,args", INT_TO_FLOAT, ids=[m for m, _ in INT_TO_FLOAT])
def test_an_integer_tensor_refuses_a_float_result(method: str, args: tuple, device: str) -> None:
    t = tt.tensor([1, 2], device=device)
    args = tuple(a.to(device) if isinstance(a, tt.Tensor) else a for a in args)
    with pytest.raises(RuntimeError, match="can't be cast to the desired output type int64"):
        getattr(t, method)(*args)
    assert t.tolist() == [1, 2]  # nothing was written


@needs_torch
@pytest.mark.parametrize("method,args", INT_TO_FLOAT, ids=[m for m, _ in INT_TO_FLOAT])
def test_pytorch_refuses_those_too(method: str, args: tuple) -> None:
    args = tuple(torch.tensor(a.tolist()) if isinstance(a, tt.Tensor) else a for a in args)
    with pytest.raises(RuntimeError):  # "can't be cast"; lerp_: NotImplementedError, a RuntimeError too
        getattr(torch.tensor([1, 2]), method)(*args)


@pytest.mark.parametrize("call,pattern", [
    (lambda: tt.zeros(2).lt_(tt.zeros(2, 2)), r"output with shape \[2\] doesn't match the broadcast shape \[2, 2\]"),
    (lambda: tt.zeros(1, 2).pow_(tt.ones(2, 2)), r"output with shape \[1, 2\]"),
    (lambda: tt.zeros(3).masked_fill_(tt.tensor([[True, False, True]] * 2), 1.0), r"output with shape \[3\]"),
    (lambda: tt.zeros(2, 1).addmm_(tt.ones(2, 3), tt.ones(3, 2)), r"output with shape \[2, 1\]"),
    (lambda: tt.zeros(2, 2).masked_fill_(tt.tensor([1, 0]), 1.5), "only supports boolean masks"),
    (lambda: tt.zeros(2).float_power_(2), "float_power_ has dtype float32"),
    (lambda: tt.tensor([True, False]).neg_(), "Negation"),
    (lambda: tt.tensor([True, False]).square_(), "can't be cast to the desired output type bool"),
    (lambda: tt.zeros(2, 3, 4).t_(), "t\\(\\) expects a tensor with <= 2 dimensions"),
    (lambda: tt.zeros(3).tril_(), "at least 2 dimensions"),
])
def test_pytorchs_errors(call: Callable[[], Any], pattern: str) -> None:
    with pytest.raises(RuntimeError, match=pattern):
        call()


def test_the_methods_have_their_names_and_docs() -> None:
    for name in ("exp_", "pow_", "lt_", "addcmul_", "cumsum_", "tril_"):
        fn = vars(tt.Tensor)[name]
        assert fn.__name__ == fn.__qualname__ == name
        assert name[:-1] in fn.__doc__ and "self" in fn.__doc__
    assert vars(tt.Tensor)["absolute_"] is vars(tt.Tensor)["abs_"]  # aliases are the same function
    assert vars(tt.Tensor)["clip_"] is vars(tt.Tensor)["clamp_"]
    assert vars(tt.Tensor)["swapaxes_"] is vars(tt.Tensor)["transpose_"]


@needs_torch
def test_every_inplace_form_of_a_tinytorch_op_is_there() -> None:
    """PyTorch's ``<op>_`` methods whose ``<op>`` tinytorch has."""
    missing = {n for n in dir(torch.Tensor) if n.endswith("_") and not n.startswith("_")
               and hasattr(tt.Tensor, n[:-1]) and not hasattr(tt.Tensor, n)}
    assert not missing, sorted(missing)


# --- the in-place operators --------------------------------------------------------------------------------
@pytest.mark.parametrize("op,a,b,ref", [
    ("**=", [1.0, 2.0, 3.0], 2, [1.0, 4.0, 9.0]),
    ("//=", [7, -7, 9], 2, [3, -4, 4]),
    ("%=", [7, -7, 9], 4, [3, 1, 1]),
    ("&=", [6, 5, 12], 3, [2, 1, 0]),
    ("|=", [6, 5, 12], 3, [7, 7, 15]),
    ("^=", [6, 5, 12], 3, [5, 6, 15]),
    ("<<=", [1, 2, 3], 2, [4, 8, 12]),
    (">>=", [16, 9, 3], 1, [8, 4, 1]),
])
def test_the_inplace_operators_write_into_the_tensor(op: str, a: list, b: int, ref: list, device: str) -> None:
    t = tt.tensor(a, device=device)
    alias = t
    namespace = {"t": t, "b": b}
    exec(f"t {op} b", namespace)
    assert namespace["t"] is alias and alias.tolist() == ref  # written in place, not rebound
    if torch is not None:
        mirror = {"t": torch.tensor(a), "b": b}
        exec(f"t {op} b", mirror)
        assert mirror["t"].tolist() == ref


def test_an_integer_tensor_refuses_a_float_power() -> None:
    t = tt.tensor([1, 2])
    with pytest.raises(RuntimeError, match="can't be cast"):
        t **= 0.5


# --- the view ops' in-place forms --------------------------------------------------------------------------
def test_t_and_transpose_make_self_the_new_view(device: str) -> None:
    base = tt.tensor(np.arange(6, dtype=F32).reshape(2, 3), device=device)
    v = base[:]
    assert v.t_() is v
    assert v.shape == (3, 2) and v.tolist() == np.arange(6).reshape(2, 3).T.tolist()
    assert v.stride() == (1, 3)
    v[2, 0] = 50.0  # the same storage: base sees the write
    assert base[0, 2].item() == 50.0
    u = tt.zeros(2, 3, 4, device=device)
    assert u.transpose_(0, 2) is u and u.shape == (4, 3, 2) and u.stride() == (1, 4, 12)
    assert u.swapaxes_(0, 1).shape == (3, 4, 2) and u.swapdims_(-1, 0).shape == (2, 4, 3)
    w = tt.ones(3, device=device)
    assert w.t_() is w and w.shape == (3,)


def test_squeeze_and_unsqueeze_make_self_the_new_view(device: str) -> None:
    base = tt.zeros(3, 1, 4, 1, device=device)
    v = base[:, :, ::2]  # not contiguous
    assert v.squeeze_(1) is v and v.shape == (3, 2, 1)
    assert v.squeeze_() is v and v.shape == (3, 2)
    assert v.squeeze_(0) is v and v.shape == (3, 2)  # a dim of size 3 stays
    assert v.unsqueeze_(-1) is v and v.shape == (3, 2, 1)
    assert v.unsqueeze_(0) is v and v.shape == (1, 3, 2, 1)
    v[0, 2, 1, 0] = 7.0
    assert base[2, 0, 2, 0].item() == 7.0
    assert base.numpy().sum() == 7.0


@needs_torch
def test_the_view_ops_match_torch() -> None:
    for method, args, shape in [("t_", (), (2, 3)), ("transpose_", (0, 2), (2, 3, 4)), ("squeeze_", (), (1, 3, 1)),
                                ("squeeze_", (2,), (1, 3, 1)), ("unsqueeze_", (-2,), (2, 3)),
                                ("swapdims_", (1, 0), (2, 3))]:
        a = np.arange(math.prod(shape), dtype=F32).reshape(shape)
        t, ref = tt.tensor(a), torch.from_numpy(a.copy())
        getattr(t, method)(*args)
        getattr(ref, method)(*args)
        assert t.shape == tuple(ref.shape) and t.stride() == ref.stride() and t.tolist() == ref.tolist(), method


def test_the_view_ops_refuse_a_leaf_that_requires_grad() -> None:
    for method, args in [("t_", ()), ("transpose_", (0, 1)), ("squeeze_", ()), ("unsqueeze_", (0,))]:
        w = tt.ones(2, 1, requires_grad=True)
        with pytest.raises(RuntimeError, match="leaf Variable"):
            getattr(w, method)(*args)
        assert w.shape == (2, 1)


# --- detach_ -----------------------------------------------------------------------------------------------
def test_detach_makes_self_a_leaf_that_does_not_require_grad() -> None:
    x = tt.ones(3, requires_grad=True)
    y = x * 2
    assert y.detach_() is y
    assert not y.requires_grad and y.grad_fn is None and y.is_leaf
    assert x.requires_grad and y.tolist() == [2.0, 2.0, 2.0]
    (y * x).sum().backward()  # y is a constant now
    assert x.grad.tolist() == [2.0, 2.0, 2.0]
    assert x.detach_() is x and not x.requires_grad
    assert tt.ones(2).detach_().tolist() == [1.0, 1.0]


def test_detach_refuses_a_view_of_a_tensor_that_requires_grad() -> None:
    x = tt.ones(2, 3, requires_grad=True)
    for view in (x[0], x.t(), x.unsqueeze(0)):
        with pytest.raises(RuntimeError, match="Can't detach views in-place"):
            view.detach_()
    with tt.no_grad():
        v = x[0]
    assert v.detach_() is v  # no graph, nothing to cut
    if torch is not None:
        with pytest.raises(RuntimeError, match="Can't detach views in-place"):
            torch.ones(2, 3, requires_grad=True)[0].detach_()


# --- index writes ------------------------------------------------------------------------------------------
def test_index_put(device: str) -> None:
    a = np.arange(12, dtype=F32).reshape(3, 4)
    t = tt.tensor(a, device=device)
    rows, cols = tt.tensor([0, 2, 0], device=device), tt.tensor([1, 3, 1], device=device)
    assert t.index_put_((rows, cols), tt.tensor([10.0, 20.0, 30.0], device=device), accumulate=True) is t
    want = a.copy()
    np.add.at(want, ([0, 2, 0], [1, 3, 1]), [10.0, 20.0, 30.0])  # the repeated (0, 1) adds up
    assert t.numpy().tolist() == want.tolist()
    t.index_put_([tt.tensor([True, False, True], device=device)], tt.tensor(-1.0, device=device))
    want[[0, 2]] = -1
    assert t.numpy().tolist() == want.tolist()
    t.index_put_((tt.tensor([[0], [1]], device=device), tt.tensor([3, 0], device=device)),
                 tt.tensor([5.0, 6.0], device=device))  # the index tensors broadcast: (0, 3) (0, 0) (1, 3) (1, 0)
    want[[0, 0, 1, 1], [3, 0, 3, 0]] = [5, 6, 5, 6]
    assert t.numpy().tolist() == want.tolist()
    if torch is not None:
        ref = torch.from_numpy(a.copy())
        ref.index_put_((torch.tensor([0, 2, 0]), torch.tensor([1, 3, 1])), torch.tensor([10.0, 20.0, 30.0]),
                       accumulate=True)
        ref.index_put_([torch.tensor([True, False, True])], torch.tensor(-1.0))
        ref.index_put_((torch.tensor([[0], [1]]), torch.tensor([3, 0])), torch.tensor([5.0, 6.0]))
        assert ref.tolist() == want.tolist()


def test_index_put_errors() -> None:
    t = tt.zeros(3)
    with pytest.raises(RuntimeError, match="dtypes match, got float32 for the destination and int64"):
        t.index_put_((tt.tensor([0]),), tt.tensor([1]))
    with pytest.raises(TypeError, match="must be Tensor"):
        t.index_put_((tt.tensor([0]),), 1.0)
    with pytest.raises(TypeError, match="expected Tensor as element 1"):
        t.index_put_((tt.tensor([0]), None), tt.tensor(1.0))
    with pytest.raises(RuntimeError, match="leaf Variable"):
        tt.zeros(3, requires_grad=True).index_put_((tt.tensor([0]),), tt.tensor(1.0))


def test_put(device: str) -> None:
    a = np.arange(6, dtype=F32).reshape(2, 3)
    base = tt.tensor(a, device=device)
    t = base.t()  # not contiguous: put_ reads t in its own row-major order, as PyTorch
    idx, src = [1, -1, 2], [10.0, 20.0, 30.0]
    assert t.put_(tt.tensor(idx, device=device), tt.tensor(src, device=device)) is t
    want = a.T.copy()
    want.flat[[1, 5, 2]] = src
    assert t.numpy().tolist() == want.tolist()
    assert base.numpy().tolist() == want.T.tolist()  # written through to the base
    t.put_(tt.tensor([[0, 0], [3, 0]], device=device), tt.tensor([1.0, 2.0, 3.0, 4.0], device=device),
           accumulate=True)
    want.flat[0] += 7
    want.flat[3] += 3
    assert t.numpy().tolist() == want.tolist()
    s = tt.tensor(1.0, device=device)
    assert s.put_(tt.tensor([-1], device=device), tt.tensor([5.0], device=device)).item() == 5.0
    if torch is not None:
        ref = torch.from_numpy(a.copy()).t()
        ref.put_(torch.tensor(idx), torch.tensor(src))
        ref.put_(torch.tensor([[0, 0], [3, 0]]), torch.tensor([1.0, 2.0, 3.0, 4.0]), accumulate=True)
        assert ref.tolist() == want.tolist()


@pytest.mark.parametrize("call,exc,pattern", [
    (lambda: tt.zeros(2, 3).put_(tt.tensor([6]), tt.tensor([1.0])), IndexError, "index 6 on a tensor of 6"),
    (lambda: tt.zeros(2, 3).put_(tt.tensor([-7]), tt.tensor([1.0])), IndexError, "index -7"),
    (lambda: tt.zeros(2, 3).put_(tt.tensor([1.0]), tt.tensor([1.0])), RuntimeError, "long tensor for index"),
    (lambda: tt.zeros(2, 3).put_(tt.tensor([1]), tt.tensor([1])), RuntimeError, "same dtype"),
    (lambda: tt.zeros(2, 3).put_(tt.tensor([1, 2]), tt.tensor([1.0])), IndexError, "same number of elements"),
    (lambda: tt.zeros(3, requires_grad=True).put_(tt.tensor([1]), tt.tensor([1.0])), RuntimeError, "leaf"),
])
def test_put_errors(call: Callable[[], Any], exc: type, pattern: str) -> None:
    with pytest.raises(exc, match=pattern):
        call()


@pytest.mark.parametrize("shape,wrap", [((3, 3), False), ((2, 5), False), ((5, 2), False), ((7, 3), True),
                                        ((7, 3), False), ((4, 3), True), ((3, 3, 3), False)])
def test_fill_diagonal(shape: tuple, wrap: bool, device: str) -> None:
    a = np.arange(math.prod(shape), dtype=F32).reshape(shape)
    t = tt.tensor(a, device=device)
    assert t.fill_diagonal_(-1.5, wrap=wrap) is t
    want = a.copy()
    np.fill_diagonal(want, -1.5, wrap=wrap)
    assert t.numpy().tolist() == want.tolist()
    if torch is not None:
        assert torch.from_numpy(a.copy()).fill_diagonal_(-1.5, wrap=wrap).tolist() == want.tolist()


def test_fill_diagonal_values_and_errors(device: str) -> None:
    t = tt.zeros(2, 2, dtype=tt.int64, device=device)
    assert t.fill_diagonal_(tt.tensor(3, device=device)).tolist() == [[3, 0], [0, 3]]
    base = tt.zeros(3, 4, device=device)
    base[1:].fill_diagonal_(2.0)
    assert base.tolist() == [[0, 0, 0, 0], [2, 0, 0, 0], [0, 2, 0, 0]]
    with pytest.raises(RuntimeError, match="dimensions must larger than 1"):
        tt.zeros(3).fill_diagonal_(1)
    with pytest.raises(RuntimeError, match="equal length"):
        tt.zeros(3, 3, 2).fill_diagonal_(1)
    with pytest.raises(RuntimeError, match="leaf Variable"):
        tt.zeros(2, 2, requires_grad=True).fill_diagonal_(1)


# --- random samplers ---------------------------------------------------------------------------------------
N = 20_000


def draw(method: str, *args: Any, dtype: Any = tt.float32, seed: int = 0, device: str = "numpy",
         **kwargs: Any) -> np.ndarray:
    t = tt.empty(N, dtype=dtype, device=device)
    out = getattr(t, method)(*args, generator=tt.Generator().manual_seed(seed), **kwargs)
    assert out is t and t.dtype is dtype
    return t.numpy()


def test_exponential(device: str) -> None:
    x = draw("exponential_", 2.0, device=device)
    assert x.min() >= 0 and abs(x.mean() - 0.5) < 0.02 and abs(np.median(x) - math.log(2) / 2) < 0.02
    assert abs(draw("exponential_").mean() - 1.0) < 0.04  # lambd=1


def test_log_normal(device: str) -> None:
    x = draw("log_normal_", 0.5, 0.25, device=device)
    assert x.min() > 0 and abs(np.log(x).mean() - 0.5) < 0.01 and abs(np.log(x).std() - 0.25) < 0.01
    y = draw("log_normal_", dtype=tt.float64)  # mean=1, std=2
    assert abs(np.median(np.log(y)) - 1.0) < 0.06 and abs(np.log(y).std() - 2.0) < 0.05


def test_cauchy(device: str) -> None:
    x = draw("cauchy_", 1.0, 2.0, device=device)  # no mean: check the quartiles, median -/+ sigma
    q1, med, q3 = np.percentile(x, [25, 50, 75])
    assert abs(med - 1) < 0.1 and abs(q1 - (-1)) < 0.15 and abs(q3 - 3) < 0.15
    assert np.abs(x).max() > 1000  # the heavy tails


def test_geometric(device: str) -> None:
    x = draw("geometric_", 0.25, device=device)
    assert x.min() == 1 and np.all(x == np.round(x)) and abs(x.mean() - 4) < 0.1
    assert abs((x == 1).mean() - 0.25) < 0.015
    y = draw("geometric_", 0.5, dtype=tt.int64)
    assert y.min() == 1 and abs(y.mean() - 2) < 0.05


def test_bernoulli(device: str) -> None:
    x = draw("bernoulli_", 0.3, device=device)
    assert set(np.unique(x)) == {0.0, 1.0} and abs(x.mean() - 0.3) < 0.015
    assert abs(draw("bernoulli_").mean() - 0.5) < 0.015  # p=0.5
    b = draw("bernoulli_", 0.9, dtype=tt.bool)
    assert b.dtype == np.bool_ and abs(b.mean() - 0.9) < 0.01
    p = tt.tensor(np.where(np.arange(N) % 2 == 0, 0.1, 0.8).astype(F32), device=device)
    y = draw("bernoulli_", p, dtype=tt.int64, device=device)
    assert set(np.unique(y)) == {0, 1} and abs(y[::2].mean() - 0.1) < 0.015 and abs(y[1::2].mean() - 0.8) < 0.015
    z = tt.empty(3, 4, device=device).bernoulli_(tt.tensor([0.0, 1.0, 0.0, 1.0], device=device))  # p broadcasts
    assert z.tolist() == [[0.0, 1.0, 0.0, 1.0]] * 3
    for shape in [(2,), (2, 4)]:  # p must broadcast to self's shape, not the other way
        with pytest.raises(RuntimeError):
            tt.empty(4, device=device).bernoulli_(tt.full(shape, 0.5, device=device))
        if torch is not None:
            with pytest.raises(RuntimeError):
                torch.empty(4).bernoulli_(torch.full(shape, 0.5))
    with pytest.raises(RuntimeError, match="Expected p_in >= 0"):
        tt.empty(2, device=device).bernoulli_(tt.tensor([0.5, 1.5], device=device))


def test_random(device: str) -> None:
    x = draw("random_", 3, 10, device=device)
    assert set(np.unique(x)) == set(range(3, 10)) and abs(x.mean() - 6) < 0.06
    y = draw("random_", 5, dtype=tt.int64)  # random_(to)
    assert set(np.unique(y)) == set(range(5))
    assert set(np.unique(draw("random_", to=4, dtype=tt.int64))) == set(range(4))
    f = draw("random_")  # float32: [0, 2**24]
    assert f.min() >= 0 and f.max() <= 2 ** 24 and np.all(f == np.round(f)) and abs(f.mean() / 2 ** 23 - 1) < 0.02
    d = draw("random_", dtype=tt.float64)
    assert d.min() >= 0 and d.max() <= 2 ** 53 and d.max() > 2 ** 52
    i = draw("random_", dtype=tt.int64)
    assert i.min() >= 0 and i.max() > 2 ** 62
    neg = draw("random_", -5, None, dtype=tt.int64)  # random_(from, None): up to int64's largest
    assert neg.min() >= -5 and neg.max() > 2 ** 62
    b = draw("random_", dtype=tt.bool)
    assert abs(b.mean() - 0.5) < 0.015
    assert set(np.unique(draw("random_", -2, 2, dtype=tt.int64))) == {-2, -1, 0, 1}


@pytest.mark.parametrize("method,args", [("exponential_", (3.0,)), ("log_normal_", ()), ("cauchy_", ()),
                                         ("geometric_", (0.3,)), ("bernoulli_", (0.4,)), ("random_", (2, 9))])
def test_the_samplers_are_reproducible_and_the_same_on_every_device(method: str, args: tuple, device: str) -> None:
    tt.manual_seed(11)
    a = getattr(tt.empty(50, device=device), method)(*args).numpy()
    tt.manual_seed(11)
    b = getattr(tt.empty(50, device=device), method)(*args).numpy()
    c = getattr(tt.empty(50, device=device), method)(*args).numpy()  # the stream moved on
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    g = draw(method, *args, seed=3, device=device)
    assert np.array_equal(g, draw(method, *args, seed=3)) and not np.array_equal(g, draw(method, *args, seed=4))


def test_the_samplers_write_into_a_view(device: str) -> None:
    base = tt.zeros(4, 6, device=device)
    view = base[1:3, ::2]
    assert view.exponential_(generator=tt.Generator().manual_seed(0)) is view
    got = base.numpy()
    assert (got[1:3, ::2] > 0).all() and (got[1:3, 1::2] == 0).all() and (got[[0, 3]] == 0).all()
    view.random_(7, 8)
    assert (base.numpy()[1:3, ::2] == 7).all()


SAMPLER_ERRORS = [
    ("exponential_", (0.0,), tt.float32, RuntimeError, "expects lambda > 0.0, but found lambda=0"),
    ("exponential_", (), tt.int64, RuntimeError, "continuous probability distribution"),
    ("cauchy_", (0.0, -1.0), tt.float32, RuntimeError, "expects sigma > 0.0"),
    ("cauchy_", (), tt.int64, RuntimeError, "continuous probability distribution"),
    ("log_normal_", (1.0, 0.0), tt.float32, RuntimeError, "expects std > 0.0"),
    ("log_normal_", (), tt.int64, NotImplementedError, "log_normal_"),
    ("geometric_", (0.0,), tt.float32, RuntimeError, r"expects p to be in \(0, 1\)"),
    ("geometric_", (1.0,), tt.float32, RuntimeError, r"expects p to be in \(0, 1\)"),
    ("bernoulli_", (1.5,), tt.float32, RuntimeError, r"expects p to be in \[0, 1\]"),
    ("random_", (5, 3), tt.float32, RuntimeError, "'from' to be less than 'to', but got from=5 >= to=3"),
    ("random_", (0,), tt.float32, RuntimeError, "from=0 >= to=0"),
    ("random_", (5,), tt.bool, RuntimeError, "to - 1 is out of bounds for bool"),
    ("random_", (-1, 1), tt.bool, RuntimeError, "from is out of bounds for bool"),
    ("random_", (1.5,), tt.float32, TypeError, "integer"),
]


@pytest.mark.parametrize("method,args,dtype,exc,pattern", SAMPLER_ERRORS,
                         ids=[f"{m}{a}-{d.name}" for m, a, d, _, _ in SAMPLER_ERRORS])
def test_sampler_errors(method: str, args: tuple, dtype: Any, exc: type, pattern: str) -> None:
    with pytest.raises(exc, match=pattern):
        getattr(tt.zeros(4, dtype=dtype), method)(*args)
    if torch is not None:  # PyTorch refuses the same calls, with the same exception class
        with pytest.raises(exc):
            getattr(torch.zeros(4, dtype=getattr(torch, dtype.name)), method)(*args)


def test_samplers_refuse_a_leaf_that_requires_grad() -> None:
    for method, args in [("exponential_", ()), ("bernoulli_", ()), ("random_", (3,)), ("geometric_", (0.5,)),
                         ("cauchy_", ()), ("log_normal_", ())]:
        w = tt.zeros(3, requires_grad=True)
        with pytest.raises(RuntimeError, match="leaf Variable"):
            getattr(w, method)(*args)
        with tt.no_grad():
            getattr(w, method)(*args)
        assert w.requires_grad and w.grad_fn is None
