package io.vlm4j.model.clip;

/**
 * The image tower's hyper-parameters: HF {@code CLIPVisionConfig} (model_type {@code clip_vision_model}, spec 01
 * §1.2). {@code projectionDim} is the width of the projected embedding this tower produces.
 */
public record ClipVisionConfig(int hiddenSize, int intermediateSize, int numHiddenLayers, int numAttentionHeads,
                               int numChannels, int imageSize, int patchSize, String hiddenAct, double layerNormEps,
                               int projectionDim) {

    public ClipVisionConfig {
        ClipConfig.requirePositive("vision", "hidden_size", hiddenSize);
        ClipConfig.requirePositive("vision", "intermediate_size", intermediateSize);
        ClipConfig.requirePositive("vision", "num_hidden_layers", numHiddenLayers);
        ClipConfig.requirePositive("vision", "num_attention_heads", numAttentionHeads);
        ClipConfig.requirePositive("vision", "num_channels", numChannels);
        ClipConfig.requirePositive("vision", "image_size", imageSize);
        ClipConfig.requirePositive("vision", "patch_size", patchSize);
        ClipConfig.requirePositive("vision", "projection_dim", projectionDim);
        ClipConfig.requireDivisible("vision", hiddenSize, numAttentionHeads);
        if (imageSize < patchSize) {
            throw new IllegalArgumentException("vision: image_size " + imageSize + " is smaller than patch_size " + patchSize);
        }
        ClipConfig.requireActivation("vision", hiddenAct);
        ClipConfig.requireEps("vision", layerNormEps);
        long grid = imageSize / patchSize;
        if (grid * grid + 1 > Integer.MAX_VALUE) {  // rows of the position table, an int like every other dimension
            throw new IllegalArgumentException("vision: image_size " + imageSize + " / patch_size " + patchSize
                    + " gives too many patches");
        }
    }

    /** HF {@code CLIPVisionConfig()} class defaults: ViT-B/32 widths. */
    public static ClipVisionConfig defaults() {
        return new ClipVisionConfig(768, 3072, 12, 12, 3, 224, 32, "quick_gelu", 1e-5, 512);
    }

    public int headDim() { return hiddenSize / numAttentionHeads; }

    /** Patches per side (G = S / P); the convolution drops any remainder, as HF's does. */
    public int gridSize() { return imageSize / patchSize; }

    /** N_v = G² + 1: the patch tokens plus the class token. */
    public int numPositions() { return gridSize() * gridSize() + 1; }
}
