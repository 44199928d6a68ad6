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
import java.util.OptionalInt;

/**
 * CLIP text tower (spec 01 §3.3; HF {@code CLIPTextTransformer} + {@code text_projection} in
 * transformers/models/clip/modeling_clip.py): token + position embedding (positions 0..L−1 whatever the padding),
 * causal pre-LN encoder, final LayerNorm, EOS pooling, projection without bias.
 *
 * <p>Pooling follows HF: a config with the legacy {@code eos_token_id == 2} (old OpenAI configs) pools at
 * argmax(ids), the first occurrence of the largest id, which is {@code <|endoftext|>} = 49407 in the CLIP
 * vocabulary; otherwise at the first position equal to {@code eos_token_id}. A row without that id is an error
 * here (HF silently pools position 0).
 */
public final class ClipTextTower implements io.vlm4j.model.TextTower, TowerAdapters.Host {

    /** Receives intermediate activations; tensors are valid only during the call. */
    public interface Observer {
        /** hidden_states[i]: i = 0 token + position embedding, i ≥ 1 after encoder layer i; [B, L, D]. */
        default void hiddenState(int index, Tensor x) {}

        /** [B, L, D] final LayerNorm of all tokens (HF last_hidden_state). */
        default void afterFinalLayerNorm(Tensor x) {}

        /** The pooled position of every row. */
        default void pooledPositions(long[] positions) {}
    }

    private final Backend backend;
    private final ClipTextConfig config;
    private final int projectionDim;
    private final TensorScope params;  // weights, on the backend's device
    private final Tensor tokenEmbedding;  // [V, D], compute type
    private final Tensor positions;       // [maxPos, D], compute type
    private final Tensor finalGamma, finalBeta;
    private final Tensor projection;      // [E, D], compute type
    private final ClipEncoder encoder;
    private final TowerAdapters adapters;  // LoRA on the encoder and the projection

    /** Loads {@code text_model.*} and {@code text_projection.weight} ([E, D]) from {@code weights}. */
    public ClipTextTower(Backend backend, ClipTextConfig config, int projectionDim, WeightSource weights)
            throws IOException {
        this.backend = backend;
        this.params = new TensorScope(backend.device());
        this.config = config;
        this.projectionDim = projectionDim;
        long d = config.hiddenSize();
        String e = "text_model.embeddings.";
        try {
            DType compute = backend.computeType();
            tokenEmbedding = adopt(weights.tensor(e + "token_embedding.weight", config.vocabSize(), d), compute);
            positions = adopt(weights.tensor(e + "position_embedding.weight", config.maxPositionEmbeddings(), d), compute);
            finalGamma = adopt(weights.tensor("text_model.final_layer_norm.weight", d));
            finalBeta = adopt(weights.tensor("text_model.final_layer_norm.bias", d));
            projection = adopt(weights.tensor("text_projection.weight", projectionDim, d), compute);
            encoder = new ClipEncoder(backend, weights, "text_model.encoder", config.numHiddenLayers(),
                    config.hiddenSize(), config.intermediateSize(), config.numAttentionHeads(), config.layerNormEps(),
                    Activation.fromHf(config.hiddenAct()));
            adapters = new TowerAdapters(backend, encoder, "text_projection", projection);
        } catch (IOException | RuntimeException ex) {
            params.close();
            throw ex;
        }
    }

    public ClipTextConfig config() { return config; }

    @Override
    public String family() { return "clip"; }

    @Override
    public int projectionDim() { return projectionDim; }

    @Override
    public int maxLength() { return config.maxPositionEmbeddings(); }

    @Override
    public int vocabSize() { return config.vocabSize(); }

    /** Range and pooling-token checks (what the gather and EOS pooling kernels check on the device). */
    @Override
    public void checkIds(Tensor ids) {
        int[] v = ids.toIntArray();
        int len = (int) ids.dim(1), vocab = config.vocabSize();
        OptionalInt eos = poolingEosId();
        for (int row = 0; row * len < v.length; row++) {
            boolean hasEos = eos.isEmpty();
            for (int j = row * len; j < (row + 1) * len; j++) {
                if (v[j] < 0 || v[j] >= vocab) {
                    throw new IllegalArgumentException("encodeTexts: ids[" + j + "] = " + v[j] + " is out of range [0, " + vocab + ")");
                }
                hasEos |= eos.isPresent() && v[j] == eos.getAsInt();
            }
            if (!hasEos) throw new IllegalArgumentException("encodeTexts: row " + row + " has no EOS token " + eos.getAsInt());
        }
    }

