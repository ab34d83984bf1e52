# ruff: noqa — a fragment appended to a lab notebook: its names come from the notebook
# planted: ch17
# expect: 17.2 delegation
# shard_indices that asks the library's DistributedSampler.

# %%
from tinytorch.data.distributed import DistributedSampler


def shard_indices(n, num_replicas, rank, epoch=0, seed=0, shuffle=True, drop_last=False):
    sampler = DistributedSampler(range(n), num_replicas, rank, shuffle=shuffle, seed=seed, drop_last=drop_last)
    sampler.set_epoch(epoch)
    return list(sampler)
