package io.vlm4j.model.bert;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.vlm4j.backend.Backend;
import io.vlm4j.backend.cpu.CpuBackend;
import io.vlm4j.backend.cuda.CudaBackend;
import io.vlm4j.backend.cuda.CudaStatus;
import io.vlm4j.backend.reference.ReferenceBackend;
import io.vlm4j.model.bert.BertTextTower.Pooling;
import io.vlm4j.model.bert.BertTextTower.Projection;
import io.vlm4j.tensor.Tensor;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.function.Supplier;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * {@link BertTextTower} against {@link BertReference} (float64, spec 04 §4) on seeded random weights at odd shapes
 * (hidden 24, 3 heads of 8, intermediate 40, 2 layers, vocab 50), sequence lengths 1, 7 and 13 with different padding
 * per row, every pooling and projection, on every backend. Error measure: max|ours − ref| / max|ref| per output.
 */
class BertTextTowerTest {
    static final BertConfig CONFIG = new BertConfig(50, 24, 2, 3, 40, 16, 2, 1e-12, "gelu", 0);
    static final String PREFIX = "text.transformer.", PROJ = "text.proj.";
    static final int E = 10;  // MLP hidden (24 + 10) / 2 = 17
    /** Kept tokens per row (B = 4) for each sequence length; the rest is padding. */
    static final Map<Integer, int[]> LENGTHS = Map.of(1, new int[] {1, 1, 1, 1}, 7, new int[] {7, 3, 1, 5},
            13, new int[] {13, 1, 9, 4});

    /** A backend under test with its tolerance; unavailable ones are reported as skipped. */
    record Case(String name, Supplier<Backend> open, String unavailable, double tolerance) {
        Backend backend() {
            assumeTrue(unavailable == null, () -> name + " unavailable: " + unavailable);
            return open.get();
        }

        @Override
        public String toString() { return name; }
    }

    static Stream<Case> backends() {
        return Stream.of(
                new Case("reference", ReferenceBackend::new, null, 1e-5),
                new Case("cpu", CpuBackend::new, null, 1e-5),
                // BF16 matmul weights, F32 activations: the weights' rounding (2^-9 relative) dominates
                new Case("cpu-bf16", () -> CpuBackend.withBf16Weights(0),
                        CpuBackend.bf16Available() ? null : "no AVX512_BF16", 3e-2),
                new Case("cuda", CudaBackend::new, CudaStatus.unavailableReason().orElse(null), 1e-5));
    }

    static Stream<Arguments> everyCase() {
        List<Arguments> list = new ArrayList<>();
        backends().forEach(b -> {
            for (Pooling p : Pooling.values()) for (Projection q : Projection.values()) list.add(Arguments.of(b, p, q));
        });
        return list.stream();
    }

    /** Worst error per case across the BERT test classes (printed so the margin under the tolerance is on record). */
    static final Map<String, Double> WORST = new TreeMap<>();

    @AfterAll
    static void printWorst() {
        WORST.forEach((k, v) -> System.out.printf("[bert tower] %-48s max error %.2e (relative to max|ref|)%n", k, v));
    }

    /** max|got − ref| / max|ref|, recorded under {@code key}. */
    static double relativeError(String key, double[][] ref, float[] got) {
        double num = 0, den = 0;
        int e = ref[0].length;
        for (int r = 0; r < ref.length; r++) {
            for (int j = 0; j < e; j++) {
                num = Math.max(num, Math.abs(got[r * e + j] - ref[r][j]));
                den = Math.max(den, Math.abs(ref[r][j]));
            }
        }
        double err = num / den;
        WORST.merge(key, err, Math::max);
        return err;
    }

    /** ids [B, L]: random non-pad ids on the kept prefix of each row, pad (or junk when given) after it. */
    static int[][] ids(Random rng, BertConfig c, int[] kept, int len, boolean junkPadding) {
        int[][] ids = new int[kept.length][len];
        for (int r = 0; r < kept.length; r++) {
            for (int j = 0; j < len; j++) {
                boolean pad = j >= kept[r];
                ids[r][j] = pad && !junkPadding ? c.padTokenId() : randomNonPad(rng, c);
            }
        }
        return ids;
    }

    static int randomNonPad(Random rng, BertConfig c) {
        int id;
        do id = rng.nextInt(c.vocab()); while (id == c.padTokenId());
        return id;
    }

    static int[][] mask(int[] kept, int len) {
        int[][] m = new int[kept.length][len];
        for (int r = 0; r < kept.length; r++) for (int j = 0; j < kept[r]; j++) m[r][j] = 1;
        return m;
    }

