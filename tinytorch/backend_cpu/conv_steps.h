/* conv_steps.h -- direct 2-D convolution (forward, input gradient, weight gradient) for one
 * floating-point element type. conv.c includes this file once per type, with T, SFX, VEC and VL
 * defined as for matmul_steps.h.
 *
 * A convolution is a matrix product with the im2col matrix, cols[k, q] = the input element that
 * kernel position k = (c, i, j) meets at output pixel q = (n, y, x):
 *
 *     cols[k, q] = x[n, g*cg + c, y*sh + i*dh - ph, x*sw + j*dw - pw]   (0 in the padding)
 *
 * Here that matrix is never built. Each product walks the output pixels of all images in panels
 * of NR pixels (a panel may run from one image into the next) and packs only the K x NR slice of
 * cols that the panel needs, straight from the input, into a buffer that stays in L1/L2:
 *
 *   forward         out[n, o, q] = bias[o] + sum_k w[o, k] * cols[k, q]
 *                   A = w (packed once, MR-row strips), B = the cols panel; the micro-kernel
 *                   keeps an MR x NR tile in registers, and the bias is added as it is stored.
 *   input gradient  gcols[k, q] = sum_o w[o, k] * g[n, o, q], then each gcols element is added
 *                   where cols read it (col2im), tile by tile: A = w^T, B = a panel of g.
 *   weight gradient gw[o, k] = sum_q g[o, q] * cols[k, q]: rows of g times rows of cols, a
 *                   product of two "row-major along the pixels" operands, done as 4 x 3 tiles of
 *                   dot products over a chunk of pixels (vector accumulators, one horizontal
 *                   sum per tile and chunk).
 *
 * Threads take whole images (a contiguous range), so the input gradient's col2im additions of
 * two threads never meet, and the weight gradient sums one partial gw per thread at the end.
 * Every function trusts the sizes: the Python binding checks them first.
 */

#define CLOCAL(name) TT_CAT(name, SFX)
#define CMR 4
#define CNV 3
#define CNR (CNV * VL)

