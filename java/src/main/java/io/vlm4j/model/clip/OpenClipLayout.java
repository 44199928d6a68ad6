package io.vlm4j.model.clip;

import com.fasterxml.jackson.databind.JsonNode;
import io.vlm4j.io.ConfigFields;
import io.vlm4j.io.ModelFormatException;
import io.vlm4j.io.StrictJson;
import io.vlm4j.io.WeightStore;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import java.util.Set;

/**
 * open_clip's native CLIP layout (spec 01 §4.2, §5; open_clip {@code model.py} {@code CLIP}, {@code CLIPVisionCfg},
 * {@code CLIPTextCfg}): an {@code open_clip_config.json} ({@code model_cfg} + {@code preprocess_cfg}) beside weights
 * with OpenAI's key names ({@code visual.conv1.weight}, fused {@code attn.in_proj_weight}, {@code visual.proj} [D, E],
 * ...). The config becomes an ordinary {@link ClipConfig}; {@link OpenClipWeights} serves the HF names the towers
 * read. Only configurations whose forward pass is exactly HF {@code CLIPModel}'s are accepted: everything else (timm
 * or Hugging Face towers, ResNets, layer scale, attentional pooling, SigLIP's logit bias, ...) is refused with the
 * field that makes it different and the family it belongs to, because loading it as CLIP would give plausible but
 * wrong embeddings.
 */
public final class OpenClipLayout {
    public static final String CONFIG_FILE = "open_clip_config.json";
    /** The name open_clip's hub uploads use for safetensors weights. */
    public static final String WEIGHTS_FILE = "open_clip_model.safetensors";
    private static final String HF_CONFIG_FILE = "config.json";
    /** The eos id that makes {@link ClipTextTower} pool at argmax(ids), as HF does for legacy OpenAI configs. */
    private static final int ARGMAX_POOLING_EOS = 2;

    private OpenClipLayout() {}

    /** A directory whose config is open_clip's: it has an open_clip_config.json and no HF config.json (which wins). */
    public static boolean isOpenClipDirectory(Path dir) {
        return Files.isRegularFile(dir.resolve(CONFIG_FILE)) && !Files.isRegularFile(dir.resolve(HF_CONFIG_FILE));
    }

    /**
     * The weights to open for {@code path} in an open_clip directory: {@value #WEIGHTS_FILE} when present (it is
     * the file the config describes even if a model.safetensors lies beside it), else {@code path} itself, which
     * {@link WeightStore#open} resolves as for any model directory.
     */
    public static Path weightsPath(Path path) {
        if (Files.isDirectory(path) && isOpenClipDirectory(path) && Files.isRegularFile(path.resolve(WEIGHTS_FILE))) {
            return path.resolve(WEIGHTS_FILE);
        }
        return path;
    }

    /** {@code path} is a model directory (its open_clip_config.json is read) or the config file itself. */
    public static ClipConfig loadConfig(Path path) throws IOException {
        Path file = Files.isDirectory(path) ? path.resolve(CONFIG_FILE) : path;
        JsonNode root = StrictJson.readConfig(file, "open_clip config");
        try {
            return parse(file, root);
        } catch (IllegalArgumentException e) {  // a record's own check: sizes that do not fit together
            throw new ModelFormatException(file, e.getMessage(), e);
        }
    }

    /** Whether {@code store} uses open_clip/OpenAI key names rather than HF's. */
    public static boolean hasOpenClipNames(WeightStore store) {
        for (String name : store.names()) {
            if (name.startsWith("visual.") || name.startsWith("text.") || name.startsWith("transformer.")
                    || name.startsWith("token_embedding.") || name.startsWith("ln_final.")
                    || name.equals("positional_embedding") || name.equals("text_projection")) {
                return true;
            }
        }
        return false;
    }

    /**
     * The weights of an open_clip-named store under HF names, after checking that it holds nothing a plain CLIP
     * does not have (a timm trunk, a BERT text tower, layer scale, ...): see {@link OpenClipWeights}.
     */
    public static WeightSource weights(WeightStore store) throws ModelFormatException {
        return OpenClipWeights.of(store);
    }

