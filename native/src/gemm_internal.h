// Private to gemm.cpp / gemm_avx512.cpp: the micro-kernel, its fused epilogue (activations from vec_math.h), and the
// panel packing (AVX2; memory-bound, so the AVX-512 path uses it too). gemm.cpp has the blocking and threading.
//
// The micro-kernel is written once as a template over a small "ops" struct (scalar, AVX2, AVX-512), so the AVX-512
// kernel is the same code as the AVX2 one that is tested on every machine, only with 16-lane vectors.
// Everything with code lives in an unnamed namespace: this header is compiled with different -m flags in two
// translation units, and internal linkage keeps the linker from merging an AVX-512 copy into the AVX2 path.
#pragma once
#include <immintrin.h>

#include <cmath>
#include <cstdint>
#include <type_traits>

#include "vec_math.h"

namespace vlm::gemm_detail {

// Write-back parameters of one micro-tile: acc = alpha*AB + beta*C (+bias) -> act -> (+r).
struct Epi {
    float alpha;
    float beta;          // 0: C is not read
    const float* bias;   // offset to the tile's first column, or null
    int act;             // 0 none, 1 gelu (erf), 2 quick_gelu, 3 gelu_tanh
    const float* r;      // offset to the tile's first element, or null
    int64_t ldr;
};

// Computes an MR x NR tile and writes its mv x nv valid part to c. bp: packed kc x NR panel. a: a packed kc x MR
// panel (lda == 0, element (i,p) at a[p*MR + i]) or, for full tiles, MR rows of op(A) read in place (a[i*lda + p]).
using KernelFn = void (*)(int64_t kc, const float* a, int64_t lda, const float* bp, float* c, int64_t ldc, int mv,
                          int nv, const Epi& ep);

constexpr int avx512_mr = 12;
constexpr int avx512_nr = 32;
void kernel_avx512(int64_t kc, const float* a, int64_t lda, const float* bp, float* c, int64_t ldc, int mv,
                   int nv, const Epi& ep);  // gemm_avx512.cpp

namespace {

struct ScalarOps {
    using V = float;
    static constexpr int W = 1;
    static V zero() { return 0.f; }
    static V set1(float x) { return x; }
    static V load(const float* p) { return *p; }
    static V load_n(const float* p, int) { return *p; }
    static void store(float* p, V v) { *p = v; }
    static void store_n(float* p, V v, int) { *p = v; }
    static V bcast(const float* p) { return *p; }
    static V fmadd(V a, V b, V c) { return a * b + c; }
    static V add(V a, V b) { return a + b; }
    static V mul(V a, V b) { return a * b; }
};

#ifdef __AVX2__
struct Avx2Ops {
    using V = __m256;
    static constexpr int W = 8;
    static V zero() { return _mm256_setzero_ps(); }
    static V set1(float x) { return _mm256_set1_ps(x); }
    static V load(const float* p) { return _mm256_loadu_ps(p); }
    static __m256i mask(int n) {  // first n lanes set
        return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    }
    static V load_n(const float* p, int n) { return _mm256_maskload_ps(p, mask(n)); }
    static void store(float* p, V v) { _mm256_storeu_ps(p, v); }
    static void store_n(float* p, V v, int n) { _mm256_maskstore_ps(p, mask(n), v); }
    static V bcast(const float* p) { return _mm256_broadcast_ss(p); }
    static V fmadd(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
    static V add(V a, V b) { return _mm256_add_ps(a, b); }
    static V mul(V a, V b) { return _mm256_mul_ps(a, b); }
};
#endif

#ifdef __AVX2__
// Test double of Avx512Ops on AVX2 (two ymm per vector): lets a machine without AVX-512 run the 12x32 kernel's
// tile shapes, packing widths and edge masks through the same driver (VLM4J_GEMM_EMULATE_AVX512=1).
struct Emu512Ops {
    struct V {
        __m256 lo, hi;
    };
    using A = Avx2Ops;
    static constexpr int W = 16;
    static V zero() { return {A::zero(), A::zero()}; }
    static V set1(float x) { return {A::set1(x), A::set1(x)}; }
    static V load(const float* p) { return {A::load(p), A::load(p + 8)}; }
    static V load_n(const float* p, int n) {
        return n > 8 ? V{A::load(p), A::load_n(p + 8, n - 8)} : V{A::load_n(p, n), A::zero()};
    }
    static void store(float* p, V v) { A::store(p, v.lo), A::store(p + 8, v.hi); }
    static void store_n(float* p, V v, int n) {
        if (n > 8) A::store(p, v.lo), A::store_n(p + 8, v.hi, n - 8);
        else A::store_n(p, v.lo, n);
    }
    static V bcast(const float* p) { return set1(*p); }
    static V fmadd(V a, V b, V c) { return {A::fmadd(a.lo, b.lo, c.lo), A::fmadd(a.hi, b.hi, c.hi)}; }
    static V add(V a, V b) { return {A::add(a.lo, b.lo), A::add(a.hi, b.hi)}; }
    static V mul(V a, V b) { return {A::mul(a.lo, b.lo), A::mul(a.hi, b.hi)}; }
};
#endif

#ifdef __AVX512F__
struct Avx512Ops {
    using V = __m512;
    static constexpr int W = 16;
    static V zero() { return _mm512_setzero_ps(); }
    static V set1(float x) { return _mm512_set1_ps(x); }
    static V load(const float* p) { return _mm512_loadu_ps(p); }
    static __mmask16 mask(int n) { return static_cast<__mmask16>((1u << n) - 1u); }
    static V load_n(const float* p, int n) { return _mm512_maskz_loadu_ps(mask(n), p); }
    static void store(float* p, V v) { _mm512_storeu_ps(p, v); }
    static void store_n(float* p, V v, int n) { _mm512_mask_storeu_ps(p, mask(n), v); }
    static V bcast(const float* p) { return _mm512_set1_ps(*p); }
    static V fmadd(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
    static V add(V a, V b) { return _mm512_add_ps(a, b); }
    static V mul(V a, V b) { return _mm512_mul_ps(a, b); }
};
#endif

// The epilogue's activation: the same vector math as the elementwise kernels (vec_math.h, ~1-2 ulp), so a fused
// GELU gives the same values as a separate activation pass.
template <class S>
inline typename S::V activate(typename S::V x, int act) {
    if constexpr (S::W == 1) {
        return vm::activate_ref(x, act);
#ifdef __AVX512F__
    } else if constexpr (std::is_same_v<S, Avx512Ops>) {
        return vm::activate<vm::Avx512>(x, act);
#endif
    } else if constexpr (std::is_same_v<S, Avx2Ops>) {
        return vm::activate<vm::Avx2>(x, act);
    } else {  // Emu512Ops: two AVX2 halves
        return {vm::activate<vm::Avx2>(x.lo, act), vm::activate<vm::Avx2>(x.hi, act)};
    }
}

// One vector of a tile's row through the epilogue; n < W lanes only at the right edge of C.
template <class S>
inline void write_back(typename S::V v, float* c, const float* bias, const float* r, int n, const Epi& ep) {
    const bool full = n == S::W;
    if (ep.alpha != 1.0f) v = S::mul(v, S::set1(ep.alpha));
    if (ep.beta != 0.0f) v = S::fmadd(S::set1(ep.beta), full ? S::load(c) : S::load_n(c, n), v);
    if (bias) v = S::add(v, full ? S::load(bias) : S::load_n(bias, n));
    if (ep.act) v = activate<S>(v, ep.act);
    if (r) v = S::add(v, full ? S::load(r) : S::load_n(r, n));
    if (full) S::store(c, v);
    else S::store_n(c, v, n);
}

// MR x (NV*W) register tile: per k, NV vector loads of B and MR broadcasts of A feed MR*NV independent FMA chains
// (12 for AVX2 6x16, 24 for AVX-512 12x32: enough to hide the 4-cycle FMA latency on two FMA ports).
template <class S, int MR, int NV, bool PACKED>
inline void micro_kernel(int64_t kc, const float* __restrict ap, int64_t lda, const float* __restrict bp, float* c,
                         int64_t ldc, int mv, int nv, const Epi& ep) {
    using V = typename S::V;
    constexpr int W = S::W;
    V acc[MR][NV];
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
        for (int j = 0; j < NV; ++j) acc[i][j] = S::zero();
    // The write-back reads or at least writes the tile's lines of C: start pulling them in while the k loop runs.
    for (int i = 0; i < mv; ++i) {
        _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc), _MM_HINT_T0);
        _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc + NV * W - 1), _MM_HINT_T0);
    }
#pragma GCC unroll 4
    for (int64_t p = 0; p < kc; ++p) {
        V bv[NV];
#pragma GCC unroll 4
        for (int j = 0; j < NV; ++j) bv[j] = S::load(bp + j * W);
#pragma GCC unroll 16
        for (int i = 0; i < MR; ++i) {
            const V av = S::bcast(PACKED ? ap + i : ap + i * lda);
#pragma GCC unroll 4
            for (int j = 0; j < NV; ++j) acc[i][j] = S::fmadd(av, bv[j], acc[i][j]);
        }
        ap += PACKED ? MR : 1;
        bp += NV * W;
    }
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) {
        if (i >= mv) break;
#pragma GCC unroll 4
        for (int j = 0; j < NV; ++j) {
            const int n = nv - j * W;
            if (n <= 0) break;
            write_back<S>(acc[i][j], c + i * ldc + j * W, ep.bias ? ep.bias + j * W : nullptr,
                          ep.r ? ep.r + i * ep.ldr + j * W : nullptr, n < W ? n : W, ep);
        }
    }
}

