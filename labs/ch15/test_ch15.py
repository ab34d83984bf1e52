"""Lab 15 grader: an ONNX graph interpreter, on graphs exported from real models.

Every model is built here and exported with ``tinytorch.onnx.export`` (no PyTorch needed); the
small graphs with unusual shapes (shuffled nodes, every Gemm attribute, several outputs,
omitted inputs) are written with ``onnx.helper``. The expected values come from the models
themselves, or from numpy formulas computed here.
"""

import random

import numpy as np
import pytest

import tinytorch as tt
import tinytorch.onnx
from tinytorch import nn
from tinytorch.labs import check, check_close, check_equal

onnx = pytest.importorskip("onnx", reason='the lab needs the onnx package: pip install "tinytorch[onnx]"')
helper, TP = onnx.helper, onnx.TensorProto
from tinytorch.onnx.handlers import HANDLERS  # noqa: E402 — after the skip: the library's handlers

TITLE = "model exchange"
EXERCISES = {"15.1": "topological_order", "15.2": "run_graph", "15.3": "gemm"}
#: the library's own version of each exercise: it raises if the notebook's code calls it while graded
REFERENCES = {
    "15.1": ["tinytorch.onnx.importer:topological_order"],
    "15.2": ["tinytorch.onnx.importer:run_graph", "tinytorch.onnx.importer:run_node",
             "tinytorch.onnx.importer:topological_order"],
    "15.3": ["tinytorch.onnx.handlers:gemm", "tinytorch.onnx.handlers:softmax"],
}
#: helpers an exercise may not call
FORBIDDEN = {"15.3": ["tinytorch.ops.reduce:softmax", "tinytorch.nn.functional:softmax"]}


# --- models and graphs ------------------------------------------------------------------------------------
def exported(name):
    """``(model in eval mode, its ONNX proto, a function making an input)`` for a real model."""
    tt.manual_seed(0)
    rng = np.random.default_rng(0)
    if name == "mlp":
        model = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 3),
                              nn.Softmax(-1))
        make = lambda: tt.tensor(rng.standard_normal((5, 6)).astype(np.float32))  # noqa: E731
    elif name == "cnn":
        model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
                              nn.Flatten(), nn.Linear(4 * 4 * 4, 3))
        make = lambda: tt.tensor(rng.standard_normal((2, 1, 8, 8)).astype(np.float32))  # noqa: E731
    else:
        model = nn.TransformerEncoderLayer(8, 2, 16, batch_first=True)
        make = lambda: tt.tensor(rng.standard_normal((2, 5, 8)).astype(np.float32))  # noqa: E731
    model.eval()
    return model, tinytorch.onnx.export(model, (make(),), None), make


def weights(proto, requires_grad=False):
    """The initializers as tensors, by name."""
    out = {}
    for init in proto.graph.initializer:
        t = tt.tensor(onnx.numpy_helper.to_array(init))
        out[init.name] = t.requires_grad_() if requires_grad and t.dtype.is_floating_point else t
    return out


def run(run_graph, proto, x, handlers, params=None):
    values = dict(params if params is not None else weights(proto))
    values[proto.graph.input[0].name] = x
    (y,) = run_graph(list(proto.graph.node), values, [proto.graph.output[0].name], handlers)
    return y


def shuffled(nodes, seed):
    nodes = list(nodes)
    random.Random(seed).shuffle(nodes)
    return nodes


def check_valid_order(order, nodes, known, what):
    check(isinstance(order, list), f"topological_order returned {type(order).__name__}, expected a list")
    check_equal(sorted(id(n) for n in order), sorted(id(n) for n in nodes),
                f"the nodes in the order for {what} (each node exactly once)")
    available = set(known) | {""}
    for node in order:
        missing = [name for name in node.input if name not in available]
        if missing:
            check(False, f"in your order for {what}, node {node.name!r} ({node.op_type}) comes before the node "
                         f"that produces its input {missing[0]!r}: not a topological order")
        available.update(node.output)


# --- 15.1 topological_order -------------------------------------------------------------------------------
@pytest.mark.points(3, exercise="15.1", hint="emit a node only when all of its inputs are available")
def test_order_of_real_graphs_shuffled(lab):
    """the nodes of exported graphs (MLP, CNN, transformer encoder layer), shuffled: a valid order"""
    topological_order = lab.defined("topological_order")
    for name in ("mlp", "cnn", "encoder"):
        _, proto, _ = exported(name)
        known = [i.name for i in proto.graph.input] + [i.name for i in proto.graph.initializer]
        for seed in range(3):
            nodes = shuffled(proto.graph.node, seed)
            check_valid_order(topological_order(nodes, known), nodes, known, f"the {name} graph, shuffled")


