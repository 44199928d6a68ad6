// Storage types of the CUDA kernels (dtype codes 0 = F32, 1 = F16, 2 = BF16) and fp32 conversions.
#pragma once
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "check.cuh"

namespace vlmc {

template <typename T> __device__ __forceinline__ float to_f(T v);
template <> __device__ __forceinline__ float to_f<float>(float v) { return v; }
template <> __device__ __forceinline__ float to_f<__half>(__half v) { return __half2float(v); }
template <> __device__ __forceinline__ float to_f<__nv_bfloat16>(__nv_bfloat16 v) { return __bfloat162float(v); }

template <typename T> __device__ __forceinline__ T from_f(float v);
template <> __device__ __forceinline__ float from_f<float>(float v) { return v; }
template <> __device__ __forceinline__ __half from_f<__half>(float v) { return __float2half_rn(v); }
template <> __device__ __forceinline__ __nv_bfloat16 from_f<__nv_bfloat16>(float v) { return __float2bfloat16_rn(v); }

inline void check_dtype(const char* fn, int dtype) {
    if (dtype < 0 || dtype > 2) fail(fn, "dtype must be 0 (F32), 1 (F16) or 2 (BF16), got ", dtype);
}

// Calls f with a value of the storage type of `dtype` (to pick template instantiations).
template <typename F>
void dispatch(int dtype, F&& f) {
    switch (dtype) {
        case 0: f(float{}); break;
        case 1: f(__half{}); break;
        default: f(__nv_bfloat16{}); break;
    }
}

__device__ __forceinline__ float activate(float x, int act) {
    switch (act) {
        case 1: return 0.5f * x * erfcf(-x * 0.70710678118654752f);  // exact GELU without cancellation
        case 2: return x / (1.0f + expf(-1.702f * x));                 // QuickGELU
        case 3: {                                                      // tanh GELU as x * sigmoid(2u)
            const float u = 0.79788456080286536f * (x + 0.044715f * x * x * x);
            return x / (1.0f + expf(-2.0f * u));
        }
        default: return x;
    }
}

__device__ __forceinline__ float warp_sum(float v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

__device__ __forceinline__ float warp_max(float v) {
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

// Block-wide sum/max for blockDim.x a multiple of 32 (<= 1024); every thread gets the result.
template <bool MAX>
__device__ float block_reduce(float v) {
    __shared__ float part[32];
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    v = MAX ? warp_max(v) : warp_sum(v);
    __syncthreads();  // part[] may still be read by a previous call
    if (lane == 0) part[warp] = v;
    __syncthreads();
    float t = lane < warps ? part[lane] : (MAX ? -INFINITY : 0.0f);
    return MAX ? warp_max(t) : warp_sum(t);
}

}  // namespace vlmc
