/* layernorm.c -- layer normalisation along the rows of a compact matrix, forward and backward,
 * one pass over each row's elements per loop (no temporaries).
 *
 * tt_layer_norm_rows_<dtype>(a, xhat, rstd, rows, cols, eps): for each row r of a (rows, cols),
 *     mean = sum_j a[r, j] / cols,   var = sum_j (a[r, j] - mean)^2 / cols   (biased),
 *     rstd[r] = 1 / sqrt(var + eps),   xhat[r, j] = (a[r, j] - mean) * rstd[r]
 * tt_layer_norm_rows_backward_<dtype>(xhat, rstd, h, out, rows, cols): the gradient of the
 * input from h = (the output's gradient) * (the weight), row by row,
 *     out[r, j] = rstd[r] * (h[r, j] - mean_j h[r, :] - xhat[r, j] * mean_j (h * xhat)[r, :])
 *
 * The weight and bias are applied (and their gradients summed over the rows) by the caller, as
 * array ops: what is left per row is two reductions and one write each way. As array ops the
 * normalisation was eight passes forward and six backward, each a kernel call and a temporary.
 * Rows are split across threads for large inputs. The binding checks the sizes; the kernels
 * return -1 for negative sizes and touch nothing.
 */
#include <math.h>

#include "kernels.h"

#define LAYER_NORM(sfx, T, SQRT)                                                                    \
    TT_API int tt_layer_norm_rows_##sfx(const T *a, T *xhat, T *rstd, int64_t rows, int64_t cols,   \
                                        double eps) {                                               \
        if (rows < 0 || cols < 0) return -1;                                                        \
        const int parallel = rows > 1 && rows * cols >= TT_PAR_MIN;                                 \
        TT_OMP("omp parallel for schedule(static) if(parallel)")                                    \
        for (int64_t r = 0; r < rows; r++) {                                                        \
            const T *x = a + r * cols;                                                              \
            T *y = xhat + r * cols;                                                                 \
            T s = 0;                                                                                \
            TT_OMP("omp simd reduction(+:s)")                                                       \
            for (int64_t j = 0; j < cols; j++) s += x[j];                                           \
            const T mean = s * (1 / (T)cols);                                                       \
            T ss = 0;                                                                               \
            TT_OMP("omp simd reduction(+:ss)")                                                      \
            for (int64_t j = 0; j < cols; j++) ss += (x[j] - mean) * (x[j] - mean);                 \
            const T inv = 1 / SQRT(ss * (1 / (T)cols) + (T)eps);                                    \
            rstd[r] = inv;                                                                          \
            TT_OMP("omp simd")                                                                      \
            for (int64_t j = 0; j < cols; j++) y[j] = (x[j] - mean) * inv;                          \
        }                                                                                           \
        return 0;                                                                                   \
    }                                                                                               \
    TT_API int tt_layer_norm_rows_backward_##sfx(const T *xhat, const T *rstd, const T *h, T *out,  \
                                                 int64_t rows, int64_t cols) {                      \
        if (rows < 0 || cols < 0) return -1;                                                        \
        const int parallel = rows > 1 && rows * cols >= TT_PAR_MIN;                                 \
        TT_OMP("omp parallel for schedule(static) if(parallel)")                                    \
        for (int64_t r = 0; r < rows; r++) {                                                        \
            const T *xr = xhat + r * cols, *hr = h + r * cols;                                      \
            T *o = out + r * cols;                                                                  \
            T sh = 0, shx = 0;                                                                      \
            TT_OMP("omp simd reduction(+:sh, shx)")                                                 \
            for (int64_t j = 0; j < cols; j++) {                                                    \
                sh += hr[j];                                                                        \
                shx += hr[j] * xr[j];                                                               \
            }                                                                                       \
            const T mh = sh * (1 / (T)cols), mhx = shx * (1 / (T)cols), inv = rstd[r];              \
            TT_OMP("omp simd")                                                                      \
            for (int64_t j = 0; j < cols; j++) o[j] = (hr[j] - mh - xr[j] * mhx) * inv;             \
        }                                                                                           \
        return 0;                                                                                   \
    }

LAYER_NORM(f32, float, sqrtf)
LAYER_NORM(f64, double, sqrt)
