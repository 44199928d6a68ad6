// GEMM variant 3 (sm_90a, Hopper): warpgroup MMA. Same contract and layout as variant 2 (F16/BF16, "NT",
// FP32 accumulation, fused epilogue), but each warpgroup issues wgmma.mma_async m64n128k16 reading both operands
// straight from shared memory through matrix descriptors, instead of per-warp ldmatrix + mma.sync.
//
// Block: 2 warpgroups (256 threads), 128x128 outputs (64 rows per warpgroup, 64 fp32 accumulators per thread).
// K advances 64 at a time through a 4-stage cp.async ring: each stage holds A and B tiles of 128 rows x 64
// elements = 128-byte rows in the 128-byte swizzle layout wgmma expects (16-byte chunk c of row r at chunk
// c ^ (r % 8), 8-row atoms of 1024 bytes, stage bases 1024-aligned), 32 KiB per stage, 128 KiB in all.
// Descriptors: start address >> 4, stride byte offset 1024 >> 4 (next 8-row atom), swizzle mode 1 (128 B); the
// k16 steps inside a 64-wide k-tile advance the start address by 32 bytes.
//
// Not yet run on a GPU when written: opt-in (vlmc_gemm_variant(3), or VLM4J_GEMM_WGMMA=1 for automatic use) until
// cuda/dev/gemm.cu has checked it on an H100; a TMA + mbarrier producer warp is the following step.
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

constexpr int BM = 128, BN = 128, BK = 64, STAGES = 4, THREADS = 256;
constexpr int TILE_BYTES = BM * BK * 2;              // 16 KiB, one operand, one stage (BM == BN)
constexpr int SMEM_BYTES = STAGES * 2 * TILE_BYTES + 1024;  // + slack to align the ring to 1024 bytes

#if defined(__CUDA_ARCH__) && defined(__CUDA_ARCH_FEAT_SM90_ALL)
#define VLMC_WGMMA 1
#endif

#ifdef VLMC_WGMMA
// Byte offset of 16-byte chunk c (0..7) of row r in a 128-byte-swizzled K-major tile.
__device__ __forceinline__ uint32_t swizzle128(int r, int c) { return uint32_t(r * 128 + ((c ^ (r & 7)) << 4)); }

__device__ __forceinline__ uint64_t descriptor(uint32_t smem_byte_addr) {
    uint64_t d = 0;
    d |= uint64_t((smem_byte_addr & 0x3FFFF) >> 4);  // bits 0-13: start address
    d |= uint64_t(1) << 16;                          // bits 16-29: leading byte offset (unused with 128 B swizzle)
    d |= uint64_t(1024 >> 4) << 32;                  // bits 32-45: stride byte offset, one 8-row atom
    d |= uint64_t(1) << 62;                          // bits 62-63: 128-byte swizzle
    return d;
}

template <typename T>
__device__ __forceinline__ void wgmma_m64n128k16(float (&d)[64], uint64_t desc_a, uint64_t desc_b, int scale_d);

template <>
__device__ __forceinline__ void wgmma_m64n128k16<__nv_bfloat16>(float (&d)[64], uint64_t desc_a, uint64_t desc_b, int scale_d) {
    asm volatile(
        "{\n.reg .pred p;\nsetp.ne.b32 p, %66, 0;\n"
        "wgmma.mma_async.sync.aligned.m64n128k16.f32.bf16.bf16 "
        "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, %32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, %48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63}, %64, %65, p, 1, 1, 0, 0;\n}\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]), "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]), "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]), "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35]), "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]), "+f"(d[40]), "+f"(d[41]), "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]), "+f"(d[48]), "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55]), "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]), "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63])
        : "l"(desc_a), "l"(desc_b), "r"(scale_d));
}
template <>
__device__ __forceinline__ void wgmma_m64n128k16<__half>(float (&d)[64], uint64_t desc_a, uint64_t desc_b, int scale_d) {
    asm volatile(
        "{\n.reg .pred p;\nsetp.ne.b32 p, %66, 0;\n"
        "wgmma.mma_async.sync.aligned.m64n128k16.f32.f16.f16 "
        "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, %32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, %48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63}, %64, %65, p, 1, 1, 0, 0;\n}\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]), "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]), "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]), "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35]), "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]), "+f"(d[40]), "+f"(d[41]), "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]), "+f"(d[48]), "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55]), "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]), "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63])
        : "l"(desc_a), "l"(desc_b), "r"(scale_d));
}
#endif

