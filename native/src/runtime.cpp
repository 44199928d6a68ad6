// Run-time services: CPU feature detection, thread control, aligned memory, copies and dtype conversion.
#include "vlm4j/kernels.h"
#include "common.h"

#include <immintrin.h>
#include <omp.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>

namespace vlm {

static Simd detect_simd() {
    __builtin_cpu_init();
    Simd best = Simd::scalar;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c"))
        best = Simd::avx2;
    if (best == Simd::avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq"))
        best = Simd::avx512;
    if (const char* cap = std::getenv("VLM4J_SIMD")) {
        const std::string c(cap);
        Simd limit = c == "scalar" ? Simd::scalar : c == "avx2" ? Simd::avx2 : Simd::avx512;
        if (static_cast<int>(limit) < static_cast<int>(best)) best = limit;
    }
    return best;
}

Simd simd_level() {
    static const Simd level = detect_simd();
    return level;
}

}  // namespace vlm

using vlm::fail;

const char* vlm_cpu_features() {
    static const std::string features = [] {
        __builtin_cpu_init();
        std::string s;
        const char* names[] = {"sse4.2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512vl",
                               "avx512dq", "avx512vnni", "avx512bf16"};
        for (const char* n : names) {
            bool has = false;
            // __builtin_cpu_supports needs a literal; map the few names we report.
            if (!std::strcmp(n, "sse4.2")) has = __builtin_cpu_supports("sse4.2");
            else if (!std::strcmp(n, "avx")) has = __builtin_cpu_supports("avx");
            else if (!std::strcmp(n, "avx2")) has = __builtin_cpu_supports("avx2");
            else if (!std::strcmp(n, "fma")) has = __builtin_cpu_supports("fma");
            else if (!std::strcmp(n, "f16c")) has = __builtin_cpu_supports("f16c");
            else if (!std::strcmp(n, "avx512f")) has = __builtin_cpu_supports("avx512f");
            else if (!std::strcmp(n, "avx512bw")) has = __builtin_cpu_supports("avx512bw");
            else if (!std::strcmp(n, "avx512vl")) has = __builtin_cpu_supports("avx512vl");
            else if (!std::strcmp(n, "avx512dq")) has = __builtin_cpu_supports("avx512dq");
            else if (!std::strcmp(n, "avx512vnni")) has = __builtin_cpu_supports("avx512vnni");
            else if (!std::strcmp(n, "avx512bf16")) has = __builtin_cpu_supports("avx512bf16");
            if (has) {
                if (!s.empty()) s += ' ';
                s += n;
            }
        }
        return s;
    }();
    return features.c_str();
}

int vlm_has_bf16_gemm() {
    static const int has = vlm::simd_level() == vlm::Simd::avx512 && __builtin_cpu_supports("avx512bf16") ? 1 : 0;
    return has;
}

const char* vlm_simd_level() {
    switch (vlm::simd_level()) {
        case vlm::Simd::avx512: return "avx512";
        case vlm::Simd::avx2: return "avx2";
        default: return "scalar";
    }
}

int vlm_max_threads() { return omp_get_max_threads(); }

void vlm_set_num_threads(int n) {
    if (n < 1) fail("vlm_set_num_threads", "n must be >= 1 (got ", n, ")");
    omp_set_num_threads(n);
}

void* vlm_alloc(int64_t bytes) {
    if (bytes < 0) fail("vlm_alloc", "bytes must be >= 0 (got ", bytes, ")");
    const int64_t rounded = ((bytes > 0 ? bytes : 1) + 63) / 64 * 64;
    void* p = std::aligned_alloc(64, static_cast<size_t>(rounded));
    if (p == nullptr) throw std::runtime_error("vlm_alloc: out of memory allocating " + std::to_string(bytes) + " bytes");
    std::memset(p, 0, static_cast<size_t>(rounded));
    return p;
}

void vlm_free(void* p) { std::free(p); }

void vlm_copy(void* dst, const void* src, int64_t bytes) {
    vlm::check_nonneg("vlm_copy", bytes, "bytes");
    if (bytes == 0) return;
    vlm::check_ptr("vlm_copy", dst, "dst");
    vlm::check_ptr("vlm_copy", src, "src");
    std::memmove(dst, src, static_cast<size_t>(bytes));
}

void vlm_fill_f32(float* dst, int64_t n, float value) {
    vlm::check_nonneg("vlm_fill_f32", n, "n");
    if (n == 0) return;
    vlm::check_ptr("vlm_fill_f32", dst, "dst");
#pragma omp parallel for schedule(static) if (n > (1 << 16))
    for (int64_t i = 0; i < n; ++i) dst[i] = value;
}

// ---- dtype conversion ----
namespace {

inline float bf16_to_f32(uint16_t h) {
    const uint32_t bits = static_cast<uint32_t>(h) << 16;
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
}

inline uint16_t f32_to_bf16(float f) {  // round to nearest even; NaN stays a (quiet) NaN
    uint32_t bits;
    std::memcpy(&bits, &f, 4);
    if ((bits & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((bits >> 16) | 0x0040u);
    const uint32_t rounding = 0x7fffu + ((bits >> 16) & 1u);
    return static_cast<uint16_t>((bits + rounding) >> 16);
}

void f16_to_f32(const uint16_t* src, float* dst, int64_t n) {
#pragma omp parallel for schedule(static) if (n > (1 << 16))
    for (int64_t i0 = 0; i0 < n; i0 += 8) {
        if (i0 + 8 <= n) {
            const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i0));
            _mm256_storeu_ps(dst + i0, _mm256_cvtph_ps(h));
        } else {
            for (int64_t i = i0; i < n; ++i) dst[i] = _cvtsh_ss(src[i]);
        }
    }
}

void f32_to_f16(const float* src, uint16_t* dst, int64_t n) {
#pragma omp parallel for schedule(static) if (n > (1 << 16))
    for (int64_t i0 = 0; i0 < n; i0 += 8) {
        if (i0 + 8 <= n) {
            const __m128i h = _mm256_cvtps_ph(_mm256_loadu_ps(src + i0), _MM_FROUND_TO_NEAREST_INT);
            _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + i0), h);
        } else {
            for (int64_t i = i0; i < n; ++i) dst[i] = _cvtss_sh(src[i], _MM_FROUND_TO_NEAREST_INT);
        }
    }
}

}  // namespace

