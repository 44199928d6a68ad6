package io.vlm4j.lora;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vlm4j.backend.Backend;
import io.vlm4j.backend.cpu.CpuBackend;
import io.vlm4j.backend.reference.ReferenceBackend;
import io.vlm4j.io.Npy;
import io.vlm4j.model.ImageTower;
import io.vlm4j.model.Tape;
import io.vlm4j.model.TextTower;
import io.vlm4j.model.clip.ClipModel;
import io.vlm4j.tensor.Tensor;
import io.vlm4j.tensor.TensorScope;
import io.vlm4j.train.Losses;
import io.vlm4j.train.Parameter;
import java.net.URISyntaxException;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * LoRA on both SigLIP towers, on the tiny SiglipModel of models/scripts/make_siglip_lora_fixtures.py (vision width 48,
 * 3 heads, 20 px / patch 5 = 16 tokens, MAP head; text width 36, 9 positions, head 36 → 48; 2 layers each) with an adapter
 * on every Linear the towers expose (28, random non-zero A and B): gradients of the sigmoid loss against float64 central
 * finite differences on the reference backend, with and without activation checkpointing; the CPU backend's gradients
 * against the reference backend's; merge and unmerge.
 */
class SiglipLoraGradientTest {
    static final Path DIR = resources();
    static final List<String> EVERY_LINEAR = List.of("q_proj", "k_proj", "v_proj", "out_proj", "fc1", "fc2", "head");

