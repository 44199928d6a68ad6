package io.vlm4j.model.bert;

import io.vlm4j.backend.Activation;
import io.vlm4j.backend.Backend;
import io.vlm4j.backend.OpChecks;
import io.vlm4j.model.clip.WeightSource;
import io.vlm4j.tensor.DType;
import io.vlm4j.tensor.Tensor;
import io.vlm4j.tensor.TensorScope;
import java.io.IOException;
import java.util.Locale;
import java.util.Objects;

/**
 * A BERT text tower: HF {@code BertModel} (transformers/models/bert/modeling_bert.py) followed by one of open_clip's
 * poolers and projections ({@code HFTextEncoder} in open_clip/hf_model.py), as BiomedCLIP uses it (spec 04 §4, §8).
 * For ids [B, L]:
 * <ol>
 *   <li>mask m = the given attention mask, or {@code ids != pad_token_id} (what open_clip computes);</li>
 *   <li>e = LayerNorm(word_embeddings[ids] + token_type_embeddings[0] + position_embeddings[0..L−1]): token types
 *       are all 0 (open_clip passes none), positions 0..L−1 whatever the padding;</li>
 *   <li>the post-LN encoder ({@link BertEncoder}), padded keys masked; its output is {@code last_hidden_state};</li>
 *   <li>pooling ({@link Pooling}) to [B, D], then the projection ({@link Projection}) to [B, E].</li>
 * </ol>
 *
 * <p>open_clip {@code text_cfg} values and the options that reproduce them:
 * <ul>
 *   <li>{@code hf_pooler_type}: "cls_last_hidden_state_pooler" → {@link Pooling#CLS_LAST_HIDDEN_STATE} (BiomedCLIP);
 *       "cls_pooler" → {@link Pooling#CLS_POOLER} (the tanh pooler: open_clip builds the transformer with its pooling
 *       layer for this type and then uses {@code pooler_output}); "mean_pooler" (the {@code CLIPTextCfg} default) →
 *       {@link Pooling#MEAN}. "max_pooler" is not supported. See {@link Pooling#fromOpenClip}.</li>
 *   <li>{@code hf_proj_type}: "mlp" (the default) → {@link Projection#MLP}; "linear" → {@link Projection#LINEAR};
 *       none at all when the width already equals {@code embed_dim} → {@link Projection#NONE}. See
 *       {@link Projection#fromOpenClip}.</li>
 *   <li>Prefixes of a {@code CustomTextCLIP} checkpoint: {@code "text.transformer."} for the BERT weights and
 *       {@code "text.proj."} for the projection; an HF {@code BertModel} file has no prefix ({@code ""}), a
 *       {@code BertFor*} one {@code "bert."}. {@code position_ids} and, unless the pooling is {@code CLS_POOLER},
 *       {@code pooler.dense.*} are never read (older BiomedCLIP files still carry them, spec 04 §1.2).</li>
 * </ul>
 *
 * <p><b>Masking.</b> HF adds {@code finfo.min} to the scores of padded keys; this tower drops them through the
 * backend attention's key mask. The two agree exactly whenever a row keeps at least one token (exp(min − max) is 0 in
 * fp32). They differ only for a row with <em>no</em> kept token, where HF's result is an artefact (every score
 * becomes {@code finfo.min}, so the softmax is uniform over the padding) and open_clip's mean pooler divides by zero:
 * such a row is rejected with an {@link IllegalArgumentException}. A BERT tokenizer never produces one (every row
 * starts with [CLS]). Mask values must be 0 or 1, as HF's {@code (1 − m)·min} only makes sense for those.
 *
 * <p>Activations run in {@link Backend#computeType()}, matmul weights are stored in {@link Backend#weightType()},
 * LayerNorm parameters and biases stay F32. The pooler's tanh is applied on the host to the [B, D] rows (the backend
 * has no tanh), in double precision.
 */
public final class BertTextTower implements io.vlm4j.model.TextTower {

