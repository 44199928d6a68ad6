package io.vlm4j.model.bert;

import io.vlm4j.backend.Activation;
import io.vlm4j.backend.Backend;
import io.vlm4j.lora.LoraSite;
import io.vlm4j.lora.LoraState;
import io.vlm4j.lora.LoraWeights;
import io.vlm4j.model.bert.BertTextTower.Pooling;
import io.vlm4j.model.bert.BertTextTower.Projection;
import io.vlm4j.model.clip.ClipEncoder;
import io.vlm4j.model.clip.WeightSource;
import io.vlm4j.tensor.DType;
import io.vlm4j.tensor.Tensor;
import io.vlm4j.tensor.TensorScope;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/**
 * What open_clip's {@code HFTextEncoder} (open_clip/hf_model.py) puts on top of {@code BertModel}: a pooler
 * ({@link Pooling}) from last_hidden_state [B, L, D] to [B, D], then a projection ({@link Projection}) to [B, E];
 * forward, backward and LoRA adapters on its Linears (PEFT paths {@code <projPrefix>0} / {@code <projPrefix>2} for the
 * MLP, {@code <projPrefix>} without its dot for the linear projection, {@code <prefix>pooler.dense} for the tanh pooler).
 *
 * <p>The tanh of {@link Pooling#CLS_POOLER} runs on the host in double precision (the backend has no tanh), and so does
 * its backward, d/dz tanh(z) = 1 − tanh²(z), on the [B, D] rows.
 */
final class BertHead implements AutoCloseable {
    private final Backend backend;
    private final Pooling pooling;
    private final Projection projection;
    private final DType compute;
    private final TensorScope params;               // weights, on the backend's device
    private final Tensor poolerWeight, poolerBias;  // [D, D] weight type, [D] F32; CLS_POOLER only
    private final Tensor proj0, proj2;              // LINEAR: proj0 [E, D]; MLP: proj0 [H, D], proj2 [E, H]; weight type
    private final String poolerPath, proj0Path, proj2Path;  // PEFT module paths
    private LoraSite poolerSite, site0, site2;      // null without an adapter there

    /** What a training forward keeps for {@link #backward}. */
    static final class Saved {
        private Tensor meanWeights;  // MEAN: [B, 1, L] compute type, m / Σm
        private Tensor cls, poolerT;  // CLS_POOLER: last_hidden_state[:, 0] [B, D] and the site's x·Âᵀ
        private Tensor tanh;          // CLS_POOLER: the pooler output [B, D], F32
        private Tensor pooled;        // [B, D] compute type, the projection's input
        private Tensor pre, act;      // MLP: [B, H] before and after the GELU
        private Tensor t0, t2;        // the projection sites' x·Âᵀ
    }

    BertHead(Backend backend, BertConfig config, Pooling pooling, Projection projection, int projectionDim, WeightSource weights,
             String prefix, String projPrefix) throws IOException {
        this.backend = backend;
        this.pooling = pooling;
        this.projection = projection;
        this.compute = backend.computeType();
        this.params = new TensorScope(backend.device());
        long d = config.hidden(), e = projectionDim, h = (d + e) / 2;  // open_clip's (d_model + output_dim) // 2
        DType weight = backend.weightType();
        String module = projPrefix == null ? null : projPrefix.endsWith(".") ? projPrefix.substring(0, projPrefix.length() - 1) : projPrefix;
        poolerPath = prefix + "pooler.dense";
        try {
            if (pooling == Pooling.CLS_POOLER) {
                poolerWeight = load(weights, poolerPath + ".weight", weight, d, d);
                poolerBias = load(weights, poolerPath + ".bias", DType.F32, d);
            } else {
                poolerWeight = poolerBias = null;
            }
            switch (projection) {
                case NONE -> {
                    proj0 = proj2 = null;
                    proj0Path = proj2Path = null;
                }
                case LINEAR -> {
                    proj0Path = module;
                    proj2Path = null;
                    proj0 = load(weights, projPrefix + "weight", weight, e, d);
                    proj2 = null;
                }
                case MLP -> {
                    proj0Path = module + ".0";
                    proj2Path = module + ".2";
                    proj0 = load(weights, projPrefix + "0.weight", weight, h, d);
                    proj2 = load(weights, projPrefix + "2.weight", weight, e, h);
                }
                default -> throw new AssertionError(projection);
            }
        } catch (IOException | RuntimeException ex) {
            params.close();
            throw ex;
        }
    }

    private Tensor load(WeightSource weights, String name, DType dtype, long... shape) throws IOException {
        return params.track(backend.adoptAs(weights.tensor(name, shape), dtype));
    }

