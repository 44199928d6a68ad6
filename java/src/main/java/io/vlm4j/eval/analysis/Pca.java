package io.vlm4j.eval.analysis;

import java.util.Arrays;
import java.util.Comparator;
import java.util.stream.IntStream;
import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.row.factory.DecompositionFactory_DDRM;
import org.ejml.interfaces.decomposition.EigenDecomposition_F64;

/**
 * Principal component analysis in float64, as {@code sklearn.decomposition.PCA(svd_solver="full")}: the data are
 * centred, the covariance {@code Xcᵀ·Xc / (N − 1)} is formed (in parallel, deterministically) and decomposed with
 * EJML's symmetric eigensolver; its top eigenvectors are the components. The sign of each component is fixed as
 * sklearn's {@code svd_flip(u_based_decision=False)} does: its entry of largest magnitude is positive.
 *
 * <p>Cost: N·E²/2 multiply-adds for the covariance and an E×E eigendecomposition (about 0.7 s at E = 768, 1.6 s at
 * E = 1024 on one core), whatever N is.
 *
 * @param mean                   {@code [E]}
 * @param components             {@code [k][E]}, unit rows, by decreasing variance
 * @param explainedVariance      {@code [k]}, eigenvalues of the covariance (ddof = 1)
 * @param explainedVarianceRatio {@code [k]}, each divided by the total variance
 * @param totalVariance          sum of the per-feature variances (ddof = 1), the trace of the covariance
 */
public record Pca(double[] mean, double[][] components, double[] explainedVariance, double[] explainedVarianceRatio,
                  double totalVariance) {
    /** Covariance rows owned by one task; each task adds every row chunk into its own rows, so no merging. */
    private static final int COV_ROWS_PER_TASK = 16;
    private static final int DATA_ROWS_PER_CHUNK = 256;

    /** Fits {@code k} components to {@code x} {@code [N, E]}, N ≥ 2, 1 ≤ k ≤ E. */
    public static Pca fit(double[][] x, int k) {
        int n = x.length;
        if (n < 2) throw new IllegalArgumentException("PCA needs at least 2 rows, got " + n);
        int e = x[0].length;
        if (k < 1 || k > e) throw new IllegalArgumentException("PCA: components must be in [1, " + e + "], got " + k);
        for (double[] row : x) {
            if (row.length != e) throw new IllegalArgumentException("PCA: rows of different lengths " + e + " and " + row.length);
        }
        double[] mean = new double[e];
        for (double[] row : x) for (int j = 0; j < e; j++) mean[j] += row[j];
        for (int j = 0; j < e; j++) mean[j] /= n;

        double[][] cov = covariance(x, mean);  // [E][E], upper triangle filled
        double total = 0;
        DMatrixRMaj c = new DMatrixRMaj(e, e);
        for (int a = 0; a < e; a++) {
            total += cov[a][a];
            for (int b = a; b < e; b++) {
                c.unsafe_set(a, b, cov[a][b]);
                c.unsafe_set(b, a, cov[a][b]);
            }
        }
        EigenDecomposition_F64<DMatrixRMaj> eig = DecompositionFactory_DDRM.eig(e, true, true);
        if (!eig.decompose(c)) throw new ArithmeticException("PCA: the eigendecomposition did not converge");
        Integer[] order = IntStream.range(0, e).boxed().toArray(Integer[]::new);
        Arrays.sort(order, Comparator.comparingDouble(i -> -eig.getEigenvalue(i).real));

        double[][] components = new double[k][e];
        double[] variance = new double[k];
        double[] ratio = new double[k];
        for (int r = 0; r < k; r++) {
            DMatrixRMaj v = eig.getEigenVector(order[r]);
            double norm = 0;
            int largest = 0;
            for (int j = 0; j < e; j++) {
                norm += v.get(j) * v.get(j);
                if (Math.abs(v.get(j)) > Math.abs(v.get(largest))) largest = j;
            }
            double sign = v.get(largest) < 0 ? -1 : 1;
            for (int j = 0; j < e; j++) components[r][j] = sign * v.get(j) / Math.sqrt(norm);
            variance[r] = Math.max(0, eig.getEigenvalue(order[r]).real);
            ratio[r] = total == 0 ? 0 : variance[r] / total;
        }
        return new Pca(mean, components, variance, ratio, total);
    }

    /** {@code (x − mean) · componentsᵀ}, {@code [N, k]}. */
    public double[][] transform(double[][] x) {
        int k = components.length;
        double[][] out = new double[x.length][k];
        IntStream.range(0, x.length).parallel().forEach(i -> {
            for (int r = 0; r < k; r++) {
                double s = 0;
                for (int j = 0; j < mean.length; j++) s += (x[i][j] - mean[j]) * components[r][j];
                out[i][r] = s;
            }
        });
        return out;
    }

    /**
     * The upper triangle of {@code Xcᵀ·Xc / (N − 1)}. Data rows go by in chunks; within a chunk, tasks own disjoint
     * ranges of covariance rows, so every entry is summed over the data rows in the same order on any core count.
     * Four data rows at a time: {@code c[b] += x0[a]·x0[b] + …}, a loop the JIT vectorizes.
     */
    private static double[][] covariance(double[][] x, double[] mean) {
        int n = x.length, e = mean.length;
        double[][] cov = new double[e][e];
        int tasks = (e + COV_ROWS_PER_TASK - 1) / COV_ROWS_PER_TASK;
        double[][] chunk = new double[DATA_ROWS_PER_CHUNK][e];
        for (int i0 = 0; i0 < n; i0 += DATA_ROWS_PER_CHUNK) {
            int rows = Math.min(DATA_ROWS_PER_CHUNK, n - i0);
            for (int r = 0; r < rows; r++) for (int j = 0; j < e; j++) chunk[r][j] = x[i0 + r][j] - mean[j];
            IntStream.range(0, tasks).parallel().forEach(t -> {
                for (int a = t * COV_ROWS_PER_TASK, end = Math.min(e, a + COV_ROWS_PER_TASK); a < end; a++) {
                    double[] c = cov[a];
                    int r = 0;
                    for (; r + 3 < rows; r += 4) {
                        double[] x0 = chunk[r], x1 = chunk[r + 1], x2 = chunk[r + 2], x3 = chunk[r + 3];
                        double a0 = x0[a], a1 = x1[a], a2 = x2[a], a3 = x3[a];
                        for (int b = a; b < e; b++) c[b] += a0 * x0[b] + a1 * x1[b] + a2 * x2[b] + a3 * x3[b];
                    }
                    for (; r < rows; r++) {
                        double[] x0 = chunk[r];
                        double a0 = x0[a];
                        for (int b = a; b < e; b++) c[b] += a0 * x0[b];
                    }
                }
            });
        }
        for (double[] row : cov) for (int b = 0; b < e; b++) row[b] /= (n - 1);
        return cov;
    }
}
