// Harness for cuda/src/attention.cu (variant 1, any dtype) and flash_attention.cu (variant 2, F16/BF16), each forced
// with vlmc_attention_variant, against a float64 reference: head dims 32/64/80/128, lengths 1 to 577 (none a multiple
// of the 64-row tiles but 1), causal with lq == lk and lq != lk, key masks (batch 0 fully masked -> zeros), packed
// QKV (ld = 3 * width). Outputs start as NaN so an unwritten row fails. Then time and TFLOP/s per variant at CLIP
// shapes with the fraction of the dense FP16/BF16 tensor-core peak (--peak-tflops, 989 for an H100 SXM).
//   make -C cuda dev && cuda/build/dev/attention [--peak-tflops 989]
#include "harness.cuh"

namespace {

struct Case {
    int64_t b, heads, lq, lk, d;
    int causal;
    bool mask;
    bool packed;  // q, k, v interleaved in one [B, L, 3 * width] buffer at columns 0, width, 2 * width (lq == lk)
};

int max_variant(int dt) { return dt == 0 ? 1 : 2; }

int run(const Case& c, int dt) {
    const int64_t w = c.heads * c.d, eb = h::elem_bytes(dt);
    auto q = h::rounded(dt, h::rand_vec(c.b * c.lq * w, -2, 2)), k = h::rounded(dt, h::rand_vec(c.b * c.lk * w, -2, 2));
    auto v = h::rounded(dt, h::rand_vec(c.b * c.lk * w));
    std::vector<int32_t> mki(c.b * c.lk, 1);
    if (c.mask) {
        for (auto& m : mki) m = (h::rng()() % 4) != 0;
        for (int64_t j = 0; j < c.lk; ++j) mki[j] = 0;  // batch 0: every key masked -> zeros
    }
    // device layout: separate [B, L, W] tensors, or one packed [B, L, 3W]
    std::vector<float> qkv;
    if (c.packed) {
        qkv.resize(c.b * c.lq * 3 * w);
        for (int64_t r = 0; r < c.b * c.lq; ++r) {
            for (int64_t e = 0; e < w; ++e) {
                qkv[r * 3 * w + e] = q[r * w + e];
                qkv[r * 3 * w + w + e] = k[r * w + e];
                qkv[r * 3 * w + 2 * w + e] = v[r * w + e];
            }
        }
    }
    h::Buf dq(dt, c.packed ? qkv : q), dk(dt, c.packed ? std::vector<float>() : k), dv(dt, c.packed ? std::vector<float>() : v);
    const int64_t ld_in = c.packed ? 3 * w : w;
    const int64_t qp = dq.ptr, kp = c.packed ? dq.ptr + w * eb : dk.ptr, vp = c.packed ? dq.ptr + 2 * w * eb : dv.ptr;
    const int64_t dmask = vlmc_malloc(std::max<int64_t>(1, c.b * c.lk) * 4);
    vlmc_memcpy_h2d(dmask, mki.data(), c.b * c.lk * 4);
    const float scale = float(1.0 / std::sqrt(double(c.d)));

    std::vector<double> ref(c.b * c.lq * w, 0.0);
    for (int64_t z = 0; z < c.b; ++z) {
        for (int64_t hh = 0; hh < c.heads; ++hh) {
            for (int64_t i = 0; i < c.lq; ++i) {
                const int64_t end = c.causal ? std::min(c.lk, std::max<int64_t>(0, i + (c.lk - c.lq) + 1)) : c.lk;
                std::vector<double> s;
                std::vector<int64_t> idx;
                for (int64_t j = 0; j < end; ++j) {
                    if (!mki[z * c.lk + j]) continue;
                    double dot = 0;
                    for (int64_t e = 0; e < c.d; ++e)
                        dot += double(q[(z * c.lq + i) * w + hh * c.d + e]) * k[(z * c.lk + j) * w + hh * c.d + e];
                    s.push_back(dot * scale);
                    idx.push_back(j);
                }
                if (s.empty()) continue;
                double m = -1e300, sum = 0;
                for (double x : s) m = std::max(m, x);
                for (double& x : s) sum += (x = std::exp(x - m));
                for (int64_t e = 0; e < c.d; ++e) {
                    double o = 0;
                    for (size_t t = 0; t < s.size(); ++t) o += s[t] / sum * v[(z * c.lk + idx[t]) * w + hh * c.d + e];
                    ref[(z * c.lq + i) * w + hh * c.d + e] = o;
                }
            }
        }
    }

    int f = 0;
    for (int variant = 1; variant <= max_variant(dt); ++variant) {
        vlmc_attention_variant(variant);
        h::Buf dout(dt, std::vector<float>(c.b * c.lq * w, NAN));
        vlmc_attention(dt, qp, ld_in, c.lq * ld_in, kp, ld_in, c.lk * ld_in, vp, ld_in, c.lk * ld_in, dout.ptr, w, c.lq * w, c.b,
                       c.heads, c.lq, c.lk, c.d, scale, c.causal, c.mask ? dmask : 0);
        char name[128];
        std::snprintf(name, sizeof name, "v%d b%lld h%lld %lldx%lld d%lld%s%s%s", variant, (long long)c.b, (long long)c.heads,
                      (long long)c.lq, (long long)c.lk, (long long)c.d, c.causal ? " causal" : "", c.mask ? " mask" : "",
                      c.packed ? " packed" : "");
        f += h::report(name, dt, h::err(dout.host(), ref));
    }
    vlmc_attention_variant(0);
    vlmc_free(dmask);
    return f;
}

}  // namespace

