"""Lab 17 grader: gradient averaging with all_reduce, and one rank's share of an epoch.

The learner's functions run on two MPI ranks (``tinytorch.labs.ranks``: the function's source in
a script started by ``mpiexec -n 2``); the checks that run on the ranks are in ranks_ch17.py and
the references are computed here, in one process, with the library.
"""

import importlib.util
from pathlib import Path

import pytest

import tinytorch as tt
import tinytorch.nn.functional as F
from tinytorch import optim
from tinytorch.data.distributed import DistributedSampler
from tinytorch.labs import LabFailure, check, check_close, check_equal
from tinytorch.labs.ranks import learner_source, rank_values, run_ranks

TITLE = "past one machine"
EXERCISES = {"17.1": "average_gradients", "17.2": "shard_indices"}
#: the library's own version of each exercise: it raises if the notebook's code calls it while graded
REFERENCES = {
    "17.1": ["tinytorch.nn.parallel.distributed:DistributedDataParallel"],
    "17.2": ["tinytorch.data.distributed:DistributedSampler"],
}
CHECKS = Path(__file__).with_name("ranks_ch17.py")
WORLD = 2


def _checks_module():
    spec = importlib.util.spec_from_file_location("ranks_ch17_reference", CHECKS)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


ranks_ch17 = _checks_module()


def on_ranks(lab, exercise, check_name, what):
    """Run the learner's function for ``exercise`` on two ranks; each rank's result of ``check_name``."""
    name = EXERCISES[exercise]
    lab.defined(name)  # the notebook's own function (provenance), or a clear failure
    pytest.importorskip("mpi4py", reason="grading lab 17 needs MPI: pip install 'tinytorch[distributed]'")
    try:
        source = learner_source(lab.notebook.namespace, [name], lab.module_name)
    except (OSError, TypeError) as e:
        raise LabFailure(f"the grader could not read the source of `{name}` ({e})", kind="error") from None
    results = run_ranks(source, CHECKS, [check_name], REFERENCES.get(exercise, []), nproc=WORLD)
    return rank_values(results, check_name, what)


def full_batch_gradients(model):
    x, y = ranks_ch17.data()
    model.zero_grad()
    F.cross_entropy(model(x), y).backward()
    return [p.grad for p in model.parameters()]


# --- 17.1 average_gradients -------------------------------------------------------------------------
@pytest.mark.points(4, exercise="17.1", hint="all_reduce each p.grad (a sum over ranks), then divide by the world size")
def test_average_is_the_full_batch_gradient(lab):
    """on 2 ranks, each with half a batch: afterwards both ranks hold the gradient of the whole batch"""
    results = on_ranks(lab, "17.1", "averaged_gradients", "average_gradients on 2 ranks")
    want = full_batch_gradients(ranks_ch17.mlp(1))
    check(any(not (a == b).all() for a, b in zip(results[0]["local"], results[1]["local"])),
          "the two ranks' local gradients should differ (the grader's own check)")
    for rank, r in enumerate(results):
        for i, (got, w) in enumerate(zip(r["averaged"], want)):
            check_close(tt.tensor(got), w, f"the averaged gradient of parameter {i} on rank {rank} (the whole "
                        f"batch's gradient)", rtol=1e-5, atol=1e-6)


@pytest.mark.points(3, exercise="17.1", hint="call it between loss.backward() and optimizer.step()")
def test_training_matches_one_process(lab):
    """3 SGD steps (momentum) on 2 ranks with average_gradients: each rank's weights equal one process's"""
    results = on_ranks(lab, "17.1", "training", "training with average_gradients on 2 ranks")
    model = ranks_ch17.mlp(2)
    opt = optim.SGD(model.parameters(), lr=0.3, momentum=0.9)
    for _ in range(3):
        opt.zero_grad()
        full_batch_gradients(model)
        opt.step()
    for rank, weights in enumerate(results):
        for i, (got, p) in enumerate(zip(weights, model.parameters())):
            check_close(tt.tensor(got), p.detach(), f"parameter {i} on rank {rank} after 3 steps", rtol=1e-5,
                        atol=1e-6)


