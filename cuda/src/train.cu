// Training kernels besides attention (attention_backward.cu): LayerNorm, activation and L2-normalize backward,
// dropout, fused AdamW, sum of squares (gradient clipping) and in-place scaling. F32/F16/BF16 storage, fp32 math
// (sum of squares in double). Reductions run in a fixed order that depends only on the shapes, so two runs, and two
// GPUs, give bit-identical gradients. cuda/dev/train.cu checks them against float64.
#include "vlm4j/cuda_kernels.h"
#include "dtype.cuh"

#include <algorithm>
#include <climits>
#include <cmath>

namespace {

using vlmc::from_f;
using vlmc::to_f;
using vlmc::warp_sum;

constexpr int threads = 256;

// Sums N values over the block (blockDim.x a multiple of 32); every thread gets the totals.
template <int N>
__device__ void block_sum(float (&v)[N]) {
    __shared__ float part[N][32];
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
#pragma unroll
    for (int k = 0; k < N; ++k) v[k] = warp_sum(v[k]);
    __syncthreads();  // part[] may still be read by the previous call
    if (lane == 0) {
#pragma unroll
        for (int k = 0; k < N; ++k) part[k][warp] = v[k];
    }
    __syncthreads();
#pragma unroll
    for (int k = 0; k < N; ++k) v[k] = warp_sum(lane < warps ? part[k][lane] : 0.0f);
}

unsigned grid_for(int64_t n) {
    const int64_t b = (n + threads - 1) / threads;
    return static_cast<unsigned>(std::min<int64_t>(b, 65536 * 8));  // grid-stride loops cover the rest
}

// ---- LayerNorm backward ----
// One block per row at a time (rows strided over a grid of at most ln_max_blocks blocks), three passes over the row
// (mean; variance with sum g and sum g (x - mean); dx), the row re-read from L1/L2 instead of staged (dx may alias
// dy). dgamma/dbeta: thread t owns columns j = t mod blockDim.x of the block's shared partial sums, so no atomics and
// a fixed summation order; the partials go to the workspace and one column pass adds them up.
constexpr int64_t ln_max_dim = 12288;    // the block's [2, dim] fp32 partials: 96 KiB (opt-in shared memory)
constexpr int64_t ln_max_blocks = 1024;  // fixed, not per device: the order of the dgamma sums depends on it

int64_t ln_blocks(int64_t rows) { return std::min(rows, ln_max_blocks); }

template <typename T>
__global__ void __launch_bounds__(threads) layernorm_backward_kernel(const T* __restrict__ x, const float* __restrict__ gamma,
                                                                     const T* dy, T* dx, int accumulate, float* __restrict__ partial,
                                                                     int64_t rows, int64_t dim, float eps) {
    extern __shared__ float acc[];  // [2][dim]: sum dy * xh, sum dy of this block's rows (when partial != null)
    if (partial) {
        for (int64_t j = threadIdx.x; j < dim; j += blockDim.x) acc[j] = acc[dim + j] = 0.0f;
    }
    const float inv_dim = 1.0f / float(dim);
    for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
        const int64_t base = row * dim;
        float s[1] = {0.0f};
        for (int64_t j = threadIdx.x; j < dim; j += blockDim.x) s[0] += to_f(x[base + j]);
        block_sum(s);
        const float mean = s[0] * inv_dim;
        float t[3] = {0.0f, 0.0f, 0.0f};  // sum (x - mean)^2, sum g, sum g (x - mean)
        for (int64_t j = threadIdx.x; j < dim; j += blockDim.x) {
            const float xm = to_f(x[base + j]) - mean, g = to_f(dy[base + j]) * gamma[j];
            t[0] = fmaf(xm, xm, t[0]);
            t[1] += g;
            t[2] = fmaf(g, xm, t[2]);
        }
        block_sum(t);
        const float rstd = rsqrtf(t[0] * inv_dim + eps);
        const float mean_g = t[1] * inv_dim, mean_gxh = t[2] * rstd * inv_dim;
        for (int64_t j = threadIdx.x; j < dim; j += blockDim.x) {
            const float xh = (to_f(x[base + j]) - mean) * rstd, d = to_f(dy[base + j]);
            float v = (d * gamma[j] - mean_g - xh * mean_gxh) * rstd;
            if (accumulate) v += to_f(dx[base + j]);
            dx[base + j] = from_f<T>(v);
            if (partial) {
                acc[j] = fmaf(d, xh, acc[j]);
                acc[dim + j] += d;
            }
        }
    }
    if (partial) {
        float* const out = partial + int64_t(blockIdx.x) * 2 * dim;
        for (int64_t j = threadIdx.x; j < dim; j += blockDim.x) {
            out[j] = acc[j];
            out[dim + j] = acc[dim + j];
        }
    }
}

