// Internal interface between gemm.cu (argument checks, variant choice, SIMT variant) and gemm_mma.cu (the
// tensor-core variant).
#pragma once
#include <cstdint>

namespace vlmc {

// One GEMM call after validation; element strides, not bytes.
struct GemmParams {
    int trans_a, trans_b;
    int64_t batch, m, n, k;
    float alpha, beta;
    int64_t lda, stride_a, ldb, stride_b, ldc, stride_c, ldr, stride_r;
    const float* bias;
    int act;
};

// Whether the current device has mma.sync for 16-bit inputs (compute capability >= 8.0).
bool mma_supported();

// Variant 2 for F16/BF16 (dtype 1/2), layout NT, K % 8 == 0, lda/ldb/strides % 8 == 0, a/b 16-byte aligned.
void launch_gemm_mma(const char* fn, int dtype, const GemmParams& p, int64_t a, int64_t b, int64_t c, int64_t r);

// Whether the current device runs this library's sm_90a code (compute capability 9.0: wgmma).
bool wgmma_supported();

// Variant 3 (sm_90a): the same calls as variant 2, through warpgroup MMA.
void launch_gemm_wgmma(const char* fn, int dtype, const GemmParams& p, int64_t a, int64_t b, int64_t c, int64_t r);

}  // namespace vlmc
