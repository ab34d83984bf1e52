# ruff: noqa — a fragment appended to a lab notebook: its names come from the notebook
# planted: ch13
# expect: 13.2 no delegation
# Hands the work to the library's own generator, grabbed when the notebook loads (before the
# grader swaps the compile path's generator for the learner's).

# %%
from tinytorch.compiler.codegen import c_source as _library_source


def kernel_source(group, trace):
    return _library_source(group, trace)
