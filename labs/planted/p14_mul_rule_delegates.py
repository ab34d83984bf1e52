# ruff: noqa — a fragment appended to a lab notebook: its names come from the notebook
# planted: ch14
# expect: 14.3 delegation
# A mul rule that hands the work to the library's own pointwise rule.

# %%
from tinytorch.func import batching as _batching


def mul_rule(level, args, params, run):
    return _batching.pointwise_rule(level, args, params, run)
