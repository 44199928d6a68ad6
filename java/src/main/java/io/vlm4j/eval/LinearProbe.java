package io.vlm4j.eval;

import com.fasterxml.jackson.annotation.JsonIgnore;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

/**
 * The CLIP paper's linear-probe protocol (spec 07 §4.3) on precomputed features: {@link LogisticRegression} fitted on
 * the train split, C chosen on the validation split by a parametric search, test metrics at the chosen C.
 *
 * <p>The search works on the grid log₁₀C = g/8, g = −48 … 48 (8 steps per decade over [1e-6, 1e6], the paper's 96
 * intervals). It fits the 7 values C = 1e-6, 1e-4, …, 1e6 (every 16th grid point), then around the best so far the
 * points ±8, ±4, ±2, ±1 grid steps away, i.e. it halves the interval until the resolution is one eighth of a decade:
 * at most 15 fits. "Best" is the highest validation accuracy; ties go to the lower validation log-loss, then to the
 * smaller C. Each fit is warm-started from the fitted model nearest in log C (the reference does not warm-start; the
 * solution moves only within the solver tolerance).
 *
 * <p>The features are used as given: no standardization, no normalization (spec 07 §4.1: the CLIP README probes the
 * projected, un-normalized image embedding; say which features you pass). The final model is the sweep's fit on train
 * at the best C, or with {@link Options#refitOnTrainPlusVal} a refit on train + validation at that C.
 */
public final class LinearProbe {
    /** Grid points per decade, and the grid's half-width in points: log₁₀C ∈ [−6, 6]. */
    static final int STEPS_PER_DECADE = 8, HALF_WIDTH = 6 * STEPS_PER_DECADE;

    /** Features [N][d] and labels. */
    public record Split(double[][] x, int[] y) {
        public Split {
            Matrices.requireMatrix("linear probe", "features", x);
            if (y.length != x.length) throw new IllegalArgumentException("linear probe: " + x.length + " feature rows but " + y.length + " labels");
        }

        public static Split of(float[][] x, int[] y) { return new Split(Matrices.toDouble(x), y); }
    }

    /**
     * @param tol                 L-BFGS gradient tolerance (sklearn's default 1e-4)
     * @param maxIter             L-BFGS iteration limit (the CLIP README's 1000)
     * @param refitOnTrainPlusVal refit the final model on train + validation at the chosen C
     * @param warmStart           warm-start the sweep's fits
     */
    public record Options(double tol, int maxIter, boolean refitOnTrainPlusVal, boolean warmStart) {
        public static Options defaults() { return new Options(1e-4, 1000, false, true); }

        public Options withRefitOnTrainPlusVal(boolean refit) { return new Options(tol, maxIter, refit, warmStart); }

        public Options withWarmStart(boolean warm) { return new Options(tol, maxIter, refitOnTrainPlusVal, warm); }
    }

    /** One fit of the sweep, in the order it was made. */
    public record SweepPoint(double c, double valAccuracy, double valLogLoss, int iterations, boolean converged) {}

    /**
     * @param bestC           the chosen C
     * @param path            every C tried with its validation accuracy, in the order tried
     * @param refitIterations L-BFGS iterations of the final refit (0 without one)
     * @param test            test metrics of the final model (probabilities from {@code predictProba})
     * @param model           the final model
     * @param warnings        fits that did not converge
     */
    public record Result(double bestC, double bestValAccuracy, List<SweepPoint> path, boolean refitOnTrainPlusVal, int refitIterations,
                         MulticlassReport test, @JsonIgnore LogisticRegression model, List<String> warnings) {
        public Result {
            path = List.copyOf(path);
            warnings = List.copyOf(warnings);
        }

        /** The path sorted by C. */
        public List<SweepPoint> pathByC() {
            return path.stream().sorted(Comparator.comparingDouble(SweepPoint::c)).toList();
        }

        public String toJson() { return Reports.json(this); }

        public String toTable() {
            List<List<String>> rows = new ArrayList<>();
            for (SweepPoint p : pathByC()) {
                rows.add(List.of(String.format(Locale.ROOT, "%.4g", p.c()), Reports.num(p.valAccuracy()), Reports.num(p.valLogLoss()),
                        Integer.toString(p.iterations()) + (p.converged() ? "" : " (not converged)"), p.c() == bestC ? "<- best" : ""));
            }
            StringBuilder sb = new StringBuilder(Reports.table(List.of("C", "val accuracy", "val log-loss", "iterations", ""), rows));
            sb.append(String.format(Locale.ROOT, "%nbest C %.4g (val accuracy %s), final model fitted on %s%n%n", bestC,
                    Reports.num(bestValAccuracy), refitOnTrainPlusVal ? "train + val" : "train"));
            sb.append("test:\n").append(test.toTable());
            for (String w : warnings) sb.append("warning: ").append(w).append('\n');
            return sb.toString();
        }

        @Override
        public String toString() { return toTable(); }
    }

    private LinearProbe() {}

