package io.vlm4j.text;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Compares with Hugging Face output recorded by models/scripts/make_bert_fixture.py (transformers 5.17 /
 * tokenizers 0.23 BertTokenizer): 58 texts (accents, CJK, controls, Unicode whitespace and punctuation, special
 * tokens, over-long words, truncation) under 4 normalizer settings, on the committed 218-token vocab.txt. For each
 * text: the ids without special tokens, and the encoding at context 12 (truncation and padding) with its mask.
 */
class BertHfFixtureTest {
    static Path resource(String name) throws Exception {
        return Path.of(BertHfFixtureTest.class.getResource("bert/" + name).toURI());
    }

    static JsonNode fixture() throws Exception {
        return new ObjectMapper().readTree(Files.readString(resource("hf_expected.json"), StandardCharsets.US_ASCII));
    }

    static int[] ints(JsonNode a) {
        int[] r = new int[a.size()];
        for (int i = 0; i < r.length; i++) r[i] = a.get(i).asInt();
        return r;
    }

    static BertTokenizer.Options options(JsonNode config) {
        JsonNode strip = config.get("strip_accents");
        return new BertTokenizer.Options(config.get("lowercase").asBoolean(), strip.isNull() ? null : strip.asBoolean(),
                config.get("tokenize_chinese_chars").asBoolean(), 100, 512, false);
    }

    /** Runs every case of a config; returns the number checked. */
    static int check(JsonNode config, BertTokenizer t, int context) {
        int n = 0;
        for (JsonNode c : config.get("cases")) {
            String text = c.get("text").asText();
            String what = config.get("name").asText() + " " + c.get("tokens") + " <- " + c.get("text");
            assertArrayEquals(ints(c.get("ids")), t.tokenize(text), what);
            Tokenizer.Encoding e = t.encode(text, context);
            assertArrayEquals(ints(c.get("encoded")), e.ids(), what);
            assertArrayEquals(ints(c.get("mask")), e.attentionMask(), what);
            n++;
        }
        return n;
    }

    @Test
    void matchesHuggingFaceOnEveryFixtureCase() throws Exception {
        JsonNode f = fixture();
        List<String> vocab = Files.readAllLines(resource("vocab.txt"), StandardCharsets.UTF_8);
        int context = f.get("context").asInt();
        int total = 0;
        for (JsonNode config : f.get("configs")) {
            total += check(config, new BertTokenizer(vocab, options(config), resource("vocab.txt")), context);
        }
        System.out.println("[wordpiece] " + total + " HF cases (4 normalizer settings) exact");
        assertEquals(4 * 58, total);
    }

    @Test
    void vocabTxtAndTokenizerJsonLoadTheSameTokenizer() throws Exception {
        JsonNode uncased = fixture().get("configs").get(0);
        assertEquals("uncased", uncased.get("name").asText());
        int context = fixture().get("context").asInt();
        BertTokenizer fromTxt = BertTokenizer.load(resource("vocab.txt"));      // transformers' defaults
        BertTokenizer fromJson = BertTokenizer.load(resource("hf-uncased"));    // save_pretrained output
        assertEquals(58, check(uncased, fromTxt, context));
        assertEquals(58, check(uncased, fromJson, context));
        assertEquals(218, fromTxt.vocabSize());
        assertEquals(fromTxt.vocabSize(), fromJson.vocabSize());
        assertEquals(512, fromJson.defaultContext(), "HF's model_max_length 1e30 means no limit: 512");
    }
}
