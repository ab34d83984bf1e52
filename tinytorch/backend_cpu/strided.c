/* strided.c -- compact, ewise_setitem, scalar_setitem: the only kernels that see strides.
 *
 * A view is (shape, strides, offset) over a flat buffer, strides in elements, possibly
 * zero (broadcast) or negative (flip). The binding passes shape and strides packed in one
 * array `dims` = shape[0..ndim) followed by strides[0..ndim), after checking that every
 * element the view reaches lies inside the buffer.
 *
 * The walk: all axes but the last are the "outer" index; each value of it is one *row*,
 * a run of shape[-1] elements with a fixed stride. Rows are visited in row-major order
 * with an odometer, and the row itself is a tight loop (or a memcpy).
 */
#include "kernels.h"

typedef struct {
    int ndim;
    int64_t size;  /* number of elements */
    int64_t shape[TT_MAX_DIMS];
    int64_t strides[TT_MAX_DIMS];
} view_t;

/* The same view with fewer axes, visiting the same elements in the same order:
 *  - axes of length 1 are dropped (their stride never matters);
 *  - an axis merges into the one before it when stepping the outer axis once lands where
 *    stepping the inner one shape times would (strides[d-1] == strides[d] * shape[d]).
 * What it buys: a slice of whole rows of a matrix becomes a single contiguous row, so
 * the memcpy fast path fires, and the odometer has fewer axes to carry through. */
static view_t simplify(int ndim, const int64_t *dims) {
    view_t v = {.ndim = 0, .size = 1};
    for (int d = 0; d < ndim; d++) {
        int64_t n = dims[d], s = dims[ndim + d];
        v.size *= n;
        if (n == 1) continue;
        if (v.ndim > 0 && v.strides[v.ndim - 1] == s * n) {
            v.shape[v.ndim - 1] *= n;
            v.strides[v.ndim - 1] = s;
        } else {
            v.shape[v.ndim] = n;
            v.strides[v.ndim] = s;
            v.ndim++;
        }
    }
    if (v.ndim == 0) { /* a single element */
        v.ndim = 1;
        v.shape[0] = 1;
        v.strides[0] = 1;
    }
    return v;
}

/* The buffer position of the first element of each row, walked like an odometer. */
typedef struct {
    int64_t pos;
    int64_t idx[TT_MAX_DIMS];
} cursor_t;

/* Start at row `row`: decode it into a multi-index once (divisions), ... */
static cursor_t cursor_at(const view_t *v, int64_t offset, int64_t row) {
    cursor_t c = {.pos = offset};
    for (int d = v->ndim - 2; d >= 0; d--) {
        c.idx[d] = row % v->shape[d];
        row /= v->shape[d];
        c.pos += c.idx[d] * v->strides[d];
    }
    return c;
}

/* ... then step: bump the last outer axis and carry into earlier ones when it wraps. */
static void cursor_next(cursor_t *c, const view_t *v) {
    for (int d = v->ndim - 2; d >= 0; d--) {
        c->pos += v->strides[d];
        if (++c->idx[d] < v->shape[d]) return;
        c->pos -= v->shape[d] * v->strides[d];
        c->idx[d] = 0;
    }
}

/* Handles rows [r0, r1) of a view; `src`/`dst` are the two buffers of the operation. */
typedef void (*rows_fn)(const view_t *v, int64_t offset, const void *src, void *dst,
                        int64_t r0, int64_t r1);

/* Run `f` over every row: on this thread for small views, otherwise in one contiguous
 * chunk of rows per OpenMP thread (each thread decodes its first row once, then steps).
 * `parallel_ok` is 0 when two rows may write the same element (a broadcast destination). */
static void for_each_row(rows_fn f, const view_t *v, int64_t offset, const void *src,
                         void *dst, int parallel_ok) {
    const int64_t rows = v->size / v->shape[v->ndim - 1];
    if (!parallel_ok || rows < 2 || v->size < TT_PAR_MIN) {
        f(v, offset, src, dst, 0, rows);
        return;
    }
    TT_OMP("omp parallel")
    {
        const int64_t t = omp_get_thread_num(), nt = omp_get_num_threads();
        f(v, offset, src, dst, rows * t / nt, rows * (t + 1) / nt);
    }
}

static int has_zero_stride(const view_t *v) {
    for (int d = 0; d < v->ndim; d++)
        if (v->strides[d] == 0) return 1;
    return 0;
}

