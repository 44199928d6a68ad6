package io.vlm4j.eval.report;

import io.vlm4j.data.EmbeddingCache;
import io.vlm4j.data.ImageDataset;
import io.vlm4j.data.ModelIdentity;
import io.vlm4j.eval.ClassificationMetrics;
import io.vlm4j.eval.KnnClassifier;
import io.vlm4j.eval.LinearProbe;
import io.vlm4j.eval.MulticlassReport;
import io.vlm4j.eval.MultilabelReport;
import io.vlm4j.eval.ZeroShotHead;
import io.vlm4j.eval.analysis.LabeledEmbeddings;
import io.vlm4j.eval.analysis.Pca;
import io.vlm4j.eval.analysis.Projection;
import io.vlm4j.eval.analysis.ScatterPlot;
import io.vlm4j.eval.analysis.SeparabilityMetrics;
import io.vlm4j.eval.analysis.SeparabilityReport;
import io.vlm4j.eval.analysis.Tsne;
import io.vlm4j.eval.overlay.OverlayProbe;
import io.vlm4j.image.ImageDecoder;
import io.vlm4j.image.ImagePreprocessor;
import io.vlm4j.model.clip.ClipModel;
import io.vlm4j.model.clip.ZeroShotClassifier;
import io.vlm4j.tensor.Tensor;
import io.vlm4j.text.Tokenizer;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.function.LongConsumer;

/**
 * Evaluates one model on one dataset: embeddings of the three splits (through the cache), zero-shot on test
 * (single-label: prompt ensembles, scale 100; multi-label: "{}" vs "no {}" per label), the CLIP-paper linear probe
 * and cosine k-NN, separability metrics and 2-D projections of the normalized test embeddings, and the text-overlay
 * probe. The parts a dataset or model cannot support are skipped with a note, never failing the comparison.
 */
public final class ModelEvaluator {

    /** What to run, with the evaluation's usual defaults. */
    public record Options(List<String> templates, double zeroShotScale, int knnK, int maxPairwiseSamples, boolean tsne,
                          Tsne.Options tsneOptions, boolean overlay, int overlayImages, long seed) {
        public static Options defaults() {
            return new Options(List.of(io.vlm4j.model.clip.ZeroShotClassifier.DEFAULT_TEMPLATE), 100, 20, 5000, true, Tsne.Options.defaults(), true, 64, 0);
        }
    }

    /** Progress reporting: a named task with a total, advanced by the returned consumer, closed when done. */
    public interface ProgressFactory {
        Task start(String task, long total);

        interface Task extends LongConsumer, AutoCloseable {
            @Override
            void close();
        }

        ProgressFactory NONE = (t, n) -> new Task() {
            @Override
            public void accept(long v) {}

            @Override
            public void close() {}
        };
    }

    /** A loaded model with what evaluating it needs; the tokenizer is absent for image-only use (no zero-shot). */
    public record Subject(String name, Path path, ClipModel clip, ImagePreprocessor preprocessor, Optional<Tokenizer> tokenizer) {}

    private ModelEvaluator() {}

