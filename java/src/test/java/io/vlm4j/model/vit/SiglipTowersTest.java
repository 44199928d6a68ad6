package io.vlm4j.model.vit;

import static io.vlm4j.model.vit.VitReference.assertClose;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vlm4j.backend.Activation;
import io.vlm4j.backend.Backend;
import io.vlm4j.backend.cpu.CpuBackend;
import io.vlm4j.model.vit.VitReference.MapWeights;
import io.vlm4j.tensor.DType;
import io.vlm4j.tensor.Tensor;
import java.util.Arrays;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * {@link SiglipVisionTower} and {@link SiglipTextTower} against a float64 re-implementation of transformers'
 * SiglipVisionModel / SiglipTextModel (with torch.nn.MultiheadAttention for the pooling head), random weights at odd
 * shapes, on every backend.
 */
class SiglipTowersTest {
    private static final String V = "vision_model.", T = "text_model.";

    /** 20 px / patch 4: 25 tokens (no class token), 3 heads of 8, tanh GELU. */
    static final SiglipVisionConfig VISION = new SiglipVisionConfig(24, 40, 2, 3, 3, 20, 4, "gelu_pytorch_tanh", 1e-6);
    /** 23 px / patch 5 drops the remainder: 16 tokens; 4 heads of 5, exact GELU, eps 1e-5. */
    static final SiglipVisionConfig VISION_ODD = new SiglipVisionConfig(20, 28, 3, 4, 3, 23, 5, "gelu", 1e-5);
    static final SiglipTextConfig TEXT = new SiglipTextConfig(50, 24, 40, 2, 3, 9, "gelu_pytorch_tanh", 1e-6, 12, 1);

    static Stream<Arguments> visionCases() {
        return Stream.of("cpu", "reference", "cuda").flatMap(b -> Stream.of(
                Arguments.of(b, "base", VISION), Arguments.of(b, "odd", VISION_ODD)));
    }

    static Stream<String> backends() {
        return Stream.of("cpu", "reference", "cuda");
    }

    @AfterAll
    static void printWorst() { VitReference.printWorst("siglip"); }

    static void encoderWeights(MapWeights w, String prefix, int layers, int d, int f) {
        for (int i = 0; i < layers; i++) {
            String l = prefix + "encoder.layers." + i + ".";
            w.norm(l + "layer_norm1", d).linear(l + "self_attn.q_proj", d, d, true).linear(l + "self_attn.k_proj", d, d, true)
                    .linear(l + "self_attn.v_proj", d, d, true).linear(l + "self_attn.out_proj", d, d, true)
                    .norm(l + "layer_norm2", d).linear(l + "mlp.fc1", f, d, true).linear(l + "mlp.fc2", d, f, true);
        }
    }

    static MapWeights visionWeights(SiglipVisionConfig c, long seed) {
        MapWeights w = new MapWeights(seed);
        int d = c.hiddenSize(), p = c.patchSize(), f = c.intermediateSize();
        w.put(V + "embeddings.patch_embedding.weight", 0, 1 / Math.sqrt(3.0 * p * p), d, c.numChannels(), p, p);
        w.put(V + "embeddings.patch_embedding.bias", 0, 0.1, d);
        w.put(V + "embeddings.position_embedding.weight", 0, 0.5, c.numPositions(), d);
        encoderWeights(w, V, c.numHiddenLayers(), d, f);
        w.norm(V + "post_layernorm", d);
        w.put(V + "head.probe", 0, 1, 1, 1, d);
        w.put(V + "head.attention.in_proj_weight", 0, 1 / Math.sqrt(d), 3L * d, d);
        w.put(V + "head.attention.in_proj_bias", 0, 0.1, 3L * d);
        w.linear(V + "head.attention.out_proj", d, d, true).norm(V + "head.layernorm", d)
                .linear(V + "head.mlp.fc1", f, d, true).linear(V + "head.mlp.fc2", d, f, true);
        return w;
    }

    static double[][] encoder(double[][] x, MapWeights w, String prefix, int layers, int heads, int f, double eps,
                              Activation act, boolean[] keep) {
        for (int i = 0; i < layers; i++) {
            String l = prefix + "encoder.layers." + i + ".self_attn.";
            String b = prefix + "encoder.layers." + i + ".";
            float[] qkvW = VitReference.stack(w.get(l + "q_proj.weight"), w.get(l + "k_proj.weight"), w.get(l + "v_proj.weight"));
            float[] qkvB = VitReference.stack(w.get(l + "q_proj.bias"), w.get(l + "k_proj.bias"), w.get(l + "v_proj.bias"));
            x = VitReference.block(x, w.get(b + "layer_norm1.weight"), w.get(b + "layer_norm1.bias"), qkvW, qkvB,
                    w.get(l + "out_proj.weight"), w.get(l + "out_proj.bias"), w.get(b + "layer_norm2.weight"),
                    w.get(b + "layer_norm2.bias"), w.get(b + "mlp.fc1.weight"), w.get(b + "mlp.fc1.bias"),
                    w.get(b + "mlp.fc2.weight"), w.get(b + "mlp.fc2.bias"), heads, f, eps, act, keep);
        }
        return x;
    }

