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
# # Lab 14 — Functional transforms: `grad`, `vjp` and batching rules
#
# *Read [chapter 14](../../book/chapters/ch14_functional.md) of the book first; this lab builds
# what it explains.*
#
# | exercise | you write | points |
# |---|---|---|
# | 14.1 | `grad(f)` — the gradient of a scalar function, as a function, on the autograd engine | 6 |
# | 14.2 | `vjp(f, x)` — the output and a function computing vector-Jacobian products | 5 |
# | 14.3 | `mul_rule`, `sum_rule`, `reshape_rule` — batching rules for the real `vmap` | 9 |
#
# The grader compares your `grad` and `vjp` with PyTorch's numbers on several functions,
# differentiates your `grad` twice, and builds whole Jacobians from your `vjp`. For 14.3 it takes
# the library's own rules for `Mul`, `Sum` and `Reshape` out of `tinytorch.func.vmap`, installs
# yours, and vmaps real functions -- and per-sample gradients of a model -- against a Python loop.
# Grade with `pytest labs/ch14`.

# %%
import tinytorch as tt
from tinytorch.func.batching import front, unwrap
from tinytorch.labs import demo

# %% [markdown]
# ## Exercise 14.1 — `grad`
#
# `grad(f)` returns a function `g` with `g(x, *rest) = df/dx`, the gradient of `f` with respect
# to its first argument at `x` (`rest` is passed on to `f` unchanged).
#
# * Use the engine: `tt.autograd.grad(output, inputs, create_graph=True)`. With `create_graph`
#   the gradient is itself recorded, so `grad(grad(f))` works (the second derivative).
# * `x` may not require grad: then differentiate a new leaf `x.detach().requires_grad_()`. If it
#   already does (an outer `grad` is differentiating it), use `x` itself so the outer `grad` sees
#   the graph.
# * Record even inside `tt.no_grad()`: wrap the work in `with tt.enable_grad():`.
# * If `f` returns anything but a 0-d tensor (a scalar) raise `RuntimeError`, as `torch.func.grad`
#   does -- even for a tensor of shape `(1,)`.
#
# Do not use `tinytorch.func`.

# %% [markdown]
# <details><summary>Hint 14.1 (1 of 1) — click to open</summary>
#
# `(dx,) = tt.autograd.grad(out, x, create_graph=True)` returns a tuple with one gradient.
#
# </details>

# %%
def grad(f):
    ### BEGIN SOLUTION
    def g(x, *rest):
        with tt.enable_grad():
            if not x.requires_grad:
                x = x.detach().requires_grad_()
            out = f(x, *rest)
            if not isinstance(out, tt.Tensor) or out.ndim != 0:
                raise RuntimeError("grad(f)(x): f must return a scalar (0-d) tensor")
            (dx,) = tt.autograd.grad(out, x, create_graph=True)
        return dx
    return g
    ### END SOLUTION


# %%
with demo("14.1"):
    print(grad(lambda x: (x ** 3).sum())(tt.tensor([1.0, 2.0])))  # expect [3., 12.]
    print(grad(grad(lambda x: x ** 3))(tt.tensor(2.0)))  # expect 12.

# %% [markdown]
# ## Exercise 14.2 — `vjp`
#
# `vjp(f, x)` returns `(out, vjp_fn)`: `out = f(x)` (detached: no graph) and a function with
# `vjp_fn(v) = (vᵀJ,)`, a tuple with the gradient of `(out * v).sum()` with respect to `x`.
#
# * Run `f` once, in `vjp`; `vjp_fn` only runs the engine backwards, and may be called many
#   times (keep the graph: `retain_graph=True`).
# * `v` must have `out`'s shape; raise `RuntimeError` naming both shapes if it does not.
# * If `out` does not depend on `x` at all, `vjp_fn` returns zeros of `x`'s shape
#   (`allow_unused=True` makes the engine return `None` instead of raising).

# %% [markdown]
# <details><summary>Hint 14.2 (1 of 1) — click to open</summary>
#
# `tt.autograd.grad(out, x, grad_outputs=v, retain_graph=True, allow_unused=True)`.
#
# </details>

# %%
def vjp(f, x):
    ### BEGIN SOLUTION
    with tt.enable_grad():
        x = x.detach().requires_grad_()
        out = f(x)

    def vjp_fn(v):
        if tuple(v.shape) != tuple(out.shape):
            raise RuntimeError(f"vjp_fn: v has shape {tuple(v.shape)} but the output has {tuple(out.shape)}")
        if not out.requires_grad:
            return (tt.zeros_like(x),)
        (g,) = tt.autograd.grad(out, x, grad_outputs=v, retain_graph=True, allow_unused=True)
        return (tt.zeros_like(x) if g is None else g,)

    return out.detach(), vjp_fn
    ### END SOLUTION


