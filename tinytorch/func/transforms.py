"""Gradients as functions: ``grad``, ``vjp``, ``jvp``, ``jacrev``, ``jacfwd``, ``hessian``.

Each transform takes a function and returns a function, and all of them are built on the
autograd engine (:func:`tinytorch.autograd.grad`) with ``create_graph=True``, so they compose:
``grad(grad(f))`` differentiates the graph the inner ``grad`` recorded.

**Forward mode by the double-vjp trick.** ``jvp`` needs ``J t``. The engine gives ``u ↦ Jᵀ u``
for any ``u``; that map is linear in ``u`` and, recorded with ``create_graph``, differentiable:
its vjp with respect to ``u``, applied to ``t``, is ``(Jᵀ)ᵀ t = J t``. So ``jvp`` is two
backward passes through graphs the engine already builds, and it works for every op whose
backward is differentiable -- which the op table's second-order tests check for every op --
with no tangent rule per op to write and keep in step with the backward.

**Under vmap.** The engine runs on plain tensors. A transform called inside ``vmap`` turns its
inputs into *physical* tensors (every active vmap level's batch dimension in front, inputs
that are the same for every example broadcast to the batch) and differentiates those. Each
example's result depends only on its own slice (no batching rule mixes examples), so the
gradient of the whole batch is the batch of per-example gradients -- which is how
``vmap(grad(loss), in_dims=(None, 0, 0))`` gives per-sample gradients of shared weights.
"""

from __future__ import annotations

import math
from typing import Any, Callable

from ..autograd import grad as autograd_grad
from ..ops.creation import eye, ones_like, zeros_like
from ..ops.movement import movedim, narrow, reshape, stack
from ..tensor import Tensor, enable_grad
from .batching import (
    BatchedTensor,
    VmapLevel,
    active_levels,
    materialize,
    note_fallback,
    physical_region,
    unwrap,
    vmap,
    wrap,
)
from .pytree import tree_flatten, tree_map, tree_unflatten


# --- physical tensors: every vmap level's batch dimension in front ------------------------------------------
def to_physical(x: Tensor, levels: list[VmapLevel]) -> Tensor:
    """The plain tensor behind ``x`` with the batch dimensions of ``levels`` (outermost first)
    in front; a level ``x`` is not batched at is broadcast (an expand, no copy)."""
    for level in reversed(levels):  # innermost first: each step leaves a tensor of the level below
        value, bdim = unwrap(x, level)
        x = materialize(value, bdim, level.size)
    return x


def from_physical(p: Tensor, levels: list[VmapLevel]) -> Tensor:
    """The inverse of :func:`to_physical`: ``p``'s leading dimensions become the batch
    dimensions of ``levels`` again."""
    for level in levels:
        p = wrap(p, 0, level)
    return p


def _fresh(p: Tensor) -> Tensor:
    """A tensor to differentiate with respect to: a new leaf, or -- when ``p`` is already part
    of a graph an enclosing transform differentiates -- an alias of it in that graph, so that
    the outer transform can differentiate through this one."""
    if p.requires_grad:
        return reshape(p, p.shape)  # a Reshape node: a non-leaf the engine can target
    return p.detach().requires_grad_(True)


def _reaches_outside(t: Tensor, fresh: set[int]) -> bool:
    """Whether ``t``'s graph reaches a tensor requiring grad that this transform did not make
    (an enclosing transform's input, or a tensor the user set ``requires_grad`` on)."""
    if not t.requires_grad:
        return False
    stack_, seen = [t], set()
    while stack_:
        x = stack_.pop()
        if x._ctx is None:
            if id(x) in fresh:  # a leaf this transform made (an alias of an outer input is not one)
                continue
            return True
        if id(x._ctx) in seen or x._ctx.inputs is None:
            continue
        seen.add(id(x._ctx))
        stack_.extend(i for i in x._ctx.inputs if isinstance(i, Tensor) and i.requires_grad)
    return False


