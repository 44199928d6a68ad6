package io.vlm4j.eval;

import java.util.Arrays;
import java.util.Optional;

/**
 * L2-regularized logistic regression as scikit-learn's {@code LogisticRegression(penalty="l2", solver="lbfgs",
 * fit_intercept=True, class_weight=None)} fits it (spec 07 §4.2): K &gt; 2 classes are one multinomial model with K
 * weight vectors and K intercepts (the full softmax), K = 2 one logistic vector and one intercept. The objective is
 * {@link LogisticLoss}'s {@code (1/n)·Σ CE + ‖W‖²/(2Cn)}, intercept unpenalized, minimized from zero (or a warm start)
 * by {@link Lbfgs} with sklearn's stopping rules.
 *
 * <p>The features are used as given: no standardization (the CLIP protocol fits the raw projected embeddings).
 * Labels may be any ints; the classes are their sorted distinct values, as {@code classes_}.
 */
public final class LogisticRegression {
    /**
     * @param c       inverse L2 strength (sklearn {@code C})
     * @param tol     max |gradient component| at which to stop (sklearn {@code tol})
     * @param maxIter L-BFGS iterations (sklearn {@code max_iter})
     */
    public record Options(double c, double tol, int maxIter) {
        public Options {
            if (!(c > 0) || !Double.isFinite(c)) throw new IllegalArgumentException("logistic regression: C must be > 0 and finite, got " + c);
            if (!(tol >= 0)) throw new IllegalArgumentException("logistic regression: tol must be >= 0, got " + tol);
            if (maxIter < 1) throw new IllegalArgumentException("logistic regression: maxIter must be >= 1, got " + maxIter);
        }

        /** The CLIP README's settings at this C: tol 1e-4 (sklearn's default), max_iter 1000. */
        public static Options of(double c) { return new Options(c, 1e-4, 1000); }

        public Options withC(double newC) { return new Options(newC, tol, maxIter); }
    }

    /**
     * How the fit ended.
     *
     * @param objective  J at the solution
     * @param gradMaxAbs max |∂J/∂θ| at the solution
     * @param stop       why L-BFGS stopped
     * @param warning    present when it did not converge (sklearn's ConvergenceWarning)
     */
    public record FitInfo(int iterations, int evaluations, boolean converged, Lbfgs.Stop stop, double objective,
                          double gradMaxAbs, Optional<String> warning) {}

    private final int[] classes;
    private final double[][] coef;    // [K][d], or [1][d] for two classes
    private final double[] intercept; // [K], or [1]
    private final Options options;
    private final FitInfo info;

    private LogisticRegression(int[] classes, double[][] coef, double[] intercept, Options options, FitInfo info) {
        this.classes = classes;
        this.coef = coef;
        this.intercept = intercept;
        this.options = options;
        this.info = info;
    }

    public static LogisticRegression fit(double[][] x, int[] y, Options options) { return fit(x, y, options, null); }

    public static LogisticRegression fit(float[][] x, int[] y, Options options) { return fit(Matrices.toDouble(x), y, options, null); }

    /**
     * @param warmStart a model fitted on the same classes and feature count whose coefficients start the solver
     *                  (sklearn {@code warm_start=True}); null starts from zero
     */
    public static LogisticRegression fit(double[][] x, int[] y, Options options, LogisticRegression warmStart) {
        int d = Matrices.requireMatrix("logistic regression", "x", x);
        Matrices.requireFinite("logistic regression", "x", x);
        if (y.length != x.length) throw new IllegalArgumentException("logistic regression: " + x.length + " rows but " + y.length + " labels");
        int[] classes = Arrays.stream(y).distinct().sorted().toArray();
        if (classes.length < 2) {
            throw new IllegalArgumentException("logistic regression: needs samples of at least 2 classes, got " + Arrays.toString(classes));
        }
        int k = classes.length;
        int[] yi = new int[y.length];
        for (int i = 0; i < y.length; i++) yi[i] = Arrays.binarySearch(classes, y[i]);

        LogisticLoss loss = new LogisticLoss(x, yi, k, options.c());
        double[] theta0 = new double[loss.parameterCount()];
        if (warmStart != null) {
            if (!Arrays.equals(warmStart.classes, classes) || warmStart.coef[0].length != d) {
                throw new IllegalArgumentException("logistic regression: the warm start has classes " + Arrays.toString(warmStart.classes)
                        + " and " + warmStart.coef[0].length + " features, the data " + Arrays.toString(classes) + " and " + d);
            }
            theta0 = pack(warmStart.coef, warmStart.intercept);
        }
        Lbfgs.Result r = Lbfgs.minimize(loss, theta0, Lbfgs.Options.sklearn(options.tol(), options.maxIter()));
        int rows = k == 2 ? 1 : k;
        double[][] coef = new double[rows][d];
        double[] intercept = new double[rows];
        for (int c = 0; c < rows; c++) {
            System.arraycopy(r.x(), c * d, coef[c], 0, d);
            intercept[c] = r.x()[rows * d + c];
        }
        Optional<String> warning = r.converged() ? Optional.empty() : Optional.of(String.format(java.util.Locale.ROOT,
                "logistic regression (C=%g) did not converge: %s after %d iterations, max |gradient| %.3g > tol %g",
                options.c(), r.stop(), r.iterations(), r.gradMaxAbs(), options.tol()));
        FitInfo info = new FitInfo(r.iterations(), r.evaluations(), r.converged(), r.stop(), r.value(), r.gradMaxAbs(), warning);
        return new LogisticRegression(classes, coef, intercept, options, info);
    }

