package io.vlm4j.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.vlm4j.backend.cuda.CublasBaseline;
import io.vlm4j.backend.cuda.CudaDevices;
import io.vlm4j.backend.cuda.CudaStatus;
import io.vlm4j.backend.cuda.GemmBench;
import io.vlm4j.backend.cuda.GemmShape;
import io.vlm4j.tensor.DType;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.OptionalDouble;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * Our CUDA GEMM against cuBLAS (JavaCPP presets) on the linear-layer shapes, same buffers, same stream, CUDA-event
 * timing, outputs compared. cuBLAS comes from the machine: libcublas.so.13 and libcublasLt.so.13 in the CUDA
 * toolkit's lib64, or a PyTorch install's site-packages/nvidia/cu13/lib (older layouts: nvidia/cublas/lib), given
 * with {@code --cuda-lib-dir} or {@code -Dorg.bytedeco.javacpp.platform.preloadpath=DIR}.
 */
@Command(name = "bench-gemm", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
        description = "Our CUDA GEMM vs cuBLAS on the ViT-B/16 linear shapes (or --shapes): ms, TFLOP/s, % of BF16 peak, agreement.")
final class BenchGemmCommand implements Callable<Integer> {
    @Option(names = "--backend", defaultValue = "cuda", description = "cuda (the only one: this times GPU kernels)")
    String backend;

    @Option(names = "--dtype", defaultValue = "bf16", description = "bf16, fp16 or fp32 (inputs and output; FP32 accumulation) (default: ${DEFAULT-VALUE})")
    String dtype;

    @Option(names = "--shapes", defaultValue = "vit-b16", description = "vit-b16 (M = 256·197 = 50432; N×K = 2304×768, 768×768, 3072×768, 768×3072) or MxNxK,... (default: ${DEFAULT-VALUE})")
    String shapes;

    @Option(names = "--iterations", defaultValue = "20", description = "timed GEMMs per shape and library, back to back (default: ${DEFAULT-VALUE})")
    int iterations;

    @Option(names = "--warmup", defaultValue = "3", description = "untimed GEMMs first (default: ${DEFAULT-VALUE})")
    int warmup;

    @Option(names = "--seed", defaultValue = "42")
    long seed;

    @Option(names = "--cuda-lib-dir", split = ",", paramLabel = "DIR",
            description = "folders with libcublas.so.13, libcublasLt.so.13, libcudart.so.13 when not in /usr/local/cuda/lib64 (e.g. site-packages/nvidia/cu13/lib)")
    List<Path> cudaLibDirs = new ArrayList<>();

    @Option(names = "--json", description = "one JSON object per shape")
    boolean json;

    @Override
    public Integer call() throws Exception {
        if (!backend.equals("cuda")) throw new IllegalArgumentException("bench-gemm times GPU kernels: --backend must be cuda, got '" + backend + "'");
        DType type = DType.parse(dtype);
        if (type == DType.I32) throw new IllegalArgumentException("--dtype must be bf16, fp16 or fp32, got '" + dtype + "'");
        List<GemmShape> list = GemmShape.parseList(shapes);
        if (iterations < 1) throw new IllegalArgumentException("--iterations must be >= 1, got " + iterations);
        if (warmup < 0) throw new IllegalArgumentException("--warmup must be >= 0, got " + warmup);
        CudaDevices.addLibraryDirs(cudaLibDirs);  // before anything touches the presets
        CudaStatus.unavailableReason().ifPresent(why -> {
            throw new IllegalStateException("backend cuda is unavailable: " + why);
        });
        CublasBaseline.unavailableReason().ifPresent(why -> {
            throw new IllegalStateException("cuBLAS baseline unavailable: " + why);
        });
        CudaDevices.Device gpu = CudaDevices.report().devices().get(0);  // our kernels and cuBLAS both run on device 0
        OptionalDouble peak = gpu.bf16PeakTflops();
        if (!json) {
            System.out.printf(Locale.ROOT, "bench-gemm: %s (sm_%d%d), %s, C[M,N] = A[M,K]·B[N,K]^T, %d iterations, dense BF16 peak %s%n",
                    gpu.name(), gpu.major(), gpu.minor(), type.name().toLowerCase(Locale.ROOT), iterations,
                    peak.isPresent() ? String.format(Locale.ROOT, "%.0f TFLOP/s", peak.getAsDouble()) : "n/a");
            System.out.printf("%-20s %9s %8s %6s %9s %8s %6s %8s %10s%n", "M x N x K", "vlm4j ms", "TFLOP/s", "%peak",
                    "cuBLAS ms", "TFLOP/s", "%peak", "ours/cuB", "rel err");
        }
        List<String> mismatches = new ArrayList<>();
        for (GemmShape s : list) {
            GemmBench.Result r = GemmBench.run(s, type, warmup, iterations, seed);
            if (!r.agrees()) mismatches.add(s + " (" + r.maxRelativeError() + " > " + r.tolerance() + ")");
            print(r, gpu, peak);
        }
        if (!mismatches.isEmpty()) {
            System.err.println("error: our GEMM and cuBLAS disagree at " + String.join(", ", mismatches));
            return Main.EXIT_INTERNAL;
        }
        return 0;
    }

    private void print(GemmBench.Result r, CudaDevices.Device gpu, OptionalDouble peak) {
        double oursPct = peak.isPresent() ? 100 * r.oursTflops() / peak.getAsDouble() : Double.NaN;
        double cublasPct = peak.isPresent() ? 100 * r.cublasTflops() / peak.getAsDouble() : Double.NaN;
        if (json) {
            ObjectNode o = new ObjectMapper().createObjectNode();
            o.put("bench", "gemm").put("device", gpu.name()).put("sm", gpu.computeCapability())
                    .put("dtype", r.dtype().name().toLowerCase(Locale.ROOT)).put("layout", "NT")
                    .put("m", r.shape().m()).put("n", r.shape().n()).put("k", r.shape().k())
                    .put("iterations", iterations)
                    .put("vlm4j_ms", round(r.oursMs())).put("vlm4j_tflops", round(r.oursTflops()))
                    .put("cublas_ms", round(r.cublasMs())).put("cublas_tflops", round(r.cublasTflops()))
                    .put("ratio", round(r.ratio())).put("max_rel_err", r.maxRelativeError())
                    .put("tolerance", r.tolerance()).put("agree", r.agrees());
            if (peak.isPresent()) {
                o.put("bf16_peak_tflops", round(peak.getAsDouble()))
                        .put("vlm4j_pct_peak", round(oursPct)).put("cublas_pct_peak", round(cublasPct));
            }
            System.out.println(o);
        } else {
            System.out.printf(Locale.ROOT, "%-20s %9.3f %8.1f %6s %9.3f %8.1f %6s %8.3f %10.2e%s%n", r.shape(), r.oursMs(),
                    r.oursTflops(), pct(oursPct), r.cublasMs(), r.cublasTflops(), pct(cublasPct), r.ratio(),
                    r.maxRelativeError(), r.agrees() ? "" : "  MISMATCH");
        }
    }

    private static String pct(double p) {
        return Double.isNaN(p) ? "n/a" : String.format(Locale.ROOT, "%.1f", p);
    }

    private static double round(double v) {
        return Math.round(v * 1000) / 1000.0;
    }
}
