// Elementwise kernels (activations, add, dtype conversion) for F32, F16 and BF16 tensors; math in fp32.
// Memory-bound grid-stride loops, one element per thread and iteration (variant 1; vectorized loads are the next
// variant); the harness (cuda/dev/elementwise.cu) reports GB/s against the device's peak.
#include "vlm4j/cuda_kernels.h"
#include "dtype.cuh"

namespace {

using vlmc::activate;
using vlmc::check_dtype;
using vlmc::dispatch;
using vlmc::from_f;
using vlmc::to_f;

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

template <typename T>
__global__ void add_row_kernel(T* __restrict__ x, const T* __restrict__ row, int64_t n, int64_t dim) {
    for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
        x[i] = from_f<T>(to_f(x[i]) + to_f(row[i % dim]));
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
        activation_kernel<T><<<blocks_for(n), threads, 0, vlmc::stream()>>>(reinterpret_cast<const T*>(x), reinterpret_cast<T*>(out), n, act);
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
        add_kernel<T><<<blocks_for(n), threads, 0, vlmc::stream()>>>(reinterpret_cast<const T*>(a), reinterpret_cast<const T*>(b),
                                                  reinterpret_cast<T*>(out), n);
    });
    VLMC_CHECK(fn, cudaGetLastError());
}

void vlmc_add_row(int dtype, int64_t x, int64_t row, int64_t rows, int64_t dim) {
    static const char* fn = "vlmc_add_row";
    check_dtype(fn, dtype);
    vlmc::check_n(fn, rows);
    if (dim <= 0) vlmc::fail(fn, "dim must be > 0 (got ", dim, ")");
    if (rows == 0) return;
    vlmc::check_ptr(fn, x, "x");
    vlmc::check_ptr(fn, row, "row");
    const int64_t n = rows * dim;
    dispatch(dtype, [&](auto t) {
        using T = decltype(t);
        add_row_kernel<T><<<blocks_for(n), threads, 0, vlmc::stream()>>>(reinterpret_cast<T*>(x), reinterpret_cast<const T*>(row), n, dim);
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
            convert_kernel<S, D><<<blocks_for(n), threads, 0, vlmc::stream()>>>(reinterpret_cast<const S*>(src), reinterpret_cast<D*>(dst), n);
        });
    });
    VLMC_CHECK(fn, cudaGetLastError());
}
