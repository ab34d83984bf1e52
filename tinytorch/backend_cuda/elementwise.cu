// elementwise.cu -- binary ops (array-array, array-scalar, scalar-array), unary functions
// and where, all over compact buffers of n elements.
//
// Launch: 1-D grid of TT_BLOCK-thread blocks, grid-stride loops (see common.cuh).
// These kernels are memory-bound: one coalesced load per input and one coalesced store per
// element is the whole cost, so the only optimization that matters is keeping every warp's
// accesses contiguous, which the grid-stride loop does. Pointers are deliberately not
// __restrict__: an in-place caller may pass out == a, which is safe here because each
// element is read and written by the same thread.
#include "common.cuh"

// ---------------------------------------------------------------------------------------
// The scalar functions. Each is a functor so one kernel template serves every op.
__device__ __forceinline__ float tt_pow(float a, float b) { return powf(a, b); }
__device__ __forceinline__ double tt_pow(double a, double b) { return pow(a, b); }
// Integer power by repeated squaring, wrapping around on overflow as numpy does.
// The binding rejects negative exponents before launching (numpy raises ValueError).
__device__ __forceinline__ i64 tt_pow(i64 a, i64 b) {
    u64 base = (u64)a, result = 1;
    for (u64 e = (u64)b; e != 0; e >>= 1) {
        if (e & 1) result *= base;
        base *= base;
    }
    return (i64)result;
}

struct Add { template <class T> __device__ T operator()(T a, T b) const {
    if constexpr (tt_is_int<T>()) return tt_wrap_add(a, b); else return a + b; } };
struct Sub { template <class T> __device__ T operator()(T a, T b) const {
    if constexpr (tt_is_int<T>()) return tt_wrap_sub(a, b); else return a - b; } };
struct Mul { template <class T> __device__ T operator()(T a, T b) const {
    if constexpr (tt_is_int<T>()) return tt_wrap_mul(a, b); else return a * b; } };
struct Div { template <class T> __device__ T operator()(T a, T b) const { return a / b; } };  // floats only
struct Pow { template <class T> __device__ T operator()(T a, T b) const { return tt_pow(a, b); } };
// x ** s for a scalar s: PyTorch takes 0.5 and -0.5 as sqrt and 1 / sqrt (so (-0) ** 0.5 is -0,
// (-0) ** -0.5 is -inf and (-inf) ** +-0.5 NaN, where pow gives +0, +inf, +inf and 0).
struct PowScalar { template <class T> __device__ T operator()(T a, T s) const {
    if constexpr (!tt_is_int<T>()) {
        if (s == T(0.5)) return sqrt(a);
        if (s == T(-0.5)) return T(1) / sqrt(a);
    }
    return tt_pow(a, s); } };
// maximum/minimum propagate NaN like numpy (fmaxf/fminf would drop it). `a != a` is the
// NaN test; for integers it is constant false and compiles away.
struct Maximum { template <class T> __device__ T operator()(T a, T b) const { return (a > b || a != a) ? a : b; } };
struct Minimum { template <class T> __device__ T operator()(T a, T b) const { return (a < b || a != a) ? a : b; } };
struct Eq { template <class T> __device__ bool operator()(T a, T b) const { return a == b; } };
struct Ne { template <class T> __device__ bool operator()(T a, T b) const { return a != b; } };
struct Lt { template <class T> __device__ bool operator()(T a, T b) const { return a < b; } };
struct Le { template <class T> __device__ bool operator()(T a, T b) const { return a <= b; } };
struct Gt { template <class T> __device__ bool operator()(T a, T b) const { return a > b; } };
struct Ge { template <class T> __device__ bool operator()(T a, T b) const { return a >= b; } };

template <class T, class Tout, class Op>
__device__ void ewise_binary(const T *a, const T *b, Tout *out, i64 n) {
    const Op op;
    TT_GRID_STRIDE(i, n) out[i] = op(a[i], b[i]);
}