// dgamma[j] += sum_b partial[b][0][j], dbeta[j] += sum_b partial[b][1][j], b in block order.
__global__ void layernorm_param_grads(const float* __restrict__ partial, int64_t blocks, int64_t dim, float* dgamma,
                                      float* dbeta) {
    const int64_t j = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
    if (j >= dim) return;
    float g = 0.0f, b = 0.0f;
    for (int64_t k = 0; k < blocks; ++k) {
        g += partial[k * 2 * dim + j];
        b += partial[k * 2 * dim + dim + j];
    }
    if (dgamma) dgamma[j] += g;
    if (dbeta) dbeta[j] += b;
}

// ---- activation backward ----
__device__ __forceinline__ float activation_grad(float x, int act) {
    switch (act) {
        case 1:  // d/dx x Phi(x) = Phi(x) + x phi(x)
            return 0.5f * erfcf(-x * 0.70710678118654752f) + x * 0.39894228040143268f * expf(-0.5f * x * x);
        case 2: {  // d/dx x sigmoid(1.702 x) = s + 1.702 x s (1 - s)
            const float s = 1.0f / (1.0f + expf(-1.702f * x));
            return s + 1.702f * x * s * (1.0f - s);
        }
        case 3: {  // d/dx 0.5 x (1 + tanh u), u = c (x + 0.044715 x^3)
            const float c = 0.79788456080286536f, u = c * (x + 0.044715f * x * x * x), t = tanhf(u);
            const float sech2 = 1.0f - t * t;  // 0 once tanh saturates: skip x^2 (inf for huge x) times 0
            return 0.5f * (1.0f + t) + (sech2 > 0.0f ? 0.5f * x * sech2 * c * (1.0f + 3.0f * 0.044715f * x * x) : 0.0f);
        }
        default: return 1.0f;
    }
}

template <typename T>
__global__ void activation_backward_kernel(const T* __restrict__ x, const T* dy, T* dx, int64_t n, int act) {
    for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
        dx[i] = from_f<T>(activation_grad(to_f(x[i]), act) * to_f(dy[i]));
    }
}

// ---- L2-normalize backward: one block per row ----
template <typename T>
__global__ void l2_backward_kernel(const T* __restrict__ x, const T* dy, T* dx, int64_t dim, float eps) {
    const int64_t base = blockIdx.x * dim;
    float s[2] = {0.0f, 0.0f};  // ||x||^2, <dy, x>
    for (int64_t j = threadIdx.x; j < dim; j += blockDim.x) {
        const float xv = to_f(x[base + j]);
        s[0] = fmaf(xv, xv, s[0]);
        s[1] = fmaf(to_f(dy[base + j]), xv, s[1]);
    }
    block_sum(s);
    const float norm = sqrtf(s[0]);
    if (norm > eps) {  // (dy - <dy, x> x / |x|^2) / |x|
        const float inv = 1.0f / norm, c = s[1] * inv * inv;
        for (int64_t j = threadIdx.x; j < dim; j += blockDim.x)
            dx[base + j] = from_f<T>((to_f(dy[base + j]) - c * to_f(x[base + j])) * inv);
    } else {  // the forward divided by the constant eps
        const float inv = 1.0f / eps;
        for (int64_t j = threadIdx.x; j < dim; j += blockDim.x) dx[base + j] = from_f<T>(to_f(dy[base + j]) * inv);
    }
}

// ---- dropout ----
// splitmix64's finalizer over seed + (i + 1) * golden ratio: the CPU backends' exact mask.
__device__ __forceinline__ bool dropout_keep(uint64_t seed, int64_t i, uint32_t threshold) {
    uint64_t z = seed + (uint64_t(i) + 1) * 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return uint32_t(z >> 32) >= threshold;
}

template <typename T>
__global__ void dropout_kernel(const T* x, T* out, int64_t n, uint64_t seed, uint32_t threshold, float keep) {
    for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
        out[i] = dropout_keep(seed, i, threshold) ? from_f<T>(to_f(x[i]) / keep) : from_f<T>(0.0f);
    }
}

// ---- AdamW ----
struct Adam {
    float decay, beta1, beta2, one_minus_beta1, one_minus_beta2, step_size, bc2_sqrt, eps;
};