    /** The pooling rule in force: empty = argmax(ids) (legacy configs), else the EOS id to look for. */
    public OptionalInt poolingEosId() {
        return config.eosTokenId() == 2 ? OptionalInt.empty() : OptionalInt.of(config.eosTokenId());
    }

    public void forward(Tensor ids, Tensor out) {
        forward(ids, null, out, null);
    }

    /**
     * ids: I32 [B, L] with 1 ≤ L ≤ max_position_embeddings; attentionMask: I32 [B, L] (1 = keep) or null;
     * out: F32 [B, E] text embeddings (not normalized).
     */
    @Override
    public void forward(Tensor ids, Tensor attentionMask, Tensor out) {
        forward(ids, attentionMask, out, null);
    }

    public void forward(Tensor ids, Tensor attentionMask, Tensor out, Observer observer) {
        long b = checkInputs(ids, out), len = ids.dim(1), d = config.hiddenSize();
        if (b == 0) return;
        try (TensorScope scratch = new TensorScope(backend.device())) {
            // inputs and output on the backend's device (the same tensors on the CPU)
            Tensor devIds = ids.device() == backend.device() ? ids : scratch.track(backend.onDevice(ids));
            Tensor devMask = attentionMask == null || attentionMask.device() == backend.device() ? attentionMask
                    : scratch.track(backend.onDevice(attentionMask));
            Tensor x = embed(devIds, scratch);
            if (observer != null) observer.hiddenState(0, x);
            encoder.forward(x, true, devMask, observer == null ? null : observer::hiddenState);
            backend.layerNorm(x, finalGamma, finalBeta, (float) config.layerNormEps(), x);
            if (observer != null) observer.afterFinalLayerNorm(x);
            Tensor pooled = scratch.allocate(backend.computeType(), b, d);  // [B, D]
            long[] pos = backend.eosPool(x, devIds, poolingEosId(), pooled);
            if (observer != null) observer.pooledPositions(pos);
            ClipEncoder.project(backend, scratch, pooled, projection, adapters.projectionSite(), null, false, out);
        }
    }

    private long checkInputs(Tensor ids, Tensor out) {
        OpChecks.requireDType("text forward", "ids", ids, DType.I32);
        OpChecks.requireRank("text forward", "ids", ids, 2);
        long b = ids.dim(0), len = ids.dim(1);
        if (len < 1 || len > config.maxPositionEmbeddings()) {
            throw new IllegalArgumentException("text forward: sequence length " + len + " is outside [1, "
                    + config.maxPositionEmbeddings() + "]");
        }
        OpChecks.requireShape("text forward", "out", out, b, projectionDim);
        return b;
    }

    /** Token + position embedding of device ids [B, L]: the encoder input [B, L, D], allocated in {@code scope}. */
    private Tensor embed(Tensor devIds, TensorScope scope) {
        long b = devIds.dim(0), len = devIds.dim(1), d = config.hiddenSize();
        Tensor x = scope.allocate(backend.computeType(), b, len, d);  // [B, L, D]
        backend.gather(tokenEmbedding, devIds, x);
        backend.addBroadcast(x, positions.view(0, len, d));
        return x;
    }

    // ---- LoRA and training ----

    /** The LoRA adapters of the encoder and the projection (Linear paths in {@link #linears()}). */
    @Override
    public TowerAdapters adapters() { return adapters; }

    /** What {@link #backward} needs from a training forward; closing it frees the saved activations. */
    public static final class Tape extends io.vlm4j.model.Tape {
        private final List<ClipEncoder.LayerTape> layers = new ArrayList<>();
        private Tensor encoded, pooled, t, mask;
        private long[] positions;

        private Tape(io.vlm4j.tensor.Device device) { super(device); }
    }

