package io.vlm4j.backend.cuda;

import io.vlm4j.backend.Activation;
import io.vlm4j.backend.Backend;
import io.vlm4j.backend.OpChecks;
import io.vlm4j.tensor.DType;
import io.vlm4j.tensor.Device;
import io.vlm4j.tensor.Tensor;
import java.util.Arrays;
import java.util.OptionalInt;

/**
 * The CUDA backend: every op on the GPU through the kernels of {@code cuda/}, checked by the same conformance suite
 * as the CPU backend. Computes in F32 (SIMT GEMM, warp-per-row attention: the checking path) or in F16/BF16
 * ({@link #computeType()}: models then convert their matmul weights once at load and keep activations in that
 * type; GEMMs run on tensor cores with FP32 accumulation, attention in the flash-attention kernel where it applies).
 *
 * <p>Each instance owns one CUDA stream: its ops, and the tensors allocated by the thread that runs them, are
 * ordered on it (the device memory pool is stream-ordered), so two model instances run independently. A sequence
 * of ops can be captured once and replayed as a CUDA graph ({@link #capture}). Tensors passed in must live in GPU
 * memory ({@link #allocate}, {@link #onDevice}); argument checks are the shared {@link OpChecks} plus the device.
 */
public final class CudaBackend implements Backend {
    private final DType compute;
    private long stream;

    /** An F32 backend. */
    public CudaBackend() {
        this(DType.F32);
    }

    /**
     * A backend computing in {@code compute} (F32, F16 or BF16). Throws {@link IllegalStateException} with the
     * reason when no usable GPU (or no CUDA build) is present.
     */
    public CudaBackend(DType compute) {
        if (compute != DType.F32 && compute != DType.F16 && compute != DType.BF16) {
            throw new IllegalArgumentException("CUDA backend: compute type must be F32, F16 or BF16, got " + compute);
        }
        String status = CudaStatus.deviceStatus();
        if (!status.startsWith("available")) throw new IllegalStateException("CUDA backend " + status);
        this.compute = compute;
        this.stream = CudaKernels.vlmc_stream_create();
        CudaKernels.vlmc_set_stream(stream);
    }

    private CudaBackend(DType compute, long stream) {
        this.compute = compute;
        this.stream = stream;
    }

    /**
     * A backend that is already closed (no stream, nothing on the device): every op still runs its argument checks,
     * which come before any device work, and then fails in {@link #use()}. For tests of those checks without a GPU.
     */
    static CudaBackend closedForArgumentChecks(DType compute) {
        return new CudaBackend(compute, 0);
    }

    @Override
    public String name() { return "cuda"; }

    @Override
    public Device device() { return Device.CUDA; }

    @Override
    public DType computeType() { return compute; }

    @Override
    public int threads() { return 1; }

    /** Makes this backend's stream the calling thread's current one; every op starts with it. */
    private void use() {
        if (stream == 0) throw new IllegalStateException("CUDA backend is closed");
        CudaKernels.vlmc_set_stream(stream);
    }

    @Override
    public Tensor allocate(DType dtype, long... shape) {
        use();
        return Backend.super.allocate(dtype, shape);
    }

    @Override
    public Tensor onDevice(Tensor t) {
        use();
        return Backend.super.onDevice(t);
    }

    /** Waits until everything issued on this backend's stream has finished. */
    @Override
    public void synchronize() {
        use();
        CudaKernels.vlmc_stream_synchronize();
    }

    /**
     * Records what {@code body} issues on this backend's stream as a CUDA graph instead of running it; replay it
     * with {@link CudaGraph#launch()}. The body must not read results back to the host (ops that would, skip their
     * data checks while capturing) and must free what it allocates (scratch scopes do), and tensors it reads and
     * writes from outside must stay allocated while the graph is used: replays read and write the same addresses.
     */
    public CudaGraph capture(Runnable body) {
        use();
        CudaKernels.vlmc_graph_begin();
        try {
            body.run();
        } catch (RuntimeException | Error e) {
            CudaKernels.vlmc_graph_abort();
            throw e;
        }
        return new CudaGraph(this, CudaKernels.vlmc_graph_end());
    }