__device__ __forceinline__ void adam_update(float& p, float g, float& m, float& v, const Adam& a) {
    m = fmaf(a.beta1, m, a.one_minus_beta1 * g);
    v = fmaf(a.beta2, v, a.one_minus_beta2 * g * g);
    p = p * a.decay - a.step_size * m / (sqrtf(v) / a.bc2_sqrt + a.eps);
}

// vec: every pointer 16-byte aligned, so the first n / 4 * 4 elements go as float4 (4 loads and stores of 16 bytes).
__global__ void adamw_kernel(float* __restrict__ p, const float* __restrict__ g, float* __restrict__ m, float* __restrict__ v,
                             int64_t n, Adam a, int vec) {
    const int64_t stride = int64_t(gridDim.x) * blockDim.x, tid = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
    int64_t done = 0;
    if (vec) {
        const int64_t n4 = n / 4;
        for (int64_t i = tid; i < n4; i += stride) {
            float4 P = reinterpret_cast<float4*>(p)[i], M = reinterpret_cast<float4*>(m)[i], V = reinterpret_cast<float4*>(v)[i];
            const float4 G = reinterpret_cast<const float4*>(g)[i];
            adam_update(P.x, G.x, M.x, V.x, a);
            adam_update(P.y, G.y, M.y, V.y, a);
            adam_update(P.z, G.z, M.z, V.z, a);
            adam_update(P.w, G.w, M.w, V.w, a);
            reinterpret_cast<float4*>(p)[i] = P;
            reinterpret_cast<float4*>(m)[i] = M;
            reinterpret_cast<float4*>(v)[i] = V;
        }
        done = n4 * 4;
    }
    for (int64_t i = done + tid; i < n; i += stride) adam_update(p[i], g[i], m[i], v[i], a);
}

// ---- sum of squares: fixed grid of double partials, then one block adds them in index order ----
constexpr int ss_blocks = 1024;

__device__ double block_sum_double(double v) {
    __shared__ double part[32];
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    __syncthreads();
    if (lane == 0) part[warp] = v;
    __syncthreads();
    v = lane < warps ? part[lane] : 0.0;
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

template <typename T>
__global__ void sum_squares_partial(const T* __restrict__ x, int64_t n, double* __restrict__ partial) {
    double s = 0.0;
    for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
        const double v = to_f(x[i]);
        s = fma(v, v, s);
    }
    s = block_sum_double(s);
    if (threadIdx.x == 0) partial[blockIdx.x] = s;
}

__global__ void sum_squares_final(const double* __restrict__ partial, int count, double* __restrict__ out) {
    double s = 0.0;
    for (int i = threadIdx.x; i < count; i += blockDim.x) s += partial[i];
    s = block_sum_double(s);
    if (threadIdx.x == 0) *out = s;
}

template <typename T>
__global__ void scale_kernel(T* x, int64_t n, float alpha) {
    for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
        x[i] = from_f<T>(alpha * to_f(x[i]));
    }
}

void check_workspace(const char* fn, int64_t workspace, int64_t bytes, int64_t need, int64_t align) {
    if (need == 0) return;
    vlmc::check_ptr(fn, workspace, "workspace");
    if (bytes < need) vlmc::fail(fn, "workspace of ", bytes, " bytes is smaller than the ", need, " needed");
    if (workspace % align != 0) vlmc::fail(fn, "workspace must be ", align, "-byte aligned");
}

}  // namespace

int64_t vlmc_layernorm_backward_workspace(int64_t rows, int64_t dim, int with_param_grads) {
    if (!with_param_grads || rows <= 0 || dim <= 0) return 0;
    return ln_blocks(rows) * 2 * dim * int64_t(sizeof(float));
}

