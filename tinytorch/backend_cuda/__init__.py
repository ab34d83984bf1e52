"""The CUDA backend (device ``"cuda"``): the backend interface as CUDA kernels, run with pycuda.

The kernels live next to this file in plain ``.cu`` files, one kernel per interface
function and element type, named like the numpy backend's functions plus the dtype
(``ewise_add_float32``, ``reduce_argmax_int64``, ...):

=================  ==========================================================================
``memory.cu``      ``fill``, ``cast``, and the stride-aware ``compact``, ``ewise_setitem``,
                   ``scalar_setitem``
``elementwise.cu`` ``ewise_<op>``, ``scalar_<op>``, ``scalar_r<op>``, ``ewise_<fn>``, ``where``
``reduce.cu``      ``reduce_sum/max/min/argmax/argmin`` (warp-shuffle tree reductions)
``matmul.cu``      ``matmul`` (shared-memory and register tiled, batched)
``indexing.cu``    ``gather``, ``scatter``, ``scatter_add/mul/max/min`` (atomics)
=================  ==========================================================================

The optional fast paths of the interface (``matmul_strided``, ``reduce_axis_<op>``,
``adam_step``) have no CUDA kernels yet: they are ``None`` here, and NDArray and optim.Adam
take their generic paths.

This module is the binding: it validates every call *before* launching (sizes, dtypes,
that every element a view reaches lies inside its buffer, that gather/scatter indices
are in range -- raising the same exception classes as the numpy backend), then launches
the kernel. Each ``.cu`` file is compiled once per process, on first use, with pycuda's
``SourceModule`` (which also keeps the compiled cubin in a disk cache).

Buffers are :class:`Buffer` objects: flat GPU allocations from a pycuda memory pool with
``.size`` and ``.dtype`` (a numpy dtype). ``from_numpy``/``to_numpy`` are the only host
copies; ops never move data through the host. The exceptions are tiny and explicit:
checking the range of an index buffer (gather/scatter) or the sign of integer exponents
reads two int64 values back from the GPU.

Importing this module raises ``ImportError`` with the reason and the fix when pycuda, the
NVIDIA driver, a GPU or ``nvcc`` is missing; the device registry turns that into the
user's ``RuntimeError("device 'cuda' is not available: ...")``. Kernels are launched on
the default stream of the GPU's primary context, from the thread that imported the module.
"""

from __future__ import annotations

import atexit
import importlib.util
import operator
import os
import shutil
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..ndarray.interface import (
    BITWISE_OPS,
    COMPARISON_OPS,
    DIVISION_OPS,
    FLOAT_BINARY_OPS,
    SHIFT_OPS,
    UNARY_OPS_FLOAT,
    Shape,
    Strides,
    prod,
)
from ..ndarray.strides import check_view

name = "cuda"

_INSTALL_HINT = "pip install 'tinytorch[cuda]' on a machine with a CUDA toolkit and driver"


# --- start-up: find pycuda, the driver, a GPU and nvcc, or explain what is missing ---------------
def _find_nvcc() -> str | None:
    """The nvcc pycuda should call: on PATH, else in $CUDA_HOME/$CUDA_PATH or /usr/local/cuda."""
    found = shutil.which("nvcc")
    if found:
        return found
    for root in (os.environ.get("CUDA_HOME"), os.environ.get("CUDA_PATH"), "/usr/local/cuda"):
        if root and os.access(os.path.join(root, "bin", "nvcc"), os.X_OK):
            return os.path.join(root, "bin", "nvcc")
    return None


def _start() -> tuple[Any, Any, Any, Any, str, int]:
    """Import pycuda, make the first GPU's primary context current; raise ImportError if impossible."""
    if importlib.util.find_spec("pycuda") is None:
        raise ImportError(f"pycuda is not installed: {_INSTALL_HINT}")
    try:
        import pycuda.driver as drv
    except Exception as e:  # typically libcuda.so (the driver library) cannot be loaded
        raise ImportError(f"pycuda is installed but cannot load the NVIDIA driver library ({e}); "
                          "install the NVIDIA driver, or rebuild pycuda against this machine's CUDA") from e
    try:
        import pycuda.compiler as compiler
        import pycuda.tools as tools
    except Exception as e:
        raise ImportError(f"pycuda is installed but cannot be imported ({e}); reinstall it: {_INSTALL_HINT}") from e
    try:
        drv.init()
        count = drv.Device.count()
    except Exception as e:  # pycuda raises its own error classes; the registry needs ImportError
        raise ImportError(f"no usable NVIDIA driver or GPU: cuInit failed ({e})") from e
    if count == 0:
        raise ImportError("no CUDA GPU found: the NVIDIA driver sees 0 devices")
    nvcc = _find_nvcc()
    if nvcc is None:
        raise ImportError("nvcc (the CUDA toolkit's compiler) was not found on PATH, in $CUDA_HOME or in "
                          "/usr/local/cuda: the CUDA backend compiles its kernels with it on first use")
    try:
        dev = drv.Device(0)
        major, minor = dev.compute_capability()
        if (major, minor) < (6, 0):
            raise ImportError(f"GPU {dev.name()} has compute capability {major}.{minor}; the CUDA backend "
                              "needs 6.0 or newer (float64 atomicAdd)")
        ctx = dev.retain_primary_context()
        ctx.push()
        sm_count = int(dev.get_attribute(drv.device_attribute.MULTIPROCESSOR_COUNT))
        pool = tools.DeviceMemoryPool()
    except ImportError:
        raise
    except Exception as e:
        raise ImportError(f"cannot open a CUDA context on GPU 0: {e}") from e

    def _finish() -> None:  # mirrors pycuda.autoprimaryctx; errors at interpreter exit are moot
        try:
            pool.free_held()
            ctx.pop()
            tools.clear_context_caches()
        except Exception:
            pass

    atexit.register(_finish)
    return drv, compiler, tools, pool, nvcc, sm_count


