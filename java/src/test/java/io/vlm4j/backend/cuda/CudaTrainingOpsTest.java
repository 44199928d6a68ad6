package io.vlm4j.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.vlm4j.backend.Activation;
import io.vlm4j.backend.Backend;
import io.vlm4j.backend.reference.HalfFloats;
import io.vlm4j.backend.reference.ReferenceBackend;
import io.vlm4j.tensor.DType;
import io.vlm4j.tensor.Tensor;
import io.vlm4j.tensor.TensorScope;
import java.util.Arrays;
import java.util.Random;
import java.util.function.BiFunction;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The CUDA backend's training ops against the float64 {@link ReferenceBackend} on seeded random inputs at odd shapes,
 * in each compute type: both sides get the same values (rounded to the type), the reference computes in F32 storage
 * with float64 math, and the normwise error max|ours − ref| / max(1, max|ref|) must stay within 1e-5 for F32 and
 * 1e-2 for F16/BF16 (the conformance suite's and {@code vlm4j check}'s bounds). F32 results (dGamma/dBeta, AdamW
 * state, sums of squares) are held to F32 bounds in every compute type. Skipped, saying why, without a usable GPU
 * ({@link CudaTrainingArgumentsTest} runs there).
 */
class CudaTrainingOpsTest {

    @BeforeEach
    void needsGpu() {
        assumeTrue(CudaStatus.unavailableReason().isEmpty(),
                () -> "CUDA unavailable (" + CudaStatus.unavailableReason().orElse("") + "): training ops not run on a GPU");
    }

    private static double tolerance(DType dt) { return dt == DType.F32 ? 1e-5 : 1e-2; }

    // ---- the same inputs on both backends ----

    /** The values a dt tensor holds. */
    private static float[] rounded(DType dt, float[] v) {
        float[] r = v.clone();
        for (int i = 0; i < r.length; i++) {
            if (dt == DType.F16) r[i] = HalfFloats.f16ToFloat(HalfFloats.floatToF16(r[i]));
            else if (dt == DType.BF16) r[i] = HalfFloats.bf16ToFloat(HalfFloats.floatToBf16(r[i]));
        }
        return r;
    }

    private static float[] uniform(Random rng, long n, double lo, double hi) {
        float[] v = new float[Math.toIntExact(n)];
        for (int i = 0; i < v.length; i++) v[i] = (float) (lo + (hi - lo) * rng.nextDouble());
        return v;
    }

    private static long numel(long... shape) { return Arrays.stream(shape).reduce(1, (a, b) -> a * b); }

    /** An F32 tensor on the backend's device. */
    private static Tensor f32(Backend be, TensorScope s, float[] data, long... shape) {
        return s.track(be.adopt(Tensor.of(data, shape)));
    }

    /** An activation operand: the backend's compute type on its device (F32 on the reference). */
    private static Tensor act(Backend be, TensorScope s, float[] data, long... shape) {
        Tensor f = f32(be, s, data, shape);
        if (be.computeType() == DType.F32) return f;
        Tensor t = s.track(be.allocate(be.computeType(), shape));
        be.convert(f, t);
        return t;
    }

    private static Tensor ints(Backend be, TensorScope s, int[] data, long... shape) {
        return s.track(be.adopt(Tensor.ofInts(data, shape)));
    }

    private static float[] read(Backend be, Tensor t) {
        if (t.dtype() == DType.F32) return t.toFloatArray();
        try (Tensor f = be.allocate(DType.F32, t.shape())) {
            be.convert(t, f);
            return f.toFloatArray();
        }
    }

    private static double normwiseError(float[] ref, float[] got) {
        assertEquals(ref.length, got.length, "lengths");
        double err = 0, scale = 1;
        for (int i = 0; i < ref.length; i++) {
            if (!Float.isFinite(got[i])) return Double.POSITIVE_INFINITY;
            err = Math.max(err, Math.abs((double) got[i] - ref[i]));
            scale = Math.max(scale, Math.abs(ref[i]));
        }
        return err / scale;
    }

    private static void assertClose(String what, double tol, float[] ref, float[] got) {
        double e = normwiseError(ref, got);
        assertTrue(e <= tol, what + ": normwise error " + e + " > " + tol);
    }

