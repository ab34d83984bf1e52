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
# # Lab 4 — The GPU: how CUDA kernels are launched and written
#
# *Read [chapter 4](../../book/chapters/ch04_gpu.md) of the book first; this lab builds what it
# explains.*
#
# A CUDA kernel is one function run by thousands of threads at once; each thread finds its
# element from its block and thread indices. This lab has two parts that run anywhere — the
# launch arithmetic and the kernel logic, executed by a small Python simulator of a CUDA
# launch — and one real CUDA kernel, compiled with `nvcc` where it exists and run where a GPU
# exists (its tests skip otherwise, saying why).
#
# | exercise | you write | points | needs |
# |---|---|---|---|
# | 4.1 | `num_blocks(n, threads_per_block)` and `global_index(block, block_dim, thread)` | 4 | — |
# | 4.2 | `scale_add_kernel(...)` — a grid-stride loop, run by the simulator | 6 | — |
# | 4.3 | `EWISE_MUL_CU` — a CUDA C kernel | 6 | nvcc (4 pts), a GPU + pycuda (2 pts) |
#
# Grade with `pytest labs/ch04`.

# %%
import numpy as np


def launch(kernel, grid, block, *args):
    """Run ``kernel(block_idx, block_dim, grid_dim, thread_idx, *args)`` for every thread of a
    1-D launch, one thread after another (a real GPU runs them in parallel, in any order)."""
    for block_idx in range(grid):
        for thread_idx in range(block):
            kernel(block_idx, block, grid, thread_idx, *args)

from tinytorch.labs import demo

# %% [markdown]
# ## Exercise 4.1 — launch arithmetic
#
# A launch of `n` elements with `threads_per_block` threads per block needs enough blocks to
# cover every element: `num_blocks(1000, 256)` is 4 (the last block is partly idle;
# `num_blocks(0, 256)` is 0). The thread with index `thread` in block `block` of `block_dim`
# threads handles element `global_index(block, block_dim, thread) = block * block_dim + thread`.

# %% [markdown]
# <details><summary>Hint 4.1 — click to open</summary>
#
# Round up, without floats: `(n + threads - 1) // threads`.
#
# </details>

# %%
def num_blocks(n, threads_per_block):
    """The number of blocks needed to give each of n elements its own thread."""
    ### BEGIN SOLUTION
    return (n + threads_per_block - 1) // threads_per_block
    ### END SOLUTION


def global_index(block, block_dim, thread):
    """The element handled by thread ``thread`` of block ``block``."""
    ### BEGIN SOLUTION
    return block * block_dim + thread
    ### END SOLUTION


# %% [markdown]
# ## Exercise 4.2 — a grid-stride loop
#
# Real kernels do not assume one thread per element. In a **grid-stride loop** each thread
# starts at its global index and jumps by the total number of threads in the grid
# (`block_dim * grid_dim`) until it passes `n`, so any grid size covers any `n` — and a thread
# must never touch an element `>= n`. Write `out[i] = alpha * x[i] + y[i]` that way. The grader
# launches it with grids smaller and larger than needed, and with buffers longer than `n`
# whose extra elements must stay untouched.

# %% [markdown]
# <details><summary>Hint 4.2 — click to open</summary>
#
# Start at your global index; step by the number of threads in the whole grid, `block_dim *
# grid_dim`; stop before `n`.
#
# </details>

# %%
def scale_add_kernel(block_idx, block_dim, grid_dim, thread_idx, alpha, x, y, out, n):
    ### BEGIN SOLUTION
    i = block_idx * block_dim + thread_idx
    while i < n:
        out[i] = alpha * x[i] + y[i]
        i += block_dim * grid_dim
    ### END SOLUTION


# %%
with demo("4.2"):
    x, y, out = np.arange(10.0), np.ones(10), np.zeros(10)
    launch(scale_add_kernel, 2, 4, 2.0, x, y, out, 10)  # 8 threads for 10 elements
    print(out)  # expect 2 * x + 1

# %% [markdown]
# ## Exercise 4.3 — a CUDA kernel
#
# Complete the kernel: `out[i] = a[i] * b[i]` for `i < n`, with a grid-stride loop (chapter 4
# shows the library's version). The grader compiles it with `nvcc --ptx` and, on a machine with
# a GPU and pycuda, launches it on random data.

# %% [markdown]
# <details><summary>Hint 4.3 (1 of 2) — click to open</summary>
#
# The same grid-stride loop as 4.2, in C: `blockIdx.x * blockDim.x + threadIdx.x` to start,
# `blockDim.x * gridDim.x` to step.
#
# </details>
#
# <details><summary>Hint 4.3 (2 of 2) — click to open</summary>
#
# Use `long long` for the index so that large `n` does not overflow.
#
# </details>

# %%
EWISE_MUL_CU = r"""
extern "C" __global__ void ewise_mul_f32(const float *a, const float *b, float *out, long long n) {
    // BEGIN C SOLUTION
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (long long)blockDim.x * gridDim.x)
        out[i] = a[i] * b[i];
    // END C SOLUTION
}
"""