# %%
with demo("14.2"):
    out, fn = vjp(lambda x: x * x, tt.tensor([1.0, 2.0, 3.0]))
    print(out, fn(tt.tensor([1.0, 0.0, 1.0])))  # expect [1, 4, 9] and ([2, 0, 6],)

# %% [markdown]
# ## Exercise 14.3 — batching rules
#
# Inside `vmap`, each op goes to its *batching rule*. A rule is called as
# `rule(level, args, params, run)`:
#
# * `args` are the op's inputs. `unwrap(a, level)` gives `(value, bdim)`: for an input batched at
#   this level, the whole batch and the position of its batch dimension; for anything else
#   (unbatched tensors, Python numbers) `(a, None)`. `front(value, bdim)` moves the batch
#   dimension to position 0 (a permutation of strides: no copy). `level.size` is the batch size.
# * `params` are the op's keyword parameters (`Sum` has `dims` -- non-negative logical dims --
#   and `keepdim`; `Reshape` has `shape`, the new logical shape; `Mul` has none).
# * `run(new_args, new_params)` runs the op once on the whole batch.
# * The rule returns `(result, bdim)`: the op's result for the whole batch and where its batch
#   dimension is.
#
# Write:
#
# * `mul_rule` for `Mul` (elementwise, broadcasting): give every batched operand its batch
#   dimension in front, and -- because numpy-style broadcasting lines dimensions up from the
#   right -- insert size-1 dimensions right after the batch dimension of a batched operand with
#   fewer logical dimensions than the result, so that example `i` meets example `i`.
# * `sum_rule` for `Sum`: batch in front, every dim in `dims` moves one place right.
# * `reshape_rule` for `Reshape`: batch in front, the new shape gets the batch size in front.
#
# Do not use the library's rules or its loop fallback.

# %% [markdown]
# <details><summary>Hint 14.3 (1 of 2) — click to open</summary>
#
# The logical rank of an input is `value.ndim - 1` when it is batched, `value.ndim` when it is an
# unbatched tensor, 0 for a Python number. The result's rank is the largest of them.
#
# </details>
#
# <details><summary>Hint 14.3 (2 of 2) — click to open</summary>
#
# `value.reshape((value.shape[0],) + (1,) * missing + tuple(value.shape[1:]))` inserts `missing`
# size-1 dimensions after the batch dimension.
#
# </details>

# %%
def mul_rule(level, args, params, run):
    ### BEGIN SOLUTION
    unwrapped = [unwrap(a, level) for a in args]
    ranks = [(v.ndim - (b is not None)) if isinstance(v, tt.Tensor) else 0 for v, b in unwrapped]
    rank = max(ranks)
    new = []
    for (value, bdim), r in zip(unwrapped, ranks):
        if bdim is None:
            new.append(value)
            continue
        value = front(value, bdim)
        new.append(value.reshape((value.shape[0],) + (1,) * (rank - r) + tuple(value.shape[1:])))
    return run(tuple(new), params), 0
    ### END SOLUTION


def sum_rule(level, args, params, run):
    ### BEGIN SOLUTION
    value, bdim = unwrap(args[0], level)
    value = front(value, bdim)
    return run((value,), {**params, "dims": tuple(d + 1 for d in params["dims"])}), 0
    ### END SOLUTION


def reshape_rule(level, args, params, run):
    ### BEGIN SOLUTION
    value, bdim = unwrap(args[0], level)
    value = front(value, bdim)
    return run((value,), {**params, "shape": (level.size,) + tuple(params["shape"])}), 0
    ### END SOLUTION


# %%
with demo("14.3"):
    from tinytorch.func import register_rule, vmap
    from tinytorch.ops.elementwise import Mul
    from tinytorch.ops.movement import Reshape
    from tinytorch.ops.reduce import Sum
    saved = {op: register_rule(op, rule) for op, rule in ((Mul, mul_rule), (Sum, sum_rule), (Reshape, reshape_rule))}
    try:
        x = tt.arange(6.0).reshape(2, 3)
        print(vmap(lambda row: (row * tt.tensor([1.0, 10.0, 100.0])).sum())(x))  # expect [210., 543.]
    finally:
        for op, rule in saved.items():
            register_rule(op, rule)
