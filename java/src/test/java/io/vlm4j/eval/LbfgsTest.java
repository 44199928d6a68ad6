package io.vlm4j.eval;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** The optimizer on its own: classic test functions with known minima, iteration counts, stopping rules. */
class LbfgsTest {
    /** Rosenbrock in n dims (the chained form): minimum 0 at (1, …, 1). */
    static double rosenbrock(double[] x, double[] g) {
        java.util.Arrays.fill(g, 0);
        double f = 0;
        for (int i = 0; i + 1 < x.length; i++) {
            double a = x[i + 1] - x[i] * x[i], b = 1 - x[i];
            f += 100 * a * a + b * b;
            g[i] += -400 * a * x[i] - 2 * b;
            g[i + 1] += 200 * a;
        }
        return f;
    }

    @Test
    void rosenbrock2dFromTheClassicStart() {
        int[] evals = {0};
        Lbfgs.Result r = Lbfgs.minimize((x, g) -> {
            evals[0]++;
            return rosenbrock(x, g);
        }, new double[] {-1.2, 1}, new Lbfgs.Options(1e-8, 0, 1000, 10, 50));
        assertTrue(r.converged(), r.toString());
        assertEquals(Lbfgs.Stop.GRADIENT_TOLERANCE, r.stop());
        assertEquals(1, r.x()[0], 1e-6);
        assertEquals(1, r.x()[1], 1e-6);
        assertTrue(r.value() < 1e-12, "f = " + r.value());
        assertEquals(evals[0], r.evaluations());
        // SciPy 1.17 L-BFGS-B (gtol 1e-8, ftol 0, maxls 50) takes 38 iterations and 46 evaluations from here; the same
        // algorithm in another summation order lands within a few.
        System.out.printf("rosenbrock 2-d: %d iterations, %d evaluations (SciPy L-BFGS-B: 38, 46)%n", r.iterations(), r.evaluations());
        assertTrue(Math.abs(r.iterations() - 38) <= 2, "iterations " + r.iterations());
        assertTrue(r.evaluations() <= 60, "evaluations " + r.evaluations());
    }

    @Test
    void rosenbrock10d() {
        double[] x0 = new double[10];
        for (int i = 0; i < 10; i++) x0[i] = i % 2 == 0 ? -1.2 : 1;
        Lbfgs.Result r = Lbfgs.minimize(LbfgsTest::rosenbrock, x0, new Lbfgs.Options(1e-7, 0, 1000, 10, 50));
        assertTrue(r.converged(), r.toString());
        for (double v : r.x()) assertEquals(1, v, 1e-5);
        // SciPy L-BFGS-B (gtol 1e-7, ftol 0): 77 iterations, 95 evaluations.
        System.out.printf("rosenbrock 10-d: %d iterations, %d evaluations (SciPy L-BFGS-B: 77, 95)%n", r.iterations(), r.evaluations());
        assertTrue(Math.abs(r.iterations() - 77) <= 2, "iterations " + r.iterations());
    }

    /** f = ½ xᵀAx − bᵀx with A = diag(1..n): L-BFGS reaches the solution A⁻¹b in at most ~n iterations. */
    @Test
    void convexQuadratic() {
        int n = 20;
        double[] b = new double[n];
        for (int i = 0; i < n; i++) b[i] = Math.sin(i + 1);
        Lbfgs.Objective q = (x, g) -> {
            double f = 0;
            for (int i = 0; i < n; i++) {
                g[i] = (i + 1) * x[i] - b[i];
                f += 0.5 * (i + 1) * x[i] * x[i] - b[i] * x[i];
            }
            return f;
        };
        // gtol 1e-7 bounds each |x_i − x*_i| by 1e-7/i (much tighter and f, ~1, no longer resolves the change).
        Lbfgs.Result r = Lbfgs.minimize(q, new double[n], new Lbfgs.Options(1e-7, 0, 1000, 10, 50));
        assertEquals(Lbfgs.Stop.GRADIENT_TOLERANCE, r.stop(), r.toString());
        for (int i = 0; i < n; i++) assertEquals(b[i] / (i + 1), r.x()[i], 1e-7);
        assertTrue(r.iterations() <= 40, "iterations " + r.iterations());

        // With memory >= n and exact line searches L-BFGS is conjugate gradients: about n steps, far fewer than
        // steepest descent (hundreds at condition number 20).
        Lbfgs.Result full = Lbfgs.minimize(q, new double[n], new Lbfgs.Options(1e-7, 0, 1000, n, 50));
        assertEquals(Lbfgs.Stop.GRADIENT_TOLERANCE, full.stop(), full.toString());
        assertTrue(full.iterations() <= n + 5, "iterations " + full.iterations());
        System.out.printf("quadratic n=20: %d iterations (m=10), %d (m=20)%n", r.iterations(), full.iterations());
    }

    @Test
    void stopsAtTheIterationLimitAndSaysSo() {
        Lbfgs.Result r = Lbfgs.minimize(LbfgsTest::rosenbrock, new double[] {-1.2, 1}, new Lbfgs.Options(1e-12, 0, 5, 10, 50));
        assertFalse(r.converged());
        assertEquals(Lbfgs.Stop.MAX_ITERATIONS, r.stop());
        assertEquals(5, r.iterations());
    }

    @Test
    void relativeReductionStop() {
        // gtol 0 can never hold; ftol ends the run once f stops moving.
        Lbfgs.Result r = Lbfgs.minimize(LbfgsTest::rosenbrock, new double[] {-1.2, 1}, new Lbfgs.Options(0, 1e-10, 1000, 10, 50));
        assertTrue(r.converged(), r.toString());
        assertEquals(Lbfgs.Stop.RELATIVE_REDUCTION, r.stop());
        assertTrue(r.value() < 1e-8, "f = " + r.value());
    }

    @Test
    void alreadyOptimalStartTakesNoStep() {
        Lbfgs.Result r = Lbfgs.minimize(LbfgsTest::rosenbrock, new double[] {1, 1}, Lbfgs.Options.sklearn(1e-4, 100));
        assertEquals(0, r.iterations());
        assertEquals(1, r.evaluations());
        assertTrue(r.converged());
    }

    /** The line search alone on φ(a) = (a − 3)² − 9 from a = 1: strong Wolfe at the end. */
    @Test
    void moreThuenteSatisfiesStrongWolfe() {
        double[][] cases = {{1}, {10}, {100}, {1e-3}};
        for (double[] c : cases) {
            MoreThuente ls = new MoreThuente(c[0], 0, -6, 1e-3, 0.1, 0.1, 0, 1e10);
            MoreThuente.Status st = MoreThuente.Status.EVALUATE;
            double f = 0, g = 0;
            int evals = 0;
            while (st == MoreThuente.Status.EVALUATE && evals < 50) {
                double a = ls.step();
                f = (a - 3) * (a - 3) - 9;
                g = 2 * (a - 3);
                st = ls.next(f, g);
                evals++;
            }
            assertEquals(MoreThuente.Status.CONVERGED, st, "start " + c[0]);
            double a = ls.step();
            assertTrue(f <= 0 + 1e-3 * a * -6, "sufficient decrease from " + c[0]);
            assertTrue(Math.abs(g) <= 0.1 * 6, "curvature from " + c[0] + ": step " + a);
            assertTrue(evals <= 8, evals + " evaluations from " + c[0]);
        }
    }
}
