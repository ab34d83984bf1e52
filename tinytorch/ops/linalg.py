"""Decompositions and solves of small matrices: ``inverse``, ``det``, ``slogdet``, and the
primitives of :mod:`tinytorch.linalg` (``solve``, ``cholesky``, ``qr``, ``svdvals``).

The forwards compute on the host with numpy's LAPACK (``numpy.linalg``) for every backend: the
matrices are copied to the host and the results back. That is the right trade for the small
matrices these ops see in a teaching library (a GPU kernel for a 4x4 inverse would not pay for
its launch). Inputs are batches ``(..., n, n)``. The backwards are Tensor ops (matmul, the ops
here), so they are differentiable again; each one is PyTorch's formula:

* ``inverse``: ``-A^-T g A^-T``;  ``det``: ``g det(A) A^-T``;  ``slogdet``: ``g A^-T``;
* ``solve`` ``X = A^-1 B``: ``gB = solve(A^T, g)``, ``gA = -gB X^T``;
* ``cholesky`` ``A = L L^T``: ``gA = L^-T P L^-1`` with ``P = (T + tril(T, -1)^T) / 2``, ``T = tril(L^T gL)``;
* ``qr`` ``A = QR`` (m >= n): ``gA = (gQ + Q sym(triu(gR R^T - Q^T gQ))) R^-T``;
* ``svdvals``: ``U diag(gS) V^T``, with ``U`` and ``V`` differentiable (the SVD formula for ``gU``, ``gV``);
* ``eigh`` ``A = V diag(L) V^T``: ``V (diag(gL) + skew(V^T gV) / E) V^T``, ``E[i, j] = L[j] - L[i]``.

A singular matrix (an exact zero pivot, as LAPACK finds it) raises :class:`LinAlgError`, a
``RuntimeError`` as ``torch.linalg.LinAlgError`` is. The gradients of ``det``/``slogdet`` need
``A^-1``: at a singular matrix they raise where PyTorch would use an SVD.
"""

from __future__ import annotations

import collections
from typing import Any

import numpy as np

from ..ndarray import NDArray
from ..ndarray import array as nd_array
from ..tensor import Function, Tensor
from .elementwise import neg
from .matmul import matmul
from .movement import expand, mT, tril, triu, unsqueeze
from .table import exports, op


class LinAlgError(RuntimeError):
    """A linear-algebra routine failed on its input (a singular matrix, a matrix that is not
    positive-definite): ``torch.linalg.LinAlgError``, a ``RuntimeError``."""


def check_square(a: Tensor, name: str) -> None:
    """Raise PyTorch's ``RuntimeError`` unless ``a`` is a batch of square float matrices."""
    if a.ndim < 2:
        raise RuntimeError(f"{name}: The input tensor A must have at least 2 dimensions.")
    if a.shape[-1] != a.shape[-2]:
        raise RuntimeError(f"{name}: A must be batches of square matrices, but they are "
                           f"{a.shape[-2]} by {a.shape[-1]} matrices")
    if not a.dtype.is_floating_point:
        raise RuntimeError(f"{name}: Expected a floating point or complex tensor as input. Got {a.dtype.name}")


def check_matrices(a: Tensor, name: str) -> None:
    """Raise PyTorch's ``RuntimeError`` unless ``a`` is a batch of float matrices (any shape)."""
    if a.ndim < 2:
        raise RuntimeError(f"{name}: The input tensor A must have at least 2 dimensions.")
    if not a.dtype.is_floating_point:
        raise RuntimeError(f"{name}: Expected a floating point or complex tensor as input. Got {a.dtype.name}")


def _back(host: Any, like: NDArray) -> NDArray:
    """A host result as an array of ``like``'s dtype on ``like``'s device."""
    return nd_array(np.array(host, dtype=like.dtype.np_dtype, order="C"), device=like.device)


def _constant(a: NDArray) -> Tensor:
    return Tensor._make(a, False, None)


def _eye_mask(n: int, like: Tensor, diagonal: float) -> Tensor:
    """Ones with ``diagonal`` on the diagonal: multiplying by it scales a matrix's diagonal."""
    mask = np.ones((n, n)) + (diagonal - 1) * np.eye(n)
    return _constant(_back(mask, like._data))


