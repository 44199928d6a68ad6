package io.vlm4j.model.vit;

import io.vlm4j.model.clip.StoreWeights;

import static io.vlm4j.model.vit.VitReference.assertClose;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.vlm4j.backend.Backend;
import io.vlm4j.io.Npy;
import io.vlm4j.io.WeightStore;
import io.vlm4j.tensor.DType;
import io.vlm4j.tensor.Tensor;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The SigLIP towers and logits against transformers 5.17 itself (models/scripts/make_vit_fixtures.py): a tiny seeded
 * SiglipModel saved with save_pretrained, loaded here through its config.json and model.safetensors.
 */
class SiglipFixtureTest {
    static final Path DIR = TimmFixtureTest.DIR;
    static final Path MODEL = DIR.resolve("siglip");

    @AfterAll
    static void printWorst() { VitReference.printWorst("fixture siglip"); }

    @Test
    void configIsRead() throws Exception {
        SiglipConfig c = SiglipConfigLoader.load(MODEL);
        assertEquals(new SiglipVisionConfig(32, 64, 2, 4, 3, 32, 8, "gelu_pytorch_tanh", 1e-6), c.vision().orElseThrow());
        assertEquals(new SiglipTextConfig(100, 24, 40, 2, 4, 16, "gelu_pytorch_tanh", 1e-6, 32, 1), c.text().orElseThrow());
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"cpu", "reference", "cuda"})
    void reproducesTransformers(String backendName) throws Exception {
        double tol = VitReference.tolerance(backendName);
        SiglipConfig config = SiglipConfigLoader.load(MODEL);
        try (Backend backend = VitReference.backend(backendName); WeightStore store = WeightStore.open(MODEL)) {
            StoreWeights weights = new StoreWeights(store);
            float[][] image, text;
            try (SiglipVisionTower vision = new SiglipVisionTower(backend, config.vision().orElseThrow(), weights, "vision_model.");
                 Tensor pixels = Npy.readFloat32(DIR.resolve("siglip_pixel_values.npy"));
                 Tensor out = Tensor.allocate(DType.F32, 3, 32)) {
                vision.forward(pixels, out);
                assertClose("fixture siglip vision pooled " + backendName, TimmFixtureTest.npy("siglip_vision_pooled.npy"),
                        out.toFloatArray(), tol);
                image = out.toFloatRows();
            }
            try (SiglipTextTower tower = new SiglipTextTower(backend, config.text().orElseThrow(), weights, "text_model.");
                 Tensor ids = Npy.readInt32(DIR.resolve("siglip_input_ids.npy"));
                 Tensor mask = Npy.readInt32(DIR.resolve("siglip_attention_mask.npy"));
                 Tensor out = Tensor.allocate(DType.F32, 3, 32)) {
                tower.forward(ids, mask, out);
                assertClose("fixture siglip text masked " + backendName, TimmFixtureTest.npy("siglip_text_embeds_masked.npy"),
                        out.toFloatArray(), tol);
                tower.forward(ids, out);
                assertClose("fixture siglip text " + backendName, TimmFixtureTest.npy("siglip_text_embeds.npy"),
                        out.toFloatArray(), tol);
                text = out.toFloatRows();
            }
            SiglipLogits logits = SiglipLogits.load(weights);
            assertClose("fixture siglip logits " + backendName, TimmFixtureTest.npy("siglip_logits_per_image.npy"),
                    flat(logits.logits(image, text)), tol);
            assertClose("fixture siglip probabilities " + backendName, TimmFixtureTest.npy("siglip_probs_per_image.npy"),
                    flat(logits.probabilities(image, text)), tol);
        }
    }

    private static float[] flat(float[][] rows) {
        float[] out = new float[Arrays.stream(rows).mapToInt(r -> r.length).sum()];
        int at = 0;
        for (float[] r : rows) { System.arraycopy(r, 0, out, at, r.length); at += r.length; }
        return out;
    }
}
