"""Errors: PyTorch's exception classes, with messages that name the shapes, dims and values.

shape mismatch → RuntimeError naming both shapes; bad dim → IndexError; bad argument type
or value → TypeError / ValueError; mixing devices → RuntimeError.
"""

from __future__ import annotations

import pytest

import tinytorch as tt


@pytest.fixture
def x(device):
    return tt.ones(2, 3, device=device)


@pytest.mark.parametrize("name,call,exc,pattern", [
    ("broadcast", lambda x: x + tt.ones(4, device=x.device), RuntimeError, r"\(2, 3\).*\(4,\)"),
    ("broadcast_mul", lambda x: x * tt.ones(3, 2, device=x.device), RuntimeError, r"\(2, 3\).*\(3, 2\)"),
    ("where", lambda x: tt.where(x > 0, x, tt.ones(5, device=x.device)), RuntimeError, r"\(2, 3\).*\(5,\)"),
    ("matmul", lambda x: x @ tt.ones(4, 2, device=x.device), RuntimeError, r"2x3 and 4x2"),
    ("matmul_0d", lambda x: x @ tt.tensor(1.0, device=x.device), RuntimeError, "at least 1D"),
    ("matmul_type", lambda x: tt.matmul(x, [[1.0]]), TypeError, "Tensor"),
    ("cat", lambda x: tt.cat([x, tt.ones(3, 3, device=x.device)], 1), RuntimeError,
     "Expected size 2 but got size 3 for tensor number 1"),
    ("cat_ndim", lambda x: tt.cat([x, tt.ones(3, device=x.device)]), RuntimeError, "same number of dimensions"),
    ("cat_type", lambda x: tt.cat(x), TypeError, "tuple or list"),
    ("cat_empty", lambda x: tt.cat([]), ValueError, "non-empty"),
    ("stack", lambda x: tt.stack([x, tt.ones(3, device=x.device)]), RuntimeError, r"\[2, 3\] at entry 0 and \[3\]"),
    ("reshape", lambda x: x.reshape(4, 2), RuntimeError, r"\(4, 2\) is invalid for input of size 6"),
    ("reshape_two_minus_one", lambda x: x.reshape(-1, -1), RuntimeError, "only one dimension can be inferred"),
    ("view", lambda x: x.T.view(6), RuntimeError, "view size is not compatible"),
    ("expand", lambda x: x.expand(4, 3), RuntimeError, r"expanded size of the tensor \(4\) must match .* \(2\)"),
    ("permute", lambda x: x.permute(0, 0), RuntimeError, "duplicate dims"),
    ("permute_len", lambda x: x.permute(0, 1, 2), RuntimeError, "does not match the length"),
    ("sum_dim", lambda x: x.sum(2), IndexError, r"range of \[-2, 1\], but got 2"),
    ("softmax_dim", lambda x: x.softmax(-3), IndexError, "but got -3"),
    ("transpose_dim", lambda x: x.transpose(0, 3), IndexError, "Dimension out of range"),
    ("unsqueeze_dim", lambda x: x.unsqueeze(3), IndexError, r"\[-3, 2\], but got 3"),
    ("max_dim", lambda x: x.max(5), IndexError, "Dimension out of range"),
    ("cat_dim", lambda x: tt.cat([x, x], 2), IndexError, "Dimension out of range"),
    ("dim_type", lambda x: x.sum("a"), TypeError, "dim"),
    ("index", lambda x: x[5], IndexError, "index 5 is out of bounds"),
    ("index_too_many", lambda x: x[0, 0, 0], IndexError, "too many indices"),
    ("index_tensor_bounds", lambda x: x[tt.tensor([0, 7], device=x.device)], IndexError, "out of bounds"),
    ("index_float", lambda x: x[tt.tensor([0.0], device=x.device)], IndexError, "long, int or bool"),
    ("index_mask_shape", lambda x: x[tt.tensor([True, False, True], device=x.device)], IndexError, "mask"),
    ("amax_empty", lambda x: tt.zeros(0, 3, device=x.device).amax(0), IndexError, "non-zero size"),
    ("clamp_none", lambda x: x.clamp(), RuntimeError, "At least one of 'min' or 'max'"),
    ("where_cond", lambda x: tt.where(x, x, x), TypeError, "boolean"),
    ("split", lambda x: x.split([1, 1], 1), RuntimeError, "sum exactly to 3"),
    ("mean_int", lambda x: tt.ones(2, dtype=tt.int64, device=x.device).mean(), RuntimeError, "floating point"),
    ("requires_grad_int", lambda x: tt.zeros(2, dtype=tt.int64, device=x.device).requires_grad_(),
     RuntimeError, "floating point"),
    ("dtype", lambda x: x.to(dtype="complex64"), TypeError, "dtype"),
    ("device_name", lambda x: x.to("tpu"), ValueError, "tpu"),
])
def test_errors(x, name, call, exc, pattern):
    with pytest.raises(exc, match=pattern):
        call(x)


