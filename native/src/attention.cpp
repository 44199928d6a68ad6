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
#include "common.h"
#include "vec_math.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <exception>
#include <limits>
#include <vector>

namespace {

using vlm::fail;
constexpr float ninf = -std::numeric_limits<float>::infinity();

struct Problem {
    const float* q;
    int64_t ldq, stride_q;
    const float* k;
    int64_t ldk, stride_k;
    const float* v;
    int64_t ldv, stride_v;
    float* out;
    int64_t ldo, stride_o;
    int64_t batch, heads, lq, lk, d;
    float scale;
    bool causal;
    const int32_t* key_mask;

    // End (exclusive) of the keys query i may see; causal keeps j <= i + (lk - lq). 0 means none.
    int64_t key_end(int64_t i) const {
        if (!causal) return lk;
        return std::clamp<int64_t>(i + (lk - lq) + 1, 0, lk);
    }
};

struct Scratch {  // grown on demand, reused across calls by each OpenMP thread
    std::vector<float> kp, vp, s, o, madd, rinv;
};
thread_local Scratch scratch;

template <class T>
T* sized(std::vector<T>& v, size_t n) {
    if (v.size() < n) v.resize(n);
    return v.data();
}

void zero_rows(const Problem& p, int64_t b, int64_t h, int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i)
        std::memset(p.out + b * p.stride_o + i * p.ldo + h * p.d, 0, static_cast<size_t>(p.d) * sizeof(float));
}

// One unit of parallel work: queries [q0, q1) of head h of batch b.
struct Item {
    int64_t b, h, q0, q1;
};

inline void prefetch_span(const float* p, int64_t n) {  // every cache line of p[0, n)
    const char* a = reinterpret_cast<const char*>(p);
    const char* e = a + n * static_cast<int64_t>(sizeof(float));
    for (; a < e; a += 64) _mm_prefetch(a, _MM_HINT_T1);
    _mm_prefetch(e - 1, _MM_HINT_T1);
}

// ---- SIMD path ----

template <class S>
struct Tiles {
    using V = typename S::V;
    static constexpr int W = S::W;
    static constexpr int MR = 6;       // queries per register tile
    static constexpr int NR = 2 * W;   // keys (or output columns) per register tile: 12 accumulators for AVX2

    // s[i][0..NR) = scale * sum_c q_i[c] * kp[c][0..NR) (+ madd), for MR query rows read in place.
    static void qk_tile(const float* const* q, const float* kp, int64_t d, float scale, const float* madd, float* s,
                        int64_t sld) {
        V acc[MR][2];
        for (int i = 0; i < MR; ++i) acc[i][0] = acc[i][1] = S::zero();
#pragma GCC unroll 2
        for (int64_t c = 0; c < d; ++c) {
            const V b0 = S::load(kp + c * NR), b1 = S::load(kp + c * NR + W);
#pragma GCC unroll 6
            for (int i = 0; i < MR; ++i) {
                const V a = S::set1(q[i][c]);
                acc[i][0] = S::fmadd(a, b0, acc[i][0]);
                acc[i][1] = S::fmadd(a, b1, acc[i][1]);
            }
        }
        const V vs = S::set1(scale);
        const V m0 = madd ? S::load(madd) : S::zero(), m1 = madd ? S::load(madd + W) : S::zero();
        for (int i = 0; i < MR; ++i) {
            S::store(s + i * sld, S::fmadd(acc[i][0], vs, m0));
            S::store(s + i * sld + W, S::fmadd(acc[i][1], vs, m1));
        }
    }

    // K rows [0, kend) -> panels kp[panel][c][NR] (keys along the vector), padding keys 0. Full 8x8 blocks go
    // through a register transpose; the ragged edges (d % 8, the last keys) element by element.
    static void pack_k(const float* k, int64_t ldk, int64_t kend, int64_t kpad, int64_t d, float* kp) {
        int64_t j0 = 0;
        if constexpr (W == 8) {
            for (; j0 + 8 <= kend; j0 += 8) {
                float* dst = kp + (j0 / NR) * d * NR + j0 % NR;
                int64_t c0 = 0;
                for (; c0 + 8 <= d; c0 += 8) transpose8(k + j0 * ldk + c0, ldk, dst + c0 * NR, NR);
                for (int64_t r = 0; r < 8; ++r)
                    for (int64_t c = c0; c < d; ++c) dst[c * NR + r] = k[(j0 + r) * ldk + c];
            }
        }
        for (int64_t j = j0; j < kpad; ++j) {
            float* dst = kp + (j / NR) * d * NR + j % NR;
            for (int64_t c = 0; c < d; ++c) dst[c * NR] = j < kend ? k[j * ldk + c] : 0.0f;
        }
    }

