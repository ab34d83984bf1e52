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
# # Lab 15 — Model exchange: an ONNX graph interpreter
#
# *Read [chapter 15](../../book/chapters/ch15_onnx.md) of the book first; this lab builds
# what it explains.*
#
# | exercise | you write | points |
# |---|---|---|
# | 15.1 | `topological_order(nodes, known)` — producers before readers, cycles refused | 4 |
# | 15.2 | `run_graph(nodes, values, outputs, handlers)` — the interpreter loop | 6 |
# | 15.3 | the handlers `gemm`, `relu` and `softmax` on tinytorch ops | 8 |
#
# The grader exports real models with `tinytorch.onnx.export` (a multilayer perceptron, a CNN, a
# transformer encoder layer), builds graphs with `onnx.helper` (nodes shuffled, `Gemm` with
# every attribute, nodes with several outputs and omitted inputs), runs them with your code and
# compares with the models themselves; gradients must reach the weights. Grade with
# `pytest labs/ch15` (the `onnx` package is needed: `pip install "tinytorch[onnx]"`).

# %%
import numpy as np
import onnx
from onnx import helper

import tinytorch as tt
import tinytorch.onnx
from tinytorch import nn
from tinytorch.labs import demo
from tinytorch.onnx.handlers import HANDLERS  # the library's handlers, for the other operators
from tinytorch.onnx.importer import attributes  # noqa: F401 — a node's attributes, for your run_graph

# %% [markdown]
# A node of an ONNX graph (an `onnx.NodeProto`) has `node.op_type` (`"Gemm"`), `node.name`,
# `node.input` and `node.output` (lists of value names; an empty name `""` is an optional
# input that was left out) and attributes, which `attributes(node)` gives you as a dict of
# Python values.
#
# ## Exercise 15.1 — `topological_order(nodes, known)`
#
# Return the nodes in an order in which every node comes after the nodes that produce its
# inputs. `known` are the names available before any node runs (the graph's inputs and
# initializers); the empty name is always available. Raise `ValueError` if an input is produced
# by nothing, or if the nodes form a cycle (some nodes can never run). Among nodes that are
# ready at the same time, keeping the order of the list is a good habit (it makes runs
# reproducible), but any valid order scores.

# %% [markdown]
# <details><summary>Hint 15.1 (1 of 2) — click to open</summary>
#
# Kahn's algorithm: count, for each node, the inputs it still waits for; start with the nodes
# that wait for nothing; each time you emit a node, its outputs become available and the
# counts of its readers go down.
#
# </details>
#
# <details><summary>Hint 15.1 (2 of 2) — click to open</summary>
#
# A dict `producer[name] = index of the node that outputs name` tells you which inputs are
# still to come. A node that reads the same value twice waits for it once.
#
# </details>

# %%
def topological_order(nodes, known):
    ### BEGIN SOLUTION
    nodes = list(nodes)
    available = set(known) | {""}
    producer = {out: i for i, n in enumerate(nodes) for out in n.output}
    waits, readers = [], {}
    for i, n in enumerate(nodes):
        pending = {name for name in n.input if name not in available}
        for name in pending:
            if name not in producer:
                raise ValueError(f"node {n.name!r} reads {name!r}, which nothing produces")
            readers.setdefault(producer[name], []).append(i)
        waits.append(len(pending))
    ready = [i for i, w in enumerate(waits) if w == 0]
    order = []
    while ready:
        i = min(ready)
        ready.remove(i)
        order.append(nodes[i])
        for j in readers.get(i, []):
            waits[j] -= 1
            if waits[j] == 0:
                ready.append(j)
    if len(order) != len(nodes):
        raise ValueError("the graph has a cycle")
    return order
    ### END SOLUTION


# %%
with demo("15.1"):
    a = helper.make_node("Relu", ["h"], ["y"], name="second")
    b = helper.make_node("Neg", ["x"], ["h"], name="first")
    print([n.name for n in topological_order([a, b], ["x"])])  # expect ['first', 'second']

# %% [markdown]
# ## Exercise 15.2 — `run_graph(nodes, values, outputs, handlers)`
#
# `values` maps names to tensors: the graph's inputs and initializers. Sort the nodes with your
# `topological_order`, then run each node: look up `handlers[node.op_type]` (a missing one
# raises `NotImplementedError` whose message names the operator **and** the node), call it as
# `handler(node, inputs, attrs)` with the input tensors in order (`None` for an empty name) and
# `attributes(node)`, and store what it returns under the node's output names — a handler
# returns one tensor, or a tuple with one tensor per output (`Split` does); an output with an
# empty name is not stored. Return the list of the values named `outputs`.

