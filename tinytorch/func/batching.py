"""``vmap``: run a function written for one example on a whole batch, by rewriting each op.

Inside ``vmap(f)`` each batched input is a :class:`BatchedTensor`: a Tensor that shows ``f`` its
*logical* shape (one example) and holds a *value*, the tensor with the batch dimension at
position ``bdim``. A :class:`VmapLevel` -- a :class:`~tinytorch.tensor.DispatchMode` -- sees
every op ``f`` runs and applies the op's *batching rule*: it moves batch dimensions where the
op wants them (to the front), shifts the op's dimension arguments by one, lines up an
unbatched operand against a batched one, runs the op once on the whole batch and wraps the
result. Moving a dimension is a permutation of strides (chapter 2), so most rules copy
nothing.

Levels nest: in ``vmap(vmap(f))`` the inner level's values are the outer level's
BatchedTensors, and the ops a rule runs go to the next mode out, which batches them again.

Ops with no rule run through an explicit *fallback*: a Python loop over the batch that
slices each batched argument, runs the op per example and stacks the results. It is
correct but slow, so it warns once per op and :func:`fallback_ops` lists the ops that took
it. Which ops have rules: :data:`RULES`.

Ops that do not go through ``Function.apply`` (creation ops such as ``zeros`` and the in-place
updates of ``tinytorch/ops/inplace.py``) do not reach the batching rules; random ops are caught
by the ``randomness`` check, in-place writes into batched tensors and indexing with batched
boolean masks are refused through their :class:`~tinytorch.tensor.DispatchMode` hooks, and ops
whose result's shape depends on the values (``nonzero``) have a rule that refuses them.
"""

from __future__ import annotations

import math
import warnings
from typing import Any, Callable

from ..ndarray import NDArray
from ..ndarray.strides import is_compact
from ..nn.functional import CheckedTargets
from ..ops.creation import arange
from ..ops.elementwise import (
    Abs,
    Acos,
    Acosh,
    Add,
    Asin,
    Asinh,
    Atan,
    Atan2,
    Atanh,
    Cast,
    Copysign,
    Cos,
    Cosh,
    Div,
    Erf,
    Erfc,
    Erfinv,
    Exp,
    Expm1,
    Fmod,
    Log,
    Log1p,
    Maximum,
    Minimum,
    Mul,
    Neg,
    Nonzero,
    Pow,
    Relu,
    RoundedDiv,
    Rounding,
    Rsqrt,
    Sigmoid,
    Sin,
    Sinh,
    Sqrt,
    Sub,
    Tanh,
    Untracked,
    Where,
    add,
    mul,
)
from ..ops.fused import Attention, Gelu, LayerNorm, Linear, LstmCell, LstmHidden
from ..ops.linalg import Cholesky, Det, EighFactor, Inverse, LogAbsDet, QrQ, QrR, SlogdetSign, Solve, SvdFactor
from ..ops.matmul import Matmul, matmul
from ..ops.movement import (
    Cat,
    Clone,
    Expand,
    Flip,
    Index,
    IndexBackward,
    Permute,
    Reshape,
    ToDevice,
    UnfoldDim,
    expand,
    movedim,
    reshape,
    select,
    stack,
    transpose,
    unsqueeze,
)
from ..ops.reduce import Amax, FiniteMax, LogSoftmax, Prod, ReducedConstant, Softmax, Sum, VectorNorm
from ..ops.scan import Cumprod, Cumsum, IndicesAlong, Logcumsumexp
from ..ops.windows import (
    Convolution,
    ConvolutionGradInput,
    ConvolutionGradWeight,
    Fold,
    MaxPool,
    MaxPoolIndices,
    Unfold,
    Unpool,
)
from ..tensor import DispatchMode, Function, Tensor, active_modes
from .pytree import broadcast_prefix, tree_flatten, tree_unflatten

Run = Callable[[tuple[Any, ...], dict[str, Any]], Tensor]


