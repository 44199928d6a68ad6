package io.vlm4j.lora;

import io.vlm4j.backend.Activation;
import io.vlm4j.backend.Backend;
import io.vlm4j.tensor.DType;
import io.vlm4j.tensor.Tensor;
import io.vlm4j.tensor.TensorScope;
import java.util.List;

/**
 * The LoRA adapters on one Linear call of the model (spec 05 §3): {@code y += Σ_j s_j·(x·A_jᵀ)·B_jᵀ}, where adapter j
 * writes output columns [offset_j, offset_j + out_j). One site can hold several adapters because the encoder runs
 * q_proj, k_proj and v_proj as one GEMM with concatenated weights.
 *
 * <p>All adapters of a site run as two GEMMs whatever their number: {@code t = x·Âᵀ} with Â [R, in] the scaled A's
 * stacked (rows of adapter j hold s_j·A_j), then {@code y += t·B̂ᵀ} with B̂ [out, R] block-diagonal (B_j in rows
 * [offset_j, offset_j + out_j) and columns [col_j, col_j + r_j), zeros elsewhere; R = Σ r_j). The zero blocks cost
 * (k − 1)/k of a product that is r/in of the base GEMM. The backward uses the same two matrices:
 * dt = dy·B̂, dB̂ = dyᵀ·t, dÂ = dtᵀ·x, dx += dt·Â; adapter j's gradients are its blocks, dA_j = s_j·dÂ_j.
 * With dropout the branch input is dropout(x) (one mask per site: q, k and v adapters share it, where PEFT draws one per
 * module — the same distribution, not the same draws); the backward regenerates the mask from the seed.
 *
 * <p>Â and B̂ are in the backend's compute type and rebuilt from the F32 master values by {@link #refresh()} after each
 * optimizer step.
 */
public final class LoraSite implements AutoCloseable {

    /** One adapter of the site; a, b and their gradients are F32 device tensors owned by the model's LoRA state. */
    public record Part(String path, long offset, long out, int rank, int col, float scale, Tensor a, Tensor b, Tensor gradA, Tensor gradB) {}

    private final Backend backend;
    private final long in, out;
    private final int rankSum;
    private final List<Part> parts;
    private final TensorScope owned;
    private final Tensor aHat;        // [R, in] compute type
    private final Tensor bHat;        // [out, R] compute type
    private final Tensor aStage, bStage;  // F32 staging (the same tensors as aHat/bHat when computing in F32)
    private float dropout;
    private long dropoutSeed;

    public LoraSite(Backend backend, long in, long out, List<Part> parts) {
        if (parts.isEmpty()) throw new IllegalArgumentException("a LoRA site needs at least one adapter");
        this.backend = backend;
        this.in = in;
        this.out = out;
        this.parts = List.copyOf(parts);
        int r = 0;
        for (Part p : parts) {
            if (p.col() != r) throw new IllegalArgumentException("LoRA site: adapters must be stacked in order");
            if (p.offset() < 0 || p.offset() + p.out() > out) {
                throw new IllegalArgumentException(p.path() + ": output columns [" + p.offset() + ", " + (p.offset() + p.out())
                        + ") lie outside the site's " + out);
            }
            r += p.rank();
        }
        this.rankSum = r;
        this.owned = new TensorScope(backend.device());
        try {
            DType c = backend.computeType();
            aStage = owned.f32(rankSum, in);
            bStage = owned.f32(out, rankSum);
            aHat = c == DType.F32 ? aStage : owned.allocate(c, rankSum, in);
            bHat = c == DType.F32 ? bStage : owned.allocate(c, out, rankSum);
            refresh();
        } catch (RuntimeException e) {
            owned.close();
            throw e;
        }
    }

    public int rankSum() { return rankSum; }

    /** Dropout on the branch input for the next training forward/backward (p = 0: none). */
    public void dropout(float p, long seed) {
        this.dropout = p;
        this.dropoutSeed = seed;
    }

