// reduce.cu -- reduce_sum/max/min/argmax/argmin over the last axis of a compact array.
//
// One kernel per reduction, parameterised by how much of the GPU each output gets:
//
//   reduce_<op>_<dtype>(a, a_idx, out_val, out_idx, nseg, L, chunks, chunk_len, warps_per_seg)
//
// The input is `nseg / chunks` rows of L elements. Each row is split into `chunks`
// segments of `chunk_len` elements, and each segment is reduced by `warps_per_seg` warps
// (1, 2, 4 or 8 -- a block of TT_BLOCK = 256 threads is 8 warps, so a block handles
// 8 / warps_per_seg segments at a time). Segment s writes out_val[s] and/or out_idx[s]
// (either pointer may be null).
//
// The binding picks the shape of the work:
//  * short rows (L <= 1024): one warp per row, many rows per block -- a block per row would
//    leave most of its threads idle;
//  * long rows: a whole block per row;
//  * very long rows and few of them (e.g. the sum of a whole array): each row is split into
//    chunks so that every SM gets work; a second launch of the same kernel reduces the
//    `chunks` partial results per row. For arg-reductions the partials carry the element
//    index, read back through `a_idx` in the second launch.
//
// Inside a segment: each thread folds a strided slice (coalesced: neighbouring lanes read
// neighbouring elements), then the warp combines its 32 partials with shuffles (registers
// only, no shared memory, no __syncthreads), then -- when a segment spans several warps --
// one partial per warp goes through shared memory to a final warp-level shuffle.
//
// NaN propagates through max/min and is the answer of argmax/argmin (the first NaN), and
// ties go to the smallest index, as in numpy; the combine functions below are written so
// that the result does not depend on the order in which partials meet.
#include "common.cuh"

template <class T> struct Pair { T v; i64 i; };

__device__ __forceinline__ float tt_lowest(float) { return __int_as_float(0xff800000); }          // -inf
__device__ __forceinline__ double tt_lowest(double) { return __longlong_as_double(0xfff0000000000000ll); }
__device__ __forceinline__ i64 tt_lowest(i64) { return -9223372036854775807ll - 1; }
__device__ __forceinline__ bool tt_lowest(bool) { return false; }
__device__ __forceinline__ float tt_highest(float) { return __int_as_float(0x7f800000); }          // +inf
__device__ __forceinline__ double tt_highest(double) { return __longlong_as_double(0x7ff0000000000000ll); }
__device__ __forceinline__ i64 tt_highest(i64) { return 9223372036854775807ll; }
__device__ __forceinline__ bool tt_highest(bool) { return true; }

#define TT_NO_INDEX 9223372036854775807ll  // index of the identity: loses every tie

struct SumR {
    static constexpr bool kIndexed = false;
    template <class T> __device__ static Pair<T> identity() { return {T(0), 0}; }
    template <class T> __device__ static Pair<T> combine(Pair<T> a, Pair<T> b) {
        if constexpr (tt_is_int<T>()) return {tt_wrap_add(a.v, b.v), 0};
        else return {T(a.v + b.v), 0};  // for bool: a.v + b.v != 0, i.e. logical or, as numpy
    }
};
struct MaxR {
    static constexpr bool kIndexed = false;
    template <class T> __device__ static Pair<T> identity() { return {tt_lowest(T()), 0}; }
    template <class T> __device__ static Pair<T> combine(Pair<T> a, Pair<T> b) {
        if (a.v != a.v) return a;  // NaN wins
        if (b.v != b.v) return b;
        return b.v > a.v ? b : a;
    }
};
struct MinR {
    static constexpr bool kIndexed = false;
    template <class T> __device__ static Pair<T> identity() { return {tt_highest(T()), 0}; }
    template <class T> __device__ static Pair<T> combine(Pair<T> a, Pair<T> b) {
        if (a.v != a.v) return a;
        if (b.v != b.v) return b;
        return b.v < a.v ? b : a;
    }
};
// Arg-reductions: NaN beats everything, then the larger (smaller) value, then the
// smaller index. The identity has the weakest value and the largest index, so it loses
// to every real element, including -inf (+inf for argmin) at any index.
template <bool kMax>
struct ArgR {
    static constexpr bool kIndexed = true;
    template <class T> __device__ static Pair<T> identity() {
        return {kMax ? tt_lowest(T()) : tt_highest(T()), TT_NO_INDEX};
    }
    template <class T> __device__ static Pair<T> combine(Pair<T> a, Pair<T> b) {
        const bool a_nan = a.v != a.v, b_nan = b.v != b.v;
        if (a_nan != b_nan) return a_nan ? a : b;
        if (!a_nan) {
            if (kMax ? (a.v > b.v) : (a.v < b.v)) return a;
            if (kMax ? (b.v > a.v) : (b.v < a.v)) return b;
        }
        return a.i <= b.i ? a : b;  // equal values (or both NaN): first index wins
    }
};

