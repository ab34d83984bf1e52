"""Lab 16 grader: the profiler's op recorder and a FLOP counter, on real models."""

import numpy as np
import pytest

import tinytorch as tt
import tinytorch.nn.functional as F
from tinytorch import nn
from tinytorch.labs import check, check_equal, check_exact
from tinytorch.tensor import DispatchMode, Tensor

TITLE = "seeing inside"
EXERCISES = {"16.1": "OpRecorder", "16.2": "matmul_flops"}
#: the library's own version of each exercise: it raises if the notebook's code calls it while graded
REFERENCES = {
    "16.1": ["tinytorch.profiler:profile"],
    "16.2": ["tinytorch.profiler:profile", "tinytorch.profiler:matmul_flops"],
}


class Reference(DispatchMode):
    """The grader's own recorder: what a correct OpRecorder must see."""

    def __init__(self):
        self.calls = []

    def dispatch(self, op, args, params, run):
        self.calls.append((op.__name__, tuple(tuple(a.shape) for a in args if isinstance(a, Tensor))))
        return run(args, params)


class Doubler(DispatchMode):
    """An outer mode that changes every floating result: the recorder must return what it returns."""

    def dispatch(self, op, args, params, run):
        out = run(args, params)
        return out * 2 if out.is_floating_point() else out


def mlp():
    tt.manual_seed(0)
    return nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 4), nn.ReLU(), nn.Linear(4, 3))


def recorded(recorder_cls, fn):
    with recorder_cls() as rec:
        out = fn()
    return rec.calls, out


def normalised(calls, what):
    check(isinstance(calls, list), f"{what}: self.calls must be a list, got {type(calls).__name__}")
    out = []
    for c in calls:
        check(isinstance(c, tuple) and len(c) == 2, f"{what}: each call must be a tuple (name, shapes), got {c!r}")
        out.append((c[0], tuple(tuple(int(n) for n in s) for s in c[1])))
    return out


# --- 16.1 OpRecorder ----------------------------------------------------------------------------------------
@pytest.mark.points(3, exercise="16.1",
                    hint="append (op.__name__, the shapes of the Tensor args), then return run(args, params)")
def test_records_the_forward_pass(lab):
    """an MLP's forward pass: every op, in order, with its input shapes; the output unchanged"""
    OpRecorder = lab.defined("OpRecorder")
    model, x = mlp(), tt.randn(5, 6)
    expected, ref_out = recorded(Reference, lambda: model(x))
    calls, out = recorded(OpRecorder, lambda: model(x))
    check_equal(normalised(calls, "the MLP's forward"), expected, "the calls recorded in the MLP's forward pass")
    check_exact(out, ref_out, "the MLP's output with your recorder active")


@pytest.mark.points(3, exercise="16.1", hint="the backward pass runs ops through apply too")
def test_records_the_backward_pass(lab):
    """a CNN's loss.backward(): every op the engine runs, with shapes; the gradients unchanged"""
    OpRecorder = lab.defined("OpRecorder")
    tt.manual_seed(1)
    cnn = nn.Sequential(nn.Conv2d(1, 3, 3), nn.ReLU(), nn.Flatten(), nn.Linear(3 * 4 * 4, 2))
    x, y = tt.randn(2, 1, 6, 6), tt.tensor([0, 1])
    expected, _ = recorded(Reference, lambda: F.cross_entropy(cnn(x), y).backward())
    ref_grads = [p.grad.numpy().copy() for p in cnn.parameters()]
    cnn.zero_grad()
    calls, _ = recorded(OpRecorder, lambda: F.cross_entropy(cnn(x), y).backward())
    check_equal(normalised(calls, "the CNN's step"), expected, "the calls recorded in the CNN's forward and backward")
    for p, g in zip(cnn.parameters(), ref_grads):
        check_exact(p.grad, g, "a gradient computed with your recorder active")


@pytest.mark.points(4, exercise="16.1", hint="pass every call on with run(args, params): never op._run or op.apply")
def test_passes_each_call_on(lab):
    """nested in other modes: the modes outside see every call, and their results come back unchanged"""
    OpRecorder = lab.defined("OpRecorder")
    x = tt.tensor([[1.0, -2.0], [3.0, 0.5]], requires_grad=True)

    def step():
        loss = (x @ x).relu().sum()
        loss.backward()
        return loss

    outer, inner = Reference(), OpRecorder()
    with outer, inner:
        step()
    check_equal(normalised(inner.calls, "nested"), outer.calls,
                "the calls seen by a mode outside yours (your recorder hid calls from it)")
    x.grad = None
    with Doubler():
        expected = step().item()
    x.grad = None
    with Doubler(), OpRecorder():
        got = step().item()
    check_equal(got, expected, "the loss computed inside a mode that doubles every result, with your recorder "
                "inside it (return run(args, params)'s result)")
    inside = OpRecorder()
    with inside, Reference() as ref:
        step()
    check_equal(normalised(inside.calls, "outside"), ref.calls, "the calls seen when your recorder is the outer mode")