    /** How the [B, L, D] {@code last_hidden_state} becomes one [B, D] vector per text (open_clip's poolers). */
    public enum Pooling {
        /** {@code last_hidden_state[:, 0]}, the [CLS] position (open_clip {@code ClsLastHiddenStatePooler}). */
        CLS_LAST_HIDDEN_STATE,
        /** Σ_l m_l·h_l / Σ_l m_l, the masked mean (open_clip {@code MeanPooler}). */
        MEAN,
        /** BERT's pooler {@code tanh(last_hidden_state[:, 0]·Wᵀ + b)} with {@code pooler.dense.*} (open_clip {@code ClsPooler}). */
        CLS_POOLER;

        /** The pooling of an open_clip {@code hf_pooler_type}. */
        public static Pooling fromOpenClip(String hfPoolerType) {
            return switch (Objects.requireNonNull(hfPoolerType, "hf_pooler_type")) {
                case "cls_last_hidden_state_pooler" -> CLS_LAST_HIDDEN_STATE;
                case "mean_pooler" -> MEAN;
                case "cls_pooler" -> CLS_POOLER;
                default -> throw new IllegalArgumentException("unsupported hf_pooler_type '" + hfPoolerType
                        + "' (supported: cls_last_hidden_state_pooler, cls_pooler, mean_pooler)");
            };
        }
    }

    /** The projection from the pooled width D to the embedding width E (open_clip {@code HFTextEncoder.proj}). */
    public enum Projection {
        /** Identity; requires E = D. */
        NONE,
        /** {@code x·Wᵀ} without bias; W = {@code <projPrefix>weight} [E, D]. */
        LINEAR,
        /**
         * {@code GELU(x·W₀ᵀ)·W₂ᵀ} without biases, exact (erf) GELU whatever the encoder's activation, hidden width
         * H = (D + E) / 2 rounded down; W₀ = {@code <projPrefix>0.weight} [H, D], W₂ = {@code <projPrefix>2.weight} [E, H].
         */
        MLP;

        /**
         * The projection of an open_clip {@code hf_proj_type}: "mlp", "linear", or null / "none" for no projection
         * (open_clip builds an identity only when the width already equals {@code embed_dim}; the tower checks that).
         */
        public static Projection fromOpenClip(String hfProjType) {
            if (hfProjType == null) return NONE;
            return switch (hfProjType.toLowerCase(Locale.ROOT)) {
                case "mlp" -> MLP;
                case "linear" -> LINEAR;
                case "none" -> NONE;
                default -> throw new IllegalArgumentException("unsupported hf_proj_type '" + hfProjType
                        + "' (supported: mlp, linear, none)");
            };
        }
    }

    private final Backend backend;
    private final BertConfig config;
    private final Pooling pooling;
    private final Projection projection;
    private final int projectionDim;
    private final TensorScope params;  // weights, on the backend's device
    private final Tensor wordEmbeddings;      // [V, D] compute type
    private final Tensor positionEmbeddings;  // [maxPositions, D] compute type
    private final Tensor tokenType0;          // [D] compute type: token_type_embeddings[0]
    private final Tensor embGamma, embBeta;   // [D] F32
    private final BertEncoder encoder;
    private final Tensor poolerWeight, poolerBias;  // [D, D] weight type, [D] F32; CLS_POOLER only
    private final Tensor proj0, proj2;        // LINEAR: proj0 [E, D]; MLP: proj0 [H, D], proj2 [E, H]; weight type

