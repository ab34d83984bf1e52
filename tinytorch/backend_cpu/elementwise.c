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
ARITHMETIC(pow, POW, IPOW, TT_PAR_MIN_MATH)
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
