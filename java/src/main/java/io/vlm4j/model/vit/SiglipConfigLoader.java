package io.vlm4j.model.vit;

import com.fasterxml.jackson.databind.JsonNode;
import io.vlm4j.io.ConfigFields;
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
        return ConfigFields.read(file, root, top -> parse(file, top));
    }

    private static SiglipConfig parse(Path file, ConfigFields top) throws ModelFormatException {
        String type = top.optionalString("model_type").orElse("");
        return switch (type) {
            case "siglip" -> new SiglipConfig(Optional.of(text(tower(top, "text_config", "siglip_text_model"))),
                    Optional.of(vision(tower(top, "vision_config", "siglip_vision_model"))));
            case "siglip_vision_model" -> new SiglipConfig(Optional.empty(), Optional.of(vision(top)));
            case "siglip_text_model" -> new SiglipConfig(Optional.of(text(top)), Optional.empty());
            default -> throw new ModelFormatException(file, (type.isEmpty() ? "no model_type" : "unsupported model_type '" + type + "'")
                    + " (supported: siglip, siglip_vision_model, siglip_text_model)");
        };
    }

    /** A sub-config object (absent or null: every field takes its default). */
    private static ConfigFields tower(ConfigFields top, String name, String expectedType) throws ModelFormatException {
        ConfigFields f = top.child(name);
        f.expectModelType(expectedType);
        return f;
    }

    private static SiglipTextConfig text(ConfigFields f) throws ModelFormatException {
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

    private static SiglipVisionConfig vision(ConfigFields f) throws ModelFormatException {
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
}
