# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Lab 13 — Compilation: the fusion pass and a C code generator
#
# *Read [chapter 13](../../book/chapters/ch13_compilation.md) of the book first; this lab builds
# what it explains.*
#
# | exercise | you write | points |
# |---|---|---|
# | 13.1 | `fuse(trace)`, the pass that groups chains of elementwise steps into one kernel each | 10 |
# | 13.2 | `kernel_source(group, trace)`, the C source of one fused kernel | 10 |
#
# The grader checks your pass on traces captured from real models (an MLP, a GELU chain, a graph
# where one value has several readers), then installs it in `tt.compile` in place of the
# library's pass and checks that the compiled models give eager's numbers with the kernels you
# planned. Your code generator is installed the same way: the compile path builds your C with
# its own compiler flags and runs it on an MLP, a bias row that broadcasts, and float64.
# Grade with `pytest labs/ch13`.

# %%
import tinytorch as tt
from tinytorch.compiler.capture import Recorder
from tinytorch.compiler.fusion import EXPRESSIONS, Group, consumers, describe, fusible
from tinytorch.labs import demo
from tinytorch.ndarray.dtypes import float32


def capture(fn, *inputs):
    """The trace of ``fn(*inputs)`` run once under no_grad (what ``tt.compile`` records)."""
    recorder = Recorder(list(inputs))
    with tt.no_grad(), recorder:
        out = fn(*inputs)
    return recorder.finish(out)


# %% [markdown]
# ## What a trace looks like
#
# `capture` runs a function once and returns its `Trace`. Values are numbered *slots*: the
# call's arguments first, then each tensor the function read from outside (a weight), then one
# slot per step's result. `trace.steps` is the list of `Step`s in the order they ran; a step
# has `op` (the Function class, e.g. `Add`), `args` (per input, `("slot", k)` or
# `("value", 2.0)`), `params` and `out` (its result's slot). `trace.meta[k]` is
# `(shape, dtype, device)` of slot `k`.

# %%
def small(x):
    return tt.tanh(x * 2 + 1)


trace = capture(small, tt.randn(3, 4))
for step in trace.steps:
    print(step.op.__name__, step.args, "->", step.out, trace.meta[step.out][0])

# %% [markdown]
# ## Exercise 13.1 — the fusion pass
#
# Write `fuse(trace)`: it returns a list of `Group`s (`from tinytorch.compiler.fusion import
# Group`; `Group(steps=[...], leaves=[...])`), each a chain of two or more steps that one
# generated loop will compute. The rule:
#
# * Only steps for which the given helper `fusible(step, trace.meta, trace.grad_slots)` is true
#   can be in a group (it checks that the op has a C expression in `EXPRESSIONS`, that the
#   dtypes are float32 or float64 and that the inputs broadcast to the output).
# * Walk the steps in order. A fusible step joins the group that produced one of its input
#   slots when that slot is read **exactly once** in the whole trace (`consumers(trace)[k] == 1`
#   — it counts reads by steps and by the function's outputs) and has the **same shape** as
#   the step's result. A step may join several groups (one per such input): they become one.
#   A value read twice must be stored, so it can never be fused away.
# * Drop the groups that hold one step only (a kernel of its own gains nothing).
# * In each group, `steps` are in trace order (the last one computes the group's result),
#   and `leaves` lists the slots the group reads but does not compute, each once (in any
#   order: the compile path passes leaf `j` to the kernel as its input `j`).
#
# Do not call `tinytorch.compiler.fusion.plan_groups` (the library's pass: it also merges
# values read twice inside one chain and fuses sums, which your pass does not).

# %% [markdown]
# <details><summary>Hint 13.1 (1 of 2) — click to open</summary>
#
# Keep a dict `group_of` from a slot to the group that computes it. For each fusible step,
# start a new group, move into it the steps of every producer group you may join (and remove
# those groups from your list), append the step, and record `group_of[step.out]`.
#
# </details>
#
# <details><summary>Hint 13.1 (2 of 2) — click to open</summary>
#
# Sort a group's steps by their position in `trace.steps` after merging. Compute the leaves at
# the end, once the groups no longer change.
#
# </details>

# %%
def fuse(trace):
    ### BEGIN SOLUTION
    used = consumers(trace)
    position = {s.out: i for i, s in enumerate(trace.steps)}
    group_of = {}
    groups = []
    for step in trace.steps:
        if not fusible(step, trace.meta, trace.grad_slots):
            continue
        shape = trace.meta[step.out][0]
        g = Group()
        for kind, v in step.args:
            producer = group_of.get(v) if kind == "slot" else None
            if producer is not None and producer in groups and used.get(v) == 1 \
                    and trace.meta[v][0] == shape:
                groups.remove(producer)
                g.steps += producer.steps
        g.steps.append(step)
        g.steps.sort(key=lambda s: position[s.out])
        group_of[step.out] = g
        groups.append(g)
    result = [g for g in groups if len(g.steps) > 1]
    for g in result:
        inside = {s.out for s in g.steps}
        for s in g.steps:
            for kind, v in s.args:
                if kind == "slot" and v not in inside and v not in g.leaves:
                    g.leaves.append(v)
    return result
    ### END SOLUTION


# %%
with demo("13.1"):
    groups = fuse(trace)
    print(describe(trace, groups))  # expect one kernel: fused[Mul -> Add -> Tanh](in0)

