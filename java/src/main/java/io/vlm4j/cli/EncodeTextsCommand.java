package io.vlm4j.cli;

import io.vlm4j.backend.Backend;
import io.vlm4j.io.Npy;
import io.vlm4j.model.clip.ClipModel;
import io.vlm4j.tensor.Tensor;
import io.vlm4j.text.Tokenizer;
import io.vlm4j.text.Tokenizers;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "encode-texts", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
        description = "Text embeddings [N, E] of token ids [N, L] (--ids) or of texts (--texts, tokenized with the model's tokenizer).")
final class EncodeTextsCommand implements Callable<Integer> {
    @Option(names = "--model", required = true, description = "model directory (config.json + safetensors) or .safetensors file")
    Path model;

    static final class Source {
        @Option(names = "--ids", required = true, description = "int32 or int64 NumPy file [N, L] of token ids")
        Path ids;

        @Option(names = "--texts", required = true, description = ".txt (one text per line) or .json (array of strings)")
        Path texts;
    }

    @ArgGroup(exclusive = true, multiplicity = "1")
    Source source;

    @Option(names = "--tokenizer", description = "directory with tokenizer files (default: the model directory)")
    Path tokenizer;

    @Option(names = "--out", required = true, description = "output file [N, E]")
    Path out;

    @Option(names = "--format", description = "npy, csv or jsonl (default: from the --out extension, else npy)")
    String format;

    @Option(names = "--normalize", description = "L2-normalize the embeddings")
    boolean normalize;

    @Mixin
    BackendOptions options;

    @Mixin
    AdapterOption adapterOption;

    @Override
    public Integer call() throws Exception {
        EmbeddingOutput.Format fmt = EmbeddingOutput.format(format, out);
        List<String> names;
        Tensor input;
        Path inputFile;
        if (source.ids != null) {
            inputFile = source.ids;
            input = Npy.readInt32(source.ids);
            if (input.rank() != 2) {
                String shape = Arrays.toString(input.shape());
                input.close();
                throw new IllegalArgumentException(source.ids + ": expected [N, L] token ids, got shape " + shape);
            }
            names = new ArrayList<>();
            for (long i = 0; i < input.dim(0); i++) names.add(Long.toString(i));
        } else {
            inputFile = source.texts;
            names = Inputs.texts(source.texts);
            Tokenizer tok = Tokenizers.load(tokenizer != null ? tokenizer : model);
            input = tok.encodeBatch(names, tok.defaultContext());
        }
        try (input; Backend backend = options.open(); ClipModel clip = ClipModel.load(model, backend)) {
            adapterOption.apply(clip);
            clip.batchSize(options.batch);
            Tensor emb;
            try (Progress bar = Progress.start("encode-texts", input.dim(0), true)) {
                emb = clip.encodeTexts(input, normalize, bar::step);
            } catch (IllegalArgumentException e) {  // bad values in the input (e.g. a token id outside the vocabulary)
                throw new IllegalArgumentException(inputFile + ": " + e.getMessage(), e);
            }
            try (emb) {
                EmbeddingOutput.write(out, fmt, emb, names);
            }
        }
        return 0;
    }
}
