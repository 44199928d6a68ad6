// Harness for cuda/src/train.cu against the float64 references of dev/train_ref.h, every dtype, odd shapes:
// LayerNorm backward (dx, accumulated dx, dgamma/dbeta over several blocks' partials, dx aliasing dy), activation
// backward (GELU, QuickGELU, tanh GELU), L2-normalize backward (with a zero row), dropout (mask bit-identical to the
// contract's hash, values x / (1 - p)), AdamW (float4 and unaligned), sum of squares and scale. Then GB/s of the
// memory-bound ones at ViT-B/16 batch-256 shapes against the device's peak.
//   make -C cuda dev && cuda/build/dev/train
#include "harness.cuh"
#include "train_ref.h"

namespace {

std::string shape(int64_t rows, int64_t dim) { return "[" + std::to_string(rows) + ", " + std::to_string(dim) + "]"; }

// h::report with an explicit bound, for results whose accuracy does not follow the activations' dtype
int report_tol(const std::string& what, double e, double tol) {
    const bool ok = e <= tol;
    std::printf("  %-52s      err %.2e (tol %.0e) %s\n", what.c_str(), e, tol, ok ? "ok" : "FAIL");
    return ok ? 0 : 1;
}

int layernorm(int dt, int64_t rows, int64_t dim, bool accumulate, bool params, bool alias) {
    const auto x = h::rounded(dt, h::rand_vec(rows * dim, -3, 3)), dy = h::rounded(dt, h::rand_vec(rows * dim));
    const auto gamma = h::rand_vec(dim, 0.5f, 1.5f), dx0 = h::rounded(dt, h::rand_vec(rows * dim));
    const auto dg0 = h::rand_vec(dim), db0 = h::rand_vec(dim);
    auto r = ref::layernorm_backward(x, gamma, dy, rows, dim, 1e-5);
    for (int64_t i = 0; i < rows * dim && accumulate; ++i) r.dx[i] += dx0[i];
    for (int64_t j = 0; j < dim; ++j) r.dgamma[j] += dg0[j], r.dbeta[j] += db0[j];
    h::Buf bx(dt, x), bdy(dt, dy), bdx(dt, accumulate ? dx0 : std::vector<float>(rows * dim, NAN)), bg(0, gamma), bdg(0, dg0),
        bdb(0, db0);
    const int64_t ws_bytes = vlmc_layernorm_backward_workspace(rows, dim, params), ws = vlmc_malloc(std::max<int64_t>(ws_bytes, 4));
    const int64_t dx = alias ? bdy.ptr : bdx.ptr;
    vlmc_layernorm_backward(dt, bx.ptr, bg.ptr, bdy.ptr, dx, accumulate, params ? bdg.ptr : 0, params ? bdb.ptr : 0, rows, dim,
                            1e-5f, ws, ws_bytes);
    const std::string what = "layernorm_backward " + shape(rows, dim) + (accumulate ? " +=" : "") + (alias ? " dx=dy" : "");
    int f = h::report(what + " dx", dt, h::err(alias ? bdy.host() : bdx.host(), r.dx));
    if (params) {  // fp32 sums of the same rounded inputs the reference sees: the F32 bound in every dtype
        const double e = std::max(h::err(bdg.host(), r.dgamma), h::err(bdb.host(), r.dbeta));
        f += report_tol(what + " dgamma/dbeta " + h::dtype_name(dt), e, 1e-5);
    }
    vlmc_free(ws);
    return f;
}

int activation(int dt, int act) {
    const int64_t n = 100003;
    const auto x = h::rounded(dt, h::rand_vec(n, -6, 6)), dy = h::rounded(dt, h::rand_vec(n));
    std::vector<double> r(n);
    for (int64_t i = 0; i < n; ++i) r[i] = ref::activation_grad(x[i], act) * dy[i];
    h::Buf bx(dt, x), bdy(dt, dy);
    vlmc_activation_backward(dt, act, bx.ptr, bdy.ptr, bdy.ptr, n);  // in place: dx aliases dy
    return h::report("activation_backward act " + std::to_string(act) + " n=" + std::to_string(n), dt, h::err(bdy.host(), r));
}

int l2(int dt, int64_t rows, int64_t dim) {
    auto x = h::rounded(dt, h::rand_vec(rows * dim, -2, 2));
    std::fill(x.begin(), x.begin() + dim, 0.0f);  // row 0: ||x|| <= eps
    const auto dy = h::rounded(dt, h::rand_vec(rows * dim));
    const auto r = ref::l2_normalize_backward(x, dy, rows, dim, 1e-6);
    h::Buf bx(dt, x), bdy(dt, dy), bdx(dt, rows * dim);
    vlmc_l2_normalize_backward(dt, bx.ptr, bdy.ptr, bdx.ptr, rows, dim, 1e-6f);
    // row 0 is dy / eps (1e6 dy): compared apart, or its scale would hide the other rows' errors
    std::vector<float> got = bdx.host();
    std::vector<double> r0(r.begin(), r.begin() + dim), r1(r.begin() + dim, r.end());
    std::vector<float> g0(got.begin(), got.begin() + dim), g1(got.begin() + dim, got.end());
    return h::report("l2_normalize_backward " + shape(rows, dim) + " zero row", dt, h::err(g0, r0)) +
           h::report("l2_normalize_backward " + shape(rows, dim), dt, h::err(g1, r1));
}

int dropout(int dt, float p, int64_t seed) {
    const int64_t n = 1000003;
    const auto x = h::rounded(dt, h::rand_vec(n));
    h::Buf bx(dt, x), bout(dt, n);
    vlmc_dropout(dt, bx.ptr, bout.ptr, n, p, seed);
    const auto got = bout.host();
    int64_t differ = 0;
    std::vector<double> r(n);
    for (int64_t i = 0; i < n; ++i) {
        const bool keep = ref::dropout_keep(uint64_t(seed), i, p);
        r[i] = keep ? x[i] / (1.0 - p) : 0.0;
        differ += keep != (got[i] != 0.0f) && x[i] != 0.0f;
    }
    std::printf("  dropout p=%.2f seed=%lld %-4s mask differs at %lld of %lld %s\n", p, (long long)seed, h::dtype_name(dt),
                (long long)differ, (long long)n, differ ? "FAIL" : "ok");
    return (differ != 0) + h::report("dropout values p=" + std::to_string(p), dt, h::err(got, r));
}

int adamw(int64_t n, int offset, int64_t step) {
    const auto p0 = h::rand_vec(n + offset), g = h::rand_vec(n + offset), m0 = h::rand_vec(n + offset, -0.1f, 0.1f);
    const auto v0 = h::rand_vec(n + offset, 0, 0.01f);
    const auto r = ref::adamw(p0, g, m0, v0, 1e-3, 0.9, 0.999, 1e-8, 0.1, step);
    h::Buf bp(0, p0), bg(0, g), bm(0, m0), bv(0, v0);
    const int64_t o = 4 * offset;  // offset 1: not 16-byte aligned, the scalar path
    vlmc_adamw(bp.ptr + o, bg.ptr + o, bm.ptr + o, bv.ptr + o, n, 1e-3f, 0.9f, 0.999f, 1e-8f, 0.1f, step);
    auto tail = [&](const std::vector<float>& v) { return std::vector<float>(v.begin() + offset, v.end()); };
    auto rtail = [&](const std::vector<double>& v) { return std::vector<double>(v.begin() + offset, v.end()); };
    const double e = std::max({h::err(tail(bp.host()), rtail(r.p)), h::err(tail(bm.host()), rtail(r.m)),
                               h::err(tail(bv.host()), rtail(r.v))});
    return report_tol("adamw n=" + std::to_string(n) + (offset ? " unaligned" : " float4") + " step " + std::to_string(step), e, 1e-6);
}

int sum_squares(int dt, int64_t n) {
    const auto x = h::rounded(dt, h::rand_vec(n, -2, 2));
    double r = 0;
    for (float v : x) r += double(v) * v;
    h::Buf bx(dt, x);
    const int64_t ws_bytes = vlmc_sum_squares_workspace(), ws = vlmc_malloc(ws_bytes);
    vlmc_sum_squares(dt, bx.ptr, n, ws, ws_bytes);
    double got = 0;
    vlmc_memcpy_d2h(&got, ws, sizeof got);
    vlmc_free(ws);
    return report_tol("sum_squares n=" + std::to_string(n) + " " + h::dtype_name(dt) + " (relative)", std::fabs(got - r) / r, 1e-12);
}

int scale(int dt) {
    const int64_t n = 4099;
    const auto x = h::rounded(dt, h::rand_vec(n, -2, 2));
    std::vector<double> r(n);
    for (int64_t i = 0; i < n; ++i) r[i] = -0.37 * x[i];
    h::Buf bx(dt, x);
    vlmc_scale(dt, bx.ptr, n, -0.37f);
    return h::report("scale", dt, h::err(bx.host(), r));
}

}  // namespace

