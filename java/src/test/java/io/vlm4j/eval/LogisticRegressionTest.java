package io.vlm4j.eval;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.Locale;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * LogisticRegression against scikit-learn 1.9.1 (eval/logistic.json, models/scripts/make_eval_metric_fixtures.py)
 * and its gradient against finite differences.
 */
class LogisticRegressionTest {
    static double[][] randomMatrix(Random r, int n, int d, double scale) {
        double[][] m = new double[n][d];
        for (double[] row : m) for (int j = 0; j < d; j++) row[j] = scale * r.nextGaussian();
        return m;
    }

    /** Central differences in float64: agreement to ~1e-8 relative shows the gradient is the objective's. */
    @Test
    void gradientMatchesFiniteDifferences() {
        Random r = new Random(11);
        for (int k : new int[] {2, 3, 5}) {
            int n = 40, d = 6;
            double[][] x = randomMatrix(r, n, d, 2);
            int[] y = new int[n];
            for (int i = 0; i < n; i++) y[i] = i % k;
            LogisticLoss loss = new LogisticLoss(x, y, k, 0.37);
            double[] theta = new double[loss.parameterCount()];
            for (int i = 0; i < theta.length; i++) theta[i] = r.nextGaussian();
            double[] g = new double[theta.length], scratch = new double[theta.length];
            loss.valueAndGradient(theta, g);
            double h = 1e-5, worst = 0;
            for (int i = 0; i < theta.length; i++) {
                double[] tp = theta.clone(), tm = theta.clone();
                tp[i] += h;
                tm[i] -= h;
                double fd = (loss.valueAndGradient(tp, scratch) - loss.valueAndGradient(tm, scratch)) / (2 * h);
                worst = Math.max(worst, Math.abs(fd - g[i]) / Math.max(1, Math.abs(g[i])));
            }
            assertTrue(worst < 1e-8, "K=" + k + ": worst relative gradient error " + worst);
        }
    }

    /** The objective written out directly for a tiny case: one sample per class, K = 3, and K = 2 (logistic form). */
    @Test
    void objectiveByHand() {
        double[][] x = {{1, 0}, {0, 2}, {1, 1}};
        int[] y = {0, 1, 2};
        double[][] w = {{1, 0}, {0, 1}, {0, 0}};
        double[] b = {0, 0, 0.5};
        double ce = 0;
        double[][] z = {{1, 0, 0.5}, {0, 2, 0.5}, {1, 1, 0.5}};
        for (int i = 0; i < 3; i++) ce += Math.log(Math.exp(z[i][0]) + Math.exp(z[i][1]) + Math.exp(z[i][2])) - z[i][y[i]];
        double c = 2;
        double want = ce / 3 + (1 + 1) / (2 * c * 3);
        assertEquals(want, LogisticRegression.objective(x, y, 3, c, w, b), 1e-15);

        int[] yb = {0, 1, 1};
        double[][] wb = {{0.5, -1}};
        double[] bb = {0.25};
        double want2 = 0;
        for (int i = 0; i < 3; i++) {
            double zi = 0.5 * x[i][0] - x[i][1] + 0.25;
            want2 += Math.log1p(Math.exp(zi)) - yb[i] * zi;
        }
        want2 = want2 / 3 + (0.25 + 1) / (2 * c * 3);
        assertEquals(want2, LogisticRegression.objective(x, yb, 2, c, wb, bb), 1e-15);
    }

