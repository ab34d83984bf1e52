# ruff: noqa — a fragment appended to a lab notebook: its names come from the notebook
# planted: ch02
# expect: full
# An honest, slow compact: one element at a time over np.ndindex, with a helper of its own.


# %%
def _position(index, strides, offset):
    return offset + sum(i * s for i, s in zip(index, strides))


def compact(a, out, shape, strides, offset):
    size = 1
    for n in shape:
        size *= n
    if out.size != size:
        raise ValueError(f"out has {out.size} elements, the view has {size}")
    for k, index in enumerate(np.ndindex(*shape)):
        out[k] = a[_position(index, strides, offset)]
