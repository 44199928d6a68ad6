// Image preprocessing kernels: Pillow-exact resampling of 8-bit images and the fused crop + rescale + normalize
// (spec 02). The resampler follows Pillow's libImaging/Resample.c arithmetic step by step (double-precision
// coefficients, normalized, quantized to 22 bits with round-half-away-from-zero, integer accumulation with a
// 2^21 rounding offset, clamp), which is what makes CLIP's preprocessing reproducible to the last bit.
#include "vlm4j/kernels.h"
#include "common.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace {

constexpr int precision_bits = 32 - 8 - 2;

double bicubic_filter(double x) {  // Pillow's expression forms, a = -0.5
    constexpr double a = -0.5;
    if (x < 0.0) x = -x;
    if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
    if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
    return 0.0;
}

double bilinear_filter(double x) {  // Pillow's triangle filter
    if (x < 0.0) x = -x;
    if (x < 1.0) return 1.0 - x;
    return 0.0;
}

// A Pillow resampling filter: its function and support (Resample.c's struct filter).
struct Filter {
    double (*fn)(double);
    double support;
};

constexpr Filter kBilinear{bilinear_filter, 1.0};
constexpr Filter kBicubic{bicubic_filter, 2.0};

struct Coeffs {
    int ksize = 0;
    std::vector<int> bounds;  // [out, 2]: xmin, count
    std::vector<int> k;       // [out, ksize] fixed point
};

// precompute_coeffs + normalize_coeffs_8bpc of Resample.c for in_size -> out_size over the full box.
Coeffs coeffs(int64_t in_size, int64_t out_size, const Filter& filter) {
    const double scale = static_cast<double>(in_size) / static_cast<double>(out_size);
    const double filterscale = std::max(scale, 1.0);
    const double support = filter.support * filterscale;
    Coeffs c;
    c.ksize = static_cast<int>(std::ceil(support)) * 2 + 1;
    c.bounds.resize(2 * out_size);
    c.k.assign(static_cast<size_t>(out_size) * c.ksize, 0);
    std::vector<double> w(c.ksize);
    for (int64_t xx = 0; xx < out_size; ++xx) {
        const double center = (xx + 0.5) * scale;
        const double ss = 1.0 / filterscale;
        int64_t xmin = static_cast<int64_t>(center - support + 0.5);
        if (xmin < 0) xmin = 0;
        int64_t xmax = static_cast<int64_t>(center + support + 0.5);
        if (xmax > in_size) xmax = in_size;
        xmax -= xmin;
        double ww = 0.0;
        for (int64_t x = 0; x < xmax; ++x) {
            w[x] = filter.fn((x + xmin - center + 0.5) * ss);
            ww += w[x];
        }
        for (int64_t x = 0; x < xmax; ++x) {
            const double v = ww != 0.0 ? w[x] / ww : w[x];
            c.k[xx * c.ksize + x] = v < 0 ? static_cast<int>(-0.5 + v * (1 << precision_bits))
                                          : static_cast<int>(0.5 + v * (1 << precision_bits));
        }
        c.bounds[2 * xx] = static_cast<int>(xmin);
        c.bounds[2 * xx + 1] = static_cast<int>(xmax);
    }
    return c;
}

inline uint8_t clip8(int v) {
    v >>= precision_bits;
    return static_cast<uint8_t>(v < 0 ? 0 : v > 255 ? 255 : v);
}

// One pass along x (horizontal == true: rows of length in_w -> out_w) or y, over interleaved channels.
void pass_h(const uint8_t* src, int64_t h, int64_t w, int64_t c, uint8_t* dst, int64_t out_w, const Filter& f) {
    const Coeffs k = coeffs(w, out_w, f);
    for (int64_t y = 0; y < h; ++y) {
        const uint8_t* row = src + y * w * c;
        uint8_t* out = dst + y * out_w * c;
        for (int64_t xx = 0; xx < out_w; ++xx) {
            const int xmin = k.bounds[2 * xx], n = k.bounds[2 * xx + 1];
            const int* kk = &k.k[xx * k.ksize];
            for (int64_t ch = 0; ch < c; ++ch) {
                int ss = 1 << (precision_bits - 1);
                for (int x = 0; x < n; ++x) ss += row[(xmin + x) * c + ch] * kk[x];
                out[xx * c + ch] = clip8(ss);
            }
        }
    }
}

