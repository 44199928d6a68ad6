package io.vlm4j.model.clip;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.vlm4j.backend.cpu.CpuBackend;
import io.vlm4j.io.SafetensorsWriter;
import io.vlm4j.tensor.Tensor;
import io.vlm4j.tensor.TensorScope;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.function.UnaryOperator;

/**
 * A small random CLIP written twice: as an HF directory (config.json + model.safetensors with HF names) and as an
 * open_clip directory (open_clip_config.json + OpenAI/open_clip names: fused in_proj, [D, E] projections), from
 * the same float values. The open_clip side is written here by hand, independently of {@link OpenClipWeights}, so
 * that a mapping mistake there shows up as a difference between the two loads.
 */
final class OpenClipTestModels {
    /** One architecture in open_clip's terms; {@link #hfConfig()} is what open_clip's config should become. */
    record Arch(int embedDim, boolean quickGelu, int visionWidth, int visionLayers, int headWidth, double visionMlpRatio,
                int imageSize, int patchSize, int contextLength, int vocabSize, int textWidth, int textHeads,
                int textLayers, double textMlpRatio, double eps) {

        static Arch small() {  // quick_gelu, head_width 8 (4 heads), vision mlp_ratio 2
            return new Arch(24, true, 32, 2, 8, 2.0, 32, 8, 16, 1000, 32, 4, 2, 4.0, 1e-5);
        }

        static Arch otherShapes() {  // exact GELU, 2 vision heads, mlp_ratio 3, LayerNorm eps 1e-6
            return new Arch(20, false, 32, 2, 16, 3.0, 24, 8, 12, 300, 32, 2, 1, 3.0, 1e-6);
        }

        String act() { return quickGelu ? "quick_gelu" : "gelu"; }

        /** The HF config with the same math; its text pools at the first eos = vocab − 1, where argmax pools too. */
        ClipConfig hfConfig() {
            ClipTextConfig t = new ClipTextConfig(vocabSize, textWidth, (int) (textWidth * textMlpRatio), textLayers, textHeads,
                    contextLength, act(), eps, embedDim, 0, vocabSize - 2, vocabSize - 1);
            ClipVisionConfig v = new ClipVisionConfig(visionWidth, (int) (visionWidth * visionMlpRatio), visionLayers,
                    visionWidth / headWidth, 3, imageSize, patchSize, act(), eps, embedDim);
            return ClipConfig.of(t, v, embedDim);
        }

        /** open_clip_config.json as the hub writes it: {model_cfg, preprocess_cfg}. */
        ObjectNode openClipConfig(ObjectMapper json) {
            ObjectNode root = json.createObjectNode();
            ObjectNode m = root.putObject("model_cfg");
            m.put("embed_dim", embedDim);
            if (quickGelu) m.put("quick_gelu", true);
            ObjectNode v = m.putObject("vision_cfg");
            v.put("image_size", imageSize).put("layers", visionLayers).put("width", visionWidth).put("patch_size", patchSize)
                    .put("head_width", headWidth).put("mlp_ratio", visionMlpRatio);
            ObjectNode t = m.putObject("text_cfg");
            t.put("context_length", contextLength).put("vocab_size", vocabSize).put("width", textWidth).put("heads", textHeads)
                    .put("layers", textLayers).put("mlp_ratio", textMlpRatio);
            if (eps != 1e-5) {
                v.putObject("norm_kwargs").put("eps", eps);
                t.putObject("norm_kwargs").put("eps", eps);
            }
            ObjectNode p = root.putObject("preprocess_cfg");
            p.putArray("mean").add(0.48145466).add(0.4578275).add(0.40821073);
            p.putArray("std").add(0.26862954).add(0.26130258).add(0.27577711);
            return root;
        }
    }

    private final ObjectMapper json = new ObjectMapper();
    final Arch arch;
    /** HF name → values and shape, in the order the towers read them. */
    final Map<String, float[]> values = new LinkedHashMap<>();
    final Map<String, long[]> shapes = new LinkedHashMap<>();

