// Standalone harness for the row and elementwise kernels (llm.c style): LayerNorm, L2 normalization, softmax,
// activations (and the vec_math.h functions behind them, in ulps), add / add_row, patch embedding, gather and
// EOS pooling, each against a float64 reference on every SIMD path; then timings of the CLIP shapes.
//   build/dev/norm            all paths checked (each in a child process with VLM4J_SIMD=...), then timings
//   build/dev/norm --check    checks for the current path only    build/dev/norm --bench   timings only
#include "vlm4j/kernels.h"
#include "harness.h"
#include "vec_math.h"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <limits>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include <unistd.h>

namespace {

using harness::best_ms;
using harness::rand_vec;
using harness::rng;

constexpr float ninf = -std::numeric_limits<float>::infinity();

int report(const char* what, double err, double tol) {
    const bool ok = err <= tol;  // false for NaN
    std::printf("  %-58s %.2e (tol %.0e) %s\n", what, err, tol, ok ? "ok" : "FAIL");
    return ok ? 0 : 1;
}

// Error in units of the fp32 spacing at the reference value (subnormal spacing below FLT_MIN).
double ulps(float got, double ref) {
    if (std::isnan(got) || std::isnan(ref)) return std::isnan(got) && std::isnan(ref) ? 0 : INFINITY;
    if (std::fabs(ref) > std::numeric_limits<float>::max()) return float(ref) == got ? 0 : INFINITY;  // overflow
    const double a = std::max(std::fabs(ref), double(std::numeric_limits<float>::min()));
    const double spacing = std::ldexp(1.0, std::ilogb(a) - 23);
    return std::fabs(got - ref) / spacing;
}

// ---- LayerNorm / L2 / softmax ----

int check_layernorm() {
    int failures = 0;
    const int64_t shapes[][2] = {{1, 1}, {3, 7}, {5, 8}, {7, 33}, {2, 100}, {16, 512}, {1576, 768}, {4, 1025}};
    double worst = 0;
    for (const auto& s : shapes)
        for (float offset : {0.f, 100.f}) {  // a large common offset tests the two-pass variance
            const int64_t rows = s[0], dim = s[1];
            auto x = rand_vec(rows * dim, offset - 1.f, offset + 1.f);
            const auto g = rand_vec(dim, 0.5f, 1.5f), b = rand_vec(dim);
            std::vector<float> y(rows * dim);
            vlm_layernorm_f32(x.data(), g.data(), b.data(), y.data(), rows, dim, 1e-5f);
            double max_diff = 0, max_ref = 0;
            for (int64_t r = 0; r < rows; ++r) {
                const float* xr = &x[r * dim];
                double mean = 0, var = 0;
                for (int64_t i = 0; i < dim; ++i) mean += xr[i];
                mean /= dim;
                for (int64_t i = 0; i < dim; ++i) var += (xr[i] - mean) * (xr[i] - mean);
                var /= dim;
                for (int64_t i = 0; i < dim; ++i) {
                    const double ref = (xr[i] - mean) / std::sqrt(var + 1e-5) * g[i] + b[i];
                    max_diff = std::max(max_diff, std::isnan(y[r * dim + i]) ? INFINITY : std::fabs(ref - y[r * dim + i]));
                    max_ref = std::max(max_ref, std::fabs(ref));
                }
            }
            worst = std::max(worst, max_diff / max_ref);
            std::vector<float> inplace = x;  // y == x must give the same result
            vlm_layernorm_f32(inplace.data(), g.data(), b.data(), inplace.data(), rows, dim, 1e-5f);
            failures += inplace != y;
        }
    failures += report("layernorm: max|diff|/max|ref| over 16 shapes", worst, 1e-5);
    // constant row with eps = 0: 0/0 is defined as 0, the output is beta
    std::vector<float> x(12, 3.f), g(12, 2.f), b(12, 0.25f), y(12);
    vlm_layernorm_f32(x.data(), g.data(), b.data(), y.data(), 1, 12, 0.f);
    failures += report("layernorm: constant row, eps = 0 -> beta (max|y - beta|)",
                       std::fabs(*std::max_element(y.begin(), y.end()) - 0.25f), 0);
    return failures;
}

int check_l2() {
    int failures = 0;
    double worst = 0;
    for (int64_t dim : {1, 7, 8, 33, 512, 768}) {
        const int64_t rows = 5;
        auto x = rand_vec(rows * dim, -3.f, 3.f);
        std::fill(x.begin(), x.begin() + dim, 0.f);  // row 0 is all zeros
        std::vector<float> y(rows * dim);
        for (float eps : {0.f, 1e-12f}) {
            vlm_l2_normalize_f32(x.data(), y.data(), rows, dim, eps);
            for (int64_t r = 0; r < rows; ++r) {
                double n = 0;
                for (int64_t i = 0; i < dim; ++i) n += double(x[r * dim + i]) * x[r * dim + i];
                const double denom = std::max(std::sqrt(n), double(eps));
                for (int64_t i = 0; i < dim; ++i) {
                    const double ref = denom > 0 ? x[r * dim + i] / denom : 0.0;
                    const float got = y[r * dim + i];
                    worst = std::max(worst, std::isnan(got) ? INFINITY : std::fabs(got - ref));
                }
            }
        }
    }
    failures += report("l2_normalize: max|diff| (|ref| <= 1; zero rows, eps 0 and 1e-12)", worst, 1e-6);
    return failures;
}

int check_softmax() {
    int failures = 0;
    double worst = 0;
    for (int64_t dim : {1, 5, 8, 31, 77, 197, 1000}) {
        const int64_t rows = 6;
        auto x = rand_vec(rows * dim, -20.f, 20.f);
        for (int64_t i = 0; i < dim; ++i) x[i] = ninf;                          // row 0: all masked
        for (int64_t i = 0; i < dim; i += 2) x[dim + i] = ninf;                 // row 1: half masked
        for (int64_t i = 0; i < dim; ++i) x[2 * dim + i] = 1e30f * (i % 3 == 0);  // row 2: huge logits
        std::vector<float> y(rows * dim);
        vlm_softmax_f32(x.data(), y.data(), rows, dim);
        for (int64_t r = 0; r < rows; ++r) {
            const float* xr = &x[r * dim];
            const double mx = *std::max_element(xr, xr + dim);
            double sum = 0;
            for (int64_t i = 0; i < dim; ++i) sum += mx == -INFINITY ? 0 : std::exp(double(xr[i]) - mx);
            for (int64_t i = 0; i < dim; ++i) {
                const double ref = mx == -INFINITY ? 0 : std::exp(double(xr[i]) - mx) / sum;
                const float got = y[r * dim + i];
                worst = std::max(worst, std::isnan(got) ? INFINITY : std::fabs(got - ref) / std::max(ref, 1e-3));
            }
        }
        std::vector<float> inplace = x;
        vlm_softmax_f32(inplace.data(), inplace.data(), rows, dim);
        failures += inplace != y;
    }
    failures += report("softmax: max|diff|/max(ref, 1e-3) (-inf rows, huge logits)", worst, 1e-6);
    return failures;
}

// ---- vector math and activations ----

double gelu_d(double x) { return 0.5 * x * std::erfc(-x / std::sqrt(2.0)); }
double quick_gelu_d(double x) { return x / (1.0 + std::exp(-1.702 * x)); }
double gelu_tanh_d(double x) {  // 0.5 x (1 + tanh(u)) = x sigmoid(2u): no cancellation in the negative tail
    return x / (1.0 + std::exp(-2.0 * std::sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x)));
}

