package io.vlm4j.model.vit;

import io.vlm4j.backend.Activation;
import io.vlm4j.backend.Backend;
import io.vlm4j.model.clip.WeightSource;
import io.vlm4j.tensor.DType;
import io.vlm4j.tensor.Tensor;
import io.vlm4j.tensor.TensorScope;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/**
 * The pre-LN transformer block stack shared by the timm ViT trunk ({@code timm.models.vision_transformer.Block}, spec 04
 * §3 step 4) and the SigLIP towers ({@code SiglipEncoderLayer} in transformers/models/siglip/modeling_siglip.py,
 * spec 06 §6.2):
 * <pre>
 *   x = x + proj(attention(LN₁(x)·W_qkvᵀ + b_qkv))      softmax(q·kᵀ/√d)·v per head, heads concatenated
 *   x = x + fc2(act(fc1(LN₂(x))))
 * </pre>
 * The two checkpoints name the same parameters differently ({@link Naming}); timm stores q, k and v fused as one
 * [3D, D] {@code attn.qkv}, HF as three [D, D] matrices that are stacked here at load time, so both run one QKV GEMM
 * whose output goes straight into {@link Backend#attentionPacked}. Matmul weights are kept in the backend's
 * {@link Backend#weightType()}, activations in {@link Backend#computeType()}; LayerNorm parameters and biases are F32.
 */
final class PreLnEncoder implements AutoCloseable {

    /** Parameter names of one block, relative to the encoder prefix. */
    enum Naming {
        /** timm: {@code blocks.i.{norm1, attn.qkv, attn.proj, norm2, mlp.fc1, mlp.fc2}}. */
        TIMM("blocks.", "norm1", "attn.proj", "norm2"),
        /** HF: {@code layers.i.{layer_norm1, self_attn.{q,k,v}_proj, self_attn.out_proj, layer_norm2, mlp.fc1, mlp.fc2}}. */
        HF("layers.", "layer_norm1", "self_attn.out_proj", "layer_norm2");

        final String blocks, norm1, out, norm2;

        Naming(String blocks, String norm1, String out, String norm2) {
            this.blocks = blocks;
            this.norm1 = norm1;
            this.out = out;
            this.norm2 = norm2;
        }
    }

    /** One block's parameters, owned by the encoder; qkvBias may be null (timm {@code qkv_bias=False}). */
    private record Block(Tensor ln1Gamma, Tensor ln1Beta, Tensor qkvWeight, Tensor qkvBias, Tensor outWeight,
                         Tensor outBias, Tensor ln2Gamma, Tensor ln2Beta, Tensor fc1Weight, Tensor fc1Bias,
                         Tensor fc2Weight, Tensor fc2Bias) {
        Tensor[] linearWeights() { return new Tensor[] {qkvWeight, outWeight, fc1Weight, fc2Weight}; }
    }

    private final Backend backend;
    private final int width, heads, mlpWidth;
    private final float eps;
    private final Activation act;
    private final DType compute;
    private final TensorScope params;   // every parameter and prepared weight, on the backend's device
    private final List<Block> blocks;
    private final Tensor[][] prepared;  // [block][qkv, out, fc1, fc2]: the backend's prepared weights, or nulls

    /**
     * Loads {@code depth} blocks named {@code prefix + naming.blocks + i + "."...}; {@code qkvBias} false means the
     * checkpoint has no q/k/v bias (timm only).
     */
    PreLnEncoder(Backend backend, WeightSource weights, String prefix, Naming naming, int depth, int width, int mlpWidth,
                 int heads, double eps, Activation act, boolean qkvBias) throws IOException {
        this.backend = backend;
        this.width = width;
        this.heads = heads;
        this.mlpWidth = mlpWidth;
        this.eps = (float) eps;
        this.act = act;
        this.compute = backend.computeType();
        this.params = new TensorScope(backend.device());
        try {
            List<Block> list = new ArrayList<>(depth);
            for (int i = 0; i < depth; i++) list.add(loadBlock(weights, prefix + naming.blocks + i + ".", naming, qkvBias));
            blocks = List.copyOf(list);
            prepared = new Tensor[depth][];
            for (int i = 0; i < depth; i++) {
                Tensor[] w = blocks.get(i).linearWeights();
                prepared[i] = new Tensor[w.length];
                for (int j = 0; j < w.length; j++) {
                    Tensor p = backend.prepareLinearWeight(w[j]);
                    prepared[i][j] = p == null ? null : params.track(p);
                }
            }
        } catch (IOException | RuntimeException e) {
            params.close();
            throw e;
        }
    }

