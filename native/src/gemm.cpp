// Single-precision GEMM with a fused epilogue, GotoBLAS/BLIS structure:
//   jc (NC columns: op(B) packed into KC x NR micro-panels, shared by the thread team)
//     -> work items of <= MC rows x a range of panels (row-major A is read in place, A^T is packed)
//       -> pc (KC depth) -> jr (NR-wide B micro-panel) -> ir (MR rows) -> micro-kernel (gemm_internal.h).
// Partial sums of the K blocks accumulate in C; the epilogue (bias, activation, residual) runs in the write-back
// of the last K block, so there is no separate pass over C.
#include "vlm4j/kernels.h"
#include "common.h"
#include "gemm_internal.h"

#include <omp.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <vector>

namespace vlm::gemm_detail {
namespace {

void kernel_avx2(int64_t kc, const float* a, int64_t lda, const float* bp, float* c, int64_t ldc, int mv, int nv,
                 const Epi& ep) {
    kernel<Avx2Ops, 6, 2>(kc, a, lda, bp, c, ldc, mv, nv, ep);
}

void kernel_scalar(int64_t kc, const float* a, int64_t lda, const float* bp, float* c, int64_t ldc, int mv, int nv,
                   const Epi& ep) {
    kernel<ScalarOps, 4, 4>(kc, a, lda, bp, c, ldc, mv, nv, ep);
}

void kernel_emu512(int64_t kc, const float* a, int64_t lda, const float* bp, float* c, int64_t ldc, int mv,
                   int nv, const Epi& ep) {
    kernel<Emu512Ops, avx512_mr, avx512_nr / Emu512Ops::W>(kc, a, lda, bp, c, ldc, mv, nv, ep);
}

struct Spec {
    int mr, nr;
    int64_t mc, kc, nc;  // cache blocks: MC x KC of A in L2, KC x NC of B in L3
    KernelFn kernel;
    bool simd_pack;
};

const Spec& spec_for(Simd level) {
    // AVX2, tuned on Zen 3 (32 KiB L1d, 512 KiB L2, 2K-entry L2 TLB). KC = 768 covers the CLIP widths (512, 768)
    // in one K block, so C is written once and the epilogue needs no re-read; the 16 x 768 B micro-panel then
    // streams from L2, which has bandwidth to spare for the 6x16 kernel (88 bytes per 12 FMAs). MC = 72: the A rows
    // of a block (216 KiB) stay in L2. NC = 1024: the shared B block (3 MiB) stays in L3 and in TLB reach; with
    // NC = 4096 the (1576 x 3072 x 768) product ran 10-20% slower on two threads.
    static const Spec avx2{6, 16, 72, 768, 1024, &kernel_avx2, true};
    // AVX-512 (not tuned: no such machine at hand): BLIS-like Skylake-X sizes, B block 384 x 2048 (3 MiB).
    static const Spec avx512{avx512_mr, avx512_nr, 144, 384, 2048, &kernel_avx512, true};
    static const Spec scalar{4, 4, 128, 256, 4096, &kernel_scalar, false};
    // The AVX-512 path's shapes and blocking with AVX2 arithmetic, for checking it where there is no AVX-512.
    static const Spec emu512{avx512_mr, avx512_nr, avx512.mc, avx512.kc, avx512.nc, &kernel_emu512, true};
    static const bool emulate = std::getenv("VLM4J_GEMM_EMULATE_AVX512") != nullptr;
    if (level == Simd::avx2 && emulate) return emu512;
    return level == Simd::avx512 ? avx512 : level == Simd::avx2 ? avx2 : scalar;
}

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// One GEMM of the batch, arguments as in vlm_gemm_f32.
struct Problem {
    bool ta, tb;
    int64_t m, n, k;
    float alpha, beta;
    const float *a, *b, *bias, *r;
    float* c;
    int64_t lda, ldb, ldc, ldr;
    int act;
};

// MR-high micro-panels of op(A)[i0 : i0+rows, p0 : p0+kc], one after the other.
void pack_a(const Problem& pr, const Spec& s, int64_t i0, int64_t rows, int64_t p0, int64_t kc, float* dst) {
    for (int64_t i = 0; i < rows; i += s.mr) {
        const int mv = static_cast<int>(std::min<int64_t>(s.mr, rows - i));
        if (pr.ta) {  // op(A)[i][p] = A[p*lda + i]
            const float* src = pr.a + p0 * pr.lda + i0 + i;
            (s.simd_pack ? pack_n_avx2 : pack_n_scalar)(src, pr.lda, kc, mv, s.mr, dst);
        } else {
            const float* src = pr.a + (i0 + i) * pr.lda + p0;
            (s.simd_pack ? pack_t_avx2 : pack_t_scalar)(src, pr.lda, kc, mv, s.mr, dst);
        }
        dst += s.mr * kc;
    }
}

// One NR-wide micro-panel of op(B)[p0 : p0+kc, j0 : j0+cols].
void pack_b(const Problem& pr, const Spec& s, int64_t p0, int64_t kc, int64_t j0, int cols, float* dst) {
    if (pr.tb) {  // op(B)[p][j] = B[j*ldb + p]
        (s.simd_pack ? pack_t_avx2 : pack_t_scalar)(pr.b + j0 * pr.ldb + p0, pr.ldb, kc, cols, s.nr, dst);
    } else {
        (s.simd_pack ? pack_n_avx2 : pack_n_scalar)(pr.b + p0 * pr.ldb + j0, pr.ldb, kc, cols, s.nr, dst);
    }
}

// Rows of a row-major A are read in place: the MR row streams are cache-friendly, and skipping the transposing
// pack pays where the product is short or narrow (attention-sized problems spent 10-15% of their time packing A).
// A^T keeps the (cheap, contiguous) pack: in place, its broadcasts would touch a new cache line every k.
bool direct_a(const Problem& pr) { return !pr.ta; }

// The A operand of row block [i0, i0+rows): packed micro-panels in abuf, or in place with only a ragged last tile
// packed (the kernel reads all MR rows, which past the end of op(A) do not exist).
void prepare_a(const Problem& pr, const Spec& s, bool direct, int64_t i0, int64_t rows, int64_t p0, int64_t kc,
               float* abuf) {
    if (!direct) return pack_a(pr, s, i0, rows, p0, kc, abuf);
    const int64_t full = rows / s.mr * s.mr;
    if (full < rows) pack_a(pr, s, i0 + full, rows - full, p0, kc, abuf);
}

// Micro-tiles of rows [i0, i0+rows) x panels [q0, q1) of the packed B block starting at column jc.
void compute(const Problem& pr, const Spec& s, bool direct, const float* abuf, int64_t i0, int64_t rows, int64_t p0,
             const float* bp, int64_t jc, int64_t q0, int64_t q1, int64_t kc, bool first, bool last) {
    Epi ep{pr.alpha, first ? pr.beta : 1.0f, nullptr, last ? pr.act : 0, nullptr, pr.ldr};
    for (int64_t q = q0; q < q1; ++q) {
        const int64_t j = jc + q * s.nr;
        const int nv = static_cast<int>(std::min<int64_t>(s.nr, pr.n - j));
        const float* bq = bp + q * s.nr * kc;
        ep.bias = last && pr.bias ? pr.bias + j : nullptr;
        for (int64_t ii = 0; ii < rows; ii += s.mr) {
            const int64_t i = i0 + ii;
            ep.r = last && pr.r ? pr.r + i * pr.ldr + j : nullptr;
            const int mv = static_cast<int>(std::min<int64_t>(s.mr, rows - ii));
            float* const c = pr.c + i * pr.ldc + j;
            if (direct && mv == s.mr) s.kernel(kc, pr.a + i * pr.lda + p0, pr.lda, bq, c, pr.ldc, mv, nv, ep);
            else s.kernel(kc, direct ? abuf : abuf + ii * kc, 0, bq, c, pr.ldc, mv, nv, ep);
        }
    }
}

// K blocks of near-equal depth (K=3072 -> 4 x 768, K=1000 -> 2 x 500), so no block is a thin remainder.
struct KSplit {
    int64_t count, depth;
    KSplit(int64_t k, int64_t kc_max) : count(ceil_div(k, kc_max)), depth(ceil_div(k, count)) {}
};

// 64-byte aligned, grow-only scratch; thread_local so repeated calls reuse warm, already-faulted pages.
class Scratch {
public:
    float* get(int64_t floats) {
        if (floats > cap_) {
            const size_t bytes = (static_cast<size_t>(floats) * sizeof(float) + 63) / 64 * 64;
            mem_.reset(static_cast<float*>(std::aligned_alloc(64, bytes)));
            if (!mem_) {
                cap_ = 0;
                throw std::bad_alloc();
            }
            cap_ = floats;
        }
        return mem_.get();
    }

private:
    struct Free {
        void operator()(float* p) const { std::free(p); }
    };
    std::unique_ptr<float, Free> mem_;
    int64_t cap_ = 0;
};

thread_local Scratch tl_scratch;

int64_t b_block_floats(const Problem& pr, const Spec& s) {
    return ceil_div(std::min(pr.n, s.nc), s.nr) * s.nr * std::min(pr.k, s.kc);
}
int64_t a_block_floats(const Spec& s) { return s.mc * s.kc; }

// Offset of column block jc in a pre-packed B (vlm_gemm_pack_b_f32): every earlier block is a full NC wide.
int64_t packed_offset(const Spec& s, int64_t jc, int64_t k) { return jc / s.nc * ceil_div(s.nc, s.nr) * s.nr * k; }

// packed: op(B) already packed for all of K (vlm_gemm_pack_b_f32), or null to pack it here into bbuf.
void gemm_serial(const Problem& pr, const Spec& s, float* abuf, float* bbuf, const float* packed) {
    const KSplit ks(pr.k, s.kc);
    const bool direct = direct_a(pr);
    for (int64_t jc = 0; jc < pr.n; jc += s.nc) {
        const int64_t ncur = std::min(s.nc, pr.n - jc);
        const int64_t panels = ceil_div(ncur, s.nr);
        for (int64_t kb = 0; kb < ks.count; ++kb) {
            const int64_t p0 = kb * ks.depth, kc = std::min(ks.depth, pr.k - p0);
            const float* bp = bbuf;
            if (packed) {
                bp = packed + packed_offset(s, jc, pr.k) + p0 * panels * s.nr;
            } else {
                for (int64_t q = 0; q < panels; ++q) {
                    const int cols = static_cast<int>(std::min<int64_t>(s.nr, ncur - q * s.nr));
                    pack_b(pr, s, p0, kc, jc + q * s.nr, cols, bbuf + q * s.nr * kc);
                }
            }
            for (int64_t ic = 0; ic < pr.m; ic += s.mc) {
                const int64_t rows = std::min(s.mc, pr.m - ic);
                prepare_a(pr, s, direct, ic, rows, p0, kc, abuf);
                compute(pr, s, direct, abuf, ic, rows, p0, bp, jc, 0, panels, kc, kb == 0, kb == ks.count - 1);
            }
        }
    }
}

// Work items of the parallel driver: mb row blocks x ns column-panel ranges (mb >= mb_min so a block fits L2).
// Picked by a small cost model, in micro-tiles: the critical path ceil(items/nt) x (tiles per item + reload of each
// B micro-panel, ~1/3 tile, per row block + first touch of the A rows, ~1/5 tile, per column range). Many rows ->
// row blocks in a multiple of nt; few rows (one text prompt, pooled tokens) -> the columns are split instead.
struct Split {
    int64_t mb, ns;
};
Split plan_split(int64_t m_tiles, int64_t panels, int64_t mb_min, int nt) {
    Split best{mb_min, 1};
    double best_cost = 1e300;
    for (int64_t mb = mb_min; mb <= std::min(m_tiles, mb_min + 8 * nt); ++mb)
        for (int64_t ns = 1; ns <= std::min<int64_t>(panels, 8 * nt); ++ns) {
            const double tr = double(ceil_div(m_tiles, mb)), pc = double(ceil_div(panels, ns));
            const double cost = double(ceil_div(mb * ns, nt)) * (tr * pc + pc / 3.0 + tr / 5.0);
            if (cost < best_cost * 0.999) best_cost = cost, best = {mb, ns};
        }
    return best;
}

// One problem on nt threads. Per NC block of columns the team packs op(B) for all of K at once (in passes of at
// most b_pass_floats for very deep K), then each work item (row block x column range) runs its whole K loop: two
// barriers per NC block rather than two per K block (a thread that the shared machine preempts holds the others
// up at every barrier), and the item's C block stays in L2 from one K block to the next.
constexpr int64_t b_pass_floats = int64_t(4) << 20;

void gemm_parallel(const Problem& pr, const Spec& s, int nt, const float* packed) {
    const int64_t m_tiles = ceil_div(pr.m, s.mr);
    const int64_t panels_max = ceil_div(std::min(pr.n, s.nc), s.nr);
    const Split sp = plan_split(m_tiles, panels_max, ceil_div(pr.m, s.mc), nt);
    const int64_t mb = sp.mb, ns = sp.ns, items = mb * ns;
    const KSplit ks(pr.k, s.kc);
    // pre-packed B: one pass over all of K, nothing to pack, no barrier but the loop's
    const int64_t kb_per_pass = packed ? ks.count : std::max<int64_t>(1, b_pass_floats / (panels_max * s.nr * ks.depth));
    const int64_t b_size = packed ? 0 : panels_max * s.nr * ks.depth * std::min(kb_per_pass, ks.count), a_size = a_block_floats(s);
    float* const base = tl_scratch.get(b_size + nt * a_size);
    const bool direct = direct_a(pr);

#pragma omp parallel num_threads(nt)
    {
        float* const abuf = base + b_size + omp_get_thread_num() * a_size;
        for (int64_t jc = 0; jc < pr.n; jc += s.nc) {
            const int64_t ncur = std::min(s.nc, pr.n - jc);
            const int64_t panels = ceil_div(ncur, s.nr);
            for (int64_t kb0 = 0; kb0 < ks.count; kb0 += kb_per_pass) {
                const int64_t kb1 = std::min(ks.count, kb0 + kb_per_pass);
                // K block kb of the pass starts at base + (p0 - pass start) * panels * nr, panels kc x nr each.
                const int64_t pass_p0 = kb0 * ks.depth;
                const float* const bb = packed ? packed + packed_offset(s, jc, pr.k) : base;
#pragma omp for schedule(dynamic, 4)
                for (int64_t t = 0; t < (packed ? 0 : (kb1 - kb0) * panels); ++t) {
                    const int64_t kb = kb0 + t / panels, q = t % panels;
                    const int64_t p0 = kb * ks.depth, kc = std::min(ks.depth, pr.k - p0);
                    const int cols = static_cast<int>(std::min<int64_t>(s.nr, ncur - q * s.nr));
                    pack_b(pr, s, p0, kc, jc + q * s.nr, cols, base + (p0 - pass_p0) * panels * s.nr + q * s.nr * kc);
                }
                // dynamic: the machine is shared, a thread that falls behind should not hold up the others.
#pragma omp for schedule(dynamic, 1)
                for (int64_t it = 0; it < items; ++it) {
                    const int64_t mi = it / ns, si = it % ns;
                    const int64_t i0 = mi * m_tiles / mb * s.mr;
                    const int64_t i1 = std::min(pr.m, (mi + 1) * m_tiles / mb * s.mr);
                    const int64_t q0 = si * panels / ns, q1 = (si + 1) * panels / ns;
                    if (i1 <= i0 || q1 <= q0) continue;
                    for (int64_t kb = kb0; kb < kb1; ++kb) {
                        const int64_t p0 = kb * ks.depth, kc = std::min(ks.depth, pr.k - p0);
                        prepare_a(pr, s, direct, i0, i1 - i0, p0, kc, abuf);
                        compute(pr, s, direct, abuf, i0, i1 - i0, p0, bb + (p0 - pass_p0) * panels * s.nr, jc,
                                q0, q1, kc, kb == 0, kb == ks.count - 1);
                    }
                }
            }
        }
    }
}

// alpha == 0: A and B are not read (BLAS convention); only the epilogue remains.
void epilogue_only(const Problem& pr) {
    for (int64_t i = 0; i < pr.m; ++i) {
        float* c = pr.c + i * pr.ldc;
        for (int64_t j = 0; j < pr.n; ++j) {
            float v = pr.beta != 0.0f ? pr.beta * c[j] : 0.0f;
            if (pr.bias) v += pr.bias[j];
            v = activate<ScalarOps>(v, pr.act);
            if (pr.r) v += pr.r[i * pr.ldr + j];
            c[j] = v;
        }
    }
}

void check_ld(const char* fn, const char* name, int64_t ld, int64_t need, const char* what) {
    if (ld < need) fail(fn, name, " = ", ld, " is smaller than ", need, " (", what, ")");
}

}  // namespace
}  // namespace vlm::gemm_detail

