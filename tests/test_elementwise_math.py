"""atan2, copysign, erfc, erfinv, the division family (fmod, remainder, div's rounding modes,
floor_divide) and the bitwise ops against PyTorch: integer dtypes, special values (inf, NaN,
-0.0, zero divisors), scalars on either side, dtype promotion, errors and gradients, on every
device. The op test table (tests/test_tensor_ops.py) checks the same ops on random floats."""

from __future__ import annotations

import math

import numpy as np
import pytest

import tinytorch as tt

torch = pytest.importorskip("torch")

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
SPECIAL = [0.0, -0.0, 1.0, -1.0, 7.0, -7.5, 0.3, 2.5, math.inf, -math.inf, math.nan, 1e-30]


def same(got, want, exact: bool = True) -> None:
    """Equal values, dtypes and shapes; NaN where PyTorch has NaN, and the same signs of zero."""
    want = want.detach()
    assert got.shape == tuple(want.shape)
    assert str(got.dtype).split(".")[-1] == str(want.dtype).split(".")[-1], (got.dtype, want.dtype)
    g, w = got.detach().numpy(), want.numpy()
    if exact:
        np.testing.assert_array_equal(g, w)
    else:
        np.testing.assert_allclose(g, w, rtol=2e-6 if g.dtype == np.float32 else 1e-13, atol=0)
    if g.dtype.kind == "f":
        zero = w == 0
        np.testing.assert_array_equal(np.signbit(g[zero]), np.signbit(w[zero]), "signs of zero")


def pair(values, device, dtype="float64"):
    return tt.tensor(values, dtype=getattr(tt, dtype), device=device), torch.tensor(values, dtype=getattr(torch, dtype))


def grid(values):
    """Every (a, b) pair of ``values``: two flat lists."""
    a, b = np.meshgrid(values, values, indexing="ij")
    return a.ravel().tolist(), b.ravel().tolist()


DIVISION = {
    "fmod": lambda L, a, b: L.fmod(a, b),
    "remainder": lambda L, a, b: L.remainder(a, b),
    "mod": lambda L, a, b: a % b,
    "floor_divide": lambda L, a, b: L.floor_divide(a, b),
    "floordiv": lambda L, a, b: a // b,
    "div_floor": lambda L, a, b: L.div(a, b, rounding_mode="floor"),
    "div_trunc": lambda L, a, b: a.div(b, rounding_mode="trunc"),
    "divide_trunc": lambda L, a, b: L.divide(a, b, rounding_mode="trunc"),
    "div_none": lambda L, a, b: L.div(a, b, rounding_mode=None),
}


