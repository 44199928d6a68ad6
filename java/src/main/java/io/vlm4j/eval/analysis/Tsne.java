package io.vlm4j.eval.analysis;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.stream.IntStream;

/**
 * Exact t-SNE to 2-D (van der Maaten &amp; Hinton 2008), following {@code sklearn.manifold.TSNE(method="exact")}
 * (sklearn/manifold/_t_sne.py, {@code _joint_probabilities}, {@code _kl_divergence}, {@code _gradient_descent}):
 *
 * <ul>
 *   <li>P: for each row a Gaussian over squared euclidean distances whose precision β_i is found by bisection
 *       until the entropy is log(perplexity) within 1e-5 (at most 100 steps; {@code _binary_search_perplexity}),
 *       then P = (P_cond + P_condᵀ) / (2M), floored at machine epsilon.</li>
 *   <li>Q: Student-t with one degree of freedom, q_ij ∝ 1 / (1 + |y_i − y_j|²).</li>
 *   <li>Init as {@code init="pca"}: the first two principal components, scaled so that the first has std 1e-4.</li>
 *   <li>Gradient descent with per-coordinate gains (+0.2 / ×0.8, floor 0.01) and momentum 0.5 for the first
 *       {@code exaggerationIter} iterations with P × {@code earlyExaggeration}, then momentum 0.8; update and gains
 *       restart at the switch, as sklearn's two calls do. Learning rate "auto": max(M / exaggeration / 4, 50).</li>
 *   <li>Stops at {@code maxIter}, when the gradient norm falls to 1e-7, or (after the exaggeration) when the KL
 *       divergence, checked every 50 iterations, has not improved for 300 iterations.</li>
 * </ul>
 *
 * Differences from sklearn: float64 throughout (sklearn runs the bisection on float32 distances); q_ij is not floored
 * at machine epsilon inside the gradient (only in the reported KL); the KL history is always against the true P, also
 * during exaggeration. Each iteration costs O(M²) for M points (rows in parallel, fixed blocks: the result does not
 * depend on the core count), about 1000 × M² pair evaluations in all, so inputs are cut to a seeded stratified sample
 * of at most {@link Options#maxPoints()} rows.
 */
public final class Tsne {
    private static final double MACHINE_EPSILON = Math.ulp(1.0);
    private static final int CHECK_EVERY = 50;
    private static final int ROWS_PER_BLOCK = 64;

    private Tsne() {}

    /**
     * @param learningRate NaN for sklearn's "auto"
     * @param maxPoints    rows at most; more are cut to a seeded stratified sample
     */
    public record Options(double perplexity, int maxIter, double earlyExaggeration, int exaggerationIter,
                          double learningRate, int maxPoints, long seed) {
        public Options {
            if (!(perplexity > 0)) throw new IllegalArgumentException("t-SNE: perplexity must be > 0, got " + perplexity);
            if (maxIter < 1) throw new IllegalArgumentException("t-SNE: maxIter must be >= 1, got " + maxIter);
            if (!(earlyExaggeration >= 1)) throw new IllegalArgumentException("t-SNE: earlyExaggeration must be >= 1");
            if (exaggerationIter < 0) throw new IllegalArgumentException("t-SNE: exaggerationIter must be >= 0");
            if (learningRate <= 0) throw new IllegalArgumentException("t-SNE: learningRate must be > 0 (NaN for auto)");
            if (maxPoints < 2) throw new IllegalArgumentException("t-SNE: maxPoints must be >= 2");
        }

        /** sklearn's defaults: perplexity 30, 1000 iterations, exaggeration 12 for 250, auto learning rate; 3000 points. */
        public static Options defaults() { return new Options(30, 1000, 12, 250, Double.NaN, 3000, 0); }

        public Options withPerplexity(double p) { return new Options(p, maxIter, earlyExaggeration, exaggerationIter, learningRate, maxPoints, seed); }

        public Options withMaxIter(int m) { return new Options(perplexity, m, earlyExaggeration, exaggerationIter, learningRate, maxPoints, seed); }

        public Options withMaxPoints(int m) { return new Options(perplexity, maxIter, earlyExaggeration, exaggerationIter, learningRate, m, seed); }

        public Options withSeed(long s) { return new Options(perplexity, maxIter, earlyExaggeration, exaggerationIter, learningRate, maxPoints, s); }
    }

    /** KL(P‖Q) at an iteration (1-based), against the true (unexaggerated) P. */
    public record Checkpoint(int iteration, double klDivergence, double gradientNorm) {}

    /**
     * @param embedding    {@code [M, 2]}
     * @param rows         {@code [M]}, the input row of each point (ascending)
     * @param klDivergence final KL(P‖Q)
     * @param iterations   iterations run
     * @param history      KL every 50 iterations and at the end
     */
    public record Result(double[][] embedding, int[] rows, double klDivergence, int iterations, List<Checkpoint> history) {}

