# ruff: noqa — a fragment appended to a lab notebook: its names come from the notebook
# planted: ch14
# expect: 14.3 sum
# A sum rule that moves the batch to the front but forgets to shift the dims: it sums over the
# batch dimension instead of the example's first dimension.

# %%
def sum_rule(level, args, params, run):
    value, bdim = unwrap(args[0], level)
    return run((front(value, bdim),), params), 0
