"""The examples in the docstrings of nn, optim, data and serialization run and print what they say."""

import doctest
import importlib

import pytest

import tinytorch as tt

MODULES = [
    "tinytorch.nn.module", "tinytorch.nn.parameter", "tinytorch.nn.linear", "tinytorch.nn.flatten",
    "tinytorch.nn.activation", "tinytorch.nn.conv", "tinytorch.nn.pooling", "tinytorch.nn.normalization",
    "tinytorch.nn.dropout", "tinytorch.nn.sparse", "tinytorch.nn.loss", "tinytorch.nn.container",
    "tinytorch.optim.sgd", "tinytorch.optim.adam", "tinytorch.optim.lr_scheduler", "tinytorch.optim.lbfgs",
    "tinytorch.data.dataset", "tinytorch.data.dataloader", "tinytorch.data.transforms", "tinytorch.data.datasets",
    "tinytorch.data.sampler",
    "tinytorch.serialization",
    # --- nn layers (issue 12) ---
    "tinytorch.nn.upsampling", "tinytorch.nn.distance", "tinytorch.nn.padding", "tinytorch.nn.fold",
    # --- sequence models ---
    "tinytorch.nn.rnn", "tinytorch.nn.attention", "tinytorch.nn.transformer", "tinytorch.nn.utils.rnn",
    # --- seeing inside (issue 19) ---
    "tinytorch.profiler", "tinytorch.viz.explorer",
    # --- distributed (no process group needed) ---
    "tinytorch.data.distributed", "tinytorch.distributed.collectives",
]


@pytest.mark.skipif(not hasattr(tt, "Tensor"), reason="the Tensor layer (tinytorch.Tensor) is missing")
@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    tt.manual_seed(0)
    result = doctest.testmod(importlib.import_module(name), extraglobs={"tt": tt}, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0, f"{result.failed} docstring example(s) failed in {name}"
