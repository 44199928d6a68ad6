package io.vlm4j.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.vlm4j.backend.Backends;
import io.vlm4j.tensor.DType;
import io.vlm4j.tensor.Device;
import io.vlm4j.tensor.Tensor;
import org.junit.jupiter.api.Test;

/** Without a usable GPU every CUDA entry point fails with a message naming the reason, and the JVM goes on. */
class CudaUnavailableTest {
    @Test
    void everyEntryPointExplainsItself() {
        assumeTrue(CudaStatus.unavailableReason().isPresent(), "a GPU is present: covered by the conformance suite");
        String why = CudaStatus.unavailableReason().orElseThrow();
        assertTrue(CudaStatus.deviceStatus().startsWith("unavailable: "), CudaStatus.deviceStatus());
        IllegalStateException e = assertThrows(IllegalStateException.class, CudaBackend::new);
        assertTrue(e.getMessage().contains(why), e.getMessage());
        IllegalArgumentException b = assertThrows(IllegalArgumentException.class, () -> Backends.create("cuda", s -> { }));
        assertTrue(b.getMessage().contains("unavailable"), b.getMessage());
        RuntimeException m = assertThrows(RuntimeException.class, () -> Tensor.allocate(Device.CUDA, DType.F32, 1024));
        assertTrue(m.getMessage().contains("vlmc_malloc") || m.getMessage().contains("no CUDA kernels"), m.getMessage());
        assertThrows(RuntimeException.class, () -> CudaKernels.vlmc_gemm(0, 0, 0, 1, 2, 2, 2, 1f, 8, 2, 0, 8, 2, 0, 0f, 8, 2, 0, 0, 0, 0, 2, 0));
        assertThrows(RuntimeException.class, CudaKernels::vlmc_synchronize);
        // the process is still healthy: host work goes on
        try (Tensor t = Tensor.of(new float[] {1, 2}, 2)) {
            assertTrue(t.toFloatArray()[1] == 2f);
        }
    }
}
