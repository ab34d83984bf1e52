"""The C backend (device ``"cpu"``): C11 kernels, bound with :mod:`ctypes`.

The kernels live in ``tinytorch/backend_cpu/*.c``, one file per section of the backend
interface (``strided.c``, ``elementwise.c``, ``reduce.c``, ``matmul.c``, ``indexing.c``),
and are compiled into one shared library, ``_kernels``, by ``pip install -e .`` or, after
editing a kernel, ``make build``. This module is the thin layer between the interface
(:mod:`tinytorch.ndarray.interface`) and that library:

* A :class:`Buffer` owns a private numpy array (large ones aligned to 64 bytes, a cache
  line) and caches its address as an int, so a call hands C nothing but ints. Freed large
  buffers go to a small pool (:class:`_Pool`) and are handed out again.
* Each C function is named ``tt_<interface name>_<dtype>`` (``tt_ewise_add_f32``) and
  has its ``argtypes`` set once, at import. An interface function picks the kernel for its
  buffers' dtype from a tuple indexed by the buffer's dtype code.
* Every interface function checks its buffers' sizes and dtypes, and every view it is
  given (with :func:`~tinytorch.ndarray.strides.check_view`, the check every backend uses),
  with exact Python integers *before* it calls C: no call from Python can make a
  kernel read or write outside a buffer. What can only be checked by looking at the data
  (an index out of range, a negative integer exponent) is checked by C, before anything is
  written, and reported back as the position of the culprit.
* Errors are the numpy backend's: ``ValueError`` for sizes, ``TypeError`` for dtypes,
  ``IndexError`` for views and indices, each naming the values.

It has every optional function of the interface (``matmul_strided``, ``reduce_axis_<op>``,
``adam_step``, ``fold_windows``, ``ewise_strided``, ``softmax_rows[_backward]``,
``cross_entropy_rows[_backward]``,
``gelu[_backward]``, ``conv2d[_backward_input, _backward_weight]``,
``max_pool2d[_backward]``) in C. Besides the interface this module
offers ``matmul_naive``, the plain triple loop, which the tests and the book compare the
fast ``matmul`` with, ``matmul_step`` to run each optimization step between the two (the
benchmark and the book time them), and ``set_num_threads`` / ``get_num_threads`` for the OpenMP kernels.
"""

from __future__ import annotations

import ctypes
import operator
import os
import threading
from collections import OrderedDict
from importlib.machinery import EXTENSION_SUFFIXES
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..ndarray.dtypes import ALL_DTYPES
from ..ndarray.interface import COMPARISON_OPS, DIVISION_OPS, Pointer, Shape, Strides, softmax_options
from ..ndarray.strides import check_view, conv_geometry

name = "cpu"


# --- the shared library ---------------------------------------------------------------------
# How OpenMP threads wait between kernels, and from what size a loop is split across them.
# Threads that sleep as soon as a kernel ends ("passive") must be woken for the next one, which
# costs tens of microseconds (more on a virtual machine); threads that spin wait for nothing, but
# a spinning thread that loses its core on a busy machine stalls the next kernel for a scheduler
# tick (a 1 ms sum took 8 ms that way).
# The default spins briefly: 1000 rounds of the processor's pause instruction, 28 us on the AMD
# EPYC measured (3-40 us across x86 processors), about the Python time between the kernels of a
# training step, then sleeps. A step's kernels then find their threads awake, and loops pay off
# on two cores from a few tens of thousands of elements; a thread that is idle for longer costs
# no processor time (benchmarks/measurements.md, "How the threads wait").
SPIN_ROUNDS = "1000"
THRESHOLDS_SLEEPING = (1 << 21, 1 << 17, 200 * 200 * 200)  # (elements, math elements, multiply-adds)
THRESHOLDS_AWAKE = (1 << 16, 1 << 14, 1 << 20)


def wait_settings(environ: dict[str, str]) -> tuple[dict[str, str], tuple[int, int, int]]:
    """``(variables to set while the OpenMP runtime loads, the three parallel thresholds)`` for
    an environment: the user's ``OMP_WAIT_POLICY`` / ``GOMP_SPINCOUNT`` are kept (with
    thresholds to suit: sleeping ones for ``passive`` or a spin count of 0); otherwise the
    brief spin of ``SPIN_ROUNDS``."""
    policy = environ.get("OMP_WAIT_POLICY", "").strip().lower()
    spin = environ.get("GOMP_SPINCOUNT", "").strip()
    if not policy and not spin:
        return {"GOMP_SPINCOUNT": SPIN_ROUNDS}, THRESHOLDS_AWAKE
    sleeping = policy == "passive" or (policy != "active" and spin in ("0", "0k", "0M", "0G", "0T"))
    return {}, THRESHOLDS_SLEEPING if sleeping else THRESHOLDS_AWAKE


def _load_library() -> ctypes.CDLL:
    here = Path(__file__).resolve().parent
    for suffix in EXTENSION_SUFFIXES:
        path = here / f"_kernels{suffix}"
        if path.exists():
            # GNU OpenMP reads its variables once, when it is loaded with this library; ours are
            # removed again at once, so nothing else sees them
            variables, thresholds = wait_settings(dict(os.environ))
            os.environ.update(variables)
            try:
                lib = ctypes.CDLL(str(path))
            except OSError as e:
                raise ImportError(f"the C backend library {path} exists but cannot be loaded ({e}); "
                                  "rebuild it with `make build` (or `pip install -e .`)") from None
            finally:
                for name in variables:
                    del os.environ[name]
            lib.tt_set_parallel_thresholds.argtypes = [ctypes.c_int64] * 3
            lib.tt_set_parallel_thresholds.restype = None
            lib.tt_set_parallel_thresholds(*thresholds)
            return lib
    raise ImportError("the C backend is not built (no compiled tinytorch/backend_cpu/_kernels library "
                      f"in {here}); run `pip install -e .` or `make build` in the tinytorch checkout")


_lib = _load_library()

# dtype codes: the index of a dtype in these tuples
F32, F64, I64, BOOL = range(4)
_DTYPES = (np.dtype(np.float32), np.dtype(np.float64), np.dtype(np.int64), np.dtype(np.bool_))
_SUFFIX = ("f32", "f64", "i64", "b8")
_CODE = {dt: code for code, dt in enumerate(_DTYPES)}
_CODE_OF_DTYPE = {dt: _CODE[dt.np_dtype] for dt in ALL_DTYPES}  # tinytorch DType -> code, the fast path
_SCALAR_CTYPE = (ctypes.c_float, ctypes.c_double, ctypes.c_int64, ctypes.c_uint8)
ARITHMETIC = (F32, F64, I64)
FLOATS = (F32, F64)
ALL = (F32, F64, I64, BOOL)
BITS = (I64, BOOL)

_P, _N, _INT = ctypes.c_void_p, ctypes.c_int64, ctypes.c_int
_I64_MIN, _I64_MAX = -(2**63), 2**63 - 1
_INT_MAX = 2**31 - 1  # C's int
_MAX_DIMS = 32  # TT_MAX_DIMS in kernels.h


def _kernels(stem: str, codes: tuple[int, ...], argtypes: Callable[[Any], list], restype: Any = None) -> tuple:
    """The C functions ``tt_<stem>_<suffix>`` for each dtype code in ``codes``, as a tuple
    indexed by dtype code (``None`` where the op does not apply). ``argtypes(scalar_ctype)``
    gives the argument types."""
    table: list[Any] = [None] * 4
    for code in codes:
        cname = f"tt_{stem}_{_SUFFIX[code]}"
        try:
            fn = getattr(_lib, cname)
        except AttributeError:
            raise ImportError(f"the C backend library is out of date (it has no {cname}); "
                              "rebuild it with `make build`") from None
        fn.argtypes = argtypes(_SCALAR_CTYPE[code])
        fn.restype = restype
        table[code] = _CFunction(fn)
    return tuple(table)


# --- lowering: the C calls behind an interface call --------------------------------------------------
# A recorded kernel program (tinytorch.ndarray.program) replays interface calls. Replaying the C
# calls they made instead skips the checks and argument packing done in Python, which were done
# once, when the call was recorded. Every C function of the tables above is a _CFunction, which
# writes its calls down while lower_call collects them.
class _Lowering(threading.local):
    calls: list[tuple["_CFunction", tuple[Any, ...], Any]] | None = None


_lowering = _Lowering()


class _CFunction:
    """A C function of a kernel table: calls the ctypes function ``fn``; while
    :func:`lower_call` collects, the call is also written down. ``pointers`` are the positions
    of the pointer arguments."""

    __slots__ = ("fn", "pointers")

    def __init__(self, fn: Any):
        self.fn = fn
        self.pointers = tuple(i for i, t in enumerate(fn.argtypes) if t is _P)

    def __call__(self, *args: Any) -> Any:
        result = self.fn(*args)
        calls = _lowering.calls
        if calls is not None:
            calls.append((self, args, result))
        return result


def lower_call(fn: Callable[..., Any], args: tuple[Any, ...]
               ) -> tuple[Any, list[tuple[Any, tuple[Any, ...], Any]] | None]:
    """Run the interface function ``fn(*args)``; return its result and the C calls it made, in
    order, as ``(c_function, c_args, result)`` with each address argument a :class:`Pointer` into
    one of ``args``' buffers: what a replay calls again with other buffers of the same sizes
    (addresses from :func:`buffer_address`). The calls are None when the call cannot be replayed
    that way: it made no C call (its work was done in Python), or passed C an address that is
    not in one of its buffer arguments (a temporary copy, an array of pointers)."""
    _lowering.calls = calls = []
    try:
        result = fn(*args)
    finally:
        _lowering.calls = None
    spans = [(i, a.ptr, max(a.size * a.dtype.itemsize, 1)) for i, a in enumerate(args) if type(a) is Buffer]
    lowered = []
    for cfn, cargs, returned in calls:
        moved = list(cargs)
        for j in cfn.pointers:
            p = cargs[j]
            if type(p) is not int:  # a ctypes array of shapes and strides, made for this call: reused as it is
                continue
            hit = next((Pointer((i, p - start)) for i, start, n in spans if start <= p < start + n), None)
            if hit is None:
                return result, None
            moved[j] = hit
        lowered.append((cfn.fn, tuple(moved), returned))
    return result, lowered or None


