package io.vlm4j.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vlm4j.io.WeightStore;
import io.vlm4j.tensor.Tensor;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * {@link Losses#sigmoid}, SigLIP's loss (spec 07 §2): against HF {@code SiglipModel}'s {@code return_loss} and its autograd
 * gradients (fixture of models/scripts/make_siglip_lora_fixtures.py), and against float64 central finite differences,
 * also with several positives per row.
 */
class SiglipLossTest {

    static double[][] rows(float[] flat, int n) {
        int e = flat.length / n;
        double[][] m = new double[n][e];
        for (int i = 0; i < n; i++) for (int k = 0; k < e; k++) m[i][k] = flat[i * e + k];
        return m;
    }

    static double norm(double[] x) {
        double s = 0;
        for (double v : x) s += v * v;
        return Math.sqrt(s);
    }

    static double[][] normalized(double[][] f) {
        double[][] u = new double[f.length][];
        for (int i = 0; i < f.length; i++) {
            double n = norm(f[i]);
            u[i] = new double[f[i].length];
            for (int k = 0; k < f[i].length; k++) u[i][k] = f[i][k] / n;
        }
        return u;
    }

    /** ∂L/∂f from ∂L/∂u through u = f/‖f‖: (du − ⟨du, u⟩·u)/‖f‖. */
    static double[][] throughNormalization(double[][] f, double[][] u, double[][] du) {
        double[][] df = new double[f.length][];
        for (int i = 0; i < f.length; i++) {
            double dot = 0, n = norm(f[i]);
            for (int k = 0; k < u[i].length; k++) dot += du[i][k] * u[i][k];
            df[i] = new double[f[i].length];
            for (int k = 0; k < f[i].length; k++) df[i][k] = (du[i][k] - dot * u[i][k]) / n;
        }
        return df;
    }

    static void assertRowsClose(float[] expected, double[][] actual, double tol, String what) {
        double max = 0, scale = 1e-12;
        int e = actual[0].length;
        for (int i = 0; i < expected.length; i++) {
            max = Math.max(max, Math.abs(expected[i] - actual[i / e][i % e]));
            scale = Math.max(scale, Math.abs(expected[i]));
        }
        System.out.printf("sigmoid loss vs HF, %s: max |diff| / max|ref| = %.2e%n", what, max / scale);
        assertTrue(max <= tol * scale, what + ": max |diff| " + max + " > " + tol + " * " + scale);
    }

    @Test
    void matchesHfReturnLossAndItsGradients() throws Exception {
        Path file = Paths.get(SiglipLossTest.class.getResource("/siglip_lora/sigmoid_loss.safetensors").toURI());
        try (WeightStore w = WeightStore.open(file)) {
            float[] img = load(w, "image_embeds"), txt = load(w, "text_embeds");
            int n = 5;
            double t = load(w, "logit_scale")[0], b = load(w, "logit_bias")[0];
            double[][] f = rows(img, n), g = rows(txt, n), u = normalized(f), v = normalized(g);
            double[][] du = new double[n][u[0].length], dv = new double[n][v[0].length];
            double[] r = Losses.sigmoid(u, v, t, b, new int[] {0, 1, 2, 3, 4}, du, dv);
            assertEquals(load(w, "loss")[0], r[0], 1e-6 * Math.abs(r[0]), "loss");
            assertEquals(load(w, "grad_logit_scale")[0], r[1], 1e-6, "d loss / d logit_scale");
            assertEquals(load(w, "grad_logit_bias")[0], r[2], 1e-6, "d loss / d logit_bias");
            assertRowsClose(load(w, "grad_image_embeds"), throughNormalization(f, u, du), 1e-5, "d loss / d image embeds");
            assertRowsClose(load(w, "grad_text_embeds"), throughNormalization(g, v, dv), 1e-5, "d loss / d text embeds");
        }
    }

    private static float[] load(WeightStore w, String name) throws Exception {
        try (Tensor t = w.load(name)) {
            return t.toFloatArray();
        }
    }

    @Test
    void gradientsMatchFiniteDifferencesWithSharedClasses() {
        SplittableRandom r = new SplittableRandom(3);
        int n = 6, e = 5;
        int[] groups = {0, 1, 0, 2, 1, 0};  // images 0, 2, 5 share a class: their captions are positives for each other
        double[][] u = new double[n][e], v = new double[n][e];
        for (double[][] m : new double[][][] {u, v}) for (double[] row : m) for (int k = 0; k < e; k++) row[k] = r.nextGaussian();
        double t = 1.7, b = -3.1;
        double[][] du = new double[n][e], dv = new double[n][e];
        double[] res = Losses.sigmoid(u, v, t, b, groups, du, dv);
        double h = 1e-6, worst = 0;
        for (int which = 0; which < 2; which++) {
            double[][] x = which == 0 ? u : v, dx = which == 0 ? du : dv;
            for (int i = 0; i < n; i++) {
                for (int k = 0; k < e; k++) {
                    double x0 = x[i][k];
                    x[i][k] = x0 + h;
                    double lp = Losses.sigmoid(u, v, t, b, groups, new double[n][e], new double[n][e])[0];
                    x[i][k] = x0 - h;
                    double lm = Losses.sigmoid(u, v, t, b, groups, new double[n][e], new double[n][e])[0];
                    x[i][k] = x0;
                    double fd = (lp - lm) / (2 * h);
                    worst = Math.max(worst, Math.abs(fd - dx[i][k]));
                    assertEquals(fd, dx[i][k], 1e-7 * Math.max(1, Math.abs(fd)), (which == 0 ? "u" : "v") + "[" + i + "][" + k + "]");
                }
            }
        }
        double dt = (Losses.sigmoid(u, v, t + h, b, groups, du, dv)[0] - Losses.sigmoid(u, v, t - h, b, groups, du, dv)[0]) / (2 * h);
        double db = (Losses.sigmoid(u, v, t, b + h, groups, du, dv)[0] - Losses.sigmoid(u, v, t, b - h, groups, du, dv)[0]) / (2 * h);
        assertEquals(dt, res[1], 1e-7 * Math.max(1, Math.abs(dt)), "d loss / d t");
        assertEquals(db, res[2], 1e-7 * Math.max(1, Math.abs(db)), "d loss / d b");
        System.out.printf("sigmoid loss gradients vs finite differences: worst |diff| = %.2e%n", worst);
    }

    @Test
    void labelsFollowTheGroupsAndLargeLogitsStayFinite() {
        double[][] u = {{1, 0}, {0, 1}}, v = {{1, 0}, {0, 1}};
        double[][] du = new double[2][2], dv = new double[2][2];
        // s = e^t = 1, b = 0.5: Z = I + 0.5; arange: the diagonal positive, the rest negative; mean over 2 rows
        double sp = Math.log1p(Math.exp(-1.5)) * 2;
        assertEquals((sp + 2 * Math.log1p(Math.exp(0.5))) / 2, Losses.sigmoid(u, v, 0, 0.5, new int[] {0, 1}, du, dv)[0], 1e-12);
        // one group: every pair positive
        assertEquals((sp + 2 * Math.log1p(Math.exp(-0.5))) / 2, Losses.sigmoid(u, v, 0, 0.5, new int[] {7, 7}, du, dv)[0], 1e-12);
        double[] big = Losses.sigmoid(u, v, 10, 0, new int[] {0, 1}, du, dv);  // |Z| up to e^10: no overflow
        assertTrue(Double.isFinite(big[0]) && Double.isFinite(big[1]) && Double.isFinite(big[2]), java.util.Arrays.toString(big));
        assertThrows(IllegalArgumentException.class, () -> Losses.sigmoid(u, v, 0, 0, new int[] {0}, new double[2][2], new double[2][2]));
    }
}
