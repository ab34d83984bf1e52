// indexing.cu -- gather, scatter and scatter_add over flat buffers with int64 positions.
//
//   gather_<dtype>(a, index, out, n, a_size)          out[i] = a[index[i]]
//   scatter_<dtype>(src, index, out, n, out_size)     out[index[i]] = src[i]
//   scatter_add_<dtype>(src, index, out, n, out_size) out[index[i]] += src[i]
//   scatter_<op>_<dtype>(src, index, out, n, out_size) out[index[i]] = op(out[index[i]], src[i])
//                                                     for op in mul, max, min (arithmetic types)
//
// Launch: 1-D grid of TT_BLOCK-thread blocks, grid-stride loops (see common.cuh).
// The binding checks on the device that every index lies in [0, size) before launching
// (and raises IndexError otherwise); the kernels check again and skip an index outside
// the buffer, so a bad index can never write out of bounds.
#include "common.cuh"

template <class T>
__device__ void gather_kernel(const T *a, const i64 *index, T *out, i64 n, i64 a_size) {
    TT_GRID_STRIDE(i, n) {
        const i64 j = index[i];
        if (j >= 0 && j < a_size) out[i] = a[j];
    }
}

// With repeated indices one of the writes wins (which one is unspecified), as the
// interface allows.
template <class T>
__device__ void scatter_kernel(const T *src, const i64 *index, T *out, i64 n, i64 out_size) {
    TT_GRID_STRIDE(i, n) {
        const i64 j = index[i];
        if (j >= 0 && j < out_size) out[j] = src[i];
    }
}

// Repeated indices must accumulate, so the add is atomic: hardware atomicAdd for float32,
// float64 (sm_60 and newer) and int64 (as unsigned 64-bit, which is the same two's
// complement wrap-around add). Atomics on distinct addresses run at full speed; only
// true collisions serialise. For bool, numpy's add is logical or: writing `true` when the
// source is true is race-free because every writer writes the same value.
__device__ __forceinline__ void tt_atomic_add(float *p, float v) { atomicAdd(p, v); }
__device__ __forceinline__ void tt_atomic_add(double *p, double v) { atomicAdd(p, v); }
__device__ __forceinline__ void tt_atomic_add(i64 *p, i64 v) {
    atomicAdd(reinterpret_cast<unsigned long long *>(p), (unsigned long long)v);
}
__device__ __forceinline__ void tt_atomic_add(bool *p, bool v) {
    if (v) *p = true;
}

template <class T>
__device__ void scatter_add_kernel(const T *src, const i64 *index, T *out, i64 n, i64 out_size) {
    TT_GRID_STRIDE(i, n) {
        const i64 j = index[i];
        if (j >= 0 && j < out_size) tt_atomic_add(out + j, src[i]);
    }
}

#define TT_INDEXING(T, SUF)                                                                    \
    extern "C" __global__ void gather_##SUF(const T *a, const i64 *index, T *out, i64 n, i64 a_size) { \
        gather_kernel<T>(a, index, out, n, a_size);                                            \
    }                                                                                          \
    extern "C" __global__ void scatter_##SUF(const T *src, const i64 *index, T *out, i64 n, i64 out_size) { \
        scatter_kernel<T>(src, index, out, n, out_size);                                       \
    }                                                                                          \
    extern "C" __global__ void scatter_add_##SUF(const T *src, const i64 *index, T *out, i64 n, i64 out_size) { \
        scatter_add_kernel<T>(src, index, out, n, out_size);                                   \
    }
TT_ALL_TYPES(TT_INDEXING)

// mul, max and min have no hardware atomic for every type, so each is a compare-and-swap loop
// on the element's bits: read, combine, and write back only if no other thread wrote in
// between (else retry with what it wrote). `Bits` is the unsigned integer of T's width.
template <class T> struct BitsOf;
template <> struct BitsOf<float> { typedef unsigned int type; };
template <> struct BitsOf<double> { typedef unsigned long long type; };
template <> struct BitsOf<i64> { typedef unsigned long long type; };

template <class T, class Combine>
__device__ void tt_atomic_combine(T *p, T v, Combine combine) {
    typedef typename BitsOf<T>::type Bits;
    Bits *bits = reinterpret_cast<Bits *>(p);
    Bits old = *bits, seen;
    do {
        seen = old;
        T current;
        memcpy(&current, &seen, sizeof(T));
        const T next = combine(current, v);
        Bits next_bits;
        memcpy(&next_bits, &next, sizeof(T));
        if (next_bits == seen) return;  // nothing changes (a max below the current value)
        old = atomicCAS(bits, seen, next_bits);
    } while (old != seen);
}

// A NaN on either side wins, as torch.scatter_reduce's amax/amin: `o != o` holds only for a
// NaN already in place, and a NaN source fails every comparison, so it is taken. Integer
// products wrap around (computed unsigned).
struct CombineMul {
    template <class T> __device__ T operator()(T o, T x) const { return o * x; }
    __device__ i64 operator()(i64 o, i64 x) const {
        return (i64)((unsigned long long)o * (unsigned long long)x);
    }
};
struct CombineMax {
    template <class T> __device__ T operator()(T o, T x) const { return (o != o || o >= x) ? o : x; }
};
struct CombineMin {
    template <class T> __device__ T operator()(T o, T x) const { return (o != o || o <= x) ? o : x; }
};

template <class T, class Combine>
__device__ void scatter_combine_kernel(const T *src, const i64 *index, T *out, i64 n, i64 out_size) {
    TT_GRID_STRIDE(i, n) {
        const i64 j = index[i];
        if (j >= 0 && j < out_size) tt_atomic_combine(out + j, src[i], Combine());
    }
}

#define TT_SCATTER_COMBINE(T, SUF)                                                             \
    extern "C" __global__ void scatter_mul_##SUF(const T *src, const i64 *index, T *out, i64 n, i64 out_size) { \
        scatter_combine_kernel<T, CombineMul>(src, index, out, n, out_size);                   \
    }                                                                                          \
    extern "C" __global__ void scatter_max_##SUF(const T *src, const i64 *index, T *out, i64 n, i64 out_size) { \
        scatter_combine_kernel<T, CombineMax>(src, index, out, n, out_size);                   \
    }                                                                                          \
    extern "C" __global__ void scatter_min_##SUF(const T *src, const i64 *index, T *out, i64 n, i64 out_size) { \
        scatter_combine_kernel<T, CombineMin>(src, index, out, n, out_size);                   \
    }
TT_ARITH_TYPES(TT_SCATTER_COMBINE)
