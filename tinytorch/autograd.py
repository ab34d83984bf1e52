"""Layer 3: the Tensor, the Function (op) base class and reverse-mode automatic differentiation.

A :class:`Tensor` wraps an :class:`~tinytorch.ndarray.NDArray` (``t._data``) and, when it was
computed from tensors that require grad, remembers the :class:`Function` node that made it
(``t.grad_fn``). Those nodes form the graph: each node keeps its ``inputs``.

``backward`` is two steps, as in micrograd:

1. a topological sort of the nodes reachable from the output (iterative, so a chain of
   100,000 ops needs no recursion), and
2. one pass over the nodes from the output back to the leaves, calling each node's
   ``backward`` (the chain rule) and summing the gradients that reach the same tensor.

A node's ``backward`` is written with Tensor ops, so with ``create_graph=True`` the backward
pass is itself recorded and can be differentiated again (higher-order gradients).

Gradients of broadcast inputs are reduced back to the input's shape in exactly one place,
:func:`_unbroadcast`, called by the engine: no op's ``backward`` has to think about it.

>>> import tinytorch as tt
>>> x = tt.tensor([1.0, 2.0, 3.0], requires_grad=True, device="numpy")
>>> (x * x).sum().backward()
>>> x.grad
tensor([2., 4., 6.], device='numpy')
"""

from __future__ import annotations

import functools
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from .ndarray import NDArray
from .ndarray.dtypes import DType, bool_, float32, float64, int64
from .ndarray.strides import is_compact

_grad_enabled = True  # the grad-mode context: the only global state of this layer
# the builtins, for annotations inside Tensor (whose .bool() and .float() methods shadow them there)
_bool = bool
_float = float


# --- grad mode -----------------------------------------------------------------------------------
def is_grad_enabled() -> bool:
    """True when new operations are recorded for backward."""
    return _grad_enabled


def _set_grad_enabled(mode: bool) -> bool:
    global _grad_enabled
    prev, _grad_enabled = _grad_enabled, bool(mode)
    return prev


class _GradMode:
    """A context manager that is also a decorator; subclasses choose the mode."""

    mode = True

    def __enter__(self) -> None:
        self._prev = _set_grad_enabled(self.mode)

    def __exit__(self, *exc: Any) -> None:
        _set_grad_enabled(self._prev)

    def __call__(self, fn: Callable) -> Callable:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with type(self)():
                return fn(*args, **kwargs)
        return wrapper


class no_grad(_GradMode):
    """Do not record operations: results do not require grad (``with tt.no_grad():`` or ``@tt.no_grad()``)."""

    mode = False


class enable_grad(_GradMode):
    """Record operations again inside a ``no_grad`` region."""

    mode = True


class set_grad_enabled(_GradMode):
    """Set grad mode to ``mode``: as a function call, or as a context manager for a region."""

    def __init__(self, mode: bool):
        self.mode = bool(mode)
        self._prev = _set_grad_enabled(self.mode)  # like PyTorch, takes effect immediately

    def __enter__(self) -> None:
        pass

    def __call__(self, fn: Callable) -> Callable:
        _set_grad_enabled(self._prev)
        mode = self.mode

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with set_grad_enabled(mode):
                return fn(*args, **kwargs)
        return wrapper


