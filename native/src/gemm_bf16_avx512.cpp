// BF16 GEMM for the CPU: C[M, N] = act(A[M, K] · W[N, K]ᵀ + bias) + R with A and C in F32 and the weights W stored as
// BF16 (loaded once from F32/BF16 files), computed with AVX512_BF16's vdpbf16ps: each instruction multiplies 16
// pairs of bf16 and accumulates into 16 fp32 lanes — twice the multiply-adds of an fp32 FMA. A is rounded to bf16
// (round to nearest even) as it is packed; accumulation stays fp32, so the only error is the bf16 rounding of the
// operands (the product of two bf16 is exact in fp32).
//
// Structure: W is reorganized once per call into 32-column panels of k-pairs ([panel][K/2][32][2] bf16; ~0.3% of
// the call's time at ViT-B/16 shapes), then tasks of 48 rows x 512 columns each pack their rows of A into bf16
// (row-major, K padded to even) and run a 12 x 32 micro-kernel: 24 zmm accumulators, per k-pair two 64-byte loads of
// W and one 32-bit broadcast of A per row. The epilogue is the fp32 GEMM's (gemm_internal.h).
// Where the CPU has AMX (and Linux grants the tile state), the same packed operands go through tdpbf16ps instead:
// 32 x 32 output blocks from two 16-row A tiles and two 16-column B tiles per 32-deep k step (VLM4J_NO_AMX=1 turns
// it off, for comparison). Entered only when the CPU has avx512_bf16 (vlm_has_bf16_gemm); compiled with
// -mavx512bf16 -mamx-tile -mamx-bf16 in this file alone.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include "gemm_internal.h"
#include "common.h"
#include "vlm4j/kernels.h"

#include <omp.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>
#include <vector>

