"""``vmap`` over every row of the op table (``OPS`` in ``test_tensor_ops.py``): the batched
call must equal a Python loop over the examples followed by ``stack``, for the forward and,
through ``vmap(grad(...))``, for per-example gradients (which runs every op's backward under
vmap too). ``test_fallback_ops_are_listed`` prints which ops had no batching rule and looped.
"""

from __future__ import annotations

import types
import warnings
from typing import Any

import numpy as np
import pytest
from test_tensor_ops import OPS, Lib, as_list, draw

import tinytorch as tt
from tinytorch.func import fallback_ops, grad, reset_fallback_ops, vmap

B = 3  # examples per batch
DEVICE = "numpy"
L = Lib(tt, DEVICE)

_SHAPE = "its output shape depends on the values: vmap refuses it (RuntimeError), as PyTorch's vmap does"

#: rows whose function vmap gets wrong or cannot run, with the reason: they are expected to
#: fail (strictly: a fix makes the test say so) and README's Limits lists them
UNSUPPORTED: dict[str, str] = {
    **{name: _SHAPE for name in ("nonzero", "argwhere", "where_one_argument", "index_value_mask")},
}


def _case(op: Any, grad_test: bool = False) -> Any:
    marks = list(op.marks)
    if op.name in UNSUPPORTED:
        marks.append(pytest.mark.xfail(reason=UNSUPPORTED[op.name], strict=not grad_test))
    return pytest.param(op, id=op.name, marks=marks)


CASES = [_case(op) for op in OPS]
GRAD_CASES = [_case(op, grad_test=True) for op in OPS if op.grad]


def batch_of(op: Any, seed: int = 0) -> list[np.ndarray]:
    """``B`` examples of each input of ``op``, stacked along a new dimension 0."""
    rng = np.random.default_rng(seed)
    return [np.stack([draw(s, op.domain, rng) for _ in range(B)]) for s in op.shapes]


def tensors(arrays: list[np.ndarray], requires_grad: bool = False) -> list[tt.Tensor]:
    return [tt.tensor(a, dtype=tt.float64, device=DEVICE, requires_grad=requires_grad) for a in arrays]


def looped(fn: Any, xs: list[tt.Tensor], in_dims: tuple) -> list[np.ndarray]:
    """``fn`` per example (inputs sliced where their in_dim is not None), outputs stacked."""
    per = []
    for b in range(B):
        args = [x if d is None else x.select(d, b) for x, d in zip(xs, in_dims)]
        per.append([o.detach().numpy() for o in as_list(fn(*args))])
    return [np.stack([p[i] for p in per]) for i in range(len(per[0]))]


def check(op: Any, fn: Any, xs: list[tt.Tensor], in_dims: tuple) -> None:
    want = looped(fn, xs, in_dims)
    got = as_list(vmap(fn, in_dims=in_dims)(*xs))
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert tuple(g.shape) == w.shape, op.name
        np.testing.assert_allclose(g.detach().numpy().astype(np.float64), w.astype(np.float64), rtol=1e-9,
                                   atol=1e-10, equal_nan=True, err_msg=op.name)


@pytest.mark.parametrize("op", CASES)
def test_vmap_matches_a_loop(op: Any) -> None:
    xs = tensors(batch_of(op))
    check(op, lambda *a: op.fn(L, *a), xs, (0,) * len(xs))


@pytest.mark.parametrize("op", CASES)
def test_vmap_with_unbatched_and_moved_inputs(op: Any) -> None:
    """The first input mapped over its last dimension, the others the same for every example."""
    xs = tensors(batch_of(op, seed=1))
    moved = [tt.movedim(xs[0], 0, -1)] + [x[0] for x in xs[1:]]
    check(op, lambda *a: op.fn(L, *a), moved, (-1,) + (None,) * (len(xs) - 1))


@pytest.mark.parametrize("op", GRAD_CASES)
def test_vmap_of_grad_matches_a_loop(op: Any) -> None:
    """Per-example gradients: every op's backward runs under vmap as well."""
    xs = tensors(batch_of(op, seed=2))
    probe = as_list(op.fn(L, *[x[0] for x in xs]))
    rng = np.random.default_rng(3)
    ws = [tt.tensor(rng.uniform(-1, 1, tuple(o.shape)), dtype=tt.float64, device=DEVICE) for o in probe]
    argnums = tuple(range(len(xs)))

    def loss(*a: Any) -> tt.Tensor:
        return sum((o * w).sum() for o, w in zip(as_list(op.fn(L, *a)), ws) if o.dtype.is_floating_point)

    want = []
    for b in range(B):
        leaves = [x[b].detach().requires_grad_() for x in xs]
        out = loss(*leaves)
        gs = tt.autograd.grad(out, leaves, allow_unused=True) if out.requires_grad else [None] * len(xs)
        want.append([np.zeros(tuple(x.shape)) if g is None else g.numpy() for g, x in zip(gs, leaves)])
    got = vmap(grad(loss, argnums=argnums))(*xs)
    for i, g in enumerate(got):
        np.testing.assert_allclose(g.numpy(), np.stack([w[i] for w in want]), rtol=1e-8, atol=1e-10,
                                   equal_nan=True, err_msg=f"{op.name}: gradient {i}")


