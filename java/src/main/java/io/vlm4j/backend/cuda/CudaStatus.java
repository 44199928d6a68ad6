package io.vlm4j.backend.cuda;

import java.util.Optional;

/**
 * Whether a CUDA backend can run here, from the CUDA library itself (driver, device, kernels for its architecture;
 * or a build without nvcc). The CUDA backend's ops are not written yet (issue #4 in progress), so even with a usable
 * GPU the answer is "unavailable" with both facts, and callers fall back to the CPU backend.
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
        return Optional.of("the CUDA backend's ops are not implemented yet (device " + s.substring(s.indexOf(':') + 2) + ")");
    }
}
