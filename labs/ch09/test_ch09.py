"""Lab 9 grader: convolutions and residual networks."""

import numpy as np
import pytest

import tinytorch as tt
import tinytorch.nn.functional as F
from tinytorch import nn, optim
from tinytorch.labs import check, check_close, check_equal

TITLE = "convolutions and residual networks"
EXERCISES = {"9.1": "conv2d", "9.2": "ResidualBlock"}
#: the library's own version of each exercise: it raises if the notebook's code calls it while graded
REFERENCES = {
    "9.1": ["tinytorch.nn.functional:conv2d", "tinytorch.nn.conv:Conv2d", "tinytorch.nn.conv:Conv1d"],
}

CASES = [  # (x shape, weight shape, options)
    ((2, 3, 7, 7), (4, 3, 3, 3), {}),
    ((1, 2, 8, 6), (5, 2, 3, 2), {"stride": 2, "padding": 1}),
    ((2, 3, 9, 9), (2, 3, 3, 3), {"dilation": 2, "padding": 2}),
    ((1, 1, 6, 7), (3, 1, 2, 3), {"stride": (2, 1), "padding": (1, 0), "dilation": (1, 2)}),
    ((2, 2, 5, 5), (3, 2, 1, 1), {}),
]
GROUP_CASES = [
    ((2, 4, 6, 6), (6, 2, 3, 3), {"groups": 2, "padding": 1}),
    ((1, 6, 7, 5), (6, 1, 3, 3), {"groups": 6, "stride": 2}),  # depthwise
    ((2, 6, 5, 5), (3, 2, 2, 2), {"groups": 3, "dilation": 2}),
]


def inputs(x_shape, w_shape, seed, bias=True):
    rng = np.random.default_rng(seed)
    x = tt.tensor(rng.standard_normal(x_shape), dtype=tt.float64, requires_grad=True)
    w = tt.tensor(rng.standard_normal(w_shape), dtype=tt.float64, requires_grad=True)
    b = tt.tensor(rng.standard_normal(w_shape[0]), dtype=tt.float64, requires_grad=True) if bias else None
    return x, w, b


def compare(conv2d, cases, gradients):
    for i, (xs, ws, opts) in enumerate(cases):
        for bias in (True, False):
            x, w, b = inputs(xs, ws, i, bias)
            x2, w2, b2 = (t.detach().clone().requires_grad_() if t is not None else None for t in (x, w, b))
            what = f"conv2d(x{list(xs)}, weight{list(ws)}, bias={'yes' if bias else 'None'}, {opts})"
            mine, ref = conv2d(x, w, b, **opts), F.conv2d(x2, w2, b2, **opts)
            check_equal(tuple(mine.shape), tuple(ref.shape), f"the shape of {what}")
            check_close(mine, ref, what, rtol=1e-10, atol=1e-10)
            if gradients:
                g = tt.tensor(np.random.default_rng(10 + i).standard_normal(ref.shape))
                (mine * g).sum().backward()
                (ref * g).sum().backward()
                for name, a, r in (("x", x, x2), ("weight", w, w2), ("bias", b, b2)):
                    if r is not None:
                        check_close(a.grad, r.grad, f"the gradient of {name} in {what}", rtol=1e-9, atol=1e-10)


# --- 9.1 conv2d ----------------------------------------------------------------------------------------
@pytest.mark.points(3, exercise="9.1", hint="unfold, then weight.reshape(C_out, -1) @ columns, then reshape")
def test_conv2d_values(lab):
    """conv2d equals F.conv2d for strides, padding, dilation, rectangular kernels, with and without bias"""
    compare(lab.defined("conv2d"), CASES, gradients=False)


@pytest.mark.points(3, exercise="9.1", hint="split channels into groups with a reshape; one batched matmul")
def test_conv2d_groups(lab):
    """groups=2, depthwise (groups = channels) and groups=3 with dilation: values and gradients"""
    compare(lab.defined("conv2d"), GROUP_CASES, gradients=True)


@pytest.mark.points(2, exercise="9.1", hint="build it from tensor ops only: autograd then gives the gradients")
def test_conv2d_gradients(lab):
    """gradients of x, weight and bias equal F.conv2d's"""
    compare(lab.defined("conv2d"), CASES, gradients=True)


