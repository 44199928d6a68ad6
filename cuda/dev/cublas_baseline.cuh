// cuBLAS as the in-process baseline of the GEMM harness, loaded at run time with dlopen so the harness builds on
// machines without cuBLAS headers or libraries (CI) and says "cuBLAS: not found" there. On the GPU machine the
// library may live inside PyTorch's wheels (site-packages/nvidia/cublas/lib): put that folder on LD_LIBRARY_PATH.
// Only the handful of entry points and enum values the harness needs are declared, from the cuBLAS API docs.
#pragma once
#include <dlfcn.h>

#include <cstdint>
#include <cstdio>

namespace h {

class Cublas {
    using Create = int (*)(void**);
    using SetStream = int (*)(void*, cudaStream_t);
    using GemmEx = int (*)(void*, int, int, int, int, int, const void*, const void*, int, int, const void*, int, int,
                           const void*, void*, int, int, int, int);
    void* lib_ = nullptr;
    void* handle_ = nullptr;
    GemmEx gemm_ = nullptr;

public:
    static constexpr int OP_N = 0, OP_T = 1;                 // cublasOperation_t
    static constexpr int R_32F = 0, R_16F = 2, R_16BF = 14;  // cudaDataType_t
    static constexpr int COMPUTE_32F = 68;                   // cublasComputeType_t
    static constexpr int GEMM_DEFAULT = -1;                  // cublasGemmAlgo_t

    Cublas() {
        for (const char* name : {"libcublas.so.13", "libcublas.so.12", "libcublas.so"}) {
            if ((lib_ = dlopen(name, RTLD_NOW | RTLD_LOCAL))) break;
        }
        if (!lib_) return;
        auto create = reinterpret_cast<Create>(dlsym(lib_, "cublasCreate_v2"));
        gemm_ = reinterpret_cast<GemmEx>(dlsym(lib_, "cublasGemmEx"));
        if (!create || !gemm_ || create(&handle_) != 0) {
            handle_ = nullptr;
            return;
        }
        if (auto set_stream = reinterpret_cast<SetStream>(dlsym(lib_, "cublasSetStream_v2"))) {
            set_stream(handle_, reinterpret_cast<cudaStream_t>(vlmc_get_stream()));
        }
    }
    bool ok() const { return handle_ != nullptr; }

    // Row-major C[M, N] = A[M, K] . B[N, K]^T in dtype dt (0/1/2), FP32 accumulation. cuBLAS is column-major, where
    // the row-major C is C^T [N, M] = B . A^T: B (column-major [K, N], ld K) transposed times A (column-major
    // [K, M], ld K) as is. Returns the cuBLAS status (0 = success).
    int gemm_nt(int dt, int64_t m, int64_t n, int64_t k, int64_t a, int64_t b, int64_t c) const {
        const int type = dt == 0 ? R_32F : dt == 1 ? R_16F : R_16BF;
        const float one = 1.0f, zero = 0.0f;
        return gemm_(handle_, OP_T, OP_N, int(n), int(m), int(k), &one, reinterpret_cast<const void*>(b), type, int(k),
                     reinterpret_cast<const void*>(a), type, int(k), &zero, reinterpret_cast<void*>(c), type, int(n), COMPUTE_32F,
                     GEMM_DEFAULT);
    }
};

}  // namespace h
