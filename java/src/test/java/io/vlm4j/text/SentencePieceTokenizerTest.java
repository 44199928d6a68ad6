package io.vlm4j.text;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.Function;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Compares with the output recorded by models/scripts/make_sentencepiece_fixtures.py (sentencepiece 0.2.2,
 * transformers 5.17 SiglipTokenizer) on two small trained unigram models: {@code sentencepiece/} (nmt_nfkc charsmap,
 * T5's special ids, as SigLIP's spiece.model) and {@code sentencepiece/bytefallback/} (identity normalization, byte
 * fallback, user-defined symbols, no dummy prefix, spaces kept). Each case checks the raw SentencePiece pieces and
 * ids, and for the SigLIP model also HF's tokens and the padded encodings at context 64 and 8 with their masks.
 */
class SentencePieceTokenizerTest {
    static Path resource(String name) throws Exception {
        return Path.of(SentencePieceTokenizerTest.class.getResource("/sentencepiece/" + name).toURI());
    }

    static JsonNode cases(String name) throws Exception {
        return new ObjectMapper().readTree(Files.readString(resource(name), StandardCharsets.US_ASCII)).get("cases");
    }

    static List<Integer> ints(JsonNode a) {
        List<Integer> r = new ArrayList<>();
        a.forEach(v -> r.add(v.asInt()));
        return r;
    }

    static List<String> strings(JsonNode a) {
        List<String> r = new ArrayList<>();
        a.forEach(v -> r.add(v.asText()));
        return r;
    }

    static List<Integer> list(int[] a) {
        return Arrays.stream(a).boxed().toList();
    }

    /** Runs {@code actual} on every case and collects "text: expected ≠ actual" lines for {@code field}. */
    static void compare(JsonNode cases, String field, Function<String, Object> actual, Function<JsonNode, Object> expected,
                        List<String> failures) {
        for (JsonNode c : cases) {
            String text = c.get("text").asText();
            Object want = expected.apply(c.get(field)), got = actual.apply(text);
            if (!want.equals(got)) failures.add(field + " of " + new ObjectMapper().valueToTree(text) + ": expected " + want + ", got " + got);
        }
    }

    @Test
    void siglipModelMatchesSentencePieceAndHuggingFaceOnEveryCase() throws Exception {
        JsonNode cases = cases("cases.json");
        assertTrue(cases.size() >= 150, "fixture has " + cases.size() + " cases");
        SentencePieceTokenizer tok = (SentencePieceTokenizer) Tokenizers.load(resource("spiece.model").getParent());
        SentencePieceModel model = SentencePieceModel.load(resource("spiece.model"));
        List<String> failures = new ArrayList<>();
        compare(cases, "spm", t -> list(tok.sentencePieceIds(t)), SentencePieceTokenizerTest::ints, failures);
        compare(cases, "spm_pieces", t -> model.encode(t).stream().map(SentencePieceModel.Piece::piece).toList(),
                SentencePieceTokenizerTest::strings, failures);
        compare(cases, "tokens", tok::tokens, SentencePieceTokenizerTest::strings, failures);
        compare(cases, "ids", t -> list(tok.encode(t, 64).ids()), SentencePieceTokenizerTest::ints, failures);
        compare(cases, "mask", t -> list(tok.encode(t, 64).attentionMask()), SentencePieceTokenizerTest::ints, failures);
        compare(cases, "ids_8", t -> list(tok.encode(t, 8).ids()), SentencePieceTokenizerTest::ints, failures);
        compare(cases, "mask_8", t -> list(tok.encode(t, 8).attentionMask()), SentencePieceTokenizerTest::ints, failures);
        assertEquals(List.of(), failures, failures.size() + " mismatches");
    }