def _finish(p: Tensor, fresh: set[int], levels: list[VmapLevel]) -> Tensor:
    """A physical result handed back: cut from the graph unless it leads to tensors outside
    this transform (then an outer transform or ``backward`` still needs the graph)."""
    return from_physical(p if _reaches_outside(_bottom(p), fresh) else p.detach(), levels)


def _bottom(t: Tensor) -> Tensor:
    """The plain tensor under any BatchedTensors (where the graph is recorded)."""
    while isinstance(t, BatchedTensor):
        t = t._value
    return t


def _vjp(outs: list[Tensor], ins: list[Tensor], seeds: list[Tensor], physical: bool = True) -> list[Tensor]:
    """``Σ_k J_kᵀ seed_k`` for each input, as differentiable tensors (zeros where unused).
    ``physical``: the seeds are physical tensors and the active vmap levels let every op pass;
    otherwise batched seeds make the levels batch the backward pass itself."""
    pairs = [(o, s) for o, s in zip(outs, seeds) if o.requires_grad]
    if not pairs or not ins:
        return [zeros_like(x) for x in ins]
    with physical_region(active_levels() if physical else []):
        grads = autograd_grad([o for o, _ in pairs], ins, [s for _, s in pairs], retain_graph=True,
                              create_graph=True, allow_unused=True)
    return [zeros_like(x) if g is None else g for g, x in zip(grads, ins)]


# --- arguments --------------------------------------------------------------------------------------------------
def _argnums(argnums: Any, n: int, who: str) -> tuple[int, ...]:
    nums = argnums if isinstance(argnums, tuple) else (argnums,)
    if not nums or not all(isinstance(i, int) and not isinstance(i, bool) for i in nums):
        raise RuntimeError(f"{who}: argnums must be int or Tuple[int, ...], got: {argnums!r}")
    out = []
    for i in nums:
        if not -n <= i < n:
            raise RuntimeError(f"{who}: Got argnums={argnums}, but only {n} positional inputs")
        out.append(i % n)
    if len(set(out)) != len(out):
        raise RuntimeError(f"{who}: argnums must be unique, got {argnums}")
    return tuple(out)


class _Inputs:
    """The differentiated inputs of one call, flattened: their physical tensors, the fresh
    tensors differentiated, and the arguments to call the function with."""

    def __init__(self, trees: list[Any], levels: list[VmapLevel], who: str):
        self.levels = levels
        self.leaves, self.spec = tree_flatten(trees)
        for x in self.leaves:
            if not isinstance(x, Tensor):
                raise RuntimeError(f"{who}: Expected the inputs being differentiated to be Tensors, got "
                                   f"{type(x).__name__}")
            if not x.dtype.is_floating_point:
                raise RuntimeError(f"{who}: only Tensors of floating point dtype can be differentiated, got "
                                   f"{x.dtype}")
        self.fresh = [_fresh(to_physical(x, levels)) for x in self.leaves]
        self.ids = {id(f) for f in self.fresh}
        self.trees = tree_unflatten([from_physical(f, levels) for f in self.fresh], self.spec)

    def results(self, physical: list[Tensor]) -> Any:
        """Per-input results (physical, one per leaf) in the inputs' structure."""
        return tree_unflatten([_finish(p, self.ids, self.levels) for p in physical], self.spec)


def _call_with(func: Callable[..., Any], args: tuple[Any, ...], nums: tuple[int, ...], trees: list[Any],
               kwargs: dict[str, Any]) -> Any:
    new = list(args)
    for i, t in zip(nums, trees):
        new[i] = t
    return func(*new, **kwargs)


def _split_aux(out: Any, has_aux: bool, who: str) -> tuple[Any, Any]:
    if not has_aux:
        return out, None
    if not (isinstance(out, tuple) and len(out) == 2):
        raise RuntimeError(f"{who}(f, ...)(*args): output of function f should be a tuple: (output, aux) if "
                           "has_aux is True")
    return out


