package io.vlm4j.model.vit;

import io.vlm4j.backend.Activation;
import java.util.Objects;

/**
 * The text tower of SigLIP: HF {@code SiglipTextConfig} (transformers/models/siglip/configuration_siglip.py, model_type
 * {@code siglip_text_model}; spec 06 §6.2). {@code projectionSize} is the output width of {@code head} (HF defaults it to
 * {@code hidden_size}); {@code padTokenId} is informational: inputs are padded to the full length and run unmasked.
 */
public record SiglipTextConfig(int vocabSize, int hiddenSize, int intermediateSize, int numHiddenLayers,
                               int numAttentionHeads, int maxPositionEmbeddings, String hiddenAct, double layerNormEps,
                               int projectionSize, int padTokenId) {

    public SiglipTextConfig {
        Objects.requireNonNull(hiddenAct, "hiddenAct");
        SiglipConfig.requirePositive("text_config", "vocab_size", vocabSize);
        SiglipConfig.requirePositive("text_config", "hidden_size", hiddenSize);
        SiglipConfig.requirePositive("text_config", "intermediate_size", intermediateSize);
        SiglipConfig.requirePositive("text_config", "num_hidden_layers", numHiddenLayers);
        SiglipConfig.requirePositive("text_config", "num_attention_heads", numAttentionHeads);
        SiglipConfig.requirePositive("text_config", "max_position_embeddings", maxPositionEmbeddings);
        SiglipConfig.requirePositive("text_config", "projection_size", projectionSize);
        SiglipConfig.requireDivisible("text_config", hiddenSize, numAttentionHeads);
        SiglipConfig.requireEps("text_config", layerNormEps);
        Activation.fromHf(hiddenAct);
    }

    /** HF {@code SiglipTextConfig()} class defaults: google/siglip-base-patch16-224 (projection_size = hidden_size). */
    public static SiglipTextConfig defaults() {
        return new SiglipTextConfig(32000, 768, 3072, 12, 12, 64, "gelu_pytorch_tanh", 1e-6, 768, 1);
    }

    public Activation activation() { return Activation.fromHf(hiddenAct); }
}
