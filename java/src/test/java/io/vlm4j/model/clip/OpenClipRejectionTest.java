package io.vlm4j.model.clip;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.vlm4j.io.ModelFormatException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Consumer;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * open_clip checkpoints that are not plain CLIP, or are damaged, are refused by ClipModel.load with a message that
 * names the file, the field or tensor, and (for other architectures) the family.
 */
class OpenClipRejectionTest {
    @TempDir
    Path tmp;

    private final ObjectMapper json = new ObjectMapper();

    /** BiomedCLIP's open_clip_config.json (spec 04 §1.1). */
    @Test
    void biomedClipConfigIsNotReadAsPlainClip() throws Exception {
        String cfg = """
                {"model_cfg": {"embed_dim": 512,
                  "vision_cfg": {"timm_model_name": "vit_base_patch16_224", "timm_model_pretrained": false,
                                 "timm_pool": "", "timm_proj": "linear", "image_size": 224},
                  "text_cfg": {"hf_model_name": "microsoft/BiomedNLP-BiomedBERT-base-uncased-abstract",
                               "hf_tokenizer_name": "microsoft/BiomedNLP-BiomedBERT-base-uncased-abstract",
                               "hf_proj_type": "mlp", "hf_pooler_type": "cls_last_hidden_state_pooler",
                               "context_length": 256}},
                 "preprocess_cfg": {"mean": [0.48145466, 0.4578275, 0.40821073], "std": [0.26862954, 0.26130258, 0.27577711]}}""";
        // ClipModel.load hands such a directory to ModelFamilies (ModelFamiliesTest); the plain-CLIP parser refuses it by family
        Path dir = Files.createDirectories(tmp.resolve("biomedclip"));
        Files.writeString(dir.resolve(OpenClipLayout.CONFIG_FILE), cfg);
        ModelFormatException e = assertThrows(ModelFormatException.class, () -> OpenClipLayout.loadConfig(dir));
        String msg = e.getMessage();
        assertTrue(msg.contains("open_clip_config.json") && msg.contains("model_cfg.vision_cfg.timm_model_name")
                && msg.contains("BiomedCLIP"), msg);
        java.nio.file.NoSuchFileException missing = assertThrows(java.nio.file.NoSuchFileException.class, () -> ClipModel.load(dir).close());
        assertTrue(missing.getMessage().contains("model.safetensors"), missing.getMessage());
    }

    /** open_clip's ViT-B-16-SigLIP config (spec 06 §6.2). */
    /** open_clip's ViT-B-16-SigLIP config passes the checks of the SigLIP loader (OpenClipSiglipTest); only the weights are missing. */
    @Test
    void siglipConfigGoesToTheSiglipLoader() throws Exception {
        String cfg = """
                {"embed_dim": 768, "init_logit_bias": -10, "custom_text": true,
                 "vision_cfg": {"image_size": 224, "timm_model_name": "vit_base_patch16_siglip_224",
                                "timm_model_pretrained": false, "timm_pool": "map", "timm_proj": "none"},
                 "text_cfg": {"context_length": 64, "vocab_size": 32000, "hf_tokenizer_name": "timm/ViT-B-16-SigLIP",
                              "tokenizer_kwargs": {"clean": "canonicalize"}, "width": 768, "heads": 12, "layers": 12,
                              "no_causal_mask": true, "proj_bias": true, "pool_type": "last",
                              "norm_kwargs": {"eps": 1e-6}}}""";
        Path dir = Files.createDirectories(tmp.resolve("siglip"));
        Files.writeString(dir.resolve(OpenClipLayout.CONFIG_FILE), cfg);
        java.nio.file.NoSuchFileException e = assertThrows(java.nio.file.NoSuchFileException.class, () -> ClipModel.load(dir).close());
        assertTrue(e.getMessage().contains("model.safetensors"), e.getMessage());
    }

