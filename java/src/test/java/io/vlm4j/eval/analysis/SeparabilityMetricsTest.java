package io.vlm4j.eval.analysis;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vlm4j.eval.analysis.SeparabilityMetrics.Distance;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ForkJoinPool;
import org.junit.jupiter.api.Test;

/** The metrics on inputs small enough to work out by hand, plus sampling and determinism. */
class SeparabilityMetricsTest {
    private static final double EPS = 1e-12;

    private static double[][] column(double... v) {
        return Arrays.stream(v).mapToObj(d -> new double[] {d}).toArray(double[][]::new);
    }

    private static double[][] angles(double scale, double... degrees) {
        return Arrays.stream(degrees).mapToObj(d -> new double[] {scale * Math.cos(Math.toRadians(d)), scale * Math.sin(Math.toRadians(d))})
                .toArray(double[][]::new);
    }

    @Test
    void silhouetteOfTwoClassesOnALine() {
        // A = {0, 1}, B = {4, 6}. a(i): mean distance within the class; b(i): to the other class.
        //   0: a = 1, b = (4 + 6)/2 = 5    → (5 − 1)/5   = 0.8
        //   1: a = 1, b = (3 + 5)/2 = 4    → (4 − 1)/4   = 0.75
        //   4: a = 2, b = (4 + 3)/2 = 3.5  → 1.5/3.5     = 3/7
        //   6: a = 2, b = (6 + 5)/2 = 5.5  → 3.5/5.5     = 7/11
        double expected = (0.8 + 0.75 + 3.0 / 7 + 7.0 / 11) / 4;
        assertEquals(expected, SeparabilityMetrics.silhouette(column(0, 1, 4, 6), new int[] {0, 0, 1, 1}, Distance.EUCLIDEAN), EPS);
    }

    @Test
    void silhouetteGivesASingletonZeroAndUsesTheNearestOtherClass() {
        // As above plus C = {10}: b(6) becomes min(5.5, 4) = 4 → (4 − 2)/4 = 0.5; the lone 10 scores 0.
        double expected = (0.8 + 0.75 + 3.0 / 7 + 0.5 + 0) / 5;
        int[] labels = {0, 0, 1, 1, 2};
        assertEquals(expected, SeparabilityMetrics.silhouette(column(0, 1, 4, 6, 10), labels, Distance.EUCLIDEAN), EPS);
        // Labels are encoded as sklearn's LabelEncoder does: any distinct ints, in any order of appearance.
        assertEquals(expected, SeparabilityMetrics.silhouette(column(10, 0, 1, 4, 6), new int[] {-7, 5, 5, 9, 9}, Distance.EUCLIDEAN), EPS);
    }

    @Test
    void cosineSilhouetteIgnoresLength() {
        // A = {0°, 90°}, B = {180°, 270°}. Cosine distance 1 − cos: within 1; across 2 and 1.
        // Every sample: a = 1, b = (2 + 1)/2 = 1.5 → 0.5/1.5 = 1/3. Lengths must not matter.
        double[][] x = angles(1, 0, 90, 180, 270);
        x[1] = new double[] {0, 7};
        x[2] = new double[] {-0.25, 0};
        assertEquals(1.0 / 3, SeparabilityMetrics.silhouette(x, new int[] {0, 0, 1, 1}, Distance.COSINE), EPS);
    }

    @Test
    void clusterScoresOnALine() {
        // A = {0, 1} (mean 0.5), B = {4, 6} (mean 5), overall mean 2.75.
        //   S_B = 2·2.25² + 2·2.25² = 20.25;  S_W = 0.25 + 0.25 + 1 + 1 = 2.5
        //   CH = 20.25·(4 − 2) / (2.5·(2 − 1)) = 16.2;  Fisher = 20.25 / 2.5 = 8.1
        //   DB: mean distances to the centroid 0.5 and 1, centroids 4.5 apart → (0.5 + 1)/4.5 = 1/3
        //   pair Fisher: gap² 20.25 over variances 0.25 + 1 → 16.2
        double[][] x = column(0, 1, 4, 6);
        int[] labels = {0, 0, 1, 1};
        assertEquals(16.2, SeparabilityMetrics.calinskiHarabasz(x, labels), EPS);
        assertEquals(1.0 / 3, SeparabilityMetrics.daviesBouldin(x, labels), EPS);
        SeparabilityReport.Fisher f = SeparabilityMetrics.fisher(x, labels);
        assertEquals(8.1, f.traceRatio(), EPS);
        assertEquals(16.2, f.pairwise()[0][1], EPS);
        assertEquals(16.2, f.pairwise()[1][0], EPS);
        assertTrue(Double.isNaN(f.pairwise()[0][0]));
        assertArrayEquals(new int[] {0, 1}, f.hardestPair());
    }

