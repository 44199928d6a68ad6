package io.vlm4j.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.vlm4j.backend.Backend;
import io.vlm4j.model.clip.ClipModel;
import io.vlm4j.model.clip.ClipTextTower;
import io.vlm4j.model.clip.ClipVisionConfig;
import io.vlm4j.model.clip.ClipVisionTower;
import io.vlm4j.tensor.DType;
import io.vlm4j.tensor.NativeMemory;
import io.vlm4j.tensor.Tensor;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * The main job: builds a CLIP model of a preset architecture with seeded random weights in memory (nothing to
 * download) and measures tower throughput. FLOPs are counted as 2 × multiply-accumulates of the dense work
 * (patch embedding, every GEMM, q·kᵀ and p·v over full L×L, projection); the causal half of text attention is
 * counted too, so text GFLOP/s is "dense-equivalent".
 */
@Command(name = "bench", mixinStandardHelpOptions = true, versionProvider = Main.Version.class, description = "Throughput of the image and text towers on seeded random weights (nothing downloaded).")
final class BenchCommand implements Callable<Integer> {
    @Option(names = {"--arch", "--model-arch"}, defaultValue = "ViT-B/16",
            description = "ViT-B/32, ViT-B/16, ViT-L/14, ViT-L/14@336 (CLIP), biomedclip-vit-b16 or siglip-base-patch16-224 (default: ${DEFAULT-VALUE})")
    String arch;

    @Option(names = "--tower", defaultValue = "both", description = "vision, text or both (default: ${DEFAULT-VALUE})")
    String tower;

    @Option(names = "--iterations", defaultValue = "5", description = "timed batches per tower; the median is reported (default: ${DEFAULT-VALUE})")
    int iterations;

    @Option(names = "--graphs", description = "replay each timed batch from a recording (CUDA graphs on the CUDA backend)")
    boolean graphs;

    @Option(names = "--warmup", defaultValue = "1", description = "untimed batches first (default: ${DEFAULT-VALUE})")
    int warmup;

    @Option(names = "--seed", defaultValue = "42")
    long seed;

    @Option(names = "--json", description = "print one JSON object per measurement")
    boolean json;

    @Mixin
    BackendOptions options;

    @Override
    public Integer call() throws Exception {
        if (iterations < 1) throw new IllegalArgumentException("--iterations must be >= 1, got " + iterations);
        if (warmup < 0) throw new IllegalArgumentException("--warmup must be >= 0, got " + warmup);
        if (!tower.equals("vision") && !tower.equals("text") && !tower.equals("both")) {
            throw new IllegalArgumentException("--tower must be vision, text or both, got '" + tower + "'");
        }
        try (Backend backend = options.open(); ClipModel clip = io.vlm4j.model.clip.ModelFamilies.random(arch, seed, backend)) {
            int batch = options.batchGiven() ? options.batch : 8;
            clip.batchSize(batch);
            if (!tower.equals("text")) report(measureVision(clip.vision().orElseThrow(), backend, batch), backend, batch);
            if (!tower.equals("vision")) report(measureText(clip.text().orElseThrow(), backend, batch), backend, batch);
        }
        return 0;
    }

    private record Result(String tower, String unit, double itemsPerSecond, double gflops, double medianSeconds) {}

