#include "kernel_text.h"
#include <random>
using namespace vlmc::attention;

struct Case { int64_t b, heads, lq, lk; int causal; bool mask, packed; int64_t ldo_pad; };

template <typename T> T cvt(float x) { if constexpr (std::is_same_v<T, __half>) return __float2half_rn(x); else return __float2bfloat16_rn(x); }
template <typename T> float tf(T x) { if constexpr (std::is_same_v<T, __half>) return __half2float(x); else return __bfloat162float(x); }
template <typename T> T* alloc(size_t n) { return static_cast<T*>(std::aligned_alloc(64, ((n * sizeof(T) + 63) / 64) * 64 + 64)); }

template <typename T, int D>
int run_case(const Case& c, bool eager) {
    static std::mt19937 rng(7);
    std::uniform_real_distribution<float> u2(-2, 2), u1(-1, 1);
    const int64_t w = c.heads * D, ld_in = c.packed ? 3 * w : w, ldo = w + c.ldo_pad;
    std::vector<float> q(c.b * c.lq * w), k(c.b * c.lk * w), v(c.b * c.lk * w);
    for (auto& x : q) x = tf(cvt<T>(u2(rng)));
    for (auto& x : k) x = tf(cvt<T>(u2(rng)));
    for (auto& x : v) x = tf(cvt<T>(u1(rng)));
    std::vector<int32_t> mk(std::max<int64_t>(1, c.b * c.lk), 1);
    if (c.mask) { for (auto& m : mk) m = rng() % 4 != 0; for (int64_t j = 0; j < c.lk; ++j) mk[j] = 0; }
    const size_t nq = c.b * c.lq * ld_in, nk = c.packed ? 0 : c.b * c.lk * w;
    T* qb = alloc<T>(nq); T* kb = c.packed ? nullptr : alloc<T>(std::max<size_t>(nk, 1)); T* vb = c.packed ? nullptr : alloc<T>(std::max<size_t>(nk, 1));
    for (int64_t z = 0; z < c.b; ++z) for (int64_t i = 0; i < c.lq; ++i) for (int64_t e = 0; e < w; ++e) {
        qb[(z * c.lq + i) * ld_in + e] = cvt<T>(q[(z * c.lq + i) * w + e]);
        if (c.packed) { qb[(z * c.lq + i) * ld_in + w + e] = cvt<T>(k[(z * c.lk + i) * w + e]); qb[(z * c.lq + i) * ld_in + 2 * w + e] = cvt<T>(v[(z * c.lk + i) * w + e]); }
    }
    if (!c.packed) for (size_t i = 0; i < nk; ++i) { kb[i] = cvt<T>(k[i]); vb[i] = cvt<T>(v[i]); }
    const T* kp = c.packed ? qb + w : kb; const T* vp = c.packed ? qb + 2 * w : vb;
    const int64_t sk = c.packed ? c.lk * ld_in : c.lk * w;
    const size_t no = c.b * c.lq * ldo, guard = 64;
    T* ob = alloc<T>(no + 2 * guard);
    const uint16_t sentinel = 0x7fff;  // NaN in f16 and bf16
    for (size_t i = 0; i < no + 2 * guard; ++i) std::memcpy(&ob[i], &sentinel, 2);
    T* out = ob + guard;
    const float scale = 1.0f / std::sqrt(float(D));
    Params p{ld_in, c.lq * ld_in, c.packed ? ld_in : w, sk, c.packed ? ld_in : w, sk, ldo, c.lq * ldo, c.b, c.heads, c.lq, c.lk, D, scale, c.causal, c.mask ? mk.data() : nullptr};
    if (flash_unsupported(std::is_same_v<T, __half> ? 1 : 2, p, int64_t(qb), int64_t(kp), int64_t(vp), int64_t(out))) { std::printf("unsupported!\n"); return 1; }
    emu::globals = {{(const unsigned char*)qb, nq * 2}, {(const unsigned char*)mk.data(), mk.size() * 4}};
    if (!c.packed) { emu::globals.push_back({(const unsigned char*)kb, nk * 2}); emu::globals.push_back({(const unsigned char*)vb, nk * 2}); }
    const int m_blocks = int((c.lq + 63) / 64), blocks = int(m_blocks * c.b * c.heads), smem = smem_of<T, D>();
    std::vector<unsigned char> sm(smem + 256);
    emu::eager = eager;
    for (int bx = 0; bx < blocks; ++bx) {
        std::memset(sm.data(), 0xff, sm.size());  // NaN everywhere: any read of an unloaded element shows
        emu::smem_base = sm.data(); emu::smem_size = smem; emu::block_idx.x = bx;
        emu::body = [&] { attention_flash<T, D>(p, qb, kp, vp, out, m_blocks, scale * 1.4426950408889634f); };
        emu::scheduler();
        for (int i = smem; i < smem + 256; ++i) EMU_CHECK(sm[i] == 0xff, "smem guard overwritten");
    }
    // guards and padding untouched
    int bad = 0;
    for (size_t i = 0; i < guard; ++i) { uint16_t a, b2; std::memcpy(&a, &ob[i], 2); std::memcpy(&b2, &ob[guard + no + i], 2); bad += a != sentinel || b2 != sentinel; }
    for (int64_t r = 0; r < c.b * c.lq; ++r) for (int64_t e = w; e < ldo; ++e) { uint16_t a; std::memcpy(&a, &out[r * ldo + e], 2); bad += a != sentinel; }
    double dmax = 0, mref = 1;
    int nonfinite = 0;
    for (int64_t z = 0; z < c.b; ++z) for (int64_t hh = 0; hh < c.heads; ++hh) for (int64_t i = 0; i < c.lq; ++i) {
        const int64_t end = c.causal ? std::min(c.lk, std::max<int64_t>(0, i + (c.lk - c.lq) + 1)) : c.lk;
        std::vector<double> s; std::vector<int64_t> idx;
        for (int64_t j = 0; j < end; ++j) {
            if (c.mask && !mk[z * c.lk + j]) continue;
            double dot = 0;
            for (int e = 0; e < D; ++e) dot += double(q[(z * c.lq + i) * w + hh * D + e]) * k[(z * c.lk + j) * w + hh * D + e];
            s.push_back(dot * scale); idx.push_back(j);
        }
        double m = -1e300, sum = 0;
        for (double x : s) m = std::max(m, x);
        for (double& x : s) sum += (x = std::exp(x - m));
        for (int e = 0; e < D; ++e) {
            double o = 0;
            for (size_t t = 0; t < s.size(); ++t) o += s[t] / sum * v[(z * c.lk + idx[t]) * w + hh * D + e];
            const float got = tf(out[(z * c.lq + i) * ldo + hh * D + e]);
            if (!std::isfinite(got)) { ++nonfinite; continue; }
            dmax = std::max(dmax, std::fabs(got - o)); mref = std::max(mref, std::fabs(o));
        }
    }
    const double err = dmax / mref;
    const bool ok = bad == 0 && nonfinite == 0 && err < 1e-2;
    std::printf("%s %-5s d%-3d b%lld h%lld %lldx%lld%s%s%s%s: err %.2e nonfinite %d guard/pad %d, max ldmatrix bank conflict %d-way %s\n",
                eager ? "eager" : "lazy ", std::is_same_v<T, __half> ? "f16" : "bf16", D, (long long)c.b, (long long)c.heads, (long long)c.lq, (long long)c.lk,
                c.causal ? " causal" : "", c.mask ? " mask" : "", c.packed ? " packed" : "", c.ldo_pad ? " ldo+pad" : "", err, nonfinite, bad, emu::max_conflict, ok ? "ok" : "FAIL");
    emu::max_conflict = 1;
    std::free(qb); std::free(kb); std::free(vb); std::free(ob);
    return ok ? 0 : 1;
}

