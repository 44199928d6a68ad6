// Attention backward on packed QKV, FlashAttention-2 style (Dao 2023, Algorithm 2): the softmax is recomputed from
// q and k, no [L, L] matrix reaches memory. With S = scale Q K^T (masked entries -inf), P = softmax_rows(S) and
// dO the output gradient:
//   dV = P^T dO,  dP = dO V^T,  dS = P (dP - D) with D_i = sum_e dO_ie O_ie,  dQ = scale dS K,  dK = scale dS^T Q.
// Variant 1 (SIMT, fp32 math for every dtype; tiles in the storage type in shared memory):
//   1. prepare: one block per (batch, head, 32 query rows) computes each row's log-sum-exp (in log2 units, +inf for
//      a row that sees no key, so that its P is 0) and D, and zeroes the row's part of the fp32 dQ accumulator;
//   2. kv: one block per (batch, head, 32 keys) keeps K, V in shared memory and dK, dV in registers, walks the query
//      tiles the keys are visible from (causal: from its own diagonal on), recomputes P and dS for the 32x32 tile and
//      adds scale dS K into dQ with atomics (red.global.add.f32);
//   3. convert: dQ (fp32) into the q part of dqkv.
// 128 threads; in the S/dP step a thread owns rows {rg, rg + 16} x keys {cg + 8k}, in the dV/dK step keys
// {4 kg + i} x dims {(t mod 16) + 16 k}, in the dQ step rows {kg + 8 i} x the same dims (kg = t / 16). Shared rows have an odd
// number of 32-bit words, so the rows a warp reads at one column sit in distinct banks.
// cuda/dev/attention_backward.cu checks it against float64 and times it.
#include "vlm4j/cuda_kernels.h"
#include "dtype.cuh"

#include <algorithm>
#include <climits>
#include <cmath>

