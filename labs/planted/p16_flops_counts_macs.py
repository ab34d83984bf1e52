# ruff: noqa — a fragment appended to a lab notebook: its names come from the notebook
# planted: ch16
# expect: 16.2 matmul_flops
# Counts multiply-accumulates (n * k * m) instead of FLOPs: half of every count.

# %%
def matmul_flops(a_shape, b_shape):
    a_shape = (1,) + tuple(a_shape) if len(a_shape) == 1 else tuple(a_shape)
    b_shape = tuple(b_shape) + (1,) if len(b_shape) == 1 else tuple(b_shape)
    lead = max(len(a_shape), len(b_shape)) - 2
    a_batch = (1,) * (lead - len(a_shape) + 2) + a_shape[:-2]
    b_batch = (1,) * (lead - len(b_shape) + 2) + b_shape[:-2]
    batch = 1
    for x, y in zip(a_batch, b_batch):
        batch *= max(x, y)
    return batch * a_shape[-2] * a_shape[-1] * b_shape[-1]
