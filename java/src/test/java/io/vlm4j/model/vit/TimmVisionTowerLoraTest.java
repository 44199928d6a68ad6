package io.vlm4j.model.vit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vlm4j.backend.Backend;
import io.vlm4j.lora.LoraConfig;
import io.vlm4j.lora.LoraState;
import io.vlm4j.lora.LoraWeights;
import io.vlm4j.model.Tape;
import io.vlm4j.tensor.Tensor;
import io.vlm4j.tensor.TensorScope;
import io.vlm4j.testing.LoraFiniteDifferences;
import io.vlm4j.train.Parameter;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * LoRA on {@link TimmVisionTower} for every layout it loads (BiomedCLIP's token pool with a linear head; average pool
 * with fc_norm, norm_pre and no class token or head; average pool beside a class token without a final norm): the
 * adapter gradients of a fixed linear read-out against central finite differences of the forward, activation
 * checkpointing giving the same gradients, and merged weights giving the unmerged outputs.
 */
class TimmVisionTowerLoraTest {
    private static final String TRUNK = "visual.trunk.", HEAD = "visual.head.";

    static Stream<Arguments> cases() {
        return Stream.of("reference", "cpu", "cuda").flatMap(b -> Stream.of(
                Arguments.of(b, "token", TimmVisionTowerTest.TOKEN), Arguments.of(b, "avg", TimmVisionTowerTest.AVG),
                Arguments.of(b, "avg+cls", TimmVisionTowerTest.AVG_CLS)));
    }

    /** Every Linear the layout has (qkv, attn.proj, fc1, fc2 and the head's proj when there is one), B random. */
    private static LoraWeights adapter(TimmVisionTower tower, long seed) {
        LoraWeights w = LoraWeights.init(LoraConfig.of(List.of("qkv", "proj", "fc1", "fc2"), 2, 4, false, 0), tower.linears(), seed);
        SplittableRandom r = new SplittableRandom(seed + 1);
        for (LoraWeights.Module m : w.modules()) {
            float[] b = new float[(int) m.b().numel()];
            for (int i = 0; i < b.length; i++) b[i] = (float) (r.nextGaussian() * 0.2);
            m.b().copyFrom(b);
        }
        return w;
    }

    private static Tensor pixels(int batch, TimmVitConfig c, long seed) {
        int s = c.imageSize();
        return Tensor.of(VitReference.gaussian(seed, batch * c.channels() * s * s, 1.0), batch, c.channels(), s, s);
    }

    private static float[] readout(int n) {
        float[] g = new float[n];
        for (int i = 0; i < n; i++) g[i] = (float) Math.sin(0.7 * i + 0.3);
        return g;
    }

    private static double loss(TimmVisionTower tower, Tensor px, float[] g) {
        try (Tensor out = Tensor.allocate(io.vlm4j.tensor.DType.F32, px.dim(0), tower.projectionDim())) {
            tower.forward(px, out);
            float[] v = out.toFloatArray();
            double s = 0;
            for (int i = 0; i < v.length; i++) s += (double) v[i] * g[i];
            return s;
        }
    }

    /** The adapter gradients of the read-out after one training forward/backward (gradients zeroed first). */
    private static float[][] gradients(Backend backend, TimmVisionTower tower, LoraState state, Tensor px, float[] g, boolean checkpoint) {
        LoraFiniteDifferences.zeroGradients(state);
        long b = px.dim(0), e = tower.projectionDim();
        try (TensorScope s = new TensorScope(backend.device()); Tensor host = Tensor.of(g, b, e)) {
            Tensor out = s.f32(b, e), dOut = s.f32(b, e);
            dOut.copyFrom(host);
            try (Tape tape = tower.forwardTrain(px, out, checkpoint)) {
                tower.backward(tape, dOut);
            }
        }
        return LoraFiniteDifferences.gradients(state);
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("cases")
    void adapterGradientsMatchFiniteDifferences(String backendName, String label, TimmVitConfig c) throws Exception {
        try (Backend backend = VitReference.backend(backendName);
             TimmVisionTower tower = new TimmVisionTower(backend, c, TimmVisionTowerTest.weights(c, 5), TRUNK, HEAD);
             LoraWeights w = adapter(tower, 7); LoraState state = new LoraState(backend, w);
             Tensor px = pixels(3, c, 11)) {
            int expected = 4 * c.depth() + (c.projection().equals("linear") ? 1 : 0);
            assertEquals(expected, w.size(), "every Linear of the layout has an adapter");
            tower.attachAdapters(state);
            float[] g = readout((int) (px.dim(0) * tower.projectionDim()));
            float[][] grads = gradients(backend, tower, state, px, g, false);
            float[][] again = gradients(backend, tower, state, px, g, true);
            List<Parameter> ps = state.parameters();
            double gmax = 0;
            for (float[] gr : grads) for (float x : gr) gmax = Math.max(gmax, Math.abs(x));
            for (int k = 0; k < grads.length; k++) {
                for (int i = 0; i < grads[k].length; i++) {
                    assertEquals(grads[k][i], again[k][i], 1e-5 * gmax, ps.get(k).name() + ": checkpointed gradient differs at " + i);
                }
            }
            double worst = LoraFiniteDifferences.check(state, grads, () -> loss(tower, px, g), 20, 3, 2e-3);
            System.out.printf("timm %s LoRA gradients (%s) vs finite differences: worst |diff| / max|grad| = %.2e%n", label, backendName, worst);
        }
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("cases")
    void mergedWeightsGiveTheUnmergedOutputs(String backendName, String label, TimmVitConfig c) throws Exception {
        try (Backend backend = VitReference.backend(backendName);
             TimmVisionTower tower = new TimmVisionTower(backend, c, TimmVisionTowerTest.weights(c, 5), TRUNK, HEAD);
             LoraWeights w = adapter(tower, 9); LoraState state = new LoraState(backend, w);
             Tensor px = pixels(2, c, 4)) {
            float[] g = readout((int) (px.dim(0) * tower.projectionDim()));
            double base = loss(tower, px, g);
            tower.attachAdapters(state);
            double unmerged = loss(tower, px, g);
            tower.mergeAdapters(+1);
            tower.detachAdapters();
            double merged = loss(tower, px, g);
            tower.attachAdapters(state);
            tower.mergeAdapters(-1);
            tower.detachAdapters();
            double restored = loss(tower, px, g);
            assertTrue(Math.abs(unmerged - base) > 1e-3, "the adapter changes the output: " + base + " vs " + unmerged);
            assertEquals(unmerged, merged, 1e-4 * Math.max(1, Math.abs(unmerged)), "merged vs unmerged");
            assertEquals(base, restored, 1e-4 * Math.max(1, Math.abs(base)), "unmerged again vs base");
        }
    }
}