# --- the batched tensor -------------------------------------------------------------------------------
class BatchedTensor(Tensor):
    """A tensor inside ``vmap``: ``_value`` holds the whole batch with its batch dimension at
    ``_bdim``; ``shape`` and the other size queries show the logical shape of one example.

    Reading values (``item``, ``tolist``, ``numpy``, ``bool``) is an error, as in PyTorch: each
    example has its own value."""

    _value: Tensor
    _bdim: int
    _level: "VmapLevel"

    @property
    def shape(self) -> tuple[int, ...]:  # type: ignore[override]
        s = self._value.shape
        return s[:self._bdim] + s[self._bdim + 1:]

    @property
    def ndim(self) -> int:  # type: ignore[override]
        return self._value.ndim - 1

    def dim(self) -> int:
        return self._value.ndim - 1

    def ndimension(self) -> int:
        return self._value.ndim - 1

    def numel(self) -> int:
        return math.prod(self.shape)

    def nelement(self) -> int:
        return math.prod(self.shape)

    def is_same_size(self, other: Tensor) -> bool:
        return self.shape == other.shape

    def __len__(self) -> int:
        if not self.shape:
            raise TypeError("len() of a 0-d tensor")
        return self.shape[0]

    def is_contiguous(self) -> bool:
        return is_compact(self.shape, self.stride())

    def detach(self) -> Tensor:
        return wrap(self._value.detach(), self._bdim, self._level)

    @property
    def data(self) -> Tensor:  # type: ignore[override]
        return self.detach()

    @data.setter
    def data(self, value: Tensor) -> None:
        raise RuntimeError("vmap: setting .data of a tensor inside vmap is not supported")

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        raise RuntimeError("vmap: requires_grad_ on a tensor inside vmap is not supported; differentiate "
                           "with tinytorch.func.grad inside the vmapped function instead")

    def stride(self, dim: int | None = None) -> Any:
        """One example's strides: the value's, without the batch dimension's."""
        s = self._value.stride()
        s = s[:self._bdim] + s[self._bdim + 1:]
        return s if dim is None else s[dim]

    def _no_values(self, what: str) -> Any:
        raise RuntimeError(f"vmap: It looks like you're calling {what} on a Tensor inside vmap. We don't "
                           "support vmap over calling {what} on a Tensor: each example has its own value. "
                           "Return the tensor from the function instead.".replace("{what}", what))

    def item(self) -> Any: return self._no_values(".item()")
    def tolist(self) -> Any: return self._no_values(".tolist()")
    def numpy(self) -> Any: return self._no_values(".numpy()")
    def __bool__(self) -> bool: return self._no_values("bool()")  # type: ignore[no-any-return]
    def __float__(self) -> float: return self._no_values("float()")  # type: ignore[no-any-return]
    def __int__(self) -> int: return self._no_values("int()")  # type: ignore[no-any-return]
    def __index__(self) -> int: return self._no_values("index()")  # type: ignore[no-any-return]
    def __array__(self, dtype: Any = None, copy: Any = None) -> Any: return self._no_values("numpy.asarray()")

    def __repr__(self) -> str:
        return f"BatchedTensor(lvl={self._level.depth}, bdim={self._bdim}, value=\n{self._value!r}\n)"

    def __reduce__(self) -> Any:
        raise RuntimeError("a BatchedTensor cannot be pickled; return it from the vmapped function")


def wrap(value: Tensor, bdim: int, level: "VmapLevel") -> BatchedTensor:
    """A :class:`BatchedTensor` of ``level`` over ``value`` (batch dimension ``bdim``),
    registered so that the level recognises its array when an op receives it as a parameter."""
    t = object.__new__(BatchedTensor)
    t._data, t.requires_grad, t.grad, t._ctx = value._data, value.requires_grad, None, None
    t._value, t._bdim, t._level = value, bdim, level
    level.arrays[id(value._data)] = t
    return t


def unwrap(x: Any, level: "VmapLevel") -> tuple[Any, int | None]:
    """``(value, bdim)`` of a BatchedTensor of ``level``; ``(x, None)`` for anything else."""
    if isinstance(x, BatchedTensor) and x._level is level:
        return x._value, x._bdim
    return x, None


# --- the level: a dispatch mode -------------------------------------------------------------------------
class VmapLevel(DispatchMode):
    """One ``vmap``: the batch ``size``, the ``randomness`` policy and the arrays of this level's
    BatchedTensors (``arrays``, by id, so that an op given ``t._data`` as a parameter -- the
    condition of ``where``, an index array -- is recognised as batched; the level keeps them
    until its ``vmap`` call returns). ``depth`` counts the vmap levels around it (1 for the
    outermost)."""

    def __init__(self, size: int, randomness: str):
        self.size, self.randomness = size, randomness
        self.arrays: dict[int, BatchedTensor] = {}
        self.physical = False  # True while a transform differentiates physical tensors: ops pass
        self.depth = 1 + sum(isinstance(m, VmapLevel) for m in active_modes())

    def dispatch(self, op: type[Function], args: tuple[Any, ...], params: dict[str, Any], run: Run) -> Tensor:
        if self.physical:
            return run(args, params)
        batched_args = any(isinstance(a, BatchedTensor) and a._level is self for a in args)
        batched_params = _params_batched(params, self)
        if not batched_args and not batched_params:
            return run(args, params)
        rule = RULES.get(op)
        if rule is None or (batched_params and op not in PARAM_RULES):
            value, bdim = fallback(self, op, args, params, run)
        else:
            value, bdim = rule(self, args, params, run)
        return wrap(value, bdim, self)

    def random_op(self, name: str) -> None:
        """Called by the random ops (``tinytorch.ops.random``) before they draw."""
        if self.randomness == "error":
            raise RuntimeError(f"vmap: called random operation {name} while in randomness error mode. Please "
                               "either use the 'same' or 'different' randomness flags on vmap or perform the "
                               "randomness operation out of vmap")

    def mask_op(self, name: str, masks: tuple[Tensor, ...]) -> None:
        """A boolean mask that differs between examples would keep a different number of
        elements in each: refused, as PyTorch's vmap refuses it."""
        if not self.physical and any(isinstance(m, BatchedTensor) and m._level is self for m in masks):
            raise RuntimeError(f"vmap: We do not support batching operators that can support dynamic shape. "
                               f"Attempting to batch over {name} (x[mask], masked_select) whose mask differs "
                               "between examples.")

    def inplace_op(self, target: Tensor, values: tuple[Any, ...]) -> None:
        """In-place ops write into storage outside ``apply``, so no batching rule sees them:
        refuse them on batched tensors rather than write the wrong elements."""
        if self.physical:
            return
        if isinstance(target, BatchedTensor) or any(isinstance(v, BatchedTensor) for v in values):
            raise RuntimeError("vmap: in-place operations on batched tensors are not supported by tinytorch "
                               "(they write into storage outside Function.apply, where no batching rule runs); "
                               "use the out-of-place op (x = x * 2, torch.where, torch.cat...)")


