"""``torch.autograd.gradcheck`` and ``gradgradcheck``: compare the gradients autograd computes
with finite differences, the test every hand-written ``backward`` should pass.

The numerical Jacobian perturbs one input element at a time by ``+-eps`` (central
differences, on copies, without recording a graph); the analytical one takes one backward pass
per output element. Inputs should be float64: in float32 the differences lose about half the
digits, and a warning says so, as PyTorch's does.
"""

from __future__ import annotations

import warnings
from typing import Any, Callable

import numpy as np

from ..ndarray.dtypes import float64
from ..ops.creation import zeros_like
from ..ops.random import randn
from ..tensor import Tensor, enable_grad, no_grad
from .engine import grad


class GradcheckError(RuntimeError):
    """The analytical and numerical gradients differ (PyTorch's class of the same name)."""


def _outputs(out: Any) -> list[Tensor]:
    return [o for o in (out if isinstance(out, (tuple, list)) else (out,)) if isinstance(o, Tensor)]


def _flat_outputs(func: Callable[..., Any], inputs: tuple) -> np.ndarray:
    with no_grad():
        return np.concatenate([o.detach().numpy().astype(np.float64).reshape(-1) for o in _outputs(func(*inputs))]
                              or [np.zeros(0)])


def _numerical(func: Callable[..., Any], inputs: tuple, i: int, eps: float) -> np.ndarray:
    """d(all outputs, flattened)/d(input i, flattened) by central differences: (n_in, n_out)."""
    x = inputs[i]
    base = x.detach().numpy().astype(np.float64)
    columns = []
    for k in range(base.size):
        values = []
        for sign in (1.0, -1.0):
            moved = base.copy().reshape(-1)
            moved[k] += sign * eps
            t = Tensor(moved.reshape(base.shape), dtype=x.dtype, device=x.device)
            values.append(_flat_outputs(func, inputs[:i] + (t,) + inputs[i + 1:]))
        columns.append((values[0] - values[1]) / (2 * eps))
    return np.array(columns).reshape(base.size, -1)


def _analytical(func: Callable[..., Any], inputs: tuple, i: int) -> np.ndarray:
    """d(all outputs, flattened)/d(input i, flattened) by backward passes: (n_in, n_out)."""
    with enable_grad():
        fresh = tuple(x.detach().requires_grad_(x.requires_grad) if isinstance(x, Tensor) else x for x in inputs)
        outs = _outputs(func(*fresh))
        rows = []
        for o in outs:
            flat = o.reshape(-1)
            for j in range(flat.shape[0]):
                if not flat.requires_grad:
                    rows.append(np.zeros(fresh[i].numel()))
                    continue
                (g,) = grad(flat[j], (fresh[i],), retain_graph=True, allow_unused=True)
                rows.append(np.zeros(fresh[i].numel()) if g is None else g.numpy().astype(np.float64).reshape(-1))
    return np.array(rows).reshape(-1, fresh[i].numel()).T


def gradcheck(func: Callable[..., Any], inputs: Any, *, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3,
              raise_exception: bool = True, **ignored: Any) -> bool:
    """True when, for every floating-point input that requires grad, the Jacobian autograd
    computes matches central finite differences (``|a - n| <= atol + rtol * |n|``); otherwise
    raises :class:`GradcheckError` naming the input and both Jacobians (or returns False when
    ``raise_exception`` is False). PyTorch's other options are accepted and ignored."""
    args = tuple(inputs) if isinstance(inputs, (tuple, list)) else (inputs,)
    for i, x in enumerate(args):
        if isinstance(x, Tensor) and x.requires_grad and x.dtype is not float64:
            warnings.warn(f"Input #{i} requires gradient and is not a double precision floating point. The "
                          "precision of the finite differences may be too low to check the gradient.", stacklevel=2)
    for i, x in enumerate(args):
        if not (isinstance(x, Tensor) and x.requires_grad):
            continue
        numeric, analytic = _numerical(func, args, i, eps), _analytical(func, args, i)
        if not np.allclose(analytic, numeric, rtol=rtol, atol=atol):
            if not raise_exception:
                return False
            raise GradcheckError(f"Jacobian mismatch for output 0 with respect to input {i},\n"
                                 f"numerical:{numeric}\nanalytical:{analytic}\n")
    return True


def gradgradcheck(func: Callable[..., Any], inputs: Any, grad_outputs: Any = None, *, eps: float = 1e-6,
                  atol: float = 1e-5, rtol: float = 1e-3, raise_exception: bool = True, **ignored: Any) -> bool:
    """:func:`gradcheck` of the gradient: checks the second derivatives of ``func`` by checking
    ``(inputs, v) -> d(func(inputs) . v)/d(inputs)``; ``grad_outputs`` (``v``, one per output)
    default to random normal tensors."""
    args = tuple(inputs) if isinstance(inputs, (tuple, list)) else (inputs,)
    with no_grad():
        outs = _outputs(func(*args))
    vs = tuple(grad_outputs) if isinstance(grad_outputs, (tuple, list)) else \
        (grad_outputs,) if grad_outputs is not None else \
        tuple(randn(*o.shape, dtype=o.dtype, device=o.device).requires_grad_(True) for o in outs)
    n = len(args)
    diff = [k for k, x in enumerate(args) if isinstance(x, Tensor) and x.requires_grad]

    def first_derivatives(*both: Any) -> tuple:
        # the inputs gradcheck perturbs (numerically, without a graph) are made differentiable here
        xs = tuple(x.detach().requires_grad_(True) if k in diff and not x.requires_grad else x
                   for k, x in enumerate(both[:n]))
        with enable_grad():
            found = grad(_outputs(func(*xs)), [xs[k] for k in diff], grad_outputs=list(both[n:]),
                         create_graph=True, allow_unused=True)
        return tuple(zeros_like(xs[k]) if g is None else g for k, g in zip(diff, found))

    return gradcheck(first_derivatives, args + vs, eps=eps, atol=atol, rtol=rtol, raise_exception=raise_exception)


__all__ = ["gradcheck", "gradgradcheck", "GradcheckError"]
