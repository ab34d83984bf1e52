"""Kernel programs (``tinytorch.ndarray.program``) and the compiled calls that replay them.

A recording of backend calls, replayed on new arrays, must give what running the code again
gives -- on every device, with the memory plan sharing arenas, guards refusing other layouts,
host reads refusing replay, and checks (index bounds) repeated at every replay. Above it,
``tt.compile`` replays a module's forward *and* backward pass as two programs: the gradients,
the saved state of several forward passes, several outputs and gradient accumulation must
all be eager's.
"""

from __future__ import annotations

import copy
import warnings

import numpy as np
import pytest

import tinytorch as tt
import tinytorch.nn as nn
import tinytorch.nn.functional as F
from tinytorch.cflags import c_compiler
from tinytorch.ndarray import NDArray, array, float32
from tinytorch.ndarray.program import GuardFailed, KernelRecorder, _Made, plan_memory


def _f(x: NDArray, w: NDArray, b: NDArray) -> NDArray:
    """Matmul, broadcast add, relu, a reduction and a scalar op: several kernels and temporaries."""
    h = (x @ w + b).relu()
    return (h * h).sum(axis=1) * 0.5 + h.max(axis=1)


def _arrays(rng, device, n=5):
    return [array(rng.standard_normal(s).astype(np.float32), device=device) for s in ((n, 4), (4, 6), (6,))]


def test_a_recording_replays_on_new_arrays(device, rng):
    xs = _arrays(rng, device)
    with KernelRecorder() as rec:
        out = _f(*xs)
    program = rec.program([xs], [[out]])
    np.testing.assert_allclose(out.numpy(), _f(*xs).numpy(), rtol=1e-6)
    for _ in range(3):
        new = _arrays(rng, device)
        (got,), _ = program.run(0, new)
        np.testing.assert_allclose(got.numpy(), _f(*new).numpy(), rtol=1e-5, atol=1e-6)
    assert len(program.phases[0].calls) >= 5


def test_outputs_of_one_run_are_not_overwritten_by_the_next(device, rng):
    xs = _arrays(rng, device)
    with KernelRecorder() as rec:
        out = _f(*xs)
    program = rec.program([xs], [[out]])
    first_in, second_in = _arrays(rng, device), _arrays(rng, device)
    (first,), _ = program.run(0, first_in)
    want = _f(*first_in).numpy()
    program.run(0, second_in)
    np.testing.assert_allclose(first.numpy(), want, rtol=1e-5, atol=1e-6)


def test_scratch_values_share_arenas():
    """A chain of same-sized temporaries needs two arenas, not one per temporary."""
    x = array(np.ones((64, 64), np.float32), device="cpu")
    with KernelRecorder() as rec:
        y = x
        for _ in range(8):
            y = (y * 1.5).exp() - 1.0
        out = y.sum()
    program = rec.program([[x]], [[out]])
    ph = program.phases[0]
    assert len(ph.scratch) >= 15
    (got,), _ = program.run(0, [x])
    assert 2 <= len(program.arenas) <= 3
    np.testing.assert_allclose(got.numpy(), out.numpy(), rtol=1e-6)


def test_plan_memory_reuses_an_arena_only_after_its_last_use():
    made = {k: _Made("alloc", at, None, 10, float32) for k, at in ((0, 0), (1, 1), (2, 3), (3, 4))}
    last = {0: 2, 1: 5, 2: 4, 3: 6}
    plan = dict(plan_memory([0, 1, 2, 3], {k: m.at for k, m in made.items()}, last, made, []))
    assert plan[0] != plan[1]  # alive together
    assert plan[2] == plan[0]  # 0 is dead (last use 2) when 2 is born (3)
    assert plan[3] not in (plan[1], plan[2])  # 1 and 2 are still alive at 4


def test_a_view_laid_out_otherwise_fails_the_guard(device, rng):
    xs = _arrays(rng, device)
    with KernelRecorder() as rec:
        out = _f(*xs)
    program = rec.program([xs], [[out]])
    wt = array(rng.standard_normal((6, 4)).astype(np.float32), device=device).T  # (4, 6), transposed strides
    with pytest.raises(GuardFailed):
        program.run(0, [xs[0], wt, xs[2]])


def test_reading_values_on_the_host_is_not_replayable(device, rng):
    xs = _arrays(rng, device)
    with KernelRecorder() as rec:
        out = xs[0] * float(xs[1].sum().item())  # the scalar depends on the data
    with pytest.raises(ValueError, match="host"):
        rec.program([xs], [[out]])