namespace vlm::gemm_detail {
namespace {

// vlm_gemm_f32 and vlm_gemm_f32_packed: packed is null, or op(B) pre-packed (then b is only for the checks' shapes).
void gemm_f32(const char* fn, int trans_a, int trans_b, int64_t batch, int64_t m, int64_t n, int64_t k, float alpha,
              const float* a, int64_t lda, int64_t stride_a, const float* b, int64_t ldb, int64_t stride_b,
              float beta, float* c, int64_t ldc, int64_t stride_c, const float* bias, int act, const float* r,
              int64_t ldr, int64_t stride_r, const float* packed) {
    if (trans_a != 0 && trans_a != 1) fail(fn, "trans_a must be 0 or 1 (got ", trans_a, ")");
    if (trans_b != 0 && trans_b != 1) fail(fn, "trans_b must be 0 or 1 (got ", trans_b, ")");
    check_pos(fn, batch, "batch");
    check_pos(fn, m, "m");
    check_pos(fn, n, "n");
    check_pos(fn, k, "k");
    if (act < 0 || act > 3) fail(fn, "act must be 0 (none), 1 (gelu), 2 (quick_gelu) or 3 (gelu_tanh), got ", act);
    check_ptr(fn, a, "a");
    if (!packed) check_ptr(fn, b, "b");
    check_ptr(fn, c, "c");
    check_ld(fn, "lda", lda, trans_a ? m : k, trans_a ? "A is k x m, transposed" : "A is m x k");
    check_ld(fn, "ldb", ldb, trans_b ? k : n, trans_b ? "B is n x k, transposed" : "B is k x n");
    check_ld(fn, "ldc", ldc, n, "C is m x n");
    check_nonneg(fn, stride_a, "stride_a");
    check_nonneg(fn, stride_b, "stride_b");
    check_nonneg(fn, stride_c, "stride_c");
    check_nonneg(fn, stride_r, "stride_r");
    if (r) check_ld(fn, "ldr", ldr, n, "R is m x n");
    extent(fn, batch, stride_a, trans_a ? k : m, lda, trans_a ? m : k);
    if (!packed) extent(fn, batch, stride_b, trans_b ? n : k, ldb, trans_b ? k : n);
    const int64_t c_ext = extent(fn, batch, stride_c, m, ldc, n);
    // Batches of C must not overlap: the batch loop runs in parallel and each C is written several times.
    if (batch > 1 && stride_c < (m - 1) * ldc + n)
        fail(fn, "stride_c = ", stride_c, " makes the batches of C overlap (need >= ", (m - 1) * ldc + n, ")");
    std::vector<float> r_copy;
    if (r) {
        // A residual sharing memory with C (x = x + f(x) in place) would be overwritten by the first K block's
        // partial sums before the last block adds it; read it from a private copy instead.
        const int64_t r_ext = extent(fn, batch, stride_r, m, ldr, n);
        const auto rb = reinterpret_cast<uintptr_t>(r), cb = reinterpret_cast<uintptr_t>(c);
        if (rb < cb + c_ext * sizeof(float) && cb < rb + r_ext * sizeof(float)) {
            r_copy.resize(static_cast<size_t>(mul_checked(fn, batch, m * n)));
            for (int64_t bi = 0; bi < batch; ++bi)
                for (int64_t i = 0; i < m; ++i)
                    std::memcpy(&r_copy[(bi * m + i) * n], r + bi * stride_r + i * ldr, n * sizeof(float));
            r = r_copy.data();
            ldr = n;
            stride_r = m * n;
        }
    }

    auto problem = [&](int64_t bi) {
        return Problem{trans_a == 1, trans_b == 1, m, n, k, alpha, beta, a + bi * stride_a, b + bi * stride_b, bias,
                       r ? r + bi * stride_r : nullptr, c + bi * stride_c, lda, ldb, ldc, ldr, act};
    };
    if (alpha == 0.0f) {
        for (int64_t bi = 0; bi < batch; ++bi) epilogue_only(problem(bi));
        return;
    }

    const Spec& s = spec_for(simd_level());
    // Threads only where each gets a worthwhile share (~1.5 MFLOP, i.e. tens of microseconds of work).
    const double flops = 2.0 * m * n * k;
    int nt = omp_in_parallel() ? 1 : omp_get_max_threads();
    nt = static_cast<int>(std::max(1.0, std::min<double>(nt, flops * batch / 1.5e6)));
    const Problem p0 = problem(0);
    const int64_t a_size = a_block_floats(s), b_size = packed ? 0 : b_block_floats(p0, s);

    if (nt == 1) {
        float* const base = tl_scratch.get(a_size + b_size);
        for (int64_t bi = 0; bi < batch; ++bi) gemm_serial(problem(bi), s, base, base + a_size, packed);
        return;
    }
    // Many problems (attention heads) or small ones: whole problems per thread, each with its own buffers, no
    // barriers. Otherwise the team works on one problem at a time.
    if (batch >= nt && (batch >= 4 * nt || batch % nt == 0 || flops < 1e7)) {
        std::atomic<bool> no_memory{false};
#pragma omp parallel num_threads(nt)
        {
            float* base = nullptr;
            try {
                base = tl_scratch.get(a_size + b_size);
            } catch (const std::bad_alloc&) {
                no_memory = true;
            }
#pragma omp for schedule(dynamic, 1)
            for (int64_t bi = 0; bi < batch; ++bi)
                if (base) gemm_serial(problem(bi), s, base, base + a_size, packed);
        }
        if (no_memory) throw std::bad_alloc();
        return;
    }
    const int nt_one = static_cast<int>(std::max(1.0, std::min<double>(nt, flops / 1.5e6)));
    for (int64_t bi = 0; bi < batch; ++bi) {
        if (nt_one > 1) {
            gemm_parallel(problem(bi), s, nt_one, packed);
        } else {
            float* const base = tl_scratch.get(a_size + b_size);
            gemm_serial(problem(bi), s, base, base + a_size, packed);
        }
    }
}

}  // namespace
}  // namespace vlm::gemm_detail

