// Harness for cuda/src/attention.cu: head dims 32/64/80/128, causal and key masks, lengths 1, 50, 77, 197, 257 vs a
// float64 reference (including a row with every key masked); then TFLOP/s at the CLIP shapes.
//   make -C cuda dev && cuda/build/dev/attention
#include "harness.cuh"

namespace {

int run(int dt, int64_t b, int64_t heads, int64_t lq, int64_t lk, int64_t d, int causal, bool mask) {
    const int64_t w = heads * d;
    auto q = h::rounded(dt, h::rand_vec(b * lq * w, -2, 2)), k = h::rounded(dt, h::rand_vec(b * lk * w, -2, 2));
    auto v = h::rounded(dt, h::rand_vec(b * lk * w));
    std::vector<float> mk(b * lk, 1.f);
    std::vector<int32_t> mki(b * lk, 1);
    if (mask) {
        for (int64_t i = 0; i < b * lk; ++i) mki[i] = (h::rng()() % 4) != 0;
        for (int64_t j = 0; j < lk; ++j) mki[j] = 0;  // batch 0: every key masked -> zeros
    }
    h::Buf dq(dt, q), dk(dt, k), dv(dt, v), dout(dt, b * lq * w);
    const int64_t dmask = vlmc_malloc(std::max<int64_t>(1, b * lk) * 4);
    vlmc_memcpy_h2d(dmask, mki.data(), b * lk * 4);
    const float scale = float(1.0 / std::sqrt(double(d)));
    vlmc_attention(dt, dq.ptr, w, lq * w, dk.ptr, w, lk * w, dv.ptr, w, lk * w, dout.ptr, w, lq * w, b, heads, lq, lk, d, scale,
                   causal, mask ? dmask : 0);
    std::vector<double> ref(b * lq * w, 0.0);
    for (int64_t z = 0; z < b; ++z) {
        for (int64_t hh = 0; hh < heads; ++hh) {
            for (int64_t i = 0; i < lq; ++i) {
                const int64_t end = causal ? std::min(lk, std::max<int64_t>(0, i + (lk - lq) + 1)) : lk;
                std::vector<double> s;
                std::vector<int64_t> idx;
                for (int64_t j = 0; j < end; ++j) {
                    if (!mki[z * lk + j]) continue;
                    double dot = 0;
                    for (int64_t e = 0; e < d; ++e) dot += double(q[(z * lq + i) * w + hh * d + e]) * k[(z * lk + j) * w + hh * d + e];
                    s.push_back(dot * scale);
                    idx.push_back(j);
                }
                if (s.empty()) continue;
                double m = -1e300, sum = 0;
                for (double x : s) m = std::max(m, x);
                for (double& x : s) sum += (x = std::exp(x - m));
                for (int64_t e = 0; e < d; ++e) {
                    double o = 0;
                    for (size_t t = 0; t < s.size(); ++t) o += s[t] / sum * v[(z * lk + idx[t]) * w + hh * d + e];
                    ref[(z * lq + i) * w + hh * d + e] = o;
                }
            }
        }
    }
    vlmc_free(dmask);
    char name[128];
    std::snprintf(name, sizeof name, "attention b%lld h%lld %lldx%lld d%lld%s%s", (long long)b, (long long)heads, (long long)lq,
                  (long long)lk, (long long)d, causal ? " causal" : "", mask ? " mask" : "");
    return h::report(name, dt, h::err(dout.host(), ref));
}

}  // namespace

int main() {
    h::require_gpu();
    int f = 0;
    for (int dt = 0; dt < 3; ++dt) {
        f += run(dt, 1, 1, 1, 1, 32, 0, false);
        f += run(dt, 2, 12, 50, 50, 64, 0, false);
        f += run(dt, 2, 8, 77, 77, 64, 1, true);
        f += run(dt, 1, 12, 197, 197, 64, 0, false);
        f += run(dt, 1, 16, 257, 257, 80, 0, true);
        f += run(dt, 1, 4, 33, 65, 128, 1, false);
    }
    std::printf("== timings\n");
    const int64_t shapes[][5] = {{256, 12, 197, 64, 0}, {256, 8, 77, 64, 1}, {64, 16, 257, 64, 0}, {16, 16, 577, 64, 0}};
    for (int dt = 0; dt < 3; ++dt) {
        for (const auto& s : shapes) {
            const int64_t b = s[0], heads = s[1], l = s[2], d = s[3], w = heads * d;
            h::Buf q(dt, b * l * w), k(dt, b * l * w), v(dt, b * l * w), o(dt, b * l * w);
            const double ms = h::time_ms([&] {
                vlmc_attention(dt, q.ptr, w, l * w, k.ptr, w, l * w, v.ptr, w, l * w, o.ptr, w, l * w, b, heads, l, l, d,
                               0.125f, int(s[4]), 0);
            }, 5);
            const double flop = 4.0 * b * heads * l * l * d * (s[4] ? 0.5 : 1.0);
            std::printf("  %-4s b%lld h%lld L%lld d%lld%s: %.3f ms, %.1f TFLOP/s\n", h::dtype_name(dt), (long long)b, (long long)heads,
                        (long long)l, (long long)d, s[4] ? " causal" : "", ms, flop / (ms * 1e-3) / 1e12);
        }
    }
    std::printf("%s\n", f ? "CHECKS FAILED" : "all checks passed");
    return f ? 1 : 0;
}
