// Device status, memory and copies. Linked with the static CUDA runtime: with no driver every call returns an
// error (cudaErrorInsufficientDriver / cudaErrorNoDevice), which vlmc_status() reports instead of failing to load.
#include "vlm4j/cuda_kernels.h"
#include "check.cuh"

#include <algorithm>
#include <cstdio>
#include <cstring>
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

namespace {

bool capturing() {
    cudaStreamCaptureStatus st = cudaStreamCaptureStatusNone;
    if (cudaStreamIsCapturing(current_stream, &st) != cudaSuccess) {
        cudaGetLastError();
        return false;
    }
    return st != cudaStreamCaptureStatusNone;
}

// The device's default memory pool keeps what is freed (release threshold = everything), so after the first
// forward every allocation of a tower is served from cached blocks without cudaMalloc/cudaFree round trips.
void configure_pool(const char* fn) {
    static int configured[64];
    int dev = 0;
    VLMC_CHECK(fn, cudaGetDevice(&dev));
    if (dev < 0 || dev >= 64 || configured[dev]) return;
    cudaMemPool_t pool;
    VLMC_CHECK(fn, cudaDeviceGetDefaultMemPool(&pool, dev));
    uint64_t keep = UINT64_MAX;
    VLMC_CHECK(fn, cudaMemPoolSetAttribute(pool, cudaMemPoolAttrReleaseThreshold, &keep));
    configured[dev] = 1;
}

// Uploads go through two pinned staging buffers, so the DMA engine reads page-locked memory and the copy of the
// next chunk into one buffer overlaps the transfer of the other; events say when a buffer may be refilled.
struct Staging {
    static constexpr size_t chunk = size_t(8) << 20;
    void* buf[2] = {nullptr, nullptr};
    cudaEvent_t done[2] = {nullptr, nullptr};
    int device = -1;
    ~Staging() { release(); }
    void release() {
        for (int i = 0; i < 2; ++i) {
            if (done[i]) cudaEventSynchronize(done[i]), cudaEventDestroy(done[i]);
            if (buf[i]) cudaFreeHost(buf[i]);
            buf[i] = nullptr;
            done[i] = nullptr;
        }
    }
    void ensure(const char* fn) {
        int dev = 0;
        VLMC_CHECK(fn, cudaGetDevice(&dev));
        if (buf[0] && dev == device) return;
        release();
        for (int i = 0; i < 2; ++i) {
            VLMC_CHECK(fn, cudaHostAlloc(&buf[i], chunk, cudaHostAllocPortable));
            VLMC_CHECK(fn, cudaEventCreateWithFlags(&done[i], cudaEventDisableTiming));
        }
        device = dev;
    }
};
thread_local Staging staging;

}  // namespace

int64_t vlmc_malloc(int64_t bytes) {
    static const char* fn = "vlmc_malloc";
    if (bytes <= 0) vlmc::fail(fn, "bytes must be > 0 (got ", bytes, ")");
    configure_pool(fn);
    void* p = nullptr;
    cudaError_t e = cudaMallocAsync(&p, static_cast<size_t>(bytes), current_stream);
    if (e == cudaErrorMemoryAllocation && !capturing()) {  // give cached blocks back to the driver and try once more
        cudaGetLastError();
        int dev = 0;
        cudaMemPool_t pool;
        if (cudaStreamSynchronize(current_stream) == cudaSuccess && cudaGetDevice(&dev) == cudaSuccess &&
            cudaDeviceGetDefaultMemPool(&pool, dev) == cudaSuccess) {
            cudaMemPoolTrimTo(pool, 0);
        }
        e = cudaMallocAsync(&p, static_cast<size_t>(bytes), current_stream);
    }
    if (e != cudaSuccess) {
        cudaGetLastError();
        size_t free_b = 0, total_b = 0;
        cudaMemGetInfo(&free_b, &total_b);
        cudaGetLastError();
        vlmc::fail(fn, "cannot allocate ", bytes, " bytes on the GPU (", cudaGetErrorString(e), "; ", free_b >> 20,
                   " MiB free of ", total_b >> 20, " MiB)");
    }
    e = cudaMemsetAsync(p, 0, static_cast<size_t>(bytes), current_stream);  // zero-filled, like host tensors
    if (e != cudaSuccess) {
        cudaFreeAsync(p, current_stream);
        vlmc::cuda_fail(fn, "cudaMemsetAsync", e);
    }
    return reinterpret_cast<int64_t>(p);
}

