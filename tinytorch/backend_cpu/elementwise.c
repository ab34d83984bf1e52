/* elementwise.c -- fill, cast, where, and every ewise_/scalar_ kernel.
 *
 * Each kernel is one flat loop over compact buffers, out[i] = f(a[i], b[i]). That is
 * the loop shape compilers vectorize best: at -O3 -march=native GCC emits AVX2 code
 * doing 8 floats (4 doubles) per instruction, with no hand-written intrinsics. Big loops
 * are split across cores by PARALLEL_FOR (kernels.h).
 *
 * The element operations are macros of the element values (x, y). <tgmath.h> makes
 * exp, pow, fabs... type-generic, so one line serves float (expf) and double (exp).
 */
#include <tgmath.h>

#include "kernels.h"
#include "vmath.h"

/* ---- element operations ----------------------------------------------------------- */
#define ADD(x, y) ((x) + (y))
#define SUB(x, y) ((x) - (y))
#define MUL(x, y) ((x) * (y))
#define DIV(x, y) ((x) / (y))
#define POW(x, y) pow(x, y)
/* numpy's maximum/minimum propagate a NaN from either side; (x != x) is the NaN test. */
#define FMAX(x, y) (((x) >= (y) || (x) != (x)) ? (x) : (y))
#define FMIN(x, y) (((x) <= (y) || (x) != (x)) ? (x) : (y))
#define IMAX(x, y) ((x) >= (y) ? (x) : (y))
#define IMIN(x, y) ((x) <= (y) ? (x) : (y))
#define EQ(x, y) ((x) == (y))
#define NE(x, y) ((x) != (y))
#define LT(x, y) ((x) < (y))
#define LE(x, y) ((x) <= (y))
#define GT(x, y) ((x) > (y))
#define GE(x, y) ((x) >= (y))

/* x**y for integers by repeated squaring, wrapping on overflow like numpy.
 * The binding rejects y < 0 before calling (tt_first_negative_i64 below). */
static inline int64_t IPOW(int64_t x, int64_t y) {
    uint64_t result = 1, base = (uint64_t)x;
    for (; y > 0; y >>= 1) {
        if (y & 1) result *= base;
        base *= base;
    }
    return (int64_t)result;
}

#define NEG(x) (-(x))
#define INEG(x) ((int64_t)(0 - (uint64_t)(x))) /* -INT64_MIN wraps to INT64_MIN, as in numpy */
#define IABS(x) ((x) < 0 ? INEG(x) : (x))
#define ABS(x) fabs(x)
#define SIGN(x) ((x) > 0 ? 1 : (x) < 0 ? -1 : (x)) /* 0 stays 0 and NaN stays NaN */
#define RELU(x) ((x) < 0 ? 0 : (x))                 /* NaN stays NaN, as np.maximum(x, 0) */

/* float32 exp, log, tanh, sigmoid, erf: vmath.h (vectorized polynomials). float64: libm,
 * and a sigmoid that cannot overflow: 1 / (1 + exp(-x)) overflows exp(-x) for x below
 * about -709, while e = exp(-|x|) is at most 1, and each branch keeps full precision. */
static inline double sigmoid_f64(double x) {
    double e = exp(-fabs(x));
    return x >= 0 ? 1 / (1 + e) : e / (1 + e);
}

/* fmod, remainder, floor and truncating division as PyTorch computes them (see interface.py).
 * Floats: remainder is fmod moved into the divisor's sign; floor division starts from the exact
 * (a - fmod(a, b)) / b rather than a / b, whose rounding can land on the next whole number. */
#define FLOAT_DIVISION(T, sfx)                                                           \
    static inline T remainder_##sfx(T x, T y) {                                          \
        const T m = fmod(x, y);                                                          \
        return (m != 0 && (y < 0) != (m < 0)) ? m + y : m;                               \
    }                                                                                    \
    static inline T floor_divide_##sfx(T x, T y) {                                       \
        if (y == 0) return x / y; /* inf or NaN */                                       \
        const T m = fmod(x, y);                                                          \
        T d = (x - m) / y;                                                               \
        if (m != 0 && (y < 0) != (m < 0)) d -= 1;                                        \
        if (d == 0) return copysign((T)0, x / y);                                        \
        const T f = floor(d);                                                            \
        return d - f > (T)0.5 ? f + 1 : f;                                               \
    }                                                                                    \
    static inline T trunc_divide_##sfx(T x, T y) { return trunc(x / y); }
