// Row-wise normalizations: LayerNorm, L2 normalization and softmax over the last axis.
//
// Every kernel treats one row at a time (rows are independent; OpenMP splits them). A row of a CLIP tensor is a few
// KiB, so the several passes each kernel makes over it hit L1; the vector loops keep four partial sums so that the
// add latency does not serialize the reduction and the rounding error grows with dim/32 rather than dim.
#include "vlm4j/kernels.h"
#include "common.h"
#include "vec_math.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

namespace {

using vlm::fail;

// Below ~128K elements (tens of microseconds on one core) a parallel region costs more than it saves: waking the
// team takes microseconds, and on a loaded machine a descheduled worker can stall the join for a time slice.
constexpr int64_t parallel_min_elems = 1 << 17;

void check_rows(const char* fn, const void* x, const void* y, int64_t rows, int64_t dim) {
    vlm::check_pos(fn, rows, "rows");
    vlm::check_pos(fn, dim, "dim");
    vlm::mul_checked(fn, rows, dim);
    vlm::check_ptr(fn, x, "x");
    vlm::check_ptr(fn, y, "y");
}

// Sum of f(x[i]) over a row, with four vector accumulators and a scalar tail.
template <class S, class F, class G>
float row_reduce_add(const float* x, int64_t dim, F&& vf, G&& sf) {
    using V = typename S::V;
    constexpr int W = S::W;
    V a0 = S::zero(), a1 = S::zero(), a2 = S::zero(), a3 = S::zero();
    int64_t i = 0;
    for (; i + 4 * W <= dim; i += 4 * W) {
        a0 = vf(S::load(x + i), a0);
        a1 = vf(S::load(x + i + W), a1);
        a2 = vf(S::load(x + i + 2 * W), a2);
        a3 = vf(S::load(x + i + 3 * W), a3);
    }
    for (; i + W <= dim; i += W) a0 = vf(S::load(x + i), a0);
    float tail = 0.0f;
    for (; i < dim; ++i) tail += sf(x[i]);
    return S::reduce_add(S::add(S::add(a0, a1), S::add(a2, a3))) + tail;
}

// ---- LayerNorm ----

// Two passes for the statistics: the mean m, then d = x - m. The second pass also sums d: m is the mean rounded to
// fp32 (off by up to half an ulp of |mean|, which for a row with a large common offset is not small next to its
// spread), and dm = mean(d) recovers that rounding, so x - m - dm is centred to fp32 accuracy.
template <class S>
void layernorm_row(const float* x, const float* g, const float* b, float* y, int64_t dim, float eps) {
    using V = typename S::V;
    constexpr int W = S::W;
    const float n = static_cast<float>(dim);
    const float m = row_reduce_add<S>(
                        x, dim, [](V v, V acc) { return S::add(acc, v); }, [](float v) { return v; }) / n;
    const V vm = S::set1(m);
    V s0 = S::zero(), s1 = S::zero(), q0 = S::zero(), q1 = S::zero();
    int64_t i = 0;
    for (; i + 2 * W <= dim; i += 2 * W) {
        const V d0 = S::sub(S::load(x + i), vm), d1 = S::sub(S::load(x + i + W), vm);
        s0 = S::add(s0, d0);
        s1 = S::add(s1, d1);
        q0 = S::fmadd(d0, d0, q0);
        q1 = S::fmadd(d1, d1, q1);
    }
    float ds = 0.0f, dq = 0.0f;
    for (; i < dim; ++i) {
        const float d = x[i] - m;
        ds += d;
        dq += d * d;
    }
    const float dm = (S::reduce_add(S::add(s0, s1)) + ds) / n;
    const float var = std::max(0.0f, (S::reduce_add(S::add(q0, q1)) + dq) / n - dm * dm);
    // var + eps == 0 only for a constant row with eps == 0: x - m - dm is then exactly 0, and 0 * rstd must not be NaN.
    const float rstd = var + eps > 0.0f ? 1.0f / std::sqrt(var + eps) : 0.0f;
    const V vdm = S::set1(dm), vr = S::set1(rstd);
    for (i = 0; i + W <= dim; i += W) {
        const V c = S::mul(S::sub(S::sub(S::load(x + i), vm), vdm), vr);
        S::store(y + i, S::fmadd(c, S::load(g + i), S::load(b + i)));
    }
    for (; i < dim; ++i) y[i] = (x[i] - m - dm) * rstd * g[i] + b[i];
}

void layernorm_row_scalar(const float* x, const float* g, const float* b, float* y, int64_t dim, float eps) {
    double sum = 0.0;
    for (int64_t i = 0; i < dim; ++i) sum += x[i];
    const double mean = sum / static_cast<double>(dim);
    double sq = 0.0;
    for (int64_t i = 0; i < dim; ++i) sq += (x[i] - mean) * (x[i] - mean);
    const double var = sq / static_cast<double>(dim) + eps;
    const double rstd = var > 0.0 ? 1.0 / std::sqrt(var) : 0.0;
    for (int64_t i = 0; i < dim; ++i) y[i] = static_cast<float>((x[i] - mean) * rstd * g[i] + b[i]);
}

// ---- L2 normalization ----

template <class S>
void l2_row(const float* x, float* y, int64_t dim, float eps) {
    using V = typename S::V;
    constexpr int W = S::W;
    const float sq = row_reduce_add<S>(
        x, dim, [](V v, V acc) { return S::fmadd(v, v, acc); }, [](float v) { return v * v; });
    const float denom = std::max(std::sqrt(sq), eps);
    if (!(denom > 0.0f)) {  // zero row with eps == 0: defined as zeros rather than 0/0
        std::memset(y, 0, static_cast<size_t>(dim) * sizeof(float));
        return;
    }
    const V vd = S::set1(denom);
    int64_t i = 0;
    for (; i + W <= dim; i += W) S::store(y + i, S::div(S::load(x + i), vd));
    for (; i < dim; ++i) y[i] = x[i] / denom;
}

void l2_row_scalar(const float* x, float* y, int64_t dim, float eps) {
    double sq = 0.0;
    for (int64_t i = 0; i < dim; ++i) sq += static_cast<double>(x[i]) * x[i];
    const double denom = std::max(std::sqrt(sq), static_cast<double>(eps));
    for (int64_t i = 0; i < dim; ++i) y[i] = denom > 0.0 ? static_cast<float>(x[i] / denom) : 0.0f;
}

// ---- softmax ----

template <class S>
void softmax_row(const float* x, float* y, int64_t dim) {
    using V = typename S::V;
    constexpr int W = S::W;
    constexpr float ninf = -std::numeric_limits<float>::infinity();
    V m0 = S::set1(ninf), m1 = m0, m2 = m0, m3 = m0;
    int64_t i = 0;
    for (; i + 4 * W <= dim; i += 4 * W) {
        m0 = S::max(m0, S::load(x + i));
        m1 = S::max(m1, S::load(x + i + W));
        m2 = S::max(m2, S::load(x + i + 2 * W));
        m3 = S::max(m3, S::load(x + i + 3 * W));
    }
    for (; i + W <= dim; i += W) m0 = S::max(m0, S::load(x + i));
    float mx = S::reduce_max(S::max(S::max(m0, m1), S::max(m2, m3)));
    for (; i < dim; ++i) mx = std::max(mx, x[i]);
    if (mx == ninf) {  // fully masked row: all probabilities 0 (exp(-inf - -inf) would be NaN)
        std::memset(y, 0, static_cast<size_t>(dim) * sizeof(float));
        return;
    }
    const V vm = S::set1(mx);
    V s0 = S::zero(), s1 = S::zero();
    i = 0;
    for (; i + 2 * W <= dim; i += 2 * W) {
        const V e0 = vlm::vm::exp<S>(S::sub(S::load(x + i), vm));
        const V e1 = vlm::vm::exp<S>(S::sub(S::load(x + i + W), vm));
        S::store(y + i, e0);
        S::store(y + i + W, e1);
        s0 = S::add(s0, e0);
        s1 = S::add(s1, e1);
    }
    for (; i + W <= dim; i += W) {
        const V e0 = vlm::vm::exp<S>(S::sub(S::load(x + i), vm));
        S::store(y + i, e0);
        s0 = S::add(s0, e0);
    }
    float sum = S::reduce_add(S::add(s0, s1));
    for (; i < dim; ++i) {
        y[i] = std::exp(x[i] - mx);
        sum += y[i];
    }
    const V vs = S::set1(sum);  // >= 1: the max element contributes exp(0)
    i = 0;
    for (; i + W <= dim; i += W) S::store(y + i, S::div(S::load(y + i), vs));
    for (; i < dim; ++i) y[i] /= sum;
}

void softmax_row_scalar(const float* x, float* y, int64_t dim) {
    float mx = -std::numeric_limits<float>::infinity();
    for (int64_t i = 0; i < dim; ++i) mx = std::max(mx, x[i]);
    if (mx == -std::numeric_limits<float>::infinity()) {
        std::memset(y, 0, static_cast<size_t>(dim) * sizeof(float));
        return;
    }
    double sum = 0.0;
    for (int64_t i = 0; i < dim; ++i) {
        y[i] = std::exp(x[i] - mx);
        sum += y[i];
    }
    const float inv = static_cast<float>(1.0 / sum);
    for (int64_t i = 0; i < dim; ++i) y[i] *= inv;
}

// Runs row_fn(r) for every row, in parallel when the tensor is large enough.
template <class F>
void for_rows(int64_t rows, int64_t dim, F&& row_fn) {
#pragma omp parallel for schedule(static) if (rows > 1 && rows * dim >= parallel_min_elems)
    for (int64_t r = 0; r < rows; ++r) row_fn(r);
}

}  // namespace