// The scalar arrives by value as a kernel parameter (constant bank): no buffer, no load.
template <class T, class Tout, class Op, bool kReversed>
__device__ void scalar_binary(const T *a, Tout *out, i64 n, T s) {
    const Op op;
    TT_GRID_STRIDE(i, n) out[i] = kReversed ? op(s, a[i]) : op(a[i], s);
}

// ewise_<op>_<dtype>(a, b, out, n) and scalar_<op>_<dtype>(a, out, n, s).
#define TT_BINARY(NAME, OP, T, SUF, TOUT)                                                      \
    extern "C" __global__ void ewise_##NAME##_##SUF(const T *a, const T *b, TOUT *out, i64 n) { \
        ewise_binary<T, TOUT, OP>(a, b, out, n);                                               \
    }                                                                                          \
    extern "C" __global__ void scalar_##NAME##_##SUF(const T *a, TOUT *out, i64 n, T s) {      \
        scalar_binary<T, TOUT, OP, false>(a, out, n, s);                                       \
    }
// scalar_r<op>_<dtype>(a, out, n, s) computes s <op> a.
#define TT_RBINARY(NAME, OP, T, SUF)                                                           \
    extern "C" __global__ void scalar_r##NAME##_##SUF(const T *a, T *out, i64 n, T s) {        \
        scalar_binary<T, T, OP, true>(a, out, n, s);                                           \
    }

// pow: the array form is pow itself, the scalar form PowScalar.
#define TT_POW(T, SUF)                                                                         \
    extern "C" __global__ void ewise_pow_##SUF(const T *a, const T *b, T *out, i64 n) {         \
        ewise_binary<T, T, Pow>(a, b, out, n);                                                 \
    }                                                                                          \
    extern "C" __global__ void scalar_pow_##SUF(const T *a, T *out, i64 n, T s) {              \
        scalar_binary<T, T, PowScalar, false>(a, out, n, s);                                   \
    }

// Arithmetic: float32, float64, int64 (div: floats only; NDArray promotes ints first).
#define TT_ARITH(T, SUF)                                                                       \
    TT_BINARY(add, Add, T, SUF, T) TT_BINARY(sub, Sub, T, SUF, T) TT_BINARY(mul, Mul, T, SUF, T) \
    TT_POW(T, SUF) TT_BINARY(maximum, Maximum, T, SUF, T)                                      \
    TT_BINARY(minimum, Minimum, T, SUF, T) TT_RBINARY(sub, Sub, T, SUF) TT_RBINARY(pow, Pow, T, SUF)
TT_ARITH_TYPES(TT_ARITH)
#define TT_DIV(T, SUF) TT_BINARY(div, Div, T, SUF, T) TT_RBINARY(div, Div, T, SUF)
TT_FLOAT_TYPES(TT_DIV)

// Comparisons: every dtype, bool result.
#define TT_COMPARE(T, SUF)                                                                     \
    TT_BINARY(eq, Eq, T, SUF, bool) TT_BINARY(ne, Ne, T, SUF, bool) TT_BINARY(lt, Lt, T, SUF, bool) \
    TT_BINARY(le, Le, T, SUF, bool) TT_BINARY(gt, Gt, T, SUF, bool) TT_BINARY(ge, Ge, T, SUF, bool)
TT_ALL_TYPES(TT_COMPARE)

// ---------------------------------------------------------------------------------------
// The further binary ops (interface.MORE_BINARY_OPS), each as ewise_, scalar_ and scalar_r.
__device__ __forceinline__ float tt_atan2(float a, float b) { return atan2f(a, b); }
__device__ __forceinline__ double tt_atan2(double a, double b) { return atan2(a, b); }
__device__ __forceinline__ float tt_copysign(float a, float b) { return copysignf(a, b); }
__device__ __forceinline__ double tt_copysign(double a, double b) { return copysign(a, b); }
__device__ __forceinline__ float tt_fmod(float a, float b) { return fmodf(a, b); }
__device__ __forceinline__ double tt_fmod(double a, double b) { return fmod(a, b); }
__device__ __forceinline__ float tt_floor2(float a) { return floorf(a); }
__device__ __forceinline__ double tt_floor2(double a) { return floor(a); }
__device__ __forceinline__ float tt_trunc2(float a) { return truncf(a); }
__device__ __forceinline__ double tt_trunc2(double a) { return trunc(a); }
// Integers: the binding rejects a zero divisor before launching. A divisor of -1 is taken
// apart: INT64_MIN / -1 overflows; the answer wraps around to INT64_MIN (remainder 0).
__device__ __forceinline__ i64 tt_fmod(i64 a, i64 b) { return b == -1 ? 0 : a % b; }

