// Internal helpers shared by the kernel sources: argument checks and the run-time SIMD level.
#pragma once
#include <algorithm>
#include <cstdint>
#include <sstream>
#include <stdexcept>
#include <string>

namespace vlm {

enum class Simd { scalar = 0, avx2 = 1, avx512 = 2 };

// The SIMD path chosen once from the CPU's features (runtime.cpp). VLM4J_SIMD=avx2|scalar caps it (for tests).
Simd simd_level();

template <typename... Args>
[[noreturn]] inline void fail(const char* fn, Args&&... parts) {
    std::ostringstream os;
    os << fn << ": ";
    (os << ... << parts);
    throw std::invalid_argument(os.str());
}

inline void check_ptr(const char* fn, const void* p, const char* name) {
    if (p == nullptr) fail(fn, name, " is null");
}

inline void check_pos(const char* fn, int64_t v, const char* name) {
    if (v <= 0) fail(fn, name, " must be > 0 (got ", v, ")");
}

inline void check_nonneg(const char* fn, int64_t v, const char* name) {
    if (v < 0) fail(fn, name, " must be >= 0 (got ", v, ")");
}

// a * b with overflow detection, for element counts.
inline int64_t mul_checked(const char* fn, int64_t a, int64_t b) {
    int64_t r;
    if (__builtin_mul_overflow(a, b, &r)) fail(fn, "size overflow (", a, " * ", b, ")");
    return r;
}

// Elements spanned by `batch` blocks of `rows` rows of `cols` floats: (batch-1)*stride + (rows-1)*ld + cols, checked for
// overflow as an element count and as a byte count.
inline int64_t extent(const char* fn, int64_t batch, int64_t stride, int64_t rows, int64_t ld, int64_t cols) {
    int64_t e = 0, bytes = 0;
    if (__builtin_add_overflow(mul_checked(fn, batch - 1, stride), mul_checked(fn, rows - 1, ld), &e) ||
        __builtin_add_overflow(e, cols, &e) || __builtin_mul_overflow(e, static_cast<int64_t>(sizeof(float)), &bytes))
        fail(fn, "size overflow");
    return e;
}

// End (exclusive) of the keys query i may see in attention over lq queries and lk keys: all of them, or with a causal
// mask j <= i + (lk - lq) (bottom-right aligned). 0 means none. Shared by the forward and the backward.
inline int64_t key_end(bool causal, int64_t i, int64_t lq, int64_t lk) {
    if (!causal) return lk;
    return std::clamp<int64_t>(i + (lk - lq) + 1, 0, lk);
}

}  // namespace vlm
