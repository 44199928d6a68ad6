package io.vlm4j.model.clip;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.vlm4j.backend.Backend;
import io.vlm4j.backend.Backends;
import io.vlm4j.backend.cpu.CpuBackend;
import io.vlm4j.backend.cuda.CudaBackend;
import io.vlm4j.backend.cuda.CudaStatus;
import io.vlm4j.tensor.DType;
import io.vlm4j.tensor.Tensor;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * Recorded replays ({@link ClipModel#useGraphs}, {@link Backend#record}) and the compute type: replays give the
 * same embeddings as plain forwards for every chunk shape (and check the ids a replay cannot check); F16/BF16 are
 * refused on the CPU; on a GPU, BF16/F16 towers stay within 1e-2 of F32 and CUDA-graph replays equal plain runs.
 */
public class ClipReplayTest {
    /** Small but complete: 2 layers per tower, odd sequence lengths (5x5 + 1 patches, 7 tokens). */
    public static ClipConfig tiny() {
        ClipTextConfig text = new ClipTextConfig(97, 32, 64, 2, 4, 7, "quick_gelu", 1e-5, 16, 1, 95, 96);
        ClipVisionConfig vision = new ClipVisionConfig(32, 64, 2, 4, 3, 20, 4, "quick_gelu", 1e-5, 16);
        return ClipConfig.of(text, vision, 16);
    }

    static float[] pixels(int n, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] px = new float[n * 3 * 20 * 20];
        for (int i = 0; i < px.length; i++) px[i] = (float) (r.nextDouble() * 4 - 2);
        return px;
    }

    public static int[] ids(int n, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        int[] ids = new int[n * 7];
        for (int b = 0; b < n; b++) {
            int eos = 2 + r.nextInt(5);
            ids[b * 7] = 95;
            for (int i = 1; i < eos; i++) ids[b * 7 + i] = 2 + r.nextInt(90);
            ids[b * 7 + eos] = 96;
        }
        return ids;
    }

    /** Image and text embeddings of 7 inputs in chunks of 3 (shapes 3, 3, 1), plain and replayed twice. */
    private static void replaysMatchPlainRuns(Backend backend, double tolerance) throws Exception {
        try (ClipModel clip = ClipModel.random(tiny(), 5, backend).batchSize(3);
             Tensor px = Tensor.of(pixels(7, 1), 7, 3, 20, 20); Tensor ids = Tensor.ofInts(ids(7, 2), 7, 7)) {
            float[] img, txt;
            try (Tensor i = clip.encodeImages(px, false); Tensor t = clip.encodeTexts(ids, false)) {
                img = i.toFloatArray();
                txt = t.toFloatArray();
            }
            clip.useGraphs(true);
            for (int pass = 0; pass < 2; pass++) {  // first: recordings made; second: replays
                try (Tensor i = clip.encodeImages(px, false); Tensor t = clip.encodeTexts(ids, false)) {
                    assertClose(img, i.toFloatArray(), tolerance);
                    assertClose(txt, t.toFloatArray(), tolerance);
                }
            }
            // new inputs through the same recordings
            try (Tensor px2 = Tensor.of(pixels(7, 3), 7, 3, 20, 20); Tensor a = clip.encodeImages(px2, false)) {
                clip.useGraphs(false);
                try (Tensor b = clip.encodeImages(px2, false)) {
                    assertClose(b.toFloatArray(), a.toFloatArray(), tolerance);
                }
            }
        }
    }

    private static void assertClose(float[] want, float[] got, double tolerance) {
        assertEquals(want.length, got.length);
        for (int i = 0; i < want.length; i++) {
            assertEquals(want[i], got[i], tolerance, "element " + i);
        }
    }

    @Test
    void replaysOnTheCpuEqualPlainRuns() throws Exception {
        try (Backend cpu = new CpuBackend()) {
            replaysMatchPlainRuns(cpu, 0.0);
        }
    }

    @Test
    void defaultRecordingRunsOnceThenOnEachReplay() {
        AtomicInteger runs = new AtomicInteger();
        try (Backend cpu = new CpuBackend(); Backend.Recording r = cpu.record(runs::incrementAndGet)) {
            assertEquals(1, runs.get());
            r.run();
            r.run();
            assertEquals(3, runs.get());
        }
    }

    @Test
    void replayedTextsAreCheckedOnTheHost() throws Exception {
        try (Backend cpu = new CpuBackend(); ClipModel clip = ClipModel.random(tiny(), 5, cpu).batchSize(4).useGraphs(true)) {
            int[] bad = ids(2, 3);
            bad[3] = 97;  // vocabulary is [0, 97)
            try (Tensor t = Tensor.ofInts(bad, 2, 7)) {
                IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> clip.encodeTexts(t, false));
                assertTrue(e.getMessage().contains("ids[3] = 97"), e.getMessage());
            }
            int[] noEos = ids(1, 4);
            for (int i = 0; i < 7; i++) if (noEos[i] == 96) noEos[i] = 5;
            try (Tensor t = Tensor.ofInts(noEos, 1, 7)) {
                IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> clip.encodeTexts(t, false));
                assertTrue(e.getMessage().contains("no EOS token 96"), e.getMessage());
            }
        }
    }

    @Test
    void sixteenBitComputeIsCudaOnly() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Backends.create("cpu", DType.F16, s -> { }));
        assertTrue(e.getMessage().contains("F32 only"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> Backends.create("reference", DType.BF16, s -> { }));
        assertThrows(IllegalArgumentException.class, () -> new CudaBackend(DType.I32));
        if (CudaStatus.unavailableReason().isPresent()) {
            IllegalStateException u = assertThrows(IllegalStateException.class, () -> new CudaBackend(DType.BF16));
            assertTrue(u.getMessage().contains(CudaStatus.unavailableReason().get()), u.getMessage());
        }
    }

    @Test
    void cudaGraphReplaysEqualPlainRuns() throws Exception {
        assumeTrue(CudaStatus.unavailableReason().isEmpty(), () -> "no GPU: " + CudaStatus.unavailableReason().orElse(""));
        for (DType dt : new DType[] {DType.F32, DType.BF16}) {
            try (Backend cuda = new CudaBackend(dt)) {
                replaysMatchPlainRuns(cuda, 0.0);  // the same kernels in the same order: bit-identical
            }
        }
    }

    @Test
    void sixteenBitTowersStayWithinOnePercentOfF32() throws Exception {
        assumeTrue(CudaStatus.unavailableReason().isEmpty(), () -> "no GPU: " + CudaStatus.unavailableReason().orElse(""));
        float[] img, txt;
        try (Backend cpu = new CpuBackend(); ClipModel f32 = ClipModel.random(tiny(), 5, cpu); Tensor px = Tensor.of(pixels(5, 1), 5, 3, 20, 20);
             Tensor ids = Tensor.ofInts(ids(5, 2), 5, 7); Tensor i = f32.encodeImages(px, false); Tensor t = f32.encodeTexts(ids, false)) {
            img = i.toFloatArray();
            txt = t.toFloatArray();
            for (DType dt : new DType[] {DType.F16, DType.BF16}) {
                try (Backend cuda = new CudaBackend(dt); ClipModel low = ClipModel.random(tiny(), 5, cuda); Tensor li = low.encodeImages(px, false);
                     Tensor lt = low.encodeTexts(ids, false)) {
                    assertRelative(img, li.toFloatArray(), dt + " image");
                    assertRelative(txt, lt.toFloatArray(), dt + " text");
                }
            }
        }
    }

    private static void assertRelative(float[] want, float[] got, String what) {
        double err = 0, scale = 0;
        for (int i = 0; i < want.length; i++) {
            err = Math.max(err, Math.abs((double) want[i] - got[i]));
            scale = Math.max(scale, Math.abs(want[i]));
        }
        assertTrue(err <= 1e-2 * scale, what + ": max error " + err + " vs max |ref| " + scale);
    }
}
