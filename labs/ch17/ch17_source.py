# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Lab 17 — Past one machine: gradient averaging and sharded data
#
# *Read [chapter 17](../../book/chapters/ch17_distributed.md) of the book first; this lab builds
# what it explains.*
#
# | exercise | you write | points |
# |---|---|---|
# | 17.1 | `average_gradients(model)` — every rank ends with the average of the ranks' gradients | 8 |
# | 17.2 | `shard_indices(n, num_replicas, rank, epoch, seed, shuffle, drop_last)` — one rank's share of an epoch | 8 |
#
# Collectives need several processes, so the grader runs your code on **two MPI ranks**: it
# copies the source of your function (and of any function of yours it calls) into a script,
# starts it with `mpiexec -n 2`, and compares what each rank computed with references it
# computes itself. In that script `tt`, `dist`, `nn`, `F`, `np` and `math` are already
# imported, as in this notebook; other names your function needs must be imported inside it.
# `shard_indices` is also graded in this process, against the library's sampler. Grade with
# `pytest labs/ch17` (it needs `mpiexec`: `pip install 'tinytorch[distributed]'`).

# %%
# the names the grader's ranks also provide (some are for your own experiments)
import math  # noqa: F401

import numpy as np  # noqa: F401

import tinytorch as tt
import tinytorch.distributed as dist  # noqa: F401
import tinytorch.nn.functional as F  # noqa: F401
from tinytorch import nn  # noqa: F401
from tinytorch.labs import demo

# %% [markdown]
# ## Exercise 17.1 — `average_gradients(model)`
#
# After `loss.backward()` each rank holds the gradient of the mean loss on *its own* share of
# the batch. When every rank's share has the same size, the gradient of the whole batch's mean
# loss is the **average** of the ranks' gradients. Write `average_gradients(model)`: for every
# parameter of `model` that has a gradient, replace `p.grad`, on every rank, by the average of
# all ranks' `p.grad`.
#
# * `dist.all_reduce(t)` adds `t` over all ranks, in place, on every rank
#   (`op=dist.ReduceOp.SUM` is the default); `dist.get_world_size()` is the number of ranks.
# * Skip parameters whose `.grad` is `None` (frozen or unused): every rank must skip the same
#   ones, which they do when they run the same model.
# * Do not use `DistributedDataParallel`, and do not use `ReduceOp.AVG`: divide yourself.
#
# The grader checks that after your function the gradients are equal on both ranks and equal
# the gradient one process computes on the whole batch, and that three SGD steps with it give
# one process's weights.

# %% [markdown]
# <details><summary>Hint 17.1 (1 of 1) — click to open</summary>
#
# `all_reduce` works in place: call it on `p.grad` itself, then divide `p.grad` in place
# (`p.grad /= world`, or `p.grad.div_(world)`).
#
# </details>

# %%
def average_gradients(model):
    ### BEGIN SOLUTION
    world = dist.get_world_size()
    for p in model.parameters():
        if p.grad is not None:
            dist.all_reduce(p.grad, op=dist.ReduceOp.SUM)
            p.grad /= world
    ### END SOLUTION


# %% [markdown]
# ## Exercise 17.2 — `shard_indices`: one rank's share of an epoch
#
# `shard_indices(n, num_replicas, rank, epoch=0, seed=0, shuffle=True, drop_last=False)`
# returns the list of dataset indices (Python ints) that rank `rank` of `num_replicas` visits
# in epoch `epoch`, exactly as PyTorch's `DistributedSampler` partitions them:
#
# 1. The epoch's order: with `shuffle`, the permutation
#    `tt.randperm(n, generator=tt.Generator().manual_seed(seed + epoch)).tolist()` (every rank
#    computes the same one, with no communication); without, `0, 1, ..., n - 1`.
# 2. Make its length divisible by `num_replicas`. With `drop_last`, cut the tail: keep the
#    first `num_replicas * floor(n / num_replicas)` indices. Without, *pad* it by repeating
#    its start until the length is `num_replicas * ceil(n / num_replicas)` (if the padding is
#    longer than the list, repeat the whole list as often as needed).
# 3. Rank `rank` takes every `num_replicas`-th index, starting at position `rank`.
#
# So every rank gets the same number of indices (a rank with fewer batches would leave the
# others waiting in an all-reduce), and the shards do not overlap except for the padding.
# Do not use the library's `DistributedSampler`.

# %% [markdown]
# <details><summary>Hint 17.2 (1 of 1) — click to open</summary>
#
# `per_rank = n // num_replicas if drop_last else math.ceil(n / num_replicas)`, then
# `total = per_rank * num_replicas`; pad with `(order * k)[:total - n]` for a large enough `k`,
# and slice `order[rank:total:num_replicas]`.
#
# </details>

# %%
def shard_indices(n, num_replicas, rank, epoch=0, seed=0, shuffle=True, drop_last=False):
    ### BEGIN SOLUTION
    if shuffle:
        order = tt.randperm(n, generator=tt.Generator().manual_seed(seed + epoch)).tolist()
    else:
        order = list(range(n))
    per_rank = n // num_replicas if drop_last else math.ceil(n / num_replicas)
    total = per_rank * num_replicas
    if total <= n:
        order = order[:total]
    else:
        order = order + (order * math.ceil((total - n) / n))[:total - n]
    return order[rank:total:num_replicas]
    ### END SOLUTION


# %%
with demo("17.2"):
    for r in range(3):
        print(r, shard_indices(10, 3, r, shuffle=False))  # expect [0, 3, 6, 9] [1, 4, 7, 0] [2, 5, 8, 1]

# %% [markdown]
# A sampler that a `DataLoader` can use is a small class around your function (given, not
# graded): `DataLoader(data, batch_size=32, sampler=ShardSampler(data, world, rank))`, and
# `sampler.set_epoch(epoch)` at the start of each epoch.

# %%
class ShardSampler(tt.utils.data.Sampler):
    def __init__(self, dataset, num_replicas, rank, shuffle=True, seed=0, drop_last=False):
        self.n, self.num_replicas, self.rank = len(dataset), num_replicas, rank
        self.shuffle, self.seed, self.drop_last, self.epoch = shuffle, seed, drop_last, 0

    def set_epoch(self, epoch):
        self.epoch = epoch

    def __iter__(self):
        return iter(shard_indices(self.n, self.num_replicas, self.rank, self.epoch, self.seed, self.shuffle,
                                  self.drop_last))

    def __len__(self):
        return len(shard_indices(self.n, self.num_replicas, self.rank, 0, self.seed, False, self.drop_last))