    /**
     * Loads the tower from {@code weights}: the BERT tensors under {@code prefix} (e.g. "text.transformer.") and
     * the projection under {@code projPrefix} (e.g. "text.proj."), with the shapes {@code config} predicts.
     */
    public BertTextTower(Backend backend, BertConfig config, WeightSource weights, String prefix, Pooling pooling,
                         Projection projection, int projectionDim, String projPrefix) throws IOException {
        this.backend = Objects.requireNonNull(backend, "backend");
        this.config = Objects.requireNonNull(config, "config");
        this.pooling = Objects.requireNonNull(pooling, "pooling");
        this.projection = Objects.requireNonNull(projection, "projection");
        Objects.requireNonNull(weights, "weights");
        Objects.requireNonNull(prefix, "prefix");
        if (projectionDim <= 0) throw new IllegalArgumentException("bert tower: projectionDim must be positive, got " + projectionDim);
        if (projection == Projection.NONE && projectionDim != config.hidden()) {
            throw new IllegalArgumentException("bert tower: projection NONE needs projectionDim == hidden_size "
                    + config.hidden() + ", got " + projectionDim);
        }
        if (projection != Projection.NONE) Objects.requireNonNull(projPrefix, "projPrefix");
        this.projectionDim = projectionDim;
        this.params = new TensorScope(backend.device());
        long d = config.hidden(), e = projectionDim;
        String emb = prefix + "embeddings.";
        DType compute = backend.computeType(), weight = backend.weightType();
        try {
            wordEmbeddings = load(weights, emb + "word_embeddings.weight", compute, config.vocab(), d);
            positionEmbeddings = load(weights, emb + "position_embeddings.weight", compute, config.maxPositions(), d);
            try (Tensor types = weights.tensor(emb + "token_type_embeddings.weight", config.typeVocab(), d)) {
                Tensor row0 = params.track(Tensor.allocate(DType.F32, d));  // closing it twice is harmless
                row0.copyFrom(types.view(0, d));
                tokenType0 = params.track(backend.adoptAs(row0, compute));
            }
            embGamma = load(weights, emb + "LayerNorm.weight", DType.F32, d);
            embBeta = load(weights, emb + "LayerNorm.bias", DType.F32, d);
            encoder = new BertEncoder(backend, config, weights, prefix);
            if (pooling == Pooling.CLS_POOLER) {
                poolerWeight = load(weights, prefix + "pooler.dense.weight", weight, d, d);
                poolerBias = load(weights, prefix + "pooler.dense.bias", DType.F32, d);
            } else {
                poolerWeight = poolerBias = null;
            }
            switch (projection) {
                case NONE -> proj0 = proj2 = null;
                case LINEAR -> {
                    proj0 = load(weights, projPrefix + "weight", weight, e, d);
                    proj2 = null;
                }
                case MLP -> {
                    long h = mlpHidden();
                    proj0 = load(weights, projPrefix + "0.weight", weight, h, d);
                    proj2 = load(weights, projPrefix + "2.weight", weight, e, h);
                }
                default -> throw new AssertionError(projection);
            }
        } catch (IOException | RuntimeException ex) {
            close();
            throw ex;
        }
    }

    /** A host F32 tensor from {@code weights}, moved to the device as {@code dtype} and owned by this tower. */
    private Tensor load(WeightSource weights, String name, DType dtype, long... shape) throws IOException {
        return params.track(backend.adoptAs(weights.tensor(name, shape), dtype));
    }

    public BertConfig config() { return config; }

    @Override
    public String family() { return "bert"; }

    @Override
    public int maxLength() { return config.maxPositions(); }

    @Override
    public int vocabSize() { return config.vocab(); }

    public Pooling pooling() { return pooling; }

    public Projection projection() { return projection; }

    /** E, the width of the embeddings {@link #forward} writes. */
    @Override
    public int projectionDim() { return projectionDim; }

    /** The MLP projection's hidden width, (D + E) / 2 rounded down as open_clip's {@code (d_model + output_dim) // 2}. */
    private long mlpHidden() {
        return ((long) config.hidden() + projectionDim) / 2;
    }