static inline VEC CLOCAL(loadv)(const T *p) {
    VEC v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* out[r][0:CNR] = sum_k ap[k][r] * b[off[k] + 0:CNR] for the CMR rows r: 12 vector accumulators,
 * per k CMR broadcasts, CNV loads and CMR * CNV FMAs. Row k of B starts at b + off[k]: in a
 * packed panel (off[k] = k * CNR, see panel_alloc) or in a padded image (see row_offsets). */
__attribute__((noinline)) static void CLOCAL(conv_tile)(int64_t kc, const T *restrict ap, const T *restrict b,
                                                        const int64_t *restrict off, T *restrict tile) {
    VEC acc[CMR][CNV];
    for (int r = 0; r < CMR; r++)
        for (int v = 0; v < CNV; v++) acc[r][v] = (VEC){0};
    for (int64_t k = 0; k < kc; k++, ap += CMR) {
        const T *bp = b + off[k];
        const VEC b0 = CLOCAL(loadv)(bp), b1 = CLOCAL(loadv)(bp + VL), b2 = CLOCAL(loadv)(bp + 2 * VL);
        for (int r = 0; r < CMR; r++) {
            const T ar = ap[r];
            acc[r][0] += ar * b0;
            acc[r][1] += ar * b1;
            acc[r][2] += ar * b2;
        }
    }
    for (int r = 0; r < CMR; r++)
        for (int v = 0; v < CNV; v++) memcpy(tile + r * CNR + v * VL, &acc[r][v], sizeof acc[r][v]);
}

/* A panel of k rows of CNR elements, 64-byte aligned, followed in the same allocation by its
 * row offsets for conv_tile, (*off)[i] = i * CNR; NULL when out of memory. */
static T *CLOCAL(panel_alloc)(int64_t k, int64_t **off) {
    const size_t panel = (size_t)((k * CNR * sizeof(T) + 63) / 64 * 64);
    T *bp = aligned_alloc(64, (panel + (size_t)k * sizeof **off + 63) / 64 * 64);
    if (!bp) return NULL;
    *off = (int64_t *)((char *)bp + panel);
    for (int64_t i = 0; i < k; i++) (*off)[i] = i * CNR;
    return bp;
}

/* Packs the cols rows k of one group for the pixels of segs into dst[k * ld + col], zero in
 * the padding and from column cnt up to ld. x points at the group's first channel of image 0. */
static void CLOCAL(pack_cols)(const T *x, const tt_conv_geom *G, const tt_conv_seg *segs, int64_t nseg,
                              int64_t cnt, int64_t ld, T *restrict dst) {
    const int64_t cg = G->c / G->groups, plane = G->h * G->w;
    for (int64_t c = 0; c < cg; c++)
        for (int64_t i = 0; i < G->kh; i++)
            for (int64_t j = 0; j < G->kw; j++, dst += ld) {
                for (int64_t s = 0; s < nseg; s++) {
                    const tt_conv_seg *sg = &segs[s];
                    T *d = dst + sg->col;
                    const int64_t r = sg->y * G->sh + i * G->dh - G->ph;
                    if (r < 0 || r >= G->h) {
                        for (int64_t t = 0; t < sg->len; t++) d[t] = 0;
                        continue;
                    }
                    const T *row = x + (sg->n * G->c + c) * plane + r * G->w;
                    const int64_t base = sg->x0 * G->sw + j * G->dw - G->pw; /* column of t = 0 */
                    int64_t lo, hi;
                    tt_conv_valid(base, G->sw, G->w, sg->len, &lo, &hi);
                    for (int64_t t = 0; t < lo; t++) d[t] = 0;
                    if (G->sw == 1)
                        memcpy(d + lo, row + base + lo, (size_t)(hi - lo) * sizeof(T));
                    else
                        for (int64_t t = lo; t < hi; t++) d[t] = row[base + t * G->sw];
                    for (int64_t t = hi; t < sg->len; t++) d[t] = 0;
                }
                for (int64_t t = cnt; t < ld; t++) dst[t] = 0;
            }
}

/* ---- forward ------------------------------------------------------------------------------ */

/* ap for every group: strip s of group g holds w[g*og + s*CMR + r, k] at [k][r] (0 past og). */
static void CLOCAL(pack_weight_rows)(const T *w, int64_t groups, int64_t og, int64_t kk, int64_t strips,
                                     T *restrict ap) {
    for (int64_t g = 0; g < groups; g++)
        for (int64_t s = 0; s < strips; s++, ap += kk * CMR)
            for (int64_t k = 0; k < kk; k++)
                for (int r = 0; r < CMR; r++) {
                    const int64_t o = s * CMR + r;
                    ap[k * CMR + r] = o < og ? w[(g * og + o) * kk + k] : 0;
                }
}

static int CLOCAL(forward_images)(const T *x, const T *ap, const T *bias, T *out, const tt_conv_geom *G,
                                  int64_t n0, int64_t n1) {
    const int64_t cg = G->c / G->groups, og = G->o / G->groups, kk = cg * G->kh * G->kw;
    const int64_t L = G->oh * G->ow, strips = (og + CMR - 1) / CMR;
    int64_t *off;
    T *bp = CLOCAL(panel_alloc)(kk, &off);
    tt_conv_seg *segs = malloc((size_t)(CNR + 1) * sizeof *segs);
    if (!bp || !segs) {
        free(bp);
        free(segs);
        return -1;
    }
    T tile[CMR * CNR] __attribute__((aligned(64)));
    for (int64_t q0 = n0 * L; q0 < n1 * L; q0 += CNR) {
        const int64_t cnt = MIN64(CNR, n1 * L - q0);
        const int64_t nseg = tt_conv_segments(q0, cnt, L, G->ow, segs);
        for (int64_t g = 0; g < G->groups; g++) {
            CLOCAL(pack_cols)(x + g * cg * G->h * G->w, G, segs, nseg, cnt, CNR, bp);
            for (int64_t s = 0; s < strips; s++) {
                CLOCAL(conv_tile)(kk, ap + (g * strips + s) * kk * CMR, bp, off, tile);
                for (int64_t r = 0; r < CMR && s * CMR + r < og; r++) {
                    const int64_t oc = g * og + s * CMR + r;
                    const T b = bias ? bias[oc] : 0;
                    for (int64_t e = 0; e < nseg; e++) {
                        const tt_conv_seg *sg = &segs[e];
                        T *dst = out + (sg->n * G->o + oc) * L + sg->y * G->ow + sg->x0;
                        const T *src = tile + r * CNR + sg->col;
                        for (int64_t t = 0; t < sg->len; t++) dst[t] = src[t] + b;
                    }
                }
            }
        }
    }
    free(bp);
    free(segs);
    return 0;
}

/* out (n, o, oh, ow) = conv2d(x (n, c, h, w), w (o, c/groups, kh, kw)) + bias (o,) or no bias. */
static int CLOCAL(conv2d_packed)(const T *x, const T *w, const T *bias, T *out, const int64_t *geom) {
    tt_conv_geom G;
    if (tt_conv_read_geom(geom, &G)) return -1;
    const int64_t cg = G.c / G.groups, og = G.o / G.groups, kk = cg * G.kh * G.kw;
    const int64_t strips = (og + CMR - 1) / CMR;
    T *ap = aligned_alloc(64, (size_t)((G.groups * strips * kk * CMR * sizeof(T) + 63) / 64 * 64));
    if (!ap) return -1;
    CLOCAL(pack_weight_rows)(w, G.groups, og, kk, strips, ap);
    int failed = 0;
    if (!tt_conv_parallel(&G)) {
        failed = CLOCAL(forward_images)(x, ap, bias, out, &G, 0, G.n);
    } else {
        TT_OMP("omp parallel reduction(|:failed)")
        {
            const int64_t t = omp_get_thread_num(), nt = omp_get_num_threads();
            failed = CLOCAL(forward_images)(x, ap, bias, out, &G, G.n * t / nt, G.n * (t + 1) / nt);
        }
    }
    free(ap);
    return failed ? -1 : 0;
}

/* ---- input gradient ----------------------------------------------------------------------- */

/* ap for every group: strip s of group g holds w[g*og + o, s*CMR + r] at [o][r] (0 past kk). */
static void CLOCAL(pack_weight_cols)(const T *w, int64_t groups, int64_t og, int64_t kk, int64_t strips,
                                     T *restrict ap) {
    for (int64_t g = 0; g < groups; g++)
        for (int64_t s = 0; s < strips; s++, ap += og * CMR)
            for (int64_t o = 0; o < og; o++)
                for (int r = 0; r < CMR; r++) {
                    const int64_t k = s * CMR + r;
                    ap[o * CMR + r] = k < kk ? w[(g * og + o) * kk + k] : 0;
                }
}

static int CLOCAL(input_grad_images)(const T *gout, const T *ap, T *gx, const tt_conv_geom *G, int64_t n0,
                                     int64_t n1) {
    const int64_t cg = G->c / G->groups, og = G->o / G->groups, kk = cg * G->kh * G->kw;
    const int64_t L = G->oh * G->ow, strips = (kk + CMR - 1) / CMR, plane = G->h * G->w;
    memset(gx + n0 * G->c * plane, 0, (size_t)((n1 - n0) * G->c * plane) * sizeof(T));
    int64_t *off;
    T *bp = CLOCAL(panel_alloc)(og, &off);
    tt_conv_seg *segs = malloc((size_t)(CNR + 1) * sizeof *segs);
    if (!bp || !segs) {
        free(bp);
        free(segs);
        return -1;
    }
    T tile[CMR * CNR] __attribute__((aligned(64)));
    const int64_t kernel = G->kh * G->kw;
    for (int64_t q0 = n0 * L; q0 < n1 * L; q0 += CNR) {
        const int64_t cnt = MIN64(CNR, n1 * L - q0);
        const int64_t nseg = tt_conv_segments(q0, cnt, L, G->ow, segs);
        for (int64_t g = 0; g < G->groups; g++) {
            for (int64_t o = 0; o < og; o++) { /* the panel of g: og rows of cnt pixels */
                T *d = bp + o * CNR;
                for (int64_t e = 0; e < nseg; e++) {
                    const tt_conv_seg *sg = &segs[e];
                    memcpy(d + sg->col, gout + (sg->n * G->o + g * og + o) * L + sg->y * G->ow + sg->x0,
                           (size_t)sg->len * sizeof(T));
                }
                for (int64_t t = cnt; t < CNR; t++) d[t] = 0;
            }
            for (int64_t s = 0; s < strips; s++) {
                CLOCAL(conv_tile)(og, ap + (g * strips + s) * og * CMR, bp, off, tile);
                for (int64_t r = 0; r < CMR && s * CMR + r < kk; r++) { /* col2im of the tile's rows */
                    const int64_t k = s * CMR + r, c = k / kernel, i = (k % kernel) / G->kw, j = k % G->kw;
                    for (int64_t e = 0; e < nseg; e++) {
                        const tt_conv_seg *sg = &segs[e];
                        const int64_t rr = sg->y * G->sh + i * G->dh - G->ph;
                        if (rr < 0 || rr >= G->h) continue;
                        T *row = gx + (sg->n * G->c + g * cg + c) * plane + rr * G->w;
                        const int64_t base = sg->x0 * G->sw + j * G->dw - G->pw;
                        int64_t lo, hi;
                        tt_conv_valid(base, G->sw, G->w, sg->len, &lo, &hi);
                        const T *src = tile + r * CNR + sg->col;
                        if (G->sw == 1) {
                            for (int64_t t = lo; t < hi; t++) row[base + t] += src[t];
                        } else {
                            for (int64_t t = lo; t < hi; t++) row[base + t * G->sw] += src[t];
                        }
                    }
                }
            }
        }
    }
    free(bp);
    free(segs);
    return 0;
}

/* gx (n, c, h, w) = the gradient of conv2d's input for the output gradient gout (n, o, oh, ow). */
static int CLOCAL(backward_input_packed)(const T *gout, const T *w, T *gx, const int64_t *geom) {
    tt_conv_geom G;
    if (tt_conv_read_geom(geom, &G)) return -1;
    const int64_t cg = G.c / G.groups, og = G.o / G.groups, kk = cg * G.kh * G.kw;
    const int64_t strips = (kk + CMR - 1) / CMR;
    T *ap = aligned_alloc(64, (size_t)((G.groups * strips * og * CMR * sizeof(T) + 63) / 64 * 64));
    if (!ap) return -1;
    CLOCAL(pack_weight_cols)(w, G.groups, og, kk, strips, ap);
    int failed = 0;
    if (!tt_conv_parallel(&G)) {
        failed = CLOCAL(input_grad_images)(gout, ap, gx, &G, 0, G.n);
    } else {
        TT_OMP("omp parallel reduction(|:failed)")
        {
            const int64_t t = omp_get_thread_num(), nt = omp_get_num_threads();
            failed = CLOCAL(input_grad_images)(gout, ap, gx, &G, G.n * t / nt, G.n * (t + 1) / nt);
        }
    }
    free(ap);
    return failed ? -1 : 0;
}

/* ---- weight gradient ---------------------------------------------------------------------- */

static inline T CLOCAL(hsum)(VEC v) {
    T s = 0;
    for (int i = 0; i < VL; i++) s += v[i];
    return s;
}

/* gw[o, k] += sum_t gp[o][t] * cp[k][t] over nv vectors of t, for o < no and k < nk (the
 * rows start at gp and cp, ld apart); 4 x 3 tiles of vector accumulators, smaller at the edges. */
static void CLOCAL(dot_tiles)(const T *gp, int64_t no, const T *cp, int64_t nk, int64_t ld, int64_t nv, T *gw,
                              int64_t ldw) {
    int64_t o = 0;
    for (; o + 4 <= no; o += 4) {
        int64_t k = 0;
        for (; k + 3 <= nk; k += 3) {
            VEC acc[4][3];
            for (int a = 0; a < 4; a++)
                for (int b = 0; b < 3; b++) acc[a][b] = (VEC){0};
            for (int64_t v = 0; v < nv; v++) {
                VEC gv[4], cv[3];
                for (int a = 0; a < 4; a++) memcpy(&gv[a], gp + (o + a) * ld + v * VL, sizeof gv[a]);
                for (int b = 0; b < 3; b++) memcpy(&cv[b], cp + (k + b) * ld + v * VL, sizeof cv[b]);
                for (int a = 0; a < 4; a++)
                    for (int b = 0; b < 3; b++) acc[a][b] += gv[a] * cv[b];
            }
            for (int a = 0; a < 4; a++)
                for (int b = 0; b < 3; b++) gw[(o + a) * ldw + k + b] += CLOCAL(hsum)(acc[a][b]);
        }
        for (; k < nk; k++)
            for (int a = 0; a < 4; a++) {
                VEC acc = {0}, gv, cv;
                for (int64_t v = 0; v < nv; v++) {
                    memcpy(&gv, gp + (o + a) * ld + v * VL, sizeof gv);
                    memcpy(&cv, cp + k * ld + v * VL, sizeof cv);
                    acc += gv * cv;
                }
                gw[(o + a) * ldw + k] += CLOCAL(hsum)(acc);
            }
    }
    for (; o < no; o++)
        for (int64_t k = 0; k < nk; k++) {
            VEC acc = {0}, gv, cv;
            for (int64_t v = 0; v < nv; v++) {
                memcpy(&gv, gp + o * ld + v * VL, sizeof gv);
                memcpy(&cv, cp + k * ld + v * VL, sizeof cv);
                acc += gv * cv;
            }
            gw[o * ldw + k] += CLOCAL(hsum)(acc);
        }
}

/* gw (o, kk) = the sum over images n0..n1 of the weight gradient, written (not added). */
static int CLOCAL(weight_grad_images)(const T *gout, const T *x, T *gw, const tt_conv_geom *G, int64_t n0,
                                      int64_t n1) {
    const int64_t cg = G->c / G->groups, og = G->o / G->groups, kk = cg * G->kh * G->kw;
    const int64_t L = G->oh * G->ow;
    memset(gw, 0, (size_t)(G->o * kk) * sizeof(T));
    /* a chunk of pixels of one image: its cols (kk rows) and g (og rows) stay in L2 */
    int64_t pc = (int64_t)(32768 / (kk + og)) / VL * VL;
    pc = pc < VL ? VL : pc;
    pc = MIN64(pc, (L + VL - 1) / VL * VL);
    T *cp = aligned_alloc(64, (size_t)(((kk + og) * pc * sizeof(T) + 63) / 64 * 64));
    tt_conv_seg *segs = malloc((size_t)(pc + 1) * sizeof *segs);
    if (!cp || !segs) {
        free(cp);
        free(segs);
        return -1;
    }
    T *gp = cp + kk * pc;
    for (int64_t n = n0; n < n1; n++)
        for (int64_t p0 = 0; p0 < L; p0 += pc) {
            const int64_t cnt = MIN64(pc, L - p0), nv = (cnt + VL - 1) / VL;
            const int64_t nseg = tt_conv_segments(n * L + p0, cnt, L, G->ow, segs);
            for (int64_t g = 0; g < G->groups; g++) {
                CLOCAL(pack_cols)(x + g * cg * G->h * G->w, G, segs, nseg, cnt, pc, cp);
                for (int64_t o = 0; o < og; o++) {
                    T *d = gp + o * pc;
                    memcpy(d, gout + (n * G->o + g * og + o) * L + p0, (size_t)cnt * sizeof(T));
                    for (int64_t t = cnt; t < nv * VL; t++) d[t] = 0;
                }
                CLOCAL(dot_tiles)(gp, og, cp, kk, pc, nv, gw + g * og * kk, kk);
            }
        }
    free(cp);
    free(segs);
    return 0;
}

/* gw (o, c/groups, kh, kw) = the gradient of conv2d's weight for the output gradient gout and
 * the input x. */
static int CLOCAL(backward_weight_packed)(const T *gout, const T *x, T *gw, const int64_t *geom) {
    tt_conv_geom G;
    if (tt_conv_read_geom(geom, &G)) return -1;
    const int64_t wsize = G.o * (G.c / G.groups) * G.kh * G.kw;
    if (!tt_conv_parallel(&G)) return CLOCAL(weight_grad_images)(gout, x, gw, &G, 0, G.n);
    const int64_t nt = omp_get_max_threads();
    T *partial = malloc((size_t)(nt * wsize) * sizeof(T)); /* one gw per thread */
    if (!partial) return -1;
    int failed = 0, used = 0;
    TT_OMP("omp parallel reduction(|:failed)")
    {
        const int64_t t = omp_get_thread_num(), n = omp_get_num_threads();
        if (t == 0) used = (int)n;
        failed = CLOCAL(weight_grad_images)(gout, x, partial + t * wsize, &G, G.n * t / n, G.n * (t + 1) / n);
    }
    if (!failed) {
        memcpy(gw, partial, (size_t)wsize * sizeof(T));
        for (int t = 1; t < used; t++)
            for (int64_t e = 0; e < wsize; e++) gw[e] += partial[t * wsize + e];
    }
    free(partial);
    return failed ? -1 : 0;
}


/* ---- stride 1: the padded input read in place ---------------------------------------------
 * With stride 1, cols row k = (c, i, j) is the padded input plane of channel c shifted by
 * (i * dh, j * dw). Computed on a "wide" grid of oh x Wp pixels (Wp = w + 2 pw, the padded
 * width; the last Wp - ow columns of each row are not outputs), the pixels q = y * Wp + x of
 * row k are the contiguous elements off[k] + q of the padded image, off[k] = (c * Hp + i * dh)
 * * Wp + j * dw. So nothing is packed: each image is padded once (a copy of the input, no
 * larger) and the micro-kernel loads its NR pixels of row k straight from it. The extra
 * columns cost (Wp - ow) / ow more multiply-adds (1/7 for 14-wide images with padding 1). */

/* Pads image n (all channels) into xp (c, Hp, Wp), then slack zeros. */
static void CLOCAL(pad_image)(const T *x, const tt_conv_geom *G, int64_t n, int64_t slack, T *restrict xp) {
    const int64_t hp = G->h + 2 * G->ph, wp = G->w + 2 * G->pw;
    const T *src = x + n * G->c * G->h * G->w;
    for (int64_t c = 0; c < G->c; c++) {
        T *dst = xp + c * hp * wp;
        memset(dst, 0, (size_t)(G->ph * wp) * sizeof(T));
        for (int64_t r = 0; r < G->h; r++, src += G->w) {
            T *row = dst + (G->ph + r) * wp;
            for (int64_t t = 0; t < G->pw; t++) row[t] = row[G->pw + G->w + t] = 0;
            memcpy(row + G->pw, src, (size_t)G->w * sizeof(T));
        }
        memset(dst + (G->ph + G->h) * wp, 0, (size_t)(G->ph * wp) * sizeof(T));
    }
    memset(xp + G->c * hp * wp, 0, (size_t)slack * sizeof(T));
}

/* off[k] for the kk rows of one group (see above). */
static void CLOCAL(row_offsets)(const tt_conv_geom *G, int64_t *off) {
    const int64_t hp = G->h + 2 * G->ph, wp = G->w + 2 * G->pw;
    int64_t k = 0;
    for (int64_t c = 0; c < G->c / G->groups; c++)
        for (int64_t i = 0; i < G->kh; i++)
            for (int64_t j = 0; j < G->kw; j++) off[k++] = (c * hp + i * G->dh) * wp + j * G->dw;
}

/* The output runs of wide pixels q0 .. q0 + cnt - 1 (row y, columns x < ow) as segments of
 * image n; returns how many. */
static int64_t CLOCAL(wide_segments)(int64_t n, int64_t q0, int64_t cnt, int64_t wp, int64_t ow,
                                     tt_conv_seg *segs) {
    int64_t nseg = 0;
    for (int64_t q = q0; q < q0 + cnt;) {
        const int64_t y = q / wp, x = q - y * wp;
        if (x >= ow) {
            q = (y + 1) * wp;
            continue;
        }
        const int64_t len = MIN64(ow - x, q0 + cnt - q);
        segs[nseg++] = (tt_conv_seg){n, y, x, len, q - q0};
        q += len;
    }
    return nseg;
}

static int64_t CLOCAL(wide_slack)(const tt_conv_geom *G) { return (G->kw - 1) * G->dw + CNR + VL; }

static int CLOCAL(forward_wide_images)(const T *x, const T *ap, const T *bias, T *out, const tt_conv_geom *G,
                                       int64_t n0, int64_t n1) {
    const int64_t cg = G->c / G->groups, og = G->o / G->groups, kk = cg * G->kh * G->kw;
    const int64_t hp = G->h + 2 * G->ph, wp = G->w + 2 * G->pw, L = G->oh * G->ow, Q = G->oh * wp;
    const int64_t strips = (og + CMR - 1) / CMR, slack = CLOCAL(wide_slack)(G);
    T *xp = malloc((size_t)(G->c * hp * wp + slack) * sizeof(T));
    int64_t *off = malloc((size_t)kk * sizeof *off);
    tt_conv_seg *segs = malloc((size_t)(CNR + 1) * sizeof *segs);
    if (!xp || !off || !segs) {
        free(xp);
        free(off);
        free(segs);
        return -1;
    }
    CLOCAL(row_offsets)(G, off);
    T tile[CMR * CNR] __attribute__((aligned(64)));
    for (int64_t n = n0; n < n1; n++) {
        CLOCAL(pad_image)(x, G, n, slack, xp);
        for (int64_t q0 = 0; q0 < Q; q0 += CNR) {
            const int64_t nseg = CLOCAL(wide_segments)(n, q0, MIN64(CNR, Q - q0), wp, G->ow, segs);
            for (int64_t g = 0; g < G->groups; g++)
                for (int64_t s = 0; s < strips; s++) {
                    CLOCAL(conv_tile)(kk, ap + (g * strips + s) * kk * CMR, xp + g * cg * hp * wp + q0, off, tile);
                    for (int64_t r = 0; r < CMR && s * CMR + r < og; r++) {
                        const int64_t oc = g * og + s * CMR + r;
                        const T b = bias ? bias[oc] : 0;
                        for (int64_t e = 0; e < nseg; e++) {
                            const tt_conv_seg *sg = &segs[e];
                            T *dst = out + (n * G->o + oc) * L + sg->y * G->ow + sg->x0;
                            const T *src = tile + r * CNR + sg->col;
                            for (int64_t t = 0; t < sg->len; t++) dst[t] = src[t] + b;
                        }
                    }
                }
        }
    }
    free(xp);
    free(off);
    free(segs);
    return 0;
}

/* Stride-1 forward with the weight w (o, c / groups, kh, kw) or, when flip, with the weight
 * w'[g*cg + c, o, i, j] = w[g*og + o, c, kh-1-i, kw-1-j] of shape (c_out = G->o, G->c / groups)
 * read from w laid out as (G->c, G->o / groups, kh, kw): the input gradient as a convolution. */
static int CLOCAL(conv2d_wide)(const T *x, const T *w, const T *bias, T *out, const tt_conv_geom *G, int flip) {
    const int64_t cg = G->c / G->groups, og = G->o / G->groups, kk = cg * G->kh * G->kw;
    const int64_t strips = (og + CMR - 1) / CMR, ksz = G->kh * G->kw;
    T *ap = aligned_alloc(64, (size_t)((G->groups * strips * kk * CMR * sizeof(T) + 63) / 64 * 64));
    if (!ap) return -1;
    T *dst = ap;
    for (int64_t g = 0; g < G->groups; g++) /* strip s: w'[g*og + s*CMR + r, k] at [k][r] */
        for (int64_t s = 0; s < strips; s++, dst += kk * CMR)
            for (int64_t k = 0; k < kk; k++)
                for (int r = 0; r < CMR; r++) {
                    const int64_t o = s * CMR + r, c = k / ksz, ij = k % ksz;
                    T v = 0;
                    if (o < og)
                        v = flip ? w[((g * cg + c) * og + o) * ksz + (ksz - 1 - ij)] : w[(g * og + o) * kk + k];
                    dst[k * CMR + r] = v;
                }
    int failed = 0;
    if (!tt_conv_parallel(G)) {
        failed = CLOCAL(forward_wide_images)(x, ap, bias, out, G, 0, G->n);
    } else {
        TT_OMP("omp parallel reduction(|:failed)")
        {
            const int64_t t = omp_get_thread_num(), nt = omp_get_num_threads();
            failed = CLOCAL(forward_wide_images)(x, ap, bias, out, G, G->n * t / nt, G->n * (t + 1) / nt);
        }
    }
    free(ap);
    return failed ? -1 : 0;
}

/* The weight gradient's micro-kernel: tile[r][0:WNR] = sum over the pixels (y, x) of
 * x row k0 + r (at xq + off[k0 + r] + y * wp + x) times the gradient's row gt[y * ow + x]
 * (WNR output channels, transposed): WMR broadcasts and 2 loads per pixel for 12 FMAs, and only
 * real output pixels are visited. */
#define WMR 6
#define WNR (2 * VL)
__attribute__((noinline)) static void CLOCAL(weight_tile)(const T *const *xr, const T *restrict gt, int64_t ldt, int64_t oh, int64_t ow,
                                int64_t wp, T *restrict tile) {
    VEC acc[WMR][2];
    for (int r = 0; r < WMR; r++) acc[r][0] = acc[r][1] = (VEC){0};
    for (int64_t y = 0; y < oh; y++) {
        const int64_t row = y * wp;
        for (int64_t x = 0; x < ow; x++, gt += ldt) {
            const VEC g0 = CLOCAL(loadv)(gt), g1 = CLOCAL(loadv)(gt + VL);
            for (int r = 0; r < WMR; r++) {
                const T xv = xr[r][row + x];
                acc[r][0] += xv * g0;
                acc[r][1] += xv * g1;
            }
        }
    }
    for (int r = 0; r < WMR; r++) {
        memcpy(tile + r * WNR, &acc[r][0], sizeof acc[r][0]);
        memcpy(tile + r * WNR + VL, &acc[r][1], sizeof acc[r][1]);
    }
}

/* gw (o, kk) = the weight gradient summed over images n0 .. n1, written (not added). */
static int CLOCAL(weight_wide_images)(const T *gout, const T *x, T *gw, const tt_conv_geom *G, int64_t n0,
                                      int64_t n1) {
    const int64_t cg = G->c / G->groups, og = G->o / G->groups, kk = cg * G->kh * G->kw;
    const int64_t hp = G->h + 2 * G->ph, wp = G->w + 2 * G->pw, L = G->oh * G->ow;
    /* gt's rows: every channel, and zeros up to the last strip's end (a strip may run past og) */
    const int64_t slack = CLOCAL(wide_slack)(G), ldt = (G->groups - 1) * og + (og + WNR - 1) / WNR * WNR;
    memset(gw, 0, (size_t)(G->o * kk) * sizeof(T));
    T *xp = malloc((size_t)(G->c * hp * wp + slack) * sizeof(T));
    T *gt = malloc((size_t)(L * ldt) * sizeof(T));
    int64_t *off = malloc((size_t)kk * sizeof *off);
    if (!xp || !gt || !off) {
        free(xp);
        free(gt);
        free(off);
        return -1;
    }
    CLOCAL(row_offsets)(G, off);
    T tile[WMR * WNR] __attribute__((aligned(64)));
    for (int64_t n = n0; n < n1; n++) {
        CLOCAL(pad_image)(x, G, n, slack, xp);
        const T *gn = gout + n * G->o * L;
        for (int64_t q = 0; q < L; q++) { /* gt[q][o] = g[n, o, q], zero past the last channel */
            T *dst = gt + q * ldt;
            for (int64_t o = 0; o < G->o; o++) dst[o] = gn[o * L + q];
            for (int64_t o = G->o; o < ldt; o++) dst[o] = 0;
        }
        for (int64_t g = 0; g < G->groups; g++) {
            const T *xg = xp + g * cg * hp * wp;
            for (int64_t o0 = 0; o0 < og; o0 += WNR)
                for (int64_t k0 = 0; k0 < kk; k0 += WMR) {
                    const T *xr[WMR];
                    for (int r = 0; r < WMR; r++) xr[r] = xg + off[k0 + r < kk ? k0 + r : k0];
                    CLOCAL(weight_tile)(xr, gt + g * og + o0, ldt, G->oh, G->ow, wp, tile);
                    for (int64_t r = 0; r < WMR && k0 + r < kk; r++)
                        for (int64_t c = 0; c < WNR && o0 + c < og; c++)
                            gw[(g * og + o0 + c) * kk + k0 + r] += tile[r * WNR + c];
                }
        }
    }
    free(xp);
    free(gt);
    free(off);
    return 0;
}
#undef WMR
#undef WNR

static int CLOCAL(backward_weight_wide)(const T *gout, const T *x, T *gw, const tt_conv_geom *G) {
    const int64_t wsize = G->o * (G->c / G->groups) * G->kh * G->kw;
    if (!tt_conv_parallel(G)) return CLOCAL(weight_wide_images)(gout, x, gw, G, 0, G->n);
    const int64_t nt = omp_get_max_threads();
    T *partial = malloc((size_t)(nt * wsize) * sizeof(T)); /* one gw per thread */
    if (!partial) return -1;
    int failed = 0, used = 0;
    TT_OMP("omp parallel reduction(|:failed)")
    {
        const int64_t t = omp_get_thread_num(), n = omp_get_num_threads();
        if (t == 0) used = (int)n;
        failed = CLOCAL(weight_wide_images)(gout, x, partial + t * wsize, G, G->n * t / n, G->n * (t + 1) / n);
    }
    if (!failed) {
        memcpy(gw, partial, (size_t)wsize * sizeof(T));
        for (int t = 1; t < used; t++)
            for (int64_t e = 0; e < wsize; e++) gw[e] += partial[t * wsize + e];
    }
    free(partial);
    return failed ? -1 : 0;
}

/* ---- the entry points: stride 1 reads the padded input in place, other strides pack ------ */

/* out (n, o, oh, ow) = conv2d(x (n, c, h, w), w (o, c/groups, kh, kw)) + bias (o,) or no bias. */
TT_API int TT_CAT(tt_conv2d, SFX)(const T *x, const T *w, const T *bias, T *out, const int64_t *geom) {
    tt_conv_geom G;
    if (tt_conv_read_geom(geom, &G)) return -1;
    if (G.sh == 1 && G.sw == 1) return CLOCAL(conv2d_wide)(x, w, bias, out, &G, 0);
    return CLOCAL(conv2d_packed)(x, w, bias, out, geom);
}

/* gx (n, c, h, w) = the gradient of conv2d's input for the output gradient gout (n, o, oh, ow).
 * With stride 1 and padding at most the kernel's reach, that is the convolution of gout, padded
 * by (kh - 1) * dh - ph, with the flipped kernel, channels swapped. */
TT_API int TT_CAT(tt_conv2d_backward_input, SFX)(const T *gout, const T *w, T *gx, const int64_t *geom) {
    tt_conv_geom G;
    if (tt_conv_read_geom(geom, &G)) return -1;
    const int64_t ph = (G.kh - 1) * G.dh - G.ph, pw = (G.kw - 1) * G.dw - G.pw;
    if (G.sh == 1 && G.sw == 1 && ph >= 0 && pw >= 0) {
        const tt_conv_geom T_ = {G.n, G.o, G.oh, G.ow, G.c, G.kh, G.kw, G.h, G.w, 1, 1, ph, pw, G.dh, G.dw,
                                 G.groups};
        return CLOCAL(conv2d_wide)(gout, w, NULL, gx, &T_, 1);
    }
    return CLOCAL(backward_input_packed)(gout, w, gx, geom);
}

/* gw (o, c/groups, kh, kw) = the gradient of conv2d's weight for gout and the input x. */
TT_API int TT_CAT(tt_conv2d_backward_weight, SFX)(const T *gout, const T *x, T *gw, const int64_t *geom) {
    tt_conv_geom G;
    if (tt_conv_read_geom(geom, &G)) return -1;
    if (G.sh == 1 && G.sw == 1) return CLOCAL(backward_weight_wide)(gout, x, gw, &G);
    return CLOCAL(backward_weight_packed)(gout, x, gw, geom);
}

#undef CLOCAL
#undef CMR
#undef CNV
#undef CNR
