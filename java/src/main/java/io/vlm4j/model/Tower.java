package io.vlm4j.model;

import io.vlm4j.lora.LoraState;
import io.vlm4j.lora.LoraWeights;
import io.vlm4j.tensor.Tensor;
import java.util.List;

/**
 * What image and text towers share: the family, the embedding size, and LoRA adapters with training (spec 05).
 * {@link io.vlm4j.model.clip.ClipModel} attaches adapters; the trainer runs a tower's {@code forwardTrain} (declared by
 * {@link ImageTower} and {@link TextTower}, whose inputs differ) and {@link #backward}.
 */
public interface Tower extends AutoCloseable {

    /** The family, for messages and reports: "clip", "timm-vit", "bert", "siglip". */
    String family();

    /** Size of the embeddings the tower writes. */
    int projectionDim();

    /** The Linear modules a LoRA adapter may wrap (HF/open_clip module paths); empty where adapters are not supported. */
    default List<LoraWeights.Linear> linears() { return List.of(); }

    /** Puts the adapters of {@code state} that wrap this tower's {@link #linears()} on their Linear calls (replacing any). */
    default void attachAdapters(LoraState state) {}

    /** Removes the attached adapters (the base weights are untouched). */
    default void detachAdapters() {}

    /** Merges the attached adapters into the base weights (sign +1) or takes them out again (−1). */
    default void mergeAdapters(int sign) {}

    /** Whether {@code forwardTrain} and {@link #backward} are implemented for this tower. */
    default boolean trainable() { return false; }

    /** Backward of {@code forwardTrain}: dOut F32 [B, E] on the backend's device; adapter gradients accumulate. */
    default void backward(Tape tape, Tensor dOut) {
        throw new UnsupportedOperationException("training of the " + family() + " tower is not supported");
    }

    @Override
    void close();
}
