package io.vlm4j.model.clip;

import com.fasterxml.jackson.databind.JsonNode;
import io.vlm4j.backend.Backend;
import io.vlm4j.io.ConfigFields;
import io.vlm4j.io.ModelFormatException;
import io.vlm4j.io.StrictJson;
import io.vlm4j.io.WeightStore;
import io.vlm4j.model.bert.BertConfig;
import io.vlm4j.model.bert.BertTextTower;
import io.vlm4j.model.vit.OpenClipSiglipConfig;
import io.vlm4j.model.vit.SiglipConfig;
import io.vlm4j.model.vit.SiglipConfigLoader;
import io.vlm4j.model.vit.SiglipLogits;
import io.vlm4j.model.vit.SiglipTextTower;
import io.vlm4j.model.vit.SiglipVisionTower;
import io.vlm4j.model.vit.TimmVisionTower;
import io.vlm4j.model.vit.TimmVitConfig;
import io.vlm4j.tensor.Tensor;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The model families beside CLIP, assembled from their towers into a {@link ClipModel} (the dual-encoder API every
 * command uses): model definitions live in their packages ({@code model.vit}, {@code model.bert}), this class only
 * reads the files and wires the towers.
 * <ul>
 *   <li><b>BiomedCLIP</b> and other open_clip {@code CustomTextCLIP} models with a timm ViT image tower and a BERT text
 *       tower (spec 04): {@code open_clip_config.json} (vision_cfg.timm_model_name, timm_pool, timm_proj; text_cfg
 *       hf_model_name, hf_pooler_type, hf_proj_type, context_length) + weights under open_clip's names
 *       ({@code visual.trunk.*}, {@code visual.head.proj.weight}, {@code text.transformer.*}, {@code text.proj.*},
 *       {@code logit_scale}), as {@code models/convert/open_clip_to_vlm4j.py} writes them. The BERT shape comes from a
 *       {@code text_config.json} (HF BertConfig) beside them when present, else from the weights (heads = width / 64,
 *       the BERT-base/large convention, eps 1e-12, exact GELU, pad id 0).</li>
 *   <li><b>SigLIP</b> (HF {@code SiglipModel} export, spec 06): {@code config.json} with model_type siglip; logits
 *       exp(logit_scale)·cos + logit_bias, probabilities by sigmoid. Its tokenizer is
 *       {@link io.vlm4j.text.SentencePieceTokenizer} ({@code spiece.model} beside the weights).</li>
 *   <li><b>open_clip SigLIP</b> ({@code CustomTextCLIP}, e.g. hub {@code timm/ViT-B-16-SigLIP}, spec 06 §6.2):
 *       {@code open_clip_config.json} whose vision_cfg names a timm SigLIP ViT ({@code vit_*_siglip_*}, timm_pool
 *       "map", timm_proj "none") and whose text_cfg is open_clip's native tower (no_causal_mask, pool_type "last",
 *       proj_bias) + {@code open_clip_model.safetensors} under open_clip's names. It runs on the same SigLIP towers:
 *       {@link io.vlm4j.model.vit.OpenClipSiglipConfig} builds their configuration (activation per timm entry: exact
 *       GELU for {@code vit_base_patch16_siglip_224}, unlike HF's tanh-GELU export), {@code OpenClipSiglipWeights}
 *       serves the HF names from open_clip's (q/k/v row thirds of the fused projections, the pool's q ++ kv as
 *       in_proj). Family "siglip".</li>
 * </ul>
 */
public final class ModelFamilies {
    private ModelFamilies() {}

    /** The presets {@link #random} builds, beside CLIP's ({@link ClipConfig#preset}). */
    public static final List<String> PRESETS = List.of("biomedclip-vit-b16", "siglip-base-patch16-224");