    /**
     * Runs {@code body} once for real (first-use work such as kernel attributes and pool growth happens outside the
     * graph), then captures it; the recording replays the graph.
     */
    @Override
    public Recording record(Runnable body) {
        body.run();
        CudaGraph graph = capture(body);
        return new Recording() {
            @Override
            public void run() { graph.launch(); }

            @Override
            public void close() { graph.close(); }
        };
    }

    void launchGraph(long graph) {
        use();
        CudaKernels.vlmc_graph_launch(graph);
    }

    /** Device memory: free and total, and the pool's reserved and used bytes, as {@code vlmc_pool_stats}. */
    public long[] memoryStats() {
        use();
        long[] out = new long[4];
        CudaKernels.vlmc_pool_stats(out);
        return out;
    }

    private static void onGpu(String op, Tensor... ts) {
        for (Tensor t : ts) {
            if (t != null && t.device() != Device.CUDA) {
                throw new IllegalArgumentException(op + ": " + t + " is in host memory; the CUDA backend needs GPU tensors");
            }
        }
    }

    private static long addr(Tensor t) { return t == null ? 0 : t.address(); }

    /** The activation type of a call, from its first float operand (then checked against the others). */
    private static DType act(String op, String name, Tensor t) {
        OpChecks.requireFloat(op, name, t);
        return t.dtype();
    }

    @Override
    public void matmul(Tensor a, boolean transA, Tensor b, boolean transB, Tensor bias, Activation act, Tensor residual,
                       Tensor out) {
        DType dt = act("matmul", "a", a);
        OpChecks.MatmulShape s = OpChecks.matmul(dt, a, transA, b, transB, bias, residual, out);
        onGpu("matmul", a, b, bias, residual, out);
        long m = s.m(), n = s.n(), k = s.k();
        if (s.batch() == 0 || m == 0 || n == 0) return;
        use();
        CudaKernels.vlmc_gemm(dt.code(), transA ? 1 : 0, transB ? 1 : 0, s.batch(), m, n, k, 1f,
                addr(a), transA ? m : k, m * k, addr(b), transB ? k : n, s.sharedB() ? 0 : k * n,
                0f, addr(out), n, m * n, addr(bias), act.code(), addr(residual), n, m * n);
    }

    @Override
    public void patchEmbed(Tensor pixels, Tensor weight, Tensor bias, Tensor out) {
        DType dt = act("patchEmbed", "weight", weight);
        OpChecks.checkPatchEmbed(dt, pixels, weight, bias, out);
        onGpu("patchEmbed", pixels, weight, bias, out);
        long bsz = pixels.dim(0), c = pixels.dim(1), h = pixels.dim(2), w = pixels.dim(3);
        long d = weight.dim(0), p = weight.dim(2);
        long rows = bsz * (h / p) * (w / p), kdim = c * p * p;
        if (rows == 0 || d == 0) return;
        use();
        try (Tensor cols = Tensor.allocate(Device.CUDA, dt, rows, kdim)) {  // im2col, then one GEMM
            CudaKernels.vlmc_im2col_patches(dt.code(), pixels.address(), bsz, c, h, w, p, cols.address());
            CudaKernels.vlmc_gemm(dt.code(), 0, 1, 1, rows, d, kdim, 1f, cols.address(), kdim, 0, weight.address(), kdim, 0,
                    0f, out.address(), d, 0, addr(bias), Activation.NONE.code(), 0, d, 0);
        }
    }

    @Override
    public void layerNorm(Tensor x, Tensor gamma, Tensor beta, float eps, Tensor out) {
        DType dt = act("layerNorm", "x", x);
        OpChecks.checkLayerNorm(dt, x, gamma, beta, eps, out);
        onGpu("layerNorm", x, gamma, beta, out);
        long rows = OpChecks.rows(x), dim = x.dim(-1);
        if (rows == 0 || dim == 0) return;
        use();
        CudaKernels.vlmc_layernorm(dt.code(), x.address(), 0, 0, gamma.address(), beta.address(), out.address(), rows, dim, eps);
    }

