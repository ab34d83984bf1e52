# ruff: noqa — a fragment appended to a lab notebook: its names come from the notebook
# planted: ch13
# expect: 13.1 no delegation
# Calls the library's pass and keeps its elementwise groups.

# %%
from tinytorch.compiler import fusion as _fusion


def fuse(trace):
    return [g for g in _fusion.plan_groups(trace) if g.reduce is None]
