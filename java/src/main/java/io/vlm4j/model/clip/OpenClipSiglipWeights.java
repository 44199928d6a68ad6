package io.vlm4j.model.clip;

import io.vlm4j.io.ModelFormatException;
import io.vlm4j.io.WeightStore;
import io.vlm4j.tensor.Tensor;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Serves the HF {@code SiglipModel} names the SigLIP towers read (spec 06 §6.2 "HF key names") from an open_clip SigLIP
 * {@code CustomTextCLIP} state dict (timm trunk {@code visual.trunk.*}: timm/models/vision_transformer.py and
 * timm/layers/attention_pool.py {@code AttentionPoolLatent}; native text tower {@code text.*}: open_clip/transformer.py
 * {@code TextTransformer}):
 * <pre>
 *   visual.trunk.patch_embed.proj.*         → vision_model.embeddings.patch_embedding.*
 *   visual.trunk.pos_embed [1, N, D]        → vision_model.embeddings.position_embedding.weight [N, D]
 *   visual.trunk.blocks.i.attn.qkv [3D, D]  → ...layers.i.self_attn.{q,k,v}_proj (rows [0,D), [D,2D), [2D,3D))
 *   visual.trunk.blocks.i.{norm1, attn.proj, norm2, mlp.fc1, mlp.fc2} → ...{layer_norm1, self_attn.out_proj, layer_norm2, mlp.fc1, mlp.fc2}
 *   visual.trunk.norm                       → vision_model.post_layernorm
 *   visual.trunk.attn_pool.latent [1, 1, D] → vision_model.head.probe
 *   visual.trunk.attn_pool.q [D, D] ++ kv [2D, D] → vision_model.head.attention.in_proj_{weight,bias} [3D, D] (q, then k|v)
 *   visual.trunk.attn_pool.{proj, norm, mlp.fc1, mlp.fc2} → vision_model.head.{attention.out_proj, layernorm, mlp.fc1, mlp.fc2}
 *   text.token_embedding, text.positional_embedding [L, D] → text_model.embeddings.{token,position}_embedding.weight
 *   text.transformer.resblocks.i.attn.in_proj_* → text_model.encoder.layers.i.self_attn.{q,k,v}_proj (row thirds)
 *   text.transformer.resblocks.i.{ln_1, attn.out_proj, ln_2, mlp.c_fc, mlp.c_proj} → ...{layer_norm1, self_attn.out_proj, layer_norm2, mlp.fc1, mlp.fc2}
 *   text.ln_final → text_model.final_layer_norm;  text.text_projection (Linear) → text_model.head
 *   logit_scale [] or [1], logit_bias        → logit_scale [1], logit_bias [1]
 * </pre>
 * Every stored tensor must be one of these: anything else (timm's norm_pre / fc_norm, layer scale, a class token,
 * open_clip's visual.head) would change the computation and is refused by name.
 */
final class OpenClipSiglipWeights implements WeightSource {
    private static final Pattern LAYER = Pattern.compile("(vision|text)_model\\.encoder\\.layers\\.(\\d+)\\.(.+)");
    private static final Pattern KNOWN = Pattern.compile("visual\\.trunk\\.(patch_embed\\.proj\\.(weight|bias)|pos_embed"
            + "|blocks\\.\\d+\\.(norm1|norm2|attn\\.qkv|attn\\.proj|mlp\\.fc1|mlp\\.fc2)\\.(weight|bias)|norm\\.(weight|bias)"
            + "|attn_pool\\.(latent|(q|kv|proj|norm|mlp\\.fc1|mlp\\.fc2)\\.(weight|bias)))"
            + "|text\\.(token_embedding\\.weight|positional_embedding|ln_final\\.(weight|bias)|text_projection\\.(weight|bias)"
            + "|transformer\\.resblocks\\.\\d+\\.(ln_1|ln_2|attn\\.out_proj|mlp\\.c_fc|mlp\\.c_proj)\\.(weight|bias)"
            + "|transformer\\.resblocks\\.\\d+\\.attn\\.in_proj_(weight|bias)|attn_mask)"
            + "|logit_scale|logit_bias");

    private final WeightStore store;
    // The fused tensors last read (q, k and v of one layer are asked for in turn): each is read from disk once.
    private final LinkedHashMap<String, float[]> fused = new LinkedHashMap<>(4, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<String, float[]> eldest) { return size() > 2; }
    };

    private OpenClipSiglipWeights(WeightStore store) { this.store = store; }

    static OpenClipSiglipWeights of(WeightStore store) throws ModelFormatException {
        List<String> foreign = new ArrayList<>();
        for (String name : store.names()) if (!KNOWN.matcher(name).matches()) foreign.add(name);
        if (!foreign.isEmpty()) {
            throw new ModelFormatException(store.pathOf(foreign.get(0)), foreign.size() + " tensor(s) an open_clip SigLIP (timm "
                    + "map-pooled trunk, native text tower) does not have, e.g. " + foreign.subList(0, Math.min(3, foreign.size())));
        }
        return new OpenClipSiglipWeights(store);
    }

    /** How an HF tensor is made: {@code keys} concatenated (rows), then rows [part·n/parts, (part+1)·n/parts) kept. */
    private record Source(List<String> keys, int part, int parts) {
        static Source of(String key) { return new Source(List.of(key), 0, 1); }
    }

    private static Source map(String hf) {
        Matcher layer = LAYER.matcher(hf);
        if (layer.matches()) {
            boolean vision = layer.group(1).equals("vision");
            String p = (vision ? "visual.trunk.blocks." : "text.transformer.resblocks.") + layer.group(2) + ".";
            String rest = layer.group(3);
            String[] qkv = {"self_attn.q_proj.", "self_attn.k_proj.", "self_attn.v_proj."};
            for (int j = 0; j < 3; j++) {
                if (rest.startsWith(qkv[j])) {
                    String which = rest.substring(qkv[j].length());
                    return new Source(List.of(p + (vision ? "attn.qkv." + which : "attn.in_proj_" + which)), j, 3);
                }
            }
            String[][] renames = vision
                    ? new String[][] {{"layer_norm1.", "norm1."}, {"layer_norm2.", "norm2."}, {"self_attn.out_proj.", "attn.proj."},
                            {"mlp.fc1.", "mlp.fc1."}, {"mlp.fc2.", "mlp.fc2."}}
                    : new String[][] {{"layer_norm1.", "ln_1."}, {"layer_norm2.", "ln_2."}, {"self_attn.out_proj.", "attn.out_proj."},
                            {"mlp.fc1.", "mlp.c_fc."}, {"mlp.fc2.", "mlp.c_proj."}};
            for (String[] r : renames) {
                if (rest.startsWith(r[0])) return Source.of(p + r[1] + rest.substring(r[0].length()));
            }
            return null;
        }
        String v = "visual.trunk.", h = "vision_model.head.";
        if (hf.startsWith(h)) {
            String rest = hf.substring(h.length());
            return switch (rest) {
                case "probe" -> Source.of(v + "attn_pool.latent");
                case "attention.in_proj_weight" -> new Source(List.of(v + "attn_pool.q.weight", v + "attn_pool.kv.weight"), 0, 1);
                case "attention.in_proj_bias" -> new Source(List.of(v + "attn_pool.q.bias", v + "attn_pool.kv.bias"), 0, 1);
                default -> rest.startsWith("attention.out_proj.") ? Source.of(v + "attn_pool.proj." + rest.substring(19))
                        : rest.startsWith("layernorm.") ? Source.of(v + "attn_pool.norm." + rest.substring(10))
                        : rest.startsWith("mlp.") ? Source.of(v + "attn_pool." + rest) : null;
            };
        }
        return switch (hf) {
            case "vision_model.embeddings.patch_embedding.weight" -> Source.of(v + "patch_embed.proj.weight");
            case "vision_model.embeddings.patch_embedding.bias" -> Source.of(v + "patch_embed.proj.bias");
            case "vision_model.embeddings.position_embedding.weight" -> Source.of(v + "pos_embed");
            case "vision_model.post_layernorm.weight" -> Source.of(v + "norm.weight");
            case "vision_model.post_layernorm.bias" -> Source.of(v + "norm.bias");
            case "text_model.embeddings.token_embedding.weight" -> Source.of("text.token_embedding.weight");
            case "text_model.embeddings.position_embedding.weight" -> Source.of("text.positional_embedding");
            case "text_model.final_layer_norm.weight" -> Source.of("text.ln_final.weight");
            case "text_model.final_layer_norm.bias" -> Source.of("text.ln_final.bias");
            case "text_model.head.weight" -> Source.of("text.text_projection.weight");
            case "text_model.head.bias" -> Source.of("text.text_projection.bias");
            case "logit_scale", "logit_bias" -> Source.of(hf);
            default -> null;
        };
    }

    @Override
    public boolean contains(String name) {
        Source s = map(name);
        return s != null && s.keys().stream().allMatch(store::contains);
    }

    @Override
    public Tensor tensor(String name, long... shape) throws IOException {
        Source s = map(name);
        if (s == null) throw new IllegalArgumentException("no open_clip SigLIP equivalent of HF tensor '" + name + "' (" + store + ")");
        long rows = 0;
        long[] stored = null;
        for (String key : s.keys()) {
            if (!store.contains(key)) {
                throw new ModelFormatException(java.nio.file.Path.of(store.toString()), "missing tensor '" + key + "' (HF '" + name + "')");
            }
            stored = dropLeadingOnes(store.info(key).shape());
            rows += stored.length == 0 ? 1 : stored[0];
        }
        // the stored shape this HF tensor comes from: rows summed over the concatenated keys, times `parts` when sliced
        long[] want = dropLeadingOnes(shape);
        long[] whole = want.clone();
        if (whole.length > 0) whole[0] *= s.parts();
        long[] have = stored.clone();
        if (have.length > 0) have[0] = rows;
        if (!Arrays.equals(have, whole)) {
            throw new ModelFormatException(store.pathOf(s.keys().get(0)), "tensor" + (s.keys().size() > 1 ? "s " : " ") + s.keys()
                    + " ha" + (s.keys().size() > 1 ? "ve" : "s") + " shape " + Arrays.toString(have) + " but the config expects "
                    + Arrays.toString(whole) + " (HF '" + name + "'" + (s.parts() > 1 ? ", q, k and v stacked" : "") + ")");
        }
        float[] all = s.keys().size() == 1 ? fused.get(s.keys().get(0)) : null;
        if (all == null) {
            all = new float[0];
            for (String key : s.keys()) {
                float[] part;
                try (Tensor t = store.load(key)) {
                    part = t.toFloatArray();
                }
                float[] joined = Arrays.copyOf(all, all.length + part.length);
                System.arraycopy(part, 0, joined, all.length, part.length);
                all = joined;
            }
            if (s.parts() > 1) fused.put(s.keys().get(0), all);
        }
        int n = all.length / s.parts();
        return Tensor.of(s.parts() == 1 ? all : Arrays.copyOfRange(all, s.part() * n, (s.part() + 1) * n), shape);
    }

    private static long[] dropLeadingOnes(long[] s) {
        int i = 0;
        while (i < s.length && s[i] == 1) i++;
        return Arrays.copyOfRange(s, i, s.length);
    }

    @Override
    public String describe() { return store + " (open_clip SigLIP names)"; }
}
