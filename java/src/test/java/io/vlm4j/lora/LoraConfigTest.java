package io.vlm4j.lora;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vlm4j.io.ModelFormatException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** PEFT config semantics (spec 05 §2, §5): target matching, rank/alpha patterns, scaling, refusals, write/read. */
class LoraConfigTest {

    @Test
    void peftFixtureConfigsParse() throws Exception {
        LoraConfig a = LoraConfig.read(PeftFixtureTest.DIR.resolve("adapter_a"));
        assertEquals(4, a.r());
        assertEquals(8, a.alpha());
        assertTrue(a.targets("vision_model.encoder.layers.0.self_attn.q_proj", false));
        assertTrue(a.targets("text_model.encoder.layers.1.mlp.fc1", false));
        assertFalse(a.targets("vision_model.encoder.layers.0.self_attn.k_proj", false));
        assertFalse(a.targets("visual_projection", false));
        assertEquals(2.0, a.scaleOf("text_model.encoder.layers.1.mlp.fc1"), 0);

        LoraConfig b = LoraConfig.read(PeftFixtureTest.DIR.resolve("adapter_b"));
        assertTrue(b.rsLora());
        assertTrue(b.targets("vision_model.encoder.layers.1.self_attn.out_proj", false));
        assertFalse(b.targets("text_model.encoder.layers.1.self_attn.out_proj", false), "regex is a full match");
        assertEquals(3, b.rankOf("vision_model.encoder.layers.0.mlp.fc2"));
        assertEquals(2, b.rankOf("vision_model.encoder.layers.0.self_attn.k_proj"));
        assertEquals(6.0, b.alphaOf("vision_model.encoder.layers.0.self_attn.out_proj"), 0);
        assertEquals(4 / Math.sqrt(3), b.scaleOf("vision_model.encoder.layers.0.mlp.fc2"), 1e-15);
    }

    @Test
    void listTargetsMatchBySuffixAndLayersRestrict() {
        LoraConfig c = new LoraConfig(8, 16, false, 0, List.of("q_proj", "mlp.fc1"), null, List.of("text_model.encoder.layers.0.self_attn.q_proj"),
                null, java.util.Set.of(0, 2), java.util.Map.of(), java.util.Map.of(), "", null);
        assertTrue(c.targets("vision_model.encoder.layers.0.self_attn.q_proj", false));
        assertTrue(c.targets("vision_model.encoder.layers.2.mlp.fc1", false));
        assertFalse(c.targets("vision_model.encoder.layers.1.self_attn.q_proj", false), "layer 1 not in layers_to_transform");
        assertFalse(c.targets("text_model.encoder.layers.0.self_attn.q_proj", false), "excluded");
        assertFalse(c.targets("vision_model.encoder.layers.0.self_attn.xq_proj", false), "suffix must follow a dot");
        LoraConfig all = new LoraConfig(4, 4, false, 0, List.of(), LoraConfig.ALL_LINEAR, List.of(), null, java.util.Set.of(),
                java.util.Map.of(), java.util.Map.of(), "", null);
        assertTrue(all.targets("visual_projection", false));
        assertFalse(all.targets("lm_head", true));
    }

    @Test
    void writeReadRoundTrip(@TempDir Path tmp) throws Exception {
        LoraConfig c = new LoraConfig(4, 8, true, 0.1, List.of("v_proj", "q_proj"), null, List.of(), null, java.util.Set.of(),
                new java.util.LinkedHashMap<>(java.util.Map.of("fc2", 2)), java.util.Map.of("out_proj", 3.0), "base", null);
        c.write(tmp);
        LoraConfig back = LoraConfig.read(tmp);
        assertEquals(c.r(), back.r());
        assertEquals(c.alpha(), back.alpha());
        assertEquals(c.rsLora(), back.rsLora());
        assertEquals(c.dropout(), back.dropout());
        assertEquals(List.of("q_proj", "v_proj"), back.targets());
        assertEquals(2, back.rankOf("x.mlp.fc2"));
        assertEquals(3.0, back.alphaOf("x.self_attn.out_proj"));
        String json = Files.readString(tmp.resolve(LoraConfig.CONFIG_FILE));
        assertTrue(json.contains("\"peft_type\" : \"LORA\""), json);
    }

    @Test
    void unsupportedFeaturesAreRefusedByName(@TempDir Path tmp) throws Exception {
        String[][] cases = {
            {"\"use_dora\": true", "use_dora"},
            {"\"lora_bias\": true", "lora_bias"},
            {"\"fan_in_fan_out\": true", "fan_in_fan_out"},
            {"\"bias\": \"all\"", "bias"},
            {"\"peft_type\": \"IA3\"", "peft_type"},
            {"\"layer_replication\": [[0, 1]]", "layer_replication"},
            {"\"target_modules\": 3", "target_modules"},
            {"\"target_modules\": \"(unclosed\"", "regular expression"},
        };
        for (String[] c : cases) {
            String extra = c[0].startsWith("\"target_modules\"") ? c[0] : "\"target_modules\": [\"q_proj\"], " + c[0];
            Files.writeString(tmp.resolve(LoraConfig.CONFIG_FILE), "{\"r\": 4, \"lora_alpha\": 8, " + extra + "}");
            ModelFormatException e = assertThrows(ModelFormatException.class, () -> LoraConfig.read(tmp), c[0]);
            assertTrue(e.getMessage().contains(c[1]), e.getMessage());
        }
    }

    @Test
    void initFollowsPeft() {
        List<LoraWeights.Linear> linears = List.of(new LoraWeights.Linear("m.layers.0.self_attn.q_proj", 64, 48),
                new LoraWeights.Linear("m.layers.0.self_attn.k_proj", 64, 48));
        try (LoraWeights w = LoraWeights.init(LoraConfig.of(List.of("q_proj"), 8, 16, false, 0), linears, 7)) {
            assertEquals(1, w.size());
            LoraWeights.Module m = w.module("m.layers.0.self_attn.q_proj");
            float[] a = m.a().toFloatArray(), b = m.b().toFloatArray();
            double bound = 1 / Math.sqrt(64), max = 0;
            for (float x : a) max = Math.max(max, Math.abs(x));
            assertTrue(max <= bound && max > 0.9 * bound, "A ~ U(-1/sqrt(in), 1/sqrt(in)), max " + max);
            for (float x : b) assertEquals(0f, x, "B starts at zero");
            assertEquals(2.0, m.scale());
        }
        assertThrows(IllegalArgumentException.class, () -> LoraWeights.init(LoraConfig.of(List.of("fc9"), 8, 16, false, 0), linears, 7));
    }
}
