# ruff: noqa — a fragment appended to a lab notebook: its names come from the notebook
# planted: ch05
# expect: 5.3 inherits
# A one-line subclass of the library's Sum.

# %%
import importlib

Sum = type("Sum", (importlib.import_module("tinytorch.ops.reduce").Sum,), {})


class Sum(importlib.import_module("tinytorch.ops.reduce").Sum):
    pass