def _lapack(name: str, fn: Any, *args: Any) -> Any:
    try:
        return fn(*args)
    except np.linalg.LinAlgError:
        raise LinAlgError(f"{name}: The input matrix is singular, so the {name} could not be completed "
                          f"(a zero pivot in its LU factorization).") from None


class Inverse(Function):
    def forward(self, a: NDArray) -> NDArray:
        self.out = _back(_lapack("linalg.inv", np.linalg.inv, a.numpy()), a)
        return self.out

    def backward(self, g: Tensor) -> Tensor:
        inv_t = mT(self.output())
        return neg(matmul(matmul(inv_t, g), inv_t))


class Det(Function):
    def forward(self, a: NDArray) -> NDArray:
        self.out = _back(np.linalg.det(a.numpy()), a)
        return self.out

    def backward(self, g: Tensor) -> Tensor:
        scale = unsqueeze(unsqueeze(g * self.output(), -1), -1)
        return scale * mT(inverse(self.inputs[0]))


class LogAbsDet(Function):
    """``log|det A|``; the sign is a constant (no gradient)."""

    def forward(self, a: NDArray) -> NDArray:
        return _back(np.linalg.slogdet(a.numpy())[1], a)

    def backward(self, g: Tensor) -> Tensor:
        return unsqueeze(unsqueeze(g, -1), -1) * mT(inverse(self.inputs[0]))


class SlogdetSign(Function):
    """The sign of ``det A`` (-1, 0 or 1, in A's dtype): a constant of the graph (callers
    detach it), but an op, so that dispatch modes see it (``vmap`` puts the batch in front)."""

    def forward(self, a: NDArray) -> NDArray:
        return _back(np.linalg.slogdet(a.numpy())[0], a)

    def backward(self, g: Tensor) -> None: return None


class Solve(Function):
    """``X = A^-1 B`` for ``A`` ``(..., n, n)`` and ``B`` ``(..., n, k)`` of one batch shape."""

    def forward(self, a: NDArray, b: NDArray) -> NDArray:
        host = _lapack("torch.linalg.solve", np.linalg.solve, a.numpy(), b.numpy())
        self.out = _back(host, b)
        return self.out

    def backward(self, g: Tensor) -> tuple:
        a = self.inputs[0]
        gb = Solve.apply(mT(a), g)
        return (neg(matmul(gb, mT(self.output()))) if self.needs_input_grad[0] else None,
                gb if self.needs_input_grad[1] else None)


class Cholesky(Function):
    """The lower factor ``L`` of ``A = L L^T`` (only the lower triangle of ``A`` is read)."""

    def forward(self, a: NDArray) -> NDArray:
        host = a.numpy()
        try:
            self.out = _back(np.linalg.cholesky(host), a)
        except np.linalg.LinAlgError:
            raise LinAlgError(f"linalg.cholesky: The factorization could not be completed because the input is not "
                              f"positive-definite (the leading minor of order {_failing_minor(host)} is not "
                              f"positive-definite).") from None
        return self.out

    def backward(self, g: Tensor) -> Tensor:
        chol = self.output()
        p = tril(matmul(mT(chol), g))
        p = (p + mT(tril(p, -1))) * 0.5  # the lower triangle mirrored up, the diagonal halved
        inv = inverse(chol)
        return matmul(matmul(mT(inv), p), inv)


def _failing_minor(host: np.ndarray) -> int:
    """The order of the first leading minor that is not positive-definite (of the first failing
    matrix of a batch): found by factoring growing leading blocks, only on this error path."""
    mats = host.reshape((-1,) + host.shape[-2:])
    for m in mats:
        for k in range(1, m.shape[-1] + 1):
            try:
                np.linalg.cholesky(m[:k, :k])
            except np.linalg.LinAlgError:
                return k
    return m.shape[-1]


_slogdet_result = collections.namedtuple("slogdet", ["sign", "logabsdet"])  # type: ignore[name-match]