    @Override
    public void softmax(Tensor x, Tensor out) {
        DType dt = act("softmax", "x", x);
        OpChecks.checkUnary(dt, "softmax", x, out);
        onGpu("softmax", x, out);
        long rows = OpChecks.rows(x);
        if (rows == 0 || x.dim(-1) == 0) return;
        use();
        CudaKernels.vlmc_softmax(dt.code(), x.address(), out.address(), rows, x.dim(-1));
    }

    @Override
    public void activation(Activation act, Tensor x, Tensor out) {
        DType dt = act("activation", "x", x);
        OpChecks.checkUnary(dt, "activation", x, out);
        onGpu("activation", x, out);
        if (x.numel() == 0) return;
        use();
        CudaKernels.vlmc_activation(dt.code(), act.code(), x.address(), out.address(), x.numel());
    }

    @Override
    public void add(Tensor a, Tensor b, Tensor out) {
        DType dt = act("add", "a", a);
        OpChecks.checkAdd(dt, a, b, out);
        onGpu("add", a, b, out);
        if (a.numel() == 0) return;
        use();
        CudaKernels.vlmc_add(dt.code(), a.address(), b.address(), out.address(), a.numel());
    }

    @Override
    public void addBroadcast(Tensor x, Tensor suffix) {
        DType dt = act("addBroadcast", "x", x);
        OpChecks.checkAddBroadcast(dt, x, suffix);
        onGpu("addBroadcast", x, suffix);
        if (x.numel() == 0) return;
        use();
        CudaKernels.vlmc_add_row(dt.code(), x.address(), suffix.address(), x.numel() / suffix.numel(), suffix.numel());
    }

    @Override
    public void l2Normalize(Tensor x, float eps, Tensor out) {
        DType dt = act("l2Normalize", "x", x);
        OpChecks.checkUnary(dt, "l2Normalize", x, out);
        onGpu("l2Normalize", x, out);
        long rows = OpChecks.rows(x);
        if (rows == 0 || x.dim(-1) == 0) return;
        use();
        CudaKernels.vlmc_l2_normalize(dt.code(), x.address(), out.address(), rows, x.dim(-1), eps);
    }

    @Override
    public void attention(Tensor q, Tensor k, Tensor v, Tensor out, int heads, boolean causal, Tensor keyMask) {
        DType dt = act("attention", "q", q);
        OpChecks.AttentionShape s = OpChecks.attention(dt, q, k, v, out, heads, keyMask);
        onGpu("attention", q, k, v, out, keyMask);
        if (s.batch() == 0 || s.lq() == 0) return;
        long width = q.dim(2);
        use();
        CudaKernels.vlmc_attention(dt.code(), q.address(), width, s.lq() * width, addr(k), width, s.lk() * width,
                addr(v), width, s.lk() * width, out.address(), width, s.lq() * width, s.batch(), heads, s.lq(), s.lk(),
                s.headDim(), (float) (1.0 / Math.sqrt(s.headDim())), causal ? 1 : 0, addr(keyMask));
    }

    @Override
    public void attentionPacked(Tensor qkv, Tensor out, int heads, boolean causal, Tensor keyMask) {
        DType dt = act("attentionPacked", "qkv", qkv);
        long w = OpChecks.attentionPacked(dt, qkv, out, heads, keyMask);
        onGpu("attentionPacked", qkv, out, keyMask);
        long b = qkv.dim(0), len = qkv.dim(1), w3 = 3 * w, eb = dt.byteSize();
        if (b == 0 || len == 0) return;
        long base = qkv.address();
        use();
        CudaKernels.vlmc_attention(dt.code(), base, w3, len * w3, base + w * eb, w3, len * w3, base + 2 * w * eb, w3, len * w3,
                out.address(), w, len * w, b, heads, len, len, w / heads, (float) (1.0 / Math.sqrt((double) w / heads)),
                causal ? 1 : 0, addr(keyMask));
    }

