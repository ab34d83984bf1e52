/* reduce.c -- sum, max, min, argmax, argmin over the last axis of a compact array.
 *
 * The input is `rows` rows of `n` elements each; out[r] reduces row r. Two shapes matter
 * and get different parallel plans (see one_thread_per_row):
 *  - many short rows (a softmax over 10 classes for a batch of 10 000): rows are split
 *    across threads, each row reduced by a short serial loop;
 *  - few long rows (the sum of a whole 1 000 000-element array): each row is cut into
 *    blocks that the threads reduce in parallel, and the block results are combined.
 *
 * Sums are always computed block by block (BLOCK elements, each block summed by a
 * vectorized loop, block sums added in order), on one thread or many. So the result does
 * not depend on the thread count, and rounding error grows with the number of blocks
 * rather than the number of elements. float32 accumulates in double: in a loop that is
 * limited by memory bandwidth the conversion is free, and it removes the error growth
 * that a long float32 sum has. int64 sums wrap modulo 2^64, as numpy's do.
 *
 * max/min propagate NaN and argmax/argmin return the first NaN, as numpy does. */
#include <math.h>
#include <stdlib.h>

#include "kernels.h"

#define BLOCK 4096
#define SHORT_ROW 16
#define LONG_ROW 8192 /* rows at least this long are walked as four quarters (see EXTREME_ROW) */

/* The larger/smaller of two partial results, NaN if either is (each part of a row
 * returns NaN if it holds one). */
#define MAX2(x, y) (((x) >= (y) || (x) != (x)) ? (x) : (y))
#define MIN2(x, y) (((x) <= (y) || (x) != (x)) ? (x) : (y))

/* NAME_row_sfx: the max (CMP >, RED max) or min (CMP <, RED min) of x[0..n), n >= 1. The
 * lane-wise comparison ignores NaN (a comparison with NaN is false); a separate OR of (x != x)
 * notices one, and then the first NaN is returned. Both are branch-free: no mispredictions on
 * random data, and long rows vectorize. A long row (LONG_ROW) is walked as four quarters at
 * once: four independent chains of vector max instructions instead of one, each waiting only
 * for itself (vmaxps: 3 cycles' latency), so the loop keeps up with memory; shorter rows are
 * not worth the four-way set-up. Short rows skip `omp simd`: a vector loop's set-up costs more. */
#define EXTREME_ROW(NAME, sfx, T, CMP, RED)                                                     \
    static inline T NAME##_row_##sfx(const T *x, int64_t n) {                                   \
        T m = x[0];                                                                             \
        int nan = 0;                                                                            \
        if (n < SHORT_ROW) {                                                                    \
            for (int64_t i = 0; i < n; i++) {                                                   \
                m = x[i] CMP m ? x[i] : m;                                                      \
                nan |= x[i] != x[i];                                                            \
            }                                                                                   \
            return nan ? first_nan_##sfx(x, n) : m;                                             \
        }                                                                                       \
        if (n < LONG_ROW) {                                                                     \
            TT_OMP_TOKENS(omp simd reduction(RED:m) reduction(|:nan))                           \
            for (int64_t i = 0; i < n; i++) {                                                   \
                m = x[i] CMP m ? x[i] : m;                                                      \
                nan |= x[i] != x[i];                                                            \
            }                                                                                   \
            return nan ? first_nan_##sfx(x, n) : m;                                             \
        }                                                                                       \
        const int64_t q = n / 4;                                                                \
        const T *x1 = x + q, *x2 = x + 2 * q, *x3 = x + 3 * q;                                  \
        T m1 = x1[0], m2 = x2[0], m3 = x3[0];                                                   \
        TT_OMP_TOKENS(omp simd reduction(RED:m, m1, m2, m3) reduction(|:nan))                   \
        for (int64_t i = 0; i < q; i++) {                                                       \
            m = x[i] CMP m ? x[i] : m;                                                          \
            m1 = x1[i] CMP m1 ? x1[i] : m1;                                                     \
            m2 = x2[i] CMP m2 ? x2[i] : m2;                                                     \
            m3 = x3[i] CMP m3 ? x3[i] : m3;                                                     \
            nan |= (x[i] != x[i]) | (x1[i] != x1[i]) | (x2[i] != x2[i]) | (x3[i] != x3[i]);     \
        }                                                                                       \
        for (int64_t i = 4 * q; i < n; i++) {                                                   \
            m = x[i] CMP m ? x[i] : m;                                                          \
            nan |= x[i] != x[i];                                                                \
        }                                                                                       \
        m = m1 CMP m ? m1 : m;                                                                  \
        m = m2 CMP m ? m2 : m;                                                                  \
        m = m3 CMP m ? m3 : m;                                                                  \
        return nan ? first_nan_##sfx(x, n) : m;                                                 \
    }

