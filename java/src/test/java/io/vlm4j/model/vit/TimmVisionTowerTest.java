package io.vlm4j.model.vit;

import static io.vlm4j.model.vit.VitReference.assertClose;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vlm4j.backend.Backend;
import io.vlm4j.backend.cpu.CpuBackend;
import io.vlm4j.model.vit.VitReference.MapWeights;
import io.vlm4j.tensor.Tensor;
import java.util.Arrays;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * {@link TimmVisionTower} against a float64 re-implementation of timm's VisionTransformer + open_clip's TimmModel head
 * (spec 04 §3) with random weights at odd shapes, on every backend.
 */
class TimmVisionTowerTest {
    private static final String TRUNK = "visual.trunk.", HEAD = "visual.head.";

    /** BiomedCLIP's layout: class token, 'token' pool, final norm, qkv bias, linear head; 20 px / patch 4 = 25 patches. */
    static final TimmVitConfig TOKEN = new TimmVitConfig(20, 4, 3, 24, 2, 3, 40, 1e-6, "gelu", true, false, true,
            "token", true, "linear", 12);
    /** No class token, norm_pre (so no patch bias), 'avg' pool with fc_norm, no qkv bias, no head; 21 px / 5 drops a column. */
    static final TimmVitConfig AVG = new TimmVitConfig(21, 5, 3, 24, 2, 3, 36, 1e-6, "gelu_pytorch_tanh", false, true, true,
            "avg", false, "none", 24);
    /** A class token left out of an 'avg' pool, no final norm, linear head. */
    static final TimmVitConfig AVG_CLS = new TimmVitConfig(20, 5, 3, 24, 3, 4, 48, 1e-5, "quick_gelu", true, false, false,
            "avg", true, "linear", 10);

    static Stream<Arguments> cases() {
        return Stream.of("cpu", "reference", "cuda").flatMap(b -> Stream.of(
                Arguments.of(b, "token", TOKEN), Arguments.of(b, "avg", AVG), Arguments.of(b, "avg+cls", AVG_CLS)));
    }

    @AfterAll
    static void printWorst() { VitReference.printWorst("timm"); }

    /** Random weights with open_clip key names for {@code c}. */
    static MapWeights weights(TimmVitConfig c, long seed) {
        MapWeights w = new MapWeights(seed);
        int d = c.width(), p = c.patchSize();
        w.put(TRUNK + "patch_embed.proj.weight", 0, 1 / Math.sqrt(3.0 * p * p), d, c.channels(), p, p);
        if (c.patchBias()) w.put(TRUNK + "patch_embed.proj.bias", 0, 0.1, d);
        if (c.classToken()) w.put(TRUNK + "cls_token", 0, 0.5, 1, 1, d);
        w.put(TRUNK + "pos_embed", 0, 0.5, 1, c.numTokens(), d);
        if (c.preNorm()) w.norm(TRUNK + "norm_pre", d);
        for (int i = 0; i < c.depth(); i++) {
            String b = TRUNK + "blocks." + i + ".";
            w.norm(b + "norm1", d).linear(b + "attn.qkv", 3L * d, d, c.qkvBias()).linear(b + "attn.proj", d, d, true)
                    .norm(b + "norm2", d).linear(b + "mlp.fc1", c.mlpWidth(), d, true).linear(b + "mlp.fc2", d, c.mlpWidth(), true);
        }
        if (c.finalNorm()) w.norm(TRUNK + (c.pool().equals("avg") ? "fc_norm" : "norm"), d);
        if (c.projection().equals("linear")) w.put(HEAD + "proj.weight", 0, 1 / Math.sqrt(d), c.embedDim(), d);
        return w;
    }