void vlmc_layernorm_backward(int dtype, int64_t x, int64_t gamma, int64_t dy, int64_t dx, int accumulate,
                             int64_t dgamma, int64_t dbeta, int64_t rows, int64_t dim, float eps, int64_t workspace,
                             int64_t workspace_bytes) {
    static const char* fn = "vlmc_layernorm_backward";
    vlmc::check_dtype(fn, dtype);
    vlmc::check_n(fn, rows);
    if (dim <= 0) vlmc::fail(fn, "dim must be > 0 (got ", dim, ")");
    if (dim > ln_max_dim) vlmc::fail(fn, "dim must be <= ", ln_max_dim, " (got ", dim, ")");
    if (!(eps > 0) || !std::isfinite(eps)) vlmc::fail(fn, "eps must be finite and > 0");
    if (rows == 0) return;
    vlmc::check_ptr(fn, x, "x");
    vlmc::check_ptr(fn, gamma, "gamma");
    vlmc::check_ptr(fn, dy, "dy");
    vlmc::check_ptr(fn, dx, "dx");
    if (accumulate && dx == dy) vlmc::fail(fn, "dx may not alias dy when accumulating");
    const bool params = dgamma || dbeta;
    check_workspace(fn, workspace, workspace_bytes, vlmc_layernorm_backward_workspace(rows, dim, params), 4);
    const int64_t blocks = ln_blocks(rows);
    const size_t smem = params ? size_t(2 * dim) * sizeof(float) : 0;
    float* const partial = params ? reinterpret_cast<float*>(workspace) : nullptr;
    vlmc::dispatch(dtype, [&](auto t) {
        using T = decltype(t);
        if (smem > 48 * 1024) {
            static const bool raised = [] {  // once per instantiation, to the largest dim allowed
                VLMC_CHECK(fn, cudaFuncSetAttribute(layernorm_backward_kernel<T>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                                    int(2 * ln_max_dim * sizeof(float))));
                return true;
            }();
            (void)raised;
        }
        layernorm_backward_kernel<T><<<unsigned(blocks), threads, smem, vlmc::stream()>>>(
            reinterpret_cast<const T*>(x), reinterpret_cast<const float*>(gamma), reinterpret_cast<const T*>(dy),
            reinterpret_cast<T*>(dx), accumulate ? 1 : 0, partial, rows, dim, eps);
    });
    VLMC_CHECK(fn, cudaGetLastError());
    if (params) {
        layernorm_param_grads<<<unsigned((dim + threads - 1) / threads), threads, 0, vlmc::stream()>>>(
            partial, blocks, dim, reinterpret_cast<float*>(dgamma), reinterpret_cast<float*>(dbeta));
        VLMC_CHECK(fn, cudaGetLastError());
    }
}

void vlmc_activation_backward(int dtype, int act, int64_t x, int64_t dy, int64_t dx, int64_t n) {
    static const char* fn = "vlmc_activation_backward";
    vlmc::check_dtype(fn, dtype);
    if (act < 0 || act > 3) vlmc::fail(fn, "act must be 0..3, got ", act);
    vlmc::check_n(fn, n);
    if (n == 0) return;
    vlmc::check_ptr(fn, x, "x");
    vlmc::check_ptr(fn, dy, "dy");
    vlmc::check_ptr(fn, dx, "dx");
    vlmc::dispatch(dtype, [&](auto t) {
        using T = decltype(t);
        activation_backward_kernel<T><<<grid_for(n), threads, 0, vlmc::stream()>>>(
            reinterpret_cast<const T*>(x), reinterpret_cast<const T*>(dy), reinterpret_cast<T*>(dx), n, act);
    });
    VLMC_CHECK(fn, cudaGetLastError());
}

void vlmc_l2_normalize_backward(int dtype, int64_t x, int64_t dy, int64_t dx, int64_t rows, int64_t dim, float eps) {
    static const char* fn = "vlmc_l2_normalize_backward";
    vlmc::check_dtype(fn, dtype);
    vlmc::check_n(fn, rows);
    if (dim <= 0) vlmc::fail(fn, "dim must be > 0 (got ", dim, ")");
    if (rows > INT_MAX) vlmc::fail(fn, "rows must be < 2^31 (got ", rows, ")");
    if (!(eps >= 0) || !std::isfinite(eps)) vlmc::fail(fn, "eps must be finite and >= 0");
    if (rows == 0) return;
    vlmc::check_ptr(fn, x, "x");
    vlmc::check_ptr(fn, dy, "dy");
    vlmc::check_ptr(fn, dx, "dx");
    vlmc::dispatch(dtype, [&](auto t) {
        using T = decltype(t);
        l2_backward_kernel<T><<<unsigned(rows), threads, 0, vlmc::stream()>>>(
            reinterpret_cast<const T*>(x), reinterpret_cast<const T*>(dy), reinterpret_cast<T*>(dx), dim, eps);
    });
    VLMC_CHECK(fn, cudaGetLastError());
}

void vlmc_dropout(int dtype, int64_t x, int64_t out, int64_t n, float p, int64_t seed) {
    static const char* fn = "vlmc_dropout";
    vlmc::check_dtype(fn, dtype);
    vlmc::check_n(fn, n);
    if (!(p >= 0.0f && p < 1.0f)) vlmc::fail(fn, "p must be in [0, 1), got ", p);
    if (n == 0) return;
    vlmc::check_ptr(fn, x, "x");
    vlmc::check_ptr(fn, out, "out");
    // p * 2^32 is exact in double (a float times a power of two)
    const uint32_t threshold = uint32_t(std::min(std::floor(double(p) * 4294967296.0), 4294967295.0));
    vlmc::dispatch(dtype, [&](auto t) {
        using T = decltype(t);
        dropout_kernel<T><<<grid_for(n), threads, 0, vlmc::stream()>>>(reinterpret_cast<const T*>(x), reinterpret_cast<T*>(out),
                                                                      n, uint64_t(seed), threshold, 1.0f - p);
    });
    VLMC_CHECK(fn, cudaGetLastError());
}

