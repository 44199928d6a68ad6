package io.vlm4j.bench;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import io.vlm4j.backend.Backend;
import io.vlm4j.backend.cpu.CpuBackend;
import io.vlm4j.model.clip.ClipModel;
import io.vlm4j.tensor.DType;
import io.vlm4j.tensor.Tensor;
import java.nio.FloatBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
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
 * The same image-tower work on vlm4j and on ONNX Runtime, in one JMH run, on the same weights: the model
 * directory written by {@code benchmarks/onnx/export_clip.py} (config.json + model.safetensors + vision.onnx).
 * Setup checks that both engines agree before timing anything.
 * <pre>
 * java -jar benchmarks/target/benchmarks.jar OnnxComparison -p model=/tmp/vlm4j-onnx/ViT-B-16 -p batch=8 -p threads=2
 * </pre>
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 2, time = 5)
@Measurement(iterations = 5, time = 5)
@Fork(1)
public class OnnxComparisonBenchmark {
    @Param({"/tmp/vlm4j-onnx/ViT-B-16"})
    public String model;

    @Param({"8"})
    public int batch;

    @Param({"2"})
    public int threads;

    /** image (vision.onnx) or text (text.onnx: 77 tokens, <sot> 20 words <eot> then zero padding, as TowerBenchmark) */
    @Param({"image"})
    public String tower;

    /** vlm4j's precision: fp32, or bf16 (BF16 encoder weights on AVX512_BF16/AMX; ONNX Runtime stays FP32). */
    @Param({"fp32"})
    public String dtype;

    private Backend backend;
    private ClipModel clip;
    private Tensor pixels, out;
    private OrtEnvironment env;
    private OrtSession session;
    private OnnxTensor ortInput;
    private String inputName, outputName;
    private boolean text;

    @Setup(Level.Trial)
    public void setUp() throws Exception {
        Path dir = Path.of(model);
        if (!Files.isRegularFile(dir.resolve("vision.onnx"))) {
            throw new IllegalStateException(dir + "/vision.onnx not found: run benchmarks/onnx/export_clip.py first");
        }
        backend = dtype.equals("bf16") ? CpuBackend.withBf16Weights(threads) : new CpuBackend(threads);
        clip = ClipModel.load(dir, backend);
        SplittableRandom r = new SplittableRandom(7);
        env = OrtEnvironment.getEnvironment();
        OrtSession.SessionOptions opts = new OrtSession.SessionOptions();
        opts.setIntraOpNumThreads(threads);
        opts.setInterOpNumThreads(1);
        opts.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.ALL_OPT);
        text = tower.equals("text");
        if (text) {
            if (!Files.isRegularFile(dir.resolve("text.onnx"))) throw new IllegalStateException(dir + "/text.onnx not found");
            int len = 77;
            int[] tok = new int[batch * len];
            long[] tokLong = new long[tok.length];
            for (int b = 0; b < batch; b++) {
                tok[b * len] = 49406;
                for (int i = 1; i < 20; i++) tok[b * len + i] = r.nextInt(49406);
                tok[b * len + 20] = 49407;
            }
            for (int i = 0; i < tok.length; i++) tokLong[i] = tok[i];
            pixels = Tensor.ofInts(tok, batch, len);
            out = Tensor.allocate(DType.F32, batch, clip.text().orElseThrow().projectionDim());
            session = env.createSession(dir.resolve("text.onnx").toString(), opts);
            ortInput = OnnxTensor.createTensor(env, java.nio.LongBuffer.wrap(tokLong), new long[] {batch, len});
            inputName = "input_ids";
            outputName = "text_embeds";
        } else {
            int s = clip.clipVision().orElseThrow().config().imageSize();
            float[] px = new float[batch * 3 * s * s];
            for (int i = 0; i < px.length; i++) px[i] = (float) r.nextGaussian();
            pixels = Tensor.of(px, batch, 3, s, s);
            out = Tensor.allocate(DType.F32, batch, clip.vision().orElseThrow().projectionDim());
            session = env.createSession(dir.resolve("vision.onnx").toString(), opts);
            ortInput = OnnxTensor.createTensor(env, FloatBuffer.wrap(px), new long[] {batch, 3, s, s});
            inputName = "pixel_values";
            outputName = "image_embeds";
        }

        float[] ours = vlm4j().toFloatArray();
        float[][] theirs;
        try (OrtSession.Result res = session.run(Map.of(inputName, ortInput))) {
            theirs = (float[][]) res.get(outputName).orElseThrow().getValue();
        }
        double maxDiff = 0, maxRef = 0;
        int e = theirs[0].length;
        for (int i = 0; i < batch; i++) {
            for (int j = 0; j < e; j++) {
                maxDiff = Math.max(maxDiff, Math.abs(ours[i * e + j] - theirs[i][j]));
                maxRef = Math.max(maxRef, Math.abs(theirs[i][j]));
            }
        }
        System.out.printf("%nvlm4j vs ONNX Runtime " + tower + " embeddings: max |diff| %.3g (max |ref| %.3g)%n", maxDiff, maxRef);
        // FP32 vs FP32: rounding-order noise; BF16 weights vs FP32: the operands' 8-bit mantissas (spec: within 1e-2)
        double tolerance = dtype.equals("bf16") ? 1e-2 : 1e-3;
        if (maxDiff > tolerance * Math.max(1, maxRef)) throw new IllegalStateException("engines disagree: " + maxDiff);
    }

    @Benchmark
    public Tensor vlm4j() {
        if (text) clip.text().orElseThrow().forward(pixels, out);
        else clip.vision().orElseThrow().forward(pixels, out);
        return out;
    }

    @Benchmark
    public Object onnxRuntime() throws Exception {
        try (OrtSession.Result res = session.run(Map.of(inputName, ortInput))) {
            return res.get(outputName).orElseThrow().getValue();
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() throws Exception {
        ortInput.close();
        session.close();
        pixels.close();
        out.close();
        clip.close();
        backend.close();
    }
}
