package io.vlm4j.eval;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.HashSet;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** The C sweep of spec 07 §4.3 on synthetic problems whose best C is known from a dense grid. */
class LinearProbeTest {
    /**
     * Three classes in 30 dims with 10 training samples per class. Dim 0 carries the class (means 0, 1, 2, noise σ 0.25);
     * dim 1 has the same mean shift under noise σ 8; dims 2–29 are noise, σ 0.5. Strong regularization gives the
     * centroid direction, which weighs dims 0 and 1 alike and drowns in dim 1's noise (near chance); weak
     * regularization fits the 28 noise dims (d ≈ n); in between the fit leans on dim 0. Tuned with sklearn so that the
     * validation accuracy peaks clearly around C ≈ 0.1–1 (0.4 at C = 1e-6, ~0.67 at the peak, ~0.6 at C = 1e6).
     */
    static LinearProbe.Split gaussians(Random r, int perClass) {
        int k = 3, d = 30;
        double[][] x = new double[k * perClass][d];
        int[] y = new int[k * perClass];
        for (int i = 0; i < x.length; i++) {
            y[i] = i % k;
            x[i][0] = y[i] + 0.25 * r.nextGaussian();
            x[i][1] = y[i] + 8 * r.nextGaussian();
            for (int j = 2; j < d; j++) x[i][j] = 0.5 * r.nextGaussian();
        }
        return new LinearProbe.Split(x, y);
    }

    @Test
    void sweepFindsTheBestCOfADenseGrid() {
        Random r = new Random(2024);
        LinearProbe.Split train = gaussians(r, 10), val = gaussians(r, 200), test = gaussians(r, 200);
        LinearProbe.Result res = LinearProbe.run(train, val, test, LinearProbe.Options.defaults());

        // The dense reference: every one of the 97 grid values, cold-started.
        double[] acc = new double[2 * LinearProbe.HALF_WIDTH + 1];
        double bestDense = 0;
        for (int g = -LinearProbe.HALF_WIDTH; g <= LinearProbe.HALF_WIDTH; g++) {
            LogisticRegression m = LogisticRegression.fit(train.x(), train.y(), LogisticRegression.Options.of(LinearProbe.gridC(g)));
            acc[g + LinearProbe.HALF_WIDTH] = m.score(val.x(), val.y());
            bestDense = Math.max(bestDense, acc[g + LinearProbe.HALF_WIDTH]);
        }
        StringBuilder curve = new StringBuilder("val accuracy over log10 C = -6 … 6 (every 4th grid point):");
        for (int g = 0; g < acc.length; g += 4) curve.append(String.format(" %.3f", acc[g]));
        System.out.println(curve);
        System.out.print(res.toTable());

        // The problem has a clear interior optimum: both ends are far worse.
        assertTrue(acc[0] < bestDense - 0.15, "C = 1e-6 is near chance");
        assertTrue(acc[acc.length - 1] < bestDense - 0.03, "C = 1e6 overfits");
        // The search lands on (or within half a percent of) the dense optimum, in the interior.
        assertTrue(res.bestValAccuracy() >= bestDense - 0.005, "sweep " + res.bestValAccuracy() + " vs dense " + bestDense);
        assertTrue(res.bestC() > 1e-3 && res.bestC() < 1e2, "best C " + res.bestC());
        assertTrue(res.test().accuracy() > bestDense - 0.1, "test accuracy " + res.test().accuracy());

        // Path: the 7 starting values, then at most 8 more; the final resolution is 1/8 decade around the best.
        assertTrue(res.path().size() <= 15 && res.path().size() >= 9, "fits " + res.path().size());
        Set<Long> tried = new HashSet<>();
        for (LinearProbe.SweepPoint p : res.path()) tried.add(Math.round(Math.log10(p.c()) * 8));
        for (long g = -48; g <= 48; g += 16) assertTrue(tried.contains(g), "start value 1e" + g / 8);
        long best = Math.round(Math.log10(res.bestC()) * 8);
        assertTrue(tried.contains(best - 1) && tried.contains(best + 1), "neighbours of the best at 1/8 decade: " + tried);
        for (LinearProbe.SweepPoint p : res.path()) assertTrue(p.converged(), "C " + p.c());
        assertTrue(res.warnings().isEmpty(), res.warnings().toString());
        assertEquals(0, res.refitIterations());
    }

