// CPU emulation of the attention backward kernels (cuda/src/attention_backward.cu, their real text via
// extract_simt.py) on the fiber scheduler of prelude.h: 128 threads per block, barriers, warp shuffles,
// atomics, shared memory. Checks dqkv against the float64 reference (dev/attention_backward_ref.h) at odd shapes in
// F32, F16 and BF16, every output element written (outputs start as NaN), nothing written past the buffers, and no
// read of shared memory the kernel did not fill (the arena starts as NaN). `make -C cuda emu`.
#include <cuda_runtime.h>

#include "prelude.h"

#include "simt.h"

#include "dtype.cuh"
#include "kernel_text_backward.h"
#include "../attention_backward_ref.h"

#include <random>

namespace {

struct Case {
    int64_t batch, heads, len, d;
    bool causal, mask;
};

template <typename T> T cvt(float x) { return vlmc::from_f<T>(x); }
template <typename T> float back(T x) { return vlmc::to_f(x); }

template <typename T, int D>
int run_case(const Case& c) {
    static std::mt19937 rng(11);
    std::uniform_real_distribution<float> u2(-2, 2), u1(-1, 1);
    const int64_t w = c.heads * c.d, ld = 3 * w, nq = c.batch * c.len * ld, no = c.batch * c.len * w;
    std::vector<float> qkv(nq), dout(no);
    for (auto& x : qkv) x = back(cvt<T>(u2(rng)));
    for (auto& x : dout) x = back(cvt<T>(u1(rng)));
    std::vector<int32_t> mask;
    if (c.mask) {
        mask.assign(c.batch * c.len, 1);
        for (auto& m : mask) m = rng() % 4 != 0;
        for (int64_t j = 0; j < c.len; ++j) mask[j] = 0;  // batch 0: every key masked -> zero gradient
    }
    const double scale = 1.0 / std::sqrt(double(c.d));
    // the forward's output, rounded to T as the forward kernel would store it
    const ref::AttentionGrads r0 = ref::attention_backward(qkv, dout, mask, c.batch, c.heads, c.len, c.d, c.causal, scale);

    const size_t guard = 64;
    std::vector<T> q_b(nq), o_b(no), do_b(no), dqkv_b(nq + 2 * guard, cvt<T>(NAN));
    for (int64_t i = 0; i < nq; ++i) q_b[i] = cvt<T>(qkv[i]);
    for (int64_t i = 0; i < no; ++i) o_b[i] = cvt<T>(float(r0.out[i])), do_b[i] = cvt<T>(dout[i]);
    T* const dqkv = dqkv_b.data() + guard;
    std::vector<float> ws(c.batch * c.len * w + 2 * c.batch * c.heads * c.len, NAN);
    float* const dq = ws.data();
    float* const lse = dq + c.batch * c.len * w;
    float* const delta = lse + c.batch * c.heads * c.len;

    const Geometry g{c.mask ? mask.data() : nullptr, c.heads, c.len, c.d, w, float(scale), float(scale) * 1.4426950408889634f,
                     c.causal ? 1 : 0};
    const int tiles = int((c.len + tile - 1) / tile), blocks = int(c.batch * c.heads * tiles);
    launch_blocks(blocks, [&] { attention_backward_prepare<T, D>(g, q_b.data(), o_b.data(), do_b.data(), lse, delta, dq, tiles); });
    const int smem = kv_smem_bytes<T, D>();
    std::vector<unsigned char> sm(smem + 256);
    for (int bx = 0; bx < blocks; ++bx) {
        std::memset(sm.data(), 0xff, sm.size());  // NaN everywhere: a read of an element never stored shows
        emu::smem_base = sm.data();
        emu::smem_size = smem;
        emu::grid_x = blocks;
        emu::block_idx.x = bx;
        emu::body = [&] { attention_backward_kv<T, D>(g, q_b.data(), do_b.data(), lse, delta, dq, dqkv, tiles); };
        emu::scheduler();
        for (int i = smem; i < smem + 256; ++i) EMU_CHECK(sm[i] == 0xff, "smem guard overwritten");
    }
    launch_blocks(1, [&] { attention_backward_dq<T>(dq, dqkv, c.batch * c.len, w); });

    int bad_guard = 0, nonfinite = 0;
    for (size_t i = 0; i < guard; ++i) bad_guard += !std::isnan(back(dqkv_b[i])) + !std::isnan(back(dqkv_b[guard + nq + i]));
    double dmax = 0, mref = 1;
    for (int64_t i = 0; i < nq; ++i) {
        const float got = back(dqkv[i]);
        if (!std::isfinite(got)) { ++nonfinite; continue; }
        dmax = std::max(dmax, std::fabs(got - r0.dqkv[i]));
        mref = std::max(mref, std::fabs(r0.dqkv[i]));
    }
    // a normwise bound a little above the storage type's rounding (the forward output O is itself rounded to T)
    const double tol = sizeof(T) == 4 ? 1e-5 : std::is_same_v<T, __half> ? 4e-3 : 2e-2;
    const double err = dmax / mref;
    const bool ok = bad_guard == 0 && nonfinite == 0 && err <= tol;
    std::printf("%-4s D%-3d b%lld h%lld L%-3lld d%-3lld%s%s: err %.2e (tol %.0e) nonfinite %d guard %d %s\n",
                sizeof(T) == 4 ? "f32" : std::is_same_v<T, __half> ? "f16" : "bf16", D, (long long)c.batch, (long long)c.heads,
                (long long)c.len, (long long)c.d, c.causal ? " causal" : "", c.mask ? " mask" : "", err, tol, nonfinite, bad_guard,
                ok ? "ok" : "FAIL");
    return ok ? 0 : 1;
}

}  // namespace

int main() {
    int f = 0;
    f += run_case<float, 32>({1, 1, 1, 32, false, false});
    f += run_case<float, 32>({2, 2, 13, 13, true, false});
    f += run_case<float, 64>({2, 1, 45, 64, false, true});
    f += run_case<float, 128>({2, 1, 40, 128, true, true});
    f += run_case<__nv_bfloat16, 96>({1, 2, 77, 80, true, false});
    f += run_case<__half, 64>({2, 1, 33, 64, false, true});
    f += run_case<__half, 32>({1, 1, 64, 32, true, false});
    f += run_case<__nv_bfloat16, 128>({1, 1, 31, 100, false, false});
    f += run_case<float, 32>({2, 1, 70, 1, true, true});
    f += run_case<__half, 64>({2, 12, 197, 64, false, true});
    f += run_case<float, 96>({2, 3, 77, 80, true, true});
    std::printf("%s\n", f ? "EMULATION FAILED" : "emulation: all ok");
    return f;
}