def _detached_aux(aux: Any, fresh: set[int], levels: list[VmapLevel]) -> Any:
    return tree_map(lambda a: _finish(to_physical(a, levels), fresh, levels) if isinstance(a, Tensor) else a, aux)


# --- grad ----------------------------------------------------------------------------------------------------
def grad_and_value(func: Callable[..., Any], argnums: Any = 0, has_aux: bool = False) -> Callable[..., Any]:
    """``func`` -> a function returning ``(gradient, value)`` of ``func`` (``torch.func.grad_and_value``).

    ``func`` must return a 0-d tensor (or ``(that, aux)`` with ``has_aux``, and then the
    value is ``(value, aux)``). The gradient is taken with respect to argument ``argnums`` (an
    int, or a tuple of ints for a tuple of gradients); an argument may be a tuple, list or dict
    of tensors, and its gradient has the same structure."""
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        nums = _argnums(argnums, len(args), "grad_and_value(f)(*args)")
        levels = active_levels()
        with enable_grad():
            inputs = _Inputs([args[i] for i in nums], levels, "grad_and_value(f)(*args)")
            out, aux = _split_aux(_call_with(func, args, nums, inputs.trees, kwargs), has_aux, "grad_and_value")
            if not isinstance(out, Tensor):
                raise RuntimeError(f"grad_and_value(f)(*args): Expected f(*args) to return a Tensor, got "
                                   f"{type(out)}")
            if out.ndim != 0:
                raise RuntimeError(f"grad_and_value(f)(*args): Expected f(*args) to return a scalar Tensor, got "
                                   f"tensor with {out.ndim} dims. Maybe you wanted to use the vjp or jacrev APIs "
                                   "instead?")
            out_p = to_physical(out, levels)
            grads = _vjp([out_p], inputs.fresh, [ones_like(out_p)])
            result = inputs.results(grads)
            value = _finish(out_p, inputs.ids, levels)
        g = result[0] if isinstance(argnums, int) else tuple(result)
        if has_aux:
            return g, (value, _detached_aux(aux, inputs.ids, levels))
        return g, value

    wrapper.__name__ = f"grad_and_value({getattr(func, '__name__', 'f')})"
    return wrapper


def grad(func: Callable[..., Any], argnums: Any = 0, has_aux: bool = False) -> Callable[..., Any]:
    """``func`` -> the function computing its gradient (``torch.func.grad``): ``grad(f)(x)`` is
    ``df/dx`` for an ``f`` returning a 0-d tensor. With ``has_aux`` ``f`` returns
    ``(output, aux)`` and ``grad(f)(x)`` returns ``(gradient, aux)``.

    >>> import tinytorch as tt
    >>> x = tt.tensor([1.0, 2.0], device="numpy")
    >>> grad(lambda x: (x ** 3).sum())(x).tolist()
    [3.0, 12.0]
    >>> grad(grad(lambda x: (x ** 3).sum()))(tt.tensor(2.0, device="numpy")).item()
    12.0
    """
    gv = grad_and_value(func, argnums, has_aux)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        g, value = gv(*args, **kwargs)
        return (g, value[1]) if has_aux else g

    wrapper.__name__ = f"grad({getattr(func, '__name__', 'f')})"
    return wrapper


