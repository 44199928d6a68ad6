package io.vlm4j.eval.analysis;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.vlm4j.eval.analysis.SeparabilityMetrics.Distance;
import java.io.IOException;
import java.io.InputStream;
import java.util.Locale;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Every metric against scikit-learn (and numpy where sklearn has none) on the seeded inputs that
 * models/scripts/make_eval_analysis_fixtures.py wrote to src/test/resources/eval/analysis/. Tolerance: 1e-9 relative
 * (absolute near zero); PCA up to the sign of each component. The largest error seen is printed at the end.
 */
class SklearnFixtureTest {
    private static final double REL = 1e-9;
    /** Largest relative error per quantity (case name and indices dropped), printed after the class. */
    private static final java.util.Map<String, Double> WORST = new java.util.TreeMap<>();

    static JsonNode load(String name) throws IOException {
        try (InputStream in = SklearnFixtureTest.class.getResourceAsStream("/eval/analysis/" + name + ".json")) {
            if (in == null) throw new IOException("missing fixture eval/analysis/" + name + ".json");
            return new ObjectMapper().readTree(in);
        }
    }

    static double[][] matrix(JsonNode node) {
        double[][] out = new double[node.size()][];
        for (int i = 0; i < out.length; i++) out[i] = vector(node.get(i));
        return out;
    }

    static double[] vector(JsonNode node) {
        double[] out = new double[node.size()];
        for (int i = 0; i < out.length; i++) out[i] = node.get(i).isNull() ? Double.NaN : node.get(i).asDouble();
        return out;
    }

    static int[] ints(JsonNode node) {
        int[] out = new int[node.size()];
        for (int i = 0; i < out.length; i++) out[i] = node.get(i).asInt();
        return out;
    }

    /** |actual − expected| ≤ 1e-9 · max(|expected|, 1e-3); records the worst relative error. */
    static void close(String what, double expected, double actual) {
        if (Double.isNaN(expected)) {
            assertTrue(Double.isNaN(actual), what + ": expected NaN, got " + actual);
            return;
        }
        double scale = Math.max(Math.abs(expected), 1e-3);
        double rel = Math.abs(actual - expected) / scale;
        String quantity = what.substring(what.indexOf(' ') + 1).replaceAll("[0-9,]+", "").trim();
        synchronized (WORST) {
            WORST.merge(quantity, rel, Math::max);
        }
        assertTrue(rel <= REL, () -> String.format(Locale.ROOT, "%s: expected %.17g, got %.17g (rel %.3g)", what, expected, actual, rel));
    }

    @AfterAll
    static void report() {
        StringBuilder sb = new StringBuilder("SklearnFixtureTest: largest relative error per quantity\n");
        WORST.forEach((q, e) -> sb.append(String.format(Locale.ROOT, "  %-32s %.3g%n", q, e)));
        System.out.print(sb);
    }

    @ParameterizedTest
    @ValueSource(strings = {"blobs_5d", "singleton_class", "unit_64d", "wide_40x100"})
    void metricsMatchSklearn(String name) throws IOException {
        JsonNode f = load(name);
        double[][] x = matrix(f.get("x"));
        int[] labels = ints(f.get("labels"));
        close(name + " silhouette euclidean", f.get("silhouette_euclidean").asDouble(),
                SeparabilityMetrics.silhouette(x, labels, Distance.EUCLIDEAN));
        close(name + " silhouette cosine", f.get("silhouette_cosine").asDouble(),
                SeparabilityMetrics.silhouette(x, labels, Distance.COSINE));
        close(name + " davies-bouldin", f.get("davies_bouldin").asDouble(), SeparabilityMetrics.daviesBouldin(x, labels));
        close(name + " calinski-harabasz", f.get("calinski_harabasz").asDouble(), SeparabilityMetrics.calinskiHarabasz(x, labels));

        SeparabilityReport.Fisher fisher = SeparabilityMetrics.fisher(x, labels);
        close(name + " fisher trace ratio", f.get("fisher_trace_ratio").asDouble(), fisher.traceRatio());
        double[][] pair = matrix(f.get("fisher_pairwise"));
        for (int a = 0; a < pair.length; a++) {
            for (int b = 0; b < pair.length; b++) close(name + " fisher pair " + a + "," + b, pair[a][b], fisher.pairwise()[a][b]);
        }

        int k = f.get("knn_k").asInt();
        close(name + " knn purity", f.get("knn_purity").asDouble(), SeparabilityMetrics.knnPurity(x, labels, k));
        SeparabilityReport.CosineStats cos = SeparabilityMetrics.cosineStats(x, labels);
        close(name + " within mean", f.get("within_mean").asDouble(), cos.withinClass().mean());
        close(name + " within std", f.get("within_std").asDouble(), cos.withinClass().std());
        close(name + " between mean", f.get("between_mean").asDouble(), cos.betweenClass().mean());
        close(name + " between std", f.get("between_std").asDouble(), cos.betweenClass().std());
        close(name + " centroid mean", f.get("centroid_mean").asDouble(), cos.betweenCentroids().mean());
        close(name + " centroid std", f.get("centroid_std").asDouble(), cos.betweenCentroids().std());
    }

