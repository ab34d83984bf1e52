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

/* Transposed views: the last axis is strided and the one before it steps through memory
 * more closely (x.T of a matrix: strides (1, n)). Copying row by row then reads one
 * element per cache line and the next row needs the same lines again, long evicted.
 * Copying TILE x TILE tiles instead uses each line loaded for TILE output rows while it
 * is still in cache. */
#define TILE 32

static int64_t abs64(int64_t x) { return x < 0 ? -x : x; }

static int is_transposed(const view_t *v) {
    if (v->ndim < 2) return 0;
    const int64_t sr = abs64(v->strides[v->ndim - 2]), sc = abs64(v->strides[v->ndim - 1]);
    return sc > 1 && sr > 0 && sr < sc;
}

typedef struct {
    int64_t rows, cols, row_stride, col_stride, row_tiles;
} tiling_t;

/* The last two axes of v as tiled 2-D planes; *planes becomes the view whose cursor walks
 * the plane origins (the other axes, plus a dummy last axis). */
static tiling_t tiling(const view_t *v, view_t *planes) {
    const int d = v->ndim;
    tiling_t g = {v->shape[d - 2], v->shape[d - 1], v->strides[d - 2], v->strides[d - 1], 0};
    g.row_tiles = (g.rows + TILE - 1) / TILE;
    *planes = *v;
    planes->ndim = d - 1; /* cursor_at walks axes [0, ndim - 1) of it, i.e. [0, d - 2) of v */
    return g;
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
    /* Tile t of a transposed copy: tile row t % tiles_per_plane of plane t / tiles_per_plane. */ \
    static void compact_tile_row_##sfx(const view_t *planes, const tiling_t *g, int64_t offset, \
                                       const T *a, T *out, int64_t t) {                    \
        const int64_t plane = t / g->row_tiles, r0 = t % g->row_tiles * TILE;               \
        const int64_t r1 = MIN64(r0 + TILE, g->rows);                                      \
        const T *from = a + cursor_at(planes, offset, plane).pos;                          \
        T *to = out + plane * g->rows * g->cols;                                           \
        for (int64_t c0 = 0; c0 < g->cols; c0 += TILE) {                                    \
            const int64_t c1 = MIN64(c0 + TILE, g->cols);                                  \
            for (int64_t r = r0; r < r1; r++)                                              \
                for (int64_t c = c0; c < c1; c++)                                          \
                    to[r * g->cols + c] = from[r * g->row_stride + c * g->col_stride];     \
        }                                                                                  \
    }                                                                                      \
    static void compact_tiled_##sfx(const view_t *v, int64_t offset, const T *a, T *out) { \
        view_t planes;                                                                     \
        const tiling_t g = tiling(v, &planes);                                             \
        const int64_t tasks = v->size / (g.rows * g.cols) * g.row_tiles;                   \
        if (v->size < TT_PAR_MIN) {                                                        \
            for (int64_t t = 0; t < tasks; t++)                                            \
                compact_tile_row_##sfx(&planes, &g, offset, a, out, t);                    \
            return;                                                                        \
        }                                                                                  \
        TT_OMP("omp parallel for schedule(static)")                                        \
        for (int64_t t = 0; t < tasks; t++)                                                \
            compact_tile_row_##sfx(&planes, &g, offset, a, out, t);                        \
    }                                                                                      \
    /* Each returns 0, or -1 when ndim is more than TT_MAX_DIMS. */                        \
    TT_API int tt_compact_##sfx(const T *a, T *out, int ndim, const int64_t *dims,         \
                                int64_t offset) {                                          \
        if (ndim < 0 || ndim > TT_MAX_DIMS) return -1;                                     \
        view_t v = simplify(ndim, dims);                                                   \
        if (v.size == 0) return 0;                                                         \
        if (is_transposed(&v))                                                             \
            compact_tiled_##sfx(&v, offset, a, out);                                       \
        else                                                                               \
            for_each_row(compact_rows_##sfx, &v, offset, a, out, 1);                       \
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
