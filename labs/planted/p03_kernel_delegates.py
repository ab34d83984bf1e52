# ruff: noqa — a fragment appended to a lab notebook: its names come from the notebook
# planted: ch03
# expect: 3.1 delegation
# Kernels that call the numpy backend's own.

# %%
import tinytorch.ndarray.backend_numpy as B


def ewise_mul(a, b, out):
    B.ewise_mul(a, b, out)


def scalar_add(a, s, out):
    B.scalar_add(a, s, out)
