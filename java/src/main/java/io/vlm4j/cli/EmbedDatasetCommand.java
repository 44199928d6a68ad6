package io.vlm4j.cli;

import io.vlm4j.backend.Backend;
import io.vlm4j.data.EmbeddingCache;
import io.vlm4j.data.ImageDataset;
import io.vlm4j.data.ModelIdentity;
import io.vlm4j.image.ImagePreprocessor;
import io.vlm4j.io.Npy;
import io.vlm4j.model.clip.ClipModel;
import io.vlm4j.tensor.Tensor;
import java.nio.file.Path;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "embed-dataset", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
        description = {"Image embeddings [N, E] of a dataset (or a split, k-shot or subsample of it), cached by model, dataset, "
                + "selection, preprocessing and backend.",
                "DATASET: folder:PATH, csv:FILE, medmnist:FILE.npz, idx:DIR, or a path (kind recognized)."})
final class EmbedDatasetCommand implements Callable<Integer> {
    @Option(names = "--model", required = true, description = "model directory (config.json + safetensors) or .safetensors file")
    Path model;

    @Option(names = "--split", description = "train, val or test (default: every item)")
    String split;

    @Option(names = "--k-shot", paramLabel = "K", description = "K items of every class (after --split)")
    Integer kShot;

    @Option(names = "--subsample", paramLabel = "N", description = "N items, stratified by class (after --split)")
    Integer subsample;

    @Option(names = "--out", required = true, description = "embeddings, float32 .npy [N, E]")
    Path out;

    @Option(names = "--labels-out", paramLabel = "L.npy", description = "labels, int32 .npy: [N] class indices, or [N, K] 0/1 (multi-label)")
    Path labelsOut;

    @Option(names = "--normalize", description = "L2-normalize the embeddings written to --out (the cache keeps them unnormalized)")
    boolean normalize;

    @Mixin
    ImageOptions imageOptions;

    @Mixin
    DatasetOptions datasetOptions;

    @Mixin
    BackendOptions options;

    @Override
    public Integer call() throws Exception {
        if (imageOptions.skipBad()) {
            throw new IllegalArgumentException("--on-error skip is not supported by embed-dataset: every selected item needs an embedding "
                    + "(fix the file, or leave it out of the dataset)");
        }
        if (kShot != null && subsample != null) throw new IllegalArgumentException("--k-shot and --subsample cannot be combined");
        // the dataset is opened and the selection made before the model is loaded: a bad dataset fails fast
        ImageDataset data = datasetOptions.open();
        String dataset = datasetOptions.dataset;
        long seed = datasetOptions.seed;
        if (split != null) data = data.split(split);
        if (kShot != null) data = data.kShot(kShot, seed);
        if (subsample != null) data = data.subsample(subsample, seed);
        if (data.size() == 0) throw new IllegalArgumentException(dataset + ": the selection holds no items");
        try (Backend backend = options.open(); ClipModel clip = ClipModel.load(model, backend)) {
            clip.batchSize(options.batch);
            ImagePreprocessor pre = ImagePipelines.forModel(model, clip, imageOptions);
            String what = data.size() + " items of " + dataset + (data.view().isEmpty() ? "" : " [" + data.view() + "]");
            Tensor emb;
            boolean hit = false;
            Path entry = null;
            try (Progress bar = Progress.start("embed-dataset", data.size(), true)) {
                Optional<EmbeddingCache> cache = datasetOptions.embeddingCache();
                if (cache.isEmpty()) {
                    emb = EmbeddingCache.compute(clip, pre, data, bar::step);
                } else {
                    EmbeddingCache.Result r = cache.get().imageEmbeddings(clip, ModelIdentity.ofPath(model), Optional.empty(), pre, data, bar::step);
                    emb = r.embeddings();
                    hit = r.hit();
                    entry = r.file();
                }
            }
            try (emb) {
                if (normalize) {  // on the host: the cache's tensors live there
                    float[] v = emb.toFloatArray();
                    ClipModel.l2NormalizeRows(v, (int) emb.dim(1));
                    emb.copyFrom(v);
                }
                Npy.write(out, emb);
                if (labelsOut != null) writeLabels(data, labelsOut);
            }
            System.out.println((datasetOptions.cache == null ? "computed (no cache)" : hit ? "cache hit" : "cache miss: computed and stored")
                    + ": " + what + " -> " + out + (entry == null ? "" : " (entry " + entry + ")"));
        }
        return 0;
    }

    private static void writeLabels(ImageDataset data, Path file) throws java.io.IOException {
        int n = data.size(), k = data.numClasses();
        if (data.multiLabel()) {
            int[] v = new int[Math.multiplyExact(n, k)];
            for (int i = 0; i < n; i++) System.arraycopy(data.labelVector(i), 0, v, i * k, k);
            try (Tensor t = Tensor.ofInts(v, n, k)) {
                Npy.write(file, t);
            }
        } else {
            int[] v = new int[n];
            for (int i = 0; i < n; i++) v[i] = data.label(i);
            try (Tensor t = Tensor.ofInts(v, n)) {
                Npy.write(file, t);
            }
        }
    }
}
