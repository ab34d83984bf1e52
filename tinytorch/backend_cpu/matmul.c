/* matmul.c -- batched matrix product out[b] = a[b] @ b[b], a: (m, n), b: (n, p), compact.
 *
 * Two versions of the same function:
 *  - tt_matmul_naive_*: the textbook triple loop, one dot product per output element.
 *    The "before" picture, and the reference the tests check the fast one against.
 *  - tt_matmul_*: the loops reordered i-k-j, which is the first thing that makes matmul
 *    fast (see the comment there). Parallel over the rows of all batches.
 */
#include <tgmath.h>

#include "kernels.h"

/* acc + x * y in the element type. Where the CPU has FMA (any x86-64 since 2013, with
 * -march=native) that is one instruction, rounded once: twice the arithmetic per cycle.
 * In ISO C mode (-std=c11) the compiler may not fuse a*b+c by itself, so we ask.
 * Integers wrap, as numpy's do. */
#ifdef __FMA__
#define MULADD_F(acc, x, y) fma(x, y, acc)
#else
#define MULADD_F(acc, x, y) ((acc) + (x) * (y))
#endif
#define MULADD_I(acc, x, y) IADD(acc, IMUL(x, y))

/* The i-k-j order: for each row i of the output and each k, add a[i,k] * (row k of b) to
 * row i of out. The innermost loop then walks b and out contiguously with a[i,k] fixed,
 * which the compiler vectorizes (8 floats per instruction), while the naive i-j-k order
 * walks a column of b with stride p, touching a new cache line for every element.
 * Work: batch * m * n * p multiply-adds; it is split across threads by output row (every
 * thread writes its own rows) once it is big enough to pay for starting them. */
#define MATMUL(sfx, T, MULADD)                                                               \
    static void matmul_rows_##sfx(const T *a, const T *b, T *out, int64_t m, int64_t n,     \
                                  int64_t p, int64_t r0, int64_t r1) {                      \
        for (int64_t r = r0; r < r1; r++) { /* r = batch index * m + i */                   \
            const T *arow = a + r * n;                                                       \
            const T *bmat = b + (r / m) * n * p;                                             \
            T *orow = out + r * p;                                                           \
            for (int64_t j = 0; j < p; j++) orow[j] = 0;                                     \
            for (int64_t k = 0; k < n; k++) {                                                \
                const T aik = arow[k];                                                       \
                const T *brow = bmat + k * p;                                                \
                for (int64_t j = 0; j < p; j++) orow[j] = MULADD(orow[j], aik, brow[j]);     \
            }                                                                                \
        }                                                                                    \
    }                                                                                        \
    TT_API void tt_matmul_##sfx(const T *a, const T *b, T *out, int64_t m, int64_t n,       \
                                int64_t p, int64_t batch) {                                  \
        const int64_t rows = batch * m;                                                      \
        if (rows < 2 || rows * n * p < 4 * TT_PAR_MIN) {                                     \
            matmul_rows_##sfx(a, b, out, m, n, p, 0, rows);                                  \
            return;                                                                          \
        }                                                                                    \
        TT_OMP("omp parallel")                                                               \
        {                                                                                    \
            const int64_t t = omp_get_thread_num(), nt = omp_get_num_threads();              \
            matmul_rows_##sfx(a, b, out, m, n, p, rows * t / nt, rows * (t + 1) / nt);       \
        }                                                                                    \
    }                                                                                        \
    TT_API void tt_matmul_naive_##sfx(const T *a, const T *b, T *out, int64_t m, int64_t n, \
                                      int64_t p, int64_t batch) {                            \
        for (int64_t bi = 0; bi < batch; bi++)                                               \
            for (int64_t i = 0; i < m; i++)                                                  \
                for (int64_t j = 0; j < p; j++) {                                            \
                    T acc = 0;                                                               \
                    for (int64_t k = 0; k < n; k++)                                          \
                        acc = MULADD(acc, a[(bi * m + i) * n + k], b[(bi * n + k) * p + j]); \
                    out[(bi * m + i) * p + j] = acc;                                         \
                }                                                                            \
    }

MATMUL(f32, float, MULADD_F)
MATMUL(f64, double, MULADD_F)
MATMUL(i64, int64_t, MULADD_I)
