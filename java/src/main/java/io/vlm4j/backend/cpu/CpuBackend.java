package io.vlm4j.backend.cpu;

import io.vlm4j.backend.Activation;
import io.vlm4j.backend.Backend;
import io.vlm4j.backend.OpChecks;
import io.vlm4j.tensor.DType;
import io.vlm4j.tensor.Device;
import io.vlm4j.tensor.Tensor;
import java.util.OptionalInt;

/**
 * The native CPU backend: C++ SIMD + OpenMP kernels from {@code native/}, bound by {@link NativeKernels}. Computes in
 * F32; with {@link #withBf16Weights} the encoders' linear weights are held in BF16 and multiplied by AVX512_BF16's
 * vdpbf16ps (activations rounded to BF16 as they are packed, FP32 accumulation), where the CPU has it.
 */
public final class CpuBackend implements Backend {
    private final DType weights;

    /** Uses the OpenMP default thread count (all cores, or OMP_NUM_THREADS). */
    public CpuBackend() {
        this(DType.F32, 0);
    }

    private CpuBackend(DType weights, int threads) {
        NativeKernels.ensureLoaded();
        this.weights = weights;
        if (threads > 0) NativeKernels.vlm_set_num_threads(threads);
    }

    /**
     * A backend whose encoder weights are BF16 (threads: 0 = the OpenMP default). Throws with the reason when this CPU
     * has no AVX512_BF16.
     */
    public static CpuBackend withBf16Weights(int threads) {
        NativeKernels.ensureLoaded();
        if (!bf16Available()) {
            throw new IllegalStateException("the CPU backend's BF16 path needs AVX512_BF16, which this CPU lacks (features: "
                    + cpuFeatures() + ", SIMD path " + simdLevel() + ")");
        }
        return new CpuBackend(DType.BF16, threads);
    }

    /** Whether the BF16 weight path can run on this CPU. */
    public static boolean bf16Available() {
        NativeKernels.ensureLoaded();
        return NativeKernels.vlm_has_bf16_gemm() != 0;
    }

    @Override
    public DType weightType() { return weights; }

    /** Uses {@code threads} worker threads for every kernel (process-wide OpenMP setting). */
    public CpuBackend(int threads) {
        this(DType.F32, threads);
        if (threads <= 0) throw new IllegalArgumentException("threads must be > 0, got " + threads);
    }

    @Override
    public String name() { return "cpu"; }

    @Override
    public Device device() { return Device.CPU; }

    @Override
    public int threads() { return NativeKernels.vlm_max_threads(); }

    /** The SIMD path the kernels run: avx512, avx2 or scalar. */
    public static String simdLevel() { return NativeKernels.vlm_simd_level(); }

    public static String cpuFeatures() { return NativeKernels.vlm_cpu_features(); }

    @Override
    public void matmul(Tensor a, boolean transA, Tensor b, boolean transB, Tensor bias, Activation act,
                       Tensor residual, Tensor out) {
        if (b != null && b.dtype() == DType.BF16) {
            matmulBf16(a, transA, b, transB, bias, act, residual, out);
            return;
        }
        OpChecks.MatmulShape s = OpChecks.matmul(a, transA, b, transB, bias, residual, out);
        long m = s.m(), n = s.n(), k = s.k();
        if (s.batch() == 0 || m == 0 || n == 0) return;
        if (k == 0) {  // empty sum: the product is zero, the epilogue still applies
            NativeKernels.vlm_fill_f32(out.address(), out.numel(), 0f);
            if (bias != null) NativeKernels.vlm_add_row_f32(out.address(), bias.address(), out.numel() / n, n);
            NativeKernels.vlm_activation_f32(act.code(), out.address(), out.address(), out.numel());
            if (residual != null) NativeKernels.vlm_add_f32(out.address(), residual.address(), out.address(), out.numel());
            return;
        }
        long lda = transA ? m : k;
        long ldb = transB ? k : n;
        long strideB = s.sharedB() ? 0 : k * n;
        NativeKernels.vlm_gemm_f32(transA ? 1 : 0, transB ? 1 : 0, s.batch(), m, n, k,
                1f, a.address(), lda, m * k,
                b.address(), ldb, strideB,
                0f, out.address(), n, m * n,
                bias == null ? 0 : bias.address(), act.code(),
                residual == null ? 0 : residual.address(), n, m * n);
    }

    /**
     * Whether F32 linear weights are pre-packed at load ({@link #prepareLinearWeight}): faster repeated products (the
     * weights are not re-read and re-packed per call) for a second copy of the weights in memory. On unless the system
     * property {@code vlm4j.cpu.prepack} is {@code false}.
     */
    public static boolean prepackEnabled() {
        return !"false".equalsIgnoreCase(System.getProperty("vlm4j.cpu.prepack", "true"));
    }

