package io.vlm4j.train;

import io.vlm4j.model.vit.SiglipLogits;

/**
 * The training losses of spec 07, on the host in double precision (their inputs are [B, C] logits or [B, E] embeddings:
 * small next to the towers, and spec 07 asks for at least FP32 here whatever the towers compute in). Each returns the
 * mean loss and writes its gradient.
 */
public final class Losses {
    private Losses() {}

    /**
     * Cross-entropy with mean reduction (PyTorch {@code cross_entropy}, optional {@code label_smoothing} ε: target
     * (1−ε)·onehot + ε/C): logits [B][C], labels in [0, C). Writes dLogits [B][C] = (softmax − target)/B.
     */
    public static double crossEntropy(double[][] logits, int[] labels, double smoothing, double[][] dLogits) {
        int b = logits.length;
        if (labels.length != b) throw new IllegalArgumentException("crossEntropy: " + b + " rows but " + labels.length + " labels");
        if (!(smoothing >= 0 && smoothing < 1)) throw new IllegalArgumentException("label smoothing must be in [0, 1), got " + smoothing);
        double total = 0;
        for (int i = 0; i < b; i++) {
            double[] z = logits[i];
            int c = z.length;
            if (labels[i] < 0 || labels[i] >= c) throw new IllegalArgumentException("crossEntropy: label " + labels[i] + " of row " + i + " is outside [0, " + c + ")");
            double lse = logSumExp(z);
            double loss = 0;
            for (int j = 0; j < c; j++) {
                double target = (j == labels[i] ? 1 - smoothing : 0) + smoothing / c;
                loss -= target * (z[j] - lse);
                dLogits[i][j] = (Math.exp(z[j] - lse) - target) / b;
            }
            total += loss;
        }
        return total / b;
    }

    /**
     * CLIP's symmetric InfoNCE (spec 07 §1) on L2-normalized u [B][E] (images) and v [B][E] (texts) with temperature
     * t (scale s = eᵗ): Z = s·U·Vᵀ, L = (CE(Z, arange) + CE(Zᵀ, arange))/2. Writes dU, dV [B][E] and returns {L, dL/dt}.
     */
    public static double[] clipContrastive(double[][] u, double[][] v, double t, double[][] dU, double[][] dV) {
        int b = u.length;
        if (v.length != b) throw new IllegalArgumentException("clipContrastive: " + b + " images but " + v.length + " texts");
        double s = Math.exp(t);
        double[][] cos = new double[b][b], z = new double[b][b];
        for (int i = 0; i < b; i++) {
            for (int j = 0; j < b; j++) {
                cos[i][j] = dot(u[i], v[j]);
                z[i][j] = s * cos[i][j];
            }
        }
        double[][] zt = new double[b][b];
        for (int i = 0; i < b; i++) for (int j = 0; j < b; j++) zt[j][i] = z[i][j];
        int[] diag = new int[b];
        for (int i = 0; i < b; i++) diag[i] = i;
        double[][] gRow = new double[b][b], gCol = new double[b][b];
        double loss = (crossEntropy(z, diag, 0, gRow) + crossEntropy(zt, diag, 0, gCol)) / 2;
        // G = dL/dZ = (P − I)/(2B) + (Q − I)/(2B)
        double dt = 0;
        for (int i = 0; i < b; i++) {
            java.util.Arrays.fill(dU[i], 0);
            java.util.Arrays.fill(dV[i], 0);
        }
        for (int i = 0; i < b; i++) {
            for (int j = 0; j < b; j++) {
                double g = (gRow[i][j] + gCol[j][i]) / 2;
                dt += g * z[i][j];                       // s·Σ G·cos
                for (int k = 0; k < u[i].length; k++) {
                    dU[i][k] += s * g * v[j][k];
                    dV[j][k] += s * g * u[i][k];
                }
            }
        }
        return new double[] {loss, dt};
    }

    /**
     * SigLIP's sigmoid loss (spec 07 §2; HF {@code SiglipModel} {@code return_loss}, big_vision) on L2-normalized u [B][E]
     * (images) and v [B][E] (texts) with temperature t (scale s = eᵗ) and bias b: Z = s·U·Vᵀ + b,
     * L = (1/B)·Σ_ij softplus(−y_ij·Z_ij) with y_ij = +1 when {@code groups[i] == groups[j]}, else −1. Groups 0..B−1 (every
     * pair but the diagonal negative) give HF's loss; equal groups make several pairs positive (images of one class and
     * their captions). Writes dU, dV [B][E] and returns {L, dL/dt, dL/db}.
     */
    public static double[] sigmoid(double[][] u, double[][] v, double t, double b, int[] groups, double[][] dU, double[][] dV) {
        int n = u.length;
        if (v.length != n || groups.length != n) {
            throw new IllegalArgumentException("sigmoid loss: " + n + " images, " + v.length + " texts and " + groups.length + " groups");
        }
        double s = Math.exp(t), loss = 0, dt = 0, db = 0;
        for (int i = 0; i < n; i++) {
            java.util.Arrays.fill(dU[i], 0);
            java.util.Arrays.fill(dV[i], 0);
        }
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < n; j++) {
                double cos = dot(u[i], v[j]), y = groups[i] == groups[j] ? 1 : -1;
                double m = -y * (s * cos + b);                  // softplus(m) = −log σ(y·Z), computed stably
                loss += Math.max(m, 0) + Math.log1p(Math.exp(-Math.abs(m)));
                double g = -y * SiglipLogits.sigmoid(m) / n;    // ∂L/∂Z_ij = −y·σ(−y·Z)/B
                db += g;
                dt += g * s * cos;
                for (int k = 0; k < u[i].length; k++) {
                    dU[i][k] += s * g * v[j][k];
                    dV[j][k] += s * g * u[i][k];
                }
            }
        }
        return new double[] {loss / n, dt, db};
    }

    static double logSumExp(double[] z) {
        double m = Double.NEGATIVE_INFINITY;
        for (double x : z) m = Math.max(m, x);
        if (m == Double.NEGATIVE_INFINITY) return m;
        double sum = 0;
        for (double x : z) sum += Math.exp(x - m);
        return m + Math.log(sum);
    }

    private static double dot(double[] a, double[] b) {
        if (a.length != b.length) throw new IllegalArgumentException("embedding sizes differ: " + a.length + " vs " + b.length);
        double d = 0;
        for (int k = 0; k < a.length; k++) d += a[k] * b[k];
        return d;
    }
}