namespace {

using vlmc::from_f;
using vlmc::to_f;

constexpr int threads = 128;
constexpr int tile = 32;  // query rows per tile = keys per block (the causal start tile is the key block's own)
constexpr int max_head_dim = 128;
constexpr int ps_pitch = 40;  // P and dS rows: 40 = 8 mod 32 words, the S/dP step's 32 stores hit 32 banks

struct Geometry {
    const int32_t* mask;  // [batch, len], 0 = masked key, or null
    int64_t heads, len, d, w;  // w = heads * d: q, k, v at columns 0, w, 2w of a qkv row (3w wide)
    float scale, scale_log2;
    int causal;
};

// Padded shared-memory tile of 32 rows x D columns (D = head_dim rounded up to 32, 64, 96 or 128) in T.
template <typename T, int D>
struct Tile {
    static constexpr int pitch = D + (sizeof(T) == 4 ? 1 : 2);  // odd number of 32-bit words per row
    static constexpr int elems = tile * pitch;
};

// Rows [r0, r0 + 32) x columns [0, D) of a head's slice (src = its row 0, ld elements apart), zeros past len / d.
template <typename T, int D>
__device__ __forceinline__ void load_tile(T* dst, const T* src, int64_t ld, int r0, int len, int d) {
    for (int idx = threadIdx.x; idx < tile * D; idx += threads) {
        const int r = idx / D, e = idx % D;
        dst[r * Tile<T, D>::pitch + e] = r0 + r < len && e < d ? src[int64_t(r0 + r) * ld + e] : T{};  // T{}: all-zero bits
    }
}

__device__ __forceinline__ bool visible(const Geometry& g, int i, int j, bool key_kept) {
    return i < g.len && j < g.len && (!g.causal || j <= i) && key_kept;
}

// Min 4 blocks per SM: without it ptxas gave the BF16 instantiations 48 registers and a 4-byte spill on sm_90a.
template <typename T, int D>
__global__ void __launch_bounds__(threads, 4) attention_backward_prepare(Geometry g, const T* __restrict__ qkv,
                                                                      const T* __restrict__ out, const T* __restrict__ dout,
                                                                      float* __restrict__ lse, float* __restrict__ delta,
                                                                      float* __restrict__ dq, int m_tiles) {
    using L = Tile<T, D>;
    __shared__ T q_s[L::elems], k_s[L::elems];
    __shared__ int32_t mask_s[tile];
    const int tid = threadIdx.x, rg = tid >> 3, cg = tid & 7;
    const int qt = int(blockIdx.x % unsigned(m_tiles));
    const int64_t bh = blockIdx.x / unsigned(m_tiles), b = bh / g.heads, h = bh % g.heads;
    const int len = int(g.len), d = int(g.d), i0 = qt * tile;
    const int64_t ld = 3 * g.w;
    const T* const qg = qkv + b * g.len * ld + h * g.d;
    const T* const kp = qg + g.w;

    // D_i = <dO_i, O_i> and dQ_i = 0 for rows rg and rg + 16, 8 lanes per row
#pragma unroll
    for (int m = 0; m < 2; ++m) {
        const int i = i0 + rg + 16 * m;
        float acc = 0.0f;
        if (i < len) {
            const int64_t row = (b * g.len + i) * g.w + h * g.d;
            for (int e = cg; e < d; e += 8) {
                acc = fmaf(to_f(dout[row + e]), to_f(out[row + e]), acc);
                dq[row + e] = 0.0f;
            }
        }
        acc += __shfl_xor_sync(0xffffffffu, acc, 1);
        acc += __shfl_xor_sync(0xffffffffu, acc, 2);
        acc += __shfl_xor_sync(0xffffffffu, acc, 4);
        if (cg == 0 && i < len) delta[bh * g.len + i] = acc;
    }

    load_tile<T, D>(q_s, qg, ld, i0, len, d);
    float m_run[2] = {-INFINITY, -INFINITY}, l_run[2] = {0.0f, 0.0f};  // l_run: this lane's columns only
    const int n_end = g.causal ? min(len, i0 + tile) : len;
    for (int j0 = 0; j0 < n_end; j0 += tile) {
        __syncthreads();  // the previous key tile is no longer read
        load_tile<T, D>(k_s, kp, ld, j0, len, d);
        if (tid < tile) mask_s[tid] = g.mask == nullptr || (j0 + tid < len && g.mask[b * g.len + j0 + tid] != 0);
        __syncthreads();
        float s[2][4] = {};
#pragma unroll 4
        for (int e = 0; e < D; ++e) {
            const float q0 = to_f(q_s[rg * L::pitch + e]), q1 = to_f(q_s[(rg + 16) * L::pitch + e]);
#pragma unroll
            for (int k = 0; k < 4; ++k) {
                const float kv = to_f(k_s[(cg + 8 * k) * L::pitch + e]);
                s[0][k] = fmaf(q0, kv, s[0][k]);
                s[1][k] = fmaf(q1, kv, s[1][k]);
            }
        }
#pragma unroll
        for (int m = 0; m < 2; ++m) {
            const int i = i0 + rg + 16 * m;
            float mx = -INFINITY;
#pragma unroll
            for (int k = 0; k < 4; ++k) {
                const int c = cg + 8 * k;
                s[m][k] = visible(g, i, j0 + c, mask_s[c] != 0) ? s[m][k] * g.scale_log2 : -INFINITY;
                mx = fmaxf(mx, s[m][k]);
            }
            mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
            mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
            mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 4));
            const float m_new = fmaxf(m_run[m], mx);
            const float m_use = m_new == -INFINITY ? 0.0f : m_new;  // nothing visible yet: exp2(-inf - 0) = 0, not NaN
            float sum = l_run[m] * exp2f(m_run[m] - m_use);           // exp2(-inf) = 0 on the first visible key
#pragma unroll
            for (int k = 0; k < 4; ++k) sum += exp2f(s[m][k] - m_use);
            l_run[m] = sum;
            m_run[m] = m_new;
        }
    }
#pragma unroll
    for (int m = 0; m < 2; ++m) {
        float l = l_run[m];
        l += __shfl_xor_sync(0xffffffffu, l, 1);
        l += __shfl_xor_sync(0xffffffffu, l, 2);
        l += __shfl_xor_sync(0xffffffffu, l, 4);
        const int i = i0 + rg + 16 * m;
        if (cg == 0 && i < len) lse[bh * g.len + i] = l > 0.0f ? m_run[m] + log2f(l) : INFINITY;
    }
}

template <typename T, int D>
constexpr int kv_smem_bytes() {
    return 4 * Tile<T, D>::elems * int(sizeof(T)) + 2 * tile * ps_pitch * 4 + 2 * tile * 4 + tile * 4;
}

