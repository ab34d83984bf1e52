# ruff: noqa — a fragment appended to a lab notebook: its names come from the notebook
# planted: ch16
# expect: 16.2 count_flops
# Right for plain matrices, but counts one matrix of a batch: the MLP passes, the broadcast
# batches, the convolutions (a batched product) and attention do not.

# %%
def matmul_flops(a_shape, b_shape):
    a_shape = (1,) + tuple(a_shape) if len(a_shape) == 1 else tuple(a_shape)
    b_shape = tuple(b_shape) + (1,) if len(b_shape) == 1 else tuple(b_shape)
    return 2 * a_shape[-2] * a_shape[-1] * b_shape[-1]
