"""tinytorch.distributed, DistributedDataParallel and DistributedSampler on two real MPI ranks.

One ``mpiexec -n 2`` run of ``tests/distributed_program.py`` (module fixture, bounded by a
timeout) does the work on both ranks and pickles what each saw; the tests here compute the
expected values themselves -- numpy reductions of both ranks' inputs, a single-process
tinytorch training run on the full batch, PyTorch's sampler -- and compare. Two more launches
check that a failing rank ends the job with its own error (plain ``mpiexec`` and the launcher).
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import time
from pathlib import Path
from unittest import mock

import numpy as np
import pytest

import tinytorch as tt
import tinytorch.distributed as dist
import tinytorch.nn.functional as F
from tinytorch.data.distributed import DistributedSampler
from tinytorch.distributed.run import run_job

pytest.importorskip("mpi4py", reason="tinytorch.distributed needs mpi4py (pip install 'tinytorch[distributed]')")

sys.path.insert(0, str(Path(__file__).parent))
import distributed_program as prog  # noqa: E402  (the program both ranks run; the inputs are its functions)

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT = 120  # seconds for one mpiexec job: a hang fails the test instead of stalling CI
WORLD = 2


def _mpiexec() -> str:
    from tinytorch.distributed.run import find_mpiexec

    try:
        return find_mpiexec()
    except FileNotFoundError as e:
        pytest.skip(str(e))


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT)] + [p for p in [env.get("PYTHONPATH")] if p])
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        env.pop(name, None)
    return env


def _run(args: list[str]) -> tuple[subprocess.CompletedProcess, float]:
    start = time.monotonic()
    try:
        proc = run_job(args, TIMEOUT, env=_env(), cwd=ROOT)
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"the MPI job did not finish within {TIMEOUT} s (a hang): {args}\n{e.stderr}")
    return proc, time.monotonic() - start


@pytest.fixture(scope="module")
def ranks(tmp_path_factory) -> list[dict]:
    out = tmp_path_factory.mktemp("mpi")
    proc, _ = _run([_mpiexec(), "-n", str(WORLD), sys.executable, str(ROOT / "tests/distributed_program.py"),
                    str(out)])
    assert proc.returncode == 0, f"the 2-rank program failed:\n{proc.stdout}\n{proc.stderr}"
    return [pickle.loads((out / f"rank{r}.pkl").read_bytes()) for r in range(WORLD)]


# --- the process group ------------------------------------------------------------------------------
def test_process_group_identity(ranks):
    assert [r["rank"] for r in ranks] == [0, 1]
    assert all(r["world"] == WORLD and r["initialized"] and r["after_destroy"] is False for r in ranks)


def _inputs(dtype, salt=0):
    return np.stack([prog.values(r, dtype, salt=salt) for r in range(WORLD)])


def _reduce(stack: np.ndarray, op: str, dtype: str) -> np.ndarray:
    if dtype == "bool":
        return {"SUM": stack.any(0), "MAX": stack.any(0), "PRODUCT": stack.all(0), "MIN": stack.all(0)}[op]
    result = {"SUM": stack.sum(0), "AVG": stack.sum(0) / WORLD, "PRODUCT": stack.prod(0), "MIN": stack.min(0),
              "MAX": stack.max(0)}[op]
    return result.astype(dtype)


def test_all_reduce_every_dtype_device_and_op(ranks):
    devices = ranks[0]["collectives"]["devices"]
    assert {"numpy", "cpu"} <= set(devices)
    count = 0
    for device in devices:
        for dtype in prog.DTYPES:
            for op in prog.OPS:
                if op == "AVG" and dtype in ("int64", "bool"):
                    continue
                want = _reduce(_inputs(dtype), op, dtype)
                for r in ranks:
                    got, got_device, got_dtype = r["collectives"]["all_reduce", device, dtype, op]
                    assert got_dtype == dtype and got_device == device
                    np.testing.assert_array_equal(got, want, err_msg=f"all_reduce {op} {dtype} on {device}")
                    count += 1
    assert count >= 2 * 2 * 14


def test_broadcast_and_all_gather(ranks):
    for device in ranks[0]["collectives"]["devices"]:
        for dtype in prog.DTYPES:
            stack = _inputs(dtype)
            for r in ranks:
                c = r["collectives"]
                np.testing.assert_array_equal(c["broadcast", device, dtype], stack[1])
                got = c["all_gather", device, dtype]
                assert len(got) == WORLD
                for i in range(WORLD):
                    np.testing.assert_array_equal(got[i], stack[i])
                np.testing.assert_array_equal(c["all_gather_into_tensor", device, dtype], np.concatenate(stack))


def test_reduce_scatter(ranks):
    for device in ranks[0]["collectives"]["devices"]:
        for dtype in prog.DTYPES:
            for op in ("SUM", "MAX") + (("AVG",) if dtype.startswith("float") else ()):
                for rank, r in enumerate(ranks):
                    # rank `rank` receives op over every rank's input_list[rank] (salt rank + 1)
                    want = _reduce(_inputs(dtype, salt=rank + 1), op, dtype)
                    np.testing.assert_array_equal(r["collectives"]["reduce_scatter", device, dtype, op], want)
                    np.testing.assert_array_equal(r["collectives"]["reduce_scatter_tensor", device, dtype, op], want)


def test_views_async_and_barrier(ranks):
    view_sum = np.stack([prog.values(r, "float32", (3, 4)) for r in range(WORLD)]).sum(0)
    avg = _inputs("float64").mean(0)
    for rank, r in enumerate(ranks):
        c = r["collectives"]
        np.testing.assert_array_equal(c["view"], view_sum)
        np.testing.assert_array_equal(c["async_before"], prog.values(rank, "float64"))
        assert c["async_wait"] == (True, True)
        np.testing.assert_allclose(c["async_after"], avg, rtol=1e-15)
        assert c["barrier"] is None


def test_errors_are_clear_and_raised_on_every_rank(ranks):
    for r in ranks:
        e = r["collectives"]["errors"]
        assert e["list_length"][0] == "ValueError" and "1 tensors" in e["list_length"][1] and "2 ranks" in \
            e["list_length"][1]
        assert e["list_shape"][0] == "ValueError" and "[3]" in e["list_shape"][1]
        assert e["avg_int"][0] == "RuntimeError" and "int64" in e["avg_int"][1]
        assert e["not_tensor"][0] == "TypeError"
        assert e["bad_src"][0] == "ValueError" and "src=2" in e["bad_src"][1]
        assert e["rank_shapes"][0] == "RuntimeError" and "(2,)" in e["rank_shapes"][1] and "(3,)" in \
            e["rank_shapes"][1]
        assert e["twice"] == ("ValueError", "trying to initialize the default process group twice!")


# --- DistributedDataParallel --------------------------------------------------------------------------
def test_ddp_broadcasts_and_matches_one_process_on_the_full_batch(ranks):
    runs = [r["ddp_training"] for r in ranks]
    reference = prog.mlp(seed=10)  # rank 0's initial weights
    for a, b in zip(runs[1]["initial"], prog.weights(reference)):
        np.testing.assert_array_equal(a, b)  # rank 1 started from rank 0's weights
    opt = tt.optim.SGD(reference.parameters(), lr=0.5, momentum=0.9)
    x, y = prog.batch()
    for _ in range(4):
        opt.zero_grad()
        F.cross_entropy(reference(x), y).backward()
        opt.step()
    for a, b, want in zip(runs[0]["final"], runs[1]["final"], prog.weights(reference)):
        np.testing.assert_array_equal(a, b)  # the replicas stay identical
        np.testing.assert_allclose(a, want, rtol=1e-5, atol=1e-6)
    assert not np.allclose(runs[0]["final"][0], runs[0]["initial"][0])  # it did train
    assert len(runs[0]["buckets"]) > 1 and sorted(sum(runs[0]["buckets"], [])) == list(range(6))
    assert runs[0]["buckets"][0][0] == 5  # the last parameter first: backward's order
    assert runs[0]["keys"][:2] == ["module.0.weight", "module.0.bias"] and runs[0]["module_is"]
    # overlap: the first bucket's all-reduce had started when backward reached the first layer
    assert all(r["started_before_first_layer"] == [1] * 4 for r in runs), runs[0]["started_before_first_layer"]


def test_ddp_no_sync_accumulates_locally_then_averages_the_sum(ranks):
    x, y = prog.batch()
    micro = len(x) // (2 * WORLD)
    model = prog.mlp(seed=3)
    pieces = [(x[i * micro:(i + 1) * micro], y[i * micro:(i + 1) * micro]) for i in range(2 * WORLD)]
    firsts = []
    for rank in range(WORLD):
        model.zero_grad()
        F.cross_entropy(model(pieces[2 * rank][0]), pieces[2 * rank][1]).backward()
        firsts.append([p.grad.numpy() for p in model.parameters()])
    model.zero_grad()
    for xs, ys in pieces:
        F.cross_entropy(model(xs), ys).backward()
    want = [p.grad.numpy() / WORLD for p in model.parameters()]
    for rank, r in enumerate(ranks):
        for got, first in zip(r["ddp_no_sync"]["local"], firsts[rank]):
            np.testing.assert_allclose(got, first, rtol=1e-6, atol=1e-7)  # no communication inside no_sync
        for got, w in zip(r["ddp_no_sync"]["synced"], want):
            np.testing.assert_allclose(got, w, rtol=1e-5, atol=1e-6)
    assert not np.allclose(ranks[0]["ddp_no_sync"]["local"][0], ranks[1]["ddp_no_sync"]["local"][0])


def test_ddp_find_unused_parameters(ranks):
    grads = []
    for rank in range(WORLD):
        tt.manual_seed(5)
        model = prog.Branchy()
        model(tt.tensor(prog.values(rank, "float32", (3, 4))), use_b=rank == 1).sum().backward()
        grads.append({n: (p.grad.numpy() if p.grad is not None else np.zeros(p.shape, np.float32))
                      for n, p in model.named_parameters()})
    for r in ranks:
        for name, got in r["ddp_unused"]["grads"].items():
            np.testing.assert_allclose(got, (grads[0][name] + grads[1][name]) / WORLD, rtol=1e-6)


def test_ddp_unused_parameter_without_find_unused_fails_the_next_forward(ranks):
    for r in ranks:
        error = r["ddp_unused_error"]["error"]
        assert error is not None and "Expected to have finished reduction in the prior iteration" in error
        assert "find_unused_parameters=True" in error and "b.weight" in error and "b.bias" in error


def test_ddp_needs_a_process_group():
    with pytest.raises(ValueError, match="init_process_group"):
        tt.nn.parallel.DistributedDataParallel(tt.nn.Linear(2, 2))


# --- DistributedSampler -------------------------------------------------------------------------------
def test_sampler_from_the_process_group_partitions_and_reshuffles(ranks):
    runs = [r["sampler"] for r in ranks]
    assert [s["rank"] for s in runs] == [0, 1] and all(s["num_replicas"] == WORLD and s["len"] == 12 for s in runs)
    for epoch in (0, 1):
        shares = [s["epochs"][epoch] for s in runs]
        assert all(len(sh) == 12 for sh in shares)
        assert set(shares[0]) | set(shares[1]) == set(range(23))
        assert len(set(shares[0]) & set(shares[1])) <= 1  # 23 = 2 * 12 - 1: one index is repeated as padding
        assert shares == [list(DistributedSampler(range(23), WORLD, r, seed=4)) if epoch == 0 else
                          _epoch(DistributedSampler(range(23), WORLD, r, seed=4), 1) for r in range(WORLD)]
    assert runs[0]["epochs"][0] != runs[0]["epochs"][1]


def _epoch(sampler, epoch):
    sampler.set_epoch(epoch)
    return list(sampler)


@pytest.mark.parametrize("shuffle", [False, True])
def test_sampler_is_pytorchs_partition(shuffle):
    torch = pytest.importorskip("torch")
    from torch.utils.data.distributed import DistributedSampler as TorchSampler

    for n in (1, 2, 5, 7, 12, 13):
        for replicas in (1, 2, 3, 5):
            for drop_last in (False, True):
                if drop_last and n < replicas:
                    continue
                for rank in range(replicas):
                    for epoch in (0, 3):
                        ours = DistributedSampler(range(n), replicas, rank, shuffle=shuffle, seed=9,
                                                  drop_last=drop_last)
                        theirs = TorchSampler(range(n), replicas, rank, shuffle=shuffle, seed=9, drop_last=drop_last)
                        ours.set_epoch(epoch)
                        theirs.set_epoch(epoch)
                        # PyTorch's sampler, fed tinytorch's permutation for the same seed
                        perm = tt.randperm(n, generator=tt.Generator().manual_seed(9 + epoch)).tolist()
                        with mock.patch.object(torch, "randperm", lambda *a, perm=perm, **k: torch.tensor(perm)):
                            want = list(theirs)
                        assert list(ours) == want, (n, replicas, rank, drop_last, epoch)
                        assert len(ours) == len(theirs)


def test_sampler_checks_rank_and_needs_a_group_for_defaults():
    with pytest.raises(ValueError, match="Invalid rank 2"):
        DistributedSampler(range(4), num_replicas=2, rank=2)
    with pytest.raises(ValueError, match="has not been initialized"):
        DistributedSampler(range(4))


# --- no process group, no mpi4py -----------------------------------------------------------------------
def test_calls_before_init_raise_pytorchs_error():
    assert not dist.is_initialized() and dist.is_available()
    for call in (dist.get_rank, dist.get_world_size, dist.barrier, lambda: dist.all_reduce(tt.zeros(2))):
        with pytest.raises(ValueError, match="Default process group has not been initialized"):
            call()
    with pytest.raises(ValueError, match="MPI only.*'nccl'"):
        dist.init_process_group("nccl")


def test_import_works_without_mpi4py_and_first_use_names_the_extra():
    code = ("import sys; sys.modules['mpi4py'] = None\n"
            "import tinytorch.distributed as d\n"
            "assert not d.is_initialized()\n"
            "try:\n    d.init_process_group()\nexcept ImportError as e:\n    print('ImportError:', e)\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=TIMEOUT, env=_env())
    assert proc.returncode == 0, proc.stderr
    assert "ImportError:" in proc.stdout and "tinytorch[distributed]" in proc.stdout


# --- a failing rank ends the job with its error ----------------------------------------------------------
FAILING = """
import tinytorch as tt, tinytorch.distributed as dist
dist.init_process_group()
if dist.get_rank() == 1:
    raise ZeroDivisionError("rank one fails on purpose")