template <typename T, int D>
__global__ void __launch_bounds__(threads) attention_backward_kv(Geometry g, const T* __restrict__ qkv,
                                                                 const T* __restrict__ dout, const float* __restrict__ lse,
                                                                 const float* __restrict__ delta, float* __restrict__ dq,
                                                                 T* __restrict__ dqkv, int n_tiles) {
    using L = Tile<T, D>;
    constexpr int dn = D / 16;  // dims per thread in the dV/dK and dQ steps
    extern __shared__ __align__(16) unsigned char smem[];
    T* const k_s = reinterpret_cast<T*>(smem);
    T* const v_s = k_s + L::elems;
    T* const q_s = v_s + L::elems;
    T* const do_s = q_s + L::elems;
    float* const p_s = reinterpret_cast<float*>(do_s + L::elems);  // [32][ps_pitch]
    float* const ds_s = p_s + tile * ps_pitch;                      // [32][ps_pitch]
    float* const lse_s = ds_s + tile * ps_pitch;
    float* const delta_s = lse_s + tile;
    int32_t* const mask_s = reinterpret_cast<int32_t*>(delta_s + tile);

    const int tid = threadIdx.x, rg = tid >> 3, cg = tid & 7, kg = tid >> 4, dl = tid & 15;
    const int kt = int(blockIdx.x % unsigned(n_tiles));
    const int64_t bh = blockIdx.x / unsigned(n_tiles), b = bh / g.heads, h = bh % g.heads;
    const int len = int(g.len), d = int(g.d), j0 = kt * tile;
    const int64_t ld = 3 * g.w;
    const T* const qg = qkv + b * g.len * ld + h * g.d;
    const T* const kp = qg + g.w;
    const T* const vg = qg + 2 * g.w;
    const T* const dog = dout + b * g.len * g.w + h * g.d;
    float* const dqg = dq + b * g.len * g.w + h * g.d;

    load_tile<T, D>(k_s, kp, ld, j0, len, d);
    load_tile<T, D>(v_s, vg, ld, j0, len, d);
    if (tid < tile) mask_s[tid] = j0 + tid < len && (g.mask == nullptr || g.mask[b * g.len + j0 + tid] != 0);
    // a block whose keys are all masked contributes nothing: it only writes its zero dK, dV
    const bool any_key = __syncthreads_or(tid < tile && mask_s[tid] != 0);

    float dk[4][dn] = {}, dv[4][dn] = {};
    const int m_tiles = (len + tile - 1) / tile;
    for (int qt = any_key ? (g.causal ? kt : 0) : m_tiles; qt < m_tiles; ++qt) {
        const int i0 = qt * tile;
        __syncthreads();  // the previous query tile, P and dS are no longer read
        load_tile<T, D>(q_s, qg, ld, i0, len, d);
        load_tile<T, D>(do_s, dog, g.w, i0, len, d);
        if (tid < tile) {
            const int i = i0 + tid;
            lse_s[tid] = i < len ? lse[bh * g.len + i] : INFINITY;
            delta_s[tid] = i < len ? delta[bh * g.len + i] : 0.0f;
        }
        __syncthreads();

        // S = Q K^T and dP = dO V^T for rows {rg, rg + 16} x keys {cg + 8k}
        float s[2][4] = {}, dp[2][4] = {};
#pragma unroll 4
        for (int e = 0; e < D; ++e) {
            const float q0 = to_f(q_s[rg * L::pitch + e]), q1 = to_f(q_s[(rg + 16) * L::pitch + e]);
            const float o0 = to_f(do_s[rg * L::pitch + e]), o1 = to_f(do_s[(rg + 16) * L::pitch + e]);
#pragma unroll
            for (int k = 0; k < 4; ++k) {
                const float kv = to_f(k_s[(cg + 8 * k) * L::pitch + e]), vv = to_f(v_s[(cg + 8 * k) * L::pitch + e]);
                s[0][k] = fmaf(q0, kv, s[0][k]);
                s[1][k] = fmaf(q1, kv, s[1][k]);
                dp[0][k] = fmaf(o0, vv, dp[0][k]);
                dp[1][k] = fmaf(o1, vv, dp[1][k]);
            }
        }
#pragma unroll
        for (int m = 0; m < 2; ++m) {
            const int r = rg + 16 * m;
#pragma unroll
            for (int k = 0; k < 4; ++k) {
                const int c = cg + 8 * k;
                const float p = visible(g, i0 + r, j0 + c, mask_s[c] != 0) ? exp2f(s[m][k] * g.scale_log2 - lse_s[r]) : 0.0f;
                p_s[r * ps_pitch + c] = p;
                ds_s[r * ps_pitch + c] = p * (dp[m][k] - delta_s[r]);
            }
        }
        __syncthreads();

        // dV += P^T dO and dK += dS^T Q (scale applied at the end) for keys {4 kg + i} x dims {dl + 16 k}
#pragma unroll 2
        for (int r = 0; r < tile; ++r) {
            float pv[4], dsv[4];
#pragma unroll
            for (int i = 0; i < 4; ++i) {
                pv[i] = p_s[r * ps_pitch + 4 * kg + i];
                dsv[i] = ds_s[r * ps_pitch + 4 * kg + i];
            }
#pragma unroll
            for (int k = 0; k < dn; ++k) {
                const float o = to_f(do_s[r * L::pitch + dl + 16 * k]), q = to_f(q_s[r * L::pitch + dl + 16 * k]);
#pragma unroll
                for (int i = 0; i < 4; ++i) {
                    dv[i][k] = fmaf(pv[i], o, dv[i][k]);
                    dk[i][k] = fmaf(dsv[i], q, dk[i][k]);
                }
            }
        }

        // dQ += scale dS K for rows {kg + 8 i} x dims {dl + 16 k}, added to the fp32 accumulator
        float acc[4][dn] = {};
#pragma unroll 2
        for (int c = 0; c < tile; ++c) {
            float dsv[4];
#pragma unroll
            for (int i = 0; i < 4; ++i) dsv[i] = ds_s[(kg + 8 * i) * ps_pitch + c];
#pragma unroll
            for (int k = 0; k < dn; ++k) {
                const float kv = to_f(k_s[c * L::pitch + dl + 16 * k]);
#pragma unroll
                for (int i = 0; i < 4; ++i) acc[i][k] = fmaf(dsv[i], kv, acc[i][k]);
            }
        }
#pragma unroll
        for (int i = 0; i < 4; ++i) {
            const int row = i0 + kg + 8 * i;
            if (row >= len) continue;
#pragma unroll
            for (int k = 0; k < dn; ++k) {
                const int e = dl + 16 * k;
                if (e < d) atomicAdd(dqg + int64_t(row) * g.w + e, acc[i][k] * g.scale);
            }
        }
    }

    // dK and dV of keys {4 kg + i}: every element of the block's k and v parts of dqkv is written
    T* const dkg = dqkv + b * g.len * ld + g.w + h * g.d;
    T* const dvg = dkg + g.w;
#pragma unroll
    for (int i = 0; i < 4; ++i) {
        const int j = j0 + 4 * kg + i;
        if (j >= len) continue;
#pragma unroll
        for (int k = 0; k < dn; ++k) {
            const int e = dl + 16 * k;
            if (e < d) {
                dkg[int64_t(j) * ld + e] = from_f<T>(dk[i][k] * g.scale);
                dvg[int64_t(j) * ld + e] = from_f<T>(dv[i][k]);
            }
        }
    }
}