def _params_batched(params: dict[str, Any], level: VmapLevel) -> bool:
    return any(_batched_array(v, level) for v in params.values())


def _batched_array(v: Any, level: VmapLevel) -> bool:
    if isinstance(v, NDArray):
        return id(v) in level.arrays
    if isinstance(v, (tuple, list)):
        return any(_batched_array(x, level) for x in v)
    return False


def _param_tensor(v: NDArray, level: VmapLevel) -> tuple[Any, int | None]:
    """The ``(value, bdim)`` of the BatchedTensor whose array ``v`` is (``(v, None)`` if none)."""
    t = level.arrays.get(id(v))
    return (t._value, t._bdim) if t is not None else (v, None)


# --- the fallback: a loop over the batch -------------------------------------------------------------
_FALLBACK: dict[str, int] = {}


def fallback_ops() -> dict[str, int]:
    """The ops that ran through the loop fallback since the start (or the last
    :func:`reset_fallback_ops`), with how many times: each of those calls looped over the batch."""
    return dict(_FALLBACK)


def reset_fallback_ops() -> None:
    """Forget the record :func:`fallback_ops` returns."""
    _FALLBACK.clear()


def note_fallback(name: str) -> None:
    """Record a loop over the batch for ``name`` (warning the first time)."""
    if name not in _FALLBACK:
        warnings.warn(f"vmap: there is no batching rule for {name}; it runs in a Python loop over the batch "
                      "(correct, but one op call per example)", UserWarning, stacklevel=4)
    _FALLBACK[name] = _FALLBACK.get(name, 0) + 1


def fallback(level: VmapLevel, op: type[Function], args: tuple[Any, ...], params: dict[str, Any],
             run: Run) -> tuple[Tensor, int]:
    """Run ``op`` once per example (batched arguments and batched array parameters sliced at
    their batch dimension) and stack the results along a new dimension 0."""
    note_fallback(op.__name__)
    outs = []
    for i in range(level.size):
        sliced = tuple(_slice(a, level, i) for a in args)
        outs.append(run(sliced, {k: _slice_param(v, level, i) for k, v in params.items()}))
    return stack(outs), 0


def _slice(a: Any, level: VmapLevel, i: int) -> Any:
    value, bdim = unwrap(a, level)
    return value if bdim is None else select(value, bdim, i)


def _slice_param(v: Any, level: VmapLevel, i: int) -> Any:
    if isinstance(v, NDArray):
        value, bdim = _param_tensor(v, level)
        return v if bdim is None else select(value, bdim, i)._data
    if isinstance(v, (tuple, list)):
        return type(v)(_slice_param(x, level, i) for x in v)
    return v


# --- helpers the rules share ----------------------------------------------------------------------------
def front(value: Tensor, bdim: int) -> Tensor:
    """``value`` with its batch dimension moved to the front (a stride permutation)."""
    return value if bdim == 0 else movedim(value, bdim, 0)


def pad_logical(value: Tensor, ndim: int) -> Tensor:
    """A front-batched ``value`` with size-1 dimensions inserted after the batch dimension until
    it has ``ndim`` logical dimensions: broadcasting then lines each example up with an unbatched
    operand of ``ndim`` dimensions, which numpy's rules align from the right."""
    missing = ndim - (value.ndim - 1)
    if missing <= 0:
        return value
    return reshape(value, (value.shape[0],) + (1,) * missing + value.shape[1:])


def materialize(value: Tensor, bdim: int | None, size: int) -> Tensor:
    """A front-batched value: moved when batched, broadcast to ``size`` examples when not."""
    if bdim is not None:
        return front(value, bdim)
    return expand(unsqueeze(value, 0), (size,) + tuple(value.shape))


def _shift(d: int, ndim: int) -> int:
    """A logical dimension index as the index of that dimension behind a front batch dimension."""
    if ndim == 0:
        return d + 1 if d >= 0 else d
    return d % ndim + 1


def _logical_ndim(a: Any, level: VmapLevel) -> int:
    value, bdim = unwrap(a, level)
    if not isinstance(value, Tensor):
        return 0
    return value.ndim - (bdim is not None)


# --- batching rules ------------------------------------------------------------------------------------
# A rule receives the level, the op's arguments (BatchedTensors of this level among them) and
# its parameters; it calls ``run`` with the rewritten call and returns (result, its batch dim).
Rule = Callable[[VmapLevel, tuple[Any, ...], dict[str, Any], Run], tuple[Tensor, int]]


