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

import math
from typing import Any

from .ops.composite import cross as _cross
from .ops.composite import matrix_power
from .ops.dims import normalize_dim
from .ops.elementwise import abs as abs_
from .ops.linalg import LinAlgError, cholesky, det, inverse, qr, slogdet, solve, svdvals
from .ops.movement import squeeze
from .ops.reduce import amax, amin, singular_value_norm, sum, vector_norm
from .tensor import Tensor

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


__all__ = ["LinAlgError", "cross", "matrix_power",
           "vector_norm", "matrix_norm", "norm", "solve", "inv", "det", "slogdet", "cholesky", "qr",
           "svdvals"]
