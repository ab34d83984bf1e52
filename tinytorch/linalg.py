"""``tinytorch.linalg``: ``torch.linalg``'s names for norms, solves and decompositions.

>>> import tinytorch as tt
>>> a = tt.tensor([[4.0, 2.0], [2.0, 3.0]], device="numpy")
>>> round(tt.linalg.det(a).item(), 6), tt.linalg.vector_norm(tt.tensor([3.0, 4.0], device="numpy")).item()
(8.0, 5.0)

The ops live in the ops layer (:mod:`tinytorch.ops.linalg`, :mod:`tinytorch.ops.reduce`), with
their gradients; this module gives them PyTorch's ``linalg`` names. ``inv``, ``det``,
``slogdet``, ``solve``, ``cholesky``, ``qr`` and ``svdvals`` (so the matrix norms ``'nuc'``, ``2``
and ``-2``) compute on the host with numpy's LAPACK (small matrices; see :mod:`tinytorch.ops.linalg`).
"""

from __future__ import annotations

import collections
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from .ndarray.dtypes import finfo
from .ops.composite import cross as _cross
from .ops.composite import matrix_power
from .ops.creation import eye, full_like, ones_like, tensor, zeros, zeros_like
from .ops.dims import normalize_dim
from .ops.elementwise import abs as abs_
from .ops.elementwise import maximum, where
from .ops.linalg import (
    LinAlgError,
    SvdFactor,
    check_matrices,
    check_square,
    cholesky,
    det,
    eigh,
    eigvalsh,
    inverse,
    qr,
    slogdet,
    solve,
    svdvals,
)
from .ops.matmul import matmul
from .ops.movement import diagonal as diagonal_
from .ops.movement import squeeze, tril, triu, unsqueeze
from .ops.reduce import amax, amin, singular_value_norm, sum, vector_norm
from .tensor import Tensor, is_grad_enabled, no_grad

inv = inverse


def matrix_norm(a: Tensor, ord: Any = "fro", dim: tuple[int, int] = (-2, -1), keepdim: bool = False, *,  # noqa: A002
                dtype: Any = None) -> Tensor:
    """The ``ord``-norm of the matrices over the two dims ``dim``: ``'fro'`` (the 2-norm of the
    elements), ``'nuc'`` (the sum of the singular values), ``2`` / ``-2`` (the largest / smallest
    singular value), ``1`` / ``-1`` (the largest / smallest column sum of ``|a|``), ``inf`` /
    ``-inf`` (the largest / smallest row sum)."""
    if a.ndim < 2:
        raise RuntimeError("linalg.matrix_norm: The input tensor A must have at least 2 dimensions.")
    if not isinstance(dim, (tuple, list)) or len(dim) != 2:
        raise RuntimeError(f"linalg.matrix_norm: dim must be a 2-tuple. Got {dim}")
    rows, cols = normalize_dim(dim[0], a.ndim), normalize_dim(dim[1], a.ndim)
    if rows == cols:
        raise RuntimeError(f"linalg.matrix_norm: dims must be different. Got ({dim[0]}, {dim[1]})")
    if ord == "fro":
        return vector_norm(a, 2, (rows, cols), keepdim, dtype=dtype)
    if ord not in ("nuc", 2, -2, 1, -1, math.inf, -math.inf):
        raise RuntimeError(f"linalg.matrix_norm: Order {ord} not supported.")
    if dtype is not None:
        a = a.to(dtype)
    if not a.dtype.is_floating_point:
        raise RuntimeError(f"linalg.matrix_norm: Expected a floating point or complex tensor as input. "
                           f"Got {a.dtype.name}")
    if ord in ("nuc", 2, -2):
        return singular_value_norm(a, ord, rows, cols, keepdim)
    summed, other = (rows, cols) if abs(ord) == 1 else (cols, rows)  # 1: column sums; inf: row sums
    sums = sum(abs_(a), summed, keepdim=True)
    out = amax(sums, other, keepdim=True) if ord > 0 else amin(sums, other, keepdim=True)
    return out if keepdim else squeeze(out, (rows, cols))


