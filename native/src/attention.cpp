// Fused scaled-dot-product attention: out = softmax(scale * q k^T + mask) v, per (batch, head), with the scores of a
// few queries at a time held in a per-thread buffer (never a [B, H, Lq, Lk] tensor).
//
// One work item is (batch, head, chunk of queries). It packs the head's visible keys once into NR-key panels laid
// out [d][NR] (so q.k^T vectorizes along keys with plain loads), copies V into a dense [keys][dpad] block, and then
// walks its queries MR at a time:
//   scores  S[MR][keys] = scale * Qblock . Kpanel, an MR x NR register tile per panel (like a GEMM micro-kernel:
//           each step along d is NR/W panel loads + MR broadcasts of q read in place + MR*NR/W FMAs);
//   softmax in place on S, max-subtracted, unnormalized;  O[MR][dpad] = S . V in MR x NR tiles;
//   out = O / rowsum, written to the head's columns.
// K/V panels (Lk * d floats each, 50 KiB for CLIP ViT-B/16) stay in L2 and are reused by every query of the chunk.
// Causal attention only touches keys up to the last query of the block, halving the work of the text tower.
#include "vlm4j/kernels.h"
#include "attention_internal.h"
#include "common.h"

#include <omp.h>

#include <exception>

namespace vlm::attn_detail {
thread_local Scratch scratch;
}  // namespace vlm::attn_detail

namespace {

using vlm::fail;
using namespace vlm::attn_detail;

// ---- portable path: one query at a time, same arithmetic order as the definition ----

void run_item_scalar(const Problem& p, const Item& item) {
    const int64_t d = p.d, b = item.b, h = item.h, q0 = item.q0, q1 = item.q1;
    float* s = sized(scratch.s, static_cast<size_t>(p.lk));
    float* acc = sized(scratch.o, static_cast<size_t>(d));
    const float* kb = p.k + b * p.stride_k + h * d;
    const float* vb = p.v + b * p.stride_v + h * d;
    const int32_t* km = p.key_mask ? p.key_mask + b * p.lk : nullptr;
    for (int64_t i = q0; i < q1; ++i) {
        const float* qi = p.q + b * p.stride_q + i * p.ldq + h * d;
        float* oi = p.out + b * p.stride_o + i * p.ldo + h * d;
        const int64_t end = p.key_end(i);
        float mx = ninf;
        for (int64_t j = 0; j < end; ++j) {
            if (km && km[j] == 0) {
                s[j] = ninf;
                continue;
            }
            float dot = 0.0f;
            for (int64_t c = 0; c < d; ++c) dot += qi[c] * kb[j * p.ldk + c];
            s[j] = dot * p.scale;
            mx = std::max(mx, s[j]);
        }
        std::fill(acc, acc + d, 0.0f);
        float sum = 0.0f;
        if (mx != ninf) {
            for (int64_t j = 0; j < end; ++j) {
                const float e = std::exp(s[j] - mx);  // exp(-inf) == 0 for masked keys
                sum += e;
                for (int64_t c = 0; c < d; ++c) acc[c] += e * vb[j * p.ldv + c];
            }
        }
        const float inv = sum > 0.0f ? 1.0f / sum : 0.0f;
        for (int64_t c = 0; c < d; ++c) oi[c] = acc[c] * inv;
    }
}

}  // namespace