    public static ModelResult evaluate(Subject m, EvalSplits splits, Optional<EmbeddingCache> cache, Options o, Path outDir,
                                       ProgressFactory progress) throws IOException {
        List<String> notes = new ArrayList<>();
        Map<String, Boolean> hits = new LinkedHashMap<>();
        Map<String, Double> seconds = new LinkedHashMap<>();
        List<String> plots = new ArrayList<>();
        ImageDataset test = splits.test();
        List<String> names = test.classNames();
        long t0 = System.nanoTime();
        float[][] train = embed(m, splits.train(), "train", cache, hits, progress);
        float[][] val = embed(m, splits.val(), "val", cache, hits, progress);
        float[][] testX = embed(m, test, "test", cache, hits, progress);
        seconds.put("embed", (System.nanoTime() - t0) / 1e9);
        int dim = testX.length == 0 ? 0 : testX[0].length;
        float[][] testN = normalized(testX);

        MulticlassReport zs = null;
        MultilabelReport zsMulti = null;
        ZeroShotClassifier head = null;
        t0 = System.nanoTime();
        if (m.tokenizer().isEmpty() || m.clip().text().isEmpty()) {
            notes.add("zero-shot: skipped (" + (m.clip().text().isEmpty() ? "the model has no text tower" : "no tokenizer found") + ")");
        } else {
            Tokenizer tok = m.tokenizer().get();
            head = ZeroShotClassifier.build(m.clip(), tok, names, o.templates(), tok.defaultContext(), (float) o.zeroShotScale());
            if (!test.multiLabel()) {
                zs = ClassificationMetrics.multiclass(labels(test), head.head().probabilities(testN), names);
            } else {
                List<String> negative = names.stream().map(n -> "no " + n).toList();
                ZeroShotClassifier neg = ZeroShotClassifier.build(m.clip(), tok, negative, o.templates(), tok.defaultContext(),
                        (float) o.zeroShotScale());
                double[][] p = ZeroShotHead.multiLabel(head.head(), neg.head()).probabilities(testN);
                zsMulti = ClassificationMetrics.multilabel(labelVectors(test), p, ClassificationMetrics.ScoreKind.PROBABILITIES, names);
                notes.add("zero-shot (multi-label): per label, softmax over the prompts \"{}\" vs \"no {}\" (CheXzero style)");
            }
        }
        seconds.put("zero_shot", (System.nanoTime() - t0) / 1e9);

        LinearProbe.Result probe = null;
        List<ModelResult.LabelProbe> labelProbes = null;
        Double knn = null;
        SeparabilityReport sep = null;
        double[] pcaRatio = null;
        if (test.multiLabel()) {
            t0 = System.nanoTime();
            labelProbes = labelProbes(train, val, testX, splits, names, notes);
            seconds.put("linear_probe", (System.nanoTime() - t0) / 1e9);
            notes.add("linear probe (multi-label): one binary probe per label, same protocol; k-NN, separability and projections "
                    + "are single-label analyses");
        } else {
            int[] yTrain = labels(splits.train()), yVal = labels(splits.val()), yTest = labels(test);
            t0 = System.nanoTime();
            probe = LinearProbe.run(LinearProbe.Split.of(train, yTrain), LinearProbe.Split.of(val, yVal),
                    LinearProbe.Split.of(testX, yTest), LinearProbe.Options.defaults());
            seconds.put("linear_probe", (System.nanoTime() - t0) / 1e9);
            t0 = System.nanoTime();
            int k = Math.min(o.knnK(), train.length);
            knn = KnnClassifier.fit(train, yTrain, KnnClassifier.Options.defaults().withK(k)).score(testX, yTest);
            seconds.put("knn", (System.nanoTime() - t0) / 1e9);
            t0 = System.nanoTime();
            LabeledEmbeddings data = LabeledEmbeddings.of(testN, yTest, names);
            sep = SeparabilityMetrics.compute(data, new SeparabilityMetrics.Options(o.maxPairwiseSamples(), 10, o.seed()));
            seconds.put("separability", (System.nanoTime() - t0) / 1e9);
            t0 = System.nanoTime();
            Projection pca = Projection.pca(data);
            pcaRatio = Pca.fit(data.x(), 2).explainedVarianceRatio();
            String file = fileName(m.name()) + "-pca.png";
            ScatterPlot.write(outDir.resolve(file), pca, data, m.name() + ": PCA of test embeddings",
                    String.format(Locale.ROOT, "%s, %d images; %s", test.name(), testN.length, sep.summaryLine()), ScatterPlot.Style.defaults());
            plots.add(file);
            if (o.tsne()) {
                Projection tsne = Projection.tsne(data, o.tsneOptions());
                file = fileName(m.name()) + "-tsne.png";
                ScatterPlot.write(outDir.resolve(file), tsne, data, m.name() + ": t-SNE of test embeddings",
                        test.name() + ", " + tsne.details(), ScatterPlot.Style.defaults());
                plots.add(file);
            }
            seconds.put("projections", (System.nanoTime() - t0) / 1e9);
        }

        OverlayProbe.Report overlay = null;
        if (!o.overlay()) {
            notes.add("overlay probe: not requested");
        } else if (head == null || test.multiLabel()) {
            notes.add("overlay probe: needs single-label zero-shot (a text tower and a tokenizer)");
        } else {
            t0 = System.nanoTime();
            ImageDataset sample = test.size() > o.overlayImages() ? test.subsample(o.overlayImages(), o.seed()) : test;
            List<ImageDecoder.Decoded> images = new ArrayList<>(sample.size());
            for (int i = 0; i < sample.size(); i++) images.add(sample.image(i));
            List<OverlayProbe.Variant> variants = OverlayProbe.defaultVariants(names, o.seed());
            try (ProgressFactory.Task task = progress.start(m.name() + ": overlay probe", (long) variants.size() * images.size())) {
                overlay = OverlayProbe.run(images, labels(sample), head.head(), ims -> embedImages(m, ims), variants, task::accept);
            }
            seconds.put("overlay", (System.nanoTime() - t0) / 1e9);
        }
        return new ModelResult(m.name(), m.path().toString(), dim, zs, zsMulti, probe, labelProbes, knn, Math.min(o.knnK(), train.length), sep,
                pcaRatio, overlay, plots, hits, seconds, notes);
    }