def norm(a: Tensor, ord: Any = None, dim: Any = None, keepdim: bool = False, *, dtype: Any = None) -> Tensor:
    """``torch.linalg.norm``: a vector norm when ``dim`` is an int (or ``a`` is 1-D), a matrix norm
    when ``dim`` is a 2-tuple (or ``a`` is 2-D); with ``ord=None`` the 2-norm of the flattened
    ``a`` (``dim=None``), of vectors or the Frobenius norm of matrices."""
    if isinstance(dim, int):
        dim = (dim,)
    if ord is None:
        if dim is not None and len(dim) == 2:
            return matrix_norm(a, "fro", tuple(dim), keepdim, dtype=dtype)
        return vector_norm(a, 2, dim, keepdim, dtype=dtype)
    if dim is None:
        if a.ndim not in (1, 2):
            raise RuntimeError(f"linalg.norm: If dim is not specified but ord is, the input must be 1D or 2D. "
                               f"Got {a.ndim}D.")
        dim = tuple(range(a.ndim))
    if len(dim) == 2:
        return matrix_norm(a, ord, tuple(dim), keepdim, dtype=dtype)
    if isinstance(ord, str):
        raise RuntimeError(f"linalg.norm: Order {ord} not supported for vectors.")
    return vector_norm(a, ord, dim, keepdim, dtype=dtype)


def cross(input: Tensor, other: Tensor, *, dim: int = -1) -> Tensor:
    """The cross product of 3-vectors along ``dim`` (default the last, unlike ``tt.cross``)."""
    return _cross(input, other, dim)


# --- built on the SVD (numpy's LAPACK on the host through SvdFactor, differentiable) ---------------
_svd_result = collections.namedtuple("svd", ["U", "S", "Vh"])  # type: ignore[name-match]  # PyTorch's names
_lstsq_result = collections.namedtuple("lstsq", ["solution", "residuals", "rank", "singular_values"])  # type: ignore[name-match]


def svd(A: Tensor, full_matrices: bool = True, *, driver: str | None = None) -> Any:
    """``A = U diag(S) Vh`` for each matrix of ``A`` (``(..., m, n)``), singular values in
    descending order: ``U`` is ``(..., m, k)``, ``S`` ``(..., k)``, ``Vh`` ``(..., k, n)`` with
    ``k = min(m, n)`` (``full_matrices=False``), or ``U`` / ``Vh`` square (``True``, the default,
    as in PyTorch). Differentiable (reduced factors, distinct nonzero singular values) where the
    factors are determined; the full square factors of a non-square matrix have no gradient here
    (``RuntimeError`` when ``A`` requires grad), as their extra columns are arbitrary."""
    check_matrices(A, "linalg.svd")
    m, n = A.shape[-2:]
    if full_matrices and m != n:
        if A.requires_grad and is_grad_enabled():
            raise RuntimeError("linalg.svd: tinytorch differentiates only the reduced SVD of a non-square matrix; "
                               "pass full_matrices=False")
        u, s, vh = np.linalg.svd(A.detach().numpy(), full_matrices=True)
        return _svd_result(*(tensor(x, dtype=A.dtype, device=A.device) for x in (u, s, vh)))
    tall = A if m >= n else A.mT
    u, s, v = (SvdFactor.apply(tall, part=i) for i in range(3))
    if m < n:  # A^T = U S V^T, so A = V S U^T
        u, v = v, u
    return _svd_result(u, s, v.mT)


def _tolerance(s: Tensor, shape: tuple, atol: Any, rtol: Any) -> Tensor:
    """PyTorch's cutoff for "zero" singular values: ``max(atol, rtol * s_max)``, where ``rtol``
    defaults to ``eps * max(m, n)`` when no ``atol`` is given (to 0 when one is)."""
    if rtol is None:
        rtol = finfo(s.dtype).eps * max(shape[-2:]) if atol is None or _is_zero(atol) else 0.0
    cutoff = (amax(s, -1, keepdim=True) if s.shape[-1] else sum(s, -1, keepdim=True)) * rtol
    if atol is None:
        return cutoff
    return maximum(cutoff, unsqueeze(atol, -1) if isinstance(atol, Tensor) else full_like(cutoff, atol))


def _is_zero(v: Any) -> bool:
    return not isinstance(v, Tensor) and v == 0


def pinv(A: Tensor, *, atol: Any = None, rtol: Any = None, hermitian: bool = False) -> Tensor:
    """The Moore-Penrose pseudo-inverse of each matrix of ``A`` (``(..., n, m)``), from the SVD:
    ``V diag(1/s) U^T`` over the singular values above :func:`_tolerance`'s cutoff (the others
    count as 0). Differentiable where the rank does not change."""
    check_matrices(A, "linalg.pinv")
    return _pinv_and_spectrum(A, atol, rtol)[0]


