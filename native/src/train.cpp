// Training kernels: the backward passes of LayerNorm, the activations and L2 normalization, and counter-based
// dropout. Attention backward lives in attention_backward.cpp, the optimizer step and gradient clipping in optim.cpp.
//
// Row-wise kernels work like norm.cpp (OpenMP over rows, vector loops with several partial sums, the forward's
// statistics recomputed the way the forward computes them); elementwise ones like elementwise.cpp (fixed chunks,
// small tensors single-threaded). dgamma and dbeta are summed per fixed block of rows and the blocks combined in
// order, so they do not depend on the thread count.
#include "vlm4j/kernels.h"
#include "chunks.h"
#include "common.h"
#include "vec_math.h"

#include <algorithm>
#include <cmath>
#include <cstring>
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

void check_rows(const char* fn, int64_t rows, int64_t dim) {
    vlm::check_pos(fn, rows, "rows");
    vlm::check_pos(fn, dim, "dim");
    vlm::mul_checked(fn, vlm::mul_checked(fn, rows, dim), static_cast<int64_t>(sizeof(float)));
}

void check_n(const char* fn, int64_t n) {
    vlm::check_nonneg(fn, n, "n");
    vlm::mul_checked(fn, n, static_cast<int64_t>(sizeof(float)));
}

// ---- LayerNorm backward ----

// One row. The statistics are the forward's (norm.cpp): the fp32 mean m, then d = x - m with its mean dm (the
// rounding of m) and variance. The same pass sums g = dy * gamma and g * d, so that
// sum(g * xhat) = rstd * (sum(g * d) - dm * sum(g)) needs no pass of its own. pg, pb: this block's dgamma and dbeta
// partial sums (or null).
void layernorm_backward_row(const float* x, const float* gamma, const float* dy, float* dx, int64_t dim, float eps,
                            bool accumulate, float* pg, float* pb) {
    const float n = static_cast<float>(dim);
    V a0 = S::zero(), a1 = S::zero();
    int64_t i = 0;
    for (; i + 2 * W <= dim; i += 2 * W) {
        a0 = S::add(a0, S::load(x + i));
        a1 = S::add(a1, S::load(x + i + W));
    }
    float tail = 0.0f;
    for (; i < dim; ++i) tail += x[i];
    const float m = (S::reduce_add(S::add(a0, a1)) + tail) / n;

    const V vm = S::set1(m);
    V sd = S::zero(), sdd = S::zero(), sg = S::zero(), sgd = S::zero();
    float td = 0.0f, tdd = 0.0f, tg = 0.0f, tgd = 0.0f;
    for (i = 0; i + W <= dim; i += W) {
        const V d = S::sub(S::load(x + i), vm), g = S::mul(S::load(dy + i), S::load(gamma + i));
        sd = S::add(sd, d);
        sdd = S::fmadd(d, d, sdd);
        sg = S::add(sg, g);
        sgd = S::fmadd(g, d, sgd);
    }
    for (; i < dim; ++i) {
        const float d = x[i] - m, g = dy[i] * gamma[i];
        td += d;
        tdd += d * d;
        tg += g;
        tgd += g * d;
    }
    const float dm = (S::reduce_add(sd) + td) / n;
    const float var = std::max(0.0f, (S::reduce_add(sdd) + tdd) / n - dm * dm);
    const float rstd = 1.0f / std::sqrt(var + eps);  // eps > 0
    const float sum_g = S::reduce_add(sg) + tg;
    const float mean_g = sum_g / n;
    const float mean_gx = rstd * (S::reduce_add(sgd) + tgd - dm * sum_g) / n;

    const V vdm = S::set1(dm), vr = S::set1(rstd), vmg = S::set1(mean_g), vmgx = S::set1(mean_gx);
    for (i = 0; i + W <= dim; i += W) {
        const V xh = S::mul(S::sub(S::sub(S::load(x + i), vm), vdm), vr);
        const V dyv = S::load(dy + i);
        const V g = S::mul(dyv, S::load(gamma + i));
        V r = S::mul(S::sub(S::sub(g, vmg), S::mul(xh, vmgx)), vr);
        if (accumulate) r = S::add(r, S::load(dx + i));
        S::store(dx + i, r);  // after every read of x[i], dy[i]: dx may be either
        if (pg) S::store(pg + i, S::fmadd(dyv, xh, S::load(pg + i)));
        if (pb) S::store(pb + i, S::add(S::load(pb + i), dyv));
    }
    for (; i < dim; ++i) {
        const float xh = (x[i] - m - dm) * rstd, dyi = dy[i];
        const float r = (dyi * gamma[i] - mean_g - xh * mean_gx) * rstd;
        dx[i] = accumulate ? dx[i] + r : r;
        if (pg) pg[i] += dyi * xh;
        if (pb) pb[i] += dyi;
    }
}

