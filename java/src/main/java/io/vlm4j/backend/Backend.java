package io.vlm4j.backend;

import io.vlm4j.tensor.DType;
import io.vlm4j.tensor.Device;
import io.vlm4j.tensor.Tensor;
import java.util.OptionalInt;

/**
 * The operations a CLIP forward needs. Models reach kernels only through this interface; implementations are the
 * native CPU backend, the float64 reference backend (the oracle in tests) and, later, CUDA.
 *
 * <p>All tensors are dense row-major. Unless stated otherwise inputs and outputs are F32, {@code out} may alias
 * an input only where noted, and every method checks shapes and dtypes with {@link OpChecks} and throws
 * {@link IllegalArgumentException} naming the operation and the offending shape.
 */
public interface Backend extends AutoCloseable {

    /** Short name: "cpu", "reference", "cuda". */
    String name();

    Device device();

    /**
     * The element type of activations and matmul weights a model should use on this backend: F32 on the CPU and
     * reference backends; F32, F16 or BF16 on CUDA ({@code --dtype}). LayerNorm parameters, biases, pixels and the
     * embeddings a tower returns stay F32.
     */
    default DType computeType() {
        return DType.F32;
    }

    /**
     * The element type of the weights of the encoders' linear layers: the compute type, except on a CPU backend with
     * BF16 weights (F32 activations times BF16 weights, AVX512_BF16).
     */
    default DType weightType() {
        return computeType();
    }

    /** {@code t} (on this device) as F32: itself, or a conversion allocated in {@code scope}. */
    default Tensor asF32(Tensor t, io.vlm4j.tensor.TensorScope scope) {
        if (t.dtype() == DType.F32) return t;
        Tensor f = scope.f32(t.shape());
        convert(t, f);
        return f;
    }

    /** A zero-filled tensor on this backend's device. */
    default Tensor allocate(DType dtype, long... shape) {
        return Tensor.allocate(device(), dtype, shape);
    }

    /**
     * Batched matrix product with a fused epilogue: {@code out = act(op(a)·op(b) + bias) + residual}.
     * a: [..., M, K] ([..., K, M] when transA); b: [..., K, N] ([..., N, K] when transB) with the same leading
     * (batch) dimensions as a, or rank 2 to share one matrix across the batch; bias: [N] or null;
     * residual: shaped like out or null (may alias out); out: [..., M, N].
     */
    void matmul(Tensor a, boolean transA, Tensor b, boolean transB, Tensor bias, Activation act, Tensor residual,
                Tensor out);

    /** nn.Linear: x [..., K], weight [N, K], bias [N] or null: {@code out[..., N] = act(x·Wᵀ + b) + residual}. */
    /** {@code t} itself when it lives on this backend's device, else a copy there (the caller then owns both). */
    default Tensor onDevice(Tensor t) {
        if (t.device() == device()) return t;
        Tensor d = Tensor.allocate(device(), t.dtype(), t.shape());
        try {
            d.copyFrom(t);
        } catch (RuntimeException e) {
            d.close();
            throw e;
        }
        return d;
    }

    /** Moves a tensor the caller owns to this backend's device: the same tensor, or a copy there with {@code t} closed. */
    default Tensor adopt(Tensor t) {
        Tensor d = onDevice(t);
        if (d != t) t.close();
        return d;
    }

    /**
     * {@link #adopt} converting to {@code dtype} on the device (weights converted once at load): the result is owned
     * by the caller and {@code t} is closed.
     */
    default Tensor adoptAs(Tensor t, DType dtype) {
        Tensor d = adopt(t);
        if (d.dtype() == dtype) return d;
        try (d) {
            Tensor c = Tensor.allocate(device(), dtype, d.shape());
            try {
                convert(d, c);
            } catch (RuntimeException e) {
                c.close();
                throw e;
            }
            return c;
        }
    }

    /**
     * Strided row copy within this backend's device: for r &lt; rows, the {@code rowLength} elements at
     * {@code src[srcOffset + r·srcStride]} go to {@code dst[dstOffset + r·dstStride]} (offsets and strides in
     * elements, same dtype). One call instead of a loop of copies (gathering class tokens, assembling sequences).
     */
    default void copyRows(Tensor src, long srcOffset, long srcStride, Tensor dst, long dstOffset, long dstStride, long rows,
                          long rowLength) {
        OpChecks.checkCopyRows(src, srcOffset, srcStride, dst, dstOffset, dstStride, rows, rowLength);
        for (long r = 0; r < rows; r++) {
            dst.view(dstOffset + r * dstStride, rowLength).copyFrom(src.view(srcOffset + r * srcStride, rowLength));
        }
    }

    default void linear(Tensor x, Tensor weight, Tensor bias, Activation act, Tensor residual, Tensor out) {
        long k = x.dim(-1);
        long rows = x.numel() / Math.max(1, k);
        long n = weight.dim(0);
        OpChecks.requireShape("linear", "out", out, OpChecks.withLast(x.shape(), n));
        matmul(x.reshape(rows, k), false, weight, true, bias, act,
                residual == null ? null : residual.reshape(rows, n), out.reshape(rows, n));
    }