void vlm_convert(int src_dtype, const void* src, int dst_dtype, void* dst, int64_t n) {
    static const char* fn = "vlm_convert";
    vlm::check_nonneg(fn, n, "n");
    if (src_dtype < 0 || src_dtype > 3) fail(fn, "unknown source dtype code ", src_dtype);
    if (dst_dtype < 0 || dst_dtype > 3) fail(fn, "unknown destination dtype code ", dst_dtype);
    if (n == 0) return;
    vlm::check_ptr(fn, src, "src");
    vlm::check_ptr(fn, dst, "dst");
    constexpr int F32 = 0, F16 = 1, BF16 = 2, I32 = 3;
    if (src_dtype == dst_dtype) {
        const int64_t size = src_dtype == F16 || src_dtype == BF16 ? 2 : 4;
        std::memmove(dst, src, static_cast<size_t>(vlm::mul_checked(fn, n, size)));
        return;
    }
    if (src_dtype == I32 || dst_dtype == I32) fail(fn, "int32 converts only to int32");
    if (src_dtype == F32) {
        const float* s = static_cast<const float*>(src);
        if (dst_dtype == F16) {
            f32_to_f16(s, static_cast<uint16_t*>(dst), n);
        } else {
            uint16_t* d = static_cast<uint16_t*>(dst);
#pragma omp parallel for schedule(static) if (n > (1 << 16))
            for (int64_t i = 0; i < n; ++i) d[i] = f32_to_bf16(s[i]);
        }
        return;
    }
    const uint16_t* s = static_cast<const uint16_t*>(src);
    if (dst_dtype == F32) {
        float* d = static_cast<float*>(dst);
        if (src_dtype == F16) {
            f16_to_f32(s, d, n);
        } else {
#pragma omp parallel for schedule(static) if (n > (1 << 16))
            for (int64_t i = 0; i < n; ++i) d[i] = bf16_to_f32(s[i]);
        }
        return;
    }
    // F16 <-> BF16 through F32 (exact for the first step, one rounding for the second).
    uint16_t* d = static_cast<uint16_t*>(dst);
#pragma omp parallel for schedule(static) if (n > (1 << 16))
    for (int64_t i = 0; i < n; ++i) {
        if (src_dtype == F16) {
            d[i] = f32_to_bf16(_cvtsh_ss(s[i]));
        } else {
            d[i] = _cvtss_sh(bf16_to_f32(s[i]), _MM_FROUND_TO_NEAREST_INT);
        }
    }
}
