// Embedding-side kernels: row gather (token embeddings) with id checks, EOS pooling, and the im2col that turns the
// patch-embedding convolution into a GEMM. Data errors found on the device (an id out of range, a row without
// its EOS token) are reported through a device flag and thrown on the host, naming the index.
#include "vlm4j/cuda_kernels.h"
#include "dtype.cuh"

#include <climits>
#include <sstream>
#include <stdexcept>

namespace {

using vlmc::from_f;
using vlmc::to_f;

template <typename T>
__global__ void gather_kernel(const T* __restrict__ table, int64_t rows, int64_t dim, const int32_t* __restrict__ ids,
                              int64_t n, T* __restrict__ out, unsigned long long* bad) {
    for (int64_t i = blockIdx.x; i < n; i += gridDim.x) {
        const int32_t id = ids[i];
        if (id < 0 || id >= rows) {
            if (threadIdx.x == 0 && bad) atomicMin(bad, static_cast<unsigned long long>(i));
            continue;
        }
        for (int64_t j = threadIdx.x; j < dim; j += blockDim.x) out[i * dim + j] = table[id * dim + j];
    }
}

// One block per batch row: thread 0 finds the position, then the block copies the hidden row.
template <typename T>
__global__ void eos_pool_kernel(const T* __restrict__ hidden, const int32_t* __restrict__ ids, int64_t len, int64_t dim,
                                int64_t eos_id, T* __restrict__ out, int64_t* positions, unsigned long long* bad) {
    __shared__ int64_t pos;
    const int64_t b = blockIdx.x;
    if (threadIdx.x == 0) {
        int64_t p = -1;
        if (eos_id < 0) {
            p = 0;
            for (int64_t t = 1; t < len; ++t) if (ids[b * len + t] > ids[b * len + p]) p = t;  // first maximum
        } else {
            for (int64_t t = 0; t < len && p < 0; ++t) if (ids[b * len + t] == eos_id) p = t;
        }
        if (p < 0 && bad) atomicMin(bad, static_cast<unsigned long long>(b));
        pos = p;
        if (positions) positions[b] = p;
    }
    __syncthreads();
    if (pos < 0) return;
    for (int64_t j = threadIdx.x; j < dim; j += blockDim.x) out[b * dim + j] = hidden[(b * len + pos) * dim + j];
}

template <typename T>
__global__ void im2col_kernel(const float* __restrict__ px, int64_t c, int64_t h, int64_t w, int64_t p, int64_t gh,
                              int64_t gw, int64_t total, T* __restrict__ cols) {
    const int64_t kdim = c * p * p;
    for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < total; e += int64_t(gridDim.x) * blockDim.x) {
        const int64_t row = e / kdim, col = e % kdim;
        const int64_t img = row / (gh * gw), g = row % (gh * gw), gy = g / gw, gx = g % gw;
        const int64_t ch = col / (p * p), dy = (col / p) % p, dx = col % p;
        cols[e] = from_f<T>(px[((img * c + ch) * h + gy * p + dy) * w + gx * p + dx]);
    }
}

// Device flag for data errors: ULLONG_MAX = none, else the smallest failing index. While the stream is being
// captured into a CUDA graph nothing may synchronize, so there is no flag (the kernels then skip bad rows and the
// caller validates its inputs before each replay).
struct Flag {
    unsigned long long* d = nullptr;
    explicit Flag(const char* fn) {
        if (vlmc_is_capturing()) return;
        d = reinterpret_cast<unsigned long long*>(vlmc_malloc(sizeof *d));
        const cudaError_t e = cudaMemsetAsync(d, 0xff, sizeof *d, vlmc::stream());  // all ones = ULLONG_MAX
        if (e != cudaSuccess) {
            vlmc_free(reinterpret_cast<int64_t>(d));
            vlmc::cuda_fail(fn, "cudaMemsetAsync", e);
        }
    }
    Flag(const Flag&) = delete;
    Flag& operator=(const Flag&) = delete;
    ~Flag() {
        if (d) cudaFreeAsync(d, vlmc::stream());
    }
    unsigned long long read(const char* fn) const {
        unsigned long long v = ULLONG_MAX;
        if (d) vlmc_memcpy_d2h(&v, reinterpret_cast<int64_t>(d), sizeof v);  // waits for the kernel on the stream
        (void)fn;
        return v;
    }
};

}  // namespace

