package io.vlm4j.cli;

import io.vlm4j.io.Npy;
import io.vlm4j.tensor.Tensor;
import io.vlm4j.text.Tokenizer;
import io.vlm4j.text.Tokenizers;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "tokenize", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
        description = "Token ids int32 [N, context] of texts (start/end tokens, truncation, padding as the model expects).")
final class TokenizeCommand implements Callable<Integer> {
    @Option(names = "--model", required = true, description = "directory holding tokenizer files (or one tokenizer file)")
    Path model;

    @Option(names = "--texts", required = true, description = ".txt (one text per line) or .json (array of strings)")
    Path texts;

    @Option(names = "--out", required = true, description = "output int32 NumPy file [N, context]")
    Path out;

    @Option(names = "--context", description = "context length (default: the tokenizer's, 77 for CLIP)")
    Integer context;

    @Option(names = "--mask-out", description = "also write the attention mask int32 [N, context] here")
    Path maskOut;

    @Override
    public Integer call() throws Exception {
        Tokenizer tok = Tokenizers.load(model);
        List<String> list = Inputs.texts(texts);
        int ctx = context == null ? tok.defaultContext() : context;
        if (ctx < 2) throw new IllegalArgumentException("--context must be >= 2, got " + ctx);
        try (Tensor ids = tok.encodeBatch(list, ctx)) {
            Npy.write(out, ids);
        }
        if (maskOut != null) {
            try (Tensor mask = tok.attentionMasks(list, ctx)) {
                Npy.write(maskOut, mask);
            }
        }
        System.err.println("tokenized " + list.size() + " texts to " + out + " [" + list.size() + ", " + ctx + "]");
        return 0;
    }
}