int main() {
    h::require_gpu();
    int f = 0;
    const int64_t ln_shapes[][2] = {{1, 1}, {7, 33}, {197, 768}, {77, 512}, {5, 1000}, {3, 4097}, {2050, 64}};
    for (int dt = 0; dt < 3; ++dt) {
        for (const auto& s : ln_shapes) {
            f += layernorm(dt, s[0], s[1], false, true, false);
            f += layernorm(dt, s[0], s[1], true, true, false);
            f += layernorm(dt, s[0], s[1], false, false, true);
        }
        for (int act = 0; act < 4; ++act) f += activation(dt, act);
        f += l2(dt, 5, 512) + l2(dt, 3, 4097);
        f += dropout(dt, 0.1f, 42) + dropout(dt, 0.5f, -7) + dropout(dt, 0.0f, 1);
        f += sum_squares(dt, 1) + sum_squares(dt, 1000003) + scale(dt);
    }
    f += adamw(1000003, 0, 1) + adamw(1001, 1, 10);

    const double peak = h::peak_gbs();
    std::printf("== timings (peak ~%.0f GB/s)\n", peak);
    for (int dt = 0; dt < 3; ++dt) {
        const int64_t rows = 256 * 197, dim = 768, n = rows * dim, eb = h::elem_bytes(dt);
        h::Buf x(dt, h::rand_vec(n)), dy(dt, h::rand_vec(n)), dx(dt, n), g(0, h::rand_vec(dim)), dg(0, dim), db(0, dim);
        const int64_t ws_bytes = vlmc_layernorm_backward_workspace(rows, dim, 1), ws = vlmc_malloc(ws_bytes);
        double ms = h::time_ms([&] {
            vlmc_layernorm_backward(dt, x.ptr, g.ptr, dy.ptr, dx.ptr, 1, dg.ptr, db.ptr, rows, dim, 1e-5f, ws, ws_bytes);
        });
        double gbs = 4.0 * n * eb / (ms * 1e-3) / 1e9;  // x, dy, dx read + dx written
        std::printf("  layernorm_backward += with dgamma/dbeta %-4s [%lld, %lld]: %.3f ms, %.0f GB/s (%.0f%%)\n", h::dtype_name(dt),
                    (long long)rows, (long long)dim, ms, gbs, 100 * gbs / peak);
        vlmc_free(ws);
        const int64_t na = rows * 3072;  // the MLP's hidden activations
        h::Buf a(dt, na), da(dt, na);
        ms = h::time_ms([&] { vlmc_activation_backward(dt, 1, a.ptr, da.ptr, da.ptr, na); });
        gbs = 3.0 * na * eb / (ms * 1e-3) / 1e9;
        std::printf("  activation_backward gelu %-4s n=%lld: %.3f ms, %.0f GB/s (%.0f%%)\n", h::dtype_name(dt), (long long)na, ms, gbs,
                    100 * gbs / peak);
        ms = h::time_ms([&] { vlmc_dropout(dt, a.ptr, da.ptr, na, 0.1f, 3); });
        gbs = 2.0 * na * eb / (ms * 1e-3) / 1e9;
        std::printf("  dropout %-4s n=%lld: %.3f ms, %.0f GB/s (%.0f%%)\n", h::dtype_name(dt), (long long)na, ms, gbs, 100 * gbs / peak);
    }
    const int64_t np = 16 << 20;
    h::Buf p(0, np), g(0, np), m(0, np), v(0, np);
    const double ms = h::time_ms([&] { vlmc_adamw(p.ptr, g.ptr, m.ptr, v.ptr, np, 1e-3f, 0.9f, 0.999f, 1e-8f, 0.01f, 3); });
    const double gbs = 7.0 * np * 4 / (ms * 1e-3) / 1e9;
    std::printf("  adamw n=%lld: %.3f ms, %.0f GB/s (%.0f%%)\n", (long long)np, ms, gbs, 100 * gbs / peak);
    std::printf("%s\n", f ? "CHECKS FAILED" : "all checks passed");
    return f ? 1 : 0;
}