// dqkv[row, c] = dq[row, c] for c < w: the q part of each packed row.
template <typename T>
__global__ void attention_backward_dq(const float* __restrict__ dq, T* __restrict__ dqkv, int64_t rows, int64_t w) {
    const int64_t n = rows * w;
    for (int64_t idx = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; idx < n; idx += int64_t(gridDim.x) * blockDim.x) {
        const int64_t row = idx / w, c = idx - row * w;
        dqkv[row * 3 * w + c] = from_f<T>(dq[idx]);
    }
}

}  // namespace

namespace {

template <typename T, int D>
void launch(const char* fn, const Geometry& g, int64_t batch, const T* qkv, const T* out, const T* dout, T* dqkv, float* dq,
            float* lse, float* delta) {
    constexpr int smem = kv_smem_bytes<T, D>();
    if constexpr (smem > 48 * 1024) {
        static const bool raised = [fn] {  // once per instantiation (retried if it threw)
            VLMC_CHECK(fn, cudaFuncSetAttribute(attention_backward_kv<T, D>, cudaFuncAttributeMaxDynamicSharedMemorySize, smem));
            return true;
        }();
        (void)raised;
    }
    const int64_t tiles = (g.len + tile - 1) / tile, blocks = batch * g.heads * tiles;
    if (blocks > INT_MAX) vlmc::fail(fn, "too many tiles for one launch (", blocks, ")");
    attention_backward_prepare<T, D><<<unsigned(blocks), threads, 0, vlmc::stream()>>>(g, qkv, out, dout, lse, delta, dq,
                                                                                      int(tiles));
    VLMC_CHECK(fn, cudaGetLastError());
    attention_backward_kv<T, D><<<unsigned(blocks), threads, smem, vlmc::stream()>>>(g, qkv, dout, lse, delta, dq, dqkv,
                                                                                    int(tiles));
    VLMC_CHECK(fn, cudaGetLastError());
    const int64_t n = batch * g.len * g.w, grid = std::min<int64_t>((n + 255) / 256, 65536 * 8);
    attention_backward_dq<T><<<unsigned(grid), 256, 0, vlmc::stream()>>>(dq, dqkv, batch * g.len, g.w);
    VLMC_CHECK(fn, cudaGetLastError());
}

bool overlap(int64_t a, int64_t a_bytes, int64_t b, int64_t b_bytes) { return a < b + b_bytes && b < a + a_bytes; }

}  // namespace

