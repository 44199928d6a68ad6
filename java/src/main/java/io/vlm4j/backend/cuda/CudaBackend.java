package io.vlm4j.backend.cuda;

import io.vlm4j.backend.Activation;
import io.vlm4j.backend.Backend;
import io.vlm4j.backend.OpChecks;
import io.vlm4j.tensor.DType;
import io.vlm4j.tensor.Device;
import io.vlm4j.tensor.Tensor;
import java.util.OptionalInt;

/**
 * The CUDA backend, variant 1: every op on the GPU in FP32 through the kernels of {@code cuda/} (SIMT GEMM with fused
 * epilogue, warp-per-row online-softmax attention, row kernels), checked by the same conformance suite as the CPU
 * backend. Tensors passed to it must live in GPU memory ({@link #allocate}, {@link #onDevice}); argument checks are
 * the shared {@link OpChecks} plus the device. Not yet here (issue #4): BF16/FP16 compute with tensor cores, the
 * flash-attention kernel, a caching memory pool, streams and CUDA graphs.
 */
public final class CudaBackend implements Backend {
    private static final int F32 = 0;

    /** Throws {@link IllegalStateException} with the reason when no usable GPU (or no CUDA build) is present. */
    public CudaBackend() {
        String status = CudaStatus.deviceStatus();
        if (!status.startsWith("available")) throw new IllegalStateException("CUDA backend " + status);
    }

    @Override
    public String name() { return "cuda"; }

    @Override
    public Device device() { return Device.CUDA; }

    @Override
    public int threads() { return 1; }

    private static void onGpu(String op, Tensor... ts) {
        for (Tensor t : ts) {
            if (t != null && t.device() != Device.CUDA) {
                throw new IllegalArgumentException(op + ": " + t + " is in host memory; the CUDA backend needs GPU tensors");
            }
        }
    }

    private static long addr(Tensor t) { return t == null ? 0 : t.address(); }

    @Override
    public void matmul(Tensor a, boolean transA, Tensor b, boolean transB, Tensor bias, Activation act, Tensor residual,
                       Tensor out) {
        OpChecks.MatmulShape s = OpChecks.matmul(a, transA, b, transB, bias, residual, out);
        onGpu("matmul", a, b, bias, residual, out);
        long m = s.m(), n = s.n(), k = s.k();
        if (s.batch() == 0 || m == 0 || n == 0) return;
        CudaKernels.vlmc_gemm(F32, transA ? 1 : 0, transB ? 1 : 0, s.batch(), m, n, k, 1f,
                addr(a), transA ? m : k, m * k, addr(b), transB ? k : n, s.sharedB() ? 0 : k * n,
                0f, addr(out), n, m * n, addr(bias), act.code(), addr(residual), n, m * n);
    }

    @Override
    public void patchEmbed(Tensor pixels, Tensor weight, Tensor bias, Tensor out) {
        OpChecks.checkPatchEmbed(pixels, weight, bias, out);
        onGpu("patchEmbed", pixels, weight, bias, out);
        long bsz = pixels.dim(0), c = pixels.dim(1), h = pixels.dim(2), w = pixels.dim(3);
        long d = weight.dim(0), p = weight.dim(2);
        long rows = bsz * (h / p) * (w / p), kdim = c * p * p;
        if (rows == 0 || d == 0) return;
        try (Tensor cols = Tensor.allocate(Device.CUDA, DType.F32, rows, kdim)) {  // im2col, then one GEMM
            CudaKernels.vlmc_im2col_patches(F32, pixels.address(), bsz, c, h, w, p, cols.address());
            CudaKernels.vlmc_gemm(F32, 0, 1, 1, rows, d, kdim, 1f, cols.address(), kdim, 0, weight.address(), kdim, 0,
                    0f, out.address(), d, 0, addr(bias), Activation.NONE.code(), 0, d, 0);
        }
    }

    @Override
    public void layerNorm(Tensor x, Tensor gamma, Tensor beta, float eps, Tensor out) {
        OpChecks.checkLayerNorm(x, gamma, beta, eps, out);
        onGpu("layerNorm", x, gamma, beta, out);
        long rows = OpChecks.rows(x), dim = x.dim(-1);
        if (rows == 0 || dim == 0) return;
        CudaKernels.vlmc_layernorm(F32, x.address(), 0, 0, gamma.address(), beta.address(), out.address(), rows, dim, eps);
    }

    @Override
    public void softmax(Tensor x, Tensor out) {
        OpChecks.checkUnary("softmax", x, out);
        onGpu("softmax", x, out);
        long rows = OpChecks.rows(x);
        if (rows == 0 || x.dim(-1) == 0) return;
        CudaKernels.vlmc_softmax(F32, x.address(), out.address(), rows, x.dim(-1));
    }

