package io.vlm4j.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import org.junit.jupiter.api.Test;

/** The presets' view of the GPUs: a reason without one, a plausible table with one; and the peak formulas. */
class CudaDevicesTest {
    @Test
    void withoutAGpuEveryEntryPointSaysWhy() {
        assumeTrue(CudaDevices.unavailableReason().isPresent(), "a GPU is visible to the presets: see devicesArePlausible");
        String why = CudaDevices.unavailableReason().orElseThrow();
        assertFalse(why.isBlank());
        assertEquals("unavailable: " + why, CudaDevices.status());
        IllegalStateException e = assertThrows(IllegalStateException.class, CudaDevices::report);
        assertTrue(e.getMessage().contains(why), e.getMessage());
        assertTrue(CublasBaseline.unavailableReason().isPresent());
        IllegalStateException b = assertThrows(IllegalStateException.class, () -> new CublasBaseline(0));
        assertTrue(b.getMessage().startsWith("cuBLAS unavailable: "), b.getMessage());
        assertThrows(IllegalStateException.class, () -> new CudaTimer(0));
        assertEquals(why, CudaDevices.unavailableReason().orElseThrow(), "the outcome is remembered, not retried");
    }

    @Test
    void devicesArePlausible() {
        assumeTrue(CudaDevices.unavailableReason().isEmpty(), () -> "no GPU: " + CudaDevices.unavailableReason().orElse(""));
        CudaDevices.Report r = CudaDevices.report();
        assertTrue(r.runtimeVersion() >= 13000 && r.driverVersion() >= r.runtimeVersion() / 1000 * 1000, r.summary());
        assertFalse(r.devices().isEmpty());
        for (CudaDevices.Device d : r.devices()) {
            assertTrue(d.smCount() > 0 && d.totalBytes() > 0 && d.freeBytes() <= d.totalBytes(), d.summary());
            assertTrue(d.smClockMhz() > 100 && d.memClockMhz() > 100 && d.busWidthBits() >= 64, d.summary());
            assertTrue(d.memoryBandwidthGBs() > 50, d.summary());
            assertEquals(d.major() >= 8 && TensorCorePeak.flopsPerSmPerClock(d.major(), d.minor(), d.name()) > 0,
                    d.bf16PeakTflops().isPresent(), d.summary());
        }
    }

    @Test
    void peakTableMatchesDatasheets() {
        // H100 SXM at the datasheet's 1.83 GHz: 989 TFLOP/s dense BF16; A100 at 1.41 GHz: 312; RTX 4090 (FP32 acc): 165
        assertEquals(989.4, TensorCorePeak.denseBf16Tflops(9, 0, "NVIDIA H100 80GB HBM3", 132, 1830).orElseThrow(), 0.5);
        assertEquals(311.9, TensorCorePeak.denseBf16Tflops(8, 0, "NVIDIA A100-SXM4-80GB", 108, 1410).orElseThrow(), 0.5);
        assertEquals(165.2, TensorCorePeak.denseBf16Tflops(8, 9, "NVIDIA GeForce RTX 4090", 128, 2520).orElseThrow(), 0.5);
        assertEquals(121.2, TensorCorePeak.denseBf16Tflops(8, 9, "NVIDIA L4", 58, 2040).orElseThrow(), 0.5);
        assertTrue(TensorCorePeak.denseBf16Tflops(7, 5, "Tesla T4", 40, 1590).isEmpty(), "Turing has no BF16 tensor cores");
        assertEquals(3352.3, TensorCorePeak.memoryBandwidthGBs(2619, 5120), 0.5);  // H100 SXM: 3.35 TB/s
    }

    @Test
    void versionsAndLoadFailuresReadAsWords() {
        assertEquals("13.0", CudaDevices.version(13000));
        assertEquals("12.8", CudaDevices.version(12080));
        assertEquals("none", CudaDevices.version(0));
        assertEquals("no NVIDIA driver (libcuda.so.1 not found)",
                CudaPresets.explain(new UnsatisfiedLinkError("/x/libjnicudart.so: libcuda.so.1: cannot open shared object file")));
        String cublas = CudaPresets.explain(new NoClassDefFoundError("x").initCause(
                new UnsatisfiedLinkError("libcublas.so.13: cannot open shared object file")));
        assertTrue(cublas.startsWith("libcublas.so.13 (cuBLAS 13) was not found") && cublas.contains("--cuda-lib-dir"), cublas);
        assertTrue(CudaPresets.explain(new ClassNotFoundException("org.bytedeco.cuda.global.cudart")).contains("class path"));
    }
}
