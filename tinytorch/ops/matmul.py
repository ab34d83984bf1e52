"""Matrix multiplication: one primitive for >= 2-D operands; the 1-D cases are views around it.

Batch dims broadcast. The gradient of a broadcast batch comes back with the broadcast shape
and the engine sums it down, as for any other broadcast.
"""

from __future__ import annotations

import math
from typing import Any

from ..ndarray import NDArray, full
from ..ndarray.strides import broadcast_shapes
from ..tensor import Function, Tensor
from .dims import normalize_dim
from .elementwise import mul, where
from .movement import permute, reshape, squeeze, transpose, unsqueeze
from .table import exports, op


class Matmul(Function):
    fresh_grads = True  # two products (or transposed views of them)

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
    _check_batches(a, b)
    return Matmul.apply(a, b)


def _check_batches(a: Tensor, b: Tensor) -> None:
    """PyTorch's checks of ``bmm``'s operands: two 3-D tensors, (B, n, m) and (B, m, p)."""
    for name, x in (("batch1", a), ("batch2", b)):
        if not isinstance(x, Tensor) or x.ndim != 3:
            raise RuntimeError(f"{name} must be a 3D tensor, got {getattr(x, 'shape', type(x).__name__)}")
    if b.shape[:2] != (a.shape[0], a.shape[2]):
        raise RuntimeError(f"Expected size for first two dimensions of batch2 tensor to be: "
                           f"[{a.shape[0]}, {a.shape[2]}] but got: [{b.shape[0]}, {b.shape[1]}].")


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


@op
def vdot(a: Tensor, b: Tensor) -> Tensor:
    """The inner product of two 1-D tensors, the first conjugated (real tensors: :func:`dot`)."""
    if not (isinstance(a, Tensor) and isinstance(b, Tensor) and a.ndim == 1 and b.ndim == 1):
        raise RuntimeError(f"1D tensors expected, but got {getattr(a, 'ndim', '?')}D and {getattr(b, 'ndim', '?')}D "
                           "tensors")
    return dot(a, b)


def _scaled_sum(x: Tensor, product: Tensor, beta: Any, alpha: Any, name: str) -> Tensor:
    """``beta * x + alpha * product``, ``x`` broadcast to the product's shape. As in PyTorch,
    ``beta = 0`` ignores ``x``: its NaN and inf do not reach the result (``x`` still gets a
    zero gradient of its shape)."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{name}(): argument 'input' must be Tensor, not {type(x).__name__}")
    try:
        shape: tuple | None = broadcast_shapes(x.shape, product.shape)
    except RuntimeError:
        shape = None
    if shape != product.shape:
        raise RuntimeError(f"{name}(): the input of shape {list(x.shape)} cannot be broadcast to the product's shape "
                           f"{list(product.shape)}")
    scaled = product if alpha == 1 else product * alpha
    if beta == 0:  # where() picks the product everywhere, and gives x a gradient of zeros
        return where(Tensor(full((1,) * product.ndim, True, device=product.device)), scaled, x)
    return scaled + (x if beta == 1 else x * beta)


@op
def addmm(x: Tensor, mat1: Tensor, mat2: Tensor, *, beta: Any = 1, alpha: Any = 1) -> Tensor:
    """``beta * x + alpha * (mat1 @ mat2)`` for matrices; ``x`` broadcasts to the product."""
    return _scaled_sum(x, mm(mat1, mat2), beta, alpha, "addmm")


@op
def addmv(x: Tensor, mat: Tensor, vec: Tensor, *, beta: Any = 1, alpha: Any = 1) -> Tensor:
    """``beta * x + alpha * (mat @ vec)``."""
    return _scaled_sum(x, mv(mat, vec), beta, alpha, "addmv")


@op
def addr(x: Tensor, vec1: Tensor, vec2: Tensor, *, beta: Any = 1, alpha: Any = 1) -> Tensor:
    """``beta * x + alpha * outer(vec1, vec2)``."""
    return _scaled_sum(x, outer(vec1, vec2), beta, alpha, "addr")


@op
def baddbmm(x: Tensor, batch1: Tensor, batch2: Tensor, *, beta: Any = 1, alpha: Any = 1) -> Tensor:
    """``beta * x + alpha * bmm(batch1, batch2)``: a batch of products, each with its term."""
    return _scaled_sum(x, bmm(batch1, batch2), beta, alpha, "baddbmm")


@op
def addbmm(x: Tensor, batch1: Tensor, batch2: Tensor, *, beta: Any = 1, alpha: Any = 1) -> Tensor:
    """``beta * x + alpha * sum_b batch1[b] @ batch2[b]``. The sum of the products is one
    product: the batch is laid side by side, ``(n, B*m) @ (B*m, p)``."""
    _check_batches(batch1, batch2)
    b, n, m = batch1.shape
    p = batch2.shape[2]
    side_by_side = reshape(permute(batch1, (1, 0, 2)), (n, b * m))
    stacked = reshape(batch2, (b * m, p))
    return _scaled_sum(x, Matmul.apply(side_by_side, stacked), beta, alpha, "addbmm")


ger = op(outer, name="ger")


def _contracted_dims(a: Tensor, b: Tensor, dims: Any) -> tuple[list[int], list[int]]:
    """tensordot's ``dims`` as two lists of dims (as given: negatives kept, for the messages)."""
    if isinstance(dims, Tensor):
        dims = int(dims.item()) if dims.numel() == 1 else dims.tolist()
    if isinstance(dims, int):
        if dims < 0:
            raise RuntimeError(f"tensordot expects dims >= 0, but got dims={dims}")
        if dims > a.ndim or dims > b.ndim:
            raise RuntimeError(f"tensordot expects dims < ndim_a or ndim_b, but got dims={dims}")
        return list(range(-dims, 0)), list(range(dims))
    if not isinstance(dims, (list, tuple)) or len(dims) != 2:
        raise RuntimeError(f"tensordot expects dims to be an int or a pair of dim lists, but got {dims!r}")
    da, db = ([d] if isinstance(d, int) else [int(k) for k in d] for d in dims)
    if len(da) != len(db):
        raise RuntimeError("both dimension lists should have same length")
    return da, db


