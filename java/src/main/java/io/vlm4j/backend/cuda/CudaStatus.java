package io.vlm4j.backend.cuda;

/**
 * Whether a CUDA backend can run here. This build has no CUDA kernels yet (the CUDA issue adds them), so the
 * answer is always "unavailable" with the reason; callers fall back to the CPU backend.
 */
public final class CudaStatus {
    private CudaStatus() {}

    /** Empty when usable; otherwise the reason it is not. */
    public static java.util.Optional<String> unavailableReason() {
        return java.util.Optional.of("this build has no CUDA kernels yet (CPU-only build)");
    }
}
