// Harness for cuda/src/gemm.cu (variant 1 SIMT, variant 2 tensor cores): every dtype, transposes, batches, shared
// B, fused bias/activation/residual and beta vs a float64 reference on odd shapes, each variant that can take the
// case; the variants against each other on a large shape; then time and TFLOP/s on the ViT-B/16 shapes (batch 256)
// per variant and for cuBLAS (cublasGemmEx, when the library loads), with the fraction of the dense BF16/FP16
// tensor-core peak the caller passes (--peak-tflops, 989 for an H100 SXM) and the ratio ours / cuBLAS.
//   make -C cuda dev && cuda/build/dev/gemm [--peak-tflops 989]
#include "harness.cuh"
#include "cublas_baseline.cuh"

namespace {

struct Case {
    int ta, tb;
    int64_t batch, m, n, k;
    bool shared_b, bias, residual;
    int act;
    float beta;
};

// Whether variant 2 can take the case (the dispatcher's rule; buffers from vlmc_malloc are 256-byte aligned).
bool mma_case(const Case& c, int dt) { return dt != 0 && c.ta == 0 && c.tb == 1 && c.k > 0 && c.k % 8 == 0; }

int run(const Case& c, int dt, int variant) {
    const int64_t ar = c.ta ? c.k : c.m, ac = c.ta ? c.m : c.k, br = c.tb ? c.n : c.k, bc = c.tb ? c.k : c.n;
    const int64_t sb = c.shared_b ? 0 : br * bc;
    auto a = h::rounded(dt, h::rand_vec(c.batch * ar * ac)), b = h::rounded(dt, h::rand_vec((c.shared_b ? 1 : c.batch) * br * bc));
    auto c0 = h::rounded(dt, h::rand_vec(c.batch * c.m * c.n)), r = h::rounded(dt, h::rand_vec(c.batch * c.m * c.n));
    auto bias = h::rand_vec(c.n);
    h::Buf da(dt, a), db(dt, b), dc(dt, c0), dr(dt, r), dbias(0, bias);
    vlmc_gemm_variant(variant);
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
    std::snprintf(name, sizeof name, "v%d %c%c b%lld %lldx%lldx%lld%s%s act%d beta%.1f", variant, c.ta ? 'T' : 'N',
                  c.tb ? 'T' : 'N', (long long)c.batch, (long long)c.m, (long long)c.n, (long long)c.k, c.bias ? " +bias" : "",
                  c.residual ? " +res" : "", c.act, c.beta);
    // fp16/bf16 outputs are rounded once: tolerance relative to the output magnitude
    return h::report(name, dt, h::err(dc.host(), ref) / (dt == 0 ? 1.0 : std::max(1.0, std::sqrt(double(c.k)) / 4)));
}


// Whether variant 3 (wgmma, sm_90a) runs on this device: the dispatcher refuses it elsewhere.
bool wgmma_available() {
    try {
        h::Buf a(2, 64 * 64), b(2, 64 * 64), c(2, 64 * 64);
        vlmc_gemm_variant(3);
        vlmc_gemm(2, 0, 1, 1, 64, 64, 64, 1.0f, a.ptr, 64, 0, b.ptr, 64, 0, 0.0f, c.ptr, 64, 0, 0, 0, 0, 64, 0);
        vlmc_gemm_variant(0);
        return true;
    } catch (const std::exception& e) {
        vlmc_gemm_variant(0);
        std::printf("variant 3 (wgmma): not on this device (%s)\n", e.what());
        return false;
    }
}

// Variants 1 and 2 on one large NT shape with ragged edges: they must agree to the 16-bit output rounding.
int cross_check(int dt, int other) {
    const int64_t m = 1000, n = 777, k = 1032;
    h::Buf a(dt, h::rand_vec(m * k)), b(dt, h::rand_vec(n * k)), c1(dt, m * n), c2(dt, m * n), bias(0, h::rand_vec(n));
    for (int v : {1, other}) {
        vlmc_gemm_variant(v);
        vlmc_gemm(dt, 0, 1, 1, m, n, k, 1.0f, a.ptr, k, 0, b.ptr, k, 0, 0.0f, (v == 1 ? c1 : c2).ptr, n, 0, bias.ptr, 1, 0, n, 0);
    }
    const auto x = c1.host(), y = c2.host();
    double d = 0, mx = 1;
    for (size_t i = 0; i < x.size(); ++i) {
        d = std::max(d, std::fabs(double(x[i]) - y[i]));
        mx = std::max(mx, std::fabs(double(x[i])));
    }
    return h::report(other == 2 ? "v1 vs v2 NT 1000x777x1032 +bias gelu" : "v1 vs v3 NT 1000x777x1032 +bias gelu", dt, d / mx / std::max(1.0, std::sqrt(double(k)) / 4));
}

}  // namespace