    /**
     * Text embeddings (not normalized). ids: I32 [B, L] with 1 ≤ L ≤ max_position_embeddings and every id in
     * [0, vocab); attentionMask: I32 [B, L] of 0/1 (1 = keep), or null for {@code ids != pad_token_id}; every row must
     * keep at least one token. out: F32 [B, E], on any device.
     */
    @Override
    public void forward(Tensor ids, Tensor attentionMask, Tensor out) {
        String op = "bert forward";
        OpChecks.requireDType(op, "ids", ids, DType.I32);
        OpChecks.requireRank(op, "ids", ids, 2);
        long b = ids.dim(0), len = ids.dim(1), d = config.hidden();
        if (len < 1 || len > config.maxPositions()) {
            throw new IllegalArgumentException(op + ": sequence length " + len + " is outside [1, " + config.maxPositions() + "]");
        }
        OpChecks.requireF32(op, "out", out);
        OpChecks.requireShape(op, "out", out, b, projectionDim);
        if (attentionMask != null) {
            OpChecks.requireDType(op, "attentionMask", attentionMask, DType.I32);
            OpChecks.requireShape(op, "attentionMask", attentionMask, b, len);
        }
        if (b == 0) return;
        int[] mask = hostMask(ids, attentionMask);
        DType compute = backend.computeType();
        try (TensorScope scratch = new TensorScope(backend.device())) {
            Tensor devIds = ids.device() == backend.device() ? ids : scratch.track(backend.onDevice(ids));
            Tensor devMask = scratch.track(backend.adopt(Tensor.ofInts(mask, b, len)));  // [B, L] 1 = keep
            Tensor x = scratch.allocate(compute, b, len, d);  // [B, L, D]
            backend.gather(wordEmbeddings, devIds, x);
            backend.addBroadcast(x, tokenType0);  // BertEmbeddings: (word + token type) + position, HF's order
            backend.addBroadcast(x, positionEmbeddings.view(0, len, d));
            backend.layerNorm(x, embGamma, embBeta, (float) config.layerNormEps(), x);
            encoder.forward(x, devMask);
            Tensor pooled = pool(x, mask, scratch);  // [B, D] compute type, or F32 after the host tanh
            project(pooled, out, scratch);
        }
    }

    /**
     * The 0/1 key mask on the host: the given mask (checked) or {@code ids != pad}. Also checks the ids' range, with a
     * message naming the row, since a bad id would otherwise surface as a kernel error. On a GPU backend this is one small
     * device-to-host copy of the ids per call.
     */
    private int[] hostMask(Tensor ids, Tensor attentionMask) {
        int[] idv = ids.toIntArray();
        int[] mask = attentionMask == null ? new int[idv.length] : attentionMask.toIntArray();
        int len = Math.toIntExact(ids.dim(1));
        for (int i = 0; i < idv.length; i++) {
            if (idv[i] < 0 || idv[i] >= config.vocab()) {
                throw new IllegalArgumentException("bert forward: ids[" + i / len + ", " + i % len + "] = " + idv[i]
                        + " is outside the vocabulary [0, " + config.vocab() + ")");
            }
            if (attentionMask == null) {
                mask[i] = idv[i] != config.padTokenId() ? 1 : 0;
            } else if (mask[i] != 0 && mask[i] != 1) {
                throw new IllegalArgumentException("bert forward: attentionMask[" + i / len + ", " + i % len + "] = "
                        + mask[i] + "; mask values must be 0 or 1");
            }
        }
        for (int r = 0; r < idv.length / len; r++) {
            int kept = 0;
            for (int j = 0; j < len; j++) kept += mask[r * len + j];
            if (kept == 0) {
                throw new IllegalArgumentException("bert forward: row " + r + " has no token to attend to ("
                        + (attentionMask == null ? "every id is pad_token_id " + config.padTokenId() : "its attention mask is all 0")
                        + "); HF would attend uniformly over the padding there, which no tokenizer produces");
            }
        }
        return mask;
    }

