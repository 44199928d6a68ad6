// What the plain SIMT kernels (attention_backward.cu, train.cu) use beyond the flash kernel's helpers in prelude.h:
// static __shared__ arrays, blockDim/gridDim (128 threads; the grid size a test sets), __syncthreads_or, atomicAdd
// and double shuffles. Include after prelude.h and before dtype.cuh and the extracted kernel text.
#pragma once
#undef __shared__
#define __shared__ static  // one instance shared by the block's fibers (blocks run one after the other)
namespace emu {
unsigned grid_x = 1;
}
#define blockDim (emu::Dim{unsigned(emu::NT)})
#define gridDim (emu::Dim{emu::grid_x})

inline int __syncthreads_or(int pred) {
    static int any = 0;
    if (pred) any = 1;
    __syncthreads();
    const int r = any;
    __syncthreads();
    if (emu::cur == 0) any = 0;
    __syncthreads();
    return r;
}

inline float rsqrtf(float x) { return 1.0f / std::sqrt(x); }  // the device's is within 2 ulp

inline float atomicAdd(float* a, float v) {  // fibers switch only at barriers: a plain add is atomic here
    const float old = *a;
    *a = old + v;
    return old;
}

inline double __shfl_xor_sync(unsigned mask, double v, int o) {  // as two 32-bit shuffles, like the hardware
    float half[2];
    std::memcpy(half, &v, 8);
    half[0] = __shfl_xor_sync(mask, half[0], o);
    half[1] = __shfl_xor_sync(mask, half[1], o);
    std::memcpy(&v, half, 8);
    return v;
}

// Runs one kernel launch: blocks one after the other, each on 128 fibers.
template <class F>
void launch_blocks(unsigned blocks, F&& body) {
    emu::grid_x = blocks;
    for (unsigned bx = 0; bx < blocks; ++bx) {
        emu::block_idx.x = bx;
        emu::body = body;
        emu::scheduler();
    }
}
