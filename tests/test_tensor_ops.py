"""The op table: every Tensor op, checked forward and backward, generated from one list.

Each entry of ``OPS`` names an op by a function ``fn(lib, *inputs)`` that is written once and
runs on tinytorch *and* on PyTorch (the APIs agree), a numpy reference for the forward pass,
the input shapes, and the shapes of a broadcasting variant. For every entry, on every
device, the tests generate:

* forward vs numpy (float32 and float64),
* forward and gradient vs PyTorch (float32 and float64; skipped without ``torch``),
* gradient vs central finite differences of tinytorch's own forward (float64),

for three layouts of the inputs: ``plain`` (compact), ``strided`` (non-contiguous views:
permuted for >= 2-D, step-sliced for 1-D) and ``broadcast`` (where the entry gives shapes).
Adding an op to the library means adding a line here, and it gets all of these checks.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import pytest

import tinytorch as tt

FLOATS = [tt.float32, tt.float64]


# --- numpy references ---------------------------------------------------------------------------
def _np_windows(hw, kernel, dilation, padding, stride):
    """(i, j, y, x, row, col): window element (i, j) of window (y, x) reads padded position (row, col)."""
    oh, ow = ((hw[a] + 2 * padding[a] - dilation[a] * (kernel[a] - 1) - 1) // stride[a] + 1 for a in (0, 1))
    for i in range(kernel[0]):
        for j in range(kernel[1]):
            for y in range(oh):
                for x in range(ow):
                    yield i, j, y, x, y * stride[0] + i * dilation[0], x * stride[1] + j * dilation[1]


def np_unfold(x, kernel, dilation, padding, stride):
    """PyTorch's F.unfold by its definition, one element at a time: (N, C * kh * kw, L)."""
    n, c, h, w = x.shape
    xp = np.pad(x, ((0, 0), (0, 0), (padding[0],) * 2, (padding[1],) * 2))
    items = list(_np_windows((h, w), kernel, dilation, padding, stride))
    oh, ow = items[-1][2] + 1, items[-1][3] + 1
    out = np.zeros((n, c, kernel[0], kernel[1], oh, ow), x.dtype)
    for i, j, y, x_, r, q in items:
        out[:, :, i, j, y, x_] = xp[:, :, r, q]
    return out.reshape(n, c * kernel[0] * kernel[1], oh * ow)


def np_fold(cols, out_hw, kernel, dilation, padding, stride):
    """PyTorch's F.fold by its definition: each column element added where unfold read it."""
    n, ck, _ = cols.shape
    c = ck // (kernel[0] * kernel[1])
    out = np.zeros((n, c, out_hw[0] + 2 * padding[0], out_hw[1] + 2 * padding[1]), cols.dtype)
    items = list(_np_windows(out_hw, kernel, dilation, padding, stride))
    oh, ow = items[-1][2] + 1, items[-1][3] + 1
    cols = cols.reshape(n, c, kernel[0], kernel[1], oh, ow)
    for i, j, y, x_, r, q in items:
        out[:, :, r, q] += cols[:, :, i, j, y, x_]
    return out[:, :, padding[0]:padding[0] + out_hw[0], padding[1]:padding[1] + out_hw[1]]


def lstm_gates(L: Any, z: Any, c: Any) -> tuple:
    """An LSTM step after its matmul, from the gates' pre-activations ``z`` (i | f | g | o) and
    the cell state ``c``: tinytorch's two nodes (``nn.LSTM`` runs them), torch's composition."""
    if L.mod is tt:
        from tinytorch.ops.fused import LstmCell, LstmHidden
        c2 = LstmCell.apply(z, c)
        return LstmHidden.apply(z, c2), c2
    i, f, g, o = z.chunk(4, -1)
    c2 = f.sigmoid() * c + i.sigmoid() * g.tanh()
    return o.sigmoid() * c2.tanh(), c2


def np_lstm_gates(z: np.ndarray, c: np.ndarray) -> tuple:
    i, f, g, o = (1 / (1 + np.exp(-p)) if k != 2 else np.tanh(p) for k, p in enumerate(np.split(z, 4, -1)))
    c2 = f * c + i * g
    return o * np.tanh(c2), c2


def np_softmax(x: np.ndarray, axis: int) -> np.ndarray:
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def np_logsumexp(x: np.ndarray, axis: Any, keepdims: bool = False) -> np.ndarray:
    m = x.max(axis=axis, keepdims=True)
    out = np.log(np.exp(x - m).sum(axis=axis, keepdims=True)) + m
    return out if keepdims else np.squeeze(out, axis=axis)


def np_erf(x: np.ndarray) -> np.ndarray:
    return np.vectorize(math.erf)(x)


def np_erfc(x: np.ndarray) -> np.ndarray:
    return np.vectorize(math.erfc)(x)


def np_erfinv(y: np.ndarray) -> np.ndarray:
    """erf's inverse by Newton's method from 0 (for |y| < 0.9, where it converges fast)."""
    x = np.zeros_like(y)
    for _ in range(50):
        x = x - (np_erf(x) - y) / (2 / math.sqrt(math.pi) * np.exp(-x * x))
    return x


def np_max_dim(x: np.ndarray, axis: int, keepdims: bool = False) -> np.ndarray:
    return x.max(axis=axis, keepdims=keepdims)


def np_gather(x: np.ndarray, axis: int, index: np.ndarray) -> np.ndarray:
    return np.take_along_axis(x, index, axis=axis)


# constant index arrays used by the indexing entries (shared by tinytorch, torch and numpy)
IDX = np.array([2, 0, 2, 1])
IDX2 = np.array([[0, 1], [2, 0]])
GATHER_IDX = np.array([[0, 2, 2, 1], [1, 1, 0, 0], [2, 0, 1, 2]])
MASK = np.array([[True, False, True, False], [False, False, True, True], [True, True, False, False]])


# --- numpy references and constants: indexing and matmul family (h-index) ---
SCATTER_IDX = np.array([[0, 1, 2, 0], [2, 0, 1, 1]])  # no position twice: scatter's overwrite is then defined
_NP_REDUCE = {"sum": (np.add, 0.0), "prod": (np.multiply, 1.0), "amax": (np.maximum, -np.inf),
              "amin": (np.minimum, np.inf)}


def np_scatter(a: np.ndarray, axis: int, index: np.ndarray, src: Any, reduce: str | None = None,
               include_self: bool = True) -> np.ndarray:
    """torch.scatter / scatter_reduce by their definition: ``out[pos] op= src[j]`` where pos is
    index[j] along ``axis`` and j's own coordinates elsewhere (ufunc.at: repeats combine)."""
    out = a.copy()
    pos = list(np.indices(index.shape))
    pos[axis] = index
    where = tuple(pos)
    vals = np.broadcast_to(src, index.shape) if np.ndim(src) == 0 else src[tuple(slice(0, n) for n in index.shape)]
    if reduce is None:
        out[where] = vals
        return out
    ufunc, identity = _NP_REDUCE["sum" if reduce == "mean" else reduce]
    if not include_self:
        out[where] = identity
    ufunc.at(out, where, vals)
    if reduce == "mean":
        count = np.full(a.shape, 1.0 if include_self else 0.0)
        np.add.at(count, where, 1.0)
        out = out / np.maximum(count, 1.0)
    return out


def np_index_add(a: np.ndarray, axis: int, index: np.ndarray, src: np.ndarray, alpha: float = 1.0) -> np.ndarray:
    out = np.moveaxis(a.copy(), axis, 0)
    np.add.at(out, index, alpha * np.moveaxis(src, axis, 0))
    return np.moveaxis(out, 0, axis)


def np_masked_scatter(a: np.ndarray, mask: np.ndarray, src: np.ndarray) -> np.ndarray:
    out = a.copy()
    out[mask] = src.reshape(-1)[: mask.sum()]
    return out


def np_unfold_dim(a: np.ndarray, axis: int, size: int, step: int) -> np.ndarray:
    """Tensor.unfold: windows along ``axis`` become that axis, their elements a last axis."""
    windows = np.lib.stride_tricks.sliding_window_view(a, size, axis=axis)
    return np.take(windows, np.arange(0, windows.shape[axis], step), axis=axis)
# --- reductions and sorting (h-reduce): numpy references and input helpers ---------------------
def np_running_extreme(x: np.ndarray, axis: int, largest: bool) -> tuple[np.ndarray, np.ndarray]:
    """cummax / cummin by their definition: the running extreme and the last index where it is."""
    x = np.moveaxis(x, axis, -1)
    values = (np.maximum if largest else np.minimum).accumulate(x, axis=-1)
    indices = np.zeros(x.shape, np.int64)
    for pos in np.ndindex(x.shape[:-1]):
        for k in range(x.shape[-1]):
            indices[pos + (k,)] = np.flatnonzero(x[pos][:k + 1] == values[pos + (k,)])[-1]
    return np.moveaxis(values, -1, axis), np.moveaxis(indices, -1, axis)


