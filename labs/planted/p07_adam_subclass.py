# ruff: noqa — a fragment appended to a lab notebook: its names come from the notebook
# planted: ch07
# expect: 7.2 inherits
# Adam inheriting the library's.

# %%
class Adam(optim.Adam):
    pass
