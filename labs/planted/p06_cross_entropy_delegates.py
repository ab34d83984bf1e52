# ruff: noqa — a fragment appended to a lab notebook: its names come from the notebook
# planted: ch06
# expect: 6.3 delegation
# cross_entropy that calls the library's.

# %%
import tinytorch.nn.functional as F


def cross_entropy(logits, target):
    return F.cross_entropy(logits, target)