# --- Function: one node of the graph ---------------------------------------------------------------
class Function:
    """An op: ``forward`` computes on NDArrays, ``backward`` maps the output's gradient to the
    inputs' gradients using Tensor ops.

    Subclasses implement ``forward(self, *arrays, **params) -> NDArray`` and
    ``backward(self, grad) -> Tensor | tuple``, one gradient (or ``None``) per positional input.
    ``Op.apply(*inputs, **params)`` runs one: positional inputs are Tensors or Python scalars
    (forward sees NDArrays and scalars); keyword params are passed to ``forward`` unchanged.
    The instance is the graph node (made with no arguments by ``apply``), so ``forward`` may
    save what ``backward`` needs on ``self``.

    In ``backward``, ``self.inputs`` are the input Tensors, ``self.needs_input_grad[i]`` says
    whether input i wants a gradient (skip the work when not), and :meth:`output` is the
    result of ``forward`` as a differentiable Tensor. Gradients may have the shape of the
    *output* where the op broadcast its inputs: the engine sums them back.
    """

    inputs: Any  # the tuple of inputs; None once the graph is freed
    needs_input_grad: tuple[bool, ...]
    out: NDArray  # set by the forward of ops whose backward uses :meth:`output`

    def forward(self, *args: Any, **params: Any) -> NDArray:
        raise NotImplementedError(f"{type(self).__name__}.forward is not implemented")

    def backward(self, grad: "Tensor") -> Any:
        raise NotImplementedError(f"{type(self).__name__}.backward is not implemented")

    @classmethod
    def apply(cls, *args: Any, **params: Any) -> "Tensor":
        """Run the op on ``args``; record it in the graph if grad mode is on and an input
        requires grad. Only floating-point results can require grad."""
        node = cls()
        out = node.forward(*[a._data if isinstance(a, Tensor) else a for a in args], **params)
        if _grad_enabled and out.dtype.is_floating_point:
            needs = tuple([isinstance(a, Tensor) and a.requires_grad for a in args])
            if True in needs:
                node.inputs, node.needs_input_grad = args, needs
                return Tensor._make(out, True, node)
        return Tensor._make(out, False, None)

    def output(self) -> "Tensor":
        """The array ``forward`` saved as ``self.out``, as a Tensor whose ``grad_fn`` is this node.

        A ``backward`` that uses its own result (``exp``, ``tanh``, ``sigmoid``…) must use
        this rather than a constant, so that the gradient it builds stays differentiable.
        """
        return Tensor._make(self.out, True, self)

    def release(self) -> None:
        """Drop the inputs and saved arrays (the graph is freed after backward)."""
        self.__dict__.clear()
        self.inputs = None

    def name(self) -> str:
        """PyTorch's name for this node, e.g. ``MulBackward0``."""
        return f"{type(self).__name__}Backward0"

    def __repr__(self) -> str:
        return f"<{self.name()} object at {id(self):#x}>"


