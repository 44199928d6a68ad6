package io.vlm4j.eval.analysis;

import java.util.List;
import java.util.Locale;

/**
 * Every separability metric of one set of embeddings; see {@link SeparabilityMetrics} for the definitions. Matrices
 * and per-class arrays are indexed by class index ({@code classNames}); entries of classes without rows are NaN.
 *
 * @param samples          rows in the input
 * @param pairwiseSamples  rows of the seeded stratified sample behind the pairwise (O(n²)) metrics: silhouette,
 *                         k-NN purity, within/between-class cosine; equal to {@code samples} when none was drawn
 * @param classesPresent   classes with at least one row
 * @param seed             seed of the sample
 * @param silhouetteEuclidean mean silhouette, euclidean distance (sample)
 * @param silhouetteCosine    mean silhouette, cosine distance (sample)
 * @param daviesBouldin       Davies–Bouldin index, lower is better (all rows)
 * @param calinskiHarabasz    Calinski–Harabasz index (all rows)
 * @param fisher              Fisher ratios (all rows)
 * @param knnK                neighbours per sample actually used (k, or samples − 1 if fewer)
 * @param knnPurity           mean fraction of same-class samples among the k cosine nearest neighbours (sample)
 * @param knnPurityPerClass   the same averaged within each class, {@code [C]}
 * @param cosine              cosine similarity statistics
 */
public record SeparabilityReport(List<String> classNames, int samples, int pairwiseSamples, int classesPresent, long seed,
                                 double silhouetteEuclidean, double silhouetteCosine, double daviesBouldin,
                                 double calinskiHarabasz, Fisher fisher, int knnK, double knnPurity,
                                 double[] knnPurityPerClass, CosineStats cosine) {

    /**
     * @param traceRatio trace(S_B) / trace(S_W), S_B = Σ_c n_c (μ_c − μ)(μ_c − μ)ᵀ, S_W = Σ_c Σ_{i∈c} (x_i − μ_c)(x_i − μ_c)ᵀ;
     *                   equals Calinski–Harabasz × (C − 1) / (N − C)
     * @param pairwise   {@code [C][C]}, symmetric: the 1-D Fisher ratio of classes a and b on the unit direction
     *                   w = (μ_a − μ_b) / |μ_a − μ_b|, i.e. |μ_a − μ_b|² / (var_a(w·x) + var_b(w·x)) with population
     *                   variances; NaN on the diagonal, +∞ when both classes project to single points
     */
    public record Fisher(double traceRatio, double[][] pairwise) {
        /** The least separable class pair {a, b} (smallest pairwise ratio), a < b. */
        public int[] hardestPair() {
            int[] best = null;
            double min = Double.POSITIVE_INFINITY;
            for (int a = 0; a < pairwise.length; a++) {
                for (int b = a + 1; b < pairwise.length; b++) {
                    if (!Double.isNaN(pairwise[a][b]) && (best == null || pairwise[a][b] < min)) {
                        min = pairwise[a][b];
                        best = new int[] {a, b};
                    }
                }
            }
            return best;
        }
    }

    /**
     * @param withinClass       pairwise cosine similarity over unordered pairs of distinct samples of one class (sample)
     * @param betweenClass      the same over pairs from different classes (sample)
     * @param betweenCentroids  over unordered pairs of class centroids (all rows)
     * @param centroidSimilarity {@code [C][C]} cosine similarity of class centroids, a centroid being the mean of its
     *                          class's L2-normalized rows
     */
    public record CosineStats(SummaryStats withinClass, SummaryStats betweenClass, SummaryStats betweenCentroids,
                              double[][] centroidSimilarity) {}

    /** One line for a plot subtitle or a log: the headline numbers and the sample size. */
    public String summaryLine() {
        String sample = pairwiseSamples == samples ? "n=" + samples : "n=" + samples + ", pairwise on " + pairwiseSamples;
        return String.format(Locale.ROOT,
                "silhouette cos %.3f / euc %.3f · DB %.3f · CH %.1f · Fisher %.3f · %d-NN purity %.3f · cos within %.3f vs between %.3f (%s)",
                silhouetteCosine, silhouetteEuclidean, daviesBouldin, calinskiHarabasz, fisher.traceRatio(), knnK, knnPurity,
                cosine.withinClass().mean(), cosine.betweenClass().mean(), sample);
    }
}
