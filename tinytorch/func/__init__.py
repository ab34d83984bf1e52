"""``tinytorch.func``: function transforms, with ``torch.func``'s names and semantics.

A transform takes a function and returns a function: :func:`grad` (and :func:`grad_and_value`)
computes gradients, :func:`vjp` and :func:`jvp` reverse- and forward-mode products,
:func:`jacrev`, :func:`jacfwd` and :func:`hessian` whole Jacobians and Hessians, and
:func:`vmap` maps a function written for one example over a batch. They compose --
``vmap(grad(loss), in_dims=(None, 0, 0))`` gives per-sample gradients -- and
:func:`functional_call` turns a module into a function of its weights so that they apply to
models. The differentiating transforms run on the autograd engine; ``vmap`` rewrites every
op through batching rules (:mod:`tinytorch.func.batching`), and :func:`fallback_ops` lists the
ops that had none and ran in a loop.

>>> import tinytorch as tt
>>> x = tt.tensor([[1.0, 2.0], [3.0, 4.0]], device="numpy")
>>> vmap(grad(lambda row: (row ** 2).sum()))(x).tolist()
[[2.0, 4.0], [6.0, 8.0]]
"""

from ..nn.utils.stateless import functional_call
from .batching import BatchedTensor, fallback_ops, register_rule, remove_rule, reset_fallback_ops, vmap
from .modules import stack_module_state
from .transforms import grad, grad_and_value, hessian, jacfwd, jacrev, jvp, vjp

__all__ = ["grad", "grad_and_value", "vjp", "jvp", "jacrev", "jacfwd", "hessian", "vmap", "functional_call",
           "stack_module_state", "fallback_ops", "reset_fallback_ops", "register_rule", "remove_rule", "BatchedTensor"]
