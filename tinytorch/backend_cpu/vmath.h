/* vmath.h -- float32 exp, log, tanh, sigmoid and erf that the compiler can vectorize.
 *
 * libm's expf/logf/tanhf are called once per element: no SIMD, and a branchy function call
 * each time. These are written as straight-line code -- integer tricks on the float's bits,
 * one polynomial, ternaries instead of branches -- so that GCC inlines them into the
 * elementwise loop and computes 8 floats per AVX2 instruction, special cases included.
 *
 * Each function takes x apart the classic way (Cody & Waite's range reduction, fdlibm's log,
 * tanh from expm1): reduce x to a small interval, approximate there with a polynomial,
 * and put the answer back together exactly. Accuracy against numpy in float64, on dense
 * samples of every range (tests/test_backend_cpu.py checks these bounds):
 *
 *     exp, log, sigmoid    <= 2 ulp          tanh, erf    <= 3 ulp
 *
 * with numpy's (IEEE) answers at the special values: NaN -> NaN, +-inf and 0 -> the limits,
 * exp overflowing to inf / underflowing through the denormals to 0, log of a denormal.
 * float64 keeps libm (correctly rounded or nearly, and numpy calls libm for it too).
 */
#ifndef TINYTORCH_VMATH_H
#define TINYTORCH_VMATH_H

#include <math.h>
#include <stdint.h>
#include <string.h>

/* The bits of a float and back. memcpy is the portable way to say "reinterpret"; the
 * compiler turns it into nothing. */
static inline uint32_t bits_f32(float x) {
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    return u;
}
static inline float from_bits_f32(uint32_t u) {
    float x;
    memcpy(&x, &u, sizeof x);
    return x;
}

#define LOG2E_F 1.44269504f
#define LN2_HI_F 0.693145751953125f /* ln 2 = LN2_HI + LN2_LO, and n * LN2_HI is exact for |n| < 2^9 */
#define LN2_LO_F 1.42860677e-06f
#define ROUND_SHIFT_F 12582912.0f /* 1.5 * 2^23: x + this rounds x to an integer, kept in the low bits */

/* 2^n as a float for -126 <= n <= 127: the exponent field, built directly (in unsigned
 * arithmetic, so that the garbage n of a NaN input is harmless). */
static inline float pow2i_f32(int32_t n) { return from_bits_f32(((uint32_t)n + 127u) << 23); }

/* x = n ln2 + r with n = round(x / ln2) and |r| <= ln2 / 2. The rounding adds 1.5 * 2^23: the
 * sum has no bits below 1, so the FPU rounds (to nearest), and n is left in the low mantissa
 * bits. r comes from two fused multiply-adds with ln 2 split in two (Cody & Waite), so it is
 * exact to about 2^-40. Valid for |x| < 2^21. */
static inline float reduce_ln2_f32(float x, int32_t *n) {
    const float t = x * LOG2E_F + ROUND_SHIFT_F;
    const float nf = t - ROUND_SHIFT_F;
    *n = (int32_t)(bits_f32(t) - bits_f32(ROUND_SHIFT_F));
    return fmaf(-nf, LN2_LO_F, fmaf(-nf, LN2_HI_F, x));
}

/* exp(x) = 2^n exp(r). exp(r) by its Taylor series to r^7 (truncation error < 6e-9 for
 * |r| <= ln2/2), evaluated by Horner's rule. 2^n is applied as 2^(n/2) * 2^(n - n/2), so that
 * results between the largest float and the smallest denormal never form an out-of-range
 * power of 2 on the way: x is clamped to [-104, 89], beyond which exp is 0 or inf anyway. */
static inline float exp_taylor_f32(float r) {
    return 1.0f + r * (1.0f + r * (1 / 2.0f + r * (1 / 6.0f + r * (1 / 24.0f + r * (1 / 120.0f
           + r * (1 / 720.0f + r * (1 / 5040.0f)))))));
}

static inline float exp_f32(float x) {
    const float xc = x < -104.0f ? -104.0f : x > 89.0f ? 89.0f : x;
    int32_t n;
    const float r = reduce_ln2_f32(xc, &n);
    const int32_t n1 = n / 2;
    const float y = exp_taylor_f32(r) * pow2i_f32(n1) * pow2i_f32(n - n1);
    return x != x ? x : y; /* NaN in, NaN out (the clamp above dropped it) */
}

/* exp(x) for -87 <= x <= 88, where exp(x) and 2^n are normal floats: exp_f32 without its
 * clamps, NaN test and split power of 2 (the same value there), for callers that know their
 * range (erf_f32). */
static inline float exp_normal_f32(float x) {
    int32_t n;
    const float r = reduce_ln2_f32(x, &n);
    return exp_taylor_f32(r) * pow2i_f32(n);
}

/* exp(x) - 1 for 0 <= x <= 20, without the cancellation of exp(x) - 1 near 0:
 * 2^n (exp(r) - 1) + (2^n - 1), with exp(r) - 1 = r + r^2/2 + ... + r^8/8! and 2^n - 1 exact. */
static inline float expm1_f32(float x) {
    int32_t n;
    const float r = reduce_ln2_f32(x, &n);
    const float q = r + r * r * (1 / 2.0f + r * (1 / 6.0f + r * (1 / 24.0f + r * (1 / 120.0f + r * (1 / 720.0f
                    + r * (1 / 5040.0f + r * (1 / 40320.0f)))))));
    const float s = pow2i_f32(n);
    return s * q + (s - 1.0f);
}