    // ---- open_clip_config.json ----

    private static ClipConfig parse(Path file, JsonNode root) throws ModelFormatException {
        // Hub uploads wrap the model config as {model_cfg, preprocess_cfg}; open_clip's own model_configs/*.json
        // are the bare model config.
        String at = root.has("model_cfg") ? "model_cfg." : "";
        JsonNode modelCfg = root.has("model_cfg") ? root.get("model_cfg") : root;
        if (!modelCfg.isObject()) {
            throw new ModelFormatException(file, "model_cfg must be an object, got " + StrictJson.show(modelCfg));
        }
        ConfigFields m = ConfigFields.openClip(file, at, modelCfg);
        JsonNode visionNode = m.object("vision_cfg"), textNode = m.object("text_cfg");
        ConfigFields v = m.at("vision_cfg", visionNode), t = m.at("text_cfg", textNode);
        refuseOtherFamilies(m, v, t);

        m.known(Set.of("embed_dim", "quick_gelu", "vision_cfg", "text_cfg", "init_logit_scale", "init_logit_bias",
                "nonscalar_logit_scale", "custom_text", "multimodal_cfg", "cast_dtype", "output_dict"), UNKNOWN);
        int embedDim = m.requiredInt("embed_dim");
        String act = m.bool("quick_gelu", false) ? "quick_gelu" : "gelu";
        double logitScaleInit = m.number("init_logit_scale", Math.log(1 / 0.07));
        return new ClipConfig(Optional.of(text(t, act, embedDim)), Optional.of(vision(v, act, embedDim)), embedDim,
                logitScaleInit);
    }

    /**
     * Refuses configurations open_clip builds as something other than its native CLIP ViT, naming the family so
     * that the message says where the model belongs (spec 04, 06).
     */
    private static void refuseOtherFamilies(ConfigFields m, ConfigFields v, ConfigFields t) throws ModelFormatException {
        Optional<String> timm = v.optionalString("timm_model_name");
        Optional<String> hf = t.optionalString("hf_model_name");
        if (m.has("multimodal_cfg")) {
            throw m.error("multimodal_cfg", "a CoCa model (captioning decoder); only plain CLIP loads here");
        }
        if (m.has("init_logit_bias") || timm.map(n -> n.contains("siglip")).orElse(false)) {
            throw m.error(m.has("init_logit_bias") ? "init_logit_bias" : "vision_cfg.timm_model_name",
                    "a SigLIP model (sigmoid loss with logit_bias, timm image tower, MAP pooling), not a plain CLIP");
        }
        if (timm.isPresent() && hf.isPresent()) {
            throw v.error("timm_model_name", "'" + timm.get() + "' with text_cfg.hf_model_name '" + hf.get()
                    + "' is a CustomTextCLIP with a timm image tower and a Hugging Face text tower: the BiomedCLIP family"
                    + " (spec 04), not a plain CLIP");
        }
        if (timm.isPresent()) {
            throw v.error("timm_model_name", "'" + timm.get() + "' is a timm image tower (open_clip TimmModel), not CLIP's"
                    + " VisionTransformer");
        }
        if (hf.isPresent()) {
            throw t.error("hf_model_name", "'" + hf.get() + "' is a Hugging Face text tower (open_clip CustomTextCLIP with"
                    + " HFTextEncoder, e.g. BERT or XLM-RoBERTa), not CLIP's text transformer");
        }
        if (v.has("layers") && v.node().get("layers").isArray()) {
            throw v.error("layers", "a list of stage depths is a ResNet CLIP (ModifiedResNet, e.g. RN50); only ViT CLIP loads here");
        }
    }

