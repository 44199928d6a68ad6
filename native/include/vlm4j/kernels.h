// vlm4j CPU kernels: the C++ API that the JavaCPP mapping class (io.vlm4j.backend.cpu.NativeKernels) binds.
//
// Contract for every function here:
//  - all tensors are dense, row-major (C order), float32 unless stated otherwise;
//  - every size, pointer and id is validated; a bad argument throws std::invalid_argument (or std::out_of_range /
//    std::bad_alloc) with a message naming the function and the argument. JavaCPP turns that into a Java
//    RuntimeException, so bad input never crashes the JVM;
//  - work is spread over the OpenMP thread pool; SIMD paths are chosen at run time (AVX-512 when the CPU has it,
//    AVX2+FMA otherwise, plain C++ as the last resort), so one binary runs on any x86-64-v3 machine.
#pragma once
#include <cstdint>

// ---- runtime / memory (runtime.cpp) ----
const char* vlm_cpu_features();      // e.g. "avx2 fma f16c avx512f avx512bw avx512_bf16"; static string
const char* vlm_simd_level();        // the path selected: "avx512", "avx2" or "scalar"
int  vlm_max_threads();
void vlm_set_num_threads(int n);     // n >= 1
void* vlm_alloc(int64_t bytes);      // 64-byte aligned, zero-filled; throws std::bad_alloc naming the size
void vlm_free(void* p);              // null is a no-op
void vlm_copy(void* dst, const void* src, int64_t bytes);
void vlm_fill_f32(float* dst, int64_t n, float value);

// dtype codes shared with Java's DType.code(): 0 = F32, 1 = F16, 2 = BF16, 3 = I32
void vlm_convert(int src_dtype, const void* src, int dst_dtype, void* dst, int64_t n);

// ---- GEMM (gemm.cpp) ----
// For each b in [0, batch):  C_b[m,n] = alpha * sum_k op(A_b)[m,k] * op(B_b)[k,n] + beta * C_b[m,n] (+ bias[n]),
// then act applied (0 none, 1 gelu, 2 quick_gelu, 3 gelu_tanh), then residual R_b[m,n] added when r != null.
// op(X) = X or X^T (trans flags). Leading dimensions and batch strides are in elements.
// With beta == 0, C is write-only (NaNs in C are ignored).
void vlm_gemm_f32(int trans_a, int trans_b, int64_t batch, int64_t m, int64_t n, int64_t k,
                  float alpha, const float* a, int64_t lda, int64_t stride_a,
                  const float* b, int64_t ldb, int64_t stride_b,
                  float beta, float* c, int64_t ldc, int64_t stride_c,
                  const float* bias, int act, const float* r, int64_t ldr, int64_t stride_r);

// Pre-packed B for repeated products with one weight (a linear layer's W [n, k] with trans_b = 1): the panels
// vlm_gemm_f32 would pack on every call, packed once for this machine's SIMD path. vlm_gemm_packed_b_floats gives the
// size; vlm_gemm_f32_packed is vlm_gemm_f32 with trans_a = 0, op(B) the packed matrix shared by the batch, alpha 1, beta 0.
int64_t vlm_gemm_packed_b_floats(int64_t k, int64_t n);
void vlm_gemm_pack_b_f32(int trans_b, int64_t k, int64_t n, const float* b, int64_t ldb, float* dst, int64_t dst_floats);
void vlm_gemm_f32_packed(int64_t batch, int64_t m, int64_t n, int64_t k, const float* a, int64_t lda, int64_t stride_a,
                         const float* packed_b, int64_t packed_floats, float* c, int64_t ldc, int64_t stride_c,
                         const float* bias, int act, const float* r, int64_t ldr, int64_t stride_r);

// 1 when vlm_gemm_bf16 can run here (AVX-512 with avx512_bf16, and the AVX-512 path not disabled).
int vlm_has_bf16_gemm();
// C[M, N] = act(A · Wᵀ + bias) + R: A [M, K] F32 (lda), W [N, K] BF16 (ldw), bias [N] F32 or 0, R [M, N] F32 (ldr) or
// 0, C F32 (ldc). A is rounded to BF16, products accumulate in FP32 (vdpbf16ps). act as vlm_gemm_f32. Throws when the
// CPU lacks avx512_bf16 (check vlm_has_bf16_gemm first).
void vlm_gemm_bf16(int64_t m, int64_t n, int64_t k, int64_t a, int64_t lda, int64_t w, int64_t ldw, int64_t bias, int act,
                   int64_t r, int64_t ldr, int64_t c, int64_t ldc);