def test_mixing_devices_raises():
    others = [d for d in tt.backends.available() if d != "numpy"]
    if not others:
        pytest.skip("only one device is available")
    a, b = tt.ones(2, device="numpy"), tt.ones(2, device=others[0])
    for f in (lambda: a + b, lambda: a @ b, lambda: tt.cat([a, b]), lambda: tt.where(a > 0, a, b)):
        with pytest.raises(RuntimeError, match="device"):
            f()


def test_unavailable_device_raises_runtime_error_with_reason():
    missing = [d for d in tt.backends.BACKEND_MODULES if not tt.backends.is_available(d)]
    if not missing:
        pytest.skip("every device is available here")
    with pytest.raises(RuntimeError, match="not available"):
        tt.zeros(1, device=missing[0])


@pytest.mark.parametrize("call, message", [
    (lambda: tt.mm(tt.ones(2, 3), tt.ones(3)), "mat2 must be a matrix"),
    (lambda: tt.mm(tt.ones(2, 2, 3), tt.ones(3, 2)), "self must be a matrix"),
    (lambda: tt.mm(tt.ones(2, 3), tt.ones(4, 2)), r"\(2x3 and 4x2\)"),
    (lambda: tt.bmm(tt.ones(2, 3), tt.ones(2, 3)), "batch1 must be a 3D tensor"),
    (lambda: tt.bmm(tt.ones(2, 2, 3), tt.ones(3, 3, 2)), r"\[2, 3\] but got: \[3, 3\]"),
])
def test_mm_and_bmm_take_only_matrices_and_batches_of_them(call, message):
    """As PyTorch: no broadcasting and no vectors (that is matmul), errors naming the shapes."""
    with pytest.raises(RuntimeError, match=message):
        call()


@pytest.mark.parametrize("call, error, message", [
    (lambda: tt.narrow(tt.ones(2, 3), 1, 2, 2), IndexError,
     r"start \(2\) \+ length \(2\) exceeds dimension size \(3\)"),
    (lambda: tt.select(tt.ones(2, 3), 0, 2), IndexError, "index 2 out of range"),
    (lambda: tt.movedim(tt.ones(2, 3), (0, 1), 0), RuntimeError, "same number of dims"),
    (lambda: tt.roll(tt.ones(2, 3), (1, 2), 0), RuntimeError, "shifts and dimensions must align"),
    (lambda: tt.fliplr(tt.ones(3)), RuntimeError, ">= 2-d"),
    (lambda: tt.index_select(tt.ones(2, 3), 1, tt.tensor([0.5])), IndexError, "int64"),
    (lambda: tt.masked_select(tt.ones(2), tt.tensor([1, 0])), RuntimeError, "BoolTensor"),
    (lambda: tt.take(tt.ones(2), tt.tensor([0.0])), RuntimeError, "long tensor"),
    (lambda: tt.dot(tt.ones(2), tt.ones(3)), RuntimeError, "inconsistent tensor size"),
    (lambda: tt.dot(tt.ones(2, 2), tt.ones(2)), RuntimeError, "1D tensors expected"),
    (lambda: tt.mv(tt.ones(2, 3), tt.ones(2)), RuntimeError, "size mismatch"),
])
def test_movement_and_product_errors_name_the_values(call, error, message):
    with pytest.raises(error, match=message):
        call()


