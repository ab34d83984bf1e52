/* matmul_steps.h -- the steps from the textbook triple loop to a fast matmul, for one
 * floating-point element type. matmul.c includes this file once per type, with
 *
 *     T     the element type (float or double)
 *     SFX   its suffix (f32, f64): the functions are named tt_matmul_<step>_<SFX>
 *     VEC   a GCC vector type of T that fills one SIMD register (8 floats with AVX2)
 *     VL    the number of T in a VEC
 *
 * defined (a template in plain C: the code is written once, read as ordinary C, and every
 * compiler error points at a real line). Every step computes the same thing,
 *
 *     out[b] = a[b] @ b[b]   for b < batch,   a[b]: (m, n), b[b]: (n, p), out[b]: (m, p),
 *
 * on row-major inputs, and each one adds a single idea to the step before it:
 *
 *   1. naive      the triple loop i-j-k: one dot product per output element
 *   2. reordered  the loops i-k-j: the inner loop walks rows, so it vectorizes
 *   3. blocked    the loops cut into tiles, so a tile of b is reused from cache
 *   4. packed     tiles copied ("packed") into the order a register-tiled micro-kernel
 *                 reads them; the micro-kernel keeps a 6 x 2VL block of out in registers
 *   5. threads    step 4 on one block of out per core (OpenMP): tt_matmul_<SFX>, the
 *                 backend interface's matmul
 *
 * The benchmark (benchmarks/run.py) and the book (chapter 3) time each step.
 */

#define STEP(name) TT_CAT(tt_matmul_##name, SFX)
#define LOCAL(name) TT_CAT(name, SFX)

/* ---- 1. naive: out[i,j] = sum_k a[i,k] * b[k,j] ------------------------------------------
 * The inner loop walks a column of b: element k is p elements after element k-1, so every
 * iteration touches a new cache line (64 bytes, of which it uses 4), and the loop carries
 * one chain of dependent additions that the compiler may not reorder. */
TT_API void STEP(naive)(const T *a, const T *b, T *out, int64_t m, int64_t n, int64_t p, int64_t batch) {
    for (int64_t bi = 0; bi < batch; bi++, a += m * n, b += n * p, out += m * p)
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = 0; j < p; j++) {
                T acc = 0;
                for (int64_t k = 0; k < n; k++) acc = fma(a[i * n + k], b[k * p + j], acc);
                out[i * p + j] = acc;
            }
}

/* ---- 2. reordered: for each i, k: out[i, :] += a[i,k] * b[k, :] ---------------------------
 * The same multiply-adds in another order. The inner loop now runs along row k of b and
 * row i of out, both contiguous, with a[i,k] fixed: the compiler turns it into AVX2 code
 * doing VL multiply-adds per instruction. But each pass over row i of out reads all of b:
 * for a 1024 x 1024 matrix that is 4 MB streamed from L3 or memory per row of out. */
static void LOCAL(reordered_rows)(const T *a, const T *b, T *out, int64_t n, int64_t p, int64_t i0,
                                  int64_t i1) {
    for (int64_t i = i0; i < i1; i++) {
        T *orow = out + i * p;
        for (int64_t j = 0; j < p; j++) orow[j] = 0;
        for (int64_t k = 0; k < n; k++) {
            const T aik = a[i * n + k];
            const T *brow = b + k * p;
            for (int64_t j = 0; j < p; j++) orow[j] += aik * brow[j];
        }
    }
}

TT_API void STEP(reordered)(const T *a, const T *b, T *out, int64_t m, int64_t n, int64_t p, int64_t batch) {
    for (int64_t bi = 0; bi < batch; bi++, a += m * n, b += n * p, out += m * p)
        LOCAL(reordered_rows)(a, b, out, n, p, 0, m);
}

/* ---- 3. blocked: the i-k-j loops on tiles ---------------------------------------------------
 * Cut k into KB-long pieces and j into PB-wide pieces. A tile b[k0:k0+KB, j0:j0+PB]
 * (KB * PB * sizeof(T) = 64 KB) stays in the core's L2 cache while every row i uses it,
 * so b is read from memory once per tile instead of once per row of out. */
