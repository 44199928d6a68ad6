// Row-wise kernels: LayerNorm (optionally fused with the residual add before it), softmax, L2 normalize.
// Variant 1: one block of 256 threads per row, the row staged in shared memory as fp32 (dim <= 12288), two-pass
// mean/variance (no cancellation), block reductions through warp shuffles.
#include "vlm4j/cuda_kernels.h"
#include "dtype.cuh"

namespace {

using vlmc::block_reduce;
using vlmc::from_f;
using vlmc::to_f;

constexpr int threads = 256;
constexpr int64_t max_dim = 12288;  // 48 KiB of fp32 in shared memory

template <typename T>
__global__ void layernorm_kernel(const T* __restrict__ x, const T* __restrict__ r, T* sum_out, const float* __restrict__ gamma,
                                 const float* __restrict__ beta, T* __restrict__ out, int64_t dim, float eps) {
    extern __shared__ float row[];
    const int64_t base = blockIdx.x * dim;
    float s = 0;
    for (int64_t i = threadIdx.x; i < dim; i += blockDim.x) {
        float v = to_f(x[base + i]);
        if (r) v += to_f(r[base + i]);
        row[i] = v;
        s += v;
    }
    const float mean = block_reduce<false>(s) / dim;
    float q = 0;
    for (int64_t i = threadIdx.x; i < dim; i += blockDim.x) {
        const float d = row[i] - mean;
        q += d * d;
    }
    const float inv = rsqrtf(block_reduce<false>(q) / dim + eps);
    for (int64_t i = threadIdx.x; i < dim; i += blockDim.x) {
        if (r) sum_out[base + i] = from_f<T>(row[i]);
        out[base + i] = from_f<T>((row[i] - mean) * inv * gamma[i] + beta[i]);
    }
}

template <typename T>
__global__ void softmax_kernel(const T* __restrict__ x, T* __restrict__ out, int64_t dim) {
    extern __shared__ float row[];
    const int64_t base = blockIdx.x * dim;
    float m = -INFINITY;
    for (int64_t i = threadIdx.x; i < dim; i += blockDim.x) {
        row[i] = to_f(x[base + i]);
        m = fmaxf(m, row[i]);
    }
    m = block_reduce<true>(m);
    float s = 0;
    for (int64_t i = threadIdx.x; i < dim; i += blockDim.x) {
        row[i] = m == -INFINITY ? 0.0f : expf(row[i] - m);  // an all -inf row gives zeros, not NaN
        s += row[i];
    }
    s = block_reduce<false>(s);
    const float inv = s > 0 ? 1.0f / s : 0.0f;
    for (int64_t i = threadIdx.x; i < dim; i += blockDim.x) out[base + i] = from_f<T>(row[i] * inv);
}

template <typename T>
__global__ void l2_kernel(const T* __restrict__ x, T* __restrict__ out, int64_t dim, float eps) {
    const int64_t base = blockIdx.x * dim;
    float s = 0;
    for (int64_t i = threadIdx.x; i < dim; i += blockDim.x) {
        const float v = to_f(x[base + i]);
        s += v * v;
    }
    const float inv = 1.0f / fmaxf(sqrtf(block_reduce<false>(s)), eps);
    for (int64_t i = threadIdx.x; i < dim; i += blockDim.x) out[base + i] = from_f<T>(to_f(x[base + i]) * inv);
}

void check_rows(const char* fn, int64_t rows, int64_t dim, bool staged) {
    vlmc::check_n(fn, rows);
    if (dim <= 0) vlmc::fail(fn, "dim must be > 0 (got ", dim, ")");
    if (rows > 0x7fffffff) vlmc::fail(fn, "rows must be < 2^31 (got ", rows, ")");
    if (staged && dim > max_dim) vlmc::fail(fn, "dim must be <= ", max_dim, " (got ", dim, ")");
}

}  // namespace

void vlmc_layernorm(int dtype, int64_t x, int64_t r, int64_t sum_out, int64_t gamma, int64_t beta, int64_t out,
                    int64_t rows, int64_t dim, float eps) {
    static const char* fn = "vlmc_layernorm";
    vlmc::check_dtype(fn, dtype);
    check_rows(fn, rows, dim, true);
    if (!(eps > 0)) vlmc::fail(fn, "eps must be > 0");
    if (rows == 0) return;
    vlmc::check_ptr(fn, x, "x");
    vlmc::check_ptr(fn, gamma, "gamma");
    vlmc::check_ptr(fn, beta, "beta");
    vlmc::check_ptr(fn, out, "out");
    if (r && !sum_out) vlmc::fail(fn, "sum_out is null while r is given");
    vlmc::dispatch(dtype, [&](auto t) {
        using T = decltype(t);
        layernorm_kernel<T><<<unsigned(rows), threads, dim * sizeof(float), vlmc::stream()>>>(
            reinterpret_cast<const T*>(x), reinterpret_cast<const T*>(r), reinterpret_cast<T*>(sum_out),
            reinterpret_cast<const float*>(gamma), reinterpret_cast<const float*>(beta), reinterpret_cast<T*>(out), dim, eps);
    });
    VLMC_CHECK(fn, cudaGetLastError());
}

void vlmc_softmax(int dtype, int64_t x, int64_t out, int64_t rows, int64_t dim) {
    static const char* fn = "vlmc_softmax";
    vlmc::check_dtype(fn, dtype);
    check_rows(fn, rows, dim, true);
    if (rows == 0) return;
    vlmc::check_ptr(fn, x, "x");
    vlmc::check_ptr(fn, out, "out");
    vlmc::dispatch(dtype, [&](auto t) {
        using T = decltype(t);
        softmax_kernel<T><<<unsigned(rows), threads, dim * sizeof(float), vlmc::stream()>>>(reinterpret_cast<const T*>(x), reinterpret_cast<T*>(out), dim);
    });
    VLMC_CHECK(fn, cudaGetLastError());
}

void vlmc_l2_normalize(int dtype, int64_t x, int64_t out, int64_t rows, int64_t dim, float eps) {
    static const char* fn = "vlmc_l2_normalize";
    vlmc::check_dtype(fn, dtype);
    check_rows(fn, rows, dim, false);
    if (rows == 0) return;
    vlmc::check_ptr(fn, x, "x");
    vlmc::check_ptr(fn, out, "out");
    vlmc::dispatch(dtype, [&](auto t) {
        using T = decltype(t);
        l2_kernel<T><<<unsigned(rows), threads, 0, vlmc::stream()>>>(reinterpret_cast<const T*>(x), reinterpret_cast<T*>(out), dim, eps);
    });
    VLMC_CHECK(fn, cudaGetLastError());
}