    /** Rebuilds Â and B̂ from the adapters' current F32 values. */
    public void refresh() {
        for (Part p : parts) {
            Tensor rows = aStage.view((long) p.col() * in, p.rank(), in);
            rows.copyFrom(p.a());
            backend.scale(rows, p.scale());
            backend.copyRows(p.b(), 0, p.rank(), bStage, p.offset() * rankSum + p.col(), rankSum, p.out(), p.rank());
        }
        if (aHat != aStage) {
            backend.convert(aStage, aHat);
            backend.convert(bStage, bHat);
        }
    }

    /**
     * y [rows, out] += s·(x·Aᵀ)·Bᵀ for x [rows, in] (compute type); {@code t} [rows, R] receives x·Âᵀ (kept by a
     * training forward for the backward). {@code training} applies the dropout set by {@link #dropout}.
     */
    public void forward(Tensor x, Tensor y, Tensor t, boolean training, TensorScope scratch) {
        Tensor xin = branchInput(x, training, scratch);
        backend.matmul(xin, false, aHat, true, null, Activation.NONE, null, t);
        backend.matmul(t, false, bHat, true, null, Activation.NONE, y, y);
    }

    /**
     * Backward of {@link #forward} with the same x and t: dx [rows, in] += the branch's input gradient; the adapters'
     * gradA/gradB accumulate their gradients (F32).
     */
    public void backward(Tensor x, Tensor t, Tensor dy, Tensor dx, TensorScope scratch) {
        DType c = backend.computeType();
        long rows = x.dim(0);
        Tensor dt = scratch.allocate(c, rows, rankSum);
        backend.matmul(dy, false, bHat, false, null, Activation.NONE, null, dt);
        Tensor dB = scratch.allocate(c, out, rankSum);
        backend.matmul(dy, true, t, false, null, Activation.NONE, null, dB);
        Tensor xin = branchInput(x, true, scratch);
        Tensor dA = scratch.allocate(c, rankSum, in);
        backend.matmul(dt, true, xin, false, null, Activation.NONE, null, dA);
        if (dropout > 0) {
            Tensor g = scratch.allocate(c, rows, in);
            backend.matmul(dt, false, aHat, false, null, Activation.NONE, null, g);
            backend.dropout(g, dropout, dropoutSeed, g);
            backend.add(dx, g, dx);
        } else {
            backend.matmul(dt, false, aHat, false, null, Activation.NONE, dx, dx);
        }
        Tensor dA32 = backend.asF32(dA, scratch), dB32 = backend.asF32(dB, scratch);
        for (Part p : parts) {
            Tensor ga = dA32.view((long) p.col() * in, p.rank(), in);
            backend.scale(ga, p.scale());
            backend.add(p.gradA(), ga, p.gradA());
            Tensor gb = scratch.f32(p.out(), p.rank());
            backend.copyRows(dB32, p.offset() * rankSum + p.col(), rankSum, gb, 0, p.rank(), p.out(), p.rank());
            backend.add(p.gradB(), gb, p.gradB());
        }
    }

    /**
     * weight [out, in] (any float type on the device) += sign·B̂·Â computed in F32: merging the adapters into the base
     * weight (sign +1) or taking them out again (sign −1; exact up to the weight type's rounding).
     */
    public void mergeInto(Tensor weight, int sign, TensorScope scratch) {
        Tensor a = aStage;
        if (sign < 0) {
            a = scratch.f32(rankSum, in);
            a.copyFrom(aStage);
            backend.scale(a, -1f);
        }
        if (weight.dtype() == DType.F32) {
            backend.matmul(bStage, false, a, false, null, Activation.NONE, weight, weight);
        } else {
            Tensor w32 = scratch.f32(weight.shape());
            backend.convert(weight, w32);
            backend.matmul(bStage, false, a, false, null, Activation.NONE, w32, w32);
            backend.convert(w32, weight);
        }
    }

    private Tensor branchInput(Tensor x, boolean training, TensorScope scratch) {
        if (!training || dropout == 0f) return x;
        Tensor xd = scratch.allocate(x.dtype(), x.shape());
        backend.dropout(x, dropout, dropoutSeed, xd);
        return xd;
    }

    @Override
    public void close() {
        owned.close();
    }
}