    @Test
    void knnPurityCountsCosineNeighbours() {
        // Unit-circle angles (degrees), lengths scrambled: A = {0, 10, 50}, B = {90, 80, 47}.
        // Nearest by angle, k = 1: 0→10 ✓, 10→0 ✓, 50→47 ✗, 90→80 ✓, 80→90 ✓, 47→50 ✗        → 4/6
        // k = 2: 0→{10, 47} ½, 10→{0, 47} ½, 50→{47, 80} 0, 90→{80, 50} ½, 80→{90, 50} ½, 47→{50, 80} ½ → 2.5/6
        double[][] x = angles(1, 0, 10, 50, 90, 80, 47);
        x[0] = new double[] {5, 0};
        for (int d = 0; d < 2; d++) x[4][d] *= 0.1;
        int[] labels = {0, 0, 0, 1, 1, 1};
        assertEquals(4.0 / 6, SeparabilityMetrics.knnPurity(x, labels, 1), EPS);
        assertEquals(2.5 / 6, SeparabilityMetrics.knnPurity(x, labels, 2), EPS);
        assertThrows(IllegalArgumentException.class, () -> SeparabilityMetrics.knnPurity(x, labels, 6));
    }

    @Test
    void knnTiesGoToTheLowerRow() {
        // Row 0 at 45° is as close to row 1 (0°, other class) as to row 2 (90°, same class): row 1 wins.
        double[][] x = {{1, 1}, {1, 0}, {0, 1}};
        assertEquals((0 + 0 + 1) / 3.0, SeparabilityMetrics.knnPurity(x, new int[] {0, 1, 0}, 1), EPS);
    }

    @Test
    void cosineStatistics() {
        // A = {0°, 90°}, B = {180°, 270°} with scrambled lengths. Within: both pairs cos 0 → mean 0, std 0.
        // Across: 0°·180° = −1, 0°·270° = 0, 90°·180° = 0, 90°·270° = −1 → mean −0.5, std 0.5.
        // Centroids of the unit rows (½, ½) and (−½, −½): cosine −1.
        double[][] x = {{3, 0}, {0, 0.5}, {-2, 0}, {0, -9}};
        SeparabilityReport.CosineStats s = SeparabilityMetrics.cosineStats(x, new int[] {0, 0, 1, 1});
        assertEquals(new SummaryStats(2, 0, 0), s.withinClass());
        assertEquals(4, s.betweenClass().count());
        assertEquals(-0.5, s.betweenClass().mean(), EPS);
        assertEquals(0.5, s.betweenClass().std(), EPS);
        assertEquals(1, s.betweenCentroids().count());
        assertEquals(-1, s.betweenCentroids().mean(), EPS);
        assertEquals(-1, s.centroidSimilarity()[0][1], EPS);
        assertEquals(1, s.centroidSimilarity()[1][1], EPS);
    }

    @Test
    void stratifiedSampleIsSeededProportionalAndKeepsEveryClass() {
        int[] labels = new int[1000];
        for (int i = 0; i < labels.length; i++) labels[i] = i < 700 ? 0 : i < 997 ? 1 : 2;  // 700 / 297 / 3
        LabeledEmbeddings data = LabeledEmbeddings.of(new double[1000][2], labels, List.of("a", "b", "c"));
        int[] s = data.stratifiedSample(100, 42);
        assertEquals(100, s.length);
        assertArrayEquals(s, data.stratifiedSample(100, 42));
        assertTrue(!Arrays.equals(s, data.stratifiedSample(100, 43)));
        assertEquals(100, Arrays.stream(s).distinct().count());
        for (int i = 1; i < s.length; i++) assertTrue(s[i - 1] < s[i]);
        int[] per = new int[3];
        for (int r : s) per[labels[r]]++;
        // 70 / 29.7 / 0.3 → largest remainders give 70 / 30 / 0, then class c gets its one row from the largest.
        assertArrayEquals(new int[] {69, 30, 1}, per);
        assertEquals(1000, data.stratifiedSample(1000, 1).length);
        assertThrows(IllegalArgumentException.class, () -> data.stratifiedSample(2, 1));
    }

