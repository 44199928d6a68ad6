package io.vlm4j.model.vit;

import com.fasterxml.jackson.databind.JsonNode;
import io.vlm4j.io.ConfigFields;
import io.vlm4j.io.ModelFormatException;
import io.vlm4j.io.StrictJson;
import io.vlm4j.io.WeightStore;
import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The {@link SiglipConfig} of an open_clip SigLIP checkpoint (spec 06 §6.2, "open_clip ViT-B-16-SigLIP config"): a
 * {@code CustomTextCLIP} whose image tower is a timm SigLIP ViT ({@code vision_cfg.timm_model_name} {@code vit_*_siglip_*},
 * {@code timm_pool "map"}, {@code timm_proj "none"}) and whose text tower is open_clip's own {@code TextTransformer}
 * (open_clip/transformer.py) with {@code no_causal_mask}, {@code pool_type "last"} and a biased Linear projection: the
 * same computation as HF's {@code SiglipModel}, so the HF towers run it.
 * <ul>
 *   <li>Image tower: heads, patch size and activation come from the timm registry entry (timm/models/vision_transformer.py,
 *       timm 1.0.29; {@link #TIMM_TRUNKS}: entries that set {@code act_layer='gelu_tanh'} use tanh-GELU, the others,
 *       {@code vit_base_patch16_siglip_224} among them, exact GELU, unlike HF's SigLIP); width, depth, MLP width and the
 *       position grid come from the weights (open_clip builds the trunk with the entry's defaults; the weights are what
 *       a size override, as in the test fixture, changes), image size = grid × patch (the "valid" conv drops a
 *       remainder, so 384 with patch 14 is a 27 × 27 grid). LayerNorm eps 1e-6 (timm's ViT norm layer).</li>
 *   <li>Text tower: {@code text_cfg} width, heads, layers, context_length, vocab_size, mlp_ratio (default 4),
 *       {@code norm_kwargs.eps} (default 1e-5, torch's), {@code act_kwargs.approximate "tanh"} for tanh-GELU (default
 *       exact GELU; {@code quick_gelu} in model_cfg for QuickGELU); projection width {@code embed_dim}.</li>
 * </ul>
 * Anything else that changes the computation (a causal mask, another pool, no projection bias, a class embedding,
 * layer scale, ...) is refused with the field named.
 */
public final class OpenClipSiglipConfig {
    private OpenClipSiglipConfig() {}

    /** A timm SigLIP ViT registry entry: what its name fixes. */
    public record TimmSiglipTrunk(int patchSize, int heads, String act) {}

    /** The map-pooled SigLIP entries of timm 1.0.29 (the {@code _gap_} ones have no attention-pool head). */
    public static final Map<String, TimmSiglipTrunk> TIMM_TRUNKS = trunks();

    private static Map<String, TimmSiglipTrunk> trunks() {
        Map<String, TimmSiglipTrunk> m = new TreeMap<>();
        String exact = "gelu", tanh = "gelu_pytorch_tanh";
        m.put("vit_base_patch32_siglip_256", new TimmSiglipTrunk(32, 12, tanh));
        for (int res : new int[] {224, 256, 384, 512}) m.put("vit_base_patch16_siglip_" + res, new TimmSiglipTrunk(16, 12, exact));
        m.put("vit_large_patch16_siglip_256", new TimmSiglipTrunk(16, 16, exact));
        m.put("vit_large_patch16_siglip_384", new TimmSiglipTrunk(16, 16, exact));
        m.put("vit_large_patch16_siglip_512", new TimmSiglipTrunk(16, 16, tanh));
        for (int res : new int[] {224, 378, 384}) m.put("vit_so400m_patch14_siglip_" + res, new TimmSiglipTrunk(14, 16, exact));
        for (int res : new int[] {256, 384, 512}) m.put("vit_so400m_patch16_siglip_" + res, new TimmSiglipTrunk(16, 16, tanh));
        m.put("vit_giantopt_patch16_siglip_256", new TimmSiglipTrunk(16, 16, tanh));
        m.put("vit_giantopt_patch16_siglip_384", new TimmSiglipTrunk(16, 16, tanh));
        return Map.copyOf(m);
    }

    /** Whether {@code modelCfg} describes an open_clip model with a timm image tower and open_clip's native text tower. */
    public static boolean isTimmWithNativeText(JsonNode modelCfg) {
        return modelCfg.path("vision_cfg").hasNonNull("timm_model_name") && !modelCfg.path("text_cfg").hasNonNull("hf_model_name");
    }

    private static final Pattern BLOCK = Pattern.compile("^visual\\.trunk\\.blocks\\.(\\d+)\\.");

    /** The configuration of {@code modelCfg} (open_clip_config.json's model_cfg, read from {@code file}) over {@code store}. */
    public static SiglipConfig read(Path file, JsonNode modelCfg, WeightStore store) throws ModelFormatException {
        check(file, modelCfg);
        try {
            SiglipVisionConfig vision = vision(file, modelCfg, store);
            SiglipTextConfig text = text(file, modelCfg, store);
            if (vision.hiddenSize() != text.projectionSize()) {  // timm_proj 'none': the pooled trunk output is the embedding
                throw new ModelFormatException(file, "model_cfg.embed_dim " + text.projectionSize() + " differs from the timm trunk's width "
                        + vision.hiddenSize() + " (timm_proj 'none' adds no projection)");
            }
            return new SiglipConfig(Optional.of(text), Optional.of(vision));
        } catch (IllegalArgumentException e) {  // a record's own check
            throw new ModelFormatException(file, e.getMessage(), e);
        }
    }

    /**
     * The checks that need no weights (the timm entry, pooling, projection, the text tower's options), so a directory is
     * refused for its configuration before its weights are opened.
     */
    public static void check(Path file, JsonNode m) throws ModelFormatException {
        ConfigFields v = section(file, m, "vision_cfg");
        String name = v.string("timm_model_name", "");
        if (!TIMM_TRUNKS.containsKey(name)) {
            throw new ModelFormatException(file, "vision_cfg.timm_model_name '" + name + "' is not a timm SigLIP ViT with an "
                    + "attention-pool head this library builds (known: " + TIMM_TRUNKS.keySet() + ")");
        }
        String pool = v.string("timm_pool", "avg");
        if (!pool.equals("map")) {
            throw new ModelFormatException(file, "vision_cfg.timm_pool '" + pool + "' is not supported for a SigLIP trunk (only 'map', "
                    + "the attention-pool head)");
        }
        String proj = v.string("timm_proj", "linear");
        if (!proj.equals("none")) {
            throw new ModelFormatException(file, "vision_cfg.timm_proj '" + proj + "' is not supported for a SigLIP trunk (only 'none')");
        }
        checkText(file, m);
    }

    private static SiglipVisionConfig vision(Path file, JsonNode m, WeightStore store) throws ModelFormatException {
        ConfigFields v = section(file, m, "vision_cfg");
        String name = v.string("timm_model_name", "");
        TimmSiglipTrunk trunk = TIMM_TRUNKS.get(name);
        long[] patch = shape(store, file, "visual.trunk.patch_embed.proj.weight");  // [D, C, P, P]
        long[] pos = shape(store, file, "visual.trunk.pos_embed");                   // [1, N, D]
        long[] fc1 = shape(store, file, "visual.trunk.blocks.0.mlp.fc1.weight");     // [F, D]
        if (patch.length != 4 || patch[2] != trunk.patchSize() || patch[3] != trunk.patchSize()) {
            throw new ModelFormatException(file, "visual.trunk.patch_embed.proj.weight has shape " + java.util.Arrays.toString(patch)
                    + " but " + name + " has patch size " + trunk.patchSize());
        }
        int width = Math.toIntExact(patch[0]);
        int positions = Math.toIntExact(pos[pos.length - 2]);
        int grid = (int) Math.round(Math.sqrt(positions));
        if (grid * grid != positions) {
            throw new ModelFormatException(file, "visual.trunk.pos_embed has " + positions + " positions, not a square grid");
        }
        int imageSize = grid * trunk.patchSize();
        if (v.has("image_size")) {
            int cfgSize = v.square("image_size", imageSize);
            if (cfgSize / trunk.patchSize() != grid) {
                throw new ModelFormatException(file, "vision_cfg.image_size " + cfgSize + " gives a " + cfgSize / trunk.patchSize()
                        + "-patch grid, but visual.trunk.pos_embed holds " + grid + " × " + grid);
            }
            imageSize = cfgSize;
        }
        TreeSet<Integer> blocks = new TreeSet<>();
        for (String n : store.names()) {
            Matcher b = BLOCK.matcher(n);
            if (b.find()) blocks.add(Integer.parseInt(b.group(1)));
        }
        return new SiglipVisionConfig(width, Math.toIntExact(fc1[0]), blocks.size(), trunk.heads(), Math.toIntExact(patch[1]),
                imageSize, trunk.patchSize(), trunk.act(), 1e-6);
    }

    private static void checkText(Path file, JsonNode m) throws ModelFormatException {
        ConfigFields t = section(file, m, "text_cfg");
        if (!t.bool("no_causal_mask", false)) {
            throw new ModelFormatException(file, "text_cfg.no_causal_mask is not true: a causal text tower is not SigLIP's (only "
                    + "bidirectional attention is supported)");
        }
        requireText(t, "pool_type", "argmax", "last");
        requireText(t, "proj_type", "linear", "linear");
        if (!t.bool("proj_bias", false)) {
            throw new ModelFormatException(file, "text_cfg.proj_bias is not true: only a biased Linear projection (SigLIP's head) is supported");
        }
        for (String flag : new String[] {"embed_cls", "qk_norm", "scaled_cosine_attn", "scale_heads", "scale_attn_inner", "scale_attn", "scale_fc"}) {
            if (t.bool(flag, false)) throw new ModelFormatException(file, "text_cfg." + flag + " is not supported");
        }
        if (t.has("ls_init_value")) throw new ModelFormatException(file, "text_cfg.ls_init_value (layer scale) is not supported");
        textActivation(file, m);
    }

    private static String textActivation(Path file, JsonNode m) throws ModelFormatException {
        ConfigFields t = section(file, m, "text_cfg");
        String act = ConfigFields.openClip(file, "model_cfg.", m).bool("quick_gelu", false) ? "quick_gelu" : "gelu";
        String approx = t.child("act_kwargs").string("approximate", "none");
        if (!approx.equals("none")) {
            if (!approx.equals("tanh") || act.equals("quick_gelu")) {
                throw new ModelFormatException(file, "text_cfg.act_kwargs " + StrictJson.show(t.node().get("act_kwargs")) + " is not supported");
            }
            act = "gelu_pytorch_tanh";
        }
        return act;
    }

    private static SiglipTextConfig text(Path file, JsonNode m, WeightStore store) throws ModelFormatException {
        ConfigFields t = section(file, m, "text_cfg");
        String act = textActivation(file, m);
        int width = positive(t, "width"), embed = positive(ConfigFields.openClip(file, "model_cfg.", m), "embed_dim");
        double ratio = t.number("mlp_ratio", 4.0);
        double eps = t.child("norm_kwargs").number("eps", 1e-5);
        if (!store.contains("logit_bias")) {
            throw new ModelFormatException(file, "no logit_bias tensor: not a sigmoid-loss (SigLIP) checkpoint");
        }
        return new SiglipTextConfig(positive(t, "vocab_size"), width, (int) (width * ratio), positive(t, "layers"),
                positive(t, "heads"), positive(t, "context_length"), act, eps, embed, 1);
    }

    /** The open_clip sub-config {@code name} of model_cfg {@code m} (absent: every field takes its default). */
    private static ConfigFields section(Path file, JsonNode m, String name) throws ModelFormatException {
        return ConfigFields.openClip(file, "", m).child(name);
    }

    private static void requireText(ConfigFields t, String field, String dflt, String wanted) throws ModelFormatException {
        String value = t.string(field, dflt);
        if (!value.equals(wanted)) {
            throw new ModelFormatException(t.file(), t.prefix() + field + " '" + value + "' is not supported (only '" + wanted + "')");
        }
    }

    private static int positive(ConfigFields f, String field) throws ModelFormatException {
        int n = f.has(field) ? f.integer(field, 0) : 0;
        if (n <= 0) throw new ModelFormatException(f.file(), f.prefix() + field + " is missing or not a positive integer");
        return n;
    }

    private static long[] shape(WeightStore store, Path file, String key) throws ModelFormatException {
        if (!store.contains(key)) throw new ModelFormatException(file, "no tensor '" + key + "': not an open_clip timm SigLIP trunk");
        return store.info(key).shape();
    }
}
