package io.vlm4j.eval;

/**
 * The L2-regularized logistic objective of spec 07 §4.2, averaged form, intercept unpenalized:
 * <pre>  J(W, b) = (1/n)·Σᵢ CE(W·xᵢ + b, yᵢ) + (1/(2·C·n))·‖W‖²_F</pre>
 * For K &gt; 2 classes CE is the full softmax cross-entropy over K weight vectors (none dropped), for K = 2 the
 * logistic loss of one vector: {@code log(1 + e^z) − y·z} with {@code z = w·x + b}, y ∈ {0, 1}. This is sklearn's
 * {@code LinearModelLoss(HalfMultinomialLoss / HalfBinomialLoss)} with {@code l2_reg_strength = 1/(C·n)}.
 *
 * <p>Parameters are one flat vector: multinomial {@code [W row 0 (d), …, W row K−1 (d), b (K)]}, binary
 * {@code [w (d), b]}.
 */
final class LogisticLoss implements Lbfgs.Objective {
    private final double[][] x;  // [n][d]
    private final int[] y;       // class index in [0, k)
    private final int k, d, rows;  // rows: K weight vectors, or 1 for the binary model
    private final double lambda;   // 1/(C·n)

    LogisticLoss(double[][] x, int[] y, int k, double c) {
        this.x = x;
        this.y = y;
        this.k = k;
        this.d = x[0].length;
        this.rows = k == 2 ? 1 : k;
        this.lambda = 1.0 / (c * x.length);
    }

    int parameterCount() { return rows * (d + 1); }

    static int parameterCount(int k, int d) { return (k == 2 ? 1 : k) * (d + 1); }

    @Override
    public double valueAndGradient(double[] theta, double[] grad) {
        java.util.Arrays.fill(grad, 0);
        int n = x.length, bOff = rows * d;
        double loss = 0;
        double[] z = new double[rows];
        for (int i = 0; i < n; i++) {
            double[] xi = x[i];
            for (int r = 0; r < rows; r++) {
                double s = theta[bOff + r];
                int off = r * d;
                for (int j = 0; j < d; j++) s += theta[off + j] * xi[j];
                z[r] = s;
            }
            if (rows == 1) {
                double zi = z[0];
                int yi = y[i];
                loss += softplus(zi) - yi * zi;
                z[0] = sigmoid(zi) - yi;  // dCE/dz
            } else {
                double max = Double.NEGATIVE_INFINITY;
                for (double v : z) max = Math.max(max, v);
                double sum = 0;
                for (int r = 0; r < rows; r++) sum += Math.exp(z[r] - max);
                double lse = max + Math.log(sum);
                loss += lse - z[y[i]];
                for (int r = 0; r < rows; r++) z[r] = Math.exp(z[r] - lse);
                z[y[i]] -= 1;
            }
            for (int r = 0; r < rows; r++) {
                double gr = z[r];
                if (gr == 0) continue;
                int off = r * d;
                for (int j = 0; j < d; j++) grad[off + j] += gr * xi[j];
                grad[bOff + r] += gr;
            }
        }
        double penalty = 0;
        for (int j = 0; j < bOff; j++) {
            penalty += theta[j] * theta[j];
            grad[j] = grad[j] / n + lambda * theta[j];
        }
        for (int r = 0; r < rows; r++) grad[bOff + r] /= n;
        return loss / n + 0.5 * lambda * penalty;
    }

    static double softplus(double z) { return z > 0 ? z + Math.log1p(Math.exp(-z)) : Math.log1p(Math.exp(z)); }

    static double sigmoid(double z) {
        if (z >= 0) return 1 / (1 + Math.exp(-z));
        double e = Math.exp(z);
        return e / (1 + e);
    }
}
