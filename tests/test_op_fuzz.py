"""Differential fuzzing of the ops against PyTorch: random shapes, dtypes, values and views.

Where ``tests/test_tensor_ops.py`` checks each op on a few chosen inputs, these tests let
hypothesis choose: shapes with 0-size dimensions, 0-d tensors, float32 / float64 / int64 / bool
inputs, NaN, infinities and signed zeros, non-contiguous views (transposed or step-sliced
bases), and every legal ``dim`` / ``keepdim``. For each case:

* if PyTorch raises, tinytorch must raise an ``Exception`` too (never crash, never answer);
* otherwise the shapes, dtypes and values must agree (NaN where PyTorch has NaN), and for
  float64 inputs with finite values the gradient of a weighted sum of the outputs too.

The budget is fixed so CI time is bounded: ``TINYTORCH_FUZZ_EXAMPLES`` examples per op (default
25, derandomized so a CI failure reproduces). The long mode is the same tests with a larger
budget and fresh randomness, e.g. ``TINYTORCH_FUZZ_EXAMPLES=2000 TINYTORCH_FUZZ_RANDOM=1 pytest
tests/test_op_fuzz.py``; hypothesis prints the smallest failing example it finds.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import pytest

import tinytorch as tt

torch = pytest.importorskip("torch")
hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.extra import numpy as hnp  # noqa: E402

BUDGET = settings(max_examples=int(os.environ.get("TINYTORCH_FUZZ_EXAMPLES", "25")), deadline=None,
                  derandomize=not os.environ.get("TINYTORCH_FUZZ_RANDOM"), database=None,
                  suppress_health_check=list(hypothesis.HealthCheck))
FLOAT_DTYPES = ["float32", "float64"]
ALL_DTYPES = FLOAT_DTYPES + ["int64", "bool"]


@dataclass
class FuzzOp:
    """``fn(L, *tensors, **params)`` runs on tinytorch and torch alike; ``dtypes`` the inputs drawn."""

    name: str
    fn: Callable
    kind: str  # "unary", "binary", "reduce", "matmul", "movement"
    dtypes: tuple = tuple(FLOAT_DTYPES)
    grad: bool = True


def U(name: str, dtypes: tuple = tuple(FLOAT_DTYPES), grad: bool = True) -> FuzzOp:
    return FuzzOp(name, lambda L, x, name=name: getattr(L, name)(x), "unary", dtypes, grad)


def B(name: str, dtypes: tuple = tuple(FLOAT_DTYPES), grad: bool = True) -> FuzzOp:
    return FuzzOp(name, lambda L, a, b, name=name: getattr(L, name)(a, b), "binary", dtypes, grad)


def R(name: str, dtypes: tuple = tuple(FLOAT_DTYPES), grad: bool = True) -> FuzzOp:
    def fn(L: Any, x: Any, dim: int | None, keepdim: bool, name: str = name) -> Any:
        f = getattr(L, name)
        return f(x) if dim is None else f(x, dim, keepdim=keepdim)
    return FuzzOp(name, fn, "reduce", dtypes, grad)


FUZZ_OPS = [
    *[U(n) for n in ["neg", "abs", "exp", "log", "sqrt", "rsqrt", "sin", "cos", "tanh", "sigmoid",
                     "relu", "square", "reciprocal", "expm1", "log1p", "log2", "atan", "sinh", "erf"]],
    *[U(n, tuple(ALL_DTYPES[:3]), grad=False) for n in ["floor", "ceil", "trunc", "sign"]],
    *[U(n, tuple(ALL_DTYPES), grad=False) for n in ["isnan", "isinf", "isfinite", "logical_not"]],
    *[B(n, tuple(ALL_DTYPES[:3])) for n in ["add", "sub", "mul", "div", "maximum", "minimum"]],
    *[B(n) for n in ["pow", "hypot", "logaddexp", "atan2", "copysign"]],  # integer pow: see the README
    *[B(n, tuple(ALL_DTYPES[:3]), grad=False) for n in ["fmod", "remainder", "floor_divide"]],
    *[B(n, ("int64", "bool"), grad=False) for n in ["bitwise_and", "bitwise_or", "bitwise_xor"]],
    *[B(n, tuple(ALL_DTYPES[:3]), grad=False) for n in ["eq", "lt", "ge", "ne"]],
    *[R(n) for n in ["sum", "mean", "amax", "amin", "logsumexp"]],
    *[R(n, ("float64",)) for n in ["var", "std"]],
    *[R(n, tuple(ALL_DTYPES[:3]), grad=False) for n in ["argmax", "argmin"]],
    *[R(n) for n in ["prod"]],
    FuzzOp("cumsum", lambda L, x, dim, keepdim: L.cumsum(x, dim), "movement", tuple(ALL_DTYPES[:3])),
    FuzzOp("cumprod", lambda L, x, dim, keepdim: L.cumprod(x, dim), "movement"),
    FuzzOp("logcumsumexp", lambda L, x, dim, keepdim: L.logcumsumexp(x, dim), "movement", ("float64",)),
    FuzzOp("sort_values", lambda L, x, dim, keepdim: L.sort(x, dim=dim, descending=keepdim, stable=True).values,
           "movement", tuple(ALL_DTYPES[:3]), grad=False),
    FuzzOp("argsort", lambda L, x, dim, keepdim: L.argsort(x, dim=dim, descending=keepdim, stable=True),
           "movement", tuple(ALL_DTYPES[:3]), grad=False),
    FuzzOp("matmul", lambda L, a, b: L.matmul(a, b), "matmul"),
    FuzzOp("flip_transpose", lambda L, x, dim, keepdim: x.flip(dim).transpose(0, -1) if x.dim() else x.flip([]),
           "movement", tuple(ALL_DTYPES)),
    FuzzOp("expand_sum", lambda L, x, dim, keepdim: x.unsqueeze(0).expand(2, *x.shape).sum(0),
           "movement", tuple(ALL_DTYPES[:3])),
]
FUZZ_IDS = [op.name for op in FUZZ_OPS]


# --- strategies ------------------------------------------------------------------------------------
SHAPES = hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=4)


def elements(dtype: str) -> st.SearchStrategy:
    if dtype == "bool":
        return st.booleans()
    if dtype == "int64":
        return st.integers(-50, 50)
    width = 32 if dtype == "float32" else 64
    special = st.sampled_from([0.0, -0.0, 1.0, -1.0, float("inf"), float("-inf"), float("nan")])
    return st.one_of(st.floats(-1e3, 1e3, width=width), special)


@st.composite
def tensor_input(draw: Any, dtype: str, shape: tuple) -> tuple[np.ndarray, str]:
    """A value of ``shape`` and how the op receives it: compact, or as a view of another layout."""
    value = draw(hnp.arrays(np.dtype(dtype), shape, elements=elements(dtype)))
    layout = draw(st.sampled_from(["plain", "transposed", "sliced"]))
    return value, layout


def as_view(L: Any, value: np.ndarray, layout: str, device: str | None, requires_grad: bool) -> tuple[Any, Any]:
    """(leaf, what the op sees): the leaf is stored in another layout for the view layouts."""
    def make(a: np.ndarray) -> Any:
        if L is torch:
            return torch.tensor(a, requires_grad=requires_grad)
        return tt.tensor(a, device=device, requires_grad=requires_grad)

    if layout == "transposed" and value.ndim >= 2:
        leaf = make(np.ascontiguousarray(value.swapaxes(0, -1)))
        return leaf, leaf.transpose(0, -1)
    if layout == "sliced" and value.ndim >= 1:
        base = np.zeros((2 * value.shape[0], *value.shape[1:]), value.dtype)
        base[::2] = value
        leaf = make(base)
        return leaf, leaf[::2]
    leaf = make(value)
    return leaf, leaf


@st.composite
def cases(draw: Any, op: FuzzOp) -> tuple[list, dict]:
    """The inputs ``[(value, layout), ...]`` and keyword parameters of one call of ``op``."""
    dtype = draw(st.sampled_from(op.dtypes))
    if op.kind == "binary":
        shapes = draw(hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=3)).input_shapes
        dtype2 = draw(st.sampled_from(op.dtypes))
        return [draw(tensor_input(dtype, shapes[0])), draw(tensor_input(dtype2, shapes[1]))], {}
    if op.kind == "matmul":
        n, k, m, b = (draw(st.integers(0, 3)) for _ in range(4))
        left = draw(st.sampled_from([(k,), (n, k), (b, n, k)]))
        right = draw(st.sampled_from([(k,), (k, m), (b, k, m)]))
        return [draw(tensor_input(dtype, left)), draw(tensor_input(dtype, right))], {}
    shape = draw(SHAPES)
    params: dict = {}
    if op.kind in ("reduce", "movement"):
        dims = list(range(-max(len(shape), 1), max(len(shape), 1)))
        params["dim"] = draw(st.sampled_from([None, *dims])) if op.kind == "reduce" else draw(st.sampled_from(dims))
        params["keepdim"] = draw(st.booleans())
    return [draw(tensor_input(dtype, shape))], params


# --- comparison -------------------------------------------------------------------------------------
def call(L: Any, op: FuzzOp, inputs: list, params: dict, device: str | None, grad: bool) -> tuple[Any, list]:
    pairs = [as_view(L, v, layout, device, grad and v.dtype.kind == "f") for v, layout in inputs]
    return op.fn(L, *[view for _, view in pairs], **params), [leaf for leaf, _ in pairs]


def to_numpy(out: Any) -> np.ndarray:
    return out.detach().numpy() if hasattr(out, "detach") else np.asarray(out)


def assert_same(ours: Any, theirs: Any, what: str) -> None:
    a, b = to_numpy(ours), to_numpy(theirs)
    assert a.shape == b.shape, f"{what}: shape {a.shape} != torch's {b.shape}"
    assert a.dtype == b.dtype, f"{what}: dtype {a.dtype} != torch's {b.dtype}"
    if a.dtype.kind == "f":
        tol = 1e-5 if a.dtype == np.float32 else 1e-10
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol, equal_nan=True, err_msg=what)
    else:
        np.testing.assert_array_equal(a, b, err_msg=what)


def outputs(out: Any) -> list:
    return list(out) if isinstance(out, (tuple, list)) else [out]


def check(op: FuzzOp, inputs: list, params: dict, device: str) -> None:
    floats64 = all(v.dtype == np.float64 for v, _ in inputs)
    grad = op.grad and floats64 and all(np.isfinite(v).all() for v, _ in inputs)
    what = f"{op.name}{[(v.shape, str(v.dtype), layout) for v, layout in inputs]} {params}"
    try:
        theirs, their_leaves = call(torch, op, inputs, params, None, grad)
    except Exception:  # PyTorch refuses this input: tinytorch must refuse it too
        with pytest.raises(Exception):  # noqa: B017 (any exception: PyTorch's types are checked elsewhere)
            call(tt, op, inputs, params, device, grad)
        return
    ours, our_leaves = call(tt, op, inputs, params, device, grad)
    for o, t in zip(outputs(ours), outputs(theirs), strict=True):
        assert_same(o, t, what)
    if grad and any(leaf.requires_grad for leaf in their_leaves):
        rng = np.random.default_rng(0)
        weights = [rng.uniform(-1, 1, tuple(t.shape)) for t in outputs(theirs)]
        sum(((t * torch.tensor(w)).sum() for t, w in zip(outputs(theirs), weights)), torch.tensor(0.0)).backward()
        sum(((o * tt.tensor(w, device=device)).sum() for o, w in zip(outputs(ours), weights)),
            tt.tensor(0.0, device=device)).backward()
        for mine, theirs_leaf in zip(our_leaves, their_leaves):
            if theirs_leaf.grad is not None:
                assert_same(mine.grad, theirs_leaf.grad, f"gradient of {what}")


@pytest.mark.parametrize("op", FUZZ_OPS, ids=FUZZ_IDS)
def test_op_agrees_with_pytorch_on_random_inputs(op: FuzzOp, device: str) -> None:
    @BUDGET
    @given(case=cases(op))
    def fuzz(case: tuple[list, dict]) -> None:
        check(op, *case, device)

    fuzz()