def test_checks_are_replayed_not_counted(device):
    """Indexing checks its indices on the host: recorded as a check, run again at replay."""
    table = array(np.arange(12, dtype=np.float32).reshape(6, 2), device=device)
    idx = array(np.array([0, 5, 2]), device=device)
    with KernelRecorder() as rec:
        out = table[idx]
    assert rec.host_reads == 0
    program = rec.program([[table, idx]], [[out]])
    (got,), _ = program.run(0, [table, array(np.array([1, 1, -1]), device=device)])
    np.testing.assert_array_equal(got.numpy(), np.arange(12).reshape(6, 2)[[1, 1, -1]])
    with pytest.raises(IndexError, match="out of bounds"):
        program.run(0, [table, array(np.array([0, 6, 1]), device=device)])


def test_cpu_calls_are_lowered_to_their_c_calls(rng):
    """On the C backend a replay calls the C functions the interface calls made, not the Python
    around them; the results are the same."""
    xs = _arrays(rng, "cpu")
    with KernelRecorder() as rec:
        out = _f(*xs)
    program = rec.program([xs], [[out]])
    calls = program.phases[0].calls
    assert sum(lowered is not None for *_, lowered in calls) == len(calls)
    new = _arrays(rng, "cpu")
    (got,), _ = program.run(0, new)
    np.testing.assert_allclose(got.numpy(), _f(*new).numpy(), rtol=1e-5, atol=1e-6)


def test_a_lowered_call_that_c_refuses_raises_the_interface_error():
    """``gather`` checks its offsets in C: a replay whose offsets are out of range gets the
    backend's IndexError, as the interface call would raise it."""
    table = array(np.arange(6, dtype=np.float32), device="cpu")
    offsets = array(np.array([0, 5, 2]), device="cpu")
    out = NDArray.make((3,), float32, table.device)
    with KernelRecorder() as rec:
        table.device.backend.gather(table._buf, offsets._buf, out._buf)
    program = rec.program([[table, offsets, out]], [[out]])
    assert program.phases[0].calls[0][3] is not None
    (got,), _ = program.run(0, [table, array(np.array([1, 1, 4]), device="cpu"), out])
    np.testing.assert_array_equal(got.numpy(), [1, 1, 4])
    with pytest.raises(IndexError, match="out of range"):
        program.run(0, [table, array(np.array([1, 6, 4]), device="cpu"), out])


def test_a_call_with_pointers_outside_its_buffers_is_not_lowered():
    """``call_fused`` hands C an array of pointers: the recording replays it as the interface call."""
    if c_compiler() is None:
        pytest.skip("no C compiler")
    f = tt.compile(lambda x: (x * 2.0 + 1.0).tanh() * x)
    x = tt.randn(64)
    with tt.no_grad():
        for _ in range(4):
            got = f(x)
    program = next(iter(f.cache.values())).graph.program
    names = [fn.__name__ for fn, _, _, lowered in program.phases[0].calls if lowered is None]
    assert names == ["call_fused"]
    np.testing.assert_allclose(got.numpy(), ((x * 2.0 + 1.0).tanh() * x).numpy(), rtol=1e-6)


# --- tt.compile replaying forward and backward programs ------------------------------------------
needs_cc = pytest.mark.skipif(c_compiler() is None, reason="no C compiler on this machine")


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TINYTORCH_CACHE_DIR", str(tmp_path / "cache"))


def _pair(device):
    tt.manual_seed(0)
    eager = nn.Sequential(nn.Linear(6, 16), nn.GELU(), nn.LayerNorm(16), nn.Linear(16, 3)).to(device)
    model = copy.deepcopy(eager)
    return eager, model, tt.compile(model)


def _warm(compiled, device, n=3, requires_grad=False):
    for _ in range(n):  # two captures, then the recording
        compiled(tt.randn(4, 6, device=device, requires_grad=requires_grad)).sum().backward()


def _grads(model):
    return [p.grad.numpy().copy() for p in model.parameters()]


