"""``tt.linalg``'s SVD family and compositions (svd, pinv, matrix_rank, cond, lstsq, multi_dot,
vecdot, diagonal, solve_triangular, matrix_exp): values against numpy's LAPACK (always) and,
values and gradients, against PyTorch when it is installed."""

from __future__ import annotations

import numpy as np
import pytest
from nn_helpers import needs_torch, torch

import tinytorch as tt

rng = np.random.default_rng(0)
A = rng.standard_normal((4, 3))
WIDE = rng.standard_normal((2, 3, 5))
SQ = rng.standard_normal((3, 3))
B = rng.standard_normal((4, 2))


def t(a: np.ndarray) -> tt.Tensor:
    return tt.tensor(a)


# --- values against numpy ---------------------------------------------------------------------
@pytest.mark.parametrize("a", [A, WIDE, SQ], ids=["tall", "wide_batch", "square"])
def test_svd_reconstructs_and_matches_numpys_singular_values(a):
    u, s, vh = tt.linalg.svd(t(a), full_matrices=False)
    k = min(a.shape[-2:])
    assert u.shape == a.shape[:-1] + (k,) and vh.shape == a.shape[:-2] + (k, a.shape[-1])
    np.testing.assert_allclose(s.numpy(), np.linalg.svd(a, compute_uv=False), atol=1e-12)
    np.testing.assert_allclose(((u * s[..., None, :]) @ vh).numpy(), a, atol=1e-12)
    np.testing.assert_allclose((u.mT @ u).numpy(), np.broadcast_to(np.eye(k), u.shape[:-2] + (k, k)), atol=1e-12)
    full = tt.linalg.svd(t(a))  # full_matrices=True: square U and Vh
    assert full.U.shape[-1] == a.shape[-2] and full.Vh.shape[-2] == a.shape[-1]


def test_full_svd_of_a_non_square_matrix_has_no_gradient():
    with pytest.raises(RuntimeError, match="full_matrices=False"):
        tt.linalg.svd(tt.tensor(A, requires_grad=True))
    with pytest.raises(RuntimeError, match="2 dimensions"):
        tt.linalg.svd(tt.ones(3))


def test_pinv_rank_cond_against_numpy():
    low_rank = A @ rng.standard_normal((3, 5))  # 4 x 5 of rank 3
    for a in (A, WIDE, low_rank):
        np.testing.assert_allclose(tt.linalg.pinv(t(a)).numpy(), np.linalg.pinv(a), atol=1e-10)
    assert tt.linalg.matrix_rank(t(low_rank)).item() == 3
    assert tt.linalg.matrix_rank(t(WIDE)).tolist() == [3, 3]
    assert tt.linalg.matrix_rank(t(low_rank), atol=1e9).item() == 0 and tt.linalg.matrix_rank(t(A)).dtype is tt.int64
    for p in (None, 2, -2, 1, "fro", np.inf):
        np.testing.assert_allclose(tt.linalg.cond(t(SQ), p).item(), np.linalg.cond(SQ, p), rtol=1e-10)


def test_lstsq_fields_follow_the_driver():
    x, residuals, rank, values = tt.linalg.lstsq(t(A), t(B))
    ref, ref_res, ref_rank, ref_sv = np.linalg.lstsq(A, B, rcond=None)
    np.testing.assert_allclose(x.numpy(), ref, atol=1e-12)
    assert residuals.shape == (0,) and values.shape == (0,) and rank.item() == ref_rank
    _, residuals, _, values = tt.linalg.lstsq(t(A), t(B), driver="gelsd")
    np.testing.assert_allclose(residuals.numpy(), ref_res, atol=1e-12)
    np.testing.assert_allclose(values.numpy(), ref_sv, atol=1e-12)
    assert tt.linalg.lstsq(t(A), t(B[:, 0])).solution.shape == (3,)
    assert tt.linalg.lstsq(t(A), t(B), driver="gels").rank.shape == (0,)
    with pytest.raises(RuntimeError, match="driver"):
        tt.linalg.lstsq(t(A), t(B), driver="lapack")
    with pytest.raises(RuntimeError, match=r"\(4, 3\).*\(3, 2\)"):
        tt.linalg.lstsq(t(A), t(B[:3]))


def test_multi_dot_vecdot_diagonal_solve_triangular():
    mats = [rng.standard_normal(4), rng.standard_normal((4, 7)), rng.standard_normal((7, 2)), rng.standard_normal(2)]
    np.testing.assert_allclose(tt.linalg.multi_dot([t(m) for m in mats]).numpy(), np.linalg.multi_dot(mats))
    np.testing.assert_allclose(tt.linalg.multi_dot([t(m) for m in mats[1:3]]).numpy(), mats[1] @ mats[2])
    with pytest.raises(RuntimeError, match="at least 2"):
        tt.linalg.multi_dot([t(A)])
    with pytest.raises(RuntimeError, match="cannot be multiplied"):
        tt.linalg.multi_dot([t(A), t(A)])
    np.testing.assert_allclose(tt.linalg.vecdot(t(A), t(B[:, :1])).numpy(), (A * B[:, :1]).sum(-1))
    np.testing.assert_allclose(tt.linalg.diagonal(t(WIDE), offset=1).numpy(), np.diagonal(WIDE, 1, -2, -1))
    upper = SQ + 3 * np.eye(3)
    x = tt.linalg.solve_triangular(t(upper + np.tril(np.ones((3, 3)), -1) * 100), t(B[:3]), upper=True)
    np.testing.assert_allclose(np.triu(upper) @ x.numpy(), B[:3], atol=1e-12)  # the lower triangle is ignored
    x = tt.linalg.solve_triangular(t(SQ), t(B[:3].T.copy()), upper=False, left=False, unitriangular=True)
    unit_lower = np.tril(SQ, -1) + np.eye(3)
    np.testing.assert_allclose(x.numpy() @ unit_lower, B[:3].T, atol=1e-12)