    /**
     * A linear weight [N, K] prepared for repeated {@link #linear} calls: the CPU backend packs an F32 weight once into
     * its GEMM panels (the work every call would otherwise redo, reading the weight from memory each time). Returns null
     * when there is nothing to prepare. The result belongs to the caller, fits only this backend and is valid only while
     * the weight's values stay unchanged (prepare again after merging an adapter into it).
     */
    default Tensor prepareLinearWeight(Tensor weight) {
        return null;
    }

    /** {@link #linear(Tensor, Tensor, Tensor, Activation, Tensor, Tensor)} with the weight's prepared form (or null). */
    default void linear(Tensor x, Tensor weight, Tensor prepared, Tensor bias, Activation act, Tensor residual, Tensor out) {
        linear(x, weight, bias, act, residual, out);
    }

    /** Conv2d with kernel = stride = P, no padding: pixels [B, C, H, W], weight [D, C, P, P], bias [D] or null, out [B, (H/P)·(W/P), D]. */
    void patchEmbed(Tensor pixels, Tensor weight, Tensor bias, Tensor out);

    /** LayerNorm over the last axis (biased variance, eps inside the square root). out may alias x. */
    void layerNorm(Tensor x, Tensor gamma, Tensor beta, float eps, Tensor out);

    /** Softmax over the last axis. out may alias x. */
    void softmax(Tensor x, Tensor out);

    /** Elementwise activation. out may alias x. */
    void activation(Activation act, Tensor x, Tensor out);

    /** out = a + b (same shapes). out may alias a or b. */
    void add(Tensor a, Tensor b, Tensor out);

    /** x += suffix, where suffix's shape equals the trailing dimensions of x (broadcast over the leading ones). */
    void addBroadcast(Tensor x, Tensor suffix);

    /** out = x / max(‖x‖₂, eps) per row of the last axis. out may alias x. */
    void l2Normalize(Tensor x, float eps, Tensor out);

    /**
     * Fused scaled-dot-product attention with scale 1/√d. q: [B, Lq, H·d]; k, v: [B, Lk, H·d]; out: [B, Lq, H·d].
     * causal: query i sees keys j ≤ i + (Lk − Lq). keyMask: I32 [B, Lk] (non-zero = keep) or null.
     */
    void attention(Tensor q, Tensor k, Tensor v, Tensor out, int heads, boolean causal, Tensor keyMask);

    /**
     * Attention on a fused projection: qkv [B, L, 3·H·d] holds q, k and v side by side along the last axis (the
     * output of one GEMM with concatenated weights); out [B, L, H·d]. The default splits and copies; backends
     * override it to read the three parts in place.
     */
    default void attentionPacked(Tensor qkv, Tensor out, int heads, boolean causal, Tensor keyMask) {
        long w = OpChecks.attentionPacked(qkv, out, heads, keyMask);
        long b = qkv.dim(0), len = qkv.dim(1), w3 = 3 * w;
        float[] all = qkv.toFloatArray();
        float[][] parts = new float[3][(int) (b * len * w)];
        for (long row = 0; row < b * len; row++) {
            for (int j = 0; j < 3; j++) {
                System.arraycopy(all, (int) (row * w3 + j * w), parts[j], (int) (row * w), (int) w);
            }
        }
        try (Tensor q = Tensor.of(parts[0], b, len, w); Tensor k = Tensor.of(parts[1], b, len, w);
             Tensor v = Tensor.of(parts[2], b, len, w)) {
            attention(q, k, v, out, heads, causal, keyMask);
        }
    }

    /** Embedding lookup: table [V, D], ids I32 (any shape, N elements), out [N, D] or ids.shape + [D]. */
    void gather(Tensor table, Tensor ids, Tensor out);

    /**
     * EOS pooling (spec 01 §3.3): hidden [B, L, D], ids I32 [B, L]; with no eosTokenId the position is argmax(ids)
     * (first maximum), otherwise the first position equal to it. Writes out [B, D] and returns the positions.
     */
    long[] eosPool(Tensor hidden, Tensor ids, OptionalInt eosTokenId, Tensor out);

    /** Element type conversion between F32, F16 and BF16 (same element count). */
    void convert(Tensor src, Tensor dst);

    // ---- Training (LoRA fine-tuning, spec 05/07). Gradients flow in the activations' dtype (the compute type);
    // ---- optimizer state and the trainable parameters stay F32. Defaults throw: each backend overrides them.

    /**
     * LayerNorm backward for the input: with x̂ = (x − μ)/σ (σ = √(var + eps), biased variance) and g = dy·γ,
     * {@code dx = (g − mean(g) − x̂·mean(g·x̂)) / σ} per row. x: the forward input [.., D]; gamma: F32 [D]; dy and
     * dx shaped like x. accumulate: dx += that, else dx = that. dGamma/dBeta: F32 [D] or null; when given,
     * {@code dGamma += Σ_rows dy·x̂} and {@code dBeta += Σ_rows dy}. dx may alias dy only when not accumulating.
     */
    default void layerNormBackward(Tensor x, Tensor gamma, float eps, Tensor dy, Tensor dx, boolean accumulate,
                                   Tensor dGamma, Tensor dBeta) {
        throw unsupported("layerNormBackward");
    }

