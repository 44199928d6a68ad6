package io.vlm4j.model.clip;

import io.vlm4j.backend.Activation;
import io.vlm4j.backend.Backend;
import io.vlm4j.backend.OpChecks;
import io.vlm4j.lora.LoraState;
import io.vlm4j.lora.LoraWeights;
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
public final class ClipVisionTower implements io.vlm4j.model.ImageTower {

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

    /**
     * Where a checkpoint keeps the tower's parameters: HF CLIP ({@code vision_model.*}, {@code visual_projection}) or a
     * timm ViT trunk with open_clip's linear head ({@code visual.trunk.*}, {@code visual.head.proj}; spec 04 §2-3: patch
     * bias, class token [1, 1, D] and positions [1, N, D], no pre-LayerNorm, the final norm on the class token).
     */
    private record Layout(String family, String patch, boolean patchBias, String classToken, String positions, String preNorm,
                          String postNorm, String projection, String encoderPrefix, ClipEncoder.Naming naming, boolean qkvBias) {
        static final Layout HF = new Layout("clip", "vision_model.embeddings.patch_embedding", false, "vision_model.embeddings.class_embedding",
                "vision_model.embeddings.position_embedding.weight", "vision_model.pre_layrnorm", "vision_model.post_layernorm",
                "visual_projection", "vision_model.encoder", ClipEncoder.Naming.HF, true);

        static Layout timm(String trunk, String head, boolean qkvBias) {
            return new Layout("timm-vit", trunk + "patch_embed.proj", true, trunk + "cls_token", trunk + "pos_embed", null, trunk + "norm",
                    head + "proj", trunk.substring(0, trunk.length() - 1), ClipEncoder.Naming.TIMM, qkvBias);
        }
    }

    private final String family;
    private final Tensor patchBias;  // [D] F32, or null (CLIP's conv has none)

    /** Loads {@code vision_model.*} and {@code visual_projection.weight} ([E, D]) from {@code weights}. */
    public ClipVisionTower(Backend backend, ClipVisionConfig config, int projectionDim, WeightSource weights)
            throws IOException {
        this(backend, config, projectionDim, weights, Layout.HF);
    }

    /**
     * A timm ViT trunk with class-token pooling, its final norm and open_clip's bias-free linear head (BiomedCLIP's image
     * tower) as this tower: the same computation with no pre-LayerNorm and a patch bias, so it gets LoRA and training
     * too. trunkPrefix / headPrefix end with a dot ("visual.trunk.", "visual.head."); act and eps from the config.
     */
    public static ClipVisionTower timm(Backend backend, ClipVisionConfig config, int projectionDim, WeightSource weights, String trunkPrefix,
                                       String headPrefix, boolean qkvBias) throws IOException {
        if (!trunkPrefix.endsWith(".") || !headPrefix.endsWith(".")) throw new IllegalArgumentException("prefixes must end with '.'");
        return new ClipVisionTower(backend, config, projectionDim, weights, Layout.timm(trunkPrefix, headPrefix, qkvBias));
    }

