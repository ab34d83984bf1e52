# ruff: noqa — a fragment appended to a lab notebook: its names come from the notebook
# planted: ch06
# expect: 6.1 inherits
# Linear inheriting the library's.

# %%
class Linear(nn.Linear):
    pass
