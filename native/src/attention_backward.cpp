// Attention backward: the gradients of vlm_attention_f32 with respect to q, k and v, from the forward's output and
// its gradient, the softmax recomputed (the forward saves nothing but its output).
//
// One work item is one (batch, head); items run in parallel and each calls the GEMM serially (vlm_gemm_f32 runs
// single-threaded inside a parallel region). An item walks its queries in blocks of QB, with the scores of a block
// in a per-thread [QB, Lk] scratch (so memory stays bounded for long sequences):
//   P  = softmax(scale Q_blk K^T + masks)        GEMM, then the masks and vlm_softmax_f32 row by row
//   dV += P^T dO_blk                            GEMM with beta = 1 (dK, dV zeroed when the item starts)
//   dP = dO_blk V^T                              GEMM
//   dS = scale * P * (dP - D), D_i = <dO_i, O_i>
//   dQ_blk = dS K,   dK += dS^T Q_blk            GEMMs
// q, k, v, out and the gradients are read and written in place through their row and batch strides, so the packed
// [B, L, 3 H d] projection needs no copies. Causal blocks only touch the keys their last query can see.
#include "vlm4j/kernels.h"
#include "common.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <exception>
#include <limits>
#include <vector>

namespace {

using vlm::fail;
constexpr float ninf = -std::numeric_limits<float>::infinity();
constexpr int64_t QB = 128;  // queries per block: P and dP of a block are 2 x 128 x Lk floats

struct Problem {
    const float *q, *k, *v, *out, *dout;
    float *dq, *dk, *dv;
    int64_t ldq, ldk, ldv, ldo, lddo, lddq, lddk, lddv;
    int64_t sq, sk, sv, so, sdo, sdq, sdk, sdv;  // batch strides
    int64_t batch, heads, lq, lk, d;
    float scale;
    bool causal;
    const int32_t* key_mask;

    int64_t key_end(int64_t i) const { return vlm::key_end(causal, i, lq, lk); }
};

thread_local std::vector<float> tl_p, tl_dp;

float* sized(std::vector<float>& v, int64_t n) {
    if (static_cast<int64_t>(v.size()) < n) v.resize(static_cast<size_t>(n));
    return v.data();
}

void zero_rows(float* base, int64_t ld, int64_t rows, int64_t cols) {
    for (int64_t r = 0; r < rows; ++r) std::memset(base + r * ld, 0, static_cast<size_t>(cols) * sizeof(float));
}

// C[m, n] = alpha op(A) op(B) + beta C, single problem, no epilogue.
void gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda, const float* b,
          int64_t ldb, float beta, float* c, int64_t ldc) {
    vlm_gemm_f32(ta, tb, 1, m, n, k, alpha, a, lda, 0, b, ldb, 0, beta, c, ldc, 0, nullptr, 0, nullptr, 0, 0);
}

void run_item(const Problem& p, int64_t b, int64_t h) {
    const int64_t d = p.d, col = h * d;
    const float* qb = p.q + b * p.sq + col;
    const float* kb = p.k + b * p.sk + col;
    const float* vb = p.v + b * p.sv + col;
    const float* ob = p.out + b * p.so + col;
    const float* dob = p.dout + b * p.sdo + col;
    float* dqb = p.dq + b * p.sdq + col;
    float* dkb = p.dk + b * p.sdk + col;
    float* dvb = p.dv + b * p.sdv + col;
    const int32_t* km = p.key_mask ? p.key_mask + b * p.lk : nullptr;
    zero_rows(dkb, p.lddk, p.lk, d);  // keys no query sees keep a zero gradient
    zero_rows(dvb, p.lddv, p.lk, d);
    float* const pbuf = sized(tl_p, QB * p.lk);
    float* const dpbuf = sized(tl_dp, QB * p.lk);

    for (int64_t i0 = 0; i0 < p.lq; i0 += QB) {
        const int64_t nq = std::min(QB, p.lq - i0);
        const int64_t kend = p.key_end(i0 + nq - 1);  // the block's last query sees the most keys
        if (kend == 0) {
            zero_rows(dqb + i0 * p.lddq, p.lddq, nq, d);
            continue;
        }
        const int64_t ld = kend;  // P and dP of the block: [nq, kend]
        gemm(false, true, nq, kend, d, p.scale, qb + i0 * p.ldq, p.ldq, kb, p.ldk, 0.0f, pbuf, ld);
        for (int64_t i = 0; i < nq; ++i) {
            float* row = pbuf + i * ld;
            const int64_t end = p.key_end(i0 + i);
            std::fill(row + end, row + kend, ninf);
            if (km)
                for (int64_t j = 0; j < end; ++j)
                    if (km[j] == 0) row[j] = ninf;
            vlm_softmax_f32(row, row, 1, kend);  // all -inf (nothing visible): zeros
        }
        gemm(true, false, kend, d, nq, 1.0f, pbuf, ld, dob + i0 * p.lddo, p.lddo, 1.0f, dvb, p.lddv);
        gemm(false, true, nq, kend, d, 1.0f, dob + i0 * p.lddo, p.lddo, vb, p.ldv, 0.0f, dpbuf, ld);
        for (int64_t i = 0; i < nq; ++i) {
            const float* o = ob + (i0 + i) * p.ldo;
            const float* g = dob + (i0 + i) * p.lddo;
            float rd = 0.0f;
            for (int64_t c = 0; c < d; ++c) rd += g[c] * o[c];
            const float* pr = pbuf + i * ld;
            float* ds = dpbuf + i * ld;
            // masked keys: P = 0 gives dS = 0 (dP there is finite: the GEMM saw real values)
            for (int64_t j = 0; j < kend; ++j) ds[j] = p.scale * pr[j] * (ds[j] - rd);
        }
        gemm(false, false, nq, d, kend, 1.0f, dpbuf, ld, kb, p.ldk, 0.0f, dqb + i0 * p.lddq, p.lddq);
        gemm(true, false, kend, d, nq, 1.0f, dpbuf, ld, qb + i0 * p.ldq, p.ldq, 1.0f, dkb, p.lddk);
    }
}


}  // namespace