FLOAT_DIVISION(float, f32)
FLOAT_DIVISION(double, f64)
#define FMOD(x, y) fmod(x, y)

/* Integers: the binding rejects a zero divisor before calling (tt_first_zero_i64 below).
 * A divisor of -1 is taken apart: INT64_MIN / -1 overflows, which traps on x86; the answer
 * wraps around to INT64_MIN (remainder 0), as numpy's. */
static inline int64_t fmod_i64(int64_t x, int64_t y) { return y == -1 ? 0 : x % y; }
static inline int64_t remainder_i64(int64_t x, int64_t y) {
    const int64_t m = fmod_i64(x, y);
    return (m != 0 && (y < 0) != (m < 0)) ? m + y : m;
}
static inline int64_t trunc_divide_i64(int64_t x, int64_t y) { return y == -1 ? INEG(x) : x / y; }
static inline int64_t floor_divide_i64(int64_t x, int64_t y) {
    const int64_t q = trunc_divide_i64(x, y);
    return (fmod_i64(x, y) != 0 && (x < 0) != (y < 0)) ? q - 1 : q;
}

/* Bitwise ops (int64, and bool bytes, which stay 0 or 1). A shift count outside [0, 64) gives
 * 0 to the left and the sign to the right, as PyTorch (C leaves those undefined). */
#define BIT_AND(x, y) ((x) & (y))
#define BIT_OR(x, y) ((x) | (y))
#define BIT_XOR(x, y) ((x) ^ (y))
static inline int64_t left_shift_i64(int64_t x, int64_t y) {
    return (y < 0 || y >= 64) ? 0 : (int64_t)((uint64_t)x << y);
}
static inline int64_t right_shift_i64(int64_t x, int64_t y) { return x >> ((y < 0 || y >= 64) ? 63 : y); }
#define BIT_NOT(x) (~(x))
#define BOOL_NOT(x) ((uint8_t)!(x))

/* erfc is libm's (full precision where 1 - erf(x) has none left); float32 takes the double one,
 * rounded once, so its tail (subnormal from x = 9.2 on) rounds as numpy's and PyTorch's. */
static inline float erfc_f32(float x) { return (float)erfc((double)x); }
/* erfinv, which libm lacks,
 * is computed in double for both float types: a rational first guess (about 6 digits; one
 * form for |y| <= 0.7, one in sqrt(-log((1 - |y|) / 2)) for the tails), then three Newton
 * steps, on erf(x) = |y| in the centre and on erfc(x) = 1 - |y| in the tails, where 1 - |y|
 * is exact. The numpy backend computes the same steps. */
static double erfinv_f64(double y) {
    const double v = fabs(y);
    if (!(v <= 1)) return NAN; /* also NaN in, NaN out */
    if (v == 1) return copysign(INFINITY, y);
    const double w = 1 - v;
    const int tail = v > 0.7;
    double x;
    if (!tail) {
        const double z = v * v;
        x = v * (((-0.140543331 * z + 0.914624893) * z - 1.645349621) * z + 0.886226899) /
            ((((0.012229801 * z - 0.329097515) * z + 1.442710462) * z - 2.118377725) * z + 1);
    } else {
        const double t = sqrt(-log(fmax(w / 2, 1e-300)));
        x = (((1.641345311 * t + 3.429567803) * t - 1.624906493) * t - 1.970840454) /
            ((1.637067800 * t + 3.543889200) * t + 1);
    }
    for (int k = 0; k < 3; k++) {
        const double gap = tail ? w - erfc(x) : erf(x) - v;
        x -= gap / (1.1283791670955126 * exp(-x * x)); /* 2 / sqrt(pi) */
    }
    return copysign(x, y);
}
static inline float erfinv_f32(float y) { return (float)erfinv_f64(y); }

/* ---- kernel generators -------------------------------------------------------------- */
/* ewise_<op>(a, b, out, n) and scalar_<op>(a, s, out, n). */
#define BINARY(op, sfx, T, OUT, F, MIN)                                                \
    TT_API void tt_ewise_##op##_##sfx(const T *a, const T *b, OUT *out, int64_t n) {   \
        PARALLEL_FOR(n, MIN, out[i] = F(a[i], b[i]););                                 \
    }                                                                                  \
    TT_API void tt_scalar_##op##_##sfx(const T *a, T s, OUT *out, int64_t n) {         \
        PARALLEL_FOR(n, MIN, out[i] = F(a[i], s););                                    \
    }