# --- vjp ------------------------------------------------------------------------------------------------------
def vjp(func: Callable[..., Any], *primals: Any, has_aux: bool = False) -> Any:
    """``(func(*primals), vjp_fn)`` (``torch.func.vjp``): ``vjp_fn(cotangents)`` returns, for each
    primal, ``Jᵀ cotangent`` -- a tuple with one entry per primal. ``cotangents`` has the
    structure and shapes of the output. With ``has_aux``: ``(output, vjp_fn, aux)``.

    ``vjp_fn`` may be called many times, also under a ``vmap`` that was not active when
    ``vjp`` ran (``vmap(vjp_fn)(cotangents)``): the vmap then batches the backward pass. If
    ``vjp`` itself ran inside another ``vmap``, such a call loops over the new batch instead
    (reported by :func:`~tinytorch.func.fallback_ops` as ``vjp_fn``)."""
    levels = active_levels()
    with enable_grad():
        inputs = _Inputs(list(primals), levels, "vjp(f, *primals)")
        out, aux = _split_aux(func(*inputs.trees), has_aux, "vjp")
        out_leaves, out_spec = tree_flatten(out)
        for o in out_leaves:
            if not isinstance(o, Tensor):
                raise RuntimeError(f"vjp(f, *primals): Expected f to be a function that has only Tensors as "
                                   f"outputs, got {type(o)}")
        outs_p = [to_physical(o, levels) for o in out_leaves]
        shapes = [o.shape for o in out_leaves]

    def vjp_fn(cotangents: Any) -> tuple[Any, ...]:
        ct_leaves, ct_spec = tree_flatten(cotangents)
        if len(ct_leaves) != len(outs_p):
            raise RuntimeError(f"Expected pytree structure of cotangents to be the same as pytree structure of "
                               f"outputs to the function: {len(ct_leaves)} cotangents for {len(outs_p)} outputs")
        for i, (c, s) in enumerate(zip(ct_leaves, shapes)):
            if not isinstance(c, Tensor) or c.shape != s:
                raise RuntimeError(f"Mismatch in shape: grad_output[{i}] has a shape of "
                                   f"{getattr(c, 'shape', type(c).__name__)} and output[{i}] has a shape of {s}.")
        now = active_levels()
        with enable_grad():
            if now == levels:
                grads = _vjp(outs_p, inputs.fresh, [to_physical(c, levels) for c in ct_leaves])
                return tuple(inputs.results(grads))
            if now[:len(levels)] != levels:
                raise RuntimeError("vjp_fn: called outside a vmap that was active when vjp was called")
            if not levels:  # the graph holds no batch: the new levels batch the backward ops
                grads = _vjp(outs_p, inputs.fresh, ct_leaves, physical=False)
                return tuple(inputs.results(grads))
            return tuple(_vjp_looping(outs_p, inputs, ct_leaves, now))

    value = tree_unflatten([_finish(p, inputs.ids, levels) for p in outs_p], out_spec)
    if has_aux:
        return value, vjp_fn, _detached_aux(aux, inputs.ids, levels)
    return value, vjp_fn


def _vjp_looping(outs_p: list[Tensor], inputs: _Inputs, cts: list[Tensor], now: list[VmapLevel]) -> Any:
    """``vjp_fn`` under vmap levels added after ``vjp`` ran (``now`` = its levels + extra): the
    graph holds no batch for the extra levels, so loop over their examples and stack."""
    note_fallback("vjp_fn")
    inner = len(inputs.levels)
    extra = now[inner:]
    count = math.prod(level.size for level in extra)
    batch = tuple(range(inner, inner + len(extra)))

    def per_example(c: Tensor) -> Tensor:  # (count, *physical of vjp's levels) of one cotangent
        p = movedim(to_physical(c, now), batch, tuple(range(len(extra))))
        return reshape(p, (count,) + p.shape[len(extra):])

    flat = [per_example(c) for c in cts]
    rows = [_vjp(outs_p, inputs.fresh, [f[i] for f in flat]) for i in range(count)]
    results = []
    for j, x in enumerate(inputs.fresh):
        g = reshape(stack([r[j] for r in rows]), tuple(level.size for level in extra) + x.shape)
        g = movedim(g, tuple(range(len(extra))), batch)
        results.append(from_physical(g if _reaches_outside(g, inputs.ids) else g.detach(), now))
    return tree_unflatten(results, inputs.spec)


