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
# # Lab 8 — Data loading and training MNIST
#
# *Read [chapter 8](../../book/chapters/ch08_data_mnist.md) of the book first; this lab builds
# what it explains.*
#
# The last lab puts the library to work: you write the loop that feeds a model mini-batches,
# and the loop that trains it, and you train a network on real MNIST digits (the 5,000-image
# subset that ships with tinytorch).
#
# | exercise | you write | points |
# |---|---|---|
# | 8.1 | `DataLoader(dataset, batch_size=1, shuffle=False, drop_last=False, seed=None)` | 8 |
# | 8.2 | `train_epoch(model, loader, optimizer, loss_fn)` and `evaluate(model, loader)` | 8 |
#
# The grader trains a model with your `DataLoader` (and the library's training code), then
# trains and evaluates an MLP on MNIST with your loops (and the library's DataLoader): it must
# reach **at least 85% test accuracy in two epochs**. Grade with `pytest labs/ch08`.

# %%
import numpy as np

import tinytorch as tt
from tinytorch import nn, optim
from tinytorch.data import TensorDataset
from tinytorch.data.datasets import MNIST
from tinytorch.labs import demo

# %% [markdown]
# ## Exercise 8.1 — a DataLoader
#
# A dataset is anything with `len(dataset)` and `dataset[i]`; here each example is a tuple such
# as `(image, label)`. Iterating over the loader yields **batches**: tuples whose `k`-th entry
# combines the `k`-th entries of `batch_size` consecutive examples — Tensors stacked along a new
# first dim (`tt.stack(list_of_tensors, 0)`), Python ints gathered into one int64 tensor.
#
# * `shuffle=False`: examples in order `0, 1, 2, …`. `shuffle=True`: a fresh random permutation
#   every epoch (every `iter(loader)`), reproducible from `seed` (use `np.random.default_rng(seed)`
#   once, in `__init__`, and draw each epoch's permutation from it).
# * The last batch may be smaller; with `drop_last=True` it is dropped.
# * `len(loader)` is the number of batches per epoch.

# %% [markdown]
# <details><summary>Hint 8.1 (1 of 2) — click to open</summary>
#
# Make the order of indices first (`np.arange(n)` or a permutation from `self.rng`), then cut it
# into slices of `batch_size`.
#
# </details>
#
# <details><summary>Hint 8.1 (2 of 2) — click to open</summary>
#
# For each batch, `zip(*examples)` gives the columns: stack tensors with `tt.stack(column, 0)`,
# turn ints into one int64 tensor.
#
# </details>

# %%
class DataLoader:
    def __init__(self, dataset, batch_size=1, shuffle=False, drop_last=False, seed=None):
        ### BEGIN SOLUTION
        self.dataset, self.batch_size = dataset, batch_size
        self.shuffle, self.drop_last = shuffle, drop_last
        self.rng = np.random.default_rng(seed)
        ### END SOLUTION

    def __len__(self):
        ### BEGIN SOLUTION
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)
        ### END SOLUTION

    def __iter__(self):
        ### BEGIN SOLUTION
        n = len(self.dataset)
        order = self.rng.permutation(n) if self.shuffle else np.arange(n)
        for start in range(0, n, self.batch_size):
            idx = order[start:start + self.batch_size]
            if self.drop_last and len(idx) < self.batch_size:
                return
            examples = [self.dataset[int(i)] for i in idx]
            yield tuple(tt.stack(list(column), 0) if isinstance(column[0], tt.Tensor)
                        else tt.tensor(list(column), dtype=tt.int64) for column in zip(*examples))
        ### END SOLUTION


# %%
with demo("8.1"):
    toy = TensorDataset(tt.arange(10).reshape(5, 2), tt.arange(5))
    print([(x.tolist(), y.tolist()) for x, y in DataLoader(toy, batch_size=2)])

# %% [markdown]
# ## Exercise 8.2 — the training loop
#
# `train_epoch` makes one pass over `loader`: for each batch `(x, y)`, clear the gradients,
# compute `loss_fn(model(x), y)`, backpropagate, and take an optimizer step. Put the model in
# training mode first (`model.train()`) and return the mean of the batch losses (a float).
#
# `evaluate` returns the fraction of examples whose predicted class (the arg-max of the model's
# output) equals the label, as a float — in evaluation mode (`model.eval()`) and without
# recording graphs (`with tt.no_grad():`).

# %% [markdown]
# <details><summary>Hint 8.2 (1 of 2) — click to open</summary>
#
# `train_epoch`: `model.train()`, then for every batch zero_grad, forward, loss, backward, step;
# collect `loss.item()`.
#
# </details>
#
# <details><summary>Hint 8.2 (2 of 2) — click to open</summary>
#
# `evaluate`: `model.eval()` and `with tt.no_grad():`; count `(model(x).argmax(1) ==
# y).sum().item()` over all batches.
#
# </details>

# %%
def train_epoch(model, loader, optimizer, loss_fn):
    """One epoch of training; returns the mean loss over the batches."""
    ### BEGIN SOLUTION
    model.train()
    losses = []
    for x, y in loader:
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return sum(losses) / len(losses)
    ### END SOLUTION


def evaluate(model, loader):
    """Accuracy of ``model`` on the examples of ``loader``."""
    ### BEGIN SOLUTION
    model.eval()
    correct = total = 0
    with tt.no_grad():
        for x, y in loader:
            correct += (model(x).argmax(1) == y).sum().item()
            total += y.shape[0]
    return correct / total
    ### END SOLUTION


# %% [markdown]
# ## Train it
#
# Images become float tensors scaled to mean 0 and standard deviation 1 (the MNIST constants).
# Two epochs of an MLP take a few seconds per epoch. (The grader skips this cell — it trains
# its own model — which is what the `if __name__ == "__main__"` line is for.)

# %%
def mnist_tensors(train):
    ds = MNIST(train=train)
    x = (np.asarray(ds.data, dtype=np.float32) / 255 - 0.1307) / 0.3081
    return TensorDataset(tt.tensor(x), tt.tensor(np.asarray(ds.targets), dtype=tt.int64))


if __name__ == "__main__":
    with demo("8.1 and 8.2"):
        tt.manual_seed(0)
        model = nn.Sequential(nn.Flatten(), nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))
        optimizer = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        train_loader = DataLoader(mnist_tensors(True), batch_size=64, shuffle=True, seed=0)
        test_loader = DataLoader(mnist_tensors(False), batch_size=500)
        for epoch in range(2):
            loss = train_epoch(model, train_loader, optimizer, nn.CrossEntropyLoss())
            print(f"epoch {epoch + 1}: loss {loss:.3f}, test accuracy {evaluate(model, test_loader):.3f}")
