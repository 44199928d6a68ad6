package io.vlm4j.backend.reference;

import java.util.Arrays;

/**
 * The float64 definitions behind {@link ReferenceBackend}'s row-wise ops, attention and their backward passes, on
 * plain double arrays (row-major, the shapes of the tensor ops). {@link ReferenceBackend} converts its F32 tensors to
 * and from these; tests call them directly to take finite differences of a forward in float64, which F32 tensors
 * could not resolve.
 *
 * <p>Each function follows its definition with the plainest loops; nothing is fused or reordered for speed.
 */
public final class ReferenceMath {
    private ReferenceMath() {}

    // ---- LayerNorm ----

    /** LayerNorm over rows of {@code dim}: (x − μ)/√(var + eps)·γ + β, biased variance, eps inside the root. */
    public static double[] layerNorm(double[] x, int dim, double[] gamma, double[] beta, double eps) {
        double[] out = new double[x.length];
        for (int base = 0; base < x.length; base += dim) {
            double[] stats = meanAndInvStd(x, base, dim, eps);
            for (int i = 0; i < dim; i++) out[base + i] = (x[base + i] - stats[0]) * stats[1] * gamma[i] + beta[i];
        }
        return out;
    }

    /** The gradients of {@link #layerNorm} for an upstream gradient dy: dx [rows, dim], dGamma and dBeta [dim]. */
    public record LayerNormGrads(double[] dx, double[] dGamma, double[] dBeta) {}

    /**
     * With x̂ = (x − μ)/σ and g = dy·γ per row: dx = (g − mean(g) − x̂·mean(g·x̂))/σ, dGamma = Σ_rows dy·x̂,
     * dBeta = Σ_rows dy.
     */
    public static LayerNormGrads layerNormBackward(double[] x, int dim, double[] gamma, double eps, double[] dy) {
        double[] dx = new double[x.length], dGamma = new double[dim], dBeta = new double[dim];
        double[] xHat = new double[dim], g = new double[dim];
        for (int base = 0; base < x.length; base += dim) {
            double[] stats = meanAndInvStd(x, base, dim, eps);
            double meanG = 0, meanGxHat = 0;
            for (int i = 0; i < dim; i++) {
                xHat[i] = (x[base + i] - stats[0]) * stats[1];
                g[i] = dy[base + i] * gamma[i];
                meanG += g[i];
                meanGxHat += g[i] * xHat[i];
                dGamma[i] += dy[base + i] * xHat[i];
                dBeta[i] += dy[base + i];
            }
            meanG /= dim;
            meanGxHat /= dim;
            for (int i = 0; i < dim; i++) dx[base + i] = (g[i] - meanG - xHat[i] * meanGxHat) * stats[1];
        }
        return new LayerNormGrads(dx, dGamma, dBeta);
    }

    /** {mean, 1/√(biased variance + eps)} of x[base, base + dim). */
    private static double[] meanAndInvStd(double[] x, int base, int dim, double eps) {
        double mean = 0;
        for (int i = 0; i < dim; i++) mean += x[base + i];
        mean /= dim;
        double variance = 0;
        for (int i = 0; i < dim; i++) {
            double centered = x[base + i] - mean;
            variance += centered * centered;
        }
        variance /= dim;
        return new double[] {mean, 1.0 / Math.sqrt(variance + eps)};
    }

    // ---- L2 normalization ----

    /** x / max(‖x‖₂, eps) per row of {@code dim} (torch.nn.functional.normalize). */
    public static double[] l2Normalize(double[] x, int dim, double eps) {
        double[] out = new double[x.length];
        for (int base = 0; base < x.length; base += dim) {
            double divisor = Math.max(norm(x, base, dim), eps);
            for (int i = 0; i < dim; i++) out[base + i] = x[base + i] / divisor;
        }
        return out;
    }