def _pinv_and_spectrum(A: Tensor, atol: Any, rtol: Any) -> tuple[Tensor, Tensor, Tensor]:
    """``(pinv(A), s, keep)`` from one SVD: the singular values ``s`` and which of them are
    above the cutoff (so ``keep.sum(-1)`` is the rank)."""
    u, s, vh = svd(A, full_matrices=False)
    keep = s > _tolerance(s.detach(), A.shape, atol, rtol)
    inv_s = where(keep, 1 / where(keep, s, ones_like(s)), zeros_like(s))
    return matmul(vh.mT * unsqueeze(inv_s, -2), u.mT), s, keep


def matrix_rank(A: Tensor, *, atol: Any = None, rtol: Any = None, hermitian: bool = False) -> Tensor:
    """The number of singular values of each matrix above the cutoff of :func:`pinv` (int64)."""
    check_matrices(A, "linalg.matrix_rank")
    with no_grad():
        s = svdvals(A)
        return sum(s > _tolerance(s, A.shape, atol, rtol), -1)


def cond(A: Tensor, p: Any = None) -> Tensor:
    """The condition number of each matrix: ``s_max / s_min`` for ``p`` None or 2 (``s_min /
    s_max`` for -2), else ``matrix_norm(A, p) * matrix_norm(inv(A), p)`` (square matrices)."""
    check_matrices(A, "linalg.cond")
    if p in (None, 2, -2):
        s = svdvals(A)
        top, bottom = s[..., 0], s[..., -1]
        return top / bottom if p != -2 else bottom / top
    return matrix_norm(A, p) * matrix_norm(inverse(A), p)


def lstsq(A: Tensor, B: Tensor, rcond: float | None = None, *, driver: str | None = None) -> Any:
    """The least-squares solution ``X`` minimising ``||A X - B||`` for each matrix (``A``:
    ``(..., m, n)``, ``B``: ``(..., m, k)`` or ``(m,)``), as ``pinv(A) @ B`` (differentiable).
    The other fields follow PyTorch's CPU drivers: ``rank`` unless ``driver="gels"``;
    ``residuals`` (the squared residual norms, when ``m > n`` and ``A`` has full rank) and the
    ``singular_values`` only for ``"gelsd"`` / ``"gelss"``; the default is ``"gelsy"``. ``rcond``
    is the relative cutoff for small singular values (default ``eps * max(m, n)``)."""
    driver = "gelsy" if driver is None else driver
    if driver not in ("gels", "gelsy", "gelsd", "gelss"):
        raise RuntimeError("torch.linalg.lstsq: parameter `driver` should be one of (gels, gelsy, gelsd, gelss)")
    check_matrices(A, "linalg.lstsq")
    vector = B.ndim == 1
    b = unsqueeze(B, -1) if vector else B
    if b.shape[-2] != A.shape[-2]:
        raise RuntimeError(f"torch.linalg.lstsq: input.size(-2) should match other.size(-2), but got {A.shape[-2]} "
                           f"and {b.shape[-2]} (A of shape {A.shape}, B of shape {B.shape})")
    inverse, s, keep = _pinv_and_spectrum(A, None, rcond)
    x = matmul(inverse, b)
    rank = sum(keep, -1)
    empty = zeros((0,), dtype=A.dtype, device=A.device)
    residuals, values = empty, empty
    if driver in ("gelsd", "gelss"):
        values = s.detach()
        m, n = A.shape[-2:]
        if m > n and bool((rank == n).all()):
            residuals = sum((matmul(A, x) - b) ** 2, -2)
    rank_out = rank if driver != "gels" else zeros((0,), dtype=rank.dtype, device=A.device)
    return _lstsq_result(squeeze(x, -1) if vector else x, residuals, rank_out, values)