    @Test
    void resnetCoCaAndHfTextConfigsAreRefusedNamingTheFamily() throws Exception {
        assertRefused(c -> vision(c).putArray("layers").add(3).add(4).add(6).add(3), "vision_cfg.layers", "ResNet");
        assertRefused(c -> model(c).putObject("multimodal_cfg").put("width", 512), "multimodal_cfg", "CoCa");
        assertRefused(c -> text(c).put("hf_model_name", "xlm-roberta-base"), "text_cfg.hf_model_name", "Hugging Face text tower");
        assertRefused(c -> vision(c).put("timm_model_name", "vit_base_patch16_224"), "vision_cfg.timm_model_name", "timm");
    }

    @Test
    void featuresClipDoesNotHaveAreRefusedNamingTheField() throws Exception {
        assertRefused(c -> vision(c).put("ls_init_value", 1e-5), "vision_cfg.ls_init_value", "layer scale");
        assertRefused(c -> text(c).put("ls_init_value", 1e-5), "text_cfg.ls_init_value", "layer scale");
        assertRefused(c -> vision(c).put("attentional_pool", true), "vision_cfg.attentional_pool", "CoCa");
        assertRefused(c -> vision(c).put("pool_type", "avg"), "vision_cfg.pool_type", "'avg'");
        assertRefused(c -> vision(c).put("no_ln_pre", true), "vision_cfg.no_ln_pre", "ln_pre");
        assertRefused(c -> vision(c).put("qk_norm", true), "vision_cfg.qk_norm", "qk_norm");
        assertRefused(c -> text(c).put("pool_type", "last"), "text_cfg.pool_type", "'last'");
        assertRefused(c -> text(c).put("no_causal_mask", true), "text_cfg.no_causal_mask", "causal");
        assertRefused(c -> text(c).put("proj_bias", true), "text_cfg.proj_bias", "bias");
        assertRefused(c -> text(c).putObject("norm_kwargs").put("elementwise_affine", false), "text_cfg.norm_kwargs.elementwise_affine", "unknown");
        assertRefused(c -> vision(c).putArray("image_size").add(32).add(48), "vision_cfg.image_size", "square");
        assertRefused(c -> vision(c).put("some_new_option", 1), "vision_cfg.some_new_option", "unknown open_clip field");
        assertRefused(c -> model(c).remove("embed_dim"), "model_cfg.embed_dim", "missing");
        assertRefused(c -> text(c).put("width", "wide"), "text_cfg.width", "integer");
    }

    @Test
    void missingTensorIsNamed() throws Exception {
        String msg = refusedWeights(w -> without(w, "visual.transformer.resblocks.1.attn.in_proj_bias"));
        assertTrue(msg.contains("missing tensor 'visual.transformer.resblocks.1.attn.in_proj_bias'")
                && msg.contains("vision_model.encoder.layers.1.self_attn.q_proj.bias"), msg);
    }

    @Test
    void wrongShapesAreNamedWithTheHfEquivalent() throws Exception {
        String fused = refusedWeights(w -> {
            OpenClipTestModels.Entry e = w.get("transformer.resblocks.0.attn.in_proj_weight");
            float[] two = java.util.Arrays.copyOf(e.values(), e.values().length * 2 / 3);
            return with(w, "transformer.resblocks.0.attn.in_proj_weight", new OpenClipTestModels.Entry(two, new long[] {64, 32}));
        });
        assertTrue(fused.contains("'transformer.resblocks.0.attn.in_proj_weight' has shape [64, 32]")
                && fused.contains("[96, 32]") && fused.contains("q, k and v stacked"), fused);
        // visual.proj written the HF way round ([E, D]) instead of open_clip's [D, E]
        String proj = refusedWeights(w -> with(w, "visual.proj",
                new OpenClipTestModels.Entry(w.get("visual.proj").values(), new long[] {24, 32})));
        assertTrue(proj.contains("'visual.proj' has shape [24, 32]") && proj.contains("[32, 24]")
                && proj.contains("transpose"), proj);
    }

