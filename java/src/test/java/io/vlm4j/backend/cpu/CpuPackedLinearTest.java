package io.vlm4j.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vlm4j.backend.Activation;
import io.vlm4j.backend.reference.ReferenceBackend;
import io.vlm4j.tensor.Tensor;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * Linear products with a pre-packed weight (vlm_gemm_pack_b_f32 + vlm_gemm_f32_packed) vs the float64 reference at odd
 * shapes: several K blocks (K > 384), several column blocks (N > 2048 on AVX-512, > 1024 on AVX2), one row, ragged tiles,
 * with bias, activation and residual, on one and two threads' worth of work.
 */
class CpuPackedLinearTest {

    static Tensor rnd(SplittableRandom r, long... shape) {
        int n = 1;
        for (long d : shape) n *= (int) d;
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float) (r.nextDouble() * 2 - 1);
        return Tensor.of(v, shape);
    }

    @Test
    void packedLinearMatchesTheReference() {
        long[][] shapes = {{1, 7, 5}, {13, 33, 17}, {197, 2304, 768}, {37, 2100, 401}, {5, 3000, 1000}, {64, 96, 3072}};
        SplittableRandom r = new SplittableRandom(3);
        CpuBackend cpu = new CpuBackend();
        ReferenceBackend ref = new ReferenceBackend();
        for (long[] s : shapes) {
            long m = s[0], n = s[1], k = s[2];
            for (Activation act : new Activation[] {Activation.NONE, Activation.QUICK_GELU}) {
                try (Tensor x = rnd(r, 2, m, k); Tensor w = rnd(r, n, k); Tensor b = rnd(r, n); Tensor res = rnd(r, 2, m, n);
                     Tensor got = Tensor.allocate(io.vlm4j.tensor.DType.F32, 2, m, n);
                     Tensor want = Tensor.allocate(io.vlm4j.tensor.DType.F32, 2, m, n); Tensor packed = cpu.prepareLinearWeight(w)) {
                    assertNotNull(packed, "F32 weights are prepared");
                    cpu.linear(x, w, packed, b, act, res, got);
                    ref.linear(x, w, b, act, res, want);
                    float[] g = got.toFloatArray(), e = want.toFloatArray();
                    double max = 0, scale = 0;
                    for (int i = 0; i < g.length; i++) {
                        max = Math.max(max, Math.abs(g[i] - e[i]));
                        scale = Math.max(scale, Math.abs(e[i]));
                    }
                    assertTrue(max <= 1e-5 * scale * Math.max(1, Math.sqrt(k / 64.0)),
                            m + "x" + n + "x" + k + " " + act + ": max |diff| " + max + " of " + scale);
                }
            }
        }
    }

    @Test
    void aPackedFormOfAnotherShapeIsRefused() {
        SplittableRandom r = new SplittableRandom(4);
        CpuBackend cpu = new CpuBackend();
        try (Tensor x = rnd(r, 3, 16); Tensor w = rnd(r, 8, 16); Tensor other = rnd(r, 9, 16); Tensor out = Tensor.allocate(io.vlm4j.tensor.DType.F32, 3, 8);
             Tensor packed = cpu.prepareLinearWeight(other)) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> cpu.linear(x, w, packed, null, Activation.NONE, null, out));
            assertTrue(e.getMessage().contains("prepared"), e.getMessage());
        }
    }
}