/* ---- one row (or one block of a row) -------------------------------------------------
 * `omp simd reduction` tells the compiler it may keep one partial result per vector lane
 * and combine the lanes at the end: a reassociation that plain C forbids for floats, and
 * the whole difference between 1 and 8 elements per instruction. */
#define ROW_KERNELS(sfx, T, ACC)                                                            \
    /* simdlen(16): 16 partial sums, i.e. 2-4 vector registers. With a single register    \
     * every add waits for the previous one (4 cycles); with several they overlap. */     \
    static inline ACC sum_block_##sfx(const T *x, int64_t n) {                             \
        ACC s = 0;                                                                          \
        TT_OMP("omp simd reduction(+:s) simdlen(16)")                                       \
        for (int64_t i = 0; i < n; i++) s += (ACC)x[i];                                     \
        return s;                                                                           \
    }                                                                                       \
    static inline ACC sum_row_##sfx(const T *x, int64_t n) {                               \
        ACC s = 0;                                                                          \
        for (int64_t b = 0; b < n; b += BLOCK) s += sum_block_##sfx(x + b, MIN64(BLOCK, n - b)); \
        return s;                                                                           \
    }                                                                                       \
    static int64_t first_nan_index_##sfx(const T *x, int64_t n) {                          \
        for (int64_t i = 0; i < n; i++)                                                     \
            if (x[i] != x[i]) return i;                                                     \
        return 0; /* not reached */                                                         \
    }                                                                                       \
    static T first_nan_##sfx(const T *x, int64_t n) {                                      \
        return x[first_nan_index_##sfx(x, n)];                                              \
    }                                                                                       \
    EXTREME_ROW(max, sfx, T, >, max)                                                        \
    EXTREME_ROW(min, sfx, T, <, min)                                                        \
    /* The first index holding the value m (the first NaN if m is NaN), searched in blocks \
     * of 64: a vectorized "is it in this block?" and a scalar scan of the one block that  \
     * holds it, instead of a compare-and-branch per element. */                            \
    static inline int64_t find_first_##sfx(const T *x, int64_t n, T m) {                   \
        if (m != m) return first_nan_index_##sfx(x, n);                                     \
        for (int64_t b = 0; b < n; b += 64) {                                               \
            const int64_t e = MIN64(b + 64, n);                                             \
            int hit = 0;                                                                    \
            TT_OMP("omp simd reduction(|:hit)")                                             \
            for (int64_t i = b; i < e; i++) hit |= x[i] == m;                               \
            if (hit)                                                                        \
                for (int64_t i = b; i < e; i++)                                             \
                    if (x[i] == m) return i;                                                \
        }                                                                                   \
        return 0; /* not reached */                                                         \
    }                                                                                       \
    /* argmax = where the max is. Short rows search backwards with a conditional move     \
     * (no branch to mispredict on random data); the last match written is the first. */   \
    static inline int64_t where_first_##sfx(const T *x, int64_t n, T m) {                  \
        if (n >= SHORT_ROW || m != m) return find_first_##sfx(x, n, m);                     \
        int64_t best = 0;                                                                   \
        for (int64_t i = n - 1; i >= 0; i--) best = x[i] == m ? i : best;                   \
        return best;                                                                        \
    }                                                                                       \
    static inline int64_t argmax_row_##sfx(const T *x, int64_t n) {                        \
        return where_first_##sfx(x, n, max_row_##sfx(x, n));                               \
    }                                                                                       \
    static inline int64_t argmin_row_##sfx(const T *x, int64_t n) {                        \
        return where_first_##sfx(x, n, min_row_##sfx(x, n));                               \
    }