struct Atan2 { template <class T> __device__ T operator()(T a, T b) const { return tt_atan2(a, b); } };
struct Copysign { template <class T> __device__ T operator()(T a, T b) const { return tt_copysign(a, b); } };
struct Fmod { template <class T> __device__ T operator()(T a, T b) const { return tt_fmod(a, b); } };
// fmod moved into the divisor's sign (-0.0 stays -0.0, as PyTorch)
struct Remainder { template <class T> __device__ T operator()(T a, T b) const {
    const T m = tt_fmod(a, b);
    return (m != T(0) && (b < T(0)) != (m < T(0))) ? T(m + b) : m; } };
struct TruncDivide { template <class T> __device__ T operator()(T a, T b) const {
    if constexpr (tt_is_int<T>()) return b == -1 ? tt_wrap_sub(0, a) : a / b; else return tt_trunc2(a / b); } };
// PyTorch's floor division: for floats from the exact (a - fmod(a, b)) / b, whose floor
// cannot be pushed onto the next whole number by the rounding of a / b.
struct FloorDivide { template <class T> __device__ T operator()(T a, T b) const {
    if constexpr (tt_is_int<T>()) {
        const i64 q = b == -1 ? tt_wrap_sub(0, a) : a / b;
        return (tt_fmod(a, b) != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
    } else {
        if (b == T(0)) return a / b;  // inf or NaN
        const T m = tt_fmod(a, b);
        T d = (a - m) / b;
        if (m != T(0) && (b < T(0)) != (m < T(0))) d -= T(1);
        if (d == T(0)) return tt_copysign(T(0), a / b);
        const T f = tt_floor2(d);
        return d - f > T(0.5) ? f + T(1) : f;
    } } };
struct BitAnd { template <class T> __device__ T operator()(T a, T b) const { return a & b; } };
struct BitOr { template <class T> __device__ T operator()(T a, T b) const { return a | b; } };
struct BitXor { template <class T> __device__ T operator()(T a, T b) const { return a ^ b; } };
// A shift count outside [0, 64) gives 0 to the left and the sign to the right, as PyTorch.
struct LeftShift { __device__ i64 operator()(i64 a, i64 b) const {
    return (b < 0 || b >= 64) ? 0 : (i64)((u64)a << b); } };
struct RightShift { __device__ i64 operator()(i64 a, i64 b) const { return a >> ((b < 0 || b >= 64) ? 63 : b); } };

#define TT_BINARY3(NAME, OP, T, SUF) TT_BINARY(NAME, OP, T, SUF, T) TT_RBINARY(NAME, OP, T, SUF)
#define TT_FLOAT_MATH(T, SUF) TT_BINARY3(atan2, Atan2, T, SUF) TT_BINARY3(copysign, Copysign, T, SUF)
TT_FLOAT_TYPES(TT_FLOAT_MATH)
#define TT_DIVISION(T, SUF)                                                                    \
    TT_BINARY3(fmod, Fmod, T, SUF) TT_BINARY3(remainder, Remainder, T, SUF)                    \
    TT_BINARY3(floor_divide, FloorDivide, T, SUF) TT_BINARY3(trunc_divide, TruncDivide, T, SUF)
TT_ARITH_TYPES(TT_DIVISION)
#define TT_BITWISE(T, SUF)                                                                     \
    TT_BINARY3(bitwise_and, BitAnd, T, SUF) TT_BINARY3(bitwise_or, BitOr, T, SUF)              \
    TT_BINARY3(bitwise_xor, BitXor, T, SUF)
TT_BITWISE(i64, int64)
TT_BITWISE(bool, bool)
TT_BINARY3(left_shift, LeftShift, i64, int64)
TT_BINARY3(right_shift, RightShift, i64, int64)

// ---------------------------------------------------------------------------------------
// Unary functions. The float32 versions call the single-precision CUDA math functions
// (expf, ...), which are accurate to a few ulp without --use_fast_math.
__device__ __forceinline__ float tt_exp(float x) { return expf(x); }
__device__ __forceinline__ double tt_exp(double x) { return exp(x); }
__device__ __forceinline__ float tt_log(float x) { return logf(x); }
__device__ __forceinline__ double tt_log(double x) { return log(x); }
__device__ __forceinline__ float tt_sqrt(float x) { return sqrtf(x); }
__device__ __forceinline__ double tt_sqrt(double x) { return sqrt(x); }
__device__ __forceinline__ float tt_sin(float x) { return sinf(x); }
__device__ __forceinline__ double tt_sin(double x) { return sin(x); }
__device__ __forceinline__ float tt_cos(float x) { return cosf(x); }
__device__ __forceinline__ double tt_cos(double x) { return cos(x); }
__device__ __forceinline__ float tt_tanh(float x) { return tanhf(x); }
__device__ __forceinline__ double tt_tanh(double x) { return tanh(x); }
__device__ __forceinline__ float tt_erf(float x) { return erff(x); }
__device__ __forceinline__ double tt_erf(double x) { return erf(x); }
__device__ __forceinline__ float tt_floor(float x) { return floorf(x); }
__device__ __forceinline__ double tt_floor(double x) { return floor(x); }
__device__ __forceinline__ float tt_ceil(float x) { return ceilf(x); }
__device__ __forceinline__ double tt_ceil(double x) { return ceil(x); }
__device__ __forceinline__ float tt_trunc(float x) { return truncf(x); }
__device__ __forceinline__ double tt_trunc(double x) { return trunc(x); }
__device__ __forceinline__ float tt_round(float x) { return rintf(x); }
__device__ __forceinline__ double tt_round(double x) { return rint(x); }
__device__ __forceinline__ float tt_log1p(float x) { return log1pf(x); }
__device__ __forceinline__ double tt_log1p(double x) { return log1p(x); }
__device__ __forceinline__ float tt_expm1(float x) { return expm1f(x); }
__device__ __forceinline__ double tt_expm1(double x) { return expm1(x); }
__device__ __forceinline__ float tt_asin(float x) { return asinf(x); }
__device__ __forceinline__ double tt_asin(double x) { return asin(x); }
__device__ __forceinline__ float tt_acos(float x) { return acosf(x); }
__device__ __forceinline__ double tt_acos(double x) { return acos(x); }
__device__ __forceinline__ float tt_atan(float x) { return atanf(x); }
__device__ __forceinline__ double tt_atan(double x) { return atan(x); }
__device__ __forceinline__ float tt_sinh(float x) { return sinhf(x); }
__device__ __forceinline__ double tt_sinh(double x) { return sinh(x); }
__device__ __forceinline__ float tt_cosh(float x) { return coshf(x); }
__device__ __forceinline__ double tt_cosh(double x) { return cosh(x); }
__device__ __forceinline__ float tt_asinh(float x) { return asinhf(x); }
__device__ __forceinline__ double tt_asinh(double x) { return asinh(x); }
__device__ __forceinline__ float tt_acosh(float x) { return acoshf(x); }
__device__ __forceinline__ double tt_acosh(double x) { return acosh(x); }
__device__ __forceinline__ float tt_atanh(float x) { return atanhf(x); }
__device__ __forceinline__ double tt_atanh(double x) { return atanh(x); }
// float32 erfc through the double one, rounded once (its tail is subnormal from x = 9.2 on)
__device__ __forceinline__ float tt_erfc(float x) { return (float)erfc((double)x); }
__device__ __forceinline__ double tt_erfc(double x) { return erfc(x); }
// erfinv in double for both float types, by the steps of the C backend (elementwise.c): a
// rational first guess, then three Newton steps, on erf(x) = |y| in the centre and on
// erfc(x) = 1 - |y| (exact there) in the tails.
__device__ double tt_erfinv(double y) {
    const double v = fabs(y);
    if (!(v <= 1.0)) return __longlong_as_double(0x7ff8000000000000LL);  // NaN (for NaN in too)
    if (v == 1.0) return copysign(__longlong_as_double(0x7ff0000000000000LL), y);  // +-inf
    const double w = 1.0 - v;
    const bool tail = v > 0.7;
    double x;
    if (!tail) {
        const double z = v * v;
        x = v * (((-0.140543331 * z + 0.914624893) * z - 1.645349621) * z + 0.886226899) /
            ((((0.012229801 * z - 0.329097515) * z + 1.442710462) * z - 2.118377725) * z + 1.0);
    } else {
        const double t = sqrt(-log(fmax(w / 2.0, 1e-300)));
        x = (((1.641345311 * t + 3.429567803) * t - 1.624906493) * t - 1.970840454) /
            ((1.637067800 * t + 3.543889200) * t + 1.0);
    }
    for (int k = 0; k < 3; k++) {
        const double gap = tail ? w - erfc(x) : erf(x) - v;
        x -= gap / (1.1283791670955126 * exp(-x * x));  // 2 / sqrt(pi)
    }
    return copysign(x, y);
}
__device__ __forceinline__ float tt_erfinv(float y) { return (float)tt_erfinv((double)y); }
__device__ __forceinline__ float tt_fabs(float x) { return fabsf(x); }
__device__ __forceinline__ double tt_fabs(double x) { return fabs(x); }

struct Neg { template <class T> __device__ T operator()(T a) const {
    if constexpr (tt_is_int<T>()) return tt_wrap_sub(0, a); else return -a; } };
struct Abs { template <class T> __device__ T operator()(T a) const {
    if constexpr (tt_is_int<T>()) return a < 0 ? tt_wrap_sub(0, a) : a; else return tt_fabs(a); } };
// sign: -1, 0 or 1; NaN stays NaN and -0.0 gives +0.0, as numpy.
struct Sign { template <class T> __device__ T operator()(T a) const {
    return a > T(0) ? T(1) : a < T(0) ? T(-1) : a == T(0) ? T(0) : a; } };
// relu = maximum(a, 0): NaN propagates.
struct Relu { template <class T> __device__ T operator()(T a) const { return (a > T(0) || a != a) ? a : T(0); } };
struct Exp { template <class T> __device__ T operator()(T a) const { return tt_exp(a); } };
struct Log { template <class T> __device__ T operator()(T a) const { return tt_log(a); } };
struct Sqrt { template <class T> __device__ T operator()(T a) const { return tt_sqrt(a); } };
struct Sin { template <class T> __device__ T operator()(T a) const { return tt_sin(a); } };
struct Cos { template <class T> __device__ T operator()(T a) const { return tt_cos(a); } };
struct Tanh { template <class T> __device__ T operator()(T a) const { return tt_tanh(a); } };
struct Erf { template <class T> __device__ T operator()(T a) const { return tt_erf(a); } };
struct Floor { template <class T> __device__ T operator()(T a) const { return tt_floor(a); } };
struct Ceil { template <class T> __device__ T operator()(T a) const { return tt_ceil(a); } };
struct Trunc { template <class T> __device__ T operator()(T a) const { return tt_trunc(a); } };
struct Round { template <class T> __device__ T operator()(T a) const { return tt_round(a); } };
struct Log1p { template <class T> __device__ T operator()(T a) const { return tt_log1p(a); } };
struct Expm1 { template <class T> __device__ T operator()(T a) const { return tt_expm1(a); } };
struct Asin { template <class T> __device__ T operator()(T a) const { return tt_asin(a); } };
struct Acos { template <class T> __device__ T operator()(T a) const { return tt_acos(a); } };
struct Atan { template <class T> __device__ T operator()(T a) const { return tt_atan(a); } };
struct Sinh { template <class T> __device__ T operator()(T a) const { return tt_sinh(a); } };
struct Cosh { template <class T> __device__ T operator()(T a) const { return tt_cosh(a); } };
struct Asinh { template <class T> __device__ T operator()(T a) const { return tt_asinh(a); } };
struct Acosh { template <class T> __device__ T operator()(T a) const { return tt_acosh(a); } };
struct Atanh { template <class T> __device__ T operator()(T a) const { return tt_atanh(a); } };
struct Erfc { template <class T> __device__ T operator()(T a) const { return tt_erfc(a); } };
struct Erfinv { template <class T> __device__ T operator()(T a) const { return tt_erfinv(a); } };
struct BitNot { __device__ i64 operator()(i64 a) const { return ~a; }
                __device__ bool operator()(bool a) const { return !a; } };
// sigmoid without overflow: exp(-|x|) is at most 1, and each sign takes the form that
// keeps its precision (the same formula as the numpy backend).
struct Sigmoid { template <class T> __device__ T operator()(T a) const {
    const T e = tt_exp(-tt_fabs(a));
    return a >= T(0) ? T(1) / (T(1) + e) : e / (T(1) + e); } };

template <class T, class Op>
__device__ void ewise_unary(const T *a, T *out, i64 n) {
    const Op op;
    TT_GRID_STRIDE(i, n) out[i] = op(a[i]);
}

#define TT_UNARY(NAME, OP, T, SUF)                                                             \
    extern "C" __global__ void ewise_##NAME##_##SUF(const T *a, T *out, i64 n) { ewise_unary<T, OP>(a, out, n); }
#define TT_UNARY_ANY(T, SUF)                                                                   \
    TT_UNARY(neg, Neg, T, SUF) TT_UNARY(abs, Abs, T, SUF) TT_UNARY(sign, Sign, T, SUF) TT_UNARY(relu, Relu, T, SUF)
TT_ARITH_TYPES(TT_UNARY_ANY)
#define TT_UNARY_FLOAT(T, SUF)                                                                 \
    TT_UNARY(exp, Exp, T, SUF) TT_UNARY(log, Log, T, SUF) TT_UNARY(sqrt, Sqrt, T, SUF)         \
    TT_UNARY(sin, Sin, T, SUF) TT_UNARY(cos, Cos, T, SUF) TT_UNARY(tanh, Tanh, T, SUF)         \
    TT_UNARY(sigmoid, Sigmoid, T, SUF) TT_UNARY(erf, Erf, T, SUF)                               \
    TT_UNARY(floor, Floor, T, SUF) TT_UNARY(ceil, Ceil, T, SUF) TT_UNARY(trunc, Trunc, T, SUF) TT_UNARY(round, Round, T, SUF) \
    TT_UNARY(log1p, Log1p, T, SUF) TT_UNARY(expm1, Expm1, T, SUF) TT_UNARY(asin, Asin, T, SUF) TT_UNARY(acos, Acos, T, SUF) \
    TT_UNARY(atan, Atan, T, SUF) TT_UNARY(sinh, Sinh, T, SUF) TT_UNARY(cosh, Cosh, T, SUF) TT_UNARY(asinh, Asinh, T, SUF) \
    TT_UNARY(acosh, Acosh, T, SUF) TT_UNARY(atanh, Atanh, T, SUF) TT_UNARY(erfc, Erfc, T, SUF)           \
    TT_UNARY(erfinv, Erfinv, T, SUF)
TT_FLOAT_TYPES(TT_UNARY_FLOAT)
TT_UNARY(bitwise_not, BitNot, i64, int64)
TT_UNARY(bitwise_not, BitNot, bool, bool)

// ---------------------------------------------------------------------------------------
// where: out[i] = cond[i] ? a[i] : b[i].
template <class T>
__device__ void where_kernel(const bool *cond, const T *a, const T *b, T *out, i64 n) {
    TT_GRID_STRIDE(i, n) out[i] = cond[i] ? a[i] : b[i];
}
#define TT_WHERE(T, SUF)                                                                       \
    extern "C" __global__ void where_##SUF(const bool *cond, const T *a, const T *b, T *out, i64 n) { \
        where_kernel<T>(cond, a, b, out, n);                                                   \
    }
TT_ALL_TYPES(TT_WHERE)
