package io.vlm4j.model.clip;

import io.vlm4j.backend.Activation;
import io.vlm4j.backend.Backend;
import io.vlm4j.backend.OpChecks;
import io.vlm4j.backend.PreparedWeights;
import io.vlm4j.lora.LoraSite;
import io.vlm4j.lora.LoraState;
import io.vlm4j.lora.LoraWeights;
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
public final class ClipEncoder implements AutoCloseable {

    /** One layer's parameters, owned by the encoder: matmul weights in the compute type, the rest F32. */
    record Layer(Tensor ln1Gamma, Tensor ln1Beta, Tensor qkvWeight, Tensor qkvBias, Tensor outWeight, Tensor outBias,
                 Tensor ln2Gamma, Tensor ln2Beta, Tensor fc1Weight, Tensor fc1Bias, Tensor fc2Weight, Tensor fc2Bias) {}

    /** Receives a copy-free view of intermediate activations (for conformance tests and feature extraction). */
    public interface LayerObserver {
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
    private final String prefix;       // HF module path of the encoder, e.g. vision_model.encoder
    private final PreparedWeights prepared;  // [layer][QKV, OUT, FC1, FC2]: the backend's prepared weights

    /**
     * How a checkpoint names one layer's parameters (relative to the encoder prefix): HF CLIP/SigLIP
     * {@code layers.i.{layer_norm1, self_attn.{q,k,v,out}_proj, layer_norm2, mlp.fc1, mlp.fc2}} or timm
     * {@code blocks.i.{norm1, attn.qkv (q, k, v fused), attn.proj, norm2, mlp.fc1, mlp.fc2}}. The module paths of LoRA
     * adapters follow the same names (PEFT wraps the checkpoint's own modules).
     */
    public enum Naming {
        HF("layers", "layer_norm1", "layer_norm2", "self_attn.out_proj", false),
        TIMM("blocks", "norm1", "norm2", "attn.proj", true);

        final String blocks, norm1, norm2, out;
        final boolean fusedQkv;

        Naming(String blocks, String norm1, String norm2, String out, boolean fusedQkv) {
            this.blocks = blocks;
            this.norm1 = norm1;
            this.norm2 = norm2;
            this.out = out;
            this.fusedQkv = fusedQkv;
        }
    }

    private final Naming naming;
    private final boolean qkvBias;

    ClipEncoder(Backend backend, WeightSource weights, String prefix, int layerCount, int width, int mlpWidth,
                int heads, double eps, Activation act) throws IOException {
        this(backend, weights, prefix, Naming.HF, true, layerCount, width, mlpWidth, heads, eps, act);
    }

    /**
     * An encoder of {@code layerCount} pre-LN layers under {@code prefix} (no trailing dot) in {@code naming}'s names, for the
     * other families' towers (timm ViT, SigLIP); {@code qkvBias} false: the checkpoint has no q/k/v bias.
     */
    public static ClipEncoder create(Backend backend, WeightSource weights, String prefix, Naming naming, boolean qkvBias, int layerCount,
                                     int width, int mlpWidth, int heads, double eps, Activation act) throws IOException {
        return new ClipEncoder(backend, weights, prefix, naming, qkvBias, layerCount, width, mlpWidth, heads, eps, act);
    }

    /** {@code qkvBias} false: the checkpoint has no q/k/v bias (timm {@code qkv_bias=False}). */
    ClipEncoder(Backend backend, WeightSource weights, String prefix, Naming naming, boolean qkvBias, int layerCount, int width,
                int mlpWidth, int heads, double eps, Activation act) throws IOException {
        this.naming = naming;
        this.qkvBias = qkvBias;
        this.backend = backend;
        this.params = new TensorScope(backend.device());
        this.compute = backend.computeType();
        this.width = width;
        this.heads = heads;
        this.mlpWidth = mlpWidth;
        this.eps = (float) eps;
        this.act = act;
        this.prefix = prefix;
        this.prepared = new PreparedWeights(backend);
        List<Layer> list = new ArrayList<>(layerCount);
        try {
            for (int i = 0; i < layerCount; i++) list.add(loadLayer(weights, layerPrefix(i)));
        } catch (IOException | RuntimeException e) {
            params.close();
            throw e;
        }
        this.layers = List.copyOf(list);
        try {
            prepareWeights();
        } catch (RuntimeException e) {
            params.close();
            throw e;
        }
    }

    /** (Re)builds the backend's prepared form of every linear weight (after loading, and after merging adapters). */
    private void prepareWeights() {
        List<Tensor[]> w = new ArrayList<>();
        for (Layer l : layers) w.add(new Tensor[] {l.qkvWeight(), l.outWeight(), l.fc1Weight(), l.fc2Weight()});
        prepared.rebuild(w);
    }

