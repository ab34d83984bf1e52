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
# # Lab 6 — Modules, initialisation and losses
#
# *Read [chapter 6](../../book/chapters/ch06_nn.md) of the book first; this lab builds what it
# explains.*
#
# Chapter 6 built `nn`: a `Module` registers the parameters and submodules you assign to it,
# layers initialise their weights the way PyTorch does, and losses are compositions of Tensor
# ops written to be numerically safe. You write three of its pieces:
#
# | exercise | you write | points |
# |---|---|---|
# | 6.1 | `Linear(in_features, out_features, bias=True)` — with PyTorch's initialisation | 7 |
# | 6.2 | `LayerNorm(normalized_shape, eps=1e-5)` | 6 |
# | 6.3 | `cross_entropy(logits, target)` — stable for huge logits | 6 |
#
# Subclass `nn.Module` and assign `nn.Parameter`s as attributes: `Module` registers them, so
# `parameters()`, `state_dict()` and optimizers see them. The grader uses your layers inside
# real `nn.Sequential` models, loads PyTorch-style state dicts into them, trains them, and
# compares values and gradients with the library. Grade with `pytest labs/ch06`.

# %%
import math

import numpy as np

import tinytorch as tt
from tinytorch import nn
from tinytorch.labs import demo

# %% [markdown]
# ## Exercise 6.1 — `Linear`
#
# `y = x @ weight.T + bias`, with `weight` of shape `(out_features, in_features)` and `bias`
# of shape `(out_features,)` (no bias parameter when `bias=False`: set `self.bias = None`).
# Initialise like PyTorch: both drawn uniformly from $[-k, k]$ with $k =
# 1/\sqrt{\text{in\_features}}$
# (`tt.rand(...)` gives $[0, 1)$). Wrap them in `nn.Parameter`.

# %% [markdown]
# <details><summary>Hint 6.1 (1 of 2) — click to open</summary>
#
# `tt.rand(out_features, in_features)` is uniform on [0, 1): scale by `2k` and shift by `-k`.
#
# </details>
#
# <details><summary>Hint 6.1 (2 of 2) — click to open</summary>
#
# Wrap both in `nn.Parameter` and assign them as attributes; `forward` is `x @ self.weight.T +
# self.bias`.
#
# </details>

# %%
class Linear(nn.Module):
    def __init__(self, in_features, out_features, bias=True):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        ### BEGIN SOLUTION
        k = 1 / math.sqrt(in_features)
        self.weight = nn.Parameter(tt.rand(out_features, in_features) * (2 * k) - k)
        self.bias = nn.Parameter(tt.rand(out_features) * (2 * k) - k) if bias else None
        ### END SOLUTION

    def forward(self, x):
        ### BEGIN SOLUTION
        y = x @ self.weight.T
        return y + self.bias if self.bias is not None else y
        ### END SOLUTION


# %%
with demo("6.1"):
    print(Linear(4, 3)(tt.ones(2, 4)).shape)  # expect (2, 3)

# %% [markdown]
# ## Exercise 6.2 — `LayerNorm`
#
# Normalise over the last `len(normalized_shape)` dims: subtract the mean, divide by
# $\sqrt{\text{var} + \epsilon}$ with the *biased* variance (`correction=0`), then scale by
# `weight` (ones) and shift by `bias` (zeros), both parameters of shape `normalized_shape`.
# `normalized_shape` may be an int or a tuple.

# %% [markdown]
# <details><summary>Hint 6.2 (1 of 2) — click to open</summary>
#
# The dims to normalise are the last `len(normalized_shape)` ones: `range(x.ndim - len(shape),
# x.ndim)`.
#
# </details>
#
# <details><summary>Hint 6.2 (2 of 2) — click to open</summary>
#
# `x.var(dims, keepdim=True, correction=0)` is the biased variance.
#
# </details>

# %%
class LayerNorm(nn.Module):
    def __init__(self, normalized_shape, eps=1e-5):
        super().__init__()
        ### BEGIN SOLUTION
        if isinstance(normalized_shape, int):
            normalized_shape = (normalized_shape,)
        self.normalized_shape, self.eps = tuple(normalized_shape), eps
        self.weight = nn.Parameter(tt.ones(*self.normalized_shape))
        self.bias = nn.Parameter(tt.zeros(*self.normalized_shape))
        ### END SOLUTION

    def forward(self, x):
        ### BEGIN SOLUTION
        dims = tuple(range(x.ndim - len(self.normalized_shape), x.ndim))
        mean = x.mean(dims, keepdim=True)
        var = x.var(dims, keepdim=True, correction=0)
        return (x - mean) / tt.sqrt(var + self.eps) * self.weight + self.bias
        ### END SOLUTION


# %% [markdown]
# ## Exercise 6.3 — cross-entropy
#
# `logits` has shape `(N, C)`, `target` holds `N` class indices (int64). Return the mean over
# the batch of $-\log \operatorname{softmax}(\text{logits})_{\text{target}}$. Compute the log-
# softmax
# stably: $\log \operatorname{softmax}(z)_i = (z_i - m) - \log \sum_j e^{z_j - m}$ with
# $m = \max_j z_j$ (detached — it only shifts). Do not call the library's `cross_entropy`,
# `log_softmax` or `logsumexp`. Picking one entry per row: `t[tt.arange(N), target]`.

# %% [markdown]
# <details><summary>Hint 6.3 (1 of 2) — click to open</summary>
#
# Subtract each row's maximum (detached) before `exp`; the log-softmax is then `shifted -
# log(sum(exp(shifted)))`.
#
# </details>
#
# <details><summary>Hint 6.3 (2 of 2) — click to open</summary>
#
# Pick each row's target entry with `log_probs[tt.arange(N), target]` and take minus their mean.
#
# </details>

# %%
def cross_entropy(logits, target):
    """Mean negative log-likelihood of ``target`` under softmax(``logits``)."""
    ### BEGIN SOLUTION
    m = logits.detach().amax(1, keepdim=True)
    shifted = logits - m
    log_probs = shifted - tt.log(tt.exp(shifted).sum(1, keepdim=True))
    return -log_probs[tt.arange(logits.shape[0]), target].mean()
    ### END SOLUTION


# %%
with demo("6.3"):
    print(cross_entropy(tt.tensor([[1000.0, 0.0], [0.0, 0.0]]), tt.tensor([0, 1])))  # expect about 0.3466
