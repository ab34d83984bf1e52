# ruff: noqa — a fragment appended to a lab notebook: its names come from the notebook
# planted: ch01
# expect: 1.1 notebook
# The library's function, imported under the exercise's name.

# %%
from tinytorch.ndarray.strides import row_major_strides  # noqa: F401