    private Tensor prep(int layer, int which) {
        return prepared.get(layer, which);
    }

    /** The checkpoint prefix of layer i, e.g. {@code vision_model.encoder.layers.3.} or {@code visual.trunk.blocks.3.}. */
    private String layerPrefix(int i) {
        return (prefix.isEmpty() ? "" : prefix + ".") + naming.blocks + "." + i + ".";
    }

    private Layer loadLayer(WeightSource w, String p) throws IOException {
        long d = width, f = mlpWidth;
        if (naming.fusedQkv) {  // timm: one [3D, D] qkv (rows q, k, v), bias optional
            Tensor qkvW = adoptWeight(w.tensor(p + "attn.qkv.weight", 3 * d, d));
            Tensor qkvB = qkvBias ? adopt(w.tensor(p + "attn.qkv.bias", 3 * d)) : null;
            return otherParams(w, p, qkvW, qkvB);
        }
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
        return otherParams(w, p, qkvW, qkvB);
    }

    /** The layer's parameters besides q/k/v, under the naming's names. */
    private Layer otherParams(WeightSource w, String p, Tensor qkvW, Tensor qkvB) throws IOException {
        long d = width, f = mlpWidth;
        return new Layer(
                adopt(w.tensor(p + naming.norm1 + ".weight", d)), adopt(w.tensor(p + naming.norm1 + ".bias", d)),
                qkvW, qkvB,
                adoptWeight(w.tensor(p + naming.out + ".weight", d, d)),
                adopt(w.tensor(p + naming.out + ".bias", d)),
                adopt(w.tensor(p + naming.norm2 + ".weight", d)), adopt(w.tensor(p + naming.norm2 + ".bias", d)),
                adoptWeight(w.tensor(p + "mlp.fc1.weight", f, d)), adopt(w.tensor(p + "mlp.fc1.bias", f)),
                adoptWeight(w.tensor(p + "mlp.fc2.weight", d, f)), adopt(w.tensor(p + "mlp.fc2.bias", d)));
    }

    int layerCount() { return layers.size(); }

