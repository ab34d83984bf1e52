"""Lab 13 grader: the fusion pass and the C code generator, run inside ``tt.compile`` on real models."""

import contextlib

import numpy as np
import pytest

import tinytorch as tt
import tinytorch.compiler as compiler
from tinytorch import nn
from tinytorch.compiler import codegen
from tinytorch.compiler.capture import Recorder
from tinytorch.compiler.fusion import consumers, fusible, output_slots, plan_groups
from tinytorch.compiler.runtime import FusedKernel
from tinytorch.labs import check, check_close, check_equal

TITLE = "compilation"
EXERCISES = {"13.1": "fuse", "13.2": "kernel_source"}
#: the library's own version of each exercise: it raises if the notebook's code calls it while graded
REFERENCES = {
    "13.1": ["tinytorch.compiler.fusion:plan_groups", "tinytorch.compiler.fusion:_merge_shared",
             "tinytorch.compiler.fusion:_fuse_sums"],
    "13.2": ["tinytorch.compiler.codegen:c_source", "tinytorch.compiler.codegen:cuda_source",
             "tinytorch.compiler.codegen:leaf_index", "tinytorch.compiler.codegen:_body",
             "tinytorch.compiler.codegen:_literal"],
}


# --- models and functions -------------------------------------------------------------------------------------
def mlp():
    tt.manual_seed(0)
    return nn.Sequential(nn.Linear(6, 16), nn.GELU(), nn.Linear(16, 8), nn.Tanh(), nn.Linear(8, 3), nn.Sigmoid())


def gelu_chain(x, b):
    """A bias add then the tanh approximation of GELU: y is read five times."""
    y = x + b
    return 0.5 * y * (1 + tt.tanh(0.7978845608 * (y + 0.044715 * y * y * y)))


def branching(x):
    """``a`` has three readers (sin, cos and a sum): it must be stored, never fused away."""
    a = tt.exp(x * 0.5)
    return tt.sin(a) + tt.cos(a) * 3, a.sum()


def layer_norm_like(x, w, b):
    """A normalisation written out: a column (per-row mean and scale), a row (weight, bias)."""
    mu = x.mean(-1, keepdim=True)
    d = x - mu
    inv = tt.rsqrt((d * d).mean(-1, keepdim=True) + 1e-5)
    return (d * inv) * w + b


def broadcasts(x, row, col, s):
    """Leaves of four shapes in one chain: (2, 3, 8), a row (8,), a column (3, 1), a scalar ()."""
    return tt.maximum(tt.sigmoid(x * row - col), s * 0.25) / (1 + tt.abs(x))


def capture(fn, *inputs):
    recorder = Recorder(list(inputs))
    with tt.no_grad(), recorder:
        out = fn(*inputs)
    return recorder.finish(out)


# --- the grader's own statement of the 13.1 rule --------------------------------------------------------------
def expected_partition(trace):
    """The groups of the rule the lab states, as sets of step results (a union-find over joinable edges)."""
    used = consumers(trace)
    ok = {s.out for s in trace.steps if fusible(s, trace.meta, trace.grad_slots)}
    parent = {k: k for k in ok}

    def root(k):
        while parent[k] != k:
            k = parent[k]
        return k

    for s in trace.steps:
        if s.out not in ok:
            continue
        for kind, v in s.args:
            if kind == "slot" and v in ok and used.get(v) == 1 and trace.meta[v][0] == trace.meta[s.out][0]:
                parent[root(v)] = root(s.out)
    sets = {}
    for k in ok:
        sets.setdefault(root(k), set()).add(k)
    return sorted((frozenset(g) for g in sets.values() if len(g) > 1), key=min)


