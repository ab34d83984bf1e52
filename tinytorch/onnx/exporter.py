"""Writing a tinytorch model as an ONNX file: :func:`export` (``torch.onnx.export``'s signature).

Export traces one call of the model. A :class:`~tinytorch.tensor.DispatchMode` records every op
run through the op table (``Function.apply``) with its inputs, parameters and output; then each
recorded op becomes ONNX node(s) through :data:`EMITTERS`, one entry per Function class. A
tensor that no recorded op produced is a graph input (an argument of the call), an
initializer (a parameter or buffer of the model, under its ``state_dict`` name) or a constant
(an initializer named ``const_N``: shapes, index arrays, Python scalars).

Layers that ONNX has one operator for (:data:`LAYERS`: Linear on a matrix, Conv, BatchNorm in
evaluation, LayerNorm, max and average pooling, GELU) are written as that operator: a forward
pre-hook pauses the recording and a forward hook writes the node, so the file reads like the
model and max pooling's window mask (computed outside the op table) is not needed.

A value computed from the input outside the op table would be recorded as a constant and be
wrong for every other input. Export therefore traces the model a second time, on perturbed
inputs whose dynamic axes (if any) are longer, and raises if a constant (or the sequence of
ops) changed, naming the op that read it; the shape parameters that changed are the sizes
that follow the dynamic axes. Finally the written graph is run on the example input by
:mod:`tinytorch.onnx.importer`: work no op recorded (an in-place update) would show there.
"""

from __future__ import annotations

import inspect
import itertools
import operator
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import ops
from ..ndarray import NDArray, bool_, int64
from ..ndarray.dtypes import DType, promote_types, result_type_with_scalar
from ..nn import (
    GELU,
    AdaptiveAvgPool2d,
    AvgPool2d,
    BatchNorm1d,
    BatchNorm2d,
    Conv1d,
    Conv2d,
    ConvTranspose1d,
    ConvTranspose2d,
    LayerNorm,
    Linear,
    MaxPool1d,
    MaxPool2d,
    Module,
)
from ..nn import functional as F
from ..ops import elementwise as ew
from ..ops import fused
from ..ops import movement as mv
from ..ops import reduce as rd
from ..ops.matmul import Matmul
from ..ops.windows import Convolution, ConvolutionGradInput, MaxPool, Unfold
from ..tensor import DispatchMode, Function, Tensor, no_grad
from .importer import OnnxModule
from .proto import FROM_DTYPE, require

#: the opset and IR version PyTorch 2.13's exporter writes (``model.opset_import``, ``ir_version``)
DEFAULT_OPSET, IR_VERSION = 20, 10
SUPPORTED_OPSETS = range(18, 21)
INT64_MAX = 2 ** 63 - 1
#: options of ``torch.onnx.export`` that do not change what this exporter writes
IGNORED_OPTIONS = frozenset({"dynamo", "verbose", "external_data", "optimize", "verify", "report", "profile",
                             "do_constant_folding", "training", "keep_initializers_as_inputs", "dynamic_shapes",
                             "export_params", "operator_export_type", "autograd_inlining", "dump_exported_program",
                             "artifacts_dir"})


@dataclass
class Call:
    """One recorded op (``op`` a Function class) or layer (``layer`` a Module), and its output."""

    op: type[Function] | None
    args: tuple[Any, ...]
    params: dict[str, Any]
    out: Any
    layer: Module | None = None

    @property
    def what(self) -> str:
        return type(self.layer).__name__ if self.layer is not None else self.op.__name__  # type: ignore[union-attr]


class Recorder(DispatchMode):
    """Records every op run through ``Function.apply`` while active, except inside a layer that
    :data:`LAYERS` writes as one node (its hooks pause the recording and record the layer)."""

    def __init__(self, opset: int) -> None:
        self.calls: list[Call] = []
        self.opset = opset
        self.depth = 0  # > 0 inside a layer recorded as one node
        self.paused: list[bool] = []

    def dispatch(self, op: Any, args: tuple, params: dict, run: Callable) -> Any:
        out = run(args, params)
        if self.depth == 0:
            self.calls.append(Call(op, args, params, out))
        return out

    def before(self, module: Module, args: tuple) -> None:
        rule = LAYERS.get(type(module))
        as_node = self.depth == 0 and rule is not None and rule.applies(module, args, self.opset)
        self.paused.append(as_node)
        self.depth += as_node

    def after(self, module: Module, args: tuple, out: Any) -> None:
        if self.paused.pop():
            self.depth -= 1
            self.calls.append(Call(None, args, {}, out, module))