    @ParameterizedTest
    @ValueSource(strings = {"blobs_5d", "singleton_class", "unit_64d", "wide_40x100"})
    void pcaMatchesSklearnUpToSign(String name) throws IOException {
        JsonNode f = load(name);
        double[][] x = matrix(f.get("x"));
        double[][] components = matrix(f.get("pca_components"));
        double[] variance = vector(f.get("pca_explained_variance"));
        double[] ratio = vector(f.get("pca_explained_variance_ratio"));
        double[][] transform = matrix(f.get("pca_transform"));
        Pca pca = Pca.fit(x, components.length);
        double[][] y = pca.transform(x);
        for (int r = 0; r < components.length; r++) {
            double dot = PairwiseBlocks.dot(components[r], pca.components()[r]);
            double sign = Math.signum(dot);
            close(name + " |component " + r + " · sklearn|", 1.0, Math.abs(dot));
            for (int j = 0; j < components[r].length; j++) {
                // components are unit vectors: compare entries on the vector's scale, not each entry's own
                close(name + " component " + r, components[r][j] + 1, sign * pca.components()[r][j] + 1);
            }
            close(name + " explained variance " + r, variance[r], pca.explainedVariance()[r]);
            close(name + " explained variance ratio " + r, ratio[r], pca.explainedVarianceRatio()[r]);
            double spread = Math.sqrt(variance[0]);
            for (int i = 0; i < x.length; i++) {
                close(name + " transform " + r, transform[i][r] / spread, sign * y[i][r] / spread);
            }
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"blobs_5d"})
    void tsnePiecesMatchSklearn(String name) throws IOException {
        JsonNode f = load(name);
        double[][] x = matrix(f.get("x"));
        double[] condensed = vector(f.get("tsne_p_condensed"));
        int m = x.length;
        double[][] pSk = new double[m][m];
        for (int i = 0, c = 0; i < m; i++) {
            for (int j = i + 1; j < m; j++, c++) pSk[i][j] = pSk[j][i] = condensed[c];
        }
        // P: sklearn bisects on float32 distances, so agreement is to float32 precision, not 1e-9
        double[][] p = Tsne.jointProbabilities(x, f.get("tsne_perplexity").asDouble());
        double maxRel = 0;
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < m; j++) {
                if (i != j && pSk[i][j] > 1e-12) maxRel = Math.max(maxRel, Math.abs(p[i][j] - pSk[i][j]) / pSk[i][j]);
            }
        }
        assertTrue(maxRel < 1e-4, "P differs from sklearn's by " + maxRel);
        System.out.printf(Locale.ROOT, "SklearnFixtureTest: t-SNE P vs sklearn (float32 bisection) largest relative difference %.3g%n", maxRel);

        // KL and gradient on sklearn's own P: the same formula, so 1e-9
        double[][] y = matrix(f.get("tsne_y"));
        close(name + " t-SNE KL", f.get("tsne_kl").asDouble(), Tsne.klDivergence(pSk, y));
        double[][] grad = new double[m][2];
        Tsne.gradient(pSk, y, 1.0, grad);
        double[][] gSk = matrix(f.get("tsne_grad"));
        double gScale = 0;
        for (double[] g : gSk) gScale = Math.max(gScale, Math.max(Math.abs(g[0]), Math.abs(g[1])));
        for (int i = 0; i < m; i++) {
            for (int d = 0; d < 2; d++) close(name + " t-SNE gradient", gSk[i][d] / gScale, grad[i][d] / gScale);
        }
    }
}
