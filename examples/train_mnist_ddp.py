"""The MNIST CNN of ``mnist_cnn.py``, trained data-parallel on several processes.

Each process (rank) holds a full replica of the network; a ``DistributedSampler`` gives each
rank its own share of every epoch, and ``DistributedDataParallel`` averages the gradients over
the ranks during backward, so every rank takes the same optimizer step. Everything below the
imports is PyTorch's API; the engine under it is MPI.

Usage::

    python -m tinytorch.distributed.run --nproc-per-node 2 examples/train_mnist_ddp.py
    mpiexec -n 2 python examples/train_mnist_ddp.py           # the same, started by MPI itself
    python examples/train_mnist_ddp.py --check                # the 2-rank run, then one process on the
                                                              # same global batches: equal weights? speed-up?

``--check`` is what the book quotes: it starts the 2-rank job through the launcher, trains one
process on the very same global batches (each rank's batch side by side) with one thread and
with the default number of threads, compares the final weights, and prints the wall times.
Dropout is switched off (``p = 0``): each rank draws its own dropout masks, which one process
drawing for the whole batch cannot reproduce, and the comparison is meant to be exact up to float rounding.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import tinytorch as torch
import tinytorch.distributed as dist
from tinytorch.data.distributed import DistributedSampler
from tinytorch.nn.parallel import DistributedDataParallel as DDP

sys.path.insert(0, str(Path(__file__).parent))
from mnist_cnn import Net, mnist_subset  # noqa: E402  (the model and the offline data)

F = torch.nn.functional
DataLoader = torch.utils.data.DataLoader
Subset = torch.utils.data.Subset


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Data-parallel MNIST CNN over MPI")
    p.add_argument("--batch-size", type=int, default=32, help="examples per rank per step")
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--train-size", type=int, default=2048, help="the first N training images")
    p.add_argument("--lr", type=float, default=1.0)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--save", default=None, help="write the final weights (and the training time) to this .npz")
    p.add_argument("--check", action="store_true",
                   help="run 2 ranks, then one process on the same global batches; compare and time both")
    p.add_argument("--nproc", type=int, default=2, help="ranks for --check")
    return p.parse_args(argv)


def make_model(seed: int) -> torch.nn.Module:
    torch.manual_seed(seed)
    model = Net()
    model.dropout1.p = model.dropout2.p = 0.0  # see the module docstring
    return model


def dataset(args: argparse.Namespace):
    return Subset(mnist_subset(train=True), range(args.train_size))


def train_ddp(args: argparse.Namespace) -> None:
    """One rank of the data-parallel run (started by mpiexec or the launcher)."""
    dist.init_process_group(backend="mpi")
    rank, world = dist.get_rank(), dist.get_world_size()
    model = DDP(make_model(args.seed))  # rank 0's initial weights are broadcast to every rank
    optimizer = torch.optim.Adadelta(model.parameters(), lr=args.lr)
    data = dataset(args)
    sampler = DistributedSampler(data, shuffle=True, seed=args.seed)
    loader = DataLoader(data, batch_size=args.batch_size, sampler=sampler)
    dist.barrier()
    start = time.perf_counter()
    for epoch in range(args.epochs):
        sampler.set_epoch(epoch)  # a new order each epoch, the same on every rank
        model.train()
        for step, (x, y) in enumerate(loader):
            optimizer.zero_grad()
            loss = F.nll_loss(model(x), y)
            loss.backward()  # the gradients are averaged over the ranks here
            optimizer.step()
            if rank == 0 and step % 20 == 0:
                print(f"epoch {epoch} step {step:3d}/{len(loader)}  loss {loss.item():.4f} (rank 0's share)")
    dist.barrier()
    seconds = time.perf_counter() - start
    if rank == 0:
        print(f"{world} ranks trained {args.epochs} epoch(s) of {len(data)} images in {seconds:.1f} s")
        if args.save:
            np.savez(args.save, seconds=seconds, **{k: v.numpy() for k, v in model.module.state_dict().items()})
    dist.destroy_process_group()


def global_batches(args: argparse.Namespace, nproc: int, epoch: int) -> list[list[int]]:
    """The indices of each step's global batch: every rank's batch for that step, side by side."""
    shares = []
    for rank in range(nproc):
        sampler = DistributedSampler(dataset(args), num_replicas=nproc, rank=rank, shuffle=True, seed=args.seed)
        sampler.set_epoch(epoch)
        order = list(sampler)
        shares.append([order[i:i + args.batch_size] for i in range(0, len(order), args.batch_size)])
    return [sum((share[k] for share in shares), []) for k in range(len(shares[0]))]


def train_one_process(args: argparse.Namespace, nproc: int) -> tuple[dict[str, np.ndarray], float]:
    """One process, one model, the global batches of the ``nproc``-rank run: the reference."""
    model = make_model(args.seed)
    optimizer = torch.optim.Adadelta(model.parameters(), lr=args.lr)
    data = dataset(args)
    start = time.perf_counter()
    for epoch in range(args.epochs):
        model.train()
        for indices in global_batches(args, nproc, epoch):
            x, y = torch.utils.data.default_collate([data[i] for i in indices])
            optimizer.zero_grad()
            F.nll_loss(model(x), y).backward()
            optimizer.step()
    seconds = time.perf_counter() - start
    return {k: v.numpy() for k, v in model.state_dict().items()}, seconds


def check(args: argparse.Namespace) -> int:
    """Run the data-parallel job, then the one-process reference; compare weights, report times."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "ddp.npz"
        forwarded = [a for a in sys.argv[1:] if a != "--check"]
        env = dict(os.environ, OMP_NUM_THREADS="1")  # one thread per rank: the ranks share the cores
        cmd = [sys.executable, "-m", "tinytorch.distributed.run", "--nproc-per-node", str(args.nproc),
               __file__, *forwarded, "--save", str(out)]
        if subprocess.call(cmd, env=env) != 0:
            print("the data-parallel run failed")
            return 1
        with np.load(out) as f:
            ddp_seconds = float(f["seconds"])
            ddp = {k: f[k] for k in f.files if k != "seconds"}
    threads = torch.get_num_threads()
    reference, ref_seconds = train_one_process(args, args.nproc)
    torch.set_num_threads(1)
    _, one_thread_seconds = train_one_process(args, args.nproc)
    torch.set_num_threads(threads)
    worst = max(float(np.abs(ddp[k] - v).max()) for k, v in reference.items())
    scale = max(float(np.abs(v).max()) for v in reference.values())
    print(f"largest weight difference, {args.nproc} ranks vs one process: {worst:.2e} (weights up to {scale:.2f})")
    print(f"{args.nproc} ranks x 1 thread: {ddp_seconds:.1f} s")
    print(f"one process, 1 thread: {one_thread_seconds:.1f} s (speed-up {one_thread_seconds / ddp_seconds:.2f}x)")
    print(f"one process, {threads} threads: {ref_seconds:.1f} s (speed-up {ref_seconds / ddp_seconds:.2f}x)")
    ok = all(np.allclose(ddp[k], v, rtol=1e-4, atol=1e-5) for k, v in reference.items())
    print("weights match" if ok else "WEIGHTS DIFFER")
    return 0 if ok else 1


if __name__ == "__main__":
    arguments = parse_args()
    if arguments.check:
        sys.exit(check(arguments))
    train_ddp(arguments)