int main(int argc, char** argv) {
    h::require_gpu();
    double peak = 989;
    for (int i = 1; i + 1 < argc; ++i) if (!std::strcmp(argv[i], "--peak-tflops")) peak = std::atof(argv[i + 1]);
    int f = 0;
    const bool v3 = wgmma_available();
    const Case cases[] = {
        {0, 0, 1, 1, 1, 1, false, false, false, 0, 0}, {0, 1, 1, 7, 13, 5, false, true, false, 2, 0},
        {1, 0, 2, 65, 33, 17, false, false, true, 0, 0}, {1, 1, 3, 64, 64, 64, true, true, true, 1, 0},
        {0, 1, 1, 197, 77, 131, false, true, true, 3, 0.5f}, {0, 1, 2, 130, 257, 768, true, true, false, 2, 0},
        {0, 0, 1, 100, 100, 0, false, true, false, 0, 0},
        // the tensor-core variant's cases: ragged M/N, K a multiple of 8 but not of the 32-deep k-tile, batches
        {0, 1, 1, 1, 1, 8, false, false, false, 0, 0}, {0, 1, 1, 197, 77, 136, false, true, true, 3, 0.5f},
        {0, 1, 3, 129, 255, 72, false, true, false, 1, 0}, {0, 1, 2, 257, 130, 768, true, true, true, 2, 0},
        {0, 1, 1, 50, 2304, 768, false, true, false, 0, 0}, {0, 1, 1, 394, 768, 3072, false, true, true, 0, 0},
    };
    for (int dt = 0; dt < 3; ++dt) {
        for (const auto& c : cases) {
            f += run(c, dt, 1);
            if (mma_case(c, dt)) f += run(c, dt, 2);
            if (mma_case(c, dt) && v3) f += run(c, dt, 3);
        }
        if (dt != 0) f += cross_check(dt, 2);
        if (dt != 0 && v3) f += cross_check(dt, 3);
    }
    vlmc_gemm_variant(0);

    const h::Cublas cublas;
    std::printf("cuBLAS: %s\n", cublas.ok() ? "loaded (cublasGemmEx, FP32 compute)" : "not found (libcublas.so.13/.12 not on the library path)");
    std::printf("== timings, ViT-B/16 at batch 256 (M = 50432), NT, bias + quick_gelu; %% of %.0f TFLOP/s\n", peak);
    std::printf("  %-5s %-18s %-10s %9s %9s %7s %9s\n", "dtype", "shape", "engine", "ms", "TFLOP/s", "%peak", "ours/cuBLAS");
    const int64_t m = 256 * 197;
    const int64_t shapes[][2] = {{2304, 768}, {768, 768}, {3072, 768}, {768, 3072}};
    for (int dt = 0; dt < 3; ++dt) {
        for (const auto& s : shapes) {
            const int64_t n = s[0], k = s[1];
            h::Buf a(dt, h::rand_vec(m * k)), b(dt, h::rand_vec(n * k, -0.05f, 0.05f)), c(dt, m * n), bias(0, n);
            char shape[32];
            std::snprintf(shape, sizeof shape, "%lldx%lldx%lld", (long long)m, (long long)n, (long long)k);
            const double flops = 2.0 * m * n * k;
            double best = 1e30;
            for (int v = 1; v <= (dt == 0 ? 1 : v3 ? 3 : 2); ++v) {
                vlmc_gemm_variant(v);
                const double ms = h::time_ms([&] {
                    vlmc_gemm(dt, 0, 1, 1, m, n, k, 1.0f, a.ptr, k, 0, b.ptr, k, 0, 0.0f, c.ptr, n, 0, bias.ptr, 2, 0, n, 0);
                }, 10);
                best = std::min(best, ms);
                const double tf = flops / (ms * 1e-3) / 1e12;
                std::printf("  %-5s %-18s v%-9d %9.3f %9.1f %6.1f%%\n", h::dtype_name(dt), shape, v, ms, tf, 100 * tf / peak);
            }
            if (cublas.ok()) {
                int status = 0;
                const double ms = h::time_ms([&] { status |= cublas.gemm_nt(dt, m, n, k, a.ptr, b.ptr, c.ptr); }, 10);
                const double tf = flops / (ms * 1e-3) / 1e12;
                if (status) std::printf("  %-5s %-18s cuBLAS failed (status %d)\n", h::dtype_name(dt), shape, status);
                else std::printf("  %-5s %-18s %-10s %9.3f %9.1f %6.1f%% %9.2f\n", h::dtype_name(dt), shape, "cuBLAS", ms, tf,
                                 100 * tf / peak, ms / best);
            }
        }
    }
    vlmc_gemm_variant(0);
    std::printf("%s\n", f ? "CHECKS FAILED" : "all checks passed");
    return f ? 1 : 0;
}