void vlm_attention_backward_f32(const float* q, int64_t ldq, int64_t stride_q, const float* k, int64_t ldk,
                                int64_t stride_k, const float* v, int64_t ldv, int64_t stride_v, const float* out,
                                int64_t ldo, int64_t stride_o, const float* dout, int64_t lddo, int64_t stride_do,
                                float* dq, int64_t lddq, int64_t stride_dq, float* dk, int64_t lddk, int64_t stride_dk,
                                float* dv, int64_t lddv, int64_t stride_dv, int64_t batch, int64_t heads, int64_t lq,
                                int64_t lk, int64_t head_dim, float scale, int causal, const int32_t* key_mask) {
    static const char* fn = "vlm_attention_backward_f32";
    vlm::check_pos(fn, batch, "batch");
    vlm::check_pos(fn, heads, "heads");
    vlm::check_pos(fn, lq, "lq");
    vlm::check_pos(fn, lk, "lk");
    vlm::check_pos(fn, head_dim, "head_dim");
    const int64_t width = vlm::mul_checked(fn, heads, head_dim);
    vlm::mul_checked(fn, batch, lk);
    vlm::mul_checked(fn, batch, heads);
    vlm::mul_checked(fn, QB, lk);
    if (causal != 0 && causal != 1) fail(fn, "causal must be 0 or 1 (got ", causal, ")");
    if (!std::isfinite(scale)) fail(fn, "scale must be finite (got ", scale, ")");

    struct Operand {
        const char* name;
        const float* ptr;
        int64_t ld, stride, rows;
        bool output;
    };
    const Operand ops[] = {{"q", q, ldq, stride_q, lq, false},     {"k", k, ldk, stride_k, lk, false},
                           {"v", v, ldv, stride_v, lk, false},     {"out", out, ldo, stride_o, lq, false},
                           {"dout", dout, lddo, stride_do, lq, false}, {"dq", dq, lddq, stride_dq, lq, true},
                           {"dk", dk, lddk, stride_dk, lk, true},  {"dv", dv, lddv, stride_dv, lk, true}};
    int64_t ext[8];
    for (int i = 0; i < 8; ++i) {
        const Operand& o = ops[i];
        vlm::check_ptr(fn, o.ptr, o.name);
        if (o.ld < width) fail(fn, "the row stride of ", o.name, " (", o.ld, ") is smaller than heads*head_dim (", width, ")");
        vlm::check_nonneg(fn, o.stride, o.name);
        ext[i] = vlm::extent(fn, batch, o.stride, o.rows, o.ld, width);
        // the batches of an output are written in parallel: they must not overlap
        if (o.output && batch > 1 && o.stride < (o.rows - 1) * o.ld + width)
            fail(fn, "the batch stride of ", o.name, " (", o.stride, ") makes its batches overlap (need >= ",
                 (o.rows - 1) * o.ld + width, ")");
    }
    for (int i = 5; i < 8; ++i) {  // an output must not overwrite what is still to be read
        const auto o0 = reinterpret_cast<uintptr_t>(ops[i].ptr), o1 = o0 + ext[i] * sizeof(float);
        for (int j = 0; j < 5; ++j) {
            const auto i0 = reinterpret_cast<uintptr_t>(ops[j].ptr), i1 = i0 + ext[j] * sizeof(float);
            if (o0 < i1 && i0 < o1) fail(fn, ops[i].name, " overlaps the input ", ops[j].name);
        }
    }

    const Problem p{q, k, v, out, dout, dq, dk, dv,
                    ldq, ldk, ldv, ldo, lddo, lddq, lddk, lddv,
                    stride_q, stride_k, stride_v, stride_o, stride_do, stride_dq, stride_dk, stride_dv,
                    batch, heads, lq, lk, head_dim, scale, causal != 0, key_mask};
    const int64_t items = batch * heads;
    // An exception must not leave an OpenMP region (that would terminate the JVM): a bad_alloc growing the scratch
    // is caught per item and rethrown on the calling thread. With a single item the GEMMs use the whole team.
    std::exception_ptr error;
#pragma omp parallel for schedule(dynamic, 1) if (items > 1)
    for (int64_t it = 0; it < items; ++it) {
        try {
            run_item(p, it / heads, it % heads);
        } catch (...) {
#pragma omp critical(vlm_attention_backward_error)
            if (!error) error = std::current_exception();
        }
    }
    if (error) std::rethrow_exception(error);
}
