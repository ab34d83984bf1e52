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
 * The forward runs over a row of outputs at a time, kernel offset (i, j) by offset: the inner
 * loop then goes along the row's outputs with no dependence from one to the next, and the
 * compiler turns its comparisons into vector blends instead of branches, which on random data
 * would be mispredicted one time in two.
 *
 * The binding checks every size; the backward kernel first checks that every position lies in
 * its plane and returns 1 + the index of the first one that does not, without writing; the
 * kernels return 0 otherwise.
 */
#include <math.h>
#include <stdlib.h>

#include "kernels.h"

/* a / b rounded up, for b >= 1 and any sign of a. */
static int64_t pool_ceil_div(int64_t a, int64_t b) { return a >= 0 ? (a + b - 1) / b : -((-a) / b); }

#define MAX_POOL(sfx, T, PT)                                                                         \
    /* One output row: best / at over the ow outputs, then written out. PT is an integer type as \
     * wide as T, so that the positions and the values share the vector lanes. */                  \
    static void max_pool_row_##sfx(const T *src, int64_t y, const int64_t *geom, const int64_t *cols, \
                                   T *restrict best, PT *restrict at, T *val, int64_t *pos) {       \
        const int64_t h = geom[1], w = geom[2], ow = geom[4], kh = geom[5], kw = geom[6];           \
        const int64_t sh = geom[7], sw = geom[8], ph = geom[9], pw = geom[10], dh = geom[11];       \
        const int64_t dw = geom[12];                                                                 \
        for (int64_t xo = 0; xo < ow; xo++) best[xo] = -INFINITY, at[xo] = -1;                      \
        for (int64_t i = 0; i < kh; i++) {                                                           \
            const int64_t r = y * sh - ph + i * dh;                                                  \
            if (r < 0 || r >= h) continue;                                                           \
            for (int64_t j = 0; j < kw; j++) {                                                       \
                const int64_t base = j * dw - pw; /* the column of output xo is xo * sw + base */   \
                const int64_t lo = cols[2 * j], hi = cols[2 * j + 1];                                \
                const T *row = src + r * w + base;                                                   \
                const PT first = (PT)(r * w + base);                                                 \
                for (int64_t xo = lo; xo < hi; xo++) {                                               \
                    const T v = row[xo * sw], b = best[xo];                                          \
                    /* the first element, a larger one, or the first NaN */                         \
                    const int take = (at[xo] < 0) | (v > b) | ((v != v) & (b == b));                 \
                    best[xo] = take ? v : b;                                                         \
                    at[xo] = take ? first + (PT)(xo * sw) : at[xo];                                  \
                }                                                                                    \
            }                                                                                        \
        }                                                                                            \
        for (int64_t xo = 0; xo < ow; xo++) val[xo] = best[xo], pos[xo] = at[xo];                    \
    }                                                                                                \
                                                                                                     \
    TT_API int tt_max_pool2d_##sfx(const T *x, T *values, int64_t *positions, const int64_t *geom) {  \
        const int64_t planes = geom[0], h = geom[1], w = geom[2], oh = geom[3], ow = geom[4];        \
        /* each window element costs a compare and two blends: split from TT_PAR_MIN_MATH on */  \
        const int64_t work = planes * oh * ow * geom[5] * geom[6];                                   \
        if (h * w >= ((int64_t)1 << 31)) return -1; /* positions must fit PT */                      \
        /* for each kernel column j, the outputs lo <= xo < hi whose column lies in the plane */    \
        int64_t *cols = malloc((size_t)(2 * geom[6]) * sizeof(int64_t));                             \
        if (!cols) return -1;                                                                        \
        for (int64_t j = 0; j < geom[6]; j++) {                                                      \
            const int64_t base = j * geom[12] - geom[10], lo = pool_ceil_div(-base, geom[8]);        \
            const int64_t hi = pool_ceil_div(w - base, geom[8]);                                     \
            cols[2 * j] = lo < 0 ? 0 : lo > ow ? ow : lo;                                            \
            cols[2 * j + 1] = hi > ow ? ow : hi < cols[2 * j] ? cols[2 * j] : hi;                    \
        }                                                                                            \
        int failed = 0;                                                                              \
        TT_OMP("omp parallel if(work >= TT_PAR_MIN_MATH) reduction(|:failed)")                       \
        {                                                                                            \
            T *best = malloc((size_t)ow * sizeof(T));                                                \
            PT *at = malloc((size_t)ow * sizeof(PT));                                                \
            if (!best || !at) {                                                                      \
                failed = 1;                                                                          \
            } else {                                                                                 \
                TT_OMP("omp for schedule(static)")                                                   \
                for (int64_t p = 0; p < planes; p++)                                                 \
                    for (int64_t y = 0; y < oh; y++)                                                 \
                        max_pool_row_##sfx(x + p * h * w, y, geom, cols, best, at,                   \
                                           values + (p * oh + y) * ow, positions + (p * oh + y) * ow); \
            }                                                                                        \
            free(best);                                                                              \
            free(at);                                                                                \
        }                                                                                            \
        free(cols);                                                                                  \
        return failed ? -1 : 0;                                                                      \
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

MAX_POOL(f32, float, int32_t)
MAX_POOL(f64, double, int64_t)
