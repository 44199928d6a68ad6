package io.vlm4j.model;

import io.vlm4j.lora.LoraState;
import io.vlm4j.lora.LoraWeights;
import io.vlm4j.tensor.Tensor;
import java.util.List;

/**
 * A text encoder of any family (CLIP's causal transformer, BERT as in BiomedCLIP/PubMedCLIP-BERT, SigLIP's): token ids in,
 * one embedding per text out.
 */
public interface TextTower extends AutoCloseable {

    /** The family, for messages and reports: "clip", "bert", "siglip". */
    String family();

    /** Size of the embeddings {@link #forward} writes. */
    int projectionDim();

    /** Longest input the tower takes (its position table or trained context). */
    int maxLength();

    int vocabSize();

    /**
     * ids I32 [B, L] → out F32 [B, E] (not normalized). attentionMask I32 [B, L] (1 = token, 0 = padding) or null: the
     * tower's own rule (CLIP: causal, no padding mask; BERT: ids != pad).
     */
    void forward(Tensor ids, Tensor attentionMask, Tensor out);

    /** {@link #forward(Tensor, Tensor, Tensor)} with the tower's own masking rule. */
    default void forward(Tensor ids, Tensor out) {
        forward(ids, null, out);
    }

    /** Multiply-accumulates per text of {@code len} tokens, for FLOP/s reports. */
    long macsPerText(long len);

    /**
     * Checks host ids the way the tower's device kernels would (range, pooling token), for inputs that are about to be
     * replayed from a recording, which cannot report errors. Default: the vocabulary range only.
     */
    default void checkIds(Tensor ids) {
        int[] v = ids.toIntArray();
        for (int j = 0; j < v.length; j++) {
            if (v[j] < 0 || v[j] >= vocabSize()) {
                throw new IllegalArgumentException("encodeTexts: ids[" + j + "] = " + v[j] + " is out of range [0, " + vocabSize() + ")");
            }
        }
    }

    /** The Linear modules a LoRA adapter may wrap; empty where adapters are not supported. */
    default List<LoraWeights.Linear> linears() { return List.of(); }

    // ---- LoRA adapters and training (spec 05); ClipModel attaches, the trainer runs forwardTrain/backward ----

    /** Puts the adapters of {@code state} that wrap this tower's {@link #linears()} on their Linear calls (replacing any). */
    default void attachAdapters(LoraState state) {}

    /** Removes the attached adapters (the base weights are untouched). */
    default void detachAdapters() {}

    /** Merges the attached adapters into the base weights (sign +1) or takes them out again (−1). */
    default void mergeAdapters(int sign) {}

    /** Whether {@link #forwardTrain} and {@link #backward} are implemented for this tower. */
    default boolean trainable() { return false; }

    /**
     * A training forward of ids [B, L] (attentionMask as in {@link #forward(Tensor, Tensor, Tensor)}), keeping what
     * {@link #backward} reads; with {@code checkpoint} only each layer's input is kept.
     */
    default Tape forwardTrain(Tensor ids, Tensor attentionMask, Tensor out, boolean checkpoint) {
        throw new UnsupportedOperationException("training of the " + family() + " text tower is not supported");
    }

    /** Backward of {@link #forwardTrain}: dOut F32 [B, E] on the backend's device; adapter gradients accumulate. */
    default void backward(Tape tape, Tensor dOut) {
        throw new UnsupportedOperationException("training of the " + family() + " text tower is not supported");
    }

    @Override
    void close();
}