@pytest.mark.points(1, exercise="15.1", hint="raise ValueError when nodes remain that can never run")
def test_order_refuses_cycles_and_missing_inputs(lab):
    """a cycle and an input that nothing produces both raise ValueError"""
    topological_order = lab.defined("topological_order")
    cycle = [helper.make_node("Neg", ["b"], ["a"], name="p"), helper.make_node("Relu", ["a"], ["b"], name="q"),
             helper.make_node("Neg", ["x"], ["c"], name="r")]
    for nodes, what in ((cycle, "a cycle p -> q -> p"),
                        ([helper.make_node("Neg", ["nowhere"], ["y"], name="s")], "an input nothing produces")):
        try:
            topological_order(nodes, ["x"])
        except ValueError:
            continue
        check(False, f"topological_order accepted {what}: it must raise ValueError")


# --- 15.2 run_graph ---------------------------------------------------------------------------------------
@pytest.mark.points(3, exercise="15.2", hint="run each node's handler and store its outputs under their names")
def test_run_exported_models(lab):
    """the MLP, CNN and transformer encoder layer run with the library's handlers give the models' outputs,
    also with the nodes shuffled"""
    run_graph = lab.defined("run_graph")
    for name in ("mlp", "cnn", "encoder"):
        model, proto, make = exported(name)
        x = make()
        with tt.no_grad():
            want = model(x)
            got = run(run_graph, proto, x, HANDLERS)
            check_close(got, want, f"the {name} graph's output", rtol=1e-4, atol=1e-5)
            mixed = onnx.ModelProto()
            mixed.CopyFrom(proto)
            del mixed.graph.node[:]
            mixed.graph.node.extend(shuffled(proto.graph.node, 1))
            check_close(run(run_graph, mixed, x, HANDLERS), want, f"the {name} graph's output with its nodes "
                        "shuffled", rtol=1e-4, atol=1e-5)


@pytest.mark.points(2, exercise="15.2", hint="a tuple from a handler is one value per output; '' means omitted")
def test_several_outputs_and_omitted_inputs(lab):
    """a Split node's outputs are stored under each name; an omitted input ('') reaches the handler as None;
    an operator without a handler raises NotImplementedError naming it and its node"""
    run_graph = lab.defined("run_graph")
    nodes = [helper.make_node("Concat", ["second", "first"], ["y"], axis=1),
             helper.make_node("Split", ["x", "sizes"], ["first", "second"], axis=1),
             helper.make_node("Clip", ["y", "", "top"], ["z"])]
    x = np.random.default_rng(1).standard_normal((2, 5)).astype(np.float32)
    values = {"x": tt.tensor(x), "sizes": tt.tensor([2, 3]), "top": tt.tensor(0.5)}
    got = run_graph(nodes, values, ["z", "first"], HANDLERS)
    check(isinstance(got, list) and len(got) == 2, "run_graph must return a list with one value per output name")
    want = np.minimum(np.concatenate([x[:, 2:], x[:, :2]], 1), 0.5)
    check_close(got[0], want, "the Split -> Concat -> Clip graph (several outputs, an omitted input)")
    check_close(got[1], x[:, :2], "the first output of Split")
    unknown = [helper.make_node("Hardmax", ["x"], ["y"], name="the_hardmax")]
    try:
        run_graph(unknown, {"x": tt.tensor(x)}, ["y"], HANDLERS)
    except NotImplementedError as e:
        check("Hardmax" in str(e) and "the_hardmax" in str(e),
              f"the NotImplementedError must name the operator and the node, got: {e}")
    else:
        check(False, "an operator without a handler (Hardmax) must raise NotImplementedError")


@pytest.mark.points(1, exercise="15.2", hint="compute with the tensors you are given, so the graph records")
def test_gradients_reach_the_weights(lab):
    """a loss on the MLP graph's output, run with your loop, gives the model's weight gradients"""
    run_graph = lab.defined("run_graph")
    model, proto, make = exported("mlp")
    x = make()
    params = weights(proto, requires_grad=True)
    (run(run_graph, proto, x, HANDLERS, params) ** 2).sum().backward()
    (model(x) ** 2).sum().backward()
    for name, p in model.named_parameters():
        check(params[name].grad is not None, f"no gradient reached the initializer {name}")
        check_close(params[name].grad, p.grad, f"the gradient of {name}", rtol=1e-4, atol=1e-6)