    public static Result run(Split train, Split val, Split test, Options options) {
        int d = train.x()[0].length;
        for (Split s : List.of(val, test)) {
            if (s.x()[0].length != d) throw new IllegalArgumentException("linear probe: train has " + d + " features, another split " + s.x()[0].length);
        }
        int[] classes = Arrays.stream(train.y()).distinct().sorted().toArray();
        requireKnownLabels("validation", val.y(), classes);
        requireKnownLabels("test", test.y(), classes);

        Map<Integer, LogisticRegression> fitted = new TreeMap<>();
        List<SweepPoint> path = new ArrayList<>();
        List<String> warnings = new ArrayList<>();
        for (int g = -HALF_WIDTH; g <= HALF_WIDTH; g += 2 * STEPS_PER_DECADE) evaluate(g, train, val, options, fitted, path, warnings);
        int best = best(path);
        for (int step = STEPS_PER_DECADE; step >= 1; step /= 2) {
            for (int g : new int[] {best - step, best + step}) {
                if (Math.abs(g) <= HALF_WIDTH && !fitted.containsKey(g)) evaluate(g, train, val, options, fitted, path, warnings);
            }
            best = best(path);
        }
        double bestC = gridC(best);
        LogisticRegression model = fitted.get(best);
        int refitIterations = 0;
        if (options.refitOnTrainPlusVal()) {
            double[][] x = concat(train.x(), val.x());
            int[] y = concat(train.y(), val.y());
            model = LogisticRegression.fit(x, y, new LogisticRegression.Options(bestC, options.tol(), options.maxIter()),
                    options.warmStart() ? model : null);
            refitIterations = model.fitInfo().iterations();
            model.fitInfo().warning().ifPresent(w -> warnings.add("refit on train + val: " + w));
        }
        double bestValAccuracy = path.stream().filter(p -> p.c() == bestC).findFirst().orElseThrow().valAccuracy();
        int[] testIndex = indices(test.y(), classes);
        List<String> names = Arrays.stream(classes).mapToObj(Integer::toString).toList();
        MulticlassReport report = ClassificationMetrics.multiclass(testIndex, model.predictProba(test.x()), names);
        return new Result(bestC, bestValAccuracy, path, options.refitOnTrainPlusVal(), refitIterations, report, model, warnings);
    }

    /** C at grid point g: 10^(g/8). */
    static double gridC(int g) { return Math.pow(10, (double) g / STEPS_PER_DECADE); }

    private static void evaluate(int g, Split train, Split val, Options o, Map<Integer, LogisticRegression> fitted,
                                 List<SweepPoint> path, List<String> warnings) {
        LogisticRegression start = null;
        if (o.warmStart()) {
            Integer nearest = null;
            for (int h : fitted.keySet()) {  // ascending: a tie keeps the smaller C
                if (nearest == null || Math.abs(h - g) < Math.abs(nearest - g)) nearest = h;
            }
            if (nearest != null) start = fitted.get(nearest);
        }
        double c = gridC(g);
        LogisticRegression m = LogisticRegression.fit(train.x(), train.y(), new LogisticRegression.Options(c, o.tol(), o.maxIter()), start);
        fitted.put(g, m);
        m.fitInfo().warning().ifPresent(warnings::add);
        double[][] p = m.predictProba(val.x());
        int[] idx = indices(val.y(), m.classes());
        int hit = 0;
        double logLoss = 0;
        for (int i = 0; i < idx.length; i++) {
            if (Matrices.argmax(p[i]) == idx[i]) hit++;
            logLoss -= Math.log(Math.max(p[i][idx[i]], Double.MIN_NORMAL));
        }
        path.add(new SweepPoint(c, (double) hit / idx.length, logLoss / idx.length, m.fitInfo().iterations(), m.fitInfo().converged()));
    }

    /** Grid index of the best point: highest val accuracy, then lowest val log-loss, then smallest C. */
    private static int best(List<SweepPoint> path) {
        SweepPoint b = path.stream().min(Comparator.comparingDouble((SweepPoint p) -> -p.valAccuracy())
                .thenComparingDouble(SweepPoint::valLogLoss).thenComparingDouble(SweepPoint::c)).orElseThrow();
        return (int) Math.round(Math.log10(b.c()) * STEPS_PER_DECADE);
    }

    private static void requireKnownLabels(String split, int[] y, int[] classes) {
        for (int v : y) {
            if (Arrays.binarySearch(classes, v) < 0) {
                throw new IllegalArgumentException("linear probe: the " + split + " split has label " + v + ", which train does not have "
                        + Arrays.toString(classes));
            }
        }
    }

    private static int[] indices(int[] y, int[] classes) {
        int[] out = new int[y.length];
        for (int i = 0; i < y.length; i++) out[i] = Arrays.binarySearch(classes, y[i]);
        return out;
    }

    private static double[][] concat(double[][] a, double[][] b) {
        double[][] out = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }

    private static int[] concat(int[] a, int[] b) {
        int[] out = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }
}
