package io.vlm4j.model.clip;

import io.vlm4j.backend.Activation;
import io.vlm4j.backend.Backend;
import io.vlm4j.backend.OpChecks;
import io.vlm4j.tensor.DType;
import io.vlm4j.tensor.Tensor;
import io.vlm4j.tensor.TensorScope;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/**
 * CLIP image tower (spec 01 §3.2; HF {@code CLIPVisionTransformer} + {@code visual_projection} in
 * transformers/models/clip/modeling_clip.py): patch embedding (conv, no bias), class token, positions,
 * pre-LayerNorm, pre-LN encoder without mask, post-LayerNorm of the class token, projection without bias.
 */
public final class ClipVisionTower implements io.vlm4j.model.ImageTower, TowerAdapters.Host {

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
    private final Tensor patchWeight;     // [D, C, P, P], compute type
    private final Tensor positions;       // [N, D], compute type; row 0 also holds the class embedding
    private final Tensor preGamma, preBeta, postGamma, postBeta;  // [D]
    private final Tensor projection;      // [E, D]
    private final ClipEncoder encoder;
    private final TowerAdapters adapters;  // LoRA on the encoder and the projection

    /** Loads {@code vision_model.*} and {@code visual_projection.weight} ([E, D]) from {@code weights}. */
    public ClipVisionTower(Backend backend, ClipVisionConfig config, int projectionDim, WeightSource weights)
            throws IOException {
        this.backend = backend;
        this.params = new TensorScope(backend.device());
        this.config = config;
        this.projectionDim = projectionDim;
        long d = config.hiddenSize(), p = config.patchSize(), n = config.numPositions();
        String e = "vision_model.embeddings.";
        try {
            DType compute = backend.computeType();
            patchWeight = adopt(weights.tensor(e + "patch_embedding.weight", d, config.numChannels(), p, p), compute);
            positions = adopt(classAndPositions(weights.tensor(e + "class_embedding", d), weights.tensor(e + "position_embedding.weight", n, d)),
                    compute);
            preGamma = adopt(weights.tensor("vision_model.pre_layrnorm.weight", d));
            preBeta = adopt(weights.tensor("vision_model.pre_layrnorm.bias", d));
            postGamma = adopt(weights.tensor("vision_model.post_layernorm.weight", d));
            postBeta = adopt(weights.tensor("vision_model.post_layernorm.bias", d));
            projection = adopt(weights.tensor("visual_projection.weight", projectionDim, d), compute);
            encoder = new ClipEncoder(backend, weights, "vision_model.encoder", ClipEncoder.Naming.HF, true, config.numHiddenLayers(),
                    config.hiddenSize(), config.intermediateSize(), config.numAttentionHeads(), config.layerNormEps(),
                    Activation.fromHf(config.hiddenAct()));
            adapters = new TowerAdapters(backend, encoder, "visual_projection", projection);
        } catch (IOException | RuntimeException ex) {
            params.close();
            throw ex;
        }
    }

    public ClipVisionConfig config() { return config; }

    @Override
    public String family() { return "clip"; }

    @Override
    public int imageSize() { return config.imageSize(); }

    @Override
    public int numChannels() { return config.numChannels(); }

    @Override
    public int projectionDim() { return projectionDim; }

    /** Image embeddings [B, E] (not normalized) of pixels [B, C, S, S]; see {@link #forward(Tensor, Tensor, Observer)}. */
    @Override
    public void forward(Tensor pixels, Tensor out) {
        forward(pixels, out, null);
    }

    /** pixels: F32 [B, C, S, S], already normalized (spec 02); out: F32 [B, E]. */
    public void forward(Tensor pixels, Tensor out, Observer observer) {
        long b = checkInputs(pixels, out);
        if (b == 0) return;
        long d = config.hiddenSize(), n = config.numPositions();
        DType compute = backend.computeType();
        try (TensorScope scratch = new TensorScope(backend.device())) {
            Tensor x = embed(pixels, observer, scratch);
            encoder.forward(x, false, null, observer == null ? null : observer::hiddenState);
            Tensor cls = scratch.allocate(compute, b, d);            // [B, D] token 0 of each image
            backend.copyRows(x, 0, n * d, cls, 0, d, b, d);
            backend.layerNorm(cls, postGamma, postBeta, (float) config.layerNormEps(), cls);
            if (observer != null) observer.pooled(cls);
            ClipEncoder.project(backend, scratch, cls, projection, adapters.projectionSite(), null, false, out);
        }
    }

    private long checkInputs(Tensor pixels, Tensor out) {
        return checkForward("vision forward", pixels, out);
    }

    /** Patch embedding, class token, positions and pre-LayerNorm: the encoder input [B, N, D], allocated in {@code scope}. */
    private Tensor embed(Tensor pixels, Observer observer, TensorScope scope) {
        long b = pixels.dim(0), d = config.hiddenSize(), n = config.numPositions(), g2 = n - 1;
        DType compute = backend.computeType();
        try (TensorScope tmp = new TensorScope(backend.device())) {
            Tensor devPixels = pixels.device() == backend.device() ? pixels : tmp.track(backend.onDevice(pixels));
            Tensor patches = tmp.allocate(compute, b, g2, d);        // [B, G², D]
            backend.patchEmbed(devPixels, patchWeight, null, patches);
            Tensor x = scope.allocate(compute, b, n, d);             // [B, N, D]: token 0 zero, patches after it
            backend.copyRows(patches, 0, g2 * d, x, d, n * d, b, g2 * d);
            backend.addBroadcast(x, positions);                      // token 0 becomes the class embedding + position 0
            if (observer != null) observer.embeddings(x);
            backend.layerNorm(x, preGamma, preBeta, (float) config.layerNormEps(), x);
            if (observer != null) observer.hiddenState(0, x);
            return x;
        }
    }

