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

@Command(name = "encode-texts", mixinStandardHelpOptions = true, versionProvider = Main.Version.class, description = "Text embeddings [N, E] of token ids [N, L].")
final class EncodeTextsCommand implements Callable<Integer> {
    @Option(names = "--model", required = true, description = "model directory (config.json + safetensors) or .safetensors file")
    Path model;

    @Option(names = "--ids", required = true, description = "int32 or int64 NumPy file [N, L] of token ids")
    Path ids;

    @Option(names = "--out", required = true, description = "output float32 NumPy file [N, E]")
    Path out;

    @Option(names = "--normalize", description = "L2-normalize the embeddings")
    boolean normalize;

    @Mixin
    BackendOptions options;

    @Override
    public Integer call() throws Exception {
        try (Tensor input = Npy.readInt32(ids); Backend backend = options.open();
             ClipModel clip = ClipModel.load(model, backend)) {
            clip.batchSize(options.batch);
            if (input.rank() != 2) throw new IllegalArgumentException(ids + ": expected [N, L] token ids, got shape " + java.util.Arrays.toString(input.shape()));
            Tensor emb;
            try {
                emb = clip.encodeTexts(input, normalize);
            } catch (IllegalArgumentException e) {  // bad values in the input file (e.g. a token id outside the vocabulary)
                throw new IllegalArgumentException(ids + ": " + e.getMessage(), e);
            }
            try (emb) {
                Npy.write(out, emb);
            }
        }
        return 0;
    }
}
