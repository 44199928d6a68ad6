package io.vlm4j.cli;

import io.vlm4j.backend.Backend;
import io.vlm4j.io.Npy;
import io.vlm4j.model.clip.ClipModel;
import io.vlm4j.tensor.Tensor;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "encode-images", mixinStandardHelpOptions = true, versionProvider = Main.Version.class, description = "Image embeddings [N, E] of preprocessed pixels [N, 3, H, W].")
final class EncodeImagesCommand implements Callable<Integer> {
    @Option(names = "--model", required = true, description = "model directory (config.json + safetensors) or .safetensors file")
    Path model;

    @Option(names = "--pixels", required = true, description = "float32 NumPy file [N, 3, H, W], already normalized")
    Path pixels;

    @Option(names = "--out", required = true, description = "output float32 NumPy file [N, E]")
    Path out;

    @Option(names = "--normalize", description = "L2-normalize the embeddings")
    boolean normalize;

    @Mixin
    BackendOptions options;

    @Override
    public Integer call() throws Exception {
        try (Tensor input = Npy.readFloat32(pixels); Backend backend = options.open();
             ClipModel clip = ClipModel.load(model, backend)) {
            clip.batchSize(options.batch);
            if (input.rank() != 4) throw new IllegalArgumentException(pixels + ": expected [N, 3, H, W] pixels, got shape " + java.util.Arrays.toString(input.shape()));
            Tensor emb;
            try {
                emb = clip.encodeImages(input, normalize);
            } catch (IllegalArgumentException e) {  // bad values in the input file (e.g. a token id outside the vocabulary)
                throw new IllegalArgumentException(pixels + ": " + e.getMessage(), e);
            }
            try (emb) {
                Npy.write(out, emb);
            }
        }
        return 0;
    }
}
