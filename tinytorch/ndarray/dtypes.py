"""The four element types tinytorch knows, and how they combine.

A :class:`DType` is a small immutable record. There are exactly four instances
(``float32``, ``float64``, ``int64``, ``bool``), so dtypes compare by identity
and can be used as dict keys. Promotion follows PyTorch for these four:
``bool < int64 < float32 < float64``, and a Python scalar only moves a tensor
up a *category* (bool → integer → floating), never to a wider float.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True, eq=False)
class DType:
    """An element type: its name, numpy equivalent and category."""

    name: str
    np_dtype: np.dtype
    itemsize: int
    is_floating_point: bool
    rank: int  # position in the promotion lattice bool < int64 < float32 < float64

    def __repr__(self) -> str:
        return f"tinytorch.{self.name}"

    @property
    def is_signed(self) -> bool:
        return self.name != "bool"

    @property
    def is_complex(self) -> bool:
        return False

    def __copy__(self) -> "DType":  # the four dtypes are singletons
        return self

    def __deepcopy__(self, memo: dict) -> "DType":
        return self


float32 = DType("float32", np.dtype(np.float32), 4, True, 2)
float64 = DType("float64", np.dtype(np.float64), 8, True, 3)
int64 = DType("int64", np.dtype(np.int64), 8, False, 1)
bool_ = DType("bool", np.dtype(np.bool_), 1, False, 0)

ALL_DTYPES = (float32, float64, int64, bool_)
FLOAT_DTYPES = (float32, float64)
_BY_NAME = {d.name: d for d in ALL_DTYPES}
_BY_NAME.update({"float": float32, "double": float64, "long": int64, "bool_": bool_})
_BY_KIND = {"f": None, "i": int64, "u": int64, "b": bool_}


def as_dtype(value: Any) -> DType:
    """Return the :class:`DType` named by ``value``.

    Accepts a DType, a name (``"float32"``), a numpy dtype or scalar type, or the
    Python types ``float``/``int``/``bool``. Raises ``TypeError`` otherwise.
    """
    if isinstance(value, DType):
        return value
    if isinstance(value, str) and value in _BY_NAME:
        return _BY_NAME[value]
    if value is float:
        return float32
    if value is int:
        return int64
    if value is bool:
        return bool_
    try:
        npd = np.dtype(value)
    except TypeError:
        raise TypeError(f"unsupported dtype {value!r}; use one of float32, float64, int64, bool") from None
    return from_numpy_dtype(npd)


def from_numpy_dtype(npd: np.dtype) -> DType:
    """Map a numpy dtype onto the tinytorch dtype that holds every value of it exactly: float16
    → float32, int8..int32 and uint8..uint32 → int64, uint64 → int64 (``array`` refuses values
    above INT64_MAX). ``TypeError`` for anything wider (long double) or not a number."""
    if npd == np.float64:
        return float64
    if npd.kind == "f":
        if npd.itemsize > 8:
            raise TypeError(f"unsupported numpy dtype {npd}: tinytorch's widest float is float64, which "
                            "would round its values")
        return float32
    if npd.kind in _BY_KIND:
        return _BY_KIND[npd.kind]  # type: ignore[return-value]
    raise TypeError(f"unsupported numpy dtype {npd}; tinytorch stores float32, float64, int64 and bool")


def promote_types(a: DType, b: DType) -> DType:
    """The result dtype of combining two arrays of dtypes ``a`` and ``b`` (the higher rank)."""
    return a if a.rank >= b.rank else b


def can_cast(from_: DType, to: DType) -> bool:
    """Whether PyTorch's type promotion allows casting ``from_`` to ``to``: never down a category
    (float to integer, integer to bool); any width within one."""
    def category(d: DType) -> int:
        return 2 if d.is_floating_point else 0 if d is bool_ else 1

    return category(as_dtype(from_)) <= category(as_dtype(to))


def scalar_category(value: Any) -> DType:
    """The dtype a bare Python scalar would have on its own: bool, int64 or float32."""
    if isinstance(value, (bool, np.bool_)):
        return bool_
    if isinstance(value, (int, np.integer)):
        return int64
    if isinstance(value, (float, np.floating)):
        return float32
    raise TypeError(f"expected a Python number, got {type(value).__name__}")


def result_type_with_scalar(array_dtype: DType, value: Any) -> DType:
    """PyTorch's rule for ``array op scalar``: the scalar may only raise the category.

    ``int64 array * 2.5`` → float32; ``float64 array * 2.5`` → float64;
    ``bool array + 1`` → int64; ``float32 array + True`` → float32.
    """
    cat = scalar_category(value)
    if cat.rank <= array_dtype.rank:
        return array_dtype
    if cat is float32 and array_dtype.is_floating_point:
        return array_dtype
    return cat


def infer_dtype(data: Any) -> DType:
    """The dtype ``tinytorch.ndarray.array(data)`` would choose for nested Python data.

    Floats → float32 (the default float), ints → int64, bools → bool; a numpy array
    keeps its dtype (mapped onto the four).
    """
    if isinstance(data, (np.ndarray, np.generic)):  # numpy scalars keep their dtype too
        return from_numpy_dtype(data.dtype)
    arr = np.asarray(data)
    if arr.dtype.kind in "fuO":  # numpy may have widened: decide from the elements themselves
        return _dtype_of_elements(np.asarray(data, dtype=object), data)
    return from_numpy_dtype(arr.dtype)


_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


def _dtype_of_elements(elements: np.ndarray, data: Any) -> DType:
    """The dtype PyTorch gives nested data whose elements are ``elements`` (an object array):
    the highest of each element's own dtype, where a Python float is float32 (the default) but
    a numpy float keeps its width. A result of int64 must hold every int: ``ValueError`` naming
    the first that does not (numpy would have gone to uint64 or float64 silently)."""
    kinds = set(map(type, elements.flat))
    if not kinds:
        return float32  # no elements: the default dtype, as PyTorch
    if np.ndarray in kinds:  # 0-d arrays (tensors inside a list): their dtypes count
        kinds = (kinds - {np.ndarray}) | {v.dtype.type for v in elements.flat if isinstance(v, np.ndarray)}
    best = bool_
    for kind in kinds:
        if issubclass(kind, (bool, np.bool_)):
            dt = bool_
        elif issubclass(kind, (int, np.integer)):
            dt = int64
        elif issubclass(kind, np.floating):
            dt = from_numpy_dtype(np.dtype(kind))
        elif issubclass(kind, float):
            dt = float32
        else:
            raise TypeError(f"cannot build an array from {kind.__name__} elements: {data!r:.60}")
        best = promote_types(best, dt)
    if best is int64:
        for v in elements.flat:
            if not _INT64_MIN <= int(v) <= _INT64_MAX:
                raise ValueError(f"value {int(v)} does not fit in int64 (the range is [{_INT64_MIN}, {_INT64_MAX}])")
    return best


def get_default_dtype() -> DType:
    """The dtype Python floats become: float32 (fixed; see :func:`set_default_dtype`)."""
    return float32


def set_default_dtype(d: Any) -> None:
    """PyTorch's ``set_default_dtype``. tinytorch's default float is fixed at float32: setting it
    to float32 is accepted, any other dtype raises ``NotImplementedError`` (create float64 tensors
    with ``dtype=tinytorch.float64`` instead), a non-float dtype ``TypeError`` as in PyTorch."""
    dt = as_dtype(d)
    if not dt.is_floating_point:
        raise TypeError(f"only floating-point types are supported as the default type, got {dt}")
    if dt is not float32:
        raise NotImplementedError(f"tinytorch's default dtype is fixed at float32, so it cannot be set to {dt}; "
                                  f"pass dtype={dt} to the creation functions instead")


class finfo:  # noqa: N801  (PyTorch's name)
    """Machine limits of a floating-point dtype (default: the default dtype), as ``torch.finfo``:
    ``bits``, ``eps``, ``max``, ``min``, ``tiny`` (= ``smallest_normal``), ``resolution``."""

    def __init__(self, type: Any = None) -> None:  # noqa: A002  (PyTorch's parameter name)
        dt = float32 if type is None else as_dtype(type)
        if not dt.is_floating_point:
            raise TypeError(f"torch.finfo() requires a floating point input type, got {dt}")
        info = np.finfo(dt.np_dtype)
        self.dtype, self.bits = dt.name, info.bits
        self.eps, self.max, self.min = float(info.eps), float(info.max), float(info.min)
        self.tiny = self.smallest_normal = float(info.smallest_normal)
        self.resolution = 10.0 ** -info.precision  # 1e-6 for float32, as PyTorch

    def __repr__(self) -> str:
        return (f"finfo(resolution={self.resolution:g}, min={self.min:g}, max={self.max:g}, eps={self.eps:g}, "
                f"smallest_normal={self.smallest_normal:g}, tiny={self.tiny:g}, dtype={self.dtype})")


class iinfo:  # noqa: N801  (PyTorch's name)
    """Limits of an integer dtype, as ``torch.iinfo``: ``bits``, ``min``, ``max``."""

    def __init__(self, type: Any) -> None:  # noqa: A002
        dt = as_dtype(type)
        if dt.is_floating_point or dt is bool_:
            raise TypeError(f"{dt} is not supported by iinfo, which takes an integer dtype")
        info = np.iinfo(dt.np_dtype)
        self.dtype, self.bits, self.min, self.max = dt.name, info.bits, int(info.min), int(info.max)

    def __repr__(self) -> str:
        return f"iinfo(min={self.min}, max={self.max}, dtype={self.dtype})"