@op
def inverse(x: Tensor) -> Tensor:
    """The inverse of each square matrix of ``x`` (``(..., n, n)``); a singular one raises
    :class:`LinAlgError`. Computed on the host with numpy's LAPACK."""
    check_square(x, "linalg.inv")
    return Inverse.apply(x)


@op
def det(x: Tensor) -> Tensor:
    """The determinant of each square matrix of ``x`` (host LAPACK, through an LU factorization)."""
    check_square(x, "linalg.det")
    return Det.apply(x)


@op
def slogdet(x: Tensor) -> Any:
    """``(sign, logabsdet)`` of each square matrix: ``det = sign * exp(logabsdet)`` without
    overflow. The gradient flows through ``logabsdet``."""
    check_square(x, "linalg.slogdet")
    sign = SlogdetSign.apply(x).detach()
    return _slogdet_result(sign, LogAbsDet.apply(x))


def solve(a: Tensor, b: Tensor, *, left: bool = True) -> Tensor:
    """``X`` with ``A X = B`` (``torch.linalg.solve``): ``B`` is a batch of vectors when it is 1-D
    or has ``A``'s shape without the last dim, else of ``(n, k)`` matrices; batch dims broadcast.
    ``left=False`` solves ``X A = B`` instead (``B`` a batch of matrices)."""
    check_square(a, "linalg.solve")
    if b.dtype is not a.dtype:
        raise RuntimeError(f"linalg.solve: Expected A and B to have the same dtype, but found A of type "
                           f"{a.dtype.name} and B of type {b.dtype.name} instead.")
    if b.ndim == 0:
        raise RuntimeError("linalg.solve: The input tensor B must have at least 1 dimension.")
    if not left:
        return mT(solve(mT(a), mT(b)))
    vector = b.ndim == 1 or (b.ndim == a.ndim - 1 and b.shape == a.shape[:-1])
    rhs = unsqueeze(b, -1) if vector else b
    if rhs.shape[-2] != a.shape[-1]:
        raise RuntimeError(f"linalg.solve: Incompatible shapes of A and B for the equation AX = B "
                           f"({a.shape[-2]}x{a.shape[-1]} and {rhs.shape[-2]}x{rhs.shape[-1]})")
    batch = tuple(np.broadcast_shapes(a.shape[:-2], rhs.shape[:-2]))
    out = Solve.apply(expand(a, batch + a.shape[-2:]), expand(rhs, batch + rhs.shape[-2:]))
    return out[..., 0] if vector else out


def cholesky(a: Tensor, *, upper: bool = False) -> Tensor:
    """The Cholesky factor of each symmetric positive-definite matrix: lower ``L`` with
    ``A = L L^T`` (``upper=True``: ``U = L^T``). Raises :class:`LinAlgError` otherwise."""
    check_square(a, "linalg.cholesky")
    lower = Cholesky.apply(a)
    return mT(lower) if upper else lower


class QrQ(Function):
    """The ``Q`` of ``A = QR``; :class:`QrR` is ``R``. Each backward is the part of PyTorch's
    joint formula that its own gradient drives (the formula is linear in ``(gQ, gR)``)."""

    def forward(self, a: NDArray, mode: Any) -> NDArray:
        self.mode = mode
        self.out = _back(np.linalg.qr(a.numpy(), mode=mode)[0], a)
        return self.out

    def backward(self, g: Tensor) -> Tensor:
        a = self.inputs[0]
        q, r = self.output(), QrR.apply(a, mode=self.mode)
        return _qr_grad(a, q, r, g, None, self.mode)


class QrR(Function):
    def forward(self, a: NDArray, mode: Any) -> NDArray:
        self.mode = mode
        host = np.linalg.qr(a.numpy(), mode=mode)
        self.out = _back(host if mode == "r" else host[1], a)
        return self.out

    def backward(self, g: Tensor) -> Tensor:
        a = self.inputs[0]
        return _qr_grad(a, QrQ.apply(a, mode=self.mode), self.output(), None, g, self.mode)


