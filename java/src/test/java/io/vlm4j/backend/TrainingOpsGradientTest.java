package io.vlm4j.backend;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vlm4j.backend.reference.ReferenceMath;
import io.vlm4j.backend.reference.ReferenceMath.AttentionGeometry;
import java.util.Arrays;
import java.util.Random;
import java.util.function.DoubleSupplier;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

/**
 * The reference backward passes ({@link ReferenceMath}, behind {@code ReferenceBackend}) against central finite
 * differences of the reference forward, all in float64: for a loss L = Σ dy·f(inputs) with a random dy, each input
 * element is moved by ±h and (L(+h) − L(−h))/2h must equal the analytic gradient. With h = 1e-5 the truncation and
 * rounding errors of the differences are ~1e-10, so the tolerance can be tight; a wrong term of any gradient formula
 * is off by far more. The backends are then checked against these references in {@link TrainingOpsTest}.
 */
class TrainingOpsGradientTest {
    private static final double H = 1e-5;
    /** max|analytic − numeric| ≤ TOL · max(1, max|numeric|). */
    private static final double TOL = 1e-7;

    @AfterAll
    static void printErrors() { ConformanceSupport.printObservedErrors(); }

    private static final int[] ROWS = {1, 7, 33};
    private static final int[] DIMS = {5, 48, 77};

    private static double[] uniform(Random rng, int n, double lo, double hi) {
        double[] v = new double[n];
        for (int i = 0; i < n; i++) v[i] = lo + (hi - lo) * rng.nextDouble();
        return v;
    }

    private static double dot(double[] a, double[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) s += a[i] * b[i];
        return s;
    }

    /** Central differences of {@code loss} with respect to every element of {@code values} (moved and restored in place). */
    private static double[] numericGradient(double[] values, DoubleSupplier loss) {
        double[] grad = new double[values.length];
        for (int i = 0; i < values.length; i++) {
            double v = values[i];
            values[i] = v + H;
            double up = loss.getAsDouble();
            values[i] = v - H;
            double down = loss.getAsDouble();
            values[i] = v;
            grad[i] = (up - down) / (2 * H);
        }
        return grad;
    }

    private static void assertGradient(String op, String what, double[] analytic, double[] numeric) {
        double maxErr = 0, maxRef = 0;
        int worst = 0;
        for (int i = 0; i < numeric.length; i++) {
            double err = Math.abs(analytic[i] - numeric[i]);
            if (!(err <= maxErr)) {  // NaN counts as the worst
                maxErr = Double.isNaN(err) ? Double.POSITIVE_INFINITY : err;
                worst = i;
            }
            maxRef = Math.max(maxRef, Math.abs(numeric[i]));
        }
        double normwise = maxErr / Math.max(1, maxRef);
        ConformanceSupport.record("reference-fd", op, normwise);
        int w = worst;
        assertTrue(normwise <= TOL, () -> op + " " + what + ": analytic vs finite differences, normwise error " + normwise
                + " (worst at " + w + ": analytic " + analytic[w] + ", numeric " + numeric[w] + ")");
    }

    @Test
    void layerNormBackward() {
        Random rng = new Random(101);
        for (int rows : ROWS) {
            for (int dim : DIMS) {
                double[] x = uniform(rng, rows * dim, -2, 2);
                for (int i = 0; i < x.length; i++) x[i] += (i / dim) % 3 * 10;  // row means away from 0
                double[] gamma = uniform(rng, dim, 0.5, 1.5), beta = uniform(rng, dim, -1, 1);
                double[] dy = uniform(rng, rows * dim, -1, 1);
                double eps = 1e-5;
                DoubleSupplier loss = () -> dot(dy, ReferenceMath.layerNorm(x, dim, gamma, beta, eps));
                ReferenceMath.LayerNormGrads g = ReferenceMath.layerNormBackward(x, dim, gamma, eps, dy);
                String what = rows + "x" + dim;
                assertGradient("layerNormBackward dx", what, g.dx(), numericGradient(x, loss));
                assertGradient("layerNormBackward dGamma", what, g.dGamma(), numericGradient(gamma, loss));
                assertGradient("layerNormBackward dBeta", what, g.dBeta(), numericGradient(beta, loss));
            }
        }
    }