// ---- normalization (norm.cpp) ----
void vlm_layernorm_f32(const float* x, const float* gamma, const float* beta, float* y,
                       int64_t rows, int64_t dim, float eps);          // two-pass statistics, biased variance
void vlm_l2_normalize_f32(const float* x, float* y, int64_t rows, int64_t dim, float eps); // y = x / max(|x|, eps)
void vlm_softmax_f32(const float* x, float* y, int64_t rows, int64_t dim);  // max-subtracted; -inf rows -> 0

// ---- elementwise (elementwise.cpp) ----
void vlm_activation_f32(int act, const float* x, float* y, int64_t n);     // act codes as in gemm
void vlm_add_f32(const float* a, const float* b, float* y, int64_t n);
// y[r, :] += v[:] for r in [0, rows)   (broadcast add of a row vector)
void vlm_add_row_f32(float* y, const float* v, int64_t rows, int64_t dim);

// ---- attention (attention.cpp) ----
// Scaled-dot-product attention, fused (scores never leave a per-thread buffer).
// q: [B, Lq, *] rows of length ldq; head h reads columns [h*d, (h+1)*d). Same for k, v ([B, Lk, *]) and out ([B, Lq, *]).
// stride_* = elements between batches. causal: query i sees keys j <= i + (Lk - Lq).
// key_mask: null or int32 [B, Lk] (nonzero = keep). A query row with no visible key produces zeros.
void vlm_attention_f32(const float* q, int64_t ldq, int64_t stride_q,
                       const float* k, int64_t ldk, int64_t stride_k,
                       const float* v, int64_t ldv, int64_t stride_v,
                       float* out, int64_t ldo, int64_t stride_o,
                       int64_t batch, int64_t heads, int64_t lq, int64_t lk, int64_t head_dim,
                       float scale, int causal, const int32_t* key_mask);

// ---- training: backward passes and dropout (train.cpp, attention_backward.cpp), optimizer (optim.cpp) ----
// LayerNorm backward per row of x [rows, dim], statistics recomputed as vlm_layernorm_f32 does: with
// xhat = (x - mean) * rstd and g = dy * gamma, dx = rstd * (g - mean(g) - xhat * mean(g * xhat)), stored
// (accumulate == 0) or added to dx (accumulate == 1). dgamma, dbeta: null or [dim]; when given, they get
// += sum over rows of dy * xhat and of dy. dx may be dy (not when accumulating) or x; no other overlap.
void vlm_layernorm_backward_f32(const float* x, const float* gamma, const float* dy, float* dx, int64_t rows,
                                int64_t dim, float eps, int accumulate, float* dgamma, float* dbeta);
// dx = act'(x) * dy elementwise, x the pre-activation (act codes as in gemm). dx may be dy or x.
void vlm_activation_backward_f32(int act, const float* x, const float* dy, float* dx, int64_t n);
// L2-normalize backward per row: with n = |x|, dx = (dy - <dy, x/n> x/n) / n when n > eps, else dy / eps (any eps,
// IEEE semantics). dx may be dy or x.
void vlm_l2_normalize_backward_f32(const float* x, const float* dy, float* dx, int64_t rows, int64_t dim, float eps);
// Backward of vlm_attention_f32 (same layouts, ld = row stride, stride = batch stride, all in elements) from its
// output `out` and the gradient `dout`, with the softmax recomputed: dV = P^T dO, dP = dO V^T, D_i = <dO_i, O_i>,
// dS = P * (dP - D), dQ = scale dS K, dK = scale dS^T Q. Masked keys and empty query rows get zero gradient.
// dq, dk, dv are overwritten; they must not overlap an input.
void vlm_attention_backward_f32(const float* q, int64_t ldq, int64_t stride_q,
                                const float* k, int64_t ldk, int64_t stride_k,
                                const float* v, int64_t ldv, int64_t stride_v,
                                const float* out, int64_t ldo, int64_t stride_o,
                                const float* dout, int64_t lddo, int64_t stride_do,
                                float* dq, int64_t lddq, int64_t stride_dq,
                                float* dk, int64_t lddk, int64_t stride_dk,
                                float* dv, int64_t lddv, int64_t stride_dv,
                                int64_t batch, int64_t heads, int64_t lq, int64_t lk, int64_t head_dim,
                                float scale, int causal, const int32_t* key_mask);
