package io.vlm4j.model.clip;

/**
 * The text tower's hyper-parameters: HF {@code CLIPTextConfig} (model_type {@code clip_text_model}, spec 01 §1.1).
 * {@code eosTokenId} decides pooling: 2 is the legacy value that means "pool at the highest id" (spec 01 §3.3),
 * so it is kept as given. {@code projectionDim} is the width of the projected embedding this tower produces.
 */
public record ClipTextConfig(int vocabSize, int hiddenSize, int intermediateSize, int numHiddenLayers,
                             int numAttentionHeads, int maxPositionEmbeddings, String hiddenAct, double layerNormEps,
                             int projectionDim, int padTokenId, int bosTokenId, int eosTokenId) {

    public ClipTextConfig {
        ClipConfig.requirePositive("text", "vocab_size", vocabSize);
        ClipConfig.requirePositive("text", "hidden_size", hiddenSize);
        ClipConfig.requirePositive("text", "intermediate_size", intermediateSize);
        ClipConfig.requirePositive("text", "num_hidden_layers", numHiddenLayers);
        ClipConfig.requirePositive("text", "num_attention_heads", numAttentionHeads);
        ClipConfig.requirePositive("text", "max_position_embeddings", maxPositionEmbeddings);
        ClipConfig.requirePositive("text", "projection_dim", projectionDim);
        ClipConfig.requireDivisible("text", hiddenSize, numAttentionHeads);
        ClipConfig.requireActivation("text", hiddenAct);
        ClipConfig.requireEps("text", layerNormEps);
        requireTokenId("pad_token_id", padTokenId, vocabSize);
        requireTokenId("bos_token_id", bosTokenId, vocabSize);
        requireTokenId("eos_token_id", eosTokenId, vocabSize);
    }

    private static void requireTokenId(String field, int id, int vocabSize) {
        if (id < 0 || id >= vocabSize) {
            throw new IllegalArgumentException("text: " + field + " " + id + " is outside the vocabulary [0, " + vocabSize + ")");
        }
    }

    /** HF {@code CLIPTextConfig()} class defaults in current transformers. */
    public static ClipTextConfig defaults() {
        return new ClipTextConfig(49408, 512, 2048, 12, 8, 77, "quick_gelu", 1e-5, 512, 1, 49406, 49407);
    }

    public int headDim() { return hiddenSize / numAttentionHeads; }
}
