package io.vlm4j.backend.cuda;

/**
 * A captured sequence of GPU work ({@link CudaBackend#capture}), replayed with one launch on its backend's stream:
 * the per-op launch and JNI costs of a whole tower forward become one call. Replays use the addresses captured, so
 * the inputs and outputs the body used must stay allocated; fill the input tensor, launch, read the output.
 */
public final class CudaGraph implements AutoCloseable {
    private final CudaBackend backend;
    private long handle;

    CudaGraph(CudaBackend backend, long handle) {
        this.backend = backend;
        this.handle = handle;
    }

    /** Enqueues one replay on the backend's stream (asynchronous; reading an output waits for it). */
    public void launch() {
        if (handle == 0) throw new IllegalStateException("CUDA graph is closed");
        backend.launchGraph(handle);
    }

    @Override
    public void close() {
        if (handle == 0) return;
        CudaKernels.vlmc_graph_destroy(handle);
        handle = 0;
    }
}
