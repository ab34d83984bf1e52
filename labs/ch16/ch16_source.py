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
# # Lab 16 — Seeing inside: the profiler's op recorder and a FLOP counter
#
# *Read [chapter 16](../../book/chapters/ch16_seeing_inside.md) of the book first; this lab builds
# what it explains.*
#
# | exercise | you write | points |
# |---|---|---|
# | 16.1 | `OpRecorder`, a `DispatchMode` that records every op with its input shapes | 10 |
# | 16.2 | `matmul_flops(a_shape, b_shape)` and `count_flops(fn)` | 10 |
#
# The grader runs your recorder on real models — forward and backward — next to a recorder of
# its own, nests it inside other dispatch modes, and compares your FLOP counts for an MLP, a CNN
# and an attention layer with the FLOPs the textbook formulas give. Grade with
# `pytest labs/ch16`.

# %%
import tinytorch as tt
from tinytorch import nn
from tinytorch.labs import demo
from tinytorch.tensor import DispatchMode, Tensor

# %% [markdown]
# ## Exercise 16.1 — `OpRecorder`
#
# Every op runs through `Function.apply`; while a `DispatchMode` is active (`with mode:`),
# `apply` hands each call to the mode's `dispatch(op, args, params, run)` instead:
#
# * `op` is the `Function` subclass (its name, `op.__name__`, is what the profiler shows:
#   `"Matmul"`, `"Mul"`…);
# * `args` are the positional inputs (Tensors, and sometimes Python numbers), `params` the
#   keyword parameters;
# * `run(args, params)` passes the call on — to the next mode outside yours, or, if there is
#   none, to the op itself — and returns the result.
#
# Write `OpRecorder`: `self.calls` starts as an empty list, and each call appends one tuple
# `(op.__name__, shapes)` where `shapes` is a tuple with the shape (a tuple of ints) of each
# *Tensor* in `args`, in order. The call must go on through `run`, and its result must be
# returned unchanged — a profiler must not change what it measures, and must not hide the
# call from the modes outside it. Do not use `tinytorch.profiler`.

# %% [markdown]
# <details><summary>Hint 16.1 (1 of 2) — click to open</summary>
#
# `tuple(tuple(a.shape) for a in args if isinstance(a, Tensor))`.
#
# </details>
#
# <details><summary>Hint 16.1 (2 of 2) — click to open</summary>
#
# Do not call `op.apply` or `op._run` yourself: only `run` reaches the modes outside yours.
# The backward pass runs ops too, so an `OpRecorder` active around `loss.backward()` sees them.
#
# </details>

# %%
class OpRecorder(DispatchMode):
    def __init__(self):
        ### BEGIN SOLUTION
        self.calls = []
        ### END SOLUTION

    def dispatch(self, op, args, params, run):
        ### BEGIN SOLUTION
        self.calls.append((op.__name__, tuple(tuple(a.shape) for a in args if isinstance(a, Tensor))))
        return run(args, params)
        ### END SOLUTION


# %%
with demo("16.1"):
    with OpRecorder() as rec:
        (tt.ones(2, 3) @ tt.ones(3, 4)).relu()
    print(rec.calls)  # expect [('Matmul', ((2, 3), (3, 4))), ('Relu', ((2, 4),))]

