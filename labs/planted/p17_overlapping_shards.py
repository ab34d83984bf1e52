# ruff: noqa — a fragment appended to a lab notebook: its names come from the notebook
# planted: ch17
# expect: 17.2 shard
# Each rank takes a window of the order starting at its rank: the windows overlap almost entirely.

# %%
def shard_indices(n, num_replicas, rank, epoch=0, seed=0, shuffle=True, drop_last=False):
    if shuffle:
        order = tt.randperm(n, generator=tt.Generator().manual_seed(seed + epoch)).tolist()
    else:
        order = list(range(n))
    per_rank = n // num_replicas if drop_last else math.ceil(n / num_replicas)
    return (order * 2)[rank:rank + per_rank]
