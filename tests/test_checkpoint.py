"""``tinytorch.utils.checkpoint``: the same outputs and gradients as without checkpointing (the
dropout masks replayed), with the segment's intermediate results kept out of the graph."""

from __future__ import annotations

import numpy as np

import tinytorch as tt
from tinytorch import nn
from tinytorch.utils.checkpoint import checkpoint, checkpoint_sequential


def model():
    tt.manual_seed(0)
    net = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Dropout(0.3), nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 2))
    return net.double()


def run(mode):
    net = model()
    x = tt.tensor(np.sin(np.arange(12.0)).reshape(3, 4), dtype=tt.float64, requires_grad=True)
    tt.manual_seed(5)  # the dropout masks
    if mode == "plain":
        y = net(x)
    elif mode == "function":
        y = checkpoint(lambda v: net[3:](net[:3](v)), x, use_reentrant=True)
    else:
        y = checkpoint_sequential(net, 3, x, use_reentrant=False)
    nodes = len(tt.autograd.topo_order([y.grad_fn]))
    (y * tt.tensor([[1.0, -2.0]], dtype=tt.float64)).sum().backward()
    return [y.detach().numpy(), x.grad.numpy()] + [p.grad.numpy() for p in net.parameters()], nodes


def test_checkpointing_changes_nothing_but_the_graph():
    plain, plain_nodes = run("plain")
    for mode in ("function", "sequential"):
        got, nodes = run(mode)
        for a, b in zip(got, plain):
            np.testing.assert_array_equal(a, b)
        assert nodes < plain_nodes  # the checkpointed layers are one node, not one per op


def test_whole_function_is_one_node_and_inputs_without_grad_still_train_the_parameters():
    net = model().eval()
    x = tt.ones(2, 4, dtype=tt.float64, requires_grad=True)
    y = checkpoint(net, x)
    assert len(tt.autograd.topo_order([y.grad_fn])) == 1
    free = tt.ones(2, 4, dtype=tt.float64)  # no input requires grad: runs as usual, parameters still learn
    checkpoint(net, free).sum().backward()
    assert all(p.grad is not None for p in net.parameters())