    /** Random values with O(1) activations: LayerNorm γ ≈ 1, β and biases ≈ 0.1, weights N(0, 1/fan-in). */
    OpenClipTestModels(Arch arch, long seed) throws IOException {
        this.arch = arch;
        SplittableRandom r = new SplittableRandom(seed);
        WeightSource recorder = new WeightSource() {
            @Override
            public Tensor tensor(String name, long... shape) {
                shapes.put(name, shape.clone());
                return Tensor.of(new float[(int) io.vlm4j.tensor.Shapes.numel(shape)], shape);
            }

            @Override
            public boolean contains(String name) { return false; }

            @Override
            public String describe() { return "recorder"; }
        };
        ClipConfig cfg = arch.hfConfig();
        try (CpuBackend cpu = new CpuBackend();
             ClipVisionTower v = new ClipVisionTower(cpu, cfg.vision().orElseThrow(), arch.embedDim(), recorder);
             ClipTextTower t = new ClipTextTower(cpu, cfg.text().orElseThrow(), arch.embedDim(), recorder)) {
            // built only to learn which tensors the towers read
        }
        shapes.put("logit_scale", new long[0]);
        for (Map.Entry<String, long[]> e : shapes.entrySet()) {
            String name = e.getKey();
            long[] shape = e.getValue();
            float[] v = new float[(int) io.vlm4j.tensor.Shapes.numel(shape)];
            boolean norm = name.contains("layer_norm") || name.contains("layrnorm");
            double std = name.endsWith(".bias") ? 0.1 : norm ? 0.1 : name.contains("embedding") && !name.contains("patch") ? 0.5
                    : 1 / Math.sqrt(shape.length >= 2 ? v.length / shape[0] : 1);
            for (int i = 0; i < v.length; i++) v[i] = (float) ((norm && name.endsWith(".weight") ? 1 : 0) + std * gaussian(r));
            if (name.equals("logit_scale")) v[0] = 2.5f;
            values.put(name, v);
        }
    }

    private static double gaussian(SplittableRandom r) {
        double u1 = 1.0 - r.nextDouble(), u2 = r.nextDouble();
        return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
    }

    /** config.json (model_type clip) + model.safetensors with HF names. */
    Path writeHf(Path dir) throws IOException {
        Files.createDirectories(dir);
        ClipConfig cfg = arch.hfConfig();
        ClipTextConfig t = cfg.text().orElseThrow();
        ClipVisionConfig v = cfg.vision().orElseThrow();
        ObjectNode c = json.createObjectNode();
        c.put("model_type", "clip").put("projection_dim", arch.embedDim());
        c.putObject("text_config").put("vocab_size", t.vocabSize()).put("hidden_size", t.hiddenSize())
                .put("intermediate_size", t.intermediateSize()).put("num_hidden_layers", t.numHiddenLayers())
                .put("num_attention_heads", t.numAttentionHeads()).put("max_position_embeddings", t.maxPositionEmbeddings())
                .put("hidden_act", t.hiddenAct()).put("layer_norm_eps", t.layerNormEps()).put("pad_token_id", t.padTokenId())
                .put("bos_token_id", t.bosTokenId()).put("eos_token_id", t.eosTokenId());
        c.putObject("vision_config").put("hidden_size", v.hiddenSize()).put("intermediate_size", v.intermediateSize())
                .put("num_hidden_layers", v.numHiddenLayers()).put("num_attention_heads", v.numAttentionHeads())
                .put("image_size", v.imageSize()).put("patch_size", v.patchSize()).put("hidden_act", v.hiddenAct())
                .put("layer_norm_eps", v.layerNormEps());
        json.writeValue(dir.resolve("config.json").toFile(), c);
        write(dir.resolve("model.safetensors"), values, shapes);
        return dir;
    }

    /** The same weights under open_clip names, with open_clip_config.json; {@code rename} edits the final name map. */
    Path writeOpenClip(Path dir, String weightsFile, String textPrefix, UnaryOperator<Map<String, Entry>> edit)
            throws IOException {
        Files.createDirectories(dir);
        json.writeValue(dir.resolve(OpenClipLayout.CONFIG_FILE).toFile(), arch.openClipConfig(json));
        writeOpenClipWeights(dir.resolve(weightsFile), textPrefix, edit);
        return dir;
    }

    /** A tensor to write: values and shape. */
    record Entry(float[] values, long[] shape) {}

