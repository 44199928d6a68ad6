package io.vlm4j.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.vlm4j.backend.Activation;
import io.vlm4j.tensor.DType;
import io.vlm4j.tensor.Tensor;
import io.vlm4j.tensor.TensorScope;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

/**
 * The CUDA training ops without a GPU: the backend's argument checks (shared {@code OpChecks}, then the device
 * check) reject bad calls with {@link IllegalArgumentException} before anything reaches the device, and the C entry
 * points validate their arguments before any CUDA call and report the runtime's reason when there is no GPU — an
 * exception naming the function, never a crash. {@link CudaTrainingOpsTest} runs the kernels where a GPU is present.
 */
class CudaTrainingArgumentsTest {

    private static void rejects(String word, Executable call) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, call);
        assertTrue(e.getMessage().contains(word), "expected '" + word + "' in: " + e.getMessage());
    }

    /** Runs everywhere: the checks come before the device, so an already closed backend (no stream) shows them. */
    @Test
    void backendRejectsBadArgumentsBeforeTheDevice() {
        CudaBackend cuda = CudaBackend.closedForArgumentChecks(DType.F32);
        try (TensorScope s = new TensorScope()) {
            Tensor x = s.f32(2, 8), dy = s.f32(2, 8), dx = s.f32(2, 8), gamma = s.f32(8), half = s.allocate(DType.BF16, 2, 8);
            Tensor ids = s.allocate(DType.I32, 2, 8);

            rejects("dy must be F32", () -> cuda.layerNormBackward(x, gamma, 1e-5f, half, dx, false, null, null));
            rejects("gamma must have shape [8]", () -> cuda.layerNormBackward(x, s.f32(9), 1e-5f, dy, dx, false, null, null));
            rejects("may not alias dy", () -> cuda.layerNormBackward(x, gamma, 1e-5f, dy, dy, true, null, null));
            rejects("eps must be", () -> cuda.layerNormBackward(x, gamma, 0f, dy, dx, false, null, null));
            rejects("dGamma must have shape", () -> cuda.layerNormBackward(x, gamma, 1e-5f, dy, dx, false, s.f32(7), null));
            rejects("host memory", () -> cuda.layerNormBackward(x, gamma, 1e-5f, dy, dx, true, s.f32(8), s.f32(8)));

            rejects("act is null", () -> cuda.activationBackward(null, x, dy, dx));
            rejects("dx must have shape", () -> cuda.activationBackward(Activation.GELU, x, dy, s.f32(16)));
            rejects("host memory", () -> cuda.activationBackward(Activation.QUICK_GELU, x, dy, dy));

            Tensor qkv = s.f32(2, 5, 3 * 12), out = s.f32(2, 5, 12), dOut = s.f32(2, 5, 12), dQkv = s.f32(2, 5, 3 * 12);
            rejects("not divisible by 5 heads", () -> cuda.attentionPackedBackward(qkv, out, dOut, dQkv, 5, false, null));
            rejects("dOut must have shape", () -> cuda.attentionPackedBackward(qkv, out, s.f32(2, 5, 13), dQkv, 3, false, null));
            rejects("dQkv must have shape", () -> cuda.attentionPackedBackward(qkv, out, dOut, s.f32(2, 5, 12), 3, true, null));
            rejects("keyMask must be I32", () -> cuda.attentionPackedBackward(qkv, out, dOut, dQkv, 3, false, s.f32(2, 5)));
            Tensor mask = s.allocate(DType.I32, 2, 5);
            rejects("host memory", () -> cuda.attentionPackedBackward(qkv, out, dOut, dQkv, 3, true, mask));

            rejects("x must be F32", () -> cuda.l2NormalizeBackward(half, 1e-12f, dy, dx));
            rejects("eps must be", () -> cuda.l2NormalizeBackward(x, Float.NaN, dy, dx));
            rejects("host memory", () -> cuda.l2NormalizeBackward(x, 1e-12f, dy, dy));

            rejects("p must be in [0, 1)", () -> cuda.dropout(x, 1f, 7, dx));
            rejects("out must have shape", () -> cuda.dropout(x, 0.1f, 7, s.f32(3)));
            rejects("host memory", () -> cuda.dropout(x, 0.1f, 7, x));

            Tensor p = s.f32(8), g = s.f32(8), m = s.f32(8), v = s.f32(8);
            rejects("step must be >= 1", () -> cuda.adamw(p, g, m, v, 1e-3f, 0.9f, 0.999f, 1e-8f, 0f, 0));
            rejects("beta2 must be in [0, 1)", () -> cuda.adamw(p, g, m, v, 1e-3f, 0.9f, 1f, 1e-8f, 0f, 1));
            rejects("grad must be F32", () -> cuda.adamw(p, s.allocate(DType.F16, 8), m, v, 1e-3f, 0.9f, 0.999f, 1e-8f, 0f, 1));
            rejects("host memory", () -> cuda.adamw(p, g, m, v, 1e-3f, 0.9f, 0.999f, 1e-8f, 0.01f, 1));

            rejects("x must be F32, F16 or BF16", () -> cuda.sumSquares(ids));
            rejects("host memory", () -> cuda.sumSquares(x));
            rejects("x must be F32, F16 or BF16", () -> cuda.scale(ids, 2f));
            rejects("host memory", () -> cuda.scale(half, 2f));
        }
    }

    /** An exception naming {@code fn} and, from a build with kernels, {@code why} (the stub says it has none). */
    private static void fails(String fn, String why, Executable call) {
        RuntimeException e = assertThrows(RuntimeException.class, call);
        String reason = CudaKernels.vlmc_has_kernels() != 0 ? why : "no CUDA kernels";
        assertTrue(e.getMessage().contains(fn) && e.getMessage().contains(reason),
                "expected '" + fn + "' and '" + reason + "' in: " + e.getMessage());
    }

    @Test
    void entryPointsExplainThemselvesWithoutAGpu() {
        assumeTrue(CudaStatus.unavailableReason().isPresent(), "a GPU is present: CudaTrainingOpsTest runs the kernels");
        // fake device addresses, far apart: nothing may ever dereference them here
        long a = 1L << 40, b = 2L << 40, c = 3L << 40, d = 4L << 40, ws = 5L << 40;

        // argument errors, found before any CUDA call
        fails("vlmc_layernorm_backward", "dim must be <= 12288",
                () -> CudaKernels.vlmc_layernorm_backward(0, a, b, c, d, 0, 0, 0, 2, 12289, 1e-5f, 0, 0));
        fails("vlmc_layernorm_backward", "may not alias",
                () -> CudaKernels.vlmc_layernorm_backward(0, a, b, c, c, 1, 0, 0, 2, 8, 1e-5f, 0, 0));
        fails("vlmc_layernorm_backward", "workspace",
                () -> CudaKernels.vlmc_layernorm_backward(0, a, b, c, d, 0, ws, 0, 2, 8, 1e-5f, ws, 4));
        fails("vlmc_activation_backward", "act must be 0..3", () -> CudaKernels.vlmc_activation_backward(0, 4, a, b, c, 10));
        fails("vlmc_l2_normalize_backward", "dtype must be",
                () -> CudaKernels.vlmc_l2_normalize_backward(3, a, b, c, 2, 8, 1e-6f));
        fails("vlmc_dropout", "p must be in [0, 1)", () -> CudaKernels.vlmc_dropout(0, a, b, 10, 1f, 1));
        fails("vlmc_adamw", "step must be >= 1", () -> CudaKernels.vlmc_adamw(a, b, c, d, 10, 1e-3f, 0.9f, 0.999f, 1e-8f, 0f, 0));
        fails("vlmc_sum_squares", "workspace of 16 bytes", () -> CudaKernels.vlmc_sum_squares(0, a, 10, ws, 16));
        fails("vlmc_scale", "n must be >= 0", () -> CudaKernels.vlmc_scale(0, a, -1, 2f));
        fails("vlmc_attention_backward", "head_dim must be <= 128",
                () -> CudaKernels.vlmc_attention_backward(1, a, b, c, d, 1, 1, 4, 129, 0.1f, 0, 0, ws, 1 << 20));
        fails("vlmc_attention_backward", "dqkv overlaps",
                () -> CudaKernels.vlmc_attention_backward(2, a, b, c, a + 64, 1, 2, 4, 64, 0.125f, 1, 0, ws, 1 << 20));
        fails("vlmc_attention_backward", "smaller than",
                () -> CudaKernels.vlmc_attention_backward(0, a, b, c, d, 2, 2, 4, 64, 0.125f, 0, 0, ws, 64));

        // well-formed calls reach the CUDA runtime, whose reason (no driver, no device) comes back as the exception
        fails("vlmc_scale", "failed", () -> CudaKernels.vlmc_scale(1, a, 10, 2f));
        fails("vlmc_dropout", "failed", () -> CudaKernels.vlmc_dropout(2, a, b, 10, 0.5f, -3));
        fails("vlmc_attention_backward", "failed",
                () -> CudaKernels.vlmc_attention_backward(0, a, b, c, d, 2, 2, 4, 128, 0.125f, 1, 0, ws,
                        CudaKernels.vlmc_has_kernels() != 0 ? CudaKernels.vlmc_attention_backward_workspace(2, 2, 4, 128) : 0));
        // and the process goes on: host work is unaffected
        try (Tensor t = Tensor.of(new float[] {3, 4}, 2)) {
            assertTrue(t.toFloatArray()[1] == 4f);
        }
    }
}