/* ---- the whole array ------------------------------------------------------------------ */
/* The plan: whole rows per thread (or all on this one, for small arrays) unless the rows
 * are long and too few to give every thread several of them; then each row is split. */
static int one_thread_per_row(int64_t rows, int64_t n) {
    return rows * n < TT_PAR_MIN || rows >= 4 * (int64_t)omp_get_max_threads() || n < 2 * BLOCK;
}

/* reduce_sum: returns 0, or -1 if the scratch array for block sums cannot be allocated. */
#define REDUCE_SUM(sfx, T, ACC)                                                             \
    TT_API int tt_reduce_sum_##sfx(const T *a, T *out, int64_t rows, int64_t n) {          \
        if (one_thread_per_row(rows, n)) {                                                          \
            PARALLEL_FOR(rows, TT_PAR_MIN / (n + 1) + 1,                                     \
                         out[i] = (T)sum_row_##sfx(a + i * n, n);); \
            return 0;                                                                       \
        }                                                                                   \
        /* one row at a time: blocks summed in parallel, then added up in order */          \
        const int64_t nblocks = (n + BLOCK - 1) / BLOCK;                                    \
        ACC *partial = malloc((size_t)nblocks * sizeof(ACC));                               \
        if (!partial) return -1;                                                            \
        for (int64_t r = 0; r < rows; r++) {                                                \
            const T *x = a + r * n;                                                         \
            TT_OMP("omp parallel for schedule(static)")                                     \
            for (int64_t b = 0; b < nblocks; b++)                                           \
                partial[b] = sum_block_##sfx(x + b * BLOCK, MIN64(BLOCK, n - b * BLOCK));    \
            ACC s = 0;                                                                      \
            for (int64_t b = 0; b < nblocks; b++) s += partial[b];                          \
            out[r] = (T)s;                                                                  \
        }                                                                                   \
        free(partial);                                                                      \
        return 0;                                                                           \
    }

/* reduce_max/min and argmax/argmin. For a long row each thread reduces one contiguous
 * chunk; the chunk results are combined in order, and argmax then searches for the
 * first position of the combined value. Return 0, or -1 if out of memory. */
