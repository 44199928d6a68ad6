package io.vlm4j.eval;

import com.fasterxml.jackson.databind.annotation.JsonSerialize;
import java.util.ArrayList;
import java.util.List;

/**
 * Multi-label metrics ({@link ClassificationMetrics#multilabel}): each label is its own binary problem. Undefined
 * values are NaN here and {@code null} in JSON, with the reason in {@link #notes()}.
 *
 * @param samples       N
 * @param labelNames    L names, column order of the scores
 * @param scoreKind     whether the scores were probabilities or logits (then passed through the sigmoid)
 * @param threshold     a label is predicted present when its probability is {@code >= threshold} (0.5)
 * @param macroAuroc    mean AUROC over the labels where it is defined (sklearn {@code roc_auc_score(average="macro")}
 *                      when every label has positives and negatives)
 * @param macroAccuracy mean of the per-label accuracies
 * @param perLabel      one entry per label, in column order
 * @param notes         labels whose AUROC is undefined and why
 */
public record MultilabelReport(
        int samples,
        List<String> labelNames,
        ClassificationMetrics.ScoreKind scoreKind,
        double threshold,
        @JsonSerialize(using = NanAsNull.class) double macroAuroc,
        double macroAccuracy,
        List<PerLabel> perLabel,
        List<String> notes) {

    /**
     * @param positives samples where the label is present
     * @param auroc     NaN when the label is present in all samples or in none
     * @param accuracy  fraction of samples where (p &gt;= threshold) equals the label
     */
    public record PerLabel(String name, int positives, @JsonSerialize(using = NanAsNull.class) double auroc, double accuracy) {}

    public MultilabelReport {
        labelNames = List.copyOf(labelNames);
        perLabel = List.copyOf(perLabel);
        notes = List.copyOf(notes);
    }

    /** Pretty-printed JSON; NaN as null. */
    public String toJson() { return Reports.json(this); }

    public String toTable() {
        List<List<String>> rows = new ArrayList<>();
        for (PerLabel l : perLabel) {
            rows.add(List.of(l.name(), Integer.toString(l.positives()), Reports.num(l.auroc()), Reports.num(l.accuracy())));
        }
        StringBuilder sb = new StringBuilder(Reports.table(List.of("label", "positives", "auroc", "accuracy@" + threshold), rows));
        sb.append(String.format("%nsamples %d, labels %d, scores: %s%n", samples, labelNames.size(), scoreKind.name().toLowerCase()));
        sb.append("macro AUROC    ").append(Reports.num(macroAuroc)).append('\n');
        sb.append("macro accuracy ").append(Reports.num(macroAccuracy)).append('\n');
        for (String n : notes) sb.append("note: ").append(n).append('\n');
        return sb.toString();
    }

    @Override
    public String toString() { return toTable(); }
}
