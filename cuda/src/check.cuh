// Error checking shared by the .cu files: every CUDA call goes through VLMC_CHECK, which throws with the call,
// the error name and its description.
#pragma once
#include <cuda_runtime.h>

#include <sstream>
#include <stdexcept>
#include <string>

namespace vlmc {

[[noreturn]] inline void cuda_fail(const char* fn, const char* call, cudaError_t e) {
    std::ostringstream os;
    os << fn << ": " << call << " failed: " << cudaGetErrorName(e) << " (" << cudaGetErrorString(e) << ")";
    throw std::runtime_error(os.str());
}

template <typename... Args>
[[noreturn]] inline void fail(const char* fn, Args&&... parts) {
    std::ostringstream os;
    os << fn << ": ";
    (os << ... << parts);
    throw std::invalid_argument(os.str());
}

inline void check_n(const char* fn, int64_t n) {
    if (n < 0) fail(fn, "n must be >= 0 (got ", n, ")");
}

inline void check_ptr(const char* fn, int64_t p, const char* name) {
    if (p == 0) fail(fn, name, " is null");
}

// The stream every kernel and copy of the calling thread is issued on (vlmc_set_stream; 0 = the legacy default
// stream). One stream per model instance keeps instances independent and makes a tower forward capturable as a
// CUDA graph (runtime.cu).
cudaStream_t stream();

}  // namespace vlmc

#define VLMC_CHECK(fn, call)                                   \
    do {                                                       \
        cudaError_t vlmc_err_ = (call);                        \
        if (vlmc_err_ != cudaSuccess) vlmc::cuda_fail(fn, #call, vlmc_err_); \
    } while (0)
