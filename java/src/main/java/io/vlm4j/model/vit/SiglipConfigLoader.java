package io.vlm4j.model.vit;

import com.fasterxml.jackson.databind.JsonNode;
import io.vlm4j.io.ModelFormatException;
import io.vlm4j.io.StrictJson;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

/**
 * Reads an HF SigLIP {@code config.json} (transformers/models/siglip/configuration_siglip.py) into a {@link SiglipConfig}.
 * Missing fields take the transformers class defaults ({@link SiglipTextConfig#defaults()},
 * {@link SiglipVisionConfig#defaults()}; {@code projection_size} defaults to the tower's {@code hidden_size}); fields
 * present with the wrong JSON type are errors, never defaults. Model types: {@code siglip} (towers under
 * {@code text_config} / {@code vision_config}), {@code siglip_vision_model} and {@code siglip_text_model} (fields at the top
 * level). {@code image_size} / {@code patch_size} may be an integer or a pair of equal integers. A vision config with
 * {@code vision_use_head: false} has no pooled output and is refused. Other fields do not affect inference.
 */
public final class SiglipConfigLoader {

    private SiglipConfigLoader() {}

    /** {@code path} is a model directory (its config.json is read) or a config file. */
    public static SiglipConfig load(Path path) throws IOException {
        Path file = Files.isDirectory(path) ? path.resolve("config.json") : path;
        return load(file, StrictJson.readConfig(file, "model config"));
    }

    /** The configuration in {@code root}, already read from {@code file} (named in the errors). */
    public static SiglipConfig load(Path file, JsonNode root) throws ModelFormatException {
        try {
            return parse(file, root);
        } catch (IllegalArgumentException e) {  // a record's own check: sizes that do not fit together
            throw new ModelFormatException(file, e.getMessage(), e);
        }
    }

    private static SiglipConfig parse(Path file, JsonNode root) throws ModelFormatException {
        Fields top = new Fields(file, "", root);
        String type = top.optionalString("model_type").orElse("");
        return switch (type) {
            case "siglip" -> new SiglipConfig(Optional.of(text(tower(file, root, "text_config", "siglip_text_model"))),
                    Optional.of(vision(tower(file, root, "vision_config", "siglip_vision_model"))));
            case "siglip_vision_model" -> new SiglipConfig(Optional.empty(), Optional.of(vision(top)));
            case "siglip_text_model" -> new SiglipConfig(Optional.of(text(top)), Optional.empty());
            default -> throw new ModelFormatException(file, (type.isEmpty() ? "no model_type" : "unsupported model_type '" + type + "'")
                    + " (supported: siglip, siglip_vision_model, siglip_text_model)");
        };
    }

    /** A sub-config object (absent or null: every field takes its default). */
    private static Fields tower(Path file, JsonNode root, String name, String expectedType) throws ModelFormatException {
        JsonNode node = root.get(name);
        if (node == null || node.isNull()) node = com.fasterxml.jackson.databind.node.JsonNodeFactory.instance.objectNode();
        if (!node.isObject()) throw new ModelFormatException(file, name + " must be an object, got " + StrictJson.show(node));
        Fields f = new Fields(file, name + ".", node);
        Optional<String> type = f.optionalString("model_type");
        if (type.isPresent() && !type.get().equals(expectedType)) {
            throw new ModelFormatException(file, name + ".model_type is '" + type.get() + "', expected '" + expectedType + "'");
        }
        return f;
    }

    private static SiglipTextConfig text(Fields f) throws ModelFormatException {
        SiglipTextConfig d = SiglipTextConfig.defaults();
        int hidden = f.integer("hidden_size", d.hiddenSize());
        JsonNode projection = f.node().get("projection_size");
        return new SiglipTextConfig(
                f.integer("vocab_size", d.vocabSize()),
                hidden,
                f.integer("intermediate_size", d.intermediateSize()),
                f.integer("num_hidden_layers", d.numHiddenLayers()),
                f.integer("num_attention_heads", d.numAttentionHeads()),
                f.integer("max_position_embeddings", d.maxPositionEmbeddings()),
                f.string("hidden_act", d.hiddenAct()),
                f.number("layer_norm_eps", d.layerNormEps()),
                projection == null || projection.isNull() ? hidden : f.integer("projection_size", hidden),
                f.node().path("pad_token_id").isNull() ? d.padTokenId() : f.integer("pad_token_id", d.padTokenId()));
    }

    private static SiglipVisionConfig vision(Fields f) throws ModelFormatException {
        SiglipVisionConfig d = SiglipVisionConfig.defaults();
        JsonNode useHead = f.node().get("vision_use_head");
        if (useHead != null && !useHead.isNull() && !(useHead.isBoolean() && useHead.booleanValue())) {
            throw new ModelFormatException(f.file(), f.prefix() + "vision_use_head is " + StrictJson.show(useHead)
                    + ": a SigLIP vision tower without its attention-pooling head has no pooled output (not supported)");
        }
        return new SiglipVisionConfig(
                f.integer("hidden_size", d.hiddenSize()),
                f.integer("intermediate_size", d.intermediateSize()),
                f.integer("num_hidden_layers", d.numHiddenLayers()),
                f.integer("num_attention_heads", d.numAttentionHeads()),
                f.integer("num_channels", d.numChannels()),
                f.square("image_size", d.imageSize()),
                f.square("patch_size", d.patchSize()),
                f.string("hidden_act", d.hiddenAct()),
                f.number("layer_norm_eps", d.layerNormEps()));
    }

    /** Typed access to one JSON object's fields; {@code prefix} ("text_config.") makes messages point at the field. */
    private record Fields(Path file, String prefix, JsonNode node) {

        int integer(String name, int defaultValue) throws ModelFormatException {
            JsonNode v = node.get(name);
            if (v == null) return defaultValue;
            if (!v.isIntegralNumber() || !v.canConvertToInt()) {
                throw new ModelFormatException(file, prefix + name + " must be an integer, got " + StrictJson.show(v));
            }
            return v.intValue();
        }

        /** An integer, or a [h, w] pair with h == w (transformers accepts both; only square grids are supported). */
        int square(String name, int defaultValue) throws ModelFormatException {
            JsonNode v = node.get(name);
            if (v == null || !v.isArray()) return integer(name, defaultValue);
            if (v.size() != 2 || !v.get(0).isIntegralNumber() || !v.get(0).canConvertToInt() || !v.get(1).equals(v.get(0))) {
                throw new ModelFormatException(file, prefix + name + " must be an integer or two equal integers, got "
                        + StrictJson.show(v));
            }
            return v.get(0).intValue();
        }

        double number(String name, double defaultValue) throws ModelFormatException {
            JsonNode v = node.get(name);
            if (v == null) return defaultValue;
            if (!v.isNumber() || !Double.isFinite(v.doubleValue())) {
                throw new ModelFormatException(file, prefix + name + " must be a finite number, got " + StrictJson.show(v));
            }
            return v.doubleValue();
        }

        String string(String name, String defaultValue) throws ModelFormatException {
            return optionalString(name).orElse(defaultValue);
        }

        Optional<String> optionalString(String name) throws ModelFormatException {
            JsonNode v = node.get(name);
            if (v == null) return Optional.empty();
            if (!v.isTextual()) throw new ModelFormatException(file, prefix + name + " must be a string, got " + StrictJson.show(v));
            return Optional.of(v.textValue());
        }
    }
}