void pass_v(const uint8_t* src, int64_t h, int64_t w, int64_t c, uint8_t* dst, int64_t out_h, const Filter& f) {
    const Coeffs k = coeffs(h, out_h, f);
    const int64_t stride = w * c;
    for (int64_t yy = 0; yy < out_h; ++yy) {
        const int ymin = k.bounds[2 * yy], n = k.bounds[2 * yy + 1];
        const int* kk = &k.k[yy * k.ksize];
        uint8_t* out = dst + yy * stride;
        for (int64_t i = 0; i < stride; ++i) {
            int ss = 1 << (precision_bits - 1);
            for (int y = 0; y < n; ++y) ss += src[(ymin + y) * stride + i] * kk[y];
            out[i] = clip8(ss);
        }
    }
}

// Pillow's affine NEAREST for a plain resize: source index = (int)((o + 0.5) * in / out).
void nearest(const uint8_t* src, int64_t h, int64_t w, int64_t c, uint8_t* dst, int64_t out_h, int64_t out_w) {
    const double sx = static_cast<double>(w) / out_w, sy = static_cast<double>(h) / out_h;
    for (int64_t y = 0; y < out_h; ++y) {
        const int64_t yi = std::min<int64_t>(h - 1, static_cast<int64_t>((y + 0.5) * sy));
        for (int64_t x = 0; x < out_w; ++x) {
            const int64_t xi = std::min<int64_t>(w - 1, static_cast<int64_t>((x + 0.5) * sx));
            for (int64_t ch = 0; ch < c; ++ch) dst[(y * out_w + x) * c + ch] = src[(yi * w + xi) * c + ch];
        }
    }
}

inline uint8_t muldiv255(unsigned a, unsigned b) {  // Pillow's MULDIV255
    const unsigned t = a * b + 128;
    return static_cast<uint8_t>(((t >> 8) + t) >> 8);
}

}  // namespace

