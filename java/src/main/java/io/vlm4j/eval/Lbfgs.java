package io.vlm4j.eval;

import java.util.Arrays;

/**
 * Unconstrained L-BFGS in float64 (Nocedal &amp; Wright, Numerical Optimization, 2nd ed., Alg. 7.4/7.5), set up to
 * behave like SciPy's L-BFGS-B without bounds, which is what scikit-learn's {@code LogisticRegression(solver="lbfgs")}
 * runs (spec 07 §4.2):
 * <ul>
 *   <li>direction {@code d = −H·g} by the two-loop recursion over the last {@code m} pairs (s, y), with
 *       {@code H₀ = (sᵀy / yᵀy)·I} from the newest pair (L-BFGS-B's θ = yᵀy/sᵀy); a pair is kept only when
 *       {@code sᵀy > ε·(−gᵀs)};</li>
 *   <li>the Moré–Thuente line search ({@link MoreThuente}, ftol 1e-3, gtol 0.9, xtol 0.1) from step
 *       {@code 1/‖d‖₂} on the first iteration and 1 afterwards, at most {@code maxLineSearch} evaluations;</li>
 *   <li>a failed line search (no acceptable step in {@code maxLineSearch} evaluations, or a non-finite f at a
 *       trial point) drops the memory and restarts along −g; a failure with an empty memory ends the run;</li>
 *   <li>stops when {@code max|gᵢ| ≤ gtol} (also checked at the start), when
 *       {@code (f_old − f)/max(|f_old|, |f|, 1) ≤ ftol}, or after {@code maxIter} iterations (not converged).</li>
 * </ul>
 */
public final class Lbfgs {
    /** f and its gradient. */
    @FunctionalInterface
    public interface Objective {
        /** Returns f(x) and writes ∇f(x) into {@code grad}. Must not keep {@code x}. */
        double valueAndGradient(double[] x, double[] grad);
    }

    /**
     * @param gtol          stop when the largest gradient component is at most this (SciPy {@code gtol}, sklearn {@code tol})
     * @param ftol          stop when the relative decrease of f in one iteration is at most this (SciPy {@code ftol})
     * @param maxIter       iteration limit (SciPy {@code maxiter}, sklearn {@code max_iter})
     * @param memory        number of correction pairs m
     * @param maxLineSearch evaluations per line search (SciPy {@code maxls}; sklearn passes 50)
     */
    public record Options(double gtol, double ftol, int maxIter, int memory, int maxLineSearch) {
        /** ftol as sklearn sets it: 64·ε(float64) ≈ 1.42e-14. */
        public static final double SKLEARN_FTOL = 64 * Math.ulp(1.0);

        public Options {
            if (!(gtol >= 0) || !(ftol >= 0)) throw new IllegalArgumentException("L-BFGS: tolerances must be >= 0, got gtol " + gtol + ", ftol " + ftol);
            if (maxIter < 0 || memory < 1 || maxLineSearch < 1) {
                throw new IllegalArgumentException("L-BFGS: need maxIter >= 0, memory >= 1, maxLineSearch >= 1");
            }
        }

        /** sklearn's settings for a given tol and max_iter: m = 10, maxls = 50, ftol = 64·ε. */
        public static Options sklearn(double tol, int maxIter) { return new Options(tol, SKLEARN_FTOL, maxIter, 10, 50); }
    }

    public enum Stop {
        GRADIENT_TOLERANCE(true), RELATIVE_REDUCTION(true), MAX_ITERATIONS(false), LINE_SEARCH_FAILED(false);

        private final boolean converged;

        Stop(boolean converged) { this.converged = converged; }

        public boolean converged() { return converged; }
    }

    /**
     * @param x            the final point (the best one; a failed line search is rolled back)
     * @param value        f(x)
     * @param gradMaxAbs   max |∇f(x)ᵢ|
     * @param iterations   accepted steps (SciPy {@code nit})
     * @param evaluations  calls of the objective (SciPy {@code nfev})
     */
    public record Result(double[] x, double value, double gradMaxAbs, int iterations, int evaluations, Stop stop) {
        public boolean converged() { return stop.converged(); }
    }

    /** L-BFGS-B's largest step for an unconstrained problem. */
    private static final double MAX_STEP = 1e10;

    private Lbfgs() {}

