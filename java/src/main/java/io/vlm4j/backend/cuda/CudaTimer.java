package io.vlm4j.backend.cuda;

import org.bytedeco.cuda.cudart.CUevent_st;
import org.bytedeco.cuda.cudart.CUstream_st;
import org.bytedeco.cuda.global.cudart;

/**
 * GPU time of work queued on one stream, from a pair of CUDA events (presets' runtime) recorded around it: what the
 * GPU spent, without the host's launch overhead or a device-wide synchronize in the measurement. The stream handle
 * comes from our kernels' runtime ({@link CudaKernels#vlmc_get_stream()}); 0, the legacy default stream, is the same
 * stream in both runtimes of the process.
 */
public final class CudaTimer implements AutoCloseable {
    private final CUevent_st start = new CUevent_st();
    private final CUevent_st stop = new CUevent_st();
    private final CUstream_st stream;

    public CudaTimer(long stream) {
        CudaDevices.report();  // throws "unavailable: reason" before any event call could fail to link
        this.stream = new CUstream_st(CudaPresets.at(stream));
        CudaDevices.check("cudaEventCreate", cudart.cudaEventCreate(start));
        try {
            CudaDevices.check("cudaEventCreate", cudart.cudaEventCreate(stop));
        } catch (RuntimeException e) {
            cudart.cudaEventDestroy(start);
            throw e;
        }
    }

    /** Milliseconds per run of {@code body}, averaged over {@code runs} back-to-back runs on the stream. */
    public double millisPerRun(int runs, Runnable body) {
        if (runs < 1) throw new IllegalArgumentException("runs must be >= 1, got " + runs);
        CudaDevices.check("cudaEventRecord", cudart.cudaEventRecord(start, stream));
        for (int i = 0; i < runs; i++) body.run();
        CudaDevices.check("cudaEventRecord", cudart.cudaEventRecord(stop, stream));
        CudaDevices.check("cudaEventSynchronize", cudart.cudaEventSynchronize(stop));
        float[] ms = new float[1];
        CudaDevices.check("cudaEventElapsedTime", cudart.cudaEventElapsedTime(ms, start, stop));
        return ms[0] / runs;
    }

    @Override
    public void close() {
        cudart.cudaEventDestroy(start);
        cudart.cudaEventDestroy(stop);
    }
}