void vlm_attention_f32(const float* q, int64_t ldq, int64_t stride_q, const float* k, int64_t ldk, int64_t stride_k,
                       const float* v, int64_t ldv, int64_t stride_v, float* out, int64_t ldo, int64_t stride_o,
                       int64_t batch, int64_t heads, int64_t lq, int64_t lk, int64_t head_dim, float scale, int causal,
                       const int32_t* key_mask) {
    static const char* fn = "vlm_attention_f32";
    vlm::check_pos(fn, batch, "batch");
    vlm::check_pos(fn, heads, "heads");
    vlm::check_pos(fn, lq, "lq");
    vlm::check_pos(fn, lk, "lk");
    vlm::check_pos(fn, head_dim, "head_dim");
    const int64_t width = vlm::mul_checked(fn, heads, head_dim);
    vlm::check_ptr(fn, q, "q");
    vlm::check_ptr(fn, k, "k");
    vlm::check_ptr(fn, v, "v");
    vlm::check_ptr(fn, out, "out");
    const struct { const char* name; int64_t ld; } lds[] = {{"ldq", ldq}, {"ldk", ldk}, {"ldv", ldv}, {"ldo", ldo}};
    for (const auto& l : lds)
        if (l.ld < width) fail(fn, l.name, " (", l.ld, ") is smaller than heads*head_dim (", width, ")");
    vlm::check_nonneg(fn, stride_q, "stride_q");
    vlm::check_nonneg(fn, stride_k, "stride_k");
    vlm::check_nonneg(fn, stride_v, "stride_v");
    vlm::extent(fn, batch, stride_q, lq, ldq, width);
    vlm::extent(fn, batch, stride_k, lk, ldk, width);
    vlm::extent(fn, batch, stride_v, lk, ldv, width);
    vlm::extent(fn, batch, stride_o, lq, ldo, width);
    if (batch > 1 && stride_o < (lq - 1) * ldo + width)
        fail(fn, "stride_o (", stride_o, ") makes output batches overlap (need >= ", (lq - 1) * ldo + width, ")");
    vlm::mul_checked(fn, batch, lk);
    if (causal != 0 && causal != 1) fail(fn, "causal must be 0 or 1 (got ", causal, ")");
    if (!std::isfinite(scale)) fail(fn, "scale must be finite (got ", scale, ")");

    const Problem p{q, ldq, stride_q, k, ldk, stride_k, v, ldv, stride_v, out, ldo, stride_o,
                    batch, heads, lq, lk, head_dim, scale, causal != 0, key_mask};
    const bool simd = vlm::simd_level() != vlm::Simd::scalar;
    const bool avx512 = vlm::simd_level() == vlm::Simd::avx512;
    using T = Tiles<vlm::vm::Avx2>;  // MR is the same for both widths

    // Split the queries of a head only when (batch, head) pairs alone cannot keep every thread busy: each chunk
    // repacks its head's K/V, so chunks stay as long as possible (a multiple of the register tile height).
    const int64_t pairs = batch * heads;
    const int64_t want_items = 3 * static_cast<int64_t>(omp_get_max_threads());
    int64_t chunk_len = lq;
    if (pairs < want_items) {
        const int64_t splits = (want_items + pairs - 1) / pairs;
        chunk_len = std::max<int64_t>(4 * T::MR, (lq + splits - 1) / splits);
        chunk_len = (chunk_len + T::MR - 1) / T::MR * T::MR;
    }
    const int64_t chunks = (lq + chunk_len - 1) / chunk_len;
    const int64_t items = pairs * chunks;
    auto item_at = [&](int64_t it) {
        const int64_t bh = it / chunks, c = it % chunks;
        return Item{bh / heads, bh % heads, c * chunk_len, std::min(lq, (c + 1) * chunk_len)};
    };
    // Dynamic scheduling: the machine (or the JVM around us) may be running other work on some cores, and a static
    // split would wait for the slowest thread. Items go out in runs of `grain` consecutive ones, so the item after
    // the current one is usually this thread's next and is worth prefetching; causal chunks of one head differ in
    // cost, so those go out one at a time.
    const int64_t grain = chunks == 1 || !p.causal ? std::max<int64_t>(1, items / (8 * omp_get_max_threads())) : 1;
    // An exception must not leave an OpenMP region (that terminates the JVM): the only one possible is bad_alloc
    // from growing a scratch buffer; it is caught per item and rethrown on the calling thread.
    std::exception_ptr error;
#pragma omp parallel for schedule(dynamic, grain) if (items > 1)
    for (int64_t it = 0; it < items; ++it) {
        try {
            const Item item = item_at(it);
            if (simd) {
                const Item next = item_at(std::min(it + 1, items - 1));
                const Item* pf = grain > 1 && (it + 1) % grain != 0 ? &next : nullptr;
                if (avx512) run_item_avx512(p, item, pf);
                else T::run_item(p, item, pf);
            } else {
                run_item_scalar(p, item);
            }
        } catch (...) {
#pragma omp critical(vlm_attention_error)
            if (!error) error = std::current_exception();
        }
    }
    if (error) std::rethrow_exception(error);
}
