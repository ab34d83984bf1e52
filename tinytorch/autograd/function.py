"""PyTorch's custom autograd Function: ``forward(ctx, ...)`` and ``backward(ctx, ...)`` written
with Tensor ops by the user, joined to the graph as one node.

The library's own ops subclass :class:`tinytorch.tensor.Function`, whose ``forward`` computes on
NDArrays and whose instance is the node (chapter 5). A PyTorch program writes a different kind
of Function: static methods that receive a *context* object, compute on Tensors, and stash what
backward needs with ``ctx.save_for_backward``::

    class Square(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        def backward(ctx, grad):
            (x,) = ctx.saved_tensors
            return 2 * x * grad

:class:`Function` here accepts both kinds. A subclass whose ``forward`` is a ``staticmethod`` is
PyTorch's kind: ``apply`` runs ``forward`` with grad mode off and makes a :class:`FunctionCtx`
node -- the ``ctx`` -- the ``grad_fn`` of the results. Any other subclass is chapter 5's kind
and ``apply`` is the base class's.

A node has one output array (the engine keys gradients by node). Several differentiable outputs
are therefore joined into one flat array, and each result is a view of it: their gradients meet
in that array's gradient, which the node splits again before calling ``backward``. An output
that received no gradient gets zeros (PyTorch's ``materialize_grads``; ``None`` is not passed
even after ``ctx.set_materialize_grads(False)``).

>>> import tinytorch as tt
>>> class Cube(Function):
...     @staticmethod
...     def forward(ctx, x):
...         ctx.save_for_backward(x)
...         return x ** 3
...     @staticmethod
...     def backward(ctx, g):
...         (x,) = ctx.saved_tensors
...         return 3 * x ** 2 * g
>>> x = tt.tensor([1.0, 2.0], requires_grad=True, device="numpy")
>>> Cube.apply(x).sum().backward()
>>> x.grad
tensor([ 3., 12.], device='numpy')
"""

from __future__ import annotations

import functools
import inspect
from typing import Any, Callable

from ..ndarray import promote_types
from ..ndarray.dtypes import DType
from ..ops.creation import zeros
from ..ops.movement import cat, reshape, to
from ..tensor import Function as Node
from ..tensor import Tensor, is_grad_enabled, no_grad

_FREED = ("Trying to backward through the graph a second time (or directly access saved tensors after they "
          "have already been freed). Specify retain_graph=True if you need to backward through the graph a "
          "second time or if you need to access saved tensors after calling backward.")


class FunctionCtx(Node):
    """The ``ctx`` of a custom Function call, and the graph node of its results.

    ``forward`` stores on it what ``backward`` needs: tensors through :meth:`save_for_backward`
    (read back as :attr:`saved_tensors`), anything else as attributes. ``needs_input_grad[i]``
    says whether positional input ``i`` requires grad. The engine frees it after backward
    (unless ``retain_graph``): then :attr:`saved_tensors` raises PyTorch's error.
    """

    def __init__(self, fn: Any, args: tuple) -> None:
        self._fn = fn
        self.needs_input_grad = tuple(isinstance(a, Tensor) and a.requires_grad for a in args)
        self._saved: tuple = ()
        self._non_differentiable: set[int] = set()
        self._outputs: list[tuple[int, tuple[int, ...], DType]] = []  # (size, shape, dtype) per graph output
        #: per output of forward, what backward is given: the index of its graph output, or
        #: (shape, dtype) for zeros (a non-differentiable tensor), or None (a number)
        self._grad_slots: list[Any] = []
        self._result: list[Tensor] = []  # forward's raw results, to recognise saved outputs
        self._graph_outputs: list[Tensor] = []

    # --- what forward may call ----------------------------------------------------------------------
    def save_for_backward(self, *tensors: Tensor | None) -> None:
        """Keep ``tensors`` (inputs, outputs or None) for ``backward``; call once per forward."""
        for t in tensors:
            if t is not None and not isinstance(t, Tensor):
                raise TypeError(f"save_for_backward can only save variables, but argument {tensors.index(t)} "
                                f"is of type {type(t).__name__}")
        self._saved = tensors

    @property
    def saved_tensors(self) -> tuple:
        """The tensors given to :meth:`save_for_backward`. A saved output comes back as the result
        the caller holds (so a double backward can differentiate through it)."""
        if "_saved" not in self.__dict__:
            raise RuntimeError(_FREED)
        return tuple(self._as_graph_output(t) for t in self._saved)

    def mark_non_differentiable(self, *tensors: Tensor) -> None:
        """These outputs get no gradient: they do not require grad, and ``backward`` is passed zeros
        for them."""
        self._non_differentiable.update(id(t) for t in tensors)

    def set_materialize_grads(self, value: bool) -> None:
        """Accepted for PyTorch's programs; tinytorch always passes zeros for outputs that received
        no gradient (see the module docstring)."""

    def mark_dirty(self, *tensors: Tensor) -> None:
        raise NotImplementedError("tinytorch does not record in-place operations in the graph, so a custom "
                                  "Function cannot modify its inputs in place (ctx.mark_dirty); return a new tensor")

    # --- the node -----------------------------------------------------------------------------------
    def _as_graph_output(self, t: Tensor | None) -> Tensor | None:
        for raw, out in zip(self._result, self._graph_outputs):
            if t is raw:
                return out
        return t

    def backward(self, grad: Tensor) -> Any:  # type: ignore[override]
        """Split the joined output's gradient per output and call the user's ``backward``."""
        pieces = _split(grad, self._outputs)
        grads = [pieces[k] if isinstance(k, int) else k if k is None else zeros(k[0], dtype=k[1], device=grad.device)
                 for k in self._grad_slots]
        result = self._fn.backward(self, *grads)
        result = result if isinstance(result, tuple) else (result,)
        n = len(self.inputs)
        if len(result) > n and all(r is None for r in result[n:]):  # PyTorch allows extra Nones
            result = result[:n]
        if len(result) != n:
            raise RuntimeError(f"function {self.name()} returned an incorrect number of gradients "
                               f"(expected {n}, got {len(result)})")
        return result

    def name(self) -> str:
        return f"{self._fn.__name__}Backward" if "_fn" in self.__dict__ else "FunctionBackward"


