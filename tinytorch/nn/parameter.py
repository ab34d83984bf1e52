"""``Parameter``: a Tensor that a Module registers as one of its learnable weights."""

from __future__ import annotations

from typing import Any

from ..ops import empty
from ..tensor import Tensor


class Parameter(Tensor):
    """A leaf tensor that :class:`~tinytorch.nn.Module` picks up automatically when it is
    assigned as an attribute (``self.weight = Parameter(...)``), so it shows up in
    ``parameters()`` and ``state_dict()``.

    Args:
        data: the initial values (a tensor). Default: an empty tensor.
        requires_grad: whether autograd tracks it. Default: True.

    Examples::

        >>> p = Parameter(tt.zeros(2))
        >>> p.requires_grad, p.is_leaf
        (True, True)
    """

    def __init__(self, data: Any = None, requires_grad: bool = True):
        if data is None:
            data = empty(0)
        if not isinstance(data, Tensor):
            raise TypeError(f"Parameter expects a Tensor, got {type(data).__name__}")
        # Tensor(t) shares t's storage: the parameter is a fresh leaf over the same numbers.
        super().__init__(data.detach(), requires_grad=requires_grad)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()