/* log(x) = e ln2 + log(m) with x = m 2^e and m in [sqrt(1/2), sqrt(2)). With f = m - 1 and
 * s = f / (2 + f): log(1 + f) = 2 atanh(s) = f - (f^2/2 - s (f^2/2 + R)), R = 2s^2/3 + 2s^4/5
 * + 2s^6/7 + 2s^8/9 (fdlibm's arrangement: f itself is exact, the series only corrects it).
 * Denormal x is first scaled by 2^23 into the normal range. */
static inline float log_f32(float x) {
    const int denormal = x < 0x1p-126f;
    uint32_t u = bits_f32(denormal ? x * 0x1p23f : x);
    /* adding 1 - sqrt(1/2) to the mantissa carries into the exponent exactly when m >= sqrt 2 */
    u += 0x3f800000u - 0x3f3504f3u;
    const int32_t e = (int32_t)(u >> 23) - 127 - (denormal ? 23 : 0);
    const float m = from_bits_f32((u & 0x007fffffu) + 0x3f3504f3u);
    const float f = m - 1.0f, s = f / (2.0f + f), z = s * s;
    const float R = z * (2 / 3.0f + z * (2 / 5.0f + z * (2 / 7.0f + z * (2 / 9.0f))));
    const float half_f2 = 0.5f * f * f, ef = (float)e;
    float y = ef * LN2_HI_F - ((half_f2 - (s * (half_f2 + R) + ef * LN2_LO_F)) - f);
    y = x == INFINITY ? x : y;
    y = x == 0.0f ? -INFINITY : y;
    y = x < 0.0f ? NAN : y;
    return x != x ? x : y;
}

/* tanh(x) = sign(x) u / (u + 2) with u = expm1(2|x|): no cancellation for small x (where
 * tanh x ~ x), and |x| >= 9 gives +-1 exactly (1 - tanh 9 < half an ulp of 1). */
static inline float tanh_f32(float x) {
    const float a = fabsf(x), ac = a < 9.0f ? a : 9.0f;
    const float u = expm1_f32(2.0f * ac);
    const float y = a < 9.0f ? u / (u + 2.0f) : 1.0f;
    return x != x ? x : copysignf(y, x);
}

/* 1 / (1 + exp(-x)) from e = exp(-|x|) <= 1, so nothing overflows: 1 / (1 + e) for x >= 0,
 * e / (1 + e) for x < 0. */
static inline float sigmoid_f32(float x) {
    const float e = exp_f32(-fabsf(x));
    const float s = 1.0f / (1.0f + e);
    return x >= 0.0f ? s : e / (1.0f + e);
}

/* erf in two pieces, each with a polynomial fitted by scripts/fit_polynomials.py:
 *   |x| < 1:      x P(x^2)
 *   1 <= |x| < 4: 1 - exp(-x^2 + Q(|x| - 2.5))    (Q fits log(erfc x) + x^2, which is smooth)
 *   |x| >= 4:     1 (1 - erf 4 = 1.5e-8 < half an ulp of 1: the second piece at |x| = 4 gives it)
 * Both pieces are computed for every element and one is kept: that is what SIMD does anyway. */
static inline float erf_f32(float x) {
    /* |x| clamped to 4: the big piece at 4 rounds to 1, so nothing changes past it, and its exp
     * argument stays in [-17, -1] (exp_normal_f32's range; the small piece's a < 1 is unclamped) */
    const float a = fabsf(x), ac = a < 4.0f ? a : 4.0f, z = ac * ac;
    const float small = ac * (1.128379166e+00f + z * (-3.761262557e-01f + z * (1.128358225e-01f
                        + z * (-2.685369110e-02f + z * (5.188098889e-03f + z * (-8.008189324e-04f
                        + z * 7.847259129e-05f))))));
    const float t = ac - 2.5f;
    const float q = -1.556815272e+00f + t * (-3.526807404e-01f + t * (5.610625699e-02f + t * (-1.085816553e-02f
                    + t * (2.165525598e-03f + t * (-4.207069390e-04f + t * (7.693984501e-05f + t * (-1.297613320e-05f
                    + t * (1.844959657e-06f + t * (-6.582858103e-08f + t * -4.104854168e-08f)))))))));
    const float big = 1.0f - exp_normal_f32(fmaf(-ac, ac, q));
    const float y = a < 1.0f ? small : big;
    return x != x ? x : copysignf(y, x);
}

/* erf as one rational function, x R(x^2) / S(x^2) for |x| < 4 (fitted by scripts/fit_polynomials.py),
 * 1 beyond: about half the work of erf_f32, but <= 7 ulp instead of 3 where erf is close to 1
 * (the rounding of two long polynomials in float). GELU uses it: Phi(x) = (1 + erf(x / sqrt 2)) / 2
 * has an absolute error of at most 2e-7 either way, and for x < 0 the sum 1 + erf cancels
 * more than that. */
static inline float erf_rational_f32(float x) {
    const float a = fabsf(x), ac = a < 4.0f ? a : 4.0f, z = ac * ac;
    const float r = 1.128379170e+00f + z * (1.850535149e-01f + z * (5.436939242e-02f + z * (3.853090833e-03f
                    + z * (3.826560428e-04f + z * (4.768405015e-06f + z * -1.361890820e-08f)))));
    const float s = 1.0f + z * (4.973328390e-01f + z * (1.139606098e-01f + z * (1.547938253e-02f
                    + z * (1.312413146e-03f + z * 6.390792801e-05f))));
    const float y = ac * r / s;
    return x != x ? x : copysignf(y < 1.0f ? y : 1.0f, x);
}

#endif