    private static ClipVisionConfig vision(ConfigFields v, String act, int embedDim) throws ModelFormatException {
        v.known(Set.of("layers", "width", "head_width", "mlp_ratio", "patch_size", "image_size", "patch_dropout",
                "output_tokens", "pool_type", "final_ln_after_pool", "no_ln_pre", "pos_embed_type", "ls_init_value",
                "attentional_pool", "attn_pooler_queries", "attn_pooler_heads", "act_kwargs", "norm_kwargs",
                "block_type", "qk_norm", "scaled_cosine_attn", "scale_heads", "scale_attn_inner", "scale_attn",
                "scale_fc", "input_patchnorm", "global_average_pool", "timm_model_name", "timm_model_pretrained", "timm_pool",
                "timm_proj", "timm_proj_bias", "timm_drop", "timm_drop_path"), UNKNOWN);
        // patch_dropout and output_tokens only matter in training / for token outputs; timm_* without a
        // timm_model_name are unused defaults.
        requireString(v, "pool_type", "tok", "only class-token pooling is CLIP's");
        // final_ln_after_pool: ln_post on the class token after pooling or on all tokens before it gives the same pooled row
        requireBool(v, "final_ln_after_pool", null);
        requireBool(v, "no_ln_pre", false, "CLIP applies ln_pre");
        requireString(v, "pos_embed_type", "learnable", "CLIP learns its position table");
        requireNull(v, "ls_init_value", "layer scale (ls_1/ls_2) is not part of CLIP");
        requireBool(v, "attentional_pool", false, "an attentional pooler is CoCa's, not CLIP's");
        requireBool(v, "input_patchnorm", false, "CLIP has no patch LayerNorm");
        requireBool(v, "global_average_pool", false, "CLIP pools the class token, not the average");
        requirePlainBlock(v);
        requireEmpty(v, "act_kwargs", "the activation is fixed by quick_gelu");
        int width = v.integer("width", 768);
        int headWidth = v.integer("head_width", 64);
        if (headWidth <= 0 || headWidth > width) throw v.error("head_width", headWidth + " must be in [1, width " + width + "]");
        int heads = width / headWidth;  // open_clip: vision_heads = width // head_width
        int image = v.square("image_size", 224);
        int patch = v.square("patch_size", 16);
        return new ClipVisionConfig(width, mlpWidth(v, width), v.integer("layers", 12), heads, 3, image, patch, act,
                eps(v), embedDim);
    }

    private static ClipTextConfig text(ConfigFields t, String act, int embedDim) throws ModelFormatException {
        t.known(Set.of("context_length", "vocab_size", "width", "heads", "layers", "mlp_ratio", "ls_init_value",
                "embed_cls", "pad_id", "eos_id", "no_causal_mask", "final_ln_after_pool", "pool_type", "proj_bias",
                "proj_type", "output_tokens", "act_kwargs", "norm_kwargs", "block_type", "qk_norm",
                "scaled_cosine_attn", "scale_heads", "scale_attn_inner", "scale_attn", "scale_fc",
                "hf_model_name", "hf_tokenizer_name", "tokenizer_mode", "tokenizer_kwargs", "hf_model_pretrained", "hf_proj_type",
                "hf_pooler_type", "proj", "pooler_type"), UNKNOWN);
        // hf_* and the old proj/pooler_type only configure an hf_model_name tower (refused earlier); tokenizer_* pick
        // the tokenizer, which vlm4j reads from the tokenizer files.
        requireNull(t, "ls_init_value", "layer scale (ls_1/ls_2) is not part of CLIP");
        requireBool(t, "embed_cls", false, "a learned CLS token (CoCa) is not CLIP's");
        requireBool(t, "no_causal_mask", false, "CLIP's text tower is causal");
        // final_ln_after_pool: ln_final is per token, so applying it before or after pooling gives the same row
        requireBool(t, "final_ln_after_pool", null);
        requireBool(t, "proj_bias", false, "CLIP's text projection has no bias");
        requireString(t, "proj_type", "linear", "CLIP projects the pooled text with a matrix");
        requirePlainBlock(t);
        requireEmpty(t, "act_kwargs", "the activation is fixed by quick_gelu");
        int vocab = t.integer("vocab_size", 49408);
        int width = t.integer("width", 512);
        String pool = t.optionalString("pool_type").orElse("argmax");
        int eos;
        switch (pool) {
            // open_clip pools at argmax(ids): OpenAI's EOT is the largest id. The text tower does that for the
            // legacy eos id 2, exactly as HF does for old OpenAI configs (spec 01 §3.3).
            case "argmax" -> eos = ARGMAX_POOLING_EOS;
            case "eos" -> {
                eos = t.integer("eos_id", 2);
                if (eos == ARGMAX_POOLING_EOS) {
                    throw t.error("eos_id", "2 with pool_type 'eos' (first position equal to 2) cannot be expressed: eos id"
                            + " 2 means argmax pooling in HF CLIP configs");
                }
            }
            default -> throw t.error("pool_type", "'" + pool + "' is not CLIP's (argmax or eos)");
        }
        if (vocab <= ARGMAX_POOLING_EOS) throw t.error("vocab_size", vocab + " is too small for a CLIP vocabulary");
        int bos = vocab - 2;  // OpenAI's layout: <|startoftext|>, <|endoftext|> are the last two ids (49406, 49407)
        return new ClipTextConfig(vocab, width, mlpWidth(t, width), t.integer("layers", 12), t.integer("heads", 8),
                t.integer("context_length", 77), act, eps(t), embedDim, t.integer("pad_id", 0), bos, eos);
    }

