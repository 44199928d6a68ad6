package io.vlm4j.model.vit;

import io.vlm4j.backend.Activation;
import io.vlm4j.backend.Backend;
import io.vlm4j.backend.OpChecks;
import io.vlm4j.lora.LoraSite;
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
 * The SigLIP image tower, HF {@code SiglipVisionModel} (transformers/models/siglip/modeling_siglip.py:
 * {@code SiglipVisionEmbeddings}, {@code SiglipEncoder}, {@code SiglipMultiheadAttentionPoolingHead}; spec 06 §6.2).
 * For pixels [B, C, S, S]:
 * <pre>
 *   x = Conv2d_P×P,stride P(pixels) + b + position_embedding      → [B, N, D], N = G²; no class token, no pre-norm
 *   x = EncoderLayer(x), num_hidden_layers times                   (pre-LN, gelu_pytorch_tanh, eps 1e-6)
 *   x = post_layernorm(x)                                          (every token)
 *   MAP head (nn.MultiheadAttention with fused in_proj, the learned probe [1,1,D] as the only query):
 *     q = probe·W_qᵀ + b_q,  k = x·W_kᵀ + b_k,  v = x·W_vᵀ + b_v    (W_q, W_k, W_v = rows [0,D), [D,2D), [2D,3D) of in_proj_weight)
 *     h = out_proj(softmax(q·kᵀ/√d_h)·v)                           → [B, 1, D], per head, no mask
 *     h = h + fc2(act(fc1(layernorm(h))))                          (head MLP with the tower's activation, eps 1e-6)
 *   pooler_output = h[:, 0]                                        → [B, D] (SigLIP's image embedding: no projection)
 * </pre>
 * Keys under {@code prefix} ("vision_model." in {@code SiglipModel} checkpoints): {@code embeddings.patch_embedding.weight
 * [D,C,P,P] / .bias, embeddings.position_embedding.weight [N,D], encoder.layers.i.*, post_layernorm.*, head.probe [1,1,D],
 * head.attention.in_proj_weight [3D,D] / in_proj_bias [3D], head.attention.out_proj.*, head.layernorm.*, head.mlp.fc1.*,
 * head.mlp.fc2.*}. Activations are in the backend's compute type; the embeddings returned are F32.
 *
 * <p>LoRA (spec 05) wraps the encoder's q/k/v/out_proj and fc1/fc2, {@code head.attention.out_proj} and
 * {@code head.mlp.fc1/fc2}, under the PEFT module paths of a {@code SiglipModel} ({@code vision_model.encoder.layers.i.…},
 * {@code vision_model.head.…}). The head's fused {@code in_proj_weight} is a parameter of {@code nn.MultiheadAttention},
 * not a Linear module, so it takes no adapter (PEFT reaches it only by wrapping the whole MultiheadAttention or with
 * {@code target_parameters}); the patch and position embeddings and the probe are not trained.
 *
 * <p>Note on PEFT and {@code head.attention.out_proj}: {@code nn.MultiheadAttention.forward} reads
 * {@code out_proj.weight} directly and never calls the module, so PEFT 0.21's unmerged forward ignores an adapter there
 * (it has no effect and gets no gradient) while {@code merge_and_unload} applies it. Here it always counts, as
 * W + s·B·A: the merged PEFT model's behaviour, the same merged or not.
 */
public final class SiglipVisionTower implements io.vlm4j.model.ImageTower, TowerAdapters.Host {
    private final Backend backend;
    private final SiglipVisionConfig config;
    private final TensorScope params;   // weights, on the backend's device
    private final Tensor patchWeight;   // [D, C, P, P], compute type
    private final Tensor patchBias;     // [D] F32
    private final Tensor positions;     // [N, D], compute type
    private final Tensor postGamma, postBeta;
    private final ClipEncoder encoder;
    // attention-pooling head
    private final Tensor query;         // [1, 1, D] compute type: probe·W_qᵀ + b_q, the same for every image
    private final Tensor inProj;        // [3D, D] weight type; k and v use views of rows [D, 3D)
    private final Tensor inBias;        // [3D] F32
    private final Tensor outWeight, outBias;
    private final Tensor headGamma, headBeta;
    private final Tensor fc1Weight, fc1Bias, fc2Weight, fc2Bias;
    private final TowerAdapters adapters;  // LoRA on the encoder and the head's out_proj, fc1, fc2 (site indices below)
    private static final int OUT = 0, FC1 = 1, FC2 = 2;

    /** Loads a {@code SiglipVisionModel} whose keys start with {@code prefix} (e.g. "vision_model."). */
    public SiglipVisionTower(Backend backend, SiglipVisionConfig config, WeightSource weights, String prefix) throws IOException {
        this.backend = backend;
        this.config = config;
        this.params = new TensorScope(backend.device());
        long d = config.hiddenSize(), p = config.patchSize(), f = config.intermediateSize();
        DType compute = backend.computeType(), weight = backend.weightType();
        String e = prefix + "embeddings.", h = prefix + "head.";
        try {
            patchWeight = adopt(weights.tensor(e + "patch_embedding.weight", d, config.numChannels(), p, p), compute);
            patchBias = adopt(weights.tensor(e + "patch_embedding.bias", d), DType.F32);
            positions = adopt(weights.tensor(e + "position_embedding.weight", config.numPositions(), d), compute);
            postGamma = adopt(weights.tensor(prefix + "post_layernorm.weight", d), DType.F32);
            postBeta = adopt(weights.tensor(prefix + "post_layernorm.bias", d), DType.F32);
            Tensor probe = adopt(weights.tensor(h + "probe", 1, 1, d), compute);
            inProj = adopt(weights.tensor(h + "attention.in_proj_weight", 3 * d, d), weight);
            inBias = adopt(weights.tensor(h + "attention.in_proj_bias", 3 * d), DType.F32);
            outWeight = adopt(weights.tensor(h + "attention.out_proj.weight", d, d), weight);
            outBias = adopt(weights.tensor(h + "attention.out_proj.bias", d), DType.F32);
            headGamma = adopt(weights.tensor(h + "layernorm.weight", d), DType.F32);
            headBeta = adopt(weights.tensor(h + "layernorm.bias", d), DType.F32);
            fc1Weight = adopt(weights.tensor(h + "mlp.fc1.weight", f, d), weight);
            fc1Bias = adopt(weights.tensor(h + "mlp.fc1.bias", f), DType.F32);
            fc2Weight = adopt(weights.tensor(h + "mlp.fc2.weight", d, f), weight);
            fc2Bias = adopt(weights.tensor(h + "mlp.fc2.bias", d), DType.F32);
            // the probe is a parameter, so its query projection is too: computed once, with the op every forward would use
            query = params.allocate(compute, 1, 1, d);
            backend.linear(probe, inProj.view(0, d, d), inBias.view(0, d), Activation.NONE, null, query);
            encoder = ClipEncoder.create(backend, weights, prefix + "encoder", ClipEncoder.Naming.HF, true,
                    config.numHiddenLayers(), config.hiddenSize(), config.intermediateSize(), config.numAttentionHeads(),
                    config.layerNormEps(), config.activation());
            adapters = new TowerAdapters(backend, encoder, List.of(new TowerAdapters.Head(h + "attention.out_proj", outWeight),
                    new TowerAdapters.Head(h + "mlp.fc1", fc1Weight), new TowerAdapters.Head(h + "mlp.fc2", fc2Weight)));
        } catch (IOException | RuntimeException ex) {
            params.close();
            throw ex;
        }
    }

    public SiglipVisionConfig config() { return config; }

    @Override
    public String family() { return "siglip"; }

    @Override
    public int imageSize() { return config.imageSize(); }

    @Override
    public int numChannels() { return config.numChannels(); }

    /** Width of the pooled output: hidden_size. */
    @Override
    public int projectionDim() { return config.hiddenSize(); }

    /** pixels: F32 [B, C, S, S], already normalized (SigLIP: mean = std = 0.5); out: F32 [B, D] pooler_output. */
    @Override
    public void forward(Tensor pixels, Tensor out) {
        long b = checkForward("siglip vision forward", pixels, out);
        long d = config.hiddenSize(), n = config.numPositions();
        if (b == 0) return;
        DType compute = backend.computeType();
        try (TensorScope scratch = new TensorScope(backend.device())) {
            Tensor x = embed(pixels, scratch);                               // [B, N, D]
            encoder.forward(x, false, null, null);
            backend.layerNorm(x, postGamma, postBeta, (float) config.layerNormEps(), x);
            // MAP head
            Tensor q = scratch.allocate(compute, b, 1, d);                   // the probe's query, once per image
            backend.copyRows(query, 0, 0, q, 0, d, b, d);
            Tensor k = scratch.allocate(compute, b, n, d), v = scratch.allocate(compute, b, n, d);
            backend.linear(x, inProj.view(d * d, d, d), inBias.view(d, d), Activation.NONE, null, k);
            backend.linear(x, inProj.view(2 * d * d, d, d), inBias.view(2 * d, d), Activation.NONE, null, v);
            Tensor attn = scratch.allocate(compute, b, 1, d);                // [B, 1, D] heads concatenated
            backend.attention(q, k, v, attn, config.numAttentionHeads(), false, null);
            headOutput(attn.reshape(b, d), out, null, scratch);
        }
    }

    /** Patch embedding + positions of pixels [B, C, S, S] (any device): the encoder input [B, N, D], allocated in {@code scope}. */
    private Tensor embed(Tensor pixels, TensorScope scope) {
        long b = pixels.dim(0), d = config.hiddenSize(), n = config.numPositions();
        Tensor x = scope.allocate(backend.computeType(), b, n, d);
        try (TensorScope tmp = new TensorScope(backend.device())) {
            Tensor devPixels = pixels.device() == backend.device() ? pixels : tmp.track(backend.onDevice(pixels));
            backend.patchEmbed(devPixels, patchWeight, patchBias, x);
        }
        backend.addBroadcast(x, positions);
        return x;
    }

    /**
     * The head after its attention: attn [B, D] (heads concatenated) → out F32 [B, D] (any device) through out_proj, the
     * head LayerNorm and MLP with its residual, adapters included. With a {@code tape} (training) its activations are kept
     * there for the backward and the adapters apply their dropout.
     */
    private void headOutput(Tensor attn, Tensor out, Tape tape, TensorScope scratch) {
        long b = attn.dim(0), d = config.hiddenSize(), f = config.intermediateSize();
        DType compute = backend.computeType();
        boolean training = tape != null;
        TensorScope keep = training ? tape.scope() : scratch;
        Tensor[] t = new Tensor[3];  // each adapter's x·Âᵀ
        for (int j = 0; j < 3; j++) if (adapters.site(j) != null) t[j] = keep.allocate(compute, b, adapters.site(j).rankSum());
        Tensor hidden = keep.allocate(compute, b, d);                        // out_proj: the head's residual stream
        backend.linear(attn, outWeight, outBias, Activation.NONE, null, hidden);
        lora(OUT, attn, hidden, t, training, scratch);
        Tensor normed = keep.allocate(compute, b, d);
        backend.layerNorm(hidden, headGamma, headBeta, (float) config.layerNormEps(), normed);
        Tensor pre = keep.allocate(compute, b, f);                           // fc1 before the activation
        backend.linear(normed, fc1Weight, fc1Bias, Activation.NONE, null, pre);
        lora(FC1, normed, pre, t, training, scratch);
        Tensor act = scratch.allocate(compute, b, f);
        backend.activation(config.activation(), pre, act);
        Tensor devOut = out.device() == backend.device() ? out : scratch.f32(b, d);
        Tensor pooled = compute == DType.F32 ? devOut : scratch.allocate(compute, b, d);
        backend.linear(act, fc2Weight, fc2Bias, Activation.NONE, hidden, pooled);  // h + mlp(layernorm(h))
        lora(FC2, act, pooled, t, training, scratch);
        if (pooled != devOut) backend.convert(pooled, devOut);
        if (devOut != out) out.copyFrom(devOut);
        if (training) {
            tape.attn = attn;
            tape.hidden = hidden;
            tape.normed = normed;
            tape.pre = pre;
            tape.t = t;
        }
    }

    /** y += the adapter term of head site {@code j} (no-op without one). */
    private void lora(int j, Tensor x, Tensor y, Tensor[] t, boolean training, TensorScope scratch) {
        LoraSite site = adapters.site(j);
        if (site != null) site.forward(x, y, t[j], training, scratch);
    }

    // ---- LoRA and training ----

    /** The LoRA adapters: the encoder's and the Linears after it ({@link #linears()}). */
    @Override
    public TowerAdapters adapters() { return adapters; }

    /** What {@link #backward} needs from a training forward; closing it frees the saved activations. */
    public static final class Tape extends io.vlm4j.model.Tape {
        private final List<ClipEncoder.LayerTape> layers = new ArrayList<>();
        private Tensor encoded;       // [B, N, D] encoder output (post_layernorm's input)
        private Tensor packed;        // [B, N, 3D] the head attention's packed q | k | v (q only in row 0)
        private Tensor attnAll;       // [B, N, D] its output; row 0 is the probe's
        private Tensor attn;          // [B, D] row 0: out_proj's input
        private Tensor hidden, normed, pre;  // [B, D], [B, D], [B, F]: out_proj output, head LayerNorm, fc1 before act
        private Tensor[] t;           // the head adapters' x·Âᵀ (nulls without an adapter)

        private Tape(io.vlm4j.tensor.Device device) { super(device); }
    }

    /**
     * A training forward: as {@link #forward} (adapters with their dropout), keeping what the backward reads; with
     * {@code checkpoint} the encoder keeps only its layer inputs.
     *
     * <p>The pooling attention runs as {@link Backend#attentionPacked} on a packed [B, N, 3D] whose row 0 holds the probe's
     * query and whose other query rows are zero, so that its backward is {@link Backend#attentionPackedBackward} (the
     * backend has no backward for the Lq ≠ Lk attention). Row 0 of the output is exactly the probe's attention over the N
     * keys; the other rows are by-products that the backward gives a zero gradient (see {@link #backward}). The extra
     * cost is one N×N head attention per image, small next to the encoder's N×N attention in every layer.
     */
    @Override
    public Tape forwardTrain(Tensor pixels, Tensor out, boolean checkpoint) {
        long b = checkForward("siglip vision forwardTrain", pixels, out);
        if (b == 0) throw new IllegalArgumentException("siglip vision forwardTrain: empty batch");
        long d = config.hiddenSize(), n = config.numPositions();
        DType compute = backend.computeType();
        return io.vlm4j.model.Tape.record(new Tape(backend.device()), tape -> {
            try (TensorScope scratch = new TensorScope(backend.device())) {
                Tensor x = embed(pixels, tape.scope());
                tape.encoded = encoder.forwardTrain(x, false, null, checkpoint, tape.scope(), tape.layers);
                Tensor normed = scratch.allocate(compute, b, n, d);                // post_layernorm: the keys' and values' input
                backend.layerNorm(tape.encoded, postGamma, postBeta, (float) config.layerNormEps(), normed);
                Tensor kv = scratch.allocate(compute, b, n, 2 * d);               // rows [D, 3D) of in_proj: k | v
                backend.linear(normed, inProj.view(d * d, 2 * d, d), inBias.view(d, 2 * d), Activation.NONE, null, kv);
                tape.packed = tape.scope().allocate(compute, b, n, 3 * d);          // zeros, then q in row 0 and k | v everywhere
                backend.copyRows(kv, 0, 2 * d, tape.packed, d, 3 * d, b * n, 2 * d);
                backend.copyRows(query, 0, 0, tape.packed, 0, n * 3 * d, b, d);
                tape.attnAll = tape.scope().allocate(compute, b, n, d);
                backend.attentionPacked(tape.packed, tape.attnAll, config.numAttentionHeads(), false, null);
                Tensor attn = tape.scope().allocate(compute, b, d);
                backend.copyRows(tape.attnAll, 0, n * d, attn, 0, d, b, d);
                headOutput(attn, out, tape, scratch);
            }
        });
    }

    /**
     * Backward of {@link #forwardTrain}: dOut F32 [B, D] on the backend's device; adapter gradients accumulate.
     *
     * <p>The head attention's backward gets dOut only in row 0 of each image. That leaks nothing from the other rows: for a
     * query row i, dP_i = dO_i·Vᵀ and dS_i = P_i ∘ (dP_i − ⟨dO_i, O_i⟩) are zero when dO_i is, so dV = Σ_i P_iᵀ·dO_i and
     * dK = Σ_i dS_iᵀ·q_i/√d_h receive row 0's terms alone, as in the Lq = 1 attention of the forward; their query gradients
     * (and row 0's, the probe being frozen) are not used.
     */
    @Override
    public void backward(io.vlm4j.model.Tape anyTape, Tensor dOut) {
        Tape tape = io.vlm4j.model.Tape.own(Tape.class, anyTape, "siglip vision backward");
        long b = tape.attn.dim(0), d = config.hiddenSize(), n = config.numPositions(), f = config.intermediateSize();
        OpChecks.requireF32("siglip vision backward", "dOut", dOut);
        OpChecks.requireShape("siglip vision backward", "dOut", dOut, b, d);
        DType compute = backend.computeType();
        float eps = (float) config.layerNormEps();
        try (TensorScope s = new TensorScope(backend.device())) {
            Tensor dy = dOut;
            if (compute != DType.F32) {
                dy = s.allocate(compute, b, d);
                backend.convert(dOut, dy);
            }
            // fc2: out = hidden + act(pre)·W2ᵀ + b2 (+ adapter)
            Tensor act = s.allocate(compute, b, f);
            backend.activation(config.activation(), tape.pre, act);
            Tensor dPre = s.allocate(compute, b, f);
            backend.matmul(dy, false, fc2Weight, false, null, Activation.NONE, null, dPre);
            if (adapters.site(FC2) != null) adapters.site(FC2).backward(act, tape.t[FC2], dy, dPre, s);
            backend.activationBackward(config.activation(), tape.pre, dPre, dPre);
            // fc1: pre = normed·W1ᵀ + b1 (+ adapter)
            Tensor dNormed = s.allocate(compute, b, d);
            backend.matmul(dPre, false, fc1Weight, false, null, Activation.NONE, null, dNormed);
            if (adapters.site(FC1) != null) adapters.site(FC1).backward(tape.normed, tape.t[FC1], dPre, dNormed, s);
            // hidden feeds the head LayerNorm and the residual
            Tensor dHidden = s.allocate(compute, b, d);
            backend.copyRows(dy, 0, 0, dHidden, 0, 0, 1, b * d);
            backend.layerNormBackward(tape.hidden, headGamma, eps, dNormed, dHidden, true, null, null);
            // out_proj: hidden = attn·Woᵀ + bo (+ adapter)
            Tensor dAttn = s.allocate(compute, b, d);
            backend.matmul(dHidden, false, outWeight, false, null, Activation.NONE, null, dAttn);
            if (adapters.site(OUT) != null) adapters.site(OUT).backward(tape.attn, tape.t[OUT], dHidden, dAttn, s);
            // the pooling attention, through the packed form: a gradient in row 0 only (see above)
            Tensor dAttnAll = s.allocate(compute, b, n, d);
            backend.copyRows(dAttn, 0, d, dAttnAll, 0, n * d, b, d);
            Tensor dPacked = s.allocate(compute, b, n, 3 * d);
            backend.attentionPackedBackward(tape.packed, tape.attnAll, dAttnAll, dPacked, config.numAttentionHeads(), false, null);
            Tensor dKv = s.allocate(compute, b * n, 2 * d);
            backend.copyRows(dPacked, d, 3 * d, dKv, 0, 2 * d, b * n, 2 * d);
            // k | v = normed·W_kvᵀ + b_kv, normed = post_layernorm(encoded)
            Tensor dNormedTokens = s.allocate(compute, b, n, d);
            backend.matmul(dKv, false, inProj.view(d * d, 2 * d, d), false, null, Activation.NONE, null, dNormedTokens.reshape(b * n, d));
            Tensor dx = s.allocate(compute, b, n, d);
            backend.layerNormBackward(tape.encoded, postGamma, eps, dNormedTokens, dx, false, null, null);
            encoder.backward(tape.layers, dx, false, null, false);
        }
    }

    /** Multiply-accumulates per image: patch embedding, encoder and the attention-pooling head. */
    @Override
    public long macsPerImage() {
        long d = config.hiddenSize(), n = config.numPositions(), p = config.patchSize(), f = config.intermediateSize();
        long patch = n * d * config.numChannels() * p * p;
        long head = 2 * n * d * d + 2 * n * d + d * d + 2 * d * f;  // k, v projections; q·kᵀ and p·v; out_proj; MLP
        return patch + ClipEncoder.macs(config.numHiddenLayers(), d, f, 1, n) + head;
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