    /**
     * Runs {@code op} on the reference and on CUDA in {@code dt} from the same inputs; each returns its outputs, which
     * are compared in order with {@code tols[i]} (the last bound repeats).
     */
    private static void compare(DType dt, String what, BiFunction<Backend, TensorScope, Tensor[]> op, double... tols) {
        try (CudaBackend cuda = new CudaBackend(dt); Backend ref = new ReferenceBackend();
             TensorScope rs = new TensorScope(); TensorScope cs = new TensorScope()) {
            Tensor[] want = op.apply(ref, rs), got = op.apply(cuda, cs);
            for (int i = 0; i < want.length; i++) {
                double tol = tols[Math.min(i, tols.length - 1)];
                assertClose(dt + " " + what + " output " + i, tol, read(ref, want[i]), read(cuda, got[i]));
            }
        }
    }

    // ---- the ops ----

    @ParameterizedTest(name = "{0}")
    @EnumSource(value = DType.class, names = {"F32", "F16", "BF16"})
    void layerNormBackward(DType dt) {
        Random rng = new Random(31);
        long[][] shapes = {{1, 1}, {7, 33}, {197, 768}, {3, 4099}, {2, 3, 65}};
        for (long[] shape : shapes) {
            long dim = shape[shape.length - 1], n = numel(shape);
            float[] x = rounded(dt, uniform(rng, n, -3, 3)), dy = rounded(dt, uniform(rng, n, -1, 1));
            float[] dx0 = rounded(dt, uniform(rng, n, -1, 1)), gamma = uniform(rng, dim, 0.5, 1.5);
            float[] dg0 = uniform(rng, dim, -1, 1), db0 = uniform(rng, dim, -1, 1);
            for (int mode = 0; mode < 3; mode++) {  // 0: dx =, with dGamma/dBeta; 1: dx +=, with them; 2: in place, without
                boolean accumulate = mode == 1, params = mode < 2, inPlace = mode == 2;
                compare(dt, "layerNormBackward " + Arrays.toString(shape) + " mode " + mode, (be, s) -> {
                    Tensor dyT = act(be, s, dy, shape);
                    Tensor dxT = inPlace ? dyT : act(be, s, dx0, shape);
                    Tensor dg = params ? f32(be, s, dg0, dim) : null, db = params ? f32(be, s, db0, dim) : null;
                    be.layerNormBackward(act(be, s, x, shape), f32(be, s, gamma, dim), 1e-5f, dyT, dxT, accumulate, dg, db);
                    return params ? new Tensor[] {dxT, dg, db} : new Tensor[] {dxT};
                }, tolerance(dt), 1e-5);
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @EnumSource(value = DType.class, names = {"F32", "F16", "BF16"})
    void activationBackward(DType dt) {
        Random rng = new Random(32);
        for (int n : new int[] {1, 7, 1000, 4099}) {
            float[] x = rounded(dt, uniform(rng, n, -6, 6)), dy = rounded(dt, uniform(rng, n, -1, 1));
            for (Activation a : Activation.values()) {
                for (boolean inPlace : new boolean[] {false, true}) {
                    compare(dt, "activationBackward " + a + " n=" + n + (inPlace ? " in place" : ""), (be, s) -> {
                        Tensor dyT = act(be, s, dy, n);
                        Tensor dxT = inPlace ? dyT : s.track(be.allocate(be.computeType(), n));
                        be.activationBackward(a, act(be, s, x, n), dyT, dxT);
                        return new Tensor[] {dxT};
                    }, tolerance(dt));
                }
            }
        }
    }

    /** (batch, heads, length, head dim, causal, key mask with batch 0 fully masked) */
    private static final long[][] ATTENTION_CASES = {
        {1, 1, 1, 32, 0, 0}, {2, 1, 13, 32, 1, 0}, {2, 12, 13, 64, 0, 1}, {1, 12, 77, 64, 1, 0},
        {2, 2, 77, 80, 1, 1}, {1, 12, 197, 64, 0, 0}, {2, 3, 40, 1, 0, 1}, {1, 2, 33, 128, 1, 0}};

    @ParameterizedTest(name = "{0}")
    @EnumSource(value = DType.class, names = {"F32", "F16", "BF16"})
    void attentionPackedBackward(DType dt) {
        Random rng = new Random(33);
        for (long[] c : ATTENTION_CASES) {
            long b = c[0], len = c[2], w = c[1] * c[3];
            int heads = (int) c[1];
            boolean causal = c[4] != 0;
            float[] qkv = rounded(dt, uniform(rng, b * len * 3 * w, -2, 2)), dOut = rounded(dt, uniform(rng, b * len * w, -1, 1));
            int[] mask = null;
            if (c[5] != 0) {
                mask = new int[(int) (b * len)];
                for (int i = 0; i < mask.length; i++) mask[i] = i < len ? 0 : (rng.nextInt(4) == 0 ? 0 : 1);
            }
            int[] keyMask = mask;
            // the forward output both sides differentiate: the reference's, rounded to dt (as a dt forward stores it)
            float[] out;
            try (Backend ref = new ReferenceBackend(); TensorScope s = new TensorScope()) {
                Tensor o = s.f32(b, len, w);
                Tensor m = keyMask == null ? null : ints(ref, s, keyMask, b, len);
                ref.attentionPacked(f32(ref, s, qkv, b, len, 3 * w), o, heads, causal, m);
                out = rounded(dt, o.toFloatArray());
            }
            compare(dt, "attentionPackedBackward " + Arrays.toString(c), (be, s) -> {
                Tensor dQkv = s.track(be.allocate(be.computeType(), b, len, 3 * w));
                Tensor m = keyMask == null ? null : ints(be, s, keyMask, b, len);
                be.attentionPackedBackward(act(be, s, qkv, b, len, 3 * w), act(be, s, out, b, len, w),
                        act(be, s, dOut, b, len, w), dQkv, heads, causal, m);
                return new Tensor[] {dQkv};
            }, tolerance(dt));
        }
    }

    @Test
    void l2NormalizeBackward() {
        Random rng = new Random(34);
        for (long[] shape : new long[][] {{1, 1}, {5, 512}, {3, 4097}}) {
            long dim = shape[1], n = numel(shape);
            float[] x = uniform(rng, n, -2, 2), dy = uniform(rng, n, -1, 1);
            Arrays.fill(x, 0, (int) dim, 0f);  // row 0: ‖x‖ = 0 <= eps, dx = dy / eps
            for (boolean inPlace : new boolean[] {false, true}) {
                compare(DType.F32, "l2NormalizeBackward " + Arrays.toString(shape), (be, s) -> {
                    Tensor dyT = f32(be, s, dy, shape);
                    Tensor dxT = inPlace ? dyT : s.track(be.allocate(DType.F32, shape));
                    be.l2NormalizeBackward(f32(be, s, x, shape), 1e-6f, dyT, dxT);
                    return new Tensor[] {dxT};
                }, 1e-5);
            }
        }
    }

    /** The contract's mask (Backend.dropout), written out here: kept iff the hash's high 32 bits >= floor(p·2³²). */
    private static boolean kept(long seed, long i, float p) {
        long z = seed + (i + 1) * 0x9E3779B97F4A7C15L;
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        z ^= z >>> 31;
        long threshold = (long) Math.min(Math.floor(p * 4294967296.0), 4294967295.0);
        return (z >>> 32) >= threshold;
    }

    @ParameterizedTest(name = "{0}")
    @EnumSource(value = DType.class, names = {"F32", "F16", "BF16"})
    void dropout(DType dt) {
        Random rng = new Random(35);
        int n = 100_003;
        float[] x = rounded(dt, uniform(rng, n, 0.5, 1.5));  // no zeros: a zero output means dropped
        for (float p : new float[] {0f, 0.1f, 0.5f, 0.9f}) {
            for (long seed : new long[] {0, 42, -7, Long.MIN_VALUE}) {
                compare(dt, "dropout p=" + p + " seed=" + seed, (be, s) -> {
                    Tensor out = s.track(be.allocate(be.computeType(), n));
                    be.dropout(act(be, s, x, n), p, seed, out);
                    return new Tensor[] {out};
                }, tolerance(dt));
                try (CudaBackend cuda = new CudaBackend(dt); TensorScope s = new TensorScope()) {
                    Tensor xt = act(cuda, s, x, n);
                    cuda.dropout(xt, p, seed, xt);  // in place
                    float[] got = read(cuda, xt);
                    int differ = 0;
                    for (int i = 0; i < n; i++) differ += kept(seed, i, p) != (got[i] != 0f) ? 1 : 0;
                    assertEquals(0, differ, dt + " dropout p=" + p + " seed=" + seed + ": mask differs from the contract's hash");
                }
            }
        }
    }

    @Test
    void adamw() {
        Random rng = new Random(36);
        for (int n : new int[] {1, 1001, 65_537}) {
            for (int offset : new int[] {0, 1}) {  // offset 1: not 16-byte aligned, the kernel's scalar path
                float[] p = uniform(rng, n + offset, -1, 1), g = uniform(rng, n + offset, -1, 1);
                float[] m = uniform(rng, n + offset, -0.1, 0.1), v = uniform(rng, n + offset, 0, 0.01);
                for (long step : new long[] {1, 10, 1000}) {
                    compare(DType.F32, "adamw n=" + n + " offset " + offset + " step " + step, (be, s) -> {
                        Tensor pt = f32(be, s, p, n + offset), mt = f32(be, s, m, n + offset), vt = f32(be, s, v, n + offset);
                        Tensor gt = f32(be, s, g, n + offset);
                        Tensor pv = pt.view(offset, n), mv = mt.view(offset, n), vv = vt.view(offset, n);
                        be.adamw(pv, gt.view(offset, n), mv, vv, 1e-3f, 0.9f, 0.999f, 1e-8f, 0.01f, step);
                        return new Tensor[] {pt, mt, vt};  // whole tensors: nothing before the view touched
                    }, 1e-5);
                }
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @EnumSource(value = DType.class, names = {"F32", "F16", "BF16"})
    void sumSquaresAndScale(DType dt) {
        Random rng = new Random(37);
        for (int n : new int[] {1, 1000, 1_000_003}) {
            float[] x = rounded(dt, uniform(rng, n, -2, 2));
            double want;
            try (Backend ref = new ReferenceBackend(); Tensor t = Tensor.of(x, n)) {
                want = ref.sumSquares(t);
            }
            try (CudaBackend cuda = new CudaBackend(dt); TensorScope s = new TensorScope()) {
                Tensor t = act(cuda, s, x, n);
                double got = cuda.sumSquares(t);
                assertTrue(Math.abs(got - want) <= 1e-10 * want, dt + " sumSquares n=" + n + ": " + got + " vs " + want);
                assertEquals(got, cuda.sumSquares(t), 0.0, "sumSquares is deterministic");
            }
            compare(dt, "scale n=" + n, (be, s) -> {
                Tensor t = act(be, s, x, n);
                be.scale(t, -0.37f);
                return new Tensor[] {t};
            }, tolerance(dt));
        }
    }

    /** dGamma/dBeta come from fixed-order partial sums: two runs agree bit for bit. */
    @Test
    void layerNormParamGradsAreDeterministic() {
        Random rng = new Random(38);
        long rows = 3000, dim = 256;
        float[] x = uniform(rng, rows * dim, -3, 3), dy = uniform(rng, rows * dim, -1, 1), gamma = uniform(rng, dim, 0.5, 1.5);
        float[][] runs = new float[2][];
        try (CudaBackend cuda = new CudaBackend(); TensorScope s = new TensorScope()) {
            for (int r = 0; r < 2; r++) {
                Tensor dg = s.track(cuda.allocate(DType.F32, dim));
                cuda.layerNormBackward(f32(cuda, s, x, rows, dim), f32(cuda, s, gamma, dim), 1e-5f, f32(cuda, s, dy, rows, dim),
                        s.track(cuda.allocate(DType.F32, rows, dim)), false, dg, null);
                runs[r] = dg.toFloatArray();
            }
        }
        assertArrayEquals(runs[0], runs[1]);
    }

    /** With a GPU present: bad arguments are still rejected before any device work. */
    @Test
    void rejectsBadArguments() {
        try (CudaBackend cuda = new CudaBackend(DType.BF16); TensorScope s = new TensorScope()) {
            // 2 heads of 130 (more than the kernel's 128), or 4 heads of 65
            Tensor qkv = s.track(cuda.allocate(DType.BF16, 1, 4, 3 * 260)), out = s.track(cuda.allocate(DType.BF16, 1, 4, 260));
            Tensor dOut = s.track(cuda.allocate(DType.BF16, 1, 4, 260)), dQkv = s.track(cuda.allocate(DType.BF16, 1, 4, 3 * 260));
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> cuda.attentionPackedBackward(qkv, out, dOut, dQkv, 2, false, null));
            assertTrue(e.getMessage().contains("head dims of at most 128"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class,
                    () -> cuda.attentionPackedBackward(qkv, out, dOut, qkv, 4, false, null));
            assertTrue(e.getMessage().contains("overlaps"), e.getMessage());
            Tensor host = s.track(Tensor.allocate(DType.BF16, 5));
            e = assertThrows(IllegalArgumentException.class, () -> cuda.scale(host, 2f));
            assertTrue(e.getMessage().contains("host memory"), e.getMessage());
        }
    }
}
