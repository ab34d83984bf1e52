"""The program that tests/test_distributed.py runs on two MPI ranks (``mpiexec -n 2``).

Each rank runs every check below and pickles what it saw -- the collectives' results, the
trained weights, the sampler's indices, the errors it caught -- to ``OUT/rank<r>.pkl``. The
test process then computes the expected values itself (numpy, a single-process tinytorch run)
and compares. The inputs are pure functions of the rank (:func:`values`), so the test can
rebuild every rank's input. Kept to one launch: starting MPI costs about a second.
"""

from __future__ import annotations

import pickle
import sys
from pathlib import Path

import numpy as np

import tinytorch as tt
import tinytorch.distributed as dist
import tinytorch.nn.functional as F
from tinytorch import nn
from tinytorch.data.distributed import DistributedSampler
from tinytorch.ndarray import unavailable_reason

DTYPES = ("float32", "float64", "int64", "bool")
OPS = ("SUM", "AVG", "PRODUCT", "MIN", "MAX")


def values(rank: int, dtype: str, shape: tuple[int, ...] = (2, 3), salt: int = 0) -> np.ndarray:
    """Rank ``rank``'s input of ``dtype``: small integers (exact in every dtype), bools for ``bool``."""
    v = np.random.default_rng(100 * rank + salt).integers(-3, 4, shape)
    return (v > 0) if dtype == "bool" else v.astype(dtype)


def mlp(seed: int) -> nn.Module:
    tt.manual_seed(seed)
    return nn.Sequential(nn.Linear(6, 12), nn.Tanh(), nn.Linear(12, 12), nn.Tanh(), nn.Linear(12, 3))


def batch(n: int = 16) -> tuple[tt.Tensor, tt.Tensor]:
    rng = np.random.default_rng(7)
    x = rng.standard_normal((n, 6)).astype(np.float32)
    return tt.tensor(x), tt.tensor((x[:, 0] > 0).astype(np.int64) + (x[:, 1] > 0.5))


def weights(model: nn.Module) -> list[np.ndarray]:
    return [p.detach().numpy() for p in model.parameters()]


def collectives(rank: int, world: int) -> dict:
    out: dict = {}
    devices = [d for d in ("numpy", "cpu", "cuda") if unavailable_reason(d) is None]
    out["devices"] = devices
    for device in devices:
        for dtype in DTYPES:
            for op in OPS:
                if op == "AVG" and dtype in ("int64", "bool"):
                    continue
                t = tt.tensor(values(rank, dtype), device=device)
                dist.all_reduce(t, op=getattr(dist.ReduceOp, op))
                out["all_reduce", device, dtype, op] = (t.numpy(), str(t.device), t.dtype.name)
            t = tt.tensor(values(rank, dtype), device=device)
            dist.broadcast(t, src=1)
            out["broadcast", device, dtype] = t.numpy()
            got = [tt.zeros(2, 3, dtype=getattr(tt, dtype), device=device) for _ in range(world)]
            dist.all_gather(got, tt.tensor(values(rank, dtype), device=device))
            out["all_gather", device, dtype] = [g.numpy() for g in got]
            whole = tt.zeros(world * 2, 3, dtype=getattr(tt, dtype), device=device)
            dist.all_gather_into_tensor(whole, tt.tensor(values(rank, dtype), device=device))
            out["all_gather_into_tensor", device, dtype] = whole.numpy()
            for op in ("SUM", "MAX") + (("AVG",) if dtype.startswith("float") else ()):
                res = tt.zeros(2, 3, dtype=getattr(tt, dtype), device=device)
                ins = [tt.tensor(values(rank, dtype, salt=i + 1), device=device) for i in range(world)]
                dist.reduce_scatter(res, ins, op=getattr(dist.ReduceOp, op))
                out["reduce_scatter", device, dtype, op] = res.numpy()
                res = tt.zeros(2, 3, dtype=getattr(tt, dtype), device=device)
                dist.reduce_scatter_tensor(res, tt.cat(ins), op=getattr(dist.ReduceOp, op))
                out["reduce_scatter_tensor", device, dtype, op] = res.numpy()
    # a non-contiguous view is reduced in place, the base sees it
    base = tt.tensor(values(rank, "float32", (3, 4)))
    view = base.t()
    dist.all_reduce(view)
    out["view"] = base.numpy()
    # async: nothing is written before wait()
    t = tt.tensor(values(rank, "float64"))
    work = dist.all_reduce(t, op=dist.ReduceOp.AVG, async_op=True)
    out["async_before"] = t.numpy()
    out["async_wait"] = work.wait(), work.is_completed()
    out["async_after"] = t.numpy()
    out["barrier"] = dist.barrier()
    # errors: raised on every rank, the job goes on
    errors = {}
    for name, call in {
        "list_length": lambda: dist.all_gather([tt.zeros(2)], tt.zeros(2)),
        "list_shape": lambda: dist.all_gather([tt.zeros(2), tt.zeros(3)], tt.zeros(2)),
        "avg_int": lambda: dist.all_reduce(tt.tensor([1, 2]), op=dist.ReduceOp.AVG),
        "not_tensor": lambda: dist.all_reduce([1.0, 2.0]),
        "bad_src": lambda: dist.broadcast(tt.zeros(2), src=world),
        "rank_shapes": lambda: dist.all_reduce(tt.zeros(2 + rank)),
        "twice": lambda: dist.init_process_group("mpi"),
    }.items():
        try:
            call()
            errors[name] = None
        except Exception as e:  # noqa: BLE001 -- the test checks the type and the message
            errors[name] = (type(e).__name__, str(e))
    out["errors"] = errors
    return out


