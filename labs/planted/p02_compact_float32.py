# ruff: noqa — a fragment appended to a lab notebook: its names come from the notebook
# planted: ch02
# expect: 2.5 exact
# compact that casts through float32 (right to 1e-7, wrong for float64 and big int64).

# %%
def compact(a, out, shape, strides, offset):
    size = int(np.prod(shape)) if len(shape) else 1
    if out.size != size:
        raise ValueError("size")
    positions = np.full(tuple(shape), offset, dtype=np.int64)
    for axis, (n, s) in enumerate(zip(shape, strides)):
        positions += (np.arange(n, dtype=np.int64) * s).reshape((n,) + (1,) * (len(shape) - axis - 1))
    out[:] = a[positions.reshape(-1)].astype(np.float32)
