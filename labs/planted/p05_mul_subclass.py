# ruff: noqa — a fragment appended to a lab notebook: its names come from the notebook
# planted: ch05
# expect: 5.2 inherits
# A one-line subclass of the library's Mul.

# %%
import importlib

Mul = type("Mul", (importlib.import_module("tinytorch.ops.elementwise").Mul,), {})


class Mul(importlib.import_module("tinytorch.ops.elementwise").Mul):
    pass
