// Standalone harness for the training kernels (llm.c style): LayerNorm, activation, L2-normalize and attention
// backward against float64 references, dropout against its definition bit for bit, AdamW against PyTorch's formula,
// the sum of squares and scale, and argument validation, on every SIMD path; then timings of the ViT-B/16 shapes.
//   build/dev/train            all paths checked (each in a child process with VLM4J_SIMD=...), then timings
//   build/dev/train --check    checks for the current path only    build/dev/train --bench   timings only
#include "vlm4j/kernels.h"
#include "harness.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <iterator>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

using harness::best_ms;
using harness::rand_vec;
using harness::rng;

int report(const char* what, double err, double tol) {
    const bool ok = err <= tol;  // false for NaN
    std::printf("  %-58s %.2e (tol %.0e) %s\n", what, err, tol, ok ? "ok" : "FAIL");
    return ok ? 0 : 1;
}

// max|got - ref| / max(1, max|ref|)
double normwise(const float* got, const std::vector<double>& ref) {
    double err = 0, mx = 1;
    for (size_t i = 0; i < ref.size(); ++i) {
        const double e = std::fabs(got[i] - ref[i]);
        err = std::isnan(e) ? INFINITY : std::max(err, e);
        mx = std::max(mx, std::fabs(ref[i]));
    }
    return err / mx;
}

// ---- LayerNorm backward ----

int check_layernorm_backward() {
    const int64_t shapes[][2] = {{1, 1}, {3, 7}, {7, 33}, {33, 77}, {40, 512}, {1576, 768}, {4, 1025}};
    double worst = 0;
    int failures = 0;
    for (const auto& s : shapes)
        for (int accumulate = 0; accumulate < 2; ++accumulate) {
            const int64_t rows = s[0], dim = s[1];
            const auto x = rand_vec(rows * dim, 99.f, 101.f), g = rand_vec(dim, 0.5f, 1.5f), dy = rand_vec(rows * dim);
            auto dx = rand_vec(rows * dim), dg = rand_vec(dim), db = rand_vec(dim);
            std::vector<double> rdx(dx.begin(), dx.end()), rdg(dg.begin(), dg.end()), rdb(db.begin(), db.end());
            if (!accumulate) std::fill(rdx.begin(), rdx.end(), 0.0);
            for (int64_t r = 0; r < rows; ++r) {
                const float* xr = x.data() + r * dim;
                const float* dyr = dy.data() + r * dim;
                double mean = 0, var = 0, mg = 0, mgx = 0;
                for (int64_t i = 0; i < dim; ++i) mean += xr[i];
                mean /= dim;
                for (int64_t i = 0; i < dim; ++i) var += (xr[i] - mean) * (xr[i] - mean);
                const double rstd = 1 / std::sqrt(var / dim + 1e-5f);
                for (int64_t i = 0; i < dim; ++i) {
                    mg += double(dyr[i]) * g[i];
                    mgx += double(dyr[i]) * g[i] * (xr[i] - mean) * rstd;
                }
                mg /= dim;
                mgx /= dim;
                for (int64_t i = 0; i < dim; ++i) {
                    const double xh = (xr[i] - mean) * rstd;
                    rdx[r * dim + i] += (double(dyr[i]) * g[i] - mg - xh * mgx) * rstd;
                    rdg[i] += dyr[i] * xh;
                    rdb[i] += dyr[i];
                }
            }
            vlm_layernorm_backward_f32(x.data(), g.data(), dy.data(), dx.data(), rows, dim, 1e-5f, accumulate, dg.data(),
                                       db.data());
            const double e = std::max({normwise(dx.data(), rdx), normwise(dg.data(), rdg), normwise(db.data(), rdb)});
            worst = std::max(worst, e);
            if (!(e <= 1e-5)) ++failures, std::printf("  FAIL layernorm_backward [%ld, %ld] acc %d: %.2e\n", rows, dim, accumulate, e);
        }
    std::printf("  layernorm_backward: worst normwise error %.2e over dx, dgamma, dbeta -> %s\n", worst, failures ? "FAIL" : "ok");
    return failures;
}

// ---- activation and L2-normalize backward ----