# --------------------------------------------------------------------- the graph being written
class Graph:
    """ONNX nodes, initializers and value names for one trace.

    Values are found by the identity of their NDArray (a detached tensor shares its producer's),
    so :attr:`keep` holds every array named here: an id is never reused while the graph exists."""

    def __init__(self, opset: int, named: dict[int, tuple[str, Tensor]]) -> None:
        self.onnx = require()
        self.opset, self.named = opset, named
        self.names: dict[int, str] = {}
        self.keep: list[Any] = []
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []
        self.constants: list[tuple[str, np.ndarray]] = []  # (the op that read it, its value)
        self.counter = itertools.count()
        self.reading = ""  # the op being written, for constants' provenance
        self.other: Call | None = None  # the same op in the second trace (other values and sizes)

    def fresh(self, base: str) -> str:
        return f"{base}_{next(self.counter)}"

    def bind(self, out: Any, name: str) -> None:
        """``out`` (a Tensor or NDArray) is the value ``name``."""
        array = out._data if isinstance(out, Tensor) else out
        self.keep.append(array)
        self.names[id(array)] = name

    def constant(self, value: np.ndarray, base: str = "const", data: bool = True) -> str:
        """A new initializer holding ``value``; ``data``: it might come from the input's values
        (a tensor or scalar the trace met), so the data-dependence check compares it."""
        name = self.fresh(base)
        self.initializers.append(self.onnx.numpy_helper.from_array(np.asarray(value), name))
        if data:
            self.constants.append((self.reading, np.asarray(value)))
        return name

    def ints(self, values: Sequence[int]) -> str:
        """An int64 constant the exporter computed (shapes, axes, indices): not data."""
        return self.constant(np.asarray(list(values), dtype=np.int64), data=False)

    def value(self, x: Any, dtype: DType | None = None) -> str:
        """The name of ``x`` (a Tensor, NDArray or Python scalar), cast to ``dtype`` if given."""
        array = x._data if isinstance(x, Tensor) else x
        if isinstance(array, NDArray):
            key = id(array)
            if key not in self.names:
                if key in self.named:
                    name, t = self.named[key]
                    self.initializers.append(self.onnx.numpy_helper.from_array(t.detach().numpy(), name))
                    self.bind(array, name)
                else:
                    self.bind(array, self.constant(array.numpy()))
            name = self.names[key]
            return name if dtype is None or array.dtype is dtype else self.node("Cast", [name], to=FROM_DTYPE[dtype])
        if dtype is None:
            raise TypeError(f"{self.reading}: a Python scalar {x!r} needs a dtype to become a constant")
        return self.constant(np.asarray(x, dtype=dtype.np_dtype))

    def node(self, op_type: str, inputs: Sequence[str], outputs: int = 1, **attrs: Any) -> Any:
        """Append a node; returns its output name (a list of names when ``outputs > 1``)."""
        names = [self.fresh(op_type.lower()) for _ in range(outputs)]
        self.nodes.append(self.onnx.helper.make_node(op_type, list(inputs), names, name=self.fresh(f"n_{op_type}"),
                                                     **attrs))
        return names[0] if outputs == 1 else names


# --------------------------------------------------------------------- one emitter per Function class
Emitter = Callable[[Graph, Call], str]
#: Function class -> its emitter ``(graph, call) -> the name of the output``; :func:`emitter` fills it
EMITTERS: dict[type, Emitter] = {}


def emitter(*classes: type) -> Callable[[Emitter], Emitter]:
    """Register the decorated function as the emitter of the Function ``classes``."""
    def register(fn: Emitter) -> Emitter:
        for cls in classes:
            EMITTERS[cls] = fn
        return fn
    return register


def unary(op_type: str) -> Emitter:
    return lambda g, c: g.node(op_type, [g.value(c.args[0])])


def binary(op_type: str) -> Emitter:
    """Both operands cast to the result's dtype (ONNX's arithmetic takes one type)."""
    def emit(g: Graph, c: Call) -> str:
        if c.out.dtype is bool_:
            raise NotImplementedError(f"ONNX export: {c.op.__name__} of bool tensors is not supported")
        return g.node(op_type, [g.value(a, c.out.dtype) for a in c.args])
    return emit


for _cls, _name in ((ew.Neg, "Neg"), (ew.Exp, "Exp"), (ew.Log, "Log"), (ew.Sqrt, "Sqrt"), (ew.Abs, "Abs"),
                    (ew.Sin, "Sin"), (ew.Cos, "Cos"), (ew.Tanh, "Tanh"), (ew.Sigmoid, "Sigmoid"), (ew.Relu, "Relu"),
                    (ew.Erf, "Erf"), (mv.Clone, "Identity"), (mv.ToDevice, "Identity")):
    EMITTERS[_cls] = unary(_name)
for _cls, _name in ((ew.Add, "Add"), (ew.Sub, "Sub"), (ew.Mul, "Mul"), (ew.Div, "Div"), (ew.Pow, "Pow"),
                    (ew.Maximum, "Max"), (ew.Minimum, "Min")):
    EMITTERS[_cls] = binary(_name)

EMITTERS[Matmul] = lambda g, c: g.node("MatMul", [g.value(a) for a in c.args])
EMITTERS[ew.Rsqrt] = lambda g, c: g.node("Reciprocal", [g.node("Sqrt", [g.value(c.args[0])])])
EMITTERS[ew.Log1p] = lambda g, c: g.node("Log", [g.node("Add", [g.value(c.args[0]), g.value(1, c.out.dtype)])])
EMITTERS[ew.Expm1] = lambda g, c: g.node("Sub", [g.node("Exp", [g.value(c.args[0])]), g.value(1, c.out.dtype)])
EMITTERS[ew.Cast] = lambda g, c: g.node("Cast", [g.value(c.args[0])], to=FROM_DTYPE[c.params["dtype"]])
EMITTERS[ew.Where] = lambda g, c: g.node("Where", [g.value(c.args[2])] + [g.value(a, c.out.dtype)
                                                                            for a in c.args[:2]])
EMITTERS[mv.Permute] = lambda g, c: g.node("Transpose", [g.value(c.args[0])], perm=list(c.params["dims"]))
EMITTERS[mv.Cat] = lambda g, c: g.node("Concat", [g.value(a, c.out.dtype) for a in c.args], axis=c.params["dim"])
EMITTERS[rd.Softmax] = lambda g, c: g.node("Softmax", [g.value(c.args[0])], axis=int(c.params["dim"]))
EMITTERS[rd.LogSoftmax] = lambda g, c: g.node("LogSoftmax", [g.value(c.args[0])], axis=_one_axis(c))