def _qr_grad(a: Tensor, q: Tensor, r: Tensor, gq: Tensor | None, gr: Tensor | None, mode: str) -> Tensor:
    m, n = a.shape[-2:]
    if mode == "r":
        raise RuntimeError("The derivative of linalg.qr depends on Q, which is not computed when mode='r'. "
                           "Please use linalg.qr(A, mode='reduced') if you are going to differentiate through "
                           "linalg.qr.")
    if m < n or (mode == "complete" and m > n):
        raise NotImplementedError(f"the gradient of qr is implemented for m >= n with mode='reduced' "
                                  f"(got {m}x{n}, mode={mode!r})")
    inner = matmul(gr, mT(r)) if gr is not None else None
    if gq is not None:
        term = neg(matmul(mT(q), gq))
        inner = term if inner is None else inner + term
    upper = triu(inner)  # type: ignore[arg-type]
    sym = (upper + mT(upper)) * _eye_mask(n, upper, 0.5)
    ga = matmul(q, sym)
    if gq is not None:
        ga = ga + gq
    return matmul(ga, mT(inverse(r)))


def qr(a: Tensor, mode: str = "reduced") -> tuple[Tensor, Tensor]:
    """``(Q, R)`` with ``A = QR``, ``Q`` orthonormal columns, ``R`` upper triangular, computed by
    numpy's LAPACK (Householder, the signs LAPACK gives, as PyTorch's). ``mode``: ``'reduced'``
    (``Q`` is ``m x k``, k = min(m, n)), ``'complete'`` (``Q`` is ``m x m``) or ``'r'`` (``Q`` empty).
    Differentiable for ``m >= n`` in reduced mode (and complete when square)."""
    if mode not in ("reduced", "complete", "r"):
        raise RuntimeError(f"qr received unrecognized mode '{mode}' but expected one of 'reduced' (default), "
                           f"'r', or 'complete'")
    if a.ndim < 2:
        raise RuntimeError("linalg.qr: The input tensor A must have at least 2 dimensions.")
    r = QrR.apply(a, mode=mode)
    q = QrQ.apply(a, mode=mode) if mode != "r" else _constant(_back(np.zeros((0,)), a._data))
    return _qr_result(q, r)