#: the ops (Function classes) that run in vmap's loop over the batch somewhere in the table:
#: no rule (MedianAll, the scatters: scatter, scatter_reduce, index_copy), or a case their rule
#: sends to the loop (Index and its adjoint with a boolean mask: masked_select, masked_scatter,
#: x[mask])
EXPECTED_FALLBACK = {"Index", "IndexBackward", "MedianAll", "ScatterPut", "ScatterReduce"}


def test_fallback_ops_are_listed(capsys: Any) -> None:
    """Run every row under vmap and print which ops looped over the batch (no batching rule);
    the list is pinned, so a new loop (or a new rule) shows up here."""
    reset_fallback_ops()
    with _quiet():
        for op in OPS:
            if op.name in UNSUPPORTED:
                continue
            xs = tensors(batch_of(op))
            try:
                vmap(lambda *a, op=op: op.fn(L, *a))(*xs)
            except Exception:  # noqa: BLE001  (the parametrized tests report failures)
                pass
    looped_ops = fallback_ops()
    with capsys.disabled():
        print(f"\nops that ran in vmap's loop fallback: {sorted(looped_ops)}")
    assert set(looped_ops) == EXPECTED_FALLBACK
    assert all(c > 0 for c in looped_ops.values())


class _quiet:
    """Silence the fallback's warnings while the table runs."""

    def __enter__(self) -> None:
        self._w = warnings.catch_warnings()
        self._w.__enter__()
        warnings.simplefilter("ignore")

    def __exit__(self, *exc: Any) -> None:
        self._w.__exit__(*exc)


@pytest.mark.parametrize("name", sorted(n for n, why in UNSUPPORTED.items() if why == _SHAPE))
def test_dynamic_shape_ops_raise_under_vmap(name: str) -> None:
    """nonzero, argwhere, where(cond) and x[mask] with a mask that differs between examples
    raise a clear error under vmap (as PyTorch's) instead of giving a wrong batch."""
    op = next(o for o in OPS if o.name == name)
    xs = tensors(batch_of(op))
    with pytest.raises(RuntimeError, match="vmap: We do not support batching operators that can"):
        vmap(lambda *a: op.fn(L, *a))(*xs)


def test_a_mask_shared_by_every_example_still_indexes() -> None:
    """An unbatched mask keeps the same elements of each example: allowed, as in PyTorch."""
    x = tt.tensor(np.arange(12.0).reshape(3, 4), dtype=tt.float64, device=DEVICE)
    mask = tt.tensor([True, False, True, True], device=DEVICE)
    with _quiet():
        for fn in (lambda a: a[mask], lambda a: tt.masked_select(a, mask)):
            np.testing.assert_array_equal(vmap(fn)(x).numpy(), x.numpy()[:, [0, 2, 3]])


def _named(name: str) -> Any:
    """A stand-in for a table row in :func:`check`'s messages."""
    return types.SimpleNamespace(name=name)


@pytest.mark.parametrize("in_dim", [0, 2])
def test_pooling_with_indices_matches_a_loop(in_dim: int) -> None:
    """max pooling's values and indices (the first maximum of each window), adaptive max
    pooling and unpooling, batched over a dimension of the input: each equals a loop."""
    F = tt.nn.functional
    rng = np.random.default_rng(5)
    x = tt.tensor(rng.integers(0, 3, (3, 2, 3, 6)).astype(np.float64), device=DEVICE)  # ties in windows
    fns = [lambda a: F.max_pool2d(a, 2), lambda a: F.max_pool2d(a, 2, return_indices=True)[1],
           lambda a: F.max_pool1d(a[0], 3, 2, return_indices=True)[1],
           lambda a: F.adaptive_max_pool2d(a, (3, 2), return_indices=True)[1],
           lambda a: F.max_unpool2d(*F.max_pool2d(a, 2, return_indices=True), 2)]
    for fn in fns:
        check(_named("pooling"), fn, [x], (in_dim,))


def test_gather_with_batched_indices() -> None:
    """gather with an index that differs between examples (as sort's values are read): each
    example gathers with its own index; the unbatched-input case too."""
    rng = np.random.default_rng(6)
    x = tt.tensor(rng.normal(size=(3, 4, 5)), device=DEVICE)
    idx = tt.tensor(rng.integers(0, 4, (3, 2, 5)), dtype=tt.int64, device=DEVICE)
    check(_named("gather"), lambda a, i: tt.gather(a, 0, i), [x, idx], (0, 0))
    check(_named("gather"), lambda a, i: tt.gather(a, 0, i), [x[0], idx], (None, 0))
    check(_named("gather"), lambda a, i: tt.gather(a, 1, i), [x, tt.movedim(idx, 0, 2)[:, :4]], (0, 2))


def test_isclose_matches_a_loop() -> None:
    """isclose runs through an op (Untracked), so each example is compared with its own values."""
    rng = np.random.default_rng(7)
    x = tt.tensor(rng.normal(size=(3, 4)), device=DEVICE)
    y = tt.tensor(np.where(rng.uniform(size=(3, 4)) < 0.5, x.numpy(), x.numpy() + 1e-3), device=DEVICE)
    check(_named("isclose"), lambda a, b: tt.isclose(a, b, rtol=1e-6), [x, y], (0, 0))
    check(_named("isclose"), lambda a, b: tt.isclose(a, b, rtol=1e-6), [tt.movedim(x, 0, 1), y[0]], (1, None))
    check(_named("isclose"), lambda a: tt.isclose(a, a[0]), [x], (0,))