    void writeOpenClipWeights(Path file, String textPrefix, UnaryOperator<Map<String, Entry>> edit) throws IOException {
        Map<String, Entry> out = new LinkedHashMap<>();
        for (String tower : new String[] {"vision", "text"}) {
            String from = tower + "_model.encoder.layers.", to = tower.equals("vision") ? "visual." : textPrefix;
            int layers = tower.equals("vision") ? arch.visionLayers() : arch.textLayers();
            for (int i = 0; i < layers; i++) {
                String p = from + i + ".", q = to + "transformer.resblocks." + i + ".";
                copy(out, p + "layer_norm1.weight", q + "ln_1.weight");
                copy(out, p + "layer_norm1.bias", q + "ln_1.bias");
                out.put(q + "attn.in_proj_weight", stack(p, "weight"));
                out.put(q + "attn.in_proj_bias", stack(p, "bias"));
                copy(out, p + "self_attn.out_proj.weight", q + "attn.out_proj.weight");
                copy(out, p + "self_attn.out_proj.bias", q + "attn.out_proj.bias");
                copy(out, p + "layer_norm2.weight", q + "ln_2.weight");
                copy(out, p + "layer_norm2.bias", q + "ln_2.bias");
                copy(out, p + "mlp.fc1.weight", q + "mlp.c_fc.weight");
                copy(out, p + "mlp.fc1.bias", q + "mlp.c_fc.bias");
                copy(out, p + "mlp.fc2.weight", q + "mlp.c_proj.weight");
                copy(out, p + "mlp.fc2.bias", q + "mlp.c_proj.bias");
            }
        }
        copy(out, "vision_model.embeddings.patch_embedding.weight", "visual.conv1.weight");
        copy(out, "vision_model.embeddings.class_embedding", "visual.class_embedding");
        copy(out, "vision_model.embeddings.position_embedding.weight", "visual.positional_embedding");
        copy(out, "vision_model.pre_layrnorm.weight", "visual.ln_pre.weight");
        copy(out, "vision_model.pre_layrnorm.bias", "visual.ln_pre.bias");
        copy(out, "vision_model.post_layernorm.weight", "visual.ln_post.weight");
        copy(out, "vision_model.post_layernorm.bias", "visual.ln_post.bias");
        out.put("visual.proj", transposed("visual_projection.weight"));
        copy(out, "text_model.embeddings.token_embedding.weight", textPrefix + "token_embedding.weight");
        copy(out, "text_model.embeddings.position_embedding.weight", textPrefix + "positional_embedding");
        copy(out, "text_model.final_layer_norm.weight", textPrefix + "ln_final.weight");
        copy(out, "text_model.final_layer_norm.bias", textPrefix + "ln_final.bias");
        out.put(textPrefix + "text_projection", transposed("text_projection.weight"));
        copy(out, "logit_scale", "logit_scale");
        out = edit.apply(out);
        Map<String, float[]> v = new LinkedHashMap<>();
        Map<String, long[]> s = new LinkedHashMap<>();
        out.forEach((k, e) -> {
            v.put(k, e.values());
            s.put(k, e.shape());
        });
        write(file, v, s);
    }

    private void copy(Map<String, Entry> out, String hf, String openClip) {
        out.put(openClip, new Entry(values.get(hf), shapes.get(hf)));
    }

    /** [3D, D] (or [3D]) rows: q, then k, then v, as nn.MultiheadAttention's in_proj. */
    private Entry stack(String p, String which) {
        float[] q = values.get(p + "self_attn.q_proj." + which), k = values.get(p + "self_attn.k_proj." + which),
                vv = values.get(p + "self_attn.v_proj." + which);
        float[] all = new float[q.length * 3];
        System.arraycopy(q, 0, all, 0, q.length);
        System.arraycopy(k, 0, all, q.length, q.length);
        System.arraycopy(vv, 0, all, 2 * q.length, q.length);
        long[] shape = shapes.get(p + "self_attn.q_proj." + which).clone();
        shape[0] *= 3;
        return new Entry(all, shape);
    }

    /** HF [E, D] → open_clip [D, E]. */
    private Entry transposed(String hf) {
        long[] s = shapes.get(hf);
        float[] v = values.get(hf), t = new float[v.length];
        int rows = (int) s[0], cols = (int) s[1];
        for (int r = 0; r < rows; r++) for (int c = 0; c < cols; c++) t[c * rows + r] = v[r * cols + c];
        return new Entry(t, new long[] {s[1], s[0]});
    }

    private static void write(Path file, Map<String, float[]> values, Map<String, long[]> shapes) throws IOException {
        try (TensorScope scope = new TensorScope()) {
            SafetensorsWriter w = new SafetensorsWriter();
            for (Map.Entry<String, float[]> e : values.entrySet()) {
                w.add(e.getKey(), scope.track(Tensor.of(e.getValue(), shapes.get(e.getKey()))));
            }
            w.write(file);
        }
    }

    /** Seeded pixels N(0, 1) [n, 3, S, S]. */
    Tensor pixels(int n, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        int s = arch.imageSize();
        float[] v = new float[n * 3 * s * s];
        for (int i = 0; i < v.length; i++) v[i] = (float) gaussian(r);
        return Tensor.of(v, n, 3, s, s);
    }

    /**
     * Token ids [n, L] as OpenAI's tokenizer lays them out: start token, words, end token (the largest id), zero
     * padding; the end token sits at a different position in each row.
     */
    Tensor ids(int n, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        int len = arch.contextLength(), vocab = arch.vocabSize();
        int[] v = new int[n * len];
        for (int row = 0; row < n; row++) {
            int eot = 2 + row % (len - 2);
            v[row * len] = vocab - 2;
            for (int j = 1; j < eot; j++) v[row * len + j] = 1 + r.nextInt(vocab - 3);
            v[row * len + eot] = vocab - 1;
        }
        return Tensor.ofInts(v, n, len);
    }
}
