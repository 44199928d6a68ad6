// vlm4j CUDA kernels: the C API that the JavaCPP mapping class (io.vlm4j.backend.cuda.CudaKernels) binds.
//
// Contract, as for the CPU kernels (native/include/vlm4j/kernels.h): every size and pointer is validated and every
// CUDA call is checked; a failure throws std::runtime_error / std::invalid_argument naming the function, the
// argument or the CUDA error, which JavaCPP turns into a Java RuntimeException, never a crash.
// Device pointers travel as integers. The CUDA runtime is linked statically, so the library loads on machines
// without a driver; vlmc_status() then says why CUDA cannot be used.
//
// When the Maven build finds no nvcc, cuda/src/stub.cpp provides the same functions: vlmc_status() reports
// "unavailable: ..." and every other call throws.
#pragma once
#include <cstdint>

// "available: <device name>, sm_XY, <N> MiB" or "unavailable: <reason>" (no driver, no device, no kernels for
// the device's architecture, built without nvcc). Static string, valid until the next call.
const char* vlmc_status();
// 1 when this library was compiled with nvcc (has kernels), 0 for the stub.
int vlmc_has_kernels();

// ---- memory and streams (runtime.cu) ----
int64_t vlmc_malloc(int64_t bytes);                       // device memory; throws naming the size on failure (OOM)
void vlmc_free(int64_t ptr);                              // 0 is a no-op
void vlmc_memcpy_h2d(int64_t dst, const void* src, int64_t bytes);
void vlmc_memcpy_d2h(void* dst, int64_t src, int64_t bytes);
void vlmc_synchronize();

// ---- elementwise (elementwise.cu); dtype codes as the CPU side: 0 = F32, 1 = F16, 2 = BF16 ----
// out[i] = act(x[i]) for i < n; act 0 none, 1 gelu (erf), 2 quick_gelu, 3 gelu_tanh; math in fp32.
void vlmc_activation(int dtype, int act, int64_t x, int64_t out, int64_t n);
// out[i] = a[i] + b[i]
void vlmc_add(int dtype, int64_t a, int64_t b, int64_t out, int64_t n);
// dst = convert(src): F32 <-> F16 <-> BF16, round to nearest even.
void vlmc_convert(int src_dtype, int64_t src, int dst_dtype, int64_t dst, int64_t n);
