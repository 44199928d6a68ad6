// Standalone harness for vlm_gemm_f32 (llm.c style): correctness of every SIMD path against a float64 reference,
// then timings of the CLIP ViT-B/16 and text-tower shapes, side by side with OpenBLAS when HAVE_OPENBLAS.
//   build/dev/gemm            all paths checked (each in a child process with VLM4J_SIMD=...), then timings
//   build/dev/gemm --check    checks for the current path only      build/dev/gemm --bench   timings only
// Timings are best-of-N: the 2-core dev machine is shared, the minimum is the least disturbed run.
#include "vlm4j/kernels.h"
#include "harness.h"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <limits>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <unistd.h>

#ifdef HAVE_OPENBLAS
#include <cblas.h>
#endif

namespace {

using harness::best_ms;
using harness::rand_vec;
using harness::rng;

double act_ref(double x, int act) {
    switch (act) {
        case 1: return 0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0)));
        case 2: return x / (1.0 + std::exp(-1.702 * x));
        case 3: return 0.5 * x * (1.0 + std::tanh(std::sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x)));
        default: return x;
    }
}

struct Case {
    int ta, tb;
    int64_t batch, m, n, k;
    float alpha, beta;
    bool bias;
    int act;
    bool resid;
    int64_t pad = 0;            // extra leading-dimension elements on every operand
    bool shared_b = false;      // stride_b = 0
    bool resid_in_c = false;    // r aliases c (in-place residual)
};

// Runs one case through vlm_gemm_f32 and a float64 reference; returns max|diff| / max|ref|.
double run_case(const Case& t, double* max_ref_out = nullptr) {
    const int64_t ar = t.ta ? t.k : t.m, ac = t.ta ? t.m : t.k, br = t.tb ? t.n : t.k, bc = t.tb ? t.k : t.n;
    const int64_t lda = ac + t.pad, ldb = bc + t.pad, ldc = t.n + t.pad, ldr = t.resid_in_c ? ldc : t.n + 2 * t.pad;
    const int64_t sa = ar * lda + 3, sb = t.shared_b ? 0 : br * ldb + 5, sc = t.m * ldc + 1, sr = t.m * ldr + 7;
    // exact extents, so that a read or write one element past any operand is caught (run under ASan)
    auto extent = [&](int64_t stride, int64_t rows, int64_t ld, int64_t cols) {
        return size_t((t.batch - 1) * stride + (rows - 1) * ld + cols);
    };
    auto a = rand_vec(extent(sa, ar, lda, ac)), b = rand_vec(extent(sb, br, ldb, bc));
    auto c = rand_vec(extent(sc, t.m, ldc, t.n)), bias = rand_vec(t.n), r = rand_vec(extent(sr, t.m, ldr, t.n));
    if (t.beta == 0.f && !t.resid_in_c)  // write-only C: NaNs there must not leak into the result
        for (auto& x : c) x = std::numeric_limits<float>::quiet_NaN();
    const std::vector<float> c0 = c;
    const float* rp = t.resid ? (t.resid_in_c ? c.data() : r.data()) : nullptr;
    const int64_t ldr_arg = t.resid_in_c ? ldc : ldr, sr_arg = t.resid_in_c ? sc : sr;
    vlm_gemm_f32(t.ta, t.tb, t.batch, t.m, t.n, t.k, t.alpha, a.data(), lda, sa, b.data(), ldb, sb, t.beta, c.data(),
                 ldc, sc, t.bias ? bias.data() : nullptr, t.act, rp, ldr_arg, sr_arg);
    double max_diff = 0, max_ref = 0;
    std::vector<double> arow(t.k);
    for (int64_t bi = 0; bi < t.batch; ++bi) {
        const float* A = a.data() + bi * sa;
        const float* B = b.data() + bi * sb;
        for (int64_t i = 0; i < t.m; ++i) {
            for (int64_t p = 0; p < t.k; ++p) arow[p] = t.ta ? A[p * lda + i] : A[i * lda + p];
            for (int64_t j = 0; j < t.n; ++j) {
                double s = 0;
                for (int64_t p = 0; p < t.k; ++p) s += arow[p] * (t.tb ? B[j * ldb + p] : B[p * ldb + j]);
                const int64_t ci = bi * sc + i * ldc + j;
                double v = t.alpha * s + (t.beta != 0.f ? t.beta * double(c0[ci]) : 0.0);
                if (t.bias) v += bias[j];
                v = act_ref(v, t.act);
                if (t.resid) v += t.resid_in_c ? c0[ci] : r[bi * sr + i * ldr + j];
                max_ref = std::max(max_ref, std::fabs(v));
                const double d = std::fabs(v - c[ci]);
                max_diff = std::max(max_diff, std::isnan(d) ? INFINITY : d);
            }
            // the padding between rows and batches is untouched
            for (int64_t j = t.n; j < ldc && (i + 1 < t.m || bi + 1 < t.batch); ++j) {
                const int64_t ci = bi * sc + i * ldc + j;
                if (std::memcmp(&c[ci], &c0[ci], 4) != 0) max_diff = INFINITY;
            }
        }
    }
    if (max_ref_out) *max_ref_out = max_ref;
    return max_diff / std::max(max_ref, 1e-30);
}

