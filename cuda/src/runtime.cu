// Device status, memory and copies. Linked with the static CUDA runtime: with no driver every call returns an
// error (cudaErrorInsufficientDriver / cudaErrorNoDevice), which vlmc_status() reports instead of failing to load.
#include "vlm4j/cuda_kernels.h"
#include "check.cuh"

#include <cstdio>
#include <string>

namespace {
__global__ void probe_kernel(int* out) {
    if (out) *out = 1;
}
thread_local std::string status_text;
thread_local cudaStream_t current_stream = nullptr;
}  // namespace

cudaStream_t vlmc::stream() { return current_stream; }

int64_t vlmc_stream_create() {
    cudaStream_t s = nullptr;
    // blocking w.r.t. the legacy default stream, so plain cudaMemcpy elsewhere stays ordered with this stream's work
    VLMC_CHECK("vlmc_stream_create", cudaStreamCreate(&s));
    return reinterpret_cast<int64_t>(s);
}

void vlmc_stream_destroy(int64_t s) {
    if (!s) return;
    if (reinterpret_cast<cudaStream_t>(s) == current_stream) current_stream = nullptr;
    VLMC_CHECK("vlmc_stream_destroy", cudaStreamDestroy(reinterpret_cast<cudaStream_t>(s)));
}

void vlmc_set_stream(int64_t s) { current_stream = reinterpret_cast<cudaStream_t>(s); }

int64_t vlmc_get_stream() { return reinterpret_cast<int64_t>(current_stream); }

void vlmc_stream_synchronize() { VLMC_CHECK("vlmc_stream_synchronize", cudaStreamSynchronize(current_stream)); }

const char* vlmc_status() {
    int count = 0;
    cudaError_t e = cudaGetDeviceCount(&count);
    if (e != cudaSuccess) {
        status_text = std::string("unavailable: ") + cudaGetErrorString(e) + " (" + cudaGetErrorName(e) + ")";
        cudaGetLastError();  // clear the sticky error state
        return status_text.c_str();
    }
    if (count == 0) return (status_text = "unavailable: no CUDA device").c_str();
    cudaDeviceProp p{};
    e = cudaGetDeviceProperties(&p, 0);
    if (e != cudaSuccess) return (status_text = std::string("unavailable: ") + cudaGetErrorString(e)).c_str();
    cudaFuncAttributes attr{};
    e = cudaFuncGetAttributes(&attr, probe_kernel);  // fails when no cubin/PTX in this library fits the device
    if (e != cudaSuccess) {
        cudaGetLastError();
        return (status_text = std::string("unavailable: ") + p.name + " (sm_" + std::to_string(p.major) +
                              std::to_string(p.minor) + "): " + cudaGetErrorString(e)).c_str();
    }
    char buf[256];
    std::snprintf(buf, sizeof buf, "available: %s, sm_%d%d, %zu MiB", p.name, p.major, p.minor,
                  static_cast<size_t>(p.totalGlobalMem >> 20));
    return (status_text = buf).c_str();
}

int vlmc_has_kernels() { return 1; }

int64_t vlmc_malloc(int64_t bytes) {
    static const char* fn = "vlmc_malloc";
    if (bytes <= 0) vlmc::fail(fn, "bytes must be > 0 (got ", bytes, ")");
    void* p = nullptr;
    cudaError_t e = cudaMalloc(&p, static_cast<size_t>(bytes));
    if (e != cudaSuccess) {
        cudaGetLastError();
        size_t free_b = 0, total_b = 0;
        cudaMemGetInfo(&free_b, &total_b);
        cudaGetLastError();
        vlmc::fail(fn, "cannot allocate ", bytes, " bytes on the GPU (", cudaGetErrorString(e), "; ", free_b >> 20,
                   " MiB free of ", total_b >> 20, " MiB)");
    }
    e = cudaMemset(p, 0, static_cast<size_t>(bytes));  // zero-filled, like host tensors
    if (e != cudaSuccess) {
        cudaFree(p);
        vlmc::cuda_fail(fn, "cudaMemset", e);
    }
    return reinterpret_cast<int64_t>(p);
}

void vlmc_free(int64_t ptr) {
    if (ptr) VLMC_CHECK("vlmc_free", cudaFree(reinterpret_cast<void*>(ptr)));
}

void vlmc_memcpy_h2d(int64_t dst, const void* src, int64_t bytes) {
    static const char* fn = "vlmc_memcpy_h2d";
    vlmc::check_n(fn, bytes);
    if (bytes == 0) return;
    vlmc::check_ptr(fn, dst, "dst");
    if (!src) vlmc::fail(fn, "src is null");
    VLMC_CHECK(fn, cudaMemcpy(reinterpret_cast<void*>(dst), src, static_cast<size_t>(bytes), cudaMemcpyHostToDevice));
}

void vlmc_memcpy_d2h(void* dst, int64_t src, int64_t bytes) {
    static const char* fn = "vlmc_memcpy_d2h";
    vlmc::check_n(fn, bytes);
    if (bytes == 0) return;
    vlmc::check_ptr(fn, src, "src");
    if (!dst) vlmc::fail(fn, "dst is null");
    VLMC_CHECK(fn, cudaMemcpy(dst, reinterpret_cast<const void*>(src), static_cast<size_t>(bytes), cudaMemcpyDeviceToHost));
}

void vlmc_memcpy_d2d(int64_t dst, int64_t src, int64_t bytes) {
    static const char* fn = "vlmc_memcpy_d2d";
    vlmc::check_n(fn, bytes);
    if (bytes == 0) return;
    vlmc::check_ptr(fn, dst, "dst");
    vlmc::check_ptr(fn, src, "src");
    VLMC_CHECK(fn, cudaMemcpy(reinterpret_cast<void*>(dst), reinterpret_cast<const void*>(src), static_cast<size_t>(bytes),
                              cudaMemcpyDeviceToDevice));
}

void vlmc_synchronize() { VLMC_CHECK("vlmc_synchronize", cudaDeviceSynchronize()); }
