// AVX-512 attention: the register-tiled kernel of attention_internal.h with 16-lane vectors (6 queries x 32 keys
// per tile: 12 zmm accumulators), so the q.k^T and p.v products run at twice the AVX2 width.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"  // GCC 12 false positive inside avx512fintrin.h (see gemm_avx512.cpp)
#include "attention_internal.h"

namespace vlm::attn_detail {

void run_item_avx512(const Problem& p, const Item& item, const Item* next) {
    Tiles<vlm::vm::Avx512>::run_item(p, item, next);
}

}  // namespace vlm::attn_detail
