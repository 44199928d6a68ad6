// Harness for cuda/src/attention_backward.cu: dqkv of vlmc_attention_backward against the float64 reference
// (dev/attention_backward_ref.h) at odd shapes in every dtype — lengths 1, 13, 77, 197 (none a multiple of the
// 32-row tiles), 1 and 12 heads, head dims 32/64/80 (+ 1 and 128 at the edges), causal, key masks with batch 0
// fully masked (zero gradient). `out` comes from the forward kernel (vlmc_attention), as in training; dqkv starts as
// NaN so an unwritten element fails. Then time and TFLOP/s at CLIP training shapes (backward = 2.5x the forward's
// 4 B H L^2 d flops, halved when causal), the fraction of the FP32 SIMT peak (--peak-fp32-tflops, 67 for an H100 SXM;
// the kernel does fp32 math on CUDA cores) and the time relative to the forward pass at the same shape.
//   make -C cuda dev && cuda/build/dev/attention_backward [--peak-fp32-tflops 67]
#include "harness.cuh"
#include "attention_backward_ref.h"

namespace {

struct Case {
    int64_t b, heads, len, d;
    int causal;
    bool mask;
};

// Forward then backward on the device; returns dqkv as float.
std::vector<float> run_device(int dt, const Case& c, const std::vector<float>& qkv, const std::vector<float>& dout,
                              const std::vector<int32_t>& mask, float scale) {
    const int64_t w = c.heads * c.d, eb = h::elem_bytes(dt), n_qkv = c.b * c.len * 3 * w;
    h::Buf dq(dt, qkv), o(dt, c.b * c.len * w), dO(dt, dout), dqkv(dt, std::vector<float>(n_qkv, NAN));
    const int64_t dmask = vlmc_malloc(std::max<int64_t>(1, c.b * c.len) * 4);
    if (!mask.empty()) vlmc_memcpy_h2d(dmask, mask.data(), c.b * c.len * 4);
    vlmc_attention(dt, dq.ptr, 3 * w, c.len * 3 * w, dq.ptr + w * eb, 3 * w, c.len * 3 * w, dq.ptr + 2 * w * eb, 3 * w,
                   c.len * 3 * w, o.ptr, w, c.len * w, c.b, c.heads, c.len, c.len, c.d, scale, c.causal, mask.empty() ? 0 : dmask);
    const int64_t ws_bytes = vlmc_attention_backward_workspace(c.b, c.heads, c.len, c.d);
    const int64_t ws = vlmc_malloc(std::max<int64_t>(ws_bytes, 4));
    vlmc_attention_backward(dt, dq.ptr, o.ptr, dO.ptr, dqkv.ptr, c.b, c.heads, c.len, c.d, scale, c.causal,
                            mask.empty() ? 0 : dmask, ws, ws_bytes);
    std::vector<float> got = dqkv.host();
    vlmc_free(ws);
    vlmc_free(dmask);
    return got;
}

int check(const Case& c, int dt) {
    const int64_t w = c.heads * c.d;
    const auto qkv = h::rounded(dt, h::rand_vec(c.b * c.len * 3 * w, -2, 2));
    const auto dout = h::rounded(dt, h::rand_vec(c.b * c.len * w));
    std::vector<int32_t> mask;
    if (c.mask) {
        mask.assign(c.b * c.len, 1);
        for (auto& m : mask) m = (h::rng()() % 4) != 0;
        for (int64_t j = 0; j < c.len; ++j) mask[j] = 0;  // batch 0: every key masked -> zero gradient
    }
    const float scale = float(1.0 / std::sqrt(double(c.d)));
    const ref::AttentionGrads r = ref::attention_backward(qkv, dout, mask, c.b, c.heads, c.len, c.d, c.causal != 0, scale);
    const std::vector<float> got = run_device(dt, c, qkv, dout, mask, scale);
    char name[128];
    std::snprintf(name, sizeof name, "attention_backward b%lld h%lld L%lld d%lld%s%s", (long long)c.b, (long long)c.heads,
                  (long long)c.len, (long long)c.d, c.causal ? " causal" : "", c.mask ? " mask" : "");
    return h::report(name, dt, h::err(got, r.dqkv));
}

}  // namespace

int main(int argc, char** argv) {
    h::require_gpu();
    double peak = 67;
    for (int i = 1; i + 1 < argc; ++i) if (!std::strcmp(argv[i], "--peak-fp32-tflops")) peak = std::atof(argv[i + 1]);
    const Case cases[] = {
        {1, 1, 1, 32, 0, false},   {2, 1, 13, 32, 1, false},   {2, 12, 13, 64, 0, true},  {1, 12, 77, 64, 1, false},
        {2, 1, 77, 80, 1, true},   {1, 12, 197, 64, 0, false}, {2, 1, 197, 80, 0, true},  {2, 12, 77, 32, 0, true},
        {1, 1, 197, 128, 1, false}, {2, 3, 70, 1, 1, true},
    };
    int f = 0;
    for (int dt = 0; dt < 3; ++dt) for (const auto& c : cases) f += check(c, dt);

    std::printf("== timings: backward (prepare + kv + dq convert), TFLOP/s = 2.5 x 4 B H L^2 d (halved when causal) / time,\n"
                "   %% of %.0f TFLOP/s FP32 SIMT peak; fwd = vlmc_attention at the same shape\n", peak);
    const int64_t shapes[][5] = {{64, 12, 197, 64, 0}, {256, 8, 77, 64, 1}, {32, 16, 257, 64, 0}, {32, 16, 257, 80, 0},
                                 {8, 16, 577, 128, 0}};
    for (int dt = 0; dt < 3; ++dt) {
        for (const auto& s : shapes) {
            const int64_t b = s[0], heads = s[1], l = s[2], d = s[3], w = heads * d, eb = h::elem_bytes(dt);
            const int causal = int(s[4]);
            const float scale = float(1.0 / std::sqrt(double(d)));
            h::Buf qkv(dt, h::rand_vec(b * l * 3 * w)), o(dt, b * l * w), dO(dt, h::rand_vec(b * l * w)), dqkv(dt, b * l * 3 * w);
            const int64_t ws_bytes = vlmc_attention_backward_workspace(b, heads, l, d), ws = vlmc_malloc(ws_bytes);
            auto forward = [&] {
                vlmc_attention(dt, qkv.ptr, 3 * w, l * 3 * w, qkv.ptr + w * eb, 3 * w, l * 3 * w, qkv.ptr + 2 * w * eb, 3 * w,
                               l * 3 * w, o.ptr, w, l * w, b, heads, l, l, d, scale, causal, 0);
            };
            const double fwd_ms = h::time_ms(forward, 5);
            const double ms = h::time_ms([&] {
                vlmc_attention_backward(dt, qkv.ptr, o.ptr, dO.ptr, dqkv.ptr, b, heads, l, d, scale, causal, 0, ws, ws_bytes);
            }, 5);
            const double tf = 2.5 * 4.0 * b * heads * l * l * d * (causal ? 0.5 : 1.0) / (ms * 1e-3) / 1e12;
            std::printf("  %-4s b%lld h%lld L%lld d%lld%s: %.3f ms, %.1f TFLOP/s (%.1f%%), %.2fx fwd (%.3f ms)\n", h::dtype_name(dt),
                        (long long)b, (long long)heads, (long long)l, (long long)d, causal ? " causal" : "", ms, tf, 100 * tf / peak,
                        ms / fwd_ms, fwd_ms);
            vlmc_free(ws);
        }
    }
    std::printf("%s\n", f ? "CHECKS FAILED" : "all checks passed");
    return f ? 1 : 0;
}