    /** SiglipVisionModel(pixel_values).pooler_output of image {@code img}, in float64. */
    static double[] visionReference(SiglipVisionConfig c, MapWeights w, float[] pixels, int img) {
        int d = c.hiddenSize(), f = c.intermediateSize();
        double eps = c.layerNormEps();
        double[][] x = VitReference.patchConv(pixels, img, c.numChannels(), c.imageSize(), c.patchSize(),
                w.get(V + "embeddings.patch_embedding.weight"), w.get(V + "embeddings.patch_embedding.bias"), d);
        float[] pos = w.get(V + "embeddings.position_embedding.weight");
        for (int t = 0; t < x.length; t++) for (int j = 0; j < d; j++) x[t][j] += pos[t * d + j];
        x = encoder(x, w, V, c.numHiddenLayers(), c.numAttentionHeads(), f, eps, c.activation(), null);
        x = VitReference.layerNorm(x, w.get(V + "post_layernorm.weight"), w.get(V + "post_layernorm.bias"), eps);
        // nn.MultiheadAttention(probe, x, x): in_proj rows [0,D) for q, [D,2D) for k, [2D,3D) for v
        float[] in = w.get(V + "head.attention.in_proj_weight"), inB = w.get(V + "head.attention.in_proj_bias");
        double[][] probe = {toDouble(w.get(V + "head.probe"))};
        double[][] q = VitReference.linear(probe, Arrays.copyOfRange(in, 0, d * d), Arrays.copyOfRange(inB, 0, d), d);
        double[][] k = VitReference.linear(x, Arrays.copyOfRange(in, d * d, 2 * d * d), Arrays.copyOfRange(inB, d, 2 * d), d);
        double[][] v = VitReference.linear(x, Arrays.copyOfRange(in, 2 * d * d, 3 * d * d), Arrays.copyOfRange(inB, 2 * d, 3 * d), d);
        double[][] h = VitReference.linear(VitReference.attention(q, k, v, c.numAttentionHeads(), null),
                w.get(V + "head.attention.out_proj.weight"), w.get(V + "head.attention.out_proj.bias"), d);
        double[][] m = VitReference.layerNorm(h, w.get(V + "head.layernorm.weight"), w.get(V + "head.layernorm.bias"), eps);
        m = VitReference.apply(c.activation(), VitReference.linear(m, w.get(V + "head.mlp.fc1.weight"), w.get(V + "head.mlp.fc1.bias"), f));
        return VitReference.add(h, VitReference.linear(m, w.get(V + "head.mlp.fc2.weight"), w.get(V + "head.mlp.fc2.bias"), d))[0];
    }

    static MapWeights textWeights(SiglipTextConfig c, long seed) {
        MapWeights w = new MapWeights(seed);
        int d = c.hiddenSize();
        w.put(T + "embeddings.token_embedding.weight", 0, 0.5, c.vocabSize(), d);
        w.put(T + "embeddings.position_embedding.weight", 0, 0.5, c.maxPositionEmbeddings(), d);
        encoderWeights(w, T, c.numHiddenLayers(), d, c.intermediateSize());
        w.norm(T + "final_layer_norm", d).linear(T + "head", c.projectionSize(), d, true);
        return w;
    }

    /** SiglipTextModel(input_ids, attention_mask).pooler_output of one row, in float64. */
    static double[] textReference(SiglipTextConfig c, MapWeights w, int[] ids, boolean[] keep) {
        int d = c.hiddenSize();
        float[] tok = w.get(T + "embeddings.token_embedding.weight"), pos = w.get(T + "embeddings.position_embedding.weight");
        double[][] x = new double[ids.length][d];
        for (int t = 0; t < ids.length; t++) for (int j = 0; j < d; j++) x[t][j] = tok[ids[t] * d + j] + pos[t * d + j];
        x = encoder(x, w, T, c.numHiddenLayers(), c.numAttentionHeads(), c.intermediateSize(), c.layerNormEps(),
                c.activation(), keep);
        x = VitReference.layerNorm(x, w.get(T + "final_layer_norm.weight"), w.get(T + "final_layer_norm.bias"), c.layerNormEps());
        return VitReference.linear(new double[][] {x[ids.length - 1]}, w.get(T + "head.weight"), w.get(T + "head.bias"),
                c.projectionSize())[0];
    }