int64_t vlmc_attention_backward_workspace(int64_t batch, int64_t heads, int64_t len, int64_t head_dim) {
    if (batch <= 0 || heads <= 0 || len <= 0 || head_dim <= 0) return 0;
    // fp32 dQ [B, L, H d], then log-sum-exp and D [B, H, L] each
    return int64_t(sizeof(float)) * (batch * len * heads * head_dim + 2 * batch * heads * len);
}

void vlmc_attention_backward(int dtype, int64_t qkv, int64_t out, int64_t dout, int64_t dqkv, int64_t batch,
                             int64_t heads, int64_t len, int64_t head_dim, float scale, int causal, int64_t key_mask,
                             int64_t workspace, int64_t workspace_bytes) {
    static const char* fn = "vlmc_attention_backward";
    vlmc::check_dtype(fn, dtype);
    vlmc::check_n(fn, batch);
    vlmc::check_n(fn, len);
    if (heads <= 0 || head_dim <= 0) vlmc::fail(fn, "heads and head_dim must be > 0 (got ", heads, ", ", head_dim, ")");
    if (head_dim > max_head_dim) vlmc::fail(fn, "head_dim must be <= ", max_head_dim, " (got ", head_dim, ")");
    if (len > (int64_t(1) << 30)) vlmc::fail(fn, "len must be <= 2^30 (got ", len, ")");
    if (!std::isfinite(scale)) vlmc::fail(fn, "scale must be finite");
    if (batch == 0 || len == 0) return;
    vlmc::check_ptr(fn, qkv, "qkv");
    vlmc::check_ptr(fn, out, "out");
    vlmc::check_ptr(fn, dout, "dout");
    vlmc::check_ptr(fn, dqkv, "dqkv");
    if (key_mask % 4 != 0) vlmc::fail(fn, "key_mask must be 4-byte aligned");
    const int64_t need = vlmc_attention_backward_workspace(batch, heads, len, head_dim);
    vlmc::check_ptr(fn, workspace, "workspace");
    if (workspace_bytes < need) vlmc::fail(fn, "workspace of ", workspace_bytes, " bytes is smaller than the ", need, " needed");
    if (workspace % 4 != 0) vlmc::fail(fn, "workspace must be 4-byte aligned");
    const int64_t w = heads * head_dim, eb = dtype == 0 ? 4 : 2, qkv_bytes = batch * len * 3 * w * eb, o_bytes = batch * len * w * eb;
    if (overlap(dqkv, qkv_bytes, qkv, qkv_bytes) || overlap(dqkv, qkv_bytes, out, o_bytes) || overlap(dqkv, qkv_bytes, dout, o_bytes))
        vlmc::fail(fn, "dqkv overlaps qkv, out or dout");
    if (overlap(workspace, need, qkv, qkv_bytes) || overlap(workspace, need, dqkv, qkv_bytes))
        vlmc::fail(fn, "the workspace overlaps qkv or dqkv");

    const float log2e = 1.4426950408889634f;
    const Geometry g{reinterpret_cast<const int32_t*>(key_mask), heads, len, head_dim, w, scale, scale * log2e, causal ? 1 : 0};
    float* const dq = reinterpret_cast<float*>(workspace);
    float* const lse = dq + batch * len * w;
    float* const delta = lse + batch * heads * len;
    vlmc::dispatch(dtype, [&](auto t) {
        using T = decltype(t);
        const T* const q = reinterpret_cast<const T*>(qkv);
        const T* const o = reinterpret_cast<const T*>(out);
        const T* const dO = reinterpret_cast<const T*>(dout);
        T* const dst = reinterpret_cast<T*>(dqkv);
        if (head_dim <= 32) launch<T, 32>(fn, g, batch, q, o, dO, dst, dq, lse, delta);
        else if (head_dim <= 64) launch<T, 64>(fn, g, batch, q, o, dO, dst, dq, lse, delta);
        else if (head_dim <= 96) launch<T, 96>(fn, g, batch, q, o, dO, dst, dq, lse, delta);
        else launch<T, 128>(fn, g, batch, q, o, dO, dst, dq, lse, delta);
    });
}
