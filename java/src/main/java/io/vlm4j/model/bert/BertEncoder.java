package io.vlm4j.model.bert;

import io.vlm4j.backend.Activation;
import io.vlm4j.backend.Backend;
import io.vlm4j.backend.OpChecks;
import io.vlm4j.backend.PreparedWeights;
import io.vlm4j.lora.LoraSite;
import io.vlm4j.lora.LoraState;
import io.vlm4j.lora.LoraWeights;
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
 *
 * <p><b>LoRA</b> (spec 05): adapters wrap PEFT's module paths {@code <prefix>encoder.layer.i.attention.self.query/key/value}
 * (one {@link LoraSite} over the stacked QKV GEMM, stride D), {@code attention.output.dense}, {@code intermediate.dense}
 * and {@code output.dense}. The training forward and backward have no dropout of their own: the frozen base runs as
 * in eval mode (BERT's hidden and attention dropout off), only the adapters' branch dropout applies, as on the CLIP
 * towers. Because the blocks are post-LN, the residual gradient passes through each LayerNorm's backward.
 */
final class BertEncoder implements AutoCloseable {

    /** One layer's parameters, owned by the encoder. */
    private record Layer(Tensor qkvWeight, Tensor qkvBias, Tensor attnOutWeight, Tensor attnOutBias, Tensor attnLnGamma,
                         Tensor attnLnBeta, Tensor interWeight, Tensor interBias, Tensor outWeight, Tensor outBias,
                         Tensor outLnGamma, Tensor outLnBeta) {
        Tensor[] linearWeights() { return new Tensor[] {qkvWeight, attnOutWeight, interWeight, outWeight}; }
    }

    private static final int QKV = 0, ATTN_OUT = 1, INTER = 2, OUT = 3;
    private static final LoraSite[] NO_SITES = new LoraSite[4];

    private final Backend backend;
    private final BertConfig config;
    private final String prefix;        // of the BERT weights and module paths, e.g. "text.transformer."
    private final List<Layer> layers;
    private final TensorScope params;  // weights, on the backend's device
    private final PreparedWeights prepared;  // [layer][QKV, ATTN_OUT, INTER, OUT]: the backend's prepared weights
    private LoraSite[][] sites;         // [layer][QKV, ATTN_OUT, INTER, OUT]; null entries: no adapter there
    private final float eps;
    private final Activation act;
    private final DType compute;

    /** Loads {@code <prefix>encoder.layer.<i>.*} for every layer of {@code config}. */
    BertEncoder(Backend backend, BertConfig config, WeightSource weights, String prefix) throws IOException {
        this.backend = backend;
        this.config = config;
        this.prefix = prefix;
        this.params = new TensorScope(backend.device());
        this.eps = (float) config.layerNormEps();
        this.act = config.activation();
        this.compute = backend.computeType();
        this.prepared = new PreparedWeights(backend);
        List<Layer> list = new ArrayList<>(config.layers());
        try {
            for (int i = 0; i < config.layers(); i++) list.add(loadLayer(weights, layerPrefix(i)));
            this.layers = List.copyOf(list);
            prepareWeights();
        } catch (IOException | RuntimeException e) {
            params.close();
            throw e;
        }
    }

    private String layerPrefix(int i) {
        return prefix + "encoder.layer." + i + ".";
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

    /** (Re)builds the backend's prepared form of every linear weight (after loading, and after merging adapters). */
    private void prepareWeights() {
        prepared.rebuild(layers.stream().map(Layer::linearWeights).toList());
    }

    private Tensor prep(int layer, int which) {
        return prepared.get(layer, which);
    }

    /**
     * Runs every layer on {@code x} [B, L, D] (compute type, on the device) in place. keyMask: I32 [B, L] on the
     * device, non-zero = a key to attend to, or null (every key). Each row needs at least one kept key: a row with
     * none gets zeros from the attention (see {@link BertTextTower}).
     */
    void forward(Tensor x, Tensor keyMask) {
        long b = x.dim(0), len = x.dim(1), d = config.hidden();
        try (TensorScope scratch = new TensorScope(backend.device())) {
            LayerTape buffers = new LayerTape(x);  // reused by every layer; pre-LN sums are LayerNormed in place
            buffers.qkv = scratch.allocate(compute, b, len, 3 * d);                // [B, L, 3D] q | k | v
            buffers.ctx = scratch.allocate(compute, b, len, d);                    // [B, L, D] heads merged
            buffers.h = scratch.allocate(compute, b, len, d);                      // [B, L, D] after the attention half
            Tensor mid = scratch.allocate(compute, b, len, config.intermediate());  // [B, L, F] act(intermediate)
            for (int i = 0; i < layers.size(); i++) runLayer(i, x, x, keyMask, buffers, mid, false, null);
        }
    }

    /**
     * The activations of one layer that its backward reads; only {@code in} when checkpointed (the rest is recomputed).
     * In the inference forward the same object holds reused buffers and the pre-LN sums are not kept (null).
     */
    static final class LayerTape {
        final Tensor in;  // [B, L, D] the layer's input
        Tensor qkv;       // [B, L, 3D]
        Tensor ctx;       // [B, L, D] attention output, heads merged
        Tensor sum1;      // [B, L, D] dense(ctx) + x, the input of LayerNorm_attn
        Tensor h;         // [B, L, D] LayerNorm_attn output
        Tensor pre;       // [B, L, F] intermediate before the activation
        Tensor sum2;      // [B, L, D] dense2(act(pre)) + h, the input of LayerNorm_out
        final Tensor[] t = new Tensor[4];  // x·Âᵀ of each site

        LayerTape(Tensor in) { this.in = in; }

        boolean complete() { return h != null; }
    }

    /**
     * Layer i, in → out. With {@code training}, {@code tp} receives every activation the backward reads (allocated in
     * {@code store}) and {@code out} is another tensor; without, {@code tp} holds reusable buffers, {@code out} may be
     * {@code in}, and {@code mid} [B, L, F] is the buffer for act(intermediate) (with training it is a temporary).
     */
    private void runLayer(int i, Tensor in, Tensor out, Tensor keyMask, LayerTape tp, Tensor mid, boolean training, TensorScope store) {
        Layer l = layers.get(i);
        LoraSite[] s = sites == null ? NO_SITES : sites[i];
        long b = in.dim(0), len = in.dim(1), d = config.hidden(), f = config.intermediate();
        if (training) {
            tp.qkv = store.allocate(compute, b, len, 3 * d);
            tp.ctx = store.allocate(compute, b, len, d);
            tp.sum1 = store.allocate(compute, b, len, d);
            tp.h = store.allocate(compute, b, len, d);
            tp.pre = store.allocate(compute, b, len, f);
            tp.sum2 = store.allocate(compute, b, len, d);
            for (int j = 0; j < 4; j++) if (s[j] != null) tp.t[j] = store.allocate(compute, b * len, s[j].rankSum());
        }
        Tensor sum1 = tp.sum1 != null ? tp.sum1 : tp.h, sum2 = tp.sum2 != null ? tp.sum2 : out;
        try (TensorScope tmp = new TensorScope(backend.device())) {  // not kept: act(pre), dropout inputs
            Tensor a = mid != null ? mid : tmp.allocate(compute, b, len, f);
            backend.linear(in, l.qkvWeight(), prep(i, QKV), l.qkvBias(), Activation.NONE, null, tp.qkv);
            lora(s[QKV], in, tp.qkv, tp.t[QKV], training, tmp);
            backend.attentionPacked(tp.qkv, tp.ctx, config.heads(), false, keyMask);
            // BertSelfOutput: LayerNorm(dense(ctx) + x), the residual added in the GEMM epilogue
            backend.linear(tp.ctx, l.attnOutWeight(), prep(i, ATTN_OUT), l.attnOutBias(), Activation.NONE, in, sum1);
            lora(s[ATTN_OUT], tp.ctx, sum1, tp.t[ATTN_OUT], training, tmp);
            backend.layerNorm(sum1, l.attnLnGamma(), l.attnLnBeta(), eps, tp.h);
            if (tp.pre == null && s[INTER] == null) {  // the activation fused into the GEMM epilogue
                backend.linear(tp.h, l.interWeight(), prep(i, INTER), l.interBias(), act, null, a);
            } else {  // the pre-activation kept (training) or the adapter added before the activation
                Tensor pre = tp.pre != null ? tp.pre : a;
                backend.linear(tp.h, l.interWeight(), prep(i, INTER), l.interBias(), Activation.NONE, null, pre);
                lora(s[INTER], tp.h, pre, tp.t[INTER], training, tmp);
                backend.activation(act, pre, a);
            }
            // BertOutput: LayerNorm(dense(mid) + h)
            backend.linear(a, l.outWeight(), prep(i, OUT), l.outBias(), Activation.NONE, tp.h, sum2);
            lora(s[OUT], a, sum2, tp.t[OUT], training, tmp);
            backend.layerNorm(sum2, l.outLnGamma(), l.outLnBeta(), eps, out);
        }
    }

    /** y += the site's adapter term (no-op without a site); t: where x·Âᵀ goes, or null for scratch. */
    private void lora(LoraSite site, Tensor x, Tensor y, Tensor t, boolean training, TensorScope scratch) {
        if (site == null) return;
        long rows = OpChecks.rows(x);
        Tensor tt = t != null ? t : scratch.allocate(compute, rows, site.rankSum());
        site.forward(x.reshape(rows, x.dim(-1)), y.reshape(rows, y.dim(-1)), tt, training, scratch);
    }

    // ---- LoRA adapters and training ----

    /** The Linear modules of the encoder with PEFT's module paths: query, key, value, the two output denses, intermediate. */
    List<LoraWeights.Linear> linears() {
        long d = config.hidden(), f = config.intermediate();
        List<LoraWeights.Linear> list = new ArrayList<>();
        for (int i = 0; i < layers.size(); i++) {
            String p = layerPrefix(i);
            for (String n : new String[] {"query", "key", "value"}) list.add(new LoraWeights.Linear(p + "attention.self." + n, d, d));
            list.add(new LoraWeights.Linear(p + "attention.output.dense", d, d));
            list.add(new LoraWeights.Linear(p + "intermediate.dense", d, f));
            list.add(new LoraWeights.Linear(p + "output.dense", f, d));
        }
        return list;
    }

    /** Puts the adapters of {@code state} that belong to this encoder on its Linear calls (replacing any). */
    void attach(LoraState state) {
        detach();
        long d = config.hidden(), f = config.intermediate();
        LoraSite[][] all = new LoraSite[layers.size()][];
        try {
            for (int i = 0; i < layers.size(); i++) {
                String p = layerPrefix(i), self = p + "attention.self.";
                all[i] = new LoraSite[4];
                all[i][QKV] = state.site(backend, d, 3 * d, new String[] {self + "query", self + "key", self + "value"}, d);
                all[i][ATTN_OUT] = state.site(backend, d, d, new String[] {p + "attention.output.dense"}, 0);
                all[i][INTER] = state.site(backend, d, f, new String[] {p + "intermediate.dense"}, 0);
                all[i][OUT] = state.site(backend, f, d, new String[] {p + "output.dense"}, 0);
            }
        } catch (RuntimeException e) {
            closeSites(all);
            throw e;
        }
        sites = all;
    }

    void detach() {
        closeSites(sites);
        sites = null;
    }

    private static void closeSites(LoraSite[][] all) {
        if (all == null) return;
        for (LoraSite[] row : all) if (row != null) for (LoraSite s : row) if (s != null) s.close();
    }

    /** Merges the attached adapters into the base weights (sign +1) or takes them out (−1), then re-prepares them. */
    void merge(int sign) {
        if (sites == null) return;
        try (TensorScope scratch = new TensorScope(backend.device())) {
            for (int i = 0; i < layers.size(); i++) {
                Tensor[] w = layers.get(i).linearWeights();
                for (int j = 0; j < 4; j++) if (sites[i][j] != null) sites[i][j].mergeInto(w[j], sign, scratch);
            }
        }
        prepareWeights();
    }

    /**
     * A training forward: the layers run on {@code x} [B, L, D] (not modified) and the output is returned, allocated in
     * {@code tape}; {@code tapes} receives what each layer's backward needs (with {@code checkpoint}, only the layer
     * inputs: the rest is recomputed layer by layer in the backward).
     */
    Tensor forwardTrain(Tensor x, Tensor keyMask, boolean checkpoint, TensorScope tape, List<LayerTape> tapes) {
        Tensor cur = x;
        for (int i = 0; i < layers.size(); i++) {
            Tensor next = tape.allocate(compute, x.shape());
            LayerTape tp = new LayerTape(cur);
            if (checkpoint) {
                try (TensorScope tmp = new TensorScope(backend.device())) {
                    runLayer(i, cur, next, keyMask, tp, null, true, tmp);
                }
                tapes.add(new LayerTape(cur));
            } else {
                runLayer(i, cur, next, keyMask, tp, null, true, tape);
                tapes.add(tp);
            }
            cur = next;
        }
        return cur;
    }

    /**
     * Backward through all layers: {@code dx} [B, L, D] holds the gradient of the encoder output and is replaced by
     * the gradient of its input (not computed for the first layer when {@code needInputGrad} is false: nothing below
     * the encoder trains). Adapter gradients accumulate into the LoRA state.
     */
    void backward(List<LayerTape> tapes, Tensor dx, Tensor keyMask, boolean needInputGrad) {
        for (int i = layers.size() - 1; i >= 0; i--) {
            try (TensorScope s = new TensorScope(backend.device())) {
                LayerTape tp = tapes.get(i);
                if (!tp.complete()) {
                    LayerTape full = new LayerTape(tp.in);
                    runLayer(i, tp.in, s.allocate(compute, tp.in.shape()), keyMask, full, null, true, s);
                    tp = full;
                }
                backwardLayer(i, tp, dx, keyMask, needInputGrad || i > 0, s);
            }
        }
    }

    private void backwardLayer(int i, LayerTape tp, Tensor dx, Tensor keyMask, boolean needInputGrad, TensorScope s) {
        Layer l = layers.get(i);
        LoraSite[] site = sites == null ? NO_SITES : sites[i];
        long rows = OpChecks.rows(dx), d = config.hidden(), f = config.intermediate();
        // x' = LayerNorm_out(sum2): dSum2 feeds output.dense and, through the residual, h
        Tensor dSum2 = s.allocate(compute, rows, d);
        backend.layerNormBackward(tp.sum2, l.outLnGamma(), eps, dx, dSum2.reshape(dx.shape()), false, null, null);
        // sum2 = act(pre)·W_o2ᵀ + b_o2 + h (+ adapter)
        Tensor pre = tp.pre.reshape(rows, f);
        Tensor a = s.allocate(compute, rows, f);
        backend.activation(act, pre, a);
        Tensor dPre = s.allocate(compute, rows, f);
        backend.matmul(dSum2, false, l.outWeight(), false, null, Activation.NONE, null, dPre);
        if (site[OUT] != null) site[OUT].backward(a, tp.t[OUT], dSum2, dPre, s);
        backend.activationBackward(act, pre, dPre, dPre);
        // pre = h·W_iᵀ + b_i (+ adapter); dH = dSum2 (residual) + dPre·W_i
        Tensor dH = s.allocate(compute, rows, d);
        backend.matmul(dPre, false, l.interWeight(), false, null, Activation.NONE, dSum2, dH);
        if (site[INTER] != null) site[INTER].backward(tp.h.reshape(rows, d), tp.t[INTER], dPre, dH, s);
        // h = LayerNorm_attn(sum1): dx becomes d(sum1), which feeds attention.output.dense and, through the residual, x
        backend.layerNormBackward(tp.sum1, l.attnLnGamma(), eps, dH.reshape(dx.shape()), dx, false, null, null);
        Tensor dSum1 = dx.reshape(rows, d);
        Tensor dCtx = s.allocate(compute, rows, d);
        backend.matmul(dSum1, false, l.attnOutWeight(), false, null, Activation.NONE, null, dCtx);
        if (site[ATTN_OUT] != null) site[ATTN_OUT].backward(tp.ctx.reshape(rows, d), tp.t[ATTN_OUT], dSum1, dCtx, s);
        // attention and the stacked q, k, v projection: dx = d(sum1) + dQkv·W_qkv (+ the adapter's input gradient)
        if (!needInputGrad && site[QKV] == null) return;
        Tensor dQkv = s.allocate(compute, tp.qkv.shape());
        backend.attentionPackedBackward(tp.qkv, tp.ctx, dCtx.reshape(tp.ctx.shape()), dQkv, config.heads(), false, keyMask);
        Tensor dQkv2 = dQkv.reshape(rows, 3 * d);
        if (needInputGrad) backend.matmul(dQkv2, false, l.qkvWeight(), false, null, Activation.NONE, dSum1, dSum1);
        if (site[QKV] != null) site[QKV].backward(tp.in.reshape(rows, d), tp.t[QKV], dQkv2, dSum1, s);
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
        detach();
        prepared.close();
        params.close();
    }
}
