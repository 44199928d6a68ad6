package io.vlm4j.model;

import io.vlm4j.tensor.Tensor;

/**
 * A text encoder of any family (CLIP's causal transformer, BERT as in BiomedCLIP/PubMedCLIP-BERT, SigLIP's): token ids in,
 * one embedding per text out.
 */
public interface TextTower extends Tower {

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

    /**
     * A training forward of ids [B, L] (attentionMask as in {@link #forward(Tensor, Tensor, Tensor)}), keeping what
     * {@link #backward} reads; with {@code checkpoint} only each layer's input is kept.
     */
    default Tape forwardTrain(Tensor ids, Tensor attentionMask, Tensor out, boolean checkpoint) {
        throw new UnsupportedOperationException("training of the " + family() + " text tower is not supported");
    }
}
