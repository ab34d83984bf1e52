// matmul.cu -- batched C[b] = A[b] @ B[b] for compact row-major (batch, m, n) @ (batch, n, p).
//
//   matmul_<dtype>(a, b, out, m, n, p, batch)
//   launch: block (TT_BLOCK = 256 threads), grid (ceil(p / 64), ceil(m / 64), batch),
//           with grid-stride loops over the y and z dimensions so any m and batch fit.
//
// The optimizations, in the order the book introduces them:
//  1. Shared-memory tiling. A block computes a 64 x 64 tile of C. It walks along n in
//     steps of 16, staging a 64 x 16 tile of A and a 16 x 64 tile of B in shared memory;
//     every element loaded from global memory is then reused 64 times from on-chip memory
//     instead of being re-read by 64 different threads.
//  2. Register tiling. Each of the 256 threads owns a 4 x 4 block of C held in registers.
//     Per step of k it loads 4 values of A and 4 of B from shared memory and does 16
//     multiply-adds: 8 shared-memory loads per 16 FMAs instead of 2 loads per FMA.
//  3. Conflict-free layouts. The A tile is stored transposed (k-major, so the inner loop
//     reads it along a row) with two padding columns: for float32 the transposing store of
//     a warp then lands in 32 different banks. A thread's 4 rows and 4 columns are spaced
//     16 apart (rows ty, ty+16, ...), so the 16 threads of a half-warp read 16 consecutive
//     words of the B tile (no bank conflict) and write 16 consecutive elements of C
//     (coalesced stores).
//  4. Edge tiles are zero-filled when staged, so the inner loop has no branches; only the
//     final store checks bounds.
// Accumulation is in the element type (float32 accumulates in float32, like cuBLAS
// without TF32); int64 accumulates in unsigned 64-bit so overflow wraps like numpy.
#include "common.cuh"

#define TT_MM_TILE 64   // rows/columns of C per block
#define TT_MM_K 16      // depth of one shared-memory stage
#define TT_MM_R 4       // rows/columns of C per thread
#define TT_MM_THREADS_1D (TT_MM_TILE / TT_MM_R)  // 16 x 16 = 256 threads

template <class T> struct Acc { typedef T type; };
template <> struct Acc<i64> { typedef u64 type; };

template <class T>
__device__ void matmul_tiled(const T *__restrict__ A, const T *__restrict__ B, T *__restrict__ C,
                             i64 m, i64 n, i64 p, i64 batch) {
    typedef typename Acc<T>::type Tacc;
    __shared__ T As[TT_MM_K][TT_MM_TILE + 2];  // transposed: As[k][row], 2 columns of padding
    __shared__ T Bs[TT_MM_K][TT_MM_TILE];      // Bs[k][col]

    const int tid = threadIdx.x;
    const int tx = tid % TT_MM_THREADS_1D;  // column group: columns tx + 16*j
    const int ty = tid / TT_MM_THREADS_1D;  // row group: rows ty + 16*i
    const i64 row_tiles = (m + TT_MM_TILE - 1) / TT_MM_TILE;

    for (i64 bz = blockIdx.z; bz < batch; bz += gridDim.z) {
        const T *Ab = A + bz * m * n;
        const T *Bb = B + bz * n * p;
        T *Cb = C + bz * m * p;
        for (i64 by = blockIdx.y; by < row_tiles; by += gridDim.y) {
            const i64 row0 = by * TT_MM_TILE;
            const i64 col0 = (i64)blockIdx.x * TT_MM_TILE;
            Tacc acc[TT_MM_R][TT_MM_R];
#pragma unroll
            for (int i = 0; i < TT_MM_R; ++i)
#pragma unroll
                for (int j = 0; j < TT_MM_R; ++j) acc[i][j] = Tacc(0);

            for (i64 k0 = 0; k0 < n; k0 += TT_MM_K) {
                // Stage A[row0 : row0+64, k0 : k0+16]: 1024 elements, 4 per thread.
                // Consecutive threads read consecutive k of one row (16 contiguous elements).
#pragma unroll
                for (int e = tid; e < TT_MM_TILE * TT_MM_K; e += TT_BLOCK) {
                    const int r = e / TT_MM_K, c = e % TT_MM_K;
                    const i64 gr = row0 + r, gc = k0 + c;
                    As[c][r] = (gr < m && gc < n) ? Ab[gr * n + gc] : T(0);
                }
                // Stage B[k0 : k0+16, col0 : col0+64]: consecutive threads read consecutive columns.
#pragma unroll
                for (int e = tid; e < TT_MM_K * TT_MM_TILE; e += TT_BLOCK) {
                    const int r = e / TT_MM_TILE, c = e % TT_MM_TILE;
                    const i64 gr = k0 + r, gc = col0 + c;
                    Bs[r][c] = (gr < n && gc < p) ? Bb[gr * p + gc] : T(0);
                }
                __syncthreads();
#pragma unroll
                for (int k = 0; k < TT_MM_K; ++k) {
                    T ar[TT_MM_R], br[TT_MM_R];
#pragma unroll
                    for (int i = 0; i < TT_MM_R; ++i) ar[i] = As[k][ty + i * TT_MM_THREADS_1D];
#pragma unroll
                    for (int j = 0; j < TT_MM_R; ++j) br[j] = Bs[k][tx + j * TT_MM_THREADS_1D];
#pragma unroll
                    for (int i = 0; i < TT_MM_R; ++i)
#pragma unroll
                        for (int j = 0; j < TT_MM_R; ++j) acc[i][j] += (Tacc)ar[i] * (Tacc)br[j];
                }
                __syncthreads();  // the tiles are overwritten by the next stage
            }
#pragma unroll
            for (int i = 0; i < TT_MM_R; ++i) {
                const i64 r = row0 + ty + i * TT_MM_THREADS_1D;
#pragma unroll
                for (int j = 0; j < TT_MM_R; ++j) {
                    const i64 c = col0 + tx + j * TT_MM_THREADS_1D;
                    if (r < m && c < p) Cb[r * p + c] = (T)acc[i][j];
                }
            }
        }
    }
}

#define TT_MATMUL(T, SUF)                                                                      \
    extern "C" __global__ void matmul_##SUF(const T *a, const T *b, T *out, i64 m, i64 n, i64 p, i64 batch) { \
        matmul_tiled<T>(a, b, out, m, n, p, batch);                                            \
    }
TT_ARITH_TYPES(TT_MATMUL)