    /** Floats before the packed panels of a prepared weight: n, k and the weight's address, then padding to 64 bytes. */
    private static final int PREPARED_HEADER = 16;

    @Override
    public Tensor prepareLinearWeight(Tensor weight) {
        OpChecks.requireOpen("prepareLinearWeight", "weight", weight);
        if (!prepackEnabled() || weight.dtype() != DType.F32 || weight.rank() != 2 || weight.numel() == 0) return null;
        long n = weight.dim(0), k = weight.dim(1);
        long floats = NativeKernels.vlm_gemm_packed_b_floats(k, n);
        Tensor packed = Tensor.allocate(DType.F32, PREPARED_HEADER + floats);
        try {
            packed.asByteBuffer().order(java.nio.ByteOrder.nativeOrder()).asLongBuffer().put(new long[] {n, k, weight.address()});
            NativeKernels.vlm_gemm_pack_b_f32(1, k, n, weight.address(), k, packed.address() + PREPARED_HEADER * Float.BYTES, floats);
            return packed;
        } catch (RuntimeException e) {
            packed.close();
            throw e;
        }
    }

    @Override
    public void linear(Tensor x, Tensor weight, Tensor prepared, Tensor bias, Activation act, Tensor residual, Tensor out) {
        if (prepared == null || weight.dtype() != DType.F32) {
            linear(x, weight, bias, act, residual, out);
            return;
        }
        long k = x.dim(-1), rows = x.numel() / Math.max(1, k), n = weight.dim(0);
        OpChecks.requireShape("linear", "out", out, OpChecks.withLast(x.shape(), n));
        Tensor x2 = x.reshape(rows, k), out2 = out.reshape(rows, n), r2 = residual == null ? null : residual.reshape(rows, n);
        OpChecks.matmul(x2, false, weight, true, bias, r2, out2);
        OpChecks.requireF32("linear", "prepared", prepared);
        long floats = NativeKernels.vlm_gemm_packed_b_floats(k, n);
        long[] header = new long[3];
        if (prepared.numel() == PREPARED_HEADER + floats) {
            prepared.asByteBuffer().order(java.nio.ByteOrder.nativeOrder()).asLongBuffer().get(header);
        }
        if (header[0] != n || header[1] != k || header[2] != weight.address()) {
            throw new IllegalArgumentException("linear: the prepared weight " + prepared + " is not the packed form of " + weight);
        }
        if (rows == 0) return;
        NativeKernels.vlm_gemm_f32_packed(1, rows, n, k, x2.address(), k, rows * k, prepared.address() + PREPARED_HEADER * Float.BYTES,
                floats, out2.address(), n, rows * n, bias == null ? 0 : bias.address(), act.code(), r2 == null ? 0 : r2.address(), n,
                rows * n);
    }

    /** F32 activations times BF16 weights [N, K] (the linear-layer layout), shared across any leading batch of a. */
    private void matmulBf16(Tensor a, boolean transA, Tensor b, boolean transB, Tensor bias, Activation act, Tensor residual,
                            Tensor out) {
        OpChecks.MatmulShape s = OpChecks.matmul(DType.F32, DType.BF16, a, transA, b, transB, bias, residual, out);
        if (transA || !transB || !(s.sharedB() || s.batch() == 1)) {
            throw new IllegalArgumentException("matmul: BF16 weights take the linear-layer layout only (a [.., M, K] times b [N, K]ᵀ), got a="
                    + a + (transA ? "ᵀ" : "") + " b=" + b + (transB ? "ᵀ" : ""));
        }
        if (!bf16Available()) throw new IllegalStateException("matmul: BF16 weights need AVX512_BF16, which this CPU lacks");
        long rows = s.batch() * s.m(), n = s.n(), k = s.k();
        if (rows == 0 || n == 0) return;
        NativeKernels.vlm_gemm_bf16(rows, n, k, a.address(), k, b.address(), k, bias == null ? 0 : bias.address(), act.code(),
                residual == null ? 0 : residual.address(), n, out.address(), n);
    }

    @Override
    public void patchEmbed(Tensor pixels, Tensor weight, Tensor bias, Tensor out) {
        OpChecks.checkPatchEmbed(pixels, weight, bias, out);
        long bsz = pixels.dim(0), c = pixels.dim(1), h = pixels.dim(2), w = pixels.dim(3);
        long d = weight.dim(0), p = weight.dim(2);
        if (bsz == 0 || d == 0) return;
        NativeKernels.vlm_patch_embed_f32(pixels.address(), bsz, c, h, w, p, weight.address(),
                bias == null ? 0 : bias.address(), d, out.address());
    }

