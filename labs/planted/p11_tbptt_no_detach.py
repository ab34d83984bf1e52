# ruff: noqa — a fragment appended to a lab notebook: its names come from the notebook
# planted: ch11
# expect: 11.3 truncation
# train_tbptt that carries the state on without detaching it: the gradient flows past the chunk.

# %%
def train_tbptt(model, x, y, k, optimizer):
    state, losses = None, []
    for t in range(0, x.shape[0], k):
        prediction, state = model(x[t:t + k], state)
        loss = F.mse_loss(prediction, y[t:t + k])
        optimizer.zero_grad()
        loss.backward(retain_graph=True)
        optimizer.step()
        losses.append(loss.item())
    return losses
