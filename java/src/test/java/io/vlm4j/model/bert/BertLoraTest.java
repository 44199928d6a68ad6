package io.vlm4j.model.bert;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vlm4j.backend.Backend;
import io.vlm4j.lora.LoraConfig;
import io.vlm4j.lora.LoraState;
import io.vlm4j.lora.LoraWeights;
import io.vlm4j.model.bert.BertTextTower.Pooling;
import io.vlm4j.model.bert.BertTextTower.Projection;
import io.vlm4j.model.bert.BertTextTowerTest.Case;
import io.vlm4j.tensor.DType;
import io.vlm4j.tensor.Tensor;
import io.vlm4j.train.Parameter;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.SplittableRandom;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * LoRA on the BERT text tower at odd shapes (hidden 48, 3 heads of 16, intermediate 80, 2 layers, sequence 11 with
 * different padding per row), adapters on every Linear (q/k/v with unequal ranks in one site, the two output denses,
 * intermediate, the pooler's dense, the projection's Linears), non-zero B: the unmerged forward against the float64
 * {@link BertReference} with the adapters added to its weights in float64; the adapters' gradients of a loss through
 * the whole tower (normalized embeddings, fixed read-out) against float64 central finite differences of that reference,
 * with and without activation checkpointing (bit-identical), on every backend; merge and unmerge round trips.
 */
class BertLoraTest {
    static final BertConfig CONFIG = new BertConfig(50, 48, 2, 3, 80, 16, 2, 1e-12, "gelu", 0);
    static final String PREFIX = BertTextTowerTest.PREFIX, PROJ = BertTextTowerTest.PROJ;
    static final int E = 20, LEN = 11;
    static final int[] KEPT = {11, 4, 7};

    /** Every Linear, r 2 (value 3), α 4 (the projection's second Linear 6); A Kaiming-uniform, B N(0, 0.2²). */
    static LoraWeights adapter(List<LoraWeights.Linear> linears) {
        LoraConfig cfg = new LoraConfig(2, 4, false, 0, List.of("query", "key", "value", "dense", "proj", "proj.0", "proj.2"), null, List.of(),
                null, Set.of(), Map.of("value", 3), Map.of("proj.2", 6.0), "", null);
        LoraWeights w = LoraWeights.init(cfg, linears, 7);
        SplittableRandom r = new SplittableRandom(9);
        for (LoraWeights.Module m : w.modules()) {
            float[] b = new float[(int) m.b().numel()];
            for (int i = 0; i < b.length; i++) b[i] = (float) (r.nextGaussian() * 0.2);
            m.b().copyFrom(b);
        }
        return w;
    }

    /** Host float64 copies of every module's A and B (what the finite differences perturb). */
    record Host(LoraWeights.Module m, double[] a, double[] b) {
        double[] delta() {  // s·B·A [out, in]
            int out = (int) m.out(), in = (int) m.in(), r = m.rank();
            double[] d = new double[out * in];
            for (int o = 0; o < out; o++) {
                for (int k = 0; k < r; k++) {
                    double bk = m.scale() * b[o * r + k];
                    for (int i = 0; i < in; i++) d[o * in + i] += bk * a[k * in + i];
                }
            }
            return d;
        }
    }

    static Map<String, Host> host(LoraWeights w) {
        Map<String, Host> map = new LinkedHashMap<>();
        for (LoraWeights.Module m : w.modules()) map.put(m.path(), new Host(m, toDouble(m.a().toFloatArray()), toDouble(m.b().toFloatArray())));
        return map;
    }

    static double[] toDouble(float[] f) {
        double[] d = new double[f.length];
        for (int i = 0; i < f.length; i++) d[i] = f[i];
        return d;
    }

    /** The fixed read-out g of the loss Σ g·normalize(out). */
    static double g(int i) { return Math.sin(0.7 * i + 0.3); }

    /** The loss through the float64 reference with the adapters added to its weights. */
    static double referenceLoss(BertWeights.InMemory w, Map<String, Host> lora, int[][] ids, Pooling p, Projection q, int e) throws Exception {
        Map<String, double[]> deltas = new HashMap<>();
        for (Host h : lora.values()) deltas.put(h.m().path() + ".weight", h.delta());
        double[][] out = new BertReference(CONFIG, w, PREFIX, PROJ, deltas).forward(ids, BertTextTowerTest.mask(KEPT, LEN), p, q, e);
        double loss = 0;
        for (int r = 0; r < out.length; r++) {
            double n = 0;
            for (double v : out[r]) n += v * v;
            n = Math.sqrt(n);
            for (int j = 0; j < e; j++) loss += g(r * e + j) * out[r][j] / n;
        }
        return loss;
    }