#define REDUCE_EXTREME(op, sfx, T, COMBINE)                                                  \
    static T op##_parallel_##sfx(const T *x, int64_t n, T *part) {                           \
        int nt = 1;                                                                          \
        TT_OMP("omp parallel")                                                               \
        {                                                                                    \
            const int64_t t = omp_get_thread_num(), k = omp_get_num_threads();               \
            const int64_t lo = n * t / k, hi = n * (t + 1) / k;                              \
            part[t] = op##_row_##sfx(x + lo, hi - lo);                                       \
            if (t == 0) nt = (int)k;                                                         \
        }                                                                                    \
        T m = part[0];                                                                       \
        for (int t = 1; t < nt; t++) m = COMBINE(m, part[t]);                                \
        return m;                                                                            \
    }                                                                                        \
    TT_API int tt_reduce_##op##_##sfx(const T *a, T *out, int64_t rows, int64_t n) {         \
        if (one_thread_per_row(rows, n)) {                                                           \
            PARALLEL_FOR(rows, TT_PAR_MIN / (n + 1) + 1,                                     \
                         out[i] = op##_row_##sfx(a + i * n, n);); \
            return 0;                                                                        \
        }                                                                                    \
        T *part = malloc((size_t)omp_get_max_threads() * sizeof(T));                         \
        if (!part) return -1;                                                                \
        for (int64_t r = 0; r < rows; r++) out[r] = op##_parallel_##sfx(a + r * n, n, part); \
        free(part);                                                                          \
        return 0;                                                                            \
    }                                                                                        \
    TT_API int tt_reduce_arg##op##_##sfx(const T *a, int64_t *out, int64_t rows, int64_t n) { \
        if (one_thread_per_row(rows, n)) {                                                           \
            PARALLEL_FOR(rows, TT_PAR_MIN / (n + 1) + 1,                                     \
                         out[i] = arg##op##_row_##sfx(a + i * n, n);); \
            return 0;                                                                        \
        }                                                                                    \
        T *part = malloc((size_t)omp_get_max_threads() * sizeof(T));                         \
        if (!part) return -1;                                                                \
        for (int64_t r = 0; r < rows; r++) {                                                 \
            const T *x = a + r * n;                                                          \
            out[r] = find_first_##sfx(x, n, op##_parallel_##sfx(x, n, part));                \
        }                                                                                    \
        free(part);                                                                          \
        return 0;                                                                            \
    }

ROW_KERNELS(f32, float, double)
ROW_KERNELS(f64, double, double)
ROW_KERNELS(i64, int64_t, uint64_t)
ROW_KERNELS(b8, uint8_t, uint64_t)

REDUCE_SUM(f32, float, double)
REDUCE_SUM(f64, double, double)
REDUCE_SUM(i64, int64_t, uint64_t)

REDUCE_EXTREME(max, f32, float, MAX2)
REDUCE_EXTREME(max, f64, double, MAX2)
REDUCE_EXTREME(max, i64, int64_t, MAX2)
REDUCE_EXTREME(max, b8, uint8_t, MAX2)
REDUCE_EXTREME(min, f32, float, MIN2)
REDUCE_EXTREME(min, f64, double, MIN2)
REDUCE_EXTREME(min, i64, int64_t, MIN2)
REDUCE_EXTREME(min, b8, uint8_t, MIN2)

/* ---- the middle axis of (outer, n, inner) -------------------------------------------------
 * An optional extension of the interface (reduce_axis_<op>): a sum over axis 0 of a (rows,
 * cols) matrix -- a bias gradient, a mean over the batch -- is the middle axis of
 * (1, rows, cols). Rather than transposing the matrix so that the reduced axis comes last,
 * these kernels add whole rows: acc[j] += a[o, r, j0 + j] for each r, a vectorized loop over
 * contiguous memory, four rows per pass (a quarter of the loads and stores of acc), with the
 * accumulators in a CHUNK-long stack array (double for float32, as for the other sums).
 * max/min keep a separate "saw a NaN" flag per column, so that the loop body is a plain max
 * and an OR, which vectorize (a NaN-propagating select in the loop did not: with branches on
 * random data it ran 5x slower). Threads take (o, column chunk) pairs. Return 0. */
#define AXIS_CHUNK 1024

/* The columns one work item takes: AXIS_CHUNK, or fewer when a large reduction would otherwise
 * have fewer items than threads (a sum over axis 0 of a (4096, 1024) matrix is one chunk: it
 * ran on one thread at 0.8x numpy's speed). Halving stops at 128 columns (512 bytes of
 * float32 per row), still a long contiguous run for each row's loads. */
static int64_t axis_chunk_width(int64_t outer, int64_t n, int64_t inner) {
    int64_t cw = AXIS_CHUNK;
    if (outer * n * inner >= TT_PAR_MIN) {
        const int64_t threads = omp_get_max_threads();
        while (cw > 128 && outer * ((inner + cw - 1) / cw) < threads) cw /= 2;
    }
    return cw;
}

