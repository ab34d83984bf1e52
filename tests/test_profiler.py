"""tt.profiler: the table (names, counts, order), FLOPs against the formulas, the Chrome trace."""

import json
import re
from collections import Counter

import pytest

import tinytorch as tt
from tinytorch import nn
from tinytorch.profiler import ProfilerActivity, profile, record_function
from tinytorch.tensor import DispatchMode, active_modes


class CountOps(DispatchMode):
    """An independent count of the ops a computation runs (the reference for the profiler)."""

    def __init__(self):
        self.counts = Counter()

    def dispatch(self, op, args, params, run):
        self.counts[op.__name__] += 1
        return run(args, params)


def mlp_step(model, x, y):
    loss = nn.functional.cross_entropy(model(x), y)
    loss.backward()
    return loss


@pytest.fixture
def mlp():
    tt.manual_seed(0)
    return nn.Sequential(nn.Linear(6, 5), nn.ReLU(), nn.Linear(5, 3)), tt.randn(4, 6), tt.tensor([0, 2, 1, 2])


def op_averages(prof):
    return {e.key: e for e in prof.key_averages() if e.key[0].isupper() and "#" not in e.key}


def test_counts_equal_the_ops_the_model_runs(mlp):
    model, x, y = mlp
    with CountOps() as ref:
        mlp_step(model, x, y)
    model.zero_grad()
    with profile() as prof:
        mlp_step(model, x, y)
    assert {k: e.count for k, e in op_averages(prof).items()} == dict(ref.counts)
    # by hand: 2 linear layers forward (one Linear node each); backward 2 products for the last
    # layer, 1 for the first (x needs no grad)
    assert op_averages(prof)["Linear"].count == 2
    assert op_averages(prof)["Matmul"].count == 3
    assert active_modes() == ()


def table_rows(table):
    lines = table.splitlines()
    rules = [i for i, line in enumerate(lines) if line.startswith("---")]
    header = re.split(r"\s{2,}", lines[rules[0] + 1].strip())
    return header, [re.split(r"\s{2,}", line.strip()) for line in lines[rules[1] + 1:rules[2]]]


@pytest.mark.parametrize("sort_by", ["count", "cpu_time_total", "self_cpu_time_total", "flops"])
def test_table_is_sorted_and_limited(mlp, sort_by):
    model, x, y = mlp
    with profile(with_flops=True) as prof:
        mlp_step(model, x, y)
    avgs = prof.key_averages()
    header, rows = table_rows(avgs.table(sort_by=sort_by, row_limit=4))
    assert header[:7] == ["Name", "Self CPU %", "Self CPU", "CPU total %", "CPU total", "CPU time avg", "# of Calls"]
    assert "Total MFLOPs" in header
    expected = sorted(avgs, key=lambda e: getattr(e, sort_by), reverse=True)[:4]
    assert [r[0] for r in rows] == [e.key for e in expected]
    assert [int(r[header.index("# of Calls")]) for r in rows] == [e.count for e in expected]


def test_self_time_sums_to_the_total(mlp):
    model, x, y = mlp
    with profile() as prof:
        with record_function("step"):
            mlp_step(model, x, y)
    avgs = prof.key_averages()
    step = next(e for e in avgs if e.key == "step")
    assert sum(e.self_cpu_time_total for e in avgs) == pytest.approx(step.cpu_time_total, rel=1e-6)
    assert table_rows(avgs.table())[1][0][0] == "step"  # unsorted: the order names first ran
    assert "Self CPU time total" in avgs.table()
    with pytest.raises(AttributeError, match="not a column"):
        avgs.table(sort_by="speed")


def flops_of(fn):
    with profile(with_flops=True) as prof:
        fn()
    return sum(e.flops for e in prof.events())


@pytest.mark.parametrize("a,b", [((3, 4), (4, 5)), ((2, 3, 4), (4, 6)), ((7, 1, 2, 3), (5, 3, 2)), ((4,), (4, 3))])
def test_matmul_flops(a, b):
    batch = 1
    full_a, full_b = (1,) + a if len(a) == 1 else a, b + (1,) if len(b) == 1 else b
    for i in range(max(len(full_a), len(full_b)) - 2):
        batch *= max(full_a[-3 - i] if i + 3 <= len(full_a) else 1, full_b[-3 - i] if i + 3 <= len(full_b) else 1)
    n, k, m = full_a[-2], full_a[-1], full_b[-1]
    assert flops_of(lambda: tt.randn(*a) @ tt.randn(*b)) == 2 * batch * n * k * m


def test_linear_flops_forward_and_backward():
    layer, x = nn.Linear(7, 5), tt.randn(3, 7, requires_grad=True)
    assert flops_of(lambda: layer(x)) == 2 * 3 * 7 * 5
    # backward: the input's and the weight's gradients are one product each, as big as the forward
    assert flops_of(lambda: layer(x).sum().backward()) == 3 * (2 * 3 * 7 * 5)


