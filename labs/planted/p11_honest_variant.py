# ruff: noqa — a fragment appended to a lab notebook: its names come from the notebook
# planted: ch11
# expect: full
# Honest cells written another way (explicit matmuls, gates by slicing) and a while loop for TBPTT.

# %%
def rnn_tanh_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    pre = input @ w_ih.T + hx @ w_hh.T
    for b in (b_ih, b_hh):
        if b is not None:
            pre = pre + b
    return tt.tanh(pre)


def lstm_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    h, c = hx
    n = h.shape[-1]
    pre = input @ w_ih.T + h @ w_hh.T
    if b_ih is not None:
        pre = pre + b_ih
    if b_hh is not None:
        pre = pre + b_hh
    i, f = tt.sigmoid(pre[:, :n]), tt.sigmoid(pre[:, n:2 * n])
    g, o = tt.tanh(pre[:, 2 * n:3 * n]), tt.sigmoid(pre[:, 3 * n:])
    c = f * c + i * g
    return o * tt.tanh(c), c


def train_tbptt(model, x, y, k, optimizer):
    losses, state, t = [], None, 0
    while t < len(x):
        out, state = model(x[t:t + k], state)
        state = [s.detach() for s in state]
        loss = ((out - y[t:t + k]) ** 2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(float(loss))
        t += k
    return losses
