package io.vlm4j.model.clip;

import io.vlm4j.backend.Activation;
import io.vlm4j.backend.Backend;
import io.vlm4j.tensor.DType;
import io.vlm4j.tensor.Tensor;
import io.vlm4j.tensor.TensorScope;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/**
 * The pre-LN transformer encoder shared by both CLIP towers (spec 01 §3.1; HF {@code CLIPEncoderLayer} in
 * transformers/models/clip/modeling_clip.py):
 * <pre>
 *   x = x + out_proj(attention(LayerNorm1(x)))
 *   x = x + fc2(act(fc1(LayerNorm2(x))))
 * </pre>
 * q, k and v weights are concatenated at load time into one [3D, D] matrix so a layer runs one QKV GEMM.
 * Activations and matmul weights are in the backend's {@link Backend#computeType()} (weights converted once at
 * load); LayerNorm parameters and biases stay F32.
 */
final class ClipEncoder implements AutoCloseable {

    /** One layer's parameters, owned by the encoder: matmul weights in the compute type, the rest F32. */
    record Layer(Tensor ln1Gamma, Tensor ln1Beta, Tensor qkvWeight, Tensor qkvBias, Tensor outWeight, Tensor outBias,
                 Tensor ln2Gamma, Tensor ln2Beta, Tensor fc1Weight, Tensor fc1Bias, Tensor fc2Weight, Tensor fc2Bias) {}

    /** Receives a copy-free view of intermediate activations (for conformance tests and feature extraction). */
    interface LayerObserver {
        void afterLayer(int index, Tensor hidden);  // [B, L, D], valid only during the call
    }

    private final Backend backend;
    private final List<Layer> layers;
    private final int width;
    private final int heads;
    private final int mlpWidth;
    private final float eps;
    private final Activation act;
    private final TensorScope params;  // weights, on the backend's device
    private final DType compute;       // activations and matmul weights

    ClipEncoder(Backend backend, WeightSource weights, String prefix, int layerCount, int width, int mlpWidth,
                int heads, double eps, Activation act) throws IOException {
        this.backend = backend;
        this.params = new TensorScope(backend.device());
        this.compute = backend.computeType();
        this.width = width;
        this.heads = heads;
        this.mlpWidth = mlpWidth;
        this.eps = (float) eps;
        this.act = act;
        List<Layer> list = new ArrayList<>(layerCount);
        try {
            for (int i = 0; i < layerCount; i++) list.add(loadLayer(weights, prefix + ".layers." + i + "."));
        } catch (IOException | RuntimeException e) {
            params.close();
            throw e;
        }
        this.layers = List.copyOf(list);
    }

    private Layer loadLayer(WeightSource w, String p) throws IOException {
        long d = width, f = mlpWidth;
        Tensor qkvB = params.f32(3 * d);
        Tensor all = Tensor.allocate(backend.device(), DType.F32, 3 * d, d);  // [3D, D]: q, k, v weights stacked
        try {
            String[] qkv = {"q_proj", "k_proj", "v_proj"};
            for (int j = 0; j < 3; j++) {
                try (Tensor wj = w.tensor(p + "self_attn." + qkv[j] + ".weight", d, d);
                     Tensor bj = w.tensor(p + "self_attn." + qkv[j] + ".bias", d)) {
                    all.view(j * d * d, d, d).copyFrom(wj);
                    qkvB.view(j * d, d).copyFrom(bj);
                }
            }
        } catch (IOException | RuntimeException e) {
            all.close();
            throw e;
        }
        Tensor qkvW = params.track(backend.adoptAs(all, backend.weightType()));
        return new Layer(
                adopt(w.tensor(p + "layer_norm1.weight", d)), adopt(w.tensor(p + "layer_norm1.bias", d)),
                qkvW, qkvB,
                adoptWeight(w.tensor(p + "self_attn.out_proj.weight", d, d)),
                adopt(w.tensor(p + "self_attn.out_proj.bias", d)),
                adopt(w.tensor(p + "layer_norm2.weight", d)), adopt(w.tensor(p + "layer_norm2.bias", d)),
                adoptWeight(w.tensor(p + "mlp.fc1.weight", f, d)), adopt(w.tensor(p + "mlp.fc1.bias", f)),
                adoptWeight(w.tensor(p + "mlp.fc2.weight", d, f)), adopt(w.tensor(p + "mlp.fc2.bias", d)));
    }

