/* gelu.c -- the exact GELU and its derivative, one pass each.
 *
 * tt_gelu_<dtype>(a, out, n):             out[i] = x Phi(x),   Phi(x) = (1 + erf(x / sqrt 2)) / 2
 * tt_gelu_backward_<dtype>(a, g, out, n): out[i] = g[i] (Phi(x) + x phi(x)),
 *                                          phi(x) = exp(-x^2 / 2) / sqrt(2 pi),   x = a[i]
 *
 * As array ops the forward was five passes and the backward seven, each a kernel call and a
 * temporary the size of the MLP's hidden layer. float32 uses vmath.h's vectorizable exp and its
 * rational erf (twice as fast as the ewise_erf kernel's, and as accurate as Phi can be in float),
 * float64 libm's.
 */
#include <math.h>

#include "kernels.h"
#include "vmath.h"

/* exp(-x^2 / 2) in float32: 0 where that is below FLT_MIN (|x| > 13.2), so neither the exp nor
 * the product with it computes on denormals (a slow microcode path); +-inf gives 0, NaN NaN. */
static inline float gauss_f32(float x) {
    const float h = x * x * -0.5f;
    const float e = exp_normal_f32(h < -87.0f ? -87.0f : h);
    return h < -87.0f ? 0.0f : e;
}

static inline double gauss_f64(double x) { return exp(x * x * -0.5); }

#define GELU(sfx, T, ERF, GAUSS)                                                                \
    TT_API void tt_gelu_##sfx(const T *a, T *out, int64_t n) {                                  \
        PARALLEL_FOR(n, TT_PAR_MIN_MATH,                                                        \
                     const T x = a[i];                                                          \
                     out[i] = x * ((ERF(x * (T)0.70710678118654752440) + 1) * (T)0.5););        \
    }                                                                                           \
    TT_API void tt_gelu_backward_##sfx(const T *a, const T *g, T *out, int64_t n) {             \
        PARALLEL_FOR(n, TT_PAR_MIN_MATH,                                                        \
                     const T x = a[i];                                                          \
                     const T cdf = (ERF(x * (T)0.70710678118654752440) + 1) * (T)0.5;           \
                     const T pdf = GAUSS(x) * (T)0.39894228040143267794;                        \
                     out[i] = g[i] * (cdf + x * pdf););                                         \
    }

GELU(f32, float, erf_rational_f32, gauss_f32)
GELU(f64, double, erf, gauss_f64)
