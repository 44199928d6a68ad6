package io.vlm4j.eval.analysis;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Random;
import java.util.concurrent.ForkJoinPool;
import org.junit.jupiter.api.Test;

/** t-SNE behaves as t-SNE: clusters stay apart, KL falls, P is a distribution, runs are reproducible. */
class TsneTest {
    /** Fraction of each point's k nearest points (euclidean, itself excluded) with its label, averaged. */
    static double euclideanKnnPurity(double[][] y, int[] labels, int k) {
        int n = y.length;
        double hits = 0;
        for (int i = 0; i < n; i++) {
            double[] d = new double[n];
            Integer[] order = new Integer[n];
            for (int j = 0; j < n; j++) {
                d[j] = j == i ? Double.POSITIVE_INFINITY : Math.hypot(y[i][0] - y[j][0], y[i][1] - y[j][1]);
                order[j] = j;
            }
            java.util.Arrays.sort(order, (a, b) -> Double.compare(d[a], d[b]));
            for (int r = 0; r < k; r++) if (labels[order[r]] == labels[i]) hits++;
        }
        return hits / ((double) k * n);
    }

    @Test
    void separatedClustersStaySeparatedAndKlDecreases() {
        LabeledEmbeddings data = SeparabilityMetricsTest.gaussianClasses(new Random(11), 4, 60, 30, 2.0);
        Tsne.Result r = Tsne.run(data, Tsne.Options.defaults());
        assertEquals(240, r.rows().length);
        assertEquals(1000, r.iterations());
        int[] labels = new Projection("t-SNE", r.embedding(), r.rows(), "", "", "").pointLabels(data.labels());
        double purity = euclideanKnnPurity(r.embedding(), labels, 10);
        assertTrue(purity > 0.95, "10-NN purity in the t-SNE embedding " + purity);

        List<Tsne.Checkpoint> h = r.history();
        assertEquals(50, h.get(0).iteration());
        assertEquals(1000, h.get(h.size() - 1).iteration());
        for (int i = 1; i < h.size(); i++) assertTrue(h.get(i).iteration() > h.get(i - 1).iteration());
        double atEndOfExaggeration = h.stream().filter(c -> c.iteration() == 250).findFirst().orElseThrow().klDivergence();
        assertTrue(r.klDivergence() < h.get(0).klDivergence(), "KL " + h.get(0).klDivergence() + " → " + r.klDivergence());
        assertTrue(r.klDivergence() < atEndOfExaggeration, "KL at 250 " + atEndOfExaggeration + " → " + r.klDivergence());
        // after the exaggeration phase, plain gradient descent with momentum: KL (checked every 50) does not rise
        // by more than noise
        for (Tsne.Checkpoint c : h) {
            if (c.iteration() > 300) assertTrue(c.klDivergence() <= atEndOfExaggeration, "KL rose: " + c);
        }
        assertTrue(r.klDivergence() > 0 && r.klDivergence() < 2, "KL " + r.klDivergence());
    }

    @Test
    void resultsAreReproducibleAndIndependentOfThreads() throws Exception {
        LabeledEmbeddings data = SeparabilityMetricsTest.gaussianClasses(new Random(3), 3, 50, 8, 1.5);
        Tsne.Options o = Tsne.Options.defaults().withMaxIter(300).withPerplexity(20);
        Tsne.Result one = new ForkJoinPool(1).submit(() -> Tsne.run(data, o)).get();
        Tsne.Result three = new ForkJoinPool(3).submit(() -> Tsne.run(data, o)).get();
        for (int i = 0; i < one.embedding().length; i++) assertArrayEquals(one.embedding()[i], three.embedding()[i], 0);
        assertEquals(one.klDivergence(), three.klDivergence(), 0);
    }

    @Test
    void largeInputsAreCutToASeededStratifiedSample() {
        LabeledEmbeddings data = SeparabilityMetricsTest.gaussianClasses(new Random(4), 3, 100, 6, 2.0);
        Tsne.Options o = Tsne.Options.defaults().withMaxPoints(90).withMaxIter(50).withSeed(7);
        Tsne.Result r = Tsne.run(data, o);
        assertArrayEquals(data.stratifiedSample(90, 7), r.rows());
        int[] per = new int[3];
        for (int row : r.rows()) per[data.labels()[row]]++;
        assertArrayEquals(new int[] {30, 30, 30}, per);
        assertEquals(90, r.embedding().length);
    }

    @Test
    void jointProbabilitiesAreASymmetricDistribution() {
        LabeledEmbeddings data = SeparabilityMetricsTest.gaussianClasses(new Random(8), 2, 40, 5, 1.0);
        double[][] p = Tsne.jointProbabilities(data.x(), 15);
        double sum = 0;
        for (int i = 0; i < p.length; i++) {
            assertEquals(0, p[i][i], 0);
            for (int j = 0; j < p.length; j++) {
                assertEquals(p[i][j], p[j][i], 0);
                sum += p[i][j];
            }
        }
        assertEquals(1.0, sum, 1e-12);
    }

    @Test
    void perplexityMustBeBelowThePointCount() {
        LabeledEmbeddings data = SeparabilityMetricsTest.gaussianClasses(new Random(8), 2, 10, 5, 1.0);
        assertThrows(IllegalArgumentException.class, () -> Tsne.run(data, Tsne.Options.defaults()));
    }
}
