package io.vlm4j.eval.analysis;

import java.util.Locale;

/**
 * Embeddings projected to 2-D for a scatter plot.
 *
 * @param method  "PCA" or "t-SNE"
 * @param points  {@code [M, 2]}
 * @param rows    {@code [M]}, the input row behind each point (its label is {@code labels[rows[m]]})
 * @param xLabel  axis titles for a plot
 * @param yLabel
 * @param details what a plot caption should say about the projection (explained variance, KL, sample size)
 */
public record Projection(String method, double[][] points, int[] rows, String xLabel, String yLabel, String details) {
    public Projection {
        if (points.length != rows.length) throw new IllegalArgumentException(points.length + " points but " + rows.length + " rows");
        for (double[] p : points) {
            if (p.length != 2) throw new IllegalArgumentException("projection points must be 2-D, got " + p.length);
        }
    }

    /** Every row onto the first two principal components. */
    public static Projection pca(LabeledEmbeddings data) {
        Pca pca = Pca.fit(data.x(), 2);
        int[] rows = java.util.stream.IntStream.range(0, data.size()).toArray();
        double[] r = pca.explainedVarianceRatio();
        return new Projection("PCA", pca.transform(data.x()), rows,
                String.format(Locale.ROOT, "PC1 (%.1f%%)", 100 * r[0]), String.format(Locale.ROOT, "PC2 (%.1f%%)", 100 * r[1]),
                String.format(Locale.ROOT, "PC1 %.1f%%, PC2 %.1f%% of variance, n=%d", 100 * r[0], 100 * r[1], data.size()));
    }

    /** t-SNE of a seeded stratified sample of at most {@code options.maxPoints()} rows. */
    public static Projection tsne(LabeledEmbeddings data, Tsne.Options options) {
        Tsne.Result t = Tsne.run(data, options);
        String sample = t.rows().length == data.size() ? "n=" + data.size() : "n=" + t.rows().length + " of " + data.size();
        return new Projection("t-SNE", t.embedding(), t.rows(), "t-SNE 1", "t-SNE 2", String.format(Locale.ROOT,
                "perplexity %.0f, KL %.3f after %d iterations, %s", options.perplexity(), t.klDivergence(), t.iterations(), sample));
    }

    /** Labels of the points, {@code [M]}, from the labels of the input rows. */
    public int[] pointLabels(int[] rowLabels) {
        int[] out = new int[rows.length];
        for (int i = 0; i < rows.length; i++) out[i] = rowLabels[rows[i]];
        return out;
    }
}
