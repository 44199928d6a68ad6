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
 */
public final class SiglipVisionTower implements io.vlm4j.model.ImageTower {
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
        long d = config.hiddenSize(), n = config.numPositions(), f = config.intermediateSize();
        if (b == 0) return;
        DType compute = backend.computeType();
        float eps = (float) config.layerNormEps();
        try (TensorScope scratch = new TensorScope(backend.device())) {
            Tensor devPixels = pixels.device() == backend.device() ? pixels : scratch.track(backend.onDevice(pixels));
            Tensor x = scratch.allocate(compute, b, n, d);                   // [B, N, D]
            backend.patchEmbed(devPixels, patchWeight, patchBias, x);
            backend.addBroadcast(x, positions);
            encoder.forward(x, false, null, null);
            backend.layerNorm(x, postGamma, postBeta, eps, x);
            // MAP head
            Tensor q = scratch.allocate(compute, b, 1, d);                   // the probe's query, once per image
            backend.copyRows(query, 0, 0, q, 0, d, b, d);
            Tensor k = scratch.allocate(compute, b, n, d), v = scratch.allocate(compute, b, n, d);
            backend.linear(x, inProj.view(d * d, d, d), inBias.view(d, d), Activation.NONE, null, k);
            backend.linear(x, inProj.view(2 * d * d, d, d), inBias.view(2 * d, d), Activation.NONE, null, v);
            Tensor attn = scratch.allocate(compute, b, 1, d);                // [B, 1, D] heads concatenated
            backend.attention(q, k, v, attn, config.numAttentionHeads(), false, null);
            Tensor hidden = scratch.allocate(compute, b, d);                 // out_proj: the head's residual stream
            backend.linear(attn.reshape(b, d), outWeight, outBias, Activation.NONE, null, hidden);
            Tensor normed = scratch.allocate(compute, b, d);
            backend.layerNorm(hidden, headGamma, headBeta, eps, normed);
            Tensor mlp = scratch.allocate(compute, b, f);
            backend.linear(normed, fc1Weight, fc1Bias, config.activation(), null, mlp);
            Tensor devOut = out.device() == backend.device() ? out : scratch.f32(b, d);
            Tensor pooled = compute == DType.F32 ? devOut : scratch.allocate(compute, b, d);
            backend.linear(mlp, fc2Weight, fc2Bias, Activation.NONE, hidden, pooled);  // h + mlp(layernorm(h))
            if (pooled != devOut) backend.convert(pooled, devOut);
            if (devOut != out) out.copyFrom(devOut);
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
        encoder.close();
        params.close();
    }
}
