/* reduce_extreme.h -- max or min (and argmax or argmin) for one element type. reduce_steps.h
 * includes this file twice, with T, SFX, LOCAL, IS_NAN (and ACC) as it has them and
 *
 *     OP           max or min: the kernels are tt_reduce_<OP>_<SFX> and tt_reduce_axis_<OP>_<SFX>
 *     ARG_OP       argmax or argmin: tt_reduce_<ARG_OP>_<SFX>
 *     BETTER(x, y) x > y for max, x < y for min
 *
 * NaN: a comparison with NaN is false, so BETTER never picks one. Each loop instead ORs
 * IS_NAN(x) into a flag on the side, and a part that saw a NaN returns it (the first one).
 * Both are branch-free: no mispredictions on random data, and the loops vectorize.
 */

#define FN(name) TT_CAT(TT_CAT(OP, name), SFX)

/* y if it is better than m, else m (a NaN y is never better) */
static inline T FN(pick)(T m, T y) { return BETTER(y, m) ? y : m; }

/* The better of two partial results, NaN if x is one (each part returns its NaN, if any). */
static inline T FN(combine)(T x, T y) { return BETTER(x, y) || x == y || IS_NAN(x) ? x : y; }

/* The OP of x[0..n), n >= 1. A long row (LONG_ROW) is walked as four quarters at once: four
 * independent chains of vector max instructions instead of one, each waiting only for itself
 * (vmaxps: 3 cycles' latency), so the loop keeps up with memory; shorter rows are not worth
 * the four-way set-up. Short rows skip `omp simd`: a vector loop's set-up costs more. */
static inline T FN(row)(const T *x, int64_t n) {
    T m = x[0];
    int nan = 0;
    if (n < SHORT_ROW) {
        for (int64_t i = 0; i < n; i++) {
            m = FN(pick)(m, x[i]);
            nan |= IS_NAN(x[i]);
        }
        return nan ? LOCAL(first_nan)(x, n) : m;
    }
    if (n < LONG_ROW) {
        TT_OMP_TOKENS(omp simd reduction(OP:m) reduction(|:nan))
        for (int64_t i = 0; i < n; i++) {
            m = FN(pick)(m, x[i]);
            nan |= IS_NAN(x[i]);
        }
        return nan ? LOCAL(first_nan)(x, n) : m;
    }
    const int64_t q = n / 4;
    const T *x1 = x + q, *x2 = x + 2 * q, *x3 = x + 3 * q;
    T m1 = x1[0], m2 = x2[0], m3 = x3[0];
    TT_OMP_TOKENS(omp simd reduction(OP:m, m1, m2, m3) reduction(|:nan))
    for (int64_t i = 0; i < q; i++) {
        m = FN(pick)(m, x[i]);
        m1 = FN(pick)(m1, x1[i]);
        m2 = FN(pick)(m2, x2[i]);
        m3 = FN(pick)(m3, x3[i]);
        nan |= IS_NAN(x[i]) | IS_NAN(x1[i]) | IS_NAN(x2[i]) | IS_NAN(x3[i]);
    }
    for (int64_t i = 4 * q; i < n; i++) {
        m = FN(pick)(m, x[i]);
        nan |= IS_NAN(x[i]);
    }
    m = FN(pick)(FN(pick)(FN(pick)(m, m1), m2), m3);
    return nan ? LOCAL(first_nan)(x, n) : m;
}

/* The OP of a long row on all threads: each reduces one contiguous chunk into part[t], and
 * the chunk results are combined in order. */
static T FN(parallel)(const T *x, int64_t n, T *part) {
    int nt = 1;
    TT_OMP("omp parallel")
    {
        const int64_t t = omp_get_thread_num(), k = omp_get_num_threads();
        const int64_t lo = n * t / k, hi = n * (t + 1) / k;
        part[t] = FN(row)(x + lo, hi - lo);
        if (t == 0) nt = (int)k;
    }
    T m = part[0];
    for (int t = 1; t < nt; t++) m = FN(combine)(m, part[t]);
    return m;
}

TT_API int TT_CAT(TT_CAT(tt_reduce, OP), SFX)(const T *a, T *out, int64_t rows, int64_t n) {
    if (one_thread_per_row(rows, n)) {
        PARALLEL_FOR(rows, TT_PAR_MIN / (n + 1) + 1, out[i] = FN(row)(a + i * n, n););
        return 0;
    }
    T *part = malloc((size_t)omp_get_max_threads() * sizeof(T));
    if (!part) return -1;
    for (int64_t r = 0; r < rows; r++) out[r] = FN(parallel)(a + r * n, n, part);
    free(part);
    return 0;
}

/* The first position of the OP: of each row, or, for a long row, of the combined result of
 * the threads' chunks. */
TT_API int TT_CAT(TT_CAT(tt_reduce, ARG_OP), SFX)(const T *a, int64_t *out, int64_t rows, int64_t n) {
    if (one_thread_per_row(rows, n)) {
        PARALLEL_FOR(rows, TT_PAR_MIN / (n + 1) + 1, const T *x = a + i * n;
                     out[i] = LOCAL(where_first)(x, n, FN(row)(x, n)););
        return 0;
    }
    T *part = malloc((size_t)omp_get_max_threads() * sizeof(T));
    if (!part) return -1;
    for (int64_t r = 0; r < rows; r++) {
        const T *x = a + r * n;
        out[r] = LOCAL(find_first)(x, n, FN(parallel)(x, n, part));
    }
    free(part);
    return 0;
}

#ifdef ACC
/* reduce_axis_<OP> (see reduce_steps.h): the running OP of each column, starting from the
 * first row (n >= 1, checked by the binding), and a "saw a NaN" flag per column, so that the
 * loop body is a plain max and an OR, which vectorize (a NaN-propagating select does not). */
static void FN(axis_block)(const T *x, int64_t n, int64_t inner, int64_t w, T *dst) {
    T acc[AXIS_CHUNK];
    uint8_t nan[AXIS_CHUNK];
    for (int64_t j = 0; j < w; j++) {
        acc[j] = x[j];
        nan[j] = 0;
    }
    int64_t r = 0;
    for (; r + 4 <= n; r += 4) {
        const T *r0 = x + r * inner, *r1 = r0 + inner, *r2 = r1 + inner, *r3 = r2 + inner;
        TT_OMP("omp simd")
        for (int64_t j = 0; j < w; j++) {
            acc[j] = FN(pick)(FN(pick)(FN(pick)(FN(pick)(acc[j], r0[j]), r1[j]), r2[j]), r3[j]);
            nan[j] |= IS_NAN(r0[j]) | IS_NAN(r1[j]) | IS_NAN(r2[j]) | IS_NAN(r3[j]);
        }
    }
    for (; r < n; r++) {
        const T *r0 = x + r * inner;
        TT_OMP("omp simd")
        for (int64_t j = 0; j < w; j++) {
            acc[j] = FN(pick)(acc[j], r0[j]);
            nan[j] |= IS_NAN(r0[j]);
        }
    }
#if HAS_NAN
    for (int64_t j = 0; j < w; j++) dst[j] = nan[j] ? (T)NAN : acc[j];
#else
    for (int64_t j = 0; j < w; j++) dst[j] = acc[j]; /* integers have no NaN */
#endif
}

TT_API int TT_CAT(TT_CAT(tt_reduce_axis, OP), SFX)(const T *a, T *out, int64_t outer, int64_t n, int64_t inner) {
    LOCAL(axis_reduce)(a, out, outer, n, inner, FN(axis_block));
    return 0;
}
#endif

#undef FN
