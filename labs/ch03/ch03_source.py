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
# # Lab 3 — Backends: kernels in numpy and in C
#
# *Read [chapter 3](../../book/chapters/ch03_backends.md) of the book first; this lab builds what
# it explains.*
#
# A backend is a flat set of functions over flat buffers (chapter 3). `NDArray` does all the
# shape, stride, broadcast and dtype work, then calls one kernel on **compact** buffers.
# You write some of those kernels — first for the numpy backend, then one in C:
#
# | exercise | you write | points |
# |---|---|---|
# | 3.1 | `ewise_mul(a, b, out)` and `scalar_add(a, s, out)` — elementwise kernels | 5 |
# | 3.2 | `reduce_sum(a, out, reduce_size)` and `reduce_argmax(a, out, reduce_size)` | 6 |
# | 3.3 | `matmul(a, b, out, m, n, p, batch)` — batched matrix product | 5 |
# | 3.4 | `matmul_f32` in **C**, with the loop order that makes it fast | 6 |
#
# Buffers on the numpy device are flat 1-D numpy arrays. Every kernel **writes into `out`**
# (allocated by the caller) and returns nothing. The grader puts your kernels into the numpy
# backend and then runs real `NDArray` arithmetic, reductions and `@` on device `"numpy"`.
# For 3.4 it compiles your C with the system compiler (the tests skip if there is none).
# Grade with `pytest labs/ch03`.

# %%
import ctypes

import numpy as np

from tinytorch.labs import demo
from tinytorch.ndarray import array

# %% [markdown]
# ## Exercise 3.1 — elementwise kernels
#
# `ewise_mul(a, b, out)`: `out[i] = a[i] * b[i]`. `scalar_add(a, s, out)`: `out[i] = a[i] + s`
# for a Python scalar `s`. Raise `ValueError` if the buffers' sizes differ. Assign into `out`
# (`out[:] = ...`); rebinding the name `out` would leave the caller's buffer untouched.

# %% [markdown]
# <details><summary>Hint 3.1 — click to open</summary>
#
# Compare the sizes first and raise `ValueError`; then let numpy write into the caller's buffer:
# `np.multiply(a, b, out=out)` or `out[:] = ...`.
#
# </details>

# %%
def ewise_mul(a, b, out):
    """out[i] = a[i] * b[i] for flat buffers of equal size."""
    ### BEGIN SOLUTION
    if not a.size == b.size == out.size:
        raise ValueError(f"buffer sizes differ: {a.size}, {b.size}, {out.size}")
    np.multiply(a, b, out=out)
    ### END SOLUTION


def scalar_add(a, s, out):
    """out[i] = a[i] + s."""
    ### BEGIN SOLUTION
    if a.size != out.size:
        raise ValueError(f"buffer sizes differ: {a.size}, {out.size}")
    out[:] = a + np.asarray(s, dtype=a.dtype)
    ### END SOLUTION


# %%
with demo("3.1"):
    out = np.empty(3)
    ewise_mul(np.array([1.0, 2, 3]), np.array([4.0, 5, 6]), out)
    print(out)  # expect [4, 10, 18]

# %% [markdown]
# ## Exercise 3.2 — reductions over the last axis
#
# `a` holds `out.size` rows of `reduce_size` elements each, one after the other. `reduce_sum`
# writes the sum of row `i` into `out[i]` (a row of length 0 sums to 0). `reduce_argmax`
# writes the position of the largest element of row `i` (the first one on ties) into the
# int64 buffer `out`. `NDArray.sum(axis=...)` reduces any axes by first permuting them to the
# end and compacting — so these two kernels serve every reduction.

# %% [markdown]
# <details><summary>Hint 3.2 (1 of 2) — click to open</summary>
#
# `a.reshape(out.size, reduce_size)` shows the buffer as rows: reduce along `axis=1`.
#
# </details>
#
# <details><summary>Hint 3.2 (2 of 2) — click to open</summary>
#
# `argmax` already returns the first position of a tie.
#
# </details>

# %%
def reduce_sum(a, out, reduce_size):
    """out[i] = sum(a[i*reduce_size:(i+1)*reduce_size])."""
    ### BEGIN SOLUTION
    if a.size != out.size * reduce_size:
        raise ValueError(f"a has {a.size} elements, expected {out.size} * {reduce_size}")
    out[:] = a.reshape(out.size, reduce_size).sum(axis=1, dtype=out.dtype)
    ### END SOLUTION


