// Internal helpers shared by the kernel sources: argument checks and the run-time SIMD level.
#pragma once
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

}  // namespace vlm
