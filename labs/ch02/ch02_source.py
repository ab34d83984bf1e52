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
# # Lab 2 — Strides, offsets and zero-copy views
#
# *Read [chapter 2](../../book/chapters/ch02_strides_views.md) of the book first; this lab builds
# what it explains.*
#
# Chapter 2 showed that every movement op — transpose, broadcast, slice, reshape — is new
# metadata over the same buffer, and that one kernel, `compact`, turns any view back into a
# fresh row-major buffer. You now write those pieces:
#
# | exercise | you write | points |
# |---|---|---|
# | 2.1 | `permute_view(shape, strides, axes)` | 4 |
# | 2.2 | `broadcast_strides(shape, strides, new_shape)` | 5 |
# | 2.3 | `slice_view(n, stride, s)` — one slice applied to one axis | 5 |
# | 2.4 | `reshape_view(shape, strides, new_shape)` — a view if one exists, else `None` | 8 |
# | 2.5 | `compact(a, out, shape, strides, offset)` — the numpy backend's copy kernel | 8 |
#
# The grader replaces the library's versions with yours (in `tinytorch.ndarray.strides` and
# in the numpy backend) and then uses real `NDArray`s: your `permute_view` runs every
# `.permute` and `.T`, your `compact` every copy of a view on the `"numpy"` device.
# Grade with `pytest labs/ch02`. Strides and offsets count **elements**, not bytes.

# %%
import numpy as np

from tinytorch.labs import demo
from tinytorch.ndarray import array

# %% [markdown]
# ## Exercise 2.1 — permute
#
# New axis `i` is old axis `axes[i]`: the shape and the strides are both reordered. Return
# `(new_shape, new_strides)` as tuples. Raise `ValueError` if `axes` is not a permutation of
# `0 .. ndim-1`.

# %% [markdown]
# <details><summary>Hint 2.1 (1 of 2) — click to open</summary>
#
# `axes` must contain each of `0 .. ndim-1` exactly once: compare `sorted(axes)` with
# `list(range(ndim))`.
#
# </details>
#
# <details><summary>Hint 2.1 (2 of 2) — click to open</summary>
#
# New axis `i` takes both its length and its stride from old axis `axes[i]`.
#
# </details>

# %%
def permute_view(shape, strides, axes):
    """Shape and strides of the view with axes reordered; never copies."""
    ### BEGIN SOLUTION
    axes = tuple(axes)
    if sorted(axes) != list(range(len(shape))):
        raise ValueError(f"axes {axes} are not a permutation of {tuple(range(len(shape)))}")
    return tuple(shape[a] for a in axes), tuple(strides[a] for a in axes)
    ### END SOLUTION


# %%
with demo("2.1"):
    print(permute_view((2, 3, 4), (12, 4, 1), (2, 0, 1)))  # expect ((4, 2, 3), (1, 12, 4))

# %% [markdown]
# ## Exercise 2.2 — broadcasting is a stride of 0
#
# Show a view of `shape` as the larger `new_shape`. Align the shapes on the right; missing
# leading axes and axes of length 1 that grow get stride 0 (every step along them reads the
# same element); axes that keep their length keep their stride. Raise `RuntimeError` when
# `shape` cannot broadcast to `new_shape`.

# %% [markdown]
# <details><summary>Hint 2.2 (1 of 2) — click to open</summary>
#
# Count the leading axes `new_shape` has and `shape` lacks: they all get stride 0.
#
# </details>
#
# <details><summary>Hint 2.2 (2 of 2) — click to open</summary>
#
# Then walk the remaining axes pairwise: same length keeps the stride, a 1 that grows gets 0,
# anything else cannot broadcast.
#
# </details>

