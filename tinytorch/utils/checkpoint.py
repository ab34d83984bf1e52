"""``tinytorch.utils.checkpoint``: activation checkpointing, as ``torch.utils.checkpoint``.

``checkpoint(fn, *args)`` runs ``fn`` without recording a graph, so none of its intermediate
results are kept; backward runs ``fn`` again, this time recording, and backpropagates through
that recomputation. Memory falls from every layer's activations to the segment boundaries',
for one extra forward pass. The random generator's state is restored for the recomputation
(``preserve_rng_state``), so dropout draws the same masks twice.

This is PyTorch's *reentrant* form: the recomputation's backward adds the gradients of the
parameters ``fn`` uses into their ``.grad`` (so use it with ``loss.backward()``, not
``autograd.grad``). When no tensor argument requires grad there is no graph to hang the
recomputation on, and ``fn`` simply runs with grad recorded (correct gradients, no saving),
where PyTorch's reentrant form would lose the parameters' gradients.
"""

from __future__ import annotations

from typing import Any, Callable

from ..autograd.engine import backward as run_backward
from ..autograd.function import Function, FunctionCtx
from ..ops.random import default_generator
from ..tensor import Tensor, enable_grad, is_grad_enabled


class _Checkpoint(Function):
    @staticmethod
    def forward(ctx: FunctionCtx, run: Callable[..., Any], preserve_rng_state: bool, *args: Any) -> Any:
        ctx.run, ctx.args = run, args
        ctx.rng_state = default_generator.get_state() if preserve_rng_state else None
        return run(*args)  # apply runs forward with grad mode off: nothing inside is recorded

    @staticmethod
    def backward(ctx: FunctionCtx, *grads: Tensor) -> tuple:
        args = [a.detach().requires_grad_(a.requires_grad) if isinstance(a, Tensor) else a for a in ctx.args]
        now = default_generator.get_state()
        if ctx.rng_state is not None:
            default_generator.set_state(ctx.rng_state)  # the same random draws as the first run
        try:
            with enable_grad():
                outputs = ctx.run(*args)
        finally:
            default_generator.set_state(now)
        outs = outputs if isinstance(outputs, tuple) else (outputs,)
        pairs = [(o, g) for o, g in zip(outs, grads) if isinstance(o, Tensor) and o.requires_grad]
        if pairs:
            run_backward([o for o, _ in pairs], [g for _, g in pairs])
        return (None, None) + tuple(a.grad if isinstance(a, Tensor) else None for a in args)


def checkpoint(function: Callable[..., Any], *args: Any, use_reentrant: bool | None = None,
               preserve_rng_state: bool = True, **kwargs: Any) -> Any:
    """``function(*args, **kwargs)``, its intermediate results recomputed in backward instead of
    kept (see the module docstring; ``use_reentrant`` is accepted, the reentrant form is used)."""
    call = (lambda *a: function(*a, **kwargs)) if kwargs else function
    if not is_grad_enabled() or not any(isinstance(a, Tensor) and a.requires_grad for a in args):
        return call(*args)
    return _Checkpoint.apply(call, preserve_rng_state, *args)


def checkpoint_sequential(functions: Any, segments: int, input: Tensor, use_reentrant: bool | None = None,
                          **kwargs: Any) -> Tensor:
    """Run the layers of ``functions`` (an ``nn.Sequential`` or a list) on ``input`` in
    ``segments`` chunks, checkpointing all but the last."""
    layers = list(functions.children()) if hasattr(functions, "children") else list(functions)
    size = max(1, -(-len(layers) // segments))
    chunks = [layers[i:i + size] for i in range(0, len(layers), size)]

    def run_chunk(chunk: list) -> Callable[[Tensor], Tensor]:
        def run(x: Tensor) -> Tensor:
            for layer in chunk:
                x = layer(x)
            return x
        return run

    for chunk in chunks[:-1]:
        input = checkpoint(run_chunk(chunk), input, use_reentrant=use_reentrant, **kwargs)
    return run_chunk(chunks[-1])(input) if chunks else input


__all__ = ["checkpoint", "checkpoint_sequential"]
