/* gelu.c -- the exact GELU and its derivative, one pass each.
 *
 * tt_gelu_<dtype>(a, out, n):             out[i] = x Phi(x),   Phi(x) = (1 + erf(x / sqrt 2)) / 2
 * tt_gelu_backward_<dtype>(a, g, out, n): out[i] = g[i] (Phi(x) + x phi(x)),
 *                                          phi(x) = exp(-x^2 / 2) / sqrt(2 pi),   x = a[i]
 *
 * As array ops the forward was five passes and the backward seven, each a kernel call and a
 * temporary the size of the MLP's hidden layer. float32 uses vmath.h's vectorizable erf and
 * exp (the ones the ewise_erf and ewise_exp kernels use), float64 libm's.
 */
#include <math.h>

#include "kernels.h"
#include "vmath.h"

#define GELU(sfx, T, ERF, EXP)                                                                  \
    TT_API void tt_gelu_##sfx(const T *a, T *out, int64_t n) {                                  \
        PARALLEL_FOR(n, TT_PAR_MIN_MATH,                                                        \
                     const T x = a[i];                                                          \
                     out[i] = x * ((ERF(x * (T)0.70710678118654752440) + 1) * (T)0.5););        \
    }                                                                                           \
    TT_API void tt_gelu_backward_##sfx(const T *a, const T *g, T *out, int64_t n) {             \
        PARALLEL_FOR(n, TT_PAR_MIN_MATH,                                                        \
                     const T x = a[i];                                                          \
                     const T cdf = (ERF(x * (T)0.70710678118654752440) + 1) * (T)0.5;           \
                     const T pdf = EXP(x * x * (T)-0.5) * (T)0.39894228040143267794;            \
                     out[i] = g[i] * (cdf + x * pdf););                                         \
    }

GELU(f32, float, erf_f32, exp_f32)
GELU(f64, double, erf, exp)