template <class S, int MR, int NV>
inline void kernel(int64_t kc, const float* a, int64_t lda, const float* bp, float* c, int64_t ldc, int mv, int nv,
                   const Epi& ep) {
    if (lda == 0) micro_kernel<S, MR, NV, true>(kc, a, 0, bp, c, ldc, mv, nv, ep);
    else micro_kernel<S, MR, NV, false>(kc, a, lda, bp, c, ldc, mv, nv, ep);
}

// ---- packing: dst panels are kc x w, row p at dst + p*w, lanes past the valid rows/cols zero-filled ----
// (inline: the AVX-512 translation unit includes them but uses none)

// dst[p*w + i] = src[i*ld + p]: op(A) rows from row-major A, or op(B) columns from B^T.
inline void pack_t_scalar(const float* src, int64_t ld, int64_t kc, int rows, int w, float* dst) {
    for (int64_t p = 0; p < kc; ++p)
        for (int i = 0; i < w; ++i) dst[p * w + i] = i < rows ? src[i * ld + p] : 0.0f;
}

// dst[p*w + j] = src[p*ld + j]: already in panel order, a strided copy.
inline void pack_n_scalar(const float* src, int64_t ld, int64_t kc, int cols, int w, float* dst) {
    for (int64_t p = 0; p < kc; ++p)
        for (int j = 0; j < w; ++j) dst[p * w + j] = j < cols ? src[p * ld + j] : 0.0f;
}

