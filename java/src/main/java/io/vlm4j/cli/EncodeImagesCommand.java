package io.vlm4j.cli;

import io.vlm4j.backend.Backend;
import io.vlm4j.io.Npy;
import io.vlm4j.model.clip.ClipModel;
import io.vlm4j.tensor.Tensor;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "encode-images", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
        description = "Image embeddings [N, E] of image files (--images) or of preprocessed pixels [N, 3, H, W] (--pixels).")
final class EncodeImagesCommand implements Callable<Integer> {
    @Option(names = "--model", required = true, description = "model directory (config.json + safetensors) or .safetensors file")
    Path model;

    static final class Source {
        @Option(names = "--pixels", required = true, description = "float32 NumPy file [N, 3, H, W], already normalized")
        Path pixels;

        @Option(names = "--images", required = true, arity = "1..*", description = "image files, directories or globs")
        List<String> images;
    }

    @ArgGroup(exclusive = true, multiplicity = "1")
    Source source;

    @Option(names = "--out", required = true, description = "output file [N, E]")
    Path out;

    @Option(names = "--format", description = "npy, csv or jsonl (default: from the --out extension, else npy)")
    String format;

    @Option(names = "--normalize", description = "L2-normalize the embeddings")
    boolean normalize;

    @Mixin
    ImageOptions imageOptions;

    @Mixin
    BackendOptions options;

    @Mixin
    AdapterOption adapterOption;

    @Override
    public Integer call() throws Exception {
        EmbeddingOutput.Format fmt = EmbeddingOutput.format(format, out);
        boolean skipBad = imageOptions.skipBad();
        List<Path> files = source.images == null ? null : Inputs.images(source.images);
        // inputs are checked before the model is loaded: a bad file fails fast and is the error reported
        Tensor pixels = files == null ? Npy.readFloat32(source.pixels) : null;
        try (pixels; Backend backend = options.open(); ClipModel clip = ClipModel.load(model, backend)) {
            adapterOption.apply(clip);
            clip.batchSize(options.batch);
            if (files != null) {
                try (Chunks.EncodedImages enc = Chunks.encodeImages(clip, ImagePipelines.forModel(model, clip, imageOptions),
                        files, options.batch, skipBad, normalize)) {
                    ImageOptions.reportSkipped(enc.skipped(), files.size());
                    if (enc.kept().isEmpty()) throw new IllegalArgumentException("no image could be read (" + files.size() + " skipped)");
                    EmbeddingOutput.write(out, fmt, enc.embeddings(), ImageOptions.names(enc.kept()));
                }
                return 0;
            }
            if (pixels.rank() != 4) {
                throw new IllegalArgumentException(source.pixels + ": expected [N, 3, H, W] pixels, got shape " + Arrays.toString(pixels.shape()));
            }
            Tensor emb;
            try {
                emb = clip.encodeImages(pixels, normalize);
            } catch (IllegalArgumentException e) {  // the pixels do not fit the model (size, channels)
                throw new IllegalArgumentException(source.pixels + ": " + e.getMessage(), e);
            }
            try (emb) {
                List<String> names = new ArrayList<>();
                for (long i = 0; i < pixels.dim(0); i++) names.add(Long.toString(i));
                EmbeddingOutput.write(out, fmt, emb, names);
            }
        }
        return 0;
    }
}