    public static Result run(LabeledEmbeddings data, Options o) {
        int[] rows = data.stratifiedSample(o.maxPoints(), o.seed());
        double[][] x = data.subset(rows).x();
        int m = x.length;
        if (m < 2) throw new IllegalArgumentException("t-SNE needs at least 2 points");
        if (o.perplexity() >= m) {
            throw new IllegalArgumentException("t-SNE: perplexity (" + o.perplexity() + ") must be less than the number of points (" + m + ")");
        }
        double[][] p = jointProbabilities(x, o.perplexity());  // [M][M], diagonal 0
        double[][] y = initialEmbedding(x, o.seed());          // [M, 2]
        double lr = Double.isNaN(o.learningRate()) ? Math.max(m / o.earlyExaggeration() / 4, 50) : o.learningRate();

        List<Checkpoint> history = new ArrayList<>();
        int explore = Math.min(o.exaggerationIter(), o.maxIter());
        int it = descend(p, y, lr, 0.5, o.earlyExaggeration(), 0, explore, Integer.MAX_VALUE, history);
        if (it < o.maxIter()) it = descend(p, y, lr, 0.8, 1, it, o.maxIter(), 300, history);
        double kl = history.get(history.size() - 1).klDivergence();  // descend always checks its last iteration
        return new Result(y, rows, kl, it, List.copyOf(history));
    }

    /**
     * Iterations {@code from + 1 .. to} of gradient descent; returns the last iteration run. Stops early when the
     * gradient norm reaches 1e-7 or the KL divergence has not improved for {@code patience} iterations.
     */
    private static int descend(double[][] p, double[][] y, double lr, double momentum, double exaggeration,
                               int from, int to, int patience, List<Checkpoint> history) {
        int m = y.length;
        double[][] update = new double[m][2];
        double[][] gains = new double[m][2];
        for (double[] g : gains) java.util.Arrays.fill(g, 1.0);
        double[][] grad = new double[m][2];
        double best = Double.POSITIVE_INFINITY;
        int bestIter = from;
        for (int it = from + 1; it <= to; it++) {
            gradient(p, y, exaggeration, grad);
            double norm2 = 0;
            for (int i = 0; i < m; i++) {
                for (int d = 0; d < 2; d++) {
                    double g = grad[i][d];
                    norm2 += g * g;
                    gains[i][d] = update[i][d] * g < 0 ? gains[i][d] + 0.2 : Math.max(gains[i][d] * 0.8, 0.01);
                    update[i][d] = momentum * update[i][d] - lr * gains[i][d] * g;
                    y[i][d] += update[i][d];
                }
            }
            double gradNorm = Math.sqrt(norm2);
            if (it % CHECK_EVERY == 0 || it == to || gradNorm <= 1e-7) {
                double kl = klDivergence(p, y);
                history.add(new Checkpoint(it, kl, gradNorm));
                if (kl < best) {
                    best = kl;
                    bestIter = it;
                } else if (it - bestIter > patience) {
                    return it;
                }
                if (gradNorm <= 1e-7) return it;
            }
        }
        return to;
    }

    /** ∂KL/∂y_i = 4 Σ_j (e·p_ij − q_ij) w_ij (y_i − y_j), w_ij = 1/(1 + |y_i − y_j|²), q_ij = w_ij / Σ w. */
    static void gradient(double[][] p, double[][] y, double exaggeration, double[][] grad) {
        int m = y.length;
        int blocks = (m + ROWS_PER_BLOCK - 1) / ROWS_PER_BLOCK;
        double[][] attract = new double[m][2];
        double[][] repel = new double[m][2];
        double[] zPart = IntStream.range(0, blocks).parallel().mapToDouble(b -> {
            double z = 0;
            for (int i = b * ROWS_PER_BLOCK, end = Math.min(m, i + ROWS_PER_BLOCK); i < end; i++) {
                double yi0 = y[i][0], yi1 = y[i][1];
                double[] pi = p[i];
                double a0 = 0, a1 = 0, r0 = 0, r1 = 0;
                for (int j = 0; j < m; j++) {
                    if (j == i) continue;
                    double d0 = yi0 - y[j][0], d1 = yi1 - y[j][1];
                    double w = 1 / (1 + d0 * d0 + d1 * d1);
                    z += w;
                    double pw = pi[j] * w, ww = w * w;
                    a0 += pw * d0;
                    a1 += pw * d1;
                    r0 += ww * d0;
                    r1 += ww * d1;
                }
                attract[i][0] = a0;
                attract[i][1] = a1;
                repel[i][0] = r0;
                repel[i][1] = r1;
            }
            return z;
        }).toArray();
        double z = 0;
        for (double part : zPart) z += part;
        for (int i = 0; i < m; i++) {
            for (int d = 0; d < 2; d++) grad[i][d] = 4 * (exaggeration * attract[i][d] - repel[i][d] / z);
        }
    }

