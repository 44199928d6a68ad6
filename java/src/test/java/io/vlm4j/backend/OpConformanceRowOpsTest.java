package io.vlm4j.backend;

import static io.vlm4j.backend.ConformanceSupport.check;
import static io.vlm4j.backend.ConformanceSupport.numel;
import static io.vlm4j.backend.ConformanceSupport.uniform;
import static io.vlm4j.backend.ConformanceSupport.upload;
import static io.vlm4j.backend.ConformanceSupport.uploadInts;
import static io.vlm4j.backend.ConformanceSupport.zeros;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import io.vlm4j.backend.ConformanceSupport.BackendCase;
import io.vlm4j.backend.reference.ReferenceBackend;
import io.vlm4j.tensor.DType;
import io.vlm4j.tensor.Tensor;
import io.vlm4j.tensor.TensorScope;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.OptionalInt;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Op conformance for the row-wise and elementwise ops, lookups and dtype conversion (see {@link OpConformanceTest}
 * for the approach). Every op that allows {@code out} to alias its input is also run in place.
 */
class OpConformanceRowOpsTest {
    private static final String BACKENDS = "io.vlm4j.backend.ConformanceSupport#backends";

    @AfterAll
    static void printErrors() { ConformanceSupport.printObservedErrors(); }

    /** rows × dim, plus a rank-3 case. */
    private static final long[][] ROW_SHAPES = {{1, 1}, {7, 5}, {197, 768}, {77, 512}, {1000, 33}, {2, 3, 4099}};

    private static final int[] LENGTHS = {1, 7, 1000, 4099};

