/* crossentropy.c -- cross entropy of class indices over the rows of a compact matrix, forward
 * and backward, one pass each.
 *
 * tt_cross_entropy_rows_<dtype>(x, t, loss, lse, count, rows, cols, ignore): for each row r of
 * the logits x (rows, cols) and its class index t[r],
 *     lse[r]  = log sum_j exp(x[r, j])          (as m + log sum_j exp(x[r, j] - m), m the row max)
 *     loss[r] = lse[r] - x[r, t[r]]              (0 when t[r] == ignore)
 * and *count = the number of rows whose target is not ignore. That is -log_softmax(x)[r, t[r]],
 * the loss PyTorch's cross_entropy computes, without the (rows, cols) log-probabilities.
 *
 * tt_cross_entropy_rows_backward_<dtype>(x, t, lse, scale, scale_step, out, rows, cols, ignore):
 *     out[r, j] = scale[r * scale_step] * (exp(x[r, j] - lse[r]) - [j == t[r]])
 * (0 on an ignored row): the gradient of sum_r scale_r * loss[r]. A mean passes one scale,
 * grad / count, with scale_step 0.
 *
 * Both return 0; -1 for negative sizes; 1 + r for the first row r whose target is neither a
 * class in [0, cols) nor ignore, before writing anything (the binding raises IndexError). The
 * classifier's loss was eight array ops forward and as many backward; the MLP on MNIST spent
 * more time in them than in its matmuls.
 */
#include <math.h>

#include "kernels.h"
#include "vmath.h"

static int64_t bad_target(const int64_t *t, int64_t rows, int64_t cols, int64_t ignore) {
    for (int64_t r = 0; r < rows; r++)
        if (t[r] != ignore && (t[r] < 0 || t[r] >= cols)) return 1 + r;
    return 0;
}

#define CROSS_ENTROPY(sfx, T, EXP, LOG)                                                                \
    TT_API int64_t tt_cross_entropy_rows_##sfx(const T *x, const int64_t *t, T *loss, T *lse, T *count, \
                                               int64_t rows, int64_t cols, int64_t ignore) {           \
        if (rows < 0 || cols < 0) return -1;                                                           \
        const int64_t bad = bad_target(t, rows, cols, ignore);                                         \
        if (bad) return bad;                                                                           \
        T counted = 0;                                                                                 \
        for (int64_t r = 0; r < rows; r++) {                                                           \
            const T *xr = x + r * cols;                                                                \
            T m = -INFINITY;                                                                           \
            for (int64_t j = 0; j < cols; j++) m = xr[j] > m ? xr[j] : m;                              \
            T s = 0;                                                                                   \
            TT_OMP("omp simd reduction(+:s)")                                                          \
            for (int64_t j = 0; j < cols; j++) s += EXP(xr[j] - m);                                    \
            lse[r] = m + LOG(s);                                                                       \
            if (t[r] == ignore) {                                                                      \
                loss[r] = 0;                                                                           \
            } else {                                                                                   \
                loss[r] = lse[r] - xr[t[r]];                                                           \
                counted += 1;                                                                          \
            }                                                                                          \
        }                                                                                              \
        *count = counted;                                                                              \
        return 0;                                                                                      \
    }                                                                                                  \
    TT_API int64_t tt_cross_entropy_rows_backward_##sfx(const T *x, const int64_t *t, const T *lse,     \
                                                        const T *scale, int64_t scale_step, T *out,    \
                                                        int64_t rows, int64_t cols, int64_t ignore) {  \
        if (rows < 0 || cols < 0) return -1;                                                           \
        const int64_t bad = bad_target(t, rows, cols, ignore);                                         \
        if (bad) return bad;                                                                           \
        for (int64_t r = 0; r < rows; r++) {                                                           \
            const T *xr = x + r * cols;                                                                \
            T *o = out + r * cols;                                                                     \
            if (t[r] == ignore) {                                                                      \
                for (int64_t j = 0; j < cols; j++) o[j] = 0;                                           \
                continue;                                                                              \
            }                                                                                          \
            const T k = scale[r * scale_step], l = lse[r];                                             \
            TT_OMP("omp simd")                                                                         \
            for (int64_t j = 0; j < cols; j++) o[j] = k * EXP(xr[j] - l);                              \
            o[t[r]] -= k;                                                                              \
        }                                                                                              \
        return 0;                                                                                      \
    }

CROSS_ENTROPY(f32, float, exp_f32, logf)
CROSS_ENTROPY(f64, double, exp, log)
