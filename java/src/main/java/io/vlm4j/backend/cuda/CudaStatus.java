package io.vlm4j.backend.cuda;

import java.util.Optional;

/**
 * Whether the CUDA backend can run here, from the CUDA library itself (driver, device, kernels for its
 * architecture; or a build without nvcc).
 */
public final class CudaStatus {
    private CudaStatus() {}

    private static volatile String cached;

    /** What the CUDA library reports: "available: ..." or "unavailable: ...". */
    public static String deviceStatus() {
        String s = cached;
        if (s == null) {
            try {
                s = CudaKernels.vlmc_status();
            } catch (Throwable t) {  // UnsatisfiedLinkError and friends: report, never crash
                s = "unavailable: the CUDA library failed to load (" + t + ")";
            }
            cached = s;
        }
        return s;
    }

    /** Empty when usable; otherwise the reason it is not. */
    public static Optional<String> unavailableReason() {
        String s = deviceStatus();
        if (s.startsWith("unavailable: ")) return Optional.of(s.substring("unavailable: ".length()));
        return s.startsWith("available") ? Optional.empty() : Optional.of(s);
    }
}