# %% [markdown]
# ## Exercise 13.2 — the C code generator
#
# Write `kernel_source(group, trace)`: the C source of one kernel for an elementwise group
# (`group.reduce` is None), with the signature
#
# ```c
# void tt_fused(int64_t n, void **p)
# ```
#
# `p[0]` is the output (`n` elements, the shape `trace.meta[group.out][0]`, row-major) and
# `p[1 + j]` is leaf `j` of `group.leaves`, a compact row-major array whose shape broadcasts to
# the output's (a bias row `(m,)` for an `(r, m)` output, a column `(r, 1)`, a scalar `()`).
# For each output position `i`, load each leaf at the position broadcasting maps `i` to,
# compute the group's steps in order with `EXPRESSIONS[step.op]` (a format string over the
# inputs `{0}`, `{1}` and `{f}`, the libm suffix: `"f"` for float32, `""` for float64), and
# store the result. Python numbers in `step.args` become C literals of type `T`.
#
# The given `c_header(dtype)` writes the lines your source must start with: the includes,
# `typedef ... T;` and the macros (`EXP`, `TANH`, `MAXIMUM`…) that `EXPRESSIONS` uses. Do not
# call the library's `tinytorch.compiler.codegen` functions (`c_source`, `leaf_index`).

# %%
def c_header(dtype):
    """The first lines of a kernel's C source for ``dtype`` (float32 or float64)."""
    if dtype is float32:
        ctype, names = "float", {"EXP": "exp_f32", "LOG": "log_f32", "TANH": "tanh_f32",
                                 "SIGMOID": "sigmoid_f32", "ERF": "erf_f32", "EXPM1": "expm1_f32"}
    else:
        ctype, names = "double", {"EXP": "exp", "LOG": "log", "TANH": "tanh",
                                  "SIGMOID": "sig64", "ERF": "erf", "EXPM1": "expm1"}
    lines = ["#include <stdint.h>", "#include <math.h>", '#include "vmath.h"',
             f"typedef {ctype} T;",
             "static inline double sig64(double x) { double e = exp(-fabs(x)); "
             "return x >= 0 ? 1 / (1 + e) : e / (1 + e); }",
             "#define MAXIMUM(a, b) (((a) != (a) || (a) > (b)) ? (a) : (b))",
             "#define MINIMUM(a, b) (((a) != (a) || (a) < (b)) ? (a) : (b))"]
    return "\n".join(lines + [f"#define {m} {fn}" for m, fn in names.items()]) + "\n"


# %% [markdown]
# <details><summary>Hint 13.2 (1 of 2) — click to open</summary>
#
# Pad a leaf's shape with 1s on the left to the output's rank. Output position `i` has, on
# axis `d`, the coordinate `(i / stride_d) % size_d` (row-major strides of the output); the
# leaf's position sums `coordinate * leaf_stride_d` over the axes where the leaf's size is not
# 1. Write that sum as a C expression: for a bias row of 8 it is `((i / 1) % 8) * 1`.
#
# </details>
#
# <details><summary>Hint 13.2 (2 of 2) — click to open</summary>
#
# Name each value in the loop: `x0, x1…` for the leaves, `t<slot>` for each step's result
# (`const T t7 = (x0 * x1);`), then `out[i] = t<group.out>;`. A literal: `f"(T){float(v)!r}"`
# (infinities and NaN need `INFINITY` and `NAN`).
#
# </details>

# %%
def kernel_source(group, trace):
    ### BEGIN SOLUTION
    import math

    out_shape, dtype, _ = trace.meta[group.out]
    suffix = "f" if dtype is float32 else ""

    def index(shape):
        shape = (1,) * (len(out_shape) - len(shape)) + tuple(shape)
        terms, out_stride, leaf_stride = [], 1, 1
        for n, m in reversed(list(zip(shape, out_shape))):
            if n != 1:
                terms.append(f"((i / {out_stride}) % {m}) * {leaf_stride}")
                leaf_stride *= n
            out_stride *= m
        return " + ".join(terms) if terms else "0"

    def literal(v):
        v = float(v)
        if math.isnan(v):
            return "(T)NAN"
        if math.isinf(v):
            return "(T)INFINITY" if v > 0 else "(T)(-INFINITY)"
        return f"(T){v!r}"

    lines = [c_header(dtype), "void tt_fused(int64_t n, void **p) {",
             "    T *out = (T *)p[0];"]
    lines += [f"    const T *in{j} = (const T *)p[{j + 1}];" for j in range(len(group.leaves))]
    lines.append("    for (int64_t i = 0; i < n; i++) {")
    names = {}
    for j, k in enumerate(group.leaves):
        lines.append(f"        const T x{j} = in{j}[{index(trace.meta[k][0])}];")
        names[k] = f"x{j}"
    for s in group.steps:
        args = [names[v] if kind == "slot" else literal(v) for kind, v in s.args]
        lines.append(f"        const T t{s.out} = {EXPRESSIONS[s.op].format(*args, f=suffix)};")
        names[s.out] = f"t{s.out}"
    lines += [f"        out[i] = t{group.out};", "    }", "}", ""]
    return "\n".join(lines)
    ### END SOLUTION


# %%
with demo("13.2"):
    print(kernel_source(fuse(trace)[0], trace))