void vlmc_gather_rows(int dtype, int64_t table, int64_t rows, int64_t dim, int64_t ids, int64_t n, int64_t out) {
    static const char* fn = "vlmc_gather_rows";
    vlmc::check_dtype(fn, dtype);
    vlmc::check_n(fn, n);
    if (rows <= 0 || dim <= 0) vlmc::fail(fn, "rows and dim must be > 0 (got ", rows, ", ", dim, ")");
    if (n == 0) return;
    vlmc::check_ptr(fn, table, "table");
    vlmc::check_ptr(fn, ids, "ids");
    vlmc::check_ptr(fn, out, "out");
    Flag bad(fn);
    const unsigned blocks = static_cast<unsigned>(n < 65535 ? n : 65535);
    vlmc::dispatch(dtype, [&](auto t) {
        using T = decltype(t);
        gather_kernel<T><<<blocks, 128, 0, vlmc::stream()>>>(reinterpret_cast<const T*>(table), rows, dim, reinterpret_cast<const int32_t*>(ids), n,
                                          reinterpret_cast<T*>(out), bad.d);
    });
    VLMC_CHECK(fn, cudaGetLastError());
    const unsigned long long i = bad.read(fn);
    if (i != ULLONG_MAX) {
        int32_t id = 0;
        vlmc_memcpy_d2h(&id, ids + int64_t(i) * int64_t(sizeof id), sizeof id);
        vlmc::fail(fn, "ids[", i, "] = ", id, " is out of range [0, ", rows, ")");
    }
}

void vlmc_eos_pool(int dtype, int64_t hidden, int64_t ids, int64_t batch, int64_t len, int64_t dim, int64_t eos_id,
                   int64_t out, int64_t positions) {
    static const char* fn = "vlmc_eos_pool";
    vlmc::check_dtype(fn, dtype);
    vlmc::check_n(fn, batch);
    if (len <= 0 || dim <= 0) vlmc::fail(fn, "len and dim must be > 0 (got ", len, ", ", dim, ")");
    if (batch == 0) return;
    if (batch > 0x7fffffff) vlmc::fail(fn, "batch must be < 2^31");
    vlmc::check_ptr(fn, hidden, "hidden");
    vlmc::check_ptr(fn, ids, "ids");
    vlmc::check_ptr(fn, out, "out");
    Flag bad(fn);
    vlmc::dispatch(dtype, [&](auto t) {
        using T = decltype(t);
        eos_pool_kernel<T><<<unsigned(batch), 128, 0, vlmc::stream()>>>(reinterpret_cast<const T*>(hidden), reinterpret_cast<const int32_t*>(ids), len,
                                                     dim, eos_id, reinterpret_cast<T*>(out), reinterpret_cast<int64_t*>(positions), bad.d);
    });
    VLMC_CHECK(fn, cudaGetLastError());
    const unsigned long long b = bad.read(fn);
    if (b != ULLONG_MAX) vlmc::fail(fn, "row ", b, " has no EOS token ", eos_id);
}

void vlmc_im2col_patches(int dtype, int64_t pixels, int64_t batch, int64_t channels, int64_t height, int64_t width,
                         int64_t patch, int64_t cols) {
    static const char* fn = "vlmc_im2col_patches";
    vlmc::check_dtype(fn, dtype);
    vlmc::check_n(fn, batch);
    if (channels <= 0 || patch <= 0 || height < patch || width < patch) {
        vlmc::fail(fn, "need channels > 0 and an image of at least one patch (", channels, "x", height, "x", width, ", patch ", patch, ")");
    }
    if (batch == 0) return;
    vlmc::check_ptr(fn, pixels, "pixels");
    vlmc::check_ptr(fn, cols, "cols");
    const int64_t gh = height / patch, gw = width / patch;
    const int64_t total = batch * gh * gw * channels * patch * patch;
    const int64_t blocks = (total + 255) / 256;
    vlmc::dispatch(dtype, [&](auto t) {
        using T = decltype(t);
        im2col_kernel<T><<<unsigned(blocks < 65535 * 16 ? blocks : 65535 * 16), 256, 0, vlmc::stream()>>>(
            reinterpret_cast<const float*>(pixels), channels, height, width, patch, gh, gw, total, reinterpret_cast<T*>(cols));
    });
    VLMC_CHECK(fn, cudaGetLastError());
}