@op(method=False)
def tensordot(a: Tensor, b: Tensor, dims: Any = 2) -> Tensor:
    """The sum of products over the dims of ``a`` and of ``b`` that ``dims`` pairs: an int ``n``
    pairs the last ``n`` dims of ``a`` with the first ``n`` of ``b``; a pair of lists pairs
    ``dims[0][i]`` with ``dims[1][i]``. The result's dims are ``a``'s free dims then ``b``'s."""
    given_a, given_b = _contracted_dims(a, b, dims)
    da = [normalize_dim(d, a.ndim) for d in given_a]
    db = [normalize_dim(d, b.ndim) for d in given_b]
    for ga, gb, i, j in zip(given_a, given_b, da, db):
        if a.shape[i] != b.shape[j]:
            raise RuntimeError(f"contracted dimensions need to match, but first has size {a.shape[i]} in dim {ga} "
                               f"and second has size {b.shape[j]} in dim {gb}")
    free_a = [d for d in range(a.ndim) if d not in da]
    free_b = [d for d in range(b.ndim) if d not in db]
    k = math.prod(a.shape[d] for d in da)
    left = reshape(permute(a, tuple(free_a + da)), (-1, k) if k else (math.prod(a.shape[d] for d in free_a), 0))
    right = reshape(permute(b, tuple(db + free_b)), (k, math.prod(b.shape[d] for d in free_b)))
    out = matmul(left, right)
    return reshape(out, tuple(a.shape[d] for d in free_a) + tuple(b.shape[d] for d in free_b))


@op(method=False)
def chain_matmul(*matrices: Tensor) -> Tensor:
    """The product of the 2-D ``matrices``, left to right (PyTorch's older form of
    ``linalg.multi_dot``)."""
    if not matrices:
        raise RuntimeError("chain_matmul(): Expected one or more matrices")
    for m in matrices:
        if m.ndim != 2:
            raise RuntimeError(f"Tensor dimension is {m.ndim}, expected 2 instead.")
    result = matrices[0]
    for m in matrices[1:]:
        result = mm(result, m)
    return result.clone() if len(matrices) == 1 else result


__all__ = exports(__name__)