@needs_cc
def test_compiled_module_replays_its_backward_program(device):
    eager, model, compiled = _pair(device)
    _warm(compiled, device, requires_grad=True)
    model.zero_grad()
    x = tt.randn(4, 6, device=device, requires_grad=True)
    x2 = x.detach().clone().requires_grad_()
    out = compiled(x)
    assert out.grad_fn is not None and out.grad_fn.name() == "CompiledFunctionBackward"
    (out * out).sum().backward()
    (eager(x2) ** 2).sum().backward()
    np.testing.assert_allclose(out.detach().numpy(), eager(x2).detach().numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(x.grad.numpy(), x2.grad.numpy(), rtol=1e-4, atol=1e-6)
    for p, q in zip(model.parameters(), eager.parameters()):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-4, atol=1e-5)
    entry = next(iter(compiled._compiled.cache.values()))
    assert compiled._compiled.recordings == 1 and entry.graph.replays >= 1


@needs_cc
def test_two_forward_passes_then_one_backward_keep_their_own_saved_values(device):
    eager, model, compiled = _pair(device)
    _warm(compiled, device)
    model.zero_grad()
    xa, xb = tt.randn(4, 6, device=device), tt.randn(4, 6, device=device)
    (compiled(xa).sum() + (compiled(xb) ** 2).sum()).backward()
    (eager(xa).sum() + (eager(xb) ** 2).sum()).backward()
    for p, q in zip(model.parameters(), eager.parameters()):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-4, atol=1e-5)


@needs_cc
def test_gradients_accumulate_over_backward_passes(device):
    eager, model, compiled = _pair(device)
    _warm(compiled, device)
    model.zero_grad()
    for _ in range(3):
        x = tt.randn(4, 6, device=device)
        compiled(x).sum().backward()
        eager(x).sum().backward()
    for p, q in zip(model.parameters(), eager.parameters()):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-4, atol=1e-5)


@needs_cc
def test_replayed_gradients_that_share_a_buffer_are_stored_apart(device):
    """``a + b`` passes the output's gradient to both inputs: the backward program returns one
    buffer twice, and each .grad must still get its own memory."""
    f = tt.compile(lambda a, b: a + b)
    for i in range(5):  # two captures, the recording, two replays
        a = tt.randn(3, device=device, requires_grad=True)
        b = tt.randn(3, device=device, requires_grad=True)
        g = tt.randn(3, device=device)
        f(a, b).backward(g)
        with tt.no_grad():
            a.grad.mul_(10)
        np.testing.assert_allclose(b.grad.numpy(), g.numpy(), err_msg=f"call {i}")
        np.testing.assert_allclose(a.grad.numpy(), 10 * g.numpy(), rtol=1e-6, err_msg=f"call {i}")
    assert f.replays >= 2


class _TwoOut(nn.Module):
    def __init__(self):
        super().__init__()
        self.a, self.b = nn.Linear(5, 4), nn.Linear(4, 3)

    def forward(self, x):
        h = self.a(x).tanh()
        return h, self.b(h)


@needs_cc
@pytest.mark.parametrize("use", ["both", "first", "second"])
def test_several_outputs_each_carry_their_gradient(device, use):
    tt.manual_seed(0)
    eager = _TwoOut().to(device)
    model = copy.deepcopy(eager)
    compiled = tt.compile(model)
    for _ in range(4):
        model.zero_grad()
        eager.zero_grad()
        x = tt.randn(2, 5, device=device)
        for m in (compiled, eager):
            h, y = m(x)
            loss = {"both": h.sum() * 2 + (y ** 2).sum(), "first": h.sum(), "second": y.sum()}[use]
            loss.backward()
        for p, q in zip(model.parameters(), eager.parameters()):
            if q.grad is None:
                assert p.grad is None or not p.grad.numpy().any()
            else:
                np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-4, atol=1e-5)
    assert compiled._compiled.recordings == 1


@needs_cc
def test_double_backward_through_a_replay_raises(device):
    _, _, compiled = _pair(device)
    _warm(compiled, device, requires_grad=True)
    x = tt.randn(4, 6, device=device, requires_grad=True)
    (g,) = tt.autograd.grad(compiled(x).sum(), x, create_graph=False)
    assert g.shape == (4, 6)
    with pytest.raises(RuntimeError, match="not differentiable again"):
        tt.autograd.grad(compiled(x).sum(), x, create_graph=True)