# %% [markdown]
# ## Exercise 16.2 — counting FLOPs
#
# A product `(…, n, k) @ (…, k, m)` computes `n * m` dot products of length `k`: `k` multiplies
# and `k` additions each (counting the first addition, as profilers do), so **`2 * n * k * m`
# FLOPs** per matrix. The leading (batch) dims broadcast as in numpy: `(7, 1, 2, 3) @ (5, 3, 2)`
# is a batch of `7 * 5` products. A 1-D shape counts as one row (on the left) or one column
# (on the right).
#
# * `matmul_flops(a_shape, b_shape)` returns that count (an int).
# * `count_flops(fn)` calls `fn()` with your `OpRecorder` active and returns the FLOPs of every
#   matrix product it ran. The library runs products as four ops: `Matmul` (`@`, masked
#   attention, and every backward product); `Linear`, a linear layer's forward `x @ w.T + b` as
#   one node, with `x` of shape `(…, n, in)` and `w` of shape `(out, in)` — so its product is
#   `(…, n, in) @ (in, out)` (the bias add is not counted); `Attention`,
#   `scaled_dot_product_attention` without a mask or dropout as one node, with `q` of shape
#   `(…, L, E)`, `k` of shape `(…, S, E)` and `v` of shape `(…, S, Ev)` — two products, the
#   scores `q @ k^T` and the weighted sum `(…, L, S) @ v`; and `Convolution`, a convolution's
#   forward as one node, with `x` of shape `(N, C, H, W)` and `w` of shape
#   `(O, C / groups, kh, kw)`: each of its output elements is a dot product of length
#   `C / groups * kh * kw`, so `2 * (number of output elements) * C / groups * kh * kw`
#   (`w.shape[1] * kh * kw`; again without the bias). The output's shape is not among the
#   arguments: record it too, with a subclass of your `OpRecorder` whose `dispatch` also keeps
#   the shape of each call's result. No other op counts FLOPs here.
#
# Do not use `tinytorch.profiler`.

# %% [markdown]
# <details><summary>Hint 16.2 (1 of 2) — click to open</summary>
#
# Make 1-D shapes 2-D first (`(k,)` on the left is `(1, k)`, on the right `(k, 1)`); then the
# batch size is the product of `np.broadcast_shapes(a_shape[:-2], b_shape[:-2])`.
#
# </details>
#
# <details><summary>Hint 16.2 (2 of 2) — click to open</summary>
#
# Inside `count_flops`, subclass `OpRecorder`: its `dispatch` notes `index = len(self.calls)`,
# calls `super().dispatch(...)` and stores the result's shape under `index` (ops can run inside
# other ops, so store by index rather than appending).
#
# </details>

# %%
def matmul_flops(a_shape, b_shape):
    ### BEGIN SOLUTION
    a_shape = (1,) + tuple(a_shape) if len(a_shape) == 1 else tuple(a_shape)
    b_shape = tuple(b_shape) + (1,) if len(b_shape) == 1 else tuple(b_shape)
    lead = max(len(a_shape), len(b_shape)) - 2
    a_batch = (1,) * (lead - len(a_shape) + 2) + a_shape[:-2]
    b_batch = (1,) * (lead - len(b_shape) + 2) + b_shape[:-2]
    batch = 1
    for x, y in zip(a_batch, b_batch):
        batch *= max(x, y)
    return 2 * batch * a_shape[-2] * a_shape[-1] * b_shape[-1]
    ### END SOLUTION


def count_flops(fn):
    ### BEGIN SOLUTION
    class ShapeRecorder(OpRecorder):
        """Also the shape of each call's result, by the call's index in ``calls``."""

        def __init__(self):
            super().__init__()
            self.out_shapes = {}

        def dispatch(self, op, args, params, run):
            index = len(self.calls)  # where super().dispatch records this call
            out = super().dispatch(op, args, params, run)
            self.out_shapes[index] = tuple(getattr(out, "shape", ()))
            return out

    with ShapeRecorder() as rec:
        fn()
    total = 0
    for index, (name, shapes) in enumerate(rec.calls):
        if name == "Matmul":
            total += matmul_flops(shapes[0], shapes[1])
        elif name == "Linear":  # x (..., n, in) @ w.T, w stored as (out, in)
            total += matmul_flops(shapes[0], shapes[1][::-1])
        elif name == "Convolution":  # one dot product of length C/groups * kh * kw per output element
            outputs = 1
            for size in rec.out_shapes[index]:
                outputs *= size
            total += 2 * outputs * shapes[1][1] * shapes[1][2] * shapes[1][3]
        elif name == "Attention":  # q @ k^T, then the weights (..., L, S) @ v
            q, k, v = shapes[:3]
            total += matmul_flops(q, k[:-2] + (k[-1], k[-2])) + matmul_flops(q[:-1] + (k[-2],), v)
    return total
    ### END SOLUTION


# %%
with demo("16.2"):
    print(matmul_flops((3, 4), (4, 5)))  # expect 120
    layer = nn.Linear(10, 20)
    print(count_flops(lambda: layer(tt.ones(8, 10))))  # expect 2 * 8 * 10 * 20 = 3200
