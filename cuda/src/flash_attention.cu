// Fused attention, variant 2: FlashAttention-2's forward pass on the tensor cores (mma.sync m16n8k16, fp32
// accumulation) for F16/BF16 and head_dim 32, 64, 80 or 128.
//
// A block of 4 warps owns 64 query rows of one (batch, head), 16 per warp. The Q tile is copied to shared memory
// once and held in registers as mma A fragments; 64-key K/V tiles stream through two shared-memory stages with
// cp.async (rows past lk zero-filled), the next tile's copy in flight while the current one is used. Per tile,
// each warp computes its 16x64 block of S = Q K^T in registers, masks it (causal, key padding, keys past lk) to
// -inf, updates the running row max and sum in log2 units (scale * log2(e) folded in, exp2f), rescales O, and
// feeds P, converted to f16/bf16 in registers, straight back as the A operand of O += P V: the accumulator layout
// of two adjacent n8 tiles of S is the A layout of one k16 step. V's B fragments come from ldmatrix.trans.
// Shared-memory rows are padded by 16 bytes so the 8 row addresses of an ldmatrix fall in distinct banks.
// Layouts: PTX ISA, "Matrix Fragments for mma.m16n8k16 with floating point type" and "ldmatrix".
#include "attention.cuh"
#include "dtype.cuh"

#include <climits>
#include <cstring>
#include <type_traits>

namespace vlmc::attention {
namespace {

constexpr int warps = 4;
constexpr int threads = 32 * warps;
constexpr int block_m = 16 * warps;  // query rows per block
constexpr int block_n = 64;          // keys per tile
static_assert(block_m == block_n, "one row loader serves the Q tile and the K/V tiles");

// Shared-memory geometry for head_dim D, in elements of the 16-bit type.
template <int D>
struct Tile {
    static_assert(D % 16 == 0 && D <= 128, "head_dim must be a multiple of 16, at most 128");
    static constexpr int stride = D + 8;   // row pitch: +16 bytes keeps ldmatrix rows on distinct banks
    static constexpr int chunks = D / 8;   // 16-byte chunks per row
    static constexpr int q_elems = block_m * stride;
    static constexpr int kv_elems = block_n * stride;
    static constexpr int smem_bytes = (q_elems + 4 * kv_elems) * 2 + 2 * block_n * 4;  // Q, 2x K, 2x V, 2x mask
    static_assert((block_n * chunks) % threads == 0, "tile copies split evenly over the threads");
};

__device__ __forceinline__ uint32_t smem_addr(const void* p) { return static_cast<uint32_t>(__cvta_generic_to_shared(p)); }

// 16-byte global -> shared copy; with valid == false nothing is read and the 16 bytes are zero-filled.
__device__ __forceinline__ void cp_async16(uint32_t dst, const void* src, bool valid) {
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(src), "r"(valid ? 16 : 0) : "memory");
}

__device__ __forceinline__ void cp_async4(uint32_t dst, const void* src, bool valid) {
    asm volatile("cp.async.ca.shared.global [%0], [%1], 4, %2;\n" ::"r"(dst), "l"(src), "r"(valid ? 4 : 0) : "memory");
}

__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::: "memory"); }

// Waits until at most N of this thread's committed groups are still in flight.
template <int N>
__device__ __forceinline__ void cp_async_wait() {
    asm volatile("cp.async.wait_group %0;\n" ::"n"(N) : "memory");
}

// Four 8x8 b16 matrices; lane 8m + r gives row r of matrix m, register m receives (row lane/4, cols 2(lane%4)+{0,1}),
// or with .trans (rows 2(lane%4)+{0,1}, col lane/4).
__device__ __forceinline__ void ldmatrix_x4(uint32_t (&r)[4], uint32_t addr) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(addr)
                 : "memory");
}

__device__ __forceinline__ void ldmatrix_x4_trans(uint32_t (&r)[4], uint32_t addr) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(addr)
                 : "memory");
}

