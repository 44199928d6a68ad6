package io.vlm4j.model.clip;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vlm4j.backend.Backend;
import io.vlm4j.backend.cpu.CpuBackend;
import io.vlm4j.backend.reference.ReferenceBackend;
import io.vlm4j.io.Npy;
import io.vlm4j.tensor.DType;
import io.vlm4j.tensor.Tensor;
import io.vlm4j.testing.Golden;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Conformance against ../shared/golden: outputs of the original OpenAI CLIP code on the tiny model, stage by
 * stage (spec 08 §3). One test body per backend (native CPU and the float64 reference).
 */
class ClipGoldenTest {
    private static final double TOL = 1e-4;

    static Stream<Arguments> backends() {
        return Stream.of(Arguments.of("cpu"), Arguments.of("reference"), Arguments.of("cuda"));
    }

    /** The CUDA case (FP32 compute) runs where a GPU is present and is skipped, saying why, elsewhere. */
    private static Backend backend(String name) {
        if (name.equals("cuda")) {
            org.junit.jupiter.api.Assumptions.assumeTrue(io.vlm4j.backend.cuda.CudaStatus.unavailableReason().isEmpty(),
                    () -> "CUDA " + io.vlm4j.backend.cuda.CudaStatus.deviceStatus());
            return new io.vlm4j.backend.cuda.CudaBackend();
        }
        return name.equals("cpu") ? new CpuBackend() : new ReferenceBackend();
    }

    private static float[] fixture(Path dir, String name) throws Exception {
        try (Tensor t = Npy.readFloat32(dir.resolve(name + ".npy"))) {
            return t.toFloatArray();
        }
    }

    /** Worst error per test case, printed at the end so that the margin under {@link #TOL} is on record. */
    private static final Map<String, String> WORST = new LinkedHashMap<>();
    private static final Map<String, Double> WORST_ERR = new LinkedHashMap<>();
    private static String currentCase = "?";

    @AfterAll
    static void printWorst() {
        WORST.forEach((c, what) -> System.out.printf("[golden] %-28s worst max abs error %.2e (%s), tolerance %.0e%n",
                c, WORST_ERR.get(c), what, TOL));
    }