// max ulp error of a vec_math function over xs (skipping |ref| below `floor`, where ulps of a subnormal are moot)
// max ulp error of a vec_math function over xs, each divided by scale(x) (skipping |ref| below `floor`, where
// ulps of a subnormal are moot)
template <class F, class R>
double max_ulps(const std::vector<float>& xs, F&& f, R&& ref, double floor = 1e-37,
                const std::function<double(double)>& scale = nullptr) {
    using S = vlm::vm::Avx2;
    double worst = 0;
    for (size_t i = 0; i + 8 <= xs.size(); i += 8) {
        float out[8];
        S::store(out, f(S::load(&xs[i])));
        for (int l = 0; l < 8; ++l) {
            const double r = ref(double(xs[i + l]));
            if (std::fabs(r) >= floor || r == 0)
                worst = std::max(worst, ulps(out[l], r) / (scale ? scale(xs[i + l]) : 1.0));
        }
    }
    return worst;
}

int check_vec_math() {
    using S = vlm::vm::Avx2;
    std::vector<float> xs;
    for (float x = -110.f; x <= 110.f; x += 1.0f / 1024) xs.push_back(x);  // dense, and every range boundary
    for (float x : {0.f, -0.f, 1e-30f, -1e-30f, 1e-40f, 88.7f, 88.73f, -103.9f, -104.f, 0.625f, 0.927734375f})
        xs.push_back(x);
    while (xs.size() % 8) xs.push_back(0.5f);
    int failures = 0;
    failures += report("vec exp: max ulp on [-110, 110]", max_ulps(xs, [](S::V v) { return vlm::vm::exp<S>(v); },
                                                                    [](double x) { return std::exp(x); }), 2);
    failures += report("vec erf: max ulp", max_ulps(xs, [](S::V v) { return vlm::vm::erf<S>(v); },
                                                     [](double x) { return std::erf(x); }), 2);
    failures += report("vec erfc: max ulp (down to 1e-37)", max_ulps(xs, [](S::V v) { return vlm::vm::erfc<S>(v); },
                                                                  [](double x) { return std::erfc(x); }), 4);
    failures += report("vec tanh: max ulp", max_ulps(xs, [](S::V v) { return vlm::vm::tanh<S>(v); },
                                                      [](double x) { return std::tanh(x); }), 3);
    failures += report("vec sigmoid: max ulp", max_ulps(xs, [](S::V v) { return vlm::vm::sigmoid<S>(v); },
                                                         [](double x) { return 1.0 / (1.0 + std::exp(-x)); }), 3);
    // The activations, where their value is a normal float. quick_gelu and gelu_tanh are ill-conditioned in the
    // negative tail (|x f'/f| ~ 1.702|x|, resp. ~ 0.1|x|^3): rounding their argument to fp32, as any fp32
    // implementation does, costs about cond(x) ulps there. So the error is measured in ulps / (1 + cond(x)).
    std::vector<float> xa;
    for (float x = -20.f; x <= 20.f; x += 1.0f / 4096) xa.push_back(x);
    auto per_cond = [](double (*f)(double)) {
        return [f](double x) {
            const double h = 1e-5 * std::max(std::fabs(x), 1e-3);
            const double c = std::fabs(x * (f(x + h) - f(x - h)) / (2 * h) / f(x));
            return std::isfinite(c) ? 1 + c : 1.0;
        };
    };
    struct Act { const char* name; int code; double (*ref)(double); };
    const Act acts[] = {{"gelu", 1, gelu_d}, {"quick_gelu", 2, quick_gelu_d}, {"gelu_tanh", 3, gelu_tanh_d}};
    for (const auto& a : acts) {
        auto vf = [&a](S::V v) { return vlm::vm::activate<S>(v, a.code); };
        const double raw = max_ulps(xa, vf, a.ref);
        const double scaled = max_ulps(xa, vf, a.ref, 1e-37, per_cond(a.ref));
        char what[96];
        std::snprintf(what, sizeof what, "vec %s: max ulp/(1+cond) on [-20, 20] (raw max %.0f ulp)", a.name, raw);
        failures += report(what, scaled, 4);
    }
    // NaN in, NaN out; no NaN from infinities where the limit exists
    const float special[8] = {NAN, INFINITY, -INFINITY, 0.f, -0.f, 1e30f, -1e30f, NAN};
    float out[8];
    S::store(out, vlm::vm::exp<S>(S::load(special)));
    failures += report("vec exp special values (NaN, inf -> inf, -inf -> 0)",
                       (std::isnan(out[0]) && out[1] == INFINITY && out[2] == 0.f && out[3] == 1.f) ? 0 : 1, 0);
    S::store(out, vlm::vm::erf<S>(S::load(special)));
    failures += report("vec erf special values", (std::isnan(out[0]) && out[1] == 1.f && out[2] == -1.f &&
                                                  out[5] == 1.f && out[6] == -1.f) ? 0 : 1, 0);
    S::store(out, vlm::vm::tanh<S>(S::load(special)));
    failures += report("vec tanh special values", (std::isnan(out[0]) && out[1] == 1.f && out[2] == -1.f &&
                                                   out[5] == 1.f && out[6] == -1.f) ? 0 : 1, 0);
    return failures;
}