    /** timm forward_features + forward_head, then the open_clip head, in float64 for image {@code img}. */
    static double[] reference(TimmVitConfig c, MapWeights w, float[] pixels, int img) {
        int d = c.width(), prefix = c.prefixTokens();
        double eps = c.layerNormEps();
        double[][] patches = VitReference.patchConv(pixels, img, c.channels(), c.imageSize(), c.patchSize(),
                w.get(TRUNK + "patch_embed.proj.weight"), c.patchBias() ? w.get(TRUNK + "patch_embed.proj.bias") : null, d);
        double[][] x = new double[c.numTokens()][d];
        float[] pos = w.get(TRUNK + "pos_embed");
        for (int t = 0; t < x.length; t++) {  // _pos_embed: cat(cls, patches), then + pos_embed
            for (int j = 0; j < d; j++) {
                double v = t < prefix ? w.get(TRUNK + "cls_token")[j] : patches[t - prefix][j];
                x[t][j] = v + pos[t * d + j];
            }
        }
        if (c.preNorm()) x = VitReference.layerNorm(x, w.get(TRUNK + "norm_pre.weight"), w.get(TRUNK + "norm_pre.bias"), eps);
        for (int i = 0; i < c.depth(); i++) {
            String b = TRUNK + "blocks." + i + ".";
            x = VitReference.block(x, w.get(b + "norm1.weight"), w.get(b + "norm1.bias"), w.get(b + "attn.qkv.weight"),
                    c.qkvBias() ? w.get(b + "attn.qkv.bias") : null, w.get(b + "attn.proj.weight"), w.get(b + "attn.proj.bias"),
                    w.get(b + "norm2.weight"), w.get(b + "norm2.bias"), w.get(b + "mlp.fc1.weight"), w.get(b + "mlp.fc1.bias"),
                    w.get(b + "mlp.fc2.weight"), w.get(b + "mlp.fc2.bias"), c.heads(), c.mlpWidth(), eps, c.activation(), null);
        }
        double[][] pooled;
        if (c.pool().equals("token")) {
            if (c.finalNorm()) x = VitReference.layerNorm(x, w.get(TRUNK + "norm.weight"), w.get(TRUNK + "norm.bias"), eps);
            pooled = new double[][] {x[0]};
        } else {
            double[] mean = new double[d];
            for (int t = prefix; t < x.length; t++) for (int j = 0; j < d; j++) mean[j] += x[t][j] / (x.length - prefix);
            pooled = new double[][] {mean};
            if (c.finalNorm()) {
                pooled = VitReference.layerNorm(pooled, w.get(TRUNK + "fc_norm.weight"), w.get(TRUNK + "fc_norm.bias"), eps);
            }
        }
        if (c.projection().equals("linear")) pooled = VitReference.linear(pooled, w.get(HEAD + "proj.weight"), null, c.embedDim());
        return pooled[0];
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("cases")
    void matchesFloat64Reference(String backendName, String label, TimmVitConfig c) throws Exception {
        int batch = 3, s = c.imageSize();
        MapWeights w = weights(c, 7);
        float[] pixels = VitReference.gaussian(11, batch * 3 * s * s, 1.0);
        double[] expected = new double[batch * c.embedDim()];
        for (int i = 0; i < batch; i++) System.arraycopy(reference(c, w, pixels, i), 0, expected, i * c.embedDim(), c.embedDim());
        try (Backend backend = VitReference.backend(backendName);
             TimmVisionTower tower = new TimmVisionTower(backend, c, w, TRUNK, HEAD);
             Tensor px = Tensor.of(pixels, batch, 3, s, s);
             Tensor out = Tensor.allocate(io.vlm4j.tensor.DType.F32, batch, c.embedDim())) {
            assertEquals(c.embedDim(), tower.projectionDim());
            tower.forward(px, out);
            assertClose("timm " + label + " " + backendName, expected, out.toFloatArray(), VitReference.tolerance(backendName));
            tower.forward(px, out);  // scratch is per call: a second call gives the same answer
            assertClose("timm " + label + " " + backendName, expected, out.toFloatArray(), VitReference.tolerance(backendName));
        }
    }

    @Test
    void plainTimmStateDictLoadsWithEmptyPrefix() throws Exception {
        MapWeights prefixed = weights(TOKEN, 3), plain = new MapWeights(0);
        prefixed.values.forEach((k, v) -> {
            String name = k.startsWith(TRUNK) ? k.substring(TRUNK.length()) : "head." + k.substring(HEAD.length());
            plain.values.put(name, v);
            plain.shapes.put(name, prefixed.shapes.get(k));
        });
        float[] pixels = VitReference.gaussian(5, 3 * 20 * 20, 1.0);
        try (Backend cpu = new CpuBackend();
             TimmVisionTower a = new TimmVisionTower(cpu, TOKEN, prefixed, TRUNK, HEAD);
             TimmVisionTower b = new TimmVisionTower(cpu, TOKEN, plain, "", "head.");
             Tensor px = Tensor.of(pixels, 1, 3, 20, 20); Tensor oa = Tensor.allocate(io.vlm4j.tensor.DType.F32, 1, 12);
             Tensor ob = Tensor.allocate(io.vlm4j.tensor.DType.F32, 1, 12)) {
            a.forward(px, oa);
            b.forward(px, ob);
            assertTrue(Arrays.equals(oa.toFloatArray(), ob.toFloatArray()));
        }
    }

    @Test
    void missingTensorIsNamed() {
        MapWeights w = weights(TOKEN, 1);
        w.values.remove(TRUNK + "blocks.1.mlp.fc2.bias");
        w.shapes.remove(TRUNK + "blocks.1.mlp.fc2.bias");
        try (Backend cpu = new CpuBackend()) {
            Exception e = assertThrows(IllegalArgumentException.class, () -> new TimmVisionTower(cpu, TOKEN, w, TRUNK, HEAD));
            assertTrue(e.getMessage().contains("blocks.1.mlp.fc2.bias"), e.getMessage());
        }
    }

    @Test
    void badInputShapesAreRejected() throws Exception {
        try (Backend cpu = new CpuBackend(); TimmVisionTower t = new TimmVisionTower(cpu, TOKEN, weights(TOKEN, 1), TRUNK, HEAD);
             Tensor wrongSize = Tensor.allocate(io.vlm4j.tensor.DType.F32, 2, 3, 24, 24);
             Tensor good = Tensor.allocate(io.vlm4j.tensor.DType.F32, 2, 3, 20, 20);
             Tensor out = Tensor.allocate(io.vlm4j.tensor.DType.F32, 2, 12);
             Tensor wrongOut = Tensor.allocate(io.vlm4j.tensor.DType.F32, 2, 24)) {
            Exception e = assertThrows(IllegalArgumentException.class, () -> t.forward(wrongSize, out));
            assertTrue(e.getMessage().contains("pixels"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> t.forward(good, wrongOut));
            assertTrue(e.getMessage().contains("out"), e.getMessage());
        }
    }

    @Test
    void presetsAndConfigChecks() {
        TimmVitConfig b = TimmVitConfig.biomedClip();
        assertEquals(768, b.width());
        assertEquals(12, b.depth());
        assertEquals(12, b.heads());
        assertEquals(3072, b.mlpWidth());
        assertEquals(197, b.numTokens());
        assertEquals(1e-6, b.layerNormEps());
        assertEquals("token", b.pool());
        assertEquals(512, b.embedDim());
        assertTrue(b.patchBias());
        assertEquals(1024, TimmVitConfig.preset("vit_large_patch16_224").width());
        assertEquals(24, TimmVitConfig.preset("VIT_LARGE_PATCH16_224").depth());
        // 196 patches · 768 · 768 + 12 blocks over 197 tokens + 768 · 512: about 17.56 GMACs
        assertTrue(Math.abs(TimmVisionTower.macsPerImage(b) - 17.56e9) < 0.01e9, () -> "" + TimmVisionTower.macsPerImage(b));
        assertThrows(IllegalArgumentException.class, () -> TimmVitConfig.preset("vit_huge_patch99"));
        Exception e = assertThrows(IllegalArgumentException.class, () -> new TimmVitConfig(20, 4, 3, 24, 2, 3, 40, 1e-6,
                "gelu", false, false, true, "token", true, "linear", 12));
        assertTrue(e.getMessage().contains("class token"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> new TimmVitConfig(20, 4, 3, 24, 2, 3, 40, 1e-6,
                "gelu", true, false, true, "token", true, "none", 12));
        assertTrue(e.getMessage().contains("none"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> new TimmVitConfig(20, 4, 3, 25, 2, 3, 40, 1e-6,
                "gelu", true, false, true, "token", true, "linear", 12));
        assertThrows(IllegalArgumentException.class, () -> new TimmVitConfig(20, 4, 3, 24, 2, 3, 40, 1e-6,
                "gelu", true, false, true, "map", true, "linear", 12));
        assertThrows(IllegalArgumentException.class, () -> new TimmVitConfig(20, 4, 3, 24, 2, 3, 40, 1e-6,
                "relu", true, false, true, "token", true, "linear", 12));
    }
}
