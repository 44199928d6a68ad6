// GEMM with fused epilogue (bias, activation, residual, output cast), two variants chosen per call:
//  1. SIMT tiles, 64x64 outputs per block of 256 threads, each thread a 4x4 micro-tile, K in steps of 16 through
//     shared memory as fp32: the FP32 path, the checking path and the fallback for every shape and layout.
//  2. Tensor cores (sm_80+), F16/BF16 inputs with FP32 accumulation, for the linear-layer layout "NT"
//     (A [M, K] and B [N, K] both K-contiguous, K, lda, ldb and batch strides multiples of 8, 16-byte aligned
//     bases): 128x128x32 block tiles, 8 warps of 64x32, mma.sync m16n8k16 fed by ldmatrix from XOR-swizzled shared
//     memory, cp.async in a 4-stage pipeline with zero-fill for the ragged edges (gemm_mma.cu).
//  3. Hopper (sm_90a): the same layout through wgmma m64n128k16 from 128-byte-swizzled shared memory
//     (gemm_wgmma.cu); opt-in until checked on a GPU. cuda/dev/gemm.cu checks the variants against a float64 reference
// and each other, and times them against cuBLAS where the machine has it.
#include "vlm4j/cuda_kernels.h"
#include "dtype.cuh"
#include "gemm_mma.cuh"

#include <atomic>
#include <cstdlib>

namespace {

using vlmc::from_f;
using vlmc::to_f;

constexpr int BM = 64, BN = 64, BK = 16, TM = 4, TN = 4;

using vlmc::GemmParams;
using Params = GemmParams;

std::atomic<int> forced_variant{0};  // vlmc_gemm_variant: 0 = choose per call

// Variant 3 is chosen automatically only with VLM4J_GEMM_WGMMA=1 until a GPU run of cuda/dev/gemm.cu has checked it.
bool wgmma_opted_in() {
    static const bool on = [] {
        const char* v = std::getenv("VLM4J_GEMM_WGMMA");
        return v && v[0] == '1';
    }();
    return on;
}

template <typename T>
__global__ void __launch_bounds__(256) gemm_simt(Params p, const T* __restrict__ a, const T* __restrict__ b, T* c,
                                                 const T* __restrict__ r) {
    __shared__ float as[BK][BM + 1];  // as[kk][i] = op(A)[row0 + i][k0 + kk]
    __shared__ float bs[BK][BN + 1];  // bs[kk][j] = op(B)[k0 + kk][col0 + j]
    const int tx = threadIdx.x % 16, ty = threadIdx.x / 16;
    const int64_t row0 = int64_t(blockIdx.y) * BM, col0 = int64_t(blockIdx.x) * BN;
    for (int64_t bz = blockIdx.z; bz < p.batch; bz += gridDim.z) {
        const T* A = a + bz * p.stride_a;
        const T* B = b + bz * p.stride_b;
        float acc[TM][TN] = {};
        for (int64_t k0 = 0; k0 < p.k; k0 += BK) {
            for (int e = threadIdx.x; e < BM * BK; e += blockDim.x) {
                const int i = e / BK, kk = e % BK;
                const int64_t gi = row0 + i, gk = k0 + kk;
                float v = 0;
                if (gi < p.m && gk < p.k) v = to_f(p.trans_a ? A[gk * p.lda + gi] : A[gi * p.lda + gk]);
                as[kk][i] = v;
            }
            for (int e = threadIdx.x; e < BK * BN; e += blockDim.x) {
                const int kk = e / BN, j = e % BN;
                const int64_t gk = k0 + kk, gj = col0 + j;
                float v = 0;
                if (gk < p.k && gj < p.n) v = to_f(p.trans_b ? B[gj * p.ldb + gk] : B[gk * p.ldb + gj]);
                bs[kk][j] = v;
            }
            __syncthreads();
#pragma unroll
            for (int kk = 0; kk < BK; ++kk) {
                float av[TM], bv[TN];
#pragma unroll
                for (int i = 0; i < TM; ++i) av[i] = as[kk][ty * TM + i];
#pragma unroll
                for (int j = 0; j < TN; ++j) bv[j] = bs[kk][tx * TN + j];
#pragma unroll
                for (int i = 0; i < TM; ++i)
#pragma unroll
                    for (int j = 0; j < TN; ++j) acc[i][j] = fmaf(av[i], bv[j], acc[i][j]);
            }
            __syncthreads();
        }
        T* C = c + bz * p.stride_c;
        const T* R = r ? r + bz * p.stride_r : nullptr;
#pragma unroll
        for (int i = 0; i < TM; ++i) {
            const int64_t gi = row0 + ty * TM + i;
            if (gi >= p.m) continue;
#pragma unroll
            for (int j = 0; j < TN; ++j) {
                const int64_t gj = col0 + tx * TN + j;
                if (gj >= p.n) continue;
                float v = p.alpha * acc[i][j];
                if (p.beta != 0.0f) v += p.beta * to_f(C[gi * p.ldc + gj]);
                if (p.bias) v += p.bias[gj];
                v = vlmc::activate(v, p.act);
                if (R) v += to_f(R[gi * p.ldr + gj]);
                C[gi * p.ldc + gj] = from_f<T>(v);
            }
        }
    }
}

}  // namespace

