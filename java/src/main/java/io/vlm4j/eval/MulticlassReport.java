package io.vlm4j.eval;

import com.fasterxml.jackson.databind.annotation.JsonSerialize;
import java.util.ArrayList;
import java.util.List;

/**
 * Single-label classification metrics ({@link ClassificationMetrics#multiclass}). Undefined values are NaN here and
 * {@code null} in JSON, with the reason in {@link #notes()}.
 *
 * @param samples          N
 * @param classNames       K names, column order of the scores
 * @param accuracy         fraction of argmax predictions equal to the label
 * @param macroAccuracy    mean per-class accuracy (recall) over the classes present in the labels
 * @param balancedAccuracy sklearn's {@code balanced_accuracy_score}, computed from the confusion matrix on its own;
 *                         for single-label data it is the same number as macroAccuracy (both names are in use)
 * @param macroF1          sklearn's {@code f1_score(average="macro")}: mean F1 over the classes that are in the labels
 *                         or the predictions
 * @param macroAuroc       mean one-vs-rest AUROC over the classes where it is defined (sklearn's
 *                         {@code roc_auc_score(multi_class="ovr", average="macro")} when every class is present)
 * @param perClass         one entry per class, in column order
 * @param confusionMatrix  [K][K] counts, rows = true class, columns = predicted (sklearn's layout)
 * @param notes            what was undefined and why, what was left out of which mean, input caveats
 */
public record MulticlassReport(
        int samples,
        List<String> classNames,
        double accuracy,
        @JsonSerialize(using = NanAsNull.class) double macroAccuracy,
        @JsonSerialize(using = NanAsNull.class) double balancedAccuracy,
        @JsonSerialize(using = NanAsNull.class) double macroF1,
        @JsonSerialize(using = NanAsNull.class) double macroAuroc,
        List<PerClass> perClass,
        int[][] confusionMatrix,
        List<String> notes) {

    /**
     * @param support   samples with this label
     * @param predicted samples predicted as this class
     * @param accuracy  per-class accuracy = recall = TP / support; NaN when the class has no samples
     * @param precision TP / predicted; NaN when the class is never predicted
     * @param f1        2·TP / (2·TP + FP + FN); NaN when the class is neither in the labels nor predicted
     * @param auroc     one-vs-rest AUROC of this column; NaN unless the labels have both this class and another
     */
    public record PerClass(
            String name,
            int support,
            int predicted,
            @JsonSerialize(using = NanAsNull.class) double accuracy,
            @JsonSerialize(using = NanAsNull.class) double precision,
            @JsonSerialize(using = NanAsNull.class) double f1,
            @JsonSerialize(using = NanAsNull.class) double auroc) {}

    public MulticlassReport {
        classNames = List.copyOf(classNames);
        perClass = List.copyOf(perClass);
        notes = List.copyOf(notes);
    }

    /** Pretty-printed JSON; NaN as null. */
    public String toJson() { return Reports.json(this); }

    /** A per-class table, the summary lines, then the notes. */
    public String toTable() {
        List<List<String>> rows = new ArrayList<>();
        for (PerClass c : perClass) {
            rows.add(List.of(c.name(), Integer.toString(c.support()), Integer.toString(c.predicted()), Reports.num(c.accuracy()),
                    Reports.num(c.precision()), Reports.num(c.f1()), Reports.num(c.auroc())));
        }
        StringBuilder sb = new StringBuilder(Reports.table(
                List.of("class", "support", "predicted", "accuracy", "precision", "f1", "auroc"), rows));
        sb.append(String.format("%nsamples %d, classes %d%n", samples, classNames.size()));
        sb.append("accuracy          ").append(Reports.num(accuracy)).append('\n');
        sb.append("macro accuracy    ").append(Reports.num(macroAccuracy)).append('\n');
        sb.append("balanced accuracy ").append(Reports.num(balancedAccuracy)).append('\n');
        sb.append("macro F1          ").append(Reports.num(macroF1)).append('\n');
        sb.append("macro AUROC (OvR) ").append(Reports.num(macroAuroc)).append('\n');
        for (String n : notes) sb.append("note: ").append(n).append('\n');
        return sb.toString();
    }

    @Override
    public String toString() { return toTable(); }
}