    /**
     * J(W, b) of spec 07 §4.2 for given parameters (sklearn's {@code coef_} / {@code intercept_} layout) on labels that
     * must be the class indices 0..K−1; used to compare solutions.
     */
    public static double objective(double[][] x, int[] classIndex, int numClasses, double c, double[][] coef, double[] intercept) {
        int d = Matrices.requireMatrix("logistic regression", "x", x);
        int rows = numClasses == 2 ? 1 : numClasses;
        if (numClasses < 2 || coef.length != rows || intercept.length != rows || Matrices.requireMatrix("logistic regression", "coef", coef) != d) {
            throw new IllegalArgumentException("logistic regression: " + numClasses + " classes and " + d + " features need coef [" + rows + "]["
                    + d + "] and intercept [" + rows + "]");
        }
        for (int i = 0; i < classIndex.length; i++) {
            if (classIndex[i] < 0 || classIndex[i] >= numClasses) {
                throw new IllegalArgumentException("logistic regression: class index " + classIndex[i] + " at " + i);
            }
        }
        LogisticLoss loss = new LogisticLoss(x, classIndex, numClasses, c);
        double[] theta = pack(coef, intercept);
        return loss.valueAndGradient(theta, new double[theta.length]);
    }

    /** The sorted distinct training labels; column c of {@link #predictProba} is {@code classes()[c]}. */
    public int[] classes() { return classes.clone(); }

    /** sklearn {@code coef_}: [K][d], or [1][d] with two classes (the weights of {@code classes()[1]}). */
    public double[][] coefficients() { return Matrices.copy(coef); }

    /** sklearn {@code intercept_}: [K], or [1]. */
    public double[] intercepts() { return intercept.clone(); }

    public Options options() { return options; }

    public FitInfo fitInfo() { return info; }

    /** W·x + b per row: [N][K], or [N][1] with two classes (sklearn's {@code decision_function}). */
    public double[][] decisionFunction(double[][] x) {
        int d = Matrices.requireMatrix("logistic regression", "x", x);
        if (d != coef[0].length) throw new IllegalArgumentException("logistic regression: x has " + d + " features, the model " + coef[0].length);
        double[][] z = new double[x.length][coef.length];
        for (int i = 0; i < x.length; i++) {
            for (int c = 0; c < coef.length; c++) z[i][c] = intercept[c] + Lbfgs.dot(coef[c], x[i]);
        }
        return z;
    }

    /** Class probabilities [N][K] (softmax, or [1 − σ(z), σ(z)] with two classes). */
    public double[][] predictProba(double[][] x) {
        double[][] z = decisionFunction(x);
        double[][] p = new double[x.length][classes.length];
        for (int i = 0; i < x.length; i++) {
            if (classes.length == 2) {
                p[i][1] = LogisticLoss.sigmoid(z[i][0]);
                p[i][0] = LogisticLoss.sigmoid(-z[i][0]);
            } else {
                p[i] = Matrices.softmax(z[i]);
            }
        }
        return p;
    }

    public double[][] predictProba(float[][] x) { return predictProba(Matrices.toDouble(x)); }

    /** The predicted labels (values of {@link #classes()}); the first class wins an exact tie, as numpy's argmax. */
    public int[] predict(double[][] x) {
        double[][] z = decisionFunction(x);
        int[] out = new int[x.length];
        for (int i = 0; i < x.length; i++) out[i] = classes[classes.length == 2 ? (z[i][0] > 0 ? 1 : 0) : Matrices.argmax(z[i])];
        return out;
    }

    public int[] predict(float[][] x) { return predict(Matrices.toDouble(x)); }

    /** Accuracy on (x, y). */
    public double score(double[][] x, int[] y) {
        if (y.length != x.length) throw new IllegalArgumentException("logistic regression: " + x.length + " rows but " + y.length + " labels");
        int[] p = predict(x);
        int hit = 0;
        for (int i = 0; i < y.length; i++) if (p[i] == y[i]) hit++;
        return (double) hit / y.length;
    }

    public double score(float[][] x, int[] y) { return score(Matrices.toDouble(x), y); }

    private static double[] pack(double[][] coef, double[] intercept) {
        int rows = coef.length, d = coef[0].length;
        double[] theta = new double[rows * (d + 1)];
        for (int c = 0; c < rows; c++) {
            System.arraycopy(coef[c], 0, theta, c * d, d);
            theta[rows * d + c] = intercept[c];
        }
        return theta;
    }
}
