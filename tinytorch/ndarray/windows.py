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

import math
from typing import Any

import numpy as np

from .dtypes import bool_, int64
from .ndarray import NDArray, array, where, zeros

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


# --- convolution ------------------------------------------------------------------------------------------
# The three products of a 2-D convolution -- forward, input gradient, weight gradient -- of
#     x (N, C, H, W), w (O, C / G, kh, kw), out (N, O, OH, OW), G = groups,
# each in one call of the backend's optional ``conv2d`` / ``conv2d_backward_input`` /
# ``conv2d_backward_weight`` where it has them (float dtypes), else with im2col: :func:`unfold`,
# one batched matmul per group, and :func:`fold` for the input gradient.

class ConvGeometry(tuple):
    """The 16 ints a backend's convolution functions take: ``(n, c, h, w, o, kh, kw, oh, ow, sh,
    sw, ph, pw, dh, dw, groups)``."""

    @classmethod
    def of(cls, x_shape: tuple[int, ...], w_shape: tuple[int, ...], stride: Pair, padding: Pair,
           dilation: Pair, groups: int) -> "ConvGeometry":
        n, c, h, w = x_shape
        o, _, kh, kw = w_shape
        oh = out_size(h, kh, stride[0], padding[0], dilation[0])
        ow = out_size(w, kw, stride[1], padding[1], dilation[1])
        return cls((n, c, h, w, o, kh, kw, oh, ow, *stride, *padding, *dilation, groups))

    @property
    def windows(self) -> tuple[Pair, Pair, Pair, Pair]:
        """(kernel, stride, padding, dilation), as :func:`unfold` takes them."""
        g = self
        return (g[5], g[6]), (g[9], g[10]), (g[11], g[12]), (g[13], g[14])


def _backend_conv(name: str, *arrays: NDArray | None) -> Any:
    """The backend's optional convolution function ``name`` when it has one and every array is
    of one float dtype, else None (the generic path)."""
    present = [a for a in arrays if a is not None]
    kernel = getattr(present[0].device.backend, name, None)
    dtype = present[0].dtype
    if kernel is None or not dtype.is_floating_point or any(a.dtype is not dtype for a in present):
        return None
    return kernel if all(a.size for a in present) else None  # empty arrays: nothing for C to do


