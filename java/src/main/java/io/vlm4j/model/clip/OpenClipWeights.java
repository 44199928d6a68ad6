package io.vlm4j.model.clip;

import io.vlm4j.io.ModelFormatException;
import io.vlm4j.io.WeightStore;
import io.vlm4j.tensor.Shapes;
import io.vlm4j.tensor.Tensor;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Serves the HF {@code CLIPModel} names the towers read (spec 01 §2) from a store with open_clip / OpenAI names
 * (spec 01 §4.2), following the mapping of transformers' {@code convert_clip_original_pytorch_to_hf.py}:
 * <ul>
 *   <li>renames ({@code visual.ln_pre} → {@code vision_model.pre_layrnorm}, {@code mlp.c_fc} → {@code mlp.fc1}, ...);</li>
 *   <li>{@code attn.in_proj_weight} [3D, D] / {@code in_proj_bias} [3D] sliced into q, k, v rows [0,D), [D,2D), [2D,3D);</li>
 *   <li>{@code visual.proj} and {@code text_projection}, stored [D, E] and used as x·P, transposed to HF's [E, D];</li>
 *   <li>vectors stored with leading 1s ([1, 1, D] class embedding, [1] logit scale) reshaped to what is asked.</li>
 * </ul>
 * Text keys may carry open_clip's {@code text.} prefix (a CustomTextCLIP built around the native text tower).
 */
final class OpenClipWeights implements WeightSource {
    private static final Pattern LAYER = Pattern.compile("(vision|text)_model\\.encoder\\.layers\\.(\\d+)\\.(.+)");
    /** Every open_clip key a plain CLIP ViT has; anything else means another architecture (see {@link #familyHint}). */
    private static final Pattern PLAIN_KEY = Pattern.compile("(visual\\.(conv1\\.weight|class_embedding|positional_embedding"
            + "|ln_pre\\.(weight|bias)|ln_post\\.(weight|bias)|proj)"
            + "|(text\\.)?(token_embedding\\.weight|positional_embedding|ln_final\\.(weight|bias)|text_projection)"
            + "|(visual\\.|text\\.)?transformer\\.resblocks\\.\\d+\\.(ln_1|ln_2|attn\\.out_proj|mlp\\.c_fc|mlp\\.c_proj)\\.(weight|bias)"
            + "|(visual\\.|text\\.)?transformer\\.resblocks\\.\\d+\\.attn\\.in_proj_(weight|bias)"
            + "|logit_scale)");
    /** Buffers and bookkeeping entries some writers keep; no weights. */
    private static final Pattern IGNORED_KEY = Pattern.compile("(text\\.)?attn_mask|.*position_ids|input_resolution|context_length|vocab_size");

