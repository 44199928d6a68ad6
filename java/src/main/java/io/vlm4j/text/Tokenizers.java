package io.vlm4j.text;

import com.fasterxml.jackson.databind.JsonNode;
import io.vlm4j.io.ModelFormatException;
import io.vlm4j.io.StrictJson;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;

/**
 * Picks the tokenizer a model directory (or a tokenizer file) holds: CLIP byte-level BPE, BERT WordPiece or SigLIP's
 * SentencePiece.
 */
public final class Tokenizers {
    private Tokenizers() {}

    /**
     * SentencePiece ({@link SentencePieceTokenizer}) for a {@code spiece.model} (or any {@code *.model} file given
     * directly), checked first: CLIP and BERT directories have none. Otherwise WordPiece when the directory has a
     * {@code vocab.txt}, or a {@code tokenizer.json} whose model type is
     * WordPiece; CLIP BPE for {@code tokenizer.json} (BPE), {@code vocab.json} + {@code merges.txt} or OpenAI's
     * {@code bpe_simple_vocab_16e6.txt.gz}. An error names the directory and what was looked for.
     */
    public static Tokenizer load(Path path) throws IOException {
        if (!Files.exists(path)) throw new NoSuchFileException(path.toString());
        Path dir = Files.isDirectory(path) ? path : path.getParent();
        String file = Files.isDirectory(path) ? null : path.getFileName().toString();
        if (file == null ? Files.isRegularFile(dir.resolve("spiece.model")) : file.endsWith(".model")) {
            return SentencePieceTokenizer.load(path);
        }
        if ("vocab.txt".equals(file) || (file == null && Files.isRegularFile(dir.resolve("vocab.txt"))
                && !Files.isRegularFile(dir.resolve("merges.txt")))) {
            return BertTokenizer.load(path);
        }
        Path json = file == null ? dir.resolve("tokenizer.json") : "tokenizer.json".equals(file) ? path : null;
        if (json != null && Files.isRegularFile(json)) {
            JsonNode root = StrictJson.parseObject(json, "tokenizer", Files.readAllBytes(json));
            String type = root.path("model").path("type").asText("");
            if (type.equals("WordPiece")) return BertTokenizer.load(path);
            if (!type.equals("BPE")) throw new ModelFormatException(json, "tokenizer model type '" + type + "' is not BPE or WordPiece");
            return ClipTokenizer.load(path);
        }
        if (file != null || Files.isRegularFile(dir.resolve("vocab.json")) || Files.isRegularFile(dir.resolve("bpe_simple_vocab_16e6.txt.gz"))) {
            return ClipTokenizer.load(path);
        }
        throw new NoSuchFileException(path.toString(), null,
                "no tokenizer files (tokenizer.json, vocab.json + merges.txt, bpe_simple_vocab_16e6.txt.gz, vocab.txt or spiece.model)");
    }
}