/* scalar_r<op>(a, s, out, n) computes s <op> a[i], for the ops that do not commute. */
#define REVERSED(op, sfx, T, F, MIN)                                                   \
    TT_API void tt_scalar_r##op##_##sfx(const T *a, T s, T *out, int64_t n) {          \
        PARALLEL_FOR(n, MIN, out[i] = F(s, a[i]););                                    \
    }

/* The further binary ops of the interface have all three forms. */
#define BINARY3(op, sfx, T, F) BINARY(op, sfx, T, T, F, TT_PAR_MIN_MATH) REVERSED(op, sfx, T, F, TT_PAR_MIN_MATH)

#define UNARY(fn, sfx, T, F, MIN)                                                      \
    TT_API void tt_ewise_##fn##_##sfx(const T *a, T *out, int64_t n) {                 \
        PARALLEL_FOR(n, MIN, out[i] = F(a[i]););                                       \
    }

/* The dtypes each kind of op applies to (see tinytorch/ndarray/interface.py). */
#define ARITHMETIC(op, F_FLOAT, F_INT, MIN)               \
    BINARY(op, f32, float, float, F_FLOAT, MIN)           \
    BINARY(op, f64, double, double, F_FLOAT, MIN)         \
    BINARY(op, i64, int64_t, int64_t, F_INT, MIN)
#define COMPARISON(op, F)                                 \
    BINARY(op, f32, float, uint8_t, F, TT_PAR_MIN)        \
    BINARY(op, f64, double, uint8_t, F, TT_PAR_MIN)       \
    BINARY(op, i64, int64_t, uint8_t, F, TT_PAR_MIN)      \
    BINARY(op, b8, uint8_t, uint8_t, F, TT_PAR_MIN)
#define UNARY_ANY(fn, F_FLOAT, F_INT)                     \
    UNARY(fn, f32, float, F_FLOAT, TT_PAR_MIN)            \
    UNARY(fn, f64, double, F_FLOAT, TT_PAR_MIN)           \
    UNARY(fn, i64, int64_t, F_INT, TT_PAR_MIN)
#define UNARY_FLOAT(fn, F)                                \
    UNARY(fn, f32, float, F, TT_PAR_MIN_MATH)             \
    UNARY(fn, f64, double, F, TT_PAR_MIN_MATH)

/* ---- the kernels -------------------------------------------------------------------- */
ARITHMETIC(add, ADD, IADD, TT_PAR_MIN)
ARITHMETIC(sub, SUB, ISUB, TT_PAR_MIN)
ARITHMETIC(mul, MUL, IMUL, TT_PAR_MIN)
/* pow's float scalar form computes the exponents PyTorch special-cases as PyTorch does: 1, 2, 3,
 * -1, -2 by multiplication, 0.5 and -0.5 by sqrt (so (-0) ** 0.5 is -0 and (-inf) ** 0.5 NaN,
 * where libm's pow gives +0 and +inf). Squaring through libm's pow took 64x longer than x * x
 * (benchmarks/measurements.md). */
#define SCALAR_POW_FLOAT(sfx, T)                                                          \
    TT_API void tt_ewise_pow_##sfx(const T *a, const T *b, T *out, int64_t n) {           \
        PARALLEL_FOR(n, TT_PAR_MIN_MATH, out[i] = POW(a[i], b[i]););                      \
    }                                                                                     \
    TT_API void tt_scalar_pow_##sfx(const T *a, T s, T *out, int64_t n) {                 \
        if (s == 2) {                                                                     \
            PARALLEL_FOR(n, TT_PAR_MIN, out[i] = a[i] * a[i];);                           \
        } else if (s == 1) {                                                              \
            PARALLEL_FOR(n, TT_PAR_MIN, out[i] = a[i];);                                  \
        } else if (s == 3) {                                                              \
            PARALLEL_FOR(n, TT_PAR_MIN, out[i] = a[i] * a[i] * a[i];);                    \
        } else if (s == 0.5) {                                                            \
            PARALLEL_FOR(n, TT_PAR_MIN, out[i] = sqrt(a[i]););                            \
        } else if (s == -0.5) {                                                           \
            PARALLEL_FOR(n, TT_PAR_MIN, out[i] = 1 / sqrt(a[i]););                        \
        } else if (s == -1) {                                                             \
            PARALLEL_FOR(n, TT_PAR_MIN, out[i] = 1 / a[i];);                              \
        } else if (s == -2) {                                                             \
            PARALLEL_FOR(n, TT_PAR_MIN, out[i] = 1 / (a[i] * a[i]););                     \
        } else {                                                                          \
            PARALLEL_FOR(n, TT_PAR_MIN_MATH, out[i] = POW(a[i], s););                     \
        }                                                                                 \
    }
