// Elementwise kernels: activations (vec_math.h) and additions. All are memory-bound; the work is cut into fixed
// chunks so OpenMP threads stream disjoint, cache-line-aligned-ish ranges, and small tensors stay single-threaded.
// y may alias an input exactly (in-place use); partial overlaps are not supported.
#include "vlm4j/kernels.h"
#include "common.h"
#include "vec_math.h"

#include <algorithm>
#include <cstring>

namespace {

using vlm::fail;
using S = vlm::vm::Avx2;

constexpr int64_t chunk = 1 << 13;                 // elements per OpenMP work item (32 KiB per operand)
constexpr int64_t parallel_min_elems = 1 << 17;    // below this a parallel region costs more than it saves

template <class F>
void for_chunks(int64_t n, F&& fn) {  // fn(begin, end)
    const int64_t chunks = (n + chunk - 1) / chunk;
#pragma omp parallel for schedule(static) if (n >= parallel_min_elems)
    for (int64_t c = 0; c < chunks; ++c) fn(c * chunk, std::min(n, (c + 1) * chunk));
}

template <int Act>
void activation_range(const float* x, float* y, int64_t begin, int64_t end) {
    int64_t i = begin;
    for (; i + 2 * S::W <= end; i += 2 * S::W) {  // two independent chains hide the exp/div latency
        const S::V a = vlm::vm::activate<S>(S::load(x + i), Act);
        const S::V b = vlm::vm::activate<S>(S::load(x + i + S::W), Act);
        S::store(y + i, a);
        S::store(y + i + S::W, b);
    }
    for (; i < end; i += S::W) {
        const int n = static_cast<int>(std::min<int64_t>(S::W, end - i));
        S::store_n(y + i, vlm::vm::activate<S>(S::load_n(x + i, n), Act), n);
    }
}

}  // namespace

void vlm_activation_f32(int act, const float* x, float* y, int64_t n) {
    static const char* fn = "vlm_activation_f32";
    if (act < 0 || act > 3) fail(fn, "act must be 0 (identity), 1 (gelu), 2 (quick_gelu) or 3 (gelu_tanh), got ", act);
    vlm::check_nonneg(fn, n, "n");
    if (n == 0) return;
    vlm::check_ptr(fn, x, "x");
    vlm::check_ptr(fn, y, "y");
    vlm::mul_checked(fn, n, static_cast<int64_t>(sizeof(float)));
    if (act == 0) {
        if (x != y) for_chunks(n, [&](int64_t b, int64_t e) { std::memmove(y + b, x + b, (e - b) * sizeof(float)); });
        return;
    }
    if (vlm::simd_level() == vlm::Simd::scalar) {
        for_chunks(n, [&](int64_t b, int64_t e) {
            for (int64_t i = b; i < e; ++i) y[i] = vlm::vm::activate_ref(x[i], act);
        });
        return;
    }
    // The act switch is hoisted out of the element loop: one instantiation per activation.
    switch (act) {
        case 1: for_chunks(n, [&](int64_t b, int64_t e) { activation_range<1>(x, y, b, e); }); break;
        case 2: for_chunks(n, [&](int64_t b, int64_t e) { activation_range<2>(x, y, b, e); }); break;
        default: for_chunks(n, [&](int64_t b, int64_t e) { activation_range<3>(x, y, b, e); }); break;
    }
}

void vlm_add_f32(const float* a, const float* b, float* y, int64_t n) {
    static const char* fn = "vlm_add_f32";
    vlm::check_nonneg(fn, n, "n");
    if (n == 0) return;
    vlm::check_ptr(fn, a, "a");
    vlm::check_ptr(fn, b, "b");
    vlm::check_ptr(fn, y, "y");
    vlm::mul_checked(fn, n, static_cast<int64_t>(sizeof(float)));
    if (vlm::simd_level() == vlm::Simd::scalar) {
        for_chunks(n, [&](int64_t s, int64_t e) {
            for (int64_t i = s; i < e; ++i) y[i] = a[i] + b[i];
        });
        return;
    }
    for_chunks(n, [&](int64_t s, int64_t e) {
        int64_t i = s;
        for (; i + S::W <= e; i += S::W) S::store(y + i, S::add(S::load(a + i), S::load(b + i)));
        for (; i < e; ++i) y[i] = a[i] + b[i];
    });
}

void vlm_add_row_f32(float* y, const float* v, int64_t rows, int64_t dim) {
    static const char* fn = "vlm_add_row_f32";
    vlm::check_pos(fn, rows, "rows");
    vlm::check_pos(fn, dim, "dim");
    vlm::mul_checked(fn, vlm::mul_checked(fn, rows, dim), static_cast<int64_t>(sizeof(float)));
    vlm::check_ptr(fn, y, "y");
    vlm::check_ptr(fn, v, "v");
    const bool simd = vlm::simd_level() != vlm::Simd::scalar;
#pragma omp parallel for schedule(static) if (rows > 1 && rows * dim >= parallel_min_elems)
    for (int64_t r = 0; r < rows; ++r) {
        float* row = y + r * dim;
        int64_t i = 0;
        if (simd)
            for (; i + S::W <= dim; i += S::W) S::store(row + i, S::add(S::load(row + i), S::load(v + i)));
        for (; i < dim; ++i) row[i] += v[i];
    }
}
