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
# # Lab 1 — Flat buffers, dtypes and row-major memory
#
# *Read [chapter 1](../../book/chapters/ch01_flat_buffers.md) of the book first; this lab builds
# what it explains.*
#
# Chapter 1 showed that every array in tinytorch is a flat, one-dimensional buffer plus a
# little arithmetic that turns an index like `(i, j, k)` into a position in that buffer.
# In this lab you write that arithmetic yourself. Four exercises:
#
# | exercise | you write | points |
# |---|---|---|
# | 1.1 | `row_major_strides(shape)` — how far to step in the buffer along each axis | 6 |
# | 1.2 | `flat_offset(index, strides, offset)` — where element `index` lives | 5 |
# | 1.3 | `unravel(position, shape)` — the index of the n-th element in row-major order | 5 |
# | 1.4 | `nbytes(shape, dtype)` and `byte_strides(shape, dtype)` — the same in bytes | 4 |
#
# Write your code where a cell says `# YOUR CODE HERE` (delete the `raise NotImplementedError()`
# line), run the cell, save the notebook, and grade it from the repository root:
#
# ```
# pytest labs/ch01
# ```
#
# The grader runs your notebook top to bottom, takes the functions you defined, and plugs
# them into the real library: your `row_major_strides` decides the strides of every new
# `NDArray` during the test. Keep the function names as given and do not import them from
# tinytorch — the grader checks.

# %%
import numpy as np

import tinytorch as tt
import tinytorch.ndarray.strides as strides_module
from tinytorch.labs import demo
from tinytorch.ndarray import array

# %% [markdown]
# ## Exercise 1.1 — row-major strides
#
# A compact row-major array of shape `(2, 3, 4)` stores its last axis contiguously: stepping
# `k → k + 1` moves 1 element in the buffer, stepping `j → j + 1` skips a whole row of 4,
# stepping `i → i + 1` skips a whole `3 × 4` matrix. Its strides (in **elements**) are
# `(12, 4, 1)`. Return a tuple of ints, one per axis; the empty shape `()` has strides `()`.
# An axis of length 0 should not make the strides of the axes left of it 0 (treat it as 1),
# which is also what the library does.

# %% [markdown]
# <details><summary>Hint 1.1 (1 of 2) — click to open</summary>
#
# Keep a running product `step`, starting at 1. Walk the shape from the **last** axis to the
# first: the current axis's stride is `step`, then multiply `step` by that axis's length.
#
# </details>
#
# <details><summary>Hint 1.1 (2 of 2) — click to open</summary>
#
# Build the list backwards and reverse it at the end; `max(n, 1)` keeps a zero-length axis from
# zeroing the strides to its left.
#
# </details>

# %%
def row_major_strides(shape):
    """Strides, in elements, of a compact row-major array of ``shape``."""
    ### BEGIN SOLUTION
    strides = []
    step = 1
    for n in reversed(shape):
        strides.append(step)
        step *= max(n, 1)
    return tuple(reversed(strides))
    ### END SOLUTION


# %%
with demo("1.1"):
    print(row_major_strides((2, 3, 4)))  # expect (12, 4, 1)

# %% [markdown]
# ## Exercise 1.2 — the offset of an element
#
# Element `index` of a view lives at `offset + index[0]*strides[0] + index[1]*strides[1] + ...`.
# Return that position as an `int`.

# %% [markdown]
# <details><summary>Hint 1.2 — click to open</summary>
#
# It is a dot product of two equally long tuples: `zip(index, strides)` pairs them up; then add
# `offset`.
#
# </details>

# %%
def flat_offset(index, strides, offset=0):
    """The buffer position of element ``index`` of a view with ``strides`` starting at ``offset``."""
    ### BEGIN SOLUTION
    return offset + sum(i * s for i, s in zip(index, strides))
    ### END SOLUTION


# %%
with demo("1.2"):
    print(flat_offset((1, 2, 3), (12, 4, 1)))  # expect 23

# %% [markdown]
# ## Exercise 1.3 — from a position back to an index
#
# The inverse question: in a compact row-major array of `shape`, which index sits at buffer
# position `position`? For shape `(2, 3, 4)`, position 23 is index `(1, 2, 3)`.
# Raise `IndexError` when `position` is outside `[0, size)`.

# %% [markdown]
# <details><summary>Hint 1.3 (1 of 2) — click to open</summary>
#
# Check the range first: the size is the product of the shape.
#
# </details>
#
# <details><summary>Hint 1.3 (2 of 2) — click to open</summary>
#
# Peel axes off from the last one: `position % n` is that axis's index and `position // n` is what
# is left for the axes to its left.
#
# </details>

# %%
def unravel(position, shape):
    """The index (a tuple) of buffer position ``position`` in a compact row-major array of ``shape``."""
    ### BEGIN SOLUTION
    size = 1
    for n in shape:
        size *= n
    if not 0 <= position < size:
        raise IndexError(f"position {position} is out of range for shape {shape}")
    index = []
    for n in reversed(shape):
        index.append(position % n)
        position //= n
    return tuple(reversed(index))
    ### END SOLUTION


# %%
with demo("1.3"):
    print(unravel(23, (2, 3, 4)))  # expect (1, 2, 3)

# %% [markdown]
# ## Exercise 1.4 — bytes
#
# A buffer of `n` elements of a dtype takes `n * dtype.itemsize` bytes (`tt.float32.itemsize`
# is 4, `tt.int64.itemsize` is 8, `tt.bool.itemsize` is 1). numpy counts strides in bytes;
# tinytorch counts them in elements. Write `nbytes(shape, dtype)` — the size of a compact array
# in bytes — and `byte_strides(shape, dtype)` — its row-major strides in bytes, as numpy
# reports them in `np.zeros(shape, dtype).strides`.

# %% [markdown]
# <details><summary>Hint 1.4 (1 of 2) — click to open</summary>
#
# `nbytes` is the number of elements times `dtype.itemsize`.
#
# </details>
#
# <details><summary>Hint 1.4 (2 of 2) — click to open</summary>
#
# `byte_strides` is exercise 1.1 with the running product starting at `itemsize` instead of 1.
#
# </details>

# %%
def nbytes(shape, dtype):
    """Bytes taken by a compact array of ``shape`` and tinytorch ``dtype``."""
    ### BEGIN SOLUTION
    size = 1
    for n in shape:
        size *= n
    return size * dtype.itemsize
    ### END SOLUTION


def byte_strides(shape, dtype):
    """Row-major strides of ``shape`` in bytes (numpy's convention)."""
    ### BEGIN SOLUTION
    strides, step = [], dtype.itemsize
    for n in reversed(shape):
        strides.append(step)
        step *= max(n, 1)
    return tuple(reversed(strides))
    ### END SOLUTION


# %%
with demo("1.4"):
    print(nbytes((2, 3, 4), tt.float32), byte_strides((2, 3, 4), tt.float32))  # expect 96, (48, 16, 4)

# %% [markdown]
# ## See your strides at work
#
# Once 1.1 passes, this is what the grader does: it swaps the library's `row_major_strides`
# for yours and builds real arrays.

# %%
with demo("1.1"):
    library_version = strides_module.row_major_strides
    strides_module.row_major_strides = row_major_strides
    try:
        a = array(np.arange(24).reshape(2, 3, 4), device="numpy")
        print(a.strides, a[1, 2, 3])
    finally:
        strides_module.row_major_strides = library_version