    /**
     * The analytic gradients (by PEFT key): a training forward (ids and mask closed right after it: the tape must own
     * what it keeps), the loss's gradient on the host, the backward.
     */
    static Map<String, float[]> gradients(Backend backend, BertTextTower tower, LoraState state, int[][] ids, boolean checkpoint) {
        for (Parameter p : state.parameters()) p.grad().copyFrom(new float[(int) p.grad().numel()]);
        int b = ids.length, e = tower.projectionDim();
        BertTextTower.Tape tape;
        float[] out;
        try (Tensor idt = Tensor.ofInts(BertTextTowerTest.flat(ids), b, LEN);
             Tensor mask = Tensor.ofInts(BertTextTowerTest.flat(BertTextTowerTest.mask(KEPT, LEN)), b, LEN);
             Tensor o = Tensor.allocate(DType.F32, b, e)) {
            tape = tower.forwardTrain(idt, mask, o, checkpoint);
            out = o.toFloatArray();
        }
        float[] dOut = new float[b * e];  // d/d out of Σ g·out/‖out‖ = (g − ⟨g, u⟩u)/‖out‖
        for (int r = 0; r < b; r++) {
            double n = 0, gu = 0;
            for (int j = 0; j < e; j++) n += (double) out[r * e + j] * out[r * e + j];
            n = Math.sqrt(n);
            for (int j = 0; j < e; j++) gu += g(r * e + j) * out[r * e + j] / n;
            for (int j = 0; j < e; j++) dOut[r * e + j] = (float) ((g(r * e + j) - gu * out[r * e + j] / n) / n);
        }
        try (tape; Tensor d = backend.adopt(Tensor.of(dOut, b, e))) {
            tower.backward(tape, d);
        }
        Map<String, float[]> grads = new LinkedHashMap<>();
        for (Parameter p : state.parameters()) grads.put(p.name(), p.grad().toFloatArray());
        return grads;
    }

    static float[] forward(BertTextTower tower, int[][] ids) {
        return BertTextTowerTest.run(tower, ids, null);
    }

    static void merge(BertTextTower tower, Backend backend, LoraWeights w, int sign) {
        try (LoraState s = new LoraState(backend, w)) {
            tower.attachAdapters(s);
            tower.mergeAdapters(sign);
            tower.detachAdapters();
        }
    }