void vlm_gemm_f32(int trans_a, int trans_b, int64_t batch, int64_t m, int64_t n, int64_t k, float alpha,
                  const float* a, int64_t lda, int64_t stride_a, const float* b, int64_t ldb, int64_t stride_b,
                  float beta, float* c, int64_t ldc, int64_t stride_c, const float* bias, int act, const float* r,
                  int64_t ldr, int64_t stride_r) {
    vlm::gemm_detail::gemm_f32("vlm_gemm_f32", trans_a, trans_b, batch, m, n, k, alpha, a, lda, stride_a, b, ldb, stride_b,
                               beta, c, ldc, stride_c, bias, act, r, ldr, stride_r, nullptr);
}

int64_t vlm_gemm_packed_b_floats(int64_t k, int64_t n) {
    using namespace vlm::gemm_detail;
    static const char* fn = "vlm_gemm_packed_b_floats";
    vlm::check_pos(fn, k, "k");
    vlm::check_pos(fn, n, "n");
    const Spec& s = spec_for(vlm::simd_level());
    int64_t total = 0;
    for (int64_t jc = 0; jc < n; jc += s.nc)
        if (__builtin_add_overflow(total, vlm::mul_checked(fn, ceil_div(std::min(s.nc, n - jc), s.nr) * s.nr, k), &total)) vlm::fail(fn, "size overflow");
    return total;
}