#define KB 64
#define PB (16384 / (int64_t)sizeof(T))

TT_API void STEP(blocked)(const T *a, const T *b, T *out, int64_t m, int64_t n, int64_t p, int64_t batch) {
    for (int64_t bi = 0; bi < batch; bi++, a += m * n, b += n * p, out += m * p) {
        for (int64_t i = 0; i < m * p; i++) out[i] = 0;
        for (int64_t j0 = 0; j0 < p; j0 += PB) {
            const int64_t j1 = MIN64(j0 + PB, p);
            for (int64_t k0 = 0; k0 < n; k0 += KB) {
                const int64_t k1 = MIN64(k0 + KB, n);
                for (int64_t i = 0; i < m; i++) { /* this tile of b is in cache for every i */
                    T *orow = out + i * p;
                    for (int64_t k = k0; k < k1; k++) {
                        const T aik = a[i * n + k];
                        const T *brow = b + k * p;
                        for (int64_t j = j0; j < j1; j++) orow[j] += aik * brow[j];
                    }
                }
            }
        }
    }
}
#undef KB
#undef PB

/* ---- 4. packed panels and a register-tiled micro-kernel -----------------------------------
 * Step 3 still loads and stores out[i, j] for every multiply-add: two memory operations
 * per FMA, while the core can do two FMAs per cycle but only ~one store. The fix is to
 * compute a small MR x NR block of out entirely in registers: MR * NR / VL = 12 vector
 * accumulators, updated by MR broadcasts of a and 2 vector loads of b per k, i.e. 12 FMAs
 * per 8 loads and no stores at all until the end. That is the micro-kernel.
 *
 * It reads a as MR-tall column strips and b as NR-wide row strips. Packing copies each
 * cache block into exactly that order (zero-padded at the edges) once, so the micro-kernel
 * walks both with unit stride, and any strided or transposed input costs the same:
 *
 *     for j0 in p, step NC:                 b block (KC x NC, L3) packed once per (j0, k0)
 *       for k0 in n, step KC:
 *         pack b[k0:+KC, j0:+NC] -> bp      NR-wide strips, each KC x NR contiguous
 *         for i0 in m, step MC:             a block (MC x KC) packed to stay in L2
 *           pack a[i0:+MC, k0:+KC] -> ap    MR-tall strips, each KC x MR contiguous
 *           for jr in NC, step NR:          a strip of bp (KC x NR = 16 KB) stays in L1
 *             for ir in MC, step MR:
 *               micro-kernel: out[i0+ir:+MR, j0+jr:+NR] += ap strip @ bp strip
 */
#define MR 6
#define NR (2 * VL)
#define KC 256
#define MC 72 /* a multiple of MR; MC * KC * sizeof(T) = 72 KB (f32) / 144 KB (f64) of L2 */
#define NC 3072

/* ap[strip s][k][r] = a[i0 + s*MR + r, k0 + k], zero where i0 + s*MR + r >= i0 + mc. */
static void LOCAL(pack_a)(const T *a, int64_t rs, int64_t cs, int64_t mc, int64_t kc, T *restrict ap) {
    for (int64_t i = 0; i < mc; i += MR, ap += MR * kc) {
        const int64_t rows = MIN64(MR, mc - i);
        for (int64_t k = 0; k < kc; k++) {
            const T *col = a + i * rs + k * cs;
            for (int64_t r = 0; r < rows; r++) ap[k * MR + r] = col[r * rs];
            for (int64_t r = rows; r < MR; r++) ap[k * MR + r] = 0;
        }
    }
}

/* bp[strip s][k][c] = b[k0 + k, j0 + s*NR + c], zero past the last column. A row-major b
 * (cs == 1) is copied row by row: read front to back, one stream the prefetcher follows,
 * where strip by strip it would take 64 bytes from every row in turn. A transposed b (the
 * w.T of a linear layer) is copied strip by strip: the NR columns of a strip are NR rows of w, whose cache lines then
 * serve kc / 16 consecutive k. */
