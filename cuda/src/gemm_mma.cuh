// Internal interface between gemm.cu (argument checks, variant choice, SIMT variant) and gemm_mma.cu (the
// tensor-core variant).
#pragma once
#include <cstdint>

#include <cuda_runtime.h>

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

// Compute capability of the current device as major * 10 + minor (cached per device; 0 when it cannot be read).
int device_cc();

// The launch grid of a tiled GEMM: N tiles along x, M tiles along y, batch entries along z (a kernel loops over the
// rest); throws when M needs more than 65535 tiles.
dim3 gemm_grid(const char* fn, const GemmParams& p, int bm, int bn);

// Whether the current device has mma.sync for 16-bit inputs (compute capability >= 8.0).
bool mma_supported();

// Variant 2 for F16/BF16 (dtype 1/2), layout NT, K % 8 == 0, lda/ldb/strides % 8 == 0, a/b 16-byte aligned.
void launch_gemm_mma(const char* fn, int dtype, const GemmParams& p, int64_t a, int64_t b, int64_t c, int64_t r);

// Whether the current device runs this library's sm_90a code (compute capability 9.0: wgmma).
bool wgmma_supported();

// Variant 3 (sm_90a): the same calls as variant 2, through warpgroup MMA.
void launch_gemm_wgmma(const char* fn, int dtype, const GemmParams& p, int64_t a, int64_t b, int64_t c, int64_t r);

}  // namespace vlmc
