package io.vlm4j.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.vlm4j.io.Npy;
import io.vlm4j.tensor.Tensor;
import io.vlm4j.testing.Cli;
import io.vlm4j.testing.Cli.Run;
import io.vlm4j.testing.Golden;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The CLI's contract: exit 0 / 2 (bad input) / 1 (internal), one-line "error:" messages naming the file. */
class CliTest {
    @TempDir
    Path tmp;

    @Test
    void infoListsBackendsAndWhyCudaIsUnavailable() {
        Run r = Cli.run("info");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("backend cpu: available"), r.out());
        assertTrue(r.out().contains("backend cuda: unavailable: "), r.out());
    }

    @Test
    void everyCommandHasHelp() {
        for (String cmd : new String[] {"info", "bench", "encode-images", "encode-texts"}) {
            Run r = Cli.run(cmd, "--help");
            assertEquals(0, r.code(), cmd + ": " + r.err());
            assertTrue(r.out().contains("Usage: vlm4j " + cmd), cmd + ": " + r.out());
        }
    }

    @Test
    void unknownOptionIsExit2() {
        Run r = Cli.run("encode-images", "--nope");
        assertEquals(2, r.code());
        assertTrue(r.err().startsWith("error: "), r.err());
    }

    @Test
    void missingModelDirectoryIsExit2NamingIt() throws Exception {
        Path pixels = tmp.resolve("p.npy");
        try (Tensor t = Tensor.of(new float[3 * 32 * 32], 1, 3, 32, 32)) {
            Npy.write(pixels, t);
        }
        Run r = Cli.run("encode-images", "--model", tmp.resolve("no-such-model").toString(), "--pixels", pixels.toString(),
                "--out", tmp.resolve("o.npy").toString(), "--backend", "cpu");
        assertEquals(2, r.code(), r.err());
        assertTrue(r.err().startsWith("error: ") && r.err().contains("no-such-model"), r.err());
        assertEquals(1, r.err().strip().lines().count(), r.err());
    }

    @Test
    void corruptPixelsFileIsExit2() throws Exception {
        Path pixels = tmp.resolve("bad.npy");
        Files.write(pixels, new byte[] {1, 2, 3, 4, 5});
        Run r = Cli.run("encode-images", "--model", tmp.toString(), "--pixels", pixels.toString(),
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
        Run r = Cli.run("encode-texts", "--model", golden.resolve("models/tiny").toString(), "--ids", ids.toString(),
                "--out", tmp.resolve("o.npy").toString(), "--backend", "cpu");
        assertEquals(2, r.code(), r.err());
        assertTrue(r.err().startsWith("error: " + ids) && r.err().contains("60000"), r.err());
        assertEquals(1, r.err().strip().lines().count(), r.err());
        assertFalse(Files.exists(tmp.resolve("o.npy")));
    }

    @Test
    void cudaBackendRequestIsExit2WithReason() throws Exception {
        Run r = Cli.run("bench", "--backend", "cuda", "--arch", "ViT-B/32", "--iterations", "1");
        assertEquals(2, r.code(), r.err());
        assertTrue(r.err().contains("unavailable"), r.err());
    }

    @Test
    void benchJsonReportsEveryField() throws Exception {
        Run r = Cli.run("bench", "--arch", "ViT-B/32", "--batch", "1", "--iterations", "1", "--warmup", "0", "--json");
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
        Run a = Cli.run("encode-images", "--model", golden.resolve("models/tiny").toString(),
                "--pixels", fx.resolve("pixel_values.npy").toString(), "--out", img.toString(), "--normalize", "--batch", "3");
        assertEquals(0, a.code(), a.err());
        Run b = Cli.run("encode-texts", "--model", golden.resolve("models/tiny").toString(),
                "--ids", fx.resolve("input_ids.npy").toString(), "--out", txt.toString(), "--normalize", "--batch", "2");
        assertEquals(0, b.code(), b.err());
        try (Tensor got = Npy.readFloat32(img); Tensor want = Npy.readFloat32(fx.resolve("image_embeds_normalized.npy"))) {
            assertTrue(Golden.maxAbsDiff(want.toFloatArray(), got.toFloatArray()) < 1e-4);
        }
        try (Tensor got = Npy.readFloat32(txt); Tensor want = Npy.readFloat32(fx.resolve("text_embeds_normalized.npy"))) {
            assertTrue(Golden.maxAbsDiff(want.toFloatArray(), got.toFloatArray()) < 1e-4);
        }
    }

    private static final List<String> GOLDEN_PROMPTS = List.of("a chest x-ray showing pneumonia", "a histopathology image of benign tissue",
            "an MRI scan of a brain tumor", "a dermoscopy image of melanoma", "A photo of a Normal retina, fundus image!!");

    /** End to end on the tiny golden model: texts -> tokenize -> ids equal the golden ids; encode-texts equals the embeddings. */
    @Test
    void textsEndToEndMatchGolden() throws Exception {
        Path golden = Golden.dir();
        Path texts = tmp.resolve("prompts.txt"), ids = tmp.resolve("ids.npy"), emb = tmp.resolve("emb.npy");
        Files.writeString(texts, String.join("\n", GOLDEN_PROMPTS) + "\n");
        Run t = Cli.run("tokenize", "--model", golden.resolve("tokenizer").toString(), "--texts", texts.toString(), "--out", ids.toString());
        assertEquals(0, t.code(), t.err());
        try (Tensor got = Npy.readInt32(ids); Tensor want = Npy.readInt32(golden.resolve("fixtures/tiny/input_ids.npy"))) {
            assertArrayEquals(want.toIntArray(), got.toIntArray());
        }
        Run e = Cli.run("encode-texts", "--model", golden.resolve("models/tiny").toString(), "--tokenizer", golden.resolve("tokenizer").toString(),
                "--texts", texts.toString(), "--out", emb.toString(), "--normalize", "--backend", "cpu");
        assertEquals(0, e.code(), e.err());
        try (Tensor got = Npy.readFloat32(emb); Tensor want = Npy.readFloat32(golden.resolve("fixtures/tiny/text_embeds_normalized.npy"))) {
            assertTrue(Golden.maxAbsDiff(want.toFloatArray(), got.toFloatArray()) < 1e-4);
        }
    }

    /** tokenize on the SigLIP SentencePiece fixture: ids and masks [N, 64] equal HF SiglipTokenizer's (cases.json). */
    @Test
    void tokenizeSentencePieceDirectoryMatchesHuggingFace() throws Exception {
        Path dir = Path.of(getClass().getResource("/sentencepiece/spiece.model").toURI()).getParent();
        JsonNode cases = new ObjectMapper().readTree(dir.resolve("cases.json").toFile()).get("cases");
        com.fasterxml.jackson.databind.node.ArrayNode texts = new ObjectMapper().createArrayNode();
        java.util.List<Integer> wantIds = new java.util.ArrayList<>(), wantMask = new java.util.ArrayList<>();
        for (JsonNode c : cases) {
            texts.add(c.get("text").asText());
            c.get("ids").forEach(v -> wantIds.add(v.asInt()));
            c.get("mask").forEach(v -> wantMask.add(v.asInt()));
        }
        Path json = tmp.resolve("texts.json"), ids = tmp.resolve("sp_ids.npy"), mask = tmp.resolve("sp_mask.npy");
        Files.writeString(json, texts.toString());
        Run t = Cli.run("tokenize", "--model", dir.toString(), "--texts", json.toString(), "--out", ids.toString(), "--mask-out", mask.toString());
        assertEquals(0, t.code(), t.err());
        try (Tensor gotIds = Npy.readInt32(ids); Tensor gotMask = Npy.readInt32(mask)) {
            assertArrayEquals(new long[] {cases.size(), 64}, gotIds.shape());
            assertArrayEquals(wantIds.stream().mapToInt(Integer::intValue).toArray(), gotIds.toIntArray());
            assertArrayEquals(wantMask.stream().mapToInt(Integer::intValue).toArray(), gotMask.toIntArray());
        }
    }

    /** preprocess --pipeline openai reproduces the golden pixel values; its output and --images give the same embeddings. */
    @Test
    void imagesEndToEnd() throws Exception {
        Path golden = Golden.dir();
        Path pre = golden.resolve("preprocess");
        Path pixels = tmp.resolve("px.npy");
        Run p = Cli.run("preprocess", "--model", tmp.toString(), "--images", pre.resolve("img0_512x384_rgb.png").toString(),
                "--pipeline", "openai", "--out", pixels.toString());
        assertEquals(0, p.code(), p.err());
        try (Tensor got = Npy.readFloat32(pixels); Tensor want = Npy.readFloat32(pre.resolve("img0_512x384_rgb_pixel_values.npy"))) {
            assertEquals(0.0, Golden.maxAbsDiff(want.toFloatArray(), got.toFloatArray()), 1e-6);
        }
        // the tiny model takes 32x32 images: preprocess with its size, then both encode paths agree
        Path tiny = golden.resolve("models/tiny");
        Path px32 = tmp.resolve("px32.npy"), a = tmp.resolve("a.npy"), b = tmp.resolve("b.csv");
        Path corrupt = Files.write(tmp.resolve("corrupt.png"), new byte[] {(byte) 0x89, 'P', 'N', 'G', 1, 2, 3});
        Run p32 = Cli.run("preprocess", "--model", tiny.toString(), "--images", pre.toString(), "--out", px32.toString());
        assertEquals(0, p32.code(), p32.err());
        Run ea = Cli.run("encode-images", "--model", tiny.toString(), "--pixels", px32.toString(), "--out", a.toString(), "--backend", "cpu");
        assertEquals(0, ea.code(), ea.err());
        Run eb = Cli.run("encode-images", "--model", tiny.toString(), "--images", pre + "/*.png", corrupt.toString(), "--on-error", "skip",
                "--out", b.toString(), "--batch", "3", "--backend", "cpu");
        assertEquals(0, eb.code(), eb.err());
        assertTrue(eb.err().contains("corrupt.png") && eb.err().contains("skipped 1 of 5 images"), eb.err());
        List<String> csv = Files.readAllLines(b);
        assertEquals(5, csv.size(), "header + 4 images");
        try (Tensor want = Npy.readFloat32(a)) {
            float[] w = want.toFloatArray();
            int e = (int) want.dim(1);
            for (int i = 0; i < 4; i++) {
                String[] f = csv.get(i + 1).split(",");
                assertTrue(f[0].endsWith(".png"));
                for (int j = 0; j < e; j++) assertEquals(w[i * e + j], Float.parseFloat(f[j + 1]), 1e-5);
            }
        }
        Run fail = Cli.run("encode-images", "--model", tiny.toString(), "--images", corrupt.toString(), "--out", a.toString(), "--backend", "cpu");
        assertEquals(2, fail.code());
        assertTrue(fail.err().startsWith("error: " + corrupt), fail.err());
    }

    @Test
    void zeroShotPrintsProbabilitiesAndWritesCsv() throws Exception {
        Path golden = Golden.dir();
        Path out = tmp.resolve("zs.csv");
        Run r = Cli.run("zero-shot", "--model", golden.resolve("models/tiny").toString(), "--tokenizer", golden.resolve("tokenizer").toString(),
                "--images", golden.resolve("preprocess").toString(), "--labels", "pneumonia, normal lung,tumor",
                "--template", "a chest x-ray showing {}.", "--template", "an image of {}", "--out", out.toString(), "--backend", "cpu");
        assertEquals(0, r.code(), r.err());
        assertEquals(4, r.out().strip().lines().count(), r.out());
        List<String> lines = Files.readAllLines(out);
        assertEquals("image,pneumonia,normal lung,tumor,prediction", lines.get(0));
        for (String line : lines.subList(1, lines.size())) {
            String[] f = line.split(",");
            double sum = Double.parseDouble(f[1]) + Double.parseDouble(f[2]) + Double.parseDouble(f[3]);
            assertEquals(1.0, sum, 1e-5, line);
        }
        Run bad = Cli.run("zero-shot", "--model", golden.resolve("models/tiny").toString(), "--tokenizer", golden.resolve("tokenizer").toString(),
                "--images", golden.resolve("preprocess").toString(), "--labels", "a,,b");
        assertEquals(2, bad.code());
    }

    @Test
    void checkPassesOnTheCpuBackendAndNamesWhyCudaCannotRun() throws Exception {
        Run r = Cli.run("check", "--backend", "cpu", "--golden", Golden.dir().toString());
        assertEquals(0, r.code(), r.out() + r.err());
        assertTrue(r.out().contains("0 failed") && r.out().contains("golden text_embeds") && r.out().contains("all checks passed"), r.out());
        if (io.vlm4j.backend.cuda.CudaStatus.unavailableReason().isPresent()) {
            Run c = Cli.run("check", "--backend", "cuda");
            assertEquals(2, c.code());
            assertTrue(c.err().contains("unavailable"), c.err());
        }
    }

    @Test
    void checkRunsARandomModelEndToEndAgainstTheCpuBackend() {
        Run r = Cli.run("check", "--backend", "reference", "--graphs");
        assertEquals(0, r.code(), r.out() + r.err());
        assertTrue(r.out().contains("random model image  vs cpu fp32") && r.out().contains("random model text   (graphs)"), r.out());
        for (String f : new String[] {"biomedclip-token", "timm-avg+bert-mean", "siglip"}) {
            for (String what : new String[] {" image", " text", " LoRA gradients"}) {
                assertTrue(r.out().contains("family " + f + what + " "), f + what + " in " + r.out());
            }
        }
        Run fp16 = Cli.run("check", "--backend", "cpu", "--dtype", "fp16");
        assertEquals(2, fp16.code());
        assertTrue(fp16.err().contains("F32 only"), fp16.err());
    }
}
