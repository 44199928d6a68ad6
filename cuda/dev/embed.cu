// Harness for cuda/src/embed.cu: gather (and its id check), EOS pooling on both paths (and the missing-EOS error),
// patch im2col vs a CPU reference.
//   make -C cuda dev && cuda/build/dev/embed
#include "harness.cuh"

#include <stdexcept>

int main() {
    h::require_gpu();
    int f = 0;
    for (int dt = 0; dt < 3; ++dt) {
        const int64_t rows = 1000, dim = 77, n = 13;
        auto table = h::rounded(dt, h::rand_vec(rows * dim));
        std::vector<int32_t> ids(n);
        for (auto& i : ids) i = int32_t(h::rng()() % rows);
        h::Buf dt_(dt, table), out(dt, n * dim);
        const int64_t dids = vlmc_malloc(n * 4);
        vlmc_memcpy_h2d(dids, ids.data(), n * 4);
        vlmc_gather_rows(dt, dt_.ptr, rows, dim, dids, n, out.ptr);
        std::vector<double> ref(n * dim);
        for (int64_t i = 0; i < n; ++i) for (int64_t j = 0; j < dim; ++j) ref[i * dim + j] = table[ids[i] * dim + j];
        f += h::report("gather 13 of [1000, 77]", dt, h::err(out.host(), ref));
        ids[5] = int32_t(rows);
        vlmc_memcpy_h2d(dids, ids.data(), n * 4);
        bool threw = false;
        try {
            vlmc_gather_rows(dt, dt_.ptr, rows, dim, dids, n, out.ptr);
        } catch (const std::invalid_argument& e) {
            threw = std::strstr(e.what(), "ids[5]") != nullptr;
        }
        f += h::report("gather rejects ids[5] = rows", dt, threw ? 0.0 : 1.0);
        vlmc_free(dids);
        // EOS pooling: [3, 6, 4] hidden, ids with EOS 9 at positions 2, 5, 0
        const int64_t b = 3, len = 6, d = 4;
        auto hidden = h::rounded(dt, h::rand_vec(b * len * d));
        std::vector<int32_t> pid = {1, 2, 9, 0, 0, 0, 1, 2, 3, 4, 5, 9, 9, 7, 7, 0, 0, 0};
        h::Buf dh(dt, hidden), pooled(dt, b * d);
        const int64_t dp = vlmc_malloc(b * len * 4), dpos = vlmc_malloc(b * 8);
        vlmc_memcpy_h2d(dp, pid.data(), b * len * 4);
        for (int64_t eos : {int64_t{9}, int64_t{-1}}) {
            vlmc_eos_pool(dt, dh.ptr, dp, b, len, d, eos, pooled.ptr, dpos);
            std::vector<int64_t> pos(b);
            vlmc_memcpy_d2h(pos.data(), dpos, b * 8);
            const int64_t want[2][3] = {{2, 5, 0}, {2, 5, 0}};  // argmax(ids) = first 9 here too
            std::vector<double> ref(b * d);
            bool pos_ok = true;
            for (int64_t r = 0; r < b; ++r) {
                pos_ok &= pos[r] == want[eos < 0][r];
                for (int64_t j = 0; j < d; ++j) ref[r * d + j] = hidden[(r * len + want[eos < 0][r]) * d + j];
            }
            f += h::report(std::string("eos pool ") + (eos < 0 ? "argmax" : "eos id"), dt, pos_ok ? h::err(pooled.host(), ref) : 1.0);
        }
        threw = false;
        try {
            vlmc_eos_pool(dt, dh.ptr, dp, b, len, d, 8, pooled.ptr, 0);
        } catch (const std::invalid_argument& e) {
            threw = std::strstr(e.what(), "row 0") != nullptr;
        }
        f += h::report("eos pool rejects a row without EOS", dt, threw ? 0.0 : 1.0);
        vlmc_free(dp);
        vlmc_free(dpos);
        // im2col: [2, 3, 10, 9] pixels, patch 4 -> [2 * 2 * 2, 48] (trailing pixels dropped)
        const int64_t B = 2, C = 3, H = 10, W = 9, P = 4, gh = H / P, gw = W / P, kd = C * P * P;
        auto px = h::rand_vec(B * C * H * W);
        h::Buf dpx(0, px), cols(dt, B * gh * gw * kd);
        vlmc_im2col_patches(dt, dpx.ptr, B, C, H, W, P, cols.ptr);
        auto pr = h::rounded(dt, px);
        std::vector<double> ref2(B * gh * gw * kd);
        for (int64_t i = 0; i < B; ++i) for (int64_t y = 0; y < gh; ++y) for (int64_t x = 0; x < gw; ++x)
            for (int64_t c = 0; c < C; ++c) for (int64_t dy = 0; dy < P; ++dy) for (int64_t dx = 0; dx < P; ++dx)
                ref2[((i * gh + y) * gw + x) * kd + (c * P + dy) * P + dx] = pr[((i * C + c) * H + y * P + dy) * W + x * P + dx];
        f += h::report("im2col [2, 3, 10, 9] patch 4", dt, h::err(cols.host(), ref2));
    }
    std::printf("%s\n", f ? "CHECKS FAILED" : "all checks passed");
    return f ? 1 : 0;
}