    // ---- LoRA and training ----

    /** The LoRA adapters of the encoder and the projection (Linear paths in {@link #linears()}). */
    @Override
    public TowerAdapters adapters() { return adapters; }

    /** What {@link #backward} needs from a training forward; closing it frees the saved activations. */
    public static final class Tape extends io.vlm4j.model.Tape {
        private final List<ClipEncoder.LayerTape> layers = new ArrayList<>();
        private Tensor cls, clsNorm, t;

        private Tape(io.vlm4j.tensor.Device device) { super(device); }
    }

    /**
     * A training forward: as {@link #forward(Tensor, Tensor)} (adapters with their dropout) keeping the activations the
     * backward needs; with {@code checkpoint} only each layer's input is kept and the rest recomputed in the backward.
     */
    @Override
    public Tape forwardTrain(Tensor pixels, Tensor out, boolean checkpoint) {
        long b = checkInputs(pixels, out);
        if (b == 0) throw new IllegalArgumentException("vision forwardTrain: empty batch");
        long d = config.hiddenSize(), n = config.numPositions();
        DType compute = backend.computeType();
        return io.vlm4j.model.Tape.record(new Tape(backend.device()), tape -> {
            Tensor x = embed(pixels, null, tape.scope());
            Tensor y = encoder.forwardTrain(x, false, null, checkpoint, tape.scope(), tape.layers);
            tape.cls = tape.scope().allocate(compute, b, d);
            backend.copyRows(y, 0, n * d, tape.cls, 0, d, b, d);
            tape.clsNorm = tape.scope().allocate(compute, b, d);
            backend.layerNorm(tape.cls, postGamma, postBeta, (float) config.layerNormEps(), tape.clsNorm);
            if (adapters.projectionSite() != null) tape.t = tape.scope().allocate(compute, b, adapters.projectionSite().rankSum());
            try (TensorScope scratch = new TensorScope(backend.device())) {
                ClipEncoder.project(backend, scratch, tape.clsNorm, projection, adapters.projectionSite(), tape.t, true, out);
            }
        });
    }

    /** Backward of {@link #forwardTrain}: dOut F32 [B, E] on the backend's device; adapter gradients accumulate. */
    @Override
    public void backward(io.vlm4j.model.Tape anyTape, Tensor dOut) {
        Tape tape = io.vlm4j.model.Tape.own(Tape.class, anyTape, "vision backward");
        long b = tape.cls.dim(0), d = config.hiddenSize(), n = config.numPositions();
        OpChecks.requireF32("vision backward", "dOut", dOut);
        OpChecks.requireShape("vision backward", "dOut", dOut, b, projectionDim);
        DType compute = backend.computeType();
        try (TensorScope s = new TensorScope(backend.device())) {
            Tensor dPooled = s.allocate(compute, b, d);
            ClipEncoder.projectBackward(backend, s, tape.clsNorm, projection, adapters.projectionSite(), tape.t, dOut, dPooled);
            Tensor dCls = s.allocate(compute, b, d);
            backend.layerNormBackward(tape.cls, postGamma, (float) config.layerNormEps(), dPooled, dCls, false, null, null);
            Tensor dx = s.allocate(compute, b, n, d);  // only the class tokens receive a gradient
            backend.copyRows(dCls, 0, d, dx, 0, n * d, b, d);
            encoder.backward(tape.layers, dx, false, null, false);
        }
    }

    /** Multiply-accumulates per image (patch embedding, encoder, projection). */
    @Override
    public long macsPerImage() {
        return macsPerImage(config, projectionDim);
    }

    /** Multiply-accumulates per image from the configuration alone (benchmark reports). */
    public static long macsPerImage(ClipVisionConfig config, int projectionDim) {
        long d = config.hiddenSize(), n = config.numPositions(), p = config.patchSize();
        long patch = (n - 1) * d * config.numChannels() * p * p;
        return patch + ClipEncoder.macs(config.numHiddenLayers(), d, config.intermediateSize(), 1, n) + d * projectionDim;
    }

    /** A loaded host weight, moved to the backend's device and owned by this object. */
    private Tensor adopt(Tensor host) {
        return params.track(backend.adopt(host));
    }

    /** As {@link #adopt(Tensor)}, converted to {@code dtype} on the device. */
    private Tensor adopt(Tensor host, DType dtype) {
        return params.track(backend.adoptAs(host, dtype));
    }

    /**
     * Positions [N, D] with the class embedding [D] added to row 0 (host tensors, both closed): the sequence then
     * starts as zeros for the class token followed by the patches, and one broadcast add completes it.
     */
    private static Tensor classAndPositions(Tensor classEmbedding, Tensor positions) {
        try (classEmbedding; positions) {
            float[] pos = positions.toFloatArray(), cls = classEmbedding.toFloatArray();
            for (int j = 0; j < cls.length; j++) pos[j] += cls[j];
            return Tensor.of(pos, positions.shape());
        }
    }

    @Override
    public void close() {
        detachAdapters();
        encoder.close();
        params.close();
    }
}
