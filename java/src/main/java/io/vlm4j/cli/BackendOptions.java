package io.vlm4j.cli;

import io.vlm4j.backend.Backend;
import io.vlm4j.backend.Backends;
import io.vlm4j.backend.cpu.NativeKernels;
import io.vlm4j.tensor.DType;
import picocli.CommandLine.Option;

/** Options shared by every command that runs a model. */
final class BackendOptions {
    @Option(names = "--backend", defaultValue = "auto", description = "auto, cpu, cuda or reference (default: ${DEFAULT-VALUE})")
    String backend;

    @Option(names = "--threads", description = "CPU worker threads (default: all cores)")
    Integer threads;

    @Option(names = "--dtype", defaultValue = "fp32", description = "compute dtype: fp32; bf16 (CUDA, or CPU with AVX512_BF16: BF16 weights, F32 activations); fp16 (CUDA) (default: ${DEFAULT-VALUE})")
    String dtype;

    @Option(names = "--batch", description = "batch size: largest batch run through a tower at once (default: 16; bench: 8)")
    Integer batchOption;

    int batch;

    boolean batchGiven() { return batchOption != null; }

    Backend open() {
        batch = batchOption == null ? 16 : batchOption;
        if (batch < 1) throw new IllegalArgumentException("--batch must be >= 1, got " + batch);
        DType d = DType.parse(dtype);
        if (threads != null) {
            if (threads < 1) throw new IllegalArgumentException("--threads must be >= 1, got " + threads);
            NativeKernels.vlm_set_num_threads(threads);
        }
        try {
            return Backends.create(backend, d, System.err::println);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(e.getMessage().replace("dtype " + d, "--dtype " + dtype), e);
        }
    }
}