int check_errors() {
    // Each call must throw std::invalid_argument naming the function and the argument, and touch nothing.
    std::vector<float> a(64, 1.f), b(64, 1.f), c(64, 0.f);
    auto g = [&](int ta, int tb, int64_t batch, int64_t m, int64_t n, int64_t k, const float* ap, int64_t lda,
                 int64_t sa, const float* bp, int64_t ldb, float* cp, int64_t ldc, int64_t sc, int act,
                 const float* r, int64_t ldr, int64_t sr) {
        vlm_gemm_f32(ta, tb, batch, m, n, k, 1.f, ap, lda, sa, bp, ldb, 16, 0.f, cp, ldc, sc, nullptr, act, r, ldr, sr);
    };
    const int64_t big = int64_t(1) << 40;
    const float* A = a.data();
    const float* B = b.data();
    float* C = c.data();
    const std::vector<std::pair<const char*, std::function<void()>>> bad = {
        {"trans_a", [&] { g(2, 0, 1, 4, 4, 4, A, 4, 0, B, 4, C, 4, 0, 0, nullptr, 0, 0); }},
        {"trans_b", [&] { g(0, -1, 1, 4, 4, 4, A, 4, 0, B, 4, C, 4, 0, 0, nullptr, 0, 0); }},
        {"batch", [&] { g(0, 0, 0, 4, 4, 4, A, 4, 0, B, 4, C, 4, 0, 0, nullptr, 0, 0); }},
        {"m", [&] { g(0, 0, 1, 0, 4, 4, A, 4, 0, B, 4, C, 4, 0, 0, nullptr, 0, 0); }},
        {"n", [&] { g(0, 0, 1, 4, -3, 4, A, 4, 0, B, 4, C, 4, 0, 0, nullptr, 0, 0); }},
        {"k", [&] { g(0, 0, 1, 4, 4, 0, A, 4, 0, B, 4, C, 4, 0, 0, nullptr, 0, 0); }},
        {"act", [&] { g(0, 0, 1, 4, 4, 4, A, 4, 0, B, 4, C, 4, 0, 4, nullptr, 0, 0); }},
        {"a is null", [&] { g(0, 0, 1, 4, 4, 4, nullptr, 4, 0, B, 4, C, 4, 0, 0, nullptr, 0, 0); }},
        {"b is null", [&] { g(0, 0, 1, 4, 4, 4, A, 4, 0, nullptr, 4, C, 4, 0, 0, nullptr, 0, 0); }},
        {"c is null", [&] { g(0, 0, 1, 4, 4, 4, A, 4, 0, B, 4, nullptr, 4, 0, 0, nullptr, 0, 0); }},
        {"lda", [&] { g(0, 0, 1, 4, 4, 5, A, 4, 0, B, 4, C, 4, 0, 0, nullptr, 0, 0); }},
        {"lda", [&] { g(1, 0, 1, 5, 4, 4, A, 4, 0, B, 5, C, 5, 0, 0, nullptr, 0, 0); }},
        {"ldb", [&] { g(0, 0, 1, 4, 5, 4, A, 4, 0, B, 4, C, 5, 0, 0, nullptr, 0, 0); }},
        {"ldb", [&] { g(0, 1, 1, 4, 4, 5, A, 5, 0, B, 4, C, 4, 0, 0, nullptr, 0, 0); }},
        {"ldc", [&] { g(0, 0, 1, 4, 4, 4, A, 4, 0, B, 4, C, 3, 0, 0, nullptr, 0, 0); }},
        {"ldr", [&] { g(0, 0, 1, 4, 4, 4, A, 4, 0, B, 4, C, 4, 0, 0, B, 3, 0); }},
        {"stride_a", [&] { g(0, 0, 2, 2, 2, 2, A, 2, -1, B, 2, C, 2, 4, 0, nullptr, 0, 0); }},
        {"stride_c", [&] { g(0, 0, 2, 2, 2, 2, A, 2, 4, B, 2, C, 2, -4, 0, nullptr, 0, 0); }},
        {"stride_c", [&] { g(0, 0, 2, 2, 2, 2, A, 2, 4, B, 2, C, 2, 3, 0, nullptr, 0, 0); }},
        {"stride_r", [&] { g(0, 0, 2, 2, 2, 2, A, 2, 4, B, 2, C, 2, 4, 0, B, 2, -1); }},
        {"overflow", [&] { g(0, 0, 1, big, 4, big, A, big, 0, B, 4, C, 4, 0, 0, nullptr, 0, 0); }},
    };
    int failures = 0;
    for (const auto& [what, call] : bad) {
        std::string msg = "(no exception)";
        try {
            call();
        } catch (const std::invalid_argument& e) {
            msg = e.what();
        } catch (const std::exception& e) {
            msg = std::string("wrong exception type: ") + e.what();
        }
        const bool ok = msg.rfind("vlm_gemm_f32: ", 0) == 0 && msg.find(what) != std::string::npos;
        if (!ok) {
            std::printf("  FAIL bad-argument check '%s': %s\n", what, msg.c_str());
            ++failures;
        }
    }
    for (float x : c)
        if (x != 0.f) ++failures;
    std::printf("  argument validation: %zu bad calls, %d failures\n", bad.size(), failures);
    return failures;
}