def pointwise_rule(level: VmapLevel, args: tuple[Any, ...], params: dict[str, Any], run: Run) -> tuple[Tensor, int]:
    """Elementwise ops (any number of broadcasting operands, parameters that are not dims):
    batched operands go to the front, padded to the result's logical rank, so that numpy's
    broadcasting lines them up example by example with the unbatched ones."""
    ndim = max((_logical_ndim(a, level) for a in args if isinstance(a, Tensor)), default=0)
    new_args = []
    for a in args:
        value, bdim = unwrap(a, level)
        new_args.append(value if bdim is None else pad_logical(front(value, bdim), ndim))
    return run(tuple(new_args), params), 0


def _unary_front(level: VmapLevel, args: tuple[Any, ...]) -> tuple[Tensor, int]:
    value, bdim = unwrap(args[0], level)
    return front(value, bdim if bdim is not None else 0), value.ndim - 1


def dims_rule(level: VmapLevel, args: tuple[Any, ...], params: dict[str, Any], run: Run) -> tuple[Tensor, int]:
    """Ops with a ``dims`` tuple (sum, amax/amin, vector norm, log-softmax): each dim moves one
    place right, behind the batch dimension."""
    value, ndim = _unary_front(level, args)
    dims = tuple(_shift(d, ndim) for d in params["dims"]) if ndim else ()
    return run((value,) + args[1:], {**params, "dims": dims}), 0


def dim_rule(level: VmapLevel, args: tuple[Any, ...], params: dict[str, Any], run: Run) -> tuple[Tensor, int]:
    """Ops with one ``dim`` (prod, the running ops, unfold along a dim): it moves one place right."""
    value, ndim = _unary_front(level, args)
    return run((value,) + args[1:], {**params, "dim": _shift(params["dim"], ndim)}), 0


def cat_rule(level: VmapLevel, args: tuple[Any, ...], params: dict[str, Any], run: Run) -> tuple[Tensor, int]:
    """``cat``: every piece gets the batch (unbatched ones broadcast to it), ``dim`` moves right."""
    ndim = max(_logical_ndim(a, level) for a in args)
    values = tuple(materialize(*unwrap(a, level), level.size) for a in args)
    return run(values, {**params, "dim": _shift(params["dim"], ndim)}), 0


def reshape_rule(level: VmapLevel, args: tuple[Any, ...], params: dict[str, Any], run: Run) -> tuple[Tensor, int]:
    """``reshape``/``view``: each example keeps its own block, so the batch size goes in front."""
    value, _ = _unary_front(level, args)
    return run((value,), {**params, "shape": (level.size,) + tuple(params["shape"])}), 0


def permute_rule(level: VmapLevel, args: tuple[Any, ...], params: dict[str, Any], run: Run) -> tuple[Tensor, int]:
    """``permute``: the batch dimension stays first, the others are permuted behind it."""
    value, ndim = _unary_front(level, args)
    return run((value,), {**params, "dims": (0,) + tuple(_shift(d, ndim) for d in params["dims"])}), 0


def expand_rule(level: VmapLevel, args: tuple[Any, ...], params: dict[str, Any], run: Run) -> tuple[Tensor, int]:
    """``expand``: pad the example to the target rank, then expand behind the batch dimension."""
    value, _ = _unary_front(level, args)
    shape = tuple(params["shape"])
    value = pad_logical(value, len(shape))
    return run((value,), {**params, "shape": (level.size,) + shape}), 0


def matmul_rule(level: VmapLevel, args: tuple[Any, ...], params: dict[str, Any], run: Run) -> tuple[Tensor, int]:
    """``matmul`` of (batches of) matrices broadcasts its leading dimensions, so a front batch
    dimension is one more of those: pad the batched side to the other side's rank."""
    ranks = [_logical_ndim(a, level) for a in args]
    if min(ranks) < 2:
        return fallback(level, Matmul, args, params, run)
    ndim = max(ranks)
    values = []
    for a in args:
        value, bdim = unwrap(a, level)
        values.append(value if bdim is None else pad_logical(front(value, bdim), ndim))
    return run(tuple(values), params), 0


def leading_batch_rule(level: VmapLevel, args: tuple[Any, ...], params: dict[str, Any],
                       run: Run) -> tuple[Tensor, int]:
    """Linear-algebra ops act on the last two dimensions and map over any leading ones: put
    the batch in front of every operand (broadcasting unbatched operands to it)."""
    values = tuple(materialize(*unwrap(a, level), level.size) for a in args)
    return run(values, params), 0


def windows_rule(level: VmapLevel, args: tuple[Any, ...], params: dict[str, Any], run: Run) -> tuple[Tensor, int]:
    """``Unfold``/``Fold`` (convolution and pooling windows) take ``(N, ...)``: the batch is
    merged into ``N`` (a view when the batch is in front) and split off the result again."""
    value, _ = _unary_front(level, args)
    b, n = value.shape[0], value.shape[1]
    out = run((reshape(value, (b * n,) + value.shape[2:]),), params)
    return reshape(out, (b, n) + out.shape[1:]), 0