def check_groups(groups, trace, what):
    """The properties every answer must have, with a message naming the one broken; then the exact partition."""
    check(isinstance(groups, list), f"{what}: fuse must return a list of Group, got {type(groups).__name__}")
    position = {s.out: i for i, s in enumerate(trace.steps)}
    used = consumers(trace)
    outputs = set(output_slots(trace.outputs))
    seen = set()
    for g in groups:
        outs = [s.out for s in g.steps]
        check(len(outs) >= 2, f"{what}: a group of {len(outs)} step(s) (groups of one step must be dropped)")
        check(all(s in position for s in outs), f"{what}: a group holds steps that are not the trace's")
        check(outs == sorted(outs, key=position.get),
              f"{what}: a group's steps are not in trace order: {[s.op.__name__ for s in g.steps]}")
        check(not seen & set(outs), f"{what}: a step is in two groups")
        seen |= set(outs)
        for s in g.steps:
            check(fusible(s, trace.meta, trace.grad_slots),
                  f"{what}: {s.op.__name__} (slot {s.out}) is not fusible but is in a group")
        inside = set(outs)
        for s in g.steps[:-1]:
            readers = sum(1 for t in g.steps for kind, v in t.args if kind == "slot" and v == s.out)
            check(used.get(s.out, 0) == 1 and readers == 1 and s.out not in outputs,
                  f"{what}: slot {s.out} ({s.op.__name__}) is fused away inside a group, but it is read "
                  f"{used.get(s.out, 0)} time(s) in the trace ({readers} inside the group"
                  f"{', and it is an output' if s.out in outputs else ''}): a value read more than once must "
                  "be stored, so only a value read exactly once may be fused away")
            check(trace.meta[s.out][0] == trace.meta[g.out][0],
                  f"{what}: slot {s.out} is fused away but its shape differs from the group's result")
        leaves = []
        for s in g.steps:
            for kind, v in s.args:
                if kind == "slot" and v not in inside and v not in leaves:
                    leaves.append(v)
        chain = " -> ".join(s.op.__name__ for s in g.steps)
        check(len(set(g.leaves)) == len(g.leaves), f"{what}: fused[{chain}] lists a leaf twice: {list(g.leaves)}")
        check_equal(sorted(g.leaves), sorted(leaves), f"{what}: the leaves of fused[{chain}] (the slots its "
                    "steps read but do not compute; any order)")
    got = sorted((frozenset(s.out for s in g.steps) for g in groups), key=min)
    check_equal([sorted(g) for g in got], [sorted(g) for g in expected_partition(trace)],
                f"{what}: the groups (as the slots each computes)",
                hint="every fusible step whose input is read once, with the same shape, joins that input's group")


@contextlib.contextmanager
def installed(module, name, fn):
    """``module.name`` is ``fn`` inside the block (the compile path then runs the learner's code)."""
    original = getattr(module, name)
    setattr(module, name, fn)
    try:
        yield original
    finally:
        setattr(module, name, original)


def compiled_run(fn, *inputs):
    """``tt.compile(fn)`` called until it replays (two captures, then the plan); the replayed result and plan."""
    compiled = tt.compile(fn)
    with tt.no_grad():
        for _ in range(3):
            out = compiled(*inputs)
    c = compiled._compiled if isinstance(compiled, compiler.CompiledModule) else compiled
    check_equal(c.replays, 1, "replays of the compiled function (it must compile and replay, not fall back)")
    plan = c.plans()[0]
    return out, plan


def as_list(out):
    return list(out) if isinstance(out, (tuple, list)) else [out]


def eager(fn, *inputs):
    with tt.no_grad():
        return as_list(fn(*inputs))


def fused_kernels(plan):
    return sum(1 for ins in plan.instructions if ins[0] is FusedKernel)


# --- 13.1 the fusion pass -------------------------------------------------------------------------------------
@pytest.mark.points(3, exercise="13.1", hint="merge a fusible step into its input's group when that input is read "
                    "once and has the step's shape; drop one-step groups")
def test_fuses_the_chains_of_an_mlp(lab):
    """an MLP with GELU, tanh and sigmoid, and the GELU chain alone: every joinable chain merged, nothing else"""
    fuse = lab.defined("fuse")
    model = mlp()
    trace = capture(model, tt.randn(5, 6))
    check_groups(fuse(trace), trace, "the MLP's trace")
    trace = capture(gelu_chain, tt.randn(4, 16), tt.randn(16))
    check_groups(fuse(trace), trace, "the GELU chain's trace")


@pytest.mark.points(3, exercise="13.1", hint="consumers(trace)[k] counts every read, the function's outputs included; "
                    "a value read more than once ends a group")
def test_values_with_other_readers_are_stored(lab):
    """a value with three readers, a layer norm written out (means read twice), an output read again"""
    fuse = lab.defined("fuse")
    trace = capture(branching, tt.randn(3, 5))
    check_groups(fuse(trace), trace, "the branching graph's trace")
    trace = capture(layer_norm_like, tt.randn(4, 8), tt.randn(8), tt.randn(8))
    check_groups(fuse(trace), trace, "the layer-norm trace")

    def output_read_again(x):
        y = tt.exp(x * 2)
        return y, tt.tanh(y + 1)

    trace = capture(output_read_again, tt.randn(3, 4))
    check_groups(fuse(trace), trace, "a trace whose intermediate value is also returned")


@pytest.mark.points(4, exercise="13.1", hint="the compile path runs Group.steps in a generated kernel and Group.leaves "
                    "as its inputs: both must be right")