# --- jvp -------------------------------------------------------------------------------------------------------
def jvp(func: Callable[..., Any], primals: Any, tangents: Any, *, has_aux: bool = False) -> Any:
    """``(func(*primals), J tangents)`` (``torch.func.jvp``): forward mode, one Jacobian-vector
    product per call. ``primals`` and ``tangents`` are tuples of the same structure and shapes.
    With ``has_aux``: ``(output, jvp_out, aux)``.

    Computed by the double-vjp trick (the module docstring says why): two backward passes.

    >>> import tinytorch as tt
    >>> x, t = tt.tensor([1.0, 2.0], device="numpy"), tt.tensor([1.0, 0.0], device="numpy")
    >>> jvp(lambda x: x ** 2, (x,), (t,))[1].tolist()
    [2.0, 0.0]
    """
    for name, v in (("primals", primals), ("tangents", tangents)):
        if not isinstance(v, tuple):
            raise RuntimeError(f"jvp(f, primals, tangents): Expected {name} to be a tuple. E.g. it should be "
                               f"valid to call f(*{name}).")
    p_leaves, p_spec = tree_flatten(primals)
    t_leaves, t_spec = tree_flatten(tangents)
    if p_spec != t_spec:
        raise RuntimeError("jvp(f, primals, tangents): Expected primals and tangents to have the same python "
                           "structure.")
    for p, t in zip(p_leaves, t_leaves):
        if not isinstance(t, Tensor) or not isinstance(p, Tensor) or p.shape != t.shape:
            raise RuntimeError(f"jvp(f, primals, tangents): Expected primals and tangents to have the same "
                               f"shape; got {getattr(p, 'shape', p)} and {getattr(t, 'shape', t)}")
    levels = active_levels()
    with enable_grad():
        inputs = _Inputs(list(primals), levels, "jvp(f, primals, tangents)")
        out, aux = _split_aux(func(*inputs.trees), has_aux, "jvp")
        out_leaves, out_spec = tree_flatten(out)
        outs_p = [to_physical(o, levels) for o in out_leaves]
        # u: a stand-in cotangent; g = Jᵀu is linear in u, and d(g · t)/du = J t
        us = [zeros_like(o).requires_grad_(True) if o.dtype.is_floating_point else zeros_like(o) for o in outs_p]
        gs = _vjp(outs_p, inputs.fresh, us)
        ts = [to_physical(t, levels) for t in t_leaves]
        pairs = [(g, t) for g, t in zip(gs, ts) if g.requires_grad]
        wanted = [u for u in us if u.requires_grad]
        if pairs and wanted:
            with physical_region(levels):
                found = autograd_grad([g for g, _ in pairs], wanted, [t for _, t in pairs], retain_graph=True,
                                      create_graph=True, allow_unused=True)
            by_u = {id(u): g for u, g in zip(wanted, found) if g is not None}
            jv = [by_u.get(id(u), zeros_like(u)) for u in us]
        else:
            jv = [zeros_like(u) for u in us]
        fresh = inputs.ids | {id(u) for u in us}
        value = tree_unflatten([_finish(p, fresh, levels) for p in outs_p], out_spec)
        tangent_out = tree_unflatten([_finish(p, fresh, levels) for p in jv], out_spec)
    if has_aux:
        return value, tangent_out, _detached_aux(aux, fresh, levels)
    return value, tangent_out


# --- Jacobians and the Hessian --------------------------------------------------------------------------------
def _basis(n: int, like: Tensor) -> Tensor:
    return eye(n, dtype=like.dtype, device=like.device)


