package io.vlm4j.tensor;

import io.vlm4j.backend.cuda.CudaKernels;
import java.util.concurrent.atomic.AtomicLong;

/** GPU memory through the CUDA library, with the same live/peak counters as {@link NativeMemory}. */
public final class DeviceMemory {
    private static final AtomicLong LIVE = new AtomicLong();
    private static final AtomicLong PEAK = new AtomicLong();

    private DeviceMemory() {}

    static long allocate(long bytes) {
        if (bytes < 0) throw new IllegalArgumentException("negative allocation size " + bytes);
        long address = CudaKernels.vlmc_malloc(Math.max(1, bytes));  // throws naming the size and the free memory
        long live = LIVE.addAndGet(bytes);
        PEAK.accumulateAndGet(live, Math::max);
        return address;
    }

    static void free(long address, long bytes) {
        CudaKernels.vlmc_free(address);
        LIVE.addAndGet(-bytes);
    }

    /** Copies between host and device memory in any direction. */
    static void copy(long dst, Device dstDevice, long src, Device srcDevice, long bytes) {
        if (dstDevice == Device.CUDA && srcDevice == Device.CUDA) CudaKernels.vlmc_memcpy_d2d(dst, src, bytes);
        else if (dstDevice == Device.CUDA) CudaKernels.vlmc_memcpy_h2d(dst, src, bytes);
        else CudaKernels.vlmc_memcpy_d2h(dst, src, bytes);
    }

    public static long liveBytes() { return LIVE.get(); }

    public static long peakBytes() { return PEAK.get(); }
}
