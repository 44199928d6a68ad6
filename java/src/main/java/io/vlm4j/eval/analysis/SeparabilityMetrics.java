package io.vlm4j.eval.analysis;

import java.util.List;

/**
 * How well the classes separate in an embedding space, in float64.
 *
 * <ul>
 *   <li><b>Silhouette</b> — mean over samples of (b − a) / max(a, b), a the mean distance to the other members of
 *       the sample's class, b the smallest mean distance to another class; a sample alone in its class scores 0.
 *       Euclidean and cosine distance, as {@code sklearn.metrics.silhouette_score}. Higher is better, in [−1, 1].</li>
 *   <li><b>Davies–Bouldin</b> and <b>Calinski–Harabasz</b> — as {@code sklearn.metrics.davies_bouldin_score} and
 *       {@code calinski_harabasz_score} (euclidean). DB lower is better, CH higher.</li>
 *   <li><b>Fisher ratios</b> — see {@link SeparabilityReport.Fisher}.</li>
 *   <li><b>k-NN purity</b> — for each sample, the fraction of its k nearest neighbours by cosine similarity (itself
 *       excluded, ties to the lower row index) that share its label, averaged over samples.</li>
 *   <li><b>Cosine statistics</b> — mean and population std of the cosine similarity of pairs within a class and of
 *       pairs across classes, and of class centroids; see {@link SeparabilityReport.CosineStats}.</li>
 * </ul>
 *
 * Silhouette, k-NN purity and the pairwise cosine statistics cost O(n²·E); on more than {@link Options#maxSamples()}
 * rows they run on a seeded stratified sample ({@link LabeledEmbeddings#stratifiedSample}) whose size the report
 * carries. The other metrics are O(N·E) and use every row. Only classes with rows count (as sklearn's LabelEncoder);
 * at least two must be present, and fewer than the number of samples.
 */
public final class SeparabilityMetrics {
    private SeparabilityMetrics() {}

    public enum Distance { EUCLIDEAN, COSINE }

    /**
     * @param maxSamples rows at most for the pairwise metrics
     * @param knnK       neighbours for k-NN purity (lowered to samples − 1 on tiny sets; the report says which)
     * @param seed       seed of the stratified sample
     */
    public record Options(int maxSamples, int knnK, long seed) {
        public Options {
            if (maxSamples < 3) throw new IllegalArgumentException("maxSamples must be >= 3, got " + maxSamples);
            if (knnK < 1) throw new IllegalArgumentException("knnK must be >= 1, got " + knnK);
        }

        public static Options defaults() { return new Options(5000, 10, 0); }

        public Options withMaxSamples(int m) { return new Options(m, knnK, seed); }

        public Options withKnnK(int k) { return new Options(maxSamples, k, seed); }

        public Options withSeed(long s) { return new Options(maxSamples, knnK, s); }
    }

    public static SeparabilityReport compute(LabeledEmbeddings data) {
        return compute(data, Options.defaults());
    }

    public static SeparabilityReport compute(LabeledEmbeddings data, Options options) {
        int classes = data.classNames().size();
        ClassScatter.Result scatter = ClassScatter.compute(data.x(), data.labels(), classes);
        LabeledEmbeddings sample = data.subset(data.stratifiedSample(options.maxSamples(), options.seed()));
        int k = Math.min(options.knnK(), sample.size() - 1);
        PairwiseMetrics.Result pairs = PairwiseMetrics.compute(sample.x(), sample.labels(), classes, k);
        return new SeparabilityReport(data.classNames(), data.size(), sample.size(), data.presentClasses(), options.seed(),
                pairs.silhouetteEuclidean(), pairs.silhouetteCosine(), scatter.daviesBouldin(), scatter.calinskiHarabasz(),
                new SeparabilityReport.Fisher(scatter.fisherTraceRatio(), scatter.pairFisher()),
                pairs.knnK(), pairs.knnPurity(), pairs.knnPurityPerClass(),
                new SeparabilityReport.CosineStats(pairs.withinCosine(), pairs.betweenCosine(),
                        scatter.centroidCosineStats(), scatter.centroidCosine()));
    }

    // The single metrics on plain arrays, all rows (no sampling); labels are any ints, encoded as sklearn's
    // LabelEncoder does (sorted distinct values become 0, 1, ...), so matrices come back in that order.

    public static double silhouette(double[][] x, int[] labels, Distance distance) {
        LabeledEmbeddings d = checked(x, labels);
        PairwiseMetrics.Result r = PairwiseMetrics.compute(d.x(), d.labels(), d.classNames().size(), 1);
        return distance == Distance.EUCLIDEAN ? r.silhouetteEuclidean() : r.silhouetteCosine();
    }

    public static double daviesBouldin(double[][] x, int[] labels) {
        return scatter(x, labels).daviesBouldin();
    }

    public static double calinskiHarabasz(double[][] x, int[] labels) {
        return scatter(x, labels).calinskiHarabasz();
    }

    public static SeparabilityReport.Fisher fisher(double[][] x, int[] labels) {
        ClassScatter.Result r = scatter(x, labels);
        return new SeparabilityReport.Fisher(r.fisherTraceRatio(), r.pairFisher());
    }

    /** Mean fraction of same-label rows among each row's k cosine nearest neighbours, 1 ≤ k ≤ n − 1. */
    public static double knnPurity(double[][] x, int[] labels, int k) {
        LabeledEmbeddings d = checked(x, labels);
        return PairwiseMetrics.compute(d.x(), d.labels(), d.classNames().size(), k).knnPurity();
    }

    public static SeparabilityReport.CosineStats cosineStats(double[][] x, int[] labels) {
        LabeledEmbeddings d = checked(x, labels);
        int classes = d.classNames().size();
        PairwiseMetrics.Result p = PairwiseMetrics.compute(d.x(), d.labels(), classes, 1);
        ClassScatter.Result s = ClassScatter.compute(d.x(), d.labels(), classes);
        return new SeparabilityReport.CosineStats(p.withinCosine(), p.betweenCosine(), s.centroidCosineStats(), s.centroidCosine());
    }

    private static ClassScatter.Result scatter(double[][] x, int[] labels) {
        LabeledEmbeddings d = checked(x, labels);
        return ClassScatter.compute(d.x(), d.labels(), d.classNames().size());
    }

    private static LabeledEmbeddings checked(double[][] x, int[] labels) {
        int[] distinct = java.util.Arrays.stream(labels).distinct().sorted().toArray();
        int[] dense = new int[labels.length];
        for (int i = 0; i < labels.length; i++) dense[i] = java.util.Arrays.binarySearch(distinct, labels[i]);
        List<String> names = java.util.Arrays.stream(distinct).mapToObj(Integer::toString).toList();
        return new LabeledEmbeddings(x, dense, names.isEmpty() ? List.of("-") : names);
    }
}