@pytest.mark.points(2, exercise="9.1")
def test_conv2d_inside_a_cnn(lab):
    """your conv2d inside the Conv2d layers of a CNN: same outputs as the library's, and it trains"""
    conv2d = lab.defined("conv2d")

    class YourConv2d(nn.Conv2d):
        def forward(self, x):
            return conv2d(x, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups)

    def cnn(conv):
        return nn.Sequential(conv(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                             conv(4, 8, 3, stride=2, padding=1, groups=2), nn.ReLU(), nn.Flatten(), nn.Linear(32, 3))

    tt.manual_seed(0)
    ref = cnn(nn.Conv2d)
    mine = cnn(YourConv2d)
    mine.load_state_dict(ref.state_dict())
    x = tt.randn(16, 1, 8, 8)
    y = (x.mean((1, 2, 3)) > 0).long() + (x[:, 0, 0, 0] > 1).long()
    check_close(mine(x), ref(x), "the CNN's output with your conv2d", rtol=1e-4, atol=1e-5)
    opt = optim.Adam(mine.parameters(), lr=0.02)
    first = None
    for _ in range(40):
        opt.zero_grad()
        loss = F.cross_entropy(mine(x), y)
        loss.backward()
        opt.step()
        first = loss.item() if first is None else first
    check(loss.item() < 0.5 * first, f"40 Adam steps of the CNN with your conv2d took the loss from {first:.3f} "
          f"to {loss.item():.3f}; expected it to halve at least")


# --- 9.2 ResidualBlock ----------------------------------------------------------------------------------
def reference_block(c):
    """The library's layers wired as the exercise says, to compare with."""
    class Reference(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(c, c, 3, padding=1, bias=False)
            self.bn1 = nn.BatchNorm2d(c)
            self.conv2 = nn.Conv2d(c, c, 3, padding=1, bias=False)
            self.bn2 = nn.BatchNorm2d(c)

        def forward(self, x):
            return F.relu(x + self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x))))))
    return Reference()


@pytest.mark.points(3, exercise="9.2", hint="conv1 -> bn1 -> relu -> conv2 -> bn2, add the input, relu")
def test_residual_block_matches(lab):
    """state_dict keys as specified; outputs and gradients equal the reference in train and eval mode"""
    ResidualBlock = lab.defined("ResidualBlock")
    tt.manual_seed(1)
    mine, ref = ResidualBlock(3), reference_block(3)
    check_equal(sorted(mine.state_dict()), sorted(ref.state_dict()), "the block's state_dict keys")
    mine.load_state_dict(ref.state_dict())
    for mode in ("train", "eval"):
        mine.train(mode == "train")
        ref.train(mode == "train")
        x1 = tt.randn(4, 3, 5, 5, requires_grad=True)
        x2 = x1.detach().clone().requires_grad_()
        out_mine, out_ref = mine(x1), ref(x2)
        check_close(out_mine, out_ref, f"the block's output in {mode} mode", rtol=1e-4, atol=1e-5)
        (out_mine ** 2).sum().backward()
        (out_ref ** 2).sum().backward()
        check_close(x1.grad, x2.grad, f"the input's gradient in {mode} mode", rtol=1e-3, atol=1e-5)
    check_close(mine.bn1.running_mean, ref.bn1.running_mean, "bn1's running mean after a training pass",
                rtol=1e-4, atol=1e-6)


@pytest.mark.points(3, exercise="9.2", hint="the skip connection adds the block's input itself")
def test_residual_block_keeps_the_identity_path(lab):
    """with bn2's scale and shift at zero the block is relu(x); a stack of 6 blocks trains"""
    ResidualBlock = lab.defined("ResidualBlock")
    tt.manual_seed(2)
    block = ResidualBlock(2)
    with tt.no_grad():
        block.bn2.weight.zero_()
        block.bn2.bias.zero_()
    x = tt.randn(3, 2, 4, 4)
    check_close(block(x), F.relu(x), "the block with bn2 scaled to zero (only the skip path is left)",
                rtol=1e-6, atol=1e-7)
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), *[ResidualBlock(4) for _ in range(6)],
                          nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 2))
    data = tt.randn(32, 1, 6, 6)
    target = (data.mean((1, 2, 3)) > 0).long()
    opt = optim.Adam(model.parameters(), lr=0.01)
    losses = []
    for _ in range(30):
        opt.zero_grad()
        loss = F.cross_entropy(model(data), target)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    first_grad = model[0].weight.grad.abs().max().item()
    check(first_grad > 1e-6, f"the first layer of 6 stacked blocks gets a gradient of {first_grad:.1e}: "
          "the identity path should carry it")
    check(losses[-1] < 0.7 * losses[0], f"30 steps took the loss from {losses[0]:.3f} to {losses[-1]:.3f}")