    /**
     * A model of another family when {@code path} holds one; empty for CLIP (the caller's own path). hf: the directory's
     * config.json ({@code hfFile}) as the caller read it, or null when there is none.
     */
    static Optional<ClipModel> load(Path path, Path configDir, Path hfFile, JsonNode hf, Backend backend, boolean ownsBackend)
            throws IOException {
        Path openClip = configDir.resolve("open_clip_config.json");
        if (hf == null && Files.isRegularFile(openClip)) {
            JsonNode root = StrictJson.readConfig(openClip, "open_clip config");
            JsonNode m = root.has("model_cfg") ? root.get("model_cfg") : root;
            if (m.path("vision_cfg").hasNonNull("timm_model_name") && m.path("text_cfg").hasNonNull("hf_model_name")) {
                return Optional.of(loadBiomedClip(path, configDir, openClip, m, backend, ownsBackend));
            }
            if (OpenClipSiglipConfig.isTimmWithNativeText(m)) {
                OpenClipSiglipConfig.check(openClip, m);
                try (WeightStore store = WeightStore.open(weightsFile(path, configDir))) {
                    SiglipConfig c = OpenClipSiglipConfig.read(openClip, m, store);
                    return Optional.of(siglip(backend, ownsBackend, c, OpenClipSiglipWeights.of(store)));
                }
            }
            return Optional.empty();
        }
        if (hf != null && hf.path("model_type").asText("").startsWith("siglip")) {
            SiglipConfig c = SiglipConfigLoader.load(hfFile, hf);
            try (WeightStore store = WeightStore.open(weightsFile(path, configDir))) {
                return Optional.of(siglip(backend, ownsBackend, c, new StoreWeights(store)));
            }
        }
        return Optional.empty();
    }

    private static Path weightsFile(Path path, Path configDir) throws IOException {
        if (Files.isRegularFile(path)) return path;
        for (String n : new String[] {"model.safetensors", "open_clip_model.safetensors"}) {
            if (Files.isRegularFile(configDir.resolve(n))) return configDir.resolve(n);
        }
        if (Files.isRegularFile(configDir.resolve("open_clip_pytorch_model.bin"))) {
            throw new ModelFormatException(configDir.resolve("open_clip_pytorch_model.bin"),
                    "a PyTorch pickle: convert it once with models/convert/open_clip_to_vlm4j.py");
        }
        throw new java.nio.file.NoSuchFileException(configDir.resolve("model.safetensors").toString(), null, "no weights file");
    }

    private static ClipModel loadBiomedClip(Path path, Path configDir, Path file, JsonNode m, Backend backend, boolean owns) throws IOException {
        ConfigFields top = ConfigFields.openClip(file, "model_cfg.", m), v = top.child("vision_cfg"), t = top.child("text_cfg");
        int embed = top.integer("embed_dim", 0);
        if (embed <= 0) throw new ModelFormatException(file, "model_cfg.embed_dim is missing or not positive");
        String timmName = v.string("timm_model_name", "");
        TimmVitConfig vc;
        try {
            vc = TimmVitConfig.preset(timmName);
        } catch (IllegalArgumentException e) {
            throw new ModelFormatException(file, "vision_cfg.timm_model_name '" + timmName + "' is not a timm ViT this library builds ("
                    + TimmVitConfig.presetNames() + ")");
        }
        String pool = v.string("timm_pool", "");
        if (!pool.isEmpty() && !pool.equals(vc.pool())) {
            throw new ModelFormatException(file, "vision_cfg.timm_pool '" + pool + "' is not supported (the preset pools '" + vc.pool() + "')");
        }
        String proj = v.string("timm_proj", "linear");
        if (!proj.equals("linear")) throw new ModelFormatException(file, "vision_cfg.timm_proj '" + proj + "': only 'linear' is supported");
        if (v.bool("timm_proj_bias", false)) throw new ModelFormatException(file, "vision_cfg.timm_proj_bias is not supported");
        int imageSize = v.integer("image_size", vc.imageSize());
        if (imageSize != vc.imageSize()) {
            throw new ModelFormatException(file, "vision_cfg.image_size " + imageSize + " differs from the timm preset's "
                    + vc.imageSize() + " (position-embedding resizing is not supported)");
        }
        vc = vc.withLinearProjection(embed);
        BertTextTower.Pooling pooling;
        BertTextTower.Projection projection;
        try {
            pooling = BertTextTower.Pooling.fromOpenClip(t.string("hf_pooler_type", "cls_last_hidden_state_pooler"));
            projection = BertTextTower.Projection.fromOpenClip(t.string("hf_proj_type", "mlp"));
        } catch (IllegalArgumentException e) {
            throw new ModelFormatException(file, "text_cfg: " + e.getMessage());
        }
        Path weights = weightsFile(path, configDir);
        try (WeightStore store = WeightStore.open(weights)) {
            WeightSource w = new StoreWeights(store);
            BertConfig bc = Files.isRegularFile(configDir.resolve("text_config.json"))
                    ? BertConfig.load(configDir.resolve("text_config.json")) : inferBert(store, weights);
            int context = t.integer("context_length", Math.min(512, bc.maxPositions()));
            return assemble(backend, owns, vc, bc, pooling, projection, embed, w, context);
        }
    }

