// GEMM variant 2: tensor cores through mma.sync.m16n8k16 (sm_80+), F16/BF16 inputs, FP32 accumulation, the fused
// epilogue of variant 1. Layout "NT" only — C[M, N] = A[M, K] . B[N, K]^T, the linear layer with PyTorch's
// [out, in] weights — so both operands are K-contiguous and load with plain (non-transposing) ldmatrix.
//
// Block: 128x128 outputs, 8 warps in a 2x4 grid, each warp 64x32 = 4 m16 x 4 n8 mma tiles (64 fp32 accumulators
// per thread). K advances 32 at a time through a 4-stage cp.async ring (4 x (8 KiB A + 8 KiB B) = 64 KiB of
// dynamic shared memory, two blocks per SM on A100/H100). Rows of a stage tile are 64 bytes = four 16-byte chunks;
// chunk c of row r is stored at chunk c ^ ((r >> 1) & 3), which puts the 8 rows an ldmatrix phase reads (and the
// rows a cp.async wave writes) on 8 distinct 16-byte bank groups. Ragged M, N and K edges are zero-filled by
// cp.async's src-size operand (K % 8 == 0 keeps every 16-byte chunk all-in or all-out).
#include "dtype.cuh"
#include "cp_async.cuh"
#include "gemm_mma.cuh"

#include <mutex>

namespace {

using vlmc::from_f;
using vlmc::to_f;
using vlmc::cp_async16;
using vlmc::cp_async_commit;
using vlmc::cp_async_wait;
using vlmc::smem_addr;

constexpr int BM = 128, BN = 128, BK = 32, STAGES = 4, THREADS = 256;
constexpr int TILE_BYTES = BM * BK * 2;              // one operand, one stage (BM == BN)
constexpr int SMEM_BYTES = STAGES * 2 * TILE_BYTES;  // 64 KiB

// Byte offset of 16-byte chunk c (0..3) of row r inside one [128][32] 16-bit stage tile.
__device__ __forceinline__ uint32_t swizzle(int r, int c) { return uint32_t(r * 64 + ((c ^ ((r >> 1) & 3)) << 4)); }

__device__ __forceinline__ void ldmatrix_x4(uint32_t addr, uint32_t& r0, uint32_t& r1, uint32_t& r2, uint32_t& r3) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
                 : "=r"(r0), "=r"(r1), "=r"(r2), "=r"(r3)
                 : "r"(addr));
}

