package io.vlm4j.model.vit;

import java.util.Objects;
import java.util.Optional;

/**
 * A SigLIP model's configuration: HF {@code SiglipConfig} (model_type {@code siglip}), or one tower of it
 * ({@code siglip_vision_model}, {@code siglip_text_model}: the other is empty). Read by {@link SiglipConfigLoader}.
 */
public record SiglipConfig(Optional<SiglipTextConfig> text, Optional<SiglipVisionConfig> vision) {

    public SiglipConfig {
        Objects.requireNonNull(text, "text");
        Objects.requireNonNull(vision, "vision");
        if (text.isEmpty() && vision.isEmpty()) throw new IllegalArgumentException("a SigLIP config needs a text or a vision tower");
    }

    /** google/siglip-base-patch16-224: the HF class defaults of both towers. */
    public static SiglipConfig base16() {
        return new SiglipConfig(Optional.of(SiglipTextConfig.defaults()), Optional.of(SiglipVisionConfig.defaults()));
    }

    // Checks shared by the tower configs; messages use the HF field names so they match config.json.

    static void requirePositive(String tower, String field, int value) {
        if (value <= 0) throw new IllegalArgumentException(tower + ": " + field + " must be positive, got " + value);
    }

    static void requireDivisible(String tower, int hiddenSize, int heads) {
        if (hiddenSize % heads != 0) {
            throw new IllegalArgumentException(tower + ": hidden_size " + hiddenSize
                    + " is not divisible by num_attention_heads " + heads);
        }
    }

    static void requireEps(String tower, double eps) {
        if (!(eps > 0) || !Double.isFinite(eps)) {
            throw new IllegalArgumentException(tower + ": layer_norm_eps must be a positive number, got " + eps);
        }
    }
}