    // dst[c * ldd + r] = src[r * lds + c] for an 8x8 block.
    static void transpose8(const float* src, int64_t lds, float* dst, int64_t ldd) {
        __m256 r[8], t[8];
        for (int i = 0; i < 8; ++i) r[i] = _mm256_loadu_ps(src + i * lds);
        for (int i = 0; i < 8; i += 2) {
            t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
            t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
        }
        for (int i = 0; i < 8; i += 4) {
            r[i] = _mm256_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(1, 0, 1, 0));
            r[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(3, 2, 3, 2));
            r[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(1, 0, 1, 0));
            r[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(3, 2, 3, 2));
        }
        for (int i = 0; i < 4; ++i) {
            _mm256_storeu_ps(dst + i * ldd, _mm256_permute2f128_ps(r[i], r[i + 4], 0x20));
            _mm256_storeu_ps(dst + (i + 4) * ldd, _mm256_permute2f128_ps(r[i], r[i + 4], 0x31));
        }
    }

    // o[i][0..NR) = sum_{j < n} s[i][j] * vp[j][0..NR), vp rows of stride ldv.
    static void pv_tile(const float* s, int64_t sld, const float* vp, int64_t ldv, int64_t n, float* o, int64_t ldo) {
        V acc[MR][2];
        for (int i = 0; i < MR; ++i) acc[i][0] = acc[i][1] = S::zero();
        for (int64_t j = 0; j < n; ++j) {
            const V b0 = S::load(vp + j * ldv), b1 = S::load(vp + j * ldv + W);
#pragma GCC unroll 6
            for (int i = 0; i < MR; ++i) {
                const V a = S::set1(s[i * sld + j]);
                acc[i][0] = S::fmadd(a, b0, acc[i][0]);
                acc[i][1] = S::fmadd(a, b1, acc[i][1]);
            }
        }
        for (int i = 0; i < MR; ++i) {
            S::store(o + i * ldo, acc[i][0]);
            S::store(o + i * ldo + W, acc[i][1]);
        }
    }

    // In-place softmax numerator of s[0..end) (zeros in [end, n)); returns 1/sum, or 0 when nothing is visible.
    static float softmax_row(float* s, int64_t end, int64_t n) {
        float mx = ninf;
        int64_t j = 0;
        if (end >= W) {
            V m = S::load(s);
            for (j = W; j + W <= end; j += W) m = S::max(m, S::load(s + j));
            mx = S::reduce_max(m);
        }
        for (; j < end; ++j) mx = std::max(mx, s[j]);
        if (mx == ninf) {  // no visible (unmasked) key
            std::memset(s, 0, static_cast<size_t>(n) * sizeof(float));
            return 0.0f;
        }
        const V vm = S::set1(mx);
        V sum = S::zero();
        for (j = 0; j + W <= end; j += W) {
            const V e = vlm::vm::exp<S>(S::sub(S::load(s + j), vm));
            S::store(s + j, e);
            sum = S::add(sum, e);
        }
        float tail = 0.0f;
        for (; j < end; ++j) {
            s[j] = std::exp(s[j] - mx);
            tail += s[j];
        }
        for (; j < n; ++j) s[j] = 0.0f;
        return 1.0f / (S::reduce_add(sum) + tail);  // sum >= 1: the max contributes exp(0)
    }

    // Pulls the next work item's rows toward L2 a slice at a time (one slice per query block of the current item),
    // so the strided K/V/Q reads of its packing phase do not wait on memory. T1: L1 holds the current panels.
    static void prefetch_slice(const Problem& p, const Item& nx, int64_t slice, int64_t slices) {
        const int64_t kend = p.key_end(nx.q1 - 1), nq = nx.q1 - nx.q0;
        const int64_t rows = std::max(kend, nq), per = (rows + slices - 1) / slices;
        const int64_t r0 = slice * per, r1 = std::min(rows, r0 + per);
        const int64_t col = nx.h * p.d;
        for (int64_t r = r0; r < r1; ++r) {
            if (r < kend) {
                prefetch_span(p.k + nx.b * p.stride_k + r * p.ldk + col, p.d);
                prefetch_span(p.v + nx.b * p.stride_v + r * p.ldv + col, p.d);
            }
            if (r < nq) {
                prefetch_span(p.q + nx.b * p.stride_q + (nx.q0 + r) * p.ldq + col, p.d);
                prefetch_span(p.out + nx.b * p.stride_o + (nx.q0 + r) * p.ldo + col, p.d);
            }
        }
    }

    static void run_item(const Problem& p, const Item& item, const Item* next) {
        const int64_t d = p.d, b = item.b, h = item.h, q0 = item.q0, q1 = item.q1;
        const int64_t kend = p.key_end(q1 - 1);  // the chunk's last query sees the most keys
        if (kend == 0) return zero_rows(p, b, h, q0, q1);
        const int64_t npanel = (kend + NR - 1) / NR, kpad = npanel * NR;
        const int64_t dpad = (d + NR - 1) / NR * NR;
        Scratch& sc = scratch;
        float* kp = sized(sc.kp, static_cast<size_t>(kpad * d));
        float* vp = sized(sc.vp, static_cast<size_t>(kend * dpad));
        float* sbuf = sized(sc.s, static_cast<size_t>(MR * kpad));
        float* obuf = sized(sc.o, static_cast<size_t>(MR * dpad));
        float* rinv = sized(sc.rinv, MR);
        float* madd = nullptr;

        pack_k(p.k + b * p.stride_k + h * d, p.ldk, kend, kpad, d, kp);
        const float* vb = p.v + b * p.stride_v + h * d;
        for (int64_t j = 0; j < kend; ++j) {  // V -> [j][dpad], padding columns 0
            std::memcpy(vp + j * dpad, vb + j * p.ldv, static_cast<size_t>(d) * sizeof(float));
            std::fill(vp + j * dpad + d, vp + (j + 1) * dpad, 0.0f);
        }
        if (p.key_mask) {  // additive mask: -inf on dropped keys, added to the scores as they leave the tile
            madd = sized(sc.madd, static_cast<size_t>(kpad));
            const int32_t* km = p.key_mask + b * p.lk;
            for (int64_t j = 0; j < kpad; ++j) madd[j] = j < kend && km[j] == 0 ? ninf : 0.0f;
        }

        const float* qb = p.q + b * p.stride_q + h * d;
        float* ob = p.out + b * p.stride_o + h * d;
        const int64_t blocks = (q1 - q0 + MR - 1) / MR;
        for (int64_t blk = 0; blk < blocks; ++blk) {
            if (next) prefetch_slice(p, *next, blk, blocks);
            const int64_t i0 = q0 + blk * MR;
            const int nq = static_cast<int>(std::min<int64_t>(MR, q1 - i0));
            const int64_t bend = p.key_end(i0 + nq - 1);
            if (bend == 0) {
                zero_rows(p, b, h, i0, i0 + nq);
                continue;
            }
            const float* qrow[MR];  // rows past the end repeat the last one: computed, never stored
            for (int i = 0; i < MR; ++i) qrow[i] = qb + (i0 + std::min(i, nq - 1)) * p.ldq;
            const int64_t bpanels = (bend + NR - 1) / NR;
            for (int64_t pn = 0; pn < bpanels; ++pn)
                qk_tile(qrow, kp + pn * d * NR, d, p.scale, madd ? madd + pn * NR : nullptr, sbuf + pn * NR, kpad);
            for (int i = 0; i < MR; ++i) {
                if (i < nq) {
                    rinv[i] = softmax_row(sbuf + i * kpad, p.key_end(i0 + i), bend);
                } else {
                    std::memset(sbuf + i * kpad, 0, static_cast<size_t>(bend) * sizeof(float));
                    rinv[i] = 0.0f;
                }
            }
            for (int64_t c0 = 0; c0 < dpad; c0 += NR) pv_tile(sbuf, kpad, vp + c0, dpad, bend, obuf + c0, dpad);
            for (int i = 0; i < nq; ++i) {
                float* dst = ob + (i0 + i) * p.ldo;
                const float* src = obuf + i * dpad;
                const V r = S::set1(rinv[i]);
                int64_t c = 0;
                for (; c + W <= d; c += W) S::store(dst + c, S::mul(S::load(src + c), r));
                for (; c < d; ++c) dst[c] = src[c] * rinv[i];
            }
        }
    }
};

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

