package io.vlm4j.model.vit;

import io.vlm4j.backend.Activation;
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
 * A timm {@code VisionTransformer} trunk with open_clip's {@code TimmModel} head: BiomedCLIP's image tower (spec 04
 * §3; timm/models/vision_transformer.py {@code _pos_embed}, {@code forward_features}, {@code forward_head};
 * open_clip/timm_model.py). For pixels [B, C, S, S]:
 * <pre>
 *   p = Conv2d_P×P,stride P(pixels) (+ bias)          → [B, G², D], patch vectors in (c, ky, kx) order
 *   x = concat(cls_token, p) + pos_embed              → [B, N, D], N = G² + 1 (class token first, then positions added)
 *   x = norm_pre(x)                                   (only with pre_norm; Identity in vit_base_patch16_224)
 *   x = Block(x), depth times                         (pre-LN, fused qkv, exact GELU; {@link ClipEncoder})
 *   pool 'token': z = norm(x)[:, 0]                   (final LayerNorm over every token, eps 1e-6, then the class token)
 *   pool 'avg':   z = fc_norm(mean(x[:, prefix:]))    (timm moves the final norm after the pool for 'avg')
 *   out = z·W_projᵀ                                   (open_clip 'linear' head: bias-free nn.Linear [E, D]; 'none': out = z)
 * </pre>
 * Keys: {@code trunkPrefix + patch_embed.proj.weight [D,C,P,P] / .bias [D], cls_token [1,1,D], pos_embed [1,N,D],
 * blocks.i.*, norm.* / fc_norm.*, norm_pre.*} and {@code headPrefix + proj.weight [E,D]} (spec 04 §2).
 * Activations are in the backend's compute type; the embeddings returned are F32.
 *
 * <p>LoRA adapters go on every block's {@code attn.qkv}, {@code attn.proj}, {@code mlp.fc1}, {@code mlp.fc2} and on
 * {@code visual.head.proj} (PEFT module paths of open_clip's model, e.g. {@code visual.trunk.blocks.3.attn.qkv}); the
 * training forward/backward cover every layout above (token or average pooling, with or without norm_pre, class token
 * and head). Nothing before the first block is trainable, so the backward stops at the first block's output gradient.
 */
public final class TimmVisionTower implements io.vlm4j.model.ImageTower, TowerAdapters.Host {
    private final Backend backend;
    private final TimmVitConfig config;
    private final TensorScope params;   // weights, on the backend's device
    private final Tensor patchWeight;   // [D, C, P, P], compute type
    private final Tensor patchBias;     // [D] F32, or null (pre_norm trunks)
    private final Tensor classToken;    // [1, 1, D], compute type, or null
    private final Tensor positions;     // [1, N, D], compute type
    private final Tensor preGamma, preBeta;      // norm_pre [D], or null
    private final Tensor finalGamma, finalBeta;  // norm (token pool) or fc_norm (avg pool) [D], or null
    private final Tensor avgWeights;    // [N, 1] compute type: 0 for the prefix tokens, 1 for the patches (avg pool)
    private final Tensor projection;    // [E, D] weight type, or null ('none')
    private final ClipEncoder encoder;
    private final TowerAdapters adapters;

    /**
     * Loads the trunk from {@code trunkPrefix} ("visual.trunk." in an open_clip checkpoint, "" in a plain timm state
     * dict) and the head from {@code headPrefix} ("visual.head."; unused with projection "none").
     */
    public TimmVisionTower(Backend backend, TimmVitConfig config, WeightSource weights, String trunkPrefix, String headPrefix)
            throws IOException {
        this.backend = backend;
        this.config = config;
        this.params = new TensorScope(backend.device());
        long d = config.width(), p = config.patchSize(), n = config.numTokens();
        String t = trunkPrefix;
        DType compute = backend.computeType();
        try {
            patchWeight = adopt(weights.tensor(t + "patch_embed.proj.weight", d, config.channels(), p, p), compute);
            patchBias = config.patchBias() ? adopt(weights.tensor(t + "patch_embed.proj.bias", d), DType.F32) : null;
            classToken = config.classToken() ? adopt(weights.tensor(t + "cls_token", 1, 1, d), compute) : null;
            positions = adopt(weights.tensor(t + "pos_embed", 1, n, d), compute);
            preGamma = config.preNorm() ? adopt(weights.tensor(t + "norm_pre.weight", d), DType.F32) : null;
            preBeta = config.preNorm() ? adopt(weights.tensor(t + "norm_pre.bias", d), DType.F32) : null;
            String finalNorm = config.pool().equals("avg") ? "fc_norm" : "norm";
            finalGamma = config.finalNorm() ? adopt(weights.tensor(t + finalNorm + ".weight", d), DType.F32) : null;
            finalBeta = config.finalNorm() ? adopt(weights.tensor(t + finalNorm + ".bias", d), DType.F32) : null;
            avgWeights = config.pool().equals("avg") ? adopt(avgColumn(config), compute) : null;
            projection = config.projection().equals("linear")
                    ? adopt(weights.tensor(headPrefix + "proj.weight", config.embedDim(), d), backend.weightType()) : null;
            encoder = ClipEncoder.create(backend, weights, t.isEmpty() ? "" : t.substring(0, t.length() - 1), ClipEncoder.Naming.TIMM, config.qkvBias(),
                    config.depth(), config.width(), config.mlpWidth(), config.heads(), config.layerNormEps(), config.activation());
            adapters = new TowerAdapters(backend, encoder, headPrefix + "proj", projection);
        } catch (IOException | RuntimeException e) {
            params.close();
            throw e;
        }
    }

    public TimmVitConfig config() { return config; }

    @Override
    public String family() { return "timm-vit"; }

    @Override
    public int imageSize() { return config.imageSize(); }

    @Override
    public int numChannels() { return config.channels(); }

    /** Width E of the embeddings {@link #forward} writes (the trunk width with projection "none"). */
    @Override
    public int projectionDim() { return config.embedDim(); }

    /** pixels: F32 [B, C, S, S], already normalized (spec 04 §6); out: F32 [B, E], not normalized. */
    @Override
    public void forward(Tensor pixels, Tensor out) {
        long b = checkForward("timm vision forward", pixels, out);
        long d = config.width(), n = config.numTokens(), g2 = n - config.prefixTokens();
        if (b == 0) return;
        DType compute = backend.computeType();
        try (TensorScope scratch = new TensorScope(backend.device())) {
            Tensor x = embed(pixels, scratch);
            encoder.forward(x, false, null, null);
            Tensor raw = scratch.allocate(compute, b, d);
            pool(x, raw);
            Tensor pooled = raw;
            if (finalGamma != null) {
                pooled = scratch.allocate(compute, b, d);
                backend.layerNorm(raw, finalGamma, finalBeta, (float) config.layerNormEps(), pooled);
            }
            writeOut(pooled, null, false, out, scratch);
        }
    }

    /** The encoder input [B, N, D] (allocated in {@code scope}): patches, class token, positions, norm_pre. */
    private Tensor embed(Tensor pixels, TensorScope scope) {
        long b = pixels.dim(0), d = config.width(), n = config.numTokens(), g2 = n - config.prefixTokens();
        DType compute = backend.computeType();
        try (TensorScope scratch = new TensorScope(backend.device())) {
            Tensor devPixels = pixels.device() == backend.device() ? pixels : scratch.track(backend.onDevice(pixels));
            Tensor patches = scratch.allocate(compute, b, g2, d);            // [B, G², D]
            backend.patchEmbed(devPixels, patchWeight, patchBias, patches);
            Tensor x = scope.allocate(compute, b, n, d);                     // [B, N, D]
            long prefix = config.prefixTokens();
            if (classToken != null) backend.copyRows(classToken, 0, 0, x, 0, n * d, b, d);  // one row repeated per image
            backend.copyRows(patches, 0, g2 * d, x, prefix * d, n * d, b, g2 * d);
            backend.addBroadcast(x, positions.reshape(n, d));
            if (preGamma != null) backend.layerNorm(x, preGamma, preBeta, (float) config.layerNormEps(), x);
            return x;
        }
    }

    /**
     * The pooled tokens before the final norm: the class token ('token'; LayerNorm is per token, so normalizing only
     * the class tokens equals norm(x)[:, 0]) or the mean of the patch tokens ('avg').
     */
    private void pool(Tensor x, Tensor raw) {
        long b = x.dim(0), d = config.width(), n = config.numTokens(), g2 = n - config.prefixTokens();
        if (config.pool().equals("token")) {
            backend.copyRows(x, 0, n * d, raw, 0, d, b, d);
        } else {
            // Σ over patch tokens as one GEMM, xᵀ·w with w = [0 (prefix), 1, ..., 1]: exact weights in any dtype,
            // then one scale by 1/G² (a weight of 1/G² itself would be rounded in F16/BF16)
            backend.matmul(x, true, avgWeights, false, null, Activation.NONE, null, raw.reshape(b, d, 1));
            backend.scale(raw, (float) (1.0 / g2));
        }
    }

    /** Backward of {@link #pool}: dRaw [B, D] → dx [B, N, D] (overwritten; zero rows where nothing was pooled). */
    private void poolBackward(Tensor dRaw, Tensor dx, TensorScope scratch) {
        long b = dRaw.dim(0), d = config.width(), n = config.numTokens(), g2 = n - config.prefixTokens();
        if (config.pool().equals("token")) {
            backend.copyRows(dRaw, 0, d, dx, 0, n * d, b, d);  // dx was allocated zero-filled
        } else {
            // dx[b] = w·dRaw[b]/G², w [N, 1] the averaging column: one K = 1 GEMM per image, batched
            Tensor w = scratch.allocate(dRaw.dtype(), b, n, 1);
            backend.copyRows(avgWeights, 0, 0, w, 0, n, b, n);
            Tensor scaled = scratch.allocate(dRaw.dtype(), b, 1, d);
            scaled.copyFrom(dRaw.reshape(b, 1, d));
            backend.scale(scaled, (float) (1.0 / g2));
            backend.matmul(w, false, scaled, false, null, Activation.NONE, null, dx);
        }
    }

    // ---- LoRA adapters and training ----

    /** The LoRA adapters: the blocks' qkv, proj, fc1, fc2 and the head's proj (with a linear head). */
    @Override
    public TowerAdapters adapters() { return adapters; }

    /** What {@link #backward} needs from {@link #forwardTrain}. */
    private static final class TimmTape extends io.vlm4j.model.Tape {
        private final List<ClipEncoder.LayerTape> layers = new ArrayList<>();
        private Tensor raw, pooled, t;

        private TimmTape(io.vlm4j.tensor.Device device) { super(device); }
    }

    @Override
    public io.vlm4j.model.Tape forwardTrain(Tensor pixels, Tensor out, boolean checkpoint) {
        long b = checkForward("timm vision forwardTrain", pixels, out), d = config.width();
        if (b == 0) throw new IllegalArgumentException("timm vision forwardTrain: empty batch");
        DType compute = backend.computeType();
        return io.vlm4j.model.Tape.record(new TimmTape(backend.device()), tape -> {
            Tensor x = embed(pixels, tape.scope());
            Tensor y = encoder.forwardTrain(x, false, null, checkpoint, tape.scope(), tape.layers);
            tape.raw = tape.scope().allocate(compute, b, d);
            pool(y, tape.raw);
            tape.pooled = tape.raw;
            if (finalGamma != null) {
                tape.pooled = tape.scope().allocate(compute, b, d);
                backend.layerNorm(tape.raw, finalGamma, finalBeta, (float) config.layerNormEps(), tape.pooled);
            }
            if (adapters.projectionSite() != null) tape.t = tape.scope().allocate(compute, b, adapters.projectionSite().rankSum());
            try (TensorScope scratch = new TensorScope(backend.device())) {
                writeOut(tape.pooled, tape.t, true, out, scratch);
            }
        });
    }

    @Override
    public void backward(io.vlm4j.model.Tape anyTape, Tensor dOut) {
        TimmTape tape = io.vlm4j.model.Tape.own(TimmTape.class, anyTape, "timm vision backward");
        long b = tape.pooled.dim(0), d = config.width(), n = config.numTokens();
        OpChecks.requireF32("timm vision backward", "dOut", dOut);
        OpChecks.requireShape("timm vision backward", "dOut", dOut, b, config.embedDim());
        DType compute = backend.computeType();
        try (TensorScope s = new TensorScope(backend.device())) {
            Tensor dPooled = dOut;  // projection "none": out = pooled
            if (projection != null) {
                dPooled = s.allocate(compute, b, d);
                ClipEncoder.projectBackward(backend, s, tape.pooled, projection, adapters.projectionSite(), tape.t, dOut, dPooled);
            } else if (compute != DType.F32) {
                dPooled = s.allocate(compute, b, d);
                backend.convert(dOut, dPooled);
            }
            Tensor dRaw = dPooled;
            if (finalGamma != null) {
                dRaw = s.allocate(compute, b, d);
                backend.layerNormBackward(tape.raw, finalGamma, (float) config.layerNormEps(), dPooled, dRaw, false, null, null);
            }
            Tensor dx = s.allocate(compute, b, n, d);
            poolBackward(dRaw, dx, s);
            encoder.backward(tape.layers, dx, false, null, false);
        }
    }

    /**
     * out (F32 [B, E], any device) = pooled·W_projᵀ (+ the head's adapter, x·Âᵀ kept in {@code t} when given), or
     * pooled itself with projection "none".
     */
    private void writeOut(Tensor pooled, Tensor t, boolean training, Tensor out, TensorScope scratch) {
        if (projection != null) {
            ClipEncoder.project(backend, scratch, pooled, projection, adapters.projectionSite(), t, training, out);
            return;
        }
        long b = pooled.dim(0), e = config.embedDim();
        Tensor devOut = out.device() == backend.device() ? out : scratch.f32(b, e);
        Tensor result = pooled;
        if (result != devOut) {
            if (result.dtype() == DType.F32) backend.copyRows(result, 0, 0, devOut, 0, 0, 1, result.numel());
            else backend.convert(result, devOut);
        }
        if (devOut != out) out.copyFrom(devOut);
    }

    /** Multiply-accumulates per image: patch embedding, blocks, pooling and projection. */
    @Override
    public long macsPerImage() {
        return macsPerImage(config);
    }

    /** Multiply-accumulates per image from the configuration alone (benchmark reports). */
    public static long macsPerImage(TimmVitConfig config) {
        long d = config.width(), n = config.numTokens(), p = config.patchSize();
        long g2 = n - config.prefixTokens();
        long patch = g2 * d * config.channels() * p * p;
        long pool = config.pool().equals("avg") ? n * d : 0;
        long proj = config.projection().equals("linear") ? d * config.embedDim() : 0;
        return patch + ClipEncoder.macs(config.depth(), d, config.mlpWidth(), 1, n) + pool + proj;
    }

    /** The averaging column [N, 1]: 0 for prefix tokens, 1 for patch tokens (host, F32). */
    private static Tensor avgColumn(TimmVitConfig config) {
        float[] w = new float[config.numTokens()];
        java.util.Arrays.fill(w, config.prefixTokens(), w.length, 1f);
        return Tensor.of(w, w.length, 1);
    }

    /** A loaded host tensor, converted to {@code dtype} on the backend's device and owned by this tower. */
    private Tensor adopt(Tensor host, DType dtype) {
        return params.track(backend.adoptAs(host, dtype));
    }

    @Override
    public void close() {
        adapters.detach();
        encoder.close();
        params.close();
    }
}
