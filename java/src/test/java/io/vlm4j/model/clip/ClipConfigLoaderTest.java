package io.vlm4j.model.clip;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vlm4j.testing.Golden;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** config.json → ClipConfig: the golden tiny model, minimal hub configs, legacy fields and single-tower types. */
class ClipConfigLoaderTest {
    @TempDir
    Path tmp;

    private ClipConfig load(String json) throws Exception {
        Files.writeString(tmp.resolve("config.json"), json);
        return ClipConfigLoader.load(tmp);
    }

    @Test
    void goldenTinyConfig() throws Exception {
        ClipConfig c = ClipConfigLoader.load(Golden.dir().resolve("models/tiny/config.json"));
        ClipVisionConfig v = c.vision().orElseThrow();
        ClipTextConfig t = c.text().orElseThrow();
        assertEquals(new ClipVisionConfig(64, 256, 2, 4, 3, 32, 8, "quick_gelu", 1e-5, 32), v);
        assertEquals(4, v.gridSize());
        assertEquals(17, v.numPositions());
        assertEquals(16, v.headDim());
        assertEquals(new ClipTextConfig(49408, 48, 192, 2, 4, 77, "quick_gelu", 1e-5, 32, 1, 49406, 49407), t);
        assertEquals(12, t.headDim());
        assertEquals(32, c.projectionDim());
        assertEquals(2.6592, c.logitScaleInitValue());
        // The directory form reads the same file.
        assertEquals(c, ClipConfigLoader.load(Golden.dir().resolve("models/tiny")));
    }

    @Test
    void minimalLaionStyleConfigGetsEveryClassDefault() throws Exception {
        ClipConfig c = load("""
                {"model_type": "clip", "projection_dim": 512,
                 "text_config": {"hidden_act": "gelu", "model_type": "clip_text_model"},
                 "vision_config": {"hidden_act": "gelu", "model_type": "clip_vision_model"}}""");
        ClipVisionConfig v = c.vision().orElseThrow();
        assertEquals(32, v.patchSize(), "HF's CLIPVisionConfig default patch size is 32, not 16");
        assertEquals(new ClipVisionConfig(768, 3072, 12, 12, 3, 224, 32, "gelu", 1e-5, 512), v);
        assertEquals(new ClipTextConfig(49408, 512, 2048, 12, 8, 77, "gelu", 1e-5, 512, 1, 49406, 49407), c.text().orElseThrow());
        assertEquals(ClipConfig.DEFAULT_LOGIT_SCALE_INIT, c.logitScaleInitValue());
    }

    @Test
    void emptyClipConfigIsViTB32() throws Exception {
        assertEquals(ClipConfig.vitB32(), load("{\"model_type\": \"clip\"}"));
        assertEquals(ClipConfig.vitB32(), load("{\"text_config\": null, \"vision_config\": {}}"), "no model_type but towers: clip");
    }

    @Test
    void legacyOpenAiTokenIdsAreKeptAsGiven() throws Exception {
        ClipTextConfig t = load("""
                {"model_type": "clip", "projection_dim": 768,
                 "text_config": {"bos_token_id": 0, "eos_token_id": 2, "pad_token_id": 1, "hidden_size": 768,
                                 "num_attention_heads": 12, "intermediate_size": 3072, "projection_dim": 768}}""")
                .text().orElseThrow();
        assertEquals(2, t.eosTokenId());
        assertEquals(0, t.bosTokenId());
        assertEquals(64, t.headDim());
    }

    @Test
    void legacyConfigDictsOverrideTheConfigs() throws Exception {
        ClipConfig c = load("""
                {"model_type": "clip",
                 "text_config": {"hidden_size": 256, "num_hidden_layers": 3},
                 "text_config_dict": {"hidden_size": 768, "num_attention_heads": 12},
                 "vision_config_dict": {"patch_size": 14, "image_size": 336}}""");
        ClipTextConfig t = c.text().orElseThrow();
        assertEquals(768, t.hiddenSize(), "the _dict wins");
        assertEquals(3, t.numHiddenLayers(), "fields only in text_config survive");
        assertEquals(12, t.numAttentionHeads());
        assertEquals(577, c.vision().orElseThrow().numPositions());
    }

