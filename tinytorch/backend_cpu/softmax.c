/* softmax.c -- softmax along the rows of a compact matrix, forward and backward, one pass each.
 *
 * tt_softmax_rows_<dtype>(a, out, rows, cols, scale, causal): for each row r of a (rows, cols),
 * with x = scale * a[r, :] and the row's visible columns j < n (n = cols, or with causal > 0
 * n = min(cols, r % causal + 1): attention's causal mask, query i = r % causal seeing keys 0..i),
 *     out[r, j] = exp(x[j] - m) / sum_{k < n} exp(x[k] - m),   m = max_{k < n} x[k]
 * and 0 for the hidden columns, as PyTorch computes it with a mask of -inf: a row of -inf, a row
 * holding +inf and a row holding NaN give NaN throughout (-inf - -inf and inf - inf are NaN, and
 * a NaN poisons the row's sum and, through 0 * (1 / sum), the hidden columns too).
 *
 * tt_softmax_rows_backward_<dtype>(y, g, out, rows, cols, scale): the gradient of a from the
 * output y and its gradient g, out[r, j] = scale * y[r, j] * (g[r, j] - sum_k g[r, k] * y[r, k])
 * (hidden columns have y = 0 and get 0).
 *
 * Attention takes one softmax per head and layer over short rows; as array ops this was five
 * passes over the scores forward and three backward, each a separate kernel call, and the
 * scale and the causal mask two more passes. Rows are
 * split across threads for large inputs. float32 uses vmath.h's vectorizable exp (flushing the
 * results below FLT_MIN to 0, see exp_shifted_f32); every inner loop is vectorized, the max
 * too (a scalar max over each row took half the time). The binding
 * checks the sizes; the kernels return -1 for negative sizes and touch nothing.
 */
#include <math.h>

#include "kernels.h"
#include "vmath.h"

/* exp(d) for d = x - max <= 0 (or NaN), float32: 0 below -87, where exp(d) < FLT_MIN would be a
 * denormal. Masked attention scores (-inf) land there, and arithmetic on denormals takes a slow
 * microcode path on x86 (it made a causal softmax twice as slow as a dense one); the input is
 * clamped too, since SIMD code computes exp for every lane and picks afterwards. NaN passes. */
static inline float exp_shifted_f32(float d) {
    const float e = exp_f32(d < -87.0f ? -87.0f : d);
    return d < -87.0f ? 0.0f : e;
}

#define SOFTMAX(sfx, T, EXP)                                                                   \
    TT_API int tt_softmax_rows_##sfx(const T *a, T *out, int64_t rows, int64_t cols, double scale, \
                                     int64_t causal) {                                         \
        if (rows < 0 || cols < 0 || causal < 0) return -1;                                     \
        const T c = (T)scale;                                                                  \
        const int parallel = rows > 1 && rows * cols >= TT_PAR_MIN_MATH;                       \
        TT_OMP("omp parallel for schedule(static) if(parallel)")                               \
        for (int64_t r = 0; r < rows; r++) {                                                   \
            const T *x = a + r * cols;                                                         \
            T *y = out + r * cols;                                                             \
            const int64_t n = causal ? MIN64(cols, r % causal + 1) : cols;                     \
            T m = -INFINITY;                                                                   \
            TT_OMP("omp simd reduction(max:m)")                                                \
            for (int64_t j = 0; j < n; j++) m = c * x[j] > m ? c * x[j] : m;                   \
            T s = 0;                                                                           \
            TT_OMP("omp simd reduction(+:s)")                                                  \
            for (int64_t j = 0; j < n; j++) {                                                  \
                y[j] = EXP(c * x[j] - m);                                                      \
                s += y[j];                                                                     \
            }                                                                                  \
            const T inv = 1 / s;                                                               \
            TT_OMP("omp simd")                                                                 \
            for (int64_t j = 0; j < n; j++) y[j] *= inv;                                       \
            TT_OMP("omp simd")                                                                 \
            for (int64_t j = n; j < cols; j++) y[j] = 0 * inv;                                 \
        }                                                                                      \
        return 0;                                                                              \
    }                                                                                          \
    TT_API int tt_softmax_rows_backward_##sfx(const T *y, const T *g, T *out, int64_t rows,    \
                                              int64_t cols, double scale) {                    \
        if (rows < 0 || cols < 0) return -1;                                                   \
        const T c = (T)scale;                                                                  \
        const int parallel = rows > 1 && rows * cols >= TT_PAR_MIN;                            \
        TT_OMP("omp parallel for schedule(static) if(parallel)")                               \
        for (int64_t r = 0; r < rows; r++) {                                                   \
            const T *yr = y + r * cols, *gr = g + r * cols;                                    \
            T *o = out + r * cols;                                                             \
            T dot = 0;                                                                         \
            TT_OMP("omp simd reduction(+:dot)")                                                \
            for (int64_t j = 0; j < cols; j++) dot += gr[j] * yr[j];                           \
            TT_OMP("omp simd")                                                                 \
            for (int64_t j = 0; j < cols; j++) o[j] = c * yr[j] * (gr[j] - dot);               \
        }                                                                                      \
        return 0;                                                                              \
    }

SOFTMAX(f32, float, exp_shifted_f32)
SOFTMAX(f64, double, exp)