// Activation epilogue alone (k = 1, B = 1): a dense sweep of x through the vector erf/exp code.
int check_activations() {
    const int64_t n = 20001;
    std::vector<float> x(n), one(1, 1.f), y(n);
    for (int64_t i = 0; i < n; ++i) x[i] = -12.f + 24.f * float(i) / float(n - 1);
    int failures = 0;
    for (int act = 1; act <= 3; ++act) {
        vlm_gemm_f32(0, 0, 1, n, 1, 1, 1.f, x.data(), 1, 0, one.data(), 1, 0, 0.f, y.data(), 1, 0, nullptr, act,
                     nullptr, 1, 0);
        double worst = 0;
        for (int64_t i = 0; i < n; ++i) {
            const double ref = act_ref(x[i], act);
            worst = std::max(worst, std::fabs(y[i] - ref) / std::max(1.0, std::fabs(ref)));
        }
        const bool ok = worst < 2e-6;
        failures += !ok;
        std::printf("  act %d on [-12, 12]: max |err| / max(1, |ref|) = %.2e %s\n", act, worst, ok ? "ok" : "FAIL");
    }
    return failures;
}

// Results must not depend on the thread count: the same call on the full team and from inside a parallel region
// (where it runs on one thread) gives bitwise-equal output, since every element sums its K terms in the same order.
int check_thread_invariance() {
    const int64_t m = 300, n = 500, k = 1000;
    const auto a = rand_vec(m * k), b = rand_vec(n * k), bias = rand_vec(n);
    std::vector<float> c_team(m * n), c_one[2] = {std::vector<float>(m * n), std::vector<float>(m * n)};
    auto gemm = [&](float* c) {
        vlm_gemm_f32(0, 1, 1, m, n, k, 1.f, a.data(), k, 0, b.data(), k, 0, 0.f, c, n, 0, bias.data(), 1, nullptr,
                     0, 0);
    };
    gemm(c_team.data());
#pragma omp parallel num_threads(2)
    gemm(c_one[omp_get_thread_num()].data());
    int failures = 0;
    for (const auto& c : c_one) failures += std::memcmp(c.data(), c_team.data(), c.size() * 4) != 0;
    std::printf("  thread-count invariance (team vs nested call on one thread): %s\n", failures ? "FAIL" : "ok");
    return failures;
}