@pytest.mark.parametrize("stride,padding,groups", [(1, 0, 1), (2, 1, 1), (1, 1, 2)])
def test_conv2d_flops(stride, padding, groups):
    n, c, h, w, o, k = 2, 4, 9, 8, 6, 3
    conv = nn.Conv2d(c, o, k, stride=stride, padding=padding, groups=groups)
    x = tt.randn(n, c, h, w)
    oh, ow = (h + 2 * padding - k) // stride + 1, (w + 2 * padding - k) // stride + 1
    assert flops_of(lambda: conv(x)) == 2 * n * o * oh * ow * (c // groups) * k * k
    # backward: the input's and the weight's gradient products cost as much as the forward each
    xg = x.detach().requires_grad_()
    assert flops_of(lambda: conv(xg).sum().backward()) == 3 * 2 * n * o * oh * ow * (c // groups) * k * k


def test_chrome_trace_has_one_event_per_op(mlp, tmp_path):
    model, x, y = mlp
    with CountOps() as ref:
        mlp_step(model, x, y)
    with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
        with record_function("step"):
            mlp_step(model, x, y)
    path = tmp_path / "trace.json"
    prof.export_chrome_trace(path)
    trace = json.loads(path.read_text())
    events = trace["traceEvents"]
    ops = [e for e in events if e["cat"] == "cpu_op"]
    assert len(ops) == sum(ref.counts.values())
    assert Counter(e["name"] for e in ops) == ref.counts
    assert all(e["ph"] == "X" and e["dur"] >= 0 and isinstance(e["ts"], float) for e in events)
    assert all(isinstance(e["pid"], int) and isinstance(e["tid"], int) for e in events)
    step = next(e for e in events if e["name"] == "step")
    assert all(step["ts"] <= e["ts"] and e["ts"] + e["dur"] <= step["ts"] + step["dur"] + 1e-3 for e in ops)
    linear = next(e for e in ops if e["name"] == "Linear")  # the first layer: x (4, 6), its weight (5, 6), bias
    assert linear["args"]["Input Dims"] == [[4, 6], [5, 6], [5]]


def test_nested_record_function_ranges():
    x = tt.randn(3, 3)

    @record_function("inner")
    def inner():
        return (x * 2).exp()

    with profile() as prof:
        with record_function("outer"):
            inner()
            x + 1
    events = prof.events()
    names = [(e.name, e.depth) for e in events]
    assert names == [("outer", 0), ("inner", 1), ("Mul", 2), ("Exp", 2), ("Add", 1)]
    outer, inn = events[0], events[1]
    assert outer.start_us <= inn.start_us and inn.end_us <= outer.end_us
    assert outer.self_cpu_time_total == pytest.approx(
        outer.cpu_time_total - inn.cpu_time_total - events[4].cpu_time_total)


def test_bytes_and_memory():
    a, b = tt.randn(8, 4), tt.randn(8, 4)
    with profile(profile_memory=True) as prof:
        with record_function("r"):
            c = a + b
            c.t()
    add, view = (e for e in prof.events() if e.kind == "cpu_op")
    assert add.bytes_moved == 3 * 8 * 4 * 4 and add.cpu_memory_usage == 8 * 4 * 4
    assert view.bytes_moved == 0 and view.cpu_memory_usage == 0  # a transpose is a view: nothing moves
    assert prof.events()[0].cpu_memory_usage == 8 * 4 * 4


def test_only_while_active_and_errors():
    with record_function("nothing"):  # no profile: nothing recorded, nothing fails
        tt.ones(2) + 1
    with profile() as prof:
        with pytest.raises(RuntimeError, match="already recording"):
            profile().__enter__()
    tt.ones(2) + 1
    assert prof.events() == [] and active_modes() == ()
    with pytest.raises(RuntimeError, match="record_shapes"):
        prof.key_averages(group_by_input_shape=True)
    with pytest.raises(NotImplementedError, match="schedule"):
        profile(schedule=lambda step: None)


def test_group_by_input_shape_and_steps():
    with profile(record_shapes=True) as prof:
        for n in (2, 3, 3):
            prof.step()
            tt.randn(n, 2) @ tt.randn(2, 2)
    groups = [(e.key, e.input_shapes, e.count) for e in prof.key_averages(group_by_input_shape=True)
              if e.key == "Matmul"]
    assert groups == [("Matmul", [[2, 2], [2, 2]], 1), ("Matmul", [[3, 2], [2, 2]], 2)]
    assert [e.name for e in prof.events() if e.depth == 0] == ["ProfilerStep#0", "ProfilerStep#1", "ProfilerStep#2"]


def test_attention_counts_the_flops_of_its_two_products():
    """The one-node scaled_dot_product_attention: 2*B*L*S*E for the scores, 2*B*L*S*Ev for the sum."""
    q, k, v = tt.randn(2, 3, 4, 5), tt.randn(2, 3, 6, 5), tt.randn(2, 3, 6, 7)
    with profile(with_flops=True) as prof:
        tt.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)
    assert op_averages(prof)["Attention"].flops == 2 * 6 * 4 * 6 * 5 + 2 * 6 * 4 * 6 * 7