# --- 15.3 gemm, relu, softmax -----------------------------------------------------------------------------
def gemm_graph(attrs, c_shape):
    m, k, n = 3, 4, 5
    a_shape = (k, m) if attrs.get("transA") else (m, k)
    b_shape = (n, k) if attrs.get("transB") else (k, n)
    inputs = ["a", "b"] + (["c"] if c_shape is not None else [])
    node = helper.make_node("Gemm", inputs, ["y"], **attrs)
    rng = np.random.default_rng(len(attrs) + (len(c_shape) if c_shape else 7))
    arrays = {"a": rng.standard_normal(a_shape), "b": rng.standard_normal(b_shape)}
    if c_shape is not None:
        arrays["c"] = rng.standard_normal(c_shape)
    arrays = {k: v.astype(np.float32) for k, v in arrays.items()}
    a = arrays["a"].T if attrs.get("transA") else arrays["a"]
    b = arrays["b"].T if attrs.get("transB") else arrays["b"]
    want = attrs.get("alpha", 1.0) * a @ b + (attrs.get("beta", 1.0) * arrays["c"] if c_shape is not None else 0)
    return node, arrays, want


GEMM_CASES = [({}, (5,)), ({"transB": 1}, (5,)), ({"transA": 1}, (3, 5)), ({"transA": 1, "transB": 1}, (3, 1)),
              ({"alpha": 0.5, "beta": 2.0, "transB": 1}, (1, 5)), ({"alpha": -1.5}, None), ({"beta": 0.0}, ())]


@pytest.mark.points(3, exercise="15.3", hint="transA/transB transpose A/B; alpha scales A'B', beta scales C")
def test_gemm_attributes(lab):
    """Gemm with transA, transB, alpha, beta and C of shapes (N,), (M, N), (M, 1), (1, N), () or absent"""
    gemm = lab.defined("gemm")
    for attrs, c_shape in GEMM_CASES:
        node, arrays, want = gemm_graph(attrs, c_shape)
        inputs = [tt.tensor(arrays[name]) for name in node.input]
        got = gemm(node, inputs, tinytorch.onnx.importer.attributes(node))
        check_close(got, want, f"Gemm with attributes {attrs} and C of shape {c_shape}", rtol=1e-5, atol=1e-5)


@pytest.mark.points(2, exercise="15.3", hint="softmax along attrs.get('axis', -1), the maximum subtracted first")
def test_relu_and_softmax(lab):
    """Relu; Softmax along the default and a given axis, with large inputs; both differentiable"""
    relu, softmax = lab.defined("relu"), lab.defined("softmax")
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 3, 4)).astype(np.float32) * 30
    xt = tt.tensor(x, requires_grad=True)
    node = helper.make_node("Relu", ["x"], ["y"])
    out = relu(node, [xt], {})
    check_close(out, np.maximum(x, 0), "Relu")
    for attrs in ({}, {"axis": 1}, {"axis": 0}):
        axis = attrs.get("axis", -1)
        e = np.exp(x - x.max(axis, keepdims=True))
        want = e / e.sum(axis, keepdims=True)
        node = helper.make_node("Softmax", ["x"], ["y"], **attrs)
        check_close(softmax(node, [xt], dict(attrs)), want, f"Softmax with attributes {attrs} on large inputs",
                    rtol=1e-4, atol=1e-6)
    out = (relu(node, [xt], {}) * tt.tensor(rng.standard_normal(x.shape).astype(np.float32))).sum()
    out.backward()
    check(xt.grad is not None, "no gradient flows through your Relu: compute it with tinytorch ops")


@pytest.mark.points(3, exercise="15.3", hint="the exported MLP needs Gemm with transB=1, Relu and Softmax(axis=-1)")
def test_exported_mlp_with_your_handlers(lab):
    """the exported MLP (Gemm transB=1, Relu, Softmax) run by the library's loop with your handlers: the
    model's output and weight gradients"""
    mine = dict(HANDLERS, Gemm=lab.defined("gemm"), Relu=lab.defined("relu"), Softmax=lab.defined("softmax"))
    model, proto, make = exported("mlp")
    x = make()
    params = weights(proto, requires_grad=True)
    got = run(tinytorch.onnx.importer.run_graph, proto, x, mine, params)
    want = model(x)
    check_close(got, want, "the exported MLP's output with your handlers", rtol=1e-4, atol=1e-6)
    (got * got).sum().backward()
    (want * want).sum().backward()
    for name, p in model.named_parameters():
        check(params[name].grad is not None, f"no gradient reached {name} through your handlers")
        check_close(params[name].grad, p.grad, f"the gradient of {name} through your handlers", rtol=1e-3,
                    atol=1e-6)