# --- issue 13: misuse that used to give a silent wrong answer raises PyTorch's exception class ----------
ERROR_ROWS = {
    "one_hot(class >= num_classes)": lambda t, F, d: F.one_hot(t.tensor([5], device=d), 3),
    "one_hot(negative class)": lambda t, F, d: F.one_hot(t.tensor([0, -1], device=d), 3),
    "one_hot(empty, inferred classes)": lambda t, F, d: F.one_hot(t.tensor([], dtype=t.int64, device=d)),
    "gather(negative index)": lambda t, F, d: t.gather(t.tensor([1.0, 2, 3], device=d), 0, t.tensor([-1], device=d)),
    "gather(index too large)": lambda t, F, d: t.tensor([[1.0, 2], [3, 4]], device=d).gather(
        1, t.tensor([[0], [2]], device=d)),
    "embedding(negative index)": lambda t, F, d: F.embedding(t.tensor([0, -1], device=d), t.ones(3, 2, device=d)),
    "embedding(index too large)": lambda t, F, d: F.embedding(t.tensor([3], device=d), t.ones(3, 2, device=d)),
    "embedding(bool indices)": lambda t, F, d: F.embedding(t.tensor([True, False, True], device=d),
                                                           t.ones(3, 2, device=d)),
    "embedding(float indices)": lambda t, F, d: F.embedding(t.tensor([0.0, 1.0], device=d), t.ones(3, 2, device=d)),
    "Embedding(negative index)": lambda t, F, d: t.nn.Embedding(3, 2).to(d)(t.tensor([-1], device=d)),
    "index_select(negative index)": lambda t, F, d: t.index_select(t.arange(3.0, device=d), 0,
                                                                   t.tensor([-1], device=d)),
    "index_select(index too large)": lambda t, F, d: t.zeros(3, 2, device=d).index_select(0,
                                                                                           t.tensor([0, 3], device=d)),
    "split(-1, bad dim)": lambda t, F, d: t.zeros(3, device=d).split(-1, 5),
    "split(0) of a nonempty dim": lambda t, F, d: t.zeros(3, device=d).split(0),
    "split([5, -1])": lambda t, F, d: t.zeros(4, device=d).split([5, -1]),
    "split([-1, 5])": lambda t, F, d: t.zeros(4, device=d).split([-1, 5]),
    "expand(-2)": lambda t, F, d: t.zeros(1, device=d).expand(-2),
    "expand(3, -2)": lambda t, F, d: t.zeros(3, 1, device=d).expand(3, -2),
    "chunk(0-d)": lambda t, F, d: t.tensor(1.0, device=d).chunk(2),
    "layer_norm(weight of the wrong shape)": lambda t, F, d: F.layer_norm(t.zeros(2, 3, device=d), (3,),
                                                                          t.ones(4, device=d)),
    "layer_norm(bias of the wrong shape)": lambda t, F, d: F.layer_norm(t.zeros(2, 3, device=d), (3,), None,
                                                                        t.ones(1, device=d)),
    "index arrays that do not broadcast": lambda t, F, d: t.zeros(2, 3, device=d)[[0, 1], [0, 1, 2]],
    "x[False, [0, 1]]": lambda t, F, d: t.zeros(2, 3, device=d)[False, [0, 1]],
    "masked_fill(int, nan)": lambda t, F, d: t.tensor([1, 2], device=d).masked_fill(t.tensor([True, False], device=d),
                                                                                     float("nan")),
}


@pytest.mark.parametrize("row", list(ERROR_ROWS))
def test_misuse_raises_what_pytorch_raises(row, device):
    pytest.importorskip("torch")
    from torch_compare import both

    ours, theirs = both(ERROR_ROWS[row], device)
    assert theirs[0] == "raises", theirs  # the row is misuse in PyTorch too
    assert ours == theirs
