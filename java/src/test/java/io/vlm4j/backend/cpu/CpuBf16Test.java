package io.vlm4j.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.vlm4j.backend.Activation;
import io.vlm4j.backend.Backend;
import io.vlm4j.model.clip.ClipModel;
import io.vlm4j.model.clip.ClipReplayTest;
import io.vlm4j.tensor.DType;
import io.vlm4j.tensor.Tensor;
import io.vlm4j.tensor.TensorScope;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * The CPU's BF16 weight path (AVX512_BF16): the GEMM against a float64 reference on the BF16-rounded operands (the
 * products of two BF16 are exact in FP32, so only FP32 accumulation separates them: ~1e-6), odd shapes crossing every
 * tile edge (12 x 32 micro-tiles, 48 x 512 tasks, odd K), fused bias/activation/residual; whole towers vs F32 weights.
 */
class CpuBf16Test {
    static float bf16(float f) {
        int u = Float.floatToRawIntBits(f);
        u += 0x7fff + ((u >>> 16) & 1);
        return Float.intBitsToFloat(u & 0xffff0000);
    }

    @Test
    void gemmMatchesFloat64OnRoundedOperands() {
        assumeTrue(CpuBackend.bf16Available(), "no AVX512_BF16 on this CPU (" + CpuBackend.cpuFeatures() + "): skipping");
        SplittableRandom r = new SplittableRandom(11);
        long[][] shapes = {{1, 1, 1}, {7, 31, 3}, {13, 33, 64}, {49, 77, 131}, {197, 545, 768}, {60, 32, 2}};
        try (Backend cpu = CpuBackend.withBf16Weights(0); TensorScope sc = new TensorScope()) {
            for (long[] sh : shapes) {
                int m = (int) sh[0], n = (int) sh[1], k = (int) sh[2];
                for (Activation act : new Activation[] {Activation.NONE, Activation.QUICK_GELU, Activation.GELU}) {
                    float[] a = new float[m * k], w = new float[n * k], bias = new float[n], res = new float[m * n];
                    for (int i = 0; i < a.length; i++) a[i] = (float) (r.nextDouble() * 2 - 1);
                    for (int i = 0; i < w.length; i++) w[i] = (float) (r.nextDouble() * 2 - 1);
                    for (int i = 0; i < n; i++) bias[i] = (float) r.nextGaussian();
                    for (int i = 0; i < res.length; i++) res[i] = (float) r.nextGaussian();
                    Tensor ta = sc.track(Tensor.of(a, m, k)), tw32 = sc.track(Tensor.of(w, n, k)), tb = sc.track(Tensor.of(bias, n));
                    Tensor tr = sc.track(Tensor.of(res, m, n)), out = sc.f32(m, n), tw = sc.allocate(DType.BF16, n, k);
                    cpu.convert(tw32, tw);
                    cpu.matmul(ta, false, tw, true, tb, act, tr, out);
                    float[] got = out.toFloatArray();
                    double err = 0, scale = 1;
                    for (int i = 0; i < m; i++) {
                        for (int j = 0; j < n; j++) {
                            double s = 0;
                            for (int p = 0; p < k; p++) s += (double) bf16(a[i * k + p]) * bf16(w[j * k + p]);
                            s += bias[j];
                            s = act == Activation.QUICK_GELU ? s / (1 + Math.exp(-1.702 * s))
                                    : act == Activation.GELU ? 0.5 * s * (1 + erf(s / Math.sqrt(2))) : s;
                            s += res[i * n + j];
                            err = Math.max(err, Math.abs(s - got[i * n + j]));
                            scale = Math.max(scale, Math.abs(s));
                        }
                    }
                    assertTrue(err / scale < 2e-5, m + "x" + n + "x" + k + " " + act + ": " + err / scale);
                }
            }
            // a batch sharing the weight, and the layouts it does not take
            Tensor a3 = sc.track(Tensor.of(new float[2 * 5 * 8], 2, 5, 8)), w = sc.allocate(DType.BF16, 4, 8), o = sc.f32(2, 5, 4);
            cpu.matmul(a3, false, w, true, null, Activation.NONE, null, o);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> cpu.matmul(sc.track(Tensor.of(new float[8 * 4], 8, 4)), false, sc.allocate(DType.BF16, 4, 8), false, null,
                            Activation.NONE, null, sc.f32(8, 8)));
            assertTrue(e.getMessage().contains("linear-layer layout"), e.getMessage());
        }
    }

    private static double erf(double x) {  // Abramowitz–Stegun 7.1.26 is too coarse here: integrate instead
        double s = 0, h = x / 2000;
        for (int i = 0; i < 2000; i++) {
            double t = (i + 0.5) * h;
            s += Math.exp(-t * t);
        }
        return 2 / Math.sqrt(Math.PI) * s * h;
    }

    @Test
    void towersWithBf16WeightsStayWithinOnePercentOfF32() throws Exception {
        assumeTrue(CpuBackend.bf16Available(), "no AVX512_BF16 on this CPU: skipping");
        SplittableRandom r = new SplittableRandom(2);
        float[] px = new float[5 * 3 * 20 * 20];
        for (int i = 0; i < px.length; i++) px[i] = (float) (r.nextDouble() * 4 - 2);
        try (Backend f32 = new CpuBackend(); Backend bf = CpuBackend.withBf16Weights(0);
             ClipModel a = ClipModel.random(ClipReplayTest.tiny(), 5, f32); ClipModel b = ClipModel.random(ClipReplayTest.tiny(), 5, bf);
             Tensor pixels = Tensor.of(px, 5, 3, 20, 20); Tensor ids = Tensor.ofInts(ClipReplayTest.ids(5, 2), 5, 7);
             Tensor ia = a.encodeImages(pixels, true); Tensor ib = b.encodeImages(pixels, true);
             Tensor ta = a.encodeTexts(ids, true); Tensor tb = b.encodeTexts(ids, true)) {
            assertEquals(DType.BF16, bf.weightType());
            for (Tensor[] pair : new Tensor[][] {{ia, ib}, {ta, tb}}) {
                float[] x = pair[0].toFloatArray(), y = pair[1].toFloatArray();
                int e = (int) pair[0].dim(1);
                for (int row = 0; row * e < x.length; row++) {
                    double dot = 0;
                    for (int j = 0; j < e; j++) dot += (double) x[row * e + j] * y[row * e + j];
                    assertTrue(dot > 0.999, "cosine " + dot);
                }
            }
        }
    }
}
