package io.vlm4j.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.vlm4j.testing.Cli;
import io.vlm4j.testing.Cli.Run;
import org.junit.jupiter.api.Test;

/** {@code info} and {@code bench-gemm} through the CLI: one-line reasons without a GPU, a clean run with one. */
class BenchGemmCommandTest {
    private static boolean gpuAndCublas() {
        return CudaStatus.unavailableReason().isEmpty() && CublasBaseline.unavailableReason().isEmpty();
    }

    @Test
    void infoShowsBothViewsOfCuda() {
        Run r = Cli.run("info");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("backend cuda: "), r.out());
        String presets = CudaDevices.unavailableReason().map(w -> "cuda runtime (presets): unavailable: " + w)
                .orElse("cuda runtime (presets): available: driver ");
        assertTrue(r.out().contains(presets), r.out());
        if (CudaDevices.unavailableReason().isEmpty()) assertTrue(r.out().contains("  gpu 0: "), r.out());
    }

    @Test
    void withoutGpuOrCublasItExitsWithOneLine() {
        assumeTrue(!gpuAndCublas(), "GPU and cuBLAS present: see smallShapesAgreeWithCublas");
        Run r = Cli.run("bench-gemm", "--backend", "cuda", "--dtype", "bf16");
        assertNotEquals(0, r.code());
        assertTrue(r.err().startsWith("error: ") && r.err().contains("unavailable"), r.err());
        assertEquals(1, r.err().strip().lines().count(), r.err());
        assertFalse(r.err().contains("\tat "), "no stack trace");
    }

    @Test
    void badOptionsAreExit2BeforeAnyGpuWork() {
        String[][] cases = {{"--shapes", "64x64"}, {"--shapes", "1x2x3,"}, {"--backend", "cpu"}, {"--dtype", "int32"},
                {"--dtype", "fp8"}, {"--iterations", "0"}};
        for (String[] c : cases) {
            Run r = Cli.run("bench-gemm", c[0], c[1]);
            assertEquals(2, r.code(), String.join(" ", c) + ": " + r.err());
            assertTrue(r.err().startsWith("error: "), r.err());
            assertFalse(r.err().contains("unavailable"), "options are checked first: " + r.err());
        }
        Run r = Cli.run("bench-gemm", "--shapes", "64x6y4");
        assertTrue(r.err().contains("--shapes: '64x6y4'"), r.err());
        Run help = Cli.run("bench-gemm", "--help");
        assertEquals(0, help.code(), help.err());
        assertTrue(help.out().contains("Usage: vlm4j bench-gemm") && help.out().contains("--cuda-lib-dir"), help.out());
    }

    @Test
    void smallShapesAgreeWithCublas() {
        assumeTrue(gpuAndCublas(), () -> "needs a GPU and cuBLAS: " + CudaStatus.unavailableReason()
                .or(CublasBaseline::unavailableReason).orElse(""));
        for (String dtype : new String[] {"fp32", "fp16", "bf16"}) {
            Run r = Cli.run("bench-gemm", "--dtype", dtype, "--shapes", "128x64x32,333x200x77,1x5x3", "--iterations", "2",
                    "--warmup", "1", "--json");
            assertEquals(0, r.code(), dtype + ": " + r.out() + r.err());
            assertEquals(3, r.out().lines().filter(l -> l.contains("\"agree\":true")).count(), r.out());
        }
    }
}