@emitter(fused.Linear)
def _linear(g: Graph, c: Call) -> str:
    """``x @ w.T + b``: Gemm (``transB``) on rows, as PyTorch writes a linear layer; an input
    with more dims (Gemm takes matrices only) is MatMul with the transposed weight, then Add."""
    x, w, b = c.args
    if x.ndim == 2:
        inputs = [g.value(x), g.value(w)] + ([g.value(b)] if b is not None else [])
        return g.node("Gemm", inputs, transB=1)
    out = g.node("MatMul", [g.value(x), g.node("Transpose", [g.value(w)], perm=[1, 0])])
    return out if b is None else g.node("Add", [out, g.value(b)])


@emitter(fused.LayerNorm)
def _layer_norm(g: Graph, c: Call) -> str:
    """LayerNormalization over the last ``n`` axes; a missing weight is ones, a missing bias zeros."""
    x, w, b = c.args
    n = int(c.params["n"])
    shape = tuple(x.shape[x.ndim - n:])
    scale = g.value(w) if w is not None else g.value(ops.ones(shape, dtype=x.dtype))
    inputs = [g.value(x), scale] + ([g.value(b)] if b is not None else [])
    return g.node("LayerNormalization", inputs, axis=-n, epsilon=float(c.params["eps"]))


EMITTERS[fused.Gelu] = lambda g, c: g.node("Gelu", [g.value(c.args[0])])


def _gate(g: Graph, z: str, k: int, h: int, act: str) -> str:
    """Gate ``k`` of an LSTM's pre-activations ``z`` (last dim 4h) through ``act``."""
    return g.node(act, [g.node("Slice", [z, g.ints([k * h]), g.ints([(k + 1) * h]), g.ints([-1])])])


@emitter(fused.LstmCell)
def _lstm_cell(g: Graph, c: Call) -> str:
    """``sigmoid(f) * c + sigmoid(i) * tanh(g)``: four slices of ``z`` and ONNX's elementwise ops."""
    z, cell = g.value(c.args[0]), c.args[1]
    h = cell.shape[-1]
    return g.node("Add", [g.node("Mul", [_gate(g, z, 1, h, "Sigmoid"), g.value(cell)]),
                          g.node("Mul", [_gate(g, z, 0, h, "Sigmoid"), _gate(g, z, 2, h, "Tanh")])])


@emitter(fused.LstmHidden)
def _lstm_hidden(g: Graph, c: Call) -> str:
    """``sigmoid(o) * tanh(c')``."""
    z, cell = g.value(c.args[0]), c.args[1]
    return g.node("Mul", [_gate(g, z, 3, cell.shape[-1], "Sigmoid"), g.node("Tanh", [g.value(cell)])])


@emitter(fused.Attention)
def _attention(g: Graph, c: Call) -> str:
    """``softmax(q k^T * scale + causal bias) v`` written out: Mul, Transpose, MatMul, (Add of a
    constant -inf-above-the-diagonal bias), Softmax over the last axis, MatMul."""
    q, k, v = c.args
    n = k.ndim
    scores = g.node("MatMul", [g.node("Mul", [g.value(q), g.value(c.params["scale"], q.dtype)]),
                               g.node("Transpose", [g.value(k)], perm=list(range(n - 2)) + [n - 1, n - 2])])
    if c.params["causal"]:
        bias = np.triu(np.full((q.shape[-2], k.shape[-2]), -np.inf), 1).astype(q.dtype.np_dtype)
        scores = g.node("Add", [scores, g.constant(bias)])
    return g.node("MatMul", [g.node("Softmax", [scores], axis=-1), g.value(v)])


def _one_axis(c: Call) -> int:
    dims = c.params["dims"]
    if len(dims) != 1:
        raise NotImplementedError(f"ONNX export: {c.op.__name__} over several dims {dims} is not supported")
    return int(dims[0])


_COMPARE = {operator.eq: "Equal", operator.lt: "Less", operator.le: "LessOrEqual", operator.gt: "Greater",
            operator.ge: "GreaterOrEqual", operator.ne: "Equal"}


@emitter(ew.Untracked)
def _compare(g: Graph, c: Call) -> str:
    """A comparison (the ``Untracked`` ops without a gradient that export supports): both sides
    cast to the dtype the comparison computes in; ``!=`` is ``Not(Equal)``."""
    fn = c.params["fn"]
    if fn not in _COMPARE:
        name = getattr(fn, "__name__", repr(fn))
        raise NotImplementedError(f"ONNX export: the op {name!r} (no gradient: logic, bit or test ops) is not "
                                  "supported; comparisons are")
    a, b = c.args
    if isinstance(a, Tensor) and isinstance(b, Tensor):
        common = promote_types(a.dtype, b.dtype)
    else:
        t, s = (a, b) if isinstance(a, Tensor) else (b, a)
        common = result_type_with_scalar(t.dtype, s)
    out = g.node(_COMPARE[fn], [g.value(a, common), g.value(b, common)])
    return g.node("Not", [out]) if fn is operator.ne else out


@emitter(ew.Rounding)
def _rounding(g: Graph, c: Call) -> str:
    names = {"floor": "Floor", "ceil": "Ceil", "round": "Round"}
    if c.params["fn"] not in names:
        raise NotImplementedError(f"ONNX export: rounding {c.params['fn']!r} is not supported")
    return g.node(names[c.params["fn"]], [g.value(c.args[0])])