# --- products and small compositions ----------------------------------------------------------------
def multi_dot(tensors: Sequence[Tensor]) -> Tensor:
    """The product of two or more matrices, the first and last of which may be 1-D (a row and a
    column vector, dropped from the result's shape), multiplied in the order that costs the
    fewest multiplications (the textbook dynamic programme over the chain's dimensions)."""
    if len(tensors) < 2:
        raise RuntimeError(f"multi_dot(): expected at least 2 tensors but got {len(tensors)}")
    mats = list(tensors)
    first_vector, last_vector = mats[0].ndim == 1, mats[-1].ndim == 1
    if first_vector:
        mats[0] = unsqueeze(mats[0], 0)
    if last_vector:
        mats[-1] = unsqueeze(mats[-1], -1)
    for i, t in enumerate(mats):
        if t.ndim != 2:
            raise RuntimeError(f"multi_dot(): tensor {i} must be 2D but got {t.ndim}D")
    for i in range(len(mats) - 1):
        if mats[i].shape[1] != mats[i + 1].shape[0]:
            raise RuntimeError(f"multi_dot(): tensors {i} and {i + 1} with shapes {tuple(tensors[i].shape)} and "
                               f"{tuple(tensors[i + 1].shape)} cannot be multiplied")
    dims = [mats[0].shape[0]] + [t.shape[1] for t in mats]
    order = _chain_order(dims)

    def product(i: int, j: int) -> Tensor:
        if i == j:
            return mats[i]
        k = order[i][j]
        return matmul(product(i, k), product(k + 1, j))

    out = product(0, len(mats) - 1)
    if first_vector:
        out = squeeze(out, 0)
    if last_vector:
        out = squeeze(out, -1)
    return out


def _chain_order(dims: list[int]) -> list[list[int]]:
    """``split[i][j]``: where the cheapest product of matrices ``i..j`` (matrix ``t`` is
    ``dims[t] x dims[t+1]``) splits into ``(i..k)(k+1..j)``."""
    n = len(dims) - 1
    cost = [[0] * n for _ in range(n)]
    split = [[0] * n for _ in range(n)]
    for length in range(1, n):
        for i in range(n - length):
            j = i + length
            cost[i][j], split[i][j] = min((cost[i][k] + cost[k + 1][j] + dims[i] * dims[k + 1] * dims[j + 1], k)
                                          for k in range(i, j))
    return split


def vecdot(x: Tensor, y: Tensor, *, dim: int = -1) -> Tensor:
    """The dot product of vectors along ``dim`` (broadcasting the other dims)."""
    return sum(x * y, dim)


def diagonal(A: Tensor, *, offset: int = 0, dim1: int = -2, dim2: int = -1) -> Tensor:
    """The diagonals of the matrices of ``A`` (``tt.diagonal`` with the last two dims by default)."""
    return diagonal_(A, offset, dim1, dim2)


def solve_triangular(A: Tensor, B: Tensor, *, upper: bool, left: bool = True, unitriangular: bool = False) -> Tensor:
    """``X`` with ``A X = B`` (``left``) or ``X A = B`` for triangular ``A``: only the triangle
    ``upper`` names is read (and the diagonal taken as ones with ``unitriangular``).
    Differentiable; solved as a general system on the triangle."""
    tri = triu(A) if upper else tril(A)
    if unitriangular:
        eye_ = eye(A.shape[-1], dtype=A.dtype, device=A.device)
        tri = tri * (1 - eye_) + eye_
    return solve(tri, B, left=left)


def matrix_exp(A: Tensor) -> Tensor:
    """``exp(A)`` of each square matrix: scale ``A`` by ``2^-k`` until its 1-norm is at most 1/2,
    sum the Taylor series to degree 18 (the remainder is below float64's eps there), then square
    ``k`` times. Differentiable, as a composition of products."""
    check_square(A, "linalg.matrix_exp")
    norm1 = float(matrix_norm(A.detach(), 1).max().item()) if A.numel() else 0.0
    k = max(0, math.ceil(math.log2(norm1 / 0.5))) if norm1 > 0.5 else 0
    scaled = A / (2.0 ** k)
    eye_ = eye(A.shape[-1], dtype=A.dtype, device=A.device)
    term, total = scaled, eye_ + scaled
    for i in range(2, 19):
        term = matmul(term, scaled) / i
        total = total + term
    for _ in range(k):
        total = matmul(total, total)
    return total


__all__ = ["LinAlgError", "cross", "matrix_power",
           "vector_norm", "matrix_norm", "norm", "solve", "inv", "det", "slogdet", "cholesky", "qr",
           "svdvals", "svd", "pinv", "matrix_rank", "cond", "lstsq", "multi_dot", "vecdot", "diagonal",
           "solve_triangular", "matrix_exp", "eigh", "eigvalsh"]