    @Override
    public void activation(Activation act, Tensor x, Tensor out) {
        OpChecks.checkUnary("activation", x, out);
        onGpu("activation", x, out);
        if (x.numel() == 0) return;
        CudaKernels.vlmc_activation(F32, act.code(), x.address(), out.address(), x.numel());
    }

    @Override
    public void add(Tensor a, Tensor b, Tensor out) {
        OpChecks.checkAdd(a, b, out);
        onGpu("add", a, b, out);
        if (a.numel() == 0) return;
        CudaKernels.vlmc_add(F32, a.address(), b.address(), out.address(), a.numel());
    }

    @Override
    public void addBroadcast(Tensor x, Tensor suffix) {
        OpChecks.checkAddBroadcast(x, suffix);
        onGpu("addBroadcast", x, suffix);
        if (x.numel() == 0) return;
        CudaKernels.vlmc_add_row(F32, x.address(), suffix.address(), x.numel() / suffix.numel(), suffix.numel());
    }

    @Override
    public void l2Normalize(Tensor x, float eps, Tensor out) {
        OpChecks.checkUnary("l2Normalize", x, out);
        onGpu("l2Normalize", x, out);
        long rows = OpChecks.rows(x);
        if (rows == 0 || x.dim(-1) == 0) return;
        CudaKernels.vlmc_l2_normalize(F32, x.address(), out.address(), rows, x.dim(-1), eps);
    }

    @Override
    public void attention(Tensor q, Tensor k, Tensor v, Tensor out, int heads, boolean causal, Tensor keyMask) {
        OpChecks.AttentionShape s = OpChecks.attention(q, k, v, out, heads, keyMask);
        onGpu("attention", q, k, v, out, keyMask);
        if (s.batch() == 0 || s.lq() == 0) return;
        long width = q.dim(2);
        CudaKernels.vlmc_attention(F32, q.address(), width, s.lq() * width, addr(k), width, s.lk() * width,
                addr(v), width, s.lk() * width, out.address(), width, s.lq() * width, s.batch(), heads, s.lq(), s.lk(),
                s.headDim(), (float) (1.0 / Math.sqrt(s.headDim())), causal ? 1 : 0, addr(keyMask));
    }

    @Override
    public void attentionPacked(Tensor qkv, Tensor out, int heads, boolean causal, Tensor keyMask) {
        long w = OpChecks.attentionPacked(qkv, out, heads, keyMask);
        onGpu("attentionPacked", qkv, out, keyMask);
        long b = qkv.dim(0), len = qkv.dim(1), w3 = 3 * w, fb = Float.BYTES;
        if (b == 0 || len == 0) return;
        long base = qkv.address();
        CudaKernels.vlmc_attention(F32, base, w3, len * w3, base + w * fb, w3, len * w3, base + 2 * w * fb, w3, len * w3,
                out.address(), w, len * w, b, heads, len, len, w / heads, (float) (1.0 / Math.sqrt((double) w / heads)),
                causal ? 1 : 0, addr(keyMask));
    }

    @Override
    public void gather(Tensor table, Tensor ids, Tensor out) {
        OpChecks.checkGather(table, ids, out);
        onGpu("gather", table, ids, out);
        long n = ids.numel(), d = table.dim(1);
        if (n == 0 || d == 0) return;
        OpChecks.dataChecked(() -> CudaKernels.vlmc_gather_rows(F32, table.address(), table.dim(0), d, ids.address(), n, out.address()));
    }

    @Override
    public long[] eosPool(Tensor hidden, Tensor ids, OptionalInt eosTokenId, Tensor out) {
        OpChecks.checkEosPool(hidden, ids, eosTokenId, out);
        onGpu("eosPool", hidden, ids, out);
        long b = hidden.dim(0), len = hidden.dim(1), d = hidden.dim(2);
        if (b == 0) return new long[0];
        try (Tensor pos = Tensor.allocate(Device.CUDA, DType.F32, 2 * b)) {  // 8 bytes per int64 position
            int eos = eosTokenId.isPresent() ? eosTokenId.getAsInt() : -1;
            OpChecks.dataChecked(() -> CudaKernels.vlmc_eos_pool(F32, hidden.address(), ids.address(), b, len, d, eos, out.address(),
                    pos.address()));
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
        if (src.dtype() == DType.I32 || src.dtype() == dst.dtype()) {
            dst.copyFrom(src);
            return;
        }
        CudaKernels.vlmc_convert(src.dtype().code(), src.address(), dst.dtype().code(), dst.address(), src.numel());
    }
}