    @Test
    void byteFallbackModelMatchesSentencePieceOnEveryCase() throws Exception {
        JsonNode cases = cases("bytefallback/cases.json");
        assertTrue(cases.size() >= 150, "fixture has " + cases.size() + " cases");
        SentencePieceModel model = SentencePieceModel.load(resource("bytefallback/spiece.model"));
        SentencePieceTokenizer tok = SentencePieceTokenizer.load(resource("bytefallback/spiece.model"));  // no config
        List<String> failures = new ArrayList<>();
        compare(cases, "spm", t -> list(model.encodeIds(t)), SentencePieceTokenizerTest::ints, failures);
        compare(cases, "pieces", t -> model.encode(t).stream().map(SentencePieceModel.Piece::piece).toList(),
                SentencePieceTokenizerTest::strings, failures);
        compare(cases, "tokens", tok::tokens, SentencePieceTokenizerTest::strings, failures);
        compare(cases, "ids_16", t -> list(tok.encode(t, 16).ids()), SentencePieceTokenizerTest::ints, failures);
        compare(cases, "mask_16", t -> list(tok.encode(t, 16).attentionMask()), SentencePieceTokenizerTest::ints, failures);
        assertEquals(List.of(), failures, failures.size() + " mismatches");
        // the fixture exercises what this model is for: byte pieces and a user-defined symbol
        assertTrue(list(model.encodeIds("肺炎 x-ray")).stream().anyMatch(id -> model.type(id) == SentencePieceModel.Type.BYTE));
        assertTrue(list(model.encodeIds("a x-ray")).stream().anyMatch(id -> model.type(id) == SentencePieceModel.Type.USER_DEFINED));
    }

    /** Ties, float rounding, UNUSED and USER_DEFINED pieces, on a hand-built model whose scores make them matter. */
    @Test
    void handmadeModelMatchesSentencePieceOnTiesRoundingAndPieceTypes() throws Exception {
        JsonNode cases = cases("handmade/cases.json");
        assertTrue(cases.size() >= 30, "fixture has " + cases.size() + " cases");
        SentencePieceModel model = SentencePieceModel.load(resource("handmade/spiece.model"));
        List<String> failures = new ArrayList<>();
        compare(cases, "spm", t -> list(model.encodeIds(t)), SentencePieceTokenizerTest::ints, failures);
        compare(cases, "pieces", t -> model.encode(t).stream().map(SentencePieceModel.Piece::piece).toList(),
                SentencePieceTokenizerTest::strings, failures);
        assertEquals(List.of(), failures, failures.size() + " mismatches");
    }

    @Test
    void siglipSettingsComeFromTheConfigAndDefaults(@TempDir Path dir) throws Exception {
        SentencePieceTokenizer tok = SentencePieceTokenizer.load(resource("spiece.model"));
        assertEquals(64, tok.defaultContext());
        assertEquals(1, tok.padId());
        assertEquals(1, tok.eosId());
        assertEquals(500, tok.vocabSize());
        assertEquals(List.of(1), list(tok.encode("hello", 1).ids()));

        // without tokenizer_config.json: SiglipTokenizer's defaults, the same ids
        Files.copy(resource("spiece.model"), dir.resolve("spiece.model"));
        Tokenizer plain = Tokenizers.load(dir);
        assertEquals(64, plain.defaultContext());
        assertEquals(list(tok.encode("A Chest X-Ray.", 64).ids()), list(plain.encode("A Chest X-Ray.", 64).ids()));

        Files.writeString(dir.resolve("tokenizer_config.json"), "{\"do_lower_case\": false, \"model_max_length\": 16, \"pad_token\": \"<pad>\"}");
        Tokenizer cased = Tokenizers.load(dir);
        assertEquals(16, cased.defaultContext());
        assertEquals(0, cased.padId());
        Tokenizer.Encoding e = cased.encode("Hello", 16);  // HF SiglipTokenizer with this config, transformers 5.17
        assertEquals(List.of(14, 164, 312, 111, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0), list(e.ids()));
        assertEquals(List.of(1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0), list(e.attentionMask()));

        Files.writeString(dir.resolve("tokenizer_config.json"), "{\"tokenizer_class\": \"T5Tokenizer\"}");
        var ex = org.junit.jupiter.api.Assertions.assertThrows(io.vlm4j.io.ModelFormatException.class, () -> Tokenizers.load(dir));
        assertTrue(ex.getMessage().contains("tokenizer_config.json") && ex.getMessage().contains("T5Tokenizer"), ex.getMessage());
    }

    @Test
    void tokenizersPickSentencePieceForSpieceModelAndStillBertForItsDirectories() throws Exception {
        assertInstanceOf(SentencePieceTokenizer.class, Tokenizers.load(resource("spiece.model")));
        assertInstanceOf(SentencePieceTokenizer.class, Tokenizers.load(resource("spiece.model").getParent()));
        Path bert = Path.of(getClass().getResource("bert/vocab.txt").toURI()).getParent();
        assertInstanceOf(BertTokenizer.class, Tokenizers.load(bert));
        assertInstanceOf(BertTokenizer.class, Tokenizers.load(bert.resolve("hf-uncased")));
    }
}
