"""``torch.autograd.functional``: derivatives of a Python function of tensors, computed by the
engine -- :func:`vjp`, :func:`jvp`, :func:`jacobian`, :func:`hessian`, :func:`vhp`, :func:`hvp`.

Each runs ``func`` on fresh copies of the inputs that require grad (so the caller's tensors
and their ``.grad`` are untouched) and asks the engine for gradients. A Jacobian is built row
by row, one backward pass per output element (reverse mode); ``jvp`` uses the double-vjp
trick: the vjp ``u -> J^T u`` is linear in ``u``, so its own vjp with ``v`` is ``J v``.
``tinytorch.func`` has the composable forms (``jacrev``, ``jacfwd``, ``hessian``, ``vmap``).

Inputs are a Tensor or a tuple of them, and so are the results: a Jacobian of a single output
with respect to a single input is one Tensor of shape ``output.shape + input.shape``; with
tuples it is a tuple (per input), or a tuple of tuples (per output, then per input). An input
the output does not depend on gets zeros (``strict=True`` raises instead, as PyTorch).
"""

from __future__ import annotations

from typing import Any, Callable

from ..ops.creation import ones_like, zeros, zeros_like
from ..ops.movement import reshape, stack
from ..tensor import Tensor, enable_grad
from .engine import grad


def _as_tuple(x: Any, what: str, fn: str) -> tuple[tuple[Tensor, ...], bool]:
    """``(tensors, was_tuple)`` for a Tensor or a tuple/list of Tensors."""
    items = tuple(x) if isinstance(x, (tuple, list)) else (x,)
    for i, t in enumerate(items):
        if not isinstance(t, Tensor):
            raise TypeError(f"The {what} given to {fn} must be either a Tensor or a tuple of Tensors but the value "
                            f"at index {i} has type {type(t).__name__}.")
    return items, isinstance(x, (tuple, list))


def _fresh(inputs: tuple[Tensor, ...], create_graph: bool) -> tuple[Tensor, ...]:
    """Inputs to differentiate at: detached copies that require grad, or (with ``create_graph``,
    for an input that already requires grad) the input itself, so higher derivatives reach it."""
    return tuple(t if create_graph and t.requires_grad else t.detach().requires_grad_(True) for t in inputs)


def _grads(output: Tensor, inputs: tuple[Tensor, ...], v: Tensor | None, create_graph: bool, strict: bool,
           fn: str) -> tuple[Tensor, ...]:
    """d(output . v)/d(inputs), zeros for the inputs it does not depend on (unless ``strict``)."""
    if not output.requires_grad:
        found: tuple[Any, ...] = (None,) * len(inputs)
    else:
        found = grad(output, inputs, grad_outputs=v, retain_graph=True, create_graph=create_graph,
                     allow_unused=True)
    if strict and any(g is None for g in found):
        i = next(i for i, g in enumerate(found) if g is None)
        raise RuntimeError(f"The output of the user-provided function is independent of input {i}. This is not "
                           f"allowed in strict mode ({fn}).")
    return tuple(zeros_like(x) if g is None else g for g, x in zip(found, inputs))


def _result(values: tuple[Any, ...], was_tuple: bool) -> Any:
    return values if was_tuple else values[0]


def _settle(values: tuple[Tensor, ...], create_graph: bool) -> tuple[Tensor, ...]:
    """What the caller gets back: the values themselves with ``create_graph``, else detached."""
    return values if create_graph else tuple(t.detach() for t in values)


def _call(func: Callable[..., Any], xs: tuple[Tensor, ...], create_graph: bool,
          fn: str) -> tuple[tuple[Tensor, ...], tuple[Tensor, ...], bool]:
    """``(fresh inputs, outputs, outputs_were_tuple)`` of ``func`` run on fresh inputs; call it
    with grad mode on."""
    fresh = _fresh(xs, create_graph)
    outs, out_tuple = _as_tuple(func(*fresh), "outputs of the user-provided function", fn)
    return fresh, outs, out_tuple


def _check_v_omittable(v: Any, xs: tuple[Tensor, ...]) -> None:
    """``v`` may be left out only for a single one-element input (it is then 1)."""
    if v is None and (len(xs) != 1 or xs[0].numel() != 1):
        raise RuntimeError("The vector v can only be None if the input to the user-provided function is a single "
                           "Tensor with a single element.")


def vjp(func: Callable[..., Any], inputs: Any, v: Any = None, create_graph: bool = False,
        strict: bool = False) -> tuple[Any, Any]:
    """``(func(*inputs), v^T J)``: the vector-Jacobian product (``v`` may be omitted when the
    output has one element)."""
    xs, was_tuple = _as_tuple(inputs, "inputs", "vjp")
    with enable_grad():
        fresh, outs, out_tuple = _call(func, xs, create_graph, "vjp")
        vs: tuple[Any, ...] = (None,) * len(outs) if v is None else _as_tuple(v, "v", "vjp")[0]
        if v is None and any(o.numel() != 1 for o in outs):
            raise RuntimeError("The vector v can only be None if the user-provided function returns a single Tensor "
                               "with a single element.")
        total = [zeros_like(x) for x in xs]
        for o, vi in zip(outs, vs):
            for k, g in enumerate(_grads(o, fresh, vi, create_graph, strict, "vjp")):
                total[k] = total[k] + g
    return _result(_settle(outs, create_graph), out_tuple), _result(_settle(tuple(total), create_graph), was_tuple)


