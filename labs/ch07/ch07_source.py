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
# # Lab 7 — Optimizers
#
# *Read [chapter 7](../../book/chapters/ch07_optim.md) of the book first; this lab builds what it
# explains.*
#
# An optimizer turns gradients into parameter updates. Chapter 7 derived SGD with momentum
# and Adam; here you write both, as subclasses of `tinytorch.optim.Optimizer`, which already
# keeps `self.param_groups` (a list of dicts holding `"params"` and the hyper-parameters you
# pass as `defaults`), `self.state` (a dict from parameter to its own state dict) and
# `zero_grad()`.
#
# | exercise | you write | points |
# |---|---|---|
# | 7.1 | `SGD(params, lr, momentum=0, weight_decay=0)` — `step()` | 10 |
# | 7.2 | `Adam(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0)` — `step()` | 10 |
#
# Updates must equal PyTorch's **step for step** (the grader compares with the library's
# optimizers, which are checked against PyTorch). Update parameters in place under
# `tt.no_grad()` — `p -= lr * g` or `p.add_(g, alpha=-lr)` — so that the graph does not
# record the update, and skip parameters whose `.grad` is `None`. Read every hyper-parameter from
# the parameter's **group** (`group["lr"]`), never from `self.defaults`: groups may have settings of
# their own, and a learning-rate scheduler changes `group["lr"]` between steps (the grader uses
# both). Grade with `pytest labs/ch07`.

# %%
import tinytorch as tt
from tinytorch import nn, optim
from tinytorch.labs import demo

# %% [markdown]
# ## Exercise 7.1 — SGD with momentum
#
# For each parameter $p$ with gradient $g$:
#
# 1. with weight decay $\lambda$: $g \leftarrow g + \lambda p$;
# 2. with momentum $\mu > 0$: $b \leftarrow g$ on the first step (a copy: `g.clone()`), then
#    $b \leftarrow \mu b + g$; use $b$ as the step direction. Keep $b$ in `self.state[p]`;
# 3. $p \leftarrow p - \text{lr} \cdot g$ (or $b$).

# %% [markdown]
# <details><summary>Hint 7.1 (1 of 2) — click to open</summary>
#
# Loop over `self.param_groups` and read `lr`, `momentum` and `weight_decay` from each **group**,
# every step: a scheduler changes `group['lr']` between steps.
#
# </details>
#
# <details><summary>Hint 7.1 (2 of 2) — click to open</summary>
#
# The momentum buffer lives in `self.state[p]`; the first step stores a clone of the gradient.
#
# </details>

# %%
class SGD(optim.Optimizer):
    def __init__(self, params, lr, momentum=0.0, weight_decay=0.0):
        super().__init__(params, dict(lr=lr, momentum=momentum, weight_decay=weight_decay))

    @tt.no_grad()
    def step(self):
        ### BEGIN SOLUTION
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = p.grad
                if group["weight_decay"]:
                    g = g + group["weight_decay"] * p
                if group["momentum"]:
                    state = self.state.setdefault(p, {})
                    if "momentum_buffer" not in state:
                        state["momentum_buffer"] = g.clone()
                    else:
                        state["momentum_buffer"] = group["momentum"] * state["momentum_buffer"] + g
                    g = state["momentum_buffer"]
                p.add_(g, alpha=-group["lr"])
        ### END SOLUTION


# %% [markdown]
# ## Exercise 7.2 — Adam
#
# Per parameter, with step count $t$ (starting at 1), first and second moments $m, v$
# (starting at zero), and gradient $g$ (plus $\lambda p$ with weight decay):
#
# $$m \leftarrow \beta_1 m + (1 - \beta_1) g, \qquad v \leftarrow \beta_2 v + (1 - \beta_2) g^2$$
# $$p \leftarrow p - \text{lr} \cdot \frac{m / (1 - \beta_1^t)}{\sqrt{v / (1 - \beta_2^t)} +
# \epsilon}$$
#
# The divisions by $1 - \beta^t$ undo the bias of starting the averages at zero.

# %% [markdown]
# <details><summary>Hint 7.2 (1 of 2) — click to open</summary>
#
# Keep `step`, `m` and `v` per parameter in `self.state[p]`; count steps per parameter, only when
# it has a gradient.
#
# </details>
#
# <details><summary>Hint 7.2 (2 of 2) — click to open</summary>
#
# Read `lr`, `betas`, `eps` and `weight_decay` from each group; bias-correct with `1 - beta ** t`.
#
# </details>

# %%
class Adam(optim.Optimizer):
    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay))

    @tt.no_grad()
    def step(self):
        ### BEGIN SOLUTION
        for group in self.param_groups:
            b1, b2 = group["betas"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = p.grad
                if group["weight_decay"]:
                    g = g + group["weight_decay"] * p
                state = self.state.setdefault(p, {})
                if not state:
                    state.update(step=0, m=tt.zeros_like(p), v=tt.zeros_like(p))
                state["step"] += 1
                t = state["step"]
                state["m"] = b1 * state["m"] + (1 - b1) * g
                state["v"] = b2 * state["v"] + (1 - b2) * g * g
                m_hat = state["m"] / (1 - b1 ** t)
                v_hat = state["v"] / (1 - b2 ** t)
                p.sub_(group["lr"] * m_hat / (tt.sqrt(v_hat) + group["eps"]))
        ### END SOLUTION


# %%
with demo("7.2"):
    w = nn.Parameter(tt.tensor([3.0, -2.0]))
    opt = Adam([w], lr=0.1)
    for _ in range(200):
        opt.zero_grad()
        ((w - 1.0) ** 2).sum().backward()
        opt.step()
    print(w)  # expect close to [1, 1]