static void LOCAL(pack_b)(const T *b, int64_t rs, int64_t cs, int64_t kc, int64_t nc, T *restrict bp) {
    if (cs == 1) {
        for (int64_t k = 0; k < kc; k++) {
            const T *row = b + k * rs;
            for (int64_t j = 0; j < nc; j += NR) {
                T *dst = bp + j * kc + k * NR; /* strip j / NR starts at (j / NR) * NR * kc */
                const int64_t cols = MIN64(NR, nc - j);
                memcpy(dst, row + j, (size_t)cols * sizeof(T));
                for (int64_t c = cols; c < NR; c++) dst[c] = 0;
            }
        }
        return;
    }
    for (int64_t j = 0; j < nc; j += NR, bp += NR * kc) {
        const int64_t cols = MIN64(NR, nc - j);
        for (int64_t k = 0; k < kc; k++) {
            const T *row = b + k * rs + j * cs;
            for (int64_t c = 0; c < cols; c++) bp[k * NR + c] = row[c * cs];
            for (int64_t c = cols; c < NR; c++) bp[k * NR + c] = 0;
        }
    }
}

/* out[0:MR, 0:NR] (row stride ldo) = or += a @ bp over kc, where a[r, k] is a[r * ars + k * aks]:
 * a packed strip (ars = 1, aks = MR) or, see gemm, a row-major or column-major a read where it
 * is (its own strides). The accumulators are VEC variables: GCC keeps all 12 in ymm
 * registers and emits one vfmadd231ps per `+=` (-ffp-contract=fast lets it fuse the multiply
 * and the add). */
static inline void LOCAL(micro_kernel)(int64_t kc, const T *restrict a, int64_t ars, int64_t aks,
                                       const T *restrict bp, T *restrict o, int64_t ldo, int accumulate) {
    VEC acc[MR][2];
    for (int r = 0; r < MR; r++) acc[r][0] = acc[r][1] = (VEC){0};
    for (int64_t k = 0; k < kc; k++, a += aks, bp += NR) {
        VEC b0, b1;
        memcpy(&b0, bp, sizeof b0);
        memcpy(&b1, bp + VL, sizeof b1);
        for (int r = 0; r < MR; r++) { /* unrolled by GCC: MR broadcasts, 2 * MR FMAs */
            const T ar = a[r * ars];
            acc[r][0] += ar * b0;
            acc[r][1] += ar * b1;
        }
    }
    for (int r = 0; r < MR; r++)
        for (int h = 0; h < 2; h++) {
            VEC v = acc[r][h];
            if (accumulate) {
                VEC old;
                memcpy(&old, o + r * ldo + h * VL, sizeof old);
                v += old;
            }
            memcpy(o + r * ldo + h * VL, &v, sizeof v);
        }
}

/* The micro-kernel on a tile that may stick out of out (the last rows/columns): computed
 * whole into a scratch tile, then only the rows x cols that exist are written. */
static void LOCAL(edge_kernel)(int64_t kc, const T *ap, const T *bp, T *o, int64_t ldo, int64_t rows,
                               int64_t cols, int accumulate) {
    T tile[MR * NR];
    LOCAL(micro_kernel)(kc, ap, 1, MR, bp, tile, NR, 0);
    for (int64_t r = 0; r < rows; r++)
        for (int64_t c = 0; c < cols; c++)
            o[r * ldo + c] = accumulate ? o[r * ldo + c] + tile[r * NR + c] : tile[r * NR + c];
}

/* Scratch space for one thread's packed blocks, sized for an (m, n) @ (n, p) product. */
typedef struct {
    T *ap, *bp;
} LOCAL(panels);

static int LOCAL(panels_alloc)(LOCAL(panels) *w, int64_t m, int64_t n, int64_t p) {
    const int64_t kc = MIN64(KC, n), mc = MIN64(MC, (m + MR - 1) / MR * MR),
                  nc = MIN64(NC, (p + NR - 1) / NR * NR);
    /* 64-byte aligned (a cache line); aligned_alloc wants a multiple of the alignment */
    w->ap = aligned_alloc(64, (size_t)((mc * kc * sizeof(T) + 63) / 64 * 64));
    w->bp = aligned_alloc(64, (size_t)((kc * nc * sizeof(T) + 63) / 64 * 64));
    if (!w->ap || !w->bp) {
        free(w->ap);
        free(w->bp);
        return -1;
    }
    return 0;
}