    /**
     * Backward of {@link #l2Normalize}: with n = ‖x‖ and u = x/n, dx = (dy − ⟨dy, u⟩·u)/n when n > eps; below, the
     * divisor is the constant eps and dx = dy/eps.
     */
    public static double[] l2NormalizeBackward(double[] x, int dim, double eps, double[] dy) {
        double[] dx = new double[x.length];
        for (int base = 0; base < x.length; base += dim) {
            double n = norm(x, base, dim);
            if (n > eps) {
                double dyDotU = 0;
                for (int i = 0; i < dim; i++) dyDotU += dy[base + i] * x[base + i] / n;
                for (int i = 0; i < dim; i++) dx[base + i] = (dy[base + i] - dyDotU * x[base + i] / n) / n;
            } else {
                for (int i = 0; i < dim; i++) dx[base + i] = dy[base + i] / eps;
            }
        }
        return dx;
    }

    private static double norm(double[] x, int base, int dim) {
        double sumSq = 0;
        for (int i = 0; i < dim; i++) sumSq += x[base + i] * x[base + i];
        return Math.sqrt(sumSq);
    }

    // ---- softmax and attention ----

    /**
     * probs[0..n) = softmax(logits[0..n)). The maximum is subtracted first so that exp never overflows; a row whose
     * entries are all -inf (nothing visible) gives zeros instead of the NaNs of 0/0.
     */
    public static void softmaxRow(double[] logits, int n, double[] probs) {
        double max = Double.NEGATIVE_INFINITY;
        for (int i = 0; i < n; i++) max = Math.max(max, logits[i]);
        if (max == Double.NEGATIVE_INFINITY) {
            Arrays.fill(probs, 0, n, 0.0);
            return;
        }
        double sum = 0;
        for (int i = 0; i < n; i++) {
            probs[i] = Math.exp(logits[i] - max);                        // exp(-inf) = 0 for masked entries
            sum += probs[i];
        }
        for (int i = 0; i < n; i++) probs[i] /= sum;
    }

    /**
     * The geometry of one attention call: q [batch, lq, heads·d], k and v [batch, lk, heads·d]; query i sees key j
     * when causal allows it (j ≤ i + (lk − lq)) and keyMask [batch, lk] (null = all) is non-zero there.
     */
    public record AttentionGeometry(int batch, int lq, int lk, int heads, int headDim, boolean causal, int[] keyMask) {
        int width() { return heads * headDim; }

        boolean visible(int b, int i, int j) {
            return (!causal || j <= i + (lk - lq)) && (keyMask == null || keyMask[b * lk + j] != 0);
        }

        /** P[i][j] = softmax_j(q_i·k_j/√d over the visible keys) of head h of sequence b; all-zero rows see nothing. */
        double[][] probabilities(double[] q, double[] k, int b, int h) {
            int w = width(), col = h * headDim;                     // head h owns channels [h·d, (h+1)·d)
            double scale = 1.0 / Math.sqrt(headDim);
            double[][] probs = new double[lq][lk];
            double[] scores = new double[lk];
            for (int i = 0; i < lq; i++) {
                for (int j = 0; j < lk; j++) {
                    if (!visible(b, i, j)) {
                        scores[j] = Double.NEGATIVE_INFINITY;
                        continue;
                    }
                    double dot = 0;
                    for (int t = 0; t < headDim; t++) dot += q[(b * lq + i) * w + col + t] * k[(b * lk + j) * w + col + t];
                    scores[j] = dot * scale;
                }
                softmaxRow(scores, lk, probs[i]);
            }
            return probs;
        }
    }

    /** Scaled-dot-product attention with scale 1/√d: out [batch, lq, heads·d] = P·V per head. */
    public static double[] attention(double[] q, double[] k, double[] v, AttentionGeometry g) {
        int w = g.width(), d = g.headDim();
        double[] out = new double[g.batch() * g.lq() * w];
        for (int b = 0; b < g.batch(); b++) {
            for (int h = 0; h < g.heads(); h++) {
                double[][] probs = g.probabilities(q, k, b, h);
                for (int i = 0; i < g.lq(); i++) {
                    for (int t = 0; t < d; t++) {
                        double sum = 0;
                        for (int j = 0; j < g.lk(); j++) sum += probs[i][j] * v[(b * g.lk() + j) * w + h * d + t];
                        out[(b * g.lq() + i) * w + h * d + t] = sum;
                    }
                }
            }
        }
        return out;
    }

