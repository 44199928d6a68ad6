package io.vlm4j.bench;

import io.vlm4j.backend.Backend;
import io.vlm4j.backend.cpu.CpuBackend;
import io.vlm4j.model.clip.ClipConfig;
import io.vlm4j.model.clip.ClipModel;
import io.vlm4j.model.clip.ClipVisionConfig;
import io.vlm4j.tensor.DType;
import io.vlm4j.tensor.Tensor;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Image- and text-tower forward time on seeded random weights (the same work as {@code vlm4j bench}).
 * Run: {@code java -jar benchmarks/target/benchmarks.jar TowerBenchmark -p arch=ViT-B/16 -p batch=8}.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 2)
@Measurement(iterations = 5)
@Fork(1)
public class TowerBenchmark {
    @Param({"ViT-B/16"})
    public String arch;

    @Param({"8"})
    public int batch;

    /** fp32, or bf16 (BF16 encoder weights: AVX512_BF16 / AMX) */
    @Param({"fp32"})
    public String dtype;

    private Backend backend;
    private ClipModel clip;
    private Tensor pixels, ids, imageOut, textOut;

    @Setup(Level.Trial)
    public void setUp() throws Exception {
        backend = dtype.equals("bf16") ? CpuBackend.withBf16Weights(0) : new CpuBackend();
        clip = ClipModel.random(ClipConfig.preset(arch), 42, backend);
        ClipVisionConfig v = clip.clipVision().orElseThrow().config();
        SplittableRandom r = new SplittableRandom(1);
        float[] px = new float[batch * 3 * v.imageSize() * v.imageSize()];
        for (int i = 0; i < px.length; i++) px[i] = (float) r.nextGaussian();
        pixels = Tensor.of(px, batch, 3, v.imageSize(), v.imageSize());
        int len = 77;
        int[] tok = new int[batch * len];
        for (int b = 0; b < batch; b++) {
            tok[b * len] = 49406;
            for (int i = 1; i < 20; i++) tok[b * len + i] = r.nextInt(49406);
            tok[b * len + 20] = 49407;
        }
        ids = Tensor.ofInts(tok, batch, len);
        imageOut = Tensor.allocate(DType.F32, batch, clip.vision().orElseThrow().projectionDim());
        textOut = Tensor.allocate(DType.F32, batch, clip.text().orElseThrow().projectionDim());
    }

    @Benchmark
    public Tensor visionTower() {
        clip.vision().orElseThrow().forward(pixels, imageOut);
        return imageOut;
    }

    @Benchmark
    public Tensor textTower() {
        clip.text().orElseThrow().forward(ids, textOut);
        return textOut;
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        pixels.close();
        ids.close();
        imageOut.close();
        textOut.close();
        clip.close();
        backend.close();
    }
}