int check_activation_kernel() {
    int failures = 0;
    const int64_t n = 200003;  // odd: masked tail
    std::vector<float> x(n), y(n);
    for (int64_t i = 0; i < n; ++i) x[i] = -15.f + 30.f * float(i) / float(n - 1);
    double (*refs[4])(double) = {[](double v) { return v; }, gelu_d, quick_gelu_d, gelu_tanh_d};
    for (int act = 0; act < 4; ++act) {
        vlm_activation_f32(act, x.data(), y.data(), n);
        double worst = 0;
        for (int64_t i = 0; i < n; ++i) {
            const double r = refs[act](x[i]);
            worst = std::max(worst, std::isnan(y[i]) ? INFINITY : std::fabs(y[i] - r) / std::max(std::fabs(r), 1e-6));
        }
        char what[96];
        std::snprintf(what, sizeof what, "activation %d on [-15, 15]: max|diff|/max(|ref|, 1e-6)", act);
        failures += report(what, worst, 1e-5);
    }
    // the reference values of spec/00-index.md (6 decimals)
    const float xs[6] = {-3, -1, -0.5f, 0.5f, 1, 3};
    const double expect[3][6] = {{-0.004050, -0.158655, -0.154269, 0.345731, 0.841345, 2.995950},
                                 {-0.018071, -0.154204, -0.149612, 0.350388, 0.845796, 2.981929},
                                 {-0.003637, -0.158808, -0.154286, 0.345714, 0.841192, 2.996363}};
    double worst = 0;
    float ys[6];
    for (int act = 1; act <= 3; ++act) {
        vlm_activation_f32(act, xs, ys, 6);
        for (int i = 0; i < 6; ++i) worst = std::max(worst, std::fabs(ys[i] - expect[act - 1][i]));
    }
    failures += report("activations vs the spec's reference values (6 decimals)", worst, 6e-7);
    std::vector<float> inplace = x;  // in place
    vlm_activation_f32(1, inplace.data(), inplace.data(), n);
    vlm_activation_f32(1, x.data(), y.data(), n);
    failures += report("activation in place == out of place", inplace == y ? 0 : 1, 0);
    return failures;
}

