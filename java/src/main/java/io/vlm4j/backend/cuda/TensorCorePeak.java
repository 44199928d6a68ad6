package io.vlm4j.backend.cuda;

import java.util.Locale;
import java.util.OptionalDouble;

/**
 * Dense BF16 tensor-core peak with FP32 accumulation (what our GEMMs and cublasGemmEx with CUBLAS_COMPUTE_32F run):
 * {@code peak = SMs × FLOP per SM per clock × SM clock}. FLOP/SM/clock by compute capability, checked against the
 * vendor's figures (datasheets and architecture whitepapers, dense i.e. without 2:4 sparsity):
 * <ul>
 * <li>8.0 A100: 2048 (108 SMs × 1.41 GHz → 312 TFLOP/s, A100 datasheet)</li>
 * <li>8.6 A10/A40/RTX A6000: 1024 (A40: 84 × 1.74 GHz → 149.7); 8.9 L4/L40S/RTX 6000 Ada: 1024 (L4: 58 × 2.04 GHz →
 * 121)</li>
 * <li>9.0 H100/H200: 4096 (H100 SXM: 132 × 1.83 GHz → 989)</li>
 * <li>10.0 B200: 8192 (148 SMs; ~2.25 PFLOP/s at ~1.85 GHz, HGX B200 datasheet; the least certain entry)</li>
 * <li>12.0 RTX PRO Blackwell: 1024</li>
 * </ul>
 * GeForce parts of 8.6/8.9/12.0 run FP32-accumulate tensor math at half rate (512; RTX 4090: 128 × 2.52 GHz → 165,
 * Ada whitepaper). Before 8.0 there are no BF16 tensor cores. The clock is the runtime's maximum SM clock
 * (cudaDevAttrClockRate), so this is an upper bound: datasheets quote a lower sustained clock for some parts
 * (H100 SXM reports 1.98 GHz → 1070 against the datasheet's 989), and tensor-heavy kernels are power-limited anyway.
 */
public final class TensorCorePeak {
    private TensorCorePeak() {}

    /** Dense BF16 FLOP per SM per clock with FP32 accumulation; 0 when unknown or without BF16 tensor cores. */
    public static int flopsPerSmPerClock(int major, int minor, String name) {
        boolean geforce = name != null && name.toLowerCase(Locale.ROOT).contains("geforce");
        return switch (major * 10 + minor) {
            case 80 -> 2048;
            case 86, 89, 120 -> geforce ? 512 : 1024;
            case 90 -> 4096;
            case 100 -> 8192;
            default -> 0;
        };
    }

    /** TFLOP/s, or empty for devices not in the table (the bench then prints no fraction of peak). */
    public static OptionalDouble denseBf16Tflops(int major, int minor, String name, int smCount, double smClockMhz) {
        int perClock = flopsPerSmPerClock(major, minor, name);
        if (perClock == 0 || smCount <= 0 || smClockMhz <= 0) return OptionalDouble.empty();
        return OptionalDouble.of(smCount * (double) perClock * smClockMhz * 1e6 / 1e12);
    }

    /**
     * Peak DRAM bandwidth in GB/s: two transfers per memory clock (DDR; the runtime's memory clock already folds in
     * the GDDR/HBM multipliers, as NVIDIA's bandwidth samples assume) × bus width in bytes. H100 SXM: 2 × 2.619 GHz ×
     * 5120 / 8 → 3352 GB/s (datasheet 3.35 TB/s).
     */
    public static double memoryBandwidthGBs(double memClockMhz, int busWidthBits) {
        return 2.0 * memClockMhz * 1e6 * (busWidthBits / 8.0) / 1e9;
    }
}
