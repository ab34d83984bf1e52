/* reduce.c -- sum, max, min, argmax, argmin over the last axis of a compact array, and
 * sum, max, min over a middle axis (reduce_axis_<op>, an optional extension of the interface).
 *
 * The input is `rows` rows of `n` elements each; out[r] reduces row r. Two shapes matter
 * and get different parallel plans (see one_thread_per_row):
 *  - many short rows (a softmax over 10 classes for a batch of 10 000): rows are split
 *    across threads, each row reduced by a short serial loop;
 *  - few long rows (the sum of a whole 1 000 000-element array): each row is cut into
 *    blocks that the threads reduce in parallel, and the block results are combined.
 *
 * Sums are always computed block by block (BLOCK elements, each block summed by a
 * vectorized loop, block sums added in order), on one thread or many. So the result does
 * not depend on the thread count, and rounding error grows with the number of blocks
 * rather than the number of elements. float32 accumulates in double: in a loop that is
 * limited by memory bandwidth the conversion is free, and it removes the error growth
 * that a long float32 sum has. int64 sums wrap modulo 2^64, as numpy's do.
 *
 * max/min propagate NaN and argmax/argmin return the first NaN, as numpy does.
 *
 * The kernels are written once, in plain C over an element type T, in reduce_steps.h (and
 * max/min once more over the operation, in reduce_extreme.h, which reduce_steps.h includes
 * twice); this file includes reduce_steps.h once per dtype, as matmul.c does matmul_steps.h.
 */
#include <math.h>
#include <stdlib.h>

#include "kernels.h"

#define BLOCK 4096      /* elements per block of a sum */
#define SHORT_ROW 16    /* rows shorter than this skip the vector loops */
#define LONG_ROW 8192   /* rows at least this long are walked as four quarters (see reduce_extreme.h) */
#define AXIS_CHUNK 1024 /* the most columns one work item of reduce_axis_<op> takes */

/* The plan for the last axis: whole rows per thread (or all on this one, for small arrays)
 * unless the rows are long and too few to give every thread several of them; then each row
 * is split. */
static int one_thread_per_row(int64_t rows, int64_t n) {
    return rows * n < TT_PAR_MIN || rows >= 4 * (int64_t)omp_get_max_threads() || n < 2 * BLOCK;
}

/* The columns one work item of reduce_axis_<op> takes: AXIS_CHUNK, or fewer when a large
 * reduction would otherwise have fewer items than threads (a sum over axis 0 of a (4096, 1024)
 * matrix is a single chunk, which would leave every other core idle). Halving stops at 128
 * columns (512 bytes of float32 per row), still a long contiguous run for each row's loads. */
static int64_t axis_chunk_width(int64_t outer, int64_t n, int64_t inner) {
    int64_t cw = AXIS_CHUNK;
    if (outer * n * inner >= TT_PAR_MIN) {
        const int64_t threads = omp_get_max_threads();
        while (cw > 128 && outer * ((inner + cw - 1) / cw) < threads) cw /= 2;
    }
    return cw;
}

#define T float
#define SFX f32
#define ACC double
#define HAS_NAN 1
#include "reduce_steps.h"
#undef T
#undef SFX
#undef ACC
#undef HAS_NAN

#define T double
#define SFX f64
#define ACC double
#define HAS_NAN 1
#include "reduce_steps.h"
#undef T
#undef SFX
#undef ACC
#undef HAS_NAN

#define T int64_t
#define SFX i64
#define ACC uint64_t /* unsigned: a sum wraps modulo 2^64 (signed overflow is undefined in C) */
#define HAS_NAN 0
#include "reduce_steps.h"
#undef T
#undef SFX
#undef ACC
#undef HAS_NAN

#define T uint8_t /* bool: max/min/argmax/argmin only (NDArray sums bools as int64) */
#define SFX b8
#define HAS_NAN 0
#include "reduce_steps.h"
#undef T
#undef SFX
#undef HAS_NAN
