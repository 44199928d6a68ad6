package io.vlm4j.eval.analysis;

import java.util.List;
import java.util.stream.IntStream;

/**
 * The O(n²) part of the analysis: rows of the Gram matrix {@code X·Xᵀ} computed a block of rows at a time, blocks in
 * parallel (a parallel stream over the common pool, so it uses 2 cores or 64), never the whole n×n matrix at once.
 * The block size is fixed, not derived from the core count, and per-block results come back in block order, so a
 * caller that folds them in that order gets the same bits on every machine.
 */
final class PairwiseBlocks {
    /** Rows per task: 32 rows × 5000 columns × 8 bytes = 1.3 MB of scratch per running task. */
    static final int ROWS_PER_BLOCK = 32;
    /** Columns per tile: 64 rows of X (384 KB at E = 768) stay in cache while a block's rows pass over them. */
    private static final int COLS_PER_TILE = 64;

    private PairwiseBlocks() {}

    @FunctionalInterface
    interface BlockReducer<R> {
        /** {@code dots[r][j] = x[i0 + r] · x[j]} for {@code r < i1 - i0}, {@code j < n}. */
        R reduce(int i0, int i1, double[][] dots);
    }

    /** Runs {@code reducer} on every block of Gram rows; results in block order. */
    static <R> List<R> gramRows(double[][] x, BlockReducer<R> reducer) {
        int n = x.length;
        int blocks = (n + ROWS_PER_BLOCK - 1) / ROWS_PER_BLOCK;
        return IntStream.range(0, blocks).parallel().mapToObj(b -> {
            int i0 = b * ROWS_PER_BLOCK;
            int i1 = Math.min(n, i0 + ROWS_PER_BLOCK);
            double[][] dots = new double[i1 - i0][n];
            dots(x, i0, i1, dots);
            return reducer.reduce(i0, i1, dots);
        }).toList();
    }

    /** {@code out[r][j] = x[i0 + r] · x[j]}, tiled over j; four columns at a time share each load of x[i]. */
    static void dots(double[][] x, int i0, int i1, double[][] out) {
        int n = x.length;
        for (int j0 = 0; j0 < n; j0 += COLS_PER_TILE) {
            int j1 = Math.min(n, j0 + COLS_PER_TILE);
            for (int i = i0; i < i1; i++) {
                double[] a = x[i];
                double[] o = out[i - i0];
                int j = j0;
                for (; j + 3 < j1; j += 4) {
                    double[] b0 = x[j], b1 = x[j + 1], b2 = x[j + 2], b3 = x[j + 3];
                    double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
                    for (int k = 0; k < a.length; k++) {
                        double ak = a[k];
                        s0 += ak * b0[k];
                        s1 += ak * b1[k];
                        s2 += ak * b2[k];
                        s3 += ak * b3[k];
                    }
                    o[j] = s0;
                    o[j + 1] = s1;
                    o[j + 2] = s2;
                    o[j + 3] = s3;
                }
                for (; j < j1; j++) o[j] = dot(a, x[j]);
            }
        }
    }

    static double dot(double[] a, double[] b) {
        double s = 0;
        for (int k = 0; k < a.length; k++) s += a[k] * b[k];
        return s;
    }

    /** Squared L2 norm of each row. */
    static double[] squaredNorms(double[][] x) {
        double[] out = new double[x.length];
        for (int i = 0; i < x.length; i++) out[i] = dot(x[i], x[i]);
        return out;
    }
}