SCALAR_POW_FLOAT(f32, float)
SCALAR_POW_FLOAT(f64, double)
BINARY(pow, i64, int64_t, int64_t, IPOW, TT_PAR_MIN_MATH)
ARITHMETIC(maximum, FMAX, IMAX, TT_PAR_MIN)
ARITHMETIC(minimum, FMIN, IMIN, TT_PAR_MIN)
/* There is no integer div: NDArray promotes integers to float first, as PyTorch does. */
BINARY(div, f32, float, float, DIV, TT_PAR_MIN)
BINARY(div, f64, double, double, DIV, TT_PAR_MIN)

REVERSED(sub, f32, float, SUB, TT_PAR_MIN)
REVERSED(sub, f64, double, SUB, TT_PAR_MIN)
REVERSED(sub, i64, int64_t, ISUB, TT_PAR_MIN)
REVERSED(div, f32, float, DIV, TT_PAR_MIN)
REVERSED(div, f64, double, DIV, TT_PAR_MIN)
REVERSED(pow, f32, float, POW, TT_PAR_MIN_MATH)
REVERSED(pow, f64, double, POW, TT_PAR_MIN_MATH)
REVERSED(pow, i64, int64_t, IPOW, TT_PAR_MIN_MATH)

COMPARISON(eq, EQ)
COMPARISON(ne, NE)
COMPARISON(lt, LT)
COMPARISON(le, LE)
COMPARISON(gt, GT)
COMPARISON(ge, GE)

UNARY_ANY(neg, NEG, INEG)
UNARY_ANY(abs, ABS, IABS)
UNARY_ANY(sign, SIGN, SIGN)
UNARY_ANY(relu, RELU, RELU)
UNARY(sqrt, f32, float, sqrt, TT_PAR_MIN) /* one instruction (vsqrtps): it vectorizes as it is */
UNARY(sqrt, f64, double, sqrt, TT_PAR_MIN)
UNARY_FLOAT(sin, sin)
UNARY_FLOAT(cos, cos)
/* float32: the vectorized vmath.h functions */
UNARY(exp, f32, float, exp_f32, TT_PAR_MIN_MATH)
UNARY(log, f32, float, log_f32, TT_PAR_MIN_MATH)
UNARY(tanh, f32, float, tanh_f32, TT_PAR_MIN_MATH)
UNARY(sigmoid, f32, float, sigmoid_f32, TT_PAR_MIN_MATH)
UNARY(erf, f32, float, erf_f32, TT_PAR_MIN_MATH)
UNARY(exp, f64, double, exp, TT_PAR_MIN_MATH)
UNARY(log, f64, double, log, TT_PAR_MIN_MATH)
UNARY(tanh, f64, double, tanh, TT_PAR_MIN_MATH)
UNARY(sigmoid, f64, double, sigmoid_f64, TT_PAR_MIN_MATH)
UNARY(erf, f64, double, erf, TT_PAR_MIN_MATH)
/* the C library's functions (in double precision for float32 too); round is half to even */
UNARY_FLOAT(floor, floor)
UNARY_FLOAT(ceil, ceil)
UNARY_FLOAT(trunc, trunc)
UNARY_FLOAT(round, nearbyint)
UNARY_FLOAT(log1p, log1p)
UNARY_FLOAT(expm1, expm1)
UNARY_FLOAT(asin, asin)
UNARY_FLOAT(acos, acos)
UNARY_FLOAT(atan, atan)
UNARY_FLOAT(sinh, sinh)
UNARY_FLOAT(cosh, cosh)
UNARY_FLOAT(asinh, asinh)
UNARY_FLOAT(acosh, acosh)
UNARY_FLOAT(atanh, atanh)

UNARY(erfc, f32, float, erfc_f32, TT_PAR_MIN_MATH)
UNARY(erfc, f64, double, erfc, TT_PAR_MIN_MATH)
UNARY(erfinv, f32, float, erfinv_f32, TT_PAR_MIN_MATH)
UNARY(erfinv, f64, double, erfinv_f64, TT_PAR_MIN_MATH)
UNARY(bitwise_not, i64, int64_t, BIT_NOT, TT_PAR_MIN)
UNARY(bitwise_not, b8, uint8_t, BOOL_NOT, TT_PAR_MIN)