    static Path resources() {
        try {
            return Paths.get(SiglipLoraGradientTest.class.getResource("/siglip_lora").toURI());
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    static int[] arange(int n) {
        int[] a = new int[n];
        for (int i = 0; i < n; i++) a[i] = i;
        return a;
    }

    /** HF's sigmoid loss (every off-diagonal pair negative) of the model's embeddings. */
    static double loss(ClipModel m, Tensor px, Tensor ids) {
        try (Tensor img = m.encodeImages(px, true); Tensor txt = m.encodeTexts(ids, true)) {
            double[][] u = PeftFixtureTest.rows(img), v = PeftFixtureTest.rows(txt);
            return Losses.sigmoid(u, v, m.logitScale(), m.logitBias(), arange(u.length), new double[u.length][u[0].length],
                    new double[v.length][v[0].length])[0];
        }
    }

    /**
     * Every LoRA parameter's gradient of {@link #loss} (state order, flattened), through both towers' forwardTrain/backward;
     * returns {loss} in {@code lossOut[0]}.
     */
    static float[][] gradients(Backend backend, ClipModel m, LoraState state, Tensor px, Tensor ids, boolean checkpoint, double[] lossOut) {
        for (Parameter p : state.parameters()) p.grad().copyFrom(new float[(int) p.grad().numel()]);
        ImageTower v = m.vision().orElseThrow();
        TextTower t = m.text().orElseThrow();
        int b = (int) px.dim(0), e = v.projectionDim();
        try (TensorScope s = new TensorScope(backend.device())) {
            Tensor ie = s.f32(b, e), te = s.f32(b, e);
            try (Tape vt = v.forwardTrain(px, ie, checkpoint); Tape tt = t.forwardTrain(ids, null, te, checkpoint)) {
                Tensor u = s.f32(b, e), w = s.f32(b, e);
                backend.l2Normalize(ie, 1e-12f, u);
                backend.l2Normalize(te, 1e-12f, w);
                double[][] du = new double[b][e], dw = new double[b][e];
                lossOut[0] = Losses.sigmoid(PeftFixtureTest.rows(u), PeftFixtureTest.rows(w), m.logitScale(), m.logitBias(), arange(b), du, dw)[0];
                Tensor dIe = s.f32(b, e), dTe = s.f32(b, e);
                try (Tensor gu = PeftFixtureTest.tensor(du); Tensor gw = PeftFixtureTest.tensor(dw)) {
                    backend.l2NormalizeBackward(ie, 1e-12f, gu.device() == backend.device() ? gu : s.track(backend.onDevice(gu)), dIe);
                    backend.l2NormalizeBackward(te, 1e-12f, gw.device() == backend.device() ? gw : s.track(backend.onDevice(gw)), dTe);
                }
                v.backward(vt, dIe);
                t.backward(tt, dTe);
            }
        }
        List<Parameter> ps = state.parameters();
        float[][] g = new float[ps.size()][];
        for (int i = 0; i < ps.size(); i++) g[i] = ps.get(i).grad().toFloatArray();
        return g;
    }

    /** An adapter on every Linear of both towers (r 2, alpha 5), with random A and B. */
    static LoraWeights adapter(ClipModel m, long seed) {
        LoraWeights w = LoraWeights.init(LoraConfig.of(EVERY_LINEAR, 2, 5, false, 0), m.linears(), seed);
        SplittableRandom r = new SplittableRandom(seed + 1);
        for (LoraWeights.Module mod : w.modules()) {  // B = 0 would hide every A gradient
            float[] b = new float[(int) mod.b().numel()];
            for (int i = 0; i < b.length; i++) b[i] = (float) (r.nextGaussian() * 0.2);
            mod.b().copyFrom(b);
        }
        return w;
    }

    /** {image, text} embeddings, not normalized. */
    static float[][] embeds(ClipModel m, Tensor px, Tensor ids) {
        try (Tensor img = m.encodeImages(px, false); Tensor txt = m.encodeTexts(ids, false)) {
            return new float[][] {img.toFloatArray(), txt.toFloatArray()};
        }
    }

    static double maxAbs(float[][] g) {
        double m = 0;
        for (float[] gi : g) for (float x : gi) m = Math.max(m, Math.abs(x));
        return m;
    }

    static double maxDiff(float[][] a, float[][] b) {
        double m = 0;
        for (int i = 0; i < a.length; i++) for (int j = 0; j < a[i].length; j++) m = Math.max(m, Math.abs(a[i][j] - b[i][j]));
        return m;
    }

    @Test
    void everyAdapterIsExposedUnderPeftNames() throws Exception {
        try (ClipModel m = ClipModel.load(DIR.resolve("base"), new CpuBackend()); LoraWeights w = adapter(m, 1)) {
            List<String> names = m.linears().stream().map(LoraWeights.Linear::path).toList();
            assertEquals(28, names.size(), names.toString());
            for (String n : List.of("vision_model.encoder.layers.1.self_attn.k_proj", "vision_model.head.attention.out_proj",
                    "vision_model.head.mlp.fc1", "vision_model.head.mlp.fc2", "text_model.encoder.layers.0.mlp.fc2", "text_model.head")) {
                assertTrue(names.contains(n), n + " in " + names);
            }
            assertTrue(names.stream().noneMatch(n -> n.contains("in_proj")), "the MultiheadAttention in_proj is a parameter, not a Linear");
            assertEquals(28, w.size());
            assertTrue(m.vision().orElseThrow().trainable() && m.text().orElseThrow().trainable());
        }
    }

    @Test
    void loraGradientsMatchFiniteDifferences() throws Exception {
        try (Tensor px = Npy.readFloat32(DIR.resolve("pixel_values.npy")); Tensor ids = Npy.readInt32(DIR.resolve("input_ids.npy"));
             ReferenceBackend ref = new ReferenceBackend(); ClipModel m = ClipModel.load(DIR.resolve("base"), ref); LoraWeights w = adapter(m, 3)) {
            LoraState state = m.attachLora(w);
            double[] l = new double[1];
            float[][] g = gradients(ref, m, state, px, ids, false, l);
            float[][] gc = gradients(ref, m, state, px, ids, true, new double[1]);
            double gmax = maxAbs(g);
            System.out.printf("SigLIP LoRA gradients, activation checkpointing vs not (reference backend): max |diff| / max|grad| = %.2e%n",
                    maxDiff(g, gc) / gmax);
            assertTrue(maxDiff(g, gc) <= 1e-6 * gmax, "checkpointed gradients differ by " + maxDiff(g, gc));
            assertEquals(loss(m, px, ids), l[0], 1e-5 * Math.abs(l[0]), "the training forward's loss is the inference forward's");
            // one coordinate of every adapter matrix (all 56: each site of both towers, A and B), central differences
            List<Parameter> ps = state.parameters();
            SplittableRandom r = new SplittableRandom(5);
            double worst = 0;
            for (int pi = 0; pi < ps.size(); pi++) {
                Parameter p = ps.get(pi);
                int idx = r.nextInt((int) p.value().numel());
                float[] val = p.value().toFloatArray();
                float x0 = val[idx], h = 1e-2f;
                double[] lpm = new double[2];
                for (int k = 0; k < 2; k++) {
                    val[idx] = x0 + (k == 0 ? h : -h);
                    p.value().copyFrom(val);
                    state.refresh();
                    lpm[k] = loss(m, px, ids);
                }
                val[idx] = x0;
                p.value().copyFrom(val);
                state.refresh();
                double fd = (lpm[0] - lpm[1]) / (2 * h), err = Math.abs(fd - g[pi][idx]);
                worst = Math.max(worst, err / gmax);
                assertTrue(err <= 2e-3 * gmax + 1e-3 * Math.abs(fd), p.name() + "[" + idx + "]: analytic " + g[pi][idx] + " vs finite difference " + fd);
            }
            System.out.printf("SigLIP LoRA gradients vs finite differences (reference backend, %d matrices): worst |diff| / max|grad| = %.2e%n",
                    ps.size(), worst);
            // the CPU backend's gradients, with and without checkpointing, against the reference backend's
            try (CpuBackend cpu = new CpuBackend(); ClipModel mc = ClipModel.load(DIR.resolve("base"), cpu)) {
                LoraState sc = mc.attachLora(w);
                for (boolean checkpoint : new boolean[] {false, true}) {
                    double d = maxDiff(g, gradients(cpu, mc, sc, px, ids, checkpoint, new double[1]));
                    System.out.printf("SigLIP LoRA gradients, CPU (checkpoint %b) vs reference backend: max |diff| / max|grad| = %.2e%n",
                            checkpoint, d / gmax);
                    assertTrue(d <= 1e-4 * gmax, "CPU vs reference gradients: " + d + " vs max " + gmax);
                }
            }
        }
    }

    @Test
    void mergeAndUnmergeRoundTrip() throws Exception {
        try (Tensor px = Npy.readFloat32(DIR.resolve("pixel_values.npy")); Tensor ids = Npy.readInt32(DIR.resolve("input_ids.npy"));
             ClipModel m = ClipModel.load(DIR.resolve("base"), new CpuBackend()); LoraWeights w = adapter(m, 7)) {
            float[][] base = embeds(m, px, ids);
            m.attachLora(w);
            float[][] unmerged = embeds(m, px, ids);
            m.detachLora();
            m.mergeLora(w);
            float[][] merged = embeds(m, px, ids);
            m.unmergeLora(w);
            float[][] back = embeds(m, px, ids);
            for (int k = 0; k < 2; k++) {
                String tower = k == 0 ? "image" : "text";
                double change = 0;
                for (int i = 0; i < base[k].length; i++) change = Math.max(change, Math.abs(base[k][i] - unmerged[k][i]));
                assertTrue(change > 0.1, tower + ": the adapter changes the embeddings (" + change + ")");
                PeftFixtureTest.assertClose(unmerged[k], merged[k], 1e-5, "siglip merged vs unmerged " + tower);
                PeftFixtureTest.assertClose(base[k], back[k], 1e-5, "siglip unmerged back to base " + tower);
            }
        }
    }
}