# --- Tensor ----------------------------------------------------------------------------------------------
class Tensor:
    """A multi-dimensional array that records the operations made on it for autograd.

    ``Tensor(data)`` wraps an NDArray or shares a Tensor's storage (no copy); other data
    (lists, numpy arrays, scalars) is copied as by :func:`tinytorch.tensor`.
    """

    __slots__ = ("_data", "requires_grad", "grad", "_ctx", "__weakref__")
    __array_priority__ = 1000  # numpy scalars on the left defer to our reflected operators

    _data: NDArray
    requires_grad: bool
    grad: "Tensor | None"
    _ctx: Function | None

    def __init__(self, data: Any, dtype: Any = None, device: Any = None, requires_grad: _bool = False):
        if isinstance(data, Tensor):
            data = data._data
        if not isinstance(data, NDArray) or dtype is not None or device is not None:
            data = _ops.tensor(data, dtype=dtype, device=device)._data
        self._data, self.grad, self._ctx = data, None, None
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    @staticmethod
    def _make(data: NDArray, requires_grad: _bool, ctx: Function | None) -> "Tensor":
        """The fast constructor used by every op."""
        t = object.__new__(Tensor)
        t._data, t.requires_grad, t.grad, t._ctx = data, requires_grad, None, ctx
        return t

    # --- attributes ----------------------------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, ...]:
        return self._data.shape

    @property
    def dtype(self) -> DType:
        return self._data.dtype

    @property
    def device(self) -> Any:
        return self._data.device

    @property
    def ndim(self) -> int:
        return len(self._data.shape)

    def dim(self) -> int:
        return len(self._data.shape)

    def size(self, dim: int | None = None) -> Any:
        """The shape, or the length of dimension ``dim``."""
        if dim is None:
            return self._data.shape
        if not self._data.shape:
            raise IndexError(f"dimension specified as {dim} but tensor has no dimensions")
        return self._data.shape[_ops.normalize_dim(dim, self.ndim)]

    def numel(self) -> int:
        return self._data.size

    def is_floating_point(self) -> _bool:
        return self._data.dtype.is_floating_point

    def is_contiguous(self) -> _bool:
        """True when the elements lie in row-major order with no gaps (the view may start anywhere)."""
        return is_compact(self._data.shape, self._data.strides)

    @property
    def grad_fn(self) -> Function | None:
        """The node that computed this tensor (None for leaves)."""
        return self._ctx

    @property
    def is_leaf(self) -> _bool:
        """True for tensors the user made (and every tensor that does not require grad)."""
        return self._ctx is None

    @property
    def data(self) -> "Tensor":
        """A tensor sharing this one's storage, detached from the graph."""
        return Tensor._make(self._data, False, None)

    @data.setter
    def data(self, value: "Tensor") -> None:
        if not isinstance(value, Tensor):
            raise TypeError(f"data must be a Tensor, got {type(value).__name__}")
        self._data = value._data

    def requires_grad_(self, requires_grad: _bool = True) -> "Tensor":
        """Set ``requires_grad`` in place (leaves only; floating-point dtypes only)."""
        if requires_grad and not self._data.dtype.is_floating_point:
            raise RuntimeError("Only Tensors of floating point and complex dtype can require gradients")
        if self._ctx is not None and not requires_grad:
            raise RuntimeError("you can only change requires_grad flags of leaf variables. If you want to use a "
                               "computed variable in a subgraph that doesn't require differentiation use "
                               "var_no_grad = var.detach().")
        self.requires_grad = bool(requires_grad)
        return self

    def detach(self) -> "Tensor":
        """A new leaf sharing this tensor's storage, cut from the graph."""
        return Tensor._make(self._data, False, None)

    # --- conversion --------------------------------------------------------------------------------
    def numpy(self) -> np.ndarray:
        """A numpy copy of the values (PyTorch shares memory; tinytorch copies)."""
        if self.requires_grad:
            raise RuntimeError("Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() instead.")
        return self._data.numpy()

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        a = self._data.numpy()
        return a if dtype is None else a.astype(dtype)

    def item(self) -> Any:
        if self._data.size != 1:
            raise RuntimeError(f"a Tensor with {self._data.size} elements cannot be converted to Scalar")
        return self._data.item()

    def tolist(self) -> Any:
        return self._data.tolist()

    def __bool__(self) -> _bool:
        if self._data.size != 1:
            raise RuntimeError("Boolean value of Tensor with more than one value is ambiguous")
        return bool(self._data.item())

    def __float__(self) -> _float: return float(self.item())
    def __int__(self) -> int: return int(self.item())

    def __index__(self) -> int:
        if self._data.dtype.is_floating_point or self._data.size != 1:
            raise TypeError("only integer tensors of a single element can be converted to an index")
        return int(self._data.item())

    def __len__(self) -> int:
        if not self._data.shape:
            raise TypeError("len() of a 0-d tensor")
        return self._data.shape[0]

    def __iter__(self) -> Iterator["Tensor"]:
        if not self._data.shape:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self._data.shape[0]))

    def __format__(self, spec: str) -> str:
        if self.ndim == 0 and spec:
            return format(self.item(), spec)
        return format(repr(self), spec)

    def __repr__(self) -> str:
        return _ops.tensor_repr(self)

    __hash__ = object.__hash__  # tensors are dict keys by identity (``==`` is elementwise)

    def __deepcopy__(self, memo: dict) -> "Tensor":
        if self._ctx is not None:
            raise RuntimeError("Only Tensors created explicitly by the user (graph leaves) support the deepcopy "
                               "protocol at the moment.")
        new = object.__new__(type(self))
        new._data, new.requires_grad, new._ctx = self._data.copy(), self.requires_grad, None
        new.grad = None if self.grad is None else self.grad.__deepcopy__(memo)
        if hasattr(self, "__dict__"):  # subclasses such as nn.Parameter
            import copy
            new.__dict__.update(copy.deepcopy(self.__dict__, memo))
        memo[id(self)] = new
        return new

    # --- devices and dtypes ------------------------------------------------------------------------
    def to(self, *args: Any, dtype: Any = None, device: Any = None) -> "Tensor":
        """This tensor on another device and/or with another dtype (itself if nothing changes).

        ``t.to("cpu")``, ``t.to(tt.float64)``, ``t.to("cpu", tt.float64)``, ``t.to(other)``.
        """
        for a in args:
            if isinstance(a, Tensor):
                device, dtype = a.device, a.dtype
            elif isinstance(a, DType) or a in (float, int, bool):
                dtype = a
            else:
                device = a
        return _ops.to(self, device=device, dtype=dtype)

    def float(self) -> "Tensor": return _ops.to(self, dtype=float32)
    def double(self) -> "Tensor": return _ops.to(self, dtype=float64)
    def long(self) -> "Tensor": return _ops.to(self, dtype=int64)
    def bool(self) -> "Tensor": return _ops.to(self, dtype=bool_)
    def cpu(self) -> "Tensor": return _ops.to(self, device="cpu")
    def cuda(self) -> "Tensor": return _ops.to(self, device="cuda")
    def type_as(self, other: "Tensor") -> "Tensor": return _ops.to(self, dtype=other.dtype)
    def clone(self) -> "Tensor": return _ops.clone(self)
    def contiguous(self) -> "Tensor": return _ops.contiguous(self)

    # --- autograd ------------------------------------------------------------------------------------
    def backward(self, gradient: "Tensor | None" = None, retain_graph: _bool | None = None,
                 create_graph: _bool = False, inputs: Sequence["Tensor"] | None = None) -> None:
        """Accumulate d(self)/d(leaf) into ``leaf.grad`` for every leaf that requires grad.

        ``gradient`` is d(something)/d(self); it may be omitted for a one-element tensor.
        The graph is freed afterwards unless ``retain_graph`` (default: ``create_graph``).
        """
        backward([self], None if gradient is None else [gradient], retain_graph, create_graph, inputs)

    # --- operators --------------------------------------------------------------------------------
    def __add__(self, o: Any) -> "Tensor": return _ops.add(self, o)
    def __radd__(self, o: Any) -> "Tensor": return _ops.add(o, self)
    def __sub__(self, o: Any) -> "Tensor": return _ops.sub(self, o)
    def __rsub__(self, o: Any) -> "Tensor": return _ops.sub(o, self)
    def __mul__(self, o: Any) -> "Tensor": return _ops.mul(self, o)
    def __rmul__(self, o: Any) -> "Tensor": return _ops.mul(o, self)
    def __truediv__(self, o: Any) -> "Tensor": return _ops.div(self, o)
    def __rtruediv__(self, o: Any) -> "Tensor": return _ops.div(o, self)
    def __pow__(self, o: Any) -> "Tensor": return _ops.pow(self, o)
    def __rpow__(self, o: Any) -> "Tensor": return _ops.pow(o, self)
    def __matmul__(self, o: Any) -> "Tensor": return _ops.matmul(self, o)
    def __rmatmul__(self, o: Any) -> "Tensor": return _ops.matmul(o, self)
    def __neg__(self) -> "Tensor": return _ops.neg(self)
    def __pos__(self) -> "Tensor": return self
    def __abs__(self) -> "Tensor": return _ops.abs(self)
    def __eq__(self, o: Any) -> "Tensor": return _ops.eq(self, o)  # type: ignore[override]
    def __ne__(self, o: Any) -> "Tensor": return _ops.ne(self, o)  # type: ignore[override]
    def __lt__(self, o: Any) -> "Tensor": return _ops.lt(self, o)
    def __le__(self, o: Any) -> "Tensor": return _ops.le(self, o)
    def __gt__(self, o: Any) -> "Tensor": return _ops.gt(self, o)
    def __ge__(self, o: Any) -> "Tensor": return _ops.ge(self, o)
    def __invert__(self) -> "Tensor": return _ops.logical_not(self)
    def __and__(self, o: Any) -> "Tensor": return _ops.logical_and(self, o)
    def __or__(self, o: Any) -> "Tensor": return _ops.logical_or(self, o)
    def __getitem__(self, key: Any) -> "Tensor": return _ops.getitem(self, key)
    def __setitem__(self, key: Any, value: Any) -> None: _ops.setitem(self, key, value)

    # in place: only on tensors that need no grad (or inside no_grad), as in PyTorch
    def __iadd__(self, o: Any) -> "Tensor": return _ops.inplace(self, _ops.add, o)
    def __isub__(self, o: Any) -> "Tensor": return _ops.inplace(self, _ops.sub, o)
    def __imul__(self, o: Any) -> "Tensor": return _ops.inplace(self, _ops.mul, o)
    def __itruediv__(self, o: Any) -> "Tensor": return _ops.inplace(self, _ops.div, o)
    def add_(self, o: Any, alpha: Any = 1) -> "Tensor": return _ops.inplace(self, _ops.add, o, alpha)
    def sub_(self, o: Any, alpha: Any = 1) -> "Tensor": return _ops.inplace(self, _ops.sub, o, alpha)
    def mul_(self, o: Any) -> "Tensor": return _ops.inplace(self, _ops.mul, o)
    def div_(self, o: Any) -> "Tensor": return _ops.inplace(self, _ops.div, o)
    def copy_(self, src: "Tensor") -> "Tensor": return _ops.inplace(self, _ops.replace, src)
    def fill_(self, value: Any) -> "Tensor": return _ops.inplace(self, _ops.replace, value)
    def zero_(self) -> "Tensor": return _ops.inplace(self, _ops.replace, 0)
    def clamp_(self, min: Any = None, max: Any = None) -> "Tensor": return _ops.inplace(self, _ops.clamp, min, max)
    def uniform_(self, a: _float = 0.0, b: _float = 1.0, generator: Any = None) -> "Tensor":
        return _ops.inplace(self, _ops.replace, _random.uniform(self.shape, a, b, self.dtype, generator, self.device))
    def normal_(self, mean: _float = 0.0, std: _float = 1.0, generator: Any = None) -> "Tensor":
        return _ops.inplace(self, _ops.replace, _random.normal(self.shape, mean, std, self.dtype, generator,
                                                               self.device))

    # --- elementwise -----------------------------------------------------------------------------
    def add(self, o: Any, alpha: Any = 1) -> "Tensor": return _ops.add(self, o, alpha=alpha)
    def sub(self, o: Any, alpha: Any = 1) -> "Tensor": return _ops.sub(self, o, alpha=alpha)
    def mul(self, o: Any) -> "Tensor": return _ops.mul(self, o)
    def div(self, o: Any) -> "Tensor": return _ops.div(self, o)
    def pow(self, o: Any) -> "Tensor": return _ops.pow(self, o)
    def neg(self) -> "Tensor": return _ops.neg(self)
    def exp(self) -> "Tensor": return _ops.exp(self)
    def log(self) -> "Tensor": return _ops.log(self)
    def sqrt(self) -> "Tensor": return _ops.sqrt(self)
    def rsqrt(self) -> "Tensor": return _ops.rsqrt(self)
    def square(self) -> "Tensor": return _ops.square(self)
    def abs(self) -> "Tensor": return _ops.abs(self)
    def sign(self) -> "Tensor": return _ops.sign(self)
    def sin(self) -> "Tensor": return _ops.sin(self)
    def cos(self) -> "Tensor": return _ops.cos(self)
    def tanh(self) -> "Tensor": return _ops.tanh(self)
    def sigmoid(self) -> "Tensor": return _ops.sigmoid(self)
    def relu(self) -> "Tensor": return _ops.relu(self)
    def erf(self) -> "Tensor": return _ops.erf(self)
    def clamp(self, min: Any = None, max: Any = None) -> "Tensor": return _ops.clamp(self, min, max)
    clip = clamp
    def maximum(self, o: "Tensor") -> "Tensor": return _ops.maximum(self, o)
    def minimum(self, o: "Tensor") -> "Tensor": return _ops.minimum(self, o)
    def where(self, cond: "Tensor", o: Any) -> "Tensor": return _ops.where(cond, self, o)
    def masked_fill(self, mask: "Tensor", value: Any) -> "Tensor": return _ops.masked_fill(self, mask, value)
    def eq(self, o: Any) -> "Tensor": return _ops.eq(self, o)
    def ne(self, o: Any) -> "Tensor": return _ops.ne(self, o)
    def lt(self, o: Any) -> "Tensor": return _ops.lt(self, o)
    def le(self, o: Any) -> "Tensor": return _ops.le(self, o)
    def gt(self, o: Any) -> "Tensor": return _ops.gt(self, o)
    def ge(self, o: Any) -> "Tensor": return _ops.ge(self, o)
    def isnan(self) -> "Tensor": return _ops.isnan(self)
    def isinf(self) -> "Tensor": return _ops.isinf(self)

    def isclose(self, other: Any, rtol: _float = 1e-05, atol: _float = 1e-08, equal_nan: _bool = False) -> "Tensor":
        return _ops.isclose(self, other, rtol, atol, equal_nan)

    def allclose(self, other: Any, rtol: _float = 1e-05, atol: _float = 1e-08, equal_nan: _bool = False) -> _bool:
        return _ops.allclose(self, other, rtol, atol, equal_nan)
    def logical_not(self) -> "Tensor": return _ops.logical_not(self)
    def logical_and(self, o: "Tensor") -> "Tensor": return _ops.logical_and(self, o)
    def logical_or(self, o: "Tensor") -> "Tensor": return _ops.logical_or(self, o)

    # --- reductions ----------------------------------------------------------------------------------
    def sum(self, dim: Any = None, keepdim: _bool = False) -> "Tensor": return _ops.sum(self, dim, keepdim)
    def mean(self, dim: Any = None, keepdim: _bool = False) -> "Tensor": return _ops.mean(self, dim, keepdim)
    def var(self, dim: Any = None, unbiased: Any = None, keepdim: _bool = False, *,
            correction: Any = None) -> "Tensor":
        return _ops.var(self, dim, unbiased, keepdim, correction=correction)
    def std(self, dim: Any = None, unbiased: Any = None, keepdim: _bool = False, *,
            correction: Any = None) -> "Tensor":
        return _ops.std(self, dim, unbiased, keepdim, correction=correction)
    def max(self, dim: Any = None, keepdim: _bool = False) -> Any: return _ops.max(self, dim, keepdim)
    def min(self, dim: Any = None, keepdim: _bool = False) -> Any: return _ops.min(self, dim, keepdim)
    def amax(self, dim: Any = (), keepdim: _bool = False) -> "Tensor": return _ops.amax(self, dim, keepdim)
    def amin(self, dim: Any = (), keepdim: _bool = False) -> "Tensor": return _ops.amin(self, dim, keepdim)
    def argmax(self, dim: int | None = None, keepdim: _bool = False) -> "Tensor": return _ops.argmax(self, dim, keepdim)
    def argmin(self, dim: int | None = None, keepdim: _bool = False) -> "Tensor": return _ops.argmin(self, dim, keepdim)
    def all(self, dim: Any = None, keepdim: _bool = False) -> "Tensor": return _ops.all(self, dim, keepdim)
    def any(self, dim: Any = None, keepdim: _bool = False) -> "Tensor": return _ops.any(self, dim, keepdim)
    def logsumexp(self, dim: Any, keepdim: _bool = False) -> "Tensor": return _ops.logsumexp(self, dim, keepdim)
    def softmax(self, dim: int) -> "Tensor": return _ops.softmax(self, dim)
    def log_softmax(self, dim: int) -> "Tensor": return _ops.log_softmax(self, dim)

    # --- movement ------------------------------------------------------------------------------------
    def reshape(self, *shape: Any) -> "Tensor": return _ops.reshape(self, *shape)
    def view(self, *shape: Any) -> "Tensor": return _ops.view(self, *shape)
    def view_as(self, other: "Tensor") -> "Tensor": return _ops.view(self, other.shape)
    def reshape_as(self, other: "Tensor") -> "Tensor": return _ops.reshape(self, other.shape)
    def permute(self, *dims: Any) -> "Tensor": return _ops.permute(self, *dims)
    def transpose(self, dim0: int, dim1: int) -> "Tensor": return _ops.transpose(self, dim0, dim1)
    def t(self) -> "Tensor": return _ops.t(self)
    def swapaxes(self, dim0: int, dim1: int) -> "Tensor": return _ops.transpose(self, dim0, dim1)
    @property
    def T(self) -> "Tensor":
        if self._data.ndim == 2:  # the common case (a weight in F.linear): straight to the op
            return _ops.Permute.apply(self, dims=(1, 0))
        return _ops.permute(self, tuple(reversed(range(self.ndim))))
    @property
    def mT(self) -> "Tensor": return _ops.transpose(self, -2, -1)
    def expand(self, *sizes: Any) -> "Tensor": return _ops.expand(self, *sizes)
    def expand_as(self, other: "Tensor") -> "Tensor": return _ops.expand(self, other.shape)
    def broadcast_to(self, shape: Sequence[int]) -> "Tensor": return _ops.broadcast_to(self, shape)
    def flip(self, *dims: Any) -> "Tensor": return _ops.flip(self, *dims)
    def squeeze(self, dim: Any = None) -> "Tensor": return _ops.squeeze(self, dim)
    def unsqueeze(self, dim: int) -> "Tensor": return _ops.unsqueeze(self, dim)
    def flatten(self, start_dim: int = 0, end_dim: int = -1) -> "Tensor": return _ops.flatten(self, start_dim, end_dim)
    def split(self, split_size: Any, dim: int = 0) -> tuple: return _ops.split(self, split_size, dim)
    def chunk(self, chunks: int, dim: int = 0) -> tuple: return _ops.chunk(self, chunks, dim)
    def gather(self, dim: int, index: "Tensor") -> "Tensor": return _ops.gather(self, dim, index)
    def matmul(self, o: "Tensor") -> "Tensor": return _ops.matmul(self, o)
    def tril(self, diagonal: int = 0) -> "Tensor": return _ops.tril(self, diagonal)
    def triu(self, diagonal: int = 0) -> "Tensor": return _ops.triu(self, diagonal)


