"""NDArray: a strided view of a flat backend buffer.

An :class:`NDArray` is ``(buffer, shape, strides, offset, dtype, device)``. Movement ops
(reshape, permute, broadcast_to, indexing with ints/slices, flip) only compute new
metadata with the pure functions of :mod:`.strides` and share the buffer. Everything that
computes values (arithmetic, reductions, matmul) first makes its inputs compact and then
calls one flat backend function from :mod:`.interface`.

The layer speaks numpy's dialect (``axis``, ``keepdims``, tuple shapes); the Tensor layer
above it speaks PyTorch's.
"""

from __future__ import annotations

import functools
import numbers
import operator
from typing import Any, Callable, Sequence

import numpy as np

from . import strides as st
from .checks import active_recorder, check
from .devices import Device
from .devices import device as as_device
from .dtypes import DType, as_dtype, bool_, float32, infer_dtype, int64, promote_types, result_type_with_scalar
from .interface import (
    BITWISE_OPS,
    FLOAT_BINARY_OPS,
    MORE_BINARY_OPS,
    REVERSED_SCALAR_OPS,
    SCATTER_OPS,
    UNARY_OPS_FLOAT,
    Backend,
    Shape,
    Strides,
    prod,
)

Scalar = (int, float, bool, np.number, np.bool_)