    public static Result minimize(Objective fn, double[] x0, Options o) {
        int n = x0.length;
        int m = o.memory();
        double[] x = x0.clone(), g = new double[n];
        double f = fn.valueAndGradient(x, g);
        int evaluations = 1, iterations = 0;
        requireFinite(f, g, "at the starting point");
        if (maxAbs(g) <= o.gtol()) return new Result(x, f, maxAbs(g), 0, evaluations, Stop.GRADIENT_TOLERANCE);
        if (o.maxIter() == 0) return new Result(x, f, maxAbs(g), 0, evaluations, Stop.MAX_ITERATIONS);

        double[][] s = new double[m][n], y = new double[m][n];
        double[] rho = new double[m], alpha = new double[m];
        int count = 0, newest = -1;  // ring buffer of the last `count` pairs, newest at index `newest`
        double[] d = new double[n], xt = new double[n], gt = new double[n];

        while (true) {
            // Two-loop recursion: d = −H·g.
            for (int i = 0; i < n; i++) d[i] = -g[i];
            for (int k = 0; k < count; k++) {
                int j = Math.floorMod(newest - k, m);
                alpha[j] = rho[j] * dot(s[j], d);
                axpy(-alpha[j], y[j], d);
            }
            if (count > 0) {
                double gamma = dot(s[newest], y[newest]) / dot(y[newest], y[newest]);
                for (int i = 0; i < n; i++) d[i] *= gamma;
            }
            for (int k = count - 1; k >= 0; k--) {
                int j = Math.floorMod(newest - k, m);
                double beta = rho[j] * dot(y[j], d);
                axpy(alpha[j] - beta, s[j], d);
            }

            // Line search along d; the accepted point is the last one evaluated (as L-BFGS-B).
            double gd0 = dot(g, d);
            double dnorm = Math.sqrt(dot(d, d));
            double fNew = Double.NaN;
            boolean ok = false;
            if (gd0 < 0 && dnorm > 0) {
                double stp = iterations == 0 ? Math.min(1 / dnorm, MAX_STEP) : 1.0;
                MoreThuente ls = new MoreThuente(stp, f, gd0, 1e-3, 0.9, 0.1, 0, MAX_STEP);
                for (int e = 0; e < o.maxLineSearch(); e++) {
                    double a = ls.step();
                    for (int i = 0; i < n; i++) xt[i] = x[i] + a * d[i];
                    fNew = fn.valueAndGradient(xt, gt);
                    evaluations++;
                    if (!Double.isFinite(fNew)) break;  // overflow at a trial step: treated as a failed search
                    if (ls.next(fNew, dot(gt, d)) != MoreThuente.Status.EVALUATE) {
                        ok = true;
                        break;
                    }
                }
            }
            if (!ok) {
                // L-BFGS-B: with an empty memory this is the end; otherwise drop the memory and retry along −g.
                if (count == 0) return new Result(x, f, maxAbs(g), iterations, evaluations, Stop.LINE_SEARCH_FAILED);
                count = 0;
                newest = -1;
                continue;
            }

            double sy = 0, sg = 0, yy = 0;
            for (int i = 0; i < n; i++) {
                double si = xt[i] - x[i], yi = gt[i] - g[i];
                sy += si * yi;
                sg -= si * g[i];
                yy += yi * yi;
            }
            // Keep the pair only with enough curvature (L-BFGS-B: sᵀy > ε·(−gᵀs)); the objective may be non-convex.
            if (sy > Math.ulp(1.0) * sg && yy > 0) {
                newest = (newest + 1) % m;
                for (int i = 0; i < n; i++) {
                    s[newest][i] = xt[i] - x[i];
                    y[newest][i] = gt[i] - g[i];
                }
                rho[newest] = 1 / sy;
                count = Math.min(count + 1, m);
            }
            double fOld = f;
            System.arraycopy(xt, 0, x, 0, n);
            System.arraycopy(gt, 0, g, 0, n);
            f = fNew;
            iterations++;

            double gmax = maxAbs(g);
            if (gmax <= o.gtol()) return new Result(x, f, gmax, iterations, evaluations, Stop.GRADIENT_TOLERANCE);
            if (fOld - f <= o.ftol() * Math.max(Math.max(Math.abs(fOld), Math.abs(f)), 1)) {
                return new Result(x, f, gmax, iterations, evaluations, Stop.RELATIVE_REDUCTION);
            }
            if (iterations >= o.maxIter()) return new Result(x, f, gmax, iterations, evaluations, Stop.MAX_ITERATIONS);
        }
    }

    static double dot(double[] a, double[] b) {
        double r = 0;
        for (int i = 0; i < a.length; i++) r += a[i] * b[i];
        return r;
    }

    private static void axpy(double a, double[] x, double[] y) {
        for (int i = 0; i < x.length; i++) y[i] += a * x[i];
    }

    static double maxAbs(double[] v) {
        double r = 0;
        for (double e : v) r = Math.max(r, Math.abs(e));
        return r;
    }

    private static void requireFinite(double f, double[] g, String where) {
        if (!Double.isFinite(f) || !Arrays.stream(g).allMatch(Double::isFinite)) {
            throw new IllegalArgumentException("L-BFGS: the objective or its gradient is not finite " + where);
        }
    }
}
