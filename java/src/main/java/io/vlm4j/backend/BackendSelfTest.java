package io.vlm4j.backend;

import io.vlm4j.backend.reference.ReferenceBackend;
import io.vlm4j.tensor.DType;
import io.vlm4j.tensor.Tensor;
import io.vlm4j.tensor.TensorScope;
import java.util.ArrayList;
import java.util.List;
import java.util.OptionalInt;
import java.util.SplittableRandom;
import java.util.function.BiFunction;

/**
 * Every op of a backend against the float64 {@link ReferenceBackend} on seeded random inputs at odd shapes, in one
 * call and without a test framework: what {@code vlm4j check} runs on a new machine (the GPU check script uses it
 * for the CUDA backend, where Maven and JUnit are not available). The unit-test suite (OpConformance*) goes further.
 */
public final class BackendSelfTest {
    /** One op at one shape: normwise error max|ours - ref| / max(1, max|ref|). */
    public record Result(String op, String shape, double error, boolean ok) {}

    private final Backend backend;
    private final double tolerance;
    private final DType act;  // the tested backend's compute type: its activation operands and outputs
    private final SplittableRandom rng = new SplittableRandom(20261123);

    public BackendSelfTest(Backend backend, double tolerance) {
        this.backend = backend;
        this.tolerance = tolerance;
        this.act = backend.computeType();
    }

    public List<Result> run() {
        List<Result> out = new ArrayList<>();
        try (Backend ref = new ReferenceBackend()) {
            long[][] mm = {{1, 1, 1, 1}, {1, 7, 13, 5}, {2, 65, 33, 17}, {1, 197, 77, 131}, {3, 64, 64, 64}};
            for (long[] s : mm) {
                for (int t = 0; t < 4; t++) {
                    boolean ta = (t & 1) != 0, tb = (t & 2) != 0;
                    long b = s[0], m = s[1], n = s[2], k = s[3];
                    long[] as = ta ? new long[] {b, k, m} : new long[] {b, m, k}, bs = tb ? new long[] {b, n, k} : new long[] {b, k, n};
                    float[] av = rand(b * m * k), bv = rand(b * k * n), bias = rand(n), res = rand(b * m * n);
                    Activation act = Activation.values()[t % Activation.values().length];
                    out.add(compare(ref, "matmul", String.format("b%d %dx%dx%d%s%s %s", b, m, n, k, ta ? " tA" : "", tb ? " tB" : "", act),
                            (be, sc) -> {
                                Tensor o = out(be, sc, b, m, n);
                                be.matmul(upA(be, sc, av, as), ta, upA(be, sc, bv, bs), tb, up(be, sc, bias, n), act, upA(be, sc, res, b, m, n), o);
                                return o;
                            }));
                }
            }
            for (long[] s : new long[][] {{1, 1}, {7, 33}, {197, 768}, {77, 512}, {5, 1000}}) {
                long r = s[0], d = s[1];
                float[] x = rand(r * d, 3), g = rand(d), bt = rand(d), y = rand(r * d);
                String sh = r + "x" + d;
                out.add(compare(ref, "layerNorm", sh, (be, sc) -> {
                    Tensor o = out(be, sc, r, d);
                    be.layerNorm(upA(be, sc, x, r, d), up(be, sc, g, d), up(be, sc, bt, d), 1e-5f, o);
                    return o;
                }));
                out.add(compare(ref, "softmax", sh, (be, sc) -> {
                    Tensor o = out(be, sc, r, d);
                    be.softmax(upA(be, sc, x, r, d), o);
                    return o;
                }));
                out.add(compare(ref, "l2Normalize", sh, (be, sc) -> {
                    Tensor o = out(be, sc, r, d);
                    be.l2Normalize(upA(be, sc, x, r, d), 1e-12f, o);
                    return o;
                }));
                out.add(compare(ref, "add", sh, (be, sc) -> {
                    Tensor o = out(be, sc, r, d);
                    be.add(upA(be, sc, x, r, d), upA(be, sc, y, r, d), o);
                    return o;
                }));
                out.add(compare(ref, "addBroadcast", sh, (be, sc) -> {
                    Tensor o = upA(be, sc, x, r, d);
                    be.addBroadcast(o, upA(be, sc, g, d));
                    return o;
                }));
                for (Activation a : Activation.values()) {
                    out.add(compare(ref, "activation " + a, sh, (be, sc) -> {
                        Tensor o = out(be, sc, r, d);
                        be.activation(a, upA(be, sc, x, r, d), o);
                        return o;
                    }));
                }
            }
            long[][] att = {{1, 1, 1, 1, 32, 0}, {2, 12, 50, 50, 64, 0}, {2, 8, 77, 77, 64, 1}, {1, 12, 197, 197, 64, 0}, {1, 4, 33, 65, 80, 1}};
            for (long[] s : att) {
                long b = s[0], h = s[1], lq = s[2], lk = s[3], hd = s[4], w = h * hd;
                boolean causal = s[5] != 0;
                float[] q = rand(b * lq * w), kk = rand(b * lk * w), v = rand(b * lk * w);
                int[] mask = new int[(int) (b * lk)];
                for (int i = 0; i < mask.length; i++) mask[i] = rng.nextInt(4) == 0 ? 0 : 1;
                mask[0] = 1;
                out.add(compare(ref, "attention", String.format("b%d h%d %dx%d d%d%s +mask", b, h, lq, lk, hd, causal ? " causal" : ""), (be, sc) -> {
                    Tensor o = out(be, sc, b, lq, w);
                    be.attention(upA(be, sc, q, b, lq, w), upA(be, sc, kk, b, lk, w), upA(be, sc, v, b, lk, w), o, (int) h, causal,
                            upInts(be, sc, mask, b, lk));
                    return o;
                }));
                if (lq == lk) {
                    float[] qkv = rand(b * lq * 3 * w);
                    out.add(compare(ref, "attentionPacked", String.format("b%d h%d L%d d%d%s", b, h, lq, hd, causal ? " causal" : ""), (be, sc) -> {
                        Tensor o = out(be, sc, b, lq, w);
                        be.attentionPacked(upA(be, sc, qkv, b, lq, 3 * w), o, (int) h, causal, null);
                        return o;
                    }));
                }
            }
            float[] px = rand(2 * 3 * 37 * 35), pw = rand(24 * 3 * 8 * 8), pb = rand(24);
            out.add(compare(ref, "patchEmbed", "2x3x37x35 p8 -> 24", (be, sc) -> {
                Tensor o = out(be, sc, 2, 16, 24);
                be.patchEmbed(up(be, sc, px, 2, 3, 37, 35), upA(be, sc, pw, 24, 3, 8, 8), up(be, sc, pb, 24), o);
                return o;
            }));
            float[] table = rand(1000 * 48);
            int[] ids = new int[5 * 9];
            for (int i = 0; i < ids.length; i++) ids[i] = rng.nextInt(1000);
            out.add(compare(ref, "gather", "45 of 1000x48", (be, sc) -> {
                Tensor o = out(be, sc, 5, 9, 48);
                be.gather(upA(be, sc, table, 1000, 48), upInts(be, sc, ids, 5, 9), o);
                return o;
            }));
            float[] hidden = rand(5 * 9 * 48);
            for (OptionalInt eos : new OptionalInt[] {OptionalInt.empty(), OptionalInt.of(ids[3])}) {
                int[] pidIds = ids.clone();
                for (int r = 0; r < 5; r++) pidIds[r * 9 + 4] = ids[3];  // every row holds the EOS id
                out.add(compare(ref, "eosPool", eos.isPresent() ? "eos id" : "argmax", (be, sc) -> {
                    Tensor o = out(be, sc, 5, 48);
                    be.eosPool(upA(be, sc, hidden, 5, 9, 48), upInts(be, sc, pidIds, 5, 9), eos, o);
                    return o;
                }));
            }
            training(ref, out);
        }
        return out;
    }

