/* pool.c -- 2-D max pooling in one pass each way, float32 and float64.
 *
 *     tt_max_pool2d_<dtype>(x, values, positions, geom)
 *     tt_max_pool2d_backward_<dtype>(g, positions, gx, geom)
 *
 * geom holds 13 int64: planes (= n * c), h, w, oh, ow, kh, kw, sh, sw, ph, pw, dh, dw. Window
 * (y, x) of a plane reads rows y * sh - ph + i * dh and columns x * sw - pw + j * dw; positions
 * outside the plane are padding (-inf), as are those past it that a ceil_mode window reaches.
 * values gets each window's maximum, positions its flat index r * w + c in the plane (int64):
 * the first maximum in row-major window order, or the first NaN if the window holds one (a NaN
 * is the maximum, as in PyTorch); -1 and -inf for a window of padding only. The backward adds
 * each g[window] into gx at its position (windows that chose the same element add up).
 *
 * The binding checks every size; the backward kernel first checks that every position lies in
 * its plane and returns 1 + the index of the first one that does not, without writing; the
 * kernels return 0 otherwise.
 */
#include <math.h>

#include "kernels.h"

#define MAX_POOL(sfx, T)                                                                             \
    TT_API int tt_max_pool2d_##sfx(const T *x, T *values, int64_t *positions, const int64_t *geom) {  \
        const int64_t planes = geom[0], h = geom[1], w = geom[2], oh = geom[3], ow = geom[4];        \
        const int64_t kh = geom[5], kw = geom[6], sh = geom[7], sw = geom[8], ph = geom[9];          \
        const int64_t pw = geom[10], dh = geom[11], dw = geom[12];                                   \
        const int64_t work = planes * oh * ow * kh * kw;                                             \
        TT_OMP("omp parallel for schedule(static) if(work >= TT_PAR_MIN)")                           \
        for (int64_t p = 0; p < planes; p++) {                                                       \
            const T *src = x + p * h * w;                                                            \
            T *val = values + p * oh * ow;                                                           \
            int64_t *pos = positions + p * oh * ow;                                                  \
            for (int64_t y = 0; y < oh; y++)                                                         \
                for (int64_t xo = 0; xo < ow; xo++) {                                                \
                    int64_t best_at = -1;                                                            \
                    T best = -INFINITY;                                                              \
                    for (int64_t i = 0; i < kh; i++) {                                               \
                        const int64_t r = y * sh - ph + i * dh;                                      \
                        if (r < 0 || r >= h) continue;                                               \
                        for (int64_t j = 0; j < kw; j++) {                                           \
                            const int64_t c = xo * sw - pw + j * dw;                                 \
                            if (c < 0 || c >= w) continue;                                           \
                            const T v = src[r * w + c];                                              \
                            /* the first element, a larger one, or the first NaN */                 \
                            if (best_at < 0 || v > best || (v != v && best == best)) {               \
                                best = v;                                                            \
                                best_at = r * w + c;                                                 \
                            }                                                                        \
                        }                                                                            \
                    }                                                                                \
                    val[y * ow + xo] = best;                                                         \
                    pos[y * ow + xo] = best_at;                                                      \
                }                                                                                    \
        }                                                                                            \
        return 0;                                                                                    \
    }                                                                                                \
                                                                                                     \
    TT_API int64_t tt_max_pool2d_backward_##sfx(const T *g, const int64_t *positions, T *gx,         \
                                                const int64_t *geom) {                               \
        const int64_t planes = geom[0], plane = geom[1] * geom[2], outs = geom[3] * geom[4];         \
        for (int64_t e = 0; e < planes * outs; e++)                                                  \
            if (positions[e] < -1 || positions[e] >= plane) return e + 1;                            \
        TT_OMP("omp parallel for schedule(static) if(planes * (plane + outs) >= TT_PAR_MIN)")        \
        for (int64_t p = 0; p < planes; p++) {                                                       \
            T *dst = gx + p * plane;                                                                 \
            const T *src = g + p * outs;                                                             \
            const int64_t *pos = positions + p * outs;                                               \
            memset(dst, 0, (size_t)plane * sizeof(T));                                               \
            for (int64_t e = 0; e < outs; e++)                                                       \
                if (pos[e] >= 0) dst[pos[e]] += src[e];                                              \
        }                                                                                            \
        return 0;                                                                                    \
    }

MAX_POOL(f32, float)
MAX_POOL(f64, double)
