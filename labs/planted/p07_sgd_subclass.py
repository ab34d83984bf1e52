# ruff: noqa — a fragment appended to a lab notebook: its names come from the notebook
# planted: ch07
# expect: 7.1 inherits
# SGD inheriting the library's.

# %%
class SGD(optim.SGD):
    pass
