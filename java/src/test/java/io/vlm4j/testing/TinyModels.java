package io.vlm4j.testing;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.vlm4j.backend.Backend;
import io.vlm4j.backend.cpu.CpuBackend;
import io.vlm4j.io.SafetensorsWriter;
import io.vlm4j.model.bert.BertConfig;
import io.vlm4j.model.bert.BertTextTower;
import io.vlm4j.model.clip.ClipConfig;
import io.vlm4j.model.clip.ClipVisionConfig;
import io.vlm4j.model.clip.ClipVisionTower;
import io.vlm4j.model.clip.ModelFamilies;
import io.vlm4j.model.clip.RandomWeights;
import io.vlm4j.model.clip.WeightSource;
import io.vlm4j.model.vit.SiglipConfig;
import io.vlm4j.model.vit.SiglipConfigLoader;
import io.vlm4j.model.vit.TimmVitConfig;
import io.vlm4j.tensor.Tensor;
import io.vlm4j.tensor.TensorScope;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

/** A tiny image tower (20 px, patch 4, width 32, 2 layers, embeddings of 16) with seeded random weights, on disk. */
public final class TinyModels {
    public static final ClipVisionConfig VISION = new ClipVisionConfig(32, 64, 2, 4, 3, 20, 4, "quick_gelu", 1e-5, 16);

    private TinyModels() {}

    /** The same model in memory ({@code ClipModel.random(visionOnly(), seed, backend)}). */
    public static ClipConfig visionOnly() {
        return new ClipConfig(Optional.empty(), Optional.of(VISION), 16, ClipConfig.DEFAULT_LOGIT_SCALE_INIT);
    }

    /** A CLIPVisionModelWithProjection directory: config.json and model.safetensors holding RandomWeights(seed). */
    public static Path writeVisionModel(Path dir, long seed) throws IOException {
        Files.createDirectories(dir);
        writeWeights(dir, seed, (b, w) -> new ClipVisionTower(b, VISION, VISION.projectionDim(), w));
        ObjectNode c = new ObjectMapper().createObjectNode();
        c.put("model_type", "clip_vision_model").put("hidden_size", VISION.hiddenSize()).put("intermediate_size", VISION.intermediateSize())
                .put("num_hidden_layers", VISION.numHiddenLayers()).put("num_attention_heads", VISION.numAttentionHeads())
                .put("num_channels", 3).put("image_size", VISION.imageSize()).put("patch_size", VISION.patchSize())
                .put("hidden_act", VISION.hiddenAct()).put("layer_norm_eps", VISION.layerNormEps())
                .put("projection_dim", VISION.projectionDim());
        new ObjectMapper().writeValue(dir.resolve("config.json").toFile(), c);
        return dir;
    }

    /**
     * A tiny HF SigLIP directory (vision 32 px / patch 8, width 32; text width 24, 64 positions, vocabulary 500; 2 layers
     * each) with RandomWeights(seed), SigLIP preprocessing, and the test SentencePiece model (resources/sentencepiece,
     * 500 pieces, pad = eos = 1), so every command runs on it end to end.
     */
    public static Path writeSiglipModel(Path dir, long seed) throws IOException {
        Files.createDirectories(dir);
        Files.writeString(dir.resolve("config.json"), """
                {"model_type": "siglip",
                 "text_config": {"hidden_act": "gelu_pytorch_tanh", "hidden_size": 24, "intermediate_size": 40, "layer_norm_eps": 1e-06,
                   "max_position_embeddings": 64, "num_attention_heads": 4, "num_hidden_layers": 2, "pad_token_id": 1, "eos_token_id": 1,
                   "projection_size": 32, "vocab_size": 500},
                 "vision_config": {"hidden_act": "gelu_pytorch_tanh", "hidden_size": 32, "image_size": 32, "intermediate_size": 64,
                   "layer_norm_eps": 1e-06, "num_attention_heads": 4, "num_channels": 3, "num_hidden_layers": 2, "patch_size": 8}}
                """);
        Files.writeString(dir.resolve("preprocessor_config.json"), """
                {"image_processor_type": "SiglipImageProcessor", "do_resize": true, "size": {"height": 32, "width": 32}, "resample": 3,
                 "do_rescale": true, "rescale_factor": 0.00392156862745098, "do_normalize": true,
                 "image_mean": [0.5, 0.5, 0.5], "image_std": [0.5, 0.5, 0.5]}
                """);
        SiglipConfig config = SiglipConfigLoader.load(dir.resolve("config.json"));
        writeWeights(dir, seed, (b, w) -> ModelFamilies.siglip(b, config, w));
        for (String f : new String[] {"spiece.model", "tokenizer_config.json"}) {
            try (var in = TinyModels.class.getResourceAsStream("/sentencepiece/" + f)) {
                Files.copy(in, dir.resolve(f));
            }
        }
        return dir;
    }

