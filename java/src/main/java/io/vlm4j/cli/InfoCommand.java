package io.vlm4j.cli;

import io.vlm4j.backend.cpu.CpuBackend;
import io.vlm4j.backend.cuda.CudaDevices;
import io.vlm4j.backend.cuda.CudaStatus;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;

@Command(name = "info", mixinStandardHelpOptions = true, versionProvider = Main.Version.class, description = "Version, available backends (and why not), CPU features, threads.")
final class InfoCommand implements Callable<Integer> {
    @Override
    public Integer call() {
        System.out.println("vlm4j " + Main.Version.get());
        System.out.println("java: " + System.getProperty("java.version") + " (" + System.getProperty("java.vm.name") + ")");
        System.out.println("os: " + System.getProperty("os.name") + " " + System.getProperty("os.arch"));
        System.out.println("cpu: " + cpuModel());
        try {
            String simd = CpuBackend.simdLevel();
            System.out.println("backend cpu: available (simd " + simd + ", " + new CpuBackend().threads() + " threads)");
            System.out.println("cpu features: " + CpuBackend.cpuFeatures());
        } catch (LinkageError e) {
            System.out.println("backend cpu: unavailable: native library failed to load: " + e.getMessage());
        }
        // two views of CUDA: our kernels' statically linked runtime, and the presets' dynamic libcudart (device table)
        System.out.println("backend cuda: " + CudaStatus.unavailableReason().map(r -> "unavailable: " + r).orElse("available"));
        System.out.println("cuda runtime (presets): " + CudaDevices.status());
        if (CudaDevices.unavailableReason().isEmpty()) {
            for (CudaDevices.Device d : CudaDevices.report().devices()) System.out.println("  gpu " + d.summary());
        }
        System.out.println("backend reference: available (float64 Java, for tests)");
        return 0;
    }

    private static String cpuModel() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/cpuinfo"))) {
                if (line.startsWith("model name")) return line.substring(line.indexOf(':') + 1).trim();
            }
        } catch (IOException | RuntimeException e) {
            // not Linux or not readable: fall through
        }
        return System.getProperty("os.arch") + ", " + Runtime.getRuntime().availableProcessors() + " processors";
    }
}