void vlmc_free(int64_t ptr) {
    if (ptr) VLMC_CHECK("vlmc_free", cudaFreeAsync(reinterpret_cast<void*>(ptr), current_stream));
}

void vlmc_pool_stats(int64_t* out) {
    static const char* fn = "vlmc_pool_stats";
    if (!out) vlmc::fail(fn, "out is null");
    size_t free_b = 0, total_b = 0;
    VLMC_CHECK(fn, cudaMemGetInfo(&free_b, &total_b));
    int dev = 0;
    VLMC_CHECK(fn, cudaGetDevice(&dev));
    cudaMemPool_t pool;
    VLMC_CHECK(fn, cudaDeviceGetDefaultMemPool(&pool, dev));
    uint64_t reserved = 0, used = 0;
    VLMC_CHECK(fn, cudaMemPoolGetAttribute(pool, cudaMemPoolAttrReservedMemCurrent, &reserved));
    VLMC_CHECK(fn, cudaMemPoolGetAttribute(pool, cudaMemPoolAttrUsedMemCurrent, &used));
    out[0] = int64_t(free_b);
    out[1] = int64_t(total_b);
    out[2] = int64_t(reserved);
    out[3] = int64_t(used);
}

void vlmc_memcpy_h2d(int64_t dst, const void* src, int64_t bytes) {
    static const char* fn = "vlmc_memcpy_h2d";
    vlmc::check_n(fn, bytes);
    if (bytes == 0) return;
    vlmc::check_ptr(fn, dst, "dst");
    if (!src) vlmc::fail(fn, "src is null");
    if (bytes < (int64_t(1) << 16) || capturing()) {  // small: one plain copy (pageable memory is staged by the driver)
        VLMC_CHECK(fn, cudaMemcpyAsync(reinterpret_cast<void*>(dst), src, size_t(bytes), cudaMemcpyHostToDevice, current_stream));
        VLMC_CHECK(fn, cudaStreamSynchronize(current_stream));  // the caller may reuse src once this returns
        return;
    }
    staging.ensure(fn);
    const char* from = static_cast<const char*>(src);
    char* to = reinterpret_cast<char*>(dst);
    int i = 0;
    for (int64_t off = 0; off < bytes; off += int64_t(Staging::chunk), i ^= 1) {
        const size_t n = size_t(std::min<int64_t>(bytes - off, int64_t(Staging::chunk)));
        VLMC_CHECK(fn, cudaEventSynchronize(staging.done[i]));  // this buffer's previous transfer has finished
        std::memcpy(staging.buf[i], from + off, n);
        VLMC_CHECK(fn, cudaMemcpyAsync(to + off, staging.buf[i], n, cudaMemcpyHostToDevice, current_stream));
        VLMC_CHECK(fn, cudaEventRecord(staging.done[i], current_stream));
    }
    // src is no longer read: the caller may reuse it at once; the device copy is ordered on the stream
}

void vlmc_memcpy_d2h(void* dst, int64_t src, int64_t bytes) {
    static const char* fn = "vlmc_memcpy_d2h";
    vlmc::check_n(fn, bytes);
    if (bytes == 0) return;
    vlmc::check_ptr(fn, src, "src");
    if (!dst) vlmc::fail(fn, "dst is null");
    VLMC_CHECK(fn, cudaMemcpyAsync(dst, reinterpret_cast<const void*>(src), size_t(bytes), cudaMemcpyDeviceToHost, current_stream));
    VLMC_CHECK(fn, cudaStreamSynchronize(current_stream));
}

