package io.vlm4j.eval.report;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.module.SimpleModule;
import io.vlm4j.eval.LinearProbe;
import io.vlm4j.eval.MulticlassReport;
import io.vlm4j.eval.NanAsNull;
import io.vlm4j.eval.analysis.BarChart;
import io.vlm4j.eval.overlay.OverlayProbe;
import io.vlm4j.io.AtomicFiles;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Function;

/**
 * The comparison of several models on one dataset, and its files: {@code report.md} (tables side by side, figures,
 * notes), {@code report.json} (everything, undefined values as null), CSVs (summary, zero-shot per class, linear-probe
 * sweep, overlay probe) and {@code summary.png} (a bar chart of the [0, 1] metrics). Every file is written atomically.
 */
public record ComparisonReport(String dataset, String datasetIdentity, List<String> classNames, boolean multiLabel,
                               Map<String, Integer> splitSizes, String splitNote, ModelEvaluator.Options options,
                               List<ModelResult> models, String created) {

    /** One row of the summary table: a name, whether higher is better, and how to read it off a result. */
    private record Metric(String name, String shortName, boolean unitInterval, Function<ModelResult, Double> value) {}

    private static final List<Metric> METRICS = List.of(
            new Metric("zero-shot accuracy", "ZS acc", true, r -> r.zeroShot() == null ? null : r.zeroShot().accuracy()),
            new Metric("zero-shot balanced accuracy", "ZS bal. acc", true, r -> r.zeroShot() == null ? null : r.zeroShot().balancedAccuracy()),
            new Metric("zero-shot macro AUROC", "ZS AUROC", true, r -> r.zeroShot() != null ? (Double) r.zeroShot().macroAuroc()
                    : r.zeroShotMulti() == null ? null : (Double) r.zeroShotMulti().macroAuroc()),
            new Metric("linear probe accuracy", "LP acc", true, r -> r.linearProbe() == null ? null : r.linearProbe().test().accuracy()),
            new Metric("linear probe balanced accuracy", "LP bal. acc", true, r -> r.linearProbe() == null ? null : r.linearProbe().test().balancedAccuracy()),
            new Metric("linear probe macro AUROC", "LP AUROC", true, ModelResult::linearProbeAuroc),
            new Metric("linear probe best C", "LP C", false, r -> r.linearProbe() == null ? null : r.linearProbe().bestC()),
            new Metric("k-NN accuracy (cosine)", "kNN acc", true, ModelResult::knnAccuracy),
            new Metric("silhouette (cosine)", "sil. cos", false, r -> r.separability() == null ? null : r.separability().silhouetteCosine()),
            new Metric("silhouette (euclidean)", "sil. euc", false, r -> r.separability() == null ? null : r.separability().silhouetteEuclidean()),
            new Metric("Davies-Bouldin (lower = better)", "DB", false, r -> r.separability() == null ? null : r.separability().daviesBouldin()),
            new Metric("Calinski-Harabasz", "CH", false, r -> r.separability() == null ? null : r.separability().calinskiHarabasz()),
            new Metric("Fisher ratio tr(S_B)/tr(S_W)", "Fisher", false, r -> r.separability() == null ? null : r.separability().fisher().traceRatio()),
            new Metric("k-NN class purity", "kNN purity", true, r -> r.separability() == null ? null : r.separability().knnPurity()),
            new Metric("cosine within class (mean)", "cos within", false, r -> r.separability() == null ? null : r.separability().cosine().withinClass().mean()),
            new Metric("cosine between classes (mean)", "cos between", false, r -> r.separability() == null ? null : r.separability().cosine().betweenClass().mean()),
            new Metric("overlay: class-name flip rate", "flip: class name", true, r -> overlay(r, OverlayProbe.Kind.CLASS_NAME, OverlayProbe.VariantSummary::flipRate)),
            new Metric("overlay: pulled to the written class", "pulled to text", true, r -> overlay(r, OverlayProbe.Kind.CLASS_NAME, OverlayProbe.VariantSummary::pulledRate)),
            new Metric("overlay: random-word flip rate", "flip: word", true, r -> overlay(r, OverlayProbe.Kind.RANDOM_WORD, OverlayProbe.VariantSummary::flipRate)),
            new Metric("overlay: normal/abnormal flip rate", "flip: (ab)normal", true, r -> overlay(r, OverlayProbe.Kind.NORMAL_ABNORMAL, OverlayProbe.VariantSummary::flipRate)),
            new Metric("overlay: cosine to clean (class names)", "cos to clean", false, r -> overlay(r, OverlayProbe.Kind.CLASS_NAME, OverlayProbe.VariantSummary::meanCosine)));

    private static Double overlay(ModelResult r, OverlayProbe.Kind kind, Function<OverlayProbe.VariantSummary, Double> f) {
        if (r.overlay() == null || !r.overlay().byKind().containsKey(kind)) return null;
        return f.apply(r.overlay().byKind().get(kind));
    }

    /** Writes every file of the report into {@code dir} (created if needed); returns the files written. */
    public List<Path> write(Path dir) throws IOException {
        Files.createDirectories(dir);
        List<Path> files = new ArrayList<>();
        files.add(text(dir.resolve("report.json"), json().writeValueAsString(this)));
        files.add(text(dir.resolve("summary.csv"), summaryCsv()));
        files.add(text(dir.resolve("zero_shot_per_class.csv"), zeroShotCsv()));
        files.add(text(dir.resolve("linear_probe_sweep.csv"), sweepCsv()));
        files.add(text(dir.resolve("overlay_probe.csv"), overlayCsv()));
        Path chart = dir.resolve("summary.png");
        List<String> cats = new ArrayList<>();
        List<Metric> unit = METRICS.stream().filter(Metric::unitInterval).toList();
        for (Metric m : unit) cats.add(m.shortName());
        Map<String, double[]> series = new LinkedHashMap<>();
        for (ModelResult r : models) {
            double[] v = new double[unit.size()];
            for (int i = 0; i < unit.size(); i++) {
                Double x = unit.get(i).value().apply(r);
                v[i] = x == null ? Double.NaN : x;
            }
            series.put(r.model(), v);
        }
        BarChart.write(chart, "Models on " + dataset, "value (0-1)", cats, series, 1400, 800);
        files.add(chart);
        files.add(text(dir.resolve("report.md"), markdown()));
        return files;
    }

    private static Path text(Path file, String content) throws IOException {
        byte[] bytes = content.getBytes(StandardCharsets.UTF_8);
        AtomicFiles.write(file, out -> out.write(bytes));
        return file;
    }

    /** Jackson with undefined numbers (NaN, infinities) written as null, so the file is plain JSON. */
    static ObjectMapper json() {
        SimpleModule nan = new SimpleModule();
        nan.addSerializer(Double.class, new NanAsNull());
        nan.addSerializer(double.class, new NanAsNull());
        return new ObjectMapper().registerModule(nan).enable(SerializationFeature.INDENT_OUTPUT);
    }

    static String num(Double v) {
        if (v == null || !Double.isFinite(v)) return "n/a";
        double a = Math.abs(v);
        return a != 0 && (a >= 1e4 || a < 1e-3) ? String.format(Locale.ROOT, "%.3g", v) : String.format(Locale.ROOT, "%.4f", v);
    }

    private static String csv(String s) {
        return s.contains(",") || s.contains("\"") || s.contains("\n") ? "\"" + s.replace("\"", "\"\"") + "\"" : s;
    }

    String summaryCsv() {
        StringBuilder sb = new StringBuilder("metric");
        for (ModelResult r : models) sb.append(',').append(csv(r.model()));
        sb.append('\n');
        for (Metric m : METRICS) {
            sb.append(csv(m.name()));
            for (ModelResult r : models) {
                Double v = m.value().apply(r);
                sb.append(',').append(v == null || !Double.isFinite(v) ? "" : Double.toString(v));
            }
            sb.append('\n');
        }
        return sb.toString();
    }

    private String zeroShotCsv() {
        StringBuilder sb = new StringBuilder("model,class,support,accuracy,precision,f1,auroc\n");
        for (ModelResult r : models) {
            if (r.zeroShot() == null) continue;
            for (MulticlassReport.PerClass c : r.zeroShot().perClass()) {
                sb.append(csv(r.model())).append(',').append(csv(c.name())).append(',').append(c.support()).append(',')
                        .append(c.accuracy()).append(',').append(c.precision()).append(',').append(c.f1()).append(',').append(c.auroc()).append('\n');
            }
        }
        return sb.toString();
    }

    private String sweepCsv() {
        StringBuilder sb = new StringBuilder("model,C,val_accuracy,val_log_loss,iterations,converged\n");
        for (ModelResult r : models) {
            if (r.linearProbe() == null) continue;
            for (LinearProbe.SweepPoint p : r.linearProbe().pathByC()) {
                sb.append(csv(r.model())).append(',').append(p.c()).append(',').append(p.valAccuracy()).append(',')
                        .append(p.valLogLoss()).append(',').append(p.iterations()).append(',').append(p.converged()).append('\n');
            }
        }
        return sb.toString();
    }

    private String overlayCsv() {
        StringBuilder sb = new StringBuilder("model,text,kind,size,position,images,mean_cosine,min_cosine,flip_rate,pulled_rate,accuracy\n");
        for (ModelResult r : models) {
            if (r.overlay() == null) continue;
            for (OverlayProbe.VariantResult v : r.overlay().variants()) {
                sb.append(csv(r.model())).append(',').append(csv(v.variant().spec().text())).append(',').append(v.variant().kind())
                        .append(',').append(v.variant().spec().relativeSize()).append(',').append(v.variant().spec().position())
                        .append(',').append(v.images()).append(',').append(v.meanCosine()).append(',').append(v.minCosine())
                        .append(',').append(v.flipRate()).append(',').append(v.pulledRate()).append(',').append(v.accuracy()).append('\n');
            }
        }
        return sb.toString();
    }

    String markdown() {
        StringBuilder md = new StringBuilder();
        md.append("# Model comparison on ").append(dataset).append("\n\n");
        md.append("Created ").append(created).append(" by vlm4j `compare`.\n\n");
        md.append("## Dataset\n\n");
        md.append("- source: `").append(datasetIdentity).append("`\n");
        md.append("- classes (").append(classNames.size()).append(multiLabel ? ", multi-label" : "").append("): ")
                .append(String.join(", ", classNames)).append('\n');
        md.append("- splits: ");
        List<String> parts = new ArrayList<>();
        splitSizes.forEach((k, v) -> parts.add(k + " " + v));
        md.append(String.join(", ", parts)).append(" (").append(splitNote).append(")\n");
        md.append("- zero-shot: templates ").append(options.templates()).append(", logit scale ").append(num(options.zeroShotScale()))
                .append(", L2-normalized embeddings\n");
        md.append("- linear probe: L2-regularized logistic regression (L-BFGS, sklearn's objective) on the projected, unnormalized image ")
                .append("embeddings; C chosen on the validation split by the CLIP paper's parametric sweep; test metrics of the refit\n");
        md.append("- k-NN: cosine, k = ").append(models.isEmpty() ? options.knnK() : models.get(0).knnK())
                .append(", train split as the memory; separability on the L2-normalized test embeddings");
        if (!models.isEmpty() && models.get(0).separability() != null) {
            var s = models.get(0).separability();
            md.append(" (").append(s.samples()).append(" samples");
            if (s.pairwiseSamples() != s.samples()) md.append(", pairwise metrics on a seeded stratified sample of ").append(s.pairwiseSamples());
            md.append(")");
        }
        md.append("\n\n## Summary\n\n| metric |");
        for (ModelResult r : models) md.append(' ').append(r.model()).append(" |");
        md.append("\n|---|");
        md.append("---:|".repeat(models.size())).append('\n');
        for (Metric m : METRICS) {
            if (models.stream().allMatch(r -> m.value().apply(r) == null)) continue;
            md.append("| ").append(m.name()).append(m.unitInterval() ? " (" + m.shortName() + ")" : "").append(" |");
            for (ModelResult r : models) md.append(' ').append(num(m.value().apply(r))).append(" |");
            md.append('\n');
        }
        md.append("\n![summary](summary.png)\n");
        for (ModelResult r : models) {
            md.append("\n## ").append(r.model()).append("\n\n");
            md.append("- path: `").append(r.path()).append("`, embedding width ").append(r.embeddingDim()).append('\n');
            md.append("- embeddings from the cache: ").append(r.cacheHits()).append('\n');
            md.append("- seconds: ");
            List<String> t = new ArrayList<>();
            r.seconds().forEach((k, v) -> t.add(k + " " + String.format(Locale.ROOT, "%.1f", v)));
            md.append(String.join(", ", t)).append('\n');
            if (r.pcaExplained() != null) {
                md.append(String.format(Locale.ROOT, "- PCA: the first two components explain %.1f%% and %.1f%% of the variance%n",
                        100 * r.pcaExplained()[0], 100 * r.pcaExplained()[1]));
            }
            for (String n : r.notes()) md.append("- note: ").append(n).append('\n');
            if (r.zeroShot() != null) {
                md.append("\nZero-shot per class:\n\n| class | support | accuracy | AUROC |\n|---|---:|---:|---:|\n");
                for (MulticlassReport.PerClass c : r.zeroShot().perClass()) {
                    md.append("| ").append(c.name()).append(" | ").append(c.support()).append(" | ").append(num(c.accuracy())).append(" | ")
                            .append(num(c.auroc())).append(" |\n");
                }
            }
            if (r.zeroShotMulti() != null) {
                md.append("\nZero-shot per label:\n\n| label | positives | AUROC | accuracy |\n|---|---:|---:|---:|\n");
                for (var l : r.zeroShotMulti().perLabel()) {
                    md.append("| ").append(l.name()).append(" | ").append(l.positives()).append(" | ").append(num(l.auroc())).append(" | ")
                            .append(num(l.accuracy())).append(" |\n");
                }
            }
            if (r.linearProbe() != null) {
                md.append("\nLinear probe: best C ").append(num(r.linearProbe().bestC())).append(" (validation accuracy ")
                        .append(num(r.linearProbe().bestValAccuracy())).append(", ").append(r.linearProbe().path().size())
                        .append(" fits); test accuracy ").append(num(r.linearProbe().test().accuracy())).append(", macro AUROC ")
                        .append(num(r.linearProbe().test().macroAuroc())).append('\n');
                for (String w : r.linearProbe().warnings()) md.append("- warning: ").append(w).append('\n');
            }
            if (r.labelProbes() != null && !r.labelProbes().isEmpty()) {
                md.append("\nLinear probe per label:\n\n| label | train positives | best C | test accuracy | test AUROC |\n|---|---:|---:|---:|---:|\n");
                for (ModelResult.LabelProbe l : r.labelProbes()) {
                    md.append("| ").append(l.label()).append(" | ").append(l.trainPositives()).append(" | ").append(num(l.bestC())).append(" | ")
                            .append(num(l.accuracy())).append(" | ").append(num(l.auroc())).append(" |\n");
                }
            }
            if (r.overlay() != null) {
                md.append("\nText-overlay probe (").append(r.overlay().images()).append(" test images, clean zero-shot accuracy ")
                        .append(num(r.overlay().cleanAccuracy())).append("):\n\n")
                        .append("| overlay text | variants | cosine to clean | flip rate | pulled to written class | accuracy |\n|---|---:|---:|---:|---:|---:|\n");
                r.overlay().byKind().forEach((k, s) -> md.append("| ").append(k.name().toLowerCase(Locale.ROOT).replace('_', ' ')).append(" | ")
                        .append(s.variants()).append(" | ").append(num(s.meanCosine())).append(" | ").append(num(s.flipRate())).append(" | ")
                        .append(num(s.pulledRate())).append(" | ").append(num(s.accuracy())).append(" |\n"));
            }
            for (String p : r.plots()) md.append("\n![").append(p).append("](").append(p).append(")\n");
        }
        return md.toString();
    }
}
