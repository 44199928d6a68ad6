package io.vlm4j.eval.report;

import io.vlm4j.eval.LinearProbe;
import io.vlm4j.eval.MulticlassReport;
import io.vlm4j.eval.MultilabelReport;
import io.vlm4j.eval.analysis.SeparabilityReport;
import io.vlm4j.eval.overlay.OverlayProbe;
import java.util.List;
import java.util.Map;

/**
 * Everything measured for one model on one dataset; absent parts are null with the reason in {@link #notes}.
 *
 * @param zeroShot        single-label zero-shot metrics on the test split (normalized embeddings, scale 100)
 * @param zeroShotMulti   multi-label zero-shot metrics ("{}" vs "no {}" prompts per label)
 * @param linearProbe     logistic regression on the projected, unnormalized embeddings (CLIP paper protocol)
 * @param labelProbes     multi-label sets: one binary linear probe per label (same protocol)
 * @param knnAccuracy     cosine k-NN accuracy on the test split (train as the memory)
 * @param separability    class-separability metrics of the normalized test embeddings
 * @param pcaExplained    explained-variance ratios of the first two principal components of those embeddings
 * @param overlay         text-overlay probe on a sample of test images
 * @param plots           file names (in the report folder) of this model's figures
 * @param cacheHits       per split, whether its embeddings came from the cache
 * @param seconds         wall time per stage
 */
public record ModelResult(String model, String path, int embeddingDim, MulticlassReport zeroShot, MultilabelReport zeroShotMulti,
                          LinearProbe.Result linearProbe, List<LabelProbe> labelProbes, Double knnAccuracy, int knnK, SeparabilityReport separability,
                          double[] pcaExplained, OverlayProbe.Report overlay, List<String> plots, Map<String, Boolean> cacheHits,
                          Map<String, Double> seconds, List<String> notes) {

    /** The binary linear probe of one label of a multi-label set: best C, test accuracy and AUROC. */
    public record LabelProbe(String label, int trainPositives, double bestC, double accuracy, double auroc) {}

    /** Mean test AUROC of the per-label probes (multi-label) or the probe's macro AUROC; null without a probe. */
    public Double linearProbeAuroc() {
        if (linearProbe != null) return linearProbe.test().macroAuroc();
        if (labelProbes == null || labelProbes.isEmpty()) return null;
        return labelProbes.stream().mapToDouble(LabelProbe::auroc).filter(Double::isFinite).average().orElse(Double.NaN);
    }
}