# %%
def broadcast_strides(shape, strides, new_shape):
    """Strides that show a view of ``shape`` as ``new_shape`` (stride 0 on broadcast axes)."""
    ### BEGIN SOLUTION
    if len(new_shape) < len(shape):
        raise RuntimeError(f"cannot broadcast {shape} to {new_shape}")
    lead = len(new_shape) - len(shape)
    out = [0] * lead
    for n, s, target in zip(shape, strides, new_shape[lead:]):
        if n == target:
            out.append(s)
        elif n == 1:
            out.append(0)
        else:
            raise RuntimeError(f"cannot broadcast {shape} to {new_shape}")
    return tuple(out)
    ### END SOLUTION


# %%
with demo("2.2"):
    print(broadcast_strides((3, 1), (1, 1), (2, 3, 4)))  # expect (0, 1, 0)

# %% [markdown]
# ## Exercise 2.3 — one slice on one axis
#
# Apply the Python slice `s` (any start/stop/step, negatives, `None`s) to an axis of length
# `n` whose stride is `stride`. Return `(length, new_stride, shift)`: the number of elements
# the slice selects, the stride between them, and how far the view's offset moves (the
# position of the first selected element; 0 when nothing is selected). `s.indices(n)` and
# `range` will do the clipping for you. The library calls your function once per sliced axis
# of every `a[...]`.

# %% [markdown]
# <details><summary>Hint 2.3 (1 of 2) — click to open</summary>
#
# `start, stop, step = s.indices(n)` clips the slice to the axis; `len(range(start, stop, step))`
# counts the elements.
#
# </details>
#
# <details><summary>Hint 2.3 (2 of 2) — click to open</summary>
#
# The new stride is `stride * step`; the shift is the position of the first selected element — and
# 0 when nothing is selected.
#
# </details>

# %%
def slice_view(n, stride, s):
    """(new length, new stride, offset shift) of slice ``s`` applied to an axis of length ``n``."""
    ### BEGIN SOLUTION
    start, stop, step = s.indices(n)
    length = len(range(start, stop, step))
    return length, stride * step, (start * stride if length else 0)
    ### END SOLUTION


# %%
with demo("2.3"):
    print(slice_view(10, 1, slice(8, 2, -2)))  # expect (3, -2, 8): elements 8, 6, 4

# %% [markdown]
# ## Exercise 2.4 — reshape without copying, when possible
#
# Return the strides that show the same elements, in row-major order, with `new_shape` — or
# `None` when no strides can (then the library compacts first and reshapes the copy).
#
# * For a compact input the answer is simply the row-major strides of `new_shape` (half the
#   points).
# * In general, split both shapes into groups of axes whose sizes multiply to the same number
#   (`(6, 4) → (2, 3, 4)`: `6 ↔ 2·3` and `4 ↔ 4`). A group of old axes can be re-split only if
#   it is contiguous *within itself*: each axis's stride equals the next axis's stride times its
#   length. The new strides inside a group are then row-major, scaled by the group's last
#   stride. Axes of length 1 can have any stride; ignore them.
#
# The sizes are guaranteed to match (`prod(shape) == prod(new_shape)`).

# %% [markdown]
# <details><summary>Hint 2.4 (1 of 2) — click to open</summary>
#
# Drop the axes of length 1 from the old shape first; they never constrain anything.
#
# </details>
#
# <details><summary>Hint 2.4 (2 of 2) — click to open</summary>
#
# Grow a group of old axes and a group of new axes until their products agree; inside the old
# group each stride must equal the next stride times the next length, else return `None`.
#
# </details>

