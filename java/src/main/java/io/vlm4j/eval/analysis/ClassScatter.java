package io.vlm4j.eval.analysis;

import java.util.List;
import java.util.stream.IntStream;

/**
 * The metrics built from class means and scatter, O(N·E) (O(N·E·C) for the per-pair Fisher ratios), so they use every
 * row: Davies–Bouldin and Calinski–Harabasz exactly as sklearn.metrics computes them, the Fisher trace ratio, the
 * 1-D Fisher ratio of each class pair, and cosine similarity between class centroids. Rows are summed in fixed chunks
 * in parallel and the chunk sums added in chunk order, so results do not depend on the core count.
 */
final class ClassScatter {
    private static final int ROWS_PER_CHUNK = 1024;

    private ClassScatter() {}

    record Result(double daviesBouldin, double calinskiHarabasz, double fisherTraceRatio, double[][] pairFisher,
                  double[][] centroidCosine, SummaryStats centroidCosineStats) {}

    static Result compute(double[][] x, int[] labels, int classes) {
        int n = x.length, e = x[0].length;
        int[] counts = new int[classes];
        for (int l : labels) counts[l]++;
        int present = 0;
        for (int c : counts) if (c > 0) present++;
        if (present < 2 || present > n - 1) {
            throw new IllegalArgumentException("cluster scores need 2 <= classes present <= samples - 1, got " + present
                    + " classes in " + n + " samples");
        }

        // Pass 1: class sums of the rows and of the unit rows.
        double[][] sums = reduceChunks(n, 2 * classes, e, (i, acc) -> {
            double[] row = x[i];
            double[] s = acc[labels[i]], u = acc[classes + labels[i]];
            double norm = Math.sqrt(PairwiseBlocks.dot(row, row));
            for (int k = 0; k < e; k++) {
                s[k] += row[k];
                if (norm > 0) u[k] += row[k] / norm;
            }
        });
        double[][] mean = new double[classes][e];
        double[] global = new double[e];
        for (int c = 0; c < classes; c++) {
            for (int k = 0; k < e; k++) {
                global[k] += sums[c][k];
                if (counts[c] > 0) mean[c][k] = sums[c][k] / counts[c];
            }
        }
        for (int k = 0; k < e; k++) global[k] /= n;

        // Unit directions between class means, for the per-pair Fisher ratios: dir[a][b] = -dir[b][a].
        double[][][] dir = new double[classes][classes][];
        double[][] meanGap2 = new double[classes][classes];
        for (int a = 0; a < classes; a++) {
            for (int b = a + 1; b < classes; b++) {
                if (counts[a] == 0 || counts[b] == 0) continue;
                double[] w = new double[e];
                for (int k = 0; k < e; k++) w[k] = mean[a][k] - mean[b][k];
                double g2 = PairwiseBlocks.dot(w, w);
                meanGap2[a][b] = meanGap2[b][a] = g2;
                if (g2 > 0) for (int k = 0; k < e; k++) w[k] /= Math.sqrt(g2);
                dir[a][b] = w;
            }
        }

        // Pass 2, per class c: [0] sum of |x − μc|², [1] sum of |x − μc|, [2 + b] sum of (w_cb · (x − μc))².
        double[][] dev = reduceChunks(n, classes, 2 + classes, (i, acc) -> {
            int c = labels[i];
            double[] row = x[i], mu = mean[c], out = acc[c];
            double d2 = 0;
            for (int k = 0; k < e; k++) {
                double d = row[k] - mu[k];
                d2 += d * d;
            }
            out[0] += d2;
            out[1] += Math.sqrt(d2);
            for (int b = 0; b < classes; b++) {
                double[] w = c < b ? dir[c][b] : b < c ? dir[b][c] : null;
                if (w == null) continue;
                double p = 0;
                for (int k = 0; k < e; k++) p += (row[k] - mu[k]) * w[k];
                out[2 + b] += p * p;
            }
        });

        double intraDisp = 0, extraDisp = 0;
        double[] intraDist = new double[classes];
        for (int c = 0; c < classes; c++) {
            if (counts[c] == 0) continue;
            intraDisp += dev[c][0];
            intraDist[c] = dev[c][1] / counts[c];
            double g = 0;
            for (int k = 0; k < e; k++) g += (mean[c][k] - global[k]) * (mean[c][k] - global[k]);
            extraDisp += counts[c] * g;
        }
        double ch = intraDisp == 0 ? 1.0 : extraDisp * (n - present) / (intraDisp * (present - 1.0));
        double fisher = intraDisp == 0 ? (extraDisp == 0 ? 0 : Double.POSITIVE_INFINITY) : extraDisp / intraDisp;

        double[][] pairFisher = new double[classes][classes];
        for (int a = 0; a < classes; a++) {
            for (int b = 0; b < classes; b++) {
                if (a == b || counts[a] == 0 || counts[b] == 0) {
                    pairFisher[a][b] = Double.NaN;
                    continue;
                }
                double within = dev[a][2 + b] / counts[a] + dev[b][2 + a] / counts[b];
                double gap = meanGap2[a][b];
                pairFisher[a][b] = gap == 0 ? 0 : within == 0 ? Double.POSITIVE_INFINITY : gap / within;
            }
        }

        double[][] unitMean = new double[classes][];
        for (int c = 0; c < classes; c++) unitMean[c] = counts[c] == 0 ? null : sums[classes + c];
        double[][] centroidCos = new double[classes][classes];
        var cosStats = new SummaryStats.Accumulator();
        for (int a = 0; a < classes; a++) {
            for (int b = 0; b < classes; b++) {
                if (unitMean[a] == null || unitMean[b] == null) {
                    centroidCos[a][b] = Double.NaN;
                    continue;
                }
                double na = Math.sqrt(PairwiseBlocks.dot(unitMean[a], unitMean[a]));
                double nb = Math.sqrt(PairwiseBlocks.dot(unitMean[b], unitMean[b]));
                double s = na == 0 || nb == 0 ? 0 : PairwiseBlocks.dot(unitMean[a], unitMean[b]) / (na * nb);
                centroidCos[a][b] = s;
                if (a < b) cosStats.add(s);
            }
        }
        return new Result(daviesBouldin(mean, intraDist, counts), ch, fisher, pairFisher, centroidCos, cosStats.stats());
    }

