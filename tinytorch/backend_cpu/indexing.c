/* indexing.c -- gather, scatter, scatter_add/mul/max/min: integer indexing over flat buffers.
 *
 * `index` is int64 and comes from user data, so these kernels check every entry against
 * the buffer it addresses *before* touching memory, and return the position of the first
 * bad one (the binding raises IndexError naming it), or -1 when all are in range. Nothing
 * is written when an index is bad.
 */
#include "kernels.h"

/* The position of the first entry outside [0, size), or -1. Casting to uint64_t folds
 * both bounds into one compare (a negative index becomes a huge unsigned number), and the
 * OR-reduction has no branch, so the check is one vectorized pass over the indices. */
static int64_t first_bad_index(const int64_t *index, int64_t n, int64_t size) {
    int bad = 0;
    TT_OMP("omp simd reduction(|:bad)")
    for (int64_t i = 0; i < n; i++) bad |= (uint64_t)index[i] >= (uint64_t)size;
    if (bad)
        for (int64_t i = 0; i < n; i++)
            if ((uint64_t)index[i] >= (uint64_t)size) return i;
    return -1;
}

#define BOOL_OR(x, y) ((x) | (y)) /* adding bools is "or" (numpy's np.add.at on bool) */
#define FADD(x, y) ((x) + (y))

/* scatter and scatter_add run on one thread: with repeated indices, threads would race
 * on the same element. */
#define INDEXING(sfx, T, ADD)                                                                \
    /* out[i] = a[index[i]] */                                                               \
    TT_API int64_t tt_gather_##sfx(const T *a, int64_t a_size, const int64_t *index,         \
                                   T *out, int64_t n) {                                      \
        const int64_t bad = first_bad_index(index, n, a_size);                               \
        if (bad >= 0) return bad;                                                            \
        PARALLEL_FOR(n, TT_PAR_MIN, out[i] = a[index[i]];);                                  \
        return -1;                                                                           \
    }                                                                                        \
    /* out[index[i]] = src[i]; with repeated indices the last write wins */                  \
    TT_API int64_t tt_scatter_##sfx(const T *src, const int64_t *index, T *out,              \
                                    int64_t out_size, int64_t n) {                           \
        const int64_t bad = first_bad_index(index, n, out_size);                             \
        if (bad >= 0) return bad;                                                            \
        for (int64_t i = 0; i < n; i++) out[index[i]] = src[i];                              \
        return -1;                                                                           \
    }                                                                                        \
    /* out[index[i]] += src[i]; repeated indices accumulate */                               \
    TT_API int64_t tt_scatter_add_##sfx(const T *src, const int64_t *index, T *out,          \
                                        int64_t out_size, int64_t n) {                       \
        const int64_t bad = first_bad_index(index, n, out_size);                             \
        if (bad >= 0) return bad;                                                            \
        for (int64_t i = 0; i < n; i++) out[index[i]] = ADD(out[index[i]], src[i]);          \
        return -1;                                                                           \
    }

INDEXING(f32, float, FADD)
INDEXING(f64, double, FADD)
INDEXING(i64, int64_t, IADD)
INDEXING(b8, uint8_t, BOOL_OR)

/* The other combining scatters (scatter_reduce's prod, amax, amin): arithmetic types only.
 * max/min keep a NaN on either side, as torch.scatter_reduce does: `o != o` is true only for
 * a NaN already in place, and a NaN source fails every comparison, so it is taken. */
#define FMUL(o, x) ((o) * (x))
#define NAN_MAX(o, x) ((o) != (o) || (o) >= (x) ? (o) : (x))
#define NAN_MIN(o, x) ((o) != (o) || (o) <= (x) ? (o) : (x))

#define SCATTER_COMBINE(name, sfx, T, COMBINE)                                               \
    TT_API int64_t tt_scatter_##name##_##sfx(const T *src, const int64_t *index, T *out,     \
                                             int64_t out_size, int64_t n) {                  \
        const int64_t bad = first_bad_index(index, n, out_size);                             \
        if (bad >= 0) return bad;                                                            \
        for (int64_t i = 0; i < n; i++) out[index[i]] = COMBINE(out[index[i]], src[i]);      \
        return -1;                                                                           \
    }

SCATTER_COMBINE(mul, f32, float, FMUL)
SCATTER_COMBINE(mul, f64, double, FMUL)
SCATTER_COMBINE(mul, i64, int64_t, IMUL)
SCATTER_COMBINE(max, f32, float, NAN_MAX)
SCATTER_COMBINE(max, f64, double, NAN_MAX)
SCATTER_COMBINE(max, i64, int64_t, NAN_MAX)
SCATTER_COMBINE(min, f32, float, NAN_MIN)
SCATTER_COMBINE(min, f64, double, NAN_MIN)
SCATTER_COMBINE(min, i64, int64_t, NAN_MIN)