int check_add() {
    int failures = 0;
    const int64_t rows = 37, dim = 77;
    const auto a = rand_vec(rows * dim), b = rand_vec(rows * dim), v = rand_vec(dim);
    std::vector<float> y(rows * dim), z = a;
    vlm_add_f32(a.data(), b.data(), y.data(), rows * dim);
    vlm_add_row_f32(z.data(), v.data(), rows, dim);
    int bad = 0;
    for (int64_t i = 0; i < rows * dim; ++i) bad += y[i] != a[i] + b[i] || z[i] != a[i] + v[i % dim];
    failures += report("add / add_row: elements differing from a + b (exact)", bad, 0);
    return failures;
}

// ---- patch embedding, gather, EOS pooling ----

int check_patch_embed() {
    struct Shape { int64_t b, c, h, w, p, d; bool bias; };
    const Shape shapes[] = {{2, 3, 224, 224, 16, 768, false}, {1, 3, 37, 30, 7, 5, true}, {3, 2, 5, 6, 1, 9, true},
                            {2, 3, 64, 64, 32, 33, true},     {1, 1, 3, 3, 3, 1, false}};
    double worst = 0;
    for (const auto& s : shapes) {
        const int64_t gh = s.h / s.p, gw = s.w / s.p, kd = s.c * s.p * s.p;
        const auto px = rand_vec(s.b * s.c * s.h * s.w), wt = rand_vec(s.d * kd), bias = rand_vec(s.d);
        std::vector<float> out(s.b * gh * gw * s.d);
        vlm_patch_embed_f32(px.data(), s.b, s.c, s.h, s.w, s.p, wt.data(), s.bias ? bias.data() : nullptr, s.d,
                            out.data());
        double max_diff = 0, max_ref = 0;
        for (int64_t b = 0; b < s.b; ++b)
            for (int64_t gy = 0; gy < gh; ++gy)
                for (int64_t gx = 0; gx < gw; ++gx)
                    for (int64_t o = 0; o < s.d; ++o) {
                        double acc = s.bias ? bias[o] : 0.0;
                        for (int64_t c = 0; c < s.c; ++c)
                            for (int64_t ky = 0; ky < s.p; ++ky)
                                for (int64_t kx = 0; kx < s.p; ++kx)
                                    acc += double(px[((b * s.c + c) * s.h + gy * s.p + ky) * s.w + gx * s.p + kx]) *
                                           wt[((o * s.c + c) * s.p + ky) * s.p + kx];
                        const float got = out[((b * gh + gy) * gw + gx) * s.d + o];
                        max_diff = std::max(max_diff, std::isnan(got) ? INFINITY : std::fabs(got - acc));
                        max_ref = std::max(max_ref, std::fabs(acc));
                    }
        worst = std::max(worst, max_diff / max_ref);
    }
    return report("patch_embed: max|diff|/max|ref| (224/16, ragged 37x30/7, p=1, p=32)", worst, 1e-5);
}