class NDArray:
    """A strided view of a flat buffer owned by a backend. Views are immutable metadata."""

    __slots__ = ("_buf", "shape", "strides", "offset", "dtype", "device", "_compact")
    __array_priority__ = 1000  # numpy scalars on the left defer to our reflected operators

    def __init__(self, buf: Any, shape: Shape, strides: Strides, offset: int, dtype: DType, device: Device):
        self._buf = buf
        self.shape: Shape = tuple(shape)
        self.strides: Strides = tuple(strides)
        self.offset = offset
        self.dtype = dtype
        self.device = device
        self._compact: bool | None = None  # is_compact(), computed when first asked

    # --- construction helpers ---------------------------------------------------------------
    @staticmethod
    def make(shape: Shape, dtype: DType, device: Device) -> "NDArray":
        """A new compact, uninitialised array."""
        shape = tuple(operator.index(s) for s in shape)
        if any(s < 0 for s in shape):
            raise ValueError(f"negative dimension in shape {shape}")
        return NDArray._new(shape, dtype, device)

    @staticmethod
    def _new(shape: Shape, dtype: DType, device: Device) -> "NDArray":
        """:meth:`make` for a shape that is already a tuple of non-negative ints (the results of
        the ops below): the path every op takes, so it skips the checks."""
        out = NDArray(device.backend.alloc(prod(shape), dtype), shape, _row_major_strides(shape), 0, dtype, device)
        out._compact = True
        return out

    def as_strided(self, shape: Shape, strides: Strides, offset: int | None = None) -> "NDArray":
        """A view of this array's buffer with any ``shape``, ``strides`` and ``offset`` (in elements;
        default: this view's offset), as ``torch.as_strided``; never copies. The backend checks
        that the view lies inside the buffer before any element is read or written."""
        return self._view(tuple(shape), tuple(strides), offset)

    def buffer_values(self) -> np.ndarray:
        """A numpy copy of every element of the flat buffer under this view (not only those the
        view reaches): the picture chapter 2 draws."""
        return self._backend.to_numpy(self._buf, (self._buf.size,), (1,), 0)

    def buffer_key(self) -> int:
        """An int naming the buffer under this view: two live arrays share memory exactly when
        their keys are equal (``tt.save`` writes a shared buffer once and keeps the sharing)."""
        return id(self._buf)

    def data_ptr(self) -> int:
        """The memory address of this view's first element (``Tensor.data_ptr``): equal for two
        live views that start at the same element of one buffer. ``RuntimeError`` on a backend
        that does not give addresses (``buffer_address`` is None)."""
        address = self._backend.buffer_address
        if address is None:
            raise RuntimeError(f"data_ptr is not available for arrays on device {self.device}")
        return address(self._buf) + self.offset * self.dtype.itemsize

    def _view(self, shape: Shape, strides: Strides, offset: int | None = None) -> "NDArray":
        return NDArray(self._buf, shape, strides, self.offset if offset is None else offset,
                       self.dtype, self.device)

    @property
    def _backend(self) -> Backend:
        return self.device.backend

    # --- basic properties ------------------------------------------------------------------
    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return prod(self.shape)

    def __len__(self) -> int:
        if not self.shape:
            raise TypeError("len() of a 0-d array")
        return self.shape[0]

    def is_compact(self) -> bool:
        """True when the view is row-major and contiguous *and* starts at the buffer's start
        with the buffer's exact size, so kernels can use the buffer as is."""
        if self._compact is None:
            self._compact = (self.offset == 0 and self._buf.size == self.size
                             and st.is_compact(self.shape, self.strides))
        return self._compact

    def compact(self) -> "NDArray":
        """This array if compact, else a copy into a fresh row-major buffer."""
        if self.is_compact():
            return self
        out = NDArray._new(self.shape, self.dtype, self.device)
        self._backend.compact(self._buf, out._buf, self.shape, self.strides, self.offset)
        return out

    def numpy(self) -> np.ndarray:
        """A fresh numpy copy of the values."""
        return self._backend.to_numpy(self._buf, self.shape, self.strides, self.offset)

    def item(self) -> Any:
        if self.size != 1:
            raise ValueError(f"only one-element arrays can be converted to a Python scalar, got shape {self.shape}")
        return self.numpy().reshape(-1)[0].item()

    def tolist(self) -> Any:
        return self.numpy().tolist()

    def __bool__(self) -> bool:
        if self.size != 1:
            raise RuntimeError(f"the truth value of an array with {self.size} elements is ambiguous")
        return bool(self.item())

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __repr__(self) -> str:
        body = np.array2string(self.numpy(), separator=", ", prefix="NDArray(")
        return f"NDArray({body}, dtype={self.dtype.name}, device='{self.device}')"

    def to(self, device: Any) -> "NDArray":
        """This array on ``device`` (itself if already there; a copy otherwise)."""
        dev = as_device(device)
        if dev == self.device:
            return self
        host = self.numpy().reshape(-1)
        return NDArray(dev.backend.from_numpy(host), self.shape, st.row_major_strides(self.shape), 0,
                       self.dtype, dev)

    def astype(self, dtype: Any) -> "NDArray":
        """A copy converted to ``dtype`` (itself if the dtype already matches)."""
        dtype = as_dtype(dtype)
        if dtype is self.dtype:
            return self
        a = self.compact()
        out = NDArray._new(self.shape, dtype, self.device)
        self._backend.cast(a._buf, out._buf)
        return out

    def copy(self) -> "NDArray":
        out = NDArray._new(self.shape, self.dtype, self.device)
        self._backend.compact(self._buf, out._buf, self.shape, self.strides, self.offset)
        return out

    # --- movement ops: metadata only ----------------------------------------------------------
    def reshape(self, shape: Sequence[int] | int) -> "NDArray":
        """A view with a new shape (one entry may be -1); copies only if no view can express it."""
        new_shape = st.infer_shape(self.size, _shape(shape))
        new_strides = st.reshape_view(self.shape, self.strides, new_shape)
        if new_strides is None:
            return self.compact().reshape(new_shape)
        return self._view(new_shape, new_strides)

    def permute(self, axes: Sequence[int]) -> "NDArray":
        """A view with the axes reordered; never copies."""
        shape, strides = st.permute_view(self.shape, self.strides, tuple(axes))
        return self._view(shape, strides)

    def swapaxes(self, a: int, b: int) -> "NDArray":
        axes = list(range(self.ndim))
        a, b = st.normalize_axis(a, self.ndim), st.normalize_axis(b, self.ndim)
        axes[a], axes[b] = axes[b], axes[a]
        return self.permute(axes)

    @property
    def T(self) -> "NDArray":
        return self.permute(tuple(reversed(range(self.ndim))))

    def broadcast_to(self, shape: Sequence[int]) -> "NDArray":
        """A view with stride 0 along broadcast axes; never copies."""
        shape = tuple(shape)
        if shape == self.shape:
            return self
        return self._view(shape, st.broadcast_strides(self.shape, self.strides, shape))

    def flip(self, axes: int | Sequence[int] | None = None) -> "NDArray":
        """A view with the given axes reversed (all if None); never copies."""
        axes = st.normalize_axes(axes, self.ndim)
        strides, offset = st.flip_view(self.shape, self.strides, self.offset, axes)
        return self._view(self.shape, strides, offset)

    def expand_dims(self, axis: int) -> "NDArray":
        axis = st.normalize_axis(axis, self.ndim + 1)
        return self.reshape(self.shape[:axis] + (1,) + self.shape[axis:])

    def squeeze(self, axis: int | Sequence[int] | None = None) -> "NDArray":
        if axis is None:
            axes = tuple(i for i, n in enumerate(self.shape) if n == 1)
        else:
            axes = tuple(a for a in st.normalize_axes(axis, self.ndim) if self.shape[a] == 1)
        keep = [i for i in range(self.ndim) if i not in axes]
        return self._view(tuple(self.shape[i] for i in keep), tuple(self.strides[i] for i in keep))

    # --- indexing -------------------------------------------------------------------------
    def __getitem__(self, key: Any) -> "NDArray":
        """Basic keys (ints, slices, None, ..., bools) give a view; integer/boolean arrays gather a copy."""
        entries = st.expand_key(_scalar_bools(key), self.ndim)
        if not _needs_advanced(entries):
            shape, strides, offset = st.index_view(self.shape, self.strides, self.offset, entries)
            return self._view(shape, strides, offset)
        offsets = self._advanced_offsets(entries)
        out = NDArray._new(offsets.shape, self.dtype, self.device)
        self._backend.gather(self._buf, offsets.compact()._buf, out._buf)
        return out

    def __setitem__(self, key: Any, value: Any) -> None:
        """Write ``value`` (array or scalar, broadcast) into the elements ``key`` selects."""
        entries = st.expand_key(_scalar_bools(key), self.ndim)
        if not _needs_advanced(entries):
            shape, strides, offset = st.index_view(self.shape, self.strides, self.offset, entries)
            if _is_scalar(value):
                self._backend.scalar_setitem(value, self._buf, shape, strides, offset)
            else:
                src = self._as_source(value, shape)
                self._backend.ewise_setitem(src._buf, self._buf, shape, strides, offset)
            return
        offsets = self._advanced_offsets(entries)
        src = self._as_source(value, offsets.shape)
        self._backend.scatter(src._buf, offsets.compact()._buf, self._buf)

    def index_add_(self, key: Any, value: Any) -> "NDArray":
        """``self[key] += value`` where repeated indices accumulate (scatter-add); in place.

        This is the gradient of gathering with ``key``: each selected element receives the
        sum of every value that was read from it.
        """
        return self.index_reduce_(key, value, "add")

    def index_reduce_(self, key: Any, value: Any, op: str) -> "NDArray":
        """``self[key] = op(self[key], value)`` element by element, in place, where an element
        that ``key`` selects several times combines every value sent to it (the backend's
        ``scatter_<op>``). ``op`` is one of ``interface.SCATTER_OPS``: add, mul, max, min
        (max/min keep NaN); mul/max/min need float32, float64 or int64."""
        if op not in SCATTER_OPS:
            raise ValueError(f"index_reduce_: op must be one of {SCATTER_OPS}, got {op!r}")
        entries = st.expand_key(_scalar_bools(key), self.ndim)
        offsets = self._advanced_offsets(entries) if _needs_advanced(entries) \
            else self._basic_offsets(entries)
        src = self._as_source(value, offsets.shape)
        getattr(self._backend, "scatter_" + op)(src._buf, offsets.compact()._buf, self._buf)
        return self

    def _as_source(self, value: Any, shape: Shape) -> "NDArray":
        """``value`` as a compact array of this dtype and device, broadcast to ``shape``."""
        v = value if isinstance(value, NDArray) else array(value, dtype=self.dtype, device=self.device)
        if v.device != self.device:
            raise RuntimeError(f"cannot assign an array on {v.device} into an array on {self.device}")
        src = v.astype(self.dtype).broadcast_to(shape).compact()
        # `x[::-1] = x` reads and writes one buffer: copy the source so no kernel sees aliasing
        return src.copy() if src._buf is self._buf else src

    def _basic_offsets(self, entries: list[Any]) -> "NDArray":
        shape, strides, offset = st.index_view(self.shape, self.strides, self.offset, entries)
        return _offset_grid(shape, strides, offset, self.device)

    def _advanced_offsets(self, entries: list[Any]) -> "NDArray":
        """Buffer positions (int64, the result's shape) of the elements an advanced key selects.

        Follows numpy/PyTorch: integer arrays (and ints among them) broadcast together; when
        they are adjacent their result axes replace them in place, otherwise they go first.
        Boolean masks become the integer arrays of their ``nonzero()`` positions.
        """
        entries = _masks_to_indices(entries, self.shape)
        # Next to other advanced indices a bool is a 0-d mask like any other: the index array
        # [0] (True) or [] (False) over a new axis of length 1 (numpy's and PyTorch's rule).
        entries = [_BoolIndex(k) if isinstance(k, bool) else k for k in entries]
        # 1. apply the basic part (slices and None) as a view; advanced axes are kept whole,
        #    so entry i of the key now addresses axis i of the view
        basic = [k if (k is None or isinstance(k, slice)) else (True if isinstance(k, _BoolIndex) else slice(None))
                 for k in entries]
        shape, strides, offset = st.index_view(self.shape, self.strides, self.offset, basic)
        positions = [i for i, k in enumerate(entries) if not (k is None or isinstance(k, slice))]
        # 2. sum index * stride over the advanced axes, after bounds checks and wrapping
        idx_arrays = [_index_array(entries[i], shape[i], self.device) for i in positions]
        try:
            b_shape = st.broadcast_shapes(*(a.shape for a in idx_arrays))
        except RuntimeError:
            raise IndexError("shape mismatch: indexing arrays could not be broadcast together with shapes "
                             + " ".join(str(a.shape) for a in idx_arrays)) from None
        flat = None
        for i, idx in zip(positions, idx_arrays):
            term = idx * strides[i]
            flat = term if flat is None else flat + term
        flat = flat.broadcast_to(b_shape) + offset  # type: ignore[union-attr]
        # 3. the remaining basic axes form a grid added to every advanced position
        rest = [a for a in range(len(shape)) if a not in positions]
        adjacent = positions == list(range(positions[0], positions[-1] + 1))
        before = [a for a in rest if a < positions[0]] if adjacent else []
        after = [a for a in rest if a not in before]
        grid_after = _offset_grid(tuple(shape[a] for a in after), tuple(strides[a] for a in after), 0, self.device)
        na = len(after)
        offsets = flat.reshape(flat.shape + (1,) * na) + grid_after
        if not before:  # (the common case, x[idx] or x[idx, :]: no grid in front to add, a full pass saved)
            return offsets
        grid_before = _offset_grid(tuple(shape[a] for a in before), tuple(strides[a] for a in before), 0, self.device)
        return grid_before.reshape(grid_before.shape + (1,) * (len(b_shape) + na)) + offsets

    # --- elementwise arithmetic ------------------------------------------------------------------
    def _binary(self, other: Any, op: str, reverse: bool = False) -> "NDArray":
        if isinstance(other, NDArray):
            if other.device != self.device:
                raise RuntimeError(f"expected all arrays on the same device, got {self.device} and {other.device}")
            dtype = _op_dtype(op, promote_types(self.dtype, other.dtype))
            a, b = (other, self) if reverse else (self, other)
            if a.shape == b.shape and a.dtype is dtype and b.dtype is dtype:  # the common case, fast
                shape, views = a.shape, not (a.is_compact() and b.is_compact())
            else:
                shape, views = st.broadcast_shapes(a.shape, b.shape), True
                a = a.astype(dtype).broadcast_to(shape)
                b = b.astype(dtype).broadcast_to(shape)
            strided = self._backend.ewise_strided if views and op in _STRIDED_OPS and dtype.is_floating_point else None
            if strided is not None:  # optional: broadcast or strided views as they are, no copies
                out = NDArray._new(shape, dtype, self.device)
                strided(op, a._buf, a.strides, a.offset, b._buf, b.strides, b.offset, out._buf, shape)
                return out
            a, b = a.compact(), b.compact()
            out = NDArray._new(shape, bool_ if op in _COMPARISONS else dtype, self.device)
            getattr(self._backend, f"ewise_{op}")(a._buf, b._buf, out._buf)
            return out
        if not _is_scalar(other):
            try:
                other = array(other, device=self.device)
            except TypeError:
                return NotImplemented
            return self._binary(other, op, reverse)
        dtype = _op_dtype(op, result_type_with_scalar(self.dtype, other))
        if op == "pow" and reverse is False and dtype is int64 and other < 0:
            raise ValueError("integers to negative integer powers are not allowed")
        a = self.astype(dtype).compact()
        out = NDArray._new(self.shape, bool_ if op in _COMPARISONS else dtype, self.device)
        kernel = f"scalar_r{op}" if reverse and op in _REVERSIBLE else f"scalar_{op}"
        getattr(self._backend, kernel)(a._buf, other, out._buf)
        return out

    def __add__(self, o: Any) -> "NDArray": return self._binary(o, "add")
    def __radd__(self, o: Any) -> "NDArray": return self._binary(o, "add", True)
    def __sub__(self, o: Any) -> "NDArray": return self._binary(o, "sub")
    def __rsub__(self, o: Any) -> "NDArray": return self._binary(o, "sub", True)
    def __mul__(self, o: Any) -> "NDArray": return self._binary(o, "mul")
    def __rmul__(self, o: Any) -> "NDArray": return self._binary(o, "mul", True)
    def __truediv__(self, o: Any) -> "NDArray": return self._binary(o, "div")
    def __rtruediv__(self, o: Any) -> "NDArray": return self._binary(o, "div", True)
    def __pow__(self, o: Any) -> "NDArray": return self._binary(o, "pow")
    def __rpow__(self, o: Any) -> "NDArray": return self._binary(o, "pow", True)
    def __eq__(self, o: Any) -> "NDArray": return self._binary(o, "eq")  # type: ignore[override]
    def __ne__(self, o: Any) -> "NDArray": return self._binary(o, "ne")  # type: ignore[override]
    def __lt__(self, o: Any) -> "NDArray": return self._binary(o, "lt")
    def __le__(self, o: Any) -> "NDArray": return self._binary(o, "le")
    def __gt__(self, o: Any) -> "NDArray": return self._binary(o, "gt")
    def __ge__(self, o: Any) -> "NDArray": return self._binary(o, "ge")
    __hash__ = None  # type: ignore[assignment]

    # --- in-place arithmetic: self = self <op> other, written into this array's own elements ---------
    def _update(self, other: Any, op: str) -> "NDArray":
        """``self[...] = self <op> other`` (``other`` broadcast to this shape, the result cast to this
        dtype). A compact float array updated by a scalar or by an array of its own shape and dtype
        takes one kernel whose output is its input: every backend's elementwise kernels read
        element i before they write it (see :mod:`.interface`). Anything else computes the
        result first and writes it back."""
        if self.dtype.is_floating_point and self.is_compact():
            if type(other) in (int, float):
                getattr(self._backend, f"scalar_{op}")(self._buf, other, self._buf)
                return self
            if (isinstance(other, NDArray) and other.shape == self.shape and other.dtype is self.dtype
                    and other.device == self.device):
                getattr(self._backend, f"ewise_{op}")(self._buf, other.compact()._buf, self._buf)
                return self
        result = self._binary(other, op)
        if result is NotImplemented:
            raise TypeError(f"cannot update an array in place with {type(other).__name__}")
        if result.shape != self.shape:
            raise ValueError(f"the result of shape {result.shape} does not fit the array of shape {self.shape}")
        self[...] = result
        return self

    def add_(self, other: Any) -> "NDArray": return self._update(other, "add")
    def sub_(self, other: Any) -> "NDArray": return self._update(other, "sub")
    def mul_(self, other: Any) -> "NDArray": return self._update(other, "mul")
    def div_(self, other: Any) -> "NDArray": return self._update(other, "div")

    def gelu(self) -> "NDArray":
        """The exact GELU ``x * (1 + erf(x / sqrt 2)) / 2`` of a float array: one pass in the
        backend's optional ``gelu``, else five array passes."""
        kernel = self._backend.gelu if self.size else None
        if kernel is not None:
            a, out = self.compact(), NDArray._new(self.shape, self.dtype, self.device)
            kernel(a._buf, out._buf)
            return out
        return self * (((self * _SQRT_HALF).erf() + 1.0) * 0.5)

    def gelu_backward(self, grad: "NDArray") -> "NDArray":
        """``grad * (Phi(x) + x * phi(x))`` for this array ``x``: the gradient of GELU's input
        (``Phi`` the standard normal CDF, ``phi`` its density); one pass in the backend's optional
        ``gelu_backward`` when ``grad`` has this shape and dtype."""
        kernel = self._backend.gelu_backward if self.size else None
        if kernel is not None and grad.shape == self.shape and grad.dtype is self.dtype:
            x, g, out = self.compact(), grad.compact(), NDArray._new(self.shape, self.dtype, self.device)
            kernel(x._buf, g._buf, out._buf)
            return out
        cdf = ((self * _SQRT_HALF).erf() + 1.0) * 0.5
        return grad * (cdf + self * ((self * self * -0.5).exp() * _INV_SQRT_2PI))

    def layer_norm_rows(self, n: int, eps: float) -> "tuple[NDArray, NDArray]":
        """``(xhat, rstd)`` for this float array standardised over its last ``n`` axes: ``xhat = (x -
        mean) * rstd``, ``rstd = 1 / sqrt(var + eps)`` (biased variance), ``rstd`` with those axes
        kept as size 1. One pass per row in the backend's optional ``layer_norm_rows``; else array
        passes (sum, subtract, square, sum, scale, power, multiply)."""
        cols = prod(self.shape[self.ndim - n:])
        kernel = self._backend.layer_norm_rows if self.size else None
        if kernel is not None:
            a = self.compact()
            xhat = NDArray._new(self.shape, self.dtype, self.device)
            rstd = NDArray._new(self.shape[:self.ndim - n] + (1,) * n, self.dtype, self.device)
            kernel(a._buf, xhat._buf, rstd._buf, self.size // cols, cols, eps)
            return xhat, rstd
        dims = tuple(range(self.ndim - n, self.ndim))
        centered = self - self.sum(dims, keepdims=True) * (1.0 / cols)
        rstd = ((centered * centered).sum(dims, keepdims=True) * (1.0 / cols) + eps) ** -0.5
        return centered * rstd, rstd

    def layer_norm_rows_backward(self, rstd: "NDArray", h: "NDArray", n: int) -> "NDArray":
        """The gradient of the input of :meth:`layer_norm_rows` from its results (this array is
        ``xhat``; ``rstd``) and ``h``, the gradient of ``xhat``: ``rstd * (h - mean(h) - xhat *
        mean(h * xhat))``, means over the last ``n`` axes (the backend's optional
        ``layer_norm_rows_backward`` in one pass per row when the shapes and dtypes fit)."""
        cols = prod(self.shape[self.ndim - n:])
        kernel = self._backend.layer_norm_rows_backward if self.size else None
        if kernel is not None and h.shape == self.shape and h.dtype is self.dtype is rstd.dtype \
                and rstd.size * cols == self.size:
            x, r, g = self.compact(), rstd.compact(), h.compact()
            out = NDArray._new(self.shape, self.dtype, self.device)
            kernel(x._buf, r._buf, g._buf, out._buf, self.size // cols, cols)
            return out
        dims = tuple(range(self.ndim - n, self.ndim))
        return (h - h.sum(dims, keepdims=True) * (1.0 / cols)
                - self * ((h * self).sum(dims, keepdims=True) * (1.0 / cols))) * rstd

    def softmax(self, axis: int, scale: float = 1.0, causal: bool = False) -> "NDArray":
        """``exp(x - m) / sum(exp(x - m))`` along ``axis`` of ``x = scale * a`` (a float array),
        ``m`` the max along it (rows of -inf, or holding +inf or NaN, give NaN, as PyTorch). With
        ``causal`` the last two axes are attention's (queries, keys) and query ``i`` sees only
        keys ``j <= i``: the others get 0, as with a mask of -inf (``axis`` must be the last).
        One pass per row in the backend's optional ``softmax_rows`` for the last axis; else
        scale, mask, max, subtract, exp, sum, divide."""
        axis = st.normalize_axis(axis, self.ndim)
        if causal and (axis != self.ndim - 1 or self.ndim < 2):
            raise ValueError(f"a causal softmax runs along the last of at least 2 axes, not axis {axis} of "
                             f"shape {self.shape}")
        kernel = self._backend.softmax_rows if axis == self.ndim - 1 and self.size else None
        if kernel is not None:
            a, out = self.compact(), NDArray._new(self.shape, self.dtype, self.device)
            kernel(a._buf, out._buf, self.size // self.shape[-1], self.shape[-1], scale,
                   self.shape[-2] if causal else 0)
            return out
        x = self if scale == 1.0 else self * scale
        if causal:
            x = x + causal_bias(self.shape[-2], self.shape[-1], self)
        e = (x - x.max((axis,), keepdims=True)).exp()
        return e / e.sum((axis,), keepdims=True)

    def softmax_backward(self, grad: "NDArray", axis: int, scale: float = 1.0) -> "NDArray":
        """The gradient of softmax's input ``a`` from its output (this array) and the output's
        gradient, for ``softmax(axis, scale, causal)`` with any mask: ``scale * y * (g - sum(g *
        y))`` along ``axis`` (``softmax_rows_backward`` in one pass per row for the last axis
        where the backend has it)."""
        axis = st.normalize_axis(axis, self.ndim)
        kernel = self._backend.softmax_rows_backward if axis == self.ndim - 1 and self.size else None
        if kernel is not None and grad.shape == self.shape and grad.dtype is self.dtype:
            y, g, out = self.compact(), grad.compact(), NDArray._new(self.shape, self.dtype, self.device)
            kernel(y._buf, g._buf, out._buf, self.size // self.shape[-1], self.shape[-1], scale)
            return out
        dx = self * (grad - (grad * self).sum((axis,), keepdims=True))
        return dx if scale == 1.0 else dx * scale

    def cross_entropy_rows(self, target: "NDArray", ignore_index: int) -> tuple["NDArray", "NDArray", "NDArray"]:
        """For logits (this (rows, C) float array) and int64 class indices ``target`` (rows,):
        the per-row losses ``lse - x[r, target[r]]`` (0 where ``target == ignore_index``), the
        rows' log-sum-exp ``lse`` and the 0-d count of rows counted. One pass of the backend's
        optional ``cross_entropy_rows``; else a log-sum-exp and a one-hot pick as array ops. A
        target that is neither a class nor ``ignore_index`` raises ``IndexError``."""
        rows, cols = self.shape
        kernel = self._backend.cross_entropy_rows if self.size else None
        if kernel is not None:
            loss, lse = NDArray._new((rows,), self.dtype, self.device), NDArray._new((rows,), self.dtype, self.device)
            count = NDArray._new((), self.dtype, self.device)
            kernel(self.compact()._buf, target.compact()._buf, loss._buf, lse._buf, count._buf, rows, cols,
                   ignore_index)
            return loss, lse, count
        counted, hit = class_hits(target, cols, ignore_index)
        m = self.max((1,), keepdims=True) if self.size else full((rows, 1), -np.inf, self.dtype, self.device)
        lse = (((self - m).exp().sum((1,), keepdims=True)).log() + m).reshape((rows,))
        picked = where(hit, self, 0.0).sum((1,))
        loss = where(counted, lse - picked, 0.0)
        return loss, lse, counted.astype(self.dtype).sum(tuple(range(counted.ndim)))

    def cross_entropy_rows_backward(self, target: "NDArray", lse: "NDArray", scale: "NDArray",
                                    ignore_index: int) -> "NDArray":
        """The gradient of ``sum_r s_r * loss[r]`` with respect to the logits (this array):
        ``s_r * (softmax(x)[r] - onehot(target[r]))``, 0 on ignored rows; ``scale`` holds ``s``,
        one per row or one for all (1 element). One pass of the backend's optional
        ``cross_entropy_rows_backward``; else array ops."""
        rows, cols = self.shape
        kernel = self._backend.cross_entropy_rows_backward if self.size else None
        if kernel is not None:
            out = NDArray._new(self.shape, self.dtype, self.device)
            kernel(self.compact()._buf, target.compact()._buf, lse.compact()._buf, scale.compact()._buf, out._buf,
                   rows, cols, ignore_index)
            return out
        counted, hit = class_hits(target, cols, ignore_index)
        p = (self - lse.reshape((rows, 1))).exp() - hit.astype(self.dtype)
        s = scale.reshape((rows, 1) if scale.size == rows else (1, 1))
        return where(counted.reshape((rows, 1)), p * s, 0.0)

    def adam_step_(self, grad: "NDArray", exp_avg: "NDArray", exp_avg_sq: "NDArray",
                   max_exp_avg_sq: "NDArray | None", *, step_size: float, beta1: float, beta2: float, eps: float,
                   bias2_sqrt: float, decay: float = 1.0, l2: float = 0.0) -> None:
        """One Adam/AdamW update of this array (the parameter) and its moment estimates, in place,
        with the arithmetic the backend interface states for ``adam_step`` (see
        :class:`~tinytorch.ndarray.interface.Backend`). One pass of the backend's ``adam_step`` when it
        has one and every array it writes is compact with this float dtype (``grad`` may be any view:
        it is compacted first); the same arithmetic as array ops (about ten passes) otherwise."""
        arrays = [self, grad, exp_avg, exp_avg_sq] + ([] if max_exp_avg_sq is None else [max_exp_avg_sq])
        for a in arrays[1:]:
            if a.shape != self.shape or a.device != self.device:
                raise ValueError(f"adam_step_: every array needs shape {self.shape} on {self.device}, "
                                 f"got {a.shape} on {a.device}")
        kernel = self._backend.adam_step  # an optional function: None where the backend has none
        written = arrays[:1] + arrays[2:]  # the kernel writes these in place; it reads grad compacted
        if kernel is not None and all(a.dtype is self.dtype and a.is_compact() for a in written) \
                and grad.dtype is self.dtype and self.dtype.is_floating_point:
            kernel(self._buf, grad.compact()._buf, exp_avg._buf, exp_avg_sq._buf,
                   None if max_exp_avg_sq is None else max_exp_avg_sq._buf, step_size=step_size, beta1=beta1,
                   beta2=beta2, eps=eps, bias2_sqrt=bias2_sqrt, decay=decay, l2=l2)
            return
        g = grad + self * l2 if l2 else grad
        exp_avg.add_((g - exp_avg) * (1 - beta1))
        exp_avg_sq.mul_(beta2).add_(g * g * (1 - beta2))
        v = exp_avg_sq
        if max_exp_avg_sq is not None:
            max_exp_avg_sq[...] = max_exp_avg_sq.maximum(exp_avg_sq)
            v = max_exp_avg_sq
        if decay != 1:
            self.mul_(decay)
        self.add_(exp_avg / (v.sqrt() / bias2_sqrt + eps) * -step_size)

    def maximum(self, other: Any) -> "NDArray":
        if self.dtype is bool_ and isinstance(other, NDArray) and other.dtype is bool_:
            return self | other  # numpy's maximum of bools: a bool (the kernels would compute in int64)
        return self._binary(other, "maximum")

    # The further binary ops of the interface (MORE_BINARY_OPS). ``reverse=True`` computes
    # ``op(other, self)``, for a scalar on the left.
    def atan2(self, o: Any, reverse: bool = False) -> "NDArray": return self._binary(o, "atan2", reverse)
    def copysign(self, o: Any, reverse: bool = False) -> "NDArray": return self._binary(o, "copysign", reverse)
    def fmod(self, o: Any, reverse: bool = False) -> "NDArray": return self._binary(o, "fmod", reverse)
    def remainder(self, o: Any, reverse: bool = False) -> "NDArray": return self._binary(o, "remainder", reverse)
    def floor_divide(self, o: Any, reverse: bool = False) -> "NDArray": return self._binary(o, "floor_divide", reverse)
    def trunc_divide(self, o: Any, reverse: bool = False) -> "NDArray": return self._binary(o, "trunc_divide", reverse)
    def bitwise_and(self, o: Any, reverse: bool = False) -> "NDArray": return self._binary(o, "bitwise_and", reverse)
    def bitwise_or(self, o: Any, reverse: bool = False) -> "NDArray": return self._binary(o, "bitwise_or", reverse)
    def bitwise_xor(self, o: Any, reverse: bool = False) -> "NDArray": return self._binary(o, "bitwise_xor", reverse)
    def left_shift(self, o: Any, reverse: bool = False) -> "NDArray": return self._binary(o, "left_shift", reverse)
    def right_shift(self, o: Any, reverse: bool = False) -> "NDArray": return self._binary(o, "right_shift", reverse)

    def bitwise_not(self) -> "NDArray":
        """``~x`` of an int64 array, ``not x`` of a bool one (TypeError for floats)."""
        if self.dtype.is_floating_point:
            raise TypeError(f"bitwise_not takes int64 or bool arrays, got {self.dtype.name}")
        a = self.compact()
        out = NDArray._new(self.shape, self.dtype, self.device)
        self._backend.ewise_bitwise_not(a._buf, out._buf)
        return out

    def minimum(self, other: Any) -> "NDArray":
        if self.dtype is bool_ and isinstance(other, NDArray) and other.dtype is bool_:
            return self & other
        return self._binary(other, "minimum")

    def __neg__(self) -> "NDArray":
        return self._unary("neg")

    def __abs__(self) -> "NDArray":
        return self._unary("abs")

    def __invert__(self) -> "NDArray":
        if self.dtype is not bool_:
            raise TypeError(f"~ is only defined for bool arrays here, got {self.dtype.name}")
        return self == False  # noqa: E712

    def __and__(self, other: "NDArray") -> "NDArray":
        self._check_logical(other)
        return where(self, other, False)  # a select on bytes: no int64 copies

    def __or__(self, other: "NDArray") -> "NDArray":
        self._check_logical(other)
        return where(self, True, other)

    def _check_logical(self, other: Any) -> None:
        if isinstance(other, (bool, np.bool_)):
            return
        if self.dtype is not bool_ or getattr(other, "dtype", None) is not bool_:
            raise TypeError("& and | are only defined between bool arrays here")

    def _unary(self, fn: str) -> "NDArray":
        dtype = self.dtype
        if fn in _FLOAT_ONLY and not dtype.is_floating_point:
            dtype = float32  # exp(int) is a float, as in PyTorch
        elif dtype is bool_:
            dtype = int64
        a = self.astype(dtype).compact()
        out = NDArray._new(self.shape, dtype, self.device)
        getattr(self._backend, f"ewise_{fn}")(a._buf, out._buf)
        return out

    def exp(self) -> "NDArray": return self._unary("exp")
    def log(self) -> "NDArray": return self._unary("log")
    def sqrt(self) -> "NDArray": return self._unary("sqrt")
    def sin(self) -> "NDArray": return self._unary("sin")
    def cos(self) -> "NDArray": return self._unary("cos")
    def tanh(self) -> "NDArray": return self._unary("tanh")
    def sigmoid(self) -> "NDArray": return self._unary("sigmoid")
    def relu(self) -> "NDArray": return self._unary("relu")
    def erf(self) -> "NDArray": return self._unary("erf")
    def floor(self) -> "NDArray": return self._unary("floor")
    def ceil(self) -> "NDArray": return self._unary("ceil")
    def trunc(self) -> "NDArray": return self._unary("trunc")
    def round(self) -> "NDArray": return self._unary("round")
    def log1p(self) -> "NDArray": return self._unary("log1p")
    def expm1(self) -> "NDArray": return self._unary("expm1")
    def asin(self) -> "NDArray": return self._unary("asin")
    def acos(self) -> "NDArray": return self._unary("acos")
    def atan(self) -> "NDArray": return self._unary("atan")
    def sinh(self) -> "NDArray": return self._unary("sinh")
    def cosh(self) -> "NDArray": return self._unary("cosh")
    def asinh(self) -> "NDArray": return self._unary("asinh")
    def acosh(self) -> "NDArray": return self._unary("acosh")
    def atanh(self) -> "NDArray": return self._unary("atanh")
    def erfc(self) -> "NDArray": return self._unary("erfc")
    def erfinv(self) -> "NDArray": return self._unary("erfinv")
    def sign(self) -> "NDArray": return self._unary("sign")
    def abs(self) -> "NDArray": return self._unary("abs")

    # --- reductions -------------------------------------------------------------------------------
    def _reduce(self, op: str, axis: Any, keepdims: bool) -> "NDArray":
        ndim, shape = len(self.shape), self.shape
        axes = st.normalize_axes(axis, ndim)
        first = ndim - len(axes)
        trailing = axes == tuple(range(first, ndim))  # the reduced axes are the last ones
        kept = list(range(first)) if trailing else [i for i in range(ndim) if i not in axes]
        reduce_size = prod(shape[i] for i in axes)
        out_shape = shape[:first] if trailing else tuple(shape[i] for i in kept)
        dtype = self.dtype
        if op == "sum" and not dtype.is_floating_point:
            dtype = int64  # summing bools/ints gives int64, as in PyTorch
        elif dtype is bool_:
            dtype = int64  # backends reduce numbers; max/min of bools are cast back below
        if reduce_size == 0 and op != "sum":
            raise ValueError(f"cannot compute {op} over an empty axis of an array of shape {shape}")
        a = self.astype(dtype)
        out = NDArray._new(out_shape, int64 if op[0] == "a" else dtype, self.device)  # argmax/argmin: int64
        backend = self.device.backend
        moved = a if trailing else a.permute(kept + list(axes))  # the reduced axes last: what reduce_<op> wants
        # the optional reduce_axis_<op> of sum/max/min (None where the backend has none)
        middle = getattr(backend, "reduce_axis_" + op) if op in ("sum", "max", "min") and not trailing else None
        if (middle is not None and axes and not moved.is_compact() and a.is_compact()
                and axes[-1] - axes[0] == len(axes) - 1):
            # the reduced axes are one run in the middle of a compact array (a sum over the batch
            # axis, say): a backend that has reduce_axis_<op> reduces it there, with no transpose
            middle(a._buf, out._buf, reduce_size, prod(shape[axes[-1] + 1:]))
        else:
            getattr(backend, "reduce_" + op)(moved.compact()._buf, out._buf, reduce_size)
        if op in ("max", "min") and self.dtype is bool_:
            out = out.astype(bool_)
        if keepdims:  # a fresh compact array: the reduced axes come back as length-1 axes of a view
            kept_shape = tuple(1 if i in axes else n for i, n in enumerate(shape))
            out = out._view(kept_shape, _row_major_strides(kept_shape))
        return out

    def sum(self, axis: Any = None, keepdims: bool = False) -> "NDArray":
        return self._reduce("sum", axis, keepdims)

    def max(self, axis: Any = None, keepdims: bool = False) -> "NDArray":
        return self._reduce("max", axis, keepdims)

    def min(self, axis: Any = None, keepdims: bool = False) -> "NDArray":
        return self._reduce("min", axis, keepdims)

    def argmax(self, axis: int | None = None, keepdims: bool = False) -> "NDArray":
        return self._arg("argmax", axis, keepdims)

    def argmin(self, axis: int | None = None, keepdims: bool = False) -> "NDArray":
        return self._arg("argmin", axis, keepdims)

    def _arg(self, op: str, axis: int | None, keepdims: bool) -> "NDArray":
        if axis is None:
            out = self.reshape(-1)._reduce(op, 0, False)
            return out.reshape((1,) * self.ndim) if keepdims else out
        if not isinstance(axis, numbers.Integral):
            raise TypeError(f"{op} takes a single int axis, got {axis!r}")
        return self._reduce(op, axis, keepdims)

    # --- scans and sorting -----------------------------------------------------------------------------
    # A scan is ceil(log2 n) array ops over shifted slices (Hillis-Steele, see :func:`prefix_scan`),
    # built from the mandatory kernels, so it runs on every backend; sorting runs on the host.
    def cumsum(self, axis: int) -> "NDArray":
        """Running sums along ``axis`` (bools and integers sum in int64, as in PyTorch)."""
        a = self if self.dtype.is_floating_point else self.astype(int64)
        return prefix_scan((a,), axis, lambda e, l: (e[0] + l[0],))[0]

    def cumprod(self, axis: int) -> "NDArray":
        """Running products along ``axis`` (bools and integers multiply in int64)."""
        a = self if self.dtype.is_floating_point else self.astype(int64)
        return prefix_scan((a,), axis, lambda e, l: (e[0] * l[0],))[0]

    def cummax(self, axis: int) -> tuple["NDArray", "NDArray"]:
        """``(values, indices)``: the running maximum along ``axis`` and where it was last seen
        (a tie moves the index forward, a NaN wins and stays, as in PyTorch)."""
        return self._running_extreme(axis, lambda later, earlier: later >= earlier)

    def cummin(self, axis: int) -> tuple["NDArray", "NDArray"]:
        """``(values, indices)``: the running minimum, with :meth:`cummax`'s rules."""
        return self._running_extreme(axis, lambda later, earlier: later <= earlier)

    def _running_extreme(self, axis: int, wins: Any) -> tuple["NDArray", "NDArray"]:
        axis = st.normalize_axis(axis, max(self.ndim, 1))
        positions = array(np.arange(self.shape[axis] if self.ndim else 1, dtype=np.int64), device=self.device)
        positions = positions.reshape(tuple(-1 if i == axis else 1 for i in range(self.ndim)))

        def combine(e: tuple, l: tuple) -> tuple:
            take = wins(l[0], e[0]) | (l[0] != l[0])  # the later window wins ties and NaN
            return where(take, l[0], e[0]), where(take, l[1], e[1])

        values, indices = prefix_scan((self, positions.broadcast_to(self.shape)), axis, combine)
        return values, indices

    def logcumsumexp(self, axis: int) -> "NDArray":
        """``log(cumsum(exp(a)))`` along ``axis`` without overflow: each step combines two
        partial results as ``max + log1p(exp(-|a - b|))`` (equal infinities give themselves)."""
        if not self.dtype.is_floating_point:
            raise TypeError(f"logcumsumexp needs a floating-point array, got {self.dtype.name}")

        def combine(e: tuple, l: tuple) -> tuple:
            a, b = e[0], l[0]
            gap = where(a == b, 0.0, -(a - b).abs())
            return (a.maximum(b) + gap.exp().log1p(),)

        return prefix_scan((self,), axis, combine)[0]

    def argsort(self, axis: int = -1, descending: bool = False, stable: bool = False) -> "NDArray":
        """The int64 indices that sort the array along ``axis``, NaN ordered as the largest value
        and equal values in their original order (a stable sort, whatever ``stable`` says: the
        stable order is one of the orders an unstable sort may give). Sorted on the host with
        numpy's stable sort for every backend: the values go to the host and the indices come
        back (the C backend's buffers are host memory; on a GPU it costs two transfers)."""
        if self.ndim == 0:
            st.normalize_axis(axis, 1)
            return zeros((), dtype=int64, device=self.device)
        axis = st.normalize_axis(axis, self.ndim)
        host = self.numpy()
        if descending:  # sort the reversed rows ascending and reverse back: ties keep their order
            order = np.flip(np.argsort(np.flip(host, axis), axis=axis, kind="stable"), axis)
            order = host.shape[axis] - 1 - order
        else:
            order = np.argsort(host, axis=axis, kind="stable")
        return array(order.astype(np.int64), device=self.device)

    # --- matmul ------------------------------------------------------------------------------------
    def __matmul__(self, other: "NDArray") -> "NDArray":
        return matmul(self, other)

    def __rmatmul__(self, other: "NDArray") -> "NDArray":
        return matmul(other, self)

    # --- padding -------------------------------------------------------------------------------------
    def pad(self, pad_width: Sequence[tuple[int, int]], value: Any = 0) -> "NDArray":
        """A new array with ``pad_width[i] = (before, after)`` elements of ``value`` around axis i."""
        if len(pad_width) != self.ndim:
            raise ValueError(f"pad needs one (before, after) pair per axis: {self.ndim} for shape {self.shape}, "
                             f"got {len(pad_width)}")
        if any(b < 0 or a < 0 for b, a in pad_width):
            raise ValueError(f"pad widths must be non-negative, got {tuple(pad_width)}")
        shape = tuple(n + b + a for n, (b, a) in zip(self.shape, pad_width))
        out = full(shape, value, dtype=self.dtype, device=self.device)
        out[tuple(slice(b, b + n) for n, (b, _) in zip(self.shape, pad_width))] = self
        return out


# --- module-level helpers -------------------------------------------------------------------------
#: row_major_strides, remembered for the few hundred shapes a program uses over and over
_row_major_strides = functools.lru_cache(maxsize=4096)(st.row_major_strides)
_COMPARISONS = {"eq", "ne", "lt", "le", "gt", "ge"}
_STRIDED_OPS = {"add", "sub", "mul", "div"}  # the ops of the optional ewise_strided
_SQRT_HALF = 0.7071067811865476  # 1 / sqrt(2), for the GELU
_INV_SQRT_2PI = 0.3989422804014327  # 1 / sqrt(2 pi), the normal density's factor
_FLOAT_ONLY = set(UNARY_OPS_FLOAT)
#: the ops with a ``scalar_r<op>`` kernel
_REVERSIBLE = set(REVERSED_SCALAR_OPS + MORE_BINARY_OPS)
_TO_FLOAT = {"div", *FLOAT_BINARY_OPS}
_KEEP_BOOL = _COMPARISONS | set(BITWISE_OPS)


def _op_dtype(op: str, dtype: DType) -> DType:
    """The dtype a binary op computes in: true division, atan2 and copysign of integers are
    float32; arithmetic on bools runs in int64 (bitwise and/or/xor keep bool)."""
    if op in _TO_FLOAT and not dtype.is_floating_point:
        return float32
    if op not in _KEEP_BOOL and dtype is bool_:
        return int64
    return dtype


def _is_scalar(v: Any) -> bool:
    return isinstance(v, Scalar) or (isinstance(v, np.ndarray) and v.ndim == 0)


def _scalar_bools(key: Any) -> Any:
    """``key`` with each 0-d boolean (``np.True_``, a 0-d bool array) as a Python bool, which
    the stride arithmetic reads as a new axis of length 1 (True) or 0 (False)."""
    def plain(k: Any) -> Any:
        if isinstance(k, (NDArray, np.ndarray, np.bool_)) and k.ndim == 0 and k.dtype in (bool_, np.bool_):
            return bool(k.item())
        return k
    return tuple(plain(k) for k in key) if isinstance(key, tuple) else plain(key)


def _needs_advanced(entries: list[Any]) -> bool:
    """An expanded key that gathers: one with an array, or with two bools or more (0-d masks
    broadcast together like arrays; one alone is a new axis, the same as the gather would give)."""
    return any(_is_advanced(k) for k in entries) or sum(isinstance(k, bool) for k in entries) > 1


def _is_advanced(k: Any) -> bool:
    return not (k is None or isinstance(k, (slice, numbers.Integral)))


def _is_bool_mask(k: Any) -> bool:
    if isinstance(k, NDArray):
        return k.dtype is bool_
    if isinstance(k, (list, np.ndarray)):
        return np.asarray(k).dtype == np.bool_
    return False


class _BoolIndex:
    """A bool among advanced indices: the index array ``[0]`` (True) or ``[]`` (False)."""

    def __init__(self, value: bool):
        self.indices = np.zeros(int(value), dtype=np.int64)


def _index_array(k: Any, n: int, dev: Device) -> NDArray:
    """An int64 index array for an axis of length ``n``, negatives wrapped, bounds checked."""
    if isinstance(k, _BoolIndex):
        k = k.indices
    if not isinstance(k, NDArray) and np.size(k) == 0:
        k = np.zeros(np.shape(k), dtype=np.int64)  # `x[[]]` selects nothing (an empty list has no dtype)
    idx = k if isinstance(k, NDArray) else array(k, device=dev)
    if idx.device != dev:
        raise RuntimeError(f"indices on {idx.device} cannot index an array on {dev}")
    if idx.dtype is not int64:
        if idx.dtype.is_floating_point:
            raise IndexError("tensors used as indices must be long, int or bool tensors")
        idx = idx.astype(int64)
    return index_in_range(idx, -n, n, lambda v: IndexError(f"index {v} is out of bounds for dimension with size {n}"))


def index_in_range(idx: NDArray, low: int, size: int, error: Callable[[int], Exception]) -> NDArray:
    """The int64 indices ``idx`` checked against ``[low, size)`` before anything reads or writes
    with them (``error(first bad entry)`` is raised otherwise), negative ones counted from the
    end (``low < 0``: ``-1`` is ``size - 1``). Returns ``idx`` itself when it has no negatives."""
    if not idx.size:
        return idx
    lo = check(functools.partial(_check_range, low=low, size=size, error=error), idx)
    # a recorded program must wrap whatever a replay's indices hold: no choice made on the values
    if lo < 0 or (low < 0 and active_recorder(idx.device) is not None):
        idx = idx + (idx < 0).astype(int64) * size
    return idx


def _check_range(idx: NDArray, low: int, size: int, error: Callable[[int], Exception]) -> int:
    """Raise ``error(v)`` for the first bad entry ``v`` unless every entry of ``idx`` is in
    ``[low, size)``; returns the smallest entry."""
    lo, hi = idx.min().item(), idx.max().item()
    if lo < low or hi >= size:
        raise error(lo if lo < low else hi)
    return lo


def check_class_targets(target: NDArray, classes: int, ignore_index: int) -> None:
    """Raise ``IndexError`` naming the first class index in ``target`` that is neither in
    ``[0, classes)`` nor ``ignore_index``, as PyTorch. The usual case, every target a class,
    costs two reductions."""
    if not target.size or (target.min().item() >= 0 and target.max().item() < classes):
        return
    bad = ((target != ignore_index) & ((target < 0) | (target >= classes))).numpy()
    if bad.any():
        raise IndexError(f"Target {int(target.numpy()[bad][0])} is out of bounds (input has {classes} classes).")


def class_hits(target: NDArray, cols: int, ignore_index: int) -> tuple[NDArray, NDArray]:
    """For class indices ``target`` (rows,): the rows counted (``target != ignore_index``) and
    the (rows, cols) one-hot of the counted targets; a target that is neither a class nor
    ``ignore_index`` raises ``IndexError`` (a check a recorded program repeats)."""
    check(functools.partial(check_class_targets, classes=cols, ignore_index=ignore_index), target)
    counted = target != ignore_index
    classes = array(np.arange(cols).reshape(1, cols), device=target.device)
    return counted, (target.reshape((target.size, 1)) == classes) & counted.reshape((target.size, 1))


def _masks_to_indices(entries: list[Any], shape: Shape) -> list[Any]:
    """Replace each boolean mask by the integer arrays of its True positions (one per axis)."""
    out: list[Any] = []
    axis = 0
    for k in entries:
        if _is_bool_mask(k):
            mask = k.numpy() if isinstance(k, NDArray) else np.asarray(k)
            if mask.shape != shape[axis: axis + mask.ndim]:
                raise IndexError(f"the shape of the mask {mask.shape} does not match the shape "
                                 f"{shape[axis: axis + mask.ndim]} of the indexed axes")
            out.extend(mask.nonzero())
            axis += mask.ndim
        else:
            out.append(k)
            axis += not (k is None or isinstance(k, bool))
    return out


def _offset_grid(shape: Shape, strides: Strides, offset: int, dev: Device) -> NDArray:
    """An int64 array of ``shape`` whose element at index i is ``offset + sum(i * strides)``."""
    grid = np.full(shape, offset, dtype=np.int64)
    for axis, (n, s) in enumerate(zip(shape, strides)):
        grid += (np.arange(n, dtype=np.int64) * s).reshape((n,) + (1,) * (len(shape) - axis - 1))
    return array(grid, device=dev)


def matmul(a: NDArray, b: NDArray) -> NDArray:
    """numpy's ``matmul``: 2-D products, batched with broadcast batch axes, and 1-D operands
    promoted to a row (left) or column (right) then squeezed."""
    if a.ndim == 0 or b.ndim == 0:
        raise RuntimeError("both arguments to matmul need to be at least 1D, got "
                           f"{a.ndim}D and {b.ndim}D")
    if a.device is not b.device and a.device != b.device:
        raise RuntimeError(f"expected all arrays on the same device, got {a.device} and {b.device}")
    backend = a.device.backend
    # a backend that can read strided operands (the C backend packs them anyway) gets the views
    # as they are: a transposed weight or a batch broadcast from one matrix is then never copied
    strided = backend.matmul_strided  # optional: None where the backend has none
    if strided is not None and a.ndim == 2 and b.ndim == 2 and a.dtype is b.dtype and a.shape[1] == b.shape[0] \
            and a.dtype is not bool_:  # the common case, straight through
        out = NDArray._new((a.shape[0], b.shape[1]), a.dtype, a.device)
        strided(a._buf, (0,) + a.strides, a.offset, b._buf, (0,) + b.strides, b.offset, out._buf,
                a.shape[0], a.shape[1], b.shape[1], 1)
        return out
    a_vector, b_vector = a.ndim == 1, b.ndim == 1
    if a_vector:
        a = a.reshape((1, a.shape[0]))
    if b_vector:
        b = b.reshape((b.shape[0], 1))
    (m, n), (n2, p) = a.shape[-2:], b.shape[-2:]
    if n != n2:
        raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({m}x{n} and {n2}x{p}); "
                           f"operand shapes {a.shape} and {b.shape}")
    dtype = promote_types(a.dtype, b.dtype)
    if dtype is bool_:
        dtype = int64
    batch_shape = st.broadcast_shapes(a.shape[:-2], b.shape[:-2]) if a.ndim > 2 or b.ndim > 2 else ()
    batch = prod(batch_shape)
    a = a.astype(dtype).broadcast_to(batch_shape + (m, n))
    b = b.astype(dtype).broadcast_to(batch_shape + (n, p))
    out = NDArray._new(batch_shape + (m, p), dtype, a.device)
    a_view, b_view = _matrix_batch_view(a), _matrix_batch_view(b)
    if strided is not None and a_view is not None and b_view is not None:
        strided(a._buf, a_view, a.offset, b._buf, b_view, b.offset, out._buf, m, n, p, batch)
    elif strided is not None and len(batch_shape) == 2:  # two batch axes that do not merge: as they are
        strided(a._buf, a.strides, a.offset, b._buf, b.strides, b.offset, out._buf, m, n, p, batch_shape)
    else:
        a, b = a.compact(), b.compact()
        backend.matmul(a._buf, b._buf, out._buf, m, n, p, batch)
    if b_vector:
        out = out.squeeze(out.ndim - 1)
    if a_vector:
        out = out.squeeze(out.ndim - 1 if b_vector else out.ndim - 2)
    return out


def _matrix_batch_view(x: NDArray) -> Strides | None:
    """The strides of ``x`` (a batch of matrices, any number of batch axes) seen as one batch
    axis and two matrix axes, or None when its batch axes cannot be merged into one."""
    if x.ndim == 2:
        return (0,) + x.strides
    batch_strides = st.reshape_view(x.shape[:-2], x.strides[:-2], (prod(x.shape[:-2]),))
    return None if batch_strides is None else batch_strides + x.strides[-2:]


def prefix_scan(arrays: tuple[NDArray, ...], axis: int, combine: Any) -> tuple[NDArray, ...]:
    """The inclusive scan of ``arrays`` (same shape, read together as one sequence of tuples)
    along ``axis``: element k becomes ``x[0] . x[1] . ... . x[k]`` for the associative
    ``combine(earlier, later)``, which maps two tuples of equal-shaped arrays to one tuple.

    Hillis-Steele: after the step with shift s, element k holds the combination of the window
    ``(k - 2s, k]``, so ``ceil(log2 n)`` steps each combine a shifted slice with the state --
    O(log n) array ops of O(n) work each, no Python loop over elements. Returns new arrays."""
    state = tuple(a.copy() for a in arrays)
    if not state[0].ndim:
        return state
    axis = st.normalize_axis(axis, state[0].ndim)
    n = state[0].shape[axis]
    shift = 1
    while shift < n:
        later = tuple(axis * (slice(None),) + (slice(shift, None),))
        earlier = tuple(axis * (slice(None),) + (slice(0, n - shift),))
        merged = combine(tuple(s[earlier] for s in state), tuple(s[later] for s in state))
        state = tuple(s.copy() for s in state)
        for s, m in zip(state, merged):
            s[later] = m
        shift *= 2
    return state


def where(cond: NDArray, a: Any, b: Any) -> NDArray:
    """Elementwise ``a if cond else b`` with broadcasting and dtype promotion."""
    dev = cond.device
    a = a if isinstance(a, NDArray) else array(a, device=dev, dtype=_scalar_dtype(a, b))
    b = b if isinstance(b, NDArray) else array(b, device=dev, dtype=_scalar_dtype(b, a))
    if not (cond.device == a.device == b.device):
        raise RuntimeError(f"expected all arrays on the same device, got {cond.device}, {a.device}, {b.device}")
    dtype = promote_types(a.dtype, b.dtype)
    shape = st.broadcast_shapes(cond.shape, a.shape, b.shape)
    c = cond.astype(bool_).broadcast_to(shape).compact()
    a = a.astype(dtype).broadcast_to(shape).compact()
    b = b.astype(dtype).broadcast_to(shape).compact()
    out = NDArray._new(shape, dtype, dev)
    dev.backend.where(c._buf, a._buf, b._buf, out._buf)
    return out


def causal_bias(rows: int, cols: int, like: NDArray) -> NDArray:
    """``(rows, cols)``: 0 where key ``j <= i`` (query ``i`` may see it), -inf above the diagonal
    (attention's causal mask as an additive bias); of ``like``'s dtype and device."""
    return array(np.triu(np.full((rows, cols), -np.inf), 1), dtype=like.dtype, device=like.device)


def _scalar_dtype(value: Any, other: Any) -> DType | None:
    """A scalar next to an array takes the array's dtype when that keeps its category."""
    if _is_scalar(value) and isinstance(other, NDArray):
        return result_type_with_scalar(other.dtype, value)
    return None


# --- constructors ------------------------------------------------------------------------------------
def array(data: Any, dtype: Any = None, device: Any = None) -> NDArray:
    """A new compact array holding a copy of ``data`` (nested lists, numpy array, scalar or NDArray)."""
    if isinstance(data, NDArray):
        return data.astype(dtype if dtype is not None else data.dtype).to(
            device if device is not None else data.device).copy()
    dev = as_device(device)
    dt = as_dtype(dtype) if dtype is not None else infer_dtype(data)
    if dt is int64 and isinstance(data, (np.ndarray, np.generic)) and data.dtype == np.uint64 and data.size:
        top = int(np.max(data))
        if top > np.iinfo(np.int64).max:  # the cast below would wrap it to a negative number
            raise ValueError(f"uint64 value {top} does not fit in int64, the widest integer tinytorch stores")
    host = np.asarray(data, dtype=dt.np_dtype, order="C")
    return NDArray(dev.backend.from_numpy(host.reshape(-1)), host.shape,
                   st.row_major_strides(host.shape), 0, dt, dev)


def empty(shape: Sequence[int], dtype: Any = float32, device: Any = None) -> NDArray:
    """A new compact array with unspecified values."""
    return NDArray.make(_shape(shape), as_dtype(dtype), as_device(device))


def full(shape: Sequence[int], value: Any, dtype: Any = None, device: Any = None) -> NDArray:
    """A new compact array with every element equal to ``value``."""
    dt = as_dtype(dtype) if dtype is not None else infer_dtype(value)
    out = NDArray.make(_shape(shape), dt, as_device(device))
    out._backend.fill(out._buf, value)
    return out


def zeros(shape: Sequence[int], dtype: Any = float32, device: Any = None) -> NDArray:
    return full(shape, 0, dtype, device)


def ones(shape: Sequence[int], dtype: Any = float32, device: Any = None) -> NDArray:
    return full(shape, 1, dtype, device)


def _shape(shape: Any) -> Shape:
    if isinstance(shape, numbers.Integral):
        return (int(shape),)
    try:
        return tuple(operator.index(s) for s in shape)
    except TypeError:
        raise TypeError(f"shape must be a sequence of ints, got {shape!r}") from None