    private final WeightStore store;
    private final String textPrefix;
    // The fused q/k/v tensors last read: the encoder asks for q weight, q bias, k weight, ... in turn, so keeping
    // the two of the current layer reads each from disk once.
    private final LinkedHashMap<String, float[]> fused = new LinkedHashMap<>(4, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<String, float[]> eldest) { return size() > 2; }
    };

    private OpenClipWeights(WeightStore store, String textPrefix) {
        this.store = store;
        this.textPrefix = textPrefix;
    }

    static OpenClipWeights of(WeightStore store) throws ModelFormatException {
        List<String> foreign = new ArrayList<>();
        for (String name : store.names()) {
            if (!PLAIN_KEY.matcher(name).matches() && !IGNORED_KEY.matcher(name).matches()) foreign.add(name);
        }
        if (!foreign.isEmpty()) {
            Path file = store.pathOf(foreign.get(0));
            throw new ModelFormatException(file, foreign.size() + " tensor(s) a plain open_clip CLIP does not have, e.g. "
                    + foreign.subList(0, Math.min(3, foreign.size())) + familyHint(foreign.get(0)));
        }
        boolean prefixed = store.contains("text.token_embedding.weight");
        return new OpenClipWeights(store, prefixed ? "text." : "");
    }

    /** What a foreign key says about the checkpoint's family, for the refusal message. */
    static String familyHint(String key) {
        if (key.startsWith("visual.trunk.")) {
            return ": a timm image tower (CustomTextCLIP: the BiomedCLIP family, or SigLIP)";
        }
        if (key.startsWith("text.transformer.embeddings.") || key.startsWith("text.transformer.encoder.")
                || key.startsWith("text.proj.")) {
            return ": a Hugging Face text tower (CustomTextCLIP with HFTextEncoder: the BiomedCLIP family)";
        }
        if (key.equals("logit_bias")) return ": a sigmoid-loss logit bias (SigLIP)";
        if (key.startsWith("visual.attnpool.") || key.startsWith("visual.layer")) return ": a ResNet image tower (ModifiedResNet)";
        if (key.contains(".ls_1.") || key.contains(".ls_2.")) return ": layer scale (ls_init_value), not part of CLIP";
        if (key.startsWith("visual.attn_pool.") || key.startsWith("text_decoder.")) return ": a CoCa model";
        return "";
    }

    /** The open_clip tensor behind an HF name, and how to turn it into the HF tensor. */
    private record Source(String key, Op op, int part) {}

    private enum Op { SAME, TRANSPOSE, ROWS_OF_THREE }

    private Optional<Source> map(String hf) {
        Matcher layer = LAYER.matcher(hf);
        if (layer.matches()) {
            String prefix = (layer.group(1).equals("vision") ? "visual." : textPrefix) + "transformer.resblocks." + layer.group(2) + ".";
            return mapLayer(prefix, layer.group(3));
        }
        String t = textPrefix;
        return Optional.ofNullable(switch (hf) {
            case "vision_model.embeddings.patch_embedding.weight" -> same("visual.conv1.weight");
            case "vision_model.embeddings.class_embedding" -> same("visual.class_embedding");
            case "vision_model.embeddings.position_embedding.weight" -> same("visual.positional_embedding");
            case "vision_model.pre_layrnorm.weight" -> same("visual.ln_pre.weight");
            case "vision_model.pre_layrnorm.bias" -> same("visual.ln_pre.bias");
            case "vision_model.post_layernorm.weight" -> same("visual.ln_post.weight");
            case "vision_model.post_layernorm.bias" -> same("visual.ln_post.bias");
            case "visual_projection.weight" -> new Source("visual.proj", Op.TRANSPOSE, 0);
            case "text_model.embeddings.token_embedding.weight" -> same(t + "token_embedding.weight");
            case "text_model.embeddings.position_embedding.weight" -> same(t + "positional_embedding");
            case "text_model.final_layer_norm.weight" -> same(t + "ln_final.weight");
            case "text_model.final_layer_norm.bias" -> same(t + "ln_final.bias");
            case "text_projection.weight" -> new Source(t + "text_projection", Op.TRANSPOSE, 0);
            case "logit_scale" -> same("logit_scale");
            default -> null;
        });
    }

    private static Optional<Source> mapLayer(String p, String rest) {
        String[] qkv = {"self_attn.q_proj.", "self_attn.k_proj.", "self_attn.v_proj."};
        for (int j = 0; j < 3; j++) {
            if (rest.startsWith(qkv[j])) {
                String which = rest.substring(qkv[j].length());
                if (!which.equals("weight") && !which.equals("bias")) return Optional.empty();
                return Optional.of(new Source(p + "attn.in_proj_" + which, Op.ROWS_OF_THREE, j));
            }
        }
        String[][] renames = {{"layer_norm1.", "ln_1."}, {"layer_norm2.", "ln_2."}, {"self_attn.out_proj.", "attn.out_proj."},
                {"mlp.fc1.", "mlp.c_fc."}, {"mlp.fc2.", "mlp.c_proj."}};
        for (String[] r : renames) {
            if (rest.startsWith(r[0])) return Optional.of(same(p + r[1] + rest.substring(r[0].length())));
        }
        return Optional.empty();
    }

    private static Source same(String key) {
        return new Source(key, Op.SAME, 0);
    }

    @Override
    public boolean contains(String name) {
        return map(name).map(s -> store.contains(s.key())).orElse(false);
    }

    @Override
    public Tensor tensor(String name, long... shape) throws IOException {
        Source s = map(name).orElseThrow(() -> new IllegalArgumentException(
                "no open_clip equivalent of HF tensor '" + name + "' (" + store + ")"));
        if (!store.contains(s.key())) {
            throw new ModelFormatException(Path.of(store.toString()), "missing tensor '" + s.key() + "' (HF '" + name + "')");
        }
        long[] stored = store.info(s.key()).shape();
        return switch (s.op()) {
            case SAME -> {
                checkShape(s, name, stored, shape.length == 0 ? stored : shape, shape.length == 0 || sameUpToLeadingOnes(stored, shape));
                Tensor t = store.load(s.key());
                yield shape.length == 0 || Arrays.equals(stored, shape) ? t : reshaped(t, shape);
            }
            case TRANSPOSE -> {  // HF [E, D] from open_clip [D, E]
                long[] want = shape.length == 2 ? new long[] {shape[1], shape[0]} : stored;
                checkShape(s, name, stored, want, stored.length == 2 && Arrays.equals(stored, want));
                try (Tensor t = store.load(s.key())) {
                    yield Tensor.of(transpose(t.toFloatArray(), (int) stored[0], (int) stored[1]), stored[1], stored[0]);
                }
            }
            case ROWS_OF_THREE -> {  // q, k or v: rows [j·D, (j+1)·D) of the fused [3D, D] weight or [3D] bias
                long[] want = shape.clone();
                if (want.length > 0) want[0] *= 3;
                checkShape(s, name, stored, want, Arrays.equals(stored, want));
                float[] all = fused.get(s.key());
                if (all == null) {
                    try (Tensor t = store.load(s.key())) {
                        all = t.toFloatArray();
                    }
                    fused.put(s.key(), all);
                }
                int part = all.length / 3;
                yield Tensor.of(Arrays.copyOfRange(all, s.part() * part, (s.part() + 1) * part), shape);
            }
        };
    }

    private void checkShape(Source s, String name, long[] stored, long[] expected, boolean ok) throws ModelFormatException {
        if (ok) return;
        String how = switch (s.op()) {
            case SAME -> "";
            case TRANSPOSE -> ", the transpose of HF's";
            case ROWS_OF_THREE -> ", q, k and v stacked";
        };
        throw new ModelFormatException(store.pathOf(s.key()), "tensor '" + s.key() + "' has shape " + Arrays.toString(stored)
                + " but the config expects " + Arrays.toString(expected) + " (HF '" + name + "'" + how + ")");
    }

    /** [1, 1, D] for [D], [1] for [], ...: the same values, only leading unit dimensions differ. */
    private static boolean sameUpToLeadingOnes(long[] a, long[] b) {
        return Arrays.equals(dropLeadingOnes(a), dropLeadingOnes(b));
    }

    private static long[] dropLeadingOnes(long[] s) {
        int i = 0;
        while (i < s.length && s[i] == 1) i++;
        return Arrays.copyOfRange(s, i, s.length);
    }

    private static Tensor reshaped(Tensor t, long[] shape) {
        try (t) {
            if (Shapes.numel(shape) != t.numel()) throw new IllegalStateException("reshape changes the size");
            return Tensor.of(t.toFloatArray(), shape);
        }
    }

    /** [rows, cols] row-major → [cols, rows]. */
    static float[] transpose(float[] v, int rows, int cols) {
        float[] out = new float[v.length];
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) out[c * rows + r] = v[r * cols + c];
        }
        return out;
    }

    @Override
    public String describe() { return store + " (open_clip names)"; }
}