def jvp(func: Callable[..., Any], inputs: Any, v: Any = None, create_graph: bool = False,
        strict: bool = False) -> tuple[Any, Any]:
    """``(func(*inputs), J v)``: the Jacobian-vector product, by the double-vjp trick (see the
    module docstring); ``v`` may be omitted when the input has one element."""
    xs, _ = _as_tuple(inputs, "inputs", "jvp")
    _check_v_omittable(v, xs)
    vs = tuple(ones_like(x) for x in xs) if v is None else _as_tuple(v, "v", "jvp")[0]
    with enable_grad():
        fresh, outs, out_tuple = _call(func, xs, create_graph, "jvp")
        products = []
        for o in outs:
            u = zeros_like(o).requires_grad_(True)  # J^T u is linear in u: its vjp with v is J v
            back = _grads(o, fresh, u, True, strict, "jvp")
            pairs = [(g, vi) for g, vi in zip(back, vs) if g.requires_grad]  # the others are constant zeros
            found = grad([g for g, _ in pairs], u, grad_outputs=[vi for _, vi in pairs], create_graph=create_graph,
                         allow_unused=True)[0] if pairs else None
            products.append(zeros_like(o) if found is None else found)
    return _result(_settle(outs, create_graph), out_tuple), _result(_settle(tuple(products), create_graph), out_tuple)


def jacobian(func: Callable[..., Any], inputs: Any, create_graph: bool = False, strict: bool = False,
             vectorize: bool = False, strategy: str = "reverse-mode") -> Any:
    """The Jacobian of ``func`` at ``inputs``, one backward pass per output element (see the
    module docstring for the shapes). ``vectorize`` is accepted and ignored; only
    ``strategy="reverse-mode"`` is implemented."""
    if strategy != "reverse-mode":
        raise NotImplementedError("tinytorch's autograd.functional.jacobian computes in reverse mode only; "
                                  "tinytorch.func.jacfwd is the forward-mode Jacobian")
    xs, was_tuple = _as_tuple(inputs, "inputs", "jacobian")
    with enable_grad():
        fresh, outs, out_tuple = _call(func, xs, create_graph, "jacobian")
        per_output = []
        for o in outs:
            flat = reshape(o, (-1,))
            rows = [_grads(flat[j], fresh, None, create_graph, strict, "jacobian") for j in range(flat.shape[0])]
            blocks = []
            for k, x in enumerate(fresh):
                block = stack([r[k] for r in rows]) if rows else zeros((0,) + tuple(x.shape), dtype=x.dtype,
                                                                        device=x.device)
                blocks.append(reshape(block, tuple(o.shape) + tuple(x.shape)))
            per_output.append(_result(_settle(tuple(blocks), create_graph), was_tuple))
    return _result(tuple(per_output), out_tuple)


def hessian(func: Callable[..., Any], inputs: Any, create_graph: bool = False, strict: bool = False,
            vectorize: bool = False, outer_jacobian_strategy: str = "reverse-mode") -> Any:
    """The Hessian of a function with one scalar output: the Jacobian of its gradient, shaped
    ``input.shape + input.shape`` (a tuple of tuples for several inputs)."""
    xs, was_tuple = _as_tuple(inputs, "inputs", "hessian")

    def gradient(*args: Tensor) -> Any:
        out = func(*args)
        if not isinstance(out, Tensor) or out.numel() != 1:
            raise RuntimeError("The function given to hessian should return a single Tensor with a single element.")
        return _result(_grads(out, args, None, True, strict, "hessian"), was_tuple)

    return jacobian(gradient, inputs, create_graph=create_graph, strict=strict, strategy=outer_jacobian_strategy)


def vhp(func: Callable[..., Any], inputs: Any, v: Any = None, create_graph: bool = False,
        strict: bool = False) -> tuple[Any, Any]:
    """``(func(*inputs), v^T H)`` for a function with one scalar output."""
    xs, was_tuple = _as_tuple(inputs, "inputs", "vhp")
    with enable_grad():
        fresh = _fresh(xs, True)
        out = func(*fresh)
        if not isinstance(out, Tensor) or out.numel() != 1:
            raise RuntimeError("The function given to vhp should return a single Tensor with a single element.")
        first = _grads(out, fresh, None, True, strict, "vhp")
        _check_v_omittable(v, xs)
        vs = _as_tuple(v, "v", "vhp")[0] if v is not None else (ones_like(xs[0]),)
        total = sum(((g * vi).sum() for g, vi in zip(first, vs) if g.requires_grad), start=zeros(()))
        second = _grads(total, fresh, None, create_graph, strict, "vhp")
    return (out if create_graph else out.detach()), _result(_settle(second, create_graph), was_tuple)


def hvp(func: Callable[..., Any], inputs: Any, v: Any = None, create_graph: bool = False,
        strict: bool = False) -> tuple[Any, Any]:
    """``(func(*inputs), H v)``: for the twice-differentiable scalar functions autograd sees the
    Hessian is symmetric, so this is :func:`vhp`."""
    return vhp(func, inputs, v, create_graph, strict)


__all__ = ["vjp", "jvp", "jacobian", "hessian", "vhp", "hvp"]