def _weights_batched(level: VmapLevel, args: tuple[Any, ...]) -> bool:
    return any(unwrap(a, level)[1] is not None for a in args[1:] if a is not None)


def linear_rule(level: VmapLevel, args: tuple[Any, ...], params: dict[str, Any], run: Run) -> tuple[Tensor, int]:
    """``Linear`` takes ``(..., in)``: a batched input's batch is merged into the rows (a
    view when it is in front) and split off the result. With batched weights (an ensemble)
    each example has its own map: a batched ``matmul`` with the weights transposed (size-1
    dims between the batch and the matrix, for the input's other leading dims), plus the bias
    as a row."""
    if _weights_batched(level, args):
        x, w, b = (materialize(*unwrap(a, level), level.size) if a is not None else None for a in args)
        gap = (1,) * (x.ndim - 3)  # the input's leading dims other than the batch and the rows
        out = matmul(x, reshape(transpose(w, -1, -2), w.shape[:1] + gap + (w.shape[2], w.shape[1])))
        return (out if b is None else out + reshape(b, b.shape[:1] + gap + (1, b.shape[1]))), 0
    value, _ = _unary_front(level, args)
    out = run((reshape(value, (-1, value.shape[-1])),) + args[1:], params)
    return reshape(out, value.shape[:-1] + out.shape[-1:]), 0


def _side_by_side(value: Tensor) -> Tensor:
    """A front-batched (B, N, C, ...) value as (N, B * C, ...): each example's channels a group."""
    return reshape(movedim(value, 0, 1), (value.shape[1], value.shape[0] * value.shape[2]) + value.shape[3:])


