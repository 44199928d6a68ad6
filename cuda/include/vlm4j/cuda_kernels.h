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

// ---- memory, copies, streams and graphs (runtime.cu) ----
// Device memory comes from the device's stream-ordered pool (cudaMallocAsync), configured to keep freed blocks
// cached: allocation and free are ordered on the calling thread's current stream, so a tensor belongs to the stream
// it was allocated on (one per model instance). Zero-filled; an OOM first trims the cache and retries, then throws
// naming the size and the free memory.
int64_t vlmc_malloc(int64_t bytes);
void vlmc_free(int64_t ptr);                              // 0 is a no-op
// out[0..3] = free and total device memory (cudaMemGetInfo), pool bytes reserved from the driver, pool bytes in use.
void vlmc_pool_stats(int64_t* out);
// Host -> device: returns once src may be reused; large copies go through two pinned staging buffers.
void vlmc_memcpy_h2d(int64_t dst, const void* src, int64_t bytes);
void vlmc_memcpy_d2h(void* dst, int64_t src, int64_t bytes);  // returns when the data is in dst
void vlmc_memcpy_d2d(int64_t dst, int64_t src, int64_t bytes);  // ordered on the stream, asynchronous
// rows x width bytes from src (row pitch src_pitch) to dst (row pitch dst_pitch), device to device, asynchronous.
void vlmc_memcpy_2d(int64_t dst, int64_t dst_pitch, int64_t src, int64_t src_pitch, int64_t width, int64_t rows);
void vlmc_synchronize();
// Streams: every kernel and copy of the calling thread goes to its current stream (0 = legacy default stream).
int64_t vlmc_stream_create();
void vlmc_stream_destroy(int64_t stream);
void vlmc_set_stream(int64_t stream);   // for the calling thread
int64_t vlmc_get_stream();
void vlmc_stream_synchronize();         // waits for the calling thread's current stream
// CUDA graphs: vlmc_graph_begin starts capturing the current stream (not the legacy default stream); every later
// call of this thread is recorded instead of run (no host synchronization allowed: data checks that read results
// back are skipped) until vlmc_graph_end, which returns an executable graph to launch on the current stream and
// destroy when done. vlmc_graph_abort ends a failed capture and drops it.
void vlmc_graph_begin();
int64_t vlmc_graph_end();
void vlmc_graph_abort();
void vlmc_graph_launch(int64_t graph);
void vlmc_graph_destroy(int64_t graph);
int vlmc_is_capturing();

// ---- elementwise (elementwise.cu); dtype codes as the CPU side: 0 = F32, 1 = F16, 2 = BF16 ----
// out[i] = act(x[i]) for i < n; act 0 none, 1 gelu (erf), 2 quick_gelu, 3 gelu_tanh; math in fp32.
void vlmc_activation(int dtype, int act, int64_t x, int64_t out, int64_t n);
// out[i] = a[i] + b[i]
void vlmc_add(int dtype, int64_t a, int64_t b, int64_t out, int64_t n);
// x[r, :] += row[:] for r < rows (broadcast add of a suffix, e.g. position embeddings), in place.
void vlmc_add_row(int dtype, int64_t x, int64_t row, int64_t rows, int64_t dim);
// dst = convert(src): F32 <-> F16 <-> BF16, round to nearest even.
void vlmc_convert(int src_dtype, int64_t src, int dst_dtype, int64_t dst, int64_t n);

// ---- normalization and row ops (norm.cu); x/out in `dtype`, gamma/beta float32, math in fp32 ----
// With r != 0: s = x + r is written to sum_out (the new residual stream; may alias x) and out = LN(s); else out = LN(x).
void vlmc_layernorm(int dtype, int64_t x, int64_t r, int64_t sum_out, int64_t gamma, int64_t beta, int64_t out,
                    int64_t rows, int64_t dim, float eps);
void vlmc_softmax(int dtype, int64_t x, int64_t out, int64_t rows, int64_t dim);
// out = x / max(||x||_2, eps) per row (torch F.normalize)
void vlmc_l2_normalize(int dtype, int64_t x, int64_t out, int64_t rows, int64_t dim, float eps);

