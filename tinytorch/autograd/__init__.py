"""``tinytorch.autograd``: reverse-mode automatic differentiation, as ``torch.autograd``.

* :mod:`.engine` -- the engine that runs the graph backwards (``backward``, ``grad``, and the
  pieces chapter 5 teaches: ``topo_order``, ``unbroadcast``);
* :mod:`.function` -- PyTorch's custom ``Function`` (static ``forward`` / ``backward`` with a
  ``ctx``), beside chapter 5's kind;
* :mod:`.functional` -- derivatives of Python functions: ``vjp``, ``jvp``, ``jacobian``,
  ``hessian``, ``vhp``, ``hvp``;
* :mod:`.gradcheck` -- ``gradcheck`` / ``gradgradcheck`` against finite differences.
"""

from . import functional
from .engine import (
    Tensor,
    backward,
    enable_grad,
    grad,
    inference_mode,
    is_grad_enabled,
    is_inference_mode_enabled,
    no_grad,
    set_grad_enabled,
    topo_order,
    unbroadcast,
)
from .function import Function, FunctionCtx, once_differentiable
from .gradcheck import GradcheckError, gradcheck, gradgradcheck

__all__ = ["Tensor", "Function", "FunctionCtx", "once_differentiable", "no_grad", "enable_grad", "set_grad_enabled",
           "is_grad_enabled", "inference_mode", "is_inference_mode_enabled", "grad", "backward", "topo_order",
           "unbroadcast", "functional", "gradcheck", "gradgradcheck", "GradcheckError"]
