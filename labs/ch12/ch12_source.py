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
# # Lab 12 — Attention, transformer blocks and a KV cache
#
# *Read [chapter 12](../../book/chapters/ch12_attention.md) of the book first; this lab builds
# what it explains.*
#
# | exercise | you write | points |
# |---|---|---|
# | 12.1 | `scaled_dot_product_attention(query, key, value, attn_mask, dropout_p, is_causal, scale)` | 10 |
# | 12.2 | `split_heads(x, num_heads)` and `merge_heads(x)` — multi-head attention as reshapes | 6 |
# | 12.3 | `Block(n_embd, n_head)` — a pre-norm transformer block from library layers | 8 |
# | 12.4 | `CausalSelfAttention` with a KV cache, and `generate(model, idx, n, use_cache)` | 10 |
#
# The grader installs your attention in place of the library's `F.scaled_dot_product_attention`
# while `nn.MultiheadAttention` and `nn.TransformerEncoderLayer` run, compares every exercise
# with the library and, when PyTorch is installed, with PyTorch (weights copied, outputs and
# gradients), and counts how many positions your cached generation pushes through the network.
# Grade with `pytest labs/ch12`.

# %%
import math

import tinytorch as tt
import tinytorch.nn.functional as F
from tinytorch import nn
from tinytorch.labs import demo

# %% [markdown]
# ## Exercise 12.1 — scaled dot-product attention
#
# `query` is `(..., L, E)`, `key` is `(..., S, E)`, `value` is `(..., S, Ev)`; the leading dims
# broadcast. Return `softmax(query @ key^T * scale + mask) @ value`, of shape `(..., L, Ev)`:
#
# * `scale` defaults to `1 / sqrt(E)` (E: the last dim of `query`);
# * `attn_mask` may be **boolean** — True where a query *may* attend to a key (a padding mask
#   `(N, 1, 1, S)` that is False at padded keys is one), False entries get a score of `-inf`
#   before the softmax — or **float**, added to the scores as it is;
# * `is_causal=True`: query `i` may see keys `j <= i` only (the lower triangle of an `L x S`
#   matrix, starting at the top left). Both masks may be given together;
# * `dropout_p > 0`: `F.dropout(weights, dropout_p)` on the attention weights (the signature
#   is PyTorch's, and the library's layers pass the arguments in this order).
#
# Use tensor ops only (autograd gives the gradient); `F.softmax` is allowed, the library's
# `F.scaled_dot_product_attention` and `F.multi_head_attention_forward` are not.

# %% [markdown]
# <details><summary>Hint 12.1 (1 of 2) — click to open</summary>
#
# `scores = (query @ key.transpose(-2, -1)) * scale` has shape `(..., L, S)`. A boolean mask is
# applied with `scores.masked_fill(mask.logical_not(), float("-inf"))`.
#
# </details>
#
# <details><summary>Hint 12.1 (2 of 2) — click to open</summary>
#
# The causal mask is `tt.ones(L, S, dtype=tt.bool).tril()`. Mask *before* the softmax: the
# softmax must spread each row's weight over the allowed keys only.
#
# </details>

# %%
def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False,
                                 scale=None):
    ### BEGIN SOLUTION
    scale = 1.0 / math.sqrt(query.shape[-1]) if scale is None else scale
    scores = (query @ key.transpose(-2, -1)) * scale
    if is_causal:
        keep = tt.ones(scores.shape[-2], scores.shape[-1], dtype=tt.bool).tril()
        scores = scores.masked_fill(keep.logical_not(), float("-inf"))
    if attn_mask is not None:
        if attn_mask.dtype == tt.bool:
            scores = scores.masked_fill(attn_mask.logical_not(), float("-inf"))
        else:
            scores = scores + attn_mask
    weights = F.softmax(scores, dim=-1)
    if dropout_p > 0.0:
        weights = F.dropout(weights, dropout_p)
    return weights @ value
    ### END SOLUTION


# %%
with demo("12.1"):
    q = k = tt.tensor([[1.0, 0.0], [0.0, 1.0]])
    v = tt.tensor([[10.0], [20.0]])
    print(scaled_dot_product_attention(q, k, v, is_causal=True))  # expect [[10], [~14.7]]

# %% [markdown]
# ## Exercise 12.2 — heads are a reshape
#
# `split_heads(x, num_heads)` takes `(B, T, C)` and returns `(B, num_heads, T, C // num_heads)`:
# head `h` holds the features `h * D .. (h + 1) * D - 1` of every position (`D = C // num_heads`).
# It must be a **view** of `x` (no copy: chapter 2's strides do the work), and raise a
# `ValueError` naming both numbers when `num_heads` does not divide `C`.
#
# `merge_heads(x)` is its inverse: `(B, H, T, D)` to `(B, T, H * D)`, a contiguous tensor.

