// Harness for cuda/src/elementwise.cu: activations, add and dtype conversion vs float64 on odd sizes in every dtype,
// then timings in GB/s against the device's peak memory bandwidth.
//   make -C cuda dev && cuda/build/dev/elementwise
#include "harness.cuh"

int main() {
    h::require_gpu();
    int f = 0;
    for (int64_t n : {int64_t{1}, int64_t{7}, int64_t{1000}, int64_t{197 * 768 + 3}}) {
        for (int dt = 0; dt < 3; ++dt) {
            auto x = h::rounded(dt, h::rand_vec(n, -8, 8)), y = h::rounded(dt, h::rand_vec(n, -8, 8));
            h::Buf dx(dt, x), dy(dt, y), dout(dt, n);
            for (int act = 0; act < 4; ++act) {
                vlmc_activation(dt, act, dx.ptr, dout.ptr, n);
                std::vector<double> ref(n);
                for (int64_t i = 0; i < n; ++i) ref[i] = h::act_ref(x[i], act);
                f += h::report("activation " + std::to_string(act) + " n=" + std::to_string(n), dt, h::err(dout.host(), ref));
            }
            vlmc_add(dt, dx.ptr, dy.ptr, dout.ptr, n);
            std::vector<double> sum(n);
            for (int64_t i = 0; i < n; ++i) sum[i] = double(x[i]) + y[i];
            f += h::report("add n=" + std::to_string(n), dt, h::err(dout.host(), sum));
            for (int to = 0; to < 3; ++to) {  // conversion: exact up to the target's rounding
                h::Buf conv(to, n);
                vlmc_convert(dt, dx.ptr, to, conv.ptr, n);
                const auto want = h::rounded(to, x);
                f += h::report("convert to " + std::string(h::dtype_name(to)) + " n=" + std::to_string(n), dt,
                               h::err(conv.host(), std::vector<double>(want.begin(), want.end())));
            }
        }
    }
    const double peak = h::peak_gbs();
    std::printf("== timings (peak ~%.0f GB/s)\n", peak);
    const int64_t n = int64_t{256} * 197 * 3072;  // ViT-B/16 MLP activations at batch 256
    for (int dt = 0; dt < 3; ++dt) {
        h::Buf x(dt, n), o(dt, n);
        for (int act = 0; act < 4; ++act) {
            const double ms = h::time_ms([&] { vlmc_activation(dt, act, x.ptr, o.ptr, n); });
            const double gbs = 2.0 * n * h::elem_bytes(dt) / (ms * 1e-3) / 1e9;
            std::printf("  activation %d %-4s n=%lld: %.3f ms, %.0f GB/s (%.0f%%)\n", act, h::dtype_name(dt), (long long)n, ms, gbs,
                        100 * gbs / peak);
        }
    }
    std::printf("%s\n", f ? "CHECKS FAILED" : "all checks passed");
    return f ? 1 : 0;
}