def buffer_address(buf: Buffer) -> int:
    """The address of a buffer's first element (for lowered calls' pointers)."""
    return buf.ptr


# --- threads -------------------------------------------------------------------------------------
_lib.tt_set_num_threads.argtypes, _lib.tt_set_num_threads.restype = [ctypes.c_int], None
_lib.tt_get_num_threads.argtypes, _lib.tt_get_num_threads.restype = [], ctypes.c_int


def set_num_threads(n: int) -> None:
    """Use ``n`` threads in the OpenMP kernels from now on (default: ``OMP_NUM_THREADS``
    or the number of cores). ``ValueError`` unless ``1 <= n <= 2**31 - 1`` (C's int: a larger
    number would be cut to its low 32 bits)."""
    n = operator.index(n)
    if not 1 <= n <= _INT_MAX:
        raise ValueError(f"the number of threads must be an int in [1, {_INT_MAX}], got {n}")
    _lib.tt_set_num_threads(n)


def get_num_threads() -> int:
    """The number of threads the OpenMP kernels use."""
    return _lib.tt_get_num_threads()


# A forked child may use threads: the library's own fork handler (threads.c) releases the OpenMP
# thread pool before every fork, so parent and child each start a fresh one.


# --- buffers ------------------------------------------------------------------------------------
_ALIGN = 64  # bytes: one cache line, and a whole number of AVX2/AVX-512 vectors
_ALIGN_FROM = 4096  # bytes: smaller buffers keep numpy's 16-byte alignment (padding them costs more than it buys)


def _address(arr: np.ndarray, _addressof=ctypes.addressof, _from_buffer=ctypes.c_char.from_buffer) -> int:
    # cheaper than arr.ctypes.data, which builds a helper object on every call
    return _addressof(_from_buffer(arr))


class _Pool:
    """Freed large buffers, kept to be handed out again.

    The first write to freshly allocated memory costs a page fault per 4 KiB page, and glibc
    hands large blocks back to the system when they are freed, so without a pool every
    temporary of a training step would pay those faults again (PyTorch's caching allocators
    exist for the same reason). The policy:

    * **what is kept**: the memory of a freed Buffer of at least ``MIN_BYTES`` (64 KiB), filed
      under its ``(dtype code, size)``; at most ``PER_KEY`` buffers per key;
    * **how much**: at most ``LIMIT`` bytes (128 MiB: room for the temporaries of one training
      step of the book's MNIST CNN) in all; a larger buffer is never kept;
    * **eviction**: least recently freed first -- of all keys when keeping one more buffer
      would pass ``LIMIT``, of its own key when that key already holds ``PER_KEY``;
    * **reuse**: an allocation of a kept ``(dtype, size)`` gets the most recently freed one
      (the likeliest to be still in cache); ``empty_cache()`` drops everything.

    Reuse needs no reference counting: a Buffer's memory is never visible outside the Buffer
    (its array is private and every reader gets a copy), so when a Buffer dies nothing else
    can still see its memory.
    """

    MIN_BYTES = 64 << 10
    LIMIT = 128 << 20
    PER_KEY = 8

    def __init__(self) -> None:
        self.nbytes = 0
        # key -> memories, least recently freed first; a memory is (raw array, aligned view, address)
        self._free: dict[tuple[int, int], list[tuple[np.ndarray, np.ndarray, int]]] = {}
        self._order: OrderedDict[int, tuple[int, int]] = OrderedDict()  # id(memory) -> key, likewise
        self._lock = threading.RLock()  # RLock: a Buffer may die (and come here) inside put()

    def take(self, key: tuple[int, int]) -> tuple[np.ndarray, np.ndarray, int] | None:
        """The memory ``(raw, array, ptr)`` of the most recently freed Buffer of ``key``, or None."""
        with self._lock:
            memories = self._free.get(key)
            if not memories:
                return None
            memory = memories.pop()
            del self._order[id(memory)]
            self.nbytes -= memory[0].nbytes
            return memory

    def put(self, key: tuple[int, int], memory: tuple[np.ndarray, np.ndarray, int]) -> None:
        """Keep ``memory``, the ``(raw, array, ptr)`` of a freed Buffer of ``key = (code, size)``,
        if the policy says so."""
        raw = memory[0]
        if key[1] * raw.itemsize < self.MIN_BYTES or raw.nbytes > self.LIMIT:  # raw has some padding
            return
        with self._lock:
            memories = self._free.setdefault(key, [])
            if len(memories) >= self.PER_KEY:
                self._drop_oldest(key)
            while self.nbytes + raw.nbytes > self.LIMIT:
                self._drop_oldest(next(iter(self._order.values())))
            memories.append(memory)
            self._order[id(memory)] = key
            self.nbytes += raw.nbytes

    def _drop_oldest(self, key: tuple[int, int]) -> None:
        memory = self._free[key].pop(0)
        del self._order[id(memory)]
        self.nbytes -= memory[0].nbytes

    def held(self) -> list[tuple[int, int]]:
        """The key of each kept buffer, least recently freed first."""
        with self._lock:
            return list(self._order.values())

    def clear(self) -> None:
        with self._lock:
            self._free.clear()
            self._order.clear()
            self.nbytes = 0


_pool = _Pool()


def empty_cache() -> None:
    """Give the memory of the pooled free buffers back (as ``torch.cuda.empty_cache``)."""
    _pool.clear()


