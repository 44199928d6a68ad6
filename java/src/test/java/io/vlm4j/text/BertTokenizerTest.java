package io.vlm4j.text;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.vlm4j.io.ModelFormatException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * WordPiece against Hugging Face's slow BertTokenizer: java/src/test/resources/io/vlm4j/text/wordpiece holds a small
 * vocabulary and HF's ids for 29 texts (models/scripts/gen_wordpiece_fixture.py), plus hand-checked cases.
 */
class BertTokenizerTest {
    @TempDir
    Path tmp;

    private Path fixtureDir() throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("wp"));
        for (String f : new String[] {"vocab.txt", "cases.json"}) {
            try (var in = getClass().getResourceAsStream("wordpiece/" + f)) {
                Files.copy(in, dir.resolve(f));
            }
        }
        return dir;
    }

    private static int[] ints(JsonNode a) {
        int[] v = new int[a.size()];
        for (int i = 0; i < v.length; i++) v[i] = a.get(i).asInt();
        return v;
    }

    @Test
    void matchesHuggingFaceOnEveryFixtureCase() throws Exception {
        Path dir = fixtureDir();
        BertTokenizer tok = BertTokenizer.load(dir);
        JsonNode cases = new ObjectMapper().readTree(dir.resolve("cases.json").toFile()).get("cases");
        int n = 0;
        for (JsonNode c : cases) {
            String text = c.get("text").asText();
            assertArrayEquals(ints(c.get("ids")), tok.tokenize(text), "ids of " + text);
            assertArrayEquals(ints(c.get("ids_16")), tok.encode(text, 16).ids(), "[CLS] ids [SEP] [PAD]... of " + text);
            n++;
        }
        System.out.println("[wordpiece] " + n + " HF cases exact");
        assertEquals(29, n);
    }

    /** The classic HF test vocabulary and expectations (tests/models/bert/test_tokenization_bert.py). */
    @Test
    void handCheckedCases() throws Exception {
        List<String> vocab = List.of("[UNK]", "[CLS]", "[SEP]", "[PAD]", "[MASK]", "want", "##want", "##ed", "wa", "un", "runn",
                "##ing", ",", "low", "lowest");
        BertTokenizer tok = new BertTokenizer(vocab, BertTokenizer.Options.UNCASED, Path.of("test-vocab"));
        // "UNwant\u00E9d,running" -> un ##want ##ed , runn ##ing
        assertArrayEquals(new int[] {9, 6, 7, 12, 10, 11}, tok.tokenize("UNwant\u00E9d,running"));
        assertArrayEquals(new int[] {0}, tok.tokenize("unwantedX"), "no match for ##X: the whole word is [UNK]");
        assertArrayEquals(new int[] {0, 10, 11}, tok.tokenize("unwantedX running"));
        assertArrayEquals(new int[] {13, 14}, tok.tokenize("low lowest"));
        assertEquals(List.of("hello", "!", "how", "are", "you", "?"), tok.basicTokens(" \tHeLLo!how  \n Are yoU?  "));
        assertEquals(List.of("\u4e2d", "\u6587", "ab"), tok.basicTokens("\u4e2d\u6587ab"), "CJK characters split");
        assertEquals(List.of("hallo", "!", "how", "are", "you", "?"), tok.basicTokens(" \tH\u00e4LLo!how  \n Are yoU?  "), "accents stripped");
        BertTokenizer cased = new BertTokenizer(vocab, new BertTokenizer.Options(false, null, true, 100, 512, false), Path.of("v"));
        assertEquals(List.of("H\u00e4LLo", "!"), cased.basicTokens("H\u00e4LLo!"), "cased: no lowercasing, accents kept");
        BertTokenizer shortWords = new BertTokenizer(vocab, new BertTokenizer.Options(true, null, true, 5, 512, false), Path.of("v"));
        assertArrayEquals(new int[] {13, 0}, shortWords.tokenize("low lowest"), "a word over 5 characters is [UNK]");
        assertArrayEquals(new int[] {1, 9, 2, 3, 3}, tok.encode("un", 5).ids());
        assertArrayEquals(new int[] {1, 1, 1, 0, 0}, tok.encode("un", 5).attentionMask());
        assertArrayEquals(new int[] {1, 9, 2}, tok.encode("un want low", 3).ids(), "truncation keeps [SEP] last");
        assertArrayEquals(new int[] {1, 13, 2, 13}, tok.tokenize("[CLS]low[SEP] low"), "specials in the text stay whole");
    }

    @Test
    void vocabTxtAndTokenizerJsonAgree() throws Exception {
        Path dir = fixtureDir();
        BertTokenizer fromTxt = BertTokenizer.load(dir.resolve("vocab.txt"));
        List<String> tokens = Files.readAllLines(dir.resolve("vocab.txt"));
        ObjectMapper m = new ObjectMapper();
        ObjectNode root = m.createObjectNode();
        ObjectNode model = root.putObject("model");
        model.put("type", "WordPiece");
        model.put("unk_token", "[UNK]");
        model.put("max_input_chars_per_word", 100);
        ObjectNode v = model.putObject("vocab");
        for (int i = 0; i < tokens.size(); i++) v.put(tokens.get(i), i);
        root.putObject("normalizer").put("type", "BertNormalizer").put("lowercase", true);
        Path json = Files.createDirectories(tmp.resolve("json")).resolve("tokenizer.json");
        m.writeValue(json.toFile(), root);
        BertTokenizer fromJson = BertTokenizer.load(json.getParent());
        for (JsonNode c : m.readTree(dir.resolve("cases.json").toFile()).get("cases")) {
            assertArrayEquals(fromTxt.tokenize(c.get("text").asText()), fromJson.tokenize(c.get("text").asText()));
        }
        Files.writeString(dir.resolve("tokenizer_config.json"), "{\"do_lower_case\": false, \"model_max_length\": 256}");
        BertTokenizer cased = BertTokenizer.load(dir);
        assertEquals(256, cased.defaultContext());
        assertTrue(!cased.options().lowerCase());
    }

    @Test
    void parallelEncodingEqualsSequential() throws Exception {
        BertTokenizer tok = BertTokenizer.load(fixtureDir());
        List<String> texts = new ArrayList<>();
        for (int i = 0; i < 500; i++) texts.add("chest x-ray " + i + " showing pneumonia \u80f8\u90e8 caf\u00e9 #" + (i % 7));
        int[][] seq = texts.stream().map(t -> tok.encode(t, 32).ids()).toArray(int[][]::new);
        int[][] par = IntStream.range(0, texts.size()).parallel().mapToObj(i -> tok.encode(texts.get(i), 32).ids()).toArray(int[][]::new);
        assertArrayEquals(seq, par);
    }

    @Test
    void malformedVocabulariesAreRejectedNamingTheFile() throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("bad"));
        Path v = dir.resolve("vocab.txt");
        Files.writeString(v, "");
        ModelFormatException e = assertThrows(ModelFormatException.class, () -> BertTokenizer.load(dir));
        assertTrue(e.getMessage().contains("vocab.txt") && e.getMessage().contains("empty"), e.getMessage());
        Files.writeString(v, "[PAD]\n[CLS]\n[SEP]\nword\n");
        e = assertThrows(ModelFormatException.class, () -> BertTokenizer.load(dir));
        assertTrue(e.getMessage().contains("[UNK]"), e.getMessage());
        Files.writeString(v, "[PAD]\n[UNK]\n[CLS]\n[SEP]\nword\nword\n");
        e = assertThrows(ModelFormatException.class, () -> BertTokenizer.load(dir));
        assertTrue(e.getMessage().contains("lines 5 and 6"), e.getMessage());
        Files.write(v, new byte[] {(byte) 0xFF, (byte) 0xFE, 0x41});
        assertThrows(ModelFormatException.class, () -> BertTokenizer.load(dir));
        Files.delete(v);
        Files.writeString(dir.resolve("tokenizer.json"), "{\"model\": {\"type\": \"WordPiece\", \"vocab\": {\"a\": 0, \"b\": 0}}}");
        assertThrows(ModelFormatException.class, () -> BertTokenizer.load(dir));
        Files.writeString(dir.resolve("tokenizer.json"), "{\"model\": {\"type\": \"WordPiece\"");
        assertThrows(ModelFormatException.class, () -> BertTokenizer.load(dir));
    }
}