def _varying(g: Graph, c: Call, key: str) -> list[int]:
    """The positions where the shape parameter ``key`` differs in the second trace, whose
    dynamic axes are longer: the sizes that must not be written as numbers."""
    if g.other is None:
        return []
    a, b = tuple(c.params[key]), tuple(g.other.params[key])
    return [i for i, (m, n) in enumerate(zip(a, b)) if m != n] if len(a) == len(b) else list(range(len(a)))


@emitter(mv.Reshape)
def _reshape(g: Graph, c: Call) -> str:
    """One size that varies with a dynamic axis is written -1 (inferred); more cannot be."""
    x, shape = c.args[0], list(c.params["shape"])
    varying = _varying(g, c, "shape")
    if len(varying) > 1:
        raise NotImplementedError(f"ONNX export: {g.reading} reshapes to {tuple(shape)} with {len(varying)} sizes "
                                  "that follow dynamic axes; only one can be inferred")
    for i in varying:
        shape[i] = -1
    return g.node("Reshape", [g.value(x), g.ints(shape)])


@emitter(mv.Expand)
def _expand(g: Graph, c: Call) -> str:
    """ONNX's Expand broadcasts both ways: a size that follows a dynamic axis is written 1 and
    taken from the input."""
    x, shape = c.args[0], list(c.params["shape"])
    for i in _varying(g, c, "shape"):
        shape[i] = 1
    return g.node("Expand", [g.value(x), g.ints(shape)])


@emitter(mv.Flip)
def _flip(g: Graph, c: Call) -> str:
    dims = list(c.params["dims"])
    n = len(dims)
    return g.node("Slice", [g.value(c.args[0]), g.ints([-1] * n), g.ints([-INT64_MAX - 1] * n), g.ints(dims),
                            g.ints([-1] * n)])


@emitter(rd.Sum)
def _sum(g: Graph, c: Call) -> str:
    x, dims = c.args[0], list(c.params["dims"])
    if not dims:
        return g.node("Identity", [g.value(x)])
    return g.node("ReduceSum", [g.value(x), g.ints(dims)], keepdims=int(c.params["keepdim"]))


@emitter(rd.Prod)
def _prod(g: Graph, c: Call) -> str:
    return g.node("ReduceProd", [g.value(c.args[0]), g.ints([c.params["dim"]])], keepdims=int(c.params["keepdim"]))


@emitter(rd.Amax)
def _amax(g: Graph, c: Call) -> str:
    x, dims = c.args[0], list(c.params["dims"])
    op_type = "ReduceMax" if c.params.get("op", "max") == "max" else "ReduceMin"
    if not dims:
        return g.node("Identity", [g.value(x)])
    return g.node(op_type, [g.value(x), g.ints(dims)], keepdims=int(c.params["keepdim"]))


@emitter(mv.Index)
def _index(g: Graph, c: Call) -> str:
    """``x[key]`` for keys of ints, slices with positive steps, None, Ellipsis and one integer
    index array: each item one node (Gather, Slice, Unsqueeze) on the running result."""
    x, key = c.args[0], c.params["key"]
    items = list(key) if isinstance(key, tuple) else [key]
    if any(i is Ellipsis for i in items):
        at = items.index(Ellipsis)
        used = sum(1 for i in items if i is not None and i is not Ellipsis)
        items[at:at + 1] = [slice(None)] * (x.ndim - used)
    out, axis, arrays = g.value(x), 0, 0
    for item in items:
        if item is None:
            out = g.node("Unsqueeze", [out, g.ints([axis])])
            axis += 1
        elif isinstance(item, (int, np.integer)) and not isinstance(item, bool):
            out = g.node("Gather", [out, g.constant(np.asarray(int(item), dtype=np.int64), data=False)], axis=axis)
        elif isinstance(item, slice):
            start, stop, step = item.start, item.stop, item.step or 1
            if step <= 0:
                raise NotImplementedError(f"ONNX export: indexing with step {step} is not supported")
            if (start, stop, step) != (None, None, 1):
                out = g.node("Slice", [out, g.ints([start or 0]), g.ints([INT64_MAX if stop is None else stop]),
                                       g.ints([axis]), g.ints([step])])
            axis += 1
        elif isinstance(item, (list, np.ndarray)) and np.asarray(item).dtype.kind == "i" and arrays == 0:
            index = np.asarray(item, dtype=np.int64)
            out = g.node("Gather", [out, g.constant(index, data=False)], axis=axis)
            axis, arrays = axis + index.ndim, 1
        elif isinstance(item, (NDArray, Tensor)) and item.dtype is int64 and arrays == 0:
            out = g.node("Gather", [out, g.value(item)], axis=axis)
            axis, arrays = axis + item.ndim, 1
        else:
            raise NotImplementedError(f"ONNX export: indexing with {type(item).__name__} "
                                      f"{getattr(item, 'dtype', '')} (or a second index array) is not supported")
    return out