template <class E>
std::string error_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const E& e) {
        return e.what();
    } catch (const std::exception& e) {
        return std::string("wrong exception type: ") + e.what();
    }
    return "(no exception)";
}

int check_gather_pool() {
    int failures = 0;
    const int64_t rows = 50, dim = 13;
    const auto table = rand_vec(rows * dim);
    std::vector<int32_t> ids = {0, 49, 7, 7, 23};
    std::vector<float> out(ids.size() * dim);
    vlm_gather_rows_f32(table.data(), rows, dim, ids.data(), ids.size(), out.data());
    int bad = 0;
    for (size_t i = 0; i < ids.size(); ++i) bad += std::memcmp(&out[i * dim], &table[ids[i] * dim], dim * 4) != 0;
    failures += report("gather: rows differing from the table", bad, 0);
    ids[3] = 50;
    std::string msg = error_of<std::out_of_range>(
        [&] { vlm_gather_rows_f32(table.data(), rows, dim, ids.data(), ids.size(), out.data()); });
    failures += report(("gather id 50 of 50 rows -> '" + msg + "'").c_str(),
                       msg.find("ids[3] = 50") == std::string::npos, 0);

    const int64_t b = 3, len = 6;
    const auto hidden = rand_vec(b * len * dim);
    // row 0: no EOS, max 9 twice; row 1: a larger id before the first EOS; row 2: increasing
    const std::vector<int32_t> tok = {5, 9, 9, 1, 0, 0, 3, 49500, 49407, 1, 49407, 0, 1, 2, 3, 4, 5, 6};
    std::vector<float> pooled(b * dim);
    int64_t idx[3] = {-1, -1, -1};
    vlm_eos_pool_f32(hidden.data(), tok.data(), b, len, dim, -1, pooled.data(), idx);
    bad = !(idx[0] == 1 && idx[1] == 1 && idx[2] == 5);
    for (int64_t r = 0; r < b; ++r) bad += std::memcmp(&pooled[r * dim], &hidden[(r * len + idx[r]) * dim], dim * 4) != 0;
    failures += report("eos_pool argmax (first max wins): wrong positions/rows", bad, 0);
    vlm_eos_pool_f32(hidden.data() + len * dim, tok.data() + len, 1, len, dim, 49407, pooled.data(), nullptr);
    bad = std::memcmp(&pooled[0], &hidden[(len + 2) * dim], dim * 4) != 0;
    failures += report("eos_pool eos_id (first match, null index_out): wrong rows", bad, 0);
    msg = error_of<std::invalid_argument>(
        [&] { vlm_eos_pool_f32(hidden.data(), tok.data(), b, len, dim, 49407, pooled.data(), idx); });
    failures += report(("eos_pool missing eos -> '" + msg + "'").c_str(), msg.find("row 0") == std::string::npos, 0);
    return failures;
}