    /** last_hidden_state x [B, L, D] → [B, D]: compute type, or F32 for {@link Pooling#CLS_POOLER}. */
    private Tensor pool(Tensor x, int[] mask, TensorScope scratch) {
        long b = x.dim(0), len = x.dim(1), d = x.dim(2);
        DType compute = backend.computeType();
        Tensor pooled = scratch.allocate(compute, b, d);
        switch (pooling) {
            case CLS_LAST_HIDDEN_STATE -> backend.copyRows(x, 0, len * d, pooled, 0, d, b, d);
            case MEAN -> {
                // one batched product: pooled[b] = Σ_l w[b, l]·x[b, l] with w = m / Σm ([B, 1, L] · [B, L, D])
                float[] w = new float[mask.length];
                for (int r = 0; r < b; r++) {
                    int kept = 0;
                    for (int j = 0; j < len; j++) kept += mask[(int) (r * len + j)];
                    for (int j = 0; j < len; j++) w[(int) (r * len + j)] = mask[(int) (r * len + j)] / (float) kept;
                }
                Tensor weights = scratch.track(backend.adoptAs(Tensor.of(w, b, 1, len), compute));
                backend.matmul(weights, false, x, false, null, Activation.NONE, null, pooled.reshape(b, 1, d));
            }
            case CLS_POOLER -> {
                Tensor cls = scratch.allocate(compute, b, d);
                backend.copyRows(x, 0, len * d, cls, 0, d, b, d);
                backend.linear(cls, poolerWeight, poolerBias, Activation.NONE, null, pooled);
                return tanhOnHost(pooled, scratch);
            }
            default -> throw new AssertionError(pooling);
        }
        return pooled;
    }

    /** tanh of a [B, D] tensor, computed on the host in double: an F32 tensor on the device. */
    private Tensor tanhOnHost(Tensor dense, TensorScope scratch) {
        Tensor f32 = dense;
        if (dense.dtype() != DType.F32) {
            f32 = scratch.allocate(DType.F32, dense.shape());
            backend.convert(dense, f32);
        }
        float[] v = f32.toFloatArray();
        for (int i = 0; i < v.length; i++) v[i] = (float) Math.tanh(v[i]);
        f32.copyFrom(v);
        return f32;
    }

    /** pooled [B, D] (compute type or F32) → out F32 [B, E] on any device. */
    private void project(Tensor pooled, Tensor out, TensorScope scratch) {
        long b = pooled.dim(0);
        DType compute = backend.computeType();
        Tensor x = pooled;
        if (projection != Projection.NONE && x.dtype() != compute) {  // the host tanh left F32
            x = scratch.allocate(compute, pooled.shape());
            backend.convert(pooled, x);
        }
        Tensor y = switch (projection) {
            case NONE -> x;
            case LINEAR -> {
                Tensor t = scratch.allocate(compute, b, projectionDim);
                backend.linear(x, proj0, null, Activation.NONE, null, t);
                yield t;
            }
            case MLP -> {
                Tensor h = scratch.allocate(compute, b, mlpHidden());
                backend.linear(x, proj0, null, Activation.GELU, null, h);  // nn.GELU(): exact erf
                Tensor t = scratch.allocate(compute, b, projectionDim);
                backend.linear(h, proj2, null, Activation.NONE, null, t);
                yield t;
            }
        };
        Tensor devOut = out.device() == backend.device() ? out : scratch.f32(b, projectionDim);
        if (y.dtype() == DType.F32) devOut.copyFrom(y);
        else backend.convert(y, devOut);
        if (devOut != out) out.copyFrom(devOut);
    }

    /** Multiply-accumulates per text of {@code len} tokens with this tower's pooling and projection. */
    @Override
    public long macsPerText(long len) {
        return macsPerText(config, pooling, projection, projectionDim, len);
    }

    /** Multiply-accumulates per text from the configuration alone (benchmark reports; 2 FLOPs per MAC). */
    public static long macsPerText(BertConfig config, Pooling pooling, Projection projection, int projectionDim, long len) {
        long d = config.hidden(), e = projectionDim;
        long macs = BertEncoder.macs(config, len);
        if (pooling == Pooling.MEAN) macs += len * d;
        if (pooling == Pooling.CLS_POOLER) macs += d * d;
        return macs + switch (projection) {
            case NONE -> 0L;
            case LINEAR -> d * e;
            case MLP -> (d + e) / 2 * (d + e);
        };
    }

    @Override
    public void close() {
        if (encoder != null) encoder.close();
        params.close();
    }
}
