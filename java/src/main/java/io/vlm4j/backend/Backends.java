package io.vlm4j.backend;

import io.vlm4j.backend.cpu.CpuBackend;
import io.vlm4j.backend.cuda.CudaStatus;
import io.vlm4j.backend.reference.ReferenceBackend;
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
        switch (name.toLowerCase(Locale.ROOT)) {
            case "cpu":
                return new CpuBackend();
            case "reference":
                return new ReferenceBackend();
            case "cuda": {
                Optional<String> why = CudaStatus.unavailableReason();
                throw new IllegalArgumentException("backend cuda is unavailable: " + why.orElse("unknown reason"));
            }
            case "auto": {
                Optional<String> why = CudaStatus.unavailableReason();
                why.ifPresent(w -> notice.accept("note: CUDA unavailable (" + w + "); using the CPU backend"));
                return new CpuBackend();
            }
            default:
                throw new IllegalArgumentException("unknown backend '" + name + "' (expected auto, cpu, cuda or reference)");
        }
    }
}