int run_checks() {
    std::printf("== checks, path %s%s, %d threads\n", vlm_simd_level(),
                std::getenv("VLM4J_GEMM_EMULATE_AVX512") ? " (avx512 tiles emulated with AVX2)" : "",
                omp_get_max_threads());
    int failures = check_errors() + check_activations() + check_thread_invariance();
    const int64_t shapes[][3] = {{1, 1, 1},     {1, 7, 77},     {7, 1, 197},    {7, 7, 7},      {77, 77, 77},
                                 {197, 197, 64}, {197, 64, 197}, {1, 1000, 77},  {1000, 1, 77},  {77, 1000, 7},
                                 {13, 17, 1000}, {197, 77, 1000}, {1000, 197, 77}, {100, 300, 513}, {7, 4100, 33},
                                 {250, 40, 2050}, {31, 1000, 1000}, {1000, 1000, 100}, {145, 33, 257}, {6, 16, 256},
                                 {13, 31, 45},   {25, 57, 300},  {12, 32, 1}};
    const float alphas[] = {1.f, 0.5f, -1.25f}, betas[] = {0.f, 1.f, 0.5f};
    std::vector<Case> cases;
    int idx = 0;
    for (const auto& s : shapes)
        for (int tr = 0; tr < 4; ++tr, ++idx)
            cases.push_back({tr >> 1, tr & 1, 1, s[0], s[1], s[2], alphas[idx % 3], betas[(idx / 3) % 3],
                             idx % 2 == 0, idx % 4, idx % 5 < 2, (idx % 7 == 3) ? 5 : 0});
    // batched, strided, shared weights, in-place residual, alpha = 0, every epilogue on one shape
    cases.push_back({0, 1, 6, 77, 77, 64, 1.f, 0.f, false, 0, false, 3});
    cases.push_back({0, 0, 5, 197, 64, 197, 1.f, 0.f, false, 0, false});
    cases.push_back({1, 1, 3, 50, 70, 90, 0.7f, 0.3f, true, 1, true, 2});
    cases.push_back({0, 1, 4, 33, 200, 300, 1.f, 0.f, true, 3, true, 0, true});
    cases.push_back({0, 1, 3, 300, 500, 700, 1.f, 0.f, true, 2, true, 0, true});
    cases.push_back({0, 1, 1, 300, 500, 700, 1.f, 0.f, true, 0, true, 0, false, true});
    cases.push_back({0, 1, 2, 40, 50, 600, 1.f, 1.f, true, 1, true, 1, false, true});
    cases.push_back({0, 1, 2, 40, 50, 60, 0.f, 0.5f, true, 1, true});
    cases.push_back({0, 1, 1, 40, 1024, 4200, 1.f, 0.5f, true, 3, true});  // deep K: B packed in two passes
    for (int act = 0; act < 4; ++act) cases.push_back({0, 1, 1, 616, 512, 512, 1.f, 0.f, true, act, act == 0});
    double worst = 0;
    for (const auto& t : cases) {
        double max_ref = 0;
        const double err = run_case(t, &max_ref);
        worst = std::max(worst, err);
        if (!(err <= 1e-5)) {
            ++failures;
            std::printf("  FAIL ta=%d tb=%d batch=%ld m=%ld n=%ld k=%ld alpha=%g beta=%g bias=%d act=%d resid=%d "
                        "pad=%ld shared_b=%d r_in_c=%d: rel err %.3e (max|ref| %.3g)\n",
                        t.ta, t.tb, long(t.batch), long(t.m), long(t.n), long(t.k), t.alpha, t.beta, t.bias, t.act,
                        t.resid, long(t.pad), t.shared_b, t.resid_in_c, err, max_ref);
        }
    }
    std::printf("  %zu GEMM cases vs float64: worst max|diff|/max|ref| = %.2e, %d failures -> %s\n", cases.size(),
                worst, failures, failures ? "FAIL" : "ok");
    return failures;
}

double cpu_ghz() {
    std::ifstream f("/proc/cpuinfo");
    std::string line;
    while (std::getline(f, line))
        if (line.rfind("cpu MHz", 0) == 0) return std::atof(line.substr(line.find(':') + 1).c_str()) / 1000.0;
    return 0;
}