    @Override
    public void gather(Tensor table, Tensor ids, Tensor out) {
        DType dt = act("gather", "table", table);
        OpChecks.checkGather(dt, table, ids, out);
        onGpu("gather", table, ids, out);
        long n = ids.numel(), d = table.dim(1);
        if (n == 0 || d == 0) return;
        use();
        OpChecks.dataChecked(() -> CudaKernels.vlmc_gather_rows(dt.code(), table.address(), table.dim(0), d, ids.address(), n,
                out.address()));
    }

    /**
     * EOS pooling on the GPU. The positions are read back to the host, except while a graph is being captured
     * (nothing may synchronize then): the array is then filled with -1.
     */
    @Override
    public long[] eosPool(Tensor hidden, Tensor ids, OptionalInt eosTokenId, Tensor out) {
        DType dt = act("eosPool", "hidden", hidden);
        OpChecks.checkEosPool(dt, hidden, ids, eosTokenId, out);
        onGpu("eosPool", hidden, ids, out);
        long b = hidden.dim(0), len = hidden.dim(1), d = hidden.dim(2);
        if (b == 0) return new long[0];
        use();
        boolean capturing = CudaKernels.vlmc_is_capturing() != 0;
        int eos = eosTokenId.isPresent() ? eosTokenId.getAsInt() : -1;
        if (capturing) {
            CudaKernels.vlmc_eos_pool(dt.code(), hidden.address(), ids.address(), b, len, d, eos, out.address(), 0);
            long[] unknown = new long[(int) b];
            Arrays.fill(unknown, -1);
            return unknown;
        }
        try (Tensor pos = Tensor.allocate(Device.CUDA, DType.F32, 2 * b)) {  // 8 bytes per int64 position
            OpChecks.dataChecked(() -> CudaKernels.vlmc_eos_pool(dt.code(), hidden.address(), ids.address(), b, len, d, eos,
                    out.address(), pos.address()));
            try (Tensor host = Tensor.allocate(DType.F32, 2 * b)) {
                host.copyFrom(pos);
                long[] positions = new long[(int) b];
                host.asByteBuffer().asLongBuffer().get(positions);
                return positions;
            }
        }
    }

    @Override
    public void convert(Tensor src, Tensor dst) {
        OpChecks.checkConvert(src, dst);
        onGpu("convert", src, dst);
        if (src.numel() == 0) return;
        use();
        if (src.dtype() == DType.I32 || src.dtype() == dst.dtype()) {
            dst.copyFrom(src);
            return;
        }
        CudaKernels.vlmc_convert(src.dtype().code(), src.address(), dst.dtype().code(), dst.address(), src.numel());
    }

    /** One cudaMemcpy2DAsync on the stream. */
    @Override
    public void copyRows(Tensor src, long srcOffset, long srcStride, Tensor dst, long dstOffset, long dstStride, long rows,
                         long rowLength) {
        OpChecks.checkCopyRows(src, srcOffset, srcStride, dst, dstOffset, dstStride, rows, rowLength);
        onGpu("copyRows", src, dst);
        if (rows == 0 || rowLength == 0) return;
        long eb = src.dtype().byteSize();
        use();
        // a single row may use any pitch; cudaMemcpy2D wants pitch >= width even then
        long sp = rows == 1 ? rowLength * eb : srcStride * eb, dp = rows == 1 ? rowLength * eb : dstStride * eb;
        if (sp < rowLength * eb) {  // overlapping source rows (stride < length, e.g. 0 = repeat one row): row by row
            for (long r = 0; r < rows; r++) {
                CudaKernels.vlmc_memcpy_d2d(dst.address() + (dstOffset + r * dstStride) * eb,
                        src.address() + (srcOffset + r * srcStride) * eb, rowLength * eb);
            }
            return;
        }
        CudaKernels.vlmc_memcpy_2d(dst.address() + dstOffset * eb, dp, src.address() + srcOffset * eb, sp, rowLength * eb, rows);
    }

    // ---- training: kernels of cuda/src/train.cu and attention_backward.cu; gradients in the operands' dtype ----