int main(int argc, char** argv) {
    h::require_gpu();
    double peak = 989;
    for (int i = 1; i + 1 < argc; ++i) if (!std::strcmp(argv[i], "--peak-tflops")) peak = std::atof(argv[i + 1]);
    int f = 0;
    const Case cases[] = {
        {1, 1, 1, 1, 32, 0, false, false},    {2, 3, 7, 7, 32, 1, true, false},      {2, 12, 50, 50, 64, 0, false, false},
        {2, 8, 77, 77, 64, 1, true, false},   {1, 12, 197, 197, 64, 0, false, false}, {1, 16, 257, 257, 80, 0, true, false},
        {1, 4, 33, 65, 128, 1, false, false}, {2, 2, 65, 33, 64, 1, false, false},    {2, 2, 7, 300, 128, 1, true, false},
        {2, 4, 77, 50, 128, 0, true, false},  {1, 2, 577, 577, 64, 0, true, false},   {1, 2, 577, 577, 128, 1, false, false},
        {2, 4, 197, 197, 64, 0, false, true}, {2, 3, 77, 77, 80, 1, true, true},      {1, 2, 257, 257, 32, 0, false, true},
    };
    for (int dt = 0; dt < 3; ++dt) for (const auto& c : cases) f += run(c, dt);

    std::printf("== timings, %% of %.0f TFLOP/s (4 B H Lq Lk d flops, halved when causal)\n", peak);
    const int64_t shapes[][5] = {{256, 12, 197, 64, 0}, {256, 12, 50, 64, 0}, {256, 8, 77, 64, 1},  {64, 16, 257, 64, 0},
                                 {16, 16, 577, 64, 0},  {128, 16, 257, 128, 0}, {16, 16, 577, 128, 0}};
    for (int dt = 0; dt < 3; ++dt) {
        for (const auto& s : shapes) {
            const int64_t b = s[0], heads = s[1], l = s[2], d = s[3], w = heads * d;
            h::Buf q(dt, b * l * w), k(dt, b * l * w), v(dt, b * l * w), o(dt, b * l * w);
            for (int variant = 1; variant <= max_variant(dt); ++variant) {
                vlmc_attention_variant(variant);
                const double ms = h::time_ms([&] {
                    vlmc_attention(dt, q.ptr, w, l * w, k.ptr, w, l * w, v.ptr, w, l * w, o.ptr, w, l * w, b, heads, l, l, d,
                                   float(1.0 / std::sqrt(double(d))), int(s[4]), 0);
                }, 5);
                const double tf = 4.0 * b * heads * l * l * d * (s[4] ? 0.5 : 1.0) / (ms * 1e-3) / 1e12;
                std::printf("  v%d %-4s b%lld h%lld L%lld d%lld%s: %.3f ms, %.1f TFLOP/s (%.1f%%)\n", variant, h::dtype_name(dt),
                            (long long)b, (long long)heads, (long long)l, (long long)d, s[4] ? " causal" : "", ms, tf,
                            100 * tf / peak);
            }
        }
    }
    vlmc_attention_variant(0);
    std::printf("%s\n", f ? "CHECKS FAILED" : "all checks passed");
    return f ? 1 : 0;
}
