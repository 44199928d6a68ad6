// Fused scaled-dot-product attention and the dispatcher between its variants (cuda/dev/attention.cu checks each
// against a float64 reference). Variant 1, here: one warp per (batch, head, query) row, each lane holding up to 4
// of the head's dimensions; keys are visited once with an online softmax (running max and sum), so no [L, L]
// scores ever reach memory. Any dtype, exact in fp32: the FP32 path and the fallback. Variant 2
// (flash_attention.cu): FlashAttention-2 on the tensor cores for F16/BF16, chosen whenever its layout needs hold.
#include "vlm4j/cuda_kernels.h"
#include "attention.cuh"
#include "dtype.cuh"

#include <atomic>
#include <cstdlib>

namespace {

using vlmc::from_f;
using vlmc::to_f;
using vlmc::attention::Params;

constexpr int max_per_lane = 4;  // head_dim <= 128
constexpr int warps_per_block = 4;

// 0 = pick per call, 1 or 2 = always that variant; starts from $VLMC_ATTENTION_VARIANT (0 when unset or invalid).
std::atomic<int>& variant_override() {
    static std::atomic<int> v{[] {
        const char* e = std::getenv("VLMC_ATTENTION_VARIANT");
        const int x = e ? std::atoi(e) : 0;
        return x >= 0 && x <= 2 ? x : 0;
    }()};
    return v;
}

template <typename T>
__global__ void attention_warp_row(Params p, const T* __restrict__ q, const T* __restrict__ k, const T* __restrict__ v,
                                   T* __restrict__ out) {
    const int lane = threadIdx.x & 31;
    const int64_t row = int64_t(blockIdx.x) * warps_per_block + (threadIdx.x >> 5);
    if (row >= p.batch * p.heads * p.lq) return;
    const int64_t i = row % p.lq, h = (row / p.lq) % p.heads, b = row / (p.lq * p.heads);
    const T* qr = q + b * p.stride_q + i * p.ldq + h * p.d;
    float qv[max_per_lane], acc[max_per_lane];
#pragma unroll
    for (int e = 0; e < max_per_lane; ++e) {
        const int64_t c = lane + 32 * e;
        qv[e] = c < p.d ? to_f(qr[c]) * p.scale : 0.0f;
        acc[e] = 0.0f;
    }
    float m = -INFINITY, l = 0.0f;
    // causal: j <= i + (lk - lq), the CPU kernel's rule (bottom-right aligned when lq != lk)
    int64_t end = p.causal ? i + (p.lk - p.lq) + 1 : p.lk;
    end = end < 0 ? 0 : end > p.lk ? p.lk : end;
    for (int64_t j = 0; j < end; ++j) {
        if (p.mask && p.mask[b * p.lk + j] == 0) continue;
        const T* kr = k + b * p.stride_k + j * p.ldk + h * p.d;
        float s = 0.0f;
#pragma unroll
        for (int e = 0; e < max_per_lane; ++e) {
            const int64_t c = lane + 32 * e;
            if (c < p.d) s = fmaf(qv[e], to_f(kr[c]), s);
        }
        s = vlmc::warp_sum(s);
        const float m_new = fmaxf(m, s);
        const float corr = expf(m - m_new);  // exp(-inf) = 0 on the first visible key
        const float w = expf(s - m_new);
        l = l * corr + w;
        const T* vr = v + b * p.stride_v + j * p.ldv + h * p.d;
#pragma unroll
        for (int e = 0; e < max_per_lane; ++e) {
            const int64_t c = lane + 32 * e;
            if (c < p.d) acc[e] = fmaf(w, to_f(vr[c]), acc[e] * corr);
        }
        m = m_new;
    }
    const float inv = l > 0.0f ? 1.0f / l : 0.0f;  // no visible key: zeros, as the CPU kernel
    T* orow = out + b * p.stride_o + i * p.ldo + h * p.d;
#pragma unroll
    for (int e = 0; e < max_per_lane; ++e) {
        const int64_t c = lane + 32 * e;
        if (c < p.d) orow[c] = from_f<T>(acc[e] * inv);
    }
}

}  // namespace

void vlmc_attention_variant(int v) {
    if (v < 0 || v > 2) vlmc::fail("vlmc_attention_variant", "variant must be 0 (auto), 1 or 2 (got ", v, ")");
    variant_override().store(v);
}

void vlmc_attention(int dtype, int64_t q, int64_t ldq, int64_t stride_q, int64_t k, int64_t ldk, int64_t stride_k,
                    int64_t v, int64_t ldv, int64_t stride_v, int64_t out, int64_t ldo, int64_t stride_o,
                    int64_t batch, int64_t heads, int64_t lq, int64_t lk, int64_t head_dim, float scale, int causal,
                    int64_t key_mask) {
    static const char* fn = "vlmc_attention";
    vlmc::check_dtype(fn, dtype);
    vlmc::check_n(fn, batch);
    vlmc::check_n(fn, lq);
    vlmc::check_n(fn, lk);
    if (heads <= 0 || head_dim <= 0) vlmc::fail(fn, "heads and head_dim must be > 0 (got ", heads, ", ", head_dim, ")");
    if (head_dim > 32 * max_per_lane) vlmc::fail(fn, "head_dim must be <= ", 32 * max_per_lane, " (got ", head_dim, ")");
    const int64_t width = heads * head_dim;
    if (ldq < width || ldk < width || ldv < width || ldo < width) vlmc::fail(fn, "leading dimensions smaller than heads * head_dim");
    if (batch == 0 || lq == 0) return;
    vlmc::check_ptr(fn, q, "q");
    vlmc::check_ptr(fn, out, "out");
    if (lk > 0) {
        vlmc::check_ptr(fn, k, "k");
        vlmc::check_ptr(fn, v, "v");
    }
    const Params p{ldq, stride_q, ldk, stride_k, ldv, stride_v, ldo, stride_o, batch, heads, lq, lk, head_dim, scale, causal,
                   reinterpret_cast<const int32_t*>(key_mask)};
    const int variant = variant_override().load();
    const char* why_not_2 = vlmc::attention::flash_unsupported(dtype, p, q, k, v, out);
    if (variant == 2 && why_not_2) vlmc::fail(fn, "variant 2 was forced but cannot run this call: ", why_not_2);
    if (variant != 1 && !why_not_2) {
        vlmc::attention::flash_attention(dtype, p, q, k, v, out);
        return;
    }
    const int64_t rows = batch * heads * lq;
    const int64_t blocks = (rows + warps_per_block - 1) / warps_per_block;
    if (blocks > 0x7fffffff) vlmc::fail(fn, "too many rows for one launch (", rows, ")");
    vlmc::dispatch(dtype, [&](auto t) {
        using T = decltype(t);
        attention_warp_row<T><<<unsigned(blocks), 32 * warps_per_block, 0, vlmc::stream()>>>(p, reinterpret_cast<const T*>(q), reinterpret_cast<const T*>(k),
                                                                         reinterpret_cast<const T*>(v), reinterpret_cast<T*>(out));
    });
    VLMC_CHECK(fn, cudaGetLastError());
}