# %%
def reshape_view(shape, strides, new_shape):
    """Strides for a view of the same elements with ``new_shape``, or None if a copy is needed."""
    ### BEGIN SOLUTION
    if 0 in shape:  # an empty array: any strides describe it; use row-major ones
        out, step = [], 1
        for n in reversed(new_shape):
            out.append(step)
            step *= max(n, 1)
        return tuple(reversed(out))
    old = [(n, s) for n, s in zip(shape, strides) if n != 1]
    new_dims = [i for i, n in enumerate(new_shape) if n != 1]
    new_strides = [1] * len(new_shape)  # axes of length 1 keep stride 1: any value works
    oi = ni = 0
    while oi < len(old) and ni < len(new_dims):
        # grow a group of old axes and a group of new axes until their sizes agree
        o_end, n_end = oi + 1, ni + 1
        o_size, n_size = old[oi][0], new_shape[new_dims[ni]]
        while o_size != n_size:
            if o_size < n_size:
                o_size *= old[o_end][0]
                o_end += 1
            else:
                n_size *= new_shape[new_dims[n_end]]
                n_end += 1
        for k in range(oi, o_end - 1):  # the old group must be contiguous within itself
            if old[k][1] != old[k + 1][1] * old[k + 1][0]:
                return None
        step = old[o_end - 1][1]
        for k in range(n_end - 1, ni - 1, -1):
            new_strides[new_dims[k]] = step
            step *= new_shape[new_dims[k]]
        oi, ni = o_end, n_end
    return tuple(new_strides)
    ### END SOLUTION


# %%
with demo("2.4"):
    print(reshape_view((2, 6), (6, 1), (3, 4)), reshape_view((3, 2), (1, 3), (6,)))  # expect (4, 1), None

# %% [markdown]
# ## Exercise 2.5 — `compact`: the one kernel that understands strides
#
# `a` and `out` are flat 1-D numpy arrays (the numpy backend's buffers) of the same dtype.
# Copy the view `(shape, strides, offset)` of `a` into `out` in row-major order:
# `out[k]` is element number `k` of the view. Strides may be 0 (broadcast) or negative
# (flipped). Write into `out`; return nothing. Raise `ValueError` if `out.size` is not the
# number of elements of the view.
#
# A loop over `np.ndindex(*shape)` is a correct start; for speed, build the array of all
# buffer positions at once (one `np.arange(n) * stride` per axis, added with broadcasting) and
# gather with `a[positions]`. Do not use `np.lib.stride_tricks` — that is the library's trick.

# %% [markdown]
# <details><summary>Hint 2.5 (1 of 2) — click to open</summary>
#
# Start from an array of positions shaped like the view, filled with `offset`; add `np.arange(n) *
# stride` for each axis, reshaped so it broadcasts along that axis.
#
# </details>
#
# <details><summary>Hint 2.5 (2 of 2) — click to open</summary>
#
# Gather with `a[positions.reshape(-1)]` and assign into `out[:]`: no conversion, so every dtype
# is copied bit for bit.
#
# </details>

# %%
def compact(a, out, shape, strides, offset):
    """Copy the strided view of the flat buffer ``a`` into the flat buffer ``out`` (row-major)."""
    ### BEGIN SOLUTION
    size = 1
    for n in shape:
        size *= n
    if out.size != size:
        raise ValueError(f"out has {out.size} elements, the view {tuple(shape)} has {size}")
    positions = np.full(tuple(shape), offset, dtype=np.int64)
    for axis, (n, s) in enumerate(zip(shape, strides)):
        positions += (np.arange(n, dtype=np.int64) * s).reshape((n,) + (1,) * (len(shape) - axis - 1))
    out[:] = a[positions.reshape(-1)]
    ### END SOLUTION


# %%
with demo("2.5"):
    buf = np.arange(12.0)
    out = np.empty(6)
    compact(buf, out, (3, 2), (1, 4), 1)  # the transpose of rows 0..1, columns 1..3 of a 3 x 4 matrix
    print(out)  # expect [1, 5, 2, 6, 3, 7]

# %% [markdown]
# ## Watch your views work
#
# With everything done, these run on your code when the grader plugs it in.

# %%
with demo("2.1 and 2.3"):
    x = array(np.arange(12).reshape(3, 4), device="numpy")
    print(permute_view(x.shape, x.strides, (1, 0)), slice_view(4, 1, slice(None, None, -1)))