    /** BiomedCLIP-shaped test model: timm vit_tiny_patch16_224 (224 px, width 192, 12 blocks) and a 2-layer BERT. */
    public static final TimmVitConfig BIOMED_VIT = TimmVitConfig.preset("vit_tiny_patch16_224");
    /** The BERT of {@link #writeBiomedClipModel}: the test WordPiece vocabulary's 218 tokens, width 64, 32 positions. */
    public static final BertConfig BIOMED_BERT = new BertConfig(218, 64, 2, 4, 96, 32, 2, 1e-12, "gelu", 0);
    /** Embedding size and text context of {@link #writeBiomedClipModel}. */
    public static final int BIOMED_EMBED = 16, BIOMED_CONTEXT = 16;

    /**
     * An open_clip CustomTextCLIP directory shaped like BiomedCLIP ({@code open_clip_config.json} with a timm ViT and an
     * HF BERT with CLS pooling and the MLP projection, {@code text_config.json}, weights under open_clip names valued
     * RandomWeights(seed), a 224-px preprocessor config and the test WordPiece {@code vocab.txt}), the same model as
     * {@code ModelFamilies.biomedClip(backend, BIOMED_VIT, BIOMED_BERT, CLS_LAST_HIDDEN_STATE, MLP, BIOMED_EMBED,
     * new RandomWeights(seed))} with its context capped at {@link #BIOMED_CONTEXT}.
     */
    public static Path writeBiomedClipModel(Path dir, long seed) throws IOException {
        Files.createDirectories(dir);
        writeWeights(dir, seed, (b, w) -> ModelFamilies.biomedClip(b, BIOMED_VIT, BIOMED_BERT, BertTextTower.Pooling.CLS_LAST_HIDDEN_STATE,
                BertTextTower.Projection.MLP, BIOMED_EMBED, w));
        ObjectMapper json = new ObjectMapper();
        ObjectNode root = json.createObjectNode(), cfg = root.putObject("model_cfg");
        cfg.put("embed_dim", BIOMED_EMBED);
        cfg.putObject("vision_cfg").put("timm_model_name", "vit_tiny_patch16_224").put("timm_pool", "").put("timm_proj", "linear").put("image_size", 224);
        cfg.putObject("text_cfg").put("hf_model_name", "tiny-bert").put("hf_proj_type", "mlp").put("hf_pooler_type", "cls_last_hidden_state_pooler")
                .put("context_length", BIOMED_CONTEXT);
        json.writeValue(dir.resolve("open_clip_config.json").toFile(), root);
        BertConfig c = BIOMED_BERT;
        ObjectNode bc = json.createObjectNode().put("model_type", "bert").put("vocab_size", c.vocab()).put("hidden_size", c.hidden())
                .put("num_hidden_layers", c.layers()).put("num_attention_heads", c.heads()).put("intermediate_size", c.intermediate())
                .put("max_position_embeddings", c.maxPositions()).put("type_vocab_size", 2).put("layer_norm_eps", 1e-12)
                .put("hidden_act", "gelu").put("pad_token_id", 0);
        json.writeValue(dir.resolve("text_config.json").toFile(), bc);
        Files.writeString(dir.resolve("preprocessor_config.json"), "{\"crop_size\": 224, \"size\": 224}");
        try (var in = TinyModels.class.getResourceAsStream("/io/vlm4j/text/bert/vocab.txt")) {
            Files.copy(in, dir.resolve("vocab.txt"));
        }
        return dir;
    }

    /** What a model builder reads from its weights. */
    @FunctionalInterface
    interface Builder {
        AutoCloseable build(Backend backend, WeightSource weights) throws IOException;
    }

    /**
     * model.safetensors in {@code dir} with every tensor {@code builder} reads (names and shapes recorded by building
     * the model once on a recording source), valued RandomWeights(seed).
     */
    static void writeWeights(Path dir, long seed, Builder builder) throws IOException {
        Map<String, long[]> shapes = new LinkedHashMap<>();
        RandomWeights random = new RandomWeights(seed);
        WeightSource recorder = new WeightSource() {
            @Override
            public Tensor tensor(String name, long... shape) {
                shapes.put(name, shape.clone());
                return random.tensor(name, shape);
            }

            @Override
            public boolean contains(String name) { return !name.equals("logit_scale"); }

            @Override
            public String describe() { return "recorder"; }
        };
        try (CpuBackend cpu = new CpuBackend(); AutoCloseable model = builder.build(cpu, recorder)) {
            // built only to learn which tensors it reads
        } catch (IOException | RuntimeException e) {
            throw e;
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
        try (TensorScope scope = new TensorScope()) {
            SafetensorsWriter w = new SafetensorsWriter();
            for (Map.Entry<String, long[]> e : shapes.entrySet()) w.add(e.getKey(), scope.track(random.tensor(e.getKey(), e.getValue())));
            w.write(dir.resolve("model.safetensors"));
        }
    }
}