# --- 16.2 FLOPs ---------------------------------------------------------------------------------------------
def formula(a, b):
    a2 = (1,) + a if len(a) == 1 else a
    b2 = b + (1,) if len(b) == 1 else b
    batch = int(np.prod(np.broadcast_shapes(a2[:-2], b2[:-2]), dtype=np.int64))
    return 2 * batch * a2[-2] * a2[-1] * b2[-1]


@pytest.mark.points(3, exercise="16.2", hint="2 * n * k * m per matrix, times the broadcast batch size")
def test_matmul_flops(lab):
    """the formula on matrices, vectors and broadcast batches"""
    matmul_flops = lab.defined("matmul_flops")
    for a, b in (((3, 4), (4, 5)), ((1, 7), (7, 1)), ((4,), (4, 3)), ((2, 3), (3,)), ((6, 2, 3), (3, 5)),
                 ((7, 1, 2, 3), (5, 3, 2)), ((2, 1, 4, 4), (1, 3, 4, 4))):
        check_equal(int(matmul_flops(a, b)), formula(a, b), f"matmul_flops({a}, {b})")


@pytest.mark.points(3, exercise="16.2",
                    hint="count_flops: an OpRecorder, summed over the Matmul, Linear and Convolution calls")
def test_flops_of_an_mlp(lab):
    """an MLP: forward = sum of 2 * batch * in * out; forward and backward = 3 times that, less the first
    layer's input gradient (the input does not require grad)"""
    count_flops = lab.defined("count_flops")
    model, batch = mlp(), 5
    x = tt.randn(batch, 6)
    layers = [(6, 8), (8, 4), (4, 3)]
    forward = sum(2 * batch * i * o for i, o in layers)
    check_equal(int(count_flops(lambda: model(x))), forward, "count_flops of the MLP's forward pass")
    step = 3 * forward - 2 * batch * 6 * 8
    check_equal(int(count_flops(lambda: model(x).sum().backward())), step,
                "count_flops of the MLP's forward and backward pass")


@pytest.mark.points(2, exercise="16.2",
                    hint="a Convolution call: 2 * (output elements) * C/groups * kh * kw; keep each result's shape")
def test_flops_of_a_cnn(lab):
    """two convolutions (one strided and padded, one grouped) and a linear layer: the textbook formulas"""
    count_flops = lab.defined("count_flops")
    tt.manual_seed(2)
    n, c, h, w = 2, 4, 9, 9
    conv1 = nn.Conv2d(c, 8, 3, stride=2, padding=1)
    conv2 = nn.Conv2d(8, 6, 3, groups=2)
    oh1 = (h + 2 - 3) // 2 + 1
    oh2 = oh1 - 2
    head = nn.Linear(6 * oh2 * oh2, 10)
    model = nn.Sequential(conv1, nn.ReLU(), conv2, nn.ReLU(), nn.Flatten(), head)
    expected = (2 * n * 8 * oh1 * oh1 * c * 9) + (2 * n * 6 * oh2 * oh2 * (8 // 2) * 9) + 2 * n * 6 * oh2 * oh2 * 10
    check_equal(int(count_flops(lambda: model(tt.randn(n, c, h, w)))), expected, "count_flops of the CNN's forward")


@pytest.mark.points(2, exercise="16.2", hint="attention multiplies batches of matrices: (B, heads, T, d/heads) @ …; "
                                             "without a mask it is one Attention op holding two such products")
def test_flops_of_attention(lab):
    """multi-head self-attention: 8 B T d^2 (the four projections) + 4 B T^2 d (scores and weighted values)"""
    count_flops = lab.defined("count_flops")
    tt.manual_seed(3)
    b, t, d, heads = 3, 7, 16, 4
    attn = nn.MultiheadAttention(d, heads, batch_first=True)
    x = tt.randn(b, t, d)
    check_equal(int(count_flops(lambda: attn(x, x, x, need_weights=False))), 8 * b * t * d * d + 4 * b * t * t * d,
                "count_flops of MultiheadAttention's forward")
