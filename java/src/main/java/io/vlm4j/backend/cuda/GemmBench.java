package io.vlm4j.backend.cuda;

import io.vlm4j.tensor.DType;
import io.vlm4j.tensor.Device;
import io.vlm4j.tensor.Tensor;
import java.util.SplittableRandom;

/**
 * Our GEMM kernel against cuBLAS on the same device buffers (CUTLASS-example style: run both, verify, then time):
 * C[M,N] = A[M,K] · B[N,K]ᵀ in one dtype with FP32 accumulation, A and B uniform in [-1, 1). Both run on the calling
 * thread's current stream and are timed with CUDA events on it. The outputs must agree within a tolerance relative
 * to the largest |cuBLAS output| (1e-2 for 16-bit outputs, about one BF16 ulp; 1e-4 for FP32).
 */
public final class GemmBench {
    /** Times in milliseconds per GEMM; maxRelativeError = max |ours − cuBLAS| / max |cuBLAS| over all of C. */
    public record Result(GemmShape shape, DType dtype, double oursMs, double cublasMs, double maxRelativeError,
                         double tolerance) {
        public double oursTflops() { return shape.flops() / (oursMs * 1e-3) / 1e12; }

        public double cublasTflops() { return shape.flops() / (cublasMs * 1e-3) / 1e12; }

        /** Our throughput over cuBLAS's (1.0 = parity). */
        public double ratio() { return cublasMs / oursMs; }

        public boolean agrees() { return maxRelativeError <= tolerance; }  // false for NaN
    }

    private static final int CHUNK = 1 << 22;  // elements per host↔device staging copy (16 MiB of FP32)

    private GemmBench() {}

    public static double tolerance(DType dtype) {
        return dtype == DType.F32 ? 1e-4 : 1e-2;
    }

    /** Runs one shape: {@code warmup} untimed GEMMs each, then {@code iterations} timed back to back. */
    public static Result run(GemmShape s, DType dtype, int warmup, int iterations, long seed) {
        if (dtype != DType.F32 && dtype != DType.F16 && dtype != DType.BF16) {
            throw new IllegalArgumentException("bench-gemm: dtype must be fp32, fp16 or bf16, got " + dtype);
        }
        long m = s.m(), n = s.n(), k = s.k();
        long stream = CudaKernels.vlmc_get_stream();
        try (CublasBaseline blas = new CublasBaseline(stream); CudaTimer timer = new CudaTimer(stream);
             Tensor a = Tensor.allocate(Device.CUDA, dtype, m, k);      // [M, K] activations
             Tensor b = Tensor.allocate(Device.CUDA, dtype, n, k);      // [N, K] weight, as nn.Linear stores it
             Tensor ours = Tensor.allocate(Device.CUDA, dtype, m, n);   // [M, N]
             Tensor ref = Tensor.allocate(Device.CUDA, dtype, m, n)) {  // [M, N]
            fillUniform(a, seed);
            fillUniform(b, seed + 1);
            // NT: trans_a 0, trans_b 1, lda = ldb = K, ldc = N; no batch, bias, activation or residual
            Runnable ourGemm = () -> CudaKernels.vlmc_gemm(dtype.code(), 0, 1, 1, m, n, k, 1f, a.address(), k, 0,
                    b.address(), k, 0, 0f, ours.address(), n, 0, 0, 0, 0, n, 0);
            Runnable cublasGemm = () -> blas.gemm(dtype.code(), false, true, m, n, k, a.address(), k, b.address(), k,
                    ref.address(), n);
            for (int i = 0; i < warmup; i++) {
                ourGemm.run();
                cublasGemm.run();
            }
            double oursMs = timer.millisPerRun(iterations, ourGemm);
            double cublasMs = timer.millisPerRun(iterations, cublasGemm);
            return new Result(s, dtype, oursMs, cublasMs, maxRelativeError(ours, ref), tolerance(dtype));
        }
    }

    /** Uniform [-1, 1) from a seeded generator, staged through FP32 chunks and converted on the device. */
    private static void fillUniform(Tensor t, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        long total = t.numel();
        try (Tensor stage = Tensor.allocate(Device.CUDA, DType.F32, Math.min(total, CHUNK))) {
            for (long off = 0; off < total; off += CHUNK) {
                int len = (int) Math.min(CHUNK, total - off);
                float[] v = new float[len];
                for (int i = 0; i < len; i++) v[i] = (float) (r.nextDouble() * 2 - 1);
                try (Tensor src = stage.view(0, len); Tensor dst = t.view(off, len)) {
                    src.copyFrom(v);
                    CudaKernels.vlmc_convert(DType.F32.code(), src.address(), t.dtype().code(), dst.address(), len);
                }
            }
        }
        CudaKernels.vlmc_stream_synchronize();
    }

    /** max |x − y| / max |y| over every element, through FP32 staging chunks; NaN when either holds a non-finite value. */
    static double maxRelativeError(Tensor x, Tensor y) {
        double maxDiff = 0, maxRef = 0;
        long total = x.numel();
        try (Tensor sx = Tensor.allocate(Device.CUDA, DType.F32, Math.min(total, CHUNK));
             Tensor sy = Tensor.allocate(Device.CUDA, DType.F32, Math.min(total, CHUNK))) {
            for (long off = 0; off < total; off += CHUNK) {
                int len = (int) Math.min(CHUNK, total - off);
                float[] fx = toF32(x, off, len, sx), fy = toF32(y, off, len, sy);
                for (int i = 0; i < len; i++) {
                    if (!Float.isFinite(fx[i]) || !Float.isFinite(fy[i])) return Double.NaN;
                    maxDiff = Math.max(maxDiff, Math.abs((double) fx[i] - fy[i]));
                    maxRef = Math.max(maxRef, Math.abs(fy[i]));
                }
            }
        }
        return maxRef == 0 ? maxDiff : maxDiff / maxRef;
    }

    private static float[] toF32(Tensor t, long off, int len, Tensor stage) {
        try (Tensor src = t.view(off, len); Tensor dst = stage.view(0, len)) {
            CudaKernels.vlmc_convert(t.dtype().code(), src.address(), DType.F32.code(), dst.address(), len);
            return dst.toFloatArray();
        }
    }
}