    static int[] flat(int[][] a) {
        int[] out = new int[a.length * a[0].length];
        for (int r = 0; r < a.length; r++) System.arraycopy(a[r], 0, out, r * a[0].length, a[0].length);
        return out;
    }

    static float[] run(BertTextTower tower, int[][] ids, int[][] mask) {
        int b = ids.length, len = ids[0].length;
        try (Tensor idt = Tensor.ofInts(flat(ids), b, len);
             Tensor mt = mask == null ? null : Tensor.ofInts(flat(mask), b, len);
             Tensor out = Tensor.allocate(io.vlm4j.tensor.DType.F32, b, tower.projectionDim())) {
            tower.forward(idt, mt, out);
            return out.toFloatArray();
        }
    }

    static BertTextTower tower(Backend backend, BertConfig c, BertWeights.InMemory w, Pooling p, Projection q, int e)
            throws IOException {
        return new BertTextTower(backend, c, w, PREFIX, p, q, e, PROJ);
    }

    @ParameterizedTest(name = "{0} {1} {2}")
    @MethodSource("everyCase")
    void matchesFloat64Reference(Case bc, Pooling pooling, Projection projection) throws IOException {
        int e = projection == Projection.NONE ? CONFIG.hidden() : E;
        // the pooler only where it is used: the tower must not ask for it otherwise
        BertWeights.InMemory w = BertWeights.random(CONFIG, PREFIX, pooling == Pooling.CLS_POOLER, projection, PROJ, e, 11);
        BertReference ref = new BertReference(CONFIG, w, PREFIX, PROJ);
        Random rng = new Random(5);
        try (Backend backend = bc.backend(); BertTextTower tower = tower(backend, CONFIG, w, pooling, projection, e)) {
            assertEquals(e, tower.projectionDim());
            for (int len : new int[] {1, 7, 13}) {
                int[] kept = LENGTHS.get(len);
                int[][] ids = ids(rng, CONFIG, kept, len, false);
                double[][] expected = ref.forward(ids, mask(kept, len), pooling, projection, e);
                double err = relativeError(bc.name() + " " + pooling + " " + projection, expected, run(tower, ids, null));
                assertTrue(err <= bc.tolerance(), bc + " " + pooling + " " + projection + " L=" + len
                        + ": relative error " + err + " > " + bc.tolerance());
            }
        }
    }

