// The CUDA library when the build found no nvcc: the same C API, reporting why CUDA cannot be used.
#include "vlm4j/cuda_kernels.h"

#include <stdexcept>
#include <string>

namespace {
[[noreturn]] void unavailable(const char* fn) {
    throw std::runtime_error(std::string(fn) + ": this build has no CUDA kernels (nvcc was not found when it was built)");
}
}  // namespace

const char* vlmc_status() { return "unavailable: this build has no CUDA kernels (nvcc was not found when it was built)"; }
int vlmc_has_kernels() { return 0; }
int64_t vlmc_malloc(int64_t) { unavailable("vlmc_malloc"); }
void vlmc_free(int64_t) { unavailable("vlmc_free"); }
void vlmc_memcpy_h2d(int64_t, const void*, int64_t) { unavailable("vlmc_memcpy_h2d"); }
void vlmc_memcpy_d2h(void*, int64_t, int64_t) { unavailable("vlmc_memcpy_d2h"); }
void vlmc_synchronize() { unavailable("vlmc_synchronize"); }
void vlmc_activation(int, int, int64_t, int64_t, int64_t) { unavailable("vlmc_activation"); }
void vlmc_add(int, int64_t, int64_t, int64_t, int64_t) { unavailable("vlmc_add"); }
void vlmc_convert(int, int64_t, int, int64_t, int64_t) { unavailable("vlmc_convert"); }
void vlmc_layernorm(int, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, float) { unavailable("vlmc_layernorm"); }
void vlmc_softmax(int, int64_t, int64_t, int64_t, int64_t) { unavailable("vlmc_softmax"); }
void vlmc_l2_normalize(int, int64_t, int64_t, int64_t, int64_t, float) { unavailable("vlmc_l2_normalize"); }
void vlmc_gather_rows(int, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t) { unavailable("vlmc_gather_rows"); }
void vlmc_eos_pool(int, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t) { unavailable("vlmc_eos_pool"); }
void vlmc_im2col_patches(int, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t) { unavailable("vlmc_im2col_patches"); }
void vlmc_gemm(int, int, int, int64_t, int64_t, int64_t, int64_t, float, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t,
               float, int64_t, int64_t, int64_t, int64_t, int, int64_t, int64_t, int64_t) { unavailable("vlmc_gemm"); }
void vlmc_attention(int, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t,
                    int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, float, int, int64_t) { unavailable("vlmc_attention"); }
void vlmc_attention_variant(int) { unavailable("vlmc_attention_variant"); }
void vlmc_memcpy_d2d(int64_t, int64_t, int64_t) { unavailable("vlmc_memcpy_d2d"); }
void vlmc_add_row(int, int64_t, int64_t, int64_t, int64_t) { unavailable("vlmc_add_row"); }
int64_t vlmc_stream_create() { unavailable("vlmc_stream_create"); }
void vlmc_stream_destroy(int64_t) { unavailable("vlmc_stream_destroy"); }
void vlmc_set_stream(int64_t) { unavailable("vlmc_set_stream"); }
int64_t vlmc_get_stream() { unavailable("vlmc_get_stream"); }
void vlmc_stream_synchronize() { unavailable("vlmc_stream_synchronize"); }
void vlmc_gemm_variant(int) { unavailable("vlmc_gemm_variant"); }
void vlmc_pool_stats(int64_t*) { unavailable("vlmc_pool_stats"); }
void vlmc_memcpy_2d(int64_t, int64_t, int64_t, int64_t, int64_t, int64_t) { unavailable("vlmc_memcpy_2d"); }
void vlmc_graph_begin() { unavailable("vlmc_graph_begin"); }
int64_t vlmc_graph_end() { unavailable("vlmc_graph_end"); }
void vlmc_graph_abort() { unavailable("vlmc_graph_abort"); }
void vlmc_graph_launch(int64_t) { unavailable("vlmc_graph_launch"); }
void vlmc_graph_destroy(int64_t) { unavailable("vlmc_graph_destroy"); }
int vlmc_is_capturing() { return 0; }
int64_t vlmc_layernorm_backward_workspace(int64_t, int64_t, int) { unavailable("vlmc_layernorm_backward_workspace"); }
void vlmc_layernorm_backward(int, int64_t, int64_t, int64_t, int64_t, int, int64_t, int64_t, int64_t, int64_t, float, int64_t,
                             int64_t) { unavailable("vlmc_layernorm_backward"); }
void vlmc_activation_backward(int, int, int64_t, int64_t, int64_t, int64_t) { unavailable("vlmc_activation_backward"); }
void vlmc_l2_normalize_backward(int, int64_t, int64_t, int64_t, int64_t, int64_t, float) { unavailable("vlmc_l2_normalize_backward"); }
void vlmc_dropout(int, int64_t, int64_t, int64_t, float, int64_t) { unavailable("vlmc_dropout"); }
void vlmc_adamw(int64_t, int64_t, int64_t, int64_t, int64_t, float, float, float, float, float, int64_t) { unavailable("vlmc_adamw"); }
int64_t vlmc_sum_squares_workspace() { unavailable("vlmc_sum_squares_workspace"); }
void vlmc_sum_squares(int, int64_t, int64_t, int64_t, int64_t) { unavailable("vlmc_sum_squares"); }
void vlmc_scale(int, int64_t, int64_t, float) { unavailable("vlmc_scale"); }
int64_t vlmc_attention_backward_workspace(int64_t, int64_t, int64_t, int64_t) { unavailable("vlmc_attention_backward_workspace"); }
void vlmc_attention_backward(int, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, float, int, int64_t,
                             int64_t, int64_t) { unavailable("vlmc_attention_backward"); }
