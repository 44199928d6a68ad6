package io.vlm4j.model.vit;

import static io.vlm4j.model.vit.VitReference.assertClose;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.vlm4j.backend.Backend;
import io.vlm4j.io.ModelFormatException;
import io.vlm4j.io.Npy;
import io.vlm4j.model.clip.ClipModel;
import io.vlm4j.tensor.Tensor;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.Consumer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * An open_clip SigLIP directory (open_clip_config.json + open_clip_model.safetensors) through {@link ClipModel#load},
 * against open_clip 3.3.0 + timm 1.0.29 themselves (models/scripts/make_openclip_siglip_fixture.py): a tiny seeded
 * {@code CustomTextCLIP} from timm's {@code vit_base_patch16_siglip_224} entry (width 24, 12 heads, 2 blocks, 48 px:
 * exact GELU) and open_clip's native text tower (width 20, 4 heads, 2 layers, context 8, projection to 24).
 */
class OpenClipSiglipTest {
    static final Path DIR = VitReference.resource("/openclip_siglip");
    static final Path MODEL = DIR.resolve("model");

    static float[] npy(String name) throws Exception { return VitReference.npy(DIR, name); }

    @AfterAll
    static void printWorst() { VitReference.printWorst("open_clip siglip"); }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"cpu", "reference", "cuda"})
    void reproducesOpenClip(String backendName) throws Exception {
        double tol = VitReference.tolerance(backendName);
        try (Backend backend = VitReference.backend(backendName); ClipModel model = ClipModel.load(MODEL, backend);
             Tensor pixels = Npy.readFloat32(DIR.resolve("pixel_values.npy")); Tensor ids = Npy.readInt32(DIR.resolve("input_ids.npy"));
             Tensor image = model.encodeImages(pixels, false); Tensor text = model.encodeTexts(ids, false)) {
            assertEquals("siglip", model.family());
            assertTrue(model.sigmoidLogits());
            assertClose("open_clip siglip image " + backendName, npy("image_embeds.npy"), image.toFloatArray(), tol);
            assertClose("open_clip siglip text " + backendName, npy("text_embeds.npy"), text.toFloatArray(), tol);
            SiglipLogits logits = new SiglipLogits(model.logitScale(), model.logitBias());
            float[][] z = logits.logits(image.toFloatRows(), text.toFloatRows());
            float[] flat = new float[z.length * z[0].length];
            for (int i = 0; i < z.length; i++) System.arraycopy(z[i], 0, flat, i * z[0].length, z[0].length);
            assertClose("open_clip siglip logits " + backendName, npy("logits.npy"), flat, tol);
        }
    }

    @Test
    void configFollowsTheTimmEntryAndTheWeights() throws Exception {
        try (ClipModel model = ClipModel.load(MODEL)) {
            assertEquals(2.857665777206421f, model.logitScale(), 1e-6f);   // open_clip's logit_scale [] (log value)
            assertEquals(-9.919922828674316f, model.logitBias(), 1e-6f);
        }
        var root = new ObjectMapper().readTree(MODEL.resolve("open_clip_config.json").toFile());
        try (var store = io.vlm4j.io.WeightStore.open(MODEL.resolve("open_clip_model.safetensors"))) {
            SiglipConfig c = OpenClipSiglipConfig.read(MODEL, root.get("model_cfg"), store);
            assertEquals(new SiglipVisionConfig(24, 48, 2, 12, 3, 48, 16, "gelu", 1e-6), c.vision().orElseThrow());
            assertEquals(new SiglipTextConfig(100, 20, 80, 2, 4, 8, "gelu", 1e-6, 24, 1), c.text().orElseThrow());
        }
        assertEquals("gelu_pytorch_tanh", OpenClipSiglipConfig.TIMM_TRUNKS.get("vit_so400m_patch16_siglip_256").act());
        assertEquals("gelu", OpenClipSiglipConfig.TIMM_TRUNKS.get("vit_so400m_patch14_siglip_384").act());
    }

    @Test
    void refusesWhatItDoesNotBuild(@TempDir Path tmp) throws Exception {
        refused(tmp, "unknown", m -> vision(m).put("timm_model_name", "vit_base_patch16_siglip_gap_224"),
                "vision_cfg.timm_model_name 'vit_base_patch16_siglip_gap_224'");
        refused(tmp, "pool", m -> vision(m).put("timm_pool", "avg"), "vision_cfg.timm_pool 'avg'");
        refused(tmp, "proj", m -> vision(m).put("timm_proj", "linear"), "vision_cfg.timm_proj 'linear'");
        refused(tmp, "causal", m -> text(m).put("no_causal_mask", false), "text_cfg.no_causal_mask");
        refused(tmp, "argmax", m -> text(m).remove("pool_type"), "text_cfg.pool_type 'argmax'");
        refused(tmp, "size", m -> vision(m).put("image_size", 64), "vision_cfg.image_size 64");
        refused(tmp, "width", m -> text(m).put("width", 24), "text.token_embedding.weight");
        refused(tmp, "embed", m -> m.put("embed_dim", 20), "model_cfg.embed_dim 20");
        refused(tmp, "tanh", m -> text(m).putObject("act_kwargs").put("approximate", "sigmoid"), "text_cfg.act_kwargs");
    }

    private static ObjectNode vision(ObjectNode m) { return (ObjectNode) m.get("vision_cfg"); }

    private static ObjectNode text(ObjectNode m) { return (ObjectNode) m.get("text_cfg"); }

    private static void refused(Path tmp, String name, Consumer<ObjectNode> edit, String expected) throws Exception {
        ObjectMapper json = new ObjectMapper();
        ObjectNode root = (ObjectNode) json.readTree(MODEL.resolve("open_clip_config.json").toFile());
        edit.accept((ObjectNode) root.get("model_cfg"));
        Path dir = Files.createDirectories(tmp.resolve(name));
        json.writeValue(dir.resolve("open_clip_config.json").toFile(), root);
        Files.copy(MODEL.resolve("open_clip_model.safetensors"), dir.resolve("open_clip_model.safetensors"));
        ModelFormatException e = assertThrows(ModelFormatException.class, () -> ClipModel.load(dir).close(), name);
        assertTrue(e.getMessage().contains(expected), name + ": " + e.getMessage());
    }
}