inline void transpose8(__m256 r[8]) {
    const __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
    const __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
    const __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
    const __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
    const __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE);
    const __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
    const __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE);
    const __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
    r[0] = _mm256_permute2f128_ps(u0, u4, 0x20);
    r[1] = _mm256_permute2f128_ps(u1, u5, 0x20);
    r[2] = _mm256_permute2f128_ps(u2, u6, 0x20);
    r[3] = _mm256_permute2f128_ps(u3, u7, 0x20);
    r[4] = _mm256_permute2f128_ps(u0, u4, 0x31);
    r[5] = _mm256_permute2f128_ps(u1, u5, 0x31);
    r[6] = _mm256_permute2f128_ps(u2, u6, 0x31);
    r[7] = _mm256_permute2f128_ps(u3, u7, 0x31);
}

// Stores the first n (1..8) lanes with plain stores: masked stores are slow on AMD.
inline void store_lanes(float* d, __m256 v, int n) {
    if (n == 8) return _mm256_storeu_ps(d, v);
    __m128 h = _mm256_castps256_ps128(v);
    if (n >= 4) {
        _mm_storeu_ps(d, h);
        h = _mm256_extractf128_ps(v, 1);
        d += 4;
        n -= 4;
    }
    if (n >= 2) {
        _mm_storel_pi(reinterpret_cast<__m64*>(d), h);
        h = _mm_movehl_ps(h, h);
        d += 2;
        n -= 2;
    }
    if (n == 1) _mm_store_ss(d, h);
}

// Transposing pack through 8x8 register transposes (the nn.Linear case: B is [N, K], 16 rows per panel).
inline void pack_t_avx2(const float* src, int64_t ld, int64_t kc, int rows, int w, float* dst) {
    for (int g = 0; g < w; g += 8) {
        const int lanes = w - g < 8 ? w - g : 8;
        const int valid = rows - g < 0 ? 0 : rows - g < lanes ? rows - g : lanes;
        const float* s = src + g * ld;
        float* d = dst + g;
        int64_t p = 0;
        for (; p + 8 <= kc; p += 8) {
            __m256 r[8];
            for (int t = 0; t < 8; ++t) r[t] = t < valid ? _mm256_loadu_ps(s + t * ld + p) : _mm256_setzero_ps();
            transpose8(r);
            for (int t = 0; t < 8; ++t) store_lanes(d + (p + t) * w, r[t], lanes);
        }
        for (; p < kc; ++p)
            for (int i = 0; i < lanes; ++i) d[p * w + i] = i < valid ? s[i * ld + p] : 0.0f;
    }
}

inline void pack_n_avx2(const float* src, int64_t ld, int64_t kc, int cols, int w, float* dst) {
    if (cols == w && w % 8 == 0) {
        for (int64_t p = 0; p < kc; ++p)
            for (int j = 0; j < w; j += 8) _mm256_storeu_ps(dst + p * w + j, _mm256_loadu_ps(src + p * ld + j));
        return;
    }
    pack_n_scalar(src, ld, kc, cols, w, dst);
}

}  // namespace
}  // namespace vlm::gemm_detail