# --- the backward pass -----------------------------------------------------------------------------
_FREED = ("Trying to backward through the graph a second time (or directly access saved tensors after they "
          "have already been freed). Saved intermediate values of the graph are freed when you call .backward() "
          "or autograd.grad(). Specify retain_graph=True if you need to backward through the graph a second time "
          "or if you need to access saved tensors after calling backward.")


def _topo_order(roots: list[Function]) -> list[Function]:
    """Every node reachable from ``roots``, each after all the nodes that made its inputs.

    An iterative depth-first search: a node is pushed once to expand its inputs and once
    more to be emitted after them, so no recursion limit applies to deep graphs.
    """
    order: list[Function] = []
    seen: set[int] = set()
    stack: list[tuple[Function, bool]] = [(r, False) for r in roots]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            order.append(node)
            continue
        if id(node) in seen:
            continue
        seen.add(id(node))
        if node.inputs is None:
            raise RuntimeError(_FREED)
        stack.append((node, True))
        for t in node.inputs:
            if isinstance(t, Tensor) and t._ctx is not None and id(t._ctx) not in seen:
                stack.append((t._ctx, False))
    return order


def _check_grad_shape(grad: Tensor, shape: tuple[int, ...], node: Function, index: int) -> None:
    """Raise PyTorch's error when a backward returned a gradient that does not broadcast to ``shape``."""
    lead = grad.ndim - len(shape)
    if lead < 0 or any(n not in (1, m) for n, m in zip(shape, grad.shape[lead:])):
        raise RuntimeError(f"Function {node.name()} returned an invalid gradient at index {index} - got "
                           f"{list(grad.shape)} but expected shape compatible with {list(shape)}")