template <typename T>
__global__ void __launch_bounds__(THREADS, 1) gemm_wgmma_nt(vlmc::GemmParams p, const T* __restrict__ a,
                                                             const T* __restrict__ b, T* c, const T* __restrict__ r) {
#ifdef VLMC_WGMMA
    extern __shared__ unsigned char smem_raw[];
    const uint32_t raw = static_cast<uint32_t>(__cvta_generic_to_shared(smem_raw));
    const uint32_t base = (raw + 1023u) & ~1023u;  // swizzle atoms must start on 1024-byte boundaries
    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5, wg = warp >> 2;
    const int g = lane >> 2, t = lane & 3;
    const int64_t row0 = int64_t(blockIdx.y) * BM, col0 = int64_t(blockIdx.x) * BN;
    const int64_t ktiles = (p.k + BK - 1) / BK;
    // this thread's loads: chunk column tid % 8 of rows tid / 8 + 32 i (i < 4), for A and for B
    const int lr = tid >> 3, lc = tid & 7;
    for (int64_t bz = blockIdx.z; bz < p.batch; bz += gridDim.z) {
        const T* A = a + bz * p.stride_a;
        const T* B = b + bz * p.stride_b;
        auto load = [&](int64_t kt, uint32_t sa) {
            const int64_t gk = kt * BK + lc * 8;
#pragma unroll
            for (int i = 0; i < 4; ++i) {
                const int rr = lr + 32 * i;
                const bool in_a = row0 + rr < p.m && gk < p.k, in_b = col0 + rr < p.n && gk < p.k;
                cp_async16(sa + swizzle128(rr, lc), in_a ? A + (row0 + rr) * p.lda + gk : A, in_a);
                cp_async16(sa + TILE_BYTES + swizzle128(rr, lc), in_b ? B + (col0 + rr) * p.ldb + gk : B, in_b);
            }
        };
        float acc[64];
#pragma unroll
        for (int i = 0; i < 64; ++i) acc[i] = 0.0f;
        __syncthreads();
#pragma unroll
        for (int s = 0; s < STAGES - 1; ++s) {
            if (s < ktiles) load(s, base + s * 2 * TILE_BYTES);
            cp_async_commit();
        }
        for (int64_t kt = 0; kt < ktiles; ++kt) {
            cp_async_wait<STAGES - 2>();
            asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");  // cp.async data -> the async proxy
            __syncthreads();
            const int64_t next = kt + STAGES - 1;
            if (next < ktiles) load(next, base + uint32_t(next % STAGES) * 2 * TILE_BYTES);
            cp_async_commit();
            const uint32_t sa = base + uint32_t(kt % STAGES) * 2 * TILE_BYTES + wg * 64 * 128;  // this warpgroup's 64 rows
            const uint32_t sb = base + uint32_t(kt % STAGES) * 2 * TILE_BYTES + TILE_BYTES;
            asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory");
#pragma unroll
            for (int ks = 0; ks < BK / 16; ++ks) wgmma_m64n128k16<T>(acc, descriptor(sa + ks * 32), descriptor(sb + ks * 32), 1);
            asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory");
            asm volatile("wgmma.wait_group.sync.aligned 0;\n" ::: "memory");  // the stage is free for the next prefetch
        }
        cp_async_wait<0>();
        T* C = c + bz * p.stride_c;
        const T* R = r ? r + bz * p.stride_r : nullptr;
        // accumulator layout of m64nNk16: warp w of the warpgroup owns rows 16 w.., like mma.sync's C fragment
        // repeated over the 16 n8 tiles: acc[4 j + 2 h + e] = (row g + 8 h, col 8 j + 2 t + e)
#pragma unroll
        for (int h = 0; h < 2; ++h) {
            const int64_t gi = row0 + wg * 64 + (warp & 3) * 16 + g + 8 * h;
            if (gi >= p.m) continue;
#pragma unroll
            for (int j = 0; j < 16; ++j) {
#pragma unroll
                for (int e = 0; e < 2; ++e) {
                    const int64_t gj = col0 + 8 * j + 2 * t + e;
                    if (gj >= p.n) continue;
                    float v = p.alpha * acc[4 * j + 2 * h + e];
                    if (p.beta != 0.0f) v += p.beta * to_f(C[gi * p.ldc + gj]);
                    if (p.bias) v += p.bias[gj];
                    v = vlmc::activate(v, p.act);
                    if (R) v += to_f(R[gi * p.ldr + gj]);
                    C[gi * p.ldc + gj] = from_f<T>(v);
                }
            }
        }
    }
#else
    __trap();  // only the sm_90a build has this variant; the dispatcher never launches it elsewhere
#endif
}

template <typename T>
void launch(const char* fn, const vlmc::GemmParams& p, int64_t a, int64_t b, int64_t c, int64_t r) {
    static std::once_flag smem_set;
    std::call_once(smem_set, [fn] {
        VLMC_CHECK(fn, cudaFuncSetAttribute(gemm_wgmma_nt<T>, cudaFuncAttributeMaxDynamicSharedMemorySize, SMEM_BYTES));
    });
    const dim3 grid = vlmc::gemm_grid(fn, p, BM, BN);
    gemm_wgmma_nt<T><<<grid, THREADS, SMEM_BYTES, vlmc::stream()>>>(p, reinterpret_cast<const T*>(a), reinterpret_cast<const T*>(b),
                                                                      reinterpret_cast<T*>(c), reinterpret_cast<const T*>(r));
    VLMC_CHECK(fn, cudaGetLastError());
}

}  // namespace

// the sm_90a cubin; other architectures have no wgmma code in this library
bool vlmc::wgmma_supported() { return device_cc() == 90; }

void vlmc::launch_gemm_wgmma(const char* fn, int dtype, const GemmParams& p, int64_t a, int64_t b, int64_t c, int64_t r) {
    if (dtype == 1) launch<__half>(fn, p, a, b, c, r);
    else if (dtype == 2) launch<__nv_bfloat16>(fn, p, a, b, c, r);
    else vlmc::fail(fn, "the wgmma variant takes F16 or BF16, got dtype ", dtype);
}
