# ruff: noqa — a fragment appended to a lab notebook: its names come from the notebook
# planted: ch02
# expect: 2.1 delegation
# A wrapper that grabbed the library's function at load time.

# %%
import tinytorch.ndarray.strides as S

_orig = S.permute_view


def permute_view(*a):
    return _orig(*a)
