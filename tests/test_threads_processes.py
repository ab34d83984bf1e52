"""Threads and processes: the contexts are per thread (as PyTorch's), threads can train their own
models side by side, and a forked child can use the C backend's threads.

Every test here is bounded in time: threads are joined with a timeout, and everything that
forks runs in a subprocess with a timeout, so a deadlock fails the test instead of hanging CI.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import numpy as np
import pytest

import tinytorch as tt
from tinytorch import nn
from tinytorch.ndarray import is_available

ROOT = Path(__file__).resolve().parents[1]
JOIN_TIMEOUT = 120  # seconds: generous on a loaded machine, finite on a deadlock
needs_cpu = pytest.mark.skipif(not is_available("cpu"), reason="the C backend is not built")
needs_fork = pytest.mark.skipif(not hasattr(os, "fork"), reason="this platform has no fork()")


def _in_thread(fn):
    """Run ``fn`` in a new thread; return its result (re-raising its exception)."""
    out: dict = {}

    def run():
        try:
            out["value"] = fn()
        except BaseException as e:  # noqa: BLE001  (handed to the caller)
            out["error"] = e

    t = threading.Thread(target=run)
    t.start()
    t.join(JOIN_TIMEOUT)
    assert not t.is_alive(), "the thread did not finish"
    if "error" in out:
        raise out["error"]
    return out["value"]


# --- contexts are per thread ------------------------------------------------------------------------
def test_grad_mode_is_per_thread():
    with tt.no_grad():
        # a new thread starts with grad enabled, whatever its parent's mode (as PyTorch)
        assert _in_thread(tt.is_grad_enabled) is True
    # a thread that turns grad off leaves every other thread's mode alone
    _in_thread(lambda: tt.set_grad_enabled(False))
    assert tt.is_grad_enabled()


def test_grad_mode_per_thread_matches_pytorch():
    torch = pytest.importorskip("torch")

    def child_modes(lib):
        with lib.no_grad():
            return _in_thread(lib.is_grad_enabled), lib.is_grad_enabled()

    assert child_modes(tt) == child_modes(torch)


def test_default_device_is_per_thread():
    start = tt.get_default_device()
    other = "numpy" if start != "numpy" else "cpu"
    if not is_available(other):
        pytest.skip(f"needs a second device ({other})")

    def chooses_other():
        tt.set_default_device(other)
        return tt.zeros(1).device.type

    assert _in_thread(chooses_other) == other
    assert tt.get_default_device() == start  # the thread's choice stayed in the thread
    tt.set_default_device(other)
    try:
        # a new thread starts from the process default, not from its parent's choice
        assert _in_thread(tt.get_default_device) == os.environ.get("TINYTORCH_DEVICE", "cpu")
    finally:
        tt.set_default_device(start)


def _train(seed: int, steps: int, barrier: threading.Barrier | None, device: str) -> list[np.ndarray]:
    """Train a small MLP on its own data; evaluate under no_grad between steps (which must not
    switch off grad mode in the threads training next to it)."""
    tt.manual_seed(0)  # the initial weights are drawn before the threads start (see the caller)
    rng = np.random.default_rng(seed)
    x = tt.tensor(rng.standard_normal((32, 8)), dtype=tt.float32, device=device)
    y = tt.tensor(rng.standard_normal((32, 1)), dtype=tt.float32, device=device)
    model = nn.Sequential(nn.Linear(8, 16), nn.Tanh(), nn.Linear(16, 1)).to(device)
    with tt.no_grad():
        for i, p in enumerate(model.parameters()):
            p.copy_(tt.tensor(np.random.default_rng(100 + i).standard_normal(p.shape) * 0.3,
                              dtype=tt.float32, device=device))
    opt = tt.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    for _ in range(steps):
        if barrier is not None:
            barrier.wait(JOIN_TIMEOUT)  # every thread takes each step at the same time
        opt.zero_grad()
        loss = ((model(x) - y) ** 2).mean()
        loss.backward()
        assert all(p.grad is not None for p in model.parameters())
        opt.step()
        with tt.no_grad():
            model(x)
    return [p.detach().numpy() for p in model.parameters()]


def test_threads_train_their_own_models_in_parallel(device):
    """Four threads train four models in lock step; each ends with exactly the weights that the
    same training gives alone (a shared grad mode made backward fail or lose gradients)."""
    n, steps = 4, 25
    alone = [_train(seed, steps, None, device) for seed in range(n)]
    barrier = threading.Barrier(n)
    results: list = [None] * n
    errors: list = []

    def worker(i: int) -> None:
        try:
            results[i] = _train(i, steps, barrier, device)
        except BaseException as e:  # noqa: BLE001
            errors.append(e)
            barrier.abort()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(JOIN_TIMEOUT)
    assert not any(t.is_alive() for t in threads), "a training thread did not finish"
    assert not errors, errors
    for got, want in zip(results, alone):
        for g, w in zip(got, want):
            np.testing.assert_array_equal(g, w)


# --- processes: fork and the C backend's thread pool -------------------------------------------------
def _run_script(body: str, timeout: float = 120) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    try:
        return subprocess.run([sys.executable, "-c", textwrap.dedent(body)], capture_output=True, text=True,
                              timeout=timeout, env=env, cwd=ROOT)
    except subprocess.TimeoutExpired:
        pytest.fail(f"the script did not finish within {timeout} s (a deadlock?)")


_PARENT_USES_THREADS = """
    import os, sys, time
    import tinytorch as tt
    from tinytorch import backend_cpu as cpu
    cpu.set_num_threads(2)
    big = tt.ones(1 << 22, device="cpu")          # above the size at which kernels go parallel
    a = tt.ones(384, 384, device="cpu")
    assert big.sum().item() == 1 << 22 and (a @ a)[0, 0].item() == 384

    def child_work():
        cpu.set_num_threads(2)
        return big.sum().item() == 1 << 22 and (a @ a).sum().item() == 384 ** 3

    def wait(pid, seconds=60):
        deadline = time.time() + seconds
        while time.time() < deadline:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                return os.waitstatus_to_exitcode(status)
            time.sleep(0.02)
        os.kill(pid, 9)
        sys.exit("the child deadlocked")
"""


@needs_cpu
@needs_fork
def test_forked_child_can_use_threads_after_the_parent_did():
    """After a threaded kernel, fork; the child sets 2 threads and runs a large sum and matmul
    (GNU OpenMP's pool does not survive fork: without the library's fork handler this hangs)."""
    r = _run_script(_PARENT_USES_THREADS + """
    pid = os.fork()
    if pid == 0:
        os._exit(0 if child_work() else 3)
    assert wait(pid) == 0
    assert big.sum().item() == 1 << 22  # the parent's threads work again too
    print("ok")
    """)
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stderr


@needs_cpu
@needs_fork
def test_multiprocessing_fork_workers_can_use_threads():
    r = _run_script(_PARENT_USES_THREADS + """
    import multiprocessing as mp

    def job(_):
        return child_work()

    with mp.get_context("fork").Pool(2) as pool:
        assert pool.map_async(job, range(4)).get(60) == [True] * 4
    print("ok")
    """)
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stderr


@needs_cpu
def test_set_num_threads_refuses_what_c_int_cannot_hold():
    from tinytorch import backend_cpu as cpu

    before = cpu.get_num_threads()
    for bad in (2**32 + 3, 2**31, 0, -1):
        with pytest.raises(ValueError, match=str(bad)):
            cpu.set_num_threads(bad)
        assert cpu.get_num_threads() == before  # nothing was cut to 32 bits and applied
    with pytest.raises(TypeError):
        cpu.set_num_threads(2.0)
