package io.vlm4j.text;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.vlm4j.io.ModelFormatException;
import io.vlm4j.testing.Golden;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.zip.GZIPOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The three file formats, padding styles, truncation, threads and malformed files. */
class ClipTokenizerTest {
    @TempDir
    Path tmp;

    private static List<String> goldenTexts() throws Exception {
        List<String> out = new ArrayList<>();
        for (JsonNode r : ClipTokenizerGoldenTest.records()) out.add(r.get("text").asText());
        return out;
    }

    /** merges.txt lines after the header, as the golden directory holds them. */
    private static List<String> mergeLines() throws Exception {
        String[] lines = Files.readString(Golden.dir().resolve("tokenizer/merges.txt")).strip().split("\n");
        return List.of(lines).subList(1, ClipTokenizer.OPENAI_MERGES + 1);
    }

    @Test
    void tokenizerJsonAndOpenAiGzipGiveTheSameIdsAsVocabAndMerges() throws Exception {
        Path golden = Golden.dir().resolve("tokenizer");
        ClipTokenizer base = ClipTokenizer.load(golden);
        ObjectMapper m = new ObjectMapper();
        // HF fast format, merges stored as [a, b] pairs (newer files), plus an HF config with the pad token
        Path hf = Files.createDirectories(tmp.resolve("hf"));
        ObjectNode root = m.createObjectNode();
        ObjectNode model = root.putObject("model");
        model.put("type", "BPE");
        model.set("vocab", m.readTree(golden.resolve("vocab.json").toFile()));
        ArrayNode merges = model.putArray("merges");
        for (String l : mergeLines()) merges.addArray().add(l.split(" ")[0]).add(l.split(" ")[1]);
        m.writeValue(hf.resolve("tokenizer.json").toFile(), root);
        Files.writeString(hf.resolve("tokenizer_config.json"), "{\"pad_token\": \"<|endoftext|>\", \"model_max_length\": 77}");
        ClipTokenizer fromJson = ClipTokenizer.load(hf);
        assertEquals(49407, fromJson.padId(), "HF style pads with <|endoftext|>");
        // OpenAI format: a header line, then merges (the file has more lines than are used)
        Path gz = tmp.resolve("bpe_simple_vocab_16e6.txt.gz");
        try (OutputStream out = new GZIPOutputStream(Files.newOutputStream(gz))) {
            StringBuilder sb = new StringBuilder("\"bpe_simple_vocab_16e6.txt#version: 0.2\n");
            for (String l : mergeLines()) sb.append(l).append('\n');
            sb.append("un used\nextra lines\n");
            out.write(sb.toString().getBytes(StandardCharsets.UTF_8));
        }
        ClipTokenizer fromGz = ClipTokenizer.load(gz);
        assertEquals(49408, fromGz.vocabSize());
        for (String text : goldenTexts()) {
            int[] want = base.tokenize(text);
            assertArrayEquals(want, fromJson.tokenize(text), text);
            assertArrayEquals(want, fromGz.tokenize(text), text);
            int[] hfIds = fromJson.encode(text, 77).ids(), oaIds = base.encode(text, 77).ids();
            for (int i = 0; i < 77; i++) assertEquals(oaIds[i] == 0 && i > want.length ? 49407 : oaIds[i], hfIds[i], text + " @" + i);
        }
    }

    @Test
    void contextTruncationPaddingAndMask() throws Exception {
        ClipTokenizer tok = ClipTokenizer.load(Golden.dir().resolve("tokenizer"));
        Tokenizer.Encoding empty = tok.encode("", 5);
        assertArrayEquals(new int[] {49406, 49407, 0, 0, 0}, empty.ids());
        assertArrayEquals(new int[] {1, 1, 0, 0, 0}, empty.attentionMask());
        assertArrayEquals(new int[] {49406, 49407}, tok.encode("a long text that will not fit", 2).ids());
        Tokenizer.Encoding cut = tok.encode("a photo of a cat.", 4);
        assertArrayEquals(new int[] {49406, 320, 1125, 49407}, cut.ids());
        assertArrayEquals(new int[] {1, 1, 1, 1}, cut.attentionMask());
        assertThrows(IllegalArgumentException.class, () -> tok.encode("x", 1));
        assertArrayEquals(new int[] {49406, 49407}, tok.tokenize("<|startoftext|><|endoftext|>"), "special literals map to their ids");
    }

