# ruff: noqa — a fragment appended to a lab notebook: its names come from the notebook
# planted: ch16
# expect: 16.2 count_flops
# Counts Matmul and Linear only, as if a convolution were still im2col and a Matmul: the MLP
# and attention pass, the CNN loses its convolutions' FLOPs.

# %%
def count_flops(fn):
    with OpRecorder() as rec:
        fn()
    total = 0
    for name, shapes in rec.calls:
        if name == "Matmul":
            total += matmul_flops(shapes[0], shapes[1])
        elif name == "Linear":
            total += matmul_flops(shapes[0], shapes[1][::-1])
    return total