def _apart(out: Tensor, size: int) -> Tensor:
    """The inverse of :func:`_side_by_side` for a result (N, B * C', ...): (B, N, C', ...)."""
    return movedim(reshape(out, (out.shape[0], size, out.shape[1] // size) + out.shape[2:]), 1, 0)


def convolution_rule(level: VmapLevel, args: tuple[Any, ...], params: dict[str, Any],
                     run: Run) -> tuple[Tensor, int]:
    """``Convolution`` and ``ConvolutionGradInput`` take ``(N, C, H, W)`` (the input, the output
    gradient) and a weight: with the weight unbatched, the batch is merged into ``N`` (a view
    when it is in front) and split off the result. Batched weights (an ensemble, or the
    per-example gradients of ``vmap(grad(...))``) become groups: the ``B`` examples side by side
    as ``(N, B * C, H, W)`` with weights ``(B * O, C / G, kh, kw)`` and ``B * G`` groups, one
    call for all."""
    if not _weights_batched(level, args):
        value, _ = _unary_front(level, args)
        b, n = value.shape[0], value.shape[1]
        out = run((reshape(value, (b * n,) + value.shape[2:]),) + args[1:], params)
        return reshape(out, (b, n) + out.shape[1:]), 0
    x, w, *bias = (materialize(*unwrap(a, level), level.size) if a is not None else None for a in args)
    size = level.size
    ws = reshape(w, (size * w.shape[1],) + w.shape[2:])                        # (B * O, C / G, kh, kw)
    rest = tuple(None if b is None else reshape(b, (size * b.shape[1],)) for b in bias)
    out = run((_side_by_side(x), ws) + rest, {**params, "groups": params["groups"] * size})
    return _apart(out, size), 0


def convolution_grad_weight_rule(level: VmapLevel, args: tuple[Any, ...], params: dict[str, Any],
                                 run: Run) -> tuple[Tensor, int]:
    """``ConvolutionGradWeight(g, x)`` sums over ``N``, so the batch cannot join it: the examples
    go side by side as groups, ``g`` as ``(N, B * O, OH, OW)``, ``x`` as ``(N, B * C, H, W)``, and
    the ``(B * O, C / G, kh, kw)`` result is split into the examples' weights."""
    g, x = (materialize(*unwrap(a, level), level.size) for a in args)
    size = level.size
    out = run((_side_by_side(g), _side_by_side(x)), {**params, "groups": params["groups"] * size})
    return reshape(out, (size, out.shape[0] // size) + out.shape[1:]), 0


def layer_norm_rule(level: VmapLevel, args: tuple[Any, ...], params: dict[str, Any],
                    run: Run) -> tuple[Tensor, int]:
    """``LayerNorm`` normalises over the last ``n`` dims, so a batch in front changes nothing.
    Batched weights (an ensemble) are applied after normalising without them, each lined up
    with its example's normalised dims."""
    value, _ = _unary_front(level, args)
    if not _weights_batched(level, args):
        return run((value,) + args[1:], params), 0
    out = run((value, None, None), params)
    gap = (1,) * (value.ndim - 1 - params["n"])
    for a, combine in ((args[1], mul), (args[2], add)):
        if a is not None:
            p = materialize(*unwrap(a, level), level.size)
            out = combine(out, reshape(p, p.shape[:1] + gap + p.shape[1:]))
    return out, 0


def _basic_or_adjacent(key: tuple[Any, ...], level: VmapLevel) -> bool:
    """Whether prepending ``slice(None)`` to ``key`` indexes each example as ``key`` would: true
    for basic keys and for unbatched integer arrays that stand next to each other (numpy then
    keeps their result dimensions in place)."""
    positions = [i for i, k in enumerate(key) if isinstance(k, NDArray)]
    if any(_batched_array(key[i], level) for i in positions):
        return False
    if any(k.dtype.name == "bool" for k in key if isinstance(k, NDArray)):
        return False
    return not positions or positions == list(range(positions[0], positions[-1] + 1))


def _as_key_tuple(key: Any) -> tuple[Any, ...]:
    return key if isinstance(key, tuple) else (key,)


def _gather_key(key: tuple[Any, ...], level: VmapLevel) -> tuple[Any, ...] | None:
    """For a key whose integer arrays come first (positions 0..k-1, some maybe batched): a key
    that indexes a front-batched value so that example ``i`` is read with example ``i``'s arrays
    -- an ``arange`` over the batch leads, shaped to broadcast against them. None for other
    keys (the loop handles those)."""
    n = sum(isinstance(k, NDArray) for k in key)
    if n == 0 or not all(isinstance(k, NDArray) and k.dtype.name != "bool" for k in key[:n]):
        return None
    parts = [_param_tensor(k, level) for k in key[:n]]
    rank = max(v.ndim - (b is not None) for v, b in parts)
    device = next(v.device for v, _ in parts)
    batch = reshape(arange(level.size, device=device), (level.size,) + (1,) * rank)
    arrays = [v if b is None else pad_logical(front(v, b), rank)._data for v, b in parts]
    return (batch._data, *arrays) + key[n:]


def dynamic_shape_rule(level: VmapLevel, args: tuple[Any, ...], params: dict[str, Any],
                       run: Run) -> tuple[Tensor, int]:
    """Ops whose result's shape depends on the values (``nonzero``, ``argwhere``, one-argument
    ``where``): each example would have its own shape, so vmap refuses them, as PyTorch's."""
    raise RuntimeError("vmap: We do not support batching operators that can output dynamic shape. "
                       "Attempted to vmap over nonzero (nonzero, argwhere, where(condition)).")


def index_rule(level: VmapLevel, args: tuple[Any, ...], params: dict[str, Any], run: Run) -> tuple[Tensor, int]:
    """Indexing: a leading ``:`` keeps the batch dimension and indexes each example; with
    batched index arrays (or split ones) a leading batch ``arange`` pairs example with arrays.
    (A batched boolean mask never gets here: :meth:`VmapLevel.mask_op` refuses it first.)"""
    key = _as_key_tuple(params["key"])
    value, bdim = unwrap(args[0], level)
    if bdim is not None and _basic_or_adjacent(key, level):
        return run((front(value, bdim),), {**params, "key": (slice(None),) + key}), 0
    gathered = _gather_key(key, level)
    if gathered is None:
        return fallback(level, Index, args, params, run)
    return run((materialize(value, bdim, level.size),), {**params, "key": gathered}), 0


def _written_at_key_rule(op: type[Function]) -> Rule:
    """The rule of an op that puts values into zeros of ``shape`` at ``key`` (the adjoint of
    indexing adds them, max-unpooling writes them): per example, with the key rewritten as
    :func:`index_rule` rewrites it."""
    def rule(level: VmapLevel, args: tuple[Any, ...], params: dict[str, Any], run: Run) -> tuple[Tensor, int]:
        key = _as_key_tuple(params["key"])
        value, bdim = unwrap(args[0], level)
        shape = (level.size,) + tuple(params["shape"])
        if bdim is not None and _basic_or_adjacent(key, level):
            return run((front(value, bdim),), {**params, "key": (slice(None),) + key, "shape": shape}), 0
        gathered = _gather_key(key, level)
        if gathered is None:
            return fallback(level, op, args, params, run)
        return run((materialize(value, bdim, level.size),), {**params, "key": gathered, "shape": shape}), 0
    rule.__name__ = rule.__qualname__ = f"{op.__name__.lower()}_rule"
    return rule


index_backward_rule = _written_at_key_rule(IndexBackward)
unpool_rule = _written_at_key_rule(Unpool)


POINTWISE: tuple[type[Function], ...] = (
    Add, Sub, Mul, Div, Pow, Maximum, Minimum, Where, Cast, Neg, Exp, Log, Sqrt, Rsqrt, Abs, Sin, Cos, Tanh,
    Sigmoid, Relu, Erf, Rounding, Log1p, Expm1, Asin, Acos, Atan, Sinh, Cosh, Asinh, Acosh, Atanh, Atan2,
    Copysign, Fmod, RoundedDiv, Erfc, Erfinv, Clone, ToDevice, Untracked, CheckedTargets, Gelu,
)

#: the batching rule of each op (Function class) that has one; every other op takes the fallback
RULES: dict[type[Function], Rule] = {
    **{f: pointwise_rule for f in POINTWISE},
    Sum: dims_rule, Amax: dims_rule, FiniteMax: dims_rule, ReducedConstant: dims_rule, VectorNorm: dims_rule,
    LogSoftmax: dims_rule, Softmax: dim_rule,
    Prod: dim_rule, Cumsum: dim_rule, Cumprod: dim_rule, Logcumsumexp: dim_rule, UnfoldDim: dim_rule,
    IndicesAlong: dim_rule,
    Cat: cat_rule, Reshape: reshape_rule, Permute: permute_rule, Expand: expand_rule, Flip: dims_rule,
    Matmul: matmul_rule,
    Inverse: leading_batch_rule, Det: leading_batch_rule, LogAbsDet: leading_batch_rule, Solve: leading_batch_rule,
    SlogdetSign: leading_batch_rule,
    Cholesky: leading_batch_rule, QrQ: leading_batch_rule, QrR: leading_batch_rule, SvdFactor: leading_batch_rule,
    EighFactor: leading_batch_rule,
    Unfold: windows_rule, Fold: windows_rule, Convolution: convolution_rule, MaxPool: windows_rule,
    ConvolutionGradInput: convolution_rule, ConvolutionGradWeight: convolution_grad_weight_rule,
    MaxPoolIndices: windows_rule,
    Linear: linear_rule, LayerNorm: layer_norm_rule, Attention: leading_batch_rule,
    LstmCell: leading_batch_rule, LstmHidden: leading_batch_rule,  # both read the last dim only
    Index: index_rule, IndexBackward: index_backward_rule, Unpool: unpool_rule,
    Nonzero: dynamic_shape_rule,
}

#: the rules that understand batched arrays among the parameters (``where``'s condition; the
#: index rules, max-unpooling's among them, send keys they cannot rewrite to the fallback themselves)
PARAM_RULES: frozenset[type[Function]] = frozenset({Index, IndexBackward, Unpool})


def register_rule(op: type[Function], rule: Rule) -> Rule | None:
    """Install ``rule`` as the batching rule of ``op``; returns the rule it replaces (or None).
    Labs use it to plug a learner's rule into the real ``vmap``."""
    old = RULES.get(op)
    RULES[op] = rule
    return old


def remove_rule(op: type[Function]) -> Rule | None:
    """Remove ``op``'s batching rule (it then takes the fallback); returns the removed rule."""
    return RULES.pop(op, None)


# --- vmap itself -----------------------------------------------------------------------------------------
class physical_region:
    """While active, the given vmap levels pass every op through unchanged: a transform runs
    the engine on physical tensors (whose arrays the levels may still know from the forward
    pass, which must not make them look batched)."""

    def __init__(self, levels: list[VmapLevel]):
        self.levels = levels

    def __enter__(self) -> None:
        self.saved = [level.physical for level in self.levels]
        for level in self.levels:
            level.physical = True

    def __exit__(self, *exc: Any) -> None:
        for level, flag in zip(self.levels, self.saved):
            level.physical = flag


def active_levels() -> list[VmapLevel]:
    """The vmap levels active in this thread, outermost first."""
    return [m for m in active_modes() if isinstance(m, VmapLevel)]


def vmap(func: Callable[..., Any], in_dims: Any = 0, out_dims: Any = 0, randomness: str = "error", *,
         chunk_size: int | None = None) -> Callable[..., Any]:
    """``func`` mapped over a dimension of its inputs (``torch.func.vmap``).

    ``in_dims`` says, for each positional argument (an int or None for all of them, or a tuple
    with one entry per argument, nested like the argument), which dimension to map over (None:
    the argument is the same for every example). ``out_dims`` says where the mapped dimension
    goes in each output. ``randomness`` is ``'error'`` (a random op inside raises) or
    ``'same'`` (one draw shared by every example); ``'different'`` is not supported.
    ``chunk_size`` maps that many examples at a time (less memory, more calls).

    >>> import tinytorch as tt
    >>> x = tt.arange(6.0, device="numpy").reshape(2, 3)
    >>> vmap(lambda row: row.sum())(x).tolist()
    [3.0, 12.0]
    """
    if randomness not in ("error", "same", "different"):
        raise RuntimeError(f"Only allowed values for randomness are 'error', 'different', or 'same'. "
                           f"Got {randomness}")
    if randomness == "different":
        raise NotImplementedError("vmap(randomness='different') is not supported by tinytorch: random ops "
                                  "inside vmap draw one value shared by every example ('same')")
    if chunk_size is not None and (not isinstance(chunk_size, int) or chunk_size < 1):
        raise ValueError(f"vmap: chunk_size should be None or greater than 0. (got {chunk_size})")
    _check_dims_spec(in_dims, "in_dims")
    _check_dims_spec(out_dims, "out_dims")

    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if not args:
            raise ValueError(f"vmap({_name(func)})(<inputs>): got no inputs. Maybe you forgot to add inputs, "
                             "or you are trying to vmap over a function with no inputs.")
        if isinstance(in_dims, tuple) and len(in_dims) != len(args):
            raise ValueError(f"vmap({_name(func)}, in_dims={in_dims}, ...)(<inputs>): in_dims is not compatible "
                             f"with the structure of `inputs`. in_dims has structure of {len(in_dims)} entries "
                             f"but inputs has {len(args)} positional arguments.")
        leaves, spec = tree_flatten(args)
        dims = broadcast_prefix(in_dims if isinstance(in_dims, tuple) else in_dims, list(args)
                                if isinstance(in_dims, tuple) else args, "in_dims")
        dims = [_checked_in_dim(x, d, func) for x, d in zip(leaves, dims)]
        size = _batch_size(leaves, dims, func)
        if chunk_size is None or chunk_size >= size:
            return _vmap_call(func, leaves, dims, spec, kwargs, size, out_dims, randomness)
        return _chunked(func, leaves, dims, spec, kwargs, size, out_dims, randomness, chunk_size)

    wrapped.__name__ = f"vmap({_name(func)})"
    wrapped.__doc__ = func.__doc__
    return wrapped


def _name(func: Any) -> str:
    return getattr(func, "__name__", type(func).__name__)


def _check_dims_spec(spec: Any, what: str) -> None:
    leaves, _ = tree_flatten(spec)
    for d in leaves:
        if d is not None and (not isinstance(d, int) or isinstance(d, bool)):
            raise ValueError(f"vmap: {what} must be an int, None or a (nested) tuple of them; got {spec!r}")


def _checked_in_dim(x: Any, d: int | None, func: Any) -> int | None:
    if d is None:
        return None
    if not isinstance(x, Tensor):
        raise ValueError(f"vmap({_name(func)}, in_dims=..., ...)(<inputs>): Got in_dim={d} for an input but the "
                         f"input is of type {type(x)}. We cannot vmap over non-Tensor arguments, please use "
                         "None as the respective in_dim")
    n = x.ndim
    if not -n <= d < n or n == 0:
        raise ValueError(f"vmap({_name(func)}, in_dims=..., ...)(<inputs>): Got in_dim={d} for some input, but "
                         f"that input is a Tensor of dimensionality {n} so expected in_dim to satisfy "
                         f"-{n} <= in_dim < {n}.")
    return d % n


def _batch_size(leaves: list[Any], dims: list[int | None], func: Any) -> int:
    sizes = [x.shape[d] for x, d in zip(leaves, dims) if d is not None]
    if not sizes:
        raise ValueError(f"vmap({_name(func)}, in_dims=..., ...)(<inputs>): at least one input must be a Tensor "
                         "mapped over a dimension (in_dims must not be None for every input)")
    if len(set(sizes)) > 1:
        raise ValueError(f"vmap: Expected all tensors to have the same size in the mapped dimension, got sizes "
                         f"{sizes} for the mapped dimension")
    return sizes[0]


def _vmap_call(func: Callable[..., Any], leaves: list[Any], dims: list[int | None], spec: Any,
               kwargs: dict[str, Any], size: int, out_dims: Any, randomness: str) -> Any:
    level = VmapLevel(size, randomness)
    with level:
        inputs = [x if d is None else wrap(x, d, level) for x, d in zip(leaves, dims)]
        out = func(*tree_unflatten(inputs, spec), **kwargs)
    try:
        out_leaves, out_spec = tree_flatten(out)
        odims = broadcast_prefix(out_dims, out, "out_dims")
        return tree_unflatten([_unbatch(o, d, level, func) for o, d in zip(out_leaves, odims)], out_spec)
    finally:
        level.arrays.clear()


def _unbatch(out: Any, out_dim: int | None, level: VmapLevel, func: Any) -> Any:
    """One output of the mapped function as a tensor of the level below: the batch dimension
    moved to ``out_dim``; an output that is the same for every example is expanded."""
    if not isinstance(out, Tensor):
        raise ValueError(f"vmap({_name(func)}, ...): `{_name(func)}` must only return Tensors, got type "
                         f"{type(out)}. Did you mean to set out_dims= to None for output?")
    value, bdim = unwrap(out, level)
    if out_dim is None:
        if bdim is not None:
            raise ValueError(f"vmap({_name(func)}, ...): `{_name(func)}` can not return a BatchedTensor when "
                             "out_dim is None")
        return value
    n = value.ndim + (bdim is None)
    if not -n <= out_dim < n:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-n}, {n - 1}], but got {out_dim})")
    if bdim is None:
        value, bdim = expand(unsqueeze(value, 0), (level.size,) + tuple(value.shape)), 0
    return value if bdim == out_dim % n else movedim(value, bdim, out_dim % n)


def _chunked(func: Callable[..., Any], leaves: list[Any], dims: list[int | None], spec: Any, kwargs: dict[str, Any],
             size: int, out_dims: Any, randomness: str, chunk: int) -> Any:
    """``vmap`` over ``chunk`` examples at a time, the outputs concatenated along their out dims."""
    from ..ops.movement import cat, narrow
    parts = []
    for start in range(0, size, chunk):
        n = min(chunk, size - start)
        piece = [x if d is None else narrow(x, d, start, n) for x, d in zip(leaves, dims)]
        parts.append(_vmap_call(func, piece, dims, spec, kwargs, n, out_dims, randomness))
    flat = [tree_flatten(p)[0] for p in parts]
    out_spec = tree_flatten(parts[0])[1]
    odims = broadcast_prefix(out_dims, parts[0], "out_dims")
    joined = [cat([f[i] for f in flat], dim=odims[i]) if odims[i] is not None else flat[0][i]
              for i in range(len(flat[0]))]
    return tree_unflatten(joined, out_spec)