    private Result measureVision(io.vlm4j.model.ImageTower v, Backend backend, int batch) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] px = new float[batch * v.numChannels() * v.imageSize() * v.imageSize()];
        for (int i = 0; i < px.length; i++) px[i] = (float) (r.nextDouble() * 4 - 2);
        try (Tensor host = Tensor.of(px, batch, v.numChannels(), v.imageSize(), v.imageSize())) {
            double median = timeOnDevice(backend, host, batch, v.projectionDim(), v::forward);
            double flops = 2.0 * v.macsPerImage() * batch;
            return new Result("vision", "images_per_s", batch / median, flops / median / 1e9, median);
        }
    }

    private Result measureText(io.vlm4j.model.TextTower t, Backend backend, int batch) {
        int len = t instanceof ClipTextTower ? t.maxLength() : Math.min(t.maxLength(), 256);
        SplittableRandom r = new SplittableRandom(seed);
        int[] ids = new int[batch * len];
        for (int b = 0; b < batch; b++) {
            int eos = 5 + r.nextInt(len - 5);
            if (t instanceof ClipTextTower c) {  // <sot> words <eot> then zero padding, like clip.tokenize
                ids[b * len] = 49406;
                for (int i = 1; i < eos; i++) ids[b * len + i] = r.nextInt(49406);
                ids[b * len + eos] = c.config().eosTokenId() == 2 ? 49407 : c.config().eosTokenId();
            } else {  // words then padding (id 0): the work per text is the same whatever the ids
                for (int i = 0; i <= eos; i++) ids[b * len + i] = 1 + r.nextInt(t.vocabSize() - 1);
            }
        }
        try (Tensor input = Tensor.ofInts(ids, batch, len)) {
            double median = timeOnDevice(backend, input, batch, t.projectionDim(), (in, o) -> t.forward(in, null, o));
            double flops = 2.0 * t.macsPerText(len) * batch;
            return new Result("text", "texts_per_s", batch / median, flops / median / 1e9, median);
        }
    }

    /**
     * Times forward(input, out) with input and output resident on the backend's device (as the PyTorch reference
     * keeps its tensors on the GPU), waiting for the device after each batch; with --graphs, replaying a recording.
     */
    private double timeOnDevice(Backend backend, Tensor hostInput, int batch, long outDim,
                                java.util.function.BiConsumer<Tensor, Tensor> forward) {
        Tensor input = backend.onDevice(hostInput);
        try (Tensor out = backend.allocate(DType.F32, batch, outDim)) {
            if (!graphs) return time(() -> { forward.accept(input, out); backend.synchronize(); });
            try (Backend.Recording recording = backend.record(() -> forward.accept(input, out))) {
                return time(() -> { recording.run(); backend.synchronize(); });
            }
        } finally {
            if (input != hostInput) input.close();
        }
    }

    private double time(Runnable batchRun) {
        for (int i = 0; i < warmup; i++) batchRun.run();
        double[] s = new double[iterations];
        for (int i = 0; i < iterations; i++) {
            long t0 = System.nanoTime();
            batchRun.run();
            s[i] = (System.nanoTime() - t0) / 1e9;
        }
        Arrays.sort(s);
        return iterations % 2 == 1 ? s[iterations / 2] : (s[iterations / 2 - 1] + s[iterations / 2]) / 2;
    }

    private void report(Result r, Backend backend, int batch) throws IOException {
        double rssMb = peakRssMb();
        if (json) {
            ObjectNode o = new ObjectMapper().createObjectNode();
            o.put("arch", arch).put("tower", r.tower()).put("backend", backend.name()).put("dtype", options.dtype)
                    .put("graphs", graphs).put("batch", batch).put("threads", backend.threads())
                    .put(r.unit(), round(r.itemsPerSecond())).put("gflops", round(r.gflops()))
                    .put("seconds_per_batch", round(r.medianSeconds())).put("iterations", iterations)
                    .put("peak_rss_mb", round(rssMb)).put("peak_native_mb", round(NativeMemory.peakBytes() / 1048576.0))
                    .put("peak_device_mb", round(io.vlm4j.tensor.DeviceMemory.peakBytes() / 1048576.0));
            System.out.println(o);
        } else {
            System.out.printf("%s %-6s %s %s batch %d, %d threads: %.2f %s, %.1f GFLOP/s (median of %d, %.3f s/batch), peak RSS %.0f MB%n",
                    arch, r.tower(), backend.name(), options.dtype, batch, backend.threads(), r.itemsPerSecond(),
                    r.unit().replace("_per_s", "/s"), r.gflops(), iterations, r.medianSeconds(), rssMb);
        }
    }

    private static double round(double v) {
        return Math.round(v * 1000) / 1000.0;
    }

    /** Peak resident set size (VmHWM) of this process in MiB; includes native memory, unlike the Java heap figures. */
    static double peakRssMb() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("VmHWM:")) return Long.parseLong(line.replaceAll("\\D", "")) / 1024.0;
            }
        } catch (IOException | RuntimeException e) {
            // not Linux: fall back to the native allocation peak below
        }
        return NativeMemory.peakBytes() / 1048576.0;
    }
}
