// Private vector math for the CPU kernels: exp, erf, tanh, sigmoid and the three GELU-family activations, accurate
// to about 1-2 ulp in fp32 over the whole float range (checked against float64 by dev/norm.cpp).
//
// Each function is written once as a template over a small ops struct (Avx2, and Avx512 when the translation unit is
// compiled with -mavx512f), so the AVX-512 variant is the same arithmetic as the AVX2 one that is tested everywhere.
// Everything sits in an unnamed namespace: this header is included by translation units built with different -m
// flags, and internal linkage keeps the linker from picking an AVX-512-encoded copy for the AVX2 path.
//
// NaN handling: min/max put the constant first, because x86 min/max return the *second* operand when either is
// NaN; so a NaN input flows through the clamps and comes out as NaN, as with libm.
#pragma once
#include <immintrin.h>

#include <cmath>
#include <cstdint>

namespace vlm::vm {
namespace {

#ifdef __AVX2__
struct Avx2 {
    using V = __m256;
    using M = __m256;  // comparison result: all-ones lanes
    static constexpr int W = 8;
    static V zero() { return _mm256_setzero_ps(); }
    static V set1(float x) { return _mm256_set1_ps(x); }
    static V load(const float* p) { return _mm256_loadu_ps(p); }
    static void store(float* p, V v) { _mm256_storeu_ps(p, v); }
    static __m256i lanes(int n) {  // first n lanes set (n in [0, 8])
        return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    }
    static V load_n(const float* p, int n) { return _mm256_maskload_ps(p, lanes(n)); }  // other lanes 0
    static void store_n(float* p, V v, int n) { _mm256_maskstore_ps(p, lanes(n), v); }
    static V add(V a, V b) { return _mm256_add_ps(a, b); }
    static V sub(V a, V b) { return _mm256_sub_ps(a, b); }
    static V mul(V a, V b) { return _mm256_mul_ps(a, b); }
    static V div(V a, V b) { return _mm256_div_ps(a, b); }  // correctly rounded; rcp+Newton would cost ~2 ulp
    static V rcp(V a) {  // 1/a to ~1 ulp: 12-bit estimate + one Newton step, for callers that correct the residual
        const V r = _mm256_rcp_ps(a);
        return _mm256_fmadd_ps(r, _mm256_fnmadd_ps(a, r, _mm256_set1_ps(1.0f)), r);
    }
    static V fmadd(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }    // a*b + c
    static V fnmadd(V a, V b, V c) { return _mm256_fnmadd_ps(a, b, c); }  // c - a*b
    static V min(V a, V b) { return _mm256_min_ps(a, b); }
    static V max(V a, V b) { return _mm256_max_ps(a, b); }
    static V abs(V a) { return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), a); }
    static V sign_of(V a) { return _mm256_and_ps(_mm256_set1_ps(-0.0f), a); }
    static V or_bits(V a, V b) { return _mm256_or_ps(a, b); }
    static M lt(V a, V b) { return _mm256_cmp_ps(a, b, _CMP_LT_OQ); }
    static M gt(V a, V b) { return _mm256_cmp_ps(a, b, _CMP_GT_OQ); }
    static M is_nan(V a) { return _mm256_cmp_ps(a, a, _CMP_UNORD_Q); }
    static V select(M m, V a, V b) { return _mm256_blendv_ps(b, a, m); }  // m ? a : b
    static V round(V a) { return _mm256_round_ps(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
    // a * 2^n for integral n in [-150, 130]: two normal powers of two, so neither the exponent field overflows nor
    // a subnormal result loses its gradual underflow.
    static V scale2(V a, V n) {
        const __m256i ni = _mm256_cvtps_epi32(n);
        const __m256i n1 = _mm256_srai_epi32(ni, 1);
        const __m256i n2 = _mm256_sub_epi32(ni, n1);
        const __m256i bias = _mm256_set1_epi32(127);
        const V p1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n1, bias), 23));
        const V p2 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n2, bias), 23));
        return _mm256_mul_ps(_mm256_mul_ps(a, p1), p2);
    }
    static float reduce_add(V v) {
        __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
        s = _mm_add_ps(s, _mm_movehl_ps(s, s));
        s = _mm_add_ss(s, _mm_movehdup_ps(s));
        return _mm_cvtss_f32(s);
    }
    static float reduce_max(V v) {
        __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
        s = _mm_max_ps(s, _mm_movehl_ps(s, s));
        s = _mm_max_ss(s, _mm_movehdup_ps(s));
        return _mm_cvtss_f32(s);
    }
};
#endif

