// Float64 references of the training kernels of cuda/src/train.cu, shared by the harness (dev/train.cu) and the CPU
// emulation (dev/emu/train.cpp). Plain C++, no CUDA. The math is Backend.java's contract; finite_difference() lets a
// test check the analytic gradients against the forward functions themselves.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <vector>

namespace ref {

inline double activation(double x, int act) {
    switch (act) {
        case 1: return 0.5 * x * std::erfc(-x / std::sqrt(2.0));
        case 2: return x / (1.0 + std::exp(-1.702 * x));
        case 3: return 0.5 * x * (1.0 + std::tanh(std::sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x)));
        default: return x;
    }
}

inline double activation_grad(double x, int act) {
    switch (act) {
        case 1: return 0.5 * std::erfc(-x / std::sqrt(2.0)) + x * std::exp(-0.5 * x * x) / std::sqrt(2.0 * M_PI);
        case 2: {
            const double s = 1.0 / (1.0 + std::exp(-1.702 * x));
            return s + 1.702 * x * s * (1.0 - s);
        }
        case 3: {
            const double c = std::sqrt(2.0 / M_PI), t = std::tanh(c * (x + 0.044715 * x * x * x));
            return 0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * c * (1.0 + 3.0 * 0.044715 * x * x);
        }
        default: return 1.0;
    }
}

// Central difference of f at x (step h): a check of the analytic gradients, not used by the kernels' checks.
inline double finite_difference(const std::function<double(double)>& f, double x, double h = 1e-5) {
    return (f(x + h) - f(x - h)) / (2 * h);
}

// LayerNorm forward of one row (biased variance), the function layernorm_backward differentiates.
inline std::vector<double> layernorm_row(const std::vector<double>& x, const float* gamma, double eps) {
    const size_t n = x.size();
    double mean = 0, var = 0;
    for (double v : x) mean += v;
    mean /= double(n);
    for (double v : x) var += (v - mean) * (v - mean);
    const double rstd = 1.0 / std::sqrt(var / double(n) + eps);
    std::vector<double> y(n);
    for (size_t j = 0; j < n; ++j) y[j] = (x[j] - mean) * rstd * gamma[j];
    return y;
}

struct LayerNormGrads {
    std::vector<double> dx, dgamma, dbeta;
};

// dx = rstd (g - mean(g) - xh mean(g xh)), g = dy gamma; dgamma = sum_rows dy xh; dbeta = sum_rows dy.
inline LayerNormGrads layernorm_backward(const std::vector<float>& x, const std::vector<float>& gamma,
                                         const std::vector<float>& dy, int64_t rows, int64_t dim, double eps) {
    LayerNormGrads r{std::vector<double>(rows * dim), std::vector<double>(dim, 0.0), std::vector<double>(dim, 0.0)};
    for (int64_t i = 0; i < rows; ++i) {
        const float* xr = &x[i * dim];
        const float* dr = &dy[i * dim];
        double mean = 0, var = 0;
        for (int64_t j = 0; j < dim; ++j) mean += xr[j];
        mean /= double(dim);
        for (int64_t j = 0; j < dim; ++j) var += (xr[j] - mean) * (xr[j] - mean);
        const double rstd = 1.0 / std::sqrt(var / double(dim) + eps);
        double mg = 0, mgx = 0;
        for (int64_t j = 0; j < dim; ++j) {
            const double g = double(dr[j]) * gamma[j], xh = (xr[j] - mean) * rstd;
            mg += g;
            mgx += g * xh;
        }
        mg /= double(dim);
        mgx /= double(dim);
        for (int64_t j = 0; j < dim; ++j) {
            const double xh = (xr[j] - mean) * rstd;
            r.dx[i * dim + j] = rstd * (double(dr[j]) * gamma[j] - mg - xh * mgx);
            r.dgamma[j] += double(dr[j]) * xh;
            r.dbeta[j] += dr[j];
        }
    }
    return r;
}

// n = max(||x||, eps), u = x / n: dx = (dy - <dy, u> u) / n when ||x|| > eps, else dy / eps.
inline std::vector<double> l2_normalize_backward(const std::vector<float>& x, const std::vector<float>& dy, int64_t rows,
                                                 int64_t dim, double eps) {
    std::vector<double> dx(rows * dim);
    for (int64_t i = 0; i < rows; ++i) {
        double ss = 0, dot = 0;
        for (int64_t j = 0; j < dim; ++j) ss += double(x[i * dim + j]) * x[i * dim + j];
        const double norm = std::sqrt(ss);
        if (norm > eps) {
            for (int64_t j = 0; j < dim; ++j) dot += double(dy[i * dim + j]) * x[i * dim + j] / norm;
            for (int64_t j = 0; j < dim; ++j) dx[i * dim + j] = (dy[i * dim + j] - dot * x[i * dim + j] / norm) / norm;
        } else {
            for (int64_t j = 0; j < dim; ++j) dx[i * dim + j] = dy[i * dim + j] / eps;
        }
    }
    return dx;
}

// The dropout mask, written from the contract (Backend.dropout): splitmix64's finalizer of seed + (i + 1) * golden.
inline bool dropout_keep(uint64_t seed, int64_t i, float p) {
    uint64_t z = seed + (uint64_t(i) + 1) * 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    const double t = std::min(std::floor(double(p) * 4294967296.0), 4294967295.0);
    return double(uint32_t(z >> 32)) >= t;
}

// One torch.optim.AdamW step in double on copies of the state; returns the new (param, m, v).
struct AdamState {
    std::vector<double> p, m, v;
};

inline AdamState adamw(const std::vector<float>& p, const std::vector<float>& g, const std::vector<float>& m,
                       const std::vector<float>& v, double lr, double b1, double b2, double eps, double wd, int64_t step) {
    AdamState s{std::vector<double>(p.size()), std::vector<double>(p.size()), std::vector<double>(p.size())};
    const double bc1 = 1 - std::pow(b1, double(step)), bc2 = 1 - std::pow(b2, double(step));
    for (size_t i = 0; i < p.size(); ++i) {
        s.m[i] = b1 * m[i] + (1 - b1) * g[i];
        s.v[i] = b2 * v[i] + (1 - b2) * double(g[i]) * g[i];
        s.p[i] = p[i] * (1 - lr * wd) - lr * (s.m[i] / bc1) / (std::sqrt(s.v[i] / bc2) + eps);
    }
    return s;
}

}  // namespace ref
