package io.vlm4j.model.vit;

import io.vlm4j.backend.Backend;
import io.vlm4j.backend.OpChecks;
import io.vlm4j.model.clip.ClipEncoder;
import io.vlm4j.model.clip.TowerAdapters;
import io.vlm4j.model.clip.WeightSource;
import io.vlm4j.tensor.DType;
import io.vlm4j.tensor.Tensor;
import io.vlm4j.tensor.TensorScope;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

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
 *
 * <p>LoRA (spec 05) wraps the encoder's q/k/v/out_proj and fc1/fc2 and the {@code head} Linear, under the PEFT module paths
 * of a {@code SiglipModel} ({@code text_model.encoder.layers.i.self_attn.q_proj}, …, {@code text_model.head}); the
 * embeddings are not trained. {@link #forwardTrain} / {@link #backward} train them.
 */
public final class SiglipTextTower implements io.vlm4j.model.TextTower, TowerAdapters.Host {
    private final Backend backend;
    private final SiglipTextConfig config;
    private final TensorScope params;
    private final Tensor tokenEmbedding;  // [V, D], compute type
    private final Tensor positions;       // [P, D], compute type
    private final Tensor finalGamma, finalBeta;
    private final Tensor headWeight;      // [E, D], weight type
    private final Tensor headBias;        // [E] F32
    private final ClipEncoder encoder;
    private final TowerAdapters adapters;  // LoRA on the encoder and the head

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
            adapters = new TowerAdapters(backend, encoder, prefix + "head", headWeight);
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
        long b = checkInputs("siglip text forward", ids, attentionMask, out), len = ids.dim(1), d = config.hiddenSize();
        if (b == 0) return;
        DType compute = backend.computeType();
        try (TensorScope scratch = new TensorScope(backend.device())) {
            Tensor devMask = attentionMask == null || attentionMask.device() == backend.device() ? attentionMask
                    : scratch.track(backend.onDevice(attentionMask));
            Tensor x = embed(ids, scratch);
            encoder.forward(x, false, devMask, null);
            Tensor last = scratch.allocate(compute, b, d);                   // [B, D] position L−1 of every row
            backend.copyRows(x, (len - 1) * d, len * d, last, 0, d, b, d);
            // LayerNorm is per token: normalizing only the pooled rows equals final_layer_norm(x)[:, -1]
            backend.layerNorm(last, finalGamma, finalBeta, (float) config.layerNormEps(), last);
            ClipEncoder.project(backend, scratch, last, headWeight, headBias, adapters.projectionSite(), null, false, out);
        }
    }

    /** The argument checks of a forward: ids I32 [B, L] within the position table, mask I32 [B, L] or null, out F32 [B, E]. */
    private long checkInputs(String op, Tensor ids, Tensor attentionMask, Tensor out) {
        OpChecks.requireDType(op, "ids", ids, DType.I32);
        OpChecks.requireRank(op, "ids", ids, 2);
        long b = ids.dim(0), len = ids.dim(1);
        if (len < 1 || len > config.maxPositionEmbeddings()) {
            throw new IllegalArgumentException(op + ": sequence length " + len + " is outside [1, "
                    + config.maxPositionEmbeddings() + "]");
        }
        if (attentionMask != null) {
            OpChecks.requireDType(op, "attentionMask", attentionMask, DType.I32);
            OpChecks.requireShape(op, "attentionMask", attentionMask, b, len);
        }
        OpChecks.requireF32(op, "out", out);
        OpChecks.requireShape(op, "out", out, b, config.projectionSize());
        return b;
    }

    /** Token + position embedding of ids [B, L] (any device; range-checked by the gather): [B, L, D] allocated in {@code scope}. */
    private Tensor embed(Tensor ids, TensorScope scope) {
        long b = ids.dim(0), len = ids.dim(1), d = config.hiddenSize();
        Tensor x = scope.allocate(backend.computeType(), b, len, d);
        try (TensorScope tmp = new TensorScope(backend.device())) {
            Tensor devIds = ids.device() == backend.device() ? ids : tmp.track(backend.onDevice(ids));
            backend.gather(tokenEmbedding, devIds, x);
        }
        backend.addBroadcast(x, positions.view(0, len, d));
        return x;
    }

    // ---- LoRA and training ----

    /** The LoRA adapters: the encoder's and the Linears after it ({@link #linears()}). */
    @Override
    public TowerAdapters adapters() { return adapters; }

    /** What {@link #backward} needs from a training forward; owns all of it (the mask too), and closing it frees it. */
    public static final class Tape extends io.vlm4j.model.Tape {
        private final List<ClipEncoder.LayerTape> layers = new ArrayList<>();
        private Tensor mask;       // I32 [B, L] a copy of the caller's, or null
        private Tensor encoded;    // [B, L, D] encoder output
        private Tensor last;       // [B, D] its last position, before final_layer_norm
        private Tensor lastNorm;   // [B, D] after it: the head's input
        private Tensor t;          // [B, R] the head adapter's x·Âᵀ, or null

        private Tape(io.vlm4j.tensor.Device device) { super(device); }
    }

    /** A training forward of ids [B, L] (attentionMask I32 [B, L] or null, as SigLIP runs): as {@link #forward(Tensor, Tensor, Tensor)}. */
    @Override
    public Tape forwardTrain(Tensor ids, Tensor attentionMask, Tensor out, boolean checkpoint) {
        long b = checkInputs("siglip text forwardTrain", ids, attentionMask, out), len = ids.dim(1), d = config.hiddenSize();
        if (b == 0) throw new IllegalArgumentException("siglip text forwardTrain: empty batch");
        DType compute = backend.computeType();
        return io.vlm4j.model.Tape.record(new Tape(backend.device()), tape -> {
            if (attentionMask != null) {  // the backward reads it after the caller may have freed or changed its own
                tape.mask = tape.scope().allocate(DType.I32, b, len);
                tape.mask.copyFrom(attentionMask);
            }
            Tensor x = embed(ids, tape.scope());
            tape.encoded = encoder.forwardTrain(x, false, tape.mask, checkpoint, tape.scope(), tape.layers);
            tape.last = tape.scope().allocate(compute, b, d);
            backend.copyRows(tape.encoded, (len - 1) * d, len * d, tape.last, 0, d, b, d);
            tape.lastNorm = tape.scope().allocate(compute, b, d);
            backend.layerNorm(tape.last, finalGamma, finalBeta, (float) config.layerNormEps(), tape.lastNorm);
            if (adapters.projectionSite() != null) tape.t = tape.scope().allocate(compute, b, adapters.projectionSite().rankSum());
            try (TensorScope scratch = new TensorScope(backend.device())) {
                ClipEncoder.project(backend, scratch, tape.lastNorm, headWeight, headBias, adapters.projectionSite(), tape.t, true, out);
            }
        });
    }

    /** Backward of {@link #forwardTrain}: dOut F32 [B, E] on the backend's device; adapter gradients accumulate. */
    @Override
    public void backward(io.vlm4j.model.Tape anyTape, Tensor dOut) {
        Tape tape = io.vlm4j.model.Tape.own(Tape.class, anyTape, "siglip text backward");
        long b = tape.last.dim(0), len = tape.encoded.dim(1), d = config.hiddenSize();
        OpChecks.requireF32("siglip text backward", "dOut", dOut);
        OpChecks.requireShape("siglip text backward", "dOut", dOut, b, config.projectionSize());
        DType compute = backend.computeType();
        try (TensorScope s = new TensorScope(backend.device())) {
            Tensor dNorm = s.allocate(compute, b, d);
            ClipEncoder.projectBackward(backend, s, tape.lastNorm, headWeight, adapters.projectionSite(), tape.t, dOut, dNorm);
            Tensor dLast = s.allocate(compute, b, d);
            backend.layerNormBackward(tape.last, finalGamma, (float) config.layerNormEps(), dNorm, dLast, false, null, null);
            Tensor dx = s.allocate(compute, b, len, d);  // only the last position of each row receives a gradient
            backend.copyRows(dLast, 0, d, dx, (len - 1) * d, len * d, b, d);
            encoder.backward(tape.layers, dx, false, tape.mask, false);
        }
    }

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