def reduce_argmax(a, out, reduce_size):
    """out[i] = index of the largest of a[i*reduce_size:(i+1)*reduce_size] (first on ties)."""
    ### BEGIN SOLUTION
    if reduce_size < 1 or a.size != out.size * reduce_size:
        raise ValueError(f"a has {a.size} elements, expected {out.size} * {reduce_size} (reduce_size >= 1)")
    out[:] = a.reshape(out.size, reduce_size).argmax(axis=1)
    ### END SOLUTION


# %% [markdown]
# ## Exercise 3.3 — batched matmul
#
# `a` holds `batch` matrices of shape `(m, n)`, `b` holds `batch` matrices `(n, p)`, both
# compact; write the `batch` products `(m, p)` into `out`. numpy may do the multiplying
# (`np.matmul`); your job is the bookkeeping. Raise `ValueError` if a buffer's size does not
# match.

# %% [markdown]
# <details><summary>Hint 3.3 — click to open</summary>
#
# Reshape the flat buffers to `(batch, m, n)` and `(batch, n, p)`; `np.matmul` multiplies each
# pair; flatten into `out[:]`.
#
# </details>

# %%
def matmul(a, b, out, m, n, p, batch):
    """out[k] = a[k] @ b[k] for k < batch, all compact row-major."""
    ### BEGIN SOLUTION
    if (a.size, b.size, out.size) != (batch * m * n, batch * n * p, batch * m * p):
        raise ValueError(f"sizes {a.size}, {b.size}, {out.size} do not fit batch={batch} m={m} n={n} p={p}")
    out[:] = np.matmul(a.reshape(batch, m, n), b.reshape(batch, n, p)).reshape(-1)
    ### END SOLUTION


# %% [markdown]
# ## Exercise 3.4 — a matmul kernel in C
#
# Complete the C function below. `a` is `m × n`, `b` is `n × p`, `out` is `m × p`, all
# row-major float32. Return `0` when done. The grader compiles the string with the system C
# compiler (`stdint.h` and `math.h` are included for you) and calls it through `ctypes`.
#
# Chapter 3 explains why the loop order matters: with `i-k-j` order the innermost loop walks a
# row of `b` and a row of `out` contiguously, and the compiler can vectorize it. Any correct
# order gets the points; the fast one gets the speed.

# %% [markdown]
# <details><summary>Hint 3.4 (1 of 2) — click to open</summary>
#
# Row `i` of `out` is `sum over k of a[i][k] * row k of b`: zero the row first, then add `a[i*n +
# k] * b[k*p + j]` for every `j`.
#
# </details>
#
# <details><summary>Hint 3.4 (2 of 2) — click to open</summary>
#
# With `k` in the middle loop and `j` innermost, both inner accesses walk memory contiguously.
#
# </details>

# %%
MATMUL_C = r"""
int matmul_f32(const float *a, const float *b, float *out, int64_t m, int64_t n, int64_t p) {
    // BEGIN C SOLUTION
    for (int64_t i = 0; i < m; i++) {
        float *orow = out + i * p;
        for (int64_t j = 0; j < p; j++) orow[j] = 0.0f;
        for (int64_t k = 0; k < n; k++) {
            const float aik = a[i * n + k];
            const float *brow = b + k * p;
            for (int64_t j = 0; j < p; j++) orow[j] += aik * brow[j];
        }
    }
    return 0;
    // END C SOLUTION
}
"""

# %% [markdown]
# To try it yourself, compile it the way the grader does:

# %%
from tinytorch.labs.cbuild import c_compiler, call_status, compile_c

with demo("3.4"):
    if c_compiler():
        lib = compile_c(MATMUL_C, "matmul")
        fn = lib.matmul_f32
        fn.restype = ctypes.c_int
        fn.argtypes = [ctypes.c_void_p] * 3 + [ctypes.c_int64] * 3
        x = np.arange(6, dtype=np.float32).reshape(2, 3)
        y = np.ones((3, 2), dtype=np.float32)
        z = np.empty((2, 2), dtype=np.float32)
        call_status(fn(x.ctypes.data, y.ctypes.data, z.ctypes.data, 2, 3, 2), "matmul_f32")
        print(z)  # expect [[3, 3], [12, 12]]

# %% [markdown]
# ## Your kernels inside the library
#
# This is the kind of thing the grader does: swap a kernel into the numpy backend, and use
# `NDArray` as usual.

# %%
import tinytorch.ndarray.backend_numpy as backend_numpy

library_kernel = backend_numpy.reduce_sum
backend_numpy.reduce_sum = reduce_sum
try:
    with demo("3.2"):
        t = array(np.arange(12.0).reshape(3, 4), device="numpy")
        print(t.sum(axis=0), t.T.sum(axis=1))
finally:
    backend_numpy.reduce_sum = library_kernel
