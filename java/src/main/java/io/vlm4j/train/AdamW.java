package io.vlm4j.train;

import io.vlm4j.backend.Backend;
import io.vlm4j.io.SafetensorsWriter;
import io.vlm4j.io.WeightStore;
import io.vlm4j.tensor.DType;
import io.vlm4j.tensor.Tensor;
import io.vlm4j.tensor.TensorScope;
import java.io.IOException;
import java.util.List;

/**
 * PyTorch's {@code torch.optim.AdamW} over a list of {@link Parameter}s, one fused backend kernel per tensor
 * ({@link Backend#adamw}); F32 state m, v on the device. Weight decay applies to parameters marked {@code decay} (open_clip
 * leaves biases, gains and the temperature out; spec 07 §1.3). Also gradient-norm clipping as
 * {@code torch.nn.utils.clip_grad_norm_} (total 2-norm over all gradients; factor min(1, max/(norm + 1e-6))).
 */
public final class AdamW implements AutoCloseable {
    /** β₁, β₂, eps and the decoupled weight decay. */
    public record Hyper(double beta1, double beta2, double eps, double weightDecay) {
        /** PyTorch's defaults with weight decay 0.01. */
        public static final Hyper TORCH = new Hyper(0.9, 0.999, 1e-8, 0.01);
    }

    private final Backend backend;
    private final List<Parameter> params;
    private final Hyper hyper;
    private final TensorScope state;
    private final Tensor[] m, v;
    private final Tensor zeros;
    private long step;

    public AdamW(Backend backend, List<Parameter> params, Hyper hyper) {
        if (params.isEmpty()) throw new IllegalArgumentException("AdamW: no parameters to train");
        this.backend = backend;
        this.params = List.copyOf(params);
        this.hyper = hyper;
        this.state = new TensorScope(backend.device());
        this.m = new Tensor[params.size()];
        this.v = new Tensor[params.size()];
        long max = 1;
        try {
            for (int i = 0; i < params.size(); i++) {
                Parameter p = params.get(i);
                if (p.value().dtype() != DType.F32 || p.grad().dtype() != DType.F32) {
                    throw new IllegalArgumentException("AdamW: parameter " + p.name() + " must be F32 (value and gradient)");
                }
                m[i] = state.f32(p.value().shape());
                v[i] = state.f32(p.value().shape());
                max = Math.max(max, p.value().numel());
            }
            zeros = state.f32(max);
        } catch (RuntimeException e) {
            state.close();
            throw e;
        }
    }

    public List<Parameter> parameters() { return params; }

    /** Optimizer steps taken so far. */
    public long steps() { return step; }

    /** Sets every gradient to zero. */
    public void zeroGrad() {
        for (Parameter p : params) p.grad().copyFrom(zeros.view(0, p.grad().shape()));
    }

    /** The total gradient 2-norm (accumulated in double over all parameters). */
    public double gradNorm() {
        double ss = 0;
        for (Parameter p : params) ss += backend.sumSquares(p.grad());
        return Math.sqrt(ss);
    }

    /**
     * Scales the gradients so that their total norm is at most {@code maxNorm} (no-op when {@code maxNorm <= 0} or the
     * norm is smaller); returns the norm before clipping.
     */
    public double clipGradNorm(double maxNorm) {
        double norm = gradNorm();
        if (maxNorm > 0) {
            double coef = maxNorm / (norm + 1e-6);
            if (coef < 1) for (Parameter p : params) backend.scale(p.grad(), (float) coef);
        }
        return norm;
    }

    /** One update with learning rate {@code lr}. */
    public void step(double lr) {
        step++;
        for (int i = 0; i < params.size(); i++) {
            Parameter p = params.get(i);
            backend.adamw(p.value(), p.grad(), m[i], v[i], (float) lr, (float) hyper.beta1(), (float) hyper.beta2(),
                    (float) hyper.eps(), p.decay() ? (float) hyper.weightDecay() : 0f, step);
        }
    }

    /** Adds m, v (as {@code exp_avg.<name>}, {@code exp_avg_sq.<name>}) to a checkpoint. */
    public void save(SafetensorsWriter w, TensorScope hostCopies) {
        for (int i = 0; i < params.size(); i++) {
            w.add("exp_avg." + params.get(i).name(), host(m[i], hostCopies));
            w.add("exp_avg_sq." + params.get(i).name(), host(v[i], hostCopies));
        }
    }

    /** Restores m, v and the step count written by {@link #save}. */
    public void load(WeightStore store, long steps) throws IOException {
        for (int i = 0; i < params.size(); i++) {
            long[] shape = params.get(i).value().shape();
            try (Tensor a = store.load("exp_avg." + params.get(i).name(), shape);
                 Tensor b = store.load("exp_avg_sq." + params.get(i).name(), shape)) {
                m[i].copyFrom(a);
                v[i].copyFrom(b);
            }
        }
        this.step = steps;
    }

    private static Tensor host(Tensor t, TensorScope scope) {
        Tensor h = scope.f32(t.shape());
        h.copyFrom(t);
        return h;
    }

    @Override
    public void close() {
        state.close();
    }
}