# --- floats: special values, signed zeros, zero divisors ---------------------------------------------
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", list(DIVISION) + ["atan2", "copysign"])
def test_float_special_values_match_torch(device, name, dtype):
    fn = DIVISION.get(name) or (lambda L, a, b: getattr(L, name)(a, b))
    va, vb = grid(SPECIAL)
    (a, ta), (b, tb) = pair(va, device, dtype), pair(vb, device, dtype)
    same(fn(tt, a, b), fn(torch, ta, tb), exact=name != "atan2")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_floor_division_takes_the_exact_quotient_as_torch(device, dtype):
    """``a / b`` rounds 0.3 / 0.1 up to 3; PyTorch's floor division (and ours) says 2, like fmod."""
    # (not a quotient that overflows: PyTorch's vectorized fmod gives NaN there, its scalar one
    # and ours the exact remainder)
    va = [0.3, 7.0, 1.0, -0.3, 5.0, 1e20, -1e-30, 9.0]
    vb = [0.1, 0.7, 0.1, 0.1, -0.5, 0.3, 3.0, 0.9]
    (a, ta), (b, tb) = pair(va, device, dtype), pair(vb, device, dtype)
    same(a // b, ta // tb)
    same(tt.remainder(a, b), torch.remainder(ta, tb))
    same(a.div(b, rounding_mode="trunc"), ta.div(tb, rounding_mode="trunc"))


# --- integers: exact, with PyTorch's errors -------------------------------------------------------------
INTS = [0, 1, -1, 2, -2, 7, -7, 9, -9, 2**40 + 3, -(2**40) - 5, INT64_MAX, INT64_MIN + 1]


@pytest.mark.parametrize("name", list(DIVISION))
def test_int64_division_is_exact_and_matches_torch(device, name):
    va, vb = grid(INTS)
    keep = [i for i, d in enumerate(vb) if d != 0]
    (a, ta), (b, tb) = pair([va[i] for i in keep], device, "int64"), pair([vb[i] for i in keep], device, "int64")
    same(DIVISION[name](tt, a, b), DIVISION[name](torch, ta, tb))


def _wrap(v: int) -> int:
    return (v + 2**63) % 2**64 - 2**63


def test_int64_min_by_minus_one_wraps_around(device):
    """The one quotient int64 cannot hold: it wraps to INT64_MIN (PyTorch's own CPU kernels give
    that for ``//`` and crash for ``rounding_mode="trunc"``); the remainders are 0."""
    a, b = tt.tensor([INT64_MIN], device=device), tt.tensor([-1], device=device)
    want = _wrap(INT64_MIN * -1)  # the true quotient 2**63, wrapped
    assert (a // b).tolist() == [want] and a.div(b, rounding_mode="trunc").tolist() == [want]
    assert tt.fmod(a, b).tolist() == [0] and tt.remainder(a, -1).tolist() == [0]
    assert (a // -1).tolist() == [want]


@pytest.mark.parametrize("name", [n for n in DIVISION if n != "div_none"])
def test_integer_division_by_zero_raises_zero_division_error(device, name):
    a, b = tt.tensor([4, 5, 6], device=device), tt.tensor([1, 0, 2], device=device)
    ta, tb = torch.tensor([4, 5, 6]), torch.tensor([1, 0, 2])
    with pytest.raises(RuntimeError, match="ZeroDivisionError") as theirs:
        DIVISION[name](torch, ta, tb)
    for call in (lambda: DIVISION[name](tt, a, b), lambda: DIVISION[name](tt, a, 0)):
        with pytest.raises(RuntimeError, match="ZeroDivisionError") as ours:
            call()
        assert type(ours.value) is type(theirs.value)
    if name in ("remainder", "mod", "floordiv"):  # a number on the left, a zero in the tensor
        with pytest.raises(RuntimeError, match="ZeroDivisionError"):
            DIVISION[name](tt, 3, b)
    assert DIVISION["div_none"](tt, a, b).tolist()[1] == math.inf  # true division of integers is float


# --- scalars and promotion ---------------------------------------------------------------------------------
PROMOTION_CASES = [
    ("int64", 3), ("int64", -2.5), ("int64", True), ("float32", 2), ("float32", -0.75), ("float64", 3),
    ("float64", 0.5), ("bool", 2), ("bool", 1.5),
]


@pytest.mark.parametrize("dtype,s", PROMOTION_CASES, ids=str)
@pytest.mark.parametrize("name", ["fmod", "remainder", "floor_divide", "div_floor", "div_trunc", "copysign"])
def test_scalar_on_the_right_promotes_as_torch(device, name, dtype, s):
    fn = DIVISION.get(name) or (lambda L, a, b: getattr(L, name)(a, b))
    values = [5, -5, 7, 1] if dtype != "bool" else [True, False, True, True]
    a, ta = pair(values, device, dtype)
    try:
        want = fn(torch, ta, s)
    except (RuntimeError, NotImplementedError) as e:
        with pytest.raises(type(e)):
            fn(tt, a, s)
        return
    same(fn(tt, a, s), want)


@pytest.mark.parametrize("dtype,s", [("int64", 3), ("int64", -2.5), ("float32", 2), ("float64", -0.75)], ids=str)
def test_scalar_on_the_left(device, dtype, s):
    a, ta = pair([5, -5, 7, 3], device, dtype)
    same(tt.remainder(s, a), torch.remainder(s, ta))
    same(s % a, s % ta)
    same(s // a, s // ta)


def test_zero_dim_tensors_promote_like_scalars(device):
    a, ta = pair([5.0, -3.5], device, "float32")
    i0, ti0 = tt.tensor(3, device=device), torch.tensor(3)
    d0, td0 = tt.tensor(2.0, dtype=tt.float64, device=device), torch.tensor(2.0, dtype=torch.float64)
    for name in ("fmod", "remainder", "floor_divide", "atan2", "copysign"):
        fn = getattr(tt, name)
        same(fn(a, i0), getattr(torch, name)(ta, ti0))
        same(fn(a, d0), getattr(torch, name)(ta, td0))
        same(fn(i0, a), getattr(torch, name)(ti0, ta))


def test_broadcasting_and_views(device):
    x = np.arange(-12, 12).reshape(4, 6).astype(np.float64) / 3
    a, ta = tt.tensor(x, device=device).T, torch.tensor(x).T  # non-contiguous
    b, tb = tt.tensor([[1.5], [-2.0], [0.7], [-0.4], [2.5], [1.0]], device=device), \
        torch.tensor([[1.5], [-2.0], [0.7], [-0.4], [2.5], [1.0]])
    for name in ("fmod", "remainder", "floor_divide", "atan2", "copysign"):
        same(getattr(tt, name)(a, b[:, :1]), getattr(torch, name)(ta, tb[:, :1]), exact=name != "atan2")


def test_integers_and_bools_give_floats_for_atan2_and_copysign(device):
    (a, ta), (b, tb) = pair([5, -5, 0, 3], device, "int64"), pair([3, 3, -2, 0], device, "int64")
    same(tt.atan2(a, b), torch.atan2(ta, tb), exact=False)
    same(tt.copysign(a, b), torch.copysign(ta, tb))
    same(tt.copysign(a, -1), torch.copysign(ta, -1))
    (p, tp) = pair([True, False], device, "bool")
    same(tt.atan2(p, p), torch.atan2(tp, tp), exact=False)
    same(tt.copysign(p, p), torch.copysign(tp, tp))


# --- erfc and erfinv: where a composition would lose the digits -----------------------------------------
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_erfc_keeps_precision_in_the_tail(device, dtype):
    x = [-30.0, -3.0, -0.5, 0.0, 1e-8, 0.5, 3.0, 6.0, 9.0, 10.0, 26.0, 30.0, math.inf, -math.inf, math.nan]
    a, ta = pair(x, device, dtype)
    got, want = tt.erfc(a), torch.erfc(ta)
    same(got, want, exact=False)
    assert (got.numpy()[8:10] > 0).all()  # 1 - erf(x) would be exactly 0 there


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_erfinv_matches_torch_ends_and_tails_included(device, dtype):
    y = [-1.0, -0.999999, -0.9, -0.7, -0.5, -1e-8, -0.0, 0.0, 1e-30, 0.3, 0.7, 0.7000001, 0.99, 0.999999,
         1.0, 1.5, -2.0, math.nan, math.inf]
    if dtype == "float64":
        y += [1 - 1e-15, 1 - 2**-52, 0.9999999999]
    a, ta = pair(y, device, dtype)
    same(tt.erfinv(a), torch.erfinv(ta), exact=False)
    same(a.erfinv().erf(), ta.erfinv().erf(), exact=False)


# --- bitwise ops ----------------------------------------------------------------------------------------------
BITWISE = {
    "and": lambda L, a, b: a & b, "or": lambda L, a, b: a | b, "xor": lambda L, a, b: a ^ b,
    "bitwise_and": lambda L, a, b: L.bitwise_and(a, b), "bitwise_or": lambda L, a, b: L.bitwise_or(a, b),
    "bitwise_xor": lambda L, a, b: L.bitwise_xor(a, b),
    "lshift": lambda L, a, b: a << b, "rshift": lambda L, a, b: a >> b,
    "bitwise_left_shift": lambda L, a, b: L.bitwise_left_shift(a, b),
    "bitwise_right_shift": lambda L, a, b: L.bitwise_right_shift(a, b),
}
SHIFTS = {"lshift", "rshift", "bitwise_left_shift", "bitwise_right_shift"}


@pytest.mark.parametrize("name", list(BITWISE))
def test_bitwise_on_int64_matches_torch(device, name):
    values = [0, 1, -1, 5, -6, 2**40 + 7, INT64_MIN, INT64_MAX]
    counts = [0, 1, 3, 62, 63, 64, 65, -1, -64]
    va, vb = grid(values) if name not in SHIFTS else (
        np.repeat(values, len(counts)).tolist(), np.tile(counts, len(values)).tolist())
    (a, ta), (b, tb) = pair(va, device, "int64"), pair(vb, device, "int64")
    same(BITWISE[name](tt, a, b), BITWISE[name](torch, ta, tb))
    for s in (3, -1, 0) if name not in SHIFTS else (2, 63, 64, -1):
        same(BITWISE[name](tt, a, s), BITWISE[name](torch, ta, s))
        same(BITWISE[name](tt, s, b if name in SHIFTS else a), BITWISE[name](torch, s, tb if name in SHIFTS else ta))


@pytest.mark.parametrize("name", [n for n in BITWISE if n not in SHIFTS])
def test_bitwise_on_bool_stays_bool_and_promotes_with_ints(device, name):
    va, vb = grid([True, False])
    (a, ta), (b, tb) = pair(va, device, "bool"), pair(vb, device, "bool")
    same(BITWISE[name](tt, a, b), BITWISE[name](torch, ta, tb))
    for s in (True, False, 2):
        same(BITWISE[name](tt, a, s), BITWISE[name](torch, ta, s))
        same(BITWISE[name](tt, s, a), BITWISE[name](torch, s, ta))
    (i, ti) = pair([3, -4, 0, 1], device, "int64")
    same(BITWISE[name](tt, a, i), BITWISE[name](torch, ta, ti))


def test_bitwise_methods(device):
    (a, ta), (b, tb) = pair([5, -6, 0, 12], device, "int64"), pair([3, 1, 7, 2], device, "int64")
    for name in ("bitwise_and", "bitwise_or", "bitwise_xor", "bitwise_left_shift", "bitwise_right_shift"):
        same(getattr(a, name)(b), getattr(ta, name)(tb))
        same(getattr(a, name)(2), getattr(ta, name)(2))


def test_bitwise_not_and_invert(device):
    (i, ti), (p, tp) = pair([0, 1, -1, 5, INT64_MIN, INT64_MAX], device, "int64"), pair([True, False], device, "bool")
    same(~i, ~ti)
    same(tt.bitwise_not(i), torch.bitwise_not(ti))
    same(~p, ~tp)
    same(p.bitwise_not(), tp.bitwise_not())
    same(tt.logical_not(i), torch.logical_not(ti))  # the logical ops stay logical


@pytest.mark.parametrize("name", list(BITWISE))
def test_bitwise_on_floats_raises_as_torch(device, name):
    f, tf = pair([1.0, 2.0], device, "float32")
    with pytest.raises(NotImplementedError) as theirs:
        BITWISE[name](torch, tf, tf)
    with pytest.raises(NotImplementedError, match="float32") as ours:
        BITWISE[name](tt, f, f)
    assert isinstance(ours.value, RuntimeError) and isinstance(theirs.value, RuntimeError)
    with pytest.raises(NotImplementedError):
        BITWISE[name](tt, tt.tensor([1, 2], device=device), 1.5)  # a float number promotes to float


def test_bitwise_errors_as_torch(device):
    f, p = tt.tensor([1.0], device=device), tt.tensor([True], device=device)
    with pytest.raises(TypeError, match="integer and Boolean"):
        _ = ~f
    with pytest.raises(NotImplementedError):
        tt.bitwise_not(f)
    with pytest.raises(NotImplementedError):
        torch.tensor([True]) << torch.tensor([True])
    with pytest.raises(NotImplementedError):
        p << p
    assert (p << 1).tolist() == [2] and (p << 1).dtype is tt.int64  # an int number promotes bool


# --- errors ---------------------------------------------------------------------------------------------------
def test_argument_errors_as_torch(device):
    f, p = tt.tensor([1.0, 2.0], device=device), tt.tensor([True], device=device)
    with pytest.raises(RuntimeError, match="rounding_mode to be one of None, 'trunc', or 'floor' but found 'round'"):
        tt.div(f, f, rounding_mode="round")
    with pytest.raises(TypeError, match="must be Tensor, not float"):
        tt.atan2(f, 2.0)
    with pytest.raises(TypeError, match="must be Tensor, not float"):
        tt.atan2(2.0, f)
    with pytest.raises(TypeError):
        tt.fmod(2, f)
    with pytest.raises(TypeError):
        tt.copysign(2, f)
    for call in (lambda: tt.fmod(p, p), lambda: tt.remainder(p, p), lambda: p // p,
                 lambda: tt.div(p, p, rounding_mode="floor"), lambda: tt.remainder(p, True)):
        with pytest.raises(NotImplementedError, match="bool"):
            call()
    assert (p // 2).tolist() == [0] and (p // 2).dtype is tt.int64


# --- gradients ------------------------------------------------------------------------------------------------
def _grads(fn, lib, xs, device=None):
    if lib is torch:
        leaves = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in xs]
    else:
        leaves = [tt.tensor(x, dtype=tt.float64, device=device, requires_grad=True) for x in xs]
    fn(lib, *leaves).sum().backward()
    return [np.asarray(x.grad.tolist()) for x in leaves]


GRADS = {
    "atan2": lambda L, a, b: L.atan2(a, b),
    "copysign": lambda L, a, b: L.copysign(a, b),
    "fmod": lambda L, a, b: L.fmod(a, b),
    "remainder": lambda L, a, b: L.remainder(a, b),
    "div_floor": lambda L, a, b: L.div(a, b, rounding_mode="floor") * a,
    "div_trunc": lambda L, a, b: L.div(a, b, rounding_mode="trunc") * b,
    "erfc": lambda L, a, b: L.erfc(a) * b,
    "erfinv": lambda L, a, b: L.erfinv(a / 3) * b,
}


@pytest.mark.parametrize("name", list(GRADS))
def test_gradients_match_torch_at_special_points(device, name):
    """Zeros and signed zeros (copysign's gradient is 0 at a == 0; atan2's is NaN at (0, 0))."""
    a = [1.5, -2.0, 0.0, -0.0, 0.7, -2.9, 0.0, 2.0]
    b = [-1.0, 2.0, -3.0, 3.0, -0.0, 0.4, 0.0, 0.6]
    ours, theirs = _grads(GRADS[name], tt, [a, b], device), _grads(GRADS[name], torch, [a, b])
    for g, w in zip(ours, theirs):
        np.testing.assert_allclose(g, w, rtol=1e-12, equal_nan=True)


def test_remainder_with_a_number_on_the_left_has_the_gradient_minus_floor(device):
    """PyTorch has no derivative for remainder(Scalar, Tensor); ours is d/db (s - floor(s / b) b)."""
    b = tt.tensor([0.7, -1.3, 2.0, -0.4], dtype=tt.float64, device=device, requires_grad=True)
    (2.5 % b).sum().backward()
    np.testing.assert_array_equal(b.grad.numpy(), -np.floor(2.5 / b.detach().numpy()))


def test_floor_divide_has_a_zero_gradient(device):
    """PyTorch raises "derivative for aten::floor_divide is not implemented" on backward; the
    quotient is a step function, so ours is zero (as PyTorch's for div(rounding_mode='floor'))."""
    a = tt.tensor([1.5, -2.5], device=device, requires_grad=True)
    (a // 0.7 + a).sum().backward()
    assert a.grad.tolist() == [1.0, 1.0]


def test_bitwise_and_integer_results_do_not_require_grad(device):
    a = tt.tensor([1.5, -2.5], device=device, requires_grad=True)
    assert not (a.long() & 3).requires_grad and not (a > 0).bitwise_not().requires_grad
    assert not tt.fmod(a.long(), 2).requires_grad
