// Internal to the attention kernels: the arguments both variants take, and variant 2's entry points
// (flash_attention.cu), called by the dispatcher in attention.cu.
#pragma once
#include <cstdint>

namespace vlmc::attention {

// Strides in elements: element (b, i, h, e) of q is at q + b * stride_q + i * ldq + h * d + e (k, v, out alike).
struct Params {
    int64_t ldq, stride_q, ldk, stride_k, ldv, stride_v, ldo, stride_o;
    int64_t batch, heads, lq, lk, d;
    float scale;
    int causal;
    const int32_t* mask;  // int32 [batch, lk], 0 = masked key; may be null
};

// Why variant 2 cannot run these arguments, or nullptr when it can: F16/BF16, head_dim 32/64/80/128, 16-byte
// aligned pointers and row starts (every leading dimension and stride a multiple of 8 elements).
const char* flash_unsupported(int dtype, const Params& p, int64_t q, int64_t k, int64_t v, int64_t out);

// Variant 2 (FlashAttention-2 forward on mma.sync tensor cores); the arguments must pass flash_unsupported.
void flash_attention(int dtype, const Params& p, int64_t q, int64_t k, int64_t v, int64_t out);

}  // namespace vlmc::attention
