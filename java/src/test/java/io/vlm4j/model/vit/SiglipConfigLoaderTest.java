package io.vlm4j.model.vit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vlm4j.io.ModelFormatException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@link SiglipConfigLoader}: HF defaults for missing fields, typed errors for wrong ones, the three model types. */
class SiglipConfigLoaderTest {
    @TempDir
    Path dir;

    private SiglipConfig load(String json) throws Exception {
        Files.writeString(dir.resolve("config.json"), json);
        return SiglipConfigLoader.load(dir);
    }

    @Test
    void minimalConfigTakesClassDefaults() throws Exception {
        SiglipConfig c = load("{\"model_type\": \"siglip\", \"text_config\": {}, \"vision_config\": {}}");
        assertEquals(SiglipConfig.base16(), c);
        assertEquals(196, c.vision().orElseThrow().numPositions());
        assertEquals(768, c.text().orElseThrow().projectionSize());
    }

    @Test
    void towerFieldsAreRead() throws Exception {
        SiglipConfig c = load("""
                {"model_type": "siglip", "initializer_factor": 1.0,
                 "text_config": {"model_type": "siglip_text_model", "vocab_size": 100, "hidden_size": 32,
                   "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4,
                   "max_position_embeddings": 16, "projection_size": 24, "pad_token_id": null, "hidden_act": "gelu"},
                 "vision_config": {"model_type": "siglip_vision_model", "hidden_size": 32, "intermediate_size": 64,
                   "num_hidden_layers": 2, "num_attention_heads": 4, "image_size": [32, 32], "patch_size": 8,
                   "layer_norm_eps": 1e-5, "vision_use_head": true}}""");
        SiglipVisionConfig v = c.vision().orElseThrow();
        assertEquals(new SiglipVisionConfig(32, 64, 2, 4, 3, 32, 8, "gelu_pytorch_tanh", 1e-5), v);
        assertEquals(new SiglipTextConfig(100, 32, 64, 2, 4, 16, "gelu", 1e-6, 24, 1), c.text().orElseThrow());
    }

    @Test
    void singleTowerTypes() throws Exception {
        SiglipConfig v = load("{\"model_type\": \"siglip_vision_model\", \"hidden_size\": 64, \"num_attention_heads\": 4}");
        assertTrue(v.text().isEmpty());
        assertEquals(64, v.vision().orElseThrow().hiddenSize());
        SiglipConfig t = load("{\"model_type\": \"siglip_text_model\", \"hidden_size\": 64, \"num_attention_heads\": 4}");
        assertTrue(t.vision().isEmpty());
        assertEquals(64, t.text().orElseThrow().projectionSize());  // defaults to hidden_size
    }

    @Test
    void badConfigsAreRefusedWithTheField() {
        assertMessage("{\"model_type\": \"clip\"}", "unsupported model_type 'clip'");
        assertMessage("{\"model_type\": \"siglip\", \"vision_config\": {\"hidden_size\": \"768\"}}", "vision_config.hidden_size");
        assertMessage("{\"model_type\": \"siglip\", \"vision_config\": {\"image_size\": [224, 256]}}", "vision_config.image_size");
        assertMessage("{\"model_type\": \"siglip\", \"vision_config\": {\"vision_use_head\": false}}", "vision_use_head");
        assertMessage("{\"model_type\": \"siglip\", \"text_config\": {\"hidden_size\": 30}}", "not divisible");
        assertMessage("{\"model_type\": \"siglip\", \"text_config\": {\"hidden_act\": \"swish\"}}", "swish");
    }

    private void assertMessage(String json, String fragment) {
        Exception e = assertThrows(ModelFormatException.class, () -> load(json));
        assertTrue(e.getMessage().contains(fragment), e.getMessage());
    }
}