double act_grad(double x, int act) {
    switch (act) {
        case 1: return 0.5 * std::erfc(-x / std::sqrt(2.0)) + x * std::exp(-0.5 * x * x) / std::sqrt(2 * M_PI);
        case 2: {
            const double s = 1 / (1 + std::exp(-1.702 * x));
            return s + 1.702 * x * s * (1 - s);
        }
        case 3: {
            const double c = std::sqrt(2 / M_PI), t = std::tanh(c * (x + 0.044715 * x * x * x));
            return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * c * (1 + 3 * 0.044715 * x * x);
        }
        default: return 1;
    }
}

int check_activation_backward() {
    const int64_t n = 100003;
    const auto x = rand_vec(n, -10.f, 10.f), dy = rand_vec(n);
    std::vector<float> dx(n);
    int failures = 0;
    const char* names[] = {"identity", "gelu", "quick_gelu", "gelu_tanh"};
    for (int act = 0; act < 4; ++act) {
        std::vector<double> ref(n);
        for (int64_t i = 0; i < n; ++i) ref[i] = act_grad(x[i], act) * dy[i];
        vlm_activation_backward_f32(act, x.data(), dy.data(), dx.data(), n);
        failures += report((std::string("activation_backward ") + names[act] + ", x in [-10, 10]").c_str(),
                           normwise(dx.data(), ref), 1e-6);
    }
    return failures;
}

int check_l2_backward() {
    const int64_t rows = 65, dim = 513;
    auto x = rand_vec(rows * dim);
    for (int64_t i = 0; i < dim; ++i) x[i] *= 1e-4f;  // row 0 shorter than eps: dx = dy / eps
    const auto dy = rand_vec(rows * dim);
    std::vector<float> dx(rows * dim);
    std::vector<double> ref(rows * dim);
    const float eps = 1e-3f;
    for (int64_t r = 0; r < rows; ++r) {
        const float* xr = x.data() + r * dim;
        const float* dyr = dy.data() + r * dim;
        double sq = 0, dot = 0;
        for (int64_t i = 0; i < dim; ++i) sq += double(xr[i]) * xr[i], dot += double(xr[i]) * dyr[i];
        const double n = std::sqrt(sq);
        for (int64_t i = 0; i < dim; ++i) ref[r * dim + i] = n > eps ? (dyr[i] - dot / n * xr[i] / n) / n : dyr[i] / eps;
    }
    vlm_l2_normalize_backward_f32(x.data(), dy.data(), dx.data(), rows, dim, eps);
    return report("l2_normalize_backward [65, 513], one row below eps", normwise(dx.data(), ref), 1e-5);
}

// ---- attention backward: q, k, v packed [B, L, 3 H d] as the CPU backend passes them ----

struct AttCase {
    int64_t b, h, len, d;
    bool causal, mask;
};

