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
# # Lab 9 — Convolutions and residual networks
#
# *Read [chapter 9](../../book/chapters/ch09_convolutions.md) of the book first; this lab builds
# what it explains.*
#
# A convolution is a matrix multiply over a strided view of the windows of its input. You write
# it that way — every option PyTorch's `conv2d` has — and then the block that made deep networks
# trainable:
#
# | exercise | you write | points |
# |---|---|---|
# | 9.1 | `conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1)` from `unfold` and `@` | 10 |
# | 9.2 | `ResidualBlock(channels)`: two 3 × 3 convolutions with batch norm, plus the input | 6 |
#
# The grader compares your `conv2d` with the library's on values and gradients for every
# option, runs it inside `nn.Conv2d` layers of a real CNN, and trains your residual block.
# Grade with `pytest labs/ch09`.

# %%
import tinytorch as tt
import tinytorch.nn.functional as F
from tinytorch import nn
from tinytorch.labs import demo

# %% [markdown]
# ## Exercise 9.1 — `conv2d` as unfold and matmul
#
# `x` is `(N, C_in, H, W)` and `weight` is `(C_out, C_in / groups, kh, kw)`; `bias` is `None` or
# `(C_out,)`. `stride`, `padding` and `dilation` are ints or pairs. The output is
# `(N, C_out, OH, OW)` with $OH = \lfloor (H + 2p - d(k_h - 1) - 1)/s \rfloor + 1$ (and the
# same for `OW`).
#
# Use `F.unfold(x, (kh, kw), dilation=..., padding=..., stride=...)`: it returns
# `(N, C_in * kh * kw, OH * OW)`, each column one window, channels first. With `groups=g`, the
# input channels split into `g` consecutive groups of `C_in / g`, and output channels likewise
# into `g` groups of `C_out / g`; group `i`'s outputs see only group `i`'s inputs. Do not call
# `F.conv2d` or `nn.Conv2d`: this *is* `conv2d`. No Python loop over pixels or batch elements (a
# loop over the groups is fine, or better, a batched matmul).

# %% [markdown]
# <details><summary>Hint 9.1 (1 of 2) — click to open</summary>
#
# Without groups: `weight.reshape(C_out, -1) @ cols` is `(N, C_out, OH * OW)`; reshape it to
# `(N, C_out, OH, OW)` and add `bias.reshape(1, -1, 1, 1)`.
#
# </details>
#
# <details><summary>Hint 9.1 (2 of 2) — click to open</summary>
#
# With groups: reshape `cols` to `(N, g, C_in/g * kh * kw, L)` and the weight to
# `(g, C_out/g, C_in/g * kh * kw)`; one broadcast matmul gives `(N, g, C_out/g, L)`.
#
# </details>

# %%
def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D convolution (PyTorch's cross-correlation) of ``x`` with ``weight``."""
    ### BEGIN SOLUTION
    pair = lambda v: (v, v) if isinstance(v, int) else tuple(v)  # noqa: E731
    stride, padding, dilation = pair(stride), pair(padding), pair(dilation)
    n, c_in, h, w = x.shape
    c_out, c_per_group, kh, kw = weight.shape
    if c_in != c_per_group * groups or c_out % groups:
        raise ValueError(f"weight {tuple(weight.shape)} does not fit {c_in} input channels in {groups} groups")
    oh = (h + 2 * padding[0] - dilation[0] * (kh - 1) - 1) // stride[0] + 1
    ow = (w + 2 * padding[1] - dilation[1] * (kw - 1) - 1) // stride[1] + 1
    cols = F.unfold(x, (kh, kw), dilation=dilation, padding=padding, stride=stride)
    cols = cols.reshape(n, groups, c_per_group * kh * kw, oh * ow)
    kernels = weight.reshape(groups, c_out // groups, c_per_group * kh * kw)
    out = (kernels @ cols).reshape(n, c_out, oh, ow)
    return out if bias is None else out + bias.reshape(1, -1, 1, 1)
    ### END SOLUTION


# %%
with demo("9.1"):
    print(conv2d(tt.ones(1, 2, 5, 5), tt.ones(4, 1, 3, 3), stride=2, padding=1, groups=2).shape)
    # expect (1, 4, 3, 3)

# %% [markdown]
# ## Exercise 9.2 — a residual block
#
# `ResidualBlock(channels)` computes `relu(x + bn2(conv2(relu(bn1(conv1(x))))))`, where `conv1`
# and `conv2` are `nn.Conv2d(channels, channels, 3, padding=1, bias=False)` and `bn1`, `bn2`
# are `nn.BatchNorm2d(channels)`. Use exactly these attribute names, so that its `state_dict`
# has the keys a library model expects (`conv1.weight`, `bn1.running_mean`, …). The input and
# output have the same shape.

# %% [markdown]
# <details><summary>Hint 9.2 (1 of 1) — click to open</summary>
#
# Assign the four layers in `__init__`; `forward` is one line. The skip connection is a plain
# `+` of the block's input.
#
# </details>

# %%
class ResidualBlock(nn.Module):
    def __init__(self, channels):
        super().__init__()
        ### BEGIN SOLUTION
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)
        ### END SOLUTION

    def forward(self, x):
        ### BEGIN SOLUTION
        return F.relu(x + self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x))))))
        ### END SOLUTION


# %%
with demo("9.2"):
    print(ResidualBlock(4)(tt.randn(2, 4, 6, 6)).shape)  # expect (2, 4, 6, 6)