def _unbroadcast(grad: Tensor, shape: tuple[int, ...]) -> Tensor:
    """Sum ``grad`` (the gradient of a broadcast result) down to ``shape``, the input's shape.

    Broadcasting copied the input along the leading axes it lacked and along its size-1 axes,
    so its gradient is the sum over those axes. This is the one place where that happens.
    (Lab 5 asks for exactly this function, with this signature, and plugs it into the engine.)
    """
    lead = grad.ndim - len(shape)
    ones = tuple(lead + i for i, n in enumerate(shape) if n == 1 and grad.shape[lead + i] != 1)
    if not ones:  # only leading axes were added (a bias, say): one sum gives the shape
        return _ops.sum(grad, tuple(range(lead))) if lead else grad
    grad = _ops.sum(grad, tuple(range(lead)) + ones, keepdim=True)
    return _ops.reshape(grad, shape) if lead else grad


def _run_backward(roots: Sequence[Tensor], root_grads: Sequence[Tensor], retain_graph: bool, create_graph: bool,
                  targets: Sequence[Tensor] | None = None) -> dict[int, tuple[Tensor, Tensor]]:
    """The engine. Propagates ``root_grads`` from ``roots`` back through the graph.

    Returns ``{id(t): (t, gradient)}`` for every leaf that received a gradient and, when
    ``targets`` is given, for each target (leaf or not). With ``targets``, nodes from which
    no target can be reached are skipped.
    """
    order = _topo_order([r._ctx for r in roots if r._ctx is not None])
    node_grads: dict[int, Tensor] = {}  # id(node) -> gradient of that node's output
    leaf_grads: dict[int, tuple[Tensor, Tensor]] = {}  # id(leaf) -> (leaf, its gradient)
    wanted = None if targets is None else _nodes_reaching(order, targets)
    seen_grads: dict[int, Tensor] = {}
    prev = _set_grad_enabled(create_graph)
    try:
        for r, g in zip(roots, root_grads):
            _accumulate(node_grads, leaf_grads, r, g)
        for node in reversed(order):
            if id(node) not in node_grads or (wanted is not None and id(node) not in wanted):
                continue
            g = node_grads.pop(id(node))
            seen_grads[id(node)] = g
            grads = node.backward(g)
            if not isinstance(grads, tuple):
                grads = (grads,)
            if len(grads) != len(node.inputs):
                raise RuntimeError(f"function {node.name()} returned an incorrect number of gradients "
                                   f"(expected {len(node.inputs)}, got {len(grads)})")
            for i, (t, need, tg) in enumerate(zip(node.inputs, node.needs_input_grad, grads)):
                if need and tg is not None:
                    if not isinstance(tg, Tensor):
                        raise TypeError(f"function {node.name()} returned a {type(tg).__name__} as gradient {i}; "
                                        f"backward must return Tensors (or None)")
                    if tg._data.shape != t._data.shape:
                        _check_grad_shape(tg, t._data.shape, node, i)
                        tg = _unbroadcast(tg, t._data.shape)
                    if tg._data.dtype is not t._data.dtype:
                        tg = _ops.to(tg, dtype=t._data.dtype)
                    _accumulate(node_grads, leaf_grads, t, tg)
            if not retain_graph:
                node.release()
    finally:
        _set_grad_enabled(prev)
    for t in targets or ():  # a non-leaf target's gradient is the one its node received
        if t._ctx is not None and id(t._ctx) in seen_grads:
            leaf_grads[id(t)] = (t, seen_grads[id(t._ctx)])
    return leaf_grads