// ---- embeddings and pooling (embed.cu) ----
// out[i, :] = table[ids[i], :] (table and out in `dtype`); an id outside [0, rows) throws naming its index.
void vlmc_gather_rows(int dtype, int64_t table, int64_t rows, int64_t dim, int64_t ids, int64_t n, int64_t out);
// EOS pooling as vlm_eos_pool_f32 (eos_id < 0: argmax of ids, else first ids == eos_id, throwing for a row without
// it); positions (int64 [B] device memory, may be 0) receives the chosen positions.
void vlmc_eos_pool(int dtype, int64_t hidden, int64_t ids, int64_t batch, int64_t len, int64_t dim, int64_t eos_id,
                   int64_t out, int64_t positions);
// Patch embedding's im2col: pixels float32 [B, C, H, W] -> cols `dtype` [B * (H/p) * (W/p), C*p*p] (row = one patch,
// column order (c, dy, dx) = the conv weight's [D, C, p, p] layout), so that embeddings = cols . weight^T (+ bias).
void vlmc_im2col_patches(int dtype, int64_t pixels, int64_t batch, int64_t channels, int64_t height, int64_t width,
                         int64_t patch, int64_t cols);

// ---- GEMM (gemm.cu) ----
// Same contract as vlm_gemm_f32 (native/include/vlm4j/kernels.h): per batch b, C = alpha op(A) op(B) + beta C
// (+ bias[n]) -> act -> (+ R). A, B, C, R in `dtype` (F32, F16, BF16), bias float32, accumulation in fp32.
// variant 1: SIMT tiles (the FP32 checking path and the fallback for any shape); variant 2: tensor cores
// (mma.sync + ldmatrix + cp.async, sm_80+) for F16/BF16 in the linear-layer layout (trans_a 0, trans_b 1) with K,
// lda, ldb and batch strides multiples of 8 and 16-byte aligned A and B. Chosen per call unless forced.
void vlmc_gemm(int dtype, int trans_a, int trans_b, int64_t batch, int64_t m, int64_t n, int64_t k, float alpha,
               int64_t a, int64_t lda, int64_t stride_a, int64_t b, int64_t ldb, int64_t stride_b, float beta,
               int64_t c, int64_t ldc, int64_t stride_c, int64_t bias, int act, int64_t r, int64_t ldr, int64_t stride_r);
// Forces a GEMM variant for every later call (harnesses, tests): 0 = choose per call, 1 = SIMT, 2 = tensor cores
// with mma.sync, 3 = wgmma on sm_90 (H100/H200; chosen automatically only with VLM4J_GEMM_WGMMA=1 until checked on a
// GPU). A call the forced variant cannot take throws.
void vlmc_gemm_variant(int variant);

// ---- attention (attention.cu) ----
// Same contract as vlm_attention_f32: out = softmax(scale q k^T + masks) v per (batch, head), q/k/v/out strided
// (leading dimension per row, stride per batch, head h at columns h*head_dim), key_mask int32 [B, Lk] or 0.
// variant 1: one warp per query row with an online softmax (no [L, L] matrix), any dtype, head_dim <= 128.
// variant 2: FlashAttention-2 on the tensor cores (mma.sync, fp32 accumulation) for F16/BF16 with head_dim 32, 64,
// 80 or 128, 16-byte aligned q/k/v/out and every leading dimension and stride a multiple of 8 elements (so packed
// QKV with ld = 3 * heads * head_dim qualifies); chosen automatically whenever those hold, else variant 1.
void vlmc_attention(int dtype, int64_t q, int64_t ldq, int64_t stride_q, int64_t k, int64_t ldk, int64_t stride_k,
                    int64_t v, int64_t ldv, int64_t stride_v, int64_t out, int64_t ldo, int64_t stride_o,
                    int64_t batch, int64_t heads, int64_t lq, int64_t lk, int64_t head_dim, float scale, int causal,
                    int64_t key_mask);
// Forces the attention variant for every later call from any thread (for harnesses and comparisons): 0 = choose
// per call (the default), 1 = always variant 1, 2 = always variant 2 (a call it cannot run then throws, saying
// why). The initial value comes from the environment variable VLMC_ATTENTION_VARIANT when it holds 0, 1 or 2.
void vlmc_attention_variant(int v);

// ---- training (train.cu, attention_backward.cu): gradients in `dtype` (F32, F16, BF16), math in fp32 ----
// Some ops need device scratch, the caller's: vlmc_*_workspace gives its size in bytes (0 = none needed); the
// memory comes from the caller (the Java side takes it from the pool, like any tensor) and is passed with its size.

