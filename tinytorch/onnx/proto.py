"""The one door to the ``onnx`` package (an optional extra) and the dtype tables shared by the
importer and the exporter.

``import tinytorch.onnx`` must work without ``onnx`` installed, because PyTorch programs write
``import torch.onnx`` at the top; so nothing here imports ``onnx`` until a function needs it,
and then :func:`require` fails with a message that names the extra to install.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

from ..ndarray import bool_, float32, float64, int64
from ..ndarray.dtypes import DType

EXTRA_HINT = 'pip install "tinytorch[onnx]"'

# ONNX's TensorProto.DataType numbers (onnx.proto); fixed by the format, so written here once
FLOAT, UINT8, INT8, UINT16, INT16, INT32, INT64, BOOL, FLOAT16, DOUBLE = 1, 2, 3, 4, 5, 6, 7, 9, 10, 11

#: ONNX element type -> the tinytorch dtype its values are held in (integers widen to int64,
#: float16 to float32: tinytorch computes in float32, float64, int64 and bool)
TO_DTYPE: dict[int, DType] = {FLOAT: float32, DOUBLE: float64, FLOAT16: float32, BOOL: bool_,
                              INT64: int64, INT32: int64, INT16: int64, INT8: int64, UINT8: int64, UINT16: int64}
#: tinytorch dtype -> ONNX element type
FROM_DTYPE: dict[DType, int] = {float32: FLOAT, float64: DOUBLE, int64: INT64, bool_: BOOL}


def require() -> ModuleType:
    """The ``onnx`` module, or an ImportError that says how to install it."""
    try:
        import onnx
    except ImportError as e:
        raise ImportError(f"tinytorch.onnx needs the onnx package, which is not installed: {EXTRA_HINT} "
                          f"(or pip install onnx)") from e
    return onnx


def to_array(tensor_proto: Any) -> Any:
    """A ``TensorProto`` (an initializer or a Constant's value) as a numpy array."""
    return require().numpy_helper.to_array(tensor_proto)


def dtype_of(elem_type: int, what: str) -> DType:
    """The tinytorch dtype for ONNX element type ``elem_type``; ``what`` names the value in the error."""
    if elem_type not in TO_DTYPE:
        raise NotImplementedError(f"{what}: ONNX element type {elem_type} "
                                  f"({require().TensorProto.DataType.Name(elem_type)}) is not supported")
    return TO_DTYPE[elem_type]