    /** The longest LayerNorm row the backward kernel takes (its dGamma/dBeta partials live in shared memory). */
    static final long MAX_LAYER_NORM_BACKWARD_DIM = 12288;
    /** Head dims the attention backward kernel takes. */
    static final long MAX_ATTENTION_BACKWARD_HEAD_DIM = 128;

    /** Zero-filled device scratch of at least {@code bytes} from the stream's pool, or null when none is needed. */
    private static Tensor workspace(long bytes) {
        return bytes <= 0 ? null : Tensor.allocate(Device.CUDA, DType.F32, (bytes + 3) / 4);
    }

    private static long bytes(Tensor t) { return t == null ? 0 : t.byteSize(); }

    /** dx = rstd·(g − mean(g) − x̂·mean(g·x̂)), g = dy·γ; dGamma/dBeta summed in a fixed order (deterministic). */
    @Override
    public void layerNormBackward(Tensor x, Tensor gamma, float eps, Tensor dy, Tensor dx, boolean accumulate,
                                  Tensor dGamma, Tensor dBeta) {
        String op = "layerNormBackward";
        DType dt = act(op, "x", x);
        OpChecks.checkLayerNormBackward(dt, x, gamma, eps, dy, dx, accumulate, dGamma, dBeta);
        onGpu(op, x, gamma, dy, dx, dGamma, dBeta);
        long rows = OpChecks.rows(x), dim = x.dim(-1);
        if (rows == 0 || dim == 0) return;
        if (dim > MAX_LAYER_NORM_BACKWARD_DIM) {
            throw new IllegalArgumentException(op + ": the CUDA backend takes rows of at most " + MAX_LAYER_NORM_BACKWARD_DIM
                    + ", got " + x);
        }
        use();
        boolean params = dGamma != null || dBeta != null;
        try (Tensor ws = workspace(CudaKernels.vlmc_layernorm_backward_workspace(rows, dim, params ? 1 : 0))) {
            CudaKernels.vlmc_layernorm_backward(dt.code(), x.address(), gamma.address(), dy.address(), dx.address(),
                    accumulate ? 1 : 0, addr(dGamma), addr(dBeta), rows, dim, eps, addr(ws), bytes(ws));
        }
    }

    @Override
    public void activationBackward(Activation act, Tensor x, Tensor dy, Tensor dx) {
        String op = "activationBackward";
        if (act == null) throw new IllegalArgumentException(op + ": act is null");
        DType dt = act(op, "x", x);
        OpChecks.checkUnaryBackward(dt, op, x, dy, dx);
        onGpu(op, x, dy, dx);
        if (x.numel() == 0) return;
        use();
        CudaKernels.vlmc_activation_backward(dt.code(), act.code(), x.address(), dy.address(), dx.address(), x.numel());
    }

    /**
     * FlashAttention-2-style backward reading q, k, v in place from qkv and writing dQkv packed the same way; the
     * softmax is recomputed (log-sum-exp pre-pass), dQ is accumulated in an fp32 workspace.
     */
    @Override
    public void attentionPackedBackward(Tensor qkv, Tensor out, Tensor dOut, Tensor dQkv, int heads, boolean causal,
                                        Tensor keyMask) {
        String op = "attentionPackedBackward";
        DType dt = act(op, "qkv", qkv);
        long w = OpChecks.attentionPackedBackward(dt, qkv, out, dOut, dQkv, heads, keyMask);
        onGpu(op, qkv, out, dOut, dQkv, keyMask);
        long b = qkv.dim(0), len = qkv.dim(1), headDim = w / heads;
        if (b == 0 || len == 0 || w == 0) return;
        if (headDim > MAX_ATTENTION_BACKWARD_HEAD_DIM) {
            throw new IllegalArgumentException(op + ": the CUDA backend takes head dims of at most "
                    + MAX_ATTENTION_BACKWARD_HEAD_DIM + ", got " + headDim);
        }
        for (Tensor t : new Tensor[] {qkv, out, dOut}) {
            if (overlaps(dQkv, t)) throw new IllegalArgumentException(op + ": dQkv overlaps " + t);
        }
        use();
        try (Tensor ws = workspace(CudaKernels.vlmc_attention_backward_workspace(b, heads, len, headDim))) {
            CudaKernels.vlmc_attention_backward(dt.code(), qkv.address(), out.address(), dOut.address(), dQkv.address(), b,
                    heads, len, headDim, (float) (1.0 / Math.sqrt(headDim)), causal ? 1 : 0, addr(keyMask), addr(ws), bytes(ws));
        }
    }

