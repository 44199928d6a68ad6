// Private to attention.cpp / attention_avx512.cpp: the problem description and the register-tiled kernel, written
// once as a template over the vector ops (vec_math.h) and instantiated with AVX2 (attention.cpp) and AVX-512
// (attention_avx512.cpp, entered only after the run-time CPU check). Templates have internal linkage so the AVX-512
// copy never leaks into the AVX2 translation unit.
#pragma once
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "common.h"
#include "vec_math.h"

namespace vlm::attn_detail {

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
    int64_t key_end(int64_t i) const { return vlm::key_end(causal, i, lq, lk); }
};

struct Scratch {  // grown on demand, reused across calls by each OpenMP thread
    std::vector<float> kp, vp, s, o, madd, rinv;
};
extern thread_local Scratch scratch;  // attention.cpp

// One unit of parallel work: queries [q0, q1) of head h of batch b.
struct Item {
    int64_t b, h, q0, q1;
};

namespace {

template <class T>
T* sized(std::vector<T>& v, size_t n) {
    if (v.size() < n) v.resize(n);
    return v.data();
}

void zero_rows(const Problem& p, int64_t b, int64_t h, int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i)
        std::memset(p.out + b * p.stride_o + i * p.ldo + h * p.d, 0, static_cast<size_t>(p.d) * sizeof(float));
}

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
        if constexpr (W >= 8) {  // 8x8 transposes whatever the vector width (NR is a multiple of 8)
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

}  // namespace

// The AVX-512 instantiation of Tiles::run_item (attention_avx512.cpp).
void run_item_avx512(const Problem& p, const Item& item, const Item* next);

}  // namespace vlm::attn_detail
