package io.vlm4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.vlm4j.io.Npy;
import io.vlm4j.tensor.Tensor;
import io.vlm4j.testing.Golden;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The CLI's contract: exit 0 / 2 (bad input) / 1 (internal), one-line "error:" messages naming the file. */
class CliTest {
    @TempDir
    Path tmp;

    record Run(int code, String out, String err) {}

    static Run run(String... args) {
        PrintStream oldOut = System.out, oldErr = System.err;
        ByteArrayOutputStream out = new ByteArrayOutputStream(), err = new ByteArrayOutputStream();
        try {
            System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
            System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
            int code = Main.run(args);
            return new Run(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
        } finally {
            System.setOut(oldOut);
            System.setErr(oldErr);
        }
    }

    @Test
    void infoListsBackendsAndWhyCudaIsUnavailable() {
        Run r = run("info");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("backend cpu: available"), r.out());
        assertTrue(r.out().contains("backend cuda: unavailable: "), r.out());
    }

    @Test
    void everyCommandHasHelp() {
        for (String cmd : new String[] {"info", "bench", "encode-images", "encode-texts"}) {
            Run r = run(cmd, "--help");
            assertEquals(0, r.code(), cmd + ": " + r.err());
            assertTrue(r.out().contains("Usage: vlm4j " + cmd), cmd + ": " + r.out());
        }
    }

    @Test
    void unknownOptionIsExit2() {
        Run r = run("encode-images", "--nope");
        assertEquals(2, r.code());
        assertTrue(r.err().startsWith("error: "), r.err());
    }

    @Test
    void missingModelDirectoryIsExit2NamingIt() throws Exception {
        Path pixels = tmp.resolve("p.npy");
        try (Tensor t = Tensor.of(new float[3 * 32 * 32], 1, 3, 32, 32)) {
            Npy.write(pixels, t);
        }
        Run r = run("encode-images", "--model", tmp.resolve("no-such-model").toString(), "--pixels", pixels.toString(),
                "--out", tmp.resolve("o.npy").toString(), "--backend", "cpu");
        assertEquals(2, r.code(), r.err());
        assertTrue(r.err().startsWith("error: ") && r.err().contains("no-such-model"), r.err());
        assertEquals(1, r.err().strip().lines().count(), r.err());
    }

    @Test
    void corruptPixelsFileIsExit2() throws Exception {
        Path pixels = tmp.resolve("bad.npy");
        Files.write(pixels, new byte[] {1, 2, 3, 4, 5});
        Run r = run("encode-images", "--model", tmp.toString(), "--pixels", pixels.toString(),
                "--out", tmp.resolve("o.npy").toString());
        assertEquals(2, r.code(), r.err());
        assertTrue(r.err().contains("bad.npy"), r.err());
    }

    @Test
    void tokenIdOutsideTheVocabularyIsExit2NamingTheFile() throws Exception {
        Path golden = Golden.dir();
        Path ids = tmp.resolve("ids.npy");
        int[] v = new int[77];
        v[0] = 49406;
        v[1] = 60000;  // vocabulary size is 49408
        v[2] = 49407;
        try (Tensor t = Tensor.ofInts(v, 1, 77)) {
            Npy.write(ids, t);
        }
        Run r = run("encode-texts", "--model", golden.resolve("models/tiny").toString(), "--ids", ids.toString(),
                "--out", tmp.resolve("o.npy").toString(), "--backend", "cpu");
        assertEquals(2, r.code(), r.err());
        assertTrue(r.err().startsWith("error: " + ids) && r.err().contains("60000"), r.err());
        assertEquals(1, r.err().strip().lines().count(), r.err());
        assertFalse(Files.exists(tmp.resolve("o.npy")));
    }

    @Test
    void cudaBackendRequestIsExit2WithReason() throws Exception {
        Run r = run("bench", "--backend", "cuda", "--arch", "ViT-B/32", "--iterations", "1");
        assertEquals(2, r.code(), r.err());
        assertTrue(r.err().contains("unavailable"), r.err());
    }

    @Test
    void benchJsonReportsEveryField() throws Exception {
        Run r = run("bench", "--arch", "ViT-B/32", "--batch", "1", "--iterations", "1", "--warmup", "0", "--json");
        assertEquals(0, r.code(), r.err());
        String[] lines = r.out().strip().split("\n");
        assertEquals(2, lines.length, r.out());
        JsonNode vision = new ObjectMapper().readTree(lines[0]);
        for (String f : new String[] {"arch", "backend", "dtype", "batch", "threads", "images_per_s", "gflops", "peak_rss_mb"}) {
            assertTrue(vision.has(f), "missing " + f + " in " + lines[0]);
        }
        assertTrue(vision.get("images_per_s").asDouble() > 0);
        assertTrue(new ObjectMapper().readTree(lines[1]).get("texts_per_s").asDouble() > 0);
    }

    @Test
    void encodeImagesAndTextsMatchGolden() throws Exception {
        Path golden = Golden.dir();
        Path fx = golden.resolve("fixtures/tiny");
        Path img = tmp.resolve("img.npy"), txt = tmp.resolve("txt.npy");
        Run a = run("encode-images", "--model", golden.resolve("models/tiny").toString(),
                "--pixels", fx.resolve("pixel_values.npy").toString(), "--out", img.toString(), "--normalize", "--batch", "3");
        assertEquals(0, a.code(), a.err());
        Run b = run("encode-texts", "--model", golden.resolve("models/tiny").toString(),
                "--ids", fx.resolve("input_ids.npy").toString(), "--out", txt.toString(), "--normalize", "--batch", "2");
        assertEquals(0, b.code(), b.err());
        try (Tensor got = Npy.readFloat32(img); Tensor want = Npy.readFloat32(fx.resolve("image_embeds_normalized.npy"))) {
            assertTrue(Golden.maxAbsDiff(want.toFloatArray(), got.toFloatArray()) < 1e-4);
        }
        try (Tensor got = Npy.readFloat32(txt); Tensor want = Npy.readFloat32(fx.resolve("text_embeds_normalized.npy"))) {
            assertTrue(Golden.maxAbsDiff(want.toFloatArray(), got.toFloatArray()) < 1e-4);
        }
    }
}
