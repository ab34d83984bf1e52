"""Lab 17's checks that run on every MPI rank (see tinytorch.labs.ranks); not a test file.

Each function is called on every rank as ``check(namespace, rank, world)``, after the learner's
code ran in ``namespace``, and returns plain data that test_ch17.py compares with references it
computes itself. The model and the data are functions, so the grader can rebuild them.
"""

import numpy as np

import tinytorch as tt
import tinytorch.distributed as dist
import tinytorch.nn.functional as F
from tinytorch import nn, optim


def mlp(seed):
    tt.manual_seed(seed)
    return nn.Sequential(nn.Linear(5, 8), nn.Tanh(), nn.Linear(8, 3))


def data(n=12):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, 5)).astype(np.float32)
    return tt.tensor(x), tt.tensor((x[:, 0] > 0).astype(np.int64) + (x[:, 1] > 0.3))


def share(x, rank, world):
    size = len(x) // world
    return x[rank * size:(rank + 1) * size]


def averaged_gradients(ns, rank, world):
    """Each rank's gradient of the mean loss on its share, before and after average_gradients."""
    model = mlp(1)
    x, y = data()
    F.cross_entropy(model(share(x, rank, world)), share(y, rank, world)).backward()
    local = [p.grad.numpy() for p in model.parameters()]
    ns["average_gradients"](model)
    return {"local": local, "averaged": [p.grad.numpy() for p in model.parameters()]}


def training(ns, rank, world):
    """Three SGD steps (momentum) with average_gradients between backward and step."""
    model = mlp(2)
    opt = optim.SGD(model.parameters(), lr=0.3, momentum=0.9)
    x, y = data()
    for _ in range(3):
        opt.zero_grad()
        F.cross_entropy(model(share(x, rank, world)), share(y, rank, world)).backward()
        ns["average_gradients"](model)
        opt.step()
    return [p.detach().numpy() for p in model.parameters()]


def partly_trained(ns, rank, world):
    """A frozen bias (requires_grad=False) and an unused layer (grad None) must be left alone."""
    tt.manual_seed(3)
    model = nn.ModuleDict({"used": nn.Linear(5, 3), "unused": nn.Linear(5, 3)})
    model["used"].bias.requires_grad_(False)
    x, _ = data()
    model["used"](share(x, rank, world)).pow(2).mean().backward()
    ns["average_gradients"](model)
    return {name: None if p.grad is None else p.grad.numpy() for name, p in model.named_parameters()}


def shards(ns, rank, world):
    """This rank's shard of 23 examples in epochs 0 and 1, rank and world from the process group."""
    return {epoch: list(ns["shard_indices"](23, dist.get_world_size(), dist.get_rank(), epoch=epoch, seed=5))
            for epoch in (0, 1)}
