package io.vlm4j.model.vit;

import io.vlm4j.backend.Activation;
import io.vlm4j.backend.Backend;
import io.vlm4j.backend.OpChecks;
import io.vlm4j.model.clip.ClipEncoder;
import io.vlm4j.model.clip.WeightSource;
import io.vlm4j.tensor.DType;
import io.vlm4j.tensor.Tensor;
import io.vlm4j.tensor.TensorScope;
import java.io.IOException;

/**
 * The SigLIP text tower, HF {@code SiglipTextModel} (transformers/models/siglip/modeling_siglip.py; spec 06 §6.2). For ids
 * [B, L], L ≤ max_position_embeddings:
 * <pre>
 *   x = token_embedding[ids] + position_embedding[0..L−1]     → [B, L, D]
 *   x = EncoderLayer(x), num_hidden_layers times               (pre-LN, bidirectional: no causal mask)
 *   x = final_layer_norm(x)
 *   out = x[:, L−1]·W_headᵀ + b_head                           → [B, projection_size] (the LAST position, whatever it holds)
 * </pre>
 * SigLIP was trained on ids padded to the full 64 with the pad/EOS id and no attention mask, so the last position is
 * always EOS or pad; that is how {@link #forward(Tensor, Tensor)} runs it. A mask can still be passed (HF accepts one).
 * Tokenization (SentencePiece) is not part of this class. Keys under {@code prefix} ("text_model."):
 * {@code embeddings.token_embedding.weight [V,D], embeddings.position_embedding.weight [P,D], encoder.layers.i.*,
 * final_layer_norm.*, head.weight [E,D], head.bias [E]}.
 */
public final class SiglipTextTower implements io.vlm4j.model.TextTower {
    private final Backend backend;
    private final SiglipTextConfig config;
    private final TensorScope params;
    private final Tensor tokenEmbedding;  // [V, D], compute type
    private final Tensor positions;       // [P, D], compute type
    private final Tensor finalGamma, finalBeta;
    private final Tensor headWeight;      // [E, D], weight type
    private final Tensor headBias;        // [E] F32
    private final ClipEncoder encoder;

    /** Loads a {@code SiglipTextModel} whose keys start with {@code prefix} (e.g. "text_model."). */
    public SiglipTextTower(Backend backend, SiglipTextConfig config, WeightSource weights, String prefix) throws IOException {
        this.backend = backend;
        this.config = config;
        this.params = new TensorScope(backend.device());
        long d = config.hiddenSize();
        DType compute = backend.computeType();
        String e = prefix + "embeddings.";
        try {
            tokenEmbedding = adopt(weights.tensor(e + "token_embedding.weight", config.vocabSize(), d), compute);
            positions = adopt(weights.tensor(e + "position_embedding.weight", config.maxPositionEmbeddings(), d), compute);
            finalGamma = adopt(weights.tensor(prefix + "final_layer_norm.weight", d), DType.F32);
            finalBeta = adopt(weights.tensor(prefix + "final_layer_norm.bias", d), DType.F32);
            headWeight = adopt(weights.tensor(prefix + "head.weight", config.projectionSize(), d), backend.weightType());
            headBias = adopt(weights.tensor(prefix + "head.bias", config.projectionSize()), DType.F32);
            encoder = ClipEncoder.create(backend, weights, prefix + "encoder", ClipEncoder.Naming.HF, true,
                    config.numHiddenLayers(), config.hiddenSize(), config.intermediateSize(), config.numAttentionHeads(),
                    config.layerNormEps(), config.activation());
        } catch (IOException | RuntimeException ex) {
            params.close();
            throw ex;
        }
    }

    public SiglipTextConfig config() { return config; }

    @Override
    public String family() { return "siglip"; }

    @Override
    public int maxLength() { return config.maxPositionEmbeddings(); }

    @Override
    public int vocabSize() { return config.vocabSize(); }

    /** Encoder, final LayerNorm and the head of the last position. */
    @Override
    public long macsPerText(long len) {
        long d = config.hiddenSize();
        return ClipEncoder.macs(config.numHiddenLayers(), d, config.intermediateSize(), 1, len) + d * config.projectionSize();
    }

    /** Width of the text embeddings: projection_size. */
    @Override
    public int projectionDim() { return config.projectionSize(); }

    /** ids: I32 [B, L] (padded as SigLIP expects), no mask; out: F32 [B, projection_size]. */
    @Override
    public void forward(Tensor ids, Tensor out) {
        forward(ids, null, out);
    }

    /**
     * ids: I32 [B, L] with 1 ≤ L ≤ max_position_embeddings; attentionMask: I32 [B, L] (non-zero = attend) or null;
     * out: F32 [B, projection_size], not normalized.
     */
    @Override
    public void forward(Tensor ids, Tensor attentionMask, Tensor out) {
        String op = "siglip text forward";
        OpChecks.requireDType(op, "ids", ids, DType.I32);
        OpChecks.requireRank(op, "ids", ids, 2);
        long b = ids.dim(0), len = ids.dim(1), d = config.hiddenSize(), e = config.projectionSize();
        if (len < 1 || len > config.maxPositionEmbeddings()) {
            throw new IllegalArgumentException(op + ": sequence length " + len + " is outside [1, "
                    + config.maxPositionEmbeddings() + "]");
        }
        if (attentionMask != null) {
            OpChecks.requireDType(op, "attentionMask", attentionMask, DType.I32);
            OpChecks.requireShape(op, "attentionMask", attentionMask, b, len);
        }
        OpChecks.requireF32(op, "out", out);
        OpChecks.requireShape(op, "out", out, b, e);
        if (b == 0) return;
        DType compute = backend.computeType();
        try (TensorScope scratch = new TensorScope(backend.device())) {
            Tensor devIds = ids.device() == backend.device() ? ids : scratch.track(backend.onDevice(ids));
            Tensor devMask = attentionMask == null || attentionMask.device() == backend.device() ? attentionMask
                    : scratch.track(backend.onDevice(attentionMask));
            Tensor x = scratch.allocate(compute, b, len, d);                 // [B, L, D]
            backend.gather(tokenEmbedding, devIds, x);                       // range-checks the ids
            backend.addBroadcast(x, positions.view(0, len, d));
            encoder.forward(x, false, devMask, null);
            Tensor last = scratch.allocate(compute, b, d);                   // [B, D] position L−1 of every row
            backend.copyRows(x, (len - 1) * d, len * d, last, 0, d, b, d);
            // LayerNorm is per token: normalizing only the pooled rows equals final_layer_norm(x)[:, -1]
            backend.layerNorm(last, finalGamma, finalBeta, (float) config.layerNormEps(), last);
            Tensor devOut = out.device() == backend.device() ? out : scratch.f32(b, e);
            Tensor result = compute == DType.F32 ? devOut : scratch.allocate(compute, b, e);
            backend.linear(last, headWeight, headBias, Activation.NONE, null, result);
            if (result != devOut) backend.convert(result, devOut);
            if (devOut != out) out.copyFrom(devOut);
        }
    }

    private Tensor adopt(Tensor host, DType dtype) {
        return params.track(backend.adoptAs(host, dtype));
    }

    @Override
    public void close() {
        encoder.close();
        params.close();
    }
}
