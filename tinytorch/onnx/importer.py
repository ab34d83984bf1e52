"""Running an ONNX graph with tinytorch ops: :func:`load` returns an :class:`OnnxModule`.

An ONNX model is a graph as data: a list of nodes (``op_type``, input names, output names,
attributes), the graph's inputs and outputs, and initializers (named constant tensors: the
weights). Running it is an interpreter loop -- put the inputs and initializers in a dict of
values, visit the nodes in an order where each node's inputs are already computed
(:func:`topological_order`), and store each node's outputs under their names
(:func:`run_graph`). Every operator is one handler in :mod:`tinytorch.onnx.handlers`.

The initializers become the module's parameters (floating point: they can be trained) and
buffers (integer shapes and indices), and so do the values of ``Constant`` nodes; a loaded
model therefore moves with ``.to(device)``, saves with ``state_dict`` and fine-tunes with any
optimizer.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from typing import Any

from .. import ops
from ..nn import Module, Parameter
from ..tensor import Tensor
from .handlers import HANDLERS, Handler, constant_value
from .proto import dtype_of, require, to_array

#: the oldest opset whose operators the handlers implement (13 changed Softmax, Split, Squeeze/Unsqueeze
#: and ReduceSum; the handlers accept both the older attribute and the newer input forms since then)
MIN_OPSET = 13


def topological_order(nodes: Iterable[Any], known: Iterable[str]) -> list[Any]:
    """``nodes`` in an order in which every node comes after the nodes that make its inputs
    (Kahn's algorithm, keeping the file's order among nodes that are ready together).

    ``known`` are the names available before any node runs (graph inputs, initializers); the
    empty name is an omitted optional input. Raises ValueError naming a node whose input is
    never produced, or the nodes of a cycle."""
    nodes = list(nodes)
    available = set(known) | {""}
    producer = {out: i for i, n in enumerate(nodes) for out in n.output}
    waiting = []
    for n in nodes:
        missing = [name for name in n.input if name not in available]
        for name in missing:
            if name not in producer:
                raise ValueError(f"node {n.name!r} ({n.op_type}) reads {name!r}, which no node, input or "
                                 "initializer of the graph produces")
        waiting.append(len(set(missing)))
    users: dict[int, list[int]] = {}
    for i, n in enumerate(nodes):
        for name in set(n.input) - available:
            users.setdefault(producer[name], []).append(i)
    ready = [i for i, w in enumerate(waiting) if w == 0]
    order = []
    while ready:
        i = min(ready)  # the file's order among the ready nodes: a stable, readable schedule
        ready.remove(i)
        order.append(nodes[i])
        for j in users.get(i, []):
            waiting[j] -= 1
            if waiting[j] == 0:
                ready.append(j)
    if len(order) < len(nodes):
        stuck = [n.name or n.op_type for n in nodes if n not in order]
        raise ValueError(f"the graph has a cycle through nodes {stuck}")
    return order


def attributes(node: Any) -> dict[str, Any]:
    """A node's attributes as Python values (strings decoded, tensors as numpy arrays)."""
    helper = require().helper
    out = {}
    for a in node.attribute:
        value = helper.get_attribute_value(a)
        if isinstance(value, bytes):
            value = value.decode()
        elif hasattr(value, "dims") and hasattr(value, "data_type"):
            value = to_array(value)
        out[a.name] = value
    return out


def run_node(node: Any, values: dict[str, Tensor], handlers: dict[str, Handler]) -> None:
    """Run one node: read its inputs from ``values``, call its handler, store its outputs."""
    fn = handlers.get(node.op_type)
    if fn is None or (node.domain not in ("", "ai.onnx")):
        raise NotImplementedError(f"ONNX operator {node.domain + '::' if node.domain else ''}{node.op_type} "
                                  f"(node {node.name!r}) is not supported by tinytorch.onnx")
    inputs = [values[name] if name else None for name in node.input]
    out = fn(node, inputs, attributes(node))
    outs = out if isinstance(out, tuple) else (out,)
    for name, value in zip(node.output, outs):
        if name:
            values[name] = value


def run_graph(nodes: list[Any], values: dict[str, Tensor], outputs: list[str],
              handlers: dict[str, Handler] = HANDLERS) -> list[Tensor]:
    """Run ``nodes`` (in topological order) on ``values`` (the inputs and initializers by name)
    and return the values named ``outputs``."""
    for node in nodes:
        run_node(node, values, handlers)
    return [values[name] for name in outputs]


