// Float64 reference of attention on packed QKV and its backward, shared by the harness (dev/attention_backward.cu)
// and the CPU emulation of the kernels (dev/emu/attention_backward.cpp). Plain C++, no CUDA.
//   qkv [B, L, 3W] (q, k, v at columns 0, W, 2W; W = H d), dout [B, L, W], mask int32 [B, L] (0 = masked) or empty;
//   causal: key j visible from query i iff j <= i. Rows that see no key: zero output and zero gradient.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

namespace ref {

struct AttentionGrads {
    std::vector<double> out;   // [B, L, W]
    std::vector<double> dqkv;  // [B, L, 3W]
};

inline AttentionGrads attention_backward(const std::vector<float>& qkv, const std::vector<float>& dout,
                                         const std::vector<int32_t>& mask, int64_t batch, int64_t heads, int64_t len,
                                         int64_t d, bool causal, double scale) {
    const int64_t w = heads * d, ld = 3 * w;
    AttentionGrads g{std::vector<double>(batch * len * w, 0.0), std::vector<double>(batch * len * ld, 0.0)};
    std::vector<double> p(len), dp(len);
    for (int64_t b = 0; b < batch; ++b) {
        for (int64_t h = 0; h < heads; ++h) {
            auto q = [&](int64_t i, int64_t e) { return double(qkv[(b * len + i) * ld + h * d + e]); };
            auto k = [&](int64_t j, int64_t e) { return double(qkv[(b * len + j) * ld + w + h * d + e]); };
            auto v = [&](int64_t j, int64_t e) { return double(qkv[(b * len + j) * ld + 2 * w + h * d + e]); };
            auto dO = [&](int64_t i, int64_t e) { return double(dout[(b * len + i) * w + h * d + e]); };
            for (int64_t i = 0; i < len; ++i) {
                double mx = -INFINITY;
                for (int64_t j = 0; j < len; ++j) {
                    const bool vis = (!causal || j <= i) && (mask.empty() || mask[b * len + j] != 0);
                    double s = -INFINITY;
                    if (vis) {
                        s = 0;
                        for (int64_t e = 0; e < d; ++e) s += q(i, e) * k(j, e);
                        s *= scale;
                    }
                    p[j] = s;
                    mx = std::max(mx, s);
                }
                if (mx == -INFINITY) continue;  // no visible key
                double sum = 0;
                for (int64_t j = 0; j < len; ++j) sum += (p[j] = std::exp(p[j] - mx));
                double dsum = 0;  // D_i = sum_j P_ij dP_ij (= <dO_i, O_i>)
                for (int64_t j = 0; j < len; ++j) {
                    p[j] /= sum;
                    dp[j] = 0;
                    for (int64_t e = 0; e < d; ++e) dp[j] += dO(i, e) * v(j, e);
                    dsum += p[j] * dp[j];
                }
                for (int64_t j = 0; j < len; ++j) {
                    if (p[j] == 0) continue;
                    const double ds = p[j] * (dp[j] - dsum);
                    for (int64_t e = 0; e < d; ++e) {
                        g.out[(b * len + i) * w + h * d + e] += p[j] * v(j, e);
                        g.dqkv[(b * len + i) * ld + h * d + e] += scale * ds * k(j, e);
                        g.dqkv[(b * len + j) * ld + w + h * d + e] += scale * ds * q(i, e);
                        g.dqkv[(b * len + j) * ld + 2 * w + h * d + e] += p[j] * dO(i, e);
                    }
                }
            }
        }
    }
    return g;
}

}  // namespace ref