@emitter(Unfold)
def _unfold(g: Graph, c: Call) -> str:
    """im2col as data movement: pad, flatten each plane, and Gather every window element by
    its flat position ``(i * sh + ki * dh) * Wp + (j * sw + kj * dw)`` -> (N, C, kh, kw, OH, OW)."""
    x = c.args[0]
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = (c.params[k] for k in ("kernel", "stride", "padding", "dilation"))
    hp, wp = x.shape[2] + 2 * ph, x.shape[3] + 2 * pw
    oh, ow = c.out.shape[4], c.out.shape[5]
    rows = (np.arange(oh)[None, None, :, None] * sh + np.arange(kh)[:, None, None, None] * dh)
    cols = (np.arange(ow)[None, None, None, :] * sw + np.arange(kw)[None, :, None, None] * dw)
    index = (rows * wp + cols).astype(np.int64)
    value = g.value(c.params.get("pad_value", 0), x.dtype)
    padded = g.node("Pad", [g.value(x), g.ints([0, 0, ph, pw, 0, 0, ph, pw]), value])
    flat = g.node("Reshape", [padded, g.ints([0, 0, hp * wp])])
    return g.node("Gather", [flat, g.constant(index, data=False)], axis=2)


@emitter(Convolution)
def _convolution(g: Graph, c: Call) -> str:
    """A 2-D convolution node: ONNX Conv, with the bias as its third input when there is one."""
    x, w, b = c.args
    ph, pw = c.params["padding"]
    inputs = [g.value(x), g.value(w)] + ([g.value(b)] if b is not None else [])
    return g.node("Conv", inputs, kernel_shape=list(w.shape[2:]), strides=list(c.params["stride"]),
                  pads=[ph, pw, ph, pw], dilations=list(c.params["dilation"]), group=int(c.params["groups"]))


@emitter(ConvolutionGradInput)
def _conv_transpose_op(g: Graph, c: Call) -> str:
    """A convolution's input gradient is a transposed convolution (``F.conv_transpose2d``):
    ONNX ConvTranspose, the rows and columns the windows do not reach as output_padding."""
    x, w = c.args
    (sh, sw), (ph, pw), (dh, dw) = (c.params[k] for k in ("stride", "padding", "dilation"))
    (oh, ow), (kh, kw) = c.params["input_hw"], w.shape[2:]
    extra = [oh - (sh * (x.shape[2] - 1) + dh * (kh - 1) + 1 - 2 * ph),
             ow - (sw * (x.shape[3] - 1) + dw * (kw - 1) + 1 - 2 * pw)]
    return g.node("ConvTranspose", [g.value(x), g.value(w)], kernel_shape=[kh, kw], strides=[sh, sw],
                  pads=[ph, pw, ph, pw], dilations=[dh, dw], group=int(c.params["groups"]), output_padding=extra)


@emitter(MaxPool)
def _max_pool_op(g: Graph, c: Call) -> str:
    """A 2-D max pooling node: ONNX MaxPool. A ceil_mode window that reaches past the padding
    becomes extra padding on the bottom/right (ONNX never picks a padded element)."""
    x = c.args[0]
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = (c.params[k] for k in ("kernel", "stride", "padding", "dilation"))
    oh, ow = c.params["out_hw"]
    eh = max((oh - 1) * sh + dh * (kh - 1) + 1 - (x.shape[2] + 2 * ph), 0)
    ew = max((ow - 1) * sw + dw * (kw - 1) + 1 - (x.shape[3] + 2 * pw), 0)
    return g.node("MaxPool", [g.value(x)], kernel_shape=[kh, kw], strides=[sh, sw],
                  pads=[ph, pw, ph + eh, pw + ew], dilations=[dh, dw])


# --------------------------------------------------------------------- layers written as one node
@dataclass(frozen=True)
class Layer:
    """How a layer becomes one ONNX node: ``applies(module, args, opset)`` and ``emit(g, module, x)``."""

    applies: Callable[[Any, tuple, int], bool]
    emit: Callable[[Graph, Any, Tensor], str]


def _batched(nd: int) -> Callable[[Any, tuple, int], bool]:
    return lambda m, args, opset: bool(args) and isinstance(args[0], Tensor) and args[0].ndim == nd + 2


def _linear(g: Graph, m: Any, x: Tensor) -> str:
    inputs = [g.value(x), g.value(m.weight)] + ([g.value(m.bias)] if m.bias is not None else [])
    return g.node("Gemm", inputs, transB=1)


def _conv(g: Graph, m: Any, x: Tensor) -> str:
    nd = len(m.kernel_size)
    if m.padding == "same":
        amounts = F._same_padding(m.kernel_size, m.dilation)
        pads = [a for a, _ in amounts] + [b for _, b in amounts]
    else:
        pads = [0] * 2 * nd if m.padding == "valid" else list(m.padding) * 2
    inputs = [g.value(x), g.value(m.weight)] + ([g.value(m.bias)] if m.bias is not None else [])
    return g.node("Conv", inputs, kernel_shape=list(m.kernel_size), strides=list(m.stride), pads=pads,
                  dilations=list(m.dilation), group=m.groups)


def _conv_transpose(g: Graph, m: Any, x: Tensor) -> str:
    inputs = [g.value(x), g.value(m.weight)] + ([g.value(m.bias)] if m.bias is not None else [])
    return g.node("ConvTranspose", inputs, kernel_shape=list(m.kernel_size), strides=list(m.stride),
                  pads=list(m.padding) * 2, dilations=list(m.dilation), group=m.groups,
                  output_padding=list(m.output_padding))


def _batch_norm(g: Graph, m: Any, x: Tensor) -> str:
    n = m.num_features
    scale = g.value(m.weight) if m.weight is not None else g.constant(np.ones(n, dtype=x.dtype.np_dtype))
    bias = g.value(m.bias) if m.bias is not None else g.constant(np.zeros(n, dtype=x.dtype.np_dtype))
    return g.node("BatchNormalization", [g.value(x), scale, bias, g.value(m.running_mean), g.value(m.running_var)],
                  epsilon=float(m.eps))