void bench(int reps) {
    const int threads = omp_get_max_threads();
    const bool avx512 = std::strcmp(vlm_simd_level(), "avx512") == 0;
    const int lanes = avx512 ? 16 : std::strcmp(vlm_simd_level(), "avx2") == 0 ? 8 : 1;
    const double ghz = cpu_ghz();
    const double peak1 = 2.0 * lanes * 2.0 * ghz;  // one core: 2 FMA units x lanes x 2 flops x GHz
    std::printf("== timings, path %s, %d threads; peak ~ %d cores x 2 FMA x %d lanes x 2 x %.2f GHz = %.0f GFLOP/s "
                "(approximate: 'cpu MHz' is not the boost clock, so >100%% happens)\n",
                vlm_simd_level(), threads, threads, lanes, ghz, peak1 * threads);
    struct Shape { const char* name; int64_t batch, m, n, k; int tb, act; };
    const Shape shapes[] = {
        {"vit qkv", 1, 1576, 2304, 768, 1, 0},  {"vit out", 1, 1576, 768, 768, 1, 0},
        {"vit fc1", 1, 1576, 3072, 768, 1, 0},  {"vit fc1+gelu", 1, 1576, 3072, 768, 1, 1},
        {"vit fc2", 1, 1576, 768, 3072, 1, 0},  {"txt out", 1, 616, 512, 512, 1, 0},
        {"txt fc1", 1, 616, 2048, 512, 1, 0},   {"txt fc2", 1, 616, 512, 2048, 1, 0},
        {"attn qk^T", 96, 197, 197, 64, 1, 0},  {"attn pv", 96, 197, 64, 197, 0, 0},
    };
    std::printf("%-13s %5s %5s %5s %5s | %8s %7s %6s", "shape", "batch", "M", "N", "K", "ours ms", "GFLOP/s", "%peak");
#ifdef HAVE_OPENBLAS
    std::printf(" | %8s %7s %6s | %s", "oblas ms", "GFLOP/s", "%peak", "ours/oblas");
    openblas_set_num_threads(threads);
#endif
    std::printf("\n");
    for (const auto& s : shapes) {
        const int64_t lda = s.k, ldb = s.tb ? s.k : s.n;
        const auto a = rand_vec(s.batch * s.m * s.k), b = rand_vec(s.batch * s.k * s.n), bias = rand_vec(s.n);
        std::vector<float> c(s.batch * s.m * s.n);
        const double gflop = 2.0 * s.batch * s.m * s.n * s.k * 1e-9;
        auto ours = [&] {
            vlm_gemm_f32(0, s.tb, s.batch, s.m, s.n, s.k, 1.f, a.data(), lda, s.m * s.k, b.data(), ldb, s.k * s.n,
                         0.f, c.data(), s.n, s.m * s.n, s.act ? bias.data() : nullptr, s.act, nullptr, 0, 0);
        };
        double t_ours = best_ms(ours, reps);
#ifdef HAVE_OPENBLAS
        // OpenBLAS has no fused epilogue; time the bare product (its bias + gelu would be an extra pass).
        auto theirs = [&] {
            for (int64_t bi = 0; bi < s.batch; ++bi)
                cblas_sgemm(CblasRowMajor, CblasNoTrans, s.tb ? CblasTrans : CblasNoTrans, s.m, s.n, s.k, 1.f,
                            a.data() + bi * s.m * s.k, lda, b.data() + bi * s.k * s.n, ldb, 0.f,
                            c.data() + bi * s.m * s.n, s.n);
        };
        // Alternate the two libraries, so a noisy neighbour hurts both alike; each library's spinning
        // threads get a pause to go idle before the other one runs.
        double t_theirs = 1e30;
        for (int round = 0; round < 3; ++round) {
            std::this_thread::sleep_for(std::chrono::milliseconds(30));
            t_theirs = std::min(t_theirs, best_ms(theirs, reps));
            std::this_thread::sleep_for(std::chrono::milliseconds(30));
            t_ours = std::min(t_ours, best_ms(ours, reps));
        }
#endif
        const double g = gflop / (t_ours * 1e-3);
        std::printf("%-13s %5ld %5ld %5ld %5ld | %8.3f %7.1f %5.0f%%", s.name, long(s.batch), long(s.m), long(s.n),
                    long(s.k), t_ours, g, 100 * g / (peak1 * threads));
#ifdef HAVE_OPENBLAS
        const double go = gflop / (t_theirs * 1e-3);
        std::printf(" | %8.3f %7.1f %5.0f%% | %5.2fx", t_theirs, go, 100 * go / (peak1 * threads), t_theirs / t_ours);
#endif
        std::printf("\n");
        std::fflush(stdout);
    }
}

}  // namespace

int main(int argc, char** argv) {
    // Beyond the lower paths: the AVX-512 kernel's 12x32 tiles, packing and blocking, either for real or, on a
    // machine without AVX-512, with each zmm emulated by two ymm.
    std::vector<std::string> envs;
    for (const auto& p : harness::lower_paths()) envs.push_back("VLM4J_SIMD=" + p);
    if (std::strcmp(vlm_simd_level(), "avx512") != 0) envs.push_back("VLM4J_SIMD=avx2 VLM4J_GEMM_EMULATE_AVX512=1");
    return harness::main(argc, argv, 10, run_checks, bench, envs);
}
