# ruff: noqa — a fragment appended to a lab notebook: its names come from the notebook
# planted: ch02
# expect: 2.5 forbidden
# compact built on the helper the exercise forbids.

# %%
def compact(a, out, shape, strides, offset):
    size = int(np.prod(shape)) if len(shape) else 1
    if out.size != size:
        raise ValueError("size")
    view = np.lib.stride_tricks.as_strided(a[offset:], shape, tuple(s * a.itemsize for s in strides))
    out[:] = view.reshape(-1)
