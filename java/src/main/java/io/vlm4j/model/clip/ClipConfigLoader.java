package io.vlm4j.model.clip;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.vlm4j.io.ConfigFields;
import io.vlm4j.io.ModelFormatException;
import io.vlm4j.io.StrictJson;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

/**
 * Reads an HF {@code config.json} (spec 01 §1) into a {@link ClipConfig}. Hub configs are often minimal, so every
 * missing field takes the transformers class default ({@link ClipTextConfig#defaults()},
 * {@link ClipVisionConfig#defaults()}); fields present with the wrong JSON type are errors, never defaults.
 * Model types: {@code clip} (both towers), {@code clip_vision_model} and {@code clip_text_model} (one tower, fields at
 * the top level). Unknown fields (dropout, initializer_range, ...) do not affect inference and are ignored.
 */
public final class ClipConfigLoader {
    private static final int DEFAULT_PROJECTION_DIM = 512;

    private ClipConfigLoader() {}

    /** {@code path} is a model directory (its config.json is read) or a config file. */
    public static ClipConfig load(Path path) throws IOException {
        Path file = Files.isDirectory(path) ? path.resolve("config.json") : path;
        return load(file, StrictJson.readConfig(file, "model config"));
    }

    /** The configuration in {@code root}, already read from {@code file} (named in the errors). */
    public static ClipConfig load(Path file, JsonNode root) throws ModelFormatException {
        return ConfigFields.read(file, root, top -> parse(file, root, top));
    }

    private static ClipConfig parse(Path file, JsonNode root, ConfigFields top) throws ModelFormatException {
        Optional<String> modelType = top.optionalString("model_type");
        boolean hasTowers = root.has("text_config") || root.has("vision_config")
                || root.has("text_config_dict") || root.has("vision_config_dict");
        String type = modelType.orElse(hasTowers ? "clip" : "");
        double logitScale = top.number("logit_scale_init_value", ClipConfig.DEFAULT_LOGIT_SCALE_INIT);
        switch (type) {
            case "clip" -> {
                // CLIPModel sizes both projection layers from the top-level projection_dim; a sub-config's own
                // projection_dim is only read by the *WithProjection single-tower classes, so it is checked for type
                // and otherwise ignored here.
                int projection = top.integer("projection_dim", DEFAULT_PROJECTION_DIM);
                ConfigFields text = tower(file, root, "text_config", "clip_text_model");
                ConfigFields vision = tower(file, root, "vision_config", "clip_vision_model");
                text.integer("projection_dim", projection);
                vision.integer("projection_dim", projection);
                return new ClipConfig(Optional.of(text(text, projection)), Optional.of(vision(vision, projection)),
                        projection, logitScale);
            }
            case "clip_vision_model" -> {
                int projection = top.integer("projection_dim", ClipVisionConfig.defaults().projectionDim());
                return new ClipConfig(Optional.empty(), Optional.of(vision(top, projection)), projection, logitScale);
            }
            case "clip_text_model" -> {
                int projection = top.integer("projection_dim", ClipTextConfig.defaults().projectionDim());
                return new ClipConfig(Optional.of(text(top, projection)), Optional.empty(), projection, logitScale);
            }
            default -> throw new ModelFormatException(file, (modelType.isPresent()
                    ? "unsupported model_type '" + type + "'" : "no model_type and no text_config/vision_config")
                    + " (supported: clip, clip_vision_model, clip_text_model)");
        }
    }

    /**
     * {@code <name>} with the legacy {@code <name>_dict} merged over it, key by key, the _dict taking priority
     * (what transformers' CLIPConfig does with old files). Either may be absent or null.
     */
    private static ConfigFields tower(Path file, JsonNode root, String name, String expectedType) throws ModelFormatException {
        ObjectNode merged = JsonNodeFactory.instance.objectNode();
        for (String key : new String[] {name, name + "_dict"}) {
            JsonNode node = root.get(key);
            if (node == null || node.isNull()) continue;
            if (!node.isObject()) {
                throw new ModelFormatException(file, key + " must be an object, got " + StrictJson.show(node));
            }
            merged.setAll((ObjectNode) node);
        }
        ConfigFields f = ConfigFields.of(file, root).at(name, merged);
        f.expectModelType(expectedType);
        return f;
    }

    private static ClipTextConfig text(ConfigFields f, int projection) throws ModelFormatException {
        ClipTextConfig d = ClipTextConfig.defaults();
        return new ClipTextConfig(
                f.integer("vocab_size", d.vocabSize()),
                f.integer("hidden_size", d.hiddenSize()),
                f.integer("intermediate_size", d.intermediateSize()),
                f.integer("num_hidden_layers", d.numHiddenLayers()),
                f.integer("num_attention_heads", d.numAttentionHeads()),
                f.integer("max_position_embeddings", d.maxPositionEmbeddings()),
                activation(f, d.hiddenAct()),
                f.number("layer_norm_eps", d.layerNormEps()),
                projection,
                f.integer("pad_token_id", d.padTokenId()),
                f.integer("bos_token_id", d.bosTokenId()),
                f.integer("eos_token_id", d.eosTokenId()));
    }

    private static ClipVisionConfig vision(ConfigFields f, int projection) throws ModelFormatException {
        ClipVisionConfig d = ClipVisionConfig.defaults();
        return new ClipVisionConfig(
                f.integer("hidden_size", d.hiddenSize()),
                f.integer("intermediate_size", d.intermediateSize()),
                f.integer("num_hidden_layers", d.numHiddenLayers()),
                f.integer("num_attention_heads", d.numAttentionHeads()),
                f.integer("num_channels", d.numChannels()),
                f.integer("image_size", d.imageSize()),
                f.integer("patch_size", d.patchSize()),
                activation(f, d.hiddenAct()),
                f.number("layer_norm_eps", d.layerNormEps()),
                projection);
    }

    /** hidden_act, which must be one the encoders run ({@link ClipConfig#ACTIVATIONS}). */
    private static String activation(ConfigFields f, String defaultValue) throws ModelFormatException {
        String act = f.optionalString("hidden_act").orElse(defaultValue);
        if (!ClipConfig.ACTIVATIONS.contains(act)) {
            throw new ModelFormatException(f.file(), f.prefix() + "hidden_act '" + act + "' is not supported (supported: "
                    + String.join(", ", ClipConfig.ACTIVATIONS.stream().sorted().toList()) + ")");
        }
        return act;
    }
}