int check_errors() {
    std::vector<float> f(4096, 1.f);
    std::vector<int32_t> ids(16, 0);
    float* p = f.data();
    const std::vector<std::tuple<const char*, const char*, std::function<void()>>> bad = {
        {"vlm_layernorm_f32", "rows", [&] { vlm_layernorm_f32(p, p, p, p, 0, 4, 1e-5f); }},
        {"vlm_layernorm_f32", "dim", [&] { vlm_layernorm_f32(p, p, p, p, 4, -1, 1e-5f); }},
        {"vlm_layernorm_f32", "gamma", [&] { vlm_layernorm_f32(p, nullptr, p, p, 4, 4, 1e-5f); }},
        {"vlm_layernorm_f32", "x is null", [&] { vlm_layernorm_f32(nullptr, p, p, p, 4, 4, 1e-5f); }},
        {"vlm_layernorm_f32", "eps", [&] { vlm_layernorm_f32(p, p, p, p, 4, 4, NAN); }},
        {"vlm_layernorm_f32", "eps", [&] { vlm_layernorm_f32(p, p, p, p, 4, 4, -1.f); }},
        {"vlm_layernorm_f32", "overflow", [&] { vlm_layernorm_f32(p, p, p, p, int64_t(1) << 40, int64_t(1) << 40, 1.f); }},
        {"vlm_l2_normalize_f32", "y is null", [&] { vlm_l2_normalize_f32(p, nullptr, 4, 4, 0.f); }},
        {"vlm_l2_normalize_f32", "eps", [&] { vlm_l2_normalize_f32(p, p, 4, 4, INFINITY); }},
        {"vlm_softmax_f32", "dim", [&] { vlm_softmax_f32(p, p, 4, 0); }},
        {"vlm_activation_f32", "act", [&] { vlm_activation_f32(4, p, p, 4); }},
        {"vlm_activation_f32", "n must", [&] { vlm_activation_f32(1, p, p, -4); }},
        {"vlm_activation_f32", "x is null", [&] { vlm_activation_f32(1, nullptr, p, 4); }},
        {"vlm_add_f32", "b is null", [&] { vlm_add_f32(p, nullptr, p, 4); }},
        {"vlm_add_row_f32", "rows", [&] { vlm_add_row_f32(p, p, 0, 4); }},
        {"vlm_add_row_f32", "v is null", [&] { vlm_add_row_f32(p, nullptr, 4, 4); }},
        {"vlm_patch_embed_f32", "smaller than the patch", [&] { vlm_patch_embed_f32(p, 1, 3, 8, 16, 16, p, nullptr, 4, p); }},
        {"vlm_patch_embed_f32", "patch", [&] { vlm_patch_embed_f32(p, 1, 3, 8, 8, 0, p, nullptr, 4, p); }},
        {"vlm_patch_embed_f32", "weight is null", [&] { vlm_patch_embed_f32(p, 1, 1, 8, 8, 4, nullptr, nullptr, 4, p); }},
        {"vlm_gather_rows_f32", "ids is null", [&] { vlm_gather_rows_f32(p, 4, 4, nullptr, 2, p); }},
        {"vlm_gather_rows_f32", "rows", [&] { vlm_gather_rows_f32(p, 0, 4, ids.data(), 2, p); }},
        {"vlm_eos_pool_f32", "len", [&] { vlm_eos_pool_f32(p, ids.data(), 2, 0, 4, -1, p, nullptr); }},
        {"vlm_eos_pool_f32", "out is null", [&] { vlm_eos_pool_f32(p, ids.data(), 2, 4, 4, -1, nullptr, nullptr); }},
    };
    int failures = 0;
    for (const auto& [fn, what, call] : bad) {
        const std::string msg = error_of<std::invalid_argument>(call);
        if (msg.rfind(std::string(fn) + ": ", 0) != 0 || msg.find(what) == std::string::npos) {
            std::printf("  FAIL bad-argument check %s '%s': %s\n", fn, what, msg.c_str());
            ++failures;
        }
    }
    for (float x : f) failures += x != 1.f;  // nothing was written
    std::printf("  argument validation: %zu bad calls, %d failures\n", bad.size(), failures);
    return failures;
}