# %% [markdown]
# <details><summary>Hint 12.2 (1 of 1) — click to open</summary>
#
# `x.view(B, T, H, D)` splits the last dim; `.transpose(1, 2)` swaps the time and head dims by
# swapping two strides. Merging has to go the other way round: transpose back, then `reshape`
# (which copies, because the transposed tensor is not contiguous).
#
# </details>

# %%
def split_heads(x, num_heads):
    ### BEGIN SOLUTION
    B, T, C = x.shape
    if C % num_heads:
        raise ValueError(f"num_heads={num_heads} does not divide the {C} features")
    return x.view(B, T, num_heads, C // num_heads).transpose(1, 2)
    ### END SOLUTION


def merge_heads(x):
    ### BEGIN SOLUTION
    B, H, T, D = x.shape
    return x.transpose(1, 2).reshape(B, T, H * D)
    ### END SOLUTION


# %%
with demo("12.2"):
    x = tt.arange(2 * 3 * 4.0).reshape(2, 3, 4)
    heads = split_heads(x, 2)
    print(tuple(heads.shape), x.stride(), heads.stride())  # (2, 2, 3, 2) (12, 4, 1) (12, 2, 4, 1)

# %% [markdown]
# ## Exercise 12.3 — a pre-norm transformer block
#
# `Block(n_embd, n_head)` has these layers, under these names (the grader loads weights by them):
#
# * `ln_1`, `ln_2`: `nn.LayerNorm(n_embd)`;
# * `attn`: `nn.MultiheadAttention(n_embd, n_head, batch_first=True)`;
# * `mlp`: `nn.Sequential(nn.Linear(n_embd, 4 * n_embd), nn.GELU(), nn.Linear(4 * n_embd, n_embd))`.
#
# `forward(x)` takes `(B, T, n_embd)` and computes, with causal self-attention,
#
#     x = x + attn(ln_1(x))        # the attention's query, key and value are all ln_1(x)
#     x = x + mlp(ln_2(x))
#
# Do not use `nn.TransformerEncoderLayer` (that is what the grader compares with).

# %% [markdown]
# <details><summary>Hint 12.3 (1 of 1) — click to open</summary>
#
# `nn.Transformer.generate_square_subsequent_mask(T)` is the causal mask in the form
# `MultiheadAttention` takes (a float mask, `-inf` above the diagonal); call
# `self.attn(h, h, h, attn_mask=mask, need_weights=False, is_causal=True)[0]`.
#
# </details>

# %%
class Block(nn.Module):
    def __init__(self, n_embd, n_head):
        super().__init__()
        ### BEGIN SOLUTION
        self.ln_1 = nn.LayerNorm(n_embd)
        self.attn = nn.MultiheadAttention(n_embd, n_head, batch_first=True)
        self.ln_2 = nn.LayerNorm(n_embd)
        self.mlp = nn.Sequential(nn.Linear(n_embd, 4 * n_embd), nn.GELU(), nn.Linear(4 * n_embd, n_embd))
        ### END SOLUTION

    def forward(self, x):
        ### BEGIN SOLUTION
        mask = nn.Transformer.generate_square_subsequent_mask(x.shape[1])
        h = self.ln_1(x)
        x = x + self.attn(h, h, h, attn_mask=mask, need_weights=False, is_causal=True)[0]
        return x + self.mlp(self.ln_2(x))
        ### END SOLUTION


# %%
with demo("12.3"):
    print(sorted(Block(8, 2).state_dict())[:4])

# %% [markdown]
# ## Exercise 12.4 — a KV cache
#
# **(a)** `CausalSelfAttention(n_embd, n_head)` holds `c_attn = nn.Linear(n_embd, 3 * n_embd)`
# (queries, keys and values from one matmul, in that order) and `c_proj = nn.Linear(n_embd,
# n_embd)`. `forward(x, cache=None)` on `(B, T, n_embd)`:
#
# 1. split `c_attn(x)` into `q, k, v` and each into heads `(B, n_head, T, D)`;
# 2. if `cache` is a dict: when it already holds `"k"` and `"v"` (the keys and values of the
#    earlier positions), put them in front of the new `k` and `v` along the time dim; then store
#    the (longer) `k` and `v` in `cache["k"]`, `cache["v"]`;
# 3. attend with `F.scaled_dot_product_attention` (the library's), causal when `T > 1` — a
#    cached call after the first passes one new position (`T == 1`), which may see every key;
# 4. merge the heads and apply `c_proj`.
#
# **(b)** `generate(model, idx, max_new_tokens, use_cache=True)` appends `max_new_tokens`
# *greedy* tokens (the `argmax` of the last position's logits) to `idx` `(B, T)` and returns the
# longer `(B, T + max_new_tokens)` tensor. The model is the `TinyGPT` below:
# `model(idx, caches=None, start=0)` returns logits `(B, T, vocab)` for positions
# `start .. start + T - 1`; `caches` is a list of one dict per block (`len(model.blocks)`).
# Without the cache every step runs the whole sequence; with it the first step runs the prompt
# (filling the caches) and every later step runs **only the newest token**. Run it under
# `tt.no_grad()`; the total length stays within `model.block_size`.

# %% [markdown]
# <details><summary>Hint 12.4 (1 of 2) — click to open</summary>
#
# `q, k, v = self.c_attn(x).split(n_embd, dim=2)`; `tt.cat([cache["k"], k], dim=2)` appends.
#
# </details>
#
# <details><summary>Hint 12.4 (2 of 2) — click to open</summary>
#
# With the cache, a later step is `model(idx[:, -1:], caches=caches, start=idx.shape[1] - 1)`:
# the new token's position is the old length.
#
# </details>

# %%
class CausalSelfAttention(nn.Module):
    def __init__(self, n_embd, n_head):
        super().__init__()
        self.n_embd, self.n_head = n_embd, n_head
        self.c_attn = nn.Linear(n_embd, 3 * n_embd)
        self.c_proj = nn.Linear(n_embd, n_embd)

    def forward(self, x, cache=None):
        ### BEGIN SOLUTION
        B, T, C = x.shape
        H = self.n_head
        q, k, v = (t.view(B, T, H, C // H).transpose(1, 2) for t in self.c_attn(x).split(C, dim=2))
        if cache is not None:
            if "k" in cache:
                k, v = tt.cat([cache["k"], k], dim=2), tt.cat([cache["v"], v], dim=2)
            cache["k"], cache["v"] = k, v
        y = F.scaled_dot_product_attention(q, k, v, is_causal=T > 1)
        return self.c_proj(y.transpose(1, 2).reshape(B, T, C))
        ### END SOLUTION


@tt.no_grad()
def generate(model, idx, max_new_tokens, use_cache=True):
    ### BEGIN SOLUTION
    caches = [{} for _ in model.blocks] if use_cache else None
    for step in range(max_new_tokens):
        if not use_cache:
            logits = model(idx)
        elif step == 0:
            logits = model(idx, caches=caches)
        else:
            logits = model(idx[:, -1:], caches=caches, start=idx.shape[1] - 1)
        idx = tt.cat([idx, logits[:, -1].argmax(-1, keepdim=True)], dim=1)
    return idx
    ### END SOLUTION


# %% [markdown]
# The model `generate` drives (given; the grader builds its own copy):

# %%
class TinyGPT(nn.Module):
    def __init__(self, vocab_size=16, block_size=32, n_embd=32, n_head=4, n_layer=2):
        super().__init__()
        self.block_size = block_size
        self.wte = nn.Embedding(vocab_size, n_embd)
        self.wpe = nn.Embedding(block_size, n_embd)
        self.blocks = nn.ModuleList([CachedBlock(n_embd, n_head) for _ in range(n_layer)])
        self.ln_f = nn.LayerNorm(n_embd)
        self.head = nn.Linear(n_embd, vocab_size, bias=False)

    def forward(self, idx, caches=None, start=0):
        pos = tt.arange(start, start + idx.shape[1])
        x = self.wte(idx) + self.wpe(pos)
        for i, block in enumerate(self.blocks):
            x = block(x, None if caches is None else caches[i])
        return self.head(self.ln_f(x))


class CachedBlock(nn.Module):
    def __init__(self, n_embd, n_head):
        super().__init__()
        self.ln_1, self.ln_2 = nn.LayerNorm(n_embd), nn.LayerNorm(n_embd)
        self.attn = CausalSelfAttention(n_embd, n_head)
        self.mlp = nn.Sequential(nn.Linear(n_embd, 4 * n_embd), nn.GELU(), nn.Linear(4 * n_embd, n_embd))

    def forward(self, x, cache=None):
        x = x + self.attn(self.ln_1(x), cache)
        return x + self.mlp(self.ln_2(x))


# %%
with demo("12.4"):
    tt.manual_seed(0)
    gpt = TinyGPT().eval()
    prompt = tt.tensor([[1, 2, 3]])
    print(generate(gpt, prompt, 8).tolist() == generate(gpt, prompt, 8, use_cache=False).tolist())
