package io.vlm4j.text;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.vlm4j.testing.Golden;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The 200 cases of ../shared/golden/tokenizer/cases.json (OpenAI SimpleTokenizer + clip.tokenize(truncate=True)). */
class ClipTokenizerGoldenTest {
    static JsonNode records() throws Exception {
        return new ObjectMapper().readTree(Golden.dir().resolve("tokenizer/cases.json").toFile()).get("records");
    }

    static int[] ints(JsonNode a) {
        int[] v = new int[a.size()];
        for (int i = 0; i < v.length; i++) v[i] = a.get(i).asInt();
        return v;
    }

    /** Every case: cleaned text, BPE pieces, raw ids and the wrapped, truncated, zero-padded 77 ids. */
    @Test
    void allGoldenCasesMatchExactly() throws Exception {
        Path dir = Golden.dir().resolve("tokenizer");
        ClipTokenizer tok = ClipTokenizer.load(dir);
        assertEquals(0, tok.padId(), "no tokenizer_config.json: OpenAI padding");
        assertEquals(77, tok.defaultContext());
        List<String> failures = new ArrayList<>();
        int n = 0, cleanedOk = 0, piecesOk = 0, idsOk = 0, wrappedOk = 0;
        for (JsonNode r : records()) {
            n++;
            String text = r.get("text").asText();
            boolean c = TextCleaner.clean(text).equals(r.get("cleaned").asText());
            int[] ids = tok.tokenize(text);
            List<String> pieces = new ArrayList<>();
            for (int id : ids) pieces.add(tok.piece(id));
            List<String> wantPieces = new ArrayList<>();
            r.get("bpe_tokens").forEach(p -> wantPieces.add(p.asText()));
            boolean p = pieces.equals(wantPieces);
            boolean i = java.util.Arrays.equals(ints(r.get("ids")), ids);
            boolean w = java.util.Arrays.equals(ints(r.get("ids_wrapped_77")), tok.encode(text, 77).ids());
            cleanedOk += c ? 1 : 0;
            piecesOk += p ? 1 : 0;
            idsOk += i ? 1 : 0;
            wrappedOk += w ? 1 : 0;
            if (!(c && p && i && w)) {
                failures.add(String.format("%s: cleaned %s (%s), pieces %s vs %s", jsonString(text), c,
                        jsonString(TextCleaner.clean(text)), pieces, wantPieces));
            }
        }
        System.out.printf("[golden tokenizer] %d cases: cleaned %d, pieces %d, raw ids %d, ids_wrapped_77 %d exact%n",
                n, cleanedOk, piecesOk, idsOk, wrappedOk);
        assertEquals(200, n);
        assertEquals(List.of(), failures);
    }

    private static String jsonString(String s) {
        try {
            return new ObjectMapper().writeValueAsString(s);
        } catch (Exception e) {
            return s;
        }
    }

    @Test
    void specTestVectors() throws Exception {
        ClipTokenizer tok = ClipTokenizer.load(Golden.dir().resolve("tokenizer"));
        // spec 03 §8 (OpenAI cleaning)
        assertArrayEquals(new int[] {320, 1125, 539, 320, 2368, 269}, tok.tokenize("a photo of a cat."));
        assertArrayEquals(new int[] {585, 568, 273, 271, 273, 275, 748}, tok.tokenize("It's 2024!!"));
        assertArrayEquals(new int[] {3306, 1002}, tok.tokenize("hello   world\n"));
        assertArrayEquals(new int[] {45129, 261, 534, 1015}, tok.tokenize("tumour &amp; lesion"));
        assertArrayEquals(new int[] {343, 268, 3077, 261, 1122}, tok.tokenize("x-ray &amp;amp; ct"));
        assertArrayEquals(new int[] {585, 568, 320, 2368}, tok.tokenize("it\u2019s a cat"));
    }
}