void vlm_layernorm_f32(const float* x, const float* gamma, const float* beta, float* y, int64_t rows, int64_t dim,
                       float eps) {
    static const char* fn = "vlm_layernorm_f32";
    check_rows(fn, x, y, rows, dim);
    vlm::check_ptr(fn, gamma, "gamma");
    vlm::check_ptr(fn, beta, "beta");
    if (!(eps >= 0.0f) || !std::isfinite(eps)) fail(fn, "eps must be finite and >= 0 (got ", eps, ")");
    if (vlm::simd_level() == vlm::Simd::scalar) {
        for_rows(rows, dim, [&](int64_t r) { layernorm_row_scalar(x + r * dim, gamma, beta, y + r * dim, dim, eps); });
    } else {
        for_rows(rows, dim, [&](int64_t r) {
            layernorm_row<vlm::vm::Avx2>(x + r * dim, gamma, beta, y + r * dim, dim, eps);
        });
    }
}

void vlm_l2_normalize_f32(const float* x, float* y, int64_t rows, int64_t dim, float eps) {
    static const char* fn = "vlm_l2_normalize_f32";
    check_rows(fn, x, y, rows, dim);
    if (!(eps >= 0.0f) || !std::isfinite(eps)) fail(fn, "eps must be finite and >= 0 (got ", eps, ")");
    if (vlm::simd_level() == vlm::Simd::scalar) {
        for_rows(rows, dim, [&](int64_t r) { l2_row_scalar(x + r * dim, y + r * dim, dim, eps); });
    } else {
        for_rows(rows, dim, [&](int64_t r) { l2_row<vlm::vm::Avx2>(x + r * dim, y + r * dim, dim, eps); });
    }
}

void vlm_softmax_f32(const float* x, float* y, int64_t rows, int64_t dim) {
    static const char* fn = "vlm_softmax_f32";
    check_rows(fn, x, y, rows, dim);
    if (vlm::simd_level() == vlm::Simd::scalar) {
        for_rows(rows, dim, [&](int64_t r) { softmax_row_scalar(x + r * dim, y + r * dim, dim); });
    } else {
        for_rows(rows, dim, [&](int64_t r) { softmax_row<vlm::vm::Avx2>(x + r * dim, y + r * dim, dim); });
    }
}