    /** A training forward of ids [B, L] (attentionMask as in {@link #forward(Tensor, Tensor, Tensor, Observer)}). */
    @Override
    public Tape forwardTrain(Tensor ids, Tensor attentionMask, Tensor out, boolean checkpoint) {
        long b = checkInputs(ids, out), d = config.hiddenSize();
        if (b == 0) throw new IllegalArgumentException("text forwardTrain: empty batch");
        DType compute = backend.computeType();
        return io.vlm4j.model.Tape.record(new Tape(backend.device()), tape -> {
            Tensor devIds = ids.device() == backend.device() ? ids : tape.scope().track(backend.onDevice(ids));
            if (attentionMask != null) {  // the tape's own copy: the caller may close its mask before the backward
                tape.mask = tape.scope().allocate(attentionMask.dtype(), attentionMask.shape());
                tape.mask.copyFrom(attentionMask);
            }
            Tensor x = embed(devIds, tape.scope());
            tape.encoded = encoder.forwardTrain(x, true, tape.mask, checkpoint, tape.scope(), tape.layers);
            Tensor normed = tape.scope().allocate(compute, tape.encoded.shape());
            backend.layerNorm(tape.encoded, finalGamma, finalBeta, (float) config.layerNormEps(), normed);
            tape.pooled = tape.scope().allocate(compute, b, d);
            tape.positions = backend.eosPool(normed, devIds, poolingEosId(), tape.pooled);
            if (adapters.projectionSite() != null) tape.t = tape.scope().allocate(compute, b, adapters.projectionSite().rankSum());
            try (TensorScope scratch = new TensorScope(backend.device())) {
                ClipEncoder.project(backend, scratch, tape.pooled, projection, adapters.projectionSite(), tape.t, true, out);
            }
        });
    }

    /** Backward of {@link #forwardTrain}: dOut F32 [B, E] on the backend's device; adapter gradients accumulate. */
    @Override
    public void backward(io.vlm4j.model.Tape anyTape, Tensor dOut) {
        Tape tape = io.vlm4j.model.Tape.own(Tape.class, anyTape, "text backward");
        long b = tape.pooled.dim(0), len = tape.encoded.dim(1), d = config.hiddenSize();
        OpChecks.requireF32("text backward", "dOut", dOut);
        OpChecks.requireShape("text backward", "dOut", dOut, b, projectionDim);
        DType compute = backend.computeType();
        try (TensorScope s = new TensorScope(backend.device())) {
            Tensor dPooled = s.allocate(compute, b, d);
            ClipEncoder.projectBackward(backend, s, tape.pooled, projection, adapters.projectionSite(), tape.t, dOut, dPooled);
            Tensor dNormed = s.allocate(compute, b, len, d);  // only the pooled (EOS) tokens receive a gradient
            for (int r = 0; r < b; r++) backend.copyRows(dPooled, r * d, d, dNormed, (r * len + tape.positions[r]) * d, d, 1, d);
            Tensor dx = s.allocate(compute, b, len, d);
            backend.layerNormBackward(tape.encoded, finalGamma, (float) config.layerNormEps(), dNormed, dx, false, null, null);
            encoder.backward(tape.layers, dx, true, tape.mask, false);
        }
    }

    /** Multiply-accumulates per text of length {@code len}. */
    @Override
    public long macsPerText(long len) {
        return macsPerText(config, projectionDim, len);
    }

    /** Multiply-accumulates per text from the configuration alone (benchmark reports). */
    public static long macsPerText(ClipTextConfig config, int projectionDim, long len) {
        return ClipEncoder.macs(config.numHiddenLayers(), config.hiddenSize(), config.intermediateSize(), 1, len)
                + (long) config.hiddenSize() * projectionDim;
    }

    /** A loaded host weight, moved to the backend's device and owned by this object. */
    private Tensor adopt(Tensor host) {
        return params.track(backend.adopt(host));
    }

    /** As {@link #adopt(Tensor)}, converted to {@code dtype} on the device. */
    private Tensor adopt(Tensor host, DType dtype) {
        return params.track(backend.adoptAs(host, dtype));
    }

    @Override
    public void close() {
        detachAdapters();
        encoder.close();
        params.close();
    }
}