namespace {

using vlm::gemm_detail::Avx512Ops;
using vlm::gemm_detail::Epi;
using vlm::gemm_detail::write_back;

constexpr int MR = 12, NR = 32, MB = 96, NB = 512;  // MB: a multiple of 12 (AVX-512 tiles) and of 32 (AMX tiles)

inline uint16_t to_bf16(float f) {  // round to nearest even; NaN stays NaN
    uint32_t u;
    std::memcpy(&u, &f, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 0x40);
    u += 0x7fffu + ((u >> 16) & 1u);
    return static_cast<uint16_t>(u >> 16);
}

// Rows [i0, i0 + rows) of A as bf16, row r at dst + r * k2 * 2 (k2 pairs, zero past k); rows up to MB zeroed.
void pack_a(const float* a, int64_t lda, int64_t i0, int rows, int64_t k, int64_t k2, uint16_t* dst) {
    for (int r = 0; r < MB; ++r) {
        uint16_t* d = dst + r * k2 * 2;
        if (r >= rows) {
            std::memset(d, 0, size_t(k2) * 4);
            continue;
        }
        const float* s = a + (i0 + r) * lda;
        int64_t p = 0;
        for (; p + 16 <= k; p += 16) {
            const __m256bh v = _mm512_cvtneps_pbh(_mm512_loadu_ps(s + p));
            _mm256_storeu_si256(reinterpret_cast<__m256i*>(d + p), (__m256i)v);
        }
        for (; p < k; ++p) d[p] = to_bf16(s[p]);
        std::memset(d + k, 0, size_t(2 * k2 - k) * 2);  // the padding to whole 16-pair steps
    }
}

// 12 x 32 tile: acc += A rows (bf16 pairs, row stride k2 words) · panel (k2 x 32 pairs).
void micro_kernel(int64_t k2, const uint32_t* ap, int64_t lda2, const uint16_t* bp, float* c, int64_t ldc, int mv, int nv,
                  const Epi& ep) {
    __m512 acc[MR][2];
    for (int i = 0; i < MR; ++i) acc[i][0] = acc[i][1] = _mm512_setzero_ps();
    for (int64_t p = 0; p < k2; ++p) {
        const __m512bh b0 = (__m512bh)_mm512_loadu_si512(bp);
        const __m512bh b1 = (__m512bh)_mm512_loadu_si512(bp + 32);
#pragma GCC unroll 12
        for (int i = 0; i < MR; ++i) {
            const __m512bh av = (__m512bh)_mm512_set1_epi32(static_cast<int>(ap[i * lda2 + p]));
            acc[i][0] = _mm512_dpbf16_ps(acc[i][0], av, b0);
            acc[i][1] = _mm512_dpbf16_ps(acc[i][1], av, b1);
        }
        bp += 64;
    }
    for (int i = 0; i < mv; ++i) {
        for (int j = 0; j < 2; ++j) {
            const int n = nv - j * 16;
            if (n <= 0) break;
            write_back<Avx512Ops>(acc[i][j], c + i * ldc + j * 16, ep.bias ? ep.bias + j * 16 : nullptr,
                                  ep.r ? ep.r + i * ep.ldr + j * 16 : nullptr, n < 16 ? n : 16, ep);
        }
    }
}

// ---- AMX (Sapphire Rapids and later): tdpbf16ps on 16 x 16 fp32 tiles, 32 x 32 outputs per step ----

// Linux hands out the AMX tile state only on request (arch_prctl ARCH_REQ_XCOMP_PERM for XTILEDATA), once per process.
bool amx_permitted() {
    static const bool ok = [] {
        if (!__builtin_cpu_supports("amx-bf16") || !__builtin_cpu_supports("amx-tile")) return false;
        constexpr long arch_req_xcomp_perm = 0x1023, xfeature_xtiledata = 18;
        return syscall(SYS_arch_prctl, arch_req_xcomp_perm, xfeature_xtiledata) == 0;
    }();
    return ok;
}

struct alignas(64) TileConfig {
    uint8_t palette = 1, start_row = 0;
    uint8_t reserved[14] = {};
    uint16_t colsb[16] = {};
    uint8_t rows[16] = {};
};

// Tiles 0-3: C (16 x 16 fp32), 4-5: A (16 rows x 32 bf16), 6-7: B (16 k-pairs x 16 columns x 2 bf16): all 16 x 64 B.
void configure_tiles() {
    TileConfig cfg;
    for (int t = 0; t < 8; ++t) {
        cfg.rows[t] = 16;
        cfg.colsb[t] = 64;
    }
    _tile_loadconfig(&cfg);
}

// A 32 x 32 block: acc = A rows (bf16, row stride a_stride bytes, k2p pairs, a multiple of 16) x panel (k2p x 32 pairs,
// 128 B per pair row), then the epilogue from an fp32 scratch tile into C (mv x nv valid).
void amx_block(int64_t k2p, const uint16_t* a, int64_t a_stride, const uint16_t* bp, float* c, int64_t ldc, int mv, int nv,
               const Epi& ep, float* scratch /* 32 x 32 */) {
    _tile_zero(0);
    _tile_zero(1);
    _tile_zero(2);
    _tile_zero(3);
    for (int64_t p = 0; p < k2p; p += 16) {
        _tile_loadd(4, a + 2 * p, a_stride);                             // rows 0-15, k pairs p..p+15
        _tile_loadd(5, reinterpret_cast<const char*>(a + 2 * p) + 16 * a_stride, a_stride);  // rows 16-31
        _tile_loadd(6, bp + p * 64, 128);                                // columns 0-15
        _tile_loadd(7, bp + p * 64 + 32, 128);                           // columns 16-31
        _tile_dpbf16ps(0, 4, 6);
        _tile_dpbf16ps(1, 4, 7);
        _tile_dpbf16ps(2, 5, 6);
        _tile_dpbf16ps(3, 5, 7);
    }
    _tile_stored(0, scratch, 128);
    _tile_stored(1, scratch + 16, 128);
    _tile_stored(2, scratch + 16 * 32, 128);
    _tile_stored(3, scratch + 16 * 32 + 16, 128);
    for (int i = 0; i < mv; ++i) {
        for (int j = 0; j < 2; ++j) {
            const int n = nv - j * 16;
            if (n <= 0) break;
            write_back<Avx512Ops>(_mm512_loadu_ps(scratch + i * 32 + j * 16), c + i * ldc + j * 16, ep.bias ? ep.bias + j * 16 : nullptr,
                                  ep.r ? ep.r + i * ep.ldr + j * 16 : nullptr, n < 16 ? n : 16, ep);
        }
    }
}

}  // namespace

