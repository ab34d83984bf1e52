"""One handler per ONNX operator: ``handler(node, inputs, attrs) -> output(s)``, computed with
tinytorch ops, so a loaded graph runs on every device and is differentiable.

``inputs`` are the node's input values in order (Tensors; ``None`` for an omitted optional
input), ``attrs`` its attributes as Python values (ints, floats, strings, lists, numpy arrays
for tensors). A handler returns one Tensor, or a tuple with one Tensor per output of the node.
Shapes flow through a graph as int64 tensors (``Shape`` -> ``Gather`` -> ``Concat`` ->
``Reshape``), so the arithmetic on them is ordinary integer tensor arithmetic.

The operators and their semantics are those of the ONNX operator documentation
(https://onnx.ai/onnx/operators/) at the opsets PyTorch 2.13 writes (18 to 20).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from .. import ops
from ..ndarray import bool_, int64
from ..nn import functional as F
from ..tensor import Tensor
from .proto import dtype_of

Handler = Callable[[Any, list, dict], Any]
#: op_type -> its handler; :func:`handler` fills it
HANDLERS: dict[str, Handler] = {}


def handler(*op_types: str) -> Callable[[Handler], Handler]:
    """Register the decorated function as the handler of ``op_types``."""
    def register(fn: Handler) -> Handler:
        for name in op_types:
            HANDLERS[name] = fn
        return fn
    return register


def ints(t: Tensor | None) -> list[int]:
    """A 1-D int64 tensor of a shape, axes or sizes input as a list of Python ints."""
    return [] if t is None else [int(v) for v in t.reshape(-1).tolist()]


def _axis(axis: int, ndim: int) -> int:
    return axis + ndim if axis < 0 else axis


# --------------------------------------------------------------------- elementwise
def _unary(name: str, fn: Callable[[Tensor], Tensor]) -> None:
    HANDLERS[name] = lambda node, x, attrs: fn(x[0])


for _name, _fn in {"Relu": ops.relu, "Tanh": ops.tanh, "Sigmoid": ops.sigmoid, "Exp": ops.exp, "Log": ops.log,
                   "Sqrt": ops.sqrt, "Abs": ops.abs, "Neg": ops.neg, "Erf": ops.erf, "Sin": ops.sin, "Cos": ops.cos,
                   "Floor": ops.floor, "Ceil": ops.ceil, "Reciprocal": ops.reciprocal, "Not": ops.logical_not,
                   "Identity": lambda x: x}.items():
    _unary(_name, _fn)

for _name, _fn in {"Add": ops.add, "Sub": ops.sub, "Mul": ops.mul, "Pow": ops.pow, "Equal": ops.eq,
                   "Greater": ops.gt, "Less": ops.lt, "GreaterOrEqual": ops.ge, "LessOrEqual": ops.le,
                   "And": ops.logical_and, "Or": ops.logical_or}.items():
    HANDLERS[_name] = (lambda f: lambda node, x, attrs: f(x[0], x[1]))(_fn)


@handler("Div")
def div(node: Any, x: list, attrs: dict) -> Tensor:
    """Integer division truncates in ONNX (as C), floats divide."""
    a, b = x
    if not a.dtype.is_floating_point and not b.dtype.is_floating_point:
        return ops.div(a, b, rounding_mode="trunc")
    return ops.div(a, b)


@handler("Max", "Min")
def max_min(node: Any, x: list, attrs: dict) -> Tensor:
    fn = ops.maximum if node.op_type == "Max" else ops.minimum
    out = x[0]
    for t in x[1:]:
        out = fn(out, t)
    return out


@handler("Where")
def where(node: Any, x: list, attrs: dict) -> Tensor:
    return ops.where(x[0], x[1], x[2])


@handler("Cast")
def cast(node: Any, x: list, attrs: dict) -> Tensor:
    return x[0].to(dtype_of(attrs["to"], f"Cast node {node.name!r}"))


@handler("CastLike")
def cast_like(node: Any, x: list, attrs: dict) -> Tensor:
    return x[0].to(x[1].dtype)


@handler("Clip")
def clip(node: Any, x: list, attrs: dict) -> Tensor:
    lo = x[1] if len(x) > 1 else None
    hi = x[2] if len(x) > 2 else None
    return ops.clamp(x[0], min=None if lo is None else lo.item(), max=None if hi is None else hi.item())


@handler("LeakyRelu")
def leaky_relu(node: Any, x: list, attrs: dict) -> Tensor:
    return F.leaky_relu(x[0], attrs.get("alpha", 0.01))


@handler("Elu", "Selu", "HardSigmoid", "HardSwish", "Softplus", "PRelu")
def activation(node: Any, x: list, attrs: dict) -> Tensor:
    """The activations with parameters, by the ONNX definitions (HardSigmoid's alpha and beta
    default to 0.2 and 0.5, not PyTorch's 1/6 and 1/2)."""
    v, op = x[0], node.op_type
    if op == "Elu":
        return F.elu(v, attrs.get("alpha", 1.0))
    if op == "Selu":
        alpha, gamma = attrs.get("alpha", 1.67326319217681884765625), attrs.get("gamma", 1.05070102214813232421875)
        return ops.where(v > 0, v, (ops.exp(v.clamp(max=0.0)) - 1.0) * alpha) * gamma
    if op == "HardSigmoid":
        return (v * attrs.get("alpha", 0.2) + attrs.get("beta", 0.5)).clamp(0.0, 1.0)
    if op == "HardSwish":
        return v * (v / 6.0 + 0.5).clamp(0.0, 1.0)
    if op == "Softplus":
        return F.softplus(v)
    return ops.where(v >= 0, v, v * x[1])  # PRelu: the slope broadcasts


@handler("CumSum")
def cumsum(node: Any, x: list, attrs: dict) -> Tensor:
    if attrs.get("exclusive", 0) or attrs.get("reverse", 0):
        raise NotImplementedError(f"CumSum node {node.name!r}: exclusive and reverse are not supported")
    return ops.cumsum(x[0], int(x[1].item()))


@handler("InstanceNormalization")
def instance_norm(node: Any, x: list, attrs: dict) -> Tensor:
    return F.instance_norm(x[0], weight=x[1], bias=x[2], eps=attrs.get("epsilon", 1e-5))


@handler("Resize")
def resize(node: Any, x: list, attrs: dict) -> Tensor:
    """The two resizes PyTorch writes: ``nearest`` (asymmetric coordinates, floor) and ``linear``
    (half-pixel, i.e. ``align_corners=False``; ``align_corners`` for that transformation), over
    the spatial dims of a 3-D or 4-D input."""
    data = x[0]
    sizes = ints(x[3]) if len(x) > 3 and x[3] is not None else None
    if sizes is None:
        scales = [float(v) for v in x[2].reshape(-1).tolist()]
        sizes = [int(math.floor(n * s)) for n, s in zip(data.shape, scales)]
    if sizes[:2] != list(data.shape[:2]) or data.ndim not in (3, 4):
        raise NotImplementedError(f"Resize node {node.name!r}: only spatial resizing of 3-D/4-D inputs is supported")
    mode, transform = attrs.get("mode", "nearest"), attrs.get("coordinate_transformation_mode", "half_pixel")
    if mode == "nearest" and transform == "asymmetric" and attrs.get("nearest_mode", "round_prefer_floor") == "floor":
        return F.interpolate(data, size=sizes[2:], mode="nearest")
    if mode == "linear" and transform in ("half_pixel", "pytorch_half_pixel", "align_corners"):
        kind = "linear" if data.ndim == 3 else "bilinear"
        return F.interpolate(data, size=sizes[2:], mode=kind, align_corners=transform == "align_corners")
    raise NotImplementedError(f"Resize node {node.name!r}: mode={mode!r} with coordinate_transformation_mode="
                              f"{transform!r} is not supported")


@handler("Gelu")
def gelu(node: Any, x: list, attrs: dict) -> Tensor:
    return F.gelu(x[0], approximate=attrs.get("approximate", "none"))


@handler("Softmax", "LogSoftmax")
def softmax(node: Any, x: list, attrs: dict) -> Tensor:
    fn = ops.softmax if node.op_type == "Softmax" else ops.log_softmax
    return fn(x[0], attrs.get("axis", -1))


@handler("Dropout")
def dropout(node: Any, x: list, attrs: dict) -> Any:
    """Inference: the identity (and an all-true mask when the node asks for it)."""
    if len(x) > 2 and x[2] is not None and bool(x[2].item()):
        raise NotImplementedError(f"Dropout node {node.name!r}: training_mode=True is not supported")
    if len(node.output) > 1 and node.output[1]:
        return x[0], ops.ones(*x[0].shape, dtype=bool_, device=x[0].device)
    return x[0]


# --------------------------------------------------------------------- linear algebra
@handler("MatMul")
def matmul(node: Any, x: list, attrs: dict) -> Tensor:
    return ops.matmul(x[0], x[1])


@handler("Gemm")
def gemm(node: Any, x: list, attrs: dict) -> Tensor:
    """``alpha * A' @ B' + beta * C`` with ``A' = A^T`` when ``transA`` (``B'`` likewise)."""
    a, b = x[0], x[1]
    a = a.T if attrs.get("transA", 0) else a
    b = b.T if attrs.get("transB", 0) else b
    out = a @ b
    alpha, beta = attrs.get("alpha", 1.0), attrs.get("beta", 1.0)
    if alpha != 1.0:
        out = out * alpha
    if len(x) > 2 and x[2] is not None:
        out = out + (x[2] if beta == 1.0 else x[2] * beta)
    return out


# --------------------------------------------------------------------- convolution, pooling, norms
def _spatial(attrs: dict, key: str, nd: int, default: int) -> list[int]:
    return list(attrs.get(key, [default] * nd))


def _padded(node: Any, x: Tensor, attrs: dict, kernel: list[int], strides: list[int], dilations: list[int],
            value: float) -> tuple[Tensor, list[int]]:
    """Resolve ``pads``/``auto_pad`` to symmetric amounts; asymmetric ones pad ``x`` explicitly
    with ``value`` and return zeros."""
    nd = len(kernel)
    auto = attrs.get("auto_pad", "NOTSET")
    if auto in ("SAME_UPPER", "SAME_LOWER"):
        pads_b, pads_e = [], []
        for i in range(nd):
            size = x.shape[2 + i]
            out = -(-size // strides[i])
            total = max(0, (out - 1) * strides[i] + dilations[i] * (kernel[i] - 1) + 1 - size)
            small, big = total // 2, total - total // 2
            pads_b.append(small if auto == "SAME_UPPER" else big)
            pads_e.append(big if auto == "SAME_UPPER" else small)
    elif auto in ("NOTSET", "VALID"):
        pads = list(attrs.get("pads", [0] * 2 * nd)) if auto == "NOTSET" else [0] * 2 * nd
        pads_b, pads_e = pads[:nd], pads[nd:]
    else:
        raise NotImplementedError(f"{node.op_type} node {node.name!r}: auto_pad={auto!r} is not supported")
    if pads_b == pads_e:
        return x, pads_b
    amounts = [v for i in reversed(range(nd)) for v in (pads_b[i], pads_e[i])]
    return F.pad(x, amounts, value=value), [0] * nd


@handler("Conv")
def conv(node: Any, x: list, attrs: dict) -> Tensor:
    data, weight = x[0], x[1]
    bias = x[2] if len(x) > 2 else None
    nd = weight.ndim - 2
    if nd not in (1, 2):
        raise NotImplementedError(f"Conv node {node.name!r}: {nd}-D convolution is not supported (1-D and 2-D are)")
    kernel = list(weight.shape[2:])
    strides, dilations = _spatial(attrs, "strides", nd, 1), _spatial(attrs, "dilations", nd, 1)
    data, pads = _padded(node, data, attrs, kernel, strides, dilations, 0.0)
    fn = F.conv1d if nd == 1 else F.conv2d
    return fn(data, weight, bias, strides, pads, dilations, attrs.get("group", 1))


@handler("ConvTranspose")
def conv_transpose(node: Any, x: list, attrs: dict) -> Tensor:
    data, weight = x[0], x[1]
    bias = x[2] if len(x) > 2 else None
    nd = weight.ndim - 2
    pads = list(attrs.get("pads", [0] * 2 * nd))
    auto = attrs.get("auto_pad", "NOTSET")
    if nd not in (1, 2) or pads[:nd] != pads[nd:] or "output_shape" in attrs or auto != "NOTSET":
        raise NotImplementedError(f"ConvTranspose node {node.name!r}: only 1-D/2-D with symmetric pads is supported")
    fn = F.conv_transpose1d if nd == 1 else F.conv_transpose2d
    return fn(data, weight, bias, _spatial(attrs, "strides", nd, 1), pads[:nd],
              _spatial(attrs, "output_padding", nd, 0), attrs.get("group", 1), _spatial(attrs, "dilations", nd, 1))


def _pool(node: Any, x: list, attrs: dict, kind: str) -> Tensor:
    data = x[0]
    kernel = list(attrs["kernel_shape"])
    nd = len(kernel)
    if nd not in (1, 2):
        raise NotImplementedError(f"{node.op_type} node {node.name!r}: {nd}-D pooling is not supported")
    strides, dilations = _spatial(attrs, "strides", nd, 1), _spatial(attrs, "dilations", nd, 1)
    value = -math.inf if kind == "max" else 0.0
    data, pads = _padded(node, data, attrs, kernel, strides, dilations, value)
    ceil = bool(attrs.get("ceil_mode", 0))
    if kind == "max":
        if len(node.output) > 1 and node.output[1]:
            raise NotImplementedError(f"MaxPool node {node.name!r}: the Indices output is not supported")
        fn = F.max_pool1d if nd == 1 else F.max_pool2d
        return fn(data, kernel, strides, pads, dilations, ceil)
    if dilations != [1] * nd:
        raise NotImplementedError(f"AveragePool node {node.name!r}: dilations are not supported")
    fn = F.avg_pool1d if nd == 1 else F.avg_pool2d
    return fn(data, kernel, strides, pads, ceil, bool(attrs.get("count_include_pad", 0)))


HANDLERS["MaxPool"] = lambda node, x, attrs: _pool(node, x, attrs, "max")
HANDLERS["AveragePool"] = lambda node, x, attrs: _pool(node, x, attrs, "avg")


@handler("GlobalAveragePool", "GlobalMaxPool")
def global_pool(node: Any, x: list, attrs: dict) -> Tensor:
    dims = tuple(range(2, x[0].ndim))
    return (ops.mean if node.op_type == "GlobalAveragePool" else ops.amax)(x[0], dims, keepdim=True)


@handler("BatchNormalization")
def batch_norm(node: Any, x: list, attrs: dict) -> Tensor:
    """Inference form: the running statistics ``input_mean`` and ``input_var``."""
    if attrs.get("training_mode", 0) or len([o for o in node.output if o]) > 1:
        raise NotImplementedError(f"BatchNormalization node {node.name!r}: training_mode is not supported")
    data, scale, bias, mean, var = x
    return F.batch_norm(data, mean, var, scale, bias, training=False, eps=attrs.get("epsilon", 1e-5))


@handler("LayerNormalization")
def layer_norm(node: Any, x: list, attrs: dict) -> Tensor:
    if len([o for o in node.output if o]) > 1:
        raise NotImplementedError(f"LayerNormalization node {node.name!r}: the Mean and InvStdDev outputs "
                                  "are not supported")
    data = x[0]
    axis = _axis(attrs.get("axis", -1), data.ndim)
    scale = x[1]
    bias = x[2] if len(x) > 2 else None
    shape = tuple(data.shape[axis:])
    return F.layer_norm(data, shape, scale.expand(*shape), None if bias is None else bias.expand(*shape),
                        eps=attrs.get("epsilon", 1e-5))


# --------------------------------------------------------------------- reductions
def _reduce_axes(node: Any, x: list, attrs: dict) -> tuple[int, ...] | None:
    """The axes of a Reduce* node (an input from opset 18, an attribute before); None: the
    node is the identity (``noop_with_empty_axes`` and no axes)."""
    axes = ints(x[1]) if len(x) > 1 and x[1] is not None else list(attrs.get("axes", []))
    if not axes:
        return None if attrs.get("noop_with_empty_axes", 0) else tuple(range(x[0].ndim))
    return tuple(_axis(a, x[0].ndim) for a in axes)


def _reducer(fn: Callable[..., Tensor]) -> Handler:
    def reduce(node: Any, x: list, attrs: dict) -> Tensor:
        axes = _reduce_axes(node, x, attrs)
        return x[0] if axes is None else fn(x[0], axes, keepdim=bool(attrs.get("keepdims", 1)))
    return reduce


HANDLERS["ReduceMean"] = _reducer(ops.mean)
HANDLERS["ReduceSum"] = _reducer(ops.sum)
HANDLERS["ReduceMax"] = _reducer(ops.amax)
HANDLERS["ReduceMin"] = _reducer(ops.amin)


@handler("ReduceProd")
def reduce_prod(node: Any, x: list, attrs: dict) -> Tensor:
    axes = _reduce_axes(node, x, attrs)
    if axes is None:
        return x[0]
    out, keep = x[0], bool(attrs.get("keepdims", 1))
    for axis in sorted(axes, reverse=True):  # prod takes one dim at a time
        out = ops.prod(out, axis, keepdim=keep)
    return out


@handler("ArgMax", "ArgMin")
def arg_max_min(node: Any, x: list, attrs: dict) -> Tensor:
    if attrs.get("select_last_index", 0):
        raise NotImplementedError(f"{node.op_type} node {node.name!r}: select_last_index=1 is not supported")
    fn = ops.argmax if node.op_type == "ArgMax" else ops.argmin
    return fn(x[0], attrs.get("axis", 0), keepdim=bool(attrs.get("keepdims", 1)))


# --------------------------------------------------------------------- shapes and movement
@handler("Shape")
def shape(node: Any, x: list, attrs: dict) -> Tensor:
    dims = list(x[0].shape)
    start, end = attrs.get("start", 0), attrs.get("end", len(dims))
    return ops.tensor(dims[start:end], dtype=int64, device=x[0].device)


@handler("Size")
def size(node: Any, x: list, attrs: dict) -> Tensor:
    return ops.tensor(x[0].numel(), dtype=int64, device=x[0].device)


@handler("Reshape")
def reshape(node: Any, x: list, attrs: dict) -> Tensor:
    """A 0 in the target copies the input's size there (unless ``allowzero``); -1 is inferred."""
    data, target = x[0], ints(x[1])
    if not attrs.get("allowzero", 0):
        target = [data.shape[i] if v == 0 else v for i, v in enumerate(target)]
    return data.reshape(*target)


@handler("Flatten")
def flatten(node: Any, x: list, attrs: dict) -> Tensor:
    data = x[0]
    axis = _axis(attrs.get("axis", 1), data.ndim)
    return data.reshape(math.prod(data.shape[:axis]), math.prod(data.shape[axis:]))


@handler("Transpose")
def transpose(node: Any, x: list, attrs: dict) -> Tensor:
    perm = attrs.get("perm", list(reversed(range(x[0].ndim))))
    return x[0].permute(*perm)


@handler("Squeeze")
def squeeze(node: Any, x: list, attrs: dict) -> Tensor:
    data = x[0]
    axes = ints(x[1]) if len(x) > 1 and x[1] is not None else list(attrs.get("axes", []))
    if not axes:
        axes = [i for i, n in enumerate(data.shape) if n == 1]
    return ops.squeeze(data, tuple(_axis(a, data.ndim) for a in axes))


@handler("Unsqueeze")
def unsqueeze(node: Any, x: list, attrs: dict) -> Tensor:
    data = x[0]
    axes = ints(x[1]) if len(x) > 1 and x[1] is not None else list(attrs.get("axes", []))
    rank = data.ndim + len(axes)
    for a in sorted(_axis(a, rank) for a in axes):
        data = data.unsqueeze(a)
    return data


@handler("Concat")
def concat(node: Any, x: list, attrs: dict) -> Tensor:
    return ops.cat([t for t in x if t is not None], attrs["axis"])


@handler("Split")
def split(node: Any, x: list, attrs: dict) -> tuple[Tensor, ...]:
    """Sizes from the ``split`` input (or attribute), else ``num_outputs`` (or the number of
    outputs) nearly equal parts, the last one smaller."""
    data = x[0]
    axis = _axis(attrs.get("axis", 0), data.ndim)
    sizes = ints(x[1]) if len(x) > 1 and x[1] is not None else list(attrs.get("split", []))
    if not sizes:
        n = attrs.get("num_outputs", len(node.output))
        part = -(-data.shape[axis] // n)
        sizes = [min(part, data.shape[axis] - i * part) for i in range(n)]
    return tuple(ops.split(data, sizes, axis))


@handler("Slice")
def slice_(node: Any, x: list, attrs: dict) -> Tensor:
    data = x[0]
    starts, ends = ints(x[1]), ints(x[2])
    axes = ints(x[3]) if len(x) > 3 and x[3] is not None else list(range(len(starts)))
    steps = ints(x[4]) if len(x) > 4 and x[4] is not None else [1] * len(starts)
    key: list[Any] = [slice(None)] * data.ndim
    backwards = []
    for start, end, axis, step in zip(starts, ends, axes, steps):
        axis = _axis(axis, data.ndim)
        n = data.shape[axis]
        if step == 0:
            raise ValueError(f"Slice node {node.name!r}: step 0")
        if step > 0:
            key[axis] = slice(max(-n, min(start, n)), max(-n, min(end, n)), step)
            continue
        # a negative step: ONNX clamps start to [0, n - 1] and end to [-1, n - 1] (-1: past the front)
        start = min(max(start + n if start < 0 else start, 0), n - 1)
        end = min(max(end + n if end < 0 else end, -1), n - 1)
        backwards.append((axis, list(range(start, end, step))))
    out = data[tuple(key)]
    for axis, positions in backwards:
        out = out.index_select(axis, ops.tensor(positions, dtype=int64, device=data.device))
    return out


@handler("Gather")
def gather(node: Any, x: list, attrs: dict) -> Tensor:
    """``data`` indexed along ``axis`` by an index tensor of any shape (negative counts from the end)."""
    data, index = x
    axis = _axis(attrs.get("axis", 0), data.ndim)
    index = ops.where(index < 0, index + data.shape[axis], index)
    lead: tuple[Any, ...] = (slice(None),) * axis
    if index.ndim == 0:
        return data[lead + (int(index.item()),)]
    return data[lead + (index,)]


@handler("Expand")
def expand(node: Any, x: list, attrs: dict) -> Tensor:
    """Broadcast ``input`` with the shape given (in both directions, as numpy)."""
    data = x[0]
    out = np.broadcast_shapes(tuple(data.shape), tuple(ints(x[1])))
    return data.expand(*out)


@handler("Tile")
def tile(node: Any, x: list, attrs: dict) -> Tensor:
    return x[0].repeat(*ints(x[1]))


@handler("Pad")
def pad(node: Any, x: list, attrs: dict) -> Tensor:
    data = x[0]
    amounts = ints(x[1])
    value = x[2].item() if len(x) > 2 and x[2] is not None else 0.0
    axes = ints(x[3]) if len(x) > 3 and x[3] is not None else list(range(data.ndim))
    axes = [_axis(a, data.ndim) for a in axes]
    per_axis = {a: (amounts[i], amounts[i + len(axes)]) for i, a in enumerate(axes) if amounts[i] or
                amounts[i + len(axes)]}
    if not per_axis:
        return data
    # F.pad's order: pairs from the last dim backwards, down to the first dim that is padded
    flat = [v for a in range(data.ndim - 1, min(per_axis) - 1, -1) for v in per_axis.get(a, (0, 0))]
    mode = attrs.get("mode", "constant")
    return F.pad(data, flat, mode={"edge": "replicate"}.get(mode, mode), value=value if mode == "constant" else None)


# --------------------------------------------------------------------- constants and ranges
def constant_value(node: Any, attrs: dict) -> np.ndarray:
    """The value of a Constant node, from whichever of its attributes is set."""
    if "value" in attrs:
        return np.asarray(attrs["value"])
    for key, dtype in (("value_float", np.float32), ("value_floats", np.float32), ("value_int", np.int64),
                       ("value_ints", np.int64)):
        if key in attrs:
            return np.asarray(attrs[key], dtype=dtype)
    raise NotImplementedError(f"Constant node {node.name!r}: attributes {sorted(attrs)} are not supported")


@handler("Constant")
def constant(node: Any, x: list, attrs: dict) -> Tensor:
    return ops.tensor(constant_value(node, attrs))


@handler("ConstantOfShape")
def constant_of_shape(node: Any, x: list, attrs: dict) -> Tensor:
    """A tensor of the given shape filled with ``value`` (a one-element tensor; float 0 by default)."""
    fill = np.asarray(attrs.get("value", np.zeros(1, dtype=np.float32))).reshape(-1)
    shape = ints(x[0])
    value = ops.tensor(fill, device=x[0].device).reshape(())
    return value.expand(*shape).contiguous() if shape else value


@handler("Range")
def range_(node: Any, x: list, attrs: dict) -> Tensor:
    """``start, start + delta, ...`` below ``limit``, in the dtype of ``start``."""
    start, limit, delta = (t.item() for t in x)
    return ops.arange(start, limit, delta, dtype=x[0].dtype, device=x[0].device)