dist.all_reduce(tt.ones(3))  # rank 0 would wait here forever without the guard
"""


@pytest.mark.parametrize("launcher", ["mpiexec", "tinytorch.distributed.run"])
def test_a_failing_rank_aborts_the_job_with_its_error(tmp_path, launcher):
    script = tmp_path / "fail.py"
    script.write_text(FAILING)
    if launcher == "mpiexec":
        args = [_mpiexec(), "-n", "2", sys.executable, str(script)]
    else:
        args = [sys.executable, "-m", "tinytorch.distributed.run", "--nproc-per-node", "2", str(script)]
    proc, seconds = _run(args)
    assert proc.returncode != 0
    assert "ZeroDivisionError: rank one fails on purpose" in proc.stderr and "[rank 1]" in proc.stderr
    assert seconds < 60


def test_launcher_sets_torchruns_variables(tmp_path):
    script = tmp_path / "env.py"
    # one write per rank: the two ranks share the pipe, and separate writes could interleave
    script.write_text("import os, sys\nsys.stdout.write(f\"R {os.environ['RANK']} {os.environ['LOCAL_RANK']} "
                      "{os.environ['WORLD_SIZE']} {sys.argv[1:]}\\n\")\n")
    proc, _ = _run([sys.executable, "-m", "tinytorch.distributed.run", "--nproc-per-node", "2", str(script), "--x",
                    "1"])
    assert proc.returncode == 0, proc.stderr
    lines = sorted(line for line in proc.stdout.splitlines() if line.startswith("R "))
    assert lines == ["R 0 0 2 ['--x', '1']", "R 1 1 2 ['--x', '1']"]


def test_launcher_errors():
    from tinytorch.distributed.run import find_mpiexec, main

    with pytest.raises(FileNotFoundError, match="not an executable"):
        find_mpiexec("/nonexistent/mpiexec")
    with pytest.raises(SystemExit, match="one machine"):
        main(["--nnodes", "2", __file__])
    with pytest.raises(SystemExit, match="no such script"):
        main(["--nproc-per-node", "2", "/nonexistent/script.py"])


def test_example_matches_one_process_on_the_same_global_batches():
    """examples/train_mnist_ddp.py --check, small: 2 ranks vs one process, equal weights"""
    proc, _ = _run([sys.executable, str(ROOT / "examples/train_mnist_ddp.py"), "--check", "--train-size", "128",
                    "--batch-size", "16"])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "weights match" in proc.stdout and "speed-up" in proc.stdout


def test_run_job_ends_every_rank_of_a_job_past_its_time(tmp_path):
    """a job whose ranks wait for each other forever: run_job kills mpiexec and the ranks, then raises"""
    script = tmp_path / "hang_forever.py"
    script.write_text("import time\nfrom mpi4py import MPI\n"
                      "MPI.COMM_WORLD.recv(source=1) if MPI.COMM_WORLD.Get_rank() == 0 else time.sleep(600)\n")
    with pytest.raises(subprocess.TimeoutExpired):
        run_job([_mpiexec(), "-n", "2", sys.executable, str(script)], timeout=4, env=_env())
    time.sleep(0.5)
    left = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    assert str(script) not in left, "ranks of the killed job are still running"


def test_ddp_rejects_unknown_keywords():
    with pytest.raises(TypeError, match="unexpected keyword.*'bucket_size'"):
        tt.nn.parallel.DistributedDataParallel(tt.nn.Linear(2, 2), bucket_size=3)


def test_environment_that_disagrees_with_mpi_is_refused():
    """RANK / WORLD_SIZE set (as a launcher would) but the process is a world of one under MPI"""
    code = ("import tinytorch.distributed as d\n"
            "try:\n    d.init_process_group('mpi')\nexcept ValueError as e:\n    print('ValueError:', e)\n"
            "else:\n    print('initialized', d.get_rank(), d.get_world_size())\n")
    proc = run_job([sys.executable, "-c", code], TIMEOUT, env=dict(_env(), RANK="1", WORLD_SIZE="2"))
    assert proc.returncode == 0, proc.stderr
    assert "ValueError: init_process_group: RANK=1 but MPI started this process with rank 0" in proc.stdout
    proc = run_job([sys.executable, "-c", code], TIMEOUT, env=dict(_env(), RANK="0", WORLD_SIZE="1"))
    assert "initialized 0 1" in proc.stdout, proc.stdout + proc.stderr