    /**
     * An explicit mask with junk ids under the padding, a non-zero pad id and the tanh GELU: the padded positions'
     * contents must not matter, and the result equals the one from pad-filled ids without a mask.
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void explicitMaskIgnoresWhatIsUnderThePadding(Case bc) throws IOException {
        BertConfig c = new BertConfig(37, 24, 2, 3, 40, 16, 2, 1e-12, "gelu_new", 1);
        BertWeights.InMemory w = BertWeights.random(c, PREFIX, true, Projection.MLP, PROJ, E, 12);
        BertReference ref = new BertReference(c, w, PREFIX, PROJ);
        int[] kept = LENGTHS.get(13);
        int[][] junk = ids(new Random(6), c, kept, 13, true), padded = new int[kept.length][];
        for (int r = 0; r < kept.length; r++) {
            padded[r] = junk[r].clone();
            for (int j = kept[r]; j < 13; j++) padded[r][j] = c.padTokenId();
        }
        try (Backend backend = bc.backend()) {
            for (Pooling p : Pooling.values()) {
                try (BertTextTower tower = tower(backend, c, w, p, Projection.MLP, E)) {
                    double[][] expected = ref.forward(junk, mask(kept, 13), p, Projection.MLP, E);
                    float[] withMask = run(tower, junk, mask(kept, 13));
                    double err = relativeError(bc.name() + " explicit mask " + p, expected, withMask);
                    assertTrue(err <= bc.tolerance(), bc + " " + p + ": relative error " + err);
                    float[] fromIds = run(tower, padded, null);
                    double diff = relativeError(bc.name() + " explicit mask vs ids " + p, toDouble(withMask, E), fromIds);
                    assertTrue(diff <= 1e-6, bc + " " + p + ": explicit mask vs pad ids differ by " + diff);
                }
            }
        }
    }

    static double[][] toDouble(float[] v, int e) {
        double[][] out = new double[v.length / e][e];
        for (int i = 0; i < v.length; i++) out[i / e][i % e] = v[i];
        return out;
    }

    @Test
    void rejectsBadInputsWithClearMessages() throws IOException {
        BertWeights.InMemory w = BertWeights.random(CONFIG, PREFIX, false, Projection.LINEAR, PROJ, E, 13);
        try (Backend backend = new CpuBackend();
             BertTextTower tower = tower(backend, CONFIG, w, Pooling.MEAN, Projection.LINEAR, E)) {
            String m = assertThrows(IllegalArgumentException.class, () -> run(tower, new int[][] {{3, 4}, {0, 0}}, null)).getMessage();
            assertTrue(m.contains("row 1 has no token"), m);
            try (Tensor ids = Tensor.ofInts(new int[] {3, 4}, 1, 2); Tensor mask = Tensor.ofInts(new int[] {1, 0, 1, 1}, 2, 2);
                 Tensor out = Tensor.allocate(io.vlm4j.tensor.DType.F32, 1, E)) {
                m = assertThrows(IllegalArgumentException.class, () -> tower.forward(ids, mask, out)).getMessage();
                assertTrue(m.contains("attentionMask must have shape [1, 2]"), m);
            }
            m = assertThrows(IllegalArgumentException.class, () -> run(tower, new int[][] {{3, 4}}, new int[][] {{1, 2}})).getMessage();
            assertTrue(m.contains("attentionMask[0, 1] = 2"), m);
            m = assertThrows(IllegalArgumentException.class, () -> run(tower, new int[][] {{3, 50}}, null)).getMessage();
            assertTrue(m.contains("ids[0, 1] = 50"), m);
            m = assertThrows(IllegalArgumentException.class, () -> run(tower, new int[][] {new int[17]}, null)).getMessage();
            assertTrue(m.contains("sequence length 17"), m);
            try (Tensor ids = Tensor.ofInts(new int[] {3, 4}, 1, 2); Tensor out = Tensor.allocate(io.vlm4j.tensor.DType.F32, 1, 24)) {
                m = assertThrows(IllegalArgumentException.class, () -> tower.forward(ids, null, out)).getMessage();
                assertTrue(m.contains("out"), m);
            }
            try (Tensor ids = Tensor.ofInts(new int[0], 0, 5); Tensor out = Tensor.allocate(io.vlm4j.tensor.DType.F32, 0, E)) {
                tower.forward(ids, null, out);  // an empty batch is fine
            }
        }
        try (Backend backend = new CpuBackend()) {
            String m = assertThrows(IllegalArgumentException.class,
                    () -> tower(backend, CONFIG, w, Pooling.MEAN, Projection.NONE, E)).getMessage();
            assertTrue(m.contains("projectionDim == hidden_size 24"), m);
            m = assertThrows(IOException.class, () -> tower(backend, CONFIG, w, Pooling.CLS_POOLER, Projection.LINEAR, E)).getMessage();
            assertTrue(m.contains("text.transformer.pooler.dense.weight"), m);
            m = assertThrows(IOException.class, () -> tower(backend, CONFIG, w, Pooling.MEAN, Projection.MLP, E)).getMessage();
            assertTrue(m.contains("text.proj.0.weight"), m);
        }
    }

    @Test
    void openClipNamesMapToOptions() {
        assertEquals(Pooling.CLS_LAST_HIDDEN_STATE, Pooling.fromOpenClip("cls_last_hidden_state_pooler"));
        assertEquals(Pooling.CLS_POOLER, Pooling.fromOpenClip("cls_pooler"));
        assertEquals(Pooling.MEAN, Pooling.fromOpenClip("mean_pooler"));
        assertThrows(IllegalArgumentException.class, () -> Pooling.fromOpenClip("max_pooler"));
        assertEquals(Projection.MLP, Projection.fromOpenClip("mlp"));
        assertEquals(Projection.LINEAR, Projection.fromOpenClip("linear"));
        assertEquals(Projection.NONE, Projection.fromOpenClip(null));
    }

    @Test
    void macsCountEveryProduct() {
        long d = 24, f = 40, len = 7, e = E;
        long encoder = 2 * (len * (4 * d * d + 2 * d * f) + 2 * len * len * d);
        assertEquals(encoder + (d + e) / 2 * (d + e),
                BertTextTower.macsPerText(CONFIG, Pooling.CLS_LAST_HIDDEN_STATE, Projection.MLP, E, len));
        assertEquals(encoder + d * d + d * e, BertTextTower.macsPerText(CONFIG, Pooling.CLS_POOLER, Projection.LINEAR, E, len));
        assertEquals(encoder + len * d, BertTextTower.macsPerText(CONFIG, Pooling.MEAN, Projection.NONE, 24, len));
    }
}