def _layer_norm(g: Graph, m: Any, x: Tensor) -> str:
    shape = tuple(m.normalized_shape)
    weight = getattr(m, "weight", None)
    bias = getattr(m, "bias", None)
    scale = g.value(weight) if weight is not None else g.constant(np.ones(shape, dtype=x.dtype.np_dtype))
    return g.node("LayerNormalization", [g.value(x), scale] + ([g.value(bias)] if bias is not None else []),
                  axis=-len(shape), epsilon=float(m.eps))


def _pool_args(m: Any, nd: int, dilation: bool) -> dict[str, Any]:
    kernel = F._ntuple(m.kernel_size, nd, "kernel_size")
    stride = F._ntuple(m.stride if m.stride is not None else m.kernel_size, nd, "stride")
    padding = F._ntuple(m.padding, nd, "padding")
    out = dict(kernel_shape=list(kernel), strides=list(stride), pads=list(padding) * 2, ceil_mode=int(m.ceil_mode))
    if dilation:
        out["dilations"] = list(F._ntuple(m.dilation, nd, "dilation"))
    return out


def _max_pool(nd: int) -> Layer:
    return Layer(lambda m, args, opset: _batched(nd)(m, args, opset) and not m.return_indices,
                 lambda g, m, x: g.node("MaxPool", [g.value(x)], **_pool_args(m, nd, True)))


LAYERS: dict[type, Layer] = {
    Linear: Layer(lambda m, args, opset: bool(args) and isinstance(args[0], Tensor) and args[0].ndim == 2, _linear),
    Conv1d: Layer(lambda m, args, opset: _batched(1)(m, args, opset) and m.padding_mode == "zeros", _conv),
    Conv2d: Layer(lambda m, args, opset: _batched(2)(m, args, opset) and m.padding_mode == "zeros", _conv),
    ConvTranspose1d: Layer(_batched(1), _conv_transpose),
    ConvTranspose2d: Layer(_batched(2), _conv_transpose),
    BatchNorm1d: Layer(lambda m, args, opset: not m.training and m.running_mean is not None, _batch_norm),
    BatchNorm2d: Layer(lambda m, args, opset: not m.training and m.running_mean is not None, _batch_norm),
    LayerNorm: Layer(lambda m, args, opset: True, _layer_norm),
    MaxPool1d: _max_pool(1),
    MaxPool2d: _max_pool(2),
    AvgPool2d: Layer(lambda m, args, opset: _batched(2)(m, args, opset) and m.divisor_override is None,
                     lambda g, m, x: g.node("AveragePool", [g.value(x)], count_include_pad=int(m.count_include_pad),
                                            **_pool_args(m, 2, False))),
    AdaptiveAvgPool2d: Layer(lambda m, args, opset: _batched(2)(m, args, opset)
                             and F._ntuple(m.output_size, 2, "output_size") == (1, 1),
                             lambda g, m, x: g.node("GlobalAveragePool", [g.value(x)])),
    GELU: Layer(lambda m, args, opset: opset >= 20,
                lambda g, m, x: g.node("Gelu", [g.value(x)], approximate=m.approximate)),
}


# --------------------------------------------------------------------- tracing and writing
def _as_tuple(args: Any) -> tuple[Any, ...]:
    return args if isinstance(args, tuple) else (args,)


def _outputs(out: Any) -> list[Tensor]:
    items = list(out) if isinstance(out, (tuple, list)) else [out]
    if not items or not all(isinstance(t, Tensor) for t in items):
        raise TypeError(f"ONNX export: the model must return a Tensor or a tuple of Tensors, got {type(out).__name__}")
    return items


def trace(model: Module, args: tuple[Any, ...], kwargs: dict[str, Any], opset: int) -> tuple[list[Call], Any]:
    """Run ``model(*args, **kwargs)`` once, recording its ops and layers; returns the calls and the output."""
    recorder = Recorder(opset)
    handles = []
    for m in model.modules():
        if type(m) in LAYERS:
            handles.append(m.register_forward_pre_hook(lambda mod, a: recorder.before(mod, a)))
            handles.append(m.register_forward_hook(lambda mod, a, out: recorder.after(mod, a, out)))
    try:
        with no_grad(), recorder:
            out = model(*args, **kwargs)
    finally:
        for h in handles:
            h.remove()
    return recorder.calls, out


def write_calls(g: Graph, calls: list[Call], other: list[Call]) -> None:
    """Each call as ONNX node(s), its output bound to the name of the last one."""
    for k, (c, g.other) in enumerate(zip(calls, other)):
        g.reading = f"op #{k} ({c.what})"
        if c.layer is not None:
            x = c.args[0]
            g.bind(c.out, LAYERS[type(c.layer)].emit(g, c.layer, x))
            continue
        emit = EMITTERS.get(c.op)  # type: ignore[arg-type]
        if emit is None:
            raise NotImplementedError(f"ONNX export: the op {c.op.__name__} ({c.op.__module__}) has no ONNX "  # type: ignore[union-attr]
                                      "translation in tinytorch.onnx.exporter.EMITTERS")
        g.bind(c.out, emit(g, c))


def _value_info(onnx: Any, name: str, t: Tensor, dims: dict[int, str]) -> Any:
    shape = [dims.get(i, n) for i, n in enumerate(t.shape)]
    return onnx.helper.make_tensor_value_info(name, FROM_DTYPE[t.dtype], shape)