void vlmc_memcpy_d2d(int64_t dst, int64_t src, int64_t bytes) {
    static const char* fn = "vlmc_memcpy_d2d";
    vlmc::check_n(fn, bytes);
    if (bytes == 0) return;
    vlmc::check_ptr(fn, dst, "dst");
    vlmc::check_ptr(fn, src, "src");
    VLMC_CHECK(fn, cudaMemcpyAsync(reinterpret_cast<void*>(dst), reinterpret_cast<const void*>(src), size_t(bytes),
                                   cudaMemcpyDeviceToDevice, current_stream));
}

void vlmc_memcpy_2d(int64_t dst, int64_t dst_pitch, int64_t src, int64_t src_pitch, int64_t width, int64_t rows) {
    static const char* fn = "vlmc_memcpy_2d";
    vlmc::check_n(fn, width);
    vlmc::check_n(fn, rows);
    if (width == 0 || rows == 0) return;
    vlmc::check_ptr(fn, dst, "dst");
    vlmc::check_ptr(fn, src, "src");
    if (dst_pitch < width || src_pitch < width) vlmc::fail(fn, "pitches (", dst_pitch, ", ", src_pitch, ") smaller than width ", width);
    VLMC_CHECK(fn, cudaMemcpy2DAsync(reinterpret_cast<void*>(dst), size_t(dst_pitch), reinterpret_cast<const void*>(src),
                                     size_t(src_pitch), size_t(width), size_t(rows), cudaMemcpyDeviceToDevice, current_stream));
}

// ---- CUDA graphs: capture the calling thread's stream, replay the whole sequence with one launch ----

void vlmc_graph_begin() {
    static const char* fn = "vlmc_graph_begin";
    if (!current_stream) vlmc::fail(fn, "the legacy default stream cannot be captured: set a stream first (vlmc_set_stream)");
    // relaxed: the pool's cudaMallocAsync/cudaFreeAsync become graph memory nodes; nothing else may sync meanwhile
    VLMC_CHECK(fn, cudaStreamBeginCapture(current_stream, cudaStreamCaptureModeRelaxed));
}

int64_t vlmc_graph_end() {
    static const char* fn = "vlmc_graph_end";
    cudaGraph_t graph = nullptr;
    VLMC_CHECK(fn, cudaStreamEndCapture(current_stream, &graph));
    cudaGraphExec_t exec = nullptr;
    const cudaError_t e = cudaGraphInstantiate(&exec, graph, 0);
    cudaGraphDestroy(graph);
    if (e != cudaSuccess) vlmc::cuda_fail(fn, "cudaGraphInstantiate", e);
    return reinterpret_cast<int64_t>(exec);
}

void vlmc_graph_abort() {
    cudaGraph_t graph = nullptr;
    if (cudaStreamEndCapture(current_stream, &graph) == cudaSuccess && graph) cudaGraphDestroy(graph);
    cudaGetLastError();
}

void vlmc_graph_launch(int64_t exec) {
    static const char* fn = "vlmc_graph_launch";
    vlmc::check_ptr(fn, exec, "graph");
    VLMC_CHECK(fn, cudaGraphLaunch(reinterpret_cast<cudaGraphExec_t>(exec), current_stream));
}

void vlmc_graph_destroy(int64_t exec) {
    if (exec) VLMC_CHECK("vlmc_graph_destroy", cudaGraphExecDestroy(reinterpret_cast<cudaGraphExec_t>(exec)));
}

int vlmc_is_capturing() { return capturing() ? 1 : 0; }

void vlmc_synchronize() { VLMC_CHECK("vlmc_synchronize", cudaDeviceSynchronize()); }
