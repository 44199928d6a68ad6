package io.vlm4j.bench;

import io.vlm4j.backend.Activation;
import io.vlm4j.backend.Backend;
import io.vlm4j.backend.cpu.CpuBackend;
import io.vlm4j.tensor.Tensor;
import io.vlm4j.tensor.TensorScope;
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
 * The ops of a ViT-B/16 forward at batch 8 (M = 8 x 197 = 1576 token rows) on the CPU backend: the four linear GEMMs
 * with their fused epilogues, fused attention at L = 197 (image) and L = 77 causal (text), LayerNorm; and the backward
 * passes of attention and LayerNorm that fine-tuning adds (with the parameter gradients of LayerNorm). The results
 * pipeline ({@link ResultsReport}) turns times into GFLOP/s ({@link #flops}) and compares the GEMMs with OpenBLAS
 * ({@link SgemmBenchmark}) measured in the same run.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class OpBenchmark {
    /** op:shape; gemm shapes are MxNxK (x [M,K] times weight [N,K]ᵀ), attention BxHxLxD. */
    @Param({"gemm:1576x2304x768", "gemm:1576x768x768", "gemm:1576x3072x768", "gemm:1576x768x3072", "attention:8x12x197x64",
        "attention_causal:8x8x77x64", "layernorm:1576x768", "attention_backward:8x12x197x64", "layernorm_backward:1576x768"})
    public String op;

    @Param({"0"})
    public int threads;  // 0 = all cores

    private Backend backend;
    private TensorScope scope;
    private Runnable work;

    /**
     * Floating-point operations of one call of {@code op} (2 per multiply-add; causal attention counts half). Attention
     * backward counts its five L x L x d products (the recomputed scores, dV, dP, dQ, dK); LayerNorm backward twice
     * the forward's 8 per element (statistics, the two row sums, dx, dGamma and dBeta).
     */
    public static double flops(String op) {
        String[] kv = op.split(":");
        long[] d = java.util.Arrays.stream(kv[1].split("x")).mapToLong(Long::parseLong).toArray();
        return switch (kv[0]) {
            case "gemm", "sgemm" -> 2.0 * d[0] * d[1] * d[2];
            case "attention" -> 4.0 * d[0] * d[1] * d[2] * d[2] * d[3];
            case "attention_causal" -> 2.0 * d[0] * d[1] * d[2] * (d[2] + 1) * d[3];
            case "layernorm" -> 8.0 * d[0] * d[1];
            case "attention_backward" -> 10.0 * d[0] * d[1] * d[2] * d[2] * d[3];
            case "layernorm_backward" -> 16.0 * d[0] * d[1];
            default -> throw new IllegalArgumentException("unknown op " + op);
        };
    }

    @Setup(Level.Trial)
    public void setUp() {
        backend = threads > 0 ? new CpuBackend(threads) : new CpuBackend();
        scope = new TensorScope();
        SplittableRandom r = new SplittableRandom(3);
        String[] kv = op.split(":");
        long[] d = java.util.Arrays.stream(kv[1].split("x")).mapToLong(Long::parseLong).toArray();
        switch (kv[0]) {
            case "gemm" -> {
                Tensor x = rand(r, d[0], d[2]), w = rand(r, d[1], d[2]), b = rand(r, d[1]), out = scope.f32(d[0], d[1]);
                Activation act = d[1] > d[2] ? Activation.QUICK_GELU : Activation.NONE;  // fc1 carries the activation
                work = () -> backend.linear(x, w, b, act, null, out);
            }
            case "attention", "attention_causal" -> {
                long w = d[1] * d[3];
                Tensor qkv = rand(r, d[0], d[2], 3 * w), out = scope.f32(d[0], d[2], w);
                boolean causal = kv[0].endsWith("causal");
                work = () -> backend.attentionPacked(qkv, out, (int) d[1], causal, null);
            }
            case "layernorm" -> {
                Tensor x = rand(r, d[0], d[1]), g = rand(r, d[1]), b = rand(r, d[1]), out = scope.f32(d[0], d[1]);
                work = () -> backend.layerNorm(x, g, b, 1e-5f, out);
            }
            case "attention_backward" -> {
                long w = d[1] * d[3];
                Tensor qkv = rand(r, d[0], d[2], 3 * w), out = scope.f32(d[0], d[2], w), dOut = rand(r, d[0], d[2], w);
                Tensor dQkv = scope.f32(d[0], d[2], 3 * w);
                backend.attentionPacked(qkv, out, (int) d[1], false, null);
                work = () -> backend.attentionPackedBackward(qkv, out, dOut, dQkv, (int) d[1], false, null);
            }
            case "layernorm_backward" -> {
                Tensor x = rand(r, d[0], d[1]), g = rand(r, d[1]), dy = rand(r, d[0], d[1]), dx = scope.f32(d[0], d[1]);
                Tensor dGamma = scope.f32(d[1]), dBeta = scope.f32(d[1]);  // accumulate over the iterations: harmless
                work = () -> backend.layerNormBackward(x, g, 1e-5f, dy, dx, false, dGamma, dBeta);
            }
            default -> throw new IllegalArgumentException("unknown op " + op);
        }
    }

    private Tensor rand(SplittableRandom r, long... shape) {
        Tensor t = scope.f32(shape);
        float[] v = new float[(int) t.numel()];
        for (int i = 0; i < v.length; i++) v[i] = (float) (r.nextDouble() * 2 - 1);
        t.copyFrom(v);
        return t;
    }

    @Benchmark
    public void vlm4j() {
        work.run();
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        scope.close();
        backend.close();
    }
}
