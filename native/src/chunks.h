// Elementwise kernels' work split (train.cpp, optim.cpp): fixed chunks of elements, so that per-chunk partial sums
// (sumSquares, dGamma) are the same whatever the thread count, and no parallel region for small inputs.
#pragma once
#include <algorithm>
#include <cstdint>

#include "common.h"

namespace vlm {

constexpr int64_t chunk = 1 << 13;               // elements per OpenMP work item
constexpr int64_t parallel_min_elems = 1 << 17;  // below this a parallel region costs more than it saves

template <class F>
void for_chunks(int64_t n, F&& fn) {  // fn(chunk index, begin, end)
    const int64_t chunks = (n + chunk - 1) / chunk;
#pragma omp parallel for schedule(static) if (n >= parallel_min_elems)
    for (int64_t c = 0; c < chunks; ++c) fn(c, c * chunk, std::min(n, (c + 1) * chunk));
}

inline bool simd() { return simd_level() != Simd::scalar; }

}  // namespace vlm