void vlmc_gemm(int dtype, int trans_a, int trans_b, int64_t batch, int64_t m, int64_t n, int64_t k, float alpha,
               int64_t a, int64_t lda, int64_t stride_a, int64_t b, int64_t ldb, int64_t stride_b, float beta,
               int64_t c, int64_t ldc, int64_t stride_c, int64_t bias, int act, int64_t r, int64_t ldr, int64_t stride_r) {
    static const char* fn = "vlmc_gemm";
    vlmc::check_dtype(fn, dtype);
    vlmc::check_n(fn, batch);
    vlmc::check_n(fn, m);
    vlmc::check_n(fn, n);
    vlmc::check_n(fn, k);
    if (act < 0 || act > 3) vlmc::fail(fn, "act must be 0..3, got ", act);
    if (batch == 0 || m == 0 || n == 0) return;
    vlmc::check_ptr(fn, c, "c");
    if (k > 0) {
        vlmc::check_ptr(fn, a, "a");
        vlmc::check_ptr(fn, b, "b");
    }
    if (lda < (trans_a ? m : k) || ldb < (trans_b ? k : n) || ldc < n || (r && ldr < n)) {
        vlmc::fail(fn, "leading dimensions too small (lda ", lda, ", ldb ", ldb, ", ldc ", ldc, ", ldr ", ldr, ")");
    }
    if (stride_a < 0 || stride_b < 0 || stride_c < 0 || stride_r < 0) vlmc::fail(fn, "negative batch stride");
    const int64_t gy = (m + BM - 1) / BM, gx = (n + BN - 1) / BN;
    if (gy > 65535 || gx > 0x7fffffff) vlmc::fail(fn, "m or n too large for one launch (m ", m, ", n ", n, ")");
    Params p{trans_a, trans_b, batch, m, n, k, alpha, beta, lda, stride_a, ldb, stride_b, ldc, stride_c, ldr, stride_r,
             reinterpret_cast<const float*>(bias), act};
    const int forced = forced_variant.load();
    const bool mma_ok = dtype != 0 && trans_a == 0 && trans_b == 1 && k > 0 && k % 8 == 0 && lda % 8 == 0 && ldb % 8 == 0 &&
                        stride_a % 8 == 0 && stride_b % 8 == 0 && a % 16 == 0 && b % 16 == 0 && vlmc::mma_supported();
    if (forced >= 2 && !mma_ok) {
        vlmc::fail(fn, "variants 2 and 3 (tensor cores) need F16/BF16, layout NT, K/lda/ldb/strides multiples of 8, 16-byte "
                       "aligned A and B and an sm_80+ device");
    }
    const bool wgmma_ok = mma_ok && vlmc::wgmma_supported();
    if (forced == 3 && !wgmma_ok) vlmc::fail(fn, "variant 3 (wgmma) needs an sm_90 device (H100/H200)");
    if (wgmma_ok && (forced == 3 || (forced == 0 && wgmma_opted_in()))) {
        vlmc::launch_gemm_wgmma(fn, dtype, p, a, b, c, r);
        return;
    }
    if (mma_ok && forced != 1) {
        vlmc::launch_gemm_mma(fn, dtype, p, a, b, c, r);
        return;
    }
    const dim3 grid(unsigned(gx), unsigned(gy), unsigned(batch < 65535 ? batch : 65535));
    vlmc::dispatch(dtype, [&](auto t) {
        using T = decltype(t);
        gemm_simt<T><<<grid, 256, 0, vlmc::stream()>>>(p, reinterpret_cast<const T*>(a), reinterpret_cast<const T*>(b), reinterpret_cast<T*>(c),
                                    reinterpret_cast<const T*>(r));
    });
    VLMC_CHECK(fn, cudaGetLastError());
}

void vlmc_gemm_variant(int v) {
    if (v < 0 || v > 3) {
        vlmc::fail("vlmc_gemm_variant", "variant must be 0 (auto), 1 (SIMT), 2 (mma.sync) or 3 (wgmma), got ", v);
    }
    forced_variant.store(v);
}
