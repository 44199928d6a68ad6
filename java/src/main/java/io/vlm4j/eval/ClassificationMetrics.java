package io.vlm4j.eval;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * Classification metrics in float64 from scores and true labels, defined as scikit-learn defines them (the values are
 * checked against sklearn 1.9 by the tests): accuracy, per-class accuracy (recall), balanced accuracy, macro F1,
 * one-vs-rest AUROC with tied scores given their average rank (= the trapezoidal ROC area of
 * {@code roc_auc_score}), the confusion matrix; per-label AUROC and accuracy for multi-label data.
 *
 * <p>Where sklearn raises (a class absent from the labels has no AUROC) the value here is NaN, left out of the macro
 * mean, and the report says so in its notes.
 *
 * <p>AUROC ranks each score column as given. sklearn's multi-class {@code roc_auc_score} requires probabilities
 * (rows summing to 1); a softmax changes the ranking within a column, so AUROC on logits is a different number. Pass
 * probabilities to compare with published values; the report notes when the rows are not probabilities.
 */
public final class ClassificationMetrics {
    /** What multi-label scores are: probabilities in [0, 1], or logits (sigmoid applied for thresholding). */
    public enum ScoreKind { PROBABILITIES, LOGITS }

    /** The usual multi-label decision threshold on probabilities. */
    public static final double DEFAULT_THRESHOLD = 0.5;

    private ClassificationMetrics() {}

    // ---- multi-class, single label -------------------------------------------------------------------------------

    /** Class names "0" … "K−1". */
    public static MulticlassReport multiclass(int[] labels, double[][] scores) {
        return multiclass(labels, scores, defaultNames(scores));
    }

    public static MulticlassReport multiclass(int[] labels, float[][] scores, List<String> classNames) {
        return multiclass(labels, Matrices.toDouble(scores), classNames);
    }

    /**
     * @param labels     true class per sample, in [0, K)
     * @param scores     [N][K] scores, probabilities preferred (see the class comment); prediction = argmax
     * @param classNames K names for the report
     */
    public static MulticlassReport multiclass(int[] labels, double[][] scores, List<String> classNames) {
        int k = checkScores("multiclass metrics", labels.length, scores);
        if (k < 2) throw new IllegalArgumentException("multiclass metrics: need at least 2 score columns, got " + k);
        if (classNames.size() != k) throw new IllegalArgumentException("multiclass metrics: " + classNames.size() + " class names for " + k + " columns");
        for (int i = 0; i < labels.length; i++) {
            if (labels[i] < 0 || labels[i] >= k) {
                throw new IllegalArgumentException("multiclass metrics: label " + labels[i] + " at " + i + " not in [0, " + k + ")");
            }
        }
        int n = labels.length;
        int[] predicted = argmax(scores);
        int[][] cm = confusionMatrix(labels, predicted, k);
        List<String> notes = new ArrayList<>();

        List<MulticlassReport.PerClass> perClass = new ArrayList<>(k);
        double recallSum = 0, f1Sum = 0, aurocSum = 0;
        int recallCount = 0, f1Count = 0, aurocCount = 0;
        boolean[] positive = new boolean[n];
        double[] column = new double[n];
        for (int c = 0; c < k; c++) {
            int support = 0, pred = 0, tp = cm[c][c];
            for (int j = 0; j < k; j++) {
                support += cm[c][j];
                pred += cm[j][c];
            }
            double recall = support > 0 ? (double) tp / support : Double.NaN;
            double precision = pred > 0 ? (double) tp / pred : Double.NaN;
            int denom = 2 * tp + (pred - tp) + (support - tp);
            double f1 = denom > 0 ? 2.0 * tp / denom : Double.NaN;
            for (int i = 0; i < n; i++) {
                positive[i] = labels[i] == c;
                column[i] = scores[i][c];
            }
            double auroc = auroc(column, positive);
            String name = classNames.get(c);
            if (support == 0) {
                notes.add(String.format(Locale.ROOT, "class '%s' (%d) has no samples in the labels: its accuracy (recall) and AUROC are "
                        + "undefined (NaN) and left out of macro accuracy, balanced accuracy and macro AUROC; %s", name, c,
                        pred > 0 ? "it is predicted " + (pred == 1 ? "once" : pred + " times") + ", so it counts in macro F1 with F1 = 0 (as sklearn)"
                                : "it is never predicted either, so macro F1 leaves it out (as sklearn)"));
            } else if (support == n) {
                notes.add(String.format(Locale.ROOT, "class '%s' (%d) is the label of every sample: its AUROC is undefined (no negatives) "
                        + "and left out of macro AUROC", name, c));
            }
            if (!Double.isNaN(recall)) {
                recallSum += recall;
                recallCount++;
            }
            if (!Double.isNaN(f1)) {
                f1Sum += f1;
                f1Count++;
            }
            if (!Double.isNaN(auroc)) {
                aurocSum += auroc;
                aurocCount++;
            }
            perClass.add(new MulticlassReport.PerClass(name, support, pred, recall, precision, f1, auroc));
        }
        if (!rowsAreProbabilities(scores)) {
            notes.add("the score rows are not probabilities (non-negative, summing to 1): AUROC ranks each column as given, "
                    + "which differs from AUROC on softmax probabilities (what sklearn's multi-class roc_auc_score takes)");
        }
        return new MulticlassReport(n, classNames, accuracy(labels, predicted), recallCount > 0 ? recallSum / recallCount : Double.NaN,
                balancedAccuracy(labels, predicted), f1Count > 0 ? f1Sum / f1Count : Double.NaN,
                aurocCount > 0 ? aurocSum / aurocCount : Double.NaN, perClass, cm, notes);
    }