    /** BiomedCLIP from its parts (the loader's last step; tests build tiny ones with their own configurations). */
    public static ClipModel biomedClip(Backend backend, TimmVitConfig vision, BertConfig text, BertTextTower.Pooling pooling,
                                       BertTextTower.Projection projection, int embedDim, WeightSource weights) throws IOException {
        return assemble(backend, false, vision.withLinearProjection(embedDim), text, pooling, projection, embedDim, weights, text.maxPositions());
    }

    private static ClipModel assemble(Backend backend, boolean owns, TimmVitConfig vc, BertConfig bc, BertTextTower.Pooling pooling,
                                      BertTextTower.Projection projection, int embed, WeightSource w, int context) throws IOException {
        io.vlm4j.model.ImageTower vision = new TimmVisionTower(backend, vc, w, "visual.trunk.", "visual.head.");
        try {
            BertTextTower text = new BertTextTower(backend, bc, w, "text.transformer.", pooling, projection, embed, "text.proj.");
            float scale = logitScale(w);
            return new ClipModel(backend, owns, "biomedclip", vision, new ContextLimited(text, context), scale, 0f);
        } catch (IOException | RuntimeException e) {
            vision.close();
            throw e;
        }
    }

    private static float logitScale(WeightSource w) throws IOException {
        if (!w.contains("logit_scale")) return (float) Math.log(1 / 0.07);
        try (Tensor s = w.tensor("logit_scale")) {
            return s.toFloatArray()[0];
        }
    }

    private static final Pattern BERT_LAYER = Pattern.compile("^text\\.transformer\\.encoder\\.layer\\.(\\d+)\\.");

    /** The BERT shape from the tensors (heads: width / 64). */
    private static BertConfig inferBert(WeightStore store, Path file) throws IOException {
        String p = "text.transformer.";
        if (!store.contains(p + "embeddings.word_embeddings.weight")) {
            throw new ModelFormatException(file, "no " + p + "embeddings.word_embeddings.weight: not an open_clip BERT text tower");
        }
        long[] word = store.info(p + "embeddings.word_embeddings.weight").shape();
        long[] pos = store.info(p + "embeddings.position_embeddings.weight").shape();
        long[] types = store.info(p + "embeddings.token_type_embeddings.weight").shape();
        long[] inter = store.info(p + "encoder.layer.0.intermediate.dense.weight").shape();
        TreeSet<Integer> layers = new TreeSet<>();
        for (String n : store.names()) {
            Matcher mm = BERT_LAYER.matcher(n);
            if (mm.find()) layers.add(Integer.parseInt(mm.group(1)));
        }
        int hidden = Math.toIntExact(word[1]);
        if (hidden % 64 != 0) {
            throw new ModelFormatException(file, "BERT width " + hidden + " is not a multiple of 64: put its config.json beside the weights as text_config.json");
        }
        return new BertConfig(Math.toIntExact(word[0]), hidden, layers.size(), hidden / 64, Math.toIntExact(inter[0]), Math.toIntExact(pos[0]),
                Math.toIntExact(types[0]), 1e-12, "gelu", 0);
    }

    /**
     * A SigLIP model from a configuration and weights under HF {@code SiglipModel} names (logit_scale / logit_bias when
     * present, else the training init ln 10 / −10), on {@code backend}, which the caller keeps owning.
     */
    public static ClipModel siglip(Backend backend, SiglipConfig c, WeightSource w) throws IOException {
        return siglip(backend, false, c, w);
    }

    private static ClipModel siglip(Backend backend, boolean owns, SiglipConfig c, WeightSource w) throws IOException {
        SiglipVisionTower vision = null;
        SiglipTextTower text = null;
        try {
            if (c.vision().isPresent()) vision = new SiglipVisionTower(backend, c.vision().get(), w, "vision_model.");
            if (c.text().isPresent()) text = new SiglipTextTower(backend, c.text().get(), w, "text_model.");
            SiglipLogits logits = w.contains("logit_bias") ? SiglipLogits.load(w) : new SiglipLogits(Math.log(10), -10);
            return new ClipModel(backend, owns, "siglip", vision, text, (float) logits.logitScale(), (float) logits.logitBias());
        } catch (IOException | RuntimeException e) {
            if (vision != null) vision.close();
            if (text != null) text.close();
            throw e;
        }
    }