    private ClipVisionTower(Backend backend, ClipVisionConfig config, int projectionDim, WeightSource weights, Layout l)
            throws IOException {
        this.backend = backend;
        this.params = new TensorScope(backend.device());
        this.config = config;
        this.projectionDim = projectionDim;
        this.family = l.family();
        long d = config.hiddenSize(), p = config.patchSize(), n = config.numPositions();
        try {
            DType compute = backend.computeType();
            patchWeight = adopt(weights.tensor(l.patch() + ".weight", d, config.numChannels(), p, p), compute);
            patchBias = l.patchBias() ? adopt(weights.tensor(l.patch() + ".bias", d)) : null;
            boolean timm = l.naming() == ClipEncoder.Naming.TIMM;
            positions = adopt(classAndPositions(flat(weights.tensor(l.classToken(), timm ? new long[] {1, 1, d} : new long[] {d}), d),
                    flat(weights.tensor(l.positions(), timm ? new long[] {1, n, d} : new long[] {n, d}), n, d)), compute);
            preGamma = l.preNorm() == null ? null : adopt(weights.tensor(l.preNorm() + ".weight", d));
            preBeta = l.preNorm() == null ? null : adopt(weights.tensor(l.preNorm() + ".bias", d));
            postGamma = adopt(weights.tensor(l.postNorm() + ".weight", d));
            postBeta = adopt(weights.tensor(l.postNorm() + ".bias", d));
            projection = adopt(weights.tensor(l.projection() + ".weight", projectionDim, d), compute);
            encoder = new ClipEncoder(backend, weights, l.encoderPrefix(), l.naming(), l.qkvBias(), config.numHiddenLayers(),
                    config.hiddenSize(), config.intermediateSize(), config.numAttentionHeads(), config.layerNormEps(),
                    Activation.fromHf(config.hiddenAct()));
            adapters = new TowerAdapters(backend, encoder, l.projection(), projection);
        } catch (IOException | RuntimeException ex) {
            params.close();
            throw ex;
        }
    }

    /** A host tensor with its leading 1-dimensions dropped (timm's [1, 1, D] and [1, N, D]); closes the argument. */
    private static Tensor flat(Tensor t, long... shape) {
        if (t.rank() == shape.length) return t;
        try (t) {
            return Tensor.of(t.toFloatArray(), shape);
        }
    }

    public ClipVisionConfig config() { return config; }

    @Override
    public String family() { return family; }

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
            backend.patchEmbed(devPixels, patchWeight, patchBias, patches);
            Tensor x = scope.allocate(compute, b, n, d);             // [B, N, D]: token 0 zero, patches after it
            backend.copyRows(patches, 0, g2 * d, x, d, n * d, b, g2 * d);
            backend.addBroadcast(x, positions);                      // token 0 becomes the class embedding + position 0
            if (observer != null) observer.embeddings(x);
            if (preGamma != null) backend.layerNorm(x, preGamma, preBeta, (float) config.layerNormEps(), x);  // timm: none
            if (observer != null) observer.hiddenState(0, x);
            return x;
        }
    }

    // ---- LoRA and training ----

    /** The Linear modules an adapter may wrap: the encoder's and {@code visual_projection}. */
    @Override
    public List<LoraWeights.Linear> linears() { return adapters.linears(); }

    @Override
    public void attachAdapters(LoraState state) { adapters.attach(state); }

    @Override
    public void detachAdapters() { adapters.detach(); }

    @Override
    public void mergeAdapters(int sign) { adapters.merge(sign); }

    @Override
    public boolean trainable() { return true; }

    /** What {@link #backward} needs from a training forward; closing it frees the saved activations. */
    public static final class Tape implements io.vlm4j.model.Tape {
        private final TensorScope scope;
        private final List<ClipEncoder.LayerTape> layers = new ArrayList<>();
        private Tensor cls, clsNorm, t;

        private Tape(TensorScope scope) { this.scope = scope; }

        @Override
        public void close() { scope.close(); }
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
        Tape tape = new Tape(new TensorScope(backend.device()));
        try {
            Tensor x = embed(pixels, null, tape.scope);
            Tensor y = encoder.forwardTrain(x, false, null, checkpoint, tape.scope, tape.layers);
            tape.cls = tape.scope.allocate(compute, b, d);
            backend.copyRows(y, 0, n * d, tape.cls, 0, d, b, d);
            tape.clsNorm = tape.scope.allocate(compute, b, d);
            backend.layerNorm(tape.cls, postGamma, postBeta, (float) config.layerNormEps(), tape.clsNorm);
            if (adapters.projectionSite() != null) tape.t = tape.scope.allocate(compute, b, adapters.projectionSite().rankSum());
            try (TensorScope scratch = new TensorScope(backend.device())) {
                ClipEncoder.project(backend, scratch, tape.clsNorm, projection, adapters.projectionSite(), tape.t, true, out);
            }
            return tape;
        } catch (RuntimeException e) {
            tape.close();
            throw e;
        }
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