    // ---- multi-label ---------------------------------------------------------------------------------------------

    /** 0/1 labels; threshold 0.5. */
    public static MultilabelReport multilabel(int[][] labels, double[][] scores, ScoreKind kind, List<String> labelNames) {
        return multilabel(toBoolean(labels), scores, kind, labelNames, DEFAULT_THRESHOLD);
    }

    /** Threshold 0.5. */
    public static MultilabelReport multilabel(boolean[][] labels, double[][] scores, ScoreKind kind, List<String> labelNames) {
        return multilabel(labels, scores, kind, labelNames, DEFAULT_THRESHOLD);
    }

    /**
     * @param labels    [N][L], true where the label is present
     * @param scores    [N][L] probabilities or logits (per {@code kind}); AUROC uses them as given (the sigmoid does
     *                  not change the order, and logits keep ties that saturated probabilities would create)
     * @param threshold a label is predicted present when its probability is {@code >= threshold}
     */
    public static MultilabelReport multilabel(boolean[][] labels, double[][] scores, ScoreKind kind, List<String> labelNames,
                                              double threshold) {
        int l = checkScores("multilabel metrics", labels.length, scores);
        if (labelNames.size() != l) throw new IllegalArgumentException("multilabel metrics: " + labelNames.size() + " label names for " + l + " columns");
        if (!(threshold > 0 && threshold < 1)) throw new IllegalArgumentException("multilabel metrics: threshold must be in (0, 1), got " + threshold);
        int n = labels.length;
        for (int i = 0; i < n; i++) {
            if (labels[i] == null || labels[i].length != l) {
                throw new IllegalArgumentException("multilabel metrics: labels row " + i + " does not have " + l + " columns");
            }
            if (kind == ScoreKind.PROBABILITIES) {
                for (int j = 0; j < l; j++) {
                    if (scores[i][j] < 0 || scores[i][j] > 1) {
                        throw new IllegalArgumentException("multilabel metrics: probability " + scores[i][j] + " at [" + i + "][" + j
                                + "] not in [0, 1] (logits? use ScoreKind.LOGITS)");
                    }
                }
            }
        }
        // On logits, p >= t  ⇔  z >= log(t / (1 − t)); exactly z >= 0 at t = 0.5, with no rounding of the sigmoid.
        double cut = kind == ScoreKind.LOGITS ? Math.log(threshold / (1 - threshold)) : threshold;
        List<MultilabelReport.PerLabel> per = new ArrayList<>(l);
        List<String> notes = new ArrayList<>();
        double aurocSum = 0, accSum = 0;
        int aurocCount = 0;
        boolean[] positive = new boolean[n];
        double[] column = new double[n];
        for (int j = 0; j < l; j++) {
            int positives = 0, hits = 0;
            for (int i = 0; i < n; i++) {
                positive[i] = labels[i][j];
                column[i] = scores[i][j];
                if (positive[i]) positives++;
                if ((scores[i][j] >= cut) == positive[i]) hits++;
            }
            double auroc = auroc(column, positive);
            double acc = (double) hits / n;
            if (Double.isNaN(auroc)) {
                notes.add(String.format(Locale.ROOT, "label '%s' (%d) is %s: its AUROC is undefined (NaN) and left out of macro AUROC",
                        labelNames.get(j), j, positives == 0 ? "absent from every sample" : "present in every sample"));
            } else {
                aurocSum += auroc;
                aurocCount++;
            }
            accSum += acc;
            per.add(new MultilabelReport.PerLabel(labelNames.get(j), positives, auroc, acc));
        }
        return new MultilabelReport(n, labelNames, kind, threshold, aurocCount > 0 ? aurocSum / aurocCount : Double.NaN,
                accSum / l, per, notes);
    }