@pytest.mark.points(1, exercise="17.1", hint="skip parameters whose .grad is None")
def test_parameters_without_gradient(lab):
    """a frozen bias and an unused layer keep grad None; the used weight is averaged"""
    results = on_ranks(lab, "17.1", "partly_trained", "average_gradients with a frozen and an unused parameter")
    for r in results:
        for name in ("used.bias", "unused.weight", "unused.bias"):
            check(r[name] is None, f"{name} has no gradient and must keep .grad None")
    tt.manual_seed(3)
    used = tt.nn.Linear(5, 3)
    x, _ = ranks_ch17.data()
    used(x).pow(2).mean().backward()
    for rank, r in enumerate(results):
        check_close(tt.tensor(r["used.weight"]), used.weight.grad, f"the averaged gradient of used.weight on rank "
                    f"{rank}", rtol=1e-5, atol=1e-6)


# --- 17.2 shard_indices ---------------------------------------------------------------------------------
def reference(n, replicas, rank, epoch, seed, shuffle, drop_last):
    sampler = DistributedSampler(range(n), replicas, rank, shuffle=shuffle, seed=seed, drop_last=drop_last)
    sampler.set_epoch(epoch)
    return list(sampler)


CASES = [(n, replicas) for n in (1, 4, 7, 10, 12) for replicas in (1, 2, 3, 5) if n >= 1]


@pytest.mark.points(3, exercise="17.2", hint="pad by repeating the start of the order; rank r takes order[r::replicas]")
def test_shards_without_shuffling(lab):
    """shuffle=False, with and without drop_last, many sizes: each shard of rank equals PyTorch's partition"""
    shard_indices = lab.defined("shard_indices")
    for n, replicas in CASES:
        for drop_last in (False, True):
            if drop_last and n < replicas:
                continue
            for rank in range(replicas):
                got = shard_indices(n, replicas, rank, epoch=0, seed=0, shuffle=False, drop_last=drop_last)
                check_equal([int(i) for i in got], reference(n, replicas, rank, 0, 0, False, drop_last),
                            f"the shard of rank {rank} of {replicas} for n={n}, drop_last={drop_last}")


@pytest.mark.points(3, exercise="17.2", hint="the order is tt.randperm(n, generator=tt.Generator().manual_seed(seed + "
                                              "epoch))")
def test_shards_shuffled_per_epoch(lab):
    """shuffle=True: the shard of rank in epochs 0 to 2 and for two seeds equals the sampler's"""
    shard_indices = lab.defined("shard_indices")
    for n, replicas in ((10, 3), (12, 2), (7, 5)):
        for seed in (0, 42):
            for epoch in (0, 1, 2):
                for drop_last in (False, True):
                    for rank in range(replicas):
                        got = shard_indices(n, replicas, rank, epoch=epoch, seed=seed, shuffle=True,
                                            drop_last=drop_last)
                        check_equal([int(i) for i in got], reference(n, replicas, rank, epoch, seed, True, drop_last),
                                    f"the shard of rank {rank} of {replicas} for n={n}, seed={seed}, epoch={epoch}, "
                                    f"drop_last={drop_last}")


@pytest.mark.points(2, exercise="17.2", hint="every rank must compute the same order: seed it with seed + epoch")
def test_shards_on_two_ranks(lab):
    """on 2 real ranks: the shards of one epoch cover the dataset without overlap (but the padding), and the
    order changes with the epoch"""
    results = on_ranks(lab, "17.2", "shards", "shard_indices on 2 ranks")
    for epoch in (0, 1):
        a, b = (list(map(int, r[epoch])) for r in results)
        check_equal((len(a), len(b)), (12, 12), f"the sizes of the two shards of 23 examples in epoch {epoch}")
        check_equal(sorted(set(a) | set(b)), list(range(23)), f"the union of the shards in epoch {epoch}")
        check(len(set(a) & set(b)) <= 1, f"the shards of epoch {epoch} overlap in {sorted(set(a) & set(b))}: only "
                                         f"the one padding index may repeat")
    check(results[0][0] != results[0][1], "rank 0's shard is the same in epochs 0 and 1: reshuffle per epoch")