@needs_cc
def test_retain_graph_replays_the_backward_twice_except_on_the_recorded_call(device):
    eager, model, compiled = _pair(device)
    for _ in range(2):
        compiled(tt.randn(4, 6, device=device)).sum().backward()
    recorded = compiled(tt.randn(4, 6, device=device)).sum()  # the call whose backward is recorded
    recorded.backward(retain_graph=True)
    with pytest.raises(RuntimeError, match="second"):
        recorded.backward()
    model.zero_grad()
    x = tt.randn(4, 6, device=device)
    loss = (compiled(x) ** 2).sum()
    loss.backward(retain_graph=True)
    loss.backward()
    (eager(x) ** 2).sum().backward()
    for p, q in zip(model.parameters(), eager.parameters()):
        np.testing.assert_allclose(p.grad.numpy(), 2 * q.grad.numpy(), rtol=1e-4, atol=1e-5)


@needs_cc
def test_a_bad_index_still_raises_at_replay(device):
    """The embedding's bounds check runs at every replay of the recorded program."""
    emb = nn.Embedding(10, 3).to(device)
    compiled = tt.compile(emb)
    for _ in range(4):
        compiled(tt.tensor([[1, 2, 9]], device=device)).sum().backward()
    with pytest.raises(IndexError, match="index 10 is out of bounds"):
        compiled(tt.tensor([[1, 10, 2]], device=device))
    assert compiled._compiled.recordings == 1


@needs_cc
def test_cross_entropy_replays_and_counts_ignored_targets(device):
    """The mean's count stays on the device, so a replay with ignored targets divides by the new count."""
    loss = tt.compile(nn.CrossEntropyLoss(ignore_index=-1))
    logits = tt.randn(6, 4, device=device, requires_grad=True)
    for t in ([0, 1, 2, 3, 0, 1], [1, 1, 2, 3, 0, 0], [2, 2, 2, 2, 2, 2]):
        loss(logits, tt.tensor(t, device=device)).backward()
    assert loss._compiled.recordings == 1
    for t in ([0, -1, -1, 3, 1, 2], [-1] * 6):
        logits.grad = None
        got = loss(logits, tt.tensor(t, device=device))
        got.backward()
        g = logits.grad.numpy()
        want = F.cross_entropy(logits.detach().requires_grad_(), tt.tensor(t, device=device), ignore_index=-1)
        np.testing.assert_allclose(got.item(), want.item(), rtol=1e-5, equal_nan=True)
        assert np.isfinite(g).all()
    assert loss._compiled.replays >= 3


@needs_cc
def test_compiled_training_matches_eager_and_records_once(device):
    tt.manual_seed(0)
    eager, model, compiled = _pair(device)
    opt_e, opt_c = tt.optim.Adam(eager.parameters(), lr=1e-2), tt.optim.Adam(model.parameters(), lr=1e-2)
    rng = np.random.default_rng(0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # nothing falls back to eager
        for _ in range(6):
            x = tt.tensor(rng.standard_normal((4, 6)), dtype=tt.float32, device=device)
            y = tt.tensor(rng.integers(0, 3, 4), device=device)
            for m, opt in ((eager, opt_e), (compiled, opt_c)):
                opt.zero_grad()
                F.cross_entropy(m(x), y).backward()
                opt.step()
    for p, q in zip(model.parameters(), eager.parameters()):
        np.testing.assert_allclose(p.detach().numpy(), q.detach().numpy(), rtol=1e-4, atol=1e-5)
    assert compiled._compiled.recordings == 1 and compiled._compiled.replays == 4


@needs_cc
def test_recordings_in_two_threads_each_see_their_own_calls():
    """Two threads compiling and training at once: each recording holds only its thread's kernels."""
    import threading

    results, errors = {}, []

    def train(name, width):
        try:
            tt.manual_seed(0)
            eager = nn.Sequential(nn.Linear(5, width), nn.Tanh(), nn.Linear(width, 2))
            model = copy.deepcopy(eager)
            compiled = tt.compile(model)
            rng = np.random.default_rng(width)
            for _ in range(6):
                x = tt.tensor(rng.standard_normal((3, 5)), dtype=tt.float32)
                model.zero_grad()
                eager.zero_grad()
                (compiled(x) ** 2).sum().backward()
                (eager(x) ** 2).sum().backward()
                for p, q in zip(model.parameters(), eager.parameters()):
                    np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-4, atol=1e-5)
            results[name] = compiled._compiled.recordings
        except Exception as e:  # reported below: an assertion inside a thread would be lost
            errors.append(e)

    threads = [threading.Thread(target=train, args=(n, w)) for n, w in (("a", 7), ("b", 11))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert results == {"a": 1, "b": 1}