class Buffer(tuple):
    """A flat, typed block of memory for the C kernels.

    ``ptr`` is its address, ``size`` its number of elements, ``dtype`` its numpy dtype and
    ``code`` the index of that dtype in this module's tables. Every safety check trusts ``ptr``
    and ``size`` to describe the same memory, so they are read-only: a Buffer is a tuple, and
    its fields are properties without setters, so ``buf.size = 10**9`` (or
    ``object.__setattr__``) raises ``AttributeError`` instead of letting a kernel write out of
    bounds. Two Buffers are equal only when they are the same Buffer.

    The numpy array that owns the memory (``_array``, a view of ``_raw`` for large buffers)
    never leaves this module: everything that reads a buffer copies (``to_numpy``). So when a
    large Buffer dies nobody can still see its memory, and it goes back to the pool
    (:class:`_Pool`) for the next Buffer of its dtype and size.
    """

    __slots__ = ()

    def __new__(cls, size: int, code: int) -> "Buffer":
        raw = None
        dt = _DTYPES[code]
        if size * dt.itemsize < _ALIGN_FROM:
            arr = np.empty(size or 1, dt)  # even an empty buffer gets a valid address
            ptr, array = _address(arr), (arr if size else arr[:0])
        else:
            memory = _pool.take((code, size))
            if memory is None:
                raw = np.empty(size + _ALIGN // dt.itemsize, dt)
                start = _address(raw)
                skip = (-start) % _ALIGN // dt.itemsize  # numpy's memory is 16-byte aligned
                memory = raw, raw[skip: skip + size], start + skip * dt.itemsize
            raw, array, ptr = memory
        return tuple.__new__(cls, (ptr, size, dt, code, array, raw))

    ptr = property(operator.itemgetter(0), doc="the address of the first element")
    size = property(operator.itemgetter(1), doc="the number of elements")
    dtype = property(operator.itemgetter(2), doc="the numpy dtype of the elements")
    code = property(operator.itemgetter(3), doc="the index of the dtype in this module's tables")
    _array = property(operator.itemgetter(4))
    _raw = property(operator.itemgetter(5))

    def __eq__(self, other: object) -> bool:
        return self is other

    def __ne__(self, other: object) -> bool:
        return self is not other

    __hash__ = object.__hash__

    def __reduce__(self) -> Any:
        raise TypeError("a backend_cpu Buffer cannot be copied or pickled (copy the NDArray that views it)")

    def __del__(self, _put=_pool.put) -> None:
        if self[5] is not None:  # a large buffer: its memory goes to the pool
            _put((self[3], self[1]), (self[5], self[4], self[0]))

    def __repr__(self) -> str:
        return f"backend_cpu.Buffer(size={self.size}, dtype={self.dtype})"


def _check_buffers(*bufs: Any) -> None:
    for b in bufs:
        if type(b) is not Buffer:
            raise TypeError(f"expected a backend_cpu Buffer, got {type(b).__name__}")


def _not_aliasing(out: Buffer, *inputs: Buffer) -> list[Buffer]:
    """The inputs, with a copy in place of any that is ``out`` itself. Kernels that read other
    positions than they write (compact, matmul, gather, scatter) would otherwise read values
    they have already overwritten, and a scatter would even use them as indices."""
    return [from_numpy(x._array) if x is out else x for x in inputs]


def _size_error(what: str, *bufs: Any) -> ValueError:
    return ValueError(f"{what}: buffer sizes differ: {[b.size for b in bufs]}")


def _dtype_error(what: str, *bufs: Any, expected: str = "") -> TypeError:
    got = [str(b.dtype) for b in bufs]
    return TypeError(f"{what}: unsupported buffer dtypes {got}" + (f"; {expected}" if expected else ""))


def _to_scalar(value: Any, code: int) -> Any:
    """``value`` converted as numpy converts a Python scalar to the dtype ``code``:
    floats truncate toward zero into int64, anything nonzero is True."""
    if not isinstance(value, (int, float, np.number, np.bool_)) and not (
            isinstance(value, np.ndarray) and value.ndim == 0):
        raise TypeError(f"expected a number, got {type(value).__name__}")
    if code == I64:
        v = int(value)
        if not _I64_MIN <= v <= _I64_MAX:
            raise OverflowError(f"Python integer {v} out of bounds for int64")
        return v
    if code == BOOL:
        return bool(value)
    return float(value)


def _nonneg_int(value: Any, what: str) -> int:
    v = operator.index(value)
    if not 0 <= v <= _I64_MAX:
        raise ValueError(f"{what} must be a non-negative int64, got {v}")
    return v


# --- memory -------------------------------------------------------------------------------------
def alloc(size: int, dtype: Any) -> Buffer:
    """A new uninitialised buffer of ``size`` elements of ``dtype`` (a tinytorch DType or numpy dtype)."""
    code = _CODE_OF_DTYPE.get(dtype)
    if code is None:
        dt = np.dtype(getattr(dtype, "np_dtype", dtype))
        if dt not in _CODE:
            raise TypeError(f"the cpu backend stores float32, float64, int64 and bool, not {dt}")
        code = _CODE[dt]
    if type(size) is not int:
        size = operator.index(size)
    if size < 0:
        raise ValueError(f"cannot allocate a buffer of negative size {size}")
    return Buffer(size, code)


def from_numpy(a: np.ndarray) -> Buffer:
    """A new buffer holding a copy of the numpy array ``a`` (flattened in row-major order)."""
    a = np.asarray(a)
    if a.dtype not in _CODE:
        raise TypeError(f"the cpu backend stores float32, float64, int64 and bool, not {a.dtype}")
    buf = Buffer(a.size, _CODE[a.dtype])
    buf._array[...] = a.reshape(-1)
    return buf


def to_numpy(buf: Buffer, shape: Shape, strides: Strides, offset: int) -> np.ndarray:
    """A fresh compact numpy array holding the strided view ``(shape, strides, offset)`` of ``buf``."""
    _check_buffers(buf)
    size, dims = _view(buf, shape, strides, offset)
    out = np.empty(tuple(shape), buf.dtype)
    if size:
        _COMPACT[buf.code](buf.ptr, _address(out), len(shape), dims, offset)
    return out


_FILL = _kernels("fill", ALL, lambda s: [_P, s, _N])


def fill(out: Buffer, value: Any) -> None:
    """Set every element of ``out`` to ``value`` (converted to its dtype)."""
    _check_buffers(out)
    _FILL[out.code](out.ptr, _to_scalar(value, out.code), out.size)


# --- strided views: compact, ewise_setitem, scalar_setitem ----------------------------------------
_DIMS_TYPES = [ctypes.c_int64 * (2 * k) for k in range(_MAX_DIMS + 1)]


def _view(buf: Buffer, shape: Shape, strides: Strides, offset: int) -> tuple[int, Any]:
    """Check the view against ``buf`` with :func:`~tinytorch.ndarray.strides.check_view`; return
    its element count and its shape and strides packed for C (shape[0..ndim) then strides[0..ndim)).

    Besides check_view's errors, ``ValueError`` for more than ``TT_MAX_DIMS`` axes or more
    elements than int64 counts. The exact bounds imply that every stride fits int64 except on
    axes of length 1, which C never steps along (ctypes would truncate such a stride silently).
    """
    if len(shape) > _MAX_DIMS:
        raise ValueError(f"a view has at most {_MAX_DIMS} axes, got shape {tuple(shape)}")
    size = check_view(buf.size, shape, strides, offset)
    if size == 0:
        return 0, None
    if size > _I64_MAX:  # bounds every length too, so all of them fit int64
        raise ValueError(f"a view of shape {tuple(shape)} has more elements than int64 can count")
    return size, _DIMS_TYPES[len(shape)](*shape, *strides)


_VIEW_ARGS = [_INT, _P, _N]  # ndim, dims, offset
_COMPACT = _kernels("compact", ALL, lambda s: [_P, _P] + _VIEW_ARGS, _INT)
_EWISE_SETITEM = _kernels("ewise_setitem", ALL, lambda s: [_P, _P] + _VIEW_ARGS, _INT)
_SCALAR_SETITEM = _kernels("scalar_setitem", ALL, lambda s: [s, _P] + _VIEW_ARGS, _INT)


def compact(a: Buffer, out: Buffer, shape: Shape, strides: Strides, offset: int) -> None:
    """Copy the strided view ``(shape, strides, offset)`` of ``a`` into the compact ``out``."""
    _check_buffers(a, out)
    if a.code != out.code:
        raise _dtype_error("compact", a, out, expected="a and out must share a dtype")
    size, dims = _view(a, shape, strides, offset)
    if out.size != size:
        raise ValueError(f"out has {out.size} elements, the view {tuple(shape)} has {size}")
    if size:
        a, = _not_aliasing(out, a)
        _COMPACT[a.code](a.ptr, out.ptr, len(shape), dims, offset)


def ewise_setitem(a: Buffer, out: Buffer, shape: Shape, strides: Strides, offset: int) -> None:
    """Write the compact ``a`` into the strided view ``(shape, strides, offset)`` of ``out``."""
    _check_buffers(a, out)
    if a.code != out.code:
        raise _dtype_error("ewise_setitem", a, out, expected="a and out must share a dtype")
    size, dims = _view(out, shape, strides, offset)
    if a.size != size:
        raise ValueError(f"source has {a.size} elements, the view {tuple(shape)} has {size}")
    if size:
        a, = _not_aliasing(out, a)
        _EWISE_SETITEM[a.code](a.ptr, out.ptr, len(shape), dims, offset)


def scalar_setitem(value: Any, out: Buffer, shape: Shape, strides: Strides, offset: int) -> None:
    """Write ``value`` (converted to the dtype of ``out``) into every element of the view."""
    _check_buffers(out)
    size, dims = _view(out, shape, strides, offset)
    v = _to_scalar(value, out.code)
    if size:
        _SCALAR_SETITEM[out.code](v, out.ptr, len(shape), dims, offset)


# --- elementwise ----------------------------------------------------------------------------------
_CASTS = tuple(_kernels(f"cast_{_SUFFIX[src]}", ALL, lambda s: [_P, _P, _N]) for src in ALL)
_WHERE = _kernels("where", ALL, lambda s: [_P, _P, _P, _P, _N])
_FIRST_NEGATIVE = _kernels("first_negative", (I64,), lambda s: [_P, _N], _N)[I64]
_FIRST_ZERO = _kernels("first_zero", (I64,), lambda s: [_P, _N], _N)[I64]


def cast(a: Buffer, out: Buffer) -> None:
    """``out[i] = a[i]`` converted to the dtype of ``out`` (float -> int64 truncates, x -> bool is x != 0)."""
    _check_buffers(a, out)
    if a.size != out.size:
        raise _size_error("cast", a, out)
    _CASTS[a.code][out.code](a.ptr, out.ptr, a.size)


def where(cond: Buffer, a: Buffer, b: Buffer, out: Buffer) -> None:
    """``out[i] = a[i] if cond[i] else b[i]``; ``cond`` is bool, ``a``, ``b``, ``out`` share a dtype."""
    _check_buffers(cond, a, b, out)
    n = out.size
    if cond.size != n or a.size != n or b.size != n:
        raise _size_error("where", cond, a, b, out)
    if cond.code != BOOL or a.code != out.code or b.code != out.code:
        raise _dtype_error("where", cond, a, b, out, expected="cond must be bool and a, b, out share a dtype")
    _WHERE[out.code](cond.ptr, a.ptr, b.ptr, out.ptr, n)


def _check_int_exponents(exponent: Buffer) -> None:
    bad = _FIRST_NEGATIVE(exponent.ptr, exponent.size)
    if bad >= 0:
        raise ValueError(f"integers to negative integer powers are not allowed "
                         f"(exponent {int(exponent._array[bad])} at position {bad})")


def _check_int_divisors(divisor: Buffer) -> None:
    bad = _FIRST_ZERO(divisor.ptr, divisor.size)
    if bad >= 0:
        raise ZeroDivisionError(f"integer division by zero (divisor at position {bad})")


_SYMBOL = {"add": "+", "sub": "-", "mul": "*", "div": "/", "pow": "**", "eq": "==", "ne": "!=",
           "lt": "<", "le": "<=", "gt": ">", "ge": ">="}


def _expr(op: str, x: str, y: str) -> str:
    return f"{x} {_SYMBOL[op]} {y}" if op in _SYMBOL else f"{op}({x}, {y})"


def _kinds(codes: tuple[int, ...]) -> str:
    return ", ".join(str(_DTYPES[c]) for c in codes)


def _ewise(op: str, codes: tuple[int, ...]) -> Callable[..., None]:
    kernels = _kernels(f"ewise_{op}", codes, lambda s: [_P, _P, _P, _N])
    compare, int_pow, int_div = op in COMPARISON_OPS, op == "pow", op in DIVISION_OPS

    def ewise(a: Buffer, b: Buffer, out: Buffer) -> None:
        _check_buffers(a, b, out)
        n = a.size
        if b.size != n or out.size != n:
            raise _size_error(f"ewise_{op}", a, b, out)
        code = a.code
        if b.code != code or out.code != (BOOL if compare else code) or kernels[code] is None:
            raise _dtype_error(f"ewise_{op}", a, b, out, expected=f"{op} takes two buffers of one dtype out of "
                               f"{_kinds(codes)} and writes " + ("bool" if compare else "that dtype"))
        if int_pow and code == I64:
            _check_int_exponents(b)
        if int_div and code == I64:
            _check_int_divisors(b)
        kernels[code](a.ptr, b.ptr, out.ptr, n)

    ewise.__name__ = ewise.__qualname__ = f"ewise_{op}"
    ewise.__doc__ = f"out[i] = {_expr(op, 'a[i]', 'b[i]')} for buffers of one dtype out of {_kinds(codes)}."
    return ewise


def _scalar(op: str, codes: tuple[int, ...]) -> Callable[..., None]:
    kernels = _kernels(f"scalar_{op}", codes, lambda s: [_P, s, _P, _N])
    compare, int_pow, int_div = op in COMPARISON_OPS, op == "pow", op in DIVISION_OPS

    def scalar(a: Buffer, s: Any, out: Buffer) -> None:
        _check_buffers(a, out)
        n = a.size
        if out.size != n:
            raise _size_error(f"scalar_{op}", a, out)
        code = a.code
        if out.code != (BOOL if compare else code) or kernels[code] is None:
            raise _dtype_error(f"scalar_{op}", a, out, expected=f"{op} takes one of {_kinds(codes)}")
        s = _to_scalar(s, code)
        if int_pow and code == I64 and s < 0:
            raise ValueError(f"integers to negative integer powers are not allowed (exponent {s})")
        if int_div and code == I64 and s == 0:
            raise ZeroDivisionError("integer division by zero")
        kernels[code](a.ptr, s, out.ptr, n)

    scalar.__name__ = scalar.__qualname__ = f"scalar_{op}"
    scalar.__doc__ = f"out[i] = {_expr(op, 'a[i]', 's')} with s converted to the dtype of a."
    return scalar


def _scalar_r(op: str, codes: tuple[int, ...]) -> Callable[..., None]:
    kernels = _kernels(f"scalar_r{op}", codes, lambda s: [_P, s, _P, _N])

    def scalar_r(a: Buffer, s: Any, out: Buffer) -> None:
        _check_buffers(a, out)
        if out.size != a.size:
            raise _size_error(f"scalar_r{op}", a, out)
        code = a.code
        if out.code != code or kernels[code] is None:
            raise _dtype_error(f"scalar_r{op}", a, out, expected=f"{op} takes one of {_kinds(codes)}")
        s = _to_scalar(s, code)
        if op == "pow" and code == I64:
            _check_int_exponents(a)
        if op in DIVISION_OPS and code == I64:
            _check_int_divisors(a)
        kernels[code](a.ptr, s, out.ptr, a.size)

    scalar_r.__name__ = scalar_r.__qualname__ = f"scalar_r{op}"
    scalar_r.__doc__ = f"out[i] = {_expr(op, 's', 'a[i]')} (the scalar on the left)."
    return scalar_r


def _unary(fn: str, codes: tuple[int, ...]) -> Callable[..., None]:
    kernels = _kernels(f"ewise_{fn}", codes, lambda s: [_P, _P, _N])

    def ewise(a: Buffer, out: Buffer) -> None:
        _check_buffers(a, out)
        if out.size != a.size:
            raise _size_error(f"ewise_{fn}", a, out)
        if out.code != a.code or kernels[a.code] is None:
            raise _dtype_error(f"ewise_{fn}", a, out, expected=f"{fn} takes {_kinds(codes)} and writes the same dtype")
        kernels[a.code](a.ptr, out.ptr, a.size)

    ewise.__name__ = ewise.__qualname__ = f"ewise_{fn}"
    ewise.__doc__ = f"out[i] = {fn}(a[i]) for {_kinds(codes)}."
    return ewise


# Every elementwise kernel reads a[i] (and b[i]) before it writes out[i]: out may be a or b.
ewise_add = _ewise("add", ARITHMETIC)
ewise_sub = _ewise("sub", ARITHMETIC)
ewise_mul = _ewise("mul", ARITHMETIC)
ewise_div = _ewise("div", FLOATS)  # no integer div: NDArray promotes integers first
ewise_pow = _ewise("pow", ARITHMETIC)
ewise_maximum = _ewise("maximum", ARITHMETIC)
ewise_minimum = _ewise("minimum", ARITHMETIC)
ewise_eq = _ewise("eq", ALL)
ewise_ne = _ewise("ne", ALL)
ewise_lt = _ewise("lt", ALL)
ewise_le = _ewise("le", ALL)
ewise_gt = _ewise("gt", ALL)
ewise_ge = _ewise("ge", ALL)

scalar_add = _scalar("add", ARITHMETIC)
scalar_sub = _scalar("sub", ARITHMETIC)
scalar_mul = _scalar("mul", ARITHMETIC)
scalar_div = _scalar("div", FLOATS)
scalar_pow = _scalar("pow", ARITHMETIC)
scalar_maximum = _scalar("maximum", ARITHMETIC)
scalar_minimum = _scalar("minimum", ARITHMETIC)
scalar_eq = _scalar("eq", ALL)
scalar_ne = _scalar("ne", ALL)
scalar_lt = _scalar("lt", ALL)
scalar_le = _scalar("le", ALL)
scalar_gt = _scalar("gt", ALL)
scalar_ge = _scalar("ge", ALL)

scalar_rsub = _scalar_r("sub", ARITHMETIC)
scalar_rdiv = _scalar_r("div", FLOATS)
scalar_rpow = _scalar_r("pow", ARITHMETIC)

ewise_neg = _unary("neg", ARITHMETIC)
ewise_abs = _unary("abs", ARITHMETIC)
ewise_sign = _unary("sign", ARITHMETIC)
ewise_relu = _unary("relu", ARITHMETIC)
ewise_exp = _unary("exp", FLOATS)
ewise_log = _unary("log", FLOATS)
ewise_sqrt = _unary("sqrt", FLOATS)
ewise_sin = _unary("sin", FLOATS)
ewise_cos = _unary("cos", FLOATS)
ewise_tanh = _unary("tanh", FLOATS)
ewise_sigmoid = _unary("sigmoid", FLOATS)
ewise_erf = _unary("erf", FLOATS)
ewise_floor = _unary("floor", FLOATS)
ewise_ceil = _unary("ceil", FLOATS)
ewise_trunc = _unary("trunc", FLOATS)
ewise_round = _unary("round", FLOATS)
ewise_log1p = _unary("log1p", FLOATS)
ewise_expm1 = _unary("expm1", FLOATS)
ewise_asin = _unary("asin", FLOATS)
ewise_acos = _unary("acos", FLOATS)
ewise_atan = _unary("atan", FLOATS)
ewise_sinh = _unary("sinh", FLOATS)
ewise_cosh = _unary("cosh", FLOATS)
ewise_asinh = _unary("asinh", FLOATS)
ewise_acosh = _unary("acosh", FLOATS)
ewise_atanh = _unary("atanh", FLOATS)
ewise_erfc = _unary("erfc", FLOATS)
ewise_erfinv = _unary("erfinv", FLOATS)
ewise_bitwise_not = _unary("bitwise_not", BITS)

ewise_atan2 = _ewise("atan2", FLOATS)
ewise_copysign = _ewise("copysign", FLOATS)
ewise_fmod = _ewise("fmod", ARITHMETIC)  # integer division by zero: ZeroDivisionError, nothing written
ewise_remainder = _ewise("remainder", ARITHMETIC)
ewise_floor_divide = _ewise("floor_divide", ARITHMETIC)
ewise_trunc_divide = _ewise("trunc_divide", ARITHMETIC)
ewise_bitwise_and = _ewise("bitwise_and", BITS)
ewise_bitwise_or = _ewise("bitwise_or", BITS)
ewise_bitwise_xor = _ewise("bitwise_xor", BITS)
ewise_left_shift = _ewise("left_shift", (I64,))
ewise_right_shift = _ewise("right_shift", (I64,))
scalar_atan2 = _scalar("atan2", FLOATS)
scalar_copysign = _scalar("copysign", FLOATS)
scalar_fmod = _scalar("fmod", ARITHMETIC)
scalar_remainder = _scalar("remainder", ARITHMETIC)
scalar_floor_divide = _scalar("floor_divide", ARITHMETIC)
scalar_trunc_divide = _scalar("trunc_divide", ARITHMETIC)
scalar_bitwise_and = _scalar("bitwise_and", BITS)
scalar_bitwise_or = _scalar("bitwise_or", BITS)
scalar_bitwise_xor = _scalar("bitwise_xor", BITS)
scalar_left_shift = _scalar("left_shift", (I64,))
scalar_right_shift = _scalar("right_shift", (I64,))
scalar_ratan2 = _scalar_r("atan2", FLOATS)
scalar_rcopysign = _scalar_r("copysign", FLOATS)
scalar_rfmod = _scalar_r("fmod", ARITHMETIC)
scalar_rremainder = _scalar_r("remainder", ARITHMETIC)
scalar_rfloor_divide = _scalar_r("floor_divide", ARITHMETIC)
scalar_rtrunc_divide = _scalar_r("trunc_divide", ARITHMETIC)
scalar_rbitwise_and = _scalar_r("bitwise_and", BITS)
scalar_rbitwise_or = _scalar_r("bitwise_or", BITS)
scalar_rbitwise_xor = _scalar_r("bitwise_xor", BITS)
scalar_rleft_shift = _scalar_r("left_shift", (I64,))
scalar_rright_shift = _scalar_r("right_shift", (I64,))


# --- reductions over the last axis ------------------------------------------------------------------
def _reduce(op: str, codes: tuple[int, ...]) -> Callable[..., None]:
    arg = op.startswith("arg")
    kernels = _kernels(f"reduce_{op}", codes, lambda s: [_P, _P, _N, _N], _INT)
    kinds = ", ".join(str(_DTYPES[c]) for c in codes)

    def reduce(a: Buffer, out: Buffer, reduce_size: int) -> None:
        _check_buffers(a, out)
        reduce_size = operator.index(reduce_size)
        if reduce_size < 0 or a.size != out.size * reduce_size:
            raise ValueError(f"reduce_{op}: a has {a.size} elements, expected out.size * reduce_size = "
                             f"{out.size} * {reduce_size}")
        if op != "sum" and reduce_size < 1:
            raise ValueError(f"reduce_{op} over an empty axis has no identity")
        if kernels[a.code] is None or out.code != (I64 if arg else a.code):
            raise _dtype_error(f"reduce_{op}", a, out, expected=f"{op} takes {kinds} and writes "
                               + ("int64" if arg else "the same dtype"))
        if out.size and kernels[a.code](a.ptr, out.ptr, out.size, reduce_size) != 0:
            raise MemoryError(f"reduce_{op}: out of memory for the scratch space")

    reduce.__name__ = reduce.__qualname__ = f"reduce_{op}"
    reduce.__doc__ = (f"out[i] = {op}(a[i*reduce_size : (i+1)*reduce_size]) for compact {kinds} "
                      + ("(the first index on ties and of the first NaN)" if arg else ""))
    return reduce


reduce_sum = _reduce("sum", ARITHMETIC)
reduce_max = _reduce("max", ALL)
reduce_min = _reduce("min", ALL)
reduce_argmax = _reduce("argmax", ALL)
reduce_argmin = _reduce("argmin", ALL)


def _reduce_axis(op: str) -> Callable[..., None]:
    kernels = _kernels(f"reduce_axis_{op}", ARITHMETIC, lambda s: [_P, _P, _N, _N, _N], _INT)

    def reduce_axis(a: Buffer, out: Buffer, reduce_size: int, inner: int) -> None:
        _check_buffers(a, out)
        reduce_size, inner = operator.index(reduce_size), operator.index(inner)
        if reduce_size < 0 or inner < 1 or out.size % inner or a.size != out.size * reduce_size:
            raise ValueError(f"reduce_axis_{op}: a has {a.size} elements, out {out.size}; they do not fit "
                             f"(outer, {reduce_size}, {inner}) -> (outer, {inner})")
        if op != "sum" and reduce_size < 1:
            raise ValueError(f"reduce_axis_{op} over an empty axis has no identity")
        if kernels[a.code] is None or out.code != a.code:
            raise _dtype_error(f"reduce_axis_{op}", a, out, expected=f"{op} takes float32, float64 or int64 "
                               "and writes the same dtype")
        if out.size:
            kernels[a.code](a.ptr, out.ptr, out.size // inner, reduce_size, inner)

    reduce_axis.__name__ = reduce_axis.__qualname__ = f"reduce_axis_{op}"
    reduce_axis.__doc__ = (f"out[o, j] = {op}(a[o, :, j]) for a compact ``a`` seen as (outer, reduce_size, inner) "
                           "and out as (outer, inner): a reduction over a middle axis without transposing "
                           "(an optional extension of the interface).")
    return reduce_axis


reduce_axis_sum = _reduce_axis("sum")
reduce_axis_max = _reduce_axis("max")
reduce_axis_min = _reduce_axis("min")


# --- matmul ------------------------------------------------------------------------------------------
_MATMUL_ARGS = lambda s: [_P, _P, _P, _N, _N, _N, _N]  # noqa: E731  a, b, out, m, n, p, batch
_MATMUL = _kernels("matmul", ARITHMETIC, _MATMUL_ARGS, _INT)
_MATMUL_NAIVE = _kernels("matmul_naive", ARITHMETIC, _MATMUL_ARGS)
#: the steps of matmul_steps.h that lead from the naive loop to ``matmul`` (float32/float64)
_MATMUL_STEPS = {"naive": _kernels("matmul_naive", FLOATS, _MATMUL_ARGS),
                 "reordered": _kernels("matmul_reordered", FLOATS, _MATMUL_ARGS),
                 "blocked": _kernels("matmul_blocked", FLOATS, _MATMUL_ARGS),
                 "packed": _kernels("matmul_packed", FLOATS, _MATMUL_ARGS, _INT),
                 "threads": _MATMUL}
MATMUL_STEPS = tuple(_MATMUL_STEPS)


def _matmul_args(a: Buffer, b: Buffer, out: Buffer, m: int, n: int, p: int, batch: int) -> tuple | None:
    """The checked C arguments of a matmul, or None when there is nothing to write."""
    _check_buffers(a, b, out)
    m, n, p, batch = (_nonneg_int(v, k) for v, k in ((m, "m"), (n, "n"), (p, "p"), (batch, "batch")))
    if (a.size, b.size, out.size) != (batch * m * n, batch * n * p, batch * m * p):
        raise ValueError(f"matmul sizes {a.size}, {b.size}, {out.size} do not fit batch={batch} m={m} n={n} p={p}")
    if not (a.code == b.code == out.code) or a.code == BOOL:
        raise _dtype_error("matmul", a, b, out, expected="a, b, out must share one of float32, float64, int64")
    if out.size == 0:  # (also keeps C from looping over 2**62 empty rows of an empty product)
        return None
    a, b = _not_aliasing(out, a, b)
    return a.ptr, b.ptr, out.ptr, m, n, p, batch


def matmul(a: Buffer, b: Buffer, out: Buffer, m: int, n: int, p: int, batch: int) -> None:
    """Batched product of compact ``(batch, m, n) @ (batch, n, p) -> (batch, m, p)``: packed
    panels, a register-tiled micro-kernel and OpenMP threads (see ``matmul_steps.h``)."""
    args = _matmul_args(a, b, out, m, n, p, batch)
    if args and _MATMUL[a.code](*args) != 0:
        raise MemoryError("matmul: out of memory for the packed panels")


_MATMUL_STRIDED = _kernels("matmul_strided", FLOATS, lambda s: [_P, _P, _P, _N, _N, _N, _N, _P], _INT)


def matmul_strided(a: Buffer, a_strides: Strides, a_offset: int, b: Buffer, b_strides: Strides, b_offset: int,
                   out: Buffer, m: int, n: int, p: int, batch: int | tuple[int, int]) -> None:
    """``out`` (compact, ``(batch, m, p)``) = the product of two strided views: ``a`` seen as
    ``(batch, m, n)`` with ``a_strides`` (3 ints, in elements) from ``a_offset``, ``b`` as
    ``(batch, n, p)`` likewise. ``batch`` may be a pair ``(outer, inner)``, two batch axes
    with 4 strides each (attention's batch and heads). Packing reads any layout, so a
    transposed or broadcast operand (stride 0 over the batch) needs no copy first. An optional
    extension of the interface; int64 goes through ``compact`` and :func:`matmul`."""
    _check_buffers(a, b, out)
    batch_shape = _batch_shape(batch)
    if not (type(m) is type(n) is type(p) is int and m >= 0 and n >= 0 and p >= 0):
        m, n, p = (_nonneg_int(v, k) for v, k in ((m, "m"), (n, "n"), (p, "p")))
    count = batch_shape[0] * batch_shape[-1] if len(batch_shape) == 2 else batch_shape[0]
    if out.size != count * m * p:
        raise ValueError(f"matmul: out has {out.size} elements, batch={batch} m={m} p={p} need {count * m * p}")
    code = a.code
    if not (code == b.code == out.code) or code == BOOL:
        raise _dtype_error("matmul", a, b, out, expected="a, b, out must share one of float32, float64, int64")
    shape_a, shape_b = batch_shape + (m, n), batch_shape + (n, p)
    check_view(a.size, shape_a, a_strides, a_offset)
    check_view(b.size, shape_b, b_strides, b_offset)
    if type(a_offset) is not int or type(b_offset) is not int:  # numpy ints: exact, as check_view saw them
        a_offset, b_offset = operator.index(a_offset), operator.index(b_offset)
    if out.size == 0:
        return
    if code == I64:
        ca, cb = alloc(count * m * n, a.dtype), alloc(count * n * p, b.dtype)
        compact(a, ca, shape_a, a_strides, a_offset)
        compact(b, cb, shape_b, b_strides, b_offset)
        matmul(ca, cb, out, m, n, p, count)
        return
    if a is out or b is out:
        a, b = _not_aliasing(out, a, b)
    # the strides as C sees them (checked by check_view); an axis of length 1 is never stepped
    # along, so its stride becomes 0 (it may be any Python int, too big for int64); with n == 0
    # there is no view to read and C only writes zeros
    outer, inner = (batch_shape[0], batch_shape[1]) if len(batch_shape) == 2 else (batch_shape[0], 1)
    (sa0, sai, sa1, sa2), (sb0, sbi, sb1, sb2) = (
        (a_strides, b_strides) if len(batch_shape) == 2 else ((a_strides[0], 0, *a_strides[1:]),
                                                              (b_strides[0], 0, *b_strides[1:])))
    strides = _STRIDES9(sa0 if outer > 1 else 0, sa1 if m > 1 else 0, sa2 if n > 1 else 0,
                        sb0 if outer > 1 else 0, sb1 if n > 1 else 0, sb2 if p > 1 else 0, inner,
                        sai if inner > 1 else 0, sbi if inner > 1 else 0) if n else _STRIDES9(0, 0, 0, 0, 0, 0, inner)
    item = a.dtype.itemsize
    if _MATMUL_STRIDED[code](a.ptr + a_offset * item, b.ptr + b_offset * item, out.ptr, m, n, p, count, strides):
        raise MemoryError("matmul: out of memory for the packed panels")


def _batch_shape(batch: Any) -> tuple[int, ...]:
    """``batch`` (an int, or a pair of ints: two batch axes) as a shape, checked."""
    if isinstance(batch, tuple):
        if len(batch) != 2:
            raise ValueError(f"matmul: batch must be an int or a pair (outer, inner), got {batch!r}")
        return tuple(_nonneg_int(v, "batch") for v in batch)
    return (_nonneg_int(batch, "batch"),)


_STRIDES9 = ctypes.c_int64 * 9


def matmul_naive(a: Buffer, b: Buffer, out: Buffer, m: int, n: int, p: int, batch: int) -> None:
    """The same product by the textbook triple loop: the reference and the "before" picture."""
    args = _matmul_args(a, b, out, m, n, p, batch)
    if args:
        _MATMUL_NAIVE[a.code](*args)


def matmul_step(step: str, a: Buffer, b: Buffer, out: Buffer, m: int, n: int, p: int, batch: int) -> None:
    """The same product by one of the optimization steps of ``matmul_steps.h`` (float32/float64):
    ``"naive"`` (i-j-k loops), ``"reordered"`` (i-k-j), ``"blocked"`` (tiles), ``"packed"``
    (packed panels + micro-kernel, one thread) or ``"threads"`` (= :func:`matmul`).
    The benchmark and the book time each one."""
    if step not in _MATMUL_STEPS:
        raise ValueError(f"unknown matmul step {step!r}; expected one of {MATMUL_STEPS}")
    args = _matmul_args(a, b, out, m, n, p, batch)
    if args is None:
        return
    kernel = _MATMUL_STEPS[step][a.code]
    if kernel is None:
        raise _dtype_error(f"matmul step {step!r}", a, b, out, expected="the steps take float32 or float64")
    if kernel(*args):  # naive/reordered/blocked return None
        raise MemoryError(f"matmul step {step!r}: out of memory for the packed panels")


# --- indexing ------------------------------------------------------------------------------------------
_GATHER = _kernels("gather", ALL, lambda s: [_P, _N, _P, _P, _N], _N)
_SCATTER = _kernels("scatter", ALL, lambda s: [_P, _P, _P, _N, _N], _N)
_SCATTER_ADD = _kernels("scatter_add", ALL, lambda s: [_P, _P, _P, _N, _N], _N)
_SCATTER_MUL = _kernels("scatter_mul", ARITHMETIC, lambda s: [_P, _P, _P, _N, _N], _N)
_SCATTER_MAX = _kernels("scatter_max", ARITHMETIC, lambda s: [_P, _P, _P, _N, _N], _N)
_SCATTER_MIN = _kernels("scatter_min", ARITHMETIC, lambda s: [_P, _P, _P, _N, _N], _N)


def _check_index(what: str, index: Buffer, data: Buffer, other: Buffer) -> None:
    if index.size != other.size:
        raise _size_error(what, index, other)
    if index.code != I64:
        raise TypeError(f"{what}: index buffer must be int64, got {index.dtype}")
    if data.code != other.code:
        raise _dtype_error(what, data, other, expected="the data buffers must share a dtype")


def _index_error(index: Buffer, bad: int, size: int) -> IndexError:
    return IndexError(f"index {int(index._array[bad])} (at position {bad}) is out of range [0, {size})")


def gather(a: Buffer, index: Buffer, out: Buffer) -> None:
    """``out[i] = a[index[i]]``; every index is checked against ``[0, a.size)`` first."""
    _check_buffers(a, index, out)
    _check_index("gather", index, a, out)
    a, index = _not_aliasing(out, a, index)
    bad = _GATHER[a.code](a.ptr, a.size, index.ptr, out.ptr, out.size)
    if bad >= 0:
        raise _index_error(index, bad, a.size)


def scatter(src: Buffer, index: Buffer, out: Buffer) -> None:
    """``out[index[i]] = src[i]`` (the last of repeated indices wins); nothing is written if an index is bad."""
    _check_buffers(src, index, out)
    _check_index("scatter", index, out, src)
    src, index = _not_aliasing(out, src, index)
    bad = _SCATTER[out.code](src.ptr, index.ptr, out.ptr, out.size, src.size)
    if bad >= 0:
        raise _index_error(index, bad, out.size)


def scatter_add(src: Buffer, index: Buffer, out: Buffer) -> None:
    """``out[index[i]] += src[i]`` (repeated indices accumulate; bool adds as "or")."""
    _check_buffers(src, index, out)
    _check_index("scatter_add", index, out, src)
    src, index = _not_aliasing(out, src, index)
    bad = _SCATTER_ADD[out.code](src.ptr, index.ptr, out.ptr, out.size, src.size)
    if bad >= 0:
        raise _index_error(index, bad, out.size)


def _scatter_combine(what: str, kernels: tuple, src: Buffer, index: Buffer, out: Buffer) -> None:
    _check_buffers(src, index, out)
    _check_index(what, index, out, src)
    if kernels[out.code] is None:
        raise _dtype_error(what, src, out, expected="float32, float64 or int64")
    src, index = _not_aliasing(out, src, index)
    bad = kernels[out.code](src.ptr, index.ptr, out.ptr, out.size, src.size)
    if bad >= 0:
        raise _index_error(index, bad, out.size)


def scatter_mul(src: Buffer, index: Buffer, out: Buffer) -> None:
    """``out[index[i]] *= src[i]`` (repeated indices multiply in); nothing is written if an index is bad."""
    _scatter_combine("scatter_mul", _SCATTER_MUL, src, index, out)


def scatter_max(src: Buffer, index: Buffer, out: Buffer) -> None:
    """``out[index[i]] = max(out[index[i]], src[i])``, NaN-propagating."""
    _scatter_combine("scatter_max", _SCATTER_MAX, src, index, out)


def scatter_min(src: Buffer, index: Buffer, out: Buffer) -> None:
    """``out[index[i]] = min(out[index[i]], src[i])``, NaN-propagating."""
    _scatter_combine("scatter_min", _SCATTER_MIN, src, index, out)


# --- broadcasting binary arithmetic ---------------------------------------------------------------------
_STRIDED_OPS = ("add", "sub", "mul", "div")
_EWISE_STRIDED = {op: _kernels(f"ewise_strided_{op}", FLOATS, lambda s: [_P, _P, _P, _INT, _P], _INT)
                  for op in _STRIDED_OPS}


def ewise_strided(op: str, a: Buffer, a_strides: Strides, a_offset: int, b: Buffer, b_strides: Strides,
                  b_offset: int, out: Buffer, shape: Shape) -> None:
    """``out = a <op> b`` for two strided views of one ``shape`` (strides in elements, 0 where an
    operand is broadcast) into the compact ``out``, without copying either view first
    (broadcast.c). ``op`` is add, sub, mul or div; float32 or float64, one dtype for all three.
    Both views are checked against their buffers and ``out``'s size against ``shape`` before C
    reads anything (an optional extension of the interface)."""
    _check_buffers(a, b, out)
    kernels = _EWISE_STRIDED.get(op)
    if kernels is None:
        raise ValueError(f"ewise_strided: op must be one of {_STRIDED_OPS}, got {op!r}")
    if not (a.code == b.code == out.code) or kernels[a.code] is None:
        raise _dtype_error(f"ewise_strided_{op}", a, b, out, expected="one dtype, float32 or float64")
    shape = tuple(shape)
    if len(a_strides) != len(shape) or len(b_strides) != len(shape):
        raise ValueError(f"ewise_strided: {len(shape)} axes, but strides {tuple(a_strides)} and {tuple(b_strides)}")
    size_a, dims_a = _view(a, shape, a_strides, a_offset)
    _view(b, shape, b_strides, b_offset)
    if out.size != size_a:
        raise ValueError(f"ewise_strided: out has {out.size} elements, the shape {shape} has {size_a}")
    if not size_a:
        return
    if a is out or b is out:
        a, b = _not_aliasing(out, a, b)
    ndim = len(shape)
    # lengths, then a's strides, then b's (an axis of length 1 is never stepped along: stride 0)
    dims = _DIMS3_TYPES[ndim](*shape, *(s if n > 1 else 0 for s, n in zip(a_strides, shape)),
                              *(s if n > 1 else 0 for s, n in zip(b_strides, shape)))
    item = a.dtype.itemsize
    if kernels[a.code](a.ptr + operator.index(a_offset) * item, b.ptr + operator.index(b_offset) * item, out.ptr,
                       ndim, dims) != 0:
        raise ValueError(f"ewise_strided: the kernel rejected the shape {shape}")


_DIMS3_TYPES = [ctypes.c_int64 * (3 * k) for k in range(_MAX_DIMS + 1)]


# --- softmax along rows ---------------------------------------------------------------------------------
_SOFTMAX_ROWS = _kernels("softmax_rows", FLOATS, lambda s: [_P, _P, _N, _N, ctypes.c_double, _N], _INT)
_SOFTMAX_ROWS_BACKWARD = _kernels("softmax_rows_backward", FLOATS, lambda s: [_P, _P, _P, _N, _N, ctypes.c_double],
                                  _INT)


def _rows_args(name: str, rows: int, cols: int, *bufs: Buffer) -> tuple[int, int]:
    """``rows`` and ``cols`` as ints after checking them against every buffer (sizes, one float dtype)."""
    _check_buffers(*bufs)
    rows, cols = operator.index(rows), operator.index(cols)
    if rows < 0 or cols < 0 or any(b.size != rows * cols for b in bufs):
        raise ValueError(f"{name}: buffers of {[b.size for b in bufs]} elements do not fit ({rows}, {cols})")
    if len({b.code for b in bufs}) != 1 or _SOFTMAX_ROWS[bufs[0].code] is None:
        raise _dtype_error(name, *bufs, expected="all float32 or all float64")
    return rows, cols


def softmax_rows(a: Buffer, out: Buffer, rows: int, cols: int, scale: float = 1.0, causal: int = 0) -> None:
    """Softmax of each row of ``scale`` times the compact ``a`` (rows, cols) into ``out``, one
    pass per row (softmax.c; an optional extension of the interface). With ``causal`` > 0 row
    ``r`` sees only its first ``r % causal + 1`` columns (the others get 0)."""
    rows, cols = _rows_args("softmax_rows", rows, cols, a, out)
    scale, causal = softmax_options("softmax_rows", scale, causal)
    if a is out:
        a, = _not_aliasing(out, a)
    if rows * cols and _SOFTMAX_ROWS[a.code](a.ptr, out.ptr, rows, cols, scale, causal) != 0:
        raise ValueError(f"softmax_rows: the kernel rejected ({rows}, {cols})")


def softmax_rows_backward(y: Buffer, g: Buffer, out: Buffer, rows: int, cols: int, scale: float = 1.0) -> None:
    """``out = scale * y * (g - rowsum(g * y))`` row by row: the input gradient of
    ``softmax_rows(a, y, rows, cols, scale)`` (softmax.c)."""
    rows, cols = _rows_args("softmax_rows_backward", rows, cols, y, g, out)
    scale, _ = softmax_options("softmax_rows_backward", scale)
    if y is out or g is out:
        y, g = _not_aliasing(out, y, g)
    if rows * cols and _SOFTMAX_ROWS_BACKWARD[y.code](y.ptr, g.ptr, out.ptr, rows, cols, scale) != 0:
        raise ValueError(f"softmax_rows_backward: the kernel rejected ({rows}, {cols})")


# --- cross entropy of class indices, row by row --------------------------------------------------------
_CROSS_ENTROPY_ROWS = _kernels("cross_entropy_rows", FLOATS, lambda s: [_P, _P, _P, _P, _P, _N, _N, _N], _N)
_CROSS_ENTROPY_ROWS_BACKWARD = _kernels("cross_entropy_rows_backward", FLOATS,
                                        lambda s: [_P, _P, _P, _P, _N, _P, _N, _N, _N], _N)


def _cross_entropy_args(name: str, x: Buffer, target: Buffer, rows: int, cols: int, ignore_index: int,
                        row_bufs: tuple[Buffer, ...]) -> tuple[int, int, int]:
    """Check the buffers of a row-wise cross entropy: ``x`` (and any matrix) ``rows * cols``
    float elements, ``target`` ``rows`` int64, each of ``row_bufs`` ``rows`` of ``x``'s dtype."""
    _check_buffers(x, target, *row_bufs)
    rows, cols, ignore_index = operator.index(rows), operator.index(cols), operator.index(ignore_index)
    if rows < 0 or cols < 0 or x.size != rows * cols or target.size != rows:
        raise ValueError(f"{name}: logits of {x.size} and targets of {target.size} elements do not fit "
                         f"({rows}, {cols})")
    if target.code != I64:
        raise TypeError(f"{name}: targets must be int64, got {target.dtype}")
    if x.code not in FLOATS or any(b.code != x.code for b in row_bufs):
        raise _dtype_error(name, x, *row_bufs, expected="one float dtype, float32 or float64")
    if not _I64_MIN <= ignore_index <= _I64_MAX:
        raise ValueError(f"{name}: ignore_index {ignore_index} does not fit int64")
    return rows, cols, ignore_index


def _target_error(target: Buffer, status: int, cols: int) -> Exception:
    if status < 0:
        return ValueError("cross_entropy_rows: the kernel rejected the sizes")
    return IndexError(f"Target {int(target._array[status - 1])} is out of bounds (input has {cols} classes).")


def cross_entropy_rows(x: Buffer, target: Buffer, loss: Buffer, lse: Buffer, count: Buffer, rows: int, cols: int,
                       ignore_index: int) -> None:
    """Per row of the compact logits ``x`` (rows, cols): ``lse[r]`` = log-sum-exp of the row,
    ``loss[r] = lse[r] - x[r, target[r]]`` (0 where ``target[r] == ignore_index``), and
    ``count[0]`` = the rows counted (crossentropy.c; an optional extension of the interface).
    A target that is neither a class nor ``ignore_index`` raises IndexError before anything
    is written."""
    rows, cols, ignore_index = _cross_entropy_args("cross_entropy_rows", x, target, rows, cols, ignore_index,
                                                   (loss, lse))
    if loss.size != rows or lse.size != rows or count.size != 1 or count.code != x.code:
        raise ValueError(f"cross_entropy_rows: loss and lse need {rows} elements and count 1, "
                         f"got {loss.size}, {lse.size}, {count.size}")
    if len({id(b) for b in (x, target, loss, lse, count)}) != 5:
        raise ValueError("cross_entropy_rows: the buffers must be five different buffers")
    status = _CROSS_ENTROPY_ROWS[x.code](x.ptr, target.ptr, loss.ptr, lse.ptr, count.ptr, rows, cols, ignore_index)
    if status:
        raise _target_error(target, status, cols)


def cross_entropy_rows_backward(x: Buffer, target: Buffer, lse: Buffer, scale: Buffer, out: Buffer, rows: int,
                                cols: int, ignore_index: int) -> None:
    """``out[r, j] = s_r * (exp(x[r, j] - lse[r]) - [j == target[r]])``, 0 on ignored rows: the
    gradient of ``sum_r s_r * loss[r]``, ``s_r`` being ``scale[r]`` (``rows`` elements) or
    ``scale[0]`` (one) (crossentropy.c)."""
    rows, cols, ignore_index = _cross_entropy_args("cross_entropy_rows_backward", x, target, rows, cols,
                                                   ignore_index, (lse, scale, out))
    if lse.size != rows or out.size != rows * cols or scale.size not in (1, rows):
        raise ValueError(f"cross_entropy_rows_backward: lse needs {rows} elements, scale 1 or {rows}, out "
                         f"{rows * cols}; got {lse.size}, {scale.size}, {out.size}")
    if out is x or out is lse or out is scale:
        x, lse, scale = _not_aliasing(out, x, lse, scale)
    step = 1 if scale.size == rows and rows != 1 else 0
    status = _CROSS_ENTROPY_ROWS_BACKWARD[x.code](x.ptr, target.ptr, lse.ptr, scale.ptr, step, out.ptr, rows, cols,
                                                  ignore_index)
    if status:
        raise _target_error(target, status, cols)
# --- layer normalisation -----------------------------------------------------------------------------
_LAYER_NORM_ROWS = _kernels("layer_norm_rows", FLOATS, lambda s: [_P, _P, _P, _N, _N, ctypes.c_double], _INT)
_LAYER_NORM_ROWS_BACKWARD = _kernels("layer_norm_rows_backward", FLOATS, lambda s: [_P, _P, _P, _P, _N, _N], _INT)


def _norm_rows_args(name: str, rows: int, cols: int, stats: Buffer, *bufs: Buffer) -> tuple[int, int]:
    """``rows`` and ``cols`` checked against the (rows, cols) buffers and the per-row ``stats``."""
    rows, cols = _rows_args(name, rows, cols, *bufs)
    _check_buffers(stats)
    if stats.size != rows:
        raise ValueError(f"{name}: the per-row buffer has {stats.size} elements, not {rows}")
    if stats.code != bufs[0].code:
        raise _dtype_error(name, stats, *bufs, expected="all float32 or all float64")
    return rows, cols


def layer_norm_rows(a: Buffer, xhat: Buffer, rstd: Buffer, rows: int, cols: int, eps: float) -> None:
    """Each row of the compact ``a`` (rows, cols) standardised into ``xhat``, its ``1 / sqrt(var +
    eps)`` into ``rstd`` (rows,), one pass per row (layernorm.c; an optional extension)."""
    rows, cols = _norm_rows_args("layer_norm_rows", rows, cols, rstd, a, xhat)
    if a is xhat:
        a, = _not_aliasing(xhat, a)
    if rows * cols and _LAYER_NORM_ROWS[a.code](a.ptr, xhat.ptr, rstd.ptr, rows, cols, float(eps)) != 0:
        raise ValueError(f"layer_norm_rows: the kernel rejected ({rows}, {cols})")


def layer_norm_rows_backward(xhat: Buffer, rstd: Buffer, h: Buffer, out: Buffer, rows: int, cols: int) -> None:
    """``out = rstd * (h - rowmean(h) - xhat * rowmean(h * xhat))``: layer norm's input gradient
    from ``h`` (the output's gradient times the weight), row by row (layernorm.c)."""
    rows, cols = _norm_rows_args("layer_norm_rows_backward", rows, cols, rstd, xhat, h, out)
    if xhat is out or h is out:
        xhat, h = _not_aliasing(out, xhat, h)
    if rows * cols and _LAYER_NORM_ROWS_BACKWARD[h.code](xhat.ptr, rstd.ptr, h.ptr, out.ptr, rows, cols) != 0:
        raise ValueError(f"layer_norm_rows_backward: the kernel rejected ({rows}, {cols})")


# --- GELU ---------------------------------------------------------------------------------------------
_GELU = _kernels("gelu", FLOATS, lambda s: [_P, _P, _N])
_GELU_BACKWARD = _kernels("gelu_backward", FLOATS, lambda s: [_P, _P, _P, _N])


def _float_buffers(name: str, *bufs: Buffer) -> None:
    """Every buffer a Buffer, of one size and one float dtype (ValueError / TypeError otherwise)."""
    _check_buffers(*bufs)
    if len({b.size for b in bufs}) != 1:
        raise _size_error(name, *bufs)
    if len({b.code for b in bufs}) != 1 or _GELU[bufs[0].code] is None:
        raise _dtype_error(name, *bufs, expected="all float32 or all float64")


def gelu(a: Buffer, out: Buffer) -> None:
    """``out = a * (1 + erf(a / sqrt 2)) / 2`` in one pass (gelu.c; an optional extension)."""
    _float_buffers("gelu", a, out)
    _GELU[a.code](a.ptr, out.ptr, a.size)


def gelu_backward(a: Buffer, g: Buffer, out: Buffer) -> None:
    """``out = g * (Phi(a) + a * phi(a))``: the GELU's input gradient in one pass (gelu.c)."""
    _float_buffers("gelu_backward", a, g, out)
    _GELU_BACKWARD[a.code](a.ptr, g.ptr, out.ptr, a.size)


# --- sliding windows -----------------------------------------------------------------------------------
_FOLD_WINDOWS = _kernels("fold_windows", FLOATS, lambda s: [_P, _P] + [_N] * 11, _INT)


def fold_windows(cols: Buffer, out: Buffer, nc: int, out_h: int, out_w: int, kh: int, kw: int, oh: int, ow: int,
                 sh: int, sw: int, dh: int, dw: int) -> None:
    """col2im in one pass (windows.c): ``out[p, y*sh + i*dh, x*sw + j*dw] += cols[p, i, j, y, x]``
    for the compact ``cols`` (nc, kh, kw, oh, ow) and ``out`` (nc, out_h, out_w), float32 or
    float64. Every size and the windows' reach are checked here, before C writes anything (an
    optional extension of the interface)."""
    _check_buffers(cols, out)
    dims = [operator.index(v) for v in (nc, out_h, out_w, kh, kw, oh, ow, sh, sw, dh, dw)]
    nc, out_h, out_w, kh, kw, oh, ow, sh, sw, dh, dw = dims
    if min(nc, out_h, out_w, kh, kw, oh, ow) < 0 or min(sh, sw, dh, dw) < 1:
        raise ValueError(f"fold_windows: sizes must be >= 0 and strides, dilations >= 1, got {dims}")
    if cols.size != nc * kh * kw * oh * ow or out.size != nc * out_h * out_w:
        raise ValueError(f"fold_windows: cols has {cols.size} elements and out {out.size}; (nc, kh, kw, oh, ow) = "
                         f"{(nc, kh, kw, oh, ow)} and (nc, out_h, out_w) = {(nc, out_h, out_w)} need "
                         f"{nc * kh * kw * oh * ow} and {nc * out_h * out_w}")
    if cols.code != out.code or _FOLD_WINDOWS[cols.code] is None:
        raise _dtype_error("fold_windows", cols, out, expected="cols and out both float32 or both float64")
    windows = nc and kh and kw and oh and ow
    if windows and ((kh - 1) * dh + (oh - 1) * sh >= out_h or (kw - 1) * dw + (ow - 1) * sw >= out_w):
        raise ValueError(f"fold_windows: windows of kernel {(kh, kw)}, stride {(sh, sw)}, dilation {(dh, dw)} at "
                         f"{(oh, ow)} positions reach past the {(out_h, out_w)} plane")
    if cols is out:  # distinct Buffers never share memory
        raise ValueError("fold_windows: cols must not be out")
    if windows and _FOLD_WINDOWS[cols.code](cols.ptr, out.ptr, *dims) != 0:
        raise ValueError(f"fold_windows: the kernel rejected the sizes {dims}")


# --- direct convolution ---------------------------------------------------------------------------------
_CONV_GEOM = ctypes.c_int64 * 16
_CONV2D = _kernels("conv2d", FLOATS, lambda s: [_P, _P, _P, _P, _P], _INT)
_CONV2D_BACKWARD_INPUT = _kernels("conv2d_backward_input", FLOATS, lambda s: [_P, _P, _P, _P], _INT)
_CONV2D_BACKWARD_WEIGHT = _kernels("conv2d_backward_weight", FLOATS, lambda s: [_P, _P, _P, _P], _INT)


def _conv_buffers(name: str, geom: tuple[int, ...], *named: tuple[str, Buffer | None, int]) -> None:
    """Each (what, buffer, elements) a Buffer of that many elements (None allowed for the bias),
    all of one float dtype: ValueError / TypeError naming them otherwise."""
    bufs = [b for _, b, _ in named if b is not None]
    _check_buffers(*bufs)
    for what, b, size in named:
        if b is not None and b.size != size:
            raise ValueError(f"{name}: {what} has {b.size} elements, the geometry {geom} needs {size}")
    if len({b.code for b in bufs}) != 1 or _CONV2D[bufs[0].code] is None:
        raise _dtype_error(name, *bufs, expected="all float32 or all float64")


def _conv_sizes(geom: tuple[int, ...]) -> tuple[int, int, int]:
    """The element counts of the input, the weight and the output."""
    n, c, h, w, o, kh, kw, oh, ow = geom[:9]
    return n * c * h * w, o * (c // geom[15]) * kh * kw, n * o * oh * ow


def conv2d(x: Buffer, w: Buffer, bias: Buffer | None, out: Buffer, geometry: Any) -> None:
    """``out = conv2d(x, w) + bias`` in one pass over the output (conv.c), for the compact
    ``x`` (n, c, h, w), ``w`` (o, c / groups, kh, kw), ``bias`` (o,) or None and ``out``
    (n, o, oh, ow). Every size is checked here, before C reads anything (an optional extension
    of the interface)."""
    geom = conv_geometry("conv2d", geometry)
    nx, nw, nout = _conv_sizes(geom)
    _conv_buffers("conv2d", geom, ("x", x, nx), ("w", w, nw), ("bias", bias, geom[4]), ("out", out, nout))
    if out is x or out is w or out is bias:
        raise ValueError("conv2d: out must not be an input")
    if _CONV2D[x.code](x.ptr, w.ptr, None if bias is None else bias.ptr, out.ptr, _CONV_GEOM(*geom)) != 0:
        raise MemoryError(f"conv2d: out of memory for the geometry {geom}")


def conv2d_backward_input(g: Buffer, w: Buffer, gx: Buffer, geometry: Any) -> None:
    """``gx`` (n, c, h, w) = the gradient of conv2d's input for the output gradient ``g``
    (n, o, oh, ow) and the weight ``w`` (conv.c; an optional extension of the interface)."""
    geom = conv_geometry("conv2d_backward_input", geometry)
    nx, nw, nout = _conv_sizes(geom)
    _conv_buffers("conv2d_backward_input", geom, ("g", g, nout), ("w", w, nw), ("gx", gx, nx))
    if gx is g or gx is w:
        raise ValueError("conv2d_backward_input: gx must not be an input")
    if _CONV2D_BACKWARD_INPUT[g.code](g.ptr, w.ptr, gx.ptr, _CONV_GEOM(*geom)) != 0:
        raise MemoryError(f"conv2d_backward_input: out of memory for the geometry {geom}")


def conv2d_backward_weight(g: Buffer, x: Buffer, gw: Buffer, geometry: Any) -> None:
    """``gw`` (o, c / groups, kh, kw) = the gradient of conv2d's weight for the output gradient
    ``g`` (n, o, oh, ow) and the input ``x`` (n, c, h, w) (conv.c; an optional extension)."""
    geom = conv_geometry("conv2d_backward_weight", geometry)
    nx, nw, nout = _conv_sizes(geom)
    _conv_buffers("conv2d_backward_weight", geom, ("g", g, nout), ("x", x, nx), ("gw", gw, nw))
    if gw is g or gw is x:
        raise ValueError("conv2d_backward_weight: gw must not be an input")
    if _CONV2D_BACKWARD_WEIGHT[g.code](g.ptr, x.ptr, gw.ptr, _CONV_GEOM(*geom)) != 0:
        raise MemoryError(f"conv2d_backward_weight: out of memory for the geometry {geom}")


# --- max pooling ----------------------------------------------------------------------------------------
_POOL_GEOM = ctypes.c_int64 * 13
_MAX_POOL2D = _kernels("max_pool2d", FLOATS, lambda s: [_P, _P, _P, _P], _INT)
_MAX_POOL2D_BACKWARD = _kernels("max_pool2d_backward", FLOATS, lambda s: [_P, _P, _P, _P], ctypes.c_int64)


def _pool_geometry(name: str, geometry: Any) -> tuple[int, ...]:
    """The 13 ints of a max pooling (see the interface's ``max_pool2d``), checked (ValueError)."""
    geom = tuple(operator.index(v) for v in geometry)
    if len(geom) != 13:
        raise ValueError(f"{name}: the geometry has 13 entries, got {len(geom)}")
    if min(geom[:9]) < 0 or min(geom[5:9]) < 1 or min(geom[9:11]) < 0 or min(geom[11:]) < 1:
        raise ValueError(f"{name}: sizes must be >= 0, kernel sizes, strides and dilations >= 1 and padding "
                         f">= 0, got {geom}")
    return geom


def _pool_buffers(name: str, geometry: Any, plane: tuple[str, Buffer], floats: tuple[str, Buffer],
                  positions: Buffer) -> tuple[int, ...]:
    """The checked geometry of a max pooling whose ``plane`` buffer (the input, or its gradient)
    holds planes x h x w elements and whose ``floats`` (values, or their gradient) and int64
    ``positions`` hold one element per window: sizes, dtypes and distinct buffers, checked
    before any kernel touches them."""
    geom = _pool_geometry(name, geometry)
    planes, h, w, oh, ow = geom[:5]
    (pn, p), (fn, f) = plane, floats
    _check_buffers(p, f, positions)
    if p.size != planes * h * w or f.size != planes * oh * ow or positions.size != f.size:
        raise ValueError(f"{name}: {pn} has {p.size} elements, {fn} {f.size}, positions {positions.size}; the "
                         f"geometry {geom} needs {planes * h * w}, {planes * oh * ow}, {planes * oh * ow}")
    if p.code != f.code or _MAX_POOL2D[p.code] is None or positions.code != I64:  # both kernels: same dtypes
        raise _dtype_error(name, p, f, positions, expected=f"{pn} and {fn} float32 or float64, positions int64")
    if p is f or p is positions or f is positions:
        raise ValueError(f"{name}: {pn}, {fn} and positions must be three buffers")
    if h * w >= 2**31:
        raise ValueError(f"{name}: planes of {h} x {w} elements; the kernel takes fewer than 2**31")
    return geom


def max_pool2d(x: Buffer, values: Buffer, positions: Buffer, geometry: Any) -> None:
    """Each window's maximum into ``values`` and its flat position in the plane into the int64
    ``positions`` (pool.c; an optional extension of the interface). Sizes checked here first."""
    geom = _pool_buffers("max_pool2d", geometry, ("x", x), ("values", values), positions)
    if values.size and _MAX_POOL2D[x.code](x.ptr, values.ptr, positions.ptr, _POOL_GEOM(*geom)) != 0:
        raise MemoryError(f"max_pool2d: out of memory for the geometry {geom}")


def max_pool2d_backward(g: Buffer, positions: Buffer, gx: Buffer, geometry: Any) -> None:
    """``gx`` = zeros with each ``g[window]`` added at the window's position (pool.c; optional).
    A position outside its plane is an IndexError naming it, raised before anything is written."""
    geom = _pool_buffers("max_pool2d_backward", geometry, ("gx", gx), ("g", g), positions)
    h, w = geom[1:3]
    bad = _MAX_POOL2D_BACKWARD[g.code](g.ptr, positions.ptr, gx.ptr, _POOL_GEOM(*geom)) if gx.size else 0
    if bad:
        raise IndexError(f"max_pool2d_backward: position {int(positions._array[bad - 1])} at element {bad - 1} is "
                         f"outside its {h} x {w} plane")


# --- optimizers ----------------------------------------------------------------------------------------
_ADAM_STEP = _kernels("adam_step", FLOATS, lambda s: [_P, _P, _P, _P, _P, _N] + [ctypes.c_double] * 7)


def adam_step(param: Buffer, grad: Buffer, exp_avg: Buffer, exp_avg_sq: Buffer, max_exp_avg_sq: Buffer | None,
              *, step_size: float, beta1: float, beta2: float, eps: float, bias2_sqrt: float,
              decay: float = 1.0, l2: float = 0.0) -> None:
    """One Adam/AdamW update of every element, in place, in one pass (see optim.c):
    ``g = grad + l2 * param``, ``exp_avg += (1 - beta1) * (g - exp_avg)``,
    ``exp_avg_sq = beta2 * exp_avg_sq + (1 - beta2) * g * g``, with AMSGrad
    ``max_exp_avg_sq = max(max_exp_avg_sq, exp_avg_sq)`` used below instead of ``exp_avg_sq``,
    ``param = decay * param - step_size * exp_avg / (sqrt(exp_avg_sq) / bias2_sqrt + eps)``.
    All buffers are float32 or float64, of one dtype and one size (an optional extension of
    the interface: ``optim.Adam`` uses it when a backend has it)."""
    bufs = [param, grad, exp_avg, exp_avg_sq] + ([] if max_exp_avg_sq is None else [max_exp_avg_sq])
    _check_buffers(*bufs)
    if len({b.size for b in bufs}) != 1:
        raise _size_error("adam_step", *bufs)
    if len({b.code for b in bufs}) != 1 or _ADAM_STEP[param.code] is None:
        raise _dtype_error("adam_step", *bufs, expected="all float32 or all float64")
    scalars = [float(x) for x in (step_size, beta1, beta2, eps, bias2_sqrt, decay, l2)]
    _ADAM_STEP[param.code](param.ptr, grad.ptr, exp_avg.ptr, exp_avg_sq.ptr,
                           None if max_exp_avg_sq is None else max_exp_avg_sq.ptr, param.size, *scalars)


# --- generated kernels -------------------------------------------------------------------------------
def call_fused(kernel: Any, n: int, bufs: list[Buffer], offsets: list[int]) -> None:
    """Call a kernel ``void kernel(int64_t n, void **ptrs)`` generated by ``tinytorch.compiler``
    and the address of element ``offsets[i]`` of each buffer; ``ndarray.fused`` has checked
    that each buffer holds what the kernel touches."""
    _check_buffers(*bufs)
    ptrs = (_P * len(bufs))(*[b.ptr + o * b.dtype.itemsize for b, o in zip(bufs, offsets)])
    kernel(n, ptrs)