    @Test
    void matchesScikitLearn() throws Exception {
        JsonNode fx = EvalFixtures.read("logistic.json");
        double worstDecision = 0, worstProba = 0, worstCoefRel = 0, worstObjective = Double.NEGATIVE_INFINITY;
        StringBuilder report = new StringBuilder();
        for (JsonNode set : fx.get("datasets")) {
            double[][] xtr = EvalFixtures.matrix(set.get("x_train")), xte = EvalFixtures.matrix(set.get("x_test"));
            int[] ytr = EvalFixtures.ints(set.get("y_train")), yte = EvalFixtures.ints(set.get("y_test"));
            for (JsonNode fit : set.get("fits")) {
                double c = fit.get("C").asDouble(), tol = fit.get("tol").asDouble();
                String what = set.get("name").asText() + " C=" + c + " tol=" + tol;
                LogisticRegression m = LogisticRegression.fit(xtr, ytr, new LogisticRegression.Options(c, tol, 1000));
                assertTrue(m.fitInfo().converged(), what + ": " + m.fitInfo());
                double[][] skCoef = EvalFixtures.matrix(fit.get("coef"));
                double[] skIntercept = EvalFixtures.vector(fit.get("intercept"));
                int k = m.classes().length;
                double skObjective = LogisticRegression.objective(xtr, ytr, k, c, skCoef, skIntercept);
                assertEquals(fit.get("objective").asDouble(), skObjective, 1e-12, what + ": J at sklearn's solution, numpy vs Java");
                double objGap = m.fitInfo().objective() - skObjective;
                report.append(String.format(Locale.ROOT, "%-28s iterations %3d (sklearn %3d)  J %.12f  J - J_sklearn %+.2e%n",
                        what, m.fitInfo().iterations(), fit.get("n_iter").asInt(), m.fitInfo().objective(), objGap));
                // The same algorithm as SciPy's L-BFGS-B takes the same path: equal iteration counts (so far exactly).
                assertTrue(Math.abs(m.fitInfo().iterations() - fit.get("n_iter").asInt()) <= 2, what + ": iterations");
                if (tol > 1e-5) {
                    // Default tolerance: both stop early; the objectives agree to what tol 1e-4 buys.
                    assertTrue(Math.abs(objGap) < 1e-6, what + ": J - J_sklearn = " + objGap);
                    continue;
                }
                worstObjective = Math.max(worstObjective, objGap);
                assertTrue(objGap <= 1e-8, what + ": J - J_sklearn = " + objGap);

                double[][] coef = m.coefficients();
                double[] intercept = m.intercepts();
                double scale = 0;
                for (double[] row : skCoef) for (double v : row) scale = Math.max(scale, Math.abs(v));
                for (double v : skIntercept) scale = Math.max(scale, Math.abs(v));
                for (int r = 0; r < coef.length; r++) {
                    for (int j = 0; j < coef[r].length; j++) worstCoefRel = Math.max(worstCoefRel, Math.abs(coef[r][j] - skCoef[r][j]) / scale);
                    worstCoefRel = Math.max(worstCoefRel, Math.abs(intercept[r] - skIntercept[r]) / scale);
                }
                assertTrue(worstCoefRel < 1e-3, what + ": coefficients differ by " + worstCoefRel + " relative");

                double[][] dec = m.decisionFunction(xte), skDec = EvalFixtures.matrix(fit.get("decision_function"));
                double[][] p = m.predictProba(xte), skP = EvalFixtures.matrix(fit.get("predict_proba"));
                for (int i = 0; i < dec.length; i++) {
                    for (int j = 0; j < dec[i].length; j++) worstDecision = Math.max(worstDecision, Math.abs(dec[i][j] - skDec[i][j]));
                    for (int j = 0; j < p[i].length; j++) worstProba = Math.max(worstProba, Math.abs(p[i][j] - skP[i][j]));
                }
                assertTrue(worstDecision < 1e-4, what + ": decision values differ by " + worstDecision);
                assertTrue(worstProba < 1e-4, what + ": probabilities differ by " + worstProba);
                assertArrayEquals(EvalFixtures.ints(fit.get("predict")), m.predict(xte), what);
                assertEquals(fit.get("score").asDouble(), m.score(xte, yte), 0, what);
                assertEquals(fit.get("train_score").asDouble(), m.score(xtr, ytr), 0, what);
            }
        }
        System.out.print(report);
        System.out.printf(Locale.ROOT, "sklearn agreement (tol 1e-6): max |decision diff| %.2e, max |proba diff| %.2e, "
                + "max coef diff / max |coef| %.2e, max J - J_sklearn %+.2e%n", worstDecision, worstProba, worstCoefRel, worstObjective);
    }

