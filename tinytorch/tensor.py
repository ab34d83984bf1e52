"""Layer 3: the Tensor, the Function (op) base class and grad mode -- the graph's data structures.

A :class:`Tensor` wraps an :class:`~tinytorch.ndarray.NDArray` (``t._data``) and, when it was
computed from tensors that require grad, remembers the :class:`Function` node that made it
(``t.grad_fn``). Those nodes form the graph: each node keeps its ``inputs``.

This module holds only what every op builds on. The ops (``tinytorch.ops``) sit above it and
give ``Tensor`` its op methods and operators through the op table
(:mod:`tinytorch.ops.table`); the engine that runs the graph backwards
(:mod:`tinytorch.autograd`) sits above the ops and gives ``Tensor`` its ``backward``. So
nothing here imports upwards, and a reader meets each layer before the one built on it.

>>> from tinytorch.ndarray import array
>>> t = Tensor(array([1.0, 2.0], device="numpy"), requires_grad=True)
>>> t.shape, t.requires_grad, t.is_leaf
((2,), True, True)
"""

from __future__ import annotations

import copy
import functools
import threading
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from .ndarray import NDArray, array, float32
from .ndarray import zeros as nd_zeros
from .ndarray.devices import Device
from .ndarray.dtypes import DType
from .ndarray.strides import is_compact
from .printing import format_tensor


# --- grad mode -----------------------------------------------------------------------------------
class _GradState(threading.local):
    """The grad-mode context, the only state of this layer: one per thread, as in PyTorch (a new
    thread starts with grad enabled, whatever the thread that started it had)."""

    enabled = True
    inference = False


_grad = _GradState()


def is_grad_enabled() -> bool:
    """True when new operations are recorded for backward (in this thread)."""
    return _grad.enabled


def _set_grad_enabled(mode: bool) -> bool:
    prev, _grad.enabled = _grad.enabled, bool(mode)
    return prev