    @Test
    void weightsOfOtherArchitecturesAreRefusedNamingTheFamily() throws Exception {
        String ls = refusedWeights(w -> with(w, "visual.transformer.resblocks.0.ls_1.gamma",
                new OpenClipTestModels.Entry(new float[32], new long[] {32})));
        assertTrue(ls.contains("ls_1.gamma") && ls.contains("layer scale"), ls);
        String bias = refusedWeights(w -> with(w, "logit_bias", new OpenClipTestModels.Entry(new float[1], new long[0])));
        assertTrue(bias.contains("logit_bias") && bias.contains("SigLIP"), bias);
        // BiomedCLIP-named weights beside an HF config.json: detected by their names
        OpenClipTestModels m = new OpenClipTestModels(OpenClipTestModels.Arch.small(), 3);
        Path dir = m.writeHf(tmp.resolve("biomed"));
        m.writeOpenClipWeights(dir.resolve("model.safetensors"), "", w -> {
            Map<String, OpenClipTestModels.Entry> out = new LinkedHashMap<>();
            out.put("visual.trunk.cls_token", new OpenClipTestModels.Entry(new float[32], new long[] {1, 1, 32}));
            out.put("text.transformer.embeddings.word_embeddings.weight", new OpenClipTestModels.Entry(new float[64], new long[] {2, 32}));
            return out;
        });
        ModelFormatException e = assertThrows(ModelFormatException.class, () -> ClipModel.load(dir).close());
        assertTrue(e.getMessage().contains("visual.trunk.cls_token") && e.getMessage().contains("BiomedCLIP"), e.getMessage());
    }

    // ---- helpers ----

    private String refusedConfig(String config) throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("cfg" + System.nanoTime()));
        Files.writeString(dir.resolve(OpenClipLayout.CONFIG_FILE), config);
        ModelFormatException e = assertThrows(ModelFormatException.class, () -> ClipModel.load(dir).close());
        return e.getMessage();
    }

    /** The small test model's config with one edit must be refused, the message holding every {@code expected}. */
    private void assertRefused(Consumer<ObjectNode> edit, String... expected) throws Exception {
        ObjectNode cfg = OpenClipTestModels.Arch.small().openClipConfig(json);
        edit.accept(cfg);
        String msg = refusedConfig(json.writeValueAsString(cfg));
        assertTrue(msg.contains(OpenClipLayout.CONFIG_FILE), msg);
        for (String s : expected) assertTrue(msg.contains(s), "'" + s + "' not in: " + msg);
    }

    private String refusedWeights(UnaryOperator<Map<String, OpenClipTestModels.Entry>> edit) throws Exception {
        OpenClipTestModels m = new OpenClipTestModels(OpenClipTestModels.Arch.small(), 2);
        Path dir = m.writeOpenClip(tmp.resolve("w" + System.nanoTime()), OpenClipLayout.WEIGHTS_FILE, "", edit);
        ModelFormatException e = assertThrows(ModelFormatException.class, () -> ClipModel.load(dir).close());
        assertTrue(e.getMessage().contains(OpenClipLayout.WEIGHTS_FILE), e.getMessage());
        return e.getMessage();
    }

    private static ObjectNode model(ObjectNode c) { return (ObjectNode) c.get("model_cfg"); }

    private static ObjectNode vision(ObjectNode c) { return (ObjectNode) model(c).get("vision_cfg"); }

    private static ObjectNode text(ObjectNode c) { return (ObjectNode) model(c).get("text_cfg"); }

    private static Map<String, OpenClipTestModels.Entry> without(Map<String, OpenClipTestModels.Entry> w, String key) {
        Map<String, OpenClipTestModels.Entry> out = new LinkedHashMap<>(w);
        out.remove(key);
        return out;
    }

    private static Map<String, OpenClipTestModels.Entry> with(Map<String, OpenClipTestModels.Entry> w, String key,
                                                             OpenClipTestModels.Entry e) {
        Map<String, OpenClipTestModels.Entry> out = new LinkedHashMap<>(w);
        out.put(key, e);
        return out;
    }
}