    @Test
    void reportUsesASampleForPairwiseMetricsAndSaysSo() {
        LabeledEmbeddings data = gaussianClasses(new Random(5), 3, 400, 16, 3.0);
        SeparabilityReport r = SeparabilityMetrics.compute(data, SeparabilityMetrics.Options.defaults().withMaxSamples(300));
        assertEquals(1200, r.samples());
        assertEquals(300, r.pairwiseSamples());
        assertEquals(3, r.classesPresent());
        assertEquals(10, r.knnK());
        assertTrue(r.silhouetteEuclidean() > 0.5, "well separated: " + r.silhouetteEuclidean());
        assertTrue(r.knnPurity() > 0.99, "k-NN purity " + r.knnPurity());
        assertTrue(r.cosine().withinClass().mean() > r.cosine().betweenClass().mean());
        assertTrue(r.summaryLine().contains("pairwise on 300"), r.summaryLine());
        // the O(N·E) metrics still see every row: the same as on the full arrays
        assertEquals(SeparabilityMetrics.calinskiHarabasz(data.x(), data.labels()), r.calinskiHarabasz(), 0);
    }

    @Test
    void resultsDoNotDependOnTheNumberOfThreads() throws Exception {
        LabeledEmbeddings data = gaussianClasses(new Random(9), 4, 150, 40, 1.0);
        SeparabilityReport one = new ForkJoinPool(1).submit(() -> SeparabilityMetrics.compute(data)).get();
        SeparabilityReport three = new ForkJoinPool(3).submit(() -> SeparabilityMetrics.compute(data)).get();
        assertEquals(one.silhouetteEuclidean(), three.silhouetteEuclidean(), 0);
        assertEquals(one.silhouetteCosine(), three.silhouetteCosine(), 0);
        assertEquals(one.daviesBouldin(), three.daviesBouldin(), 0);
        assertEquals(one.calinskiHarabasz(), three.calinskiHarabasz(), 0);
        assertEquals(one.knnPurity(), three.knnPurity(), 0);
        assertEquals(one.cosine().withinClass(), three.cosine().withinClass());
        assertEquals(one.cosine().betweenClass(), three.cosine().betweenClass());
        assertArrayEquals(one.fisher().pairwise()[1], three.fisher().pairwise()[1], 0);
    }

    @Test
    void inputIsCheckedAtTheBoundary() {
        List<String> names = List.of("a", "b");
        assertThrows(IllegalArgumentException.class, () -> LabeledEmbeddings.of(new double[][] {{1, 2}, {3}}, new int[] {0, 1}, names));
        assertThrows(IllegalArgumentException.class, () -> LabeledEmbeddings.of(new double[][] {{1}, {Double.NaN}}, new int[] {0, 1}, names));
        assertThrows(IllegalArgumentException.class, () -> LabeledEmbeddings.of(new double[][] {{1}, {2}}, new int[] {0, 2}, names));
        assertThrows(IllegalArgumentException.class, () -> LabeledEmbeddings.of(new double[][] {{1}, {2}}, new int[] {0}, names));
        // one class present: silhouette is undefined (sklearn raises too)
        assertThrows(IllegalArgumentException.class,
                () -> SeparabilityMetrics.silhouette(column(1, 2, 3), new int[] {4, 4, 4}, Distance.EUCLIDEAN));
        // float32 input is widened exactly
        LabeledEmbeddings f = LabeledEmbeddings.of(new float[][] {{0.1f}, {0.2f}}, new int[] {0, 1}, names);
        assertEquals((double) 0.1f, f.x()[0][0], 0);
    }

    /** {@code classes} Gaussian blobs of {@code perClass} rows, centres {@code separation} apart on average. */
    static LabeledEmbeddings gaussianClasses(Random rng, int classes, int perClass, int dim, double separation) {
        double[][] centres = new double[classes][dim];
        for (double[] c : centres) for (int k = 0; k < dim; k++) c[k] = separation * rng.nextGaussian();
        double[][] x = new double[classes * perClass][dim];
        int[] labels = new int[x.length];
        for (int i = 0; i < x.length; i++) {
            labels[i] = i % classes;
            for (int k = 0; k < dim; k++) x[i][k] = centres[labels[i]][k] + rng.nextGaussian();
        }
        List<String> names = java.util.stream.IntStream.range(0, classes).mapToObj(c -> "class " + c).toList();
        return LabeledEmbeddings.of(x, labels, names);
    }
}
