// AVX-512 GEMM micro-kernel: the shared template of gemm_internal.h instantiated with 16-lane vectors.
// 12x32 tile: 24 zmm accumulators + 2 B vectors + 1 broadcast of A fit the 32 registers, and 12 rows keep the
// A panel (12 x kc) small. Packing, blocking and threading stay in gemm.cpp (AVX2 code is fine there: it is
// memory-bound), so nothing else in this file can leak AVX-512 instructions into the AVX2 path.
// GCC 12 reports its own _mm512_undefined_ps() inside the inlined min/max/roundscale intrinsics as
// "may be used uninitialized" (a false positive in avx512fintrin.h, not in this code).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include "gemm_internal.h"

namespace vlm::gemm_detail {

void kernel_avx512(int64_t kc, const float* a, int64_t lda, const float* bp, float* c, int64_t ldc, int mv,
                   int nv, const Epi& ep) {
    kernel<Avx512Ops, avx512_mr, avx512_nr / Avx512Ops::W>(kc, a, lda, bp, c, ldc, mv, nv, ep);
}

}  // namespace vlm::gemm_detail