def _attribute_name(onnx_name: str, taken: set[str]) -> str:
    """A Module attribute name for an ONNX value name (no dots; unique)."""
    base = re.sub(r"\W", "_", onnx_name) or "value"
    base = "_" + base if base[0].isdigit() else base
    name, k = base, 1
    while name in taken:
        name, k = f"{base}_{k}", k + 1
    taken.add(name)
    return name


class OnnxModule(Module):
    """An ONNX graph as a Module: ``forward(*inputs)`` runs the graph with tinytorch ops.

    Floating-point initializers are :class:`~tinytorch.nn.Parameter` s (named after the ONNX
    value, dots made underscores; :attr:`onnx_names` maps back), except BatchNormalization's
    running statistics; those, integer initializers and Constant nodes' values are buffers.
    Returns one Tensor for a graph with one output, else a tuple."""

    def __init__(self, model: Any) -> None:
        super().__init__()
        graph = model.graph
        self.model_proto = model
        self.onnx_names: dict[str, str] = {}
        taken: set[str] = set()
        statistics = {name for node in graph.node if node.op_type == "BatchNormalization" for name in node.input[3:5]}
        for init in graph.initializer:  # running statistics are state, not weights: buffers
            self._add_constant(init.name, to_array(init), taken, trainable=init.name not in statistics)
        nodes = []
        for node in graph.node:  # Constant nodes hold fixed values: keep them as buffers
            if node.op_type == "Constant" and node.domain in ("", "ai.onnx"):
                self._add_constant(node.output[0], constant_value(node, attributes(node)), taken, trainable=False)
            else:
                nodes.append(node)
        self.input_names = [i.name for i in graph.input if i.name not in self.onnx_names.values()]
        self.output_names = [o.name for o in graph.output]
        self.input_dtypes = [dtype_of(i.type.tensor_type.elem_type, f"graph input {i.name!r}")
                             for i in graph.input if i.name in self.input_names]
        self.nodes = topological_order(nodes, self.input_names + list(self.onnx_names.values()))

    def _add_constant(self, onnx_name: str, array: Any, taken: set[str], trainable: bool) -> None:
        dtype = dtype_of(_np_to_onnx(array), f"initializer {onnx_name!r}")
        value = ops.tensor(array, dtype=dtype)
        attr = _attribute_name(onnx_name, taken)
        if trainable and dtype.is_floating_point:
            self.register_parameter(attr, Parameter(value))
        else:
            self.register_buffer(attr, value)
        self.onnx_names[attr] = onnx_name

    def forward(self, *inputs: Any) -> Any:
        if len(inputs) != len(self.input_names):
            raise TypeError(f"the ONNX graph takes {len(self.input_names)} inputs {self.input_names}, "
                            f"got {len(inputs)}")
        values = {self.onnx_names[attr]: getattr(self, attr) for attr in self.onnx_names}
        for name, x, dtype in zip(self.input_names, inputs, self.input_dtypes):
            values[name] = x if isinstance(x, Tensor) else ops.tensor(x, dtype=dtype)
        outs = run_graph(self.nodes, values, self.output_names)
        return outs[0] if len(outs) == 1 else tuple(outs)

    def extra_repr(self) -> str:
        return f"inputs={self.input_names}, outputs={self.output_names}, nodes={len(self.nodes)}"


def _np_to_onnx(array: Any) -> int:
    """The ONNX element type of a numpy array's dtype."""
    return int(require().helper.np_dtype_to_tensor_dtype(array.dtype))


def load(f: Any) -> OnnxModule:
    """Load an ONNX model (a path, a file object, bytes or an ``onnx.ModelProto``) as an
    :class:`OnnxModule` that runs it with tinytorch ops.

    The model is checked with ``onnx.checker`` first; an operator without a handler raises
    NotImplementedError naming it and its node when the graph is loaded, not when it runs."""
    onnx = require()
    if isinstance(f, onnx.ModelProto):
        model = f
    elif isinstance(f, (bytes, bytearray)):
        model = onnx.load_from_string(bytes(f))
    else:
        model = onnx.load(os.fspath(f) if isinstance(f, (str, os.PathLike)) else f)
    onnx.checker.check_model(model)
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), None)
    if opset is not None and opset < MIN_OPSET:
        raise NotImplementedError(f"the model uses opset {opset}; tinytorch.onnx runs opset {MIN_OPSET} and later "
                                  "(Softmax, Split, Squeeze and the reductions changed meaning before it): "
                                  "onnx.version_converter.convert_version can update the file")
    for node in model.graph.node:
        if node.op_type not in HANDLERS or node.domain not in ("", "ai.onnx"):
            raise NotImplementedError(f"ONNX operator {node.domain + '::' if node.domain else ''}{node.op_type} "
                                      f"(node {node.name!r}) is not supported by tinytorch.onnx")
    return OnnxModule(model)