class _GradMode:
    """A context manager that is also a decorator, with or without the call (``@tt.no_grad()``
    and ``@tt.no_grad``, as in PyTorch); subclasses choose the mode."""

    mode = True

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        if len(args) == 1 and not kwargs and callable(args[0]):  # used bare: @no_grad
            return cls()(args[0])
        return object.__new__(cls)

    def __enter__(self) -> None:
        self._prev = _set_grad_enabled(self.mode)

    def __exit__(self, *exc: Any) -> None:
        _set_grad_enabled(self._prev)

    def _again(self) -> "_GradMode":
        """A fresh manager of this one's mode, entered on each call of a decorated function."""
        return type(self)()

    def __call__(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with self._again():
                return fn(*args, **kwargs)
        return wrapper


class no_grad(_GradMode):
    """Do not record operations: results do not require grad (``with tt.no_grad():`` or ``@tt.no_grad()``)."""

    mode = False


class inference_mode(_GradMode):
    """``no_grad`` under PyTorch's other name (tinytorch has no separate inference tensors):
    ``inference_mode(False)`` leaves grad mode as it is."""

    def __init__(self, mode: bool = True):
        self._inference = bool(mode)

    def __enter__(self) -> None:
        self._prev = _set_grad_enabled(_grad.enabled and not self._inference)
        self._prev_inference, _grad.inference = _grad.inference, self._inference

    def __exit__(self, *exc: Any) -> None:
        _grad.inference = self._prev_inference
        super().__exit__()

    def _again(self) -> "inference_mode":
        return inference_mode(self._inference)


def is_inference_mode_enabled() -> bool:
    """True inside ``inference_mode()`` (in this thread)."""
    return _grad.inference


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

    def _again(self) -> "set_grad_enabled":
        return set_grad_enabled(self.mode)

    def __call__(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        _set_grad_enabled(self._prev)  # as a decorator it sets the mode only while fn runs
        return super().__call__(fn)


# --- dispatch modes: the one hook into every op ---------------------------------------------------
class _ModeStack(threading.local):
    """The active dispatch modes of this thread, innermost last."""

    def __init__(self) -> None:
        self.stack: list[DispatchMode] = []


_modes = _ModeStack()


class DispatchMode:
    """A context manager that sees every op run through :meth:`Function.apply` while it is
    active (in this thread): the profiler, graph capture for export and compilation, and
    batching for ``vmap`` are dispatch modes.

    Subclasses override :meth:`dispatch`. Modes nest: the innermost handles a call first, and
    the ``run`` it is given passes the call on to the next mode out (and at the bottom runs
    the op). Inside ``dispatch`` the mode itself is not active, so ops it runs go straight to
    the modes outside it. With no mode active ``apply`` pays one check of an empty list.

    >>> class Count(DispatchMode):
    ...     n = 0
    ...     def dispatch(self, op, args, params, run):
    ...         self.n += 1
    ...         return run(args, params)
    """

    def dispatch(self, op: "type[Function]", args: tuple[Any, ...], params: dict[str, Any],
                 run: "Callable[[tuple[Any, ...], dict[str, Any]], Tensor]") -> "Tensor":
        """Handle one call ``op.apply(*args, **params)``; the default passes it on unchanged."""
        return run(args, params)

    def random_op(self, name: str) -> None:
        """Called before a random op draws (random ops make new tensors outside ``apply``):
        ``vmap`` raises here under ``randomness='error'``. The default does nothing."""

    def inplace_op(self, target: "Tensor", values: tuple[Any, ...]) -> None:
        """Called before an in-place op writes ``values`` into ``target`` (in-place ops write
        into storage outside ``apply``): ``vmap`` refuses batched tensors here. The default
        does nothing."""

    def read_values(self, t: "Tensor") -> None:
        """Told when Python reads ``t``'s values (``item``, ``bool``, ``tolist``, ``numpy``...)
        while the mode is active: a recorder learns that the code may branch on data."""

    def mask_op(self, name: str, masks: tuple["Tensor", ...]) -> None:
        """Called before an op reads boolean ``masks`` whose values decide its result's shape
        (indexing with a mask: the mask's arrays become part of an index key, where their shape
        counts dims): ``vmap`` refuses batched masks here. The default does nothing."""

    def __enter__(self) -> "DispatchMode":
        _modes.stack.append(self)
        return self

    def __exit__(self, *exc: Any) -> None:
        if self not in _modes.stack:
            raise RuntimeError(f"{type(self).__name__} exited but is not active in this thread")
        # a mode exits from inside out; one left open by an error above it goes with it
        del _modes.stack[_modes.stack.index(self):]


def _dispatch(op: "type[Function]", args: tuple[Any, ...], params: dict[str, Any], i: int) -> "Tensor":
    """Give the call to mode ``i``; its ``run`` goes to mode ``i - 1``, and below mode 0 runs
    the op. Mode ``i`` and the modes inside it are inactive while it handles the call."""
    stack = _modes.stack
    mode, inner = stack[i], stack[i:]
    del stack[i:]

    def run(a: tuple[Any, ...], p: dict[str, Any]) -> "Tensor":
        return _dispatch(op, a, p, i - 1) if i > 0 else op._run(*a, **p)

    try:
        return mode.dispatch(op, args, params, run)
    finally:
        stack[i:] = inner


def _announce(event: str, *args: Any) -> None:
    """Call ``event`` (a :class:`DispatchMode` method: ``random_op``, ``inplace_op``,
    ``read_values``, ``mask_op``) on every active mode, innermost first: what happens outside
    ``apply`` that modes must hear of."""
    for mode in reversed(_modes.stack):
        getattr(mode, event)(*args)


def announce_random(name: str) -> None:
    """Tell the active dispatch modes that random op ``name`` is about to draw."""
    _announce("random_op", name)


def announce_inplace(target: "Tensor", values: tuple[Any, ...] = ()) -> None:
    """Tell the active dispatch modes that an in-place op will write into ``target``."""
    _announce("inplace_op", target, values)


def _values_read(t: "Tensor") -> None:
    """Tell the active modes that Python reads ``t``'s values (only called when one is active)."""
    _announce("read_values", t)


def announce_masks(name: str, masks: tuple["Tensor", ...]) -> None:
    """Tell the active dispatch modes that op ``name`` indexes with boolean ``masks``."""
    _announce("mask_op", name, masks)


def active_modes() -> tuple["DispatchMode", ...]:
    """The dispatch modes active in this thread, outermost first."""
    return tuple(_modes.stack)


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
    #: True for an op whose ``backward`` returns only new arrays that nothing else holds (and no
    #: two of which share memory): a product, a sum, not ``grad`` itself or a view of it. The
    #: engine may then store such a gradient as a leaf's ``.grad`` as it is, without a copy.
    fresh_grads: bool = False

    def forward(self, *args: Any, **params: Any) -> NDArray:
        raise NotImplementedError(f"{type(self).__name__}.forward is not implemented")

    def backward(self, grad: "Tensor") -> "Tensor | None | tuple[Tensor | None, ...]":
        raise NotImplementedError(f"{type(self).__name__}.backward is not implemented")

    @classmethod
    def apply(cls, *args: Any, **params: Any) -> "Tensor":
        """Run the op on ``args``; record it in the graph if grad mode is on and an input
        requires grad. Only floating-point results can require grad.

        While a :class:`DispatchMode` is active the call goes to the innermost mode instead,
        which may observe, rewrite or replace it (see :class:`DispatchMode`)."""
        if _modes.stack:
            return _dispatch(cls, args, params, len(_modes.stack) - 1)
        return cls._run(*args, **params)

    @classmethod
    def _run(cls, *args: Any, **params: Any) -> "Tensor":
        """``apply`` with no mode: run ``forward`` and record the node."""
        node = cls()
        out = node.forward(*[a._data if isinstance(a, Tensor) else a for a in args], **params)
        if _grad.enabled and out.dtype.is_floating_point:
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


class Size(tuple):
    """``torch.Size``: a tuple of dimension sizes, for programs that build shapes with it
    (``Size([2, 3])``). tinytorch's own ``.shape`` is a plain tuple, which compares equal."""

    def numel(self) -> int:
        """The number of elements a tensor of this shape holds."""
        n = 1
        for d in self:
            n *= d
        return n

    def __repr__(self) -> str:
        return f"tinytorch.Size({list(self)})"


def is_tensor(obj: Any) -> bool:
    """True when ``obj`` is a :class:`Tensor` (a Parameter is one)."""
    return isinstance(obj, Tensor)


def postorder(roots: "list[Any]", children: "Callable[[Any], list[Any]]") -> "list[Any]":
    """Every node reachable from ``roots``, each after the nodes ``children(node)`` lists (the
    ones that made its inputs): the order a graph is computed in, and backward walks reversed.

    An iterative depth-first search: a node is pushed once to expand its children and once more
    to be emitted after them, so no recursion limit applies to deep graphs. Of a node's
    children, the one listed last is expanded first."""
    order: list[Any] = []
    seen: set[int] = set()
    stack: list[tuple[Any, bool]] = [(r, False) for r in roots]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            order.append(node)
            continue
        if id(node) in seen:
            continue
        seen.add(id(node))
        stack.append((node, True))
        stack.extend((c, False) for c in children(node) if id(c) not in seen)
    return order


# --- Tensor ----------------------------------------------------------------------------------------------
class Tensor:
    """A multi-dimensional array that records the operations made on it for autograd.

    ``Tensor(data)`` wraps an NDArray or shares a Tensor's storage (no copy). Otherwise it is
    PyTorch's legacy constructor: ``Tensor(2, 3)`` is a float32 tensor of that shape (zeros
    here: PyTorch leaves it uninitialised), ``Tensor([1, 2])`` or ``Tensor(np_array)`` a float32
    copy of the data (``tinytorch.tensor`` keeps the data's dtype instead); ``dtype`` and
    ``device`` may be given.
    """

    __slots__ = ("_data", "requires_grad", "grad", "_ctx", "__weakref__")
    __array_priority__ = 1000  # numpy scalars on the left defer to our reflected operators

    _data: NDArray
    requires_grad: bool
    grad: "Tensor | None"
    _ctx: Function | None

    def __init__(self, *args: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False):
        data = args[0] if len(args) == 1 else None
        if isinstance(data, Tensor):
            data = data._data
        if isinstance(data, NDArray):
            if dtype is not None or device is not None:
                data = array(data, dtype=dtype, device=device)
        elif all(isinstance(a, int) and not isinstance(a, bool) for a in args):  # sizes: Tensor(2, 3)
            data = nd_zeros(args or (0,), dtype=float32 if dtype is None else dtype, device=device)
        elif isinstance(data, (list, tuple, np.ndarray)):
            data = array(data, dtype=float32 if dtype is None else dtype, device=device)
        else:
            raise TypeError(f"Tensor(): expected sizes (ints), a sequence or an array of data, or a Tensor, "
                            f"got {', '.join(type(a).__name__ for a in args)}")
        self._data, self.grad, self._ctx = data, None, None
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    @staticmethod
    def _make(data: NDArray, requires_grad: bool, ctx: Function | None) -> "Tensor":
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
    def device(self) -> Device:
        return self._data.device

    @property
    def is_cuda(self) -> bool:
        return self._data.device.type == "cuda"

    @property
    def is_cpu(self) -> bool:
        return self._data.device.type != "cuda"  # "cpu" and tinytorch's "numpy" both live on the host

    @property
    def ndim(self) -> int:
        return len(self._data.shape)

    def dim(self) -> int:
        return len(self._data.shape)

    def numel(self) -> int:
        return self._data.size

    def nelement(self) -> int:
        return self._data.size

    def ndimension(self) -> int:
        return len(self._data.shape)

    def is_same_size(self, other: "Tensor") -> bool:
        return self._data.shape == other._data.shape

    def is_nonzero(self) -> bool:
        """The truth of a one-element tensor (an error for any other size, as PyTorch)."""
        if _modes.stack:
            _values_read(self)
        if self._data.size == 0:
            raise RuntimeError("Boolean value of Tensor with no values is ambiguous")
        if self._data.size > 1:
            raise RuntimeError("Boolean value of Tensor with more than one value is ambiguous")
        return bool(self._data.item())

    def is_floating_point(self) -> bool:
        return self._data.dtype.is_floating_point

    # tinytorch has no complex dtypes: what generic PyTorch code asks of a real tensor
    def is_complex(self) -> bool:
        return False

    def is_conj(self) -> bool:
        return False

    def is_neg(self) -> bool:
        return False

    def conj(self) -> "Tensor":
        """The complex conjugate: the tensor itself, for real values."""
        return self

    resolve_conj = resolve_neg = conj

    @property
    def real(self) -> "Tensor":
        """The real part: the tensor itself, for real values."""
        return self

    @property
    def imag(self) -> "Tensor":
        raise RuntimeError("imag is not implemented for tensors with non-complex dtypes.")

    def get_device(self) -> int:
        """The GPU index of a CUDA tensor (0: tinytorch uses one GPU), -1 for the host, as PyTorch."""
        return 0 if self._data.device.type == "cuda" else -1

    def is_contiguous(self) -> bool:
        """True when the elements lie in row-major order with no gaps (the view may start anywhere)."""
        return is_compact(self._data.shape, self._data.strides)

    def stride(self, dim: int | None = None) -> Any:
        """The strides, counted in elements (chapter 2): a tuple, or one int for ``dim``."""
        strides = self._data.strides
        if dim is None:
            return strides
        if not strides:
            raise IndexError(f"Dimension specified as {dim} but tensor has no dimensions")
        if not -len(strides) <= dim < len(strides):
            raise IndexError(f"Dimension out of range (expected to be in range of "
                             f"[{-len(strides)}, {len(strides) - 1}], but got {dim})")
        return strides[dim]

    def storage_offset(self) -> int:
        """Where this view starts in its buffer, counted in elements."""
        return self._data.offset

    def data_ptr(self) -> int:
        """The address of this tensor's first element; views of one storage that start at the same
        element share it (how PyTorch programs test for shared memory)."""
        return self._data.data_ptr()

    def element_size(self) -> int:
        """Bytes per element."""
        return self._data.dtype.itemsize

    @property
    def itemsize(self) -> int:
        return self._data.dtype.itemsize

    @property
    def nbytes(self) -> int:
        """Bytes of the elements this tensor holds (not of its whole buffer)."""
        return self._data.size * self._data.dtype.itemsize

    @property
    def grad_fn(self) -> Function | None:
        """The node that computed this tensor (None for leaves)."""
        return self._ctx

    @property
    def is_leaf(self) -> bool:
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

    def requires_grad_(self, requires_grad: bool = True) -> "Tensor":
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
        if _modes.stack:
            _values_read(self)
        return self._data.numpy()

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        if _modes.stack:
            _values_read(self)
        a = self._data.numpy()
        return a if dtype is None else a.astype(dtype)

    def item(self) -> Any:
        if _modes.stack:
            _values_read(self)
        if self._data.size != 1:
            raise RuntimeError(f"a Tensor with {self._data.size} elements cannot be converted to Scalar")
        return self._data.item()

    def tolist(self) -> Any:
        if _modes.stack:
            _values_read(self)
        return self._data.tolist()

    def __bool__(self) -> bool:
        if _modes.stack:
            _values_read(self)
        if self._data.size != 1:
            raise RuntimeError("Boolean value of Tensor with more than one value is ambiguous")
        return bool(self._data.item())

    def __float__(self) -> float: return float(self.item())
    def __int__(self) -> int: return int(self.item())

    def __index__(self) -> int:
        if _modes.stack:
            _values_read(self)
        if self._data.dtype.is_floating_point or self._data.size != 1:
            raise TypeError("only integer tensors of a single element can be converted to an index")
        return int(self._data.item())

    def __len__(self) -> int:
        if not self._data.shape:
            raise TypeError("len() of a 0-d tensor")
        return self._data.shape[0]

    def __format__(self, spec: str) -> str:
        if self.ndim == 0 and spec:
            return format(self.item(), spec)
        return format(repr(self), spec)

    def __repr__(self) -> str:
        return format_tensor(self._data.numpy(), self._data.device.type, self._data.dtype,
                             None if self._ctx is None else self._ctx.name(), self.requires_grad)

    __hash__ = object.__hash__  # tensors are dict keys by identity (``==`` is elementwise)

    def __deepcopy__(self, memo: dict) -> "Tensor":
        if self._ctx is not None:
            raise RuntimeError("Only Tensors created explicitly by the user (graph leaves) support the deepcopy "
                               "protocol at the moment.")
        new = object.__new__(type(self))
        new._data, new.requires_grad, new._ctx = self._data.copy(), self.requires_grad, None
        new.grad = None if self.grad is None else self.grad.__deepcopy__(memo)
        if hasattr(self, "__dict__"):  # subclasses such as nn.Parameter
            new.__dict__.update(copy.deepcopy(self.__dict__, memo))
        memo[id(self)] = new
        return new

    def __copy__(self) -> "Tensor":
        """``copy.copy``: a tensor of the same class sharing this one's storage (as PyTorch's)."""
        new = object.__new__(type(self))
        new._data, new.requires_grad, new.grad, new._ctx = self._data, self.requires_grad, self.grad, self._ctx
        if hasattr(self, "__dict__"):
            new.__dict__.update(self.__dict__)
        return new

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickle a tensor as its values (a numpy copy), device and ``requires_grad`` (and a
        subclass's attributes, e.g. nn.Parameter's): it comes back as a leaf with storage of its
        own, as PyTorch's pickled tensors do -- what a DataLoader worker process sends back.
        Sharing between tensors is not kept (``tt.save`` keeps it)."""
        return (_rebuild_tensor, (type(self), self._data.numpy(), self._data.device.type, self.requires_grad,
                                  dict(getattr(self, "__dict__", {}))))

    if TYPE_CHECKING:  # what the op table (tinytorch/ops/table.py) binds, declared for type checkers only
        def __getattr__(self, name: str) -> Any: ...
        def __add__(self, o: Any) -> Tensor: ...
        def __radd__(self, o: Any) -> Tensor: ...
        def __sub__(self, o: Any) -> Tensor: ...
        def __rsub__(self, o: Any) -> Tensor: ...
        def __mul__(self, o: Any) -> Tensor: ...
        def __rmul__(self, o: Any) -> Tensor: ...
        def __truediv__(self, o: Any) -> Tensor: ...
        def __rtruediv__(self, o: Any) -> Tensor: ...
        def __pow__(self, o: Any) -> Tensor: ...
        def __rpow__(self, o: Any) -> Tensor: ...
        def __matmul__(self, o: Any) -> Tensor: ...
        def __neg__(self) -> Tensor: ...
        def __eq__(self, o: Any) -> Tensor: ...  # type: ignore[override]
        def __ne__(self, o: Any) -> Tensor: ...  # type: ignore[override]
        def __lt__(self, o: Any) -> Tensor: ...
        def __le__(self, o: Any) -> Tensor: ...
        def __gt__(self, o: Any) -> Tensor: ...
        def __ge__(self, o: Any) -> Tensor: ...
        def __and__(self, o: Any) -> Tensor: ...
        def __or__(self, o: Any) -> Tensor: ...
        def __invert__(self) -> Tensor: ...
        def __getitem__(self, key: Any) -> Tensor: ...


__all__ = ["Tensor", "Function", "no_grad", "enable_grad", "set_grad_enabled", "is_grad_enabled"]


def _rebuild_tensor(cls: type, values: np.ndarray, device: str, requires_grad: bool, attrs: dict) -> Tensor:
    """Unpickle what :meth:`Tensor.__reduce__` wrote: a fresh leaf of class ``cls``."""
    t: Tensor = object.__new__(cls)
    t._data, t.requires_grad, t.grad, t._ctx = array(values, device=device), requires_grad, None, None
    if attrs:
        t.__dict__.update(attrs)
    return t
