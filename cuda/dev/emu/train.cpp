// CPU emulation of the training kernels of cuda/src/train.cu (their real text via extract_simt.py) on the fiber
// scheduler of prelude.h, 128 threads per block (the kernels take any multiple of 32): LayerNorm, activation and
// L2-normalize backward, dropout, AdamW, sum of squares and scale against the float64 references of
// dev/train_ref.h, whose analytic gradients are first checked against finite differences. `make -C cuda emu`.
#include <cuda_runtime.h>

#include "prelude.h"
#include "simt.h"

#include "dtype.cuh"
#include "kernel_text_train.h"
#include "../train_ref.h"

#include <random>
#include <string>

namespace {

std::mt19937 rng(5);

std::vector<float> rand_vec(size_t n, float lo, float hi) {
    std::uniform_real_distribution<float> u(lo, hi);
    std::vector<float> v(n);
    for (auto& x : v) x = u(rng);
    return v;
}

template <typename T> const char* name() { return sizeof(T) == 4 ? "f32" : std::is_same_v<T, __half> ? "f16" : "bf16"; }
template <typename T> std::vector<T> store(const std::vector<float>& v) {
    std::vector<T> o(v.size());
    for (size_t i = 0; i < v.size(); ++i) o[i] = vlmc::from_f<T>(v[i]);
    return o;
}
template <typename T> std::vector<float> load(const std::vector<T>& v) {
    std::vector<float> o(v.size());
    for (size_t i = 0; i < v.size(); ++i) o[i] = vlmc::to_f(v[i]);
    return o;
}
template <typename T> std::vector<float> rounded(const std::vector<float>& v) { return load(store<T>(v)); }

// max |got - ref| / max(1, max |ref|); infinite for a non-finite value
template <typename V>
double err(const V& got, const std::vector<double>& ref) {
    double d = 0, m = 1;
    for (size_t i = 0; i < ref.size(); ++i) {
        if (!std::isfinite(double(got[i]))) return INFINITY;
        d = std::max(d, std::fabs(double(got[i]) - ref[i]));
        m = std::max(m, std::fabs(ref[i]));
    }
    return d / m;
}

template <typename T> double tol() { return sizeof(T) == 4 ? 1e-5 : std::is_same_v<T, __half> ? 2e-3 : 1.6e-2; }

int report(const std::string& what, double e, double t) {
    const bool ok = e <= t;
    std::printf("  %-58s err %.2e (tol %.0e) %s\n", what.c_str(), e, t, ok ? "ok" : "FAIL");
    return ok ? 0 : 1;
}

// The references' gradients are the derivatives of the forward functions.
int check_references() {
    int f = 0;
    double worst = 0;
    for (int act = 0; act < 4; ++act) {
        for (double x : {-7.0, -3.1, -1.0, -0.3, 0.0, 0.2, 1.3, 4.5}) {
            const double fd = ref::finite_difference([&](double t) { return ref::activation(t, act); }, x);
            worst = std::max(worst, std::fabs(fd - ref::activation_grad(x, act)));
        }
    }
    f += report("reference activation_grad vs finite differences", worst, 1e-8);
    const int64_t dim = 9;
    const auto x = rand_vec(dim, -2, 2), gamma = rand_vec(dim, 0.5f, 1.5f), dy = rand_vec(dim, -1, 1);
    const auto g = ref::layernorm_backward(x, gamma, dy, 1, dim, 1e-5);
    worst = 0;
    for (int64_t j = 0; j < dim; ++j) {
        const double fd = ref::finite_difference([&](double t) {
            std::vector<double> xd(x.begin(), x.end());
            xd[j] = t;
            const auto y = ref::layernorm_row(xd, gamma.data(), 1e-5);
            double s = 0;
            for (int64_t k = 0; k < dim; ++k) s += y[k] * dy[k];
            return s;
        }, x[j]);
        worst = std::max(worst, std::fabs(fd - g.dx[j]));
    }
    f += report("reference layernorm_backward vs finite differences", worst, 1e-7);
    return f;
}

template <typename T>
int layernorm(int64_t rows, int64_t dim, bool accumulate, bool params, bool alias) {
    const auto x = rounded<T>(rand_vec(rows * dim, -3, 3)), dy = rounded<T>(rand_vec(rows * dim, -1, 1));
    const auto gamma = rand_vec(dim, 0.5f, 1.5f), dx0 = rounded<T>(rand_vec(rows * dim, -1, 1));
    const auto dg0 = rand_vec(dim, -1, 1), db0 = rand_vec(dim, -1, 1);
    auto r = ref::layernorm_backward(x, gamma, dy, rows, dim, 1e-5);
    for (int64_t i = 0; i < rows * dim && accumulate; ++i) r.dx[i] += dx0[i];
    for (int64_t j = 0; j < dim; ++j) r.dgamma[j] += dg0[j], r.dbeta[j] += db0[j];

    const auto xb = store<T>(x);
    auto dyb = store<T>(dy), dxb = store<T>(accumulate ? dx0 : std::vector<float>(rows * dim, NAN));
    T* const dx = alias ? dyb.data() : dxb.data();
    auto dg = dg0, db = db0;
    const int64_t blocks = ln_blocks(rows);
    std::vector<float> partial(params ? blocks * 2 * dim : 0, NAN), smem(2 * dim + 64, NAN);
    emu::smem_base = reinterpret_cast<unsigned char*>(smem.data());
    emu::smem_size = smem.size() * 4;
    launch_blocks(unsigned(blocks), [&] {
        layernorm_backward_kernel<T>(xb.data(), gamma.data(), dyb.data(), dx, accumulate, params ? partial.data() : nullptr,
                                     rows, dim, 1e-5f);
    });
    int f = 0;
    const std::string what = std::string("layernorm_backward ") + name<T>() + " [" + std::to_string(rows) + ", " +
                             std::to_string(dim) + "]" + (accumulate ? " +=" : "") + (alias ? " dx=dy" : "");
    f += report(what + " dx", err(load(alias ? dyb : dxb), r.dx), tol<T>());
    if (params) {
        launch_blocks(unsigned((dim + 127) / 128), [&] { layernorm_param_grads(partial.data(), blocks, dim, dg.data(), db.data()); });
        f += report(what + " dgamma, dbeta", std::max(err(dg, r.dgamma), err(db, r.dbeta)), 1e-5);
    }
    return f;
}

template <typename T>
int activation() {
    auto xs = rand_vec(997, -6, 6);
    for (float e : {0.0f, -0.0f, 1e-30f, -20.0f, 20.0f, -200.0f, 200.0f, 3e19f, -3e19f}) {
        if (std::isfinite(vlmc::to_f(vlmc::from_f<T>(e)))) xs.push_back(e);  // saturating extremes (x^3 overflows)
    }
    const auto x = rounded<T>(xs), dy = rounded<T>(rand_vec(xs.size(), -1, 1));
    int f = 0;
    for (int act = 0; act < 4; ++act) {
        std::vector<double> r(x.size());
        for (size_t i = 0; i < x.size(); ++i) r[i] = ref::activation_grad(x[i], act) * dy[i];
        const auto xb = store<T>(x);
        auto dyb = store<T>(dy);  // dx aliases dy
        launch_blocks(2, [&] { activation_backward_kernel<T>(xb.data(), dyb.data(), dyb.data(), int64_t(x.size()), act); });
        f += report(std::string("activation_backward ") + name<T>() + " act " + std::to_string(act) + " dx=dy", err(load(dyb), r),
                    tol<T>());
    }
    return f;
}

template <typename T>
int l2(int64_t rows, int64_t dim) {
    auto x = rounded<T>(rand_vec(rows * dim, -2, 2));
    std::fill(x.begin(), x.begin() + dim, 0.0f);  // row 0: ||x|| = 0 <= eps, dx = dy / eps
    const auto dy = rounded<T>(rand_vec(rows * dim, -1, 1));
    const float eps = 1e-6f;
    const auto r = ref::l2_normalize_backward(x, dy, rows, dim, eps);
    const auto xb = store<T>(x);
    auto dyb = store<T>(dy);
    launch_blocks(unsigned(rows), [&] { l2_backward_kernel<T>(xb.data(), dyb.data(), dyb.data(), dim, eps); });
    return report(std::string("l2_normalize_backward ") + name<T>() + " [" + std::to_string(rows) + ", " + std::to_string(dim) +
                  "] dx=dy, zero row", err(load(dyb), r), tol<T>());
}

template <typename T>
int dropout(float p, int64_t seed) {
    const int64_t n = 10007;
    const auto x = rounded<T>(rand_vec(n, -1, 1));
    const auto xb = store<T>(x);
    std::vector<T> out(n);
    const uint32_t threshold = uint32_t(std::min(std::floor(double(p) * 4294967296.0), 4294967295.0));
    launch_blocks(3, [&] { dropout_kernel<T>(xb.data(), out.data(), n, uint64_t(seed), threshold, 1.0f - p); });
    int mask_diff = 0, kept = 0;
    std::vector<double> r(n);
    const auto got = load(out);
    for (int64_t i = 0; i < n; ++i) {
        const bool keep = ref::dropout_keep(uint64_t(seed), i, p);
        kept += keep;
        r[i] = keep ? x[i] / (1.0 - p) : 0.0;
        mask_diff += keep != (got[i] != 0.0f || x[i] == 0.0f);
    }
    int f = mask_diff != 0;
    std::printf("  dropout %s p=%.2f seed=%lld: mask differs at %d of %lld, kept %.3f %s\n", name<T>(), p, (long long)seed, mask_diff,
                (long long)n, double(kept) / n, mask_diff ? "FAIL" : "ok");
    f += report(std::string("dropout values ") + name<T>(), err(got, r), tol<T>());
    return f;
}

int adamw(int64_t n, int offset, int64_t step) {
    const auto p0 = rand_vec(n + offset, -1, 1), g = rand_vec(n + offset, -1, 1), m0 = rand_vec(n + offset, -0.1f, 0.1f);
    auto v0 = rand_vec(n + offset, 0, 0.01f);
    const float lr = 1e-3f, b1 = 0.9f, b2 = 0.999f, eps = 1e-8f, wd = 0.1f;
    const auto r = ref::adamw(p0, g, m0, v0, lr, b1, b2, eps, wd, step);
    auto p = p0, m = m0, v = v0;
    const double bc1 = 1.0 - std::pow(double(b1), double(step)), bc2 = 1.0 - std::pow(double(b2), double(step));
    const Adam a{float(1.0 - double(lr) * wd), b1, b2, 1.0f - b1, 1.0f - b2, float(lr / bc1), float(std::sqrt(bc2)), eps};
    const int vec = offset == 0;
    launch_blocks(2, [&] { adamw_kernel(p.data() + offset, g.data() + offset, m.data() + offset, v.data() + offset, n, a, vec); });
    std::vector<double> rp(r.p.begin() + offset, r.p.end()), rm(r.m.begin() + offset, r.m.end()), rv(r.v.begin() + offset, r.v.end());
    const double e = std::max({err(std::vector<float>(p.begin() + offset, p.end()), rp),
                               err(std::vector<float>(m.begin() + offset, m.end()), rm),
                               err(std::vector<float>(v.begin() + offset, v.end()), rv)});
    int f = report("adamw n=" + std::to_string(n) + (vec ? " float4" : " scalar") + " step " + std::to_string(step), e, 1e-6);
    for (int i = 0; i < offset; ++i) f += p[i] != p0[i];  // nothing before the tensor touched
    return f;
}

template <typename T>
int sum_squares(int64_t n) {
    const auto x = rounded<T>(rand_vec(n, -2, 2));
    double r = 0;
    for (float v : x) r += double(v) * v;
    const auto xb = store<T>(x);
    const int blocks = int(std::min<int64_t>((n + 255) / 256, ss_blocks));
    std::vector<double> ws(1 + ss_blocks, NAN);
    launch_blocks(unsigned(blocks), [&] { sum_squares_partial<T>(xb.data(), n, ws.data() + 1); });
    launch_blocks(1, [&] { sum_squares_final(ws.data() + 1, blocks, ws.data()); });
    return report(std::string("sum_squares ") + name<T>() + " n=" + std::to_string(n), std::fabs(ws[0] - r) / r, 1e-12);
}

template <typename T>
int scale() {
    const auto x = rounded<T>(rand_vec(1001, -2, 2));
    auto xb = store<T>(x);
    launch_blocks(2, [&] { scale_kernel<T>(xb.data(), int64_t(x.size()), -0.37f); });
    std::vector<double> r(x.size());
    for (size_t i = 0; i < x.size(); ++i) r[i] = -0.37 * x[i];
    return report(std::string("scale ") + name<T>(), err(load(xb), r), tol<T>());
}

}  // namespace

int main() {
    int f = check_references();
    f += layernorm<float>(1, 1, false, true, false);
    f += layernorm<float>(7, 33, true, true, false);
    f += layernorm<float>(13, 300, false, true, true);
    f += layernorm<__nv_bfloat16>(5, 1000, false, false, false);
    f += layernorm<__half>(3, 129, true, true, false);
    f += activation<float>() + activation<__half>() + activation<__nv_bfloat16>();
    f += l2<float>(4, 37) + l2<__nv_bfloat16>(3, 300);
    f += dropout<float>(0.3f, -5) + dropout<__nv_bfloat16>(0.9f, 1234567890123ll) + dropout<float>(0.0f, 7);
    f += adamw(1001, 0, 1) + adamw(1001, 1, 7);
    f += sum_squares<float>(100003) + sum_squares<__half>(3) + sum_squares<__nv_bfloat16>(70001);
    f += scale<float>() + scale<__nv_bfloat16>();
    std::printf("%s\n", f ? "EMULATION FAILED" : "emulation: all ok");
    return f;
}
