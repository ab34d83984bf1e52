/* matmul.c -- batched matrix product out[b] = a[b] @ b[b], a: (m, n), b: (n, p).
 *
 * float32 and float64 get the five steps of matmul_steps.h, from the textbook triple loop
 * (tt_matmul_naive_*, the reference the tests check the others against and the book's
 * "before") to the packed, register-tiled, multi-threaded tt_matmul_* that the backend
 * interface calls. int64 (exact, wrapping, rarely large) keeps the simple parallel i-k-j
 * loop. The Python binding checks every size before calling any of them.
 */
#include <stdlib.h>
#include <tgmath.h>

#include "kernels.h"

#define T float
#define SFX f32
#define VEC vec_f32
#define VL (VEC_BYTES / 4)
#include "matmul_steps.h"
#undef T
#undef SFX
#undef VEC
#undef VL

#define T double
#define SFX f64
#define VEC vec_f64
#define VL (VEC_BYTES / 8)
#include "matmul_steps.h"
#undef T
#undef SFX
#undef VEC
#undef VL

/* ---- int64: the naive loop and the i-k-j loop over rows, parallel over the rows of all
 * batches. Integers wrap modulo 2^64, as numpy's do. */
#define MULADD_I(acc, x, y) IADD(acc, IMUL(x, y))

static void matmul_rows_i64(const int64_t *a, const int64_t *b, int64_t *out, int64_t m, int64_t n, int64_t p,
                            int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; r++) { /* r = batch index * m + i */
        const int64_t *arow = a + r * n, *bmat = b + (r / m) * n * p;
        int64_t *orow = out + r * p;
        for (int64_t j = 0; j < p; j++) orow[j] = 0;
        for (int64_t k = 0; k < n; k++) {
            const int64_t aik = arow[k], *brow = bmat + k * p;
            for (int64_t j = 0; j < p; j++) orow[j] = MULADD_I(orow[j], aik, brow[j]);
        }
    }
}

TT_API int tt_matmul_i64(const int64_t *a, const int64_t *b, int64_t *out, int64_t m, int64_t n,
                                 int64_t p, int64_t batch) {
    const int64_t rows = batch * m;
    if (rows < 2 || rows * n * p < TT_MATMUL_PAR_MIN) {
        matmul_rows_i64(a, b, out, m, n, p, 0, rows);
        return 0;
    }
    TT_OMP("omp parallel")
    {
        const int64_t t = omp_get_thread_num(), nt = omp_get_num_threads();
        matmul_rows_i64(a, b, out, m, n, p, rows * t / nt, rows * (t + 1) / nt);
    }
    return 0;
}

TT_API void tt_matmul_naive_i64(const int64_t *a, const int64_t *b, int64_t *out, int64_t m, int64_t n,
                                int64_t p, int64_t batch) {
    for (int64_t bi = 0; bi < batch; bi++, a += m * n, b += n * p, out += m * p)
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = 0; j < p; j++) {
                int64_t acc = 0;
                for (int64_t k = 0; k < n; k++) acc = MULADD_I(acc, a[i * n + k], b[k * p + j]);
                out[i * p + j] = acc;
            }
}