    /** The attention-block options of open_clip's CustomResidualAttentionBlock; CLIP's block has none of them. */
    private static void requirePlainBlock(ConfigFields f) throws ModelFormatException {
        Optional<String> block = f.optionalString("block_type");
        if (block.isPresent() && !block.get().equals("default")) throw f.error("block_type", "'" + block.get() + "' is not CLIP's block");
        for (String name : new String[] {"qk_norm", "scaled_cosine_attn", "scale_heads", "scale_attn_inner", "scale_attn", "scale_fc"}) {
            requireBool(f, name, false, "CLIP's attention block has no " + name);
        }
    }

    /** open_clip: mlp_width = int(width * mlp_ratio), Python's truncation. */
    private static int mlpWidth(ConfigFields f, int width) throws ModelFormatException {
        double ratio = f.number("mlp_ratio", 4.0);
        if (!(ratio > 0)) throw f.error("mlp_ratio", ratio + " must be positive");
        return (int) (width * ratio);
    }

    private static final String UNKNOWN = "unknown open_clip field; vlm4j cannot tell whether it changes the model, so it"
            + " refuses rather than risk wrong embeddings";

    /** A boolean that must be {@code required} when present ({@code null}: any boolean). */
    private static void requireBool(ConfigFields f, String name, Boolean required) throws ModelFormatException {
        requireBool(f, name, required, "");
    }

    private static void requireBool(ConfigFields f, String name, Boolean required, String why) throws ModelFormatException {
        boolean value = f.bool(name, required != null && required);
        if (required != null && value != required) throw f.error(name, value + " is not supported: " + why);
    }

    private static void requireString(ConfigFields f, String name, String required, String why) throws ModelFormatException {
        Optional<String> value = f.optionalString(name);
        if (value.isPresent() && !value.get().equals(required)) {
            throw f.error(name, "'" + value.get() + "' is not supported (only '" + required + "'): " + why);
        }
    }

    private static void requireNull(ConfigFields f, String name, String why) throws ModelFormatException {
        if (f.has(name)) throw f.error(name, StrictJson.show(f.node().get(name)) + " is not supported: " + why);
    }

    private static void requireEmpty(ConfigFields f, String name, String why) throws ModelFormatException {
        JsonNode v = f.node().get(name);
        if (v != null && !v.isNull() && !(v.isObject() && v.isEmpty())) {
            throw f.error(name, StrictJson.show(v) + " is not supported: " + why);
        }
    }

    /** norm_kwargs may only set LayerNorm's eps (PyTorch's default 1e-5 otherwise). */
    private static double eps(ConfigFields f) throws ModelFormatException {
        JsonNode v = f.node().get("norm_kwargs");
        if (v == null || v.isNull()) return 1e-5;
        if (!v.isObject()) throw f.error("norm_kwargs", "must be an object, got " + StrictJson.show(v));
        ConfigFields kw = f.at("norm_kwargs", v);
        kw.known(Set.of("eps"), UNKNOWN);
        return kw.number("eps", 1e-5);
    }
}