// Inverted dropout, y = keep(i) ? x * s : 0 with the counter-based SplitMix64 mask of io.vlm4j.backend.Backend.dropout
// (bit-identical on every backend): z = splitmix64 output i for state seed (uint64), kept iff
// uint32(z >> 32) >= min(2^32 - 1, floor(p * 2^32)); s = float(1.0 / (1.0 - double(p))). p in [0, 1); y may be x.
void vlm_dropout_f32(const float* x, float* y, int64_t n, float p, int64_t seed);
// One AdamW step (torch.optim.AdamW, step t >= 1): p *= 1 - lr*wd; m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2;
// p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps). Bias corrections in double.
void vlm_adamw_f32(float* param, const float* grad, float* m, float* v, int64_t n, float lr, float beta1, float beta2,
                   float eps, float weight_decay, int64_t step);
double vlm_sum_squares_f32(const float* x, int64_t n);   // sum of x^2, accumulated in double; 0 for n == 0
void vlm_scale_f32(float* x, int64_t n, float alpha);     // x *= alpha in place

// ---- embeddings and pooling (embed.cpp) ----
// Patch embedding = conv2d with kernel = stride = p, no padding (trailing pixels dropped):
// pixels [B, C, H, W], weight [D, C, p, p] (bias [D] or null) -> out [B, (H/p)*(W/p), D], tokens row-major over the grid.
void vlm_patch_embed_f32(const float* pixels, int64_t batch, int64_t channels, int64_t height, int64_t width,
                         int64_t patch, const float* weight, const float* bias, int64_t dim, float* out);
// out[i, :] = table[ids[i], :]; every id is checked against [0, rows).
void vlm_gather_rows_f32(const float* table, int64_t rows, int64_t dim, const int32_t* ids, int64_t n, float* out);
// Per batch row b, pick the pooled position: eos_id < 0 -> argmax(ids[b, :]) (first max wins);
// eos_id >= 0 -> first position with ids == eos_id (throws if the row has none). Writes positions to index_out
// (int64 [B], may be null) and hidden[b, pos, :] to out [B, D].
void vlm_eos_pool_f32(const float* hidden, const int32_t* ids, int64_t batch, int64_t len, int64_t dim,
                      int64_t eos_id, float* out, int64_t* index_out);

// ---- image preprocessing (image.cpp), 8-bit interleaved images [h, w, c], c in 1..4 ----
// Resize exactly as Pillow's Image.resize (spec 02 §4): filter 0 = NEAREST (Pillow's affine nearest, used for
// palette images), 2 = BILINEAR (triangle, support 1), 3 = BICUBIC (Keys a = -0.5, support 2); both with the
// support stretched when downscaling, 22-bit fixed-point weights, horizontal pass first with an 8-bit intermediate.
// premultiplied_alpha (c == 4 only): resize in Pillow's premultiplied "RGBa" form and convert back, as Pillow does
// for RGBA. Same size: a copy.
void vlm_resize_u8(const uint8_t* src, int64_t h, int64_t w, int64_t c, uint8_t* dst, int64_t out_h, int64_t out_w,
                   int filter, int premultiplied_alpha);
// Crop [top, top + crop_h) x [left, left + crop_w) of src (offsets may be negative or run past the image: those
// pixels are 0, the zero padding of torchvision / HF), take the first 3 channels (1 channel is replicated), then
// out[ch, y, x] = (float(v * rescale) - mean[ch]) / std[ch] in float32 (HF: float32(float64(v) * factor); for
// factor 1/255 that equals torchvision's float32 v / 255), out = float [3, crop_h, crop_w].
// crop_u8 (may be null) receives the 8-bit RGB crop [crop_h, crop_w, 3].
void vlm_crop_normalize_u8(const uint8_t* src, int64_t h, int64_t w, int64_t c, int64_t top, int64_t left,
                           int64_t crop_h, int64_t crop_w, double rescale, const float* mean, const float* std,
                           float* out, uint8_t* crop_u8);