// The definition, in double: the portable path.
void layernorm_backward_row_scalar(const float* x, const float* gamma, const float* dy, float* dx, int64_t dim,
                                   float eps, bool accumulate, float* pg, float* pb) {
    double mean = 0.0;
    for (int64_t i = 0; i < dim; ++i) mean += x[i];
    mean /= static_cast<double>(dim);
    double var = 0.0, sum_g = 0.0, sum_gx = 0.0;
    for (int64_t i = 0; i < dim; ++i) var += (x[i] - mean) * (x[i] - mean);
    const double rstd = 1.0 / std::sqrt(var / static_cast<double>(dim) + eps);
    for (int64_t i = 0; i < dim; ++i) {
        const double g = static_cast<double>(dy[i]) * gamma[i];
        sum_g += g;
        sum_gx += g * (x[i] - mean) * rstd;
    }
    const double mean_g = sum_g / static_cast<double>(dim), mean_gx = sum_gx / static_cast<double>(dim);
    for (int64_t i = 0; i < dim; ++i) {
        const double xh = (x[i] - mean) * rstd, dyi = dy[i];
        const double r = (dyi * gamma[i] - mean_g - xh * mean_gx) * rstd;
        dx[i] = static_cast<float>(accumulate ? dx[i] + r : r);
        if (pg) pg[i] += static_cast<float>(dyi * xh);
        if (pb) pb[i] += static_cast<float>(dyi);
    }
}

// ---- activation derivatives (act codes as in kernels.h) ----

// gelu: d/dx x Phi(x) = Phi(x) + x phi(x), Phi(x) = erfc(-x/sqrt2)/2 (no cancellation in the negative tail).
V gelu_grad(V x) {
    const V cdf = S::mul(S::set1(0.5f), vlm::vm::erfc<S>(S::mul(x, S::set1(-0.70710678118654752f))));
    const V pdf = S::mul(S::set1(0.39894228040143268f), vlm::vm::exp<S>(S::mul(S::set1(-0.5f), S::mul(x, x))));
    return S::fmadd(x, pdf, cdf);
}

// s = sigmoid(z) and 1 - s, the latter as e s with e = exp(-z): 1 - s itself would cancel where s nears 1, an error
// the derivatives below multiply by x (e = inf: s = 0 and e s = NaN, which min turns into 1, its second operand).
void sigmoid_pair(V z, V& s, V& one_minus_s) {
    const V e = vlm::vm::exp<S>(S::sub(S::zero(), z));
    s = S::div(S::set1(1.0f), S::add(S::set1(1.0f), e));
    one_minus_s = S::min(S::mul(e, s), S::set1(1.0f));
}

// x s(a x) with s the logistic function: s + a x s (1 - s).
V quick_gelu_grad(V x) {
    const V ax = S::mul(x, S::set1(1.702f));
    V s, t;
    sigmoid_pair(ax, s, t);
    return S::fmadd(S::mul(ax, s), t, s);
}

// gelu_tanh = x s(2u), 2u = x (c1 + c3 x^2) (vec_math.h): s + x s (1 - s) (c1 + 3 c3 x^2).
constexpr float tanh_c1 = 2.0f * 0.79788456080286536f;
constexpr float tanh_c3 = 2.0f * 0.79788456080286536f * 0.044715f;
V gelu_tanh_grad(V x) {
    const V x2 = S::mul(x, x);
    V s, t;
    sigmoid_pair(S::mul(x, S::fmadd(x2, S::set1(tanh_c3), S::set1(tanh_c1))), s, t);
    const V du = S::fmadd(x2, S::set1(3.0f * tanh_c3), S::set1(tanh_c1));
    return S::fmadd(S::mul(S::mul(x, s), t), du, s);
}

template <int Act>
V act_grad(V x) {
    if constexpr (Act == 1) return gelu_grad(x);
    else if constexpr (Act == 2) return quick_gelu_grad(x);
    else return gelu_tanh_grad(x);
}

// The same derivatives on libm: the portable path.
float act_grad_ref(float x, int act) {
    const auto sigmoid_pair_ref = [](float z, float& s, float& one_minus_s) {
        const float e = std::exp(-z);
        s = 1.0f / (1.0f + e);
        one_minus_s = std::isinf(e) ? 1.0f : e * s;
    };
    float s, t;
    switch (act) {
        case 1: return 0.5f * std::erfc(-x * 0.70710678118654752f) + x * 0.39894228040143268f * std::exp(-0.5f * x * x);
        case 2:
            sigmoid_pair_ref(1.702f * x, s, t);
            return s + 1.702f * x * s * t;
        case 3:
            sigmoid_pair_ref(x * (tanh_c1 + tanh_c3 * x * x), s, t);
            return s + x * s * t * (tanh_c1 + 3.0f * tanh_c3 * x * x);
        default: return 1.0f;
    }
}