def _accumulate(node_grads: dict, leaf_grads: dict, t: Tensor, g: Tensor) -> None:
    """Add ``g`` to the gradient collected for ``t``: per node for results, per tensor for leaves."""
    if t._ctx is not None:
        key = id(t._ctx)
        node_grads[key] = node_grads[key] + g if key in node_grads else g
    else:
        key = id(t)
        leaf_grads[key] = (t, leaf_grads[key][1] + g) if key in leaf_grads else (t, g)


def _nodes_reaching(order: list[Function], targets: Sequence[Tensor]) -> set[int]:
    """The ids of the nodes in ``order`` from which some target tensor can be reached."""
    target_ids = {id(t) for t in targets}
    wanted = {id(t._ctx) for t in targets if t._ctx is not None}
    for node in order:  # inputs come before the nodes that use them
        for t in node.inputs:  # type: ignore[union-attr]
            if isinstance(t, Tensor) and (id(t) in target_ids or id(t._ctx) in wanted):
                wanted.add(id(node))
                break
    return wanted


def _root_grads(outputs: Sequence[Tensor], grad_outputs: Sequence[Any] | None) -> list[Tensor]:
    grads = []
    for i, out in enumerate(outputs):
        if not isinstance(out, Tensor):
            raise TypeError(f"expected a Tensor as output {i}, got {type(out).__name__}")
        if not out.requires_grad:
            raise RuntimeError(f"element {i} of tensors does not require grad and does not have a grad_fn")
        g = None if grad_outputs is None else grad_outputs[i]
        if g is None:
            if out.numel() != 1:
                raise RuntimeError(f"grad can be implicitly created only for scalar outputs "
                                   f"(output {i} has shape {out.shape})")
            g = _ops.ones_like(out)
        elif not isinstance(g, Tensor):
            g = _ops.full_like(out, g)
        elif g.shape != out.shape:
            raise RuntimeError(f"Mismatch in shape: grad_output[{i}] has a shape of {g.shape} and output[{i}] "
                               f"has a shape of {out.shape}.")
        grads.append(g)
    return grads


