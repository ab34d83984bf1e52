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
# # Lab 11 — Sequence models: recurrent cells and truncated backpropagation through time
#
# *Read [chapter 11](../../book/chapters/ch11_sequence_models.md) of the book first; this lab builds
# what it explains.*
#
# | exercise | you write | points |
# |---|---|---|
# | 11.1 | `rnn_tanh_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None)` — one step of `nn.RNNCell` | 6 |
# | 11.2 | `lstm_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None)` — one step of `nn.LSTMCell` | 8 |
# | 11.3 | `train_tbptt(model, x, y, k, optimizer)` — one pass of truncated backpropagation through time | 6 |
#
# The two cells are the functions PyTorch's own `nn.RNNCell` and `nn.LSTMCell` call
# (`torch.rnn_tanh_cell` and `torch.lstm_cell` have these signatures). You write the forward
# step with Tensor ops; autograd gives the backward pass. The grader compares them with the
# library's cells (and with PyTorch's, when it is installed) on values and gradients, then puts
# your cell *inside* the library: every time step of a two-layer, bidirectional `nn.RNN` or
# `nn.LSTM` runs your code, with weights copied in through `load_state_dict`, and the outputs
# and every parameter's gradient must equal the library's own.
# Grade with `pytest labs/ch11`.

# %%
import tinytorch as tt
import tinytorch.nn.functional as F
from tinytorch import nn, optim
from tinytorch.labs import demo

# %% [markdown]
# ## Exercise 11.1 — `rnn_tanh_cell`: one step of an Elman RNN
#
# `input` is `(B, H_in)`, `hx` is `(B, H)`, `w_ih` is `(H, H_in)`, `w_hh` is `(H, H)`, and the
# biases are `(H,)` or `None`. Return the new hidden state, `(B, H)`:
#
# $$h' = \tanh(x W_{ih}^\top + b_{ih} + h W_{hh}^\top + b_{hh})$$
#
# Either bias may be `None` on its own (leave that term out). Do not call `nn.RNNCell`,
# `nn.RNN` or anything in `tinytorch.nn.rnn`: this *is* the cell.

# %% [markdown]
# <details><summary>Hint 11.1 (1 of 1) — click to open</summary>
#
# `F.linear(input, w_ih, b_ih)` is $x W_{ih}^\top + b_{ih}$ and accepts `b_ih=None`.
#
# </details>

# %%
def rnn_tanh_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    ### BEGIN SOLUTION
    return (F.linear(input, w_ih, b_ih) + F.linear(hx, w_hh, b_hh)).tanh()
    ### END SOLUTION


# %%
with demo("11.1"):
    h = rnn_tanh_cell(tt.ones(1, 2), tt.zeros(1, 3), tt.ones(3, 2), tt.eye(3))
    print(h)  # expect tanh(2) = 0.9640 three times

# %% [markdown]
# ## Exercise 11.2 — `lstm_cell`: one step of an LSTM
#
# `hx` is the pair `(h, c)`, both `(B, H)`; `w_ih` is `(4H, H_in)`, `w_hh` is `(4H, H)`, the
# biases `(4H,)` or `None`. One matmul of each weight gives all four gates at once; split the
# `(B, 4H)` result into four `(B, H)` blocks **in PyTorch's order `i, f, g, o`** (input gate,
# forget gate, candidate cell, output gate):
#
# $$i = \sigma(\cdot),\quad f = \sigma(\cdot),\quad g = \tanh(\cdot),\quad o = \sigma(\cdot)$$
# $$c' = f \odot c + i \odot g, \qquad h' = o \odot \tanh(c')$$
#
# Return the pair `(h', c')`. The order matters: weights trained in PyTorch and loaded with
# `load_state_dict` only mean the same thing if your blocks are the same as PyTorch's.

# %% [markdown]
# <details><summary>Hint 11.2 (1 of 2) — click to open</summary>
#
# `gates.chunk(4, dim=-1)` returns four views of equal width, left to right.
#
# </details>
#
# <details><summary>Hint 11.2 (2 of 2) — click to open</summary>
#
# The new *hidden* state uses the *new* cell state: `h' = o.sigmoid() * c_new.tanh()`.
#
# </details>

# %%
def lstm_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    ### BEGIN SOLUTION
    h, c = hx
    gates = F.linear(input, w_ih, b_ih) + F.linear(h, w_hh, b_hh)
    i, f, g, o = gates.chunk(4, dim=-1)
    c_new = f.sigmoid() * c + i.sigmoid() * g.tanh()
    return o.sigmoid() * c_new.tanh(), c_new
    ### END SOLUTION


# %%
with demo("11.2"):
    h, c = lstm_cell(tt.zeros(1, 2), (tt.zeros(1, 1), tt.ones(1, 1)), tt.zeros(4, 2), tt.zeros(4, 1))
    print(h, c)  # every gate is sigmoid(0) = 0.5 and g = tanh(0) = 0: c' = 0.5, h' = 0.5 * tanh(0.5)

# %% [markdown]
# ## Exercise 11.3 — truncated backpropagation through time
#
# A long sequence does not fit in one backward pass: the graph of 10,000 unrolled steps holds
# every intermediate. *Truncated* BPTT cuts the sequence into chunks of `k` steps. It carries
# the recurrent state from one chunk to the next (so the model still sees the whole past), but
# **detaches** it, so that each chunk's backward pass stops at the chunk's start.
#
# `model(x_chunk, state)` returns `(prediction, state)`; `state` is `None` at the start, else
# whatever the model returned (for an LSTM, a pair of tensors). `x` is `(T, B, F)` and `y` is
# `(T, B, O)`, time first. Write `train_tbptt(model, x, y, k, optimizer)` that, for each chunk
# `x[t:t + k]` with `t = 0, k, 2k, ...` (the last chunk may be shorter):
#
# 1. runs the model on the chunk from the carried state,
# 2. computes `F.mse_loss(prediction, y[t:t + k])`,
# 3. zeroes the gradients, calls `backward()`, takes an `optimizer.step()`,
# 4. detaches the new state (every tensor in it) and carries it to the next chunk.
#
# Return the list of the chunks' losses as Python floats.

# %% [markdown]
# <details><summary>Hint 11.3 (1 of 1) — click to open</summary>
#
# `state = tuple(s.detach() for s in state)` for an LSTM's `(h, c)`; `loss.item()` is the float.
#
# </details>

# %%
def train_tbptt(model, x, y, k, optimizer):
    ### BEGIN SOLUTION
    state, losses = None, []
    for t in range(0, x.shape[0], k):
        prediction, state = model(x[t:t + k], state)
        loss = F.mse_loss(prediction, y[t:t + k])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        state = tuple(s.detach() for s in state)
        losses.append(loss.item())
    return losses
    ### END SOLUTION


# %%
with demo("11.3"):
    class Echo(nn.Module):
        """Predicts the previous input: an LSTM and a linear read-out."""

        def __init__(self):
            super().__init__()
            self.lstm, self.head = nn.LSTM(1, 8), nn.Linear(8, 1)

        def forward(self, x, state=None):
            out, state = self.lstm(x, state)
            return self.head(out), state

    tt.manual_seed(0)
    x = tt.randn(60, 4, 1)
    y = tt.cat([tt.zeros(1, 4, 1), x[:-1]])
    echo = Echo()
    opt = optim.Adam(echo.parameters(), lr=0.02)
    for _ in range(5):
        losses = train_tbptt(echo, x, y, 10, opt)
    print([round(v, 3) for v in losses])  # the losses of the last pass: well below 1 (the variance of y)
