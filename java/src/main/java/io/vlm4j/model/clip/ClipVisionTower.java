package io.vlm4j.model.clip;

import io.vlm4j.backend.Activation;
import io.vlm4j.backend.Backend;
import io.vlm4j.backend.OpChecks;
import io.vlm4j.tensor.Tensor;
import io.vlm4j.tensor.TensorScope;
import java.io.IOException;

/**
 * CLIP image tower (spec 01 §3.2; HF {@code CLIPVisionTransformer} + {@code visual_projection} in
 * transformers/models/clip/modeling_clip.py): patch embedding (conv, no bias), class token, positions,
 * pre-LayerNorm, pre-LN encoder without mask, post-LayerNorm of the class token, projection without bias.
 */
public final class ClipVisionTower implements AutoCloseable {

    /** Receives intermediate activations; tensors are valid only during the call. */
    public interface Observer {
        /** [B, N, D] class token + patches + positions, before pre-LayerNorm. */
        default void embeddings(Tensor x) {}

        /** hidden_states[i]: i = 0 after pre-LayerNorm, i ≥ 1 after encoder layer i; [B, N, D]. */
        default void hiddenState(int index, Tensor x) {}

        /** [B, D] post-LayerNorm class token (HF pooler_output). */
        default void pooled(Tensor x) {}
    }

    private final Backend backend;
    private final ClipVisionConfig config;
    private final int projectionDim;
    private final TensorScope params;  // weights, on the backend's device
    private final Tensor patchWeight;     // [D, C, P, P]
    private final Tensor classEmbedding;  // [D]
    private final Tensor positions;       // [N, D]
    private final Tensor preGamma, preBeta, postGamma, postBeta;  // [D]
    private final Tensor projection;      // [E, D]
    private final ClipEncoder encoder;

    /** Loads {@code vision_model.*} and {@code visual_projection.weight} ([E, D]) from {@code weights}. */
    public ClipVisionTower(Backend backend, ClipVisionConfig config, int projectionDim, WeightSource weights)
            throws IOException {
        this.backend = backend;
        this.params = new TensorScope(backend.device());
        this.config = config;
        this.projectionDim = projectionDim;
        long d = config.hiddenSize(), p = config.patchSize();
        String e = "vision_model.embeddings.";
        try {
            patchWeight = adopt(weights.tensor(e + "patch_embedding.weight", d, config.numChannels(), p, p));
            classEmbedding = adopt(weights.tensor(e + "class_embedding", d));
            positions = adopt(weights.tensor(e + "position_embedding.weight", config.numPositions(), d));
            preGamma = adopt(weights.tensor("vision_model.pre_layrnorm.weight", d));
            preBeta = adopt(weights.tensor("vision_model.pre_layrnorm.bias", d));
            postGamma = adopt(weights.tensor("vision_model.post_layernorm.weight", d));
            postBeta = adopt(weights.tensor("vision_model.post_layernorm.bias", d));
            projection = adopt(weights.tensor("visual_projection.weight", projectionDim, d));
            encoder = new ClipEncoder(backend, weights, "vision_model.encoder", config.numHiddenLayers(),
                    config.hiddenSize(), config.intermediateSize(), config.numAttentionHeads(), config.layerNormEps(),
                    Activation.fromHf(config.hiddenAct()));
        } catch (IOException | RuntimeException ex) {
            params.close();
            throw ex;
        }
    }

    public ClipVisionConfig config() { return config; }

    public int projectionDim() { return projectionDim; }

    /** Image embeddings [B, E] (not normalized) of pixels [B, C, S, S]; see {@link #forward(Tensor, Tensor, Observer)}. */
    public void forward(Tensor pixels, Tensor out) {
        forward(pixels, out, null);
    }

    /** pixels: F32 [B, C, S, S], already normalized (spec 02); out: F32 [B, E]. */
    public void forward(Tensor pixels, Tensor out, Observer observer) {
        int s = config.imageSize();
        OpChecks.requireF32("vision forward", "pixels", pixels);
        OpChecks.requireRank("vision forward", "pixels", pixels, 4);
        long b = pixels.dim(0);
        OpChecks.requireShape("vision forward", "pixels", pixels, b, config.numChannels(), s, s);
        OpChecks.requireShape("vision forward", "out", out, b, projectionDim);
        if (b == 0) return;
        long d = config.hiddenSize(), n = config.numPositions(), g2 = n - 1;
        try (TensorScope scratch = new TensorScope(backend.device())) {
            // input and output on the backend's device (the same tensors on the CPU)
            Tensor devPixels = pixels.device() == backend.device() ? pixels : scratch.track(backend.onDevice(pixels));
            Tensor devOut = out.device() == backend.device() ? out : scratch.f32(b, projectionDim);
            Tensor patches = scratch.f32(b, g2, d);                  // [B, G², D]
            backend.patchEmbed(devPixels, patchWeight, null, patches);
            Tensor x = scratch.f32(b, n, d);                         // [B, N, D]: class token first
            for (long i = 0; i < b; i++) {
                x.view(i * n * d, d).copyFrom(classEmbedding);
                x.view(i * n * d + d, g2, d).copyFrom(patches.view(i * g2 * d, g2, d));
            }
            backend.addBroadcast(x, positions);
            if (observer != null) observer.embeddings(x);
            backend.layerNorm(x, preGamma, preBeta, (float) config.layerNormEps(), x);
            if (observer != null) observer.hiddenState(0, x);
            encoder.forward(x, false, null, observer == null ? null : observer::hiddenState);
            Tensor cls = scratch.f32(b, d);                          // [B, D] token 0 of each image
            for (long i = 0; i < b; i++) cls.view(i * d, d).copyFrom(x.view(i * n * d, d));
            backend.layerNorm(cls, postGamma, postBeta, (float) config.layerNormEps(), cls);
            if (observer != null) observer.pooled(cls);
            backend.linear(cls, projection, null, Activation.NONE, null, devOut);
            if (devOut != out) out.copyFrom(devOut);
        }
    }

    /** Multiply-accumulates per image (patch embedding, encoder, projection). */
    public long macsPerImage() {
        long d = config.hiddenSize(), n = config.numPositions(), p = config.patchSize();
        long patch = (n - 1) * d * config.numChannels() * p * p;
        return patch + encoder.macs(1, n) + d * projectionDim;
    }

    /** A loaded host weight, moved to the backend's device and owned by this object. */
    private Tensor adopt(Tensor host) {
        return params.track(backend.adopt(host));
    }

    @Override
    public void close() {
        encoder.close();
        params.close();
    }
}
