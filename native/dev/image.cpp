// Harness for the image kernels (image.cpp): Pillow's own outputs from spec 02 §4.6 (exact), a float64 reference of
// the same bicubic (within 1 level: Pillow quantizes weights and rounds between passes), argument validation, then
// timings of CLIP's 512x384 -> 224 preprocessing.
#include "vlm4j/kernels.h"
#include "harness.h"

#include <omp.h>

#include <cmath>
#include <cstdio>
#include <functional>
#include <stdexcept>
#include <vector>

namespace {

using harness::best_ms;

int expect(const char* what, const std::vector<uint8_t>& got, const std::vector<int>& want) {
    int bad = 0;
    for (size_t i = 0; i < want.size(); ++i) bad += got[i] != want[i];
    std::printf("  %-44s %s\n", what, bad ? "FAIL" : "exact ok");
    return bad ? 1 : 0;
}

std::vector<uint8_t> resize(const std::vector<uint8_t>& in, int h, int w, int c, int oh, int ow) {
    std::vector<uint8_t> out(static_cast<size_t>(oh) * ow * c);
    vlm_resize_u8(in.data(), h, w, c, out.data(), oh, ow, 3, 0);
    return out;
}

double cubic(double x) {
    x = std::fabs(x);
    if (x < 1) return (1.5 * x - 2.5) * x * x + 1;
    if (x < 2) return ((-0.5 * x + 2.5) * x - 4) * x + 2;
    return 0;
}

// One separable pass in float64 (no intermediate rounding), Pillow's window and renormalization.
std::vector<double> ref_pass(const std::vector<double>& in, int n_in, int n_out, int count, int stride_in, int stride_el) {
    std::vector<double> out(static_cast<size_t>(n_out) * count);
    const double scale = double(n_in) / n_out, fs = std::max(1.0, scale), support = 2 * fs;
    for (int o = 0; o < n_out; ++o) {
        const double center = (o + 0.5) * scale;
        const int lo = std::max(0, int(center - support + 0.5)), hi = std::min(n_in, int(center + support + 0.5));
        double sum = 0;
        for (int x = lo; x < hi; ++x) sum += cubic((x - center + 0.5) / fs);
        for (int e = 0; e < count; ++e) {
            double acc = 0;
            for (int x = lo; x < hi; ++x) acc += in[size_t(x) * stride_in + size_t(e) * stride_el] * cubic((x - center + 0.5) / fs) / sum;
            out[size_t(o) * count + e] = acc;
        }
    }
    return out;
}

int check_vs_float64() {
    int worst = 0, cases = 0;
    const int shapes[][4] = {{37, 50, 224, 302}, {384, 512, 224, 298}, {7, 7, 224, 224}, {1, 1000, 3, 224}, {301, 225, 299, 224}, {13, 9, 5, 4}};
    for (const auto& s : shapes) {
        const int h = s[0], w = s[1], oh = s[2], ow = s[3], c = 3;
        auto img = harness::rand_vec(size_t(h) * w * c, 0.f, 255.f);
        std::vector<uint8_t> in(img.size());
        for (size_t i = 0; i < in.size(); ++i) in[i] = uint8_t(img[i]);
        auto got = resize(in, h, w, c, oh, ow);
        std::vector<double> d(in.begin(), in.end());
                std::vector<double> mid(size_t(h) * ow * c);
        for (int y = 0; y < h; ++y) {
            std::vector<double> row(d.begin() + size_t(y) * w * c, d.begin() + size_t(y + 1) * w * c);
            auto r = ref_pass(row, w, ow, c, c, 1);
            for (auto& v : r) v = std::round(std::min(255.0, std::max(0.0, v)));  // the 8-bit intermediate, as Pillow
            std::copy(r.begin(), r.end(), mid.begin() + size_t(y) * ow * c);
        }
        auto ref = ref_pass(mid, h, oh, ow * c, ow * c, 1);
        for (size_t i = 0; i < ref.size(); ++i) {
            const int r = int(std::lround(std::min(255.0, std::max(0.0, ref[i]))));
            worst = std::max(worst, std::abs(r - int(got[i])));
        }
        ++cases;
    }
    // Pillow quantizes the weights to 22 bits: a level of difference where a value sits at a rounding boundary.
    std::printf("  %d resize cases vs float64 bicubic: max |diff| = %d level(s) %s\n", cases, worst, worst <= 1 ? "ok" : "FAIL");
    return worst <= 1 ? 0 : 1;
}

int check_errors() {
    std::vector<uint8_t> b(64);
    float m[3] = {0, 0, 0}, s[3] = {1, 1, 0}, o[48];
    int bad = 0;
    auto must_throw = [&](const std::function<void()>& f) {
        try {
            f();
            ++bad;
        } catch (const std::invalid_argument&) {
        }
    };
    must_throw([&] { vlm_resize_u8(nullptr, 2, 2, 3, b.data(), 1, 1, 3, 0); });
    must_throw([&] { vlm_resize_u8(b.data(), 0, 2, 3, b.data(), 1, 1, 3, 0); });
    must_throw([&] { vlm_resize_u8(b.data(), 2, 2, 5, b.data(), 1, 1, 3, 0); });
    must_throw([&] { vlm_resize_u8(b.data(), 2, 2, 3, b.data(), 1, 1, 2, 0); });
    must_throw([&] { vlm_resize_u8(b.data(), 2, 2, 3, b.data(), 1, 1, 3, 1); });
    must_throw([&] { vlm_resize_u8(b.data(), int64_t{1} << 40, 2, 3, b.data(), 1, 1, 3, 0); });
    must_throw([&] { vlm_crop_normalize_u8(b.data(), 4, 4, 3, 0, 0, 4, 4, 1.0, m, s, o, nullptr); });
    must_throw([&] { vlm_crop_normalize_u8(b.data(), 4, 4, 3, 0, 0, 0, 4, 1.0, m, m, o, nullptr); });
    std::printf("  argument validation: 8 bad calls, %d accepted %s\n", bad, bad ? "FAIL" : "ok");
    return bad;
}

int run_checks() {
    std::printf("== checks, %d threads\n", omp_get_max_threads());
    int f = 0;
    // spec 02 §4.6, Pillow 9.4.0 outputs on mode "L" images
    std::vector<uint8_t> a = {0, 37, 74, 111, 148, 185, 222, 3, 91, 138, 185, 232, 23, 70, 117, 94, 182, 239, 40, 97, 84, 141, 198, 185,
                              17, 84, 151, 148, 215, 212, 23, 20, 108, 185, 192, 13, 20, 97, 104, 111, 199, 30, 47, 64, 151, 168, 185, 202};
    f += expect("Pillow 8x6 -> 4x3", resize(a, 6, 8, 1, 3, 4), {85, 133, 120, 124, 134, 127, 135, 109, 122, 85, 114, 138});
    f += expect("Pillow 3x2 -> 5x4", resize({0, 128, 255, 255, 64, 0}, 2, 3, 1, 4, 5),
                {0, 26, 134, 234, 255, 53, 70, 115, 174, 202, 202, 160, 77, 56, 53, 255, 204, 58, 0, 0});
    f += expect("Pillow row 10 -> 4", resize({10, 20, 30, 40, 50, 60, 70, 80, 90, 100}, 1, 10, 1, 1, 4), {18, 42, 68, 92});
    f += check_vs_float64();
    f += check_errors();
    return f;
}

void bench(int reps) {
    std::printf("== timings, 1 thread per image, %d threads over the batch (best of %d)\n", omp_get_max_threads(), reps);
    const int h = 384, w = 512, c = 3, batch = 32;
    auto img = harness::rand_vec(size_t(h) * w * c, 0.f, 255.f);
    std::vector<uint8_t> in(img.size());
    for (size_t i = 0; i < in.size(); ++i) in[i] = uint8_t(img[i]);
    const float mean[3] = {0.48145466f, 0.4578275f, 0.40821073f}, stdv[3] = {0.26862954f, 0.26130258f, 0.27577711f};
    std::vector<uint8_t> mid(size_t(batch) * 224 * 298 * 3);
    std::vector<float> out(size_t(batch) * 3 * 224 * 224);
    auto one = [&](int i) {
        uint8_t* m = mid.data() + size_t(i) * 224 * 298 * 3;
        vlm_resize_u8(in.data(), h, w, c, m, 224, 298, 3, 0);
        vlm_crop_normalize_u8(m, 224, 298, 3, 0, 37, 224, 224, 1.0 / 255, mean, stdv, out.data() + size_t(i) * 3 * 224 * 224, nullptr);
    };
    const double t1 = best_ms([&] { one(0); }, reps);
    const double tb = best_ms([&] {
#pragma omp parallel for schedule(dynamic)
        for (int i = 0; i < batch; ++i) one(i);
    }, reps);
    std::printf("  512x384 -> 298x224 bicubic + crop 224 + normalize: %.3f ms/image (1 thread), batch %d: %.1f images/s\n",
                t1, batch, batch / (tb * 1e-3));
}

}  // namespace

int main(int argc, char** argv) { return harness::main(argc, argv, 10, run_checks, bench, {"VLM4J_SIMD=scalar"}); }
