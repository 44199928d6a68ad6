package io.vlm4j.bench;

import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.openblas.global.openblas;
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
 * OpenBLAS sgemm (0.3.31, the JavaCPP build) on a large square — the machine's measured fp32 GEMM peak that the
 * results pipeline quotes every figure against — and on the ViT-B/16 linear shapes of {@link OpBenchmark}, as the
 * reference for our GEMM (row-major C = A · Bᵀ, no epilogue). Threads: all cores, or OPENBLAS_NUM_THREADS from the
 * environment (these presets expose no thread setter), as {@link OpBenchmark}'s default.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class SgemmBenchmark {
    /** MxNxK */
    @Param({"2048x2048x2048", "1576x2304x768", "1576x768x768", "1576x3072x768", "1576x768x3072"})
    public String shape;

    private FloatPointer a, b, c;
    private int m, n, k;

    @Setup(Level.Trial)
    public void setUp() {
        String[] d = shape.split("x");
        m = Integer.parseInt(d[0]);
        n = Integer.parseInt(d[1]);
        k = Integer.parseInt(d[2]);
        SplittableRandom r = new SplittableRandom(5);
        a = fill(new FloatPointer((long) m * k), r);
        b = fill(new FloatPointer((long) n * k), r);
        c = new FloatPointer((long) m * n);
    }

    private static FloatPointer fill(FloatPointer p, SplittableRandom r) {
        float[] v = new float[(int) p.capacity()];
        for (int i = 0; i < v.length; i++) v[i] = (float) (r.nextDouble() * 2 - 1);
        p.put(v);
        return p;
    }

    @Benchmark
    public void openblas() {
        openblas.cblas_sgemm(openblas.CblasRowMajor, openblas.CblasNoTrans, openblas.CblasTrans, m, n, k, 1f, a, k, b, k, 0f, c, n);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        a.close();
        b.close();
        c.close();
    }
}