#define AXIS_LOOP(T, ACC, INIT, STEP, FINISH)                                                      \
    const int64_t cw = axis_chunk_width(outer, n, inner);                                          \
    const int64_t chunks = (inner + cw - 1) / cw;                                                  \
    const int64_t per_item = n * MIN64(inner, cw) + 1;                                             \
    PARALLEL_FOR(outer * chunks, TT_PAR_MIN / per_item + 1, {                                       \
        const int64_t o = i / chunks, j0 = (i % chunks) * cw;                                      \
        const int64_t w = MIN64(cw, inner - j0);                                                   \
        const T *x = a + o * n * inner + j0;                                                       \
        ACC acc[AXIS_CHUNK];                                                                       \
        uint8_t nan[AXIS_CHUNK];                                                                   \
        (void)nan;                                                                                 \
        for (int64_t j = 0; j < w; j++) { INIT }                                                   \
        int64_t r = 0;                                                                             \
        for (; r + 4 <= n; r += 4) {                                                               \
            const T *r0 = x + r * inner, *r1 = r0 + inner, *r2 = r1 + inner, *r3 = r2 + inner;      \
            TT_OMP("omp simd")                                                                     \
            for (int64_t j = 0; j < w; j++) {                                                      \
                STEP(r0[j]) STEP(r1[j]) STEP(r2[j]) STEP(r3[j])                                    \
            }                                                                                      \
        }                                                                                          \
        for (; r < n; r++) {                                                                       \
            const T *r0 = x + r * inner;                                                           \
            TT_OMP("omp simd")                                                                     \
            for (int64_t j = 0; j < w; j++) { STEP(r0[j]) }                                        \
        }                                                                                          \
        T *dst = out + o * inner + j0;                                                             \
        for (int64_t j = 0; j < w; j++) { FINISH }                                                 \
    });                                                                                            \
    return 0;

#define SUM_STEP(y) acc[j] += (y);
#define ISUM_STEP(y) acc[j] += (uint64_t)(y); /* int64 wraps modulo 2^64 */
#define MAX_STEP(y) acc[j] = (y) > acc[j] ? (y) : acc[j]; nan[j] |= (y) != (y);
#define MIN_STEP(y) acc[j] = (y) < acc[j] ? (y) : acc[j]; nan[j] |= (y) != (y);

#define REDUCE_AXIS(sfx, T, SUM_ACC, SUM, EXTREME_OUT)                                             \
    TT_API int tt_reduce_axis_sum_##sfx(const T *a, T *out, int64_t outer, int64_t n,              \
                                        int64_t inner) {                                           \
        AXIS_LOOP(T, SUM_ACC, acc[j] = 0;, SUM, dst[j] = (T)acc[j];)                               \
    }                                                                                              \
    /* max/min start from the first row (n >= 1, checked by the binding) */                        \
    TT_API int tt_reduce_axis_max_##sfx(const T *a, T *out, int64_t outer, int64_t n,              \
                                        int64_t inner) {                                           \
        AXIS_LOOP(T, T, acc[j] = x[j]; nan[j] = 0;, MAX_STEP, EXTREME_OUT)                         \
    }                                                                                              \
    TT_API int tt_reduce_axis_min_##sfx(const T *a, T *out, int64_t outer, int64_t n,              \
                                        int64_t inner) {                                           \
        AXIS_LOOP(T, T, acc[j] = x[j]; nan[j] = 0;, MIN_STEP, EXTREME_OUT)                         \
    }

#define FLOAT_OUT(T) dst[j] = nan[j] ? (T)NAN : acc[j];
#define INT_OUT dst[j] = acc[j]; /* integers have no NaN */
REDUCE_AXIS(f32, float, double, SUM_STEP, FLOAT_OUT(float))
REDUCE_AXIS(f64, double, double, SUM_STEP, FLOAT_OUT(double))
REDUCE_AXIS(i64, int64_t, uint64_t, ISUM_STEP, INT_OUT)