_drv, _compiler, _tools, _pool, _NVCC, _SM_COUNT = _start()

#: Threads per block of every launch (the kernels' TT_BLOCK).
_BLOCK = (256, 1, 1)
#: Grid-stride kernels get at most this many blocks: enough to fill every SM several times.
_MAX_BLOCKS = 32 * _SM_COUNT
_MAX_GRID_YZ = 65535
_MAX_DIMS = 16  # TT_MAX_DIMS in common.cuh


# --- buffers --------------------------------------------------------------------------------------
_SUFFIX = {np.dtype(np.float32): "float32", np.dtype(np.float64): "float64",
           np.dtype(np.int64): "int64", np.dtype(np.bool_): "bool"}
#: pycuda ``prepare`` format character of a scalar kernel parameter of each dtype
#: (bool travels as one unsigned byte holding 0 or 1, which is what a C++ bool is).
_SCALAR_FORMAT = {"float32": "f", "float64": "d", "int64": "q", "bool": "B"}
_INT64 = np.dtype(np.int64)
_BOOL = np.dtype(np.bool_)


class Buffer(tuple):
    """A flat array of ``size`` elements of ``dtype`` in GPU memory.

    The memory comes from a pycuda ``DeviceMemoryPool`` and goes back to it when the
    Buffer is garbage collected, so short-lived temporaries cost no ``cudaMalloc`` and no
    device synchronisation. ``ptr`` is the device address as an int.

    Its fields are read-only (a Buffer is a tuple, the fields properties without setters): the
    size checks trust ``ptr``, ``size`` and ``dtype`` to describe the same memory, so no Python
    statement may change one. Two Buffers are equal only when they are the same Buffer.
    """

    __slots__ = ()

    def __new__(cls, size: int, dtype: np.dtype) -> "Buffer":
        nbytes = size * dtype.itemsize
        alloc = _pool.allocate(max(nbytes, 1))  # the driver refuses 0-byte allocations
        return tuple.__new__(cls, (size, dtype, nbytes, int(alloc), alloc))

    size = property(operator.itemgetter(0), doc="the number of elements")
    dtype = property(operator.itemgetter(1), doc="the numpy dtype of the elements")
    nbytes = property(operator.itemgetter(2), doc="the size in bytes")
    ptr = property(operator.itemgetter(3), doc="the device address as an int")
    _alloc = property(operator.itemgetter(4))

    def __eq__(self, other: object) -> bool:
        return self is other

    def __ne__(self, other: object) -> bool:
        return self is not other

    __hash__ = object.__hash__

    def __reduce__(self) -> Any:
        raise TypeError("a cuda Buffer cannot be copied or pickled (copy the NDArray that views it)")

    @property
    def __cuda_array_interface__(self) -> dict[str, Any]:
        """Lets CuPy/PyTorch/Numba view this buffer without a copy (used by the benchmark)."""
        return {"shape": (self.size,), "typestr": self.dtype.str, "data": (self.ptr, False),
                "version": 3, "strides": None}

    def __repr__(self) -> str:
        return f"cuda.Buffer(size={self.size}, dtype={self.dtype}, ptr={self.ptr:#x})"


def _suffix(buf: Buffer) -> str:
    return _SUFFIX[buf.dtype]


def _np_dtype(dtype: Any) -> np.dtype:
    npd = getattr(dtype, "np_dtype", None)
    npd = np.dtype(npd if npd is not None else dtype)
    if npd not in _SUFFIX:
        raise TypeError(f"the CUDA backend stores float32, float64, int64 and bool, not {npd}")
    return npd


# --- compiling and launching -------------------------------------------------------------------
_SOURCE_DIR = Path(__file__).resolve().parent
_INCLUDE = '#include "common.cuh"'


def kernel_source(stem: str) -> str:
    """The text of ``<stem>.cu`` with ``common.cuh`` pasted in place of its #include.

    pycuda caches compiled modules by a hash of the source text; pasting the header makes
    a change to it change the hash too (and spares pycuda a preprocessor run per start).
    """
    text = (_SOURCE_DIR / f"{stem}.cu").read_text()
    if _INCLUDE not in text:
        raise RuntimeError(f"{stem}.cu does not include common.cuh")
    return text.replace(_INCLUDE, (_SOURCE_DIR / "common.cuh").read_text())


@lru_cache(maxsize=None)
def _module(stem: str) -> Any:
    """Compile ``<stem>.cu`` for this GPU (once per process; pycuda also caches it on disk)."""
    return _compiler.SourceModule(kernel_source(stem), nvcc=_NVCC, options=[], no_extern_c=True)


