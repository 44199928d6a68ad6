package io.vlm4j.lora;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vlm4j.backend.Backend;
import io.vlm4j.backend.cpu.CpuBackend;
import io.vlm4j.backend.reference.ReferenceBackend;
import io.vlm4j.model.clip.ClipModel;
import io.vlm4j.model.clip.ClipTextTower;
import io.vlm4j.model.clip.ClipVisionTower;
import io.vlm4j.tensor.Tensor;
import io.vlm4j.tensor.TensorScope;
import io.vlm4j.testing.Golden;
import io.vlm4j.testing.LoraFiniteDifferences;
import io.vlm4j.train.Losses;
import io.vlm4j.train.Parameter;
import java.nio.file.Path;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * The whole model's LoRA gradients on the golden tiny CLIP (both towers, adapters on q, k, v, out_proj, fc1, fc2 and
 * both projections, random non-zero A and B) against central finite differences of the CLIP contrastive loss, computed
 * with the float64 reference backend; and the CPU backend's gradients against the reference backend's.
 */
class LoraGradientCheckTest {

    static double loss(ClipModel m, Tensor px, Tensor ids) {
        try (Tensor img = m.encodeImages(px, true); Tensor txt = m.encodeTexts(ids, true)) {
            double[][] u = PeftFixtureTest.rows(img), v = PeftFixtureTest.rows(txt);
            return Losses.clipContrastive(u, v, m.logitScale(), new double[u.length][u[0].length], new double[v.length][v[0].length])[0];
        }
    }

    /** Analytic gradients of every LoRA parameter (in the state's parameter order), flattened per parameter. */
    static float[][] gradients(Backend backend, ClipModel m, LoraState state, Tensor px, Tensor ids) {
        for (Parameter p : state.parameters()) p.grad().copyFrom(new float[(int) p.grad().numel()]);
        ClipVisionTower v = m.clipVision().orElseThrow();
        ClipTextTower t = m.clipText().orElseThrow();
        int b = (int) px.dim(0), e = v.projectionDim();
        try (TensorScope s = new TensorScope()) {
            Tensor ie = s.f32(b, e), te = s.f32(b, e);
            try (ClipVisionTower.Tape vt = v.forwardTrain(px, ie, false); ClipTextTower.Tape tt = t.forwardTrain(ids, null, te, true)) {
                Tensor u = s.f32(b, e), w = s.f32(b, e);
                backend.l2Normalize(ie, 1e-12f, u);
                backend.l2Normalize(te, 1e-12f, w);
                double[][] du = new double[b][e], dw = new double[b][e];
                Losses.clipContrastive(PeftFixtureTest.rows(u), PeftFixtureTest.rows(w), m.logitScale(), du, dw);
                Tensor dIe = s.f32(b, e), dTe = s.f32(b, e);
                try (Tensor gu = PeftFixtureTest.tensor(du); Tensor gw = PeftFixtureTest.tensor(dw)) {
                    backend.l2NormalizeBackward(ie, 1e-12f, gu, dIe);
                    backend.l2NormalizeBackward(te, 1e-12f, gw, dTe);
                }
                v.backward(vt, dIe);
                t.backward(tt, dTe);  // the text tape was made with activation checkpointing: recomputed layers
            }
        }
        List<Parameter> ps = state.parameters();
        float[][] g = new float[ps.size()][];
        for (int i = 0; i < ps.size(); i++) g[i] = ps.get(i).grad().toFloatArray();
        return g;
    }

    static LoraWeights adapter(ClipModel m) {
        LoraConfig cfg = LoraConfig.of(List.of("q_proj", "k_proj", "v_proj", "out_proj", "fc1", "fc2", "visual_projection", "text_projection"),
                3, 6, false, 0);
        LoraWeights w = LoraWeights.init(cfg, m.linears(), 4);
        SplittableRandom r = new SplittableRandom(8);
        for (LoraWeights.Module mod : w.modules()) {  // B = 0 would hide every A gradient
            float[] b = new float[(int) mod.b().numel()];
            for (int i = 0; i < b.length; i++) b[i] = (float) (r.nextGaussian() * 0.2);
            mod.b().copyFrom(b);
        }
        return w;
    }

    static Tensor[] inputs() {
        SplittableRandom r = new SplittableRandom(2);
        float[] px = new float[3 * 3 * 32 * 32];
        for (int i = 0; i < px.length; i++) px[i] = (float) r.nextGaussian();
        int[] ids = new int[3 * 9];
        int[] lens = {4, 7, 9};
        for (int i = 0; i < 3; i++) {
            ids[i * 9] = 49406;
            for (int j = 1; j < lens[i] - 1; j++) ids[i * 9 + j] = 1 + r.nextInt(49000);
            ids[i * 9 + lens[i] - 1] = 49407;
        }
        return new Tensor[] {Tensor.of(px, 3, 3, 32, 32), Tensor.ofInts(ids, 3, 9)};
    }

    @Test
    void loraGradientsMatchFiniteDifferences() throws Exception {
        Path tiny = Golden.dir().resolve("models/tiny");
        Tensor[] in = inputs();
        try (Tensor px = in[0]; Tensor ids = in[1]; ReferenceBackend ref = new ReferenceBackend(); ClipModel m = ClipModel.load(tiny, ref);
             LoraWeights w = adapter(m)) {
            LoraState state = m.attachLora(w);
            float[][] g = gradients(ref, m, state, px, ids);
            double worst = LoraFiniteDifferences.check(state, g, () -> loss(m, px, ids), 40, 5, 2e-3);
            System.out.printf("LoRA gradients vs finite differences (reference backend, 40 coordinates): worst |diff| / max|grad| = %.2e%n", worst);
            double gmax = 0;
            for (float[] gi : g) for (float x : gi) gmax = Math.max(gmax, Math.abs(x));
            // the CPU backend's gradients vs the reference backend's, every coordinate
            try (CpuBackend cpu = new CpuBackend(); ClipModel mc = ClipModel.load(tiny, cpu)) {
                LoraState sc = mc.attachLora(w);
                float[][] gc = gradients(cpu, mc, sc, px, ids);
                double max = 0;
                for (int i = 0; i < g.length; i++) {
                    for (int j = 0; j < g[i].length; j++) max = Math.max(max, Math.abs(g[i][j] - gc[i][j]));
                }
                System.out.printf("LoRA gradients, CPU vs reference backend: max |diff| / max|grad| = %.2e%n", max / gmax);
                assertTrue(max <= 1e-4 * gmax, "CPU vs reference gradients: " + max + " vs max " + gmax);
            }
        }
    }
}