int check_attention_backward() {
    const AttCase cases[] = {{1, 1, 1, 1, false, false}, {2, 3, 13, 8, true, true}, {2, 2, 150, 16, false, true},
                             {1, 2, 150, 16, true, false}, {2, 4, 77, 64, true, true}, {1, 12, 197, 64, false, false}};
    int failures = 0;
    double worst = 0;
    for (const auto& c : cases) {
        const int64_t w = c.h * c.d, w3 = 3 * w, L = c.len;
        const auto qkv = rand_vec(c.b * L * w3, -2.f, 2.f), dout = rand_vec(c.b * L * w);
        std::vector<int32_t> mask(c.b * L, 1);
        if (c.mask)
            for (auto& m : mask) m = rng() % 4 != 0;
        std::vector<float> out(c.b * L * w), dqkv(c.b * L * w3, NAN);
        const float scale = 1 / std::sqrt(float(c.d));
        const int32_t* km = c.mask ? mask.data() : nullptr;
        vlm_attention_f32(qkv.data(), w3, L * w3, qkv.data() + w, w3, L * w3, qkv.data() + 2 * w, w3, L * w3, out.data(), w,
                          L * w, c.b, c.h, L, L, c.d, scale, c.causal, km);
        std::vector<double> ref(dqkv.size(), 0.0), p(L);
        for (int64_t b = 0; b < c.b; ++b)
            for (int64_t h = 0; h < c.h; ++h)
                for (int64_t i = 0; i < L; ++i) {
                    auto at = [&](int64_t row, int part) { return (b * L + row) * w3 + part * w + h * c.d; };
                    const int64_t oi = (b * L + i) * w + h * c.d;
                    double mx = -INFINITY, sum = 0, rd = 0;
                    for (int64_t j = 0; j < L; ++j) {
                        p[j] = -INFINITY;
                        if ((c.causal && j > i) || (km && !km[b * L + j])) continue;
                        double s = 0;
                        for (int64_t t = 0; t < c.d; ++t) s += double(qkv[at(i, 0) + t]) * qkv[at(j, 1) + t];
                        p[j] = s * scale;
                        mx = std::max(mx, p[j]);
                    }
                    if (mx == -INFINITY) continue;  // no visible key: zero gradient
                    for (int64_t j = 0; j < L; ++j) sum += (p[j] = std::exp(p[j] - mx));
                    for (int64_t t = 0; t < c.d; ++t) rd += double(dout[oi + t]) * out[oi + t];
                    for (int64_t j = 0; j < L; ++j) {
                        if (p[j] == 0) continue;
                        const double pj = p[j] / sum;
                        double dp = 0;
                        for (int64_t t = 0; t < c.d; ++t) dp += double(dout[oi + t]) * qkv[at(j, 2) + t];
                        const double ds = pj * (dp - rd) * scale;
                        for (int64_t t = 0; t < c.d; ++t) {
                            ref[at(i, 0) + t] += ds * qkv[at(j, 1) + t];
                            ref[at(j, 1) + t] += ds * qkv[at(i, 0) + t];
                            ref[at(j, 2) + t] += pj * dout[oi + t];
                        }
                    }
                }
        float* g = dqkv.data();
        vlm_attention_backward_f32(qkv.data(), w3, L * w3, qkv.data() + w, w3, L * w3, qkv.data() + 2 * w, w3, L * w3,
                                   out.data(), w, L * w, dout.data(), w, L * w, g, w3, L * w3, g + w, w3, L * w3, g + 2 * w,
                                   w3, L * w3, c.b, c.h, L, L, c.d, scale, c.causal, km);
        const double e = normwise(g, ref);
        worst = std::max(worst, e);
        if (!(e <= 1e-5))
            ++failures, std::printf("  FAIL attention_backward b%ld h%ld L%ld d%ld%s%s: %.2e\n", c.b, c.h, c.len, c.d,
                                    c.causal ? " causal" : "", c.mask ? " mask" : "", e);
    }
    std::printf("  attention_backward: %zu cases, worst normwise error %.2e -> %s\n", std::size(cases), worst,
                failures ? "FAIL" : "ok");
    return failures;
}

// ---- dropout, AdamW, sum of squares, scale ----

int check_dropout() {
    const int64_t n = (1 << 18) + 5;
    const auto x = rand_vec(n);
    std::vector<float> y(n);
    int failures = 0;
    for (const float p : {0.0f, 0.1f, 0.5f, 0.9f})
        for (const int64_t seed : {int64_t(0), int64_t(-7), int64_t(0x0123456789ABCDEF)}) {
            vlm_dropout_f32(x.data(), y.data(), n, p, seed);
            const auto threshold = uint32_t(std::min(4294967295.0, std::floor(double(p) * 4294967296.0)));
            const auto scale = float(1.0 / (1.0 - double(p)));
            int64_t wrong = 0, kept = 0;
            for (int64_t i = 0; i < n; ++i) {  // SplitMix64, written out again
                uint64_t z = uint64_t(seed) + uint64_t(i + 1) * 0x9E3779B97F4A7C15ull;
                z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
                z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
                z ^= z >> 31;
                const bool keep = uint32_t(z >> 32) >= threshold;
                kept += keep;
                const float want = keep ? x[i] * scale : 0.0f;
                wrong += std::memcmp(&y[i], &want, sizeof want) != 0;
            }
            const double sd = std::sqrt(n * p * (1 - p));
            if (wrong || std::fabs(kept - n * (1 - p)) > 6 * sd + 1e-9)
                ++failures, std::printf("  FAIL dropout p %.2f seed %ld: %ld wrong, %ld kept\n", p, seed, wrong, kept);
        }
    std::printf("  dropout: every element as defined, %d failures\n", failures);
    return failures;
}