    /**
     * last_hidden_state x [B, L, D] (compute type) → out F32 [B, E] on any device; mask: the host 0/1 key mask [B·L].
     * With {@code saved} (a training forward) what the backward reads goes there, allocated in {@code keep}.
     */
    void forward(Tensor x, int[] mask, Tensor out, Saved saved, TensorScope keep) {
        try (TensorScope tmp = new TensorScope(backend.device())) {
            TensorScope store = saved != null ? keep : tmp;
            Tensor pooled = pool(x, mask, saved, store, tmp);
            project(pooled, out, saved, store, tmp);
        }
    }

    /** [B, D]: compute type, or F32 for {@link Pooling#CLS_POOLER} (the host tanh). */
    private Tensor pool(Tensor x, int[] mask, Saved saved, TensorScope store, TensorScope tmp) {
        long b = x.dim(0), len = x.dim(1), d = x.dim(2);
        Tensor pooled = store.allocate(compute, b, d);
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
                Tensor weights = store.track(backend.adoptAs(Tensor.of(w, b, 1, len), compute));
                backend.matmul(weights, false, x, false, null, Activation.NONE, null, pooled.reshape(b, 1, d));
                if (saved != null) saved.meanWeights = weights;
            }
            case CLS_POOLER -> {
                Tensor cls = store.allocate(compute, b, d);
                backend.copyRows(x, 0, len * d, cls, 0, d, b, d);
                Tensor t = saved != null && poolerSite != null ? store.allocate(compute, b, poolerSite.rankSum()) : null;
                backend.linear(cls, poolerWeight, poolerBias, Activation.NONE, null, pooled);
                if (poolerSite != null) {
                    poolerSite.forward(cls, pooled, t != null ? t : tmp.allocate(compute, b, poolerSite.rankSum()), saved != null, tmp);
                }
                Tensor tanh = tanhOnHost(pooled, store);
                if (saved != null) {
                    saved.cls = cls;
                    saved.poolerT = t;
                    saved.tanh = tanh;
                }
                return tanh;
            }
            default -> throw new AssertionError(pooling);
        }
        return pooled;
    }

    /** tanh of a [B, D] tensor, computed on the host in double: an F32 tensor on the device. */
    private Tensor tanhOnHost(Tensor dense, TensorScope store) {
        float[] v = backend.asF32(dense, store).toFloatArray();
        for (int i = 0; i < v.length; i++) v[i] = (float) Math.tanh(v[i]);
        Tensor y = store.f32(dense.shape());
        y.copyFrom(v);
        return y;
    }

    /** pooled [B, D] (compute type or F32) → out F32 [B, E] on any device. */
    private void project(Tensor pooled, Tensor out, Saved saved, TensorScope store, TensorScope tmp) {
        long b = pooled.dim(0);
        boolean training = saved != null;
        Tensor x = pooled;
        if (projection != Projection.NONE && x.dtype() != compute) {  // the host tanh left F32
            x = store.allocate(compute, pooled.shape());
            backend.convert(pooled, x);
        }
        Tensor t0 = training && site0 != null ? store.allocate(compute, b, site0.rankSum()) : null;
        Tensor t2 = training && site2 != null ? store.allocate(compute, b, site2.rankSum()) : null;
        switch (projection) {
            case NONE -> {
                Tensor devOut = out.device() == backend.device() ? out : tmp.f32(out.shape());
                if (x.dtype() == DType.F32) devOut.copyFrom(x);
                else backend.convert(x, devOut);
                if (devOut != out) out.copyFrom(devOut);
            }
            case LINEAR -> ClipEncoder.project(backend, tmp, x, proj0, site0, t0, training, out);
            case MLP -> {
                Tensor act = store.allocate(compute, b, proj0.dim(0));  // [B, H]
                if (!training && site0 == null) {
                    backend.linear(x, proj0, null, Activation.GELU, null, act);  // nn.GELU(): exact erf
                } else {  // the adapter adds before the GELU; training keeps the pre-activation
                    Tensor pre = store.allocate(compute, b, proj0.dim(0));
                    backend.linear(x, proj0, null, Activation.NONE, null, pre);
                    if (site0 != null) site0.forward(x, pre, t0 != null ? t0 : tmp.allocate(compute, b, site0.rankSum()), training, tmp);
                    backend.activation(Activation.GELU, pre, act);
                    if (training) saved.pre = pre;
                }
                ClipEncoder.project(backend, tmp, act, proj2, site2, t2, training, out);
                if (training) saved.act = act;
            }
            default -> throw new AssertionError(projection);
        }
        if (training) {
            saved.pooled = x;
            saved.t0 = t0;
            saved.t2 = t2;
        }
    }

    /**
     * Backward of a training {@link #forward}: dOut F32 [B, E] on the device → dx [B, L, D] (compute type, zero-filled by
     * the caller; only the pooled positions are written); the adapters' gradients accumulate.
     */
    void backward(Saved saved, Tensor dOut, Tensor dx, TensorScope s) {
        long b = dx.dim(0), len = dx.dim(1), d = dx.dim(2);
        Tensor dPooled = s.allocate(compute, b, d);
        switch (projection) {
            case NONE -> {
                if (compute == DType.F32) dPooled.copyFrom(dOut);
                else backend.convert(dOut, dPooled);
            }
            case LINEAR -> ClipEncoder.projectBackward(backend, s, saved.pooled, proj0, site0, saved.t0, dOut, dPooled);
            case MLP -> {
                Tensor dAct = s.allocate(compute, saved.act.shape());
                ClipEncoder.projectBackward(backend, s, saved.act, proj2, site2, saved.t2, dOut, dAct);
                backend.activationBackward(Activation.GELU, saved.pre, dAct, dAct);
                backend.matmul(dAct, false, proj0, false, null, Activation.NONE, null, dPooled);
                if (site0 != null) site0.backward(saved.pooled, saved.t0, dAct, dPooled, s);
            }
            default -> throw new AssertionError(projection);
        }
        switch (pooling) {
            case CLS_LAST_HIDDEN_STATE -> backend.copyRows(dPooled, 0, d, dx, 0, len * d, b, d);
            case MEAN -> backend.matmul(saved.meanWeights, true, dPooled.reshape(b, 1, d), false, null, Activation.NONE, null, dx);
            case CLS_POOLER -> {
                float[] g = backend.asF32(dPooled, s).toFloatArray(), y = saved.tanh.toFloatArray();
                for (int i = 0; i < g.length; i++) g[i] = (float) (g[i] * (1.0 - (double) y[i] * y[i]));
                Tensor dDense32 = s.f32(b, d), dDense = dDense32;
                dDense32.copyFrom(g);
                if (compute != DType.F32) {
                    dDense = s.allocate(compute, b, d);
                    backend.convert(dDense32, dDense);
                }
                Tensor dCls = s.allocate(compute, b, d);
                backend.matmul(dDense, false, poolerWeight, false, null, Activation.NONE, null, dCls);
                if (poolerSite != null) poolerSite.backward(saved.cls, saved.poolerT, dDense, dCls, s);
                backend.copyRows(dCls, 0, d, dx, 0, len * d, b, d);
            }
            default -> throw new AssertionError(pooling);
        }
    }

    // ---- LoRA ----

    /** The Linears an adapter may wrap, with PEFT's module paths: the pooler's dense (CLS_POOLER) and the projection's. */
    List<LoraWeights.Linear> linears() {
        List<LoraWeights.Linear> list = new ArrayList<>();
        if (poolerWeight != null) list.add(linear(poolerPath, poolerWeight));
        if (proj0 != null) list.add(linear(proj0Path, proj0));
        if (proj2 != null) list.add(linear(proj2Path, proj2));
        return list;
    }

    private static LoraWeights.Linear linear(String path, Tensor weight) {
        return new LoraWeights.Linear(path, weight.dim(1), weight.dim(0));
    }

    void attach(LoraState state) {
        detach();
        try {
            if (poolerWeight != null) poolerSite = site(state, poolerPath, poolerWeight);
            if (proj0 != null) site0 = site(state, proj0Path, proj0);
            if (proj2 != null) site2 = site(state, proj2Path, proj2);
        } catch (RuntimeException e) {
            detach();
            throw e;
        }
    }

    private LoraSite site(LoraState state, String path, Tensor weight) {
        return state.site(backend, weight.dim(1), weight.dim(0), new String[] {path}, 0);
    }

    void detach() {
        for (LoraSite s : new LoraSite[] {poolerSite, site0, site2}) if (s != null) s.close();
        poolerSite = site0 = site2 = null;
    }

    /** Merges the attached adapters into the weights (sign +1) or takes them out (−1). */
    void merge(int sign) {
        try (TensorScope scratch = new TensorScope(backend.device())) {
            if (poolerSite != null) poolerSite.mergeInto(poolerWeight, sign, scratch);
            if (site0 != null) site0.mergeInto(proj0, sign, scratch);
            if (site2 != null) site2.mergeInto(proj2, sign, scratch);
        }
    }

    @Override
    public void close() {
        detach();
        params.close();
    }
}