// LayerNorm backward per row of x [rows, dim]: with xh = (x - mean) * rstd and g = dy * gamma,
// dx (=|+=) rstd * (g - mean(g) - xh * mean(g * xh)); accumulate != 0 adds to dx (which then may not alias dy).
// dgamma += sum_rows dy * xh and dbeta += sum_rows dy (float32 [dim], each may be 0), summed in a fixed order
// (per-block partials in the workspace, then one column pass): the result does not depend on the device.
int64_t vlmc_layernorm_backward_workspace(int64_t rows, int64_t dim, int with_param_grads);
void vlmc_layernorm_backward(int dtype, int64_t x, int64_t gamma, int64_t dy, int64_t dx, int accumulate,
                             int64_t dgamma, int64_t dbeta, int64_t rows, int64_t dim, float eps, int64_t workspace,
                             int64_t workspace_bytes);
// dx[i] = act'(x[i]) * dy[i] (act codes as vlmc_activation); dx may alias dy.
void vlmc_activation_backward(int dtype, int act, int64_t x, int64_t dy, int64_t dx, int64_t n);
// Backward of vlmc_l2_normalize per row: n = max(||x||, eps), u = x / n: dx = (dy - <dy, u> u) / n when
// ||x|| > eps, else dy / eps (eps >= 0). dx may alias dy.
void vlmc_l2_normalize_backward(int dtype, int64_t x, int64_t dy, int64_t dx, int64_t rows, int64_t dim, float eps);
// Inverted dropout with the counter-based mask shared with the CPU backends: for element i (0-based over the
// flattened tensor) z = splitmix64 finalizer of seed + (i + 1) * 0x9E3779B97F4A7C15; kept iff (uint32)(z >> 32) >=
// (uint32) min(2^32 - 1, floor(p * 2^32)); kept values x / (1 - p), dropped ones 0. p in [0, 1); out may alias x.
void vlmc_dropout(int dtype, int64_t x, int64_t out, int64_t n, float p, int64_t seed);
// One fused AdamW step (torch.optim.AdamW) on float32 param, grad, m, v of n elements: p *= 1 - lr * wd;
// m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g^2; p -= lr / (1 - b1^step) * m / (sqrt(v) / sqrt(1 - b2^step) + eps).
void vlmc_adamw(int64_t param, int64_t grad, int64_t m, int64_t v, int64_t n, float lr, float beta1, float beta2,
                float eps, float weight_decay, int64_t step);
// sum x[i]^2 over n elements, accumulated in double in a fixed order, written as one double to the workspace's
// first 8 bytes (asynchronously: read it back after the stream's work). The rest holds per-block partials.
int64_t vlmc_sum_squares_workspace();
void vlmc_sum_squares(int dtype, int64_t x, int64_t n, int64_t workspace, int64_t workspace_bytes);
// x[i] = alpha * x[i] in place.
void vlmc_scale(int dtype, int64_t x, int64_t n, float alpha);
// Backward of attention on packed QKV (the forward is vlmc_attention with q, k, v at columns 0, W, 2W of qkv
// [B, L, 3W], W = heads * head_dim, out [B, L, W], scale, causal = key j visible from query i iff j <= i, key_mask
// int32 [B, L] non-zero = keep, or 0). Given out and dout [B, L, W], writes dqkv [B, L, 3W] (every element):
// FlashAttention-2 style, recomputing the softmax: a pre-pass finds each query row's log-sum-exp and
// D = sum(dout * out) (and zeroes the float32 dQ accumulator), then one block per (batch, head, 32 keys) walks the
// query tiles, recomputes P = exp(S - lse), accumulates dV = P^T dO and dK = scale dS^T Q in registers (dS =
// P (dP - D), dP = dO V^T) and adds scale dS K into dQ with atomics; a last pass converts dQ into dqkv. Fully
// masked query rows get zero gradient. head_dim <= 128; dqkv may not overlap qkv, out or dout.
int64_t vlmc_attention_backward_workspace(int64_t batch, int64_t heads, int64_t len, int64_t head_dim);
void vlmc_attention_backward(int dtype, int64_t qkv, int64_t out, int64_t dout, int64_t dqkv, int64_t batch,
                             int64_t heads, int64_t len, int64_t head_dim, float scale, int causal, int64_t key_mask,
                             int64_t workspace, int64_t workspace_bytes);