    /** The training ops: backward passes, dropout (exact mask), AdamW, sumSquares and scale. */
    private void training(Backend ref, List<Result> out) {
        for (long[] s : new long[][] {{1, 5}, {33, 77}, {197, 768}}) {
            long r = s[0], d = s[1];
            float[] x = rand(r * d, 3), g = rand(d), dy = rand(r * d), grad = rand(r * d), zero = new float[(int) d];
            String sh = r + "x" + d;
            out.add(compare(ref, "layerNormBackward", sh, (be, sc) -> {
                Tensor o = out(be, sc, r, d);
                be.layerNormBackward(upA(be, sc, x, r, d), up(be, sc, g, d), 1e-5f, upA(be, sc, dy, r, d), o, false, null, null);
                return o;
            }));
            out.add(compare(ref, "layerNormBackward dGamma", sh, (be, sc) -> {
                Tensor dGamma = up(be, sc, zero, d);
                be.layerNormBackward(upA(be, sc, x, r, d), up(be, sc, g, d), 1e-5f, upA(be, sc, dy, r, d), out(be, sc, r, d), false,
                        dGamma, null);
                return dGamma;
            }));
            out.add(compare(ref, "l2NormalizeBackward", sh, (be, sc) -> {
                Tensor o = out(be, sc, r, d);
                be.l2NormalizeBackward(upA(be, sc, x, r, d), 1e-12f, upA(be, sc, dy, r, d), o);
                return o;
            }));
            for (Activation a : Activation.values()) {
                out.add(compare(ref, "activationBackward " + a, sh, (be, sc) -> {
                    Tensor o = out(be, sc, r, d);
                    be.activationBackward(a, upA(be, sc, x, r, d), upA(be, sc, dy, r, d), o);
                    return o;
                }));
            }
            out.add(compare(ref, "dropout", sh + " p 0.1", (be, sc) -> {
                Tensor o = out(be, sc, r, d);
                be.dropout(upA(be, sc, x, r, d), 0.1f, r * d, o);
                return o;
            }));
            out.add(compare(ref, "adamw", sh, (be, sc) -> {
                Tensor p = up(be, sc, x, r, d), m = up(be, sc, dy, r, d), v = up(be, sc, new float[(int) (r * d)], r, d);
                be.adamw(p, up(be, sc, grad, r, d), m, v, 1e-3f, 0.9f, 0.999f, 1e-8f, 0.01f, 3);  // F32 state, any backend
                return p;
            }));
            out.add(compare(ref, "sumSquares", sh, (be, sc) -> up(be, sc, new float[] {(float) be.sumSquares(upA(be, sc, x, r, d))}, 1)));
            out.add(compare(ref, "scale", sh, (be, sc) -> {
                Tensor o = upA(be, sc, x, r, d);
                be.scale(o, -0.37f);
                return o;
            }));
        }
        long[][] att = {{2, 5, 3, 4, 0}, {2, 77, 8, 64, 1}, {1, 197, 12, 64, 0}};  // B, L, H, d, causal
        for (long[] s : att) {
            long b = s[0], len = s[1], h = s[2], w = h * s[3];
            boolean causal = s[4] != 0;
            float[] qkv = rand(b * len * 3 * w), dOut = rand(b * len * w);
            int[] mask = new int[(int) (b * len)];
            for (int i = 0; i < mask.length; i++) mask[i] = rng.nextInt(4) == 0 ? 0 : 1;
            mask[0] = 1;
            float[] fwd;  // the forward output both backward calls are given: the reference's
            try (TensorScope sc = new TensorScope()) {
                Tensor o = sc.track(ref.allocate(DType.F32, b, len, w));
                ref.attentionPacked(up(ref, sc, qkv, b, len, 3 * w), o, (int) h, causal, upInts(ref, sc, mask, b, len));
                fwd = o.toFloatArray();
            }
            out.add(compare(ref, "attentionPackedBackward", String.format("b%d h%d L%d d%d%s +mask", b, h, len, s[3], causal ? " causal" : ""),
                    (be, sc) -> {
                        Tensor o = out(be, sc, b, len, 3 * w);
                        be.attentionPackedBackward(upA(be, sc, qkv, b, len, 3 * w), upA(be, sc, fwd, b, len, w), upA(be, sc, dOut, b, len, w),
                                o, (int) h, causal, upInts(be, sc, mask, b, len));
                        return o;
                    }));
        }
    }

