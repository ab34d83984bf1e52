"""Lab 10 grader: batch normalisation and checkpoints that resume exactly."""

import tempfile
from pathlib import Path

import numpy as np
import pytest

import tinytorch as tt
import tinytorch.nn.functional as F
from tinytorch import nn, optim
from tinytorch.data import DataLoader, TensorDataset
from tinytorch.labs import check, check_close, check_equal, check_exact

TITLE = "training well"
EXERCISES = {"10.1": "BatchNorm1d", "10.2": "save_checkpoint"}
#: the library's own version of each exercise: it raises if the notebook's code calls it while graded
REFERENCES = {
    "10.1": ["tinytorch.nn.normalization:BatchNorm1d", "tinytorch.nn.functional:batch_norm"],
}


# --- 10.1 BatchNorm1d -----------------------------------------------------------------------------------
@pytest.mark.points(3, exercise="10.1", hint="normalise with the batch's mean and biased variance")
def test_batchnorm_training_mode(lab):
    """2-D and 3-D inputs in training mode: outputs and gradients equal nn.BatchNorm1d's"""
    BatchNorm1d = lab.defined("BatchNorm1d")
    tt.manual_seed(0)
    for shape in ((8, 3), (5, 3, 4)):
        mine, ref = BatchNorm1d(3), nn.BatchNorm1d(3)
        state = {"weight": tt.randn(3), "bias": tt.randn(3)}
        mine.load_state_dict(state, strict=False)
        ref.load_state_dict(state, strict=False)
        x1 = (tt.randn(*shape) * 3 + 2).requires_grad_()
        x2 = x1.detach().clone().requires_grad_()
        out_mine, out_ref = mine(x1), ref(x2)
        check_close(out_mine, out_ref, f"BatchNorm1d(3) on {shape} in training mode", rtol=1e-4, atol=1e-5)
        g = tt.randn(*shape)
        (out_mine * g).sum().backward()
        (out_ref * g).sum().backward()
        check_close(x1.grad, x2.grad, f"the input's gradient for {shape}", rtol=1e-3, atol=1e-5)
        for name, p in ref.named_parameters():
            check_close(dict(mine.named_parameters())[name].grad, p.grad, f"the gradient of {name}",
                        rtol=1e-3, atol=1e-5)


@pytest.mark.points(3, exercise="10.1", hint="running = (1 - momentum) * running + momentum * unbiased batch variance")
def test_batchnorm_running_statistics(lab):
    """buffers in the state_dict; running mean, unbiased running variance and the batch count after
    several batches equal nn.BatchNorm1d's, with the default and another momentum"""
    BatchNorm1d = lab.defined("BatchNorm1d")
    for momentum in (0.1, 0.5):
        mine, ref = BatchNorm1d(4, momentum=momentum), nn.BatchNorm1d(4, momentum=momentum)
        check_equal(sorted(mine.state_dict()), sorted(ref.state_dict()), "the state_dict keys")
        tt.manual_seed(1)
        for _ in range(5):
            x = tt.randn(6, 4) * tt.tensor([1.0, 2.0, 0.5, 4.0]) + tt.tensor([0.0, -1.0, 3.0, 10.0])
            mine(x)
            ref(x)
        for name in ("running_mean", "running_var"):
            got = getattr(mine, name)
            check(not got.requires_grad and got.grad_fn is None, f"{name} carries a graph: update it under no_grad")
            check_close(got, getattr(ref, name), f"{name} after 5 batches (momentum {momentum})", rtol=1e-5)
        check_equal(int(mine.num_batches_tracked), 5, "num_batches_tracked after 5 batches")


@pytest.mark.points(4, exercise="10.1", hint="in eval mode use running_mean and running_var, never the batch's")
def test_batchnorm_eval_mode_in_a_network(lab):
    """a network with your BatchNorm1d trains like the library's; in eval mode an example's output does
    not depend on the rest of its batch"""
    BatchNorm1d = lab.defined("BatchNorm1d")

    def net(bn):
        return nn.Sequential(nn.Linear(5, 8), bn(8), nn.ReLU(), nn.Linear(8, 2))

    tt.manual_seed(2)
    ref = net(nn.BatchNorm1d)
    mine = net(BatchNorm1d)
    mine.load_state_dict(ref.state_dict())
    x = tt.randn(32, 5)
    y = (x[:, 0] + x[:, 1] > 0).long()
    for model in (mine, ref):
        opt = optim.SGD(model.parameters(), lr=0.1)
        for _ in range(10):
            opt.zero_grad()
            F.cross_entropy(model(x), y).backward()
            opt.step()
        model.eval()
    check_close(mine(x), ref(x), "the trained network's outputs in eval mode", rtol=1e-3, atol=1e-4)
    alone, in_batch = mine(x[:1]), mine(x[:4])[:1]
    check_close(alone, in_batch, "one example alone vs in a batch, in eval mode", rtol=1e-5, atol=1e-6)


# --- 10.2 checkpoints -------------------------------------------------------------------------------------
def build(seed):
    tt.manual_seed(seed)
    model = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Dropout(0.3), nn.Linear(16, 3))
    optimizer = optim.Adam(model.parameters(), lr=0.01)
    scheduler = optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.7)
    return model, optimizer, scheduler, tt.Generator().manual_seed(seed + 1)


def train(model, optimizer, scheduler, generator, data, epochs):
    loader = DataLoader(data, batch_size=16, shuffle=True, generator=generator)
    for _ in range(epochs):
        model.train()
        for x, y in loader:
            optimizer.zero_grad()
            F.cross_entropy(model(x), y).backward()
            optimizer.step()
        scheduler.step()


def dataset():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((80, 6)).astype(np.float32)
    return TensorDataset(tt.tensor(x), tt.tensor((x[:, 0] > 0).astype(np.int64) + (x[:, 1] > 1)))


@pytest.mark.points(8, exercise="10.2", hint="save the model, optimizer, scheduler, epoch and both generators' states")
def test_resume_is_bit_exact(lab):
    """4 epochs straight vs 2 epochs, save, fresh objects, load, 2 more: equal weights, learning rate and
    Adam state"""
    save_checkpoint, load_checkpoint = lab.defined("save_checkpoint"), lab.defined("load_checkpoint")
    data = dataset()
    straight = build(7)
    tt.manual_seed(100)
    train(*straight, data, epochs=4)
    first = build(7)
    tt.manual_seed(100)
    train(*first, data, epochs=2)
    path = Path(tempfile.mkdtemp()) / "ckpt.pt"
    save_checkpoint(str(path), first[0], first[1], first[2], 2, first[3])
    check(path.exists(), "save_checkpoint wrote no file at the path it was given")
    tt.manual_seed(12345)  # a different default generator state: the checkpoint must restore it
    resumed = build(99)  # fresh objects with other initial weights and another shuffle seed
    epoch = load_checkpoint(str(path), *resumed)
    check_equal(epoch, 2, "the epoch load_checkpoint returns")
    train(*resumed, data, epochs=4 - epoch)
    for (name, a), (_, b) in zip(straight[0].named_parameters(), resumed[0].named_parameters()):
        check_exact(b, a, f"{name} after resuming (must equal the uninterrupted run exactly)")
    check_equal(resumed[2].get_last_lr(), straight[2].get_last_lr(), "the scheduler's learning rate")