    @ParameterizedTest(name = "{0}")
    @MethodSource(BACKENDS)
    void layerNorm(BackendCase bc) {
        Random rng = new Random(21);
        try (Backend backend = bc.open(); Backend ref = new ReferenceBackend()) {
            for (long[] shape : ROW_SHAPES) {
                long dim = shape[shape.length - 1];
                float[] x = uniform(rng, numel(shape));
                for (int i = 0; i < x.length; i++) x[i] += (float) (((i / dim) % 5) * 20 - 40);  // row means far from 0
                // the last row tiny, variance ~3e-7 < eps: the output then depends on eps sitting inside the sqrt
                for (int i = x.length - (int) dim; i < x.length; i++) x[i] = (float) (rng.nextDouble() - 0.5) * 2e-3f;
                float[] gamma = uniform(rng, (int) dim, 0.5, 1.5), beta = uniform(rng, dim);
                for (boolean inPlace : new boolean[] {false, true}) {
                    check(bc, backend, ref, "layerNorm", Arrays.toString(shape) + (inPlace ? " in place" : ""), (be, s) -> {
                        Tensor in = upload(be, s, x, shape);
                        Tensor out = inPlace ? in : zeros(be, s, shape);
                        be.layerNorm(in, upload(be, s, gamma, dim), upload(be, s, beta, dim), 1e-5f, out);
                        return out;
                    });
                }
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource(BACKENDS)
    void softmax(BackendCase bc) {
        long[][] shapes = {{1, 1}, {7, 5}, {77, 77}, {12, 197}, {1000, 33}, {3, 4099}, {2, 6, 197}};
        Random rng = new Random(22);
        try (Backend backend = bc.open(); Backend ref = new ReferenceBackend()) {
            for (long[] shape : shapes) {
                long dim = shape[shape.length - 1], rows = numel(shape) / dim;
                float[] x = uniform(rng, (int) numel(shape), -10, 10);
                for (int i = 0; i < x.length; i++) if (rng.nextDouble() < 0.1) x[i] = Float.NEGATIVE_INFINITY;
                if (rows > 1) Arrays.fill(x, (int) (rows / 2 * dim), (int) ((rows / 2 + 1) * dim), Float.NEGATIVE_INFINITY);
                for (boolean inPlace : new boolean[] {false, true}) {
                    check(bc, backend, ref, "softmax", Arrays.toString(shape) + (inPlace ? " in place" : ""), (be, s) -> {
                        Tensor in = upload(be, s, x, shape);
                        Tensor out = inPlace ? in : zeros(be, s, shape);
                        be.softmax(in, out);
                        return out;
                    });
                }
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource(BACKENDS)
    void activation(BackendCase bc) {
        Random rng = new Random(23);
        try (Backend backend = bc.open(); Backend ref = new ReferenceBackend()) {
            for (int n : LENGTHS) {
                float[] x = uniform(rng, n, -8, 8);
                for (int i = 0; i < n; i += 5) x[i] = 0f;  // exact zeros
                for (Activation act : Activation.values()) {
                    for (boolean inPlace : new boolean[] {false, true}) {
                        check(bc, backend, ref, "activation " + act, "n=" + n + (inPlace ? " in place" : ""), (be, s) -> {
                            Tensor in = upload(be, s, x, n);
                            Tensor out = inPlace ? in : zeros(be, s, n);
                            be.activation(act, in, out);
                            return out;
                        });
                    }
                }
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource(BACKENDS)
    void add(BackendCase bc) {
        Random rng = new Random(24);
        try (Backend backend = bc.open(); Backend ref = new ReferenceBackend()) {
            for (int n : LENGTHS) {
                float[] a = uniform(rng, n, -100, 100), b = uniform(rng, n);
                for (String aliasing : new String[] {"out", "out==a", "out==b"}) {
                    check(bc, backend, ref, "add", "n=" + n + " " + aliasing, (be, s) -> {
                        Tensor ta = upload(be, s, a, n), tb = upload(be, s, b, n);
                        Tensor out = aliasing.equals("out==a") ? ta : aliasing.equals("out==b") ? tb : zeros(be, s, n);
                        be.add(ta, tb, out);
                        return out;
                    });
                }
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource(BACKENDS)
    void addBroadcast(BackendCase bc) {
        long[][][] cases = {{{2, 77, 512}, {77, 512}}, {{197, 768}, {768}}, {{7, 5}, {7, 5}}, {{3, 1}, {1}},
            {{1000, 33}, {33}}, {{4, 7}, {}}};  // x shape, suffix shape
        Random rng = new Random(25);
        try (Backend backend = bc.open(); Backend ref = new ReferenceBackend()) {
            for (long[][] cs : cases) {
                float[] x = uniform(rng, numel(cs[0])), suffix = uniform(rng, numel(cs[1]));
                check(bc, backend, ref, "addBroadcast", Arrays.toString(cs[0]) + " += " + Arrays.toString(cs[1]), (be, s) -> {
                    Tensor tx = upload(be, s, x, cs[0]);
                    be.addBroadcast(tx, upload(be, s, suffix, cs[1]));
                    return tx;
                });
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource(BACKENDS)
    void l2Normalize(BackendCase bc) {
        Random rng = new Random(26);
        try (Backend backend = bc.open(); Backend ref = new ReferenceBackend()) {
            for (long[] shape : ROW_SHAPES) {
                long dim = shape[shape.length - 1];
                float[] x = uniform(rng, (int) numel(shape), -5, 5);
                if (numel(shape) > dim) Arrays.fill(x, 0, (int) dim, 0f);  // a zero row: divided by eps, stays zero
                for (float eps : new float[] {1e-12f, 1e-8f, 1f}) {  // eps = 1 exceeds the norm of small rows
                    for (boolean inPlace : new boolean[] {false, true}) {
                        String what = Arrays.toString(shape) + " eps=" + eps + (inPlace ? " in place" : "");
                        check(bc, backend, ref, "l2Normalize", what, (be, s) -> {
                            Tensor in = upload(be, s, x, shape);
                            Tensor out = inPlace ? in : zeros(be, s, shape);
                            be.l2Normalize(in, eps, out);
                            return out;
                        });
                    }
                }
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource(BACKENDS)
    void gather(BackendCase bc) {
        Object[][] cases = {{1L, 1L, new long[] {1}}, {7L, 5L, new long[] {3}}, {1000L, 33L, new long[] {50}},
            {4000L, 64L, new long[] {2, 77}}, {100L, 768L, new long[] {7}}};  // V, D, ids shape
        Random rng = new Random(27);
        try (Backend backend = bc.open(); Backend ref = new ReferenceBackend()) {
            for (Object[] cs : cases) {
                long vocab = (long) cs[0], dim = (long) cs[1];
                long[] idsShape = (long[]) cs[2], outShape = Arrays.copyOf(idsShape, idsShape.length + 1);
                outShape[idsShape.length] = dim;
                float[] table = uniform(rng, vocab * dim);
                int[] ids = new int[(int) numel(idsShape)];
                for (int i = 0; i < ids.length; i++) ids[i] = rng.nextInt((int) vocab);
                ids[0] = 0;                                    // both ends of the table
                ids[ids.length - 1] = (int) vocab - 1;
                check(bc, backend, ref, "gather", "V,D=" + vocab + "," + dim + " ids " + Arrays.toString(idsShape), (be, s) -> {
                    Tensor out = zeros(be, s, outShape);
                    be.gather(upload(be, s, table, vocab, dim), uploadInts(be, s, ids, idsShape), out);
                    return out;
                });
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource(BACKENDS)
    void eosPool(BackendCase bc) {
        long[][] cases = {{1, 1, 1}, {2, 7, 5}, {4, 77, 512}, {3, 16, 33}};  // B, L, D
        int eos = 49407, addedToken = 49500;  // an added token above EOS makes argmax and first-EOS disagree
        Random rng = new Random(28);
        try (Backend backend = bc.open(); Backend ref = new ReferenceBackend()) {
            for (long[] cs : cases) {
                long b = cs[0], len = cs[1], d = cs[2];
                float[] hidden = uniform(rng, b * len * d);
                int[] ids = new int[(int) (b * len)];
                for (int row = 0; row < b; row++) {
                    int base = (int) (row * len);
                    for (int t = 0; t < len; t++) ids[base + t] = 1 + rng.nextInt(49000);
                    int eosAt = rng.nextInt((int) len);
                    ids[base + eosAt] = eos;
                    if (eosAt + 1 < len) ids[base + (int) len - 1] = row % 2 == 0 ? eos : addedToken;  // a tie or an added token
                }
                for (OptionalInt eosId : new OptionalInt[] {OptionalInt.empty(), OptionalInt.of(eos)}) {
                    try (TensorScope rs = new TensorScope(); TensorScope os = new TensorScope()) {
                        Tensor refOut = zeros(ref, rs, b, d), ourOut = zeros(backend, os, b, d);
                        long[] refPos = ref.eosPool(upload(ref, rs, hidden, b, len, d), uploadInts(ref, rs, ids, b, len), eosId, refOut);
                        long[] ourPos = backend.eosPool(upload(backend, os, hidden, b, len, d),
                                uploadInts(backend, os, ids, b, len), eosId, ourOut);
                        String what = bc.name() + " eosPool " + Arrays.toString(cs) + " eos=" + eosId;
                        assertArrayEquals(refPos, ourPos, what + ": positions");
                        assertArrayEquals(ConformanceSupport.download(refOut), ConformanceSupport.download(ourOut), what + ": rows");
                        ConformanceSupport.record(bc.name(), "eosPool", 0);
                    }
                }
            }
        }
    }

    /** Specials first (exact F16/BF16 ties, overflow edges, subnormals, NaN, Inf), then mixed magnitudes and raw bit patterns. */
    static int[] conversionInputs(Random rng, int n) {
        float[] specials = {0f, -0f, 1f, -1f, 65504f, 65519.996f, 65520f, 0x1p-24f, 0x1p-25f, 3 * 0x1p-25f, 0x1p-14f,
            1023 * 0x1p-24f, 1 + 0x1p-11f, 1 + 3 * 0x1p-11f, 1 + 0x1p-8f, 1 + 3 * 0x1p-8f, Float.MAX_VALUE, Float.MIN_VALUE,
            Float.MIN_NORMAL, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, Float.NaN};
        int[] bits = new int[n];
        for (int i = 0; i < n; i++) {
            if (i < specials.length) {
                bits[i] = Float.floatToRawIntBits(specials[i]);
            } else if (i % 3 == 0) {
                bits[i] = rng.nextInt();  // anything: NaN payloads, subnormals, huge values
            } else {
                bits[i] = Float.floatToRawIntBits((float) (rng.nextGaussian() * Math.scalb(1.0, rng.nextInt(56) - 30)));
            }
        }
        return bits;
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource(BACKENDS)
    void convert(BackendCase bc) {
        Random rng = new Random(29);
        try (Backend backend = bc.open(); Backend ref = new ReferenceBackend()) {
            for (int n : LENGTHS) {
                int[] bits = conversionInputs(rng, n);
                for (DType half : new DType[] {DType.F16, DType.BF16}) {
                    DType other = half == DType.F16 ? DType.BF16 : DType.F16;
                    // F32 -> half -> F32, and half -> the other half type; every stage must match bit for bit.
                    byte[][] expected = convertChain(ref, bits, half, other), actual = convertChain(backend, bits, half, other);
                    String[] stages = {"F32->" + half, half + "->F32", half + "->" + other};
                    for (int st = 0; st < stages.length; st++) {
                        assertArrayEquals(expected[st], actual[st], bc.name() + " convert " + stages[st] + " n=" + n);
                    }
                    ConformanceSupport.record(bc.name(), "convert (bit-exact)", 0);
                }
            }
        }
    }

    private static byte[][] convertChain(Backend be, int[] f32Bits, DType half, DType other) {
        int n = f32Bits.length;
        ByteBuffer src = ByteBuffer.allocate(4 * n).order(ByteOrder.LITTLE_ENDIAN);
        for (int b : f32Bits) src.putInt(b);
        src.flip();
        try (TensorScope s = new TensorScope()) {
            Tensor f32 = s.track(be.allocate(DType.F32, n)), h = s.track(be.allocate(half, n));
            Tensor back = s.track(be.allocate(DType.F32, n)), o = s.track(be.allocate(other, n));
            f32.copyFrom(src);
            be.convert(f32, h);
            be.convert(h, back);
            be.convert(h, o);
            return new byte[][] {bytes(h), bytes(back), bytes(o)};
        }
    }

    private static byte[] bytes(Tensor t) {
        byte[] b = new byte[(int) t.byteSize()];
        t.asByteBuffer().get(b);
        return b;
    }
}