#define STRIDED(sfx, T)                                                                    \
    /* out[r*n + j] = a[row r's position + j*s] */                                         \
    static void compact_rows_##sfx(const view_t *v, int64_t offset, const void *src,       \
                                   void *dst, int64_t r0, int64_t r1) {                    \
        const T *a = src;                                                                  \
        T *out = dst;                                                                      \
        const int64_t n = v->shape[v->ndim - 1], s = v->strides[v->ndim - 1];             \
        cursor_t c = cursor_at(v, offset, r0);                                             \
        for (int64_t r = r0; r < r1; r++, cursor_next(&c, v)) {                            \
            const T *from = a + c.pos;                                                     \
            T *to = out + r * n;                                                           \
            if (s == 1) /* a contiguous run: memcpy is the fastest copy there is */        \
                memcpy(to, from, (size_t)n * sizeof(T));                                   \
            else if (s == 0) /* broadcast: one value repeated, no strided loads */         \
                for (int64_t j = 0; j < n; j++) to[j] = from[0];                           \
            else                                                                           \
                for (int64_t j = 0; j < n; j++) to[j] = from[j * s];                       \
        }                                                                                  \
    }                                                                                      \
    /* out[row r's position + j*s] = a[r*n + j] */                                         \
    static void setitem_rows_##sfx(const view_t *v, int64_t offset, const void *src,       \
                                   void *dst, int64_t r0, int64_t r1) {                    \
        const T *a = src;                                                                  \
        T *out = dst;                                                                      \
        const int64_t n = v->shape[v->ndim - 1], s = v->strides[v->ndim - 1];             \
        cursor_t c = cursor_at(v, offset, r0);                                             \
        for (int64_t r = r0; r < r1; r++, cursor_next(&c, v)) {                            \
            const T *from = a + r * n;                                                     \
            T *to = out + c.pos;                                                           \
            if (s == 1)                                                                    \
                memcpy(to, from, (size_t)n * sizeof(T));                                   \
            else                                                                           \
                for (int64_t j = 0; j < n; j++) to[j * s] = from[j];                       \
        }                                                                                  \
    }                                                                                      \
    /* out[row r's position + j*s] = *value */                                             \
    static void fill_rows_##sfx(const view_t *v, int64_t offset, const void *value,        \
                                void *dst, int64_t r0, int64_t r1) {                       \
        const T x = *(const T *)value;                                                     \
        T *out = dst;                                                                      \
        const int64_t n = v->shape[v->ndim - 1], s = v->strides[v->ndim - 1];             \
        cursor_t c = cursor_at(v, offset, r0);                                             \
        for (int64_t r = r0; r < r1; r++, cursor_next(&c, v)) {                            \
            T *to = out + c.pos;                                                           \
            for (int64_t j = 0; j < n; j++) to[j * s] = x;                                 \
        }                                                                                  \
    }                                                                                      \
    /* Each returns 0, or -1 when ndim is more than TT_MAX_DIMS. */                        \
    TT_API int tt_compact_##sfx(const T *a, T *out, int ndim, const int64_t *dims,         \
                                int64_t offset) {                                          \
        if (ndim < 0 || ndim > TT_MAX_DIMS) return -1;                                     \
        view_t v = simplify(ndim, dims);                                                   \
        if (v.size > 0) for_each_row(compact_rows_##sfx, &v, offset, a, out, 1);           \
        return 0;                                                                          \
    }                                                                                      \
    TT_API int tt_ewise_setitem_##sfx(const T *a, T *out, int ndim, const int64_t *dims,   \
                                      int64_t offset) {                                    \
        if (ndim < 0 || ndim > TT_MAX_DIMS) return -1;                                     \
        view_t v = simplify(ndim, dims);                                                   \
        if (v.size > 0)                                                                    \
            for_each_row(setitem_rows_##sfx, &v, offset, a, out, !has_zero_stride(&v));    \
        return 0;                                                                          \
    }                                                                                      \
    TT_API int tt_scalar_setitem_##sfx(T value, T *out, int ndim, const int64_t *dims,     \
                                       int64_t offset) {                                   \
        if (ndim < 0 || ndim > TT_MAX_DIMS) return -1;                                     \
        view_t v = simplify(ndim, dims);                                                   \
        if (v.size > 0)                                                                    \
            for_each_row(fill_rows_##sfx, &v, offset, &value, out, !has_zero_stride(&v));  \
        return 0;                                                                          \
    }

STRIDED(f32, float)
STRIDED(f64, double)
STRIDED(i64, int64_t)
STRIDED(b8, uint8_t)
