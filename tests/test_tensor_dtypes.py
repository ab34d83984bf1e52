"""dtype promotion as PyTorch for float32/float64/int64/bool: tensor with tensor, with a 0-d
tensor, with a Python scalar; results of comparisons, reductions and unary ops."""

from __future__ import annotations

import itertools
import operator

import numpy as np
import pytest
from nn_helpers import torch

import tinytorch as tt

DTYPES = [tt.bool, tt.int64, tt.float32, tt.float64]
NAMES = {d: d.name for d in DTYPES}


def make(dtype, device, shape=(2,)):
    values = np.ones(shape) * (True if dtype is tt.bool else 2)
    return tt.tensor(values, dtype=dtype, device=device)


# hand-written expectations (PyTorch's rules), so the rules are checked without torch too
@pytest.mark.parametrize("a,b,expected", [
    (tt.bool, tt.bool, tt.bool),  # bool * bool is logical and
    (tt.bool, tt.int64, tt.int64),
    (tt.int64, tt.float32, tt.float32),
    (tt.int64, tt.float64, tt.float64),
    (tt.float32, tt.float64, tt.float64),
    (tt.bool, tt.float32, tt.float32),
])
def test_tensor_tensor_promotion(a, b, expected, device):
    out = make(a, device) * make(b, device)
    assert out.dtype is expected
    assert (make(a, device) / make(b, device)).dtype is (expected if expected.is_floating_point else tt.float32)


@pytest.mark.parametrize("dtype,scalar,expected", [
    (tt.int64, 2.5, tt.float32),
    (tt.float64, 2.5, tt.float64),
    (tt.float32, 2, tt.float32),
    (tt.bool, 1, tt.int64),
    (tt.int64, True, tt.int64),
])
def test_tensor_scalar_promotion(dtype, scalar, expected, device):
    assert (make(dtype, device) + scalar).dtype is expected
    assert (scalar * make(dtype, device)).dtype is expected


def test_zero_dim_tensors_act_like_scalars(device):
    vec32 = tt.ones(3, device=device)
    assert (vec32 + tt.tensor(1.0, dtype=tt.float64, device=device)).dtype is tt.float32
    assert (tt.tensor([1, 2], device=device) + tt.tensor(1.5, dtype=tt.float64, device=device)).dtype is tt.float64
    assert (tt.tensor(1.0, device=device) + tt.tensor(1.0, dtype=tt.float64, device=device)).dtype is tt.float64


def test_results_of_comparisons_reductions_and_unary_ops(device):
    i = tt.tensor([1, 2, 3], device=device)
    b = i > 1
    assert b.dtype is tt.bool and not b.requires_grad
    assert b.sum().dtype is tt.int64 and i.sum().dtype is tt.int64
    assert i.exp().dtype is tt.float32 and i.sqrt().dtype is tt.float32
    assert i.argmax().dtype is tt.int64
    assert i.float().dtype is tt.float32 and i.double().dtype is tt.float64 and b.long().dtype is tt.int64
    with pytest.raises(RuntimeError, match="mean"):
        i.mean()


@pytest.mark.parametrize("op", [operator.add, operator.sub, operator.mul, operator.truediv, operator.lt,
                                operator.eq], ids=lambda f: f.__name__)
def test_promotion_table_matches_torch(op, device):
    torch = pytest.importorskip("torch")
    tdt = {tt.bool: torch.bool, tt.int64: torch.int64, tt.float32: torch.float32, tt.float64: torch.float64}
    for a, b in itertools.product(DTYPES, DTYPES):
        for sa, sb in [((2,), (2,)), ((), (2,)), ((2,), ())]:
            if op is operator.sub and tt.bool in (a, b):
                continue  # PyTorch refuses bool subtraction; tinytorch computes it in int64
            ours = op(make(a, device, sa), make(b, device, sb)).dtype
            theirs = op(torch.ones(sa, dtype=tdt[a]), torch.ones(sb, dtype=tdt[b])).dtype
            assert str(theirs).endswith(ours.name), f"{a.name}{sa} {op.__name__} {b.name}{sb}: {ours} vs {theirs}"
        for scalar in (True, 3, 2.5):
            if op is operator.sub and (a is tt.bool or scalar is True):
                continue
            ours = op(make(a, device), scalar).dtype
            theirs = op(torch.ones(2, dtype=tdt[a]), scalar).dtype
            assert str(theirs).endswith(ours.name), f"{a.name} {op.__name__} {scalar!r}: {ours} vs {theirs}"


def _operands(L):
    out = []
    for dt in ("bool", "int64", "float32", "float64"):
        d = getattr(L, dt)
        out += [L.ones(2, dtype=d), L.ones((), dtype=d)]
    return out + [True, 3, 2.5]


def test_result_type_is_the_dtype_arithmetic_gives():
    operands = _operands(tt)
    for a in operands:
        for b in operands:
            if not isinstance(a, tt.Tensor) and not isinstance(b, tt.Tensor):
                continue
            assert tt.result_type(a, b) is (a * b).dtype, (a, b)


@pytest.mark.skipif(torch is None, reason="torch is not installed")
def test_result_type_and_can_cast_match_pytorch():
    ours, theirs = _operands(tt), _operands(torch)
    for a, ta in zip(ours, theirs):
        for b, tb in zip(ours, theirs):
            assert tt.result_type(a, b).name == str(torch.result_type(ta, tb)).split(".")[1], (ta, tb)
    names = ("bool", "int64", "float32", "float64")
    for x in names:
        for y in names:
            assert tt.can_cast(getattr(tt, x), getattr(tt, y)) == torch.can_cast(getattr(torch, x), getattr(torch, y))