static void LOCAL(panels_free)(LOCAL(panels) *w) {
    free(w->ap);
    free(w->bp);
}

/* out (row stride ldo) = a @ b for a (m, n) with strides (ras, cas) and b (n, p) with strides
 * (rbs, cbs), on this thread, with its scratch panels w. n >= 1. */
static void LOCAL(gemm)(int64_t m, int64_t n, int64_t p, const T *a, int64_t ras, int64_t cas, const T *b,
                        int64_t rbs, int64_t cbs, T *out, int64_t ldo, LOCAL(panels) *w) {
    /* A packed block of a serves nc / NR strips of b. When that is only a few (p small: the
     * (pixels, channels x 3 x 3) @ (.., out channels) product of a convolution, attention's
     * per-head products), packing a costs about as much as using it, so a row-major or
     * column-major a is read in place by the micro-kernel: six sequential rows, or six
     * consecutive elements of each column. Only a last strip of fewer than MR rows is packed
     * (zero-padded). */
    const int direct = (cas == 1 || ras == 1) && MIN64(p, NC) <= 4 * NR;
    for (int64_t j0 = 0; j0 < p; j0 += NC) {
        const int64_t nc = MIN64(NC, p - j0);
        for (int64_t k0 = 0; k0 < n; k0 += KC) {
            const int64_t kc = MIN64(KC, n - k0);
            const int accumulate = k0 > 0; /* the first k block writes out, the others add */
            LOCAL(pack_b)(b + k0 * rbs + j0 * cbs, rbs, cbs, kc, nc, w->bp);
            for (int64_t i0 = 0; i0 < m; i0 += MC) {
                const int64_t mc = MIN64(MC, m - i0), full = direct ? mc / MR * MR : 0;
                const T *ablock = a + i0 * ras + k0 * cas;
                LOCAL(pack_a)(ablock + full * ras, ras, cas, mc - full, kc, w->ap);
                for (int64_t jr = 0; jr < nc; jr += NR) {
                    const T *bp = w->bp + jr * kc;
                    for (int64_t ir = 0; ir < mc; ir += MR) {
                        T *o = out + (i0 + ir) * ldo + j0 + jr;
                        if (ir < full && jr + NR <= nc)
                            LOCAL(micro_kernel)(kc, ablock + ir * ras, ras, cas, bp, o, ldo, accumulate);
                        else if (ir >= full && ir + MR <= mc && jr + NR <= nc)
                            LOCAL(micro_kernel)(kc, w->ap + (ir - full) * kc, 1, MR, bp, o, ldo, accumulate);
                        else if (ir < full) { /* direct rows, last columns: pack this strip first */
                            T strip[MR * KC];
                            LOCAL(pack_a)(ablock + ir * ras, ras, cas, MR, kc, strip);
                            LOCAL(edge_kernel)(kc, strip, bp, o, ldo, MR, nc - jr, accumulate);
                        } else
                            LOCAL(edge_kernel)(kc, w->ap + (ir - full) * kc, bp, o, ldo, MIN64(MR, mc - ir),
                                               MIN64(NR, nc - jr), accumulate);
                    }
                }
            }
        }
    }
}

/* out = zeros: the product with an empty inner dimension. */
static void LOCAL(zero_block)(T *out, int64_t ldo, int64_t m, int64_t p) {
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < p; j++) out[i * ldo + j] = 0;
}

/* Returns 0, or -1 if the scratch panels cannot be allocated. */
TT_API int STEP(packed)(const T *a, const T *b, T *out, int64_t m, int64_t n, int64_t p, int64_t batch) {
    if (n == 0) {
        LOCAL(zero_block)(out, p, batch * m, p);
        return 0;
    }
    LOCAL(panels) w;
    if (LOCAL(panels_alloc)(&w, m, n, p)) return -1;
    for (int64_t bi = 0; bi < batch; bi++)
        LOCAL(gemm)(m, n, p, a + bi * m * n, n, 1, b + bi * n * p, p, 1, out + bi * m * p, p, &w);
    LOCAL(panels_free)(&w);
    return 0;
}

