package io.vlm4j.eval.analysis;

import java.util.List;

/**
 * The metrics that look at every pair of samples, all from one pass over the Gram matrix (see {@link PairwiseBlocks}):
 * silhouette with euclidean and with cosine distance, k-NN class purity under cosine similarity, and the
 * within-class / between-class statistics of pairwise cosine similarity.
 *
 * <p>Distances follow sklearn.metrics.pairwise: euclidean {@code sqrt(max(|xi|² + |xj|² − 2 xi·xj, 0))} with
 * the diagonal 0 ({@code euclidean_distances}), cosine {@code clip(1 − xi·xj / (|xi| |xj|), 0, 2)} with zero rows
 * left at zero ({@code cosine_distances}); the diagonal is set to 0 here, where sklearn's chunked silhouette leaves
 * rounding noise of ~1e-16 there.
 */
final class PairwiseMetrics {
    private PairwiseMetrics() {}

    record Result(double silhouetteEuclidean, double silhouetteCosine, int knnK, double knnPurity,
                  double[] knnPurityPerClass, SummaryStats withinCosine, SummaryStats betweenCosine) {}

    private record BlockStats(SummaryStats.Accumulator within, SummaryStats.Accumulator between) {}

    /**
     * @param labels  {@code [n]} in {@code [0, classes)}, at least two classes present and fewer than n
     * @param knnK    neighbours per sample, 1 ≤ k ≤ n − 1
     */
    static Result compute(double[][] x, int[] labels, int classes, int knnK) {
        int n = x.length;
        int[] counts = new int[classes];
        for (int l : labels) counts[l]++;
        int present = 0;
        for (int c : counts) if (c > 0) present++;
        if (present < 2 || present > n - 1) {
            throw new IllegalArgumentException("silhouette needs 2 <= classes present <= samples - 1, got " + present
                    + " classes in " + n + " samples");
        }
        if (knnK < 1 || knnK > n - 1) throw new IllegalArgumentException("k-NN: k must be in [1, " + (n - 1) + "], got " + knnK);
        double[] sq = PairwiseBlocks.squaredNorms(x);
        double[] norm = new double[n];
        for (int i = 0; i < n; i++) norm[i] = Math.sqrt(sq[i]);
        double[] silE = new double[n];
        double[] silC = new double[n];
        int[] hits = new int[n];

        List<BlockStats> blocks = PairwiseBlocks.gramRows(x, (i0, i1, dots) -> {
            var within = new SummaryStats.Accumulator();
            var between = new SummaryStats.Accumulator();
            double[] sumE = new double[classes];
            double[] sumC = new double[classes];
            double[] cos = new double[n];
            double[] topSim = new double[knnK];
            int[] topIdx = new int[knnK];
            for (int i = i0; i < i1; i++) {
                double[] d = dots[i - i0];
                int li = labels[i];
                java.util.Arrays.fill(sumE, 0);
                java.util.Arrays.fill(sumC, 0);
                for (int j = 0; j < n; j++) {
                    double s = norm[i] == 0 || norm[j] == 0 ? 0 : d[j] / (norm[i] * norm[j]);
                    cos[j] = s;
                    if (j == i) continue;
                    int lj = labels[j];
                    sumE[lj] += Math.sqrt(Math.max(sq[i] + sq[j] - 2 * d[j], 0));
                    sumC[lj] += Math.min(Math.max(1 - s, 0), 2);
                    if (j > i) (lj == li ? within : between).add(s);
                }
                silE[i] = silhouette(sumE, counts, li);
                silC[i] = silhouette(sumC, counts, li);
                hits[i] = sameLabelNeighbours(cos, i, labels, topSim, topIdx);
            }
            return new BlockStats(within, between);
        });

        var within = new SummaryStats.Accumulator();
        var between = new SummaryStats.Accumulator();
        for (BlockStats b : blocks) {
            within.merge(b.within());
            between.merge(b.between());
        }
        double sumSilE = 0, sumSilC = 0, sumHits = 0;
        double[] perClass = new double[classes];
        for (int i = 0; i < n; i++) {
            sumSilE += silE[i];
            sumSilC += silC[i];
            sumHits += hits[i];
            perClass[labels[i]] += hits[i];
        }
        for (int c = 0; c < classes; c++) perClass[c] = counts[c] == 0 ? Double.NaN : perClass[c] / ((double) knnK * counts[c]);
        return new Result(sumSilE / n, sumSilC / n, knnK, sumHits / ((double) knnK * n), perClass, within.stats(), between.stats());
    }

    /**
     * s(i) = (b − a) / max(a, b) with a the mean distance to the other members of i's class and b the smallest mean
     * distance to another class; 0 for a class of one and where a = b = 0 (sklearn's nan_to_num).
     */
    private static double silhouette(double[] sums, int[] counts, int own) {
        if (counts[own] == 1) return 0;
        double a = sums[own] / (counts[own] - 1);
        double b = Double.POSITIVE_INFINITY;
        for (int c = 0; c < counts.length; c++) {
            if (c != own && counts[c] > 0) b = Math.min(b, sums[c] / counts[c]);
        }
        double s = (b - a) / Math.max(a, b);
        return Double.isNaN(s) ? 0 : s;
    }

    /**
     * How many of row i's k most cosine-similar rows (itself excluded) share its label. Ties go to the lower
     * row index, so the count is deterministic.
     */
    private static int sameLabelNeighbours(double[] cos, int i, int[] labels, double[] topSim, int[] topIdx) {
        int k = topSim.length;
        int m = 0;
        for (int j = 0; j < cos.length; j++) {
            if (j == i) continue;
            double s = cos[j];
            if (m == k && !(s > topSim[k - 1])) continue;  // j ascends, so an equal similarity never displaces
            int p = m < k ? m++ : k - 1;
            while (p > 0 && s > topSim[p - 1]) {
                topSim[p] = topSim[p - 1];
                topIdx[p] = topIdx[p - 1];
                p--;
            }
            topSim[p] = s;
            topIdx[p] = j;
        }
        int hits = 0;
        for (int r = 0; r < k; r++) if (labels[topIdx[r]] == labels[i]) hits++;
        return hits;
    }
}
