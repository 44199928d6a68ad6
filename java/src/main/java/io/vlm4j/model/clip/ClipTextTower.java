package io.vlm4j.model.clip;

import io.vlm4j.backend.Activation;
import io.vlm4j.backend.Backend;
import io.vlm4j.backend.OpChecks;
import io.vlm4j.tensor.DType;
import io.vlm4j.tensor.Tensor;
import io.vlm4j.tensor.TensorScope;
import java.io.IOException;
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
public final class ClipTextTower implements AutoCloseable {

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
        } catch (IOException | RuntimeException ex) {
            params.close();
            throw ex;
        }
    }

    public ClipTextConfig config() { return config; }

    public int projectionDim() { return projectionDim; }

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
    public void forward(Tensor ids, Tensor attentionMask, Tensor out, Observer observer) {
        OpChecks.requireDType("text forward", "ids", ids, DType.I32);
        OpChecks.requireRank("text forward", "ids", ids, 2);
        long b = ids.dim(0), len = ids.dim(1), d = config.hiddenSize();
        if (len < 1 || len > config.maxPositionEmbeddings()) {
            throw new IllegalArgumentException("text forward: sequence length " + len + " is outside [1, "
                    + config.maxPositionEmbeddings() + "]");
        }
        OpChecks.requireShape("text forward", "out", out, b, projectionDim);
        if (b == 0) return;
        try (TensorScope scratch = new TensorScope(backend.device())) {
            // inputs and output on the backend's device (the same tensors on the CPU)
            Tensor devIds = ids.device() == backend.device() ? ids : scratch.track(backend.onDevice(ids));
            Tensor devMask = attentionMask == null || attentionMask.device() == backend.device() ? attentionMask
                    : scratch.track(backend.onDevice(attentionMask));
            Tensor x = scratch.allocate(backend.computeType(), b, len, d);  // [B, L, D]
            backend.gather(tokenEmbedding, devIds, x);
            backend.addBroadcast(x, positions.view(0, len, d));
            if (observer != null) observer.hiddenState(0, x);
            encoder.forward(x, true, devMask, observer == null ? null : observer::hiddenState);
            backend.layerNorm(x, finalGamma, finalBeta, (float) config.layerNormEps(), x);
            if (observer != null) observer.afterFinalLayerNorm(x);
            Tensor pooled = scratch.allocate(backend.computeType(), b, d);  // [B, D]
            long[] pos = backend.eosPool(x, devIds, poolingEosId(), pooled);
            if (observer != null) observer.pooledPositions(pos);
            ClipEncoder.project(backend, scratch, pooled, projection, out);
        }
    }

    /** Multiply-accumulates per text of length {@code len}. */
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
        encoder.close();
        params.close();
    }
}