    /** sklearn.metrics.davies_bouldin_score from the class means and mean distances to them. */
    private static double daviesBouldin(double[][] mean, double[] intraDist, int[] counts) {
        int classes = mean.length;
        int[] present = IntStream.range(0, classes).filter(c -> counts[c] > 0).toArray();
        int m = present.length;
        double[][] centroidDist = new double[m][m];
        boolean allIntraZero = true, allCentroidZero = true;
        for (int a = 0; a < m; a++) {
            if (Math.abs(intraDist[present[a]]) > 1e-8) allIntraZero = false;  // np.allclose(., 0): atol 1e-8
            for (int b = 0; b < m; b++) {
                double s = 0;
                double[] u = mean[present[a]], v = mean[present[b]];
                for (int k = 0; k < u.length; k++) s += (u[k] - v[k]) * (u[k] - v[k]);
                centroidDist[a][b] = Math.sqrt(s);
                if (centroidDist[a][b] > 1e-8) allCentroidZero = false;
            }
        }
        if (allIntraZero || allCentroidZero) return 0.0;
        double total = 0;
        for (int a = 0; a < m; a++) {
            double worst = Double.NEGATIVE_INFINITY;
            for (int b = 0; b < m; b++) {
                double dist = centroidDist[a][b] == 0 ? Double.POSITIVE_INFINITY : centroidDist[a][b];
                worst = Math.max(worst, (intraDist[present[a]] + intraDist[present[b]]) / dist);
            }
            total += worst;
        }
        return total / m;
    }

    @FunctionalInterface
    private interface RowAccumulator {
        void add(int row, double[][] acc);
    }

    /**
     * Adds every row into {@code [slots][width]} accumulators, one set per chunk of rows, chunks in parallel, then
     * sums the chunk accumulators in chunk order.
     */
    private static double[][] reduceChunks(int n, int slots, int width, RowAccumulator body) {
        int chunks = (n + ROWS_PER_CHUNK - 1) / ROWS_PER_CHUNK;
        List<double[][]> parts = IntStream.range(0, chunks).parallel().mapToObj(ch -> {
            double[][] acc = new double[slots][width];
            for (int i = ch * ROWS_PER_CHUNK, end = Math.min(n, i + ROWS_PER_CHUNK); i < end; i++) body.add(i, acc);
            return acc;
        }).toList();
        double[][] total = parts.get(0);
        for (int p = 1; p < parts.size(); p++) {
            double[][] part = parts.get(p);
            for (int s = 0; s < slots; s++) for (int k = 0; k < width; k++) total[s][k] += part[s][k];
        }
        return total;
    }
}
