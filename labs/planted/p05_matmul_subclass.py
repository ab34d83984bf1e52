# ruff: noqa — a fragment appended to a lab notebook: its names come from the notebook
# planted: ch05
# expect: 5.4 inherits
# A one-line subclass of the library's Matmul.

# %%
import importlib

Matmul = type("Matmul", (importlib.import_module("tinytorch.ops.matmul").Matmul,), {})


class Matmul(importlib.import_module("tinytorch.ops.matmul").Matmul):
    pass