    // ---- building blocks -----------------------------------------------------------------------------------------

    /**
     * Area under the ROC curve of {@code scores} for the binary labels {@code positive}: the probability that a random
     * positive scores above a random negative, ties counting one half (Mann–Whitney U with average ranks, equal to
     * sklearn's trapezoidal {@code roc_auc_score}). NaN when either class is missing.
     */
    public static double auroc(double[] scores, boolean[] positive) {
        int n = scores.length;
        if (positive.length != n) throw new IllegalArgumentException("auroc: " + n + " scores but " + positive.length + " labels");
        long pos = 0;
        for (boolean p : positive) if (p) pos++;
        long neg = n - pos;
        if (pos == 0 || neg == 0) return Double.NaN;
        Integer[] order = new Integer[n];
        for (int i = 0; i < n; i++) {
            if (Double.isNaN(scores[i])) throw new IllegalArgumentException("auroc: score " + i + " is NaN");
            order[i] = i;
        }
        Arrays.sort(order, (a, b) -> Double.compare(scores[a], scores[b]));
        // Sum of the (1-based, tie-averaged) ranks of the positives, doubled to stay in integers.
        long twiceRankSum = 0;
        for (int start = 0; start < n; ) {
            int end = start;
            while (end + 1 < n && scores[order[end + 1]] == scores[order[start]]) end++;
            long twiceAvgRank = (start + 1) + (end + 1);  // 2 × mean of ranks start+1 … end+1
            for (int i = start; i <= end; i++) if (positive[order[i]]) twiceRankSum += twiceAvgRank;
            start = end + 1;
        }
        double u = twiceRankSum / 2.0 - pos * (pos + 1) / 2.0;
        return u / ((double) pos * neg);
    }

    /** Row-wise argmax; the first column wins an exact tie (numpy). */
    public static int[] argmax(double[][] scores) {
        int[] out = new int[scores.length];
        for (int i = 0; i < scores.length; i++) out[i] = Matrices.argmax(scores[i]);
        return out;
    }

    /** [K][K] counts: rows = true class, columns = predicted class. */
    public static int[][] confusionMatrix(int[] labels, int[] predicted, int numClasses) {
        if (labels.length != predicted.length) {
            throw new IllegalArgumentException("confusion matrix: " + labels.length + " labels but " + predicted.length + " predictions");
        }
        int[][] cm = new int[numClasses][numClasses];
        for (int i = 0; i < labels.length; i++) {
            if (labels[i] < 0 || labels[i] >= numClasses || predicted[i] < 0 || predicted[i] >= numClasses) {
                throw new IllegalArgumentException("confusion matrix: class out of [0, " + numClasses + ") at " + i);
            }
            cm[labels[i]][predicted[i]]++;
        }
        return cm;
    }