BINARY3(atan2, f32, float, atan2)
BINARY3(atan2, f64, double, atan2)
BINARY3(copysign, f32, float, copysign)
BINARY3(copysign, f64, double, copysign)
BINARY3(fmod, f32, float, FMOD)
BINARY3(fmod, f64, double, FMOD)
BINARY3(fmod, i64, int64_t, fmod_i64)
BINARY3(remainder, f32, float, remainder_f32)
BINARY3(remainder, f64, double, remainder_f64)
BINARY3(remainder, i64, int64_t, remainder_i64)
BINARY3(floor_divide, f32, float, floor_divide_f32)
BINARY3(floor_divide, f64, double, floor_divide_f64)
BINARY3(floor_divide, i64, int64_t, floor_divide_i64)
BINARY3(trunc_divide, f32, float, trunc_divide_f32)
BINARY3(trunc_divide, f64, double, trunc_divide_f64)
BINARY3(trunc_divide, i64, int64_t, trunc_divide_i64)
BINARY3(bitwise_and, i64, int64_t, BIT_AND)
BINARY3(bitwise_and, b8, uint8_t, BIT_AND)
BINARY3(bitwise_or, i64, int64_t, BIT_OR)
BINARY3(bitwise_or, b8, uint8_t, BIT_OR)
BINARY3(bitwise_xor, i64, int64_t, BIT_XOR)
BINARY3(bitwise_xor, b8, uint8_t, BIT_XOR)
BINARY3(left_shift, i64, int64_t, left_shift_i64)
BINARY3(right_shift, i64, int64_t, right_shift_i64)

/* The position of the first zero entry of a, or -1: integer division checks its divisors. */
TT_API int64_t tt_first_zero_i64(const int64_t *a, int64_t n) {
    int any = 0;
    TT_OMP("omp simd reduction(|:any)")
    for (int64_t i = 0; i < n; i++) any |= a[i] == 0;
    if (any)
        for (int64_t i = 0; i < n; i++)
            if (a[i] == 0) return i;
    return -1;
}

/* The position of the first negative entry of a, or -1. Integer pow calls this on its
 * exponents first. The OR-reduction is branch-free, so it vectorizes; the scan for the
 * position only runs when there is one. */
TT_API int64_t tt_first_negative_i64(const int64_t *a, int64_t n) {
    int any = 0;
    TT_OMP("omp simd reduction(|:any)")
    for (int64_t i = 0; i < n; i++) any |= a[i] < 0;
    if (any)
        for (int64_t i = 0; i < n; i++)
            if (a[i] < 0) return i;
    return -1;
}

/* ---- fill, where, cast (every dtype) ------------------------------------------------ */
#define FILL_WHERE(sfx, T)                                                                 \
    TT_API void tt_fill_##sfx(T *out, T value, int64_t n) {                                \
        PARALLEL_FOR(n, TT_PAR_MIN, out[i] = value;);                                      \
    }                                                                                      \
    TT_API void tt_where_##sfx(const uint8_t *cond, const T *a, const T *b, T *out,        \
                               int64_t n) {                                                \
        /* both values loaded first: a select the compiler vectorizes, not a branch */    \
        PARALLEL_FOR(n, TT_PAR_MIN, const T x = a[i]; const T y = b[i];                    \
                     out[i] = cond[i] ? x : y;);                                           \
    }
FILL_WHERE(f32, float)
FILL_WHERE(f64, double)
FILL_WHERE(i64, int64_t)
FILL_WHERE(b8, uint8_t)

/* cast_<from>_<to>: C's conversions. float -> int64 truncates toward zero (NaN and
 * out-of-range values give INT64_MIN on x86-64, as numpy does); anything -> bool is
 * (x != 0), so NaN -> true. */
#define CAST(from, FT, to, TT, CONVERT)                                            \
    TT_API void tt_cast_##from##_##to(const FT *a, TT *out, int64_t n) {           \
        PARALLEL_FOR(n, TT_PAR_MIN, out[i] = CONVERT(TT, a[i]););                  \
    }
#define C_CAST(T, x) ((T)(x))
#define TO_BOOL(T, x) ((x) != 0)
#define CASTS_FROM(from, FT)                         \
    CAST(from, FT, f32, float, C_CAST)               \
    CAST(from, FT, f64, double, C_CAST)              \
    CAST(from, FT, i64, int64_t, C_CAST)             \
    CAST(from, FT, b8, uint8_t, TO_BOOL)
CASTS_FROM(f32, float)
CASTS_FROM(f64, double)
CASTS_FROM(i64, int64_t)
CASTS_FROM(b8, uint8_t)
