"""``Parameter``: a Tensor that a Module registers as one of its learnable weights; ``Buffer``: one
it registers as state; ``UninitializedParameter``: the placeholder weight of a lazy layer."""

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


class UninitializedParameter(Parameter):
    """A parameter whose shape is not known yet: a lazy layer's (``nn.LazyLinear``) until its first
    call shows the input size. It holds no elements; :meth:`materialize` gives it its shape (the
    same object becomes an ordinary :class:`Parameter`, so an optimizer that already holds it
    sees the real weight)."""

    def __init__(self, requires_grad: bool = True, device: Any = None, dtype: Any = None):
        super().__init__(empty(0, device=device, dtype=dtype), requires_grad)

    def materialize(self, shape: tuple[int, ...], device: Any = None, dtype: Any = None) -> None:
        """Become a Parameter of ``shape`` (uninitialised values: the layer initialises them)."""
        self._data = empty(*shape, device=device or self.device, dtype=dtype or self.dtype)._data
        self.__class__ = Parameter  # type: ignore[assignment]

    def __repr__(self) -> str:
        return "<UninitializedParameter>"


class Buffer(Tensor):
    """A tensor that a Module registers as a buffer when assigned as an attribute
    (``self.mean = Buffer(t)``, as ``register_buffer``); ``persistent=False`` keeps it out of
    ``state_dict()``. The module stores the tensor itself (sharing ``data``'s storage)."""

    def __init__(self, data: Tensor, *, persistent: bool = True):
        if not isinstance(data, Tensor):
            raise TypeError(f"Buffer expects a Tensor, got {type(data).__name__}")
        super().__init__(data.detach())
        self.persistent = persistent