int main(int argc, char** argv) {
    int f = 0;
    const bool quick = argc > 1;
    for (bool eager : {true, false}) {
        f += run_case<__half, 32>({2, 2, 7, 7, 1, true, false, 8}, eager);
        f += run_case<__nv_bfloat16, 64>({1, 1, 77, 77, 0, false, false, 0}, eager);
        f += run_case<__half, 80>({2, 1, 130, 70, 1, true, false, 16}, eager);
        f += run_case<__nv_bfloat16, 128>({1, 2, 65, 33, 1, false, false, 0}, eager);
        f += run_case<__half, 64>({2, 1, 50, 50, 0, true, true, 0}, eager);
        if (quick) continue;
        f += run_case<__half, 128>({1, 1, 1, 300, 1, false, false, 0}, eager);
        f += run_case<__nv_bfloat16, 32>({1, 1, 1, 1, 0, false, false, 0}, eager);
        f += run_case<__half, 64>({1, 1, 5, 0, 0, false, false, 0}, eager);
        f += run_case<__nv_bfloat16, 80>({2, 1, 197, 197, 0, true, false, 0}, eager);
        f += run_case<__half, 128>({1, 1, 33, 65, 1, false, false, 0}, eager);
        f += run_case<__half, 64>({1, 1, 200, 150, 1, false, false, 0}, eager);
    }
    std::printf("%s\n", f ? "EMULATION FAILED" : "emulation: all ok");
    return f;
}
