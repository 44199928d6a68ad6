package io.vlm4j.model.vit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.vlm4j.backend.Activation;
import io.vlm4j.backend.Backend;
import io.vlm4j.backend.cpu.CpuBackend;
import io.vlm4j.backend.cuda.CudaBackend;
import io.vlm4j.backend.cuda.CudaStatus;
import io.vlm4j.backend.reference.ReferenceBackend;
import io.vlm4j.model.clip.WeightSource;
import io.vlm4j.tensor.Tensor;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ConcurrentSkipListMap;

/**
 * Test support for the ViT-family towers: seeded random weights in a map, a float64 re-implementation of the math the
 * PyTorch modules do (written from timm's vision_transformer.py, transformers' modeling_siglip.py and
 * torch.nn.MultiheadAttention, not from the Java towers), the backends under test, and a relative error check.
 */
final class VitReference {
    private VitReference() {}

    // ---- fixtures ----

    /** A test resource directory on the class path, e.g. "/vit". */
    static java.nio.file.Path resource(String name) {
        try {
            return java.nio.file.Paths.get(VitReference.class.getResource(name).toURI());
        } catch (java.net.URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The values of float32 {@code dir/name} (.npy). */
    static float[] npy(java.nio.file.Path dir, String name) throws Exception {
        try (io.vlm4j.tensor.Tensor t = io.vlm4j.io.Npy.readFloat32(dir.resolve(name))) {
            return t.toFloatArray();
        }
    }

    // ---- backends ----

    /** "cpu", "reference" or "cuda"; CUDA is skipped with the reason where no GPU is present. */
    static Backend backend(String name) {
        return switch (name) {
            case "cpu" -> new CpuBackend();
            case "reference" -> new ReferenceBackend();
            case "cuda" -> {
                assumeTrue(CudaStatus.unavailableReason().isEmpty(), () -> "CUDA unavailable: " + CudaStatus.unavailableReason().orElse(""));
                yield new CudaBackend();
            }
            default -> throw new IllegalArgumentException(name);
        };
    }

    /** Relative tolerance for F32 compute: CPU and reference accumulate like float64 up to F32 rounding. */
    static double tolerance(String backend) {
        return backend.equals("cuda") ? 1e-4 : 1e-5;
    }

    // ---- error check ----

    /** Worst relative error per test label, printed by the test classes after they run. */
    static final Map<String, Double> WORST = new ConcurrentSkipListMap<>();

    /** max|actual − expected| / max|expected| ≤ tol; records the value under {@code label}. */
    static double assertClose(String label, double[] expected, float[] actual, double tol) {
        assertEquals(expected.length, actual.length, label + ": length");
        double max = 0, scale = 1e-30;
        for (int i = 0; i < expected.length; i++) {
            assertTrue(Float.isFinite(actual[i]), label + ": non-finite value at " + i);
            max = Math.max(max, Math.abs(expected[i] - actual[i]));
            scale = Math.max(scale, Math.abs(expected[i]));
        }
        double rel = max / scale;
        WORST.merge(label, rel, Math::max);
        assertTrue(rel <= tol, label + ": relative error " + rel + " > " + tol + " (max abs " + max + ", scale " + scale + ")");
        return rel;
    }

    static double assertClose(String label, float[] expected, float[] actual, double tol) {
        double[] e = new double[expected.length];
        for (int i = 0; i < e.length; i++) e[i] = expected[i];
        return assertClose(label, e, actual, tol);
    }

    static void printWorst(String suite) {
        WORST.forEach((k, v) -> { if (k.startsWith(suite)) System.out.printf("[vit] %-60s max rel error %.2e%n", k, v); });
    }

    // ---- weights ----

    /** Named F32 arrays with shapes; a missing name or a different shape is an IllegalArgumentException. */
    static final class MapWeights implements WeightSource {
        final Map<String, float[]> values = new LinkedHashMap<>();
        final Map<String, long[]> shapes = new LinkedHashMap<>();
        private final Random rng;

        MapWeights(long seed) { this.rng = new Random(seed); }

        /** N(mean, std) values. */
        MapWeights put(String name, double mean, double std, long... shape) {
            float[] v = new float[Math.toIntExact(Arrays.stream(shape).reduce(1, (a, b) -> a * b))];
            for (int i = 0; i < v.length; i++) v[i] = (float) (mean + std * rng.nextGaussian());
            values.put(name, v);
            shapes.put(name, shape.clone());
            return this;
        }

        /** A Linear [out, in] with weights N(0, 1/√in) and bias N(0, 0.1) (bias skipped when {@code bias} is false). */
        MapWeights linear(String name, long out, long in, boolean bias) {
            put(name + ".weight", 0, 1 / Math.sqrt(in), out, in);
            if (bias) put(name + ".bias", 0, 0.1, out);
            return this;
        }

        /** LayerNorm γ = 1 + N(0, 0.1), β = N(0, 0.1). */
        MapWeights norm(String name, long d) {
            put(name + ".weight", 1, 0.1, d);
            return put(name + ".bias", 0, 0.1, d);
        }

        float[] get(String name) {
            float[] v = values.get(name);
            if (v == null) throw new IllegalArgumentException("no test weight " + name);
            return v;
        }

        @Override
        public Tensor tensor(String name, long... shape) {
            long[] s = shapes.get(name);
            if (s == null) throw new IllegalArgumentException("missing tensor '" + name + "'");
            if (!Arrays.equals(s, shape)) {
                throw new IllegalArgumentException("tensor '" + name + "' has shape " + Arrays.toString(s) + ", expected "
                        + Arrays.toString(shape));
            }
            return Tensor.of(values.get(name), shape);
        }

        @Override
        public boolean contains(String name) { return values.containsKey(name); }

        @Override
        public String describe() { return "test weights"; }
    }

    static float[] gaussian(long seed, int n, double std) {
        Random r = new Random(seed);
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float) (std * r.nextGaussian());
        return v;
    }

    // ---- float64 math (rows are tokens) ----

    /** nn.Linear: x [R][in] · W[out, in]ᵀ + b. */
    static double[][] linear(double[][] x, float[] w, float[] b, int out) {
        int in = x.length == 0 ? 0 : x[0].length;
        if (w.length != out * in) throw new IllegalArgumentException("weight of " + w.length + " for " + out + "x" + in);
        double[][] y = new double[x.length][out];
        for (int r = 0; r < x.length; r++) {
            for (int o = 0; o < out; o++) {
                double s = b == null ? 0 : b[o];
                for (int i = 0; i < in; i++) s += x[r][i] * w[o * in + i];
                y[r][o] = s;
            }
        }
        return y;
    }

    /** nn.LayerNorm: biased variance, eps inside the square root. */
    static double[][] layerNorm(double[][] x, float[] g, float[] b, double eps) {
        double[][] y = new double[x.length][];
        for (int r = 0; r < x.length; r++) {
            int d = x[r].length;
            double mean = 0, var = 0;
            for (double v : x[r]) mean += v;
            mean /= d;
            for (double v : x[r]) var += (v - mean) * (v - mean);
            var /= d;
            double inv = 1 / Math.sqrt(var + eps);
            y[r] = new double[d];
            for (int i = 0; i < d; i++) y[r][i] = (x[r][i] - mean) * inv * g[i] + b[i];
        }
        return y;
    }

    static double[][] apply(Activation act, double[][] x) {
        double[][] y = new double[x.length][];
        for (int r = 0; r < x.length; r++) {
            y[r] = new double[x[r].length];
            for (int i = 0; i < y[r].length; i++) y[r][i] = act.apply(x[r][i]);
        }
        return y;
    }

    static double[][] add(double[][] a, double[][] b) {
        double[][] y = new double[a.length][];
        for (int r = 0; r < a.length; r++) {
            y[r] = new double[a[r].length];
            for (int i = 0; i < y[r].length; i++) y[r][i] = a[r][i] + b[r][i];
        }
        return y;
    }

    /** Multi-head attention of one sequence: q [Lq][H·d], k and v [Lk][H·d]; keep[j] false masks key j (null: none). */
    static double[][] attention(double[][] q, double[][] k, double[][] v, int heads, boolean[] keep) {
        int w = q[0].length, hd = w / heads;
        double scale = 1 / Math.sqrt(hd);
        double[][] out = new double[q.length][w];
        for (int h = 0; h < heads; h++) {
            for (int i = 0; i < q.length; i++) {
                double[] s = new double[k.length];
                double max = Double.NEGATIVE_INFINITY;
                for (int j = 0; j < k.length; j++) {
                    if (keep != null && !keep[j]) { s[j] = Double.NEGATIVE_INFINITY; continue; }
                    double dot = 0;
                    for (int c = 0; c < hd; c++) dot += q[i][h * hd + c] * k[j][h * hd + c];
                    s[j] = dot * scale;
                    max = Math.max(max, s[j]);
                }
                double sum = 0;
                for (int j = 0; j < k.length; j++) { s[j] = Math.exp(s[j] - max); sum += s[j]; }
                for (int j = 0; j < k.length; j++) {
                    for (int c = 0; c < hd; c++) out[i][h * hd + c] += s[j] / sum * v[j][h * hd + c];
                }
            }
        }
        return out;
    }

    /** Conv2d kernel = stride = P, no padding, of image {@code img} of a [B, C, S, S] batch: [G²][D] in row-major patch order. */
    static double[][] patchConv(float[] pixels, int img, int c, int s, int p, float[] w, float[] bias, int d) {
        int g = s / p;
        double[][] out = new double[g * g][d];
        for (int py = 0; py < g; py++) {
            for (int px = 0; px < g; px++) {
                for (int o = 0; o < d; o++) {
                    double acc = bias == null ? 0 : bias[o];
                    for (int ch = 0; ch < c; ch++) {
                        for (int ky = 0; ky < p; ky++) {
                            for (int kx = 0; kx < p; kx++) {
                                double x = pixels[((img * c + ch) * s + py * p + ky) * s + px * p + kx];
                                acc += x * w[((o * c + ch) * p + ky) * p + kx];
                            }
                        }
                    }
                    out[py * g + px][o] = acc;
                }
            }
        }
        return out;
    }

    /**
     * One pre-LN block on one sequence: x + proj(attn(LN₁x)), then + fc2(act(fc1(LN₂x))). q, k, v weights given as one
     * [3D, D] matrix (timm's qkv layout) with bias (or null).
     */
    static double[][] block(double[][] x, float[] ln1g, float[] ln1b, float[] qkvW, float[] qkvB, float[] outW, float[] outB,
                            float[] ln2g, float[] ln2b, float[] fc1W, float[] fc1B, float[] fc2W, float[] fc2B,
                            int heads, int mlp, double eps, Activation act, boolean[] keep) {
        int d = x[0].length;
        double[][] h = layerNorm(x, ln1g, ln1b, eps);
        double[][] qkv = linear(h, qkvW, qkvB, 3 * d);
        double[][] q = new double[x.length][], k = new double[x.length][], v = new double[x.length][];
        for (int r = 0; r < x.length; r++) {
            q[r] = Arrays.copyOfRange(qkv[r], 0, d);
            k[r] = Arrays.copyOfRange(qkv[r], d, 2 * d);
            v[r] = Arrays.copyOfRange(qkv[r], 2 * d, 3 * d);
        }
        double[][] mid = add(x, linear(attention(q, k, v, heads, keep), outW, outB, d));
        double[][] m = apply(act, linear(layerNorm(mid, ln2g, ln2b, eps), fc1W, fc1B, mlp));
        return add(mid, linear(m, fc2W, fc2B, d));
    }

    /** [q; k; v] stacked along the output axis from three [D, D] matrices (HF layout → timm layout). */
    static float[] stack(float[]... parts) {
        int n = 0;
        for (float[] p : parts) n += p.length;
        float[] all = new float[n];
        int at = 0;
        for (float[] p : parts) { System.arraycopy(p, 0, all, at, p.length); at += p.length; }
        return all;
    }

    static double[] flatten(double[][] rows) {
        return Arrays.stream(rows).flatMapToDouble(Arrays::stream).toArray();
    }
}