def test_pass_inside_tt_compile(lab):
    """your pass installed in tt.compile: models give eager's numbers, with the number of fused kernels planned"""
    fuse = lab.defined("fuse")
    tt.manual_seed(4)
    cases = [(mlp(), (tt.randn(5, 6),)), (gelu_chain, (tt.randn(4, 16), tt.randn(16))),
             (branching, (tt.randn(3, 5),)), (layer_norm_like, (tt.randn(4, 8), tt.randn(8), tt.randn(8)))]
    for fn, inputs in cases:
        name = getattr(fn, "__name__", type(fn).__name__)
        expected_groups = len(expected_partition(capture(fn, *inputs)))
        planned = []

        def learner_pass(trace, planned=planned):
            planned.append(fuse(trace))
            return planned[-1]

        with installed(compiler, "plan_groups", learner_pass):
            out, plan = compiled_run(fn, *inputs)
        check(len(planned) == 1 and plan.groups is planned[0],
              f"the compile path of {name} did not run your pass once (the grader's installation failed)")
        check_equal(fused_kernels(plan), expected_groups, f"fused kernels in the compiled plan of {name}")
        for got, want in zip(as_list(out), eager(fn, *inputs)):
            check_close(got, want, f"tt.compile({name}) with your pass", rtol=1e-5, atol=1e-6)


# --- 13.2 the code generator ----------------------------------------------------------------------------------
@contextlib.contextmanager
def generator(kernel_source, sources):
    """The compile path writes each elementwise group's kernel with ``kernel_source`` (fused sums: the library)."""
    original = codegen.c_source

    def write(group, trace):
        if group.reduce is not None:
            return original(group, trace)
        source = kernel_source(group, trace)
        check(isinstance(source, str), f"kernel_source must return a str, got {type(source).__name__}")
        sources.append(source)
        return source

    with installed(codegen, "c_source", write):
        yield


def run_generated(kernel_source, fn, *inputs, rtol, atol):
    name = getattr(fn, "__name__", type(fn).__name__)
    sources = []
    expected_groups = sum(1 for g in plan_groups(capture(fn, *inputs)) if g.reduce is None)
    with generator(kernel_source, sources):
        out, plan = compiled_run(fn, *inputs)
    check_equal(len(sources), expected_groups, f"kernels your kernel_source wrote for {name}")
    for got, want in zip(as_list(out), eager(fn, *inputs)):
        check_close(got, want, f"tt.compile({name}) running your kernels", rtol=rtol, atol=atol)


@pytest.mark.points(4, exercise="13.2", hint="load each leaf, one `const T t<slot> = ...;` per step, then "
                    "out[i] = t<group.out>;")
def test_kernels_of_an_mlp(lab):
    """an MLP (bias add + GELU, tanh, sigmoid) and the GELU chain compiled with your generated C"""
    kernel_source = lab.defined("kernel_source")
    tt.manual_seed(5)
    run_generated(kernel_source, mlp(), tt.randn(7, 6), rtol=1e-5, atol=1e-6)
    run_generated(kernel_source, gelu_chain, tt.randn(4, 16), tt.randn(16), rtol=1e-5, atol=1e-6)
    run_generated(kernel_source, branching, tt.randn(3, 5), rtol=1e-5, atol=1e-6)


@pytest.mark.points(3, exercise="13.2", hint="a leaf of shape (8,) under an output (r, 8) is read at i % 8; a column "
                    "(r, 1) at i / 8; pad shapes with 1s on the left")
def test_broadcast_leaves(lab):
    """leaves that broadcast: a row, a column, a scalar, a middle axis; and a layer norm's weight and bias"""
    kernel_source = lab.defined("kernel_source")
    tt.manual_seed(6)
    run_generated(kernel_source, broadcasts, tt.randn(2, 3, 8), tt.randn(8), tt.randn(3, 1), tt.randn(()),
                  rtol=1e-5, atol=1e-6)

    def middle(x, m):
        return tt.exp(x - m) * 2

    run_generated(kernel_source, middle, tt.randn(2, 3, 4), tt.randn(2, 1, 4), rtol=1e-5, atol=1e-6)
    run_generated(kernel_source, layer_norm_like, tt.randn(5, 8), tt.randn(8), tt.randn(8), rtol=1e-5, atol=1e-6)


@pytest.mark.points(3, exercise="13.2", hint="float64 kernels use `double` and libm without the f suffix "
                    "(EXPRESSIONS' {f} is \"\")")
def test_float64(lab):
    """the same chains in float64, to float64 precision"""
    kernel_source = lab.defined("kernel_source")
    tt.manual_seed(7)
    x = tt.randn(4, 16, dtype=tt.float64)
    run_generated(kernel_source, gelu_chain, x, tt.randn(16, dtype=tt.float64), rtol=1e-12, atol=1e-14)
    run_generated(kernel_source, broadcasts, tt.randn(2, 3, 8, dtype=tt.float64), tt.randn(8, dtype=tt.float64),
                  tt.randn(3, 1, dtype=tt.float64), tt.randn((), dtype=tt.float64), rtol=1e-12, atol=1e-14)
    model = mlp().to(tt.float64)
    run_generated(kernel_source, model, tt.randn(3, 6, dtype=tt.float64), rtol=1e-12, atol=1e-14)
    check(np.isfinite(model(x[:, :6]).detach().numpy()).all(), "the float64 MLP's output is finite")
