// Shared plumbing of the CUDA harnesses (llm.c style): seeded inputs, device buffers in any dtype, float64 CPU
// references of the ops, comparison with a dtype tolerance, CUDA-event timing and the device's peaks.
#pragma once
#include "vlm4j/cuda_kernels.h"

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

namespace h {

inline std::mt19937& rng() {
    static std::mt19937 r(1234);
    return r;
}

inline std::vector<float> rand_vec(size_t n, float lo = -1.f, float hi = 1.f) {
    std::uniform_real_distribution<float> d(lo, hi);
    std::vector<float> v(n);
    for (auto& x : v) x = d(rng());
    return v;
}

inline const char* dtype_name(int dt) { return dt == 0 ? "f32" : dt == 1 ? "f16" : "bf16"; }
inline double tolerance(int dt) { return dt == 0 ? 1e-5 : 1e-2; }
inline int64_t elem_bytes(int dt) { return dt == 0 ? 4 : 2; }

// A device buffer holding float values stored in dtype dt; host() reads them back as float.
struct Buf {
    int dt = 0;
    int64_t n = 0, ptr = 0;
    Buf(int dtype, const std::vector<float>& v) : dt(dtype), n(int64_t(v.size())) {
        ptr = vlmc_malloc(std::max<int64_t>(1, n) * elem_bytes(dt));
        std::vector<uint8_t> raw(size_t(n) * elem_bytes(dt));
        for (int64_t i = 0; i < n; ++i) {
            if (dt == 0) std::memcpy(&raw[4 * i], &v[i], 4);
            else if (dt == 1) { const __half x = __float2half_rn(v[i]); std::memcpy(&raw[2 * i], &x, 2); }
            else { const __nv_bfloat16 x = __float2bfloat16_rn(v[i]); std::memcpy(&raw[2 * i], &x, 2); }
        }
        vlmc_memcpy_h2d(ptr, raw.data(), int64_t(raw.size()));
    }
    Buf(int dtype, int64_t count) : Buf(dtype, std::vector<float>(size_t(count), 0.f)) {}
    Buf(const Buf&) = delete;
    Buf& operator=(const Buf&) = delete;
    ~Buf() { vlmc_free(ptr); }
    std::vector<float> host() const {
        std::vector<uint8_t> raw(size_t(n) * elem_bytes(dt));
        vlmc_memcpy_d2h(raw.data(), ptr, int64_t(raw.size()));
        std::vector<float> v(n);
        for (int64_t i = 0; i < n; ++i) {
            if (dt == 0) std::memcpy(&v[i], &raw[4 * i], 4);
            else if (dt == 1) { __half x; std::memcpy(&x, &raw[2 * i], 2); v[i] = __half2float(x); }
            else { __nv_bfloat16 x; std::memcpy(&x, &raw[2 * i], 2); v[i] = __bfloat162float(x); }
        }
        return v;
    }
};

// The values a dtype can hold (inputs are rounded to it before the CPU reference sees them).
inline std::vector<float> rounded(int dt, std::vector<float> v) {
    for (auto& x : v) x = dt == 0 ? x : dt == 1 ? __half2float(__float2half_rn(x)) : __bfloat162float(__float2bfloat16_rn(x));
    return v;
}

// max |got - ref| / max(1, max |ref|): normwise, as the CPU conformance suite; infinite for a NaN or inf output.
inline double err(const std::vector<float>& got, const std::vector<double>& ref) {
    double d = 0, m = 1;
    for (size_t i = 0; i < ref.size(); ++i) {
        if (!std::isfinite(got[i])) return INFINITY;
        d = std::max(d, std::fabs(double(got[i]) - ref[i]));
        m = std::max(m, std::fabs(ref[i]));
    }
    return d / m;
}

inline int report(const std::string& what, int dt, double e) {
    const bool ok = e <= tolerance(dt);
    std::printf("  %-52s %-4s err %.2e %s\n", what.c_str(), dtype_name(dt), e, ok ? "ok" : "FAIL");
    return ok ? 0 : 1;
}

inline double act_ref(double x, int act) {
    switch (act) {
        case 1: return 0.5 * x * std::erfc(-x / std::sqrt(2.0));
        case 2: return x / (1.0 + std::exp(-1.702 * x));
        case 3: return 0.5 * x * (1.0 + std::tanh(std::sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x)));
        default: return x;
    }
}

// Mean time of reps calls in ms, after one warm-up call.
template <class F>
double time_ms(F&& f, int reps = 20) {
    f();
    cudaEvent_t a, b;
    cudaEventCreate(&a);
    cudaEventCreate(&b);
    cudaEventRecord(a);
    for (int i = 0; i < reps; ++i) f();
    cudaEventRecord(b);
    cudaEventSynchronize(b);
    float ms = 0;
    cudaEventElapsedTime(&ms, a, b);
    cudaEventDestroy(a);
    cudaEventDestroy(b);
    return ms / reps;
}

inline double peak_gbs() {
    int clock_khz = 0, bus_bits = 0;
    cudaDeviceGetAttribute(&clock_khz, cudaDevAttrMemoryClockRate, 0);
    cudaDeviceGetAttribute(&bus_bits, cudaDevAttrGlobalMemoryBusWidth, 0);
    return 2.0 * clock_khz * 1e3 * (bus_bits / 8) / 1e9;
}

// Exits with 2 and the reason when no usable GPU is present.
inline void require_gpu() {
    std::printf("%s\n", vlmc_status());
    if (std::strncmp(vlmc_status(), "available", 9) != 0) std::exit(2);
}

}  // namespace h