    /**
     * A preset of any family with seeded random weights, for benchmarks and tests: CLIP's ({@link ClipConfig#preset},
     * e.g. ViT-B/16) or another family's ({@link #PRESETS}).
     */
    public static ClipModel random(String preset, long seed, Backend backend) throws IOException {
        RandomWeights w = new RandomWeights(seed);
        return switch (preset.toLowerCase(Locale.ROOT)) {
            case "biomedclip-vit-b16" -> assemble(backend, false, TimmVitConfig.biomedClip().withLinearProjection(512), BertConfig.biomedBertBase(),
                    BertTextTower.Pooling.CLS_LAST_HIDDEN_STATE, BertTextTower.Projection.MLP, 512, w, 256);
            case "siglip-base-patch16-224" -> siglip(backend, false, SiglipConfig.base16(), w);
            default -> {
                ClipConfig config;
                try {
                    config = ClipConfig.preset(preset);
                } catch (IllegalArgumentException e) {
                    throw new IllegalArgumentException("unknown preset '" + preset + "' (CLIP: " + ClipConfig.presetNames() + "; others: " + PRESETS + ")");
                }
                yield ClipModel.random(config, seed, backend);
            }
        };
    }

    /** A text tower whose inputs are capped at a trained context shorter than its position table (BiomedCLIP: 256 of 512). */
    private record ContextLimited(BertTextTower tower, int context) implements io.vlm4j.model.TextTower {
        @Override
        public String family() { return tower.family(); }

        @Override
        public int projectionDim() { return tower.projectionDim(); }

        @Override
        public int maxLength() { return Math.min(context, tower.maxLength()); }

        @Override
        public int vocabSize() { return tower.vocabSize(); }

        /**
         * Ids longer than the context are accepted when everything past it is padding (a tokenizer that pads to its own,
         * longer default): those columns are masked keys that change nothing, so they are dropped.
         */
        @Override
        public void forward(Tensor ids, Tensor attentionMask, Tensor out) {
            withinContext(ids, attentionMask, "text forward", (i, m) -> {
                tower.forward(i, m, out);
                return null;
            });
        }

        @Override
        public io.vlm4j.model.Tape forwardTrain(Tensor ids, Tensor attentionMask, Tensor out, boolean checkpoint) {
            return withinContext(ids, attentionMask, "text forwardTrain", (i, m) -> tower.forwardTrain(i, m, out, checkpoint));
        }

        /** {@code run} on the ids and mask cut to the context (the same tensors when they fit). */
        private <R> R withinContext(Tensor ids, Tensor attentionMask, String op, java.util.function.BiFunction<Tensor, Tensor, R> run) {
            int ctx = maxLength();
            if (ids.rank() != 2 || ids.dim(1) <= ctx) return run.apply(ids, attentionMask);
            int b = (int) ids.dim(0), len = (int) ids.dim(1), pad = tower.config().padTokenId();
            int[] v = ids.device() == io.vlm4j.tensor.Device.CPU && ids.dtype() == io.vlm4j.tensor.DType.I32 ? ids.toIntArray() : null;
            int[] m = attentionMask == null || attentionMask.device() != io.vlm4j.tensor.Device.CPU ? null : attentionMask.toIntArray();
            for (int r = 0; v != null && r < b; r++) {
                for (int j = ctx; j < len; j++) {
                    boolean padding = m != null ? m[r * len + j] == 0 : v[r * len + j] == pad;
                    if (!padding) v = null;
                    if (v == null) break;
                }
            }
            if (v == null) {
                throw new IllegalArgumentException(op + ": a text of more than " + ctx + " tokens exceeds the model's context " + ctx);
            }
            int[] cut = new int[b * ctx], cutMask = m == null ? null : new int[b * ctx];
            for (int r = 0; r < b; r++) {
                System.arraycopy(v, r * len, cut, r * ctx, ctx);
                if (m != null) System.arraycopy(m, r * len, cutMask, r * ctx, ctx);
            }
            try (Tensor shortIds = Tensor.ofInts(cut, b, ctx); Tensor shortMask = m == null ? null : Tensor.ofInts(cutMask, b, ctx)) {
                return run.apply(shortIds, shortMask);
            }
        }

        @Override
        public void backward(io.vlm4j.model.Tape tape, Tensor dOut) { tower.backward(tape, dOut); }

        @Override
        public boolean trainable() { return tower.trainable(); }

        @Override
        public java.util.List<io.vlm4j.lora.LoraWeights.Linear> linears() { return tower.linears(); }

        @Override
        public void attachAdapters(io.vlm4j.lora.LoraState state) { tower.attachAdapters(state); }

        @Override
        public void detachAdapters() { tower.detachAdapters(); }

        @Override
        public void mergeAdapters(int sign) { tower.mergeAdapters(sign); }

        @Override
        public void checkIds(Tensor ids) { tower.checkIds(ids); }

        @Override
        public long macsPerText(long len) { return tower.macsPerText(len); }

        @Override
        public void close() { tower.close(); }
    }
}