def _as_list(x: Any) -> list:
    return list(x) if isinstance(x, (list, tuple)) else [x]


def backward(tensors: Any, grad_tensors: Any = None, retain_graph: bool | None = None, create_graph: bool = False,
             inputs: Any = None) -> None:
    """Accumulate the gradients of ``tensors`` into ``.grad`` of the leaves (``tt.autograd.backward``).

    Like PyTorch: the first gradient is stored, later ones are added in place; with
    ``inputs`` only those tensors (leaves or not) receive ``.grad``.
    """
    tensors = _as_list(tensors)
    root_grads = _root_grads(tensors, None if grad_tensors is None else _as_list(grad_tensors))
    targets = None if inputs is None else _as_list(inputs)
    if retain_graph is None:
        retain_graph = create_graph
    found = _run_backward(tensors, root_grads, retain_graph, create_graph, targets)
    if targets is not None:
        found = {id(t): found[id(t)] for t in targets if id(t) in found}
    for t, g in found.values():
        if create_graph:
            t.grad = g if t.grad is None else t.grad + g
        elif t.grad is None:  # .grad owns fresh memory, detached from any graph
            t.grad = Tensor._make(g._data.copy(), False, None)
        else:
            with no_grad():
                t.grad += g


def grad(outputs: Any, inputs: Any, grad_outputs: Any = None, retain_graph: bool | None = None,
         create_graph: bool = False, allow_unused: bool | None = None) -> tuple[Tensor | None, ...]:
    """The gradients of ``outputs`` with respect to each of ``inputs``, returned (not accumulated).

    With ``create_graph=True`` the returned gradients are themselves differentiable.

    >>> import tinytorch as tt
    >>> x = tt.tensor(2.0, requires_grad=True, device="numpy")
    >>> (dy,) = tt.autograd.grad(x ** 3, x, create_graph=True)
    >>> tt.autograd.grad(dy, x)[0].item()
    12.0
    """
    outputs, inputs = _as_list(outputs), _as_list(inputs)
    for i, t in enumerate(inputs):
        if not isinstance(t, Tensor):
            raise TypeError(f"expected a Tensor as input {i}, got {type(t).__name__}")
        if not t.requires_grad:
            raise RuntimeError("One of the differentiated Tensors does not require grad")
    root_grads = _root_grads(outputs, None if grad_outputs is None else _as_list(grad_outputs))
    if retain_graph is None:
        retain_graph = create_graph
    found = _run_backward(outputs, root_grads, retain_graph, create_graph, inputs)
    result = []
    for t in inputs:
        g = found[id(t)][1] if id(t) in found else None
        if g is None and not allow_unused:
            raise RuntimeError("One of the differentiated Tensors appears to not have been used in the graph. "
                               "Set allow_unused=True if this is the desired behavior.")
        result.append(g if g is None or create_graph else g.detach())
    return tuple(result)


from . import ops as _ops  # noqa: E402  (the ops build on Tensor; Tensor's methods call the ops)
from . import random as _random  # noqa: E402

__all__ = ["Tensor", "Function", "no_grad", "enable_grad", "set_grad_enabled", "is_grad_enabled", "grad",
           "backward"]