    private static void assertClose(String what, float[] expected, float[] actual) {
        double err = Golden.maxAbsDiff(expected, actual);
        if (err >= WORST_ERR.getOrDefault(currentCase, -1.0)) {
            WORST_ERR.put(currentCase, err);
            WORST.put(currentCase, what);
        }
        assertTrue(err <= TOL, what + ": max abs error " + err + " > " + TOL);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void f32WeightsReproduceEveryStage(String backendName) throws Exception {
        currentCase = "F32 weights, " + backendName;
        Path golden = Golden.dir();
        Path fx = golden.resolve("fixtures/tiny");
        try (Backend backend = backend(backendName);
             ClipModel clip = ClipModel.load(golden.resolve("models/tiny"), backend);
             Tensor pixels = Npy.readFloat32(fx.resolve("pixel_values.npy"));
             Tensor ids = Npy.readInt32(fx.resolve("input_ids.npy"))) {
            // vision, stage by stage
            ClipVisionTower vision = clip.clipVision().orElseThrow();
            List<float[]> hidden = new ArrayList<>();
            float[][] embeddings = new float[1][];
            float[][] pooled = new float[1][];
            try (Tensor img = Tensor.allocate(DType.F32, pixels.dim(0), vision.projectionDim())) {
                vision.forward(pixels, img, new ClipVisionTower.Observer() {
                    @Override public void embeddings(Tensor x) { embeddings[0] = x.toFloatArray(); }
                    @Override public void hiddenState(int i, Tensor x) { hidden.add(x.toFloatArray()); }
                    @Override public void pooled(Tensor x) { pooled[0] = x.toFloatArray(); }
                });
                assertClose("vision_embeddings_before_ln_pre", fixture(fx, "vision_embeddings_before_ln_pre"), embeddings[0]);
                assertClose("vision_hidden_states", fixture(fx, "vision_hidden_states"), concat(hidden));
                assertClose("vision_pooled_after_ln_post", fixture(fx, "vision_pooled_after_ln_post"), pooled[0]);
                assertClose("image_embeds", fixture(fx, "image_embeds"), img.toFloatArray());
            }
            // text, stage by stage
            ClipTextTower text = clip.clipText().orElseThrow();
            List<float[]> textHidden = new ArrayList<>();
            float[][] afterLn = new float[1][];
            long[][] positions = new long[1][];
            try (Tensor txt = Tensor.allocate(DType.F32, ids.dim(0), text.projectionDim())) {
                text.forward(ids, null, txt, new ClipTextTower.Observer() {
                    @Override public void hiddenState(int i, Tensor x) { textHidden.add(x.toFloatArray()); }
                    @Override public void afterFinalLayerNorm(Tensor x) { afterLn[0] = x.toFloatArray(); }
                    @Override public void pooledPositions(long[] p) { positions[0] = p; }
                });
                assertClose("text_hidden_states", fixture(fx, "text_hidden_states"), concat(textHidden));
                assertClose("text_after_ln_final", fixture(fx, "text_after_ln_final"), afterLn[0]);
                assertClose("text_embeds", fixture(fx, "text_embeds"), txt.toFloatArray());
            }
            assertArrayEquals(argmaxPositions(ids), positions[0], "pooled position = first EOT = argmax(ids)");
            checkEmbeddingsAndLogits(clip, fx, pixels, ids, fx);
            assertClose("logit_scale", fixture(fx, "logit_scale"), new float[] {clip.logitScale()});
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("lowPrecisionFiles")
    void lowPrecisionWeightFiles(String file, String fixtureDir) throws Exception {
        currentCase = file + ", cpu";
        Path golden = Golden.dir();
        Path fx = golden.resolve("fixtures/tiny");
        try (Backend backend = new CpuBackend();
             ClipModel clip = ClipModel.load(golden.resolve("models/tiny").resolve(file), backend);
             Tensor pixels = Npy.readFloat32(fx.resolve("pixel_values.npy"));
             Tensor ids = Npy.readInt32(fx.resolve("input_ids.npy"))) {
            checkEmbeddingsAndLogits(clip, fx, pixels, ids, fx.resolve(fixtureDir));
        }
    }

    static Stream<Arguments> lowPrecisionFiles() {
        return Stream.of(Arguments.of("model.f16.safetensors", "f16_weights"),
                Arguments.of("model.bf16.safetensors", "bf16_weights"));
    }

    /** Embeddings, normalized embeddings (F32 fixtures only) and logits, through the public API. */
    private static void checkEmbeddingsAndLogits(ClipModel clip, Path fx, Tensor pixels, Tensor ids, Path expected)
            throws Exception {
        try (Tensor img = clip.encodeImages(pixels, false); Tensor txt = clip.encodeTexts(ids, false)) {
            assertClose(expected.getFileName() + "/image_embeds", fixture(expected, "image_embeds"), img.toFloatArray());
            assertClose(expected.getFileName() + "/text_embeds", fixture(expected, "text_embeds"), txt.toFloatArray());
        }
        try (Tensor img = clip.encodeImages(pixels, true); Tensor txt = clip.encodeTexts(ids, true)) {
            if (expected.equals(fx)) {
                assertClose("image_embeds_normalized", fixture(fx, "image_embeds_normalized"), img.toFloatArray());
                assertClose("text_embeds_normalized", fixture(fx, "text_embeds_normalized"), txt.toFloatArray());
            }
            float[][] logits = clip.similarity(img, txt);
            assertClose(expected.getFileName() + "/logits_per_image", fixture(expected, "logits_per_image"), concat(List.of(logits)));
        }
        if (expected.equals(fx)) {
            try (Tensor img = clip.encodeImages(pixels, true); Tensor txt = clip.encodeTexts(ids, true)) {
                float[][] perText = clip.similarity(txt, img);
                assertClose("logits_per_text", fixture(fx, "logits_per_text"), concat(List.of(perText)));
            }
        }
    }

    private static long[] argmaxPositions(Tensor ids) {
        int b = (int) ids.dim(0), len = (int) ids.dim(1);
        int[] v = ids.toIntArray();
        long[] out = new long[b];
        for (int i = 0; i < b; i++) {
            int best = 0;
            for (int j = 1; j < len; j++) if (v[i * len + j] > v[i * len + best]) best = j;
            out[i] = best;
        }
        return out;
    }

    private static float[] concat(List<float[]> parts) {
        int n = parts.stream().mapToInt(p -> p.length).sum();
        float[] out = new float[n];
        int off = 0;
        for (float[] p : parts) {
            System.arraycopy(p, 0, out, off, p.length);
            off += p.length;
        }
        return out;
    }
}