    /** KL(P‖Q) = Σ_{i≠j} p_ij log(p_ij / max(q_ij, eps)); two passes (Σ w, then the sum) so no M×M buffer. */
    static double klDivergence(double[][] p, double[][] y) {
        int m = y.length;
        double z = sumOverBlocks(m, i -> {
            double s = 0;
            for (int j = 0; j < m; j++) if (j != i) s += studentT(y, i, j);
            return s;
        });
        return sumOverBlocks(m, i -> {
            double s = 0;
            for (int j = 0; j < m; j++) {
                if (j == i) continue;
                double q = Math.max(studentT(y, i, j) / z, MACHINE_EPSILON);
                s += p[i][j] * Math.log(p[i][j] / q);
            }
            return s;
        });
    }

    private static double studentT(double[][] y, int i, int j) {
        double d0 = y[i][0] - y[j][0], d1 = y[i][1] - y[j][1];
        return 1 / (1 + d0 * d0 + d1 * d1);
    }

    /** Σ_i rowSum(i), rows in fixed blocks in parallel, block sums added in block order. */
    private static double sumOverBlocks(int m, java.util.function.IntToDoubleFunction rowSum) {
        int blocks = (m + ROWS_PER_BLOCK - 1) / ROWS_PER_BLOCK;
        double[] parts = IntStream.range(0, blocks).parallel().mapToDouble(b -> {
            double s = 0;
            for (int i = b * ROWS_PER_BLOCK, end = Math.min(m, i + ROWS_PER_BLOCK); i < end; i++) s += rowSum.applyAsDouble(i);
            return s;
        }).toArray();
        double total = 0;
        for (double part : parts) total += part;
        return total;
    }

    /** Symmetric joint probabilities {@code [M][M]} from the conditional Gaussians of perplexity {@code perplexity}. */
    static double[][] jointProbabilities(double[][] x, double perplexity) {
        int m = x.length;
        double[] sq = PairwiseBlocks.squaredNorms(x);
        double[][] cond = new double[m][];
        PairwiseBlocks.gramRows(x, (i0, i1, dots) -> {
            for (int i = i0; i < i1; i++) {
                double[] d = dots[i - i0];
                for (int j = 0; j < m; j++) d[j] = j == i ? 0 : Math.max(sq[i] + sq[j] - 2 * d[j], 0);
                cond[i] = conditionalRow(d, i, perplexity);
            }
            return null;
        });
        double[][] p = new double[m][m];
        double sum = 2.0 * m;  // each conditional row sums to 1
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < m; j++) {
                if (j != i) p[i][j] = Math.max((cond[i][j] + cond[j][i]) / sum, MACHINE_EPSILON);
            }
        }
        return p;
    }

    /** p_{j|i} over squared distances {@code d}, bisecting on β as sklearn's {@code _binary_search_perplexity}. */
    private static double[] conditionalRow(double[] d, int i, double perplexity) {
        int m = d.length;
        double[] row = new double[m];
        double target = Math.log(perplexity);
        double beta = 1, betaMin = Double.NEGATIVE_INFINITY, betaMax = Double.POSITIVE_INFINITY;
        for (int step = 0; step < 100; step++) {
            double sum = 0, sumDP = 0;
            for (int j = 0; j < m; j++) {
                row[j] = j == i ? 0 : Math.exp(-d[j] * beta);
                sum += row[j];
            }
            if (sum == 0) sum = 1e-8;
            for (int j = 0; j < m; j++) {
                row[j] /= sum;
                sumDP += d[j] * row[j];
            }
            double entropy = Math.log(sum) + beta * sumDP;
            double diff = entropy - target;
            if (Math.abs(diff) <= 1e-5) break;
            if (diff > 0) {
                betaMin = beta;
                beta = betaMax == Double.POSITIVE_INFINITY ? beta * 2 : (beta + betaMax) / 2;
            } else {
                betaMax = beta;
                beta = betaMin == Double.NEGATIVE_INFINITY ? beta / 2 : (beta + betaMin) / 2;
            }
        }
        return row;
    }

    /** PCA to 2-D scaled so the first coordinate has std 1e-4 (sklearn's init="pca"); random if the data are flat. */
    private static double[][] initialEmbedding(double[][] x, long seed) {
        int m = x.length;
        double[][] y;
        if (x[0].length >= 2) {
            y = Pca.fit(x, 2).transform(x);
        } else {
            y = new double[m][2];
            for (int i = 0; i < m; i++) y[i][0] = x[i][0];
        }
        double mean = 0, var = 0;
        for (double[] r : y) mean += r[0];
        mean /= m;
        for (double[] r : y) var += (r[0] - mean) * (r[0] - mean);
        double std = Math.sqrt(var / m);
        if (std == 0) {
            Random rng = new Random(seed);
            for (double[] r : y) {
                r[0] = 1e-4 * rng.nextGaussian();
                r[1] = 1e-4 * rng.nextGaussian();
            }
            return y;
        }
        for (double[] r : y) {
            r[0] = r[0] / std * 1e-4;
            r[1] = r[1] / std * 1e-4;
        }
        return y;
    }
}