    @Test
    void activationDerivatives() {
        double[] x = new double[241];
        for (int i = 0; i < x.length; i++) x[i] = -6 + 0.05 * i + 0.0123;  // -5.99 .. 6.01, not hitting 0 exactly
        for (Activation act : Activation.values()) {
            double[] analytic = new double[x.length], numeric = new double[x.length];
            for (int i = 0; i < x.length; i++) {
                analytic[i] = act.derivative(x[i]);
                numeric[i] = (act.apply(x[i] + H) - act.apply(x[i] - H)) / (2 * H);
            }
            assertGradient("activationBackward " + act, "x in [-6, 6]", analytic, numeric);
        }
    }

    @Test
    void l2NormalizeBackward() {
        Random rng = new Random(102);
        for (int rows : ROWS) {
            for (int dim : DIMS) {
                double[] x = uniform(rng, rows * dim, -1, 1), dy = uniform(rng, rows * dim, -1, 1);
                double eps = 1e-12;
                if (rows > 1) {  // the last row shorter than a larger eps: there the divisor is the constant eps
                    eps = 0.05;
                    for (int i = (rows - 1) * dim; i < rows * dim; i++) x[i] *= 0.01 / Math.sqrt(dim);
                }
                double e = eps;
                DoubleSupplier loss = () -> dot(dy, ReferenceMath.l2Normalize(x, dim, e));
                assertGradient("l2NormalizeBackward", rows + "x" + dim + " eps " + eps,
                        ReferenceMath.l2NormalizeBackward(x, dim, eps, dy), numericGradient(x, loss));
            }
        }
    }

    @Test
    void attentionBackward() {
        Random rng = new Random(103);
        int batch = 2;
        for (int len : new int[] {1, 5, 13}) {
            for (int heads : new int[] {1, 3}) {
                for (int d : new int[] {4, 8}) {
                    int n = batch * len * heads * d;
                    double[] q = uniform(rng, n, -1.5, 1.5), k = uniform(rng, n, -1.5, 1.5), v = uniform(rng, n, -1, 1);
                    double[] dOut = uniform(rng, n, -1, 1);
                    // a quarter of the keys dropped, and the whole second sequence: its rows must get zero gradient
                    int[] mask = OpConformanceTest.keyMask(rng, batch, len);
                    for (boolean causal : new boolean[] {false, true}) {
                        for (boolean masked : new boolean[] {false, true}) {
                            AttentionGeometry g = new AttentionGeometry(batch, len, len, heads, d, causal, masked ? mask : null);
                            DoubleSupplier loss = () -> dot(dOut, ReferenceMath.attention(q, k, v, g));
                            double[] out = ReferenceMath.attention(q, k, v, g);
                            ReferenceMath.AttentionGrads grads = ReferenceMath.attentionBackward(q, k, v, out, dOut, g);
                            String what = "B=" + batch + " L=" + len + " H=" + heads + " d=" + d + (causal ? " causal" : "")
                                    + (masked ? " keyMask " + Arrays.toString(mask) : "");
                            assertGradient("attentionBackward dq", what, grads.dq(), numericGradient(q, loss));
                            assertGradient("attentionBackward dk", what, grads.dk(), numericGradient(k, loss));
                            assertGradient("attentionBackward dv", what, grads.dv(), numericGradient(v, loss));
                            if (masked) {  // the fully padded sequence: exactly zero, not merely small
                                int half = n / 2;
                                for (double[] grad : new double[][] {grads.dq(), grads.dk(), grads.dv()}) {
                                    for (int i = half; i < n; i++) {
                                        if (grad[i] != 0) throw new AssertionError(what + ": padded sequence has gradient " + grad[i]);
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