/* ---- 5. threads -------------------------------------------------------------------------------
 * Each core runs step 4 on its own block of out: no two threads write the same element, so
 * they never wait for each other. With a batch of at least one product per thread, the
 * products are shared out whole. Otherwise out is cut into a grid of tr x tc blocks
 * (tr * tc = threads, blocks aligned to the micro-tile); a thread packs the rows of a and
 * the columns of b that its block needs, so the grid is chosen to keep each block as square
 * as possible (the smallest rows + columns), which keeps the repeated packing small.
 *
 * Strides: the batch is (batch / inner) x inner products (two batch axes: attention's batch x
 * heads, whose strides rarely merge into one); a[bi] starts at (bi / inner) * sab +
 * (bi % inner) * sai and holds a[i, k] at i * ras + k * cas; b likewise.
 * Returns 0, or -1 if out of memory. */
/* a @ w.T with few rows in a (a linear layer's batch): packing w.T for the micro-kernel gathers
 * every element of w, p * n of them, one at a time. The same product read the other way,
 * (w @ a.T).T, reads w's rows where they are (the micro-kernel's direct rows) and packs a.T,
 * only n * m elements; the (p, m) result is then written to out transposed. With threads,
 * each takes a share of w's rows (out's columns) in whole micro-tiles and packs a.T itself. */
static int LOCAL(matmul_swapped)(const T *a, const T *b, T *out, int64_t m, int64_t n, int64_t p, int64_t ras,
                                 int64_t cbs, int64_t threads) {
    T *tmp = malloc((size_t)(p * m) * sizeof(T));
    if (!tmp) return -1;
    const int64_t tiles = (p + MR - 1) / MR;
    int failed = 0;
    TT_OMP("omp parallel num_threads(MIN64(threads, tiles)) reduction(|:failed)")
    {
        const int64_t t = omp_get_thread_num(), nth = omp_get_num_threads();
        const int64_t j0 = MIN64(tiles * t / nth * MR, p), j1 = MIN64(tiles * (t + 1) / nth * MR, p);
        LOCAL(panels) w;
        if (j1 > j0 && LOCAL(panels_alloc)(&w, j1 - j0, n, m)) {
            failed = 1;
        } else if (j1 > j0) {
            LOCAL(gemm)(j1 - j0, n, m, b + j0 * cbs, cbs, 1, a, 1, ras, tmp + j0 * m, m, &w);
            for (int64_t i = 0; i < m; i++)
                for (int64_t j = j0; j < j1; j++) out[i * p + j] = tmp[j * m + i];
            LOCAL(panels_free)(&w);
        }
    }
    free(tmp);
    return failed ? -1 : 0;
}

