// Harness for cuda/src/gemm.cu: every dtype, transposes, batches, shared B, fused bias/activation/residual and beta
// vs a float64 reference on odd shapes; then TFLOP/s on the ViT-B/16 shapes (batch 256) with the fraction of the
// dense BF16/FP16 tensor-core peak the caller passes (--peak-tflops, 989 for an H100 SXM).
//   make -C cuda dev && cuda/build/dev/gemm [--peak-tflops 989]
#include "harness.cuh"

namespace {

struct Case {
    int ta, tb;
    int64_t batch, m, n, k;
    bool shared_b, bias, residual;
    int act;
    float beta;
};

int run(const Case& c, int dt) {
    const int64_t ar = c.ta ? c.k : c.m, ac = c.ta ? c.m : c.k, br = c.tb ? c.n : c.k, bc = c.tb ? c.k : c.n;
    const int64_t sb = c.shared_b ? 0 : br * bc;
    auto a = h::rounded(dt, h::rand_vec(c.batch * ar * ac)), b = h::rounded(dt, h::rand_vec((c.shared_b ? 1 : c.batch) * br * bc));
    auto c0 = h::rounded(dt, h::rand_vec(c.batch * c.m * c.n)), r = h::rounded(dt, h::rand_vec(c.batch * c.m * c.n));
    auto bias = h::rand_vec(c.n);
    h::Buf da(dt, a), db(dt, b), dc(dt, c0), dr(dt, r), dbias(0, bias);
    vlmc_gemm(dt, c.ta, c.tb, c.batch, c.m, c.n, c.k, 1.0f, da.ptr, ac, ar * ac, db.ptr, bc, sb, c.beta, dc.ptr, c.n, c.m * c.n,
              c.bias ? dbias.ptr : 0, c.act, c.residual ? dr.ptr : 0, c.n, c.m * c.n);
    std::vector<double> ref(c.batch * c.m * c.n);
    for (int64_t z = 0; z < c.batch; ++z) {
        for (int64_t i = 0; i < c.m; ++i) {
            for (int64_t j = 0; j < c.n; ++j) {
                double s = 0;
                for (int64_t p = 0; p < c.k; ++p) {
                    const double av = c.ta ? a[z * ar * ac + p * ac + i] : a[z * ar * ac + i * ac + p];
                    const double bv = c.tb ? b[z * sb + j * bc + p] : b[z * sb + p * bc + j];
                    s += av * bv;
                }
                const int64_t o = (z * c.m + i) * c.n + j;
                s += c.beta * c0[o] + (c.bias ? bias[j] : 0.0);
                s = h::act_ref(s, c.act);
                ref[o] = s + (c.residual ? r[o] : 0.0);
            }
        }
    }
    char name[160];
    std::snprintf(name, sizeof name, "gemm %c%c b%lld %lldx%lldx%lld%s%s act%d beta%.0f", c.ta ? 'T' : 'N', c.tb ? 'T' : 'N',
                  (long long)c.batch, (long long)c.m, (long long)c.n, (long long)c.k, c.bias ? " +bias" : "", c.residual ? " +res" : "",
                  c.act, c.beta);
    // fp16/bf16 outputs are rounded once: tolerance relative to the output magnitude
    return h::report(name, dt, h::err(dc.host(), ref) / (dt == 0 ? 1.0 : std::max(1.0, std::sqrt(double(c.k)) / 4)));
}

}  // namespace

int main(int argc, char** argv) {
    h::require_gpu();
    double peak = 989;
    for (int i = 1; i + 1 < argc; ++i) if (!std::strcmp(argv[i], "--peak-tflops")) peak = std::atof(argv[i + 1]);
    int f = 0;
    const Case cases[] = {
        {0, 0, 1, 1, 1, 1, false, false, false, 0, 0}, {0, 1, 1, 7, 13, 5, false, true, false, 2, 0},
        {1, 0, 2, 65, 33, 17, false, false, true, 0, 0}, {1, 1, 3, 64, 64, 64, true, true, true, 1, 0},
        {0, 1, 1, 197, 77, 131, false, true, true, 3, 0.5f}, {0, 1, 2, 130, 257, 768, true, true, false, 2, 0},
        {0, 0, 1, 100, 100, 0, false, true, false, 0, 0},
    };
    for (int dt = 0; dt < 3; ++dt) for (const auto& c : cases) f += run(c, dt);
    std::printf("== timings, ViT-B/16 at batch 256 (M = 50432), %% of %.0f TFLOP/s\n", peak);
    const int64_t m = 256 * 197;
    const int64_t shapes[][2] = {{2304, 768}, {768, 768}, {3072, 768}, {768, 3072}};
    for (int dt = 0; dt < 3; ++dt) {
        for (const auto& s : shapes) {
            const int64_t n = s[0], k = s[1];
            h::Buf a(dt, m * k), b(dt, n * k), c(dt, m * n), bias(0, n);
            const double ms = h::time_ms([&] {
                vlmc_gemm(dt, 0, 1, 1, m, n, k, 1.0f, a.ptr, k, 0, b.ptr, k, 0, 0.0f, c.ptr, n, 0, bias.ptr, 2, 0, n, 0);
            }, 5);
            const double tf = 2.0 * m * n * k / (ms * 1e-3) / 1e12;
            std::printf("  %-4s %lldx%lldx%lld (NT, bias, quick_gelu): %.3f ms, %.1f TFLOP/s (%.1f%%)\n", h::dtype_name(dt),
                        (long long)m, (long long)n, (long long)k, ms, tf, 100 * tf / peak);
        }
    }
    std::printf("%s\n", f ? "CHECKS FAILED" : "all checks passed");
    return f ? 1 : 0;
}
