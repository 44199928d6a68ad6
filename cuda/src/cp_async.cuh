// cp.async (sm_80+) helpers shared by the tensor-core GEMM variants (gemm_mma.cu, gemm_wgmma.cu): asynchronous
// 16-byte global -> shared copies with zero-fill, committed in groups and waited for by count.
#pragma once
#include <cstdint>

namespace vlmc {

__device__ __forceinline__ uint32_t smem_addr(const void* p) { return static_cast<uint32_t>(__cvta_generic_to_shared(p)); }

// valid == false: nothing is read (src-size 0) and the 16 bytes at dst are zero-filled
__device__ __forceinline__ void cp_async16(uint32_t dst, const void* src, bool valid) {
    const int bytes = valid ? 16 : 0;
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(src), "r"(bytes));
}

__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }

// waits until at most N of this thread's committed groups are still in flight
template <int N>
__device__ __forceinline__ void cp_async_wait() { asm volatile("cp.async.wait_group %0;\n" ::"n"(N)); }

}  // namespace vlmc