_kernels: dict[str, Any] = {}


def _kernel(stem: str, kernel: str, fmt: str) -> Any:
    """The prepared kernel ``kernel`` of ``<stem>.cu``; ``fmt`` is its parameter list in
    pycuda's struct format (P pointer, q int64, f/d float32/float64, B bool, Ns a View)."""
    fn = _kernels.get(kernel)
    if fn is None:
        fn = _module(stem).get_function(kernel)
        fn.prepare(fmt)
        _kernels[kernel] = fn
    return fn


def _launch_1d(stem: str, kernel: str, fmt: str, n: int, *args: Any) -> None:
    """Launch a grid-stride kernel over ``n`` elements (nothing to do when n == 0)."""
    if n <= 0:
        return
    blocks = min((n + _BLOCK[0] - 1) // _BLOCK[0], _MAX_BLOCKS)
    _kernel(stem, kernel, fmt).prepared_call((blocks, 1, 1), _BLOCK, *args)


def synchronize() -> None:
    """Wait until every launched kernel has finished (for timing; ops never need it)."""
    _drv.Context.synchronize()


def device_name() -> str:
    """The name of the GPU this backend runs on, e.g. 'NVIDIA H100 80GB HBM3'."""
    return str(_drv.Context.get_device().name())


# --- checks shared by every function (same exception classes as the numpy backend) --------------
def _check_buffers(*bufs: Any) -> None:
    """Every argument must be a CUDA Buffer: a numpy array or another backend's buffer has no
    device address, and passing one would hand the kernel a wild pointer."""
    for b in bufs:
        if not isinstance(b, Buffer):
            raise TypeError(f"expected a CUDA Buffer, got {type(b).__name__}")


def _check_same_size(*bufs: Buffer) -> None:
    _check_buffers(*bufs)
    sizes = [b.size for b in bufs]
    if len(set(sizes)) != 1:
        raise ValueError(f"buffer sizes differ: {sizes}")


def _check_same_dtype(*bufs: Buffer) -> None:
    _check_buffers(*bufs)
    dts = [str(b.dtype) for b in bufs]
    if len(set(dts)) != 1:
        raise TypeError(f"buffer dtypes differ: {dts}")


def _check_out_dtype(out: Buffer, dtype: np.dtype, what: str) -> None:
    if out.dtype != dtype:
        raise TypeError(f"{what} writes {dtype}, but out is {out.dtype}")


def _check_kind(a: Buffer, what: str, kinds: str) -> None:
    """Raise TypeError unless a's dtype kind is in ``kinds`` ('f' float, 'i' int64, 'b' bool)."""
    if a.dtype.kind not in kinds:
        allowed = {"f": "float32/float64", "i": "int64", "b": "bool"}
        raise TypeError(f"{what} takes {' or '.join(allowed[k] for k in kinds)}, got {a.dtype}")


def _copy(a: Buffer) -> Buffer:
    """A new buffer with the same contents (device to device)."""
    out = Buffer(a.size, a.dtype)
    if a.nbytes:
        _drv.memcpy_dtod(out.ptr, a.ptr, a.nbytes)
    return out


def _min_max(a: Buffer) -> tuple[int, int]:
    """(min, max) of a non-empty int64 buffer, reduced on the GPU; only 16 bytes come back."""
    result = Buffer(2, _INT64)
    _reduce_launch("min", a, result.ptr, 0, 1, a.size)
    _reduce_launch("max", a, result.ptr + 8, 0, 1, a.size)
    host = np.empty(2, dtype=np.int64)
    _drv.memcpy_dtoh(host, result.ptr)
    return int(host[0]), int(host[1])


def _check_int_divisors(divisor: Buffer) -> None:
    """ZeroDivisionError if the int64 buffer holds a 0: ``divisor == 0`` and its max are
    computed on the GPU; one byte comes back."""
    if not divisor.size:
        return
    zero = Buffer(divisor.size, _BOOL)
    _launch_1d("elementwise", "scalar_eq_int64", "PPqq", divisor.size, divisor.ptr, zero.ptr, divisor.size, 0)
    found = Buffer(1, _BOOL)
    _reduce_launch("max", zero, found.ptr, 0, 1, zero.size)
    host = np.zeros(1, dtype=np.bool_)
    _drv.memcpy_dtoh(host, found.ptr)
    if host[0]:
        raise ZeroDivisionError("integer division by zero")


# --- views --------------------------------------------------------------------------------------
def _collapse(shape: Shape, strides: Strides) -> list[tuple[int, int]]:
    """The view's (size, stride) pairs with size-1 axes dropped and each axis merged into
    the one before it when the two are contiguous -- the same elements in the same order,
    with fewer divisions per element in the kernel (a compact view becomes one axis)."""
    dims: list[tuple[int, int]] = []
    for n, s in zip(shape, strides):
        if n == 1:
            continue
        if dims and dims[-1][1] == s * n:
            dims[-1] = (dims[-1][0] * n, s)
        else:
            dims.append((n, s))
    return dims


def _view_arg(dims: list[tuple[int, int]], offset: int) -> bytes:
    """The ``View`` struct of common.cuh: ndim, offset, shape[16], strides[16] as int64."""
    if len(dims) > _MAX_DIMS:
        raise ValueError(f"the CUDA backend handles views of at most {_MAX_DIMS} non-contiguous axes, "
                         f"got {len(dims)}")
    packed = np.zeros(2 + 2 * _MAX_DIMS, dtype=np.int64)
    packed[0], packed[1] = len(dims), offset
    for d, (n, s) in enumerate(dims):
        packed[2 + d], packed[2 + _MAX_DIMS + d] = n, s
    return packed.tobytes()


_VIEW_FORMAT = f"{(2 + 2 * _MAX_DIMS) * 8}s"


def _contiguous(dims: list[tuple[int, int]]) -> bool:
    """True when the collapsed view is one run of consecutive elements."""
    return len(dims) == 0 or (len(dims) == 1 and dims[0][1] == 1)


# --- memory -------------------------------------------------------------------------------------
def alloc(size: int, dtype: Any) -> Buffer:
    if size < 0:
        raise ValueError(f"cannot allocate a buffer of negative size {size}")
    return Buffer(int(size), _np_dtype(dtype))


def from_numpy(a: np.ndarray) -> Buffer:
    host = np.ascontiguousarray(a).reshape(-1)
    buf = Buffer(host.size, _np_dtype(host.dtype))
    if host.size:
        _drv.memcpy_htod(buf.ptr, host)
    return buf


def to_numpy(buf: Buffer, shape: Shape, strides: Strides, offset: int) -> np.ndarray:
    _check_buffers(buf)
    check_view(buf.size, shape, strides, offset)
    host = np.empty(tuple(shape), dtype=buf.dtype)
    if host.size == 0:
        return host
    if _contiguous(_collapse(shape, strides)):  # one copy straight from the buffer
        _drv.memcpy_dtoh(host, buf.ptr + offset * buf.dtype.itemsize)
    else:  # gather the view on the GPU first, then copy the compact result
        tmp = Buffer(host.size, buf.dtype)
        compact(buf, tmp, shape, strides, offset)
        _drv.memcpy_dtoh(host, tmp.ptr)
    return host


def _scalar_like_fill(value: Any, dtype: np.dtype) -> Any:
    """``value`` converted as ``ndarray.fill`` would (the numpy backend's fill)."""
    tmp = np.empty((), dtype=dtype)
    tmp.fill(value)
    return _scalar_arg(tmp)


def _scalar_arg(v: np.ndarray) -> Any:
    """A converted 0-d numpy value as the Python number pycuda packs for the kernel."""
    return int(v) if v.dtype.kind in "bi" else float(v)


def fill(out: Buffer, value: Any) -> None:
    _check_buffers(out)
    s = _scalar_like_fill(value, out.dtype)
    dt = _suffix(out)
    _launch_1d("memory", f"fill_{dt}", "Pq" + _SCALAR_FORMAT[dt], out.size, out.ptr, out.size, s)


# --- the stride-aware kernels ---------------------------------------------------------------------
def compact(a: Buffer, out: Buffer, shape: Shape, strides: Strides, offset: int) -> None:
    _check_same_dtype(a, out)
    if out.size != prod(shape):
        raise ValueError(f"out has {out.size} elements, the view {shape} has {prod(shape)}")
    check_view(a.size, shape, strides, offset)
    n = out.size
    if n == 0:
        return
    if a.ptr == out.ptr:  # reading and writing one buffer in a different order would race
        tmp = Buffer(n, out.dtype)
        compact(a, tmp, shape, strides, offset)
        _drv.memcpy_dtod(out.ptr, tmp.ptr, out.nbytes)
        return
    dims = _collapse(shape, strides)
    if _contiguous(dims):  # optimization: a contiguous view is a plain device-to-device copy
        _drv.memcpy_dtod(out.ptr, a.ptr + offset * a.dtype.itemsize, out.nbytes)
        return
    _launch_1d("memory", f"compact_{_suffix(a)}", "PPq" + _VIEW_FORMAT, n,
               a.ptr, out.ptr, n, _view_arg(dims, offset))


def ewise_setitem(a: Buffer, out: Buffer, shape: Shape, strides: Strides, offset: int) -> None:
    _check_same_dtype(a, out)
    if a.size != prod(shape):
        raise ValueError(f"source has {a.size} elements, the view {shape} has {prod(shape)}")
    check_view(out.size, shape, strides, offset)
    n = a.size
    if n == 0:
        return
    if a.ptr == out.ptr:  # x[::-1] = x: numpy copies the source first, so do we
        a = _copy(a)
    dims = _collapse(shape, strides)
    if _contiguous(dims):
        _drv.memcpy_dtod(out.ptr + offset * out.dtype.itemsize, a.ptr, a.nbytes)
        return
    _launch_1d("memory", f"ewise_setitem_{_suffix(a)}", "PPq" + _VIEW_FORMAT, n,
               a.ptr, out.ptr, n, _view_arg(dims, offset))


def scalar_setitem(value: Any, out: Buffer, shape: Shape, strides: Strides, offset: int) -> None:
    _check_buffers(out)
    check_view(out.size, shape, strides, offset)
    tmp = np.empty((), dtype=out.dtype)
    tmp[...] = value  # numpy's assignment rules, as the numpy backend's view[...] = value
    s = _scalar_arg(tmp)
    n = prod(shape)
    if n == 0:
        return
    dt = _suffix(out)
    dims = _collapse(shape, strides)
    if _contiguous(dims):  # a contiguous view is a fill of a sub-range
        _launch_1d("memory", f"fill_{dt}", "Pq" + _SCALAR_FORMAT[dt], n,
                   out.ptr + offset * out.dtype.itemsize, n, s)
        return
    _launch_1d("memory", f"scalar_setitem_{dt}", "Pq" + _VIEW_FORMAT + _SCALAR_FORMAT[dt], n,
               out.ptr, n, _view_arg(dims, offset), s)


# --- elementwise ------------------------------------------------------------------------------------
def cast(a: Buffer, out: Buffer) -> None:
    _check_same_size(a, out)
    if a.dtype == out.dtype:
        if a.ptr != out.ptr and a.nbytes:
            _drv.memcpy_dtod(out.ptr, a.ptr, a.nbytes)
        return
    _launch_1d("memory", f"cast_{_suffix(a)}_to_{_suffix(out)}", "PPq", a.size, a.ptr, out.ptr, a.size)


def where(cond: Buffer, a: Buffer, b: Buffer, out: Buffer) -> None:
    _check_same_size(cond, a, b, out)
    _check_same_dtype(a, b, out)
    if cond.dtype != _BOOL:  # numpy treats any nonzero condition as true
        as_bool = Buffer(cond.size, _BOOL)
        cast(cond, as_bool)
        cond = as_bool
    _launch_1d("elementwise", f"where_{_suffix(a)}", "PPPPq", a.size, cond.ptr, a.ptr, b.ptr, out.ptr, a.size)


#: the dtype kinds of each further binary op ('f' float, 'i' int64, 'b' bool)
_KINDS = {**{op: "f" for op in FLOAT_BINARY_OPS}, **{op: "fi" for op in DIVISION_OPS},
          **{op: "ib" for op in BITWISE_OPS}, **{op: "i" for op in SHIFT_OPS}}


def _check_binary_dtypes(op: str, a: Buffer, out: Buffer) -> None:
    if op in COMPARISON_OPS:
        _check_out_dtype(out, _BOOL, op)
        return
    if op in _KINDS:
        _check_kind(a, op, _KINDS[op])
    elif op == "div":
        _check_kind(a, "div (NDArray promotes integers to float first)", "f")
    else:
        _check_kind(a, op, "fi")
    _check_out_dtype(out, a.dtype, op)


def _ewise(op: str) -> Callable[..., None]:
    def ewise(a: Buffer, b: Buffer, out: Buffer) -> None:
        _check_same_size(a, b, out)
        _check_same_dtype(a, b)
        _check_binary_dtypes(op, a, out)
        if op == "pow" and a.dtype == _INT64 and b.size and _min_max(b)[0] < 0:
            raise ValueError("integers to negative integer powers are not allowed")
        if op in DIVISION_OPS and a.dtype == _INT64:
            _check_int_divisors(b)
        _launch_1d("elementwise", f"ewise_{op}_{_suffix(a)}", "PPPq", a.size, a.ptr, b.ptr, out.ptr, a.size)

    ewise.__name__ = ewise.__qualname__ = f"ewise_{op}"
    ewise.__doc__ = f"``out[i] = a[i] {op} b[i]`` on the GPU (see the numpy backend)."
    return ewise


def _scalar(op: str) -> Callable[..., None]:
    def scalar(a: Buffer, s: Any, out: Buffer) -> None:
        _check_same_size(a, out)
        _check_binary_dtypes(op, a, out)
        with np.errstate(all="ignore"):
            sv = np.asarray(s, dtype=a.dtype)  # the numpy backend's conversion of the scalar
        if op == "pow" and a.dtype == _INT64 and sv < 0:
            raise ValueError("integers to negative integer powers are not allowed")
        if op in DIVISION_OPS and a.dtype == _INT64 and sv == 0:
            raise ZeroDivisionError("integer division by zero")
        dt = _suffix(a)
        _launch_1d("elementwise", f"scalar_{op}_{dt}", "PPq" + _SCALAR_FORMAT[dt], a.size,
                   a.ptr, out.ptr, a.size, _scalar_arg(sv))

    scalar.__name__ = scalar.__qualname__ = f"scalar_{op}"
    scalar.__doc__ = f"``out[i] = a[i] {op} s`` on the GPU (see the numpy backend)."
    return scalar


def _scalar_r(op: str) -> Callable[..., None]:
    def scalar_r(a: Buffer, s: Any, out: Buffer) -> None:
        _check_same_size(a, out)
        _check_binary_dtypes(op, a, out)
        with np.errstate(all="ignore"):
            sv = np.asarray(s, dtype=a.dtype)
        if op == "pow" and a.dtype == _INT64 and a.size and _min_max(a)[0] < 0:
            raise ValueError("integers to negative integer powers are not allowed")
        if op in DIVISION_OPS and a.dtype == _INT64:
            _check_int_divisors(a)
        dt = _suffix(a)
        _launch_1d("elementwise", f"scalar_r{op}_{dt}", "PPq" + _SCALAR_FORMAT[dt], a.size,
                   a.ptr, out.ptr, a.size, _scalar_arg(sv))

    scalar_r.__name__ = scalar_r.__qualname__ = f"scalar_r{op}"
    scalar_r.__doc__ = f"``out[i] = s {op} a[i]`` on the GPU (see the numpy backend)."
    return scalar_r


def _unary(fn: str) -> Callable[..., None]:
    kinds = "f" if fn in UNARY_OPS_FLOAT else "ib" if fn == "bitwise_not" else "fi"

    def ewise(a: Buffer, out: Buffer) -> None:
        _check_same_size(a, out)
        _check_kind(a, fn, kinds)
        _check_out_dtype(out, a.dtype, fn)
        _launch_1d("elementwise", f"ewise_{fn}_{_suffix(a)}", "PPq", a.size, a.ptr, out.ptr, a.size)

    ewise.__name__ = ewise.__qualname__ = f"ewise_{fn}"
    ewise.__doc__ = f"``out[i] = {fn}(a[i])`` on the GPU (see the numpy backend)."
    return ewise


# Each thread reads element i of the inputs and then writes element i of out: out may be a or b.
ewise_add = _ewise("add")
ewise_sub = _ewise("sub")
ewise_mul = _ewise("mul")
ewise_div = _ewise("div")
ewise_pow = _ewise("pow")
ewise_maximum = _ewise("maximum")
ewise_minimum = _ewise("minimum")
ewise_eq = _ewise("eq")
ewise_ne = _ewise("ne")
ewise_lt = _ewise("lt")
ewise_le = _ewise("le")
ewise_gt = _ewise("gt")
ewise_ge = _ewise("ge")

scalar_add = _scalar("add")
scalar_sub = _scalar("sub")
scalar_mul = _scalar("mul")
scalar_div = _scalar("div")
scalar_pow = _scalar("pow")
scalar_maximum = _scalar("maximum")
scalar_minimum = _scalar("minimum")
scalar_eq = _scalar("eq")
scalar_ne = _scalar("ne")
scalar_lt = _scalar("lt")
scalar_le = _scalar("le")
scalar_gt = _scalar("gt")
scalar_ge = _scalar("ge")

scalar_rsub = _scalar_r("sub")
scalar_rdiv = _scalar_r("div")
scalar_rpow = _scalar_r("pow")

ewise_neg = _unary("neg")
ewise_abs = _unary("abs")
ewise_sign = _unary("sign")
ewise_relu = _unary("relu")
ewise_exp = _unary("exp")
ewise_log = _unary("log")
ewise_sqrt = _unary("sqrt")
ewise_sin = _unary("sin")
ewise_cos = _unary("cos")
ewise_tanh = _unary("tanh")
ewise_sigmoid = _unary("sigmoid")
ewise_erf = _unary("erf")
ewise_floor = _unary("floor")
ewise_ceil = _unary("ceil")
ewise_trunc = _unary("trunc")
ewise_round = _unary("round")
ewise_log1p = _unary("log1p")
ewise_expm1 = _unary("expm1")
ewise_asin = _unary("asin")
ewise_acos = _unary("acos")
ewise_atan = _unary("atan")
ewise_sinh = _unary("sinh")
ewise_cosh = _unary("cosh")
ewise_asinh = _unary("asinh")
ewise_acosh = _unary("acosh")
ewise_atanh = _unary("atanh")
ewise_erfc = _unary("erfc")
ewise_erfinv = _unary("erfinv")
ewise_bitwise_not = _unary("bitwise_not")

ewise_atan2 = _ewise("atan2")
ewise_copysign = _ewise("copysign")
ewise_fmod = _ewise("fmod")  # integer division by zero: ZeroDivisionError before the launch
ewise_remainder = _ewise("remainder")
ewise_floor_divide = _ewise("floor_divide")
ewise_trunc_divide = _ewise("trunc_divide")
ewise_bitwise_and = _ewise("bitwise_and")
ewise_bitwise_or = _ewise("bitwise_or")
ewise_bitwise_xor = _ewise("bitwise_xor")
ewise_left_shift = _ewise("left_shift")
ewise_right_shift = _ewise("right_shift")
scalar_atan2 = _scalar("atan2")
scalar_copysign = _scalar("copysign")
scalar_fmod = _scalar("fmod")
scalar_remainder = _scalar("remainder")
scalar_floor_divide = _scalar("floor_divide")
scalar_trunc_divide = _scalar("trunc_divide")
scalar_bitwise_and = _scalar("bitwise_and")
scalar_bitwise_or = _scalar("bitwise_or")
scalar_bitwise_xor = _scalar("bitwise_xor")
scalar_left_shift = _scalar("left_shift")
scalar_right_shift = _scalar("right_shift")
scalar_ratan2 = _scalar_r("atan2")
scalar_rcopysign = _scalar_r("copysign")
scalar_rfmod = _scalar_r("fmod")
scalar_rremainder = _scalar_r("remainder")
scalar_rfloor_divide = _scalar_r("floor_divide")
scalar_rtrunc_divide = _scalar_r("trunc_divide")
scalar_rbitwise_and = _scalar_r("bitwise_and")
scalar_rbitwise_or = _scalar_r("bitwise_or")
scalar_rbitwise_xor = _scalar_r("bitwise_xor")
scalar_rleft_shift = _scalar_r("left_shift")
scalar_rright_shift = _scalar_r("right_shift")


# --- reductions over the last axis ------------------------------------------------------------------
#: Rows longer than this get a whole block (8 warps) each; shorter rows get one warp.
_WARP_ROW_MAX = 1024
#: A row is split across several blocks only when it is longer than this...
_SPLIT_MIN = 8192
#: ...into chunks of at least this many elements.
_CHUNK_MIN = 4096


def _reduce_pass(op: str, dt: str, a_ptr: int, a_idx_ptr: int, out_val_ptr: int, out_idx_ptr: int,
                 nseg: int, length: int, chunks: int, chunk_len: int) -> None:
    warps_per_seg = 1 if chunk_len <= _WARP_ROW_MAX else 8
    seg_per_block = 8 // warps_per_seg
    blocks = min((nseg + seg_per_block - 1) // seg_per_block, _MAX_BLOCKS)
    _kernel("reduce", f"reduce_{op}_{dt}", "PPPPqqqqq").prepared_call(
        (blocks, 1, 1), _BLOCK, a_ptr, a_idx_ptr, out_val_ptr, out_idx_ptr,
        nseg, length, chunks, chunk_len, warps_per_seg)


def _reduce_launch(op: str, a: Buffer, out_val_ptr: int, out_idx_ptr: int, rows: int, length: int) -> None:
    """Reduce ``rows`` rows of ``length`` (>= 1) elements of ``a`` into the given outputs."""
    dt = _suffix(a)
    arg = op.startswith("arg")
    busy = 4 * _SM_COUNT  # blocks it takes to keep every SM working
    chunks = 1
    if length > _SPLIT_MIN and rows < busy:
        chunks = min(-(-length // _CHUNK_MIN), -(-busy // rows))
    if chunks <= 1:
        _reduce_pass(op, dt, a.ptr, 0, out_val_ptr, out_idx_ptr, rows, length, 1, length)
        return
    chunk_len = -(-length // chunks)
    chunks = -(-length // chunk_len)  # no empty chunk
    nseg = rows * chunks
    part_val = Buffer(nseg, a.dtype)
    part_idx = Buffer(nseg, _INT64) if arg else None
    # pass 1: one partial (value, and index for arg*) per chunk of every row
    _reduce_pass(op, dt, a.ptr, 0, part_val.ptr, part_idx.ptr if part_idx else 0, nseg, length, chunks, chunk_len)
    # pass 2: reduce the `chunks` partials of each row; arg* read their indices from part_idx
    _reduce_pass(op, dt, part_val.ptr, part_idx.ptr if part_idx else 0, out_val_ptr, out_idx_ptr,
                 rows, chunks, 1, chunks)


def _reduce(op: str) -> Callable[..., None]:
    arg = op.startswith("arg")

    def reduce(a: Buffer, out: Buffer, reduce_size: int) -> None:
        _check_buffers(a, out)
        if op != "sum" and reduce_size < 1:
            raise ValueError(f"reduce_{op} over an empty axis has no identity")
        if reduce_size < 0 or a.size != out.size * reduce_size:
            raise ValueError(f"a has {a.size} elements, expected out.size * reduce_size = "
                             f"{out.size} * {reduce_size}")
        _check_out_dtype(out, _INT64 if arg else a.dtype, f"reduce_{op}")
        if out.size == 0:
            return
        if reduce_size == 0:  # an empty sum is zero
            fill(out, 0)
            return
        _reduce_launch(op, a, 0 if arg else out.ptr, out.ptr if arg else 0, out.size, reduce_size)

    reduce.__name__ = reduce.__qualname__ = f"reduce_{op}"
    reduce.__doc__ = f"``out[i] = {op}(a[i*reduce_size:(i+1)*reduce_size])`` on the GPU (see the numpy backend)."
    return reduce


reduce_sum = _reduce("sum")
reduce_max = _reduce("max")
reduce_min = _reduce("min")
reduce_argmax = _reduce("argmax")
reduce_argmin = _reduce("argmin")

# The optional fast paths of the interface (OPTIONAL_FUNCTIONS):
reduce_axis_sum = None  # no CUDA kernel yet: NDArray uses its generic path
reduce_axis_max = None  # no CUDA kernel yet: NDArray uses its generic path
reduce_axis_min = None  # no CUDA kernel yet: NDArray uses its generic path


# --- matmul ---------------------------------------------------------------------------------------
_MM_TILE = 64  # TT_MM_TILE in matmul.cu


def matmul(a: Buffer, b: Buffer, out: Buffer, m: int, n: int, p: int, batch: int) -> None:
    _check_same_dtype(a, b, out)
    if (a.size, b.size, out.size) != (batch * m * n, batch * n * p, batch * m * p) or min(m, n, p, batch) < 0:
        raise ValueError(f"matmul sizes {a.size}, {b.size}, {out.size} do not fit batch={batch} m={m} n={n} p={p}")
    _check_kind(a, "matmul", "fi")
    if out.size == 0:
        return
    if out.ptr in (a.ptr, b.ptr):  # the kernel reads a and b while writing out
        tmp = Buffer(out.size, out.dtype)
        matmul(a, b, tmp, m, n, p, batch)
        _drv.memcpy_dtod(out.ptr, tmp.ptr, out.nbytes)
        return
    grid = (-(-p // _MM_TILE), min(-(-m // _MM_TILE), _MAX_GRID_YZ), min(batch, _MAX_GRID_YZ))
    _kernel("matmul", f"matmul_{_suffix(a)}", "PPPqqqq").prepared_call(
        grid, _BLOCK, a.ptr, b.ptr, out.ptr, m, n, p, batch)


matmul_strided = None  # no CUDA kernel yet: NDArray uses its generic path


# --- indexing ---------------------------------------------------------------------------------------
def _check_index(index: Buffer, size: int) -> None:
    if index.dtype != _INT64:
        raise TypeError(f"index buffer must be int64, got {index.dtype}")
    if index.size:
        lo, hi = _min_max(index)
        if lo < 0 or hi >= size:
            raise IndexError(f"index out of range [0, {size}): min {lo}, max {hi}")


def gather(a: Buffer, index: Buffer, out: Buffer) -> None:
    _check_same_size(index, out)
    _check_same_dtype(a, out)
    _check_index(index, a.size)
    if out.size == 0:
        return
    if out.ptr == a.ptr:
        a = _copy(a)
    _launch_1d("indexing", f"gather_{_suffix(a)}", "PPPqq", out.size, a.ptr, index.ptr, out.ptr, out.size, a.size)


def _scatter(kernel: str, src: Buffer, index: Buffer, out: Buffer) -> None:
    _check_same_size(index, src)
    _check_same_dtype(src, out)
    _check_index(index, out.size)
    if src.size == 0:
        return
    if src.ptr == out.ptr:
        src = _copy(src)
    if index.ptr == out.ptr:
        index = _copy(index)
    _launch_1d("indexing", f"{kernel}_{_suffix(src)}", "PPPqq", src.size, src.ptr, index.ptr, out.ptr,
               src.size, out.size)


def scatter(src: Buffer, index: Buffer, out: Buffer) -> None:
    """``out[index[i]] = src[i]`` (with repeated indices, one of the writes wins)."""
    _scatter("scatter", src, index, out)


def scatter_add(src: Buffer, index: Buffer, out: Buffer) -> None:
    """``out[index[i]] += src[i]``; repeated indices accumulate (atomicAdd)."""
    _scatter("scatter_add", src, index, out)


def _scatter_arithmetic(kernel: str, src: Buffer, index: Buffer, out: Buffer) -> None:
    if out.dtype == np.bool_ or src.dtype == np.bool_:
        raise TypeError(f"{kernel} takes float32, float64 or int64, got {src.dtype} and {out.dtype}")
    _scatter(kernel, src, index, out)


def scatter_mul(src: Buffer, index: Buffer, out: Buffer) -> None:
    """``out[index[i]] *= src[i]``; repeated indices multiply in (compare-and-swap loops)."""
    _scatter_arithmetic("scatter_mul", src, index, out)


def scatter_max(src: Buffer, index: Buffer, out: Buffer) -> None:
    """``out[index[i]] = max(out[index[i]], src[i])``, NaN-propagating (compare-and-swap loops)."""
    _scatter_arithmetic("scatter_max", src, index, out)


def scatter_min(src: Buffer, index: Buffer, out: Buffer) -> None:
    """``out[index[i]] = min(out[index[i]], src[i])``, NaN-propagating (compare-and-swap loops)."""
    _scatter_arithmetic("scatter_min", src, index, out)


# --- optimizers -------------------------------------------------------------------------------------
adam_step = None  # no CUDA kernel yet: optim.Adam uses its generic path


# --- generated kernels -------------------------------------------------------------------------------
call_fused = None  # host C cannot address device memory: compiled code runs the ops one by one

# --- sliding windows -------------------------------------------------------------------------------------
fold_windows = None  # no CUDA kernel yet: NDArray's fold takes kh * kw strided additions
conv2d = None  # no CUDA kernels yet: ndarray.windows convolves with im2col and matmul
conv2d_backward_input = None
conv2d_backward_weight = None
max_pool2d = None  # no CUDA kernels yet: ndarray.windows pools over the unfolded windows
max_pool2d_backward = None
ewise_strided = None  # no CUDA kernel yet: NDArray compacts a broadcast operand first
softmax_rows = None  # no CUDA kernel yet: NDArray.softmax takes array passes
softmax_rows_backward = None  # likewise
cross_entropy_rows = None  # no CUDA kernel yet: the classifier's loss takes array passes
cross_entropy_rows_backward = None  # likewise
gelu = None  # no CUDA kernel yet: NDArray.gelu takes array passes
gelu_backward = None  # likewise
layer_norm_rows = None  # no CUDA kernel yet: NDArray.layer_norm_rows takes array passes
layer_norm_rows_backward = None  # likewise
lower_call = None  # recorded programs replay the interface calls (the kernel launches are not lowered)
buffer_address = None