    @ParameterizedTest(name = "{0}")
    @EnumSource(Pooling.class)
    void gradientsMatchFloat64FiniteDifferences(Pooling pooling) throws Exception {
        // each pooling with another projection, so that the three cases cover every pooling and every projection
        Projection projection = switch (pooling) {
            case CLS_LAST_HIDDEN_STATE -> Projection.MLP;  // BiomedCLIP
            case MEAN -> Projection.LINEAR;
            case CLS_POOLER -> Projection.NONE;
        };
        int e = projection == Projection.NONE ? CONFIG.hidden() : E;
        BertWeights.InMemory w = BertWeights.random(CONFIG, PREFIX, pooling == Pooling.CLS_POOLER, projection, PROJ, e, 21);
        int[][] ids = BertTextTowerTest.ids(new Random(4), CONFIG, KEPT, LEN, false);
        List<LoraWeights.Linear> linears;
        try (Backend cpu = new io.vlm4j.backend.cpu.CpuBackend(); BertTextTower t = BertTextTowerTest.tower(cpu, CONFIG, w, pooling, projection, e)) {
            linears = t.linears();
        }
        int expected = CONFIG.layers() * 6 + (pooling == Pooling.CLS_POOLER ? 1 : 0) + switch (projection) {
            case NONE -> 0;
            case LINEAR -> 1;
            case MLP -> 2;
        };
        assertEquals(expected, linears.size(), linears.toString());
        assertTrue(linears.stream().anyMatch(l -> l.path().equals("text.transformer.encoder.layer.1.attention.self.value")
                && l.in() == 48 && l.out() == 48), linears.toString());
        try (LoraWeights lw = adapter(linears)) {
            assertEquals(linears.size(), lw.size(), "every Linear wrapped");
            Map<String, Host> lora = host(lw);
            // float64 central differences at a few coordinates of every module's A and B, and some more at random
            double step = 1e-3;
            SplittableRandom r = new SplittableRandom(3);
            List<Object[]> coords = new ArrayList<>();  // {key, host array, index}
            for (Host h : lora.values()) {
                for (int k = 0; k < 2; k++) {
                    coords.add(new Object[] {LoraWeights.key(h.m().path(), true), h.a(), r.nextInt(h.a().length)});
                    coords.add(new Object[] {LoraWeights.key(h.m().path(), false), h.b(), r.nextInt(h.b().length)});
                }
            }
            double[] fd = new double[coords.size()];
            for (int c = 0; c < coords.size(); c++) {
                double[] v = (double[]) coords.get(c)[1];
                int i = (int) coords.get(c)[2];
                double x0 = v[i];
                v[i] = x0 + step;
                double lp = referenceLoss(w, lora, ids, pooling, projection, e);
                v[i] = x0 - step;
                double lm = referenceLoss(w, lora, ids, pooling, projection, e);
                v[i] = x0;
                fd[c] = (lp - lm) / (2 * step);
            }
            for (Case bc : BertTextTowerTest.backends().filter(b -> !b.name().equals("cpu-bf16")).toList()) {
                if (bc.unavailable() != null) {
                    System.out.printf("[bert lora] %s skipped: %s%n", bc.name(), bc.unavailable());
                    continue;
                }
                try (Backend backend = bc.backend(); BertTextTower tower = BertTextTowerTest.tower(backend, CONFIG, w, pooling, projection, e);
                     LoraState state = new LoraState(backend, lw)) {
                    float[] base = forward(tower, ids);
                    tower.attachAdapters(state);
                    // the unmerged forward vs the float64 reference with the adapters in its weights
                    Map<String, double[]> deltas = new HashMap<>();
                    for (Host h : lora.values()) deltas.put(h.m().path() + ".weight", h.delta());
                    double[][] want = new BertReference(CONFIG, w, PREFIX, PROJ, deltas).forward(ids, BertTextTowerTest.mask(KEPT, LEN), pooling,
                            projection, e);
                    float[] unmerged = forward(tower, ids);
                    double err = BertTextTowerTest.relativeError(bc.name() + " lora unmerged " + pooling + " " + projection, want, unmerged);
                    assertTrue(err <= 1e-5, bc.name() + ": unmerged forward vs float64 reference " + err);
                    Map<String, float[]> g = gradients(backend, tower, state, ids, false);
                    Map<String, float[]> gc = gradients(backend, tower, state, ids, true);
                    for (String k : g.keySet()) assertArrayEquals(g.get(k), gc.get(k), bc.name() + " " + k + ": checkpointed gradients differ");
                    double gmax = 0, worst = 0;
                    for (float[] v : g.values()) for (float x : v) gmax = Math.max(gmax, Math.abs(x));
                    for (int c = 0; c < coords.size(); c++) {
                        double an = g.get((String) coords.get(c)[0])[(int) coords.get(c)[2]];
                        worst = Math.max(worst, Math.abs(an - fd[c]) / gmax);
                        assertTrue(Math.abs(an - fd[c]) <= 1e-3 * gmax, bc.name() + " " + coords.get(c)[0] + "[" + coords.get(c)[2] + "]: analytic "
                                + an + " vs finite difference " + fd[c] + " (max |grad| " + gmax + ")");
                    }
                    tower.detachAdapters();
                    state.sitesClosed();
                    // merged = unmerged; unmerged again = base
                    merge(tower, backend, lw, +1);
                    double dm = BertTextTowerTest.relativeError(bc.name() + " lora merged vs unmerged", BertTextTowerTest.toDouble(unmerged, e),
                            forward(tower, ids));
                    merge(tower, backend, lw, -1);
                    double db = BertTextTowerTest.relativeError(bc.name() + " lora merge + unmerge vs base", BertTextTowerTest.toDouble(base, e),
                            forward(tower, ids));
                    assertTrue(dm <= 1e-5 && db <= 1e-5, bc.name() + ": merged vs unmerged " + dm + ", unmerged back vs base " + db);
                    System.out.printf("[bert lora] %-9s %-21s %-6s unmerged vs float64 %.1e, merged vs unmerged %.1e, unmerged back vs base %.1e;"
                            + " %d gradient coordinates: worst |grad − float64 FD| / max|grad| %.1e, checkpointed identical%n",
                            bc.name(), pooling, projection, err, dm, db, coords.size(), worst);
                }
            }
        }
    }
}