// Elements spanned by `batch` blocks of `rows` rows: (batch-1)*stride + (rows-1)*ld + cols, overflow-checked.
void check_extent(const char* fn, int64_t batch, int64_t stride, int64_t rows, int64_t ld, int64_t cols) {
    int64_t e = 0;
    if (__builtin_add_overflow(vlm::mul_checked(fn, batch - 1, stride), vlm::mul_checked(fn, rows - 1, ld), &e) ||
        __builtin_add_overflow(e, cols, &e) || __builtin_mul_overflow(e, static_cast<int64_t>(sizeof(float)), &e))
        fail(fn, "size overflow");
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
    check_extent(fn, batch, stride_q, lq, ldq, width);
    check_extent(fn, batch, stride_k, lk, ldk, width);
    check_extent(fn, batch, stride_v, lk, ldv, width);
    check_extent(fn, batch, stride_o, lq, ldo, width);
    if (batch > 1 && stride_o < (lq - 1) * ldo + width)
        fail(fn, "stride_o (", stride_o, ") makes output batches overlap (need >= ", (lq - 1) * ldo + width, ")");
    vlm::mul_checked(fn, batch, lk);
    if (causal != 0 && causal != 1) fail(fn, "causal must be 0 or 1 (got ", causal, ")");
    if (!std::isfinite(scale)) fail(fn, "scale must be finite (got ", scale, ")");

    const Problem p{q, ldq, stride_q, k, ldk, stride_k, v, ldv, stride_v, out, ldo, stride_o,
                    batch, heads, lq, lk, head_dim, scale, causal != 0, key_mask};
    const bool simd = vlm::simd_level() != vlm::Simd::scalar;
    using T = Tiles<vlm::vm::Avx2>;

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
                T::run_item(p, item, grain > 1 && (it + 1) % grain != 0 ? &next : nullptr);
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
