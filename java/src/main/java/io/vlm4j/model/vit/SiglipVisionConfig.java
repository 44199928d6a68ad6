package io.vlm4j.model.vit;

import io.vlm4j.backend.Activation;
import java.util.Objects;

/**
 * The image tower of SigLIP: HF {@code SiglipVisionConfig} (transformers/models/siglip/configuration_siglip.py,
 * model_type {@code siglip_vision_model}; spec 06 §6.2). The pooled output has width {@code hiddenSize}: SigLIP has
 * no separate visual projection.
 */
public record SiglipVisionConfig(int hiddenSize, int intermediateSize, int numHiddenLayers, int numAttentionHeads,
                                 int numChannels, int imageSize, int patchSize, String hiddenAct, double layerNormEps) {

    public SiglipVisionConfig {
        Objects.requireNonNull(hiddenAct, "hiddenAct");
        SiglipConfig.requirePositive("vision_config", "hidden_size", hiddenSize);
        SiglipConfig.requirePositive("vision_config", "intermediate_size", intermediateSize);
        SiglipConfig.requirePositive("vision_config", "num_hidden_layers", numHiddenLayers);
        SiglipConfig.requirePositive("vision_config", "num_attention_heads", numAttentionHeads);
        SiglipConfig.requirePositive("vision_config", "num_channels", numChannels);
        SiglipConfig.requirePositive("vision_config", "image_size", imageSize);
        SiglipConfig.requirePositive("vision_config", "patch_size", patchSize);
        SiglipConfig.requireDivisible("vision_config", hiddenSize, numAttentionHeads);
        SiglipConfig.requireEps("vision_config", layerNormEps);
        Activation.fromHf(hiddenAct);  // throws naming the supported activations
        if (imageSize < patchSize) {
            throw new IllegalArgumentException("vision_config: image_size " + imageSize + " is smaller than patch_size " + patchSize);
        }
        long grid = imageSize / patchSize;
        if (grid * grid > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("vision_config: image_size " + imageSize + " / patch_size " + patchSize
                    + " gives too many patches");
        }
    }

    /** HF {@code SiglipVisionConfig()} class defaults: google/siglip-base-patch16-224. */
    public static SiglipVisionConfig defaults() {
        return new SiglipVisionConfig(768, 3072, 12, 12, 3, 224, 16, "gelu_pytorch_tanh", 1e-6);
    }

    public Activation activation() { return Activation.fromHf(hiddenAct); }

    /** Patches per side (G = S / P); the "valid" conv drops any remainder. */
    public int gridSize() { return imageSize / patchSize; }

    /** Tokens N = G²: there is no class token, and {@code position_embedding} has exactly N rows. */
    public int numPositions() { return gridSize() * gridSize(); }
}