def _is_ctx_style(cls: type) -> bool:
    return isinstance(inspect.getattr_static(cls, "forward"), staticmethod)


class Function(Node):
    """Base class of custom differentiable operations, as ``torch.autograd.Function``.

    Write ``forward`` and ``backward`` as static methods taking ``ctx`` first (or ``forward``
    without ``ctx`` plus a static ``setup_context(ctx, inputs, output)``), call the op as
    ``MyFunction.apply(*args)``. ``forward`` runs with grad mode off and may return a Tensor or
    a tuple of them; ``backward`` receives one gradient per output and returns one per positional
    input (``None`` for an input that needs none). A subclass whose ``forward`` is an ordinary
    method is the library's own kind of op (see :class:`tinytorch.tensor.Function`).
    """

    @classmethod
    def apply(cls, *args: Any, **kwargs: Any) -> Any:
        if not _is_ctx_style(cls):
            return super().apply(*args, **kwargs)
        ctx = FunctionCtx(cls, args)
        with no_grad():
            if _has_own_setup_context(cls):
                result = cls.forward(*args, **kwargs)
                cls.setup_context(ctx, args, result)
            else:
                result = cls.forward(ctx, *args, **kwargs)
        return _connect(ctx, args, result)

    @staticmethod
    def setup_context(ctx: FunctionCtx, inputs: tuple, output: Any) -> None:
        """Override to fill ``ctx`` from the inputs and outputs when ``forward`` takes no ``ctx``."""


def _has_own_setup_context(cls: type) -> bool:
    return inspect.getattr_static(cls, "setup_context") is not inspect.getattr_static(Function, "setup_context")


def _connect(ctx: FunctionCtx, args: tuple, result: Any) -> Any:
    """Make ``ctx`` the node of ``result``'s differentiable outputs (when an input requires grad
    and grad mode is on); return the results in forward's structure."""
    single = not isinstance(result, tuple)
    outs = (result,) if single else result
    for i, o in enumerate(outs):
        if o is not None and not isinstance(o, Tensor) and not isinstance(o, (int, float, bool)):
            raise TypeError(f"a custom Function's forward returned a {type(o).__name__} as output {i}; "
                            f"return Tensors (or Python numbers)")
    diff = [i for i, o in enumerate(outs) if isinstance(o, Tensor) and o.dtype.is_floating_point
            and id(o) not in ctx._non_differentiable]
    if not (is_grad_enabled() and any(ctx.needs_input_grad) and diff):
        return result
    ctx.inputs = args
    ctx._grad_slots = [diff.index(i) if i in diff else (o.shape, o.dtype) if isinstance(o, Tensor)
                       else None for i, o in enumerate(outs)]
    ctx._result = [outs[i] for i in diff]
    ctx._outputs = [(outs[i].numel(), outs[i].shape, outs[i].dtype) for i in diff]
    if len(diff) == 1:
        joined = outs[diff[0]]._data
    else:
        dtype = functools.reduce(promote_types, [outs[i].dtype for i in diff])
        joined = cat([reshape(to(outs[i], dtype=dtype), (-1,)) for i in diff])._data
    made = ctx._graph_outputs = _split(Tensor._make(joined, True, ctx), ctx._outputs)
    final = list(outs)
    for i, t in zip(diff, made):
        final[i] = t
    return final[0] if single else tuple(final)


def _split(joined: Tensor, outputs: list[tuple[int, tuple[int, ...], DType]]) -> list[Tensor]:
    """The outputs a joined array holds, as views of it (``outputs``: each one's size, shape and
    dtype, in order); one output is the array itself."""
    if len(outputs) == 1:
        return [joined]
    pieces, start = [], 0
    for size, shape, dtype in outputs:
        piece = reshape(joined[start:start + size], shape)
        pieces.append(piece if piece.dtype is dtype else to(piece, dtype=dtype))
        start += size
    return pieces


def once_differentiable(backward: Callable[..., Any]) -> Callable[..., Any]:
    """Decorate a custom Function's ``backward`` that is not itself differentiable: it runs with
    grad mode off, so a double backward through it finds no graph (as in PyTorch)."""
    @functools.wraps(backward)
    def wrapper(ctx: FunctionCtx, *grads: Any) -> Any:
        with no_grad():
            return backward(ctx, *grads)
    return wrapper


__all__ = ["Function", "FunctionCtx", "once_differentiable"]
