package io.vlm4j.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.vlm4j.backend.Backend;
import io.vlm4j.data.DatasetPixels;
import io.vlm4j.data.ImageDataset;
import io.vlm4j.eval.ClassificationMetrics;
import io.vlm4j.image.ImagePreprocessor;
import io.vlm4j.io.AtomicFiles;
import io.vlm4j.lora.LoraWeights;
import io.vlm4j.model.clip.ClipModel;
import io.vlm4j.model.clip.ZeroShotClassifier;
import io.vlm4j.tensor.Tensor;
import io.vlm4j.text.Tokenizer;
import io.vlm4j.text.Tokenizers;
import io.vlm4j.train.LinearHead;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "lora-eval", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
        description = {"Accuracy of a model with a LoRA adapter on a labelled dataset: with the adapter's head.safetensors when present "
                + "(lora-train classify / zero-shot-head), else zero-shot with class prompts (the adapted text tower).",
                "DATASET: folder:PATH, csv:FILE, medmnist:FILE.npz, idx:DIR, or a path (kind recognized)."})
final class LoraEvalCommand implements Callable<Integer> {
    @Option(names = "--model", required = true, description = "base model directory")
    Path model;

    @Option(names = "--adapter", required = true, paramLabel = "DIR", description = "adapter directory written by lora-train (or any PEFT LoRA adapter)")
    Path adapter;

    @Option(names = "--dataset", required = true, paramLabel = "DATASET", description = "labelled images")
    String dataset;

    @Option(names = "--split", defaultValue = "test", description = "split to evaluate when the dataset has splits (default: ${DEFAULT-VALUE})")
    String split;

    @Option(names = "--max-items", defaultValue = "0", description = "cap, stratified (0: all)")
    int maxItems;

    @Option(names = "--template", description = "zero-shot prompt with {} (no head); repeat to ensemble (default: \"a photo of a {}.\")")
    List<String> templates;

    @Option(names = "--tokenizer", description = "directory with tokenizer files (default: the model directory)")
    Path tokenizer;

    @Option(names = "--out", description = "write the figures as JSON here")
    Path out;

    @Option(names = "--seed", defaultValue = "0", description = "seed of --max-items sampling")
    long seed;

    @Mixin
    ImageOptions imageOptions;

    @Mixin
    BackendOptions options;

    @Override
    public Integer call() throws Exception {
        ImageDataset all = io.vlm4j.data.Datasets.open(dataset);
        ImageDataset data = all.splits().contains(split) ? all.split(split) : all;
        if (maxItems > 0 && data.size() > maxItems) data = data.subsample(maxItems, seed);
        if (data.multiLabel()) throw new IllegalArgumentException("lora-eval: multi-label datasets are not supported yet");
        try (Backend backend = options.open(); ClipModel clip = ClipModel.load(model, backend)) {
            clip.batchSize(options.batch);
            try (LoraWeights w = LoraWeights.load(adapter, clip.linears())) {
                clip.mergeLora(w);
            }
            double[][] weights;
            double[] bias;
            String mode;
            if (Files.exists(adapter.resolve(LinearHead.FILE))) {
                try (LinearHead h = LinearHead.load(backend, adapter)) {
                    weights = h.weights();
                    for (double[] row : weights) for (int j = 0; j < row.length; j++) row[j] *= h.scale();
                    bias = h.biases();
                }
                mode = "head";
                if (weights.length != data.numClasses()) {
                    throw new IllegalArgumentException("the head has " + weights.length + " classes, the dataset " + data.numClasses());
                }
            } else {
                Tokenizer tok = Tokenizers.load(tokenizer != null ? tokenizer : model);
                ZeroShotClassifier zs = ZeroShotClassifier.build(clip, tok, data.classNames(),
                        ZeroShotClassifier.templatesOrDefault(templates), tok.defaultContext(),
                        ZeroShotClassifier.OPEN_CLIP_SCALE);
                weights = zs.head().classWeights();
                for (double[] row : weights) for (int j = 0; j < row.length; j++) row[j] *= zs.scale();
                bias = new double[weights.length];
                mode = "zero-shot";
            }
            ImagePreprocessor pre = ImagePipelines.forModel(model, clip, imageOptions);
            int n = data.size();
            int[] labels = new int[n];
            double[][] scores = new double[n][];
            try (Progress p = Progress.start("lora-eval", n, true)) {
                for (int start = 0; start < n; start += options.batch) {
                    int c = Math.min(options.batch, n - start);
                    try (Tensor px = DatasetPixels.preprocess(data, pre, start, c); Tensor emb = clip.encodeImages(px, true)) {
                        float[][] u = emb.toFloatRows();
                        for (int i = 0; i < c; i++) {
                            labels[start + i] = data.label(start + i);
                            double[] z = new double[weights.length];
                            for (int k = 0; k < weights.length; k++) {
                                double s = bias[k];
                                for (int j = 0; j < u[i].length; j++) s += weights[k][j] * u[i][j];
                                z[k] = s;
                            }
                            scores[start + i] = z;
                        }
                    }
                    p.step(c);
                }
            }
            io.vlm4j.eval.MulticlassReport r = ClassificationMetrics.multiclass(labels, scores, data.classNames());
            System.out.printf(Locale.ROOT, "%s (%s, %d items, %d classes): accuracy %.4f, balanced accuracy %.4f, macro F1 %.4f, macro AUROC %.4f%n",
                    data.name(), mode, n, data.numClasses(), r.accuracy(), r.balancedAccuracy(), r.macroF1(), r.macroAuroc());
            if (out != null) {
                ObjectMapper json = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
                ObjectNode o = json.createObjectNode();
                o.put("dataset", data.name()).put("view", data.view()).put("mode", mode).put("adapter", adapter.toString())
                        .put("model", model.toString());
                o.set("report", json.readTree(r.toJson()));
                byte[] bytes = json.writeValueAsBytes(o);
                AtomicFiles.write(out, os -> os.write(bytes));
            }
        }
        return 0;
    }
}