// c += a b for a 16x16 (row) by 16x8 (col) product with fp32 accumulators.
template <typename T>
__device__ __forceinline__ void mma(float (&c)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
    if constexpr (std::is_same_v<T, __half>) {
        asm("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
            "{%0, %1, %2, %3};\n"
            : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
            : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
    } else {
        asm("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
            "{%0, %1, %2, %3};\n"
            : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
            : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
    }
}

// Two floats rounded to T, lo in the low 16 bits (the lower column of a fragment pair).
template <typename T>
__device__ __forceinline__ uint32_t pack2(float lo, float hi) {
    uint32_t u;
    if constexpr (std::is_same_v<T, __half>) {
        const __half2 x = __floats2half2_rn(lo, hi);
        memcpy(&u, &x, 4);
    } else {
        const __nv_bfloat162 x = __floats2bfloat162_rn(lo, hi);
        memcpy(&u, &x, 4);
    }
    return u;
}

// Copies rows [row0, row0 + 64) x D of a head (src = its row 0) into a padded tile; rows >= rows_valid become zeros.
template <typename T, int D>
__device__ __forceinline__ void load_rows(T* dst, const T* src, int64_t ld, int row0, int rows_valid) {
    using L = Tile<D>;
#pragma unroll
    for (int c = 0; c < block_n * L::chunks / threads; ++c) {
        const int idx = int(threadIdx.x) + c * threads, r = idx / L::chunks, ch = idx % L::chunks;
        const bool ok = row0 + r < rows_valid;
        cp_async16(smem_addr(dst + r * L::stride + ch * 8), ok ? src + int64_t(row0 + r) * ld + ch * 8 : src, ok);
    }
}

// grid.x = m_blocks * batch * heads, the query blocks of one (batch, head) adjacent (they share its K/V in L2).
// Min 2 blocks per SM: without it ptxas caps D=32 at 96 registers and spills; with it no instantiation spills.
template <typename T, int D>
__global__ void __launch_bounds__(threads, 2) attention_flash(Params p, const T* __restrict__ q, const T* __restrict__ k,
                                                          const T* __restrict__ v, T* __restrict__ out, int m_blocks,
                                                          float scale_log2) {
    using L = Tile<D>;
    extern __shared__ __align__(16) unsigned char smem[];
    T* const q_s = reinterpret_cast<T*>(smem);                                   // [64][stride]
    T* const k_s = q_s + L::q_elems;                                             // [2][64][stride]
    T* const v_s = k_s + 2 * L::kv_elems;                                        // [2][64][stride]
    int32_t* const mask_s = reinterpret_cast<int32_t*>(v_s + 2 * L::kv_elems);  // [2][64]

    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5, g = lane >> 2, t = lane & 3;
    const int mb = m_blocks - 1 - int(blockIdx.x % unsigned(m_blocks));  // last (heaviest when causal) first
    const int64_t bh = blockIdx.x / unsigned(m_blocks), b = bh / p.heads, h = bh % p.heads;
    const int lq = int(p.lq), lk = int(p.lk), diag = lk - lq;  // causal: key j visible from row i iff j <= i + diag
    const int m0 = mb * block_m;

    const T* const qg = q + b * p.stride_q + h * D;
    const T* const kg = k + b * p.stride_k + h * D;
    const T* const vg = v + b * p.stride_v + h * D;
    const int32_t* const maskg = p.mask ? p.mask + b * p.lk : nullptr;

    // keys [0, n_end) can be visible to some row of this block
    const int n_end = p.causal ? min(lk, min(m0 + block_m, lq) + diag) : lk;
    const int tiles = n_end > 0 ? (n_end + block_n - 1) / block_n : 0;

    auto load_tile = [&](int tile, int stage) {
        const int n0 = tile * block_n;
        load_rows<T, D>(k_s + stage * L::kv_elems, kg, p.ldk, n0, lk);
        load_rows<T, D>(v_s + stage * L::kv_elems, vg, p.ldv, n0, lk);
        if (maskg && tid < block_n) {
            const bool ok = n0 + tid < lk;
            cp_async4(smem_addr(mask_s + stage * block_n + tid), ok ? maskg + n0 + tid : maskg, ok);
        }
    };

    load_rows<T, D>(q_s, qg, p.ldq, m0, lq);  // rows past lq are zeros: finite scores, never stored
    cp_async_commit();
    if (tiles > 0) load_tile(0, 0);
    cp_async_commit();
    cp_async_wait<1>();  // this thread's part of Q has landed (tile 0 may still be in flight)
    __syncthreads();

    // A fragments of this warp's 16 query rows, one per k16 step of the head dimension
    uint32_t qf[D / 16][4];
#pragma unroll
    for (int ks = 0; ks < D / 16; ++ks)
        ldmatrix_x4(qf[ks], smem_addr(q_s + (warp * 16 + (lane & 15)) * L::stride + ks * 16 + (lane >> 4) * 8));

    // this thread's accumulator rows are row0 (fragment elements 0, 1) and row0 + 8 (elements 2, 3)
    const int row0 = m0 + warp * 16 + g;
    float o[D / 8][4];
#pragma unroll
    for (int nt = 0; nt < D / 8; ++nt) o[nt][0] = o[nt][1] = o[nt][2] = o[nt][3] = 0.0f;
    float m_run[2] = {-INFINITY, -INFINITY};  // running max of the scaled log2 scores (row-wide)
    float l_run[2] = {0.0f, 0.0f};            // running sum of this thread's own columns (reduced at the end)

    for (int tile = 0; tile < tiles; ++tile) {
        const int stage = tile & 1, n0 = tile * block_n;
        if (tile + 1 < tiles) load_tile(tile + 1, stage ^ 1);  // that stage was released by the last iteration's barrier
        cp_async_commit();                                     // possibly empty: keeps the group count uniform
        cp_async_wait<1>();                                    // everything but the newest group: this tile
        __syncthreads();
        const T* const ks_ = k_s + stage * L::kv_elems;
        const T* const vs_ = v_s + stage * L::kv_elems;

        // S = Q K^T: K rows (keys) are B's columns; matrices 0/1 = keys 0-7 at d +0/+8, matrices 2/3 = keys 8-15
        float s[block_n / 8][4];
#pragma unroll
        for (int nt = 0; nt < block_n / 8; ++nt) s[nt][0] = s[nt][1] = s[nt][2] = s[nt][3] = 0.0f;
#pragma unroll
        for (int ks = 0; ks < D / 16; ++ks) {
#pragma unroll
            for (int np = 0; np < block_n / 16; ++np) {
                uint32_t kb[4];
                ldmatrix_x4(kb, smem_addr(ks_ + (np * 16 + (lane & 7) + ((lane >> 4) << 3)) * L::stride + ks * 16 +
                                          ((lane >> 3) & 1) * 8));
                mma<T>(s[2 * np], qf[ks], kb[0], kb[1]);
                mma<T>(s[2 * np + 1], qf[ks], kb[2], kb[3]);
            }
        }

        // scale into log2 units; hidden keys -> -inf (only tiles that can hold one pay for the test)
        const bool masked_tile = maskg != nullptr || n0 + block_n > lk ||
                                 (p.causal && n0 + block_n - 1 > m0 + warp * 16 + diag);
#pragma unroll
        for (int nt = 0; nt < block_n / 8; ++nt) {
#pragma unroll
            for (int e = 0; e < 4; ++e) {
                float x = s[nt][e] * scale_log2;
                if (masked_tile) {
                    const int c = nt * 8 + 2 * t + (e & 1), j = n0 + c, i = row0 + (e >> 1) * 8;
                    const bool visible = j < lk && (!p.causal || j <= i + diag) &&
                                         (maskg == nullptr || mask_s[stage * block_n + c] != 0);
                    if (!visible) x = -INFINITY;
                }
                s[nt][e] = x;
            }
        }

        // online softmax: the 4 threads of a quad (lanes 4g..4g+3) share rows g and g + 8
        float mx[2] = {m_run[0], m_run[1]};
#pragma unroll
        for (int nt = 0; nt < block_n / 8; ++nt) {
            mx[0] = fmaxf(mx[0], fmaxf(s[nt][0], s[nt][1]));
            mx[1] = fmaxf(mx[1], fmaxf(s[nt][2], s[nt][3]));
        }
        float m_use[2];
#pragma unroll
        for (int r = 0; r < 2; ++r) {
            mx[r] = fmaxf(mx[r], __shfl_xor_sync(0xffffffffu, mx[r], 1));
            mx[r] = fmaxf(mx[r], __shfl_xor_sync(0xffffffffu, mx[r], 2));
            m_use[r] = mx[r] == -INFINITY ? 0.0f : mx[r];  // no visible key yet: exp2(-inf - 0) = 0, not NaN
            const float corr = exp2f(m_run[r] - m_use[r]);  // 0 while the row had no visible key
            m_run[r] = mx[r];
            l_run[r] *= corr;
#pragma unroll
            for (int nt = 0; nt < D / 8; ++nt) {
                o[nt][2 * r] *= corr;
                o[nt][2 * r + 1] *= corr;
            }
        }
#pragma unroll
        for (int nt = 0; nt < block_n / 8; ++nt) {
#pragma unroll
            for (int e = 0; e < 4; ++e) {
                s[nt][e] = exp2f(s[nt][e] - m_use[e >> 1]);
                l_run[e >> 1] += s[nt][e];
            }
        }

        // O += P V: the S accumulators of key tiles 2kk, 2kk+1 are P's A fragment for k16 step kk
#pragma unroll
        for (int kk = 0; kk < block_n / 16; ++kk) {
            const uint32_t pa[4] = {pack2<T>(s[2 * kk][0], s[2 * kk][1]), pack2<T>(s[2 * kk][2], s[2 * kk][3]),
                                    pack2<T>(s[2 * kk + 1][0], s[2 * kk + 1][1]),
                                    pack2<T>(s[2 * kk + 1][2], s[2 * kk + 1][3])};
#pragma unroll
            for (int dp = 0; dp < D / 16; ++dp) {
                // V rows (keys) are B's k index: .trans; matrices 0/1 = keys +0/+8 at d +0, matrices 2/3 at d +8
                uint32_t vb[4];
                ldmatrix_x4_trans(vb, smem_addr(vs_ + (kk * 16 + (lane & 7) + ((lane >> 3) & 1) * 8) * L::stride +
                                                dp * 16 + (lane >> 4) * 8));
                mma<T>(o[2 * dp], pa, vb[0], vb[1]);
                mma<T>(o[2 * dp + 1], pa, vb[2], vb[3]);
            }
        }
        __syncthreads();  // every warp is done with this stage before the next iteration refills it
    }
    cp_async_wait<0>();  // only empty groups can remain; leave nothing in flight

    float inv[2];
#pragma unroll
    for (int r = 0; r < 2; ++r) {
        float l = l_run[r];
        l += __shfl_xor_sync(0xffffffffu, l, 1);
        l += __shfl_xor_sync(0xffffffffu, l, 2);
        inv[r] = l > 0.0f ? 1.0f / l : 0.0f;  // no visible key: zeros, as variant 1
    }

    // stage O through this warp's own 16 rows of the Q tile (no other warp reads them), then 16-byte stores
    T* const o_s = q_s + warp * 16 * L::stride;
    __syncwarp();
#pragma unroll
    for (int nt = 0; nt < D / 8; ++nt) {
#pragma unroll
        for (int r = 0; r < 2; ++r)
            *reinterpret_cast<uint32_t*>(o_s + (g + 8 * r) * L::stride + nt * 8 + 2 * t) =
                pack2<T>(o[nt][2 * r] * inv[r], o[nt][2 * r + 1] * inv[r]);
    }
    __syncwarp();
    T* const og = out + b * p.stride_o + h * D;
#pragma unroll
    for (int c = 0; c < 16 * L::chunks / 32; ++c) {
        const int idx = lane + 32 * c, r = idx / L::chunks, ch = idx % L::chunks, i = m0 + warp * 16 + r;
        if (i < lq)
            *reinterpret_cast<uint4*>(og + int64_t(i) * p.ldo + ch * 8) =
                *reinterpret_cast<const uint4*>(o_s + r * L::stride + ch * 8);
    }
}

template <typename T, int D>
void launch(const Params& p, int64_t q, int64_t k, int64_t v, int64_t out) {
    static const char* fn = "vlmc_attention";
    constexpr int smem = Tile<D>::smem_bytes;
    if constexpr (smem > 48 * 1024) {
        static const bool raised = [] {  // once per instantiation (retried if it threw)
            VLMC_CHECK(fn, cudaFuncSetAttribute(attention_flash<T, D>, cudaFuncAttributeMaxDynamicSharedMemorySize, smem));
            return true;
        }();
        (void)raised;
    }
    const int64_t m_blocks = (p.lq + block_m - 1) / block_m, blocks = m_blocks * p.batch * p.heads;
    if (blocks > INT_MAX) vlmc::fail(fn, "too many query blocks for one launch (", blocks, ")");
    const float log2e = 1.4426950408889634f;
    attention_flash<T, D><<<unsigned(blocks), threads, smem, vlmc::stream()>>>(
        p, reinterpret_cast<const T*>(q), reinterpret_cast<const T*>(k), reinterpret_cast<const T*>(v),
        reinterpret_cast<T*>(out), int(m_blocks), p.scale * log2e);
    VLMC_CHECK(fn, cudaGetLastError());
}

template <typename T>
void launch_dim(const Params& p, int64_t q, int64_t k, int64_t v, int64_t out) {
    switch (p.d) {
        case 32: launch<T, 32>(p, q, k, v, out); break;
        case 64: launch<T, 64>(p, q, k, v, out); break;
        case 80: launch<T, 80>(p, q, k, v, out); break;
        default: launch<T, 128>(p, q, k, v, out); break;
    }
}

}  // namespace

const char* flash_unsupported(int dtype, const Params& p, int64_t q, int64_t k, int64_t v, int64_t out) {
    if (dtype != 1 && dtype != 2) return "dtype must be F16 or BF16";
    if (p.d != 32 && p.d != 64 && p.d != 80 && p.d != 128) return "head_dim must be 32, 64, 80 or 128";
    if ((q | k | v | out) % 16 != 0) return "q, k, v and out must be 16-byte aligned";
    if ((p.ldq | p.ldk | p.ldv | p.ldo | p.stride_q | p.stride_k | p.stride_v | p.stride_o) % 8 != 0)
        return "leading dimensions and batch strides must be multiples of 8 elements";
    if (reinterpret_cast<int64_t>(p.mask) % 4 != 0) return "key_mask must be 4-byte aligned";
    if (p.lq > (1 << 30) || p.lk > (1 << 30)) return "lq and lk must be <= 2^30";
    return nullptr;
}

void flash_attention(int dtype, const Params& p, int64_t q, int64_t k, int64_t v, int64_t out) {
    if (dtype == 1) launch_dim<__half>(p, q, k, v, out);
    else launch_dim<__nv_bfloat16>(p, q, k, v, out);
}

}  // namespace vlmc::attention