void vlm_gemm_bf16(int64_t m, int64_t n, int64_t k, int64_t a, int64_t lda, int64_t w, int64_t ldw, int64_t bias, int act,
                   int64_t r, int64_t ldr, int64_t c, int64_t ldc) {
    static const char* fn = "vlm_gemm_bf16";
    if (!vlm_has_bf16_gemm()) vlm::fail(fn, "this CPU has no avx512_bf16");
    if (m < 0 || n < 0 || k < 0) vlm::fail(fn, "negative size (m ", m, ", n ", n, ", k ", k, ")");
    if (act < 0 || act > 3) vlm::fail(fn, "act must be 0..3, got ", act);
    if (m == 0 || n == 0) return;
    if (!c) vlm::fail(fn, "c is null");
    if (k > 0 && (!a || !w)) vlm::fail(fn, "a or w is null");
    if (lda < k || ldw < k || ldc < n || (r && ldr < n)) vlm::fail(fn, "leading dimensions too small");
    const int64_t k2 = ((k + 1) / 2 + 15) / 16 * 16, panels = (n + NR - 1) / NR;  // k pairs, padded for AMX's 16-pair steps
    const bool amx = amx_permitted() && !std::getenv("VLM4J_NO_AMX");
    const float* A = reinterpret_cast<const float*>(a);
    const uint16_t* W = reinterpret_cast<const uint16_t*>(w);
    float* C = reinterpret_cast<float*>(c);
    // W [N, K] bf16 -> panels [panel][k2][32][2]; missing columns and the odd k tail are zero
    std::vector<uint16_t> wp(size_t(panels * k2 * NR * 2));
#pragma omp parallel for schedule(static)
    for (int64_t pj = 0; pj < panels; ++pj) {
        uint16_t* d = wp.data() + pj * k2 * NR * 2;
        for (int64_t p = 0; p < k2; ++p) {
            for (int col = 0; col < NR; ++col) {
                const int64_t j = pj * NR + col;
                const uint16_t* src = W + j * ldw + 2 * p;
                d[(p * NR + col) * 2] = j < n && 2 * p < k ? src[0] : 0;
                d[(p * NR + col) * 2 + 1] = j < n && 2 * p + 1 < k ? src[1] : 0;
            }
        }
    }
    const int64_t mt = (m + MB - 1) / MB, nt = (n + NB - 1) / NB;
#pragma omp parallel
    {
        std::vector<uint16_t> abuf(size_t(MB * k2 * 2));
        alignas(64) float scratch[32 * 32];
        if (amx) configure_tiles();
#pragma omp for schedule(dynamic)
        for (int64_t t = 0; t < mt * nt; ++t) {
            const int64_t i0 = (t / nt) * MB, j0 = (t % nt) * NB;
            const int rows = int(std::min<int64_t>(MB, m - i0));
            pack_a(A, lda, i0, rows, k, k2, abuf.data());
            const uint32_t* ap = reinterpret_cast<const uint32_t*>(abuf.data());
            for (int64_t j = j0; j < std::min(n, j0 + NB); j += NR) {
                const int nv = int(std::min<int64_t>(NR, n - j));
                if (amx) {
                    for (int i = 0; i < rows; i += 32) {
                        Epi ep{1.0f, 0.0f, bias ? reinterpret_cast<const float*>(bias) + j : nullptr, act,
                               r ? reinterpret_cast<const float*>(r) + (i0 + i) * ldr + j : nullptr, ldr};
                        amx_block(k2, abuf.data() + i * k2 * 2, k2 * 4, wp.data() + (j / NR) * k2 * NR * 2, C + (i0 + i) * ldc + j, ldc,
                                  std::min(32, rows - i), nv, ep, scratch);
                    }
                    continue;
                }
                for (int i = 0; i < rows; i += MR) {
                    const int mv = std::min(MR, rows - i);
                    Epi ep{1.0f, 0.0f, bias ? reinterpret_cast<const float*>(bias) + j : nullptr, act,
                           r ? reinterpret_cast<const float*>(r) + (i0 + i) * ldr + j : nullptr, ldr};
                    micro_kernel(k2, ap + i * k2, k2, wp.data() + (j / NR) * k2 * NR * 2, C + (i0 + i) * ldc + j, ldc, mv, nv, ep);
                }
            }
        }
        if (amx) _tile_release();
    }
}