__device__ __forceinline__ float tt_shfl_down(float v, int d) { return __shfl_down_sync(0xffffffffu, v, d); }
__device__ __forceinline__ double tt_shfl_down(double v, int d) { return __shfl_down_sync(0xffffffffu, v, d); }
__device__ __forceinline__ i64 tt_shfl_down(i64 v, int d) { return __shfl_down_sync(0xffffffffu, v, d); }
__device__ __forceinline__ bool tt_shfl_down(bool v, int d) { return __shfl_down_sync(0xffffffffu, (int)v, d) != 0; }

// Tree reduction across the 32 lanes of a warp through register shuffles; the result is
// valid in lane 0. Every lane of the warp must call it (full mask).
template <class R, class T>
__device__ __forceinline__ Pair<T> warp_reduce(Pair<T> p) {
#pragma unroll
    for (int d = TT_WARP / 2; d > 0; d >>= 1) {
        Pair<T> other;
        other.v = tt_shfl_down(p.v, d);
        other.i = R::kIndexed ? tt_shfl_down(p.i, d) : 0;
        p = R::template combine<T>(p, other);
    }
    return p;
}

template <class R, class T>
__device__ void reduce_segments(const T *a, const i64 *a_idx, T *out_val, i64 *out_idx, i64 nseg, i64 L,
                                i64 chunks, i64 chunk_len, i64 warps_per_seg) {
    constexpr int kWarps = TT_BLOCK / TT_WARP;
    __shared__ T part_v[kWarps];
    __shared__ i64 part_i[kWarps];
    const int W = (int)warps_per_seg;
    const int warp = threadIdx.x / TT_WARP, lane = threadIdx.x % TT_WARP;
    const int seg_per_block = kWarps / W;
    const int local_seg = warp / W, warp_in_seg = warp % W;
    const int t = warp_in_seg * TT_WARP + lane, nthreads = W * TT_WARP;

    // Grid-stride over groups of segments. The trip count is the same for every thread of
    // the block, so the __syncthreads below are reached by all of them.
    for (i64 base = (i64)blockIdx.x * seg_per_block; base < nseg; base += (i64)gridDim.x * seg_per_block) {
        const i64 s = base + local_seg;
        Pair<T> acc = R::template identity<T>();
        if (s < nseg) {
            const i64 row = s / chunks, c = s - row * chunks;
            const i64 start = c * chunk_len;
            const i64 end = min(L, start + chunk_len);
            const T *x = a + row * L;
            const i64 *xi = a_idx ? a_idx + row * L : nullptr;
            // Optimization: unrolling keeps several independent loads in flight per thread.
#pragma unroll 4
            for (i64 j = start + t; j < end; j += nthreads) {
                Pair<T> e;
                e.v = x[j];
                e.i = R::kIndexed ? (xi ? xi[j] : j) : 0;
                acc = R::template combine<T>(acc, e);
            }
        }
        acc = warp_reduce<R, T>(acc);
        if (W > 1) {  // combine the W warp partials of each segment through shared memory
            if (lane == 0) {
                part_v[warp] = acc.v;
                part_i[warp] = acc.i;
            }
            __syncthreads();
            if (warp_in_seg == 0) {
                Pair<T> p = R::template identity<T>();
                if (lane < W) {
                    p.v = part_v[warp + lane];
                    p.i = part_i[warp + lane];
                }
                acc = warp_reduce<R, T>(p);
            }
            __syncthreads();  // part_v/part_i are reused by the next iteration
        }
        if (s < nseg && warp_in_seg == 0 && lane == 0) {
            if (out_val) out_val[s] = acc.v;
            if (out_idx) out_idx[s] = acc.i;
        }
    }
}

#define TT_REDUCE(NAME, R, T, SUF)                                                             \
    extern "C" __global__ void reduce_##NAME##_##SUF(const T *a, const i64 *a_idx, T *out_val, i64 *out_idx, \
                                                     i64 nseg, i64 L, i64 chunks, i64 chunk_len,            \
                                                     i64 warps_per_seg) {                                    \
        reduce_segments<R, T>(a, a_idx, out_val, out_idx, nseg, L, chunks, chunk_len, warps_per_seg);       \
    }
#define TT_REDUCE_ALL(T, SUF)                                                                  \
    TT_REDUCE(sum, SumR, T, SUF) TT_REDUCE(max, MaxR, T, SUF) TT_REDUCE(min, MinR, T, SUF)     \
    TT_REDUCE(argmax, ArgR<true>, T, SUF) TT_REDUCE(argmin, ArgR<false>, T, SUF)
TT_ALL_TYPES(TT_REDUCE_ALL)