    private float[] rand(long n) {
        return rand(n, 1);
    }

    private float[] rand(long n, double scale) {
        float[] v = new float[Math.toIntExact(n)];
        for (int i = 0; i < v.length; i++) v[i] = (float) (scale * (2 * rng.nextDouble() - 1));
        return v;
    }

    private static Tensor up(Backend be, TensorScope sc, float[] data, long... shape) {
        return sc.track(be.adopt(Tensor.of(data, shape)));
    }

    /**
     * An activation operand: on the tested backend in its compute type; for the reference the same values rounded
     * to that type (through the tested backend's own conversion), so that only the op's error is measured.
     */
    private Tensor upA(Backend be, TensorScope sc, float[] data, long... shape) {
        if (act == DType.F32) return up(be, sc, data, shape);
        try (TensorScope tmp = new TensorScope(backend.device())) {
            Tensor f = up(backend, tmp, data, shape);
            Tensor low = tmp.track(backend.allocate(act, shape));
            backend.convert(f, low);
            if (be == backend) return sc.track(copyOf(low));
            Tensor back = tmp.track(backend.allocate(DType.F32, shape));
            backend.convert(low, back);
            try (Tensor host = Tensor.allocate(DType.F32, shape)) {
                host.copyFrom(back);
                return up(be, sc, host.toFloatArray(), shape);
            }
        }
    }

    private Tensor copyOf(Tensor t) {
        Tensor c = backend.allocate(t.dtype(), t.shape());
        c.copyFrom(t);
        return c;
    }

    /** An op's output: the compute type on the tested backend, F32 on the reference. */
    private Tensor out(Backend be, TensorScope sc, long... shape) {
        return sc.track(be.allocate(be == backend ? act : DType.F32, shape));
    }

    private static float[] download(Backend be, Tensor t) {
        if (t.dtype() == DType.F32) return t.toFloatArray();
        try (Tensor f = be.allocate(DType.F32, t.shape())) {
            be.convert(t, f);
            return f.toFloatArray();
        }
    }

    private static Tensor upInts(Backend be, TensorScope sc, int[] data, long... shape) {
        return sc.track(be.adopt(Tensor.ofInts(data, shape)));
    }

    private Result compare(Backend ref, String op, String shape, BiFunction<Backend, TensorScope, Tensor> run) {
        try (TensorScope rs = new TensorScope(); TensorScope os = new TensorScope(backend.device())) {
            float[] want = run.apply(ref, rs).toFloatArray();
            float[] got = download(backend, run.apply(backend, os));
            double err = 0, max = 1;
            for (int i = 0; i < want.length; i++) {
                err = Math.max(err, Float.isFinite(got[i]) ? Math.abs((double) got[i] - want[i]) : Double.POSITIVE_INFINITY);
                max = Math.max(max, Math.abs(want[i]));
            }
            double e = err / max;
            return new Result(op, shape, e, e <= tolerance);
        } catch (RuntimeException ex) {
            return new Result(op, shape + " (" + ex.getMessage() + ")", Double.NaN, false);
        }
    }
}