    @Override
    public void layerNorm(Tensor x, Tensor gamma, Tensor beta, float eps, Tensor out) {
        OpChecks.checkLayerNorm(x, gamma, beta, eps, out);
        long dim = x.dim(-1);
        long rows = OpChecks.rows(x);
        if (rows == 0 || dim == 0) return;
        NativeKernels.vlm_layernorm_f32(x.address(), gamma.address(), beta.address(), out.address(), rows, dim, eps);
    }

    @Override
    public void softmax(Tensor x, Tensor out) {
        OpChecks.checkUnary("softmax", x, out);
        long rows = OpChecks.rows(x);
        if (rows == 0 || x.dim(-1) == 0) return;
        NativeKernels.vlm_softmax_f32(x.address(), out.address(), rows, x.dim(-1));
    }

    @Override
    public void activation(Activation act, Tensor x, Tensor out) {
        OpChecks.checkUnary("activation", x, out);
        if (x.numel() == 0) return;
        NativeKernels.vlm_activation_f32(act.code(), x.address(), out.address(), x.numel());
    }

    @Override
    public void add(Tensor a, Tensor b, Tensor out) {
        OpChecks.checkAdd(a, b, out);
        if (a.numel() == 0) return;
        NativeKernels.vlm_add_f32(a.address(), b.address(), out.address(), a.numel());
    }

    @Override
    public void addBroadcast(Tensor x, Tensor suffix) {
        OpChecks.checkAddBroadcast(x, suffix);
        if (x.numel() == 0) return;
        NativeKernels.vlm_add_row_f32(x.address(), suffix.address(), x.numel() / suffix.numel(), suffix.numel());
    }

    @Override
    public void l2Normalize(Tensor x, float eps, Tensor out) {
        OpChecks.checkUnary("l2Normalize", x, out);
        long rows = OpChecks.rows(x);
        if (rows == 0 || x.dim(-1) == 0) return;
        NativeKernels.vlm_l2_normalize_f32(x.address(), out.address(), rows, x.dim(-1), eps);
    }

    @Override
    public void attention(Tensor q, Tensor k, Tensor v, Tensor out, int heads, boolean causal, Tensor keyMask) {
        OpChecks.AttentionShape s = OpChecks.attention(q, k, v, out, heads, keyMask);
        if (s.batch() == 0 || s.lq() == 0) return;
        long width = q.dim(2);
        if (s.lk() == 0) {  // no key at all: every query row is empty
            NativeKernels.vlm_fill_f32(out.address(), out.numel(), 0f);
            return;
        }
        NativeKernels.vlm_attention_f32(q.address(), width, s.lq() * width,
                k.address(), width, s.lk() * width,
                v.address(), width, s.lk() * width,
                out.address(), width, s.lq() * width,
                s.batch(), heads, s.lq(), s.lk(), s.headDim(),
                (float) (1.0 / Math.sqrt(s.headDim())), causal ? 1 : 0, keyMask == null ? 0 : keyMask.address());
    }

    @Override
    public void attentionPacked(Tensor qkv, Tensor out, int heads, boolean causal, Tensor keyMask) {
        long w = OpChecks.attentionPacked(qkv, out, heads, keyMask);
        long b = qkv.dim(0), len = qkv.dim(1), w3 = 3 * w;
        if (b == 0 || len == 0) return;
        long base = qkv.address(), fb = Float.BYTES;
        NativeKernels.vlm_attention_f32(base, w3, len * w3, base + w * fb, w3, len * w3, base + 2 * w * fb, w3, len * w3,
                out.address(), w, len * w, b, heads, len, len, w / heads,
                (float) (1.0 / Math.sqrt(w / heads)), causal ? 1 : 0, keyMask == null ? 0 : keyMask.address());
    }

    @Override
    public void gather(Tensor table, Tensor ids, Tensor out) {
        OpChecks.checkGather(table, ids, out);
        long n = ids.numel(), d = table.dim(1);
        if (n == 0 || d == 0) return;
        long tableRows = table.dim(0);
        OpChecks.dataChecked(() -> NativeKernels.vlm_gather_rows_f32(table.address(), tableRows, d, ids.address(), n, out.address()));
    }

    @Override
    public long[] eosPool(Tensor hidden, Tensor ids, OptionalInt eosTokenId, Tensor out) {
        OpChecks.checkEosPool(hidden, ids, eosTokenId, out);
        long b = hidden.dim(0), len = hidden.dim(1), d = hidden.dim(2);
        if (b == 0) return new long[0];
        try (Tensor index = Tensor.allocate(DType.F32, 2 * b)) {  // 8 bytes per int64 position
            int eos = eosTokenId.isPresent() ? eosTokenId.getAsInt() : -1;
            OpChecks.dataChecked(() -> NativeKernels.vlm_eos_pool_f32(hidden.address(), ids.address(), b, len, d, eos, out.address(),
                    index.address()));
            long[] pos = new long[(int) b];
            index.asByteBuffer().asLongBuffer().get(pos);
            return pos;
        }
    }