int check_adamw() {
    const int64_t n = 100003;
    auto p = rand_vec(n), m = std::vector<float>(n), v = std::vector<float>(n);
    std::vector<double> rp(p.begin(), p.end()), rm(n), rv(n);
    const float lr = 1e-2f, b1 = 0.8f, b2 = 0.99f, eps = 1e-3f, wd = 0.1f;
    double e = 0;
    for (int64_t step = 1; step <= 5; ++step) {
        const auto g = rand_vec(n, -1e-3f, 1e-3f);
        vlm_adamw_f32(p.data(), g.data(), m.data(), v.data(), n, lr, b1, b2, eps, wd, step);
        const double bc1 = 1 - std::pow(double(b1), step), bc2 = 1 - std::pow(double(b2), step);
        for (int64_t i = 0; i < n; ++i) {
            rp[i] *= 1 - double(lr) * wd;
            rm[i] = b1 * rm[i] + (1 - double(b1)) * g[i];
            rv[i] = b2 * rv[i] + (1 - double(b2)) * g[i] * g[i];
            rp[i] -= lr * (rm[i] / bc1) / (std::sqrt(rv[i] / bc2) + eps);
        }
        e = std::max(e, normwise(p.data(), rp));
    }
    return report("adamw, 5 steps, eps comparable to sqrt(v)", e, 1e-6);
}

int check_reductions() {
    const int64_t n = (1 << 20) + 3;
    auto x = rand_vec(n, -2.f, 2.f);
    double want = 0;
    for (const float f : x) want += double(f) * f;
    int failures = report("sum_squares 2^20 + 3 (relative)", std::fabs(vlm_sum_squares_f32(x.data(), n) - want) / want, 1e-12);
    const auto before = x;
    vlm_scale_f32(x.data(), n, -0.37f);
    int64_t wrong = 0;
    for (int64_t i = 0; i < n; ++i) wrong += x[i] != before[i] * -0.37f;
    return failures + report("scale: elements not exactly x * alpha", double(wrong), 0);
}

template <class E, class F>
std::string error_of(F&& f) {
    try {
        f();
    } catch (const E& e) {
        return e.what();
    } catch (...) {
        return "(another exception)";
    }
    return "(no exception)";
}

int check_errors() {
    std::vector<float> buf(64, 1.f);
    float* p = buf.data();
    struct Bad {
        const char* fn;
        const char* what;
        std::function<void()> call;
    };
    const Bad bad[] = {
        {"vlm_layernorm_backward_f32", "dx may not be dy", [&] { vlm_layernorm_backward_f32(p, p, p, p, 2, 4, 1e-5f, 1, nullptr, nullptr); }},
        {"vlm_layernorm_backward_f32", "eps", [&] { vlm_layernorm_backward_f32(p, p, p + 8, p + 16, 2, 4, 0.f, 0, nullptr, nullptr); }},
        {"vlm_layernorm_backward_f32", "gamma is null", [&] { vlm_layernorm_backward_f32(p, nullptr, p, p, 2, 4, 1e-5f, 0, nullptr, nullptr); }},
        {"vlm_activation_backward_f32", "act", [&] { vlm_activation_backward_f32(7, p, p, p, 4); }},
        {"vlm_l2_normalize_backward_f32", "rows", [&] { vlm_l2_normalize_backward_f32(p, p, p, 0, 4, 1e-12f); }},
        {"vlm_attention_backward_f32", "dq overlaps the input q", [&] {
             vlm_attention_backward_f32(p, 4, 8, p, 4, 8, p, 4, 8, p + 16, 4, 8, p + 32, 4, 8, p, 4, 8, p + 48, 4, 8, p + 56,
                                        4, 8, 1, 1, 2, 2, 4, 0.5f, 0, nullptr);
         }},
        {"vlm_attention_backward_f32", "row stride of dk", [&] {
             vlm_attention_backward_f32(p, 4, 8, p, 4, 8, p, 4, 8, p, 4, 8, p, 4, 8, p + 16, 4, 8, p + 32, 2, 8, p + 48, 4,
                                        8, 1, 1, 2, 2, 4, 0.5f, 0, nullptr);
         }},
        {"vlm_dropout_f32", "p must be in", [&] { vlm_dropout_f32(p, p, 4, 1.f, 0); }},
        {"vlm_adamw_f32", "step", [&] { vlm_adamw_f32(p, p, p, p, 4, 1e-3f, 0.9f, 0.999f, 1e-8f, 0.f, 0); }},
        {"vlm_scale_f32", "alpha", [&] { vlm_scale_f32(p, 4, INFINITY); }},
    };
    int failures = 0;
    for (const auto& [fn, what, call] : bad) {
        const std::string msg = error_of<std::invalid_argument>(call);
        if (msg.rfind(std::string(fn) + ": ", 0) != 0 || msg.find(what) == std::string::npos)
            ++failures, std::printf("  FAIL bad-argument check %s '%s': %s\n", fn, what, msg.c_str());
    }
    for (const float x : buf) failures += x != 1.f;  // nothing was written
    std::printf("  argument validation: %zu bad calls, %d failures\n", std::size(bad), failures);
    return failures;
}