void vlm_resize_u8(const uint8_t* src, int64_t h, int64_t w, int64_t c, uint8_t* dst, int64_t out_h, int64_t out_w,
                   int filter, int premultiplied_alpha) {
    static const char* fn = "vlm_resize_u8";
    vlm::check_ptr(fn, src, "src");
    vlm::check_ptr(fn, dst, "dst");
    vlm::check_pos(fn, h, "h");
    vlm::check_pos(fn, w, "w");
    vlm::check_pos(fn, out_h, "out_h");
    vlm::check_pos(fn, out_w, "out_w");
    if (c < 1 || c > 4) vlm::fail(fn, "channels must be 1..4 (got ", c, ")");
    if (filter != 0 && filter != 2 && filter != 3) {
        vlm::fail(fn, "filter must be 0 (nearest), 2 (bilinear) or 3 (bicubic), got ", filter);
    }
    if (premultiplied_alpha && c != 4) vlm::fail(fn, "premultiplied alpha needs 4 channels (got ", c, ")");
    constexpr int64_t max_side = int64_t{1} << 20;  // keeps every int index and the 2-pass buffers in range
    if (h > max_side || w > max_side || out_h > max_side || out_w > max_side) {
        vlm::fail(fn, "image side over ", max_side, " pixels (", w, "x", h, " -> ", out_w, "x", out_h, ")");
    }
    const int64_t in_n = vlm::mul_checked(fn, vlm::mul_checked(fn, h, w), c);
    const int64_t out_n = vlm::mul_checked(fn, vlm::mul_checked(fn, out_h, out_w), c);
    if (h == out_h && w == out_w) {  // Pillow returns a copy
        std::copy(src, src + in_n, dst);
        return;
    }
    std::vector<uint8_t> pre;
    const uint8_t* in = src;
    if (premultiplied_alpha && filter != 0) {  // RGBA -> RGBa
        pre.resize(in_n);
        for (int64_t p = 0; p < h * w; ++p) {
            const uint8_t a = src[4 * p + 3];
            for (int ch = 0; ch < 3; ++ch) pre[4 * p + ch] = muldiv255(src[4 * p + ch], a);
            pre[4 * p + 3] = a;
        }
        in = pre.data();
    }
    if (filter == 0) {
        nearest(in, h, w, c, dst, out_h, out_w);
        return;
    }
    const Filter& f = filter == 2 ? kBilinear : kBicubic;
    if (w != out_w && h != out_h) {
        std::vector<uint8_t> mid(vlm::mul_checked(fn, h * out_w, c));
        pass_h(in, h, w, c, mid.data(), out_w, f);
        pass_v(mid.data(), h, out_w, c, dst, out_h, f);
    } else if (w != out_w) {
        pass_h(in, h, w, c, dst, out_w, f);
    } else {
        pass_v(in, h, w, c, dst, out_h, f);
    }
    if (premultiplied_alpha) {  // RGBa -> RGBA (Pillow's rgba2rgbA)
        for (int64_t p = 0; p < out_n / 4; ++p) {
            const unsigned a = dst[4 * p + 3];
            if (a == 255 || a == 0) continue;
            for (int ch = 0; ch < 3; ++ch) dst[4 * p + ch] = static_cast<uint8_t>(std::min(255u, 255u * dst[4 * p + ch] / a));
        }
    }
}

void vlm_crop_normalize_u8(const uint8_t* src, int64_t h, int64_t w, int64_t c, int64_t top, int64_t left,
                           int64_t crop_h, int64_t crop_w, double rescale, const float* mean, const float* std,
                           float* out, uint8_t* crop_u8) {
    static const char* fn = "vlm_crop_normalize_u8";
    vlm::check_ptr(fn, src, "src");
    vlm::check_ptr(fn, mean, "mean");
    vlm::check_ptr(fn, std, "std");
    vlm::check_ptr(fn, out, "out");
    vlm::check_pos(fn, h, "h");
    vlm::check_pos(fn, w, "w");
    vlm::check_pos(fn, crop_h, "crop_h");
    vlm::check_pos(fn, crop_w, "crop_w");
    if (c < 1 || c > 4) vlm::fail(fn, "channels must be 1..4 (got ", c, ")");
    vlm::mul_checked(fn, vlm::mul_checked(fn, crop_h, crop_w), 3);
    for (int ch = 0; ch < 3; ++ch) {
        if (!(std[ch] != 0.0f) || !std::isfinite(std[ch]) || !std::isfinite(mean[ch])) {
            vlm::fail(fn, "mean/std of channel ", ch, " must be finite with std != 0");
        }
    }
    const int64_t plane = crop_h * crop_w;
    for (int64_t y = 0; y < crop_h; ++y) {
        const int64_t sy = top + y;
        for (int64_t x = 0; x < crop_w; ++x) {
            const int64_t sx = left + x;
            const bool inside = sy >= 0 && sy < h && sx >= 0 && sx < w;
            for (int ch = 0; ch < 3; ++ch) {
                const uint8_t v = inside ? src[(sy * w + sx) * c + (c >= 3 ? ch : 0)] : 0;
                if (crop_u8) crop_u8[(y * crop_w + x) * 3 + ch] = v;
                const float scaled = static_cast<float>(static_cast<double>(v) * rescale);
                out[ch * plane + y * crop_w + x] = (scaled - mean[ch]) / std[ch];
            }
        }
    }
}
