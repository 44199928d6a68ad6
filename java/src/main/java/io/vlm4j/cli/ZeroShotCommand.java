package io.vlm4j.cli;

import io.vlm4j.backend.Backend;
import io.vlm4j.io.AtomicFiles;
import io.vlm4j.model.clip.ClipModel;
import io.vlm4j.model.clip.ZeroShotClassifier;
import io.vlm4j.text.Tokenizer;
import io.vlm4j.text.Tokenizers;
import java.io.BufferedWriter;
import java.io.OutputStreamWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "zero-shot", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
        description = "Per-image class probabilities from label prompts (prompt ensembling over several --template): a softmax over the "
                + "labels, or for sigmoid-loss models (SigLIP) each label's own sigmoid.")
final class ZeroShotCommand implements Callable<Integer> {
    @Option(names = "--model", required = true, description = "model directory (config.json + safetensors + tokenizer files)")
    Path model;

    @Option(names = "--images", required = true, arity = "1..*", description = "image files, directories or globs")
    List<String> images;

    @Option(names = "--labels", required = true, description = "class names, comma-separated: \"normal,pneumonia\"")
    String labels;

    @Option(names = "--template", description = "prompt with {} for the label; repeat to ensemble (default: \"a photo of a {}.\")")
    List<String> templates;

    @Option(names = "--scale",
            description = "logit scale: a number, or 'model' for exp(logit_scale) (default: 100 as open_clip's evaluation; 'model' for "
                    + "sigmoid-loss models such as SigLIP, whose probabilities are sigmoid(scale*cos + logit_bias) per label)")
    String scale;

    @Option(names = "--tokenizer", description = "directory with tokenizer files (default: the model directory)")
    Path tokenizer;

    @Option(names = "--out", description = "write image,label probabilities...,prediction as CSV here")
    Path out;

    @Mixin
    ImageOptions imageOptions;

    @Mixin
    BackendOptions options;

    @Mixin
    AdapterOption adapterOption;

    @Override
    public Integer call() throws Exception {
        List<String> classes = Arrays.stream(labels.split(",")).map(String::strip).toList();
        if (classes.stream().anyMatch(String::isEmpty)) throw new IllegalArgumentException("--labels has an empty label: \"" + labels + "\"");
        List<String> prompts = ZeroShotClassifier.templatesOrDefault(templates);
        boolean skipBad = imageOptions.skipBad();
        List<Path> files = Inputs.images(images);
        Tokenizer tok = Tokenizers.load(tokenizer != null ? tokenizer : model);
        try (Backend backend = options.open(); ClipModel clip = ClipModel.load(model, backend)) {
            adapterOption.apply(clip);
            clip.batchSize(options.batch);
            boolean sigmoid = clip.sigmoidLogits();
            String sc = scale != null ? scale : sigmoid ? "model" : "100";
            float s = sc.equalsIgnoreCase("model") ? (float) Math.exp(clip.logitScale()) : parseScale(sc);
            ZeroShotClassifier head = ZeroShotClassifier.build(clip, tok, classes, prompts, tok.defaultContext(), s);
            float[][] probs;
            List<Path> kept;
            try (Chunks.EncodedImages enc = Chunks.encodeImages(clip, ImagePipelines.forModel(model, clip, imageOptions),
                    files, options.batch, skipBad, false)) {
                ImageOptions.reportSkipped(enc.skipped(), files.size());
                probs = sigmoid ? head.sigmoidProbabilities(enc.embeddings(), clip.logitBias()) : head.probabilities(enc.embeddings());
                kept = enc.kept();
            }
            List<String> rows = new ArrayList<>();
            for (int i = 0; i < kept.size(); i++) {
                int best = 0;
                for (int c = 1; c < classes.size(); c++) if (probs[i][c] > probs[i][best]) best = c;
                StringBuilder line = new StringBuilder(kept.get(i).toString());
                for (int c = 0; c < classes.size(); c++) line.append(String.format(Locale.ROOT, " %s=%.4f", classes.get(c), probs[i][c]));
                System.out.println(line.append("  -> ").append(classes.get(best)));
                StringBuilder csv = new StringBuilder(EmbeddingOutput.csvField(kept.get(i).toString()));
                for (int c = 0; c < classes.size(); c++) csv.append(',').append(probs[i][c]);
                rows.add(csv.append(',').append(EmbeddingOutput.csvField(classes.get(best))).toString());
            }
            if (out != null) {
                AtomicFiles.write(out, os -> {
                    BufferedWriter w = new BufferedWriter(new OutputStreamWriter(os, StandardCharsets.UTF_8));
                    w.write("image");
                    for (String c : classes) w.write("," + EmbeddingOutput.csvField(c));
                    w.write(",prediction\n");
                    for (String r : rows) w.write(r + "\n");
                    w.flush();
                });
            }
        }
        return 0;
    }

    private static float parseScale(String s) {
        try {
            float v = Float.parseFloat(s);
            if (v > 0 && Float.isFinite(v)) return v;
        } catch (NumberFormatException ignored) {
            // reported below
        }
        throw new IllegalArgumentException("--scale must be a positive number or 'model', got '" + s + "'");
    }
}