def jacrev(func: Callable[..., Any], argnums: Any = 0, *, has_aux: bool = False,
           chunk_size: int | None = None) -> Callable[..., Any]:
    """The Jacobian of ``func`` by reverse mode (``torch.func.jacrev``): one vjp per output
    element, all of them at once under ``vmap`` over the rows of an identity matrix. The
    Jacobian of an output of shape ``S`` with respect to an input of shape ``T`` has shape
    ``S + T``; several outputs or argnums give nested tuples (outputs outside, inputs inside).

    Cost: one forward pass and a backward pass over a batch of ``m`` rows (``m`` = number of
    outputs), so reverse mode suits wide Jacobians (many inputs, few outputs). Inside ``vmap``
    the forward pass is repeated under the batch of rows."""
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        nums = _argnums(argnums, len(args), "jacrev")
        diff = tuple(args[i] for i in nums)

        def f(*d: Any) -> Any:
            return _call_with(func, args, nums, list(d), kwargs)

        levels = active_levels()
        probe = vjp(f, *diff, has_aux=has_aux)
        out, aux = probe[0], (probe[2] if has_aux else None)
        out_leaves, out_spec = tree_flatten(out)
        sizes = [o.numel() for o in out_leaves]
        m = sum(sizes)
        rows = _basis(m, out_leaves[0])
        cts, start = [], 0
        for o, n in zip(out_leaves, sizes):
            cts.append(reshape(narrow(rows, 1, start, n), (m,) + o.shape))
            start += n

        def one_row(*ct: Any) -> Any:
            # outside vmap, vmap batches the backward pass of the one forward pass made above;
            # inside, that graph holds this level's batch, so the forward runs again per row
            fn = probe[1] if not levels else vjp(f, *diff, has_aux=has_aux)[1]
            return fn(tree_unflatten(list(ct), out_spec))

        per_input = vmap(one_row, chunk_size=chunk_size)(*cts)  # tuple over argnums: (m, *in_shape)
        in_leaves, in_spec = tree_flatten(per_input)
        jac = []
        start = 0
        for o, n in zip(out_leaves, sizes):
            pieces = [reshape(narrow(g, 0, start, n), o.shape + g.shape[1:]) for g in in_leaves]
            tree = tree_unflatten(pieces, in_spec)
            jac.append(tree[0] if isinstance(argnums, int) else tree)
            start += n
        result = tree_unflatten(jac, out_spec)
        return (result, aux) if has_aux else result

    return wrapper


def jacfwd(func: Callable[..., Any], argnums: Any = 0, has_aux: bool = False, *,
           randomness: str = "error") -> Callable[..., Any]:
    """The Jacobian of ``func`` by forward mode (``torch.func.jacfwd``): one jvp per input
    element, all at once under ``vmap`` over the columns of an identity matrix. Same shapes
    and nesting as :func:`jacrev`. Cost grows with the number of inputs ``n``, so forward mode
    suits tall Jacobians (few inputs, many outputs)."""
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        nums = _argnums(argnums, len(args), "jacfwd")
        diff = tuple(args[i] for i in nums)
        d_leaves, d_spec = tree_flatten(diff)

        def f(*d: Any) -> Any:
            return _call_with(func, args, nums, list(d), kwargs)

        sizes = [x.numel() for x in d_leaves]
        n = sum(sizes)
        cols = _basis(n, d_leaves[0])
        tangents, start = [], 0
        for x, k in zip(d_leaves, sizes):
            tangents.append(reshape(narrow(cols, 1, start, k), (n,) + x.shape))
            start += k

        def one_column(*t: Any) -> Any:
            return jvp(f, diff, tree_unflatten(list(t), d_spec), has_aux=has_aux)[1]

        # the batch goes last: each output's columns then sit after its own dims
        columns = vmap(one_column, out_dims=-1, randomness=randomness)(*tangents)
        aux = _split_aux(f(*diff), True, "jacfwd")[1] if has_aux else None
        out_leaves, out_spec = tree_flatten(columns)
        jac = []
        for o in out_leaves:
            pieces, start = [], 0
            for x, k in zip(d_leaves, sizes):
                pieces.append(reshape(narrow(o, o.ndim - 1, start, k), o.shape[:-1] + x.shape))
                start += k
            tree = tree_unflatten(pieces, d_spec)
            jac.append(tree[0] if isinstance(argnums, int) else tree)
        result = tree_unflatten(jac, out_spec)
        return (result, aux) if has_aux else result

    return wrapper


def hessian(func: Callable[..., Any], argnums: Any = 0) -> Callable[..., Any]:
    """The Hessian of a scalar ``func`` (``torch.func.hessian``): ``jacfwd(jacrev(func))`` --
    forward over reverse, the cheap order for a Jacobian that is square."""
    return jacfwd(jacrev(func, argnums), argnums)
