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
# # Lab 5 — Tensors and reverse-mode autograd
#
# *Read [chapter 5](../../book/chapters/ch05_autograd.md) of the book first; this lab builds what
# it explains.*
#
# Chapter 5 built automatic differentiation from two pieces: **ops** that know their own
# derivative (a `Function` with `forward` on NDArrays and `backward` written in Tensor ops),
# and an **engine** that orders the graph and runs the chain rule backwards. You write both.
#
# | exercise | you write | points |
# |---|---|---|
# | 5.1 | `Exp` — forward and backward | 5 |
# | 5.2 | `Mul` — a binary op whose inputs may broadcast | 5 |
# | 5.3 | `Sum` — a reduction over some dims | 5 |
# | 5.4 | `Matmul` — batched matrix product | 5 |
# | 5.5 | `unbroadcast(grad, shape)` — the gradient of broadcasting | 5 |
# | 5.6 | `topo_order(roots)` — the order backward visits the graph | 6 |
# | 5.7 | `backward(loss)` — the whole backward pass | 6 |
#
# The grader puts your classes and functions in place of the library's: your `Exp` runs
# inside `tt.softmax`, your `Sum` inside `mean` and `var`, your `topo_order` orders every
# `loss.backward()` — and then checks gradients against finite differences, including second
# derivatives. Grade with `pytest labs/ch05`.
#
# The Function contract (from `tinytorch.autograd`):
#
# * `forward(self, *arrays, **params)` receives `NDArray`s (and Python scalars) and returns an
#   `NDArray`. It may save things on `self` for backward. Save the result as `self.out` if
#   backward needs it, and get it back as a Tensor with `self.output()`.
# * `backward(self, grad)` receives the gradient of the output (a `Tensor`) and returns one
#   gradient per positional input (a tuple for several; `None` for an input that needs none —
#   see `self.needs_input_grad`). Write it with **Tensor ops** (`*`, `@`, `tt.reshape`, …), so
#   that the backward pass is itself differentiable. The inputs are in `self.inputs`.
# * You may return gradients with the *output's* shape when inputs were broadcast; the engine
#   sums them back (that is exercise 5.5).

# %%
import numpy as np

import tinytorch as tt
from tinytorch.autograd import Function, Tensor
from tinytorch.labs import demo

# %% [markdown]
# ## Exercise 5.1 — `Exp`
#
# $\frac{d}{dx} e^x = e^x$. Use the saved output rather than recomputing it.

# %% [markdown]
# <details><summary>Hint 5.1 — click to open</summary>
#
# In `forward`, keep the result on `self.out`; in `backward`, `self.output()` gives it back as a
# Tensor.
#
# </details>

# %%
class Exp(Function):
    def forward(self, a):
        ### BEGIN SOLUTION
        self.out = a.exp()
        return self.out
        ### END SOLUTION

    def backward(self, grad):
        ### BEGIN SOLUTION
        return grad * self.output()
        ### END SOLUTION


# %%
with demo("5.1"):
    x = tt.tensor([0.0, 1.0, 2.0], requires_grad=True)
    Exp.apply(x).sum().backward()
    print(x.grad)  # expect e^x

# %% [markdown]
# ## Exercise 5.2 — `Mul`
#
# `a * b` where either may be a Python scalar (then it needs no gradient) and the two may
# broadcast. $\partial(ab)/\partial a = b$ and $\partial(ab)/\partial b = a$.

# %% [markdown]
# <details><summary>Hint 5.2 (1 of 2) — click to open</summary>
#
# The two inputs are in `self.inputs`; the gradient for `a` is `grad * b` and for `b` is `grad * a`.
#
# </details>
#
# <details><summary>Hint 5.2 (2 of 2) — click to open</summary>
#
# Return `None` for an input whose `self.needs_input_grad[i]` is False (a Python scalar, say).
#
# </details>

# %%
class Mul(Function):
    def forward(self, a, b):
        ### BEGIN SOLUTION
        return a * b
        ### END SOLUTION

    def backward(self, grad):
        ### BEGIN SOLUTION
        a, b = self.inputs
        return (grad * b if self.needs_input_grad[0] else None,
                grad * a if self.needs_input_grad[1] else None)
        ### END SOLUTION