def _dynamic_dims(dynamic_axes: Any, name: str) -> dict[int, str]:
    axes = (dynamic_axes or {}).get(name, {})
    return dict(axes) if isinstance(axes, dict) else {int(a): f"{name}_dim_{a}" for a in axes}


def build(model: Module, calls: list[Call], out: Any, other: list[Call], other_out: Any, args: tuple[Any, ...],
          opset: int, input_names: list[str], output_names: list[str] | None, dynamic_axes: Any) -> tuple[Any, Graph]:
    """Write the traced ``calls`` (which returned ``out``) as a ModelProto; ``other`` are the
    calls of the second trace (other values, longer dynamic axes). Returns the proto and its Graph."""
    onnx = require()
    named = {id(t._data): (n, t) for n, t in itertools.chain(model.named_parameters(), model.named_buffers())
             if t is not None}
    g = Graph(opset, named)
    tensors = [a for a in args if isinstance(a, Tensor)]
    inputs = []
    for name, t in zip(input_names, tensors):
        g.bind(t, name)
        inputs.append(_value_info(onnx, name, t, _dynamic_dims(dynamic_axes, name)))
    write_calls(g, calls, other)
    results = _outputs(out)
    output_names = list(output_names or (["output"] if len(results) == 1 else
                                         [f"output_{i}" for i in range(len(results))]))
    if len(output_names) != len(results):
        raise ValueError(f"output_names has {len(output_names)} names for {len(results)} outputs")
    unknown = set(dynamic_axes or {}) - set(input_names) - set(output_names)
    if unknown:
        raise ValueError(f"dynamic_axes names {sorted(unknown)}, which are neither inputs {input_names} "
                         f"nor outputs {output_names}")
    outputs = []
    for name, t, t2 in zip(output_names, results, _outputs(other_out)):
        g.reading = f"output {name!r}"
        g.nodes.append(onnx.helper.make_node("Identity", [g.value(t)], [name], name=g.fresh("n_output")))
        # sizes that followed the dynamic input axes are symbolic, named as given or after the output
        dims = {i: f"{name}_dim_{i}" for i, (m, n) in enumerate(zip(t.shape, t2.shape)) if m != n}
        outputs.append(_value_info(onnx, name, t, {**dims, **_dynamic_dims(dynamic_axes, name)}))
    graph = onnx.helper.make_graph(g.nodes, type(model).__name__, inputs, outputs, g.initializers)
    proto = onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", opset)],
                                   producer_name="tinytorch", ir_version=IR_VERSION)
    return proto, g


def _perturbed(args: tuple[Any, ...], seed: int = 0) -> tuple[Any, ...]:
    """The floating-point tensors of ``args`` moved by noise of their own scale (integer inputs,
    indices and masks, are kept)."""
    rng = np.random.default_rng(seed)
    out = []
    for a in args:
        if isinstance(a, Tensor) and a.dtype.is_floating_point:
            x = a.detach().numpy()
            scale = np.abs(x).mean() + 0.5 if x.size else 1.0
            a = ops.tensor(x + rng.standard_normal(x.shape) * scale, dtype=a.dtype, device=a.device)
        out.append(a)
    return tuple(out)


def check_same_ops(first: list[Call], second: list[Call]) -> None:
    """Raise if two traces ran different ops: the model branches on its input's values."""
    first_ops, second_ops = [c.what for c in first], [c.what for c in second]
    if first_ops != second_ops:
        at = next((i for i, (a, b) in enumerate(zip(first_ops, second_ops)) if a != b), min(len(first_ops),
                                                                                           len(second_ops)))
        raise RuntimeError(f"ONNX export: the model runs different ops for different input values (from op #{at}: "
                           "control flow that depends on the data), which one ONNX graph cannot express")


def check_no_data_constants(first: Graph, second: Graph) -> None:
    """Raise if the two traces recorded a constant with different values: the model computes
    something from its input outside the op table."""
    for (where, a), (_, b) in zip(first.constants, second.constants):
        if a.shape != b.shape or not np.array_equal(a, b, equal_nan=True):
            raise RuntimeError(f"ONNX export: {where} reads a value computed from the input outside the op table "
                               "(e.g. a mask or an .item() made from the data, or random numbers such as dropout "
                               "in training mode); the ONNX graph would hold it as a constant")


def check_reproduces(proto: Any, args: tuple[Any, ...], out: Any) -> None:
    """Run the written graph on the example input: it must give the traced output. Work that no
    op recorded (an in-place update, ``x[...] = v``, a tensor changed through ``.data``) would
    be missing from the graph."""
    tensors = [a for a in args if isinstance(a, Tensor)]
    want = _outputs(out)
    with no_grad():
        got = OnnxModule(proto).to(want[0].device)(*tensors)
    got = got if isinstance(got, tuple) else (got,)
    for name, w, o in zip([o.name for o in proto.graph.output], want, got):
        a, b = w.numpy(), o.numpy()
        if a.shape != b.shape or not np.allclose(a, b, rtol=1e-4, atol=1e-5 * (np.abs(a).max() + 1), equal_nan=True):
            raise RuntimeError(f"ONNX export: the graph does not reproduce the model's output {name!r} on the example "
                               "input: the model changes a tensor in place (x += ..., x[...] = ..., .data) or "
                               "otherwise works outside the op table")


def _forward_names(model: Module, n: int) -> list[str]:
    """The names of the first ``n`` parameters of ``model.forward`` (PyTorch's default input names)."""
    try:
        params = [p.name for p in inspect.signature(model.forward).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):
        params = []
    return params[:n] if len(params) >= n else [f"input_{i}" for i in range(n)]