template <int Act>
void activation_backward_range(const float* x, const float* dy, float* dx, int64_t begin, int64_t end) {
    int64_t i = begin;
    for (; i + 2 * W <= end; i += 2 * W) {  // two independent chains hide the exp/div latency
        const V a = S::mul(act_grad<Act>(S::load(x + i)), S::load(dy + i));
        const V b = S::mul(act_grad<Act>(S::load(x + i + W)), S::load(dy + i + W));
        S::store(dx + i, a);
        S::store(dx + i + W, b);
    }
    for (; i < end; i += W) {
        const int n = static_cast<int>(std::min<int64_t>(W, end - i));
        S::store_n(dx + i, S::mul(act_grad<Act>(S::load_n(x + i, n)), S::load_n(dy + i, n)), n);
    }
}

// ---- L2 normalization backward ----

void l2_backward_row(const float* x, const float* dy, float* dx, int64_t dim, float eps, bool vec) {
    float sq = 0.0f, dot = 0.0f;
    int64_t i = 0;
    if (vec) {
        V s0 = S::zero(), s1 = S::zero(), d0 = S::zero(), d1 = S::zero();
        for (; i + 2 * W <= dim; i += 2 * W) {
            const V x0 = S::load(x + i), x1 = S::load(x + i + W);
            s0 = S::fmadd(x0, x0, s0);
            s1 = S::fmadd(x1, x1, s1);
            d0 = S::fmadd(x0, S::load(dy + i), d0);
            d1 = S::fmadd(x1, S::load(dy + i + W), d1);
        }
        sq = S::reduce_add(S::add(s0, s1));
        dot = S::reduce_add(S::add(d0, d1));
    }
    for (; i < dim; ++i) {
        sq += x[i] * x[i];
        dot += x[i] * dy[i];
    }
    const float norm = std::sqrt(sq);
    if (!(norm > eps)) {  // the divisor is the constant eps
        for (i = 0; i < dim; ++i) dx[i] = dy[i] / eps;
        return;
    }
    // dx = (dy - <dy, u> u) / n with u = x / n, in that order so that nothing overflows for a small n
    const float inv = 1.0f / norm, a = dot * inv;
    i = 0;
    if (vec) {
        const V vi = S::set1(inv), va = S::set1(a);
        for (; i + W <= dim; i += W)
            S::store(dx + i, S::mul(S::fnmadd(va, S::mul(S::load(x + i), vi), S::load(dy + i)), vi));
    }
    for (; i < dim; ++i) dx[i] = (dy[i] - a * (x[i] * inv)) * inv;
}

// ---- dropout ----

// SplitMix64's output i (0-based) for state seed: the mask bits of Backend.dropout.
inline uint64_t splitmix64_at(uint64_t seed, uint64_t i) {
    uint64_t z = seed + (i + 1) * 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

// Branch-free (a bit mask, so that a dropped NaN becomes 0 too), which the compiler vectorizes.
void dropout_range(const float* x, float* y, int64_t begin, int64_t end, uint64_t seed, uint32_t threshold, float scale) {
    for (int64_t i = begin; i < end; ++i) {
        const uint32_t keep = static_cast<uint32_t>(splitmix64_at(seed, static_cast<uint64_t>(i)) >> 32) >= threshold;
        const float kept = x[i] * scale;
        uint32_t bits;
        std::memcpy(&bits, &kept, sizeof bits);
        bits &= 0u - keep;
        std::memcpy(y + i, &bits, sizeof bits);
    }
}

}  // namespace