    /** One binary probe per label; labels with a single class in train or validation are skipped with a note. */
    private static List<ModelResult.LabelProbe> labelProbes(float[][] train, float[][] val, float[][] test, EvalSplits splits,
                                                            List<String> names, List<String> notes) {
        int[][] yTrain = labelVectors(splits.train()), yVal = labelVectors(splits.val()), yTest = labelVectors(splits.test());
        List<ModelResult.LabelProbe> out = new ArrayList<>();
        for (int k = 0; k < names.size(); k++) {
            int[] a = column(yTrain, k), b = column(yVal, k), c = column(yTest, k);
            int pos = java.util.Arrays.stream(a).sum(), posVal = java.util.Arrays.stream(b).sum();
            if (pos == 0 || pos == a.length || posVal == 0 || posVal == b.length) {
                notes.add("linear probe: label '" + names.get(k) + "' skipped (one class only in train or validation)");
                continue;
            }
            LinearProbe.Result r = LinearProbe.run(LinearProbe.Split.of(train, a), LinearProbe.Split.of(val, b), LinearProbe.Split.of(test, c),
                    LinearProbe.Options.defaults());
            double auroc = r.test().perClass().size() == 2 ? r.test().perClass().get(1).auroc() : Double.NaN;
            out.add(new ModelResult.LabelProbe(names.get(k), pos, r.bestC(), r.test().accuracy(), auroc));
        }
        return out;
    }

    private static int[] column(int[][] y, int k) {
        int[] c = new int[y.length];
        for (int i = 0; i < y.length; i++) c[i] = y[i][k];
        return c;
    }

    private static float[][] embed(Subject m, ImageDataset d, String split, Optional<EmbeddingCache> cache, Map<String, Boolean> hits,
                                   ProgressFactory progress) throws IOException {
        try (ProgressFactory.Task task = progress.start(m.name() + ": embed " + split, d.size())) {
            if (cache.isPresent()) {
                try (EmbeddingCache.Result r = cache.get().imageEmbeddings(m.clip(), ModelIdentity.ofPath(m.path()), Optional.empty(),
                        m.preprocessor(), d, task)) {
                    hits.put(split, r.hit());
                    return r.embeddings().toFloatRows();
                }
            }
            try (Tensor t = EmbeddingCache.compute(m.clip(), m.preprocessor(), d, task)) {
                hits.put(split, false);
                return t.toFloatRows();
            }
        }
    }

    /** Normalized embeddings of in-memory images (the overlay probe's model). */
    private static float[][] embedImages(Subject m, List<ImageDecoder.Decoded> images) {
        try (Tensor px = m.preprocessor().preprocessDecoded(images.size(), images::get); Tensor e = m.clip().encodeImages(px, true)) {
            return e.toFloatRows();
        }
    }

    static float[][] normalized(float[][] x) {
        float[][] out = new float[x.length][];
        for (int i = 0; i < x.length; i++) {
            out[i] = x[i].clone();
            ClipModel.l2NormalizeRows(out[i], out[i].length);
        }
        return out;
    }

    static int[] labels(ImageDataset d) {
        int[] y = new int[d.size()];
        for (int i = 0; i < y.length; i++) y[i] = d.label(i);
        return y;
    }

    private static int[][] labelVectors(ImageDataset d) {
        int[][] y = new int[d.size()][];
        for (int i = 0; i < y.length; i++) y[i] = d.labelVector(i);
        return y;
    }

    /** A model name as a file-name stem: letters, digits, '-', '_', '.'. */
    static String fileName(String name) {
        String s = name.replaceAll("[^A-Za-z0-9._-]+", "_");
        return s.isEmpty() ? "model" : s;
    }
}
