/* conv.c -- direct 2-D convolution: forward, input gradient and weight gradient as packed
 * matrix products that pack only small panels of the im2col matrix (conv_steps.h explains
 * the method), float32 and float64.
 *
 *     tt_conv2d_<dtype>(x, w, bias, out, geom)              out = conv2d(x, w) + bias
 *     tt_conv2d_backward_input_<dtype>(g, w, gx, geom)       gx = d(sum(out * g)) / dx
 *     tt_conv2d_backward_weight_<dtype>(g, x, gw, geom)      gw = d(sum(out * g)) / dw
 *
 * geom holds 16 int64: n, c, h, w (input), o (output channels), kh, kw, oh, ow, sh, sw, ph, pw,
 * dh, dw, groups. Every buffer is compact (NCHW; the weight (o, c / groups, kh, kw)); bias may be
 * NULL. The binding (backend_cpu/__init__.py) checks every size against the buffers; the
 * kernels check the geometry again and return -1 without touching memory when it is not
 * consistent, or when scratch memory cannot be allocated, 0 otherwise.
 */
#include <stdlib.h>

#include "kernels.h"

/* Convolutions with fewer multiply-adds than this run on one thread: waking the second thread
 * (~100 us, see kernels.h) pays from about here (the MNIST CNN's first layer, 7M, gains). */
#define TT_CONV_PAR_MIN (1 << 21)

typedef struct {
    int64_t n, c, h, w, o, kh, kw, oh, ow, sh, sw, ph, pw, dh, dw, groups;
} tt_conv_geom;

/* A run of pixels of one output row: image n, row y, columns x0 .. x0 + len - 1, which sit at
 * columns col .. col + len - 1 of a panel. */
typedef struct {
    int64_t n, y, x0, len, col;
} tt_conv_seg;

static int64_t tt_conv_out_size(int64_t size, int64_t k, int64_t s, int64_t p, int64_t d) {
    return (size + 2 * p - d * (k - 1) - 1) / s + 1;
}

/* The geometry from geom[16]; -1 if it is not one a convolution can have. */
static int tt_conv_read_geom(const int64_t *geom, tt_conv_geom *G) {
    G->n = geom[0], G->c = geom[1], G->h = geom[2], G->w = geom[3], G->o = geom[4], G->kh = geom[5];
    G->kw = geom[6], G->oh = geom[7], G->ow = geom[8], G->sh = geom[9], G->sw = geom[10], G->ph = geom[11];
    G->pw = geom[12], G->dh = geom[13], G->dw = geom[14], G->groups = geom[15];
    if (G->n < 1 || G->c < 1 || G->h < 1 || G->w < 1 || G->o < 1 || G->kh < 1 || G->kw < 1 || G->sh < 1 ||
        G->sw < 1 || G->ph < 0 || G->pw < 0 || G->dh < 1 || G->dw < 1 || G->groups < 1 || G->c % G->groups ||
        G->o % G->groups)
        return -1;
    if (G->oh < 1 || G->ow < 1 || G->oh != tt_conv_out_size(G->h, G->kh, G->sh, G->ph, G->dh) ||
        G->ow != tt_conv_out_size(G->w, G->kw, G->sw, G->pw, G->dw))
        return -1;
    return 0;
}

/* Worth more than one thread: enough multiply-adds and more than one image. */
static int tt_conv_parallel(const tt_conv_geom *G) {
    return omp_get_max_threads() > 1 && G->n > 1 &&
           G->n * G->o * G->oh * G->ow * (G->c / G->groups) * G->kh * G->kw >= TT_CONV_PAR_MIN;
}

/* Splits the cnt pixels from global pixel q0 (= n * L + y * ow + x) into runs along output
 * rows; returns how many. */
static int64_t tt_conv_segments(int64_t q0, int64_t cnt, int64_t L, int64_t ow, tt_conv_seg *segs) {
    int64_t nseg = 0;
    for (int64_t col = 0; col < cnt;) {
        const int64_t q = q0 + col, p = q % L, x = p % ow, len = MIN64(ow - x, cnt - col);
        segs[nseg++] = (tt_conv_seg){q / L, p / ow, x, len, col};
        col += len;
    }
    return nseg;
}

/* a / b rounded up, for b >= 1 and any sign of a. */
static int64_t tt_ceil_div(int64_t a, int64_t b) { return a >= 0 ? (a + b - 1) / b : -((-a) / b); }

/* The t in [lo, hi) of 0 <= t < len for which column base + t * s lies in 0 .. w - 1. */
static void tt_conv_valid(int64_t base, int64_t s, int64_t w, int64_t len, int64_t *lo, int64_t *hi) {
    int64_t a = tt_ceil_div(-base, s), b = tt_ceil_div(w - base, s);
    a = a < 0 ? 0 : a > len ? len : a;
    b = b < a ? a : b > len ? len : b;
    *lo = a, *hi = b;
}

#define T float
#define SFX f32
#define VEC vec_f32
#define IVEC ivec_f32
#define MT int32_t
#define VL (VEC_BYTES / 4)
#include "conv_steps.h"
#undef T
#undef SFX
#undef VEC
#undef IVEC
#undef MT
#undef VL

#define T double
#define SFX f64
#define VEC vec_f64
#define IVEC ivec_f64
#define MT int64_t
#define VL (VEC_BYTES / 8)
#include "conv_steps.h"
#undef T
#undef SFX
#undef VEC
#undef IVEC
#undef MT
#undef VL
