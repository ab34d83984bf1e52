// common.cuh -- what every tinytorch CUDA kernel file shares.
//
// The Python binding (tinytorch/backend_cuda/__init__.py) pastes this header into each
// .cu file before handing it to pycuda, so this file must not include any other file
// (pycuda hashes the source text to cache the compiled module; a pasted header keeps that
// hash honest and avoids a preprocessor run on every start).
//
// Conventions shared with the binding:
//  * every size, count and index is a 64-bit signed integer (`i64`), so a buffer of more
//    than 2^31 elements is addressed correctly;
//  * kernel parameters are ordered pointers first, then i64 values, then a View struct,
//    then at most one scalar of the element type: every parameter sits at its natural
//    alignment without padding, so pycuda's `prepare` format string ("PPq...") packs them
//    exactly as the kernel expects;
//  * entry points are `extern "C"` and named `<interface function>_<dtype>` (for example
//    `ewise_add_float32`), the numpy backend's names plus the element type.
#ifndef TT_COMMON_CUH
#define TT_COMMON_CUH

typedef long long i64;
typedef unsigned long long u64;

// Threads per block for every launch. Reductions and matmul rely on exactly this value.
#define TT_BLOCK 256
#define TT_WARP 32

// The four element types. `X(ctype, suffix)` is expanded once per type; the suffix is
// the numpy dtype name the binding uses to pick the kernel.
#define TT_FLOAT_TYPES(X) X(float, float32) X(double, float64)
#define TT_ARITH_TYPES(X) TT_FLOAT_TYPES(X) X(i64, int64)
#define TT_ALL_TYPES(X) TT_ARITH_TYPES(X) X(bool, bool)

// Grid-stride loop. Optimization: the grid is sized to fill the GPU once (a few blocks per
// SM) instead of one thread per element, so any n works with a bounded launch, block
// scheduling overhead is paid once, and neighbouring threads touch neighbouring addresses
// on every iteration (coalesced loads and stores). The `i < n` test is the bounds check.
#define TT_GRID_STRIDE(i, n) \
    for (i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x; i < (n); i += (i64)blockDim.x * gridDim.x)

template <class A, class B> struct tt_same { static constexpr bool value = false; };
template <class A> struct tt_same<A, A> { static constexpr bool value = true; };
template <class T> __device__ __forceinline__ constexpr bool tt_is_int() { return tt_same<T, i64>::value; }
template <class T> __device__ __forceinline__ constexpr bool tt_is_float() {
    return tt_same<T, float>::value || tt_same<T, double>::value;
}

// Signed 64-bit overflow is undefined behaviour in C++; numpy wraps around. Doing integer
// arithmetic in unsigned (two's complement) gives numpy's answer with defined behaviour.
__device__ __forceinline__ i64 tt_wrap_add(i64 a, i64 b) { return (i64)((u64)a + (u64)b); }
__device__ __forceinline__ i64 tt_wrap_sub(i64 a, i64 b) { return (i64)((u64)a - (u64)b); }
__device__ __forceinline__ i64 tt_wrap_mul(i64 a, i64 b) { return (i64)((u64)a * (u64)b); }

// ---------------------------------------------------------------------------------------
// Strided views. The binding first merges dimensions that are contiguous with each other
// and drops size-1 dimensions (fewer dimensions = fewer divisions per element), then
// passes what is left by value in this struct.
#define TT_MAX_DIMS 16

struct View {
    i64 ndim;
    i64 offset;                  // element offset of the view's first element
    i64 shape[TT_MAX_DIMS];
    i64 strides[TT_MAX_DIMS];    // in elements; may be zero (broadcast) or negative (flip)
};

// Buffer position of the element with row-major linear index `i` in the view.
// Optimization: 64-bit integer division is many instructions on a GPU; while the
// remaining index and the dimension fit in 32 bits (almost always) we divide in 32 bits.
__device__ __forceinline__ i64 tt_view_position(const View &v, i64 i) {
    i64 pos = v.offset;
    for (int d = (int)v.ndim - 1; d >= 0; --d) {
        const i64 n = v.shape[d];
        i64 q, r;
        if ((u64)i <= 0xffffffffull && (u64)n <= 0xffffffffull) {
            const unsigned qi = (unsigned)i / (unsigned)n;
            q = qi;
            r = (i64)((unsigned)i - qi * (unsigned)n);
        } else {
            q = i / n;
            r = i - q * n;
        }
        pos += r * v.strides[d];
        i = q;
    }
    return pos;
}

#endif  // TT_COMMON_CUH