    /** {@code dx = act'(x)·dy} elementwise, x the pre-activation input. dx may alias dy. */
    default void activationBackward(Activation act, Tensor x, Tensor dy, Tensor dx) {
        throw unsupported("activationBackward");
    }

    /**
     * Backward of {@link #attentionPacked}: qkv [B, L, 3·H·d] and out [B, L, H·d] are the forward's input and output,
     * dOut its gradient; writes dQkv [B, L, 3·H·d] (overwritten, q/k/v parts side by side as in qkv). The softmax is
     * recomputed from q and k (nothing but qkv and out is saved by the forward); masked keys get no gradient and
     * fully masked query rows give zero.
     */
    default void attentionPackedBackward(Tensor qkv, Tensor out, Tensor dOut, Tensor dQkv, int heads, boolean causal,
                                         Tensor keyMask) {
        throw unsupported("attentionPackedBackward");
    }

    /**
     * Backward of {@link #l2Normalize} per row: with n = max(‖x‖, eps) and u = x/n, {@code dx = (dy − ⟨dy, u⟩·u)/n}
     * when ‖x‖ > eps, else dy/eps. x, dy, dx: F32 with the same shape. dx may alias dy.
     */
    default void l2NormalizeBackward(Tensor x, float eps, Tensor dy, Tensor dx) {
        throw unsupported("l2NormalizeBackward");
    }

    /**
     * Inverted dropout with a counter-based mask: element i is kept iff hash(seed, i) ≥ p·2³², and then scaled by
     * 1/(1−p). The same (seed, p) gives the same mask on every backend and every call, so a backward applies it to the
     * gradient with the same seed. p in [0, 1); out may alias x.
     *
     * <p>Exactly, bit for bit on every backend: for the element index i (0-based over the flattened tensor, int64),
     * z = seed + (i + 1)·0x9E3779B97F4A7C15 (uint64 arithmetic, wrapping); z = (z ^ (z >>> 30))·0xBF58476D1CE4E5B9;
     * z = (z ^ (z >>> 27))·0x94D049BB133111EB; z ^= z >>> 31 (z is output i of SplitMix64 from state seed, the sequence
     * of {@code new java.util.SplittableRandom(seed).nextLong()}). With threshold = (uint32) min(2³² − 1, ⌊p·2³²⌋),
     * element i is kept iff (uint32) (z >>> 32) ≥ threshold. A kept element becomes x·s rounded to F32, where the F32
     * s = (float) (1.0 / (1.0 − (double) p)); a dropped one becomes 0. p = 0 is the identity.
     */
    default void dropout(Tensor x, float p, long seed, Tensor out) {
        throw unsupported("dropout");
    }

    /**
     * One fused AdamW step (PyTorch {@code torch.optim.AdamW}) on F32 tensors of one shape: p ← p·(1 − lr·wd);
     * m ← β₁m + (1−β₁)g; v ← β₂v + (1−β₂)g²; p ← p − lr·(m/(1−β₁ᵗ)) / (√(v/(1−β₂ᵗ)) + eps). step t ≥ 1.
     */
    default void adamw(Tensor param, Tensor grad, Tensor m, Tensor v, float lr, float beta1, float beta2, float eps,
                       float weightDecay, long step) {
        throw unsupported("adamw");
    }

    /** Σ x² over all elements of x (F32, F16 or BF16), accumulated in double: gradient-norm clipping. */
    default double sumSquares(Tensor x) {
        throw unsupported("sumSquares");
    }

    /** x ← alpha·x in place (x F32, F16 or BF16). */
    default void scale(Tensor x, float alpha) {
        throw unsupported("scale");
    }

    private UnsupportedOperationException unsupported(String op) {
        return new UnsupportedOperationException(op + ": not implemented by the " + name() + " backend");
    }

    /** A recorded piece of work ({@link #record}): each {@link #run()} performs it again. */
    interface Recording extends AutoCloseable {
        void run();

        @Override
        void close();
    }

    /**
     * Runs {@code body} once and records it so that it can be replayed cheaply: the CUDA backend captures it as a
     * CUDA graph (one launch instead of hundreds of kernel launches per tower forward); here each replay simply runs
     * the body again. The body must read and write only tensors that outlive the recording, plus scratch it frees.
     */
    default Recording record(Runnable body) {
        body.run();
        return new Recording() {
            @Override
            public void run() { body.run(); }

            @Override
            public void close() {}
        };
    }

    /** Waits until every op issued so far has finished (asynchronous backends; the CPU backends finish each op). */
    default void synchronize() {}

    /** Number of worker threads the backend uses. */
    int threads();

    @Override
    default void close() {}
}