int run_checks() {
    std::printf("== checks, path %s, %d threads\n", vlm_simd_level(), omp_get_max_threads());
    int failures = check_errors() + check_layernorm() + check_l2() + check_softmax() + check_activation_kernel() +
                   check_add() + check_patch_embed() + check_gather_pool();
    if (std::strcmp(vlm_simd_level(), "scalar") != 0) failures += check_vec_math();
    return failures;
}

// ---- timings ----

void bench(int reps) {
    std::printf("== timings, path %s, %d threads (best of %d)\n", vlm_simd_level(), omp_get_max_threads(), reps);
    std::printf("%-34s | %8s %8s\n", "kernel (shape)", "ms", "GB/s");
    auto line = [&](const char* name, double bytes, const std::function<void()>& f) {
        const double ms = best_ms(f, reps);
        std::printf("%-34s | %8.3f %8.1f\n", name, ms, bytes / (ms * 1e-3) * 1e-9);
        std::fflush(stdout);
    };
    const int64_t vit = 8 * 197, txt = 8 * 77;
    auto x = rand_vec(vit * 3072), y = std::vector<float>(vit * 3072), g = rand_vec(3072), b = rand_vec(3072);
    line("layernorm ViT b8 [1576, 768]", 2.0 * vit * 768 * 4,
         [&] { vlm_layernorm_f32(x.data(), g.data(), b.data(), y.data(), vit, 768, 1e-5f); });
    line("layernorm text b8 [616, 512]", 2.0 * txt * 512 * 4,
         [&] { vlm_layernorm_f32(x.data(), g.data(), b.data(), y.data(), txt, 512, 1e-5f); });
    line("softmax [96*197, 197]", 2.0 * 96 * 197 * 197 * 4,
         [&] { vlm_softmax_f32(x.data(), y.data(), 96 * 197, 197); });
    line("l2_normalize [64, 512]", 2.0 * 64 * 512 * 4, [&] { vlm_l2_normalize_f32(x.data(), y.data(), 64, 512, 1e-12f); });
    const char* acts[4] = {"copy", "gelu", "quick_gelu", "gelu_tanh"};
    for (int act = 0; act < 4; ++act) {
        const std::string name = std::string(acts[act]) + " ViT b8 fc1 [1576, 3072]";
        line(name.c_str(), 2.0 * vit * 3072 * 4, [&] { vlm_activation_f32(act, x.data(), y.data(), vit * 3072); });
    }
    auto z = rand_vec(vit * 768);
    line("add [1576, 768]", 3.0 * vit * 768 * 4, [&] { vlm_add_f32(x.data(), z.data(), y.data(), vit * 768); });
    line("add_row [1576, 768] += [768]", 2.0 * vit * 768 * 4, [&] { vlm_add_row_f32(y.data(), g.data(), vit, 768); });
    const auto px = rand_vec(8 * 3 * 224 * 224), wt = rand_vec(768 * 768);
    std::vector<float> emb(8 * 196 * 768);
    const double ms = best_ms([&] { vlm_patch_embed_f32(px.data(), 8, 3, 224, 224, 16, wt.data(), nullptr, 768, emb.data()); }, reps);
    std::printf("%-34s | %8.3f %8s  (%.1f GFLOP/s)\n", "patch_embed b8 224/16 -> 768", ms, "-",
                2.0 * 8 * 196 * 768 * 768 / (ms * 1e-3) * 1e-9);
}

}  // namespace

int main(int argc, char** argv) { return harness::main(argc, argv, 20, run_checks, bench); }