    @Override
    public void convert(Tensor src, Tensor dst) {
        OpChecks.checkConvert(src, dst);
        if (src.numel() == 0) return;
        NativeKernels.vlm_convert(src.dtype().code(), src.address(), dst.dtype().code(), dst.address(), src.numel());
    }

    // ---- training: F32 like every op here ----

    @Override
    public void layerNormBackward(Tensor x, Tensor gamma, float eps, Tensor dy, Tensor dx, boolean accumulate, Tensor dGamma,
                                  Tensor dBeta) {
        OpChecks.checkLayerNormBackward(DType.F32, x, gamma, eps, dy, dx, accumulate, dGamma, dBeta);
        long rows = OpChecks.rows(x);
        if (rows == 0) return;
        NativeKernels.vlm_layernorm_backward_f32(x.address(), gamma.address(), dy.address(), dx.address(), rows, x.dim(-1), eps,
                accumulate ? 1 : 0, dGamma == null ? 0 : dGamma.address(), dBeta == null ? 0 : dBeta.address());
    }

    @Override
    public void activationBackward(Activation act, Tensor x, Tensor dy, Tensor dx) {
        OpChecks.checkUnaryBackward(DType.F32, "activationBackward", x, dy, dx);
        if (x.numel() == 0) return;
        NativeKernels.vlm_activation_backward_f32(act.code(), x.address(), dy.address(), dx.address(), x.numel());
    }

    @Override
    public void attentionPackedBackward(Tensor qkv, Tensor out, Tensor dOut, Tensor dQkv, int heads, boolean causal,
                                        Tensor keyMask) {
        long w = OpChecks.attentionPackedBackward(DType.F32, qkv, out, dOut, dQkv, heads, keyMask);
        long b = qkv.dim(0), len = qkv.dim(1), w3 = 3 * w;
        if (b == 0 || len == 0) return;
        long base = qkv.address(), grad = dQkv.address(), fb = Float.BYTES;
        // q, k, v (and their gradients) are the three column blocks of one [B, L, 3·H·d] tensor, read in place
        NativeKernels.vlm_attention_backward_f32(base, w3, len * w3, base + w * fb, w3, len * w3, base + 2 * w * fb, w3, len * w3,
                out.address(), w, len * w, dOut.address(), w, len * w,
                grad, w3, len * w3, grad + w * fb, w3, len * w3, grad + 2 * w * fb, w3, len * w3,
                b, heads, len, len, w / heads, (float) (1.0 / Math.sqrt(w / heads)), causal ? 1 : 0,
                keyMask == null ? 0 : keyMask.address());
    }

    @Override
    public void l2NormalizeBackward(Tensor x, float eps, Tensor dy, Tensor dx) {
        OpChecks.checkUnaryBackward(DType.F32, "l2NormalizeBackward", x, dy, dx);
        long rows = OpChecks.rows(x);
        if (rows == 0) return;
        NativeKernels.vlm_l2_normalize_backward_f32(x.address(), dy.address(), dx.address(), rows, x.dim(-1), eps);
    }

    @Override
    public void dropout(Tensor x, float p, long seed, Tensor out) {
        OpChecks.checkDropout(DType.F32, x, p, out);
        if (x.numel() == 0) return;
        NativeKernels.vlm_dropout_f32(x.address(), out.address(), x.numel(), p, seed);
    }

    @Override
    public void adamw(Tensor param, Tensor grad, Tensor m, Tensor v, float lr, float beta1, float beta2, float eps,
                      float weightDecay, long step) {
        OpChecks.checkAdamw(param, grad, m, v, lr, beta1, beta2, eps, weightDecay, step);
        if (param.numel() == 0) return;
        NativeKernels.vlm_adamw_f32(param.address(), grad.address(), m.address(), v.address(), param.numel(), lr, beta1, beta2,
                eps, weightDecay, step);
    }

    @Override
    public double sumSquares(Tensor x) {
        OpChecks.checkSumSquares(DType.F32, x);
        if (x.numel() == 0) return 0;
        return NativeKernels.vlm_sum_squares_f32(x.address(), x.numel());
    }

    @Override
    public void scale(Tensor x, float alpha) {
        OpChecks.checkScale(DType.F32, x, alpha);
        if (x.numel() == 0) return;
        NativeKernels.vlm_scale_f32(x.address(), x.numel(), alpha);
    }
}
