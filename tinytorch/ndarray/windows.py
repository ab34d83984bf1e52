"""Sliding windows over the last two axes of an (N, C, H, W) array: im2col and its adjoint.

The windows of an (N, C, H, W) array -- kernel (kh, kw), stride (sh, sw), dilation (dh, dw) --
are a strided *view* of it, with no copy::

    windows[n, c, i, j, y, x] = x[n, c, y * sh + i * dh, x * sw + j * dw]

i.e. shape (N, C, kh, kw, OH, OW) and strides (sN, sC, sH * dh, sW * dw, sH * sh, sW * sw) where
(sN, sC, sH, sW) are the array's own. :func:`unfold` makes that view compact (one copy, after
padding): the im2col matrix. :func:`fold` is its adjoint: every window element is added back to
the position it was read from -- in one pass by the backend's optional ``fold_windows`` where it
has one, else kh * kw strided additions when windows overlap, a single strided write when they
do not (a 2x2 pool with stride 2).
"""

from __future__ import annotations

from typing import Any

from .ndarray import NDArray, zeros

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
    return x.as_strided(x.shape[:2] + (kh, kw, oh, ow), (s_n, s_c, s_y * dh, s_x * dw, s_y * sh, s_x * sw))


def unfold(x: NDArray, kernel: Pair, stride: Pair, padding: Pair, dilation: Pair,
                 pad_value: Any = 0) -> NDArray:
    """The compact windows of ``x`` (N, C, H, W) padded by ``padding`` with ``pad_value``."""
    (ph, pw) = padding
    if ph or pw:
        x = x.pad(((0, 0), (0, 0), (ph, ph), (pw, pw)), pad_value)
    out_hw = tuple(out_size(x.shape[2 + a], kernel[a], stride[a], 0, dilation[a]) for a in (0, 1))
    return _window_view(x, kernel, stride, dilation, out_hw).compact()  # type: ignore[arg-type]


def fold(cols: NDArray, out_hw: Pair, kernel: Pair, stride: Pair, padding: Pair, dilation: Pair) -> NDArray:
    """The adjoint of :func:`unfold`: an (N, C, H, W) array where each element is the sum
    of the window elements of ``cols`` that were read from it (padding dropped)."""
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = kernel, stride, padding, dilation
    n, c = cols.shape[:2]
    oh, ow = cols.shape[4:6]
    out = zeros((n, c, out_hw[0] + 2 * ph, out_hw[1] + 2 * pw), dtype=cols.dtype, device=cols.device)
    col2im = cols.device.backend.fold_windows  # optional: one pass in the backend (None: the loop below)
    if col2im is not None and cols.dtype.is_floating_point:
        cols = cols.compact()
        col2im(cols._buf, out._buf, n * c, out.shape[2], out.shape[3], kh, kw, oh, ow, sh, sw, dh, dw)
    elif sh > (kh - 1) * dh and sw > (kw - 1) * dw:
        # windows do not overlap: the window view reaches each element at most once, so one
        # strided write puts every value in place
        _window_view(out, kernel, stride, dilation, (oh, ow))[...] = cols
    else:
        # overlapping windows: add kernel offset (i, j)'s values, an (N, C, OH, OW) slab, in turn
        s_n, s_c, s_y, s_x = out.strides
        for i in range(kh):
            for j in range(kw):
                dst = out.as_strided((n, c, oh, ow), (s_n, s_c, s_y * sh, s_x * sw), i * dh * s_y + j * dw * s_x)
                dst[...] = dst + cols[:, :, i, j]
    if ph or pw:
        out = out[:, :, ph:ph + out_hw[0], pw:pw + out_hw[1]]
    return out
