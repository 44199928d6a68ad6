package io.vlm4j.backend;

import static io.vlm4j.backend.ConformanceSupport.assertClose;
import static io.vlm4j.backend.ConformanceSupport.download;
import static io.vlm4j.backend.ConformanceSupport.numel;
import static io.vlm4j.backend.ConformanceSupport.uniform;
import static io.vlm4j.backend.ConformanceSupport.upload;
import static io.vlm4j.backend.ConformanceSupport.uploadInts;
import static io.vlm4j.backend.ConformanceSupport.zeros;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vlm4j.backend.ConformanceSupport.BackendCase;
import io.vlm4j.backend.reference.ReferenceBackend;
import io.vlm4j.tensor.Tensor;
import io.vlm4j.tensor.TensorScope;
import java.util.Arrays;
import java.util.Random;
import java.util.SplittableRandom;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Conformance of the training ops (see {@link OpConformanceTest} for the approach): every backend under test against
 * the float64 {@link ReferenceBackend}, whose backward passes {@link TrainingOpsGradientTest} checks against finite
 * differences. Odd shapes, accumulate on and off, the allowed aliasing, and sizes past the kernels' blocking (128
 * queries per attention block, 32 rows per LayerNorm parameter-gradient block, the parallel thresholds). Dropout and
 * AdamW are checked against their definitions (bit for bit where the definition is exact).
 */
class TrainingOpsTest {
    private static final String BACKENDS = "io.vlm4j.backend.ConformanceSupport#backends";
    private static final String ALL = "io.vlm4j.backend.ConformanceSupport#backendsAndReference";

    @AfterAll
    static void printErrors() { ConformanceSupport.printObservedErrors(); }

    /** An op call with several outputs, compared one by one. */
    @FunctionalInterface
    private interface MultiRun {
        Tensor[] run(Backend backend, TensorScope scope);
    }

    private static void checkAll(BackendCase bc, Backend backend, Backend ref, String op, String[] outputs, String what,
                                 MultiRun run) {
        try (TensorScope refScope = new TensorScope(); TensorScope ourScope = new TensorScope()) {
            Tensor[] expected = run.run(ref, refScope), actual = run.run(backend, ourScope);
            for (int i = 0; i < outputs.length; i++) {
                assertClose(bc.name(), op + " " + outputs[i], what, download(expected[i]), download(actual[i]));
            }
        }
    }

    // ---- backward passes against the reference ----