# %% [markdown]
# ## Exercise 5.3 — `Sum`
#
# `Sum.apply(x, dims=(0, 2), keepdim=False)` sums over the (non-negative, sorted) `dims`.
# Every input element contributes once to one output element, so the gradient of each input
# element is the gradient of the output element it went into: reshape `grad` to the shape
# with the summed dims kept as 1, then broadcast it (`tt.broadcast_to`) to the input's shape.

# %% [markdown]
# <details><summary>Hint 5.3 (1 of 2) — click to open</summary>
#
# Remember the input's shape and the summed dims in `forward`.
#
# </details>
#
# <details><summary>Hint 5.3 (2 of 2) — click to open</summary>
#
# In `backward`, reshape `grad` to the input's shape with 1 on every summed dim, then
# `tt.broadcast_to` it to the input's shape.
#
# </details>

# %%
class Sum(Function):
    def forward(self, a, dims, keepdim):
        ### BEGIN SOLUTION
        self.shape, self.dims = a.shape, dims
        return a.sum(dims, keepdims=keepdim)
        ### END SOLUTION

    def backward(self, grad):
        ### BEGIN SOLUTION
        kept = tuple(1 if i in self.dims else n for i, n in enumerate(self.shape))
        return tt.broadcast_to(tt.reshape(grad, kept), self.shape)
        ### END SOLUTION


# %% [markdown]
# ## Exercise 5.4 — `Matmul`
#
# `a @ b` for operands of at least 2 dims (batch dims broadcast). With $C = AB$ and upstream
# gradient $G$: $\partial L/\partial A = G B^T$ and $\partial L/\partial B = A^T G$, where the
# transpose swaps the **last two** dims (`tt.transpose(t, -2, -1)`).

# %% [markdown]
# <details><summary>Hint 5.4 (1 of 2) — click to open</summary>
#
# `tt.transpose(t, -2, -1)` swaps the last two dims of any batch of matrices.
#
# </details>
#
# <details><summary>Hint 5.4 (2 of 2) — click to open</summary>
#
# Check the shapes: `grad` is `(..., m, p)`, `a` is `(..., m, n)`, `b` is `(..., n, p)`.
#
# </details>

# %%
class Matmul(Function):
    def forward(self, a, b):
        ### BEGIN SOLUTION
        return a @ b
        ### END SOLUTION

    def backward(self, grad):
        ### BEGIN SOLUTION
        a, b = self.inputs
        return (grad @ tt.transpose(b, -2, -1) if self.needs_input_grad[0] else None,
                tt.transpose(a, -2, -1) @ grad if self.needs_input_grad[1] else None)
        ### END SOLUTION


# %% [markdown]
# ## Exercise 5.5 — the gradient of broadcasting
#
# When an input of shape `shape` was broadcast to a larger shape, each of its elements was
# used many times, so its gradient is the **sum** of the gradients of all its copies. Given
# `grad` (a Tensor of the broadcast shape), sum over the leading dims that `shape` lacks and
# over the dims where `shape` has a 1 but `grad` does not, and return a Tensor of exactly
# `shape`. (`tt.sum(t, dims, keepdim=True)` and `tt.reshape` will help.) In the library this
# function is called in exactly one place: the engine, for every op.

# %% [markdown]
# <details><summary>Hint 5.5 (1 of 2) — click to open</summary>
#
# The dims to sum are the leading ones that `shape` lacks, plus those where `shape` has a 1 and
# `grad` does not.
#
# </details>
#
# <details><summary>Hint 5.5 (2 of 2) — click to open</summary>
#
# Sum with `keepdim=True`, then `tt.reshape` to exactly `shape`.
#
# </details>

# %%
def unbroadcast(grad, shape):
    """Sum ``grad`` down to ``shape``, undoing a broadcast."""
    ### BEGIN SOLUTION
    lead = grad.ndim - len(shape)
    dims = tuple(range(lead)) + tuple(lead + i for i, n in enumerate(shape) if n == 1 and grad.shape[lead + i] != 1)
    if dims:
        grad = tt.sum(grad, dims, keepdim=True)
    return tt.reshape(grad, shape)
    ### END SOLUTION


