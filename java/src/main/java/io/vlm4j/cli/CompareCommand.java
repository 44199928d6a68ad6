package io.vlm4j.cli;

import io.vlm4j.backend.Backend;
import io.vlm4j.data.EmbeddingCache;
import io.vlm4j.data.ImageDataset;
import io.vlm4j.eval.analysis.Tsne;
import io.vlm4j.eval.report.ComparisonReport;
import io.vlm4j.eval.report.EvalSplits;
import io.vlm4j.eval.report.ModelEvaluator;
import io.vlm4j.eval.report.ModelResult;
import io.vlm4j.model.clip.ClipModel;
import io.vlm4j.text.Tokenizer;
import io.vlm4j.text.Tokenizers;
import java.nio.file.Path;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "compare", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
        description = {"Compares models on one dataset: zero-shot, linear probe, k-NN, class separability, 2-D projections and the "
                + "text-overlay probe; writes report.md, report.json, CSVs and PNG plots to --out.",
                "DATASET: folder:PATH, csv:FILE, medmnist:FILE.npz, idx:DIR, or a path (kind recognized)."})
final class CompareCommand implements Callable<Integer> {
    @Option(names = "--models", required = true, split = ",", paramLabel = "[NAME=]DIR",
            description = "model directories, comma-separated; NAME= sets the name shown in the report (default: the folder name)")
    List<String> models;

    @Option(names = "--tokenizer", description = "tokenizer directory for models that have no tokenizer files of their own")
    Path tokenizer;

    @Option(names = "--template", description = "zero-shot prompt with {} for the class; repeat to ensemble (default: \"a photo of a {}.\")")
    List<String> templates;

    @Option(names = "--max-train", defaultValue = "0", description = "cap on training images, stratified (0 = all)")
    int maxTrain;

    @Option(names = "--max-val", defaultValue = "0", description = "cap on validation images (0 = all)")
    int maxVal;

    @Option(names = "--max-test", defaultValue = "0", description = "cap on test images (0 = all)")
    int maxTest;

    @Option(names = "--knn-k", defaultValue = "20", description = "k of the cosine k-NN classifier (default: ${DEFAULT-VALUE})")
    int knnK;

    @Option(names = "--no-tsne", description = "PCA plots only (t-SNE takes ~30 s per model on 3000 points on 2 cores)")
    boolean noTsne;

    @Option(names = "--no-overlay", description = "skip the text-overlay probe")
    boolean noOverlay;

    @Option(names = "--overlay-images", defaultValue = "64", description = "test images used by the overlay probe (default: ${DEFAULT-VALUE})")
    int overlayImages;

    @Option(names = "--out", required = true, description = "report folder")
    Path out;

    @Mixin
    DatasetOptions datasetOptions;

    @Mixin
    ImageOptions imageOptions;

    @Mixin
    BackendOptions options;

    @Override
    public Integer call() throws Exception {
        Map<String, Path> named = parseModels(models);
        ImageDataset all = datasetOptions.open();
        long seed = datasetOptions.seed;
        EvalSplits splits = EvalSplits.of(all, new EvalSplits.Caps(maxTrain, maxVal, maxTest, seed));
        System.out.printf(Locale.ROOT, "%s: %d classes, train %d, val %d, test %d (%s)%n", all.name(), all.numClasses(),
                splits.train().size(), splits.val().size(), splits.test().size(), splits.note());
        ModelEvaluator.Options o = new ModelEvaluator.Options(
                io.vlm4j.model.clip.ZeroShotClassifier.templatesOrDefault(templates), 100, knnK, 5000,
                !noTsne, Tsne.Options.defaults(), !noOverlay, overlayImages, seed);
        Optional<EmbeddingCache> embeddingCache = datasetOptions.embeddingCache();
        ModelEvaluator.ProgressFactory progress = (task, total) -> {
            Progress bar = Progress.start(task, total, true);
            return new ModelEvaluator.ProgressFactory.Task() {
                @Override
                public void accept(long n) { bar.step(n); }

                @Override
                public void close() { bar.close(); }
            };
        };
        java.nio.file.Files.createDirectories(out);
        List<ModelResult> results = new ArrayList<>();
        try (Backend backend = options.open()) {
            for (Map.Entry<String, Path> m : named.entrySet()) {
                try (ClipModel clip = ClipModel.load(m.getValue(), backend)) {
                    clip.batchSize(options.batch);
                    Optional<Tokenizer> tok = loadTokenizer(m.getValue());
                    ModelEvaluator.Subject subject = new ModelEvaluator.Subject(m.getKey(), m.getValue(), clip,
                            ImagePipelines.forModel(m.getValue(), clip, imageOptions), tok);
                    ModelResult r = ModelEvaluator.evaluate(subject, splits, embeddingCache, o, out, progress);
                    results.add(r);
                    System.out.printf(Locale.ROOT, "%s: zero-shot %s, linear probe %s, k-NN %s%s%n", r.model(),
                            r.zeroShot() == null ? "n/a" : String.format(Locale.ROOT, "%.4f", r.zeroShot().accuracy()),
                            r.linearProbe() == null ? "n/a" : String.format(Locale.ROOT, "%.4f", r.linearProbe().test().accuracy()),
                            r.knnAccuracy() == null ? "n/a" : String.format(Locale.ROOT, "%.4f", r.knnAccuracy()),
                            r.separability() == null ? "" : "; " + r.separability().summaryLine());
                }
            }
        }
        Map<String, Integer> sizes = new LinkedHashMap<>();
        sizes.put("train", splits.train().size());
        sizes.put("val", splits.val().size());
        sizes.put("test", splits.test().size());
        ComparisonReport report = new ComparisonReport(all.name(), all.identity(), all.classNames(), all.multiLabel(), sizes, splits.note(),
                o, results, Instant.now().truncatedTo(ChronoUnit.SECONDS).toString());
        List<Path> files = report.write(out);
        System.out.println("report: " + out.resolve("report.md") + " (" + files.size() + " files + " +
                results.stream().mapToInt(r -> r.plots().size()).sum() + " plots)");
        return 0;
    }

    private Optional<Tokenizer> loadTokenizer(Path model) {
        for (Path dir : tokenizer == null ? List.of(model) : List.of(model, tokenizer)) {
            try {
                return Optional.of(Tokenizers.load(dir));
            } catch (Exception e) {
                // try the next place; zero-shot is skipped with a note when none has tokenizer files
            }
        }
        return Optional.empty();
    }

    static Map<String, Path> parseModels(List<String> specs) {
        Map<String, Path> out = new LinkedHashMap<>();
        for (String s : specs) {
            String spec = s.strip();
            if (spec.isEmpty()) throw new IllegalArgumentException("--models has an empty entry");
            int eq = spec.indexOf('=');
            Path dir = Path.of(eq >= 0 ? spec.substring(eq + 1) : spec);
            String name = eq >= 0 ? spec.substring(0, eq).strip() : (dir.getFileName() == null ? spec : dir.getFileName().toString());
            if (name.isEmpty()) throw new IllegalArgumentException("--models: empty name in '" + spec + "'");
            if (out.put(name, dir) != null) throw new IllegalArgumentException("--models: the name '" + name + "' is used twice (use NAME=DIR)");
        }
        return out;
    }
}