    @ParameterizedTest(name = "{0}")
    @MethodSource(BACKENDS)
    void layerNormBackward(BackendCase bc) {
        long[][] shapes = {{1, 5}, {7, 48}, {33, 77}, {2, 3, 1000}, {197, 768}, {1576, 768}};
        Random rng = new Random(31);
        try (Backend backend = bc.open(); Backend ref = new ReferenceBackend()) {
            for (long[] shape : shapes) {
                long dim = shape[shape.length - 1];
                int n = (int) numel(shape);
                float[] x = uniform(rng, n);
                for (int i = 0; i < n; i++) x[i] += (float) (((i / dim) % 5) * 20 - 40);  // row means far from 0
                for (int i = n - (int) dim; i < n; i++) x[i] = (float) (rng.nextDouble() - 0.5) * 2e-3f;  // variance < eps
                float[] gamma = uniform(rng, (int) dim, 0.5, 1.5), dy = uniform(rng, n), dx0 = uniform(rng, n);
                float[] dGamma0 = uniform(rng, dim), dBeta0 = uniform(rng, dim);
                // variant 0: dx written, no parameter gradients; 1: everything accumulated onto random values;
                // 2: dx written over dy (aliasing), dGamma only; 3: dBeta only
                for (int variant = 0; variant < 4; variant++) {
                    boolean accumulate = variant == 1, alias = variant == 2;
                    boolean withGamma = variant == 1 || variant == 2, withBeta = variant == 1 || variant == 3;
                    String what = Arrays.toString(shape) + (accumulate ? " accumulate" : "") + (alias ? " dx==dy" : "")
                            + (withGamma ? " +dGamma" : "") + (withBeta ? " +dBeta" : "");
                    checkAll(bc, backend, ref, "layerNormBackward", new String[] {"dx", "dGamma", "dBeta"}, what, (be, s) -> {
                        Tensor dyT = upload(be, s, dy, shape);
                        Tensor dxT = alias ? dyT : upload(be, s, accumulate ? dx0 : new float[n], shape);
                        Tensor dG = upload(be, s, dGamma0, dim), dB = upload(be, s, dBeta0, dim);
                        be.layerNormBackward(upload(be, s, x, shape), upload(be, s, gamma, dim), 1e-5f, dyT, dxT, accumulate,
                                withGamma ? dG : null, withBeta ? dB : null);
                        return new Tensor[] {dxT, dG, dB};
                    });
                }
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource(BACKENDS)
    void activationBackward(BackendCase bc) {
        int[] lengths = {1, 7, 1000, 4099, 300_001};
        Random rng = new Random(32);
        try (Backend backend = bc.open(); Backend ref = new ReferenceBackend()) {
            for (int n : lengths) {
                float[] x = uniform(rng, n, -6, 6), dy = uniform(rng, n);
                for (Activation act : Activation.values()) {
                    for (boolean alias : new boolean[] {false, true}) {
                        String what = "n=" + n + (alias ? " dx==dy" : "");
                        ConformanceSupport.check(bc, backend, ref, "activationBackward " + act, what, (be, s) -> {
                            Tensor dyT = upload(be, s, dy, n);
                            Tensor dxT = alias ? dyT : zeros(be, s, n);
                            be.activationBackward(act, upload(be, s, x, n), dyT, dxT);
                            return dxT;
                        });
                    }
                }
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource(BACKENDS)
    void l2NormalizeBackward(BackendCase bc) {
        long[][] shapes = {{1, 1}, {7, 5}, {33, 77}, {77, 512}, {1000, 33}, {197, 768}};
        Random rng = new Random(33);
        try (Backend backend = bc.open(); Backend ref = new ReferenceBackend()) {
            for (long[] shape : shapes) {
                long dim = shape[1];
                int n = (int) numel(shape);
                float[] x = uniform(rng, n), dy = uniform(rng, n);
                // the last row's norm below eps 0.01 (where dx = dy/eps); not for a lone row of one element, whose
                // exact gradient, 0, comes out as rounding error / norm, which a tiny norm makes large
                if (n > 1) for (int i = n - (int) dim; i < n; i++) x[i] *= 1e-3f / (float) Math.sqrt(dim);
                for (float eps : new float[] {1e-12f, 0.01f}) {
                    for (boolean alias : new boolean[] {false, true}) {
                        String what = Arrays.toString(shape) + " eps " + eps + (alias ? " dx==dy" : "");
                        ConformanceSupport.check(bc, backend, ref, "l2NormalizeBackward", what, (be, s) -> {
                            Tensor dyT = upload(be, s, dy, shape);
                            Tensor dxT = alias ? dyT : zeros(be, s, shape);
                            be.l2NormalizeBackward(upload(be, s, x, shape), eps, dyT, dxT);
                            return dxT;
                        });
                    }
                }
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource(BACKENDS)
    void attentionPackedBackward(BackendCase bc) {
        // B, L, H, d. L = 150 and 197 span two query blocks of the CPU kernel; the last case is ViT-B/16's attention.
        long[][] cases = {{1, 1, 1, 1}, {2, 5, 3, 4}, {2, 13, 3, 8}, {2, 7, 3, 5}, {2, 17, 4, 16}, {1, 150, 2, 16},
            {3, 77, 8, 64}, {2, 197, 12, 64}};
        Random rng = new Random(34);
        try (Backend backend = bc.open(); Backend ref = new ReferenceBackend()) {
            for (long[] cs : cases) {
                long b = cs[0], len = cs[1], heads = cs[2], width = heads * cs[3];
                boolean big = len * heads > 1000;
                float[] qkv = uniform(rng, (int) (b * len * 3 * width), -2, 2);
                float[] dOut = uniform(rng, b * len * width);
                int[] mask = OpConformanceTest.keyMask(rng, b, len);  // the last sequence fully padded when B > 1
                for (boolean causal : new boolean[] {false, true}) {
                    for (boolean masked : new boolean[] {false, true}) {
                        if (big && causal != masked) continue;  // the reference takes a while at this size
                        float[] out = forward(ref, qkv, b, len, width, heads, causal, masked ? mask : null);
                        String what = "B,L,H,d=" + Arrays.toString(cs) + (causal ? " causal" : "") + (masked ? " keyMask" : "");
                        ConformanceSupport.check(bc, backend, ref, "attentionPackedBackward", what, (be, s) -> {
                            Tensor dQkv = upload(be, s, uniform(new Random(1), b * len * 3 * width), b, len, 3 * width);  // overwritten
                            be.attentionPackedBackward(upload(be, s, qkv, b, len, 3 * width), upload(be, s, out, b, len, width),
                                    upload(be, s, dOut, b, len, width), dQkv, (int) heads, causal,
                                    masked ? uploadInts(be, s, mask, b, len) : null);
                            return dQkv;
                        });
                    }
                }
            }
        }
    }

    /** The forward output both backends' backward calls are given: the reference's, so that both see the same. */
    private static float[] forward(Backend ref, float[] qkv, long b, long len, long width, long heads, boolean causal, int[] mask) {
        try (TensorScope s = new TensorScope()) {
            Tensor out = zeros(ref, s, b, len, width);
            ref.attentionPacked(upload(ref, s, qkv, b, len, 3 * width), out, (int) heads, causal,
                    mask == null ? null : uploadInts(ref, s, mask, b, len));
            return out.toFloatArray();
        }
    }

    // ---- dropout: the definition, bit for bit ----

    private static final long[] SEEDS = {0, 1, -1, Long.MIN_VALUE, 0x0123456789ABCDEFL};
    private static final float[] PROBABILITIES = {0f, 1e-9f, 0.1f, 0.5f, 0.9f, 0.999f};

    private static float[] dropout(Backend be, float[] x, float p, long seed, boolean inPlace) {
        try (TensorScope s = new TensorScope()) {
            Tensor in = upload(be, s, x, x.length);
            Tensor out = inPlace ? in : zeros(be, s, x.length);
            be.dropout(in, p, seed, out);
            return download(out);
        }
    }

    private static int[] bits(float[] v) {
        int[] b = new int[v.length];
        for (int i = 0; i < v.length; i++) b[i] = Float.floatToRawIntBits(v[i]);
        return b;
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource(ALL)
    void dropoutFollowsTheDefinitionExactly(BackendCase bc) {
        float[] x = uniform(new Random(35), 4099, -3, 3);
        try (Backend backend = bc.open()) {
            for (long seed : SEEDS) {
                for (float p : PROBABILITIES) {
                    // the mask bits are SplitMix64's outputs, which java.util.SplittableRandom(seed) produces in order
                    SplittableRandom bitsSource = new SplittableRandom(seed);
                    long threshold = Math.min((1L << 32) - 1, (long) Math.floor(p * 4294967296.0));
                    float scale = (float) (1.0 / (1.0 - p));
                    float[] expected = new float[x.length];
                    for (int i = 0; i < x.length; i++) expected[i] = (bitsSource.nextLong() >>> 32) >= threshold ? x[i] * scale : 0f;
                    String what = bc.name() + " seed " + seed + " p " + p;
                    assertArrayEquals(bits(expected), bits(dropout(backend, x, p, seed, false)), what);
                    assertArrayEquals(bits(expected), bits(dropout(backend, x, p, seed, true)), what + " in place");
                    if (p == 0f) assertArrayEquals(bits(x), bits(expected), "p = 0 is the identity");
                }
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource(BACKENDS)
    void dropoutMaskIsTheReferenceMaskAtScale(BackendCase bc) {
        int n = (1 << 18) + 3;  // the parallel path
        float[] x = uniform(new Random(36), n, -1, 1);
        try (Backend backend = bc.open(); Backend ref = new ReferenceBackend()) {
            for (float p : new float[] {0.1f, 0.5f, 0.9f}) {
                long seed = 1000 + (long) (p * 10);
                float[] ours = dropout(backend, x, p, seed, false);
                assertArrayEquals(bits(dropout(ref, x, p, seed, false)), bits(ours), bc.name() + " p " + p);
                assertArrayEquals(bits(ours), bits(dropout(backend, x, p, seed, false)), "a second call: the same mask");
                // kept fraction within 6 standard deviations of the binomial (fixed seeds: never flaky)
                long kept = 0;
                for (float v : ours) if (v != 0) kept++;
                double mean = n * (1.0 - p), sd = Math.sqrt(n * p * (1.0 - p));
                assertTrue(Math.abs(kept - mean) <= 6 * sd, "kept " + kept + " of " + n + " at p " + p + ", expected " + mean);
                // another seed gives another mask: about 2p(1-p) of the positions differ
                float[] other = dropout(backend, x, p, seed + 1, false);
                long differ = 0;
                for (int i = 0; i < n; i++) if ((ours[i] == 0) != (other[i] == 0)) differ++;
                double expectDiffer = 2 * n * p * (1.0 - p);
                assertTrue(Math.abs(differ - expectDiffer) <= 6 * Math.sqrt(expectDiffer), "masks of seeds " + seed + ", "
                        + (seed + 1) + " differ at " + differ + " positions, expected about " + expectDiffer);
            }
        }
    }

    // ---- AdamW against PyTorch's formula ----

    /** torch.optim.AdamW's single-tensor step, transcribed in double. */
    private static void pytorchAdamw(double[] p, double[] g, double[] m, double[] v, double lr, double beta1, double beta2,
                                     double eps, double weightDecay, long step) {
        double biasCorrection1 = 1 - Math.pow(beta1, step), biasCorrection2 = 1 - Math.pow(beta2, step);
        double stepSize = lr / biasCorrection1, biasCorrection2Sqrt = Math.sqrt(biasCorrection2);
        for (int i = 0; i < p.length; i++) {
            p[i] *= 1 - lr * weightDecay;                                   // param.mul_(1 - lr * weight_decay)
            m[i] += (g[i] - m[i]) * (1 - beta1);                            // exp_avg.lerp_(grad, 1 - beta1)
            v[i] = v[i] * beta2 + (1 - beta2) * g[i] * g[i];                 // exp_avg_sq.mul_(beta2).addcmul_(...)
            double denom = Math.sqrt(v[i]) / biasCorrection2Sqrt + eps;
            p[i] -= stepSize * m[i] / denom;                                // param.addcdiv_(exp_avg, denom, -step_size)
        }
    }

    private static double[] toDoubles(float[] f) {
        double[] d = new double[f.length];
        for (int i = 0; i < f.length; i++) d[i] = f[i];
        return d;
    }

    /** max|ours − want| / scale, asserted ≤ tol and recorded for the error summary. */
    private static void assertWithin(String backend, String op, String what, double[] want, float[] ours, double scale, double tol) {
        double err = 0;
        for (int i = 0; i < want.length; i++) err = Math.max(err, Float.isFinite(ours[i]) ? Math.abs(ours[i] - want[i]) : Double.POSITIVE_INFINITY);
        double e = err / scale;
        ConformanceSupport.record(backend, op, e);
        assertTrue(e <= tol, backend + " " + op + " " + what + ": error " + e + " > " + tol);
    }

    private static double maxAbs(double[] v) {
        double m = 0;
        for (double x : v) m = Math.max(m, Math.abs(x));
        return m;
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource(ALL)
    void adamwMatchesPytorch(BackendCase bc) {
        // lr, beta1, beta2, eps, weight decay, gradient scale. The second has eps comparable to √v̂, so where eps goes
        // matters; the third has no momentum and no decay.
        float[][] configs = {{1e-3f, 0.9f, 0.999f, 1e-8f, 0.01f, 1f}, {1e-2f, 0.8f, 0.99f, 1e-3f, 0.1f, 1e-3f},
            {5e-3f, 0f, 0f, 1e-6f, 0f, 0.5f}};
        int[] sizes = {1, 7, 4099, (1 << 17) + 5};
        Random rng = new Random(37);
        try (Backend backend = bc.open(); TensorScope s = new TensorScope()) {
            for (float[] c : configs) {
                for (int n : sizes) {
                    float[] p0 = uniform(rng, n);
                    double[] p = toDoubles(p0), m = new double[n], v = new double[n];
                    Tensor pT = upload(backend, s, p0, n), mT = zeros(backend, s, n), vT = zeros(backend, s, n);
                    String what = "n=" + n + " config " + Arrays.toString(c);
                    for (long step = 1; step <= 6; step++) {
                        float[] g = uniform(rng, n, -c[5], c[5]);
                        pytorchAdamw(p, toDoubles(g), m, v, c[0], c[1], c[2], c[3], c[4], step);
                        backend.adamw(pT, upload(backend, s, g, n), mT, vT, c[0], c[1], c[2], c[3], c[4], step);
                        // F32 state against double state: a few roundings of |p| ≤ ~1 per step, far below any update
                        assertWithin(bc.name(), "adamw param", what + " step " + step, p, download(pT), Math.max(1, maxAbs(p)), 1e-6);
                        assertWithin(bc.name(), "adamw m", what + " step " + step, m, download(mT), maxAbs(m), 1e-5);
                        assertWithin(bc.name(), "adamw v", what + " step " + step, v, download(vT), maxAbs(v), 1e-5);
                    }
                }
            }
        }
    }

    // ---- gradient-norm helpers ----

    @ParameterizedTest(name = "{0}")
    @MethodSource(ALL)
    void sumSquaresAccumulatesInDouble(BackendCase bc) {
        Random rng = new Random(38);
        try (Backend backend = bc.open(); TensorScope s = new TensorScope()) {
            assertEquals(0.0, backend.sumSquares(zeros(backend, s, 0)), "empty");
            for (int n : new int[] {1, 7, 4099, (1 << 20) + 3}) {
                // F32 accumulation would be off by ~1e-7 at the larger sizes; double, summed in any order, by ~1e-15
                float[] x = uniform(rng, n, -2, 2);
                for (boolean huge : new boolean[] {false, true}) {
                    if (huge) x[n / 2] = 3e20f;  // its square overflows F32 but not double
                    double want = accurateSumSquares(x);
                    double got = backend.sumSquares(upload(backend, s, x, n));
                    double rel = Math.abs(got - want) / want;
                    ConformanceSupport.record(bc.name(), "sumSquares", rel);
                    assertTrue(rel <= 1e-12, bc.name() + " sumSquares n=" + n + (huge ? " with 3e20" : "") + ": " + got + " vs " + want);
                }
            }
        }
    }

    /** Σ x² with Neumaier's compensated summation: correct to about an ulp, so the backends' own error shows. */
    private static double accurateSumSquares(float[] x) {
        double sum = 0, compensation = 0;
        for (float f : x) {
            double term = (double) f * f;  // exact: a float's square fits a double
            double t = sum + term;
            compensation += Math.abs(sum) >= term ? (sum - t) + term : (term - t) + sum;
            sum = t;
        }
        return sum + compensation;
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource(ALL)
    void scaleIsOneRoundedProduct(BackendCase bc) {
        Random rng = new Random(39);
        try (Backend backend = bc.open(); TensorScope s = new TensorScope()) {
            for (int n : new int[] {1, 7, 4099, (1 << 18) + 1}) {
                float[] x = uniform(rng, n, -5, 5);
                for (float alpha : new float[] {0.37f, -2f, 0f}) {
                    Tensor t = upload(backend, s, x, n);
                    backend.scale(t, alpha);
                    float[] want = new float[n];
                    for (int i = 0; i < n; i++) want[i] = x[i] * alpha;
                    assertArrayEquals(bits(want), bits(download(t)), bc.name() + " scale n=" + n + " alpha " + alpha);
                }
            }
        }
    }
}
