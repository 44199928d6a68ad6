// Harness for cuda/src/norm.cu: LayerNorm (with and without the fused residual add), softmax and L2 normalize vs
// float64 on odd shapes in every dtype, then timings in GB/s against the device's peak.
//   make -C cuda dev && cuda/build/dev/norm
#include "harness.cuh"

int main() {
    h::require_gpu();
    int f = 0;
    const int64_t shapes[][2] = {{1, 1}, {7, 33}, {197, 768}, {77, 512}, {5, 1000}, {3, 4097}};
    for (int dt = 0; dt < 3; ++dt) {
        for (const auto& s : shapes) {
            const int64_t rows = s[0], dim = s[1], n = rows * dim;
            auto x = h::rounded(dt, h::rand_vec(n, -3, 3)), r = h::rounded(dt, h::rand_vec(n, -3, 3));
            auto g = h::rand_vec(dim, 0.5f, 1.5f), bta = h::rand_vec(dim, -0.5f, 0.5f);
            h::Buf dx(dt, x), dr(dt, r), dsum(dt, n), dout(dt, n), dg(0, g), db(0, bta);
            for (int fused = 0; fused < 2; ++fused) {
                vlmc_layernorm(dt, dx.ptr, fused ? dr.ptr : 0, fused ? dsum.ptr : 0, dg.ptr, db.ptr, dout.ptr, rows, dim, 1e-5f);
                std::vector<double> ref(n);
                for (int64_t i = 0; i < rows; ++i) {
                    double mean = 0, var = 0;
                    for (int64_t j = 0; j < dim; ++j) mean += x[i * dim + j] + (fused ? r[i * dim + j] : 0.0);
                    mean /= dim;
                    for (int64_t j = 0; j < dim; ++j) {
                        const double d = x[i * dim + j] + (fused ? r[i * dim + j] : 0.0) - mean;
                        var += d * d;
                    }
                    var /= dim;
                    for (int64_t j = 0; j < dim; ++j) {
                        ref[i * dim + j] = (x[i * dim + j] + (fused ? r[i * dim + j] : 0.0) - mean) / std::sqrt(var + 1e-5) * g[j] + bta[j];
                    }
                }
                f += h::report("layernorm" + std::string(fused ? "+residual" : "") + " [" + std::to_string(rows) + ", " +
                               std::to_string(dim) + "]", dt, h::err(dout.host(), ref));
            }
            vlmc_softmax(dt, dx.ptr, dout.ptr, rows, dim);
            std::vector<double> ref(n), l2(n);
            for (int64_t i = 0; i < rows; ++i) {
                double m = -1e300, sum = 0, ss = 0;
                for (int64_t j = 0; j < dim; ++j) m = std::max(m, double(x[i * dim + j]));
                for (int64_t j = 0; j < dim; ++j) sum += std::exp(x[i * dim + j] - m);
                for (int64_t j = 0; j < dim; ++j) ref[i * dim + j] = std::exp(x[i * dim + j] - m) / sum;
                for (int64_t j = 0; j < dim; ++j) ss += double(x[i * dim + j]) * x[i * dim + j];
                for (int64_t j = 0; j < dim; ++j) l2[i * dim + j] = x[i * dim + j] / std::max(std::sqrt(ss), 1e-12);
            }
            f += h::report("softmax [" + std::to_string(rows) + ", " + std::to_string(dim) + "]", dt, h::err(dout.host(), ref));
            vlmc_l2_normalize(dt, dx.ptr, dout.ptr, rows, dim, 1e-12f);
            f += h::report("l2_normalize [" + std::to_string(rows) + ", " + std::to_string(dim) + "]", dt, h::err(dout.host(), l2));
        }
    }
    const double peak = h::peak_gbs();
    std::printf("== timings (peak ~%.0f GB/s)\n", peak);
    for (int dt = 0; dt < 3; ++dt) {
        const int64_t rows = 256 * 197, dim = 768, n = rows * dim;
        h::Buf x(dt, h::rand_vec(n)), r(dt, h::rand_vec(n)), s(dt, n), o(dt, n), g(0, h::rand_vec(dim)), b(0, h::rand_vec(dim));
        const double ms = h::time_ms([&] { vlmc_layernorm(dt, x.ptr, r.ptr, s.ptr, g.ptr, b.ptr, o.ptr, rows, dim, 1e-5f); });
        const double gbs = 4.0 * n * h::elem_bytes(dt) / (ms * 1e-3) / 1e9;
        std::printf("  layernorm+residual %-4s ViT-B/16 b256 [%lld, %lld]: %.3f ms, %.0f GB/s (%.0f%%)\n", h::dtype_name(dt),
                    (long long)rows, (long long)dim, ms, gbs, 100 * gbs / peak);
    }
    std::printf("%s\n", f ? "CHECKS FAILED" : "all checks passed");
    return f ? 1 : 0;
}