    private Block loadBlock(WeightSource w, String p, Naming naming, boolean qkvBias) throws IOException {
        long d = width, f = mlpWidth;
        Tensor qkvW, qkvB;
        if (naming == Naming.TIMM) {
            qkvW = adoptWeight(w.tensor(p + "attn.qkv.weight", 3 * d, d));  // rows: q, k, v; head h = rows h·d_h.. of each
            qkvB = qkvBias ? adopt(w.tensor(p + "attn.qkv.bias", 3 * d)) : null;
        } else {
            Tensor all = Tensor.allocate(DType.F32, 3 * d, d);  // [3D, D]: q, k, v stacked as in timm's qkv
            Tensor bias = Tensor.allocate(DType.F32, 3 * d);
            try {
                String[] names = {"q_proj", "k_proj", "v_proj"};
                for (int j = 0; j < 3; j++) {
                    try (Tensor wj = w.tensor(p + "self_attn." + names[j] + ".weight", d, d);
                         Tensor bj = w.tensor(p + "self_attn." + names[j] + ".bias", d)) {
                        all.view(j * d * d, d, d).copyFrom(wj);
                        bias.view(j * d, d).copyFrom(bj);
                    }
                }
            } catch (IOException | RuntimeException e) {
                all.close();
                bias.close();
                throw e;
            }
            qkvB = adopt(bias);
            qkvW = adoptWeight(all);
        }
        return new Block(
                adopt(w.tensor(p + naming.norm1 + ".weight", d)), adopt(w.tensor(p + naming.norm1 + ".bias", d)),
                qkvW, qkvB,
                adoptWeight(w.tensor(p + naming.out + ".weight", d, d)), adopt(w.tensor(p + naming.out + ".bias", d)),
                adopt(w.tensor(p + naming.norm2 + ".weight", d)), adopt(w.tensor(p + naming.norm2 + ".bias", d)),
                adoptWeight(w.tensor(p + "mlp.fc1.weight", f, d)), adopt(w.tensor(p + "mlp.fc1.bias", f)),
                adoptWeight(w.tensor(p + "mlp.fc2.weight", d, f)), adopt(w.tensor(p + "mlp.fc2.bias", d)));
    }

    int depth() { return blocks.size(); }

    /**
     * Runs every block on {@code x} [B, L, D] (compute type, on the device) in place. Within a block the residual
     * stream goes x → other → x, so no fused residual add writes the tensor it reads. keyMask: I32 [B, L] or null.
     */
    void forward(Tensor x, Tensor keyMask) {
        long b = x.dim(0), len = x.dim(1);
        try (TensorScope scratch = new TensorScope(backend.device())) {
            Tensor h = scratch.allocate(compute, b, len, width);         // LayerNorm output
            Tensor qkv = scratch.allocate(compute, b, len, 3L * width);  // fused q, k, v projections
            Tensor attn = scratch.allocate(compute, b, len, width);      // attention output, heads concatenated
            Tensor mlp = scratch.allocate(compute, b, len, mlpWidth);    // act(fc1)
            Tensor other = scratch.allocate(compute, b, len, width);     // the residual stream between the two halves
            for (int i = 0; i < blocks.size(); i++) {
                Block l = blocks.get(i);
                Tensor[] p = prepared[i];
                backend.layerNorm(x, l.ln1Gamma(), l.ln1Beta(), eps, h);
                backend.linear(h, l.qkvWeight(), p[0], l.qkvBias(), Activation.NONE, null, qkv);
                backend.attentionPacked(qkv, attn, heads, false, keyMask);
                backend.linear(attn, l.outWeight(), p[1], l.outBias(), Activation.NONE, x, other);  // other = x + o
                backend.layerNorm(other, l.ln2Gamma(), l.ln2Beta(), eps, h);
                backend.linear(h, l.fc1Weight(), p[2], l.fc1Bias(), act, null, mlp);
                backend.linear(mlp, l.fc2Weight(), p[3], l.fc2Bias(), Activation.NONE, other, x);   // x = other + m
            }
        }
    }

    /** Multiply-accumulates of one forward over [B, L] tokens (2 FLOPs per MAC). */
    static long macs(int depth, long width, long mlpWidth, long b, long len) {
        long rows = b * len;
        long gemm = rows * (3 * width * width + width * width + 2 * width * mlpWidth);
        long attention = 2L * b * len * len * width;  // q·kᵀ and p·v over all heads
        return depth * (gemm + attention);
    }

    private Tensor adopt(Tensor host) {
        return params.track(backend.adopt(host));
    }

    private Tensor adoptWeight(Tensor host) {
        return params.track(backend.adoptAs(host, backend.weightType()));
    }

    @Override
    public void close() {
        params.close();
    }
}
