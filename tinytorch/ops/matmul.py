"""Matrix multiplication: one primitive for >= 2-D operands; the 1-D cases are views around it.

Batch dims broadcast. The gradient of a broadcast batch comes back with the broadcast shape
and the engine sums it down, as for any other broadcast.
"""

from __future__ import annotations

from ..ndarray import NDArray
from ..tensor import Function, Tensor
from .elementwise import mul
from .movement import squeeze, transpose, unsqueeze
from .table import exports, op


class Matmul(Function):
    def forward(self, a: NDArray, b: NDArray) -> NDArray: return a @ b

    def backward(self, g: Tensor) -> tuple:
        a, b = self.inputs
        return (_product_in_layout(a, g, transpose(b, -2, -1)) if self.needs_input_grad[0] else None,
                _product_in_layout(b, transpose(a, -2, -1), g) if self.needs_input_grad[1] else None)


def _product_in_layout(x: Tensor, left: Tensor, right: Tensor) -> Tensor:
    """``left @ right``, the gradient of the operand ``x``, in ``x``'s memory layout.

    ``x`` is often a transposed view -- the weight in ``input @ weight.T`` -- and then its
    gradient is computed as ``(right^T @ left^T)^T``, the same numbers with the last two axes
    stored the other way round. Transposed back by the engine, that is a compact gradient of
    the weight itself, which ``.grad`` stores without a transposing copy."""
    if _is_transposed(x._data):
        return transpose(Matmul.apply(transpose(right, -2, -1), transpose(left, -2, -1)), -2, -1)
    return Matmul.apply(left, right)


def _is_transposed(x: NDArray) -> bool:
    """True for a view whose last two axes are stored column by column (the .T of a matrix)."""
    return x.ndim >= 2 and x.strides[-2] == 1 and x.shape[-2] > 1 and x.strides[-1] >= x.shape[-2]


@op(operators=("__matmul__",), reflected=("__rmatmul__",))
def matmul(a: Tensor, b: Tensor) -> Tensor:
    """``a @ b`` as PyTorch: 1-D @ 1-D is a dot product; a 1-D left operand is a row and a 1-D
    right operand a column (the added dim is removed again); N-D operands are batches of
    matrices whose batch dims broadcast."""
    if not isinstance(a, Tensor) or not isinstance(b, Tensor):
        bad = b if isinstance(a, Tensor) else a
        raise TypeError(f"matmul(): argument must be Tensor, not {type(bad).__name__}")
    if a.ndim == 0 or b.ndim == 0:
        raise RuntimeError(f"both arguments to matmul need to be at least 1D, but they are {a.ndim}D and {b.ndim}D")
    if a.ndim >= 2 and b.ndim >= 2:
        return Matmul.apply(a, b)
    out = Matmul.apply(unsqueeze(a, 0) if a.ndim == 1 else a, unsqueeze(b, -1) if b.ndim == 1 else b)
    if b.ndim == 1:
        out = squeeze(out, -1)
    if a.ndim == 1:
        out = squeeze(out, -1 if b.ndim == 1 else -2)
    return out



@op
def mm(a: Tensor, b: Tensor) -> Tensor:
    """The product of two matrices (no broadcasting, no 1-D operands: see :func:`matmul`)."""
    for name, x in (("self", a), ("mat2", b)):
        if not isinstance(x, Tensor) or x.ndim != 2:
            raise RuntimeError(f"{name} must be a matrix, got {getattr(x, 'shape', type(x).__name__)}")
    if a.shape[1] != b.shape[0]:
        raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({a.shape[0]}x{a.shape[1]} and "
                           f"{b.shape[0]}x{b.shape[1]})")
    return Matmul.apply(a, b)


@op
def bmm(a: Tensor, b: Tensor) -> Tensor:
    """The products of two equal-sized batches of matrices, (B, n, m) @ (B, m, p) -> (B, n, p)."""
    for name, x in (("batch1", a), ("batch2", b)):
        if not isinstance(x, Tensor) or x.ndim != 3:
            raise RuntimeError(f"{name} must be a 3D tensor, got {getattr(x, 'shape', type(x).__name__)}")
    if b.shape[:2] != (a.shape[0], a.shape[2]):
        raise RuntimeError(f"Expected size for first two dimensions of batch2 tensor to be: "
                           f"[{a.shape[0]}, {a.shape[2]}] but got: [{b.shape[0]}, {b.shape[1]}].")
    return Matmul.apply(a, b)



@op
def dot(a: Tensor, b: Tensor) -> Tensor:
    """The inner product of two 1-D tensors of one length."""
    if not (isinstance(a, Tensor) and isinstance(b, Tensor) and a.ndim == 1 and b.ndim == 1):
        raise RuntimeError(f"1D tensors expected, but got {getattr(a, 'ndim', '?')}D and {getattr(b, 'ndim', '?')}D "
                           "tensors")
    if a.shape != b.shape:
        raise RuntimeError(f"inconsistent tensor size, expected tensor [{a.shape[0]}] and src [{b.shape[0]}] to have "
                           "the same number of elements, but got different sizes")
    return matmul(a, b)


@op
def mv(a: Tensor, v: Tensor) -> Tensor:
    """The product of a matrix and a vector: (n, m) @ (m,) -> (n,)."""
    if not (isinstance(a, Tensor) and isinstance(v, Tensor) and a.ndim == 2 and v.ndim == 1):
        raise RuntimeError(f"vector + matrix @ vector expected, got {getattr(a, 'ndim', '?')}, "
                           f"{getattr(v, 'ndim', '?')}")
    if a.shape[1] != v.shape[0]:
        raise RuntimeError(f"size mismatch, got input ({a.shape[0]}), mat ({a.shape[0]}x{a.shape[1]}), "
                           f"vec ({v.shape[0]})")
    return matmul(a, v)


@op
def outer(a: Tensor, b: Tensor) -> Tensor:
    """The outer product of two 1-D tensors: ``out[i, j] = a[i] * b[j]``."""
    if not (isinstance(a, Tensor) and isinstance(b, Tensor) and a.ndim == 1 and b.ndim == 1):
        raise RuntimeError("outer: expected two 1-D tensors")
    return mul(unsqueeze(a, 1), unsqueeze(b, 0))


__all__ = exports(__name__)