@pytest.mark.parametrize("scale", [0.1, 1.0, 8.0])
def test_matrix_exp_of_a_symmetric_matrix_is_its_eigen_exponential(scale):
    sym = (SQ + SQ.T) * scale
    w, v = np.linalg.eigh(sym)
    np.testing.assert_allclose(tt.linalg.matrix_exp(t(sym)).numpy(), (v * np.exp(w)) @ v.T, rtol=1e-10)
    rot = np.array([[0.0, -1.0], [1.0, 0.0]]) * np.pi / 2  # exp of a rotation generator: a 90-degree turn
    np.testing.assert_allclose(tt.linalg.matrix_exp(t(rot)).numpy(), [[0, -1], [1, 0]], atol=1e-12)
    with pytest.raises(RuntimeError, match="square"):
        tt.linalg.matrix_exp(t(A))


# --- values and gradients against PyTorch -------------------------------------------------------
CASES = [
    ("svd_S", lambda L, a: L.linalg.svd(a, full_matrices=False).S, [A]),
    ("svd_product", lambda L, a: (lambda r: r.U @ (r.S[..., None] * r.Vh))(L.linalg.svd(a, full_matrices=False)),
     [WIDE]),
    ("pinv", lambda L, a: L.linalg.pinv(a), [A]),
    ("pinv_batch", lambda L, a: L.linalg.pinv(a), [WIDE]),
    ("cond", lambda L, a: L.linalg.cond(a), [SQ]),
    ("lstsq", lambda L, a, b: L.linalg.lstsq(a, b).solution, [A, B]),
    ("multi_dot", lambda L, a, b, c: L.linalg.multi_dot([a, b, c]), [A.T.copy(), A, SQ]),
    ("vecdot", lambda L, a, b: L.linalg.vecdot(a, b), [A, A[::-1].copy()]),
    ("solve_triangular", lambda L, a, b: L.linalg.solve_triangular(a, b, upper=True), [SQ + 3 * np.eye(3), B[:3]]),
    ("matrix_exp", lambda L, a: L.linalg.matrix_exp(a), [SQ]),
    ("matrix_exp_scaled", lambda L, a: L.linalg.matrix_exp(a * 5), [WIDE[:, :, :3]]),
]


@needs_torch
@pytest.mark.parametrize("name,fn,inputs", CASES, ids=[c[0] for c in CASES])
def test_values_and_gradients_match_pytorch(name, fn, inputs):
    results = []
    for L in (torch, tt):
        xs = [L.tensor(a, requires_grad=True) for a in inputs]
        y = fn(L, *xs)
        y.sin().sum().backward()
        results.append((y.detach().numpy(), [x.grad.numpy() for x in xs]))
    (y_ref, g_ref), (y, g) = results
    np.testing.assert_allclose(y, y_ref, atol=1e-9)
    for ours, ref in zip(g, g_ref):
        np.testing.assert_allclose(ours, ref, atol=1e-8)


def test_eigh_reads_one_triangle_and_reconstructs():
    sym = SQ + SQ.T
    w, v = tt.linalg.eigh(t(sym))
    np.testing.assert_allclose(w.numpy(), np.linalg.eigvalsh(sym), atol=1e-12)
    np.testing.assert_allclose(((v * w[None, :]) @ v.mT).numpy(), sym, atol=1e-12)
    np.testing.assert_allclose((v.mT @ v).numpy(), np.eye(3), atol=1e-12)
    lower_only = np.tril(sym) + np.triu(np.full((3, 3), 100.0), 1)  # the upper triangle is ignored
    np.testing.assert_allclose(tt.linalg.eigvalsh(t(lower_only)).numpy(), np.linalg.eigvalsh(sym), atol=1e-12)
    np.testing.assert_allclose(tt.linalg.eigvalsh(t(lower_only.T.copy()), UPLO="U").numpy(),
                               np.linalg.eigvalsh(sym), atol=1e-12)
    with pytest.raises(RuntimeError, match="square"):
        tt.linalg.eigh(t(A))
    with pytest.raises(RuntimeError, match="UPLO"):
        tt.linalg.eigvalsh(t(SQ), UPLO="X")


@needs_torch
def test_eigh_first_and_second_derivatives_match_pytorch():
    weights = rng.standard_normal((4, 4))
    stacked = rng.standard_normal((2, 4, 4))
    results = []
    for L in (torch, tt):
        a = L.tensor(stacked, requires_grad=True)
        w, v = L.linalg.eigh(a + a.mT)
        (g,) = L.autograd.grad(((v ** 2) * L.tensor(weights)).sum() + (w ** 3).sum(), a, create_graph=True)
        (h,) = L.autograd.grad((g ** 2).sum(), a)
        results.append((g.detach().numpy(), h.numpy()))
    np.testing.assert_allclose(results[1][0], results[0][0], rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(results[1][1], results[0][1], rtol=1e-7, atol=1e-8)
