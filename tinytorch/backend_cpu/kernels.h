/* kernels.h -- what every kernel file of the C backend shares.
 *
 * The C backend is a flat library of functions named tt_<interface name>_<dtype>,
 * e.g. tt_ewise_add_f32 or tt_reduce_argmax_f64. The Python binding
 * (tinytorch/backend_cpu/__init__.py) checks every size, dtype and view *before* it calls
 * one of them, so kernels trust their arguments, except for what can only be seen in the
 * data (an index out of range, a negative integer exponent): those kernels check and
 * return the position of the culprit.
 *
 * Element types and their suffixes:
 *     f32 float     f64 double     i64 int64_t     b8 uint8_t (numpy's bool: one byte, 0 or 1)
 */
#ifndef TINYTORCH_KERNELS_H
#define TINYTORCH_KERNELS_H

#include <stdint.h>
#include <string.h>

#define TT_API __attribute__((visibility("default")))

/* Loops with fewer elements than tt_par_min run on one thread: splitting a loop across cores
 * pays only once the loop takes longer than handing work to the other threads, and how long
 * that takes depends on how the threads wait between kernels: the binding sets the values to
 * suit the wait policy when it loads the library (wait_settings in __init__.py, through
 * tt_set_parallel_thresholds in threads.c). tt_par_min_math is the same for
 * loops whose elements cost 4-20x more: the vectorized exp/log/tanh/sigmoid/erf of float32,
 * libm for float64, pow. tt_matmul_par_min counts the multiply-adds of a whole product. */
extern int64_t tt_par_min, tt_par_min_math, tt_matmul_par_min;
#define TT_PAR_MIN tt_par_min
#define TT_PAR_MIN_MATH tt_par_min_math
#define TT_MATMUL_PAR_MIN tt_matmul_par_min

/* The SIMD register the matmul and convolution micro-kernels fill, as GCC vector types: 64
 * bytes with AVX-512, 32 with AVX/AVX2, else 16 (SSE2, which every x86-64 has; other CPUs get
 * the same code on their 16-byte vectors, or plain scalar code where the compiler has none).
 * The ivec types hold the same bits, for masks. */
#if defined(__AVX512F__)
#define VEC_BYTES 64
#elif defined(__AVX__)
#define VEC_BYTES 32
#else
#define VEC_BYTES 16
#endif
typedef float vec_f32 __attribute__((vector_size(VEC_BYTES)));
typedef double vec_f64 __attribute__((vector_size(VEC_BYTES)));
typedef int32_t ivec_f32 __attribute__((vector_size(VEC_BYTES)));
typedef int64_t ivec_f64 __attribute__((vector_size(VEC_BYTES)));

/* The most axes a strided view may have (numpy allows 64; nobody needs that many). */
#define TT_MAX_DIMS 32

#define TT_OMP(directive) _Pragma(directive)
/* The same for a directive written as tokens, so that a macro argument can be part of it:
 * TT_OMP_TOKENS(omp simd reduction(RED:m)) with RED = max. */
#define TT_STR_(...) #__VA_ARGS__
#define TT_OMP_TOKENS(...) _Pragma(TT_STR_(__VA_ARGS__))

#ifdef _OPENMP
#include <omp.h>
#else  /* built with TINYTORCH_NO_OPENMP=1: one thread, the pragmas are ignored */
static inline int omp_get_thread_num(void) { return 0; }
static inline int omp_get_num_threads(void) { return 1; }
static inline int omp_get_max_threads(void) { return 1; }
#endif

/* for (i = 0; i < n; i++) { BODY }  -- on one thread when n < min_work, otherwise split
 * evenly across the OpenMP team. The explicit branch, rather than OpenMP's `if` clause,
 * matters for small arrays: `if(0)` still sets up a team of one, which costs more than a
 * whole short loop. */
#define PARALLEL_FOR(n, min_work, ...)                                   \
    do {                                                                 \
        const int64_t n_ = (n);                                          \
        if (n_ < (min_work)) {                                           \
            for (int64_t i = 0; i < n_; i++) { __VA_ARGS__ }             \
        } else {                                                         \
            TT_OMP("omp parallel for schedule(static)")                  \
            for (int64_t i = 0; i < n_; i++) { __VA_ARGS__ }             \
        }                                                                \
    } while (0)

#define MIN64(a, b) ((a) < (b) ? (a) : (b))

/* TT_CAT(tt_matmul_naive, f32) -> tt_matmul_naive_f32, after expanding macro arguments. */
#define TT_CAT_(a, b) a##_##b
#define TT_CAT(a, b) TT_CAT_(a, b)

/* Integer arithmetic goes through uint64_t: overflow then wraps around modulo 2^64, as
 * numpy's int64 does, instead of being undefined behaviour that the optimizer may use. */
#define IADD(x, y) ((int64_t)((uint64_t)(x) + (uint64_t)(y)))
#define ISUB(x, y) ((int64_t)((uint64_t)(x) - (uint64_t)(y)))
#define IMUL(x, y) ((int64_t)((uint64_t)(x) * (uint64_t)(y)))

#endif
