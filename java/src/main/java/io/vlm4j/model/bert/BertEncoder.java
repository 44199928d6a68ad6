package io.vlm4j.model.bert;

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
 * The post-LN encoder of an HF {@code BertModel} (spec 04 §4 step 3; {@code BertLayer}, {@code BertSelfAttention},
 * {@code BertSelfOutput}, {@code BertIntermediate}, {@code BertOutput} in transformers/models/bert/modeling_bert.py):
 * <pre>
 *   h  = LayerNorm_attn(dense(attention(x·Wqᵀ+bq, x·Wkᵀ+bk, x·Wvᵀ+bv)) + x)
 *   x' = LayerNorm_out(dense2(act(dense1(h))) + h)
 * </pre>
 * The residual is added <em>before</em> each LayerNorm (unlike CLIP's pre-LN blocks) and there is no final
 * LayerNorm. Attention is bidirectional with scale 1/√d; padded keys are dropped through the key mask. q, k and v
 * weights are stacked at load into one [3D, D] matrix so a layer runs one QKV GEMM ({@link Backend#attentionPacked}).
 * Activations and matmul weights are in the backend's compute/weight type; LayerNorm parameters and biases stay F32.
 */
final class BertEncoder implements AutoCloseable {

    /** One layer's parameters, owned by the encoder. */
    private record Layer(Tensor qkvWeight, Tensor qkvBias, Tensor attnOutWeight, Tensor attnOutBias, Tensor attnLnGamma,
                         Tensor attnLnBeta, Tensor interWeight, Tensor interBias, Tensor outWeight, Tensor outBias,
                         Tensor outLnGamma, Tensor outLnBeta) {
        Tensor[] linearWeights() { return new Tensor[] {qkvWeight, attnOutWeight, interWeight, outWeight}; }
    }

    private static final int QKV = 0, ATTN_OUT = 1, INTER = 2, OUT = 3;

    private final Backend backend;
    private final BertConfig config;
    private final List<Layer> layers;
    private final TensorScope params;  // weights, on the backend's device
    private final Tensor[][] prepared;  // [layer][QKV, ATTN_OUT, INTER, OUT]: the backend's prepared weights, or nulls
    private final float eps;
    private final Activation act;

    /** Loads {@code <prefix>encoder.layer.<i>.*} for every layer of {@code config}. */
    BertEncoder(Backend backend, BertConfig config, WeightSource weights, String prefix) throws IOException {
        this.backend = backend;
        this.config = config;
        this.params = new TensorScope(backend.device());
        this.eps = (float) config.layerNormEps();
        this.act = config.activation();
        List<Layer> list = new ArrayList<>(config.layers());
        Tensor[][] p = new Tensor[config.layers()][];
        try {
            for (int i = 0; i < config.layers(); i++) list.add(loadLayer(weights, prefix + "encoder.layer." + i + "."));
            for (int i = 0; i < list.size(); i++) {
                Tensor[] w = list.get(i).linearWeights();
                p[i] = new Tensor[w.length];
                for (int j = 0; j < w.length; j++) {
                    Tensor prep = backend.prepareLinearWeight(w[j]);
                    if (prep != null) p[i][j] = params.track(prep);
                }
            }
        } catch (IOException | RuntimeException e) {
            params.close();
            throw e;
        }
        this.layers = List.copyOf(list);
        this.prepared = p;
    }

    private Layer loadLayer(WeightSource w, String p) throws IOException {
        long d = config.hidden(), f = config.intermediate();
        Tensor qkvBias = params.f32(3 * d);
        Tensor stacked = Tensor.allocate(DType.F32, 3 * d, d);  // [3D, D] host: query, key, value weights
        try {
            String[] names = {"query", "key", "value"};
            for (int j = 0; j < 3; j++) {
                String base = p + "attention.self." + names[j];
                try (Tensor wj = w.tensor(base + ".weight", d, d); Tensor bj = w.tensor(base + ".bias", d)) {
                    stacked.view(j * d * d, d, d).copyFrom(wj);
                    qkvBias.view(j * d, d).copyFrom(bj);
                }
            }
        } catch (IOException | RuntimeException e) {
            stacked.close();
            throw e;
        }
        Tensor qkvWeight = params.track(backend.adoptAs(stacked, backend.weightType()));
        return new Layer(qkvWeight, qkvBias,
                weight(w, p + "attention.output.dense.weight", d, d), f32(w, p + "attention.output.dense.bias", d),
                f32(w, p + "attention.output.LayerNorm.weight", d), f32(w, p + "attention.output.LayerNorm.bias", d),
                weight(w, p + "intermediate.dense.weight", f, d), f32(w, p + "intermediate.dense.bias", f),
                weight(w, p + "output.dense.weight", d, f), f32(w, p + "output.dense.bias", d),
                f32(w, p + "output.LayerNorm.weight", d), f32(w, p + "output.LayerNorm.bias", d));
    }

    /** A matmul weight, on the device in the backend's weight type. */
    private Tensor weight(WeightSource w, String name, long... shape) throws IOException {
        return params.track(backend.adoptAs(w.tensor(name, shape), backend.weightType()));
    }

    /** A LayerNorm parameter or a bias: F32 on the device. */
    private Tensor f32(WeightSource w, String name, long... shape) throws IOException {
        return params.track(backend.adopt(w.tensor(name, shape)));
    }

    /**
     * Runs every layer on {@code x} [B, L, D] (compute type, on the device) in place. keyMask: I32 [B, L] on the
     * device, non-zero = a key to attend to, or null (every key). Each row needs at least one kept key: a row with
     * none gets zeros from the attention (see {@link BertTextTower}).
     */
    void forward(Tensor x, Tensor keyMask) {
        long b = x.dim(0), len = x.dim(1), d = config.hidden();
        DType compute = backend.computeType();
        try (TensorScope scratch = new TensorScope(backend.device())) {
            Tensor qkv = scratch.allocate(compute, b, len, 3 * d);               // [B, L, 3D] q | k | v
            Tensor ctx = scratch.allocate(compute, b, len, d);                   // [B, L, D] heads merged
            Tensor h = scratch.allocate(compute, b, len, d);                     // [B, L, D] after the attention half
            Tensor mid = scratch.allocate(compute, b, len, config.intermediate());  // [B, L, F] act(intermediate)
            for (int i = 0; i < layers.size(); i++) {
                Layer l = layers.get(i);
                backend.linear(x, l.qkvWeight(), prep(i, QKV), l.qkvBias(), Activation.NONE, null, qkv);
                backend.attentionPacked(qkv, ctx, config.heads(), false, keyMask);
                // BertSelfOutput: LayerNorm(dense(ctx) + x), the residual added in the GEMM epilogue
                backend.linear(ctx, l.attnOutWeight(), prep(i, ATTN_OUT), l.attnOutBias(), Activation.NONE, x, h);
                backend.layerNorm(h, l.attnLnGamma(), l.attnLnBeta(), eps, h);
                backend.linear(h, l.interWeight(), prep(i, INTER), l.interBias(), act, null, mid);
                // BertOutput: LayerNorm(dense(mid) + h), written back into x for the next layer
                backend.linear(mid, l.outWeight(), prep(i, OUT), l.outBias(), Activation.NONE, h, x);
                backend.layerNorm(x, l.outLnGamma(), l.outLnBeta(), eps, x);
            }
        }
    }

    private Tensor prep(int layer, int which) {
        return prepared[layer][which];
    }

    /** Multiply-accumulates of the encoder over one sequence of {@code len} tokens (2 FLOPs per MAC). */
    static long macs(BertConfig c, long len) {
        long d = c.hidden(), f = c.intermediate();
        long gemm = len * (3 * d * d + d * d + 2 * d * f);
        long attention = 2 * len * len * d;  // q·kᵀ and p·v over all heads
        return c.layers() * (gemm + attention);
    }

    @Override
    public void close() {
        params.close();
    }
}
