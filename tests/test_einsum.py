"""``tt.einsum`` against PyTorch's: values and gradients over equations that cover traces,
diagonals, transposes, sums, batched products, outer products, bilinear forms, three operands
and ellipsis broadcasting; the plan (one batched matmul per pair of operands); and errors.
"""

from __future__ import annotations

import importlib
from typing import Any

import numpy as np
import pytest

import tinytorch as tt

matmul_module = importlib.import_module("tinytorch.ops.matmul")  # the module, not tt.ops.matmul (the function)

torch = pytest.importorskip("torch")

EQUATIONS = [
    ("ii", [(4, 4)]),                                   # trace (implicit output)
    ("ii->i", [(4, 4)]),                                # diagonal
    ("...ii->...i", [(2, 3, 3)]),                       # batched diagonal
    ("iij->j", [(3, 3, 2)]),                            # repeated label then a kept one
    ("iji->j", [(3, 2, 3)]),                            # repeated labels apart
    ("ij->ji", [(2, 3)]),                               # transpose
    ("ji", [(2, 3)]),                                   # implicit output: alphabetical -> transpose
    ("ijk->kij", [(2, 3, 4)]),                          # permutation
    ("ij->", [(2, 3)]),                                 # total sum
    ("ij->j", [(2, 3)]),                                # column sums
    ("i...->...", [(2, 3, 4)]),                         # sum over a leading dim under an ellipsis
    ("ij,jk->ik", [(2, 3), (3, 4)]),                    # matrix product
    ("ij,jk", [(2, 3), (3, 4)]),                        # implicit output
    ("ba,ab", [(2, 3), (3, 2)]),                        # implicit: everything contracted -> trace of a product
    ("bij,bjk->bik", [(2, 2, 3), (2, 3, 4)]),           # batched matrix product
    ("bij,bkj->bik", [(2, 2, 3), (2, 4, 3)]),           # batched, second operand transposed
    ("i,j->ij", [(3,), (4,)]),                          # outer product
    ("i,j->ji", [(3,), (4,)]),                          # outer product, transposed
    ("i,i->", [(5,), (5,)]),                            # dot product
    ("ij,ij->ij", [(2, 3), (2, 3)]),                    # elementwise product
    ("bi,bi->b", [(3, 4), (3, 4)]),                     # batched dot products
    ("i,ij,j->", [(3,), (3, 4), (4,)]),                 # bilinear form x^T A y
    ("bn,anm,bm->ba", [(2, 3), (4, 3, 5), (2, 5)]),     # nn.Bilinear
    ("abc,cd,de->abe", [(2, 3, 4), (4, 5), (5, 2)]),    # a chain of three
    ("i,j,k->ijk", [(2,), (3,), (2,)]),                 # three-way outer product
    ("...ij,...jk->...ik", [(2, 1, 2, 3), (5, 3, 4)]),  # ellipsis broadcasting of batches
    ("...,...->...", [(2, 1), (3,)]),                   # ellipsis only: broadcast product
    ("...i,i", [(2, 3, 4), (4,)]),                      # implicit output with an ellipsis
    ("a...b,b...c->...ac", [(2, 3, 4), (4, 3, 5)]),     # ellipsis in the middle
    ("b i , b j -> b i j", [(2, 3), (2, 4)]),           # spaces are ignored
]


def _ids(case: Any) -> str:
    return case[0].replace(" ", "").replace("...", "E").replace("->", "_to_").replace(",", "_") or "empty"


@pytest.mark.parametrize("equation,shapes", EQUATIONS, ids=[_ids(c) for c in EQUATIONS])
def test_einsum_matches_torch(device: str, equation: str, shapes: list) -> None:
    rng = np.random.default_rng(0)
    arrays = [rng.normal(size=s) for s in shapes]
    ours = [tt.tensor(a, device=device, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    out, ref = tt.einsum(equation, *ours), torch.einsum(equation, *theirs)
    assert out.shape == tuple(ref.shape)
    np.testing.assert_allclose(out.detach().numpy(), ref.detach().numpy(), rtol=1e-12, atol=1e-12)
    w = rng.normal(size=tuple(ref.shape))
    (out * tt.tensor(w, device=device)).sum().backward()
    (ref * torch.tensor(w)).sum().backward()
    for x, t in zip(ours, theirs):
        np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), rtol=1e-12, atol=1e-12)


def test_einsum_takes_a_list_of_operands_and_float32(device: str) -> None:
    a = np.arange(6.0).reshape(2, 3)
    b = np.arange(12.0).reshape(3, 4)
    out = tt.einsum("ij,jk->ik", [tt.tensor(a, dtype=tt.float32, device=device),
                                  tt.tensor(b, dtype=tt.float32, device=device)])
    assert out.dtype is tt.float32
    np.testing.assert_allclose(out.numpy(), a @ b)


