"""Layers 1–2 of tinytorch: flat backend buffers and the strided :class:`NDArray`.

>>> from tinytorch.ndarray import array
>>> a = array([[1, 2, 3], [4, 5, 6]], device="numpy")
>>> a.T.shape, a.T.strides
((3, 2), (1, 3))
"""

from .devices import (
                      BACKEND_MODULES,
                      Device,
                      available,
                      device,
                      get_backend,
                      get_default_device,
                      is_available,
                      set_default_device,
                      unavailable_reason,
)
from .dtypes import ALL_DTYPES, FLOAT_DTYPES, DType, as_dtype, bool_, float32, float64, int64, promote_types
from .ndarray import NDArray, array, causal_bias, empty, full, index_in_range, matmul, ones, where, zeros

__all__ = [
    "NDArray", "array", "empty", "full", "zeros", "ones", "matmul", "where", "causal_bias", "index_in_range",
    "DType", "float32", "float64", "int64", "bool_", "ALL_DTYPES", "FLOAT_DTYPES", "as_dtype", "promote_types",
    "Device", "device", "available", "is_available", "get_backend", "get_default_device",
    "set_default_device", "unavailable_reason", "BACKEND_MODULES",
]
