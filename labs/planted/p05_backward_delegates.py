# ruff: noqa — a fragment appended to a lab notebook: its names come from the notebook
# planted: ch05
# expect: 5.7 delegation
# backward that calls the library's engine.

# %%
def backward(loss):
    loss.backward()