# %% [markdown]
# ## Exercise 5.6 — topological order
#
# `roots` is a list of graph nodes (`Function`s). Return a list of every node reachable from
# them — through `node.inputs`, each input `t` a Tensor whose node is `t.grad_fn` (`None` for a
# leaf), or a Python scalar — in an order where **every node comes after the nodes that made
# its inputs**. Each node exactly once. Use an explicit stack, not recursion: the grader builds
# a chain of 5,000 ops.

# %% [markdown]
# <details><summary>Hint 5.6 (1 of 2) — click to open</summary>
#
# Use a stack of `(node, expanded)` pairs: pop a node, push it back as expanded, then push its
# input nodes; emit a node when it is popped expanded.
#
# </details>
#
# <details><summary>Hint 5.6 (2 of 2) — click to open</summary>
#
# Put **every** root on the stack at the start, and keep a set of the ids you have seen.
#
# </details>

# %%
def topo_order(roots):
    """All nodes reachable from ``roots``, each after the nodes that produced its inputs."""
    ### BEGIN SOLUTION
    order, seen = [], set()
    stack = [(r, False) for r in roots]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            order.append(node)
            continue
        if id(node) in seen:
            continue
        seen.add(id(node))
        stack.append((node, True))
        for t in node.inputs:
            if isinstance(t, Tensor) and t.grad_fn is not None and id(t.grad_fn) not in seen:
                stack.append((t.grad_fn, False))
    return order
    ### END SOLUTION


# %% [markdown]
# ## Exercise 5.7 — the backward pass
#
# Put it together: set `.grad` on every leaf tensor that requires grad and that `loss` (a
# scalar Tensor) depends on — the sum over all paths of the chain rule. Steps:
#
# 1. order the nodes with `topo_order([loss.grad_fn])`;
# 2. keep a dict from node (use `id(node)`) to the gradient of that node's output, starting
#    with `tt.ones_like(loss)` for `loss.grad_fn`;
# 3. visit the nodes in **reverse** order; call `node.backward(g)`; for each input that needs a
#    gradient, `unbroadcast` it to the input's shape and add it to the input's node entry, or,
#    for a leaf (no `grad_fn`), to its `.grad` (set it if `None`, add otherwise).
#
# Run it under `with tt.no_grad():`. While 5.7 is graded, the library's own `topo_order` and
# `unbroadcast` stand in for yours, so this exercise is scored on its own.

# %% [markdown]
# <details><summary>Hint 5.7 (1 of 2) — click to open</summary>
#
# Keep a dict from `id(node)` to the gradient of that node's output; a node's gradient is complete
# once every node after it in topological order has run.
#
# </details>
#
# <details><summary>Hint 5.7 (2 of 2) — click to open</summary>
#
# For a leaf, add to `.grad` when it already has one — two calls of `backward` must add up — and
# do the whole pass under `tt.no_grad()`.
#
# </details>

# %%
def backward(loss):
    """Accumulate d loss / d leaf into ``leaf.grad`` for every leaf that requires grad."""
    ### BEGIN SOLUTION
    grads = {id(loss.grad_fn): tt.ones_like(loss)}
    with tt.no_grad():
        for node in reversed(topo_order([loss.grad_fn])):
            g = grads.pop(id(node))
            out = node.backward(g)
            if not isinstance(out, tuple):
                out = (out,)
            for t, need, tg in zip(node.inputs, node.needs_input_grad, out):
                if not need or tg is None:
                    continue
                tg = unbroadcast(tg, t.shape)
                if t.grad_fn is not None:
                    key = id(t.grad_fn)
                    grads[key] = grads[key] + tg if key in grads else tg
                else:
                    t.grad = tg if t.grad is None else t.grad + tg
    ### END SOLUTION


# %%
with demo("5.7"):
    a = tt.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    b = tt.tensor([10.0, 20.0], requires_grad=True)
    backward((a * b).sum() + (a @ a).sum())
    print(a.grad, b.grad)