# %% [markdown]
# <details><summary>Hint 15.2 (1 of 1) — click to open</summary>
#
# `outs = result if isinstance(result, tuple) else (result,)`, then
# `zip(node.output, outs)`.
#
# </details>

# %%
def run_graph(nodes, values, outputs, handlers):
    ### BEGIN SOLUTION
    values = dict(values)
    for node in topological_order(nodes, values):
        if node.op_type not in handlers:
            raise NotImplementedError(f"operator {node.op_type} (node {node.name!r}) has no handler")
        inputs = [values[name] if name else None for name in node.input]
        result = handlers[node.op_type](node, inputs, attributes(node))
        results = result if isinstance(result, tuple) else (result,)
        for name, value in zip(node.output, results):
            if name:
                values[name] = value
    return [values[name] for name in outputs]
    ### END SOLUTION


# %%
with demo("15.2"):
    graph = [helper.make_node("Relu", ["h"], ["y"]), helper.make_node("Neg", ["x"], ["h"])]
    print(run_graph(graph, {"x": tt.tensor([1.0, -2.0])}, ["y"], HANDLERS))  # expect [tensor([0., 2.])]

# %% [markdown]
# ## Exercise 15.3 — the handlers `gemm`, `relu` and `softmax`
#
# Each is `handler(node, inputs, attrs)` and computes with tinytorch ops, so that a graph run
# with them is differentiable. From the ONNX operator documentation:
#
# * **Gemm**: `Y = alpha * A' @ B' + beta * C`, with `A' = A` transposed if `transA` is 1 (else
#   `A`), likewise `B'` with `transB`; `alpha` and `beta` default to 1.0, `transA` and `transB`
#   to 0. `C` is optional (left out, or `None`) and broadcasts to the result's shape.
# * **Relu**: `max(x, 0)`.
# * **Softmax**: along the attribute `axis` (default -1): `exp(x) / sum(exp(x))` over that axis.
#   Subtract the maximum along the axis first, or large inputs overflow. Write it with
#   `exp`, `sum` and `amax`; `tt.softmax` and `F.softmax` are off limits here.

# %% [markdown]
# <details><summary>Hint 15.3 (1 of 1) — click to open</summary>
#
# `x.amax(axis, keepdim=True).detach()` is the maximum as a constant (its gradient cancels
# anyway); `inputs[2] if len(inputs) > 2 else None` reads an optional input.
#
# </details>

# %%
def gemm(node, inputs, attrs):
    ### BEGIN SOLUTION
    a, b = inputs[0], inputs[1]
    c = inputs[2] if len(inputs) > 2 else None
    if attrs.get("transA", 0):
        a = a.T
    if attrs.get("transB", 0):
        b = b.T
    y = (a @ b) * attrs.get("alpha", 1.0)
    if c is not None:
        y = y + c * attrs.get("beta", 1.0)
    return y
    ### END SOLUTION


def relu(node, inputs, attrs):
    ### BEGIN SOLUTION
    return tt.where(inputs[0] > 0, inputs[0], 0.0)
    ### END SOLUTION


def softmax(node, inputs, attrs):
    ### BEGIN SOLUTION
    x = inputs[0]
    axis = attrs.get("axis", -1)
    e = (x - x.amax(axis, keepdim=True).detach()).exp()
    return e / e.sum(axis, keepdim=True)
    ### END SOLUTION


# %%
with demo("15.3"):
    mlp = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3), nn.Softmax(-1))
    proto = tinytorch.onnx.export(mlp, (tt.randn(2, 4),), None)
    print([n.op_type for n in proto.graph.node])
    mine = dict(HANDLERS, Gemm=gemm, Relu=relu, Softmax=softmax)
    weights = {i.name: tt.tensor(onnx.numpy_helper.to_array(i)) for i in proto.graph.initializer}
    x = tt.randn(2, 4)
    (y,) = run_graph(list(proto.graph.node), {proto.graph.input[0].name: x, **weights}, ["output"], mine)
    print(np.abs(y.detach().numpy() - mlp(x).detach().numpy()).max())  # expect about 1e-7