def _svd(a: NDArray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(U, S, V)`` of numpy's reduced SVD ``A = U diag(S) V^T`` of the host copy of ``a``."""
    u, s, vh = np.linalg.svd(a.numpy(), full_matrices=False)
    return u, s, np.swapaxes(vh, -1, -2)


class SvdFactor(Function):
    """One factor of the reduced SVD of matrices with ``m >= n``: ``part`` 0 is ``U``, 1 is ``S``,
    2 is ``V`` (numpy's SVD is deterministic, so the three factors of one input agree, signs
    included). The backward is PyTorch's joint formula restricted to this factor's gradient (it
    is linear in ``(gU, gS, gV)``), with the other factors as differentiable tensors, so
    :func:`svdvals` is differentiable twice, as PyTorch's."""

    def forward(self, a: NDArray, part: int) -> NDArray:
        self.part = part
        self.out = _back(_svd(a)[part], a)
        return self.out

    def backward(self, g: Tensor) -> Tensor:
        a = self.inputs[0]
        u, s, v = (self.output() if i == self.part else SvdFactor.apply(a, part=i) for i in range(3))
        if self.part == 1:  # U diag(gS) V^T
            return matmul(u * unsqueeze(g, -2), mT(v))
        square = s * s
        gaps = unsqueeze(square, -2) - unsqueeze(square, -1)  # s_k^2 - s_j^2 at (j, k); 1 on the diagonal
        gaps = gaps + _eye_mask(s.shape[-1], s, 1.0) - _eye_mask(s.shape[-1], s, 0.0)
        if self.part == 0:  # U [(skew(U^T gU) / E) S] V^T + (I - U U^T) gU S^-1 V^T
            k = matmul(mT(u), g)
            inner = (k - mT(k)) / gaps * unsqueeze(s, -2)
            outside = (g - matmul(u, matmul(mT(u), g))) / unsqueeze(s, -2)
            return matmul(matmul(u, inner) + outside, mT(v))
        k = matmul(mT(v), g)  # V is square (m >= n): only U [S (skew(V^T gV) / E)] V^T remains
        return matmul(matmul(u, unsqueeze(s, -1) * ((k - mT(k)) / gaps)), mT(v))


def svdvals(a: Tensor) -> Tensor:
    """The singular values of each matrix of ``a`` (``(..., m, n)`` -> ``(..., min(m, n))``), in
    descending order (``torch.linalg.svdvals``), by numpy's LAPACK on the host. Differentiable
    (twice) where the singular values are distinct and nonzero, as PyTorch's."""
    check_matrices(a, "linalg.svd")
    tall = a if a.shape[-2] >= a.shape[-1] else mT(a)  # the same singular values; the formulas want m >= n
    return SvdFactor.apply(tall, part=1)


class EighFactor(Function):
    """One factor of the eigendecomposition ``A = V diag(L) V^T`` of symmetric matrices (only
    the lower triangle is read, as PyTorch's default ``UPLO="L"``): ``part`` 0 is the ascending
    eigenvalues ``L``, 1 the orthonormal eigenvectors ``V`` (columns; numpy's LAPACK is
    deterministic, so the two factors of one input agree, signs included). The backward is
    PyTorch's: ``V (diag(gL) + skew(V^T gV) / E) V^T`` with ``E[i, j] = L[j] - L[i]``,
    restricted to this factor's gradient, with the other factor differentiable (so it is
    differentiable again). It needs distinct eigenvalues, as PyTorch's."""

    def forward(self, a: NDArray, part: int) -> NDArray:
        self.part = part
        self.out = _back(np.linalg.eigh(a.numpy())[part], a)
        return self.out

    def backward(self, g: Tensor) -> Tensor:
        a = self.inputs[0]
        values, vectors = (self.output() if i == self.part else EighFactor.apply(a, part=i) for i in range(2))
        if self.part == 0:  # V diag(gL) V^T
            return matmul(vectors * unsqueeze(g, -2), mT(vectors))
        k = matmul(mT(vectors), g)
        gaps = unsqueeze(values, -2) - unsqueeze(values, -1)  # L[j] - L[i] at (i, j); 1 on the diagonal
        n = values.shape[-1]
        gaps = gaps + _eye_mask(n, values, 1.0) - _eye_mask(n, values, 0.0)
        inner = (k - mT(k)) / 2 / gaps
        return matmul(matmul(vectors, inner), mT(vectors))


def eigh(a: Tensor, UPLO: str = "L") -> tuple[Tensor, Tensor]:  # noqa: N803  (PyTorch's name)
    """``(eigenvalues, eigenvectors)`` of each symmetric matrix of ``a`` (``(..., n, n)``):
    eigenvalues ascending, eigenvectors as orthonormal columns, by numpy's LAPACK on the host.
    Only the triangle ``UPLO`` names (``"L"`` or ``"U"``) is read. Differentiable (twice) where
    the eigenvalues are distinct; an eigenvector's sign is LAPACK's choice, so only quantities
    that do not depend on it (``V diag(L) V^T``, ``V ** 2``) are comparable across libraries."""
    check_square(a, "linalg.eigh")
    if UPLO not in ("L", "U"):
        raise RuntimeError(f"Expected UPLO argument to be 'L' or 'U', but got {UPLO}")
    lower = a if UPLO == "L" else mT(a)  # the upper triangle of a is the lower one of a^T
    return _eigh_result(EighFactor.apply(lower, part=0), EighFactor.apply(lower, part=1))


def eigvalsh(a: Tensor, UPLO: str = "L") -> Tensor:  # noqa: N803
    """The ascending eigenvalues of each symmetric matrix of ``a`` (see :func:`eigh`)."""
    check_square(a, "linalg.eigvalsh")
    if UPLO not in ("L", "U"):
        raise RuntimeError(f"Expected UPLO argument to be 'L' or 'U', but got {UPLO}")
    return EighFactor.apply(a if UPLO == "L" else mT(a), part=0)


_eigh_result = collections.namedtuple("eigh", ["eigenvalues", "eigenvectors"])  # type: ignore[name-match]
_qr_result = collections.namedtuple("qr", ["Q", "R"])  # type: ignore[name-match]

__all__ = exports(__name__)
