package io.vlm4j.testing;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.vlm4j.backend.cpu.CpuBackend;
import io.vlm4j.io.SafetensorsWriter;
import io.vlm4j.model.clip.ClipConfig;
import io.vlm4j.model.clip.ClipVisionConfig;
import io.vlm4j.model.clip.ClipVisionTower;
import io.vlm4j.model.clip.RandomWeights;
import io.vlm4j.model.clip.WeightSource;
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
        try (CpuBackend cpu = new CpuBackend(); ClipVisionTower t = new ClipVisionTower(cpu, VISION, VISION.projectionDim(), recorder)) {
            // built only to learn which tensors a vision tower reads
        }
        try (TensorScope scope = new TensorScope()) {
            SafetensorsWriter w = new SafetensorsWriter();
            for (Map.Entry<String, long[]> e : shapes.entrySet()) w.add(e.getKey(), scope.track(random.tensor(e.getKey(), e.getValue())));
            w.write(dir.resolve("model.safetensors"));
        }
        ObjectNode c = new ObjectMapper().createObjectNode();
        c.put("model_type", "clip_vision_model").put("hidden_size", VISION.hiddenSize()).put("intermediate_size", VISION.intermediateSize())
                .put("num_hidden_layers", VISION.numHiddenLayers()).put("num_attention_heads", VISION.numAttentionHeads())
                .put("num_channels", 3).put("image_size", VISION.imageSize()).put("patch_size", VISION.patchSize())
                .put("hidden_act", VISION.hiddenAct()).put("layer_norm_eps", VISION.layerNormEps())
                .put("projection_dim", VISION.projectionDim());
        new ObjectMapper().writeValue(dir.resolve("config.json").toFile(), c);
        return dir;
    }
}