// d += a . b for one m16n8k16 tile: a = 4 registers of packed pairs (rows g / g+8, k 2t.. / 2t+8..), b = 2.
template <typename T>
__device__ __forceinline__ void mma16816(float (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1);
template <>
__device__ __forceinline__ void mma16816<__half>(float (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
                 "{%0, %1, %2, %3};\n"
                 : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}
template <>
__device__ __forceinline__ void mma16816<__nv_bfloat16>(float (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
                 "{%0, %1, %2, %3};\n"
                 : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

// One thread's share of the stage loads: chunk column c = tid % 4 of rows tid / 4 and tid / 4 + 64 of each operand's
// 128-row tile, so one swizzled offset serves both rows ((r + 64) keeps r's swizzle) and the global pointers only
// advance by BK per k-tile.
template <typename T>
struct StageLoader {
    const T* a[2];
    const T* b[2];
    bool a_in[2], b_in[2];
    uint32_t offset;
    int64_t kc;  // this thread's first K column
    __device__ StageLoader(const vlmc::GemmParams& p, const T* A, const T* B, int64_t row0, int64_t col0) {
        const int r = int(threadIdx.x) >> 2, c = int(threadIdx.x) & 3;
        kc = c * 8;
        offset = swizzle(r, c);
#pragma unroll
        for (int i = 0; i < 2; ++i) {
            a_in[i] = row0 + r + 64 * i < p.m;
            b_in[i] = col0 + r + 64 * i < p.n;
            a[i] = a_in[i] ? A + (row0 + r + 64 * i) * p.lda + kc : A;
            b[i] = b_in[i] ? B + (col0 + r + 64 * i) * p.ldb + kc : B;
        }
    }
    // Issues the copies of k-tile kt into the stage at shared addresses sa (A) and sb (B).
    __device__ __forceinline__ void load(int64_t kt, int64_t k, uint32_t sa, uint32_t sb) const {
        const int64_t k0 = kt * BK;
        const bool k_in = k0 + kc < k;
#pragma unroll
        for (int i = 0; i < 2; ++i) {
            cp_async16(sa + offset + i * 64 * 64, a_in[i] && k_in ? a[i] + k0 : a[i], a_in[i] && k_in);
            cp_async16(sb + offset + i * 64 * 64, b_in[i] && k_in ? b[i] + k0 : b[i], b_in[i] && k_in);
        }
    }
};

template <typename T>
__global__ void __launch_bounds__(THREADS, 2) gemm_mma_nt(vlmc::GemmParams p, const T* __restrict__ a, const T* __restrict__ b,
                                                           T* c, const T* __restrict__ r) {
    extern __shared__ __align__(128) unsigned char smem[];
    const uint32_t base = smem_addr(smem);
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    const int wm = warp >> 2, wn = warp & 3;  // warp tile origin: rows wm * 64, cols wn * 32
    const int g = lane >> 2, t = lane & 3;
    const int64_t row0 = int64_t(blockIdx.y) * BM, col0 = int64_t(blockIdx.x) * BN;
    const int64_t ktiles = (p.k + BK - 1) / BK;
    for (int64_t bz = blockIdx.z; bz < p.batch; bz += gridDim.z) {
        const T* A = a + bz * p.stride_a;
        const T* B = b + bz * p.stride_b;
        const StageLoader<T> loader(p, A, B, row0, col0);
        float acc[4][4][4] = {};
        __syncthreads();  // the previous batch entry's last reads of the ring are done
#pragma unroll
        for (int s = 0; s < STAGES - 1; ++s) {
            if (s < ktiles) loader.load(s, p.k, base + s * 2 * TILE_BYTES, base + s * 2 * TILE_BYTES + TILE_BYTES);
            cp_async_commit();  // always commit so the group count stays (STAGES - 1) + kt at iteration kt
        }
        for (int64_t kt = 0; kt < ktiles; ++kt) {
            cp_async_wait<STAGES - 2>();  // group kt has landed (this thread's copies) ...
            __syncthreads();              // ... and everyone's; the stage read at kt - 1 is free again
            const int64_t next = kt + STAGES - 1;
            if (next < ktiles) {
                const uint32_t s = base + uint32_t(next % STAGES) * 2 * TILE_BYTES;
                loader.load(next, p.k, s, s + TILE_BYTES);
            }
            cp_async_commit();
            const uint32_t sa = base + uint32_t(kt % STAGES) * 2 * TILE_BYTES, sb = sa + TILE_BYTES;
#pragma unroll
            for (int kk = 0; kk < BK / 16; ++kk) {
                uint32_t af[4][4];
#pragma unroll
                for (int mi = 0; mi < 4; ++mi) {
                    // lanes 0-15 address rows 0-15 at k 0-7, lanes 16-31 the same rows at k 8-15: a0a1, a2a3, a4a5, a6a7
                    const int row = wm * 64 + mi * 16 + (lane & 15), chunk = kk * 2 + (lane >> 4);
                    ldmatrix_x4(sa + swizzle(row, chunk), af[mi][0], af[mi][1], af[mi][2], af[mi][3]);
                }
#pragma unroll
                for (int nj = 0; nj < 2; ++nj) {
                    // matrices: (n 0-7, k 0-7), (n 0-7, k 8-15), (n 8-15, k 0-7), (n 8-15, k 8-15) = b0b1, b2b3 of two n8 tiles
                    uint32_t b00, b01, b10, b11;
                    const int row = wn * 32 + nj * 16 + (lane & 7) + ((lane >> 4) << 3), chunk = kk * 2 + ((lane >> 3) & 1);
                    ldmatrix_x4(sb + swizzle(row, chunk), b00, b01, b10, b11);
#pragma unroll
                    for (int mi = 0; mi < 4; ++mi) {
                        mma16816<T>(acc[mi][2 * nj], af[mi], b00, b01);
                        mma16816<T>(acc[mi][2 * nj + 1], af[mi], b10, b11);
                    }
                }
            }
        }
        cp_async_wait<0>();  // nothing may still be writing the ring when the next batch entry starts
        T* C = c + bz * p.stride_c;
        const T* R = r ? r + bz * p.stride_r : nullptr;
#pragma unroll
        for (int mi = 0; mi < 4; ++mi) {
#pragma unroll
            for (int half = 0; half < 2; ++half) {  // accumulator pairs (0, 1) on row g, (2, 3) on row g + 8
                const int64_t gi = row0 + wm * 64 + mi * 16 + g + half * 8;
                if (gi >= p.m) continue;
#pragma unroll
                for (int ni = 0; ni < 4; ++ni) {
#pragma unroll
                    for (int e = 0; e < 2; ++e) {
                        const int64_t gj = col0 + wn * 32 + ni * 8 + 2 * t + e;
                        if (gj >= p.n) continue;
                        float v = p.alpha * acc[mi][ni][half * 2 + e];
                        if (p.beta != 0.0f) v += p.beta * to_f(C[gi * p.ldc + gj]);
                        if (p.bias) v += p.bias[gj];
                        v = vlmc::activate(v, p.act);
                        if (R) v += to_f(R[gi * p.ldr + gj]);
                        C[gi * p.ldc + gj] = from_f<T>(v);
                    }
                }
            }
        }
    }
}

template <typename T>
void launch(const char* fn, const vlmc::GemmParams& p, int64_t a, int64_t b, int64_t c, int64_t r) {
    static std::once_flag smem_set;
    std::call_once(smem_set, [fn] {
        VLMC_CHECK(fn, cudaFuncSetAttribute(gemm_mma_nt<T>, cudaFuncAttributeMaxDynamicSharedMemorySize, SMEM_BYTES));
    });
    const dim3 grid = vlmc::gemm_grid(fn, p, BM, BN);
    gemm_mma_nt<T><<<grid, THREADS, SMEM_BYTES, vlmc::stream()>>>(p, reinterpret_cast<const T*>(a), reinterpret_cast<const T*>(b),
                                                                    reinterpret_cast<T*>(c), reinterpret_cast<const T*>(r));
    VLMC_CHECK(fn, cudaGetLastError());
}

}  // namespace

int vlmc::device_cc() {
    static int cc[64];  // per device ordinal; 0 = not asked yet
    int dev = 0;
    if (cudaGetDevice(&dev) != cudaSuccess || dev < 0 || dev >= 64) {
        cudaGetLastError();
        return 0;
    }
    if (cc[dev] == 0) {
        int major = 0, minor = 0;
        if (cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev) != cudaSuccess ||
            cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, dev) != cudaSuccess) {
            cudaGetLastError();
            return 0;
        }
        cc[dev] = major * 10 + minor;
    }
    return cc[dev];
}

dim3 vlmc::gemm_grid(const char* fn, const GemmParams& p, int bm, int bn) {
    const int64_t gx = (p.n + bn - 1) / bn, gy = (p.m + bm - 1) / bm;
    if (gy > 65535 || gx > 0x7fffffff) vlmc::fail(fn, "m or n too large for one launch (m ", p.m, ", n ", p.n, ")");
    return dim3(unsigned(gx), unsigned(gy), unsigned(p.batch < 65535 ? p.batch : 65535));
}

bool vlmc::mma_supported() { return device_cc() >= 80; }

void vlmc::launch_gemm_mma(const char* fn, int dtype, const GemmParams& p, int64_t a, int64_t b, int64_t c, int64_t r) {
    if (dtype == 1) launch<__half>(fn, p, a, b, c, r);
    else if (dtype == 2) launch<__nv_bfloat16>(fn, p, a, b, c, r);
    else vlmc::fail(fn, "the tensor-core variant takes F16 or BF16, got dtype ", dtype);
}