#ifdef __AVX512F__
struct Avx512 {
    using V = __m512;
    using M = __mmask16;
    static constexpr int W = 16;
    static V zero() { return _mm512_setzero_ps(); }
    static V set1(float x) { return _mm512_set1_ps(x); }
    static V load(const float* p) { return _mm512_loadu_ps(p); }
    static void store(float* p, V v) { _mm512_storeu_ps(p, v); }
    static __mmask16 lanes(int n) { return static_cast<__mmask16>((1u << n) - 1u); }
    static V load_n(const float* p, int n) { return _mm512_maskz_loadu_ps(lanes(n), p); }
    static void store_n(float* p, V v, int n) { _mm512_mask_storeu_ps(p, lanes(n), v); }
    static V add(V a, V b) { return _mm512_add_ps(a, b); }
    static V sub(V a, V b) { return _mm512_sub_ps(a, b); }
    static V mul(V a, V b) { return _mm512_mul_ps(a, b); }
    static V div(V a, V b) { return _mm512_div_ps(a, b); }
    static V rcp(V a) {
        const V r = _mm512_rcp14_ps(a);
        return _mm512_fmadd_ps(r, _mm512_fnmadd_ps(a, r, _mm512_set1_ps(1.0f)), r);
    }
    static V fmadd(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
    static V fnmadd(V a, V b, V c) { return _mm512_fnmadd_ps(a, b, c); }
    static V min(V a, V b) { return _mm512_min_ps(a, b); }
    static V max(V a, V b) { return _mm512_max_ps(a, b); }
    static V abs(V a) { return _mm512_abs_ps(a); }
    static V sign_of(V a) { return _mm512_and_ps(_mm512_set1_ps(-0.0f), a); }
    static V or_bits(V a, V b) { return _mm512_or_ps(a, b); }
    static M lt(V a, V b) { return _mm512_cmp_ps_mask(a, b, _CMP_LT_OQ); }
    static M gt(V a, V b) { return _mm512_cmp_ps_mask(a, b, _CMP_GT_OQ); }
    static M is_nan(V a) { return _mm512_cmp_ps_mask(a, a, _CMP_UNORD_Q); }
    static V select(M m, V a, V b) { return _mm512_mask_blend_ps(m, b, a); }  // m ? a : b
    static V round(V a) { return _mm512_roundscale_ps(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
    static V scale2(V a, V n) { return _mm512_scalef_ps(a, n); }  // exact a * 2^n, gradual underflow included
    static float reduce_add(V v) { return _mm512_reduce_add_ps(v); }
    static float reduce_max(V v) { return _mm512_reduce_max_ps(v); }
};
#endif

// exp(x): x = n*ln2 + r with |r| <= ln2/2 (Cody-Waite split of ln2, exact with FMA), Cephes expf polynomial for
// e^r, then scaled by 2^n. < 2 ulp; overflows to +inf, underflows gradually to exactly 0 (so exp(-inf) == 0,
// which softmax over masked scores relies on).
template <class S>
inline typename S::V exp(typename S::V x) {
    using V = typename S::V;
    const V xc = S::max(S::set1(-104.0f), S::min(S::set1(89.0f), x));
    const V n = S::round(S::mul(xc, S::set1(1.44269504088896341f)));
    V r = S::fnmadd(n, S::set1(0.693359375f), xc);
    r = S::fnmadd(n, S::set1(-2.12194440e-4f), r);
    V p = S::set1(1.9875691500e-4f);
    p = S::fmadd(p, r, S::set1(1.3981999507e-3f));
    p = S::fmadd(p, r, S::set1(8.3334519073e-3f));
    p = S::fmadd(p, r, S::set1(4.1665795894e-2f));
    p = S::fmadd(p, r, S::set1(1.6666665459e-1f));
    p = S::fmadd(p, r, S::set1(5.0000001201e-1f));
    p = S::fmadd(p, S::mul(r, r), S::add(r, S::set1(1.0f)));
    V y = S::scale2(p, n);
    // Below ln(denorm_min/2) the true result rounds to 0, but p*2^n with the clamped n would round up to denorm_min.
    y = S::select(S::lt(x, S::set1(-103.972084f)), S::zero(), y);
    return S::select(S::is_nan(x), x, y);
}

// The two halves of erf (Norbert Juffa's faithfully rounded erff, max error < 1 ulp on each branch; published on
// Stack Overflow, question 35148198). For t = |z| > 0.927734375 erf(t) = 1 - exp(erfc_arg(t)); below, an odd
// polynomial.
constexpr float erf_split = 0.927734375f;

template <class S>
inline typename S::V erfc_arg(typename S::V t) {  // t >= 0
    using V = typename S::V;
    t = S::min(S::set1(10.0f), t);  // erfc(10) ~ 2e-45: exp(arg) is already 0; keeps t*t finite
    const V s = S::mul(t, t);
    V r = S::fmadd(S::set1(-1.72853470e-5f), t, S::set1(3.83197126e-4f));
    const V u = S::fmadd(S::set1(-3.88396438e-3f), t, S::set1(2.42546219e-2f));
    r = S::fmadd(r, s, u);
    r = S::fmadd(r, t, S::set1(-1.06777877e-1f));
    r = S::fmadd(r, t, S::set1(-6.34846687e-1f));
    r = S::fmadd(r, t, S::set1(-1.28717512e-1f));
    return S::fmadd(r, t, S::sub(S::zero(), t));  // r*t - t, one rounding
}

template <class S>
inline typename S::V erf_small(typename S::V z) {  // |z| <= erf_split
    using V = typename S::V;
    const V s = S::mul(z, z);
    V r = S::set1(-5.96761703e-4f);
    r = S::fmadd(r, s, S::set1(4.99119423e-3f));
    r = S::fmadd(r, s, S::set1(-2.67681349e-2f));
    r = S::fmadd(r, s, S::set1(1.12819925e-1f));
    r = S::fmadd(r, s, S::set1(-3.76125336e-1f));
    r = S::fmadd(r, s, S::set1(1.28379166e-1f));
    return S::fmadd(r, z, z);
}

template <class S>
inline typename S::V erf(typename S::V z) {
    using V = typename S::V;
    const V t = S::abs(z);
    const V big = S::or_bits(S::sub(S::set1(1.0f), exp<S>(erfc_arg<S>(t))), S::sign_of(z));
    return S::select(S::gt(t, S::set1(erf_split)), big, erf_small<S>(z));
}

// tanh: Cephes tanhf odd polynomial below 0.625, 1 - 2/(e^{2|x|} + 1) above (no cancellation there).
template <class S>
inline typename S::V tanh(typename S::V x) {
    using V = typename S::V;
    const V t = S::abs(x);
    const V e = exp<S>(S::add(t, t));
    const V big = S::or_bits(S::sub(S::set1(1.0f), S::div(S::set1(2.0f), S::add(e, S::set1(1.0f)))), S::sign_of(x));
    const V z = S::mul(x, x);
    V p = S::set1(-5.70498872745e-3f);
    p = S::fmadd(p, z, S::set1(2.06390887954e-2f));
    p = S::fmadd(p, z, S::set1(-5.37397155531e-2f));
    p = S::fmadd(p, z, S::set1(1.33314422036e-1f));
    p = S::fmadd(p, z, S::set1(-3.33332819422e-1f));
    const V small = S::fmadd(S::mul(p, z), x, x);
    return S::select(S::lt(t, S::set1(0.625f)), small, big);
}

template <class S>
inline typename S::V sigmoid(typename S::V x) {  // exp(-x) -> inf gives exactly 0, never NaN
    return S::div(S::set1(1.0f), S::add(S::set1(1.0f), exp<S>(S::sub(S::zero(), x))));
}

// erfc(x), Norbert Juffa's erfcf (posted on Stack Overflow; MLIR's polynomial erfc approximation is the same code):
// exp(a^2) erfc(a) ~ (1 + p(q)) / (1 + 2a) with q = (a-2)/(a+2) for a = |x| <= 10.0546875 (0 beyond), and
// erfc(-a) = 2 - erfc(a). Relative error a few ulp for every x, including the tail where erfc is tiny.
template <class S>
inline typename S::V erfc(typename S::V x) {
    using V = typename S::V;
    const V one = S::set1(1.0f), two = S::set1(2.0f);
    const V a = S::abs(x);
    // q = (a - 2) / (a + 2), with one Newton-style correction of the quotient (which also absorbs the error of the
    // approximate reciprocal, so no division is needed)
    V r = S::rcp(S::add(a, two));
    V q = S::fmadd(S::set1(-4.0f), r, one);
    V t = S::fmadd(S::add(q, one), S::set1(-2.0f), a);
    V e = S::fnmadd(a, q, t);
    q = S::fmadd(r, e, q);
    V p = S::set1(-0x1.a4a000p-12f);
    p = S::fmadd(p, q, S::set1(-0x1.42a260p-10f));
    p = S::fmadd(p, q, S::set1(0x1.585714p-10f));
    p = S::fmadd(p, q, S::set1(0x1.1adcc4p-07f));
    p = S::fmadd(p, q, S::set1(-0x1.081b82p-07f));
    p = S::fmadd(p, q, S::set1(-0x1.bc0b6ap-05f));
    p = S::fmadd(p, q, S::set1(0x1.4ffc46p-03f));
    p = S::fmadd(p, q, S::set1(-0x1.540840p-03f));
    p = S::fmadd(p, q, S::set1(-0x1.7bf616p-04f));
    p = S::fmadd(p, q, S::set1(0x1.1ba03ap-02f));
    // (1 + p) / (1 + 2a), again with the residual folded back in
    const V d = S::fmadd(two, a, one);
    r = S::rcp(d);
    q = S::fmadd(p, r, r);
    e = S::fmadd(S::fnmadd(q, a, S::set1(0.5f)), two, S::sub(p, q));
    r = S::fmadd(e, r, q);
    // times exp(-a^2), with a^2 split into its rounded value s and the rounding error t
    const V s = S::mul(a, a);
    e = exp<S>(S::sub(S::zero(), s));
    t = S::fnmadd(a, a, s);
    r = S::fmadd(r, e, S::mul(S::mul(r, e), t));
    r = S::select(S::gt(a, S::set1(10.0546875f)), S::zero(), r);
    r = S::select(S::lt(x, S::zero()), S::sub(two, r), r);
    return S::select(S::is_nan(x), x, r);
}

// gelu(x) = 0.5 x (1 + erf(x/sqrt2)) = 0.5 x erfc(-x/sqrt2): erfc keeps the small negative tail accurate, where
// 1 + erf would cancel. u = -x/sqrt2 is carried as u_hi + u_lo (sqrt2 split in two floats) because erfc's
// relative sensitivity to its argument grows like 2u^2; erfc(u_hi + u_lo) ~ erfc(u_hi) (1 - 2 u_hi u_lo) where it
// matters (u > 0; for u <= 0 the correction is below an ulp).
template <class S>
inline typename S::V gelu(typename S::V x) {
    using V = typename S::V;
    constexpr float c_hi = 0.707106769084930419921875f;  // float(1/sqrt2)
    constexpr float c_lo = 1.21016175e-8f;                // 1/sqrt2 - c_hi
    const V nx = S::sub(S::zero(), x);
    const V u_hi = S::mul(nx, S::set1(c_hi));
    const V u_lo = S::fmadd(nx, S::set1(c_lo), S::fmadd(nx, S::set1(c_hi), S::sub(S::zero(), u_hi)));
    V ec = erfc<S>(u_hi);
    const V corr = S::fnmadd(S::mul(S::set1(2.0f), u_hi), u_lo, S::set1(1.0f));
    ec = S::select(S::gt(u_hi, S::zero()), S::mul(ec, corr), ec);
    return S::mul(S::mul(x, S::set1(0.5f)), ec);
}

// quick_gelu(x) = x * sigmoid(1.702 x), as one division.
template <class S>
inline typename S::V quick_gelu(typename S::V x) {
    const typename S::V e = exp<S>(S::mul(x, S::set1(-1.702f)));
    return S::div(x, S::add(S::set1(1.0f), e));
}

// gelu_tanh(x) = 0.5 x (1 + tanh(u)) = x * sigmoid(2u), u = sqrt(2/pi) (x + 0.044715 x^3): the sigmoid form has no
// cancellation for negative x.
template <class S>
inline typename S::V gelu_tanh(typename S::V x) {
    using V = typename S::V;
    constexpr float c1 = 2.0f * 0.79788456080286536f;
    constexpr float c3 = 2.0f * 0.79788456080286536f * 0.044715f;
    const V x2 = S::mul(x, x);
    const V two_u = S::mul(x, S::fmadd(x2, S::set1(c3), S::set1(c1)));
    const V e = exp<S>(S::sub(S::zero(), two_u));
    return S::div(x, S::add(S::set1(1.0f), e));
}

// act codes as in kernels.h: 0 identity, 1 gelu, 2 quick_gelu, 3 gelu_tanh.
template <class S>
inline typename S::V activate(typename S::V x, int act) {
    switch (act) {
        case 1: return gelu<S>(x);
        case 2: return quick_gelu<S>(x);
        case 3: return gelu_tanh<S>(x);
        default: return x;
    }
}

// Scalar versions on libm, for the portable paths and as the definition the vector code is tested against.
inline float gelu_ref(float x) { return 0.5f * x * std::erfc(-x * 0.70710678118654752f); }
inline float quick_gelu_ref(float x) { return x / (1.0f + std::exp(-1.702f * x)); }
inline float gelu_tanh_ref(float x) {
    const float u = 0.79788456080286536f * (x + 0.044715f * x * x * x);
    return x / (1.0f + std::exp(-2.0f * u));
}
inline float activate_ref(float x, int act) {
    switch (act) {
        case 1: return gelu_ref(x);
        case 2: return quick_gelu_ref(x);
        case 3: return gelu_tanh_ref(x);
        default: return x;
    }
}

}  // namespace
}  // namespace vlm::vm
