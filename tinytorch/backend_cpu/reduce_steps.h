/* reduce_steps.h -- the reductions for one element type. reduce.c includes this file once
 * per dtype, with
 *
 *     T        the element type
 *     SFX      its suffix (f32, f64, i64, b8): the kernels are named tt_reduce_<op>_<SFX>
 *     HAS_NAN  1 when T is a floating-point type
 *     ACC      the type sums add up in (double for float32: see reduce.c); left undefined
 *              for bool, which gets max, min, argmax and argmin only
 *
 * defined (a template in plain C, like matmul_steps.h). This file has what does not depend
 * on the operation -- sums, finding the position of a value -- and includes reduce_extreme.h
 * twice, for max and for min. Every kernel returns 0, or -1 if its scratch space cannot be
 * allocated; the binding has checked every size before the call.
 */

#define LOCAL(name) TT_CAT(name, SFX)

/* ---- finding a value ---------------------------------------------------------------------- */
/* The NaN test (a NaN is the one value not equal to itself); integers have no NaN. */
#if HAS_NAN
#define IS_NAN(x) ((x) != (x))
#else
#define IS_NAN(x) 0
#endif

static int64_t LOCAL(first_nan_index)(const T *x, int64_t n) {
    for (int64_t i = 0; i < n; i++)
        if (IS_NAN(x[i])) return i;
    return 0; /* not reached */
}

static T LOCAL(first_nan)(const T *x, int64_t n) { return x[LOCAL(first_nan_index)(x, n)]; }

/* The first index holding the value m (the first NaN if m is NaN), searched in blocks of 64:
 * a vectorized "is it in this block?" and a scalar scan of the one block that holds it,
 * instead of a compare-and-branch per element. */
static inline int64_t LOCAL(find_first)(const T *x, int64_t n, T m) {
    if (IS_NAN(m)) return LOCAL(first_nan_index)(x, n);
    for (int64_t b = 0; b < n; b += 64) {
        const int64_t e = MIN64(b + 64, n);
        int hit = 0;
        TT_OMP("omp simd reduction(|:hit)")
        for (int64_t i = b; i < e; i++) hit |= x[i] == m;
        if (hit)
            for (int64_t i = b; i < e; i++)
                if (x[i] == m) return i;
    }
    return 0; /* not reached */
}

/* argmax = where the max is. Short rows search backwards with a conditional move (no branch
 * to mispredict on random data); the last match written is the first. */
static inline int64_t LOCAL(where_first)(const T *x, int64_t n, T m) {
    if (n >= SHORT_ROW || IS_NAN(m)) return LOCAL(find_first)(x, n, m);
    int64_t best = 0;
    for (int64_t i = n - 1; i >= 0; i--) best = x[i] == m ? i : best;
    return best;
}

#ifdef ACC
/* ---- sums over the last axis -------------------------------------------------------------
 * `omp simd reduction` tells the compiler it may keep one partial result per vector lane and
 * combine the lanes at the end: a reassociation that plain C forbids for floats, and the
 * whole difference between 1 and 8 elements per instruction. simdlen(16): 16 partial sums,
 * i.e. 2-4 vector registers. With a single register every add waits for the previous one (4
 * cycles); with several they overlap. */
static inline ACC LOCAL(sum_block)(const T *x, int64_t n) {
    ACC s = 0;
    TT_OMP("omp simd reduction(+:s) simdlen(16)")
    for (int64_t i = 0; i < n; i++) s += (ACC)x[i];
    return s;
}

static inline ACC LOCAL(sum_row)(const T *x, int64_t n) {
    ACC s = 0;
    for (int64_t b = 0; b < n; b += BLOCK) s += LOCAL(sum_block)(x + b, MIN64(BLOCK, n - b));
    return s;
}