    /** The gradients of {@link #attention}: dq shaped like q, dk and dv like k. */
    public record AttentionGrads(double[] dq, double[] dk, double[] dv) {}

    /**
     * Backward of {@link #attention} from its output {@code out} and the output's gradient {@code dOut}, with P
     * recomputed: dV = Pᵀ·dO, dP = dO·Vᵀ, D_i = Σ_c dO_ic·O_ic, dS = P∘(dP − D), dQ = dS·K/√d, dK = dSᵀ·Q/√d.
     * Keys a query cannot see have P = 0 and so no gradient through it; a query that sees nothing gets dQ = 0.
     */
    public static AttentionGrads attentionBackward(double[] q, double[] k, double[] v, double[] out, double[] dOut,
                                                   AttentionGeometry g) {
        int w = g.width(), d = g.headDim(), lq = g.lq(), lk = g.lk();
        double scale = 1.0 / Math.sqrt(d);
        double[] dq = new double[q.length], dk = new double[k.length], dv = new double[v.length];
        for (int b = 0; b < g.batch(); b++) {
            for (int h = 0; h < g.heads(); h++) {
                int col = h * d;
                double[][] probs = g.probabilities(q, k, b, h);
                for (int i = 0; i < lq; i++) {
                    int qi = (b * lq + i) * w + col;
                    double rowD = 0;                                    // D_i = ⟨dO_i, O_i⟩ = Σ_j P_ij·dP_ij
                    for (int t = 0; t < d; t++) rowD += dOut[qi + t] * out[qi + t];
                    for (int j = 0; j < lk; j++) {
                        if (probs[i][j] == 0) continue;                  // masked, or no gradient to pass
                        int kj = (b * lk + j) * w + col;
                        double dP = 0;
                        for (int t = 0; t < d; t++) {
                            dP += dOut[qi + t] * v[kj + t];
                            dv[kj + t] += probs[i][j] * dOut[qi + t];
                        }
                        double dS = probs[i][j] * (dP - rowD);
                        for (int t = 0; t < d; t++) {
                            dq[qi + t] += dS * k[kj + t] * scale;
                            dk[kj + t] += dS * q[qi + t] * scale;
                        }
                    }
                }
            }
        }
        return new AttentionGrads(dq, dk, dv);
    }

    // ---- dropout ----

    /** The golden-ratio increment of SplitMix64 (java.util.SplittableRandom's GOLDEN_GAMMA). */
    private static final long GOLDEN_GAMMA = 0x9E3779B97F4A7C15L;

    /**
     * Whether dropout with (seed, p) keeps element {@code index} (see {@code Backend.dropout}): z is SplitMix64's
     * output number index (0-based) for state {@code seed}, kept iff its high 32 bits, unsigned, are ≥ ⌊p·2³²⌋.
     */
    public static boolean dropoutKeeps(long seed, long index, float p) {
        long z = seed + (index + 1) * GOLDEN_GAMMA;                      // wraps around, as uint64 arithmetic
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        z ^= z >>> 31;
        return (z >>> 32) >= dropoutThreshold(p);
    }

    /** ⌊p·2³²⌋ capped at 2³² − 1: the unsigned 32-bit threshold a kept element's hash must reach. */
    public static long dropoutThreshold(float p) {
        return Math.min((1L << 32) - 1, (long) Math.floor(p * 4294967296.0));
    }

    /** The F32 factor kept elements are multiplied by: 1/(1 − p) computed in double and rounded once to F32. */
    public static float dropoutScale(float p) {
        return (float) (1.0 / (1.0 - p));
    }
}