void vlmc_adamw(int64_t param, int64_t grad, int64_t m, int64_t v, int64_t n, float lr, float beta1, float beta2,
                float eps, float weight_decay, int64_t step) {
    static const char* fn = "vlmc_adamw";
    vlmc::check_n(fn, n);
    if (!(lr >= 0) || !std::isfinite(lr)) vlmc::fail(fn, "lr must be finite and >= 0, got ", lr);
    if (!(beta1 >= 0 && beta1 < 1)) vlmc::fail(fn, "beta1 must be in [0, 1), got ", beta1);
    if (!(beta2 >= 0 && beta2 < 1)) vlmc::fail(fn, "beta2 must be in [0, 1), got ", beta2);
    if (!(eps > 0) || !std::isfinite(eps)) vlmc::fail(fn, "eps must be finite and > 0, got ", eps);
    if (!(weight_decay >= 0) || !std::isfinite(weight_decay)) vlmc::fail(fn, "weight_decay must be finite and >= 0");
    if (step < 1) vlmc::fail(fn, "step must be >= 1, got ", step);
    if (n == 0) return;
    vlmc::check_ptr(fn, param, "param");
    vlmc::check_ptr(fn, grad, "grad");
    vlmc::check_ptr(fn, m, "m");
    vlmc::check_ptr(fn, v, "v");
    // bias corrections in double on the host, as PyTorch computes them in Python floats
    const double bc1 = 1.0 - std::pow(double(beta1), double(step)), bc2 = 1.0 - std::pow(double(beta2), double(step));
    const Adam a{float(1.0 - double(lr) * weight_decay), beta1, beta2, 1.0f - beta1, 1.0f - beta2, float(lr / bc1),
                 float(std::sqrt(bc2)), eps};
    const int vec = ((param | grad | m | v) % 16) == 0 ? 1 : 0;
    adamw_kernel<<<grid_for(vec ? (n + 3) / 4 : n), threads, 0, vlmc::stream()>>>(
        reinterpret_cast<float*>(param), reinterpret_cast<const float*>(grad), reinterpret_cast<float*>(m),
        reinterpret_cast<float*>(v), n, a, vec);
    VLMC_CHECK(fn, cudaGetLastError());
}

int64_t vlmc_sum_squares_workspace() { return int64_t(sizeof(double)) * (1 + ss_blocks); }

void vlmc_sum_squares(int dtype, int64_t x, int64_t n, int64_t workspace, int64_t workspace_bytes) {
    static const char* fn = "vlmc_sum_squares";
    vlmc::check_dtype(fn, dtype);
    vlmc::check_n(fn, n);
    check_workspace(fn, workspace, workspace_bytes, vlmc_sum_squares_workspace(), 8);
    double* const out = reinterpret_cast<double*>(workspace);
    if (n == 0) {
        VLMC_CHECK(fn, cudaMemsetAsync(out, 0, sizeof(double), vlmc::stream()));
        return;
    }
    vlmc::check_ptr(fn, x, "x");
    const int blocks = int(std::min<int64_t>((n + threads - 1) / threads, ss_blocks));
    vlmc::dispatch(dtype, [&](auto t) {
        using T = decltype(t);
        sum_squares_partial<T><<<unsigned(blocks), threads, 0, vlmc::stream()>>>(reinterpret_cast<const T*>(x), n, out + 1);
    });
    VLMC_CHECK(fn, cudaGetLastError());
    sum_squares_final<<<1, threads, 0, vlmc::stream()>>>(out + 1, blocks, out);
    VLMC_CHECK(fn, cudaGetLastError());
}

void vlmc_scale(int dtype, int64_t x, int64_t n, float alpha) {
    static const char* fn = "vlmc_scale";
    vlmc::check_dtype(fn, dtype);
    vlmc::check_n(fn, n);
    if (n == 0) return;
    vlmc::check_ptr(fn, x, "x");
    vlmc::dispatch(dtype, [&](auto t) {
        using T = decltype(t);
        scale_kernel<T><<<grid_for(n), threads, 0, vlmc::stream()>>>(reinterpret_cast<T*>(x), n, alpha);
    });
    VLMC_CHECK(fn, cudaGetLastError());
}