@pytest.mark.parametrize("sublists", [
    ([0, 1], [1, 2], [0, 2]),        # a matrix product with an explicit output
    ([0, 1], [1, 2]),                # implicit output
    ([Ellipsis, 0, 1], [Ellipsis, 1, 2], [Ellipsis, 2, 0]),
])
def test_einsum_sublist_form_matches_torch(device: str, sublists: tuple) -> None:
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=(4, 2, 3)), rng.normal(size=(4, 3, 5))
    if Ellipsis not in sublists[0]:
        a, b = a[0], b[0]
    args_tt: list = [tt.tensor(a, device=device), sublists[0], tt.tensor(b, device=device), sublists[1]]
    args_torch: list = [torch.tensor(a), sublists[0], torch.tensor(b), sublists[1]]
    out, ref = tt.einsum(*args_tt, *sublists[2:]), torch.einsum(*args_torch, *sublists[2:])
    np.testing.assert_allclose(out.numpy(), ref.numpy(), rtol=1e-12)


def test_einsum_with_empty_dims_matches_torch(device: str) -> None:
    for equation, shapes in (("i,i", [(0,), (0,)]), ("ij,jk", [(2, 0), (0, 3)]), ("bij->bj", [(0, 2, 3)])):
        out = tt.einsum(equation, *[tt.ones(*s, device=device) for s in shapes])
        ref = torch.einsum(equation, *[torch.ones(*s) for s in shapes])
        assert out.shape == tuple(ref.shape)
        np.testing.assert_array_equal(out.numpy(), ref.numpy())


def test_einsum_second_order_gradient_matches_torch(device: str) -> None:
    rng = np.random.default_rng(1)
    arrays = [rng.normal(size=(2, 3)), rng.normal(size=(4, 3, 5)), rng.normal(size=(2, 5))]
    results = []
    for lib, make in ((tt, lambda a: tt.tensor(a, device=device, requires_grad=True)),
                      (torch, lambda a: torch.tensor(a, requires_grad=True))):
        xs = [make(a) for a in arrays]
        out = lib.einsum("bn,anm,bm->ba", *xs)
        (g,) = lib.autograd.grad((out * out).sum(), [xs[1]], create_graph=True)
        (h,) = lib.autograd.grad(g.sum(), [xs[0]])
        results.append(h.detach().numpy())
    np.testing.assert_allclose(results[0], results[1], rtol=1e-10)


@pytest.mark.parametrize("equation,shapes,products", [
    ("ij,jk->ik", [(2, 3), (3, 4)], 1),
    ("i,ij,j->", [(3,), (3, 4), (4,)], 2),
    ("bn,anm,bm->ba", [(2, 3), (4, 3, 5), (2, 5)], 2),
    ("ii->i", [(3, 3)], 0),
])
def test_each_pair_of_operands_is_one_batched_matmul(monkeypatch: Any, equation: str, shapes: list,
                                                     products: int) -> None:
    """The plan: diagonals and sums are views and reductions, and each contraction of two
    operands is one call of the Matmul primitive -- never a loop over elements."""
    calls = []
    original = matmul_module.Matmul.apply.__func__  # type: ignore[attr-defined]

    def counting(cls: type, *args: Any, **params: Any) -> Any:
        calls.append([a.shape for a in args])
        return original(cls, *args, **params)

    monkeypatch.setattr(matmul_module.Matmul, "apply", classmethod(counting))
    tt.einsum(equation, *[tt.ones(*s) for s in shapes])
    assert len(calls) == products


@pytest.mark.parametrize("equation,shapes,match", [
    ("ij,jk->ik", [(2, 3)], "operand"),                      # too few operands
    ("ij->ij", [(2, 3, 4)], "number of subscripts"),         # too few subscripts, no ellipsis
    ("ijkl...->i", [(2, 3)], "more than the number"),
    ("ij,jk->ik", [(2, 3), (4, 5)], "broadcast"),            # j is 3 and 4
    ("ii->i", [(2, 3)], "repeated"),                         # a diagonal of a non-square pair
    ("ij->ii", [(2, 2)], "more than once"),
    ("ij->k", [(2, 2)], "does not appear"),
    ("i1->i", [(2, 2)], "subscript"),
    ("......->", [(2,)], "ellipsis"),
])
def test_einsum_errors(equation: str, shapes: list, match: str) -> None:
    with pytest.raises(RuntimeError, match=match):
        tt.einsum(equation, *[tt.ones(*s) for s in shapes])
    with pytest.raises(RuntimeError):  # PyTorch rejects each of them too
        torch.einsum(equation, *[torch.ones(*s) for s in shapes])