TT_API int TT_CAT(tt_reduce_sum, SFX)(const T *a, T *out, int64_t rows, int64_t n) {
    if (one_thread_per_row(rows, n)) {
        PARALLEL_FOR(rows, TT_PAR_MIN / (n + 1) + 1, out[i] = (T)LOCAL(sum_row)(a + i * n, n););
        return 0;
    }
    /* one row at a time: blocks summed in parallel, then added up in order */
    const int64_t nblocks = (n + BLOCK - 1) / BLOCK;
    ACC *partial = malloc((size_t)nblocks * sizeof(ACC));
    if (!partial) return -1;
    for (int64_t r = 0; r < rows; r++) {
        const T *x = a + r * n;
        TT_OMP("omp parallel for schedule(static)")
        for (int64_t b = 0; b < nblocks; b++)
            partial[b] = LOCAL(sum_block)(x + b * BLOCK, MIN64(BLOCK, n - b * BLOCK));
        ACC s = 0;
        for (int64_t b = 0; b < nblocks; b++) s += partial[b];
        out[r] = (T)s;
    }
    free(partial);
    return 0;
}

/* ---- the middle axis of (outer, n, inner) --------------------------------------------------
 * A sum over axis 0 of a (rows, cols) matrix -- a bias gradient, a mean over the batch -- is
 * the middle axis of (1, rows, cols). Rather than transposing the matrix so that the reduced
 * axis comes last, these kernels add whole rows: acc[j] += a[o, r, j0 + j] for each r, a
 * vectorized loop over contiguous memory, four rows per pass (a quarter of the loads and
 * stores of acc), with the accumulators in an AXIS_CHUNK-long stack array (double for
 * float32, as for the other sums). Threads take (o, column chunk) pairs. */
typedef void (*LOCAL(axis_block_fn))(const T *x, int64_t n, int64_t inner, int64_t w, T *dst);

/* out (outer, inner) = the reduction of a (outer, n, inner) over n: block() reduces the
 * first w <= AXIS_CHUNK columns of one (n, inner) slab into dst. */
static void LOCAL(axis_reduce)(const T *a, T *out, int64_t outer, int64_t n, int64_t inner,
                               LOCAL(axis_block_fn) block) {
    const int64_t cw = axis_chunk_width(outer, n, inner);
    const int64_t chunks = (inner + cw - 1) / cw;
    const int64_t per_item = n * MIN64(inner, cw) + 1;
    PARALLEL_FOR(outer * chunks, TT_PAR_MIN / per_item + 1, {
        const int64_t o = i / chunks, j0 = (i % chunks) * cw;
        block(a + o * n * inner + j0, n, inner, MIN64(cw, inner - j0), out + o * inner + j0);
    });
}

static void LOCAL(axis_sum_block)(const T *x, int64_t n, int64_t inner, int64_t w, T *dst) {
    ACC acc[AXIS_CHUNK];
    for (int64_t j = 0; j < w; j++) acc[j] = 0;
    int64_t r = 0;
    for (; r + 4 <= n; r += 4) {
        const T *r0 = x + r * inner, *r1 = r0 + inner, *r2 = r1 + inner, *r3 = r2 + inner;
        TT_OMP("omp simd")
        for (int64_t j = 0; j < w; j++) acc[j] = acc[j] + (ACC)r0[j] + (ACC)r1[j] + (ACC)r2[j] + (ACC)r3[j];
    }
    for (; r < n; r++) {
        const T *r0 = x + r * inner;
        TT_OMP("omp simd")
        for (int64_t j = 0; j < w; j++) acc[j] += (ACC)r0[j];
    }
    for (int64_t j = 0; j < w; j++) dst[j] = (T)acc[j];
}

TT_API int TT_CAT(tt_reduce_axis_sum, SFX)(const T *a, T *out, int64_t outer, int64_t n, int64_t inner) {
    LOCAL(axis_reduce)(a, out, outer, n, inner, LOCAL(axis_sum_block));
    return 0;
}
#endif

/* ---- max and min ---------------------------------------------------------------------------- */
#define OP max
#define ARG_OP argmax
#define BETTER(x, y) ((x) > (y))
#include "reduce_extreme.h"
#undef OP
#undef ARG_OP
#undef BETTER

#define OP min
#define ARG_OP argmin
#define BETTER(x, y) ((x) < (y))
#include "reduce_extreme.h"
#undef OP
#undef ARG_OP
#undef BETTER

#undef LOCAL
#undef IS_NAN