    @Test
    void clipModelProjectsBothTowersToTheTopLevelProjectionDim() throws Exception {
        // transformers' CLIPModel sizes text_projection/visual_projection from the top-level field.
        ClipConfig c = load("{\"model_type\": \"clip\", \"projection_dim\": 1024, \"text_config\": {\"projection_dim\": 512}}");
        assertEquals(1024, c.projectionDim());
        assertEquals(1024, c.text().orElseThrow().projectionDim());
        assertEquals(1024, c.vision().orElseThrow().projectionDim());
        assertEquals(512, load("{\"model_type\": \"clip\"}").vision().orElseThrow().projectionDim());
    }

    @Test
    void visionOnlyModelType() throws Exception {
        ClipConfig c = load("""
                {"architectures": ["CLIPVisionModelWithProjection"], "model_type": "clip_vision_model",
                 "hidden_size": 1024, "intermediate_size": 4096, "num_hidden_layers": 24, "num_attention_heads": 16,
                 "patch_size": 14, "projection_dim": 768, "dropout": 0.0}""");
        assertEquals(Optional.empty(), c.text());
        assertEquals(new ClipVisionConfig(1024, 4096, 24, 16, 3, 224, 14, "quick_gelu", 1e-5, 768), c.vision().orElseThrow());
        assertEquals(768, c.projectionDim());
    }

    @Test
    void textOnlyModelType() throws Exception {
        ClipConfig c = load("{\"model_type\": \"clip_text_model\", \"hidden_act\": \"gelu_pytorch_tanh\", \"layer_norm_eps\": 1e-6}");
        assertEquals(Optional.empty(), c.vision());
        ClipTextConfig t = c.text().orElseThrow();
        assertEquals("gelu_pytorch_tanh", t.hiddenAct());
        assertEquals(1e-6, t.layerNormEps());
        assertEquals(512, c.projectionDim());
    }

    @Test
    void presetsHaveTheStandardShapes() {
        ClipConfig b16 = ClipConfig.preset("ViT-B/16");
        assertEquals(197, b16.vision().orElseThrow().numPositions());
        assertEquals(ClipConfig.vitB16(), ClipConfig.preset("vit-b-16"));
        assertEquals(50, ClipConfig.preset("ViT-B/32").vision().orElseThrow().numPositions());
        ClipConfig l14 = ClipConfig.preset("vit-l/14");
        assertEquals(257, l14.vision().orElseThrow().numPositions());
        assertEquals(768, l14.projectionDim());
        assertEquals(64, l14.text().orElseThrow().headDim());
        assertEquals(64, l14.vision().orElseThrow().headDim());
        ClipVisionConfig l336 = ClipConfig.preset("ViT-L/14@336").vision().orElseThrow();
        assertEquals(577, l336.numPositions());
        assertEquals(ClipConfig.vitL14_336(), ClipConfig.preset("vit_l_14_336"));
        for (String name : ClipConfig.presetNames()) {
            ClipConfig p = ClipConfig.preset(name);
            assertEquals(4 * p.vision().orElseThrow().hiddenSize(), p.vision().orElseThrow().intermediateSize());
            assertEquals(p.projectionDim(), p.text().orElseThrow().projectionDim());
        }
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ClipConfig.preset("RN50"));
        assertTrue(e.getMessage().contains("ViT-B/32, ViT-B/16, ViT-L/14, ViT-L/14@336"), e.getMessage());
    }

    @Test
    void recordsValidateTheirSizes() {
        assertThrows(IllegalArgumentException.class, () -> new ClipVisionConfig(768, 3072, 12, 12, 3, 16, 32, "gelu", 1e-5, 512));
        assertThrows(IllegalArgumentException.class, () -> new ClipVisionConfig(768, 3072, 12, 12, 3, 224, 32, "gelu", 0, 512));
        assertThrows(IllegalArgumentException.class, () -> new ClipTextConfig(49408, 512, 2048, 12, 7, 77, "gelu", 1e-5, 512, 1, 2, 3));
        assertThrows(IllegalArgumentException.class, () -> new ClipConfig(Optional.empty(), Optional.empty(), 512, 2.6592));
    }
}
