# ruff: noqa — a fragment appended to a lab notebook: its names come from the notebook
# planted: ch05
# expect: 5.1 inherits
# A one-line subclass of the library's Exp.

# %%
import importlib

Exp = type("Exp", (importlib.import_module("tinytorch.ops.elementwise").Exp,), {})


class Exp(importlib.import_module("tinytorch.ops.elementwise").Exp):
    pass