    /**
     * Runs every layer on {@code x} [B, L, D] in place. The residual stream alternates between x and a scratch
     * buffer inside a layer so that no residual add writes over the tensor it reads.
     */
    public void forward(Tensor x, boolean causal, Tensor keyMask, LayerObserver observer) {
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
                LoraSite[] s = sites == null ? NO_SITES : sites[i];
                backend.layerNorm(cur, l.ln1Gamma(), l.ln1Beta(), eps, h);
                backend.linear(h, l.qkvWeight(), prep(i, QKV), l.qkvBias(), Activation.NONE, null, qkv);
                lora(s[QKV], h, qkv, null, false, scratch);
                backend.attentionPacked(qkv, attn, heads, causal, keyMask);
                backend.linear(attn, l.outWeight(), prep(i, OUT), l.outBias(), Activation.NONE, cur, other);   // other = cur + o
                lora(s[OUT], attn, other, null, false, scratch);
                backend.layerNorm(other, l.ln2Gamma(), l.ln2Beta(), eps, h);
                if (s[FC1] == null) {
                    backend.linear(h, l.fc1Weight(), prep(i, FC1), l.fc1Bias(), act, null, mlp);
                } else {  // the adapter adds before the activation: no fused epilogue
                    backend.linear(h, l.fc1Weight(), prep(i, FC1), l.fc1Bias(), Activation.NONE, null, mlp);
                    lora(s[FC1], h, mlp, null, false, scratch);
                    backend.activation(act, mlp, mlp);
                }
                backend.linear(mlp, l.fc2Weight(), prep(i, FC2), l.fc2Bias(), Activation.NONE, other, cur);  // cur = other + m
                lora(s[FC2], mlp, cur, null, false, scratch);
                if (observer != null) observer.afterLayer(i + 1, cur);
            }
        }
    }

    // ---- LoRA adapters and training ----

    static final int QKV = 0, OUT = 1, FC1 = 2, FC2 = 3;
    private static final LoraSite[] NO_SITES = new LoraSite[4];
    private LoraSite[][] sites;  // [layer][QKV, OUT, FC1, FC2]; null entries: that Linear has no adapter

    /** The Linear modules of this encoder with their module paths (q, k, v or the fused qkv, out, fc1, fc2 of every layer). */
    public List<LoraWeights.Linear> linears() {
        List<LoraWeights.Linear> list = new ArrayList<>();
        for (int i = 0; i < layers.size(); i++) {
            String p = layerPrefix(i);
            if (naming.fusedQkv) {
                list.add(new LoraWeights.Linear(p + "attn.qkv", width, 3L * width));
            } else {
                for (String n : new String[] {"q_proj", "k_proj", "v_proj"}) list.add(new LoraWeights.Linear(p + "self_attn." + n, width, width));
            }
            list.add(new LoraWeights.Linear(p + naming.out, width, width));
            list.add(new LoraWeights.Linear(p + "mlp.fc1", width, mlpWidth));
            list.add(new LoraWeights.Linear(p + "mlp.fc2", mlpWidth, width));
        }
        return list;
    }

    /** Puts the adapters of {@code state} that belong to this encoder on its Linear calls (replacing any). */
    public void attach(LoraState state) {
        detach();
        LoraSite[][] all = new LoraSite[layers.size()][];
        try {
            for (int i = 0; i < layers.size(); i++) {
                String p = layerPrefix(i);
                all[i] = new LoraSite[4];
                all[i][QKV] = naming.fusedQkv ? state.site(backend, width, 3L * width, new String[] {p + "attn.qkv"}, 0)
                        : state.site(backend, width, 3L * width,
                                new String[] {p + "self_attn.q_proj", p + "self_attn.k_proj", p + "self_attn.v_proj"}, width);
                all[i][OUT] = state.site(backend, width, width, new String[] {p + naming.out}, 0);
                all[i][FC1] = state.site(backend, width, mlpWidth, new String[] {p + "mlp.fc1"}, 0);
                all[i][FC2] = state.site(backend, mlpWidth, width, new String[] {p + "mlp.fc2"}, 0);
            }
        } catch (RuntimeException e) {
            closeSites(all);
            throw e;
        }
        sites = all;
    }

    public void detach() {
        closeSites(sites);
        sites = null;
    }

    private static void closeSites(LoraSite[][] all) {
        if (all == null) return;
        for (LoraSite[] row : all) if (row != null) for (LoraSite s : row) if (s != null) s.close();
    }

    /** Every site of this encoder (for refresh after an optimizer step and for dropout seeds). */
    public List<LoraSite> sites() {
        List<LoraSite> list = new ArrayList<>();
        if (sites != null) for (LoraSite[] row : sites) for (LoraSite s : row) if (s != null) list.add(s);
        return list;
    }

    /**
     * Merges the attached adapters into the base weights (sign +1) or takes them out (−1); the model then runs without
     * the adapter branch when they are detached afterwards.
     */
    public void merge(int sign) {
        if (sites == null) return;
        try (TensorScope scratch = new TensorScope(backend.device())) {
            for (int i = 0; i < layers.size(); i++) {
                Layer l = layers.get(i);
                Tensor[] w = {l.qkvWeight(), l.outWeight(), l.fc1Weight(), l.fc2Weight()};
                for (int j = 0; j < 4; j++) if (sites[i][j] != null) sites[i][j].mergeInto(w[j], sign, scratch);
            }
        }
        prepareWeights();  // the merged values
    }

    /** y += the site's adapter term (no-op without a site); t: where x·Âᵀ goes, or null for scratch. */
    private void lora(LoraSite site, Tensor x, Tensor y, Tensor t, boolean training, TensorScope scratch) {
        if (site == null) return;
        long rows = OpChecks.rows(x);
        Tensor tt = t != null ? t : scratch.allocate(compute, rows, site.rankSum());
        site.forward(x.reshape(rows, x.dim(-1)), y.reshape(rows, y.dim(-1)), tt, training, scratch);
    }

    /** The activations of one layer that its backward reads; only {@code in} when checkpointed (the rest recomputed). */
    public static final class LayerTape {
        final Tensor in;  // [B, L, D] the layer's input (not owned when it is the encoder's input)
        Tensor h1, qkv, attn, mid, h2, pre;
        final Tensor[] t = new Tensor[4];

        LayerTape(Tensor in) { this.in = in; }

        boolean complete() { return h1 != null; }
    }

    /**
     * A training forward: the layers run on {@code x} [B, L, D] (not modified) and the output is returned, allocated in
     * {@code tape}; {@code tapes} receives what each layer's backward needs (with {@code checkpoint}, only the layer
     * inputs: the rest is recomputed layer by layer in the backward, trading one more forward for the memory).
     */
    public Tensor forwardTrain(Tensor x, boolean causal, Tensor keyMask, boolean checkpoint, TensorScope tape, List<LayerTape> tapes) {
        Tensor cur = x;
        for (int i = 0; i < layers.size(); i++) {
            Tensor next = tape.allocate(compute, x.shape());
            if (checkpoint) {
                try (TensorScope tmp = new TensorScope(backend.device())) {
                    runLayer(i, cur, next, causal, keyMask, tmp);
                }
                tapes.add(new LayerTape(cur));
            } else {
                tapes.add(runLayer(i, cur, next, causal, keyMask, tape));
            }
            cur = next;
        }
        return cur;
    }

    /** One layer, in → out, keeping every activation the backward reads (allocated in {@code store}). */
    private LayerTape runLayer(int i, Tensor in, Tensor out, boolean causal, Tensor keyMask, TensorScope store) {
        Layer l = layers.get(i);
        LoraSite[] s = sites == null ? NO_SITES : sites[i];
        long b = in.dim(0), len = in.dim(1), rows = b * len;
        LayerTape tp = new LayerTape(in);
        tp.h1 = store.allocate(compute, b, len, width);
        tp.qkv = store.allocate(compute, b, len, 3L * width);
        tp.attn = store.allocate(compute, b, len, width);
        tp.mid = store.allocate(compute, b, len, width);
        tp.h2 = store.allocate(compute, b, len, width);
        tp.pre = store.allocate(compute, b, len, mlpWidth);
        for (int j = 0; j < 4; j++) if (s[j] != null) tp.t[j] = store.allocate(compute, rows, s[j].rankSum());
        try (TensorScope tmp = new TensorScope(backend.device())) {  // not kept: dropout inputs, act(pre)
            backend.layerNorm(in, l.ln1Gamma(), l.ln1Beta(), eps, tp.h1);
            backend.linear(tp.h1, l.qkvWeight(), prep(i, QKV), l.qkvBias(), Activation.NONE, null, tp.qkv);
            lora(s[QKV], tp.h1, tp.qkv, tp.t[QKV], true, tmp);
            backend.attentionPacked(tp.qkv, tp.attn, heads, causal, keyMask);
            backend.linear(tp.attn, l.outWeight(), prep(i, OUT), l.outBias(), Activation.NONE, in, tp.mid);
            lora(s[OUT], tp.attn, tp.mid, tp.t[OUT], true, tmp);
            backend.layerNorm(tp.mid, l.ln2Gamma(), l.ln2Beta(), eps, tp.h2);
            backend.linear(tp.h2, l.fc1Weight(), prep(i, FC1), l.fc1Bias(), Activation.NONE, null, tp.pre);
            lora(s[FC1], tp.h2, tp.pre, tp.t[FC1], true, tmp);
            Tensor a = tmp.allocate(compute, b, len, mlpWidth);
            backend.activation(act, tp.pre, a);
            backend.linear(a, l.fc2Weight(), prep(i, FC2), l.fc2Bias(), Activation.NONE, tp.mid, out);
            lora(s[FC2], a, out, tp.t[FC2], true, tmp);
        }
        return tp;
    }

    /**
     * Backward through all layers: {@code dx} [B, L, D] holds the gradient of the encoder output and is replaced by
     * the gradient of its input (skipped for the first layer's LayerNorm when {@code needInputGrad} is false: nothing
     * below the encoder trains). Adapter gradients accumulate into the LoRA state.
     */
    public void backward(List<LayerTape> tapes, Tensor dx, boolean causal, Tensor keyMask, boolean needInputGrad) {
        for (int i = layers.size() - 1; i >= 0; i--) {
            try (TensorScope s = new TensorScope(backend.device())) {
                LayerTape tp = tapes.get(i);
                if (!tp.complete()) tp = runLayer(i, tp.in, s.allocate(compute, tp.in.shape()), causal, keyMask, s);
                backwardLayer(i, tp, dx, causal, keyMask, needInputGrad || i > 0, s);
            }
        }
    }

    private void backwardLayer(int i, LayerTape tp, Tensor dx, boolean causal, Tensor keyMask, boolean needInputGrad,
                               TensorScope s) {
        Layer l = layers.get(i);
        LoraSite[] site = sites == null ? NO_SITES : sites[i];
        long rows = OpChecks.rows(dx);
        Tensor d2 = dx.reshape(rows, width);
        // fc2: out = mid + act(pre)·W2ᵀ + b2 (+ adapter)
        Tensor a = s.allocate(compute, rows, mlpWidth);
        Tensor pre = tp.pre.reshape(rows, mlpWidth);
        backend.activation(act, pre, a);
        Tensor dPre = s.allocate(compute, rows, mlpWidth);
        backend.matmul(d2, false, l.fc2Weight(), false, null, Activation.NONE, null, dPre);
        if (site[FC2] != null) site[FC2].backward(a, tp.t[FC2], d2, dPre, s);
        backend.activationBackward(act, pre, dPre, dPre);
        // fc1: pre = h2·W1ᵀ + b1 (+ adapter)
        Tensor dH = s.allocate(compute, rows, width);
        backend.matmul(dPre, false, l.fc1Weight(), false, null, Activation.NONE, null, dH);
        if (site[FC1] != null) site[FC1].backward(tp.h2.reshape(rows, width), tp.t[FC1], dPre, dH, s);
        // mid feeds LayerNorm 2 and the residual: dx becomes d(mid)
        backend.layerNormBackward(tp.mid, l.ln2Gamma(), eps, dH.reshape(dx.shape()), dx, true, null, null);
        // out_proj: mid = in + attn·Woᵀ + bo (+ adapter)
        Tensor dAttn = s.allocate(compute, rows, width);
        backend.matmul(d2, false, l.outWeight(), false, null, Activation.NONE, null, dAttn);
        if (site[OUT] != null) site[OUT].backward(tp.attn.reshape(rows, width), tp.t[OUT], d2, dAttn, s);
        // attention and the fused q, k, v projection
        Tensor dQkv = s.allocate(compute, tp.qkv.shape());
        backend.attentionPackedBackward(tp.qkv, tp.attn, dAttn.reshape(tp.attn.shape()), dQkv, heads, causal, keyMask);
        Tensor dQkv2 = dQkv.reshape(rows, 3L * width);
        if (!needInputGrad && site[QKV] == null) return;
        backend.matmul(dQkv2, false, l.qkvWeight(), false, null, Activation.NONE, null, dH);
        if (site[QKV] != null) site[QKV].backward(tp.h1.reshape(rows, width), tp.t[QKV], dQkv2, dH, s);
        // in feeds LayerNorm 1 and the residual: dx becomes d(in)
        if (needInputGrad) backend.layerNormBackward(tp.in, l.ln1Gamma(), eps, dH.reshape(dx.shape()), dx, true, null, null);
    }

    /** Multiply-accumulates of one forward over [B, L] tokens, for FLOP/s reports (2 FLOPs per MAC). */
    public static long macs(int layerCount, long width, long mlpWidth, long b, long len) {
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
     * {@code out} (F32 [B, E], on any device) = pooled [B, D] (compute type, on the device) · projectionᵀ (+ the
     * adapter of {@code site}, when not null, with x·Âᵀ kept in {@code t} when given): the last GEMM of a tower, in the
     * compute type, then converted and copied out.
     */
    public static void project(Backend backend, TensorScope scratch, Tensor pooled, Tensor projection, LoraSite site, Tensor t,
                        boolean training, Tensor out) {
        project(backend, scratch, pooled, projection, null, site, t, training, out);
    }

    /** {@link #project} for a Linear with a bias (F32 [E]; SigLIP's text head), or without one (bias null). */
    public static void project(Backend backend, TensorScope scratch, Tensor pooled, Tensor projection, Tensor bias, LoraSite site, Tensor t,
                        boolean training, Tensor out) {
        long b = pooled.dim(0), e = projection.dim(0);
        Tensor devOut = out.device() == backend.device() ? out : scratch.f32(b, e);
        Tensor projected = pooled.dtype() == DType.F32 ? devOut : scratch.allocate(pooled.dtype(), b, e);
        backend.linear(pooled, projection, bias, Activation.NONE, null, projected);
        if (site != null) site.forward(pooled, projected, t != null ? t : scratch.allocate(pooled.dtype(), b, site.rankSum()), training, scratch);
        if (projected != devOut) backend.convert(projected, devOut);
        if (devOut != out) out.copyFrom(devOut);
    }

    /**
     * Backward of {@link #project}: dOut F32 [B, E] on the device → dPooled [B, D] (compute type, overwritten); the
     * site's adapter gradients accumulate.
     */
    public static void projectBackward(Backend backend, TensorScope scratch, Tensor pooled, Tensor projection, LoraSite site, Tensor t,
                                Tensor dOut, Tensor dPooled) {
        Tensor d = dOut;
        if (pooled.dtype() != DType.F32) {
            d = scratch.allocate(pooled.dtype(), dOut.shape());
            backend.convert(dOut, d);
        }
        backend.matmul(d, false, projection, false, null, Activation.NONE, null, dPooled);
        if (site != null) site.backward(pooled, t, d, dPooled, scratch);
    }

    @Override
    public void close() {
        detach();
        prepared.close();
        params.close();
    }
}
