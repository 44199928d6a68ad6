package io.vlm4j.eval;

/** Small float64 helpers shared by the evaluation classes, with the checks done at their public edges. */
final class Matrices {
    private Matrices() {}

    /** Widens a float matrix to float64 (each row copied). */
    static double[][] toDouble(float[][] m) {
        if (m == null) throw new IllegalArgumentException("matrix is null");
        double[][] out = new double[m.length][];
        for (int i = 0; i < m.length; i++) {
            if (m[i] == null) throw new IllegalArgumentException("matrix row " + i + " is null");
            out[i] = new double[m[i].length];
            for (int j = 0; j < m[i].length; j++) out[i][j] = m[i][j];
        }
        return out;
    }

    static double[][] copy(double[][] m) {
        double[][] out = new double[m.length][];
        for (int i = 0; i < m.length; i++) out[i] = m[i].clone();
        return out;
    }

    /** Checks a non-empty rectangular matrix with at least one column; returns the column count. */
    static int requireMatrix(String who, String name, double[][] m) {
        if (m == null || m.length == 0) throw new IllegalArgumentException(who + ": " + name + " has no rows");
        if (m[0] == null || m[0].length == 0) throw new IllegalArgumentException(who + ": " + name + " has no columns");
        int cols = m[0].length;
        for (int i = 1; i < m.length; i++) {
            if (m[i] == null || m[i].length != cols) {
                throw new IllegalArgumentException(who + ": " + name + " is ragged: row 0 has " + cols + " columns, row " + i + " "
                        + (m[i] == null ? "is null" : "has " + m[i].length));
            }
        }
        return cols;
    }

    static void requireFinite(String who, String name, double[][] m) {
        for (int i = 0; i < m.length; i++) {
            for (int j = 0; j < m[i].length; j++) {
                if (!Double.isFinite(m[i][j])) throw new IllegalArgumentException(who + ": " + name + "[" + i + "][" + j + "] is " + m[i][j]);
            }
        }
    }

    /** Index of the largest entry; the first one on exact ties (numpy's argmax). NaN never wins. */
    static int argmax(double[] v) {
        int best = 0;
        for (int i = 1; i < v.length; i++) if (v[i] > v[best] || Double.isNaN(v[best])) best = i;
        return best;
    }

    static double[] softmax(double[] z) {
        double max = Double.NEGATIVE_INFINITY;
        for (double v : z) max = Math.max(max, v);
        double sum = 0;
        double[] p = new double[z.length];
        for (int i = 0; i < z.length; i++) sum += p[i] = Math.exp(z[i] - max);
        for (int i = 0; i < z.length; i++) p[i] /= sum;
        return p;
    }

    /** v/‖v‖₂, in a new array; a zero or non-finite vector is an error naming {@code what}. */
    static double[] normalized(double[] v, String what) {
        double ss = 0;
        for (double x : v) ss += x * x;
        double norm = Math.sqrt(ss);
        if (!(norm > 0) || !Double.isFinite(norm)) throw new IllegalArgumentException(what + " has norm " + norm + " and cannot be normalized");
        double[] out = new double[v.length];
        for (int i = 0; i < v.length; i++) out[i] = v[i] / norm;
        return out;
    }
}