def export(model: Module, args: Any = (), f: Any = None, *, kwargs: dict[str, Any] | None = None,
           input_names: Sequence[str] | None = None, output_names: Sequence[str] | None = None,
           opset_version: int | None = None, dynamic_axes: Any = None, **options: Any) -> Any:
    """Write ``model`` called on ``args`` as an ONNX model to ``f`` (a path or a binary file
    object; None writes nothing) and return the ``onnx.ModelProto``.

    Args:
        model: a Module (put in evaluation mode for the trace, as ``torch.onnx.export``'s
            default ``training=EVAL``, and restored afterwards).
        args: a Tensor or a tuple of the model's positional arguments; its tensors are the
            graph inputs, named ``input_names`` (default: the names of ``forward``'s parameters).
        output_names: the graph outputs' names (default ``output`` or ``output_0``, ``output_1``...).
        opset_version: 18 to 20; default 20, the opset PyTorch 2.13 writes.
        dynamic_axes: ``{name: {axis: "name"}}`` or ``{name: [axis]}``: sizes left symbolic (the
            batch axis: reshapes copy or infer it; the file is checked on a second size).
        dynamo, verbose, optimize, ...: ``torch.onnx.export``'s other options are accepted and
            ignored: there is one way to export here, the trace through the op table.

    The model is traced twice (the second time on perturbed inputs) and RuntimeError is raised
    if a value computed from the data outside the op table would become a constant;
    NotImplementedError names an op or layer without an ONNX translation.
    """
    onnx = require()
    unknown = set(options) - IGNORED_OPTIONS
    if unknown:
        raise TypeError(f"export() got unexpected keyword arguments {sorted(unknown)}")
    opset = DEFAULT_OPSET if opset_version is None else int(opset_version)
    if opset not in SUPPORTED_OPSETS:
        raise ValueError(f"opset_version {opset} is not supported: tinytorch.onnx writes opsets "
                         f"{SUPPORTED_OPSETS.start} to {SUPPORTED_OPSETS.stop - 1}")
    args, kwargs = _as_tuple(args), dict(kwargs or {})
    if any(isinstance(v, Tensor) for v in kwargs.values()):
        raise NotImplementedError("ONNX export: tensors in kwargs are not supported; pass them in args")
    n_inputs = sum(isinstance(a, Tensor) for a in args)
    names = list(input_names) if input_names is not None else _forward_names(model, n_inputs)
    if len(names) != n_inputs:
        raise ValueError(f"input_names has {len(names)} names for {n_inputs} tensor inputs")
    was_training = model.training
    model.eval()
    try:
        calls, out = trace(model, args, kwargs, opset)
        args2 = _perturbed(_lengthened(args, names, dynamic_axes))
        calls2, out2 = trace(model, args2, kwargs, opset)
        check_same_ops(calls, calls2)
        outs = list(output_names or []) or None
        proto, g = build(model, calls, out, calls2, out2, args, opset, names, outs, dynamic_axes)
        _, g2 = build(model, calls2, out2, calls, out, args2, opset, names, outs, dynamic_axes)
        check_no_data_constants(g, g2)
        check_reproduces(proto, args, out)
        if dynamic_axes:
            _check_dynamic(model, proto, args, kwargs, names, dynamic_axes)
    finally:
        model.train(was_training)
    onnx.checker.check_model(proto)
    if f is not None:
        data = proto.SerializeToString()
        if isinstance(f, (str, os.PathLike)):
            with open(f, "wb") as fh:
                fh.write(data)
        else:
            f.write(data)
    return proto


def _lengthened(args: tuple[Any, ...], names: list[str], dynamic_axes: Any) -> tuple[Any, ...]:
    """``args`` with each dynamic axis of each tensor one longer (its first slice repeated)."""
    out, k = [], 0
    for a in args:
        if isinstance(a, Tensor):
            axes = _dynamic_dims(dynamic_axes, names[k])
            if axes:
                x = a.detach().numpy()
                for axis in axes:
                    x = np.concatenate([x, x.take([0], axis=axis)], axis=axis)
                a = ops.tensor(x, dtype=a.dtype, device=a.device)
            k += 1
        out.append(a)
    return tuple(out)


def _check_dynamic(model: Module, proto: Any, args: tuple[Any, ...], kwargs: dict[str, Any], names: list[str],
                   dynamic_axes: Any) -> None:
    """Run the written graph and the model on inputs whose dynamic axes are two longer; raise
    ValueError if they differ (a size of the example input was recorded)."""
    longer = _lengthened(_lengthened(args, names, dynamic_axes), names, dynamic_axes)
    with no_grad():
        want = _outputs(model(*longer, **kwargs))
        try:
            got = OnnxModule(proto).to(want[0].device)(*[a for a in longer if isinstance(a, Tensor)])
        except (RuntimeError, ValueError) as e:
            got = e
    got = got if isinstance(got, tuple) else (got,)
    for w, o in zip(want, got):
        if (not isinstance(o, Tensor) or tuple(w.shape) != tuple(o.shape)
                or not np.allclose(w.numpy(), o.numpy(), rtol=1e-4, atol=1e-5)):
            raise ValueError("ONNX export: with dynamic_axes the graph does not reproduce the model on a larger "
                             f"input ({o if isinstance(o, Exception) else 'other values'}): an op records a size "
                             "of the example input")


__all__ = ["export", "EMITTERS", "LAYERS", "DEFAULT_OPSET"]
