package io.vlm4j.model;

import io.vlm4j.backend.OpChecks;
import io.vlm4j.tensor.Tensor;

/**
 * An image encoder of any family (CLIP ViT, timm ViT as in BiomedCLIP, SigLIP): normalized pixels in, one embedding per
 * image out. What {@link io.vlm4j.model.clip.ClipModel} and the commands need from it; the model definition behind it
 * is the family's own class.
 */
public interface ImageTower extends Tower {

    /** Side of the square input image in pixels. */
    int imageSize();

    int numChannels();

    /** pixels F32 [B, C, S, S] (normalized as the model's preprocessing says) → out F32 [B, E] (not normalized). */
    void forward(Tensor pixels, Tensor out);

    /**
     * The argument checks every {@link #forward} makes, in {@code op}'s words: pixels F32 [B, C, S, S] at this tower's
     * channels and size, out F32 [B, E]. Returns B.
     */
    default long checkForward(String op, Tensor pixels, Tensor out) {
        int s = imageSize();
        OpChecks.requireF32(op, "pixels", pixels);
        OpChecks.requireRank(op, "pixels", pixels, 4);
        long b = pixels.dim(0);
        OpChecks.requireShape(op, "pixels", pixels, b, numChannels(), s, s);
        OpChecks.requireF32(op, "out", out);
        OpChecks.requireShape(op, "out", out, b, projectionDim());
        return b;
    }

    /** Multiply-accumulates per image, for FLOP/s reports. */
    long macsPerImage();

    /**
     * A training forward: as {@link #forward} (adapters with their dropout), keeping what {@link #backward} reads; with
     * {@code checkpoint} only each layer's input is kept and the rest recomputed in the backward.
     */
    default Tape forwardTrain(Tensor pixels, Tensor out, boolean checkpoint) {
        throw new UnsupportedOperationException("training of the " + family() + " image tower is not supported");
    }
}