def conv2d(x: NDArray, w: NDArray, b: NDArray | None, geom: ConvGeometry) -> NDArray:
    """``out[n, o] = b[o] + sum over c, i, j of w[o, c, i, j] * x[n, g*C/G + c, y*sh + i*dh - ph,
    x*sw + j*dw - pw]`` (zero outside the input), ``g`` the group of ``o``: (N, O, OH, OW)."""
    n, _, _, _, o, kh, kw, oh, ow = geom[:9]
    kernel = _backend_conv("conv2d", x, w, b)
    if kernel is not None:
        out = NDArray.make((n, o, oh, ow), x.dtype, x.device)
        kernel(x.compact()._buf, w.compact()._buf, None if b is None else b.compact()._buf, out._buf, geom)
        return out
    groups = geom[15]
    k = w.shape[1] * kh * kw
    cols = unfold(x, *geom.windows).reshape((n, groups, k, oh * ow))
    out = (w.reshape((groups, o // groups, k)) @ cols).reshape((n, o, oh, ow))
    return out if b is None else out + b.reshape((o, 1, 1))


def conv2d_backward_input(g: NDArray, w: NDArray, geom: ConvGeometry) -> NDArray:
    """The gradient of :func:`conv2d`'s ``x`` for the output gradient ``g``: (N, C, H, W)."""
    n, c, h, wd, o, kh, kw, oh, ow = geom[:9]
    kernel = _backend_conv("conv2d_backward_input", g, w)
    if kernel is not None:
        out = NDArray.make((n, c, h, wd), g.dtype, g.device)
        kernel(g.compact()._buf, w.compact()._buf, out._buf, geom)
        return out
    groups = geom[15]
    k = w.shape[1] * kh * kw
    w_t = w.reshape((groups, o // groups, k)).permute((0, 2, 1))               # (G, K, O/G)
    cols = (w_t @ g.reshape((n, groups, o // groups, oh * ow))).reshape((n, c, kh, kw, oh, ow))
    return fold(cols, (h, wd), *geom.windows)


def conv2d_backward_weight(g: NDArray, x: NDArray, geom: ConvGeometry) -> NDArray:
    """The gradient of :func:`conv2d`'s ``w`` for the output gradient ``g``: (O, C / G, kh, kw)."""
    n, c, _, _, o, kh, kw, oh, ow = geom[:9]
    groups = geom[15]
    kernel = _backend_conv("conv2d_backward_weight", g, x)
    if kernel is not None:
        out = NDArray.make((o, c // groups, kh, kw), g.dtype, g.device)
        kernel(g.compact()._buf, x.compact()._buf, out._buf, geom)
        return out
    k = c // groups * kh * kw
    cols = unfold(x, *geom.windows).reshape((n, groups, k, oh * ow))
    gw = g.reshape((n, groups, o // groups, oh * ow)) @ cols.permute((0, 1, 3, 2))  # (N, G, O/G, K)
    return gw.sum(0).reshape((o, c // groups, kh, kw))


# --- max pooling ------------------------------------------------------------------------------------------
# Max pooling of x (N, C, H, W) over windows (kernel, stride, padding, dilation) that give out_hw
# positions; positions past the input (padding, and what a ceil_mode window reaches beyond it) are
# -inf. One pass each way with the backend's optional ``max_pool2d`` / ``max_pool2d_backward``
# (float dtypes), else over the unfolded windows with a one-hot mask of each first maximum.

def _pool_geometry(x_shape: tuple[int, ...], kernel: Pair, stride: Pair, padding: Pair, dilation: Pair,
                   out_hw: Pair) -> tuple[int, ...]:
    n, c, h, w = x_shape
    return (n * c, h, w, *out_hw, *kernel, *stride, *padding, *dilation)


def first_max_mask(cols: NDArray, dim: int) -> NDArray:
    """A bool NDArray of ``cols``' shape: True at the first maximum along ``dim`` (the window
    axis K of (N, C, K, OH, OW)) of each window (a NaN counts as the maximum), False
    elsewhere. Built from K slabs with elementwise ops: a reduction over rows of K = 4
    elements costs far more per element."""
    def at(k: int) -> tuple:
        return (slice(None),) * dim + (k,)
    hit = (cols == cols.max(dim, keepdims=True)) | (cols != cols)
    mask, taken = hit.copy(), hit[at(0)]
    for k in range(1, cols.shape[dim]):
        mask[at(k)] = hit[at(k)] & ~taken
        taken = taken | hit[at(k)]
    return mask


def max_pool2d(x: NDArray, kernel: Pair, stride: Pair, padding: Pair, dilation: Pair,
               out_hw: Pair) -> tuple[NDArray, NDArray]:
    """The maximum of each window, (N, C, OH, OW), and the flat position ``row * W + column`` in
    its plane of the window's first maximum (or first NaN), int64."""
    n, c, h, w = x.shape
    kernel_fn = x.device.backend.max_pool2d  # optional: None where the backend has none
    if kernel_fn is not None and x.dtype.is_floating_point and x.size and math.prod(out_hw) and h * w < 2**31:
        values = NDArray.make((n, c) + tuple(out_hw), x.dtype, x.device)
        positions = NDArray.make((n, c) + tuple(out_hw), int64, x.device)
        kernel_fn(x.compact()._buf, values._buf, positions._buf,
                  _pool_geometry(x.shape, kernel, stride, padding, dilation, out_hw))
        return values, positions
    extra = [max((out_hw[a] - 1) * stride[a] + dilation[a] * (kernel[a] - 1) + 1 - (x.shape[2 + a] + 2 * padding[a]),
                 0) for a in (0, 1)]
    pads = ((0, 0), (0, 0), (padding[0], padding[0] + extra[0]), (padding[1], padding[1] + extra[1]))
    k = kernel[0] * kernel[1]
    lowest = -math.inf if x.dtype.is_floating_point else False if x.dtype is bool_ else int(np.iinfo(np.int64).min)
    cols = _window_view(x.pad(pads, lowest), kernel, stride, dilation, out_hw).compact()
    cols = cols.reshape((n, c, k) + tuple(out_hw))
    grid = array(np.arange(h * w).reshape(1, 1, h, w), dtype=int64, device=x.device).pad(pads, -1)
    where_from = _window_view(grid, kernel, stride, dilation, out_hw).compact().reshape((1, 1, k) + tuple(out_hw))
    mask = first_max_mask(cols, 2)
    return where(mask, cols, 0).sum(2), where(mask, where_from, 0).sum(2)


def max_pool2d_backward(g: NDArray, positions: NDArray, hw: Pair) -> NDArray:
    """The gradient of :func:`max_pool2d`'s input: zeros of (N, C, H, W) with each ``g[n, c, y, x]``
    added at ``positions[n, c, y, x]`` of its plane (repeated positions add up)."""
    n, c, oh, ow = g.shape
    h, w = hw
    kernel_fn = g.device.backend.max_pool2d_backward  # optional
    if kernel_fn is not None and g.dtype.is_floating_point and g.size and h * w:
        gx = NDArray.make((n, c, h, w), g.dtype, g.device)
        kernel_fn(g.compact()._buf, positions.compact()._buf, gx._buf, (n * c, h, w, oh, ow, 1, 1, 1, 1, 0, 0, 1, 1))
        return gx
    gx = zeros((n * c, h * w), dtype=g.dtype, device=g.device)
    planes = array(np.arange(n * c).reshape(-1, 1), dtype=int64, device=g.device)
    gx.index_add_((planes, positions.reshape((n * c, oh * ow))), g.reshape((n * c, oh * ow)))
    return gx.reshape((n, c, h, w))
