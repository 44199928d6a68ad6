package io.vlm4j.tensor;

import io.vlm4j.backend.cpu.NativeKernels;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Host native memory: 64-byte aligned blocks from the native library, with live and peak byte counters so that
 * tests can prove that repeated use leaks nothing and benchmarks can report peak native memory.
 */
public final class NativeMemory {
    private static final AtomicLong LIVE = new AtomicLong();
    private static final AtomicLong PEAK = new AtomicLong();

    private NativeMemory() {}

    static long allocate(long bytes) {
        if (bytes < 0) throw new IllegalArgumentException("negative allocation size " + bytes);
        final long address;
        try {
            address = NativeKernels.vlm_alloc(bytes);
        } catch (RuntimeException e) {
            throw new OutOfMemoryError("native allocation of " + bytes + " bytes failed: " + e.getMessage());
        }
        long live = LIVE.addAndGet(bytes);
        PEAK.accumulateAndGet(live, Math::max);
        return address;
    }

    static void free(long address, long bytes) {
        NativeKernels.vlm_free(address);
        LIVE.addAndGet(-bytes);
    }

    /** Bytes currently held by open tensors. */
    public static long liveBytes() { return LIVE.get(); }

    /** Highest {@link #liveBytes()} seen since start or the last {@link #resetPeak()}. */
    public static long peakBytes() { return PEAK.get(); }

    public static void resetPeak() { PEAK.set(LIVE.get()); }
}