    public static double accuracy(int[] labels, int[] predicted) {
        if (labels.length != predicted.length || labels.length == 0) {
            throw new IllegalArgumentException("accuracy: " + labels.length + " labels, " + predicted.length + " predictions");
        }
        int hit = 0;
        for (int i = 0; i < labels.length; i++) if (labels[i] == predicted[i]) hit++;
        return (double) hit / labels.length;
    }

    /**
     * sklearn's {@code balanced_accuracy_score(adjusted=False)}: over the classes found in the labels or the
     * predictions, recall = diagonal / row sum; classes without true samples (0/0) are dropped; the mean of the rest.
     */
    public static double balancedAccuracy(int[] labels, int[] predicted) {
        int[] classes = union(labels, predicted);
        int[][] cm = confusionMatrix(reindex(labels, classes), reindex(predicted, classes), classes.length);
        double sum = 0;
        int count = 0;
        for (int c = 0; c < classes.length; c++) {
            int row = Arrays.stream(cm[c]).sum();
            if (row == 0) continue;
            sum += (double) cm[c][c] / row;
            count++;
        }
        return sum / count;
    }

    /** sklearn's {@code f1_score(average="macro")}: mean of 2·TP/(2·TP+FP+FN) over the classes in labels ∪ predictions. */
    public static double macroF1(int[] labels, int[] predicted) {
        int[] classes = union(labels, predicted);
        int[][] cm = confusionMatrix(reindex(labels, classes), reindex(predicted, classes), classes.length);
        double sum = 0;
        for (int c = 0; c < classes.length; c++) {
            int tp = cm[c][c], row = 0, col = 0;
            for (int j = 0; j < classes.length; j++) {
                row += cm[c][j];
                col += cm[j][c];
            }
            sum += 2.0 * tp / (row + col);
        }
        return sum / classes.length;
    }

    // ---- helpers -------------------------------------------------------------------------------------------------

    private static int checkScores(String who, int n, double[][] scores) {
        if (n == 0) throw new IllegalArgumentException(who + ": no samples");
        if (scores.length != n) throw new IllegalArgumentException(who + ": " + scores.length + " score rows but " + n + " labels");
        int k = Matrices.requireMatrix(who, "scores", scores);
        Matrices.requireFinite(who, "scores", scores);
        return k;
    }

    private static boolean rowsAreProbabilities(double[][] scores) {
        for (double[] row : scores) {
            double sum = 0;
            for (double v : row) {
                if (v < 0) return false;
                sum += v;
            }
            if (Math.abs(sum - 1) > 1e-6) return false;
        }
        return true;
    }

    private static int[] union(int[] a, int[] b) {
        if (a.length != b.length || a.length == 0) throw new IllegalArgumentException(a.length + " labels, " + b.length + " predictions");
        return java.util.stream.IntStream.concat(Arrays.stream(a), Arrays.stream(b)).distinct().sorted().toArray();
    }

    private static int[] reindex(int[] v, int[] classes) {
        int[] out = new int[v.length];
        for (int i = 0; i < v.length; i++) out[i] = Arrays.binarySearch(classes, v[i]);
        return out;
    }

    private static boolean[][] toBoolean(int[][] labels) {
        boolean[][] out = new boolean[labels.length][];
        for (int i = 0; i < labels.length; i++) {
            if (labels[i] == null) throw new IllegalArgumentException("multilabel metrics: labels row " + i + " is null");
            out[i] = new boolean[labels[i].length];
            for (int j = 0; j < labels[i].length; j++) {
                if (labels[i][j] != 0 && labels[i][j] != 1) {
                    throw new IllegalArgumentException("multilabel metrics: label [" + i + "][" + j + "] is " + labels[i][j] + ", not 0 or 1");
                }
                out[i][j] = labels[i][j] == 1;
            }
        }
        return out;
    }

    private static List<String> defaultNames(double[][] scores) {
        int k = scores.length > 0 && scores[0] != null ? scores[0].length : 0;
        List<String> names = new ArrayList<>(k);
        for (int c = 0; c < k; c++) names.add(Integer.toString(c));
        return names;
    }
}