    int layerCount() { return layers.size(); }

    /**
     * Runs every layer on {@code x} [B, L, D] in place. The residual stream alternates between x and a scratch
     * buffer inside a layer so that no residual add writes over the tensor it reads.
     */
    void forward(Tensor x, boolean causal, Tensor keyMask, LayerObserver observer) {
        long b = x.dim(0), len = x.dim(1);
        try (TensorScope scratch = new TensorScope(backend.device())) {
            Tensor h = scratch.allocate(compute, b, len, width);          // LayerNorm output
            Tensor qkv = scratch.allocate(compute, b, len, 3L * width);   // fused projections
            Tensor attn = scratch.allocate(compute, b, len, width);       // attention output (heads concatenated)
            Tensor mlp = scratch.allocate(compute, b, len, mlpWidth);     // fc1 + activation
            Tensor other = scratch.allocate(compute, b, len, width);      // residual stream between the two halves
            Tensor cur = x;
            for (int i = 0; i < layers.size(); i++) {
                Layer l = layers.get(i);
                backend.layerNorm(cur, l.ln1Gamma(), l.ln1Beta(), eps, h);
                backend.linear(h, l.qkvWeight(), l.qkvBias(), Activation.NONE, null, qkv);
                backend.attentionPacked(qkv, attn, heads, causal, keyMask);
                backend.linear(attn, l.outWeight(), l.outBias(), Activation.NONE, cur, other);   // other = cur + o
                backend.layerNorm(other, l.ln2Gamma(), l.ln2Beta(), eps, h);
                backend.linear(h, l.fc1Weight(), l.fc1Bias(), act, null, mlp);
                backend.linear(mlp, l.fc2Weight(), l.fc2Bias(), Activation.NONE, other, cur);  // cur = other + m
                if (observer != null) observer.afterLayer(i + 1, cur);
            }
        }
    }

    /** Multiply-accumulates of one forward over [B, L] tokens, for FLOP/s reports (2 FLOPs per MAC). */
    static long macs(int layerCount, long width, long mlpWidth, long b, long len) {
        long rows = b * len;
        long gemm = rows * (width * 3 * width + width * width + 2L * width * mlpWidth);
        long attention = 2L * b * len * len * width;  // q·kᵀ and p·v over all heads
        return layerCount * (gemm + attention);
    }

    /** A loaded host weight, moved to the backend's device and owned by this object. */
    private Tensor adopt(Tensor host) {
        return params.track(backend.adopt(host));
    }

    /** A loaded host matmul weight, moved to the device in the backend's weight type and owned by this object. */
    private Tensor adoptWeight(Tensor host) {
        return params.track(backend.adoptAs(host, backend.weightType()));
    }

    /**
     * {@code out} (F32 [B, E], on any device) = pooled [B, D] (compute type, on the device) · projectionᵀ: the last
     * GEMM of a tower, in the compute type, then converted and copied out.
     */
    static void project(Backend backend, TensorScope scratch, Tensor pooled, Tensor projection, Tensor out) {
        long b = pooled.dim(0), e = projection.dim(0);
        Tensor devOut = out.device() == backend.device() ? out : scratch.f32(b, e);
        if (pooled.dtype() == DType.F32) {
            backend.linear(pooled, projection, null, Activation.NONE, null, devOut);
        } else {
            Tensor projected = scratch.allocate(pooled.dtype(), b, e);
            backend.linear(pooled, projection, null, Activation.NONE, null, projected);
            backend.convert(projected, devOut);
        }
        if (devOut != out) out.copyFrom(devOut);
    }

    @Override
    public void close() {
        params.close();
    }
}