    @Test
    void warmStartFromTheSolutionStopsAtOnce() {
        Random r = new Random(3);
        double[][] x = randomMatrix(r, 120, 5, 1);
        int[] y = new int[120];
        for (int i = 0; i < 120; i++) y[i] = (x[i][0] + 0.5 * x[i][1] > 0 ? 1 : 0) + (x[i][2] > 0.8 ? 1 : 0);
        LogisticRegression cold = LogisticRegression.fit(x, y, LogisticRegression.Options.of(1).withC(1));
        LogisticRegression again = LogisticRegression.fit(x, y, LogisticRegression.Options.of(1), cold);
        assertTrue(again.fitInfo().iterations() <= 1, "iterations from the optimum: " + again.fitInfo().iterations());
        // Warm start from another C reaches the same optimum as a cold start at that C.
        LogisticRegression coldB = LogisticRegression.fit(x, y, new LogisticRegression.Options(10, 1e-8, 1000));
        LogisticRegression warmB = LogisticRegression.fit(x, y, new LogisticRegression.Options(10, 1e-8, 1000), cold);
        assertTrue(warmB.fitInfo().iterations() < coldB.fitInfo().iterations(),
                "warm " + warmB.fitInfo().iterations() + " vs cold " + coldB.fitInfo().iterations());
        double[][] a = coldB.coefficients(), b = warmB.coefficients();
        for (int c = 0; c < a.length; c++) for (int j = 0; j < a[c].length; j++) assertEquals(a[c][j], b[c][j], 1e-5);
    }

    @Test
    void reportsNonConvergence() {
        Random r = new Random(5);
        double[][] x = randomMatrix(r, 60, 4, 3);
        int[] y = new int[60];
        for (int i = 0; i < 60; i++) y[i] = i % 3;
        LogisticRegression m = LogisticRegression.fit(x, y, new LogisticRegression.Options(1, 1e-10, 2));
        assertFalse(m.fitInfo().converged());
        assertEquals(Lbfgs.Stop.MAX_ITERATIONS, m.fitInfo().stop());
        assertEquals(2, m.fitInfo().iterations());
        assertTrue(m.fitInfo().warning().orElseThrow().contains("did not converge"), m.fitInfo().warning().toString());
    }

    @Test
    void arbitraryLabelValuesAndBinaryShapes() {
        double[][] x = {{-2}, {-1}, {-0.5}, {0.4}, {1}, {2}};
        int[] y = {7, 7, 3, 7, 3, 3};
        LogisticRegression m = LogisticRegression.fit(x, y, LogisticRegression.Options.of(1));
        assertArrayEquals(new int[] {3, 7}, m.classes());
        assertEquals(1, m.coefficients().length);
        assertEquals(1, m.intercepts().length);
        assertTrue(m.coefficients()[0][0] < 0, "class 7 (the positive class) is on the left");
        double[][] p = m.predictProba(x);
        for (double[] row : p) assertEquals(1, row[0] + row[1], 1e-15);
        assertEquals(7, m.predict(new double[][] {{-5}})[0]);
        assertEquals(3, m.predict(new float[][] {{5f}})[0]);
    }

    @Test
    void rejectsBadInput() {
        double[][] x = {{1, 2}, {3, 4}};
        assertThrows(IllegalArgumentException.class, () -> LogisticRegression.fit(x, new int[] {1, 1}, LogisticRegression.Options.of(1)));
        assertThrows(IllegalArgumentException.class, () -> LogisticRegression.fit(x, new int[] {1}, LogisticRegression.Options.of(1)));
        assertThrows(IllegalArgumentException.class, () -> LogisticRegression.fit(new double[][] {{1, 2}, {3}}, new int[] {0, 1},
                LogisticRegression.Options.of(1)));
        assertThrows(IllegalArgumentException.class, () -> LogisticRegression.fit(new double[][] {{1, Double.NaN}, {3, 4}},
                new int[] {0, 1}, LogisticRegression.Options.of(1)));
        assertThrows(IllegalArgumentException.class, () -> LogisticRegression.Options.of(0));
        LogisticRegression m = LogisticRegression.fit(x, new int[] {0, 1}, LogisticRegression.Options.of(1));
        assertThrows(IllegalArgumentException.class, () -> m.predict(new double[][] {{1, 2, 3}}));
    }
}
