// Elementwise kernels (activations, add, dtype conversion) for F32, F16 and BF16 tensors; math in fp32.
// Memory-bound: grid-stride loops over vectors of 8 bytes... kept scalar-per-thread here, one element per
// iteration, since the load/store width is the dtype's; the harness (cuda/dev/elementwise.cu) reports GB/s.
#include "vlm4j/cuda_kernels.h"
#include "check.cuh"

#include <cuda_bf16.h>
#include <cuda_fp16.h>

namespace {

template <typename T> __device__ inline float to_f(T v);
template <> __device__ inline float to_f<float>(float v) { return v; }
template <> __device__ inline float to_f<__half>(__half v) { return __half2float(v); }
template <> __device__ inline float to_f<__nv_bfloat16>(__nv_bfloat16 v) { return __bfloat162float(v); }

template <typename T> __device__ inline T from_f(float v);
template <> __device__ inline float from_f<float>(float v) { return v; }
template <> __device__ inline __half from_f<__half>(float v) { return __float2half_rn(v); }
template <> __device__ inline __nv_bfloat16 from_f<__nv_bfloat16>(float v) { return __float2bfloat16_rn(v); }

__device__ inline float activate(float x, int act) {
    switch (act) {
        case 1: return 0.5f * x * erfcf(-x * 0.70710678118654752f);           // exact GELU, no cancellation
        case 2: return x / (1.0f + expf(-1.702f * x));                          // QuickGELU
        case 3: {                                                               // tanh GELU as x * sigmoid(2u)
            const float u = 0.79788456080286536f * (x + 0.044715f * x * x * x);
            return x / (1.0f + expf(-2.0f * u));
        }
        default: return x;
    }
}

template <typename T>
__global__ void activation_kernel(const T* __restrict__ x, T* __restrict__ out, int64_t n, int act) {
    for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
        out[i] = from_f<T>(activate(to_f(x[i]), act));
    }
}

template <typename T>
__global__ void add_kernel(const T* __restrict__ a, const T* __restrict__ b, T* __restrict__ out, int64_t n) {
    for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
        out[i] = from_f<T>(to_f(a[i]) + to_f(b[i]));
    }
}

template <typename S, typename D>
__global__ void convert_kernel(const S* __restrict__ src, D* __restrict__ dst, int64_t n) {
    for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
        dst[i] = from_f<D>(to_f(src[i]));
    }
}

constexpr int threads = 256;

unsigned blocks_for(int64_t n) {
    const int64_t b = (n + threads - 1) / threads;
    return static_cast<unsigned>(b < 65536 * 8 ? b : 65536 * 8);  // grid-stride loops cover the rest
}

void check_dtype(const char* fn, int dtype) {
    if (dtype < 0 || dtype > 2) vlmc::fail(fn, "dtype must be 0 (F32), 1 (F16) or 2 (BF16), got ", dtype);
}

template <typename F>
void dispatch(int dtype, F&& f) {
    switch (dtype) {
        case 0: f(float{}); break;
        case 1: f(__half{}); break;
        default: f(__nv_bfloat16{}); break;
    }
}

}  // namespace

void vlmc_activation(int dtype, int act, int64_t x, int64_t out, int64_t n) {
    static const char* fn = "vlmc_activation";
    check_dtype(fn, dtype);
    if (act < 0 || act > 3) vlmc::fail(fn, "act must be 0..3, got ", act);
    vlmc::check_n(fn, n);
    if (n == 0) return;
    vlmc::check_ptr(fn, x, "x");
    vlmc::check_ptr(fn, out, "out");
    dispatch(dtype, [&](auto t) {
        using T = decltype(t);
        activation_kernel<T><<<blocks_for(n), threads>>>(reinterpret_cast<const T*>(x), reinterpret_cast<T*>(out), n, act);
    });
    VLMC_CHECK(fn, cudaGetLastError());
}

void vlmc_add(int dtype, int64_t a, int64_t b, int64_t out, int64_t n) {
    static const char* fn = "vlmc_add";
    check_dtype(fn, dtype);
    vlmc::check_n(fn, n);
    if (n == 0) return;
    vlmc::check_ptr(fn, a, "a");
    vlmc::check_ptr(fn, b, "b");
    vlmc::check_ptr(fn, out, "out");
    dispatch(dtype, [&](auto t) {
        using T = decltype(t);
        add_kernel<T><<<blocks_for(n), threads>>>(reinterpret_cast<const T*>(a), reinterpret_cast<const T*>(b),
                                                  reinterpret_cast<T*>(out), n);
    });
    VLMC_CHECK(fn, cudaGetLastError());
}

void vlmc_convert(int src_dtype, int64_t src, int dst_dtype, int64_t dst, int64_t n) {
    static const char* fn = "vlmc_convert";
    check_dtype(fn, src_dtype);
    check_dtype(fn, dst_dtype);
    vlmc::check_n(fn, n);
    if (n == 0) return;
    vlmc::check_ptr(fn, src, "src");
    vlmc::check_ptr(fn, dst, "dst");
    dispatch(src_dtype, [&](auto s) {
        using S = decltype(s);
        dispatch(dst_dtype, [&](auto d) {
            using D = decltype(d);
            convert_kernel<S, D><<<blocks_for(n), threads>>>(reinterpret_cast<const S*>(src), reinterpret_cast<D*>(dst), n);
        });
    });
    VLMC_CHECK(fn, cudaGetLastError());
}