    @Test
    void parallelUseGivesTheSameIds() throws Exception {
        ClipTokenizer tok = ClipTokenizer.load(Golden.dir().resolve("tokenizer"));
        List<String> texts = goldenTexts();
        List<int[]> want = new ArrayList<>();
        ClipTokenizer reference = ClipTokenizer.load(Golden.dir().resolve("tokenizer"));
        for (String t : texts) want.add(reference.tokenize(t));
        ExecutorService pool = Executors.newFixedThreadPool(8);
        try {
            List<Future<Boolean>> jobs = new ArrayList<>();
            for (int j = 0; j < 32; j++) {
                int shift = j;
                jobs.add(pool.submit(() -> {
                    for (int k = 0; k < texts.size(); k++) {
                        int i = (k + shift * 7) % texts.size();
                        if (!java.util.Arrays.equals(want.get(i), tok.tokenize(texts.get(i)))) return false;
                    }
                    return true;
                }));
            }
            for (Future<Boolean> f : jobs) assertTrue(f.get());
        } finally {
            pool.shutdown();
        }
    }

    @Test
    void malformedFilesNameTheFileAndTheProblem() throws Exception {
        Path golden = Golden.dir().resolve("tokenizer");
        assertThrows(NoSuchFileException.class, () -> ClipTokenizer.load(tmp.resolve("none")));
        Path d1 = Files.createDirectories(tmp.resolve("d1"));
        Files.writeString(d1.resolve("vocab.json"), "{\"a\": 1,");
        Files.copy(golden.resolve("merges.txt"), d1.resolve("merges.txt"));
        ModelFormatException e = assertThrows(ModelFormatException.class, () -> ClipTokenizer.load(d1));
        assertTrue(e.getMessage().contains("vocab.json") && e.getMessage().contains("JSON"), e.getMessage());
        Path d2 = Files.createDirectories(tmp.resolve("d2"));
        Files.copy(golden.resolve("vocab.json"), d2.resolve("vocab.json"));
        assertThrows(NoSuchFileException.class, () -> ClipTokenizer.load(d2), "vocab.json without merges.txt");
        Files.writeString(d2.resolve("merges.txt"), "#version: 0.2\ni n\nzz9 qq7\n");
        e = assertThrows(ModelFormatException.class, () -> ClipTokenizer.load(d2));
        assertTrue(e.getMessage().contains("zz9"), e.getMessage());
        Files.writeString(d2.resolve("merges.txt"), "#version: 0.2\ni n\nthree sym bols\n");
        e = assertThrows(ModelFormatException.class, () -> ClipTokenizer.load(d2));
        assertTrue(e.getMessage().contains("merge 3"), e.getMessage());
        Path d3 = Files.createDirectories(tmp.resolve("d3"));
        Files.writeString(d3.resolve("vocab.json"), "{\"a\": 0}");
        Files.copy(golden.resolve("merges.txt"), d3.resolve("merges.txt"));
        e = assertThrows(ModelFormatException.class, () -> ClipTokenizer.load(d3));
        assertTrue(e.getMessage().contains("not in the vocabulary"), e.getMessage());
        Path gz = tmp.resolve("bpe_simple_vocab_16e6.txt.gz");
        Files.write(gz, new byte[] {0x1f, (byte) 0x8b, 8, 0, 1, 2});
        assertThrows(ModelFormatException.class, () -> ClipTokenizer.load(gz));
        Path d4 = Files.createDirectories(tmp.resolve("d4"));
        Files.writeString(d4.resolve("tokenizer.json"), "{\"model\": {\"type\": \"BPE\", \"vocab\": {}, \"merges\": [3]}}");
        assertThrows(ModelFormatException.class, () -> ClipTokenizer.load(d4));
        Files.copy(golden.resolve("vocab.json"), d4.resolve("vocab.json"));
        Files.copy(golden.resolve("merges.txt"), d4.resolve("merges.txt"));
        Files.delete(d4.resolve("tokenizer.json"));
        Files.writeString(d4.resolve("tokenizer_config.json"), "{\"pad_token\": \"<pad>\"}");
        e = assertThrows(ModelFormatException.class, () -> ClipTokenizer.load(d4));
        assertTrue(e.getMessage().contains("<pad>"), e.getMessage());
    }
}