    @Test
    void warmStartsSaveIterationsAndAgreeWithColdStarts() {
        Random r = new Random(7);
        LinearProbe.Split train = gaussians(r, 30), val = gaussians(r, 100), test = gaussians(r, 100);
        LinearProbe.Result warm = LinearProbe.run(train, val, test, LinearProbe.Options.defaults());
        LinearProbe.Result cold = LinearProbe.run(train, val, test, LinearProbe.Options.defaults().withWarmStart(false));
        int warmIters = warm.path().stream().mapToInt(LinearProbe.SweepPoint::iterations).sum();
        int coldIters = cold.path().stream().mapToInt(LinearProbe.SweepPoint::iterations).sum();
        System.out.printf("sweep iterations: warm %d, cold %d%n", warmIters, coldIters);
        assertTrue(warmIters < coldIters, "warm " + warmIters + " vs cold " + coldIters);
        // Warm and cold fits differ only within the solver tolerance: the same validation accuracy at every C both
        // tried, up to a sample or two near a decision boundary (which may move the choice along a plateau). Above
        // C ≈ 10 the objective is so flat (nearly separable data, tiny penalty) that tol 1e-4 leaves the boundary
        // loose by more, for sklearn as here.
        double sample = 1.0 / val.y().length;
        for (LinearProbe.SweepPoint w : warm.path()) {
            for (LinearProbe.SweepPoint c : cold.path()) {
                if (w.c() == c.c() && c.c() <= 10) assertEquals(c.valAccuracy(), w.valAccuracy(), 2 * sample + 1e-12, "C " + c.c());
            }
        }
        assertEquals(cold.bestValAccuracy(), warm.bestValAccuracy(), 2 * sample + 1e-12);
    }

    @Test
    void refitOnTrainPlusValidation() throws Exception {
        Random r = new Random(9);
        LinearProbe.Split train = gaussians(r, 10), val = gaussians(r, 20), test = gaussians(r, 50);
        LinearProbe.Result res = LinearProbe.run(train, val, test, LinearProbe.Options.defaults().withRefitOnTrainPlusVal(true));
        assertTrue(res.refitOnTrainPlusVal());
        assertTrue(res.refitIterations() > 0);
        int n = train.y().length + val.y().length;
        double[][] x = new double[n][];
        int[] y = new int[n];
        for (int i = 0; i < n; i++) {
            boolean t = i < train.y().length;
            int j = t ? i : i - train.y().length;
            x[i] = t ? train.x()[j] : val.x()[j];
            y[i] = t ? train.y()[j] : val.y()[j];
        }
        // The final model is the fit on train + val at the chosen C: the objective of a tight direct fit, up to what
        // tol 1e-4 leaves.
        LogisticRegression direct = LogisticRegression.fit(x, y, new LogisticRegression.Options(res.bestC(), 1e-10, 1000));
        LogisticRegression refit = res.model();
        double jRefit = LogisticRegression.objective(x, y, 3, res.bestC(), refit.coefficients(), refit.intercepts());
        assertTrue(refit.fitInfo().converged());
        double gap = jRefit - direct.fitInfo().objective();
        assertTrue(gap >= -1e-12 && gap < 1e-4, "J(refit) - J(tight fit) = " + gap);
        assertEquals(refit.fitInfo().objective(), jRefit, 1e-15);
        JsonNode json = new ObjectMapper().readTree(res.toJson());
        assertEquals(res.bestC(), json.get("bestC").asDouble());
        assertEquals(res.path().size(), json.get("path").size());
        assertTrue(json.get("test").get("accuracy").isNumber());
        assertFalse(json.has("model"));
    }

    @Test
    void rejectsLabelsUnknownToTrain() {
        double[][] x = {{1, 0}, {0, 1}};
        LinearProbe.Split train = new LinearProbe.Split(x, new int[] {0, 1});
        LinearProbe.Split other = new LinearProbe.Split(x, new int[] {0, 2});
        assertThrows(IllegalArgumentException.class, () -> LinearProbe.run(train, other, train, LinearProbe.Options.defaults()));
        assertThrows(IllegalArgumentException.class, () -> LinearProbe.run(train, train, other, LinearProbe.Options.defaults()));
        assertThrows(IllegalArgumentException.class, () -> new LinearProbe.Split(x, new int[] {0}));
        assertThrows(IllegalArgumentException.class, () -> LinearProbe.run(train, new LinearProbe.Split(new double[][] {{1, 2, 3}}, new int[] {0}),
                train, LinearProbe.Options.defaults()));
    }
}
