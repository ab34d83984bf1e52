"""Sliding windows: ``Unfold`` (im2col) and ``Fold`` (col2im), the primitives behind convolution
and pooling.

The windows of an (N, C, H, W) array -- kernel (kh, kw), stride (sh, sw), dilation (dh, dw) --
are a strided *view* of it, with no copy::

    windows[n, c, i, j, y, x] = x[n, c, y * sh + i * dh, x * sw + j * dw]

i.e. shape (N, C, kh, kw, OH, OW) and strides (sN, sC, sH * dh, sW * dw, sH * sh, sW * sw) where
(sN, sC, sH, sW) are the array's own. ``Unfold`` makes that view compact (one copy, after
padding): the im2col matrix. ``Fold`` is its adjoint: every window element is added back to the
position it was read from -- kh * kw strided additions when windows overlap, a single strided
write when they do not (a 2x2 pool with stride 2). Each is the other's backward, so gradients
of every order come for free.
"""

from __future__ import annotations

from typing import Any

from ..autograd import Function, Tensor
from ..ndarray import NDArray, zeros

Pair = tuple[int, int]


def out_size(size: int, kernel: int, stride: int, padding: int, dilation: int) -> int:
    """The number of window positions along one axis (PyTorch's formula)."""
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def _window_view(x: NDArray, kernel: Pair, stride: Pair, dilation: Pair, out_hw: Pair) -> NDArray:
    """The windows of ``x`` (N, C, H, W) as a view of shape (N, C, kh, kw, OH, OW). (Kernel
    axes before the window axes: the innermost axis is then a long run along a row of ``x``,
    and a reduction over the kernel, a pooling, is over a middle axis, which vectorizes.)"""
    (kh, kw), (sh, sw), (dh, dw), (oh, ow) = kernel, stride, dilation, out_hw
    s_n, s_c, s_y, s_x = x.strides
    return x._view(x.shape[:2] + (kh, kw, oh, ow), (s_n, s_c, s_y * dh, s_x * dw, s_y * sh, s_x * sw))


def unfold_array(x: NDArray, kernel: Pair, stride: Pair, padding: Pair, dilation: Pair,
                 pad_value: Any = 0) -> NDArray:
    """The compact windows of ``x`` (N, C, H, W) padded by ``padding`` with ``pad_value``."""
    (ph, pw) = padding
    if ph or pw:
        x = x.pad(((0, 0), (0, 0), (ph, ph), (pw, pw)), pad_value)
    out_hw = tuple(out_size(x.shape[2 + a], kernel[a], stride[a], 0, dilation[a]) for a in (0, 1))
    return _window_view(x, kernel, stride, dilation, out_hw).compact()  # type: ignore[arg-type]


def fold_array(cols: NDArray, out_hw: Pair, kernel: Pair, stride: Pair, padding: Pair, dilation: Pair) -> NDArray:
    """The adjoint of :func:`unfold_array`: an (N, C, H, W) array where each element is the sum
    of the window elements of ``cols`` that were read from it (padding dropped)."""
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = kernel, stride, padding, dilation
    n, c = cols.shape[:2]
    oh, ow = cols.shape[4:6]
    out = zeros((n, c, out_hw[0] + 2 * ph, out_hw[1] + 2 * pw), dtype=cols.dtype, device=cols.device)
    backend = out._backend
    if sh > (kh - 1) * dh and sw > (kw - 1) * dw:
        # windows do not overlap: the window view reaches each element at most once, so one
        # strided write puts every value in place
        view = _window_view(out, kernel, stride, dilation, (oh, ow))
        backend.ewise_setitem(cols.compact()._buf, out._buf, view.shape, view.strides, view.offset)
    else:
        # overlapping windows: add kernel offset (i, j)'s values, an (N, C, OH, OW) slab, in turn
        s_n, s_c, s_y, s_x = out.strides
        for i in range(kh):
            for j in range(kw):
                dst = out._view((n, c, oh, ow), (s_n, s_c, s_y * sh, s_x * sw), i * dh * s_y + j * dw * s_x)
                total = (dst + cols[:, :, i, j]).compact()
                backend.ewise_setitem(total._buf, out._buf, dst.shape, dst.strides, dst.offset)
    if ph or pw:
        out = out[:, :, ph:ph + out_hw[0], pw:pw + out_hw[1]]
    return out


class Unfold(Function):
    """(N, C, H, W) -> its windows, compact, (N, C, kh, kw, OH, OW). Padding uses ``pad_value``
    (-inf for max pooling); the backward is :class:`Fold`."""

    def forward(self, a: NDArray, kernel: Pair, stride: Pair, padding: Pair, dilation: Pair,
                pad_value: Any = 0) -> NDArray:
        self.params = (a.shape[2:], kernel, stride, padding, dilation)
        return unfold_array(a, kernel, stride, padding, dilation, pad_value)

    def backward(self, g: Tensor) -> Tensor:
        hw, kernel, stride, padding, dilation = self.params
        return Fold.apply(g, out_hw=hw, kernel=kernel, stride=stride, padding=padding, dilation=dilation)


class Fold(Function):
    """Windows -> the (N, C, H, W) array they sum back into (the adjoint of :class:`Unfold`,
    its backward)."""

    def forward(self, cols: NDArray, out_hw: Pair, kernel: Pair, stride: Pair, padding: Pair,
                dilation: Pair) -> NDArray:
        self.params = (kernel, stride, padding, dilation)
        return fold_array(cols, out_hw, kernel, stride, padding, dilation)

    def backward(self, g: Tensor) -> Tensor:
        kernel, stride, padding, dilation = self.params
        return Unfold.apply(g, kernel=kernel, stride=stride, padding=padding, dilation=dilation)
