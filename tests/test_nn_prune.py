"""``nn.utils.prune``: masks beside the weights, by definition (always) and against PyTorch's
(when installed), iterative pruning and ``remove`` included."""

from __future__ import annotations

import importlib

import numpy as np
import pytest
from nn_helpers import needs_torch, torch

import tinytorch as tt
from tinytorch import nn
from tinytorch.nn.utils import prune

rng = np.random.default_rng(0)
W = rng.standard_normal((6, 4, 3))
B = rng.standard_normal(6)


def conv(L):
    m = L.nn.Conv1d(4, 6, 3).double()
    with L.no_grad():
        m.weight.copy_(L.tensor(W))
        m.bias.copy_(L.tensor(B))
    return m


def test_l1_unstructured_zeroes_the_smallest_and_keeps_them_zero():
    m = conv(tt)
    prune.l1_unstructured(m, "weight", amount=0.25)
    assert sorted(m.state_dict()) == ["bias", "weight_mask", "weight_orig"] and prune.is_pruned(m)
    k = round(0.25 * W.size)
    smallest = np.argsort(np.abs(W).reshape(-1))[:k]
    assert (m.weight_mask.numpy().reshape(-1)[smallest] == 0).all() and m.weight_mask.numpy().sum() == W.size - k
    opt = tt.optim.SGD(m.parameters(), lr=0.1)
    m(tt.ones(2, 4, 5, dtype=tt.float64)).sum().backward()
    opt.step()
    m(tt.ones(1, 4, 5, dtype=tt.float64))  # the hook recomputes weight = orig * mask
    assert (m.weight.detach().numpy().reshape(-1)[smallest] == 0).all()
    prune.l1_unstructured(m, "weight", amount=3)  # again: 3 more among the standing entries
    assert m.weight_mask.numpy().sum() == W.size - k - 3
    prune.remove(m, "weight")
    assert sorted(m.state_dict()) == ["bias", "weight"] and not prune.is_pruned(m)
    assert isinstance(m.weight, nn.Parameter) and (m.weight.detach().numpy() == 0).sum() == k + 3


def test_structured_and_errors():
    m = conv(tt)
    prune.ln_structured(m, "weight", amount=2, n=1, dim=0)
    norms = np.abs(W).sum((1, 2))
    gone = np.argsort(norms)[:2]
    mask = m.weight_mask.numpy()
    assert (mask[gone] == 0).all() and (np.delete(mask, gone, 0) == 1).all()
    with pytest.raises(ValueError, match="amount"):
        prune.l1_unstructured(conv(tt), "weight", amount=1.5)
    with pytest.raises(ValueError, match="smaller than"):
        prune.l1_unstructured(conv(tt), "weight", amount=1000)
    with pytest.raises(ValueError, match="pruned before"):
        prune.remove(conv(tt), "weight")
    tt.manual_seed(0)
    a = prune.random_unstructured(conv(tt), "weight", 0.5).weight_mask.numpy()
    tt.manual_seed(0)
    b = prune.random_unstructured(conv(tt), "weight", 0.5).weight_mask.numpy()
    assert (a == b).all() and a.sum() == W.size - round(0.5 * W.size)


CASES = {
    "l1_twice": [lambda P, m, L: P.l1_unstructured(m, "weight", 0.3),
                 lambda P, m, L: P.l1_unstructured(m, "weight", 10)],
    "ln_structured_twice": [lambda P, m, L: P.ln_structured(m, "weight", 2, 1, 0),
                            lambda P, m, L: P.ln_structured(m, "weight", 0.5, float("inf"), 1)],
    "structured_then_unstructured": [lambda P, m, L: P.ln_structured(m, "weight", 1, 2, 0),
                                     lambda P, m, L: P.l1_unstructured(m, "weight", 0.25)],
    "custom": [lambda P, m, L: P.custom_from_mask(m, "weight", L.tensor((W > 0).astype(np.float64)))],
    "global": [lambda P, m, L: P.global_unstructured([(m, "weight"), (m, "bias")], pruning_method=P.L1Unstructured,
                                                    amount=0.4)],
}


@needs_torch
@pytest.mark.parametrize("name", list(CASES))
def test_masks_match_pytorch(name):
    importlib.import_module("torch.nn.utils.prune")  # a submodule PyTorch does not import by itself
    results = []
    for L in (torch, tt):
        m = conv(L)
        for step in CASES[name]:
            step(L.nn.utils.prune, m, L)
        out = m(L.ones(2, 4, 5, dtype=L.float64)).detach().numpy()
        results.append([m.weight_mask.numpy(), m.weight.detach().numpy(), out, sorted(m.state_dict())])
    for ours, ref in zip(results[1], results[0]):
        if isinstance(ref, list):
            assert ours == ref
        else:
            np.testing.assert_allclose(ours, ref, rtol=1e-12)