    private static boolean overlaps(Tensor a, Tensor b) {
        return a.address() < b.address() + b.byteSize() && b.address() < a.address() + a.byteSize();
    }

    @Override
    public void l2NormalizeBackward(Tensor x, float eps, Tensor dy, Tensor dx) {
        String op = "l2NormalizeBackward";
        OpChecks.checkUnaryBackward(DType.F32, op, x, dy, dx);
        if (!(eps >= 0f) || !Float.isFinite(eps)) {
            throw new IllegalArgumentException(op + ": eps must be finite and >= 0, got " + eps);
        }
        onGpu(op, x, dy, dx);
        long rows = OpChecks.rows(x), dim = x.dim(-1);
        if (rows == 0 || dim == 0) return;
        use();
        CudaKernels.vlmc_l2_normalize_backward(DType.F32.code(), x.address(), dy.address(), dx.address(), rows, dim, eps);
    }

    /** The CPU backends' counter-based mask, bit for bit (cuda/src/train.cu). */
    @Override
    public void dropout(Tensor x, float p, long seed, Tensor out) {
        DType dt = act("dropout", "x", x);
        OpChecks.checkDropout(dt, x, p, out);
        onGpu("dropout", x, out);
        if (x.numel() == 0) return;
        use();
        CudaKernels.vlmc_dropout(dt.code(), x.address(), out.address(), x.numel(), p, seed);
    }

    @Override
    public void adamw(Tensor param, Tensor grad, Tensor m, Tensor v, float lr, float beta1, float beta2, float eps,
                      float weightDecay, long step) {
        OpChecks.checkAdamw(param, grad, m, v, lr, beta1, beta2, eps, weightDecay, step);
        onGpu("adamw", param, grad, m, v);
        if (param.numel() == 0) return;
        use();
        CudaKernels.vlmc_adamw(param.address(), grad.address(), m.address(), v.address(), param.numel(), lr, beta1, beta2, eps,
                weightDecay, step);
    }

    /**
     * Σ x² in double (fixed-order block partials, so the same on every run), read back to the host: not allowed while
     * a CUDA graph is being captured.
     */
    @Override
    public double sumSquares(Tensor x) {
        DType dt = act("sumSquares", "x", x);
        onGpu("sumSquares", x);
        if (x.numel() == 0) return 0;
        use();
        if (CudaKernels.vlmc_is_capturing() != 0) {
            throw new IllegalStateException("sumSquares reads its result back to the host, which a CUDA graph capture forbids");
        }
        try (Tensor ws = workspace(CudaKernels.vlmc_sum_squares_workspace()); Tensor host = Tensor.allocate(DType.F32, 2)) {
            CudaKernels.vlmc_sum_squares(dt.code(), x.address(), x.numel(), ws.address(), ws.byteSize());
            host.copyFrom(ws.view(0, 2));  // the double in the workspace's first 8 bytes
            return host.asByteBuffer().getDouble(0);
        }
    }

    @Override
    public void scale(Tensor x, float alpha) {
        DType dt = act("scale", "x", x);
        onGpu("scale", x);
        if (x.numel() == 0) return;
        use();
        CudaKernels.vlmc_scale(dt.code(), x.address(), x.numel(), alpha);
    }

    /** Waits for the stream's work and destroys it; the backend cannot be used afterwards. */
    @Override
    public void close() {
        if (stream == 0) return;
        CudaKernels.vlmc_set_stream(stream);
        try {
            CudaKernels.vlmc_stream_synchronize();
        } finally {
            CudaKernels.vlmc_stream_destroy(stream);  // also resets this thread's current stream to the default
            stream = 0;
        }
    }
}
