package io.vlm4j.text;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.vlm4j.testing.Golden;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * The int-id merge loop against a literal transcription of openai/CLIP {@code SimpleTokenizer.bpe} on strings, over
 * 20,000 random words of letters, accents, CJK, emoji, digits and punctuation (the test idea and word pool come from
 * the parallel tokenizer work on branch issue3-tok).
 */
class ClipBpeReferenceTest {
    static List<String> referenceBpe(String word, Map<String, Integer> ranks) {
        char[] table = ClipTokenizer.bytesToUnicode();
        List<String> w = new ArrayList<>();
        for (byte b : word.getBytes(StandardCharsets.UTF_8)) w.add(String.valueOf(table[b & 0xFF]));
        w.set(w.size() - 1, w.get(w.size() - 1) + "</w>");
        while (w.size() > 1) {
            String first = null, second = null;
            int best = Integer.MAX_VALUE;
            for (int i = 0; i < w.size() - 1; i++) {
                Integer r = ranks.get(w.get(i) + " " + w.get(i + 1));
                if (r != null && r < best) {
                    best = r;
                    first = w.get(i);
                    second = w.get(i + 1);
                }
            }
            if (first == null) break;
            List<String> next = new ArrayList<>();
            for (int i = 0; i < w.size(); ) {
                if (i < w.size() - 1 && w.get(i).equals(first) && w.get(i + 1).equals(second)) {
                    next.add(first + second);
                    i += 2;
                } else {
                    next.add(w.get(i++));
                }
            }
            w = next;
        }
        return w;
    }

    @Test
    void matchesTheStringReferenceOnRandomWords() throws Exception {
        Path dir = Golden.dir().resolve("tokenizer");
        ClipTokenizer tok = ClipTokenizer.load(dir);
        Map<String, Integer> vocab = new HashMap<>();
        new ObjectMapper().readTree(dir.resolve("vocab.json").toFile()).fields()
                .forEachRemaining(e -> vocab.put(e.getKey(), e.getValue().asInt()));
        List<String> lines = Files.readAllLines(dir.resolve("merges.txt"), StandardCharsets.UTF_8);
        Map<String, Integer> ranks = new HashMap<>();
        for (String line : lines.subList(1, ClipTokenizer.OPENAI_MERGES + 1)) ranks.putIfAbsent(line, ranks.size());
        String[] pool = {"a", "e", "i", "o", "n", "s", "t", "r", "l", "h", "th", "ing", "ation", "é", "ü", "ñ", "ß",
            "中", "文", "肺", "🙂", "🫁", "!", "-", ".", "'", "0", "7", "x", "y", "q", "aa", "ll", "ss"};
        SplittableRandom rnd = new SplittableRandom(7);
        for (int k = 0; k < 20_000; k++) {
            StringBuilder w = new StringBuilder();
            int parts = 1 + rnd.nextInt(k % 10 == 0 ? 40 : 8);
            for (int p = 0; p < parts; p++) w.append(pool[rnd.nextInt(pool.length)]);
            String word = w.toString();
            List<String> expected = referenceBpe(word, ranks);
            int[] expectedIds = expected.stream().mapToInt(vocab::get).toArray();
            assertArrayEquals(expectedIds, tok.bpe(word.getBytes(StandardCharsets.UTF_8)), word + " -> " + expected);
        }
    }
}