int run_checks() {
    std::printf("== checks, path %s, %d threads\n", vlm_simd_level(), omp_get_max_threads());
    return check_errors() + check_layernorm_backward() + check_activation_backward() + check_l2_backward() +
           check_attention_backward() + check_dropout() + check_adamw() + check_reductions();
}

// ---- timings ----

void bench(int reps) {
    std::printf("== timings, path %s, %d threads (best of %d)\n", vlm_simd_level(), omp_get_max_threads(), reps);
    std::printf("%-40s | %8s %8s\n", "kernel (shape)", "ms", "GB/s");
    auto line = [&](const char* name, double bytes, const std::function<void()>& f) {
        const double ms = best_ms(f, reps);
        std::printf("%-40s | %8.3f %8.1f\n", name, ms, bytes / (ms * 1e-3) * 1e-9);
        std::fflush(stdout);
    };
    const int64_t vit = 8 * 197, n_fc = vit * 3072;
    auto x = rand_vec(n_fc), dy = rand_vec(n_fc), dx = std::vector<float>(n_fc), g = rand_vec(768);
    std::vector<float> dg(768), db(768);
    line("layernorm_backward [1576, 768] +dg +db", 3.0 * vit * 768 * 4,
         [&] { vlm_layernorm_backward_f32(x.data(), g.data(), dy.data(), dx.data(), vit, 768, 1e-5f, 0, dg.data(), db.data()); });
    const char* acts[4] = {"copy", "gelu", "quick_gelu", "gelu_tanh"};
    for (int act = 0; act < 4; ++act) {
        const std::string name = std::string(acts[act]) + "_backward [1576, 3072]";
        line(name.c_str(), 3.0 * n_fc * 4, [&] { vlm_activation_backward_f32(act, x.data(), dy.data(), dx.data(), n_fc); });
    }
    line("dropout p 0.1 [1576, 768]", 2.0 * vit * 768 * 4, [&] { vlm_dropout_f32(x.data(), dx.data(), vit * 768, 0.1f, 42); });
    auto m = std::vector<float>(n_fc), v = std::vector<float>(n_fc);
    line("adamw 4.8M params", 7.0 * n_fc * 4,
         [&] { vlm_adamw_f32(dx.data(), dy.data(), m.data(), v.data(), n_fc, 1e-3f, 0.9f, 0.999f, 1e-8f, 0.01f, 10); });
    line("sum_squares 4.8M", 1.0 * n_fc * 4, [&] { (void)vlm_sum_squares_f32(x.data(), n_fc); });
    // attention backward, ViT-B/16 batch 8: the five L x L x d products of the ten per head
    const int64_t b = 8, h = 12, L = 197, d = 64, w = h * d, w3 = 3 * w;
    auto qkv = rand_vec(b * L * w3), out = rand_vec(b * L * w), dout = rand_vec(b * L * w);
    std::vector<float> dqkv(b * L * w3);
    float* gq = dqkv.data();
    const double ms = best_ms([&] {
        vlm_attention_backward_f32(qkv.data(), w3, L * w3, qkv.data() + w, w3, L * w3, qkv.data() + 2 * w, w3, L * w3,
                                   out.data(), w, L * w, dout.data(), w, L * w, gq, w3, L * w3, gq + w, w3, L * w3, gq + 2 * w,
                                   w3, L * w3, b, h, L, L, d, 0.125f, 0, nullptr);
    }, reps);
    std::printf("%-40s | %8.3f %8s  (%.1f GFLOP/s)\n", "attention_backward b8 h12 L197 d64", ms, "-",
                10.0 * b * h * L * L * d / (ms * 1e-3) * 1e-9);
}

}  // namespace

int main(int argc, char** argv) { return harness::main(argc, argv, 10, run_checks, bench); }