def np_lower_median(x: np.ndarray, axis: int | None = None) -> np.ndarray:
    if axis is None:
        return np.sort(x.reshape(-1))[(x.size - 1) // 2]
    return np.take(np.sort(x, axis), (x.shape[axis] - 1) // 2, axis)


def well_conditioned(L: Any, a: Any) -> Any:
    """``a`` plus 6 on the diagonal: diagonally dominant for inputs in (-2, 2), so invertible."""
    return a + 6 * L.eye(a.shape[-1], dtype=a.dtype, device=a.device)


def spd(L: Any, a: Any) -> Any:
    """A symmetric positive-definite matrix made from ``a`` (for Cholesky)."""
    return a @ a.mT + 3 * L.eye(a.shape[-1], dtype=a.dtype, device=a.device)


INF = math.inf


def np_lgamma(a: np.ndarray) -> np.ndarray:
    return np.vectorize(math.lgamma)(a)


def _py_digamma(x: float) -> float:
    """digamma in Python floats: reflection below 1/2, then the recurrence up to x >= 40 and the
    asymptotic series to z^-14 (exact to float64 there)."""
    if x < 0.5:
        return _py_digamma(1.0 - x) - math.pi / math.tan(math.pi * x)
    acc = 0.0
    while x < 40.0:
        acc -= 1.0 / x
        x += 1.0
    bernoulli_terms = (1 / 12, -1 / 120, 1 / 252, -1 / 240, 1 / 132, -691 / 32760, 1 / 12)
    return acc + math.log(x) - 0.5 / x - sum(c / x ** (2 * k + 2) for k, c in enumerate(bernoulli_terms))


def np_digamma(a: np.ndarray) -> np.ndarray:
    return np.vectorize(_py_digamma)(a)


# --- numpy references: joining, integration, distances, searching (surface ops) ------------------------
def np_block_diag(*blocks: np.ndarray) -> np.ndarray:
    mats = [np.atleast_2d(b) for b in blocks]
    out = np.zeros((sum(m.shape[0] for m in mats), sum(m.shape[1] for m in mats)), np.result_type(*mats))
    r = c = 0
    for m in mats:
        out[r:r + m.shape[0], c:c + m.shape[1]] = m
        r, c = r + m.shape[0], c + m.shape[1]
    return out


def np_cartesian_prod(*vs: np.ndarray) -> np.ndarray:
    return np.array(list(itertools.product(*vs)))


def np_combinations(a: np.ndarray, r: int, with_replacement: bool = False) -> np.ndarray:
    pick = itertools.combinations_with_replacement if with_replacement else itertools.combinations
    return np.array(list(pick(a, r))).reshape(-1, r)


def np_diag_embed(a: np.ndarray, offset: int, dim1: int, dim2: int) -> np.ndarray:
    n = a.shape[-1] + abs(offset)
    out = np.zeros(a.shape[:-1] + (n, n), a.dtype)
    i = np.arange(a.shape[-1])
    out[..., i + max(-offset, 0), i + max(offset, 0)] = a
    return np.moveaxis(out, (-2, -1), (dim1, dim2))


def np_trapezoid_terms(y: np.ndarray, x: np.ndarray | None, dx: float, axis: int) -> np.ndarray:
    y = np.moveaxis(y, axis, -1)
    widths = dx if x is None else np.diff(x)
    return np.moveaxis((y[..., 1:] + y[..., :-1]) * widths / 2, -1, axis)


def np_renorm(a: np.ndarray, p: float, axis: int, maxnorm: float) -> np.ndarray:
    others = tuple(k for k in range(a.ndim) if k != axis)
    norms = (np.abs(a) ** p).sum(axis=others, keepdims=True) ** (1 / p)
    return a * np.where(norms > maxnorm, maxnorm / (norms + 1e-7), 1.0)


def np_cdist(a: np.ndarray, b: np.ndarray, p: float) -> np.ndarray:
    d = np.abs(a[..., :, None, :] - b[..., None, :, :])
    return d.max(-1) if p == INF else (d ** p).sum(-1) ** (1 / p)


def np_cosine_similarity(a: np.ndarray, b: np.ndarray, axis: int, eps: float = 1e-8) -> np.ndarray:
    na = np.maximum(np.sqrt((a * a).sum(axis, keepdims=True)), eps)
    nb = np.maximum(np.sqrt((b * b).sum(axis, keepdims=True)), eps)
    return (a / na * b / nb).sum(axis)


def np_index_put(a: np.ndarray, index: tuple, values: np.ndarray, accumulate: bool) -> np.ndarray:
    out = a.copy()
    if accumulate:
        np.add.at(out, index, np.broadcast_to(values, out[index].shape))
    else:
        out[index] = values
    return out


def vander_of(L: Any, a: Any, n: int | None = None, increasing: bool = False) -> Any:
    """tinytorch's vander; for torch the same running product (torch.vander's own backward fails
    with an in-place error in PyTorch 2.x; its forward is checked in tests/test_surface_ops.py)."""
    if L.mod is tt:
        return L.vander(a, n, increasing=increasing)
    n = a.shape[0] if n is None else n
    cols = L.cat([L.ones_like(a)[:, None], a[:, None].expand(a.shape[0], n - 1)], 1).cumprod(1)
    return cols if increasing else cols.flip(1)


def cdist_of(L: Any, a: Any, b: Any, p: float = 2.0) -> Any:
    """tinytorch's cdist; for torch the norm of the differences (torch.cdist has no second
    derivative; its values and first derivative are checked in tests/test_surface_ops.py)."""
    if L.mod is tt:
        return L.cdist(a, b, p)
    return L.linalg.vector_norm(a.unsqueeze(-2) - b.unsqueeze(-3), p, dim=-1)


PUT_IDX = np.array([0, 2])
PUT_ROWS = np.array([1, 1, 3])  # a repeated row: accumulate adds both




@dataclass
class Op:
    """One row of the table.

    ``fn(L, *xs)``: the op, for ``L`` = a tinytorch or torch namespace (see ``Lib``).
    ``ref(*arrays)``: the numpy forward. ``shapes``: input shapes. ``broadcast``: shapes of
    the broadcasting variant. ``domain``: how inputs are drawn (see ``draw``).
    ``grad``: whether the op is differentiable (integer and bool results are not).
    """

    name: str
    fn: Callable
    ref: Callable
    shapes: tuple
    broadcast: tuple | None = None
    domain: str = "real"
    grad: bool = True
    tol32: float = 1e-5
    tol64: float = 1e-10  # float64: looser only where PyTorch's own value is less accurate
    marks: list = field(default_factory=list)


def unary(name: str, fn: Callable, ref: Callable, domain: str = "real", shape: tuple = (3, 4),
          marks: list | None = None) -> Op:
    return Op(name, fn, ref, (shape,), domain=domain, marks=marks or [])


def binary(name: str, fn: Callable, ref: Callable, domain: str = "real") -> Op:
    return Op(name, fn, ref, ((3, 4), (3, 4)), broadcast=((2, 3, 1), (4,)), domain=domain)


OPS = [
    # --- elementwise: binary (Tensor op Tensor, broadcasting) --------------------------------------
    binary("add", lambda L, a, b: a + b, np.add),
    binary("sub", lambda L, a, b: a - b, np.subtract),
    binary("mul", lambda L, a, b: a * b, np.multiply),
    binary("div", lambda L, a, b: a / b, np.divide, domain="nonzero"),
    binary("pow", lambda L, a, b: a ** b, np.power, domain="positive"),
    binary("maximum", lambda L, a, b: L.maximum(a, b), np.maximum),
    binary("minimum", lambda L, a, b: L.minimum(a, b), np.minimum),
    binary("add_alpha", lambda L, a, b: L.add(a, b, alpha=2.5), lambda a, b: a + 2.5 * b),
    binary("sub_method", lambda L, a, b: a.sub(b, alpha=0.5), lambda a, b: a - 0.5 * b),
    binary("max_binary", lambda L, a, b: L.max(a, b), np.maximum),
    binary("where", lambda L, a, b: L.where(a > b, a * 2, b), lambda a, b: np.where(a > b, a * 2, b)),
    # --- elementwise: with Python scalars, both sides ----------------------------------------------
    unary("add_scalar", lambda L, a: a + 1.5, lambda a: a + 1.5),
    unary("radd_scalar", lambda L, a: 2 + a, lambda a: 2 + a),
    unary("rsub_scalar", lambda L, a: 2 - a, lambda a: 2 - a),
    unary("mul_scalar", lambda L, a: a * -3, lambda a: a * -3),
    unary("div_scalar", lambda L, a: a / 4, lambda a: a / 4),
    unary("rdiv_scalar", lambda L, a: 2 / a, lambda a: 2 / a, domain="nonzero"),
    unary("pow_scalar", lambda L, a: a ** 3, lambda a: a ** 3),
    unary("pow_half", lambda L, a: a ** 0.5, np.sqrt, domain="positive"),
    unary("pow_zero", lambda L, a: a ** 0, lambda a: a ** 0),
    unary("rpow_scalar", lambda L, a: 2 ** a, lambda a: 2 ** a),
    unary("where_scalar", lambda L, a: L.where(a > 0, a, 0.0), lambda a: np.where(a > 0, a, 0.0)),
    unary("masked_fill", lambda L, a: a.masked_fill(a < 0, -1.0), lambda a: np.where(a < 0, -1.0, a)),
    # --- elementwise: unary -------------------------------------------------------------------
    unary("neg", lambda L, a: -a, np.negative),
    unary("exp", lambda L, a: L.exp(a), np.exp),
    unary("log", lambda L, a: L.log(a), np.log, domain="positive"),
    unary("sqrt", lambda L, a: a.sqrt(), np.sqrt, domain="positive"),
    unary("rsqrt", lambda L, a: L.rsqrt(a), lambda a: 1 / np.sqrt(a), domain="positive"),
    unary("square", lambda L, a: L.square(a), np.square),
    unary("abs", lambda L, a: L.abs(a), np.abs, domain="nonzero"),
    unary("sin", lambda L, a: L.sin(a), np.sin),
    unary("cos", lambda L, a: a.cos(), np.cos),
    unary("tanh", lambda L, a: L.tanh(a), np.tanh),
    unary("sigmoid", lambda L, a: L.sigmoid(a), lambda a: 1 / (1 + np.exp(-a))),
    unary("relu", lambda L, a: L.relu(a), lambda a: np.maximum(a, 0), domain="nonzero"),
    unary("erf", lambda L, a: L.erf(a), np_erf),
    unary("clamp", lambda L, a: L.clamp(a, -0.5, 0.7), lambda a: np.clip(a, -0.5, 0.7), domain="away"),
    unary("clamp_only_min", lambda L, a: a.clamp(min=-0.5), lambda a: np.maximum(a, -0.5), domain="away"),
    unary("clamp_only_max", lambda L, a: a.clamp(max=0.7), lambda a: np.minimum(a, 0.7), domain="away"),
    unary("clamp_min", lambda L, a: L.clamp_min(a, -0.5), lambda a: np.maximum(a, -0.5), domain="away"),
    unary("clamp_max", lambda L, a: a.clamp_max(0.7), lambda a: np.minimum(a, 0.7), domain="away"),
    unary("reciprocal", lambda L, a: L.reciprocal(a), lambda a: 1 / a, domain="nonzero"),
    unary("tan", lambda L, a: L.tan(a), np.tan, domain="unit"),
    unary("log2", lambda L, a: a.log2(), np.log2, domain="positive"),
    unary("log10", lambda L, a: L.log10(a), np.log10, domain="positive"),
    Op("lerp", lambda L, a, b, w: L.lerp(a, b, w), lambda a, b, w: a + w * (b - a), ((3, 4), (3, 4), (3, 4)),
       broadcast=((2, 3, 1), (4,), (3, 1)), domain="unit"),
    unary("lerp_scalar", lambda L, a: a.lerp(a * 2 + 1, 0.75), lambda a: a + 0.75 * (a + 1)),
    binary("logaddexp", lambda L, a, b: L.logaddexp(a, b), np.logaddexp),
    binary("hypot", lambda L, a, b: a.hypot(b), np.hypot, domain="nonzero"),
    unary("exp2", lambda L, a: L.exp2(a), np.exp2),
    unary("floor", lambda L, a: L.floor(a * 3), lambda a: np.floor(a * 3)),
    unary("ceil", lambda L, a: (a * 3).ceil(), lambda a: np.ceil(a * 3)),
    unary("trunc", lambda L, a: L.trunc(a * 3), lambda a: np.trunc(a * 3)),
    unary("round", lambda L, a: L.round(a * 3), lambda a: np.round(a * 3)),
    unary("round_decimals", lambda L, a: a.round(decimals=1), lambda a: np.round(a * 10) / 10),
    unary("frac", lambda L, a: L.frac(a * 3), lambda a: a * 3 - np.trunc(a * 3)),
    unary("log1p", lambda L, a: L.log1p(a), np.log1p, domain="positive"),
    unary("expm1", lambda L, a: a.expm1(), np.expm1),
    unary("asin", lambda L, a: L.asin(a), np.arcsin, domain="inner"),
    unary("acos", lambda L, a: a.acos(), np.arccos, domain="inner"),
    unary("atan", lambda L, a: L.atan(a), np.arctan),
    unary("sinh", lambda L, a: L.sinh(a), np.sinh),
    unary("cosh", lambda L, a: a.cosh(), np.cosh),
    unary("asinh", lambda L, a: L.asinh(a), np.arcsinh),
    unary("acosh", lambda L, a: L.acosh(a + 1.5), lambda a: np.arccosh(a + 1.5), domain="positive"),
    unary("atanh", lambda L, a: a.atanh(), np.arctanh, domain="inner"),
    unary("nan_to_num", lambda L, a: L.nan_to_num(L.log(a), posinf=3.0), lambda a: np.nan_to_num(np.log(a), posinf=3.0),
          domain="nonzero"),
    unary("clip", lambda L, a: L.clip(a, -0.5, 0.7), lambda a: np.clip(a, -0.5, 0.7), domain="away"),
    # --- reductions --------------------------------------------------------------------------------
    unary("sum", lambda L, a: a.sum(), np.sum, shape=(2, 3, 4)),
    unary("sum_dtype", lambda L, a: a.sum(1, dtype=L.float64).to(a.dtype), lambda a: a.sum(1), shape=(2, 3, 4)),
    unary("mean_dtype", lambda L, a: L.mean(a, 0, dtype=L.float64).to(a.dtype), lambda a: a.mean(0)),
    unary("sum_dim", lambda L, a: L.sum(a, 1), lambda a: a.sum(1), shape=(2, 3, 4)),
    unary("sum_dims_keep", lambda L, a: a.sum((0, -1), keepdim=True),
          lambda a: a.sum((0, 2), keepdims=True), shape=(2, 3, 4)),
    unary("mean", lambda L, a: a.mean(), np.mean, shape=(2, 3, 4)),
    unary("mean_dim", lambda L, a: L.mean(a, -1, keepdim=True), lambda a: a.mean(-1, keepdims=True), shape=(2, 3, 4)),
    unary("var", lambda L, a: a.var(), lambda a: a.var(ddof=1), shape=(2, 3, 4)),
    unary("var_dim", lambda L, a: L.var(a, 1), lambda a: a.var(1, ddof=1), shape=(2, 3, 4)),
    unary("var_correction0", lambda L, a: a.var(dim=(0, 2), keepdim=True, correction=0),
          lambda a: a.var((0, 2), keepdims=True), shape=(2, 3, 4)),
    unary("std", lambda L, a: a.std(), lambda a: a.std(ddof=1), shape=(2, 3, 4)),
    unary("std_dim", lambda L, a: L.std(a, 0, keepdim=True), lambda a: a.std(0, ddof=1, keepdims=True)),
    unary("amax", lambda L, a: a.amax(), np.max, shape=(2, 3, 4)),
    unary("amax_dims", lambda L, a: L.amax(a, (0, 2)), lambda a: a.max((0, 2)), shape=(2, 3, 4)),
    unary("amin_dim", lambda L, a: a.amin(1, keepdim=True), lambda a: a.min(1, keepdims=True), shape=(2, 3, 4)),
    unary("max_all", lambda L, a: a.max(), np.max),
    unary("min_all", lambda L, a: L.min(a), np.min),
    unary("max_dim", lambda L, a: L.max(a, 1).values, lambda a: a.max(1), shape=(2, 3, 4)),
    unary("max_dim_keep", lambda L, a: a.max(dim=-1, keepdim=True)[0], lambda a: a.max(-1, keepdims=True)),
    unary("min_dim", lambda L, a: a.min(0).values, lambda a: a.min(0)),
    Op("max_indices", lambda L, a: L.max(a, 1).indices, lambda a: a.argmax(1), ((3, 4),), grad=False),
    Op("argmax", lambda L, a: a.argmax(), lambda a: a.argmax(), ((3, 4),), grad=False),
    Op("argmax_dim", lambda L, a: L.argmax(a, dim=1, keepdim=True), lambda a: a.argmax(1)[:, None], ((3, 4),),
       grad=False),
    Op("argmin_dim", lambda L, a: a.argmin(0), lambda a: a.argmin(0), ((3, 4),), grad=False),
    unary("logsumexp", lambda L, a: L.logsumexp(a, 1), lambda a: np_logsumexp(a, 1), shape=(2, 3, 4)),
    unary("logsumexp_keep", lambda L, a: a.logsumexp((0, 2), keepdim=True),
          lambda a: np_logsumexp(a, (0, 2), True), shape=(2, 3, 4)),
    unary("softmax", lambda L, a: L.softmax(a, 1), lambda a: np_softmax(a, 1), shape=(2, 3, 4)),
    unary("softmax_last", lambda L, a: a.softmax(-1), lambda a: np_softmax(a, -1)),
    unary("log_softmax", lambda L, a: L.log_softmax(a, -1), lambda a: np.log(np_softmax(a, -1))),
    unary("log_softmax_dim0", lambda L, a: a.log_softmax(0), lambda a: np.log(np_softmax(a, 0)), shape=(2, 3, 4)),
    unary("var_mean", lambda L, a: L.var_mean(a, 1), lambda a: (a.var(1, ddof=1), a.mean(1)), shape=(2, 3, 4)),
    unary("std_mean", lambda L, a: L.std_mean(a, (0, 2), correction=0, keepdim=True),
          lambda a: (a.std((0, 2), keepdims=True), a.mean((0, 2), keepdims=True)), shape=(2, 3, 4)),
    Op("count_nonzero", lambda L, a: L.count_nonzero(a, 1), lambda a: np.count_nonzero(a, 1), ((3, 4),), grad=False,
       domain="ints"),
    # --- comparisons and logic (no gradient) --------------------------------------------------------
    Op("eq", lambda L, a, b: a == b, np.equal, ((3, 4), (3, 4)), broadcast=((2, 3, 1), (4,)), grad=False,
       domain="ints"),
    Op("ne", lambda L, a, b: a != b, np.not_equal, ((3, 4), (3, 4)), grad=False, domain="ints"),
    Op("lt", lambda L, a, b: a < b, np.less, ((3, 4), (3, 4)), broadcast=((2, 3, 1), (4,)), grad=False),
    Op("le", lambda L, a, b: L.le(a, b), np.less_equal, ((3, 4), (3, 4)), grad=False, domain="ints"),
    Op("gt_scalar", lambda L, a: a > 0.5, lambda a: a > 0.5, ((3, 4),), grad=False),
    Op("ge_scalar", lambda L, a: L.ge(a, 0), lambda a: a >= 0, ((3, 4),), grad=False),
    Op("logic", lambda L, a, b: (a > 0) & ~(b > 0) | (a > 1), lambda a, b: (a > 0) & ~(b > 0) | (a > 1),
       ((3, 4), (3, 4)), grad=False),
    Op("logical_xor", lambda L, a, b: L.logical_xor(a > 0, b > 0) ^ (a > 1), lambda a, b: (a > 0) ^ (b > 0) ^ (a > 1),
       ((3, 4), (3, 4)), grad=False),
    Op("sign", lambda L, a: L.sign(a), np.sign, ((3, 4),), grad=False),
    Op("sgn", lambda L, a: a.sgn(), np.sign, ((3, 4),), grad=False),
    Op("isfinite", lambda L, a: L.isfinite(L.log(a)), lambda a: np.isfinite(np.log(a)), ((3, 4),), grad=False),
    Op("any_all", lambda L, a: L.stack([(a > 1).any(1), (a > -1).all(1)]),
       lambda a: np.stack([(a > 1).any(1), (a > -1).all(1)]), ((3, 4),), grad=False),
    # --- movement --------------------------------------------------------------------------------------
    unary("reshape", lambda L, a: a.reshape(4, -1), lambda a: a.reshape(4, -1)),
    unary("reshape_tuple", lambda L, a: L.reshape(a, (2, 2, 3)), lambda a: a.reshape(2, 2, 3)),
    unary("flatten", lambda L, a: L.flatten(a), lambda a: a.reshape(-1), shape=(2, 3, 4)),
    unary("flatten_range", lambda L, a: a.flatten(1), lambda a: a.reshape(2, 12), shape=(2, 3, 4)),
    unary("permute", lambda L, a: a.permute(2, 0, 1), lambda a: a.transpose(2, 0, 1), shape=(2, 3, 4)),
    unary("permute_fn", lambda L, a: L.permute(a, (1, 2, 0)), lambda a: a.transpose(1, 2, 0), shape=(2, 3, 4)),
    unary("transpose", lambda L, a: L.transpose(a, 0, -1), lambda a: a.swapaxes(0, 2), shape=(2, 3, 4)),
    unary("T", lambda L, a: a.T, lambda a: a.T),
    unary("mT", lambda L, a: a.mT, lambda a: a.swapaxes(-1, -2), shape=(2, 3, 4)),
    unary("t", lambda L, a: L.t(a), lambda a: a.T),
    unary("expand", lambda L, a: a.expand(2, 3, -1), lambda a: np.broadcast_to(a, (2, 3, 4)), shape=(1, 4)),
    unary("broadcast_to", lambda L, a: L.broadcast_to(a, (2, 3, 4)), lambda a: np.broadcast_to(a, (2, 3, 4)),
          shape=(3, 1)),
    unary("flip", lambda L, a: L.flip(a, (0, 2)), lambda a: a[::-1, :, ::-1], shape=(2, 3, 4)),
    unary("squeeze", lambda L, a: a.squeeze(), lambda a: a.squeeze(), shape=(3, 1, 4, 1)),
    unary("squeeze_dim", lambda L, a: L.squeeze(a, 1), lambda a: a.squeeze(1), shape=(3, 1, 4, 1)),
    unary("unsqueeze", lambda L, a: a.unsqueeze(-1), lambda a: a[..., None]),
    unary("unsqueeze_fn", lambda L, a: L.unsqueeze(a, 1), lambda a: a[:, None]),
    unary("view", lambda L, a: a.contiguous().view(12), lambda a: a.reshape(12)),
    unary("clone", lambda L, a: a.clone(), lambda a: a.copy()),
    unary("to_dtype", lambda L, a: (a.double() * 2).to(a.dtype), lambda a: a * 2),
    unary("to_device", lambda L, a: (a.to(L.other_device) * 2).to(a.device), lambda a: a * 2),
    # float(): only where it loses nothing (in float64 runs the row is the identity)
    unary("float", lambda L, a: (a.float() if a.dtype == L.float32 else a) * 2, lambda a: a * 2),
    unary("double", lambda L, a: (a.double() * 2).to(a.dtype), lambda a: a * 2),
    unary("type_as", lambda L, a: (a.double() * 2).type_as(a), lambda a: a * 2),
    unary("type", lambda L, a: (a.type(L.float64) * 2).type(a.type()), lambda a: a * 2),
    unary("cpu", lambda L, a: (a.cpu() * 2).to(a.device), lambda a: a * 2),
    unary("cuda", lambda L, a: L.through_the_gpu(a) * 2, lambda a: a * 2,
          marks=[pytest.mark.skipif(not tt.cuda.is_available(), reason="device 'cuda' is not available")]),
    unary("contiguous", lambda L, a: a.t().contiguous(), lambda a: a.T),
    unary("view_as", lambda L, a: a.contiguous().view_as(L.const(np.zeros((2, 6)))), lambda a: a.reshape(2, 6)),
    unary("reshape_as", lambda L, a: a.reshape_as(L.const(np.zeros((6, 2)))), lambda a: a.reshape(6, 2)),
    unary("expand_as", lambda L, a: a.expand_as(L.const(np.zeros((2, 1, 4)))), lambda a: np.broadcast_to(a, (2, 1, 4)),
          shape=(1, 4)),
    unary("positive", lambda L, a: +a, lambda a: a),
    unary("split", lambda L, a: L.split(a, 3, dim=1), lambda a: np.split(a, [3], axis=1)),
    unary("split_sizes", lambda L, a: a.split([1, 2], 0), lambda a: np.split(a, [1], axis=0)),
    unary("chunk", lambda L, a: L.chunk(a, 2, 1), lambda a: np.split(a, 2, axis=1)),
    unary("narrow", lambda L, a: L.narrow(a, 2, 1, 2), lambda a: a[:, :, 1:3], shape=(2, 3, 4)),
    unary("select", lambda L, a: a.select(1, -1), lambda a: a[:, -1], shape=(2, 3, 4)),
    unary("unbind", lambda L, a: L.unbind(a, 1), lambda a: tuple(a[:, i] for i in range(3)), shape=(2, 3, 4)),
    unary("movedim", lambda L, a: L.movedim(a, (0, 2), (2, 0)), lambda a: np.moveaxis(a, (0, 2), (2, 0)),
          shape=(2, 3, 4)),
    unary("roll", lambda L, a: L.roll(a, (1, -2), (1, 2)), lambda a: np.roll(a, (1, -2), (1, 2)), shape=(2, 3, 4)),
    unary("roll_flat", lambda L, a: a.roll(3), lambda a: np.roll(a, 3)),
    unary("fliplr", lambda L, a: L.fliplr(a), np.fliplr),
    unary("flipud", lambda L, a: a.flipud(), np.flipud),
    unary("unflatten", lambda L, a: L.unflatten(a, 1, (2, -1)), lambda a: a.reshape(3, 2, 2)),
    unary("index_select", lambda L, a: L.index_select(a, 1, L.const(IDX)), lambda a: a[:, IDX]),
    unary("masked_select", lambda L, a: L.masked_select(a, L.const(MASK[0])),
          lambda a: a[np.broadcast_to(MASK[0], a.shape)]),
    unary("take", lambda L, a: L.take(a, L.const(IDX2)), lambda a: a.reshape(-1)[IDX2]),
    unary("repeat", lambda L, a: a.repeat(2, 1, 3), lambda a: np.tile(a, (2, 1, 3))),
    unary("tile", lambda L, a: L.tile(a, (2,)), lambda a: np.tile(a, 2)),
    unary("repeat_interleave", lambda L, a: L.repeat_interleave(a, 2, 1), lambda a: np.repeat(a, 2, 1)),
    unary("repeat_interleave_counts", lambda L, a: a.repeat_interleave(L.const(np.array([1, 0, 2])), dim=0),
          lambda a: np.repeat(a, [1, 0, 2], 0)),
    unary("repeat_interleave_flat", lambda L, a: L.repeat_interleave(a, 3), lambda a: np.repeat(a, 3)),
    unary("tensor_split", lambda L, a: L.tensor_split(a, 3, 1), lambda a: tuple(np.array_split(a, 3, 1))),
    unary("tensor_split_indices", lambda L, a: a.tensor_split([1, 5], 1), lambda a: tuple(np.split(a, [1, 5], 1))),
    unary("diagonal", lambda L, a: L.diagonal(a, 1), lambda a: np.diagonal(a, 1)),
    unary("diagonal_dims", lambda L, a: a.diagonal(-1, 2, 0), lambda a: np.diagonal(a, -1, 2, 0), shape=(2, 3, 4)),
    unary("diag", lambda L, a: L.diag(a, -1), lambda a: np.diag(a, -1), shape=(4,)),
    unary("diag_of_matrix", lambda L, a: L.diag(a, 1), lambda a: np.diag(a, 1)),
    Op("meshgrid", lambda L, a, b: L.meshgrid(a, b, indexing="ij"),
       lambda a, b: tuple(np.meshgrid(a, b, indexing="ij")), ((3,), (4,))),
    Op("meshgrid_xy", lambda L, a, b: L.meshgrid(a, b, indexing="xy"), lambda a, b: tuple(np.meshgrid(a, b)),
       ((3,), (4,))),
    Op("nonzero", lambda L, a: L.nonzero(a > 0), lambda a: np.argwhere(a > 0), ((3, 4),), grad=False),
    Op("argwhere", lambda L, a: L.argwhere(a > 0.5), lambda a: np.argwhere(a > 0.5), ((3, 4),), grad=False),
    Op("where_one_argument", lambda L, a: L.where(a > 0), lambda a: np.nonzero(a > 0), ((3, 4),), grad=False),
    unary("tril", lambda L, a: L.tril(a), np.tril),
    unary("triu", lambda L, a: a.triu(1), lambda a: np.triu(a, 1)),
    # --- indexing: basic (views) and advanced (gathers) ------------------------------------------------------
    unary("getitem", lambda L, a: a[1:, ::2], lambda a: a[1:, ::2], shape=(3, 4)),
    unary("index_int", lambda L, a: a[1], lambda a: a[1], shape=(3, 4)),
    unary("index_neg_int", lambda L, a: a[-1, -2], lambda a: a[-1, -2], shape=(3, 4)),
    unary("index_slice", lambda L, a: a[1:, :3], lambda a: a[1:, :3], shape=(3, 4)),
    unary("index_step", lambda L, a: a[::2, 1::2], lambda a: a[::2, 1::2], shape=(3, 4)),
    unary("index_neg_slice", lambda L, a: a[-2:, :-1], lambda a: a[-2:, :-1], shape=(3, 4)),
    unary("index_none_ellipsis", lambda L, a: a[None, ..., 1], lambda a: a[None, ..., 1], shape=(2, 3, 4)),
    unary("index_int_list", lambda L, a: a[[2, 0, 2]], lambda a: a[[2, 0, 2]], shape=(3, 4)),
    unary("index_tensor", lambda L, a: a[:, L.const(IDX)], lambda a: a[:, IDX], shape=(3, 4)),
    unary("index_tensor_2d", lambda L, a: a[L.const(IDX2)], lambda a: a[IDX2], shape=(3, 4)),
    unary("index_pairs", lambda L, a: a[L.const(IDX[:3]), L.const(IDX[1:])], lambda a: a[IDX[:3], IDX[1:]],
          shape=(3, 4)),
    unary("index_mixed", lambda L, a: a[1:, L.const(IDX2)], lambda a: a[1:, IDX2], shape=(3, 4)),
    unary("index_int_then_array", lambda L, a: a[1, :, L.const(IDX[:2])], lambda a: a[1][:, IDX[:2]],
          shape=(2, 3, 4)),  # PyTorch applies ints first (numpy would put the array dim first)
    unary("index_mask", lambda L, a: a[L.const(MASK)], lambda a: a[MASK], shape=(3, 4)),
    unary("index_mask_row", lambda L, a: a[L.const(MASK[:, 0])], lambda a: a[MASK[:, 0]], shape=(3, 4)),
    unary("index_value_mask", lambda L, a: a[a > 0], lambda a: a[a > 0], shape=(3, 4)),
    unary("gather", lambda L, a: L.gather(a, 0, L.const(GATHER_IDX)), lambda a: np_gather(a, 0, GATHER_IDX),
          shape=(3, 4)),
    unary("gather_dim1", lambda L, a: a.gather(1, L.const(GATHER_IDX[:, :2])),
          lambda a: np_gather(a, 1, GATHER_IDX[:, :2]), shape=(3, 4)),
    # --- joining ------------------------------------------------------------------------------------------
    Op("cat", lambda L, a, b: L.cat([a, b, a], 1), lambda a, b: np.concatenate([a, b, a], 1), ((3, 4), (3, 2))),
    Op("cat_dim0", lambda L, a, b: L.cat((a, b), dim=-2), lambda a, b: np.concatenate([a, b], 0), ((2, 4), (3, 4))),
    Op("stack", lambda L, a, b: L.stack([a, b]), lambda a, b: np.stack([a, b]), ((3, 4), (3, 4))),
    Op("stack_last", lambda L, a, b: L.stack([a, b, a], dim=-1), lambda a, b: np.stack([a, b, a], -1),
       ((3, 4), (3, 4))),
    # --- matmul --------------------------------------------------------------------------------------------
    Op("matmul", lambda L, a, b: a @ b, np.matmul, ((3, 4), (4, 5)), broadcast=((2, 1, 3, 4), (3, 4, 2))),
    Op("matmul_fn", lambda L, a, b: L.matmul(a, b), np.matmul, ((2, 3, 4), (2, 4, 5)),
       broadcast=((2, 3, 4), (4, 5))),
    Op("matmul_vec_vec", lambda L, a, b: a @ b, np.matmul, ((4,), (4,))),
    Op("matmul_vec_mat", lambda L, a, b: a @ b, np.matmul, ((4,), (4, 3)), broadcast=((4,), (2, 4, 3))),
    Op("matmul_mat_vec", lambda L, a, b: a.matmul(b), np.matmul, ((3, 4), (4,)), broadcast=((2, 3, 4), (4,))),
    Op("mm", lambda L, a, b: L.mm(a, b), np.matmul, ((3, 4), (4, 5))),
    Op("mm_method_transposed", lambda L, a, b: a.mm(b.t()), lambda a, b: a @ b.T, ((3, 4), (5, 4))),
    Op("bmm", lambda L, a, b: a.bmm(b), np.matmul, ((2, 3, 4), (2, 4, 5))),
    Op("dot", lambda L, a, b: L.dot(a, b), np.dot, ((4,), (4,))),
    Op("mv", lambda L, a, b: a.mv(b), np.matmul, ((3, 4), (4,))),
    Op("outer", lambda L, a, b: L.outer(a, b), np.outer, ((3,), (4,))),
    # --- sliding windows (im2col / col2im) ------------------------------------------------------------
    Op("unfold", lambda L, x: L.nn.functional.unfold(x, (2, 3), padding=1, stride=(2, 1)),
       lambda x: np_unfold(x, (2, 3), (1, 1), (1, 1), (2, 1)), ((2, 3, 5, 6),)),
    Op("unfold_dilated", lambda L, x: L.nn.functional.unfold(x, 2, dilation=2),
       lambda x: np_unfold(x, (2, 2), (2, 2), (0, 0), (1, 1)), ((1, 2, 5, 5),)),
    Op("fold_overlapping", lambda L, x: L.nn.functional.fold(x, (5, 4), 2, padding=(0, 1)),
       lambda x: np_fold(x, (5, 4), (2, 2), (1, 1), (0, 1), (1, 1)), ((2, 12, 20),)),
    Op("fold_disjoint", lambda L, x: L.nn.functional.fold(x, (4, 6), 2, stride=2),
       lambda x: np_fold(x, (4, 6), (2, 2), (1, 1), (0, 0), (2, 2)), ((1, 8, 6),)),
    # --- compositions: a few typical expressions ---------------------------------------------------------------
    Op("mlp_layer", lambda L, x, w, b: L.relu(x @ w.T + b).sum(1).mean(),
       lambda x, w, b: np.maximum(x @ w.T + b, 0).sum(1).mean(), ((5, 4), (3, 4), (3,))),
    Op("cross_entropy", lambda L, x: -L.log_softmax(x, 1)[L.const(np.arange(3)), L.const(IDX[:3])].mean(),
       lambda x: -np.log(np_softmax(x, 1))[np.arange(3), IDX[:3]].mean(), ((3, 4),)),
    Op("layer_norm", lambda L, x: (x - x.mean(-1, keepdim=True)) / L.sqrt(x.var(-1, keepdim=True, correction=0) + 1e-5),
       lambda x: (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + 1e-5), ((3, 4),)),
    # --- elementwise math (h-math) ---
    binary("atan2", lambda L, a, b: L.atan2(a, b), np.arctan2, domain="nonzero"),
    binary("arctan2_method", lambda L, a, b: a.arctan2(b), np.arctan2, domain="nonzero"),
    binary("copysign", lambda L, a, b: L.copysign(a, b), np.copysign, domain="nonzero"),
    unary("copysign_scalar", lambda L, a: a.copysign(-1.0), lambda a: np.copysign(a, -1.0), domain="nonzero"),
    binary("fmod", lambda L, a, b: L.fmod(a, b), np.fmod, domain="nonzero"),
    unary("fmod_scalar", lambda L, a: a.fmod(-0.6), lambda a: np.fmod(a, -0.6)),
    binary("remainder", lambda L, a, b: L.remainder(a, b), np.remainder, domain="nonzero"),
    unary("remainder_mod", lambda L, a: a % 0.75, lambda a: np.remainder(a, 0.75)),
    # a number on the left: PyTorch has no derivative for remainder(Scalar, Tensor), so forward only here
    # (tests/test_elementwise_math.py checks the gradient against -floor(s / a))
    Op("remainder_rmod", lambda L, a: 2.5 % a, lambda a: np.remainder(2.5, a), ((3, 4),), domain="nonzero", grad=False),
    Op("remainder_scalar_first", lambda L, a: L.remainder(-1.5, a), lambda a: np.remainder(-1.5, a), ((3, 4),),
       domain="nonzero", grad=False),
    unary("remainder_tensor_first", lambda L, a: L.remainder(a * 0 + 2.5, a), lambda a: np.remainder(2.5, a),
          domain="nonzero"),
    binary("div_floor", lambda L, a, b: L.div(a, b, rounding_mode="floor"), np.floor_divide, domain="nonzero"),
    binary("div_trunc", lambda L, a, b: a.div(b, rounding_mode="trunc"), lambda a, b: np.trunc(a / b),
           domain="nonzero"),
    unary("divide_trunc_scalar", lambda L, a: L.divide(a, 0.3, rounding_mode="trunc"), lambda a: np.trunc(a / 0.3)),
    Op("floor_divide", lambda L, a, b: L.floor_divide(a, b), np.floor_divide, ((3, 4), (3, 4)),
       broadcast=((2, 3, 1), (4,)), domain="nonzero", grad=False),
    Op("floor_divide_operators", lambda L, a: L.stack([a // 0.3, 2 // a]),
       lambda a: np.stack([np.floor_divide(a, 0.3), np.floor_divide(2, a)]), ((3, 4),), domain="nonzero", grad=False),
    unary("erfc", lambda L, a: L.erfc(a), np_erfc),
    unary("erfinv", lambda L, a: a.erfinv(), np_erfinv, domain="inner"),
    Op("integer_division", lambda L, a, b: L.stack([L.fmod(a.long() * 7, b.long() * 2 + 1),
                                                     (a.long() * 7) % (b.long() * 2 + 1),
                                                     (a.long() * 7) // (b.long() * 2 + 1),
                                                     L.div(a.long() * 7, b.long() * 2 + 1, rounding_mode="trunc")]),
       lambda a, b: np.stack([np.fmod(7 * a.astype(np.int64), 2 * b.astype(np.int64) + 1),
                              np.remainder(7 * a.astype(np.int64), 2 * b.astype(np.int64) + 1),
                              np.floor_divide(7 * a.astype(np.int64), 2 * b.astype(np.int64) + 1),
                              np.fix(7 * a / (2 * b + 1)).astype(np.int64)]),
       ((3, 4), (3, 4)), broadcast=((2, 3, 1), (4,)), grad=False, domain="ints"),
    Op("bitwise_int", lambda L, a, b: L.stack([(a.long() & b.long()) | (a.long() ^ 5), ~(a.long() | b.long()),
                                               (a.long() << 3) >> (b.long() + 2),
                                               L.bitwise_and(6, b.long() - a.long())]),
       lambda a, b: np.stack([(a.astype(np.int64) & b.astype(np.int64)) | (a.astype(np.int64) ^ 5),
                              ~(a.astype(np.int64) | b.astype(np.int64)),
                              (a.astype(np.int64) << 3) >> (b.astype(np.int64) + 2),
                              6 & (b.astype(np.int64) - a.astype(np.int64))]),
       ((3, 4), (3, 4)), broadcast=((2, 3, 1), (4,)), grad=False, domain="ints"),
    Op("bitwise_bool", lambda L, a, b: L.bitwise_xor(L.bitwise_or(a > 0, b > 0), ~(a > b)) & True,
       lambda a, b: ((a > 0) | (b > 0)) ^ ~(a > b), ((3, 4), (3, 4)), broadcast=((2, 3, 1), (4,)), grad=False),
    # --- indexing and matmul family (h-index) ---
    Op("scatter", lambda L, a, b: L.scatter(a, 0, L.const(SCATTER_IDX), b),
       lambda a, b: np_scatter(a, 0, SCATTER_IDX, b), ((3, 4), (2, 4))),
    Op("scatter_larger_src", lambda L, a, b: a.scatter(-1, L.const(SCATTER_IDX[:, :3].T.copy()), b),
       lambda a, b: np_scatter(a, 1, SCATTER_IDX[:, :3].T, b), ((3, 4), (3, 2))),
    unary("scatter_value", lambda L, a: L.scatter(a, 1, L.const(GATHER_IDX[:, :2]), 1.5),
          lambda a: np_scatter(a, 1, GATHER_IDX[:, :2], 1.5)),
    Op("scatter_with_reduce_add", lambda L, a, b: a.scatter(0, L.const(GATHER_IDX), b, reduce="add"),
       lambda a, b: np_scatter(a, 0, GATHER_IDX, b, "sum"), ((3, 4), (3, 4)), grad=False,  # torch: no gradient
       marks=[pytest.mark.filterwarnings("ignore:The reduce argument of torch.scatter")]),
    Op("scatter_add", lambda L, a, b: L.scatter_add(a, 0, L.const(GATHER_IDX), b),
       lambda a, b: np_scatter(a, 0, GATHER_IDX, b, "sum"), ((3, 4), (3, 4))),
    Op("scatter_add_dim1", lambda L, a, b: a.scatter_add(1, L.const(GATHER_IDX[:, :3]), b),
       lambda a, b: np_scatter(a, 1, GATHER_IDX[:, :3], b, "sum"), ((3, 4), (3, 3))),
    *[Op(f"scatter_reduce_{r}{'' if inc else '_exclude_self'}",
         lambda L, a, b, r=r, inc=inc: L.scatter_reduce(a, 0, L.const(GATHER_IDX), b, r, include_self=inc),
         lambda a, b, r=r, inc=inc: np_scatter(a, 0, GATHER_IDX, b, r, inc), ((3, 4), (3, 4)))
      for r in ("sum", "prod", "mean", "amax", "amin") for inc in (True, False)],
    Op("scatter_reduce_method_dim1", lambda L, a, b: a.scatter_reduce(-1, L.const(GATHER_IDX[:, :3]), b, "amax"),
       lambda a, b: np_scatter(a, 1, GATHER_IDX[:, :3], b, "amax"), ((3, 4), (3, 3))),
    Op("index_add", lambda L, a, b: L.index_add(a, 1, L.const(IDX[:3]), b, alpha=2.5),
       lambda a, b: np_index_add(a, 1, IDX[:3], b, 2.5), ((3, 4), (3, 3))),
    Op("index_add_method", lambda L, a, b: a.index_add(0, L.const(IDX), b), lambda a, b: np_index_add(a, 0, IDX, b),
       ((3, 4), (4, 4))),
    Op("index_copy", lambda L, a, b: L.index_copy(a, 1, L.const(np.array([3, 0])), b),
       lambda a, b: np_scatter(a, 1, np.array([[3, 0]] * 3), b), ((3, 4), (3, 2))),
    unary("index_fill", lambda L, a: L.index_fill(a, 1, L.const(np.array([-1, 1])), -2.0),
          lambda a: np.where(np.isin(np.arange(4), [1, 3]), -2.0, a)),
    Op("index_fill_tensor_value", lambda L, a, v: a.index_fill(0, L.const(np.array([2])), v[0]),
       lambda a, v: np.where(np.arange(3)[:, None] == 2, v[0], a), ((3, 4), (1,))),
    Op("masked_scatter", lambda L, a, b: L.masked_scatter(a, L.const(MASK), b),
       lambda a, b: np_masked_scatter(a, MASK, b), ((3, 4), (2, 5))),
    Op("masked_scatter_broadcast", lambda L, a, b: a.masked_scatter(L.const(MASK[0]), b),
       lambda a, b: np_masked_scatter(a, np.broadcast_to(MASK[0], (3, 4)), b), ((3, 4), (7,))),
    unary("take_along_dim", lambda L, a: L.take_along_dim(a, L.const(GATHER_IDX[:2]), 0),
          lambda a: np.take_along_axis(a, GATHER_IDX[:2], 0)),
    unary("take_along_dim_broadcast", lambda L, a: a.take_along_dim(L.const(IDX[None, :3]), dim=-1),
          lambda a: np.take_along_axis(a, np.broadcast_to(IDX[None, :3], (3, 3)), 1)),
    unary("take_along_dim_flat", lambda L, a: L.take_along_dim(a.contiguous(), L.const(IDX2)),  # torch needs a view
          lambda a: a.reshape(-1)[IDX2.reshape(-1)]),
    unary("unfold_method", lambda L, a: a.unfold(1, 2, 1), lambda a: np_unfold_dim(a, 1, 2, 1), shape=(2, 5, 3)),
    unary("unfold_method_step", lambda L, a: a.unfold(-1, 3, 2), lambda a: np_unfold_dim(a, 1, 3, 2), shape=(2, 7)),
    unary("rot90", lambda L, a: L.rot90(a), lambda a: np.rot90(a)),
    unary("rot90_k", lambda L, a: a.rot90(-3, [2, 0]), lambda a: np.rot90(a, -3, (2, 0)), shape=(2, 3, 4)),
    unary("rot90_twice", lambda L, a: L.rot90(a, 2, (1, 0)), lambda a: np.rot90(a, 2, (1, 0))),
    unary("swapdims", lambda L, a: L.swapdims(a, 0, 2), lambda a: a.swapaxes(0, 2), shape=(2, 3, 4)),
    unary("swapaxes", lambda L, a: a.swapaxes(-1, 0), lambda a: a.swapaxes(-1, 0), shape=(2, 3, 4)),
    Op("vdot", lambda L, a, b: L.vdot(a, b), np.vdot, ((4,), (4,))),
    Op("addmm", lambda L, x, a, b: L.addmm(x, a, b, beta=0.5, alpha=2.0), lambda x, a, b: 0.5 * x + 2 * a @ b,
       ((3, 5), (3, 4), (4, 5)), broadcast=((5,), (3, 4), (4, 5))),
    Op("addmm_method_beta0", lambda L, x, a, b: x.addmm(a, b, beta=0), lambda x, a, b: a @ b,
       ((3, 5), (3, 4), (4, 5))),
    Op("addmv", lambda L, x, a, b: L.addmv(x, a, b, alpha=-1.5), lambda x, a, b: x - 1.5 * a @ b,
       ((3,), (3, 4), (4,)), broadcast=((1,), (3, 4), (4,))),
    Op("addr", lambda L, x, a, b: x.addr(a, b, beta=2.0), lambda x, a, b: 2 * x + np.outer(a, b), ((3, 4), (3,), (4,))),
    Op("baddbmm", lambda L, x, a, b: L.baddbmm(x, a, b, beta=-1.0, alpha=0.5), lambda x, a, b: -x + 0.5 * a @ b,
       ((2, 3, 5), (2, 3, 4), (2, 4, 5)), broadcast=((3, 1), (2, 3, 4), (2, 4, 5))),
    Op("addbmm", lambda L, x, a, b: L.addbmm(x, a, b, alpha=2.0), lambda x, a, b: x + 2 * (a @ b).sum(0),
       ((3, 5), (2, 3, 4), (2, 4, 5))),
    Op("einsum_matmul", lambda L, a, b: L.einsum("ij,jk->ik", a, b), np.matmul, ((3, 4), (4, 5))),
    unary("einsum_trace", lambda L, a: L.einsum("ii", a), np.trace, shape=(4, 4)),
    unary("einsum_diagonal_batch", lambda L, a: L.einsum("...ii->...i", a),
          lambda a: np.einsum("...ii->...i", a), shape=(2, 3, 3)),
    Op("einsum_bilinear", lambda L, x, w, y: L.einsum("bi,oij,bj->bo", [x, w, y]),
       lambda x, w, y: np.einsum("bi,oij,bj->bo", x, w, y), ((2, 3), (4, 3, 5), (2, 5))),
    Op("einsum_batch_broadcast", lambda L, a, b: L.einsum("...ij,...jk", a, b),
       lambda a, b: np.einsum("...ij,...jk", a, b), ((2, 1, 3, 4), (3, 4, 2))),
    Op("einsum_outer", lambda L, a, b: L.einsum("i,j->ji", a, b), lambda a, b: np.einsum("i,j->ji", a, b),
       ((3,), (4,))),
    # --- reductions and sorting (h-reduce) ---------------------------------------------------------------
    unary("prod", lambda L, a: a.prod(), np.prod),
    unary("prod_dim", lambda L, a: L.prod(a, 1), lambda a: a.prod(1), shape=(2, 3, 4)),
    unary("prod_keepdim_zeros", lambda L, a: a.prod(-1, keepdim=True), lambda a: a.prod(-1, keepdims=True),
          domain="ints", shape=(4, 5)),
    unary("prod_all_zeros", lambda L, a: L.prod(a), np.prod, domain="ints", shape=(5,)),
    unary("cumsum", lambda L, a: L.cumsum(a, 1), lambda a: np.cumsum(a, 1), shape=(2, 5, 3)),
    unary("cumsum_last", lambda L, a: a.cumsum(-1), lambda a: np.cumsum(a, -1), shape=(3, 7)),
    unary("cumprod", lambda L, a: L.cumprod(a, 0), lambda a: np.cumprod(a, 0), shape=(5, 3)),
    unary("cumprod_zeros", lambda L, a: a.cumprod(1), lambda a: np.cumprod(a, 1), domain="ints", shape=(4, 6)),
    unary("cummax", lambda L, a: L.cummax(a, 1).values, lambda a: np_running_extreme(a, 1, True)[0], shape=(2, 6, 3)),
    unary("cummin", lambda L, a: a.cummin(0)[0], lambda a: np_running_extreme(a, 0, False)[0], shape=(5, 3)),
    Op("cummax_indices", lambda L, a: a.cummax(-1).indices, lambda a: np_running_extreme(a, -1, True)[1], ((3, 6),),
       grad=False),
    Op("cummin_indices", lambda L, a: L.cummin(a, 0).indices, lambda a: np_running_extreme(a, 0, False)[1], ((5, 3),),
       grad=False),
    unary("logcumsumexp", lambda L, a: L.logcumsumexp(a, 1), lambda a: np.logaddexp.accumulate(a, 1), shape=(3, 6)),
    unary("logcumsumexp_large", lambda L, a: (a * 400).logcumsumexp(0) / 400,
          lambda a: np.logaddexp.accumulate(a * 400, 0) / 400, shape=(6, 2)),
    unary("norm", lambda L, a: a.norm(), lambda a: np.sqrt((a * a).sum()), shape=(2, 3, 4)),
    unary("norm_p3_dim", lambda L, a: L.norm(a, 3, 1), lambda a: (np.abs(a) ** 3).sum(1) ** (1 / 3), shape=(2, 3, 4)),
    unary("norm_p1_keepdim", lambda L, a: a.norm(1, dim=-1, keepdim=True), lambda a: np.abs(a).sum(-1, keepdims=True)),
    unary("norm_inf", lambda L, a: L.norm(a, INF, 0), lambda a: np.abs(a).max(0)),
    unary("norm_neg_inf", lambda L, a: a.norm(-INF, dim=(0, 1)), lambda a: np.abs(a).min((0, 1)), shape=(2, 3, 4)),
    unary("norm_half", lambda L, a: L.norm(a, 0.5, 1), lambda a: np.sqrt(np.abs(a)).sum(1) ** 2),
    unary("norm_p1_5", lambda L, a: a.norm(1.5, 1), lambda a: (np.abs(a) ** 1.5).sum(1) ** (1 / 1.5)),
    unary("norm_fro_dims", lambda L, a: L.norm(a, "fro", (1, 2)), lambda a: np.sqrt((a * a).sum((1, 2))),
          shape=(2, 3, 4)),
    Op("norm_p0", lambda L, a: L.norm(a, 0, 1), lambda a: (a != 0).sum(1).astype(a.dtype), ((3, 4),), grad=False,
       domain="ints"),  # PyTorch gives no gradient for p = 0
    unary("linalg_vector_norm", lambda L, a: L.linalg.vector_norm(a, 2, dim=-1), lambda a: np.linalg.norm(a, axis=-1),
          shape=(2, 3, 4)),
    unary("linalg_vector_norm_p4", lambda L, a: L.linalg.vector_norm(a, 4, (0, 2), True),
          lambda a: ((a ** 4).sum((0, 2), keepdims=True)) ** 0.25, shape=(2, 3, 4)),
    unary("linalg_matrix_norm", lambda L, a: L.linalg.matrix_norm(a), lambda a: np.linalg.norm(a, "fro", (-2, -1)),
          shape=(2, 3, 4)),
    unary("linalg_matrix_norm_1", lambda L, a: L.linalg.matrix_norm(a, 1), lambda a: np.linalg.norm(a, 1, (-2, -1)),
          shape=(2, 3, 4)),
    unary("linalg_matrix_norm_neg1", lambda L, a: L.linalg.matrix_norm(a, -1, dim=(0, 1), keepdim=True),
          lambda a: np.abs(a).sum(0, keepdims=True).min(1, keepdims=True), shape=(3, 4, 2)),
    unary("linalg_matrix_norm_inf", lambda L, a: L.linalg.matrix_norm(a, INF), lambda a: np.linalg.norm(a, INF)),
    unary("linalg_matrix_norm_neg_inf", lambda L, a: L.linalg.matrix_norm(a, -INF),
          lambda a: np.linalg.norm(a, -INF)),
    unary("norm_nuc", lambda L, a: L.norm(a, "nuc"), lambda a: np.linalg.norm(a, "nuc"), shape=(4, 3)),
    unary("linalg_matrix_norm_nuc_dims", lambda L, a: L.linalg.matrix_norm(a, "nuc", (0, 2), True),
          lambda a: np.linalg.norm(a.transpose(1, 0, 2), "nuc", (1, 2))[None, :, None], shape=(3, 2, 4)),
    unary("linalg_matrix_norm_2", lambda L, a: L.linalg.matrix_norm(a, 2), lambda a: np.linalg.norm(a, 2, (-2, -1)),
          shape=(2, 3, 4)),
    unary("linalg_matrix_norm_neg2", lambda L, a: L.linalg.matrix_norm(a, -2), lambda a: np.linalg.norm(a, -2)),
    unary("linalg_svdvals", lambda L, a: L.linalg.svdvals(a), lambda a: np.linalg.svd(a, compute_uv=False),
          shape=(2, 5, 3)),
    unary("linalg_svdvals_wide", lambda L, a: L.linalg.svdvals(a), lambda a: np.linalg.svd(a, compute_uv=False)),
    unary("linalg_norm", lambda L, a: L.linalg.norm(a), lambda a: np.linalg.norm(a.reshape(-1)), shape=(2, 3, 4)),
    unary("linalg_norm_ord_dim", lambda L, a: L.linalg.norm(a, 3, 1), lambda a: np.linalg.norm(a, 3, 1)),
    unary("linalg_norm_matrix", lambda L, a: L.linalg.norm(a, INF), lambda a: np.linalg.norm(a, INF)),
    unary("sort", lambda L, a: L.sort(a).values, lambda a: np.sort(a, -1), shape=(2, 3, 5)),
    unary("sort_descending", lambda L, a: a.sort(0, descending=True)[0], lambda a: np.sort(a, 0)[::-1], shape=(5, 3)),
    Op("sort_indices", lambda L, a: L.sort(a, dim=1, stable=True).indices, lambda a: np.argsort(a, 1, kind="stable"),
       ((3, 5),), grad=False, domain="ints"),
    Op("argsort", lambda L, a: L.argsort(a, dim=1, stable=True), lambda a: np.argsort(a, 1, kind="stable"), ((3, 5),),
       grad=False, domain="ints"),
    Op("argsort_descending", lambda L, a: a.argsort(dim=0, descending=True, stable=True),
       lambda a: np.argsort(-a, 0, kind="stable"), ((6, 3),), grad=False, domain="ints"),
    unary("msort", lambda L, a: L.msort(a), lambda a: np.sort(a, 0), shape=(5, 3)),
    unary("topk", lambda L, a: L.topk(a, 2).values, lambda a: -np.sort(-a, -1)[..., :2], shape=(2, 3, 5)),
    unary("topk_smallest", lambda L, a: a.topk(3, dim=0, largest=False)[0], lambda a: np.sort(a, 0)[:3], shape=(5, 3)),
    Op("topk_indices", lambda L, a: L.topk(a, 3, 1).indices, lambda a: np.argsort(-a, 1)[:, :3], ((3, 6),), grad=False),
    unary("kthvalue", lambda L, a: L.kthvalue(a, 2).values, lambda a: np.sort(a, -1)[..., 1], shape=(2, 3, 5)),
    unary("kthvalue_keepdim", lambda L, a: a.kthvalue(4, 0, keepdim=True)[0], lambda a: np.sort(a, 0)[3:4],
          shape=(5, 3)),
    Op("kthvalue_indices", lambda L, a: L.kthvalue(a, 3, 1).indices, lambda a: np.argsort(a, 1)[:, 2], ((3, 6),),
       grad=False),
    unary("median", lambda L, a: a.median(), np_lower_median, shape=(3, 4)),
    unary("median_dim", lambda L, a: L.median(a, 1).values, lambda a: np_lower_median(a, 1), shape=(2, 4, 3)),
    unary("median_keepdim", lambda L, a: a.median(-1, True)[0], lambda a: np_lower_median(a, -1)[..., None],
          shape=(3, 5)),
    Op("median_indices", lambda L, a: L.median(a, 0).indices,
       lambda a: np.take_along_axis(np.argsort(a, 0), np.full((1, 3), 1), 0)[0], ((4, 3),), grad=False),
    unary("inverse", lambda L, a: L.inverse(well_conditioned(L, a)), lambda a: np.linalg.inv(a + 6 * np.eye(3)),
          shape=(3, 3)),
    unary("linalg_inv_batched", lambda L, a: L.linalg.inv(well_conditioned(L, a)),
          lambda a: np.linalg.inv(a + 6 * np.eye(3)), shape=(2, 3, 3)),
    unary("det", lambda L, a: L.det(a), np.linalg.det, shape=(3, 3)),
    unary("linalg_det_batched", lambda L, a: L.linalg.det(well_conditioned(L, a)),
          lambda a: np.linalg.det(a + 6 * np.eye(4)), shape=(2, 4, 4)),
    unary("slogdet", lambda L, a: L.slogdet(a), lambda a: tuple(np.linalg.slogdet(a)), shape=(2, 3, 3)),
    unary("linalg_slogdet", lambda L, a: L.linalg.slogdet(well_conditioned(L, a)).logabsdet,
          lambda a: np.linalg.slogdet(a + 6 * np.eye(3))[1], shape=(3, 3)),
    Op("linalg_solve", lambda L, a, b: L.linalg.solve(well_conditioned(L, a), b),
       lambda a, b: np.linalg.solve(a + 6 * np.eye(3), b), ((3, 3), (3, 2)), broadcast=((2, 3, 3), (3, 2))),
    Op("linalg_solve_vector", lambda L, a, b: L.linalg.solve(well_conditioned(L, a), b),
       lambda a, b: np.linalg.solve(a + 6 * np.eye(3), b[..., None])[..., 0], ((2, 3, 3), (2, 3))),
    unary("linalg_cholesky", lambda L, a: L.linalg.cholesky(spd(L, a)),
          lambda a: np.linalg.cholesky(a @ a.swapaxes(-1, -2) + 3 * np.eye(3)), shape=(2, 3, 3)),
    unary("linalg_cholesky_upper", lambda L, a: L.linalg.cholesky(spd(L, a), upper=True),
          lambda a: np.linalg.cholesky(a @ a.T + 3 * np.eye(4)).T, shape=(4, 4)),
    unary("linalg_qr", lambda L, a: tuple(L.linalg.qr(a)), lambda a: tuple(np.linalg.qr(a)), shape=(5, 3)),
    unary("linalg_qr_square_batched", lambda L, a: L.linalg.qr(a, mode="complete").R,
          lambda a: np.linalg.qr(a, mode="complete")[1], shape=(2, 3, 3)),
    unary("linalg_qr_q_only", lambda L, a: L.linalg.qr(a).Q, lambda a: np.linalg.qr(a)[0], shape=(4, 4)),
    # --- named compositions (tinytorch/ops/composite.py) and PyTorch's aliases ---
    Op("addcmul", lambda L, a, b, c: L.addcmul(a, b, c, value=-0.5), lambda a, b, c: a - 0.5 * b * c,
       ((3, 4), (3, 4), (3, 4)), broadcast=((2, 3, 1), (4,), (3, 4))),
    Op("addcdiv", lambda L, a, b, c: a.addcdiv(b, c, value=2.0), lambda a, b, c: a + 2.0 * b / c,
       ((3, 4), (3, 4), (3, 4)), broadcast=((2, 3, 1), (4,), (3, 4)), domain="nonzero"),
    binary("xlogy", lambda L, a, b: L.xlogy(a, b), lambda a, b: a * np.log(b), domain="positive"),
    unary("logit", lambda L, a: L.logit(a * 0.4 + 0.5), lambda a: np.log((a * 0.4 + 0.5) / (0.5 - a * 0.4)),
          domain="unit"),
    unary("logit_eps", lambda L, a: a.logit(eps=0.2),
          lambda a: np.log(np.clip(a, 0.2, 0.8) / (1 - np.clip(a, 0.2, 0.8))), domain="positive"),
    unary("sinc", lambda L, a: L.sinc(a), np.sinc),
    unary("deg2rad", lambda L, a: L.rad2deg(L.deg2rad(a) * 3), lambda a: a * 3),
    binary("float_power", lambda L, a, b: L.float_power(a, b).to(a.dtype), np.power, domain="positive"),
    binary("fmax", lambda L, a, b: L.fmax(a, b), np.fmax),
    binary("fmin", lambda L, a, b: a.fmin(b), np.fmin),
    Op("diff", lambda L, a: L.diff(a, n=2, dim=0), lambda a: np.diff(a, n=2, axis=0), ((5, 4),)),
    Op("diff_prepend", lambda L, a, b: a.diff(dim=-1, prepend=b, append=b),
       lambda a, b: np.diff(np.concatenate([b, a, b], -1), axis=-1), ((3, 4), (3, 2))),
    Op("cross", lambda L, a, b: L.cross(a, b, dim=-1), lambda a, b: np.cross(a, b, axis=-1), ((4, 3), (4, 3)),
       broadcast=((2, 1, 3), (1, 4, 3))),
    Op("inner", lambda L, a, b: L.inner(a, b), lambda a, b: np.inner(a, b), ((3, 4), (2, 5, 4))),
    Op("kron", lambda L, a, b: L.kron(a, b), np.kron, ((2, 3), (3, 2))),
    Op("trace", lambda L, a: a.trace(), np.trace, ((4, 4),)),
    unary("nansum", lambda L, a: L.nansum(L.where(a > 1.2, float("nan"), a), dim=1),
          lambda a: np.nansum(np.where(a > 1.2, np.nan, a), axis=1)),
    unary("nanmean", lambda L, a: a.nanmean(0, keepdim=True) + L.nanmean(L.where(a < -1, float("nan"), a)),
          lambda a: a.mean(0, keepdims=True) + np.nanmean(np.where(a < -1, np.nan, a))),
    unary("aminmax", lambda L, a: L.stack(list(L.aminmax(a, dim=0))), lambda a: np.stack([a.min(0), a.max(0)])),
    binary("dist", lambda L, a, b: L.dist(a, b, p=3), lambda a, b: (np.abs(a - b) ** 3).sum() ** (1 / 3)),
    unary("quantile", lambda L, a: L.quantile(a, L.tensor([0.1, 0.5, 0.85], dtype=a.dtype), dim=1),
          lambda a: np.quantile(a, [0.1, 0.5, 0.85], axis=1)),
    unary("nanquantile", lambda L, a: a.nanquantile(0.3), lambda a: np.quantile(a, 0.3)),
    Op("cov", lambda L, a: L.cov(a, correction=0), lambda a: np.cov(a, bias=True), ((3, 6),)),
    Op("corrcoef", lambda L, a: L.corrcoef(a), np.corrcoef, ((3, 6),)),
    Op("logdet", lambda L, a: L.logdet(a @ a.transpose(0, 1) + L.eye(3, dtype=a.dtype, device=a.device)),
       lambda a: np.linalg.slogdet(a @ a.T + np.eye(3))[1], ((3, 3),)),
    Op("matrix_power", lambda L, a: L.stack([L.matrix_power(a * 0.5, 5), (a * 0.5).matrix_power(0),
                                              well_conditioned(L, a).matrix_power(-2)]),
       lambda a: np.stack([np.linalg.matrix_power(a * 0.5, 5), np.eye(3),
                           np.linalg.matrix_power(a + 6 * np.eye(3), -2)]), ((3, 3),)),
    Op("split_with_sizes", lambda L, a: a.split_with_sizes([1, 3], dim=1), lambda a: np.split(a, [1], 1),
       ((3, 4),)),
    Op("hsplit", lambda L, a: L.hsplit(a, 2), lambda a: np.hsplit(a, 2), ((3, 4),)),
    Op("vsplit", lambda L, a: a.vsplit([1]), lambda a: np.vsplit(a, [1]), ((3, 4),)),
    Op("dsplit", lambda L, a: L.dsplit(a.reshape(3, 2, 2), 2), lambda a: np.dsplit(a.reshape(3, 2, 2), 2), ((3, 4),)),
    unary("rad2deg", lambda L, a: a.rad2deg(), np.rad2deg),
    Op("ravel", lambda L, a: L.ravel(a.transpose(0, 1)), lambda a: a.T.ravel(), ((3, 4),)),
    binary("absolute", lambda L, a, b: L.absolute(a) + L.true_divide(a, b), lambda a, b: np.abs(a) + a / b,
           domain="nonzero"),
    Op("moveaxis", lambda L, a: L.moveaxis(a, 0, -1).ravel(), lambda a: np.moveaxis(a, 0, -1).ravel(), ((2, 3, 4),)),
    Op("max_unpool2d", lambda L, a: L.nn.functional.max_unpool2d(*L.nn.functional.max_pool2d(
        a.reshape(1, 2, 4, 4), 2, return_indices=True), 2),  # exercises the Unpool primitive
       lambda a: np.where(a.reshape(1, 2, 2, 2, 2, 2).max((3, 5), keepdims=True) == a.reshape(1, 2, 2, 2, 2, 2),
                          a.reshape(1, 2, 2, 2, 2, 2), 0).reshape(1, 2, 4, 4), ((2, 16),)),
    # --- one-node layer ops of nn.functional (tinytorch/ops/fused.py, h-eager) ---
    Op("linear_bias", lambda L, x, w, b: L.nn.functional.linear(x, w, b), lambda x, w, b: x @ w.T + b,
       ((2, 3, 4), (5, 4), (5,))),
    Op("layer_norm_affine", lambda L, x, w, b: L.nn.functional.layer_norm(x, (4,), w, b),
       lambda x, w, b: (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + 1e-5) * w + b,
       ((3, 4), (4,), (4,)), tol32=1e-4),
    unary("gelu_erf", lambda L, a: L.nn.functional.gelu(a), lambda a: 0.5 * a * (1 + np_erf(a / math.sqrt(2)))),
    Op("attention", lambda L, q, k, v: L.nn.functional.scaled_dot_product_attention(q, k, v),  # one Attention node
       lambda q, k, v: np_softmax(q @ np.swapaxes(k, -1, -2) / math.sqrt(q.shape[-1]), -1) @ v,
       ((2, 3, 4), (2, 5, 4), (2, 5, 3)), tol32=1e-4),
    Op("lstm_gates", lambda L, z, c: lstm_gates(L, z, c), np_lstm_gates, ((3, 8), (3, 2))),  # LstmCell, LstmHidden
    # --- convolution as one node (tinytorch/ops/windows.py Convolution, h-conv) ---
    Op("conv2d_bias_strided_grouped", lambda L, x, w, b: L.nn.functional.conv2d(x, w, b, stride=(2, 1), padding=1,
                                                                               dilation=(1, 2), groups=2),
       lambda x, w, b: np_conv2d(x, w, b, (2, 1), (1, 1), (1, 2), 2), ((2, 4, 5, 6), (6, 2, 3, 2), (6,)), tol32=1e-4),
    Op("conv2d_same", lambda L, x, w: L.nn.functional.conv2d(x, w, padding=1),
       lambda x, w: np_conv2d(x, w, None, (1, 1), (1, 1), (1, 1), 1), ((2, 3, 5, 4), (4, 3, 3, 3)), tol32=1e-4),
    Op("conv1d", lambda L, x, w, b: L.nn.functional.conv1d(x, w, b, stride=2, padding=2),
       lambda x, w, b: np_conv2d(x[:, :, None], w[:, :, None], b, (1, 2), (0, 2), (1, 1), 1)[:, :, 0],
       ((2, 3, 7), (4, 3, 3), (4,)), tol32=1e-4),
    Op("conv_transpose2d", lambda L, x, w, b: L.nn.functional.conv_transpose2d(x, w, b, stride=2, padding=1,
                                                                                output_padding=(1, 0), groups=2),
       lambda x, w, b: np_conv_transpose2d(x, w, b, 2, 1, (1, 0), 2), ((2, 4, 3, 4), (4, 3, 3, 2), (6,)), tol32=1e-4),
    Op("max_pool2d_ceil_padded", lambda L, a: L.nn.functional.max_pool2d(a.reshape(2, 2, 5, 6), 3, stride=2,
                                                                         padding=1, ceil_mode=True),
       lambda a: np_max_pool2d(a.reshape(2, 2, 5, 6), 3, 2, 1, True), ((4, 30),)),
    Op("max_pool1d", lambda L, a: L.nn.functional.max_pool1d(a, 2), lambda a: a.reshape(3, 2, 2).max(2), ((3, 4),)),
    # --- surface ops: joining, reshaping many, integration, distances, order statistics ------------------
    Op("hstack", lambda L, a, b: L.hstack([a, b]), lambda a, b: np.hstack([a, b]), ((3, 4), (3, 2))),
    Op("hstack_1d", lambda L, a, b: L.hstack((a, b)), lambda a, b: np.hstack([a, b]), ((3,), (2,))),
    Op("vstack", lambda L, a, b: L.vstack([a, b]), lambda a, b: np.vstack([a, b]), ((4,), (2, 4))),
    Op("row_stack", lambda L, a, b: L.row_stack([a, b]), lambda a, b: np.vstack([a, b]), ((2, 4), (4,))),
    Op("dstack", lambda L, a, b: L.dstack([a, b]), lambda a, b: np.dstack([a, b]), ((3, 4), (3, 4, 2))),
    Op("column_stack", lambda L, a, b: L.column_stack([a, b]), lambda a, b: np.column_stack([a, b]),
       ((3,), (3, 2))),
    Op("atleast_1d", lambda L, a, b: L.atleast_1d(a[0, 0], b), lambda a, b: (np.atleast_1d(a[0, 0]), b),
       ((3, 4), (2,))),
    unary("atleast_2d", lambda L, a: L.atleast_2d(a[0]), lambda a: np.atleast_2d(a[0])),
    Op("atleast_3d", lambda L, a, b: L.atleast_3d([a, b[0]]), lambda a, b: (np.atleast_3d(a), np.atleast_3d(b[0])),
       ((3, 4), (2, 5))),
    Op("broadcast_tensors", lambda L, a, b: L.broadcast_tensors(a, b), lambda a, b: tuple(np.broadcast_arrays(a, b)),
       ((2, 3, 1), (4,))),
    Op("block_diag", lambda L, a, b, c: L.block_diag(a, b, c), np_block_diag, ((2, 3), (4,), ())),
    Op("cartesian_prod", lambda L, a, b: L.cartesian_prod(a, b), np_cartesian_prod, ((3,), (2,))),
    unary("combinations", lambda L, a: L.combinations(a), lambda a: np_combinations(a, 2), shape=(4,)),
    unary("combinations_with_replacement", lambda L, a: L.combinations(a, r=3, with_replacement=True),
          lambda a: np_combinations(a, 3, True), shape=(3,)),
    unary("diag_embed", lambda L, a: L.diag_embed(a, 1, 0, 2), lambda a: np_diag_embed(a, 1, 0, 2), shape=(2, 3)),
    unary("diag_embed_method", lambda L, a: a.diag_embed(-1), lambda a: np_diag_embed(a, -1, -2, -1)),
    unary("diagflat", lambda L, a: a.diagflat(-1), lambda a: np.diagflat(a, -1), shape=(2, 2)),
    Op("tensordot", lambda L, a, b: L.tensordot(a, b), lambda a, b: np.tensordot(a, b), ((2, 3, 4), (3, 4, 5))),
    Op("tensordot_lists", lambda L, a, b: L.tensordot(a, b, dims=([0, 2], [1, 0])),
       lambda a, b: np.tensordot(a, b, axes=([0, 2], [1, 0])), ((2, 3, 4), (4, 2, 5))),
    Op("tensordot_zero", lambda L, a, b: L.tensordot(a, b, 0), lambda a, b: np.tensordot(a, b, 0), ((2, 3), (4,))),
    Op("chain_matmul", lambda L, a, b, c: L.chain_matmul(a, b, c), lambda a, b, c: a @ b @ c,
       ((2, 3), (3, 4), (4, 2))),
    Op("ger", lambda L, a, b: a.ger(b), np.outer, ((3,), (4,))),
    unary("vander", lambda L, a: vander_of(L, a, 5), lambda a: np.vander(a, 5), shape=(4,)),
    unary("vander_increasing", lambda L, a: vander_of(L, a, increasing=True),
          lambda a: np.vander(a, increasing=True), shape=(4,)),
    unary("trapezoid", lambda L, a: L.trapezoid(a), lambda a: np_trapezoid_terms(a, None, 1.0, -1).sum(-1)),
    Op("trapezoid_x", lambda L, y, x: L.trapezoid(y, x), lambda y, x: np_trapezoid_terms(y, x, 1.0, -1).sum(-1),
       ((3, 4), (4,))),
    unary("trapz_dx", lambda L, a: L.trapz(a, dx=0.5, dim=0), lambda a: np_trapezoid_terms(a, None, 0.5, 0).sum(0)),
    unary("cumulative_trapezoid", lambda L, a: L.cumulative_trapezoid(a, dx=0.5, dim=0),
          lambda a: np.cumsum(np_trapezoid_terms(a, None, 0.5, 0), 0)),
    Op("cumulative_trapezoid_x", lambda L, y, x: L.cumulative_trapezoid(y, x),
       lambda y, x: np.cumsum(np_trapezoid_terms(y, x, 1.0, -1), -1), ((3, 4), (3, 4))),
    binary("logaddexp2", lambda L, a, b: L.logaddexp2(a, b), np.logaddexp2),
    unary("renorm", lambda L, a: L.renorm(a, 2, 0, 1.5), lambda a: np_renorm(a, 2, 0, 1.5), shape=(4, 3)),
    unary("renorm_p1_method", lambda L, a: a.renorm(1, 1, 2.0), lambda a: np_renorm(a, 1, 1, 2.0), shape=(4, 3)),
    Op("cdist", lambda L, a, b: cdist_of(L, a, b), lambda a, b: np_cdist(a, b, 2), ((2, 4, 3), (2, 5, 3)),
       tol32=1e-4),
    Op("cdist_p1", lambda L, a, b: cdist_of(L, a, b, 1), lambda a, b: np_cdist(a, b, 1), ((4, 3), (5, 3))),
    Op("cdist_inf", lambda L, a, b: cdist_of(L, a, b, INF), lambda a, b: np_cdist(a, b, INF), ((4, 3), (5, 3))),
    Op("cdist_p3_batch_broadcast", lambda L, a, b: cdist_of(L, a, b, 3.0), lambda a, b: np_cdist(a, b, 3),
       ((2, 4, 3), (5, 3)), tol32=1e-4),
    Op("cosine_similarity", lambda L, a, b: L.cosine_similarity(a, b), lambda a, b: np_cosine_similarity(a, b, 1),
       ((3, 4), (3, 4))),
    Op("cosine_similarity_dim0", lambda L, a, b: L.cosine_similarity(a, b, dim=0),
       lambda a, b: np_cosine_similarity(a, b, 0), ((3, 4), (3, 4))),
    Op("pairwise_distance", lambda L, a, b: L.pairwise_distance(a, b),
       lambda a, b: np.sqrt(((a - b + 1e-6) ** 2).sum(-1)), ((3, 4), (3, 4)), broadcast=((2, 3, 4), (4,))),
    Op("index_put", lambda L, a, v: a.index_put((L.const(PUT_IDX),), v),
       lambda a, v: np_index_put(a, (PUT_IDX,), v, False), ((4, 3), (2, 3))),
    Op("index_put_accumulate", lambda L, a, v: L.index_put(a, (L.const(PUT_ROWS), L.const(PUT_IDX[:1])), v, True),
       lambda a, v: np_index_put(a, (PUT_ROWS, PUT_IDX[:1]), v, True), ((4, 3), (3,))),
    unary("mode", lambda L, a: L.mode(a, 1).values, lambda a: a.min(1)),
    unary("mode_keepdim_method", lambda L, a: a.mode(0, keepdim=True).values, lambda a: a.min(0, keepdims=True)),
    unary("nanmedian", lambda L, a: L.nanmedian(a), np_lower_median),
    unary("nanmedian_dim", lambda L, a: a.nanmedian(1).values, lambda a: np_lower_median(a, 1), shape=(3, 5)),
    unary("sum_to_size", lambda L, a: a.sum_to_size(3, 1), lambda a: a.sum(0).sum(-1, keepdims=True),
          shape=(2, 3, 4)),
    # --- the gamma family (domain: away from the poles at 0, -1, -2, ...) ------------------------------------
    # (PyTorch's trigamma -- digamma's gradient, lgamma's second derivative -- is off by ~1e-9
    # relative; this library's is exact to ~1e-14 against sum 1/(x+k)^2: hence tol64)
    Op("lgamma", lambda L, a: L.lgamma(a), np_lgamma, ((3, 4),), domain="positive", tol64=1e-8),
    Op("lgamma_reflected", lambda L, a: (a * -0.4 - 0.1).lgamma(), lambda a: np_lgamma(a * -0.4 - 0.1),
       ((3, 4),), domain="positive", tol64=1e-8),
    Op("digamma", lambda L, a: L.digamma(a), np_digamma, ((3, 4),), domain="positive", tol64=1e-8),
    Op("digamma_reflected", lambda L, a: (a * -0.4 - 0.1).digamma(), lambda a: np_digamma(a * -0.4 - 0.1),
       ((3, 4),), domain="positive", tol64=1e-8),
    Op("mvlgamma", lambda L, a: L.mvlgamma(a + 1, 3),
       lambda a: np_lgamma(a + 1) + np_lgamma(a + 0.5) + np_lgamma(a) + 1.5 * math.log(math.pi), ((3, 4),),
       domain="positive", tol64=1e-8),
    # --- symmetric eigendecomposition: of a + a^T (so every entry of a matters), and of quantities
    # that do not depend on the eigenvectors' signs (LAPACK's choice) ---------------------------------
    unary("linalg_eigvalsh", lambda L, a: L.linalg.eigvalsh(a + a.mT), lambda a: np.linalg.eigvalsh(a + a.mT),
          shape=(2, 4, 4)),
    unary("linalg_eigvalsh_upper", lambda L, a: L.linalg.eigvalsh(a + a.mT, UPLO="U"),
          lambda a: np.linalg.eigvalsh(a + a.mT, UPLO="U"), shape=(3, 3)),
    unary("linalg_eigh_vectors", lambda L, a: L.linalg.eigh(a + a.mT).eigenvectors ** 2,
          lambda a: np.linalg.eigh(a + a.mT)[1] ** 2, shape=(2, 4, 4)),
]


def np_conv_transpose2d(x: np.ndarray, w: np.ndarray, b: np.ndarray, s: int, p: int, op: tuple,
                        groups: int) -> np.ndarray:
    """PyTorch's conv_transpose2d by its definition: every input pixel adds ``w`` times itself
    into the output window it maps to; then the padding is cropped."""
    n, c, h, wd = x.shape
    cg, og, kh, kw = w.shape[0] // groups, w.shape[1], w.shape[2], w.shape[3]
    full = np.zeros((n, og * groups, (h - 1) * s + kh + op[0], (wd - 1) * s + kw + op[1]))
    for g in range(groups):
        for ci in range(cg):
            for y in range(h):
                for xx in range(wd):
                    v = x[:, g * cg + ci, y, xx][:, None, None, None]
                    full[:, g * og:(g + 1) * og, y * s:y * s + kh, xx * s:xx * s + kw] += v * w[g * cg + ci]
    return full[:, :, p:full.shape[2] - p, p:full.shape[3] - p] + b.reshape(-1, 1, 1)


def np_max_pool2d(x: np.ndarray, k: int, s: int, p: int, ceil_mode: bool) -> np.ndarray:
    """PyTorch's max_pool2d for a square window: -inf padding, ceil_mode's last window kept when
    it starts inside the input or its left padding."""
    def size(n: int) -> int:
        out = (n + 2 * p - k + (s - 1 if ceil_mode else 0)) // s + 1
        return out - 1 if ceil_mode and (out - 1) * s >= n + p else out
    oh, ow = size(x.shape[2]), size(x.shape[3])
    xp = np.pad(x, ((0, 0), (0, 0), (p, p + k), (p, p + k)), constant_values=-np.inf)
    return np.stack([np.stack([xp[:, :, y * s:y * s + k, j * s:j * s + k].max((2, 3)) for j in range(ow)], -1)
                     for y in range(oh)], -2)


def np_conv2d(x: np.ndarray, w: np.ndarray, b: np.ndarray | None, stride: tuple, padding: tuple, dilation: tuple,
              groups: int) -> np.ndarray:
    """PyTorch's conv2d, one output element at a time (the definition)."""
    n, c, h, wd = x.shape
    o, cg, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (padding[0],) * 2, (padding[1],) * 2))
    oh = (h + 2 * padding[0] - dilation[0] * (kh - 1) - 1) // stride[0] + 1
    ow = (wd + 2 * padding[1] - dilation[1] * (kw - 1) - 1) // stride[1] + 1
    out = np.zeros((n, o, oh, ow), dtype=np.result_type(x, w))
    for q in range(o):
        g = q // (o // groups)
        for y in range(oh):
            for xx in range(ow):
                rows = y * stride[0] + dilation[0] * np.arange(kh)
                cols = xx * stride[1] + dilation[1] * np.arange(kw)
                patch = xp[:, g * cg:(g + 1) * cg][:, :, rows][:, :, :, cols]
                out[:, q, y, xx] = (patch * w[q]).sum((1, 2, 3))
    return out if b is None else out + b.reshape(-1, 1, 1)
# --- the machinery --------------------------------------------------------------------------------------
class Lib:
    """The namespace an op's ``fn`` sees: tinytorch (on one device) or torch. ``const``
    makes a constant tensor (indices, masks) for that library."""

    def __init__(self, mod: Any, device: str | None = None):
        self.mod, self.device = mod, device

    def __getattr__(self, name: str) -> Any:
        return getattr(self.mod, name)

    @property
    def other_device(self) -> str:
        """A device other than this one where there is one (to test moving between devices)."""
        if self.device is None:
            return "cpu"
        return next((d for d in tt.backends.available() if d != self.device), self.device)

    def through_the_gpu(self, a: Any) -> Any:
        """``a`` moved to the GPU and back (tinytorch); ``a`` itself for torch, whose CPU build has no GPU."""
        return a if self.device is None else a.cuda().to(self.device)

    def const(self, a: np.ndarray) -> Any:
        if self.device is None:
            return self.mod.from_numpy(np.array(a))
        return self.mod.tensor(a, device=self.device)


def draw(shape: tuple, domain: str, rng: np.random.Generator) -> np.ndarray:
    """Inputs away from the points where an op is not differentiable (for finite differences)."""
    if domain == "positive":
        return rng.uniform(0.5, 2.0, shape)
    if domain == "nonzero":
        return rng.choice([-1.0, 1.0], shape) * rng.uniform(0.3, 2.0, shape)
    if domain == "away":  # away from the clamp bounds -0.5 and 0.7
        return rng.choice([-1.5, 0.1, 1.5], shape) + rng.uniform(-0.3, 0.3, shape)
    if domain == "unit":
        return rng.uniform(-1.0, 1.0, shape)
    if domain == "inner":  # inside (-1, 1), away from the ends where asin & co. have infinite slopes
        return rng.uniform(-0.8, 0.8, shape)
    if domain == "ints":
        return rng.integers(-2, 3, shape).astype(np.float64)
    return rng.uniform(-2.0, 2.0, shape)


def layouts(op: Op) -> list[str]:
    return ["plain", "strided"] + (["broadcast"] if op.broadcast else [])


CASES = [pytest.param(op, layout, id=f"{op.name}-{layout}", marks=op.marks) for op in OPS for layout in layouts(op)]


def make_inputs(op: Op, layout: str, seed: int = 0) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """(values the op sees, the leaf arrays that are differentiated). For ``strided`` the
    leaves are bases stored in another layout and the op sees a non-contiguous view of them."""
    rng = np.random.default_rng(seed)
    shapes = op.broadcast if layout == "broadcast" else op.shapes
    values = [draw(s, op.domain, rng) for s in shapes]
    if layout != "strided":
        return values, values
    bases = []
    for v in values:
        if v.ndim >= 2:
            bases.append(np.ascontiguousarray(v.transpose(tuple(reversed(range(v.ndim))))))
        elif v.ndim == 1:
            base = np.zeros(2 * v.shape[0])
            base[::2] = v
            bases.append(base)
        else:
            bases.append(v)
    return values, bases


def view_of(base: Any, ndim: int) -> Any:
    """The non-contiguous view used by the ``strided`` layout (same code for tinytorch/torch)."""
    if ndim >= 2:
        return base.permute(*reversed(range(ndim)))
    if ndim == 1:
        return base[::2]
    return base


def run(op: Op, lib: Lib, leaves: list, layout: str, ndims: list[int]) -> Any:
    xs = [view_of(x, n) for x, n in zip(leaves, ndims)] if layout == "strided" else leaves
    return op.fn(lib, *xs)


def as_list(out: Any) -> list:
    return list(out) if isinstance(out, (tuple, list)) else [out]


def weights(outs: list[np.ndarray]) -> list[np.ndarray]:
    rng = np.random.default_rng(1)
    return [rng.uniform(-1, 1, np.shape(o)) for o in outs]


def tt_value_and_grad(op: Op, layout: str, device: str, dtype: Any, seed: int = 0) -> tuple[list, list]:
    values, leaves_np = make_inputs(op, layout, seed)
    leaves = [tt.tensor(b, dtype=dtype, device=device, requires_grad=op.grad) for b in leaves_np]
    outs = as_list(run(op, Lib(tt, device), leaves, layout, [v.ndim for v in values]))
    if not op.grad:
        return [o.numpy() for o in outs], []
    loss = sum((o * tt.tensor(w, dtype=dtype, device=device)).sum() for o, w in zip(outs, weights(outs)))
    loss.backward()
    return [o.detach().numpy() for o in outs], [x.grad.numpy() for x in leaves]


def tolerance(dtype: Any, op: Op) -> dict:
    return dict(rtol=op.tol32, atol=op.tol32) if dtype is tt.float32 else dict(rtol=op.tol64, atol=op.tol64 / 100)


# --- the generated tests -----------------------------------------------------------------------------
@pytest.mark.parametrize("fdtype", FLOATS, ids=["float32", "float64"])
@pytest.mark.parametrize("op,layout", CASES)
def test_forward_matches_numpy(op: Op, layout: str, device: str, fdtype: Any) -> None:
    values, leaves_np = make_inputs(op, layout)
    leaves = [tt.tensor(b, dtype=fdtype, device=device) for b in leaves_np]
    outs = as_list(run(op, Lib(tt, device), leaves, layout, [v.ndim for v in values]))
    cast = [v.astype(fdtype.np_dtype) for v in values]
    expected = as_list(op.ref(*cast))
    assert len(outs) == len(expected)
    for out, exp in zip(outs, expected):
        exp = np.asarray(exp)
        assert out.shape == exp.shape, f"{op.name}: shape {out.shape} != numpy's {exp.shape}"
        if op.grad:
            assert out.dtype is fdtype
        np.testing.assert_allclose(out.numpy(), exp, **tolerance(fdtype, op))


@pytest.mark.parametrize("fdtype", FLOATS, ids=["float32", "float64"])
@pytest.mark.parametrize("op,layout", CASES)
def test_matches_torch(op: Op, layout: str, device: str, fdtype: Any) -> None:
    torch = pytest.importorskip("torch")
    tdtype = torch.float32 if fdtype is tt.float32 else torch.float64
    values, leaves_np = make_inputs(op, layout)
    outs, grads = tt_value_and_grad(op, layout, device, fdtype)
    leaves = [torch.tensor(b, dtype=tdtype, requires_grad=op.grad) for b in leaves_np]
    touts = as_list(run(op, Lib(torch), leaves, layout, [v.ndim for v in values]))
    assert [tuple(t.shape) for t in touts] == [o.shape for o in outs]
    for out, tout in zip(outs, touts):
        assert out.dtype == tout.detach().numpy().dtype, f"{op.name}: dtype {out.dtype} != torch's {tout.dtype}"
        np.testing.assert_allclose(out, tout.detach().numpy(), **tolerance(fdtype, op))
    if op.grad:
        loss = sum((o * torch.tensor(w, dtype=tdtype)).sum() for o, w in zip(touts, weights(outs)))
        loss.backward()
        for g, x in zip(grads, leaves):
            np.testing.assert_allclose(g, x.grad.numpy(), **tolerance(fdtype, op))


GRAD_CASES = [c for c in CASES if c.values[0].grad]
FD_POINTS = 10  # coordinates per input checked by finite differences


@pytest.mark.parametrize("op,layout", GRAD_CASES)
def test_gradient_matches_finite_differences(op: Op, layout: str, device: str) -> None:
    values, leaves_np = make_inputs(op, layout)
    outs, grads = tt_value_and_grad(op, layout, device, tt.float64)
    w = weights(outs)
    ndims = [v.ndim for v in values]

    def loss(arrays: list[np.ndarray]) -> float:
        xs = [tt.tensor(a, dtype=tt.float64, device=device) for a in arrays]
        with tt.no_grad():
            o = as_list(run(op, Lib(tt, device), xs, layout, ndims))
        return float(sum((oi.numpy() * wi).sum() for oi, wi in zip(o, w)))

    eps = 1e-6
    pick = np.random.default_rng(3)
    for i, base in enumerate(leaves_np):
        coords = list(np.ndindex(base.shape))
        if len(coords) > FD_POINTS:  # a sample of coordinates keeps the suite fast; PyTorch checks them all
            coords = [coords[k] for k in pick.choice(len(coords), FD_POINTS, replace=False)]
        for j in coords:
            plus = [b.copy() for b in leaves_np]
            minus = [b.copy() for b in leaves_np]
            plus[i][j] += eps
            minus[i][j] -= eps
            numeric = (loss(plus) - loss(minus)) / (2 * eps)
            np.testing.assert_allclose(grads[i][j], numeric, rtol=1e-5, atol=1e-6,
                                       err_msg=f"{op.name}: input {i} at {j}")


def numpy_of(t: Any) -> np.ndarray:
    """Values of a tinytorch or torch tensor (torch's lazy zero tensors need ``force``)."""
    return t.detach().numpy(force=True) if not isinstance(t, tt.Tensor) else t.detach().numpy()


@pytest.mark.parametrize("op,layout", [c for c in GRAD_CASES if c.values[1] != "broadcast"])
def test_second_order_matches_torch(op: Op, layout: str, device: str) -> None:
    """Every backward is written in differentiable Tensor ops: its own gradient matches PyTorch's."""
    torch = pytest.importorskip("torch")
    values, leaves_np = make_inputs(op, layout)
    ndims = [v.ndim for v in values]
    ours = [tt.tensor(b, dtype=tt.float64, device=device, requires_grad=True) for b in leaves_np]
    theirs = [torch.tensor(b, dtype=torch.float64, requires_grad=True) for b in leaves_np]
    lib_tt = Lib(tt, device)
    w = weights([o.detach().numpy() for o in as_list(run(op, lib_tt, ours, layout, ndims))])
    results = []
    for lib, leaves, L, make in ((tt, ours, lib_tt, lambda a: tt.tensor(a, dtype=tt.float64, device=device)),
                                 (torch, theirs, Lib(torch), lambda a: torch.tensor(a, dtype=torch.float64))):
        o = as_list(run(op, L, leaves, layout, ndims))
        loss = sum((oi * make(wi)).sum() for oi, wi in zip(o, w))
        grads = lib.autograd.grad(loss, leaves, create_graph=True, allow_unused=True)
        rng = np.random.default_rng(2)
        terms = [(g * make(rng.normal(size=tuple(g.shape)))).sum() for g in grads
                 if g is not None and g.requires_grad]
        if not terms:
            results.append([np.zeros(b.shape) for b in leaves_np])
            continue
        hv = lib.autograd.grad(sum(terms), leaves, allow_unused=True)
        results.append([np.zeros(b.shape) if h is None else numpy_of(h) for h, b in zip(hv, leaves_np)])
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=max(1e-9, op.tol64), atol=max(1e-11, op.tol64 / 100), err_msg=op.name)


def test_every_primitive_is_exercised_by_the_table(monkeypatch: Any) -> None:
    """The table is the gate for new ops: every Function in tinytorch.ops must be run by it
    (forward; and for differentiable rows backward, and the backward of the backward)."""
    used: set[type] = set()
    original = tt.Function.apply.__func__  # type: ignore[attr-defined]

    def recording_apply(cls: type, *args: Any, **params: Any) -> Any:
        used.add(cls)
        return original(cls, *args, **params)

    monkeypatch.setattr(tt.Function, "apply", classmethod(recording_apply))
    for op in OPS:
        if any(m.name == "skipif" and m.args[0] for m in op.marks):
            continue
        values, _ = make_inputs(op, "plain")
        xs = [tt.tensor(v, dtype=tt.float32, device="numpy", requires_grad=op.grad) for v in values]
        outs = as_list(op.fn(Lib(tt, "numpy"), *xs))
        if not op.grad:  # no gradient: its forward is all there is to run
            continue
        loss = sum((o * o).sum() for o in outs)
        grads = tt.autograd.grad(loss, xs, create_graph=True, allow_unused=True)
        second = [g.sum() for g in grads if g is not None and g.requires_grad]
        if second:
            tt.autograd.grad(sum(second), xs, allow_unused=True)
    primitives = {c for c in all_subclasses(tt.Function) if c.__module__.startswith("tinytorch.ops")}
    assert primitives <= used, f"not in the op table: {sorted(c.__name__ for c in primitives - used)}"


def all_subclasses(cls: type) -> set[type]:
    return {s for c in cls.__subclasses__() for s in {c} | all_subclasses(c)}
