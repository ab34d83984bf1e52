// memory.cu -- fill, cast, and the only stride-aware kernels: compact, ewise_setitem and
// scalar_setitem. Every other kernel runs on compact buffers.
//
// Launch: 1-D grid of TT_BLOCK-thread blocks, grid-stride loops (see common.cuh).
// The binding has already checked that every position a view reaches lies inside its
// buffer, so the strided kernels trust tt_view_position; the `i < n` loop bound is the
// kernel-side bounds check on the compact side.
#include "common.cuh"

// fill: out[i] = value.
template <class T>
__device__ void fill_kernel(T *out, i64 n, T value) {
    TT_GRID_STRIDE(i, n) out[i] = value;
}

// compact: out[i] = a[position of the i-th element of the view]. Reads may be scattered
// (strided), writes are coalesced; the write side is what a row-major consumer needs.
template <class T>
__device__ void compact_kernel(const T *a, T *out, i64 n, const View &v) {
    TT_GRID_STRIDE(i, n) out[i] = a[tt_view_position(v, i)];
}

// ewise_setitem: the mirror image of compact, out[position of i] = a[i].
// With a zero stride in the target several i hit one element; one of them wins, as in numpy.
template <class T>
__device__ void ewise_setitem_kernel(const T *a, T *out, i64 n, const View &v) {
    TT_GRID_STRIDE(i, n) out[tt_view_position(v, i)] = a[i];
}

template <class T>
__device__ void scalar_setitem_kernel(T *out, i64 n, const View &v, T value) {
    TT_GRID_STRIDE(i, n) out[tt_view_position(v, i)] = value;
}

#define TT_MEMORY_ENTRIES(T, SUF)                                                                  \
    extern "C" __global__ void fill_##SUF(T *out, i64 n, T value) { fill_kernel<T>(out, n, value); } \
    extern "C" __global__ void compact_##SUF(const T *a, T *out, i64 n, View v) {                    \
        compact_kernel<T>(a, out, n, v);                                                             \
    }                                                                                                \
    extern "C" __global__ void ewise_setitem_##SUF(const T *a, T *out, i64 n, View v) {              \
        ewise_setitem_kernel<T>(a, out, n, v);                                                       \
    }                                                                                                \
    extern "C" __global__ void scalar_setitem_##SUF(T *out, i64 n, View v, T value) {                \
        scalar_setitem_kernel<T>(out, n, v, value);                                                  \
    }
TT_ALL_TYPES(TT_MEMORY_ENTRIES)

// ---------------------------------------------------------------------------------------
// cast: C conversion rules, made to agree with numpy on x86-64 where C leaves them open.
template <class To, class From>
__device__ __forceinline__ To tt_convert(From x) {
    if constexpr (tt_same<To, bool>::value) {
        return x != From(0);  // NaN != 0, so NaN -> true, as numpy
    } else if constexpr (tt_is_int<To>() && tt_is_float<From>()) {
        // Truncate toward zero. Out of range and NaN are undefined in C; numpy on x86-64
        // gives INT64_MIN (the CPU's "integer indefinite"), and so do we. The GPU's own
        // conversion would saturate instead.
        const double d = (double)x;
        if (!(d >= -9223372036854775808.0 && d < 9223372036854775808.0)) return (To)(-9223372036854775807LL - 1);
        return (To)x;
    } else {
        return (To)x;  // round to nearest for int64 -> float and float64 -> float32
    }
}

template <class From, class To>
__device__ void cast_kernel(const From *a, To *out, i64 n) {
    TT_GRID_STRIDE(i, n) out[i] = tt_convert<To, From>(a[i]);
}

// cast_<from>_to_<to>: all 16 pairs (the identity pairs are plain copies).
#define TT_CAST_ONE(TIN, SIN, TOUT, SOUT)                                                      \
    extern "C" __global__ void cast_##SIN##_to_##SOUT(const TIN *a, TOUT *out, i64 n) {        \
        cast_kernel<TIN, TOUT>(a, out, n);                                                     \
    }
#define TT_CAST_FROM(TIN, SIN)                                                                 \
    TT_CAST_ONE(TIN, SIN, float, float32) TT_CAST_ONE(TIN, SIN, double, float64)               \
    TT_CAST_ONE(TIN, SIN, i64, int64) TT_CAST_ONE(TIN, SIN, bool, bool)
TT_ALL_TYPES(TT_CAST_FROM)
