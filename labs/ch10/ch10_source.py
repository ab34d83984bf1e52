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
# # Lab 10 — Training well: batch normalisation and exact checkpoints
#
# *Read [chapter 10](../../book/chapters/ch10_training.md) of the book first; this lab builds
# what it explains.*
#
# | exercise | you write | points |
# |---|---|---|
# | 10.1 | `BatchNorm1d(num_features, eps=1e-5, momentum=0.1)` — training and evaluation modes | 10 |
# | 10.2 | `save_checkpoint(path, ...)` and `load_checkpoint(path, ...)` — a resume that is bit-exact | 8 |
#
# The grader runs your `BatchNorm1d` next to the library's inside a real network, through
# training and evaluation, and stops a training run half-way through with your checkpoint
# functions to check that the resumed run ends with exactly the weights of an uninterrupted one.
# Grade with `pytest labs/ch10`.

# %%
import tinytorch as tt
from tinytorch import nn
from tinytorch.labs import demo

# %% [markdown]
# ## Exercise 10.1 — `BatchNorm1d`
#
# Input `(N, C)` or `(N, C, L)`; statistics are per feature `C`, over every other dim.
#
# * **Training mode** (`self.training`): normalise with the batch's mean and *biased* variance
#   (`correction=0`), then update the running estimates with the *unbiased* variance
#   (`correction=1`): `running = (1 - momentum) * running + momentum * batch_statistic`. Count
#   the batches in `num_batches_tracked`.
# * **Evaluation mode**: normalise with `running_mean` and `running_var`.
# * Then scale by `weight` (ones) and shift by `bias` (zeros), both `nn.Parameter`s of shape
#   `(C,)`. The running statistics are **buffers** (`self.register_buffer(name, tensor)`):
#   `running_mean` (zeros), `running_var` (ones), `num_batches_tracked` (an int64 0), so that
#   `state_dict()` holds them and they move with `.to(...)`.
#
# The running statistics must not carry a graph: update them under `tt.no_grad()`, in place or
# by assigning new tensors. Do not use `nn.BatchNorm1d` or `F.batch_norm`.

# %% [markdown]
# <details><summary>Hint 10.1 (1 of 2) — click to open</summary>
#
# The dims to reduce are `(0,)` for a 2-D input and `(0, 2)` for a 3-D one. Reshape the `(C,)`
# statistics to `(1, C)` or `(1, C, 1)` to broadcast them.
#
# </details>
#
# <details><summary>Hint 10.1 (2 of 2) — click to open</summary>
#
# Inside `with tt.no_grad():` write `self.running_mean.mul_(1 - m).add_(m * mean.detach())`
# (and the same with the unbiased variance), and `self.num_batches_tracked += 1`.
#
# </details>

# %%
class BatchNorm1d(nn.Module):
    def __init__(self, num_features, eps=1e-5, momentum=0.1):
        super().__init__()
        ### BEGIN SOLUTION
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.weight = nn.Parameter(tt.ones(num_features))
        self.bias = nn.Parameter(tt.zeros(num_features))
        self.register_buffer("running_mean", tt.zeros(num_features))
        self.register_buffer("running_var", tt.ones(num_features))
        self.register_buffer("num_batches_tracked", tt.tensor(0))
        ### END SOLUTION

    def forward(self, x):
        ### BEGIN SOLUTION
        dims = (0,) if x.ndim == 2 else (0, 2)
        shape = (1, -1) if x.ndim == 2 else (1, -1, 1)
        if self.training:
            mean = x.mean(dims)
            var = x.var(dims, correction=0)
            with tt.no_grad():
                n = x.numel() // x.shape[1]
                unbiased = var.detach() * n / max(n - 1, 1)
                self.running_mean.mul_(1 - self.momentum).add_(self.momentum * mean.detach())
                self.running_var.mul_(1 - self.momentum).add_(self.momentum * unbiased)
                self.num_batches_tracked += 1
        else:
            mean, var = self.running_mean, self.running_var
        x_hat = (x - mean.reshape(shape)) / tt.sqrt(var.reshape(shape) + self.eps)
        return x_hat * self.weight.reshape(shape) + self.bias.reshape(shape)
        ### END SOLUTION


# %%
with demo("10.1"):
    bn = BatchNorm1d(2)
    bn(tt.tensor([[1.0, 10.0], [3.0, 30.0]]))
    print(bn.running_mean)  # expect [0.2, 2.0]

# %% [markdown]
# ## Exercise 10.2 — checkpoints that resume exactly
#
# `save_checkpoint(path, model, optimizer, scheduler, epoch, generator)` writes, with `tt.save`,
# everything a training run depends on: the model's and the optimizer's and the scheduler's
# `state_dict()`, the epoch, the state of `generator` (the `tt.Generator` that shuffles the
# data: `generator.get_state()`) and the state of the default generator
# (`tt.default_generator.get_state()`, which dropout draws from).
#
# `load_checkpoint(path, model, optimizer, scheduler, generator)` reads the file with `tt.load`,
# puts every piece back (`load_state_dict`, `set_state`) and returns the epoch that was saved.
#
# The grader trains a model for 4 epochs straight, and again for 2 epochs, saves, builds
# *new* model, optimizer, scheduler and generator objects, loads, and trains 2 more: the weights
# must be *equal*, not merely close.

# %% [markdown]
# <details><summary>Hint 10.2 (1 of 1) — click to open</summary>
#
# `tt.save({"model": model.state_dict(), ..., "rng": tt.default_generator.get_state()}, path)`;
# a dictionary is the whole file format you need.
#
# </details>

# %%
def save_checkpoint(path, model, optimizer, scheduler, epoch, generator):
    ### BEGIN SOLUTION
    tt.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
             "scheduler": scheduler.state_dict(), "epoch": epoch, "shuffle": generator.get_state(),
             "default_rng": tt.default_generator.get_state()}, path)
    ### END SOLUTION


def load_checkpoint(path, model, optimizer, scheduler, generator):
    ### BEGIN SOLUTION
    state = tt.load(path)
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    generator.set_state(state["shuffle"])
    tt.default_generator.set_state(state["default_rng"])
    return state["epoch"]
    ### END SOLUTION