void vlm_gemm_pack_b_f32(int trans_b, int64_t k, int64_t n, const float* b, int64_t ldb, float* dst, int64_t dst_floats) {
    using namespace vlm::gemm_detail;
    static const char* fn = "vlm_gemm_pack_b_f32";
    if (trans_b != 0 && trans_b != 1) vlm::fail(fn, "trans_b must be 0 or 1 (got ", trans_b, ")");
    const int64_t need = vlm_gemm_packed_b_floats(k, n);
    vlm::check_ptr(fn, b, "b");
    vlm::check_ptr(fn, dst, "dst");
    check_ld(fn, "ldb", ldb, trans_b ? k : n, trans_b ? "B is n x k, transposed" : "B is k x n");
    vlm::extent(fn, 1, 0, trans_b ? n : k, ldb, trans_b ? k : n);
    if (dst_floats != need) vlm::fail(fn, "dst holds ", dst_floats, " floats, the packed B needs ", need);
    const Spec& s = spec_for(vlm::simd_level());
    Problem pr{};
    pr.tb = trans_b == 1;
    pr.k = k;
    pr.n = n;
    pr.b = b;
    pr.ldb = ldb;
    const KSplit ks(k, s.kc);
    const int64_t blocks = ceil_div(n, s.nc);
#pragma omp parallel for collapse(2) schedule(dynamic, 1)
    for (int64_t blk = 0; blk < blocks; ++blk) {
        for (int64_t kb = 0; kb < ks.count; ++kb) {
            const int64_t jc = blk * s.nc, ncur = std::min(s.nc, n - jc), panels = ceil_div(ncur, s.nr);
            const int64_t p0 = kb * ks.depth, kc = std::min(ks.depth, k - p0);
            float* base = dst + packed_offset(s, jc, k) + p0 * panels * s.nr;
            for (int64_t q = 0; q < panels; ++q)
                pack_b(pr, s, p0, kc, jc + q * s.nr, static_cast<int>(std::min<int64_t>(s.nr, ncur - q * s.nr)), base + q * s.nr * kc);
        }
    }
}

void vlm_gemm_f32_packed(int64_t batch, int64_t m, int64_t n, int64_t k, const float* a, int64_t lda, int64_t stride_a,
                         const float* packed_b, int64_t packed_floats, float* c, int64_t ldc, int64_t stride_c,
                         const float* bias, int act, const float* r, int64_t ldr, int64_t stride_r) {
    static const char* fn = "vlm_gemm_f32_packed";
    vlm::check_pos(fn, k, "k");
    vlm::check_pos(fn, n, "n");
    vlm::check_ptr(fn, packed_b, "packed_b");
    const int64_t need = vlm_gemm_packed_b_floats(k, n);
    if (packed_floats != need) vlm::fail(fn, "packed_b holds ", packed_floats, " floats, a packed ", k, " x ", n, " B has ", need);
    vlm::gemm_detail::gemm_f32(fn, 0, 1, batch, m, n, k, 1.0f, a, lda, stride_a, nullptr, k, 0, 0.0f, c, ldc, stride_c, bias, act,
                               r, ldr, stride_r, packed_b);
}