def ddp_training(rank: int, world: int) -> dict:
    """An MLP trained 4 SGD steps on this rank's half of a 16-example batch, several buckets."""
    model = mlp(seed=10 + rank)  # different on each rank: DDP must broadcast rank 0's
    ddp = nn.parallel.DistributedDataParallel(model, bucket_cap_mb=600 / 2**20)
    out = {"initial": weights(model), "buckets": [b.members for b in ddp._buckets],
           "keys": list(ddp.state_dict()), "module_is": ddp.module is model}
    # when the gradient reaches the first layer's output, how many buckets have started?
    started: list[int] = []

    def watch(module, inputs, output):
        output.register_hook(lambda g: started.append(ddp._next))

    model[1].register_forward_hook(watch)
    opt = tt.optim.SGD(ddp.parameters(), lr=0.5, momentum=0.9)
    x, y = batch()
    share = len(x) // world
    for _ in range(4):
        opt.zero_grad()
        F.cross_entropy(ddp(x[rank * share:(rank + 1) * share]), y[rank * share:(rank + 1) * share]).backward()
        opt.step()
    out["final"] = weights(model)
    out["started_before_first_layer"] = started
    return out


def ddp_no_sync(rank: int, world: int) -> dict:
    """Two micro-batches per rank: the first backward inside no_sync, the second synchronised."""
    model = mlp(seed=3)
    ddp = nn.parallel.DistributedDataParallel(model)
    x, y = batch()
    micro = len(x) // (2 * world)
    spans = [slice((2 * rank + k) * micro, (2 * rank + k + 1) * micro) for k in range(2)]
    parts = [(x[s], y[s]) for s in spans]
    with ddp.no_sync():
        F.cross_entropy(ddp(parts[0][0]), parts[0][1]).backward()
    local = [p.grad.numpy() for p in model.parameters()]
    F.cross_entropy(ddp(parts[1][0]), parts[1][1]).backward()
    return {"local": local, "synced": [p.grad.numpy() for p in model.parameters()]}


class Branchy(nn.Module):
    """A model whose second branch is used only on rank 1."""

    def __init__(self):
        super().__init__()
        self.a, self.b = nn.Linear(4, 2), nn.Linear(4, 2)

    def forward(self, x, use_b):
        return self.a(x) + (self.b(x) if use_b else 0)


def ddp_unused(rank: int, world: int) -> dict:
    tt.manual_seed(5)
    model = Branchy()
    ddp = nn.parallel.DistributedDataParallel(model, find_unused_parameters=True)
    x = tt.tensor(values(rank, "float32", (3, 4)))
    ddp(x, use_b=rank == 1).sum().backward()
    return {"grads": {n: p.grad.numpy() for n, p in model.named_parameters()}}


def ddp_unused_error(rank: int, world: int) -> dict:
    """Without find_unused_parameters, a parameter that got no gradient fails the next forward."""
    tt.manual_seed(5)
    ddp = nn.parallel.DistributedDataParallel(Branchy())
    x = tt.tensor(values(0, "float32", (3, 4)))
    ddp(x, use_b=False).sum().backward()
    try:
        ddp(x, use_b=False)
    except RuntimeError as e:
        return {"error": str(e)}
    return {"error": None}


def sampler(rank: int, world: int) -> dict:
    s = DistributedSampler(range(23), shuffle=True, seed=4)  # rank and world from the process group
    epochs = {}
    for epoch in (0, 1):
        s.set_epoch(epoch)
        epochs[epoch] = list(s)
    return {"epochs": epochs, "len": len(s), "rank": s.rank, "num_replicas": s.num_replicas}


def main(out_dir: str) -> None:
    dist.init_process_group(backend="mpi")
    rank, world = dist.get_rank(), dist.get_world_size()
    results = {"rank": rank, "world": world, "initialized": dist.is_initialized()}
    for check in (collectives, ddp_training, ddp_no_sync, ddp_unused, ddp_unused_error, sampler):
        results[check.__name__] = check(rank, world)
    dist.destroy_process_group()
    results["after_destroy"] = dist.is_initialized()
    with open(Path(out_dir) / f"rank{rank}.pkl", "wb") as f:
        pickle.dump(results, f)


if __name__ == "__main__":
    main(sys.argv[1])
