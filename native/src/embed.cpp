// Embedding-side kernels: the patch-embedding convolution, row gathers (token embeddings) and EOS pooling.
#include "vlm4j/kernels.h"
#include "common.h"

#include <algorithm>
#include <cstring>
#include <sstream>
#include <stdexcept>
#include <vector>

namespace {

using vlm::fail;

// im2col rows per GEMM call: bounds the temporary (16 MiB at most for ViT-B/16's 768-float patches, i.e. more than
// a whole batch of 8) while keeping each GEMM large enough to use every thread.
constexpr int64_t im2col_max_floats = int64_t{1} << 22;

}  // namespace

// A stride-p, kernel-p convolution is a GEMM once the patches are cut out: each patch flattened in (c, ky, kx)
// order is one row of A [tokens, C*p*p], the weight [D, C, p, p] is B^T, and rows come out in token order
// (b, gy, gx), which is exactly the output layout [B, Gh*Gw, D].
void vlm_patch_embed_f32(const float* pixels, int64_t batch, int64_t channels, int64_t height, int64_t width,
                         int64_t patch, const float* weight, const float* bias, int64_t dim, float* out) {
    static const char* fn = "vlm_patch_embed_f32";
    vlm::check_pos(fn, batch, "batch");
    vlm::check_pos(fn, channels, "channels");
    vlm::check_pos(fn, height, "height");
    vlm::check_pos(fn, width, "width");
    vlm::check_pos(fn, patch, "patch");
    vlm::check_pos(fn, dim, "dim");
    if (height < patch || width < patch)
        fail(fn, "image ", height, "x", width, " is smaller than the patch ", patch);
    vlm::check_ptr(fn, pixels, "pixels");
    vlm::check_ptr(fn, weight, "weight");
    vlm::check_ptr(fn, out, "out");
    const int64_t gh = height / patch, gw = width / patch, tokens = gh * gw;
    const int64_t plane = vlm::mul_checked(fn, height, width);
    const int64_t image = vlm::mul_checked(fn, channels, plane);
    vlm::mul_checked(fn, vlm::mul_checked(fn, batch, image), static_cast<int64_t>(sizeof(float)));
    const int64_t kdim = vlm::mul_checked(fn, channels, vlm::mul_checked(fn, patch, patch));
    vlm::mul_checked(fn, vlm::mul_checked(fn, dim, kdim), static_cast<int64_t>(sizeof(float)));
    const int64_t total = vlm::mul_checked(fn, batch, tokens);
    vlm::mul_checked(fn, vlm::mul_checked(fn, total, dim), static_cast<int64_t>(sizeof(float)));

    const int64_t rows_per_call = std::max<int64_t>(1, std::min(total, im2col_max_floats / kdim));
    std::vector<float> cols(static_cast<size_t>(rows_per_call * kdim));
    for (int64_t r0 = 0; r0 < total; r0 += rows_per_call) {
        const int64_t nrows = std::min(rows_per_call, total - r0);
#pragma omp parallel for schedule(static) if (nrows * kdim >= (1 << 16))
        for (int64_t r = 0; r < nrows; ++r) {
            const int64_t t = r0 + r, b = t / tokens, gy = (t % tokens) / gw, gx = t % gw;
            const float* src = pixels + b * image + gy * patch * width + gx * patch;
            float* dst = cols.data() + r * kdim;
            for (int64_t c = 0; c < channels; ++c)
                for (int64_t ky = 0; ky < patch; ++ky, dst += patch)
                    std::memcpy(dst, src + c * plane + ky * width, static_cast<size_t>(patch) * sizeof(float));
        }
        vlm_gemm_f32(0, 1, 1, nrows, dim, kdim, 1.0f, cols.data(), kdim, 0, weight, kdim, 0, 0.0f, out + r0 * dim, dim,
                     0, bias, 0, nullptr, 0, 0);
    }
}

void vlm_gather_rows_f32(const float* table, int64_t rows, int64_t dim, const int32_t* ids, int64_t n, float* out) {
    static const char* fn = "vlm_gather_rows_f32";
    vlm::check_pos(fn, rows, "rows");
    vlm::check_pos(fn, dim, "dim");
    vlm::check_nonneg(fn, n, "n");
    vlm::mul_checked(fn, vlm::mul_checked(fn, rows, dim), static_cast<int64_t>(sizeof(float)));
    vlm::mul_checked(fn, vlm::mul_checked(fn, n, dim), static_cast<int64_t>(sizeof(float)));
    if (n == 0) return;
    vlm::check_ptr(fn, table, "table");
    vlm::check_ptr(fn, ids, "ids");
    vlm::check_ptr(fn, out, "out");
    // All ids are checked before anything is written, so a bad id leaves out untouched.
    for (int64_t i = 0; i < n; ++i) {
        if (ids[i] < 0 || ids[i] >= rows) {
            std::ostringstream os;
            os << fn << ": ids[" << i << "] = " << ids[i] << " is out of range [0, " << rows << ")";
            throw std::out_of_range(os.str());
        }
    }
#pragma omp parallel for schedule(static) if (n * dim >= (1 << 16))
    for (int64_t i = 0; i < n; ++i)
        std::memcpy(out + i * dim, table + static_cast<int64_t>(ids[i]) * dim, static_cast<size_t>(dim) * sizeof(float));
}

void vlm_eos_pool_f32(const float* hidden, const int32_t* ids, int64_t batch, int64_t len, int64_t dim, int64_t eos_id,
                      float* out, int64_t* index_out) {
    static const char* fn = "vlm_eos_pool_f32";
    vlm::check_pos(fn, batch, "batch");
    vlm::check_pos(fn, len, "len");
    vlm::check_pos(fn, dim, "dim");
    vlm::mul_checked(fn, vlm::mul_checked(fn, vlm::mul_checked(fn, batch, len), dim), static_cast<int64_t>(sizeof(float)));
    vlm::check_ptr(fn, hidden, "hidden");
    vlm::check_ptr(fn, ids, "ids");
    vlm::check_ptr(fn, out, "out");
    std::vector<int64_t> pos(static_cast<size_t>(batch));
    for (int64_t b = 0; b < batch; ++b) {
        const int32_t* row = ids + b * len;
        if (eos_id < 0) {  // legacy CLIP pooling: the EOT token has the largest id; the first maximum wins
            pos[b] = std::max_element(row, row + len) - row;
        } else {
            const int32_t* hit = std::find_if(row, row + len, [eos_id](int32_t id) { return id == eos_id; });
            if (hit == row + len) fail(fn, "row ", b, " has no token equal to eos_id ", eos_id);
            pos[b] = hit - row;
        }
    }
    for (int64_t b = 0; b < batch; ++b) {
        std::memcpy(out + b * dim, hidden + (b * len + pos[b]) * dim, static_cast<size_t>(dim) * sizeof(float));
        if (index_out) index_out[b] = pos[b];
    }
}