void vlm_layernorm_backward_f32(const float* x, const float* gamma, const float* dy, float* dx, int64_t rows,
                                int64_t dim, float eps, int accumulate, float* dgamma, float* dbeta) {
    static const char* fn = "vlm_layernorm_backward_f32";
    check_rows(fn, rows, dim);
    vlm::check_ptr(fn, x, "x");
    vlm::check_ptr(fn, gamma, "gamma");
    vlm::check_ptr(fn, dy, "dy");
    vlm::check_ptr(fn, dx, "dx");
    if (!(eps > 0.0f) || !std::isfinite(eps)) fail(fn, "eps must be finite and > 0 (got ", eps, ")");
    if (accumulate != 0 && accumulate != 1) fail(fn, "accumulate must be 0 or 1 (got ", accumulate, ")");
    if (accumulate && dx == dy) fail(fn, "dx may not be dy when accumulating");
    if (dgamma && dgamma == dbeta) fail(fn, "dgamma and dbeta must be different buffers");

    // Rows go in blocks of block_rows, each with its own dgamma/dbeta partial sums (zeroed here), summed in block
    // order afterwards: the result does not depend on how OpenMP hands out the blocks.
    constexpr int64_t block_rows = 32;
    const int64_t blocks = (rows + block_rows - 1) / block_rows;
    const bool params = dgamma || dbeta;
    std::vector<float> partial(params ? static_cast<size_t>(vlm::mul_checked(fn, 2 * blocks, dim)) : 0);
    const bool vec = simd();
#pragma omp parallel for schedule(static) if (blocks > 1 && rows * dim >= parallel_min_elems)
    for (int64_t blk = 0; blk < blocks; ++blk) {
        float* pg = dgamma ? partial.data() + (2 * blk) * dim : nullptr;
        float* pb = dbeta ? partial.data() + (2 * blk + 1) * dim : nullptr;
        for (int64_t r = blk * block_rows; r < std::min(rows, (blk + 1) * block_rows); ++r) {
            const int64_t o = r * dim;
            (vec ? layernorm_backward_row : layernorm_backward_row_scalar)(x + o, gamma, dy + o, dx + o, dim, eps,
                                                                           accumulate != 0, pg, pb);
        }
    }
    if (!params) return;
    for (int64_t i = 0; i < dim; ++i) {  // one rounding per parameter: the blocks are summed in double
        double g = 0.0, b = 0.0;
        for (int64_t blk = 0; blk < blocks; ++blk) {
            g += partial[(2 * blk) * dim + i];
            b += partial[(2 * blk + 1) * dim + i];
        }
        if (dgamma) dgamma[i] = static_cast<float>(dgamma[i] + g);
        if (dbeta) dbeta[i] = static_cast<float>(dbeta[i] + b);
    }
}

void vlm_activation_backward_f32(int act, const float* x, const float* dy, float* dx, int64_t n) {
    static const char* fn = "vlm_activation_backward_f32";
    if (act < 0 || act > 3) fail(fn, "act must be 0 (identity), 1 (gelu), 2 (quick_gelu) or 3 (gelu_tanh), got ", act);
    check_n(fn, n);
    if (n == 0) return;
    vlm::check_ptr(fn, x, "x");
    vlm::check_ptr(fn, dy, "dy");
    vlm::check_ptr(fn, dx, "dx");
    if (act == 0) {  // identity: dx = dy
        if (dx != dy) for_chunks(n, [&](int64_t, int64_t b, int64_t e) { std::memmove(dx + b, dy + b, (e - b) * sizeof(float)); });
        return;
    }
    if (!simd()) {
        for_chunks(n, [&](int64_t, int64_t b, int64_t e) {
            for (int64_t i = b; i < e; ++i) dx[i] = act_grad_ref(x[i], act) * dy[i];
        });
        return;
    }
    switch (act) {  // one instantiation per activation, the switch out of the element loop
        case 1: for_chunks(n, [&](int64_t, int64_t b, int64_t e) { activation_backward_range<1>(x, dy, dx, b, e); }); break;
        case 2: for_chunks(n, [&](int64_t, int64_t b, int64_t e) { activation_backward_range<2>(x, dy, dx, b, e); }); break;
        default: for_chunks(n, [&](int64_t, int64_t b, int64_t e) { activation_backward_range<3>(x, dy, dx, b, e); }); break;
    }
}

void vlm_l2_normalize_backward_f32(const float* x, const float* dy, float* dx, int64_t rows, int64_t dim, float eps) {
    static const char* fn = "vlm_l2_normalize_backward_f32";
    check_rows(fn, rows, dim);
    vlm::check_ptr(fn, x, "x");
    vlm::check_ptr(fn, dy, "dy");
    vlm::check_ptr(fn, dx, "dx");
    // Any eps is taken as it comes (no NaN check), as the reference takes it: the comparison n > eps and dy / eps
    // give the same IEEE results here.
    const bool vec = simd();
#pragma omp parallel for schedule(static) if (rows > 1 && rows * dim >= parallel_min_elems)
    for (int64_t r = 0; r < rows; ++r) l2_backward_row(x + r * dim, dy + r * dim, dx + r * dim, dim, eps, vec);
}

void vlm_dropout_f32(const float* x, float* y, int64_t n, float p, int64_t seed) {
    static const char* fn = "vlm_dropout_f32";
    check_n(fn, n);
    if (!(p >= 0.0f && p < 1.0f)) fail(fn, "p must be in [0, 1) (got ", p, ")");
    if (n == 0) return;
    vlm::check_ptr(fn, x, "x");
    vlm::check_ptr(fn, y, "y");
    const auto threshold = static_cast<uint32_t>(std::min(4294967295.0, std::floor(static_cast<double>(p) * 4294967296.0)));
    const auto scale = static_cast<float>(1.0 / (1.0 - static_cast<double>(p)));
    const auto s = static_cast<uint64_t>(seed);
    for_chunks(n, [&](int64_t, int64_t b, int64_t e) { dropout_range(x, y, b, e, s, threshold, scale); });
}