    private static double[] toDouble(float[] v) {
        double[] d = new double[v.length];
        for (int i = 0; i < v.length; i++) d[i] = v[i];
        return d;
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("visionCases")
    void visionMatchesFloat64Reference(String backendName, String label, SiglipVisionConfig c) throws Exception {
        int batch = 3, s = c.imageSize(), d = c.hiddenSize();
        MapWeights w = visionWeights(c, 21);
        float[] pixels = VitReference.gaussian(4, batch * 3 * s * s, 1.0);
        double[] expected = new double[batch * d];
        for (int i = 0; i < batch; i++) System.arraycopy(visionReference(c, w, pixels, i), 0, expected, i * d, d);
        try (Backend backend = VitReference.backend(backendName);
             SiglipVisionTower tower = new SiglipVisionTower(backend, c, w, V);
             Tensor px = Tensor.of(pixels, batch, 3, s, s); Tensor out = Tensor.allocate(DType.F32, batch, d)) {
            tower.forward(px, out);
            assertClose("siglip vision " + label + " " + backendName, expected, out.toFloatArray(),
                    VitReference.tolerance(backendName));
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void textMatchesFloat64Reference(String backendName) throws Exception {
        SiglipTextConfig c = TEXT;
        MapWeights w = textWeights(c, 33);
        int[][] rows = {{5, 17, 49, 2, 1, 1, 1}, {0, 8, 8, 8, 30, 12, 1}, {44, 3, 1, 1, 1, 1, 1}};
        int len = 7, e = c.projectionSize();
        int[] flat = Arrays.stream(rows).flatMapToInt(Arrays::stream).toArray();
        int[] mask = new int[flat.length];
        boolean[][] keep = new boolean[rows.length][len];
        for (int r = 0; r < rows.length; r++) {
            for (int t = 0; t < len; t++) {
                keep[r][t] = t < 3 + r || t == len - 1;  // some keys masked, the pooled last one kept
                mask[r * len + t] = keep[r][t] ? 1 : 0;
            }
        }
        double[] unmasked = new double[rows.length * e], masked = new double[rows.length * e];
        for (int r = 0; r < rows.length; r++) {
            System.arraycopy(textReference(c, w, rows[r], null), 0, unmasked, r * e, e);
            System.arraycopy(textReference(c, w, rows[r], keep[r]), 0, masked, r * e, e);
        }
        try (Backend backend = VitReference.backend(backendName); SiglipTextTower tower = new SiglipTextTower(backend, c, w, T);
             Tensor ids = Tensor.ofInts(flat, rows.length, len); Tensor m = Tensor.ofInts(mask, rows.length, len);
             Tensor out = Tensor.allocate(DType.F32, rows.length, e)) {
            tower.forward(ids, out);
            assertClose("siglip text " + backendName, unmasked, out.toFloatArray(), VitReference.tolerance(backendName));
            tower.forward(ids, m, out);
            assertClose("siglip text masked " + backendName, masked, out.toFloatArray(), VitReference.tolerance(backendName));
        }
    }

    @Test
    void badInputsAreRejected() throws Exception {
        try (Backend cpu = new CpuBackend(); SiglipTextTower text = new SiglipTextTower(cpu, TEXT, textWeights(TEXT, 1), T);
             SiglipVisionTower vision = new SiglipVisionTower(cpu, VISION, visionWeights(VISION, 1), V);
             Tensor tooLong = Tensor.ofInts(new int[10], 1, 10); Tensor outOfVocab = Tensor.ofInts(new int[] {3, 50}, 1, 2);
             Tensor textOut = Tensor.allocate(DType.F32, 1, 12);
             Tensor px = Tensor.allocate(DType.F32, 1, 3, 21, 21); Tensor visionOut = Tensor.allocate(DType.F32, 1, 24)) {
            Exception e = assertThrows(IllegalArgumentException.class, () -> text.forward(tooLong, textOut));
            assertTrue(e.getMessage().contains("sequence length 10"), e.getMessage());
            assertThrows(IllegalArgumentException.class, () -> text.forward(outOfVocab, textOut));
            e = assertThrows(IllegalArgumentException.class, () -> vision.forward(px, visionOut));
            assertTrue(e.getMessage().contains("pixels"), e.getMessage());
        }
        MapWeights w = visionWeights(VISION, 2);
        w.values.remove(V + "head.probe");
        w.shapes.remove(V + "head.probe");
        try (Backend cpu = new CpuBackend()) {
            Exception e = assertThrows(IllegalArgumentException.class, () -> new SiglipVisionTower(cpu, VISION, w, V));
            assertTrue(e.getMessage().contains("head.probe"), e.getMessage());
        }
    }

    @Test
    void logitsAreScaledCosinesPlusBias() {
        SiglipLogits l = new SiglipLogits(Math.log(10), -10);
        float[][] z = l.logits(new float[][] {{3, 4}}, new float[][] {{1, 0}, {0, 2}, {-3, -4}});
        assertEquals(10 * 0.6 - 10, z[0][0], 1e-5);
        assertEquals(10 * 0.8 - 10, z[0][1], 1e-5);
        assertEquals(-20, z[0][2], 1e-5);
        float[][] p = l.probabilities(new float[][] {{3, 4}}, new float[][] {{3, 4}});
        assertEquals(0.5, p[0][0], 1e-6);  // cos 1 · 10 − 10 = 0
        assertEquals(1 / (1 + Math.exp(800)), SiglipLogits.sigmoid(-800), 0);
        assertEquals(1.0, SiglipLogits.sigmoid(800), 0);
        assertThrows(IllegalArgumentException.class, () -> l.logits(new float[][] {{0, 0}}, new float[][] {{1, 0}}));
        assertThrows(IllegalArgumentException.class, () -> l.logits(new float[][] {{1, 0, 0}}, new float[][] {{1, 0}}));
    }
}