#define A_AT(bi) (a + ((bi) / inner) * sab + ((bi) % inner) * sai)
#define B_AT(bi) (b + ((bi) / inner) * sbb + ((bi) % inner) * sbi)
static int LOCAL(matmul_strided)(const T *a, const T *b, T *out, int64_t m, int64_t n, int64_t p, int64_t batch,
                                 int64_t sab, int64_t ras, int64_t cas, int64_t sbb, int64_t rbs, int64_t cbs,
                                 int64_t inner, int64_t sai, int64_t sbi) {
    if (n == 0) {
        LOCAL(zero_block)(out, p, batch * m, p);
        return 0;
    }
    const int64_t nt = omp_get_max_threads();
    const int small = nt == 1 || batch * m * n * p < TT_MATMUL_PAR_MIN;
    int failed = 0;
    if (batch == 1 && rbs == 1 && cbs != 1 && cas == 1 && ras != 1 && 2 * m <= p)
        return LOCAL(matmul_swapped)(a, b, out, m, n, p, ras, cbs, small ? 1 : nt);
    if (small) { /* one thread */
        LOCAL(panels) w;
        if (LOCAL(panels_alloc)(&w, m, n, p)) return -1;
        for (int64_t bi = 0; bi < batch; bi++)
            LOCAL(gemm)(m, n, p, A_AT(bi), ras, cas, B_AT(bi), rbs, cbs, out + bi * m * p, p, &w);
        LOCAL(panels_free)(&w);
        return 0;
    }
    if (batch >= nt) { /* whole products per thread */
        TT_OMP("omp parallel reduction(|:failed)")
        {
            LOCAL(panels) w;
            if (LOCAL(panels_alloc)(&w, m, n, p)) {
                failed = 1;
            } else {
                TT_OMP("omp for schedule(static)")
                for (int64_t bi = 0; bi < batch; bi++)
                    LOCAL(gemm)(m, n, p, A_AT(bi), ras, cas, B_AT(bi), rbs, cbs, out + bi * m * p, p, &w);
                LOCAL(panels_free)(&w);
            }
        }
        return failed ? -1 : 0;
    }
    /* the grid: tr row blocks x tc column blocks, in whole micro-tiles */
    const int64_t mt = (m + MR - 1) / MR, pt = (p + NR - 1) / NR;
    int64_t tr = 1, best = INT64_MAX;
    for (int64_t r = 1; r <= nt; r++) {
        if (nt % r) continue;
        const int64_t c = nt / r, rows = (mt + r - 1) / r * MR, cols = (pt + c - 1) / c * NR;
        if (r <= mt && c <= pt && rows + cols < best) best = rows + cols, tr = r;
    }
    const int64_t tc = nt / tr;
    for (int64_t bi = 0; bi < batch && !failed; bi++) {
        TT_OMP("omp parallel num_threads(tr * tc) reduction(|:failed)")
        {
            const int64_t t = omp_get_thread_num(), ti = t / tc, tj = t % tc;
            const int64_t i0 = MIN64(mt * ti / tr * MR, m), i1 = MIN64(mt * (ti + 1) / tr * MR, m);
            const int64_t j0 = MIN64(pt * tj / tc * NR, p), j1 = MIN64(pt * (tj + 1) / tc * NR, p);
            if (i1 > i0 && j1 > j0) {
                LOCAL(panels) w;
                if (LOCAL(panels_alloc)(&w, i1 - i0, n, j1 - j0)) {
                    failed = 1;
                } else {
                    LOCAL(gemm)(i1 - i0, n, j1 - j0, A_AT(bi) + i0 * ras, ras, cas, B_AT(bi) + j0 * cbs,
                                rbs, cbs, out + bi * m * p + i0 * p + j0, p, &w);
                    LOCAL(panels_free)(&w);
                }
            }
        }
    }
    return failed ? -1 : 0;
}

/* The production matmul of the backend interface (compact inputs). */
TT_API int TT_CAT(tt_matmul, SFX)(const T *a, const T *b, T *out, int64_t m, int64_t n, int64_t p, int64_t batch) {
    return LOCAL(matmul_strided)(a, b, out, m, n, p, batch, m * n, n, 1, n * p, p, 1, 1, 0, 0);
}

/* Any strided a and b: strides[] = {a outer batch, a row, a column, b outer batch, b row,
 * b column, inner batch length, a inner batch, b inner batch}, in elements (the binding checks
 * that every element lies inside its buffer; inner >= 1 divides batch). Packing reads any
 * layout, so a transposed or broadcast operand, or a head split off a wider row, needs no copy. */
TT_API int STEP(strided)(const T *a, const T *b, T *out, int64_t m, int64_t n, int64_t p, int64_t batch,
                         const int64_t *strides) {
    return LOCAL(matmul_strided)(a, b, out, m, n, p, batch, strides[0], strides[1], strides[2], strides[3],
                                 strides[4], strides[5], strides[6], strides[7], strides[8]);
}
#undef A_AT
#undef B_AT

#undef MR
#undef NR
#undef KC
#undef MC
#undef NC
#undef STEP
#undef LOCAL
