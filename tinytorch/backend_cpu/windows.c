/* windows.c -- col2im: the adjoint of the sliding-window view (ndarray/windows.py).
 *
 * tt_fold_windows_<dtype>(cols, out, nc, out_h, out_w, kh, kw, oh, ow, sh, sw, dh, dw) adds
 * every element of the compact windows array cols (nc, kh, kw, oh, ow) into the compact
 * out (nc, out_h, out_w) at the position it was read from:
 *
 *     out[p, y * sh + i * dh, x * sw + j * dw] += cols[p, i, j, y, x]
 *
 * One pass over cols, where the NDArray fallback takes kh * kw strided additions (each a
 * compact copy, an add and a strided write). The gradient of a convolution's input and of
 * an average pooling goes through it. The planes p are independent, so they are split
 * across threads; inside a plane the kernel offsets (i, j) run in order (windows overlap).
 *
 * The binding checks the sizes; the kernel checks again that every window lies inside the
 * output plane and returns -1 without touching memory when one does not (or a size is
 * negative), 0 otherwise.
 */
#include "kernels.h"

#define FOLD(sfx, T)                                                                           \
    TT_API int tt_fold_windows_##sfx(const T *cols, T *out, int64_t nc, int64_t out_h,         \
                                     int64_t out_w, int64_t kh, int64_t kw, int64_t oh,        \
                                     int64_t ow, int64_t sh, int64_t sw, int64_t dh,           \
                                     int64_t dw) {                                             \
        if (nc < 0 || out_h < 0 || out_w < 0 || kh < 0 || kw < 0 || oh < 0 || ow < 0 ||        \
            sh < 1 || sw < 1 || dh < 1 || dw < 1)                                              \
            return -1;                                                                         \
        if (nc == 0 || kh == 0 || kw == 0 || oh == 0 || ow == 0) return 0;                     \
        if ((kh - 1) * dh + (oh - 1) * sh >= out_h || (kw - 1) * dw + (ow - 1) * sw >= out_w)  \
            return -1;                                                                         \
        const int64_t plane = out_h * out_w, window = kh * kw * oh * ow;                       \
        const int64_t work = nc * window;                                                      \
        TT_OMP("omp parallel for schedule(static) if(work >= TT_PAR_MIN)")                     \
        for (int64_t p = 0; p < nc; p++) {                                                     \
            const T *src = cols + p * window;                                                  \
            T *dst = out + p * plane;                                                          \
            for (int64_t i = 0; i < kh; i++)                                                   \
                for (int64_t j = 0; j < kw; j++)                                               \
                    for (int64_t y = 0; y < oh; y++, src += ow) {                              \
                        T *row = dst + (y * sh + i * dh) * out_w + j * dw;                     \
                        if (sw == 1) {                                                         \
                            TT_OMP("omp simd")                                                 \
                            for (int64_t x = 0; x < ow; x++) row[x] += src[x];                 \
                        } else {                                                               \
                            for (int64_t x = 0; x < ow; x++) row[x * sw] += src[x];            \
                        }                                                                      \
                    }                                                                          \
        }                                                                                      \
        return 0;                                                                              \
    }

FOLD(f32, float)
FOLD(f64, double)
