package io.vlm4j.backend;

import io.vlm4j.backend.cpu.CpuBackend;
import io.vlm4j.backend.cuda.CudaBackend;
import io.vlm4j.backend.cuda.CudaStatus;
import io.vlm4j.backend.reference.ReferenceBackend;
import io.vlm4j.tensor.DType;
import java.util.Locale;
import java.util.Optional;
import java.util.function.Consumer;

/** Chooses a backend by name: auto, cpu, cuda or reference. */
public final class Backends {
    private Backends() {}

    /**
     * @param name   auto | cpu | cuda | reference
     * @param notice receives a one-line message when "auto" falls back from CUDA to CPU
     * @throws IllegalArgumentException for an unknown name, or "cuda" when CUDA is unavailable (with the reason)
     */
    public static Backend create(String name, Consumer<String> notice) {
        return create(name, DType.F32, notice);
    }

    /**
     * As {@link #create(String, Consumer)} computing in {@code compute}: F16 and BF16 on CUDA; on the CPU, BF16 means
     * BF16 encoder weights with F32 activations (AVX512_BF16; an error naming the CPU's features without it); the
     * reference backend computes in F32 only.
     */
    public static Backend create(String name, DType compute, Consumer<String> notice) {
        Backend b = createF32OrCuda(name, compute, notice);
        if (compute != b.computeType() && compute != b.weightType()) {
            b.close();
            throw new IllegalArgumentException("dtype " + compute + ": the " + b.name()
                    + " backend computes in F32 only (weights in F16/BF16 files are converted at load)");
        }
        return b;
    }

    private static Backend createF32OrCuda(String name, DType compute, Consumer<String> notice) {
        switch (name.toLowerCase(Locale.ROOT)) {
            case "cpu":
                if (compute != DType.BF16) return new CpuBackend();
                try {
                    return CpuBackend.withBf16Weights(0);
                } catch (IllegalStateException e) {
                    throw new IllegalArgumentException(e.getMessage(), e);
                }
            case "reference":
                return new ReferenceBackend();
            case "cuda": {
                Optional<String> why = CudaStatus.unavailableReason();
                if (why.isPresent()) throw new IllegalArgumentException("backend cuda is unavailable: " + why.get());
                return new CudaBackend(compute);
            }
            case "auto": {
                // The CUDA backend (FP32 variant 1) is chosen explicitly with --backend cuda until it has passed the
                // conformance suite on a GPU (benchmarks/gpu/run.sh); auto stays on the CPU.
                Optional<String> why = CudaStatus.unavailableReason();
                notice.accept(why.map(w -> "note: CUDA unavailable (" + w + "); using the CPU backend")
                        .orElse("note: a GPU is present; the CUDA backend is opt-in for now (--backend cuda); using the CPU backend"));
                return new CpuBackend();
            }
            default:
                throw new IllegalArgumentException("unknown backend '" + name + "' (expected auto, cpu, cuda or reference)");
        }
    }
}
