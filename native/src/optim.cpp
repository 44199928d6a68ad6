// The optimizer step and gradient-norm clipping: fused AdamW (torch.optim.AdamW), the sum of squares of a gradient
// (accumulated in double) and an in-place scale. All are streaming kernels: fixed chunks over OpenMP as in
// elementwise.cpp, small tensors single-threaded.
#include "vlm4j/kernels.h"
#include "chunks.h"
#include "common.h"
#include "vec_math.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace {

using vlm::fail;
using S = vlm::vm::Avx2;
using V = S::V;
constexpr int W = S::W;

using vlm::chunk;
using vlm::parallel_min_elems;
using vlm::for_chunks;
using vlm::simd;

void check_n(const char* fn, int64_t n) {
    vlm::check_nonneg(fn, n, "n");
    vlm::mul_checked(fn, n, static_cast<int64_t>(sizeof(float)));
}

}  // namespace

void vlm_adamw_f32(float* param, const float* grad, float* m, float* v, int64_t n, float lr, float beta1, float beta2,
                   float eps, float weight_decay, int64_t step) {
    static const char* fn = "vlm_adamw_f32";
    check_n(fn, n);
    if (!(lr >= 0.0f) || !std::isfinite(lr)) fail(fn, "lr must be finite and >= 0 (got ", lr, ")");
    if (!(beta1 >= 0.0f && beta1 < 1.0f)) fail(fn, "beta1 must be in [0, 1) (got ", beta1, ")");
    if (!(beta2 >= 0.0f && beta2 < 1.0f)) fail(fn, "beta2 must be in [0, 1) (got ", beta2, ")");
    if (!(eps > 0.0f) || !std::isfinite(eps)) fail(fn, "eps must be finite and > 0 (got ", eps, ")");
    if (!(weight_decay >= 0.0f) || !std::isfinite(weight_decay))
        fail(fn, "weight_decay must be finite and >= 0 (got ", weight_decay, ")");
    if (step < 1) fail(fn, "step must be >= 1 (got ", step, ")");
    if (n == 0) return;
    vlm::check_ptr(fn, param, "param");
    vlm::check_ptr(fn, grad, "grad");
    vlm::check_ptr(fn, m, "m");
    vlm::check_ptr(fn, v, "v");
    // The scalars as PyTorch's single-tensor AdamW forms them on the host, in double: step_size = lr / bc1 and
    // denom = sqrt(v) / sqrt(bc2) + eps.
    const double bc1 = 1.0 - std::pow(static_cast<double>(beta1), static_cast<double>(step));
    const double bc2 = 1.0 - std::pow(static_cast<double>(beta2), static_cast<double>(step));
    const auto decay = static_cast<float>(1.0 - static_cast<double>(lr) * weight_decay);
    const auto step_size = static_cast<float>(lr / bc1);
    const auto bc2_sqrt = static_cast<float>(std::sqrt(bc2));
    const float c1 = 1.0f - beta1, c2 = 1.0f - beta2;  // exact: beta in [0.5, 1) (Sterbenz), or rounded once
    const bool vec = simd();
    for_chunks(n, [&](int64_t, int64_t b, int64_t e) {
        int64_t i = b;
        if (vec) {
            const V vdecay = S::set1(decay), vb1 = S::set1(beta1), vb2 = S::set1(beta2), vc1 = S::set1(c1),
                    vc2 = S::set1(c2), vstep = S::set1(step_size), vbc2 = S::set1(bc2_sqrt), veps = S::set1(eps);
            for (; i + W <= e; i += W) {
                const V g = S::load(grad + i);
                const V mi = S::fmadd(vb1, S::load(m + i), S::mul(vc1, g));
                const V vi = S::fmadd(vb2, S::load(v + i), S::mul(vc2, S::mul(g, g)));
                const V denom = S::add(S::div(_mm256_sqrt_ps(vi), vbc2), veps);
                S::store(m + i, mi);
                S::store(v + i, vi);
                S::store(param + i, S::fnmadd(vstep, S::div(mi, denom), S::mul(S::load(param + i), vdecay)));
            }
        }
        for (; i < e; ++i) {
            const float g = grad[i];
            const float mi = beta1 * m[i] + c1 * g, vi = beta2 * v[i] + c2 * (g * g);
            m[i] = mi;
            v[i] = vi;
            param[i] = param[i] * decay - step_size * (mi / (std::sqrt(vi) / bc2_sqrt + eps));
        }
    });
}

double vlm_sum_squares_f32(const float* x, int64_t n) {
    static const char* fn = "vlm_sum_squares_f32";
    check_n(fn, n);
    if (n == 0) return 0.0;
    vlm::check_ptr(fn, x, "x");
    // One double partial per chunk, added in chunk order: the same sum whatever the thread count.
    std::vector<double> partial(static_cast<size_t>((n + chunk - 1) / chunk));
    const bool vec = simd();
    for_chunks(n, [&](int64_t c, int64_t b, int64_t e) {
        int64_t i = b;
        double sum = 0.0;
        if (vec) {
            __m256d a0 = _mm256_setzero_pd(), a1 = _mm256_setzero_pd();
            for (; i + 8 <= e; i += 8) {
                const __m256d lo = _mm256_cvtps_pd(_mm_loadu_ps(x + i)), hi = _mm256_cvtps_pd(_mm_loadu_ps(x + i + 4));
                a0 = _mm256_fmadd_pd(lo, lo, a0);
                a1 = _mm256_fmadd_pd(hi, hi, a1);
            }
            alignas(32) double lanes[4];
            _mm256_store_pd(lanes, _mm256_add_pd(a0, a1));
            sum = (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]);
        }
        for (; i < e; ++i) sum += static_cast<double>(x[i]) * x[i];
        partial[c] = sum;
    });
    double total = 0.0;
    for (const double s : partial) total += s;
    return total;
}

void vlm_scale_f32(float* x, int64_t n, float alpha) {
    static const char* fn = "vlm_scale_f32";
    check_n(fn, n);
    if (!std::isfinite(alpha)) fail(fn, "alpha must be finite (got ", alpha, ")");
    if (n == 0) return;
    vlm::check_ptr(fn, x, "x");
    for_chunks(n, [&](int64_t, int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) x[i] *= alpha;  // vectorized by the compiler
    });
}
