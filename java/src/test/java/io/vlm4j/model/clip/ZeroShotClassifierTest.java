package io.vlm4j.model.clip;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vlm4j.backend.cpu.CpuBackend;
import io.vlm4j.io.Npy;
import io.vlm4j.tensor.Tensor;
import io.vlm4j.testing.Golden;
import io.vlm4j.text.Tokenizer;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The zero-shot head against the golden logits of the tiny model (spec 07 §3). */
class ZeroShotClassifierTest {
    /** The five golden prompts, in the order of fixtures/tiny/input_ids (golden README). */
    private static final List<String> PROMPTS = List.of("a chest x-ray showing pneumonia", "a histopathology image of benign tissue",
            "an MRI scan of a brain tumor", "a dermoscopy image of melanoma", "A photo of a Normal retina, fundus image!!");

    /** Test double: maps each golden prompt to its golden id row (the real tokenizers are tested on their own). */
    private static Tokenizer lookup(Tensor ids) {
        int len = (int) ids.dim(1);
        int[] flat = ids.toIntArray();
        Map<String, int[]> rows = new HashMap<>();
        for (int i = 0; i < PROMPTS.size(); i++) rows.put(PROMPTS.get(i), Arrays.copyOfRange(flat, i * len, (i + 1) * len));
        return new Tokenizer() {
            @Override public int[] tokenize(String text) { throw new UnsupportedOperationException(); }
            @Override public Encoding encode(String text, int context) {
                int[] row = rows.get(text);
                if (row == null) throw new IllegalArgumentException("not a golden prompt: " + text);
                return new Encoding(row, new int[context]);
            }
            @Override public int defaultContext() { return len; }
            @Override public int padId() { return 0; }
            @Override public int vocabSize() { return 49408; }
        };
    }

    @Test
    void singleTemplateReproducesTheGoldenLogits() throws Exception {
        Path golden = Golden.dir();
        Path fx = golden.resolve("fixtures/tiny");
        try (ClipModel clip = ClipModel.load(golden.resolve("models/tiny"), new CpuBackend());
             Tensor ids = Npy.readInt32(fx.resolve("input_ids.npy"));
             Tensor pixels = Npy.readFloat32(fx.resolve("pixel_values.npy"));
             Tensor img = clip.encodeImages(pixels, false);
             Tensor want = Npy.readFloat32(fx.resolve("logits_per_image.npy"))) {
            float scale = (float) Math.exp(clip.logitScale());
            ZeroShotClassifier zs = ZeroShotClassifier.build(clip, lookup(ids), PROMPTS, List.of("{}"), 77, scale);
            float[][] logits = zs.logits(img);
            float[] w = want.toFloatArray();
            for (int i = 0; i < logits.length; i++) {
                for (int c = 0; c < PROMPTS.size(); c++) {
                    assertEquals(w[i * PROMPTS.size() + c], logits[i][c], 1e-4, "logit " + i + "," + c);
                }
            }
            float[][] p = zs.probabilities(img);
            for (int i = 0; i < p.length; i++) {
                double sum = 0, max = Double.NEGATIVE_INFINITY;
                for (int c = 0; c < p[i].length; c++) {
                    sum += p[i][c];
                    max = Math.max(max, w[i * PROMPTS.size() + c]);
                }
                assertEquals(1.0, sum, 1e-5);
                double denom = 0;
                for (int c = 0; c < p[i].length; c++) denom += Math.exp(w[i * PROMPTS.size() + c] - max);
                assertEquals(Math.exp(w[i * PROMPTS.size()] - max) / denom, p[i][0], 1e-5, "softmax of the golden logits");
            }
        }
    }

    /** Two "templates" per class whose prompts are two different golden texts: W is their renormalized mean. */
    @Test
    void promptEnsemblingAveragesNormalizedEmbeddings() throws Exception {
        Path golden = Golden.dir();
        Path fx = golden.resolve("fixtures/tiny");
        try (ClipModel clip = ClipModel.load(golden.resolve("models/tiny"), new CpuBackend());
             Tensor ids = Npy.readInt32(fx.resolve("input_ids.npy"));
             Tensor pixels = Npy.readFloat32(fx.resolve("pixel_values.npy"));
             Tensor img = clip.encodeImages(pixels, true);
             Tensor txt = Npy.readFloat32(fx.resolve("text_embeds_normalized.npy"))) {
            // label "a" fills the templates to prompts 0 and 1, label "b" to prompts 2 and 3
            List<String> templates = List.of("{} #0", "{} #1");
            Map<String, String> filled = Map.of("a #0", PROMPTS.get(0), "a #1", PROMPTS.get(1),
                    "b #0", PROMPTS.get(2), "b #1", PROMPTS.get(3));
            Tokenizer base = lookup(ids);
            Tokenizer tok = new Tokenizer() {
                @Override public int[] tokenize(String text) { throw new UnsupportedOperationException(); }
                @Override public Encoding encode(String text, int context) { return base.encode(filled.get(text), context); }
                @Override public int defaultContext() { return 77; }
                @Override public int padId() { return 0; }
                @Override public int vocabSize() { return 49408; }
            };
            ZeroShotClassifier zs = ZeroShotClassifier.build(clip, tok, List.of("a", "b"), templates, 77, 100f);
            float[] t = txt.toFloatArray(), u = img.toFloatArray();
            int e = (int) txt.dim(1);
            for (int c = 0; c < 2; c++) {
                double[] mean = new double[e];
                double ss = 0;
                for (int i = 0; i < e; i++) {
                    mean[i] = t[(2 * c) * e + i] + t[(2 * c + 1) * e + i];
                    ss += mean[i] * mean[i];
                }
                double dot = 0;
                for (int i = 0; i < e; i++) dot += u[i] * mean[i] / Math.sqrt(ss);  // image 0
                assertEquals(100 * dot, zs.logits(img)[0][c], 2e-3, "class " + c);
            }
        }
    }

    @Test
    void badArgumentsAreRejected() throws Exception {
        Path golden = Golden.dir();
        try (ClipModel clip = ClipModel.load(golden.resolve("models/tiny"), new CpuBackend());
             Tensor ids = Npy.readInt32(golden.resolve("fixtures/tiny/input_ids.npy"))) {
            Tokenizer tok = lookup(ids);
            assertThrows(IllegalArgumentException.class, () -> ZeroShotClassifier.build(clip, tok, List.of(), List.of("{}"), 77, 100f));
            assertThrows(IllegalArgumentException.class, () -> ZeroShotClassifier.build(clip, tok, PROMPTS, List.of(), 77, 100f));
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> ZeroShotClassifier.build(clip, tok, PROMPTS, List.of("a photo"), 77, 100f));
            assertTrue(e.getMessage().contains("{}"), e.getMessage());
            assertThrows(IllegalArgumentException.class, () -> ZeroShotClassifier.build(clip, tok, PROMPTS, List.of("{}"), 77, -1f));
        }
    }
}
