package io.vlm4j.lora;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vlm4j.backend.Backend;
import io.vlm4j.backend.cpu.CpuBackend;
import io.vlm4j.io.Npy;
import io.vlm4j.io.WeightStore;
import io.vlm4j.model.clip.ClipModel;
import io.vlm4j.model.clip.ClipTextTower;
import io.vlm4j.model.clip.ClipVisionTower;
import io.vlm4j.tensor.Tensor;
import io.vlm4j.tensor.TensorScope;
import io.vlm4j.train.AdamW;
import io.vlm4j.train.LinearHead;
import io.vlm4j.train.Losses;
import io.vlm4j.train.Parameter;
import java.net.URISyntaxException;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Conformance with PEFT 0.21 + transformers 5.17 on the fixtures of models/scripts/make_lora_fixtures.py (a tiny seeded
 * CLIPModel, two adapters): unmerged and merged outputs, save/load round trip, contrastive and classification gradients
 * under PEFT names, and a three-step clipped AdamW trajectory.
 */
class PeftFixtureTest {
    static final Path DIR = resources();
    static final double TOL = 1e-5;  // float32 models of width 32, relative to the largest |value| (measured <= 8.4e-7)

    static Path resources() {
        try {
            return Paths.get(PeftFixtureTest.class.getResource("/lora").toURI());
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    static float[] npy(String name) throws Exception {
        try (Tensor t = Npy.readFloat32(DIR.resolve(name))) {
            return t.toFloatArray();
        }
    }

    /** Worst max|diff|/max|ref| per kind of comparison (the first word of {@code what}), printed after the tests. */
    static final java.util.Map<String, Double> WORST = new java.util.concurrent.ConcurrentSkipListMap<>();

    static void assertClose(float[] expected, float[] actual, double tol, String what) {
        assertEquals(expected.length, actual.length, what + ": length");
        double max = 0, scale = 1e-12;
        for (int i = 0; i < expected.length; i++) {
            max = Math.max(max, Math.abs(expected[i] - actual[i]));
            scale = Math.max(scale, Math.abs(expected[i]));
        }
        assertTrue(max <= tol * scale, what + ": max |diff| " + max + " > " + tol + " * " + scale);
        WORST.merge(what.replaceAll(" base_model.*| [0-9]+ .*", ""), max / scale, Math::max);
    }

    @org.junit.jupiter.api.AfterAll
    static void report() {
        WORST.forEach((k, v) -> System.out.printf("PEFT fixture, worst max|diff|/max|ref|: %-40s %.2e%n", k, v));
    }

    static float[][] embeds(ClipModel m) throws Exception {
        try (Tensor px = Npy.readFloat32(DIR.resolve("pixel_values.npy")); Tensor ids = Npy.readInt32(DIR.resolve("input_ids.npy"));
             Tensor img = m.encodeImages(px, false); Tensor txt = m.encodeTexts(ids, false)) {
            return new float[][] {img.toFloatArray(), txt.toFloatArray()};
        }
    }

    @Test
    void unmergedMergedAndRoundTripMatchPeft(@TempDir Path tmp) throws Exception {
        try (ClipModel m = ClipModel.load(DIR.resolve("base"))) {
            float[][] base = embeds(m);
            assertClose(npy("base_image_embeds.npy"), base[0], TOL, "base image");
            assertClose(npy("base_text_embeds.npy"), base[1], TOL, "base text");
            try (LoraWeights a = LoraWeights.load(DIR.resolve("adapter_a"), m.linears())) {
                assertEquals(12, a.size());
                m.attachLora(a);
                float[][] un = embeds(m);
                assertClose(npy("adapter_a_image_embeds.npy"), un[0], TOL, "adapter_a image (unmerged)");
                assertClose(npy("adapter_a_text_embeds.npy"), un[1], TOL, "adapter_a text (unmerged)");
                // save what is attached, read it back: the same outputs
                try (LoraWeights exported = m.lora().orElseThrow().export()) {
                    exported.save(tmp.resolve("saved"));
                }
                m.detachLora();
                try (LoraWeights back = LoraWeights.load(tmp.resolve("saved"), m.linears())) {
                    m.attachLora(back);
                    float[][] again = embeds(m);
                    assertClose(un[0], again[0], 0, "round trip image");
                    assertClose(un[1], again[1], 0, "round trip text");
                    m.detachLora();
                }
                m.mergeLora(a);
                float[][] merged = embeds(m);
                assertClose(npy("adapter_a_merged_image_embeds.npy"), merged[0], TOL, "adapter_a image (merged)");
                assertClose(npy("adapter_a_merged_text_embeds.npy"), merged[1], TOL, "adapter_a text (merged)");
                assertClose(un[0], merged[0], 1e-5, "merged vs unmerged image");
                m.unmergeLora(a);
                float[][] back = embeds(m);
                assertClose(base[0], back[0], 1e-5, "unmerged back to base image");
                assertClose(base[1], back[1], 1e-5, "unmerged back to base text");
            }
            try (LoraWeights b = LoraWeights.load(DIR.resolve("adapter_b"), m.linears())) {
                assertEquals(6, b.size());
                assertEquals(4 / Math.sqrt(2), b.module("vision_model.encoder.layers.0.self_attn.k_proj").scale(), 1e-12);
                assertEquals(6 / Math.sqrt(2), b.module("vision_model.encoder.layers.1.self_attn.out_proj").scale(), 1e-12);
                assertEquals(4 / Math.sqrt(3), b.module("vision_model.encoder.layers.0.mlp.fc2").scale(), 1e-12);
                m.attachLora(b);
                float[][] e = embeds(m);
                assertClose(npy("adapter_b_image_embeds.npy"), e[0], TOL, "adapter_b image");
                assertClose(npy("adapter_b_text_embeds.npy"), e[1], TOL, "adapter_b text");
                m.detachLora();
            }
        }
    }

    /** Gradients of the named parameters vs the fixture file (PEFT key names). */
    static void assertGrads(List<Parameter> params, String file, double tol) throws Exception {
        try (WeightStore ref = WeightStore.open(DIR.resolve(file))) {
            int checked = 0;
            for (Parameter p : params) {
                String key = p.name();
                if (!ref.contains(key)) continue;
                try (Tensor g = ref.load(key)) {
                    assertClose(g.toFloatArray(), p.grad().toFloatArray(), tol, "grad " + key);
                    checked++;
                }
            }
            assertEquals(ref.names().size(), checked, "every gradient of " + file + " is compared");
        }
    }

    static double[][] rows(Tensor t) {
        float[][] f = t.toFloatRows();
        double[][] d = new double[f.length][];
        for (int i = 0; i < f.length; i++) {
            d[i] = new double[f[i].length];
            for (int j = 0; j < f[i].length; j++) d[i][j] = f[i][j];
        }
        return d;
    }

    static Tensor tensor(double[][] m) {
        float[] flat = new float[m.length * m[0].length];
        for (int i = 0; i < m.length; i++) for (int j = 0; j < m[i].length; j++) flat[i * m[0].length + j] = (float) m[i][j];
        return Tensor.of(flat, m.length, m[0].length);
    }

    @Test
    void contrastiveGradientsMatchPytorch() throws Exception {
        Backend cpu = new CpuBackend();
        try (ClipModel m = ClipModel.load(DIR.resolve("base"), cpu); LoraWeights a = LoraWeights.load(DIR.resolve("adapter_a"), m.linears());
             TensorScope s = new TensorScope(); Tensor px = Npy.readFloat32(DIR.resolve("pixel_values.npy"));
             Tensor ids = Npy.readInt32(DIR.resolve("input_ids.npy"))) {
            LoraState state = m.attachLora(a);
            for (Parameter p : state.parameters()) p.grad().copyFrom(new float[(int) p.grad().numel()]);
            ClipVisionTower v = m.clipVision().orElseThrow();
            ClipTextTower t = m.clipText().orElseThrow();
            Tensor ie = s.f32(3, 24), te = s.f32(3, 24);
            try (ClipVisionTower.Tape vt = v.forwardTrain(px, ie, false); ClipTextTower.Tape tt = t.forwardTrain(ids, null, te, false)) {
                Tensor u = s.f32(3, 24), w = s.f32(3, 24);
                cpu.l2Normalize(ie, 1e-12f, u);
                cpu.l2Normalize(te, 1e-12f, w);
                double[][] du = new double[3][24], dw = new double[3][24];
                double[] r = Losses.clipContrastive(rows(u), rows(w), m.logitScale(), du, dw);
                assertEquals(npy("loss_contrastive.npy")[0], r[0], 2e-5, "loss");
                try (WeightStore ref = WeightStore.open(DIR.resolve("grads_contrastive.safetensors"));
                     Tensor gls = ref.load("logit_scale")) {
                    assertEquals(gls.toFloatArray()[0], r[1], 2e-5, "d loss / d logit_scale");
                }
                Tensor dIe = s.f32(3, 24), dTe = s.f32(3, 24);
                try (Tensor gu = tensor(du); Tensor gw = tensor(dw)) {
                    cpu.l2NormalizeBackward(ie, 1e-12f, gu, dIe);
                    cpu.l2NormalizeBackward(te, 1e-12f, gw, dTe);
                }
                v.backward(vt, dIe);
                t.backward(tt, dTe);
            }
            List<Parameter> params = new ArrayList<>(state.parameters());
            params.add(new Parameter("logit_scale", s.f32(1), s.f32(1), false));  // compared above
            try (WeightStore ref = WeightStore.open(DIR.resolve("grads_contrastive.safetensors"))) {
                for (Parameter p : state.parameters()) {
                    try (Tensor g = ref.load(p.name())) {
                        assertClose(g.toFloatArray(), p.grad().toFloatArray(), 1e-4, "grad " + p.name());
                    }
                }
                assertEquals(ref.names().size(), state.parameters().size() + 1);
            }
        }
    }

    /** The classification objective's loss and gradients for the current head/adapter; returns the loss. */
    static double classificationStep(Backend cpu, ClipModel m, LinearHead head, Tensor px, int[] labels) {
        ClipVisionTower v = m.clipVision().orElseThrow();
        try (TensorScope s = new TensorScope()) {
            Tensor ie = s.f32(3, 24);
            try (ClipVisionTower.Tape vt = v.forwardTrain(px, ie, false)) {
                Tensor u = s.f32(3, 24);
                cpu.l2Normalize(ie, 1e-12f, u);
                double[][] uh = rows(u), z = head.logits(uh), dz = new double[3][5];
                double loss = Losses.crossEntropy(z, labels, 0, dz);
                double[][] du = head.backward(uh, dz);
                Tensor dIe = s.f32(3, 24);
                try (Tensor gu = tensor(du)) {
                    cpu.l2NormalizeBackward(ie, 1e-12f, gu, dIe);
                }
                v.backward(vt, dIe);
                return loss;
            }
        }
    }

    static List<Parameter> visionParams(LoraState state, LinearHead head) {
        List<Parameter> params = new ArrayList<>();
        for (Parameter p : state.parameters()) if (p.name().startsWith("base_model.model.vision_model.")) params.add(p);
        params.addAll(head.parameters());
        return params;
    }

    @Test
    void classificationGradientsAndAdamwTrajectoryMatchPytorch() throws Exception {
        Backend cpu = new CpuBackend();
        try (ClipModel m = ClipModel.load(DIR.resolve("base"), cpu); LoraWeights a = LoraWeights.load(DIR.resolve("adapter_a"), m.linears());
             LinearHead head = LinearHead.load(cpu, DIR); Tensor px = Npy.readFloat32(DIR.resolve("pixel_values.npy"));
             Tensor lab = Npy.readInt32(DIR.resolve("labels.npy"))) {
            int[] labels = lab.toIntArray();
            LoraState state = m.attachLora(a);
            List<Parameter> params = visionParams(state, head);
            // one parameter group with weight decay on everything, as the fixture's torch.optim.AdamW
            List<Parameter> decayAll = new ArrayList<>();
            for (Parameter p : params) decayAll.add(new Parameter(p.name(), p.value(), p.grad(), true));
            try (AdamW opt = new AdamW(cpu, decayAll, new AdamW.Hyper(0.9, 0.999, 1e-8, 0.01))) {
                float[] losses = npy("traj_losses.npy"), norms = npy("traj_grad_norms.npy");
                for (int step = 1; step <= 3; step++) {
                    opt.zeroGrad();
                    double loss = classificationStep(cpu, m, head, px, labels);
                    assertEquals(losses[step - 1], loss, 2e-5, "loss before step " + step);
                    if (step == 1) {
                        assertEquals(npy("loss_classification.npy")[0], loss, 2e-5);
                        assertGrads(params, "grads_classification.safetensors", 1e-4);
                    }
                    double norm = opt.clipGradNorm(0.5);
                    assertEquals(norms[step - 1], norm, 1e-4 * norms[step - 1], "grad norm before step " + step);
                    opt.step(1e-2);
                    state.refresh();
                    try (WeightStore ref = WeightStore.open(DIR.resolve("traj_step" + step + ".safetensors"))) {
                        for (Parameter p : params) {
                            try (Tensor want = ref.load(p.name())) {
                                assertClose(want.toFloatArray(), p.value().toFloatArray(), 1e-5, "step " + step + " " + p.name());
                            }
                        }
                    }
                }
            }
        }
    }
}
