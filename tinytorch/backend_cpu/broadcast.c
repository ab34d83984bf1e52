/* broadcast.c -- binary arithmetic of two strided views (broadcasting) into a compact result.
 *
 * tt_ewise_strided_<op>_<dtype>(a, b, out, ndim, dims) computes
 *
 *     out[i_0, ..., i_k] = a[offset_a + sum_d i_d * sa_d] <op> b[offset_b + sum_d i_d * sb_d]
 *
 * with dims = shape[0..ndim), sa[0..ndim), sb[0..ndim) (strides in elements, 0 where an
 * operand is broadcast; a and b already point at their views' first elements). A bias added
 * to every row, a per-row statistic subtracted from a matrix: NDArray's fallback first copies
 * the broadcast operand to the full shape (a second pass and a temporary the size of the
 * result); here each element is read where it lies.
 *
 * Adjacent axes along which both operands step contiguously are merged first, so the inner
 * loop is as long as it can be; it is specialised for the layouts broadcasting produces (both
 * operands contiguous, one of them constant along the row) so that it vectorizes. The outer
 * rows are split across threads for large results. The binding checks every view against its
 * buffer before the call; the kernel returns -1 (touching nothing) for a bad ndim.
 */
#include "kernels.h"

#define ADD(x, y) ((x) + (y))
#define SUB(x, y) ((x) - (y))
#define MUL(x, y) ((x) * (y))
#define DIV(x, y) ((x) / (y))

/* Merge axis d into axis d + 1 where both operands (and the compact output) step over the
 * pair as over one axis; drop axes of length 1. Returns the new number of axes. */
static int merge_axes(int ndim, const int64_t *dims, int64_t *shape, int64_t *sa, int64_t *sb) {
    int n = 0;
    for (int d = 0; d < ndim; d++) {
        const int64_t len = dims[d], a = dims[ndim + d], b = dims[2 * ndim + d];
        if (len == 1) continue;
        if (n > 0 && sa[n - 1] == a * len && sb[n - 1] == b * len) {
            shape[n - 1] *= len;
            sa[n - 1] = a;
            sb[n - 1] = b;
        } else {
            shape[n] = len;
            sa[n] = a;
            sb[n] = b;
            n++;
        }
    }
    if (n == 0) { shape[0] = 1; sa[0] = sb[0] = 0; n = 1; }
    return n;
}

#define STRIDED(op, F, sfx, T)                                                                  \
    static void row_##op##_##sfx(const T *a, const T *b, T *out, int64_t len, int64_t sa,       \
                                 int64_t sb) {                                                  \
        if (sa == 1 && sb == 1) {                                                               \
            TT_OMP("omp simd")                                                                  \
            for (int64_t x = 0; x < len; x++) out[x] = F(a[x], b[x]);                           \
        } else if (sa == 1 && sb == 0) {                                                        \
            const T y = b[0];                                                                   \
            TT_OMP("omp simd")                                                                  \
            for (int64_t x = 0; x < len; x++) out[x] = F(a[x], y);                              \
        } else if (sa == 0 && sb == 1) {                                                        \
            const T y = a[0];                                                                   \
            TT_OMP("omp simd")                                                                  \
            for (int64_t x = 0; x < len; x++) out[x] = F(y, b[x]);                              \
        } else {                                                                                \
            for (int64_t x = 0; x < len; x++) out[x] = F(a[x * sa], b[x * sb]);                 \
        }                                                                                       \
    }                                                                                           \
    TT_API int tt_ewise_strided_##op##_##sfx(const T *a, const T *b, T *out, int ndim,          \
                                             const int64_t *dims) {                             \
        if (ndim < 0 || ndim > TT_MAX_DIMS) return -1;                                          \
        int64_t shape[TT_MAX_DIMS + 1], sa[TT_MAX_DIMS + 1], sb[TT_MAX_DIMS + 1];               \
        const int n = merge_axes(ndim, dims, shape, sa, sb);                                    \
        const int64_t len = shape[n - 1];                                                       \
        int64_t rows = 1;                                                                       \
        for (int d = 0; d < n - 1; d++) rows *= shape[d];                                       \
        if (rows == 0 || len == 0) return 0;                                                    \
        const int parallel = rows > 1 && rows * len >= TT_PAR_MIN;                              \
        TT_OMP("omp parallel for schedule(static) if(parallel)")                                \
        for (int64_t r = 0; r < rows; r++) {                                                    \
            int64_t rest = r, oa = 0, ob = 0;                                                   \
            for (int d = n - 2; d >= 0; d--) {                                                  \
                const int64_t i = rest % shape[d];                                              \
                rest /= shape[d];                                                               \
                oa += i * sa[d];                                                                \
                ob += i * sb[d];                                                                \
            }                                                                                   \
            row_##op##_##sfx(a + oa, b + ob, out + r * len, len, sa[n - 1], sb[n - 1]);         \
        }                                                                                       \
        return 0;                                                                               \
    }

#define FOR_FLOATS(op, F) STRIDED(op, F, f32, float) STRIDED(op, F, f64, double)
FOR_FLOATS(add, ADD)
FOR_FLOATS(sub, SUB)
FOR_FLOATS(mul, MUL)
FOR_FLOATS(div, DIV)
