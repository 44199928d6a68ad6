package io.vlm4j.model.bert;

import io.vlm4j.backend.Backend;
import io.vlm4j.backend.OpChecks;
import io.vlm4j.lora.LoraState;
import io.vlm4j.lora.LoraWeights;
import io.vlm4j.model.clip.WeightSource;
import io.vlm4j.tensor.DType;
import io.vlm4j.tensor.Tensor;
import io.vlm4j.tensor.TensorScope;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
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
 *
 * <p><b>LoRA and training</b> (spec 05): adapters on every Linear of {@link #linears()} (PEFT's module paths), unmerged
 * or merged; {@link #forwardTrain}/{@link #backward} give the adapters' gradients through the projection, the pooling,
 * and the post-LN encoder ({@link BertEncoder}), for every pooling and projection. Embedding gradients are not computed.
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
    private final BertHead head;              // pooler and projection

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
        long d = config.hidden();
        String emb = prefix + "embeddings.";
        DType compute = backend.computeType();
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
            head = new BertHead(backend, config, pooling, projection, projectionDim, weights, prefix, projPrefix);
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

    /**
     * Text embeddings (not normalized). ids: I32 [B, L] with 1 ≤ L ≤ max_position_embeddings and every id in
     * [0, vocab); attentionMask: I32 [B, L] of 0/1 (1 = keep), or null for {@code ids != pad_token_id}; every row must
     * keep at least one token. out: F32 [B, E], on any device.
     */
    @Override
    public void forward(Tensor ids, Tensor attentionMask, Tensor out) {
        if (checkInputs("bert forward", ids, attentionMask, out) == 0) return;
        run(ids, attentionMask, out, null, false);
    }

    private long checkInputs(String op, Tensor ids, Tensor attentionMask, Tensor out) {
        OpChecks.requireDType(op, "ids", ids, DType.I32);
        OpChecks.requireRank(op, "ids", ids, 2);
        long b = ids.dim(0), len = ids.dim(1);
        if (len < 1 || len > config.maxPositions()) {
            throw new IllegalArgumentException(op + ": sequence length " + len + " is outside [1, " + config.maxPositions() + "]");
        }
        OpChecks.requireF32(op, "out", out);
        OpChecks.requireShape(op, "out", out, b, projectionDim);
        if (attentionMask != null) {
            OpChecks.requireDType(op, "attentionMask", attentionMask, DType.I32);
            OpChecks.requireShape(op, "attentionMask", attentionMask, b, len);
        }
        return b;
    }

    /**
     * The forward shared by inference ({@code tape} null: everything in scratch, the encoder in place) and training
     * (every tensor the backward reads is allocated in, and owned by, the tape, the key mask too: it is rebuilt from the
     * caller's ids or mask, which may be closed as soon as forwardTrain returns).
     */
    private void run(Tensor ids, Tensor attentionMask, Tensor out, Tape tape, boolean checkpoint) {
        long b = ids.dim(0), len = ids.dim(1), d = config.hidden();
        int[] mask = hostMask(ids, attentionMask);
        DType compute = backend.computeType();
        try (TensorScope scratch = new TensorScope(backend.device())) {
            TensorScope keep = tape != null ? tape.scope() : scratch;
            Tensor devIds = ids.device() == backend.device() ? ids : scratch.track(backend.onDevice(ids));
            Tensor devMask = keep.track(backend.adopt(Tensor.ofInts(mask, b, len)));  // [B, L] 1 = keep
            Tensor x = keep.allocate(compute, b, len, d);  // [B, L, D]
            backend.gather(wordEmbeddings, devIds, x);
            backend.addBroadcast(x, tokenType0);  // BertEmbeddings: (word + token type) + position, HF's order
            backend.addBroadcast(x, positionEmbeddings.view(0, len, d));
            backend.layerNorm(x, embGamma, embBeta, (float) config.layerNormEps(), x);
            Tensor hidden = x;  // last_hidden_state [B, L, D]
            if (tape == null) {
                encoder.forward(x, devMask);
            } else {
                hidden = encoder.forwardTrain(x, devMask, checkpoint, keep, tape.layers);
                tape.mask = devMask;
                tape.hidden = hidden;
            }
            head.forward(hidden, mask, out, tape == null ? null : tape.head, keep);
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

    // ---- LoRA and training ----

    /**
     * The Linear modules an adapter may wrap, under PEFT's module paths of the tower as loaded (open_clip's
     * {@code HFTextEncoder} inside {@code CustomTextCLIP}: {@code text.transformer.encoder.layer.i.attention.self.query}
     * ..., {@code text.proj.0}, {@code text.proj.2}): the encoder's query, key, value, attention.output.dense,
     * intermediate.dense and output.dense of every layer, then the pooler's dense ({@link Pooling#CLS_POOLER}) and the
     * projection's Linears.
     */
    @Override
    public List<LoraWeights.Linear> linears() {
        List<LoraWeights.Linear> list = new ArrayList<>(encoder.linears());
        list.addAll(head.linears());
        return list;
    }

    @Override
    public void attachAdapters(LoraState state) {
        detachAdapters();
        try {
            encoder.attach(state);
            head.attach(state);
        } catch (RuntimeException e) {
            detachAdapters();
            throw e;
        }
    }

    @Override
    public void detachAdapters() {
        encoder.detach();
        head.detach();
    }

    @Override
    public void mergeAdapters(int sign) {
        encoder.merge(sign);
        head.merge(sign);
    }

    /**
     * Every pooling and projection trains (the tanh pooler's backward runs on the host, as its forward). The frozen base
     * runs without dropout (eval mode); only the adapters' own dropout applies ({@link LoraState#dropoutStep}).
     */
    @Override
    public boolean trainable() { return true; }

    /** What {@link #backward} reads; it owns every tensor it keeps, the key mask included. */
    public static final class Tape extends io.vlm4j.model.Tape {
        private final List<BertEncoder.LayerTape> layers = new ArrayList<>();
        private final BertHead.Saved head = new BertHead.Saved();
        private Tensor mask;    // [B, L] I32 on the device, 1 = key kept
        private Tensor hidden;  // [B, L, D] last_hidden_state

        private Tape(io.vlm4j.tensor.Device device) { super(device); }
    }

    /**
     * A training forward of ids [B, L] (attentionMask as in {@link #forward(Tensor, Tensor, Tensor)}): out F32 [B, E]; with
     * {@code checkpoint} only each layer's input is kept and the backward recomputes the layer.
     */
    @Override
    public Tape forwardTrain(Tensor ids, Tensor attentionMask, Tensor out, boolean checkpoint) {
        if (checkInputs("bert forwardTrain", ids, attentionMask, out) == 0) {
            throw new IllegalArgumentException("bert forwardTrain: empty batch");
        }
        return io.vlm4j.model.Tape.record(new Tape(backend.device()), tape -> {
            run(ids, attentionMask, out, tape, checkpoint);
        });
    }

    /**
     * Backward of {@link #forwardTrain}: dOut F32 [B, E] on the backend's device; adapter gradients accumulate. No
     * gradient is computed for the embeddings (nothing below the encoder trains).
     */
    @Override
    public void backward(io.vlm4j.model.Tape anyTape, Tensor dOut) {
        Tape tape = io.vlm4j.model.Tape.own(Tape.class, anyTape, "bert backward");
        long b = tape.hidden.dim(0);
        OpChecks.requireF32("bert backward", "dOut", dOut);
        OpChecks.requireShape("bert backward", "dOut", dOut, b, projectionDim);
        try (TensorScope s = new TensorScope(backend.device())) {
            Tensor dx = s.allocate(backend.computeType(), tape.hidden.shape());  // [B, L, D], zero but the pooled rows
            head.backward(tape.head, dOut, dx, s);
            encoder.backward(tape.layers, dx, tape.mask, false);
        }
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
        if (head != null) head.close();
        if (encoder != null) encoder.close();
        params.close();
    }
}
