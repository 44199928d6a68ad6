// Harness for cuda/src/elementwise.cu (llm.c style): every dtype and activation against a float64 CPU reference on
// odd sizes, then timings with GB/s and the fraction of the device's peak memory bandwidth.
//   make -C cuda dev && cuda/build/dev/elementwise
#include "vlm4j/cuda_kernels.h"

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <vector>

namespace {

double act_ref(double x, int act) {
    switch (act) {
        case 1: return 0.5 * x * std::erfc(-x / std::sqrt(2.0));
        case 2: return x / (1.0 + std::exp(-1.702 * x));
        case 3: return 0.5 * x * (1.0 + std::tanh(std::sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x)));
        default: return x;
    }
}

// host values in the dtype's storage (round to nearest even), and back to double
std::vector<uint8_t> store(const std::vector<float>& v, int dtype) {
    std::vector<uint8_t> out(v.size() * (dtype == 0 ? 4 : 2));
    for (size_t i = 0; i < v.size(); ++i) {
        if (dtype == 0) std::memcpy(&out[4 * i], &v[i], 4);
        else if (dtype == 1) { __half h = __float2half_rn(v[i]); std::memcpy(&out[2 * i], &h, 2); }
        else { __nv_bfloat16 b = __float2bfloat16_rn(v[i]); std::memcpy(&out[2 * i], &b, 2); }
    }
    return out;
}

double load(const std::vector<uint8_t>& v, size_t i, int dtype) {
    if (dtype == 0) { float f; std::memcpy(&f, &v[4 * i], 4); return f; }
    if (dtype == 1) { __half h; std::memcpy(&h, &v[2 * i], 2); return __half2float(h); }
    __nv_bfloat16 b; std::memcpy(&b, &v[2 * i], 2); return __bfloat162float(b);
}

int check() {
    const char* names[3] = {"f32", "f16", "bf16"};
    const double tol[3] = {1e-5, 1e-2, 1e-2};
    std::mt19937 rng(1);
    int failures = 0;
    for (int64_t n : {int64_t{1}, int64_t{7}, int64_t{1000}, int64_t{197 * 768 + 3}}) {
        std::vector<float> x(n), y(n);
        std::uniform_real_distribution<float> d(-8.f, 8.f);
        for (auto& v : x) v = d(rng);
        for (auto& v : y) v = d(rng);
        for (int dt = 0; dt < 3; ++dt) {
            const int64_t bytes = n * (dt == 0 ? 4 : 2);
            auto hx = store(x, dt), hy = store(y, dt);
            std::vector<uint8_t> ho(bytes);
            const int64_t dx = vlmc_malloc(bytes), dy = vlmc_malloc(bytes), dout = vlmc_malloc(bytes);
            vlmc_memcpy_h2d(dx, hx.data(), bytes);
            vlmc_memcpy_h2d(dy, hy.data(), bytes);
            for (int act = 0; act < 4; ++act) {
                vlmc_activation(dt, act, dx, dout, n);
                vlmc_memcpy_d2h(ho.data(), dout, bytes);
                double worst = 0;
                for (int64_t i = 0; i < n; ++i) {
                    const double r = act_ref(load(hx, i, dt), act);
                    worst = std::max(worst, std::fabs(load(ho, i, dt) - r) / std::max(1.0, std::fabs(r)));
                }
                const bool ok = worst <= tol[dt];
                failures += !ok;
                std::printf("  act %d %-4s n=%-7lld max rel err %.2e %s\n", act, names[dt], (long long)n, worst, ok ? "ok" : "FAIL");
            }
            vlmc_add(dt, dx, dy, dout, n);
            vlmc_memcpy_d2h(ho.data(), dout, bytes);
            double worst = 0;
            for (int64_t i = 0; i < n; ++i) {
                const double r = load(hx, i, dt) + load(hy, i, dt);
                worst = std::max(worst, std::fabs(load(ho, i, dt) - r) / std::max(1.0, std::fabs(r)));
            }
            failures += worst > tol[dt];
            std::printf("  add   %-4s n=%-7lld max rel err %.2e %s\n", names[dt], (long long)n, worst, worst <= tol[dt] ? "ok" : "FAIL");
            vlmc_free(dx);
            vlmc_free(dy);
            vlmc_free(dout);
        }
    }
    return failures;
}

void bench() {
    cudaDeviceProp p{};
    cudaGetDeviceProperties(&p, 0);
    int clock_khz = 0, bus_bits = 0;
    cudaDeviceGetAttribute(&clock_khz, cudaDevAttrMemoryClockRate, 0);
    cudaDeviceGetAttribute(&bus_bits, cudaDevAttrGlobalMemoryBusWidth, 0);
    const double peak = 2.0 * clock_khz * 1e3 * (bus_bits / 8) / 1e9;  // GB/s, DDR
    std::printf("== timings on %s (peak ~%.0f GB/s)\n", p.name, peak);
    const int64_t n = int64_t{256} * 197 * 3072;  // ViT-B/16 MLP activations at batch 256
    cudaEvent_t a, b;
    cudaEventCreate(&a);
    cudaEventCreate(&b);
    for (int dt = 0; dt < 3; ++dt) {
        const int64_t bytes = n * (dt == 0 ? 4 : 2);
        const int64_t x = vlmc_malloc(bytes), o = vlmc_malloc(bytes);
        for (int act = 0; act < 4; ++act) {
            vlmc_activation(dt, act, x, o, n);
            cudaEventRecord(a);
            for (int r = 0; r < 20; ++r) vlmc_activation(dt, act, x, o, n);
            cudaEventRecord(b);
            cudaEventSynchronize(b);
            float ms = 0;
            cudaEventElapsedTime(&ms, a, b);
            ms /= 20;
            const double gbs = 2.0 * bytes / (ms * 1e-3) / 1e9;
            std::printf("  act %d dtype %d n=%lld: %.3f ms, %.0f GB/s (%.0f%% of peak)\n", act, dt, (long long)n, ms, gbs, 100 * gbs / peak);
        }
        vlmc_free(x);
        vlmc_free(o);
    }
}

}  // namespace

int main() {
    std::printf("%s\n", vlmc_status());
    if (std::strncmp(vlmc_status(), "available", 9) != 0) return 2;
    const int failures = check();
    bench();
    std::printf("%s\n", failures ? "CHECKS FAILED" : "all checks passed");
    return failures ? 1 : 0;
}
